"""SigV4 at the front door, through real HTTP: presigned URLs, clock skew, tampering, scope,
expired sessions, and the IAM/STS query errors as boto3 parses them.

Messages are AWS's (see lab/identity/sigv4.py for the sources of each).
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from lab.identity.credentials import Credential
from lab.identity.sigv4 import EXPIRED_TOKEN, INVALID_TOKEN, SIGNATURE_MISMATCH
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.conftest import client
from tests.server_support import JSON_1_1, boto_credentials, send, signed_headers
from tests.test_server_api import error_of
from tests.tutorial import EC2_TRUST, MANAGED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    """One lab for the module: these tests only read, or add sessions of their own."""
    with RunningLab(LabConfig(state_dir=tmp_path_factory.mktemp("auth") / "state")) as running:
        iam = client(running, "iam")
        iam.create_role(RoleName="Puller", AssumeRolePolicyDocument=EC2_TRUST)
        for arn in MANAGED:
            iam.attach_role_policy(RoleName="Puller", PolicyArn=arn)
        yield running


def role_session(lab: RunningLab, issued_ago: dt.timedelta = dt.timedelta(0)) -> Credential:
    """A 900-second session of role Puller (DurationSeconds' minimum), issued `issued_ago`."""
    credential = lab.lab.sts.instance_session(
        "arn:aws:iam::000000000000:role/Puller", "i-0123456789abcdef0"
    )
    return lab.lab.credentials.issue_session(
        credential.identity, 900, now=dt.datetime.now(dt.UTC) - issued_ago
    )


def query_error(body: bytes) -> tuple[str, str]:
    """(Code, Message) of a query-protocol ErrorResponse."""
    root = ET.fromstring(body)
    found = {el.tag.rsplit("}", 1)[-1]: el.text for el in root.iter()}
    return found["Code"], found["Message"]


# ---- presigned query strings ------------------------------------------------------------------


def presigned_get_caller_identity(lab: RunningLab, expires: int = 60) -> str:
    """A GET URL, as `aws eks get-token` makes it (botocore signs POST unless told GET)."""
    return client(lab, "sts").generate_presigned_url(
        "get_caller_identity", ExpiresIn=expires, HttpMethod="GET"
    )


def test_presigned_get_caller_identity_fetched_with_urllib(lab: RunningLab) -> None:
    url = presigned_get_caller_identity(lab)
    with urllib.request.urlopen(url) as response:
        body = response.read()
    assert response.status == 200
    assert b"<Arn>arn:aws:iam::000000000000:root</Arn>" in body


def test_presigned_url_signed_for_post_is_refused_on_get(lab: RunningLab) -> None:
    """The method is signed: botocore's default presigned STS URL is for POST, as on AWS."""
    url = client(lab, "sts").generate_presigned_url("get_caller_identity", ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url)
    assert query_error(excinfo.value.read()) == ("SignatureDoesNotMatch", SIGNATURE_MISMATCH)


def test_presigned_url_with_a_tampered_signature_is_refused(lab: RunningLab) -> None:
    url = presigned_get_caller_identity(lab)
    head, _, signature = url.rpartition("X-Amz-Signature=")
    tampered = head + "X-Amz-Signature=" + ("0" if signature[0] != "0" else "1") + signature[1:]
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(tampered)
    assert excinfo.value.code == 403
    assert query_error(excinfo.value.read()) == ("SignatureDoesNotMatch", SIGNATURE_MISMATCH)


def test_presigned_url_older_than_fifteen_minutes_is_expired(
    lab: RunningLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Non-S3 presigned URLs live 15 minutes whatever X-Amz-Expires says (aws-sdk-go#2167)."""
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: past)
    url = presigned_get_caller_identity(lab, expires=3600)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url)
    code, message = query_error(excinfo.value.read())
    assert (excinfo.value.code, code) == (403, "SignatureDoesNotMatch")
    assert message.startswith("Signature expired: ")


# ---- clock skew -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "wording"),
    [(-16, "Signature expired: {date} is now earlier than"), (16, "Signature not yet current:")],
)
def test_a_client_clock_off_by_more_than_fifteen_minutes_is_refused(
    lab: RunningLab, monkeypatch: pytest.MonkeyPatch, minutes: int, wording: str
) -> None:
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    with pytest.raises(ClientError) as excinfo:
        client(lab, "ecr").describe_repositories()
    code, message, status = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith(wording.format(date=skewed.strftime("%Y%m%dT%H%M%SZ")))
    assert message.endswith(" min.)")


def test_a_client_clock_off_by_fourteen_minutes_is_accepted(
    lab: RunningLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=14)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    assert "repositories" in client(lab, "ecr").describe_repositories()


# ---- tampering and scope ----------------------------------------------------------------------


def test_a_tampered_signature_is_invalid_signature(lab: RunningLab) -> None:
    ecr = client(lab, "ecr")

    def flip_last_hex(request, **_) -> None:
        auth = request.headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        request.headers["Authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")

    ecr.meta.events.register("before-send.ecr.DescribeRepositories", flip_last_hex)
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories()
    assert error_of(excinfo) == ("InvalidSignatureException", SIGNATURE_MISMATCH, 400)


