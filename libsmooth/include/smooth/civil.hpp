// Civil (wall-clock) time: the dates and times that working hours and recurrence rules
// are written in. Converted to absolute time only together with an IANA time zone.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>

#include "smooth/status.hpp"

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

}  // namespace smooth
