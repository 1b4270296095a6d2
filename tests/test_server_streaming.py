"""Request bodies on the streaming receive path (lab.server.streaming), over raw HTTP/1.1:
framing (Content-Length, chunked), pipelining, `Expect: 100-continue`, and a client that goes
away mid-body. The registry's upload semantics ride on it unchanged."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
from typing import BinaryIO

from lab.server.streaming import BODY_HIGH_WATER
from tests.conftest import client

REPOSITORY = "streaming"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic_auth(running) -> str:
    ecr = client(running, "ecr")
    ecr.create_repository(repositoryName=REPOSITORY)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return "Basic " + base64.b64encode(b"AWS:" + base64.b64decode(token).split(b":", 1)[1]).decode()


def connect(running) -> socket.socket:
    port = int(running.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def head_lines(method: str, path: str, auth: str, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: {auth}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(file: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    """One response from a connection's reader (so that pipelined answers are read in turn)."""
    status = int(file.readline().split()[1])
    headers = {}
    while (line := file.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, file.read(int(headers.get("content-length", 0)))


def start_upload(running, auth: str) -> str:
    with connect(running) as sock:
        sock.sendall(head_lines("POST", f"/v2/{REPOSITORY}/blobs/uploads/", auth, Content_Length=0))
        status, headers, _ = read_response(sock.makefile("rb"))
    assert status == 202
    return headers["location"]


def blob_size(running, auth: str, digest: str) -> int | None:
    port = int(running.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("HEAD", f"/v2/{REPOSITORY}/blobs/{digest}", headers={"Authorization": auth})
    response = connection.getresponse()
    response.read()
    connection.close()
    return int(response.getheader("Content-Length")) if response.status == 200 else None


def test_a_chunked_patch_larger_than_the_receive_window_is_stored_whole(running_lab):
    auth = basic_auth(running_lab)
    location = start_upload(running_lab, auth)
    data = os.urandom(BODY_HIGH_WATER * 2 + 12345)  # the socket pauses and resumes on the way
    with connect(running_lab) as sock:
        sock.sendall(head_lines("PATCH", location, auth, Transfer_Encoding="chunked"))
        for offset in range(0, len(data), 100_000):  # chunk frames that straddle every read
            piece = data[offset : offset + 100_000]
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        reader = sock.makefile("rb")
        status, headers, _ = read_response(reader)
        assert (status, headers["range"]) == (202, f"0-{len(data) - 1}")
        sock.sendall(head_lines("PUT", f"{location}?digest={sha256(data)}", auth, Content_Length=0))
        assert read_response(reader)[0] == 201
    assert blob_size(running_lab, auth, sha256(data)) == len(data)


def test_pipelined_patches_each_get_their_own_body(running_lab):
    auth = basic_auth(running_lab)
    location = start_upload(running_lab, auth)
    first, second = os.urandom(300_000), os.urandom(200_000)
    requests = [
        head_lines("PATCH", location, auth, Content_Length=len(first)) + first,
        head_lines(
            "PATCH",
            location,
            auth,
            Content_Length=len(second),
            Content_Range=f"{len(first)}-{len(first) + len(second) - 1}",
        )
        + second,
        head_lines("PUT", f"{location}?digest={sha256(first + second)}", auth, Content_Length=0),
    ]
    with connect(running_lab) as sock:
        sock.sendall(b"".join(requests))  # all three before any answer
        reader = sock.makefile("rb")
        answers = [read_response(reader) for _ in requests]
    assert [(status, headers.get("range")) for status, headers, _ in answers] == [
        (202, f"0-{len(first) - 1}"),
        (202, f"0-{len(first) + len(second) - 1}"),
        (201, None),
    ]
    assert blob_size(running_lab, auth, sha256(first + second)) == len(first) + len(second)


def test_expect_100_continue_is_answered_before_the_body_is_sent(running_lab):
    auth = basic_auth(running_lab)
    location = start_upload(running_lab, auth)
    data = os.urandom(50_000)
    with connect(running_lab) as sock:
        expect = {"Expect": "100-continue", "Content_Length": len(data)}
        sock.sendall(head_lines("PATCH", location, auth, **expect))
        reader = sock.makefile("rb")
        assert read_response(reader)[0] == 100  # the client may send the body now
        sock.sendall(data)
        status, headers, _ = read_response(reader)
    assert (status, headers["range"]) == (202, f"0-{len(data) - 1}")


def test_a_client_gone_mid_body_commits_nothing_and_the_lab_keeps_serving(running_lab):
    auth = basic_auth(running_lab)
    location = start_upload(running_lab, auth)
    data = os.urandom(3 << 20)
    with connect(running_lab) as sock:
        put = f"{location}?digest={sha256(data)}"
        sock.sendall(head_lines("PUT", put, auth, Content_Length=len(data)) + data[:-1])
    # The same upload, whole this time: the bytes of the abandoned PUT are not part of it.
    retry = start_upload(running_lab, auth)
    assert blob_size(running_lab, auth, sha256(data)) is None
    with connect(running_lab) as sock:
        put = f"{retry}?digest={sha256(data)}"
        sock.sendall(head_lines("PUT", put, auth, Content_Length=len(data)) + data)
        assert read_response(sock.makefile("rb"))[0] == 201
    assert blob_size(running_lab, auth, sha256(data)) == len(data)
