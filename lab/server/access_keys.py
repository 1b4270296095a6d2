"""IAM users' access keys: the lab learns a secret only once, when IAM creates the key."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from lab.identity.credentials import CredentialStore, Identity
from lab.identity.directory import IamDirectory


def _field(body: bytes, name: str) -> str | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    found = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == name), None)
    return found.text if found is not None else None


def follow_access_keys(
    action: str,
    params: Mapping[str, object],
    response_body: bytes,
    credentials: CredentialStore,
    directory: IamDirectory,
) -> None:
    """Keep the credential store in step with IAM's access keys after a successful call."""
    if action == "CreateAccessKey":
        key, secret = _field(response_body, "AccessKeyId"), _field(response_body, "SecretAccessKey")
        user = directory.user(_field(response_body, "UserName") or "")
        if key and secret and user is not None:
            identity = Identity(
                arn=user.arn, account=user.arn.split(":")[4], user_id=user.user_id, role_arn=None
            )
            credentials.add_static(key, secret, identity)
    elif action == "DeleteAccessKey" or (
        action == "UpdateAccessKey" and params.get("Status") == "Inactive"
    ):
        credentials.revoke(str(params.get("AccessKeyId", "")))
