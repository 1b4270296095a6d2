"""README's command table lists every command and every option `ecr-lab --help` knows."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from lab.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
TABLE = README.split("## Commands", 1)[1].split("\n\n", 2)[1]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def options(parser: argparse.ArgumentParser) -> set[str]:
    """The long options of a command and of its own subcommands."""
    found = {
        name
        for action in parser._actions
        for name in action.option_strings
        if name.startswith("--") and name != "--help"
    }
    for child in subcommands(parser).values():
        found |= options(child)
    return found


def rows(command: str) -> str:
    return "\n".join(re.findall(rf"^\| `ecr-lab {re.escape(command)}\b.*$", TABLE, re.M))


def test_every_command_and_option_is_in_the_command_table() -> None:
    for name, parser in subcommands(build_parser()).items():
        row = rows(name)
        assert row, f"no row for ecr-lab {name}"
        if name == "simulate":  # its options are documented in their own section
            continue
        missing = sorted(option for option in options(parser) if option not in row)
        assert missing == [], f"ecr-lab {name}: {missing}"
        for child in subcommands(parser):
            assert child in row, f"ecr-lab {name} {child}"


def test_readme_says_where_aws_comes_from_and_which_compose() -> None:
    assert "`.venv/bin/aws`" in README
    assert "Docker Compose v2.17 or later" in README and "dockerfile_inline" in README


def test_the_demo_json_documents_every_key() -> None:
    section = README.split("### The demo's JSON", 1)[1].split("###", 1)[0]
    for key in ("scenario", "ok", "client", "checks", "logins", "actions"):
        assert f"`{key}`" in section or f'"{key}"' in section
    assert "`logins`" in section


def test_the_operations_table_names_each_of_ecrs_operations_once() -> None:
    """Every operation of botocore's ECR model has its row (the first cell names it), and
    every one of them is served: by the ECR service's table, or the front door's own token."""
    from lab.botocore_session import service_model
    from lab.ecr.service import OPERATIONS

    section = README.split("## ECR operations", 1)[1].split("\n## ", 1)[0]
    named = [
        name
        for line in section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Za-z]+)`", line.split("|")[1])
    ]
    model = service_model("ecr").operation_names
    assert sorted(named) == sorted(model)
    assert set(model) - set(OPERATIONS) == {"GetAuthorizationToken"}
