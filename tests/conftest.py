"""Shared fixtures: a real lab on a loopback port, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

if TYPE_CHECKING:
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
