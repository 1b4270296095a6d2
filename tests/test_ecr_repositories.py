"""Repository operations through a real boto3 client: answers and AWS's exact errors."""

from __future__ import annotations

from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from tests.ecr_support import (
    ACCOUNT,
    HOST,
    OTHER_ACCOUNT,
    REGION,
    client,
    error_of,
    make_ecr,
    push_image,
)


@pytest.fixture
def ecr(state_dir):  # no repository yet, and a fixed clock
    return client(make_ecr(state_dir, clock=lambda: 1700000000.5))


def test_create_repository_answers_like_ecr(ecr):
    repository = ecr.create_repository(repositoryName="fa-085")["repository"]
    assert repository["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fa-085"
    assert repository["registryId"] == ACCOUNT
    assert repository["repositoryUri"] == f"{HOST}/fa-085"
    assert repository["createdAt"] == datetime.fromtimestamp(1700000000.5).astimezone()
    assert repository["imageTagMutability"] == "MUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repository["encryptionConfiguration"] == {"encryptionType": "AES256"}


def test_create_existing_repository_is_repository_already_exists(ecr):
    ecr.create_repository(repositoryName="fa-085")
    with pytest.raises(ClientError) as caught:
        ecr.create_repository(repositoryName="fa-085")
    assert error_of(caught) == (
        "RepositoryAlreadyExistsException",
        f"The repository with name 'fa-085' already exists in the registry with id '{ACCOUNT}'",
    )


def test_describe_missing_repository_is_repository_not_found(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.describe_repositories(repositoryNames=["nope"])
    assert error_of(caught) == (
        "RepositoryNotFoundException",
        f"The repository with name 'nope' does not exist in the registry with id '{ACCOUNT}'",
    )


def test_describe_repositories_paginates_with_max_results_and_next_token(ecr):
    names = [f"repo-{i:02d}" for i in range(7)]
    for name in reversed(names):
        ecr.create_repository(repositoryName=name)
    seen, token = [], None
    while True:
        page = ecr.describe_repositories(maxResults=3, **({"nextToken": token} if token else {}))
        assert len(page["repositories"]) <= 3
        seen += [r["repositoryName"] for r in page["repositories"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names


def test_paginator_of_boto3_walks_every_repository(ecr):
    for i in range(5):
        ecr.create_repository(repositoryName=f"r{i}x")
    pages = ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2})
    assert [r["repositoryName"] for p in pages for r in p["repositories"]] == [
        f"r{i}x" for i in range(5)
    ]


def test_garbled_next_token_is_invalid_parameter(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.describe_repositories(nextToken="%%%not-a-token")
    assert error_of(caught)[0] == "InvalidParameterException"


def test_delete_repository_with_images_is_repository_not_empty(ecr):
    ecr.create_repository(repositoryName="fa-085")
    push_image(ecr, "fa-085", "latest")
    with pytest.raises(ClientError) as caught:
        ecr.delete_repository(repositoryName="fa-085")
    assert error_of(caught) == (
        "RepositoryNotEmptyException",
        f"The repository with name 'fa-085' in registry with id '{ACCOUNT}' cannot be deleted "
        "because it still contains images",
    )


def test_delete_repository_force_deletes_images_too(ecr):
    ecr.create_repository(repositoryName="fa-085")
    push_image(ecr, "fa-085", "latest")
    deleted = ecr.delete_repository(repositoryName="fa-085", force=True)["repository"]
    assert deleted["repositoryName"] == "fa-085"
    assert ecr.describe_repositories()["repositories"] == []


def test_repositories_survive_a_new_ecr_on_the_same_state_dir(state_dir):
    first = client(make_ecr(state_dir))
    first.create_repository(repositoryName="fa-085", imageTagMutability="IMMUTABLE")
    first.tag_resource(
        resourceArn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fa-085",
        tags=[{"Key": "team", "Value": "a"}],
    )
    push_image(first, "fa-085", "v1")
    again = client(make_ecr(state_dir))
    repository = again.describe_repositories()["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert again.list_images(repositoryName="fa-085")["imageIds"][0]["imageTag"] == "v1"
    assert again.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"] == [
        {"Key": "team", "Value": "a"}
    ]


def test_registry_id_selects_the_account(state_dir):
    service = make_ecr(state_dir)
    mine, theirs = client(service, ACCOUNT), client(service, OTHER_ACCOUNT)
    theirs.create_repository(repositoryName="shared")
    assert mine.describe_repositories()["repositories"] == []
    found = mine.describe_repositories(registryId=OTHER_ACCOUNT)["repositories"]
    assert [r["repositoryArn"] for r in found] == [
        f"arn:aws:ecr:{REGION}:{OTHER_ACCOUNT}:repository/shared"
    ]


def test_tags_add_overwrite_and_remove(ecr):
    arn = ecr.create_repository(repositoryName="fa-085", tags=[{"Key": "a", "Value": "1"}])[
        "repository"
    ]["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    ecr.untag_resource(resourceArn=arn, tagKeys=["b", "absent"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "a", "Value": "2"}]


def test_tagging_a_non_repository_arn_is_invalid_parameter(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'",
    )


def test_tagging_a_missing_repository_is_repository_not_found(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.list_tags_for_resource(resourceArn=f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/gone")
    assert error_of(caught)[0] == "RepositoryNotFoundException"


def test_put_image_tag_mutability(ecr):
    ecr.create_repository(repositoryName="fa-085")
    answer = ecr.put_image_tag_mutability(repositoryName="fa-085", imageTagMutability="IMMUTABLE")
    assert (answer["registryId"], answer["imageTagMutability"]) == (ACCOUNT, "IMMUTABLE")
    assert ecr.describe_repositories()["repositories"][0]["imageTagMutability"] == "IMMUTABLE"


def test_describe_registry(ecr):
    answer = ecr.describe_registry()
    assert (answer["registryId"], answer["replicationConfiguration"]) == (ACCOUNT, {"rules": []})


def test_service_answers_for_the_authorizer(state_dir):
    service = make_ecr(state_dir)
    ecr = client(service)
    assert service.repository_policy(ACCOUNT, REGION, "fa-085") is None
    assert service.repository_tags(ACCOUNT, REGION, "fa-085") == {}
    ecr.create_repository(repositoryName="fa-085", tags=[{"Key": "k", "Value": "v"}])
    ecr.set_repository_policy(repositoryName="fa-085", policyText='{"Statement": []}')
    assert service.repository_policy(ACCOUNT, REGION, "fa-085") == '{"Statement": []}'
    assert service.repository_tags(ACCOUNT, REGION, "fa-085") == {"k": "v"}


def test_unknown_operation_is_unknown_operation_exception_with_an_empty_message(state_dir):
    from lab.errors import AwsError

    with pytest.raises(AwsError) as caught:
        make_ecr(state_dir).handle("FlyToTheMoon", {}, account=ACCOUNT, region=REGION)
    assert (caught.value.code, caught.value.message) == ("UnknownOperationException", "")
