"""The pytest plugin: registered by the installed package, lazy, and its labs' sessions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lab.botocore_session import shared_loader
from lab.errors import AwsError
from lab.pytest_plugin import EcrLab
from tests.tutorial import EC2_TRUST

LAMBDA_TRUST = EC2_TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com")
ECS_TRUST = EC2_TRUST.replace("ec2.amazonaws.com", "ecs-tasks.amazonaws.com")
# Trusts the account's own principals only: no AWS service may assume it.
NO_SERVICE_TRUST = EC2_TRUST.replace(
    '{"Service": ["ec2.amazonaws.com"]}', '{"AWS": "arn:aws:iam::000000000000:root"}'
)
INSTANCE_ID = r"i-[0-9a-f]{17}"


def run_pytest(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess on `folder`, as a user's project runs it (no AWS settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_the_installed_package_registers_the_plugin() -> None:
    plugins = {point.name: point.value for point in entry_points(group="pytest11")}
    assert plugins["ecr_lab"] == "lab.pytest_plugin"


def test_importing_the_plugin_loads_no_aws_library() -> None:
    check = (
        "import sys, lab.pytest_plugin; "
        "print(sorted({'boto3', 'botocore', 'moto', 'uvicorn'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


USER_TESTS = """
import sys

import pytest

seen = []


def test_a_run_without_the_fixtures_loads_no_aws_library():
    assert not {"boto3", "moto", "uvicorn"} & set(sys.modules)


def test_a_fresh_lab(ecr_lab):
    ecr_lab.client("ecr").create_repository(repositoryName="app")
    me = ecr_lab.client("sts").get_caller_identity()["Arn"]
    assert me == f"arn:aws:iam::{ecr_lab.account}:root"


def test_the_shared_lab_first(ecr_lab_shared):
    seen.append(ecr_lab_shared.endpoint_url)
    ecr_lab_shared.client("ecr").create_repository(repositoryName="left-behind")


def test_the_shared_lab_again_is_empty(ecr_lab_shared):
    assert ecr_lab_shared.endpoint_url == seen[0]
    assert ecr_lab_shared.client("ecr").describe_repositories()["repositories"] == []


@pytest.mark.ecr_lab(scenario="fa-085")
def test_a_scenario_marker(ecr_lab):
    assert ecr_lab.region == "ap-northeast-1"
    assert "InstanceRole2" in ecr_lab.client("sts", "instance2").get_caller_identity()["Arn"]


@pytest.mark.ecr_lab(colour="blue")
def test_an_unknown_marker_option(ecr_lab):
    pass
"""

INI_TESTS = """
seen = []


def test_first(ecr_lab):
    seen.append(ecr_lab.endpoint_url)
    ecr_lab.client("ecr").create_repository(repositoryName="left-behind")


def test_second(ecr_lab):
    assert ecr_lab.endpoint_url == seen[0]
    assert ecr_lab.client("ecr").describe_repositories()["repositories"] == []
