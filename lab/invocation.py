"""How the user started `ecr-lab`, so hints print a command that works when pasted back."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def command_name(argv0: str | None = None, executable: str | None = None) -> str:
    """`ecr-lab` when that is on PATH, else the path the user typed (`.venv/bin/ecr-lab`),
    else `python -m lab.cli` with this interpreter."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    script = Path(argv0)
    if script.name == "ecr-lab":
        found = shutil.which("ecr-lab")
        if found and Path(found).resolve() == script.resolve():
            return "ecr-lab"
        return shlex.quote(argv0 if os.sep in argv0 else str(script.resolve()))
    return f"{shlex.quote(executable)} -m lab.cli"
