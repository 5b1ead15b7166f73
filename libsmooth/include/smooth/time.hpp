// Instants, durations and the injectable Clock.
//
// Absolute time is always UTC std::chrono::sys_time. Civil time (09:00 on a Monday in
// Europe/London) appears only where rules are written in it and is converted at that edge.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "smooth/status.hpp"

namespace smooth {

/// A point in time, UTC, microsecond precision.
using Instant = std::chrono::sys_time<std::chrono::microseconds>;
using Duration = std::chrono::microseconds;

/// The source of "now". Injected wherever now matters so tests can control it.
/// Implementations must be safe to call from several threads.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant Now() const = 0;
};

/// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  Instant Now() const override;
  /// A process-wide instance.
  static SystemClock& Default();
};

/// A clock that moves only when told to. Thread-safe.
///
///     smooth::ManualClock clock(smooth::ParseRfc3339("2026-03-08T06:00:00Z").value());
///     clock.Advance(std::chrono::minutes(30));
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Instant start) : now_(start.time_since_epoch().count()) {}
  Instant Now() const override { return Instant(Duration(now_.load())); }
  void Set(Instant t) { now_.store(t.time_since_epoch().count()); }
  void Advance(Duration d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> now_;
};

/// RFC 3339 in UTC with a `Z`, microseconds when non-zero: "2026-11-26T14:03:07.250000Z".
std::string FormatRfc3339(Instant t);

/// Parses RFC 3339 with `Z` or a numeric offset. `field` names the input in errors.
Result<Instant> ParseRfc3339(std::string_view text, std::string_view field = "timestamp");

/// Ok when `name` is an IANA time zone known to the system tz database, otherwise
/// invalid_argument naming `field`.
Status ValidateTimeZone(std::string_view name, std::string_view field = "time_zone");

}  // namespace smooth
