"""`ecr-lab exercise list | start N | check`: the workshop's exercises."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

WORKDIR = Path("ecr-lab-exercise")
POLICY_FILE = "policy.json"
MARKER_FILE = ".exercise"  # which exercise the folder holds


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `exercise` subcommand and its own subcommands."""
    parser = subparsers.add_parser(
        "exercise",
        help="policy exercises: list them, start one, check your policy",
        description="Each exercise is a scenario with a goal matrix. `start N` writes the "
        f"starter policy and the goal to a working folder ({WORKDIR}/); edit {POLICY_FILE}, "
        "then `check` grades every cell with the policy engine and explains the wrong ones. "
        "Exit status of check: 0 when every cell is right, 1 otherwise.",
    )
    commands = parser.add_subparsers(dest="exercise_command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="the exercises").set_defaults(func=run_list)
    start = commands.add_parser("start", help="write exercise N's starter to the working folder")
    start.add_argument("number", type=int)
    start.add_argument("--dir", type=Path, default=WORKDIR)
    start.add_argument("--force", action="store_true", help="overwrite an edited policy")
    start.set_defaults(func=run_start)
    check = commands.add_parser("check", help="grade the policy in the working folder")
    check.add_argument("--dir", type=Path, default=WORKDIR)
    check.set_defaults(func=run_check)


def run_list(args: argparse.Namespace) -> int:
    from lab.workshop.load import all_exercises

    for exercise in all_exercises():
        print(f"{exercise.number:2d}  {exercise.title}  (edit {exercise.edits})")
    return 0


def run_start(args: argparse.Namespace) -> int:
    from lab.workshop.load import ExerciseError, find
    from lab.workshop.render import readme

    try:
        exercise = find(args.number)
    except ExerciseError as error:
        print(f"ecr-lab: {error}", file=sys.stderr)
        return 2
    folder: Path = args.dir
    policy = folder / POLICY_FILE
    if policy.exists() and not args.force:
        print(f"ecr-lab: {policy} exists; use --force to replace it", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    policy.write_text(exercise.starter, encoding="utf-8")
    (folder / "README.md").write_text(readme(exercise), encoding="utf-8")
    (folder / MARKER_FILE).write_text(f"{exercise.number}\n", encoding="utf-8")
    print(f"exercise {exercise.number}: {exercise.title}")
    print(f"edit {policy} ({exercise.edits}), then run: ecr-lab exercise check --dir {folder}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from lab.workshop.grade import grade
    from lab.workshop.load import ExerciseError, find
    from lab.workshop.render import report

    folder: Path = args.dir
    try:
        number = int((folder / MARKER_FILE).read_text(encoding="utf-8"))
        text = (folder / POLICY_FILE).read_text(encoding="utf-8")
        exercise = find(number)
    except (OSError, ValueError, ExerciseError) as error:
        print(f"ecr-lab: no exercise in {folder} ({error}); run `ecr-lab exercise start N`")
        return 2
    result = grade(exercise, text)
    sys.stdout.write(report(exercise, result))
    return 0 if result.solved else 1
