"""What the lab acknowledged stays whole: invalid text is refused before it changes anything, and
a write that fails (a full disk) answers AWS's error with the previous state intact and readable.

Faults are injected in process at the store's system calls (os.pwrite, os.pwritev, os.fsync),
chosen by the path of the file written, while clients speak real HTTP to a lab on a loopback port.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from lab.store import TEMP_PREFIX, read_json
from tests.conftest import client
from tests.server_support import Answer, send

MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    with RunningLab(LabConfig(state_dir=tmp_path / "state")) as running:
        yield running


class Registry:
    """docker's side of a push and a pull, over HTTP with a GetAuthorizationToken login."""

    def __init__(self, running: RunningLab) -> None:
        self.url = running.url
        data = client(running, "ecr").get_authorization_token()["authorizationData"][0]
        self.auth = {"Authorization": f"Basic {data['authorizationToken']}"}

    def call(self, method: str, path: str, body: bytes = b"", **headers: str) -> Answer:
        return send(self.url, method, path, self.auth | headers, body)

    def push_layer(self, repository: str, data: bytes) -> Answer:
        """docker's way: POST, one PATCH with the whole layer, PUT ?digest=."""
        started = self.call("POST", f"/v2/{repository}/blobs/uploads/")
        if started.status != 202:
            return started
        location = started.headers["location"]
        patched = self.call("PATCH", location, data, **{"Content-Type": "application/octet-stream"})
        if patched.status != 202:
            return patched
        return self.call("PUT", f"{location}?digest={sha256(data)}")

    def push_blob(self, repository: str, data: bytes) -> Answer:
        """A monolithic upload: POST ?digest= with the bytes."""
        return self.call("POST", f"/v2/{repository}/blobs/uploads/?digest={sha256(data)}", data)

    def put_manifest(self, repository: str, tag: str, manifest: bytes) -> Answer:
        return self.call(
            "PUT", f"/v2/{repository}/manifests/{tag}", manifest, **{"Content-Type": MEDIA_TYPE}
        )

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        answer = self.call("GET", f"/v2/{repository}/manifests/{reference}", Accept=MEDIA_TYPE)
        return answer.headers["docker-content-digest"] if answer.status == 200 else None


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def image(layer: bytes, config: bytes) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": sha256(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": sha256(layer),
                }
            ],
        }
    ).encode()


PUSH_STEPS = ("layer", "config", "manifest")


def push(registry: Registry, repository: str, tag: str, seed: bytes, *, fail_at=None) -> Answer:
    """Push a new image; `fail_at(step)` runs before each step. The first failure is returned."""
    layer, config = os.urandom(4096) + seed, b'{"os":"linux","seed":"%s"}' % seed
    steps = {
        "layer": lambda: registry.push_layer(repository, layer),
        "config": lambda: registry.push_blob(repository, config),
        "manifest": lambda: registry.put_manifest(repository, tag, image(layer, config)),
    }
    answer = None
    for step in PUSH_STEPS:
        if fail_at:
            fail_at(step)
        answer = steps[step]()
        if answer.status >= 300:
            return answer
    assert answer is not None
    return answer


class DiskFull:
    """ENOSPC from os.pwrite, os.pwritev and os.fsync on files under one part of the state
    directory; a write first stores half its bytes, as a write that fills the disk does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, state: Path) -> None:
        self.under: Path | None = None
        self.failed = 0
        self.state = state
        real_pwrite, real_pwritev, real_fsync = os.pwrite, os.pwritev, os.fsync

        def pwrite(fd: int, data, offset: int) -> int:
            if self._full(fd):
                real_pwrite(fd, memoryview(data)[: len(data) // 2], offset)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_pwrite(fd, data, offset)

        def pwritev(fd: int, buffers, offset: int) -> int:
            if self._full(fd):
                first = memoryview(buffers[0])
                real_pwrite(fd, first[: len(first) // 2], offset)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_pwritev(fd, buffers, offset)

        def fsync(fd: int) -> None:
            if self._full(fd):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(os, "pwrite", pwrite)
        monkeypatch.setattr(os, "pwritev", pwritev)
        monkeypatch.setattr(os, "fsync", fsync)

    def _full(self, fd: int) -> bool:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        full = self.under is not None and self.under in path.parents
        self.failed += full
        return full

    def at(self, part: str | None) -> None:
        self.under = self.state / part if part else None


def temp_files(state: Path) -> list[Path]:
    return [path for path in state.rglob(f"{TEMP_PREFIX}*")]


def on_disk_tags(state: Path, repository: str) -> dict[str, list[str]]:
    """Each image's tags as the saved registry document holds them."""
    (document,) = [read_json(path) for path in (state / "registries").rglob("*.json")]
    images = document["repositories"][repository]["images"]
    return {digest: image["tags"] for digest, image in images.items()}


