#!/usr/bin/env bash
# Create or refresh the project's Python 3.13 venv in .venv (idempotent; fast when up to date).
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if PYENV_VERSION=3.13.0 command -v "$candidate" >/dev/null 2>&1 \
      && PYENV_VERSION=3.13.0 "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "ecr-lab needs Python 3.11 or newer" >&2; exit 1
}

if [ ! -x .venv/bin/python ]; then
  PYENV_VERSION=3.13.0 "$(pick_python)" -m venv .venv
  .venv/bin/pip install -q -U pip
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
