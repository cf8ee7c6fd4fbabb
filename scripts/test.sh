#!/usr/bin/env bash
# The project's checks, as CI runs them (.ci/run): setup, ruff lint, ruff format, mypy, pytest.
#
# Usage: scripts/test.sh [pytest args...]      e.g. scripts/test.sh tests/infra -x
# Every step runs even if an earlier one failed; the exit status is non-zero if any step failed
# (including pytest collecting no tests, exit code 5).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

header() { printf '\n==== %s ====\n' "$*"; }

header "setup (scripts/setup.sh test)"
start=$SECONDS
bash scripts/setup.sh test
echo "setup: ok ($((SECONDS - start)) s)"

failed=()
step() {
    local name=$1
    shift
    header "$name"
    local t0=$SECONDS rc=0
    "$@" || rc=$?
    if ((rc == 0)); then
        echo "$name: ok ($((SECONDS - t0)) s)"
    else
        echo "$name: FAILED (exit $rc, $((SECONDS - t0)) s)"
        failed+=("$name")
    fi
}

step "ruff check" .venv/bin/ruff check .
step "ruff format --check" .venv/bin/ruff format --check .
step "mypy" .venv/bin/mypy
step "pytest" .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

header "summary"
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all checks passed ($SECONDS s)"
