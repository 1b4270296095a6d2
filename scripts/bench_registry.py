"""Registry throughput: skopeo push and pull against the lab and Debian's distribution registry.

Both run in the same invocation on the same image (one random layer), so the ratio is fair.
Each server's CPU seconds per GiB moved are printed too: unlike MiB/s they barely move with the
load of a shared machine (printed before and after). Also the lab's peak RSS during a large
push: streaming keeps it flat whatever the layer size.

    .venv/bin/python scripts/bench_registry.py [--size-mib 64] [--big-mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import boto3

# A real gzip layer: skopeo copies it as is (an uncompressed one it would compress on push).
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _write_blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def make_oci_image(layout: Path, size_mib: int) -> None:
    """An OCI image layout with one gzip layer of about `size_mib` MiB of random bytes."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    partial = blobs / "partial"
    with partial.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz:
        for _ in range(size_mib):
            gz.write(os.urandom(CHUNK))
    sha = hashlib.sha256()
    with partial.open("rb") as data:
        while piece := data.read(CHUNK):
            sha.update(piece)
    layer, layer_size = f"sha256:{sha.hexdigest()}", partial.stat().st_size
    partial.rename(blobs / sha.hexdigest())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer]},
        "config": {},
    }
    config_digest, config_size = _write_blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [{"mediaType": LAYER_TYPE, "digest": layer, "size": layer_size}],
    }
    manifest_digest, manifest_size = _write_blob(layout, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


@contextlib.contextmanager
def distribution_registry(workdir: Path) -> Iterator[tuple[int, int]]:
    """Debian's `docker-registry serve` on 127.0.0.1 with filesystem storage in `workdir`;
    yields (port, pid)."""
    port = free_port()
    workdir.mkdir(parents=True)
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {workdir / 'storage'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    process = subprocess.Popen(
        ["/usr/bin/docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def lab_server(workdir: Path) -> Iterator[tuple[int, int]]:
    """`ecr-lab serve` on a free port; yields (port, pid)."""
    port = free_port()
    command = [sys.executable, "-m", "lab.cli", "serve", "--port", str(port)]
    command += ["--state-dir", str(workdir / "lab-state")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


def lab_password(port: int, repository: str) -> str:
    """Create the repository and log in as the lab's admin, as `aws ecr get-login-password`."""
    ecr = boto3.client(
        "ecr",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().split(":", 1)[1]


def skopeo_copy(source: str, destination: str, password: str | None) -> float:
    """Seconds one `skopeo copy` takes."""
    command = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false"]
    if password is not None:
        creds = f"AWS:{password}"
        command += (
            ["--dest-creds", creds] if destination.startswith("docker:") else ["--src-creds", creds]
        )
    started = time.perf_counter()
    subprocess.run([*command, source, destination], check=True, capture_output=True)
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(step: Callable[[], float], pid: int) -> tuple[float, float]:
    """(seconds, the server's CPU seconds) of one client step."""
    before = cpu_seconds(pid)
    seconds = step()
    return seconds, cpu_seconds(pid) - before


def push_pull(
    layout: Path, server: tuple[int, int], login: Callable[[str], str | None], runs: int
) -> dict[str, tuple[float, float]]:
    """Median (seconds, server CPU seconds) of pushing `layout` to the registry `server`
    (port, pid) and pulling it back; each run pushes to a new repository, so no blob is
    skipped as already there."""
    port, pid = server
    pushes, pulls = [], []
    for run in range(runs):
        repository = f"bench{run}"
        password = login(repository)
        target = f"docker://127.0.0.1:{port}/{repository}:latest"
        pushes.append(timed(partial(skopeo_copy, f"oci:{layout}:bench", target, password), pid))
        out = layout.parent / f"pull-{port}-{run}"
        pulls.append(timed(partial(skopeo_copy, target, f"dir:{out}", password), pid))
        shutil.rmtree(out)
    return {"push": median_pair(pushes), "pull": median_pair(pulls)}


def median_pair(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """The median of each member of (seconds, CPU seconds) samples."""
    return statistics.median(s for s, _ in samples), statistics.median(c for _, c in samples)


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes): other work shares these cores."""
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--big-mib", type=int, default=1024, help="layer size for the RSS run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        work = Path(tmp)
        image = work / "image"
        make_oci_image(image, args.size_mib)
        with distribution_registry(work / "distribution") as server:
            base = push_pull(image, server, lambda repository: None, args.runs)
        with lab_server(work) as (port, pid):
            lab = push_pull(image, (port, pid), partial(lab_password, port), args.runs)
            shutil.rmtree(image)
            big = work / "big"
            make_oci_image(big, args.big_mib)
            idle = peak_rss_mib(pid)
            seconds = skopeo_copy(
                f"oci:{big}:bench",
                f"docker://127.0.0.1:{port}/big:latest",
                lab_password(port, "big"),
            )
            peak = peak_rss_mib(pid)
    mib = args.size_mib
    print(f"after:  {load()}")
    print(
        f"{'skopeo, ' + str(mib) + ' MiB layer':<24}{'distribution':>14}{'ecr-lab':>10}{'ratio':>8}"
    )
    for step in ("push", "pull"):
        theirs, ours = mib / base[step][0], mib / lab[step][0]
        print(f"{step + ' MiB/s':<24}{theirs:>14.1f}{ours:>10.1f}{ours / theirs:>7.2f}x")
    for step in ("push", "pull"):
        theirs, ours = (1024 * base[step][1] / mib, 1024 * lab[step][1] / mib)
        print(f"{step + ' CPU s/GiB':<24}{theirs:>14.2f}{ours:>10.2f}")
    print(
        f"lab peak RSS: {idle:.0f} MiB before, {peak:.0f} MiB after a {args.big_mib} MiB push "
        f"({args.big_mib / seconds:.0f} MiB/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
