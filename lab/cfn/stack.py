"""Deploy a stack: parameters, resources in dependency order, outputs; nested stacks recurse.

IAM and ECR resources are created through the lab's front door as the account's admin (so
the repository policy is validated as ECR validates it); nested templates are read from the
lab's S3 and SSM parameters from its SSM (both in the embedded upstream, which the front door
does not serve). EC2 networking is recorded, not emulated: the lab has no network to build.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lab.cfn.template import TemplateError, load_template, references, resolve
from lab.scenario.deploy import admin_client
from lab.server.app import Lab
from lab.server.state import Instance

_SSM_TYPE = re.compile(r"AWS::SSM::Parameter::Value<.+>")
# https://BUCKET.s3.REGION.amazonaws.com/KEY, https://BUCKET.s3.amazonaws.com/KEY,
# https://s3.REGION.amazonaws.com/BUCKET/KEY
_VIRTUAL_HOSTED = re.compile(r"https://([^./]+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/(.+)")
_PATH_STYLE = re.compile(r"https://s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/([^/]+)/(.+)")
# Physical ids of the recorded (not emulated) EC2 resources, by type: EC2's own prefixes.
_RECORDED = {
    "AWS::EC2::VPC": "vpc",
    "AWS::EC2::InternetGateway": "igw",
    "AWS::EC2::VPCGatewayAttachment": "attach",
    "AWS::EC2::Subnet": "subnet",
    "AWS::EC2::EIP": "eipalloc",
    "AWS::EC2::NatGateway": "nat",
    "AWS::EC2::RouteTable": "rtb",
    "AWS::EC2::Route": "rtb-route",
    "AWS::EC2::SubnetRouteTableAssociation": "rtbassoc",
    "AWS::EC2::SecurityGroup": "sg",
}
_SUFFIX = string.ascii_uppercase + string.digits
Progress = Callable[[str], None]


@dataclass
class Resource:
    """One deployed resource: its physical id (what Ref returns) and its attributes."""

    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


def generated_name(stack: str, logical_id: str, limit: int = 64) -> str:
    """A name as CloudFormation makes one: `stack-Logical-RANDOMSUFFIX`, within `limit`."""
    suffix = "".join(secrets.choice(_SUFFIX) for _ in range(12))
    head = f"{stack}-{logical_id}"[: limit - len(suffix) - 1]
    return f"{head}-{suffix}"


def template_location(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 TemplateURL."""
    found = _VIRTUAL_HOSTED.fullmatch(url) or _PATH_STYLE.fullmatch(url)
    if found is None:
        raise TemplateError(f"TemplateURL {url} is not an S3 object URL")
    return found.group(1), found.group(2)


