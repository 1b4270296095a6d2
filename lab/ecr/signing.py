"""Managed signing: the registry's signing configuration and each image's signing status.

ECR User Guide, "Managed signing" (managed-signing.html): rules name AWS Signer signing
profiles and, optionally, repository filters; ECR signs each image pushed to a matching
repository, and DescribeImageSigningStatus gives "a status for each profile". The lab has no
AWS Signer: an image pushed under a matching rule reports that profile's signing as FAILED,
saying why; an image pushed before any rule matched has no statuses.
"""

from __future__ import annotations

from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import SIGNING_CONFIGURATION_NOT_FOUND
from lab.ecr.images import image_for
from lab.ecr.operation import Operation
from lab.ecr.views import image_reference_view

# (lab) no signature can be made here; the code and reason say so.
NO_SIGNER = {
    "status": "FAILED",
    "failureCode": "SignerUnavailable",
    "failureReason": "The lab has no AWS Signer: managed signing does not sign images",
}


def put_signing_configuration(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutSigningConfiguration: replaces the registry's rules."""
    given = params["signingConfiguration"]
    ctx.registry.signing_configuration = {"rules": [dict(rule) for rule in given["rules"]]}
    return {"signingConfiguration": ctx.registry.signing_configuration}


def get_signing_configuration(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetSigningConfiguration."""
    return {"registryId": ctx.registry.account, "signingConfiguration": _configuration(ctx)}


def delete_signing_configuration(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteSigningConfiguration: answers with the configuration it deleted."""
    configuration = _configuration(ctx)
    ctx.registry.signing_configuration = None
    return {"registryId": ctx.registry.account, "signingConfiguration": configuration}


def describe_image_signing_status(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeImageSigningStatus: one status per signing profile matched at push."""
    repository = ctx.registry.repository(params["repositoryName"])
    wanted = params["imageId"]
    image = image_for(ctx, repository, wanted)
    answer = image_reference_view(ctx.registry, repository, image, wanted.get("imageTag"))
    return {
        **answer,
        "signingStatuses": [
            {"signingProfileArn": profile, **NO_SIGNER} for profile in image.signing_profiles
        ],
    }


def _configuration(ctx: Context) -> dict[str, Any]:
    if ctx.registry.signing_configuration is None:
        raise SIGNING_CONFIGURATION_NOT_FOUND(registry_id=ctx.registry.account)
    return ctx.registry.signing_configuration


OPERATIONS = {
    "PutSigningConfiguration": Operation(put_signing_configuration, True),
    "GetSigningConfiguration": Operation(get_signing_configuration, False),
    "DeleteSigningConfiguration": Operation(delete_signing_configuration, True),
    "DescribeImageSigningStatus": Operation(describe_image_signing_status, False),
}
