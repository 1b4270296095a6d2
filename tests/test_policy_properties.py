"""Property tests for matching, variables and conditions (hypothesis)."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.policy.conditions import evaluate_conditions
from lab.policy.matching import (
    LITERAL_QUESTION,
    LITERAL_STAR,
    action_matches,
    arn_matches,
    glob_matches,
    resource_matches,
)
from lab.policy.model import ConditionClause, ContextValue
from lab.policy.variables import substitute, substitute_pattern

# Policy text never holds the private-use characters that mark literal wildcards.
text = st.text(
    st.characters(
        blacklist_characters=(LITERAL_STAR, LITERAL_QUESTION), blacklist_categories=("Cs",)
    )
)
ascii_text = st.text(string.ascii_letters + string.digits + ":*?-/")
wild_text = st.text(st.sampled_from("ab:/*?"), max_size=12)
segment = st.text(st.sampled_from("ab/*?-"), max_size=4)
arn = st.lists(segment, min_size=6, max_size=6).map(":".join)

NEGATION_PAIRS = [
    ("StringEquals", "StringNotEquals"),
    ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ("StringLike", "StringNotLike"),
    ("NumericEquals", "NumericNotEquals"),
    ("DateEquals", "DateNotEquals"),
    ("IpAddress", "NotIpAddress"),
    ("ArnEquals", "ArnNotEquals"),
    ("ArnLike", "ArnNotLike"),
]
BASES = [name for pair in NEGATION_PAIRS for name in pair] + [
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
]
# Values a request key might hold: strings, numbers, dates, addresses, ARNs.
value = st.one_of(
    text,
    st.integers(-(10**6), 10**12).map(str),
    st.sampled_from(["true", "false", "10.0.0.1", "10.0.0.0/8", "::1", "2020-01-01T00:00:00Z"]),
    arn,
)
policy_values = st.lists(value.filter(lambda v: "${" not in v), min_size=1, max_size=3).map(tuple)


# Enough examples to find the corner cases, few enough to keep the unit suite quick.
quick = settings(max_examples=60, deadline=None)


def holds(operator: str, values: tuple[str, ...], request: ContextValue | None) -> bool:
    context = {} if request is None else {"k": request}
    return evaluate_conditions((ConditionClause(operator, "k", values),), context)[0]


@quick
@given(ascii_text, ascii_text)
def test_action_matching_ignores_case(pattern: str, action: str) -> None:
    assert action_matches(pattern, action) == action_matches(pattern.upper(), action.lower())


@quick
@given(text)
def test_a_string_matches_itself_as_a_pattern(value: str) -> None:
    assert glob_matches(value, value)
    assert action_matches(value, value)
    assert resource_matches(value, value)


@quick
@given(arn)
def test_an_arn_matches_itself(value: str) -> None:
    assert arn_matches(value, value)


@quick
@given(text)
def test_star_matches_everything(value: str) -> None:
    assert glob_matches("*", value)
    assert action_matches("*", value)
    assert resource_matches("*", value)


@quick
@given(wild_text, wild_text)
def test_glob_agrees_with_a_reference_matcher(pattern: str, value: str) -> None:
    assert glob_matches(pattern, value) == _reference_glob(pattern, value)


def _reference_glob(pattern: str, value: str) -> bool:
    """Textbook recursive wildcard matching, to check the regex translation against."""
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(_reference_glob(rest, value[i:]) for i in range(len(value) + 1))
    return bool(value) and head in ("?", value[0]) and _reference_glob(rest, value[1:])


@quick
@given(arn, arn)
def test_resource_matching_is_at_least_as_wide_as_arn_like(pattern: str, value: str) -> None:
    """A trailing `*` may cross colons in Resource, never in ArnLike; the rest is the same."""
    if arn_matches(pattern, value):
        assert resource_matches(pattern, value)


@quick
@given(text, text)
def test_a_substituted_value_matches_only_itself(value: str, other: str) -> None:
    pattern = substitute_pattern("${aws:value}", {"aws:value": value})
    assert pattern is not None
    assert glob_matches(pattern, value)
    assert glob_matches(pattern, other) == (value == other)


@quick
@given(text.filter(lambda v: "${" not in v), text)
def test_text_without_variables_is_unchanged(value: str, context_value: str) -> None:
    assert substitute(value, {"k": context_value}) == value
    assert substitute_pattern(value, {"k": context_value}) == value


@quick
@given(st.sampled_from(NEGATION_PAIRS), policy_values, value)
def test_operator_and_its_negation_are_complements(
    pair: tuple[str, str], values: tuple[str, ...], request: str
) -> None:
    """With the key present and single-valued, X and NotX never agree."""
    positive, negated = pair
    assert holds(positive, values, request) != holds(negated, values, request)


@quick
@given(st.sampled_from(BASES), policy_values)
def test_if_exists_holds_when_the_key_is_absent(base: str, values: tuple[str, ...]) -> None:
    assert holds(f"{base}IfExists", values, None)
    assert holds(f"ForAnyValue:{base}IfExists", values, None)


@quick
@given(st.sampled_from(BASES), policy_values, st.sampled_from([None, ()]))
def test_set_operators_on_the_empty_set(
    base: str, values: tuple[str, ...], request: ContextValue | None
) -> None:
    assert holds(f"ForAllValues:{base}", values, request)
    assert not holds(f"ForAnyValue:{base}", values, request)


@quick
@given(st.sampled_from(BASES), policy_values, st.lists(value, min_size=1, max_size=4))
def test_set_operators_are_all_and_any_over_members(
    base: str, values: tuple[str, ...], members: list[str]
) -> None:
    singles = [holds(base, values, member) for member in members]
    assert holds(f"ForAllValues:{base}", values, tuple(members)) == all(singles)
    assert holds(f"ForAnyValue:{base}", values, tuple(members)) == any(singles)


@quick
@given(st.integers(-(10**9), 10**9), st.integers(-(10**9), 10**9))
def test_numeric_and_epoch_date_order(policy: int, request: int) -> None:
    assert holds("NumericLessThan", (str(policy),), str(request)) == (request < policy)
    assert holds("NumericGreaterThanEquals", (str(policy),), str(request)) == (request >= policy)
    assert holds("DateLessThan", (str(policy),), str(request)) == (request < policy)


@quick
@given(st.lists(st.tuples(st.sampled_from(BASES), policy_values, value), max_size=4))
def test_conditions_are_the_and_of_their_clauses(
    clauses: list[tuple[str, tuple[str, ...], str]],
) -> None:
    built = tuple(ConditionClause(op, f"k{i}", vals) for i, (op, vals, _) in enumerate(clauses))
    context = {f"k{i}": request for i, (_, _, request) in enumerate(clauses)}
    result, traces = evaluate_conditions(built, context)
    assert len(traces) == len(built)
    assert result == all(trace.result for trace in traces)
