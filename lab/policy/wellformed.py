"""The statements of a well-formed policy, read in one pass with no error wording.

Nearly every document a batch or a server sees is valid, and the full parser's care for the
first problem and its IAM message costs a function call per element. This reader takes the
common, valid shapes inline and gives up (None) at anything else, unusual or invalid alike:
the full parser then reads the document again, finds the problem and words it. Whatever it
accepts, it makes the very Statement the full parser makes (tests/test_policy_wellformed.py).
Hand-written because no validator library builds these objects in the same pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab.policy.conditions import KNOWN_OPERATORS
from lab.policy.entries import (
    PRINCIPAL_TYPES,
    STATEMENT_KEYS,
    VALID_ACTIONS,
    VALID_RESOURCES,
    action_problem,
    is_arn_or_star,
    is_iam_sid,
    remember,
    stored_principal,
)
from lab.policy.model import ConditionClause, Statement, build_from

if TYPE_CHECKING:
    from lab.policy.document import Rules

_ABSENT: Any = object()
# An element and its Not form, as a Statement holds them: at most one is not None.
_Pair = tuple[tuple[str, ...] | None, tuple[str, ...] | None]
_NEITHER: _Pair = (None, None)


def read_statements(raw: list[Any], rules: Rules) -> tuple[Statement, ...] | None:
    """The statements of the list `raw`, or None if any is not plainly valid for `rules`."""
    statements = []
    sids: set[str] = set()
    for index, item in enumerate(raw):
        if type(item) is not dict or not item.keys() <= STATEMENT_KEYS:
            return None
        get = item.get
        sid = get("Sid")
        if sid is not None:
            if type(sid) is not str:
                return None
            if rules.check_sids:  # IAM's: [0-9A-Za-z]*, unique in the policy
                if not is_iam_sid(sid) or sid in sids:
                    return None
                sids.add(sid)
        effect = get("Effect")
        if effect != "Allow" and effect != "Deny":
            return None
        principal = get("Principal", _ABSENT)
        not_principal = get("NotPrincipal", _ABSENT)
        if rules.no_principal:
            if principal is not _ABSENT or not_principal is not _ABSENT:
                return None
            principal = not_principal = None
        else:
            if (principal is _ABSENT) == (not_principal is _ABSENT):
                return None
            if principal is _ABSENT:
                principal, not_principal = None, _principal(not_principal)
                if not_principal is None:
                    return None
            else:
                principal, not_principal = _principal(principal), None
                if principal is None:
                    return None
        actions = _one_of(
            get("Action", _ABSENT), get("NotAction", _ABSENT), VALID_ACTIONS, _good_action
        )
        if actions is None:
            return None
        resource, not_resource = get("Resource", _ABSENT), get("NotResource", _ABSENT)
        resources = _NEITHER
        if resource is not _ABSENT or not_resource is not _ABSENT:
            if rules.no_resource:
                return None
            found = _one_of(resource, not_resource, VALID_RESOURCES, is_arn_or_star)
            if found is None:
                return None
            resources = found
        elif rules.needs_resource:
            return None
        condition = get("Condition")
        if condition is not None:
            condition = _conditions(condition)
            if condition is None:
                return None
        statement = build_from(
            Statement,
            {
                "index": index,
                "effect": effect,
                "sid": sid,
                "principal": principal,
                "not_principal": not_principal,
                "action": actions[0],
                "not_action": actions[1],
                "resource": resources[0],
                "not_resource": resources[1],
                "condition": () if condition is None else condition,
            },
        )
        statements.append(statement)
    return tuple(statements)


def _good_action(action: str) -> bool:
    return action_problem(action) is None


def _one_of(value: Any, negated: Any, valid: set[str], good: Callable[[str], bool]) -> _Pair | None:
    """(entries, None) or (None, entries): an element (`value`) or its Not form (`negated`),
    exactly one written (the other _ABSENT), its entries each valid; None otherwise."""
    if (value is _ABSENT) == (negated is _ABSENT):
        return None
    if value is _ABSENT:
        entries = _entries(negated, valid, good)
        return None if entries is None else (None, entries)
    entries = _entries(value, valid, good)
    return None if entries is None else (entries, None)


def _entries(value: Any, valid: set[str], good: Callable[[str], bool]) -> tuple[str, ...] | None:
    """An Action or Resource element's entries (a string or a non-empty list of strings),
    each valid; None otherwise."""
    if type(value) is str:
        if value not in valid:
            if not good(value):
                return None
            remember(valid, value)
        return (value,)
    if type(value) is not list or not value:
        return None
    entries = tuple(value)
    for entry in entries:
        if type(entry) is not str:
            return None
        if entry not in valid:
            if not good(entry):
                return None
            remember(valid, entry)
    return entries


def _principal(value: Any) -> dict[str, tuple[str, ...]] | None:
    """A Principal element as AWS stores it ("*" is every AWS principal); None if unusual."""
    if value == "*":
        return {"AWS": ("*",)}
    if type(value) is not dict or not value:
        return None
    spec: dict[str, tuple[str, ...]] = {}
    for kind, ids in value.items():
        if kind not in PRINCIPAL_TYPES:
            return None
        if type(ids) is str:
            ids = (ids,)
        elif type(ids) is not list or not ids:
            return None
        stored = []
        for id_ in ids:
            if type(id_) is not str:
                return None
            kept = stored_principal(kind, id_)
            if kept is None:
                return None
            stored.append(kept)
        spec[kind] = tuple(stored)
    return spec


def _conditions(raw: Any) -> tuple[ConditionClause, ...] | None:
    """A Condition element's clauses, each value a string or a list of strings; None if
    anything else (numbers and booleans are the full parser's to spell)."""
    if type(raw) is not dict:
        return None
    clauses = []
    for operator, block in raw.items():
        if operator not in KNOWN_OPERATORS or type(block) is not dict or not block:
            return None
        for key, values in block.items():
            if not key:
                return None
            if type(values) is str:
                values = (values,)
            elif type(values) is list:
                values = tuple(values)
                for value in values:
                    if type(value) is not str:
                        return None
            else:
                return None
            clause = {"operator": operator, "key": key, "values": values}
            clauses.append(build_from(ConditionClause, clause))
    return tuple(clauses)
