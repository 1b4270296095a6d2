"""ECR VPC endpoints set up with EC2's API (the aws CLI and boto3, as on AWS), forwarded to the
IAM home's EC2 (embedded moto) and enforced from there: a role session bound to such an endpoint
meets its policy, a change of the policy changes the decision, and all of it survives a restart.

Pages: EC2 API Reference (CreateVpcEndpoint, ModifyVpcEndpoint: PolicyDocument, ResetPolicy),
EC2 API Reference "Error codes" (errors-overview.html: `<Response><Errors><Error><Code>` with
`<Message>` and `<RequestID>`; UnauthorizedOperation: "You are not authorized to perform this
operation"), EC2 Developer Guide "Troubleshooting API request errors" (query-api-troubleshooting
.html: a caller without permission gets UnauthorizedOperation), AWS PrivateLink Guide "Control
access to VPC endpoints using endpoint policies" (the default policy allows full access).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lab.errors import AwsError
from lab.scenario.deploy import deploy
from lab.scenario.locate import find, load
from lab.scenario.parse import parse
from lab.server.client import session
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_ops_support import aws as lab_client
from tests.server_support import (
    AWS_CLI,
    Answer,
    cli,
    one_line_failure,
    query_call,
    send,
    signed_headers,
)

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
ONLY_FA_085 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:*",
            "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fa-085",
        },
    ],
}


def client(
    running: RunningLab, service: str, key: str = "test", secret: str = "test", token: str = ""
) -> Any:
    """A boto3 client of the lab signed with these keys (the admin's by default)."""
    keys = {"aws_access_key_id": key, "aws_secret_access_key": secret}
    return lab_client(running, service, **keys, **({"aws_session_token": token} if token else {}))


def trust(*principals: dict[str, str]) -> str:
    """A trust policy letting each principal (`{"Service": ...}` or `{"AWS": ...}`) assume."""
    statements = [
        {"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"} for p in principals
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def config(state: Path) -> LabConfig:
    return LabConfig(state, region=REGION, account=ACCOUNT)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    """The tutorial (instance 2 may pull fa-085 and, by its role, any other repository)."""
    with RunningLab(config(tmp_path / "state")) as running:
        deploy(running.lab, load("fa-085"))
        yield running


def aws_cli(running: RunningLab, *args: str, keys: tuple[str, str] = ("test", "test")) -> Any:
    """The aws CLI against the lab; its JSON answer, or the failed process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ACCESS_KEY_ID": keys[0],
        "AWS_SECRET_ACCESS_KEY": keys[1],
        "AWS_DEFAULT_REGION": REGION,
    }
    command = [AWS_CLI, *args, "--endpoint-url", running.url, "--output", "json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    return json.loads(done.stdout or "{}") if done.returncode == 0 else done


def ecr_endpoint(running: RunningLab, policy: dict | None = None) -> str:
    """`aws ec2 create-vpc` and `create-vpc-endpoint` for ecr.api; the endpoint's id."""
    vpc = aws_cli(running, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/16")["Vpc"]["VpcId"]
    args = ["--vpc-id", vpc, "--service-name", f"com.amazonaws.{REGION}.ecr.api"]
    args += ["--vpc-endpoint-type", "Interface"]
    if policy is not None:
        args += ["--policy-document", json.dumps(policy)]
    created = aws_cli(running, "ec2", "create-vpc-endpoint", *args)
    assert not isinstance(created, subprocess.CompletedProcess), created.stderr
    return created["VpcEndpoint"]["VpcEndpointId"]


def ecr_through(running: RunningLab, principal: str, endpoint: str | None) -> Any:
    answer = session(running.url, principal, REGION, endpoint)
    keys = answer["accessKeyId"], answer["secretAccessKey"], answer["sessionToken"]
    return client(running, "ecr", *keys)


def pull(client: Any, repository: str) -> str | None:
    """BatchGetImage's denial message, or None when it was allowed."""
    try:
        client.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "latest"}])
    except ClientError as error:
        if error.response["Error"]["Code"] == "RepositoryNotFoundException":
            return None  # authorized; the repository just is not there
        assert error.response["Error"]["Code"] == "AccessDeniedException"
        return error.response["Error"]["Message"]
    return None


