#!/usr/bin/env bash
# Print the path of a CPython X.Y interpreter that runs: pythonX.Y on PATH, else the newest
# pyenv build of X.Y (a pyenv shim of a version that is not selected fails, so it is asked
# for by version). Prints nothing and exits 1 when there is none.
#
#   scripts/find-python.sh 3.13
set -euo pipefail
want=${1:?usage: $0 X.Y}
if "python$want" -c 'import sys' >/dev/null 2>&1; then
  command -v "python$want"
  exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}\.[0-9]+$" | tail -1 || true)
  if [ -n "$version" ] && found=$(PYENV_VERSION=$version pyenv which "python$want" 2>/dev/null); then
    echo "$found"
    exit 0
  fi
fi
exit 1
