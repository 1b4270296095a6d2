"""Replication backfills through real HTTP: existing images replicated to one configured
destination, with progress and per-image results.

AWS: API reference StartReplicationBackfill ("The destination must already be configured in
the registry's replication configuration"; one backfill in progress per destination Region),
StopReplicationBackfill, ListReplicationBackfills, DescribeReplicationBackfillResults ("The
per-image results are available only after the replication backfill reaches a terminal status").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_support import push_image
from tests.test_regions import regional_ecr

pytestmark = pytest.mark.slow

SOURCE, OTHER = "111111111111", "222222222222"
HOME, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
RULES = {
    "rules": [
        {
            "destinations": [
                {"region": WEST, "registryId": SOURCE},
                {"region": WEST, "registryId": OTHER},
            ]
        }
    ]
}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    config = LabConfig(
        state_dir=tmp_path / "state", account=SOURCE, region=HOME, replication_interval=0
    )
    with RunningLab(config) as running:
        running.lab.add_account(OTHER)
        ecr = regional_ecr(running, HOME)
        ecr.create_repository(repositoryName="app")
        push_image(ecr, "app", "v1")  # before any configuration: not replicated on push
        push_image(ecr, "app", None, seed=b"untagged")
        ecr.put_replication_configuration(replicationConfiguration=RULES)
        yield running


def _error(excinfo: Any) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_a_backfill_copies_existing_images_and_reports_results(lab: RunningLab) -> None:
    ecr = regional_ecr(lab, HOME)
    started = ecr.start_replication_backfill(destination={"region": WEST, "registryId": SOURCE})
    assert started["status"] == "IN_PROGRESS"
    backfill = started["replicationBackfillId"]
    pending = ecr.describe_replication_backfill_results(replicationBackfillId=backfill)
    assert pending["results"] == []  # results only once it has ended
    assert pending["progress"]["totalReplicationCount"] == 2
    lab.lab.replication.run_pending()
    done = ecr.describe_replication_backfill_results(replicationBackfillId=backfill)
    assert done["status"] == "COMPLETE"
    assert done["progress"] == {
        "totalReplicationCount": 2,
        "completedReplicationCount": 2,
        "failedReplicationCount": 0,
        "failureCodes": [],
    }
    assert sorted(r["imageId"].get("imageTag", "-") for r in done["results"]) == ["-", "v1"]
    west = regional_ecr(lab, WEST).describe_images(repositoryName="app")["imageDetails"]
    assert len(west) == 2
    listed = ecr.list_replication_backfills()["backfills"]
    assert [b["replicationBackfillId"] for b in listed] == [backfill]


def test_a_refused_destination_fails_each_result(lab: RunningLab) -> None:
    ecr = regional_ecr(lab, HOME)
    backfill = ecr.start_replication_backfill(destination={"region": WEST, "registryId": OTHER})
    lab.lab.replication.run_pending()
    done = ecr.describe_replication_backfill_results(
        replicationBackfillId=backfill["replicationBackfillId"], resultStatusFilter="FAILED"
    )
    assert done["progress"]["failedReplicationCount"] == 2
    assert [r["status"] for r in done["results"]] == ["FAILED", "FAILED"]
    assert "ecr:CreateRepository" in done["progress"]["failureCodes"][0]


def test_only_a_configured_destination_and_one_per_region(lab: RunningLab) -> None:
    ecr = regional_ecr(lab, HOME)
    with pytest.raises(ClientError) as unconfigured:
        ecr.start_replication_backfill(destination={"region": EU, "registryId": SOURCE})
    assert _error(unconfigured) == (
        "InvalidParameterException",
        "Invalid parameter at 'destination' failed to satisfy constraint: 'The destination "
        "must be configured in the registry's replication configuration'",
    )
    ecr.start_replication_backfill(destination={"region": WEST, "registryId": SOURCE})
    with pytest.raises(ClientError) as busy:
        ecr.start_replication_backfill(destination={"region": WEST, "registryId": OTHER})
    assert _error(busy)[0] == "ReplicationBackfillInProgressException"


def test_stop_drops_the_copies_not_made(lab: RunningLab) -> None:
    ecr = regional_ecr(lab, HOME)
    started = ecr.start_replication_backfill(destination={"region": WEST, "registryId": SOURCE})
    backfill = started["replicationBackfillId"]
    stopped = ecr.stop_replication_backfill(replicationBackfillId=backfill)
    assert stopped["status"] == "STOPPED"
    assert lab.lab.replication.run_pending() == []
    with pytest.raises(ClientError) as again:
        ecr.stop_replication_backfill(replicationBackfillId=backfill)
    assert _error(again)[0] == "ReplicationBackfillInvalidStatusException"
    with pytest.raises(ClientError) as missing:
        ecr.describe_replication_backfill_results(
            replicationBackfillId="00000000-0000-0000-0000-000000000000"
        )
    assert _error(missing)[0] == "ReplicationBackfillNotFoundException"
