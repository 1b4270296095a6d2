"""Limits on what a request may make the server hold outside its body, which httptools lacks.

uvicorn's h11 server stops at `h11_max_incomplete_event_size` (16 KiB); its httptools server,
which the lab runs for speed, buffers a header of any length and any number of them, and a
chunked body's trailer fields likewise. This protocol counts the head and answers 431 Request
Header Fields Too Large (RFC 6585, section 5) past its limits, and a chunked body carrying far
more framing than data (trailers, padding) 400, as Go's net/http refuses "chunked encoding
contains too much non-data" (net/http/internal/chunked.go); then it closes the connection.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Go's net/http (the distribution registry's server) allows 1 MiB of head; Apache httpd 100
# fields of 8 KiB. A signed AWS request or docker's registry call needs a few KiB.
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100
# Go's allowance: 16 bytes of framing per chunk plus twice its data; at most 16 KiB beyond.
MAX_FRAMING_EXCESS = 16 * 1024


def _plain_answer(status_line: bytes, text: bytes) -> bytes:
    return (
        status_line + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text
    )


HEAD_TOO_LARGE = _plain_answer(
    b"HTTP/1.1 431 Request Header Fields Too Large", b"Request Header Fields Too Large\n"
)
TOO_MUCH_FRAMING = _plain_answer(
    b"HTTP/1.1 400 Bad Request", b"chunked encoding contains too much non-data\n"
)


class HeadTooLarge(Exception):
    """Raised inside the parser's callback to stop it; answered with 431."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head or chunk framing past the limits
    above."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = False  # between a request's first byte and the end of its headers
        self._in_body = False  # between the end of its headers and its end
        self._ended = False  # a request ended in the chunk being fed
        self._excess = 0  # framing beyond the allowance, as Go counts it
        self._refused = False
        self._start_head()

    def _start_head(self) -> None:
        self._head_bytes = 0  # URL and header fields the parser has handed over
        self._buffered = 0  # chunks fed whole while the head was incomplete: head bytes too
        self._fields = 0

    def data_received(self, data: bytes) -> None:
        in_body, self._ended = self._in_body, False
        self._body_fed = self._chunks_fed = 0
        super().data_received(data)
        # A chunk that also ended a request (pipelining) is left out: one read at most.
        if self._refused or self._ended:
            return
        if in_body:
            framing = len(data) - self._body_fed  # chunk sizes, line ends, trailers
            allowance = 16 * self._chunks_fed + 2 * self._body_fed
            self._excess = max(self._excess + framing - allowance, 0)
            if self._excess > MAX_FRAMING_EXCESS:
                self._refuse(TOO_MUCH_FRAMING)
        elif self._in_head:
            self._buffered += len(data)
            if self._buffered > MAX_HEAD_BYTES:
                self._refuse(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._in_body, self._excess = True, False, 0
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
        self._in_head, self._in_body = False, True
        super().on_headers_complete()

    def on_chunk_header(self) -> None:
        self._chunks_fed += 1

    def on_body(self, body: bytes) -> None:
        self._body_fed += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body, self._ended = False, True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with 400; the one we raised is ours to answer.
        if self._refused:
            self._refuse(HEAD_TOO_LARGE)
        else:
            super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._stop()

    def _stop(self) -> None:
        self._refused = True
        raise HeadTooLarge

    def _refuse(self, answer: bytes) -> None:
        self._refused = True
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:  # else too late to answer
            self.transport.write(answer)
        self.transport.close()
