"""Authorization at the front door, through real HTTP: failing closed, IAM's own refusals,
cache invalidation after IAM writes, and the request context the engine sees."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from lab.identity.credentials import Identity
from lab.policy.model import PolicySet
from lab.server.authorize import Authorizer
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.conftest import client
from tests.server_support import boto_credentials
from tests.test_server_api import error_of
from tests.tutorial import EC2_TRUST

pytestmark = pytest.mark.slow

ACCOUNT = "000000000000"
ECR_FULL = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
ECR_READ = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    """One lab for the module; each test uses its own roles and repositories."""
    with RunningLab(LabConfig(state_dir=tmp_path_factory.mktemp("authz") / "state")) as running:
        yield running


def new_role(lab: RunningLab, name: str, *managed: str) -> str:
    iam = client(lab, "iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    for policy in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    return arn


def as_role(lab: RunningLab, service: str, role_arn: str, instance_id: str = "i-0a1b2c3d4e5f60718"):
    credential = lab.lab.sts.instance_session(role_arn, instance_id)
    return client(lab, service, **boto_credentials(credential))


def repository_with_policy(lab: RunningLab, name: str, *statements: dict) -> None:
    ecr = client(lab, "ecr")
    ecr.create_repository(repositoryName=name)
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(policy))


def pull(ecr, name: str) -> str:
    """BatchGetImage's outcome: "allowed" (the image is simply absent) or the error code."""
    try:
        ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "latest"}])
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "allowed"


# ---- fail closed ------------------------------------------------------------------------------


def test_a_failing_identity_policy_lookup_denies(running_lab: RunningLab) -> None:
    def broken(identity: Identity) -> PolicySet:
        raise RuntimeError("the directory is on fire")

    running_lab.lab.authorizer = Authorizer(broken)
    with pytest.raises(ClientError) as excinfo:
        client(running_lab, "ecr").create_repository(repositoryName="never")
    assert error_of(excinfo) == (
        "AccessDeniedException",
        "User: arn:aws:iam::000000000000:root is not authorized to perform: "
        "ecr:CreateRepository on resource: "
        "arn:aws:ecr:us-east-1:000000000000:repository/never because no identity-based policy "
        "allows the ecr:CreateRepository action",
        400,
    )
    with pytest.raises(ClientError) as excinfo:
        client(running_lab, "iam").create_role(RoleName="never", AssumeRolePolicyDocument="{}")
    assert error_of(excinfo)[::2] == ("AccessDenied", 403)
    assert running_lab.lab.ecr.repository_tags(ACCOUNT, "us-east-1", "never") == {}
    assert running_lab.lab.directory.role("never") is None


# ---- IAM through the front door ---------------------------------------------------------------


def test_a_session_with_only_ecr_permissions_may_not_create_roles(lab: RunningLab) -> None:
    arn = new_role(lab, "EcrOnly", ECR_FULL)
    iam = as_role(lab, "iam", arn, "i-0ecr0only0000000")
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName="Escalate", AssumeRolePolicyDocument=EC2_TRUST)
    assert error_of(excinfo) == (
        "AccessDenied",
        "User: arn:aws:sts::000000000000:assumed-role/EcrOnly/i-0ecr0only0000000 is not "
        "authorized to perform: iam:CreateRole on resource: "
        "arn:aws:iam::000000000000:role/Escalate because no identity-based policy allows the "
        "iam:CreateRole action",
        403,
    )
    assert lab.lab.directory.role("Escalate") is None


def test_attaching_a_policy_is_seen_by_the_next_ecr_call(lab: RunningLab) -> None:
    arn = new_role(lab, "GrowsUp")
    ecr = as_role(lab, "ecr", arn)
    with pytest.raises(ClientError):
        ecr.describe_repositories()  # also fills the directory's cache
    iam = client(lab, "iam")
    iam.attach_role_policy(RoleName="GrowsUp", PolicyArn=ECR_READ)
    assert "repositories" in ecr.describe_repositories()
    iam.detach_role_policy(RoleName="GrowsUp", PolicyArn=ECR_READ)
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories()
    assert error_of(excinfo)[0] == "AccessDeniedException"


def test_an_inline_policy_put_through_iam_is_seen_at_once(lab: RunningLab) -> None:
    arn = new_role(lab, "Inline")
    ecr = as_role(lab, "ecr", arn)
    assert pull(ecr, "nothing-here") == "AccessDeniedException"
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}],
    }
    client(lab, "iam").put_role_policy(
        RoleName="Inline", PolicyName="pull", PolicyDocument=json.dumps(allow)
    )
    assert pull(ecr, "nothing-here") == "RepositoryNotFoundException"


# ---- the request context ----------------------------------------------------------------------