def denied_by_endpoint(message: str | None, repository: str) -> bool:
    return message is not None and message.endswith(
        f"on resource: arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository} because no VPC "
        "endpoint policy allows the ecr:BatchGetImage action"
    )


def test_an_endpoint_made_with_the_aws_cli_limits_a_session_bound_to_it(lab: RunningLab) -> None:
    endpoint = ecr_endpoint(lab, ONLY_FA_085)
    listed = aws_cli(lab, "ec2", "describe-vpc-endpoints", "--vpc-endpoint-ids", endpoint)
    assert json.loads(listed["VpcEndpoints"][0]["PolicyDocument"]) == ONLY_FA_085
    bound = ecr_through(lab, "instance2", endpoint)
    assert pull(bound, "fa-085") is None
    assert denied_by_endpoint(pull(bound, "other"), "other")
    # The same instance not bound to it (its NAT path) is not limited by the endpoint.
    assert pull(ecr_through(lab, "instance2", None), "other") is None


def test_modify_vpc_endpoint_changes_the_decision(lab: RunningLab) -> None:
    endpoint = ecr_endpoint(lab, ONLY_FA_085)
    bound = ecr_through(lab, "instance2", endpoint)
    assert denied_by_endpoint(pull(bound, "other"), "other")
    deny_other = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:BatchGetImage",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fa-085",
            },
        ],
    }
    ec2 = client(lab, "ec2")
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PolicyDocument=json.dumps(deny_other))
    assert pull(bound, "other") is None
    assert (pull(bound, "fa-085") or "").endswith("with an explicit deny in a VPC endpoint policy")
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, ResetPolicy=True)  # full access again
    assert pull(bound, "fa-085") is None
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    assert pull(bound, "fa-085") is not None  # nothing comes through a deleted endpoint


def test_an_endpoint_and_its_policy_survive_a_restart(tmp_path: Path) -> None:
    with RunningLab(config(tmp_path / "state")) as running:
        deploy(running.lab, load("fa-085"))
        endpoint = ecr_endpoint(running)  # AWS's default policy: full access
        issued = session(running.url, "instance2", REGION, endpoint)
        assert pull(ecr_through(running, "instance2", endpoint), "other") is None
        modified = aws_cli(
            running,
            "ec2",
            "modify-vpc-endpoint",
            "--vpc-endpoint-id",
            endpoint,
            "--policy-document",
            json.dumps(ONLY_FA_085),
        )
        assert modified == {"Return": True}
    with RunningLab(config(tmp_path / "state")) as running:
        deploy(running.lab, load("fa-085"))
        bound = ecr_through(running, "instance2", endpoint)
        assert pull(bound, "fa-085") is None
        assert denied_by_endpoint(pull(bound, "other"), "other")
        # A session issued before the restart still comes through the endpoint.
        keys = issued["accessKeyId"], issued["secretAccessKey"], issued["sessionToken"]
        assert denied_by_endpoint(pull(client(running, "ecr", *keys), "other"), "other")


