"""Managed signing through real HTTP (boto3 and the aws CLI).

Pages: API Reference "PutSigningConfiguration", "GetSigningConfiguration",
"DeleteSigningConfiguration" (SigningConfigurationNotFoundException), "DescribeImageSigningStatus"
("a status is returned for each profile"), "ImageSigningStatus"; User Guide "Managed signing".
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_ops_support import aws, cli, denial, lab_fixture, user_keys
from tests.ecr_support import error_of, push_image, sha256

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

lab = lab_fixture("lab")
PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/release_signer"
OTHER = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/audit_signer"


def _not_found(lab) -> tuple[str, str]:
    return (
        "SigningConfigurationNotFoundException",
        f"Signing configuration does not exist in the registry with id '{lab.lab.config.account}'",
    )


def test_put_get_delete_signing_configuration(lab):
    ecr = aws(lab)
    with pytest.raises(ClientError) as caught:
        ecr.get_signing_configuration()
    assert error_of(caught) == _not_found(lab)
    rules = [
        {"signingProfileArn": PROFILE},
        {
            "signingProfileArn": OTHER,
            "repositoryFilters": [{"filter": "prod/*", "filterType": "WILDCARD_MATCH"}],
        },
    ]
    put = ecr.put_signing_configuration(signingConfiguration={"rules": rules})
    assert put["signingConfiguration"] == {"rules": rules}
    got = ecr.get_signing_configuration()
    assert (got["registryId"], got["signingConfiguration"]) == (
        lab.lab.config.account,
        {"rules": rules},
    )
    deleted = ecr.delete_signing_configuration()
    assert deleted["signingConfiguration"] == {"rules": rules}
    with pytest.raises(ClientError) as caught:
        ecr.delete_signing_configuration()
    assert error_of(caught) == _not_found(lab)


def test_signing_configuration_is_validated_and_a_refusal_stores_nothing(lab):
    ecr = aws(lab)
    with pytest.raises(ClientError) as caught:
        ecr.put_signing_configuration(
            signingConfiguration={"rules": [{"signingProfileArn": "arn:aws:kms:::key/nope"}]}
        )
    assert error_of(caught)[0] == "InvalidParameterException"
    assert "signingProfileArn" in error_of(caught)[1]
    too_many = {"rules": [{"signingProfileArn": PROFILE}] * 11}
    with pytest.raises(ClientError) as caught:
        ecr.put_signing_configuration(signingConfiguration=too_many)
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'signingConfiguration.rules' failed to satisfy constraint: "
        "'Member must have length less than or equal to 10'",
    )
    with pytest.raises(ClientError) as caught:
        ecr.get_signing_configuration()
    assert error_of(caught)[0] == "SigningConfigurationNotFoundException"


def test_an_image_pushed_under_matching_rules_has_a_status_per_profile(lab):
    ecr = aws(lab)
    for name in ("prod/api", "dev-api"):
        ecr.create_repository(repositoryName=name)
    before = push_image(ecr, "prod/api", "old", seed=b"before")
    rules = [
        {"signingProfileArn": PROFILE},
        {
            "signingProfileArn": OTHER,
            "repositoryFilters": [{"filter": "prod/*", "filterType": "WILDCARD_MATCH"}],
        },
    ]
    ecr.put_signing_configuration(signingConfiguration={"rules": rules})
    push_image(ecr, "prod/api", "new", seed=b"after")
    push_image(ecr, "dev-api", "new", seed=b"dev")
    prod = ecr.describe_image_signing_status(repositoryName="prod/api", imageId={"imageTag": "new"})
    assert [(s["signingProfileArn"], s["status"]) for s in prod["signingStatuses"]] == [
        (PROFILE, "FAILED"),
        (OTHER, "FAILED"),
    ]
    assert "no AWS Signer" in prod["signingStatuses"][0]["failureReason"]
    dev = ecr.describe_image_signing_status(repositoryName="dev-api", imageId={"imageTag": "new"})
    assert [s["signingProfileArn"] for s in dev["signingStatuses"]] == [PROFILE]
    old = ecr.describe_image_signing_status(
        repositoryName="prod/api", imageId={"imageDigest": sha256(before.encode())}
    )
    assert old["signingStatuses"] == []
    with pytest.raises(ClientError) as caught:
        ecr.describe_image_signing_status(repositoryName="prod/api", imageId={"imageTag": "gone"})
    assert error_of(caught)[0] == "ImageNotFoundException"
    ecr.delete_signing_configuration()


def test_signing_is_authorized_as_its_own_actions(lab):
    aws(lab).create_repository(repositoryName="signed-guarded")
    push_image(aws(lab), "signed-guarded", "v1")
    keys = user_keys(lab, "signer-reader", ["ecr:DescribeImageSigningStatus"])
    reader = aws(lab, **keys)
    reader.describe_image_signing_status(
        repositoryName="signed-guarded", imageId={"imageTag": "v1"}
    )
    with pytest.raises(ClientError) as caught:
        reader.put_signing_configuration(signingConfiguration={"rules": []})
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "signer-reader", "ecr:PutSigningConfiguration"),
    )
    with pytest.raises(ClientError) as caught:
        reader.get_signing_configuration()
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "signer-reader", "ecr:GetSigningConfiguration"),
    )
    with pytest.raises(ClientError) as caught:
        reader.delete_signing_configuration()
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "signer-reader", "ecr:DeleteSigningConfiguration"),
    )


def test_cli_put_and_get_signing_configuration(lab):
    configuration = json.dumps({"rules": [{"signingProfileArn": PROFILE}]})
    put = cli(lab, "put-signing-configuration", "--signing-configuration", configuration)
    assert put.returncode == 0, put.stderr
    got = cli(lab, "get-signing-configuration")
    assert json.loads(got.stdout)["signingConfiguration"] == json.loads(configuration)
    cli(lab, "delete-signing-configuration")
    missing = cli(lab, "get-signing-configuration")
    assert "(SigningConfigurationNotFoundException)" in missing.stderr


def test_signing_configuration_survives_a_restart(tmp_path):
    state = tmp_path / "state"
    rules = [{"signingProfileArn": PROFILE}]
    with RunningLab(LabConfig(state_dir=state)) as first:
        aws(first).put_signing_configuration(signingConfiguration={"rules": rules})
    with RunningLab(LabConfig(state_dir=state)) as second:
        assert aws(second).get_signing_configuration()["signingConfiguration"] == {"rules": rules}
