"""`ecr-lab demo`, `ecr-lab explain` and `ecr-lab shell`."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from lab.server.config import endpoint_from_env

if TYPE_CHECKING:
    from lab.scenario.demo import Progress

FORMATS = ("table", "json", "junit", "html")
# The commands import their machinery when run, so `ecr-lab --help` stays fast.


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run a scenario end to end and print the expected-versus-actual matrix",
        description="Start a lab, deploy the scenario, and let each instance log in, push and "
        "pull with its instance-profile session (through Docker when an engine answers, "
        "otherwise with docker's request sequence). Exit status 0 exactly when every cell "
        "matches the expectation.",
    )
    demo.add_argument("--scenario", default="fa-085", help="a scenario NAME or FILE (fa-085)")
    demo.add_argument("--upstream", default="embedded", help="'embedded' (moto) or a URL")
    demo.add_argument("--format", choices=FORMATS, default="table")
    demo.add_argument("--output", type=Path, help="write the report here instead of stdout")
    demo.add_argument(
        "--client",
        choices=("auto", "docker", "protocol"),
        default="auto",
        help="who talks to the registry: docker if an engine answers (auto), docker, or the "
        "lab's own client (protocol)",
    )
    demo.set_defaults(func=run_demo_command)

    explain = subparsers.add_parser(
        "explain",
        help="why a principal may or may not do something, statement by statement",
        description="Deploy the scenario into an in-process lab and show the Authorizer's "
        "decision for each IAM action of OPERATION (push, pull, login or an ecr: action): "
        "the statements, each condition with the values it saw, and the final rule.",
    )
    explain.add_argument("--scenario", default="fa-085", help="a scenario NAME or FILE")
    explain.add_argument("--repository", help="default: the scenario's only repository")
    explain.add_argument("principal", help="an instance of the scenario, e.g. instance1")
    explain.add_argument("operation", help="push, pull, login, or an action like ecr:PutImage")
    explain.set_defaults(func=run_explain)

    shell = subparsers.add_parser(
        "shell",
        help="open a subshell with a principal's credentials (like an SSM session)",
        description="Start $SHELL (or /bin/sh) with PRINCIPAL's credentials and the lab's "
        "address in the environment, its prompt naming the instance.",
    )
    shell.add_argument("principal")
    shell.add_argument("--endpoint", default=endpoint_from_env(), help="the lab's URL")
    shell.set_defaults(func=run_shell)


@contextmanager
def _progress(title: str) -> Iterator[Progress]:
    """Each step on stderr as `· step`; on a terminal also rich's spinner naming the step."""
    if not sys.stderr.isatty():  # rich loads only for a terminal (~0.1 s)
        yield lambda step: print(f"· {step}", file=sys.stderr, flush=True)
        return
    from rich.console import Console

    errors = Console(stderr=True)
    with errors.status(title) as status:
        yield lambda step: (status.update(step), errors.print(f"· {step}", markup=False))


@contextmanager
def _one_shot() -> Iterator[None]:
    """A command that is the process's whole life: no cyclic collection while it runs
    (~0.2 s of a demo), and what it leaves is frozen, so the interpreter's exit does not scan
    all of it again (~0.5 s). Memory is reclaimed by reference counting as usual."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def run_demo_command(args: argparse.Namespace) -> int:
    with _one_shot():
        return _demo(args)


def _demo(args: argparse.Namespace) -> int:
    from lab.scenario.demo import run_demo
    from lab.scenario.html import to_html
    from lab.scenario.locate import load
    from lab.scenario.parse import ScenarioError
    from lab.scenario.render import to_json, to_junit

    try:
        scenario = load(args.scenario)
    except ScenarioError as error:
        print(f"ecr-lab: {error}", file=sys.stderr)
        return 2
    with _progress(f"demo {scenario.name}") as progress:
        report = run_demo(scenario, client=args.client, upstream=args.upstream, progress=progress)
    if args.format == "table":
        from rich.console import Console

        from lab.scenario.render import print_table

        print_table(report, Console(file=args.output.open("w") if args.output else None))
    else:
        render = {"json": to_json, "junit": to_junit, "html": to_html}[args.format]
        text = render(report)
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    return 0 if report.ok else 1


def run_explain(args: argparse.Namespace) -> int:
    from lab.scenario.demo import lab_config, scratch_dir
    from lab.scenario.deploy import deploy
    from lab.scenario.explain import actions_of, explain_text, instance_identity
    from lab.scenario.locate import load
    from lab.scenario.parse import ScenarioError
    from lab.server.run import RunningLab

    try:
        scenario = load(args.scenario)
    except ScenarioError as error:
        print(f"ecr-lab: {error}", file=sys.stderr)
        return 2
    if args.principal not in scenario.instances:
        known = ", ".join(scenario.instances)
        print(f"ecr-lab: no instance {args.principal!r} (known: {known})", file=sys.stderr)
        return 2
    repository = args.repository or next(iter(scenario.repositories), "")
    with (
        scratch_dir("ecr-lab-explain-") as state,
        RunningLab(lab_config(scenario, Path(state))) as running,
    ):
        deploy(running.lab, scenario)
        identity = instance_identity(running.lab, args.principal)
        texts = [
            explain_text(running.lab, identity, action, repository)
            for action in actions_of(args.operation)
        ]
    print("\n".join(texts), end="")
    return 0


def run_shell(args: argparse.Namespace) -> int:
    from lab.server.cli import session_environment
    from lab.server.client import health, session

    try:
        answer = session(args.endpoint, args.principal, health(args.endpoint)["region"])
    except (OSError, RuntimeError) as error:
        print(f"ecr-lab: {error}", file=sys.stderr)
        return 2
    environment = dict(os.environ)
    for name, value in session_environment(answer).items():
        if value:
            environment[name] = value
        else:
            environment.pop(name, None)
    session_name = answer["arn"].rsplit("/", 1)[-1]
    environment["PS1"] = f"[{args.principal} {session_name}]$ "
    shell = os.environ.get("SHELL") or "/bin/sh"
    # bash would replace PS1 from its rc files; an SSM session's shell reads none either
    argv = [shell, "--norc"] if Path(shell).name == "bash" else [shell]
    print(f"ecr-lab: {answer['arn']} (exit to leave)", file=sys.stderr)
    os.execvpe(shell, argv, environment)
