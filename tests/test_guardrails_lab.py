"""Organizations guardrails and the ECR VPC endpoint in a running lab, through real HTTP: the
built-in fa-085-guardrails scenario, instance sessions as `ecr-lab env` hands them out, and the
ECR API and registry answering with AWS's messages.

Pages: IAM global condition keys and "Use VPC condition keys to control federated access"
(reference_sts_vpc_condition_keys_federated.html: aws:SourceVpc, aws:SourceVpce, aws:VpcSourceIp
only through an endpoint, aws:SourceIp only without one); Organizations "SCP evaluation" and
"Resource control policies"; PrivateLink "Control access to VPC endpoints using endpoint
policies"; ECR "Interface VPC endpoints (AWS PrivateLink)".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lab.scenario.clients import ProtocolDriver, Refused, Session, get_login_password
from lab.scenario.deploy import deploy
from lab.scenario.explain import call_for, instance_identity
from lab.scenario.locate import find
from lab.scenario.parse import parse
from lab.server.client import session
from lab.server.config import LabConfig
from lab.server.run import RunningLab

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

SCENARIO = find("fa-085-guardrails").read_text()
ACCOUNT = "123456789012"
ENDPOINT = "vpce-0a1b2c3d4e5f60718"
REPOSITORY = f"arn:aws:ecr:ap-northeast-1:{ACCOUNT}:repository/fa-085"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    scenario = parse(SCENARIO, "fa-085-guardrails")
    config = LabConfig(
        tmp_path_factory.mktemp("guardrails") / "state", region=scenario.region, account=ACCOUNT
    )
    with RunningLab(config) as running:
        deploy(running.lab, scenario)
        yield running


def credentials(running: RunningLab, instance: str) -> dict[str, Any]:
    """What `ecr-lab env INSTANCE` hands out: POST /_lab/session as the admin."""
    return session(running.url, instance, running.lab.config.region)


def ecr(running: RunningLab, instance: str) -> Any:
    answer = credentials(running, instance)
    return signed(
        running, "ecr", answer["accessKeyId"], answer["secretAccessKey"], answer["sessionToken"]
    )


def signed(
    running: RunningLab,
    service: str,
    key: str = "test",
    secret: str = "test",
    token: str | None = None,
) -> Any:
    """A client of the lab signed with these keys (the admin's by default)."""
    return boto3.client(
        service,
        endpoint_url=running.url,
        region_name=running.lab.config.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def denial(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    return refused.value.response["Error"]["Message"]


def test_the_endpoint_policy_denies_what_the_repository_policy_alone_allows(
    lab: RunningLab,
) -> None:
    # The repository policy is not asked for DescribeRegistry (Resource "*"); the endpoint
    # policy allows only login and the fa-085 repository.
    message = denial(ecr(lab, "instance1").describe_registry)
    assert message.endswith(
        "on resource: * because no VPC endpoint policy allows the ecr:DescribeRegistry action"
    )
    # The same role from outside the endpoint (instance 2 goes through NAT) is not limited.
    assert ecr(lab, "instance2").describe_registry()["registryId"] == ACCOUNT


def test_login_through_the_endpoint_is_allowed_by_its_policy(lab: RunningLab) -> None:
    token = ecr(lab, "instance1").get_authorization_token()["authorizationData"]
    assert token[0]["authorizationToken"]


def test_the_scp_denies_a_pull_from_outside_the_organizations_endpoint(lab: RunningLab) -> None:
    # Instance 2's role may pull by the repository policy; its subnet has no endpoint.
    message = denial(
        lambda: ecr(lab, "instance2").batch_get_image(
            repositoryName="fa-085", imageIds=[{"imageTag": "latest"}]
        )
    )
    assert message.startswith("User: arn:aws:sts::123456789012:assumed-role/")
    assert message.endswith(
        f"ecr:BatchGetImage on resource: {REPOSITORY} with an explicit deny in a service control "
        "policy"
    )


def test_the_registry_refuses_the_pull_with_the_scps_message(lab: RunningLab) -> None:
    answer = credentials(lab, "instance2")
    instance = Session.from_answer(answer)
    password = get_login_password(instance)
    with pytest.raises(Refused) as refused:
        ProtocolDriver("guardrails").pull(instance, password, "fa-085", "latest")
    assert refused.value.message.endswith("with an explicit deny in a service control policy")
    assert "ecr:BatchGetImage" in refused.value.message


def test_endpoint_keys_are_set_through_the_endpoint_and_absent_otherwise(lab: RunningLab) -> None:
    through = lab.lab.authorizer.explain(
        call_for(lab.lab, instance_identity(lab.lab, "instance1"), "ecr:BatchGetImage", "fa-085")
    )[0]
    assert through.context["aws:sourcevpce"] == ENDPOINT
    assert through.context["aws:sourcevpc"] == "vpc-0f1e2d3c4b5a69788"
    assert through.context["aws:vpcsourceip"] == "10.0.1.11"
    assert "aws:sourceip" not in through.context
    outside = lab.lab.authorizer.explain(
        call_for(lab.lab, instance_identity(lab.lab, "instance2"), "ecr:BatchGetImage", "fa-085")
    )[0]
    assert outside.context["aws:sourceip"] == "127.0.0.1"
    for key in ("aws:sourcevpce", "aws:sourcevpc", "aws:vpcsourceip"):
        assert key not in outside.context


def test_the_session_carries_the_endpoint_not_the_request(lab: RunningLab) -> None:
    # A hostile caller outside the endpoint cannot claim it: the keys come from the session the
    # lab issued, never from anything in the request.
    client = ecr(lab, "instance2")

    def claim_endpoint(request: Any, **_: Any) -> None:
        request.headers["X-Amz-Source-Vpce"] = ENDPOINT
        request.headers["x-amz-vpce-id"] = ENDPOINT

    client.meta.events.register_first("before-sign.ecr.BatchGetImage", claim_endpoint)
    message = denial(
        lambda: client.batch_get_image(repositoryName="fa-085", imageIds=[{"imageTag": "x"}])
    )
    assert message.endswith("with an explicit deny in a service control policy")


def test_iam_and_sts_calls_do_not_travel_through_the_ecr_endpoint(lab: RunningLab) -> None:
    identity = instance_identity(lab.lab, "instance1")
    request = lab.lab.authorizer.explain(call_for(lab.lab, identity, "ecr:BatchGetImage", "x"))[0]
    assert request.context["aws:sourcevpce"] == ENDPOINT
    from lab.server.authorize import Call

    iam = Call(identity, "iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/x", "127.0.0.1", "x")
    assert "aws:sourcevpce" not in lab.lab.authorizer.explain(iam)[0].context


def test_a_session_through_an_endpoint_the_lab_no_longer_has_is_refused(tmp_path: Path) -> None:
    scenario = parse(SCENARIO, "fa-085-guardrails")
    config = LabConfig(tmp_path / "state", region=scenario.region, account=ACCOUNT)
    with RunningLab(config) as running:
        deploy(running.lab, scenario)
        client = ecr(running, "instance1")
        running.lab.vpc_endpoints.clear()  # fail closed: nothing can come through it now
        assert denial(client.get_authorization_token)


def variant(tmp_path: Path, *edits: tuple[str, str]) -> RunningLab:
    text = SCENARIO
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    scenario = parse(text, "variant")
    config = LabConfig(tmp_path / "state", region=scenario.region, account=ACCOUNT)
    running = RunningLab(config)
    running.__enter__()
    deploy(running.lab, scenario)
    return running


def pull_message(running: RunningLab, instance: str) -> str | None:
    try:
        ecr(running, instance).batch_get_image(
            repositoryName="fa-085", imageIds=[{"imageTag": "latest"}]
        )
    except ClientError as error:
        return error.response["Error"]["Message"]
    return None


def test_scps_never_apply_to_the_management_account(tmp_path: Path) -> None:
    # Organizations, "SCP evaluation"/"Service control policies": SCPs do not affect users or
    # roles in the management account. Same organization, the lab's account as its manager.
    running = variant(
        tmp_path,
        ('management_account: "999988887777"', 'management_account: "123456789012"'),
        ('accounts: ["123456789012"]', "accounts: []"),
    )
    try:
        assert pull_message(running, "instance2") is None
    finally:
        running.__exit__(None, None, None)


def test_outside_business_hours_the_scp_denies_even_through_the_endpoint(tmp_path: Path) -> None:
    running = variant(
        tmp_path,
        ("clock: 2026-12-01T10:30:00Z", "clock: 2026-12-01T19:00:00Z"),
        (
            "instance2: {instance_id: i-0296e9a1b5f70b522, role: InstanceRole2}",
            "instance2: {instance_id: i-0296e9a1b5f70b522, role: InstanceRole2, vpc_endpoint: ecr}",
        ),
    )
    try:
        message = pull_message(running, "instance2")
        assert message is not None
        assert message.endswith("with an explicit deny in a service control policy")
        identity = instance_identity(running.lab, "instance2")
        decision = running.lab.authorizer.decide(
            call_for(running.lab, identity, "ecr:BatchGetImage", "fa-085")
        )
        assert [ref.sid for ref in decision.matched] == ["DenyPullAfterBusinessHours"]
    finally:
        running.__exit__(None, None, None)


def test_explain_lists_the_guardrail_layers_before_the_accounts_own_policies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lab.cli import main

    assert main(["explain", "--scenario", "fa-085-guardrails", "instance2", "pull"]) == 0
    text = capsys.readouterr().out.split("\n\n\n", 1)[0]  # ecr:BatchGetImage, the first step
    assert "with an explicit deny in a service control policy" in text
    layers = text.split("guardrails (in AWS's order):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split(":")[0].strip() for line in layers] == [
        "resource control policies",
        "service control policies",
    ]
    order = [
        text.index(label)
        for label in (
            "   resource control policy at level 0",
            "   service control policy at level 0",
            "=> service control policy at level 1",
            "   resource-based policy, statement 1",
            "   identity-based policy #1",
        )
    ]
    assert order == sorted(order)
    assert (
        "StringNotEquals aws:SourceVpce: policy ['vpce-0a1b2c3d4e5f60718'] vs request (absent)"
        in text
    )


def test_a_role_assumed_from_behind_the_endpoint_stays_on_its_path(lab: RunningLab) -> None:
    # Assuming another role does not leave the instance's network: the new session's ECR
    # requests still come through the endpoint, so its policy still applies.
    iam = signed(lab, "iam")
    role1 = lab.lab.instances["instance1"].role_arn
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": role1}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="hop", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(
        RoleName="hop", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
    )
    answer = credentials(lab, "instance1")
    sts = signed(
        lab, "sts", answer["accessKeyId"], answer["secretAccessKey"], answer["sessionToken"]
    )
    hop = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/hop", RoleSessionName="hop")
    given = hop["Credentials"]
    client = signed(
        lab, "ecr", given["AccessKeyId"], given["SecretAccessKey"], given["SessionToken"]
    )
    assert "because no VPC endpoint policy allows the ecr:DescribeRegistry action" in denial(
        client.describe_registry
    )


def test_the_endpoint_survives_in_the_stored_session() -> None:
    from lab.identity.credentials import Identity

    identity = Identity(
        "arn:aws:sts::1:assumed-role/r/i",
        "1",
        "AROA:i",
        network={
            "aws:SourceVpce": ENDPOINT,
            "aws:SourceVpc": "vpc-0f1e2d3c4b5a69788",
            "aws:VpcSourceIp": "10.0.1.11",
        },
    )
    assert Identity.from_json(identity.to_json()).network == identity.network
    plain = Identity("arn:aws:iam::1:root", "1", "1")
    assert "network" not in plain.to_json()  # sessions stored before stay byte-identical


def test_the_demo_matrix_shows_the_guardrail_where_the_repository_policy_allows() -> None:
    from lab.scenario.demo import run_demo
    from lab.scenario.locate import load

    report = run_demo(load("fa-085-guardrails"), client="protocol")
    assert report.ok, [c for c in report.checks if not c.ok]
    pull = report.cell("instance2", "pull")
    assert pull is not None and pull.actual == "denied"
    assert pull.decided_by == (
        "service control policy Workloads SCP 2 statement 1 "
        "(Sid DenyPullOutsideTheOrganizationsEndpoint)"
    )
    describe = report.cell("instance1", "ecr:DescribeRegistry")
    assert describe is not None and describe.actual == "denied"
    assert describe.decided_by == "implicit deny: no VPC endpoint policy allows the request"
    # The tutorial's own matrix (no guardrails) lets instance 2 pull: the SCP made the change.
    tutorial = {
        c.principal: c.expected for c in load("fa-085").expectations if c.operation == "pull"
    }
    assert tutorial["instance2"] == "allowed"


def test_the_endpoint_policy_changed_with_modify_vpc_endpoint_applies(tmp_path: Path) -> None:
    # `aws ec2 modify-vpc-endpoint --policy-document` / `--reset-policy` (EC2 API Reference).
    running = variant(tmp_path)
    try:
        ec2 = signed(running, "ec2")
        listed = ec2.describe_vpc_endpoints(VpcEndpointIds=[ENDPOINT])["VpcEndpoints"]
        assert [e["VpcEndpointId"] for e in listed] == [ENDPOINT]
        assert "AllowOnlyTheTutorialRepository" in listed[0]["PolicyDocument"]
        assert denial(ecr(running, "instance1").describe_registry)
        everything = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
        }
        ec2.modify_vpc_endpoint(VpcEndpointId=ENDPOINT, PolicyDocument=json.dumps(everything))
        assert ecr(running, "instance1").describe_registry()["registryId"] == ACCOUNT
        no_login = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "ecr:GetAuthorizationToken",
                    "Resource": "*",
                },
                {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            ],
        }
        ec2.modify_vpc_endpoint(VpcEndpointId=ENDPOINT, PolicyDocument=json.dumps(no_login))
        assert denial(ecr(running, "instance1").get_authorization_token).endswith(
            "with an explicit deny in a VPC endpoint policy"
        )
        ec2.modify_vpc_endpoint(VpcEndpointId=ENDPOINT, ResetPolicy=True)  # full access again
        assert ecr(running, "instance1").get_authorization_token()["authorizationData"]
    finally:
        running.__exit__(None, None, None)


