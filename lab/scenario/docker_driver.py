"""The registry operations through a real Docker engine (docker SDK 7.x).

The image is built offline (`FROM scratch`, custom context). Each call passes the instance's
credentials explicitly, so instances sharing one engine never share a login. SDK 7.x push does
not raise: its stream's last line carries `errorDetail` (FACTS "docker SDK").
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

from lab.scenario.clients import Failed, Refused, Session
from lab.scenario.image import build_context

# docker prints a registry refusal as "... denied: <the registry's message>".
_DENIED = re.compile(r"denied: (User: .*)", re.DOTALL)
DAEMON_PREFIX = "Error response from daemon: "


def engine() -> Any | None:
    """A docker client when an engine answers, else None."""
    try:
        import docker  # imported here: the SDK costs start-up time the protocol path never needs

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception:  # no SDK, no socket, no daemon: the demo falls back to the protocol
        return None
    return client


def _refusal(shown: str) -> Exception:
    found = _DENIED.search(shown)
    return Refused(found[1].strip(), shown) if found else Failed(shown)


class DockerDriver:
    """docker login, push and pull, as the tutorial's instances ran them."""

    name = "docker"

    def __init__(self, client: Any, label: str) -> None:
        self.client = client
        self.built = f"ecr-lab-demo/{label}:latest"
        client.images.build(
            fileobj=io.BytesIO(build_context(label)), custom_context=True, tag=self.built, rm=True
        )

    def _auth(self, password: str) -> dict[str, str]:
        return {"username": "AWS", "password": password}

    def login(self, session: Session, password: str) -> None:
        from docker.errors import APIError

        try:
            self.client.login(
                username="AWS", password=password, registry=session.registry, reauth=True
            )
        except APIError as error:
            raise _refusal(DAEMON_PREFIX + str(error.explanation)) from None

    def push(self, session: Session, password: str, repository: str, tag: str) -> None:
        target = f"{session.registry}/{repository}"
        self.client.images.get(self.built).tag(target, tag)
        stream = self.client.images.push(
            target, tag=tag, stream=True, decode=True, auth_config=self._auth(password)
        )
        errors = [
            line["errorDetail"].get("message", "") for line in stream if "errorDetail" in line
        ]
        if errors:
            raise _refusal(errors[-1])

    def pull(self, session: Session, password: str, repository: str, tag: str) -> None:
        from docker.errors import APIError, ImageNotFound

        target = f"{session.registry}/{repository}"
        with contextlib.suppress(ImageNotFound):  # a pull must fetch, not find a local copy
            self.client.images.remove(f"{target}:{tag}", force=True)
        try:
            self.client.images.pull(target, tag=tag, auth_config=self._auth(password))
        except APIError as error:
            raise _refusal(DAEMON_PREFIX + str(error.explanation)) from None
