"""Every scanning, signing, storage-class and pull-time operation, through real HTTP: allowed
when an identity policy grants its action, denied with AWS's message when none does, and
answered through the aws CLI.

Service Authorization Reference, "Actions, resources, and condition keys for Amazon Elastic
Container Registry": the operations that name a repository act on its ARN; the registry-wide
settings (scanning configuration, signing configuration, pull-time update exclusions) on "*".
"""

from __future__ import annotations

import json

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from tests.ecr_ops_support import aws, cli, denial, lab_fixture, user_keys
from tests.ecr_support import error_of, push_image

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

lab = lab_fixture("lab")
REPO = "authz-ops"
PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/ops_signer"
IMAGE = {"imageTag": "v1"}

# operation -> (parameters, whether it acts on REPO rather than "*")
CALLS: dict[str, tuple[dict, bool]] = {
    "PutImageScanningConfiguration": (
        {"repositoryName": REPO, "imageScanningConfiguration": {"scanOnPush": False}},
        True,
    ),
    "GetRegistryScanningConfiguration": ({}, False),
    "PutRegistryScanningConfiguration": ({"scanType": "BASIC", "rules": []}, False),
    "BatchGetRepositoryScanningConfiguration": ({"repositoryNames": [REPO]}, True),
    "StartImageScan": ({"repositoryName": REPO, "imageId": IMAGE}, True),
    "DescribeImageScanFindings": ({"repositoryName": REPO, "imageId": IMAGE}, True),
    "PutSigningConfiguration": (
        {"signingConfiguration": {"rules": [{"signingProfileArn": PROFILE}]}},
        False,
    ),
    "GetSigningConfiguration": ({}, False),
    "DeleteSigningConfiguration": ({}, False),
    "DescribeImageSigningStatus": ({"repositoryName": REPO, "imageId": IMAGE}, True),
    "UpdateImageStorageClass": (
        {"repositoryName": REPO, "imageId": IMAGE, "targetStorageClass": "STANDARD"},
        True,
    ),
    "RegisterPullTimeUpdateExclusion": (
        {"principalArn": "arn:aws:iam::000000000000:role/authz-excluded"},
        False,
    ),
    "ListPullTimeUpdateExclusions": ({}, False),
    "DeregisterPullTimeUpdateExclusion": (
        {"principalArn": "arn:aws:iam::000000000000:role/authz-excluded"},
        False,
    ),
}


@pytest.fixture(scope="module")
def users(lab) -> tuple[object, object]:
    """(allowed every action of CALLS, allowed none of them), with REPO holding image v1."""
    ecr = aws(lab)
    ecr.create_repository(repositoryName=REPO)
    push_image(ecr, REPO, "v1")
    allowed = user_keys(lab, "ops-allowed", [f"ecr:{name}" for name in CALLS])
    denied = user_keys(lab, "ops-denied", ["ecr:DescribeRegistry"])
    return aws(lab, **allowed), aws(lab, **denied)


@pytest.mark.parametrize("operation", list(CALLS))
def test_allowed_by_its_action_denied_without_it(lab, users, operation):
    allowed, denied = users
    params, on_repository = CALLS[operation]
    call = xform_name(operation)
    _prepare(lab, operation)
    try:
        getattr(allowed, call)(**params)
    except ClientError as error:  # a domain refusal is fine; a denial is not
        assert error.response["Error"]["Code"] != "AccessDeniedException", operation
    config = lab.lab.config
    resource = f"arn:aws:ecr:{config.region}:{config.account}:repository/{REPO}"
    with pytest.raises(ClientError) as caught:
        getattr(denied, call)(**params)
    expected = denial(lab, "ops-denied", f"ecr:{operation}", resource if on_repository else "*")
    assert error_of(caught) == ("AccessDeniedException", expected)


@pytest.mark.parametrize("operation", list(CALLS))
def test_the_aws_cli_reaches_every_operation(lab, users, operation):
    params, _ = CALLS[operation]
    _prepare(lab, operation)
    arguments = ["--cli-input-json", json.dumps(params)] if params else []
    result = cli(lab, xform_name(operation, "-"), *arguments)
    refused = "(LimitExceededException)" in result.stderr  # StartImageScan: once a day
    assert result.returncode == 0 or refused, (operation, result.stderr)
    if result.returncode == 0:
        assert isinstance(json.loads(result.stdout or "{}"), dict)


def _prepare(lab, operation: str) -> None:
    """The state the operation needs to succeed for an allowed caller (tests share one lab)."""
    admin, exclusion = aws(lab), CALLS["RegisterPullTimeUpdateExclusion"][0]
    registered = admin.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"]
    if operation in ("GetSigningConfiguration", "DeleteSigningConfiguration"):
        admin.put_signing_configuration(**CALLS["PutSigningConfiguration"][0])
    if operation == "DeregisterPullTimeUpdateExclusion" and not registered:
        admin.register_pull_time_update_exclusion(**exclusion)
    if operation == "RegisterPullTimeUpdateExclusion" and registered:
        admin.deregister_pull_time_update_exclusion(**exclusion)
