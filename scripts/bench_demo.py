"""Cold wall time and peak RSS of `ecr-lab demo` (embedded, no Docker: the protocol client).

Each run is a fresh process, so imports, moto's start and the deploy are all counted. For
scale, the same invocation times a bare LocalStack core from start to health when one is
installed (FACTS: localstack-core in its own Python 3.13 venv; point ECR_LAB_LOCALSTACK_PYTHON
at its interpreter), and says it was skipped otherwise.

    .venv/bin/python scripts/bench_demo.py [--runs 3] [--target 2.0]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit status of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)  # ru_maxrss of this child alone, in KiB
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def bench_demo(runs: int) -> tuple[list[float], list[float]]:
    argv = [sys.executable, "-m", "lab.cli", "demo", "--client", "protocol", "--format", "json"]
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak, status = run_measured(argv)
        if status != 0:
            raise SystemExit(f"ecr-lab demo exited {status}")
        walls.append(wall)
        peaks.append(peak)
    return walls, peaks


def localstack_python() -> str | None:
    """An interpreter that has localstack-core, if one is installed."""
    candidates = [
        os.environ.get("ECR_LAB_LOCALSTACK_PYTHON", ""),
        str(ROOT / ".venv-localstack/bin/python"),
    ]
    for candidate in filter(None, candidates):
        if (
            Path(candidate).is_file()
            and subprocess.run(
                [candidate, "-c", "import localstack.runtime.main"], capture_output=True
            ).returncode
            == 0
        ):
            return candidate
    return None


def bench_localstack(python: str) -> float:
    """Seconds from start to a healthy /_localstack/health for a bare LocalStack core."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-localstack-") as volume:
        env = os.environ | {
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "GATEWAY_SERVER": "hypercorn",
            "DNS_ADDRESS": "0",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            "LOCALSTACK_VOLUME_DIR": volume,
        }
        started = time.perf_counter()
        child = subprocess.Popen(
            [python, "-m", "localstack.runtime.main"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.perf_counter() - started < 120:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/_localstack/health", timeout=1
                    ):
                        return time.perf_counter() - started
                except OSError:
                    time.sleep(0.05)
            raise SystemExit("LocalStack did not become healthy within 120 s")
        finally:
            child.terminate()
            child.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--target", type=float, default=2.0, help="seconds (median wall)")
    args = parser.parse_args()
    walls, peaks = bench_demo(args.runs)
    median = statistics.median(walls)
    verdict = "within" if median <= args.target else "OVER"
    print(
        f"ecr-lab demo (embedded, protocol client, cold process, {args.runs} runs): "
        f"median {median:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}), "
        f"peak RSS {max(peaks):.0f} MiB; {verdict} the {args.target:.1f} s target"
    )
    python = localstack_python()
    if python is None:
        print("LocalStack core start to health: skipped (localstack-core is not installed)")
    else:
        print(f"LocalStack core start to health, for scale: {bench_localstack(python):.2f} s")
    return 0 if median <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
