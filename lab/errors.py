"""AWS errors, declared once as data.

Every layer raises `AwsError`; only the server turns it into a wire body (JSON 1.1 for ECR,
XML for the query protocol of IAM/STS, `{"errors": [...]}` for the registry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    """An AWS error code with the HTTP status AWS answers it with."""

    code: str
    status: int
    sender_fault: bool = True


# One table for the whole lab: code -> HTTP status, as AWS answers them.
ERROR_KINDS: dict[str, ErrorKind] = {
    kind.code: kind
    for kind in (
        # Authentication (ECR, JSON 1.1): AWS's JSON services answer these with 400
        ErrorKind("MissingAuthenticationTokenException", 400),
        ErrorKind("UnrecognizedClientException", 400),
        ErrorKind("InvalidSignatureException", 400),
        ErrorKind("ExpiredTokenException", 400),
        ErrorKind("IncompleteSignatureException", 400),
        ErrorKind("AccessDeniedException", 400),
        ErrorKind("UnknownOperationException", 400),
        ErrorKind("SerializationException", 400),
        ErrorKind("ValidationException", 400),
        ErrorKind("RequestEntityTooLargeException", 413),
        ErrorKind("InternalFailure", 500, sender_fault=False),
        # Authentication and authorization (IAM/STS, query protocol)
        ErrorKind("InvalidClientTokenId", 403),
        ErrorKind("SignatureDoesNotMatch", 403),
        ErrorKind("ExpiredToken", 403),
        ErrorKind("MissingAuthenticationToken", 403),
        ErrorKind("IncompleteSignature", 400),
        ErrorKind("AccessDenied", 403),
        ErrorKind("InvalidAction", 400),
        ErrorKind("InvalidQueryParameter", 400),
        ErrorKind("MalformedPolicyDocument", 400),
        ErrorKind("LimitExceeded", 409),
        ErrorKind("ValidationError", 400),
        ErrorKind("RegionDisabledException", 403),
        # ECR
        ErrorKind("InvalidParameterException", 400),
        ErrorKind("RepositoryNotFoundException", 400),
        ErrorKind("RepositoryAlreadyExistsException", 400),
        ErrorKind("RepositoryNotEmptyException", 400),
        ErrorKind("RepositoryPolicyNotFoundException", 400),
        ErrorKind("LifecyclePolicyNotFoundException", 400),
        ErrorKind("RegistryPolicyNotFoundException", 400),
        ErrorKind("LifecyclePolicyPreviewNotFoundException", 400),
        ErrorKind("LifecyclePolicyPreviewInProgressException", 400),
        ErrorKind("ImageNotFoundException", 400),
        ErrorKind("ImageAlreadyExistsException", 400),
        ErrorKind("ImageTagAlreadyExistsException", 400),
        ErrorKind("ImageDigestDoesNotMatchException", 400),
        ErrorKind("LayersNotFoundException", 400),
        ErrorKind("ReferencedImagesNotFoundException", 400),
        ErrorKind("LayerAlreadyExistsException", 400),
        ErrorKind("LayerPartTooSmallException", 400),
        ErrorKind("InvalidLayerException", 400),
        ErrorKind("InvalidLayerPartException", 400),
        ErrorKind("UploadNotFoundException", 400),
        ErrorKind("EmptyUploadException", 400),
        ErrorKind("LayerInaccessibleException", 400),
        ErrorKind("InvalidTagParameterException", 400),
        ErrorKind("TooManyTagsException", 400),
        ErrorKind("LimitExceededException", 400),
        ErrorKind("ScanNotFoundException", 400),
        ErrorKind("UnsupportedImageTypeException", 400),
        ErrorKind("ImageArchivedException", 400),
        ErrorKind("ImageStorageClassUpdateNotSupportedException", 400),
        ErrorKind("SigningConfigurationNotFoundException", 400),
        ErrorKind("ExclusionAlreadyExistsException", 400),
        ErrorKind("ExclusionNotFoundException", 400),
        ErrorKind("ReplicationBackfillInProgressException", 400),
        ErrorKind("ReplicationBackfillNotFoundException", 400),
        ErrorKind("ReplicationBackfillInvalidStatusException", 400),
        ErrorKind("TemplateAlreadyExistsException", 400),
        ErrorKind("TemplateNotFoundException", 400),
        ErrorKind("PullThroughCacheRuleAlreadyExistsException", 400),
        ErrorKind("PullThroughCacheRuleNotFoundException", 400),
        ErrorKind("UnsupportedUpstreamRegistryException", 400),
        ErrorKind("SecretNotFoundException", 400),
        ErrorKind("UnableToAccessSecretException", 400),
        ErrorKind("ServerException", 500, sender_fault=False),
        ErrorKind("InternalServiceError", 500, sender_fault=False),  # Secrets Manager's
        # EC2 (the lab's VPC endpoints)
        ErrorKind("InvalidVpcEndpointId.NotFound", 400),
        ErrorKind("InvalidPolicyDocument", 400),
        ErrorKind("UnauthorizedOperation", 403),
        # Organizations (JSON 1.1)
        ErrorKind("MalformedPolicyDocumentException", 400),
        ErrorKind("ServiceException", 500, sender_fault=False),
        # Upstream (IAM directory) unreachable
        ErrorKind("ServiceUnavailable", 503, sender_fault=False),
    )
}


class AwsError(Exception):
    """An error AWS would return: a code from ERROR_KINDS and AWS's message."""

    def __init__(
        self, code: str, message: str, members: Mapping[str, object] | None = None
    ) -> None:
        if code not in ERROR_KINDS:
            raise KeyError(f"undeclared AWS error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.members = dict(members or {})  # the exception's other modelled fields

    def with_members(self, **members: object) -> AwsError:
        """The same error carrying the exception's other fields (e.g. lastValidByteReceived)."""
        return AwsError(self.code, self.message, {**self.members, **members})

    @property
    def status(self) -> int:
        return ERROR_KINDS[self.code].status

    @property
    def sender_fault(self) -> bool:
        return ERROR_KINDS[self.code].sender_fault

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AwsError) and (self.code, self.message) == (
            other.code,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.message))


class CommandError(Exception):
    """A failure a command's user can act on: `ecr-lab` prints it as one line and exits
    with `status` (1 by default, 2 for a bad argument), never with a traceback."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status
