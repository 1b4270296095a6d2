"""Layer operations: availability, uploads in parts, download URLs.

ECR's layers belong to a repository: a layer exists in a repository once an upload through that
repository committed it (its bytes live once in the shared blob store). An upload id belongs to
the repository that initiated it.
"""

from __future__ import annotations

import re
from typing import Any

from lab.ecr.blobs import UploadUnknown
from lab.ecr.context import Context
from lab.ecr.errors import (
    EMPTY_UPLOAD,
    INVALID_LAYER_DIGEST,
    INVALID_LAYER_PART,
    LAYER_ALREADY_EXISTS,
    LAYER_INACCESSIBLE,
    LAYER_NOT_FOUND,
    UPLOAD_NOT_FOUND,
)
from lab.ecr.manifests import LAYER_MEDIA_TYPE
from lab.ecr.model import Repository
from lab.ecr.validation import decode_blob

# A layer digest as the registry API grammar writes one (algorithm:hex).
LAYER_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]+")
# The part size ECR advises in InitiateLayerUpload's answer (10 MiB).
PART_SIZE = 10 * 1024 * 1024


def batch_check_layer_availability(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """BatchCheckLayerAvailability."""
    repository = ctx.registry.repository(params["repositoryName"])
    layers, failures = [], []
    for digest in params["layerDigests"]:
        if digest in repository.layers:
            layers.append(
                {
                    "layerDigest": digest,
                    "layerAvailability": "AVAILABLE",
                    "layerSize": repository.layers[digest],
                    "mediaType": LAYER_MEDIA_TYPE,
                }
            )
        else:
            # A digest that is no digest is InvalidLayerDigest (API Reference, LayerFailure).
            code, reason = (
                ("MissingLayerDigest", "Could not find the requested layer digest")
                if LAYER_DIGEST.fullmatch(digest)
                else ("InvalidLayerDigest", "Invalid layer digest")  # (lab) reason texts
            )
            failures.append({"layerDigest": digest, "failureCode": code, "failureReason": reason})
    return {"layers": layers, "failures": failures}


def initiate_layer_upload(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """InitiateLayerUpload."""
    repository = ctx.registry.repository(params["repositoryName"])
    return {"uploadId": start_upload(ctx, repository), "partSize": PART_SIZE}


def upload_layer_part(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UploadLayerPart: parts must be contiguous, each starting after the last byte received."""
    repository = ctx.registry.repository(params["repositoryName"])
    upload_id = params["uploadId"]
    size = upload_size(ctx, repository, upload_id)
    blob = decode_blob(params["layerPartBlob"])
    first, last = params["partFirstByte"], params["partLastByte"]
    if first != size or last != first + len(blob) - 1:
        refused = INVALID_LAYER_PART(
            upload_id=upload_id, name=repository.name, registry_id=ctx.registry.account
        )
        raise refused.with_members(  # the exception's own fields, as ECR's model declares them
            registryId=ctx.registry.account,
            repositoryName=repository.name,
            uploadId=upload_id,
            lastValidByteReceived=size - 1,
        )
    size = append_upload(ctx, repository, upload_id, blob)
    return {
        "registryId": ctx.registry.account,
        "repositoryName": repository.name,
        "uploadId": upload_id,
        "lastByteReceived": size - 1,
    }


def complete_layer_upload(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CompleteLayerUpload: the uploaded bytes must hash to one of `layerDigests`."""
    repository = ctx.registry.repository(params["repositoryName"])
    upload_id = params["uploadId"]
    digest = verify_upload(ctx, repository, upload_id, params["layerDigests"])
    if digest in repository.layers:
        cancel_upload(ctx, repository, upload_id)
        raise LAYER_ALREADY_EXISTS(
            name=repository.name, registry_id=ctx.registry.account, digest=digest
        )
    commit_upload(ctx, repository, upload_id, digest)
    return {
        "registryId": ctx.registry.account,
        "repositoryName": repository.name,
        "uploadId": upload_id,
        "layerDigest": digest,
    }


def get_download_url_for_layer(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetDownloadUrlForLayer: the lab's registry blob URL stands in for S3's pre-signed one."""
    repository = ctx.registry.repository(params["repositoryName"])
    digest = params["layerDigest"]
    check_layer_readable(ctx, repository, digest)
    return {
        "downloadUrl": f"http://{ctx.host}/v2/{repository.name}/blobs/{digest}",
        "layerDigest": digest,
    }


# Shared with the registry API (through lab.ecr.service.Ecr).


def start_upload(ctx: Context, repository: Repository) -> str:
    """A new upload owned by `repository`."""
    upload_id = ctx.blobs.start()
    repository.uploads.append(upload_id)
    return upload_id


def check_upload(ctx: Context, repository: Repository, upload_id: str) -> None:
    """Raise UploadNotFoundException unless `upload_id` is in progress in `repository`."""
    if upload_id not in repository.uploads:
        raise UPLOAD_NOT_FOUND(
            upload_id=upload_id, name=repository.name, registry_id=ctx.registry.account
        )


def append_upload(ctx: Context, repository: Repository, upload_id: str, chunk: bytes) -> int:
    """Append to an upload of `repository`; the upload's new size."""
    try:
        return ctx.blobs.append(upload_id, chunk)
    except UploadUnknown as error:
        raise UPLOAD_NOT_FOUND(
            upload_id=upload_id, name=repository.name, registry_id=ctx.registry.account
        ) from error


def upload_size(ctx: Context, repository: Repository, upload_id: str) -> int:
    """How many bytes an upload of `repository` holds."""
    check_upload(ctx, repository, upload_id)
    try:
        return ctx.blobs.size_of(upload_id)
    except UploadUnknown as error:
        raise UPLOAD_NOT_FOUND(
            upload_id=upload_id, name=repository.name, registry_id=ctx.registry.account
        ) from error


def verify_upload(ctx: Context, repository: Repository, upload_id: str, digests: list[str]) -> str:
    """The upload's digest, provided it is non-empty and hashes to one of `digests`."""
    if upload_size(ctx, repository, upload_id) == 0:
        raise EMPTY_UPLOAD(
            upload_id=upload_id, name=repository.name, registry_id=ctx.registry.account
        )
    digest = ctx.blobs.digest_so_far(upload_id)
    if digest not in digests:
        raise INVALID_LAYER_DIGEST()
    return digest


def commit_upload(ctx: Context, repository: Repository, upload_id: str, digest: str) -> None:
    """Make the verified upload a layer of `repository`."""
    size = ctx.blobs.size_of(upload_id)
    ctx.blobs.commit(upload_id, digest)
    repository.uploads.remove(upload_id)
    repository.layers[digest] = size


def cancel_upload(ctx: Context, repository: Repository, upload_id: str) -> None:
    """Abandon an upload of `repository`."""
    check_upload(ctx, repository, upload_id)
    repository.uploads.remove(upload_id)
    try:
        ctx.blobs.cancel(upload_id)
    except UploadUnknown:
        return  # its bytes were already gone


def check_layer_readable(ctx: Context, repository: Repository, digest: str) -> None:
    """Raise unless the layer is in `repository` and some image there references it."""
    if digest not in repository.layers:
        raise LAYER_NOT_FOUND(name=repository.name, registry_id=ctx.registry.account, digest=digest)
    if digest not in repository.pullable_blobs():
        raise LAYER_INACCESSIBLE(
            name=repository.name, registry_id=ctx.registry.account, digest=digest
        )
