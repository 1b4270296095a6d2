"""Image storage classes: archive an image, restore it (UpdateImageStorageClass).

ECR User Guide, "Archiving an image" (archive-image.html): an archived image "cannot be pulled.
Requests to pull the archived image will fail with a 404 error", it is still described and
listed (with the ARCHIVED status filter), and "re-pushing the image" restores it. "Restoring an
image" (restore-image.html): a restore is ACTIVATING until it completes; the lab's completes at
once, so UpdateImageStorageClass answers ACTIVATING as AWS does and the image is ACTIVE after.
"""

from __future__ import annotations

from typing import Any

from lab.ecr import scans
from lab.ecr.context import Context
from lab.ecr.errors import STORAGE_CLASS_UPDATE_NOT_SUPPORTED
from lab.ecr.images import image_for
from lab.ecr.model import Image, Repository
from lab.ecr.operation import Operation
from lab.ecr.views import image_reference_view


def update_image_storage_class(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateImageStorageClass: ARCHIVE or STANDARD (restore)."""
    repository = ctx.registry.repository(params["repositoryName"])
    wanted = params["imageId"]
    image = image_for(ctx, repository, wanted)
    if params["targetStorageClass"] == "ARCHIVE":
        status = archive(ctx, repository, image)
    else:
        status = restore(ctx, repository, image)
    answer = image_reference_view(ctx.registry, repository, image, wanted.get("imageTag"))
    return {**answer, "imageStatus": status}


def archive(ctx: Context, repository: Repository, image: Image) -> str:
    """Move an active image to the archive; its status."""
    if image.status == "ARCHIVED":
        return image.status
    if any(image.digest in other.manifests for other in repository.images.values()):
        # (lab) pulling the index would then fail halfway: the lab refuses to split them
        raise STORAGE_CLASS_UPDATE_NOT_SUPPORTED()
    image.status, image.last_archived_at = "ARCHIVED", ctx.now
    return image.status


def restore(ctx: Context, repository: Repository, image: Image) -> str:
    """Bring an archived image back to standard storage: ACTIVATING, done at once here, and
    scanned as a pushed image is ("Restoring an image")."""
    if not image.activate(ctx.now):
        return image.status
    scans.after_push(ctx, repository, image)
    return "ACTIVATING"


OPERATIONS = {"UpdateImageStorageClass": Operation(update_image_storage_class, True)}
