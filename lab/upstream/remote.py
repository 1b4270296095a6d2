"""An upstream reached over HTTP (LocalStack): same interface, bounded retries."""

from __future__ import annotations

import time

from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError
from botocore.httpsession import URLLib3Session

from lab.errors import AwsError
from lab.upstream.base import SigningUpstream, UpstreamResponse

# Three tries 0.1 s and 0.2 s apart: a restarting LocalStack is back within a second or two,
# and a caller waiting on a dead one should hear so quickly.
ATTEMPTS = 3
BACKOFF_SECONDS = 0.1
TIMEOUT_SECONDS = 10


class RemoteUpstream(SigningUpstream):
    """IAM (and friends) at `url`, e.g. LocalStack on http://127.0.0.1:4566."""

    def __init__(
        self,
        url: str,
        region: str,
        access_key: str = "test",
        secret: str = "test",
        *,
        attempts: int = ATTEMPTS,
        backoff_seconds: float = BACKOFF_SECONDS,
    ) -> None:
        super().__init__(region, access_key, secret, endpoint_url=url.rstrip("/"))
        self.url = url
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._http = URLLib3Session(timeout=TIMEOUT_SECONDS)

    def _send(self, request: AWSPreparedRequest) -> UpstreamResponse:
        failure: Exception | None = None
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = self._http.send(request)
            except (HTTPClientError, BotoConnectionError) as error:
                failure = error
                continue
            return UpstreamResponse(
                response.status_code, list(response.headers.items()), response.content
            )
        raise AwsError(
            "ServiceUnavailable",
            f"The IAM upstream at {self.url} is unreachable after {self._attempts} attempts: "
            f"{failure}",
        )
