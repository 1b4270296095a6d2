"""JSON from callers: UTF-8 text only, nesting bounded, every refusal a ValueError.

`json.loads` alone would take UTF-16 and UTF-32 bytes (RFC 8259 section 8.1 says JSON exchanged
between systems is UTF-8) and, past a few thousand levels of nesting, raise RecursionError,
which no `except ValueError` around a parse catches: an unauthenticated request could turn a
400 into a 500. Every parse of untrusted JSON goes through `loads`.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

# Jackson's default maximum nesting depth (StreamReadConstraints) is 1000, and its maintainers
# found 500 ample for every legitimate document (FasterXML/jackson-core#1233); no manifest or
# policy comes near either.
MAX_DEPTH = 500

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENS, _CLOSES = b"[{", b"]}"
_NOT_BRACKETS = bytes(set(range(256)) - set(_OPENS + _CLOSES))
_RISE = bytes.maketrans(_OPENS + _CLOSES, b"\x02\x02\x00\x00")
_BLOCK = 256  # brackets examined at once when near the limit


class TooDeep(json.JSONDecodeError):
    """Arrays and objects nested deeper than allowed."""


def loads(
    data: str | bytes,
    *,
    max_depth: int = MAX_DEPTH,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """The JSON value in `data` (bytes must be UTF-8); ValueError if it is not one, including
    UnicodeDecodeError and TooDeep (nesting past `max_depth`). `object_pairs_hook` as json's."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    _check_depth(text, max_depth)
    return json.loads(text, object_pairs_hook=object_pairs_hook)


def _check_depth(text: str, max_depth: int) -> None:
    # Few brackets cannot nest deep: the common case costs two counts.
    if text.count("[") + text.count("{") <= max_depth:
        return
    # Brackets outside strings, in order; whatever is not JSON is left for json.loads to refuse.
    brackets = _STRING.sub("", text).encode("ascii", "ignore").translate(None, _NOT_BRACKETS)
    depth, start = 0, 0
    while start < len(brackets):
        piece = brackets[start : start + max(max_depth - depth, _BLOCK)]
        start += len(piece)
        opens = piece.count(b"[") + piece.count(b"{")
        # Within a piece the depth can rise by its opening brackets at most.
        if depth + opens > max_depth and depth + _deepest_rise(piece) > max_depth:
            raise TooDeep(f"nesting deeper than {max_depth} levels", text, 0)
        depth += 2 * opens - len(piece)


def _deepest_rise(piece: bytes) -> int:
    # Opening brackets count 2 and closing ones 0, so the rise after k brackets is sum - k.
    steps = piece.translate(_RISE)
    return max(map(operator.sub, accumulate(steps), range(1, len(steps) + 1)))
