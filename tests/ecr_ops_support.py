"""Test support for ECR operations through real HTTP: a lab, IAM users allowed a few actions,
boto3 clients as them, and the aws CLI."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.server_support import AWS_CLI, Answer, send
from tests.tutorial import EC2_TRUST

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def lab_fixture(name: str) -> Any:
    """A module-scoped fixture: a fresh lab serving on a free loopback port."""

    @pytest.fixture(scope="module", name=name)
    def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
        config = LabConfig(state_dir=tmp_path_factory.mktemp("ops") / "state")
        with RunningLab(config) as lab:
            yield lab

    return running


def aws(lab: RunningLab, service: str = "ecr", **keys: str) -> Any:
    """A boto3 client for the lab, as its admin unless keys are given."""
    return boto3.client(
        service,
        endpoint_url=lab.url,
        region_name=lab.lab.config.region,
        **(keys or ADMIN_KEYS),
    )


def user_keys(lab: RunningLab, name: str, actions: list[str]) -> dict[str, str]:
    """An IAM user allowed `actions` on every resource; its access keys for boto3."""
    iam = aws(lab, "iam")
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="allowed", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def denial(lab: RunningLab, user: str, action: str, resource: str = "*") -> str:
    """AWS's message for an action no identity policy of the user allows."""
    account = lab.lab.config.account
    return (
        f"User: arn:aws:iam::{account}:user/{user} is not authorized to perform: {action} on "
        f"resource: {resource} because no identity-based policy allows the {action} action"
    )


def cli(lab: RunningLab, *args: str) -> subprocess.CompletedProcess[str]:
    """`aws ecr ...` as the lab's admin, JSON output."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": lab.lab.config.region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    command = [AWS_CLI, "--endpoint-url", lab.url, "--output", "json"]
    return subprocess.run(
        [*command, "ecr", *args], env=env, capture_output=True, text=True, timeout=60
    )


def role_keys(lab: RunningLab, name: str, actions: list[str]) -> dict[str, str]:
    """A role allowed `actions` on every resource; an instance session's keys for boto3."""
    iam = aws(lab, "iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="allowed", PolicyDocument=json.dumps(policy))
    credential = lab.lab.sts.instance_session(arn, "i-0a1b2c3d4e5f60718")
    return {
        "aws_access_key_id": credential.access_key_id,
        "aws_secret_access_key": credential.secret_access_key,
        "aws_session_token": credential.session_token or "",
    }


def registry(lab: RunningLab, method: str, path: str, **keys: str) -> Answer:
    """One registry API request, logged in with GetAuthorizationToken as `keys` (admin)."""
    data = aws(lab, **keys).get_authorization_token()["authorizationData"][0]
    accept = ", ".join(
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
        )
    )
    headers = {"Authorization": f"Basic {data['authorizationToken']}", "Accept": accept}
    return send(lab.url, method, path, headers)


def missing(ecr: Any, name: str) -> bool:
    """Whether DescribeRepositories answers that repository `name` does not exist."""
    try:
        ecr.describe_repositories(repositoryNames=[name])
    except ClientError as caught:
        return caught.response["Error"]["Code"] == "RepositoryNotFoundException"
    return False
