"""Blob downloads over raw HTTP/1.1, written from a thread (lab.server.file_bodies): whole and
ranged GETs, HEAD, keep-alive and pipelining after a file body, clients that stall or go away
mid-body (the lab keeps serving, every descriptor is closed), and authorization before any byte."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

import pytest

from tests.conftest import client
from tests.test_server_streaming import REPOSITORY, basic_auth, connect, head_lines, read_response

SIZE = 24 << 20  # more than loopback's socket buffers hold, so an aborted GET is cut mid-body


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(running, auth: str, method: str, path: str, body: bytes, **headers: str) -> int:
    port = int(running.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=body, headers={"Authorization": auth, **headers})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def push_image(running, auth: str, layer: bytes) -> str:
    """Push `layer` (monolithic upload) and an image referencing it; the layer's digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    for blob in (layer, config):
        with connect(running) as sock:
            sock.sendall(head_lines("POST", f"/v2/{REPOSITORY}/blobs/uploads/", auth))
            location = read_response(sock.makefile("rb"))[1]["location"]
        path = f"{location}{'&' if '?' in location else '?'}digest={sha256(blob)}"
        assert _put(running, auth, "PUT", path, blob) == 201
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha256(layer),
                "size": len(layer),
            }
        ],
    }
    content_type = "application/vnd.oci.image.manifest.v1+json"
    path = f"/v2/{REPOSITORY}/manifests/v1"
    assert _put(running, auth, "PUT", path, json.dumps(manifest).encode(), **{
        "Content-Type": content_type
    }) == 201  # fmt: skip
    return sha256(layer)


@pytest.fixture
def pushed(running_lab) -> tuple[str, bytes, str]:
    """(auth, layer bytes, layer digest) of an image pushed to a fresh lab."""
    auth = basic_auth(running_lab)
    layer = os.urandom(SIZE)
    return auth, layer, push_image(running_lab, auth, layer)


def open_descriptors(target: str) -> list[str]:
    """What this process's descriptors (the in-process lab's among them) point at, among
    those whose target contains `target`."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target in link:
            found.append(link)
    return found


def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait for `check` to hold (the lab finishes on its own threads); fail if it never does."""
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def read_head_answer(reader: BinaryIO) -> tuple[int, dict[str, str]]:
    """The status and headers of a HEAD's answer (no body follows, whatever its length)."""
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def get(path: str, auth: str, **headers: str) -> bytes:
    return head_lines("GET", path, auth, **headers)


def test_a_whole_blob_comes_with_its_headers_and_the_connection_stays_usable(running_lab, pushed):
    auth, layer, digest = pushed
    path = f"/v2/{REPOSITORY}/blobs/{digest}"
    with connect(running_lab) as sock:
        reader = sock.makefile("rb")
        sock.sendall(get(path, auth))
        status, headers, body = read_response(reader)
        assert status == 200
        assert headers["content-length"] == str(SIZE)
        assert headers["docker-content-digest"] == digest
        assert headers["content-type"] == "application/octet-stream"
        assert headers["accept-ranges"] == "bytes"
        assert headers["docker-distribution-api-version"] == "registry/2.0"
        assert sha256(body) == digest
        # Keep-alive: the next answers on the same connection are framed right after the file.
        sock.sendall(get(path, auth, Range="bytes=5-9") + head_lines("HEAD", path, auth))
        assert read_response(reader)[::2] == (206, layer[5:10])
        status, head = read_head_answer(reader)  # what the GET said, and no body
        assert (status, head | {"date": ""}) == (200, headers | {"date": ""})


def test_pipelined_gets_are_answered_in_turn(running_lab, pushed):
    auth, layer, digest = pushed
    path = f"/v2/{REPOSITORY}/blobs/{digest}"
    with connect(running_lab) as sock:
        sock.sendall(get(path, auth) + get(path, auth, Range="bytes=-3") + get(path, auth))
        reader = sock.makefile("rb")
        answers = [read_response(reader) for _ in range(3)]
    assert [(status, sha256(body)) for status, _, body in answers] == [
        (200, digest),
        (206, sha256(layer[-3:])),
        (200, digest),
    ]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=1000-1999999", 1000, 1999999),
        ("bytes=-4096", SIZE - 4096, SIZE - 1),
        (f"bytes={SIZE - 10}-", SIZE - 10, SIZE - 1),
        (f"bytes=100-{SIZE + 50}", 100, SIZE - 1),  # the end is clipped to the blob's
    ],
)
def test_a_range_get_sends_exactly_the_range(running_lab, pushed, header, first, last):
    auth, layer, digest = pushed
    with connect(running_lab) as sock:
        sock.sendall(get(f"/v2/{REPOSITORY}/blobs/{digest}", auth, Range=header))
        status, headers, body = read_response(sock.makefile("rb"))
    assert status == 206
    assert headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert headers["content-length"] == str(last - first + 1)
    assert body == layer[first : last + 1]


