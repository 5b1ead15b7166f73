// Expansion of RFC 5545 recurrence rules (RRULE) into the occurrences of a booking series,
// evaluated in local time and converted to instants with the LocalToInstant rule.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "smooth/civil.hpp"
#include "smooth/status.hpp"
#include "smooth/time.hpp"

namespace smooth::internal {

/// One occurrence of a series: its local date and wall-clock start, and the instant that
/// start maps to in the series' zone, plus the series' seconds (see ExpandRecurrence).
struct Occurrence {
  LocalDate date;
  std::chrono::minutes start{0};  // minutes after local midnight
  Instant instant;
};

/// Series longer than this from their first local date are refused, whatever the count:
/// it bounds the work a rule that matches rarely or never can cause.
inline constexpr int kMaxRecurrenceYears = 100;

/// Expands `rrule` (e.g. "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", an optional "RRULE:" prefix
/// is allowed) from the local start (`first_date`, `start_minutes`) in `zone`. The rule is
/// evaluated on floating local times, so "weekly at 10:00" stays 10:00 local across DST;
/// each occurrence is converted with LocalToInstant (a start in a spring-forward gap uses
/// the offset before the gap; when that makes it the instant of another start, it is that
/// one occurrence, as RFC 5545 ignores duplicates). Thread-safe (libical, which parses the
/// rule, is called under a lock; libsmooth expands it).
///
/// - FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY, with INTERVAL, BYDAY, BYMONTHDAY,
///   BYMONTH, BYYEARDAY, BYWEEKNO, BYSETPOS, BYHOUR, BYMINUTE and WKST, as RFC 5545
///   §3.3.10 defines them (docs/scheduling.md, "Recurring series"). Refused: RSCALE,
///   BYSECOND, a part the rules there do not allow with FREQ (a numbered BYDAY such as 2MO
///   outside MONTHLY and YEARLY or with BYWEEKNO, BYYEARDAY or BYWEEKNO outside YEARLY,
///   BYMONTHDAY with WEEKLY), and values out of range.
/// - Any first year from 1 to 9999 works. Occurrences may fall after year 9999; the caller
///   bounds them.
/// - The rule must end: COUNT, or UNTIL as a DATE (inclusive of that whole local date), a
///   UTC date-time (occurrences starting at or before that instant) or a floating
///   date-time (compared with local start times).
/// - `seconds` (0 to under a minute) is the first start's part below the minute, which the
///   rule's whole minutes do not carry: every occurrence starts that much after its minute,
///   and UNTIL is compared with that start.
/// - `first_instant`, when given, is the instant of the first local start (of the two a
///   fall-back day's repeated hour has, the one asked for): the occurrence at `first_date`
///   and `start_minutes`, if the rule has it, is that instant, and a UTC UNTIL bounds it.
///   When it is the second reading, that day's later wall-clock times in the same overlap
///   are read the second time too: no occurrence starts before it.
/// - The series must end within kMaxRecurrenceYears of `first_date` (before that date's
///   midnight, kMaxRecurrenceYears on).
/// - Numbers, weekdays and UNTIL are checked in full, each naming its part ("rrule: COUNT
///   2x is not a whole number"); libical, which parses the rest, would cut them down.
/// - The first local start is an occurrence only if it matches the rule (as libical and
///   python-dateutil read the case RFC 5545 leaves undefined): WEEKLY;BYDAY=MO from a
///   Saturday starts on the following Monday, and COUNT counts only matching dates.
///
/// On success there is at least one occurrence, in increasing local time. Errors are
/// invalid_argument: "rrule: ..." for a malformed, unsupported or unbounded rule or one
/// with no occurrences, "rrule: series longer than N occurrences" when it has more than
/// `max_occurrences`, "start: ..." for an impossible start.
Result<std::vector<Occurrence>> ExpandRecurrence(std::string_view rrule,
                                                 const date::time_zone* zone, LocalDate first_date,
                                                 std::chrono::minutes start_minutes,
                                                 std::size_t max_occurrences = 500,
                                                 Duration seconds = Duration(0),
                                                 std::optional<Instant> first_instant = {});

}  // namespace smooth::internal
