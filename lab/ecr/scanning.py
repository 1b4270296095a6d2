"""Image scanning operations: manual scans, findings, and the scanning configurations.

What a scan is and when one runs (on push) is lab.ecr.scans; this module is the API over it.
"""

from __future__ import annotations

from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import (
    CONTINUOUS_SCAN_NEEDS_ENHANCED,
    IMAGE_ARCHIVED,
    SCAN_LIMIT_EXCEEDED,
    SCAN_NOT_FOUND,
    UNSUPPORTED_IMAGE_TYPE,
)
from lab.ecr.images import image_for
from lab.ecr.model import repository_arn
from lab.ecr.operation import Operation
from lab.ecr.scans import (
    DAY,
    applied_filters,
    is_scannable,
    own_frequency,
    scan,
    scans_on_push,
)
from lab.ecr.views import findings_summary_view, image_reference_view, scan_status_view


def put_image_scanning_configuration(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutImageScanningConfiguration: the repository's scan-on-push flag."""
    repository = ctx.registry.repository(params["repositoryName"])
    scan_on_push = bool(params["imageScanningConfiguration"].get("scanOnPush", False))
    repository.image_scanning_configuration = {"scanOnPush": scan_on_push}
    return {
        "registryId": ctx.registry.account,
        "repositoryName": repository.name,
        "imageScanningConfiguration": dict(repository.image_scanning_configuration),
    }


def get_registry_scanning_configuration(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetRegistryScanningConfiguration."""
    return {
        "registryId": ctx.registry.account,
        "scanningConfiguration": ctx.registry.scanning_configuration,
    }


def put_registry_scanning_configuration(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutRegistryScanningConfiguration: BASIC scanning supports SCAN_ON_PUSH and MANUAL only
    (API Reference, RegistryScanningRule: "When the BASIC scan type is specified, the
    SCAN_ON_PUSH scan frequency is supported")."""
    scan_type = params.get("scanType", "BASIC")
    rules = [dict(rule) for rule in params.get("rules", [])]
    for rule in rules:
        if scan_type == "BASIC" and rule["scanFrequency"] == "CONTINUOUS_SCAN":
            raise CONTINUOUS_SCAN_NEEDS_ENHANCED()
    ctx.registry.scanning_configuration = {"scanType": scan_type, "rules": rules}
    return {"registryScanningConfiguration": ctx.registry.scanning_configuration}


def batch_get_repository_scanning_configuration(
    ctx: Context, params: dict[str, Any]
) -> dict[str, Any]:
    """BatchGetRepositoryScanningConfiguration: a missing repository is a failure entry."""
    registry, found, failures = ctx.registry, [], []
    for name in dict.fromkeys(params["repositoryNames"]):
        repository = registry.repositories.get(name)
        if repository is None:
            reason = "REPOSITORY_NOT_FOUND"  # (lab) as moto words it
            failures.append(
                {"repositoryName": name, "failureCode": reason, "failureReason": reason}
            )
            continue
        filters = applied_filters(registry, repository.name)
        frequency = filters[0]["scanFrequency"] if filters else own_frequency(repository)
        found.append(
            {
                "repositoryArn": repository_arn(registry.account, registry.region, name),
                "repositoryName": name,
                "scanOnPush": scans_on_push(registry, repository),
                "scanFrequency": frequency,
                "appliedScanFilters": [f["filter"] for f in filters],
            }
        )
    return {"scanningConfigurations": found, "failures": failures}


def start_image_scan(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StartImageScan: once per image per 24 hours, a scan on push included."""
    repository = ctx.registry.repository(params["repositoryName"])
    image = image_for(ctx, repository, params["imageId"])
    if image.status != "ACTIVE":
        raise IMAGE_ARCHIVED()
    if not is_scannable(image):
        raise UNSUPPORTED_IMAGE_TYPE()
    if image.scan is not None and ctx.now - image.scan["startedAt"] < DAY:
        raise SCAN_LIMIT_EXCEEDED()
    scan(ctx, image)
    return {
        **image_reference_view(ctx.registry, repository, image, params["imageId"].get("imageTag")),
        "imageScanStatus": {"status": "IN_PROGRESS"},  # as AWS answers; the lab's is done
    }


def describe_image_scan_findings(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeImageScanFindings: the last scan's status and (no) findings."""
    repository = ctx.registry.repository(params["repositoryName"])
    wanted = params["imageId"]
    image = image_for(ctx, repository, wanted)
    if image.scan is None:
        raise SCAN_NOT_FOUND(
            digest=wanted.get("imageDigest"),
            tag=wanted.get("imageTag"),
            name=repository.name,
            registry_id=ctx.registry.account,
        )
    answer = {
        **image_reference_view(ctx.registry, repository, image, wanted.get("imageTag")),
        "imageScanStatus": scan_status_view(image.scan),
    }
    if image.scan["status"] == "COMPLETE":
        answer["imageScanFindings"] = {**findings_summary_view(image.scan), "findings": []}
    return answer


OPERATIONS = {
    "PutImageScanningConfiguration": Operation(put_image_scanning_configuration, True),
    "GetRegistryScanningConfiguration": Operation(get_registry_scanning_configuration, False),
    "PutRegistryScanningConfiguration": Operation(put_registry_scanning_configuration, True),
    "BatchGetRepositoryScanningConfiguration": Operation(
        batch_get_repository_scanning_configuration, False
    ),
    "StartImageScan": Operation(start_image_scan, True),
    "DescribeImageScanFindings": Operation(describe_image_scan_findings, False),
}
