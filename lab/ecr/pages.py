"""ECR's pagination: maxResults and an opaque nextToken that resumes after the last key."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from lab import json_input
from lab.ecr.errors import INVALID_NEXT_TOKEN

Item = TypeVar("Item")

# ECR returns up to 100 results when maxResults is not given (API reference, DescribeImages).
DEFAULT_MAX_RESULTS = 100


def paginate(
    items: Sequence[Item],
    key: Callable[[Item], list[str]],
    params: dict[str, Any],
) -> tuple[list[Item], str | None]:
    """One page of `items` (sorted here by `key`) and the token for the next, if any."""
    ordered = sorted(items, key=key)
    token = params.get("nextToken")
    if token is not None:
        after = _decode(token)
        ordered = [item for item in ordered if key(item) > after]
    size = params.get("maxResults") or DEFAULT_MAX_RESULTS
    page, rest = ordered[:size], ordered[size:]
    return page, (_encode(key(page[-1])) if rest else None)


def _encode(position: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode(token: str) -> list[str]:
    try:
        position = json_input.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as error:
        raise INVALID_NEXT_TOKEN() from error
    if not isinstance(position, list) or not all(isinstance(part, str) for part in position):
        raise INVALID_NEXT_TOKEN()
    return position
