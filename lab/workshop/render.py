"""Exercises as text: the README `start` writes, the report `check` prints, and hints."""

from __future__ import annotations

import json

from lab.workshop.grade import Grade
from lab.workshop.model import Exercise, Hint

# Findings that still matter once every cell is right (a WARNING is advice the goal weighed).
_BLOCKING = ("ERROR", "SECURITY_WARNING")


def readme(exercise: Exercise) -> str:
    """The goal, who is who (every ARN a policy may name), the matrix to reach, and the hints."""
    lines = [f"# Exercise {exercise.number}: {exercise.title}", "", exercise.goal, ""]
    lines += [f"Edit `policy.json`: {exercise.edits}.", "", "## Roles", ""]
    for role in exercise.roles.values():
        tags = ", ".join(f"{k}={v}" for k, v in role.tags.items())
        lines.append(
            f"- {role.key}: role `{role.arn}`, its EC2 session `{role.session_arn}`"
            + (f", tags {tags}" if tags else "")
        )
    lines += ["", "## Repositories", ""]
    for repository in exercise.repositories.values():
        tags = ", ".join(f"{k}={v}" for k, v in repository.tags.items())
        lines.append(
            f"- {repository.name}: `{repository.arn}`" + (f", tags {tags}" if tags else "")
        )
    if exercise.registries:
        lines += ["", "## Registries", ""]
    for setup in exercise.registries.values():
        policy = json.dumps(setup.policy) if setup.policy is not None else "none"
        lines.append(
            f"- {setup.account}: registry policy scope {setup.scope}, registry policy `{policy}`"
        )
    lines += ["", "## Goal matrix", ""]
    lines += [f"- {cell.label}: **{cell.expected}**" for cell in exercise.cells]
    lines += ["", "## Hints", ""]
    lines += [f"{n}. {hint.text}" for n, hint in enumerate(exercise.hints, start=1)]
    return "\n".join(lines) + "\n"


def hint_for(exercise: Exercise, policy_text: str) -> tuple[int, Hint] | None:
    """The hint that answers the mistake the policy shows, else the first; numbered from 1."""
    numbered = list(enumerate(exercise.hints, start=1))
    answering = [pair for pair in numbered if pair[1].answers(policy_text)]
    return (answering or numbered or [None])[0]


def report(exercise: Exercise, result: Grade, policy_text: str) -> str:
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
    findings = [f for f in result.findings if not result.solved or f.finding_type in _BLOCKING]
    if findings:
        lines += ["", "lint:"]
        lines += [f"  {f.finding_type} {f.issue_code} {f.location}: {f.details}" for f in findings]
    if result.solved:
        lines += ["", "Solved."]
    elif (found := hint_for(exercise, policy_text)) is not None:
        number, hint = found
        lines += ["", f"hint {number}: {hint.text}", "(`ecr-lab exercise hint` shows the next one)"]
    return "\n".join(lines) + "\n"
