#!/usr/bin/env bash
# Install everything the tests need (system packages, a venv with the project), then run them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[dev]'
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
