"""The lab's organization and VPC endpoints: which SCPs, RCPs and endpoint policy join a call.

An Organization is its tree flattened to what evaluation needs: for each account, the levels
from the root down to the account itself, each with the SCPs and RCPs attached there (AWS
Organizations User Guide, orgs_manage_policies_scps_evaluation.html: "every level from the root
through each OU in the direct path to the account, including the target account itself").
SCPs come from the caller's account, RCPs from the resource owner's (orgs_manage_policies_rcps
.html: "the RCPs of the resource owner's account are applied").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lab.policy.document import parse_policy
from lab.policy.model import Policy

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

    def guardrails(self, principal_account: str, resource_account: str) -> dict[str, Any]:
        """The PolicySet fields for a call: SCPs of the caller's account, RCPs of the
        resource owner's; neither for an account outside the organization."""
        found: dict[str, Any] = {}
        management = self.management_account
        same = principal_account == resource_account
        if principal_account in self.paths and (same or principal_account != management):
            found["scps"] = tuple(level.scps for level in self.paths[principal_account])
        if resource_account in self.paths and (same or resource_account != management):
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

    def context(self, private_ip: str) -> dict[str, str]:
        """The keys a request through this endpoint carries (IAM global condition keys)."""
        return {
            "aws:SourceVpce": self.endpoint_id,
            "aws:SourceVpc": self.vpc_id,
            "aws:VpcSourceIp": private_ip,
        }
