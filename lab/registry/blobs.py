"""Blobs: HEAD (ecr:BatchCheckLayerAvailability) and GET with ranges (ecr:GetDownloadUrlForLayer).

A GET answers with a span of the blob's file (a FileSpan), which the server writes to the
socket in small pieces: a layer of any size never sits in memory.
"""

from __future__ import annotations

import os
import re
from typing import BinaryIO

from lab.errors import AwsError
from lab.http import FileSpan, HttpRequest, HttpResponse
from lab.registry.context import RegistryContext
from lab.registry.errors import RegistryError
from lab.registry.numbers import saturating
from lab.registry.routes import Route
from lab.registry.wire import reply

READ_CHUNK = 1 << 20  # bytes per read, should the server read a blob piece by piece
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


def blob_unknown(digest: str) -> RegistryError:
    """BLOB_UNKNOWN naming the digest, as distribution details it."""
    return RegistryError("BLOB_UNKNOWN", detail={"digest": digest})


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a `Range: bytes=a-b` asks of a `size`-byte blob, or None for
    the whole blob (no header, or a form we may ignore per RFC 9110: several ranges).
    RANGE_INVALID (416) when it cannot be satisfied."""
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        start, end = max(size - saturating(last), 0), size - 1
    else:
        start = saturating(first)
        end = min(saturating(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RegistryError("RANGE_INVALID", detail={"size": size})
    return start, end


def stream(file: BinaryIO, length: int) -> FileSpan:
    """`length` bytes of an open file from its current position, as a body that owns it."""
    return FileSpan(file, file.tell(), length, READ_CHUNK)


async def handle(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """HEAD or GET /v2/<name>/blobs/<digest>."""
    await request.drain()
    name, digest = route.repository, route.digest
    headers = [("Docker-Content-Digest", digest), ("Accept-Ranges", "bytes")]
    if route.method == "HEAD":
        size = await ctx.call(ctx.ecr.layer_size, name, digest)
        if size is None:
            raise blob_unknown(digest)
        headers.append(("Content-Type", "application/octet-stream"))
        return reply(200, headers, length=size)
    try:
        path = await ctx.call(ctx.ecr.layer_path, name, digest)
        file = path.open("rb")  # opened now: the answer stays whole whatever happens next
    except (FileNotFoundError, AwsError) as error:
        if isinstance(error, AwsError) and error.code == "RepositoryNotFoundException":
            raise
        raise blob_unknown(digest) from error
    size = os.fstat(file.fileno()).st_size
    try:
        wanted = parse_range(request.header("range"), size)
    except RegistryError:
        file.close()
        raise
    headers.append(("Content-Type", "application/octet-stream"))
    if wanted is None:
        return reply(200, headers, stream(file, size), length=size)
    start, end = wanted
    file.seek(start)
    headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    return reply(206, headers, stream(file, end - start + 1), length=end - start + 1)