# ---- item: poison pill -----------------------------------------------------------------------


def test_a_lone_surrogate_tag_is_refused_and_poisons_nothing(lab: RunningLab) -> None:
    """TagResource with a lone surrogate: InvalidTagParameterException (ECR API reference,
    TagResource errors) and no change; every later save, push and read keeps working."""
    ecr = client(lab, "ecr")
    arn = ecr.create_repository(repositoryName="mine")["repository"]["repositoryArn"]
    for tag in ({"Key": "team", "Value": "\ud800"}, {"Key": "\udfff", "Value": "x"}):
        with pytest.raises(ClientError) as refused:
            ecr.tag_resource(resourceArn=arn, tags=[tag])
        assert refused.value.response["Error"]["Code"] == "InvalidTagParameterException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []
    ecr.create_repository(repositoryName="theirs")
    registry = Registry(lab)
    assert push(registry, "theirs", "v1", b"1").status == 201
    assert registry.manifest_digest("theirs", "v1") is not None
    assert sorted(r["repositoryName"] for r in ecr.describe_repositories()["repositories"]) == [
        "mine",
        "theirs",
    ]


@pytest.mark.parametrize(
    "tag",
    [
        {"Key": "", "Value": "x"},
        {"Key": "k" * 129, "Value": "x"},
        {"Key": "k", "Value": "v" * 257},
        {"Key": "bad#char", "Value": "x"},
        {"Key": "k", "Value": "new\nline"},
    ],
)
def test_a_bad_resource_tag_is_invalid_tag_parameter(lab: RunningLab, tag: dict) -> None:
    """AWS's tag rules: key 1-128, value 0-256 characters, letters, numbers, spaces, _.:/=+-@."""
    ecr = client(lab, "ecr")
    arn = ecr.create_repository(repositoryName="mine")["repository"]["repositoryArn"]
    with pytest.raises(ClientError) as refused:
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "ok", "Value": "1"}, tag])
    assert refused.value.response["Error"]["Code"] == "InvalidTagParameterException"
    with pytest.raises(ClientError) as at_creation:
        ecr.create_repository(repositoryName="other", tags=[tag])
    assert at_creation.value.response["Error"]["Code"] == "InvalidTagParameterException"
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["mine"]
    good = {"Key": "Team Name_1.2:/=+-@", "Value": "ünïcode 日本"}
    ecr.tag_resource(resourceArn=arn, tags=[good, {"Key": "k" * 128, "Value": ""}])
    assert len(ecr.list_tags_for_resource(resourceArn=arn)["tags"]) == 2


def test_lone_surrogates_elsewhere_are_refused_before_any_change(lab: RunningLab) -> None:
    """A policy, a lifecycle policy or a manifest media type that UTF-8 cannot hold."""
    ecr = client(lab, "ecr")
    ecr.create_repository(repositoryName="mine")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "\ud800", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"}],
    }
    with pytest.raises(ClientError) as refused:
        ecr.set_repository_policy(
            repositoryName="mine", policyText=json.dumps(policy, ensure_ascii=False)
        )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused.value.response["Error"]["Code"] == "SerializationException"
    with pytest.raises(ClientError) as refused:
        ecr.create_repository(
            repositoryName="kms",
            encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "\ud800"},
        )
    assert refused.value.response["Error"]["Code"] == "SerializationException"
    registry = Registry(lab)
    layer, config = b"layer", b"{}"
    assert registry.push_layer("mine", layer).status == 201
    assert registry.push_blob("mine", config).status == 201
    manifest = image(layer, config).replace(
        b"application/vnd.docker.container.image.v1+json", b"\\ud800"
    )
    refused_manifest = registry.put_manifest("mine", "v1", manifest)
    assert refused_manifest.status == 400
    assert refused_manifest.json()["errors"][0]["code"] == "MANIFEST_INVALID"
    assert push(registry, "mine", "v1", b"1").status == 201  # saves still work
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName="mine")
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["mine"]


