"""Repository policy and lifecycle policy operations (stored text; ECR returns it verbatim)."""

from __future__ import annotations

import json
from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import (
    invalid_lifecycle_policy,
    lifecycle_policy_not_found,
    repository_policy_not_found,
)
from lab.ecr.model import Repository


def set_repository_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """SetRepositoryPolicy: the policy engine's validator decides what is a valid policy."""
    repository = ctx.registry.repository(params["repositoryName"])
    ctx.validate_policy(params["policyText"])
    repository.policy = params["policyText"]
    return _policy_answer(ctx, repository, repository.policy)


def get_repository_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetRepositoryPolicy."""
    repository = ctx.registry.repository(params["repositoryName"])
    if repository.policy is None:
        raise repository_policy_not_found(repository.name, ctx.registry.account)
    return _policy_answer(ctx, repository, repository.policy)


def delete_repository_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteRepositoryPolicy: answers with the policy it deleted."""
    repository = ctx.registry.repository(params["repositoryName"])
    if repository.policy is None:
        raise repository_policy_not_found(repository.name, ctx.registry.account)
    deleted, repository.policy = repository.policy, None
    return _policy_answer(ctx, repository, deleted)


def put_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutLifecyclePolicy: stored once it reads as a lifecycle policy (never applied)."""
    repository = ctx.registry.repository(params["repositoryName"])
    text = params["lifecyclePolicyText"]
    if not is_lifecycle_policy(text):
        raise invalid_lifecycle_policy()
    repository.lifecycle_policy = text
    return _lifecycle_answer(ctx, repository, text)


def get_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetLifecyclePolicy (no lastEvaluatedAt: the lab never evaluates lifecycle rules)."""
    repository = ctx.registry.repository(params["repositoryName"])
    if repository.lifecycle_policy is None:
        raise lifecycle_policy_not_found(repository.name, ctx.registry.account)
    return _lifecycle_answer(ctx, repository, repository.lifecycle_policy)


def delete_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteLifecyclePolicy: answers with the policy it deleted."""
    repository = ctx.registry.repository(params["repositoryName"])
    if repository.lifecycle_policy is None:
        raise lifecycle_policy_not_found(repository.name, ctx.registry.account)
    deleted, repository.lifecycle_policy = repository.lifecycle_policy, None
    return _lifecycle_answer(ctx, repository, deleted)


def is_lifecycle_policy(text: str) -> bool:
    """Whether `text` is a JSON object whose `rules` are a non-empty list of rule objects."""
    try:
        document = json.loads(text)
    except ValueError:
        return False
    rules = document.get("rules") if isinstance(document, dict) else None
    return bool(rules) and isinstance(rules, list) and all(isinstance(r, dict) for r in rules)


def _policy_answer(ctx: Context, repository: Repository, text: str) -> dict[str, Any]:
    return {
        "registryId": ctx.registry.account,
        "repositoryName": repository.name,
        "policyText": text,
    }


def _lifecycle_answer(ctx: Context, repository: Repository, text: str) -> dict[str, Any]:
    return {
        "registryId": ctx.registry.account,
        "repositoryName": repository.name,
        "lifecyclePolicyText": text,
    }
