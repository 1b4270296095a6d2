#!/usr/bin/env bash
# Run the tests. Default: the fast unit suite. `--all`: every test, including the ones that
# need the npm oracle, a Docker engine, LocalStack and real clients (what CI runs).
# VENV=.venv-3.11 (and PYTHON=...) test in another venv; see scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VENV
scripts/setup.sh
if [ "${1:-}" = "--all" ]; then
  shift
  if [ -f tests/oracle/package-lock.json ] && [ ! -d tests/oracle/node_modules ]; then
    npm ci --prefix tests/oracle --silent --no-audit --no-fund
  fi
  "$VENV/bin/ruff" check .
  exec "$VENV/bin/pytest" -m "" "$@"
fi
exec "$VENV/bin/pytest" "$@"
