"""Limits on a request's head (request line and header fields), which httptools has none of.

uvicorn's h11 server stops at `h11_max_incomplete_event_size` (16 KiB); its httptools server,
which the lab runs for speed, buffers a header of any length and any number of them. This
protocol counts both and answers 431 Request Header Fields Too Large (RFC 6585, section 5),
as AWS's front ends do past their limits, then closes the connection.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Go's net/http (the distribution registry's server) allows 1 MiB of head; Apache httpd 100
# fields of 8 KiB. A signed AWS request or docker's registry call needs a few KiB.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100

_TOO_LARGE = b"Request Header Fields Too Large\n"
_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_TOO_LARGE)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _TOO_LARGE
)


class HeadTooLarge(Exception):
    """Raised inside the parser's callback to stop it; answered with 431."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head past the limits above."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = False  # between a request's first byte and the end of its headers
        self._ended = False  # a request ended in the chunk being fed
        self._too_large = False
        self._start_head()

    def _start_head(self) -> None:
        self._head_bytes = 0  # URL and header fields the parser has handed over
        self._buffered = 0  # chunks fed whole while the head was incomplete: head bytes too
        self._fields = 0

    def data_received(self, data: bytes) -> None:
        self._ended = False
        super().data_received(data)
        if self._too_large or not self._in_head:
            return
        # A chunk that also ended the request before (pipelining) is left out: one read.
        if not self._ended:
            self._buffered += len(data)
        if self._buffered > MAX_HEAD_BYTES:
            self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._start_head()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        if self._fields > MAX_HEADER_FIELDS:
            self._stop()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._ended = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with 400; the one we raised is ours to answer.
        if self._too_large:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._stop()

    def _stop(self) -> None:
        self._too_large = True
        raise HeadTooLarge

    def _refuse(self) -> None:
        self._too_large = True
        if not self.transport.is_closing():
            self.transport.write(_RESPONSE)
            self.transport.close()
