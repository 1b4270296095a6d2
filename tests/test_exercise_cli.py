"""`ecr-lab exercise` as a workshop uses it: one folder per exercise, hints, and reports that
name what they compare."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.workshop.load import all_exercises, find

pytestmark = pytest.mark.slow  # CLI subprocesses

ECR_LAB = str(Path(sys.executable).parent / "ecr-lab")


def ecr_lab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ECR_LAB, "exercise", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_each_exercise_keeps_its_own_folder(tmp_path: Path) -> None:
    assert ecr_lab(tmp_path, "start", "1").returncode == 0
    first = tmp_path / "ecr-lab-exercise" / "01-tutorial" / "policy.json"
    first.write_text(find(1).solution)
    assert ecr_lab(tmp_path, "check").returncode == 0
    started = ecr_lab(tmp_path, "start", "2")  # no refusal, and exercise 1 untouched
    assert started.returncode == 0, started.stderr
    assert (tmp_path / "ecr-lab-exercise" / "02-ci-pull-only" / "policy.json").read_text() == (
        find(2).starter
    )
    checked = ecr_lab(tmp_path, "check")
    assert checked.returncode == 1 and "Exercise 2: A pull-only CI role" in checked.stdout
    assert ecr_lab(tmp_path, "start", "2", "--force").returncode == 0
    assert first.read_text() == find(1).solution  # --force starts over 2 only
    resumed = ecr_lab(tmp_path, "start", "1")
    assert resumed.returncode == 0 and "resumed: your" in resumed.stdout
    assert first.read_text() == find(1).solution
    checked = ecr_lab(tmp_path, "check")
    assert checked.returncode == 0 and "Solved." in checked.stdout


def test_hint_shows_the_next_hint_or_hint_n(tmp_path: Path) -> None:
    hints = [hint.text for hint in find(6).hints]
    assert ecr_lab(tmp_path, "hint").returncode == 2  # nothing started yet
    ecr_lab(tmp_path, "start", "6")
    shown = [ecr_lab(tmp_path, "hint").stdout for _ in hints]
    assert shown == [f"hint {n} of {len(hints)}: {text}\n" for n, text in enumerate(hints, 1)]
    assert shown[0] == (
        "hint 1 of 3: Run `ecr-lab lint policy.json`: the LOCKOUT_RISK finding names the "
        "statement.\n"
    )  # the hint's words, not a mapping YAML made of them
    done = ecr_lab(tmp_path, "hint")
    assert done.returncode == 2 and "no more hints" in done.stdout
    assert ecr_lab(tmp_path, "hint", "2").stdout == f"hint 2 of 3: {hints[1]}\n"
    assert ecr_lab(tmp_path, "hint", "9").returncode == 2
    assert ecr_lab(tmp_path, "hint", "0").returncode == 2  # not "the next one"
    (tmp_path / "ecr-lab-exercise" / ".current").write_text("../../etc\n")
    assert "names no exercise folder" in ecr_lab(tmp_path, "hint").stdout


def test_every_hint_is_text() -> None:
    for exercise in all_exercises():
        for hint in exercise.hints:
            assert isinstance(hint.text, str) and not hint.text.startswith("{"), hint


def test_the_solved_lockout_exercise_says_solved_without_a_lockout_warning(
    tmp_path: Path,
) -> None:
    ecr_lab(tmp_path, "start", "6")
    (tmp_path / "ecr-lab-exercise" / "06-lockout" / "policy.json").write_text(find(6).solution)
    checked = ecr_lab(tmp_path, "check")
    assert checked.returncode == 0 and checked.stdout.endswith("Solved.\n")
    assert "LOCKOUT_RISK" not in checked.stdout


def test_a_session_arn_in_principal_arn_gets_the_hint_about_it(tmp_path: Path) -> None:
    ecr_lab(tmp_path, "start", "1")
    policy = tmp_path / "ecr-lab-exercise" / "01-tutorial" / "policy.json"
    session = find(1).roles["Instance1"].session_arn
    policy.write_text(find(1).solution.replace(find(1).roles["Instance1"].arn, session))
    checked = ecr_lab(tmp_path, "check")
    assert checked.returncode == 1
    assert f"hint 3: {find(1).hints[2].text}" in checked.stdout


def test_the_cross_account_exercise_names_its_roles_and_a_wrong_arn_shows_both(
    tmp_path: Path,
) -> None:
    ecr_lab(tmp_path, "start", "3")
    folder = tmp_path / "ecr-lab-exercise" / "03-cross-account-pull"
    readme = (folder / "README.md").read_text()
    assert "arn:aws:iam::222222222222:role/deployer" in readme
    assert "arn:aws:iam::222222222222:role/builder" in readme
    policy = json.loads(find(3).solution)
    policy["Statement"][0]["Principal"]["AWS"] = "arn:aws:iam::222222222222:role/deploy"
    (folder / "policy.json").write_text(json.dumps(policy))
    checked = ecr_lab(tmp_path, "check").stdout
    assert "principal no" in checked
    assert (
        "Principal {'AWS': ['arn:aws:iam::222222222222:role/deploy']} vs request "
        "arn:aws:sts::222222222222:assumed-role/deployer/"
    ) in checked
    assert "(aws:PrincipalArn arn:aws:iam::222222222222:role/deployer)" in checked
