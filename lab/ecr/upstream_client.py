"""A small Docker Registry v2 client: what ECR's pull through cache does to an upstream.

Offline, an upstream registry URL (`registry-1.docker.io`) is served by a loopback address the
lab maps it to (`serve --upstream-registry URL=http://127.0.0.1:PORT`): any OCI registry, such
as distribution's `registry serve` or another ecr-lab. Addresses off the loopback are refused:
the lab never calls the internet. Authentication follows the distribution token protocol
(a 401 with `WWW-Authenticate: Bearer realm=...` or `Basic`), with the rule's credentials.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from lab.ecr.blobs import digest_of

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
TIMEOUT = 10.0
PROBE_TIMEOUT = 3.0  # ValidatePullThroughCacheRule answers within the service's lock
# The most the lab reads of one upstream manifest or blob: a hostile upstream cannot fill memory.
MAX_BODY = 1 << 30
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_CHALLENGE_FIELD = re.compile(r'(\w+)="([^"]*)"')


class UpstreamFailure(Exception):
    """The upstream could not be reached, refused us, or sent bytes that do not verify."""


@dataclass
class UpstreamSession:
    """Requests to one upstream address, as one user (None: anonymous)."""

    address: str
    credentials: tuple[str, str] | None = None
    timeout: float = TIMEOUT
    _authorization: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        host = urllib.parse.urlsplit(self.address).hostname
        if host not in LOOPBACK:
            raise UpstreamFailure(f"the upstream address {self.address} is not on the loopback")

    def get(self, path: str, accept: str = "*/*") -> tuple[bytes, str]:
        """The body and content type of GET `path`, authenticating once when challenged."""
        try:
            return self._get(path, accept)
        except urllib.error.HTTPError as refused:
            if refused.code != 401 or self._authorization is not None:
                raise UpstreamFailure(f"the upstream answered {refused.code} to {path}") from None
            self._authorization = self._answer(refused.headers.get("WWW-Authenticate", ""))
        try:
            return self._get(path, accept)
        except urllib.error.HTTPError as refused:
            raise UpstreamFailure(f"the upstream answered {refused.code} to {path}") from None

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        """The manifest a tag or digest names upstream, verified when named by digest."""
        body, media_type = self.get(f"/v2/{repository}/manifests/{reference}", ACCEPT)
        if ":" in reference and digest_of(body) != reference:
            raise UpstreamFailure(f"the upstream manifest does not match {reference}")
        return body, json.loads(body).get("mediaType") or media_type.split(";")[0]

    def blob(self, repository: str, digest: str) -> bytes:
        """A layer or config, verified against its digest."""
        body, _ = self.get(f"/v2/{repository}/blobs/{digest}")
        if digest_of(body) != digest:
            raise UpstreamFailure(f"the upstream blob does not match {digest}")
        return body

    def _get(self, path: str, accept: str) -> tuple[bytes, str]:
        headers = {"Accept": accept}
        if self._authorization:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(self.address.rstrip("/") + path, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            body = answer.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise UpstreamFailure(f"the upstream's answer to {path} exceeds {MAX_BODY} bytes")
            return body, answer.headers.get("Content-Type", "")

    def _answer(self, challenge: str) -> str:
        basic = self._basic()
        if challenge.lower().startswith("basic"):
            if basic is None:
                raise UpstreamFailure("the upstream needs credentials and the rule has none")
            return basic
        fields = dict(_CHALLENGE_FIELD.findall(challenge))
        if not challenge.lower().startswith("bearer") or "realm" not in fields:
            raise UpstreamFailure("the upstream asked for an authentication the lab cannot give")
        query = urllib.parse.urlencode({k: v for k, v in fields.items() if k != "realm"})
        realm = UpstreamSession(fields["realm"], self.credentials, self.timeout, basic)
        body, _ = realm._get("?" + query if query else "", "application/json")
        token = json.loads(body)
        return "Bearer " + (token.get("token") or token.get("access_token") or "")

    def _basic(self) -> str | None:
        if self.credentials is None:
            return None
        return "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()


def probe(address: str | None, url: str, credentials: tuple[str, str] | None = None) -> str | None:
    """Why ECR cannot reach and authenticate to the upstream `url`, or None when it can."""
    if address is None:
        return f"The lab maps no address to the upstream registry {url} (serve --upstream-registry)"
    try:
        UpstreamSession(address, credentials, PROBE_TIMEOUT).get("/v2/")
    except (UpstreamFailure, OSError) as failure:
        return f"Unable to reach the upstream registry {url}: {failure}"
    return None
