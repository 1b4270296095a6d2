"""Identities, credentials and the persistent credential store."""

from __future__ import annotations

import base64
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.identity.credentials import (
    EXPIRED_RETENTION,
    Credential,
    CredentialStore,
    Identity,
    root_identity,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ROLE_SESSION = Identity(
    arn="arn:aws:sts::123456789012:assumed-role/fa-085-role-1/i-0123456789abcdef0",
    account="123456789012",
    user_id="AROAEXAMPLEEXAMPLE123:i-0123456789abcdef0",
    role_arn="arn:aws:iam::123456789012:role/service/fa-085-role-1",
    session_name="i-0123456789abcdef0",
    session_policy='{"Version":"2012-10-17","Statement":[]}',
    tags={"team": "a"},
    source="ec2.amazonaws.com",
    source_instance="i-0123456789abcdef0",
)


class Clock:
    """A settable clock for the store."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_root_identity() -> None:
    root = root_identity("123456789012")
    assert (root.arn, root.user_id) == ("arn:aws:iam::123456789012:root", "123456789012")
    assert root.is_root and not root.is_session


def test_role_session_identity() -> None:
    assert ROLE_SESSION.is_session and not ROLE_SESSION.is_root


def test_user_identity_is_neither_root_nor_session() -> None:
    user = Identity("arn:aws:iam::123456789012:user/dev/alice", "123456789012", "AIDAEXAMPLE")
    assert not user.is_root and not user.is_session


def test_identity_and_credential_json_round_trip() -> None:
    assert Identity.from_json(ROLE_SESSION.to_json()) == ROLE_SESSION
    credential = Credential("ASIAX", "s" * 40, "tok", NOW, ROLE_SESSION)
    assert Credential.from_json(credential.to_json()) == credential


def test_identity_is_hashable_despite_tags() -> None:
    assert len({ROLE_SESSION, Identity.from_json(ROLE_SESSION.to_json())}) == 1


def test_issued_session_has_aws_shapes(tmp_path: Path) -> None:
    credential = CredentialStore(tmp_path).issue_session(ROLE_SESSION, 3600, now=NOW)
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", credential.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", credential.secret_access_key)
    assert credential.session_token is not None and len(credential.session_token) > 300
    base64.b64decode(credential.session_token, validate=True)
    assert credential.expiration == NOW + timedelta(hours=1)
    assert credential.identity == ROLE_SESSION


def test_sessions_are_distinct(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    first, second = (store.issue_session(ROLE_SESSION, 900, now=NOW) for _ in range(2))
    assert first.access_key_id != second.access_key_id
    assert first.secret_access_key != second.secret_access_key
    assert first.session_token != second.session_token


def test_duration_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        CredentialStore(tmp_path).issue_session(ROLE_SESSION, 0, now=NOW)


def test_lookup_static_and_session(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path, clock=Clock(NOW))
    root = store.add_static("test", "test", root_identity("123456789012"))
    session = store.issue_session(ROLE_SESSION, 900)
    assert store.lookup("test") == root
    assert store.lookup(session.access_key_id) == session
    assert store.lookup("AKIAUNKNOWN") is None


def test_add_static_replaces_the_same_key(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.add_static("AKIAEXAMPLE", "old", root_identity("123456789012"))
    store.add_static("AKIAEXAMPLE", "new", root_identity("123456789012"))
    found = store.lookup("AKIAEXAMPLE")
    assert found is not None and found.secret_access_key == "new"


def test_credentials_survive_a_restart(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path, clock=Clock(NOW))
    root = store.add_static("test", "test", root_identity("123456789012"))
    session = store.issue_session(ROLE_SESSION, 3600)
    reopened = CredentialStore(tmp_path, clock=Clock(NOW))
    assert reopened.lookup("test") == root
    assert reopened.lookup(session.access_key_id) == session


def test_expired_session_is_kept_then_pruned(tmp_path: Path) -> None:
    clock = Clock(NOW)
    store = CredentialStore(tmp_path, clock=clock)
    session = store.issue_session(ROLE_SESSION, 900)
    clock.now = NOW + timedelta(hours=1)  # expired: still found, so AWS's ExpiredToken applies
    found = store.lookup(session.access_key_id)
    assert found is not None and found.is_expired(clock.now)
    clock.now = NOW + timedelta(seconds=900) + EXPIRED_RETENTION
    assert store.lookup(session.access_key_id) is None
    assert CredentialStore(tmp_path, clock=clock).lookup(session.access_key_id) is None


def test_static_keys_never_expire(tmp_path: Path) -> None:
    clock = Clock(NOW)
    store = CredentialStore(tmp_path, clock=clock)
    store.add_static("test", "test", root_identity("123456789012"))
    clock.now = NOW + timedelta(days=3650)
    assert store.lookup("test") is not None


def test_concurrent_issues_are_all_kept(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path, clock=Clock(NOW))
    issued: list[Credential] = []

    def issue() -> None:
        for _ in range(10):
            issued.append(store.issue_session(ROLE_SESSION, 900))

    threads = [threading.Thread(target=issue) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reopened = CredentialStore(tmp_path, clock=Clock(NOW))
    assert len({c.access_key_id for c in issued}) == 60
    assert all(reopened.lookup(c.access_key_id) == c for c in issued)
