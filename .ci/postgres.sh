# Start a throw-away PostgreSQL server on 127.0.0.1 for the tuning tests.  Source it:
#
#     . .ci/postgres.sh && trap postgres_stop EXIT
#
# It finds the server programs (PATH, then Debian's /usr/lib/postgresql/*/bin), installs
# Debian's `postgresql` package with apt-get when there are none, runs the server as a
# non-root user (PostgreSQL refuses root) with its data in a temporary folder and a free
# port, and exports ANYARRAY_NN_TEST_POSTGRES_URL.  `postgres_stop` stops it and removes
# the folder.

_pg_find_bin() {
    local dir
    for dir in "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /none/pg_ctl)")" \
        /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

_pg_as_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

postgres_stop() {
    if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP/data" ]; then
        _pg_as_user "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [ -n "${PG_TMP:-}" ] && rm -rf "$PG_TMP"
    unset ANYARRAY_NN_TEST_POSTGRES_URL
    return 0
}

_pg_start() {
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if ! PG_BIN="$(_pg_find_bin)"; then
        echo "postgres.sh: installing Debian's postgresql package"
        $sudo apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null &&
            PG_BIN="$(_pg_find_bin)" || {
            echo "postgres.sh: no PostgreSQL server available" >&2
            return 1
        }
    fi
    PG_USER="$(id -un)"
    if [ "$(id -u)" = 0 ]; then
        PG_USER=postgres
        id -u "$PG_USER" >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
    PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/anyarray-nn-pg.XXXXXX")"
    chown "$PG_USER" "$PG_TMP"
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    _pg_as_user "$PG_BIN/initdb" -D "$PG_TMP/data" -U anyarray --auth=trust -E UTF8 \
        >"$PG_TMP/initdb.log" 2>&1 || {
        cat "$PG_TMP/initdb.log" >&2
        return 1
    }
    _pg_as_user "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $PG_TMP" start >/dev/null || {
        cat "$PG_TMP/server.log" >&2
        return 1
    }
    export ANYARRAY_NN_TEST_POSTGRES_URL="postgresql+psycopg2://anyarray@127.0.0.1:$port/postgres"
    echo "postgres.sh: $("$PG_BIN/postgres" --version) on 127.0.0.1:$port"
}

_pg_start || {
    postgres_stop
    false
}
