#!/usr/bin/env bash
# `make lock`: resolve pyproject.toml (the project and the extras `make install` installs,
# LOCKED_EXTRAS in scripts/check_lock.py) into requirements.lock,
# exact versions with hashes, for the interpreter that `make install` uses.
#
# Pins already in the lock are kept, then versions installed in $VENV (so figures measured
# there stay valid); only what is new or no longer fits is resolved afresh. LOCK_UPGRADE=1
# drops both preferences and takes the newest releases allowed.
# Needs PyPI only (uv does not read pip's config, so the local torch file is named here).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
LOCK="${LOCK:-requirements.lock}"
UV_VERSION=0.13.8
TOOLS=var/lock-tools
FIND_LINKS="${LOCK_FIND_LINKS:-/opt/wheels}"

if [ ! -x "$TOOLS/bin/uv" ] || [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "uv==$UV_VERSION" 2> >(grep -v "^WARNING: Location" >&2)
fi

# uv takes its preferences from the existing output file: seed a scratch copy with the lock's
# pins, then the venv's versions of packages the lock does not have yet.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefs="$work/requirements.lock"
upgrade=()
if [ "${LOCK_UPGRADE:-0}" = 1 ]; then
  upgrade=(--upgrade)
  : >"$prefs"
else
  [ -f "$LOCK" ] && cp "$LOCK" "$prefs" || : >"$prefs"
  if [ -x "$VENV/bin/python" ]; then
    "$VENV/bin/python" -m pip freeze --exclude-editable 2>/dev/null \
      | "$PYTHON" scripts/check_lock.py --missing-from "$prefs" >>"$prefs"
  fi
fi

# shellcheck disable=SC2046 # one word per option
"$TOOLS/bin/uv" pip compile pyproject.toml $("$PYTHON" scripts/check_lock.py --extras) \
  --generate-hashes \
  --constraint scripts/lock-constraints.txt --find-links "$FIND_LINKS" \
  --python "$PYTHON" --custom-compile-command "make lock" --quiet \
  "${upgrade[@]}" --output-file "$prefs"

# Our header: what the lock was made from, so `make test` can tell when it is stale.
{
  "$PYTHON" scripts/check_lock.py --header
  cat "$prefs"
} >"$LOCK"
"$PYTHON" scripts/check_lock.py --lock "$LOCK"
echo "$LOCK: $(grep -c '^[A-Za-z0-9]' "$LOCK") packages"
