"""moto's IAM backends with AWS's managed policies, built once per moto version and then cached.

moto loads its ~1,600 AWS managed policies into every new account's IAM (JSON parsing and
re-serialising: ~0.2 s). The first build is pickled under the user's cache directory and
later backends read it back (~0.06 s): the same objects moto builds, its own IDs included,
like the fixed policy IDs of AWS's managed policies. The cache is trusted as the user's own
files are (it is unpickled). Call everything here with the lab's moto lock held: moto's
backends and settings are process-wide.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto import __version__ as moto_version
from moto.core.config import default_user_config
from moto.iam.models import IAMBackend, ManagedPolicy

from lab.store import write_bytes_atomic

# IAM is global: moto keeps one backend per partition, and the lab's is AWS's.
PARTITION = "aws"


def cache_file() -> Path:
    """Where the managed policies of this moto version are kept ($XDG_CACHE_HOME or ~/.cache)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "ecr-lab" / f"moto-{moto_version}-aws-managed-policies.pickle"


def new_iam_backend(regions: Any, *, with_policies: bool = True) -> IAMBackend:
    """A new IAM backend in moto's `regions` of one account (replacing any there), with AWS's
    managed policies (from the cache when it has them) or, for a stand-in, none."""
    dict.pop(regions, PARTITION, None)
    cached = _read_cache(regions.account_id) if with_policies else []
    if cached is None:  # moto builds them; the cache keeps them for the next backend
        backend = regions[PARTITION]
        _write_cache(backend.aws_managed_policies)
        return backend
    with without_loading_managed_policies():
        backend = regions[PARTITION]
    backend.aws_managed_policies = cached
    backend.managed_policies = {policy.arn: policy for policy in cached}
    return backend


def as_shipped(policy: ManagedPolicy) -> bool:
    """True while an AWS managed policy is as moto loaded it (attachments aside)."""
    only_version = [version.version_id for version in policy.versions]
    first_unused = int(policy.default_version_id.lstrip("v")) + 1
    return (
        not policy.tags
        and only_version == [policy.default_version_id]
        and policy.next_version_num == first_unused
    )


@contextmanager
def without_loading_managed_policies() -> Iterator[None]:
    """moto's IAM set-up skips AWS's managed policies meanwhile."""
    settings = default_user_config.setdefault("iam", {})
    saved = settings.get("load_aws_managed_policies")
    settings["load_aws_managed_policies"] = False
    try:
        yield
    finally:
        settings["load_aws_managed_policies"] = saved


def _read_cache(account: str) -> list[ManagedPolicy] | None:
    try:
        with cache_file().open("rb") as stream:
            policies = pickle.load(stream)
    except Exception:  # missing, torn or from an incompatible moto: a cache, so rebuild
        return None
    if not isinstance(policies, list) or not all(isinstance(p, ManagedPolicy) for p in policies):
        return None
    for policy in policies:
        policy.account_id = account
    return policies


def _write_cache(policies: list[ManagedPolicy]) -> None:
    """Pickle `policies` (as built: no attachments) atomically; a cache that fails is skipped."""
    try:
        write_bytes_atomic(cache_file(), pickle.dumps(policies, protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, RuntimeError, pickle.PicklingError):  # RuntimeError: no home directory
        return
