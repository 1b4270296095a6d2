"""The tutorial end to end: deploy, log in, push, pull, and the matrix, against a real lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.scenario.demo import lab_config, run_demo
from lab.scenario.deploy import admin_client, deploy
from lab.scenario.locate import load
from lab.scenario.report import Report
from lab.server.run import RunningLab
from tests.server_support import cli, serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# The tutorial's transcript (awstut fa-085, "Check Action"), verbatim; the account and the
# registry host are masked there and substituted here.
TRANSCRIPT_PULL_DENIED = {
    "instance1": "Error response from daemon: pull access denied for [account-id].dkr.ecr."
    "ap-northeast-1.amazonaws.com/fa-085, repository does not exist or may require 'docker "
    "login': denied: User: arn:aws:sts::[account-id]:assumed-role/fa-085-EC2Stack-"
    "16BBODB5DWYO1-InstanceRole1-YILWRMUJ51EE/i-0bde1cc6fc498a208 is not authorized to "
    "perform: ecr:BatchGetImage on resource: arn:aws:ecr:ap-northeast-1:[account-id]:"
    "repository/fa-085 with an explicit deny in a resource-based policy",
    "instance3": "Error response from daemon: pull access denied for [account-id].dkr.ecr."
    "ap-northeast-1.amazonaws.com/fa-085, repository does not exist or may require 'docker "
    "login': denied: User: arn:aws:sts::[account-id]:assumed-role/fa-085-EC2Stack-"
    "16BBODB5DWYO1-InstanceRole3-12LD37CD8F85G/i-0d0cc36a5186db23b is not authorized to "
    "perform: ecr:BatchGetImage on resource: arn:aws:ecr:ap-northeast-1:[account-id]:"
    "repository/fa-085 with an explicit deny in a resource-based policy",
}


def as_in_lab(line: str, report: Report, account: str = "000000000000") -> str:
    host = "[account-id].dkr.ecr.ap-northeast-1.amazonaws.com"
    return line.replace(host, report.registry).replace("[account-id]", account)


def assert_tutorial_outcome(report: Report) -> None:
    assert report.ok, [c for c in report.checks if not c.ok]
    for principal, line in TRANSCRIPT_PULL_DENIED.items():
        pull = report.cell(principal, "pull")
        assert pull is not None and pull.shown == as_in_lab(line, report)
        assert pull.message == as_in_lab(line, report).split("denied: ", 1)[1]
    push = report.cell("instance2", "push")
    assert push is not None and "ecr:InitiateLayerUpload" in push.message
    assert push.shown == f"denied: {push.message}"
    decided = {(c.principal, c.operation): c.decided_by for c in report.checks}
    assert decided[("instance1", "pull")] == "resource-based policy statement 1"
    assert decided[("instance2", "push")] == "resource-based policy statement 2"
    assert decided[("instance3", "pull")] == "resource-based policy statement 3"
    assert decided[("instance2", "pull")] == (
        "identity-based policy AmazonEC2ContainerRegistryFullAccess statement 1"
    )


def test_demo_with_the_labs_registry_client_matches_the_tutorial() -> None:
    assert_tutorial_outcome(run_demo(load("fa-085"), client="protocol"))


@pytest.mark.docker
def test_demo_through_docker_matches_the_tutorial() -> None:
    report = run_demo(load("fa-085"), client="docker")
    assert report.client == "docker"
    assert_tutorial_outcome(report)


def test_cli_json_and_exit_status(tmp_path: Path) -> None:
    done = cli("demo", "--client", "protocol", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True and len(document["checks"]) == 6
    wrong = tmp_path / "wrong.yaml"
    text = load_text().replace(
        "instance3: {login: allowed, push: denied", "instance3: {login: allowed, push: allowed"
    )
    wrong.write_text(text)
    done = cli(
        "demo",
        "--client",
        "protocol",
        "--scenario",
        str(wrong),
        "--format",
        "junit",
        "--output",
        str(tmp_path / "out.xml"),
    )
    assert done.returncode == 1
    assert 'failures="1"' in (tmp_path / "out.xml").read_text()


def load_text() -> str:
    return (ROOT / "scenarios" / "fa-085.yaml").read_text()


def test_deploy_is_idempotent_across_restarts(tmp_path: Path) -> None:
    scenario = load("fa-085")
    config = lab_config(scenario, tmp_path / "state")
    with RunningLab(config) as first:
        deploy(first.lab, scenario)
        deploy(first.lab, scenario)
    with RunningLab(config) as second:
        arns = deploy(second.lab, scenario)
        assert second.lab.instances["instance2"].role_arn == arns["InstanceRole2"]
        # read from the lab's state: the tutorial's policy denies the admin too
        assert second.lab.ecr.repository_names("000000000000", "ap-northeast-1") == ["fa-085"]
        stored = second.lab.ecr.repository_policy("000000000000", "ap-northeast-1", "fa-085")
        assert stored is not None and len(json.loads(stored)["Statement"]) == 3
        iam = admin_client(second.lab, "iam")
        attached = iam.list_attached_role_policies(RoleName=scenario.roles["InstanceRole1"].name)
        assert len(attached["AttachedPolicies"]) == 2


def test_explain_shows_statements_conditions_and_rule() -> None:
    done = cli("explain", "--scenario", "fa-085", "instance1", "pull")
    assert done.returncode == 0, done.stderr
    assert "ecr:BatchGetImage" in done.stdout and "ecr:GetDownloadUrlForLayer" in done.stdout
    assert "DENIED (explicit deny)" in done.stdout
    assert "ArnEquals aws:PrincipalArn" in done.stdout
    assert "explicit deny in a resource-based policy overrides" in done.stdout
    allowed = cli("explain", "instance2", "ecr:BatchGetImage")
    assert "ALLOWED" in allowed.stdout


def test_serve_scenario_then_env_and_shell(tmp_path: Path) -> None:
    with serve(tmp_path / "state", "--scenario", "fa-085") as (server, endpoint):
        assert server.stdout is not None
        server.stdout.readline()  # the "scenario deployed" line
        exports = cli("env", "instance1", ECR_LAB_ENDPOINT=endpoint)
        assert exports.returncode == 0, exports.stderr
        assert "i-0bde1cc6fc498a208" not in exports.stdout  # credentials, not names
        shell = subprocess.run(
            [sys.executable, "-m", "lab.cli", "shell", "instance1"],
            input='echo "$PS1"; echo "$AWS_ACCESS_KEY_ID" | cut -c1-4\n',
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=os.environ | {"ECR_LAB_ENDPOINT": endpoint, "SHELL": "/bin/sh"},
            timeout=60,
        )
        assert "[instance1 i-0bde1cc6fc498a208]$" in shell.stdout
        assert "ASIA" in shell.stdout
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    from lab.scenario.html import to_html

    page = tmp_path / "demo.html"
    page.write_text(to_html(run_demo(load("fa-085"), client="protocol")))
    shot = tmp_path / "demo.png"
    subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1400,900",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000


def squeezed(text: str) -> str:
    """The text without whitespace, so a message wrapped over lines reads whole."""
    return "".join(text.split())


def readable(output: str) -> str:
    """The table's cells, each read down its column (a cell wraps over several lines), then
    whatever follows the table; squeezed."""
    cells, row, rest = [], [], []
    for line in output.splitlines():
        if line.startswith("│"):
            row.append(line.strip("│").split("│"))
        elif line[:1] in "├└" and row:
            cells += ["".join(column) for column in zip(*row, strict=True)]
            row = []
        elif line[:1] not in "┏┃┡┗":
            rest.append(line)
    return squeezed(" ".join(cells + rest))


@pytest.mark.parametrize("columns", [80, 160])
def test_the_table_fits_the_terminal_and_keeps_every_word(columns: int) -> None:
    done = cli("demo", "--client", "protocol", COLUMNS=str(columns))
    assert done.returncode == 0, done.stderr
    widest = max(len(line) for line in done.stdout.splitlines())
    assert columns - 2 <= widest <= columns  # fills the terminal, never wider
    report = json.loads(cli("demo", "--client", "protocol", "--format", "json").stdout)
    text = readable(done.stdout)
    assert "everycellasexpected" in text
    for check in [*report["checks"], *report["logins"]]:
        assert check["principal"] in text and check["operation"] in done.stdout
        assert squeezed(check["decided_by"]) in text
        # AWS's message names a fresh instance each run: compare what follows the session
        assert squeezed(check["message"].partition(" is not authorized")[2]) in text
    if columns == 80:  # the compact layout: each cell's words under the outcomes
        assert "instance1 pull: denied ✓" in done.stdout
        assert "  decided by: resource-based policy statement 1" in done.stdout
