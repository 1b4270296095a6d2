"""The command table: each module registers exactly the subcommands declared for it, and a
known command starts with its own module alone."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from lab.cli import COMMAND_MODULES, build_parser


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_each_module_registers_the_commands_declared_for_it(module: str) -> None:
    subparsers = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(subparsers)
    assert tuple(subparsers.choices) == COMMAND_MODULES[module]


def test_a_known_command_parses_as_in_the_whole_parser() -> None:
    argv = ["simulate", "--principal", "arn:aws:iam::111122223333:user/a", "--action", "ecr:X"]
    assert vars(build_parser("simulate").parse_args(argv)) == vars(build_parser().parse_args(argv))


def test_a_simulate_batch_imports_no_server_module(tmp_path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"principal":"arn:aws:iam::111122223333:user/a","action":"ecr:ListImages",'
        '"resource":"*","identity_policies":[]}\n'
    )
    probe = (
        "import sys; from lab.cli import main; "
        f"status = main(['simulate', '--batch', {str(cases)!r}, '--jobs', '1']); "
        "print(status, [m for m in sys.modules if m.startswith(('lab.server', 'lab.scenario'))])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    answer, summary = done.stdout.splitlines()
    assert '"decision":"implicit_deny"' in answer
    assert summary == "0 []"
