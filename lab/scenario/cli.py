"""`ecr-lab demo`, `ecr-lab explain` and `ecr-lab shell`."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from lab.errors import CommandError
from lab.server.cli import add_endpoint_option

if TYPE_CHECKING:
    from lab.scenario.demo import Progress

FORMATS = ("table", "json", "junit", "html")
PRINCIPALS = "admin, an instance of the scenario (instance1), an account id, or a role ARN"
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
    explain.add_argument("principal", help=PRINCIPALS)
    explain.add_argument("operation", help="push, pull, login, or an action like ecr:PutImage")
    explain.set_defaults(func=run_explain)

    shell = subparsers.add_parser(
        "shell",
        help="open a subshell with a principal's credentials (like an SSM session)",
        description="Start $SHELL (or /bin/sh) with PRINCIPAL's credentials and the lab's "
        "address in the environment, its prompt naming the instance, and its own "
        "DOCKER_CONFIG already logged in to the lab's registry as PRINCIPAL (as the "
        "instance's `aws ecr get-login-password | docker login` would be).",
    )
    shell.add_argument("principal", help=PRINCIPALS)
    add_endpoint_option(shell)
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
    from lab.scenario.render import to_json, to_junit
    from lab.scenario.serve import check_upstream, load_scenario

    scenario = load_scenario(args.scenario)
    check_upstream(args.upstream)
    with _output(args.output) as output, _progress(f"demo {scenario.name}") as progress:
        report = run_demo(scenario, client=args.client, upstream=args.upstream, progress=progress)
        if args.format == "table":
            from rich.console import Console

            from lab.scenario.render import print_table

            print_table(report, Console(file=output))
        else:
            render = {"json": to_json, "junit": to_junit, "html": to_html}[args.format]
            output.write(render(report))
    return 0 if report.ok else 1


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """The report's destination, opened before the demo runs: a bad --output fails first."""
    if path is None:
        yield sys.stdout
        return
    try:
        file = path.open("w", encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot write --output {path}: {error.strerror}", 2) from None
    with file:
        yield file


def run_explain(args: argparse.Namespace) -> int:
    from lab.errors import AwsError
    from lab.scenario.demo import lab_config, scratch_dir
    from lab.scenario.deploy import deploy
    from lab.scenario.explain import actions_of, explain_text
    from lab.scenario.serve import load_scenario
    from lab.server.run import RunningLab

    scenario = load_scenario(args.scenario)
    try:
        actions = actions_of(args.operation)
    except ValueError as error:
        raise CommandError(str(error), 2) from None
    repository = args.repository or next(iter(scenario.repositories), "")
    with (
        scratch_dir("ecr-lab-explain-") as state,
        RunningLab(lab_config(scenario, Path(state))) as running,
    ):
        deploy(running.lab, scenario)
        try:  # the same resolver as `env` and `shell`
            identity = running.lab.credential_for(args.principal).identity
        except AwsError as error:
            raise CommandError(error.message, 2) from None
        texts = [explain_text(running.lab, identity, action, repository) for action in actions]
    print("\n".join(texts), end="")
    return 0


def run_shell(args: argparse.Namespace) -> int:
    from lab.scenario.shell import run_shell

    return run_shell(args.endpoint, args.principal)
