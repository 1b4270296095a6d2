"""Benchmark the lab's front door against a bare moto server, side by side in one run.

Both servers run as their own processes on 127.0.0.1: `ecr-lab serve` and moto's
`ThreadedMotoServer`. For DescribeRepositories and BatchGetImage (of an image that exists)
it measures latency with one client, then throughput and latency with N concurrent clients,
and prints a table with the lab/moto ratios and the lab's peak RSS (VmHWM).

The lab is measured twice: as the account root (no identity policies to evaluate) and as a
role session whose identity policy and the tutorial's repository policy the engine evaluates.

    .venv/bin/python scripts/bench_gateway.py              # 30 s under load per measurement
    .venv/bin/python scripts/bench_gateway.py --duration 5 # a quick look

Exit status 1 when any call failed or the lab is slower than --max-ratio times moto.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.ecr.blobs import digest_of  # noqa: E402
from lab.ecr.push import docker_manifest, push_layer  # noqa: E402
from lab.server.client import session as lab_session  # noqa: E402

REGION = "us-east-1"
OPEN, GUARDED = "bench", "bench-guarded"  # without and with a repository policy
TAG = "v1"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
# Retries would hide errors and skew latencies: every call is one HTTP exchange.
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=4)
MOTO_SERVER = (
    "import sys, time; from moto.server import ThreadedMotoServer; "
    "ThreadedMotoServer(ip_address='127.0.0.1', port=int(sys.argv[1]), verbose=False).start(); "
    "print('ready', flush=True); time.sleep(1e9)"
)
ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ECR_FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"


@dataclass(frozen=True)
class Target:
    """One server and the credentials its clients sign with."""

    name: str
    endpoint: str
    credentials: dict[str, str]
    repository: str = OPEN

    def client(self) -> Any:
        """A fresh ECR client (its own session: clients are not shared between threads)."""
        return boto3.session.Session().client(
            "ecr",
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=CLIENT_CONFIG,
            **self.credentials,
        )


@dataclass(frozen=True)
class Stats:
    """Latencies (seconds) and throughput of one measurement."""

    calls: int
    errors: int
    p50: float
    p99: float
    rps: float


ADMIN = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
CALLS: dict[str, Callable[[Any, str], Any]] = {
    "DescribeRepositories": lambda ecr, _: ecr.describe_repositories(),
    "BatchGetImage": lambda ecr, repository: ecr.batch_get_image(
        repositoryName=repository,
        imageIds=[{"imageTag": TAG}],
        acceptedMediaTypes=[MANIFEST_TYPE],
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Poll `url` until it answers (any HTTP status) or the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered at {url}")


@contextmanager
def server(command: list[str], health_url: str, quiet: bool) -> Iterator[subprocess.Popen]:
    """A server subprocess, ready when `health_url` answers; terminated afterwards."""
    stderr = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT)
    try:
        wait_for(health_url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- seeding ----------------------------------------------------------------------------------


def seed_image(ecr: Any, repository: str, *, upload_layers: bool) -> None:
    """A repository with one image tagged v1 (moto needs no layers uploaded)."""
    ecr.create_repository(repositoryName=repository)
    config, layer = b'{"architecture":"amd64","os":"linux"}', base64.b64encode(os.urandom(512))
    if upload_layers:
        push_layer(ecr, repository, config)
        push_layer(ecr, repository, layer)
    manifest = docker_manifest(digest_of(config), len(config), {digest_of(layer): len(layer)})
    ecr.put_image(
        repositoryName=repository,
        imageManifest=json.dumps(manifest),
        imageManifestMediaType=MANIFEST_TYPE,
        imageTag=TAG,
    )


def puller_session(endpoint: str, account: str) -> dict[str, str]:
    """A role session allowed by ECR full access and pull-only by the tutorial's policy."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, **ADMIN)
    role = iam.create_role(RoleName="BenchPuller", AssumeRolePolicyDocument=ROLE_TRUST)
    iam.attach_role_policy(RoleName="BenchPuller", PolicyArn=ECR_FULL_ACCESS)
    role_arn, pusher = role["Role"]["Arn"], f"arn:aws:iam::{account}:role/BenchPusher"
    pull = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "NotAction": pull,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arn}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "*",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [pusher, role_arn]}},
            },
        ],
    }
    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name=REGION, **ADMIN)
    ecr.set_repository_policy(repositoryName=GUARDED, policyText=json.dumps(policy))
    answer = lab_session(endpoint, role_arn, REGION)
    return {
        "aws_access_key_id": answer["accessKeyId"],
        "aws_secret_access_key": answer["secretAccessKey"],
        "aws_session_token": answer["sessionToken"],
    }


