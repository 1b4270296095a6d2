"""Map IAM calls to the (action, resources) AWS authorizes them as: real ARNs, paths included.

An IAM ARN carries the entity's path (`arn:aws:iam::ACCT:role/admin/NAME`), which a request
names only when it creates or moves the entity: otherwise the path is IAM's to tell
(IAM User Guide, "IAM identifiers", reference_identifiers.html).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from lab.errors import AwsError
from lab.identity.credentials import Identity

# (kind, name or ARN) -> the ARN IAM gives the entity, or None when there is no such entity.
Lookup = Callable[[str, str], str | None]

# The parameter that names a call's resource, most specific first: AddRoleToInstanceProfile
# acts on the instance profile, AddUserToGroup on the group (Service Authorization Reference
# for IAM, list_awsidentityandaccessmanagementiam.html).
_NAMED_BY: tuple[tuple[str, str], ...] = (
    ("InstanceProfileName", "instance-profile"),
    ("GroupName", "group"),
    ("RoleName", "role"),
    ("UserName", "user"),
    ("PolicyArn", "policy"),
)
# Calls that create an entity: its name parameter and kind; its path is the request's `Path`.
_CREATES: dict[str, tuple[str, str]] = {
    "CreateRole": ("RoleName", "role"),
    "CreateUser": ("UserName", "user"),
    "CreateGroup": ("GroupName", "group"),
    "CreateInstanceProfile": ("InstanceProfileName", "instance-profile"),
    "CreatePolicy": ("PolicyName", "policy"),
}
# Calls that rename or move an entity need permission on the source and the target
# (IAM API Reference, UpdateUser and UpdateGroup).
_MOVES: dict[str, str] = {"UpdateUser": "NewUserName", "UpdateGroup": "NewGroupName"}
# Calls whose user defaults to the caller's own when UserName is left out (IAM API Reference,
# e.g. CreateAccessKey: "IAM determines the user name implicitly").
_OWN_USER_BY_DEFAULT = frozenset(
    {
        "CreateAccessKey",
        "CreateLoginProfile",
        "DeactivateMFADevice",
        "DeleteAccessKey",
        "DeleteLoginProfile",
        "DeleteServiceSpecificCredential",
        "DeleteSigningCertificate",
        "GetLoginProfile",
        "GetMFADevice",
        "GetUser",
        "ListAccessKeys",
        "ListMFADevices",
        "ListSSHPublicKeys",
        "ListServiceSpecificCredentials",
        "ListSigningCertificates",
        "ResetServiceSpecificCredential",
        "UpdateAccessKey",
        "UpdateServiceSpecificCredential",
        "UpdateSigningCertificate",
        "UploadSigningCertificate",
    }
)
# botocore's pathType pattern (IAM API Reference): "/" or "/.../" of printable ASCII.
_PATH = re.compile(r"/|/[\x21-\x7e]+/")
_BAD_PATH = (
    "The specified value for path is invalid. It must begin and end with / and contain only "
    "alphanumeric characters and/or / characters."
)

# IAM actions that only read; any other IAM call may change what the engine must see.
_READ_PREFIXES = ("Get", "List", "Simulate", "Generate")


def iam_resources(
    action: str, params: Mapping[str, object], caller: Identity, lookup: Lookup
) -> list[str]:
    """The ARNs an IAM call is authorized on, each with its path; ["*"] for calls not scoped
    to one resource. An entity that does not exist (yet) has the path "/"."""
    account = caller.account
    if action in _CREATES:
        param, kind = _CREATES[action]
        name = _text(params, param)
        return [_arn(account, kind, _path(params, "Path"), name)] if name else ["*"]
    named = next(((kind, name) for p, kind in _NAMED_BY if (name := _text(params, p))), None)
    if named is None:
        own = action in _OWN_USER_BY_DEFAULT and not caller.is_root and not caller.role_arn
        return [caller.arn] if own else ["*"]
    kind, name = named
    arn = lookup(kind, name) or (name if kind == "policy" else _arn(account, kind, "/", name))
    resources = [arn]
    if action in _MOVES and (_MOVES[action] in params or "NewPath" in params):
        resource = arn.split(":", 5)[-1]  # KIND/PATH/NAME
        cut = resource.rindex("/") + 1
        path = _path(params, "NewPath") if "NewPath" in params else resource[len(kind) : cut]
        resources.append(_arn(account, kind, path, _text(params, _MOVES[action]) or resource[cut:]))
    return resources


def iam_writes(action: str) -> bool:
    """Whether an IAM action may change roles, users or policies."""
    return not action.startswith(_READ_PREFIXES)


def _arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def _text(params: Mapping[str, object], name: str) -> str:
    value = params.get(name)
    return value if isinstance(value, str) else ""


def _path(params: Mapping[str, object], name: str) -> str:
    """The request's path for the entity ("/" when left out), or IAM's ValidationError."""
    path = params.get(name, "/")
    if not isinstance(path, str) or len(path) > 512 or not _PATH.fullmatch(path):
        raise AwsError("ValidationError", _BAD_PATH)
    return path
