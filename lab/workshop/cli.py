"""`ecr-lab exercise list | start N | check | hint [N]`: the workshop's exercises.

Each exercise has its own folder under the workshop folder (ecr-lab-exercise/01-tutorial/, ...),
so starting another keeps the work on the others; `.current` names the one check and hint use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.workshop.model import Exercise

WORKDIR = Path("ecr-lab-exercise")
POLICY_FILE = "policy.json"
MARKER_FILE = ".exercise"  # which exercise the folder holds
CURRENT_FILE = ".current"  # in the workshop folder: the exercise folder check and hint use
HINTS_FILE = ".hints"  # in an exercise folder: how many hints `hint` has shown


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `exercise` subcommand and its own subcommands."""
    parser = subparsers.add_parser(
        "exercise",
        help="policy exercises: list them, start one, check your policy, get a hint",
        description="Each exercise is a scenario with a goal matrix. `start N` writes the "
        f"starter policy and the goal to the exercise's own folder ({WORKDIR}/NN-name/) and "
        f"makes it the current one; edit {POLICY_FILE} there, then `check` grades every cell "
        "with the policy engine and explains the wrong ones, and `hint` shows the next hint. "
        "Exit status of check: 0 when every cell is right, 1 otherwise.",
    )
    commands = parser.add_subparsers(dest="exercise_command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="the exercises").set_defaults(func=run_list)
    workshop = argparse.ArgumentParser(add_help=False)
    workshop.add_argument(
        "--dir",
        type=Path,
        default=WORKDIR,
        help=f"the workshop folder, or one exercise's folder (default: {WORKDIR})",
    )
    start = commands.add_parser(
        "start",
        parents=[workshop],
        help="write exercise N's starter to its folder and make it current (an edited policy "
        "is kept: the exercise resumes)",
    )
    start.add_argument("number", type=int)
    start.add_argument("--force", action="store_true", help="start over: replace the policy")
    start.set_defaults(func=run_start)
    check = commands.add_parser("check", parents=[workshop], help="grade the current policy")
    check.set_defaults(func=run_check)
    hint = commands.add_parser(
        "hint", parents=[workshop], help="the current exercise's next hint (or hint N)"
    )
    hint.add_argument("number", type=int, nargs="?", help="which hint (default: the next)")
    hint.set_defaults(func=run_hint)


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
    root: Path = args.dir
    folder = root / f"{exercise.number:02d}-{exercise.slug}"
    policy = folder / POLICY_FILE
    resumed = policy.exists() and not args.force
    folder.mkdir(parents=True, exist_ok=True)
    if not resumed:
        policy.write_text(exercise.starter, encoding="utf-8")
        (folder / HINTS_FILE).unlink(missing_ok=True)
    (folder / "README.md").write_text(readme(exercise), encoding="utf-8")
    (folder / MARKER_FILE).write_text(f"{exercise.number}\n", encoding="utf-8")
    (root / CURRENT_FILE).write_text(f"{folder.name}\n", encoding="utf-8")
    print(f"exercise {exercise.number}: {exercise.title}")
    if resumed:
        print(f"resumed: your {policy} is kept (--force starts over from the starter)")
    print(f"edit {policy} ({exercise.edits}), then run: ecr-lab exercise check")
    return 0


def _current(root: Path) -> tuple[Path, Exercise]:
    """The current exercise's folder and exercise (OSError, ValueError or ExerciseError)."""
    from lab.workshop.load import find

    folder = root
    if not (root / MARKER_FILE).exists():  # the workshop folder, not an exercise's own
        name = (root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        if not name or Path(name).name != name:
            raise ValueError(f"{root / CURRENT_FILE} names no exercise folder")
        folder = root / name
    number = int((folder / MARKER_FILE).read_text(encoding="utf-8"))
    return folder, find(number)


def _no_exercise(root: Path, error: Exception) -> int:
    print(f"ecr-lab: no exercise in {root} ({error}); run `ecr-lab exercise start N`")
    return 2


def run_check(args: argparse.Namespace) -> int:
    from lab.workshop.grade import grade
    from lab.workshop.load import ExerciseError
    from lab.workshop.render import report

    try:
        folder, exercise = _current(args.dir)
        text = (folder / POLICY_FILE).read_text(encoding="utf-8")
    except (OSError, ValueError, ExerciseError) as error:
        return _no_exercise(args.dir, error)
    result = grade(exercise, text)
    sys.stdout.write(report(exercise, result, text))
    return 0 if result.solved else 1


def run_hint(args: argparse.Namespace) -> int:
    from lab.workshop.load import ExerciseError

    try:
        folder, exercise = _current(args.dir)
    except (OSError, ValueError, ExerciseError) as error:
        return _no_exercise(args.dir, error)
    count = len(exercise.hints)
    seen_file = folder / HINTS_FILE
    try:
        seen = int(seen_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seen = 0  # none shown yet (or a file we did not write)
    number = seen + 1 if args.number is None else args.number
    if not 1 <= number <= count:
        more = "no more hints" if args.number is None else f"no hint {number}"
        print(f"ecr-lab: {more}: exercise {exercise.number} has {count} (README.md lists them)")
        return 2
    print(f"hint {number} of {count}: {exercise.hints[number - 1].text}")
    seen_file.write_text(f"{max(seen, number)}\n", encoding="utf-8")
    return 0