def test_a_caller_without_ec2_permission_gets_ec2s_unauthorized_operation(
    lab: RunningLab,
) -> None:
    vpc = aws_cli(lab, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/16")["Vpc"]["VpcId"]
    iam = client(lab, "iam")
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    done = aws_cli(
        lab,
        "ec2",
        "create-vpc-endpoint",
        "--vpc-id",
        vpc,
        "--service-name",
        f"com.amazonaws.{REGION}.ecr.api",
        keys=(key["AccessKeyId"], key["SecretAccessKey"]),
    )
    assert isinstance(done, subprocess.CompletedProcess) and done.returncode != 0
    assert (
        "An error occurred (UnauthorizedOperation) when calling the CreateVpcEndpoint operation: "
        "You are not authorized to perform this operation. User: "
        f"arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: ec2:CreateVpcEndpoint on "
        f"resource: arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-endpoint/* because no identity-based "
        "policy allows the ec2:CreateVpcEndpoint action"
    ) in done.stderr
    assert aws_cli(lab, "ec2", "describe-vpc-endpoints")["VpcEndpoints"] == []  # nothing was made


def test_a_policy_document_that_is_no_policy_is_refused_before_anything_is_made(
    lab: RunningLab,
) -> None:
    vpc = aws_cli(lab, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/16")["Vpc"]["VpcId"]
    ec2 = client(lab, "ec2")
    with pytest.raises(ClientError) as refused:
        ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.ecr.api", PolicyDocument="{no"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidPolicyDocument"
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []


def lab_session(running: RunningLab, document: dict, credentials: Credentials) -> Answer:
    """POST /_lab/session signed with `credentials`."""
    body = json.dumps(document).encode()
    base = {"Content-Type": "application/json"}
    path = "/_lab/session"
    signed = signed_headers(
        running.url, "POST", path, base, body, service="lab", region=REGION, credentials=credentials
    )
    return send(running.url, "POST", path, signed, body)


def root(account: str) -> Credentials:
    """An account's root key pair, as the lab gives it (the admin's is test/test)."""
    return Credentials(account, "test")


def test_only_the_accounts_root_binds_a_role_session_to_its_own_endpoint(
    lab: RunningLab,
) -> None:
    endpoint = ecr_endpoint(lab, ONLY_FA_085)
    other = "210987654321"
    lab.lab.add_account(other)
    role = client(lab, "iam", other).create_role(
        RoleName="theirs",
        AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}),
    )["Role"]["Arn"]
    for document, key, why in (
        # Another account's root may not bind this account's instance, nor its own role to an
        # endpoint of this account (it finds none such in its own).
        ({"principal": "instance2", "vpcEndpoint": endpoint}, other, "Only the account root"),
        ({"principal": role, "vpcEndpoint": endpoint}, other, f"Endpoint Id '{endpoint}'"),
        ({"principal": "instance2", "vpcEndpoint": "vpce-0123456789abcdef0"}, "test", "does not"),
        ({"principal": "admin", "vpcEndpoint": endpoint}, "test", "Only a role session"),
    ):
        answer = lab_session(lab, document, root(key))
        assert answer.status >= 400 and why in answer.json()["message"], answer.body
    # An instance's own session key cannot ask for a session at all.
    mine = session(lab.url, "instance2", REGION)
    keys = Credentials(mine["accessKeyId"], mine["secretAccessKey"], mine["sessionToken"])
    answer = lab_session(lab, {"principal": "instance2", "vpcEndpoint": endpoint}, root("test"))
    assert answer.status == 200
    refused = lab_session(lab, {"principal": "instance2"}, keys)
    assert refused.status == 400 and "Only the account root" in refused.json()["message"]


def test_a_bound_session_cannot_leave_its_endpoint(lab: RunningLab) -> None:
    # Neither by assuming a role from behind it, nor by a header naming no endpoint.
    endpoint = ecr_endpoint(lab, ONLY_FA_085)
    answer = session(lab.url, "instance2", REGION, endpoint)
    keys = answer["accessKeyId"], answer["secretAccessKey"], answer["sessionToken"]
    sts = client(lab, "sts", *keys)
    role = sts.get_caller_identity()["Arn"].split("/")[1]
    lab.lab.directory.invalidate()
    client(lab, "iam").update_assume_role_policy(
        RoleName=role,
        PolicyDocument=trust(
            {"Service": "ec2.amazonaws.com"}, {"AWS": f"arn:aws:iam::{ACCOUNT}:role/{role}"}
        ),
    )
    assumed = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="escape"
    )["Credentials"]
    chained = client(
        lab, "ecr", assumed["AccessKeyId"], assumed["SecretAccessKey"], assumed["SessionToken"]
    )
    assert denied_by_endpoint(pull(chained, "other"), "other")
    bound = client(lab, "ecr", *keys)

    def claim_no_endpoint(request: Any, **_: Any) -> None:
        request.headers["X-Amz-Source-Vpce"] = ""
        request.headers["x-amz-vpce-id"] = "none"

    bound.meta.events.register_first("before-sign.ecr.BatchGetImage", claim_no_endpoint)
    assert denied_by_endpoint(pull(bound, "other"), "other")


def test_ecr_lab_env_through_hands_out_a_bound_session(lab: RunningLab) -> None:
    endpoint = ecr_endpoint(lab, ONLY_FA_085)
    done = cli("env", "instance2", "--endpoint", lab.url, "--through", endpoint)
    assert done.returncode == 0, done.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
    keys = [
        shlex.split(exports[name])[0]
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    ]
    assert denied_by_endpoint(pull(client(lab, "ecr", *keys), "other"), "other")
    refused = cli("env", "instance2", "--endpoint", lab.url, "--through", "vpce-0123456789abcdef0")
    assert "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist" in one_line_failure(
        refused
    )


