"""Where IAM (and later EC2, SSM, CloudFormation, S3) lives: one interface, two homes.

Both homes build botocore clients the same way and re-sign forwarded requests the same way;
they differ only in how a signed request travels (`_send`): into moto in process, or over HTTP.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.client import BaseClient
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials

from lab.botocore_session import create_client

Headers = Sequence[tuple[str, str]]

# IAM and Organizations are global: their endpoint signs with us-east-1 whatever the region.
_SIGNING_REGION = {"iam": "us-east-1", "organizations": "us-east-1"}


@dataclass(frozen=True)
class UpstreamResponse:
    """The upstream's answer to one request, as raw HTTP."""

    status: int
    headers: Headers
    body: bytes


class Upstream(Protocol):
    """The IAM directory's home, reached with the upstream admin's own credentials."""

    region: str

    def client(self, service: str) -> BaseClient:
        """A new botocore client for `service` with the upstream admin's credentials."""
        ...

    def forward(self, service: str, form: bytes) -> UpstreamResponse:
        """Send an authorized query-protocol call on, as its canonical `form`, signed as the
        upstream admin."""
        ...

    def forward_json(self, service: str, target: str, body: bytes) -> UpstreamResponse:
        """Send an authorized JSON 1.1 call on, as the body encoded from its parameters."""
        ...


class _RawBody(BytesIO):
    """A body botocore can read as if it came off the wire."""

    def stream(self, **_: Any) -> Any:
        yield self.read()


class SigningUpstream(ABC):
    """What both homes share: clients whose requests go through `_send`, and `forward`."""

    def __init__(
        self,
        region: str,
        access_key: str,
        secret: str,
        endpoint_url: str | None,
    ) -> None:
        self.region = region
        self._credentials = Credentials(access_key, secret)
        self._endpoint_url = endpoint_url
        self._endpoints: dict[str, str] = {}

    def client(self, service: str) -> BaseClient:
        """A new botocore client for `service`; callers keep it (creating one costs ~20 ms)."""
        client = create_client(
            service,
            region=self.region,
            endpoint_url=self._endpoint_url,
            access_key_id=self._credentials.access_key,
            secret_access_key=self._credentials.secret_key,
            config=Config(retries={"total_max_attempts": 1}),  # our own _send retries
        )
        # Registered on this client's own event copy: other boto3 clients are untouched.
        client.meta.events.register("before-send", self._answer)
        return client

    def forward(self, service: str, form: bytes) -> UpstreamResponse:
        """POST a query-protocol `form` (the parameters that were authorized, encoded once by
        the front door) to the service's endpoint, signed with the upstream admin's credentials.

        Nothing of the client's request travels on: not its URL, its headers, nor its bytes.
        """
        content_type = "application/x-www-form-urlencoded; charset=utf-8"
        return self._post(service, {"Content-Type": content_type}, form)

    def forward_json(self, service: str, target: str, body: bytes) -> UpstreamResponse:
        """POST a JSON 1.1 call (`target` is its X-Amz-Target) whose `body` the front door
        encoded from the parameters it authorized, signed as the upstream admin."""
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        return self._post(service, headers, body)

    def _post(self, service: str, headers: dict[str, str], body: bytes) -> UpstreamResponse:
        request = AWSRequest(
            method="POST", url=self._endpoint(service) + "/", headers=headers, data=body
        )
        region = _SIGNING_REGION.get(service, self.region)
        SigV4Auth(self._credentials, service, region).add_auth(request)
        return self._send(request.prepare())

    def _endpoint(self, service: str) -> str:
        if service not in self._endpoints:
            self._endpoints[service] = self.client(service).meta.endpoint_url
        return self._endpoints[service]

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        """botocore's before-send hook: answering here means botocore sends nothing itself."""
        response = self._send(request)
        headers = HTTPHeaders()
        for name, value in response.headers:
            headers[name] = value
        return AWSResponse(request.url, response.status, headers, _RawBody(response.body))

    @abstractmethod
    def _send(self, request: AWSPreparedRequest) -> UpstreamResponse:
        """Deliver a signed request to the upstream and return its answer."""
