#!/usr/bin/env bash
# The tutorial, end to end: sets up the venv, then runs it.
# VENV=.venv-3.11 (and PYTHON=...) run it from another venv; see scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VENV
scripts/setup.sh
exec "$VENV/bin/ecr-lab" demo "$@"
