"""What every registry answer carries: the API version header and an exact Content-Length."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

from lab.http import HttpResponse

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
JSON_TYPE = "application/json; charset=utf-8"


def reply(
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | AsyncIterator[bytes] = b"",
    *,
    length: int | None = None,
) -> HttpResponse:
    """A response with its length (`length` for a HEAD or streamed body) and API version."""
    size = length if length is not None else len(body) if isinstance(body, bytes) else None
    if size is None:
        raise ValueError("a streamed body needs its length")
    return HttpResponse(status, [*headers, ("Content-Length", str(size)), API_VERSION_HEADER], body)


def json_reply(
    status: int, document: object, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    """A JSON answer."""
    return reply(status, [("Content-Type", JSON_TYPE), *headers], json.dumps(document).encode())
