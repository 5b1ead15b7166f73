// The working-time calendar of one resource: weekly hours in its time zone, per-date
// overrides and absolute time off, answered as spans of absolute time.
#pragma once

#include <date/tz.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "schedule/span.hpp"
#include "smooth/civil.hpp"
#include "smooth/status.hpp"

namespace smooth::internal {

/// Replaces the weekly hours on one local date. Empty `hours` means closed that day.
struct DateOverride {
  LocalDate date;
  std::vector<DailyInterval> hours;
};

/// What a resource's calendar is made of, as the user wrote it.
struct CalendarSpec {
  std::string time_zone;  // IANA name, e.g. "Europe/London"
  /// Open hours per ISO weekday (index 0 = Monday); any number of intervals, so split
  /// shifts (09:00-12:00 and 13:00-17:00) are two entries.
  std::array<std::vector<DailyInterval>, 7> weekly;
  std::vector<DateOverride> overrides;  // at most one per date
  std::vector<Span> time_off;           // absolute; may cross midnight or cover days
};

/// A validated, normalized calendar. Local times become instants with the rule of
/// LocalToInstant (a time in a spring-forward gap uses the offset before the gap; a
/// repeated time means its first occurrence), so 09:00-17:00 is 8 real hours on both DST
/// change days, and 01:00-03:00 on a spring-forward day is 1 real hour.
///
/// Immutable after Make: safe to share between threads.
///
///     CalendarSpec spec{.time_zone = "Europe/London"};
///     spec.weekly[0] = {{9h, 17h}};  // Mondays 09:00-17:00
///     Calendar cal = Calendar::Make(spec).value();
///     std::vector<Span> open;
///     cal.OpenSpans(week, &open);
class Calendar {
 public:
  /// Validates and normalizes `spec`. invalid_argument naming the field when the zone is
  /// unknown ("time_zone"), a weekly interval is not 0 <= start < end <= 1440
  /// ("working_hours"), an override has an invalid or repeated date or a bad interval
  /// ("overrides"), or a time-off span is empty or reversed ("time_off"). Daily intervals
  /// are sorted and overlapping or touching ones merged; time off is sorted and merged.
  static Result<Calendar> Make(CalendarSpec spec);

  /// Appends to *out the open time within `window`: sorted, disjoint, non-touching spans.
  /// Open time is, for each local date, that date's override hours or else its weekly
  /// hours, converted to instants, minus time off. Elements already in *out are left
  /// alone and not merged with; reuse one vector across calls to avoid allocating.
  void OpenSpans(Span window, std::vector<Span>* out) const;

  /// True when the non-empty `s` lies entirely within one open span (half-open: a span
  /// may end exactly where open time ends). Looks only at the dates around `s`.
  bool Contains(Span s) const;

  const date::time_zone* zone() const { return zone_; }

 private:
  struct Override {
    std::int32_t day;  // date::local_days count, for cheap comparison while iterating
    std::vector<DailyInterval> hours;
  };

  Calendar() = default;

  const date::time_zone* zone_ = nullptr;
  std::array<std::vector<DailyInterval>, 7> weekly_;  // sorted, merged
  std::vector<Override> overrides_;                   // sorted by day, unique
  std::vector<Span> time_off_;                        // sorted, merged
};

}  // namespace smooth::internal
