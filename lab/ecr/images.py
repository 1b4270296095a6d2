"""Image operations: put, get, describe, list, delete.

An image is a manifest, addressed by the sha256 of its exact bytes (unlike moto, which hashes
the joined layer digests); tags point at images, and a tag moves unless the repository is
immutable. The manifest bytes live in the blob store, so the registry API serves them verbatim.
"""

from __future__ import annotations

import re
from typing import Any

from lab.ecr import pulls, replication, scans
from lab.ecr.blobs import digest_of
from lab.ecr.context import Context
from lab.ecr.errors import (
    IMAGE_ALREADY_EXISTS,
    IMAGE_DIGEST_DOES_NOT_MATCH,
    IMAGE_NOT_FOUND,
    IMAGE_TAG_ALREADY_EXISTS,
    INVALID_MANIFEST,
    LAYERS_NOT_FOUND_FOR_IMAGE,
    REFERENCED_IMAGES_NOT_FOUND,
)
from lab.ecr.manifests import InvalidManifest, parse_manifest
from lab.ecr.model import Image, Repository
from lab.ecr.pages import paginate
from lab.ecr.views import image_detail_view, image_id, image_view

# ECR's check of an image digest, and its words for a failure (moto quotes them from AWS).
IMAGE_DIGEST = re.compile(r"[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+")
# (lab) why BatchGetImage cannot return an archived image.
_ARCHIVED_REASON = "The image is archived: restore it to pull it"
_INVALID_DIGEST_REASON = (
    "Invalid request parameters: image digest should satisfy the regex "
    "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
)


def put_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutImage: the same manifest and tag again is ImageAlreadyExistsException."""
    repository = ctx.registry.repository(params["repositoryName"])
    manifest = params["imageManifest"].encode("utf-8")
    given = params.get("imageDigest")
    if given is not None and given != digest_of(manifest):
        raise IMAGE_DIGEST_DOES_NOT_MATCH(digest=given, computed=digest_of(manifest))
    tag = params.get("imageTag")
    image = put_manifest(
        ctx, repository, manifest, params.get("imageManifestMediaType"), tag, repeat_is_error=True
    )
    return {"image": image_view(ctx.registry, repository, image, manifest, tag)}


def batch_get_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """BatchGetImage: what cannot be found goes into `failures`, not into an error."""
    repository = ctx.registry.repository(params["repositoryName"])
    accepted = params.get("acceptedMediaTypes")
    images, failures = [], []
    for wanted in params["imageIds"]:
        image, failure = _lookup(repository, wanted)
        if image is not None and accepted is not None and image.media_type not in accepted:
            # The lab does not convert manifests between media types, as ECR can.
            image, failure = None, _failure(wanted, "ImageNotFound", "Requested image not found")
        if image is not None and image.status != "ACTIVE":
            image, failure = None, _failure(wanted, "ImageInaccessible", _ARCHIVED_REASON)
        if image is None:
            failures.append(failure)
            continue
        manifest = ctx.blobs.read(image.digest)
        pulls.record_pull(ctx, image)
        images.append(image_view(ctx.registry, repository, image, manifest, wanted.get("imageTag")))
    return {"images": images, "failures": failures}


def describe_images(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeImages: named images must all exist; otherwise every image, filtered, paged."""
    registry = ctx.registry
    repository = registry.repository(params["repositoryName"])
    if "imageIds" in params:
        chosen = [image_for(ctx, repository, wanted) for wanted in params["imageIds"]]
        chosen = list({image.digest: image for image in chosen}.values())
    else:
        chosen = [i for i in repository.images.values() if _filter_matches(i, params)]
    page, token = paginate(chosen, lambda i: [f"{i.pushed_at:020.6f}", i.digest], params)
    result: dict[str, Any] = {
        "imageDetails": [image_detail_view(registry, repository, image) for image in page]
    }
    if token:
        result["nextToken"] = token
    return result


