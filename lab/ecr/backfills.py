"""Replication backfills: a registry's existing images replicated to one configured destination
(API reference: StartReplicationBackfill, StopReplicationBackfill, ListReplicationBackfills,
DescribeReplicationBackfillResults).

A backfill queues one copy per matching image for the replication job, marked with its id;
as the job settles them, each image and tag becomes one result ("Each image and tag combination
is counted as a single replication"); with none left the backfill is COMPLETE. Results are
shown only once it has ended, as the API reference says.
"""

from __future__ import annotations

import uuid
from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import (
    BACKFILL_IN_PROGRESS,
    BACKFILL_INVALID_STATUS,
    BACKFILL_NOT_FOUND,
    INVALID_PARAMETER,
    TOO_MANY_BACKFILLS,
)
from lab.ecr.model import Registry
from lab.ecr.pages import paginate
from lab.ecr.replication import destinations, enqueue, replication_configuration

# "a registry can have at most 10 replication backfills in progress at once"
MAX_IN_PROGRESS = 10
_ACTIVE = ("PREPARING", "IN_PROGRESS", "STOPPING")
_LIST_PAGE = 25  # ListReplicationBackfills' page without maxResults


def start_replication_backfill(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StartReplicationBackfill: the destination must be configured; one backfill in progress
    per destination Region; at most 10 in progress in the registry."""
    registry = ctx.registry
    wanted = params["destination"]
    pair = (wanted["region"], wanted["registryId"])
    rules = replication_configuration(registry)["rules"]
    configured = {(d["region"], d["registryId"]) for rule in rules for d in rule["destinations"]}
    if pair not in configured:
        raise INVALID_PARAMETER(
            member="destination",
            constraint="The destination must be configured in the registry's replication "
            "configuration",
        )
    active = [b for b in registry.replication_backfills if b["status"] in _ACTIVE]
    if any(b["destination"]["region"] == pair[0] for b in active):
        raise BACKFILL_IN_PROGRESS(region=pair[0])
    if len(active) >= MAX_IN_PROGRESS:
        raise TOO_MANY_BACKFILLS(limit=str(MAX_IN_PROGRESS))
    backfill: dict[str, Any] = {
        "replicationBackfillId": str(uuid.uuid4()),
        "destination": {"region": pair[0], "registryId": pair[1]},
        "status": "IN_PROGRESS",
        "startedAt": ctx.now,
        "total": 0,
        "results": [],
    }
    for repository in registry.repositories.values():
        if pair not in destinations(registry, repository.name):
            continue
        for image in repository.images.values():
            if image.status == "ACTIVE":
                enqueue(
                    registry,
                    repository.name,
                    image.digest,
                    *pair,
                    backfill["replicationBackfillId"],
                )
                backfill["total"] += max(1, len(image.tags))
    registry.replication_backfills.append(backfill)
    _end_if_done(registry, backfill, ctx.now)
    return {"registryId": registry.account} | _summary(backfill, ("progress", "endedAt"))


def record(
    registry: Registry, work: dict[str, Any], status: str, failure: str | None, now: float
) -> None:
    """A settled copy that a backfill waited on: one result per image tag."""
    backfill = _find(registry, work.get("backfill"))
    if backfill is None or backfill["status"] not in _ACTIVE:
        return
    repository = registry.repositories.get(work["repositoryName"])
    image = repository.images.get(work["imageDigest"]) if repository else None
    for tag in (image.tags if image else []) or [None]:
        result: dict[str, Any] = {
            "repositoryName": work["repositoryName"],
            "imageId": {"imageDigest": work["imageDigest"]} | ({"imageTag": tag} if tag else {}),
            "status": status,
        }
        backfill["results"].append(result | ({"failureCode": failure} if failure else {}))
    _end_if_done(registry, backfill, now)


def stop_replication_backfill(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopReplicationBackfill: copies not yet made are dropped; made ones stay."""
    registry = ctx.registry
    backfill = _backfill(ctx, params["replicationBackfillId"])
    if backfill["status"] not in _ACTIVE:
        raise BACKFILL_INVALID_STATUS(
            backfill_id=backfill["replicationBackfillId"], status=backfill["status"]
        )
    backfill |= {"status": "STOPPED", "endedAt": ctx.now}
    registry.replication_statuses = [
        s
        for s in registry.replication_statuses
        if not (
            s["status"] == "IN_PROGRESS" and s.get("backfill") == backfill["replicationBackfillId"]
        )
    ]
    return {"registryId": registry.account} | _summary(backfill, ("progress", "endedAt"))


def list_replication_backfills(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListReplicationBackfills: every backfill of the registry, oldest first, paged."""
    paging = params | {"maxResults": params.get("maxResults") or _LIST_PAGE}
    page, token = paginate(ctx.registry.replication_backfills, _order, paging)
    answer = {"registryId": ctx.registry.account, "backfills": [_summary(b) for b in page]}
    return answer | ({"nextToken": token} if token else {})


def describe_replication_backfill_results(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeReplicationBackfillResults: status and progress; results once it has ended."""
    backfill = _backfill(ctx, params["replicationBackfillId"])
    ended = backfill["status"] not in _ACTIVE
    wanted = params.get("resultStatusFilter")
    results = [r for r in backfill["results"] if ended and wanted in (None, r["status"])]
    page, token = paginate(results, _result_order, params)
    answer = {"registryId": ctx.registry.account} | _summary(backfill) | {"results": page}
    return answer | ({"nextToken": token} if token else {})


def _summary(backfill: dict[str, Any], leave: tuple[str, ...] = ()) -> dict[str, Any]:
    results = backfill["results"]
    failed = [r for r in results if r["status"] == "FAILED"]
    summary = {k: backfill[k] for k in ("replicationBackfillId", "destination", "status")}
    summary["startedAt"] = backfill["startedAt"]
    summary["progress"] = {
        "totalReplicationCount": backfill["total"],
        "completedReplicationCount": len(results) - len(failed),
        "failedReplicationCount": len(failed),
        "failureCodes": sorted({r["failureCode"] for r in failed}),
    }
    if "endedAt" in backfill:
        summary["endedAt"] = backfill["endedAt"]
    return {k: v for k, v in summary.items() if k not in leave}


def _end_if_done(registry: Registry, backfill: dict[str, Any], now: float) -> None:
    waiting = any(
        s["status"] == "IN_PROGRESS" and s.get("backfill") == backfill["replicationBackfillId"]
        for s in registry.replication_statuses
    )
    if not waiting:
        backfill |= {"status": "COMPLETE", "endedAt": now}


def _find(registry: Registry, backfill_id: str | None) -> dict[str, Any] | None:
    return next(
        (b for b in registry.replication_backfills if b["replicationBackfillId"] == backfill_id),
        None,
    )


def _backfill(ctx: Context, backfill_id: str) -> dict[str, Any]:
    found = _find(ctx.registry, backfill_id)
    if found is None:
        raise BACKFILL_NOT_FOUND(backfill_id=backfill_id, registry_id=ctx.registry.account)
    return found


def _order(backfill: dict[str, Any]) -> list[str]:
    return [f"{backfill['startedAt']:020.6f}", backfill["replicationBackfillId"]]


def _result_order(result: dict[str, Any]) -> list[str]:
    image = result["imageId"]
    return [result["repositoryName"], image["imageDigest"], image.get("imageTag", "")]
