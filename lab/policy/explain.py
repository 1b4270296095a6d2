"""A decision in plain text: every statement as evaluated, each condition with what it saw.

It only reads the Decision that evaluate() returned: the explanation is that evaluation's trace.
"""

from __future__ import annotations

from lab.policy.model import ConditionTrace, ContextValue, Decision, Request, StatementTrace

_OUTCOMES = {
    "allowed": "ALLOWED",
    "explicit_deny": "DENIED (explicit deny)",
    "implicit_deny": "DENIED (implicit deny)",
}
_POLICY_LABELS = {
    "identity": "identity-based policy",
    "resource": "resource-based policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "registry": "registry policy (resource-based)",
    "rcp": "resource control policy",
    "scp": "service control policy",
    "endpoint": "VPC endpoint policy",
}


def render_text(request: Request, decision: Decision) -> str:
    """The request, the outcome and AWS's message, the rule, then every statement's trace."""
    lines = [
        f"principal: {request.principal}",
        f"action:    {request.action}",
        f"resource:  {request.resource}",
        "",
        f"decision:  {_OUTCOMES[decision.outcome]}",
    ]
    if decision.message:
        lines.append(f"message:   {decision.message}")
    lines.append(f"rule:      {decision.rule}")
    if decision.layers:  # the guardrails, in the order AWS evaluates them
        lines += ["", "guardrails (in AWS's order):", *(f"  {layer}" for layer in decision.layers)]
    deciding = set(decision.matched)
    if decision.trace:
        lines += ["", "statements:"]
    for trace in decision.trace:
        lines += _statement(trace, trace.ref in deciding, request)
    return "\n".join(lines) + "\n"


def _statement(trace: StatementTrace, decided: bool, request: Request) -> list[str]:
    ref = trace.ref
    label = _POLICY_LABELS[ref.policy]
    if ref.level is not None:
        label += f" at level {ref.level} ({'root' if ref.level == 0 else 'OU or account'})"
    if ref.policy in ("identity", "scp", "rcp"):
        label += f" #{ref.index + 1}"
    if ref.policy_name:
        label += f" ({ref.policy_name})"
    sid = f" Sid {ref.sid!r}" if ref.sid else ""
    verdict = "applies" if trace.applies else "does not apply"
    marker = "=> " if decided else "   "
    checks = (
        f"principal {_mark(trace.principal_matched)}  action {_mark(trace.action_matched)}  "
        f"resource {_mark(trace.resource_matched)}"
    )
    lines = [
        f"{marker}{label}, statement {ref.statement + 1}{sid}: {trace.effect}, {verdict}",
        f"     {checks}",
    ]
    if not trace.principal_matched and trace.principal is not None:
        lines.append(_principal(trace, request))
    if trace.principal_matched and trace.action_matched and trace.resource_matched:
        lines += [_condition(c) for c in trace.conditions] or ["     (no conditions)"]
    return lines


def _principal(trace: StatementTrace, request: Request) -> str:
    """What the Principal element named against who asked (and the role behind a session)."""
    element = "NotPrincipal" if trace.not_principal else "Principal"
    named = {kind: list(values) for kind, values in (trace.principal or {}).items()}
    role = request.context.get("aws:principalarn")  # context keys are lower-cased
    behind = f" (aws:PrincipalArn {role})" if role and role != request.principal else ""
    return f"     {element} {named} vs request {request.principal}{behind}"


def _condition(trace: ConditionTrace) -> str:
    return (
        f"     {trace.operator} {trace.key}: policy {list(trace.policy_values)} "
        f"vs request {_seen(trace.request_values)} -> {str(trace.result).lower()}"
    )


def _seen(value: ContextValue | None) -> str:
    if value is None:
        return "(absent)"
    return repr(value) if isinstance(value, str) else repr(list(value))


def _mark(matched: bool) -> str:
    return "yes" if matched else "no"
