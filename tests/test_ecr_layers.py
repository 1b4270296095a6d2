"""Layer uploads and downloads: contiguous parts, verified digests, per-repository layers."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from lab.errors import AwsError
from tests.ecr_support import (
    ACCOUNT,
    HOST,
    REGION,
    REPO,
    client,
    error_of,
    make_ecr,
    push_image,
    push_layer,
    sha256,
)


def _part(ecr, upload, first, data):
    return ecr.upload_layer_part(
        repositoryName=REPO,
        uploadId=upload,
        partFirstByte=first,
        partLastByte=first + len(data) - 1,
        layerPartBlob=data,
    )


def test_upload_in_parts_then_complete(ecr):
    started = ecr.initiate_layer_upload(repositoryName=REPO)
    assert started["partSize"] == 10 * 1024 * 1024
    upload = started["uploadId"]
    assert _part(ecr, upload, 0, b"hello ")["lastByteReceived"] == 5
    assert _part(ecr, upload, 6, b"world")["lastByteReceived"] == 10
    done = ecr.complete_layer_upload(
        repositoryName=REPO, uploadId=upload, layerDigests=[sha256(b"hello world")]
    )
    assert done["layerDigest"] == sha256(b"hello world")
    available = ecr.batch_check_layer_availability(
        repositoryName=REPO, layerDigests=[sha256(b"hello world")]
    )
    assert available["layers"][0]["layerAvailability"] == "AVAILABLE"
    assert available["layers"][0]["layerSize"] == 11


def test_a_part_that_does_not_follow_on_is_invalid_layer_part(ecr):
    upload = ecr.initiate_layer_upload(repositoryName=REPO)["uploadId"]
    _part(ecr, upload, 0, b"abc")
    with pytest.raises(ClientError) as caught:
        _part(ecr, upload, 5, b"def")
    assert error_of(caught) == (
        "InvalidLayerPartException",
        f"Invalid layer part upload for upload with id '{upload}' in the repository with name "
        f"'{REPO}' in the registry with id '{ACCOUNT}'",
    )
    # The exception's own members (ECR API reference, InvalidLayerPartException).
    answer = caught.value.response
    assert (answer["uploadId"], answer["lastValidByteReceived"]) == (upload, 2)
    assert (answer["registryId"], answer["repositoryName"]) == (ACCOUNT, REPO)


def test_complete_layer_upload_rejects_a_wrong_digest_unlike_moto(ecr):
    # moto 5.2 ignores the digest the client gives (FACTS); ECR verifies it.
    upload = ecr.initiate_layer_upload(repositoryName=REPO)["uploadId"]
    _part(ecr, upload, 0, b"abc")
    with pytest.raises(ClientError) as caught:
        ecr.complete_layer_upload(repositoryName=REPO, uploadId=upload, layerDigests=[sha256(b"x")])
    assert error_of(caught) == (
        "InvalidLayerException",
        "None of the provided layer digests match the calculated layer digest",
    )
    missing = ecr.batch_check_layer_availability(repositoryName=REPO, layerDigests=[sha256(b"x")])
    assert missing["layers"] == [] and missing["failures"][0]["failureCode"] == "MissingLayerDigest"


def test_completing_an_existing_layer_is_layer_already_exists(ecr):
    push_layer(ecr, REPO, b"abc")
    upload = ecr.initiate_layer_upload(repositoryName=REPO)["uploadId"]
    _part(ecr, upload, 0, b"abc")
    with pytest.raises(ClientError) as caught:
        ecr.complete_layer_upload(
            repositoryName=REPO, uploadId=upload, layerDigests=[sha256(b"abc")]
        )
    assert error_of(caught)[0] == "LayerAlreadyExistsException"


def test_completing_an_empty_upload_is_empty_upload(ecr):
    upload = ecr.initiate_layer_upload(repositoryName=REPO)["uploadId"]
    with pytest.raises(ClientError) as caught:
        ecr.complete_layer_upload(repositoryName=REPO, uploadId=upload, layerDigests=[sha256(b"")])
    assert error_of(caught)[0] == "EmptyUploadException"


def test_an_upload_belongs_to_its_repository(ecr):
    ecr.create_repository(repositoryName="other")
    upload = ecr.initiate_layer_upload(repositoryName="other")["uploadId"]
    with pytest.raises(ClientError) as caught:
        _part(ecr, upload, 0, b"abc")
    assert error_of(caught) == (
        "UploadNotFoundException",
        f"Upload with id '{upload}' could not be found for the repository with name '{REPO}' "
        f"in the registry with id '{ACCOUNT}'",
    )


def test_download_url_points_at_the_lab_registry_blob(ecr):
    push_image(ecr, REPO, "latest", seed=b"data")
    answer = ecr.get_download_url_for_layer(repositoryName=REPO, layerDigest=sha256(b"data"))
    assert answer["downloadUrl"] == f"http://{HOST}/v2/{REPO}/blobs/{sha256(b'data')}"


def test_download_url_of_a_missing_layer_is_layers_not_found(ecr):
    digest = sha256(b"nothing")
    with pytest.raises(ClientError) as caught:
        ecr.get_download_url_for_layer(repositoryName=REPO, layerDigest=digest)
    assert error_of(caught) == (
        "LayersNotFoundException",
        f"The layer with digest '{digest}' does not exist within the repository with name "
        f"'{REPO}' in the registry with id '{ACCOUNT}'",
    )


def test_download_url_of_a_layer_no_image_uses_is_layer_inaccessible(ecr):
    digest = push_layer(ecr, REPO, b"orphan")
    with pytest.raises(ClientError) as caught:
        ecr.get_download_url_for_layer(repositoryName=REPO, layerDigest=digest)
    assert error_of(caught)[0] == "LayerInaccessibleException"


def test_registry_upload_helpers(service, ecr):
    upload = service.start_upload(ACCOUNT, REGION, REPO)
    assert service.append_upload(ACCOUNT, REGION, REPO, upload, b"ab") == 2
    assert service.append_upload(ACCOUNT, REGION, REPO, upload, b"cd") == 4
    assert service.upload_size(ACCOUNT, REGION, REPO, upload) == 4
    with pytest.raises(AwsError) as caught:
        service.complete_upload(ACCOUNT, REGION, REPO, upload, sha256(b"abc"))
    assert caught.value.code == "InvalidLayerException"
    assert service.complete_upload(ACCOUNT, REGION, REPO, upload, sha256(b"abcd")) == sha256(
        b"abcd"
    )
    assert service.layer_size(ACCOUNT, REGION, REPO, sha256(b"abcd")) == 4
    assert service.layer_size(ACCOUNT, REGION, REPO, sha256(b"zz")) is None


def test_registry_cancel_leaves_nothing(service, ecr):
    upload = service.start_upload(ACCOUNT, REGION, REPO)
    service.append_upload(ACCOUNT, REGION, REPO, upload, b"partial")
    service.cancel_upload(ACCOUNT, REGION, REPO, upload)
    with pytest.raises(AwsError) as caught:
        service.append_upload(ACCOUNT, REGION, REPO, upload, b"more")
    assert caught.value.code == "UploadNotFoundException"
    assert not service.blobs.has(sha256(b"partial"))


def test_layer_path_serves_the_bytes_of_a_referenced_layer(service, ecr):
    push_image(ecr, REPO, "latest", seed=b"payload")
    assert service.layer_path(ACCOUNT, REGION, REPO, sha256(b"payload")).read_bytes() == b"payload"


def test_an_upload_survives_a_restart(state_dir):
    first = make_ecr(state_dir)
    client(first).create_repository(repositoryName=REPO)
    upload = first.start_upload(ACCOUNT, REGION, REPO)
    first.append_upload(ACCOUNT, REGION, REPO, upload, b"before ")
    again = make_ecr(state_dir)
    assert again.upload_size(ACCOUNT, REGION, REPO, upload) == 7
    again.append_upload(ACCOUNT, REGION, REPO, upload, b"after")
    assert again.complete_upload(ACCOUNT, REGION, REPO, upload, sha256(b"before after"))


def test_concurrent_pushes_of_the_same_blob_store_it_once(service, ecr):
    data = b"shared layer" * 1000
    results = []

    def push() -> None:
        upload = service.start_upload(ACCOUNT, REGION, REPO)
        service.append_upload(ACCOUNT, REGION, REPO, upload, data)
        results.append(service.complete_upload(ACCOUNT, REGION, REPO, upload, sha256(data)))

    threads = [threading.Thread(target=push) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [sha256(data)] * 6
    assert service.blobs.read(sha256(data)) == data
    assert list((service.blobs.root / "uploads").iterdir()) == []
