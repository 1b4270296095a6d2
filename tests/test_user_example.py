"""A user's own tests, as they would write them: installing ecr-lab gives them `ecr_lab`.

Each test gets a new lab (IAM, STS and ECR on one loopback port); sessions for an instance
role are EC2 instance-profile sessions, and every refusal is AWS's own answer.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
PUSH = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]


def instance_role(ecr_lab, name: str, policy_arn: str) -> str:
    """An EC2 instance role with one managed policy; returns its ARN."""
    iam = ecr_lab.client("iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)["Role"]
    iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return role["Arn"]


def refusal(call) -> dict:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]


def test_a_read_only_role_pulls_but_cannot_push(ecr_lab):
    reader = ecr_lab.session(instance_role(ecr_lab, "reader", READ_ONLY))
    ecr_lab.client("ecr").create_repository(repositoryName="team/app")
    ecr = reader.client("ecr")
    me = reader.client("sts").get_caller_identity()["Arn"]

    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [
        "team/app"
    ]
    error = refusal(lambda: ecr.initiate_layer_upload(repositoryName="team/app"))

    repository = f"arn:aws:ecr:{ecr_lab.region}:{ecr_lab.account}:repository/team/app"
    assert error == {
        "Code": "AccessDeniedException",
        "Message": f"User: {me} is not authorized to perform: ecr:InitiateLayerUpload on "
        f"resource: {repository} because no identity-based policy allows the "
        "ecr:InitiateLayerUpload action",
    }


def test_a_repository_policy_lets_only_the_builder_push(ecr_lab):
    builder = instance_role(ecr_lab, "builder", FULL_ACCESS)
    other = instance_role(ecr_lab, "other", FULL_ACCESS)
    admin = ecr_lab.client("ecr")
    admin.create_repository(repositoryName="app")
    only_the_builder_pushes = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": PUSH,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": builder}},
            }
        ],
    }
    admin.set_repository_policy(
        repositoryName="app", policyText=json.dumps(only_the_builder_pushes)
    )

    upload = ecr_lab.client("ecr", builder).initiate_layer_upload(repositoryName="app")
    assert upload["uploadId"]
    error = refusal(
        lambda: ecr_lab.client("ecr", other).initiate_layer_upload(repositoryName="app")
    )
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].endswith("with an explicit deny in a resource-based policy")
    # Pulling is not in the policy: the role's own FullAccess still allows it.
    ecr_lab.client("ecr", other).batch_get_image(
        repositoryName="app", imageIds=[{"imageTag": "latest"}]
    )


def test_a_bad_repository_policy_is_refused_and_the_old_one_kept(ecr_lab):
    ecr = ecr_lab.client("ecr")
    ecr.create_repository(repositoryName="app")
    good = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
    }
    ecr.set_repository_policy(repositoryName="app", policyText=json.dumps(good))
    bad = {"Version": "2012-10-17", "Statement": [{"Principal": "*", "Action": "ecr:*"}]}

    error = refusal(
        lambda: ecr.set_repository_policy(repositoryName="app", policyText=json.dumps(bad))
    )

    assert error == {
        "Code": "InvalidParameterException",
        "Message": "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
        "'Invalid repository policy provided'",
    }
    kept = ecr.get_repository_policy(repositoryName="app")["policyText"]
    assert json.loads(kept) == good


@pytest.mark.ecr_lab(scenario="fa-085")
def test_the_tutorial_instance_1_pushes_2_pulls_3_does_neither(ecr_lab):
    def allowed(instance: str, operation: str) -> bool:
        ecr = ecr_lab.client("ecr", instance)
        call = {
            "push": lambda: ecr.initiate_layer_upload(repositoryName="fa-085"),
            "pull": lambda: ecr.batch_get_image(
                repositoryName="fa-085", imageIds=[{"imageTag": "latest"}]
            ),
            "login": ecr.get_authorization_token,
        }[operation]
        try:
            call()
        except ClientError as error:
            assert error.response["Error"]["Code"] == "AccessDeniedException"
            return False
        return True

    seen = {
        (instance, operation): allowed(instance, operation)
        for instance in ("instance1", "instance2", "instance3")
        for operation in ("login", "push", "pull")
    }
    assert seen == {
        ("instance1", "login"): True,
        ("instance1", "push"): True,
        ("instance1", "pull"): False,
        ("instance2", "login"): True,
        ("instance2", "push"): False,
        ("instance2", "pull"): True,
        ("instance3", "login"): True,
        ("instance3", "push"): False,
        ("instance3", "pull"): False,
    }
