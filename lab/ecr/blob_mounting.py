"""Blob mounting: a layer of one repository becomes a layer of another in the same registry.

ECR User Guide, blob-mounting.html: opt-in (the BLOB_MOUNTING account setting); only within
one registry (same account and region); both repositories must use identical encryption; the
caller needs ecr:GetDownloadUrlForLayer on the source (the front door authorizes that). As
GetDownloadUrlForLayer, only a layer some image of the source references can be mounted.
"""

from __future__ import annotations

from lab.ecr.context import Context
from lab.ecr.registry_policy import BLOB_MOUNTING, setting


def mount_layer(ctx: Context, name: str, source: str, digest: str) -> bool:
    """Mount layer `digest` of repository `source` into `name`; False when ECR would not
    (then the client uploads the blob as usual)."""
    registry = ctx.registry
    target, origin = registry.repository(name), registry.repositories.get(source)
    if setting(ctx, BLOB_MOUNTING) != "ENABLED" or origin is None or origin is target:
        return False
    if origin.encryption_configuration != target.encryption_configuration:
        return False
    if digest not in origin.referenced_blobs() or digest not in origin.layers:
        return False
    target.layers[digest] = origin.layers[digest]
    return True
