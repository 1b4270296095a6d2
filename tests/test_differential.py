"""Differential test: `ecr-lab simulate --batch` against @cloud-copilot/iam-simulate.

Both evaluate the same 2,500 generated cases, then 1,500 more of which about 60% carry SCPs and
RCPs by level and a VPC endpoint policy (tests/oracle/guardrail_cases.py); every disagreement
must be a recorded departure of the oracle from AWS (tests/oracle/known_bugs.py, pinned in
tests/test_oracle_disagreements.py).
Needs node and `npm ci --prefix tests/oracle`: missing either fails, it never skips.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.oracle import known_bugs
from tests.oracle.cases import generate
from tests.oracle.guardrail_cases import generate_guardrails
from tests.oracle.processes import BatchRun, engine_command, oracle_command, run_batch

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module", params=["plain", "guardrails"])
def cases(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    if request.param == "guardrails":
        return generate_guardrails(1500, seed=20261130)
    return generate(2500, seed=20261128)


@pytest.fixture(scope="module")
def engine(cases: list[dict[str, Any]]) -> BatchRun:
    return run_batch(engine_command(), cases)


@pytest.fixture(scope="module")
def oracle(cases: list[dict[str, Any]]) -> BatchRun:
    return run_batch(oracle_command(), cases)


def test_oracle_evaluates_every_case(oracle: BatchRun) -> None:
    assert [(i, a) for i, a in enumerate(oracle.answers) if a["decision"] == "error"] == []


def test_engine_evaluates_every_case(engine: BatchRun) -> None:
    assert [(i, a) for i, a in enumerate(engine.answers) if a["decision"] == "error"] == []


def test_cases_are_balanced_across_outcomes(oracle: BatchRun) -> None:
    counts = Counter(answer["decision"] for answer in oracle.answers)
    shares = {
        o: counts[o] / len(oracle.answers) for o in ("allowed", "explicit_deny", "implicit_deny")
    }
    assert min(shares.values()) >= 0.15, shares


def test_engine_agrees_with_oracle(
    cases: list[dict[str, Any]], engine: BatchRun, oracle: BatchRun
) -> None:
    unexplained = [
        _describe(i, case, mine, theirs)
        for i, (case, mine, theirs) in enumerate(
            zip(cases, engine.answers, oracle.answers, strict=True)
        )
        if mine["decision"] != theirs["decision"] and not known_bugs.explain(case, mine, theirs)
    ]
    assert not unexplained, f"{len(unexplained)} unexplained disagreements:\n" + "\n".join(
        unexplained[:10]
    )


def test_oracle_still_departs_from_aws() -> None:
    # A failure means the oracle was fixed: drop that departure from known_bugs.
    run = run_batch(oracle_command(), [recorded.case for recorded in known_bugs.RECORDED])
    answers = {r.name: a["decision"] for r, a in zip(known_bugs.RECORDED, run.answers, strict=True)}
    assert answers == {r.name: r.oracle for r in known_bugs.RECORDED}


def _describe(
    index: int, case: dict[str, Any], mine: dict[str, Any], theirs: dict[str, Any]
) -> str:
    return (
        f"case {index}: engine={mine['decision']} oracle={theirs['decision']} "
        f"({mine.get('message') or mine.get('error', '')})\n  {json.dumps(case)}"
    )
