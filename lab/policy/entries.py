"""What IAM accepts as one entry of a statement's elements: element names, principal types and
ids, actions and resources. The full parser (document.py) words what is wrong; the well-formed
reader (wellformed.py) only asks whether anything is.

Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
"""

from __future__ import annotations

import re
from functools import lru_cache

STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
CHECK_CACHE = 8192  # distinct action, resource and principal strings remembered

_ACCOUNT_ID = re.compile(r"\d{12}")
_IAM_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:[^*?]+")

# Action and resource entries found valid: the same few recur, and a set is the cheapest test.
VALID_ACTIONS: set[str] = set()
VALID_RESOURCES: set[str] = {"*"}


def remember(valid: set[str], entry: str) -> None:
    """Add a valid entry to one of the sets above, which stay bounded."""
    if len(valid) >= CHECK_CACHE:
        valid.clear()  # bounded: entries a caller makes up cannot grow it
        valid.add("*")
    valid.add(entry)


def is_iam_sid(sid: str) -> bool:
    """IAM's Sid pattern, [0-9A-Za-z]*: empty, or ASCII letters and digits."""
    return not sid or (sid.isascii() and sid.isalnum())


def is_arn_or_star(resource: str) -> bool:
    """Whether IAM takes a Resource entry: "*" or an ARN of six parts."""
    return resource == "*" or (resource.startswith("arn:") and resource.count(":") >= 5)


@lru_cache(maxsize=CHECK_CACHE)
def stored_principal(kind: str, value: str) -> str | None:
    """The principal as AWS stores it, or None if AWS rejects it; the same few ids recur."""
    # Principal takes no wildcards but the lone "*" (reference_policies_elements_principal).
    if value == "*" and kind == "AWS":
        return value
    if not value or "*" in value or "?" in value:
        return None
    if kind == "AWS":
        if _ACCOUNT_ID.fullmatch(value):
            return f"arn:aws:iam::{value}:root"
        if not _IAM_PRINCIPAL_ARN.fullmatch(value):
            return None
    return value


@lru_cache(maxsize=CHECK_CACHE)
def action_problem(action: str) -> tuple[str, str] | None:
    """What IAM says is wrong with an action entry: (reason, IAM's message), or None."""
    if action == "*":
        return None
    vendor, colon, name = action.partition(":")
    if not colon or not vendor or not name:
        return "action {action!r} has no service prefix", NO_VENDOR
    if ":" in name:
        return (
            "action {action!r} has more than one colon",
            "Actions/Condition can contain only one colon.",
        )
    if "*" in vendor or "?" in vendor:
        return (
            "action {action!r} has a wildcard in its service prefix",
            "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards",
        )
    return None
