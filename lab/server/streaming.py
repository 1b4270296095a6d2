"""Request bodies handed to the app as they arrive, without uvicorn's per-message ASGI path.

uvicorn's httptools protocol appends each body piece to one buffer, copies it out again at every
`receive()`, and pauses the socket once 64 KiB wait. This subclass keeps uvicorn for everything
else (parsing, limits, responses, keep-alive, shutdown) and changes one thing: the pieces go,
uncopied, into a `RequestBody` the app reads from the ASGI scope's extensions, and the socket
pauses only once BODY_HIGH_WATER bytes wait. Written here because uvicorn has no hook for it,
and all else it does we keep. (No BufferedProtocol: uvloop reads an asyncio.Protocol subclass
through its own buffer whatever it defines.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

BODY_EXTENSION = "lab.request_body"  # the scope["extensions"] key holding the RequestBody
BODY_HIGH_WATER = 8 << 20  # bytes received ahead of the app before the socket pauses


class RequestBody:
    """One request's body: pieces fed by the protocol, read by the app with `async for`.

    Ends with the message; raises ConnectionResetError if the client goes away first.
    """

    def __init__(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self._pieces: deque[bytes] = deque()
        self._held = 0
        self._complete = False
        self._lost = False
        self._waiter: asyncio.Future[None] | None = None
        self._pause, self._resume = pause, resume
        self.on_first_read: Callable[[], None] | None = None  # e.g. send 100 Continue

    # The protocol's side

    def feed(self, piece: bytes) -> None:
        self._pieces.append(piece)
        self._held += len(piece)
        if self._held >= BODY_HIGH_WATER:
            self._pause()
        self._wake()

    def end(self) -> None:
        self._complete = True
        self._wake()

    def lose(self) -> None:
        self._lost = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # The app's side

    def __aiter__(self) -> RequestBody:
        return self

    async def __anext__(self) -> bytes:
        if self.on_first_read is not None:
            self.on_first_read()
            self.on_first_read = None
        while not self._pieces:
            if self._lost:
                raise ConnectionResetError("client disconnected")
            if self._complete:
                raise StopAsyncIteration
            self._resume()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        piece = self._pieces.popleft()
        self._held -= len(piece)
        if self._held < BODY_HIGH_WATER:
            self._resume()
        return piece


class StreamingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with bodies delivered through a RequestBody."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._body: RequestBody | None = None

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        body = RequestBody(self.flow.pause_reading, self.flow.resume_reading)
        cycle = self.cycle

        def send_continue() -> None:
            # What uvicorn's receive() does on the first read of an `Expect: 100-continue` body.
            if cycle.waiting_for_100_continue and not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                cycle.waiting_for_100_continue = False

        body.on_first_read = send_continue
        self.scope.setdefault("extensions", {})[BODY_EXTENSION] = body
        self._body = body

    def on_body(self, body: bytes) -> None:
        if self._body is not None and not self.cycle.response_complete:
            self._body.feed(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._body is not None:
            self._body.end()
            self._body = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._body is not None:
            self._body.lose()
            self._body = None
        super().connection_lost(exc)
