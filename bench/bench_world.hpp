// What the scheduler benchmarks share: the zone, business hours and calendar their worlds
// are built in, the clock's fixed "now", and failing loudly during setup.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "schedule/civil_time.hpp"
#include "smooth/smooth.hpp"

namespace smooth::bench {

// Every tenant works in one real zone, so both algorithms pay for civil-time conversions.
inline constexpr const char* kZone = "Europe/London";
// Business hours, Monday to Friday: the original's fixed day and the resources' working hours.
inline constexpr std::chrono::minutes kOpen = std::chrono::hours(9);
inline constexpr std::chrono::minutes kClose = std::chrono::hours(17);
// Data starts on the first Monday of 2026; the clock stands before it, so every start is
// bookable.
inline constexpr LocalDate kFirstMonday{2026, 1, 5};

inline Instant Now() { return ParseRfc3339("2026-01-01T00:00:00Z").value(); }

inline const date::time_zone* Zone() {
  static const date::time_zone* zone = internal::FindZone(kZone).value();
  return zone;
}

/// Setup failed: a benchmark on a wrong world measures nothing, so stop.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::abort();
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r) Die(std::string(what) + ": " + r.error().ToString());
  return std::move(r).value();
}

/// The w-th weekday (0-based) counting from kFirstMonday.
inline LocalDate WeekdayDate(std::int64_t w) {
  return internal::AddDays(kFirstMonday, static_cast<int>((w / 5) * 7 + w % 5));
}

}  // namespace smooth::bench
