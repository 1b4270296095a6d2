"""The `registry` key of a scenario file: the registry policy and its scope, repository
creation templates and pull through cache rules, read with parse.py's reader.

    registry:
      policy_scope: V1
      policy: {Version: 2012-10-17, Statement: [...]}        # role references allowed
      creation_templates:
        team: {applied_for: [CREATE_ON_PUSH], repository_policy: {...}}
      pull_through_cache_rules:
        ecr-public: {upstream_registry_url: public.ecr.aws, upstream_images: [library/hello]}
        quay: {upstream_registry_url: quay.io, upstream_address: "http://127.0.0.1:5000"}
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lab.scenario.model import CreationTemplateSpec, PullThroughCacheRuleSpec, RegistrySpec

if TYPE_CHECKING:
    from lab.scenario.parse import _Reader

_REGISTRY_KEYS = {"policy", "policy_scope", "creation_templates", "pull_through_cache_rules"}
_TEMPLATE_KEYS = {"applied_for", "repository_policy"}
_RULE_KEYS = {"upstream_registry_url", "upstream_images", "upstream_address"}
SCOPE = re.compile(r"V1|V2")
APPLIED_FOR = re.compile(r"REPLICATION|PULL_THROUGH_CACHE|CREATE_ON_PUSH")
# botocore's Prefix and PullThroughCacheRuleRepositoryPrefix patterns (ROOT or a name).
PREFIX = re.compile(
    r"ROOT|[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
UPSTREAM_URL = re.compile(r"[a-z0-9.-]+(?::\d+)?")
# serve's --upstream-registry: a registry on the loopback (the lab never calls the internet).
UPSTREAM_ADDRESS = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?/?")
IMAGE_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")


def registry(read: _Reader, node: Any, role_keys: set[str]) -> RegistrySpec:
    """The scenario's registry settings."""
    node = read.mapping(node, "registry", _REGISTRY_KEYS)
    policy = node.get("policy")
    return RegistrySpec(
        policy=None
        if policy is None
        else read.policy(policy, "registry policy", "registry", role_keys),
        policy_scope=read.text(node["policy_scope"], "policy_scope", SCOPE)
        if "policy_scope" in node
        else "V2",
        creation_templates=read.entries(
            node, "creation_templates", lambda key, n: _template(read, key, n, role_keys)
        ),
        pull_through_cache_rules=read.entries(
            node, "pull_through_cache_rules", lambda key, n: _rule(read, key, n)
        ),
    )


def _template(read: _Reader, prefix: str, node: Any, role_keys: set[str]) -> CreationTemplateSpec:
    if not PREFIX.fullmatch(prefix):
        raise read.fail(node, f"template prefix {prefix!r} is not valid for ECR")
    node = read.mapping(node, f"creation template {prefix}", _TEMPLATE_KEYS)
    if "applied_for" not in node:
        raise read.fail(node, f"creation template {prefix}: missing `applied_for`")
    policy = node.get("repository_policy")
    return CreationTemplateSpec(
        prefix,
        read.texts(node["applied_for"], "applied_for", APPLIED_FOR),
        None
        if policy is None
        else read.policy(policy, f"template {prefix} repository_policy", "repository", role_keys),
    )


def _rule(read: _Reader, prefix: str, node: Any) -> PullThroughCacheRuleSpec:
    if not PREFIX.fullmatch(prefix) or not 2 <= len(prefix) <= 30:
        raise read.fail(node, f"pull through cache prefix {prefix!r} is not valid for ECR")
    node = read.mapping(node, f"pull through cache rule {prefix}", _RULE_KEYS)
    if "upstream_registry_url" not in node:
        raise read.fail(node, f"pull through cache rule {prefix}: missing `upstream_registry_url`")
    images = node.get("upstream_images")
    return PullThroughCacheRuleSpec(
        prefix,
        read.text(node["upstream_registry_url"], "upstream_registry_url", UPSTREAM_URL),
        () if images is None else read.texts(images, "upstream_images", IMAGE_NAME),
        read.text(node["upstream_address"], "upstream_address", UPSTREAM_ADDRESS).rstrip("/")
        if "upstream_address" in node
        else None,
    )
