// What the randomized (property) tests share: their random source, and how a run is narrowed
// to one seed and case from the environment (SMOOTH_PTEST_SEED, SMOOTH_PTEST_CASE).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
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

/// The integer in environment variable `name`, if it is set and not empty.
inline std::optional<int> EnvInt(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::atoi(v);
}

}  // namespace smooth::testing
