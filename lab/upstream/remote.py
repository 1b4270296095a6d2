"""An upstream reached over HTTP (LocalStack): same interface, bounded retries.

When the upstream is down, slow or restarting, the caller gets AWS's `ServiceUnavailable`
naming the upstream, never a traceback; the lab's own state (ECR, sessions) is untouched, and
the next request after the upstream is back simply succeeds.
"""

from __future__ import annotations

import time

from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from lab.errors import AwsError
from lab.upstream.base import SigningUpstream, UpstreamResponse

# Three tries 0.1 s and 0.2 s apart: a restarting LocalStack is back within a second or two,
# and a caller waiting on a dead one should hear so quickly.
ATTEMPTS = 3
BACKOFF_SECONDS = 0.1
TIMEOUT_SECONDS = 10.0


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
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(region, access_key, secret, endpoint_url=url.rstrip("/"))
        self.url = url
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._timeout = timeout_seconds
        self._http = URLLib3Session(timeout=timeout_seconds)

    def _send(self, request: AWSPreparedRequest) -> UpstreamResponse:
        failure: Exception | None = None
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = self._http.send(request)
            except ReadTimeoutError:
                # The upstream may have applied the request: sending it again could apply it twice.
                raise self._unavailable(f"did not answer within {self._timeout:g} s") from None
            except (HTTPClientError, BotoConnectionError) as error:
                failure = error
                continue
            return UpstreamResponse(
                response.status_code, list(response.headers.items()), response.content
            )
        raise self._unavailable(f"is unreachable after {self._attempts} attempts: {failure}")

    def _unavailable(self, why: str) -> AwsError:
        return AwsError("ServiceUnavailable", f"The IAM upstream at {self.url} {why}")
