"""Repository creation templates: the settings of repositories ECR creates on your behalf.

ECR User Guide, "Repository creation templates" (repository-creation-templates.html) and API
Reference (CreateRepositoryCreationTemplate, DescribeRepositoryCreationTemplates,
UpdateRepositoryCreationTemplate, DeleteRepositoryCreationTemplate): a template names a prefix
("prod" matches `prod/...`; there is always an assumed `/` after it; `ROOT` matches every
repository no other template matches), the features it applies to (REPLICATION,
PULL_THROUGH_CACHE, CREATE_ON_PUSH), and the repository policy, lifecycle policy, tags, tag
mutability and encryption a repository created under it gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from lab.ecr.context import Context
from lab.ecr.errors import TEMPLATE_ALREADY_EXISTS, TEMPLATE_NOT_FOUND
from lab.ecr.model import Registry, Repository
from lab.ecr.operation import Operation
from lab.ecr.pages import paginate
from lab.ecr.policies import check_lifecycle_policy
from lab.ecr.repositories import encryption, resource_tags

ROOT = "ROOT"
T = TypeVar("T")
# The members a template keeps as given (after validation).
_SETTINGS = (
    "description",
    "encryptionConfiguration",
    "resourceTags",
    "imageTagMutability",
    "imageTagMutabilityExclusionFilters",
    "repositoryPolicy",
    "lifecyclePolicy",
    "appliedFor",
    "customRoleArn",
)


def covers(prefix: str, name: str) -> bool:
    """Whether a template or rule prefix covers repository `name` (`ROOT` covers all)."""
    return prefix == ROOT or name.startswith(prefix.rstrip("/") + "/")


def longest_match(by_prefix: Mapping[str, T], name: str) -> T | None:
    """The item whose prefix covers repository `name` with the longest prefix; `ROOT`'s only
    when no other covers it (templates and pull through cache rules match alike)."""
    prefixes = [prefix for prefix in by_prefix if covers(prefix, name)]
    if not prefixes:
        return None
    return by_prefix[max(prefixes, key=lambda prefix: -1 if prefix == ROOT else len(prefix))]


def creation_template(registry: Registry, name: str, applied_for: str) -> dict[str, Any] | None:
    """The template ECR applies to a repository `name` it creates for `applied_for`: of those
    applied for it, the one with the longest matching prefix."""
    templates = registry.creation_templates
    applied = {prefix: t for prefix, t in templates.items() if applied_for in t["appliedFor"]}
    return longest_match(applied, name)


def apply_creation_template(ctx: Context, name: str, applied_for: str) -> dict[str, Any] | None:
    """Create repository `name` in `ctx.registry` as ECR does on your behalf for `applied_for`
    ("REPLICATION", "PULL_THROUGH_CACHE" or "CREATE_ON_PUSH"), with the settings of the matching
    template (`creation_template`): repository policy, lifecycle policy, tags, tag mutability
    and encryption. Returns that template, or None when none matches (then the repository gets
    ECR's defaults; a push creates nothing without a template, so CREATE_ON_PUSH callers check
    `creation_template` first). The repository must not exist yet."""
    template = creation_template(ctx.registry, name, applied_for)
    repository = Repository(name=name, created_at=ctx.now)
    if template is not None:
        repository.image_tag_mutability = template["imageTagMutability"]
        repository.mutability_exclusion_filters = [
            dict(rule) for rule in template.get("imageTagMutabilityExclusionFilters", [])
        ]
        repository.encryption_configuration = encryption(ctx, template["encryptionConfiguration"])
        repository.tags = resource_tags(template.get("resourceTags", []))
        repository.policy = template.get("repositoryPolicy") or None
        repository.lifecycle_policy = template.get("lifecyclePolicy") or None
    ctx.registry.repositories[name] = repository
    return template


def create_repository_creation_template(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateRepositoryCreationTemplate."""
    prefix, templates = params["prefix"], ctx.registry.creation_templates
    if prefix in templates:
        raise TEMPLATE_ALREADY_EXISTS(prefix=prefix, registry_id=ctx.registry.account)
    template = {
        "prefix": prefix,
        "encryptionConfiguration": {"encryptionType": "AES256"},
        "imageTagMutability": "MUTABLE",
        **_checked(ctx, params),
        "createdAt": ctx.now,
        "updatedAt": ctx.now,
    }
    templates[prefix] = template
    return _answer(ctx, template)


def update_repository_creation_template(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateRepositoryCreationTemplate: the members given replace the template's."""
    template = _template(ctx, params["prefix"])
    template.update(_checked(ctx, params), updatedAt=ctx.now)
    return _answer(ctx, template)


def delete_repository_creation_template(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteRepositoryCreationTemplate: answers with the template it deleted."""
    template = _template(ctx, params["prefix"])
    del ctx.registry.creation_templates[template["prefix"]]
    return _answer(ctx, template)


def describe_repository_creation_templates(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeRepositoryCreationTemplates, paginated by prefix; `prefixes` picks some."""
    templates = ctx.registry.creation_templates
    wanted = params.get("prefixes")
    chosen = [
        templates[prefix] for prefix in sorted(templates) if wanted is None or prefix in wanted
    ]
    page, token = paginate(chosen, lambda template: [template["prefix"]], params)
    result: dict[str, Any] = {
        "registryId": ctx.registry.account,
        "repositoryCreationTemplates": page,
    }
    if token:
        result["nextToken"] = token
    return result


def _checked(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The settings given, each validated as ECR validates it on a repository."""
    if params.get("repositoryPolicy"):
        ctx.validate_policy(params["repositoryPolicy"])
    if params.get("lifecyclePolicy"):
        check_lifecycle_policy(params["lifecyclePolicy"])
    resource_tags(params.get("resourceTags", []))
    return {key: params[key] for key in _SETTINGS if key in params}


def _template(ctx: Context, prefix: str) -> dict[str, Any]:
    template = ctx.registry.creation_templates.get(prefix)
    if template is None:
        raise TEMPLATE_NOT_FOUND(prefix=prefix, registry_id=ctx.registry.account)
    return template


def _answer(ctx: Context, template: dict[str, Any]) -> dict[str, Any]:
    return {"registryId": ctx.registry.account, "repositoryCreationTemplate": template}


OPERATIONS = {
    "CreateRepositoryCreationTemplate": Operation(create_repository_creation_template, True),
    "DescribeRepositoryCreationTemplates": Operation(describe_repository_creation_templates, False),
    "UpdateRepositoryCreationTemplate": Operation(update_repository_creation_template, True),
    "DeleteRepositoryCreationTemplate": Operation(delete_repository_creation_template, True),
}