# ---- item: a failed write leaves the previous state --------------------------------------------


@pytest.fixture
def disk(lab: RunningLab, monkeypatch: pytest.MonkeyPatch) -> DiskFull:
    return DiskFull(monkeypatch, lab.lab.config.state_dir / "ecr")


def test_a_change_that_cannot_be_saved_is_not_applied(lab: RunningLab, disk: DiskFull) -> None:
    """ECR API: ServerException (500) and the change is not visible, then or after a later save."""
    ecr = client(lab, "ecr", config=Config(retries={"total_max_attempts": 1}))
    arn = ecr.create_repository(repositoryName="kept")["repository"]["repositoryArn"]
    disk.at("registries")
    for change in (
        lambda: ecr.create_repository(repositoryName="lost"),
        lambda: ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k", "Value": "v"}]),
        lambda: ecr.delete_repository(repositoryName="kept"),
    ):
        with pytest.raises(ClientError) as failed:
            change()
        assert failed.value.response["Error"]["Code"] == "ServerException"
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert disk.failed == 3
    disk.at(None)
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["kept"]
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []
    ecr.create_repository(repositoryName="later")  # the next save writes memory: still whole
    document = read_json(next((disk.state / "registries").rglob("*.json")))
    assert sorted(document["repositories"]) == ["kept", "later"]
    assert temp_files(disk.state) == []


@pytest.mark.parametrize(
    ("part", "step"),
    [
        ("blobs/uploads", "layer"),  # the layer's bytes (PATCH) and their sync
        ("blobs/uploads", "config"),  # a monolithic upload's bytes
        ("registries", "layer"),  # the upload's start, saved in the registry's state
        ("blobs/sha256", "manifest"),  # the manifest's bytes
        ("registries", "manifest"),  # the registry's state with the moved tag
    ],
)
def test_a_push_that_fails_to_write_keeps_the_previous_image(
    lab: RunningLab, disk: DiskFull, part: str, step: str
) -> None:
    """A full disk at each step of a push that moves `latest`: 500 UNKNOWN, `latest` still
    names the old image in memory and on disk, reads keep working, no temporary file remains,
    and once there is room again the push succeeds."""
    client(lab, "ecr").create_repository(repositoryName="app")
    registry = Registry(lab)
    assert push(registry, "app", "latest", b"old").status == 201
    old = registry.manifest_digest("app", "latest")
    uploads_before = sorted(os.listdir(disk.state / "blobs" / "uploads"))

    failed = push(
        registry, "app", "latest", b"new", fail_at=lambda at: at == step and disk.at(part)
    )
    assert failed.status == 500, failed.body
    assert failed.json()["errors"][0]["code"] == "UNKNOWN"
    assert disk.failed >= 1
    assert registry.manifest_digest("app", "latest") == old  # while the disk is still full
    config = json.loads(registry.call("GET", f"/v2/app/manifests/{old}", Accept=MEDIA_TYPE).body)
    assert registry.call("GET", f"/v2/app/blobs/{config['config']['digest']}").status == 200
    assert temp_files(disk.state) == []
    if step == "config":  # a monolithic upload's id was never given out: nothing of it stays
        assert sorted(os.listdir(disk.state / "blobs" / "uploads")) == uploads_before
    for data in (disk.state / "blobs" / "uploads").iterdir():  # no bytes past acknowledged ones
        if data.suffix != ".json":
            acknowledged = read_json(data.with_name(f"{data.name}.json"), {"size": 0})["size"]
            assert data.stat().st_size == acknowledged

    disk.at(None)
    client(lab, "ecr").create_repository(repositoryName="another")  # a later save
    assert on_disk_tags(disk.state, "app")[old] == ["latest"]
    assert push(registry, "app", "latest", b"again").status == 201
    new = registry.manifest_digest("app", "latest")
    assert new not in (None, old)
    assert on_disk_tags(disk.state, "app") == {old: [], new: ["latest"]}
