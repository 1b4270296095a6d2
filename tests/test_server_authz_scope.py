"""Whose resource a call acts on, through real HTTP against a lab with fa-085 deployed and a
second account: the lab's session endpoint stays within the caller's account, and
DescribeRepositories answers for each repository as that repository's own policy decides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lab.scenario.deploy import deploy, scenario_config
from lab.scenario.locate import load
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.server_support import Answer, send, signed_headers
from tests.tutorial import EC2_TRUST

pytestmark = pytest.mark.slow

ACCOUNT_A = "000000000000"  # the lab's first account, where fa-085 is deployed
ACCOUNT_B = "222222222222"
REGION = "ap-northeast-1"
OPEN = ["also-open", "open-to-all"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    scenario = load("fa-085")
    config = scenario_config(LabConfig(state_dir=tmp_path_factory.mktemp("scope") / "s"), scenario)
    with RunningLab(config) as running:
        deploy(running.lab, scenario)
        running.lab.add_account(ACCOUNT_B)
        for name in OPEN:  # no repository policy: the identity policy alone decides
            aws(running, "ecr").create_repository(repositoryName=name)
        yield running


def aws(running: RunningLab, service: str, answer: dict[str, Any] | None = None) -> Any:
    """A boto3 client as A's root, or with the keys of a /_lab/session answer."""
    keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    if answer is not None:
        keys = {
            "aws_access_key_id": answer["accessKeyId"],
            "aws_secret_access_key": answer["secretAccessKey"],
            "aws_session_token": answer["sessionToken"],
        }
    return boto3.client(service, endpoint_url=running.url, region_name=REGION, **keys)


def lab_session(running: RunningLab, principal: str, credentials: Credentials) -> Answer:
    """POST /_lab/session, signed with `credentials` as the lab's client signs it."""
    body = json.dumps({"principal": principal}).encode()
    headers = signed_headers(
        running.url,
        "POST",
        "/_lab/session",
        {"Content-Type": "application/json"},
        body,
        service="lab",
        region=REGION,
        credentials=credentials,
    )
    return send(running.url, "POST", "/_lab/session", headers, body)


def names(answer: dict[str, Any]) -> list[str]:
    return [repository["repositoryName"] for repository in answer["repositories"]]


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


# ---- /_lab/session: a root issues sessions in its own account only ----------------------------

ROOT_A = Credentials("test", "test")
ROOT_B = Credentials(ACCOUNT_B, "test")  # add_account's default key pair
REFUSED = {
    "__type": "AccessDeniedException",
    "message": "Only the account root may issue sessions",
}


def role_arn(running: RunningLab, instance: str) -> str:
    return running.lab.instances[instance].role_arn


def test_a_session_is_refused_to_a_role_session_as_before(lab: RunningLab) -> None:
    instance1 = lab_session(lab, "instance1", ROOT_A).json()
    as_instance = Credentials(
        instance1["accessKeyId"], instance1["secretAccessKey"], instance1["sessionToken"]
    )
    answer = lab_session(lab, "instance2", as_instance)
    assert (answer.status, answer.json()) == (400, REFUSED)


@pytest.mark.parametrize(
    "principal",
    ["admin", "instance1", ACCOUNT_A, "role:InstanceRole3"],
)
def test_another_account_s_root_gets_no_session_of_account_a(
    lab: RunningLab, principal: str
) -> None:
    if principal.startswith("role:"):  # a role of account A, named by its ARN
        principal = role_arn(lab, "instance3")
    answer = lab_session(lab, principal, ROOT_B)
    assert (answer.status, answer.json()) == (400, REFUSED)


