#!/usr/bin/env bash
# Print a command that runs uv, installing uv with pip first when the machine has none.
# A fresh machine has only python3 and pip; everything else comes through here.
set -euo pipefail
if command -v uv >/dev/null 2>&1; then
  echo uv
  exit 0
fi
if python3 -m uv --version >/dev/null 2>&1; then
  echo "python3 -m uv"
  exit 0
fi
echo "installing uv with pip..." >&2
python3 -m pip install --quiet uv >&2 \
  || python3 -m pip install --quiet --user uv >&2 \
  || python3 -m pip install --quiet --break-system-packages uv >&2
echo "python3 -m uv"
