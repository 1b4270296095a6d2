"""AWS Signature Version 4, verified the way AWS verifies it.

The canonical request, string to sign and signature come from botocore's own `SigV4Auth`,
fed what the client signed (as `lab.identity.sigv4_request` reads it): exactly its signed
headers, its X-Amz-Date, the region and service of its credential scope, and the body hash we
computed. The checks run in the order AWS's front end runs them (as captured by
mhart/dynalite against DynamoDB, a JSON service like ECR): presence, parameters, date and
clock skew, Host signed, algorithm, credential scope, access key, payload and signature,
then the session token.

Every failure is an `AuthFailure(reason, message)`; `to_aws_error` turns it into the error
AWS answers on the JSON (ECR) or query (IAM/STS) protocol. Anything unexpected denies.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, ParamSpec

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from lab.errors import AwsError
from lab.identity.credentials import Credential
from lab.identity.sigv4_request import (
    AMZ_DATE_FORMAT,
    AuthFailure,
    Claim,
    Reason,
    as_utc,
    header_map,
    query_pairs,
    read_claim,
    request_time,
)

Protocol = Literal["json", "query"]
_P = ParamSpec("_P")

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# AWS accepts a signature dated within 15 minutes of its clock; for presigned URLs to
# services other than S3 the same window applies whatever X-Amz-Expires says (aws-sdk-go#2167).
MAX_SKEW = timedelta(minutes=15)

# AWS's messages, verbatim. Sources: ECR GetAuthorizationToken (aws/aws-sdk-php#1114),
# ECR and STS answers quoted in aws/aws-cli#6676, upmc-enterprises/registry-creds#24,
# jenkinsci/amazon-ecr-plugin#199, cert-manager/aws-privateca-issuer#40, aws/aws-sdk-js#4285.
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
HOST_NOT_SIGNED = "'Host' must be a 'SignedHeader' in the AWS Authorization."

# One table: (reason, protocol) -> (AWS error code, fixed message or None for the failure's own).
AWS_AUTH_ERRORS: Mapping[tuple[Reason, Protocol], tuple[str, str | None]] = {
    ("missing", "json"): ("MissingAuthenticationTokenException", "Missing Authentication Token"),
    ("missing", "query"): ("MissingAuthenticationToken", "Request is missing Authentication Token"),
    ("incomplete", "json"): ("IncompleteSignatureException", None),
    ("incomplete", "query"): ("IncompleteSignature", None),
    ("unknown_key", "json"): ("UnrecognizedClientException", INVALID_TOKEN),
    ("unknown_key", "query"): ("InvalidClientTokenId", INVALID_TOKEN),
    ("bad_token", "json"): ("UnrecognizedClientException", INVALID_TOKEN),
    ("bad_token", "query"): ("InvalidClientTokenId", INVALID_TOKEN),
    ("bad_signature", "json"): ("InvalidSignatureException", None),
    ("bad_signature", "query"): ("SignatureDoesNotMatch", None),
    ("skew", "json"): ("InvalidSignatureException", None),
    ("skew", "query"): ("SignatureDoesNotMatch", None),
    ("expired_token", "json"): ("ExpiredTokenException", EXPIRED_TOKEN),
    ("expired_token", "query"): ("ExpiredToken", EXPIRED_TOKEN),
}


def to_aws_error(failure: AuthFailure, protocol: Protocol) -> AwsError:
    """The error AWS answers for `failure` on the JSON 1.1 (ECR) or query (IAM/STS) protocol."""
    code, fixed_message = AWS_AUTH_ERRORS[(failure.reason, protocol)]
    return AwsError(code, fixed_message or failure.message)


def _fail_closed(check: Callable[_P, Credential]) -> Callable[_P, Credential]:
    """Turn any unexpected exception in `check` into a denial, never an allow."""

    @functools.wraps(check)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> Credential:
        try:
            return check(*args, **kwargs)
        except AuthFailure:
            raise
        except Exception as exc:  # a bug, a broken store, a hostile input: deny
            raise AuthFailure("bad_signature", SIGNATURE_MISMATCH) from exc

    return guarded


@_fail_closed
def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body_sha256: str,
    lookup: Callable[[str], Credential | None],
    now: datetime | None = None,
    *,
    service: str | None = None,
    region: str | None = None,
    allow_unsigned_payload: bool = False,
) -> Credential:
    """Verify a SigV4-signed request (Authorization header or presigned query string).

    `raw_path` and `raw_query` are as received (still percent-encoded), `headers` every header
    line in order, `body_sha256` the hex SHA-256 of the body. When `service`/`region` are given
    the credential scope must name them. Returns the signer's credential or raises
    `AuthFailure`; any unexpected error becomes a denial, never an allow.
    """
    now = as_utc(now or datetime.now(UTC))
    headers_by_name = header_map(headers)
    claim = read_claim(headers_by_name, query_pairs(raw_query))
    _check_skew(request_time(claim.amz_date), claim.amz_date, now)
    if "host" not in claim.signed_headers:
        raise AuthFailure("bad_signature", HOST_NOT_SIGNED)
    if claim.algorithm != ALGORITHM:
        raise AuthFailure(
            "incomplete",
            f"Unsupported AWS 'algorithm': '{claim.algorithm}' (only {ALGORITHM} for now). ",
        )
    key_id, scope_region, scope_service = _check_scope(claim, service, region)
    credential = lookup(key_id)
    if credential is None:
        raise AuthFailure("unknown_key", INVALID_TOKEN)
    payload_hash = _payload_hash(headers_by_name, body_sha256, allow_unsigned_payload)
    expected = _signature(
        method, raw_path, headers, claim, credential, scope_region, scope_service, payload_hash
    )
    if not _same(expected, claim.signature.lower()):
        raise AuthFailure("bad_signature", SIGNATURE_MISMATCH)
    if not _same(credential.session_token or "", claim.security_token or ""):
        raise AuthFailure("bad_token", INVALID_TOKEN)
    if credential.is_expired(now):
        raise AuthFailure("expired_token", EXPIRED_TOKEN)
    return credential


def _same(ours: str, theirs: str) -> bool:
    """Constant-time comparison of secrets (bytes, so any text compares without raising)."""
    return hmac.compare_digest(ours.encode(), theirs.encode())


def _check_skew(request_time: datetime, amz_date: str, now: datetime) -> None:
    """AWS's 15-minute window, with its messages (aws/aws-cli#6676, aws/aws-sdk-go#2194)."""
    minutes = int(MAX_SKEW.total_seconds() // 60)
    stamp = now.strftime(AMZ_DATE_FORMAT)
    if request_time < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise AuthFailure(
            "skew",
            f"Signature expired: {amz_date} is now earlier than {earliest} "
            f"({stamp} - {minutes} min.)",
        )
    if request_time > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise AuthFailure(
            "skew",
            f"Signature not yet current: {amz_date} is still later than {latest} "
            f"({stamp} + {minutes} min.)",
        )


def _check_scope(claim: Claim, service: str | None, region: str | None) -> tuple[str, str, str]:
    """Split keyid/date/region/service/terminator and check it as AWS does (all at once)."""
    parts = claim.credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise AuthFailure(
            "incomplete",
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{claim.credential}'",
        )
    key_id, scope_date, scope_region, scope_service, terminator = parts
    problems = []
    if region is not None and scope_region != region:
        problems.append(f"Credential should be scoped to a valid region, not '{scope_region}'. ")
    if service is not None and scope_service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'. ")
    if terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'. "
        )
    if scope_date != claim.amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{claim.amz_date[:8]}', from '{claim.amz_date}'."
        )
    if problems:
        raise AuthFailure("bad_signature", "".join(problems))
    return key_id, scope_region, scope_service


