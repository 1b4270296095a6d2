"""The built-in scenario `pull-through-cache`: `ecr-lab demo` with a pull through cache granted
by the registry policy and a CREATE_ON_PUSH template whose repository policy then governs.

Pages: ECR User Guide "IAM permissions required to sync an upstream registry"
(pull-through-cache-iam.html) and "Repository creation templates".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.scenario.demo import run_demo
from lab.scenario.locate import load
from tests.server_support import cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _by_cell(report) -> dict[tuple[str, str], object]:
    return {(check.principal, check.operation): check for check in report.checks}


def _assert_matrix(report) -> None:
    checks = _by_cell(report)
    assert all(check.ok for check in report.checks), [c for c in report.checks if not c.ok]
    imported = checks["cacher", "pull"]
    assert imported.decided_by == "registry policy statement 1 (Sid CacheRoleImportsFromPublicEcr)"
    refused = checks["outsider", "pull"]
    assert "ecr:BatchImportUpstreamImage" in refused.message
    assert refused.decided_by == "implicit deny: no identity-based policy allows the request"
    governed = checks["stranger", "pull"]
    assert "with an explicit deny in a resource-based policy" in governed.message
    assert governed.decided_by == (
        "resource-based policy statement 1 (Sid NoPullForNoCacheRole) "
        "(from creation template 'team')"
    )
    assert checks["pusher", "push"].actual == "allowed"


def test_the_demo_with_the_labs_registry_client() -> None:
    _assert_matrix(run_demo(load("pull-through-cache"), client="protocol"))


@pytest.mark.docker
def test_the_demo_through_docker() -> None:
    report = run_demo(load("pull-through-cache"), client="docker")
    assert report.client == "docker"
    _assert_matrix(report)


def test_the_cli_demo_exits_zero_with_its_json() -> None:
    args = ("--scenario", "pull-through-cache", "--client", "protocol", "--format", "json")
    done = cli("demo", *args)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True and len(document["checks"]) == 5  # logins aside
    reasons = {
        c["principal"]: c["decided_by"] for c in document["checks"] if c["operation"] == "pull"
    }
    assert reasons["cacher"].startswith("registry policy statement 1")
