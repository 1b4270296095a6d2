"""The lifecycle job: evaluates every repository's lifecycle policy on a timer, as ECR does
("After creating a lifecycle policy, the affected images are expired within 24 hours", ECR
User Guide, "Creating a lifecycle policy"), or at once when asked (`/_lab/lifecycle`,
`ecr-lab lifecycle run`).

Its own state, `<state_dir>/jobs/lifecycle.json`, records when it last ran and what it did;
the images' fate is ECR's state (`Ecr.apply_lifecycle_policies`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.ecr.service import Ecr
from lab.jobs.periodic import PeriodicJob
from lab.store import read_json, write_json_atomic

# How often the server evaluates lifecycle policies unless told otherwise (seconds).
DEFAULT_INTERVAL = 3600.0


class LifecycleJob(PeriodicJob):
    """Evaluate lifecycle policies now (`run`) or every `interval` seconds (`start`)."""

    def __init__(
        self,
        ecr: Ecr,
        state_file: Path,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.name = "lifecycle-job"
        self.ecr = ecr
        self.state_file = Path(state_file)
        self.interval = interval
        self._clock = clock
        self._running = threading.Lock()  # one evaluation at a time: timer or on demand

    def run(self, account: str | None = None) -> dict[str, Any]:
        """Evaluate now (one account's repositories, or every account's); the run's report."""
        with self._running:
            repositories = self.ecr.apply_lifecycle_policies(account)
            report = {"ranAt": self._clock(), "repositories": repositories}
            state = self.state()
            state.update(lastRunAt=report["ranAt"], runs=state.get("runs", 0) + 1, lastRun=report)
            write_json_atomic(self.state_file, state)
            return report

    def state(self) -> dict[str, Any]:
        """The job's own record: lastRunAt, runs, lastRun ({} before the first run)."""
        return read_json(self.state_file) or {}

    def forget(self) -> None:
        """Drop the job's record, as a new lab has none (the timer keeps running)."""
        with self._running:
            self.state_file.unlink(missing_ok=True)

    def run_once(self) -> object:
        return self.run()
