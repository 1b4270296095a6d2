"""`ecr-lab lint`: one test per finding, against the checks in the manner of IAM Access
Analyzer's policy validation ("Access Analyzer policy check reference")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.cli import main
from lab.lint.checks import has_errors, lint
from lab.lint.findings import Finding
from lab.lint.positions import Position
from tests.server_support import ROOT
from tests.tutorial import PULL_ACTIONS, repository_policy

ROLE1 = "arn:aws:iam::123456789012:role/fa-085-InstanceRole1"
ROLE2 = "arn:aws:iam::123456789012:role/fa-085-InstanceRole2"
# The tutorial's repository policy (FACTS: three Deny statements, all Principal "*").
TUTORIAL = json.loads(repository_policy(ROLE1, ROLE2))
PULL_FOR_ROLE = {
    "Effect": "Allow",
    "Principal": {"AWS": ROLE2},
    "Action": PULL_ACTIONS,
}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def codes(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.finding_type, f.issue_code, f.location.split(" (")[0]) for f in findings]


def test_a_plain_pull_grant_has_no_findings() -> None:
    assert lint(policy(PULL_FOR_ROLE)) == []


def test_the_tutorial_policy_warns_of_lockout_and_explains_who_is_shut_out() -> None:
    findings = lint(json.dumps(TUTORIAL, indent=2))
    assert codes(findings) == [("WARNING", "LOCKOUT_RISK", "Statement[2]")]
    details = findings[0].details
    assert "ecr:SetRepositoryPolicy" in details and "ecr:DeleteRepository" in details
    assert ROLE1 in details and ROLE2 in details
    assert "administrators" in details and "CloudFormation" in details
    assert not has_errors(findings)


def test_a_deny_for_one_named_role_is_no_lockout() -> None:
    assert lint(policy(TUTORIAL["Statement"][0])) == []


def test_an_unconditional_deny_of_everything_locks_out_everyone() -> None:
    findings = lint(policy({"Effect": "Deny", "Principal": "*", "Action": "ecr:*"}))
    assert codes(findings) == [("WARNING", "LOCKOUT_RISK", "Statement[0]")]
    assert "every principal." in findings[0].details


def test_a_deny_of_image_actions_only_is_no_lockout() -> None:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": PULL_ACTIONS,
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0abc"}},
    }
    assert lint(policy(statement)) == []


def test_unknown_ecr_action_is_invalid_action_with_its_position() -> None:
    text = policy({**PULL_FOR_ROLE, "Action": ["ecr:BatchGetImage", "ecr:PullImage"]})
    findings = lint(text)
    assert codes(findings) == [("ERROR", "INVALID_ACTION", "Statement[0].Action[1]")]
    position = findings[0].position
    assert position is not None
    assert text.splitlines()[position.line - 1][position.column - 1 :].startswith('"ecr:Pull')


def test_a_wildcard_matching_no_ecr_action_is_invalid_action() -> None:
    findings = lint(policy({**PULL_FOR_ROLE, "Action": "ecr:Pull*"}))
    assert codes(findings) == [("ERROR", "INVALID_ACTION", "Statement[0].Action")]
    assert "matches no action" in findings[0].details


def test_permission_only_actions_are_known() -> None:
    # Service Authorization Reference: [permission only] actions that no API carries.
    actions = ["ecr:BatchImportUpstreamImage", "ecr:ReplicateImage"]
    assert lint(policy({**PULL_FOR_ROLE, "Action": actions})) == []


def test_another_services_action_in_a_repository_policy_never_matches() -> None:
    findings = lint(policy({**PULL_FOR_ROLE, "Action": ["ecr:BatchGetImage", "s3:GetObject"]}))
    assert codes(findings) == [("ERROR", "UNSUPPORTED_ACTION_IN_POLICY", "Statement[0].Action[1]")]


def test_a_listed_action_under_a_wildcard_is_redundant() -> None:
    findings = lint(policy({**PULL_FOR_ROLE, "Action": ["ecr:Batch*", "ecr:BatchGetImage"]}))
    assert codes(findings) == [("SUGGESTION", "REDUNDANT_ACTION", "Statement[0].Action[1]")]


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("aws:SourceVpcEndpoint", "INVALID_GLOBAL_CONDITION_KEY"),
        ("ecr:RepositoryName", "INVALID_SERVICE_CONDITION_KEY"),
        ("s3:prefix", "INVALID_SERVICE_CONDITION_KEY"),
    ],
)
def test_condition_keys_ecr_requests_never_carry(key: str, code: str) -> None:
    statement = {**PULL_FOR_ROLE, "Condition": {"StringEquals": {key: "x"}}}
    findings = lint(policy(statement))
    assert codes(findings) == [("ERROR", code, f"Statement[0].Condition.StringEquals.{key}")]


@pytest.mark.parametrize(
    "key",
    ["aws:SourceVpce", "aws:PrincipalTag/team", "aws:ResourceTag/team", "ecr:ResourceTag/team"],
)
def test_supported_condition_keys_pass(key: str) -> None:
    assert lint(policy({**PULL_FOR_ROLE, "Condition": {"StringEquals": {key: "x"}}})) == []


def test_a_resource_element_in_a_repository_policy_is_refused_as_ecr_does() -> None:
    findings = lint(policy({**PULL_FOR_ROLE, "Resource": "*"}))
    assert codes(findings) == [
        ("ERROR", "UNSUPPORTED_RESOURCE_ARN_IN_POLICY", "Statement[0].Resource")
    ]
    assert "Invalid repository policy provided" in findings[0].details


def test_a_repository_statement_without_principal_is_missing_principal() -> None:
    statement = {k: v for k, v in PULL_FOR_ROLE.items() if k != "Principal"}
    assert ("ERROR", "MISSING_PRINCIPAL", "Statement[0].Principal") in codes(
        lint(policy(statement))
    )


def test_public_allow_without_a_limiting_condition() -> None:
    statement = {**PULL_FOR_ROLE, "Principal": "*"}
    assert codes(lint(policy(statement))) == [
        ("SECURITY_WARNING", "PUBLIC_ACCESS", "Statement[0].Principal")
    ]


def test_public_allow_limited_to_an_organization_is_not_public() -> None:
    statement = {
        **PULL_FOR_ROLE,
        "Principal": {"AWS": "*"},
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
    }
    assert lint(policy(statement)) == []


def test_allow_with_not_action() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": ROLE1}, "NotAction": "ecr:Delete*"}
    assert codes(lint(policy(statement))) == [
        ("SECURITY_WARNING", "ALLOW_WITH_NOT_ACTION", "Statement[0].NotAction")
    ]


def test_allow_with_not_principal() -> None:
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": ROLE1}, "Action": PULL_ACTIONS}
    assert codes(lint(policy(statement))) == [
        ("SECURITY_WARNING", "ALLOW_WITH_NOT_PRINCIPAL", "Statement[0].NotPrincipal")
    ]


def test_action_with_not_action_is_an_unsupported_combination() -> None:
    statement = {**PULL_FOR_ROLE, "NotAction": "ecr:PutImage"}
    assert ("ERROR", "UNSUPPORTED_ELEMENT_COMBINATION", "Statement[0].Action") in codes(
        lint(policy(statement))
    )


def test_missing_version_in_a_repository_policy() -> None:
    findings = lint(json.dumps({"Statement": [PULL_FOR_ROLE]}))
    assert codes(findings) == [("ERROR", "MISSING_VERSION", "Version")]


def test_invalid_json_reports_line_and_column() -> None:
    findings = lint('{"Version": "2012-10-17",\n "Statement": [}')
    assert codes(findings) == [("ERROR", "JSON_SYNTAX_ERROR", "(policy)")]
    assert findings[0].position is not None
    assert (findings[0].position.line, findings[0].position.column) == (2, 16)


def test_identity_policy_with_a_principal_is_unsupported() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": PULL_ACTIONS, "Resource": "*"}
    assert ("ERROR", "UNSUPPORTED_PRINCIPAL", "Statement[0].Principal") in codes(
        lint(policy(statement), "identity")
    )


def test_identity_policy_allows_other_services_and_resources() -> None:
    statement = {"Effect": "Allow", "Action": ["ecr:*", "s3:GetObject"], "Resource": "*"}
    assert lint(policy(statement), "identity") == []


def test_cli_exit_status_and_json_shape(tmp_path: Any, capsys: pytest.CaptureFixture) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(TUTORIAL))
    bad.write_text(policy({**PULL_FOR_ROLE, "Resource": "*"}))
    assert main(["lint", str(good)]) == 0
    assert "LOCKOUT_RISK" in capsys.readouterr().out
    assert main(["lint", str(bad), "--format", "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    finding = body["findings"][0]
    assert finding["findingType"] == "ERROR"
    assert finding["issueCode"] == "UNSUPPORTED_RESOURCE_ARN_IN_POLICY"
    assert finding["locations"][0]["path"] == [
        {"key": "Statement"},
        {"index": 0},
        {"key": "Resource"},
    ]
    assert finding["locations"][0]["span"]["start"]["line"] == 13
    assert main(["lint", str(tmp_path / "missing.json")]) == 2


def test_a_lockout_exempting_an_endpoint_names_the_key_not_a_principal() -> None:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:*",
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"}},
    }
    details = lint(policy(statement))[0].details
    assert (
        "to every request except those where aws:SourceVpce is vpce-0a1b2c3d4e5f60718." in details
    )
    assert "principal except" not in details and "exempted principals" not in details


ECR_LAB = str(Path(sys.executable).parent / "ecr-lab")


def lint_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ECR_LAB, "lint", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_a_near_miss_action_gets_a_did_you_mean() -> None:
    findings = lint(policy({**PULL_FOR_ROLE, "Action": ["ecr:BatchGetImages", "ecr:MakeCoffee"]}))
    details = {f.path[-1]: f.details for f in findings if f.issue_code == "INVALID_ACTION"}
    assert details[0] == (
        "The action ecr:BatchGetImages does not exist in the service ecr. "
        "Did you mean ecr:BatchGetImage?"
    )
    assert details[1] == "The action ecr:MakeCoffee does not exist in the service ecr."
    lower = lint(policy({**PULL_FOR_ROLE, "Action": "ecr:getauthorisationtoken"}))[0].details
    assert lower.endswith("Did you mean ecr:GetAuthorizationToken?")


@pytest.mark.slow
def test_cli_summary_counts_in_words_and_documents_the_default_kind(tmp_path: Path) -> None:
    one, four = tmp_path / "one.json", tmp_path / "four.json"
    one.write_text(policy({**PULL_FOR_ROLE, "Action": "ecr:BatchGetImages"}))
    wrong = ["ecr:BatchGetImages", "ecr:PutImages", "ecr:ListImage", "ecr:TagResources"]
    four.write_text(policy({**PULL_FOR_ROLE, "Action": wrong}))
    done = lint_cli(str(one))
    assert done.returncode == 1
    assert "Did you mean ecr:BatchGetImage?" in done.stdout
    assert done.stdout.endswith(f"{one}: 1 error\n")
    assert lint_cli(str(four)).stdout.endswith(f"{four}: 4 errors\n")
    warned = tmp_path / "tutorial.json"
    warned.write_text(json.dumps(TUTORIAL))
    assert lint_cli(str(warned)).stdout.endswith(": 1 warning\n")
    usage = " ".join(lint_cli("--help").stdout.split())
    assert "(default: repository)" in usage


YAML_POLICY = """\
# the pull grant, in YAML as a template would embed it
Version: 2012-10-17
Statement:
  - Effect: Allow
    Principal: {AWS: arn:aws:iam::123456789012:role/fa-085-InstanceRole2}
    Action:
      - ecr:BatchGetImage
      - ecr:GetDownloadUrlForLayers
