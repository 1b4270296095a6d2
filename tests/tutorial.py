"""The tutorial's policies (shared/seed): three Deny statements keyed on aws:PrincipalArn."""

from __future__ import annotations

import json

PUSH_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["ec2.amazonaws.com"]},
            }
        ],
    }
)
MANAGED = [
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
]


def repository_policy(role1: str, role2: str) -> str:
    """The tutorial's repository policy for the two instance roles."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "NotAction": PUSH_ACTIONS,
                    "Condition": {"ArnEquals": {"aws:PrincipalArn": role1}},
                },
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "NotAction": PULL_ACTIONS,
                    "Condition": {"ArnEquals": {"aws:PrincipalArn": role2}},
                },
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "*",
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [role1, role2]}},
                },
            ],
        }
    )