def test_describe_lists_a_scenarios_endpoints_and_those_made_with_the_api(tmp_path: Path) -> None:
    with RunningLab(config(tmp_path / "state")) as running:
        deploy(running.lab, load("fa-085-guardrails"))
        made = ecr_endpoint(running, ONLY_FA_085)
        listed = aws_cli(running, "ec2", "describe-vpc-endpoints")["VpcEndpoints"]
        assert {e["VpcEndpointId"] for e in listed} == {made, "vpce-0a1b2c3d4e5f60718"}
        one = client(running, "ec2").describe_vpc_endpoints(VpcEndpointIds=[made])
        assert json.loads(one["VpcEndpoints"][0]["PolicyDocument"]) == ONLY_FA_085


def test_what_is_modified_is_the_endpoint_that_was_authorized(lab: RunningLab) -> None:
    # A user allowed ec2:ModifyVpcEndpoint on one endpoint only: fields the model does not read
    # for the call, or a second value, never reach EC2 (the canonical form is forwarded).
    mine, theirs = ecr_endpoint(lab, ONLY_FA_085), ecr_endpoint(lab, ONLY_FA_085)
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-endpoint/{mine}"
    iam = client(lab, "iam")
    iam.create_user(UserName="net")
    allow = {"Effect": "Allow", "Action": "ec2:ModifyVpcEndpoint", "Resource": arn}
    document = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    iam.put_user_policy(UserName="net", PolicyName="one", PolicyDocument=document)
    key = iam.create_access_key(UserName="net")["AccessKey"]
    keys = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    wide = quote(json.dumps({**ONLY_FA_085, "Statement": [{**allow, "Principal": "*"}]}))
    form = f"Action=ModifyVpcEndpoint&Version=2016-11-15&PolicyDocument={wide}"
    statuses = [
        query_call(
            lab.url, form + extra, query=query, service="ec2", region=REGION, credentials=keys
        ).status
        for extra, query in (
            (
                f"&VpcEndpointId={mine}&VpcEndpointId.1={theirs}&VpcEndpointIds.member.1={theirs}",
                "",
            ),
            (f"&VpcEndpointId={mine}", f"VpcEndpointId={theirs}"),  # read two ways: refused
        )
    ]
    assert statuses == [200, 400]
    changed = client(lab, "ec2").describe_vpc_endpoints(VpcEndpointIds=[mine])["VpcEndpoints"]
    assert json.loads(changed[0]["PolicyDocument"])["Statement"][0]["Resource"] == arn
    listed = client(lab, "ec2").describe_vpc_endpoints(VpcEndpointIds=[theirs])["VpcEndpoints"]
    assert json.loads(listed[0]["PolicyDocument"]) == ONLY_FA_085
    # On the other endpoint itself: EC2's refusal, in EC2's error body (errors-overview.html).
    answer = query_call(
        lab.url,
        form + f"&VpcEndpointId={theirs}",
        service="ec2",
        region=REGION,
        credentials=keys,
    )
    assert answer.status == 403
    assert answer.body.startswith(
        b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not "
        b"authorized to perform this operation. User: "
    )
    assert b"</Message></Error></Errors><RequestID>" in answer.body


def test_a_scenario_instance_can_sit_behind_an_endpoint_made_with_the_api(lab: RunningLab) -> None:
    endpoint = ecr_endpoint(lab, ONLY_FA_085)
    text = find("fa-085").read_text()
    plain = "instance2: {instance_id: i-0296e9a1b5f70b522, role: InstanceRole2}"
    behind = plain.replace("}", f", vpc_endpoint: {endpoint}}}")
    assert plain in text
    deploy(lab.lab, parse(text.replace(plain, behind), "behind"))
    assert denied_by_endpoint(pull(ecr_through(lab, "instance2", None), "other"), "other")
    missing = text.replace(plain, plain.replace("}", ", vpc_endpoint: vpce-0123456789abcdef0}"))
    with pytest.raises(AwsError) as refused:
        deploy(lab.lab, parse(missing, "missing"))
    assert refused.value.code == "InvalidVpcEndpointId.NotFound"
    # Nothing changed: instance 2 still sits behind the endpoint.
    assert denied_by_endpoint(pull(ecr_through(lab, "instance2", None), "other"), "other")
