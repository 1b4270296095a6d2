"""The registry's route table and its action map (FACTS: "Registry protocol")."""

from __future__ import annotations

import pytest

from lab.registry.errors import RegistryError
from lab.registry.routes import ROUTES, action_for, match

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("HEAD", "/v2/fa-085/manifests/latest", "ecr:BatchGetImage"),
        ("GET", f"/v2/fa-085/manifests/{DIGEST}", "ecr:BatchGetImage"),
        ("GET", f"/v2/fa-085/blobs/{DIGEST}", "ecr:GetDownloadUrlForLayer"),
        ("HEAD", f"/v2/fa-085/blobs/{DIGEST}", "ecr:BatchCheckLayerAvailability"),
        ("POST", "/v2/fa-085/blobs/uploads/", "ecr:InitiateLayerUpload"),
        ("PATCH", "/v2/fa-085/blobs/uploads/0f1e-2d", "ecr:UploadLayerPart"),
        ("PUT", "/v2/fa-085/blobs/uploads/0f1e-2d", "ecr:CompleteLayerUpload"),
        ("PUT", "/v2/fa-085/manifests/latest", "ecr:PutImage"),
        ("GET", "/v2/fa-085/tags/list", "ecr:ListImages"),
        ("DELETE", f"/v2/fa-085/manifests/{DIGEST}", "ecr:BatchDeleteImage"),
        ("GET", "/v2/", None),
    ],
)
def test_each_registry_call_maps_to_ecrs_iam_action(method, path, action):
    route = match(method, path)
    assert route.action == action
    assert route.method == method


def test_repository_names_with_slashes_and_parts():
    route = match("PUT", "/v2/team/app/web/manifests/v1.2-rc_3")
    assert (route.name, route.repository, route.reference) == (
        "manifest",
        "team/app/web",
        "v1.2-rc_3",
    )
    assert not route.by_digest
    blob = match("GET", f"/v2/team/app/blobs/{DIGEST}")
    assert (blob.name, blob.repository, blob.digest) == ("blob", "team/app", DIGEST)


def test_uploads_route_before_blobs_and_query_is_parsed():
    start = match("POST", "/v2/a/b/blobs/uploads/", f"mount={DIGEST}&from=other/repo")
    assert (start.name, start.repository) == ("upload_start", "a/b")
    assert start.query == {"mount": DIGEST, "from": "other/repo"}
    upload = match("PUT", "/v2/a/b/blobs/uploads/abc-123", f"digest={DIGEST}")
    assert (upload.name, upload.upload_id, upload.query["digest"]) == ("upload", "abc-123", DIGEST)


def test_percent_encoded_digest_is_decoded():
    route = match("GET", "/v2/repo/manifests/sha256%3A" + "ab" * 32)
    assert route.reference == DIGEST and route.by_digest


@pytest.mark.parametrize(
    "path",
    ["/v2/_catalog", "/v2/Repo/tags/list", "/v2/repo/blobs/latest", "/v1/", "/v2/repo/other"],
)
def test_unknown_paths_are_404_not_found(path):
    with pytest.raises(RegistryError) as caught:
        match("GET", path)
    assert (caught.value.code, caught.value.status) == ("NOT_FOUND", 404)


def test_method_not_on_route_is_405_unsupported():
    # ECR deletes images through manifests only: a blob DELETE is unsupported.
    with pytest.raises(RegistryError) as caught:
        match("DELETE", f"/v2/repo/blobs/{DIGEST}")
    assert (caught.value.code, caught.value.status) == ("UNSUPPORTED", 405)


def test_action_for_is_the_table():
    for spec in ROUTES:
        for method, action in spec.actions.items():
            assert action_for(spec.name, method) == action
    assert all(a is None or a.startswith("ecr:") for s in ROUTES for a in s.actions.values())
