"""Properties of policy validation on random documents (IAM's grammar:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.policy.document import PolicyError, parse_policy

KINDS = ("identity", "repository", "trust", "boundary", "session", "resource")
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(
        [
            "*",
            "",
            "ecr:*",
            "ecr:Get*",
            "ecr",
            "a:b:c",
            "e*:x",
            "arn:aws:ecr:*:*:repository/*",
            "arn:x",
            "Allow",
            "Deny",
            "111122223333",
            "arn:aws:iam::111122223333:role/r",
            "arn:aws:iam::111122223333:role/r*",
            "ec2.amazonaws.com",
            "S1",
            "S 1",
        ]
    ),
)
_values = st.one_of(_scalar, st.lists(_scalar, max_size=3))
_operators = st.sampled_from(["StringEquals", "ForAnyValue:StringLike", "Null", "BadOp"])
_condition = st.one_of(
    _values, st.dictionaries(_operators, st.dictionaries(st.sampled_from(["k", ""]), _values))
)
_principal = st.one_of(
    _values, st.dictionaries(st.sampled_from(["AWS", "Service", "Bad"]), _values, max_size=2)
)
_ELEMENTS = {"Condition": _condition, "Principal": _principal, "NotPrincipal": _principal}
_element_names = st.sampled_from(
    [
        *("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction"),
        *("Resource", "NotResource", "Condition", "Extra"),
    ]
)
_statement = st.lists(_element_names, max_size=6, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: _ELEMENTS.get(n, _values) for n in names})
)
_document = st.fixed_dictionaries(
    {},
    optional={
        "Version": st.sampled_from(["2012-10-17", "2008-10-17", "2012"]),
        "Id": _scalar,
        "Statement": st.one_of(_statement, st.lists(_statement, max_size=3)),
    },
)


def _outcome(doc: Any, kind: str) -> Any:
    try:
        return parse_policy(doc, kind)
    except PolicyError as error:
        return (str(error), error.iam_message, error.limit_exceeded)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_document, st.sampled_from(KINDS))
def test_text_and_decoded_object_validate_alike(doc: dict[str, Any], kind: str) -> None:
    assert _outcome(json.dumps(doc), kind) == _outcome(doc, kind)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_document, st.sampled_from(KINDS))
def test_a_valid_document_keeps_every_element_it_was_given(doc: dict, kind: str) -> None:
    try:
        policy = parse_policy(doc, kind)
    except PolicyError:
        return
    raw = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    for statement, given_statement in zip(policy.statements, raw, strict=True):
        assert statement.effect == given_statement["Effect"]
        for element, value in (
            ("Action", statement.action),
            ("NotAction", statement.not_action),
            ("Resource", statement.resource),
            ("NotResource", statement.not_resource),
        ):
            written = given_statement.get(element)
            expected = (
                None
                if element not in given_statement
                else ((written,) if isinstance(written, str) else tuple(written))
            )
            assert value == expected


@pytest.mark.parametrize("element", ["Action", "NotAction", "Resource", "NotResource"])
def test_a_null_element_is_written_and_invalid_not_absent(element: str) -> None:
    statement = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", element: None}
    with pytest.raises(PolicyError) as caught:
        parse_policy({"Version": "2012-10-17", "Statement": [statement]}, "identity")
    assert "must be a string or a non-empty list of strings" in str(caught.value)
