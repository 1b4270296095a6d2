"""The guardrail keys of a scenario file: `vpc_endpoints` and `organization` (OUs, accounts,
SCPs and RCPs by level), read with parse.py's reader so errors name the file and line.

RCPs are checked against Organizations' RCP syntax (organizations.rcp_syntax_problem); SCPs and
RCPs may name AWS's FullAWSAccess and RCPFullAWSAccess instead of a document.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lab.policy.model import DocumentKind
from lab.policy.organizations import rcp_syntax_problem
from lab.scenario import yamlfile
from lab.scenario.model import (
    Attachments,
    GuardrailPolicy,
    OrganizationalUnit,
    OrganizationSpec,
    VpcEndpointSpec,
)
from lab.server.guardrails import FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS

if TYPE_CHECKING:
    from lab.scenario.parse import _Reader

ACCOUNT = re.compile(r"\d{12}")
# EC2's id shapes (vpce-/vpc- and 8 or 17 hex digits), an OU name as Organizations takes it.
ENDPOINT_ID = re.compile(r"vpce-(?:[0-9a-f]{8}|[0-9a-f]{17})")
VPC_ID = re.compile(r"vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})")
OU_NAME = re.compile(r"[\s\S]{1,128}")
_ORGANIZATION_KEYS = {"management_account", "root", "ous", "accounts"}
_ATTACHMENT_KEYS = {"scps", "rcps"}
_OU_KEYS = _ATTACHMENT_KEYS | {"accounts", "ous"}
_ENDPOINT_KEYS = {"id", "vpc", "service", "policy"}


def endpoint(read: _Reader, key: str, node: Any, role_keys: set[str]) -> VpcEndpointSpec:
    node = read.mapping(node, f"vpc endpoint {key}", _ENDPOINT_KEYS)
    for required in ("id", "vpc"):
        if required not in node:
            raise read.fail(node, f"vpc endpoint {key} needs {required}")
    service = read.text(node["service"], "service") if "service" in node else "ecr"
    if service != "ecr":
        raise read.fail(node["service"], f"vpc endpoint {key}: the lab serves only ECR ('ecr')")
    policy = node.get("policy")
    return VpcEndpointSpec(
        key,
        read.text(node["id"], "vpc endpoint id", ENDPOINT_ID),
        read.text(node["vpc"], "vpc", VPC_ID),
        service,
        None
        if policy is None
        else read.policy(policy, f"vpc endpoint {key} policy", "resource", role_keys),
    )


def organization(read: _Reader, node: Any, role_keys: set[str]) -> OrganizationSpec:
    node = read.mapping(node, "organization", _ORGANIZATION_KEYS)
    if "management_account" not in node:
        raise read.fail(node, "organization needs management_account")
    placed: dict[str, Any] = {}
    ous = _ous(read, node.get("ous"), "organization", role_keys, placed)
    accounts = {}
    if "accounts" in node:
        for account, attached in read.mapping(node["accounts"], "organization accounts").items():
            read.text(account, "account", ACCOUNT)
            accounts[str(account)] = _attachments(read, attached, f"account {account}", role_keys)
    return OrganizationSpec(
        read.text(node["management_account"], "management_account", ACCOUNT),
        _attachments(read, node.get("root"), "root", role_keys),
        ous,
        accounts,
    )


def _ous(
    read: _Reader, node: Any, parent: str, role_keys: set[str], placed: dict[str, Any]
) -> dict[str, OrganizationalUnit]:
    if node is None:
        return {}
    found = {}
    for name, ou in read.mapping(node, f"{parent} ous").items():
        what = f"OU {name}"
        ou = read.mapping(ou or yamlfile.Mapping(), what, _OU_KEYS)
        accounts = read.texts(ou["accounts"], "account", ACCOUNT) if "accounts" in ou else ()
        for account in accounts:
            if account in placed:
                raise read.fail(ou["accounts"], f"account {account} is in two OUs")
            placed[account] = name
        found[str(name)] = OrganizationalUnit(
            read.text(name, "OU name", OU_NAME),
            _attachments(read, ou, what, role_keys),
            accounts,
            _ous(read, ou.get("ous"), what, role_keys, placed),
        )
    return found


def _attachments(read: _Reader, node: Any, what: str, role_keys: set[str]) -> Attachments:
    if node is None:
        return Attachments()
    node = read.mapping(node, what, None if what.startswith("OU ") else _ATTACHMENT_KEYS)
    scps = (
        _guardrail_list(read, node["scps"], f"{what} scps", "identity", FULL_AWS_ACCESS, role_keys)
        if "scps" in node
        else None
    )
    rcps = (
        _guardrail_list(
            read, node["rcps"], f"{what} rcps", "resource", RCP_FULL_AWS_ACCESS, role_keys
        )
        if "rcps" in node
        else ()
    )
    return Attachments(scps, rcps)


def _guardrail_list(
    read: _Reader, node: Any, what: str, kind: DocumentKind, managed: str, role_keys: set[str]
) -> tuple[GuardrailPolicy, ...]:
    """SCPs (or RCPs): documents, or the name of AWS's own full-access policy."""
    if not isinstance(node, yamlfile.Sequence):
        raise read.fail(node, f"{what} must be a list")
    found: list[GuardrailPolicy] = []
    for item in node:
        if isinstance(item, yamlfile.Text):
            if item != managed:
                raise read.fail(item, f"{what}: {str(item)!r} is not a policy (or {managed})")
            found.append(managed)
        else:
            document = read.policy(item, what, kind, role_keys)
            problem = rcp_syntax_problem(document) if managed == RCP_FULL_AWS_ACCESS else None
            if problem is not None:
                raise read.fail(item, f"{what}: {problem}")
            found.append(document)
    return tuple(found)
