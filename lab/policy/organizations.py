"""Which of AWS Organizations' guardrails apply to a request, and the VPC endpoint's keys.

Sources (AWS Organizations User Guide):
- orgs_manage_policies_scps.html and orgs_manage_policies_scps_evaluation.html: SCPs limit the
  IAM users and roles (root included) of member accounts; they never affect the management
  account nor service-linked roles; an Allow must exist at every level from the root down to the
  account, and a Deny at any level wins.
- orgs_manage_policies_rcps.html ("List of AWS services that support RCPs", "Resources and
  entities not restricted by RCPs"): RCPs apply to resources of member accounts for the listed
  services, to the resources an operation authorizes (none for an action on "*"), never to the
  management account nor to calls by service-linked roles; unlike SCPs they do apply to AWS
  service principals. orgs_manage_policies_rcps_evaluation.html: the same every-level rule.
"""

from __future__ import annotations

from lab.policy.principals import Caller

# "RCPs apply to actions for the following AWS services" (orgs_manage_policies_rcps.html,
# #rcp-supported-services, as fetched 2026-09-26): their service prefixes. ECR is on it.
RCP_SERVICES = frozenset(
    {
        "appstream", "dsql", "clouddirectory", "cloudfront", "cloudsearch", "logs",
        "networkmonitor", "cognito-identity", "cognito-idp", "comprehend", "comprehendmedical",
        "firehose", "dynamodb", "dax", "autoscaling", "ecr", "ecr-public", "gamelift",
        "inspector-scan", "kendra", "kinesisvideo", "memorydb", "aoss", "personalize", "polly",
        "s3", "swf", "sqs", "textract", "timestream-influxdb", "transcribe", "translate",
        "workspaces", "appconfig", "autoscaling-plans", "budgets", "servicediscovery",
        "cloudtrail-data", "codeartifact", "codebuild", "codecommit", "codepipeline",
        "compute-optimizer", "cost-optimization-hub", "events", "fms", "fis", "health",
        "rolesanywhere", "kms", "opensearch", "pricing", "pca-connector-ad", "resource-groups",
        "secretsmanager", "sts", "signin", "support", "transfer", "notifications", "wafv2",
        "xray",
    }
)  # fmt: skip
# IAM User Guide, "Using service-linked roles": their path is /aws-service-role/ and their
# names start with AWSServiceRoleFor.
SERVICE_LINKED_PATH = ":role/aws-service-role/"
SERVICE_LINKED_NAME = "AWSServiceRoleFor"
# The request context keys a VPC endpoint sets (IAM global condition keys; a request through
# an endpoint has no aws:SourceIp, one that is not has none of these).
ENDPOINT_KEYS = ("aws:SourceVpce", "aws:SourceVpc", "aws:VpcSourceIp")


def is_service_linked_role(caller: Caller) -> bool:
    """True for a service-linked role or a session of one."""
    role = caller.role_arn or ""
    return SERVICE_LINKED_PATH in role or role.rpartition("/")[2].startswith(SERVICE_LINKED_NAME)


def scp_exemption(caller: Caller, management_account: bool) -> str | None:
    """Why SCPs do not apply to this caller, or None when they do."""
    if management_account:
        return "the management account"
    if caller.type in ("Service", "Anonymous"):
        return "not an IAM principal of a member account"
    if is_service_linked_role(caller):
        return "a service-linked role"
    return None


def rcp_exemption(
    caller: Caller, action: str, resource: str, management_account: bool
) -> str | None:
    """Why RCPs do not apply to this request, or None when they do."""
    if management_account:
        return "the management account"
    if resource == "*":
        return "the action authorizes no resource"
    service = action.partition(":")[0].lower()
    if service not in RCP_SERVICES:
        return f"{service} is not on AWS's list of services that support RCPs"
    if is_service_linked_role(caller):
        return "a service-linked role"
    return None


def rcp_syntax_problem(document: object) -> str | None:
    """What Organizations' RCP syntax refuses in a customer RCP (orgs_manage_policies_rcps_syntax
    .html: Version 2012-10-17; "The effect of Allow is only supported for the RCPFullAWSAccess
    policy"; Principal "*"; no NotAction or NotPrincipal; Action not "*"), or None."""
    if not isinstance(document, dict) or document.get("Version") != "2012-10-17":
        return 'an RCP\'s Version is "2012-10-17"'
    statements = document.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            return "a statement is an object"
        if statement.get("Effect") != "Deny":
            return "an RCP only denies (Allow is RCPFullAWSAccess's alone)"
        if "NotAction" in statement or "NotPrincipal" in statement:
            return "RCPs take no NotAction or NotPrincipal"
        if statement.get("Principal") not in ("*", {"AWS": "*"}):
            return 'an RCP\'s Principal is "*"'
        actions = statement.get("Action")
        if actions == "*" or (isinstance(actions, list) and "*" in actions):
            return 'an RCP\'s Action is not "*"'
    return None
