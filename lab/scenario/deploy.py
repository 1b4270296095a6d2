"""Deploy a scenario into a running lab through its own AWS APIs, as the account's admin.

Idempotent: roles and repositories that exist are brought in line rather than re-created,
so the same scenario can be deployed again, also after a restart on the same state dir.
Policies get their `${Role.Arn}` references filled in first, like CloudFormation's !GetAtt.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from lab.botocore_session import shared_client
from lab.scenario.model import (
    Attachments,
    GuardrailPolicy,
    OrganizationalUnit,
    OrganizationSpec,
    RegistrySpec,
    Scenario,
    VpcEndpointSpec,
    policy_text,
    resolve,
)
from lab.scenario.replication import deploy_replication
from lab.server import guardrails
from lab.server.app import Lab
from lab.server.config import LabConfig
from lab.server.state import Instance


def admin_client(lab: Lab, service: str) -> Any:
    """A client for the lab, signed with the admin's keys (kept: one per lab and service)."""
    config = lab.config
    return shared_client(
        service, config.region, lab.endpoint_url, config.admin_access_key, config.admin_secret_key
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def deploy_roles(iam: Any, scenario: Scenario, arns: dict[str, str]) -> None:
    """Create or update each role: trust policy, managed policies, inline policies."""
    for role in scenario.roles.values():
        trust = policy_text(role.trust_policy, arns)
        try:  # create first: a fresh lab (the demo's case) needs one call, not two
            answer = iam.create_role(
                RoleName=role.name, Path=role.path, AssumeRolePolicyDocument=trust
            )
        except ClientError as error:
            if _error_code(error) != "EntityAlreadyExists":
                raise
            answer = iam.get_role(RoleName=role.name)
            iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=trust)
        if answer["Role"]["Arn"] != arns[role.key]:  # policies already name the expected ARN
            raise ValueError(f"IAM answered {answer['Role']['Arn']} for {arns[role.key]}")
        for policy_arn in role.managed_policies:  # attaching twice is no error in IAM
            iam.attach_role_policy(RoleName=role.name, PolicyArn=policy_arn)
        for name, document in role.inline_policies.items():
            text = policy_text(document, arns)
            iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=text)


def deploy_repositories(lab: Lab, ecr: Any, scenario: Scenario, arns: dict[str, str]) -> None:
    """Create missing repositories; set policies and tags only where they differ.

    Unchanged settings are not sent again: a policy like the tutorial's denies everyone but
    two roles, the admin included, so a second SetRepositoryPolicy would be refused (as on AWS).
    """
    account, region = lab.config.account, lab.config.region
    # From the lab's state: such a policy also hides its repository from the admin's listing.
    existing = set(lab.ecr.repository_names(account, region))
    for repository in scenario.repositories.values():
        name = repository.name
        tags = [{"Key": k, "Value": v} for k, v in repository.tags.items()]
        if name not in existing:
            ecr.create_repository(repositoryName=name, **({"tags": tags} if tags else {}))
        elif tags and dict(lab.ecr.repository_tags(account, region, name)) != repository.tags:
            arn = f"arn:aws:ecr:{region}:{account}:repository/{name}"
            ecr.tag_resource(resourceArn=arn, tags=tags)
        current = lab.ecr.repository_policy(account, region, name)
        wanted = None if repository.policy is None else policy_text(repository.policy, arns)
        if _same_policy(current, wanted):
            continue
        if wanted is not None:
            ecr.set_repository_policy(repositoryName=name, policyText=wanted)
        else:
            ecr.delete_repository_policy(repositoryName=name)


def deploy_registry(ecr: Any, spec: RegistrySpec, arns: dict[str, str]) -> None:
    """The registry policy (its scope first: a V1 policy names V1's actions only), repository
    creation templates (updated where they exist) and pull through cache rules (kept)."""
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value=spec.policy_scope)
    if spec.policy is not None:
        ecr.put_registry_policy(policyText=policy_text(spec.policy, arns))
    answer = ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]
    templates = {template["prefix"] for template in answer}
    for template in spec.creation_templates.values():
        policy = template.repository_policy
        params = {
            "prefix": template.prefix,
            "appliedFor": list(template.applied_for),
            **({"repositoryPolicy": policy_text(policy, arns)} if policy is not None else {}),
        }
        if template.prefix in templates:
            ecr.update_repository_creation_template(**params)
        else:
            ecr.create_repository_creation_template(**params)
    rules = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    existing = {rule["ecrRepositoryPrefix"] for rule in rules}
    for rule in spec.pull_through_cache_rules.values():
        if rule.prefix not in existing:
            ecr.create_pull_through_cache_rule(
                ecrRepositoryPrefix=rule.prefix, upstreamRegistryUrl=rule.upstream_registry_url
            )


def _same_policy(current: str | None, wanted: str | None) -> bool:
    if current is None or wanted is None:
        return current == wanted
    return json.loads(current) == json.loads(wanted)