def test_an_unsatisfiable_range_or_an_absent_blob_gets_the_registry_error(running_lab, pushed):
    auth, _, digest = pushed
    with connect(running_lab) as sock:
        reader = sock.makefile("rb")
        sock.sendall(get(f"/v2/{REPOSITORY}/blobs/{digest}", auth, Range=f"bytes={SIZE}-"))
        status, headers, body = read_response(reader)
        assert (status, headers["content-range"]) == (416, f"bytes */{SIZE}")
        assert json.loads(body)["errors"][0]["code"] == "RANGE_INVALID"
        absent = sha256(b"absent")
        sock.sendall(get(f"/v2/{REPOSITORY}/blobs/{absent}", auth))
        status, _, body = read_response(reader)
        assert (status, json.loads(body)["errors"][0]["code"]) == (404, "BLOB_UNKNOWN")
    assert open_descriptors(digest.split(":")[1]) == []


def test_a_denied_get_sends_no_byte_of_the_blob(running_lab, pushed):
    auth, _, digest = pushed
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:GetDownloadUrlForLayer",
            }
        ],
    }
    client(running_lab, "ecr").set_repository_policy(
        repositoryName=REPOSITORY, policyText=json.dumps(deny)
    )
    path = f"/v2/{REPOSITORY}/blobs/{digest}"
    with connect(running_lab) as sock:
        reader = sock.makefile("rb")
        sock.sendall(get(path, auth))
        status, headers, body = read_response(reader)
        error = json.loads(body)["errors"][0]
        assert (status, error["code"]) == (403, "DENIED")
        assert "ecr:GetDownloadUrlForLayer" in error["message"]
        assert headers["content-type"].startswith("application/json")
        # HEAD is ecr:BatchCheckLayerAvailability, which the policy leaves alone.
        sock.sendall(head_lines("HEAD", path, auth))
        assert read_head_answer(reader)[0] == 200
    assert open_descriptors(digest.split(":")[1]) == []


def _abort(sock: socket.socket, *, reset: bool) -> None:
    if reset:  # an RST rather than a FIN, as a killed client's kernel may send
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _connection_count() -> int:
    return len(open_descriptors("socket:"))


def test_clients_gone_mid_body_leave_no_descriptor_open_and_the_lab_serving(running_lab, pushed):
    auth, layer, digest = pushed
    path = f"/v2/{REPOSITORY}/blobs/{digest}"
    sockets_before = _connection_count()
    for attempt in range(12):
        sock = connect(running_lab)
        sock.sendall(get(path, auth))
        reader = sock.makefile("rb")
        status, headers = reader.readline(), reader.read(1 << 20)  # the head and a first MiB
        assert status.startswith(b"HTTP/1.1 200") and len(headers) == 1 << 20
        reader.close()
        _abort(sock, reset=attempt % 2 == 0)
    hex_digest = digest.split(":")[1]
    eventually(lambda: open_descriptors(hex_digest) == [], "the blob's file was left open")
    eventually(lambda: _connection_count() <= sockets_before, "a socket was left open")
    with connect(running_lab) as sock:
        sock.sendall(get(path, auth))
        status, _, body = read_response(sock.makefile("rb"))
    assert (status, body == layer) == (200, True)


def test_a_client_that_stops_reading_holds_up_no_one_else(running_lab, pushed):
    auth, layer, digest = pushed
    path = f"/v2/{REPOSITORY}/blobs/{digest}"
    stalled = connect(running_lab)
    stalled.sendall(get(path, auth))
    assert stalled.recv(12) == b"HTTP/1.1 200"  # then reads no more: the send waits for room
    try:
        for _ in range(2):
            with connect(running_lab) as sock:
                sock.sendall(get(path, auth) + head_lines("HEAD", path, auth))
                reader = sock.makefile("rb")
                assert read_response(reader)[::2] == (200, layer)
                assert read_head_answer(reader)[0] == 200
    finally:
        _abort(stalled, reset=False)
    hex_digest = digest.split(":")[1]
    eventually(lambda: open_descriptors(hex_digest) == [], "the stalled GET's file stayed open")


def test_stalled_clients_past_the_thread_limit_are_served_through_the_loop(
    running_lab, pushed, monkeypatch
):
    # A client that stops reading holds a sending thread; past the limit, GETs still answer
    # in full (through the event loop), and every thread is given back once clients leave.
    from lab.server import file_bodies

    monkeypatch.setattr(file_bodies, "_SENDERS", threading.BoundedSemaphore(2))
    auth, layer, digest = pushed
    path = f"/v2/{REPOSITORY}/blobs/{digest}"
    stalled = [connect(running_lab) for _ in range(4)]
    try:
        for sock in stalled:
            sock.sendall(get(path, auth))
            assert sock.recv(12) == b"HTTP/1.1 200"  # then reads no more
        eventually(lambda: file_bodies._SENDERS._value == 0, "the stalled GETs took no thread")
        with connect(running_lab) as sock:
            sock.sendall(get(path, auth))
            assert read_response(sock.makefile("rb"))[::2] == (200, layer)
    finally:
        for sock in stalled:
            _abort(sock, reset=False)
    eventually(lambda: file_bodies._SENDERS._value == 2, "a thread was never given back")
    eventually(lambda: open_descriptors(digest.split(":")[1]) == [], "a blob's file stayed open")
