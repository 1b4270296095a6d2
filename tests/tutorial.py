"""The tutorial's policies (shared/seed): three Deny statements keyed on aws:PrincipalArn."""

from __future__ import annotations

import json
from typing import Any

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
# AmazonEC2ContainerRegistryFullAccess (v3), as the tutorial's roles carry it.
ECR_FULL_ACCESS: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ecr:*", "cloudtrail:LookupEvents"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"iam:AWSServiceName": ["replication.ecr.amazonaws.com"]}
            },
        },
    ],
}

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
