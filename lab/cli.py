"""The `ecr-lab` command: each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that expose `register(subparsers)`; each adds one or more subcommands whose
# parsers carry `func(args) -> int` as their default.
COMMAND_MODULES: tuple[str, ...] = (
    "lab.policy.cli",
    "lab.server.cli",
    "lab.server.lifecycle_cli",
    "lab.scenario.cli",
    "lab.lint.cli",
    "lab.workshop.cli",
    "lab.cfn.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecr-lab",
        description="Amazon ECR repository policies, offline: AWS's APIs, docker push/pull "
        "and AWS's decisions on one local port.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
