"""Image manifests as ECR reads them: media type, referenced blobs and manifests, size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab import json_input
from lab.store import is_text

DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

# What BatchCheckLayerAvailability reports as a layer's media type.
LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"

_INDEXES = {DOCKER_MANIFEST_LIST, OCI_INDEX}
_SCHEMA1 = {DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED}


class InvalidManifest(ValueError):
    """The manifest is not JSON, or says nothing of its media type."""


@dataclass(frozen=True)
class Manifest:
    """What a manifest references and weighs."""

    media_type: str
    blobs: tuple[str, ...]  # config and layers: must be layers of the repository
    manifests: tuple[str, ...]  # an index's images: must be images of the repository
    size: int  # imageSizeInBytes: the sum of the referenced layers (or manifests) sizes
    artifact_media_type: str | None  # the config's media type
    # OCI 1.1 (image-spec manifest.md): the image this one refers to, its own artifactType
    # and annotations, which the referrers list carries.
    subject: str | None = None
    artifact_type: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()


def parse_manifest(data: bytes, media_type: str | None = None) -> Manifest:
    """Read `data`; `media_type` (the request's) wins over the manifest's own field."""
    try:
        document = json_input.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidManifest("not JSON") from error
    if not isinstance(document, dict):
        raise InvalidManifest("not a JSON object")
    kind = media_type or document.get("mediaType") or _schema1_type(document)
    if not isinstance(kind, str) or not is_text(kind):
        raise InvalidManifest("no media type")
    oci = _oci_fields(document)
    if kind in _INDEXES:
        entries = _descriptors(document.get("manifests"))
        return Manifest(kind, (), _digests(entries), _total(entries), None, **oci)
    if kind in _SCHEMA1:
        layers = [entry.get("blobSum") for entry in _descriptors(document.get("fsLayers"))]
        return Manifest(kind, _unique(d for d in layers if isinstance(d, str)), (), 0, None)
    config = document.get("config") if isinstance(document.get("config"), dict) else {}
    layers = _descriptors(document.get("layers"))
    blobs = _digests([config, *layers])
    artifact = config.get("mediaType")
    if isinstance(artifact, str) and not is_text(artifact):
        raise InvalidManifest("the config's media type is not text")
    return Manifest(
        kind, blobs, (), _total(layers), artifact if isinstance(artifact, str) else None, **oci
    )


def _oci_fields(document: dict[str, Any]) -> dict[str, Any]:
    subject = document.get("subject")
    digest = subject.get("digest") if isinstance(subject, dict) else None
    artifact_type = document.get("artifactType")
    annotations = document.get("annotations")
    return {
        "subject": digest if isinstance(digest, str) and is_text(digest) else None,
        "artifact_type": artifact_type
        if isinstance(artifact_type, str) and artifact_type and is_text(artifact_type)
        else None,
        "annotations": tuple(
            (k, v)
            for k, v in (annotations.items() if isinstance(annotations, dict) else ())
            if isinstance(v, str) and is_text(k) and is_text(v)
        ),
    }


def _schema1_type(document: dict[str, Any]) -> str | None:
    # Schema 1 manifests carry no mediaType; their shape names them.
    if document.get("schemaVersion") == 1:
        return DOCKER_MANIFEST_V1_SIGNED if "signatures" in document else DOCKER_MANIFEST_V1
    return None


def _descriptors(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _digests(descriptors: list[dict[str, Any]]) -> tuple[str, ...]:
    return _unique(d["digest"] for d in descriptors if isinstance(d.get("digest"), str))


def _total(descriptors: list[dict[str, Any]]) -> int:
    return sum(d["size"] for d in descriptors if isinstance(d.get("size"), int))


def _unique(digests: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(digests))
