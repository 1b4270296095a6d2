"""Manifest content negotiation over every Accept header a client sends.

docker sends six separate Accept headers in random order (FACTS: "Registry protocol"); each may
also list several types separated by commas, with parameters.
"""

from __future__ import annotations

from collections.abc import Iterable

_WILDCARDS = frozenset({"*/*", "application/*"})


def accepted_types(accept_headers: Iterable[str]) -> frozenset[str]:
    """Every media type the client accepts, lower-cased, parameters dropped."""
    return frozenset(
        item.split(";")[0].strip().lower()
        for header in accept_headers
        for item in header.split(",")
        if item.split(";")[0].strip()
    )


def acceptable(media_type: str, accept_headers: Iterable[str]) -> bool:
    """Whether a manifest of `media_type` may be served: no Accept, a wildcard, or its type."""
    accepted = accepted_types(accept_headers)
    return not accepted or bool(accepted & (_WILDCARDS | {media_type.lower()}))
