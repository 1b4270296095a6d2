"""What keeps `ecr-lab demo` quick to start: state in memory, rich only for a terminal, and no
cyclic garbage collection during (or after) a one-shot command."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.scenario.cli import _one_shot, _progress
from lab.scenario.demo import scratch_dir


def test_the_demo_state_lives_in_memory_where_there_is_some() -> None:
    with scratch_dir("ecr-lab-test-") as state:
        if os.access("/dev/shm", os.W_OK):
            assert Path(state).parent == Path("/dev/shm")
        assert Path(state).is_dir()
    assert not Path(state).exists()


def test_progress_off_a_terminal_is_one_plain_line_per_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _progress("demo fa-085") as progress:
        progress("deploying scenario fa-085")
        progress("instance1: docker push")
    assert capsys.readouterr().err == "· deploying scenario fa-085\n· instance1: docker push\n"


def test_a_one_shot_command_runs_without_cyclic_collection_and_restores_it() -> None:
    try:
        with _one_shot():
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # left for the process's exit, never scanned again
    finally:
        gc.unfreeze()


def test_json_junit_and_html_reports_load_no_rich() -> None:
    probe = "import sys, lab.scenario.render, lab.scenario.html; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