"""


@pytest.mark.slow
def test_a_users_project_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_users.py").write_text(textwrap.dedent(USER_TESTS))

    result = run_pytest(tmp_path, "--strict-markers")

    assert "5 passed, 1 error" in result.stdout, result.stdout + result.stderr
    assert "unknown option(s) ['colour']" in result.stdout


@pytest.mark.slow
def test_the_ini_option_makes_ecr_lab_the_shared_lab(tmp_path: Path) -> None:
    (tmp_path / "test_ini.py").write_text(INI_TESTS)

    shared = run_pytest(tmp_path, "-o", "ecr_lab_shared=true")
    fresh = run_pytest(tmp_path)

    assert "2 passed" in shared.stdout, shared.stdout + shared.stderr
    assert "1 failed, 1 passed" in fresh.stdout, fresh.stdout + fresh.stderr


def test_the_admin_session_is_the_account_root(ecr_lab_shared: EcrLab) -> None:
    session = ecr_lab_shared.session()

    me = session.client("sts").get_caller_identity()

    assert me["Arn"] == f"arn:aws:iam::{ecr_lab_shared.account}:root"
    assert session.region_name == ecr_lab_shared.region == "us-east-1"
    assert ecr_lab_shared.endpoint_url == f"http://{ecr_lab_shared.registry}"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", ecr_lab_shared.registry)


def test_sessions_ignore_the_users_aws_settings(
    ecr_lab_shared: EcrLab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ecr_lab_shared.lab  # noqa: B018 (start the lab before the environment turns hostile)
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:9\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAUSER\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    session = ecr_lab_shared.session()

    assert session.get_credentials().access_key == ecr_lab_shared.lab.config.admin_access_key
    assert session.region_name == ecr_lab_shared.region
    me = session.client("sts").get_caller_identity()["Arn"]
    assert me == f"arn:aws:iam::{ecr_lab_shared.account}:root"


def test_a_role_arn_gives_an_instance_profile_session(ecr_lab_shared: EcrLab) -> None:
    iam = ecr_lab_shared.client("iam")
    role = iam.create_role(RoleName="worker", Path="/team/", AssumeRolePolicyDocument=EC2_TRUST)

    me = ecr_lab_shared.client("sts", role["Role"]["Arn"]).get_caller_identity()

    account = ecr_lab_shared.account
    assert re.fullmatch(rf"arn:aws:sts::{account}:assumed-role/worker/{INSTANCE_ID}", me["Arn"])
    assert me["UserId"].startswith(role["Role"]["RoleId"] + ":i-")


def test_a_role_that_no_service_may_assume_gets_no_session(ecr_lab_shared: EcrLab) -> None:
    iam = ecr_lab_shared.client("iam")
    trust = NO_SERVICE_TRUST
    arn = iam.create_role(RoleName="people", AssumeRolePolicyDocument=trust)["Role"]["Arn"]

    with pytest.raises(AwsError) as refused:
        ecr_lab_shared.session(arn)

    assert refused.value.code == "AccessDenied"
    assert str(refused.value.message) == (
        f"User: ec2.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: {arn}"
    )


@pytest.mark.parametrize(
    ("trust", "session_name"), [(LAMBDA_TRUST, "fn"), (ECS_TRUST, "[0-9a-f]{32}")]
)
def test_a_role_arn_gives_the_session_of_the_service_its_trust_policy_names(
    ecr_lab_shared: EcrLab, trust: str, session_name: str
) -> None:
    iam = ecr_lab_shared.client("iam")
    arn = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=trust)["Role"]["Arn"]

    me = ecr_lab_shared.client("sts", arn).get_caller_identity()["Arn"]

    account = ecr_lab_shared.account
    assert re.fullmatch(rf"arn:aws:sts::{account}:assumed-role/fn/{session_name}", me)


def test_an_unknown_principal_name_is_refused(ecr_lab_shared: EcrLab) -> None:
    with pytest.raises(AwsError, match="Unknown principal 'instance1'"):
        ecr_lab_shared.session("instance1")


def test_a_session_client_is_refused_with_aws_answer(ecr_lab_shared: EcrLab) -> None:
    iam = ecr_lab_shared.client("iam")
    arn = iam.create_role(RoleName="bare", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    session = ecr_lab_shared.session(arn)
    me = session.client("sts").get_caller_identity()["Arn"]

    with pytest.raises(ClientError) as refused:
        session.client("ecr").create_repository(repositoryName="mine")

    resource = f"arn:aws:ecr:us-east-1:{ecr_lab_shared.account}:repository/mine"
    assert refused.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": f"User: {me} is not authorized to perform: ecr:CreateRepository on resource: "
        f"{resource} because no identity-based policy allows the ecr:CreateRepository action",
    }


@pytest.mark.ecr_lab(region="eu-west-1", account="123456789012")
def test_the_marker_sets_region_and_account(ecr_lab_shared: EcrLab) -> None:
    me = ecr_lab_shared.client("sts").get_caller_identity()

    assert (ecr_lab_shared.region, ecr_lab_shared.account) == ("eu-west-1", "123456789012")
    assert me["Arn"] == "arn:aws:iam::123456789012:root"
    repository = ecr_lab_shared.client("ecr").create_repository(repositoryName="app")
    assert repository["repository"]["repositoryArn"].startswith("arn:aws:ecr:eu-west-1:1234")


def test_deploy_starts_the_lab_where_the_scenario_lives(ecr_lab_shared: EcrLab) -> None:
    arns = ecr_lab_shared.deploy("fa-085")

    assert ecr_lab_shared.region == "ap-northeast-1"
    me = ecr_lab_shared.client("sts", "instance1").get_caller_identity()["Arn"]
    role_name = arns["InstanceRole1"].rsplit("/", 1)[1]
    session_arn = f"arn:aws:sts::{ecr_lab_shared.account}:assumed-role/{role_name}"
    assert me == f"{session_arn}/i-0bde1cc6fc498a208"


@pytest.mark.ecr_lab(region="us-west-2")
def test_deploy_refuses_a_scenario_of_another_region(ecr_lab_shared: EcrLab) -> None:
    with pytest.raises(ValueError, match=r"needs .*ap-northeast-1"):
        ecr_lab_shared.deploy("fa-085")


def test_sessions_share_one_model_loader_without_growing_it(ecr_lab_shared: EcrLab) -> None:
    ecr_lab_shared.session()
    before = list(shared_loader().search_paths)

    for _ in range(3):
        ecr_lab_shared.session().client("ecr")

    assert shared_loader().search_paths == before
