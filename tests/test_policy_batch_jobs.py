"""`simulate --batch` with worker processes: the same answers, in order, streaming.

The batch contract is the one documented in lab/policy/batch.py; `--jobs` only changes who
computes the answers.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.policy import batch
from tests.oracle.cases import generate

ECR_LAB = str(Path(sys.executable).parent / "ecr-lab")
# Other tests leave threads in this process, and Python 3.12+ warns at any fork then;
# `simulate` forks before any thread (test_simulate_jobs_runs_clean_with_warnings_as_errors).
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def _answers(payload: bytes, jobs: int, tmp_path: Path) -> bytes:
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(payload)
    source = os.open(cases, os.O_RDONLY)
    sink = io.BytesIO()
    try:
        count = batch.run(source, sink, jobs)
    finally:
        os.close(source)
    assert count == sink.getvalue().count(b"\n")
    return sink.getvalue()


@pytest.fixture(scope="module")
def payload() -> bytes:
    lines = [json.dumps(case) for case in generate(300, 7)]
    # Errors and blank lines keep their places (an error answer; no answer) under any jobs.
    lines[10:10] = ["this is not json", "", '{"principal": "x"}']
    return ("\n".join(lines) + "\n").encode()


def test_workers_answer_byte_for_byte_as_one_process(payload: bytes, tmp_path: Path) -> None:
    serial = _answers(payload, 1, tmp_path)
    assert _answers(payload, 2, tmp_path) == serial
    assert serial.count(b"\n") == 302  # 300 cases + 2 bad lines; the blank line gets none


def test_answer_lines_skips_blank_lines_and_answers_the_rest_in_order() -> None:
    answers = batch.answer_lines(["", "not json", "   ", "[]"]).decode().splitlines()
    assert [json.loads(a)["decision"] for a in answers] == ["error", "error"]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0c", "\x1c", "\x85", "\r"])
def test_a_line_separator_raw_inside_a_json_string_stays_in_its_case(separator: str) -> None:
    # str.splitlines() ends a line at each: U+0085, U+2028 and U+2029 stay raw in the JSON
    # text, the control characters are escaped. Only a newline ends a case line.
    case = {
        "principal": f"arn:aws:iam::111122223333:user/a{separator}b",
        "action": "ecr:ListImages",
        "resource": "*",
        "identity_policies": [],
    }
    line = json.dumps(case, ensure_ascii=False).encode()
    answers = subprocess.run(
        [ECR_LAB, "simulate", "--batch", "-"],
        input=line + b"\n" + line + b"\n",
        capture_output=True,
        check=True,
    ).stdout.splitlines()
    assert len(answers) == 2
    assert json.loads(answers[0])["decision"] == "implicit_deny"
    assert f"user/a{separator}b is not authorized" in json.loads(answers[0])["message"]


def test_default_jobs_is_the_cpus_this_process_may_use() -> None:
    assert batch.default_jobs() == len(os.sched_getaffinity(0))


@pytest.mark.slow
def test_workers_stream_a_line_before_the_input_ends() -> None:
    """With workers, a caller that writes one case and waits still gets its answer."""
    case = next(iter(generate(1, 3)))
    with subprocess.Popen(
        [ECR_LAB, "simulate", "--batch", "-", "--jobs", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin and process.stdout
        for _ in range(3):
            process.stdin.write(json.dumps(case) + "\n")
            process.stdin.flush()
            assert json.loads(process.stdout.readline())["decision"] != "error"
        process.stdin.close()
        assert process.wait(timeout=30) == 0


@pytest.mark.slow
def test_jobs_must_be_positive() -> None:
    result = subprocess.run(
        [ECR_LAB, "simulate", "--batch", "-", "--jobs", "0"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--jobs" in result.stderr
