"""The clients an emulated instance uses: `aws ecr get-login-password`, then docker or the
lab's own registry client doing docker's requests.

A refusal is reported twice: AWS's message (for the JSON) and what the client prints (for
people), e.g. docker's "Error response from daemon: pull access denied for ...".
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lab.botocore_session import shared_client
from lab.scenario.image import build_image
from lab.scenario.registry_client import RegistryClient, RegistryRefusal


@dataclass(frozen=True)
class Session:
    """An instance's instance-profile credentials and the lab's addresses (`session_for`)."""

    principal: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    region: str
    endpoint_url: str
    registry: str

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> Session:
        """From the lab's session answer (`Lab.session_for` / POST /_lab/session)."""
        return cls(
            answer["principal"],
            answer["accessKeyId"],
            answer["secretAccessKey"],
            answer.get("sessionToken"),
            answer["region"],
            answer["endpointUrl"],
            answer["registry"],
        )


class Refused(Exception):
    """An authorization refusal: AWS's message and the client's own words."""

    def __init__(self, message: str, shown: str) -> None:
        super().__init__(shown)
        self.message, self.shown = message, shown


class Failed(Exception):
    """A failure that is not an authorization decision (the client's own words)."""


def refused_action(message: str) -> str | None:
    """The IAM action an AWS denial message names."""
    found = re.search(r"is not authorized to perform: (\S+) on resource", message)
    return found[1] if found else None


def get_login_password(session: Session) -> str:
    """`aws ecr get-login-password`: GetAuthorizationToken, decoded to its password."""
    ecr = shared_client(
        "ecr",
        session.region,
        session.endpoint_url,
        session.access_key_id,
        session.secret_access_key,
        session.session_token,
    )
    try:
        data = ecr.get_authorization_token()["authorizationData"][0]
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"]["Message"]
        # the aws CLI's words for a refused call
        shown = f"An error occurred ({code}) when calling the GetAuthorizationToken operation: "
        shown += message
        if code == "AccessDeniedException":
            raise Refused(message, shown) from None
        raise Failed(shown) from None
    _, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return password


class RegistryDriver(Protocol):
    """Logs in, pushes and pulls for one instance at a time."""

    name: str

    def login(self, session: Session, password: str) -> None: ...

    def push(self, session: Session, password: str, repository: str, tag: str) -> None: ...

    def pull(self, session: Session, password: str, repository: str, tag: str) -> None: ...


def pull_denied_text(registry: str, repository: str, message: str) -> str:
    """What docker prints when a pull is denied (the tutorial's transcript)."""
    return (
        f"Error response from daemon: pull access denied for {registry}/{repository}, "
        f"repository does not exist or may require 'docker login': denied: {message}"
    )


class ProtocolDriver:
    """The lab's own registry client, making docker's request sequence."""

    name = "protocol"

    def __init__(self, label: str) -> None:
        self.image = build_image(label)

    @contextmanager
    def _client(
        self, session: Session, password: str, pulling: str | None = None
    ) -> Iterator[RegistryClient]:
        """A client whose refusals become Refused/Failed, worded as docker words them."""
        with RegistryClient(session.registry, "AWS", password) as client:
            try:
                yield client
            except RegistryRefusal as refusal:
                shown = f"{refusal.code.lower()}: {refusal.message}"
                if not refusal.denied:
                    raise Failed(shown) from None
                if pulling is not None:
                    shown = pull_denied_text(session.registry, pulling, refusal.message)
                raise Refused(refusal.message, shown) from None
            except OSError as error:
                raise Failed(f"cannot reach {session.registry}: {error}") from None

    def login(self, session: Session, password: str) -> None:
        with self._client(session, password) as client:
            client.login()

    def push(self, session: Session, password: str, repository: str, tag: str) -> None:
        with self._client(session, password) as client:
            client.push(repository, tag, self.image)

    def pull(self, session: Session, password: str, repository: str, tag: str) -> None:
        with self._client(session, password, pulling=repository) as client:
            client.pull(repository, tag)
