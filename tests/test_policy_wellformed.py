"""The well-formed reader makes exactly the statements the full parser makes, and gives up on
every document the full parser rejects (the full parser then words the error)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.policy import document
from lab.policy.document import PolicyError
from lab.policy.wellformed import read_statements
from tests.oracle.cases import generate, generate_repeated
from tests.oracle.guardrail_cases import generate_guardrails

KINDS = ("identity", "repository", "trust", "boundary", "session", "resource", "registry")


def _full(raw: list[Any], kind: str) -> tuple[Any, ...] | PolicyError:
    """The full parser's statements (or its error) for a Statement list."""
    rules = document._RULES[kind]
    try:
        statements = tuple(document._statement(i, s, rules) for i, s in enumerate(raw))
        if rules.check_sids:
            document._check_sids(statements)
    except PolicyError as error:
        return error
    return statements


def _agree(raw: list[Any], kind: str) -> bool:
    """Checks the contract on one list; True when the well-formed reader took it."""
    fast = read_statements(raw, document._RULES[kind])
    full = _full(raw, kind)
    if isinstance(full, PolicyError):
        assert fast is None, (kind, raw, full)
        return False
    if fast is not None:
        assert fast == full, (kind, raw)
        assert [repr(s) for s in fast] == [repr(s) for s in full]
    return fast is not None


def _documents(case: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found = [(doc, "identity") for doc in case.get("identity_policies") or []]
    for key, kind in (
        ("resource_policy", "repository"),
        ("permissions_boundary", "boundary"),
        ("session_policy", "session"),
        ("endpoint_policy", "resource"),
    ):
        if isinstance(case.get(key), dict):
            found.append((case[key], kind))
    for key, kind in (("scps", "identity"), ("rcps", "resource")):
        found.extend((doc, kind) for level in case.get(key) or [] for doc in level)
    return found


def test_generated_policies_read_the_same_either_way() -> None:
    cases = generate(600, 21) + generate_repeated(300, 21) + generate_guardrails(300, 21)
    taken = total = 0
    for case in cases:
        for doc, kind in _documents(case):
            statements = doc["Statement"]
            raw = statements if isinstance(statements, list) else [statements]
            total += 1
            taken += _agree(raw, kind)
    assert total > 1000
    assert taken > total // 2  # the well-formed reader is the common path


_TEXT = st.sampled_from(
    ["", "*", "a", "ecr:*", "ecr:Get*", "ecr", "e*r:Get", "ecr:a:b", "Statement1", "x y",
     "arn:aws:ecr:us-east-1:111122223333:repository/app", "arn:aws:s3:::b", "arn:aws",
     "111122223333", "arn:aws:iam::111122223333:role/r", "arn:aws:iam::111122223333:r*",
     "ecr.amazonaws.com", "AWS", "Service", "Bogus", "aws:PrincipalTag/team"]
)  # fmt: skip
_SCALAR = st.one_of(_TEXT, st.none(), st.booleans(), st.integers(-3, 3), st.just(1.5))
_VALUE = st.one_of(
    _SCALAR,
    st.lists(st.one_of(_TEXT, _SCALAR), max_size=3),
    st.dictionaries(_TEXT, st.one_of(_TEXT, st.lists(_TEXT, max_size=2)), max_size=2),
)
_CONDITION = st.one_of(
    _VALUE,
    st.dictionaries(
        st.sampled_from(["StringEquals", "StringLike", "Null", "Bogus", "ForAnyValue:StringLike"]),
        st.one_of(_VALUE, st.dictionaries(_TEXT, _VALUE, max_size=2)),
        max_size=2,
    ),
)
_ELEMENTS = {
    "Sid": _VALUE,
    "Effect": st.one_of(st.sampled_from(["Allow", "Deny", "allow"]), _SCALAR),
    "Principal": _VALUE,
    "NotPrincipal": _VALUE,
    "Action": _VALUE,
    "NotAction": _VALUE,
    "Resource": _VALUE,
    "NotResource": _VALUE,
    "Condition": _CONDITION,
    "Bogus": _SCALAR,
}
_STATEMENT = st.one_of(
    st.fixed_dictionaries({}, optional=_ELEMENTS),
    st.fixed_dictionaries(
        {"Effect": st.just("Allow"), "Action": st.just("ecr:*")},
        optional={k: v for k, v in _ELEMENTS.items() if k not in ("Effect", "Action")},
    ),
    _SCALAR,
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_STATEMENT, min_size=1, max_size=3), st.sampled_from(KINDS))
def test_any_statement_list_reads_the_same_or_goes_to_the_full_parser(
    raw: list[Any], kind: str
) -> None:
    _agree(raw, kind)


@pytest.mark.parametrize("element", ["Action", "NotAction", "Resource", "Principal", "Condition"])
@pytest.mark.parametrize("value", [[{"a": 1}], [["ecr:*"]], {"AWS": [{"a": 1}]}, [None], [True]])
def test_unhashable_or_odd_entries_go_to_the_full_parser(element: str, value: Any) -> None:
    # An entry that is not a string must never reach a set lookup (a TypeError there would
    # end the whole batch's case with an unforeseen error, not IAM's).
    statement = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", element: value}
    for kind in KINDS:
        _agree([statement], kind)
        with pytest.raises(PolicyError):
            document.parse_policy({"Version": "2012-10-17", "Statement": [statement]}, kind)
