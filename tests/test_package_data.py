"""What ships as package data: the built-in scenarios, exercises and CloudFormation templates
must reach a non-editable install (`pip install .`), where nothing outside `lab/` exists."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from lab.cfn.cli import TUTORIAL_TEMPLATE
from lab.scenario.locate import BUILTIN as SCENARIOS
from lab.workshop.load import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lab"


def test_the_shipped_data_lives_inside_the_package() -> None:
    for folder in (Path(str(SCENARIOS)), EXERCISES, TUTORIAL_TEMPLATE.parent):
        assert folder.resolve().is_relative_to(PACKAGE.resolve()), folder


def test_every_shipped_file_is_declared_package_data() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = settings["tool"]["setuptools"]["package-data"]["lab"]
    shipped = [
        path.relative_to(PACKAGE).as_posix()
        for folder in (Path(str(SCENARIOS)), EXERCISES, TUTORIAL_TEMPLATE.parent)
        for path in folder.rglob("*")
        if path.is_file()
    ]

    assert len(shipped) > 20
    assert [f for f in shipped if not any(fnmatch(f, p) for p in patterns)] == []
