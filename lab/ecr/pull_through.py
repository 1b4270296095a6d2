"""Pull through cache rules: which upstream registry a repository prefix caches.

ECR User Guide, "Sync an upstream registry with an Amazon ECR private registry"
(pull-through-cache.html) and "Creating a pull through cache rule"
(pull-through-cache-creating-rule.html); API Reference CreatePullThroughCacheRule,
DescribePullThroughCacheRules, UpdatePullThroughCacheRule, DeletePullThroughCacheRule,
ValidatePullThroughCacheRule. Each upstream has its one registry URL (CreatePullThroughCacheRule,
upstreamRegistryUrl); Docker Hub, GitHub, GitLab and Azure need a Secrets Manager secret whose
name starts with `ecr-pullthroughcache/` (botocore's pattern checks the name); an ECR upstream
needs a customRoleArn instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import (
    INVALID_PARAMETER,
    PULL_THROUGH_CACHE_RULE_ALREADY_EXISTS,
    PULL_THROUGH_CACHE_RULE_NOT_FOUND,
    UNSUPPORTED_UPSTREAM_REGISTRY,
)
from lab.ecr.model import Registry
from lab.ecr.operation import Operation
from lab.ecr.pages import paginate
from lab.ecr.templates import ROOT, longest_match
from lab.ecr.upstream_client import probe


@dataclass(frozen=True)
class Upstream:
    """One kind of upstream registry (botocore's UpstreamRegistry enum)."""

    url: re.Pattern[str]
    needs_credential: bool = False
    needs_role: bool = False


UPSTREAMS = {
    "ecr": Upstream(
        re.compile(r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com"), needs_role=True
    ),
    "ecr-public": Upstream(re.compile(r"public\.ecr\.aws")),
    "quay": Upstream(re.compile(r"quay\.io")),
    "k8s": Upstream(re.compile(r"registry\.k8s\.io")),
    "docker-hub": Upstream(re.compile(r"registry-1\.docker\.io"), needs_credential=True),
    "github-container-registry": Upstream(re.compile(r"ghcr\.io"), needs_credential=True),
    "azure-container-registry": Upstream(
        re.compile(r"[a-z0-9-]+\.azurecr\.io"), needs_credential=True
    ),
    "gitlab-container-registry": Upstream(
        re.compile(r"registry\.gitlab\.com"), needs_credential=True
    ),
    "chainguard": Upstream(re.compile(r"cgr\.dev")),
}
_SHOWN = (
    "ecrRepositoryPrefix",
    "upstreamRegistryUrl",
    "createdAt",
    "registryId",
    "credentialArn",
    "customRoleArn",
    "upstreamRepositoryPrefix",
)


def rule_for(registry: Registry, name: str) -> dict[str, Any] | None:
    """The rule whose prefix covers repository `name` (the longest; `ROOT` last), or None."""
    return longest_match(registry.pull_through_cache_rules, name)


def upstream_repository(rule: dict[str, Any], name: str) -> str:
    """The upstream repository that repository `name` caches under `rule`: the name without
    the rule's prefix, under the upstream repository prefix when there is one."""
    prefix = rule["ecrRepositoryPrefix"]
    rest = name if prefix == ROOT else name.removeprefix(prefix.rstrip("/") + "/")
    upstream = rule.get("upstreamRepositoryPrefix", ROOT)
    return rest if upstream == ROOT else f"{upstream.rstrip('/')}/{rest}"


def create_pull_through_cache_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreatePullThroughCacheRule."""
    prefix, rules = params["ecrRepositoryPrefix"], ctx.registry.pull_through_cache_rules
    if prefix in rules:
        raise PULL_THROUGH_CACHE_RULE_ALREADY_EXISTS(
            prefix=prefix, registry_id=ctx.registry.account
        )
    url = params["upstreamRegistryUrl"]
    kind = params.get("upstreamRegistry") or _kind_of(url)
    upstream = UPSTREAMS[kind]
    if not upstream.url.fullmatch(url):
        raise UNSUPPORTED_UPSTREAM_REGISTRY(url=url)
    if upstream.needs_credential and "credentialArn" not in params:
        raise INVALID_PARAMETER(
            member="credentialArn",
            constraint=f"A credential ARN is required for the upstream registry {kind}",
        )
    if upstream.needs_role and "customRoleArn" not in params:
        raise INVALID_PARAMETER(
            member="customRoleArn",
            constraint="A custom role ARN is required for an Amazon ECR upstream registry",
        )
    optional = ("credentialArn", "customRoleArn", "upstreamRepositoryPrefix")
    rule = {
        "ecrRepositoryPrefix": prefix,
        "upstreamRegistryUrl": url,
        "createdAt": ctx.now,
        "registryId": ctx.registry.account,
        "upstreamRegistry": kind,
        **{key: params[key] for key in optional if key in params},
        "updatedAt": ctx.now,
    }
    rules[prefix] = rule
    return {key: rule[key] for key in (*_SHOWN, "upstreamRegistry") if key in rule}


def describe_pull_through_cache_rules(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribePullThroughCacheRules; a prefix asked for that has no rule is not found."""
    rules = ctx.registry.pull_through_cache_rules
    wanted = params.get("ecrRepositoryPrefixes")
    for prefix in wanted or []:
        _rule(ctx, prefix)
    chosen = [rule for prefix, rule in rules.items() if wanted is None or prefix in wanted]
    page, token = paginate(chosen, lambda rule: [rule["ecrRepositoryPrefix"]], params)
    result: dict[str, Any] = {"pullThroughCacheRules": page}
    if token:
        result["nextToken"] = token
    return result


def update_pull_through_cache_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdatePullThroughCacheRule: a new credential or custom role."""
    rule = _rule(ctx, params["ecrRepositoryPrefix"])
    rule.update(
        {key: params[key] for key in ("credentialArn", "customRoleArn") if key in params},
        updatedAt=ctx.now,
    )
    shown = ("ecrRepositoryPrefix", "registryId", "updatedAt", *_SHOWN[4:])
    return {key: rule[key] for key in shown if key in rule}


def delete_pull_through_cache_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeletePullThroughCacheRule: answers with the rule it deleted."""
    rule = _rule(ctx, params["ecrRepositoryPrefix"])
    del ctx.registry.pull_through_cache_rules[rule["ecrRepositoryPrefix"]]
    return {key: rule[key] for key in _SHOWN if key in rule}


def validate_pull_through_cache_rule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ValidatePullThroughCacheRule: whether ECR can reach the upstream registry (offline: the
    address `serve --upstream-registry` maps its URL to) and authenticate to it."""
    rule = _rule(ctx, params["ecrRepositoryPrefix"])
    shown = {key: rule[key] for key in _SHOWN if key in rule and key != "createdAt"}
    failure = probe(ctx.upstreams.get(rule["upstreamRegistryUrl"]), rule["upstreamRegistryUrl"])
    return shown | {"isValid": failure is None} | ({"failure": failure} if failure else {})


def _kind_of(url: str) -> str:
    kind = next((kind for kind, up in UPSTREAMS.items() if up.url.fullmatch(url)), None)
    if kind is None:
        raise UNSUPPORTED_UPSTREAM_REGISTRY(url=url)
    return kind


def _rule(ctx: Context, prefix: str) -> dict[str, Any]:
    rule = ctx.registry.pull_through_cache_rules.get(prefix)
    if rule is None:
        raise PULL_THROUGH_CACHE_RULE_NOT_FOUND(prefix=prefix, registry_id=ctx.registry.account)
    return rule


OPERATIONS = {
    "CreatePullThroughCacheRule": Operation(create_pull_through_cache_rule, True),
    "DescribePullThroughCacheRules": Operation(describe_pull_through_cache_rules, False),
    "UpdatePullThroughCacheRule": Operation(update_pull_through_cache_rule, True),
    "DeletePullThroughCacheRule": Operation(delete_pull_through_cache_rule, True),
    "ValidatePullThroughCacheRule": Operation(validate_pull_through_cache_rule, False),
}
