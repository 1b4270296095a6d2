"""`ecr-lab serve` as a real process: its address, health, SIGTERM, and kill -9 durability."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from lab.server.client import session
from tests.server_support import LISTENING, serve
from tests.tutorial import EC2_TRUST, MANAGED, repository_policy

pytestmark = pytest.mark.slow

ADMIN = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def health(url: str, timeout: float = 30) -> tuple[int, dict]:
    """The health answer, once the server answers at all."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_lab/health", timeout=2) as response:
                return response.status, json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def aws(url: str, service: str, **keys: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **(keys or ADMIN))


def test_serve_prints_its_address_binds_loopback_and_stops_on_sigterm(tmp_path: Path) -> None:
    with serve(tmp_path / "state") as (process, url):
        assert LISTENING.search(f"ecr-lab listening on {url}").group(2) == "127.0.0.1"
        status, body = health(url)
        assert status == 200
        assert body["status"] == "ready"
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status 143)
        assert process.wait(timeout=15) == 0  # a clean shutdown, not death by the signal
        assert "Traceback" not in process.stderr.read()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{url}/_lab/health", timeout=2)


def test_kill_9_after_acknowledged_writes_loses_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serve(state) as (process, url):
        health(url)
        iam = aws(url, "iam")
        arns = []
        for n in (1, 2):
            role = iam.create_role(RoleName=f"InstanceRole{n}", AssumeRolePolicyDocument=EC2_TRUST)
            for policy in MANAGED:
                iam.attach_role_policy(RoleName=f"InstanceRole{n}", PolicyArn=policy)
            arns.append(role["Role"]["Arn"])
        ecr = aws(url, "ecr")
        ecr.create_repository(repositoryName="fa-085")
        ecr.set_repository_policy(repositoryName="fa-085", policyText=repository_policy(*arns))
        answer = session(url, arns[1], "us-east-1")
        process.kill()  # SIGKILL: no chance to flush anything not already on disk
        process.wait(timeout=10)

    with serve(state) as (_, url):
        health(url)
        policy = aws(url, "iam").list_attached_role_policies(RoleName="InstanceRole2")
        assert sorted(p["PolicyArn"] for p in policy["AttachedPolicies"]) == sorted(MANAGED)
        keys = {
            "aws_access_key_id": answer["accessKeyId"],
            "aws_secret_access_key": answer["secretAccessKey"],
            "aws_session_token": answer["sessionToken"],
        }
        assert aws(url, "sts", **keys).get_caller_identity()["Arn"] == answer["arn"]
        # The session's role may pull (no image yet) but not push: policy and role both kept.
        puller = aws(url, "ecr", **keys)
        result = puller.batch_get_image(repositoryName="fa-085", imageIds=[{"imageTag": "x"}])
        assert result["failures"][0]["failureCode"] == "ImageNotFound"
        with pytest.raises(puller.exceptions.ClientError) as excinfo:
            puller.initiate_layer_upload(repositoryName="fa-085")
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
