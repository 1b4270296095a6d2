"""A lab's state directory from the outside: is it usable, what was deployed into it, does a
lab run on it, and wiping it safely.

`lab.json` records what `serve` set up (account, region, upstream, scenario, instances) so a
restart without flags comes back the same. A running `serve` holds an exclusive flock on
`lab.lock` (lab/server/state_lock.py); a lock we can take means no lab runs on the directory.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.errors import CommandError
from lab.server.state_lock import LOCK_FILE, StateDirectoryInUse, StateLock
from lab.store import TEMP_PREFIX, read_json, write_json_atomic

RECORD = "lab.json"
LOCK = LOCK_FILE
# What a lab writes at the top of its state directory; anything else means it is not one.
ENTRIES = frozenset({RECORD, LOCK, "iam", "identity", "ecr", "accounts", "jobs"})
MARKERS = (RECORD, "identity/credentials.json")


def check_usable(state_dir: Path) -> None:
    """Create the directory if need be; CommandError when it cannot hold a lab's state."""
    if state_dir.exists() and not state_dir.is_dir():
        raise CommandError(f"--state-dir {state_dir} is a file, not a directory", 2)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"cannot create --state-dir {state_dir}: {error.strerror}", 2) from None
    try:  # a real write: root passes os.access even on a read-only file system
        tempfile.TemporaryFile(prefix=TEMP_PREFIX, dir=state_dir).close()
    except OSError as error:
        why = error.strerror
        raise CommandError(f"--state-dir {state_dir} is not writable: {why}", 2) from None


def read_record(state_dir: Path) -> dict[str, Any]:
    """What was set up in this state directory ({} for a new one or an unreadable record)."""
    try:
        record = read_json(state_dir / RECORD, {})
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_record(state_dir: Path, record: dict[str, Any]) -> None:
    """Record what was set up; an unchanged record is not rewritten (a restart on a full disk
    must still serve)."""
    if read_record(state_dir) != record:
        write_json_atomic(state_dir / RECORD, record)


@contextlib.contextmanager
def held_lock(state_dir: Path) -> Iterator[None]:
    """Hold the directory's lock (the one a running lab holds); CommandError when a lab runs."""
    try:
        lock = StateLock(state_dir)
    except StateDirectoryInUse as error:
        raise CommandError(str(error)) from None
    try:
        yield
    finally:
        lock.release()


def is_state_dir(state_dir: Path) -> bool:
    """True when the directory holds a lab's state and nothing else."""
    if not any((state_dir / marker).exists() for marker in MARKERS):
        return False
    return all(
        entry.name in ENTRIES or entry.name.startswith(TEMP_PREFIX) for entry in state_dir.iterdir()
    )


def wipe(state_dir: Path) -> bool:
    """Empty a lab's state directory (False: there was nothing to wipe); refuses anything
    else, and a directory a lab runs on."""
    if not state_dir.exists():
        return False
    if not state_dir.is_dir():
        raise CommandError(f"{state_dir} is not a directory", 2)
    if {entry.name for entry in state_dir.iterdir()} <= {LOCK}:
        return False
    if not is_state_dir(state_dir):
        raise CommandError(
            f"{state_dir} does not look like an ecr-lab state directory; not touching it", 2
        )
    with held_lock(state_dir):
        for entry in state_dir.iterdir():
            if entry.name == LOCK:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    return True
