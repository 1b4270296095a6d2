"""Private image replication: the registry's replication configuration, which pushed images it
sends where, and each copy's status (ECR User Guide, "Private image replication in Amazon ECR",
replication.html; API: PutReplicationConfiguration, DescribeRegistry,
DescribeImageReplicationStatus).

State only: the copying is `lab.jobs.replication`'s, which asks the destination's permission
through the lab's one authorization function. A status IN_PROGRESS is the job's pending work,
kept in the source registry's document, so it survives a restart.
"""

from __future__ import annotations

from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import IMAGE_NOT_FOUND, INVALID_PARAMETER
from lab.ecr.model import Image, Registry, Repository
from lab.ecr.regions import is_ecr_region

# "A replication configuration may contain ... up to 25 unique destinations across all rules"
# (ECR User Guide, "Private image replication", considerations).
MAX_DESTINATIONS = 25


def put_replication_configuration(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """PutReplicationConfiguration: the model checked the shape and its limits; ECR refuses a
    destination that is the registry itself, a Region ECR lacks, and too many destinations.
    The constraint wording of these three is the lab's (AWS's is not published)."""
    configuration = params["replicationConfiguration"]
    registry = ctx.registry
    destinations = {
        (d["region"], d["registryId"])
        for rule in configuration["rules"]
        for d in rule["destinations"]
    }
    for region, registry_id in sorted(destinations):
        if (region, registry_id) == (registry.region, registry.account):
            raise INVALID_PARAMETER(
                member="replicationConfiguration",
                constraint="Replication destination cannot be the source registry and region",
            )
        if not is_ecr_region(region):
            raise INVALID_PARAMETER(
                member="replicationConfiguration", constraint=f"Invalid region {region}"
            )
    if len(destinations) > MAX_DESTINATIONS:
        raise INVALID_PARAMETER(
            member="replicationConfiguration",
            constraint=f"Number of unique destinations must not exceed {MAX_DESTINATIONS}",
        )
    registry.replication_configuration = {"rules": [_rule(rule) for rule in configuration["rules"]]}
    return {"replicationConfiguration": registry.replication_configuration}


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    # Only the members the model defines are kept, as ECR stores them.
    kept: dict[str, Any] = {
        "destinations": [
            {"region": d["region"], "registryId": d["registryId"]} for d in rule["destinations"]
        ]
    }
    if rule.get("repositoryFilters"):
        kept["repositoryFilters"] = [
            {"filter": f["filter"], "filterType": f["filterType"]}
            for f in rule["repositoryFilters"]
        ]
    return kept


def replication_configuration(registry: Registry) -> dict[str, Any]:
    """DescribeRegistry's replicationConfiguration ({"rules": []} before any is put)."""
    return registry.replication_configuration or {"rules": []}


def destinations(registry: Registry, repository: str) -> list[tuple[str, str]]:
    """(region, registryId) of every destination a rule whose filters match `repository` names,
    in order, once each; a rule without filters matches every repository (PREFIX_MATCH only)."""
    found: dict[tuple[str, str], None] = {}
    for rule in replication_configuration(registry)["rules"]:
        filters = rule.get("repositoryFilters") or [{"filter": ""}]
        if any(repository.startswith(f["filter"]) for f in filters):
            found.update({(d["region"], d["registryId"]): None for d in rule["destinations"]})
    return list(found)


def schedule(registry: Registry, repository: Repository, image: Image) -> None:
    """After a push: every matching destination's copy of the image is IN_PROGRESS again."""
    for region, registry_id in destinations(registry, repository.name):
        enqueue(registry, repository.name, image.digest, region, registry_id)


def enqueue(
    registry: Registry,
    name: str,
    digest: str,
    region: str,
    registry_id: str,
    backfill: str | None = None,
) -> None:
    """One copy to make (IN_PROGRESS); a backfill waiting on the same copy keeps waiting."""
    work = {"repositoryName": name, "imageDigest": digest, "region": region}
    work |= {"registryId": registry_id, "status": "IN_PROGRESS"}
    for old in registry.replication_statuses:
        if _key(old) == _key(work) and old["status"] == "IN_PROGRESS" and "backfill" in old:
            backfill = backfill or old["backfill"]
    registry.replication_statuses = [
        s for s in registry.replication_statuses if _key(s) != _key(work)
    ] + [work | ({"backfill": backfill} if backfill else {})]


def _key(status: dict[str, Any]) -> tuple[str, str, str, str]:
    return (status["repositoryName"], status["imageDigest"], status["region"], status["registryId"])


def pending(registry: Registry) -> list[dict[str, Any]]:
    """The copies still to make (IN_PROGRESS), oldest first."""
    return [dict(s) for s in registry.replication_statuses if s["status"] == "IN_PROGRESS"]


def settle(registry: Registry, work: dict[str, Any], status: str, failure: str | None) -> None:
    """Record a copy's outcome (COMPLETE, or FAILED with its failureCode), unless a newer push
    has scheduled it again meanwhile."""
    for entry in registry.replication_statuses:
        if _key(entry) == _key(work) and entry["status"] == "IN_PROGRESS":
            entry["status"] = status
            entry.pop("failureCode", None)
            if failure is not None:
                entry["failureCode"] = failure


def describe_image_replication_status(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeImageReplicationStatus: the image's copies, one status per destination."""
    repository = ctx.registry.repository(params["repositoryName"])
    wanted = params["imageId"]
    digest, tag = wanted.get("imageDigest"), wanted.get("imageTag")
    image = repository.images.get(digest) if digest else repository.image_by_tag(tag or "")
    if image is None or (tag and tag not in image.tags):
        raise IMAGE_NOT_FOUND(
            name=repository.name, registry_id=ctx.registry.account, digest=digest, tag=tag
        )
    statuses = [
        {k: s[k] for k in ("region", "registryId", "status", "failureCode") if k in s}
        for s in ctx.registry.replication_statuses
        if (s["repositoryName"], s["imageDigest"]) == (repository.name, image.digest)
    ]
    return {
        "repositoryName": repository.name,
        "imageId": dict(wanted),
        "replicationStatuses": statuses,
    }
