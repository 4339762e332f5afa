# shellcheck shell=bash
# Shared helpers for scripts/setup.sh and scripts/test.sh. Source this file; do not run it.
#
#   EZ_DRY_RUN=1   print the apt-get commands instead of running them (package detection
#                  still runs for real), e.g.  EZ_DRY_RUN=1 bash scripts/test.sh

# Debian packages ezflow builds and tests against (see SWIFT-NOTES.md §1).
# python3-jsonschema is handled separately: pip may already provide the module.
EZ_DEBIAN_PACKAGES=(
    make
    pkg-config
    libyaml-dev
    libsqlite3-dev
    libpq-dev
    libhiredis-dev
    libssl-dev
    libcurl4-openssl-dev
    postgresql
    redis-server
)

# Only the tests need these: the shells the completion scripts are tried in
# (Tests/EzcTests/CompletionTests). scripts/test.sh sets EZ_WITH_TEST_PACKAGES=1.
EZ_TEST_PACKAGES=(
    zsh
    fish
)

ez_log() { printf '==> %s\n' "$*" >&2; }
ez_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
ez_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        ez_die "need root to run '$*' (not root and no sudo)"
    fi
}

# True when the Debian package is installed (not merely known, removed or half-configured).
ez_pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Prints the missing packages, one per line (nothing when all are present).
ez_missing_packages() {
    local p
    for p in "${EZ_DEBIAN_PACKAGES[@]}"; do
        ez_pkg_installed "$p" || printf '%s\n' "$p"
    done
    if [ "${EZ_WITH_TEST_PACKAGES:-0}" = 1 ]; then
        for p in "${EZ_TEST_PACKAGES[@]}"; do
            ez_pkg_installed "$p" || printf '%s\n' "$p"
        done
    fi
    # The SARIF schema test only needs the module, from apt or pip alike.
    if ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
        printf '%s\n' python3-jsonschema
    fi
    # The SDK venv (ez_sdk_venv) needs python's venv module with pip.
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        printf '%s\n' python3-venv
    fi
}

# Makes the venv DIR with the pinned packages of REQ unless it already holds exactly those
# (and IMPORT, a python statement, runs in it). Any failure stops the run.
ez_venv() {
    local venv=$1 req=$2 check=$3
    if ! cmp -s "$req" "$venv/requirements.txt" || ! "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
        ez_log "python venv $venv ($req)"
        rm -rf "$venv"
        python3 -m venv "$venv" || ez_die "could not make $venv (python3 -m venv)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" || ez_die "could not install $req into $venv"
        cp "$req" "$venv/requirements.txt"
    fi
}

# .build/sdk-venv with the pinned official LLM SDKs (Tests/Fixtures/llm/requirements.txt),
# its python exported as EZFLOW_SDK_PYTHON: the llm request-body tests (SDKValidationTests)
# run only with it.
ez_sdk_venv() {
    ez_venv .build/sdk-venv Tests/Fixtures/llm/requirements.txt 'import openai, anthropic'
    EZFLOW_SDK_PYTHON="$PWD/.build/sdk-venv/bin/python"
    export EZFLOW_SDK_PYTHON
}

# .build/editor-venv with an independent LSP client (pytest-lsp, pygls) and a TextMate
# engine (textmate-grammar-python), pinned in Tests/Editors/requirements.txt; its python
# exported as EZFLOW_EDITOR_PYTHON: the editor suites (EditorSuiteTests) run only with it.
ez_editor_venv() {
    ez_venv .build/editor-venv Tests/Editors/requirements.txt 'import pytest_lsp, textmate_grammar'
    EZFLOW_EDITOR_PYTHON="$PWD/.build/editor-venv/bin/python"
    export EZFLOW_EDITOR_PYTHON
}

# Installs whatever is missing: one `apt-get update`, then one noninteractive install.
# Does nothing (and never calls apt-get) when everything is already there.
ez_ensure_packages() {
    local missing
    missing="$(ez_missing_packages)"
    if [ -z "$missing" ]; then
        ez_log "Debian packages: all present"
        return 0
    fi
    # shellcheck disable=SC2086 # word-splitting the list is intended
    set -- $missing
    ez_log "Debian packages missing: $*"
    command -v apt-get >/dev/null 2>&1 || ez_die "apt-get not found; install by hand: $*"
    local run=ez_as_root
    if [ "${EZ_DRY_RUN:-0}" = 1 ]; then
        run=ez_echo_cmd
    fi
    if [ -z "${EZ_APT_UPDATED:-}" ]; then
        "$run" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        EZ_APT_UPDATED=1
    fi
    "$run" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ez_echo_cmd() { printf 'dry-run: %s\n' "$*" >&2; }

# Swift itself cannot come from apt; fail early with a clear message.
ez_require_swift() {
    command -v swift >/dev/null 2>&1 ||
        ez_die "swift not found on PATH; install the Swift 6.3 toolchain from swift.org first"
}
