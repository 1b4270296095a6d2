"""The lab's own STS: AssumeRole authorized by the engine, service sessions, whoami.

Sources: STS API reference, AssumeRole
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): DurationSeconds
900..the role's MaxSessionDuration, default 3600; role chaining caps a session at one hour.
Messages as AWS answers them (quoted in public bug reports):
- "User: <caller> is not authorized to perform: sts:AssumeRole on resource: <role arn>"
  (amzn/selling-partner-api-models#1186, Netflix/security_monkey#77: no reason suffix);
- "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
  (kreuzwerker/awsu#27);
- "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role
  chaining." (99designs/aws-vault#263, aws/eks-anywhere#9485);
- "Roles may not be assumed by root accounts." (AccessDenied; kubeflow/testing#961);
- constraint errors "1 validation error detected: Value 'a:b' at 'roleSessionName' failed to
  satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
  (JuliaCloud/AWSCore.jl#38, getmoto/moto#9218); the constraints come from botocore's model.

A service session is a role assumed by an AWS service for its workload, each named as the
service names it: EC2 after the instance ID (the tutorial's denial message), Lambda after
the function ("assumed-role/${RoleName}/${FunctionName}", bluesentry/bucket-antivirus-function
#109), ECS after the task ID ("the session ID is the task ID", aws/amazon-ecs-agent#3498).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from botocore.model import Shape

from lab.botocore_session import service_model
from lab.errors import AwsError
from lab.identity.credentials import Credential, CredentialStore, Identity
from lab.identity.directory import IamDirectory, RoleInfo
from lab.policy.context import derive
from lab.policy.document import PolicyError, parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.model import PolicySet, Request

# (caller, action, resource) -> the organization's SCPs and RCPs for it, as PolicySet fields.
Guardrails = Callable[[Identity, str, str], Mapping[str, Any]]
DEFAULT_DURATION = 3600
ROLE_CHAINING_LIMIT = 3600
# IMDS hands out instance-profile credentials valid about six hours (JuliaCloud/AWS.jl#57:
# "expire after about 6.5 hours"; an IMDS sample in gist floehopper/3b75ae5a... spans 6 h 24 min).
INSTANCE_PROFILE_DURATION = 6 * 3600
EC2_SERVICE = "ec2.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
ECS_TASKS_SERVICE = "ecs-tasks.amazonaws.com"
_ROOT_REFUSED = "Roles may not be assumed by root accounts."
_MAX_DURATION = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
_CHAINING = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
    "role chaining."
)


@cache
def _assume_role_input() -> Shape:
    return service_model("sts").operation_model("AssumeRole").input_shape


def _java_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's pattern as Python can run it; None for Java-only classes (\\p{..}, \\u....)."""
    if "\\p" in pattern or "\\u" in pattern:
        return None
    return re.compile(pattern, re.ASCII)  # Java's \\w is ASCII


def _location(member: str) -> str:
    """How AWS names a member in constraint messages: `RoleSessionName` -> `roleSessionName`."""
    return f"at '{member[0].lower()}{member[1:]}'"


