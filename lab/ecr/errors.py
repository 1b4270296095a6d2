"""ECR's errors with ECR's own messages, declared once as data: a code and a message template.

Messages quoted from AWS answers seen in the wild are marked (AWS); the few ECR has never been
seen to print are marked (lab) and follow the wording of ECR's neighbouring messages.
Raise one by calling it with its fields: `raise REPOSITORY_NOT_FOUND(name=..., registry_id=...)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from string import Formatter

from lab.errors import AwsError


@dataclass(frozen=True)
class EcrError:
    """An ECR error code and its message template, whose `{fields}` are filled by name."""

    code: str
    template: str

    @property
    def fields(self) -> frozenset[str]:
        """The names the template asks for."""
        return frozenset(name for _, name, _, _ in Formatter().parse(self.template) if name)

    def __call__(self, **fields: str | Iterable[str] | None) -> AwsError:
        """The error with `fields` written into its message, as ECR's Java prints them."""
        if fields.keys() != self.fields:
            raise TypeError(f"{self.code} takes {sorted(self.fields)}, not {sorted(fields)}")
        return AwsError(
            self.code, self.template.format_map({k: _java(v) for k, v in fields.items()})
        )


def _java(value: str | Iterable[str] | None) -> str:
    # Java's String.valueOf: null for nothing, [a, b] for a list.
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return f"[{', '.join(value)}]"


_IN_REGISTRY = "the repository with name '{name}' in the registry with id '{registry_id}'"

