#!/usr/bin/env bash
# The project's virtual environment, from requirements.lock: every package at its locked
# version, each file checked against the lock's hashes, nothing resolved here.
# torch is in the lock as 2.13.0+cpu, the CPU build on this machine's disk (found through pip's
# find-links, /opt/wheels): its hash admits that file only, so no CUDA torch can come in.
set -euo pipefail
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
LOCK="${LOCK:-requirements.lock}"
PIP_VERSION=26.3
quiet_pip() { "$VENV/bin/pip" "$@" 2> >(grep -v "^WARNING: Location" >&2); }

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ "$("$VENV/bin/python" -m pip --version | cut -d' ' -f2)" != "$PIP_VERSION" ]; then
  quiet_pip install -q "pip==$PIP_VERSION"
fi
# A lock older than pyproject.toml would install the wrong set: say so instead.
"$VENV/bin/python" scripts/check_lock.py --lock "$LOCK"
# --no-deps: the lock is the whole closure, so pip resolves nothing and fetches nothing else.
quiet_pip install -q --require-hashes --no-deps -r "$LOCK"
# setuptools comes from the lock, so the project builds without fetching a build backend.
quiet_pip install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -m pip check
"$VENV/bin/python" scripts/check_lock.py --lock "$LOCK" --installed
# Guard: the CPU torch, whatever happened above.
"$VENV/bin/python" -c "import torch; v=torch.__version__; assert v == '2.13.0+cpu', v"
