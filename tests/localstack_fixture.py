"""A real LocalStack core for `@pytest.mark.localstack` tests, started by scripts/localstack.sh.

`localstack` (session): the one at 127.0.0.1:4566, reused if healthy, else started.
`private_localstack`: a core of the test's own on a free port, which the test may stop and
start (a restart loses IAM: the free core keeps no state), stopped at the end.
Without the core's venv the tests skip, except in CI (`CI=true`), where the script installs it.

Import the fixtures into a test module explicitly (the imported names differ from the fixture
names, so test parameters do not shadow them):
`from tests.localstack_fixture import localstack_fixture  # noqa: F401 (fixture "localstack")`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "localstack.sh"
VENV = ROOT / ".venv-localstack"
SHARED_PORT = 4566


def url_of(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def healthy(url: str) -> bool:
    """True when LocalStack's health endpoint answers at `url`."""
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class LocalStackCore:
    """One LocalStack core on `port`, driven through scripts/localstack.sh."""

    def __init__(self, port: int, state_dir: Path | None = None) -> None:
        self.port = port
        self.url = url_of(port)
        self._env = os.environ | {"LOCALSTACK_PORT": str(port)}
        if state_dir is not None:
            self._env["LOCALSTACK_STATE_DIR"] = str(state_dir)

    def start(self) -> None:
        """Start the core (installing it first in CI) and wait until it is healthy."""
        if not (VENV / "bin" / "python").exists() and os.environ.get("CI") != "true":
            pytest.skip("LocalStack core not installed: run scripts/localstack.sh start")
        self._script("start")

    def stop(self) -> None:
        """Stop the core this script started on `port` (a no-op otherwise)."""
        self._script("stop")

    def _script(self, command: str) -> None:
        done = subprocess.run(
            [str(SCRIPT), command], env=self._env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.fail(f"scripts/localstack.sh {command} failed:\n{done.stdout}{done.stderr}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session", name="localstack")
def localstack_fixture() -> str:
    """The URL of a healthy LocalStack at 127.0.0.1:4566 (left running for later runs)."""
    url = url_of(SHARED_PORT)
    if not healthy(url):
        LocalStackCore(SHARED_PORT).start()
    return url


@pytest.fixture(name="private_localstack")
def private_localstack_fixture(tmp_path: Path) -> Iterator[LocalStackCore]:
    """A LocalStack core of this test's own, started; stopped after the test."""
    core = LocalStackCore(free_port(), tmp_path / "localstack")
    core.start()
    try:
        yield core
    finally:
        core.stop()
