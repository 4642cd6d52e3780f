#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests (CTest's `postgres` fixture; README "Tests").
#
#   scripts/pg-test-server.sh start DIR   initdb into DIR/pg, start on 127.0.0.1 and a free
#                                         port, wait until it answers, write the base URL
#                                         (postgresql://postgres@127.0.0.1:PORT) to DIR/url
#   scripts/pg-test-server.sh stop DIR    stop it (fast shutdown) and remove DIR
#
# `start` first stops and removes whatever an earlier run left in DIR. The server trusts every
# loopback connection (-A trust) and runs with fsync off: it is for tests only, holds nothing
# worth keeping and listens on 127.0.0.1 alone (no Unix socket). Tests create their own
# databases on it (tests/support/test_database.h).
#
# PostgreSQL refuses to run as root, so as root the cluster is owned by and run as the user
# `postgres` (Debian's postgresql package creates it). When that user cannot reach DIR (a
# checkout under /root, say), the cluster goes to a temporary directory and DIR/pg is a symlink
# to it. As any other user, initdb and the server run directly.
#
# Env: PG_BINDIR (default: PostgreSQL 15's bin directory, else the newest installed).
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
(($# == 2)) || usage
action=$1
dir=$2
[[ -n $dir && $dir != / ]] || usage

find_bindir() {
  if [[ -n ${PG_BINDIR:-} ]]; then
    echo "$PG_BINDIR"
  elif [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    echo /usr/lib/postgresql/15/bin
  else
    local newest
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z $newest ]]; then
      echo "pg-test-server: PostgreSQL's server binaries are not installed" \
        "(scripts/install-deps.sh --test installs postgresql-15)" >&2
      exit 1
    fi
    echo "$newest"
  fi
}
BIN=$(find_bindir)

# Runs a PostgreSQL program as the user that owns the cluster.
as_owner() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The cluster directory (DIR/pg, or where its symlink points).
cluster() { readlink -f "$dir/pg" 2>/dev/null || echo "$dir/pg"; }

stop() {
  if [[ -f $(cluster)/postmaster.pid ]]; then
    as_owner "$BIN/pg_ctl" -D "$(cluster)" -m fast -w -t 60 stop >/dev/null ||
      echo "pg-test-server: pg_ctl stop failed; see $dir/pg/server.log" >&2
  fi
  if [[ -L $dir/pg ]]; then rm -rf "$(cluster)"; fi
  rm -rf "$dir"
}

# A port nothing listens on now. Another process may take it before the server binds it;
# start() then tries again with another.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Makes an empty cluster directory the cluster's owner can write.
make_cluster_dir() {
  mkdir -p "$dir"
  if ((EUID != 0)); then
    mkdir "$dir/pg"
    return
  fi
  if ! id postgres >/dev/null 2>&1; then
    echo "pg-test-server: running as root needs the user 'postgres' (package postgresql-15)" >&2
    exit 1
  fi
  mkdir "$dir/pg"
  chown postgres "$dir/pg"
  if ! runuser -u postgres -- test -w "$dir/pg"; then
    # A parent of DIR is closed to postgres: keep the cluster where it can go.
    rmdir "$dir/pg"
    local elsewhere
    elsewhere=$(mktemp -d "${TMPDIR:-/tmp}/outreach-pg-XXXXXX")
    chmod 700 "$elsewhere"
    chown postgres "$elsewhere"
    ln -s "$elsewhere" "$dir/pg"
  fi
}

start() {
  stop
  make_cluster_dir
  local data
  data=$(cluster)
  as_owner "$BIN/initdb" -D "$data" -A trust -U postgres --locale=C -E UTF8 --no-sync \
    >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    # -w waits until the server accepts connections (pg_ctl reads postmaster.pid's status).
    if as_owner "$BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" \
      -o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      -o "-c max_connections=300 -c shared_buffers=64MB" start >/dev/null; then
      if as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
        printf 'postgresql://postgres@127.0.0.1:%s' "$port" >"$dir/url.tmp"
        mv "$dir/url.tmp" "$dir/url"
        echo "pg-test-server: PostgreSQL $("$BIN/postgres" -V | awk '{print $3}')" \
          "ready at $(cat "$dir/url") (data in $data)"
        return
      fi
      as_owner "$BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null || true
    fi
    echo "pg-test-server: start on port $port failed (attempt $attempt):" >&2
    tail -n 5 "$data/server.log" >&2 || true
  done
  exit 1
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