def scenario_config(config: LabConfig, scenario: Scenario) -> LabConfig:
    """The lab settings with the scenario's region (and account, if it names one) and its
    pull through cache rules' upstream addresses."""
    return replace(
        config,
        region=scenario.region,
        account=scenario.account or config.account,
        # serve's --upstream-registry mappings win over the scenario's upstream_address
        upstream_registries=(*scenario.registry.upstream_addresses(), *config.upstream_registries),
    )


def check_fits(lab: Lab, scenario: Scenario) -> None:
    """A scenario deploys only into a lab of its own region (and account, if it names one)."""
    config = lab.config
    if scenario.region != config.region or scenario.account not in (None, config.account):
        wanted = json.dumps({"account": scenario.account, "region": scenario.region})
        raise ValueError(
            f"scenario {scenario.name} needs {wanted}; the lab runs account {config.account} "
            f"in {config.region}"
        )


def deploy(lab: Lab, scenario: Scenario) -> dict[str, str]:
    """Deploy `scenario` into the running `lab` and register its instances; returns role ARNs."""
    check_fits(lab, scenario)
    arns = scenario.role_arns(lab.config.account)
    # Endpoints made with EC2's API, found first: one that is missing changes nothing.
    made = {
        i.name: lab.vpc_endpoint(arns[i.role].split(":")[4], i.vpc_endpoint)
        for i in scenario.instances.values()
        if i.vpc_endpoint and i.vpc_endpoint not in scenario.vpc_endpoints
    }
    deploy_roles(admin_client(lab, "iam"), scenario, arns)
    deploy_repositories(lab, admin_client(lab, "ecr"), scenario, arns)
    deploy_replication(lab, scenario, arns)
    if scenario.registry != RegistrySpec():
        deploy_registry(admin_client(lab, "ecr"), scenario.registry, arns)
    endpoints = {key: _endpoint(spec, arns) for key, spec in scenario.vpc_endpoints.items()}
    lab.vpc_endpoints = {endpoint.endpoint_id: endpoint for endpoint in endpoints.values()}
    lab.organizations.pop("scenario", None)
    if scenario.organization is not None:
        lab.organizations["scenario"] = organization(scenario.organization, arns)
    lab.clock = None if scenario.clock is None else dt.datetime.fromisoformat(scenario.clock)
    for instance in scenario.instances.values():
        endpoint = endpoints.get(instance.vpc_endpoint or "") or made.get(instance.name)
        network = endpoint.context(instance.private_ip) if endpoint else {}
        lab.instances[instance.name] = Instance(instance.instance_id, arns[instance.role], network)
    return arns


def _endpoint(spec: VpcEndpointSpec, arns: dict[str, str]) -> guardrails.VpcEndpoint:
    document = resolve(spec.policy or guardrails.FULL_ENDPOINT_DOCUMENT, arns)
    return guardrails.VpcEndpoint(
        spec.endpoint_id,
        spec.vpc_id,
        spec.service,
        guardrails.rcp(document, spec.endpoint_id),
        json.dumps(document),
    )


def organization(spec: OrganizationSpec, arns: dict[str, str]) -> guardrails.Organization:
    """The organization as evaluation reads it: each account's levels from the root down."""
    root = _level("Root", spec.root, arns)
    paths: dict[str, tuple[guardrails.Level, ...]] = {}

    def walk(ous: Mapping[str, OrganizationalUnit], above: tuple[guardrails.Level, ...]) -> None:
        for ou in ous.values():
            here = (*above, _level(ou.name, ou.attached, arns))
            for account in ou.accounts:
                paths[account] = here
            walk(ou.ous, here)

    walk(spec.ous, (root,))
    for account in {spec.management_account, *spec.accounts}:
        paths.setdefault(account, (root,))  # not in an OU: directly under the root
    return guardrails.Organization(
        spec.management_account,
        {
            account: (*above, _level(account, spec.accounts.get(account, Attachments()), arns))
            for account, above in paths.items()
        },
    )


def _level(name: str, attached: Attachments, arns: dict[str, str]) -> guardrails.Level:
    """One level's SCPs (AWS's FullAWSAccess unless others are attached) and RCPs
    (RCPFullAWSAccess, which cannot be detached, and any others)."""
    scps = (guardrails.FULL_AWS_ACCESS,) if attached.scps is None else attached.scps
    others = [p for p in attached.rcps if p != guardrails.RCP_FULL_AWS_ACCESS]
    rcps = (guardrails.RCP_FULL_AWS_ACCESS, *others)
    return guardrails.Level(
        name,
        tuple(
            _guardrail(guardrails.scp, p, f"{name} SCP {i}", arns) for i, p in enumerate(scps, 1)
        ),
        tuple(
            _guardrail(guardrails.rcp, p, f"{name} RCP {i}", arns) for i, p in enumerate(rcps, 1)
        ),
    )


def _guardrail(read: Any, policy: GuardrailPolicy, name: str, arns: dict[str, str]) -> Any:
    if policy == guardrails.FULL_AWS_ACCESS:
        return read(guardrails.FULL_AWS_ACCESS_DOCUMENT, policy)
    if policy == guardrails.RCP_FULL_AWS_ACCESS:
        return read(guardrails.RCP_FULL_AWS_ACCESS_DOCUMENT, policy)
    return read(resolve(policy, arns), name)
