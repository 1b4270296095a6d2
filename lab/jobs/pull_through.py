"""The pull through cache's import: fetch an image from its upstream registry, verified.

ECR User Guide, "Sync an upstream registry with an Amazon ECR private registry": the first pull
of an image under a rule's prefix has ECR fetch it from the upstream registry and store it in a
repository it creates (from a PULL_THROUGH_CACHE template when one matches). Fetching happens
outside the service's lock; `Ecr.import_image` stores what was fetched in one change.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.ecr.manifests import parse_manifest
from lab.ecr.upstream_client import UpstreamSession


@dataclass(frozen=True)
class UpstreamImage:
    """An image as fetched: its manifests (an index's images before the index) and blobs."""

    manifests: list[tuple[bytes, str]]
    blobs: dict[str, bytes]


def fetch_image(
    address: str, credentials: tuple[str, str] | None, repository: str, reference: str
) -> UpstreamImage:
    """Fetch `repository:reference` and everything it references from the upstream at
    `address`; every manifest and blob is checked against its digest (UpstreamFailure)."""
    session = UpstreamSession(address, credentials)
    top = session.manifest(repository, reference)
    manifests, blobs = [], {}
    for child in parse_manifest(top[0], top[1]).manifests:
        manifests.append(session.manifest(repository, child))
    manifests.append(top)
    for body, media_type in manifests:
        for digest in parse_manifest(body, media_type).blobs:
            if digest not in blobs:
                blobs[digest] = session.blob(repository, digest)
    return UpstreamImage(manifests, blobs)
