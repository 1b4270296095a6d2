"""EmbeddedMoto: moto in process, journaled, not hijacking other clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import boto3
import pytest

from lab.upstream import make_upstream
from lab.upstream.embedded import JOURNAL_FILE, EmbeddedMoto
from lab.upstream.journal import Journal, is_write, operation_name
from tests.tutorial import EC2_TRUST

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
ECR_FULL = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
PULL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}],
    }
)


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[EmbeddedMoto]:
    moto = EmbeddedMoto(tmp_path, REGION)
    yield moto
    moto.close()


def test_roles_users_and_keys_survive_a_restart_with_the_same_ids(tmp_path: Path) -> None:
    first = EmbeddedMoto(tmp_path, REGION)
    iam = first.client("iam")
    role = iam.create_role(RoleName="app", Path="/lab/", AssumeRolePolicyDocument=EC2_TRUST)["Role"]
    iam.attach_role_policy(RoleName="app", PolicyArn=ECR_FULL)
    user = iam.create_user(UserName="bob")["User"]
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    policy = iam.create_policy(PolicyName="p", PolicyDocument=PULL)
    first.close()

    again = EmbeddedMoto(tmp_path, REGION).client("iam")
    restored = again.get_role(RoleName="app")["Role"]
    assert (restored["RoleId"], restored["Arn"]) == (role["RoleId"], role["Arn"])
    assert restored["RoleId"].startswith("AROA")
    assert again.get_user(UserName="bob")["User"]["UserId"] == user["UserId"]
    keys = again.list_access_keys(UserName="bob")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key["AccessKeyId"]]
    assert (
        again.get_policy(PolicyArn=policy["Policy"]["Arn"])["Policy"]["PolicyId"]
        == (policy["Policy"]["PolicyId"])
    )
    attached = again.list_attached_role_policies(RoleName="app")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ECR_FULL]


def test_aws_managed_policies_of_the_tutorial_attach(upstream: EmbeddedMoto) -> None:
    iam = upstream.client("iam")
    iam.create_role(RoleName="instance", AssumeRolePolicyDocument=EC2_TRUST)
    for arn in (ECR_FULL, SSM_CORE):
        iam.attach_role_policy(RoleName="instance", PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName="instance")["AttachedPolicies"]
    assert {p["PolicyName"] for p in attached} == {
        "AmazonEC2ContainerRegistryFullAccess",
        "AmazonSSMManagedInstanceCore",
    }


def test_reads_and_failures_are_not_journaled(upstream: EmbeddedMoto, tmp_path: Path) -> None:
    iam = upstream.client("iam")
    iam.create_role(RoleName="once", AssumeRolePolicyDocument=EC2_TRUST)
    iam.get_role(RoleName="once")
    iam.list_roles()
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="once", AssumeRolePolicyDocument=EC2_TRUST)
    entries = list(Journal(tmp_path / JOURNAL_FILE).entries())
    assert [operation_name(e.url, dict(e.headers), e.body) for e in entries] == ["CreateRole"]


def test_operation_names_and_writes() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert operation_name("https://iam.amazonaws.com/", form, b"Action=GetRole&X=1") == "GetRole"
    target = {"X-Amz-Target": "AmazonSSM.PutParameter"}
    assert operation_name("https://ssm.x.amazonaws.com/", target, b"{}") == "PutParameter"
    assert operation_name("https://s3.amazonaws.com/b/k", {}, b"") is None
    assert not is_write("POST", "ListRoles")
    assert is_write("POST", "CreateRole")
    assert is_write("PUT", None)
    assert not is_write("GET", None)


def test_a_torn_last_line_is_dropped_and_appends_continue(tmp_path: Path) -> None:
    first = EmbeddedMoto(tmp_path, REGION)
    first.client("iam").create_role(RoleName="kept", AssumeRolePolicyDocument=EC2_TRUST)
    first.close()
    with open(tmp_path / JOURNAL_FILE, "ab") as journal:
        journal.write(b'{"method":"POST","url":"https://iam.amaz')  # a crash mid-append
    second = EmbeddedMoto(tmp_path, REGION)
    second.client("iam").create_role(RoleName="after", AssumeRolePolicyDocument=EC2_TRUST)
    second.close()
    names = {
        r["RoleName"] for r in EmbeddedMoto(tmp_path, REGION).client("iam").list_roles()["Roles"]
    }
    assert {"kept", "after"} <= names


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.seen.append(body.decode())
        answer = (
            b'<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            b"<ListRolesResult><IsTruncated>false</IsTruncated><Roles/></ListRolesResult>"
            b"</ListRolesResponse>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: object) -> None:
        pass


def test_other_boto3_clients_in_the_process_are_not_intercepted(upstream: EmbeddedMoto) -> None:
    upstream.client("iam").create_role(RoleName="only-in-moto", AssumeRolePolicyDocument=EC2_TRUST)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        other = boto3.client(
            "iam",
            endpoint_url=f"http://127.0.0.1:{server.server_port}",
            region_name=REGION,
            aws_access_key_id="x",
            aws_secret_access_key="y",
        )
        assert other.list_roles()["Roles"] == []  # the local server's answer, not moto's
        assert any("Action=ListRoles" in body for body in _Recorder.seen)
    finally:
        server.shutdown()
        server.server_close()


def test_forward_signs_a_form_as_the_admin(upstream: EmbeddedMoto, tmp_path: Path) -> None:
    form = urlencode(
        {
            "Action": "CreateRole",
            "Version": "2010-05-08",
            "RoleName": "forwarded",
            "AssumeRolePolicyDocument": EC2_TRUST,
        }
    ).encode()
    response = upstream.forward("iam", form)
    assert response.status == 200
    assert b"<RoleName>forwarded</RoleName>" in response.body
    assert upstream.client("iam").get_role(RoleName="forwarded")["Role"]["RoleName"] == "forwarded"
    [entry] = Journal(tmp_path / JOURNAL_FILE).entries()
    sent = {name.lower(): value for name, value in entry.headers}
    assert "Credential=test/" in sent["authorization"]
    assert entry.body == form  # exactly the form it was given, and nothing in the URL
    assert "?" not in entry.url


def test_forward_returns_iam_errors_as_they_are(upstream: EmbeddedMoto) -> None:
    response = upstream.forward("iam", b"Action=GetRole&Version=2010-05-08&RoleName=absent")
    assert response.status == 404
    assert b"<Code>NoSuchEntity</Code>" in response.body


def test_make_upstream_embedded_and_bad_specs(tmp_path: Path) -> None:
    embedded = make_upstream("embedded", tmp_path, REGION)
    assert isinstance(embedded, EmbeddedMoto)
    embedded.close()
    with pytest.raises(ValueError, match="embedded"):
        make_upstream("moto", tmp_path, REGION)


_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from lab.upstream.embedded import EmbeddedMoto
iam = EmbeddedMoto(Path(sys.argv[1]), "ap-northeast-1").client("iam")
role = iam.create_role(RoleName="acked", AssumeRolePolicyDocument=sys.argv[2])["Role"]
print(role["RoleId"], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_an_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), EC2_TRUST],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    role_id = done.stdout.strip()
    restored = EmbeddedMoto(tmp_path, REGION).client("iam").get_role(RoleName="acked")["Role"]
    assert restored["RoleId"] == role_id
