"""AWS's policy evaluation logic: one pure function from a request and its policies to a Decision.

Sources (AWS IAM User Guide):
- reference_policies_evaluation-logic.html and ..._policy-eval-denyallow.html: explicit deny
  wins; same account, an identity-based OR a resource-based allow; the table "Resource-based
  policies and implicit denies in other policy types (same account)"; session principals.
- reference_policies_evaluation-logic-cross-account.html: across accounts both must allow.
- access_policies_boundaries.html: a NotPrincipal Deny always applies to an entity that has a
  permissions boundary.
- troubleshoot_access-denied.html: the denial messages.
ECR's registry policy is a second resource-based policy on the same request (ECR User Guide,
registry-permissions-create.html): its Deny denies and its Allow grants as the repository
policy's do, and AWS's messages name either as "a resource-based policy".
- reference_policies_evaluation-logic_policy-eval-denyallow.html: after deny evaluation, the
  Organizations RCPs, then SCPs, then resource-based, identity-based, boundary and session
  policies must allow (organizations.py says when RCPs and SCPs apply); a VPC endpoint policy
  (vpc/latest/privatelink/vpc-endpoints-access.html) must also allow a request through it.
The trace and the explanation come from this one pass; nothing evaluates twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from lab.policy import guardrails, matching, variables
from lab.policy.conditions import check_conditions, conditions_hold
from lab.policy.context import lower_keys
from lab.policy.model import (
    ContextValue,
    Decision,
    Outcome,
    PolicyKind,
    PolicySet,
    Request,
    Statement,
    StatementRecord,
    StatementRef,
    build_from,
)
from lab.policy.principals import (
    DIRECT,
    NO_MATCH,
    ROLE,
    Caller,
    caller_from,
    grant,
    not_principal_applies,
)

# The policy types as AWS's denial messages name them.
POLICY_TYPE_NAMES: dict[PolicyKind, str] = {
    "identity": "an identity-based policy",
    "resource": "a resource-based policy",
    "boundary": "a permissions boundary",
    "session": "a session policy",
    "registry": "a resource-based policy",
    "rcp": "a resource control policy",
    "scp": "a service control policy",
    "endpoint": "a VPC endpoint policy",
}
# The resource-based kinds: each names its principals, and an Allow in either grants.
_RESOURCE_KINDS: frozenset[PolicyKind] = frozenset({"resource", "registry"})
# Which type a message names when several deny: AWS names one, in its evaluation order.
_DENY_ORDER: tuple[PolicyKind, ...] = (
    "rcp", "scp", "endpoint", "resource", "registry", "identity", "boundary", "session"
)  # fmt: skip
_VARIABLES_VERSION = "2012-10-17"
_MATCH_CACHE = 65536
_ACTION_HITS: dict[tuple[tuple[str, ...], str], bool] = {}
_RESOURCE_HITS: dict[tuple[tuple[str, ...], str], bool] = {}


def evaluate(
    request: Request, policies: PolicySet, *, trace: bool = True, lowered: bool = False
) -> Decision:
    """AWS's decision on `request` under `policies`, with the statements that decided it.

    `trace=False` leaves the Decision's records (its trace) empty, for callers that only want
    the decision: a statement is then only checked as far as it can still apply. `lowered`
    says the request's context keys are lower-cased already (context.derive() made it).
    """
    context = request.context if lowered else lower_keys(request.context)
    principal_arn = context.get("aws:principalarn")
    caller = caller_from(
        request.principal, principal_arn if type(principal_arn) is str else None
    )
    has_boundary = policies.boundary is not None
    action, resource = request.action, request.resource
    records: list[StatementRecord] = []
    # Most kinds take no part in a given request: their lists appear when first used.
    allows: defaultdict[PolicyKind, list[StatementRef]] = defaultdict(list)
    denies: defaultdict[PolicyKind, list[StatementRef]] = defaultdict(list)
    resource_grant = NO_MATCH
    guarded = bool(policies.scps or policies.rcps) or policies.endpoint is not None
    tally = guardrails.tally(caller, action, resource, policies) if guarded else _UNGUARDED
    for kind, index, policy, level in _applicable(request, policies, tally, guarded):
        substitute = policy.version == _VARIABLES_VERSION
        naming, resource_based = kind in _NAMING_KINDS, kind in _RESOURCE_KINDS
        for statement in policy.statements:
            if trace:
                named = _named(statement, caller, has_boundary) if naming else DIRECT
                ref = _ref(kind, index, statement.index, statement.sid, policy.name, level)
                record = _record(ref, statement, named, action, resource, context, substitute)
                records.append(record)
                applies = record.applies
            else:
                # The cheapest test first: most statements name other actions.
                if not _action_matches(statement, action):
                    continue
                named = _named(statement, caller, has_boundary) if naming else DIRECT
                applies = (
                    named != NO_MATCH
                    and _resource_matches(statement, resource, context, substitute)
                    and (
                        not statement.condition
                        or conditions_hold(statement.condition, context, substitute)
                    )
                )
                if not applies:
                    continue
                ref = _ref(kind, index, statement.index, statement.sid, policy.name, level)
            if not applies:
                continue
            if statement.effect == "Deny":
                denies[kind].append(ref)
            else:
                allows[kind].append(ref)
                if resource_based:
                    resource_grant = max(resource_grant, named)
                elif level is not None:
                    tally.levels[kind].add(level)
    decision = _decide(request, policies, caller, allows, denies, resource_grant, tuple(records))
    if not guarded:
        return decision
    layers = guardrails.layers(policies, tally, allows, denies)
    closed = (
        None if decision.outcome == "explicit_deny" else guardrails.closed(policies, tally, allows)
    )
    if closed is not None:
        kind, rule = closed
        name = POLICY_TYPE_NAMES[kind].split(" ", 1)[1]
        message = _message(request, f"because no {name} allows the {request.action} action")
        decision = Decision("implicit_deny", message, (), rule, decision.records)
    return replace(decision, layers=layers)


# No SCP, RCP or endpoint policy: a tally that no statement touches (levels only grow for
# SCPs and RCPs), shared by every such evaluation.
_UNGUARDED = guardrails.Tally(None, None)


# The kinds whose statements name principals (Principal / NotPrincipal) to match the caller.
_NAMING_KINDS = frozenset({"resource", "registry", "rcp", "endpoint"})


def _record(
    ref: StatementRef,
    statement: Statement,
    named: int,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue],
    substitute: bool,
) -> StatementRecord:
    """Every fact about one statement, for the trace: each is checked whatever the others say."""
    action_ok = _action_matches(statement, action)
    resource_ok = _resource_matches(statement, resource, context, substitute)
    applies = False
    seen: tuple[tuple[ContextValue | None, bool], ...] = ()
    if named != NO_MATCH and action_ok and resource_ok:
        applies, seen = (
            check_conditions(statement.condition, context, substitute)
            if statement.condition
            else (True, ())
        )
    return StatementRecord(ref, statement, named != NO_MATCH, action_ok, resource_ok, seen, applies)


def _applicable(
    request: Request, policies: PolicySet, tally: guardrails.Tally, guarded: bool
) -> list[guardrails.Applicable]:
    """The policies that take part, in AWS's order: RCPs, SCPs, the VPC endpoint policy, then
    the resource-based, identity-based, boundary and session policies."""
    found = guardrails.applicable(policies, tally) if guarded else []
    # A resource policy is attached to one resource: an action on "*" never sees it.
    if request.resource != "*":
        if policies.resource is not None:
            found.append(("resource", 0, policies.resource, None))
        if policies.registry is not None:
            found.append(("registry", 0, policies.registry, None))
    found.extend([("identity", i, p, None) for i, p in enumerate(policies.identity)])
    if policies.boundary is not None:
        found.append(("boundary", 0, policies.boundary, None))
    if policies.session is not None:
        found.append(("session", 0, policies.session, None))
    return found


@lru_cache(maxsize=8192)
def _ref(
    kind: PolicyKind,
    index: int,
    statement: int,
    sid: str | None,
    name: str | None,
    level: int | None = None,
) -> StatementRef:
    return StatementRef(kind, index, statement, sid, name, level)


def _named(statement: Statement, caller: Caller, has_boundary: bool) -> int:
    """How a resource policy statement names the caller (NO_MATCH when it does not apply)."""
    if statement.principal is not None:
        return grant(statement.principal, caller)
    if statement.not_principal is not None:
        applies = has_boundary or not_principal_applies(statement.not_principal, caller)
        return DIRECT if applies else NO_MATCH
    return NO_MATCH


def _action_matches(statement: Statement, action: str) -> bool:
    patterns = statement.action
    if patterns is None:
        return not _any_action(statement.not_action or (), action)
    # Per request the same few patterns meet the same few actions: remember each answer.
    hit = _ACTION_HITS.get((patterns, action))
    return _any_action(patterns, action) if hit is None else hit


def _any_action(patterns: tuple[str, ...], action: str) -> bool:
    key = (patterns, action)
    hit = _ACTION_HITS.get(key)
    if hit is None:
        hit = any(matching.action_matches(p, action) for p in patterns)
        _remember(_ACTION_HITS, key, hit)
    return hit


def _resource_matches(
    statement: Statement, resource: str, context: Mapping[str, ContextValue], substitute: bool
) -> bool:
    patterns = statement.resource if statement.resource is not None else statement.not_resource
    if patterns is None:
        return True  # a repository or trust policy: the resource is the one it is attached to
    key = (patterns, resource)
    hit = _RESOURCE_HITS.get(key)
    if hit is None:
        hit = any(_pattern_matches(p, resource, context, substitute) for p in patterns)
        # Only variable-free patterns give an answer independent of the context.
        if not any("${" in p for p in patterns):
            _remember(_RESOURCE_HITS, key, hit)
    return hit if statement.resource is not None else not hit


def _remember(
    cache: dict[tuple[tuple[str, ...], str], bool], key: tuple[tuple[str, ...], str], hit: bool
) -> None:
    if len(cache) >= _MATCH_CACHE:
        cache.clear()  # bounded: a long-running server keeps flat memory
    cache[key] = hit


def _pattern_matches(
    pattern: str, resource: str, context: Mapping[str, ContextValue], substitute: bool
) -> bool:
    if substitute and "${" in pattern:
        resolved = variables.substitute_pattern(pattern, context)
        if resolved is None:
            return False  # an unresolved variable matches nothing
        pattern = resolved
    return matching.resource_matches(pattern, resource)


def _session_allows(policies: PolicySet, allows: list[StatementRef], caller: Caller) -> bool:
    """Session step of the logic: a session policy must allow; a federated user needs one."""
    if policies.session is not None:
        return bool(allows)
    return caller.type != "FederatedUser"


def _decide(
    request: Request,
    policies: PolicySet,
    caller: Caller,
    allows: dict[PolicyKind, list[StatementRef]],
    denies: dict[PolicyKind, list[StatementRef]],
    resource_grant: int,
    records: tuple[StatementRecord, ...],
) -> Decision:
    denied_by = next((kind for kind in _DENY_ORDER if denies.get(kind)), None) if denies else None
    if denied_by is not None:
        matched = tuple(ref for kind in _DENY_ORDER for ref in denies[kind])
        return _decision(
            "explicit_deny",
            _message(request, f"with an explicit deny in {POLICY_TYPE_NAMES[denied_by]}"),
            matched,
            f"an explicit deny in {POLICY_TYPE_NAMES[denied_by]} overrides every allow",
            records,
        )
    root = caller.type == "Account"
    identity_ok = root or bool(allows["identity"])
    boundary_ok = policies.boundary is None or bool(allows["boundary"])
    session_ok = _session_allows(policies, allows["session"], caller)
    bounded = boundary_ok and session_ok
    account = _resource_account(request.resource)
    cross_account = bool(account and caller.account and account != caller.account)

    def allowed(kinds: tuple[PolicyKind, ...], rule: str) -> Decision:
        matched = tuple(ref for kind in kinds for ref in allows[kind])
        return _decision("allowed", "", matched, rule, records)

    identity_kinds: tuple[PolicyKind, ...] = ("identity", "boundary", "session")
    if cross_account:
        if (identity_ok and bounded) and resource_grant != NO_MATCH:
            return allowed(
                ("resource", "registry", *identity_kinds),
                "cross-account: both an identity-based and the resource-based policy allow",
            )
    elif root:
        return allowed(
            ("resource", "registry", *identity_kinds),
            "the account root user has full access to its own account's resources",
        )
    elif resource_grant == DIRECT:
        return allowed(
            ("resource", "registry"),
            "same account: the resource-based policy grants the caller itself, which no "
            "implicit deny in other policy types limits",
        )
    elif resource_grant == ROLE and bounded:
        return allowed(
            ("resource", "registry", "boundary", "session"),
            "same account: the resource-based policy grants the role, within the permissions "
            "boundary and session policy",
        )
    elif identity_ok and bounded:
        return allowed(
            identity_kinds, "same account: an identity-based policy allows, and nothing denies"
        )
    lacking = _lacking(
        identity_ok or (resource_grant == ROLE and not cross_account), boundary_ok, session_ok
    )
    if cross_account and lacking is None:
        lacking = "resource"
    lacking = lacking or "identity"
    name = POLICY_TYPE_NAMES[lacking].split(" ", 1)[1]
    return _decision(
        "implicit_deny",
        _message(request, f"because no {name} allows the {request.action} action"),
        (),
        f"implicit deny: no {name} allows the request",
        records,
    )


def _decision(
    outcome: Outcome,
    message: str,
    matched: tuple[StatementRef, ...],
    rule: str,
    records: tuple[StatementRecord, ...],
) -> Decision:
    """Decision(outcome, message, matched, rule, records), made at once: one per request."""
    return build_from(
        Decision,
        {
            "outcome": outcome,
            "message": message,
            "matched": matched,
            "rule": rule,
            "records": records,
            "layers": (),
        },
    )


def _lacking(granted: bool, boundary_ok: bool, session_ok: bool) -> PolicyKind | None:
    """The policy type whose missing Allow denies, in AWS's order; None if none is missing."""
    if not granted:
        return "identity"
    if not boundary_ok:
        return "boundary"
    if not session_ok:
        return "session"
    return None


def _resource_account(resource: str) -> str:
    """The 12-digit account that owns `resource`; "" for "*" and for AWS's own resources
    (`arn:aws:iam::aws:policy/...`), which any account's identity policies may reach."""
    parts = resource.split(":", 5)
    account = parts[4] if len(parts) == 6 else ""
    return account if account.isdigit() else ""


def _message(request: Request, reason: str) -> str:
    return (
        f"User: {request.principal} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {reason}"
    )
