"""The lab's view of one HTTP exchange, independent of the server that carries it.

Bodies stream in both directions, so a 1 GiB layer never sits in memory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

Headers = Sequence[tuple[str, str]]


@dataclass
class HttpRequest:
    """An incoming request. Header names are lower-case; values as received."""

    method: str
    path: str  # raw, percent-encoded as received
    query: str  # raw query string, without "?"
    headers: Headers
    client_ip: str
    body: AsyncIterator[bytes]
    secure: bool = False

    def header(self, name: str) -> str | None:
        """The first value of a header (name case-insensitive), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def header_all(self, name: str) -> list[str]:
        """Every value of a header, in order (docker sends several Accept headers)."""
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; past `limit` bytes the rest is drained and ValueError raised."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.body:
            size += len(chunk)
            if limit is None or size <= limit:
                parts.append(chunk)
        if limit is not None and size > limit:
            raise ValueError(f"body of {size} bytes exceeds {limit}")
        return b"".join(parts)

    async def drain(self) -> None:
        """Read and discard the body, so a refusal leaves the connection usable."""
        async for _ in self.body:
            pass


@dataclass
class HttpResponse:
    """An outgoing response; `body` is bytes or an async stream of chunks (a FileSpan: a span
    of a file, which the server may send past its per-piece path)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | AsyncIterator[bytes] = b""


class FileSpan(AsyncIterator[bytes]):
    """A response body that is `count` bytes of an open file from `offset`, and owns the file.

    A server that can writes it to the socket itself (lab.server.file_bodies); any other
    reader gets it in pieces of at most `piece` bytes. The file is closed once read to the
    end, or by `aclose`, which whoever holds the body must call when done with it.
    """

    def __init__(self, file: BinaryIO, offset: int, count: int, piece: int) -> None:
        self.file, self.offset, self.count = file, offset, count
        self._position, self._end, self._piece = offset, offset + count, piece

    async def __anext__(self) -> bytes:
        size = min(self._piece, self._end - self._position)
        piece = b""
        if size > 0 and not self.file.closed:
            piece = await asyncio.to_thread(os.pread, self.file.fileno(), size, self._position)
        if not piece:  # the end (or a file shorter than announced: the framing tells that)
            self.file.close()
            raise StopAsyncIteration
        self._position += len(piece)
        return piece

    async def aclose(self) -> None:
        self.file.close()
