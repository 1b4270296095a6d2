"""The explanation is the evaluation's own record: traces are built from it on first use."""

from __future__ import annotations

from lab.policy.conditions import check_conditions, evaluate_conditions
from lab.policy.context import derive
from lab.policy.document import parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.model import ConditionClause, Decision, PolicySet, Request

SESSION = "arn:aws:sts::111122223333:assumed-role/app/i-0abc"
REPO = "arn:aws:ecr:us-east-1:111122223333:repository/fa-085"


def _decision() -> Decision:
    identity = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
                {
                    "Sid": "OnlyFromVpce",
                    "Effect": "Deny",
                    "Action": "ecr:*",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}},
                },
            ],
        },
        "identity",
    )
    context = derive(SESSION, {"aws:SourceVpce": "vpce-2"})
    return evaluate(Request(SESSION, "ecr:BatchGetImage", REPO, context), PolicySet((identity,)))


def test_trace_is_built_once_from_the_evaluations_records() -> None:
    decision = _decision()
    assert decision.outcome == "explicit_deny"
    assert decision.trace is decision.trace  # built on first use, then kept
    assert decision.trace == tuple(record.trace() for record in decision.records)
    allow, deny = decision.trace
    assert (allow.applies, allow.conditions) == (True, ())
    assert deny.applies and deny.ref.sid == "OnlyFromVpce"
    assert [(c.key, c.request_values, c.result) for c in deny.conditions] == [
        ("aws:SourceVpce", "vpce-2", True)
    ]


def test_a_decision_made_elsewhere_has_an_empty_trace() -> None:
    assert Decision("implicit_deny", "m", (), "rule").trace == ()


def test_condition_traces_come_from_the_same_check() -> None:
    clauses = (
        ConditionClause("StringEquals", "aws:SourceVpce", ("vpce-1",)),
        ConditionClause("Null", "aws:TokenIssueTime", ("true",)),
    )
    context = {"aws:sourcevpce": "vpce-1"}
    holds, seen = check_conditions(clauses, context)
    assert (holds, seen) == (True, (("vpce-1", True), (None, True)))
    traced_holds, traces = evaluate_conditions(clauses, context)
    assert traced_holds == holds
    assert [(t.request_values, t.result) for t in traces] == list(seen)
