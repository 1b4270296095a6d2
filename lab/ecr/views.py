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


def image_reference_view(
    registry: Registry, repository: Repository, image: Image, tag: str | None
) -> dict[str, Any]:
    """The registry, repository and image id an answer about one image starts with."""
    return {
        "registryId": registry.account,
        "repositoryName": repository.name,
        "imageId": image_id(image.digest, tag),
    }


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
    view["imageStatus"] = image.status
    for key, value in (
        ("lastRecordedPullTime", image.last_pulled_at),
        ("lastArchivedAt", image.last_archived_at),
        ("lastActivatedAt", image.last_activated_at),
    ):
        if value is not None:
            view[key] = value
    if image.scan is not None:
        view["imageScanStatus"] = scan_status_view(image.scan)
        if image.scan["status"] == "COMPLETE":
            view["imageScanFindingsSummary"] = findings_summary_view(image.scan)
    return view


def scan_status_view(scan: dict[str, Any]) -> dict[str, str]:
    """An `ImageScanStatus` structure for a scanned image."""
    return {"status": scan["status"], "description": scan["description"]}


def findings_summary_view(scan: dict[str, Any]) -> dict[str, Any]:
    """An `ImageScanFindingsSummary` of a completed lab scan: no findings of any severity."""
    return {"imageScanCompletedAt": scan["completedAt"], "findingSeverityCounts": {}}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """Resource tags as ECR's `[{"Key": ..., "Value": ...}]`."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]
