"""An append-only journal of the writes moto acknowledged, replayed at start.

moto keeps its state in memory only; the journal is what makes an acknowledged IAM write
survive a restart, even after kill -9. One JSON object per line, fsynced before the write is
acknowledged; a torn last line (a crash mid-append) was never acknowledged and is dropped.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from lab.store import fsync_dir

# Operations that only read state; everything else that succeeds is journaled.
_READ_PREFIXES = ("Get", "List", "Describe", "Simulate", "Head")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class JournalEntry:
    """One acknowledged write: the request as moto received it and the random seed it ran with."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    seed: int

    def to_line(self) -> bytes:
        """The entry as one JSON line (the body base64, since S3 bodies are binary)."""
        record = {
            "method": self.method,
            "url": self.url,
            "headers": [list(pair) for pair in self.headers],
            "body": base64.b64encode(self.body).decode("ascii"),
            "seed": self.seed,
        }
        return json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> JournalEntry:
        """The inverse of `to_line`."""
        record = json.loads(line)
        return cls(
            method=record["method"],
            url=record["url"],
            headers=tuple((name, value) for name, value in record["headers"]),
            body=base64.b64decode(record["body"]),
            seed=record["seed"],
        )


def operation_name(url: str, headers: dict[str, str], body: bytes) -> str | None:
    """The AWS operation of a raw request: query `Action`, JSON `X-Amz-Target`, else None (REST)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if target := lowered.get("x-amz-target"):
        return target.rsplit(".", 1)[-1]
    params = parse_qs(urlsplit(url).query)
    if "application/x-www-form-urlencoded" in lowered.get("content-type", ""):
        params.update(parse_qs(body.decode("utf-8", "replace")))
    actions = params.get("Action")
    return actions[0] if actions else None


def is_write(method: str, operation: str | None) -> bool:
    """True when a request may change state and so must be journaled."""
    if operation is None:
        return method.upper() not in _READ_METHODS
    return not operation.startswith(_READ_PREFIXES)


class Journal:
    """The journal file: `entries()` to replay, `append()` to record (durably)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._drop_torn_tail()
        self._file = open(self.path, "ab")  # noqa: SIM115 (held open for the journal's life)
        self._lock = threading.Lock()
        if created:
            fsync_dir(self.path.parent)

    def entries(self) -> Iterator[JournalEntry]:
        """Every acknowledged entry, oldest first."""
        with open(self.path, "rb") as journal:
            for line in journal:
                if line.strip():
                    yield JournalEntry.from_line(line)

    def append(self, entry: JournalEntry) -> None:
        """Record `entry`; it is on disk when this returns."""
        with self._lock:
            self._file.write(entry.to_line())
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file (entries stay on disk)."""
        self._file.close()

    def _drop_torn_tail(self) -> None:
        """Cut a partial last line left by a crash, so the next append starts a fresh line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "r+b") as journal:
                journal.truncate(data.rfind(b"\n") + 1)
                os.fsync(journal.fileno())
