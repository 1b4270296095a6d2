"""An upstream registry for pull through cache tests: distribution's `registry serve` (Debian's
docker-registry) on a free loopback port, and a small pusher that fills it over HTTP."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.ecr.blobs import digest_of
from lab.ecr.manifests import DOCKER_MANIFEST_V2

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"


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
        [REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    address = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(address + "/v2/", timeout=1).close()
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


def _send(method: str, url: str, body: bytes = b"", content_type: str | None = None) -> str:
    """Send one request; the Location it answers with ("" for none)."""
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers.get("Location", "")


def push(address: str, repository: str, tag: str, seed: bytes) -> str:
    """Push a one-layer image (monolithic uploads); the manifest's digest."""
    config, layer = b'{"architecture":"amd64","os":"linux"}' + seed, b"layer:" + seed
    for blob in (config, layer):
        location = _send("POST", f"{address}/v2/{repository}/blobs/uploads/")
        location = location if location.startswith("http") else address + location
        joiner = "&" if "?" in location else "?"
        url = f"{location}{joiner}digest={digest_of(blob)}"
        _send("PUT", url, blob, "application/octet-stream")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST_V2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": digest_of(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": digest_of(layer),
                }
            ],
        }
    ).encode()
    _send("PUT", f"{address}/v2/{repository}/manifests/{tag}", manifest, DOCKER_MANIFEST_V2)
    return digest_of(manifest)
