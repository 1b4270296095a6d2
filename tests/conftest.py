"""Shared fixtures: a real lab on a loopback port, clients pointed at it, and lab.ecr on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from tests.ecr_support import REPO, fast_dir, make_ecr
from tests.ecr_support import client as ecr_client

if TYPE_CHECKING:
    from lab.ecr.service import Ecr
    from lab.server.run import RunningLab

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def running_lab(tmp_path: Path) -> Iterator[RunningLab]:
    """A fresh lab (embedded moto) serving on a free loopback port."""
    from lab.server.config import LabConfig
    from lab.server.run import RunningLab

    with RunningLab(LabConfig(state_dir=tmp_path / "state")) as running:
        yield running


def client(running: RunningLab, service: str, **credentials: str):
    """A boto3 client for the lab; admin (`test`/`test`) unless credentials are given."""
    keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"} | credentials
    return boto3.client(
        service,
        endpoint_url=running.url,
        region_name=running.lab.config.region,
        **keys,
    )


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state directory for lab.ecr, on tmpfs when there is one."""
    with fast_dir(tmp_path) as path:
        yield path


@pytest.fixture
def service(state_dir: Path) -> Ecr:
    """An Ecr on `state_dir`."""
    return make_ecr(state_dir)


@pytest.fixture
def ecr(service: Ecr):
    """A boto3 ECR client answered by `service`, with the repository REPO created."""
    answered = ecr_client(service)
    answered.create_repository(repositoryName=REPO)
    return answered
