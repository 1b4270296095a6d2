"""OCI 1.1 in the registry: manifests with `subject` and `artifactType`, the `OCI-Subject`
header, and the referrers API, through real registry requests and oras-py.

Spec: opencontainers/distribution-spec spec.md, "Pushing Manifests with Subject" and
"Listing Referrers"; ECR supports both since 2024-06-27 (AWS What's New, "Amazon ECR ... OCI
Image and Distribution specification version 1.1"); the referrers list is read as
ListImageReferrers is, with ecr:BatchGetImage (ECR API reference, ListImageReferrers).
"""

from __future__ import annotations

import base64
import json

import pytest
import requests

from lab.ecr.blobs import digest_of
from lab.ecr.push import push_layer
from lab.server.run import RunningLab
from tests.conftest import client
from tests.ecr_support import push_image
from tests.test_lifecycle_http import user

REPO = "app"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
EMPTY = "application/vnd.oci.empty.v1+json"


def password(running: RunningLab, **keys: str) -> str:
    token = client(running, "ecr", **keys).get_authorization_token()["authorizationData"][0]
    return base64.b64decode(token["authorizationToken"]).decode().split(":", 1)[1]


class Registry:
    """Plain HTTP requests to the lab's registry, with a caller's Basic token."""

    def __init__(self, running: RunningLab, secret: str) -> None:
        self.url = running.url
        self.auth = ("AWS", secret)

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.url}/v2/{path}", auth=self.auth, timeout=30, **kwargs
        )

    def put_manifest(self, reference: str, manifest: dict) -> requests.Response:
        body = json.dumps(manifest).encode()
        headers = {"Content-Type": manifest["mediaType"]}
        return self("PUT", f"{REPO}/manifests/{reference}", data=body, headers=headers)


def artifact(subject: str, subject_size: int, artifact_type: str | None, config: str) -> dict:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": EMPTY if artifact_type else "application/vnd.example.config",
            "digest": config,
            "size": 2,
        },
        "layers": [{"mediaType": EMPTY, "digest": config, "size": 2}],
        "subject": {"mediaType": DOCKER_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": {"org.opencontainers.image.created": "2024-06-27T00:00:00Z"},
    }
    if artifact_type:
        manifest["artifactType"] = artifact_type
    return manifest


@pytest.fixture
def setup(running_lab: RunningLab):
    api = client(running_lab, "ecr")
    api.create_repository(repositoryName=REPO)
    push_image(api, REPO, "v1")
    config = push_layer(api, REPO, b"{}")
    registry = Registry(running_lab, password(running_lab))
    subject = registry("GET", f"{REPO}/manifests/v1", headers={"Accept": DOCKER_MANIFEST})
    return registry, subject.headers["Docker-Content-Digest"], len(subject.content), config


def test_a_manifest_with_a_subject_answers_oci_subject_and_is_listed(setup) -> None:
    registry, subject, size, config = setup
    sbom = artifact(subject, size, "application/vnd.example.sbom.v1", config)
    pushed = registry.put_manifest("sbom", sbom)
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["OCI-Subject"] == subject
    plain = registry.put_manifest(
        "plain", artifact(subject, size, None, config) | {"subject": None}
    )
    assert plain.status_code == 201 and "OCI-Subject" not in plain.headers
    # no artifactType: the config's media type stands in for it
    signed = registry.put_manifest("sig", artifact(subject, size, None, config))
    listed = registry("GET", f"{REPO}/referrers/{subject}")
    assert listed.status_code == 200
    assert listed.headers["Content-Type"] == OCI_INDEX
    assert "OCI-Filters-Applied" not in listed.headers
    index = listed.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    by_digest = {d["digest"]: d for d in index["manifests"]}
    sbom_digest = pushed.headers["Docker-Content-Digest"]
    assert set(by_digest) == {sbom_digest, signed.headers["Docker-Content-Digest"]}
    assert by_digest[sbom_digest] == {
        "mediaType": OCI_MANIFEST,
        "size": len(json.dumps(sbom).encode()),
        "digest": sbom_digest,
        "artifactType": "application/vnd.example.sbom.v1",
        "annotations": {"org.opencontainers.image.created": "2024-06-27T00:00:00Z"},
    }
    assert (
        by_digest[signed.headers["Docker-Content-Digest"]]["artifactType"]
        == "application/vnd.example.config"
    )
    filtered = registry(
        "GET",
        f"{REPO}/referrers/{subject}",
        params={"artifactType": "application/vnd.example.sbom.v1"},
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in filtered.json()["manifests"]] == [sbom_digest]


