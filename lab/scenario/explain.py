"""Ask the lab's Authorizer why: the decision the front door makes, with its request.

The decision comes from the same `Authorizer.decide` the front door calls, on the same
policies (the principal's identity policies, the repository policy and tags), so an
explanation never disagrees with what a client saw.
"""

from __future__ import annotations

from lab.ecr.validation import service_model
from lab.identity.credentials import Identity
from lab.policy.explain import render_text
from lab.policy.model import Decision, Request, StatementRef
from lab.server.app import Lab
from lab.server.authorize import Call

# The IAM actions each registry operation needs, in the order docker's requests ask for them
# (FACTS "Registry protocol"): login is GetAuthorizationToken; push POSTs, PATCHes, PUTs the
# blob, HEADs it, PUTs the manifest; pull HEADs/GETs the manifest, then GETs the blobs.
OPERATION_STEPS = {
    "login": ("ecr:GetAuthorizationToken",),
    "push": (
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:BatchCheckLayerAvailability",
        "ecr:PutImage",
    ),
    "pull": ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
}
CLIENT_IP = "127.0.0.1"  # every client of the lab is local
_LABELS = {
    "identity": "identity-based policy",
    "resource": "resource-based policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "registry": "registry policy",
    "rcp": "resource control policy",
    "scp": "service control policy",
    "endpoint": "VPC endpoint policy",
}


def actions_of(operation: str) -> tuple[str, ...]:
    """The IAM actions of an operation (`push`, `pull`, `login` or an `ecr:` action, whose
    name IAM matches case-insensitively); ValueError for anything else."""
    if operation in OPERATION_STEPS:
        return OPERATION_STEPS[operation]
    service, _, name = operation.partition(":")
    names = {known.lower(): known for known in service_model().operation_names}
    if service.lower() == "ecr" and name.lower() in names:
        return (f"ecr:{names[name.lower()]}",)
    raise ValueError(
        f"unknown operation {operation!r}: use push, pull, login, or an ECR action such as "
        "ecr:PutImage"
    )


def action_of(operation: str) -> str:
    """The action that stands for a granted operation: the last one its client needs."""
    return actions_of(operation)[-1]


def call_for(lab: Lab, identity: Identity, action: str, repository: str) -> Call:
    """The authorization question the front door asks for `action` on `repository`."""
    return lab.repository_call(identity, action, lab.config.account, repository, CLIENT_IP)


def instance_identity(lab: Lab, instance: str) -> Identity:
    """The identity of an emulated instance's instance-profile session."""
    known = lab.instances[instance]
    return lab.sts.instance_session(known.role_arn, known.instance_id, known.network).identity


def explain(lab: Lab, identity: Identity, action: str, repository: str) -> tuple[Request, Decision]:
    """The Authorizer's decision on one action, with the request it evaluated."""
    return lab.authorizer.explain(call_for(lab, identity, action, repository))


def explain_text(lab: Lab, identity: Identity, action: str, repository: str) -> str:
    """The engine's plain-text explanation of one decision."""
    return render_text(*explain(lab, identity, action, repository))


def describe_ref(ref: StatementRef) -> str:
    """`resource-based policy statement 3`, with the policy's name and Sid when they exist."""
    label = _LABELS[ref.policy]
    if ref.policy_name:
        label += f" {ref.policy_name}"
    sid = f" (Sid {ref.sid})" if ref.sid else ""
    return f"{label} statement {ref.statement + 1}{sid}"  # counted from 1, as people read


def decided_by(decision: Decision) -> str:
    """The statements that decided, or the rule when no statement did (an implicit deny)."""
    if not decision.matched:
        return decision.rule
    return "; ".join(describe_ref(ref) for ref in decision.matched)
