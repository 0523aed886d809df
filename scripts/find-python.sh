#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter: python3.10 on PATH, then pyenv's, then the system's.
set -u
candidates=(python3.10)
if command -v pyenv >/dev/null 2>&1; then
  for p in "$(pyenv root)"/versions/3.10*/bin/python3.10; do candidates+=("$p"); done
fi
for p in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
  candidates+=("$p")
done
for p in "${candidates[@]}"; do
  if "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
    command -v "$p"
    exit 0
  fi
done
echo "Tandem needs Python 3.10 (Rasa 3.6 supports 3.8-3.10); none found on PATH or under pyenv." >&2
exit 1
