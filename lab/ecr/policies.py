"""Repository policy and lifecycle policy operations (stored text; ECR returns it verbatim)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab import json_input
from lab.ecr.context import Context
from lab.ecr.errors import (
    INVALID_LIFECYCLE_POLICY,
    LIFECYCLE_POLICY_NOT_FOUND,
    REPOSITORY_POLICY_NOT_FOUND,
    EcrError,
)
from lab.ecr.model import Repository


@dataclass(frozen=True)
class _PolicyKind:
    """Where a repository keeps one kind of policy, how ECR names it, and its not-found error."""

    attribute: str  # on Repository
    member: str  # in requests and answers
    not_found: EcrError


_REPOSITORY_POLICY = _PolicyKind("policy", "policyText", REPOSITORY_POLICY_NOT_FOUND)
_LIFECYCLE_POLICY = _PolicyKind(
    "lifecycle_policy", "lifecyclePolicyText", LIFECYCLE_POLICY_NOT_FOUND
)


def set_repository_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """SetRepositoryPolicy: the policy engine's validator decides what is a valid policy."""
    return _put(ctx, params, _REPOSITORY_POLICY, ctx.validate_policy)


def get_repository_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetRepositoryPolicy."""
    return _get(ctx, params, _REPOSITORY_POLICY, delete=False)


def delete_repository_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteRepositoryPolicy: answers with the policy it deleted."""
    return _get(ctx, params, _REPOSITORY_POLICY, delete=True)


def put_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutLifecyclePolicy: stored once it reads as a lifecycle policy (never applied)."""
    return _put(ctx, params, _LIFECYCLE_POLICY, _check_lifecycle_policy)


def get_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetLifecyclePolicy (no lastEvaluatedAt: the lab never evaluates lifecycle rules)."""
    return _get(ctx, params, _LIFECYCLE_POLICY, delete=False)


def delete_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteLifecyclePolicy: answers with the policy it deleted."""
    return _get(ctx, params, _LIFECYCLE_POLICY, delete=True)


def is_lifecycle_policy(text: str) -> bool:
    """Whether `text` is a JSON object whose `rules` are a non-empty list of rule objects."""
    try:
        document = json_input.loads(text)
    except ValueError:
        return False
    rules = document.get("rules") if isinstance(document, dict) else None
    return bool(rules) and isinstance(rules, list) and all(isinstance(r, dict) for r in rules)


def _check_lifecycle_policy(text: str) -> None:
    if not is_lifecycle_policy(text):
        raise INVALID_LIFECYCLE_POLICY()


def _put(
    ctx: Context, params: dict[str, Any], kind: _PolicyKind, check: Callable[[str], None]
) -> dict[str, Any]:
    repository = ctx.registry.repository(params["repositoryName"])  # a missing one answers first
    text = params[kind.member]
    check(text)
    setattr(repository, kind.attribute, text)
    return _answer(ctx, repository, kind, text)


def _get(
    ctx: Context, params: dict[str, Any], kind: _PolicyKind, *, delete: bool
) -> dict[str, Any]:
    repository = ctx.registry.repository(params["repositoryName"])
    text = getattr(repository, kind.attribute)
    if text is None:
        raise kind.not_found(name=repository.name, registry_id=ctx.registry.account)
    if delete:
        setattr(repository, kind.attribute, None)
    return _answer(ctx, repository, kind, text)


def _answer(ctx: Context, repository: Repository, kind: _PolicyKind, text: str) -> dict[str, Any]:
    return {
        "registryId": ctx.registry.account,
        "repositoryName": repository.name,
        kind.member: text,
    }
