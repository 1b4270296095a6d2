"""Lifecycle previews, the lifecycle job and ListImageReferrers through real HTTP: boto3, the
aws CLI and `ecr-lab lifecycle run` against a running lab, with AWS's authorization.

Pages: ECR API reference StartLifecyclePolicyPreview, GetLifecyclePolicyPreview,
GetLifecyclePolicy (lastEvaluatedAt), ListImageReferrers ("must have the ecr:BatchGetImage
permission"); ECR User Guide "Creating a lifecycle policy" (expired within 24 hours).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lab.ecr.blobs import digest_of
from lab.ecr.push import push_layer
from lab.errors import CommandError
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.conftest import client
from tests.ecr_support import push_image
from tests.server_support import AWS_CLI

REPO = "app"
ARN = f"arn:aws:ecr:us-east-1:000000000000:repository/{REPO}"
KEEP_ONE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the newest v* image",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["v"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"


def user(running: RunningLab, name: str, *actions: str) -> dict[str, str]:
    """An IAM user allowed `actions` on every resource; its boto3 keys."""
    iam = client(running, "iam")
    iam.create_user(UserName=name)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def denial(name: str, action: str) -> str:
    return (
        f"User: arn:aws:iam::000000000000:user/{name} is not authorized to perform: {action} "
        f"on resource: {ARN} because no identity-based policy allows the {action} action"
    )


def attach(api, subject: str, artifact_type: str, payload: bytes, repository: str = REPO) -> str:
    """Push an OCI artifact whose subject is `subject` through PutImage; its digest."""
    config = digest_of(b"{}")  # the OCI empty descriptor, shared by every artifact
    if api.batch_check_layer_availability(repositoryName=repository, layerDigests=[config])[
        "failures"
    ]:
        push_layer(api, repository, b"{}")
    layer = push_layer(api, repository, payload)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": EMPTY, "digest": config, "size": 2},
            "layers": [{"mediaType": "text/plain", "digest": layer, "size": len(payload)}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10},
            "annotations": {"org.example.kind": artifact_type.rsplit(".", 1)[-1]},
        }
    )
    api.put_image(
        repositoryName=repository, imageManifest=manifest, imageManifestMediaType=OCI_MANIFEST
    )
    return digest_of(manifest.encode())


def fill(api, count: int = 3) -> list[str]:
    api.create_repository(repositoryName=REPO)
    digests = []
    for n in range(count):
        push_image(api, REPO, f"v{n}", seed=b"image-%d" % n)
        # DescribeImages, not BatchGetImage: a BatchGetImage is a pull (lastRecordedPullTime)
        image = api.describe_images(repositoryName=REPO, imageIds=[{"imageTag": f"v{n}"}])
        digests.append(image["imageDetails"][0]["imageDigest"])
        time.sleep(0.01)  # distinct push times: the newest is the last pushed
    return digests


def error_of(excinfo) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_lifecycle_preview_allowed_and_denied(running_lab: RunningLab) -> None:
    admin = client(running_lab, "ecr")
    fill(admin)
    reader = client(
        running_lab, "ecr", **user(running_lab, "reader", "ecr:GetLifecyclePolicyPreview")
    )
    with pytest.raises(ClientError) as excinfo:
        reader.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=KEEP_ONE)
    assert error_of(excinfo) == (
        "AccessDeniedException",
        denial("reader", "ecr:StartLifecyclePolicyPreview"),
    )
    with pytest.raises(ClientError) as excinfo:  # allowed, but nothing was started
        reader.get_lifecycle_policy_preview(repositoryName=REPO)
    assert error_of(excinfo)[0] == "LifecyclePolicyPreviewNotFoundException"
    admin.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=KEEP_ONE)
    preview = reader.get_lifecycle_policy_preview(repositoryName=REPO)
    assert preview["status"] == "COMPLETE"
    assert sorted(r["imageTags"][0] for r in preview["previewResults"]) == ["v0", "v1"]
    stranger = client(running_lab, "ecr", **user(running_lab, "stranger", "ecr:ListImages"))
    with pytest.raises(ClientError) as excinfo:
        stranger.get_lifecycle_policy_preview(repositoryName=REPO)
    assert error_of(excinfo) == (
        "AccessDeniedException",
        denial("stranger", "ecr:GetLifecyclePolicyPreview"),
    )
    with pytest.raises(ClientError) as excinfo:  # bad text: ECR's error, nothing started
        admin.start_lifecycle_policy_preview(
            repositoryName=REPO, lifecyclePolicyText=KEEP_ONE.replace('"v"', "1")
        )
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_list_image_referrers_is_authorized_as_batch_get_image(running_lab: RunningLab) -> None:
    admin = client(running_lab, "ecr")
    subject = fill(admin, 1)[0]
    sbom = attach(admin, subject, "application/vnd.example.sbom.v1", b"sbom")
    signature = attach(admin, subject, "application/vnd.example.signature.v1", b"sig")
    puller = client(running_lab, "ecr", **user(running_lab, "puller", "ecr:BatchGetImage"))
    found = puller.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": subject})
    assert sorted(r["digest"] for r in found["referrers"]) == sorted([sbom, signature])
    first = next(r for r in found["referrers"] if r["digest"] == sbom)
    assert first["artifactType"] == "application/vnd.example.sbom.v1"
    assert first["mediaType"] == OCI_MANIFEST and first["artifactStatus"] == "ACTIVE"
    assert first["annotations"] == {"org.example.kind": "v1"}
    only = puller.list_image_referrers(
        repositoryName=REPO,
        subjectId={"imageDigest": subject},
        filter={"artifactTypes": ["application/vnd.example.signature.v1"]},
    )
    assert [r["digest"] for r in only["referrers"]] == [signature]
    detail = admin.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": sbom}])
    assert detail["imageDetails"][0]["subjectManifestDigest"] == subject
    lister = client(running_lab, "ecr", **user(running_lab, "lister", "ecr:ListImages"))
    with pytest.raises(ClientError) as excinfo:
        lister.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": subject})
    assert error_of(excinfo) == ("AccessDeniedException", denial("lister", "ecr:BatchGetImage"))


def test_lifecycle_endpoint_runs_the_job_for_the_root_only(
    running_lab: RunningLab, monkeypatch
) -> None:
    from lab.server.client import admin_post

    admin = client(running_lab, "ecr")
    digests = fill(admin)
    admin.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_ONE)
    keys = user(running_lab, "operator", "ecr:*")
    with monkeypatch.context() as patch:  # an IAM user with ecr:* is still not the root
        patch.setenv("ECR_LAB_ADMIN_ACCESS_KEY", keys["aws_access_key_id"])
        patch.setenv("ECR_LAB_ADMIN_SECRET_KEY", keys["aws_secret_access_key"])
        with pytest.raises(CommandError, match="Only the account root may run lifecycle policies"):
            admin_post(running_lab.url, "/_lab/lifecycle", {}, "us-east-1")
    unsigned = urllib.request.Request(
        f"{running_lab.url}/_lab/lifecycle", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=30)
    assert refused.value.code == 400  # the JSON protocol's answer to an unsigned call
    assert json.loads(refused.value.read())["__type"] == "MissingAuthenticationTokenException"
    assert len(admin.describe_images(repositoryName=REPO)["imageDetails"]) == 3
    report = admin_post(running_lab.url, "/_lab/lifecycle", {}, "us-east-1")
    assert sorted(report["repositories"][0]["expired"]) == sorted(digests[:2])
    left = admin.describe_images(repositoryName=REPO)["imageDetails"]
    assert [d["imageTags"] for d in left] == [["v2"]]
    evaluated = admin.get_lifecycle_policy(repositoryName=REPO)["lastEvaluatedAt"]
    assert evaluated.timestamp() <= report["ranAt"]
    assert running_lab.lab.lifecycle.state()["runs"] == 1
    running_lab.lab.reset()
    assert running_lab.lab.lifecycle.state() == {}


def test_the_timer_expires_images_without_being_asked(tmp_path: Path) -> None:
    config = LabConfig(state_dir=tmp_path / "state", lifecycle_interval=0.2)
    with RunningLab(config) as running:
        admin = client(running, "ecr")
        fill(admin)
        admin.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_ONE)
        deadline = time.monotonic() + 20
        while len(admin.describe_images(repositoryName=REPO)["imageDetails"]) > 1:
            assert time.monotonic() < deadline, "the lifecycle job never ran"
            time.sleep(0.1)
        assert "lastEvaluatedAt" in admin.get_lifecycle_policy(repositoryName=REPO)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | (env or {}),
    )


@pytest.mark.slow
def test_lifecycle_run_command_on_a_running_lab_and_on_a_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with RunningLab(LabConfig(state_dir=state, lifecycle_interval=0)) as running:
        admin = client(running, "ecr")
        digests = fill(admin)
        admin.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_ONE)
        held = run_cli("lifecycle", "run", "--state-dir", str(state))
        assert held.returncode == 2 and "use --endpoint to ask it" in held.stderr
        done = run_cli("lifecycle", "run", "--endpoint", running.url)
        assert done.returncode == 0, done.stderr
        assert sorted(done.stdout.splitlines()[:2]) == sorted(
            f"expired {REPO}@{d}" for d in digests[:2]
        )
        push_image(admin, REPO, "v9", seed=b"later")
    stopped = run_cli("lifecycle", "run", "--state-dir", str(state))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines() == [
        f"expired {REPO}@{digests[2]}",
        "1 lifecycle policies evaluated",
    ]
    nothing = run_cli("lifecycle", "run", "--endpoint", "http://127.0.0.1:9")
    assert nothing.returncode == 2 and "no lab answers" in nothing.stderr


def aws(
    running: RunningLab, *args: str, keys: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    chosen = keys or {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ACCESS_KEY_ID": chosen["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": chosen["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [AWS_CLI, "ecr", *args, "--endpoint-url", running.url, "--output", "json"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_aws_cli_previews_and_lists_referrers(running_lab: RunningLab) -> None:
    admin = client(running_lab, "ecr")
    subject = fill(admin, 2)[0]
    artifact = attach(admin, subject, "application/vnd.example.sbom.v1", b"sbom")
    started = aws(
        running_lab,
        "start-lifecycle-policy-preview",
        "--repository-name",
        REPO,
        "--lifecycle-policy-text",
        KEEP_ONE,
    )
    assert json.loads(started.stdout)["status"] == "IN_PROGRESS", started.stderr
    got = aws(running_lab, "get-lifecycle-policy-preview", "--repository-name", REPO)
    results = json.loads(got.stdout)["previewResults"]
    assert [(r["imageDigest"], r["appliedRulePriority"]) for r in results] == [(subject, 1)]
    listed = aws(
        running_lab,
        "list-image-referrers",
        "--repository-name",
        REPO,
        "--subject-id",
        f"imageDigest={subject}",
    )
    assert [r["digest"] for r in json.loads(listed.stdout)["referrers"]] == [artifact], (
        listed.stderr
    )
    keys = user(running_lab, "viewer", "ecr:ListImages")
    denied = aws(
        running_lab, "start-lifecycle-policy-preview", "--repository-name", REPO, keys=keys
    )
    assert denied.returncode != 0
    assert denial("viewer", "ecr:StartLifecyclePolicyPreview") in denied.stderr
    denied = aws(
        running_lab,
        "list-image-referrers",
        "--repository-name",
        REPO,
        "--subject-id",
        f"imageDigest={subject}",
        keys=keys,
    )
    assert denial("viewer", "ecr:BatchGetImage") in denied.stderr


def test_a_registry_pull_is_recorded_and_a_head_is_not(running_lab: RunningLab) -> None:
    import base64

    import requests

    admin = client(running_lab, "ecr")
    fill(admin, 2)
    token = admin.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    auth = tuple(base64.b64decode(token).decode().split(":", 1))
    accept = {"Accept": "application/vnd.docker.distribution.manifest.v2+json"}
    for method, tag in (("GET", "v0"), ("HEAD", "v1")):
        answer = requests.request(
            method, f"{running_lab.url}/v2/{REPO}/manifests/{tag}", auth=auth, headers=accept
        )
        assert answer.status_code == 200
    details = {
        d["imageTags"][0]: d for d in admin.describe_images(repositoryName=REPO)["imageDetails"]
    }
    assert "lastRecordedPullTime" in details["v0"]
    assert "lastRecordedPullTime" not in details["v1"]


def test_another_accounts_root_evaluates_only_its_own_registry(
    running_lab: RunningLab, monkeypatch
) -> None:
    from lab.server.client import admin_post

    admin = client(running_lab, "ecr")
    fill(admin)
    admin.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_ONE)
    running_lab.lab.add_account("111111111111")
    monkeypatch.setenv("ECR_LAB_ADMIN_ACCESS_KEY", "111111111111")
    monkeypatch.setenv("ECR_LAB_ADMIN_SECRET_KEY", "test")
    assert admin_post(running_lab.url, "/_lab/lifecycle", {}, "us-east-1")["repositories"] == []
    assert len(admin.describe_images(repositoryName=REPO)["imageDetails"]) == 3
    assert "lastEvaluatedAt" not in admin.get_lifecycle_policy(repositoryName=REPO)


def test_referrers_are_those_of_the_same_repository(running_lab: RunningLab) -> None:
    admin = client(running_lab, "ecr")
    subject = fill(admin, 1)[0]
    admin.create_repository(repositoryName="other")
    push_image(admin, "other", "v0", seed=b"image-0")  # the same image in another repository
    attach(admin, subject, "application/vnd.example.sbom.v1", b"sbom", repository="other")
    found = admin.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": subject})
    assert found["referrers"] == []
    other = admin.list_image_referrers(repositoryName="other", subjectId={"imageDigest": subject})
    assert len(other["referrers"]) == 1
