"""Input AWS and the distribution registry refuse, refused here too: through real HTTP, never a
5xx, nothing changed.

Deep JSON, UTF-16 bodies, numbers past int64 or in non-ASCII digits, Content-Ranges that do not
match the bytes sent, tags outside ECR's pattern, request heads past the server's limits.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.ecr.blobs import digest_of
from lab.json_input import MAX_DEPTH
from lab.server.config import LabConfig
from lab.server.head_limits import MAX_HEAD_BYTES, MAX_HEADER_FIELDS
from lab.server.protocols import ECR_TARGET_PREFIX
from lab.server.run import RunningLab
from tests.conftest import client
from tests.ecr_support import error_of, manifest_for, push_layer
from tests.server_support import JSON_1_1, Answer, ecr_call, send

REPO = "strict"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DEEP = 100_000


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    state = tmp_path_factory.mktemp("strict") / "state"
    with RunningLab(LabConfig(state_dir=state)) as running:
        client(running, "ecr").create_repository(repositoryName=REPO)
        yield running


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def assert_aws_error(answer: Answer, code: str) -> None:
    assert answer.status == 400, answer.body
    assert answer.json()["__type"] == code


@pytest.fixture(scope="module")
def config(lab: RunningLab) -> str:
    """An image config uploaded once: a manifest of it and no layers is a whole image."""
    return push_layer(client(lab, "ecr"), REPO, b"{}")


def image_count(lab: RunningLab) -> int:
    return len(client(lab, "ecr").list_images(repositoryName=REPO)["imageIds"])


# ---- JSON nesting and encoding on the ECR API -------------------------------------------------


def test_deep_json_without_credentials_is_serialization_exception(lab: RunningLab) -> None:
    headers = {"X-Amz-Target": ECR_TARGET_PREFIX + "ListImages", "Content-Type": JSON_1_1}
    assert_aws_error(send(lab.url, "POST", "/", headers, nested(DEEP)), "SerializationException")


def test_json_nested_to_the_limit_is_read_and_one_level_more_is_not(lab: RunningLab) -> None:
    within = b'{"repositoryName":"strict","x":' + nested(MAX_DEPTH - 1) + b"}"
    assert ecr_call(lab, "DescribeRepositories", within).status == 200
    beyond = b'{"repositoryName":"strict","x":' + nested(MAX_DEPTH) + b"}"
    assert_aws_error(ecr_call(lab, "DescribeRepositories", beyond), "SerializationException")


def test_brackets_inside_strings_do_not_count_as_nesting(lab: RunningLab) -> None:
    body = json.dumps({"repositoryNames": [REPO], "x": "[" * DEEP}).encode()
    assert ecr_call(lab, "DescribeRepositories", body).status == 200


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_utf16_json_body_is_serialization_exception_and_creates_nothing(
    lab: RunningLab, encoding: str
) -> None:
    # RFC 8259 section 8.1: JSON between systems is UTF-8; AWS's JSON front end reads no other.
    body = json.dumps({"repositoryName": "utf16"}).encode(encoding)
    assert_aws_error(ecr_call(lab, "CreateRepository", body), "SerializationException")
    names = [
        r["repositoryName"] for r in client(lab, "ecr").describe_repositories()["repositories"]
    ]
    assert "utf16" not in names


def test_put_image_with_a_deeply_nested_manifest_is_invalid_json_syntax(lab: RunningLab) -> None:
    # aws/aws-sdk#193: ECR's answer to a manifest it cannot read.
    before = image_count(lab)
    with pytest.raises(ClientError) as refused:
        client(lab, "ecr").put_image(
            repositoryName=REPO, imageManifest=nested_objects(DEEP), imageTag="deep"
        )
    assert error_of(refused) == (
        "InvalidParameterException",
        "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'",
    )
    assert image_count(lab) == before


def test_a_deep_lifecycle_policy_is_refused_as_unmappable(lab: RunningLab) -> None:
    text = '{"rules":' + nested(15_000).decode() + "}"
    with pytest.raises(ClientError) as refused:
        client(lab, "ecr").put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=text)
    assert error_of(refused)[0] == "InvalidParameterException"
    assert "Lifecycle policy validation failure" in error_of(refused)[1]


def test_a_deep_next_token_is_invalid_next_token(lab: RunningLab) -> None:
    token = base64.urlsafe_b64encode(nested(DEEP)).decode()
    with pytest.raises(ClientError) as refused:
        client(lab, "ecr").describe_repositories(nextToken=token)
    assert error_of(refused) == (
        "InvalidParameterException",
        "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'",
    )


# ---- image tags on the ECR API ----------------------------------------------------------------

# ECR's own check on every image tag, as ECR words it (alexjurkiewicz/ecr-scan-image#40,
# datawire/forge#99): the member is named 'imageTag' wherever it sits in the request.
BAD_TAG = (
    "Invalid parameter at 'imageTag' failed to satisfy constraint: "
    "'must satisfy regular expression '[a-zA-Z0-9-_.]+''"
)
BAD_TAGS = ["a b", "a/b", "a:b", "a\x01b", "caf\u00e9", "v1\n", "x" * 129 + "$"]


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_put_image_refuses_a_tag_outside_ecrs_pattern(lab: RunningLab, config, tag: str) -> None:
    ecr = client(lab, "ecr")
    before = image_count(lab)
    with pytest.raises(ClientError) as refused:
        ecr.put_image(repositoryName=REPO, imageManifest=manifest_for(config, {}), imageTag=tag)
    assert error_of(refused) == ("InvalidParameterException", BAD_TAG)
    assert image_count(lab) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda ecr, ids: ecr.batch_get_image(repositoryName=REPO, imageIds=ids),
        lambda ecr, ids: ecr.batch_delete_image(repositoryName=REPO, imageIds=ids),
        lambda ecr, ids: ecr.describe_images(repositoryName=REPO, imageIds=ids),
        lambda ecr, ids: ecr.describe_image_scan_findings(repositoryName=REPO, imageId=ids[0]),
    ],
    ids=["BatchGetImage", "BatchDeleteImage", "DescribeImages", "DescribeImageScanFindings"],
)
def test_image_ids_with_a_bad_tag_are_refused_everywhere(lab: RunningLab, call) -> None:
    with pytest.raises(ClientError) as refused:
        call(client(lab, "ecr"), [{"imageTag": "a b"}])
    assert error_of(refused) == ("InvalidParameterException", BAD_TAG)


def test_tags_inside_ecrs_pattern_are_taken(lab: RunningLab, config) -> None:
    ecr = client(lab, "ecr")
    for tag in ("v1.2.3_rc-1", "-leading-dash", "A" * 128):
        ecr.put_image(repositoryName=REPO, imageManifest=manifest_for(config, {}), imageTag=tag)
        found = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": tag}])
        assert [image["imageId"]["imageTag"] for image in found["images"]] == [tag]


# ---- the registry -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth(lab: RunningLab) -> dict[str, str]:
    token = client(lab, "ecr").get_authorization_token()["authorizationData"][0]
    return {"Authorization": "Basic " + token["authorizationToken"]}


def registry(lab: RunningLab, auth: dict[str, str], method: str, path: str, **kw) -> Answer:
    return send(lab.url, method, path, auth | kw.pop("headers", {}), kw.pop("body", b""))


def registry_error(answer: Answer) -> tuple[int, str]:
    return answer.status, json.loads(answer.body)["errors"][0]["code"]


def test_a_deeply_nested_manifest_push_is_manifest_invalid(lab, auth) -> None:
    before = image_count(lab)
    answer = registry(
        lab,
        auth,
        "PUT",
        f"/v2/{REPO}/manifests/deep",
        headers={"Content-Type": OCI_MANIFEST},
        body=nested_objects(DEEP).encode(),
    )
    assert registry_error(answer) == (400, "MANIFEST_INVALID")
    assert image_count(lab) == before


def test_a_utf16_manifest_push_is_manifest_invalid(lab, auth, config) -> None:
    manifest = manifest_for(config, {}).encode("utf-16")
    answer = registry(lab, auth, "PUT", f"/v2/{REPO}/manifests/utf16", body=manifest)
    assert registry_error(answer) == (400, "MANIFEST_INVALID")


@pytest.mark.parametrize(
    "n",
    ["%C2%B2", "%D9%A3", "9" * 4400, "9223372036854775808", "-1", "1.5", "0x10", "%201"],
    ids=[
        "superscript",
        "arabic-indic",
        "4400-digits",
        "int64+1",
        "negative",
        "fraction",
        "hex",
        "space",
    ],
)
def test_tag_list_page_size_must_be_an_int64(lab, auth, n: str) -> None:
    # distribution's tags handler: what strconv.Atoi refuses, and negatives.
    answer = registry(lab, auth, "GET", f"/v2/{REPO}/tags/list?n={n}")
    assert registry_error(answer) == (400, "PAGINATION_NUMBER_INVALID")


def test_tag_list_takes_the_largest_int64_and_an_empty_n_as_none(lab, auth) -> None:
    for query in ("n=9223372036854775807", "n=%2B3", "n=", "n=0&last=" + "z" * 5000):
        answer = registry(lab, auth, "GET", f"/v2/{REPO}/tags/list?{query}")
        assert answer.status == 200, (query, answer.body)


def test_a_unicode_tag_is_no_registry_route_and_stores_nothing(lab, auth, config) -> None:
    before = image_count(lab)
    for tag in ("caf%C3%A9", "%D9%A3", "x%E2%80%8By"):  # é, Arabic-Indic three, zero-width space
        answer = registry(
            lab,
            auth,
            "PUT",
            f"/v2/{REPO}/manifests/{tag}",
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
            body=manifest_for(config, {}).encode(),
        )
        assert registry_error(answer) == (404, "NOT_FOUND")
    assert image_count(lab) == before


def start_upload(lab, auth) -> str:
    started = registry(lab, auth, "POST", f"/v2/{REPO}/blobs/uploads/")
    assert started.status == 202
    return started.headers["location"]


def upload_range(lab, auth, location: str) -> str:
    return registry(lab, auth, "GET", location).headers["range"]


def test_a_patch_whose_content_length_disagrees_with_its_range_is_size_invalid(lab, auth) -> None:
    location = start_upload(lab, auth)
    answer = registry(
        lab, auth, "PATCH", location, headers={"Content-Range": "0-9"}, body=b"x" * 20
    )
    assert registry_error(answer) == (400, "SIZE_INVALID")
    assert upload_range(lab, auth, location) == "0-0"  # nothing appended


@pytest.mark.parametrize("sent", [20, 5])
def test_a_chunked_patch_longer_or_shorter_than_its_range_leaves_the_upload_as_it_was(
    lab, auth, sent: int
) -> None:
    location = start_upload(lab, auth)
    first = registry(lab, auth, "PATCH", location, headers={"Content-Range": "0-9"}, body=b"a" * 10)
    assert first.status == 202
    # An iterable body goes out with Transfer-Encoding: chunked, no Content-Length.
    answer = registry(
        lab, auth, "PATCH", location, headers={"Content-Range": "10-19"}, body=iter([b"b" * sent])
    )
    assert registry_error(answer) == (400, "SIZE_INVALID")
    assert upload_range(lab, auth, location) == "0-9"
    again = registry(
        lab, auth, "PATCH", location, headers={"Content-Range": "10-19"}, body=iter([b"b" * 10])
    )
    assert (again.status, again.headers["range"]) == (202, "0-19")
    digest = digest_of(b"a" * 10 + b"b" * 10)
    done = registry(lab, auth, "PUT", f"{location}?digest={digest}")
    assert done.status == 201, done.body


@pytest.mark.parametrize(
    ("content_range", "expected"),
    [
        ("9" * 5000 + "-9", (416, "RANGE_INVALID")),  # a start past int64: not where it ends
        ("5-3", (416, "RANGE_INVALID")),  # where it ends, but backwards
        ("5-\u0663\u0663", (416, "RANGE_INVALID")),  # Arabic-Indic digits are no number
        ("5-" + "9" * 5000, (400, "SIZE_INVALID")),  # where it ends, longer than the body
    ],
    ids=["start-past-int64", "backwards", "non-ascii-digits", "end-past-int64"],
)
def test_a_patch_range_out_of_place_or_unreadable_is_refused(
    lab, auth, content_range: str, expected: tuple[int, str]
) -> None:
    location = start_upload(lab, auth)
    assert registry(lab, auth, "PATCH", location, body=b"12345").status == 202
    header = content_range.encode("utf-8").decode("latin-1")  # raw UTF-8 bytes on the wire
    answer = send(lab.url, "PATCH", location, auth | {"Content-Range": header}, b"xyz")
    assert registry_error(answer) == expected
    assert upload_range(lab, auth, location) == "0-4"


def test_a_blob_range_past_int64_is_416_and_a_huge_suffix_is_the_whole_blob(
    lab, auth, config
) -> None:
    manifest = manifest_for(config, {})
    client(lab, "ecr").put_image(repositoryName=REPO, imageManifest=manifest, imageTag="ranges")
    path = f"/v2/{REPO}/blobs/{config}"
    far = registry(lab, auth, "GET", path, headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert registry_error(far) == (416, "RANGE_INVALID")
    suffix = registry(lab, auth, "GET", path, headers={"Range": "bytes=-" + "9" * 5000})
    assert (suffix.status, suffix.body) == (206, b"{}")


# ---- request heads (raw sockets: no client library would send these) ---------------------------


def raw_exchange(lab: RunningLab, pieces: list[bytes]) -> bytes:
    host, port = lab.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            for piece in pieces:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


def test_a_one_mib_header_is_431(lab: RunningLab) -> None:
    head = b"GET /v2/ HTTP/1.1\r\nHost: lab\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    assert raw_exchange(lab, [head]).startswith(b"HTTP/1.1 431 ")


def test_a_header_dripped_in_small_pieces_is_431(lab: RunningLab) -> None:
    pieces = [b"GET /v2/ HTTP/1.1\r\nHost: lab\r\nX-Big: "] + [b"a" * 4096] * 64
    assert raw_exchange(lab, pieces).startswith(b"HTTP/1.1 431 ")


def test_ten_thousand_headers_are_431(lab: RunningLab) -> None:
    fields = b"".join(b"X-H%d: a\r\n" % i for i in range(10_000))
    assert raw_exchange(lab, [b"GET /v2/ HTTP/1.1\r\nHost: lab\r\n" + fields + b"\r\n"]).startswith(
        b"HTTP/1.1 431 "
    )


def test_more_header_fields_than_allowed_are_431_however_small(lab: RunningLab) -> None:
    fields = b"a: b\r\n" * (MAX_HEADER_FIELDS + 1)
    assert raw_exchange(lab, [b"GET /v2/ HTTP/1.1\r\nHost: lab\r\n" + fields + b"\r\n"]).startswith(
        b"HTTP/1.1 431 "
    )


def test_a_url_past_the_head_limit_is_431(lab: RunningLab) -> None:
    url = b"/v2/?" + b"a" * (MAX_HEAD_BYTES + 1)
    assert raw_exchange(lab, [b"GET " + url + b" HTTP/1.1\r\nHost: lab\r\n\r\n"]).startswith(
        b"HTTP/1.1 431 "
    )


def test_a_megabyte_of_trailer_fields_is_400_too_much_non_data(lab: RunningLab) -> None:
    head = b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n"
    pieces = [head + b"5\r\nhello\r\n0\r\nX-Trailer: "] + [b"a" * 65536] * 16
    answer = raw_exchange(lab, pieces)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert answer.endswith(b"chunked encoding contains too much non-data\n")


def test_a_body_in_one_byte_chunks_is_framing_within_the_allowance(lab, auth) -> None:
    location = start_upload(lab, auth).encode()
    chunks = b"".join(b"1\r\n%c\r\n" % (48 + i % 10) for i in range(3000))
    request = (
        b"PATCH " + location + b" HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Authorization: " + auth["Authorization"].encode() + b"\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    answer = raw_exchange(lab, [request[i : i + 1000] for i in range(0, len(request), 1000)])
    assert answer.startswith(b"HTTP/1.1 202 "), answer[:200]
    assert b"\r\nrange: 0-2999\r\n" in answer.lower()


def test_heads_within_the_limits_are_served_and_keep_alive(lab: RunningLab) -> None:
    fields = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(MAX_HEADER_FIELDS - 2))
    request = b"GET /v2/ HTTP/1.1\r\nHost: lab\r\n" + fields + b"\r\n"
    host, port = lab.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        for _ in range(3):  # the same connection serves each in turn
            sock.sendall(request)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]


# ---- property: nested or garbled JSON never answers 5xx ----------------------------------------

# Each opener with what closes it: arrays, objects, and mixtures of both.
OPENERS = {"[": "]", '{"a":': "}", "[1,": "]", '{"a":[': "]}", '{"imageTag":{': "}}"}


def nest(depth: int, opener: str, closed: bool) -> str:
    return opener * depth + ("1" + OPENERS[opener] * depth if closed else "")


GARBLED_TEXT = st.one_of(
    st.builds(
        nest,
        st.integers(0, 3 * MAX_DEPTH) | st.integers(0, 200_000),
        st.sampled_from(sorted(OPENERS)),
        st.booleans(),
    ),
    st.text(alphabet='[]{}"\\,:1a \u00e9\u0663', max_size=3000),
)
GARBLED_BODIES = st.one_of(
    st.tuples(GARBLED_TEXT, st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1"])).map(
        lambda pair: pair[0].encode(pair[1], errors="replace")
    ),
    st.binary(max_size=500),
)


def assert_no_server_error(answer: Answer) -> None:
    assert answer.status < 500, answer.body[:300]
    assert b"Traceback" not in answer.body


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=GARBLED_BODIES, text=GARBLED_TEXT, operation=st.sampled_from(["PutImage", "X"]))
def test_garbled_json_never_answers_5xx(
    lab: RunningLab, auth: dict[str, str], body: bytes, text: str, operation: str
) -> None:
    headers = {"X-Amz-Target": ECR_TARGET_PREFIX + operation, "Content-Type": JSON_1_1}
    assert_no_server_error(send(lab.url, "POST", "/", headers, body))  # unsigned
    assert_no_server_error(ecr_call(lab, "CreateRepository", body))
    as_manifest = json.dumps({"repositoryName": REPO, "imageManifest": text or "x"}).encode()
    assert_no_server_error(ecr_call(lab, "PutImage", as_manifest))
    assert_no_server_error(
        registry(
            lab,
            auth,
            "PUT",
            f"/v2/{REPO}/manifests/fuzz",
            headers={"Content-Type": OCI_MANIFEST},
            body=body,
        )
    )
