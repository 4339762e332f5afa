# shellcheck shell=bash
# Throwaway PostgreSQL and Redis servers on loopback for the backend tests (SWIFT-NOTES.md
# §1). Source scripts/lib.sh, then this file:
#   ez_start_servers [PG_PORT] [REDIS_PORT]   starts both in a fresh directory, exports
#                                             EZ_PG (a libpq conninfo), EZ_REDIS (host:port),
#                                             EZ_PG_DATA, EZ_PG_BIN and EZ_REDIS_CONF
#                                             (what the restart tests need: `pg_ctl restart`
#                                             as the postgres user keeps the options)
#   ez_stop_servers                           stops both and removes the directory
# Redis runs with appendonly on: with it off a restart test loses every entry.

ez_start_servers() {
    local pg_port="${1:-54329}" redis_port="${2:-63799}" bin=/usr/lib/postgresql/15/bin
    [ -x "$bin/initdb" ] || ez_die "PostgreSQL 15 server binaries not found in $bin (apt-get install postgresql)"
    command -v redis-server >/dev/null 2>&1 || ez_die "redis-server not found (apt-get install redis-server)"
    EZ_SRV_DIR="$(mktemp -d /tmp/ezflow-test-servers.XXXXXX)"
    chmod 755 "$EZ_SRV_DIR"
    ez_as_root chown postgres "$EZ_SRV_DIR"
    ez_as_root su postgres -s /bin/sh -c "$bin/initdb -D $EZ_SRV_DIR/data -A trust -U postgres" >/dev/null \
        || ez_die "initdb failed"
    ez_as_root su postgres -s /bin/sh -c "$bin/pg_ctl -D $EZ_SRV_DIR/data -l $EZ_SRV_DIR/pg.log -w -o '-p $pg_port -k $EZ_SRV_DIR -c listen_addresses=127.0.0.1' start" >/dev/null \
        || ez_die "PostgreSQL did not start (see $EZ_SRV_DIR/pg.log)"
    mkdir -p "$EZ_SRV_DIR/redis"
    EZ_REDIS_CONF="$EZ_SRV_DIR/redis/redis.conf"
    cat > "$EZ_REDIS_CONF" <<CONF
port $redis_port
bind 127.0.0.1
save ""
appendonly yes
appendfsync everysec
maxmemory-policy noeviction
daemonize yes
pidfile $EZ_SRV_DIR/redis/redis.pid
dir $EZ_SRV_DIR/redis
logfile $EZ_SRV_DIR/redis/redis.log
CONF
    redis-server "$EZ_REDIS_CONF" || ez_die "redis-server did not start"
    local i
    for i in $(seq 1 50); do
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    EZ_PG="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
    EZ_REDIS="127.0.0.1:$redis_port"
    EZ_PG_DATA="$EZ_SRV_DIR/data"
    EZ_PG_BIN="$bin"
    # The Redis restart test kills and restarts this server (RedisBackendTests).
    EZ_REDIS_RESTART_CONF="$EZ_REDIS_CONF"
    export EZ_PG EZ_REDIS EZ_PG_DATA EZ_PG_BIN EZ_REDIS_CONF EZ_REDIS_RESTART_CONF EZ_SRV_DIR
    ez_log "test servers: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port ($EZ_SRV_DIR)"
}

ez_stop_servers() {
    [ -n "${EZ_SRV_DIR:-}" ] && [ -d "$EZ_SRV_DIR" ] || return 0
    ez_as_root su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D $EZ_SRV_DIR/data stop -m immediate" >/dev/null 2>&1 || true
    [ -f "$EZ_SRV_DIR/redis/redis.pid" ] && kill "$(cat "$EZ_SRV_DIR/redis/redis.pid")" 2>/dev/null || true
    sleep 0.2
    ez_as_root rm -rf "$EZ_SRV_DIR"
}
