"""Secrets Manager (JSON 1.1), as far as pull through cache needs it: the secrets that hold an
upstream registry's credentials (`ecr-pullthroughcache/...`, ECR User Guide "Storing your
upstream repository credentials in an AWS Secrets Manager secret").

Every operation is authorized as `secretsmanager:Operation` on "*" (the lab does not scope
these actions to the secret's ARN: a policy naming one secret's ARN does not grant it, which
fails closed) and forwarded to the caller's account's IAM home (moto), where the lab reads the
secret of a rule.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from lab.errors import AwsError
from lab.http import HttpRequest, HttpResponse
from lab.identity.credentials import Credential
from lab.server import protocols
from lab.server.authorize import Call
from lab.server.routing import Route


class _Lab(Protocol):
    def authenticate(
        self, request: HttpRequest, body: bytes, protocol: str, service: str
    ) -> Credential: ...

    def account_of(self, account: str) -> Any: ...

    def require(self, call: Call, code: str) -> None: ...


def handle(
    lab: _Lab, request: HttpRequest, where: Route, body: bytes, rid: str, region: str
) -> HttpResponse:
    """Check the envelope, authenticate, authorize, forward: as the ECR front end does."""
    if not protocols.is_json_call(request.method, request.header("content-type"), body):
        return protocols.json_not_found(rid)
    params = protocols.parse_json_body(body)
    if protocols.operation_model("secretsmanager", where.operation) is None:
        raise AwsError("UnknownOperationException", "")
    caller = lab.authenticate(request, body, "json", "secretsmanager").identity
    action = f"secretsmanager:{where.operation}"
    lab.require(
        Call(caller, action, "*", request.client_ip, where.region or region),
        "AccessDeniedException",
    )
    home = lab.account_of(caller.account)
    target = protocols.SECRETSMANAGER_TARGET_PREFIX + where.operation
    answer = home.upstream.forward_json("secretsmanager", target, json.dumps(params).encode())
    return HttpResponse(answer.status, list(answer.headers), answer.body)
