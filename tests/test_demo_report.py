"""The demo's report formats, from a report built by hand: JSON contract, JUnit, HTML, table."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from rich.console import Console

from lab.policy.model import Decision, StatementRef
from lab.scenario.explain import decided_by, describe_ref
from lab.scenario.html import to_html
from lab.scenario.image import build_context, build_image, digest_of
from lab.scenario.render import table, to_json, to_junit
from lab.scenario.report import Check, Report

DENY = (
    "User: arn:aws:sts::000000000000:assumed-role/R1/i-0bde1cc6fc498a208 is not authorized to "
    "perform: ecr:BatchGetImage on resource: arn:aws:ecr:ap-northeast-1:000000000000:"
    "repository/fa-085 with an explicit deny in a resource-based policy"
)


def report(pull_actual: str = "denied") -> Report:
    checks = (
        Check("instance1", "login", "fa-085", "allowed", "allowed", decided_by="identity"),
        Check("instance1", "push", "fa-085", "allowed", "allowed", decided_by="identity"),
        Check(
            "instance1",
            "pull",
            "fa-085",
            "denied",
            pull_actual,  # type: ignore[arg-type]
            message=DENY if pull_actual == "denied" else "",
            shown=f"Error response from daemon: ... denied: {DENY}",
            decided_by="resource-based policy statement 1",
        ),
        Check("instance1", "ecr:ListImages", "fa-085", "denied", "denied", DENY, DENY, "x"),
    )
    return Report("fa-085", "protocol", "127.0.0.1:4577", checks)


def test_json_contract_exact() -> None:
    document = json.loads(to_json(report()))
    assert document["scenario"] == "fa-085" and document["ok"] is True
    assert [list(c) for c in document["checks"]] == [
        ["principal", "operation", "expected", "actual", "message", "decided_by"]
    ] * 2
    assert [c["operation"] for c in document["checks"]] == ["push", "pull"]
    assert document["checks"][1]["message"] == DENY  # AWS's message, not docker's wording
    assert document["checks"][0]["message"] == ""
    assert [c["operation"] for c in document["logins"]] == ["login"]
    assert [c["operation"] for c in document["actions"]] == ["ecr:ListImages"]


def test_mismatch_fails_the_report_and_the_junit_case() -> None:
    bad = report(pull_actual="allowed")
    assert not bad.ok and json.loads(to_json(bad))["ok"] is False
    suite = ET.fromstring(to_junit(bad)).find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("4", "1")
    failure = suite.find("testcase[@name='pull is denied']/failure")
    assert failure is not None and failure.get("message") == "expected denied, got allowed"
    assert ET.fromstring(to_junit(report())).find(".//failure") is None


def test_html_is_self_contained_and_carries_each_cell() -> None:
    page = to_html(report(pull_actual="allowed"))
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count('class="cell ') == 4
    assert "mismatch" in page and "expected denied" in page
    assert "resource-based policy statement 1" in page
    assert "Error response from daemon" in page


def test_table_lists_principals_and_operations() -> None:
    console = Console(width=200, record=True)
    console.print(table(report()))
    text = console.export_text()
    assert "instance1" in text and "every cell as expected" in text
    assert "resource-based policy statement 1" in text


def test_decided_by_names_policy_statement_and_sid() -> None:
    ref = StatementRef("resource", 0, 2, "DenyOthers")
    assert describe_ref(ref) == "resource-based policy statement 3 (Sid DenyOthers)"
    managed = StatementRef("identity", 1, 0, None, "AmazonEC2ContainerRegistryFullAccess")
    assert describe_ref(managed) == (
        "identity-based policy AmazonEC2ContainerRegistryFullAccess statement 1"
    )
    implicit = Decision("implicit_deny", "m", (), "implicit deny: no identity-based policy")
    assert decided_by(implicit) == "implicit deny: no identity-based policy"


def test_image_is_deterministic_and_content_addressed() -> None:
    image = build_image("fa-085")
    assert image == build_image("fa-085") and image.digest != build_image("x").digest
    manifest = json.loads(image.manifest)
    assert manifest["config"]["digest"] == digest_of(image.config.data)
    assert [layer["digest"] for layer in manifest["layers"]] == [image.layers[0].digest]
    assert build_context("fa-085").startswith(b"Dockerfile")
