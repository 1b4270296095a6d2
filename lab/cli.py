"""The `ecr-lab` command: each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from lab import __version__
from lab.errors import CommandError

# Modules that expose `register(subparsers)`; each adds one or more subcommands whose
# parsers carry `func(args) -> int` as their default.
COMMAND_MODULES: tuple[str, ...] = (
    "lab.policy.cli",
    "lab.scenario.serve",  # serve first: the command a newcomer runs first
    "lab.server.cli",
    "lab.server.lifecycle_cli",
    "lab.scenario.cli",
    "lab.lint.cli",
    "lab.workshop.cli",
    "lab.cfn.cli",
)
INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a command ended by Ctrl-C
DEBUG_VARIABLE = "ECR_LAB_DEBUG"  # set: an unexpected error shows its traceback


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecr-lab",
        description="Amazon ECR repository policies, offline: AWS's APIs, docker push/pull "
        "and AWS's decisions on one local port.",
    )
    parser.add_argument("--version", action="version", version=f"ecr-lab {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def fail(message: str, status: int) -> int:
    print(f"ecr-lab: {message}", file=sys.stderr, flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends as one line on stderr and a non-zero status."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except CommandError as error:
        return fail(str(error), error.status)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the exit
        return fail("interrupted", INTERRUPTED)
    except BrokenPipeError:  # `ecr-lab ... | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # exit flushes nothing
        return 1
    except Exception as error:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        return fail(
            f"unexpected {type(error).__name__}: {error} "
            f"(run with {DEBUG_VARIABLE}=1 for the traceback)",
            1,
        )


if __name__ == "__main__":
    sys.exit(main())
