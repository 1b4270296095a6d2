"""Repository and lifecycle policies: stored verbatim, validated, AWS's not-found messages."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.ecr_support import ACCOUNT, client, error_of, fast_dir, make_ecr

REPO = "fa-085"
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


@pytest.fixture
def ecr(tmp_path):
    with fast_dir(tmp_path) as path:
        ecr_client = client(make_ecr(path))
        ecr_client.create_repository(repositoryName=REPO)
        yield ecr_client


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


def test_the_policy_validator_decides_and_nothing_is_stored_on_rejection(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.set_repository_policy(repositoryName=REPO, policyText="{not json")
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
        "'Invalid repository policy provided'",
    )
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName=REPO)


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


def test_lifecycle_policy_that_is_not_a_policy_is_rejected(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText="x" * 100)
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        "'Lifecycle policy validation failure: Could not map policyString into LifecyclePolicy.'",
    )
