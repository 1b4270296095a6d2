"""lab.json_input: the nesting it measures is the document's, whatever its strings hold."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.json_input import TooDeep, loads

# Strings full of what a bracket counter could trip on: brackets, quotes, backslashes.
TRICKY_TEXT = st.text(alphabet='[]{}"\\/,:u0 \u00e9', max_size=12)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner, max_size=3),
    max_leaves=40,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@given(
    value=VALUES, limit=st.integers(0, 6), indent=st.sampled_from([None, 1]), ascii=st.booleans()
)
def test_refused_exactly_when_nested_deeper_than_the_limit(
    value, limit: int, indent, ascii: bool
) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii)
    if depth_of(value) > limit:
        with pytest.raises(TooDeep):
            loads(text, max_depth=limit)
    else:
        assert loads(text.encode(), max_depth=limit) == value


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_only_utf8_bytes_are_json(encoding: str) -> None:
    with pytest.raises(ValueError):
        loads('{"a": 1}'.encode(encoding))


def test_a_refusal_is_a_json_decode_error_for_callers_that_report_positions() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads("[" * 501 + "]" * 501)
