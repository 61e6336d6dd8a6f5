#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL on 127.0.0.1 for the test suite.
#   scripts/pg.sh start   -> installs Debian's postgresql if missing, prints the URL
#   scripts/pg.sh stop
#   scripts/pg.sh running  -> exit 0 when a server is already up on the port
# `make test` stops the server afterwards only if it started it, so a server someone
# else is using is never pulled from under them.
# The recipe follows shared/docs/testing-notes.md §7: postgres refuses to run as root,
# so the cluster is owned by the `postgres` user (or the current user when not root).
set -euo pipefail
PORT="${OPTIMIZER_PG_PORT:-55432}"
STATE="${OPTIMIZER_PG_DIR:-/tmp/optimizer-pg-$PORT}"
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

install_pg() {
  if [ -n "$(pgbin)" ] && [ -x "$(pgbin)/initdb" ]; then return; fi
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed and this is not root: install Debian's 'postgresql' package" >&2
    return 1
  fi
  echo "installing PostgreSQL from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
}

start() {
  install_pg
  local bin; bin="$(pgbin)"
  if running; then echo "$URL"; return; fi
  rm -rf "$STATE"; mkdir -p "$STATE"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$STATE"
  as_pg "$bin/initdb -D $STATE/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
  as_pg "$bin/pg_ctl -D $STATE/data -l $STATE/server.log -w -t 60 \
    -o '-p $PORT -k $STATE -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off' start" >/dev/null
  echo "$URL"
}

running() {
  local bin; bin="$(pgbin)"
  [ -n "$bin" ] && [ -f "$STATE/data/postmaster.pid" ] && \
    as_pg "$bin/pg_ctl -D $STATE/data status" >/dev/null 2>&1
}

stop() {
  local bin; bin="$(pgbin)"
  [ -n "$bin" ] && [ -d "$STATE/data" ] && as_pg "$bin/pg_ctl -D $STATE/data -m fast stop" >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  running) running ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|running|url" >&2; exit 2 ;;
esac
