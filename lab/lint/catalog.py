"""What ECR's policies may name: its IAM actions and the condition keys its requests carry.

Sources: botocore's ECR service model (one IAM action per API operation) and the Service
Authorization Reference, "Actions, resources, and condition keys for Amazon Elastic Container
Registry" (https://docs.aws.amazon.com/service-authorization/latest/reference/
list_amazonelasticcontainerregistry.html): its permission-only actions and its condition keys;
"AWS global condition context keys" (IAM User Guide, reference_policies_condition-keys.html).
"""

from __future__ import annotations

import difflib
from functools import cache

from lab.ecr.validation import service_model
from lab.policy import matching

# IAM actions of ECR that no API operation carries ("[permission only]" in the reference).
PERMISSION_ONLY_ACTIONS = ("BatchImportUpstreamImage", "ReplicateImage")

# Global keys by exact (lower-cased) name, and the tag families by prefix.
GLOBAL_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime",
        "aws:EpochTime", "aws:FederatedProvider", "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent", "aws:PrincipalAccount", "aws:PrincipalArn",
        "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalType",
        "aws:Referer", "aws:RequestedRegion", "aws:ResourceAccount", "aws:ResourceOrgID",
        "aws:ResourceOrgPaths", "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn",
        "aws:SourceIdentity", "aws:SourceIp", "aws:SourceOrgID", "aws:SourceOrgPaths",
        "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:TagKeys",
        "aws:TokenIssueTime", "aws:UserAgent", "aws:userid", "aws:username",
        "aws:ViaAWSService", "aws:VpcSourceIp", "aws:Ec2InstanceSourceVpc",
        "aws:Ec2InstanceSourcePrivateIPv4", "aws:AssumedRoot",
    )
)  # fmt: skip
GLOBAL_KEY_PREFIXES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")
# ECR's own keys: only the repository's tags (the reference's "Condition keys" table).
ECR_KEY_PREFIXES = ("ecr:resourcetag/",)


@cache
def ecr_actions() -> frozenset[str]:
    """Every ECR IAM action, as `ecr:Name`."""
    names = (*service_model().operation_names, *PERMISSION_ONLY_ACTIONS)
    return frozenset(f"ecr:{name}" for name in names)


def matching_ecr_actions(pattern: str) -> list[str]:
    """The ECR actions an `ecr:` pattern (wildcards allowed) stands for, sorted."""
    return sorted(a for a in ecr_actions() if matching.action_matches(pattern, a))


def did_you_mean(action: str) -> str:
    """` Did you mean ecr:X?` for the ECR action closest to a misspelt one, else ""."""
    by_lower = {known.lower(): known for known in ecr_actions()}
    close = difflib.get_close_matches(action.lower(), by_lower, n=1, cutoff=0.8)
    return f" Did you mean {by_lower[close[0]]}?" if close else ""


def is_global_key(key: str) -> bool:
    """True for an `aws:` key that AWS defines (tag keys need a non-empty tag name)."""
    lowered = key.lower()
    if lowered in GLOBAL_KEYS:
        return True
    return any(lowered.startswith(p) and len(lowered) > len(p) for p in GLOBAL_KEY_PREFIXES)


def is_ecr_key(key: str) -> bool:
    """True for a condition key ECR defines."""
    lowered = key.lower()
    return any(lowered.startswith(p) and len(lowered) > len(p) for p in ECR_KEY_PREFIXES)
