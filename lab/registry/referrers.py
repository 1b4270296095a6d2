"""Referrers: GET /v2/<name>/referrers/<digest>[?artifactType=T] (ecr:BatchGetImage).

OCI distribution-spec 1.1, "Listing Referrers": an OCI image index of the manifests whose
`subject` is <digest>, with each one's artifactType and annotations; 200 with an empty list
when there are none; 400 for a malformed digest; with `artifactType` the list is filtered and
the answer says so in `OCI-Filters-Applied`. Read through ECR's ListImageReferrers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lab.ecr.manifests import OCI_INDEX
from lab.http import HttpRequest, HttpResponse
from lab.registry.context import RegistryContext
from lab.registry.errors import RegistryError
from lab.registry.routes import DIGEST, Route
from lab.registry.wire import reply

_DIGEST = re.compile(DIGEST)


async def referrers(
    ctx: RegistryContext, name: str, digest: str, artifact_type: str | None
) -> list[dict[str, Any]]:
    """Every referrer of `digest` in the repository (of `artifact_type` if given), page by page."""
    params: dict[str, Any] = {"repositoryName": name, "subjectId": {"imageDigest": digest}}
    if artifact_type is not None:
        params["filter"] = {"artifactTypes": [artifact_type]}
    found: list[dict[str, Any]] = []
    while True:
        page = await ctx.api("ListImageReferrers", params)
        found.extend(page["referrers"])
        if not page.get("nextToken"):
            return found
        params["nextToken"] = page["nextToken"]


def descriptor(referrer: dict[str, Any]) -> dict[str, Any]:
    """An OCI descriptor of one ListImageReferrers entry."""
    keys = ("mediaType", "size", "digest", "artifactType", "annotations")
    return {key: referrer[key] for key in keys if key in referrer}


async def handle(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """GET referrers/<digest>."""
    await request.drain()
    digest = route.digest or ""
    if not _DIGEST.fullmatch(digest):
        raise RegistryError("DIGEST_INVALID", detail={"digest": digest})
    artifact_type = route.query.get("artifactType") or None
    found = await referrers(ctx, route.repository or "", digest, artifact_type)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(referrer) for referrer in found],
    }
    headers = [("Content-Type", OCI_INDEX)]
    if artifact_type is not None:
        headers.append(("OCI-Filters-Applied", "artifactType"))
    return reply(200, headers, json.dumps(index).encode())