def test_each_root_still_gets_sessions_of_its_own_account(lab: RunningLab) -> None:
    iam_b = boto3.client(
        "iam",
        endpoint_url=lab.url,
        region_name=REGION,
        aws_access_key_id=ACCOUNT_B,
        aws_secret_access_key="test",
    )
    arn_b = iam_b.create_role(RoleName="builder", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    own_role = lab_session(lab, arn_b, ROOT_B)
    assert own_role.status == 200
    assert own_role.json()["arn"].startswith(f"arn:aws:sts::{ACCOUNT_B}:assumed-role/builder/")
    own_root = lab_session(lab, ACCOUNT_B, ROOT_B)
    assert own_root.json()["arn"] == f"arn:aws:iam::{ACCOUNT_B}:root"
    for principal in (arn_b, ACCOUNT_B):  # and A's root gets none of B's
        answer = lab_session(lab, principal, ROOT_A)
        assert (answer.status, answer.json()) == (400, REFUSED)
    assert (
        lab_session(lab, "instance1", ROOT_A)
        .json()["arn"]
        .startswith(f"arn:aws:sts::{ACCOUNT_A}:assumed-role/")
    )


# ---- DescribeRepositories: each repository's own policy decides -------------------------------


def test_listing_leaves_out_a_repository_whose_policy_denies_the_caller(lab: RunningLab) -> None:
    """The API reference's example lists "all repositories in the default registry to which
    the current user has access" (ECR API Reference, DescribeRepositories, Examples)."""
    deny_instance3 = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": role_arn(lab, "instance3")},
                "Action": "ecr:DescribeRepositories",
            }
        ],
    }
    admin = aws(lab, "ecr")
    admin.create_repository(repositoryName="not-for-3")
    admin.set_repository_policy(repositoryName="not-for-3", policyText=json.dumps(deny_instance3))
    seen = {"instance1": ["also-open", "not-for-3", "open-to-all"], "instance3": OPEN}
    for instance, expected in seen.items():  # fa-085's policy denies both everything
        ecr = aws(lab, "ecr", lab_session(lab, instance, ROOT_A).json())
        assert names(ecr.describe_repositories()) == expected
        pages = ecr.get_paginator("describe_repositories").paginate(
            PaginationConfig={"PageSize": 1}
        )
        assert [name for page in pages for name in names(page)] == expected
    with pytest.raises(ClientError) as excinfo:  # fa-085 is there, only not for them
        admin.describe_repositories(repositoryNames=["fa-085"])
    assert error_of(excinfo)[1].endswith("with an explicit deny in a resource-based policy")


def test_naming_a_denied_repository_among_others_fails_the_whole_call(lab: RunningLab) -> None:
    instance3 = aws(lab, "ecr", lab_session(lab, "instance3", ROOT_A).json())
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT_A}:repository/fa-085"
    for asked in (["also-open", "fa-085"], ["fa-085", "also-open"], ["fa-085", "fa-085"]):
        with pytest.raises(ClientError) as excinfo:
            instance3.describe_repositories(repositoryNames=asked)
        code, message = error_of(excinfo)
        assert code == "AccessDeniedException"
        assert message.startswith("User: arn:aws:sts::000000000000:assumed-role/")
        assert message.endswith(
            f"is not authorized to perform: ecr:DescribeRepositories on resource: {arn} "
            "with an explicit deny in a resource-based policy"
        )
    assert names(instance3.describe_repositories(repositoryNames=OPEN)) == OPEN


def test_other_reads_of_one_repository_ask_its_policy_and_registry_calls_do_not(
    lab: RunningLab,
) -> None:
    """Each of these names one repository (Service Authorization Reference for ECR:
    repository*); DescribeRegistry and GetAuthorizationToken take only "*", where a
    repository policy never applies (docker login works on all three instances)."""
    instance3 = aws(lab, "ecr", lab_session(lab, "instance3", ROOT_A).json())
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT_A}:repository/fa-085"
    reads = {
        "describe_images": {"repositoryName": "fa-085"},
        "list_images": {"repositoryName": "fa-085"},
        "batch_get_image": {"repositoryName": "fa-085", "imageIds": [{"imageTag": "latest"}]},
        "get_repository_policy": {"repositoryName": "fa-085"},
        "list_tags_for_resource": {"resourceArn": arn},
    }
    for operation, params in reads.items():
        with pytest.raises(ClientError) as excinfo:
            getattr(instance3, operation)(**params)
        code, message = error_of(excinfo)
        assert code == "AccessDeniedException", operation
        assert message.endswith(
            f"on resource: {arn} with an explicit deny in a resource-based policy"
        )
    assert instance3.describe_registry()["registryId"] == ACCOUNT_A
    assert instance3.get_authorization_token()["authorizationData"][0]["authorizationToken"]


