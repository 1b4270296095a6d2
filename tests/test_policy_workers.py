"""The forked worker pool behind `simulate --jobs`: answers in order, workers always reaped,
a dead worker an error (never missing or reordered answers)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.policy.workers import WorkerError, ordered

ECR_LAB = str(Path(sys.executable).parent / "ecr-lab")
# Other tests leave threads in this process, and Python 3.12+ warns at any fork then;
# `simulate` forks before any thread (test_simulate_jobs_runs_clean_with_warnings_as_errors).
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def _tasks(count: int) -> Iterator[tuple[bytes, bool]]:
    for n in range(count):
        yield str(n).encode(), n == count - 1


def _slow_on_odd(data: bytes, last: bool) -> bytes:
    # Odd tasks take longer: answers come back out of order and must be put back in it.
    if int(data) % 2:
        time.sleep(0.01)
    return b"answer " + data + (b" last" if last else b"") + b"\n"


def _children() -> set[int]:
    task = Path(f"/proc/{os.getpid()}/task")
    return {int(pid) for t in task.iterdir() for pid in (t / "children").read_text().split()}


@pytest.fixture
def source() -> Iterator[int]:
    # A regular file is always readable: tasks are taken as fast as the workers allow.
    fd = os.open(os.devnull, os.O_RDONLY)
    yield fd
    os.close(fd)


@pytest.mark.parametrize("jobs", [2, 3])
def test_answers_come_in_the_tasks_order_whatever_finishes_first(source: int, jobs: int) -> None:
    got = list(ordered(_tasks(40), source, _slow_on_odd, jobs))
    assert got == [_slow_on_odd(*task) for task in _tasks(40)]
    assert not _children()


def test_large_tasks_and_answers_pass_whole_through_full_pipes(source: int) -> None:
    # Bigger than a pipe's buffer both ways: the parent must send and read at once.
    blocks = [(bytes([n]) * (3 << 20), False) for n in range(6)]
    got = list(ordered(iter(blocks), source, lambda data, last: data[::-1], 2))
    assert got == [data for data, _ in blocks]
    assert not _children()


def _dies_on_7(data: bytes, last: bool) -> bytes:
    if data == b"7":
        os._exit(3)
    return data + b"\n"


def test_a_worker_that_dies_is_an_error_not_a_missing_answer(source: int) -> None:
    got = []
    with pytest.raises(WorkerError, match="ended with"):
        got.extend(ordered(_tasks(20), source, _dies_on_7, 2))
    assert got == [f"{n}\n".encode() for n in range(7)]  # every answer before it, in order
    assert not _children()


def _dies_on_3(data: bytes, last: bool) -> bytes:
    if data[0] == 3:
        os._exit(3)
    return data[:1]


def test_a_worker_that_dies_mid_send_still_lets_every_earlier_answer_out(source: int) -> None:
    # Tasks larger than a pipe: the parent is still writing to the worker when it dies, and
    # the other worker's answers before its task must come out all the same, in order.
    blocks = [(bytes([n]) * (1 << 20), False) for n in range(12)]
    got = []
    with pytest.raises(WorkerError, match="ended with"):
        got.extend(ordered(iter(blocks), source, _dies_on_3, 2))
    assert got == [b"\x00", b"\x01", b"\x02"]
    assert not _children()


def test_a_consumer_that_stops_early_leaves_no_worker_behind(source: int) -> None:
    answers = ordered(_tasks(1000), source, _slow_on_odd, 2)
    assert next(answers) == b"answer 0\n"
    assert len(_children()) == 2
    answers.close()
    assert not _children()


def test_the_pool_starts_no_thread(source: int) -> None:
    before = threading.active_count()
    answers = ordered(_tasks(10), source, _slow_on_odd, 2)
    assert next(answers) == b"answer 0\n"
    assert threading.active_count() == before
    assert len(list(answers)) == 9


def test_simulate_jobs_runs_clean_with_warnings_as_errors(tmp_path: Path) -> None:
    # Python 3.12+ warns when a process with threads forks; the pool starts no thread.
    cases = tmp_path / "cases.jsonl"
    case = '{"principal":"arn:aws:iam::111122223333:user/a","action":"ecr:ListImages",'
    cases.write_text((case + '"resource":"*"}\n') * 50)
    command = ["simulate", "--batch", str(cases), "--jobs", "2"]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "lab.cli", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("implicit_deny") == 50


def test_a_dead_worker_fails_the_batch_with_a_message(tmp_path: Path) -> None:
    # The batch is cut short: simulate says so and exits with its error status, no traceback.
    script = (
        "import os, sys\n"
        "from lab.policy import batch\n"
        "real = batch.answer_block\n"
        "def dying(data, last=False):\n"
        "    if b'die' in data:\n"
        "        os._exit(9)\n"
        "    return real(data, last)\n"
        "batch.answer_block = dying\n"
        "from lab.cli import main\n"
        "sys.exit(main(['simulate', '--batch', '-', '--jobs', '2']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input="die\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result
    assert result.stderr.startswith("ecr-lab simulate: batch worker")
    assert "Traceback" not in result.stderr
