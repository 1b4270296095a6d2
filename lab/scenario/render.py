"""The demo's report as a rich table, JSON, or JUnit XML (one test case per check)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from lab.scenario.report import Check, Report

if TYPE_CHECKING:  # rich loads only for the table (~0.1 s): JSON, JUnit and HTML need none
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

_STYLE = {"allowed": "green", "denied": "red", "error": "yellow"}
# Narrower than this, the table holds only the outcomes and each cell's words follow it.
WIDE = 120


def _outcome(check: Check) -> Text:
    from rich.text import Text

    mark = "✓" if check.ok else "✗ expected " + check.expected
    return Text(f"{check.actual} {mark}", style=f"bold {_STYLE[check.actual]}")


def _cell(check: Check | None, compact: bool) -> Text:
    from rich.text import Text

    if check is None:
        return Text("-", style="dim")
    text = _outcome(check)
    if compact:
        return text
    if check.shown:
        text.append(f"\n{check.shown}", style="default")
    text.append(f"\n{check.decided_by}", style="dim italic")
    return text


def table(report: Report, compact: bool = False) -> Table:
    """Principals down, operations across; each cell the outcome, the message, and why
    (`compact`: the outcome alone)."""
    from rich.table import Table

    verdict = "every cell as expected" if report.ok else "MISMATCH"
    result = Table(
        title=f"{report.scenario}: expected versus actual ({report.client} client)",
        caption=verdict,
        caption_style="bold green" if report.ok else "bold red",
        show_lines=not compact,
        expand=True,
    )
    result.add_column("principal", style="bold", no_wrap=True)
    operations = report.operations()
    for operation in operations:
        result.add_column(operation, ratio=1, overflow="fold")
    for principal in report.principals():
        cells = (_cell(report.cell(principal, op), compact) for op in operations)
        result.add_row(principal, *cells)
    return result


def details(report: Report) -> list[RenderableType]:
    """Each cell's words, one paragraph per check: why, and what the client printed."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    paragraphs: list[RenderableType] = []
    for check in report.checks:
        title = Text(f"{check.principal} {check.operation}: ", style="bold")
        words = Text(f"decided by: {check.decided_by}", style="dim italic", overflow="fold")
        if check.shown:
            words.append(f"\n{check.shown}", style="default")
        paragraphs.append(
            Group(title.append_text(_outcome(check)), Padding(words, (0, 0, 0, 2), expand=False))
        )
    return paragraphs


def print_table(report: Report, console: Console) -> None:
    """The table at the console's width: whole cells when wide, else outcomes then details."""
    if console.width >= WIDE:
        console.print(table(report))
        return
    console.print(table(report, compact=True))
    for paragraph in details(report):
        console.print(paragraph)


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
