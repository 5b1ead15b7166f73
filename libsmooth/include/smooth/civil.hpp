// Civil (wall-clock) time: the dates and times that working hours and recurrence rules
// are written in. Converted to absolute time only together with an IANA time zone.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>

#include "smooth/status.hpp"
#include "smooth/time.hpp"

namespace smooth {

/// A calendar date with no time zone, e.g. {2026, 3, 8}.
struct LocalDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  friend auto operator<=>(const LocalDate&, const LocalDate&) = default;
};

/// ISO weekdays: Monday = 0 ... Sunday = 6.
enum class Weekday { kMonday, kTuesday, kWednesday, kThursday, kFriday, kSaturday, kSunday };

/// A wall-clock interval within one day, minutes after local midnight: [start, end).
/// 0 <= start < end <= 1440; end = 1440 means "until midnight".
struct DailyInterval {
  std::chrono::minutes start{0};
  std::chrono::minutes end{0};
  friend bool operator==(const DailyInterval&, const DailyInterval&) = default;
};

/// "2026-03-08".
std::string FormatLocalDate(LocalDate d);
/// Parses YYYY-MM-DD and checks the date exists; errors name `field`.
Result<LocalDate> ParseLocalDate(std::string_view text, std::string_view field = "date");

/// A wall-clock reading: a date and the minutes after its local midnight (0..1439; for
/// ToInstant also 1440, the next midnight).
struct LocalDateTime {
  LocalDate date;
  std::chrono::minutes since_midnight{0};
  friend auto operator<=>(const LocalDateTime&, const LocalDateTime&) = default;
};

/// The instant the wall clock in `time_zone` (an IANA name, "Europe/Berlin") shows `local`,
/// by the rule libsmooth uses for working hours and recurrence (docs/scheduling.md): a time
/// a spring-forward gap skips is read with the offset in force before the gap; a time a
/// fall-back overlap repeats means its first occurrence. invalid_argument names
/// `time_zone`, `date` or `since_midnight`.
Result<Instant> ToInstant(std::string_view time_zone, LocalDateTime local);

/// What the wall clock in `time_zone` shows at `t`, to the minute (seconds dropped).
/// invalid_argument names `time_zone`, or `t` outside years 1 to 9999 UTC (the instants
/// the scheduler takes).
Result<LocalDateTime> ToLocal(std::string_view time_zone, Instant t);

}  // namespace smooth
