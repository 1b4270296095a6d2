"""A scenario as plain data: the roles, instances and repositories to deploy, and what to expect.

Policies stay JSON-ready documents in which `${RoleKey.Arn}` may stand for a role's ARN, filled
in at deploy like CloudFormation's `!GetAtt RoleKey.Arn` (see `references`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.ecr.regions import is_ecr_region

Outcome = Literal["allowed", "denied"]
# The operations a scenario can expect besides any `ecr:Action`.
REGISTRY_OPERATIONS = ("login", "push", "pull")
# `replicate:ACCOUNT:REGION`: was the principal's pushed image replicated there?
REPLICATE = re.compile(r"replicate:(\d{12}):([a-z0-9-]+)")

# `${Key.Arn}`; IAM's own variables (`${aws:username}`) contain a colon and never match.
REFERENCE = re.compile(r"\$\{([\w+=,.@-]+)\.Arn\}")
# Any `${...}` without a colon: a role reference, or one of IAM's `${*}`, `${?}`, `${$}`.
PLACEHOLDER = re.compile(r"\$\{[^}:]*\}")
IAM_SPECIAL_CHARACTERS = frozenset({"${*}", "${?}", "${$}"})


@dataclass(frozen=True)
class Role:
    """An IAM role; `key` is how policies refer to it, `name` its RoleName in IAM."""

    key: str
    name: str
    path: str
    trust_policy: Mapping[str, Any]
    managed_policies: tuple[str, ...] = ()
    inline_policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def arn(self, account: str) -> str:
        """The role's ARN in `account` (path included, as aws:PrincipalArn carries it)."""
        return f"arn:aws:iam::{account}:role{self.path}{self.name}"


@dataclass(frozen=True)
class Instance:
    """An emulated EC2 instance: its id, the role of its instance profile (a role key), and the
    VPC endpoint (a key of `vpc_endpoints`, or the vpce- id of one made with EC2's API in the
    role's account) through which it reaches ECR, if any."""

    name: str
    instance_id: str
    role: str
    vpc_endpoint: str | None = None
    private_ip: str = "10.0.1.10"


# A guardrail document, or the name of one of AWS's (FullAWSAccess, RCPFullAWSAccess).
GuardrailPolicy = Mapping[str, Any] | str


@dataclass(frozen=True)
class Attachments:
    """The SCPs and RCPs attached to one level: the root, an OU or an account. `scps` None
    means AWS's default (FullAWSAccess); RCPFullAWSAccess is always attached besides `rcps`."""

    scps: tuple[GuardrailPolicy, ...] | None = None
    rcps: tuple[GuardrailPolicy, ...] = ()


@dataclass(frozen=True)
class OrganizationalUnit:
    """An OU: its attachments, the accounts directly in it, and the OUs below it."""

    name: str
    attached: Attachments = Attachments()
    accounts: tuple[str, ...] = ()
    ous: Mapping[str, OrganizationalUnit] = field(default_factory=dict)


@dataclass(frozen=True)
class OrganizationSpec:
    """An AWS Organizations organization: accounts not in an OU sit under the root."""

    management_account: str
    root: Attachments = Attachments()
    ous: Mapping[str, OrganizationalUnit] = field(default_factory=dict)
    accounts: Mapping[str, Attachments] = field(default_factory=dict)  # attached to accounts


@dataclass(frozen=True)
class VpcEndpointSpec:
    """An interface VPC endpoint for ECR (ecr.api and ecr.dkr alike) and its policy."""

    key: str
    endpoint_id: str
    vpc_id: str
    service: str = "ecr"
    policy: Mapping[str, Any] | None = None  # None: AWS's default, full access


@dataclass(frozen=True)
class Repository:
    """An ECR repository with its repository policy (if any) and tags."""

    name: str
    policy: Mapping[str, Any] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CreationTemplateSpec:
    """A repository creation template: the features it applies to and the repository policy
    (role references allowed) the repositories it creates get."""

    prefix: str
    applied_for: tuple[str, ...]
    repository_policy: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PullThroughCacheRuleSpec:
    """A pull through cache rule, and the images its upstream holds for a demo (tag latest)."""

    prefix: str
    upstream_registry_url: str
    upstream_images: tuple[str, ...] = ()
    upstream_address: str | None = None  # the loopback registry serving the URL (serve)


