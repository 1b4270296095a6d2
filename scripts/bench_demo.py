"""Cold wall time and peak RSS of `ecr-lab demo` (embedded, no Docker: the protocol client).

Each run is a fresh process, so imports, moto's start and the deploy are all counted; CPU
seconds and the load average are shown too, as wall time on a shared machine follows its load.
The lab's bytecode is compiled first, as installing the package does (with
PYTHONDONTWRITEBYTECODE set, every run would otherwise compile every module again). The runs
share a fresh user cache directory: the first one builds moto's managed-policy cache (shown
apart as the first run ever), the others read it. For scale, the same invocation times a bare
LocalStack core from start to health when one is installed (FACTS: localstack-core in its own
Python 3.13 venv; point ECR_LAB_LOCALSTACK_PYTHON at its interpreter), and says it was skipped
otherwise.

    .venv/bin/python scripts/bench_demo.py [--runs 3] [--target 2.0]
"""

from __future__ import annotations

import argparse
import compileall
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Run:
    """One child process: wall and CPU seconds, peak RSS (MiB), exit status, stderr's end."""

    wall: float
    cpu: float
    peak: float
    status: int
    said: str = ""


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Measure one child process from start to exit."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own usage; ru_maxrss in KiB
        wall = time.perf_counter() - started
        stderr.seek(0)
        said = stderr.read().decode(errors="replace")[-2000:]
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), said)


def bench_demo(runs: int) -> tuple[Run, list[Run]]:
    """The first run ever (empty user cache), then `runs` runs as every later one."""
    compileall.compile_dir(ROOT / "lab", quiet=1)
    argv = [sys.executable, "-m", "lab.cli", "demo", "--client", "protocol", "--format", "json"]
    with tempfile.TemporaryDirectory(prefix="bench-demo-cache-") as cache:
        env = os.environ | {"XDG_CACHE_HOME": cache}
        measured = [run_measured(argv, env) for _ in range(runs + 1)]
    for run in measured:
        if run.status != 0:
            raise SystemExit(f"ecr-lab demo exited {run.status}:\n{run.said}")
    return measured[0], measured[1:]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


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
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a core still starting services may not stop
                child.kill()
                child.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--target", type=float, default=2.0, help="seconds (median wall)")
    args = parser.parse_args()
    before = load_average()
    first, runs = bench_demo(args.runs)
    walls = [run.wall for run in runs]
    median = statistics.median(walls)
    verdict = "within" if median <= args.target else "OVER"
    print(
        f"ecr-lab demo (embedded, protocol client, cold process, {args.runs} runs): "
        f"median {median:.2f} s (min {min(walls):.2f}, max {max(walls):.2f}), "
        f"CPU {statistics.median(run.cpu for run in runs):.2f} s, "
        f"peak RSS {max(run.peak for run in runs):.0f} MiB; "
        f"{verdict} the {args.target:.1f} s target"
    )
    print(
        f"first run ever (builds the user cache): {first.wall:.2f} s, CPU {first.cpu:.2f} s; "
        f"load average {before} before, {load_average()} after"
    )
    python = localstack_python()
    if python is None:
        print("LocalStack core start to health: skipped (localstack-core is not installed)")
    else:
        print(f"LocalStack core start to health, for scale: {bench_localstack(python):.2f} s")
    return 0 if median <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
