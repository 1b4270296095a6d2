"""What an operation works on: the addressed registry's state and the shared services."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from lab.ecr.blobs import BlobStore
from lab.ecr.model import Registry


@dataclass(frozen=True)
class Context:
    """One request's view of ECR: the registry it addresses, the blobs, the clock."""

    registry: Registry
    blobs: BlobStore
    host: str  # the lab's registry host:port, for repository URIs and download URLs
    now: float
    validate_policy: Callable[[str], None]
    # The repositories a listing may show (the caller's to see); None: all of them.
    visible: Collection[str] | None = None
    # The caller's IAM principal (a session's role), for pull-time update exclusions.
    principal: str | None = None
    replica: bool = False  # ECR's replication writes this image: it is not replicated again
    # Upstream registry URL -> the loopback address that serves it (`serve --upstream-registry`).
    upstreams: Mapping[str, str] = field(default_factory=dict)
