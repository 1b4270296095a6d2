"""Talk to a running lab's control endpoints, signed with the admin's keys like any AWS call."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lab.errors import CommandError
from lab.invocation import command_name


def admin_keys() -> tuple[str, str]:
    return (
        os.environ.get("ECR_LAB_ADMIN_ACCESS_KEY", "test"),
        os.environ.get("ECR_LAB_ADMIN_SECRET_KEY", "test"),
    )


def health(endpoint: str, timeout: float = 5.0) -> dict[str, Any]:
    """The lab's /_lab/health answer (raises OSError when nothing answers)."""
    with urllib.request.urlopen(f"{endpoint}/_lab/health", timeout=timeout) as response:
        return json.load(response)


def reachable(url: str, timeout: float = 3.0) -> str | None:
    """None when something accepts connections at `url`'s host and port, else why not."""
    where = urllib.parse.urlsplit(url)
    port = where.port or (443 if where.scheme == "https" else 80)
    try:
        socket.create_connection((where.hostname, port), timeout=timeout).close()
    except OSError as error:
        return error.strerror or str(error)
    return None


def running_lab(endpoint: str) -> dict[str, Any]:
    """The health of the lab at `endpoint`; CommandError saying why when none is ready there."""
    try:
        return health(endpoint)
    except urllib.error.HTTPError as error:
        if error.code == 503:
            raise CommandError(
                f"the lab at {endpoint} is still deploying its scenario; try again in a moment"
            ) from None
        raise CommandError(f"{endpoint} answers HTTP {error.code}: not an ecr-lab") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        if isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror
        raise CommandError(
            f"no lab answers at {endpoint} ({reason}); start one with `{command_name()} serve` "
            "(or give --endpoint / $ECR_LAB_ENDPOINT)"
        ) from None


def session(
    endpoint: str, principal: str, region: str, through: str | None = None
) -> dict[str, Any]:
    """Credentials for a principal of the lab, asked for as the admin; `through` binds the
    session to one of the account's VPC endpoints."""
    document = {"principal": principal, **({"vpcEndpoint": through} if through else {})}
    return admin_post(endpoint, "/_lab/session", document, region)


def admin_post(endpoint: str, path: str, document: dict[str, Any], region: str) -> dict[str, Any]:
    """POST `document` to one of the lab's control endpoints, signed as the admin."""
    body = json.dumps(document).encode()
    request = AWSRequest("POST", f"{endpoint}{path}", data=body)
    request.headers["Content-Type"] = "application/json"
    SigV4Auth(Credentials(*admin_keys()), "lab", region).add_auth(request)
    prepared = request.prepare()
    outgoing = urllib.request.Request(
        prepared.url, data=body, headers=dict(prepared.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read() or b"{}")
        except ValueError:
            detail = {}
        raise CommandError(detail.get("message") or f"HTTP {error.code}") from None
    except OSError as error:
        raise CommandError(f"the lab at {endpoint} stopped answering: {error}") from None


def principal_session(endpoint: str, principal: str, through: str | None = None) -> dict[str, Any]:
    """Credentials for a principal of the running lab at `endpoint` (CommandError if none)."""
    return session(endpoint, principal, running_lab(endpoint)["region"], through)
