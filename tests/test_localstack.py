"""LocalStack as the IAM home: a real LocalStack core holds IAM, the lab enforces ECR's policies.

LocalStack's free core has no ECR API and enforces nothing (FACTS: "The emulators"): roles
written through the lab must land in LocalStack, and the tutorial's decisions are the lab's.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lab.scenario.clients import Failed, ProtocolDriver, Refused, Session, get_login_password
from lab.scenario.demo import lab_config, run_demo
from lab.scenario.deploy import admin_client, deploy
from lab.scenario.locate import load
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.localstack_fixture import (  # noqa: F401 (fixtures "localstack", "private_localstack")
    LocalStackCore,
    localstack_fixture,
    private_localstack_fixture,
)
from tests.test_demo import assert_tutorial_outcome
from tests.tutorial import EC2_TRUST

pytestmark = pytest.mark.localstack

ROOT = Path(__file__).resolve().parents[1]


def localstack_client(url: str, service: str) -> Any:
    """boto3 straight to LocalStack (account 000000000000), bypassing the lab."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="000000000000",
        aws_secret_access_key="test",
    )


def error_of(call: Any) -> dict[str, Any]:
    """The AWS error a boto3 call answers with (its HTTP status under `Status`)."""
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"] | {"Status": response["ResponseMetadata"]["HTTPStatusCode"]}


def test_a_role_created_through_the_lab_is_in_localstack(localstack: str, tmp_path: Path) -> None:
    name = f"lab-role-{uuid.uuid4().hex[:12]}"  # unique: the shared core outlives the test
    config = LabConfig(state_dir=tmp_path / "state", upstream=localstack)
    with RunningLab(config) as running:
        created = admin_client(running.lab, "iam").create_role(
            RoleName=name, Path="/lab/", AssumeRolePolicyDocument=EC2_TRUST
        )["Role"]
    iam = localstack_client(localstack, "iam")
    try:
        seen = iam.get_role(RoleName=name)["Role"]
        assert seen["Arn"] == created["Arn"] == f"arn:aws:iam::000000000000:role/lab/{name}"
        assert seen["RoleId"] == created["RoleId"]
    finally:
        iam.delete_role(RoleName=name)


def test_the_tutorial_is_enforced_with_localstack_holding_iam(localstack: str) -> None:
    report = run_demo(load("fa-085"), client="protocol", upstream=localstack)
    assert_tutorial_outcome(report)
    # The scenario's roles live in LocalStack, with the managed policies the engine evaluated.
    iam = localstack_client(localstack, "iam")
    for role in load("fa-085").roles.values():
        attached = iam.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]
        assert {p["PolicyName"] for p in attached} == {
            "AmazonSSMManagedInstanceCore",
            "AmazonEC2ContainerRegistryFullAccess",
        }


def test_localstack_has_no_ecr_of_its_own(localstack: str) -> None:
    # Why the lab serves ECR itself (FACTS): the free core answers 501 InternalFailure.
    error = error_of(localstack_client(localstack, "ecr").describe_repositories)
    assert (error["Code"], error["Status"]) == ("InternalFailure", 501)


def test_ecr_lab_demo_command_passes_with_localstack_upstream(localstack: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli", "demo", "--upstream", localstack, "--client", "protocol"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every cell as expected" in done.stdout


@pytest.mark.docker
def test_ecr_lab_demo_through_docker_with_localstack_upstream(localstack: str) -> None:
    assert_tutorial_outcome(run_demo(load("fa-085"), client="docker", upstream=localstack))


def test_localstack_down_then_restarted(private_localstack: LocalStackCore, tmp_path: Path) -> None:
    url = private_localstack.url
    scenario = load("fa-085")
    with RunningLab(lab_config(scenario, tmp_path / "state", url)) as running:
        lab = running.lab
        deploy(lab, scenario)
        driver = ProtocolDriver(scenario.name)

        def pull(instance: str) -> None:
            session = Session.from_answer(lab.session_for(instance))
            driver.pull(session, get_login_password(session), "fa-085", "latest")

        pusher = Session.from_answer(lab.session_for("instance1"))
        driver.push(pusher, get_login_password(pusher), "fa-085", "latest")
        puller = Session.from_answer(lab.session_for("instance2"))
        puller_ecr = boto3.client(
            "ecr",
            endpoint_url=running.url,
            region_name=lab.config.region,
            aws_access_key_id=puller.access_key_id,
            aws_secret_access_key=puller.secret_access_key,
            aws_session_token=puller.session_token,
        )
        pull("instance2")
        password = get_login_password(puller)

        private_localstack.stop()
        # IAM calls the lab forwards: AWS's ServiceUnavailable naming the upstream.
        error = error_of(admin_client(lab, "iam").list_roles)
        assert (error["Code"], error["Status"]) == ("ServiceUnavailable", 503)
        assert f"The IAM upstream at {url} is unreachable after 3 attempts" in error["Message"]
        # What the lab has read stays usable; what it must read now is ServiceUnavailable,
        # never an allow and never a misleading "no identity-based policy allows".
        pull("instance2")
        lab.directory.invalidate()  # as after any IAM write
        error = error_of(puller_ecr.describe_repositories)
        assert (error["Code"], error["Status"]) == ("ServiceUnavailable", 503)
        with pytest.raises((Refused, Failed)):  # fail closed on the registry too
            driver.pull(puller, password, "fa-085", "latest")

        private_localstack.start()
        # The lab recovers without a restart, its own state intact: repository, policy, image.
        assert admin_client(lab, "iam").list_roles()["Roles"] == []  # the free core keeps nothing
        # The lab's own state: fa-085's policy denies even the root, whose listing hides it.
        assert lab.ecr.repository_names(lab.config.account, lab.config.region) == ["fa-085"]
        policy = lab.ecr.repository_policy(lab.config.account, lab.config.region, "fa-085")
        assert policy is not None and "ArnNotEquals" in policy
        deploy(lab, scenario)  # the roles again, as after any LocalStack restart
        pull("instance2")  # the image pushed before the outage
        with pytest.raises(Refused):
            pull("instance1")
