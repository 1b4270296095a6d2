"""Repository and lifecycle policies: stored verbatim, validated, AWS's not-found messages."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.ecr_support import ACCOUNT, REPO, error_of

LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "expire untagged images",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


def test_repository_policy_set_get_delete(ecr):
    text = '{"Version": "2012-10-17", "Statement": []}'
    assert ecr.set_repository_policy(repositoryName=REPO, policyText=text)["policyText"] == text
    assert ecr.get_repository_policy(repositoryName=REPO)["policyText"] == text
    deleted = ecr.delete_repository_policy(repositoryName=REPO)
    assert (deleted["registryId"], deleted["policyText"]) == (ACCOUNT, text)


def test_missing_repository_policy_is_repository_policy_not_found(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.get_repository_policy(repositoryName=REPO)
    assert error_of(caught) == (
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{REPO}' in the "
        f"registry with id '{ACCOUNT}'",
    )


@pytest.mark.parametrize(
    ("put", "field", "member", "text", "constraint", "get"),
    [
        pytest.param(
            "set_repository_policy",
            "policyText",
            "PolicyText",
            "{not json",
            "Invalid repository policy provided",  # the policy engine's validator decides
            "get_repository_policy",
            id="repository",
        ),
        pytest.param(
            "put_lifecycle_policy",
            "lifecyclePolicyText",
            "LifecyclePolicyText",
            "x" * 100,
            "Lifecycle policy validation failure: Could not map policyString into LifecyclePolicy.",
            "get_lifecycle_policy",
            id="lifecycle",
        ),
    ],
)
def test_a_rejected_policy_is_invalid_parameter_and_nothing_is_stored(
    ecr, put, field, member, text, constraint, get
):
    with pytest.raises(ClientError) as caught:
        getattr(ecr, put)(repositoryName=REPO, **{field: text})
    assert error_of(caught) == (
        "InvalidParameterException",
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'",
    )
    with pytest.raises(ClientError):
        getattr(ecr, get)(repositoryName=REPO)


def test_policy_of_a_missing_repository_is_repository_not_found(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.set_repository_policy(repositoryName="gone", policyText="{}")
    assert error_of(caught)[0] == "RepositoryNotFoundException"


def test_lifecycle_policy_put_get_delete(ecr):
    assert (
        ecr.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=LIFECYCLE)[
            "lifecyclePolicyText"
        ]
        == LIFECYCLE
    )
    assert ecr.get_lifecycle_policy(repositoryName=REPO)["lifecyclePolicyText"] == LIFECYCLE
    assert ecr.delete_lifecycle_policy(repositoryName=REPO)["lifecyclePolicyText"] == LIFECYCLE
    with pytest.raises(ClientError) as caught:
        ecr.get_lifecycle_policy(repositoryName=REPO)
    assert error_of(caught) == (
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name '{REPO}' in the "
        f"registry with id '{ACCOUNT}'",
    )
