"""The compiled policy engine: used only when built from these very sources by this very
Python, and then answering byte for byte as the Python engine does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab.policy import native
from tests.oracle.cases import generate

ECR_LAB = str(Path(sys.executable).parent / "ecr-lab")
SWITCH_AT_START = os.environ.get(native.SWITCH)  # what lab.policy saw when it loaded


def _fake_build(where: Path) -> Path:
    """A build's bookkeeping (no compiled module): what state() reads."""
    for path in native.CHECKED:
        (where / "sources" / path).parent.mkdir(parents=True, exist_ok=True)
        (where / "sources" / path).write_bytes((native.PACKAGE / path).read_bytes())
    (where / "python").write_text(sys.version)
    return where


@pytest.fixture(autouse=True)
def _switch_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.SWITCH, raising=False)


def test_a_build_of_these_sources_by_this_python_is_ready(tmp_path: Path) -> None:
    where = _fake_build(tmp_path / "build")
    assert native.state(where) == "ready"
    path: list[str] = ["/src/lab/policy"]
    assert native.enable(path, where)
    assert path == [str(where / "lab" / "policy"), "/src/lab/policy"]
    sys.path.remove(str(where / "runtime"))


def test_no_build_is_missing_and_changes_no_path(tmp_path: Path) -> None:
    path = ["/src/lab/policy"]
    assert native.state(tmp_path / "none") == "missing"
    assert not native.enable(path, tmp_path / "none")
    assert path == ["/src/lab/policy"]


@pytest.mark.parametrize("path", native.CHECKED)
def test_a_build_from_other_sources_is_stale_and_never_runs(tmp_path: Path, path: str) -> None:
    # An edit since the build (one byte, even to a module the compiled ones only import) must
    # not leave compiled code of the old sources running.
    where = _fake_build(tmp_path / "build")
    copy = where / "sources" / path
    copy.write_bytes(copy.read_bytes() + b"\n")
    assert native.state(where) == "stale"
    path = ["/src/lab/policy"]
    assert not native.enable(path, where)
    assert path == ["/src/lab/policy"]


def test_a_damaged_build_is_stale_not_an_import_error(tmp_path: Path) -> None:
    where = _fake_build(tmp_path / "build")
    (where / "python").write_bytes(b"\xff\xfe not text")
    assert native.state(where) == "stale"


def test_a_build_by_another_python_is_stale(tmp_path: Path) -> None:
    where = _fake_build(tmp_path / "build")
    (where / "python").write_text("3.12.0 (main) [GCC]")
    assert native.state(where) == "stale"


def test_the_switch_turns_a_ready_build_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = _fake_build(tmp_path / "build")
    monkeypatch.setenv(native.SWITCH, "0")
    assert native.state(where) == "off"
    assert not native.enable([], where)


def test_the_model_module_stays_python() -> None:
    # Its objects are made from dicts (model.build_from), which compiled classes do not allow.
    assert "model" not in native.MODULES


_IMPORT = re.compile(r"^(?:from (lab[\w.]*) import ([\w, ]+)|import (lab[\w.]*))$", re.M)


def test_every_lab_module_a_compiled_one_imports_is_checked() -> None:
    # Compiled code relies on the types of what it imports: those sources count too.
    root = native.PACKAGE.parent
    for name in native.MODULES:
        source = (native.PACKAGE / "policy" / f"{name}.py").read_text()
        for package, names, module in _IMPORT.findall(source):
            candidates = (
                [module] if module else [f"{package}.{n.strip()}" for n in names.split(",")]
            )
            candidates.append(package or module)
            for dotted in candidates:
                path = root / (dotted.replace(".", "/") + ".py")
                if path.exists() and path.name != "__init__.py":
                    assert str(path.relative_to(native.PACKAGE)) in native.CHECKED, (name, dotted)


@pytest.mark.slow
def test_the_compiled_engine_answers_as_the_python_engine(tmp_path: Path) -> None:
    """CI builds it (scripts/setup.sh); elsewhere, without a compiler, there is none to check."""
    if native.state() != "ready":
        assert not os.environ.get("CI"), f"no compiled engine in CI: {native.state()}"
        pytest.skip(f"compiled policy engine {native.state()}")
    lines = [json.dumps(case) for case in generate(3000, 11)]
    lines += ["not json", '{"principal": "x"}', json.dumps({"principal": "a", "action": 1})]
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(lines) + "\n")
    answers = {}
    for switch in ("1", "0"):
        answers[switch] = subprocess.run(
            [ECR_LAB, "simulate", "--batch", str(cases), "--jobs", "2"],
            env={**os.environ, native.SWITCH: switch},
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
    assert answers["1"] == answers["0"]
    assert answers["1"].count(b"\n") == len(lines)


def test_the_test_process_runs_the_engine_it_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever the state, the modules loaded agree with it: compiled exactly when ready.
    from lab.policy import evaluate

    if SWITCH_AT_START is not None:
        monkeypatch.setenv(native.SWITCH, SWITCH_AT_START)
    compiled = not evaluate.__file__.endswith(".py")
    assert compiled == (native.state() == "ready")


@pytest.mark.slow
def test_a_failed_build_is_not_tried_again_on_the_same_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No working C compiler: setup.sh goes on with the Python engine, and does not pay for a
    # doomed build at every run.
    from lab.policy import build_native

    monkeypatch.setenv("CC", "false")
    where = tmp_path / "cpython"
    assert build_native.run(where, if_stale=True) == 1
    assert "compiling failed" in capsys.readouterr().err
    assert native.state(where) == "missing"
    assert build_native.run(where, if_stale=True) == 0
    said = capsys.readouterr().out
    assert "failed before" in said
    assert "compiling the policy engine" not in said
    assert native.state(where) == "missing"
