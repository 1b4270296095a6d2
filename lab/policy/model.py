"""Plain data shared by every stage of the engine: parsed policies, requests, decisions.

Parsing (document.py) produces these; matching, conditions and evaluation only read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, NamedTuple, TypeVar

Effect = Literal["Allow", "Deny"]
# Where a policy sits in AWS's evaluation; the names are the `simulate` contract's. "registry"
# is ECR's registry policy, "scp" and "rcp" are AWS Organizations' service and resource control
# policies, "endpoint" a VPC endpoint's.
PolicyKind = Literal[
    "identity", "resource", "boundary", "session", "registry", "scp", "rcp", "endpoint"
]
# What a document is validated as: each has AWS's own rules and error. "resource" is any other
# service's resource-based policy (Principal required, Resource allowed); "registry" is ECR's
# registry policy (Principal required, Resource allowed, Version required).
DocumentKind = Literal[
    "identity", "repository", "trust", "boundary", "session", "resource", "registry"
]
Outcome = Literal["allowed", "explicit_deny", "implicit_deny"]

# A context value: a string is single-valued, a tuple multi-valued (ForAllValues/ForAnyValue).
ContextValue = str | tuple[str, ...]
_T = TypeVar("_T")


def build(cls: type[_T], **fields: Any) -> _T:
    """An instance of one of these frozen classes, every field given, made at once.

    Their __init__ sets each field through object.__setattr__, slow for the thousands a batch
    makes; none has slots or __post_init__ (tests/test_policy_bench_engine.py pins the equality).
    """
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


def build_from(cls: type[_T], fields: dict[str, Any]) -> _T:
    """build() from a fresh dict of every field, which the instance takes as its own: the
    parser's hot path makes thousands and spares the copy."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)
    return instance


@dataclass(frozen=True)
class ConditionClause:
    """One `operator: {key: values}` entry; values are strings as AWS compares them."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written; matched case-insensitively
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """A normalised statement. Exactly one of each X / NotX pair is set (or neither)."""

    index: int
    effect: Effect
    sid: str | None = None
    principal: Mapping[str, tuple[str, ...]] | None = None  # "*" -> {"AWS": ("*",)}
    not_principal: Mapping[str, tuple[str, ...]] | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    condition: tuple[ConditionClause, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A parsed, validated policy document."""

    version: str
    statements: tuple[Statement, ...]
    id: str | None = None
    name: str | None = None  # e.g. the managed policy's name, for explanations


@dataclass(frozen=True)
class PolicySet:
    """Every policy that applies to one request, by the role it plays in AWS's logic."""

    identity: tuple[Policy, ...] = ()
    resource: Policy | None = None
    boundary: Policy | None = None
    session: Policy | None = None
    # ECR's registry policy: a second resource-based policy, where its scope covers the action.
    registry: Policy | None = None
    # Organizations' guardrails by level, from the root down to the account: () when none apply.
    scps: tuple[tuple[Policy, ...], ...] = ()  # of the caller's account
    rcps: tuple[tuple[Policy, ...], ...] = ()  # of the resource's account
    endpoint: Policy | None = None  # the VPC endpoint the request came through
    management_account: bool = False  # SCPs and RCPs never apply to the management account


@dataclass(frozen=True)
class Request:
    """What is being asked: who, which action, on what, in which context.

    `context` holds every condition key of the request (keys matched case-insensitively);
    context.derive() fills in what AWS derives from the principal.
    """

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementRef:
    """Names one statement: the `matched` entries of the `simulate` contract."""

    policy: PolicyKind
    index: int  # which policy of that kind (identity policies are a list)
    statement: int
    sid: str | None = None
    policy_name: str | None = None
    level: int | None = None  # SCPs and RCPs: the level, 0 for the organization's root


@dataclass(frozen=True)
class ConditionTrace:
    """One condition as evaluated: what the policy said, what the request had, the result."""

    operator: str
    key: str
    policy_values: tuple[str, ...]
    request_values: ContextValue | None  # None: the key was absent
    result: bool


@dataclass(frozen=True)
class StatementTrace:
    """One statement as evaluated, for explanations."""

    ref: StatementRef
    effect: Effect
    principal_matched: bool
    action_matched: bool
    resource_matched: bool
    conditions: tuple[ConditionTrace, ...]
    applies: bool
    # The statement's Principal (or NotPrincipal, `not_principal`), to show what was compared.
    principal: Mapping[str, tuple[str, ...]] | None = None
    not_principal: bool = False


class StatementRecord(NamedTuple):
    """One statement as the evaluation met it: the facts its StatementTrace is built from.

    The evaluation records these cheap tuples; explanations turn them into traces on demand.
    """

    ref: StatementRef
    statement: Statement
    principal_matched: bool
    action_matched: bool
    resource_matched: bool
    conditions: tuple[tuple[ContextValue | None, bool], ...]  # (request value, result) by clause
    applies: bool

    def trace(self) -> StatementTrace:
        """This record as a StatementTrace, each condition with what it saw."""
        clauses = self.statement.condition
        return StatementTrace(
            self.ref,
            self.statement.effect,
            self.principal_matched,
            self.action_matched,
            self.resource_matched,
            condition_traces(clauses, self.conditions),
            self.applies,
            self.statement.principal or self.statement.not_principal,
            self.statement.not_principal is not None,
        )


def condition_traces(
    clauses: tuple[ConditionClause, ...], seen: tuple[tuple[ContextValue | None, bool], ...]
) -> tuple[ConditionTrace, ...]:
    """Clauses with what an evaluation saw for each: (request value, result), in order."""
    return tuple(
        ConditionTrace(clause.operator, clause.key, clause.values, request, result)
        for clause, (request, result) in zip(clauses, seen, strict=False)
    )


@dataclass(frozen=True)
class Decision:
    """The engine's answer: the outcome, AWS's message, and why."""

    outcome: Outcome
    message: str  # AWS's error message; empty when allowed
    matched: tuple[StatementRef, ...]  # the statements that decided
    rule: str  # the final rule of AWS's logic that applied, in words
    records: tuple[StatementRecord, ...] = field(default=(), repr=False)
    # The guardrail layers (RCPs, SCPs, VPC endpoint policy) as evaluated, in AWS's order.
    layers: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    @cached_property
    def trace(self) -> tuple[StatementTrace, ...]:
        """Every statement as this evaluation met it, for explanations (built on first use)."""
        return tuple(record.trace() for record in self.records)
