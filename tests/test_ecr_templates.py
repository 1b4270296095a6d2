"""Repository creation templates through real HTTP (boto3 and the aws CLI).

Pages: ECR User Guide "Repository creation templates" (repository-creation-templates.html:
prefix with an assumed `/`, `ROOT` for all others, appliedFor REPLICATION | PULL_THROUGH_CACHE |
CREATE_ON_PUSH), "Creating a repository creation template" (repository-creation-templates-
create.html: the four actions and ecr:CreateRepository from an identity-based policy; a
customRoleArn is a role ECR assumes, which the caller passes: iam:PassRole); API Reference
CreateRepositoryCreationTemplate, DescribeRepositoryCreationTemplates,
UpdateRepositoryCreationTemplate, DeleteRepositoryCreationTemplate (TemplateAlreadyExists,
TemplateNotFound, InvalidParameter).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.ecr_ops_support import aws, cli, denial, lab_fixture, user_keys
from tests.ecr_support import error_of

lab = lab_fixture("lab")

LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": 5,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


def _policy(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["ecr:BatchGetImage"],
                }
            ],
        }
    )


def test_create_describe_update_delete_a_template(lab):
    ecr = aws(lab)
    account = lab.lab.config.account
    created = ecr.create_repository_creation_template(
        prefix="prod",
        description="production",
        appliedFor=["CREATE_ON_PUSH", "PULL_THROUGH_CACHE"],
        repositoryPolicy=_policy(account),
        lifecyclePolicy=LIFECYCLE,
        resourceTags=[{"Key": "team", "Value": "platform"}],
        imageTagMutability="IMMUTABLE",
    )
    template = created["repositoryCreationTemplate"]
    assert created["registryId"] == account
    assert template["prefix"] == "prod" and template["imageTagMutability"] == "IMMUTABLE"
    assert template["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert template["appliedFor"] == ["CREATE_ON_PUSH", "PULL_THROUGH_CACHE"]
    assert json.loads(template["repositoryPolicy"]) == json.loads(_policy(account))
    described = ecr.describe_repository_creation_templates(prefixes=["prod"])
    assert [t["prefix"] for t in described["repositoryCreationTemplates"]] == ["prod"]
    updated = ecr.update_repository_creation_template(prefix="prod", description="changed")
    assert updated["repositoryCreationTemplate"]["description"] == "changed"
    assert updated["repositoryCreationTemplate"]["imageTagMutability"] == "IMMUTABLE"
    deleted = ecr.delete_repository_creation_template(prefix="prod")
    assert deleted["repositoryCreationTemplate"]["description"] == "changed"
    assert ecr.describe_repository_creation_templates()["repositoryCreationTemplates"] == []


def test_duplicate_and_missing_templates_answer_ecr_errors(lab):
    ecr = aws(lab)
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])
    with pytest.raises(ClientError) as caught:
        ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["CREATE_ON_PUSH"])
    assert error_of(caught)[0] == "TemplateAlreadyExistsException"
    for call in (ecr.update_repository_creation_template, ecr.delete_repository_creation_template):
        with pytest.raises(ClientError) as caught:
            call(prefix="nothing-here")
        assert error_of(caught)[0] == "TemplateNotFoundException"
    ecr.delete_repository_creation_template(prefix="ROOT")


@pytest.mark.parametrize(
    ("extra", "member"),
    [
        ({"prefix": "Upper/Case"}, "prefix"),
        ({"prefix": "root"}, None),  # lower-case root is a plain prefix: valid
        ({"appliedFor": ["EVERYWHERE"]}, "appliedFor"),
        ({"imageTagMutability": "SOMETIMES"}, "imageTagMutability"),
        ({"repositoryPolicy": "{not json"}, "PolicyText"),
        ({"lifecyclePolicy": '{"rules": []}'}, "LifecyclePolicyText"),
    ],
)
def test_invalid_templates_are_refused_and_change_nothing(lab, extra, member):
    ecr = aws(lab)
    params = {"prefix": "checked", "appliedFor": ["CREATE_ON_PUSH"], **extra}
    if member is None:
        ecr.create_repository_creation_template(**params)
        ecr.delete_repository_creation_template(prefix=params["prefix"])
        return
    with pytest.raises(ClientError) as caught:
        ecr.create_repository_creation_template(**params)
    code, message = error_of(caught)
    assert code == "InvalidParameterException" and f"'{member}" in message
    assert ecr.describe_repository_creation_templates()["repositoryCreationTemplates"] == []


def test_bad_template_tags_are_invalid_tag_parameters(lab):
    with pytest.raises(ClientError) as caught:
        aws(lab).create_repository_creation_template(
            prefix="tagged", appliedFor=["REPLICATION"], resourceTags=[{"Key": "", "Value": "x"}]
        )
    assert error_of(caught)[0] in ("InvalidTagParameterException", "InvalidParameterException")


def test_managing_templates_needs_an_identity_policy(lab):
    keys = user_keys(lab, "template-reader", ["ecr:DescribeRepositoryCreationTemplates"])
    reader = aws(lab, **keys)
    assert reader.describe_repository_creation_templates()["repositoryCreationTemplates"] == []
    with pytest.raises(ClientError) as caught:
        reader.create_repository_creation_template(prefix="x1", appliedFor=["REPLICATION"])
    action = "ecr:CreateRepositoryCreationTemplate"
    assert error_of(caught) == ("AccessDeniedException", denial(lab, "template-reader", action))


def test_a_custom_role_needs_iam_pass_role(lab):
    """customRoleArn: ECR assumes the role, so the caller must be allowed iam:PassRole on it."""
    account = lab.lab.config.account
    role = f"arn:aws:iam::{account}:role/ecr-template-role"
    creator = aws(lab, **user_keys(lab, "no-pass", ["ecr:CreateRepositoryCreationTemplate"]))
    with pytest.raises(ClientError) as caught:
        creator.create_repository_creation_template(
            prefix="passed", appliedFor=["REPLICATION"], customRoleArn=role
        )
    assert error_of(caught) == (
        "AccessDeniedException",
        denial(lab, "no-pass", "iam:PassRole", role),
    )
    assert aws(lab).describe_repository_creation_templates()["repositoryCreationTemplates"] == []
    allowed = ["ecr:CreateRepositoryCreationTemplate", "ecr:DeleteRepositoryCreationTemplate"]
    passer = aws(lab, **user_keys(lab, "passer", [*allowed, "iam:PassRole"]))
    made = passer.create_repository_creation_template(
        prefix="passed", appliedFor=["REPLICATION"], customRoleArn=role
    )
    assert made["repositoryCreationTemplate"]["customRoleArn"] == role
    passer.delete_repository_creation_template(prefix="passed")


def test_the_cli_manages_templates(lab):
    create = ("create-repository-creation-template", "--prefix", "cli/team")
    made = cli(lab, *create, "--applied-for", "PULL_THROUGH_CACHE")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["repositoryCreationTemplate"]["prefix"] == "cli/team"
    again = cli(lab, *create, "--applied-for", "CREATE_ON_PUSH")
    assert again.returncode != 0 and "TemplateAlreadyExistsException" in again.stderr
    gone = cli(lab, "delete-repository-creation-template", "--prefix", "cli/team")
    assert gone.returncode == 0, gone.stderr
