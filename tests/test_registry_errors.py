"""The registry's error registry and its wire format."""

from __future__ import annotations

import json

import pytest

from lab.errors import AwsError
from lab.registry.errors import (
    REGISTRY_ERRORS,
    RegistryError,
    denied_response,
    error_response,
    from_aws_error,
    name_unknown,
    unauthorized_response,
)


def _header(response, name):
    return next(v for k, v in response.headers if k.lower() == name.lower())


def test_error_body_is_the_spec_envelope_with_detail():
    response = error_response(RegistryError("DIGEST_INVALID", detail={"digest": "sha256:00"}))
    assert response.status == 400
    assert json.loads(response.body) == {
        "errors": [
            {
                "code": "DIGEST_INVALID",
                "message": "provided digest did not match uploaded content",
                "detail": {"digest": "sha256:00"},
            }
        ]
    }
    assert _header(response, "content-type").startswith("application/json")
    assert _header(response, "docker-distribution-api-version") == "registry/2.0"
    assert int(_header(response, "content-length")) == len(response.body)


def test_name_unknown_has_ecrs_wording():
    response = error_response(name_unknown("fa-085", "123456789012"))
    assert response.status == 404
    assert json.loads(response.body)["errors"][0] == {
        "code": "NAME_UNKNOWN",
        "message": "The repository with name 'fa-085' does not exist in the registry with id "
        "'123456789012'",
    }


def test_manifest_unknown_is_ecrs_requested_image_not_found():
    # docker prints "manifest unknown: Requested image not found" for ECR (nginx/docker-nginx#545)
    err = from_aws_error(AwsError("ImageNotFoundException", "anything the API says"))
    assert (err.code, err.status, err.message) == (
        "MANIFEST_UNKNOWN",
        404,
        "Requested image not found",
    )


def test_immutable_tag_is_tag_invalid_with_ecrs_message():
    message = (
        "The image tag 'v1' already exists in the 'fa-085' repository and cannot be overwritten "
        "because the repository is immutable."
    )
    err = from_aws_error(AwsError("ImageTagAlreadyExistsException", message))
    assert (err.code, err.status, err.message) == ("TAG_INVALID", 400, message)


def test_unmapped_errors_use_the_fallback_or_unknown():
    assert from_aws_error(AwsError("InvalidParameterException", "x"), "MANIFEST_INVALID").code == (
        "MANIFEST_INVALID"
    )
    assert from_aws_error(AwsError("ServerException", "x")).status == 500


def test_denied_is_403_with_the_engines_message():
    message = (
        "User: arn:aws:sts::1:assumed-role/r/i is not authorized to perform: ecr:BatchGetImage"
    )
    response = denied_response(message)
    assert response.status == 403
    assert json.loads(response.body) == {"errors": [{"code": "DENIED", "message": message}]}


def test_unauthorized_is_ecrs_basic_challenge():
    realm = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/"
    response = unauthorized_response(realm)
    assert response.status == 401
    assert _header(response, "www-authenticate") == (
        f'Basic realm="{realm}",service="ecr.amazonaws.com"'
    )
    # ECR's 401 body: "Not Authorized\n" (keel-hq/keel#211)
    assert response.body == b"Not Authorized\n"


def test_codes_are_declared_once_and_undeclared_codes_refused():
    assert all(kind.code == code for code, kind in REGISTRY_ERRORS.items())
    assert REGISTRY_ERRORS["RANGE_INVALID"].status == 416
    with pytest.raises(KeyError):
        RegistryError("NO_SUCH_CODE")
