"""Find a scenario by file path or by NAME: ./scenarios/NAME.yaml first, then the lab's own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lab.scenario.model import Scenario
from lab.scenario.parse import ScenarioError, parse_file

BUILTIN = resources.files("lab.scenario") / "builtin"


def builtin_names() -> list[str]:
    """The scenarios shipped with the lab."""
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in BUILTIN.iterdir()
        if entry.name.endswith(".yaml")
    )


def find(name_or_file: str) -> Path:
    """The file a scenario argument means; ScenarioError lists the known names if none."""
    given = Path(name_or_file)
    if given.suffix in (".yaml", ".yml") or given.is_file():
        if not given.is_file():
            raise ScenarioError(f"{given}: no such scenario file")
        return given
    for candidate in (Path("scenarios") / f"{name_or_file}.yaml", BUILTIN / f"{name_or_file}.yaml"):
        if candidate.is_file():
            return Path(str(candidate))
    known = ", ".join(builtin_names())
    raise ScenarioError(f"no scenario named {name_or_file!r} (built in: {known}; or give a file)")


def load(name_or_file: str) -> Scenario:
    """The validated scenario a command-line argument names."""
    return parse_file(find(name_or_file))
