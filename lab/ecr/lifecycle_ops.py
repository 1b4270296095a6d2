"""Lifecycle policy previews (StartLifecyclePolicyPreview, GetLifecyclePolicyPreview) and the
application of a repository's lifecycle policy, over `lab.ecr.lifecycle`'s pure evaluation.

A preview is evaluated when it starts, against the images then in the repository, and reads
IN_PROGRESS until it is first fetched, which answers COMPLETE: a second start before that is
LifecyclePolicyPreviewInProgressException, as on AWS while its dry run runs.
"""

from __future__ import annotations

from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import (
    LIFECYCLE_POLICY_NOT_FOUND,
    LIFECYCLE_PREVIEW_IN_PROGRESS,
    LIFECYCLE_PREVIEW_NOT_FOUND,
)
from lab.ecr.lifecycle import LifecycleImage, Outcome, evaluate, parse_policy
from lab.ecr.model import Image, Repository
from lab.ecr.pages import paginate
from lab.ecr.policies import check_lifecycle_policy


def lifecycle_image(image: Image) -> LifecycleImage:
    """What the rules see of an image."""
    return LifecycleImage(
        digest=image.digest,
        tags=tuple(image.tags),
        pushed_at=image.pushed_at,
        status=image.status,
        last_pulled_at=image.last_pulled_at,
        archived_at=image.last_archived_at,
        manifests=tuple(image.manifests),
    )


def outcome(repository: Repository, text: str, now: float) -> Outcome:
    """What policy `text` does to the repository's images at `now`."""
    images = [lifecycle_image(image) for image in repository.images.values()]
    return evaluate(images, parse_policy(text), now)


def start_lifecycle_policy_preview(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StartLifecyclePolicyPreview: of the given text, else of the repository's policy."""
    registry = ctx.registry
    repository = registry.repository(params["repositoryName"])
    text = params.get("lifecyclePolicyText") or repository.lifecycle_policy
    if text is None:
        raise LIFECYCLE_POLICY_NOT_FOUND(name=repository.name, registry_id=registry.account)
    previous = repository.lifecycle_preview
    if previous is not None and previous["status"] == "IN_PROGRESS":
        raise LIFECYCLE_PREVIEW_IN_PROGRESS(name=repository.name, registry_id=registry.account)
    check_lifecycle_policy(text)
    results = [
        _result(repository, selection)
        for selection in outcome(repository, text, ctx.now).selections
    ]
    repository.lifecycle_preview = {
        "lifecyclePolicyText": text,
        "status": "IN_PROGRESS",
        "previewResults": results,
    }
    return {
        "registryId": registry.account,
        "repositoryName": repository.name,
        "lifecyclePolicyText": text,
        "status": "IN_PROGRESS",
    }


def get_lifecycle_policy_preview(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """GetLifecyclePolicyPreview: the preview's results, filtered and paged; COMPLETE now."""
    registry = ctx.registry
    repository = registry.repository(params["repositoryName"])
    preview = repository.lifecycle_preview
    if preview is None:
        raise LIFECYCLE_PREVIEW_NOT_FOUND(name=repository.name, registry_id=registry.account)
    preview["status"] = "COMPLETE"
    results = [r for r in preview["previewResults"] if _wanted(r, params)]
    page, token = paginate(
        results, lambda r: [f"{r['imagePushedAt']:020.6f}", r["imageDigest"]], params
    )
    transitioning = [r for r in preview["previewResults"] if r["action"]["type"] == "TRANSITION"]
    answer: dict[str, Any] = {
        "registryId": registry.account,
        "repositoryName": repository.name,
        "lifecyclePolicyText": preview["lifecyclePolicyText"],
        "status": "COMPLETE",
        "previewResults": page,
        "summary": {
            "expiringImageTotalCount": len(preview["previewResults"]) - len(transitioning),
            "transitioningImageTotalCounts": (
                [{"targetStorageClass": "ARCHIVE", "imageTotalCount": len(transitioning)}]
                if transitioning
                else []
            ),
        },
    }
    if token:
        answer["nextToken"] = token
    return answer


def apply_lifecycle_policy(repository: Repository, now: float) -> dict[str, list[str]]:
    """Expire and archive what the repository's policy selects at `now`; stamp the
    evaluation time (GetLifecyclePolicy's lastEvaluatedAt). A policy ECR would refuse
    (stored before validation was strict) changes nothing but is still evaluated."""
    done: dict[str, list[str]] = {"expired": [], "archived": []}
    if repository.lifecycle_policy is None:
        return done
    try:
        result = outcome(repository, repository.lifecycle_policy, now)
    except ValueError:
        result = Outcome()
    for digest in result.digests("expire"):
        del repository.images[digest]
        done["expired"].append(digest)
    for digest in result.digests("transition"):
        image = repository.images[digest]
        image.status, image.last_archived_at = "ARCHIVED", now
        done["archived"].append(digest)
    repository.lifecycle_evaluated_at = now
    return done


def _result(repository: Repository, selection: Any) -> dict[str, Any]:
    image = repository.images[selection.image.digest]
    action: dict[str, str] = {"type": selection.action.upper()}
    if selection.action == "transition":
        action["targetStorageClass"] = "ARCHIVE"
    return {
        "imageTags": list(image.tags),
        "imageDigest": image.digest,
        "imagePushedAt": image.pushed_at,
        "action": action,
        "appliedRulePriority": selection.rule.priority,
        "storageClass": "ARCHIVE" if image.status == "ARCHIVED" else "STANDARD",
    }


def _wanted(result: dict[str, Any], params: dict[str, Any]) -> bool:
    status = params.get("filter", {}).get("tagStatus", "ANY")
    if status != "ANY" and (status == "TAGGED") != bool(result["imageTags"]):
        return False
    wanted = params.get("imageIds")
    if not wanted:
        return True
    return any(
        w.get("imageDigest") == result["imageDigest"] or w.get("imageTag") in result["imageTags"]
        for w in wanted
    )
