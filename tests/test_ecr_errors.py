"""lab.ecr.errors: every ECR error declared once as a code and a message template."""

from __future__ import annotations

from functools import partial

import pytest

import lab.ecr.errors as ecr_errors
from lab.ecr.errors import (
    IMAGE_NOT_FOUND,
    INVALID_ARN,
    LAYERS_NOT_FOUND_FOR_IMAGE,
    REPOSITORY_NOT_FOUND,
    EcrError,
)
from lab.errors import ERROR_KINDS

DECLARED = [value for value in vars(ecr_errors).values() if isinstance(value, EcrError | partial)]


@pytest.mark.parametrize("error", DECLARED, ids=repr)
def test_every_declared_error_has_a_known_code(error):
    template = error.func if isinstance(error, partial) else error
    assert template.code in ERROR_KINDS


def test_fields_fill_the_template_by_name():
    error = REPOSITORY_NOT_FOUND(name="fa-085", registry_id="123456789012")
    assert (error.code, error.message) == (
        "RepositoryNotFoundException",
        "The repository with name 'fa-085' does not exist in the registry with id '123456789012'",
    )


def test_an_absent_field_reads_null_as_ecrs_java_prints_it():
    # terraform-provider-aws#35268 quotes DescribeImages' imageTag:'null'.
    error = IMAGE_NOT_FOUND(name="r", registry_id="1", digest="sha256:ab", tag=None)
    assert "{imageDigest:'sha256:ab', imageTag:'null'}" in error.message


def test_a_list_field_reads_as_javas_list():
    # oras-project/oras-py#54 quotes "Layers with digests '[sha256:...]'".
    error = LAYERS_NOT_FOUND_FOR_IMAGE(name="r", registry_id="1", digests=["sha256:a", "sha256:b"])
    assert error.message.startswith("Layers with digests '[sha256:a, sha256:b]' required")


def test_a_preset_invalid_parameter_needs_no_fields():
    assert INVALID_ARN().message == (
        "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'"
    )


@pytest.mark.parametrize("fields", [{"name": "r"}, {"name": "r", "registry_id": "1", "x": "y"}])
def test_missing_or_extra_fields_are_a_programming_error(fields):
    with pytest.raises(TypeError, match="RepositoryNotFoundException takes"):
        REPOSITORY_NOT_FOUND(**fields)
