"""SigV4 verification against requests really signed by botocore (ECR, IAM, STS, presigned).

A before-send hook captures the request botocore would put on the wire; the test hands it to
`verify` as the front door would (Host added as the HTTP client adds it), then alters it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lab.errors import ERROR_KINDS
from lab.identity.credentials import Credential, Identity, root_identity
from lab.identity.sigv4 import AWS_AUTH_ERRORS, AuthFailure, to_aws_error, verify

ENDPOINT = "http://127.0.0.1:4566"
REGION = "ap-northeast-1"
ROOT = Credential("test", "test", None, None, root_identity("123456789012"))
SESSION = Credential(
    "ASIAEXAMPLEEXAMPLE01",
    "s" * 40,
    "session-token-example",
    datetime.now(UTC) + timedelta(hours=1),
    Identity(
        arn="arn:aws:sts::123456789012:assumed-role/role-1/i-0123456789abcdef0",
        account="123456789012",
        user_id="AROAEXAMPLE:i-0123456789abcdef0",
        role_arn="arn:aws:iam::123456789012:role/role-1",
        session_name="i-0123456789abcdef0",
    ),
)
KEYS = {c.access_key_id: c for c in (ROOT, SESSION)}
BOTOCORE = botocore.session.get_session()  # one loader for every client: creating them is slow


@dataclass(frozen=True)
class Wire:
    """A request as the server receives it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def verify(
        self, lookup: Callable[[str], Credential | None] = KEYS.get, **kw: Any
    ) -> Credential:
        return verify(
            self.method,
            self.path,
            self.query,
            self.headers,
            hashlib.sha256(self.body).hexdigest(),
            lookup,
            **kw,
        )

    def with_header(self, name: str, value: str) -> Wire:
        kept = [(n, v) for n, v in self.headers if n.lower() != name.lower()]
        return Wire(self.method, self.path, self.query, [*kept, (name, value)], self.body)


class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _capture(request: Any, **_: Any) -> None:
    raise _Captured(request)


@functools.cache
def client(service: str, credential: Credential) -> Any:
    """A botocore client signing as `credential` whose requests are captured, never sent."""
    made = BOTOCORE.create_client(
        service,
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        aws_session_token=credential.session_token,
    )
    made.meta.events.register("before-send", _capture)
    return made


def signed(service: str, call: Callable[[Any], Any], credential: Credential = ROOT) -> Wire:
    """The wire form of `call(client)` signed by botocore with `credential`."""
    with pytest.raises(_Captured) as captured:
        call(client(service, credential))
    request = captured.value.request
    return _wire(request.method, request.url, dict(request.headers), request.body)


def _wire(method: str, url: str, headers: dict[str, Any], body: Any) -> Wire:
    parts = urlsplit(url)
    decoded = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
    body = body.encode() if isinstance(body, str) else body or b""
    return Wire(method, parts.path, parts.query, [("Host", parts.netloc), *decoded.items()], body)


def presigned(credential: Credential = ROOT, expires_in: int = 900) -> Wire:
    """botocore's presigned URL for sts:GetCallerIdentity, fetched with a plain GET."""
    url = client("sts", credential).generate_presigned_url(
        "get_caller_identity", ExpiresIn=expires_in, HttpMethod="GET"
    )
    return _wire("GET", url, {}, b"")


def reason_of(wire: Wire, **kw: Any) -> str:
    with pytest.raises(AuthFailure) as failure:
        wire.verify(**kw)
    return failure.value.reason


def ecr_token(client: Any) -> Any:
    return client.get_authorization_token()


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("ecr", ecr_token),
        ("ecr", lambda c: c.describe_repositories(repositoryNames=["fa-085"])),
        ("iam", lambda c: c.list_users(PathPrefix="/a b+c/")),
        ("sts", lambda c: c.get_caller_identity()),
        (
            "sts",
            lambda c: c.assume_role(
                RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="s1"
            ),
        ),
    ],
    ids=[
        "ecr-GetAuthorizationToken",
        "ecr-DescribeRepositories",
        "iam-ListUsers",
        "sts-Gci",
        "sts-AssumeRole",
    ],
)
def test_botocore_signed_request_verifies(service: str, call: Callable[[Any], Any]) -> None:
    assert signed(service, call).verify() == ROOT


def test_session_credentials_verify_with_their_token() -> None:
    assert signed("ecr", ecr_token, SESSION).verify() == SESSION


def test_scope_service_checked_when_given() -> None:
    wire = signed("sts", lambda c: c.get_caller_identity())
    assert wire.verify(service="sts", region=REGION) == ROOT
    with pytest.raises(AuthFailure) as failure:
        wire.verify(service="ecr")
    assert failure.value.reason == "bad_signature"
    assert failure.value.message == "Credential should be scoped to correct service: 'ecr'. "


