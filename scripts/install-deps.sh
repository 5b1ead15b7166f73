#!/usr/bin/env bash
# Installs what libsmooth's build, tests and benchmarks need, from Debian 12 packages.
# Idempotent: packages already present are left alone; apt-get update runs only
# when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build
  libboost1.81-dev libboost-json1.81-dev
  libsoci-dev libsqlite3-dev libpq-dev
  libsodium-dev libfmt-dev
  libhowardhinnant-date-dev tzdata libical-dev
  doctest-dev libbenchmark-dev
  postgresql-15
  gnuplot-nox python3  # scripts/run-benchmarks.sh
  python3-dateutil     # tests/recurrence_differential.py: the reference expansion
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
