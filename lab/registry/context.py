"""What a registry handler works with: ECR's state for one account and region, and the host."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lab.ecr.service import Ecr

T = TypeVar("T")


@dataclass(frozen=True)
class RegistryContext:
    """One request's view of ECR: the service, the caller's account and region, our host:port."""

    ecr: Ecr
    account: str
    region: str
    host: str
    # A repository the front door found the caller may read layers from: `?mount=&from=` may
    # mount from it (blob mounting), never from another.
    mount_from: str | None = None
    principal: str | None = None  # the caller's IAM principal (a session's role)

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        """One of Ecr's registry methods for this account and region, off the event loop."""
        return await asyncio.to_thread(method, self.account, self.region, *args)

    async def api(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """An ECR API operation for this account and region, off the event loop."""
        return await asyncio.to_thread(
            self.ecr.handle, operation, params, account=self.account, region=self.region
        )
