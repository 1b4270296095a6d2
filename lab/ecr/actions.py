"""What an ECR request asks to do, for the authorizer: the IAM action and the resource.

Repository-scoped operations (those with a `repositoryName`) act on the repository's ARN, in the
account `registryId` names (the caller's own by default); the tagging operations act on their
`resourceArn`; the rest (GetAuthorizationToken, DescribeRegistry, ...) on "*" (Service
Authorization Reference for Amazon ECR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.ecr.errors import INVALID_ARN
from lab.ecr.model import REPOSITORY_ARN, repository_arn
from lab.ecr.validation import operation_model, validate_input

# Operations IAM authorizes as another action. ListImageReferrers: "The IAM principal invoking
# this operation must have the ecr:BatchGetImage permission" (API reference, ListImageReferrers).
IAM_ACTION_OF = {"ListImageReferrers": "ecr:BatchGetImage"}
# Parameters that make an operation do another's work too, and the action each also asks for,
# on the same resource and with the same request context. CreateRepository with tags tags the
# repository: AWS asks for ecr:TagResource as well (ECR User Guide,
# ecr-supported-iam-actions-tagging.html: "additional authorization ... to verify if users have
# permissions to create tags"; AWS's notice of December 2022 that "Allow access will be needed
# for the ecr:TagResource and ecr:CreateRepository actions" to create a tagged repository).
ALSO_ASKS: dict[str, tuple[tuple[str, str], ...]] = {
    "CreateRepository": (("tags", "ecr:TagResource"),),
}


def also_asks(operation: str, params: dict[str, Any]) -> tuple[str, ...]:
    """The further actions a request asks for, beyond its own (see ALSO_ASKS)."""
    return tuple(action for name, action in ALSO_ASKS.get(operation, ()) if params.get(name))


@dataclass(frozen=True)
class Target:
    """The IAM action, the resource it applies to, and the repository if there is one."""

    action: str
    resource: str
    repository: tuple[str, str, str] | None  # (account, region, name)
    # Repositories the request names, each authorized on its own ARN and policy.
    named: tuple[str, ...] = ()
    # The answer lists the registry's repositories: only those the caller may act on.
    lists_repositories: bool = False


def target(operation: str, params: dict[str, Any], *, account: str, region: str) -> Target:
    """The authorization target of an ECR request; invalid requests raise ECR's error."""
    validate_input(operation, params)
    return _scope(operation, params, account, region)


# IAM actions of ECR's own work on a repository, with no API operation: replication's
# (registry-permissions-create-replication.html) and a pull through cache's import.
INTERNAL_ACTIONS = frozenset({"ecr:ReplicateImage", "ecr:BatchImportUpstreamImage"})


def action_target(action: str, account: str, region: str, name: str) -> Target:
    """The target of IAM `action` asked of repository `name`, scoped as `target` scopes the
    operation: the repository when its API names one, else "*" (GetAuthorizationToken)."""
    if action in INTERNAL_ACTIONS:
        return Target(action, repository_arn(account, region, name), (account, region, name))
    params = {
        "repositoryName": name,
        "registryId": account,
        "resourceArn": repository_arn(account, region, name),
        "repositoryNames": [name],
    }
    return _scope(action.removeprefix("ecr:"), params, account, region)


def _scope(operation: str, params: dict[str, Any], account: str, region: str) -> Target:
    shape = operation_model(operation).input_shape
    members = shape.members if shape is not None else {}
    action = IAM_ACTION_OF.get(operation, f"ecr:{operation}")
    if "repositoryName" in members:
        owner = params.get("registryId") or account
        name = params["repositoryName"]
        return Target(action, repository_arn(owner, region, name), (owner, region, name))
    if "resourceArn" in members:
        match = REPOSITORY_ARN.fullmatch(params["resourceArn"])
        if match is None:
            raise INVALID_ARN()
        where = (match["account"], match["region"], match["name"])
        return Target(action, params["resourceArn"], where)
    if "repositoryNames" in members:  # DescribeRepositories
        owner = params.get("registryId") or account
        names = tuple(dict.fromkeys(params.get("repositoryNames") or []))
        if names:
            first = (owner, region, names[0])
            return Target(action, repository_arn(*first), first, named=names)
        # Listing: AWS asks for every repository of the registry ("...:repository/*"), then
        # answers with those "to which the current user has access" (API Reference, Examples).
        return Target(action, repository_arn(owner, region, "*"), None, lists_repositories=True)
    return Target(action, "*", None)
