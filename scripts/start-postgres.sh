#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the shared-store tests and print
# the environment that points the tests at it:
#
#   eval "$(bash scripts/start-postgres.sh)"   # sets KTRIAGE_TEST_PG_DSN, KTRIAGE_TEST_PG_DATA
#   go test ./crashdir/
#   bash scripts/start-postgres.sh stop        # stops it and removes its files
#
# The cluster lives in a new temporary folder, owned by the postgres user
# (initdb refuses to run as root), and listens only on a Unix socket in that
# folder, so it never collides with a server already on the machine. Debian's
# postgresql package is installed when no server binaries are found (as root).
# Diagnostics go to standard error; standard output is only the exports.
set -euo pipefail

stop() {
  local data="${1:-${KTRIAGE_TEST_PG_DATA:-}}"
  [[ -n "$data" && -d "$data" ]] || { echo "start-postgres: nothing to stop" >&2; return 0; }
  local bin
  bin="$(pg_bin)"
  runuser -u postgres -- "$bin/pg_ctl" -D "$data/cluster" -m fast -w stop > /dev/null || true
  rm -rf "$data"
}

# pg_bin prints the newest installed server's bin folder.
pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

if [[ "${1:-}" == stop ]]; then
  stop "${2:-}"
  exit 0
fi

if ! pg_bin > /dev/null; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "start-postgres: no PostgreSQL server installed (apt-get install -y postgresql)" >&2
    exit 1
  fi
  echo "start-postgres: installing Debian's postgresql package" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
bin="$(pg_bin)" || { echo "start-postgres: PostgreSQL server binaries not found" >&2; exit 1; }
id postgres > /dev/null 2>&1 || { echo "start-postgres: no postgres user" >&2; exit 1; }

data="$(mktemp -d /tmp/ktriage-pg.XXXXXX)"
chmod 755 "$data"
chown postgres: "$data"
# A port number only names the socket file; pick one no server here uses.
port=$((20000 + RANDOM % 20000))
while [[ -e "/tmp/.s.PGSQL.$port" || -e "/var/run/postgresql/.s.PGSQL.$port" ]]; do
  port=$((20000 + RANDOM % 20000))
done

# The tools' chatter goes to a log, shown only when something fails.
failed() {
  cat "$data/setup.log" "$data/server.log" >&2 2>/dev/null || true
  echo "start-postgres: $1 failed" >&2
  exit 1
}
runuser -u postgres -- "$bin/initdb" -D "$data/cluster" -A trust -U postgres --no-sync -E UTF8 \
  > "$data/setup.log" 2>&1 || failed initdb
runuser -u postgres -- "$bin/pg_ctl" -D "$data/cluster" -l "$data/server.log" -w -t 60 \
  -o "-k $data -p $port -c listen_addresses='' -c fsync=off -c max_connections=50" start \
  >> "$data/setup.log" 2>&1 || failed "pg_ctl start"
runuser -u postgres -- "$bin/createdb" -h "$data" -p "$port" -U postgres ktriage_test \
  >> "$data/setup.log" 2>&1 || failed createdb
echo "start-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on socket $data, port $port" >&2

echo "export KTRIAGE_TEST_PG_DSN='postgres://postgres@/ktriage_test?host=$data&port=$port&sslmode=disable'"
echo "export KTRIAGE_TEST_PG_DATA='$data'"
