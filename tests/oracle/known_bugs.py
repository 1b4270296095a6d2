"""Where the oracle (@cloud-copilot/iam-simulate) departs from AWS.

`RECORDED` holds one minimal case per departure, with AWS's answer (which our engine must give,
tests/test_oracle_disagreements.py) and the oracle's (tests/test_differential.py checks it still
answers so, to notice a fix). `explain(case, engine, oracle)` names the departure behind a
disagreement in the generated set; the generator avoids the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.server.guardrails import RCP_FULL_AWS_ACCESS_DOCUMENT as _RCP_FULL_AWS_ACCESS
from tests.oracle.cases import ECR_FULL_ACCESS, HOME, OTHER

REPOSITORY = f"arn:aws:ecr:us-east-1:{HOME}:repository/team-a/app"
ROLE_SESSION = f"arn:aws:sts::{HOME}:assumed-role/instance-role-1/i-0abc1234"


@dataclass(frozen=True)
class Recorded:
    """One departure: the case, AWS's decision, the oracle's decision, and AWS's word on it."""

    name: str
    source: str
    case: dict[str, Any]
    aws: str
    oracle: str


def _identity(statement: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": [{"Effect": "Allow", **statement}]}


def _request(**case: Any) -> dict[str, Any]:
    return {
        "principal": ROLE_SESSION,
        "action": "ecr:BatchGetImage",
        "resource": REPOSITORY,
        "identity_policies": [],
        "resource_policy": None,
        **case,
    }


RCPS = "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html"


def _deny(action: str, **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*", **extra}],
    }


ROOT_USER_FULL_ACCESS = "root-user-full-access"
SESSION_GRANT = "resource-policy-grant-to-the-session-is-not-limited-by-the-session-policy"
NOT_IP_ACROSS_FAMILIES = "not-ip-address-with-a-bare-address-of-the-other-family"

RECORDED: tuple[Recorded, ...] = (
    Recorded(
        ROOT_USER_FULL_ACCESS,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html"
        ' ("all requests are implicitly denied with the exception of the AWS account root user,'
        ' which has full access")',
        _request(principal=f"arn:aws:iam::{HOME}:root"),
        aws="allowed",
        oracle="implicit_deny",
    ),
    Recorded(
        "root-user-cross-account-needs-only-the-resource-policy",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html"
        " (the requester's identity side must allow; the root user's always does)",
        _request(
            principal=f"arn:aws:iam::{OTHER}:root",
            resource_policy={
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "ecr:BatchGetImage"}
                ],
            },
        ),
        aws="allowed",
        oracle="implicit_deny",
    ),
    Recorded(
        "policy-variable-in-the-account-part-of-a-resource-arn",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"
        " (variables may stand anywhere in the Resource element's ARN)",
        _request(
            identity_policies=[
                _identity(
                    {
                        "Action": "ecr:*",
                        "Resource": "arn:aws:ecr:*:${aws:PrincipalAccount}:repository/*",
                    }
                )
            ]
        ),
        aws="allowed",
        oracle="implicit_deny",
    ),
    Recorded(
        "negated-operator-against-a-policy-variable-with-no-value",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"
        ' ("Policy variables with no value": null matches nothing, so a negated operator holds)',
        _request(
            identity_policies=[
                _identity(
                    {
                        "Action": "ecr:*",
                        "Resource": "*",
                        "Condition": {
                            "StringNotEquals": {
                                "aws:PrincipalArn": f"arn:aws:iam::{HOME}:user/${{aws:username}}"
                            }
                        },
                    }
                )
            ]
        ),
        aws="allowed",
        oracle="implicit_deny",
    ),
    Recorded(
        "policy-variable-in-an-arn-operator-value",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"
        " (variables work in conditions with string and ARN operators)",
        _request(
            identity_policies=[
                _identity(
                    {
                        "Action": "ecr:*",
                        "Resource": "*",
                        "Condition": {
                            "ArnLike": {
                                "aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"
                            }
                        },
                    }
                )
            ]
        ),
        aws="allowed",
        oracle="implicit_deny",
    ),
    Recorded(
        "version-2008-10-17-treats-variables-as-literal-text",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"
        " (without Version 2012-10-17, ${...} is literal text, not a variable)",
        _request(
            identity_policies=[
                _identity(
                    {
                        "Action": "ecr:*",
                        "Resource": "arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team}/*",
                    },
                    version="2008-10-17",
                )
            ],
            context={"aws:PrincipalTag/team": "team-a"},
        ),
        aws="implicit_deny",
        oracle="allowed",
    ),
    Recorded(
        "unknown-condition-operator-is-an-invalid-policy",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
        " (the operator list is closed; IAM rejects others as MalformedPolicyDocument)",
        _request(
            identity_policies=[
                _identity(
                    {
                        "Action": "ecr:*",
                        "Resource": "*",
                        "Condition": {"StringEqualsAnyCase": {"aws:PrincipalTag/team": "team-a"}},
                    }
                )
            ],
            context={"aws:PrincipalTag/team": "team-a"},
        ),
        aws="error",
        oracle="implicit_deny",
    ),
    Recorded(
        "resource-element-in-a-repository-policy-is-invalid",
        "https://github.com/awsdocs/amazon-ecr-user-guide/pull/20 and"
        " https://github.com/aws/aws-cdk/issues/24314 (ECR: 'Invalid repository policy provided')",
        _request(
            identity_policies=[ECR_FULL_ACCESS],
            resource_policy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "ecr:BatchGetImage",
                        "Resource": "*",
                    }
                ],
            },
        ),
        aws="error",
        oracle="allowed",
    ),
    Recorded(
        SESSION_GRANT,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session"
        ' ("A resource-based policy can specify the ARN of the session as a principal ... The'
        ' resource-based policy permissions are not limited by the session policy")',
        _request(
            resource_policy={
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": ROLE_SESSION}, "Action": "ecr:*"}
                ],
            },
            session_policy=_identity({"Action": "ecr:DescribeImages", "Resource": "*"}),
        ),
        aws="allowed",
        oracle="implicit_deny",
    ),
    Recorded(
        NOT_IP_ACROSS_FAMILIES,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress"
        " (NotIpAddress: the address is not in the range; a bare address is a /32 or /128, and an"
        " IPv6 address is in no IPv4 range)",
        _request(
            identity_policies=[
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
                        {
                            "Effect": "Deny",
                            "Action": "ecr:*",
                            "Resource": "*",
                            "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.2.38"}},
                        },
                    ],
                }
            ],
            context={"aws:SourceIp": "2001:db8::5"},
        ),
        aws="explicit_deny",
        oracle="allowed",
    ),
    Recorded(
        "epoch-seconds-in-a-date-condition",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date"
        " (Date values: ISO 8601 or epoch (UNIX) time, in seconds)",
        _request(
            identity_policies=[
                _identity(
                    {
                        "Action": "ecr:*",
                        "Resource": "*",
                        # 1764331200 is 2025-11-28T12:00:00Z.
                        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "1764331200"}},
                    }
                )
            ],
            context={"aws:CurrentTime": "2024-01-01T00:00:00Z"},
        ),
        aws="implicit_deny",
        oracle="allowed",
    ),
    Recorded(
        "get-authorization-token-never-sees-a-repository-policy",
        "https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policies.html"
        " (ecr:GetAuthorizationToken must be allowed through an IAM policy)",
        _request(
            action="ecr:GetAuthorizationToken",
            resource="*",
            resource_policy={
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}],
            },
        ),
        aws="implicit_deny",
        oracle="allowed",
    ),
    Recorded(
        "not-principal-deny-naming-only-the-role-still-denies-its-session",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html"
        " (name the session, the role and the account, or the deny may reach the caller)",
        _request(
            identity_policies=[ECR_FULL_ACCESS],
            resource_policy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "NotPrincipal": {"AWS": f"arn:aws:iam::{HOME}:role/instance-role-1"},
                        "Action": "ecr:*",
                    }
                ],
            },
        ),
        aws="explicit_deny",
        oracle="allowed",
    ),
    Recorded(
        "rcp-on-an-action-that-authorizes-no-resource",
        f'{RCPS} ("RCPs apply to the resources that are authorized as part of an operation'
        ' request"; ecr:GetAuthorizationToken authorizes none: Resource "*")',
        _request(
            action="ecr:GetAuthorizationToken",
            resource="*",
            identity_policies=[ECR_FULL_ACCESS],
            rcps=[[_RCP_FULL_AWS_ACCESS, _deny("ecr:*", Principal="*")]],
        ),
        aws="allowed",
        oracle="explicit_deny",
    ),
    Recorded(
        "rcp-on-a-service-not-on-awss-list",
        f'{RCPS} ("List of AWS services that support RCPs": EC2\'s prefix ec2 is not on it)',
        _request(
            action="ec2:StartInstances",
            resource=f"arn:aws:ec2:us-east-1:{HOME}:instance/i-0abc1234",
            identity_policies=[_identity({"Action": "ec2:*", "Resource": "*"})],
            rcps=[[_RCP_FULL_AWS_ACCESS, _deny("ec2:*", Principal="*")]],
        ),
        aws="allowed",
        oracle="explicit_deny",
    ),
    Recorded(
        "scp-on-a-service-linked-role",
        "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html"
        ' ("SCPs do not affect service-linked roles")',
        _request(
            principal=f"arn:aws:sts::{HOME}:assumed-role/AWSServiceRoleForECRReplication/s",
            identity_policies=[ECR_FULL_ACCESS],
            context={
                "aws:PrincipalArn": f"arn:aws:iam::{HOME}:role/aws-service-role/"
                "replication.ecr.amazonaws.com/AWSServiceRoleForECRReplication"
            },
            scps=[[_deny("*")]],
        ),
        aws="allowed",
        oracle="explicit_deny",
    ),
)


