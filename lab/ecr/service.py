"""ECR as plain Python: `Ecr.handle(operation, params)` answers as ECR's JSON 1.1 API does.

No HTTP and no authorization here: the server authorizes (with `lab.ecr.actions.target`)
before it calls in. State is kept per (account, region) in
`<state_dir>/registries/ACCT/REGION.json`, written atomically after every change; blobs live in
`<state_dir>/blobs`.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.ecr import (
    backfills,
    blob_mounting,
    images,
    layers,
    lifecycle_ops,
    policies,
    pull_through,
    pulls,
    referrers,
    registry_policy,
    replicas,
    replication,
    repositories,
    scanning,
    signing,
    storage,
    templates,
)
from lab.ecr.actions import target
from lab.ecr.blobs import BlobStore, digest_of
from lab.ecr.context import Context
from lab.ecr.errors import IMAGE_DIGEST_DOES_NOT_MATCH, NOT_EMULATED
from lab.ecr.model import Registry
from lab.ecr.on_behalf import OnBehalf
from lab.ecr.operation import Operation
from lab.ecr.validation import operation_model
from lab.errors import AwsError
from lab.store import read_json, write_json_atomic

log = logging.getLogger(__name__)

OPERATIONS: dict[str, Operation] = {
    "CreateRepository": Operation(repositories.create_repository, True),
    "DescribeRepositories": Operation(repositories.describe_repositories, False),
    "DeleteRepository": Operation(repositories.delete_repository, True),
    "PutImageTagMutability": Operation(repositories.put_image_tag_mutability, True),
    "DescribeRegistry": Operation(repositories.describe_registry, False),
    "TagResource": Operation(repositories.tag_resource, True),
    "UntagResource": Operation(repositories.untag_resource, True),
    "ListTagsForResource": Operation(repositories.list_tags_for_resource, False),
    "SetRepositoryPolicy": Operation(policies.set_repository_policy, True),
    "GetRepositoryPolicy": Operation(policies.get_repository_policy, False),
    "DeleteRepositoryPolicy": Operation(policies.delete_repository_policy, True),
    "PutLifecyclePolicy": Operation(policies.put_lifecycle_policy, True),
    "GetLifecyclePolicy": Operation(policies.get_lifecycle_policy, False),
    "DeleteLifecyclePolicy": Operation(policies.delete_lifecycle_policy, True),
    "StartLifecyclePolicyPreview": Operation(lifecycle_ops.start_lifecycle_policy_preview, True),
    "GetLifecyclePolicyPreview": Operation(lifecycle_ops.get_lifecycle_policy_preview, True),
    "ListImageReferrers": Operation(referrers.list_image_referrers, False),
    "BatchCheckLayerAvailability": Operation(layers.batch_check_layer_availability, False),
    "InitiateLayerUpload": Operation(layers.initiate_layer_upload, True),
    "UploadLayerPart": Operation(layers.upload_layer_part, False),
    "CompleteLayerUpload": Operation(layers.complete_layer_upload, True),
    "GetDownloadUrlForLayer": Operation(layers.get_download_url_for_layer, False),
    "PutImage": Operation(images.put_image, True),
    "BatchGetImage": Operation(images.batch_get_image, False, records=True),
    "DescribeImages": Operation(images.describe_images, False),
    "ListImages": Operation(images.list_images, False),
    "BatchDeleteImage": Operation(images.batch_delete_image, True),
    "PutRegistryPolicy": Operation(registry_policy.put_registry_policy, True),
    "GetRegistryPolicy": Operation(registry_policy.get_registry_policy, False),
    "DeleteRegistryPolicy": Operation(registry_policy.delete_registry_policy, True),
    "GetAccountSetting": Operation(registry_policy.get_account_setting, False),
    "PutReplicationConfiguration": Operation(replication.put_replication_configuration, True),
    "DescribeImageReplicationStatus": Operation(
        replication.describe_image_replication_status, False
    ),
    "StartReplicationBackfill": Operation(backfills.start_replication_backfill, True),
    "StopReplicationBackfill": Operation(backfills.stop_replication_backfill, True),
    "ListReplicationBackfills": Operation(backfills.list_replication_backfills, False),
    "DescribeReplicationBackfillResults": Operation(
        backfills.describe_replication_backfill_results, False
    ),
    "PutAccountSetting": Operation(registry_policy.put_account_setting, True),
    **scanning.OPERATIONS,
    **storage.OPERATIONS,
    **pulls.OPERATIONS,
    **signing.OPERATIONS,
    **templates.OPERATIONS,
    **pull_through.OPERATIONS,
}


def _named_registry(operation: str, params: dict[str, Any]) -> str | None:
    """The registryId of an operation that has one; JSON members the operation does not
    define are ignored, as AWS's JSON protocol ignores them (PutRegistryPolicy has none)."""
    shape = operation_model(operation).input_shape
    return params.get("registryId") if shape and "registryId" in shape.members else None


