#!/usr/bin/env bash
# Create or refresh the project's venv (idempotent; fast when up to date).
#
#   scripts/setup.sh                     .venv with the newest CPython >= 3.11 found
#   PYTHON=python3.11 scripts/setup.sh   that interpreter instead
#   VENV=.venv-3.11 scripts/setup.sh     another venv directory (CI builds one per Python)
#   scripts/setup.sh --print-python      only say which interpreter it would use
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
MIN_PYTHON=(3 11)

usable() {  # runs, is CPython, and is new enough (a pyenv shim of an unselected version fails)
  "$1" -c "import sys; sys.exit(sys.implementation.name != 'cpython' \
    or sys.version_info[:2] < (${MIN_PYTHON[0]}, ${MIN_PYTHON[1]}))" >/dev/null 2>&1
}

pick_python() {
  local candidate
  if [ -n "${PYTHON:-}" ]; then
    usable "$PYTHON" && { echo "$PYTHON"; return; }
    echo "setup: \$PYTHON=$PYTHON is not a CPython ${MIN_PYTHON[0]}.${MIN_PYTHON[1]} or newer" >&2
    exit 1
  fi
  for candidate in python3.13 python3.12 python3.11 python3; do
    command -v "$candidate" >/dev/null 2>&1 && usable "$candidate" && { echo "$candidate"; return; }
  done
  echo "setup: ecr-lab needs CPython ${MIN_PYTHON[0]}.${MIN_PYTHON[1]} or newer" \
    "(tried python3.13, python3.12, python3.11, python3; or set PYTHON=/path/to/python)" >&2
  exit 1
}

# pip's own output goes to a log: shown in full only when something fails.
quiet_pip() {
  local log=$VENV/.pip.log
  if ! "$VENV/bin/pip" install --disable-pip-version-check --progress-bar off "$@" >"$log" 2>&1; then
    echo "setup: pip install failed; the last lines of $log:" >&2
    tail -25 "$log" >&2
    exit 1
  fi
}

if [ "${1:-}" = "--print-python" ]; then
  pick_python
  exit
fi
if [ ! -x "$VENV/bin/python" ] || ! usable "$VENV/bin/python"; then
  python=$(pick_python)
  echo "setup: creating $VENV with $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
  "$python" -m venv --clear "$VENV"
  echo "setup: upgrading pip"
  quiet_pip -U pip
fi
stamp=$VENV/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing ecr-lab and its test tools into $VENV (about 90 s the first time)"
  quiet_pip -e '.[dev]' &
  pip_pid=$! shown=
  # progress while pip works: the package it is on now
  while kill -0 "$pip_pid" 2>/dev/null; do
    sleep 5
    last=$(grep -Eo '^(Collecting [^ ]+|Building wheels|Installing collected packages)' \
      "$VENV/.pip.log" 2>/dev/null | tail -1 || true)
    if [ -n "$last" ] && [ "$last" != "$shown" ]; then
      echo "setup:   ${last,}"
      shown=$last
    fi
  done
  wait "$pip_pid"
  touch "$stamp"
  echo "setup: $VENV is ready ($("$VENV/bin/python" -V))"
fi
# The policy engine's hot modules compiled by mypyc (lab/policy/native.py): rebuilt when their
# sources change; without a C compiler the engine runs as Python, as it always can (a failed
# build is not tried again on the same sources).
"$VENV/bin/python" -m lab.policy.build_native --if-stale | sed 's/^/setup: /' || true