def test_modify_vpc_endpoint_refuses_what_ec2_refuses(lab: RunningLab) -> None:
    ec2 = signed(lab, "ec2")
    for call, code in (
        (
            lambda: ec2.modify_vpc_endpoint(VpcEndpointId=ENDPOINT, PolicyDocument="{no"),
            "InvalidPolicyDocument",
        ),
        (
            lambda: ec2.modify_vpc_endpoint(
                VpcEndpointId="vpce-0123456789abcdef0", ResetPolicy=True
            ),
            "InvalidVpcEndpointId.NotFound",
        ),
        (
            lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=["vpce-0123456789abcdef0"]),
            "InvalidVpcEndpointId.NotFound",
        ),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == code
    # The instance roles may not touch the endpoint (no ec2: permission): nothing changes.
    answer = credentials(lab, "instance2")
    theirs = signed(
        lab, "ec2", answer["accessKeyId"], answer["secretAccessKey"], answer["sessionToken"]
    )
    with pytest.raises(ClientError) as refused:
        theirs.modify_vpc_endpoint(VpcEndpointId=ENDPOINT, ResetPolicy=True)
    error = refused.value.response["Error"]
    assert error["Code"] == "UnauthorizedOperation"
    assert error["Message"].startswith("You are not authorized to perform this operation. User: ")
    assert (
        f"ec2:ModifyVpcEndpoint on resource: arn:aws:ec2:ap-northeast-1:{ACCOUNT}:"
        in (error["Message"])
    )
    assert denial(ecr(lab, "instance1").describe_registry)  # the policy still stands


@pytest.mark.docker
def test_docker_pull_is_denied_by_the_scp_with_awss_words() -> None:
    from lab.scenario.demo import run_demo
    from lab.scenario.locate import load

    report = run_demo(load("fa-085-guardrails"), client="docker")
    assert report.client == "docker" and report.ok
    pull = report.cell("instance2", "pull")
    assert pull is not None
    assert pull.shown.startswith("Error response from daemon: pull access denied for ")
    assert pull.shown.endswith(
        f"ecr:BatchGetImage on resource: {REPOSITORY} with an explicit deny in a service control "
        "policy"
    )
