"""The batch's fast paths give the answers the plain ones would: template JSON, documents seen
before, the repository policy size check skipped for short texts, lone surrogates."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc

import pytest

from lab.policy import batch, conditions
from lab.policy.document import parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.model import ConditionClause, Decision, Statement, StatementRef
from tests.oracle.cases import generate, generate_repeated

ROLE = "arn:aws:sts::111122223333:assumed-role/instance-role-1/i-0abc1234"
REPOSITORY = "arn:aws:ecr:us-east-1:111122223333:repository/fa-085"
# ECR's PolicyText quota in bytes (botocore's ECR model: max 10,240).
REPOSITORY_QUOTA = 10240


def _plain(decision: Decision) -> str:
    return json.dumps(batch.answer(decision), ensure_ascii=False, separators=(",", ":"))


def _line(case: dict) -> str:
    return json.dumps(case, ensure_ascii=False, separators=(",", ":"))


def _answers(*cases: dict) -> list[dict]:
    return [json.loads(a) for a in batch.answer_lines([_line(c) for c in cases]).splitlines()]


@pytest.mark.parametrize("cases", [generate(300, 5), generate_repeated(300, 5)])
def test_template_answers_equal_json_dumps_on_generated_cases(cases: list[dict]) -> None:
    for case in cases:
        decision = batch.decide_case(case)
        assert batch.answer_json(decision) == _plain(decision)


@pytest.mark.parametrize(
    "text", ['quote " and \\ backslash', "tab\tnew\nline\x01", "ünïcødé ✓ 😀", "\u2028", ""]
)
def test_template_answers_equal_json_dumps_on_awkward_strings(text: str) -> None:
    refs = (StatementRef("resource", 0, 2, text), StatementRef("identity", 3, 0, None))
    decision = Decision("explicit_deny", f"User: {text}", refs, "why", ())
    assert batch.answer_json(decision) == _plain(decision)


def test_a_lone_surrogate_answers_its_line_and_the_batch_goes_on() -> None:
    lines = [
        '{"principal":"arn:aws:iam::111122223333:user/\\ud800","action":"ecr:ListImages",'
        '"resource":"*","identity_policies":[]}',
        '{"principal":"arn:aws:iam::111122223333:user/a","action":"ecr:ListImages",'
        '"resource":"*","identity_policies":[]}',
    ]
    first, second = [json.loads(a) for a in batch.answer_lines(lines).decode().splitlines()]
    assert first["message"].startswith("User: arn:aws:iam::111122223333:user/\ud800 is not")
    assert second["decision"] == "implicit_deny"


def _repository_policy(sid: str) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize("astral", [700, 845, 846, 900])
def test_repository_policy_quota_counts_the_compact_escaped_text(astral: int) -> None:
    # Each astral character is 1 in the case's text and 12 bytes re-encoded: the short-text
    # shortcut must never pass a policy the full measure rejects.
    policy = _repository_policy("😀" * astral)
    size = len(json.dumps(policy, separators=(",", ":")).encode())
    case = {
        "principal": ROLE,
        "action": "ecr:BatchGetImage",
        "resource": REPOSITORY,
        "identity_policies": [],
        "resource_policy": policy,
    }
    batch._PARSED.clear()
    (answer,) = _answers(case)
    assert (answer["decision"] == "error") == (size > REPOSITORY_QUOTA), (size, answer)


def test_documents_seen_before_are_read_again_when_their_policies_are_forgotten() -> None:
    cases = generate_repeated(200, 11)
    expected = [batch.answer_json(batch.decide_case(case)) for case in cases]
    batch.answer_lines([_line(c) for c in cases])  # every document is now seen
    batch._PARSED.clear()
    got = batch.answer_lines([_line(c) for c in cases]).decode().splitlines()
    assert got == expected


def test_many_documents_sharing_a_long_start_are_told_apart() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "ecr:PutImage"}
    shared = {"Version": "2012-10-17", "Statement": [deny]}
    cases = [
        {
            "principal": ROLE,
            "action": action,
            "resource": REPOSITORY,
            "identity_policies": [],
            "resource_policy": {
                **shared,
                "Statement": [deny, {**deny, "Effect": "Allow", "Action": action}],
            },
        }
        for action in [f"ecr:Action{i}" for i in range(20)] * 2
    ]
    assert [a["decision"] for a in _answers(*cases)] == ["allowed"] * len(cases)
    # The same documents, asked about another action, answer for themselves.
    other = [{**case, "action": "ecr:PutImage"} for case in cases]
    assert [a["decision"] for a in _answers(*other)] == ["explicit_deny"] * len(cases)


@pytest.mark.parametrize("cases", [generate(300, 6), generate_repeated(300, 6)])
def test_untraced_evaluation_decides_as_the_traced_one(cases: list[dict]) -> None:
    for case in cases:
        request, policies = batch.read_case(case)
        traced, untraced = evaluate(request, policies), evaluate(request, policies, trace=False)
        assert (untraced.outcome, untraced.message, untraced.matched, untraced.rule) == (
            traced.outcome,
            traced.message,
            traced.matched,
            traced.rule,
        )
        assert untraced.records == ()


@pytest.mark.parametrize(
    "value", [12345678901234567890123, -9223372036854775809, 18446744073709551616, 1e300, -0.0]
)
def test_numbers_in_a_line_read_as_json_reads_them(value: float) -> None:
    # orjson reads an integer past 64 bits as a float: such a line must be read by json.
    clause = {"NumericEquals": {"aws:MultiFactorAuthAge": value}}
    statement = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": clause}
    case = {
        "principal": "arn:aws:iam::111122223333:user/alice",
        "action": "ecr:ListImages",
        "resource": "*",
        "identity_policies": [{"Version": "2012-10-17", "Statement": [statement]}],
        "context": {"aws:MultiFactorAuthAge": json.dumps(value)},
    }
    (answer,) = _answers(case)
    assert answer == json.loads(batch.answer_json(batch.decide_case(case)))
    assert answer["decision"] == "allowed"


def test_parsed_statements_are_the_model_objects_their_constructors_make() -> None:
    clause = {"StringLike": {"aws:UserAgent": ["docker/*", "aws-cli/*"]}}
    raw = {"Sid": "A1", "Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": clause}
    policy = parse_policy({"Version": "2012-10-17", "Statement": [raw]}, "identity")
    (statement,) = policy.statements
    condition = (ConditionClause("StringLike", "aws:UserAgent", ("docker/*", "aws-cli/*")),)
    built = Statement(0, "Allow", "A1", action=("ecr:*",), resource=("*",), condition=condition)
    assert statement == built
    assert repr(statement) == repr(built)
    assert hash(statement.condition) == hash(condition)
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.effect = "Deny"  # type: ignore[misc]


def test_the_known_operator_set_agrees_with_the_operator_reader() -> None:
    written = [
        f"{prefix}{base}{suffix}"
        for base in [*conditions._BASES, "Null", "Bogus", "stringEquals", ""]
        for prefix in ("", "ForAnyValue:", "ForAllValues:", "ForAnyValue:ForAllValues:", "X:")
        for suffix in ("", "IfExists", "ifexists", "IfExistsIfExists")
    ]
    assert {w for w in written if conditions._operator(w) is not None} == {
        w for w in written if w in conditions.KNOWN_OPERATORS
    }
    assert len(conditions.KNOWN_OPERATORS) == len(set(written) & conditions.KNOWN_OPERATORS)


def test_a_cached_policy_key_holds_no_more_memory_than_its_text() -> None:
    # orjson's bytes keep the 4 KiB buffer they were written into; 4096 cached keys would hold
    # 16 MiB in each worker.
    doc = _repository_policy("Short")
    tracemalloc.start()
    try:
        key = batch._orjson_key(doc)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert key == json.dumps(doc, separators=(",", ":")).encode()
    assert held < 2 * len(key) + 256
