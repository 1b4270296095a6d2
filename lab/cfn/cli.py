"""`ecr-lab deploy-cfn [TEMPLATE]`: deploy CloudFormation onto a fresh lab, then check it."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import CommandError

if TYPE_CHECKING:
    from lab.scenario.model import Scenario
    from lab.scenario.report import Report

# The tutorial's templates (a root stack and its nested stacks), shipped as package data.
TUTORIAL_TEMPLATE = Path(str(resources.files("lab.cfn") / "builtin" / "fa-085.yaml"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `deploy-cfn` subcommand."""
    parser = subparsers.add_parser(
        "deploy-cfn",
        help="deploy the tutorial's CloudFormation onto a lab and run the demo's checks",
        description="Start a lab, stage the nested templates found next to TEMPLATE in the "
        "lab's S3, deploy the stack (IAM roles with their managed policies, instance "
        "profiles, instances, the ECR repository with its policy), then let the deployed "
        "instances log in, push and pull as `ecr-lab demo` does. Exit status 0 exactly when "
        "every cell matches the expected matrix.",
    )
    parser.add_argument(
        "template",
        type=Path,
        nargs="?",
        default=TUTORIAL_TEMPLATE,
        metavar="TEMPLATE",
        help="the root template (default: the tutorial's, shipped with the lab)",
    )
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="K=V", help="repeatable"
    )
    parser.add_argument("--stack-name", default="fa-085")
    parser.add_argument(
        "--expect", default="fa-085", help="the scenario whose matrix to check (fa-085)"
    )
    parser.add_argument("--client", choices=("auto", "docker", "protocol"), default="auto")
    parser.set_defaults(func=run_deploy_cfn)


def run_deploy_cfn(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lab.cfn.template import TemplateError
    from lab.scenario.locate import load
    from lab.scenario.parse import ScenarioError
    from lab.scenario.render import print_table

    errors = Console(stderr=True)
    try:
        parameters = dict(item.split("=", 1) for item in args.parameter)
        scenario = load(args.expect)
        text = args.template.read_text(encoding="utf-8")
    except (ValueError, OSError, ScenarioError) as error:
        raise CommandError(str(error), 2) from None
    try:
        report = deploy_and_check(
            text,
            parameters,
            scenario,
            sources=args.template.parent,
            stack=args.stack_name,
            client=args.client,
            progress=lambda step: errors.print(f"· {step}", markup=False),
        )
    except TemplateError as error:  # one line: not wrapped to the console's width
        raise CommandError(str(error), 2) from None
    print_table(report, Console())
    return 0 if report.ok else 1


def deploy_and_check(
    template_text: str,
    parameters: dict[str, str],
    scenario: Scenario,
    *,
    sources: Path,
    stack: str = "fa-085",
    client: str = "auto",
    progress: Callable[[str], None] = print,
) -> Report:
    """Deploy the stack onto a fresh lab in the scenario's region, then check its matrix."""
    from lab.cfn.stack import StackDeployer
    from lab.scenario.demo import DemoRun, choose_driver, lab_config
    from lab.scenario.report import Report
    from lab.server.run import RunningLab

    with tempfile.TemporaryDirectory(prefix="ecr-lab-cfn-") as state:
        config = lab_config(scenario, Path(state) / "state")
        with RunningLab(config) as running:
            deployer = StackDeployer(running.lab, sources, progress)
            deployer.deploy(stack, template_text, parameters)
            driver = choose_driver(client, stack)
            checks = DemoRun(running.lab, scenario, driver, progress).run()
            return Report(stack, driver.name, running.lab.registry_host, checks)
