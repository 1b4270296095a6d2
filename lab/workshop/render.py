"""Exercises as text: the README `start` writes, and the report `check` prints."""

from __future__ import annotations

from lab.workshop.grade import Grade
from lab.workshop.model import Exercise


def readme(exercise: Exercise) -> str:
    """The goal, the matrix to reach, and the hints."""
    lines = [f"# Exercise {exercise.number}: {exercise.title}", "", exercise.goal, ""]
    lines += [f"Edit `policy.json`: {exercise.edits}.", "", "## Goal matrix", ""]
    lines += [f"- {cell.label}: **{cell.expected}**" for cell in exercise.cells]
    lines += ["", "## Hints", ""]
    lines += [f"{n}. {hint}" for n, hint in enumerate(exercise.hints, start=1)]
    return "\n".join(lines) + "\n"


def report(exercise: Exercise, result: Grade) -> str:
    """Every cell right or wrong; for each wrong one, the engine's explanation."""
    lines = [f"Exercise {exercise.number}: {exercise.title}"]
    if result.refusal:
        lines += [f"The service refuses this policy: {result.refusal}"]
    right = sum(c.correct for c in result.cells)
    if result.cells:
        lines.append(f"{right}/{len(result.cells)} cells as the goal says")
    for cell in result.cells:
        mark = "ok   " if cell.correct else "WRONG"
        note = f"  ({cell.cell.note})" if cell.cell.note else ""
        lines.append(
            f"  {mark} {cell.cell.label}: expected {cell.cell.expected}, got {cell.actual}{note}"
        )
    for cell in (c for c in result.cells if not c.correct):
        lines += ["", f"--- why {cell.cell.label} is {cell.actual}:", cell.explanation.rstrip()]
    if result.findings:
        lines += ["", "lint:"]
        lines += [
            f"  {f.finding_type} {f.issue_code} {f.location}: {f.details}" for f in result.findings
        ]
    if result.solved:
        lines += ["", "Solved."]
    elif exercise.hints:
        lines += ["", f"hint: {exercise.hints[0]}", "(more hints in README.md)"]
    return "\n".join(lines) + "\n"
