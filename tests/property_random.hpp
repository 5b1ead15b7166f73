// What the randomized (property) tests share: their random source, the log of a case, and
// how a run is narrowed to one seed and case from the environment (SMOOTH_PTEST_SEED,
// SMOOTH_PTEST_CASE).
#pragma once

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "smooth/ids.hpp"
#include "smooth/time.hpp"

namespace smooth::testing {

/// A seeded random source: the same seed gives the same case, on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(engine_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(engine_); }
  template <typename C>
  auto Pick(const C& c) -> decltype(c[0]) {
    return c[static_cast<std::size_t>(Int(0, static_cast<int>(c.size()) - 1))];
  }
  // A minute in [lo, hi], mostly on a 5-minute grid, sometimes anywhere.
  int Minute(int lo, int hi) {
    const int step = Chance(0.8) ? 5 : 1;
    return lo + step * Int(0, (hi - lo) / step);
  }
  // Some seconds and microseconds, so "now" never ties with a minute boundary.
  Duration OddSeconds() { return std::chrono::seconds(Int(1, 59)) + Duration(Int(1, 999999)); }
  // `v` in a random order (Fisher-Yates on Int, so the same on every standard library).
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[static_cast<std::size_t>(Int(0, static_cast<int>(i - 1)))]);
  }
  // Some of `from` (each with chance 0.6), never none.
  std::vector<ResourceId> Subset(const std::vector<ResourceId>& from) {
    std::vector<ResourceId> out;
    for (ResourceId id : from) {
      if (Chance(0.6)) out.push_back(id);
    }
    if (out.empty()) out.push_back(Pick(from));
    return out;
  }

 private:
  std::mt19937_64 engine_;
};

/// What one randomized case ran, and its first failure, told with how to run it again. A
/// case class derives from it, sets `op_` as it goes and checks `failed_`.
class PropertyCase {
 protected:
  PropertyCase(int seed, int index) : seed_(seed), index_(index) {}

  std::string Where() const { return fmt::format("seed {} case {} op {}", seed_, index_, op_); }
  // The operations noted so far, one a line.
  std::string Log() const {
    std::string out;
    for (const std::string& line : log_) out += "  " + line + "\n";
    return out;
  }
  void Note(std::string line) { log_.push_back(fmt::format("{:3} {}", op_, line)); }
  // Fails the test once, with where and how to reproduce; later failures of the case are
  // consequences and are not reported.
  void Fail(const std::string& what) {
    if (failed_) return;
    failed_ = true;
    FAIL_CHECK(Where() << ": " << what << "\n(reproduce with SMOOTH_PTEST_SEED=" << seed_
                       << " SMOOTH_PTEST_CASE=" << index_ << ")");
  }

  const int seed_;
  const int index_;
  int op_ = 0;
  bool failed_ = false;
  std::vector<std::string> log_;
};

/// The integer in environment variable `name`, if it is set and not empty. Anything but a
/// whole number from 0 up fails the test that asked, rather than narrowing it to nothing.
inline std::optional<int> EnvInt(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || errno != 0 || n < 0 || n > std::numeric_limits<int>::max())
    throw std::invalid_argument(fmt::format("{}: \"{}\" is not a whole number from 0 up", name, v));
  return static_cast<int>(n);
}

}  // namespace smooth::testing

namespace smooth::testing {

/// Which seeds and cases a run covers: every one, or only those SMOOTH_PTEST_SEED and
/// SMOOTH_PTEST_CASE name (a case named alone runs under every seed).
struct PropertyRun {
  std::optional<int> only_seed = EnvInt("SMOOTH_PTEST_SEED");
  std::optional<int> only_case = EnvInt("SMOOTH_PTEST_CASE");

  bool narrowed() const { return only_seed || only_case; }
  /// How many cases ForEachSeed and ForEachCase call for `seeds` seeds of `cases` cases
  /// each: fewer only when narrowed. A run must have run exactly these.
  int Expected(int seeds, int cases) const {
    return (only_seed ? 1 : seeds) * (only_case ? 1 : cases);
  }
  /// Calls `f(seed)` for seeds 1..`seeds`, or the one named.
  template <typename F>
  void ForEachSeed(int seeds, F f) const {
    for (int seed = 1; seed <= (only_seed ? *only_seed : seeds); ++seed)
      if (!only_seed || seed == *only_seed) f(seed);
  }
  /// Calls `f(index, verbose)` for cases 0..`cases`-1, or the one named; `verbose` when a
  /// single seed and case were named, whose operations are then worth printing.
  template <typename F>
  void ForEachCase(int cases, F f) const {
    for (int index = 0; index < (only_case ? *only_case + 1 : cases); ++index)
      if (!only_case || index == *only_case) f(index, only_seed && only_case);
  }
};

}  // namespace smooth::testing
