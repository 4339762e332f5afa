#!/usr/bin/env bash
# Second command: installs missing Debian packages (like setup.sh) and the venv of the
# official LLM SDKs (.build/sdk-venv, EZFLOW_SDK_PYTHON), installs the tools into a
# temporary prefix (`make install`: release, Swift runtime linked in; EZFLOW_TEST_PREFIX,
# driven by Tests/EzcTests/InstallTests), builds the tests and runs them.
# The output ends with the XCTest and the Swift Testing summaries; the exit status is
# swift test's (non-zero if either framework has a failure, or if the venv cannot be made).
#   bash scripts/test.sh             (EZ_DRY_RUN=1 to only print the apt-get commands)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ez_require_swift
EZ_WITH_TEST_PACKAGES=1 ez_ensure_packages

# --- HOOK: throwaway PostgreSQL / Redis servers (not started yet) ------------------
# No test uses a server yet. When the backend tests arrive, uncomment this block; the
# tests are gated on EZ_PG / EZ_REDIS and skip (rc 0) when those are unset.
# Recipe from SWIFT-NOTES.md §1 (as root; the directory must be owned by postgres):
#
# EZ_SRV_DIR="$(mktemp -d /tmp/ezflow-test-servers.XXXXXX)"
# chown postgres "$EZ_SRV_DIR"
# ez_stop_servers() {
#     su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $EZ_SRV_DIR/data stop -m fast" >/dev/null 2>&1 || true
#     [ -f "$EZ_SRV_DIR/redis.pid" ] && kill "$(cat "$EZ_SRV_DIR/redis.pid")" 2>/dev/null || true
#     rm -rf "$EZ_SRV_DIR"
# }
# trap ez_stop_servers EXIT
# su postgres -c "/usr/lib/postgresql/15/bin/initdb -D $EZ_SRV_DIR/data -A trust -U postgres" >/dev/null
# su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $EZ_SRV_DIR/data -l $EZ_SRV_DIR/log -w -o '-p 54329 -k $EZ_SRV_DIR -c listen_addresses=127.0.0.1' start"
# redis-server --port 63799 --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
#     --daemonize yes --pidfile "$EZ_SRV_DIR/redis.pid" --dir "$EZ_SRV_DIR"
# export EZ_PG="host=127.0.0.1 port=54329 user=postgres dbname=postgres"
# export EZ_REDIS="127.0.0.1:63799"
# (with the trap in place, run `swift test` below without exec so the servers get stopped)
# -----------------------------------------------------------------------------------

ez_sdk_venv

EZFLOW_TEST_PREFIX="$(mktemp -d /tmp/ezflow-test-prefix.XXXXXX)"
trap 'rm -rf "$EZFLOW_TEST_PREFIX"' EXIT
export EZFLOW_TEST_PREFIX
ez_log "make install PREFIX=$EZFLOW_TEST_PREFIX"
make -s install PREFIX="$EZFLOW_TEST_PREFIX"

ez_log "swift build --build-tests"
swift build --build-tests

ez_log "swift test"
swift test
