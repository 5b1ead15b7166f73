// A zone's rule for the years after its last listed transition: the POSIX TZ string at the
// end of its compiled zone file (RFC 8536 §3.3, the "footer"), such as
// "GMT0BST,M3.5.0/1,M10.5.0" for Europe/London.
//
// The system zone files list transitions up to 2037 and leave the years after to that rule,
// which date/tz does not read: it keeps the offset in force at the last listed transition
// for ever (so 10:00 in London on 2038-07-01 would be 10:00Z, not 09:00Z). ZoneSysInfo and
// ZoneLocalInfo answer as date/tz does, except in a zone's last period, where the rule
// decides.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace smooth::internal {

/// A parsed POSIX TZ string: a standard offset and, optionally, a daylight-saving offset with
/// the yearly rules for entering and leaving it.
class ZoneRule {
 public:
  /// The rule in `tz`, or nullopt if it is not one this parser reads (a rule that cannot be
  /// read is never guessed at).
  static std::optional<ZoneRule> Parse(std::string_view tz);

  bool HasDst() const { return dst_offset_.has_value(); }

  /// The offset period containing `t`.
  date::sys_info SysInfo(date::sys_seconds t) const;
  /// The period(s) at local time `local`, with date/tz's meaning of `result`.
  date::local_info LocalInfo(date::local_seconds local) const;

  /// One end of daylight saving time, as a yearly date and a local time of day.
  struct When {
    enum class Kind { kJulianNoLeap, kZeroBasedDay, kMonthWeekDay } kind = Kind::kMonthWeekDay;
    int day = 0;                      // Jn: 1..365; n: 0..365; M: weekday 0..6 (Sunday = 0)
    int month = 0, week = 0;          // M: month 1..12, week 1..5 (5 = the last)
    std::chrono::seconds time{7200};  // local time of day; may be negative or past 24h
  };

 private:
  struct Period {
    date::sys_seconds begin, end;
    bool dst = false;
  };
  std::chrono::seconds Offset(const Period& p) const { return p.dst ? *dst_offset_ : std_offset_; }
  date::sys_info Info(const Period& p) const;
  // The transitions into and out of DST in `year`, as instants.
  date::sys_seconds Start(int year) const;
  date::sys_seconds End(int year) const;
  // The periods around year `year`, in order.
  int Periods(int year, Period* out) const;

  std::string std_abbrev_, dst_abbrev_;
  std::chrono::seconds std_offset_{0};  // east of UTC
  std::optional<std::chrono::seconds> dst_offset_;
  When start_, end_;
};

/// date/tz's `zone->get_info(t)`, but in the zone's last listed period the answer of the
/// rule in its zone file, if it has one.
date::sys_info ZoneSysInfo(const date::time_zone* zone, date::sys_seconds t);
/// The same for a local time.
date::local_info ZoneLocalInfo(const date::time_zone* zone, date::local_seconds local);

}  // namespace smooth::internal
