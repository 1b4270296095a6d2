"""Basic image scanning's state: when an image is scanned and what a scan finds.

ECR User Guide, "Scan images for OS vulnerabilities in Amazon ECR" (image-scanning-basic.html):
a scan runs on push when the repository or a registry rule says so, or when StartImageScan asks,
at most once per image per 24 hours (API Reference, StartImageScan). The lab has no
vulnerability database: a scan completes at once, finds nothing, and its status description
says so.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from lab.ecr.context import Context
from lab.ecr.manifests import DOCKER_MANIFEST_LIST, OCI_INDEX
from lab.ecr.model import Image, Registry, Repository

DAY = 24 * 60 * 60
COMPLETE_DESCRIPTION = (
    "The scan was completed successfully. The lab has no vulnerability database: "
    "it reports no findings."
)
# (AWS) a scan of what basic scanning cannot read fails so (aws-observability/aws-otel-collector
# #2193; User Guide, "Troubleshooting image scanning": UnsupportedImageError).
UNSUPPORTED_DESCRIPTION = (
    "UnsupportedImageError: The operating system and/or package manager are not supported."
)
# Configs of container images; anything else (Helm charts, signatures, SBOMs) is an artifact.
_IMAGE_CONFIGS = {
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
}


def after_push(ctx: Context, repository: Repository, image: Image) -> None:
    """Scan a newly pushed image if the repository or a registry rule scans on push."""
    if scans_on_push(ctx.registry, repository):
        scan(ctx, image)


def scan(ctx: Context, image: Image) -> None:
    """Run the lab's scan of `image` now: complete and clean, or failed as unsupported."""
    if is_scannable(image):
        image.scan = {"status": "COMPLETE", "description": COMPLETE_DESCRIPTION}
    else:
        image.scan = {"status": "FAILED", "description": UNSUPPORTED_DESCRIPTION}
    image.scan |= {"startedAt": ctx.now, "completedAt": ctx.now}


def is_scannable(image: Image) -> bool:
    """Whether basic scanning reads this image: a container image, not an index or artifact."""
    if image.media_type in (DOCKER_MANIFEST_LIST, OCI_INDEX):
        return False
    return image.artifact_media_type in (None, *_IMAGE_CONFIGS)


def scans_on_push(registry: Registry, repository: Repository) -> bool:
    """The repository's own flag, or a registry SCAN_ON_PUSH rule whose filter matches it."""
    rules = applied_filters(registry, repository.name)
    own = bool(repository.image_scanning_configuration.get("scanOnPush"))
    return own or any(rule["scanFrequency"] == "SCAN_ON_PUSH" for rule in rules)


def applied_filters(registry: Registry, name: str) -> list[dict[str, Any]]:
    """Each registry rule's filters that match repository `name`, with the rule's frequency."""
    return [
        {"filter": repository_filter, "scanFrequency": rule["scanFrequency"]}
        for rule in registry.scanning_configuration["rules"]
        for repository_filter in rule["repositoryFilters"]
        if filter_matches(repository_filter["filter"], name)
    ]


def filter_matches(pattern: str, name: str) -> bool:
    """ECR's scanning filter: `*` matches any characters; a filter without one matches every
    name that contains it (User Guide, "Configuring basic scanning")."""
    if "*" not in pattern:
        return pattern in name
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]").replace("?", "[?]"))


def own_frequency(repository: Repository) -> str:
    """The repository's own scan frequency, when no registry rule applies to it."""
    on_push = repository.image_scanning_configuration.get("scanOnPush")
    return "SCAN_ON_PUSH" if on_push else "MANUAL"
