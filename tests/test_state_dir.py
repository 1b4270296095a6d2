"""The state directory across `ecr-lab serve` processes: one lab at a time, a start that writes
nothing it need not (so a full disk still starts), crash leftovers removed, a journal that
replays whatever it holds."""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from lab.store import TEMP_PREFIX
from lab.upstream.journal import JournalEntry
from tests.server_support import ROOT, serve, serve_command
from tests.tutorial import EC2_TRUST

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test


def _client(url: str, service: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def _no_file_writes() -> None:
    """In the child: writing beyond a file's current size fails (EFBIG), as on a full disk."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _run(state: Path, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(
        serve_command(state), capture_output=True, text=True, timeout=60, cwd=ROOT, **popen
    )


def test_a_second_server_on_the_same_state_directory_exits_naming_the_first(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with serve(state) as (first, url):
        second = _run(state)
        assert second.returncode != 0
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"pid {first.pid}" in lines[0] and str(state) in lines[0]
        # the first keeps serving, and what it acknowledges stays
        _client(url, "ecr").create_repository(repositoryName="kept")
        _stop(first)
    with serve(state) as (again, url):
        names = [
            r["repositoryName"] for r in _client(url, "ecr").describe_repositories()["repositories"]
        ]
        assert names == ["kept"]
        _stop(again)


def test_a_journal_entry_that_no_longer_applies_does_not_stop_the_lab(tmp_path: Path) -> None:
    """The same CreateRole journaled twice (two servers once shared the directory): the lab
    starts, skips the repeat, and the role is there."""
    state = tmp_path / "state"
    with serve(state) as (process, url):
        _client(url, "iam").create_role(RoleName="app", AssumeRolePolicyDocument=EC2_TRUST)
        _stop(process)
    journal = state / "iam" / "upstream-journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    create_role = [line for line in lines if b"CreateRole" in JournalEntry.from_line(line).body]
    assert len(create_role) == 1
    journal.write_bytes(b"".join(lines) + create_role[0])
    with serve(state) as (process, url):
        role = _client(url, "iam").get_role(RoleName="app")["Role"]
        assert role["RoleName"] == "app"
        _stop(process)


def test_a_restart_on_a_full_disk_serves_what_is_there(tmp_path: Path) -> None:
    """Nothing is rewritten at start when nothing changed (credentials.json was, every time)."""
    state = tmp_path / "state"
    with serve(state) as (process, url):
        _client(url, "ecr").create_repository(repositoryName="kept")
        _stop(process)
    before = {path: path.stat().st_mtime_ns for path in state.rglob("*") if path.is_file()}
    with serve(state, preexec_fn=_no_file_writes) as (process, url):
        ecr = _client(url, "ecr")
        names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
        assert names == ["kept"]
        with pytest.raises(ClientError) as failed:  # a write answers AWS's error, and then
            ecr.create_repository(repositoryName="new")  # the lab goes on serving
        assert failed.value.response["Error"]["Code"] == "ServerException"
        assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [
            "kept"
        ]
        _stop(process)
    after = {path: path.stat().st_mtime_ns for path in before}
    changed = [path.name for path in before if after[path] != before[path]]
    assert changed in ([], ["lab.lock"])


def test_a_first_start_on_a_full_disk_is_one_line_and_a_failure_status(tmp_path: Path) -> None:
    started = _run(tmp_path / "state", preexec_fn=_no_file_writes)
    assert started.returncode == 1
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert lines[0].startswith("ecr-lab: cannot write to ") and "Traceback" not in started.stderr


def test_temporary_files_left_by_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with serve(state) as (process, url):
        _client(url, "ecr").create_repository(repositoryName="kept")
        process.kill()  # kill -9: whatever it was writing stays behind
    leftovers = [
        state / "ecr" / "registries" / f"{TEMP_PREFIX}a1b2c3",
        state / "identity" / f"{TEMP_PREFIX}d4e5f6",
        state / "ecr" / "blobs" / "sha256" / f"{TEMP_PREFIX}g7h8i9",
    ]
    others = [
        state / "notes.txt",
        state / "ecr" / f"mine{TEMP_PREFIX}x",  # not the lab's name for a temporary file
        tmp_path / f"{TEMP_PREFIX}outside",  # not in the state directory
    ]
    for path in leftovers + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"torn')
    with serve(state) as (process, url):
        names = [
            r["repositoryName"] for r in _client(url, "ecr").describe_repositories()["repositories"]
        ]
        assert names == ["kept"]
        _stop(process)
    assert [path for path in leftovers if path.exists()] == []
    assert all(path.exists() for path in others)
