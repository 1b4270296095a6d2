"""Pushing through the ECR API as a client does: a layer upload, and a Docker image manifest.

Works with any boto3 ECR client (the lab's, moto's or AWS's); for tests, benchmarks and
scripts that fill a repository without a registry client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.ecr.blobs import digest_of
from lab.ecr.manifests import DOCKER_MANIFEST_V2, LAYER_MEDIA_TYPE

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"


def push_layer(ecr_client: Any, repository: str, data: bytes) -> str:
    """Upload `data` as one layer (initiate, one part, complete); its digest."""
    upload = ecr_client.initiate_layer_upload(repositoryName=repository)["uploadId"]
    ecr_client.upload_layer_part(
        repositoryName=repository,
        uploadId=upload,
        partFirstByte=0,
        partLastByte=len(data) - 1,
        layerPartBlob=data,
    )
    digest = digest_of(data)
    ecr_client.complete_layer_upload(
        repositoryName=repository, uploadId=upload, layerDigests=[digest]
    )
    return digest


def docker_manifest(config: str, config_size: int, layers: Mapping[str, int]) -> dict[str, Any]:
    """A Docker v2 image manifest of the config `config` and `layers` (digest -> size)."""
    return {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST_V2,
        "config": {"mediaType": DOCKER_CONFIG, "size": config_size, "digest": config},
        "layers": [
            {"mediaType": LAYER_MEDIA_TYPE, "size": size, "digest": digest}
            for digest, size in layers.items()
        ],
    }