def test_referrers_answers_200_empty_400_and_name_unknown(setup) -> None:
    registry, _, _, _ = setup
    unknown = "sha256:" + "0" * 64
    empty = registry("GET", f"{REPO}/referrers/{unknown}")
    # "the registry MUST NOT return a 404 Not Found to a referrers API request"
    assert (empty.status_code, empty.json()["manifests"]) == (200, [])
    bad = registry("GET", f"{REPO}/referrers/not-a-digest")
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "DIGEST_INVALID"
    missing = registry("GET", f"nothing/referrers/{unknown}")
    assert missing.status_code == 404
    assert missing.json()["errors"][0] == {
        "code": "NAME_UNKNOWN",
        "message": "The repository with name 'nothing' does not exist in the registry with id "
        "'000000000000'",
    }


def test_a_referrer_may_come_before_its_subject(setup) -> None:
    registry, _, _, config = setup
    later = "sha256:" + "1" * 64
    early = registry.put_manifest(
        "early", artifact(later, 10, "application/vnd.example.sbom.v1", config)
    )
    assert early.status_code == 201 and early.headers["OCI-Subject"] == later
    assert len(registry("GET", f"{REPO}/referrers/{later}").json()["manifests"]) == 1


def test_referrers_need_batch_get_image(running_lab: RunningLab, setup) -> None:
    _, subject, _, _ = setup
    lister = user(running_lab, "lister", "ecr:GetAuthorizationToken", "ecr:ListImages")
    refused = Registry(running_lab, password(running_lab, **lister))(
        "GET", f"{REPO}/referrers/{subject}"
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0] == {
        "code": "DENIED",
        "message": "User: arn:aws:iam::000000000000:user/lister is not authorized to perform: "
        "ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:000000000000:repository/app "
        "because no identity-based policy allows the ecr:BatchGetImage action",
    }
    puller = user(running_lab, "puller", "ecr:GetAuthorizationToken", "ecr:BatchGetImage")
    allowed = Registry(running_lab, password(running_lab, **puller))(
        "GET", f"{REPO}/referrers/{subject}"
    )
    assert allowed.status_code == 200


def test_oras_attaches_an_artifact_to_an_image(
    running_lab: RunningLab, setup, tmp_path, monkeypatch
) -> None:
    """oras-py (PyPI `oras`), a real OCI client, pushes a signature with a subject."""
    oras_client = pytest.importorskip("oras.client")
    from oras.oci import Subject

    registry, subject, size, _ = setup
    host = running_lab.lab.registry_host
    oras = oras_client.OrasClient(hostname=host, insecure=True, auth_backend="basic")
    oras.login(username="AWS", password=registry.auth[1], hostname=host)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signature.txt").write_text("signed by the lab\n")
    pushed = oras.push(
        target=f"{host}/{REPO}:signature",
        files=["signature.txt:application/vnd.example.signature.v1"],
        subject=Subject(mediaType=DOCKER_MANIFEST, digest=subject, size=size),
        manifest_annotations={"org.example.signer": "lab"},
        quiet=True,
    )
    assert pushed.status_code == 201
    assert pushed.headers["OCI-Subject"] == subject
    index = registry("GET", f"{REPO}/referrers/{subject}").json()
    (found,) = index["manifests"]
    assert found["digest"] == pushed.headers["Docker-Content-Digest"]
    assert found["annotations"]["org.example.signer"] == "lab"
    # and oras pulls it back by tag
    files = oras.pull(target=f"{host}/{REPO}:signature", outdir=str(tmp_path / "out"))
    assert [p.rsplit("/", 1)[-1] for p in files] == ["signature.txt"]
    assert digest_of((tmp_path / "out" / "signature.txt").read_bytes()) == digest_of(
        b"signed by the lab\n"
    )
