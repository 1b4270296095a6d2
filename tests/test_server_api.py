"""The front door through real HTTP: boto3 and the aws CLI against a running lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.conftest import client
from tests.server_support import AWS_CLI
from tests.tutorial import EC2_TRUST, MANAGED, repository_policy

pytestmark = pytest.mark.slow


BAD_POLICY = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid repository policy provided'"
)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def raw_post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def deploy_tutorial(running: RunningLab) -> list[str]:
    """Three EC2 roles and the tutorial's repository; returns the role ARNs."""
    iam = client(running, "iam")
    arns = []
    for n in (1, 2, 3):
        role = iam.create_role(RoleName=f"InstanceRole{n}", AssumeRolePolicyDocument=EC2_TRUST)
        for arn in MANAGED:
            iam.attach_role_policy(RoleName=f"InstanceRole{n}", PolicyArn=arn)
        arns.append(role["Role"]["Arn"])
    ecr = client(running, "ecr")
    ecr.create_repository(repositoryName="fa-085")
    ecr.set_repository_policy(repositoryName="fa-085", policyText=repository_policy(*arns[:2]))
    return arns


def session_client(running: RunningLab, service: str, role_arn: str, instance_id: str):
    credential = running.lab.sts.instance_session(role_arn, instance_id)
    return client(
        running,
        service,
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        aws_session_token=credential.session_token,
    )


def test_health_answers_json(running_lab: RunningLab) -> None:
    with urllib.request.urlopen(f"{running_lab.url}/_lab/health") as response:
        body = json.load(response)
    assert response.status == 200
    assert body["status"] == "ready"
    assert body["registry"] == running_lab.lab.registry_host


def test_admin_creates_and_describes_repository(running_lab: RunningLab) -> None:
    ecr = client(running_lab, "ecr")
    created = ecr.create_repository(repositoryName="team/app")["repository"]
    assert created["repositoryArn"] == "arn:aws:ecr:us-east-1:000000000000:repository/team/app"
    assert created["repositoryUri"] == f"{running_lab.lab.registry_host}/team/app"
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["team/app"]


def test_unsigned_request_is_missing_authentication_token(running_lab: RunningLab) -> None:
    status, body = raw_post(
        running_lab.url,
        {
            "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
            "Content-Type": "application/x-amz-json-1.1",
        },
        b"{}",
    )
    assert (status, body["__type"]) == (400, "MissingAuthenticationTokenException")


def test_unknown_access_key_is_unrecognized_client(running_lab: RunningLab) -> None:
    ecr = client(
        running_lab, "ecr", aws_access_key_id="AKIANOTAKEY00000000", aws_secret_access_key="x"
    )
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories()
    assert error_of(excinfo) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("ecr", "describe_repositories", ("InvalidSignatureException", 400)),
        ("iam", "list_roles", ("SignatureDoesNotMatch", 403)),
    ],
)
def test_wrong_secret_is_the_protocols_signature_error(
    running_lab: RunningLab, service: str, operation: str, expected: tuple[str, int]
) -> None:
    wrong = client(running_lab, service, aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        getattr(wrong, operation)()
    code, _, status = error_of(excinfo)
    assert (code, status) == expected


def test_malformed_json_and_unknown_operation(running_lab: RunningLab) -> None:
    ecr = client(running_lab, "ecr")
    ecr.meta.events.register(
        "before-sign.ecr.DescribeRepositories",
        lambda request, **_: setattr(request, "data", b"{not json"),
    )
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories()
    assert error_of(excinfo)[0] == "SerializationException"


def test_tutorial_policy_enforced_on_ecr_api(running_lab: RunningLab) -> None:
    role1, role2, role3 = deploy_tutorial(running_lab)
    pull = {"repositoryName": "fa-085", "imageIds": [{"imageTag": "latest"}]}
    instance1 = session_client(running_lab, "ecr", role1, "i-0bde1cc6fc498a208")
    instance2 = session_client(running_lab, "ecr", role2, "i-0296e9a1b5f70b522")
    instance3 = session_client(running_lab, "ecr", role3, "i-0d0cc36a5186db23b")

    # Pull: instance2 is allowed (the image is simply not there yet); 1 and 3 are refused.
    assert instance2.batch_get_image(**pull)["failures"][0]["failureCode"] == "ImageNotFound"
    for instance, n, iid in (
        (instance1, 1, "i-0bde1cc6fc498a208"),
        (instance3, 3, "i-0d0cc36a5186db23b"),
    ):
        with pytest.raises(ClientError) as excinfo:
            instance.batch_get_image(**pull)
        assert error_of(excinfo) == (
            "AccessDeniedException",
            f"User: arn:aws:sts::000000000000:assumed-role/InstanceRole{n}/{iid} is not "
            "authorized to perform: ecr:BatchGetImage on resource: "
            "arn:aws:ecr:us-east-1:000000000000:repository/fa-085 with an explicit deny in a "
            "resource-based policy",
            400,
        )
    # Push: instance1 may start an upload; instance2 may not.
    assert instance1.initiate_layer_upload(repositoryName="fa-085")["uploadId"]
    with pytest.raises(ClientError) as excinfo:
        instance2.initiate_layer_upload(repositoryName="fa-085")
    assert error_of(excinfo)[0] == "AccessDeniedException"
    # Login: GetAuthorizationToken is not repository-scoped, so all three may log in.
    for instance in (instance1, instance2, instance3):
        data = instance.get_authorization_token()["authorizationData"][0]
        assert data["proxyEndpoint"] == f"http://{running_lab.lab.registry_host}"


def test_bad_repository_policy_is_refused_and_old_kept(running_lab: RunningLab) -> None:
    ecr = client(running_lab, "ecr")
    ecr.create_repository(repositoryName="app")
    good = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PullFromB",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                }
            ],
        }
    )
    ecr.set_repository_policy(repositoryName="app", policyText=good)
    for bad in (
        "{not json",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*"}
                ],
            }
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            ecr.set_repository_policy(repositoryName="app", policyText=bad)
        assert error_of(excinfo) == ("InvalidParameterException", BAD_POLICY, 400)
    assert json.loads(ecr.get_repository_policy(repositoryName="app")["policyText"]) == json.loads(
        good
    )


