"""Request validation from botocore's ECR model, with ECR's own wording per case."""

from __future__ import annotations

import pytest

from lab.ecr.validation import validate_input
from lab.errors import AwsError


def _error(operation, params):
    with pytest.raises(AwsError) as caught:
        validate_input(operation, params)
    return caught.value.code, caught.value.message


def test_repository_name_pattern_uses_ecr_own_wording():
    # jenkins-x/jx#1344: "'must satisfy regular expression '...''" (no "Member").
    code, message = _error("CreateRepository", {"repositoryName": "Upper/Case"})
    assert code == "InvalidParameterException"
    assert message.startswith(
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
        "'must satisfy regular expression '"
    )


def test_repository_name_too_short_uses_ecr_own_wording():
    # aws/aws-dotnet-deploy#549
    assert _error("CreateRepository", {"repositoryName": "a"}) == (
        "InvalidParameterException",
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
        "'must have length greater than or equal to 2'",
    )


def test_too_many_image_ids_is_member_must_have_length():
    # trek10inc/ecr-cleaner#8
    ids = [{"imageTag": f"t{i}"} for i in range(101)]
    assert _error("BatchDeleteImage", {"repositoryName": "ab", "imageIds": ids}) == (
        "InvalidParameterException",
        "Invalid parameter at 'imageIds' failed to satisfy constraint: "
        "'Member must have length less than or equal to 100'",
    )


def test_missing_required_member():
    assert _error("CreateRepository", {})[0] == "InvalidParameterException"


def test_enum_and_range():
    code, message = _error(
        "PutImageTagMutability", {"repositoryName": "ab", "imageTagMutability": "SOMETIMES"}
    )
    assert code == "InvalidParameterException" and "enum value set" in message
    assert _error("DescribeRepositories", {"maxResults": 1001})[1].endswith(
        "'Member must have value less than or equal to 1000'"
    )


def test_nested_members_are_checked():
    code, message = _error("ListImages", {"repositoryName": "ab", "filter": {"tagStatus": "NO"}})
    assert code == "InvalidParameterException" and "'filter.tagStatus'" in message


def test_wrong_json_types_fail_deserialisation():
    assert _error("DescribeRepositories", {"maxResults": "10"})[0] == "SerializationException"
    assert _error("DeleteRepository", {"repositoryName": "ab", "force": 1})[0] == (
        "SerializationException"
    )
    blob = {"repositoryName": "ab", "uploadId": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
    bad = blob | {"partFirstByte": 0, "partLastByte": 0, "layerPartBlob": "!!!"}
    assert _error("UploadLayerPart", bad)[0] == "SerializationException"


def test_unknown_members_are_ignored_as_coral_does():
    validate_input("DescribeRepositories", {"somethingElse": True})


def test_unknown_operation():
    assert _error("NoSuchOperation", {}) == ("UnknownOperationException", "")