def _payload_hash(header_map: Mapping[str, str], body_sha256: str, allow_unsigned: bool) -> str:
    """The payload hash the client signed; a claimed hash must be the body's."""
    claimed = header_map.get("x-amz-content-sha256")
    if claimed is None:
        return body_sha256
    if claimed == UNSIGNED_PAYLOAD and allow_unsigned:
        return claimed
    if not _same(claimed.lower(), body_sha256.lower()):
        raise AuthFailure("bad_signature", SIGNATURE_MISMATCH)
    return claimed


class _ServerSigV4(SigV4Auth):
    """botocore's signer, given the client's signed headers and payload hash verbatim."""

    def __init__(
        self,
        credentials: Credentials,
        service: str,
        region: str,
        signed: HTTPHeaders,
        payload_hash: str,
    ) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed
        self._payload_hash = payload_hash

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def _signature(
    method: str,
    raw_path: str,
    headers: Sequence[tuple[str, str]],
    claim: Claim,
    credential: Credential,
    region: str,
    service: str,
    payload_hash: str,
) -> str:
    """The signature AWS computes for this request with the credential's secret."""
    wanted = set(claim.signed_headers)
    signed = HTTPHeaders()
    for name, value in headers:
        if name.lower() in wanted:
            signed[name.lower()] = value  # appends: repeated headers keep their order
    # The raw path goes in as received: botocore encodes it once more, as clients do (non-S3).
    request = AWSRequest(
        method=method, url=f"http://lab{raw_path or '/'}", params=list(claim.query)
    )
    request.context["timestamp"] = claim.amz_date
    signer = _ServerSigV4(
        Credentials(credential.access_key_id, credential.secret_access_key),
        service,
        region,
        signed,
        payload_hash,
    )
    canonical_request = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical_request), request)
