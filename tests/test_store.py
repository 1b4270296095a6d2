"""Durable JSON state: atomic replacement, crash leftovers ignored, nothing acknowledged lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lab import store
from lab.store import TEMP_PREFIX, read_json, write_json_atomic


def test_round_trip_and_default(tmp_path):
    path = tmp_path / "deep" / "state.json"
    assert read_json(path, default={"empty": True}) == {"empty": True}
    write_json_atomic(path, {"a": [1, 2], "b": "ü"})
    assert read_json(path) == {"a": [1, 2], "b": "ü"}


def test_a_crash_between_temp_write_and_rename_keeps_the_old_document(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    write_json_atomic(path, {"version": 1})

    def crash(*_):
        raise OSError("power lost before the rename")

    monkeypatch.setattr(store.os, "replace", crash)
    with pytest.raises(OSError):
        write_json_atomic(path, {"version": 2})
    assert read_json(path) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_temp_file_left_by_kill_9_is_never_read_as_state(tmp_path):
    path = tmp_path / "state.json"
    write_json_atomic(path, {"version": 1})
    (tmp_path / f"{TEMP_PREFIX}abc").write_text('{"version": 2, "torn')
    assert read_json(path) == {"version": 1}


WRITER = """
import sys
from pathlib import Path
from lab.store import write_json_atomic
path = Path(sys.argv[1])
n = 0
while True:
    n += 1
    write_json_atomic(path, {"n": n, "padding": "x" * 20000})
    print(n, flush=True)
"""


def test_kill_9_mid_write_leaves_the_last_acknowledged_document_or_a_later_one(tmp_path):
    path = tmp_path / "state.json"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    acknowledged = 0
    deadline = time.monotonic() + 5
    while acknowledged < 20 and time.monotonic() < deadline:
        acknowledged = int(writer.stdout.readline())
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    document = json.loads(path.read_text())
    assert document["n"] >= acknowledged
