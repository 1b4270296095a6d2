"""A replica: ECR's copy of a pushed image into a destination registry (the work of
`lab.jobs.replication`, once the destination's registry policy has let it)."""

from __future__ import annotations

from lab.ecr.context import Context
from lab.ecr.errors import IMAGE_NOT_FOUND
from lab.ecr.images import put_manifest
from lab.ecr.templates import apply_creation_template


def copy_image(
    source: Context, destination: Context, name: str, digest: str, *, create: bool
) -> None:
    """Copy image `digest` of repository `name` (its layers, manifest and tags; an index's
    child manifests first) into the destination registry's repository of the same name,
    creating that repository first when `create` (ECR does with ecr:CreateRepository).
    The destination context is a replica's: nothing it stores is scheduled again."""
    repository = source.registry.repository(name)
    image = repository.images.get(digest)
    if image is None:  # deleted before the job got to it
        raise IMAGE_NOT_FOUND(
            name=name, registry_id=source.registry.account, digest=digest, tag=None
        )
    target = destination.registry.repositories.get(name)
    if target is None and create:  # from the destination's REPLICATION template, if one matches
        apply_creation_template(destination, name, "REPLICATION")
    target = destination.registry.repository(name)  # absent and not created: not found
    for child in image.manifests:
        copy_image(source, destination, name, child, create=False)
    target.layers.update({d: repository.layers[d] for d in image.blobs if d in repository.layers})
    manifest = source.blobs.read(digest)
    for tag in image.tags or [None]:
        put_manifest(destination, target, manifest, image.media_type, tag, repeat_is_error=False)
