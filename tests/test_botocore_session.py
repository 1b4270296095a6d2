"""The lab's botocore sessions read none of the user's AWS configuration.

A missing AWS_PROFILE must not stop the lab (botocore raises ProfileNotFound), and an endpoint,
a model directory, credentials or a region in AWS_* variables or ~/.aws must not reach it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.botocore_session import create_client, isolated_session, service_model, shared_client
from lab.upstream.embedded import EmbeddedMoto

# TEST-NET-1 (RFC 5737): nothing answers there, so any connection attempt would hang.
UNREACHABLE = "192.0.2.1"


def hostile_environment(folder: Path) -> dict[str, str]:
    """AWS_* settings and ~/.aws files that would break or redirect a default session."""
    config = folder / "config"
    config.write_text(
        "[default]\n"
        "region = mars-east-1\n"
        f"endpoint_url = http://{UNREACHABLE}\n"
        "credential_process = /bin/false\n"
        f"ca_bundle = {folder / 'no-such-bundle.pem'}\n"
    )
    credentials = folder / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = x\n")
    models = folder / "models" / "ecr" / "2015-09-21"
    models.mkdir(parents=True)
    (models / "service-2.json").write_text("not a model")  # would shadow botocore's own
    return {
        "AWS_PROFILE": "missing",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_ENDPOINT_URL": f"http://{UNREACHABLE}",
        "AWS_ENDPOINT_URL_ECR": f"http://{UNREACHABLE}",
        "AWS_DATA_PATH": str(folder / "models"),
        "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "mars-east-1",
    }


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = hostile_environment(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_an_isolated_session_reads_no_profile_region_or_credentials(hostile: dict) -> None:
    session = isolated_session()

    assert session.get_config_variable("region") is None
    assert session.get_credentials() is None
    assert session.get_scoped_config() == {}


def test_clients_use_only_what_they_are_given(hostile: dict) -> None:
    ecr = create_client(
        "ecr",
        region="ap-northeast-1",
        endpoint_url="http://127.0.0.1:4577",
        access_key_id="test",
        secret_access_key="test",
    )

    assert ecr.meta.endpoint_url == "http://127.0.0.1:4577"
    assert ecr.meta.region_name == "ap-northeast-1"
    assert ecr._request_signer._credentials.access_key == "test"


def test_models_come_from_botocore_itself(hostile: dict) -> None:
    assert service_model("ecr").operation_model("GetAuthorizationToken").name
    assert "GetAuthorizationToken" in service_model("ecr").operation_names


def test_shared_clients_are_reused() -> None:
    args = ("ecr", "us-east-1", "http://127.0.0.1:4577", "test", "test")

    assert shared_client(*args) is shared_client(*args)
    assert shared_client(*args) is not shared_client("iam", *args[1:])


def test_the_embedded_upstream_works_in_a_hostile_environment(
    hostile: dict, tmp_path: Path
) -> None:
    upstream = EmbeddedMoto(tmp_path / "iam", "us-east-1")
    try:
        iam = upstream.client("iam")
        iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")

        assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["r"]
        assert iam.meta.endpoint_url == "https://iam.amazonaws.com"  # not AWS_ENDPOINT_URL
    finally:
        upstream.close()


# Runs the whole tutorial in a process whose environment is hostile from the start, and records
# every socket connection it makes (PEP 578 audit events) to prove nothing went to UNREACHABLE.
DEMO_UNDER_AUDIT = textwrap.dedent(
    """
    import json, sys
    connected = []
    def audit(event, args):
        if event == "socket.connect" and isinstance(args[1], tuple):
            connected.append(str(args[1][0]))
    sys.addaudithook(audit)
    from lab.cli import main
    status = main(["demo", "--client", "protocol", "--format", "json", "--output", sys.argv[1]])
    print(json.dumps({"status": status, "connected": sorted(set(connected))}))
    """
)


@pytest.mark.slow
def test_the_tutorial_runs_in_a_hostile_environment_and_never_connects_there(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(hostile_environment(tmp_path))
    report = tmp_path / "report.json"

    done = subprocess.run(
        [sys.executable, "-c", DEMO_UNDER_AUDIT, str(report)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 0, done.stderr[-3000:]
    assert json.loads(report.read_text())["ok"] is True
    assert UNREACHABLE not in outcome["connected"]
    assert set(outcome["connected"]) <= {"127.0.0.1"}
