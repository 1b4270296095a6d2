"""Run a JSONL batch evaluator (our engine or the oracle) as one process, and measure it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ORACLE_DIR = Path(__file__).resolve().parent
ORACLE_RUNNER = ORACLE_DIR / "run_oracle.mjs"
ORACLE_PACKAGE = ORACLE_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate"


@dataclass(frozen=True)
class BatchRun:
    """One batch process run: its answers, wall time end to end, CPU time (user + system, which
    load on the machine does not inflate; its worker processes' included), and peak memory:
    the kernel's high-water mark of the program's resident set after exec, or the most its
    process tree (workers included) held at once, as sampled while it runs, whichever is more."""

    answers: list[dict[str, Any]]
    seconds: float
    cpu_seconds: float
    peak_rss_kib: int


def engine_command() -> list[str]:
    """`ecr-lab simulate --batch -` from the environment running this interpreter."""
    script = Path(sys.executable).parent / "ecr-lab"
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the project (pip install -e .)")
    return [str(script), "simulate", "--batch", "-"]


def oracle_command() -> list[str]:
    """The node runner; fails loudly when node or the pinned package is missing."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the differential oracle needs Node.js >= 18")
    if not ORACLE_PACKAGE.exists():
        raise RuntimeError(f"{ORACLE_PACKAGE} is missing: run `npm ci --prefix tests/oracle`")
    return [node, str(ORACLE_RUNNER)]


def run_batch(command: Sequence[str], cases: Sequence[dict[str, Any]]) -> BatchRun:
    """Feed the cases as JSONL to one process and read one JSON answer per case."""
    payload = "".join(json.dumps(case, separators=(",", ":")) + "\n" for case in cases).encode()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdin and process.stdout and process.stderr
    errors: list[bytes] = []
    peak = [0]
    running = threading.Event()
    running.set()
    # Feed, drain and sample on threads: a full pipe would otherwise deadlock.
    threads = [
        threading.Thread(target=_feed, args=(process.stdin, payload)),
        threading.Thread(target=lambda: errors.append(process.stderr.read())),
        threading.Thread(target=_sample_peak_rss, args=(process.pid, running, peak)),
    ]
    for thread in threads:
        thread.start()
    output = process.stdout.read()
    running.clear()
    for thread in threads:
        thread.join()
    # wait4 gives this child's own CPU time; RUSAGE_CHILDREN would mix both evaluators.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    answers = [json.loads(line) for line in output.decode().splitlines() if line.strip()]
    if len(answers) != len(cases):
        raise RuntimeError(
            f"{' '.join(command)} answered {len(answers)} of {len(cases)} cases "
            f"(exit {process.returncode}): {b''.join(errors).decode()[-2000:]}"
        )
    return BatchRun(answers, seconds, usage.ru_utime + usage.ru_stime, peak[0])


def _feed(stream: IO[bytes], payload: bytes) -> None:
    try:
        stream.write(payload)
    except BrokenPipeError:  # the process died early: the caller reports its stderr
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            stream.close()


def _sample_peak_rss(pid: int, running: threading.Event, peak: list[int]) -> None:
    # VmHWM, not rusage: ru_maxrss also counts the parent's pages the child held before exec.
    while running.is_set():
        try:
            high_water = _status_kib(pid, "VmHWM:")
        except OSError:
            return
        peak[0] = max(peak[0], high_water, tree_rss_kib(pid))
        time.sleep(0.02)


def tree_rss_kib(pid: int) -> int:
    """The memory a process and all its descendants (worker processes) hold now: the sum of
    their proportional set sizes, which counts a page forked workers share with it once."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):  # a process may end while it is read
            total += _pss_kib(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
    return total


def _status_kib(pid: int, field: str, name: str = "status") -> int:
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _pss_kib(pid: int) -> int:
    try:
        return _status_kib(pid, "Pss:", "smaps_rollup")
    except OSError:  # a kernel without smaps_rollup: resident pages, shared ones counted again
        return _status_kib(pid, "VmRSS:")
