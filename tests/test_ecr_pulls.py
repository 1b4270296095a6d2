"""Pull times and pull-time update exclusions through real HTTP (boto3, CLI, registry API).

Pages: User Guide "Pull-time update exclusions" (ECR records every pull except by the excluded
roles and users; up to 100 per account); API Reference "RegisterPullTimeUpdateExclusion",
"DeregisterPullTimeUpdateExclusion", "ListPullTimeUpdateExclusions", "ImageDetail"
(lastRecordedPullTime); Service Authorization Reference for ECR (registry-wide: "*").
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_ops_support import aws, cli, denial, lab_fixture, registry, role_keys, user_keys
from tests.ecr_support import error_of, push_image

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

lab = lab_fixture("lab")
PULL = ["ecr:BatchGetImage", "ecr:GetAuthorizationToken"]


def _pulled_at(ecr, name: str) -> object:
    return ecr.describe_images(repositoryName=name)["imageDetails"][0].get("lastRecordedPullTime")


def test_pulls_through_the_api_and_the_registry_record_the_pull_time(lab):
    ecr = aws(lab)
    ecr.create_repository(repositoryName="pulled")
    push_image(ecr, "pulled", "v1")
    assert _pulled_at(ecr, "pulled") is None
    assert registry(lab, "HEAD", "/v2/pulled/manifests/v1").status == 200
    assert _pulled_at(ecr, "pulled") is None  # a HEAD is no pull
    assert registry(lab, "GET", "/v2/pulled/manifests/v1").status == 200
    by_registry = _pulled_at(ecr, "pulled")
    assert by_registry is not None
    ecr.batch_get_image(repositoryName="pulled", imageIds=[{"imageTag": "v1"}])
    assert _pulled_at(ecr, "pulled") >= by_registry


def test_an_excluded_role_pulls_without_updating_the_pull_time(lab):
    ecr = aws(lab)
    ecr.create_repository(repositoryName="scanned-by-a-tool")
    push_image(ecr, "scanned-by-a-tool", "v1")
    scanner = role_keys(lab, "third-party-scanner", PULL)
    deployer = role_keys(lab, "deployer", PULL)
    arn = f"arn:aws:iam::{lab.lab.config.account}:role/third-party-scanner"
    registered = ecr.register_pull_time_update_exclusion(principalArn=arn)
    assert registered["principalArn"] == arn and "createdAt" in registered
    aws(lab, **scanner).batch_get_image(
        repositoryName="scanned-by-a-tool", imageIds=[{"imageTag": "v1"}]
    )
    got = registry(lab, "GET", "/v2/scanned-by-a-tool/manifests/v1", **scanner)
    assert got.status == 200
    assert _pulled_at(ecr, "scanned-by-a-tool") is None
    assert registry(lab, "GET", "/v2/scanned-by-a-tool/manifests/v1", **deployer).status == 200
    assert _pulled_at(ecr, "scanned-by-a-tool") is not None
    ecr.deregister_pull_time_update_exclusion(principalArn=arn)


def test_register_list_deregister_and_their_errors(lab):
    ecr = aws(lab)
    account = lab.lab.config.account
    arns = [f"arn:aws:iam::{account}:role/ci/builder", f"arn:aws:iam::{account}:user/auditor"]
    for arn in arns:
        ecr.register_pull_time_update_exclusion(principalArn=arn)
    with pytest.raises(ClientError) as caught:
        ecr.register_pull_time_update_exclusion(principalArn=arns[0])
    assert error_of(caught)[0] == "ExclusionAlreadyExistsException"
    first = ecr.list_pull_time_update_exclusions(maxResults=1)
    rest = ecr.list_pull_time_update_exclusions(maxResults=1, nextToken=first["nextToken"])
    assert first["pullTimeUpdateExclusions"] + rest["pullTimeUpdateExclusions"] == arns
    assert "nextToken" not in rest
    removed = ecr.deregister_pull_time_update_exclusion(principalArn=arns[0])
    assert removed["principalArn"] == arns[0]
    with pytest.raises(ClientError) as caught:
        ecr.deregister_pull_time_update_exclusion(principalArn=arns[0])
    assert error_of(caught)[0] == "ExclusionNotFoundException"
    assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == arns[1:]
    with pytest.raises(ClientError) as caught:  # a service is no role or user
        ecr.register_pull_time_update_exclusion(principalArn="arn:aws:iam::123456789012:root")
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'principalArn' failed to satisfy constraint: 'Member must satisfy "
        "regular expression pattern: ^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/"
        "[\\w+=,.@-]+(/[\\w+=,.@-]+)*$'",
    )
    ecr.deregister_pull_time_update_exclusion(principalArn=arns[1])


def test_at_most_100_exclusions(lab):
    ecr = aws(lab)
    arns = [f"arn:aws:iam::{lab.lab.config.account}:role/r{i}" for i in range(101)]
    for arn in arns[:100]:
        ecr.register_pull_time_update_exclusion(principalArn=arn)
    with pytest.raises(ClientError) as caught:
        ecr.register_pull_time_update_exclusion(principalArn=arns[100])
    assert error_of(caught)[0] == "LimitExceededException"
    listed = ecr.list_pull_time_update_exclusions(maxResults=1000)["pullTimeUpdateExclusions"]
    assert sorted(listed) == sorted(arns[:100])
    for arn in arns[:100]:
        ecr.deregister_pull_time_update_exclusion(principalArn=arn)


def test_exclusions_are_authorized_as_their_actions_on_every_resource(lab):
    keys = user_keys(lab, "exclusion-reader", ["ecr:ListPullTimeUpdateExclusions"])
    reader = aws(lab, **keys)
    assert reader.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == []
    arn = f"arn:aws:iam::{lab.lab.config.account}:role/sneaky"
    with pytest.raises(ClientError) as caught:
        reader.register_pull_time_update_exclusion(principalArn=arn)
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "exclusion-reader", "ecr:RegisterPullTimeUpdateExclusion"),
    )
    with pytest.raises(ClientError) as caught:
        reader.deregister_pull_time_update_exclusion(principalArn=arn)
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "exclusion-reader", "ecr:DeregisterPullTimeUpdateExclusion"),
    )
    assert aws(lab).list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == []


def test_cli_register_and_list_exclusions(lab):
    arn = f"arn:aws:iam::{lab.lab.config.account}:user/cli-scanner"
    added = cli(lab, "register-pull-time-update-exclusion", "--principal-arn", arn)
    assert added.returncode == 0, added.stderr
    listed = cli(lab, "list-pull-time-update-exclusions")
    assert json.loads(listed.stdout)["pullTimeUpdateExclusions"] == [arn]
    again = cli(lab, "register-pull-time-update-exclusion", "--principal-arn", arn)
    assert "(ExclusionAlreadyExistsException)" in again.stderr
    cli(lab, "deregister-pull-time-update-exclusion", "--principal-arn", arn)


def test_exclusions_pull_times_and_archives_survive_a_restart(tmp_path):
    state = tmp_path / "state"
    with RunningLab(LabConfig(state_dir=state)) as first:
        ecr = aws(first)
        arn = f"arn:aws:iam::{first.lab.config.account}:role/kept"
        ecr.register_pull_time_update_exclusion(principalArn=arn)
        ecr.create_repository(repositoryName="kept")
        push_image(ecr, "kept", "v1", seed=b"one")
        push_image(ecr, "kept", "v2", seed=b"two")
        ecr.batch_get_image(repositoryName="kept", imageIds=[{"imageTag": "v1"}])
        ecr.update_image_storage_class(
            repositoryName="kept", imageId={"imageTag": "v2"}, targetStorageClass="ARCHIVE"
        )
        before = ecr.describe_images(repositoryName="kept", filter={"imageStatus": "ANY"})
    with RunningLab(LabConfig(state_dir=state)) as second:
        ecr = aws(second)
        assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == [arn]
        after = ecr.describe_images(repositoryName="kept", filter={"imageStatus": "ANY"})
        assert after["imageDetails"] == before["imageDetails"]
        statuses = {d["imageTags"][0]: d["imageStatus"] for d in after["imageDetails"]}
        assert statuses == {"v1": "ACTIVE", "v2": "ARCHIVED"}
