#!/usr/bin/env bash
# First command on a fresh Debian 12 machine that already has Swift 6.3: installs the
# missing Debian packages, builds and installs ezc, ezrun and ezguard (release, Swift
# runtime linked in) under PREFIX (default /usr/local: bin/ is on PATH), then runs the
# CI example for real with the INSTALLED tools, from a directory outside the checkout.
#   bash scripts/setup.sh            (EZ_DRY_RUN=1 to only print the apt-get commands)
#   PREFIX=$HOME/.local bash scripts/setup.sh   (no root needed for the copy)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ez_require_swift
ez_ensure_packages

PREFIX="${PREFIX:-/usr/local}"
export PREFIX
# The build runs as the user who owns .build; only the copy needs root (when PREFIX is
# not writable), and root's PATH may lack swift, so it is handed the binaries' directory.
bash scripts/install.sh build
EZ_BIN="$("${SWIFT:-swift}" build -c release --static-swift-stdlib --show-bin-path)"
if [ -w "$PREFIX" ] || { [ ! -e "$PREFIX" ] && [ -w "$(dirname "$PREFIX")" ]; }; then
    EZ_BIN="$EZ_BIN" bash scripts/install.sh copy
else
    ez_as_root env PREFIX="$PREFIX" EZ_BIN="$EZ_BIN" bash scripts/install.sh copy
fi

# From here on only the installed tools, found on PATH, run from outside the checkout:
# the stdlib is found beside the binary, never in the working directory.
EXAMPLES="$PWD/examples"
hash -r
ON_PATH="and on PATH"
for t in ezc ezrun; do
    if [ "$(command -v "$t" || true)" != "$PREFIX/bin/$t" ]; then
        ON_PATH="but NOT first on your PATH: add $PREFIX/bin to PATH"
        export PATH="$PREFIX/bin:$PATH"
    fi
done
OUT="$(mktemp -d)"
cd "$OUT"

EXAMPLE="$EXAMPLES/ci_pipeline.ezflow"
ez_log "ezc check $EXAMPLE"
status=0
ezc check "$EXAMPLE" || status=$?
if [ "$status" -ne 0 ]; then
    ez_log "ezc check $EXAMPLE: exit $status"
    exit "$status"
fi
ez_log "ezc check $EXAMPLE: clean"
ez_log "ezc check $EXAMPLES/stdlib_pipeline.ezflow (imports std/…, found in $PREFIX/share/ezflow/stdlib)"
ezc check "$EXAMPLES/stdlib_pipeline.ezflow"

ez_log "ezc build $EXAMPLE -o $OUT/ci_pipeline.ezir"
ezc build "$EXAMPLE" -o "$OUT/ci_pipeline.ezir"

# The example runs against simulated agents on a virtual clock, and one of the journals
# is verified by replaying it through the core.
ez_log "ezrun simulate $OUT/ci_pipeline.ezir --seed 1 --runs 20"
ezrun simulate "$OUT/ci_pipeline.ezir" --seed 1 --runs 20 --journal-dir "$OUT/journals"
ez_log "ezrun replay $OUT/journals/run-00.jsonl"
ezrun replay "$OUT/journals/run-00.jsonl" --workflow "$OUT/ci_pipeline.ezir"

# The real thing on the embedded default (SQLite journal under $OUT/.ezflow): exec tasks
# run, the approval gate pauses the run (exit 4), a releaser approves, resume finishes.
DB="$OUT/.ezflow/ezflow.db"
ez_log "ezrun run $EXAMPLE --as ana:ci --db $DB (pauses at the approval gate: exit 4)"
status=0
ezrun run "$EXAMPLE" --run-id setup-demo --as ana:ci --db "$DB" || status=$?
if [ "$status" -ne 4 ]; then
    ez_log "ezrun run: expected exit 4 (waiting for approval), got $status"
    exit 1
fi
ez_log "ezrun approve setup-demo approve_deploy --as rob:releaser --yes"
ezrun approve setup-demo approve_deploy --as rob:releaser --yes --db "$DB"
ez_log "ezrun resume setup-demo --junit $OUT/junit.xml --summary-md $OUT/summary.md"
ezrun resume setup-demo --as ana:ci --db "$DB" --junit "$OUT/junit.xml" --summary-md "$OUT/summary.md"
ezrun status setup-demo --db "$DB"

ez_log "example outputs in $OUT"
ez_log "setup done: ezc and ezrun are installed in $PREFIX/bin $ON_PATH (stdlib in $PREFIX/share/ezflow/stdlib; make uninstall removes them)"
