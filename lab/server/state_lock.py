"""One lab per state directory: an exclusive lock held for the server's life.

Two servers on one directory would each overwrite what the other acknowledged (last writer
wins) and interleave their IAM journals. The lock is `flock` on `<state_dir>/lab.lock`: the
kernel releases it when its holder exits, even by kill -9, so a stale lock never blocks a start.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import suppress
from pathlib import Path

LOCK_FILE = "lab.lock"


class StateDirectoryInUse(Exception):
    """Another running lab holds the state directory's lock."""

    def __init__(self, state_dir: Path, pid: str) -> None:
        super().__init__(
            f"the state directory {state_dir} is in use by another ecr-lab (pid {pid}); "
            "stop it or choose another --state-dir"
        )


class StateLock:
    """The held lock; `release()` (or the process's exit) lets another lab start."""

    def __init__(self, state_dir: Path) -> None:
        path = Path(state_dir) / LOCK_FILE
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self._fd)
            raise StateDirectoryInUse(Path(state_dir), holder) from None
        with suppress(OSError):  # the PID only names the holder: a full disk must not stop us
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        """Unlock (closing the descriptor drops the flock)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
