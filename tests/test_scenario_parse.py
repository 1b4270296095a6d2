"""Scenario files: the tutorial's scenario loads, and every fault names its file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.scenario.locate import builtin_names, find, load
from lab.scenario.model import policy_text, references
from lab.scenario.parse import ScenarioError, parse
from lab.scenario.yamlfile import YamlError
from lab.scenario.yamlfile import load as load_yaml

ROOT = Path(__file__).resolve().parents[1]
TRUST = """
    trust_policy:
      Version: 2012-10-17
      Statement:
        - {Effect: Allow, Action: sts:AssumeRole, Principal: {Service: ec2.amazonaws.com}}
"""
BASE = (
    """schema: 1
region: us-east-1
roles:
  Builder:"""
    + TRUST
    + """instances:
  box: {instance_id: i-0123456789abcdef0, role: Builder}
repositories:
  app: {}
"""
)


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as excinfo:
        parse(text, "s.yaml")
    return str(excinfo.value)


def test_tutorial_scenario_as_the_tutorial_describes_it() -> None:
    scenario = load("fa-085")
    assert scenario.name == "fa-085" and scenario.region == "ap-northeast-1"
    assert {i.instance_id for i in scenario.instances.values()} == {
        "i-0bde1cc6fc498a208",
        "i-0296e9a1b5f70b522",
        "i-0d0cc36a5186db23b",
    }
    for role in scenario.roles.values():
        assert role.managed_policies == (
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
        )
        assert role.trust_policy["Statement"][0]["Principal"] == {"Service": ["ec2.amazonaws.com"]}
    expected = {(e.principal, e.operation): e.expected for e in scenario.expectations}
    assert expected == {
        ("instance1", "login"): "allowed",
        ("instance1", "push"): "allowed",
        ("instance1", "pull"): "denied",
        ("instance2", "login"): "allowed",
        ("instance2", "push"): "denied",
        ("instance2", "pull"): "allowed",
        ("instance3", "login"): "allowed",
        ("instance3", "push"): "denied",
        ("instance3", "pull"): "denied",
    }


def test_unquoted_version_stays_the_string_iam_expects() -> None:
    policy = load("fa-085").repositories["fa-085"].policy
    assert policy is not None and policy["Version"] == "2012-10-17"
    assert load_yaml("account: 000000000000")["account"] == "000000000000"


def test_role_references_filled_in_like_getatt() -> None:
    scenario = load("fa-085")
    policy = scenario.repositories["fa-085"].policy
    assert references(policy) == {"InstanceRole1", "InstanceRole2"}
    text = json.loads(policy_text(policy, scenario.role_arns("000000000000")))
    role1 = (
        "arn:aws:iam::000000000000:role/fa-085-EC2Stack-16BBODB5DWYO1-InstanceRole1-YILWRMUJ51EE"
    )
    assert text["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == role1
    assert text["Statement"][2]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"][0] == role1


def test_iam_policy_variables_are_left_alone() -> None:
    assert references({"Resource": "arn:aws:s3:::b/${aws:username}/*"}) == set()


def test_names_resolve_to_files_and_ship_with_the_package() -> None:
    assert "fa-085" in builtin_names()
    assert find("fa-085").read_text() == (ROOT / "scenarios" / "fa-085.yaml").read_text()
    with pytest.raises(ScenarioError, match=r"no scenario named 'nope'.*fa-085"):
        find("nope")


def test_minimal_scenario_defaults() -> None:
    scenario = parse(BASE, "s.yaml", default_name="s")
    assert scenario.name == "s" and scenario.account is None
    assert scenario.roles["Builder"].name == "Builder" and scenario.roles["Builder"].path == "/"
    assert scenario.repositories["app"].policy is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schema: 2\nregion: us-east-1\n", "s.yaml:1: unsupported schema '2'"),
        ("region: us-east-1\n", "s.yaml:1: missing `schema: 1`"),
        (BASE + "colour: blue\n", "s.yaml:13: unknown key 'colour' in a scenario"),
        (
            BASE.replace("i-0123456789abcdef0", "i-123"),
            "s.yaml:10: instance_id 'i-123' is not valid",
        ),
        (BASE.replace("role: Builder}", "role: Nobody}"), "s.yaml:10: instance box: unknown role"),
        (
            BASE + "  other:\n    policy: {Version: 2012-10-17, Statement: [{Effect: Deny, "
            "Principal: '*', Action: '*', Condition: {ArnEquals: {aws:PrincipalArn: "
            "'${Ghost.Arn}'}}}]}\n",
            "s.yaml:14: repository other policy refers to unknown role ${Ghost.Arn}",
        ),
        (
            BASE + "expected:\n  box: {push: allowed, fly: denied}\n",
            "s.yaml:14: unknown operation 'fly'",
        ),
        (BASE + "expected:\n  box: {push: maybe}\n", "s.yaml:14: box push: expected allowed"),
        (BASE + "expected:\n  ghost: {push: allowed}\n", "s.yaml:14: unknown instance 'ghost'"),
        ("schema: 1\nschema: 1\n", "s.yaml:2: duplicate key 'schema' (first on line 1)"),
        ("schema: [1\n", "s.yaml:2: not valid YAML"),
    ],
)
def test_faults_name_the_line(text: str, expected: str) -> None:
    assert error_of(text).startswith(expected)


def test_invalid_statement_named_by_its_own_line() -> None:
    text = BASE.replace(
        "  app: {}\n",
        "  app:\n    policy:\n      Version: 2012-10-17\n      Statement:\n"
        "        - {Effect: Deny, Principal: '*', Action: '*'}\n"
        "        - {Effect: Maybe, Principal: '*', Action: '*'}\n",
    )
    assert error_of(text).startswith("s.yaml:17: repository app policy: statement 2")


def test_expectation_must_name_repository_when_several() -> None:
    text = BASE + "  other: {}\nexpected:\n  box: {pull: denied}\n"
    assert "name the `repository`" in error_of(text)
    text = BASE + "  other: {}\nexpected:\n  box: {repository: other, ecr:ListImages: denied}\n"
    (found,) = parse(text).expectations
    assert (found.repository, found.operation) == ("other", "ecr:ListImages")


def test_yaml_errors_carry_the_line() -> None:
    with pytest.raises(YamlError, match=r"^f.yaml:3: "):
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")


def policy_naming(value: str) -> str:
    """BASE with a repository whose policy's condition holds `value`, on line 21."""
    return BASE + (
        "  other:\n"
        "    policy:\n"
        "      Version: 2012-10-17\n"
        "      Statement:\n"
        "        - Effect: Deny\n"
        "          Principal: '*'\n"
        "          Action: '*'\n"
        "          Condition:\n"
        f"            ArnNotEquals: {{aws:PrincipalArn: '{value}'}}\n"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("${Builder.arn}", "${Builder.Arn}"),  # the attribute's case
        ("${Builder}", "${Builder.Arn}"),  # no attribute
        ("${Builder.RoleId}", "${Builder.Arn}"),  # an attribute scenarios do not offer
        ("${Ghost.arn}", "${RoleKey.Arn}"),
    ],
)
def test_a_reference_that_is_not_key_dot_arn_is_refused_with_its_line(
    value: str, written: str
) -> None:
    assert error_of(policy_naming(value)) == (
        f"s.yaml:21: repository other policy: unknown reference {value} "
        f"(a role's ARN is written {written})"
    )


@pytest.mark.parametrize("value", ["${Builder.Arn}", "arn:aws:iam::*:role/${aws:username}", "${*}"])
def test_role_references_and_iam_variables_still_parse(value: str) -> None:
    assert "other" in parse(policy_naming(value), "s.yaml").repositories


@pytest.mark.slow
def test_the_demo_refuses_a_scenario_with_a_miscased_reference(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(policy_naming("${Builder.arn}"))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ecr-lab"), "demo", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"{scenario}:21: repository other policy: unknown reference ${{Builder.arn}}" in (
        done.stderr
    )
