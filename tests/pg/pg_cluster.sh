#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the tests that need one.
#
#   pg_cluster.sh start <state_dir>   fresh cluster in <state_dir>, Unix socket only; prints
#                                     the libpq conninfo and writes it to <state_dir>/conninfo
#   pg_cluster.sh stop  <state_dir>   stops it (if running) and removes <state_dir>
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the system user
# smooth-pg (created here if missing); otherwise to the current user. <state_dir> must be
# an absolute path under a directory that user can traverse (use /tmp: a build tree under
# /root is not) and short enough for a Unix socket path. Any failure exits non-zero with
# the tail of the server log: a test that needs PostgreSQL must fail, not skip.
#
# Environment: SMOOTH_PG_BIN (default /usr/lib/postgresql/15/bin), SMOOTH_PG_PORT (default
# 5432: with listen_addresses='' no TCP port is opened, the port only names the socket
# file <state_dir>/.s.PGSQL.<port>, and the socket directory is private to the cluster,
# so it cannot clash with another cluster).
set -euo pipefail

pg_bin=${SMOOTH_PG_BIN:-/usr/lib/postgresql/15/bin}
port=${SMOOTH_PG_PORT:-5432}
pg_user_root=smooth-pg

# Client and server tools must not pick up a developer's PG* settings.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^PG' || true)

usage() {
  echo "usage: $0 start|stop <state_dir>" >&2
  exit 2
}

[ $# -eq 2 ] || usage
action=$1
state_dir=${2%/}
case "$state_dir" in
  /*) ;;
  *) echo "pg_cluster: state dir must be an absolute path: $state_dir" >&2; exit 2 ;;
esac
case "$state_dir" in
  *[!A-Za-z0-9/._-]*)
    echo "pg_cluster: state dir may only use [A-Za-z0-9/._-]: $state_dir" >&2; exit 2 ;;
esac
[ "$state_dir" != / ] || usage

data_dir=$state_dir/data
log_file=$state_dir/log
conninfo_file=$state_dir/conninfo

# Runs a command as the cluster's owner, from a directory it can read, with its own HOME.
# $run_user is set by the caller.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u "$run_user" -- env HOME="$state_dir" "$@")
  else
    (cd / && env HOME="$state_dir" "$@")
  fi
}

log_tail() {
  if [ -f "$log_file" ]; then
    echo "pg_cluster: ---- last lines of $log_file ----" >&2
    tail -n 40 "$log_file" >&2 || true
    echo "pg_cluster: ----" >&2
  else
    echo "pg_cluster: no server log at $log_file" >&2
  fi
}

fail() {
  echo "pg_cluster: $*" >&2
  log_tail
  exit 1
}

# True while process $1 exists and is not a zombie. The postmaster is reparented to PID 1,
# which may be slow to reap it: an exited postmaster can linger as a zombie for seconds.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# Stops a cluster in $state_dir if one runs, then removes $state_dir. Safe to call when
# nothing is there.
stop_cluster() {
  [ -e "$state_dir" ] || return 0
  run_user=$(stat -c %U "$state_dir")
  local pid=
  if [ -f "$data_dir/postmaster.pid" ]; then
    pid=$(head -n 1 "$data_dir/postmaster.pid" 2>/dev/null || true)
    as_owner "$pg_bin/pg_ctl" -D "$data_dir" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
    # The postmaster has exited once pg_ctl returns; wait anyway (10 s at most) in case it
    # was not answering, and kill it if it is still there.
    if [[ "$pid" =~ ^[0-9]+$ ]]; then
      local i
      for i in $(seq 1 100); do
        running "$pid" || break
        sleep 0.1
      done
      if running "$pid"; then
        echo "pg_cluster: postmaster $pid did not stop; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  rm -rf "$state_dir"
}

start_cluster() {
  [ -x "$pg_bin/initdb" ] || fail "no PostgreSQL at $pg_bin (install postgresql-15, see scripts/install-deps.sh)"

  # Unix socket paths are limited to 107 bytes: <state_dir>/.s.PGSQL.<port> must fit.
  local socket_path="$state_dir/.s.PGSQL.$port"
  [ ${#socket_path} -lt 100 ] || fail "state dir too long for a Unix socket path: $socket_path"

  if [ "$(id -u)" -eq 0 ]; then
    run_user=$pg_user_root
    if ! id "$run_user" >/dev/null 2>&1; then
      # Another start may be racing us to create it: only fail if it still does not exist.
      useradd --system --no-create-home --shell /usr/sbin/nologin "$run_user" \
        || id "$run_user" >/dev/null 2>&1 \
        || fail "could not create the system user $run_user"
    fi
  else
    run_user=$(id -un)
  fi

  # A cluster left over from a run that never stopped it goes first.
  stop_cluster
  mkdir -m 0700 "$state_dir" || fail "could not create $state_dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown "$run_user:" "$state_dir" || fail "could not chown $state_dir to $run_user"
  fi
  as_owner test -w "$state_dir" -a -x "$state_dir" \
    || fail "$run_user cannot reach $state_dir (a parent directory is not traversable: use /tmp)"

  # --no-sync only skips flushing the new cluster's files (3 s of the start): the server
  # itself runs with fsync and synchronous_commit on.
  as_owner "$pg_bin/initdb" -D "$data_dir" --auth=trust -U smooth \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$state_dir/initdb.log" 2>&1 \
    || { cat "$state_dir/initdb.log" >&2; fail "initdb failed"; }

  as_owner "$pg_bin/pg_ctl" -D "$data_dir" \
    -o "-k $state_dir -p $port -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c max_connections=100 -c shared_buffers=64MB" \
    -l "$log_file" -w -t 60 start >/dev/null \
    || fail "the server did not start"

  "$pg_bin/createdb" -h "$state_dir" -p "$port" -U smooth smooth_test \
    || fail "createdb smooth_test failed"

  local conninfo="host=$state_dir port=$port user=smooth dbname=smooth_test"
  printf '%s\n' "$conninfo" >"$conninfo_file" || fail "could not write $conninfo_file"
  chmod 0644 "$conninfo_file"
  echo "$conninfo"
}

case "$action" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  *) usage ;;
esac
