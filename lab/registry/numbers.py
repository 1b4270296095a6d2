"""Decimal numbers in headers and query strings, read as the distribution registry reads them.

Go's strconv takes ASCII digits only and refuses values past int64; Python's int() takes any
Unicode digit ('٣') and raises ValueError past 4,300 digits. Here: ASCII only, int64 at most.
"""

from __future__ import annotations

import re

INT64_MAX = 2**63 - 1
_ATOI = re.compile(r"[+-]?[0-9]{1,19}")  # strconv.Atoi's syntax, within int64's 19 digits


def atoi(text: str) -> int | None:
    """`text` as Go's strconv.Atoi reads it (an optional sign, ASCII digits, within int64),
    or None where Atoi fails."""
    if not _ATOI.fullmatch(text):
        return None
    value = int(text)
    return value if -INT64_MAX - 1 <= value <= INT64_MAX else None


def saturating(digits: str) -> int:
    """ASCII `digits` as a number, INT64_MAX for any larger: a byte position no blob reaches."""
    significant = digits.lstrip("0") or "0"
    return INT64_MAX if len(significant) > 19 else min(int(significant), INT64_MAX)
