"""Organizations guardrails (SCPs, RCPs) and VPC endpoint policies in the engine, as AWS documents
them. Each test names the page it pins:

- SCP_EVAL: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
- SCPS: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
- RCPS: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
- RCP_EVAL: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html
- EVAL_ORDER: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
- ENDPOINT: https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html
- ECR_ENDPOINT: https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
- MESSAGES: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lab.policy.batch import answer_line, answer_lines, read_case
from lab.policy.evaluate import evaluate
from lab.policy.explain import render_text

ACCOUNT = "111122223333"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/instance-role-1/i-0abc"
REPOSITORY = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/fa-085"
GOLDEN = Path(__file__).parent / "data" / "batch_golden"


def _doc(effect: str, action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": action, "Resource": resource, **extra}],
    }


FULL_ACCESS = _doc("Allow")  # FullAWSAccess, attached at every level by default (SCP_EVAL)
RCP_FULL_ACCESS = _doc("Allow", Principal="*")  # RCPFullAWSAccess (RCPS, "RCP syntax")
ECR_FULL = _doc("Allow", "ecr:*")
DENY_PULL_SCP = _doc("Deny", "ecr:BatchGetImage")
DENY_ECR_RCP = _doc("Deny", "ecr:*", Principal="*")


def case(**fields: Any) -> dict[str, Any]:
    return {
        "principal": SESSION,
        "action": "ecr:BatchGetImage",
        "resource": REPOSITORY,
        "identity_policies": [ECR_FULL],
        "resource_policy": None,
        **fields,
    }


def decide(**fields: Any) -> dict[str, Any]:
    return json.loads(answer_line(json.dumps(case(**fields))))


def message(reason: str, action: str = "ecr:BatchGetImage", resource: str = REPOSITORY) -> str:
    return (
        f"User: {SESSION} is not authorized to perform: {action} on resource: {resource} {reason}"
    )


# ---- SCPs ----------------------------------------------------------------------------------


def test_scp_allow_must_exist_at_every_level_root_ou_and_account() -> None:
    # SCP_EVAL, "How SCPs work with Allow": an explicit Allow at every level from the root
    # through each OU to the account; missing at any level, access is denied.
    allowed = decide(scps=[[FULL_ACCESS], [FULL_ACCESS], [ECR_FULL]])
    assert allowed["decision"] == "allowed"
    for missing in range(3):
        levels = [[FULL_ACCESS], [FULL_ACCESS], [FULL_ACCESS]]
        levels[missing] = [_doc("Allow", "s3:*")]
        answer = decide(scps=levels)
        assert answer["decision"] == "implicit_deny", missing
        assert answer["message"] == message(
            "because no service control policy allows the ecr:BatchGetImage action"
        )


def test_scp_deny_at_any_level_wins_and_names_the_level() -> None:
    # SCP_EVAL, "How SCPs work with Deny": a Deny at any level applies to everything below it.
    for level in range(3):
        levels: list[list[Any]] = [[FULL_ACCESS], [FULL_ACCESS], [FULL_ACCESS]]
        levels[level].append(DENY_PULL_SCP)
        answer = decide(scps=levels)
        assert answer["decision"] == "explicit_deny"
        assert answer["message"] == message("with an explicit deny in a service control policy")
        assert answer["matched"] == [
            {"policy": "scp", "index": 1, "statement": 0, "sid": None, "level": level}
        ]


def test_an_scp_grants_nothing() -> None:
    # SCPS: "SCPs alone are not sufficient to granting permissions"; the identity must allow.
    answer = decide(identity_policies=[], scps=[[FULL_ACCESS], [FULL_ACCESS]])
    assert answer["decision"] == "implicit_deny"
    assert answer["message"].endswith(
        "because no identity-based policy allows the ecr:BatchGetImage action"
    )


def test_scps_never_apply_to_the_management_account() -> None:
    # SCPS, "Tasks and entities not restricted by SCPs": users and roles in the management
    # account; RCPS: "RCPs don't affect resources in the management account".
    guardrails = {"scps": [[DENY_PULL_SCP]], "rcps": [[DENY_ECR_RCP]]}
    assert decide(**guardrails)["decision"] == "explicit_deny"
    assert decide(**guardrails, management_account=True)["decision"] == "allowed"


SERVICE_LINKED = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForECRReplication/replication"
SERVICE_LINKED_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/replication.ecr.amazonaws.com/"
    "AWSServiceRoleForECRReplication"
)


def test_scps_and_rcps_do_not_restrict_service_linked_roles() -> None:
    # SCPS: "SCPs do not affect service-linked roles"; RCPS, "Resources and entities not
    # restricted by RCPs": "RCPs do not impact the effective permissions of any service-linked
    # role". A service-linked role's path is /aws-service-role/.
    for guardrails in ({"scps": [[DENY_PULL_SCP]]}, {"rcps": [[DENY_ECR_RCP]]}):
        answer = decide(
            principal=SERVICE_LINKED,
            context={"aws:PrincipalArn": SERVICE_LINKED_ROLE},
            **guardrails,
        )
        assert answer["decision"] == "allowed", guardrails
    # The same guardrails do restrict an ordinary role's session.
    assert decide(scps=[[DENY_PULL_SCP]])["decision"] == "explicit_deny"


def test_scps_do_not_restrict_service_principals_but_rcps_do() -> None:
    # SCPS: SCPs limit the IAM users and roles of member accounts. RCPS, "RCP effects on
    # permissions": RCPs impact every principal accessing the resource except service-linked
    # roles (AWS's data perimeter guidance: "RCPs, however, can be used to limit access by AWS
    # service principals").
    service = {
        "principal": "replication.ecr.amazonaws.com",
        "identity_policies": [],
        "resource_policy": _doc(
            "Allow", "ecr:*", Principal={"Service": "replication.ecr.amazonaws.com"}
        )
        | {},
    }
    service["resource_policy"]["Statement"][0].pop("Resource")
    assert decide(**service, scps=[[DENY_PULL_SCP]])["decision"] == "allowed"
    answer = decide(**service, rcps=[[RCP_FULL_ACCESS, DENY_ECR_RCP]])
    assert answer["decision"] == "explicit_deny"
    assert answer["message"].endswith("with an explicit deny in a resource control policy")


# ---- RCPs ----------------------------------------------------------------------------------


def test_rcps_apply_to_ecr_which_is_on_awss_list() -> None:
    # RCPS, "List of AWS services that support RCPs": "Amazon Elastic Container Registry
    # (prefix:ecr)". The RCP denies even though the identity and repository policies allow.
    answer = decide(rcps=[[RCP_FULL_ACCESS], [RCP_FULL_ACCESS, DENY_ECR_RCP]])
    assert answer["decision"] == "explicit_deny"
    assert answer["message"] == message("with an explicit deny in a resource control policy")
    assert answer["matched"][0]["policy"] == "rcp" and answer["matched"][0]["level"] == 1


def test_rcps_do_not_apply_to_services_off_the_list() -> None:
    # RCPS: "RCPs apply to resources for a subset of AWS services"; EC2 (prefix ec2) is not
    # on the list, so an RCP denying ec2:* changes nothing.
    answer = decide(
        action="ec2:StartInstances",
        resource=f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0abc",
        identity_policies=[_doc("Allow", "ec2:*")],
        rcps=[[RCP_FULL_ACCESS, _doc("Deny", "ec2:*", Principal="*")]],
    )
    assert answer["decision"] == "allowed"


def test_rcps_apply_only_to_the_resource_an_operation_authorizes() -> None:
    # RCPS: "RCPs apply to the resources that are authorized as part of an operation request";
    # ecr:GetAuthorizationToken authorizes no resource ("*").
    answer = decide(action="ecr:GetAuthorizationToken", resource="*", rcps=[[DENY_ECR_RCP]])
    assert answer["decision"] == "allowed"


def test_rcp_allow_must_exist_at_every_level() -> None:
    # RCP_EVAL: as with SCPs, every level from the root to the account must allow.
    answer = decide(rcps=[[RCP_FULL_ACCESS], []])
    assert answer["decision"] == "implicit_deny"
    assert answer["message"] == message(
        "because no resource control policy allows the ecr:BatchGetImage action"
    )


def test_rcps_are_evaluated_before_scps() -> None:
    # EVAL_ORDER's flow chart: deny evaluation, then RCPs, then SCPs, then the account's own.
    answer = decide(rcps=[[]], scps=[[]])
    assert "because no resource control policy allows" in answer["message"]
    answer = decide(rcps=[[RCP_FULL_ACCESS]], scps=[[]], identity_policies=[])
    assert "because no service control policy allows" in answer["message"]


# ---- VPC endpoint policies ----------------------------------------------------------------

ONLY_FA_085 = _doc("Allow", "ecr:*", REPOSITORY, Principal="*")


def test_an_endpoint_policy_must_allow_a_request_through_the_endpoint() -> None:
    # ENDPOINT: "the endpoint policy does not override or replace identity-based policies or
    # resource-based policies"; a request through it is also checked against it.
    assert decide(endpoint_policy=ONLY_FA_085)["decision"] == "allowed"
    other = REPOSITORY.replace("fa-085", "other")
    answer = decide(resource=other, endpoint_policy=ONLY_FA_085)
    assert answer["decision"] == "implicit_deny"
    assert answer["message"] == message(
        "because no VPC endpoint policy allows the ecr:BatchGetImage action", resource=other
    )


def test_an_explicit_deny_in_an_endpoint_policy() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            ONLY_FA_085["Statement"][0],
            {"Effect": "Deny", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "*"},
        ],
    }
    answer = decide(endpoint_policy=policy)
    assert answer["decision"] == "explicit_deny"
    assert answer["message"] == message("with an explicit deny in a VPC endpoint policy")
    assert answer["matched"] == [{"policy": "endpoint", "index": 0, "statement": 1, "sid": None}]


def test_get_authorization_token_needs_the_endpoint_policy_too() -> None:
    # ECR_ENDPOINT: the ecr.api endpoint policy must allow ecr:GetAuthorizationToken (Resource
    # "*"); ECS reports "no VPC endpoint policy allows the ecr:GetAuthorizationToken action".
    answer = decide(action="ecr:GetAuthorizationToken", resource="*", endpoint_policy=ONLY_FA_085)
    assert answer["decision"] == "implicit_deny"
    assert (
        "because no VPC endpoint policy allows the ecr:GetAuthorizationToken action"
        in (answer["message"])
    )


# ---- explanations and the batch contract ----------------------------------------------------


def test_explain_shows_the_guardrail_layers_in_awss_order() -> None:
    request, policies = read_case(
        case(
            rcps=[[RCP_FULL_ACCESS]],
            scps=[[FULL_ACCESS], [FULL_ACCESS, DENY_PULL_SCP]],
            endpoint_policy=ONLY_FA_085,
        )
    )
    text = render_text(request, evaluate(request, policies))
    layers = text.split("guardrails (in AWS's order):\n", 1)[1].split("\n\n", 1)[0]
    assert layers.splitlines() == [
        "  resource control policies: allow (an Allow at level 0)",
        "  service control policies: deny (an explicit Deny at level 1)",
        "  VPC endpoint policy: allows",
    ]
    assert "=> service control policy at level 1 (OU or account) #2, statement 1: Deny" in text
    assert text.index("resource control policy") < text.index("service control policy at")
    assert text.index("service control policy at") < text.index("VPC endpoint policy, statement")


def test_a_management_account_explanation_says_why_guardrails_were_skipped() -> None:
    request, policies = read_case(case(scps=[[DENY_PULL_SCP]], management_account=True))
    assert "service control policies: do not apply (the management account)" in render_text(
        request, evaluate(request, policies)
    )


def test_existing_batch_lines_answer_byte_for_byte_as_before() -> None:
    # Answers recorded with the engine before guardrails existed, for cases without them.
    cases = (GOLDEN / "cases.jsonl").read_text().splitlines()
    assert answer_lines(cases) == (GOLDEN / "answers.jsonl").read_bytes()


def test_empty_guardrail_fields_change_no_answer() -> None:
    cases = (GOLDEN / "cases.jsonl").read_text().splitlines()[:40]
    widened = [
        json.dumps({**json.loads(line), "scps": [], "rcps": [], "management_account": False})
        for line in cases
    ]
    assert answer_lines(widened) == answer_lines(cases)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"scps": [DENY_PULL_SCP]}, "scps must be a list of levels"),
        ({"rcps": "x"}, "rcps must be a list of levels"),
        ({"management_account": "yes"}, "management_account must be true or false"),
        ({"scps": [[{"Version": "2012-10-17"}]]}, "scps[0][0]"),
        ({"endpoint_policy": _doc("Allow")}, "endpoint_policy"),  # no Principal
    ],
)
def test_malformed_guardrail_fields_are_errors_never_allows(fields: dict, error: str) -> None:
    answer = decide(**fields)
    assert answer["decision"] == "error"
    assert error in answer["error"]


def test_the_generated_guardrail_cases_exercise_every_guardrail() -> None:
    # The differential test's guardrail cases (tests/test_differential.py) reach every layer.
    from tests.oracle.guardrail_cases import generate_guardrails

    lines = [json.dumps(c) for c in generate_guardrails(1500, seed=20261130)]
    answers = [json.loads(a) for a in answer_lines(lines).decode().splitlines()]
    kinds = Counter(ref["policy"] for answer in answers for ref in answer["matched"])
    assert min(kinds[k] for k in ("scp", "rcp", "endpoint")) >= 20, kinds
    reasons = (
        "explicit deny in a service control policy",
        "because no service control policy allows",
        "explicit deny in a resource control policy",
        "explicit deny in a VPC endpoint policy",
        "because no VPC endpoint policy allows",
    )
    found = Counter(r for answer in answers for r in reasons if r in answer.get("message", ""))
    assert min(found[r] for r in reasons) >= 10, found
