"""Authorize: the engine's decision for one call, with the request context AWS would build.

Fail closed: whatever goes wrong while gathering policies or evaluating becomes a denial;
an unreachable IAM directory is the caller's ServiceUnavailable (an error, never an allow).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from lab.ecr.actions import Target
from lab.ecr.model import REPOSITORY_ARN
from lab.errors import AwsError
from lab.identity.credentials import Identity
from lab.policy.context import derive
from lab.policy.document import parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.model import ContextValue, Decision, Policy, PolicySet, Request

log = logging.getLogger(__name__)

# (account, region, name) -> the repository's policy text (or None) and its tags.
RepositoryFacts = Callable[[str, str, str], tuple[str | None, Mapping[str, str]]]
# (account, region, action) -> the registry policy that takes part in deciding the action there
# (the registry's scope applied), or None.
RegistryFacts = Callable[[str, str, str], str | None]


@dataclass(frozen=True)
class Call:
    """One authorization question: who asks for which action on what, from where."""

    identity: Identity
    action: str
    resource: str
    client_ip: str
    region: str
    secure: bool = False
    resource_policy: str | None = None
    resource_tags: Mapping[str, str] = field(default_factory=dict)
    request_tags: Mapping[str, str] | None = None
    context: Mapping[str, str | list[str]] = field(default_factory=dict)  # e.g. aws:SourceVpce
    registry_policy: str | None = None  # the owning registry's, where its scope covers the action
    # ECR's own work through its service-linked role (replication): no SCP or RCP restricts a
    # service-linked role (Organizations User Guide, SCP and RCP "Tasks and entities not
    # restricted").
    service_linked: bool = False


def target_call(
    identity: Identity,
    goal: Target,
    client_ip: str,
    region: str,
    facts: RepositoryFacts,
    *,
    request_tags: Mapping[str, str] | None = None,
    context: Mapping[str, str | list[str]] | None = None,
    registry: RegistryFacts | None = None,
) -> Call:
    """The authorization question for `goal`: a repository's policy and tags join it only when
    the action acts on that repository, its registry's policy when it acts on one or all of
    the registry's repositories ("*", as GetAuthorizationToken's, has none of them)."""
    policy, tags = facts(*goal.repository) if goal.repository else (None, {})
    registry_policy = None
    owner = REPOSITORY_ARN.fullmatch(goal.resource)  # a listing's "repository/*" names one too
    if owner is not None and registry is not None:
        registry_policy = registry(owner["account"], owner["region"], goal.action)
    return Call(
        identity,
        goal.action,
        goal.resource,
        client_ip,
        region,
        resource_policy=policy,
        resource_tags=tags,
        request_tags=request_tags,
        context=context or {},
        registry_policy=registry_policy,
    )


@lru_cache(maxsize=1024)
def _repository_policy(text: str) -> Policy:
    return parse_policy(text, "repository")


@lru_cache(maxsize=256)
def _registry_policy(text: str) -> Policy:
    return parse_policy(text, "registry")


def through_endpoint(call: Call) -> bool:
    """Whether the call travels through the caller's VPC endpoint: the lab's endpoints are ECR's
    (ecr.api and ecr.dkr), so only ECR actions do; IAM and STS go their own way."""
    return bool(call.identity.network) and call.action.startswith("ecr:")


def request_context(call: Call, now: dt.datetime) -> dict[str, ContextValue]:
    """The condition keys AWS puts in the context of an ECR or IAM call.

    Through a VPC endpoint a request carries aws:SourceVpce, aws:SourceVpc and aws:VpcSourceIp
    and no aws:SourceIp; otherwise aws:SourceIp and none of those (IAM User Guide,
    reference_sts_vpc_condition_keys_federated.html, "VPC condition key availability by network
    path"; re:Post knowledge-center/iam-restrict-access-policy).
    """
    network = call.identity.network if through_endpoint(call) else {}
    supplied: dict[str, str | list[str]] = {
        **({} if network else {"aws:SourceIp": call.client_ip}),
        **network,
        "aws:SecureTransport": "true" if call.secure else "false",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:RequestedRegion": call.region,
    }
    supplied.update({f"aws:ResourceTag/{k}": v for k, v in call.resource_tags.items()})
    if call.request_tags is not None:
        supplied.update({f"aws:RequestTag/{k}": v for k, v in call.request_tags.items()})
        supplied["aws:TagKeys"] = list(call.request_tags)
    supplied.update(call.context)
    identity = call.identity
    return derive(
        identity.arn,
        supplied,
        role_arn=identity.role_arn,
        user_id=identity.user_id,
        tags=identity.tags,
    )


def deny_on_error(call: Call, reason: str) -> Decision:
    """The decision when authorization itself failed: an implicit deny, never an allow."""
    message = (
        f"User: {call.identity.arn} is not authorized to perform: {call.action} on resource: "
        f"{call.resource} because no identity-based policy allows the {call.action} action"
    )
    return Decision("implicit_deny", message, (), f"denied: authorization failed ({reason})")


class Authorizer:
    """Gathers the policies for a call and asks the engine."""

    def __init__(
        self,
        identity_policies: Callable[[Identity], PolicySet],
        guardrails: Callable[[Call], Mapping[str, Any]] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._identity_policies = identity_policies
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        # The call's SCPs, RCPs and VPC endpoint policy, as PolicySet fields.
        self._guardrails = guardrails or (lambda _: {})

    def decide(self, call: Call, now: dt.datetime | None = None) -> Decision:
        """The engine's decision; any failure on the way is a denial (fail closed)."""
        return self.explain(call, now)[1]

    def explain(self, call: Call, now: dt.datetime | None = None) -> tuple[Request, Decision]:
        """The request the engine evaluated and its decision (fail closed, as `decide`)."""
        request = Request(call.identity.arn, call.action, call.resource)
        try:
            now = now or self._clock()
            request = replace(request, context=request_context(call, now))
            policies = self._identity_policies(call.identity)
            if call.resource_policy is not None:
                policies = replace(policies, resource=_repository_policy(call.resource_policy))
            if call.registry_policy is not None:
                policies = replace(policies, registry=_registry_policy(call.registry_policy))
            guardrails = self._guardrails(call)
            if guardrails:
                policies = replace(policies, **guardrails)
            return request, evaluate(request, policies)
        except Exception as exc:  # fail closed: report, then deny
            if isinstance(exc, AwsError) and exc.code == "ServiceUnavailable":
                raise  # the IAM directory is unreachable: tell the caller so (still no allow)
            log.exception("authorization failed for %s %s", call.action, call.resource)
            return request, deny_on_error(call, type(exc).__name__)


def pass_role_call(identity: Identity, role_arn: str, client_ip: str, region: str) -> Call:
    """The iam:PassRole question a template's or rule's customRoleArn asks: ECR will assume
    the role, so the caller must be allowed to pass it to ecr.amazonaws.com (ECR User Guide,
    "Creating a repository creation template": identity-based permissions)."""
    context = {"iam:PassedToService": "ecr.amazonaws.com"}
    return Call(identity, "iam:PassRole", role_arn, client_ip, region, context=context)
