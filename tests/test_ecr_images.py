"""Image operations: digests of the exact manifest bytes, tags, immutability, failures lists."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from lab.errors import AwsError
from tests.ecr_support import (
    ACCOUNT,
    DOCKER_MANIFEST,
    REGION,
    REPO,
    client,
    error_of,
    make_ecr,
    manifest_for,
    push_image,
    push_layer,
    sha256,
)


def test_image_digest_is_sha256_of_the_exact_manifest_bytes_not_moto_layer_join(ecr):
    # moto 5.2 hashes the joined layer digests (FACTS); ECR hashes the manifest as sent.
    manifest = push_image(ecr, REPO, "latest")
    listed = ecr.list_images(repositoryName=REPO)["imageIds"]
    assert listed == [{"imageDigest": sha256(manifest.encode()), "imageTag": "latest"}]


def test_batch_get_image_by_true_digest_returns_the_manifest_unlike_moto(ecr):
    manifest = push_image(ecr, REPO, "latest")
    got = ecr.batch_get_image(
        repositoryName=REPO, imageIds=[{"imageDigest": sha256(manifest.encode())}]
    )
    assert got["failures"] == []
    assert got["images"][0]["imageManifest"] == manifest
    assert got["images"][0]["imageManifestMediaType"] == DOCKER_MANIFEST


def test_batch_get_image_by_tag_returns_that_tag_only_unlike_moto(ecr):
    first = push_image(ecr, REPO, "one", seed=b"a")
    push_image(ecr, REPO, "two", seed=b"b")
    got = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "one"}])["images"]
    assert [(i["imageId"]["imageTag"], i["imageManifest"]) for i in got] == [("one", first)]


def test_batch_get_image_reports_missing_images_as_failures(ecr):
    got = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "nope"}, {}])
    assert got["images"] == []
    assert got["failures"] == [
        {
            "imageId": {"imageTag": "nope"},
            "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found",
        },
        {
            "imageId": {},
            "failureCode": "MissingDigestAndTag",
            "failureReason": "Invalid request parameters: both tag and digest cannot be null",
        },
    ]


def test_batch_get_image_honours_accepted_media_types(ecr):
    push_image(ecr, REPO, "latest")
    oci_only = ["application/vnd.oci.image.manifest.v1+json"]
    got = ecr.batch_get_image(
        repositoryName=REPO, imageIds=[{"imageTag": "latest"}], acceptedMediaTypes=oci_only
    )
    assert got["images"] == [] and got["failures"][0]["failureCode"] == "ImageNotFound"


def test_put_image_with_missing_layers_is_layers_not_found(ecr):
    absent = "sha256:" + "0" * 64
    config = push_layer(ecr, REPO, b"{}")
    with pytest.raises(ClientError) as caught:
        ecr.put_image(
            repositoryName=REPO, imageManifest=manifest_for(config, {absent: 1}), imageTag="x"
        )
    assert error_of(caught) == (
        "LayersNotFoundException",
        f"Layers with digests '[{absent}]' required for pushing image into repository with name "
        f"'{REPO}' in the registry with id '{ACCOUNT}' do not exist",
    )


def test_layers_of_another_repository_do_not_count(ecr):
    ecr.create_repository(repositoryName="other")
    config, layer = push_layer(ecr, "other", b"{}"), push_layer(ecr, "other", b"data")
    with pytest.raises(ClientError) as caught:
        ecr.put_image(repositoryName=REPO, imageManifest=manifest_for(config, {layer: 4}))
    assert error_of(caught)[0] == "LayersNotFoundException"


def test_put_image_same_manifest_and_tag_again_is_image_already_exists(ecr):
    manifest = push_image(ecr, REPO, "latest")
    with pytest.raises(ClientError) as caught:
        ecr.put_image(repositoryName=REPO, imageManifest=manifest, imageTag="latest")
    digest = sha256(manifest.encode())
    assert error_of(caught) == (
        "ImageAlreadyExistsException",
        f"Image with digest '{digest}' and tag 'latest' already exists in the repository with "
        f"name '{REPO}' in registry with id '{ACCOUNT}'",
    )


def test_put_image_second_tag_on_same_manifest_adds_the_tag(ecr):
    manifest = push_image(ecr, REPO, "one")
    ecr.put_image(repositoryName=REPO, imageManifest=manifest, imageTag="two")
    details = ecr.describe_images(repositoryName=REPO)["imageDetails"]
    assert [d["imageTags"] for d in details] == [["one", "two"]]


def test_moving_a_mutable_tag_leaves_the_old_image_untagged(ecr):
    old = push_image(ecr, REPO, "latest", seed=b"a")
    new = push_image(ecr, REPO, "latest", seed=b"b")
    untagged = ecr.list_images(repositoryName=REPO, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    tagged = ecr.list_images(repositoryName=REPO, filter={"tagStatus": "TAGGED"})["imageIds"]
    assert untagged == [{"imageDigest": sha256(old.encode())}]
    assert tagged == [{"imageDigest": sha256(new.encode()), "imageTag": "latest"}]


def test_immutable_tag_cannot_move_image_tag_already_exists(ecr):
    ecr.put_image_tag_mutability(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    push_image(ecr, REPO, "latest", seed=b"a")
    with pytest.raises(ClientError) as caught:
        push_image(ecr, REPO, "latest", seed=b"b")
    assert error_of(caught) == (
        "ImageTagAlreadyExistsException",
        f"The image tag 'latest' already exists in the '{REPO}' repository and cannot be "
        "overwritten because the repository is immutable.",
    )


def test_immutable_with_exclusion_lets_excluded_tags_move(ecr):
    ecr.put_image_tag_mutability(
        repositoryName=REPO,
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}],
    )
    push_image(ecr, REPO, "dev-1", seed=b"a")
    push_image(ecr, REPO, "dev-1", seed=b"b")
    push_image(ecr, REPO, "v1", seed=b"c")
    with pytest.raises(ClientError):
        push_image(ecr, REPO, "v1", seed=b"d")


def test_put_image_with_a_wrong_image_digest_is_image_digest_does_not_match(ecr):
    config = push_layer(ecr, REPO, b"{}")
    manifest = manifest_for(config, {})
    with pytest.raises(ClientError) as caught:
        ecr.put_image(repositoryName=REPO, imageManifest=manifest, imageDigest="sha256:" + "1" * 64)
    assert error_of(caught)[0] == "ImageDigestDoesNotMatchException"


def test_put_image_of_non_json_is_invalid_json_syntax(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.put_image(repositoryName=REPO, imageManifest="not json", imageTag="x")
    assert error_of(caught) == (
        "InvalidParameterException",
        "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'",
    )


def test_manifest_without_media_type_needs_image_manifest_media_type(ecr):
    # aws/aws-sdk#193: an OCI manifest without mediaType is rejected unless the request names it.
    config = push_layer(ecr, REPO, b"{}")
    document = json.loads(manifest_for(config, {}))
    del document["mediaType"]
    with pytest.raises(ClientError):
        ecr.put_image(repositoryName=REPO, imageManifest=json.dumps(document), imageTag="x")
    oci = "application/vnd.oci.image.manifest.v1+json"
    answer = ecr.put_image(
        repositoryName=REPO,
        imageManifest=json.dumps(document),
        imageTag="x",
        imageManifestMediaType=oci,
    )
    assert answer["image"]["imageManifestMediaType"] == oci


def test_describe_images_details(state_dir):
    ecr = client(make_ecr(state_dir, clock=lambda: 1700000000.0))
    ecr.create_repository(repositoryName=REPO)
    manifest = push_image(ecr, REPO, "latest", seed=b"12345")
    (detail,) = ecr.describe_images(repositoryName=REPO)["imageDetails"]
    assert detail["imageDigest"] == sha256(manifest.encode())
    assert detail["imageTags"] == ["latest"]
    assert detail["imageSizeInBytes"] == 5
    assert detail["imagePushedAt"].timestamp() == 1700000000.0
    assert detail["artifactMediaType"] == "application/vnd.docker.container.image.v1+json"


def test_describe_missing_image_is_image_not_found(ecr):
    with pytest.raises(ClientError) as caught:
        ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "latest"}])
    assert error_of(caught) == (
        "ImageNotFoundException",
        "The image with imageId {imageDigest:'null', imageTag:'latest'} does not exist within "
        f"the repository with name '{REPO}' in the registry with id '{ACCOUNT}'",
    )


def test_list_images_paginates(ecr):
    for i in range(5):
        push_image(ecr, REPO, f"t{i}", seed=bytes([i]))
    pages = ecr.get_paginator("list_images").paginate(
        repositoryName=REPO, PaginationConfig={"PageSize": 2}
    )
    tags = sorted(i["imageTag"] for page in pages for i in page["imageIds"])
    assert tags == [f"t{i}" for i in range(5)]


def test_batch_delete_by_tag_removes_the_tag_then_the_image(ecr):
    manifest = push_image(ecr, REPO, "one")
    ecr.put_image(repositoryName=REPO, imageManifest=manifest, imageTag="two")
    digest = sha256(manifest.encode())
    first = ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": "one"}])
    assert first["imageIds"] == [{"imageDigest": digest, "imageTag": "one"}]
    assert ecr.list_images(repositoryName=REPO)["imageIds"] == [
        {"imageDigest": digest, "imageTag": "two"}
    ]
    ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": "two"}])
    assert ecr.list_images(repositoryName=REPO)["imageIds"] == []


def test_batch_delete_by_digest_removes_every_tag(ecr):
    manifest = push_image(ecr, REPO, "one")
    ecr.put_image(repositoryName=REPO, imageManifest=manifest, imageTag="two")
    digest = sha256(manifest.encode())
    answer = ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": digest}])
    assert answer["imageIds"] == [
        {"imageDigest": digest, "imageTag": "one"},
        {"imageDigest": digest, "imageTag": "two"},
    ]
    missing = ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": digest}])
    assert missing["failures"][0]["failureCode"] == "ImageNotFound"


def test_registry_put_and_get_manifest_share_state_with_the_api(service, ecr):
    config = push_layer(ecr, REPO, b"{}")
    manifest = manifest_for(config, {}).encode()
    digest = service.put_manifest(ACCOUNT, REGION, REPO, "latest", manifest, DOCKER_MANIFEST)
    assert digest == sha256(manifest)
    assert service.get_manifest(ACCOUNT, REGION, REPO, "latest") == (
        manifest,
        DOCKER_MANIFEST,
        digest,
    )
    assert service.get_manifest(ACCOUNT, REGION, REPO, digest)[0] == manifest
    got = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "latest"}])
    assert got["images"][0]["imageManifest"].encode() == manifest


def test_registry_re_push_of_same_tag_succeeds_but_not_in_an_immutable_repository(service, ecr):
    config = push_layer(ecr, REPO, b"{}")
    manifest = manifest_for(config, {}).encode()
    for _ in range(2):
        service.put_manifest(ACCOUNT, REGION, REPO, "latest", manifest, DOCKER_MANIFEST)
    ecr.put_image_tag_mutability(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    # aws/containers-roadmap#2179: even an unchanged digest is refused once tags are immutable.
    with pytest.raises(AwsError) as caught:
        service.put_manifest(ACCOUNT, REGION, REPO, "latest", manifest, DOCKER_MANIFEST)
    assert caught.value.code == "ImageTagAlreadyExistsException"


def test_registry_push_by_digest_must_match_the_bytes(service, ecr):
    config = push_layer(ecr, REPO, b"{}")
    manifest = manifest_for(config, {}).encode()
    with pytest.raises(AwsError) as caught:
        service.put_manifest(ACCOUNT, REGION, REPO, "sha256:" + "2" * 64, manifest, DOCKER_MANIFEST)
    assert caught.value.code == "ImageDigestDoesNotMatchException"
    assert service.put_manifest(ACCOUNT, REGION, REPO, sha256(manifest), manifest, DOCKER_MANIFEST)


def test_registry_get_of_missing_manifest_is_image_not_found(service, ecr):
    with pytest.raises(AwsError) as caught:
        service.get_manifest(ACCOUNT, REGION, REPO, "latest")
    assert caught.value.code == "ImageNotFoundException"


def test_index_needs_its_images_and_protects_them_from_deletion(service, ecr):
    child = push_image(ecr, REPO, None)
    child_digest = sha256(child.encode())
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": DOCKER_MANIFEST, "size": len(child), "digest": child_digest}
            ],
        }
    )
    missing = index.replace(child_digest, "sha256:" + "3" * 64)
    with pytest.raises(ClientError) as caught:
        ecr.put_image(repositoryName=REPO, imageManifest=missing, imageTag="multi")
    assert error_of(caught)[0] == "ReferencedImagesNotFoundException"
    ecr.put_image(repositoryName=REPO, imageManifest=index, imageTag="multi")
    refused = ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": child_digest}])
    assert refused["failures"][0]["failureCode"] == "ImageReferencedByManifestList"


def test_concurrent_pushes_of_one_tag_leave_it_on_exactly_one_image(service, ecr):
    import threading

    config = push_layer(ecr, REPO, b"{}")
    # Same document, different bytes: four distinct images.
    document = json.loads(manifest_for(config, {}))
    manifests = [json.dumps(document, indent=n).encode() for n in range(1, 5)]
    threads = [
        threading.Thread(
            target=service.put_manifest, args=(ACCOUNT, REGION, REPO, "latest", m, DOCKER_MANIFEST)
        )
        for m in manifests
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tagged = ecr.list_images(repositoryName=REPO, filter={"tagStatus": "TAGGED"})["imageIds"]
    assert len(tagged) == 1
    assert len(ecr.list_images(repositoryName=REPO)["imageIds"]) == 4