class Ecr(OnBehalf):
    """ECR's repositories, images and layers for every account and region, on disk."""

    def __init__(
        self,
        state_dir: Path,
        registry_host: str | Callable[[str, str], str],
        validate_policy: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = Path(state_dir)
        # host:port that docker uses for a registry (one host, or one per account and region)
        self._host_of = registry_host if callable(registry_host) else lambda *_: registry_host
        self.blobs = BlobStore(self.state_dir / "blobs")
        self._validate_policy = validate_policy
        self._clock = clock
        self._registries: dict[tuple[str, str], Registry] = {}
        # Each registry's document as last written: what a change that fails to save reverts to.
        self._saved: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.RLock()
        # Upstream registry URL -> the loopback address serving it (pull through cache).
        self.upstreams: dict[str, str] = {}

    def handle(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        account: str,
        region: str,
        visible: Collection[str] | None = None,
        principal: str | None = None,
    ) -> dict[str, Any]:
        """Run one ECR API operation and return its JSON response body; a listing shows only
        the `visible` repositories (all when None). `principal` is the caller's IAM principal."""
        # target() validates the request against botocore's model first.
        where = target(operation, params, account=account, region=region).repository
        if operation not in OPERATIONS:
            raise NOT_EMULATED(operation=operation)
        owner, place = (
            (where[0], where[1])
            if where
            else (_named_registry(operation, params) or account, region)
        )
        handler, mutates, records = OPERATIONS[operation]
        with self._lock:
            ctx = replace(self._context(owner, place), visible=visible, principal=principal)
            if records:
                with self._record(ctx.registry):
                    return handler(ctx, params)
            if not mutates:
                return handler(ctx, params)
            with self._change(ctx.registry):
                return handler(ctx, params)

    def reset(self) -> None:
        """Forget every registry, repository, image, layer and upload."""
        with self._lock:
            self._registries.clear()
            self._saved.clear()
            # Files only: removing directories costs milliseconds each on some disks.
            for path in self.state_dir.rglob("*"):
                if not path.is_dir():
                    path.unlink()
            self.blobs = BlobStore(self.state_dir / "blobs")

    def apply_lifecycle_policies(self, account: str | None = None) -> list[dict[str, Any]]:
        """Evaluate every repository's lifecycle policy now (one account's, or all), as ECR's
        own job does; per repository with a policy, the digests it expired and archived."""
        report = []
        with self._lock:
            for owner, region in self._registry_keys(account):
                registry, now = self._registry(owner, region), self._clock()
                with self._change(registry):
                    for repository in registry.repositories.values():
                        if repository.lifecycle_policy is not None:
                            done = lifecycle_ops.apply_lifecycle_policy(repository, now)
                            where = {"registryId": owner, "region": region}
                            report.append(where | {"repositoryName": repository.name} | done)
        return report

    # For the replication job (lab.jobs.replication)

    def replication_work(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every copy still to make: (source account, source region, its status entry)."""
        with self._lock:
            return [
                (account, region, work)
                for account, region in self._registry_keys(None)
                for work in replication.pending(self._registry(account, region))
            ]

    def replicate(self, account: str, region: str, work: dict[str, Any], *, create: bool) -> None:
        """Copy one pending image into its destination registry (whole or not at all)."""
        with self._lock:
            source = self._context(account, region)
            target = replace(self._context(work["registryId"], work["region"]), replica=True)
            with self._change(target.registry):
                replicas.copy_image(
                    source, target, work["repositoryName"], work["imageDigest"], create=create
                )

    def settle_replication(
        self, account: str, region: str, work: dict[str, Any], failure: str | None = None
    ) -> None:
        """Record a copy's outcome in the source registry: COMPLETE, or FAILED with `failure`."""
        with self._lock:
            registry = self._registry(account, region)
            with self._change(registry):
                status = "COMPLETE" if failure is None else "FAILED"
                replication.settle(registry, work, status, failure)
                backfills.record(registry, work, status, failure, self._clock())

    # For the authorizer

    def repository_policy(self, account: str, region: str, name: str) -> str | None:
        """The repository's policy text, or None (also when there is no such repository)."""
        with self._lock:
            repository = self._registry(account, region).repositories.get(name)
            return repository.policy if repository else None

    def registry_policy(self, account: str, region: str, action: str) -> str | None:
        """The registry policy that takes part in deciding `action` in the registry (its scope
        decides), or None."""
        with self._lock:
            ctx = self._context(account, region)
            scope = registry_policy.setting(ctx, registry_policy.REGISTRY_POLICY_SCOPE)
            return registry_policy.governing_policy(ctx.registry.policy, scope, action)

    def repository_names(self, account: str, region: str) -> list[str]:
        """The names of the registry's repositories."""
        with self._lock:
            return list(self._registry(account, region).repositories)

    def repository_tags(self, account: str, region: str, name: str) -> dict[str, str]:
        """The repository's resource tags ({} when there is no such repository)."""
        with self._lock:
            repository = self._registry(account, region).repositories.get(name)
            return dict(repository.tags) if repository else {}

    # For the registry API: the same state and rules, addressed by name

    def start_upload(self, account: str, region: str, name: str) -> str:
        """InitiateLayerUpload's work: a new upload id owned by the repository."""
        with self._lock:
            ctx = self._context(account, region)
            with self._change(ctx.registry):
                return layers.start_upload(ctx, ctx.registry.repository(name))

    def append_upload(
        self, account: str, region: str, name: str, upload_id: str, chunk: bytes
    ) -> int:
        """Append a chunk to the repository's upload; its new size. Only the ownership check
        holds the service lock, so big chunks stream in concurrently."""
        with self._lock:
            ctx = self._context(account, region)
            repository = ctx.registry.repository(name)
            layers.check_upload(ctx, repository, upload_id)
        return layers.append_upload(ctx, repository, upload_id, chunk)

    def upload_size(self, account: str, region: str, name: str, upload_id: str) -> int:
        """How many bytes the repository's upload holds."""
        with self._lock:
            ctx = self._context(account, region)
            repository = ctx.registry.repository(name)
            return layers.upload_size(ctx, repository, upload_id)

    def complete_upload(
        self, account: str, region: str, name: str, upload_id: str, digest: str
    ) -> str:
        """Commit the upload as layer `digest` of the repository (already there is fine)."""
        with self._lock:
            ctx = self._context(account, region)
            repository = ctx.registry.repository(name)
            verified = layers.verify_upload(ctx, repository, upload_id, [digest])
            with self._change(ctx.registry):
                layers.commit_upload(ctx, repository, upload_id, verified)
            return verified

    def mount_blob(self, account: str, region: str, name: str, source: str, digest: str) -> bool:
        """Mount layer `digest` of repository `source` into `name` if ECR would (blob
        mounting enabled, same encryption, a layer an image of `source` references)."""
        with self._lock:
            ctx = self._context(account, region)
            with self._change(ctx.registry):
                return blob_mounting.mount_layer(ctx, name, source, digest)

    def cancel_upload(self, account: str, region: str, name: str, upload_id: str) -> None:
        """Abandon the repository's upload."""
        with self._lock:
            ctx = self._context(account, region)
            with self._change(ctx.registry):
                layers.cancel_upload(ctx, ctx.registry.repository(name), upload_id)

    def layer_size(self, account: str, region: str, name: str, digest: str) -> int | None:
        """The layer's size if it exists in the repository (what a blob HEAD asks)."""
        with self._lock:
            return self._context(account, region).registry.repository(name).layers.get(digest)

    def layer_path(self, account: str, region: str, name: str, digest: str) -> Path:
        """Where a readable layer's bytes are (GetDownloadUrlForLayer's checks first)."""
        with self._lock:
            ctx = self._context(account, region)
            layers.check_layer_readable(ctx, ctx.registry.repository(name), digest)
            return self.blobs.path(digest)

    def put_manifest(
        self, account: str, region: str, name: str, reference: str, manifest: bytes, media_type: str
    ) -> str:
        """PutImage's work for a registry push by tag or digest; the manifest's digest."""
        with self._lock:
            ctx = self._context(account, region)
            repository = ctx.registry.repository(name)
            if ":" in reference and digest_of(manifest) != reference:
                raise IMAGE_DIGEST_DOES_NOT_MATCH(digest=reference, computed=digest_of(manifest))
            tag = None if ":" in reference else reference
            with self._change(ctx.registry):
                image = images.put_manifest(
                    ctx, repository, manifest, media_type, tag, repeat_is_error=False
                )
            return image.digest

    def get_manifest(
        self,
        account: str,
        region: str,
        name: str,
        reference: str,
        principal: str | None = None,
        pull: bool = False,
    ) -> tuple[bytes, str, str]:
        """The manifest a tag or digest names: (bytes, media type, digest). A `pull` by
        `principal` records the image's pull time."""
        with self._lock:
            ctx = replace(self._context(account, region), principal=principal)
            repository = ctx.registry.repository(name)
            with self._record(ctx.registry) if pull else nullcontext():  # a HEAD records nothing
                image = images.find_image(ctx, repository, reference, pull=pull)
            return self.blobs.read(image.digest), image.media_type, image.digest

    # State

    def _context(self, account: str, region: str) -> Context:
        return Context(
            registry=self._registry(account, region),
            blobs=self.blobs,
            host=self._host_of(account, region),
            now=self._clock(),
            validate_policy=self._validate_policy,
            upstreams=self.upstreams,
        )

    def _registry(self, account: str, region: str) -> Registry:
        key = (account, region)
        if key not in self._registries:
            document = read_json(self._path(account, region))
            registry = Registry.from_json(document) if document else Registry(account, region)
            self._registries[key] = registry
            self._saved[key] = registry.to_json()
        return self._registries[key]

    @contextmanager
    def _change(self, registry: Registry) -> Iterator[None]:
        """Apply a change to `registry` whole or not at all: it stays in memory only once it is
        on disk; if it fails or cannot be saved, memory reverts to the last saved document."""
        try:
            yield
        except AwsError:
            self._save(registry)  # a refusal may have cleaned up (e.g. cancelled an upload)
            raise
        except BaseException:
            self._revert(registry)
            raise
        self._save(registry)

    @contextmanager
    def _record(self, registry: Registry) -> Iterator[None]:
        """Keep what a read recorded (a pull time) if it can be saved; if it cannot, forget it
        and let the read answer: a full disk never fails a pull."""
        yield
        try:
            self._save(registry)
        except OSError:
            log.warning("could not save %s/%s's pull times", registry.account, registry.region)

    def _save(self, registry: Registry) -> None:
        key = (registry.account, registry.region)
        document = registry.to_json()
        if document == self._saved[key]:
            return  # nothing changed: spare the write and its fsyncs
        try:
            write_json_atomic(self._path(*key), document)
        except BaseException:
            self._revert(registry)
            raise
        self._saved[key] = document

    def _revert(self, registry: Registry) -> None:
        key = (registry.account, registry.region)
        self._registries[key] = Registry.from_json(copy.deepcopy(self._saved[key]))

    def _registry_keys(self, account: str | None) -> list[tuple[str, str]]:
        # Registries on disk and in memory: (account, region) of each.
        files = (self.state_dir / "registries").glob("*/*.json")
        keys = {(path.parent.name, path.stem) for path in files} | set(self._registries)
        return sorted(key for key in keys if account in (None, key[0]))

    def _path(self, account: str, region: str) -> Path:
        return self.state_dir / "registries" / account / f"{region}.json"
