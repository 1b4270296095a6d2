"""A background job's timer: run `run_once` every `interval` seconds on a daemon thread."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class PeriodicJob:
    """Start and stop a daemon thread that calls `run_once` every `interval` seconds."""

    name = "job"
    interval = 0.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> object:
        """One pass of the job's work."""
        raise NotImplementedError

    def start(self) -> None:
        """Run every `interval` seconds on a daemon thread, until `stop` (0 or less: never)."""
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the timer and wait for a pass in progress to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # a failed pass is logged; the next one tries again
                log.exception("%s failed", self.name)
