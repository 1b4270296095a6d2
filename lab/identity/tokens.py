"""Registry authorization tokens: what GetAuthorizationToken returns and `docker login` sends.

The token is base64 of `AWS:<password>`, as on ECR. The password is the lab's own opaque
blob: a JSON payload (the identity, the access key it was issued to, the expiry) and an
HMAC-SHA256 over it with a key kept in the state directory, so tokens survive a restart and
cannot be forged or altered. As on AWS a token lives 12 hours, whatever the lifetime of the
session that asked for it ("The authorization token is valid for 12 hours.", ECR API
Reference, GetAuthorizationToken).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from lab.identity.credentials import Identity
from lab.store import read_json, write_json_atomic

TOKEN_LIFETIME = timedelta(hours=12)
REGISTRY_USER = "AWS"
_KEY_FILE = "registry-token-key.json"
_FORMAT_VERSION = 1

TokenReason = Literal["missing", "not_basic", "malformed", "wrong_user", "forged", "expired"]

# What ECR's registry says for each (code DENIED): expired tokens (aws/aws-cli#6580), invalid
# ones (apple/container#847); with no usable Basic credentials it challenges: "Not Authorized"
# (awslabs/aws-sigv4-proxy#237).
TOKEN_MESSAGES: dict[TokenReason, str] = {
    "missing": "Not Authorized",
    "not_basic": "Not Authorized",
    "malformed": "Your Authorization Token is invalid.",
    "wrong_user": "Your Authorization Token is invalid.",
    "forged": "Your Authorization Token is invalid.",
    "expired": "Your authorization token has expired. Reauthenticate and try again.",
}


class TokenError(Exception):
    """A registry request whose Basic credentials are not a valid, current token."""

    def __init__(self, reason: TokenReason) -> None:
        super().__init__(reason)
        self.reason: TokenReason = reason
        self.message = TOKEN_MESSAGES[reason]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _new_key(path: Path) -> bytes:
    """A new random key, written to `path` before it is used."""
    key = secrets.token_bytes(32)
    write_json_atomic(path, {"key": key.hex()})
    return key


class TokenIssuer:
    """Issues and checks registry tokens with one HMAC key."""

    def __init__(self, secret_key: bytes, key_file: Path | None = None) -> None:
        if len(secret_key) < 32:
            raise ValueError("a token key needs at least 32 bytes")
        self._key = secret_key
        self._key_file = key_file

    @classmethod
    def load(cls, state_dir: Path) -> TokenIssuer:
        """The issuer whose key is kept in `state_dir` (created on first use)."""
        path = Path(state_dir) / _KEY_FILE
        stored = read_json(path)
        if stored is None:
            return cls(_new_key(path), path)
        return cls(bytes.fromhex(stored["key"]), path)

    def rotate(self) -> None:
        """A new key (kept where the old one was): every token issued so far is refused."""
        self._key = _new_key(self._key_file) if self._key_file else secrets.token_bytes(32)

    def issue(
        self, identity: Identity, now: datetime | None = None, *, access_key_id: str | None = None
    ) -> tuple[str, datetime]:
        """(authorizationToken, expiresAt) for `identity`, issued to `access_key_id`."""
        expires_at = (now or datetime.now(UTC)) + TOKEN_LIFETIME
        payload = {
            "v": _FORMAT_VERSION,
            "identity": identity.to_json(),
            "access_key_id": access_key_id,
            "exp": int(expires_at.timestamp()),
        }
        body = _b64url(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
        password = f"{body}.{self._mac(body)}"
        token = base64.b64encode(f"{REGISTRY_USER}:{password}".encode()).decode("ascii")
        return token, expires_at

    def verify_basic(
        self, authorization_header: str | None, now: datetime | None = None
    ) -> Identity:
        """The identity behind a registry request's `Authorization: Basic ...` header.

        Raises `TokenError` for a missing, non-Basic, undecodable, forged or expired token, or
        a user other than `AWS`; any unexpected error is a forged token (fail closed).
        """
        try:
            return self._verify(authorization_header, now or datetime.now(UTC))
        except TokenError:
            raise
        except Exception as exc:  # fail closed: whatever we cannot read is not a token of ours
            raise TokenError("forged") from exc

    def _verify(self, authorization_header: str | None, now: datetime) -> Identity:
        if not authorization_header or not authorization_header.strip():
            raise TokenError("missing")
        scheme, _, encoded = authorization_header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise TokenError("not_basic")
        try:
            user, sep, password = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise TokenError("malformed") from exc
        if not sep:
            raise TokenError("malformed")
        if user != REGISTRY_USER:
            raise TokenError("wrong_user")
        body, dot, mac = password.partition(".")
        if not dot or not hmac.compare_digest(mac, self._mac(body)):
            raise TokenError("forged")
        payload = json.loads(_unb64url(body))
        if payload.get("v") != _FORMAT_VERSION:
            raise TokenError("forged")
        if now.timestamp() >= payload["exp"]:
            raise TokenError("expired")
        return Identity.from_json(payload["identity"])

    def _mac(self, body: str) -> str:
        return _b64url(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())
