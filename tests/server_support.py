"""Test support for the front door: raw HTTP exchanges, signed with botocore or not at all."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lab.identity.credentials import Credential
from lab.server.protocols import ECR_TARGET_PREFIX
from lab.server.run import RunningLab

ADMIN = Credentials("test", "test")
# The aws CLI of the venv running the tests (CI tests in more than one venv).
AWS_CLI = str(Path(sys.executable).with_name("aws"))
JSON_1_1 = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class Answer:
    """What came back: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def send(
    url: str, method: str, path: str = "/", headers: dict[str, str] | None = None, body=b""
) -> Answer:
    """One HTTP exchange on a fresh connection, any method, nothing added but Host."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def signed_headers(
    url: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    service: str,
    region: str = "us-east-1",
    credentials: Credentials = ADMIN,
) -> dict[str, str]:
    """`headers` plus botocore's SigV4 headers (Host, X-Amz-Date, Authorization, token)."""
    request = AWSRequest(method=method, url=url.rstrip("/") + path, data=body, headers=headers)
    SigV4Auth(credentials, service, region).add_auth(request)
    out = dict(request.headers.items())
    out["Host"] = urlsplit(url).netloc
    return out


def ecr_call(
    running: RunningLab,
    operation: str,
    body: bytes = b"{}",
    *,
    credentials: Credentials = ADMIN,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Answer:
    """An ECR JSON 1.1 call, signed like boto3 signs it, sent as given."""
    base = {"X-Amz-Target": ECR_TARGET_PREFIX + operation, "Content-Type": JSON_1_1}
    base |= headers or {}
    signed = signed_headers(
        running.url, method, "/", base, body, service="ecr", credentials=credentials
    )
    return send(running.url, method, "/", signed, body)


def query_call(
    url: str,
    body: str,
    *,
    query: str = "",
    service: str = "iam",
    region: str = "us-east-1",
    credentials: Credentials = ADMIN,
) -> Answer:
    """A query-protocol (IAM, STS) POST with the form `body` and URL `query`, signed as given."""
    path = "/" + (f"?{query}" if query else "")
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    data = body.encode()
    signed = signed_headers(
        url, "POST", path, form, data, service=service, region=region, credentials=credentials
    )
    return send(url, "POST", path, signed, data)


def boto_credentials(credential: Credential) -> dict[str, str]:
    """boto3 client keyword arguments for a lab credential."""
    keys = {
        "aws_access_key_id": credential.access_key_id,
        "aws_secret_access_key": credential.secret_access_key,
    }
    if credential.session_token:
        keys["aws_session_token"] = credential.session_token
    return keys


ROOT = Path(__file__).resolve().parents[1]
TRACEBACK = "Traceback (most recent call last)"


def boto_client(
    running: RunningLab,
    service: str,
    key: str,
    secret: str = "test",
    token: str | None = None,
    *,
    region: str,
    **extra: Any,
) -> Any:
    """A boto3 client of the lab for the access key `key` ("test": the first account's admin)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=running.url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        **extra,
    )


def cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """`ecr-lab ARGS...` as a user runs it: a real process, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | env,
        timeout=timeout,
    )


def one_line_failure(done: subprocess.CompletedProcess[str], status: int | None = None) -> str:
    """The failure's single `ecr-lab: ...` line, after checking it is all there is."""
    assert done.returncode != 0 if status is None else done.returncode == status, done
    assert TRACEBACK not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("ecr-lab: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


LISTENING = re.compile(r"ecr-lab listening on (http://([\d.]+):(\d+))")


def serve_command(state_dir: Path, *extra: str) -> list[str]:
    """The command line of `ecr-lab serve` on a free port."""
    command = [sys.executable, "-m", "lab.cli", "serve", "--port", "0", "--state-dir"]
    return [*command, str(state_dir), *extra]


@contextmanager
def serve(state_dir: Path, *extra: str, **popen: Any) -> Iterator[tuple[subprocess.Popen, str]]:
    """`ecr-lab serve` on a free port; yields the process and the URL it printed. `popen`:
    more arguments for subprocess.Popen (e.g. a preexec_fn that limits the process)."""
    process = subprocess.Popen(
        serve_command(state_dir, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        **popen,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = LISTENING.search(line)
        assert found, f"no address printed: {line!r}"
        yield process, found.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def registry_get_at(registry_host: str, host: str, path: str, token: str) -> tuple[int, bytes]:
    """GET `path` from the lab's registry (`registry_host` = address:port) with
    `Host: host:PORT`, as docker addresses another account's or region's registry."""
    address, port = registry_host.rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    try:
        connection.request(
            "GET", path, headers={"Host": f"{host}:{port}", "Authorization": f"Basic {token}"}
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
