"""Exercises: every one unsolved by its starter (with the wrong cells explained) and solved
by its solution; the CLI's list, start and check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab.cli import main
from lab.workshop.grade import grade
from lab.workshop.load import EXERCISES as EXERCISE_ROOT
from lab.workshop.load import ExerciseError, all_exercises, find, load
from lab.workshop.model import Exercise
from lab.workshop.render import hint_for

EXERCISES = all_exercises()
# The starter's wrong cells: the lesson each exercise teaches.
STARTER_WRONG = {
    1: {"Instance1 pull fa-085", "Instance2 push fa-085"},
    2: {
        "CiRole push app",
        "CiRole ecr:BatchDeleteImage app",
        "CiRole ecr:SetRepositoryPolicy app",
        "CiRole pull other",
    },
    3: {"Builder pull shared", "Builder push shared"},
    4: {"RedDev pull blue-app", "RedDev push blue-app", "BlueDev pull red-app"},
    5: {
        "App pull private-app [aws:SourceVpce=vpce-0a1b2c3d4e5f60718]",
        "App push private-app [aws:SourceVpce=vpce-0a1b2c3d4e5f60718]",
        "App pull private-app",
        "App push private-app",
        "App pull private-app [aws:SourceVpce=vpce-0ffffffffffffffff]",
    },
    6: {
        "Admin ecr:SetRepositoryPolicy fa-085",
        "Admin ecr:DeleteRepositoryPolicy fa-085",
        "Admin ecr:DeleteRepository fa-085",
    },
    7: {"Deployer pull secrets"},
    8: {
        "App login images [aws:SourceVpce=vpce-0a1b2c3d4e5f60718]",
        "Partner pull images",
        "Outsider pull elsewhere [aws:SourceVpce=vpce-0a1b2c3d4e5f60718]",
    },
}


def ids(exercise: Exercise) -> str:
    return f"{exercise.number}-{exercise.slug}"


def test_there_are_at_least_six_exercises() -> None:
    assert [e.number for e in EXERCISES] == sorted(STARTER_WRONG)


@pytest.mark.parametrize("exercise", EXERCISES, ids=ids)
def test_solution_solves_every_cell(exercise: Exercise) -> None:
    result = grade(exercise, exercise.solution)
    assert result.refusal == ""
    assert [c.cell.label for c in result.cells if not c.correct] == []
    assert result.solved


@pytest.mark.parametrize("exercise", EXERCISES, ids=ids)
def test_starter_is_wrong_where_the_lesson_is_and_explains_why(exercise: Exercise) -> None:
    result = grade(exercise, exercise.starter)
    wrong = [c for c in result.cells if not c.correct]
    assert {c.cell.label for c in wrong} == STARTER_WRONG[exercise.number]
    assert not result.solved
    for cell in wrong:
        assert f"decision:  {'ALLOWED' if cell.actual == 'allowed' else 'DENIED'}" in (
            cell.explanation
        )
        if cell.actual == "denied":
            assert "is not authorized to perform" in cell.message


def test_cross_account_denial_names_the_missing_resource_policy() -> None:
    exercise = find(3)
    policy = json.loads(exercise.solution)
    policy["Statement"][0]["Principal"]["AWS"] = "arn:aws:iam::222222222222:role/builder"
    result = grade(exercise, json.dumps(policy))
    deployer_pull = next(c for c in result.cells if c.cell.label == "Deployer pull shared")
    assert deployer_pull.actual == "denied"
    assert deployer_pull.message.endswith(
        "because no resource-based policy allows the ecr:BatchGetImage action"
    )


def test_lockout_is_detected_by_lint_and_explained_by_the_engine() -> None:
    result = grade(find(6), find(6).starter)
    assert [f.issue_code for f in result.findings] == ["LOCKOUT_RISK"]
    admin = next(c for c in result.cells if c.cell.principal == "Admin")
    assert "with an explicit deny in a resource-based policy" in admin.message
    assert "=> resource-based policy, statement 3 Sid 'OnlyTheTwoRoles': Deny, applies" in (
        admin.explanation
    )


def test_an_invalid_policy_is_refused_as_ecr_refuses_it() -> None:
    exercise = find(1)
    policy = json.loads(exercise.solution)
    policy["Statement"][0]["Resource"] = "*"
    result = grade(exercise, json.dumps(policy))
    assert result.refusal.startswith("InvalidParameterException: Invalid parameter at 'PolicyText'")
    assert result.cells == () and not result.solved


def test_cli_start_edit_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    workshop = tmp_path / "work"
    folder = workshop / "02-ci-pull-only"
    assert main(["exercise", "list"]) == 0
    assert "Cross-account pull" in capsys.readouterr().out
    assert main(["exercise", "start", "2", "--dir", str(workshop)]) == 0
    assert (folder / "policy.json").read_text() == find(2).starter
    assert "## Goal matrix" in (folder / "README.md").read_text()
    (folder / "policy.json").write_text("{}")
    assert main(["exercise", "start", "2", "--dir", str(workshop)]) == 0  # resumes
    assert (folder / "policy.json").read_text() == "{}"  # keeps the edits
    assert main(["exercise", "start", "2", "--dir", str(workshop), "--force"]) == 0
    capsys.readouterr()
    assert main(["exercise", "check", "--dir", str(workshop)]) == 1
    out = capsys.readouterr().out
    assert "WRONG CiRole push app: expected denied, got allowed" in out
    assert "--- why CiRole push app is allowed:" in out
    assert f"hint 1: {find(2).hints[0].text}" in out
    (folder / "policy.json").write_text(find(2).solution)
    assert main(["exercise", "check", "--dir", str(folder)]) == 0  # an exercise's own folder
    assert "Solved." in capsys.readouterr().out
    assert main(["exercise", "check", "--dir", str(tmp_path / "none")]) == 2


def test_a_tag_condition_on_every_ecr_action_does_not_solve_the_abac_exercise() -> None:
    # GetAuthorizationToken acts on "*", which has no tags (Service Authorization Reference for
    # ECR): the front door asks without the repository's tags, and so must grading.
    tagged_everything = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
            }
        ],
    }
    result = grade(find(4), json.dumps(tagged_everything))
    assert not result.solved
    login = next(c for c in result.cells if c.cell.label == "RedDev login red-app")
    assert (login.actual, login.correct) == ("denied", False)
    assert "ecr:GetAuthorizationToken on resource: *" in login.message
    assert "aws:ResourceTag/team: policy ['${aws:PrincipalTag/team}'] vs request (absent)" in (
        login.explanation
    )


def test_registry_policy_scope_exercise_explains_both_scopes() -> None:
    """ECR User Guide, registry-permissions-create.html: under V2 the registry policy takes
    part in every request (it granted the pull of secrets); under V1 its ecr:* reaches only
    ecr:CreateRepository and the replication/import actions (no pull of legacy)."""
    exercise = find(7)
    result = grade(exercise, exercise.starter)
    secrets = next(c for c in result.cells if c.cell.label == "Deployer pull secrets")
    assert secrets.actual == "allowed"
    assert (
        "=> registry policy (resource-based), statement 1 Sid 'DeployerPullsEverything': "
        "Allow, applies"
    ) in secrets.explanation
    legacy = next(c for c in result.cells if c.cell.label == "Deployer pull legacy")
    assert legacy.message.endswith(
        "repository/legacy because no resource-based policy allows the ecr:BatchGetImage action"
    )
    assert "registry policy" not in legacy.explanation  # V1: not part of the pull's question
    deny_all = json.loads(exercise.solution)
    deny_all["Statement"][1]["Principal"] = "*"
    result = grade(exercise, json.dumps(deny_all))
    owner = next(c for c in result.cells if c.cell.label == "Owner pull secrets")
    assert owner.message.endswith("with an explicit deny in a resource-based policy")
    assert hint_for(exercise, json.dumps(deny_all))[0] == 2


def test_an_exercise_registry_policy_is_checked_as_put_registry_policy_checks_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "07-copy"
    shutil.copytree(EXERCISE_ROOT / "07-registry-policy-scope", folder)
    text = (folder / "exercise.yaml").read_text()
    (folder / "exercise.yaml").write_text(text.replace("scope: V2", "scope: V1"))
    with pytest.raises(ExerciseError, match="Invalid registry policy provided"):
        load(folder)


def test_the_data_perimeter_is_graded_by_the_guardrail_that_decides() -> None:
    # Organizations "Resource control policies": an RCP limits a resource whatever its
    # resource-based policy grants; the SCP limits our principals; the endpoint policy our path.
    exercise = find(8)
    cells = {c.cell.label: c for c in grade(exercise, exercise.solution).cells}
    assert cells["Outsider pull images"].explanation.count("=> resource control policy") >= 1
    starter = {c.cell.label: c for c in grade(exercise, exercise.starter).cells}
    assert starter["Partner pull images"].message.endswith(
        "with an explicit deny in a resource control policy"
    )
    assert starter["App login images [aws:SourceVpce=vpce-0a1b2c3d4e5f60718]"].message.endswith(
        "ecr:GetAuthorizationToken on resource: * with an explicit deny in a service control policy"
    )
    assert "guardrails (in AWS's order):" in cells["App push elsewhere"].explanation
    assert "=> service control policy" in cells["App push elsewhere"].explanation


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        json.dumps({"scp": {}, "rcp": {}}),
        json.dumps({"scp": {"Version": "2012-10-17"}, "rcp": {}, "endpoint_policy": {}}),
        "not json",
        # RCP syntax (Organizations User Guide): only RCPFullAWSAccess may Allow.
        json.dumps(
            {
                **json.loads(find(8).solution),
                "rcp": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*"}
                    ],
                },
            }
        ),
    ],
)
def test_a_malformed_trio_is_refused_as_organizations_refuses_it(text: str) -> None:
    result = grade(find(8), text)
    assert result.refusal.startswith(
        "MalformedPolicyDocumentException: The provided policy document does not meet the "
        "requirements of the specified policy type."
    )
    assert not result.solved and result.cells == ()
