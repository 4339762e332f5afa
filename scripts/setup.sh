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

ez_log "swift build -c release --product ezc --product ezrun --product ezguard"
swift build -c release --product ezc
swift build -c release --product ezrun
swift build -c release --product ezguard
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

OUT="$(mktemp -d)"
ez_log "ezc build $EXAMPLE -o $OUT/ci_pipeline.ezir"
"$BIN/ezc" build "$EXAMPLE" -o "$OUT/ci_pipeline.ezir"

# `ezrun run` (real agents on the SQLite journal) is not there yet; until it is, the
# example runs end to end against simulated agents on a virtual clock, and one of the
# journals is verified by replaying it through the core.
ez_log "ezrun simulate $OUT/ci_pipeline.ezir --seed 1 --runs 20"
"$BIN/ezrun" simulate "$OUT/ci_pipeline.ezir" --seed 1 --runs 20 --journal-dir "$OUT/journals"
ez_log "ezrun replay $OUT/journals/run-00.jsonl"
"$BIN/ezrun" replay "$OUT/journals/run-00.jsonl" --workflow "$OUT/ci_pipeline.ezir"

# The real thing on the embedded default (SQLite journal under $OUT/.ezflow): exec tasks
# run, the approval gate pauses the run (exit 4), a releaser approves, resume finishes.
DB="$OUT/.ezflow/ezflow.db"
ez_log "ezrun run $EXAMPLE --as ana:ci --db $DB (pauses at the approval gate: exit 4)"
status=0
"$BIN/ezrun" run "$EXAMPLE" --run-id setup-demo --as ana:ci --db "$DB" || status=$?
if [ "$status" -ne 4 ]; then
    ez_log "ezrun run: expected exit 4 (waiting for approval), got $status"
    exit 1
fi
ez_log "ezrun approve setup-demo approve_deploy --as rob:releaser"
"$BIN/ezrun" approve setup-demo approve_deploy --as rob:releaser --db "$DB"
ez_log "ezrun resume setup-demo --junit $OUT/junit.xml --summary-md $OUT/summary.md"
"$BIN/ezrun" resume setup-demo --as ana:ci --db "$DB" --junit "$OUT/junit.xml" --summary-md "$OUT/summary.md"
"$BIN/ezrun" status setup-demo --db "$DB"

ez_log "setup done; ezc and ezrun are in $BIN (outputs in $OUT)"
