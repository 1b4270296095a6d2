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
    scan: dict[str, Any] | None = None  # the last basic scan (lab.ecr.scanning)
    status: str = "ACTIVE"  # ACTIVE or ARCHIVED (lab.ecr.storage)
    last_archived_at: float | None = None
    last_activated_at: float | None = None
    last_pulled_at: float | None = None  # lastRecordedPullTime (lab.ecr.pulls)
    signing_profiles: list[str] = field(default_factory=list)  # matched on push (signing)

    def activate(self, now: float) -> bool:
        """Restore an archived image to standard storage; whether it was archived. Its scan
        from before the archive is gone ("Restoring an image")."""
        if self.status != "ARCHIVED":
            return False
        self.status, self.last_activated_at, self.scan = "ACTIVE", now, None
        return True


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

    def pullable_blobs(self) -> set[str]:
        """Digests of every layer and config some active (not archived) image references."""
        active = (image for image in self.images.values() if image.status == "ACTIVE")
        return {digest for image in active for digest in image.blobs}

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
    scanning_configuration: dict[str, Any] = field(
        default_factory=lambda: {"scanType": "BASIC", "rules": []}
    )
    signing_configuration: dict[str, Any] | None = None
    pull_time_exclusions: dict[str, float] = field(default_factory=dict)  # ARN -> createdAt
    replication_configuration: dict[str, Any] | None = None  # PutReplicationConfiguration's
    # One status per (repository, image digest, destination region, registry): replication.py
    replication_statuses: list[dict[str, Any]] = field(default_factory=list)
    replication_backfills: list[dict[str, Any]] = field(default_factory=list)  # backfills.py
    creation_templates: dict[str, dict[str, Any]] = field(default_factory=dict)  # by prefix
    pull_through_cache_rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # by prefix

    def signing_profiles(self, repository: str) -> list[str]:
        """The signing profiles of the signing rules that match `repository`: a rule with no
        filters matches every repository, a filter's `*` any characters (managed signing)."""
        rules = (self.signing_configuration or {}).get("rules", [])
        return list(
            dict.fromkeys(
                rule["signingProfileArn"]
                for rule in rules
                if not rule.get("repositoryFilters")
                or any(
                    fnmatch.fnmatchcase(repository, f["filter"]) for f in rule["repositoryFilters"]
                )
            )
        )

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
        # Registry-wide settings are plain JSON; a document without one keeps its default.
        settings = {k: v for k, v in document.items() if k not in ("account", "region")}
        settings["repositories"] = repositories
        return cls(document["account"], document["region"], **settings)
