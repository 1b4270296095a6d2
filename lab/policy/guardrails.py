"""The guardrail layers of one evaluation: AWS Organizations' RCPs and SCPs by level, and the
VPC endpoint policy, as evaluate() meets them.

AWS's order (IAM User Guide, reference_policies_evaluation-logic_policy-eval-denyallow.html):
after deny evaluation, RCPs, then SCPs must allow, at every level of the organization (the
Organizations pages on SCP and RCP evaluation); a request through a VPC endpoint must also be
allowed by its policy (PrivateLink Guide, vpc-endpoints-access.html). When they apply at all is
organizations.py's: this module only tallies and words what the evaluation saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.policy.model import Policy, PolicyKind, PolicySet, StatementRef
from lab.policy.organizations import rcp_exemption, scp_exemption
from lab.policy.principals import Caller

# (kind, index within its level, policy, level); level None for the endpoint policy.
Applicable = tuple[PolicyKind, int, Policy, int | None]
_NAMES = {"rcp": "resource control policy", "scp": "service control policy"}
_PLURALS = {"rcp": "resource control policies", "scp": "service control policies"}


@dataclass
class Tally:
    """Why SCPs or RCPs do not apply (None when they do) and the levels that allowed."""

    scp_exempt: str | None
    rcp_exempt: str | None
    levels: dict[PolicyKind, set[int]] = field(default_factory=lambda: {"scp": set(), "rcp": set()})


def tally(caller: Caller, action: str, resource: str, policies: PolicySet) -> Tally:
    """A fresh tally for one request."""
    management = policies.management_account
    return Tally(
        scp_exemption(caller, management) if policies.scps else None,
        rcp_exemption(caller, action, resource, management) if policies.rcps else None,
    )


def applicable(policies: PolicySet, seen: Tally) -> list[Applicable]:
    """The guardrails that take part, in AWS's order: RCPs, SCPs, the endpoint policy."""
    found: list[Applicable] = []
    if policies.rcps and seen.rcp_exempt is None:
        found.extend(_by_level("rcp", policies.rcps))
    if policies.scps and seen.scp_exempt is None:
        found.extend(_by_level("scp", policies.scps))
    if policies.endpoint is not None:
        found.append(("endpoint", 0, policies.endpoint, None))
    return found


def _by_level(kind: PolicyKind, levels: tuple[tuple[Policy, ...], ...]) -> list[Applicable]:
    return [
        (kind, index, policy, level)
        for level, attached in enumerate(levels)
        for index, policy in enumerate(attached)
    ]


def closed(
    policies: PolicySet, seen: Tally, allows: dict[PolicyKind, list[StatementRef]]
) -> tuple[PolicyKind, str] | None:
    """The first guardrail, in AWS's order, that does not allow: (kind, the rule in words)."""
    applying = {
        "rcp": policies.rcps if seen.rcp_exempt is None else (),
        "scp": policies.scps if seen.scp_exempt is None else (),
    }
    for kind in ("rcp", "scp"):
        missing = [n for n in range(len(applying[kind])) if n not in seen.levels[kind]]
        if missing:
            where = "the organization's root" if missing[0] == 0 else "an OU or the account"
            return kind, (
                f"implicit deny: no {_NAMES[kind]} at level {missing[0]} ({where}) allows the "
                "request, and an allow must exist at every level"
            )
    if policies.endpoint is not None and not allows["endpoint"]:
        return "endpoint", "implicit deny: no VPC endpoint policy allows the request"
    return None


def layers(
    policies: PolicySet,
    seen: Tally,
    allows: dict[PolicyKind, list[StatementRef]],
    denies: dict[PolicyKind, list[StatementRef]],
) -> tuple[str, ...]:
    """Each guardrail layer in AWS's order, in words: skipped (and why), or how it decided."""
    found: list[str] = []
    for kind, attached, exempt in (
        ("rcp", policies.rcps, seen.rcp_exempt),
        ("scp", policies.scps, seen.scp_exempt),
    ):
        if not attached:
            continue
        label = _PLURALS[kind]
        if exempt is not None:
            found.append(f"{label}: do not apply ({exempt})")
            continue
        found.append(f"{label}: {_verdict(len(attached), seen.levels[kind], denies[kind])}")
    if policies.endpoint is not None:
        verdict = (
            "denies" if denies["endpoint"] else "allows" if allows["endpoint"] else "does not allow"
        )
        found.append(f"VPC endpoint policy: {verdict}")
    return tuple(found)


def _verdict(count: int, allowing: set[int], denying: list[StatementRef]) -> str:
    """How the levels of SCPs (or RCPs) decided: a deny and where, else where an allow lacks."""
    if denying:
        where = ", ".join(str(n) for n in sorted({ref.level for ref in denying}))
        return f"deny (an explicit Deny at level {where})"
    missing = [str(n) for n in range(count) if n not in allowing]
    if missing:
        return f"do not allow (no Allow at level {', '.join(missing)})"
    if count == 1:
        return "allow (an Allow at level 0)"
    return f"allow (an Allow at every level, 0 to {count - 1})"
