"""AWS's published SigV4 test suite (tests/data/sigv4) through `verify`, as a server sees it.

Each case is a request (`.sreq`) and the Authorization header AWS computed for it (`.authz`,
which is authoritative: get-vanilla-with-session-token's `.sreq` carries a stale signature). The
server must accept it with the suite's key at the suite's time, and refuse it once altered.
The suite's paths are given unencoded; a server hands `verify` the path as received and
botocore encodes it once, as the suite expects.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lab.identity.credentials import Credential, Identity
from lab.identity.sigv4 import AuthFailure, verify

SUITE = Path(__file__).parent / "data" / "sigv4"
CASES = sorted(path.with_suffix("") for path in SUITE.rglob("*.sreq"))
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
IDENTITY = Identity(
    arn="arn:aws:iam::123456789012:user/example", account="123456789012", user_id="AIDAEXAMPLE"
)


def parse_signed_request(path: Path) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    """(method, path, query, headers, body) of a suite `.sreq` file; folded lines unfolded."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    request_line, *lines = head.split("\n")
    method, rest = request_line.split(" ", 1)
    target = rest.rsplit(" ", 1)[0]  # the suite's paths may hold spaces (get-space)
    raw_path, _, raw_query = target.partition("?")
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1].isspace():
            name, value = headers.pop()
            headers.append((name, f"{value} {line.strip()}"))
        else:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
    return method, raw_path, raw_query, headers, body.encode("utf-8")


def suite_credential(headers: list[tuple[str, str]]) -> Credential:
    """The suite's key; its session token is the one the request carries, if any."""
    token = next((v for n, v in headers if n.lower() == "x-amz-security-token"), None)
    return Credential("AKIDEXAMPLE", SECRET, token, None, IDENTITY)


def signed_request(case: Path) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    """The case's request with the suite's expected Authorization header."""
    method, raw_path, raw_query, headers, body = parse_signed_request(case.with_suffix(".sreq"))
    authorization = case.with_suffix(".authz").read_text(encoding="utf-8").strip()
    headers = [(n, authorization if n.lower() == "authorization" else v) for n, v in headers]
    return method, raw_path, raw_query, headers, body


def verify_case(case: Path, headers_override: list[tuple[str, str]] | None = None) -> Credential:
    method, raw_path, raw_query, headers, body = signed_request(case)
    return verify(
        method,
        raw_path,
        raw_query,
        headers_override or headers,
        hashlib.sha256(body).hexdigest(),
        {"AKIDEXAMPLE": suite_credential(headers)}.get,
        now=SUITE_TIME,
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_aws_sigv4_test_suite_request_verifies(case: Path) -> None:
    assert verify_case(case).access_key_id == "AKIDEXAMPLE"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_aws_sigv4_test_suite_request_with_altered_signature_is_refused(case: Path) -> None:
    _, _, _, headers, _ = signed_request(case)
    altered = [
        (name, value[:-1] + ("0" if value[-1] != "0" else "1"))
        if name.lower() == "authorization"
        else (name, value)
        for name, value in headers
    ]
    with pytest.raises(AuthFailure) as failure:
        verify_case(case, altered)
    assert failure.value.reason == "bad_signature"


def test_suite_covers_the_cases_botocore_skips() -> None:
    names = {case.name for case in CASES}
    # botocore's own runner skips these (its parser, its dict of params); a server may not.
    assert {
        "get-space",
        "get-vanilla-query-order-key",
        "get-vanilla-query-order-value",
        "get-vanilla-query-order-key-case",
    } <= names
    assert len(CASES) == 34
