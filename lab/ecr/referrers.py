"""ListImageReferrers: the artifacts whose `subject` is an image (OCI 1.1; ECR supports the
referrers API and `subject` since 2024-06-27, AWS What's New). The registry's
`GET /v2/<name>/referrers/<digest>` reads the same list.

A referrer's artifactType is the manifest's own, else its config's media type; an index
without one has none (distribution-spec spec.md, "Listing Referrers").
"""

from __future__ import annotations

from typing import Any

from lab.ecr.context import Context
from lab.ecr.manifests import OCI_INDEX
from lab.ecr.model import Image
from lab.ecr.pages import paginate

# ListImageReferrers answers up to 50 referrers when maxResults is not given (API reference).
DEFAULT_MAX_RESULTS = 50


def artifact_type(image: Image) -> str | None:
    """The referrers list's artifactType of `image`."""
    if image.artifact_type:
        return image.artifact_type
    return None if image.media_type == OCI_INDEX else image.artifact_media_type


def list_image_referrers(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListImageReferrers: only ACTIVE artifacts unless the filter asks for another status."""
    repository = ctx.registry.repository(params["repositoryName"])
    subject = params["subjectId"]["imageDigest"]
    wanted = params.get("filter", {})
    status = wanted.get("artifactStatus", "ACTIVE")
    types = wanted.get("artifactTypes") or None
    found = [
        image
        for image in repository.images.values()
        if image.subject == subject
        and status in ("ANY", image.status)
        and (types is None or artifact_type(image) in types)
    ]
    paging = params | {"maxResults": params.get("maxResults") or DEFAULT_MAX_RESULTS}
    page, token = paginate(found, lambda image: [image.digest], paging)
    answer: dict[str, Any] = {"referrers": [_referrer(ctx, image) for image in page]}
    if token:
        answer["nextToken"] = token
    return answer


def _referrer(ctx: Context, image: Image) -> dict[str, Any]:
    view: dict[str, Any] = {
        "digest": image.digest,
        "mediaType": image.media_type,
        "size": ctx.blobs.size(image.digest),  # a descriptor's size: the manifest's bytes
        "artifactStatus": image.status,
    }
    kind = artifact_type(image)
    if kind:
        view["artifactType"] = kind
    if image.annotations:
        view["annotations"] = dict(image.annotations)
    return view
