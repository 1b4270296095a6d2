"""The Condition element: every AWS condition operator, IfExists, ForAllValues, ForAnyValue.

Semantics from https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html:
clauses are ANDed, a clause's policy values ORed (NORed for negated operators). Evaluation
never raises: a value that does not parse simply does not match.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, TypeVar

from lab.policy.context import LOWER_KEYS, lower_key
from lab.policy.matching import arn_matches, glob_matches
from lab.policy.model import ConditionClause, ConditionTrace, ContextValue, condition_traces
from lab.policy.variables import substitute, substitute_pattern

# (policy value, request value) -> whether they match; never raises.
Compare = Callable[[str, str], bool]
SetOperator = Literal["ForAnyValue", "ForAllValues"]
# How policy variables apply to an operator's values (AWS: strings, ARNs and Bool only).
Variables = Literal["text", "pattern", "none"]
T = TypeVar("T")

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_EPOCH = re.compile(r"-?\d+(\.\d+)?")
_YEAR_MONTH = re.compile(r"\d{4}-\d{2}")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CACHE_SIZE = 4096


@lru_cache(maxsize=_CACHE_SIZE)
def _number(text: str) -> Decimal | None:
    return Decimal(text) if _NUMBER.fullmatch(text) else None


@lru_cache(maxsize=_CACHE_SIZE)
def _date(text: str) -> datetime | None:
    """W3C ISO 8601 (https://www.w3.org/TR/NOTE-datetime) or epoch seconds; naive means UTC."""
    try:
        if _EPOCH.fullmatch(text):
            return _UNIX_EPOCH + timedelta(seconds=float(text))
        parsed = datetime.fromisoformat(f"{text}-01" if _YEAR_MONTH.fullmatch(text) else text)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@lru_cache(maxsize=_CACHE_SIZE)
def _boolean(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.lower())


@lru_cache(maxsize=_CACHE_SIZE)
def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=_CACHE_SIZE)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A CIDR; a bare address means /32 (or /128), as AWS's IP address operators say."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=_CACHE_SIZE)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parsed(parse: Callable[[str], T | None], relation: Callable[[Any, Any], bool]) -> Compare:
    """A comparison of parsed values: `relation(request, policy)`; unparseable -> no match."""

    def compare(policy: str, request: str) -> bool:
        wanted, got = parse(policy), parse(request)
        return wanted is not None and got is not None and relation(got, wanted)

    return compare


def _in_network(policy: str, request: str) -> bool:
    network, address = _network(policy), _address(request)
    return network is not None and address is not None and address in network


def _equals_ignore_case(policy: str, request: str) -> bool:
    return policy.lower() == request.lower()


@dataclass(frozen=True)
class _Base:
    """One operator family member: how a value pair compares, and whether it is negated."""

    compare: Compare
    negated: bool = False
    variables: Variables = "none"


def _ordering(parse: Callable[[str], T | None], prefix: str) -> dict[str, _Base]:
    """The six Numeric* or Date* operators over one parser."""
    equals = _parsed(parse, operator.eq)
    return {
        f"{prefix}Equals": _Base(equals),
        f"{prefix}NotEquals": _Base(equals, negated=True),
        f"{prefix}LessThan": _Base(_parsed(parse, operator.lt)),
        f"{prefix}LessThanEquals": _Base(_parsed(parse, operator.le)),
        f"{prefix}GreaterThan": _Base(_parsed(parse, operator.gt)),
        f"{prefix}GreaterThanEquals": _Base(_parsed(parse, operator.ge)),
    }


# Every base operator AWS has but Null, by its case-sensitive name (IAM rejects `stringEquals`).
_BASES: dict[str, _Base] = {
    "StringEquals": _Base(operator.eq, variables="text"),
    "StringNotEquals": _Base(operator.eq, negated=True, variables="text"),
    "StringEqualsIgnoreCase": _Base(_equals_ignore_case, variables="text"),
    "StringNotEqualsIgnoreCase": _Base(_equals_ignore_case, negated=True, variables="text"),
    "StringLike": _Base(glob_matches, variables="pattern"),
    "StringNotLike": _Base(glob_matches, negated=True, variables="pattern"),
    **_ordering(_number, "Numeric"),
    **_ordering(_date, "Date"),
    "Bool": _Base(_parsed(_boolean, operator.eq), variables="text"),
    "BinaryEquals": _Base(_parsed(_binary, operator.eq)),
    "IpAddress": _Base(_in_network),
    "NotIpAddress": _Base(_in_network, negated=True),
    # ArnEquals and ArnLike behave identically on AWS, as do their negations.
    "ArnEquals": _Base(arn_matches, variables="pattern"),
    "ArnLike": _Base(arn_matches, variables="pattern"),
    "ArnNotEquals": _Base(arn_matches, negated=True, variables="pattern"),
    "ArnNotLike": _Base(arn_matches, negated=True, variables="pattern"),
}
_NULL = "Null"  # tests presence only; it takes no IfExists
_SET_OPERATORS: tuple[SetOperator, ...] = ("ForAnyValue", "ForAllValues")
_IF_EXISTS = "IfExists"


@dataclass(frozen=True)
class _Operator:
    base: _Base | None  # None: the Null operator
    set_operator: SetOperator | None
    if_exists: bool


