"""The Docker Registry v2 API over ECR's state, refused exactly where ECR refuses.

The server authenticates the caller and authorizes `routes.match(...)`'s action; then
`dispatch` runs the route's handler. Every answer reads the request body fully first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lab.errors import AwsError
from lab.http import HttpRequest, HttpResponse
from lab.registry import blobs, manifests, referrers, tags, uploads
from lab.registry.context import RegistryContext
from lab.registry.errors import RegistryError, error_response, from_aws_error
from lab.registry.routes import Route
from lab.registry.wire import json_reply

Handler = Callable[[Route, HttpRequest, RegistryContext], Awaitable[HttpResponse]]


async def base(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """GET /v2/: the client is authenticated; the API is version 2."""
    await request.drain()
    return json_reply(200, {})


HANDLERS: dict[str, Handler] = {
    "base": base,
    "tags": tags.handle,
    "manifest": manifests.handle,
    "blob": blobs.handle,
    "upload_start": uploads.handle,
    "upload": uploads.handle,
    "referrers": referrers.handle,
}

# An ECR refusal with no registry code of its own becomes this code on these routes.
_FALLBACK = {"manifest": "MANIFEST_INVALID"}


async def dispatch(
    route: Route, request: HttpRequest, ctx: RegistryContext | Mapping[str, Any]
) -> HttpResponse:
    """Run the route's handler; registry and ECR errors become the registry's error body."""
    context = ctx if isinstance(ctx, RegistryContext) else RegistryContext(**ctx)
    try:
        return await HANDLERS[route.name](route, request, context)
    except RegistryError as error:
        await request.drain()
        return error_response(error)
    except AwsError as error:
        await request.drain()
        return error_response(from_aws_error(error, _FALLBACK.get(route.name, "UNSUPPORTED")))


__all__ = ["HANDLERS", "RegistryContext", "dispatch"]
