"""Durable JSON state: a write is on disk, whole, before it is acknowledged.

`write_json_atomic` writes a temporary file in the target's directory, fsyncs it, renames it
over the target and fsyncs the directory, so a reader (or a restart after kill -9) sees the
old document or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

# Temporary files carry this prefix so a crash leftover is recognisable and never read as state.
TEMP_PREFIX = ".tmp-"
_SURROGATE = re.compile("[\ud800-\udfff]")


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a rename, a new or removed file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably (temp file, fsync, rename, fsync dir)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace the JSON document at `path` atomically and durably."""
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    write_bytes_atomic(path, text.encode("utf-8"))


def is_text(text: str) -> bool:
    """Whether `text` is Unicode text, which UTF-8 can store: no lone surrogate (a JSON
    `"\\ud800"` escape decodes to one) that would make every later write of its document fail."""
    return _SURROGATE.search(text) is None


def remove_leftovers(root: Path) -> int:
    """Delete the temporary files a crash (kill -9 mid-write) left under `root`; how many.
    Only for a directory no other process writes: the caller holds its lock."""
    leftovers = [
        path
        for path in Path(root).rglob(f"{TEMP_PREFIX}*")
        if path.is_file() and not path.is_symlink()
    ]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON document at `path`, or `default` if there is none yet."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return default
    return json.loads(raw)
