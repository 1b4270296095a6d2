"""ECR's JSON 1.1 response shapes, built from the state (timestamps are epoch seconds)."""

from __future__ import annotations

from typing import Any

from lab.ecr.model import Image, Registry, Repository, repository_arn


def repository_view(registry: Registry, repository: Repository, host: str) -> dict[str, Any]:
    """A `Repository` structure."""
    view: dict[str, Any] = {
        "repositoryArn": repository_arn(registry.account, registry.region, repository.name),
        "registryId": registry.account,
        "repositoryName": repository.name,
        "repositoryUri": f"{host}/{repository.name}",
        "createdAt": repository.created_at,
        "imageTagMutability": repository.image_tag_mutability,
        "imageScanningConfiguration": dict(repository.image_scanning_configuration),
        "encryptionConfiguration": dict(repository.encryption_configuration),
    }
    if repository.mutability_exclusion_filters:
        view["imageTagMutabilityExclusionFilters"] = list(repository.mutability_exclusion_filters)
    return view


def image_id(digest: str, tag: str | None = None) -> dict[str, str]:
    """An `ImageIdentifier` structure."""
    return {"imageDigest": digest, "imageTag": tag} if tag else {"imageDigest": digest}


def image_view(
    registry: Registry, repository: Repository, image: Image, manifest: bytes, tag: str | None
) -> dict[str, Any]:
    """An `Image` structure: the manifest itself, as PutImage and BatchGetImage return it."""
    return {
        "registryId": registry.account,
        "repositoryName": repository.name,
        "imageId": image_id(image.digest, tag),
        "imageManifest": manifest.decode("utf-8"),
        "imageManifestMediaType": image.media_type,
    }


def image_detail_view(registry: Registry, repository: Repository, image: Image) -> dict[str, Any]:
    """An `ImageDetail` structure, as DescribeImages returns it."""
    view: dict[str, Any] = {
        "registryId": registry.account,
        "repositoryName": repository.name,
        "imageDigest": image.digest,
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
    }
    if image.tags:
        view["imageTags"] = list(image.tags)
    if image.artifact_media_type:
        view["artifactMediaType"] = image.artifact_media_type
    if image.subject:
        view["subjectManifestDigest"] = image.subject
    view["imageStatus"] = image.image_status
    if image.last_archived_at is not None:
        view["lastArchivedAt"] = image.last_archived_at
    if image.last_recorded_pull_time is not None:
        view["lastRecordedPullTime"] = image.last_recorded_pull_time
    return view


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """Resource tags as ECR's `[{"Key": ..., "Value": ...}]`."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]