@dataclass(frozen=True)
class RegistrySpec:
    """Registry-wide settings: the registry policy and its scope, templates, cache rules."""

    policy: Mapping[str, Any] | None = None
    policy_scope: str = "V2"
    creation_templates: Mapping[str, CreationTemplateSpec] = field(default_factory=dict)
    pull_through_cache_rules: Mapping[str, PullThroughCacheRuleSpec] = field(default_factory=dict)

    def upstream_addresses(self) -> tuple[tuple[str, str], ...]:
        """(upstream registry URL, loopback address) of each rule that names its address."""
        return tuple(
            (rule.upstream_registry_url, rule.upstream_address)
            for rule in self.pull_through_cache_rules.values()
            if rule.upstream_address
        )

    def prefixes(self) -> tuple[str, ...]:
        """The prefixes under which ECR creates repositories on its own."""
        return (*self.creation_templates, *self.pull_through_cache_rules)


@dataclass(frozen=True)
class Expectation:
    """What one principal should be able to do: `login`, `push`, `pull` or an `ecr:` action."""

    principal: str
    operation: str
    repository: str
    expected: Outcome


@dataclass(frozen=True)
class Scenario:
    """Everything one scenario file says."""

    name: str
    region: str
    roles: Mapping[str, Role]
    instances: Mapping[str, Instance]
    repositories: Mapping[str, Repository]
    expectations: tuple[Expectation, ...] = ()
    account: str | None = None  # None: the lab's default account
    description: str = ""
    organization: OrganizationSpec | None = None
    vpc_endpoints: Mapping[str, VpcEndpointSpec] = field(default_factory=dict)
    clock: str | None = None  # the instant policies see as aws:CurrentTime (ISO 8601, UTC)
    # Other accounts: account -> region -> registry policy (lab/scenario/replication.py)
    accounts: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    replication: Mapping[str, Any] | None = None  # the account's replicationConfiguration
    registry: RegistrySpec = RegistrySpec()

    def role_arns(self, account: str) -> dict[str, str]:
        """Role key -> ARN, the values `${Key.Arn}` stands for."""
        return {key: role.arn(account) for key, role in self.roles.items()}


def is_replication_check(operation: str) -> bool:
    """Whether `operation` is a `replicate:ACCOUNT:REGION` cell (a Region ECR has)."""
    found = REPLICATE.fullmatch(operation)
    return found is not None and is_ecr_region(found[2])


def references(document: Any) -> set[str]:
    """The role keys a policy document refers to with `${Key.Arn}`."""
    return set(REFERENCE.findall(json.dumps(document)))


def malformed_references(text: str) -> list[str]:
    """The `${...}` in `text` that are neither `${Key.Arn}` nor IAM's special characters
    (`${InstanceRole1.arn}`, `${InstanceRole1}`): deployed, they would stay literal text."""
    return [
        found
        for found in PLACEHOLDER.findall(text)
        if found not in IAM_SPECIAL_CHARACTERS and not REFERENCE.fullmatch(found)
    ]


def resolve(document: Any, arns: Mapping[str, str]) -> Any:
    """`document` with every `${Key.Arn}` replaced by the role's ARN (KeyError: unknown key)."""
    if isinstance(document, str):
        return REFERENCE.sub(lambda found: arns[found[1]], document)
    if isinstance(document, Mapping):
        return {str(k): resolve(v, arns) for k, v in document.items()}
    if isinstance(document, list):
        return [resolve(item, arns) for item in document]
    return document


def policy_text(document: Mapping[str, Any], arns: Mapping[str, str]) -> str:
    """The JSON text of a policy document with its role references filled in."""
    return json.dumps(resolve(document, arns), indent=2)
