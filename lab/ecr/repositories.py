"""Repository operations: create, describe, delete, tag mutability, resource tags, registry."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

from lab.ecr import replication
from lab.ecr.blobs import UploadUnknown
from lab.ecr.context import Context
from lab.ecr.errors import (
    INVALID_TAG_PARAMETER,
    REPOSITORY_ALREADY_EXISTS,
    REPOSITORY_NOT_EMPTY,
    REPOSITORY_NOT_FOUND,
)
from lab.ecr.model import REPOSITORY_ARN, Repository
from lab.ecr.pages import paginate
from lab.ecr.views import repository_view, tag_list

# AWS's tag rules ("Tagging best practices", and each service's Tag type): a key of 1-128
# characters, a value of 0-256, both `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`.
MAX_TAG_KEY, MAX_TAG_VALUE = 128, 256
_TAG_PUNCTUATION = frozenset("_.:/=+-@")
_TAG_CATEGORIES = ("L", "Z", "N")  # letters, separators (spaces), numbers


def create_repository(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateRepository."""
    name = params["repositoryName"]
    registry = ctx.registry
    if name in registry.repositories:
        raise REPOSITORY_ALREADY_EXISTS(name=name, registry_id=registry.account)
    repository = Repository(name=name, created_at=ctx.now)
    _set_mutability(repository, params)
    if "imageScanningConfiguration" in params:
        repository.image_scanning_configuration = {
            "scanOnPush": bool(params["imageScanningConfiguration"].get("scanOnPush", False))
        }
    if "encryptionConfiguration" in params:
        repository.encryption_configuration = encryption(ctx, params["encryptionConfiguration"])
    repository.tags = resource_tags(params.get("tags", []))
    registry.repositories[name] = repository
    return {"repository": repository_view(registry, repository, ctx.host)}


def describe_repositories(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeRepositories, paginated by name."""
    registry = ctx.registry
    names = params.get("repositoryNames")
    if names is None:
        chosen = [
            repository
            for repository in registry.repositories.values()
            if ctx.visible is None or repository.name in ctx.visible
        ]
    else:
        chosen = [registry.repository(name) for name in dict.fromkeys(names)]
    page, token = paginate(chosen, lambda repository: [repository.name], params)
    result: dict[str, Any] = {
        "repositories": [repository_view(registry, r, ctx.host) for r in page]
    }
    if token:
        result["nextToken"] = token
    return result


def delete_repository(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteRepository; `force` deletes a repository that still holds images."""
    registry = ctx.registry
    repository = registry.repository(params["repositoryName"])
    if repository.images and not params.get("force"):
        raise REPOSITORY_NOT_EMPTY(name=repository.name, registry_id=registry.account)
    for upload_id in repository.uploads:
        try:
            ctx.blobs.cancel(upload_id)
        except UploadUnknown:
            continue  # already gone: nothing to clean up
    del registry.repositories[repository.name]
    return {"repository": repository_view(registry, repository, ctx.host)}


def put_image_tag_mutability(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutImageTagMutability."""
    repository = ctx.registry.repository(params["repositoryName"])
    _set_mutability(repository, params)
    result = {
        "registryId": ctx.registry.account,
        "repositoryName": repository.name,
        "imageTagMutability": repository.image_tag_mutability,
    }
    if repository.mutability_exclusion_filters:
        result["imageTagMutabilityExclusionFilters"] = repository.mutability_exclusion_filters
    return result


def describe_registry(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeRegistry: the registry's id and replication configuration."""
    configuration = replication.replication_configuration(ctx.registry)
    return {"registryId": ctx.registry.account, "replicationConfiguration": configuration}


def tag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """TagResource: add or overwrite tags on a repository."""
    repository = _tagged_repository(ctx, params)
    repository.tags.update(resource_tags(params["tags"]))
    return {}


def untag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UntagResource."""
    repository = _tagged_repository(ctx, params)
    for key in params["tagKeys"]:
        repository.tags.pop(key, None)
    return {}


def list_tags_for_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTagsForResource."""
    return {"tags": tag_list(_tagged_repository(ctx, params).tags)}


def resource_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """A request's `Tag` list as a dict, or InvalidTagParameterException for a bad key or value."""
    for tag in tags:
        key, value = tag["Key"], tag["Value"]
        fits = 0 < len(key) <= MAX_TAG_KEY and len(value) <= MAX_TAG_VALUE
        if not (fits and _is_tag_text(key) and _is_tag_text(value)):
            raise INVALID_TAG_PARAMETER()
    return {tag["Key"]: tag["Value"] for tag in tags}


def _is_tag_text(text: str) -> bool:
    return all(
        c in _TAG_PUNCTUATION or unicodedata.category(c).startswith(_TAG_CATEGORIES) for c in text
    )


def _tagged_repository(ctx: Context, params: dict[str, Any]) -> Repository:
    # The service addressed ctx.registry from this same ARN (lab.ecr.actions.target).
    match = REPOSITORY_ARN.fullmatch(params["resourceArn"])
    if match is None or match["name"] not in ctx.registry.repositories:
        name = match["name"] if match else params["resourceArn"]
        raise REPOSITORY_NOT_FOUND(name=name, registry_id=ctx.registry.account)
    return ctx.registry.repositories[match["name"]]


def encryption(ctx: Context, given: dict[str, Any]) -> dict[str, Any]:
    """KMS without a key is "the default AWS managed KMS key for Amazon ECR" (API Reference,
    EncryptionConfiguration), which ECR names by its key ARN; the lab's is stable per registry."""
    configuration = dict(given)
    if configuration["encryptionType"].startswith("KMS") and "kmsKey" not in configuration:
        registry = ctx.registry
        key_id = uuid.uuid5(uuid.NAMESPACE_URL, f"aws/ecr:{registry.account}:{registry.region}")
        configuration["kmsKey"] = f"arn:aws:kms:{registry.region}:{registry.account}:key/{key_id}"
    return configuration


def _set_mutability(repository: Repository, params: dict[str, Any]) -> None:
    repository.image_tag_mutability = params.get("imageTagMutability", "MUTABLE")
    repository.mutability_exclusion_filters = [
        dict(rule) for rule in params.get("imageTagMutabilityExclusionFilters", [])
    ]
