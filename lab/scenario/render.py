"""The demo's report as a rich table, JSON, or JUnit XML (one test case per check)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from lab.scenario.report import Check, Report

if TYPE_CHECKING:  # rich loads only for the table (~0.1 s): JSON, JUnit and HTML need none
    from rich.table import Table
    from rich.text import Text

_STYLE = {"allowed": "green", "denied": "red", "error": "yellow"}


def _cell(check: Check | None) -> Text:
    from rich.text import Text

    if check is None:
        return Text("-", style="dim")
    mark = "✓" if check.ok else "✗ expected " + check.expected
    text = Text(f"{check.actual} {mark}", style=f"bold {_STYLE[check.actual]}")
    if check.shown:
        text.append(f"\n{check.shown}", style="default")
    text.append(f"\n{check.decided_by}", style="dim italic")
    return text


def table(report: Report) -> Table:
    """Principals down, operations across; each cell the outcome, the message, and why."""
    from rich.table import Table

    verdict = "every cell as expected" if report.ok else "MISMATCH"
    result = Table(
        title=f"{report.scenario}: expected versus actual ({report.client} client)",
        caption=verdict,
        caption_style="bold green" if report.ok else "bold red",
        show_lines=True,
        expand=True,
    )
    result.add_column("principal", style="bold", no_wrap=True)
    operations = report.operations()
    for operation in operations:
        result.add_column(operation, ratio=1, overflow="fold")
    for principal in report.principals():
        result.add_row(principal, *(_cell(report.cell(principal, op)) for op in operations))
    return result


def to_json(report: Report) -> str:
    """The JSON contract (see report.py)."""
    return json.dumps(report.to_json(), indent=2) + "\n"


def to_junit(report: Report) -> str:
    """JUnit XML: a suite per scenario, a case per check, a failure per mismatch."""
    failures = sum(not check.ok for check in report.checks)
    suite = ET.Element(
        "testsuite",
        name=f"ecr-lab.{report.scenario}",
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
    )
    for check in report.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"ecr-lab.{report.scenario}.{check.principal}",
            name=f"{check.operation} is {check.expected}",
        )
        if not check.ok:
            failure = ET.SubElement(
                case, "failure", message=f"expected {check.expected}, got {check.actual}"
            )
            failure.text = check.shown or check.message
        out = ET.SubElement(case, "system-out")
        out.text = f"decided by: {check.decided_by}\n{check.message}".strip()
    suites = ET.Element("testsuites", name="ecr-lab demo", tests=suite.get("tests", "0"))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
