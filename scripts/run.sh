#!/usr/bin/env bash
# Sets up .venv if needed, then launches the app. Arguments go to app.py (--host, --port, --workspace, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python app.py "$@"