# ---- measuring --------------------------------------------------------------------------------


def measure(target: Target, call: Callable[[Any, str], Any], clients: int, seconds: float) -> Stats:
    """`clients` threads calling as fast as they can for `seconds`; every latency recorded."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    clock = [0.0, 0.0]  # start, deadline: set once every client is warm

    def start_clock() -> None:
        clock[0] = time.perf_counter()
        clock[1] = clock[0] + seconds

    ready = threading.Barrier(clients + 1, action=start_clock)

    def worker(index: int) -> None:
        ecr = target.client()
        call(ecr, target.repository)  # warm the connection and the client's model outside the clock
        ready.wait()
        mine = latencies[index]
        while (started := time.perf_counter()) < clock[1]:
            try:
                call(ecr, target.repository)
            except Exception:
                errors[index] += 1
            mine.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - clock[0]
    every = sorted(x for mine in latencies for x in mine)
    if not every:
        return Stats(0, sum(errors), float("nan"), float("nan"), 0.0)
    return Stats(
        calls=len(every),
        errors=sum(errors),
        p50=statistics.median(every),
        p99=every[min(len(every) - 1, int(len(every) * 0.99))],
        rps=len(every) / elapsed,
    )


def row(label: str, single: Stats, loaded: Stats, baseline: Stats | None) -> str:
    ms = 1000
    ratio = f"{single.p50 / baseline.p50:5.2f}x" if baseline else "    -"
    return (
        f"{label:34} {single.p50 * ms:7.2f} {single.p99 * ms:7.2f} {ratio}  "
        f"{loaded.rps:8.0f} {loaded.p50 * ms:7.2f} {loaded.p99 * ms:8.2f} "
        f"{loaded.errors + single.errors:6d}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds under load (30)")
    parser.add_argument(
        "--latency-seconds", type=float, default=5, help="seconds of single-client calls (5)"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--max-ratio", type=float, default=1.5, help="allowed lab/moto p50")
    args = parser.parse_args(argv)

    lab_port, moto_port = free_port(), free_port()
    lab_url, moto_url = f"http://127.0.0.1:{lab_port}", f"http://127.0.0.1:{moto_port}"
    state = tempfile.mkdtemp(prefix="ecr-lab-bench-")
    lab_command = [sys.executable, "-m", "lab.cli", "serve", "--port", str(lab_port)]
    lab_command += ["--state-dir", state]
    moto_command = [sys.executable, "-c", MOTO_SERVER, str(moto_port)]
    with (
        server(lab_command, f"{lab_url}/_lab/health", quiet=False) as lab,
        server(moto_command, f"{moto_url}/moto-api/", quiet=True) as moto,  # logs every call
    ):
        admin_lab = Target("lab (root)", lab_url, ADMIN)
        moto_target = Target("moto", moto_url, ADMIN)
        for repository in (OPEN, GUARDED):
            seed_image(admin_lab.client(), repository, upload_layers=True)
        seed_image(moto_target.client(), OPEN, upload_layers=False)
        account = json.load(urllib.request.urlopen(f"{lab_url}/_lab/health"))["account"]
        role = puller_session(lab_url, account)
        role_lab = Target("lab (role session + repo policy)", lab_url, role, GUARDED)

        print(
            f"{'':34} {'1 client':>20}         {args.clients} clients, {args.duration:g} s\n"
            f"{'operation / server':34} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}  "
            f"{'req/s':>8} {'p50 ms':>7} {'p99 ms':>8} {'errors':>6}"
        )
        worst, failures = 0.0, 0
        for name, call in CALLS.items():
            print(name)
            baseline: Stats | None = None
            for target in (moto_target, admin_lab, role_lab):
                single = measure(target, call, 1, args.latency_seconds)
                loaded = measure(target, call, args.clients, args.duration)
                print(row(f"  {target.name}", single, loaded, baseline), flush=True)
                failures += single.errors + loaded.errors
                if baseline is None:
                    baseline = single
                else:
                    worst = max(worst, single.p50 / baseline.p50)
        print(f"lab peak RSS (VmHWM): {peak_rss_mib(lab.pid):.0f} MiB; ", end="")
        print(f"moto peak RSS: {peak_rss_mib(moto.pid):.0f} MiB")
    verdict = "ok" if failures == 0 and worst <= args.max_ratio else "FAIL"
    print(f"worst lab/moto p50 ratio {worst:.2f} (limit {args.max_ratio}), ", end="")
    print(f"{failures} errors: {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