def _violations(name: str, shape: Shape, value: Any) -> list[str]:
    """AWS's constraint messages for one top-level member, in AWS's wording."""
    shown = f"Value '{value}' {_location(name)} failed to satisfy constraint: Member must"
    meta = shape.metadata
    found: list[str] = []
    if shape.type_name == "integer":
        if "min" in meta and value < meta["min"]:
            found.append(f"{shown} have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            found.append(f"{shown} have value less than or equal to {meta['max']}")
        return found
    if "min" in meta and len(value) < meta["min"]:
        found.append(f"{shown} have length greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        found.append(f"{shown} have length less than or equal to {meta['max']}")
    pattern = (
        _java_pattern(meta["pattern"]) if isinstance(value, str) and "pattern" in meta else None
    )
    if pattern is not None and not pattern.fullmatch(value):
        found.append(f"{shown} satisfy regular expression pattern: {meta['pattern']}")
    return found


def validate_assume_role(params: Mapping[str, Any]) -> None:
    """Raise AWS's ValidationError for AssumeRole input that breaks the API's constraints."""
    shape = _assume_role_input()
    found: list[str] = []
    for name, member in shape.members.items():
        value = params.get(name)
        if value is None:
            if name in shape.required_members:
                found.append(
                    f"Value null {_location(name)} failed to satisfy constraint: "
                    "Member must not be null"
                )
            continue
        found.extend(_violations(name, member, value))
    if found:
        plural = "s" if len(found) > 1 else ""
        raise AwsError(
            "ValidationError",
            f"{len(found)} validation error{plural} detected: " + "; ".join(found),
        )


def _session_tags(params: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in params.get("Tags") or []}


def _denied(principal: str, action: str, resource: str) -> AwsError:
    return AwsError(
        "AccessDenied",
        f"User: {principal} is not authorized to perform: {action} on resource: {resource}",
    )


def new_instance_id() -> str:
    """An EC2 instance ID: `i-` and 17 hex digits."""
    return "i-" + secrets.token_hex(9)[:17]


def new_task_id() -> str:
    """An ECS task ID: 32 hex digits (the last part of a task ARN)."""
    return secrets.token_hex(16)


# service principal -> (the session name it gives a role, its session's lifetime). Lambda's
# function is named after the role: the lab runs no function, and a role name fits a session's.
SERVICE_SESSIONS: dict[str, tuple[Callable[[RoleInfo], str], int]] = {
    EC2_SERVICE: (lambda _: new_instance_id(), INSTANCE_PROFILE_DURATION),
    LAMBDA_SERVICE: (lambda role: role.name, DEFAULT_DURATION),
    ECS_TASKS_SERVICE: (lambda _: new_task_id(), DEFAULT_DURATION),
}


class Sts:
    """STS for the lab's account: sessions come from `credentials`, roles from `directory`."""

    def __init__(
        self,
        directory: IamDirectory,
        credentials: CredentialStore,
        account: str,
        guardrails: Guardrails | None = None,
    ) -> None:
        self._directory = directory
        self._credentials = credentials
        self.account = account
        # The SCPs and RCPs of a call (caller, action, resource) as PolicySet fields.
        self._guardrails = guardrails or (lambda *_: {})

    def assume_role(
        self, caller: Identity, params: Mapping[str, Any], context: Mapping[str, Any]
    ) -> dict[str, Any]:
        """sts:AssumeRole for `caller` (params as botocore's AssumeRole input) -> AWS's output."""
        params = {**params, "DurationSeconds": _integer(params.get("DurationSeconds"))}
        validate_assume_role(params)
        if params.get("PolicyArns"):
            # Managed session policies would narrow the session; ignoring them would widen it.
            raise AwsError(
                "ValidationError",
                "PolicyArns (managed session policies) are not supported by ecr-lab.",
            )
        role_arn: str = params["RoleArn"]
        session_name: str = params["RoleSessionName"]
        session_policy: str | None = params.get("Policy")
        if session_policy is not None:
            try:
                parse_policy(session_policy, "session", quota="session")
            except PolicyError as error:
                raise error.to_aws_error("session") from None
        tags = _session_tags(params)
        if caller.is_root:
            raise AwsError("AccessDenied", _ROOT_REFUSED)
        role = self._directory.role(role_arn)
        if role is None:
            raise _denied(caller.arn, "sts:AssumeRole", role_arn)  # AWS does not reveal absence
        supplied = {**context, "sts:RoleSessionName": session_name}
        if "ExternalId" in params:
            supplied["sts:ExternalId"] = params["ExternalId"]
        if tags:
            supplied.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
            supplied["aws:TagKeys"] = list(tags)
        actions = ("sts:AssumeRole", "sts:TagSession") if tags else ("sts:AssumeRole",)
        for action in actions:
            self._authorize(caller, action, role, supplied, role_arn)
        duration = params["DurationSeconds"] or DEFAULT_DURATION
        if caller.is_session and duration > ROLE_CHAINING_LIMIT:
            raise AwsError("ValidationError", _CHAINING)
        if duration > role.max_session_duration:
            raise AwsError("ValidationError", _MAX_DURATION)
        identity = _session_identity(role, session_name, session_policy, {**role.tags, **tags})
        if caller.network:  # asked from behind a VPC endpoint: its requests take the same path
            identity = replace(identity, network=dict(caller.network))
        credential = self._credentials.issue_session(identity, duration)
        return _assume_role_output(credential)

    def service_session(
        self,
        role_arn: str,
        service_principal: str,
        session_name: str,
        duration: int = DEFAULT_DURATION,
        network: Mapping[str, str] | None = None,
    ) -> Credential:
        """What an AWS service does for its workload: `service_principal` assumes the role.

        The trust policy must allow that service principal; no role-chaining or
        MaxSessionDuration cap applies (IAM: "not subject to the specified maximum session
        duration" for EC2's instance-profile credentials).
        """
        role = self._directory.role(role_arn)
        if role is None:
            raise _denied(service_principal, "sts:AssumeRole", role_arn)
        if not self._trusts(role, service_principal):
            raise _denied(service_principal, "sts:AssumeRole", role.arn)
        instance = session_name if service_principal == EC2_SERVICE else None
        identity = _session_identity(
            role,
            session_name,
            None,
            dict(role.tags),
            source=service_principal,
            source_instance=instance,
        )
        if network:
            identity = replace(identity, network=dict(network))
        return self._credentials.issue_session(identity, duration)

    def instance_session(
        self, role_arn: str, instance_id: str, network: Mapping[str, str] | None = None
    ) -> Credential:
        """EC2's instance-profile session: named after the instance, INSTANCE_PROFILE_DURATION;
        `network` holds the VPC endpoint keys when the instance reaches ECR through one."""
        return self.service_session(
            role_arn, EC2_SERVICE, instance_id, INSTANCE_PROFILE_DURATION, network
        )

    def role_session(self, role_arn: str, network: Mapping[str, str] | None = None) -> Credential:
        """A session of the role as issued to the first service its trust policy allows
        (EC2, then Lambda, then ECS tasks), named as that service names its sessions; `network`
        as service_session's.

        A role that trusts none of them is refused as EC2 would be refused.
        """
        role = self._directory.role(role_arn)
        if role is None:
            raise _denied(EC2_SERVICE, "sts:AssumeRole", role_arn)
        service = next((s for s in SERVICE_SESSIONS if self._trusts(role, s)), EC2_SERVICE)
        name, duration = SERVICE_SESSIONS[service]
        return self.service_session(role_arn, service, name(role), duration, network)

    def _trusts(self, role: RoleInfo, service_principal: str) -> bool:
        request = Request(service_principal, "sts:AssumeRole", role.arn, derive(service_principal))
        trust = PolicySet(resource=self._directory.trust_policy(role))
        return evaluate(request, trust).allowed

    def get_caller_identity(self, caller: Identity) -> dict[str, Any]:
        """sts:GetCallerIdentity: needs no permission (AWS: it cannot be denied)."""
        return {"UserId": caller.user_id, "Account": caller.account, "Arn": caller.arn}

    def _authorize(
        self,
        caller: Identity,
        action: str,
        role: RoleInfo,
        supplied: Mapping[str, Any],
        role_arn: str,
    ) -> None:
        """The trust policy is the role's resource policy; the caller's own policies apply too.

        Unlike other resource policies, a trust policy must itself allow the caller: "Role
        trust policies and KMS key policies are exceptions to this logic, because they must
        explicitly allow access for principals" (IAM User Guide, policy evaluation logic).
        """
        context = derive(
            caller.arn, supplied, role_arn=caller.role_arn, user_id=caller.user_id, tags=caller.tags
        )
        own = self._directory.identity_policies(caller)
        policies = PolicySet(
            identity=own.identity,
            resource=self._directory.trust_policy(role),
            boundary=own.boundary,
            session=own.session,
            **self._guardrails(caller, action, role.arn),
        )
        decision = evaluate(Request(caller.arn, action, role.arn, context), policies)
        trusted = any(
            trace.applies and trace.effect == "Allow" and trace.ref.policy == "resource"
            for trace in decision.trace
        )
        if not (decision.allowed and trusted):
            raise _denied(caller.arn, action, role_arn)


def _integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{value}' at 'durationSeconds' failed to "
            "satisfy constraint: Member must be a number",
        ) from None


def _session_identity(
    role: RoleInfo,
    session_name: str,
    session_policy: str | None,
    tags: Mapping[str, str],
    *,
    source: str | None = None,
    source_instance: str | None = None,
) -> Identity:
    account = role.arn.split(":")[4]
    return Identity(
        arn=f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}",
        account=account,
        user_id=f"{role.role_id}:{session_name}",
        role_arn=role.arn,
        session_name=session_name,
        session_policy=session_policy,
        tags=dict(tags),
        source=source,
        source_instance=source_instance,
    )


def _assume_role_output(credential: Credential) -> dict[str, Any]:
    identity = credential.identity
    return {
        "Credentials": {
            "AccessKeyId": credential.access_key_id,
            "SecretAccessKey": credential.secret_access_key,
            "SessionToken": credential.session_token,
            "Expiration": credential.expiration,
        },
        "AssumedRoleUser": {"AssumedRoleId": identity.user_id, "Arn": identity.arn},
    }
