"""The IAM directory as the engine needs it: roles, users and the policies that apply to them.

Everything is read from the upstream (moto or LocalStack) with the lab's admin client and
cached until `invalidate()`, which the server calls after any IAM write it forwards.
Policy documents are kept as the JSON text IAM returns (URL-decoded), then parsed once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

from botocore.exceptions import ClientError, ParamValidationError
from botocore.handlers import json_decode_policies

from lab.errors import AwsError
from lab.identity.credentials import Identity
from lab.policy.document import PolicyError, parse_policy
from lab.policy.model import DocumentKind, Policy, PolicySet
from lab.upstream import Upstream

T = TypeVar("T")
NamedPolicy = tuple[str, str]  # (policy name, JSON text)
# The answer AWS gives for keys whose user (or role) no longer exists.
_GONE = ("InvalidClientTokenId", "The security token included in the request is invalid.")


@dataclass(frozen=True)
class RoleInfo:
    """An IAM role as the engine sees it."""

    arn: str  # with the role's path
    name: str
    path: str
    role_id: str  # AROA...
    trust_policy: str
    max_session_duration: int
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    boundary_policy: str | None = None
    policies: tuple[NamedPolicy, ...] = ()  # attached managed, then inline


@dataclass(frozen=True)
class UserInfo:
    """An IAM user as the engine sees it."""

    arn: str
    name: str
    path: str
    user_id: str
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    boundary_policy: str | None = None
    policies: tuple[NamedPolicy, ...] = ()  # user's managed and inline, then its groups'


# How IAM reads one entity of each kind: (operation, name parameter, answer key).
_READ_ENTITY = {
    "role": ("get_role", "RoleName", "Role"),
    "user": ("get_user", "UserName", "User"),
    "group": ("get_group", "GroupName", "Group"),
    "instance-profile": ("get_instance_profile", "InstanceProfileName", "InstanceProfile"),
    "policy": ("get_policy", "PolicyArn", "Policy"),
}


def name_from_arn(name_or_arn: str, kind: str) -> str:
    """The name in `arn:aws:iam::ACCT:<kind>/PATH/NAME`, a bare name as is, else ""."""
    if not name_or_arn.startswith("arn:"):
        return name_or_arn
    parts = name_or_arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    if parts[2:3] != ["iam"] or not resource.startswith(f"{kind}/"):
        return ""  # not an IAM ARN of this kind: matches nothing
    return resource.rsplit("/", 1)[-1]


class IamDirectory:
    """Reads roles, users and policies from `upstream`, cached until `invalidate()`."""

    def __init__(self, upstream: Upstream) -> None:
        self._iam = upstream.client("iam")
        # Keep documents as IAM's JSON text: botocore would json.loads them on this client.
        self._iam.meta.events.unregister("after-call.iam", json_decode_policies)
        self._lock = threading.Lock()
        self._roles: dict[str, RoleInfo | None] = {}
        self._users: dict[str, UserInfo | None] = {}
        self._managed: dict[str, NamedPolicy] = {}
        self._parsed: dict[tuple[str, DocumentKind, str], Policy] = {}

    def invalidate(self) -> None:
        """Forget everything read so far (after any IAM write)."""
        with self._lock:
            self._roles.clear()
            self._users.clear()
            self._managed.clear()
            self._parsed.clear()

    def role(self, name_or_arn: str) -> RoleInfo | None:
        """The role, or None when there is none by that name (or that exact ARN)."""
        name = name_from_arn(name_or_arn, "role")
        info = self._cached(self._roles, name, self._read_role) if name else None
        # An ARN must name the role exactly: account and path included.
        exact = info is not None and name_or_arn.startswith("arn:")
        return None if exact and info.arn != name_or_arn else info

    def user(self, name_or_arn: str) -> UserInfo | None:
        """The user, or None when there is none by that name (or that exact ARN)."""
        name = name_from_arn(name_or_arn, "user")
        info = self._cached(self._users, name, self._read_user) if name else None
        # An ARN must name the user exactly: account and path included.
        exact = info is not None and name_or_arn.startswith("arn:")
        return None if exact and info.arn != name_or_arn else info

    def entity_arn(self, kind: str, name_or_arn: str) -> str | None:
        """The ARN IAM gives an entity (its path included), or None when there is none such.

        Read afresh, never cached; any failure but IAM's NoSuchEntity raises (fail closed).
        """
        operation, parameter, key = _READ_ENTITY[kind]
        try:
            return getattr(self._iam, operation)(**{parameter: name_or_arn})[key]["Arn"]
        except ParamValidationError:  # a name IAM's own model refuses: no entity has it
            return None
        except ClientError as error:
            return _none_if_missing(error)

    def identity_policies(self, identity: Identity) -> PolicySet:
        """The identity policies, boundary and session policy that apply to `identity`'s calls.

        Root: none (the engine allows root in its own account). A principal that no longer
        exists fails closed with AWS's answer for keys of a deleted user.
        """
        if identity.is_root:
            return PolicySet()
        principal = self.role(identity.role_arn) if identity.role_arn else self.user(identity.arn)
        if principal is None:
            raise AwsError(*_GONE)
        session = identity.session_policy
        return PolicySet(
            identity=tuple(
                self._parse(text, "identity", name) for name, text in principal.policies
            ),
            boundary=self._parse(principal.boundary_policy, "boundary", "PermissionsBoundary")
            if principal.boundary_policy
            else None,
            session=self._parse(session, "session", "SessionPolicy") if session else None,
        )

    def trust_policy(self, role: RoleInfo) -> Policy:
        """The role's trust policy, parsed."""
        return self._parse(role.trust_policy, "trust", f"{role.name} trust policy")

    def _parse(self, text: str, kind: DocumentKind, name: str) -> Policy:
        key = (text, kind, name)
        if key not in self._parsed:
            try:
                self._parsed[key] = parse_policy(text, kind, name)
            except PolicyError as error:
                raise AwsError(
                    "InternalFailure", f"stored policy {name} is invalid: {error}"
                ) from None
        return self._parsed[key]

    def _cached(
        self, cache: dict[str, T | None], name: str, read: Callable[[str], T | None]
    ) -> T | None:
        with self._lock:
            if name in cache:
                return cache[name]
        value = read(name)
        with self._lock:
            cache[name] = value
        return value

    def _read_role(self, name: str) -> RoleInfo | None:
        try:
            role = self._iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            return _none_if_missing(error)
        policies = self._attached("list_attached_role_policies", RoleName=name)
        policies += self._inline("list_role_policies", "get_role_policy", RoleName=name)
        return RoleInfo(
            arn=role["Arn"],
            name=role["RoleName"],
            path=role["Path"],
            role_id=role["RoleId"],
            trust_policy=unquote(role["AssumeRolePolicyDocument"]),
            max_session_duration=int(role.get("MaxSessionDuration", 3600)),
            tags=_tags(role),
            boundary_policy=self._boundary(role),
            policies=tuple(policies),
        )

    def _read_user(self, name: str) -> UserInfo | None:
        try:
            user = self._iam.get_user(UserName=name)["User"]
        except ClientError as error:
            return _none_if_missing(error)
        policies = self._attached("list_attached_user_policies", UserName=name)
        policies += self._inline("list_user_policies", "get_user_policy", UserName=name)
        for page in self._iam.get_paginator("list_groups_for_user").paginate(UserName=name):
            for group in page["Groups"]:
                group_name = group["GroupName"]
                policies += self._attached("list_attached_group_policies", GroupName=group_name)
                policies += self._inline(
                    "list_group_policies", "get_group_policy", GroupName=group_name
                )
        return UserInfo(
            arn=user["Arn"],
            name=user["UserName"],
            path=user["Path"],
            user_id=user["UserId"],
            tags=_tags(user),
            boundary_policy=self._boundary(user),
            policies=tuple(policies),
        )

    def _attached(self, operation: str, **owner: str) -> list[NamedPolicy]:
        """The default version of every managed policy attached to the owner."""
        return [
            self._managed_policy(attached["PolicyArn"])
            for page in self._iam.get_paginator(operation).paginate(**owner)
            for attached in page["AttachedPolicies"]
        ]

    def _inline(self, list_operation: str, get_operation: str, **owner: str) -> list[NamedPolicy]:
        get = getattr(self._iam, get_operation)
        return [
            (name, unquote(get(PolicyName=name, **owner)["PolicyDocument"]))
            for name in _pages(self._iam, list_operation, "PolicyNames", **owner)
        ]

    def _managed_policy(self, arn: str) -> NamedPolicy:
        with self._lock:
            if arn in self._managed:
                return self._managed[arn]
        policy = self._iam.get_policy(PolicyArn=arn)["Policy"]
        version = self._iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        named = (policy["PolicyName"], unquote(version["PolicyVersion"]["Document"]))
        with self._lock:
            self._managed[arn] = named
        return named

    def _boundary(self, principal: Mapping[str, Any]) -> str | None:
        boundary = principal.get("PermissionsBoundary")
        if not boundary:
            return None
        return self._managed_policy(boundary["PermissionsBoundaryArn"])[1]


def _pages(client: Any, operation: str, key: str, **params: str) -> Iterator[str]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page[key]


def _tags(principal: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in principal.get("Tags", [])}


def _none_if_missing(error: ClientError) -> None:
    if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
        return None
    raise error
