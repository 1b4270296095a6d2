"""lab.identity.sigv4_request: what a request claims it signed, read as AWS reads it."""

from __future__ import annotations

import pytest

from lab.identity.sigv4_request import (
    BOTH_FORMS,
    AuthFailure,
    header_map,
    query_pairs,
    read_claim,
    request_time,
)

AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)


def test_header_claim():
    headers = header_map([("Authorization", AUTHORIZATION), ("X-Amz-Date", "20150830T123600Z")])
    claim = read_claim(headers, query_pairs("b=2&a=1"))
    assert claim.credential == "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
    assert claim.signed_headers == ("host", "x-amz-date")
    assert (claim.signature, claim.amz_date, claim.security_token) == (
        "abc",
        "20150830T123600Z",
        None,
    )
    assert claim.query == (("b", "2"), ("a", "1"))


def test_presigned_claim_leaves_its_signature_out_of_the_query():
    query = query_pairs(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F20150830%2Fus-east-1%2Fs%2Faws4_request"
        "&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"
    )
    claim = read_claim({}, query)
    assert claim.credential == "K/20150830/us-east-1/s/aws4_request"
    assert "X-Amz-Signature" not in dict(claim.query)


def test_both_forms_at_once_are_refused_with_aws_message():
    with pytest.raises(AuthFailure) as caught:
        read_claim({"authorization": AUTHORIZATION}, [("X-Amz-Algorithm", "AWS4-HMAC-SHA256")])
    assert (caught.value.reason, caught.value.message) == ("bad_signature", BOTH_FORMS)


def test_no_signature_at_all_is_missing():
    with pytest.raises(AuthFailure) as caught:
        read_claim({}, [])
    assert caught.value.reason == "missing"


@pytest.mark.parametrize("amz_date", ["20151330T000000Z", "2015-08-30T12:36:00Z"])
def test_a_malformed_date_is_an_incomplete_signature(amz_date):
    with pytest.raises(AuthFailure) as caught:
        request_time(amz_date)
    assert caught.value.reason == "incomplete"
    assert caught.value.message.startswith("Date must be in ISO-8601 'basic format'.")
