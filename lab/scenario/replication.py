"""A scenario's replication: other accounts' registry policies, the scenario account's
replication configuration, and the `replicate:ACCOUNT:REGION` checks of the matrix.

YAML:
    accounts:              # the lab's other accounts; a registry policy per region
      "222222222222": {registry_policies: {us-west-2: {Version: ..., Statement: [...]}}}
    replication:           # PutReplicationConfiguration's replicationConfiguration
      rules: [{destinations: [{region: us-west-2, registryId: "222222222222"}]}]
    expected:
      instance1: {push: allowed, replicate:222222222222:us-west-2: allowed}

A `replicate:` cell is "allowed" when the image the principal pushed was copied there (its
status COMPLETE and the replica in the destination registry), "denied" when the destination
refused it; `decided_by` names the registry policy statements that decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.botocore_session import shared_client
from lab.errors import AwsError
from lab.policy.model import Decision
from lab.scenario.explain import decided_by
from lab.scenario.model import REPLICATE, Expectation, Scenario, policy_text
from lab.scenario.report import Check
from lab.server.app import Lab


def deploy_replication(lab: Lab, scenario: Scenario, arns: Mapping[str, str]) -> None:
    """Add the scenario's other accounts, put their registry policies and the scenario
    account's replication configuration, each through the lab's ECR API as that account."""
    for account, regions in scenario.accounts.items():
        lab.add_account(account)
        for region, policy in regions.items():
            ecr = shared_client("ecr", region, lab.endpoint_url, account, "test")
            ecr.put_registry_policy(policyText=policy_text(policy, arns))
    if scenario.replication is not None:
        config = lab.config
        ecr = shared_client(
            "ecr", config.region, lab.endpoint_url, config.admin_access_key, config.admin_secret_key
        )
        ecr.put_replication_configuration(replicationConfiguration=dict(scenario.replication))


def replication_check(lab: Lab, expectation: Expectation, tag: str) -> Check:
    """The cell: run the pending copies, then read the copy's status from the source."""
    found = REPLICATE.fullmatch(expectation.operation)
    assert found is not None
    account, region, name = found[1], found[2], expectation.repository
    lab.replication.run_pending()
    status = _status(lab, name, tag, account, region)
    decision = _deciding(lab, account, region, name)
    if status is None:
        actual, message = "denied", f"no image {name}:{tag} was pushed and replicated"
    elif status["status"] == "COMPLETE" and _replica(lab, account, region, name, tag):
        actual, message = "allowed", ""
    else:
        actual, message = "denied", status.get("failureCode", status["status"])
    return Check(
        expectation.principal,
        expectation.operation,
        name,
        expectation.expected,
        actual,  # type: ignore[arg-type]
        message=message,
        shown=message,
        decided_by=decided_by(decision),
    )


def _status(lab: Lab, name: str, tag: str, account: str, region: str) -> dict[str, Any] | None:
    params = {"repositoryName": name, "imageId": {"imageTag": tag}}
    config = lab.config
    try:
        answer = lab.ecr.handle(
            "DescribeImageReplicationStatus", params, account=config.account, region=config.region
        )
    except AwsError:  # no such image: nothing was pushed
        return None
    wanted = {"registryId": account, "region": region}
    return next((s for s in answer["replicationStatuses"] if wanted.items() <= s.items()), None)


def _replica(lab: Lab, account: str, region: str, name: str, tag: str) -> bool:
    params = {"repositoryName": name, "imageIds": [{"imageTag": tag}]}
    try:
        answer = lab.ecr.handle("BatchGetImage", params, account=account, region=region)
    except AwsError:
        return False
    return bool(answer["images"])


def _deciding(lab: Lab, account: str, region: str, name: str) -> Decision:
    """The decision that settles the copy: the first refusal, else ecr:ReplicateImage's."""
    source = lab.config.account
    exists = name in lab.ecr.repository_names(account, region)
    actions = ["ecr:ReplicateImage"] if exists else ["ecr:CreateRepository", "ecr:ReplicateImage"]
    decisions = [
        lab.replication_decision(source, account, region, name, action) for action in actions
    ]
    return next((d for d in decisions if not d.allowed), decisions[-1])
