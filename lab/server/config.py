"""How one lab is set up: where it listens, keeps state, and finds its IAM directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ACCOUNT = "000000000000"  # LocalStack's default account, so both upstreams agree
DEFAULT_REGION = "us-east-1"
DEFAULT_PORT = 4577
MAX_API_BODY = 10 * 1024 * 1024  # larger ECR/IAM/STS bodies get RequestEntityTooLarge


@dataclass(frozen=True)
class LabConfig:
    """Settings of one lab; `port` 0 picks a free port at start."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    upstream: str = "embedded"
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    admin_access_key: str = "test"
    admin_secret_key: str = "test"
    lifecycle_interval: float = 3600.0  # seconds between lifecycle policy runs; 0: none
    replication_interval: float = 0.5  # seconds between looks for images to replicate; 0: none
    # Pull through cache: (upstream registry URL, the loopback address that serves it).
    upstream_registries: tuple[tuple[str, str], ...] = ()


def endpoint_from_env() -> str:
    """The running lab's URL: $ECR_LAB_ENDPOINT, else the default port on loopback."""
    return os.environ.get("ECR_LAB_ENDPOINT", f"http://127.0.0.1:{DEFAULT_PORT}")