def test_assume_role_through_sts(running_lab: RunningLab) -> None:
    """A user's key, made through IAM, assumes a role whose trust policy names the account."""
    iam = client(running_lab, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(
        RoleName="deployer", Path="/ci/", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    iam.create_user(UserName="dev")
    may_assume = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn}],
    }
    iam.put_user_policy(UserName="dev", PolicyName="assume", PolicyDocument=json.dumps(may_assume))
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    assert client(running_lab, "sts", **dev).get_caller_identity()["Arn"] == (
        "arn:aws:iam::000000000000:user/dev"
    )
    answer = client(running_lab, "sts", **dev).assume_role(RoleArn=arn, RoleSessionName="build-42")
    session_arn = "arn:aws:sts::000000000000:assumed-role/deployer/build-42"
    assert answer["AssumedRoleUser"]["Arn"] == session_arn
    creds = answer["Credentials"]
    session = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    assert client(running_lab, "sts", **session).get_caller_identity()["Arn"] == session_arn
    with pytest.raises(ClientError) as excinfo:  # the role has no permissions at all
        client(running_lab, "ecr", **session).describe_repositories()
    assert error_of(excinfo)[1] == (
        f"User: {session_arn} is not authorized to perform: ecr:DescribeRepositories on "
        "resource: arn:aws:ecr:us-east-1:000000000000:repository/* because no identity-based "
        "policy allows the ecr:DescribeRepositories action"
    )
    iam.delete_access_key(UserName="dev", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as excinfo:
        client(running_lab, "sts", **dev).get_caller_identity()
    assert error_of(excinfo)[0] == "InvalidClientTokenId"


def test_root_may_not_assume_roles(running_lab: RunningLab) -> None:
    """AWS: "Roles may not be assumed by root accounts." (AccessDenied)."""
    iam = client(running_lab, "iam")
    arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    with pytest.raises(ClientError) as excinfo:
        client(running_lab, "sts").assume_role(RoleArn=arn, RoleSessionName="root-try")
    assert error_of(excinfo)[:2] == ("AccessDenied", "Roles may not be assumed by root accounts.")


def test_tutorial_policy_locks_out_the_account_root(running_lab: RunningLab) -> None:
    """An explicit deny in a resource policy applies to the root user too (IAM user guide,
    "Policy evaluation logic"): the tutorial's third statement shuts out the administrator."""
    deploy_tutorial(running_lab)
    with pytest.raises(ClientError) as excinfo:
        client(running_lab, "ecr").get_repository_policy(repositoryName="fa-085")
    assert error_of(excinfo)[1].endswith(
        "ecr:GetRepositoryPolicy on resource: "
        "arn:aws:ecr:us-east-1:000000000000:repository/fa-085 with an explicit deny in a "
        "resource-based policy"
    )


def test_restart_keeps_everything_acknowledged(tmp_path) -> None:
    config = LabConfig(state_dir=tmp_path / "state")
    with RunningLab(config) as first:
        role2 = deploy_tutorial(first)[1]
    with RunningLab(config) as second:
        # Only role 2 may read fa-085 (pull): the image is missing, the repository is there.
        ecr = session_client(second, "ecr", role2, "i-0296e9a1b5f70b522")
        pulled = ecr.batch_get_image(repositoryName="fa-085", imageIds=[{"imageTag": "latest"}])
        assert pulled["failures"][0]["failureCode"] == "ImageNotFound"
        assert second.lab.ecr.repository_policy("000000000000", "us-east-1", "fa-085")
        roles = {r["RoleName"] for r in client(second, "iam").list_roles()["Roles"]}
        assert {"InstanceRole1", "InstanceRole2", "InstanceRole3"} <= roles


def test_aws_cli_and_env_command(running_lab: RunningLab) -> None:
    env = os.environ | {"ECR_LAB_ENDPOINT": running_lab.url}
    exports = subprocess.run(
        [sys.executable, "-m", "lab.cli", "env", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(
        line.removeprefix("export ").split("=", 1)
        for line in exports.splitlines()
        if line.startswith("export ")
    )
    assert values["AWS_ENDPOINT_URL"] == running_lab.url
    assert values["ECR_REGISTRY"] == running_lab.lab.registry_host
    cli_env = env | {k: v.strip("'") for k, v in values.items()}
    cli_env.pop("AWS_SESSION_TOKEN", None)
    subprocess.run(
        [
            AWS_CLI,
            "ecr",
            "create-repository",
            "--repository-name",
            "from-cli",
            "--endpoint-url",
            running_lab.url,
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = subprocess.run(
        [AWS_CLI, "ecr", "describe-repositories", "--endpoint-url", running_lab.url],
        env=cli_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(listed)["repositories"][0]["repositoryName"] == "from-cli"
