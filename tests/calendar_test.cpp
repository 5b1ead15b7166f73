// Specification of civil-time conversion (the one DST rule) and of resource calendars:
// weekly hours, split shifts, overrides, time off, in zones with awkward transitions.
#include "schedule/calendar.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "schedule/civil_time.hpp"
#include "smooth/time.hpp"

using namespace std::chrono_literals;
using smooth::Instant;
using smooth::LocalDate;
using smooth::internal::Calendar;
using smooth::internal::CalendarSpec;
using smooth::internal::Span;

namespace {

Instant At(std::string_view text) { return smooth::ParseRfc3339(text).value(); }
std::string Show(Instant t) { return smooth::FormatRfc3339(t); }

const date::time_zone* Zone(std::string_view name) {
  return smooth::internal::FindZone(name).value();
}

// "2026-03-08 02:30 in zone", as an RFC 3339 string in UTC.
std::string Local(std::string_view zone, LocalDate d, int hour, int minute = 0) {
  return Show(smooth::internal::LocalToInstant(
      Zone(zone), d, std::chrono::hours(hour) + std::chrono::minutes(minute)));
}

smooth::DailyInterval Hours(int from_h, int from_m, int to_h, int to_m) {
  return {std::chrono::hours(from_h) + std::chrono::minutes(from_m),
          std::chrono::hours(to_h) + std::chrono::minutes(to_m)};
}
smooth::DailyInterval Hours(int from_h, int to_h) { return Hours(from_h, 0, to_h, 0); }

// The same hours on every day of the week.
CalendarSpec EveryDay(std::string zone, std::vector<smooth::DailyInterval> hours) {
  CalendarSpec spec;
  spec.time_zone = std::move(zone);
  for (auto& day : spec.weekly) day = hours;
  return spec;
}

Calendar Make(CalendarSpec spec) {
  auto cal = Calendar::Make(std::move(spec));
  REQUIRE(cal.ok());
  return std::move(cal).value();
}

// The open spans as "start/end" strings, which read well in failure messages.
std::vector<std::string> Open(const Calendar& cal, std::string_view from, std::string_view to) {
  std::vector<Span> spans;
  cal.OpenSpans({At(from), At(to)}, &spans);
  std::vector<std::string> out;
  for (const Span& s : spans) out.push_back(Show(s.start) + "/" + Show(s.end));
  return out;
}

std::chrono::minutes OpenMinutes(const Calendar& cal, std::string_view from, std::string_view to) {
  std::vector<Span> spans;
  cal.OpenSpans({At(from), At(to)}, &spans);
  std::chrono::microseconds total{0};
  for (const Span& s : spans) total += s.end - s.start;
  return std::chrono::duration_cast<std::chrono::minutes>(total);
}

using Strings = std::vector<std::string>;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string MakeError(CalendarSpec spec) {
  auto cal = Calendar::Make(std::move(spec));
  if (cal.ok()) return "ok";
  CHECK(cal.error().code() == smooth::StatusCode::kInvalidArgument);
  return cal.error().message();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The conversion rule.

TEST_CASE("a local time in a spring-forward gap uses the offset before the gap") {
  // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT.
  CHECK(Local("America/New_York", {2026, 3, 8}, 1, 59) == "2026-03-08T06:59:00Z");
  CHECK(Local("America/New_York", {2026, 3, 8}, 2, 0) == "2026-03-08T07:00:00Z");
  CHECK(Local("America/New_York", {2026, 3, 8}, 2, 30) == "2026-03-08T07:30:00Z");  // = 03:30 EDT
  CHECK(Local("America/New_York", {2026, 3, 8}, 3, 0) == "2026-03-08T07:00:00Z");
  CHECK(Local("America/New_York", {2026, 3, 8}, 9, 0) == "2026-03-08T13:00:00Z");
}

TEST_CASE("a repeated local time on a fall-back day means its first occurrence") {
  // New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:00-01:59 happens twice.
  CHECK(Local("America/New_York", {2026, 11, 1}, 0, 59) == "2026-11-01T04:59:00Z");
  CHECK(Local("America/New_York", {2026, 11, 1}, 1, 0) == "2026-11-01T05:00:00Z");
  CHECK(Local("America/New_York", {2026, 11, 1}, 1, 30) == "2026-11-01T05:30:00Z");  // EDT
  CHECK(Local("America/New_York", {2026, 11, 1}, 2, 0) == "2026-11-01T07:00:00Z");   // EST
  CHECK(Local("America/New_York", {2026, 11, 1}, 9, 0) == "2026-11-01T14:00:00Z");
}

TEST_CASE("minute 1440 is the next day's midnight under the same rule") {
  const auto* ny = Zone("America/New_York");
  CHECK(Show(smooth::internal::LocalToInstant(ny, {2026, 3, 7}, 1440min)) ==
        "2026-03-08T05:00:00Z");
  CHECK(Show(smooth::internal::LocalMidnight(ny, {2026, 3, 8})) == "2026-03-08T05:00:00Z");
  CHECK(Show(smooth::internal::LocalMidnight(ny, {2026, 3, 9})) == "2026-03-09T04:00:00Z");
  CHECK(Show(smooth::internal::LocalToInstant(ny, {2026, 12, 31}, 1440min)) ==
        "2027-01-01T05:00:00Z");
}

TEST_CASE("Europe/London changes at 01:00 UTC") {
  // 2026-03-29: 01:00 GMT jumps to 02:00 BST. 01:30 does not exist: read as GMT.
  CHECK(Local("Europe/London", {2026, 3, 29}, 0, 59) == "2026-03-29T00:59:00Z");
  CHECK(Local("Europe/London", {2026, 3, 29}, 1, 30) == "2026-03-29T01:30:00Z");
  CHECK(Local("Europe/London", {2026, 3, 29}, 2, 0) == "2026-03-29T01:00:00Z");
  CHECK(Local("Europe/London", {2026, 3, 29}, 9, 0) == "2026-03-29T08:00:00Z");
  // 2026-10-25: 02:00 BST falls back to 01:00 GMT. 01:30 happens twice: first is BST.
  CHECK(Local("Europe/London", {2026, 10, 25}, 1, 30) == "2026-10-25T00:30:00Z");
  CHECK(Local("Europe/London", {2026, 10, 25}, 2, 0) == "2026-10-25T02:00:00Z");
  CHECK(Local("Europe/London", {2026, 10, 25}, 9, 0) == "2026-10-25T09:00:00Z");
}

TEST_CASE("Australia/Lord_Howe moves its clocks by 30 minutes") {
  const auto* lh = Zone("Australia/Lord_Howe");
  // The offsets, straight from the tz database: +11 until 2026-04-04T15:00Z, then +10:30
  // until 2026-10-03T15:30Z, then +11 again.
  CHECK(lh->get_info(At("2026-04-04T14:59:59Z")).offset == 11h);
  CHECK(lh->get_info(At("2026-04-04T15:00:00Z")).offset == 10h + 30min);
  CHECK(lh->get_info(At("2026-10-03T15:29:59Z")).offset == 10h + 30min);
  CHECK(lh->get_info(At("2026-10-03T15:30:00Z")).offset == 11h);

  // 2026-04-05: 02:00 (+11) falls back to 01:30 (+10:30); 01:30-01:59 happens twice.
  CHECK(Local("Australia/Lord_Howe", {2026, 4, 5}, 1, 29) == "2026-04-04T14:29:00Z");
  CHECK(Local("Australia/Lord_Howe", {2026, 4, 5}, 1, 45) == "2026-04-04T14:45:00Z");  // +11
  CHECK(Local("Australia/Lord_Howe", {2026, 4, 5}, 2, 0) == "2026-04-04T15:30:00Z");
  CHECK(Local("Australia/Lord_Howe", {2026, 4, 5}, 9, 0) == "2026-04-04T22:30:00Z");
  // 2026-10-04: 02:00 (+10:30) jumps to 02:30 (+11); 02:15 does not exist: read as +10:30.
  CHECK(Local("Australia/Lord_Howe", {2026, 10, 4}, 1, 59) == "2026-10-03T15:29:00Z");
  CHECK(Local("Australia/Lord_Howe", {2026, 10, 4}, 2, 15) == "2026-10-03T15:45:00Z");
  CHECK(Local("Australia/Lord_Howe", {2026, 10, 4}, 2, 30) == "2026-10-03T15:30:00Z");
  CHECK(Local("Australia/Lord_Howe", {2026, 10, 4}, 9, 0) == "2026-10-03T22:00:00Z");
}

TEST_CASE("Asia/Kolkata is +05:30 all year") {
  CHECK(Local("Asia/Kolkata", {2026, 1, 15}, 9, 0) == "2026-01-15T03:30:00Z");
  CHECK(Local("Asia/Kolkata", {2026, 7, 15}, 9, 0) == "2026-07-15T03:30:00Z");
  CHECK(Local("Asia/Kolkata", {2026, 7, 15}, 0, 0) == "2026-07-14T18:30:00Z");
}

TEST_CASE("local dates, minutes and weekdays of instants") {
  using namespace smooth::internal;
  const auto* ny = Zone("America/New_York");
  CHECK(LocalDateOf(ny, At("2026-03-08T04:59:59Z")) == LocalDate{2026, 3, 7});
  CHECK(LocalDateOf(ny, At("2026-03-08T05:00:00Z")) == LocalDate{2026, 3, 8});
  CHECK(LocalMinutesOf(ny, At("2026-03-08T07:30:00Z")) == 210min);  // 03:30 EDT
  CHECK(LocalMinutesOf(ny, At("2026-11-01T05:30:00Z")) == 90min);   // 01:30 EDT
  CHECK(LocalMinutesOf(ny, At("2026-11-01T06:30:00Z")) == 90min);   // 01:30 EST
  CHECK(LocalDateOf(Zone("Asia/Kolkata"), At("2026-07-14T18:30:00Z")) == LocalDate{2026, 7, 15});

  CHECK(WeekdayOf({2026, 3, 8}) == smooth::Weekday::kSunday);
  CHECK(WeekdayOf({2026, 3, 9}) == smooth::Weekday::kMonday);
  CHECK(WeekdayOf({1970, 1, 1}) == smooth::Weekday::kThursday);
  CHECK(WeekdayOf({1969, 12, 29}) == smooth::Weekday::kMonday);

  CHECK(AddDays({2026, 2, 28}, 1) == LocalDate{2026, 3, 1});
  CHECK(AddDays({2024, 2, 28}, 1) == LocalDate{2024, 2, 29});
  CHECK(AddDays({2026, 1, 1}, -1) == LocalDate{2025, 12, 31});
  CHECK(AddDays({2026, 3, 8}, 365) == LocalDate{2027, 3, 8});
}

TEST_CASE("the fast converter agrees with LocalToInstant and LocalDateOf everywhere") {
  using namespace smooth::internal;
  // Zones with 1 h, 30 min and whole-day changes, changes at midnight, and none at all.
  for (std::string_view name :
       {"America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia",
        "America/Havana", "Asia/Kolkata", "America/Sao_Paulo"}) {
    CAPTURE(name);
    const auto* zone = Zone(name);
    LocalTimeConverter converter(zone);
    int mismatches = 0;
    // Every 15 minutes through stretches holding Samoa's lost day and the 2026 changes.
    for (LocalDate from : {LocalDate{2011, 12, 20}, LocalDate{2026, 3, 1}, LocalDate{2026, 3, 25},
                           LocalDate{2026, 9, 28}}) {
      const date::local_days first = ToLocalDays(from);
      for (date::local_days day = first; day < first + date::days(40); day += date::days(1)) {
        for (int m = 0; m <= 1440; m += 15) {
          const Instant slow = LocalToInstant(zone, FromLocalDays(day), std::chrono::minutes(m));
          if (converter.ToInstant(day, std::chrono::minutes(m)) != slow) ++mismatches;
          if (FromLocalDays(converter.DayOf(slow)) != LocalDateOf(zone, slow)) ++mismatches;
        }
      }
    }
    // 2026 in both directions, jumping around, as calendars do.
    const date::local_days year = ToLocalDays({2026, 1, 1});
    for (int i = 0; i < 365 * 2; ++i) {
      const date::local_days day = year + date::days((i * 37) % 365);
      const std::chrono::minutes m((i * 97) % 1441);
      const Instant slow = LocalToInstant(zone, FromLocalDays(day), m);
      if (converter.ToInstant(day, m) != slow) ++mismatches;
      if (FromLocalDays(converter.DayOf(slow + 1min)) != LocalDateOf(zone, slow + 1min)) {
        ++mismatches;
      }
    }
    CHECK(mismatches == 0);
  }
  // Samoa skipped 2011-12-30 entirely: every time that day is read with the old offset.
  CHECK(Local("Pacific/Apia", {2011, 12, 30}, 12, 0) ==
        Local("Pacific/Apia", {2011, 12, 31}, 12, 0));
}

TEST_CASE("FindZone refuses unknown and empty names by field") {
  const auto unknown = smooth::internal::FindZone("Nowhere/Special", "zone");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code() == smooth::StatusCode::kInvalidArgument);
  CHECK(unknown.error().message() == "zone: unknown time zone 'Nowhere/Special'");
  const auto empty = smooth::internal::FindZone("");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code() == smooth::StatusCode::kInvalidArgument);
  CHECK(StartsWith(empty.error().message(), "time_zone: "));
  CHECK(smooth::internal::FindZone("Europe/London").value()->name() == "Europe/London");
}

