"""Docker pulls a replica: an image pushed to account SOURCE's registry through the ECR API
is replicated (the destination's registry policy allowing it) into the lab's first account,
whose registry docker reaches at the plain `127.0.0.1:PORT`.

AWS: ECR User Guide, "Granting registry permissions for cross account replication"
(registry-permissions-create-replication.html).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from lab.ecr.push import push_layer
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.test_regions import regional_ecr
from tests.test_replication import _dir_image

pytestmark = pytest.mark.docker

DESTINATION = "111111111111"  # the lab's first account: docker's plain 127.0.0.1:PORT
SOURCE = "444455556666"
REGION = "us-east-1"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    config = LabConfig(
        state_dir=tmp_path / "state", account=DESTINATION, region=REGION, replication_interval=0
    )
    with RunningLab(config) as running:
        running.lab.add_account(SOURCE)
        yield running


def test_docker_pulls_the_replica_from_the_destination_registry(
    lab: RunningLab, tmp_path: Path
) -> None:
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                "Resource": f"arn:aws:ecr:{REGION}:{DESTINATION}:repository/*",
            }
        ],
    }
    destination = regional_ecr(lab, REGION)
    destination.put_registry_policy(policyText=json.dumps(grant))
    source = regional_ecr(lab, REGION, SOURCE)
    source.create_repository(repositoryName="prod/app")
    rules = [{"destinations": [{"region": REGION, "registryId": DESTINATION}]}]
    source.put_replication_configuration(replicationConfiguration={"rules": rules})
    image = _dir_image(tmp_path / "image")
    manifest = (image / "manifest.json").read_text()
    for blob in image.iterdir():
        if blob.name not in ("manifest.json", "version"):
            push_layer(source, "prod/app", blob.read_bytes())
    source.put_image(repositoryName="prod/app", imageManifest=manifest, imageTag="v1")
    lab.lab.replication.run_pending()

    token = destination.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    repository = f"{lab.lab.registry_host}/prod/app"
    client = docker.from_env()
    pulled = client.images.pull(
        repository, "v1", auth_config={"username": "AWS", "password": password}
    )
    try:
        assert f"{repository}:v1" in pulled.tags
        assert (
            pulled.attrs["RootFS"]["Layers"]
            == json.loads((image / manifest_config(manifest)).read_text())["rootfs"]["diff_ids"]
        )
    finally:
        client.images.remove(f"{repository}:v1", force=True)


def manifest_config(manifest: str) -> str:
    """The file name of the manifest's config blob in skopeo's dir layout."""
    return json.loads(manifest)["config"]["digest"].removeprefix("sha256:")
