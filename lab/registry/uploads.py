"""Blob uploads: start (POST), chunks (PATCH), status (GET), complete (PUT), cancel (DELETE).

Monolithic (`POST ?digest=`) and chunked uploads; resumable: GET tells how much arrived, and a
PATCH whose Content-Range does not start there is refused (416). The request body is written
as it arrives, in batches of BATCH bytes, one batch in a worker thread while the next arrives:
never the whole layer in memory. A PATCH syncs once before its 202, so acknowledged bytes
survive kill -9. Bytes become a blob only when PUT's digest matches them
(Ecr.complete_upload); an interrupted upload shows nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Any, TypeVar

from lab.ecr.blobs import UploadUnknown
from lab.errors import AwsError
from lab.http import HttpRequest, HttpResponse
from lab.registry.context import RegistryContext
from lab.registry.errors import RegistryError
from lab.registry.numbers import atoi, saturating
from lab.registry.routes import DIGEST, Route
from lab.registry.wire import reply

BATCH = 2 << 20  # bytes per write: few thread hand-offs, flat memory
T = TypeVar("T")
_CONTENT_RANGE = re.compile(r"(?:bytes )?([0-9]+)-([0-9]+)(?:/[0-9]+|/\*)?")
_DIGEST = re.compile(DIGEST)
# Content the commit refuses: the upload is cancelled, as distribution does on a failed PUT.
_REFUSED_CONTENT = frozenset({"InvalidLayerException", "EmptyUploadException"})


async def batches(body: AsyncIterator[bytes], size: int = BATCH) -> AsyncIterator[list[bytes]]:
    """The body's chunks grouped into batches of at least `size` bytes (the last may be
    shorter); never joined, which would copy every byte once more."""
    pending: list[bytes] = []
    held = 0
    async for chunk in body:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield pending
            pending, held = [], 0
    if pending:
        yield pending


def _upload_headers(name: str, upload_id: str, size: int) -> list[tuple[str, str]]:
    # distribution reports an empty upload as "0-0" too (registry/handlers/blobupload.go).
    return [
        ("Location", f"/v2/{name}/blobs/uploads/{upload_id}"),
        ("Range", f"0-{max(size - 1, 0)}"),
        ("Docker-Upload-UUID", upload_id),
    ]


async def _upload_call(method: Callable[..., T], *args: Any) -> T:
    """A BlobStore upload method in a thread; an upload cancelled meanwhile is unknown."""
    try:
        return await asyncio.to_thread(method, *args)
    except UploadUnknown as error:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN") from error


async def _receive(
    request: HttpRequest, ctx: RegistryContext, name: str, upload_id: str, limit: int | None = None
) -> int:
    """Write the request body to the repository's upload, not yet durably: one batch in a
    thread while the loop receives the next. Past `limit` bytes the rest is read, not written.
    Returns how many bytes the body had."""
    await ctx.call(ctx.ecr.upload_size, name, upload_id)  # the upload is this repository's
    writing: asyncio.Future[int] | None = None
    received = 0
    try:
        async for batch in batches(request.body):
            received += sum(map(len, batch))
            if limit is not None and received > limit:
                continue
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(_upload_call(ctx.ecr.blobs.write, upload_id, batch))
    finally:
        if writing is not None:
            await writing  # never leave a write running behind an error
    return received


async def _complete(ctx: RegistryContext, name: str, upload_id: str, digest: str) -> HttpResponse:
    """Commit the upload as `digest`; a mismatch cancels it, so nothing is stored."""
    try:
        await ctx.call(ctx.ecr.complete_upload, name, upload_id, digest)
    except AwsError as error:
        if error.code in _REFUSED_CONTENT:
            await ctx.call(ctx.ecr.cancel_upload, name, upload_id)
        if error.code == "InvalidLayerException":
            raise RegistryError("DIGEST_INVALID", detail={"digest": digest}) from error
        raise
    headers = [("Location", f"/v2/{name}/blobs/{digest}"), ("Docker-Content-Digest", digest)]
    return reply(201, headers)


def _digest_param(route: Route) -> str:
    digest = route.query.get("digest", "")
    if not _DIGEST.fullmatch(digest):
        raise RegistryError("DIGEST_INVALID", detail={"digest": digest or "missing"})
    return digest


async def start(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """POST /blobs/uploads/: a new upload, or a whole blob with `?digest=`.

    `?mount=&from=` mounts the layer (201 Created) when ECR would (lab.ecr.blob_mounting) and
    the front door allowed reading `from`; otherwise it is 202 and a normal upload (OCI
    distribution spec, "Mounting a blob from another repository").
    """
    name = route.repository
    mount = route.query.get("mount", "")
    mountable = ctx.mount_from is not None and _DIGEST.fullmatch(mount)
    if mountable and await ctx.call(ctx.ecr.mount_blob, name, ctx.mount_from, mount):
        await request.drain()
        return reply(
            201, [("Location", f"/v2/{name}/blobs/{mount}"), ("Docker-Content-Digest", mount)]
        )
    digest = _digest_param(route) if "digest" in route.query else None
    upload_id = await ctx.call(ctx.ecr.start_upload, name)
    if digest is None:
        await request.drain()
        return reply(202, _upload_headers(name, upload_id, 0))
    try:
        await _receive(request, ctx, name, upload_id)
        return await _complete(ctx, name, upload_id, digest)
    except Exception:
        # The client never learnt this upload's id: nobody could resume or cancel it.
        with suppress(Exception):
            await ctx.call(ctx.ecr.cancel_upload, name, upload_id)
        raise


def _chunk_length(request: HttpRequest, size: int) -> int | None:
    """The length a PATCH's Content-Range announces, checked as distribution checks it
    (registry/handlers/blobupload.go): it starts where the upload ends (else RANGE_INVALID)
    and agrees with Content-Length (else SIZE_INVALID). None without a Content-Range."""
    content_range = request.header("content-range")
    if content_range is None:
        return None
    found = _CONTENT_RANGE.fullmatch(content_range.strip())
    if found is None:
        raise RegistryError("RANGE_INVALID", detail={"size": size})
    start, end = saturating(found.group(1)), saturating(found.group(2))
    if start != size or start > end:
        raise RegistryError("RANGE_INVALID", detail={"size": size})
    length = end - start + 1
    declared = request.header("content-length")
    if declared is not None and atoi(declared) != length:
        raise RegistryError("SIZE_INVALID", detail={"range": content_range, "length": declared})
    return length


async def patch(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """PATCH: append a chunk; a Content-Range must name exactly the bytes sent, from where the
    upload ends. A chunk that breaks this leaves the upload as it was."""
    name, upload_id = route.repository, route.upload_id
    size = await ctx.call(ctx.ecr.upload_size, name, upload_id)
    length = _chunk_length(request, size)
    received = await _receive(request, ctx, name, upload_id, limit=length)
    if length is not None and received != length:  # a chunked body, longer or shorter
        await _upload_call(ctx.ecr.blobs.truncate, upload_id, size)
        raise RegistryError("SIZE_INVALID", detail={"length": length, "received": received})
    size = await _upload_call(ctx.ecr.blobs.sync, upload_id)  # durable before the 202
    return reply(202, _upload_headers(name, upload_id, size))


async def status(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """GET: how far the upload got, so a client can resume it."""
    await request.drain()
    size = await ctx.call(ctx.ecr.upload_size, route.repository, route.upload_id)
    return reply(204, _upload_headers(route.repository, route.upload_id, size))


async def complete(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """PUT ?digest=: append any last chunk, then verify and commit."""
    name, upload_id = route.repository, route.upload_id
    digest = _digest_param(route)
    await _receive(request, ctx, name, upload_id)
    return await _complete(ctx, name, upload_id, digest)


async def cancel(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """DELETE: abandon the upload."""
    await request.drain()
    await ctx.call(ctx.ecr.cancel_upload, route.repository, route.upload_id)
    return reply(204)


async def handle(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """Any call on /blobs/uploads/ or /blobs/uploads/<id>."""
    if route.name == "upload_start":
        return await start(route, request, ctx)
    step = {"PATCH": patch, "GET": status, "PUT": complete, "DELETE": cancel}[route.method]
    return await step(route, request, ctx)
