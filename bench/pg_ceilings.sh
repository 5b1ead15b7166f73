#!/usr/bin/env bash
# Where a durable booking's time goes on PostgreSQL, measured with pgbench on a throwaway
# cluster (tests/pg/pg_cluster.sh: fsync=on, synchronous_commit=on, a Unix socket), without
# libsmooth's client in the way. Every variant books the way bench/storage_bench.cpp does
# (capacity-1 staff, times that only grow), so that they compare with each other:
#   - one writer: the baseline INSERT under the EXCLUDE constraint; the appointment row alone
#     (its indexes, no occupancy, no guard); the statements a libsmooth booking sends as one
#     pipeline (guard, epoch check, appointment INSERT whose trigger writes the occupancy
#     row), and that booking without its guard and without its occupancy row; an
#     appointment carrying its own occupancy under the EXCLUDE constraint, alone and guarded;
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
-- Eight staff of capacity 1, as bench/storage_bench.cpp's eight writers have.
INSERT INTO tenant_acme.resources
  SELECT 1000 + g, 'Staff ' || g, 'staff', 1, 'UTC', NULL, 1, '{}', 0, 0
  FROM generate_series(1, 8) g;
CREATE SEQUENCE ids START 1000000;
-- The baseline's table, as bench/storage_bench.cpp makes it.
CREATE TABLE baseline (id bigserial PRIMARY KEY, resource_id bigint NOT NULL,
  occupied_start timestamptz NOT NULL, occupied_end timestamptz NOT NULL, active boolean NOT NULL,
  EXCLUDE USING gist (resource_id WITH =, tstzrange(occupied_start, occupied_end) WITH &&)
  WHERE (active));
-- The appointments table without its occupancy trigger (LIKE copies indexes, not triggers).
CREATE TABLE tenant_acme.no_occupancy (LIKE tenant_acme.appointments INCLUDING ALL);
-- An appointment carrying its own occupancy under the EXCLUDE constraint, with the
-- appointments table's indexes.
CREATE TABLE tenant_acme.one_row (LIKE tenant_acme.appointments INCLUDING ALL);
ALTER TABLE tenant_acme.one_row
  ADD COLUMN occ_resource bigint, ADD COLUMN occupied_start timestamptz,
  ADD COLUMN occupied_end timestamptz, ADD COLUMN active boolean,
  ADD EXCLUDE USING gist (occ_resource WITH =, tstzrange(occupied_start, occupied_end) WITH &&)
    WHERE (active);
SQL

# Every variant books as bench/storage_bench.cpp does: each row on one of the eight staff, at
# times that only grow (microseconds of the clock, spread so that clients and the rows of a
# batch never overlap), one microsecond long. Writer w books staff w; a batch's row g books
# staff g.
now='(extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 64 + :client_id * 8'
guard='WITH advanced AS (UPDATE tenant_acme.change_seq SET value = value + 1 RETURNING value)
  SELECT CASE WHEN EXISTS (SELECT 1 FROM advanced) THEN 0 ELSE 1 END;
SELECT CASE WHEN value = 0 THEN 0 ELSE 1 END FROM public.shared_epoch;'
columns='id, service, resources, customer, start_at, end_at, buffer_before, buffer_after, status,
  notes, created_by, created_at, updated_at, version, idempotency_key, booked_start, series,
  outside_hours, change_seq'
# g: the row's number in its statement; r: its staff.
values="nextval('ids'), 1, '[' || r || ']', 1, t + g, t + g + 1, 0, 0, 'confirmed', '', 1, 0, 0, 1,
  NULL, NULL, NULL, 0, 5"
rows() {  # count: the FROM clause of a statement writing `count` rows
  if [ "$1" = 1 ]; then
    echo "FROM (SELECT $now AS t, 0 AS g, 1001 + :client_id AS r) s"
  else
    echo "FROM (SELECT $now AS t) s, generate_series(0, $(($1 - 1))) g, LATERAL (SELECT 1001 + g AS r) x"
  fi
}
insert() {  # table rows
  echo "INSERT INTO tenant_acme.$1 ($columns) SELECT $values $(rows "$2");"
}
micros() {  # expression in microseconds since the epoch, as a timestamptz
  echo "TIMESTAMPTZ 'epoch' + ($1) * INTERVAL '1 microsecond'"
}
write() {  # name body...
  local name=$1
  shift
  printf '%s\n' "$@" >"$scripts/$name.sql"
}
write baseline "INSERT INTO baseline (resource_id, occupied_start, occupied_end, active)
  SELECT r, $(micros 't + g'), $(micros 't + g + 1'), true $(rows 1);"
write appointment_row_alone "$(insert no_occupancy 1)"
write booking '\startpipeline' "$guard" "$(insert appointments 1)" '\endpipeline'
write booking_without_guard '\startpipeline' "$(insert appointments 1)" '\endpipeline'
write booking_without_occupancy '\startpipeline' "$guard" "$(insert no_occupancy 1)" '\endpipeline'
one_row="INSERT INTO tenant_acme.one_row ($columns, occ_resource, occupied_start, occupied_end, active)
  SELECT $values, r, $(micros 't + g'), $(micros 't + g + 1'), true $(rows 1);"
write one_row_alone "$one_row"
write one_row_booking '\startpipeline' "$guard" "$one_row" '\endpipeline'
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
run appointment_row_alone 1 1
run booking 1 1
run booking_without_guard 1 1
run booking_without_occupancy 1 1
run one_row_alone 1 1
run one_row_booking 1 1
run baseline 8 1
run batch4_guard_first 1 4
run batch8_guard_first 1 8
run batch4_guard_last 2 4