def test_scope_region_checked_when_given() -> None:
    with pytest.raises(AuthFailure) as failure:
        signed("ecr", ecr_token).verify(region="us-east-1")
    assert failure.value.message == (
        f"Credential should be scoped to a valid region, not '{REGION}'. "
    )


def test_percent_encoded_path_is_encoded_again_as_clients_sign_it_for_non_s3() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:4566/a%20b/%C3%A9", headers={})
    SigV4Auth(Credentials("test", "test"), "ecr", REGION).add_auth(request)
    wire = _wire("GET", request.url, dict(request.headers), b"")
    assert wire.path == "/a%20b/%C3%A9"
    assert wire.verify() == ROOT


# --- tampering -------------------------------------------------------------------------------


def test_altered_body_is_refused() -> None:
    wire = signed("ecr", lambda c: c.describe_repositories(repositoryNames=["fa-085"]))
    altered = Wire(
        wire.method, wire.path, wire.query, wire.headers, wire.body.replace(b"fa", b"fb")
    )
    assert reason_of(altered) == "bad_signature"


def test_altered_signed_header_is_refused() -> None:
    wire = signed("ecr", ecr_token)
    altered = wire.with_header("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.PutImage")
    assert reason_of(altered) == "bad_signature"


def test_altered_date_is_refused() -> None:
    wire = signed("ecr", ecr_token)
    date = dict(wire.headers)["X-Amz-Date"]
    later = (datetime.strptime(date, "%Y%m%dT%H%M%SZ") + timedelta(seconds=1)).strftime(
        "%Y%m%dT%H%M%SZ"
    )
    if later[:8] != date[:8]:  # crossing midnight changes the scope check instead
        pytest.skip("signed one second before midnight")
    assert reason_of(wire.with_header("X-Amz-Date", later)) == "bad_signature"


def test_unsigned_header_may_change() -> None:
    wire = signed("ecr", ecr_token)
    assert wire.with_header("User-Agent", "something else").verify() == ROOT


def test_wrong_secret_is_bad_signature() -> None:
    wire = signed("ecr", ecr_token)
    wrong = Credential("test", "not-the-secret", None, None, ROOT.identity)
    assert reason_of(wire, lookup={"test": wrong}.get) == "bad_signature"


def test_unknown_access_key() -> None:
    assert reason_of(signed("ecr", ecr_token), lookup=lambda _: None) == "unknown_key"


def test_signed_session_token_altered_is_bad_signature() -> None:
    wire = signed("ecr", ecr_token, SESSION)
    assert reason_of(wire.with_header("X-Amz-Security-Token", "other")) == "bad_signature"


def test_unsigned_session_token_must_still_match() -> None:
    # The token may be added after signing (the suite's post-sts-header-after); it must match.
    request = AWSRequest(method="POST", url=f"{ENDPOINT}/", data=b"{}", headers={})
    SigV4Auth(
        Credentials(SESSION.access_key_id, SESSION.secret_access_key), "ecr", REGION
    ).add_auth(request)
    wire = _wire("POST", request.url, dict(request.headers), b"{}")
    assert reason_of(wire.with_header("X-Amz-Security-Token", "other")) == "bad_token"
    assert wire.with_header("X-Amz-Security-Token", "session-token-example").verify() == SESSION


def test_session_key_without_its_token_is_bad_token() -> None:
    stolen = Credential(
        SESSION.access_key_id, SESSION.secret_access_key, None, None, SESSION.identity
    )
    wire = signed("ecr", ecr_token, stolen)
    assert reason_of(wire) == "bad_token"


def test_long_term_key_with_a_token_is_bad_token() -> None:
    with_token = Credential("test", "test", "made-up", None, ROOT.identity)
    assert reason_of(signed("ecr", ecr_token, with_token)) == "bad_token"


def test_expired_session() -> None:
    wire = signed("ecr", ecr_token, SESSION)
    expired = Credential(
        SESSION.access_key_id,
        SESSION.secret_access_key,
        SESSION.session_token,
        datetime.now(UTC) - timedelta(seconds=1),
        SESSION.identity,
    )
    assert reason_of(wire, lookup={SESSION.access_key_id: expired}.get) == "expired_token"


def test_payload_hash_header_must_match_body() -> None:
    wire = signed("ecr", ecr_token).with_header("X-Amz-Content-SHA256", "0" * 64)
    assert reason_of(wire) == "bad_signature"


