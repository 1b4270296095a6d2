"""The registry's errors, declared once as data, and the one serialiser of `{"errors": [...]}`.

Codes and statuses are the Docker Registry v2 / OCI distribution spec's. Messages are ECR's
where ECR's wording is known (cited per entry); elsewhere the distribution registry's.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import AwsError
from lab.http import HttpResponse
from lab.registry.wire import json_reply, reply


@dataclass(frozen=True)
class RegistryErrorKind:
    """A registry error code with its HTTP status and default message."""

    code: str
    status: int
    message: str


# One table: code -> status and message (https://distribution.github.io/distribution/spec/api/#errors).
REGISTRY_ERRORS: dict[str, RegistryErrorKind] = {
    kind.code: kind
    for kind in (
        RegistryErrorKind("BLOB_UNKNOWN", 404, "blob unknown to registry"),
        RegistryErrorKind("BLOB_UPLOAD_INVALID", 400, "blob upload invalid"),
        RegistryErrorKind("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"),
        RegistryErrorKind("DIGEST_INVALID", 400, "provided digest did not match uploaded content"),
        RegistryErrorKind("MANIFEST_BLOB_UNKNOWN", 400, "blob unknown to registry"),
        RegistryErrorKind("MANIFEST_INVALID", 400, "manifest invalid"),
        # ECR: "manifest unknown: Requested image not found" (nginx/docker-nginx#545).
        RegistryErrorKind("MANIFEST_UNKNOWN", 404, "Requested image not found"),
        RegistryErrorKind("NAME_INVALID", 400, "invalid repository name"),
        RegistryErrorKind("NAME_UNKNOWN", 404, "repository name not known to registry"),
        RegistryErrorKind("PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"),
        RegistryErrorKind("RANGE_INVALID", 416, "invalid content range"),
        RegistryErrorKind("SIZE_INVALID", 400, "provided length did not match content length"),
        # ECR answers a push onto an existing immutable tag with TAG_INVALID (moby/buildkit#3776).
        RegistryErrorKind("TAG_INVALID", 400, "manifest tag did not match URI"),
        RegistryErrorKind("UNAUTHORIZED", 401, "authentication required"),
        RegistryErrorKind("DENIED", 403, "requested access to the resource is denied"),
        RegistryErrorKind("UNSUPPORTED", 405, "The operation is unsupported."),
        # An unknown path: the distribution registry's router text, in the JSON envelope.
        RegistryErrorKind("NOT_FOUND", 404, "404 page not found"),
        RegistryErrorKind("UNKNOWN", 500, "unknown error"),
        # The IAM directory did not answer: nothing can be authorized (distribution's 503 code).
        RegistryErrorKind("UNAVAILABLE", 503, "service unavailable"),
    )
}


class RegistryError(Exception):
    """A registry refusal: a declared code, its message (default: the table's), and detail."""

    def __init__(self, code: str, message: str | None = None, detail: object = None) -> None:
        if code not in REGISTRY_ERRORS:
            raise KeyError(f"undeclared registry error code {code!r}")
        self.code = code
        self.message = message if message is not None else REGISTRY_ERRORS[code].message
        self.detail = detail
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return REGISTRY_ERRORS[self.code].status


def name_unknown(repository: str, account: str) -> RegistryError:
    """ECR's missing-repository refusal (FACTS: "Registry protocol")."""
    return RegistryError(
        "NAME_UNKNOWN",
        f"The repository with name '{repository}' does not exist in the registry with id "
        f"'{account}'",
    )


# ECR's own error (lab.errors) -> the registry code it surfaces as on the wire.
_FROM_AWS: dict[str, str] = {
    "RepositoryNotFoundException": "NAME_UNKNOWN",
    "ImageNotFoundException": "MANIFEST_UNKNOWN",
    "ImageTagAlreadyExistsException": "TAG_INVALID",
    "LayersNotFoundException": "MANIFEST_BLOB_UNKNOWN",
    "UploadNotFoundException": "BLOB_UPLOAD_UNKNOWN",
    "InvalidLayerException": "DIGEST_INVALID",
    "InvalidLayerPartException": "RANGE_INVALID",
    "ImageDigestDoesNotMatchException": "DIGEST_INVALID",
    "ReferencedImagesNotFoundException": "MANIFEST_BLOB_UNKNOWN",
    "EmptyUploadException": "BLOB_UPLOAD_INVALID",
    "LayerInaccessibleException": "BLOB_UNKNOWN",
    "AccessDeniedException": "DENIED",
    "ServiceUnavailable": "UNAVAILABLE",
}


def from_aws_error(err: AwsError, fallback: str = "UNSUPPORTED") -> RegistryError:
    """The registry error an ECR-layer error becomes; ECR's message is kept word for word.

    An unmapped client error becomes `fallback` (e.g. MANIFEST_INVALID for PutImage's
    InvalidParameterException); a server fault becomes UNKNOWN (500).
    """
    code = _FROM_AWS.get(err.code) or (fallback if err.sender_fault else "UNKNOWN")
    if code == "MANIFEST_UNKNOWN":
        return RegistryError(code)  # the registry says "Requested image not found", not the API's
    return RegistryError(code, err.message)


def error_document(*errors: RegistryError) -> dict[str, list[dict[str, object]]]:
    """`{"errors": [{"code", "message", "detail"?}, ...]}` as the spec writes it."""
    entries = []
    for err in errors:
        entry: dict[str, object] = {"code": err.code, "message": err.message}
        if err.detail is not None:
            entry["detail"] = err.detail
        entries.append(entry)
    return {"errors": entries}


def error_response(err: RegistryError) -> HttpResponse:
    """The HTTP answer for one registry error (the server drops a HEAD answer's body)."""
    headers = [("Content-Range", f"bytes */{err.detail['size']}")] if _is_range(err) else []
    return json_reply(err.status, error_document(err), headers)


def _is_range(err: RegistryError) -> bool:
    # A 416 names the resource's size (RFC 9110, 15.5.17).
    return err.code == "RANGE_INVALID" and isinstance(err.detail, dict) and "size" in err.detail


def denied_response(message: str) -> HttpResponse:
    """403 DENIED with the policy engine's message, as ECR answers a refused registry call."""
    return error_response(RegistryError("DENIED", message))


# ECR's 401 body is plain text, not the JSON envelope: `status=401 body="Not Authorized\n"`
# (keel-hq/keel#211, mdlavin/copy-docker-image#5).
UNAUTHORIZED_BODY = b"Not Authorized\n"


def unauthorized_response(realm: str) -> HttpResponse:
    """401 with ECR's Basic challenge (FACTS: realm `https://HOST/`, service ecr.amazonaws.com)."""
    return reply(
        401,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("WWW-Authenticate", f'Basic realm="{realm}",service="ecr.amazonaws.com"'),
        ],
        UNAUTHORIZED_BODY,
    )
