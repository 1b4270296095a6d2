"""Repository policy and lifecycle policy operations (stored text; ECR returns it verbatim)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import (
    LIFECYCLE_POLICY_NOT_FOUND,
    REPOSITORY_POLICY_NOT_FOUND,
    EcrError,
    invalid_lifecycle_policy,
)
from lab.ecr.lifecycle import LifecyclePolicyInvalid, parse_policy
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
    """PutLifecyclePolicy: stored once ECR's validation passes; not yet evaluated."""
    answer = _put(ctx, params, _LIFECYCLE_POLICY, check_lifecycle_policy)
    ctx.registry.repository(params["repositoryName"]).lifecycle_evaluated_at = None
    return answer


def get_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetLifecyclePolicy, with lastEvaluatedAt once the lifecycle job has evaluated it."""
    answer = _get(ctx, params, _LIFECYCLE_POLICY, delete=False)
    evaluated = ctx.registry.repository(params["repositoryName"]).lifecycle_evaluated_at
    return answer | ({"lastEvaluatedAt": evaluated} if evaluated is not None else {})


def delete_lifecycle_policy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteLifecyclePolicy: answers with the policy it deleted."""
    return _get(ctx, params, _LIFECYCLE_POLICY, delete=True)


def check_lifecycle_policy(text: str) -> None:
    """ECR's validation of lifecycle policy text (lab.ecr.lifecycle), with ECR's error."""
    try:
        parse_policy(text)
    except LifecyclePolicyInvalid as invalid:
        raise invalid_lifecycle_policy(str(invalid)) from None


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
