"""The commands around a running lab, as real processes: restart memory, health, the startup
hint, status, reset, the shell's own docker login, explain's principals, Ctrl-C and
deploy-cfn failures. Each failure is one `ecr-lab:` line and a non-zero status."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lab.cfn.cli import TUTORIAL_TEMPLATE
from tests.server_support import ROOT, TRACEBACK, cli, one_line_failure, send, serve

pytestmark = pytest.mark.slow

INSTANCES = ["instance1", "instance2", "instance3"]
SERVE = [sys.executable, "-m", "lab.cli", "serve"]


def health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/_lab/health", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_is_not_ready_before_the_scenario_is_deployed(tmp_path: Path) -> None:
    # a known free port: the test asks before the server prints its address
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*SERVE, "--port", str(port), "--scenario", "fa-085", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    seen: list[tuple[int, dict]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                seen.append(health(url))
            except OSError:
                time.sleep(0.01)
                continue
            if seen[-1][0] == 200:
                break
        status, body = seen[-1]
        assert status == 200
        # the first "ready" already has the scenario's instances: never a half-made lab
        assert body["status"] == "ready" and body["instances"] == INSTANCES
        assert body["scenario"] == "fa-085" and body["region"] == "ap-northeast-1"
        assert all(s == 503 and b["status"] == "starting" for s, b in seen[:-1])
    finally:
        process.terminate()
        process.wait(timeout=30)


def _exports(hint: str, cwd: Path) -> dict[str, str]:
    """Run the hint as a user pastes it into bash; the variables it exported."""
    script = f"{hint}\nenv"
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, cwd=cwd, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def test_a_restart_without_flags_remembers_the_scenario_and_the_hint_works(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with serve(state, "--scenario", "fa-085") as (process, url):
        assert process.stdout is not None
        process.stdout.readline()
        process.terminate()
        assert process.wait(timeout=30) == 0
    with serve(state) as (process, url):  # no --scenario, no --region
        assert process.stdout is not None
        second = process.stdout.readline()
        status, body = health(url)
        assert status == 200 and body["region"] == "ap-northeast-1"
        assert body["scenario"] == "fa-085" and body["instances"] == INSTANCES
        hint = re.search(r"\(try: (eval .*)\)$", second.strip())
        assert hint, second
        assert f"--endpoint {url}" in hint.group(1)  # not the default port: it must say so
        exported = _exports(hint.group(1), tmp_path)  # pasted anywhere, not only in the repo
        assert exported["AWS_ACCESS_KEY_ID"].startswith("ASIA")
        assert exported["AWS_DEFAULT_REGION"] == "ap-northeast-1"
        shown = cli("status", "--endpoint", url)
        assert shown.returncode == 0, shown.stderr
        assert re.search(r"^scenario\s+fa-085$", shown.stdout, re.M)
        assert re.search(r"^region\s+ap-northeast-1$", shown.stdout, re.M)
        assert re.search(rf"^state dir\s+{re.escape(str(state.resolve()))}$", shown.stdout, re.M)


def test_reset_refuses_a_running_lab_then_wipes_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serve(state, "--scenario", "fa-085") as (process, url):
        assert process.stdout is not None
        process.stdout.readline()
        line = one_line_failure(cli("reset", "--state-dir", str(state)), 1)
        assert f"{state} is in use by another ecr-lab (pid {process.pid})" in line
        assert (state / "lab.json").is_file()
        process.terminate()
        assert process.wait(timeout=30) == 0
    done = cli("reset", "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in state.iterdir()) == ["lab.lock"]
    with serve(state) as (_, url):
        _, body = health(url)
        assert body["scenario"] is None and body["instances"] == []
        assert body["region"] == "us-east-1"


def _docker_auth(config_dir: Path) -> tuple[str, str]:
    auths = json.loads((config_dir / "config.json").read_text())["auths"]
    ((registry, entry),) = auths.items()
    return registry, entry["auth"]


def test_the_shell_is_the_instance_with_its_own_docker_login(tmp_path: Path) -> None:
    users_docker = tmp_path / "users-docker"
    users_docker.mkdir()
    before = '{"auths": {"somewhere": {"auth": "dXNlcjpwYXNz"}}}'
    (users_docker / "config.json").write_text(before)
    with serve(tmp_path / "state", "--scenario", "fa-085") as (process, url):
        assert process.stdout is not None
        process.stdout.readline()
        shell = subprocess.run(
            [sys.executable, "-m", "lab.cli", "shell", "instance2"],
            input='echo "PS1=$PS1"; echo "DOCKER_CONFIG=$DOCKER_CONFIG"; '
            'cat "$DOCKER_CONFIG/config.json"; echo\n',
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=os.environ
            | {"ECR_LAB_ENDPOINT": url, "SHELL": "/bin/sh", "DOCKER_CONFIG": str(users_docker)},
            timeout=60,
        )
        assert shell.returncode == 0, shell.stderr
        assert TRACEBACK not in shell.stderr
        assert "PS1=[instance2 i-0296e9a1b5f70b522]$ " in shell.stdout
        docker_config = re.search(r"^DOCKER_CONFIG=(.*)$", shell.stdout, re.M)
        assert docker_config and docker_config.group(1) != str(users_docker)
        config = json.loads(shell.stdout.split("DOCKER_CONFIG=", 1)[1].split("\n", 1)[1])
        ((registry, entry),) = config["auths"].items()
        assert registry == url.removeprefix("http://")
        # the login docker would use in that shell is instance 2's: a push is refused by name
        refused = send(
            url,
            "POST",
            "/v2/fa-085/blobs/uploads/",
            {"Authorization": f"Basic {entry['auth']}", "Host": registry},
        )
        assert refused.status == 403
        message = json.loads(refused.body)["errors"][0]["message"]
        assert "InstanceRole2" in message and "i-0296e9a1b5f70b522" in message
        assert "ecr:InitiateLayerUpload" in message
        user, _, _ = base64.b64decode(entry["auth"]).decode().partition(":")
        assert user == "AWS"
        # the user's own docker login is left as it was, and the shell's is gone after exit
        assert (users_docker / "config.json").read_text() == before
        assert not Path(docker_config.group(1)).exists()
        process.terminate()
        process.wait(timeout=30)


def test_explain_takes_the_same_principals_as_env() -> None:
    admin = cli("explain", "admin", "pull")
    assert admin.returncode == 0, admin.stderr
    assert "arn:aws:iam::000000000000:root" in admin.stdout
    assert "DENIED (explicit deny)" in admin.stdout
    line = one_line_failure(cli("explain", "nobody", "pull"), 2)
    assert line == (
        "ecr-lab: Unknown principal 'nobody'; known: admin, instance1, instance2, instance3, "
        "an account id or a role ARN"
    )


def test_ctrl_c_during_the_demo_at_any_step_ends_in_one_line() -> None:
    # interrupt as each step starts (before the first one the interpreter itself may still be
    # importing `site`: a Ctrl-C there is Python's own, before any of the lab's code runs)
    for point in ("starting a lab", "deploying scenario", "docker login", "docker push"):
        process = subprocess.Popen(
            [sys.executable, "-m", "lab.cli", "demo", "--client", "protocol"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if point in line:
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        err = "".join(seen) + err
        assert process.returncode in (130, 1), (point, process.returncode, err)
        assert TRACEBACK not in err and "Exception ignored" not in err, (point, err)
        if process.returncode == 130:
            assert err.rstrip().endswith("ecr-lab: interrupted"), (point, err)


def test_deploy_cfn_with_a_policy_ecr_refuses(tmp_path: Path) -> None:
    for template in TUTORIAL_TEMPLATE.parent.glob("*.yaml"):
        shutil.copy(template, tmp_path)
    ecr = tmp_path / "fa-085-ecr.yaml"
    ecr.write_text(ecr.read_text().replace("Version: 2012-10-17", "Version: 2099-01-01"))
    done = cli("deploy-cfn", str(tmp_path / TUTORIAL_TEMPLATE.name), "--client", "protocol")
    line = one_line_failure(done, 2)
    assert re.fullmatch(
        r"ecr-lab: fa-085-ECRStack-\w+: Repository \(AWS::ECR::Repository\) CREATE_FAILED: "
        r"Invalid parameter at 'PolicyText' failed to satisfy constraint: "
        r"'Invalid repository policy provided'",
        line,
    ), line
