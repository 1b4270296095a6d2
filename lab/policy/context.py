"""The request context keys AWS derives from the principal.

Source: "AWS global condition context keys",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
(aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username,
aws:PrincipalTag/*, aws:PrincipalIsAWSService). Keys come back lower-cased: AWS matches
condition keys case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from lab.policy.model import ContextValue
from lab.policy.principals import caller_from

# aws:PrincipalType as AWS spells it, by our caller type.
_PRINCIPAL_TYPE = {
    "Account": "Account",
    "User": "User",
    "AssumedRole": "AssumedRole",
    "Role": "AssumedRole",
    "FederatedUser": "FederatedUser",
    "Anonymous": "Anonymous",
}


# Condition keys as they are looked up: lower-cased, each remembered (a batch sees the same
# few), so that a key costs one lookup, and its lower-cased string keeps its computed hash.
LOWER_KEYS: dict[str, str] = {}
_LOWER_CACHE = 4096


def lower_key(key: str) -> str:
    """`key.lower()`, the same string object for the same key."""
    low = LOWER_KEYS.get(key)
    if low is None:
        if len(LOWER_KEYS) >= _LOWER_CACHE:
            LOWER_KEYS.clear()  # bounded: keys a caller makes up cannot grow it
        low = LOWER_KEYS[key] = key.lower()
        LOWER_KEYS.setdefault(low, low)
    return low


def lower_keys(context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    """The context with its keys lower-cased (a later key wins, as a dict's update does)."""
    known = LOWER_KEYS
    return {known.get(key) or lower_key(key): value for key, value in context.items()}


def derive(
    principal: str,
    supplied: Mapping[str, str | list[str]] | None = None,
    *,
    role_arn: str | None = None,
    user_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, ContextValue]:
    """The context AWS builds for `principal`, with `supplied` keys laid over it.

    `role_arn` is the role (with its path) behind a role session, `user_id` the unique id
    (AIDA... for a user, AROA... or AROA...:session for a role session), `tags` the
    principal's tags. A supplied aws:PrincipalArn also gives the role's path.
    """
    known = LOWER_KEYS
    given = {
        known.get(key) or lower_key(key): value if isinstance(value, str) else tuple(value)
        for key, value in (supplied or {}).items()
    }
    supplied_arn = given.get("aws:principalarn")
    role_hint = role_arn or (supplied_arn if isinstance(supplied_arn, str) else None)
    context = dict(_principal_keys(principal, role_hint, user_id))
    if tags and caller_from(principal, role_hint).type != "Service":
        for key, value in tags.items():
            context[f"aws:principaltag/{key.lower()}"] = value
    context.update(given)
    return context


@lru_cache(maxsize=4096)
def _principal_keys(
    principal: str, role_arn: str | None, user_id: str | None
) -> tuple[tuple[str, ContextValue], ...]:
    """The keys AWS derives from the principal alone; a batch asks for the same few often."""
    caller = caller_from(principal, role_arn)
    if caller.type == "Service":
        return (
            ("aws:principalisawsservice", "true"),
            ("aws:principalservicename", caller.arn),
        )
    keys: list[tuple[str, ContextValue]] = [
        ("aws:principalisawsservice", "false"),
        ("aws:principaltype", _PRINCIPAL_TYPE[caller.type]),
    ]
    if caller.account:
        keys.append(("aws:principalaccount", caller.account))
        keys.append(("aws:principalarn", _principal_arn(caller.type, caller.arn, caller.role_arn)))
    userid = _userid(caller.type, caller.account, caller.arn, user_id)
    if userid:
        keys.append(("aws:userid", userid))
    if caller.type == "User":
        keys.append(("aws:username", caller.name))
    return tuple(keys)


def _principal_arn(kind: str, arn: str, role_arn: str | None) -> str:
    # A role session's aws:PrincipalArn is the role's ARN, not the session's (FACTS).
    return role_arn if kind == "AssumedRole" and role_arn else arn


def _userid(kind: str, account: str, arn: str, user_id: str | None) -> str | None:
    """aws:userid as AWS's table gives it; None when the unique id is not known."""
    if kind == "Account":
        return account
    if kind == "FederatedUser":
        return f"{account}:{arn.rsplit('/', 1)[-1]}"
    if kind == "Anonymous":
        return "anonymous"
    if not user_id:
        return None
    if kind == "AssumedRole" and ":" not in user_id:
        return f"{user_id}:{arn.rsplit('/', 1)[-1]}"  # role-id:role-session-name
    return user_id
