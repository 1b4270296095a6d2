"""Map IAM calls to the (action, resource) AWS authorizes them as."""

from __future__ import annotations

from collections.abc import Mapping

# The request parameter that names an IAM call's resource, and the ARN it makes.
_IAM_RESOURCE_PARAMS: tuple[tuple[str, str], ...] = (
    ("RoleName", "arn:aws:iam::{account}:role/{value}"),
    ("UserName", "arn:aws:iam::{account}:user/{value}"),
    ("GroupName", "arn:aws:iam::{account}:group/{value}"),
    ("InstanceProfileName", "arn:aws:iam::{account}:instance-profile/{value}"),
    ("PolicyArn", "{value}"),
)

# IAM actions that only read; any other IAM call may change what the engine must see.
_READ_PREFIXES = ("Get", "List", "Simulate", "Generate")


def iam_resource(params: Mapping[str, object], account: str) -> str:
    """The ARN an IAM call acts on, or "*" for calls not scoped to one resource."""
    for name, template in _IAM_RESOURCE_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and value:
            return template.format(account=account, value=value)
    return "*"


def iam_writes(action: str) -> bool:
    """Whether an IAM action may change roles, users or policies."""
    return not action.startswith(_READ_PREFIXES)
