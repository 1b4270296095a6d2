"""The lab's organization and VPC endpoints: which SCPs, RCPs and endpoint policy join a call.

An Organization is its tree flattened to what evaluation needs: for each account, the levels
from the root down to the account itself, each with the SCPs and RCPs attached there (AWS
Organizations User Guide, orgs_manage_policies_scps_evaluation.html: "every level from the root
through each OU in the direct path to the account, including the target account itself").
SCPs come from the caller's account, RCPs from the resource owner's (orgs_manage_policies_rcps
.html: "the RCPs of the resource owner's account are applied").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from lab.errors import AwsError
from lab.policy.document import PolicyError, parse_policy
from lab.policy.model import Policy
from lab.policy.organizations import rcp_syntax_problem

SCP_TYPE = "SERVICE_CONTROL_POLICY"
RCP_TYPE = "RESOURCE_CONTROL_POLICY"
# AWS's managed policies attached by default when a policy type is enabled (Organizations User
# Guide: FullAWSAccess for SCPs; RCPFullAWSAccess for RCPs, which cannot be detached).
FULL_AWS_ACCESS = "FullAWSAccess"
RCP_FULL_AWS_ACCESS = "RCPFullAWSAccess"
FULL_AWS_ACCESS_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
RCP_FULL_AWS_ACCESS_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}
# An endpoint created without a policy gets this one: full access (PrivateLink guide,
# vpc-endpoints-access.html: "the default policy allows full access through the endpoint").
FULL_ENDPOINT_DOCUMENT = {
    "Version": "2008-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}


def scp(document: Any, name: str | None = None) -> Policy:
    """An SCP as the engine reads it: an identity-style document (no Principal)."""
    return _named(parse_policy(document, "identity"), name)


def rcp(document: Any, name: str | None = None) -> Policy:
    """An RCP or an endpoint policy: a resource-style document (Principal "*")."""
    return _named(parse_policy(document, "resource"), name)


def _named(policy: Policy, name: str | None) -> Policy:
    return policy if name is None else replace(policy, name=name)


@dataclass(frozen=True)
class Level:
    """One level of the path to an account: the root, an OU, or the account itself."""

    name: str  # "Root", the OU's name, or the account id
    scps: tuple[Policy, ...]
    rcps: tuple[Policy, ...]


@dataclass(frozen=True)
class Organization:
    """The organization the lab's accounts belong to: its management account and, for each
    member (and the management account), the levels from the root down to the account."""

    management_account: str
    paths: Mapping[str, tuple[Level, ...]] = field(default_factory=dict)
    # Which policy types are enabled on the root (EnablePolicyType): a type not enabled applies
    # nowhere (Organizations User Guide, "Enabling a policy type").
    types: frozenset[str] = frozenset({SCP_TYPE, RCP_TYPE})

    def guardrails(self, principal_account: str, resource_account: str) -> dict[str, Any]:
        """The PolicySet fields for a call: SCPs of the caller's account, RCPs of the
        resource owner's; neither for an account outside the organization."""
        found: dict[str, Any] = {}
        management = self.management_account
        same = principal_account == resource_account
        scps, rcps = SCP_TYPE in self.types, RCP_TYPE in self.types
        if scps and principal_account in self.paths and (same or principal_account != management):
            found["scps"] = tuple(level.scps for level in self.paths[principal_account])
        if rcps and resource_account in self.paths and (same or resource_account != management):
            found["rcps"] = tuple(level.rcps for level in self.paths[resource_account])
        if same and principal_account == management and found:
            found["management_account"] = True  # the engine explains why they do not apply
        return found


@dataclass(frozen=True)
class VpcEndpoint:
    """An interface endpoint for ECR (com.amazonaws.REGION.ecr.api and .ecr.dkr, one policy)."""

    endpoint_id: str
    vpc_id: str
    service: str
    policy: Policy
    document: str = json.dumps(FULL_ENDPOINT_DOCUMENT)  # the policy's text, as EC2 returns it

    def context(self, private_ip: str) -> dict[str, str]:
        """The keys a request through this endpoint carries (IAM global condition keys)."""
        return {
            "aws:SourceVpce": self.endpoint_id,
            "aws:SourceVpc": self.vpc_id,
            "aws:VpcSourceIp": private_ip,
        }


def read_organization(client: Any) -> Organization | None:
    """The organization an Organizations endpoint (a botocore client of the IAM home) holds, or
    None when it has none. A policy that no longer parses is read as denying everything: an
    unreadable guardrail fails closed."""
    try:
        management = client.describe_organization()["Organization"]["MasterAccountId"]
    except ClientError:
        return None  # AWSOrganizationsNotInUseException
    root = client.list_roots()["Roots"][0]
    types = frozenset(
        t["Type"] for t in root.get("PolicyTypes", []) if t.get("Status") == "ENABLED"
    )
    contents: dict[str, str] = {}

    def attached(target: str, name: str) -> Level:
        found: dict[str, tuple[Policy, ...]] = {}
        for kind, read in ((SCP_TYPE, scp), (RCP_TYPE, rcp)):
            listed = client.list_policies_for_target(TargetId=target, Filter=kind)["Policies"]
            found[kind] = tuple(_content(client, read, p, contents) for p in listed)
        return Level(name, found[SCP_TYPE], found[RCP_TYPE])

    paths: dict[str, tuple[Level, ...]] = {}

    def walk(parent: str, above: tuple[Level, ...]) -> None:
        for account in client.list_accounts_for_parent(ParentId=parent)["Accounts"]:
            paths[account["Id"]] = (*above, attached(account["Id"], account["Id"]))
        for ou in client.list_organizational_units_for_parent(ParentId=parent)[
            "OrganizationalUnits"
        ]:
            walk(ou["Id"], (*above, attached(ou["Id"], ou["Name"])))

    walk(root["Id"], (attached(root["Id"], "Root"),))
    return Organization(management, paths, types)


DENY_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}],
}


def _content(client: Any, read: Any, listed: Mapping[str, Any], cache: dict[str, str]) -> Policy:
    if listed["Id"] not in cache:
        cache[listed["Id"]] = client.describe_policy(PolicyId=listed["Id"])["Policy"]["Content"]
    try:
        return read(cache[listed["Id"]], listed["Name"])
    except (PolicyError, ValueError):
        deny = (
            DENY_ALL
            if read is rcp
            else {
                **DENY_ALL,
                "Statement": [
                    {k: v for k, v in DENY_ALL["Statement"][0].items() if k != "Principal"}
                ],
            }
        )
        return read(deny, f"{listed['Name']} (unreadable: denies everything)")


# Organizations' answer to a policy it cannot take (CreatePolicy, UpdatePolicy).
MALFORMED_POLICY = (
    "The provided policy document does not meet the requirements of the specified policy type."
)


def check_policy_content(kind: str | None, content: Any) -> None:
    """Refuse an SCP or RCP (`kind`, the policy's Type) that does not parse, as Organizations
    refuses it, before it is stored; other policy types are not the lab's to check."""
    read = {SCP_TYPE: scp, RCP_TYPE: rcp}.get(kind or "")
    if read is None or content is None:
        return
    try:
        read(content)
        syntax = rcp_syntax_problem(json.loads(content)) if kind == RCP_TYPE else None
    except (PolicyError, ValueError, TypeError):
        syntax = "not a policy"
    if syntax is not None:
        raise AwsError("MalformedPolicyDocumentException", MALFORMED_POLICY)
