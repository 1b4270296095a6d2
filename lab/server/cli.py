"""`ecr-lab env`, `ecr-lab status` and `ecr-lab reset`: a lab seen from outside its process.

`serve` sits a floor higher (lab/scenario/serve.py): it may deploy a scenario.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from lab.server.config import endpoint_from_env


def default_state_dir() -> Path:
    return Path(os.environ.get("ECR_LAB_STATE_DIR", ".ecr-lab"))


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        default=endpoint_from_env(),
        help="the lab's URL (default $ECR_LAB_ENDPOINT or http://127.0.0.1:4577)",
    )


def add_state_dir_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help=f"{what} (default $ECR_LAB_STATE_DIR or ./.ecr-lab)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    env = subparsers.add_parser(
        "env",
        help="print shell exports for a principal of a running lab",
        description="Print `export` lines (credentials, region, AWS_ENDPOINT_URL, ECR_REGISTRY) "
        "for PRINCIPAL: 'admin', an instance of the loaded scenario, an account id or a role "
        'ARN. Use as: eval "$(ecr-lab env instance1)"',
    )
    env.add_argument("principal")
    env.add_argument(
        "--through",
        metavar="VPCE_ID",
        help="bind the role session to this VPC endpoint of its account (e.g. one made with "
        "`aws ec2 create-vpc-endpoint`): its ECR requests carry aws:SourceVpce and meet the "
        "endpoint's policy",
    )
    add_endpoint_option(env)
    env.set_defaults(func=run_env)

    status = subparsers.add_parser(
        "status",
        help="is a lab running at the endpoint: its scenario, accounts, region, state dir",
        description="Ask the lab at the endpoint what it runs. Exit status 0 when a lab is "
        "ready there, 1 when none answers (or it is still deploying its scenario).",
    )
    add_endpoint_option(status)
    status.set_defaults(func=run_status)

    reset = subparsers.add_parser(
        "reset",
        help="wipe a lab's state directory (refused while a lab runs on it)",
        description="Delete everything a lab keeps in its state directory: IAM roles, "
        "repositories, images, sessions, the deployed scenario. Only a directory that holds "
        "a lab's state and nothing else is touched; a lab running on it must be stopped first.",
    )
    add_state_dir_option(reset, "the directory to wipe")
    reset.set_defaults(func=run_reset)


def session_environment(answer: dict) -> dict[str, str | None]:
    """The environment a principal's session answer sets (None: the variable is unset)."""
    return {
        "AWS_ACCESS_KEY_ID": answer["accessKeyId"],
        "AWS_SECRET_ACCESS_KEY": answer["secretAccessKey"],
        "AWS_SESSION_TOKEN": answer.get("sessionToken"),
        "AWS_DEFAULT_REGION": answer["region"],
        "AWS_ENDPOINT_URL": answer["endpointUrl"],
        "ECR_REGISTRY": answer["registry"],
    }


def export_lines(answer: dict) -> list[str]:
    """Shell lines that put a principal's credentials and the lab's address in the environment."""
    return [
        f"export {name}={shlex.quote(value)}" if value else f"unset {name}"
        for name, value in session_environment(answer).items()
    ]


def run_env(args: argparse.Namespace) -> int:
    from lab.server.client import principal_session

    answer = principal_session(args.endpoint, args.principal, args.through)
    print("\n".join(export_lines(answer)))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from lab.server.client import running_lab

    health = running_lab(args.endpoint)
    rows = {
        "endpoint": args.endpoint,
        "version": health.get("version"),
        "scenario": health.get("scenario") or "(none)",
        "instances": ", ".join(health.get("instances") or []) or "(none)",
        "accounts": ", ".join(health.get("accounts") or []),
        "region": health.get("region"),
        "registry": health.get("registry"),
        "upstream": health.get("upstream"),
        "state dir": health.get("stateDir"),
    }
    width = max(map(len, rows))
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows.items()))
    return 0


def run_reset(args: argparse.Namespace) -> int:
    from lab.server.statedir import wipe

    if wipe(args.state_dir):
        print(f"ecr-lab: {args.state_dir} wiped; the next `ecr-lab serve` starts a new lab")
    else:
        print(f"ecr-lab: no lab state in {args.state_dir}; nothing to wipe")
    return 0
