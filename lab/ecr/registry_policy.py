"""The registry policy and the account settings: ECR's registry-wide permissions and switches.

Sources (ECR User Guide and API Reference):
- registry-permissions-create.html: two scopes. V2 (the default) "includes all ECR
  permissions" and is enforced on every ECR request; V1 enforces only ecr:ReplicateImage,
  ecr:BatchImportUpstreamImage and ecr:CreateRepository at the registry level.
- registry-permissions-examples.html: a registry policy names a Principal and may name the
  registry's repositories in Resource (`arn:aws:ecr:REGION:ACCT:repository/*`).
- API_GetAccountSetting.html / API_PutAccountSetting.html: the settings BASIC_SCAN_TYPE_VERSION
  (AWS_NATIVE), REGISTRY_POLICY_SCOPE (V1 or V2), BLOB_MOUNTING (ENABLED or DISABLED).
- blob-mounting.html: blob mounting is opt-in (DISABLED until enabled).
"""

from __future__ import annotations

from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import INVALID_PARAMETER, REGISTRY_POLICY_NOT_FOUND
from lab.policy import matching
from lab.policy.document import PolicyError, parse_policy

REGISTRY_POLICY_SCOPE = "REGISTRY_POLICY_SCOPE"
BLOB_MOUNTING = "BLOB_MOUNTING"
# The actions a V1 registry policy governs (registry-permissions-create.html).
V1_ACTIONS = frozenset(
    {"ecr:ReplicateImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
)
# Each setting: its default, then every value PutAccountSetting accepts.
SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "BASIC_SCAN_TYPE_VERSION": ("AWS_NATIVE", ("AWS_NATIVE",)),
    REGISTRY_POLICY_SCOPE: ("V2", ("V1", "V2")),
    BLOB_MOUNTING: ("DISABLED", ("ENABLED", "DISABLED")),
}


def governs(scope: str, action: str) -> bool:
    """Whether a registry policy of `scope` takes part in deciding `action` (an ECR action)."""
    if not action.startswith("ecr:"):
        return False
    return scope != "V1" or action in V1_ACTIONS


def governing_policy(policy: str | None, scope: str, action: str) -> str | None:
    """The registry policy text the authorizer must weigh for `action`, or None: the one
    question replication, pull through cache and creation templates ask too."""
    return policy if policy is not None and governs(scope, action) else None


def check_registry_policy(text: str, scope: str) -> None:
    """ECR's check of a registry policy: the engine's parser; under V1, every Action must be
    one V1 enforces (a pattern such as ecr:* passes: it covers them)."""
    try:
        policy = parse_policy(text, "registry")
    except PolicyError as error:
        raise error.to_aws_error("registry") from None
    except (ValueError, TypeError):
        raise PolicyError("not a policy").to_aws_error("registry") from None
    if scope != "V1":
        return
    for statement in policy.statements:
        for pattern in statement.action or ():
            if not any(matching.action_matches(pattern, action) for action in V1_ACTIONS):
                raise PolicyError("not a V1 action").to_aws_error("registry")


def setting(ctx: Context, name: str) -> str:
    """The registry's value of account setting `name` (its default until put)."""
    return ctx.registry.settings.get(name, SETTINGS[name][0])


def put_registry_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutRegistryPolicy: validated for the registry's current scope, then stored verbatim."""
    text = params["policyText"]
    check_registry_policy(text, setting(ctx, REGISTRY_POLICY_SCOPE))
    ctx.registry.policy = text
    return {"registryId": ctx.registry.account, "policyText": text}


def get_registry_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetRegistryPolicy."""
    return _registry_policy(ctx, delete=False)


def delete_registry_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteRegistryPolicy: answers with the policy it deleted."""
    return _registry_policy(ctx, delete=True)


def get_account_setting(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetAccountSetting: the value, or the documented default of a setting never put."""
    name = _known(params["name"])
    return {"name": name, "value": setting(ctx, name)}


def put_account_setting(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutAccountSetting: one of the values the API reference lists for the setting."""
    name, value = _known(params["name"]), params["value"]
    allowed = SETTINGS[name][1]
    if value not in allowed:
        raise INVALID_PARAMETER(member="value", constraint=_one_of(allowed))
    ctx.registry.settings[name] = value
    return {"name": name, "value": value}


def _registry_policy(ctx: Context, *, delete: bool) -> dict[str, Any]:
    registry = ctx.registry
    if registry.policy is None:
        raise REGISTRY_POLICY_NOT_FOUND(registry_id=registry.account)
    text = registry.policy
    if delete:
        registry.policy = None
    return {"registryId": registry.account, "policyText": text}


def _known(name: str) -> str:
    if name not in SETTINGS:
        raise INVALID_PARAMETER(member="name", constraint=_one_of(SETTINGS))
    return name


def _one_of(values: Any) -> str:
    # (lab) ECR's wording for an enum constraint (lab.ecr.validation).
    return f"Member must satisfy enum value set: [{', '.join(values)}]"
