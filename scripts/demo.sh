#!/usr/bin/env bash
# The tutorial, end to end: sets up the venv, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/ecr-lab demo "$@"
