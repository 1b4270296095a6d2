"""Who is calling: identities and access keys, SigV4 verification, registry tokens."""

from lab.identity.credentials import Credential, CredentialStore, Identity, root_identity
from lab.identity.sigv4 import AuthFailure, to_aws_error, verify
from lab.identity.tokens import TokenError, TokenIssuer

__all__ = [
    "AuthFailure",
    "Credential",
    "CredentialStore",
    "Identity",
    "TokenError",
    "TokenIssuer",
    "root_identity",
    "to_aws_error",
    "verify",
]
