#!/usr/bin/env bash
# Builds the benchmarks (Release, in build-bench/), runs them, and writes docs/benchmarks.md and
# docs/benchmarks-scaling.png from the results. Takes about ten minutes on 2 cores.
#
#   scripts/run-benchmarks.sh                 # everything, as published in docs/benchmarks.md
#   scripts/run-benchmarks.sh --benchmark_filter=Book   # extra flags go to both binaries
#
# Needs gnuplot and python3 (scripts/install-deps.sh installs gnuplot-nox).
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

command="scripts/run-benchmarks.sh${*:+ $*}"
python3 scripts/benchmarks_report.py \
  --occupancy "$build/occupancy_bench.json" --schedule "$build/schedule_bench.json" \
  --build-dir "$build" --out docs/benchmarks.md --png docs/benchmarks-scaling.png \
  --command "$command"
