"""Scenario files (`schema: 1`) to a `Scenario`, with errors that name the file and the line.

Shape (every key but `schema`, `region` and the sections' entries is optional):

    schema: 1
    region: ap-northeast-1
    account: "123456789012"           # default: the lab's account
    roles:
      InstanceRole1:                  # the key policies use: ${InstanceRole1.Arn}
        name: RealRoleName            # default: the key
        path: /
        trust_policy: {Version: 2012-10-17, Statement: [...]}
        managed_policies: [arn:aws:iam::aws:policy/...]
        inline_policies: {PolicyName: {...}}
    instances:
      instance1: {instance_id: i-0123456789abcdef0, role: InstanceRole1,
                  vpc_endpoint: ecr, private_ip: 10.0.1.10}   # both optional
    vpc_endpoints:                    # interface endpoints for ECR (ecr.api and ecr.dkr)
      ecr: {id: vpce-0123456789abcdef0, vpc: vpc-0123456789abcdef0, policy: {...}}
    clock: 2026-12-01T10:30:00Z       # the time policies see (aws:CurrentTime); default: now
    organization:                     # SCPs and RCPs by level (default: AWS's full access)
      management_account: "999988887777"
      root: {scps: [FullAWSAccess, {...}], rcps: [{...}]}
      ous:
        Workloads: {scps: [...], rcps: [...], accounts: ["123456789012"], ous: {...}}
      accounts:
        "123456789012": {scps: [...], rcps: [...]}
    repositories:
      fa-085: {policy: {...}, tags: {team: x}}
    expected:
      instance1: {repository: fa-085, login: allowed, push: allowed, pull: denied,
                  ecr:DescribeRepositories: allowed}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.ecr.templates import covers
from lab.ecr.validation import service_model
from lab.policy.document import PolicyError, parse_policy
from lab.policy.model import DocumentKind
from lab.scenario import yamlfile
from lab.scenario.model import (
    REGISTRY_OPERATIONS,
    Expectation,
    Instance,
    Repository,
    Role,
    Scenario,
    VpcEndpointSpec,
    is_replication_check,
    malformed_references,
    references,
    resolve,
)
from lab.scenario.parse_guardrails import ACCOUNT, endpoint, organization
from lab.scenario.parse_registry import registry

SCHEMA = "1"
_TOP_KEYS = {
    "schema", "name", "description", "account", "region", "roles", "instances", "repositories",
    "expected", "organization", "vpc_endpoints", "clock", "accounts", "replication", "registry",
}  # fmt: skip
_ROLE_KEYS = {"name", "path", "trust_policy", "managed_policies", "inline_policies"}
_INSTANCE_KEYS = {"instance_id", "role", "vpc_endpoint", "private_ip"}
CLOCK = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")  # as aws:CurrentTime reads
VPCE_ID = re.compile(r"vpce-[0-9a-f]{8,17}")
PRIVATE_IP = re.compile(r"(?:10|172|192)\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_REPOSITORY_KEYS = {"policy", "tags"}
# AWS's patterns: IAM RoleName and Path, ECR repositoryName, EC2 instance ids, regions.
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
ROLE_PATH = re.compile(r"/(?:[\x21-\x7e]{0,510}/)?")
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
INSTANCE_ID = re.compile(r"i-[0-9a-f]{17}")
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
POLICY_ARN = re.compile(r"arn:aws:iam::(?:aws|\d{12}):policy/[\x21-\x7e]+")
_PLACEHOLDER_ACCOUNT = "123456789012"  # only to check policies before the real one is known


class ScenarioError(ValueError):
    """An invalid scenario; the message starts with `file:line:`."""


class _Reader:
    """Validation helpers that know the file's name, so every error can name its line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: Any, message: str) -> ScenarioError:
        line = getattr(where, "line", None)
        return ScenarioError(
            f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}"
        )

    def mapping(self, node: Any, what: str, keys: set[str] | None = None) -> yamlfile.Mapping:
        if not isinstance(node, yamlfile.Mapping):
            raise self.fail(node, f"{what} must be a mapping")
        for key in node:
            if keys is not None and key not in keys:
                allowed = ", ".join(sorted(keys))
                raise self.fail(key_node(node, key), f"unknown key {key!r} in {what} ({allowed})")
        return node

    def text(self, node: Any, what: str, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(node, yamlfile.Text):
            raise self.fail(node, f"{what} must be a single value")
        if pattern is not None and not pattern.fullmatch(node):
            raise self.fail(node, f"{what} {str(node)!r} is not valid (expected {pattern.pattern})")
        return str(node)

    def texts(
        self, node: Any, what: str, pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...]:
        if not isinstance(node, yamlfile.Sequence):
            raise self.fail(node, f"{what} must be a list")
        return tuple(self.text(item, what, pattern) for item in node)

    def policy(self, node: Any, what: str, kind: DocumentKind, roles: set[str]) -> dict[str, Any]:
        """A policy document (a mapping, or JSON text), checked as IAM/ECR would check it."""
        if isinstance(node, yamlfile.Text):
            try:
                document = json.loads(node)
            except ValueError as error:
                raise self.fail(node, f"{what} is not valid JSON: {error}") from None
        else:
            document = plain(self.mapping(node, what))
        unknown = references(document) - roles
        if unknown:
            raise self.fail(node, f"{what} refers to unknown role ${{{sorted(unknown)[0]}.Arn}}")
        malformed = malformed_references(json.dumps(document))
        if malformed:
            found = malformed[0]
            key = found[2:-1].rpartition(".")[0] or found[2:-1]
            hint = f"${{{key}.Arn}}" if key in roles else "${RoleKey.Arn}"
            raise self.fail(
                _text_node(node, found) or node,
                f"{what}: unknown reference {found} (a role's ARN is written {hint})",
            )
        placeholders = {key: f"arn:aws:iam::{_PLACEHOLDER_ACCOUNT}:role/{key}" for key in roles}
        try:
            parse_policy(resolve(document, placeholders), kind)
        except PolicyError as error:
            raise self.fail(_statement_node(node, error.statement), f"{what}: {error}") from None
        return document

    def entries(
        self, root: yamlfile.Mapping, section: str, read: Callable[[str, Any], Any]
    ) -> dict[str, Any]:
        """A `name: {...}` section, each entry read by `read(name, node)`."""
        if section not in root:
            return {}
        node = self.mapping(root[section], section)
        return {str(name): read(str(name), value) for name, value in node.items()}


def key_node(mapping: yamlfile.Mapping, key: str) -> yamlfile.Text:
    """The key itself, with its line, for errors about the key."""
    return next(k for k in mapping if k == key)


def _statement_node(node: Any, index: int | None) -> Any:
    statements = node.get("Statement") if isinstance(node, yamlfile.Mapping) else None
    if index is not None and isinstance(statements, yamlfile.Sequence) and index < len(statements):
        return statements[index]
    return node


def _text_node(node: Any, needle: str) -> yamlfile.Text | None:
    """The first scalar under `node` that contains `needle`, for its line."""
    if isinstance(node, yamlfile.Text):
        return node if needle in node else None
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    return next((found for child in children if (found := _text_node(child, needle))), None)


def plain(node: Any) -> Any:
    """Plain dicts, lists and strings (the JSON a policy document is)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    return str(node)


def parse(text: str, source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    """Validate a scenario document; ScenarioError names the file and line of the first fault."""
    try:
        root = yamlfile.load(text, source)
    except yamlfile.YamlError as error:
        raise ScenarioError(str(error)) from None
    read = _Reader(source)
    if root is None:
        raise read.fail(None, "the file is empty")
    root = read.mapping(root, "a scenario", _TOP_KEYS)
    if "schema" not in root:
        raise read.fail(root, "missing `schema: 1`")
    if read.text(root["schema"], "schema") != SCHEMA:
        raise read.fail(root["schema"], f"unsupported schema {root['schema']!r}; this lab reads 1")
    if "region" not in root:
        raise read.fail(root, "missing `region`")
    role_keys = set(root.get("roles") or {}) if isinstance(root.get("roles"), dict) else set()
    roles = read.entries(root, "roles", lambda key, node: _role(read, key, node, role_keys))
    endpoints = read.entries(
        root, "vpc_endpoints", lambda key, node: endpoint(read, key, node, role_keys)
    )
    instances = read.entries(
        root, "instances", lambda name, node: _instance(read, name, node, roles, endpoints)
    )
    repositories = read.entries(
        root, "repositories", lambda name, node: _repository(read, name, node, role_keys)
    )
    settings = registry(read, root["registry"], role_keys) if "registry" in root else None
    prefixes = settings.prefixes() if settings else ()
    expectations = _expectations(read, root, instances, repositories, prefixes)
    return Scenario(
        name=read.text(root["name"], "name") if "name" in root else default_name,
        description=read.text(root["description"], "description") if "description" in root else "",
        account=read.text(root["account"], "account", ACCOUNT) if "account" in root else None,
        region=read.text(root["region"], "region", REGION),
        roles=roles,
        instances=instances,
        repositories=repositories,
        expectations=expectations,
        organization=organization(read, root["organization"], role_keys)
        if "organization" in root
        else None,
        vpc_endpoints=endpoints,
        clock=read.text(root["clock"], "clock", CLOCK) if "clock" in root else None,
        accounts=read.entries(
            root, "accounts", lambda account, node: _account(read, account, node, role_keys)
        ),
        replication=plain(read.mapping(root["replication"], "replication", {"rules"}))
        if "replication" in root
        else None,
        **({"registry": settings} if settings else {}),
    )


def parse_file(path: Path) -> Scenario:
    """The scenario in the file at `path` (named after the file unless it says `name:`)."""
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path), default_name=path.stem)


def _role(read: _Reader, key: str, node: Any, role_keys: set[str]) -> Role:
    if not ROLE_NAME.fullmatch(key):
        raise read.fail(node, f"role key {key!r} is not a valid role name")
    node = read.mapping(node, f"role {key}", _ROLE_KEYS)
    if "trust_policy" not in node:
        raise read.fail(node, f"role {key} needs a trust_policy")
    inline = node.get("inline_policies")
    inline_policies = {}
    if inline is not None:
        for name, doc in read.mapping(inline, f"role {key} inline_policies").items():
            what = f"role {key} inline policy {name}"
            inline_policies[str(name)] = read.policy(doc, what, "identity", role_keys)
    managed = node.get("managed_policies")
    return Role(
        key=key,
        name=read.text(node["name"], "role name", ROLE_NAME) if "name" in node else key,
        path=read.text(node["path"], "role path", ROLE_PATH) if "path" in node else "/",
        trust_policy=read.policy(
            node["trust_policy"], f"role {key} trust_policy", "trust", role_keys
        ),
        managed_policies=()
        if managed is None
        else read.texts(managed, "managed policy", POLICY_ARN),
        inline_policies=inline_policies,
    )


def _instance(
    read: _Reader,
    name: str,
    node: Any,
    roles: dict[str, Role],
    endpoints: dict[str, VpcEndpointSpec],
) -> Instance:
    node = read.mapping(node, f"instance {name}", _INSTANCE_KEYS)
    for required in ("instance_id", "role"):
        if required not in node:
            raise read.fail(node, f"instance {name} needs {required}")
    role = read.text(node["role"], "role")
    if role not in roles:
        raise read.fail(node["role"], f"instance {name}: unknown role {role!r}")
    instance_id = read.text(node["instance_id"], "instance_id", INSTANCE_ID)
    endpoint = read.text(node["vpc_endpoint"], "vpc_endpoint") if "vpc_endpoint" in node else None
    # A key of vpc_endpoints, or the id of an endpoint made with EC2's API (found at deploy).
    if endpoint is not None and endpoint not in endpoints and not VPCE_ID.fullmatch(endpoint):
        raise read.fail(node["vpc_endpoint"], f"instance {name}: unknown vpc_endpoint {endpoint!r}")
    private_ip = (
        read.text(node["private_ip"], "private_ip", PRIVATE_IP) if "private_ip" in node else None
    )
    return Instance(name, instance_id, role, endpoint, private_ip or Instance.private_ip)


def _repository(read: _Reader, name: str, node: Any, role_keys: set[str]) -> Repository:
    if not REPOSITORY_NAME.fullmatch(name) or not 2 <= len(name) <= 256:
        raise read.fail(node, f"repository name {name!r} is not valid for ECR")
    node = read.mapping(node or yamlfile.Mapping(), f"repository {name}", _REPOSITORY_KEYS)
    policy = node.get("policy")
    tags = read.mapping(node["tags"], f"repository {name} tags") if "tags" in node else {}
    return Repository(
        name=name,
        policy=None
        if policy is None
        else read.policy(policy, f"repository {name} policy", "repository", role_keys),
        tags={str(k): read.text(v, f"tag {k}") for k, v in tags.items()},
    )


def _expectations(
    read: _Reader,
    root: yamlfile.Mapping,
    instances: dict[str, Instance],
    repositories: dict,
    prefixes: tuple[str, ...] = (),
) -> tuple[Expectation, ...]:
    if "expected" not in root:
        return ()
    found = []
    for principal, node in read.mapping(root["expected"], "expected").items():
        if principal not in instances:
            raise read.fail(
                key_node(root["expected"], principal), f"unknown instance {principal!r}"
            )
        node = read.mapping(node, f"expected for {principal}")
        repository = _expected_repository(read, node, principal, repositories, prefixes)
        for operation, outcome in node.items():
            if operation == "repository":
                continue
            _check_operation(read, key_node(node, operation))
            value = read.text(outcome, f"{principal} {operation}")
            if value not in ("allowed", "denied"):
                raise read.fail(outcome, f"{principal} {operation}: expected allowed or denied")
            found.append(Expectation(str(principal), str(operation), repository, value))  # type: ignore[arg-type]
    return tuple(found)


def _expected_repository(
    read: _Reader,
    node: yamlfile.Mapping,
    principal: str,
    repositories: dict,
    prefixes: tuple[str, ...] = (),
) -> str:
    if "repository" in node:
        name = read.text(node["repository"], "repository")
        # A repository ECR creates itself (create on push, pull through cache) needs no entry.
        if name not in repositories and not any(covers(prefix, name) for prefix in prefixes):
            raise read.fail(node["repository"], f"unknown repository {name!r}")
        return name
    if len(repositories) != 1:
        raise read.fail(node, f"expected for {principal}: name the `repository` it is about")
    return next(iter(repositories))


def _account(read: _Reader, account: str, node: Any, role_keys: set[str]) -> dict[str, Any]:
    """Another account: its registry policy in each region (replication's destinations)."""
    read.text(yamlfile.Text(account), "account", ACCOUNT)
    node = read.mapping(node or yamlfile.Mapping(), f"account {account}", {"registry_policies"})
    policies = read.mapping(node.get("registry_policies", yamlfile.Mapping()), "registry_policies")
    return {
        read.text(key_node(policies, region), "region", REGION): read.policy(
            document, f"account {account} registry policy in {region}", "registry", role_keys
        )
        for region, document in policies.items()
    }


def _check_operation(read: _Reader, operation: yamlfile.Text) -> None:
    if operation in REGISTRY_OPERATIONS or is_replication_check(operation):
        return
    if not operation.startswith("ecr:") or operation[4:] not in service_model().operation_names:
        raise read.fail(
            operation,
            f"unknown operation {str(operation)!r}: use login, push, pull or an ECR action "
            "such as ecr:DescribeRepositories, or replicate:ACCOUNT:REGION",
        )
