"""Test support for lab.ecr: a real boto3 ECR client whose requests `Ecr.handle` answers.

botocore builds and signs the JSON 1.1 request and parses the response (timestamps, blobs,
error codes) exactly as against AWS; only the HTTP hop is replaced by a direct call.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from lab.ecr.blobs import digest_of
from lab.ecr.manifests import DOCKER_MANIFEST_V2
from lab.ecr.push import docker_manifest, push_layer
from lab.ecr.service import Ecr
from lab.errors import AwsError
from lab.server.protocols import json_error

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "ap-northeast-1"
HOST = "127.0.0.1:5000"
REPO = "fa-085"
DOCKER_MANIFEST = DOCKER_MANIFEST_V2


def rejecting_validator(text: str) -> None:
    """A stand-in for the policy engine's validator: rejects text that is not JSON."""
    try:
        json.loads(text)
    except ValueError as error:
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
            "'Invalid repository policy provided'",
        ) from error


def make_ecr(state_dir: Path, clock: Any = None) -> Ecr:
    """An Ecr on `state_dir`, with the JSON-only policy validator."""
    extra = {"clock": clock} if clock else {}
    return Ecr(state_dir, HOST, rejecting_validator, **extra)


class _Raw:
    """The minimal urllib3-like body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self._body


# One session for every client: botocore then loads the ECR model once.
_SESSION = boto3.session.Session()


@contextmanager
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A state directory on tmpfs when there is one: unit tests need not wait for the disk's
    fsyncs (durability has its own tests, on the real disk)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="ecr-lab-test-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def client(ecr: Ecr, account: str = ACCOUNT, region: str = REGION) -> Any:
    """A boto3 ECR client answered by `ecr` as the caller `account`."""
    ecr_client = _SESSION.client(
        "ecr",
        region_name=region,
        endpoint_url="http://ecr.invalid",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        params = json.loads(request.body or b"{}")
        try:
            status = 200
            raw = json.dumps(ecr.handle(operation, params, account=account, region=region)).encode()
        except AwsError as error:  # serialised as the front door does it
            wire = json_error(error, "test")
            status, raw = wire.status, bytes(wire.body)  # type: ignore[arg-type]
        return AWSResponse(
            request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(raw)
        )

    ecr_client.meta.events.register("before-send.ecr", answer)
    return ecr_client


sha256 = digest_of  # `sha256:<hex>` of the bytes


def manifest_for(config: str, layers: dict[str, int]) -> str:
    """A Docker v2 image manifest referencing `config` and `layers` (digest -> size)."""
    return json.dumps(docker_manifest(config, 2, layers), indent=3)


def push_image(ecr_client: Any, repository: str, tag: str | None, seed: bytes = b"layer") -> str:
    """Push a one-layer image through the ECR API; the manifest text."""
    config = push_layer(ecr_client, repository, b"{}" + seed)
    layer = push_layer(ecr_client, repository, seed)
    manifest = manifest_for(config, {layer: len(seed)})
    extra = {"imageTag": tag} if tag else {}
    ecr_client.put_image(repositoryName=repository, imageManifest=manifest, **extra)
    return manifest


def error_of(excinfo: Any) -> tuple[str, str]:
    """(code, message) of a botocore ClientError caught by pytest.raises."""
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def b64(data: bytes) -> str:
    """Base64 text, as JSON 1.1 carries blobs."""
    return base64.b64encode(data).decode()
