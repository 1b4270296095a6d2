"""Every region: the lab serves ECR in each region a client signs for, each its own registry.

AWS: a registry is per account and Region ("Amazon ECR private registry": "You can use your
private registry to manage private image repositories ... in each Region", ECR User Guide,
Registry.html); a repository's URI names its Region
(`aws_account_id.dkr.ecr.region.amazonaws.com/name`). The lab answers docker for a region at
`ACCT.dkr.ecr.REGION.localhost:PORT` on its one port; the plain `127.0.0.1:PORT` host stays the
first account's registry in the lab's own region.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_support import push_image
from tests.server_support import registry_get_at

ACCOUNT = "111111111111"
HOME = "us-east-1"
OTHER = "eu-west-1"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    config = LabConfig(state_dir=tmp_path / "state", account=ACCOUNT, region=HOME)
    with RunningLab(config) as running:
        yield running


def regional_ecr(running: RunningLab, region: str, key: str = "test") -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=running.url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key="test",
    )


def test_each_region_is_its_own_registry(lab: RunningLab) -> None:
    port = lab.lab.registry_host.rsplit(":", 1)[1]
    made = regional_ecr(lab, OTHER).create_repository(repositoryName="app")["repository"]
    assert made["repositoryArn"] == f"arn:aws:ecr:{OTHER}:{ACCOUNT}:repository/app"
    assert made["repositoryUri"] == f"{ACCOUNT}.dkr.ecr.{OTHER}.localhost:{port}/app"
    assert [
        r["repositoryName"]
        for r in regional_ecr(lab, OTHER).describe_repositories()["repositories"]
    ]
    assert regional_ecr(lab, HOME).describe_repositories()["repositories"] == []
    with pytest.raises(ClientError) as refused:
        regional_ecr(lab, HOME).describe_images(repositoryName="app")
    assert refused.value.response["Error"]["Code"] == "RepositoryNotFoundException"


def test_login_names_the_signed_regions_registry(lab: RunningLab) -> None:
    port = lab.lab.registry_host.rsplit(":", 1)[1]
    data = regional_ecr(lab, OTHER).get_authorization_token()["authorizationData"][0]
    assert data["proxyEndpoint"] == f"http://{ACCOUNT}.dkr.ecr.{OTHER}.localhost:{port}"
    home = regional_ecr(lab, HOME).get_authorization_token()["authorizationData"][0]
    assert home["proxyEndpoint"] == f"http://{lab.lab.registry_host}"


def test_registry_host_routes_to_its_region(lab: RunningLab) -> None:
    ecr = regional_ecr(lab, OTHER)
    ecr.create_repository(repositoryName="app")
    manifest = push_image(ecr, "app", "v1")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    status, body = registry_get_at(
        lab.lab.registry_host, f"{ACCOUNT}.dkr.ecr.{OTHER}.localhost", "/v2/app/manifests/v1", token
    )
    assert (status, body) == (200, manifest.encode())
    # The plain host is the home region's registry, which has no such repository.
    status, body = registry_get_at(
        lab.lab.registry_host, "127.0.0.1", "/v2/app/manifests/v1", token
    )
    assert status == 404
    assert json.loads(body)["errors"][0]["code"] == "NAME_UNKNOWN"


def test_a_host_naming_no_ecr_region_has_no_repositories(lab: RunningLab) -> None:
    """A hostile Host header cannot conjure a registry in a Region ECR does not have."""
    ecr = regional_ecr(lab, HOME)
    ecr.create_repository(repositoryName="app")
    push_image(ecr, "app", "v1")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    host = f"{ACCOUNT}.dkr.ecr.mars-north-9.localhost"
    status, body = registry_get_at(lab.lab.registry_host, host, "/v2/app/manifests/v1", token)
    assert status == 404
    assert json.loads(body)["errors"][0]["code"] == "NAME_UNKNOWN"
    assert not (
        lab.lab.config.state_dir / "ecr" / "registries" / ACCOUNT / "mars-north-9.json"
    ).exists()
