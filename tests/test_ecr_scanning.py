"""Image scanning through real HTTP (boto3 and the aws CLI).

Pages: API Reference "StartImageScan" (once per image per 24 hours, a scan on push included),
"DescribeImageScanFindings" (ScanNotFoundException), "PutRegistryScanningConfiguration",
"RegistryScanningRule" (BASIC: SCAN_ON_PUSH), "BatchGetRepositoryScanningConfiguration";
User Guide "Scan images for OS vulnerabilities in Amazon ECR"; Service Authorization Reference
for ECR (registry-wide scanning configuration on "*", the rest on the repository).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from lab.ecr.scans import COMPLETE_DESCRIPTION
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_ops_support import aws, cli, denial, lab_fixture, user_keys
from tests.ecr_support import error_of, push_image, push_layer, sha256
from tests.server_support import ecr_call

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

lab = lab_fixture("lab")


def _repository(lab, name: str, **extra) -> object:
    ecr = aws(lab)
    ecr.create_repository(repositoryName=name, **extra)
    return ecr


def test_scan_on_push_shows_a_complete_clean_scan_in_describe_images(lab):
    ecr = _repository(lab, "scanned", imageScanningConfiguration={"scanOnPush": True})
    push_image(ecr, "scanned", "v1")
    detail = ecr.describe_images(repositoryName="scanned")["imageDetails"][0]
    assert detail["imageScanStatus"] == {"status": "COMPLETE", "description": COMPLETE_DESCRIPTION}
    summary = detail["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == {} and "imageScanCompletedAt" in summary
    assert "no findings" in COMPLETE_DESCRIPTION and "no vulnerability database" in (
        COMPLETE_DESCRIPTION
    )


def test_an_image_never_scanned_has_no_scan_status_and_its_findings_are_scan_not_found(lab):
    ecr = _repository(lab, "unscanned")
    manifest = push_image(ecr, "unscanned", "v1")
    detail = ecr.describe_images(repositoryName="unscanned")["imageDetails"][0]
    assert "imageScanStatus" not in detail and "imageScanFindingsSummary" not in detail
    with pytest.raises(ClientError) as caught:
        ecr.describe_image_scan_findings(repositoryName="unscanned", imageId={"imageTag": "v1"})
    assert error_of(caught) == (
        "ScanNotFoundException",
        "Image scan does not exist for the image with imageId {imageDigest:'null', "
        "imageTag:'v1'} in the repository with name 'unscanned' in the registry with id "
        f"'{lab.lab.config.account}'",
    )
    assert sha256(manifest.encode())  # the image is there; only its scan is not


def test_start_image_scan_answers_in_progress_then_findings_are_complete_and_empty(lab):
    ecr = _repository(lab, "manual-scan")
    manifest = push_image(ecr, "manual-scan", "v1")
    digest = sha256(manifest.encode())
    started = ecr.start_image_scan(repositoryName="manual-scan", imageId={"imageTag": "v1"})
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert started["imageScanStatus"] == {"status": "IN_PROGRESS"}
    found = ecr.describe_image_scan_findings(
        repositoryName="manual-scan", imageId={"imageDigest": digest}
    )
    assert found["imageScanStatus"]["status"] == "COMPLETE"
    assert found["imageScanFindings"]["findings"] == []
    assert found["imageScanFindings"]["findingSeverityCounts"] == {}
    # once per image per 24 hours
    with pytest.raises(ClientError) as caught:
        ecr.start_image_scan(repositoryName="manual-scan", imageId={"imageDigest": digest})
    assert error_of(caught)[0] == "LimitExceededException"


def test_a_scan_on_push_counts_against_the_daily_scan(lab):
    ecr = _repository(lab, "pushed-scan", imageScanningConfiguration={"scanOnPush": True})
    push_image(ecr, "pushed-scan", "v1")
    with pytest.raises(ClientError) as caught:
        ecr.start_image_scan(repositoryName="pushed-scan", imageId={"imageTag": "v1"})
    assert error_of(caught) == (
        "LimitExceededException",
        "The scan quota per image has been exceeded. Wait and try again.",
    )


def test_start_image_scan_of_an_artifact_or_missing_image(lab):
    ecr = _repository(lab, "charts", imageScanningConfiguration={"scanOnPush": True})
    config = push_layer(ecr, "charts", b'{"name": "chart"}')
    artifact = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": config,
            "size": 17,
        },
        "layers": [],
    }
    ecr.put_image(repositoryName="charts", imageManifest=json.dumps(artifact), imageTag="1.0")
    # on push, the scan fails as AWS's does for what it cannot read (aws-otel-collector#2193)
    detail = ecr.describe_images(repositoryName="charts")["imageDetails"][0]
    assert detail["imageScanStatus"] == {
        "status": "FAILED",
        "description": "UnsupportedImageError: The operating system and/or package manager "
        "are not supported.",
    }
    assert "imageScanFindingsSummary" not in detail
    with pytest.raises(ClientError) as caught:
        ecr.start_image_scan(repositoryName="charts", imageId={"imageTag": "1.0"})
    assert error_of(caught) == (
        "UnsupportedImageTypeException",
        "The image is of a type that cannot be scanned.",
    )
    with pytest.raises(ClientError) as caught:
        ecr.start_image_scan(repositoryName="charts", imageId={"imageTag": "nope"})
    assert error_of(caught)[0] == "ImageNotFoundException"
    with pytest.raises(ClientError) as caught:
        ecr.start_image_scan(repositoryName="no-such-repo", imageId={"imageTag": "1.0"})
    assert error_of(caught)[0] == "RepositoryNotFoundException"


def test_put_image_scanning_configuration_sets_the_repository_flag(lab):
    ecr = _repository(lab, "flagged")
    answer = ecr.put_image_scanning_configuration(
        repositoryName="flagged", imageScanningConfiguration={"scanOnPush": True}
    )
    assert answer["imageScanningConfiguration"] == {"scanOnPush": True}
    assert answer["registryId"] == lab.lab.config.account
    repository = ecr.describe_repositories(repositoryNames=["flagged"])["repositories"][0]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    push_image(ecr, "flagged", "v1")
    detail = ecr.describe_images(repositoryName="flagged")["imageDetails"][0]
    assert detail["imageScanStatus"]["status"] == "COMPLETE"


def test_registry_rules_scan_matching_repositories_on_push(lab):
    ecr = aws(lab)
    for name in ("prod-api", "dev-api"):
        ecr.create_repository(repositoryName=name)
    rule = {
        "scanFrequency": "SCAN_ON_PUSH",
        "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
    }
    put = ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[rule])
    assert put["registryScanningConfiguration"] == {"scanType": "BASIC", "rules": [rule]}
    got = ecr.get_registry_scanning_configuration()
    assert got["registryId"] == lab.lab.config.account
    assert got["scanningConfiguration"] == {"scanType": "BASIC", "rules": [rule]}
    batch = ecr.batch_get_repository_scanning_configuration(
        repositoryNames=["prod-api", "dev-api", "absent-repo"]
    )
    by_name = {c["repositoryName"]: c for c in batch["scanningConfigurations"]}
    assert by_name["prod-api"]["scanFrequency"] == "SCAN_ON_PUSH"
    assert by_name["prod-api"]["scanOnPush"] is True
    assert by_name["prod-api"]["appliedScanFilters"] == rule["repositoryFilters"]
    assert (by_name["dev-api"]["scanFrequency"], by_name["dev-api"]["scanOnPush"]) == (
        "MANUAL",
        False,
    )
    assert batch["failures"] == [
        {
            "repositoryName": "absent-repo",
            "failureCode": "REPOSITORY_NOT_FOUND",
            "failureReason": "REPOSITORY_NOT_FOUND",
        }
    ]
    push_image(ecr, "prod-api", "v1")
    push_image(ecr, "dev-api", "v1")
    prod = ecr.describe_images(repositoryName="prod-api")["imageDetails"][0]
    dev = ecr.describe_images(repositoryName="dev-api")["imageDetails"][0]
    assert prod["imageScanStatus"]["status"] == "COMPLETE" and "imageScanStatus" not in dev
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def test_registry_scanning_configuration_is_validated_and_a_refusal_changes_nothing(lab):
    ecr = aws(lab)
    before = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    continuous = {
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
    }
    with pytest.raises(ClientError) as caught:
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[continuous])
    assert error_of(caught)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[continuous] * 3)
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'rules' failed to satisfy constraint: "
        "'Member must have length less than or equal to 2'",
    )
    answer = ecr_call(lab, "BatchGetRepositoryScanningConfiguration", b'{"repositoryNames": []}')
    assert (answer.status, answer.json()["__type"]) == (400, "InvalidParameterException")
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == before


def test_scanning_is_authorized_as_its_own_actions(lab):
    _repository(lab, "guarded-scan")
    push_image(aws(lab), "guarded-scan", "v1")
    keys = user_keys(lab, "scanner", ["ecr:StartImageScan", "ecr:GetRegistryScanningConfiguration"])
    scanner = aws(lab, **keys)
    scanner.start_image_scan(repositoryName="guarded-scan", imageId={"imageTag": "v1"})
    scanner.get_registry_scanning_configuration()
    arn = f"arn:aws:ecr:{lab.lab.config.region}:{lab.lab.config.account}:repository/guarded-scan"
    with pytest.raises(ClientError) as caught:
        scanner.describe_image_scan_findings(
            repositoryName="guarded-scan", imageId={"imageTag": "v1"}
        )
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "scanner", "ecr:DescribeImageScanFindings", arn),
    )
    with pytest.raises(ClientError) as caught:
        scanner.put_registry_scanning_configuration(scanType="BASIC", rules=[])
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "scanner", "ecr:PutRegistryScanningConfiguration"),
    )
    with pytest.raises(ClientError) as caught:
        scanner.batch_get_repository_scanning_configuration(repositoryNames=["guarded-scan"])
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "scanner", "ecr:BatchGetRepositoryScanningConfiguration", arn),
    )
    with pytest.raises(ClientError) as caught:
        scanner.put_image_scanning_configuration(
            repositoryName="guarded-scan", imageScanningConfiguration={"scanOnPush": True}
        )
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "scanner", "ecr:PutImageScanningConfiguration", arn),
    )


def test_cli_start_image_scan_and_describe_findings(lab):
    push_image(_repository(lab, "cli-scan"), "cli-scan", "v1")
    started = cli(lab, "start-image-scan", "--repository-name", "cli-scan", "--image-id",
                  "imageTag=v1")  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["imageScanStatus"]["status"] == "IN_PROGRESS"
    found = cli(lab, "describe-image-scan-findings", "--repository-name", "cli-scan",
                "--image-id", "imageTag=v1")  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["imageScanFindings"]["findings"] == []
    again = cli(lab, "start-image-scan", "--repository-name", "cli-scan", "--image-id",
                "imageTag=v1")  # fmt: skip
    assert "(LimitExceededException) when calling the StartImageScan operation" in again.stderr


def test_scan_state_and_configurations_survive_a_restart(tmp_path):
    state = tmp_path / "state"
    rule = {
        "scanFrequency": "SCAN_ON_PUSH",
        "repositoryFilters": [{"filter": "kept", "filterType": "WILDCARD"}],
    }
    with RunningLab(LabConfig(state_dir=state)) as first:
        ecr = aws(first)
        ecr.create_repository(repositoryName="kept")
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[rule])
        push_image(ecr, "kept", "v1")
        before = ecr.describe_images(repositoryName="kept")["imageDetails"][0]
    with RunningLab(LabConfig(state_dir=state)) as second:
        ecr = aws(second)
        after = ecr.describe_images(repositoryName="kept")["imageDetails"][0]
        assert after["imageScanStatus"] == before["imageScanStatus"]
        assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == [rule]
        with pytest.raises(ClientError) as caught:  # the day's scan is remembered too
            ecr.start_image_scan(repositoryName="kept", imageId={"imageTag": "v1"})
        assert error_of(caught)[0] == "LimitExceededException"