def list_images(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListImages: one entry per tag, and one per untagged image."""
    repository = ctx.registry.repository(params["repositoryName"])
    entries = [
        image_id(image.digest, tag)
        for image in repository.images.values()
        if _filter_matches(image, params)
        for tag in (image.tags or [None])
    ]
    page, token = paginate(entries, lambda e: [e["imageDigest"], e.get("imageTag", "")], params)
    result: dict[str, Any] = {"imageIds": page}
    if token:
        result["nextToken"] = token
    return result


def batch_delete_image(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """BatchDeleteImage: by digest deletes the image; by tag removes the tag, and the image
    with its last tag (ECR user guide, "Deleting an image")."""
    repository = ctx.registry.repository(params["repositoryName"])
    deleted, failures = [], []
    for wanted in params["imageIds"]:
        image, failure = _lookup(repository, wanted)
        if image is None:
            failures.append(failure)
            continue
        tag = wanted.get("imageTag")
        removed_tags = [tag] if tag and "imageDigest" not in wanted else list(image.tags)
        if len(removed_tags) == len(image.tags):
            parents = _indexes_referencing(repository, image.digest)
            if parents:
                reason = f"Requested image referenced by manifest list: [{', '.join(parents)}]"
                failures.append(_failure(wanted, "ImageReferencedByManifestList", reason))
                continue
            del repository.images[image.digest]
        for removed in removed_tags:
            image.tags.remove(removed)
        deleted.extend(image_id(image.digest, t) for t in removed_tags or [None])
    return {"imageIds": deleted, "failures": failures}


# Shared with the registry API (through lab.ecr.service.Ecr).


def put_manifest(
    ctx: Context,
    repository: Repository,
    manifest: bytes,
    media_type: str | None,
    tag: str | None,
    *,
    repeat_is_error: bool,
) -> Image:
    """Store a manifest as an image of `repository`, tagging it with `tag` if given.

    Pushing the manifest a tag already points at is ImageAlreadyExistsException through
    PutImage (`repeat_is_error`); through the registry a re-push succeeds, except in an
    immutable repository (aws/containers-roadmap#2179).
    """
    try:
        parsed = parse_manifest(manifest, media_type)
    except InvalidManifest as error:
        raise INVALID_MANIFEST() from error
    registry = ctx.registry
    missing = [digest for digest in parsed.blobs if digest not in repository.layers]
    if missing:
        raise LAYERS_NOT_FOUND_FOR_IMAGE(
            name=repository.name, registry_id=registry.account, digests=missing
        )
    absent = [digest for digest in parsed.manifests if digest not in repository.images]
    if absent:
        raise REFERENCED_IMAGES_NOT_FOUND(
            name=repository.name, registry_id=registry.account, digests=absent
        )
    digest = digest_of(manifest)
    current = repository.image_by_tag(tag) if tag else None
    if tag and current is not None:
        if current.digest == digest and repeat_is_error:
            raise IMAGE_ALREADY_EXISTS(
                name=repository.name, registry_id=registry.account, digest=digest, tag=tag
            )
        if repository.tag_is_immutable(tag):
            raise IMAGE_TAG_ALREADY_EXISTS(name=repository.name, tag=tag)
        if current.digest != digest:
            current.tags.remove(tag)
    ctx.blobs.put(manifest)
    image = repository.images.get(digest)
    if image is not None:
        # re-pushing an archived image restores it ("Archiving an image"), scanned as if new
        if image.activate(ctx.now):
            scans.after_push(ctx, repository, image)
    else:
        image = Image(
            digest=digest,
            media_type=parsed.media_type,
            pushed_at=ctx.now,
            size=parsed.size,
            blobs=list(parsed.blobs),
            manifests=list(parsed.manifests),
            artifact_media_type=parsed.artifact_media_type,
            artifact_type=parsed.artifact_type,
            subject=parsed.subject,
            annotations=dict(parsed.annotations),
        )
        repository.images[digest] = image
        scans.after_push(ctx, repository, image)
        image.signing_profiles = registry.signing_profiles(repository.name)
    if tag and tag not in image.tags:
        image.tags.append(tag)
    if not ctx.replica:  # a replica is not replicated again: no loops
        replication.schedule(registry, repository, image)
    return image


def image_for(ctx: Context, repository: Repository, wanted: dict[str, str]) -> Image:
    """The image an ImageIdentifier names, or ECR's ImageNotFoundException."""
    image, _ = _lookup(repository, wanted)
    if image is None:
        raise IMAGE_NOT_FOUND(
            name=repository.name,
            registry_id=ctx.registry.account,
            digest=wanted.get("imageDigest") or None,  # an empty digest reads null too
            tag=wanted.get("imageTag"),
        )
    return image


def find_image(ctx: Context, repository: Repository, reference: str, *, pull: bool) -> Image:
    """The pullable image a registry reference (a tag, or a `sha256:` digest) names; a `pull`
    records its pull time. An archived image is not found: a 404 ("Archiving an image")."""
    is_digest = ":" in reference
    image = repository.images.get(reference) if is_digest else repository.image_by_tag(reference)
    if image is None or image.status != "ACTIVE":
        raise IMAGE_NOT_FOUND(
            name=repository.name,
            registry_id=ctx.registry.account,
            digest=reference if is_digest else None,
            tag=None if is_digest else reference,
        )
    if pull:
        pulls.record_pull(ctx, image)
    return image


def _lookup(repository: Repository, wanted: dict[str, str]) -> tuple[Image | None, dict[str, Any]]:
    """The image an ImageIdentifier names, or the ImageFailure ECR reports for it."""
    digest, tag = wanted.get("imageDigest"), wanted.get("imageTag")
    if digest is None and tag is None:
        reason = "Invalid request parameters: both tag and digest cannot be null"
        return None, _failure(wanted, "MissingDigestAndTag", reason)
    if digest is not None and not IMAGE_DIGEST.fullmatch(digest):
        return None, _failure(wanted, "InvalidImageDigest", _INVALID_DIGEST_REASON)
    image = repository.images.get(digest) if digest else repository.image_by_tag(tag or "")
    if image is not None and digest and tag and tag not in image.tags:
        reason = "Invalid request parameters: image tag and digest do not match"
        return None, _failure(wanted, "ImageTagDoesNotMatchDigest", reason)
    if image is None:
        return None, _failure(wanted, "ImageNotFound", "Requested image not found")
    return image, {}


def _failure(wanted: dict[str, str], code: str, reason: str) -> dict[str, Any]:
    return {"imageId": dict(wanted), "failureCode": code, "failureReason": reason}


def _filter_matches(image: Image, params: dict[str, Any]) -> bool:
    # Without an imageStatus filter only ACTIVE images are listed (DescribeImagesFilter).
    given = params.get("filter", {})
    tagged, status = given.get("tagStatus", "ANY"), given.get("imageStatus", "ACTIVE")
    tags_match = tagged == "ANY" or (tagged == "TAGGED") == bool(image.tags)
    return tags_match and status in ("ANY", image.status)


def _indexes_referencing(repository: Repository, digest: str) -> list[str]:
    return [image.digest for image in repository.images.values() if digest in image.manifests]
