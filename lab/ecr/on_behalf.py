"""Repositories ECR creates on your behalf, as the service's methods: from a repository
creation template (CREATE_ON_PUSH, lab.ecr.templates) or by a pull through cache import
(lab.ecr.pull_through). Mixed into `Ecr`, whose lock, registries and changes they use."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

from lab.ecr import images, pull_through, templates
from lab.ecr.context import Context
from lab.ecr.model import Registry


class OnBehalf:
    """The service's methods for repositories and images ECR creates itself."""

    _lock: threading.RLock
    upstreams: dict[str, str]

    def _context(self, account: str, region: str) -> Context: ...  # Ecr's

    def _registry(self, account: str, region: str) -> Registry: ...  # Ecr's

    def _change(self, registry: Registry) -> AbstractContextManager[None]: ...  # Ecr's

    def creation_template(
        self, account: str, region: str, name: str, applied_for: str
    ) -> dict[str, Any] | None:
        """The repository creation template ECR would apply to `name` (lab.ecr.templates)."""
        with self._lock:
            registry = self._registry(account, region)
            return templates.creation_template(registry, name, applied_for)

    def create_on_behalf(self, account: str, region: str, name: str, applied_for: str) -> bool:
        """Create repository `name` as ECR does on your behalf for `applied_for`, from its
        creation template (lab.ecr.templates); False when it exists already."""
        with self._lock:
            ctx = self._context(account, region)
            if name in ctx.registry.repositories:
                return False
            with self._change(ctx.registry):
                templates.apply_creation_template(ctx, name, applied_for)
            return True

    def pull_through_rule(self, account: str, region: str, name: str) -> dict[str, Any] | None:
        """The pull through cache rule whose prefix covers repository `name`, or None."""
        with self._lock:
            return pull_through.rule_for(self._registry(account, region), name)

    def holds_image(self, account: str, region: str, name: str, reference: str) -> bool:
        """Whether the repository exists and a tag or digest names a pullable image in it."""
        with self._lock:
            repository = self._registry(account, region).repositories.get(name)
            found = repository and (
                repository.images.get(reference)
                if ":" in reference
                else repository.image_by_tag(reference)
            )
            return bool(found and found.status == "ACTIVE")

    def import_image(
        self,
        account: str,
        region: str,
        name: str,
        reference: str,
        manifests: list[tuple[bytes, str]],
        blobs: dict[str, bytes],
    ) -> None:
        """Store an image fetched from upstream (BatchImportUpstreamImage's work) in one change:
        the repository is created first if missing (a PULL_THROUGH_CACHE template applies);
        the last manifest is the one `reference` names."""
        with self._lock:
            ctx = self._context(account, region)
            with self._change(ctx.registry):
                if name not in ctx.registry.repositories:
                    templates.apply_creation_template(ctx, name, "PULL_THROUGH_CACHE")
                repository = ctx.registry.repositories[name]
                for data in blobs.values():
                    repository.layers[ctx.blobs.put(data)] = len(data)
                for index, (manifest, media_type) in enumerate(manifests, start=1):
                    tag = reference if index == len(manifests) and ":" not in reference else None
                    images.put_manifest(
                        ctx, repository, manifest, media_type, tag, repeat_is_error=False
                    )

