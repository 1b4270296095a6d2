"""ECR's errors with ECR's own messages, one constructor per case.

Messages quoted from AWS answers seen in the wild are marked (AWS); the few ECR has never been
seen to print are marked (lab) and follow the wording of ECR's neighbouring messages.
"""

from __future__ import annotations

from collections.abc import Iterable

from lab.errors import AwsError


def invalid_parameter(member: str, constraint: str) -> AwsError:
    """(AWS) e.g. "Invalid parameter at 'imageIds' failed to satisfy constraint: '...'"."""
    return AwsError(
        "InvalidParameterException",
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'",
    )


def repository_not_found(name: str, registry_id: str) -> AwsError:
    """(AWS)"""
    return AwsError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{registry_id}'",
    )


def repository_already_exists(name: str, registry_id: str) -> AwsError:
    """(AWS)"""
    return AwsError(
        "RepositoryAlreadyExistsException",
        f"The repository with name '{name}' already exists in the registry with id '{registry_id}'",
    )


def repository_not_empty(name: str, registry_id: str) -> AwsError:
    """(AWS) as Terraform and CloudFormation users quote it."""
    return AwsError(
        "RepositoryNotEmptyException",
        f"The repository with name '{name}' in registry with id '{registry_id}' cannot be "
        "deleted because it still contains images",
    )


def repository_policy_not_found(name: str, registry_id: str) -> AwsError:
    """(AWS)"""
    return AwsError(
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{registry_id}'",
    )


def lifecycle_policy_not_found(name: str, registry_id: str) -> AwsError:
    """(AWS)"""
    return AwsError(
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name '{name}' in the "
        f"registry with id '{registry_id}'",
    )


def invalid_lifecycle_policy() -> AwsError:
    """(AWS) ECR's answer to lifecycle policy text it cannot map."""
    return invalid_parameter(
        "LifecyclePolicyText",
        "Lifecycle policy validation failure: Could not map policyString into LifecyclePolicy.",
    )


def image_not_found(
    name: str, registry_id: str, *, digest: str | None, tag: str | None
) -> AwsError:
    """(AWS) as terraform-provider-aws#35268 quotes DescribeImages."""
    return AwsError(
        "ImageNotFoundException",
        f"The image with imageId {{imageDigest:'{digest or 'null'}', imageTag:'{tag or 'null'}'}} "
        f"does not exist within the repository with name '{name}' in the registry with id "
        f"'{registry_id}'",
    )


def image_already_exists(name: str, registry_id: str, digest: str, tag: str) -> AwsError:
    """(AWS) PutImage of a manifest and tag that are already there."""
    return AwsError(
        "ImageAlreadyExistsException",
        f"Image with digest '{digest}' and tag '{tag}' already exists in the repository with "
        f"name '{name}' in registry with id '{registry_id}'",
    )


def image_tag_already_exists(name: str, tag: str) -> AwsError:
    """(AWS) docker prints it after `tag invalid: `."""
    return AwsError(
        "ImageTagAlreadyExistsException",
        f"The image tag '{tag}' already exists in the '{name}' repository and cannot be "
        "overwritten because the repository is immutable.",
    )


def image_digest_does_not_match(digest: str, computed: str) -> AwsError:
    """(lab)"""
    return AwsError(
        "ImageDigestDoesNotMatchException",
        f"The provided image digest '{digest}' does not match the digest '{computed}' that "
        "Amazon ECR calculated for the image manifest",
    )


def invalid_manifest() -> AwsError:
    """(AWS) aws/aws-sdk#193: unparsable manifest, or no media type given anywhere."""
    return invalid_parameter("ImageManifest", "Invalid JSON syntax")


def layers_not_found_for_image(name: str, registry_id: str, digests: Iterable[str]) -> AwsError:
    """(AWS) the message oras-project/oras-py#54 quotes from a manifest push."""
    listed = ", ".join(digests)
    return AwsError(
        "LayersNotFoundException",
        f"Layers with digests '[{listed}]' required for pushing image into repository with "
        f"name '{name}' in the registry with id '{registry_id}' do not exist",
    )


def layer_not_found(name: str, registry_id: str, digest: str) -> AwsError:
    """(AWS) GetDownloadUrlForLayer, monken/aws-ecr-public#11."""
    return AwsError(
        "LayersNotFoundException",
        f"The layer with digest '{digest}' does not exist within the repository with name "
        f"'{name}' in the registry with id '{registry_id}'",
    )


def layer_inaccessible(name: str, registry_id: str, digest: str) -> AwsError:
    """(lab) the API reference's description of LayerInaccessibleException, made specific."""
    return AwsError(
        "LayerInaccessibleException",
        f"The layer with digest '{digest}' in the repository with name '{name}' in the "
        f"registry with id '{registry_id}' is not available because it is not associated "
        "with an image",
    )


def referenced_images_not_found(name: str, registry_id: str, digests: Iterable[str]) -> AwsError:
    """(lab)"""
    listed = ", ".join(digests)
    return AwsError(
        "ReferencedImagesNotFoundException",
        f"Images with digests '[{listed}]' referenced by the manifest list do not exist "
        f"within the repository with name '{name}' in the registry with id '{registry_id}'",
    )


def upload_not_found(upload_id: str, name: str, registry_id: str) -> AwsError:
    """(AWS)"""
    return AwsError(
        "UploadNotFoundException",
        f"Upload with id '{upload_id}' could not be found for the repository with name "
        f"'{name}' in the registry with id '{registry_id}'",
    )


def invalid_layer_part(upload_id: str, name: str, registry_id: str) -> AwsError:
    """(AWS) parts must follow on from the last byte received."""
    return AwsError(
        "InvalidLayerPartException",
        f"Invalid layer part upload for upload with id '{upload_id}' in the repository with "
        f"name '{name}' in the registry with id '{registry_id}'",
    )


def invalid_layer_digest() -> AwsError:
    """(AWS) what ECR answers when the uploaded bytes hash to none of the given digests."""
    return AwsError(
        "InvalidLayerException",
        "None of the provided layer digests match the calculated layer digest",
    )


def layer_already_exists(name: str, registry_id: str, digest: str) -> AwsError:
    """(lab)"""
    return AwsError(
        "LayerAlreadyExistsException",
        f"The layer with digest '{digest}' already exists in the repository with name "
        f"'{name}' in the registry with id '{registry_id}'",
    )


def empty_upload(upload_id: str, name: str, registry_id: str) -> AwsError:
    """(lab)"""
    return AwsError(
        "EmptyUploadException",
        f"The upload with id '{upload_id}' for the repository with name '{name}' in the "
        f"registry with id '{registry_id}' contains no layer parts",
    )


def invalid_arn() -> AwsError:
    """(AWS) TagResource and friends with a resourceArn that is not a repository's."""
    return invalid_parameter("resourceArn", "Invalid ARN")


def invalid_next_token() -> AwsError:
    """(lab)"""
    return invalid_parameter("nextToken", "Invalid NextToken")


def unknown_operation() -> AwsError:
    """(AWS) Coral answers an unknown X-Amz-Target with this code and no message."""
    return AwsError("UnknownOperationException", "")
