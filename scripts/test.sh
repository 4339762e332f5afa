#!/usr/bin/env bash
# Second command: installs missing Debian packages (like setup.sh), the venv of the
# official LLM SDKs (.build/sdk-venv, EZFLOW_SDK_PYTHON) and the editor clients' venv
# (.build/editor-venv, EZFLOW_EDITOR_PYTHON), installs the tools into a
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

# Throwaway PostgreSQL and Redis servers on loopback for the backend tests (EZ_PG,
# EZ_REDIS); a plain `swift test` without them skips those tests.
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
EZFLOW_TEST_PREFIX=""
ez_cleanup() { ez_stop_servers; [ -n "$EZFLOW_TEST_PREFIX" ] && rm -rf "$EZFLOW_TEST_PREFIX"; return 0; }
trap ez_cleanup EXIT
ez_start_servers "${EZ_TEST_PG_PORT:-54329}" "${EZ_TEST_REDIS_PORT:-63799}"

ez_sdk_venv
ez_editor_venv

EZFLOW_TEST_PREFIX="$(mktemp -d /tmp/ezflow-test-prefix.XXXXXX)"
export EZFLOW_TEST_PREFIX
ez_log "make install PREFIX=$EZFLOW_TEST_PREFIX"
make -s install PREFIX="$EZFLOW_TEST_PREFIX"

ez_log "swift build --build-tests"
swift build --build-tests

ez_log "swift test"
swift test
