"""`ecr-lab lifecycle run`: evaluate lifecycle policies now, in a running lab or on its state."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lab.server.config import endpoint_from_env


def register(subparsers: argparse._SubParsersAction) -> None:
    lifecycle = subparsers.add_parser(
        "lifecycle",
        help="evaluate repositories' lifecycle policies now",
        description="Lifecycle policies: the lab evaluates them on a timer (serve "
        "--lifecycle-interval); `run` evaluates them now.",
    )
    commands = lifecycle.add_subparsers(dest="lifecycle_command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="expire and archive what every lifecycle policy selects, now",
        description="Ask the running lab (as the account root) to evaluate its lifecycle "
        "policies now, or evaluate them on a stopped lab's --state-dir.",
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint",
        help="the running lab's URL (default $ECR_LAB_ENDPOINT or http://127.0.0.1:4577)",
    )
    where.add_argument(
        "--state-dir", type=Path, help="a stopped lab's state directory, evaluated in place"
    )
    run.set_defaults(func=run_lifecycle)


def run_lifecycle(args: argparse.Namespace) -> int:
    """Print one line per image expired or archived; status 2 when the lab cannot be reached."""
    try:
        report = _on_state_dir(args.state_dir) if args.state_dir else _on_lab(args.endpoint)
    except (OSError, RuntimeError) as error:
        print(f"ecr-lab: {error}", file=sys.stderr)
        return 2
    lines = [
        f"{verb} {entry['repositoryName']}@{digest}"
        for entry in report["repositories"]
        for verb, key in (("expired", "expired"), ("archived", "archived"))
        for digest in entry[key]
    ]
    evaluated = len(report["repositories"])
    print("\n".join([*lines, f"{evaluated} lifecycle policies evaluated"]))
    return 0


def _on_lab(endpoint: str | None) -> dict[str, Any]:
    from lab.server.client import admin_post, health

    url = endpoint or endpoint_from_env()
    try:
        region = health(url)["region"]
    except OSError as error:
        raise RuntimeError(f"no lab answers at {url}: {error}") from None
    return admin_post(url, "/_lab/lifecycle", {}, region)


def _on_state_dir(state_dir: Path) -> dict[str, Any]:
    from lab.ecr.service import Ecr
    from lab.jobs.lifecycle import LifecycleJob
    from lab.server.state import validate_repository_policy
    from lab.server.state_lock import StateDirectoryInUse, StateLock

    if not (state_dir / "ecr").is_dir():
        raise RuntimeError(f"{state_dir} holds no lab state")
    try:
        lock = StateLock(state_dir)  # a running lab holds it: ask that lab instead
    except StateDirectoryInUse as error:
        raise RuntimeError(f"{error}, or use --endpoint to ask it") from None
    try:
        ecr = Ecr(state_dir / "ecr", "127.0.0.1", validate_repository_policy)
        return LifecycleJob(ecr, state_dir / "jobs" / "lifecycle.json").run()
    finally:
        lock.release()
