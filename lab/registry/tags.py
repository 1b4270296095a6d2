"""Tags: GET /v2/<name>/tags/list (ecr:ListImages), in lexical order, paginated by `n`/`last`.

Pagination as the distribution spec has it: `n` results after `last`, and a `Link` header
with `rel="next"` while more remain.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from lab.http import HttpRequest, HttpResponse
from lab.registry.context import RegistryContext
from lab.registry.errors import RegistryError
from lab.registry.numbers import atoi
from lab.registry.routes import Route
from lab.registry.wire import json_reply


async def all_tags(ctx: RegistryContext, name: str) -> list[str]:
    """Every tag in the repository, sorted, read through ListImages page by page."""
    params: dict[str, Any] = {
        "repositoryName": name,
        "filter": {"tagStatus": "TAGGED"},
        "maxResults": 1000,
    }
    tags: set[str] = set()
    while True:
        page = await ctx.api("ListImages", params)
        tags.update(image["imageTag"] for image in page["imageIds"] if "imageTag" in image)
        if not page.get("nextToken"):
            return sorted(tags)
        params["nextToken"] = page["nextToken"]


def _page_size(route: Route) -> int | None:
    # distribution's tags handler: an empty `n` is none; Atoi's failures and negatives refused.
    raw = route.query.get("n", "")
    if not raw:
        return None
    size = atoi(raw)
    if size is None or size < 0:
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": raw})
    return size


async def handle(route: Route, request: HttpRequest, ctx: RegistryContext) -> HttpResponse:
    """GET tags/list[?n=N[&last=T]]."""
    await request.drain()
    name = route.repository
    size = _page_size(route)
    last = route.query.get("last")
    tags = [tag for tag in await all_tags(ctx, name) if last is None or tag > last]
    headers = []
    if size is not None and len(tags) > size:
        tags = tags[:size]
        if tags:  # n=0 asks for nothing: no next page either
            query = urlencode({"n": size, "last": tags[-1]})
            headers.append(("Link", f'</v2/{name}/tags/list?{query}>; rel="next"'))
    return json_reply(200, {"name": name, "tags": tags}, headers)
