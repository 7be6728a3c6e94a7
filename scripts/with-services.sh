#!/usr/bin/env bash
# Run a command with PostgreSQL and Redis available, exporting DATABASE_URL and REDIS_URL.
#
# Uses the machine's servers on 127.0.0.1:5432 / :6379 when they answer (after trying the
# machine's own start commands). Otherwise it starts throwaway ones on free ports
# (an initdb cluster and a redis-server under var/test-services), installing Debian's
# packages first when the binaries are missing, and stops them when the command ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=$ROOT/var/test-services
mkdir -p "$STATE"
STARTED_PIDS=()
PG_STARTED_DIR=""

cleanup() {
    if [ -n "$PG_STARTED_DIR" ]; then
        run_as_postgres "$PG_BIN/pg_ctl" -D "$PG_STARTED_DIR" -m immediate stop >/dev/null 2>&1 || true
    fi
    for pid in "${STARTED_PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing Debian packages: $*" >&2
        apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "missing $* and cannot install it (not root or no apt-get)" >&2
        return 1
    fi
}

run_as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# ---- PostgreSQL -------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p "$1" 2>/dev/null; }

if [ -z "${DATABASE_URL:-}" ]; then
    if ! command -v pg_isready >/dev/null; then apt_install postgresql; fi
    if ! pg_up 5432 && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null || true
        sleep 1
    fi
    if pg_up 5432 && psql -h 127.0.0.1 -U postgres -tAc 'select 1' >/dev/null 2>&1; then
        export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    else
        PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
        if [ ! -x "$PG_BIN/initdb" ]; then
            apt_install postgresql
            PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
        fi
        PG_PORT=$(free_port)
        PG_STARTED_DIR=$STATE/pg-$PG_PORT
        rm -rf "$PG_STARTED_DIR" && mkdir -p "$PG_STARTED_DIR"
        [ "$(id -u)" = 0 ] && chown postgres "$PG_STARTED_DIR" "$STATE"
        echo "==> starting a throwaway PostgreSQL on 127.0.0.1:$PG_PORT" >&2
        run_as_postgres "$PG_BIN/initdb" -D "$PG_STARTED_DIR" -U postgres --auth=trust >/dev/null
        run_as_postgres "$PG_BIN/pg_ctl" -D "$PG_STARTED_DIR" -l "$PG_STARTED_DIR/log" -w \
            -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_STARTED_DIR -c fsync=off" start >/dev/null
        export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
    fi
fi

# ---- Redis ------------------------------------------------------------------------------
# Fault tests start redis-server processes of their own, so the binary must exist anyway.
if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
if [ -z "${REDIS_URL:-}" ]; then
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
            --dir /tmp --logfile /tmp/redis-ci.log >/dev/null 2>&1 || true
        sleep 0.5
    fi
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        export REDIS_URL=redis://127.0.0.1:6379/0
    else
        REDIS_PORT=$(free_port)
        echo "==> starting a throwaway Redis on 127.0.0.1:$REDIS_PORT" >&2
        redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
            --dir "$STATE" >"$STATE/redis-$REDIS_PORT.log" 2>&1 &
        STARTED_PIDS+=($!)
        for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
        export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
    fi
fi

# Browser tests drive Debian's Chromium (no browser downloads on these machines).
if ! command -v chromium >/dev/null; then apt_install chromium chromium-driver || true; fi

echo "==> PostgreSQL: ${DATABASE_URL%%\?*}  Redis: $REDIS_URL" >&2
"$@"
