"""Pull times: lastRecordedPullTime, and the principals whose pulls do not update it.

ECR User Guide, "Pull-time update exclusions" (pull-time-update-exclusions.html): ECR records
every pull except by the IAM roles or users on the registry's exclusion list, which holds up to
100 principals. A pull is BatchGetImage or a registry manifest GET.
"""

from __future__ import annotations

from typing import Any

from lab.ecr.context import Context
from lab.ecr.errors import EXCLUSION_ALREADY_EXISTS, EXCLUSION_NOT_FOUND, TOO_MANY_EXCLUSIONS
from lab.ecr.model import Image
from lab.ecr.operation import Operation
from lab.ecr.pages import paginate

MAX_EXCLUSIONS = 100


# "Amazon ECR refreshes the last image pull timestamp at least once every 24 hours"
# (API reference, ImageDetail.lastRecordedPullTime): no write for every pull.
PULL_REFRESH = 24 * 3600.0


def record_pull(ctx: Context, image: Image) -> None:
    """Note the pull of `image` unless its puller is excluded or it was noted within a day."""
    if ctx.principal in ctx.registry.pull_time_exclusions:
        return
    last = image.last_pulled_at
    if last is None or ctx.now - last >= PULL_REFRESH:
        image.last_pulled_at = ctx.now


def register_pull_time_update_exclusion(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """RegisterPullTimeUpdateExclusion."""
    arn, exclusions = params["principalArn"], ctx.registry.pull_time_exclusions
    if arn in exclusions:
        raise EXCLUSION_ALREADY_EXISTS(arn=arn, registry_id=ctx.registry.account)
    if len(exclusions) >= MAX_EXCLUSIONS:
        raise TOO_MANY_EXCLUSIONS(limit=str(MAX_EXCLUSIONS))
    exclusions[arn] = ctx.now
    return {"principalArn": arn, "createdAt": ctx.now}


def deregister_pull_time_update_exclusion(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeregisterPullTimeUpdateExclusion."""
    arn = params["principalArn"]
    if ctx.registry.pull_time_exclusions.pop(arn, None) is None:
        raise EXCLUSION_NOT_FOUND(arn=arn, registry_id=ctx.registry.account)
    return {"principalArn": arn}


def list_pull_time_update_exclusions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListPullTimeUpdateExclusions, paginated by ARN."""
    page, token = paginate(list(ctx.registry.pull_time_exclusions), lambda arn: [arn], params)
    result: dict[str, Any] = {"pullTimeUpdateExclusions": page}
    if token:
        result["nextToken"] = token
    return result


OPERATIONS = {
    "RegisterPullTimeUpdateExclusion": Operation(register_pull_time_update_exclusion, True),
    "DeregisterPullTimeUpdateExclusion": Operation(deregister_pull_time_update_exclusion, True),
    "ListPullTimeUpdateExclusions": Operation(list_pull_time_update_exclusions, False),
}
