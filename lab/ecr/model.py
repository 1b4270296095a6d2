"""ECR's state for one registry (account and region): repositories, images, layers, uploads.

Plain data that round-trips through JSON; the operations mutate it and the service persists it.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.ecr.errors import REPOSITORY_NOT_FOUND

REPOSITORY_ARN = re.compile(
    r"arn:aws:ecr:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):repository/(?P<name>.+)"
)


def repository_arn(account: str, region: str, name: str) -> str:
    """`arn:aws:ecr:REGION:ACCT:repository/NAME`."""
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


@dataclass
class Image:
    """One manifest in a repository, by digest, with the tags that point at it."""

    digest: str
    media_type: str
    pushed_at: float
    size: int
    blobs: list[str]
    manifests: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    artifact_media_type: str | None = None
    # OCI 1.1: the manifest's own artifactType, the image it refers to, its annotations.
    artifact_type: str | None = None
    subject: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    # As DescribeImages shows them: imageStatus (ACTIVE, ARCHIVED, ACTIVATING), lastArchivedAt.
    image_status: str = "ACTIVE"
    last_archived_at: float | None = None
    last_recorded_pull_time: float | None = None


@dataclass
class Repository:
    """A repository and everything ECR keeps in it."""

    name: str
    created_at: float
    image_tag_mutability: str = "MUTABLE"
    mutability_exclusion_filters: list[dict[str, str]] = field(default_factory=list)
    image_scanning_configuration: dict[str, Any] = field(
        default_factory=lambda: {"scanOnPush": False}
    )
    encryption_configuration: dict[str, Any] = field(
        default_factory=lambda: {"encryptionType": "AES256"}
    )
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None
    lifecycle_policy: str | None = None
    lifecycle_evaluated_at: float | None = None  # GetLifecyclePolicy's lastEvaluatedAt
    lifecycle_preview: dict[str, Any] | None = None  # the last StartLifecyclePolicyPreview
    images: dict[str, Image] = field(default_factory=dict)  # by digest
    layers: dict[str, int] = field(default_factory=dict)  # digest -> size
    uploads: list[str] = field(default_factory=list)  # upload ids in progress

    def image_by_tag(self, tag: str) -> Image | None:
        """The image the tag points at, if any."""
        return next((image for image in self.images.values() if tag in image.tags), None)

    def tag_is_immutable(self, tag: str) -> bool:
        """Whether the repository's mutability setting forbids moving this tag."""
        excluded = any(
            fnmatch.fnmatchcase(tag, rule["filter"]) for rule in self.mutability_exclusion_filters
        )
        mode = self.image_tag_mutability
        return mode == "IMMUTABLE" or (
            (mode == "IMMUTABLE_WITH_EXCLUSION" and not excluded)
            or (mode == "MUTABLE_WITH_EXCLUSION" and excluded)
        )

    def referenced_blobs(self) -> set[str]:
        """Digests of every layer and config some image in the repository references."""
        return {digest for image in self.images.values() for digest in image.blobs}


@dataclass
class Registry:
    """One account's registry in one region."""

    account: str
    region: str
    repositories: dict[str, Repository] = field(default_factory=dict)
    policy: str | None = None  # the registry policy's text
    settings: dict[str, str] = field(default_factory=dict)  # account settings put so far

    def repository(self, name: str) -> Repository:
        """The repository, or ECR's RepositoryNotFoundException."""
        repository = self.repositories.get(name)
        if repository is None:
            raise REPOSITORY_NOT_FOUND(name=name, registry_id=self.account)
        return repository

    def to_json(self) -> dict[str, Any]:
        """The registry as a JSON document."""
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Registry:
        """Rebuild a registry written by `to_json`."""
        repositories = {}
        for name, data in document["repositories"].items():
            images = {d: Image(**image) for d, image in data.pop("images").items()}
            repositories[name] = Repository(**data, images=images)
        return cls(
            document["account"],
            document["region"],
            repositories,
            document.get("policy"),  # absent from registries saved before registry policies
            dict(document.get("settings", {})),
        )
