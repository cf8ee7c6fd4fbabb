#!/usr/bin/env bash
# Start Rexian locally with demo data: http://127.0.0.1:8080/
#
# Usage: scripts/run.sh [extra `rexian serve` args...]
# Installs what is missing (scripts/setup.sh), prepares the Rasa venv and model (cached under ~/.cache/rexian),
# then serves. Data lives in $REXIAN_DATA_DIR (default ~/.local/share/rexian).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash scripts/setup.sh run
.venv/bin/rexian nlu setup
.venv/bin/rexian nlu train
exec .venv/bin/rexian serve --demo --data-dir "${REXIAN_DATA_DIR:-$HOME/.local/share/rexian}" \
    --host 127.0.0.1 --port 8080 "$@"
