"""Two accounts in one lab: account B's repository, account A's role.

AWS: across accounts a request is allowed only when both the caller's identity policy and
the repository policy allow it (IAM User Guide, "Cross-account policy evaluation logic",
reference_policies_evaluation-logic-cross-account.html). The ECR API names the other
account's registry with `registryId`; docker with the registry's host name, which the lab
serves as `ACCT.dkr.ecr.REGION.localhost:PORT` on its one port.
"""

from __future__ import annotations

import functools
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.server_support import boto_client
from tests.tutorial import EC2_TRUST

pytestmark = pytest.mark.slow

ACCOUNT_A = "111111111111"  # the lab's first account: the caller's
ACCOUNT_B = "222222222222"  # the repository's
REGION = "ap-northeast-1"
REPOSITORY = "shared"
REPOSITORY_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT_B}:repository/{REPOSITORY}"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


_client = functools.partial(boto_client, region=REGION)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    config = LabConfig(state_dir=tmp_path / "state", account=ACCOUNT_A, region=REGION)
    with RunningLab(config) as running:
        running.lab.add_account(ACCOUNT_B)
        _client(running, "ecr", ACCOUNT_B, "test").create_repository(repositoryName=REPOSITORY)
        yield running


def _role(running: RunningLab, name: str, identity_actions: list[str]) -> str:
    """A role in account A with an identity policy on B's repository; its ARN."""
    iam = _client(running, "iam", "test", "test")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    ]
    if identity_actions:
        statements.append(
            {"Effect": "Allow", "Action": identity_actions, "Resource": REPOSITORY_ARN}
        )
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName=name, PolicyName="pull", PolicyDocument=json.dumps(document))
    return arn


