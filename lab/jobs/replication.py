"""The replication job: copies each pushed image to the destinations of the registry's
replication rules, in the background, as ECR does after a push (ECR User Guide, "Private image
replication in Amazon ECR", replication.html).

Each copy asks the lab's one authorization function (`decide`, the server's
`replication_decision`) whether the source registry's account may act in the destination
registry: `ecr:CreateRepository` when the repository is missing there, `ecr:ReplicateImage`
on it ("Granting registry permissions for cross account replication",
registry-permissions-create-replication.html: the destination's registry policy grants them to
`arn:aws:iam::SOURCE:root`; within one account no policy is needed, as the root's own
permissions allow). A refusal is the copy's FAILED status with the refusal as failureCode.

The pending work is the IN_PROGRESS statuses in the source registries (`Ecr.replication_work`):
state that survives a restart, picked up by the next run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lab.ecr.service import Ecr
from lab.errors import AwsError
from lab.jobs.periodic import PeriodicJob
from lab.policy.model import Decision

# (source account, destination account, destination region, repository, action) -> decision
Decide = Callable[[str, str, str, str, str], Decision]

# How often the background thread looks for pending copies (seconds).
DEFAULT_INTERVAL = 0.5


class ReplicationJob(PeriodicJob):
    """Make pending copies now (`run_pending`) or every `interval` seconds (`start`)."""

    def __init__(self, ecr: Ecr, decide: Decide, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__()
        self.name = "replication-job"
        self.ecr = ecr
        self.decide = decide
        self.interval = interval
        self._running = threading.Lock()  # one pass at a time: timer or on demand

    def run_pending(self) -> list[dict[str, Any]]:
        """Make every pending copy now; each one's outcome (its status entry, settled)."""
        done = []
        with self._running:
            for account, region, work in self.ecr.replication_work():
                failure = self._copy(account, region, work)
                self.ecr.settle_replication(account, region, work, failure)
                status = "COMPLETE" if failure is None else "FAILED"
                done.append(
                    work | {"status": status} | ({"failureCode": failure} if failure else {})
                )
        return done

    def _copy(self, source: str, source_region: str, work: dict[str, Any]) -> str | None:
        """Copy one image if the destination lets the source; None, or why it failed."""
        account, region, name = work["registryId"], work["region"], work["repositoryName"]
        create = name not in self.ecr.repository_names(account, region)
        actions = ["ecr:CreateRepository"] if create else []
        for action in [*actions, "ecr:ReplicateImage"]:
            decision = self.decide(source, account, region, name, action)
            if not decision.allowed:
                return decision.message
        try:
            self.ecr.replicate(source, source_region, work, create=create)
        except AwsError as error:
            return f"{error.code}: {error.message}"
        return None

    def run_once(self) -> object:
        return self.run_pending()