def allow_pull_when(role_arn: str, condition: dict) -> dict:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": "ecr:BatchGetImage",
        "Condition": condition,
    }


@pytest.mark.parametrize(
    ("condition", "outcome"),
    [
        ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, "allowed"),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "AccessDeniedException"),
        ({"Bool": {"aws:SecureTransport": "false"}}, "allowed"),
        ({"Bool": {"aws:SecureTransport": "true"}}, "AccessDeniedException"),
        ({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, "allowed"),
        ({"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, "AccessDeniedException"),
        ({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, "allowed"),
    ],
    ids=["ip-in", "ip-out", "plain-http", "tls-only", "after-2020", "before-2020", "region"],
)
def test_request_context_keys_in_a_repository_policy(
    lab: RunningLab, request: pytest.FixtureRequest, condition: dict, outcome: str
) -> None:
    """Same account: a repository policy that names the role suffices (no identity policy)."""
    name = "ctx-" + request.node.callspec.id
    arn = new_role(lab, "Ctx" + request.node.callspec.id.replace("-", ""))
    repository_with_policy(lab, name, allow_pull_when(arn, condition))
    assert pull(as_role(lab, "ecr", arn), name) == outcome


def test_resource_tags_count_once_tagged(lab: RunningLab) -> None:
    arn = new_role(lab, "Tagged", ECR_FULL)
    deny_untagged = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:BatchGetImage",
        "Condition": {"StringNotEquals": {"aws:ResourceTag/team": "blue"}},
    }
    repository_with_policy(lab, "tagged", deny_untagged)
    ecr = as_role(lab, "ecr", arn)
    assert pull(ecr, "tagged") == "AccessDeniedException"
    admin = client(lab, "ecr")
    repo_arn = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/tagged"
    admin.tag_resource(resourceArn=repo_arn, tags=[{"Key": "team", "Value": "blue"}])
    assert pull(ecr, "tagged") == "allowed"
    admin.untag_resource(resourceArn=repo_arn, tagKeys=["team"])
    assert pull(ecr, "tagged") == "AccessDeniedException"


def test_request_tags_on_create_repository(lab: RunningLab) -> None:
    # The ECR User Guide's tag-on-create policy: both actions, each on the request's tags.
    arn = new_role(lab, "Creator")
    only_blue = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ecr:CreateRepository", "ecr:TagResource"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}},
            }
        ],
    }
    client(lab, "iam").put_role_policy(
        RoleName="Creator", PolicyName="blue", PolicyDocument=json.dumps(only_blue)
    )
    ecr = as_role(lab, "ecr", arn)
    created = ecr.create_repository(
        repositoryName="blue-app", tags=[{"Key": "team", "Value": "blue"}]
    )
    assert created["repository"]["repositoryName"] == "blue-app"
    for tags in ([{"Key": "team", "Value": "red"}], []):
        with pytest.raises(ClientError) as excinfo:
            ecr.create_repository(repositoryName="other-app", tags=tags)
        assert error_of(excinfo)[0] == "AccessDeniedException"


def test_tags_on_create_repository_also_ask_for_tag_resource(lab: RunningLab) -> None:
    """Tagging on creation is tagging: CreateRepository alone cannot tag a new repository
    (ECR User Guide, ecr-supported-iam-actions-tagging.html; AWS's December 2022 notice that
    ecr:TagResource is needed to create a tagged repository)."""
    arn = new_role(lab, "CreatorNoTags")
    create_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*"}],
    }
    client(lab, "iam").put_role_policy(
        RoleName="CreatorNoTags", PolicyName="create", PolicyDocument=json.dumps(create_only)
    )
    ecr = as_role(lab, "ecr", arn)
    with pytest.raises(ClientError) as excinfo:
        ecr.create_repository(repositoryName="tagged-app", tags=[{"Key": "team", "Value": "red"}])
    code, message, status = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: {ecr_session_arn(arn)} is not authorized to perform: ecr:TagResource on "
        f"resource: arn:aws:ecr:us-east-1:{ACCOUNT}:repository/tagged-app because no "
        "identity-based policy allows the ecr:TagResource action"
    )
    admin = client(lab, "ecr")
    names = {r["repositoryName"] for r in admin.describe_repositories()["repositories"]}
    assert "tagged-app" not in names  # refused before anything was created
    # Without tags there is nothing to tag: CreateRepository alone is enough.
    assert ecr.create_repository(repositoryName="untagged-app")["repository"]["repositoryName"]
    assert (
        admin.list_tags_for_resource(
            resourceArn=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/untagged-app"
        )["tags"]
        == []
    )


def ecr_session_arn(role_arn: str, instance_id: str = "i-0a1b2c3d4e5f60718") -> str:
    """The assumed-role ARN as_role's session signs as."""
    name = role_arn.rsplit("/", 1)[1]
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{instance_id}"