def _grant(running: RunningLab, principal: str) -> None:
    """Account B's repository policy lets `principal` pull."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": PULL}],
    }
    _client(running, "ecr", ACCOUNT_B, "test").set_repository_policy(
        repositoryName=REPOSITORY, policyText=json.dumps(policy)
    )


def _session_ecr(running: RunningLab, role_arn: str):
    answer = running.lab.session_for(role_arn)
    return _client(
        running, "ecr", answer["accessKeyId"], answer["secretAccessKey"], answer["sessionToken"]
    )


def _batch_get_image(ecr: Any) -> str:
    """'allowed' or AWS's denial message for B's repository through the ECR API."""
    try:
        ecr.batch_get_image(
            registryId=ACCOUNT_B, repositoryName=REPOSITORY, imageIds=[{"imageTag": "latest"}]
        )
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDeniedException"
        return error.response["Error"]["Message"]
    return "allowed"


def _registry_get(running: RunningLab, ecr: Any, host: str) -> tuple[int, dict[str, Any]]:
    """GET B's manifest through the registry at `host` (port kept) with a docker login token."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    address, port = running.lab.registry_host.rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    try:
        connection.request(
            "GET",
            f"/v2/{REPOSITORY}/manifests/latest",
            headers={"Host": f"{host}:{port}", "Authorization": f"Basic {token}"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_pull_across_accounts_needs_both_policies(lab: RunningLab) -> None:
    both = _role(lab, "both", PULL)
    resource_only = _role(lab, "resource-only", [])
    identity_only = _role(lab, "identity-only", PULL)
    _grant(lab, both)
    lab_ecr = _client(lab, "ecr", ACCOUNT_B, "test")
    policy = json.loads(lab_ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"])
    policy["Statement"][0]["Principal"]["AWS"] = [both, resource_only]
    lab_ecr.set_repository_policy(repositoryName=REPOSITORY, policyText=json.dumps(policy))

    assert _batch_get_image(_session_ecr(lab, both)) == "allowed"
    denied = _batch_get_image(_session_ecr(lab, resource_only))
    assert denied.endswith(
        f"is not authorized to perform: ecr:BatchGetImage on resource: {REPOSITORY_ARN} "
        "because no identity-based policy allows the ecr:BatchGetImage action"
    )
    denied = _batch_get_image(_session_ecr(lab, identity_only))
    assert denied.endswith(
        f"on resource: {REPOSITORY_ARN} because no resource-based policy allows the "
        "ecr:BatchGetImage action"
    )


def test_a_grant_to_the_whole_account_still_needs_the_identity_policy(lab: RunningLab) -> None:
    allowed = _role(lab, "allowed", PULL)
    bare = _role(lab, "bare", [])
    _grant(lab, f"arn:aws:iam::{ACCOUNT_A}:root")  # trusts account A, which decides who
    assert _batch_get_image(_session_ecr(lab, allowed)) == "allowed"
    assert "because no identity-based policy allows" in _batch_get_image(_session_ecr(lab, bare))


def test_docker_addresses_account_b_by_its_registry_host(lab: RunningLab) -> None:
    both = _role(lab, "both", PULL)
    _grant(lab, both)
    ecr = _session_ecr(lab, both)
    alias = f"{ACCOUNT_B}.dkr.ecr.{REGION}.localhost"
    status, body = _registry_get(lab, ecr, alias)
    assert (status, body["errors"][0]["code"]) == (404, "MANIFEST_UNKNOWN")  # allowed: no image
    # The lab's plain address is account A's registry: the same name there is another
    # repository, which the role's identity policy does not cover (authorization comes first).
    status, body = _registry_get(lab, ecr, "127.0.0.1")
    assert (status, body["errors"][0]["code"]) == (403, "DENIED")
    assert (
        f"arn:aws:ecr:{REGION}:{ACCOUNT_A}:repository/{REPOSITORY}" in body["errors"][0]["message"]
    )


def test_registry_denies_across_accounts_without_the_identity_policy(lab: RunningLab) -> None:
    bare = _role(lab, "bare", [])
    _grant(lab, bare)
    status, body = _registry_get(
        lab, _session_ecr(lab, bare), f"{ACCOUNT_B}.dkr.ecr.{REGION}.localhost"
    )
    assert status == 403
    assert body["errors"][0]["code"] == "DENIED"
    assert (
        "because no identity-based policy allows the ecr:BatchGetImage action"
        in (body["errors"][0]["message"])
    )


def test_each_account_has_its_own_iam_and_admin(lab: RunningLab) -> None:
    sts_b = _client(lab, "sts", ACCOUNT_B, "test")
    assert sts_b.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT_B}:root"
    _role(lab, "only-in-a", [])
    iam_b = _client(lab, "iam", ACCOUNT_B, "test")
    assert [r["RoleName"] for r in iam_b.list_roles()["Roles"]] == []
    login = _client(lab, "ecr", ACCOUNT_B, "test").get_authorization_token()
    endpoint = login["authorizationData"][0]["proxyEndpoint"]
    assert endpoint.startswith(f"http://{ACCOUNT_B}.dkr.ecr.{REGION}.localhost:")
    assert lab.lab.health()["accounts"] == [ACCOUNT_A, ACCOUNT_B]


def test_each_account_s_repository_uri_names_its_own_registry(lab: RunningLab) -> None:
    """ECR's repositoryUri is `ACCT.dkr.ecr.REGION.amazonaws.com/NAME`: in the lab, account B's
    repositories name B's registry address, account A's the lab's own host."""
    port = lab.lab.registry_host.rpartition(":")[2]
    ecr_b = _client(lab, "ecr", ACCOUNT_B, "test")
    (repository,) = ecr_b.describe_repositories()["repositories"]
    assert repository["repositoryUri"] == (
        f"{ACCOUNT_B}.dkr.ecr.{REGION}.localhost:{port}/{REPOSITORY}"
    )
    ecr_a = _client(lab, "ecr", "test", "test")
    created = ecr_a.create_repository(repositoryName="mine")["repository"]
    assert created["repositoryUri"] == f"{lab.lab.registry_host}/mine"
