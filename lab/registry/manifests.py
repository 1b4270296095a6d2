"""Manifests: GET/HEAD (ecr:BatchGetImage), PUT (ecr:PutImage), DELETE (ecr:BatchDeleteImage).

ECR's own rules apply through Ecr.put_manifest: referenced layers and images must be in the
repository, a digest reference must match the bytes, an immutable tag cannot move (TAG_INVALID).
"""

from __future__ import annotations

from lab.ecr.manifests import InvalidManifest, parse_manifest
from lab.http import HttpRequest, HttpResponse
from lab.registry.context import RegistryContext
from lab.registry.errors import RegistryError
from lab.registry.negotiation import acceptable
from lab.registry.routes import Route
from lab.registry.wire import reply

# ECR's manifest size limit: 4 MiB ("Amazon ECR service quotas": image manifest size).
MAX_MANIFEST = 4 * 1024 * 1024


async def fetch(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """GET or HEAD by tag or digest, in the stored format if the client accepts it."""
    await request.drain()
    data, media_type, digest = await ctx.call(
        ctx.ecr.get_manifest,
        route.repository,
        route.reference,
        ctx.principal,
        route.method == "GET",  # a pull; a HEAD only asks whether it is there
    )
    if not acceptable(media_type, request.header_all("accept")):
        # Stored formats are never converted: an unaccepted one is not found for this client.
        raise RegistryError("MANIFEST_UNKNOWN", detail={"mediaType": media_type})
    headers = [
        ("Content-Type", media_type),
        ("Docker-Content-Digest", digest),
        ("ETag", f'"{digest}"'),
    ]
    if route.method == "HEAD":
        return reply(200, headers, length=len(data))
    return reply(200, headers, data)


async def put(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """PUT by tag or digest; answers 201 with the manifest's digest."""
    try:
        data = await request.read(MAX_MANIFEST)
    except ValueError as error:
        raise RegistryError("MANIFEST_INVALID", detail="manifest exceeds 4 MiB") from error
    media_type = (request.header("content-type") or "").split(";")[0].strip()
    digest = await ctx.call(
        ctx.ecr.put_manifest, route.repository, route.reference, data, media_type
    )
    headers = [
        ("Location", f"/v2/{route.repository}/manifests/{digest}"),
        ("Docker-Content-Digest", digest),
    ]
    subject = _subject(data, media_type)
    if subject:  # the registry processed it: the client need not keep a referrers tag
        headers.append(
            ("OCI-Subject", subject)
        )  # distribution-spec, "Pushing Manifests with Subject"
    return reply(201, headers)


def _subject(data: bytes, media_type: str) -> str | None:
    try:
        return parse_manifest(data, media_type or None).subject
    except InvalidManifest:
        return None


async def delete(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """DELETE by digest (the image) or by tag (the tag), as BatchDeleteImage does."""
    await request.drain()
    image_id = {"imageDigest" if route.by_digest else "imageTag": route.reference}
    result = await ctx.api(
        "BatchDeleteImage", {"repositoryName": route.repository, "imageIds": [image_id]}
    )
    if result["failures"]:
        raise RegistryError("MANIFEST_UNKNOWN")
    return reply(202)


async def handle(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """Any call on /v2/<name>/manifests/<reference>."""
    step = {"GET": fetch, "HEAD": fetch, "PUT": put, "DELETE": delete}[route.method]
    return await step(route, request, ctx)
