"""ASGI glue: turns uvicorn's scope/receive/send into the lab's HttpRequest and back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from lab.http import FileSpan, HttpRequest, HttpResponse
from lab.server.file_bodies import FILE_BODY_EXTENSION, FileSender
from lab.server.streaming import BODY_EXTENSION

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


def asgi_app(handler: Handler) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI application serving every HTTP request with `handler`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        client = scope.get("client") or ("127.0.0.1", 0)
        extensions = scope.get("extensions", {})
        request = HttpRequest(
            method=scope["method"],
            path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=[
                (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
            ],
            client_ip=client[0],
            body=extensions.get(BODY_EXTENSION) or _body(receive),
            secure=scope.get("scheme") == "https",
        )
        try:
            response = await handler(request)
            await _send(
                response,
                send,
                head=scope["method"] == "HEAD",
                file_sender=extensions.get(FILE_BODY_EXTENSION),
            )
        except ConnectionResetError:  # the client went away mid-request: nobody to answer
            return

    return app


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client disconnected")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _send(
    response: HttpResponse, send: Send, *, head: bool, file_sender: FileSender | None
) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    body = response.body
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if isinstance(body, bytes) or head:
            await send({"type": "http.response.body", "body": b"" if head else body})
            return
        if isinstance(body, FileSpan) and file_sender is not None and file_sender.claim():
            await file_sender(body.file, body.offset, body.count)
        else:
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        if not isinstance(body, bytes):
            await _close(body)


async def _close(stream: AsyncIterator[bytes]) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
