"""What a SigV4-signed request claims: read from its Authorization header or presigned query.

Reading fails the way AWS's front end fails (as captured by mhart/dynalite against DynamoDB, a
JSON service like ECR): a missing or incomplete signature is an `AuthFailure` with AWS's own
wording. Whether the claim holds is `lab.identity.sigv4`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import unquote

Reason = Literal[
    "missing", "incomplete", "unknown_key", "bad_signature", "expired_token", "skew", "bad_token"
]

AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)
# AWS's message, verbatim (aws/aws-sdk-js#4285).
BOTH_FORMS = (
    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
)


class AuthFailure(Exception):
    """A request AWS would refuse before authorization; `message` is AWS's wording."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: Reason = reason
        self.message = message


@dataclass(frozen=True)
class Claim:
    """What the client says it signed."""

    algorithm: str
    credential: str  # keyid/date/region/service/terminator
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # the request time in ISO-8601 basic format
    security_token: str | None
    query: tuple[tuple[str, str], ...]  # decoded, without X-Amz-Signature


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def header_map(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased header name -> first value (the auth headers are single-valued)."""
    found: dict[str, str] = {}
    for name, value in headers:
        found.setdefault(name.lower(), value.strip())
    return found


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query string's (key, value) pairs, percent-decoded, in order."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def read_claim(headers: Mapping[str, str], query: list[tuple[str, str]]) -> Claim:
    """Read the client's claim from the Authorization header or the presigned query string."""
    authorization = headers.get("authorization")
    query_params = dict(reversed(query))  # first occurrence wins
    presigned = "X-Amz-Algorithm" in query_params
    if authorization is not None and presigned:
        raise AuthFailure("bad_signature", BOTH_FORMS)
    if authorization is not None:
        return _header_claim(authorization, headers, query)
    if presigned:
        return _query_claim(query_params, query)
    raise AuthFailure("missing", "Missing Authentication Token")


def request_time(amz_date: str) -> datetime:
    """The claimed request time; a malformed one is an incomplete signature."""
    try:
        if _AMZ_DATE.fullmatch(amz_date):
            return datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        pass  # e.g. month 13: as malformed as a wrong shape
    raise AuthFailure(
        "incomplete",
        f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601",
    )


def _header_claim(
    authorization: str, headers: Mapping[str, str], query: list[tuple[str, str]]
) -> Claim:
    algorithm, _, rest = authorization.strip().partition(" ")
    params: dict[str, str] = {}
    # Only an AWS4 header has parameters; anything else lacks all of them (aws/aws-sdk-js#4285).
    if algorithm.startswith("AWS4-"):
        for token in re.split(r"[,\s]+", rest):
            if not token:
                continue
            if "=" not in token:
                raise AuthFailure(
                    "incomplete",
                    f"'{token}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{authorization}'.",
                )
            name, _, value = token.partition("=")
            params.setdefault(name, value)
    amz_date = headers.get("x-amz-date") or _date_header(headers.get("date"))
    # An empty SignedHeaders is present (and fails later: Host must be signed).
    missing = [
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in params or (not params[name] and name != "SignedHeaders")
    ]
    if not amz_date:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    if missing:
        raise AuthFailure("incomplete", "".join(missing) + f"Authorization={authorization}")
    return Claim(
        algorithm=algorithm,
        credential=params["Credential"],
        signed_headers=_signed_header_names(params["SignedHeaders"]),
        signature=params["Signature"],
        amz_date=amz_date,
        security_token=headers.get("x-amz-security-token"),
        query=tuple(query),
    )


def _query_claim(params: Mapping[str, str], query: list[tuple[str, str]]) -> Claim:
    missing = [
        f"AWS query-string parameters must include '{name}'. "
        for name in _PRESIGN_PARAMS
        if not params.get(name)
    ]
    if missing:
        raise AuthFailure(
            "incomplete", "".join(missing) + "Re-examine the query-string parameters."
        )
    return Claim(
        algorithm=params["X-Amz-Algorithm"],
        credential=params["X-Amz-Credential"],
        signed_headers=_signed_header_names(params["X-Amz-SignedHeaders"]),
        signature=params["X-Amz-Signature"],
        amz_date=params["X-Amz-Date"],
        security_token=params.get("X-Amz-Security-Token"),
        query=tuple(pair for pair in query if pair[0] != "X-Amz-Signature"),
    )


def _signed_header_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in value.split(";") if name.strip())


def _date_header(value: str | None) -> str | None:
    """An RFC 1123 Date header in ISO-8601 basic format (unparsable values pass through)."""
    if not value:
        return None
    try:
        return as_utc(parsedate_to_datetime(value)).strftime(AMZ_DATE_FORMAT)
    except (TypeError, ValueError):
        return value
