// The one place where civil (wall-clock) time in an IANA zone becomes absolute time and back:
// a small facade over Howard Hinnant's date/tz, with a single rule for gaps and overlaps.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <string_view>

#include "smooth/civil.hpp"
#include "smooth/status.hpp"
#include "smooth/time.hpp"

namespace smooth::internal {

/// The zone called `name` ("Europe/London") in the system tz database, or invalid_argument
/// "<field>: unknown time zone 'X'". The pointer stays valid for the life of the process.
/// Thread-safe. The compiled system zone files list transitions up to 2037 and leave the
/// later years to the POSIX TZ rule at their end, which date/tz does not read; every
/// conversion here reads it (zone_rule.hpp), so DST stays right after 2037.
Result<const date::time_zone*> FindZone(std::string_view name,
                                        std::string_view field = "time_zone");

/// The instant at which the wall clock in `zone` shows `since_midnight` minutes after the
/// start of `date`. `since_midnight` may be 0..1440; 1440 is the next day's midnight.
///
/// The rule (RFC 5545 §3.3.5), used for every civil-to-absolute conversion in libsmooth:
/// - a local time that does not exist (skipped by a spring-forward gap) is read with the
///   UTC offset in force before the gap, so 02:30 on 2026-03-08 in America/New_York is
///   02:30 EST = 07:30Z (which the wall clock shows as 03:30 EDT);
/// - a local time that occurs twice (fall-back overlap) means its first occurrence, the
///   earlier instant, so 01:30 on 2026-11-01 in America/New_York is 01:30 EDT = 05:30Z.
///
/// A consequence worth knowing: across a gap the mapping is not monotonic (02:30 → 07:30Z
/// but 03:00 → 07:00Z), so an interval starting inside a gap can come out empty.
Instant LocalToInstant(const date::time_zone* zone, LocalDate date,
                       std::chrono::minutes since_midnight);

/// The wall-clock time in `zone` at instant `t` (date/tz's `zone->to_local(t)`, right after
/// 2037 too).
date::local_time<Duration> ToLocal(const date::time_zone* zone, Instant t);

/// The local calendar date in `zone` at instant `t`.
LocalDate LocalDateOf(const date::time_zone* zone, Instant t);

/// Wall-clock minutes after local midnight at `t` (0..1439). On a fall-back day the
/// repeated hour shows the same minutes twice.
std::chrono::minutes LocalMinutesOf(const date::time_zone* zone, Instant t);

/// The instant the local `date` begins: LocalToInstant(zone, date, 0).
Instant LocalMidnight(const date::time_zone* zone, LocalDate date);

/// The ISO weekday of `date`.
Weekday WeekdayOf(LocalDate date);

/// `date` moved by `days` (may be negative): AddDays({2026, 2, 28}, 1) == {2026, 3, 1}.
LocalDate AddDays(LocalDate date, int days);

/// True when `date` names a day that exists (2026-02-29 does not) in years 1 to 9999, the
/// dates that callers may give and that storage writes as YYYY-MM-DD. The check for every
/// LocalDate that comes from outside.
bool IsValidDate(LocalDate date);

/// The instants callers may give the scheduler (a booking's start, say): from
/// 0001-01-01T00:00:00Z up to, not including, 10000-01-01T00:00:00Z — years 1 to 9999 UTC,
/// the years of IsValidDate and the ones RFC 3339 text (FormatRfc3339) can write. Far from
/// the ends of Instant, so an accepted start plus or minus any accepted duration or buffer
/// (at most ten years each) cannot overflow.
inline constexpr Instant kFirstInstant{date::sys_days(date::year(1) / 1 / 1)};
inline constexpr Instant kEndInstant{date::sys_days(date::year(10000) / 1 / 1)};

/// Ok when `t` is in [kFirstInstant, kEndInstant), otherwise invalid_argument naming
/// `field`. The check for every instant that comes from outside and that the scheduler
/// computes with.
Status ValidateInstant(Instant t, std::string_view field);

/// True when `date` names a day that exists, in any year date/tz handles: for dates
/// computed inside the engine (the day after 9999-12-31, say), never for input.
bool IsCalendarDate(LocalDate date);

/// Conversions between LocalDate and date's serial day count.
date::local_days ToLocalDays(LocalDate date);
LocalDate FromLocalDays(date::local_days days);

/// Converts many times of one zone, mostly in increasing order, with the same results as
/// LocalToInstant and LocalDateOf but without a tz database lookup for each: it remembers
/// the offset period it used last. Cheap to construct; not safe to share between threads
/// (make one per call). The period a converter ends with is remembered per thread for the
/// next converter of the same zone, so short-lived converters (one per booking check) skip
/// the tz database too.
class LocalTimeConverter {
 public:
  explicit LocalTimeConverter(const date::time_zone* zone);
  ~LocalTimeConverter();
  LocalTimeConverter(const LocalTimeConverter&) = delete;
  LocalTimeConverter& operator=(const LocalTimeConverter&) = delete;

  /// Same as LocalToInstant(zone, date, minutes) for the local time `local`.
  Instant ToInstant(date::local_seconds local);
  Instant ToInstant(date::local_days day, std::chrono::minutes since_midnight) {
    return ToInstant(date::local_seconds(day) + since_midnight);
  }

  /// The local day containing `t`, as LocalDateOf does.
  date::local_days DayOf(Instant t);

 private:
  // Remembers the offset period that contains `t`, with conservative fast-path limits.
  void Load(date::sys_seconds t);
  // Widens the fast-path limits to exact ones by looking at the neighbouring periods.
  void Refine();

  const date::time_zone* zone_;
  bool loaded_ = false;
  bool refined_ = false;
  date::sys_seconds begin_{};  // the remembered period [begin_, end_) with offset_
  date::sys_seconds end_{};
  std::chrono::seconds offset_{0};
  // Local times whose reading with offset_ lands in [fast_begin_, fast_end_) convert to
  // exactly that reading under the LocalToInstant rule.
  date::sys_seconds fast_begin_{};
  date::sys_seconds fast_end_{};
};

}  // namespace smooth::internal
