"""Registry throughput: the lab against Debian's distribution registry, in the same run.

Pushes through skopeo, the docker CLI (when an engine answers), and a raw client uploading the
layer blob in chunks (PATCHes) or monolithically (one PUT); pulls through skopeo, from both
servers up at once and holding the image, one after the other (which goes first alternates
from run to run), so that both pull in the same state of the machine. Each push goes to a
freshly started server: a client that knows the blob from an earlier push (skopeo's
blob-info cache, docker's push metadata) would otherwise mount it across repositories, which
distribution does without receiving a byte while ECR, and the lab, always take the upload.
Printed per cell: medians of MiB/s, the ratio, each server's CPU seconds per GiB (robust on a
shared machine, unlike MiB/s; load printed before and after) and each server's peak RSS. Each
timed step starts after a sync, so no earlier step's writes are flushed during it; pulls write
to RAM (/dev/shm) where there is one, so the client's disk does not decide their speed.

    .venv/bin/python scripts/bench_registry.py [--sizes-mib 64 1024] [--runs 3]
        [--clients skopeo docker chunked monolithic]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hashlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import boto3

# A real gzip layer: skopeo copies it as is (an uncompressed one it would compress on push).
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 1 << 20
PATCH_BYTES = 16 << 20  # bytes per PATCH of a chunked upload
REPOSITORY = "bench"


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


class _HashingWriter:
    """A file wrapper that hashes what is written through it (the layer's uncompressed tar)."""

    def __init__(self, out: gzip.GzipFile) -> None:
        self.out, self.sha = out, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.out.write(data)


def _random_tar(out: _HashingWriter, size_mib: int) -> None:
    """A tar stream of one file of `size_mib` MiB of random bytes (docker loads only tars)."""
    entry = tarfile.TarInfo("random.bin")
    entry.size, entry.mtime = size_mib * CHUNK, 0
    out.write(entry.tobuf(format=tarfile.GNU_FORMAT))
    for _ in range(size_mib):
        out.write(os.urandom(CHUNK))
    out.write(b"\0" * (2 * tarfile.RECORDSIZE))  # end of archive (CHUNK is block-aligned)


def make_oci_image(layout: Path, size_mib: int) -> None:
    """An OCI image layout with one gzip layer: a tar of about `size_mib` MiB of random bytes."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    partial = blobs / "partial"
    with partial.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz:
        tar = _HashingWriter(gz)
        _random_tar(tar, size_mib)
    diff_id = f"sha256:{tar.sha.hexdigest()}"
    sha = hashlib.sha256()
    with partial.open("rb") as data:
        while piece := data.read(CHUNK):
            sha.update(piece)
    layer, layer_size = f"sha256:{sha.hexdigest()}", partial.stat().st_size
    partial.rename(blobs / sha.hexdigest())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
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
    """User plus system CPU time the process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


class Target(NamedTuple):
    """A running registry: its port, its process, and the password to use (None: no auth)."""

    port: int
    pid: int
    password: str | None

    @property
    def reference(self) -> str:
        return f"127.0.0.1:{self.port}/{REPOSITORY}:latest"

    def headers(self) -> dict[str, str]:
        if self.password is None:
            return {}
        return {
            "Authorization": "Basic " + base64.b64encode(f"AWS:{self.password}".encode()).decode()
        }


class Image(NamedTuple):
    """An OCI layout of one layer, and the docker engine's copy of it (or None)."""

    layout: Path
    layer: Path  # the layer blob's file
    docker_tag: str | None

    @property
    def layer_digest(self) -> str:
        return "sha256:" + self.layer.name


def _request(
    target: Target, method: str, url: str, layer: Path | None = None, span: tuple[int, int] = (0, 0)
) -> http.client.HTTPResponse:
    """One request; the body, if any, `span` (offset, length) of `layer` sent with sendfile so
    that the client's CPU stays out of the server's way."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=300)
    connection.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""))
    offset, length = span
    headers = {**target.headers(), "Content-Length": str(length)}
    if layer is not None:
        headers |= {"Content-Type": "application/octet-stream"}
        if method == "PATCH":
            headers["Content-Range"] = f"{offset}-{offset + length - 1}"
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    if layer is not None:
        with layer.open("rb") as data:
            connection.sock.sendfile(data, offset, length)
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {url}: {response.status}")
    return response


def raw_push(image: Image, target: Target, *, chunked: bool) -> float:
    """Seconds to upload the layer blob: PATCHes of PATCH_BYTES and an empty PUT (chunked), or
    one PUT with the whole blob (monolithic, the OCI spec's POST-then-PUT)."""
    size = image.layer.stat().st_size
    started = time.perf_counter()
    location = _request(target, "POST", f"/v2/{REPOSITORY}/blobs/uploads/").getheader("Location")
    offset = 0
    while chunked and offset < size:
        length = min(PATCH_BYTES, size - offset)
        location = _request(target, "PATCH", location, image.layer, (offset, length)).getheader(
            "Location"
        )
        offset += length
    commit = f"{location}{'&' if '?' in location else '?'}digest={image.layer_digest}"
    _request(target, "PUT", commit, None if chunked else image.layer, (0, 0 if chunked else size))
    return time.perf_counter() - started


def docker_push(image: Image, target: Target, config: Path) -> float:
    """Seconds one `docker push` of the image takes (the engine compresses the layer)."""
    assert image.docker_tag is not None
    docker = ["docker", "--config", str(config)]
    if target.password is not None:
        subprocess.run(
            [*docker, "login", "-u", "AWS", "--password-stdin", f"127.0.0.1:{target.port}"],
            input=target.password.encode(),
            check=True,
            capture_output=True,
        )
    subprocess.run([*docker, "tag", image.docker_tag, target.reference], check=True)
    try:
        started = time.perf_counter()
        subprocess.run([*docker, "push", target.reference], check=True, capture_output=True)
        return time.perf_counter() - started
    finally:
        subprocess.run([*docker, "rmi", target.reference], check=False, capture_output=True)


def docker_answers() -> bool:
    """Whether a docker engine answers on this machine."""
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "version"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def load_into_docker(layout: Path, tag: str) -> str:
    """Copy the OCI image into the docker engine as `tag`."""
    subprocess.run(
        ["skopeo", "copy", "--quiet", f"oci:{layout}:bench", f"docker-daemon:{tag}"],
        check=True,
        capture_output=True,
    )
    return tag


class Sample(NamedTuple):
    seconds: float
    cpu: float  # the server's CPU seconds during the step
    rss: float  # the server's peak RSS (MiB) after the step


def pushes(image: Image, work: Path) -> dict[str, Callable[[Target], float]]:
    """Each push client, by name: a step that pushes `image` to a target, in seconds."""
    return {
        "skopeo": lambda t: skopeo_copy(
            f"oci:{image.layout}:bench", f"docker://{t.reference}", t.password
        ),
        "docker": lambda t: docker_push(image, t, work / "docker-config"),
        "chunked": lambda t: raw_push(image, t, chunked=True),
        "monolithic": lambda t: raw_push(image, t, chunked=False),
    }


def measure(
    server: Callable[[Path], contextlib.AbstractContextManager[tuple[int, int]]],
    workdir: Path,
    login: Callable[[int], str | None],
    step: Callable[[Target], float],
) -> Sample:
    """Start a fresh server and time `step` against it."""
    with server(workdir) as (port, pid):
        return timed(Target(port, pid, login(port)), step)


def timed(target: Target, step: Callable[[Target], float]) -> Sample:
    """One step's seconds, the server's CPU seconds during it and its peak RSS after it."""
    os.sync()  # earlier steps' dirty pages would otherwise be written back during this one
    before = cpu_seconds(target.pid)
    seconds = step(target)
    return Sample(seconds, cpu_seconds(target.pid) - before, peak_rss_mib(target.pid))


def memory_dir(fallback: Path) -> Path:
    """Where pulls write: RAM (/dev/shm) when it is there, so that the client's disk writes,
    which swing by half from run to run here, do not decide the pull's speed."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="bench-pull-", dir=shm)) if shm.is_dir() else fallback


def pull(target: Target, out: Path) -> float:
    seconds = skopeo_copy(f"docker://{target.reference}", f"dir:{out}", target.password)
    shutil.rmtree(out)
    return seconds


Servers = dict[
    str,
    tuple[
        Callable[[Path], contextlib.AbstractContextManager[tuple[int, int]]],
        Callable[[int], str | None],
    ],
]


@contextlib.contextmanager
def holding_image(
    servers: Servers, push: Callable[[Target], float], work: Path
) -> Iterator[dict[str, Target]]:
    """Every server started fresh, at once, each holding the image (pushed, untimed)."""
    with contextlib.ExitStack() as stack:
        targets = {}
        for name, (server, login) in servers.items():
            port, pid = stack.enter_context(server(work / name))
            targets[name] = Target(port, pid, login(port))
            push(targets[name])
        yield targets


def bench_size(
    size_mib: int, clients: list[str], runs: int, work: Path, docker_ok: bool
) -> tuple[int, dict[tuple[str, str], list[Sample]]]:
    """The layer's size in bytes, and samples by (step, server); servers alternate in a run."""
    layout = work / f"image-{size_mib}"
    make_oci_image(layout, size_mib)
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(
        (layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]).read_text()
    )
    layer = layout / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":")[1]
    tag = load_into_docker(layout, f"ecr-lab-bench:{size_mib}") if docker_ok else None
    image = Image(layout, layer, tag)
    servers: Servers = {
        "distribution": (distribution_registry, lambda port: None),
        "ecr-lab": (lab_server, lambda port: lab_password(port, REPOSITORY)),
    }
    steps, size = pushes(image, work), layer.stat().st_size
    samples: dict[tuple[str, str], list[Sample]] = {}
    pull_dir = memory_dir(work)
    try:
        for run in range(runs):
            for name, (server, login) in servers.items():
                for client in clients:
                    workdir = work / f"{name}-{size_mib}-{client}-{run}"
                    got = measure(server, workdir, login, steps[client])
                    samples.setdefault((f"push {client}", name), []).append(got)
                    shutil.rmtree(workdir)
            # Pulls alternate between servers up at the same time, in the same state of the
            # machine; which one goes first alternates too.
            workdir = work / f"pulls-{size_mib}-{run}"
            with holding_image(servers, steps["skopeo"], workdir) as targets:
                names = list(targets) if run % 2 == 0 else list(reversed(targets))
                for name in names:
                    got = timed(targets[name], partial(pull, out=pull_dir / "pulled"))
                    samples.setdefault(("pull skopeo", name), []).append(got)
            shutil.rmtree(workdir)
    finally:
        if tag is not None:
            subprocess.run(["docker", "rmi", tag], check=False, capture_output=True)
        shutil.rmtree(layout)
        if pull_dir != work:
            shutil.rmtree(pull_dir)
    return size, samples


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes): other work shares these cores."""
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def report(size: int, samples: dict[tuple[str, str], list[Sample]]) -> None:
    """One table for one layer size: medians per step and server."""
    gib = size / (1 << 30)
    print(f"\n{size / (1 << 20):.0f} MiB layer, medians of {len(next(iter(samples.values())))}")
    print(
        f"{'':<18}{'MiB/s dist':>11}{'lab':>8}{'ratio':>8}"
        f"{'CPU s/GiB dist':>16}{'lab':>7}{'peak RSS MiB dist':>19}{'lab':>6}"
    )
    for step in dict.fromkeys(step for step, _ in samples):
        theirs, ours = samples[(step, "distribution")], samples[(step, "ecr-lab")]
        rate = [
            size / (1 << 20) / statistics.median(s.seconds for s in side) for side in (theirs, ours)
        ]
        cpu = [statistics.median(s.cpu for s in side) / gib for side in (theirs, ours)]
        rss = [max(s.rss for s in side) for side in (theirs, ours)]
        print(
            f"{step:<18}{rate[0]:>11.0f}{rate[1]:>8.0f}{rate[1] / rate[0]:>7.2f}x"
            f"{cpu[0]:>16.2f}{cpu[1]:>7.2f}{rss[0]:>19.0f}{rss[1]:>6.0f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--clients", nargs="+", default=["skopeo", "docker", "chunked", "monolithic"]
    )
    args = parser.parse_args()
    docker_ok = "docker" in args.clients and docker_answers()
    clients = [c for c in args.clients if c != "docker" or docker_ok]
    if "docker" in args.clients and not docker_ok:
        print("no docker engine answers: docker pushes skipped")
    print(f"before: {load()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        for size_mib in args.sizes_mib:
            results.append(bench_size(size_mib, clients, args.runs, Path(tmp), docker_ok))
    print(f"after:  {load()}")
    for size, samples in results:
        report(size, samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
