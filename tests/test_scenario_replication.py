"""The built-in `replication` scenario: its keys, and its matrix run as the demo runs it.

AWS: ECR User Guide, "Granting registry permissions for cross account replication"
(registry-permissions-create-replication.html): the destination's registry policy decides.
"""

from __future__ import annotations

import pytest

from lab.scenario.demo import run_demo
from lab.scenario.locate import find, load
from lab.scenario.parse import ScenarioError, parse

BASE = """
schema: 1
region: us-east-1
account: "111111111111"
roles:
  R:
    name: r
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: sts:AssumeRole, Principal: {Service: ec2.amazonaws.com}}
instances:
  i: {instance_id: i-0a1b2c3d4e5f60718, role: R}
repositories:
  app: {}
"""


def test_the_built_in_scenario_reads_as_written() -> None:
    scenario = load("replication")
    assert find("replication").read_text() == (
        find("lab/scenario/builtin/replication.yaml").read_text()
    )
    assert set(scenario.accounts) == {"222222222222", "333333333333"}
    assert scenario.replication is not None
    assert len(scenario.replication["rules"][0]["destinations"]) == 3
    cells = {e.operation: e.expected for e in scenario.expectations}
    assert cells["replicate:333333333333:us-west-2"] == "denied"


def test_a_replicate_cell_names_a_region_ecr_has() -> None:
    with pytest.raises(ScenarioError, match="unknown operation 'replicate:222222222222:mars-1'"):
        parse(BASE + "expected:\n  i: {replicate:222222222222:mars-1: allowed}\n")


def test_a_registry_policy_is_checked_as_ecr_checks_it() -> None:
    bad = BASE + (
        'accounts:\n  "222222222222":\n    registry_policies:\n'
        "      us-west-2: {Version: '2012-10-17', Statement: [{Effect: Maybe}]}\n"
    )
    with pytest.raises(ScenarioError, match="registry policy in us-west-2"):
        parse(bad)


@pytest.mark.slow
def test_the_demo_matrix_holds_and_names_the_registry_policy() -> None:
    report = run_demo(load("replication"), client="protocol")
    by_cell = {c.operation: c for c in report.checks}
    assert all(c.ok for c in report.checks), [c.to_json() for c in report.checks]
    assert by_cell["replicate:222222222222:us-west-2"].decided_by == (
        "registry policy statement 1 (Sid ReplicationFromBuild)"
    )
    refused = by_cell["replicate:333333333333:us-west-2"]
    assert refused.decided_by == "registry policy statement 2 (Sid NoProductionReplicas)"
    assert refused.message.endswith("with an explicit deny in a resource-based policy")