class StackDeployer:
    """Deploys templates into one running lab."""

    def __init__(self, lab: Lab, sources: Path | None = None, progress: Progress = print):
        self.lab, self.sources, self.progress = lab, sources, progress
        self.iam = admin_client(lab, "iam")
        self.ecr = admin_client(lab, "ecr")
        self.s3 = lab.upstream.client("s3")
        self.ssm = lab.upstream.client("ssm")
        self.resources: list[Resource] = []  # every stack's, in creation order
        self._profiles: dict[str, str] = {}  # instance profile name -> role ARN

    def deploy(
        self, stack: str, template_text: str, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create every resource of the template; returns the stack's outputs."""
        template = load_template(template_text)
        values = self._parameters(stack, template.get("Parameters") or {}, parameters)
        created: dict[str, Resource] = {}

        def ref(name: str) -> Any:
            if name in values:
                return values[name]
            if name in created:
                return created[name].physical_id
            raise TemplateError(f"{stack}: Ref to unknown {name}")

        def get_att(name: str, attribute: str) -> Any:
            if name not in created or attribute not in created[name].attributes:
                raise TemplateError(f"{stack}: no attribute {attribute} of {name}")
            return created[name].attributes[attribute]

        for logical_id in _creation_order(template["Resources"]):
            spec = template["Resources"][logical_id]
            properties = resolve(spec.get("Properties") or {}, ref, get_att)
            try:
                resource = self._create(stack, logical_id, spec["Type"], properties)
            except ClientError as error:  # as CloudFormation reports a resource it could not create
                raise TemplateError(
                    f"{stack}: {logical_id} ({spec['Type']}) CREATE_FAILED: "
                    f"{error.response['Error'].get('Message') or error}"
                ) from None
            created[logical_id] = resource
            self.resources.append(resource)
        outputs = template.get("Outputs") or {}
        return {name: resolve(o["Value"], ref, get_att) for name, o in outputs.items()}

    # ---- parameters -------------------------------------------------------------------------

    def _parameters(
        self, stack: str, declared: Mapping[str, Any], given: Mapping[str, Any]
    ) -> dict[str, Any]:
        region, account = self.lab.config.region, self.lab.config.account
        values: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": stack,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        for name, spec in declared.items():
            if name in given:
                value = given[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"{stack}: parameter {name} has no value")
            if _SSM_TYPE.fullmatch(str(spec.get("Type", ""))):
                # CloudFormation resolves SSM-typed parameters when the stack is created
                value = self.ssm.get_parameter(Name=value)["Parameter"]["Value"]
            values[name] = value
        unknown = set(given) - set(declared)
        if unknown:
            raise TemplateError(f"{stack}: the template declares no parameter {sorted(unknown)}")
        return values

    # ---- resources --------------------------------------------------------------------------

    def _create(self, stack: str, logical_id: str, kind: str, props: dict[str, Any]) -> Resource:
        self.progress(f"{stack}: {kind} {logical_id}")
        if kind == "AWS::CloudFormation::Stack":
            return self._nested_stack(stack, logical_id, props)
        if kind == "AWS::IAM::Role":
            return self._role(stack, logical_id, props)
        if kind == "AWS::IAM::InstanceProfile":
            return self._instance_profile(stack, logical_id, props)
        if kind == "AWS::EC2::Instance":
            return self._instance(logical_id, props)
        if kind == "AWS::ECR::Repository":
            return self._repository(stack, logical_id, props)
        if kind in _RECORDED:
            physical = f"{_RECORDED[kind]}-{secrets.token_hex(9)[:17]}"
            return Resource(logical_id, kind, physical, {"AllocationId": physical})
        raise TemplateError(f"the lab's interpreter does not deploy {kind} ({logical_id})")

    def _nested_stack(self, stack: str, logical_id: str, props: dict[str, Any]) -> Resource:
        name = generated_name(stack, logical_id, limit=128)
        outputs = self.deploy(
            name, self._template(props["TemplateURL"]), props.get("Parameters") or {}
        )
        region, account = self.lab.config.region, self.lab.config.account
        arn = f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{secrets.token_hex(16)}"
        return Resource(
            logical_id,
            "AWS::CloudFormation::Stack",
            arn,
            {f"Outputs.{k}": v for k, v in outputs.items()},
        )

    def _template(self, url: str) -> str:
        """The nested template from the lab's S3; staged there first from `sources` if absent."""
        bucket, key = template_location(url)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except ClientError as error:
            local = self.sources / Path(key).name if self.sources else None
            if local is None or not local.is_file():
                raise TemplateError(f"{url}: {error}") from None
        self._stage(bucket, key, local)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    def _stage(self, bucket: str, key: str, local: Path) -> None:
        region = self.lab.config.region
        try:
            self.s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
        self.s3.put_object(Bucket=bucket, Key=key, Body=local.read_bytes())
        self.progress(f"uploaded {local} to s3://{bucket}/{key}")

    def _role(self, stack: str, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("RoleName") or generated_name(stack, logical_id)
        role = self.iam.create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
        )["Role"]
        for arn in props.get("ManagedPolicyArns", ()):
            self.iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        for policy in props.get("Policies", ()):
            self.iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        attributes = {"Arn": role["Arn"], "RoleId": role["RoleId"]}
        return Resource(logical_id, "AWS::IAM::Role", name, attributes)

    def _instance_profile(self, stack: str, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("InstanceProfileName") or generated_name(stack, logical_id, limit=128)
        profile = self.iam.create_instance_profile(
            InstanceProfileName=name, Path=props.get("Path", "/")
        )["InstanceProfile"]
        for role in props.get("Roles", ()):
            self.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
            self._profiles[name] = self.iam.get_role(RoleName=role)["Role"]["Arn"]
        return Resource(logical_id, "AWS::IAM::InstanceProfile", name, {"Arn": profile["Arn"]})

    def _instance(self, logical_id: str, props: dict[str, Any]) -> Resource:
        instance_id = "i-" + secrets.token_hex(9)[:17]
        profile = props.get("IamInstanceProfile")
        if profile is not None:
            # The emulated instance: its sessions are this role's, as EC2 would hand them out
            self.lab.instances[logical_id.lower()] = Instance(instance_id, self._profiles[profile])
        attributes = {"ImageId": props.get("ImageId"), "InstanceType": props.get("InstanceType")}
        return Resource(logical_id, "AWS::EC2::Instance", instance_id, attributes)

    def _repository(self, stack: str, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("RepositoryName") or generated_name(stack, logical_id).lower()
        repository = self.ecr.create_repository(repositoryName=name)["repository"]
        policy = props.get("RepositoryPolicyText")
        if policy is not None:
            text = policy if isinstance(policy, str) else json.dumps(policy)
            self.ecr.set_repository_policy(repositoryName=name, policyText=text)
        attributes = {
            "Arn": repository["repositoryArn"],
            "RepositoryUri": repository["repositoryUri"],
        }
        return Resource(logical_id, "AWS::ECR::Repository", name, attributes)


def _creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids so that each comes after what it depends on (DependsOn, Ref, GetAtt)."""
    needs: dict[str, set[str]] = {}
    for logical_id, spec in resources.items():
        depends = spec.get("DependsOn") or []
        depends = [depends] if isinstance(depends, str) else depends
        needs[logical_id] = (set(depends) | references(spec.get("Properties") or {})) & set(
            resources
        )
    order: list[str] = []
    while needs:
        ready = sorted(r for r, deps in needs.items() if deps <= set(order))
        if not ready:
            raise TemplateError(f"circular dependency among {sorted(needs)}")
        order += ready
        for name in ready:
            del needs[name]
    return order
