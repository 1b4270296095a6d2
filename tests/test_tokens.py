"""Registry authorization tokens: issue, verify, forgery, expiry, restart."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.identity.credentials import Identity, root_identity
from lab.identity.tokens import TOKEN_LIFETIME, TokenError, TokenIssuer

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SESSION = Identity(
    arn="arn:aws:sts::123456789012:assumed-role/fa-085-role-2/i-0fedcba9876543210",
    account="123456789012",
    user_id="AROAEXAMPLE:i-0fedcba9876543210",
    role_arn="arn:aws:iam::123456789012:role/fa-085-role-2",
    session_name="i-0fedcba9876543210",
    tags={"k": "v"},
    source="ec2.amazonaws.com",
    source_instance="i-0fedcba9876543210",
)
ISSUER = TokenIssuer(b"k" * 32)


def basic(token: str) -> str:
    """The header docker sends after `docker login` with the decoded token."""
    return f"Basic {token}"


def reason(header: str | None, issuer: TokenIssuer = ISSUER, now: datetime = NOW) -> str:
    with pytest.raises(TokenError) as error:
        issuer.verify_basic(header, now=now)
    return error.value.reason


def test_token_is_base64_of_aws_user_and_password() -> None:
    token, expires_at = ISSUER.issue(SESSION, now=NOW, access_key_id="ASIAEXAMPLE")
    user, _, password = base64.b64decode(token).decode().partition(":")
    assert user == "AWS" and password
    assert expires_at == NOW + timedelta(hours=12) == NOW + TOKEN_LIFETIME


def test_token_binds_identity_and_access_key() -> None:
    token, _ = ISSUER.issue(SESSION, now=NOW, access_key_id="ASIAEXAMPLE")
    password = base64.b64decode(token).decode().partition(":")[2]
    body = password.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload["identity"]["arn"] == SESSION.arn
    assert payload["identity"]["account"] == "123456789012"
    assert payload["access_key_id"] == "ASIAEXAMPLE"


def test_verify_returns_the_identity() -> None:
    token, _ = ISSUER.issue(SESSION, now=NOW)
    assert ISSUER.verify_basic(basic(token), now=NOW) == SESSION


def test_scheme_is_case_insensitive() -> None:
    token, _ = ISSUER.issue(SESSION, now=NOW)
    assert ISSUER.verify_basic(f"basic {token}", now=NOW) == SESSION


def test_token_valid_until_twelve_hours_then_expired() -> None:
    token, expires_at = ISSUER.issue(SESSION, now=NOW)
    assert ISSUER.verify_basic(basic(token), now=expires_at - timedelta(seconds=1)) == SESSION
    assert reason(basic(token), now=expires_at) == "expired"


def test_token_outlives_the_session_that_asked_for_it() -> None:
    # ECR API Reference, GetAuthorizationToken: "The authorization token is valid for 12
    # hours", with no tie to the caller's session; an instance-profile session lasts less.
    token, _ = ISSUER.issue(SESSION, now=NOW)
    assert ISSUER.verify_basic(basic(token), now=NOW + timedelta(hours=11)) == SESSION


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing(header: str | None) -> None:
    assert reason(header) == "missing"


def test_not_basic() -> None:
    token, _ = ISSUER.issue(SESSION, now=NOW)
    assert reason(f"Bearer {token}") == "not_basic"


@pytest.mark.parametrize("encoded", ["not base64!", base64.b64encode(b"no-colon").decode()])
def test_malformed(encoded: str) -> None:
    assert reason(f"Basic {encoded}") == "malformed"


def test_user_must_be_aws() -> None:
    token, _ = ISSUER.issue(SESSION, now=NOW)
    password = base64.b64decode(token).decode().partition(":")[2]
    other = base64.b64encode(f"admin:{password}".encode()).decode()
    assert reason(basic(other)) == "wrong_user"


def test_token_from_another_key_is_forged() -> None:
    token, _ = TokenIssuer(b"x" * 32).issue(SESSION, now=NOW)
    assert reason(basic(token)) == "forged"


def test_altered_identity_is_forged() -> None:
    token, _ = ISSUER.issue(SESSION, now=NOW)
    password = base64.b64decode(token).decode().partition(":")[2]
    _body, mac = password.split(".")
    root = {"v": 1, "identity": root_identity("123456789012").to_json(), "exp": 2**40}
    forged_body = base64.urlsafe_b64encode(json.dumps(root).encode()).decode().rstrip("=")
    forged = base64.b64encode(f"AWS:{forged_body}.{mac}".encode()).decode()
    assert reason(basic(forged)) == "forged"


@pytest.mark.parametrize("password", ["", "plain-password", "a.b", "é.é", "...."])
def test_arbitrary_passwords_are_forged(password: str) -> None:
    header = basic(base64.b64encode(f"AWS:{password}".encode()).decode())
    assert reason(header) == "forged"


def test_messages_are_ecr_registry_messages() -> None:
    token, _ = ISSUER.issue(SESSION, now=NOW)
    with pytest.raises(TokenError) as expired:
        ISSUER.verify_basic(basic(token), now=NOW + timedelta(hours=13))
    assert expired.value.message == (
        "Your authorization token has expired. Reauthenticate and try again."
    )
    with pytest.raises(TokenError) as forged:
        ISSUER.verify_basic(basic(base64.b64encode(b"AWS:x").decode()), now=NOW)
    assert forged.value.message == "Your Authorization Token is invalid."


def test_key_is_persisted_so_tokens_survive_a_restart(tmp_path: Path) -> None:
    token, _ = TokenIssuer.load(tmp_path).issue(SESSION, now=NOW)
    assert TokenIssuer.load(tmp_path).verify_basic(basic(token), now=NOW) == SESSION


def test_state_directories_have_different_keys(tmp_path: Path) -> None:
    token, _ = TokenIssuer.load(tmp_path / "a").issue(SESSION, now=NOW)
    assert reason(basic(token), issuer=TokenIssuer.load(tmp_path / "b")) == "forged"


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenIssuer(b"short")


def test_rotating_the_key_refuses_earlier_tokens_also_after_a_restart(tmp_path: Path) -> None:
    issuer = TokenIssuer.load(tmp_path)
    before, _ = issuer.issue(SESSION, now=NOW)

    issuer.rotate()
    after, _ = issuer.issue(SESSION, now=NOW)

    assert reason(basic(before), issuer=issuer) == "forged"
    assert issuer.verify_basic(basic(after), now=NOW) == SESSION
    restarted = TokenIssuer.load(tmp_path)
    assert reason(basic(before), issuer=restarted) == "forged"
    assert restarted.verify_basic(basic(after), now=NOW) == SESSION


def test_rotating_an_in_memory_key() -> None:
    issuer = TokenIssuer(b"m" * 32)
    token, _ = issuer.issue(SESSION, now=NOW)

    issuer.rotate()

    assert reason(basic(token), issuer=issuer) == "forged"
