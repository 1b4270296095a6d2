"""Scenario files' organization and VPC endpoint keys: what they accept and what they refuse,
each refusal naming the file and line."""

from __future__ import annotations

import pytest

from lab.scenario.locate import find
from lab.scenario.parse import ScenarioError, parse

TEXT = find("fa-085-guardrails").read_text()


def refused(old: str, new: str) -> str:
    assert old in TEXT, old
    with pytest.raises(ScenarioError) as error:
        parse(TEXT.replace(old, new), "guardrails.yaml")
    return str(error.value)


def test_the_built_in_scenario_reads_as_written() -> None:
    scenario = parse(TEXT, "guardrails.yaml")
    assert scenario.organization is not None
    assert scenario.organization.management_account == "999988887777"
    workloads = scenario.organization.ous["Workloads"]
    assert workloads.accounts == ("123456789012",)
    assert workloads.attached.scps is not None and workloads.attached.scps[0] == "FullAWSAccess"
    assert scenario.instances["instance2"].vpc_endpoint is None
    assert scenario.instances["instance1"].vpc_endpoint == "ecr"
    assert scenario.vpc_endpoints["ecr"].endpoint_id == "vpce-0a1b2c3d4e5f60718"


def test_an_instance_names_a_known_endpoint() -> None:
    message = refused(
        "vpc_endpoint: ecr,\n              private_ip: 10.0.1.11",
        "vpc_endpoint: nat,\n              private_ip: 10.0.1.11",
    )
    assert message.startswith("guardrails.yaml:") and "unknown vpc_endpoint 'nat'" in message


def test_an_endpoint_id_has_ec2s_shape() -> None:
    assert "is not valid" in refused("id: vpce-0a1b2c3d4e5f60718", "id: endpoint-1")


def test_an_scp_is_a_policy_or_full_aws_access() -> None:
    assert "is not a policy (or FullAWSAccess)" in refused(
        "        - FullAWSAccess\n", "        - FullAccess\n"
    )


def test_an_rcp_that_allows_is_refused_as_organizations_refuses_it() -> None:
    rcp = (
        "      rcps:\n        - Version: 2012-10-17\n          Statement:\n"
        '            - {Effect: Allow, Principal: "*", Action: "ecr:*", Resource: "*"}\n'
    )
    message = refused(
        '      accounts: ["123456789012"]\n', '      accounts: ["123456789012"]\n' + rcp
    )
    assert "an RCP only denies" in message


def test_an_account_sits_in_one_ou() -> None:
    message = refused(
        "    Workloads:\n",
        '    Sandbox: {accounts: ["123456789012"]}\n    Workloads:\n',
    )
    assert "account 123456789012 is in two OUs" in message


def test_the_clock_is_an_iso_instant() -> None:
    assert "clock" in refused("clock: 2026-12-01T10:30:00Z", "clock: tomorrow")
