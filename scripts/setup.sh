#!/usr/bin/env bash
# First command on a fresh Debian 12 machine that already has Swift 6.3:
# installs the missing Debian packages, builds ezc (release) and checks an example.
#   bash scripts/setup.sh            (EZ_DRY_RUN=1 to only print the apt-get commands)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ez_require_swift
ez_ensure_packages

ez_log "swift build -c release --product ezc"
swift build -c release --product ezc
BIN="$(swift build -c release --show-bin-path)"

EXAMPLE=examples/ci_pipeline.ezflow
ez_log "ezc check $EXAMPLE"
status=0
"$BIN/ezc" check "$EXAMPLE" || status=$?
if [ "$status" -ne 0 ]; then
    ez_log "ezc check $EXAMPLE: exit $status"
    exit "$status"
fi
ez_log "ezc check $EXAMPLE: clean"

# --- later: run the example end to end with ezrun ----------------------------------
# Once ezrun exists, build it and run the same example here, e.g.:
#   swift build -c release --product ezrun
#   "$BIN/ezrun" run "$EXAMPLE"
# -----------------------------------------------------------------------------------

ez_log "setup done; ezc is at $BIN/ezc"
