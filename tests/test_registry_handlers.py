"""The registry's handlers against a real Ecr and BlobStore in a temporary directory."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterable

import pytest

from lab.ecr.blobs import BlobStore
from lab.ecr.service import Ecr
from lab.http import HttpRequest, HttpResponse
from lab.registry import RegistryContext, dispatch
from lab.registry.routes import match

ACCOUNT, REGION, HOST = "123456789012", "us-east-1", "127.0.0.1:5000"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# The six Accept headers docker 20.10 sends on a pull (FACTS: "Registry protocol").
DOCKER_ACCEPTS = [
    OCI_INDEX,
    DOCKER_MANIFEST,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    DOCKER_LIST,
    OCI_MANIFEST,
    "application/json",
]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def _chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def request(method, path, query="", headers=(), body: bytes | Iterable[bytes] = b""):
    parts = [body] if isinstance(body, bytes) else body
    return HttpRequest(method, path, query, list(headers), "127.0.0.1", _chunks(parts))


@pytest.fixture
def ecr(tmp_path):
    service = Ecr(tmp_path, HOST, lambda text: None)
    for name in ("fa-085", "team/app", "other"):
        service.handle("CreateRepository", {"repositoryName": name}, account=ACCOUNT, region=REGION)
    return service


@pytest.fixture
def call(ecr):
    ctx = RegistryContext(ecr, ACCOUNT, REGION, HOST)

    def run(method, path, query="", headers=(), body=b"") -> HttpResponse:
        async def go():
            response = await dispatch(
                match(method, path, query), request(method, path, query, headers, body), ctx
            )
            if not isinstance(response.body, bytes):
                response.body = b"".join([piece async for piece in response.body])
            return response

        return asyncio.run(go())

    return run


def header(response: HttpResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


def error_code(response: HttpResponse) -> str:
    return json.loads(response.body)["errors"][0]["code"]


def push_blob(call, repo: str, data: bytes) -> str:
    digest = sha(data)
    response = call("POST", f"/v2/{repo}/blobs/uploads/", f"digest={digest}", body=data)
    assert response.status == 201, response.body
    return digest


def push_image(call, repo: str, tag: str, media_type: str = DOCKER_MANIFEST) -> tuple[bytes, str]:
    config = push_blob(call, repo, b'{"architecture":"amd64","os":"linux"}')
    layer = push_blob(call, repo, os.urandom(2048))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": "application/json", "digest": config, "size": 37},
            "layers": [{"mediaType": "application/x-tar", "digest": layer, "size": 2048}],
        }
    ).encode()
    response = call(
        "PUT", f"/v2/{repo}/manifests/{tag}", headers=[("content-type", media_type)], body=manifest
    )
    assert response.status == 201, response.body
    return manifest, sha(manifest)


# ---- base and every answer's shape -----------------------------------------------------------


def test_base_answers_200_json_with_api_version(call):
    response = call("GET", "/v2/")
    assert (response.status, json.loads(response.body)) == (200, {})
    assert header(response, "docker-distribution-api-version") == "registry/2.0"
    assert header(response, "content-length") == "2"


def test_missing_repository_is_name_unknown_with_ecrs_wording(call):
    response = call("GET", "/v2/nope/tags/list")
    assert response.status == 404
    assert json.loads(response.body)["errors"][0] == {
        "code": "NAME_UNKNOWN",
        "message": f"The repository with name 'nope' does not exist in the registry with id "
        f"'{ACCOUNT}'",
    }


# ---- uploads ---------------------------------------------------------------------------------


def test_monolithic_upload_creates_the_layer(call, ecr):
    data = b"monolithic layer"
    response = call("POST", "/v2/fa-085/blobs/uploads/", f"digest={sha(data)}", body=data)
    assert response.status == 201
    assert header(response, "location") == f"/v2/fa-085/blobs/{sha(data)}"
    assert header(response, "docker-content-digest") == sha(data)
    assert ecr.layer_size(ACCOUNT, REGION, "fa-085", sha(data)) == len(data)


def test_chunked_resumable_upload_like_docker(call, ecr):
    data = os.urandom(300_000)
    started = call("POST", "/v2/team/app/blobs/uploads/")
    assert started.status == 202
    location = header(started, "location")
    upload_id = header(started, "docker-upload-uuid")
    assert location == f"/v2/team/app/blobs/uploads/{upload_id}"
    assert header(started, "range") == "0-0"
    first = call("PATCH", location, headers=[("content-range", "0-99999")], body=data[:100_000])
    assert (first.status, header(first, "range")) == (202, "0-99999")
    # The client lost track: GET tells how far it got, then it resumes from there.
    status = call("GET", location)
    assert (status.status, header(status, "range")) == (204, "0-99999")
    assert header(status, "docker-upload-uuid") == upload_id
    rest = [data[i : i + 65536] for i in range(100_000, len(data), 65536)]
    second = call("PATCH", location, headers=[("content-range", "100000-299999")], body=rest)
    assert header(second, "range") == "0-299999"
    done = call("PUT", location, f"digest={sha(data)}")
    assert (done.status, header(done, "docker-content-digest")) == (201, sha(data))
    assert ecr.layer_size(ACCOUNT, REGION, "team/app", sha(data)) == len(data)


def test_patch_out_of_order_is_416_range_invalid(call):
    location = header(call("POST", "/v2/fa-085/blobs/uploads/"), "location")
    call("PATCH", location, body=b"0123456789")
    response = call("PATCH", location, headers=[("content-range", "5-14")], body=b"x" * 10)
    assert (response.status, error_code(response)) == (416, "RANGE_INVALID")
    assert header(response, "content-range") == "bytes */10"
    assert header(call("GET", location), "range") == "0-9"  # nothing appended


def test_digest_mismatch_is_digest_invalid_and_stores_nothing(call, ecr):
    data, wrong = b"the real bytes", sha(b"other bytes")
    location = header(call("POST", "/v2/fa-085/blobs/uploads/"), "location")
    call("PATCH", location, body=data)
    response = call("PUT", location, f"digest={wrong}")
    assert (response.status, error_code(response)) == (400, "DIGEST_INVALID")
    assert json.loads(response.body)["errors"][0]["detail"] == {"digest": wrong}
    for digest in (wrong, sha(data)):
        assert ecr.layer_size(ACCOUNT, REGION, "fa-085", digest) is None
        assert not ecr.blobs.has(digest)
    assert error_code(call("GET", location)) == "BLOB_UPLOAD_UNKNOWN"


def test_monolithic_digest_mismatch_stores_nothing(call, ecr):
    wrong = sha(b"not this")
    response = call("POST", "/v2/fa-085/blobs/uploads/", f"digest={wrong}", body=b"this")
    assert (response.status, error_code(response)) == (400, "DIGEST_INVALID")
    assert not ecr.blobs.has(sha(b"this"))


def test_put_without_digest_is_digest_invalid(call):
    location = header(call("POST", "/v2/fa-085/blobs/uploads/"), "location")
    response = call("PUT", location, body=b"abc")
    assert (response.status, error_code(response)) == (400, "DIGEST_INVALID")


def test_cancel_then_unknown_upload(call):
    location = header(call("POST", "/v2/fa-085/blobs/uploads/"), "location")
    assert call("DELETE", location).status == 204
    response = call("PATCH", location, body=b"late")
    assert (response.status, error_code(response)) == (404, "BLOB_UPLOAD_UNKNOWN")


def test_an_upload_belongs_to_its_repository(call):
    upload_id = header(call("POST", "/v2/fa-085/blobs/uploads/"), "docker-upload-uuid")
    response = call("PATCH", f"/v2/other/blobs/uploads/{upload_id}", body=b"x")
    assert (response.status, error_code(response)) == (404, "BLOB_UPLOAD_UNKNOWN")


def test_cross_repository_mount_is_a_normal_upload_as_ecr_answers_by_default(call):
    digest = push_blob(call, "other", b"shared layer")
    response = call("POST", "/v2/fa-085/blobs/uploads/", f"mount={digest}&from=other")
    assert response.status == 202
    assert header(response, "docker-upload-uuid")


def test_upload_streams_in_bounded_memory(call, ecr):
    size = 24 << 20
    piece = os.urandom(64 << 10)
    digest = sha(piece * (size // len(piece)))
    location = header(call("POST", "/v2/fa-085/blobs/uploads/"), "location")
    tracemalloc.start()
    call("PATCH", location, body=(piece for _ in range(size // len(piece))))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 12 << 20  # a few batches, never the 24 MiB layer
    assert call("PUT", location, f"digest={digest}").status == 201


def test_a_patch_is_durable_before_its_202(call, ecr):
    location = header(call("POST", "/v2/fa-085/blobs/uploads/"), "location")
    response = call("PATCH", location, body=[b"acknowledged ", b"bytes"])
    assert (response.status, header(response, "range")) == (202, "0-17")
    upload = location.rsplit("/", 1)[1]
    assert BlobStore(ecr.blobs.root).size_of(upload) == 18  # what a restart would find


# ---- blobs -----------------------------------------------------------------------------------


def test_head_blob_gives_size_and_digest_without_body(call):
    digest = push_blob(call, "fa-085", b"x" * 1000)
    response = call("HEAD", f"/v2/fa-085/blobs/{digest}")
    assert response.status == 200
    assert header(response, "content-length") == "1000"
    assert header(response, "docker-content-digest") == digest
    assert response.body == b""


def test_unknown_blob_is_404_blob_unknown(call):
    digest = sha(b"never pushed")
    for method in ("HEAD", "GET"):
        response = call(method, f"/v2/fa-085/blobs/{digest}")
        assert (response.status, error_code(response)) == (404, "BLOB_UNKNOWN")


def test_a_layer_of_another_repository_is_unknown_here(call):
    digest = push_blob(call, "other", b"only in other")
    assert call("HEAD", f"/v2/fa-085/blobs/{digest}").status == 404


def test_get_blob_streams_whole_and_ranges(call):
    manifest, _ = push_image(call, "fa-085", "v1")
    layer = json.loads(manifest)["layers"][0]["digest"]
    whole = call("GET", f"/v2/fa-085/blobs/{layer}")
    assert (whole.status, len(whole.body), sha(whole.body)) == (200, 2048, layer)
    part = call("GET", f"/v2/fa-085/blobs/{layer}", headers=[("range", "bytes=10-19")])
    assert (part.status, part.body) == (206, whole.body[10:20])
    assert header(part, "content-range") == "bytes 10-19/2048"
    suffix = call("GET", f"/v2/fa-085/blobs/{layer}", headers=[("range", "bytes=-48")])
    assert suffix.body == whole.body[-48:]
    bad = call("GET", f"/v2/fa-085/blobs/{layer}", headers=[("range", "bytes=4096-")])
    assert (bad.status, header(bad, "content-range")) == (416, "bytes */2048")


def test_blob_get_yields_pieces_of_at_most_one_mib(ecr):
    from lab.registry.blobs import READ_CHUNK, stream

    data = os.urandom(3 * READ_CHUNK + 5)
    path = ecr.blobs.path(ecr.blobs.put(data))

    async def pieces():
        return [p async for p in stream(path.open("rb"), len(data))]

    got = asyncio.run(pieces())
    assert b"".join(got) == data and max(map(len, got)) == READ_CHUNK


# ---- manifests -------------------------------------------------------------------------------


def test_push_then_pull_like_docker_with_six_accept_headers(call):
    manifest, digest = push_image(call, "fa-085", "latest")
    accepts = [("accept", value) for value in DOCKER_ACCEPTS]
    head = call("HEAD", "/v2/fa-085/manifests/latest", headers=accepts)
    assert head.status == 200 and head.body == b""
    assert header(head, "docker-content-digest") == digest
    assert header(head, "content-length") == str(len(manifest))
    got = call("GET", f"/v2/fa-085/manifests/{digest}", headers=accepts)
    assert (got.status, got.body, header(got, "content-type")) == (200, manifest, DOCKER_MANIFEST)


def test_accept_headers_may_be_combined_with_parameters(call):
    manifest, _ = push_image(call, "fa-085", "oci", OCI_MANIFEST)
    combined = [("accept", f"{DOCKER_MANIFEST}, {OCI_MANIFEST};q=0.9")]
    assert call("GET", "/v2/fa-085/manifests/oci", headers=combined).body == manifest


def test_unaccepted_format_is_manifest_unknown(call):
    push_image(call, "fa-085", "oci", OCI_MANIFEST)
    response = call("GET", "/v2/fa-085/manifests/oci", headers=[("accept", DOCKER_MANIFEST)])
    assert (response.status, error_code(response)) == (404, "MANIFEST_UNKNOWN")


def test_missing_image_is_ecrs_requested_image_not_found(call):
    response = call("GET", "/v2/fa-085/manifests/nope")
    assert response.status == 404
    assert json.loads(response.body)["errors"][0] == {
        "code": "MANIFEST_UNKNOWN",
        "message": "Requested image not found",
    }


def test_put_manifest_answers_location_and_digest(call):
    config = push_blob(call, "fa-085", b"{}")
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": config}, "layers": []}
    ).encode()
    response = call(
        "PUT",
        "/v2/fa-085/manifests/v2",
        headers=[("content-type", OCI_MANIFEST)],
        body=manifest,
    )
    assert response.status == 201
    assert header(response, "docker-content-digest") == sha(manifest)
    assert header(response, "location") == f"/v2/fa-085/manifests/{sha(manifest)}"


def test_manifest_with_missing_layer_is_manifest_blob_unknown(call):
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"digest": sha(b"absent config")},
            "layers": [],
        }
    ).encode()
    response = call("PUT", "/v2/fa-085/manifests/x", body=manifest)
    assert (response.status, error_code(response)) == (400, "MANIFEST_BLOB_UNKNOWN")
    assert sha(b"absent config") in json.loads(response.body)["errors"][0]["message"]


def test_manifest_that_is_not_json_is_manifest_invalid(call):
    response = call(
        "PUT",
        "/v2/fa-085/manifests/x",
        headers=[("content-type", DOCKER_MANIFEST)],
        body=b"{not json",
    )
    assert (response.status, error_code(response)) == (400, "MANIFEST_INVALID")


def test_put_by_digest_must_match_the_bytes(call):
    manifest, digest = push_image(call, "fa-085", "t")
    ok = call("PUT", f"/v2/fa-085/manifests/{digest}", body=manifest)
    assert ok.status == 201
    wrong = call("PUT", f"/v2/fa-085/manifests/{sha(b'x')}", body=manifest)
    assert (wrong.status, error_code(wrong)) == (400, "DIGEST_INVALID")


def test_repush_of_the_same_tag_succeeds(call):
    manifest, _ = push_image(call, "fa-085", "same")
    again = call("PUT", "/v2/fa-085/manifests/same", body=manifest)
    assert again.status == 201


def test_immutable_tag_is_refused_as_ecr_does(call, ecr):
    ecr.handle(
        "PutImageTagMutability",
        {"repositoryName": "fa-085", "imageTagMutability": "IMMUTABLE"},
        account=ACCOUNT,
        region=REGION,
    )
    push_image(call, "fa-085", "v1")
    config = push_blob(call, "fa-085", b'{"os":"linux"}')
    other = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"digest": config},
            "layers": [],
        }
    ).encode()
    response = call("PUT", "/v2/fa-085/manifests/v1", body=other)
    assert response.status == 400
    # docker prints "tag invalid: <message>" (moby/buildkit#3776)
    assert json.loads(response.body)["errors"][0] == {
        "code": "TAG_INVALID",
        "message": "The image tag 'v1' already exists in the 'fa-085' repository and cannot be "
        "overwritten because the repository is immutable.",
    }


@pytest.mark.parametrize("list_type", [DOCKER_LIST, OCI_INDEX])
def test_manifest_lists_reference_images_of_the_repository(call, list_type):
    _, child = push_image(call, "fa-085", "amd64")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": list_type,
            "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": child, "size": 1}],
        }
    ).encode()
    put = call(
        "PUT", "/v2/fa-085/manifests/multi", headers=[("content-type", list_type)], body=index
    )
    assert put.status == 201
    got = call("GET", "/v2/fa-085/manifests/multi", headers=[("accept", list_type)])
    assert (got.body, header(got, "content-type")) == (index, list_type)
    missing = index.replace(child.encode(), sha(b"no such image").encode())
    refused = call(
        "PUT", "/v2/fa-085/manifests/bad", headers=[("content-type", list_type)], body=missing
    )
    assert refused.status == 400


def test_delete_manifest_by_digest(call):
    _, digest = push_image(call, "fa-085", "gone")
    assert call("DELETE", f"/v2/fa-085/manifests/{digest}").status == 202
    assert call("GET", "/v2/fa-085/manifests/gone").status == 404
    again = call("DELETE", f"/v2/fa-085/manifests/{digest}")
    assert (again.status, error_code(again)) == (404, "MANIFEST_UNKNOWN")


# ---- tags ------------------------------------------------------------------------------------


def test_tags_list_in_lexical_order_with_pagination(call):
    for tag in ("b", "a", "d", "c"):
        push_image(call, "team/app", tag)
    whole = call("GET", "/v2/team/app/tags/list")
    assert json.loads(whole.body) == {"name": "team/app", "tags": ["a", "b", "c", "d"]}
    assert header(whole, "link") is None
    first = call("GET", "/v2/team/app/tags/list", "n=2")
    assert json.loads(first.body)["tags"] == ["a", "b"]
    assert header(first, "link") == '</v2/team/app/tags/list?n=2&last=b>; rel="next"'
    second = call("GET", "/v2/team/app/tags/list", "n=2&last=b")
    assert json.loads(second.body)["tags"] == ["c", "d"]
    assert header(second, "link") is None


def test_tags_list_rejects_a_bad_page_size(call):
    response = call("GET", "/v2/fa-085/tags/list", "n=-1")
    assert (response.status, error_code(response)) == (400, "PAGINATION_NUMBER_INVALID")