# (AWS) e.g. "Invalid parameter at 'imageIds' failed to satisfy constraint: '...'".
INVALID_PARAMETER = EcrError(
    "InvalidParameterException",
    "Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'",
)
# (AWS)
REPOSITORY_NOT_FOUND = EcrError(
    "RepositoryNotFoundException",
    "The repository with name '{name}' does not exist in the registry with id '{registry_id}'",
)
# (AWS)
REPOSITORY_ALREADY_EXISTS = EcrError(
    "RepositoryAlreadyExistsException",
    "The repository with name '{name}' already exists in the registry with id '{registry_id}'",
)
# (AWS) as Terraform and CloudFormation users quote it.
REPOSITORY_NOT_EMPTY = EcrError(
    "RepositoryNotEmptyException",
    "The repository with name '{name}' in registry with id '{registry_id}' cannot be deleted "
    "because it still contains images",
)
# (AWS)
REPOSITORY_POLICY_NOT_FOUND = EcrError(
    "RepositoryPolicyNotFoundException", "Repository policy does not exist for " + _IN_REGISTRY
)
# (lab) the API reference: "The registry doesn't have an associated registry policy."
REGISTRY_POLICY_NOT_FOUND = EcrError(
    "RegistryPolicyNotFoundException",
    "Registry policy does not exist in the registry with id '{registry_id}'",
)
# (AWS)
LIFECYCLE_POLICY_NOT_FOUND = EcrError(
    "LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for " + _IN_REGISTRY
)
# (lab) the API reference: "There is no dry run for this repository."
LIFECYCLE_PREVIEW_NOT_FOUND = EcrError(
    "LifecyclePolicyPreviewNotFoundException",
    "Lifecycle policy preview does not exist for " + _IN_REGISTRY,
)
# (lab) the API reference: "The previous lifecycle policy preview request has not completed."
LIFECYCLE_PREVIEW_IN_PROGRESS = EcrError(
    "LifecyclePolicyPreviewInProgressException",
    "The previous lifecycle policy preview request has not completed for " + _IN_REGISTRY,
)
# (AWS) as terraform-provider-aws#35268 quotes DescribeImages.
IMAGE_NOT_FOUND = EcrError(
    "ImageNotFoundException",
    "The image with imageId {{imageDigest:'{digest}', imageTag:'{tag}'}} does not exist within "
    + _IN_REGISTRY,
)
# (AWS) PutImage of a manifest and tag that are already there.
IMAGE_ALREADY_EXISTS = EcrError(
    "ImageAlreadyExistsException",
    "Image with digest '{digest}' and tag '{tag}' already exists in the repository with name "
    "'{name}' in registry with id '{registry_id}'",
)
# (AWS) docker prints it after `tag invalid: `.
IMAGE_TAG_ALREADY_EXISTS = EcrError(
    "ImageTagAlreadyExistsException",
    "The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten "
    "because the repository is immutable.",
)
# (lab)
IMAGE_DIGEST_DOES_NOT_MATCH = EcrError(
    "ImageDigestDoesNotMatchException",
    "The provided image digest '{digest}' does not match the digest '{computed}' that Amazon "
    "ECR calculated for the image manifest",
)
# (AWS) the message oras-project/oras-py#54 quotes from a manifest push.
LAYERS_NOT_FOUND_FOR_IMAGE = EcrError(
    "LayersNotFoundException",
    "Layers with digests '{digests}' required for pushing image into repository with name "
    "'{name}' in the registry with id '{registry_id}' do not exist",
)
# (AWS) GetDownloadUrlForLayer, monken/aws-ecr-public#11.
LAYER_NOT_FOUND = EcrError(
    "LayersNotFoundException",
    "The layer with digest '{digest}' does not exist within " + _IN_REGISTRY,
)
# (lab) the API reference's description of LayerInaccessibleException, made specific.
LAYER_INACCESSIBLE = EcrError(
    "LayerInaccessibleException",
    "The layer with digest '{digest}' in " + _IN_REGISTRY + " is not available because it is "
    "not associated with an image",
)
# (lab)
REFERENCED_IMAGES_NOT_FOUND = EcrError(
    "ReferencedImagesNotFoundException",
    "Images with digests '{digests}' referenced by the manifest list do not exist within "
    + _IN_REGISTRY,
)
# (AWS)
UPLOAD_NOT_FOUND = EcrError(
    "UploadNotFoundException",
    "Upload with id '{upload_id}' could not be found for " + _IN_REGISTRY,
)
# (AWS) parts must follow on from the last byte received.
INVALID_LAYER_PART = EcrError(
    "InvalidLayerPartException",
    "Invalid layer part upload for upload with id '{upload_id}' in " + _IN_REGISTRY,
)
# (AWS) what ECR answers when the uploaded bytes hash to none of the given digests.
INVALID_LAYER_DIGEST = EcrError(
    "InvalidLayerException", "None of the provided layer digests match the calculated layer digest"
)
# (lab)
LAYER_ALREADY_EXISTS = EcrError(
    "LayerAlreadyExistsException",
    "The layer with digest '{digest}' already exists in " + _IN_REGISTRY,
)
# (lab)
EMPTY_UPLOAD = EcrError(
    "EmptyUploadException",
    "The upload with id '{upload_id}' for " + _IN_REGISTRY + " contains no layer parts",
)
# (lab) the API reference's description of the exception (TagResource, CreateRepository).
INVALID_TAG_PARAMETER = EcrError(
    "InvalidTagParameterException",
    "An invalid parameter has been specified. Tag keys can have a maximum character length of "
    "128 characters, and tag values can have a maximum length of 256 characters.",
)
# (AWS) Coral answers an unknown X-Amz-Target with this code and no message.
UNKNOWN_OPERATION = EcrError("UnknownOperationException", "")
# (lab) the API reference's words for the exception (DescribeImageScanFindings).
SCAN_NOT_FOUND = EcrError(
    "ScanNotFoundException",
    "Image scan does not exist for the image with imageId {{imageDigest:'{digest}', "
    "imageTag:'{tag}'}} in " + _IN_REGISTRY,
)
# (lab) the model's descriptions of these exceptions (StartImageScan).
UNSUPPORTED_IMAGE_TYPE = EcrError(
    "UnsupportedImageTypeException", "The image is of a type that cannot be scanned."
)
IMAGE_ARCHIVED = EcrError(
    "ImageArchivedException", "The specified image is archived and cannot be scanned."
)
# (lab) as moto words it: one basic scan per image per 24 hours.
SCAN_LIMIT_EXCEEDED = EcrError(
    "LimitExceededException", "The scan quota per image has been exceeded. Wait and try again."
)
# (lab) the model's description of the exception (UpdateImageStorageClass).
STORAGE_CLASS_UPDATE_NOT_SUPPORTED = EcrError(
    "ImageStorageClassUpdateNotSupportedException",
    "The requested image storage class update is not supported.",
)
# (lab) pull-time update exclusions, worded as ECR's other registry-level errors.
EXCLUSION_ALREADY_EXISTS = EcrError(
    "ExclusionAlreadyExistsException",
    "The pull time update exclusion for the principal '{arn}' already exists in the registry "
    "with id '{registry_id}'",
)
EXCLUSION_NOT_FOUND = EcrError(
    "ExclusionNotFoundException",
    "The pull time update exclusion for the principal '{arn}' does not exist in the registry "
    "with id '{registry_id}'",
)
TOO_MANY_EXCLUSIONS = EcrError(
    "LimitExceededException",
    "The registry already has the maximum of {limit} pull time update exclusions",
)
# (lab) worded as ECR's other registry-level not-found errors.
SIGNING_CONFIGURATION_NOT_FOUND = EcrError(
    "SigningConfigurationNotFoundException",
    "Signing configuration does not exist in the registry with id '{registry_id}'",
)
# (lab) the replication backfill errors, worded from the API reference's descriptions.
BACKFILL_IN_PROGRESS = EcrError(
    "ReplicationBackfillInProgressException",
    "A replication backfill is already in progress for the destination Region '{region}'",
)
BACKFILL_NOT_FOUND = EcrError(
    "ReplicationBackfillNotFoundException",
    "The replication backfill with id '{backfill_id}' does not exist in the registry with id "
    "'{registry_id}'",
)
BACKFILL_INVALID_STATUS = EcrError(
    "ReplicationBackfillInvalidStatusException",
    "The replication backfill with id '{backfill_id}' is {status} and cannot be stopped",
)
TOO_MANY_BACKFILLS = EcrError(
    "LimitExceededException",
    "The registry already has the maximum of {limit} replication backfills in progress",
)
# (lab) an operation of ECR's model that the lab does not emulate: named, never a 500.
NOT_EMULATED = EcrError(
    "UnknownOperationException", "The lab does not emulate the ECR operation {operation}"
)


