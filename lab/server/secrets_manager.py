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

from lab.http import HttpRequest, HttpResponse
from lab.identity.credentials import Identity
from lab.server import protocols
from lab.server.routing import Route


class _Lab(Protocol):
    def admit_json_call(
        self, request: HttpRequest, where: Route, body: bytes, service: str
    ) -> tuple[Identity, dict[str, Any]] | None: ...

    def account_of(self, account: str) -> Any: ...


def handle(lab: _Lab, request: HttpRequest, where: Route, body: bytes, rid: str) -> HttpResponse:
    """Check the envelope, authenticate, authorize, forward: as the ECR front end does."""
    admitted = lab.admit_json_call(request, where, body, "secretsmanager")
    if admitted is None:
        return protocols.json_not_found(rid)
    caller, params = admitted
    home = lab.account_of(caller.account)
    target = protocols.SECRETSMANAGER_TARGET_PREFIX + where.operation
    answer = home.upstream.forward_json("secretsmanager", target, json.dumps(params).encode())
    return HttpResponse(answer.status, list(answer.headers), answer.body)
