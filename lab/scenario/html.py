"""The demo's report as one self-contained HTML page: the matrix as a picture.

Green is allowed, red denied, amber an error; a cell that differs from the expectation gets
a thick dashed border and says what was expected. Each cell carries the client's message
and the statement that decided it.
"""

from __future__ import annotations

from html import escape

from lab.scenario.report import Check, Report

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7f9; }
h1 { font-size: 22px; margin: 0 0 4px; } p.meta { color: #5b6475; margin: 0 0 16px; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; color: #fff;
  font-weight: 600; } .verdict.ok { background: #1f8a4c; } .verdict.bad { background: #c0392b; }
table { border-collapse: separate; border-spacing: 8px; width: 100%; table-layout: fixed; }
th { text-align: left; font-size: 15px; color: #333b4d; padding: 4px 8px; }
th.principal { width: 110px; }
td.cell { vertical-align: top; border-radius: 8px; padding: 10px 12px; font-size: 12px;
  border: 3px solid transparent; }
td.allowed { background: #d7f3e1; border-color: #3aa569; }
td.denied { background: #fbe0dd; border-color: #d9534f; }
td.error { background: #fff1cc; border-color: #e0a800; }
td.mismatch { border-style: dashed; border-width: 5px; border-color: #111; }
td.empty { background: #eceef2; }
.outcome { font-size: 16px; font-weight: 700; text-transform: uppercase; letter-spacing: .5px; }
.allowed .outcome { color: #17693a; } .denied .outcome { color: #a52a22; }
.error .outcome { color: #8a6500; }
.expect { font-weight: 700; color: #111; background: #fff; padding: 1px 6px; border-radius: 3px; }
.message { font-family: ui-monospace, monospace; margin: 6px 0; word-break: break-word; }
.why { color: #444; font-style: italic; }
"""


def _cell(check: Check | None) -> str:
    if check is None:
        return '<td class="cell empty"></td>'
    classes = f"cell {check.actual}" + ("" if check.ok else " mismatch")
    mark = "&#10003; as expected" if check.ok else f"expected {escape(check.expected)}"
    parts = [
        f'<div class="outcome">{escape(check.actual)} <span class="expect">{mark}</span></div>'
    ]
    if check.shown:
        parts.append(f'<div class="message">{escape(check.shown)}</div>')
    parts.append(f'<div class="why">decided by: {escape(check.decided_by)}</div>')
    return f'<td class="{classes}">{"".join(parts)}</td>'


def to_html(report: Report) -> str:
    """A page with no external resources: styles inline, nothing fetched."""
    operations = report.operations()
    head = "".join(f"<th>{escape(op)}</th>" for op in operations)
    rows = "".join(
        f'<tr><th class="principal">{escape(principal)}</th>'
        + "".join(_cell(report.cell(principal, op)) for op in operations)
        + "</tr>"
        for principal in report.principals()
    )
    mismatches = sum(not check.ok for check in report.checks)
    verdict = (
        '<span class="verdict ok">every cell as expected</span>'
        if report.ok
        else f'<span class="verdict bad">{mismatches} cell(s) differ from the expectation</span>'
    )
    title = escape(f"ecr-lab demo: {report.scenario}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head>
<body><h1>{title}</h1>
<p class="meta">registry {escape(report.registry)} &middot; {escape(report.client)} client
&middot; {verdict}</p>
<table><tr><th class="principal">principal</th>{head}</tr>{rows}</table>
</body></html>
"""
