"""Route: which of the lab's faces a request is for, decided from its path and headers alone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs

from lab.http import HttpRequest
from lab.server.protocols import (
    ECR_TARGET_PREFIX,
    ORGANIZATIONS_TARGET_PREFIX,
    SECRETSMANAGER_TARGET_PREFIX,
)

Face = Literal["lab", "registry", "ecr", "organizations", "secretsmanager", "query"]

# `Credential=AKID/20250101/us-east-1/sts/aws4_request` in a header or X-Amz-Credential.
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


@dataclass(frozen=True)
class Route:
    face: Face
    operation: str = ""  # ECR: the X-Amz-Target operation
    service: str = ""  # query protocol: the signing service (iam, sts), "" when unsigned
    region: str = ""  # the signing region, "" when unsigned


def route(request: HttpRequest) -> Route:
    """Classify a request: lab control, Docker registry, ECR JSON 1.1, or IAM/STS query."""
    if request.path.startswith("/_lab/"):
        return Route("lab")
    if request.path == "/v2" or request.path.startswith("/v2/"):
        return Route("registry")
    region, service = credential_scope(request)
    target = request.header("x-amz-target")
    if target is not None and target.startswith(ORGANIZATIONS_TARGET_PREFIX):
        operation = target.removeprefix(ORGANIZATIONS_TARGET_PREFIX)
        return Route("organizations", operation=operation, region=region)
    if target is not None and target.startswith(SECRETSMANAGER_TARGET_PREFIX):
        operation = target.removeprefix(SECRETSMANAGER_TARGET_PREFIX)
        return Route("secretsmanager", operation=operation, region=region)
    if target is not None:  # a JSON-protocol call; another service's target is unknown here
        operation = (
            target.removeprefix(ECR_TARGET_PREFIX) if target.startswith(ECR_TARGET_PREFIX) else ""
        )
        return Route("ecr", operation=operation, region=region)
    return Route("query", service=service, region=region)


def credential_scope(request: HttpRequest) -> tuple[str, str]:
    """(region, service) the client signed for, from the header or a presigned query."""
    authorization = request.header("authorization") or ""
    found = _SCOPE.search(authorization)
    if found:
        return found.group(1), found.group(2)
    credential = parse_qs(request.query).get("X-Amz-Credential", [""])[0]
    parts = credential.split("/")
    return (parts[2], parts[3]) if len(parts) == 5 else ("", "")
