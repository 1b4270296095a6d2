"""Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`, defaults.

As https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
describes: a variable names any single-valued request key (matched case-insensitively),
`${*}` `${?}` `${$}` stand for those characters, and `${key, 'default'}` supplies a value
when the key is absent. A variable that has no value and no default leaves the element
unresolved (None): it then matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from lab.policy.matching import LITERAL_QUESTION, LITERAL_STAR
from lab.policy.model import ContextValue

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# The key, then optionally a comma and the default in single quotes.
_BODY = re.compile(r"\s*([^,']*?)\s*(?:,\s*'([^']*)'\s*)?")
_SPECIAL = frozenset(("*", "?", "$"))
_AS_PATTERN = str.maketrans({"*": LITERAL_STAR, "?": LITERAL_QUESTION})


@dataclass(frozen=True)
class _Variable:
    key: str  # lower-cased, as context keys are
    default: str | None


# A template is literal text and variables in order; None marks a malformed `${...}`.
_Piece = str | _Variable | None


@lru_cache(maxsize=4096)
def _template(text: str) -> tuple[_Piece, ...]:
    pieces: list[_Piece] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        pieces.append(text[position : found.start()])
        body = _BODY.fullmatch(found.group(1))
        key = body.group(1) if body else ""
        pieces.append(_Variable(key.lower(), body.group(2)) if body and key else None)
        position = found.end()
    pieces.append(text[position:])
    return tuple(piece for piece in pieces if piece != "")


def _value(variable: _Variable, context: Mapping[str, ContextValue]) -> str | None:
    if variable.key in _SPECIAL:
        return variable.key
    value = context.get(variable.key)
    if isinstance(value, tuple):
        # A multivalued key cannot be a variable ("Single-valued vs. multivalued context keys").
        value = value[0] if len(value) == 1 else None
    return variable.default if value is None else value


def _render(text: str, context: Mapping[str, ContextValue], as_pattern: bool) -> str | None:
    if "${" not in text:
        return text
    out: list[str] = []
    for piece in _template(text):
        if isinstance(piece, str):
            out.append(piece)
            continue
        value = None if piece is None else _value(piece, context)
        if value is None:
            return None
        out.append(value.translate(_AS_PATTERN) if as_pattern else value)
    return "".join(out)


def has_variables(text: str) -> bool:
    """Whether the text holds at least one `${...}` policy variable."""
    return "${" in text and _VARIABLE.search(text) is not None


def substitute(text: str, context: Mapping[str, ContextValue]) -> str | None:
    """The text with every variable replaced by its value, for exact comparisons.

    None when a variable has no value and no default. Text without `${` returns as is.
    """
    return _render(text, context, as_pattern=False)


def substitute_pattern(text: str, context: Mapping[str, ContextValue]) -> str | None:
    """Like substitute(), for a wildcard pattern (Resource, StringLike, ArnLike).

    The text's own `*` and `?` stay wildcards; every `*` or `?` a variable produces
    (`${*}`, `${?}`, a value, a default) comes back as matching.LITERAL_STAR /
    LITERAL_QUESTION, which the matchers in matching.py compare literally.
    """
    return _render(text, context, as_pattern=True)
