#!/usr/bin/env bash
# Where a durable booking's time goes on PostgreSQL, measured with pgbench on a throwaway
# cluster (tests/pg/pg_cluster.sh: fsync=on, synchronous_commit=on, a Unix socket), without
# libsmooth's client in the way:
#   - one writer: the baseline INSERT under the EXCLUDE constraint, against the statements a
#     libsmooth booking sends as one pipeline (guard, epoch check, appointment INSERT whose
#     trigger writes the occupancy row), and that booking without its guard, without its
#     occupancy row, and as a single row under the EXCLUDE constraint;
#   - a tenant's commits serialized on its change_seq row lock, as libsmooth's are: batches of
#     4 and 8 bookings a commit with the guard first (one batch at a time, as now), and with
#     the guard last and two batches in flight (the next batch's rows written while the one
#     before flushes its WAL), against the baseline's 8 independent writers.
# Prints the median of three runs of each, in transactions and rows a second. docs/storage.md
# ("Where a PostgreSQL booking's time goes") quotes a run.
#
# Usage: bench/pg_ceilings.sh [BUILD_DIR]   (default build-bench; needs its smooth-admin)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
admin=$build/tools/smooth_admin/smooth-admin
pgbin=/usr/lib/postgresql/15/bin
seconds=${SMOOTH_CEILING_SECONDS:-4}
[ -x "$admin" ] || { echo "no $admin: build the tree first" >&2; exit 1; }

state=${TMPDIR:-/tmp}/smooth-ceilings-$$  # pg_cluster.sh creates it
scripts=$(mktemp -d "${TMPDIR:-/tmp}/smooth-ceilings-sql-XXXXXX")
cleanup() {
  bash "$root/tests/pg/pg_cluster.sh" stop "$state" >/dev/null 2>&1 || true
  rm -rf "$scripts"
}
trap cleanup EXIT
bash "$root/tests/pg/pg_cluster.sh" start "$state" >/dev/null
conninfo=$(cat "$state/conninfo")
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$conninfo"; }
conn=(-h "$(field host)" -p "$(field port)" -U "$(field user)")

"$pgbin/psql" "${conn[@]}" -d "$(field dbname)" -qc "CREATE DATABASE ceilings"
db="${conninfo/dbname=$(field dbname)/dbname=ceilings}"
"$admin" --storage "$db" migrate >/dev/null
printf 'correct horse battery staple\n' |
  "$admin" --storage "$db" create-superuser --email root@ceilings.test >/dev/null
"$admin" --storage "$db" create-tenant --slug acme --name Acme --time-zone UTC >/dev/null
"$pgbin/psql" "${conn[@]}" -d ceilings -q <<'SQL'
INSERT INTO tenant_acme.resources VALUES (1001, 'Chair', 'staff', 1, 'UTC', NULL, 1, '{}', 0, 0);
CREATE SEQUENCE ids START 1000000;
-- The baseline's table, as bench/storage_bench.cpp makes it.
CREATE TABLE baseline (id bigserial PRIMARY KEY, resource_id bigint NOT NULL,
  occupied_start timestamptz NOT NULL, occupied_end timestamptz NOT NULL, active boolean NOT NULL,
  EXCLUDE USING gist (resource_id WITH =, tstzrange(occupied_start, occupied_end) WITH &&)
  WHERE (active));
-- The appointments table without its occupancy trigger (LIKE copies indexes, not triggers).
CREATE TABLE tenant_acme.no_occupancy (LIKE tenant_acme.appointments INCLUDING ALL);
-- An appointment carrying its own occupancy under the EXCLUDE constraint, primary key only.
CREATE TABLE tenant_acme.one_row (LIKE tenant_acme.appointments INCLUDING DEFAULTS);
ALTER TABLE tenant_acme.one_row ADD PRIMARY KEY (id),
  ADD COLUMN occ_resource bigint, ADD COLUMN occupied_start timestamptz,
  ADD COLUMN occupied_end timestamptz, ADD COLUMN active boolean,
  ADD EXCLUDE USING gist (occ_resource WITH =, tstzrange(occupied_start, occupied_end) WITH &&)
    WHERE (active);
SQL

# Times are random microseconds, one microsecond long: bookings never overlap.
guard='WITH advanced AS (UPDATE tenant_acme.change_seq SET value = value + 1 RETURNING value)
  SELECT CASE WHEN EXISTS (SELECT 1 FROM advanced) THEN 0 ELSE 1 END;
SELECT CASE WHEN value = 0 THEN 0 ELSE 1 END FROM public.shared_epoch;'
columns='id, service, resources, customer, start_at, end_at, buffer_before, buffer_after, status,
  notes, created_by, created_at, updated_at, version, idempotency_key, series, outside_hours,
  change_seq'
values="nextval('ids'), 1, '[1001]', 1, :t::bigint + g, :t::bigint + g + 1, 0, 0, 'confirmed', '', 1, 0, 0, 1,
  NULL, NULL, 0, 5"
insert() {  # table rows
  echo "INSERT INTO tenant_acme.$1 ($columns) SELECT $values FROM generate_series(1, $2) g;"
}
write() {  # name body...
  local name=$1
  shift
  { echo '\set t random(1, 1000000000000000)'; printf '%s\n' "$@"; } >"$scripts/$name.sql"
}
write baseline '\set r random(1, 1000000000)' '\set s random(1, 1000000000)' \
  'INSERT INTO baseline (resource_id, occupied_start, occupied_end, active)
     VALUES (:r, to_timestamp(:s), to_timestamp(:s + 1), true);'
write booking '\startpipeline' "$guard" "$(insert appointments 1)" '\endpipeline'
write booking_without_guard '\startpipeline' "$(insert appointments 1)" '\endpipeline'
write booking_without_occupancy '\startpipeline' "$guard" "$(insert no_occupancy 1)" '\endpipeline'
write one_row_booking '\startpipeline' "$guard" \
  "INSERT INTO tenant_acme.one_row ($columns, occ_resource, occupied_start, occupied_end, active)
     SELECT $values, 1001, to_timestamp(:t::bigint / 1000000.0), to_timestamp((:t::bigint + 1) / 1000000.0), true
     FROM generate_series(1, 1) g;" '\endpipeline'
for n in 4 8; do
  write "batch${n}_guard_first" '\startpipeline' "$guard" "$(insert appointments $n)" '\endpipeline'
  write "batch${n}_guard_last" '\startpipeline' 'BEGIN;' "$(insert appointments $n)" "$guard" \
    'COMMIT;' '\endpipeline'
done

run() {  # name clients rows-per-transaction
  local tps=()
  for _ in 1 2 3; do
    tps+=("$("$pgbin/pgbench" "${conn[@]}" -n -M prepared -c "$2" -j "$2" -T "$seconds" \
      -f "$scripts/$1.sql" ceilings 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')")
  done
  local median
  median=$(printf '%s\n' "${tps[@]}" | sort -n | sed -n 2p)
  [ -n "$median" ] || { echo "$1: pgbench failed" >&2; exit 1; }
  printf '| %-26s | %2d | %8.0f | %8.0f |\n' "$1" "$2" "$median" "$(echo "$median * $3" | bc)"
}
echo "| variant                    |  c | txn /s   | rows /s  |"
echo "|----------------------------|----|----------|----------|"
run baseline 1 1
run booking 1 1
run booking_without_guard 1 1
run booking_without_occupancy 1 1
run one_row_booking 1 1
run baseline 8 1
run batch4_guard_first 1 4
run batch8_guard_first 1 8
run batch4_guard_last 2 4