def test_a_body_changed_after_signing_is_invalid_signature(lab: RunningLab) -> None:
    ecr = client(lab, "ecr")

    def swap_body(request, **_) -> None:
        request.body = b'{"maxResults": 1}'
        request.headers["Content-Length"] = str(len(request.body))

    ecr.meta.events.register("before-send.ecr.DescribeRepositories", swap_body)
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories()
    assert error_of(excinfo) == ("InvalidSignatureException", SIGNATURE_MISMATCH, 400)


def test_a_signed_payload_hash_that_is_not_the_bodys_is_refused(lab: RunningLab) -> None:
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "Content-Type": JSON_1_1,
        "X-Amz-Content-SHA256": "0" * 64,
    }
    signed = signed_headers(lab.url, "POST", "/", headers, b"{}", service="ecr")
    answer = send(lab.url, "POST", "/", signed, b"{}")
    assert (answer.status, answer.json()["__type"]) == (400, "InvalidSignatureException")


def test_credential_scoped_to_a_region_aws_lacks_is_refused(lab: RunningLab) -> None:
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "Content-Type": JSON_1_1,
    }
    signed = signed_headers(
        lab.url, "POST", "/", headers, b"{}", service="ecr", region="mars-north-9"
    )
    answer = send(lab.url, "POST", "/", signed, b"{}")
    assert answer.status == 400
    assert answer.json() == {
        "__type": "InvalidSignatureException",
        "message": "Credential should be scoped to a valid region, not 'mars-north-9'. ",
    }


def test_credential_scoped_to_another_service_is_refused(lab: RunningLab) -> None:
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "Content-Type": JSON_1_1,
    }
    signed = signed_headers(lab.url, "POST", "/", headers, b"{}", service="iam")
    answer = send(lab.url, "POST", "/", signed, b"{}")
    assert answer.status == 400
    assert answer.json() == {
        "__type": "InvalidSignatureException",
        "message": "Credential should be scoped to correct service: 'ecr'. ",
    }


# ---- expired sessions -------------------------------------------------------------------------


def test_an_expired_session_is_expired_token_on_ecr(lab: RunningLab) -> None:
    expired = role_session(lab, issued_ago=dt.timedelta(seconds=901))
    with pytest.raises(ClientError) as excinfo:
        client(lab, "ecr", **boto_credentials(expired)).describe_repositories()
    assert error_of(excinfo) == ("ExpiredTokenException", EXPIRED_TOKEN, 400)


@pytest.mark.parametrize("service", ["sts", "iam"])
def test_an_expired_session_is_expired_token_on_iam_and_sts(lab: RunningLab, service: str) -> None:
    expired = client(lab, service, **boto_credentials(role_session(lab, dt.timedelta(hours=1))))
    call = expired.get_caller_identity if service == "sts" else expired.list_roles
    with pytest.raises(ClientError) as excinfo:
        call()
    assert error_of(excinfo) == ("ExpiredToken", EXPIRED_TOKEN, 403)


def test_a_session_inside_its_900_seconds_works(lab: RunningLab) -> None:
    fresh = role_session(lab, issued_ago=dt.timedelta(seconds=890))
    arn = client(lab, "sts", **boto_credentials(fresh)).get_caller_identity()["Arn"]
    assert arn == "arn:aws:sts::000000000000:assumed-role/Puller/i-0123456789abcdef0"


def test_a_session_with_a_wrong_token_is_invalid(lab: RunningLab) -> None:
    keys = boto_credentials(role_session(lab)) | {"aws_session_token": "not-the-token"}
    with pytest.raises(ClientError) as excinfo:
        client(lab, "ecr", **keys).describe_repositories()
    assert error_of(excinfo) == ("UnrecognizedClientException", INVALID_TOKEN, 400)


# ---- IAM/STS query errors, as boto3 parses them -----------------------------------------------


def test_unknown_key_is_invalid_client_token_id(lab: RunningLab) -> None:
    sts = client(lab, "sts", aws_access_key_id="AKIAUNKNOWN000000000")
    with pytest.raises(ClientError) as excinfo:
        sts.get_caller_identity()
    assert error_of(excinfo) == ("InvalidClientTokenId", INVALID_TOKEN, 403)


def test_wrong_secret_on_sts_is_signature_does_not_match(lab: RunningLab) -> None:
    sts = client(lab, "sts", aws_secret_access_key="wrong")
    with pytest.raises(ClientError) as excinfo:
        sts.get_caller_identity()
    assert error_of(excinfo) == ("SignatureDoesNotMatch", SIGNATURE_MISMATCH, 403)
    assert excinfo.value.response["Error"]["Type"] == "Sender"


@pytest.mark.parametrize("service", ["sts", "iam"])
def test_unsigned_query_call_is_missing_authentication_token(lab: RunningLab, service: str) -> None:
    unsigned = client(lab, service, config=Config(signature_version=UNSIGNED))
    call = unsigned.get_caller_identity if service == "sts" else unsigned.list_roles
    with pytest.raises(ClientError) as excinfo:
        call()
    assert error_of(excinfo) == (
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
        403,
    )


def test_sts_errors_carry_the_sts_xml_namespace(lab: RunningLab) -> None:
    url = presigned_get_caller_identity(lab)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url.replace("Action=GetCallerIdentity", "Action=GetSessionToken"))
    assert ET.fromstring(excinfo.value.read()).tag == (
        "{https://sts.amazonaws.com/doc/2011-06-15/}ErrorResponse"
    )
