#!/usr/bin/env bash
# The peers of `ezbench distributed` (docs/BENCHMARKS.md, "Distributed"): pgqueuer on
# PostgreSQL and dramatiq on Redis, in a throwaway venv, on the same servers, 20,000 no-op
# jobs, 4 worker processes of 16 each, both modes (drain, lanes). Not part of CI.
#   EZ_PG="host=127.0.0.1 port=54330 user=postgres dbname=postgres" EZ_REDIS=127.0.0.1:63800 scripts/bench-peers.sh
# Take the build lock around it (/work/bin/ezlock) so nothing else runs beside it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${EZBENCH_VENV:-/tmp/ezbench-venv}"
jobs="${JOBS:-20000}" workers="${WORKERS:-4}" concurrency="${CONCURRENCY:-16}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q pgqueuer 'dramatiq[redis]' asyncpg
fi
pg_url() {  # a libpq key=value conninfo as a URL
    local user=postgres host=127.0.0.1 port=5432 db=postgres kv
    for kv in $1; do
        case "$kv" in user=*) user="${kv#user=}" ;; host=*) host="${kv#host=}" ;; port=*) port="${kv#port=}" ;; dbname=*) db="${kv#dbname=}" ;; esac
    done
    echo "postgresql://$user@$host:$port/$db"
}
for mode in drain lanes; do
    if [ -n "${EZ_PG:-}" ]; then
        "$venv/bin/python" "$here/bench/peers/pgqueuer_bench.py" --dsn "$(pg_url "$EZ_PG")" --jobs "$jobs" --workers "$workers" \
            --concurrency "$concurrency" --mode "$mode"
    fi
    if [ -n "${EZ_REDIS:-}" ]; then
        "$venv/bin/python" "$here/bench/peers/dramatiq_bench.py" --redis "redis://$EZ_REDIS" --jobs "$jobs" --workers "$workers" \
            --concurrency "$concurrency" --mode "$mode"
    fi
done