def invalid_lifecycle_policy(reason: str) -> AwsError:
    """(AWS) ECR's refusal of lifecycle policy text, e.g. "Could not map policyString into
    LifecyclePolicy." (lab.ecr.lifecycle gives the reason)."""
    return INVALID_PARAMETER(
        member="LifecyclePolicyText", constraint=f"Lifecycle policy validation failure: {reason}"
    )


# (AWS) aws/aws-sdk#193: unparsable manifest, or no media type given anywhere.
INVALID_MANIFEST = partial(
    INVALID_PARAMETER, member="ImageManifest", constraint="Invalid JSON syntax"
)
# (AWS) TagResource and friends with a resourceArn that is not a repository's.
INVALID_ARN = partial(INVALID_PARAMETER, member="resourceArn", constraint="Invalid ARN")
# (lab)
INVALID_NEXT_TOKEN = partial(INVALID_PARAMETER, member="nextToken", constraint="Invalid NextToken")
# (lab) BASIC scanning scans on push or manually, never continuously (RegistryScanningRule).
CONTINUOUS_SCAN_NEEDS_ENHANCED = partial(
    INVALID_PARAMETER,
    member="scanFrequency",
    constraint="CONTINUOUS_SCAN is supported only for the ENHANCED scan type",
)
# (lab) repository creation templates, worded as ECR's other registry-level errors.
TEMPLATE_ALREADY_EXISTS = EcrError(
    "TemplateAlreadyExistsException",
    "The repository creation template with prefix '{prefix}' already exists in the registry "
    "with id '{registry_id}'",
)
TEMPLATE_NOT_FOUND = EcrError(
    "TemplateNotFoundException",
    "The repository creation template with prefix '{prefix}' does not exist in the registry "
    "with id '{registry_id}'",
)
# (lab) pull through cache rules, worded as ECR's other registry-level errors.
PULL_THROUGH_CACHE_RULE_ALREADY_EXISTS = EcrError(
    "PullThroughCacheRuleAlreadyExistsException",
    "A pull through cache rule with the prefix '{prefix}' already exists in the registry with "
    "id '{registry_id}'",
)
PULL_THROUGH_CACHE_RULE_NOT_FOUND = EcrError(
    "PullThroughCacheRuleNotFoundException",
    "The pull through cache rule with the prefix '{prefix}' does not exist in the registry with "
    "id '{registry_id}'",
)
# (lab) the API reference's description of the exception, naming the URL.
UNSUPPORTED_UPSTREAM_REGISTRY = EcrError(
    "UnsupportedUpstreamRegistryException",
    "The specified upstream registry '{url}' isn't supported.",
)
SECRET_NOT_FOUND = EcrError(
    "SecretNotFoundException",
    "The ARN '{arn}' does not name a secret in Secrets Manager for this account and Region",
)
