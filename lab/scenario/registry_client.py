"""The lab's own registry client: docker's request sequence, spoken over plain HTTP.

push: GET /v2/; per blob POST uploads, one PATCH with the whole blob, PUT ?digest=, HEAD the
blob; then PUT the manifest. pull: GET /v2/; HEAD the manifest by tag; GET it by digest; GET
the config; GET the layers (FACTS "Registry protocol", captured from docker 20.10). Like
docker, the first GET /v2/ goes without credentials and reads the Basic challenge.
"""

from __future__ import annotations

import base64
import http.client
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from lab.scenario.image import MANIFEST_TYPE, Blob, Image, digest_of

# The Accept headers docker sends on manifest requests, one header each.
MANIFEST_ACCEPT = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json",
)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


class RegistryRefusal(Exception):
    """A registry error answer: the request, its status, and the error's code and message."""

    def __init__(self, method: str, path: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {code}: {message}")
        self.method, self.path, self.status = method, path, status
        self.code, self.message = code, message

    @property
    def denied(self) -> bool:
        """True for an authorization refusal (DENIED), as opposed to any other failure."""
        return self.code == "DENIED"


def _refusal(method: str, path: str, response: Response) -> RegistryRefusal:
    try:
        error = json.loads(response.body)["errors"][0]
        code, message = str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        code, message = f"HTTP_{response.status}", response.body.decode(errors="replace")
    return RegistryRefusal(method, path, response.status, code, message)


class RegistryClient:
    """One keep-alive connection to a registry, authenticating with Basic `user:password`."""

    def __init__(self, host: str, username: str, password: str, timeout: float = 60) -> None:
        self.host = host
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._connection = http.client.HTTPConnection(host, timeout=timeout)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
        *,
        auth: bool = True,
    ) -> Response:
        """One request; repeated header names (Accept) go out as separate headers."""
        connection = self._connection
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (*headers, *((("Authorization", self._auth),) if auth else ())):
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        answer = connection.getresponse()
        data = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)

    def _expect(self, method: str, path: str, statuses: tuple[int, ...], **kwargs) -> Response:
        response = self.request(method, path, **kwargs)
        if response.status in statuses:
            return response
        if method == "HEAD":  # a HEAD answer has no body: GET says why, as docker shows it
            response = self.request("GET", path, **kwargs)
        raise _refusal(method, path, response)

    def login(self) -> None:
        """docker's GET /v2/: first without credentials (a Basic challenge), then with them."""
        challenge = self.request("GET", "/v2/", auth=False)
        if (
            challenge.status == 401
            and "basic" not in challenge.headers.get("www-authenticate", "").lower()
        ):
            raise _refusal("GET", "/v2/", challenge)
        self._expect("GET", "/v2/", (200,))

    def upload(self, repository: str, blob: Blob) -> None:
        """POST, one PATCH with the whole blob, PUT ?digest=, then HEAD it, as docker does."""
        started = self._expect("POST", f"/v2/{repository}/blobs/uploads/", (202,))
        location = self._path(started.headers["location"])
        patched = self._expect(
            "PATCH",
            location,
            (202,),
            body=blob.data,
            headers=(("Content-Type", "application/octet-stream"),),
        )
        location = self._path(patched.headers.get("location", location))
        joiner = "&" if "?" in location else "?"
        self._expect("PUT", f"{location}{joiner}digest={blob.digest}", (201,))
        self._expect("HEAD", f"/v2/{repository}/blobs/{blob.digest}", (200,))

    def push(self, repository: str, tag: str, image: Image) -> str:
        """Push `image` as `repository:tag`; returns the manifest digest the registry gave."""
        self.login()
        for blob in image.blobs:
            self.upload(repository, blob)
        stored = self._expect(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            (201,),
            body=image.manifest,
            headers=(("Content-Type", MANIFEST_TYPE),),
        )
        return stored.headers.get("docker-content-digest", image.digest)

    def pull(self, repository: str, tag: str) -> Image:
        """Pull `repository:tag` and check every digest; returns the image."""
        self.login()
        accept = tuple(("Accept", value) for value in MANIFEST_ACCEPT)
        head = self._expect("HEAD", f"/v2/{repository}/manifests/{tag}", (200,), headers=accept)
        digest = head.headers["docker-content-digest"]
        manifest = self._expect(
            "GET", f"/v2/{repository}/manifests/{digest}", (200,), headers=accept
        ).body
        if digest_of(manifest) != digest:
            raise RegistryRefusal("GET", repository, 200, "DIGEST_INVALID", "manifest digest")
        document = json.loads(manifest)
        config = self._blob(repository, document["config"])
        layers = tuple(self._blob(repository, layer) for layer in document["layers"])
        return Image(config, layers, manifest)

    def _blob(self, repository: str, descriptor: dict) -> Blob:
        path = f"/v2/{repository}/blobs/{descriptor['digest']}"
        data = self._expect("GET", path, (200,)).body
        if digest_of(data) != descriptor["digest"]:
            raise RegistryRefusal("GET", path, 200, "DIGEST_INVALID", "blob digest")
        return Blob(descriptor["mediaType"], data)

    def _path(self, location: str) -> str:
        """A Location header as a path on this registry (it may be absolute)."""
        parts = urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")