"""


@pytest.mark.slow
def test_cli_reads_a_yaml_policy_with_its_lines_and_columns(tmp_path: Path) -> None:
    source = tmp_path / "policy.yaml"
    source.write_text(YAML_POLICY)
    done = lint_cli(str(source))
    assert done.returncode == 1
    assert done.stdout.startswith(
        f"{source}:8:9: ERROR INVALID_ACTION Statement[0].Action[1]: The action "
        "ecr:GetDownloadUrlForLayers does not exist in the service ecr. "
        "Did you mean ecr:GetDownloadUrlForLayer?"
    )  # line 8, column 9: where `ecr:GetDownloadUrlForLayers` starts
    assert "INVALID_VERSION" not in done.stdout  # an unquoted 2012-10-17 stays text
    (tmp_path / "bad.yaml").write_text("Version: '2012-10-17'\nStatement: [\n")
    broken = lint_cli(str(tmp_path / "bad.yaml"))
    assert broken.returncode == 1 and "ERROR YAML_SYNTAX_ERROR" in broken.stdout


@pytest.mark.slow
def test_cli_lints_the_repository_policy_inside_a_cloudformation_template() -> None:
    template = "lab/cfn/builtin/fa-085-ecr.yaml"
    done = lint_cli(template)
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].startswith(
        f"{template}:28:13: WARNING LOCKOUT_RISK "
        "Resources.Repository.Properties.RepositoryPolicyText.Statement[2]: "
    )  # the third statement's first key, in the template
    assert "aws:PrincipalArn is !Ref InstanceRoleArn1 or !Ref InstanceRoleArn2" in done.stdout


def test_yaml_positions_match_the_text() -> None:
    findings = lint(YAML_POLICY, syntax="yaml")
    assert [(f.issue_code, f.position) for f in findings] == [
        ("INVALID_ACTION", Position(8, 9, 224))
    ]
    assert YAML_POLICY[224:].startswith("ecr:GetDownloadUrlForLayers")


def test_a_yaml_alias_bomb_is_refused_not_expanded() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    findings = lint("\n".join([*lines, "Statement: *a8"]), syntax="yaml")  # 10**9 values
    assert [(f.issue_code, f.details) for f in findings] == [
        (
            "YAML_SYNTAX_ERROR",
            "Fix the YAML syntax error: more than 100000 values (aliases repeat too much)",
        )
    ]
