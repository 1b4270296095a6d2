"""Differential test with Organizations guardrails and VPC endpoint policies: `ecr-lab simulate
--batch` against @cloud-copilot/iam-simulate on 1,500 generated cases, about 60% of them with
SCPs and RCPs by level and an endpoint policy (tests/oracle/guardrail_cases.py). Every
disagreement must be a departure recorded with AWS's source in tests/oracle/known_bugs.py
(the RCP and SCP departures are pinned in tests/test_oracle_disagreements.py).
Needs node and `npm ci --prefix tests/oracle`: missing either fails, it never skips.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.oracle import known_bugs
from tests.oracle.guardrail_cases import generate_guardrails
from tests.oracle.processes import BatchRun, engine_command, oracle_command, run_batch
from tests.test_differential import _describe

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return generate_guardrails(1500, seed=20261130)


@pytest.fixture(scope="module")
def engine(cases: list[dict[str, Any]]) -> BatchRun:
    return run_batch(engine_command(), cases)


@pytest.fixture(scope="module")
def oracle(cases: list[dict[str, Any]]) -> BatchRun:
    return run_batch(oracle_command(), cases)


def test_the_cases_exercise_every_guardrail(cases: list[dict[str, Any]], engine: BatchRun) -> None:
    kinds = Counter(ref["policy"] for answer in engine.answers for ref in answer["matched"])
    assert min(kinds[k] for k in ("scp", "rcp", "endpoint")) >= 20, kinds
    messages = Counter(
        reason
        for answer in engine.answers
        for reason in (
            "explicit deny in a service control policy",
            "because no service control policy allows",
            "explicit deny in a resource control policy",
            "explicit deny in a VPC endpoint policy",
            "because no VPC endpoint policy allows",
        )
        if reason in answer.get("message", "")
    )
    assert min(messages.values()) >= 10 and len(messages) == 5, messages


def test_both_evaluate_every_case(engine: BatchRun, oracle: BatchRun) -> None:
    for run in (engine, oracle):
        assert [(i, a) for i, a in enumerate(run.answers) if a["decision"] == "error"] == []


def test_engine_agrees_with_oracle_on_guardrails(
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