# ---- IAM: calls are authorized on the entity's real ARN, path included -----------------------

ADMIN_PATHS = [  # what the operator's policy protects: everything under /admin/
    f"arn:aws:iam::{ACCOUNT_A}:{kind}/admin/*"
    for kind in ("role", "user", "group", "instance-profile", "policy")
]
GUARDED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": ADMIN_PATHS},
    ],
}
INLINE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
)


@pytest.fixture(scope="module")
def iam_admin(lab: RunningLab) -> Any:
    """A's IAM as its root, with /admin/ entities and an `operator` role denied all of them."""
    iam = aws(lab, "iam")
    iam.create_role(RoleName="ops", Path="/admin/", AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_role(RoleName="plain", AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_role(RoleName="operator", AssumeRolePolicyDocument=EC2_TRUST)
    iam.put_role_policy(
        RoleName="operator", PolicyName="guarded", PolicyDocument=json.dumps(GUARDED)
    )
    iam.create_instance_profile(InstanceProfileName="ops-profile", Path="/admin/")
    iam.create_group(GroupName="ops-group", Path="/admin/")
    iam.create_user(UserName="intern")
    iam.create_policy(PolicyName="ops-policy", Path="/admin/", PolicyDocument=INLINE)
    return iam


def operator(running: RunningLab) -> Any:
    answer = lab_session(running, f"arn:aws:iam::{ACCOUNT_A}:role/operator", ROOT_A).json()
    return aws(running, "iam", answer)


def denied_on(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    """The resource an AccessDenied names."""
    code, message = error_of(excinfo)
    assert code == "AccessDenied", message
    assert message.endswith("with an explicit deny in an identity-based policy"), message
    return message.split(" on resource: ")[1].split(" ")[0]


def test_a_role_s_path_counts_for_calls_on_it(lab: RunningLab, iam_admin: Any) -> None:
    iam = operator(lab)
    with pytest.raises(ClientError) as excinfo:
        iam.put_role_policy(RoleName="ops", PolicyName="mine", PolicyDocument=INLINE)
    assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:role/admin/ops"
    for call in (iam.attach_role_policy, iam.detach_role_policy):
        with pytest.raises(ClientError) as excinfo:
            call(RoleName="ops", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:role/admin/ops"
    iam.put_role_policy(RoleName="plain", PolicyName="mine", PolicyDocument=INLINE)  # not /admin/
    assert iam_admin.list_role_policies(RoleName="ops")["PolicyNames"] == []
    assert iam_admin.list_attached_role_policies(RoleName="ops")["AttachedPolicies"] == []


@pytest.mark.parametrize("name", ["OPS", "Ops", "ops ", "admin/ops"])
def test_another_spelling_of_a_protected_role_changes_nothing(
    lab: RunningLab, iam_admin: Any, name: str
) -> None:
    with pytest.raises(ClientError) as excinfo:
        operator(lab).put_role_policy(RoleName=name, PolicyName="mine", PolicyDocument=INLINE)
    assert error_of(excinfo)[0] in ("AccessDenied", "NoSuchEntity", "ValidationError")
    assert iam_admin.list_role_policies(RoleName="ops")["PolicyNames"] == []


def test_a_create_call_is_authorized_on_the_path_it_asks_for(
    lab: RunningLab, iam_admin: Any
) -> None:
    iam = operator(lab)
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName="sneaky", Path="/admin/", AssumeRolePolicyDocument=EC2_TRUST)
    assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:role/admin/sneaky"
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName="sneaky", Path="/admin/", PolicyDocument=INLINE)
    assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:policy/admin/sneaky"
    # A path IAM would refuse is refused before anything is authorized or created.
    for path in ("admin/", "/admin", "//admin/ /"):
        with pytest.raises(ClientError) as excinfo:
            iam.create_role(RoleName="sneaky", Path=path, AssumeRolePolicyDocument=EC2_TRUST)
        assert error_of(excinfo)[0] == "ValidationError"
    roles = {role["RoleName"] for role in iam_admin.list_roles()["Roles"]}
    assert "sneaky" not in roles
    created = iam.create_role(RoleName="fine", AssumeRolePolicyDocument=EC2_TRUST)
    assert created["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT_A}:role/fine"


def test_a_policy_named_by_arn_is_authorized_on_its_real_arn(
    lab: RunningLab, iam_admin: Any
) -> None:
    real = f"arn:aws:iam::{ACCOUNT_A}:policy/admin/ops-policy"
    iam = operator(lab)
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy_version(PolicyArn=real, PolicyDocument=INLINE, SetAsDefault=True)
    assert denied_on(excinfo) == real
    for wrong in (real.replace("/admin/", "/"), real.replace("/admin/", "/ADMIN/")):
        with pytest.raises(ClientError) as excinfo:
            iam.create_policy_version(PolicyArn=wrong, PolicyDocument=INLINE, SetAsDefault=True)
        assert error_of(excinfo)[0] == "NoSuchEntity"
    assert len(iam_admin.list_policy_versions(PolicyArn=real)["Versions"]) == 1


def test_groups_instance_profiles_and_moves_count_their_paths(
    lab: RunningLab, iam_admin: Any
) -> None:
    iam = operator(lab)
    with pytest.raises(ClientError) as excinfo:
        iam.add_role_to_instance_profile(InstanceProfileName="ops-profile", RoleName="plain")
    assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:instance-profile/admin/ops-profile"
    with pytest.raises(ClientError) as excinfo:
        iam.add_user_to_group(GroupName="ops-group", UserName="intern")
    assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:group/admin/ops-group"
    # Moving a user needs permission on its target too (IAM API Reference, UpdateUser).
    with pytest.raises(ClientError) as excinfo:
        iam.update_user(UserName="intern", NewPath="/admin/")
    assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:user/admin/intern"
    assert iam_admin.get_user(UserName="intern")["User"]["Path"] == "/"
    profile = iam_admin.get_instance_profile(InstanceProfileName="ops-profile")
    assert profile["InstanceProfile"]["Roles"] == []
    assert iam_admin.list_groups_for_user(UserName="intern")["Groups"] == []


def test_a_user_acting_on_itself_by_default_is_authorized_on_its_own_arn(
    lab: RunningLab, iam_admin: Any
) -> None:
    iam_admin.create_user(UserName="alice", Path="/admin/")
    iam_admin.put_user_policy(
        UserName="alice", PolicyName="guarded", PolicyDocument=json.dumps(GUARDED)
    )
    key = iam_admin.create_access_key(UserName="alice")["AccessKey"]
    alice = boto3.client(
        "iam",
        endpoint_url=lab.url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    with pytest.raises(ClientError) as excinfo:
        alice.create_access_key()  # no UserName: alice's own, under /admin/
    assert denied_on(excinfo) == f"arn:aws:iam::{ACCOUNT_A}:user/admin/alice"
    assert len(iam_admin.list_access_keys(UserName="alice")["AccessKeyMetadata"]) == 1


def test_a_failing_entity_lookup_forwards_nothing(lab: RunningLab, iam_admin: Any) -> None:
    directory = lab.lab.account_of(ACCOUNT_A).directory

    def broken(kind: str, name: str) -> str | None:
        raise RuntimeError("the IAM home is on fire")

    directory.entity_arn = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(ClientError) as excinfo:
            operator(lab).put_role_policy(
                RoleName="plain", PolicyName="late", PolicyDocument=INLINE
            )
        assert error_of(excinfo)[0] == "InternalFailure"
    finally:
        del directory.entity_arn
    assert "late" not in iam_admin.list_role_policies(RoleName="plain")["PolicyNames"]