// ---------------------------------------------------------------------------------------
// Calendars.

TEST_CASE("09:00-17:00 is 8 real hours on both New York change days") {
  const Calendar cal = Make(EveryDay("America/New_York", {Hours(9, 17)}));
  CHECK(Open(cal, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z") ==
        Strings{"2026-03-08T13:00:00Z/2026-03-08T21:00:00Z"});
  CHECK(OpenMinutes(cal, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z") == 8h);
  CHECK(Open(cal, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z") ==
        Strings{"2026-11-01T14:00:00Z/2026-11-01T22:00:00Z"});
  CHECK(OpenMinutes(cal, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z") == 8h);
  // The days around keep their own offsets.
  CHECK(Open(cal, "2026-03-07T00:00:00Z", "2026-03-08T00:00:00Z") ==
        Strings{"2026-03-07T14:00:00Z/2026-03-07T22:00:00Z"});
}

TEST_CASE("01:00-03:00 on the spring-forward day is one real hour") {
  const Calendar cal = Make(EveryDay("America/New_York", {Hours(1, 3)}));
  CHECK(Open(cal, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z") ==
        Strings{"2026-03-08T06:00:00Z/2026-03-08T07:00:00Z"});
}

TEST_CASE("hours in the spring-forward gap are read with the offset before it") {
  // 02:00-02:45 EST is 03:00-03:45 EDT on the wall clock.
  const Calendar in_gap = Make(EveryDay("America/New_York", {Hours(2, 0, 2, 45)}));
  CHECK(Open(in_gap, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z") ==
        Strings{"2026-03-08T07:00:00Z/2026-03-08T07:45:00Z"});
  CHECK(Open(in_gap, "2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z") ==
        Strings{"2026-03-09T06:00:00Z/2026-03-09T06:45:00Z"});
  // 02:30 (read as 03:30 EDT) to 03:15 EDT: the rule makes the start later than the
  // end, so there is no open time that day.
  const Calendar straddling = Make(EveryDay("America/New_York", {Hours(2, 30, 3, 15)}));
  CHECK(Open(straddling, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z").empty());
}

TEST_CASE("on the fall-back day 01:00-02:00 starts at the first 01:00") {
  const Calendar cal = Make(EveryDay("America/New_York", {Hours(1, 2)}));
  // 01:00 EDT (05:00Z) until 02:00 EST (07:00Z): both runs of the repeated hour.
  CHECK(Open(cal, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z") ==
        Strings{"2026-11-01T05:00:00Z/2026-11-01T07:00:00Z"});
  // And 00:00-01:30 ends at the first 01:30.
  const Calendar early = Make(EveryDay("America/New_York", {Hours(0, 0, 1, 30)}));
  CHECK(Open(early, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z") ==
        Strings{"2026-11-01T04:00:00Z/2026-11-01T05:30:00Z"});
}

TEST_CASE("Europe/London working hours across both 2026 changes") {
  const Calendar cal = Make(EveryDay("Europe/London", {Hours(9, 17)}));
  CHECK(Open(cal, "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z") ==
        Strings{"2026-03-29T08:00:00Z/2026-03-29T16:00:00Z"});
  CHECK(Open(cal, "2026-10-25T00:00:00Z", "2026-10-26T00:00:00Z") ==
        Strings{"2026-10-25T09:00:00Z/2026-10-25T17:00:00Z"});
  // Open all night: the night of the spring change is 23 real hours, of the autumn 25.
  const Calendar night = Make(EveryDay("Europe/London", {Hours(0, 24)}));
  CHECK(Open(night, "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z") ==
        Strings{"2026-03-28T12:00:00Z/2026-03-30T12:00:00Z"});
  CHECK(Open(night, "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z") ==
        Strings{"2026-10-24T12:00:00Z/2026-10-26T12:00:00Z"});
  // The change days alone, open 00:00-24:00 local: midnight GMT/BST to midnight.
  CalendarSpec change_days;
  change_days.time_zone = "Europe/London";
  change_days.overrides.push_back({{2026, 3, 29}, {Hours(0, 24)}});
  change_days.overrides.push_back({{2026, 10, 25}, {Hours(0, 24)}});
  const Calendar days = Make(change_days);
  CHECK(Open(days, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z") ==
        Strings{"2026-03-29T00:00:00Z/2026-03-29T23:00:00Z"});
  CHECK(OpenMinutes(days, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z") == 23h);
  CHECK(Open(days, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z") ==
        Strings{"2026-10-24T23:00:00Z/2026-10-26T00:00:00Z"});
  CHECK(OpenMinutes(days, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z") == 25h);
}

TEST_CASE("Australia/Lord_Howe working hours across its half-hour changes") {
  const Calendar cal = Make(EveryDay("Australia/Lord_Howe", {Hours(1, 0, 3, 0)}));
  // 2026-04-05: 01:00 (+11) = 14:00Z until 03:00 (+10:30) = 16:30Z: 2.5 real hours.
  CHECK(Open(cal, "2026-04-04T12:00:00Z", "2026-04-05T12:00:00Z") ==
        Strings{"2026-04-04T14:00:00Z/2026-04-04T16:30:00Z"});
  // 2026-10-04: 01:00 (+10:30) = 14:30Z until 03:00 (+11) = 16:00Z: 1.5 real hours.
  CHECK(Open(cal, "2026-10-03T12:00:00Z", "2026-10-04T12:00:00Z") ==
        Strings{"2026-10-03T14:30:00Z/2026-10-03T16:00:00Z"});
}

TEST_CASE("Asia/Kolkata 09:00 is 03:30Z") {
  const Calendar cal = Make(EveryDay("Asia/Kolkata", {Hours(9, 17)}));
  CHECK(Open(cal, "2026-07-15T00:00:00Z", "2026-07-16T00:00:00Z") ==
        Strings{"2026-07-15T03:30:00Z/2026-07-15T11:30:00Z"});
  CHECK(cal.zone()->name() == "Asia/Kolkata");
}

TEST_CASE("split shifts are separate spans; overlapping and touching hours merge") {
  const Calendar split = Make(EveryDay("UTC", {Hours(13, 17), Hours(9, 12)}));
  CHECK(Open(split, "2026-05-04T00:00:00Z", "2026-05-05T00:00:00Z") ==
        Strings{"2026-05-04T09:00:00Z/2026-05-04T12:00:00Z",
                "2026-05-04T13:00:00Z/2026-05-04T17:00:00Z"});
  const Calendar merged = Make(EveryDay("UTC", {Hours(14, 15), Hours(9, 12), Hours(11, 14)}));
  CHECK(Open(merged, "2026-05-04T00:00:00Z", "2026-05-05T00:00:00Z") ==
        Strings{"2026-05-04T09:00:00Z/2026-05-04T15:00:00Z"});
}

TEST_CASE("weekly hours follow the ISO weekday of each local date") {
  CalendarSpec spec;
  spec.time_zone = "Europe/London";
  spec.weekly[0] = {Hours(9, 17)};   // Monday
  spec.weekly[5] = {Hours(10, 12)};  // Saturday
  const Calendar cal = Make(spec);
  // 2026-05-02 is a Saturday, 05-03 a Sunday, 05-04 a Monday (BST, +01:00).
  CHECK(Open(cal, "2026-05-01T00:00:00Z", "2026-05-05T00:00:00Z") ==
        Strings{"2026-05-02T09:00:00Z/2026-05-02T11:00:00Z",
                "2026-05-04T08:00:00Z/2026-05-04T16:00:00Z"});
}

TEST_CASE("an override closes a date or replaces its hours") {
  CalendarSpec spec = EveryDay("UTC", {Hours(9, 17)});
  spec.overrides.push_back({{2026, 5, 5}, {}});                            // closed
  spec.overrides.push_back({{2026, 5, 6}, {Hours(12, 14), Hours(7, 8)}});  // other hours
  const Calendar cal = Make(spec);
  CHECK(Open(cal, "2026-05-04T00:00:00Z", "2026-05-08T00:00:00Z") ==
        Strings{"2026-05-04T09:00:00Z/2026-05-04T17:00:00Z",
                "2026-05-06T07:00:00Z/2026-05-06T08:00:00Z",
                "2026-05-06T12:00:00Z/2026-05-06T14:00:00Z",
                "2026-05-07T09:00:00Z/2026-05-07T17:00:00Z"});
}

TEST_CASE("time off across midnight and across days is subtracted") {
  CalendarSpec spec = EveryDay("UTC", {Hours(0, 24)});
  spec.time_off.push_back({At("2026-05-04T22:00:00Z"), At("2026-05-05T06:00:00Z")});
  const Calendar night = Make(spec);
  CHECK(Open(night, "2026-05-04T00:00:00Z", "2026-05-06T00:00:00Z") ==
        Strings{"2026-05-04T00:00:00Z/2026-05-04T22:00:00Z",
                "2026-05-05T06:00:00Z/2026-05-06T00:00:00Z"});

  CalendarSpec office = EveryDay("America/New_York", {Hours(9, 17)});
  office.time_off.push_back({At("2026-05-04T16:00:00Z"), At("2026-05-06T19:00:00Z")});
  // A second, overlapping entry is merged with the first.
  office.time_off.push_back({At("2026-05-05T00:00:00Z"), At("2026-05-05T12:00:00Z")});
  const Calendar cal = Make(office);
  CHECK(Open(cal, "2026-05-04T00:00:00Z", "2026-05-08T00:00:00Z") ==
        Strings{"2026-05-04T13:00:00Z/2026-05-04T16:00:00Z",
                "2026-05-06T19:00:00Z/2026-05-06T21:00:00Z",
                "2026-05-07T13:00:00Z/2026-05-07T21:00:00Z"});
}

TEST_CASE("the window cuts spans, and open days next to each other join") {
  const Calendar cal = Make(EveryDay("UTC", {Hours(9, 12), Hours(13, 17)}));
  CHECK(Open(cal, "2026-05-04T10:00:00Z", "2026-05-04T15:30:00Z") ==
        Strings{"2026-05-04T10:00:00Z/2026-05-04T12:00:00Z",
                "2026-05-04T13:00:00Z/2026-05-04T15:30:00Z"});
  CHECK(Open(cal, "2026-05-04T12:00:00Z", "2026-05-04T13:00:00Z").empty());
  CHECK(Open(cal, "2026-05-04T13:00:00Z", "2026-05-04T13:00:00Z").empty());

  const Calendar always = Make(EveryDay("Asia/Kolkata", {Hours(0, 24)}));
  CHECK(Open(always, "2026-05-04T10:17:00Z", "2026-05-09T03:00:00Z") ==
        Strings{"2026-05-04T10:17:00Z/2026-05-09T03:00:00Z"});
}

TEST_CASE("OpenSpans appends and leaves earlier elements alone") {
  const Calendar cal = Make(EveryDay("UTC", {Hours(9, 17)}));
  std::vector<Span> spans{{At("2026-05-04T09:00:00Z"), At("2026-05-04T18:00:00Z")}};
  cal.OpenSpans({At("2026-05-04T00:00:00Z"), At("2026-05-05T00:00:00Z")}, &spans);
  REQUIRE(spans.size() == 2);
  CHECK(Show(spans[0].end) == "2026-05-04T18:00:00Z");
  CHECK(Show(spans[1].start) == "2026-05-04T09:00:00Z");
  CHECK(Show(spans[0].start) == "2026-05-04T09:00:00Z");
  CHECK(Show(spans[1].end) == "2026-05-04T17:00:00Z");
}

TEST_CASE("Contains is half-open at the edges of open time") {
  CalendarSpec spec = EveryDay("America/New_York", {Hours(9, 12), Hours(13, 17)});
  spec.time_off.push_back({At("2026-05-05T14:00:00Z"), At("2026-05-05T15:00:00Z")});
  const Calendar cal = Make(spec);
  auto contains = [&](std::string_view from, std::string_view to) {
    return cal.Contains({At(from), At(to)});
  };
  // Monday 2026-05-04, EDT: open 13:00Z-16:00Z and 17:00Z-21:00Z.
  CHECK(contains("2026-05-04T13:00:00Z", "2026-05-04T16:00:00Z"));
  CHECK(contains("2026-05-04T15:00:00Z", "2026-05-04T16:00:00Z"));
  CHECK(contains("2026-05-04T17:00:00Z", "2026-05-04T21:00:00Z"));
  CHECK_FALSE(contains("2026-05-04T12:59:00Z", "2026-05-04T14:00:00Z"));
  CHECK_FALSE(contains("2026-05-04T20:00:00Z", "2026-05-04T21:00:01Z"));
  CHECK_FALSE(contains("2026-05-04T15:00:00Z", "2026-05-04T18:00:00Z"));  // over lunch
  CHECK_FALSE(contains("2026-05-04T13:00:00Z", "2026-05-04T13:00:00Z"));  // empty
  // Tuesday with time off 14:00Z-15:00Z.
  CHECK(contains("2026-05-05T13:00:00Z", "2026-05-05T14:00:00Z"));
  CHECK(contains("2026-05-05T15:00:00Z", "2026-05-05T16:00:00Z"));
  CHECK_FALSE(contains("2026-05-05T13:30:00Z", "2026-05-05T14:30:00Z"));

  // Across midnight when open around the clock.
  const Calendar always = Make(EveryDay("Europe/London", {Hours(0, 24)}));
  CHECK(always.Contains({At("2026-03-28T22:00:00Z"), At("2026-03-30T02:00:00Z")}));
}

TEST_CASE("Contains on DST change days uses the same rule as OpenSpans") {
  const Calendar cal = Make(EveryDay("America/New_York", {Hours(1, 3)}));
  CHECK(cal.Contains({At("2026-03-08T06:00:00Z"), At("2026-03-08T07:00:00Z")}));
  CHECK_FALSE(cal.Contains({At("2026-03-08T06:00:00Z"), At("2026-03-08T07:00:01Z")}));
  // Fall back: 01:00 EDT (05:00Z) to 03:00 EST (08:00Z), three real hours.
  CHECK(cal.Contains({At("2026-11-01T05:00:00Z"), At("2026-11-01T08:00:00Z")}));
}

TEST_CASE("bad calendar specs are invalid_argument naming the field") {
  CHECK(StartsWith(MakeError(EveryDay("Mars/Base", {Hours(9, 17)})),
                   "time_zone: unknown time zone 'Mars/Base'"));
  CHECK(StartsWith(MakeError(EveryDay("", {Hours(9, 17)})), "time_zone: "));
  CHECK(StartsWith(MakeError(EveryDay("UTC", {Hours(17, 9)})), "working_hours: "));
  CHECK(StartsWith(MakeError(EveryDay("UTC", {Hours(9, 9)})), "working_hours: "));
  CHECK(StartsWith(MakeError(EveryDay("UTC", {Hours(9, 0, 24, 1)})), "working_hours: "));
  CHECK(StartsWith(MakeError(EveryDay("UTC", {{-1min, 60min}})), "working_hours: "));

  CalendarSpec bad_override = EveryDay("UTC", {Hours(9, 17)});
  bad_override.overrides.push_back({{2026, 5, 5}, {Hours(12, 11)}});
  CHECK(StartsWith(MakeError(bad_override), "overrides: "));

  CalendarSpec no_such_date = EveryDay("UTC", {Hours(9, 17)});
  no_such_date.overrides.push_back({{2026, 2, 29}, {}});
  CHECK(MakeError(no_such_date) == "overrides: 2026-02-29 is not a date");

  CalendarSpec twice = EveryDay("UTC", {Hours(9, 17)});
  twice.overrides.push_back({{2026, 5, 5}, {}});
  twice.overrides.push_back({{2026, 5, 6}, {}});
  twice.overrides.push_back({{2026, 5, 5}, {Hours(10, 11)}});
  CHECK(MakeError(twice) == "overrides: more than one override for 2026-05-05");

  CalendarSpec reversed = EveryDay("UTC", {Hours(9, 17)});
  reversed.time_off.push_back({At("2026-05-05T12:00:00Z"), At("2026-05-05T11:00:00Z")});
  CHECK(StartsWith(MakeError(reversed), "time_off: "));
  CalendarSpec empty = EveryDay("UTC", {Hours(9, 17)});
  empty.time_off.push_back({At("2026-05-05T12:00:00Z"), At("2026-05-05T12:00:00Z")});
  CHECK(StartsWith(MakeError(empty), "time_off: "));

  // Edges that are allowed: a whole day, and no hours at all.
  CHECK(MakeError(EveryDay("UTC", {Hours(0, 24)})) == "ok");
  CHECK(MakeError(EveryDay("UTC", {})) == "ok");
}

TEST_CASE("expansions asked again into one buffer give the same spans every time") {
  // The shape of the availability workloads (bench/ measures their speed): a month of a
  // weekday calendar with time off, and a day, each asked many times into a reused buffer.
  CalendarSpec spec = EveryDay("America/New_York", {Hours(9, 12), Hours(13, 17)});
  spec.weekly[5].clear();
  spec.weekly[6].clear();
  spec.time_off.push_back({At("2026-03-10T15:00:00Z"), At("2026-03-12T15:00:00Z")});
  const Calendar cal = Make(spec);
  const Span month{At("2026-03-01T05:00:00Z"), At("2026-04-01T04:00:00Z")};
  const Span day{At("2026-03-09T04:00:00Z"), At("2026-03-10T04:00:00Z")};
  std::vector<Span> first_month, first_day, spans;
  cal.OpenSpans(month, &first_month);
  cal.OpenSpans(day, &first_day);
  // March 2026 has 22 weekdays with 2 spans each; the time off removes the afternoon of
  // the 10th and all of the 11th. Monday the 9th is 09:00-12:00 and 13:00-17:00 EDT.
  CHECK(first_month.size() == 41);
  CHECK(first_day == std::vector<Span>{{At("2026-03-09T13:00:00Z"), At("2026-03-09T16:00:00Z")},
                                       {At("2026-03-09T17:00:00Z"), At("2026-03-09T21:00:00Z")}});
  spans.reserve(256);
  for (int i = 0; i < 50; ++i) {
    spans.clear();
    cal.OpenSpans(month, &spans);
    CHECK(spans == first_month);
  }
  for (int i = 0; i < 1000; ++i) {
    spans.clear();
    cal.OpenSpans(day, &spans);
    CHECK(spans == first_day);
  }
}
