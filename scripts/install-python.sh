#!/usr/bin/env bash
# The project's virtual environment. torch==2.13.0 goes in first: it is the CPU build on
# this machine's disk, and with it present nothing else pulls a multi-GB CUDA torch.
set -euo pipefail
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  "$VENV/bin/pip" install -q "torch==2.13.0" 2> >(grep -v "^WARNING: Location" >&2)
fi
"$VENV/bin/pip" install -q -e ".[ml,dev,demo]" 2> >(grep -v "^WARNING: Location" >&2)
# Guard: a dependency must not have replaced the CPU torch.
"$VENV/bin/python" -c "import torch; v=torch.__version__; assert v.startswith('2.13.0'), v"
