"""Deploy a scenario into a running lab through its own AWS APIs, as the account's admin.

Idempotent: roles and repositories that exist are brought in line rather than re-created,
so the same scenario can be deployed again, also after a restart on the same state dir.
Policies get their `${Role.Arn}` references filled in first, like CloudFormation's !GetAtt.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
from botocore.exceptions import ClientError

from lab.scenario.model import Scenario, policy_text
from lab.server.app import Instance, Lab
from lab.server.config import LabConfig


def admin_client(lab: Lab, service: str) -> Any:
    """A boto3 client for the lab, signed with the admin's keys."""
    return boto3.client(
        service,
        endpoint_url=lab.endpoint_url,
        region_name=lab.config.region,
        aws_access_key_id=lab.config.admin_access_key,
        aws_secret_access_key=lab.config.admin_secret_key,
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def deploy_roles(iam: Any, scenario: Scenario, arns: dict[str, str]) -> None:
    """Create or update each role: trust policy, managed policies, inline policies."""
    for role in scenario.roles.values():
        trust = policy_text(role.trust_policy, arns)
        try:
            answer = iam.get_role(RoleName=role.name)
            iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=trust)
        except ClientError as error:
            if _error_code(error) != "NoSuchEntity":
                raise
            answer = iam.create_role(
                RoleName=role.name, Path=role.path, AssumeRolePolicyDocument=trust
            )
        if answer["Role"]["Arn"] != arns[role.key]:  # policies already name the expected ARN
            raise ValueError(f"IAM answered {answer['Role']['Arn']} for {arns[role.key]}")
        for policy_arn in role.managed_policies:  # attaching twice is no error in IAM
            iam.attach_role_policy(RoleName=role.name, PolicyArn=policy_arn)
        for name, document in role.inline_policies.items():
            text = policy_text(document, arns)
            iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=text)


def deploy_repositories(ecr: Any, scenario: Scenario, arns: dict[str, str]) -> None:
    """Create each repository if needed, then set (or remove) its policy and its tags."""
    for repository in scenario.repositories.values():
        try:
            ecr.create_repository(repositoryName=repository.name)
        except ClientError as error:
            if _error_code(error) != "RepositoryAlreadyExistsException":
                raise
        if repository.policy is not None:
            text = policy_text(repository.policy, arns)
            ecr.set_repository_policy(repositoryName=repository.name, policyText=text)
        else:
            try:
                ecr.delete_repository_policy(repositoryName=repository.name)
            except ClientError as error:
                if _error_code(error) != "RepositoryPolicyNotFoundException":
                    raise
        if repository.tags:
            arn = ecr.describe_repositories(repositoryNames=[repository.name])["repositories"][0][
                "repositoryArn"
            ]
            tags = [{"Key": k, "Value": v} for k, v in repository.tags.items()]
            ecr.tag_resource(resourceArn=arn, tags=tags)


def scenario_config(config: LabConfig, scenario: Scenario) -> LabConfig:
    """The lab settings with the scenario's region (and account, if it names one)."""
    return replace(config, region=scenario.region, account=scenario.account or config.account)


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
    deploy_roles(admin_client(lab, "iam"), scenario, arns)
    deploy_repositories(admin_client(lab, "ecr"), scenario, arns)
    for instance in scenario.instances.values():
        lab.instances[instance.name] = Instance(instance.instance_id, arns[instance.role])
    return arns
