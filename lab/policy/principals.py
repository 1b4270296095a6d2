"""Who is calling, and does a statement's Principal / NotPrincipal name them?

Rules: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
and .../reference_policies_elements_notprincipal.html. How a statement names the caller matters to
evaluation (reference_policies_evaluation-logic.html, "Resource-based policies"): a grant to the
session or user itself stands alone, a grant to the role is still bounded by the permissions
boundary and session policy, and a grant to the account defers to the account's IAM policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

PrincipalType = Literal[
    "Account", "User", "AssumedRole", "Role", "FederatedUser", "Service", "Anonymous"
]

# How a resource policy statement names the caller, weakest first (compared as ints).
NO_MATCH = 0
ACCOUNT = 1  # the caller's account (12-digit id or :root): defers to IAM
ROLE = 2  # the role behind the session: bounded by boundary and session policy
DIRECT = 3  # the caller itself ("*", the session, the user, the service)

GRANT_NAMES = {NO_MATCH: "not named", ACCOUNT: "account", ROLE: "role", DIRECT: "caller"}


@dataclass(frozen=True)
class Caller:
    """The caller facts principal matching needs, taken from its ARN."""

    arn: str  # as the request is made: the session ARN for a role session
    type: PrincipalType
    account: str = ""
    partition: str = "aws"
    role_arn: str | None = None  # the role behind a session (with its path when known)
    name: str = ""  # user name, role name, federated user name

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root" if self.account else ""

    @property
    def identities(self) -> tuple[str, ...]:
        """Every identity AWS may check the caller as: account, role, then the caller itself."""
        chain = [self.root_arn] if self.account and self.type != "Account" else []
        if self.role_arn and self.role_arn != self.arn:
            chain.append(self.role_arn)
        chain.append(self.arn)
        return tuple(chain)


@lru_cache(maxsize=4096)
def caller_from(principal: str, principal_arn: str | None = None) -> Caller:
    """The Caller for a principal ARN (or service name); `principal_arn` is aws:PrincipalArn.

    For a role session `principal_arn` supplies the role's path, which the session ARN lacks.
    Anything unrecognised is Anonymous: only a `"*"` principal can name it.
    """
    if not principal.startswith("arn:"):
        if principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
            return Caller(principal, "Service", name=principal)
        return Caller(principal, "Anonymous")
    parts = principal.split(":", 5)
    if len(parts) != 6:
        return Caller(principal, "Anonymous")
    _, partition, service, _, account, resource = parts
    kind, _, rest = resource.partition("/")
    if service == "iam" and resource == "root":
        return Caller(principal, "Account", account, partition)
    if service == "iam" and kind == "user" and rest:
        return Caller(principal, "User", account, partition, name=rest.rsplit("/", 1)[-1])
    if service == "iam" and kind == "role" and rest:
        return Caller(principal, "Role", account, partition, principal, rest.rsplit("/", 1)[-1])
    if service == "sts" and kind == "assumed-role" and "/" in rest:
        role_name = rest.split("/", 1)[0]
        role_arn = principal_arn
        if not (role_arn and _role_name(role_arn) == role_name):
            role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"
        return Caller(principal, "AssumedRole", account, partition, role_arn, role_name)
    if service == "sts" and kind == "federated-user" and rest:
        return Caller(principal, "FederatedUser", account, partition, name=rest)
    return Caller(principal, "Anonymous", account, partition)


def _role_name(arn: str) -> str | None:
    """The role name of a role ARN (path dropped), else None."""
    resource = arn.split(":", 5)[-1]
    if not resource.startswith("role/"):
        return None
    return resource.rsplit("/", 1)[-1]


def _same_role(policy_arn: str, role_arn: str) -> bool:
    # Role names are unique in an account whatever the path, so account + name identify it.
    if policy_arn == role_arn:
        return True
    policy_parts = policy_arn.split(":", 5)
    role_parts = role_arn.split(":", 5)
    return (
        len(policy_parts) == 6
        and policy_parts[2] == "iam"
        and policy_parts[4] == role_parts[4]
        and _role_name(policy_arn) is not None
        and _role_name(policy_arn) == _role_name(role_arn)
    )


def grant(spec: Mapping[str, tuple[str, ...]], caller: Caller) -> int:
    """How a Principal element names the caller: NO_MATCH, ACCOUNT, ROLE or DIRECT."""
    best = NO_MATCH
    for value in spec.get("AWS", ()):
        if value == "*":
            return DIRECT
        if caller.role_arn and _same_role(value, caller.role_arn):
            best = max(best, ROLE)
        elif value == caller.arn:
            return DIRECT
        elif caller.account and value == caller.root_arn:
            best = max(best, ACCOUNT)
    if caller.type == "Service" and caller.arn in spec.get("Service", ()):
        return DIRECT
    return best


def not_principal_applies(spec: Mapping[str, tuple[str, ...]], caller: Caller) -> bool:
    """Whether a NotPrincipal statement applies: some identity of the caller is not listed.

    AWS may check the account, then the role, then the session, so each must be listed to
    exempt the caller (reference_policies_elements_notprincipal.html).
    """
    listed = spec.get("AWS", ())
    if "*" in listed:
        return False
    if caller.type == "Service":
        return caller.arn not in spec.get("Service", ())
    for identity in caller.identities:
        if identity in listed:
            continue
        if identity == caller.role_arn and any(_same_role(v, identity) for v in listed):
            continue
        return True
    return False