def test_unsigned_payload_only_where_allowed() -> None:
    request = AWSRequest(
        method="POST",
        url=f"{ENDPOINT}/",
        data=b"{}",
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    SigV4Auth(Credentials("test", "test"), "ecr", REGION).add_auth(request)
    wire = _wire("POST", request.url, dict(request.headers), b"{}")
    assert reason_of(wire) == "bad_signature"
    assert wire.verify(allow_unsigned_payload=True) == ROOT


# --- clock skew ------------------------------------------------------------------------------


def test_request_older_than_fifteen_minutes_is_expired() -> None:
    wire = signed("ecr", ecr_token)
    date = datetime.strptime(dict(wire.headers)["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    now = date.replace(tzinfo=UTC) + timedelta(minutes=15, seconds=1)
    with pytest.raises(AuthFailure) as failure:
        wire.verify(now=now)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    earliest = (now - timedelta(minutes=15)).strftime("%Y%m%dT%H%M%SZ")
    assert failure.value.reason == "skew"
    # aws/aws-cli#6676, upmc-enterprises/registry-creds#24
    assert failure.value.message == (
        f"Signature expired: {date:%Y%m%dT%H%M%SZ} is now earlier than {earliest} "
        f"({stamp} - 15 min.)"
    )
    assert wire.verify(now=now - timedelta(seconds=1)) == ROOT


def test_request_from_the_future_is_not_yet_current() -> None:
    wire = signed("ecr", ecr_token)
    date = datetime.strptime(dict(wire.headers)["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    now = date.replace(tzinfo=UTC) - timedelta(minutes=16)
    with pytest.raises(AuthFailure) as failure:
        wire.verify(now=now)
    latest = (now + timedelta(minutes=15)).strftime("%Y%m%dT%H%M%SZ")
    assert failure.value.message == (
        f"Signature not yet current: {date:%Y%m%dT%H%M%SZ} is still later than {latest} "
        f"({now:%Y%m%dT%H%M%SZ} + 15 min.)"
    )


# --- presigned URLs --------------------------------------------------------------------------


def test_presigned_get_caller_identity_verifies() -> None:
    wire = presigned()
    assert "X-Amz-Signature=" in wire.query
    assert wire.verify(service="sts") == ROOT


def test_presigned_with_session_token_verifies() -> None:
    wire = presigned(SESSION)
    assert "X-Amz-Security-Token=" in wire.query
    assert wire.verify() == SESSION


def test_presigned_query_altered_is_refused() -> None:
    wire = presigned()
    altered = Wire(
        wire.method,
        wire.path,
        wire.query.replace("GetCallerIdentity", "GetSessionToken"),
        wire.headers,
        wire.body,
    )
    assert reason_of(altered) == "bad_signature"


def test_presigned_url_lives_the_fifteen_minute_window_not_x_amz_expires() -> None:
    # Outside S3, AWS ignores X-Amz-Expires and applies its 15-minute window (aws-sdk-go#2167).
    wire = presigned(expires_in=60)
    date = datetime.strptime(
        dict(p.split("=", 1) for p in wire.query.split("&"))["X-Amz-Date"], "%Y%m%dT%H%M%SZ"
    ).replace(tzinfo=UTC)
    assert wire.verify(now=date + timedelta(minutes=5)) == ROOT
    assert reason_of(wire, now=date + timedelta(minutes=16)) == "skew"


def test_presigned_and_header_together_are_refused() -> None:
    wire = presigned().with_header(
        "Authorization", dict(signed("ecr", ecr_token).headers)["Authorization"]
    )
    with pytest.raises(AuthFailure) as failure:
        wire.verify()
    assert failure.value.message == (
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    )


def test_presigned_missing_parameters_are_incomplete() -> None:
    wire = Wire(
        "GET",
        "/",
        "Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256",
        [("Host", "h")],
        b"",
    )
    with pytest.raises(AuthFailure) as failure:
        wire.verify()
    assert failure.value.reason == "incomplete"
    assert failure.value.message == (
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "AWS query-string parameters must include 'X-Amz-Date'. "
        "Re-examine the query-string parameters."
    )


# --- malformed and missing authentication ----------------------------------------------------


def test_no_authentication_at_all_is_missing() -> None:
    wire = Wire("POST", "/", "", [("Host", "127.0.0.1:4566")], b"{}")
    assert reason_of(wire) == "missing"


@pytest.mark.parametrize(
    ("authorization", "date", "message"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/ecr/aws4_request",
            "20250101T000000Z",
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter. "
            "Authorization=AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/ecr/aws4_request",
        ),
        (  # a SigV2-style header has none of the parameters (aws/aws-sdk-js#4285)
            "AWS xxxxx:yyyyyyy",
            None,
            "Authorization header requires 'Credential' parameter. "
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter. "
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            "Authorization=AWS xxxxx:yyyyyyy",
        ),
        (  # a space after "Credential=" (iann0036/cloud9-sync#10)
            "AWS4-HMAC-SHA256 Credential= AK/20250101/us-east-1/ecr/aws4_request, "
            "SignedHeaders=host, Signature=ab",
            "20250101T000000Z",
            "'AK/20250101/us-east-1/ecr/aws4_request' not a valid key=value pair (missing "
            "equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= "
            "AK/20250101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=ab'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/ecr/aws4_request, "
            "SignedHeaders=host, Signature=ab",
            "2025",
            "Date must be in ISO-8601 'basic format'. Got '2025'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        ),
    ],
    ids=["missing-params", "sigv2", "missing-equal-sign", "bad-date"],
)
def test_incomplete_signature_messages(authorization: str, date: str | None, message: str) -> None:
    headers = [("Host", "h"), ("Authorization", authorization)]
    if date:
        headers.append(("X-Amz-Date", date))
    with pytest.raises(AuthFailure) as failure:
        Wire("POST", "/", "", headers, b"").verify(now=datetime(2025, 1, 1, tzinfo=UTC))
    assert (failure.value.reason, failure.value.message) == ("incomplete", message)


def with_authorization(wire: Wire, old: str, new: str) -> Wire:
    """`wire` with `old` replaced by `new` in its Authorization header."""
    return wire.with_header("Authorization", dict(wire.headers)["Authorization"].replace(old, new))


def test_unsupported_algorithm() -> None:
    with pytest.raises(AuthFailure) as failure:
        with_authorization(
            signed("ecr", ecr_token), "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"
        ).verify()
    assert failure.value.message == (
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "
    )


def test_host_must_be_signed() -> None:
    wire = with_authorization(signed("ecr", ecr_token), ";host;", ";")
    with pytest.raises(AuthFailure) as failure:
        wire.verify()
    assert failure.value.message == "'Host' must be a 'SignedHeader' in the AWS Authorization."


def test_credential_needs_five_elements() -> None:
    with pytest.raises(AuthFailure) as failure:
        with_authorization(signed("ecr", ecr_token), "/aws4_request", "").verify()
    assert failure.value.reason == "incomplete"
    assert failure.value.message.startswith("Credential must have exactly 5 slash-delimited")


def test_scope_date_must_match_request_date() -> None:
    wire = signed("ecr", ecr_token)
    date = dict(wire.headers)["X-Amz-Date"]
    with pytest.raises(AuthFailure) as failure:
        with_authorization(wire, f"test/{date[:8]}/", "test/19991231/").verify()
    assert failure.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        f"HTTP: '19991231' != '{date[:8]}', from '{date}'."
    )


def test_any_unexpected_error_denies() -> None:
    def broken(_: str) -> Credential | None:
        raise OSError("state directory unreadable")

    assert reason_of(signed("ecr", ecr_token), lookup=broken) == "bad_signature"


# --- AWS errors ------------------------------------------------------------------------------


def test_every_reason_maps_to_a_declared_code_on_both_protocols() -> None:
    reasons = {
        "missing",
        "incomplete",
        "unknown_key",
        "bad_signature",
        "expired_token",
        "skew",
        "bad_token",
    }
    assert {key for key in AWS_AUTH_ERRORS} == {(r, p) for r in reasons for p in ("json", "query")}
    assert all(code in ERROR_KINDS for code, _ in AWS_AUTH_ERRORS.values())


@pytest.mark.parametrize(
    ("reason", "json_error", "query_error"),
    [
        (
            "missing",
            ("MissingAuthenticationTokenException", "Missing Authentication Token"),
            ("MissingAuthenticationToken", "Request is missing Authentication Token"),
        ),
        (
            "unknown_key",
            (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            ("InvalidClientTokenId", "The security token included in the request is invalid."),
        ),
        (
            "expired_token",
            ("ExpiredTokenException", "The security token included in the request is expired"),
            ("ExpiredToken", "The security token included in the request is expired"),
        ),
    ],
)
def test_fixed_messages_per_protocol(
    reason: Any, json_error: tuple[str, str], query_error: tuple[str, str]
) -> None:
    failure = AuthFailure(reason, "whatever verify said")
    assert (to_aws_error(failure, "json").code, to_aws_error(failure, "json").message) == json_error
    assert (
        to_aws_error(failure, "query").code,
        to_aws_error(failure, "query").message,
    ) == query_error


def test_signature_mismatch_message_and_codes() -> None:
    with pytest.raises(AuthFailure) as failure:
        signed("ecr", ecr_token).verify(
            lookup={"test": Credential("test", "x", None, None, ROOT.identity)}.get
        )
    json_error = to_aws_error(failure.value, "json")
    assert json_error.code == "InvalidSignatureException"
    assert json_error.message == (
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details."
    )
    assert to_aws_error(failure.value, "query").code == "SignatureDoesNotMatch"


def test_skew_codes_carry_the_skew_message() -> None:
    failure = AuthFailure("skew", "Signature expired: x")
    assert to_aws_error(failure, "json").code == "InvalidSignatureException"
    assert to_aws_error(failure, "query").code == "SignatureDoesNotMatch"
    assert to_aws_error(failure, "query").message == "Signature expired: x"
