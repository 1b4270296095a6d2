"""A small image built offline: one layer with one file, its config, and its manifest.

The bytes are deterministic (fixed times, sorted keys), so the same scenario always pushes
the same digest. Docker's schema 2 formats (image-spec, distribution manifest v2.2).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
FILE_NAME = "hello.txt"
DOCKERFILE = f"FROM scratch\nCOPY {FILE_NAME} /\n"


@dataclass(frozen=True)
class Blob:
    """Content-addressed bytes: a layer or a config."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.data)


@dataclass(frozen=True)
class Image:
    """An image as a registry stores it."""

    config: Blob
    layers: tuple[Blob, ...]
    manifest: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Every blob, in the order docker uploads them (layers, then config)."""
        return (*self.layers, self.config)


def digest_of(data: bytes) -> str:
    """The OCI digest of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_content(label: str) -> bytes:
    """The one file the image holds."""
    return f"pushed by ecr-lab: {label}\n".encode()


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_context(label: str) -> bytes:
    """A docker build context (tar): the Dockerfile and the file it copies."""
    return _tar({"Dockerfile": DOCKERFILE.encode(), FILE_NAME: file_content(label)})


def build_image(label: str) -> Image:
    """The image `FROM scratch` + COPY of one file, built without any daemon."""
    layer_tar = _tar({FILE_NAME: file_content(label)})
    layer = Blob(LAYER_TYPE, gzip.compress(layer_tar, mtime=0))
    config_doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(layer_tar)]},
        "history": [{"created_by": f"COPY {FILE_NAME} / # ecr-lab"}],
    }
    config = Blob(CONFIG_TYPE, json.dumps(config_doc, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "size": len(config.data), "digest": config.digest},
        "layers": [{"mediaType": LAYER_TYPE, "size": len(layer.data), "digest": layer.digest}],
    }
    return Image(config, (layer,), json.dumps(manifest, indent=3).encode())
