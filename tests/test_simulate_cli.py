"""`ecr-lab simulate` run as the real console script: the batch contract and the flag form."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.tutorial import repository_policy

pytestmark = pytest.mark.slow

ECR_LAB = str(Path(sys.executable).parent / "ecr-lab")
ACCT = "123456789012"
ROLE1 = f"arn:aws:iam::{ACCT}:role/fa-085-InstanceRole1"
ROLE2 = f"arn:aws:iam::{ACCT}:role/fa-085-InstanceRole2"
SESSION1 = f"arn:aws:sts::{ACCT}:assumed-role/fa-085-InstanceRole1/i-0bde1cc6fc498a208"
REPOSITORY = f"arn:aws:ecr:ap-northeast-1:{ACCT}:repository/fa-085"
FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["ecr:*"], "Resource": "*"}],
}
REPO_POLICY = repository_policy(ROLE1, ROLE2)


def case(action: str, resource: str = REPOSITORY, **extra: Any) -> dict[str, Any]:
    return {
        "principal": SESSION1,
        "action": action,
        "resource": resource,
        "identity_policies": [FULL_ACCESS],
        "resource_policy": REPO_POLICY,  # a JSON string of the document
        "context": {"aws:SourceIp": "10.0.2.38"},
        **extra,
    }


def simulate(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ECR_LAB, "simulate", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_batch_answers_every_line_in_order_and_goes_on_after_errors() -> None:
    lines = [
        json.dumps(case("ecr:PutImage")),
        "this is not json",
        json.dumps(case("ecr:BatchGetImage")),
        json.dumps(case("ecr:PutImage", resource_policy={"Statement": []})),
        json.dumps(case("ecr:GetAuthorizationToken", resource="*")),
    ]
    result = simulate("--batch", "-", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["decision"] for a in answers] == [
        "allowed",
        "error",
        "explicit_deny",
        "error",
        "allowed",
    ]
    assert answers[0]["matched"] == [
        {"policy": "identity", "index": 0, "statement": 0, "sid": None}
    ]
    assert answers[2] == {
        "decision": "explicit_deny",
        "message": f"User: {SESSION1} is not authorized to perform: ecr:BatchGetImage on resource: "
        f"{REPOSITORY} with an explicit deny in a resource-based policy",
        "matched": [{"policy": "resource", "index": 0, "statement": 0, "sid": None}],
    }
    assert set(answers[1]) == {"decision", "error"}


def test_batch_reads_a_file(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(case("ecr:UploadLayerPart")))  # no final newline
    result = simulate("--batch", str(cases))
    assert json.loads(result.stdout)["decision"] == "allowed"


def test_batch_answers_a_line_before_its_input_ends() -> None:
    """Streaming: a caller that writes one case and waits gets its answer."""
    with subprocess.Popen(
        [ECR_LAB, "simulate", "--batch", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin and process.stdout
        process.stdin.write(json.dumps(case("ecr:PutImage")) + "\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["decision"] == "allowed"
        process.stdin.close()
        assert process.wait(timeout=30) == 0


def flag_args(tmp_path: Path, action: str) -> list[str]:
    identity = tmp_path / "identity.json"
    identity.write_text(json.dumps(FULL_ACCESS))
    repo = tmp_path / "repo.json"
    repo.write_text(REPO_POLICY)
    return [
        "--principal", SESSION1,
        "--action", action,
        "--resource", REPOSITORY,
        "--identity-policy", str(identity),
        "--resource-policy", str(repo),
        "--context", "aws:SourceIp=10.0.2.38",
        "--context", "aws:CalledVia=a",
        "--context", "aws:CalledVia=b",
    ]  # fmt: skip


def test_flag_form_text_explains_and_exits_1_when_denied(tmp_path: Path) -> None:
    result = simulate(*flag_args(tmp_path, "ecr:BatchGetImage"))
    assert result.returncode == 1, result.stderr
    assert "DENIED (explicit deny)" in result.stdout
    assert "with an explicit deny in a resource-based policy" in result.stdout
    assert f"ArnEquals aws:PrincipalArn: policy ['{ROLE1}']" in result.stdout


def test_flag_form_json_carries_rule_and_trace_and_exits_0_when_allowed(tmp_path: Path) -> None:
    result = simulate(*flag_args(tmp_path, "ecr:PutImage"), "--format", "json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["decision"] == "allowed" and shown["rule"]
    assert len(shown["trace"]) == 4  # three repository statements, one identity statement
    principal_arns = [
        c["request_values"]
        for t in shown["trace"]
        for c in t["conditions"]
        if c["key"] == "aws:PrincipalArn"
    ]
    assert principal_arns and all(v == ROLE1 for v in principal_arns)


def test_errors_and_usage_exit_2(tmp_path: Path) -> None:
    assert simulate("--action", "ecr:PutImage").returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}')
    args = ["--principal", SESSION1, "--action", "ecr:PutImage", "--resource", REPOSITORY]
    result = simulate(*args, "--identity-policy", str(bad))
    assert result.returncode == 2
    assert "identity_policies[0]" in result.stderr
    assert simulate("--batch", str(tmp_path / "missing.jsonl")).returncode == 2
    assert simulate("--format", "yaml").returncode == 2


def test_help_documents_the_exit_statuses() -> None:
    result = simulate("--help")
    assert "0 allowed, 1 denied" in result.stdout


def test_registry_policy_flag_names_the_registry_policy(tmp_path: Path) -> None:
    """ECR User Guide, registry-permissions-create.html: the registry policy is a second
    resource-based policy; its Deny is AWS's "explicit deny in a resource-based policy"."""
    registry = tmp_path / "registry.json"
    registry.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "NoPulls",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "ecr:BatchGetImage",
                        "Resource": f"arn:aws:ecr:ap-northeast-1:{ACCT}:repository/*",
                    }
                ],
            }
        )
    )
    identity = tmp_path / "identity.json"
    identity.write_text(json.dumps(FULL_ACCESS))
    common = ["--principal", SESSION1, "--action", "ecr:BatchGetImage", "--resource", REPOSITORY]
    common += ["--identity-policy", str(identity), "--context", f"aws:PrincipalArn={ROLE1}"]
    text = simulate(*common, "--registry-policy", str(registry))
    assert text.returncode == 1
    assert "with an explicit deny in a resource-based policy" in text.stdout
    assert "=> registry policy (resource-based), statement 1 Sid 'NoPulls': Deny, applies" in (
        text.stdout
    )
    shown = json.loads(
        simulate(*common, "--registry-policy", str(registry), "--format", "json").stdout
    )
    assert shown["matched"] == [
        {"policy": "registry", "index": 0, "statement": 0, "sid": "NoPulls"}
    ]
    assert simulate(*common).returncode == 0  # without it: the identity policy allows