@lru_cache(maxsize=1024)
def _operator(written: str) -> _Operator | None:
    """Split `ForAnyValue:StringLikeIfExists` into its parts; None if AWS has no such operator."""
    name, set_operator = written, None
    for candidate in _SET_OPERATORS:
        if name.startswith(f"{candidate}:"):
            name, set_operator = name[len(candidate) + 1 :], candidate
            break
    if_exists = name.endswith(_IF_EXISTS) and name != _NULL + _IF_EXISTS
    if if_exists:
        name = name.removesuffix(_IF_EXISTS)
    if name == _NULL:
        return _Operator(None, set_operator, if_exists=False)
    base = _BASES.get(name)
    return None if base is None else _Operator(base, set_operator, if_exists)


# Every operator as it may be written, which _operator() splits: a set is the cheapest test.
KNOWN_OPERATORS = frozenset(
    f"{prefix}{name}{suffix}"
    for prefix in ("", *(f"{set_operator}:" for set_operator in _SET_OPERATORS))
    for name, suffix in [
        (_NULL, ""),
        *((base, suffix) for base in _BASES for suffix in ("", _IF_EXISTS)),
    ]
)


def is_known_operator(operator_name: str) -> bool:
    """Whether AWS knows this condition operator, exactly as written (case-sensitive)."""
    return operator_name in KNOWN_OPERATORS


def _policy_values(
    base: _Base, values: tuple[str, ...], context: Mapping[str, ContextValue], enabled: bool
) -> tuple[str, ...]:
    """The clause's values with variables substituted. A value whose variable has no value is
    left out: it equals and is like nothing, so a negated operator holds against it (IAM User
    Guide, reference_policies_variables.html, "Policy variables with no value")."""
    if not enabled or base.variables == "none":
        return values
    for value in values:
        if "${" in value:
            break
    else:
        return values  # no variable: the common case
    render = substitute_pattern if base.variables == "pattern" else substitute
    return tuple(
        rendered for value in values if (rendered := render(value, context)) is not None
    )


def _test(base: _Base, policy: tuple[str, ...], request: str) -> bool:
    """One request value against the ORed policy values, then negated if the operator is."""
    compare = base.compare
    for wanted in policy:
        if compare(wanted, request):
            return not base.negated
    return base.negated


def _when_absent(op: _Operator, base: _Base) -> bool:
    """A key missing from the request: IfExists and ForAllValues hold, negations hold."""
    if op.if_exists or op.set_operator == "ForAllValues":
        return True
    return op.set_operator is None and base.negated


def _clause_result(
    op: _Operator,
    values: tuple[str, ...],
    request: ContextValue | None,
    context: Mapping[str, ContextValue],
    variables: bool,
) -> bool:
    base = op.base
    absent = request is None or request == ()
    if base is None:
        # Null: `true` asks for the key to be absent, `false` for it to be present.
        wanted = "true" if absent else "false"
        return any(value.lower() == wanted for value in values)
    if absent or request is None:  # (None is absent: said again for the type checker)
        return _when_absent(op, base)
    policy = _policy_values(base, values, context, variables)
    if op.set_operator is None:
        # A plain operator cannot compare a multivalued key: it matches nothing.
        if isinstance(request, tuple):
            return len(request) == 1 and _test(base, policy, request[0])
        return _test(base, policy, request)
    # A single value is a one-element set; an empty string is the empty data set.
    members = () if request == "" else (request,) if isinstance(request, str) else request
    tests = (_test(base, policy, member) for member in members)
    return all(tests) if op.set_operator == "ForAllValues" else any(tests)


def check_conditions(
    clauses: tuple[ConditionClause, ...],
    context: Mapping[str, ContextValue],
    substitute_variables: bool = True,
) -> tuple[bool, tuple[tuple[ContextValue | None, bool], ...]]:
    """AND over the clauses, with (request value, result) per clause: all are evaluated.

    `context` keys are lower-cased; clause keys are looked up lower-cased. Pass
    `substitute_variables=False` for a policy whose Version predates variables (2008-10-17),
    where `${...}` is literal text. An operator AWS does not know evaluates to false.
    """
    seen = []
    holds = True
    for clause in clauses:
        request = context.get(lower_key(clause.key))
        op = _operator(clause.operator)
        result = op is not None and _clause_result(
            op, clause.values, request, context, substitute_variables
        )
        holds = holds and result
        seen.append((request, result))
    return holds, tuple(seen)


def conditions_hold(
    clauses: tuple[ConditionClause, ...],
    context: Mapping[str, ContextValue],
    substitute_variables: bool = True,
) -> bool:
    """check_conditions()'s verdict alone: it stops at the first clause that fails."""
    lowered = LOWER_KEYS  # lower_key() inlined: one lookup for a key seen before
    for clause in clauses:
        op = _operator(clause.operator)
        key = clause.key
        request = context.get(lowered.get(key) or lower_key(key))
        if op is None or not _clause_result(
            op, clause.values, request, context, substitute_variables
        ):
            return False
    return True


def evaluate_conditions(
    clauses: tuple[ConditionClause, ...],
    context: Mapping[str, ContextValue],
    substitute_variables: bool = True,
) -> tuple[bool, tuple[ConditionTrace, ...]]:
    """check_conditions() with one ConditionTrace per clause, for explanations."""
    holds, seen = check_conditions(clauses, context, substitute_variables)
    return holds, condition_traces(clauses, seen)
