"""The authorization target of ECR requests (Service Authorization Reference for ECR)."""

from __future__ import annotations

import pytest

from lab.ecr.actions import Target, target
from lab.errors import AwsError

ACCOUNT, OTHER, REGION = "123456789012", "210987654321", "ap-northeast-1"
ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fa-085"


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("BatchGetImage", {"repositoryName": "fa-085", "imageIds": [{"imageTag": "latest"}]}),
        ("InitiateLayerUpload", {"repositoryName": "fa-085"}),
        ("CreateRepository", {"repositoryName": "fa-085"}),
    ],
)
def test_repository_operations_target_the_repository_arn(operation, params):
    assert target(operation, params, account=ACCOUNT, region=REGION) == Target(
        f"ecr:{operation}", ARN, (ACCOUNT, REGION, "fa-085")
    )


def test_registry_id_selects_the_owning_account():
    goal = target(
        "GetRepositoryPolicy",
        {"repositoryName": "shared", "registryId": OTHER},
        account=ACCOUNT,
        region=REGION,
    )
    assert goal.resource == f"arn:aws:ecr:{REGION}:{OTHER}:repository/shared"
    assert goal.repository == (OTHER, REGION, "shared")


def test_tagging_targets_the_resource_arn():
    goal = target("ListTagsForResource", {"resourceArn": ARN}, account=OTHER, region="us-east-1")
    assert goal == Target("ecr:ListTagsForResource", ARN, (ACCOUNT, REGION, "fa-085"))


@pytest.mark.parametrize("operation", ["GetAuthorizationToken", "DescribeRegistry"])
def test_registry_wide_operations_target_star(operation):
    assert target(operation, {}, account=ACCOUNT, region=REGION) == Target(
        f"ecr:{operation}", "*", None
    )


def test_invalid_requests_fail_closed_with_ecr_errors():
    with pytest.raises(AwsError) as caught:
        target("BatchGetImage", {"repositoryName": "fa-085"}, account=ACCOUNT, region=REGION)
    assert caught.value.code == "InvalidParameterException"
    with pytest.raises(AwsError) as caught:
        target("TagResource", {"resourceArn": "nope", "tags": []}, account=ACCOUNT, region=REGION)
    assert caught.value.code == "InvalidParameterException"
    with pytest.raises(AwsError) as caught:
        target("Unheard", {}, account=ACCOUNT, region=REGION)
    assert caught.value.code == "UnknownOperationException"
