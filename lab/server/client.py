"""Talk to a running lab's control endpoints, signed with the admin's keys like any AWS call."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def admin_keys() -> tuple[str, str]:
    return (
        os.environ.get("ECR_LAB_ADMIN_ACCESS_KEY", "test"),
        os.environ.get("ECR_LAB_ADMIN_SECRET_KEY", "test"),
    )


def health(endpoint: str, timeout: float = 5.0) -> dict[str, Any]:
    """The lab's /_lab/health answer (raises OSError when nothing answers)."""
    with urllib.request.urlopen(f"{endpoint}/_lab/health", timeout=timeout) as response:
        return json.load(response)


def session(endpoint: str, principal: str, region: str) -> dict[str, Any]:
    """Credentials for a principal of the lab, asked for as the admin."""
    return admin_post(endpoint, "/_lab/session", {"principal": principal}, region)


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
        detail = json.loads(error.read() or b"{}")
        raise RuntimeError(detail.get("message") or f"HTTP {error.code}") from None
