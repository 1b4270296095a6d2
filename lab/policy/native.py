"""The policy engine's hot modules compiled by mypyc, used only when built from these very
sources by this very interpreter; otherwise, or with ECR_LAB_NATIVE=0, they run as Python.

mypyc compiles the typed modules as written: one implementation, held to the same tests, and
about a fifth fewer instructions per batch case. A build lives in the environment (sys.prefix),
outside the source tree, next to a copy of the sources it was made from: a module edited since
is never run from a stale build, the whole engine then runs as Python.

    python -m lab.policy.build_native [--if-stale]   # scripts/setup.sh runs it (mypy, a C compiler)
    python -m lab.policy.build_native --status
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The modules a batch case runs through; `model` stays Python (its objects are built from dicts).
MODULES = (
    "batch",
    "conditions",
    "context",
    "document",
    "entries",
    "evaluate",
    "matching",
    "principals",
    "variables",
    "wellformed",
)
# What the compiled code was checked against, by path under lab/: MODULES, every lab module
# they import, and this module (it lays builds out). A build is stale once any of these
# differs from its copy in the build.
CHECKED = (
    "policy/native.py",
    *(f"policy/{name}.py" for name in MODULES),
    *(f"policy/{name}.py" for name in ("guardrails", "model", "organizations", "workers")),
    "errors.py",
    "json_input.py",
)
PACKAGE = Path(__file__).resolve().parents[1]  # lab/
SWITCH = "ECR_LAB_NATIVE"  # "0": run as Python whatever is built


def home() -> Path:
    """Where this interpreter's build lives."""
    return Path(sys.prefix) / "ecr-lab-native" / sys.implementation.cache_tag


def state(where: Path | None = None) -> str:
    """One of "ready", "off", "missing", "stale" (built from other sources or by another
    Python)."""
    if os.environ.get(SWITCH) == "0":
        return "off"
    where = home() if where is None else where
    try:
        built_by = (where / "python").read_text()
        stale = built_by != sys.version or any(
            (where / "sources" / path).read_bytes() != (PACKAGE / path).read_bytes()
            for path in CHECKED
        )
    except OSError:
        return "missing"
    except ValueError:  # a damaged build: not these sources either
        return "stale"
    return "stale" if stale else "ready"


def enable(package_path: list[str], where: Path | None = None) -> bool:
    """Put the build first on the package's path when it is ready; whether it did."""
    where = home() if where is None else where
    if state(where) != "ready":
        return False
    sys.path.append(str(where / "runtime"))  # mypyc's shared library is a top-level module
    package_path.insert(0, str(where / "lab" / "policy"))
    return True


def build(where: Path | None = None) -> None:
    """Compile MODULES from a copy of the sources; the new build replaces the old one whole.
    Raises subprocess.CalledProcessError (output captured) when mypyc fails."""
    import shutil
    import subprocess
    import tempfile

    where = home() if where is None else where
    with tempfile.TemporaryDirectory(prefix="ecr-lab-native-") as tmp:
        tree = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__", "*.so")
        shutil.copytree(PACKAGE, tree / "lab", ignore=ignore)
        targets = [f"lab/policy/{name}.py" for name in MODULES]
        subprocess.run(
            [sys.executable, "-m", "mypyc", *targets], cwd=tree, check=True, capture_output=True
        )
        where.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=where.parent))
        try:
            staging.chmod(0o755)
            (staging / "lab" / "policy").mkdir(parents=True)
            (staging / "runtime").mkdir()
            for library in tree.glob("*.so"):  # the modules' shared library
                shutil.copy2(library, staging / "runtime")
            for name in MODULES:
                compiled = next((tree / "lab" / "policy").glob(f"{name}.*.so"))
                shutil.copy2(compiled, staging / "lab" / "policy")
            for path in CHECKED:  # as compiled, whatever the checkout holds by now
                (staging / "sources" / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(tree / "lab" / path, staging / "sources" / path)
            (staging / "python").write_text(sys.version)
            shutil.rmtree(where, ignore_errors=True)
            staging.rename(where)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
