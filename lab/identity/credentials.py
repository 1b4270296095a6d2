"""Who signs a request: identities, their access keys, and the store that holds them.

An `Identity` is the caller as IAM sees it (the ARN `sts get-caller-identity` prints, the
`aws:userid`, and for role sessions the role behind them). A `Credential` is an access key
pair, with a session token and an expiry for temporary (STS) credentials. The
`CredentialStore` maps access key ids to credentials and keeps them on disk so that role
sessions survive a restart of the lab.
"""

from __future__ import annotations

import base64
import secrets
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lab.store import read_json, write_json_atomic

# The admin root's key pair, as LocalStack and moto accept it (`test`/`test`).
ADMIN_ACCESS_KEY_ID = "test"
ADMIN_SECRET_ACCESS_KEY = "test"

# Temporary credentials' key ids start with ASIA (IAM user guide, "Unique identifiers").
SESSION_KEY_PREFIX = "ASIA"
_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
# AWS keeps answering ExpiredToken long after expiry ("invalid" only weeks later,
# jrl84/amazon-sp-api#57); a day keeps the distinction without growing the file forever.
EXPIRED_RETENTION = timedelta(days=1)
_STATE_FILE = "credentials.json"


@dataclass(frozen=True)
class Identity:
    """The caller as IAM sees it."""

    arn: str  # arn:aws:iam::ACCT:root | ...:user/PATH/NAME | arn:aws:sts::ACCT:assumed-role/R/S
    account: str
    user_id: str  # aws:userid: ACCT for root, AIDA... for users, AROA...:SESSION for sessions
    role_arn: str | None = None  # the role's ARN with its path, for role sessions
    session_name: str | None = None
    session_policy: str | None = None  # JSON text of the inline session policy
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    source: str | None = None  # e.g. "ec2.amazonaws.com" for instance-profile sessions
    source_instance: str | None = None  # the instance id for instance-profile sessions
    # The keys AWS adds to this session's ECR requests when they come through a VPC endpoint
    # (aws:SourceVpce, aws:SourceVpc, aws:VpcSourceIp): fixed by the lab, never by a request.
    network: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def is_root(self) -> bool:
        """True for the account's root user."""
        return self.arn == f"arn:aws:iam::{self.account}:root"

    @property
    def principal_arn(self) -> str:
        """aws:PrincipalArn: a session's role (path included), else the caller's own ARN."""
        return self.role_arn or self.arn

    @property
    def is_session(self) -> bool:
        """True for an assumed-role session."""
        return self.role_arn is not None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the state file and registry tokens)."""
        return {
            "arn": self.arn,
            "account": self.account,
            "user_id": self.user_id,
            "role_arn": self.role_arn,
            "session_name": self.session_name,
            "session_policy": self.session_policy,
            "tags": dict(self.tags),
            "source": self.source,
            "source_instance": self.source_instance,
            **({"network": dict(self.network)} if self.network else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identity:
        """The inverse of `to_json`."""
        return cls(
            arn=data["arn"],
            account=data["account"],
            user_id=data["user_id"],
            role_arn=data.get("role_arn"),
            session_name=data.get("session_name"),
            session_policy=data.get("session_policy"),
            tags=dict(data.get("tags") or {}),
            source=data.get("source"),
            source_instance=data.get("source_instance"),
            network=dict(data.get("network") or {}),
        )


def root_identity(account: str) -> Identity:
    """The root user of `account` (its aws:userid is the account id)."""
    return Identity(arn=f"arn:aws:iam::{account}:root", account=account, user_id=account)


@dataclass(frozen=True)
class Credential:
    """An access key pair; temporary ones carry a session token and an expiry (UTC)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expiration: datetime | None
    identity: Identity

    def is_expired(self, now: datetime) -> bool:
        """True once a temporary credential's expiry has passed."""
        return self.expiration is not None and now >= self.expiration

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the state file."""
        return {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "session_token": self.session_token,
            "expiration": self.expiration.isoformat() if self.expiration else None,
            "identity": self.identity.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Credential:
        """The inverse of `to_json`."""
        expiration = data.get("expiration")
        return cls(
            access_key_id=data["access_key_id"],
            secret_access_key=data["secret_access_key"],
            session_token=data.get("session_token"),
            expiration=datetime.fromisoformat(expiration) if expiration else None,
            identity=Identity.from_json(data["identity"]),
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def new_session_key_id() -> str:
    """A temporary access key id in AWS's shape: ASIA + 16 upper-case letters and digits."""
    return SESSION_KEY_PREFIX + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    """A secret access key in AWS's shape: 40 base64 characters."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def new_session_token() -> str:
    """An opaque session token, base64 like AWS's (several hundred characters)."""
    return base64.b64encode(secrets.token_bytes(384)).decode("ascii")


class CredentialStore:
    """Access keys by id, persisted under `state_dir`; safe to share between threads."""

    def __init__(self, state_dir: Path, clock: Callable[[], datetime] = _utc_now) -> None:
        self._path = Path(state_dir) / _STATE_FILE
        self._clock = clock
        self._lock = threading.Lock()
        stored = read_json(self._path, default={"credentials": []})
        self._by_key: dict[str, Credential] = {
            item["access_key_id"]: Credential.from_json(item) for item in stored["credentials"]
        }

    def add_static(self, access_key_id: str, secret: str, identity: Identity) -> Credential:
        """Register a long-term key pair (the admin root's, an IAM user's); replaces any same id."""
        credential = Credential(access_key_id, secret, None, None, identity)
        with self._lock:
            if self._by_key.get(access_key_id) != credential:  # every start adds the admin's
                self._by_key[access_key_id] = credential
                self._save()
        return credential

    def issue_session(
        self, identity: Identity, duration_seconds: int, now: datetime | None = None
    ) -> Credential:
        """Mint temporary credentials for `identity`, valid `duration_seconds` from `now`."""
        if duration_seconds <= 0:
            raise ValueError("a session must last at least one second")
        issued_at = now or self._clock()
        credential = Credential(
            access_key_id=new_session_key_id(),
            secret_access_key=new_secret_access_key(),
            session_token=new_session_token(),
            expiration=issued_at + timedelta(seconds=duration_seconds),
            identity=identity,
        )
        with self._lock:
            self._prune(issued_at)
            self._by_key[credential.access_key_id] = credential
            self._save()
        return credential

    def reset(self, keep: str) -> None:
        """Forget every key pair but `keep` (the lab's admin's): sessions, users', other roots'."""
        with self._lock:
            kept = {key: credential for key, credential in self._by_key.items() if key == keep}
            if len(kept) < len(self._by_key):  # unchanged: spare the fsyncs
                self._by_key = kept
                self._save()

    def revoke(self, access_key_id: str) -> None:
        """Forget a key pair (an IAM user's key deleted or deactivated)."""
        with self._lock:
            if self._by_key.pop(access_key_id, None) is not None:
                self._save()

    def lookup(self, access_key_id: str) -> Credential | None:
        """The credential with this key id (expired sessions included, until pruned)."""
        with self._lock:
            if self._prune(self._clock()):
                self._save()
            return self._by_key.get(access_key_id)

    def _prune(self, now: datetime) -> bool:
        """Forget sessions expired longer than EXPIRED_RETENTION; True if any went."""
        stale = [
            key
            for key, credential in self._by_key.items()
            if credential.is_expired(now - EXPIRED_RETENTION)
        ]
        for key in stale:
            del self._by_key[key]
        return bool(stale)

    def _save(self) -> None:
        write_json_atomic(self._path, {"credentials": [c.to_json() for c in self._by_key.values()]})
