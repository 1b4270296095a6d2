"""Wildcard matching of actions, resources and ARNs, as AWS matches them.

Patterns use `*` (any run of characters) and `?` (one character). A wildcard that came from
a policy variable (`${*}`, `${?}` or a substituted value) is literal: variables.py writes it
as LITERAL_STAR / LITERAL_QUESTION, which every matcher here reads as the plain character.
Compiled patterns are cached, so repeated evaluations cost one regex match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# Private-use code points: a `*` or `?` that must match only itself.
LITERAL_STAR = "\ue000"
LITERAL_QUESTION = "\ue001"

_MAGIC = frozenset(("*", "?", LITERAL_STAR, LITERAL_QUESTION))
_LITERALS = {LITERAL_STAR: re.escape("*"), LITERAL_QUESTION: re.escape("?")}
_ARN_PARTS = 6
_CACHE_SIZE = 8192


def _has_magic(pattern: str) -> bool:
    return not _MAGIC.isdisjoint(pattern)


def _translate(glob: str, star: str, one: str, trailing_star: str | None = None) -> str:
    """Turn a glob into a regex body; `trailing_star` replaces a `*` that ends the glob."""
    out: list[str] = []
    index, size = 0, len(glob)
    while index < size:
        char = glob[index]
        if char == "*":
            # A run of stars means the same as one (and keeps the regex linear).
            while index < size and glob[index] == "*":
                index += 1
            out.append(trailing_star if trailing_star and index == size else star)
            continue
        out.append(one if char == "?" else _LITERALS.get(char) or re.escape(char))
        index += 1
    return "".join(out)


def _always(_: str) -> bool:
    return True


def _never(_: str) -> bool:
    return False


def _predicate(pattern: str, regex_body: Callable[[str], str]) -> Callable[[str], bool]:
    """A compiled test for one pattern: `*` alone, a plain string, or a regex."""
    if pattern == "*":
        return _always
    if not _has_magic(pattern):
        return pattern.__eq__
    fullmatch = re.compile(regex_body(pattern), re.DOTALL).fullmatch
    return lambda text: fullmatch(text) is not None


def _glob_body(pattern: str) -> str:
    return _translate(pattern, ".*", ".")


@lru_cache(maxsize=_CACHE_SIZE)
def _glob(pattern: str) -> Callable[[str], bool]:
    return _predicate(pattern, _glob_body)


def glob_matches(pattern: str, text: str) -> bool:
    """Case-sensitive `*`/`?` match of the whole text (StringLike's rule)."""
    return _glob(pattern)(text)


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action/NotAction entry matches an action such as `ecr:BatchGetImage`.

    Action names are case-insensitive on AWS ("IAM JSON policy elements: Action").
    """
    return _glob(pattern.lower())(action.lower())


def _resource_body(pattern: str) -> str:
    segments = pattern.split(":", _ARN_PARTS - 1)
    return ":".join(
        # The resource part is one segment even when it holds colons.
        _translate(segment, ".*", ".")
        if position == _ARN_PARTS - 1
        # A `*` ending a segment may expand past the colon ("IAM JSON policy elements:
        # Resource", Using wildcards in resource ARNs); elsewhere it stays in its segment.
        else _translate(segment, "[^:]*", "[^:]", trailing_star=".*")
        for position, segment in enumerate(segments)
    )


@lru_cache(maxsize=_CACHE_SIZE)
def _resource(pattern: str) -> Callable[[str], bool]:
    return _predicate(pattern, _resource_body)


def resource_matches(pattern: str, resource: str) -> bool:
    """Whether a Resource/NotResource entry (variables already substituted) matches an ARN.

    Case-sensitive. `"*"` matches everything; otherwise the wildcards work segment by
    segment as https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
    describes: a `*` in the resource part matches `/` and `:`, a `*` ending any other
    segment may cross colons, and any other wildcard stays inside its segment.
    """
    return _resource(pattern)(resource)


@lru_cache(maxsize=_CACHE_SIZE)
def _arn(pattern: str) -> Callable[[str], bool]:
    segments = pattern.split(":", _ARN_PARTS - 1)
    if len(segments) != _ARN_PARTS:
        return _never
    if not _has_magic(pattern):
        return pattern.__eq__
    tests = tuple(_glob(segment) for segment in segments)

    def matches(arn: str) -> bool:
        values = arn.split(":", _ARN_PARTS - 1)
        return len(values) == _ARN_PARTS and all(
            test(value) for test, value in zip(tests, values, strict=True)
        )

    return matches


def arn_matches(pattern: str, arn: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts matched on its own.

    Per "IAM JSON policy elements: Condition operators" (ARN condition operators), a `*`
    never spans a colon between parts; a pattern or value that is not a six-part ARN
    never matches.
    """
    return _arn(pattern)(arn)
