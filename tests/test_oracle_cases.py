"""The differential case generator: deterministic, and covering what the oracle must check."""

from __future__ import annotations

import json
import re

from tests.oracle.cases import GET_AUTHORIZATION_TOKEN, HOME, OTHER, generate

CASES = generate(1000, seed=20261128)
TEXT = [json.dumps(case) for case in CASES]


def _share(predicate) -> float:
    return sum(1 for case in CASES if predicate(case)) / len(CASES)


def test_same_seed_gives_same_cases() -> None:
    assert json.dumps(generate(300, seed=7)) == json.dumps(generate(300, seed=7))
    assert generate(50, seed=1) != generate(50, seed=2)


def test_every_condition_operator_family_and_modifier_appears() -> None:
    operators = {
        op for text in TEXT for op in re.findall(r'"((?:For\w+:)?[A-Z]\w+)": \{"aws:', text)
    }
    families = ("String", "Numeric", "Date", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress")
    for family in (*families, "Arn", "Null", "IfExists", "ForAllValues:", "ForAnyValue:"):
        assert any(family in op for op in operators), family


def test_policy_elements_and_principals_are_covered() -> None:
    everything = "\n".join(TEXT)
    for element in ('"NotAction"', '"NotResource"', '"NotPrincipal"', "${aws:PrincipalTag/team}"):
        assert element in everything, element
    assert _share(lambda c: ":assumed-role/" in c["principal"]) > 0.3
    assert _share(lambda c: ":user/" in c["principal"]) > 0.1
    assert _share(lambda c: c["principal"].endswith(":root")) > 0.02
    assert _share(lambda c: c["action"] == GET_AUTHORIZATION_TOKEN and c["resource"] == "*") > 0.02


def test_cross_account_boundaries_sessions_and_tutorial_shape_are_covered() -> None:
    def cross(case: dict) -> bool:
        return (
            case["resource"] != "*"
            and case["resource"].split(":")[4] != case["principal"].split(":")[4]
        )

    assert _share(cross) > 0.15
    assert {HOME, OTHER} <= {c["principal"].split(":")[4] for c in CASES}
    assert _share(lambda c: "permissions_boundary" in c) > 0.05
    assert _share(lambda c: "session_policy" in c) > 0.05
    assert _share(lambda c: c["resource"].endswith("repository/fa-085")) > 0.1
