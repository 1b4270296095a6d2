"""Image storage classes through real HTTP (boto3, the aws CLI and the registry API).

Pages: API Reference "UpdateImageStorageClass" (ACTIVE | ARCHIVED | ACTIVATING),
"DescribeImagesFilter" ("If not specified, only images with ACTIVE status are returned"),
"ImageFailure" (ImageInaccessible); User Guide "Archiving an image" ("Archived images cannot be
pulled. Requests to pull the archived image will fail with a 404 error"; re-pushing restores),
"Restoring an image" (ACTIVATING until restored).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.ecr_ops_support import aws, cli, denial, lab_fixture, registry, user_keys
from tests.ecr_support import error_of, push_image, sha256

lab = lab_fixture("lab")


def _archived(lab, name: str) -> tuple[object, str, str]:
    """A repository `name` holding image v1, archived: (client, manifest, digest)."""
    ecr = aws(lab)
    ecr.create_repository(repositoryName=name)
    manifest = push_image(ecr, name, "v1")
    answer = ecr.update_image_storage_class(
        repositoryName=name, imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE"
    )
    digest = sha256(manifest.encode())
    assert answer["imageStatus"] == "ARCHIVED"
    assert answer["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    return ecr, manifest, digest


def test_an_archived_image_is_listed_only_when_asked_for(lab):
    ecr, _, digest = _archived(lab, "archive-listing")
    assert ecr.describe_images(repositoryName="archive-listing")["imageDetails"] == []
    assert ecr.list_images(repositoryName="archive-listing")["imageIds"] == []
    shown = ecr.describe_images(
        repositoryName="archive-listing", filter={"imageStatus": "ARCHIVED"}
    )["imageDetails"]
    assert [(d["imageDigest"], d["imageStatus"]) for d in shown] == [(digest, "ARCHIVED")]
    assert "lastArchivedAt" in shown[0]
    listed = ecr.list_images(repositoryName="archive-listing", filter={"imageStatus": "ANY"})
    assert listed["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}]


def test_an_archived_image_cannot_be_pulled_through_the_api(lab):
    ecr, manifest, digest = _archived(lab, "archive-api")
    got = ecr.batch_get_image(repositoryName="archive-api", imageIds=[{"imageTag": "v1"}])
    assert got["images"] == []
    assert [f["failureCode"] for f in got["failures"]] == ["ImageInaccessible"]
    layer = json.loads(manifest)["layers"][0]["digest"]
    with pytest.raises(ClientError) as caught:
        ecr.get_download_url_for_layer(repositoryName="archive-api", layerDigest=layer)
    assert error_of(caught)[0] == "LayerInaccessibleException"
    with pytest.raises(ClientError) as caught:
        ecr.start_image_scan(repositoryName="archive-api", imageId={"imageDigest": digest})
    assert error_of(caught) == (
        "ImageArchivedException",
        "The specified image is archived and cannot be scanned.",
    )


def test_an_archived_image_cannot_be_pulled_through_the_registry_until_restored(lab):
    ecr, manifest, digest = _archived(lab, "archive-registry")
    layer = json.loads(manifest)["layers"][0]["digest"]
    for path in ("/v2/archive-registry/manifests/v1", f"/v2/archive-registry/manifests/{digest}"):
        answer = registry(lab, "GET", path)
        assert answer.status == 404, path
        assert answer.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    blob = registry(lab, "GET", f"/v2/archive-registry/blobs/{layer}")
    assert (blob.status, blob.json()["errors"][0]["code"]) == (404, "BLOB_UNKNOWN")
    restored = ecr.update_image_storage_class(
        repositoryName="archive-registry",
        imageId={"imageDigest": digest},
        targetStorageClass="STANDARD",
    )
    assert restored["imageStatus"] == "ACTIVATING"  # as AWS answers; the lab's is done at once
    pulled = registry(lab, "GET", "/v2/archive-registry/manifests/v1")
    assert (pulled.status, pulled.body) == (200, manifest.encode())
    assert registry(lab, "GET", f"/v2/archive-registry/blobs/{layer}").status == 200
    detail = ecr.describe_images(repositoryName="archive-registry")["imageDetails"][0]
    assert detail["imageStatus"] == "ACTIVE" and "lastActivatedAt" in detail


def test_no_other_road_reaches_an_archived_image(lab):
    ecr, _, digest = _archived(lab, "archive-roads")
    push_image(ecr, "archive-roads", "other", seed=b"still active")
    got = ecr.batch_get_image(
        repositoryName="archive-roads",
        imageIds=[
            {"imageDigest": digest},
            {"imageDigest": digest, "imageTag": "v1"},
            {"imageTag": "other"},
        ],
    )
    assert [i["imageId"].get("imageTag") for i in got["images"]] == ["other"]
    assert [f["failureCode"] for f in got["failures"]] == ["ImageInaccessible"] * 2
    head = registry(lab, "HEAD", f"/v2/archive-roads/manifests/{digest}")
    assert head.status == 404
    with pytest.raises(ClientError) as caught:  # nor a scan's findings
        ecr.describe_image_scan_findings(
            repositoryName="archive-roads", imageId={"imageDigest": digest}
        )
    assert error_of(caught)[0] == "ScanNotFoundException"


def test_an_image_an_index_references_is_not_archived_alone(lab):
    ecr = aws(lab)
    ecr.create_repository(repositoryName="archive-index")
    child = push_image(ecr, "archive-index", "amd64")
    child_digest = sha256(child.encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": child_digest,
                "size": len(child),
            }
        ],
    }
    ecr.put_image(repositoryName="archive-index", imageManifest=json.dumps(index), imageTag="multi")
    with pytest.raises(ClientError) as caught:
        ecr.update_image_storage_class(
            repositoryName="archive-index",
            imageId={"imageDigest": child_digest},
            targetStorageClass="ARCHIVE",
        )
    assert error_of(caught) == (
        "ImageStorageClassUpdateNotSupportedException",
        "The requested image storage class update is not supported.",
    )
    pulled = registry(lab, "GET", f"/v2/archive-index/manifests/{child_digest}")
    assert pulled.status == 200  # still active


def test_re_pushing_an_archived_image_restores_it(lab):
    ecr, manifest, _ = _archived(lab, "archive-repush")
    ecr.put_image(repositoryName="archive-repush", imageManifest=manifest, imageTag="v2")
    got = ecr.batch_get_image(repositoryName="archive-repush", imageIds=[{"imageTag": "v1"}])
    assert got["failures"] == [] and got["images"][0]["imageManifest"] == manifest


def test_update_image_storage_class_is_validated_and_authorized(lab):
    ecr = aws(lab)
    ecr.create_repository(repositoryName="archive-guarded")
    push_image(ecr, "archive-guarded", "v1")
    with pytest.raises(ClientError) as caught:
        ecr.update_image_storage_class(
            repositoryName="archive-guarded", imageId={"imageTag": "v1"}, targetStorageClass="COLD"
        )
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'targetStorageClass' failed to satisfy constraint: "
        "'Member must satisfy enum value set: [STANDARD, ARCHIVE]'",
    )
    with pytest.raises(ClientError) as caught:
        ecr.update_image_storage_class(
            repositoryName="archive-guarded",
            imageId={"imageTag": "v9"},
            targetStorageClass="ARCHIVE",
        )
    assert error_of(caught)[0] == "ImageNotFoundException"
    keys = user_keys(lab, "archivist", ["ecr:UpdateImageStorageClass"])
    archivist, arn = aws(lab, **keys), _arn(lab, "archive-guarded")
    archivist.update_image_storage_class(
        repositoryName="archive-guarded", imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE"
    )
    with pytest.raises(ClientError) as caught:
        archivist.batch_get_image(repositoryName="archive-guarded", imageIds=[{"imageTag": "v1"}])
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "archivist", "ecr:BatchGetImage", arn),
    )
    reader = aws(lab, **user_keys(lab, "no-archivist", ["ecr:BatchGetImage"]))
    with pytest.raises(ClientError) as caught:
        reader.update_image_storage_class(
            repositoryName="archive-guarded",
            imageId={"imageTag": "v1"},
            targetStorageClass="STANDARD",
        )
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "no-archivist", "ecr:UpdateImageStorageClass", arn),
    )
    shown = ecr.describe_images(repositoryName="archive-guarded", filter={"imageStatus": "ANY"})
    assert shown["imageDetails"][0]["imageStatus"] == "ARCHIVED"  # the denied restore did nothing


def test_cli_update_image_storage_class(lab):
    ecr = aws(lab)
    ecr.create_repository(repositoryName="archive-cli")
    push_image(ecr, "archive-cli", "v1")
    result = cli(lab, "update-image-storage-class", "--repository-name", "archive-cli",
                 "--image-id", "imageTag=v1", "--target-storage-class", "ARCHIVE")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imageStatus"] == "ARCHIVED"


def _arn(lab, name: str) -> str:
    config = lab.lab.config
    return f"arn:aws:ecr:{config.region}:{config.account}:repository/{name}"


@pytest.mark.docker
def test_docker_pull_of_an_archived_image_fails_until_it_is_restored(lab):
    import docker

    from tests.test_registry_clients import _scratch_context, password

    client, ecr = docker.from_env(), aws(lab)
    ecr.create_repository(repositoryName="archive-docker")
    repository = f"{lab.url.removeprefix('http://')}/archive-docker"
    client.images.build(fileobj=_scratch_context(), custom_context=True, tag=f"{repository}:v1")
    auth = {"username": "AWS", "password": password(lab)}
    lines = list(client.images.push(repository, "v1", auth_config=auth, stream=True, decode=True))
    assert "errorDetail" not in lines[-1], lines[-1]
    client.images.remove(f"{repository}:v1", force=True)
    ecr.update_image_storage_class(
        repositoryName="archive-docker", imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE"
    )
    with pytest.raises(docker.errors.APIError) as refused:
        client.images.pull(repository, "v1", auth_config=auth)
    assert "manifest unknown" in str(refused.value)
    ecr.update_image_storage_class(
        repositoryName="archive-docker", imageId={"imageTag": "v1"}, targetStorageClass="STANDARD"
    )
    pulled = client.images.pull(repository, "v1", auth_config=auth)
    assert f"{repository}:v1" in pulled.tags
    client.images.remove(f"{repository}:v1", force=True)


def test_a_restored_image_loses_its_old_scan_and_is_scanned_as_if_pushed(lab):
    # "Restoring an image": scanned on restore if scan on push is on; earlier results are gone.
    ecr = aws(lab)
    ecr.create_repository(repositoryName="archive-scans")
    push_image(ecr, "archive-scans", "v1")
    ecr.start_image_scan(repositoryName="archive-scans", imageId={"imageTag": "v1"})
    for target in ("ARCHIVE", "STANDARD"):
        ecr.update_image_storage_class(
            repositoryName="archive-scans", imageId={"imageTag": "v1"}, targetStorageClass=target
        )
    with pytest.raises(ClientError) as caught:
        ecr.describe_image_scan_findings(repositoryName="archive-scans", imageId={"imageTag": "v1"})
    assert error_of(caught)[0] == "ScanNotFoundException"
    ecr.put_image_scanning_configuration(
        repositoryName="archive-scans", imageScanningConfiguration={"scanOnPush": True}
    )
    for target in ("ARCHIVE", "STANDARD"):
        ecr.update_image_storage_class(
            repositoryName="archive-scans", imageId={"imageTag": "v1"}, targetStorageClass=target
        )
    found = ecr.describe_image_scan_findings(
        repositoryName="archive-scans", imageId={"imageTag": "v1"}
    )
    assert found["imageScanStatus"]["status"] == "COMPLETE"
