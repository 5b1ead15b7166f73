#!/usr/bin/env bash
# Builds the benchmarks (Release, in build-bench/), runs them, and writes docs/benchmarks.md and
# docs/benchmarks-scaling.png from the results. Takes ten to fifteen minutes on 2 cores.
# storage_bench needs PostgreSQL 15 (postgresql-15, libpq-dev): a throwaway cluster is started
# under /tmp/smooth-pg-bench with tests/pg/pg_cluster.sh and stopped at the end.
#
#   scripts/run-benchmarks.sh                 # everything, as published in docs/benchmarks.md
#   scripts/run-benchmarks.sh --benchmark_filter=Book   # extra flags go to every binary
#
# Needs gnuplot and python3 (scripts/install-deps.sh installs them).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=build-bench

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSMOOTH_BUILD_TESTS=OFF -DSMOOTH_BUILD_EXAMPLES=OFF
cmake --build "$build"

for bench in occupancy_bench schedule_bench; do
  echo "run-benchmarks: running $bench" >&2
  "$build/bench/$bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_format=json "$@" >"$build/$bench.json"
done

# Durable storage: a throwaway PostgreSQL 15 cluster (tests/pg/pg_cluster.sh) for the PostgreSQL
# figures and their plain-PostgreSQL baseline; stopped on exit, whatever happens.
pg_dir=/tmp/smooth-pg-bench
trap 'bash "$root/tests/pg/pg_cluster.sh" stop "$pg_dir" || true' EXIT
bash tests/pg/pg_cluster.sh start "$pg_dir" >/dev/null
export SMOOTH_BENCH_PG_CONNINFO_FILE="$pg_dir/conninfo"
echo "run-benchmarks: running storage_bench" >&2
"$build/bench/storage_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=json "$@" >"$build/storage_bench.json"
bash tests/pg/pg_cluster.sh stop "$pg_dir"
trap - EXIT

command="scripts/run-benchmarks.sh${*:+ $*}"
python3 scripts/benchmarks_report.py \
  --occupancy "$build/occupancy_bench.json" --schedule "$build/schedule_bench.json" \
  --storage "$build/storage_bench.json" \
  --build-dir "$build" --out docs/benchmarks.md --png docs/benchmarks-scaling.png \
  --command "$command"