def explain(case: dict[str, Any], engine: dict[str, Any], oracle: dict[str, Any]) -> str | None:
    """Name the recorded departure that explains why the two decisions differ, or None.

    The generator avoids the other departures; these three it keeps, recognised by their shape.
    """
    decisions = (engine["decision"], oracle["decision"])
    if case["principal"].endswith(":root") and decisions == ("allowed", "implicit_deny"):
        return ROOT_USER_FULL_ACCESS
    if decisions == ("allowed", "implicit_deny") and _grants_the_session(case):
        # Principal "*" names the session too: AWS's page does not single it out.
        return SESSION_GRANT
    if "error" not in decisions and _not_ip_across_families(case):
        return NOT_IP_ACROSS_FAMILIES
    return None


def _statements(doc: dict[str, Any] | None) -> list[dict[str, Any]]:
    if doc is None:
        return []
    statements = doc["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _grants_the_session(case: dict[str, Any]) -> bool:
    if "session_policy" not in case:
        return False
    for statement in _statements(case["resource_policy"]):
        principal = statement.get("Principal")
        names = principal.get("AWS") if isinstance(principal, dict) else principal
        names = names if isinstance(names, list) else [names]
        if statement["Effect"] == "Allow" and ("*" in names or case["principal"] in names):
            return True
    return False


def _not_ip_across_families(case: dict[str, Any]) -> bool:
    address = case.get("context", {}).get("aws:SourceIp")
    if address is None:
        return False
    documents = [
        *case["identity_policies"],
        case["resource_policy"],
        case.get("permissions_boundary"),
        case.get("session_policy"),
        case.get("endpoint_policy"),
        *(doc for key in ("scps", "rcps") for level in case.get(key, []) for doc in level),
    ]
    for statement in (s for doc in documents for s in _statements(doc)):
        for operator, clause in statement.get("Condition", {}).items():
            values = clause.get("aws:SourceIp", []) if operator.startswith("NotIpAddress") else []
            values = values if isinstance(values, list) else [values]
            # Only a value without a prefix length trips the oracle.
            if any("/" not in v and (":" in v) != (":" in address) for v in values):
                return True
    return False
