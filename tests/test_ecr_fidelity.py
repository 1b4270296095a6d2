"""ECR's answers where the lab once answered otherwise, through real HTTP with boto3 and the CLI.

Pages: API Reference "LayerFailure" (failure codes), "ImageFailure", "EncryptionConfiguration";
botocore's ECR model for the operations the lab does not emulate.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from lab.ecr.service import OPERATIONS
from lab.ecr.validation import service_model
from tests.ecr_ops_support import aws, cli, lab_fixture
from tests.ecr_support import error_of, push_image, sha256
from tests.server_support import ecr_call
from tests.tutorial import EC2_TRUST

lab = lab_fixture("lab")

BAD_DIGEST = "sha256:not-hex!"
DIGEST_REASON = (
    "Invalid request parameters: image digest should satisfy the regex "
    "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
)


def _repository(lab, name: str) -> object:
    ecr = aws(lab)
    ecr.create_repository(repositoryName=name)
    return ecr


def test_layer_check_of_a_malformed_digest_is_invalid_layer_digest_per_layer_failure_page(lab):
    ecr = _repository(lab, "layers-check")
    well_formed = sha256(b"never uploaded")
    got = ecr.batch_check_layer_availability(
        repositoryName="layers-check", layerDigests=[BAD_DIGEST, well_formed]
    )["failures"]
    assert [(f["layerDigest"], f["failureCode"]) for f in got] == [
        (BAD_DIGEST, "InvalidLayerDigest"),
        (well_formed, "MissingLayerDigest"),
    ]


@pytest.mark.parametrize("operation", ["batch_get_image", "batch_delete_image"])
def test_malformed_image_digest_is_invalid_image_digest_per_image_failure_page(lab, operation):
    name = f"digests-{operation.replace('_', '-')}"
    ecr = _repository(lab, name)
    manifest = push_image(ecr, name, "v1")
    got = getattr(ecr, operation)(repositoryName=name, imageIds=[{"imageDigest": BAD_DIGEST}])
    assert got["failures"] == [
        {
            "imageId": {"imageDigest": BAD_DIGEST},
            "failureCode": "InvalidImageDigest",
            "failureReason": DIGEST_REASON,
        }
    ]
    # nothing else was touched: the image is still there
    listed = ecr.list_images(repositoryName=name)["imageIds"]
    assert listed == [{"imageDigest": sha256(manifest.encode()), "imageTag": "v1"}]


def test_kms_without_a_key_names_the_aws_managed_key_per_encryption_configuration_page(lab):
    # "If no key is specified, the default AWS managed KMS key for Amazon ECR will be used."
    ecr = aws(lab)
    made = ecr.create_repository(
        repositoryName="sealed", encryptionConfiguration={"encryptionType": "KMS"}
    )["repository"]["encryptionConfiguration"]
    account, region = lab.lab.config.account, lab.lab.config.region
    prefix = f"arn:aws:kms:{region}:{account}:key/"
    assert made["encryptionType"] == "KMS" and made["kmsKey"].startswith(prefix)
    uuid.UUID(made["kmsKey"].removeprefix(prefix))  # a key id, as KMS writes one
    # the same key for every repository of the registry, and kept as stored
    other = ecr.create_repository(
        repositoryName="sealed-too", encryptionConfiguration={"encryptionType": "KMS"}
    )["repository"]["encryptionConfiguration"]
    described = ecr.describe_repositories(repositoryNames=["sealed"])["repositories"][0]
    assert other["kmsKey"] == made["kmsKey"] == described["encryptionConfiguration"]["kmsKey"]
    own = "arn:aws:kms:us-east-1:000000000000:key/mine"
    given = ecr.create_repository(
        repositoryName="own-key",
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": own},
    )["repository"]["encryptionConfiguration"]
    assert given == {"encryptionType": "KMS", "kmsKey": own}


def _not_emulated() -> list[str]:
    names = service_model().operation_names
    return [n for n in names if n not in OPERATIONS and n != "GetAuthorizationToken"]


def test_every_operation_of_the_model_answers_never_a_server_error(lab):
    for operation in _not_emulated():
        answer = ecr_call(lab, operation, b"{}")
        assert answer.status == 400, (operation, answer.status, answer.body)
        error = answer.json()
        if error["__type"] == "UnknownOperationException":
            assert operation in error["message"], operation


def test_an_operation_the_lab_does_not_emulate_is_named_in_its_error(lab):
    model = service_model()
    bare = [
        name
        for name in _not_emulated()
        if not model.operation_model(name).input_shape.required_members
    ]
    if not bare:
        pytest.skip("the lab emulates every operation that needs no parameters")
    answer = ecr_call(lab, bare[0], b"{}")
    assert (answer.status, answer.json()) == (
        400,
        {
            "__type": "UnknownOperationException",
            "message": f"The lab does not emulate the ECR operation {bare[0]}",
        },
    )
    # The aws CLI may predate the newest operations of botocore's model: the first it knows.
    known = (
        (operation, result)
        for operation in bare
        if "usage:" not in (result := cli(lab, _cli_name(operation))).stderr
    )
    operation, result = next(known, (None, None))
    if result is None:
        return  # the CLI knows none of them; the API's answer is checked above
    assert result.returncode != 0
    assert f"(UnknownOperationException) when calling the {operation} operation" in result.stderr
    assert f"does not emulate the ECR operation {operation}" in result.stderr


def _cli_name(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation, "-")


def _policy(*principals: object) -> str:
    statements = [
        {"Sid": f"S{i}", "Effect": "Allow", "Principal": p, "Action": "ecr:BatchGetImage"}
        for i, p in enumerate(principals)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


PRINCIPAL_NOT_FOUND = (
    "InvalidParameterException",
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'",
)


def test_policy_naming_a_role_or_user_that_does_not_exist_is_principal_not_found(lab):
    # AWS's answer: hashicorp/terraform-provider-aws#39064 (a role not yet created).
    ecr, iam = _repository(lab, "guarded"), aws(lab, "iam")
    account = lab.lab.config.account
    iam.create_role(RoleName="puller", Path="/ci/", AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_user(UserName="reader")
    missing = [
        {"AWS": f"arn:aws:iam::{account}:role/ghost"},
        {"AWS": f"arn:aws:iam::{account}:user/nobody"},
        {"AWS": f"arn:aws:iam::{account}:role/puller"},  # its path is /ci/: not this ARN
        {"AWS": [f"arn:aws:iam::{account}:user/reader", f"arn:aws:iam::{account}:role/ghost"]},
    ]
    for principal in missing:
        with pytest.raises(ClientError) as caught:
            ecr.set_repository_policy(repositoryName="guarded", policyText=_policy(principal))
        assert error_of(caught) == PRINCIPAL_NOT_FOUND, principal
    not_principal = json.loads(_policy("*"))
    not_principal["Statement"][0] = {
        "Effect": "Deny",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{account}:role/ghost"},
        "Action": "ecr:*",
    }
    with pytest.raises(ClientError) as caught:
        ecr.set_repository_policy(repositoryName="guarded", policyText=json.dumps(not_principal))
    assert error_of(caught) == PRINCIPAL_NOT_FOUND
    with pytest.raises(ClientError) as caught:  # nothing was stored
        ecr.get_repository_policy(repositoryName="guarded")
    assert caught.value.response["Error"]["Code"] == "RepositoryPolicyNotFoundException"


def test_policy_naming_principals_the_lab_cannot_know_or_that_exist_is_stored(lab):
    ecr, iam = _repository(lab, "open-door"), aws(lab, "iam")
    account = lab.lab.config.account
    iam.create_role(RoleName="pusher", Path="/ci/", AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_user(UserName="writer")
    text = _policy(
        "*",
        {"AWS": "*"},
        {"AWS": account},
        {"AWS": f"arn:aws:iam::{account}:root"},
        {"AWS": "arn:aws:iam::999999999999:role/elsewhere"},  # an account the lab lacks
        {"AWS": f"arn:aws:sts::{account}:assumed-role/pusher/session"},
        {"Service": "codebuild.amazonaws.com"},
        {"AWS": [f"arn:aws:iam::{account}:role/ci/pusher", f"arn:aws:iam::{account}:user/writer"]},
    )
    ecr.set_repository_policy(repositoryName="open-door", policyText=text)
    assert ecr.get_repository_policy(repositoryName="open-door")["policyText"] == text


def test_cli_set_repository_policy_with_a_missing_role_is_refused(lab):
    _repository(lab, "cli-guarded")
    ghost = f"arn:aws:iam::{lab.lab.config.account}:role/ghost-cli"
    result = cli(
        lab,
        "set-repository-policy",
        "--repository-name",
        "cli-guarded",
        "--policy-text",
        _policy({"AWS": ghost}),
    )
    assert result.returncode != 0
    assert "(InvalidParameterException) when calling the SetRepositoryPolicy operation" in (
        result.stderr
    )
    assert "'Principal not found'" in result.stderr
