"""Data-perimeter exercises: the student writes an SCP, an RCP and a VPC endpoint policy at once.

The student's file is one JSON object {"scp": DOC, "rcp": DOC, "endpoint_policy": DOC}. The SCP
and the RCP are attached to the organization's root beside AWS's FullAWSAccess and
RCPFullAWSAccess; the endpoint policy is the ECR endpoint's, asked for the cells whose requests
come through it (their context names aws:SourceVpce). The organization's id reaches the request
as aws:PrincipalOrgID for member principals and aws:ResourceOrgID for member resources (IAM
global condition keys; both absent otherwise, and aws:ResourceOrgID on Resource "*").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.policy.document import PolicyError
from lab.policy.model import Policy
from lab.policy.organizations import ENDPOINT_KEYS, rcp_syntax_problem
from lab.server.authorize import Call
from lab.server.guardrails import (
    FULL_AWS_ACCESS,
    FULL_AWS_ACCESS_DOCUMENT,
    RCP_FULL_AWS_ACCESS,
    RCP_FULL_AWS_ACCESS_DOCUMENT,
    rcp,
    scp,
)

PARTS = ("scp", "rcp", "endpoint_policy")


@dataclass(frozen=True)
class OrganizationFacts:
    """Which accounts are members, the organization's id, and its management account."""

    org_id: str
    members: frozenset[str]
    management_account: str


@dataclass(frozen=True)
class Trio:
    """The student's three documents, parsed."""

    scp: Policy
    rcp: Policy
    endpoint: Policy


def read_trio(text: str) -> Trio:
    """The student's file as three policies; PolicyError (naming the part) when it is not."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise PolicyError(f"not JSON: {error}") from None
    if not isinstance(raw, dict) or set(raw) != set(PARTS):
        raise PolicyError(f"the file is one JSON object with exactly {', '.join(PARTS)}")
    parsed = []
    for part, read in zip(PARTS, (scp, rcp, rcp), strict=True):
        try:
            parsed.append(read(raw[part], part))
        except PolicyError as error:
            raise PolicyError(f"{part}: {error}") from None
    problem = rcp_syntax_problem(raw["rcp"])
    if problem is not None:
        raise PolicyError(f"rcp: {problem}")
    return Trio(*parsed)


def guardrails(trio: Trio, org: OrganizationFacts, call: Call) -> dict[str, Any]:
    """The PolicySet fields for `call`: the SCP for member callers, the RCP for member
    resources (both at the root beside AWS's full-access policies), and the endpoint policy
    for a request through the endpoint."""
    found: dict[str, Any] = {}
    caller = call.identity.account
    owner = call.resource.split(":")[4] if call.resource.count(":") >= 5 else caller
    if caller in org.members and caller != org.management_account:
        found["scps"] = ((scp(FULL_AWS_ACCESS_DOCUMENT, FULL_AWS_ACCESS), trio.scp),)
    if owner in org.members and owner != org.management_account:
        found["rcps"] = ((rcp(RCP_FULL_AWS_ACCESS_DOCUMENT, RCP_FULL_AWS_ACCESS), trio.rcp),)
    if call.identity.network:
        found["endpoint"] = trio.endpoint
    return found


def organization_keys(org: OrganizationFacts, caller: str, resource: str) -> dict[str, str]:
    """aws:PrincipalOrgID and aws:ResourceOrgID where the caller and resource are members."""
    keys = {}
    if caller in org.members:
        keys["aws:PrincipalOrgID"] = org.org_id
    owner = resource.split(":")[4] if resource.count(":") >= 5 else ""
    if owner in org.members:
        keys["aws:ResourceOrgID"] = org.org_id
    return keys


def network(context: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A cell's context split into the endpoint's keys (the session's path) and the rest."""
    path = {k: v for k, v in context.items() if k in ENDPOINT_KEYS}
    return path, {k: v for k, v in context.items() if k not in ENDPOINT_KEYS}
