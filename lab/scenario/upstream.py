"""An upstream registry for a pull through cache demo: distribution's `registry serve` (Debian's
`docker-registry`) on a free loopback port, filled over HTTP with the demo's image."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.errors import CommandError
from lab.scenario.image import MANIFEST_TYPE, Image

REGISTRY_COMMANDS = ("docker-registry", "registry")


def registry_command() -> str:
    """The distribution registry's executable; CommandError when none is installed."""
    found = next(filter(None, map(shutil.which, REGISTRY_COMMANDS)), None)
    if found is None:
        raise CommandError(
            "the pull through cache demo needs an upstream registry: install distribution's "
            "registry (Debian: apt-get install docker-registry)"
        )
    return found


@contextmanager
def distribution(root: Path) -> Iterator[str]:
    """A distribution registry storing under `root`; yields its http://127.0.0.1:PORT."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "log:\n  level: error\n"
    )
    process = subprocess.Popen(
        [registry_command(), "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"http://127.0.0.1:{port}"
    try:
        _wait_for(address, process)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(address: str, process: subprocess.Popen) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise CommandError(f"the upstream registry exited ({process.returncode})")
        try:
            urllib.request.urlopen(address + "/v2/", timeout=1).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise CommandError(f"the upstream registry at {address} does not answer")


def _send(method: str, url: str, body: bytes = b"", content_type: str | None = None) -> str:
    """Send one request; the Location it answers with ("" for none)."""
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers.get("Location", "")


def push(address: str, repository: str, tag: str, image: Image) -> str:
    """Push `image` to the upstream as `repository:tag` (one PUT per blob); its digest."""
    for blob in image.blobs:
        location = _send("POST", f"{address}/v2/{repository}/blobs/uploads/")
        location = location if location.startswith("http") else address + location
        joiner = "&" if "?" in location else "?"
        _send(
            "PUT", f"{location}{joiner}digest={blob.digest}", blob.data, "application/octet-stream"
        )
    _send("PUT", f"{address}/v2/{repository}/manifests/{tag}", image.manifest, MANIFEST_TYPE)
    return image.digest
