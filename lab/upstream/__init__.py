"""Where the IAM directory lives: moto in process ("embedded") or a URL (LocalStack)."""

from __future__ import annotations

from pathlib import Path

from lab.upstream.base import Upstream, UpstreamResponse
from lab.upstream.remote import RemoteUpstream

__all__ = ["RemoteUpstream", "Upstream", "UpstreamResponse", "make_upstream"]

EMBEDDED = "embedded"


def make_upstream(
    spec: str, state_dir: Path, region: str, *, account: str | None = None
) -> Upstream:
    """The upstream `spec` names: "embedded" (moto, journaled under `state_dir`) or a URL.

    `account` selects the lab's account: moto's by header, LocalStack's by a 12-digit access
    key id (LocalStack's rule); None keeps each one's default.
    """
    if spec == EMBEDDED:
        from lab.upstream.embedded import EmbeddedMoto  # moto loads only when asked for

        return EmbeddedMoto(state_dir, region, **({"account": account} if account else {}))
    if spec.startswith(("http://", "https://")):
        return RemoteUpstream(spec, region, access_key=account or "test")
    raise ValueError(f"upstream must be {EMBEDDED!r} or an http(s) URL, not {spec!r}")
