// Specification of RRULE expansion: local-time semantics across DST, the supported rule
// parts, how series must end, and how malformed rules are refused.
#include "schedule/recurrence.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "schedule/civil_time.hpp"
#include "smooth/time.hpp"

using namespace std::chrono_literals;
using smooth::LocalDate;
using smooth::internal::ExpandRecurrence;
using smooth::internal::Occurrence;

namespace {

const date::time_zone* Zone(std::string_view name) {
  return smooth::internal::FindZone(name).value();
}

std::vector<Occurrence> Expand(std::string_view rule, std::string_view zone, LocalDate first,
                               std::chrono::minutes start, std::size_t cap = 500) {
  auto r = ExpandRecurrence(rule, Zone(zone), first, start, cap);
  if (!r.ok()) FAIL_CHECK(r.error().message());
  return r.ok() ? std::move(r).value() : std::vector<Occurrence>{};
}

// "2026-03-09 10:00 = 2026-03-09T14:00:00Z" per occurrence.
std::vector<std::string> Show(const std::vector<Occurrence>& occurrences) {
  std::vector<std::string> out;
  for (const Occurrence& o : occurrences) {
    out.push_back(fmt::format("{} {:02}:{:02} = {}", smooth::FormatLocalDate(o.date),
                              o.start.count() / 60, o.start.count() % 60,
                              smooth::FormatRfc3339(o.instant)));
  }
  return out;
}

std::vector<std::string> Dates(const std::vector<Occurrence>& occurrences) {
  std::vector<std::string> out;
  for (const Occurrence& o : occurrences) out.push_back(smooth::FormatLocalDate(o.date));
  return out;
}

std::string Error(std::string_view rule, LocalDate first = {2026, 3, 2},
                  std::chrono::minutes start = 10h, std::size_t cap = 500) {
  auto r = ExpandRecurrence(rule, Zone("America/New_York"), first, start, cap);
  if (r.ok()) return "ok";
  CHECK(r.error().code() == smooth::StatusCode::kInvalidArgument);
  return r.error().message();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("weekly at 10:00 stays 10:00 local across the March change") {
  CHECK(Show(Expand("FREQ=WEEKLY;COUNT=3", "America/New_York", {2026, 3, 2}, 10h)) ==
        Strings{"2026-03-02 10:00 = 2026-03-02T15:00:00Z",
                "2026-03-09 10:00 = 2026-03-09T14:00:00Z",
                "2026-03-16 10:00 = 2026-03-16T14:00:00Z"});
}

TEST_CASE("DAILY with COUNT yields exactly COUNT consecutive days") {
  CHECK(Dates(Expand("FREQ=DAILY;COUNT=4", "Europe/London", {2026, 2, 27}, 9h)) ==
        Strings{"2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"});
}

TEST_CASE("INTERVAL skips periods") {
  CHECK(Dates(Expand("FREQ=DAILY;INTERVAL=2;COUNT=3", "UTC", {2026, 3, 1}, 9h)) ==
        Strings{"2026-03-01", "2026-03-03", "2026-03-05"});
  CHECK(Dates(Expand("FREQ=WEEKLY;INTERVAL=2;COUNT=3", "UTC", {2026, 3, 2}, 9h)) ==
        Strings{"2026-03-02", "2026-03-16", "2026-03-30"});
}

TEST_CASE("a DATE UNTIL includes that whole local date") {
  const auto days = Expand("FREQ=DAILY;UNTIL=20260310", "America/New_York", {2026, 3, 1}, 22h);
  REQUIRE(days.size() == 10);
  CHECK(smooth::FormatLocalDate(days.back().date) == "2026-03-10");
}

TEST_CASE("a UTC UNTIL includes occurrences starting at or before that instant") {
  // 10:00 EDT on 2026-03-10 is 14:00Z.
  CHECK(Dates(Expand("FREQ=DAILY;UNTIL=20260310T140000Z", "America/New_York", {2026, 3, 7}, 10h)) ==
        Strings{"2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"});
  CHECK(Dates(Expand("FREQ=DAILY;UNTIL=20260310T135959Z", "America/New_York", {2026, 3, 7}, 10h)) ==
        Strings{"2026-03-07", "2026-03-08", "2026-03-09"});
  // Far east of UTC the local date is already the next one: 23:00Z on the 9th is 12:00
  // NZDT on the 10th, so 11:00 on the 10th (22:00Z on the 9th) is still included.
  CHECK(Dates(Expand("FREQ=DAILY;UNTIL=20260309T230000Z", "Pacific/Auckland", {2026, 3, 8}, 11h)) ==
        Strings{"2026-03-08", "2026-03-09", "2026-03-10"});
}

TEST_CASE("a floating UNTIL is compared with local start times") {
  CHECK(Dates(Expand("FREQ=DAILY;UNTIL=20260310T100000", "America/New_York", {2026, 3, 8}, 10h)) ==
        Strings{"2026-03-08", "2026-03-09", "2026-03-10"});
  CHECK(Dates(Expand("FREQ=DAILY;UNTIL=20260310T095900", "America/New_York", {2026, 3, 8}, 10h)) ==
        Strings{"2026-03-08", "2026-03-09"});
}

TEST_CASE("BYDAY picks weekdays") {
  CHECK(
      Dates(Expand("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6", "UTC", {2026, 3, 2}, 9h)) ==
      Strings{"2026-03-02", "2026-03-04", "2026-03-06", "2026-03-09", "2026-03-11", "2026-03-13"});
  // The first start counts only if it matches: from a Saturday, Mondays begin on the 9th.
  CHECK(Dates(Expand("FREQ=WEEKLY;BYDAY=MO;COUNT=2", "UTC", {2026, 3, 7}, 9h)) ==
        Strings{"2026-03-09", "2026-03-16"});
  // Second Tuesday of the month.
  CHECK(Dates(Expand("FREQ=MONTHLY;BYDAY=2TU;COUNT=3", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2026-01-13", "2026-02-10", "2026-03-10"});
}

TEST_CASE("BYSETPOS picks within each month") {
  // The last weekday of the month.
  CHECK(Dates(Expand("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3", "UTC", {2026, 1, 1},
                     9h)) == Strings{"2026-01-30", "2026-02-27", "2026-03-31"});
}

TEST_CASE("MONTHLY BYMONTHDAY=31 skips months without a 31st") {
  CHECK(Dates(Expand("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4", "UTC", {2026, 1, 31}, 9h)) ==
        Strings{"2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"});
  CHECK(Dates(Expand("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", "UTC", {2026, 1, 31}, 9h)) ==
        Strings{"2026-01-31", "2026-02-28", "2026-03-31"});
}

TEST_CASE("an occurrence in a spring-forward gap uses the offset before the gap") {
  CHECK(Show(Expand("FREQ=DAILY;COUNT=3", "America/New_York", {2026, 3, 7}, 2h + 30min)) ==
        Strings{"2026-03-07 02:30 = 2026-03-07T07:30:00Z",
                "2026-03-08 02:30 = 2026-03-08T07:30:00Z",  // = 03:30 EDT
                "2026-03-09 02:30 = 2026-03-09T06:30:00Z"});
}

TEST_CASE("an occurrence in a fall-back overlap is its first occurrence") {
  CHECK(Show(Expand("FREQ=DAILY;COUNT=3", "America/New_York", {2026, 10, 31}, 1h + 30min)) ==
        Strings{"2026-10-31 01:30 = 2026-10-31T05:30:00Z",
                "2026-11-01 01:30 = 2026-11-01T05:30:00Z",  // EDT, not the EST repeat
                "2026-11-02 01:30 = 2026-11-02T06:30:00Z"});
}

TEST_CASE("a series asked from the second of a repeated time starts no occurrence before it") {
  // 2026-11-01 01:30 EST (06:30Z), the second 01:30 in New York: that day's 01:45 is the
  // second 01:45 too (06:45Z), not the first (05:45Z, before the series' first start).
  const smooth::Instant second_0130 = smooth::ParseRfc3339("2026-11-01T06:30:00Z").value();
  auto r = ExpandRecurrence("FREQ=DAILY;BYHOUR=1;BYMINUTE=30,45;COUNT=4", Zone("America/New_York"),
                            {2026, 11, 1}, 90min, 500, smooth::Duration(0), second_0130);
  REQUIRE(r.ok());
  CHECK(Show(*r) == Strings{"2026-11-01 01:30 = 2026-11-01T06:30:00Z",
                            "2026-11-01 01:45 = 2026-11-01T06:45:00Z",
                            "2026-11-02 01:30 = 2026-11-02T06:30:00Z",
                            "2026-11-02 01:45 = 2026-11-02T06:45:00Z"});
  // From the first 01:30, the first readings, as for any series.
  CHECK(Show(Expand("FREQ=DAILY;BYHOUR=1;BYMINUTE=30,45;COUNT=2", "America/New_York", {2026, 11, 1},
                    90min)) == Strings{"2026-11-01 01:30 = 2026-11-01T05:30:00Z",
                                       "2026-11-01 01:45 = 2026-11-01T05:45:00Z"});
}

TEST_CASE("BYHOUR gives several starts a day; an RRULE: prefix and lower case are fine") {
  CHECK(Show(Expand("RRULE:freq=daily;byhour=9,14;count=3", "Asia/Kolkata", {2026, 7, 1}, 9h)) ==
        Strings{"2026-07-01 09:00 = 2026-07-01T03:30:00Z",
                "2026-07-01 14:00 = 2026-07-01T08:30:00Z",
                "2026-07-02 09:00 = 2026-07-02T03:30:00Z"});
}

TEST_CASE("malformed rules are invalid_argument starting with rrule:") {
  for (std::string_view bad :
       {"FREQ=SOMETIMES;COUNT=3", "FREQ=SOMETIMES", "", "   ", "COUNT=3", "FREQ=DAILY;COUNT=abc",
        "FREQ=DAILY;COUNT=3;FOO=1", "FREQ=DAILY;COUNT=2;UNTIL=20260310",
        "FREQ=DAILY;INTERVAL=0;COUNT=3", "FREQ=DAILY;COUNT=-1", "FREQ=DAILY;UNTIL=garbage",
        "FREQ=DAILY;BYDAY=XX;COUNT=3", "FREQ=WEEKLY;BYMONTHDAY=3;COUNT=3",
        "FREQ=DAILY;BYMONTHDAY=40;COUNT=3", "RRULE:"}) {
    CAPTURE(bad);
    CHECK(StartsWith(Error(bad), "rrule: "));
  }
  CHECK(Error("") == "rrule: must not be empty");
  CHECK(Error("COUNT=3") == "rrule: FREQ is required");
}

TEST_CASE("a value no calendar has, or a part its FREQ cannot have, is refused by name") {
  // libical's parser lets these through.
  CHECK(Error("FREQ=DAILY;BYMONTH=13;COUNT=3") == "rrule: BYMONTH 13 is out of range (1 to 12)");
  CHECK(Error("FREQ=YEARLY;BYYEARDAY=367;COUNT=3") ==
        "rrule: BYYEARDAY 367 is out of range (1 to 366, or -366 to -1)");
  CHECK(Error("FREQ=YEARLY;BYDAY=54MO;COUNT=3") ==
        "rrule: BYDAY 54MO is out of range (1 to 53, or -53 to -1)");
  CHECK(Error("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-367;COUNT=3") ==
        "rrule: BYSETPOS -367 is out of range (1 to 366, or -366 to -1)");
  CHECK(Error("FREQ=YEARLY;BYMONTH=5L;COUNT=3") ==
        "rrule: BYMONTH 5L: leap months need RSCALE, which is not supported");
  // libical 3.0 cut these down without a word (257MO to 1MO, 65537 to 1, a COUNT past 2^32 to
  // the rest), ignored what follows a number, and rolled an impossible UNTIL forward.
  CHECK(Error("FREQ=MONTHLY;BYDAY=257MO;COUNT=3") ==
        "rrule: BYDAY 257MO is out of range (1 to 53, or -53 to -1)");
  CHECK(Error("FREQ=DAILY;INTERVAL=65537;COUNT=3") ==
        "rrule: INTERVAL 65537 is out of range (1 to 32767)");
  CHECK(Error("FREQ=DAILY;COUNT=4294967298") ==
        "rrule: COUNT 4294967298 is out of range (1 to 2147483647)");
  CHECK(Error("FREQ=DAILY;COUNT=2x") == "rrule: COUNT 2x is not a whole number");
  CHECK(Error("FREQ=DAILY;BYMONTHDAY=1,x;COUNT=2") == "rrule: BYMONTHDAY x is not a whole number");
  CHECK(Error("FREQ=WEEKLY;BYDAY=1 MO;COUNT=2") ==
        "rrule: BYDAY 1 MO is not a weekday such as MO, 2MO or -1FR");
  CHECK(Error("FREQ=DAILY;UNTIL=20260230") == "rrule: UNTIL 20260230 is not a real date and time");
  CHECK(Error("FREQ=DAILY;UNTIL=20260305T996000") ==
        "rrule: UNTIL 20260305T996000 is not a real date and time");
  CHECK(Error("FREQ=DAILY;UNTIL=2026-03-05") ==
        "rrule: UNTIL 2026-03-05 is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS)");
  CHECK(Error("FREQ=DAILY;COUNT=2;COUNT=3") == "rrule: COUNT is given twice");
  // BYSETPOS "MUST only be used in conjunction with another BYxxx rule part".
  CHECK(Error("FREQ=DAILY;BYSETPOS=1;COUNT=2") ==
        "rrule: BYSETPOS needs another BY part to pick from, such as BYDAY");
  // RFC 5545 §3.3.10's table of parts and frequencies.
  CHECK(Error("FREQ=MONTHLY;BYYEARDAY=100;COUNT=3") == "rrule: BYYEARDAY needs FREQ=YEARLY");
  CHECK(Error("FREQ=DAILY;BYYEARDAY=100;COUNT=3") == "rrule: BYYEARDAY needs FREQ=YEARLY");
  CHECK(Error("FREQ=WEEKLY;BYMONTHDAY=3;COUNT=3") ==
        "rrule: BYMONTHDAY cannot be used with FREQ=WEEKLY");
}

TEST_CASE("unsupported rule parts are refused") {
  CHECK(StartsWith(Error("FREQ=HOURLY;COUNT=3"), "rrule: FREQ=HOURLY is not supported"));
  CHECK(StartsWith(Error("FREQ=MINUTELY;COUNT=3"), "rrule: FREQ=MINUTELY is not supported"));
  CHECK(Error("FREQ=DAILY;BYSECOND=5;COUNT=3") == "rrule: BYSECOND is not supported");
  CHECK(Error("FREQ=DAILY;RSCALE=GREGORIAN;COUNT=3") == "rrule: RSCALE is not supported");
}

TEST_CASE("a series must end: COUNT or UNTIL") {
  CHECK(StartsWith(Error("FREQ=WEEKLY"), "rrule: the series must end"));
  CHECK(StartsWith(Error("FREQ=WEEKLY;BYDAY=MO,WE"), "rrule: the series must end"));
}

TEST_CASE("more occurrences than the cap are refused") {
  CHECK(Error("FREQ=DAILY;COUNT=501") == "rrule: series longer than 500 occurrences");
  CHECK(Error("FREQ=DAILY;COUNT=500") == "ok");
  CHECK(Expand("FREQ=DAILY;COUNT=500", "UTC", {2026, 1, 1}, 9h).size() == 500);
  // UNTIL far enough away to give 501 occurrences.
  CHECK(Error("FREQ=DAILY;UNTIL=20270516", {2026, 1, 1}) ==
        "rrule: series longer than 500 occurrences");
  CHECK(Error("FREQ=DAILY;UNTIL=20270515", {2026, 1, 1}) == "ok");
  CHECK(Error("FREQ=WEEKLY;COUNT=11", {2026, 1, 1}, 9h, 10) ==
        "rrule: series longer than 10 occurrences");
}

// A rule that can never match is refused by its shape, saying why, rather than searched for
// a hundred years and refused for not ending.
TEST_CASE("series that never or only very late produce occurrences are refused, saying why") {
  const std::string no_day =
      "rrule: the series has no occurrences: no month the rule can reach has the requested day";
  const std::string no_position =
      "rrule: the series has no occurrences: BYSETPOS asks for a position beyond the starts "
      "each period has";
  // No February has a 30th, and from April every 12 months is always April.
  CHECK(Error("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3") == no_day);
  CHECK(Error("FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31;COUNT=2", {2026, 4, 1}) == no_day);
  CHECK(Error("FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31;COUNT=2") == no_day);
  CHECK(Error("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3") == no_day);
  // BYSETPOS beyond the starts a period has: there is no 6th Monday, no 2nd 1st-of-month,
  // and a day has only the times BYHOUR and BYMINUTE give it.
  CHECK(Error("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6;COUNT=3") == no_position);
  CHECK(Error("FREQ=MONTHLY;BYMONTHDAY=1;BYSETPOS=2;COUNT=3") == no_position);
  CHECK(Error("FREQ=YEARLY;BYMONTH=3;BYSETPOS=2;COUNT=2") == no_position);
  CHECK(Error("FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9,10;BYSETPOS=3;COUNT=2") == no_position);
  CHECK(Error("FREQ=DAILY;BYHOUR=9,10;BYSETPOS=-3;COUNT=2") == no_position);
  CHECK(Error("FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=3;COUNT=2") == no_position);
  // A month without BYMONTHDAY repeats the first start's day, a year also its month: from
  // January 30th, no February.
  CHECK(Error("FREQ=YEARLY;BYMONTH=2;COUNT=3", {2026, 1, 30}) == no_day);
  // Possible but beyond the horizon.
  CHECK(Error("FREQ=YEARLY;INTERVAL=50;COUNT=3") ==
        "rrule: series does not end within 100 years of its start");
  CHECK(Error("FREQ=YEARLY;UNTIL=22000101") ==
        "rrule: UNTIL is more than 100 years after the start");
  // UNTIL is held to the horizon by its own reading, however it is written: a UTC time, a
  // floating one or a date, each the last day inside it (the horizon is 2126-03-02 00:00 on
  // the series' wall clock), gives the 100 yearly occurrences 2026 to 2125.
  for (const char* until : {"21260302T045900Z", "21260301T235900", "21260301"})
    CHECK_MESSAGE(
        Expand(fmt::format("FREQ=YEARLY;UNTIL={}", until), "America/New_York", {2026, 3, 2}, 10h)
                .size() == 100,
        std::string(until));
  CHECK(Error("FREQ=YEARLY;UNTIL=21260302T060000Z") ==
        "rrule: UNTIL is more than 100 years after the start");
  // February 29th exists, though rarely.
  CHECK(Dates(Expand("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2028-02-29", "2032-02-29"});
}

TEST_CASE("a series with no occurrences at all is refused") {
  // Never: January 1st is not in February, and no second Monday is the 1st.
  for (const char* rule : {"FREQ=YEARLY;BYYEARDAY=1;BYMONTH=2;COUNT=1",
                           "FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=2MO;COUNT=1"}) {
    CAPTURE(rule);
    CHECK(Error(rule) == "rrule: the series has no occurrences within 100 years of its start");
  }
  CHECK(Error("FREQ=DAILY;UNTIL=20260301", {2026, 3, 2}) == "rrule: the series has no occurrences");
  // UNTIL on the first day, before the first start.
  CHECK(Error("FREQ=DAILY;UNTIL=20260302T140000Z", {2026, 3, 2}, 10h) ==
        "rrule: the series has no occurrences");
  CHECK(Error("FREQ=DAILY;UNTIL=20260302T150000Z", {2026, 3, 2}, 10h) == "ok");
}

TEST_CASE("the start itself must be a real date and time of day") {
  CHECK(StartsWith(Error("FREQ=DAILY;COUNT=2", {2026, 2, 29}), "start: "));
  CHECK(StartsWith(Error("FREQ=DAILY;COUNT=2", {2026, 3, 1}, 1440min), "start: "));
  CHECK(StartsWith(Error("FREQ=DAILY;COUNT=2", {2026, 3, 1}, -1min), "start: "));
}

TEST_CASE("expansion is safe from several threads at once") {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const auto* ny = Zone("America/New_York");
      for (int i = 0; i < 200; ++i) {
        if ((i + t) % 2 == 0) {
          auto r = ExpandRecurrence("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", ny, {2026, 3, 2}, 10h);
          if (!r.ok() || r->size() != 10) ++wrong;
        } else {
          auto r = ExpandRecurrence("FREQ=DAILY;COUNT=abc", ny, {2026, 3, 2}, 10h);
          if (r.ok() || !StartsWith(r.error().message(), "rrule: ")) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("BYDAY with a number is refused outside MONTHLY and YEARLY, as RFC 5545 requires") {
  // libical reads WEEKLY;BYDAY=2MO as a Wednesday, and 1MO,TU as the same Tuesday twice.
  for (std::string rule : {"FREQ=WEEKLY;BYDAY=2MO;COUNT=2", "FREQ=WEEKLY;BYDAY=1MO,TU;COUNT=4",
                           "FREQ=WEEKLY;BYDAY=-1FR;COUNT=3", "FREQ=DAILY;BYDAY=1MO;COUNT=3"}) {
    CAPTURE(rule);
    CHECK(Error(rule, {2026, 1, 1}) ==
          "rrule: BYDAY with a number (such as 2MO) needs FREQ=MONTHLY or YEARLY");
  }
  // Where it is allowed, it means what it says.
  CHECK(Dates(Expand("FREQ=MONTHLY;BYDAY=2MO;COUNT=2", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2026-01-12", "2026-02-09"});
  CHECK(Dates(Expand("FREQ=WEEKLY;BYDAY=MO,TU;COUNT=2", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2026-01-05", "2026-01-06"});
}

TEST_CASE("a month has no sixth weekday: such a rule is refused by its shape") {
  for (std::string rule : {"FREQ=MONTHLY;BYDAY=6MO;COUNT=2", "FREQ=MONTHLY;BYDAY=-6MO;COUNT=2",
                           "FREQ=YEARLY;BYMONTH=2;BYDAY=6MO;COUNT=2"}) {
    CAPTURE(rule);
    CHECK(Error(rule, {2026, 1, 1}) ==
          "rrule: the series has no occurrences: no month or year has that many of the "
          "requested weekday");
  }
  // The fifth exists in some months, and a yearly 53rd Monday in some years.
  CHECK(Dates(Expand("FREQ=MONTHLY;BYDAY=5MO,6MO;COUNT=1", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2026-03-30"});
  CHECK(Dates(Expand("FREQ=YEARLY;BYDAY=53MO;COUNT=1", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2029-12-31"});
}

TEST_CASE("series are expanded in any year to 9999") {
  CHECK(Show(Expand("FREQ=WEEKLY;BYDAY=MO;COUNT=2", "UTC", {2600, 6, 1}, 10h)) ==
        Strings{"2600-06-02 10:00 = 2600-06-02T10:00:00Z",
                "2600-06-09 10:00 = 2600-06-09T10:00:00Z"});
  // Weekdays, leap days and UNTIL fall as the calendar has them.
  CHECK(Dates(Expand("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2", "UTC", {9000, 1, 1}, 9h)) ==
        Strings{"9004-02-29", "9008-02-29"});
  CHECK(Dates(Expand("FREQ=WEEKLY;BYDAY=MO;UNTIL=99991231", "UTC", {9999, 12, 1}, 9h)) ==
        Strings{"9999-12-06", "9999-12-13", "9999-12-20", "9999-12-27"});
  CHECK(Dates(Expand("FREQ=DAILY;UNTIL=30000102T235959Z", "UTC", {3000, 1, 1}, 9h)) ==
        Strings{"3000-01-01", "3000-01-02"});
  // Occurrences may run past 9999; the scheduler refuses those with their start.
  CHECK(Dates(Expand("FREQ=DAILY;COUNT=3", "UTC", {9999, 12, 30}, 9h)) ==
        Strings{"9999-12-30", "9999-12-31", "10000-01-01"});
}

TEST_CASE("BYSETPOS picks among all of a period's starts, with any FREQ") {
  // The first of Monday, Tuesday and Wednesday: Mondays (libical 3.0 gave all three days).
  CHECK(Dates(Expand("FREQ=WEEKLY;BYDAY=MO,TU,WE;BYSETPOS=1;COUNT=4", "UTC", {2026, 3, 2}, 10h)) ==
        Strings{"2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23"});
  // The second of a day's three times.
  CHECK(Show(Expand("FREQ=DAILY;BYHOUR=9,10,11;BYSETPOS=2;COUNT=2", "UTC", {2026, 3, 2}, 10h)) ==
        Strings{"2026-03-02 10:00 = 2026-03-02T10:00:00Z",
                "2026-03-03 10:00 = 2026-03-03T10:00:00Z"});
  // The second start of the month is the 1st at 17:00 (libical 3.0 gave the 15th, twice).
  CHECK(Show(Expand("FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=9,17;BYSETPOS=2;COUNT=2", "UTC",
                    {2026, 3, 1}, 9h)) == Strings{"2026-03-01 17:00 = 2026-03-01T17:00:00Z",
                                                  "2026-04-01 17:00 = 2026-04-01T17:00:00Z"});
  // Several positions: the first and the last weekday of each month.
  CHECK(Dates(Expand("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1;COUNT=4", "UTC", {2026, 1, 1},
                     9h)) == Strings{"2026-01-01", "2026-01-30", "2026-02-02", "2026-02-27"});
  CHECK(Show(Expand("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=17;BYMINUTE=0;COUNT=2",
                    "UTC", {2026, 1, 1}, 17h)) ==
        Strings{"2026-01-30 17:00 = 2026-01-30T17:00:00Z",
                "2026-02-27 17:00 = 2026-02-27T17:00:00Z"});
  // A week is counted whole, as WKST begins it, though the series starts within it: from
  // Thursday 2026-03-05 the week's second day, Wednesday the 4th, is already past.
  // (python-dateutil counts the first week from the first start, and would give Friday.)
  CHECK(Dates(Expand("FREQ=WEEKLY;BYDAY=MO,WE,FR;BYSETPOS=2;COUNT=2", "UTC", {2026, 3, 5}, 9h)) ==
        Strings{"2026-03-11", "2026-03-18"});
}

TEST_CASE("a huge COUNT under a huge cap is refused, not allocated up front") {
  // A scheduler may be configured with a very large max_series_occurrences; the rule still
  // ends at the 100-year horizon long before two billion days.
  CHECK(Error("FREQ=DAILY;COUNT=2000000000", {2026, 3, 2}, 10h, SIZE_MAX) ==
        "rrule: series does not end within 100 years of its start");
}

TEST_CASE("two local starts that are one instant across a spring-forward gap are one occurrence") {
  // 02:30 does not exist on 2026-03-08 in New York and is read as 03:30 EDT, which the rule
  // also asks for. RFC 5545 §3.8.5.3: duplicate instances are ignored.
  CHECK(Show(Expand("FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30;COUNT=5", "America/New_York", {2026, 3, 7},
                    150min)) == Strings{"2026-03-07 02:30 = 2026-03-07T07:30:00Z",
                                        "2026-03-07 03:30 = 2026-03-07T08:30:00Z",
                                        "2026-03-08 02:30 = 2026-03-08T07:30:00Z",
                                        "2026-03-09 02:30 = 2026-03-09T06:30:00Z",
                                        "2026-03-09 03:30 = 2026-03-09T07:30:00Z"});
}

// Where libical 3.0, which expanded rules before libsmooth did, strays from RFC 5545
// §3.3.10, found by comparing with python-dateutil (recurrence_differential): each rule
// below gave other dates then.

TEST_CASE(
    "BYHOUR and BYMINUTE give a day's starts in time order, whatever order they are written in") {
  // From Friday 2028-12-01 14:30: the next Friday's 08:30 comes before its 10:30.
  CHECK(Show(Expand("FREQ=WEEKLY;COUNT=1;BYHOUR=10,8", "UTC", {2028, 12, 1}, 14h + 30min)) ==
        Strings{"2028-12-08 08:30 = 2028-12-08T08:30:00Z"});
  CHECK(Show(Expand("FREQ=MONTHLY;COUNT=3;BYHOUR=14,8;BYMINUTE=30,0", "UTC", {2026, 3, 2}, 9h)) ==
        Strings{"2026-03-02 14:00 = 2026-03-02T14:00:00Z",
                "2026-03-02 14:30 = 2026-03-02T14:30:00Z",
                "2026-04-02 08:00 = 2026-04-02T08:00:00Z"});
  CHECK(Show(Expand("FREQ=DAILY;COUNT=3;BYHOUR=14,10,14", "UTC", {2026, 3, 2}, 9h)) ==
        Strings{"2026-03-02 10:00 = 2026-03-02T10:00:00Z",
                "2026-03-02 14:00 = 2026-03-02T14:00:00Z",
                "2026-03-03 10:00 = 2026-03-03T10:00:00Z"});
}

TEST_CASE("a YEARLY BYMONTHDAY without BYMONTH is that day of every month") {
  CHECK(Dates(Expand("FREQ=YEARLY;COUNT=4;BYMONTHDAY=1", "UTC", {2027, 10, 24}, 9h)) ==
        Strings{"2027-11-01", "2027-12-01", "2028-01-01", "2028-02-01"});
  CHECK(Dates(Expand("FREQ=YEARLY;COUNT=3;BYMONTHDAY=30,31", "UTC", {2026, 1, 31}, 9h)) ==
        Strings{"2026-01-31", "2026-03-30", "2026-03-31"});
  // With BYMONTH, the months it names.
  CHECK(Dates(Expand("FREQ=YEARLY;COUNT=2;BYMONTH=6;BYMONTHDAY=15", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2026-06-15", "2027-06-15"});
  // A numbered BYDAY counts within the year there: the 20th Monday of the year, when it is
  // the 18th of its month (libical 3.0 needed BYMONTH for this; naming every month would
  // count Mondays within each month instead).
  CHECK(Dates(Expand("FREQ=YEARLY;COUNT=2;BYDAY=20MO;BYMONTHDAY=18", "UTC", {2026, 3, 2}, 10h)) ==
        Strings{"2026-05-18", "2037-05-18"});
}

TEST_CASE("DAILY and WEEKLY rules: negative BYMONTHDAY, and weeks as WKST begins them") {
  // The last day of the month, when it is a Tuesday.
  CHECK(Dates(Expand("FREQ=DAILY;COUNT=3;BYDAY=TU;BYMONTHDAY=-1", "UTC", {2028, 1, 1}, 9h)) ==
        Strings{"2028-02-29", "2028-10-31", "2029-07-31"});
  CHECK(Dates(Expand("FREQ=DAILY;COUNT=3;BYMONTH=7;BYMONTHDAY=-2,28", "UTC", {2029, 1, 1}, 9h)) ==
        Strings{"2029-07-28", "2029-07-30", "2030-07-28"});
  // Every third week, Sundays: from Friday 2028-07-21 the Sunday of its week (Monday to
  // Sunday) is two days later.
  CHECK(Dates(Expand("FREQ=WEEKLY;INTERVAL=3;COUNT=2;BYDAY=SU", "UTC", {2028, 7, 21}, 9h)) ==
        Strings{"2028-07-23", "2028-08-13"});
  // With weeks from Sunday, that Sunday begins the next week, which the interval skips.
  CHECK(Dates(Expand("FREQ=WEEKLY;INTERVAL=3;COUNT=2;BYDAY=SU;WKST=SU", "UTC", {2028, 7, 21},
                     9h)) == Strings{"2028-08-06", "2028-08-27"});
  // Weeks from Friday: Thursday 2026-11-05 ends one; every other week, Monday to Wednesday.
  CHECK(Dates(Expand("FREQ=WEEKLY;INTERVAL=2;COUNT=3;BYDAY=WE,TU,MO;WKST=FR", "UTC", {2026, 11, 5},
                     9h)) == Strings{"2026-11-16", "2026-11-17", "2026-11-18"});
  // Without BYDAY, the first start's weekday; the start itself is the first occurrence.
  CHECK(Dates(Expand("FREQ=WEEKLY;INTERVAL=2;COUNT=2", "UTC", {2026, 11, 5}, 9h)) ==
        Strings{"2026-11-05", "2026-11-19"});
}

// Week numbers as ISO 8601 has them, with weeks begun on WKST: week 1 is the first week with
// four days or more in the year. The dates below are Python's date.isocalendar() for
// WKST=MO. (libical 3.0 placed these weeks wrongly, BYWEEKNO=20 in September, and crashed on
// BYWEEKNO=20,-1.)
TEST_CASE("BYWEEKNO: weeks of the year as ISO 8601 numbers them, across the year's ends") {
  CHECK(Dates(Expand("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;COUNT=3", "UTC", {2026, 1, 1}, 9h)) ==
        Strings{"2026-05-11", "2027-05-17", "2028-05-15"});
  // 2026 has 53 weeks; the 53rd runs into 2027. Without BYDAY, every day of the week.
  CHECK(
      Dates(Expand("FREQ=YEARLY;BYWEEKNO=53;COUNT=6", "UTC", {2026, 1, 1}, 9h)) ==
      Strings{"2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"});
  // January 1st and 2nd of 2039 are in week 52 of 2038.
  CHECK(Dates(Expand("FREQ=YEARLY;BYWEEKNO=52;BYDAY=SA,SU;COUNT=4", "UTC", {2038, 6, 1}, 9h)) ==
        Strings{"2039-01-01", "2039-01-02", "2039-12-31", "2040-01-01"});
  // The last week, whichever number it has.
  CHECK(Dates(Expand("FREQ=YEARLY;BYWEEKNO=-1;BYDAY=FR;COUNT=3", "UTC", {2026, 6, 1}, 9h)) ==
        Strings{"2027-01-01", "2027-12-31", "2028-12-29"});
  // WKST moves the weeks: from Sunday, 2027's first week begins on January 3rd.
  CHECK(Dates(Expand("FREQ=YEARLY;BYWEEKNO=1;BYDAY=SU;COUNT=2", "UTC", {2026, 6, 1}, 9h)) ==
        Strings{"2027-01-10", "2028-01-09"});
  CHECK(Dates(Expand("FREQ=YEARLY;WKST=SU;BYWEEKNO=1;BYDAY=SU;COUNT=2", "UTC", {2026, 6, 1}, 9h)) ==
        Strings{"2027-01-03", "2028-01-02"});
  // RFC 5545 allows it with YEARLY only, and a numbered BYDAY not with it.
  CHECK(Error("FREQ=MONTHLY;BYWEEKNO=3;COUNT=2") == "rrule: BYWEEKNO needs FREQ=YEARLY");
  CHECK(Error("FREQ=YEARLY;BYWEEKNO=10;BYDAY=1MO;COUNT=2") ==
        "rrule: BYDAY with a number (such as 2MO) cannot be used with BYWEEKNO");
  CHECK(Error("FREQ=YEARLY;BYWEEKNO=54;COUNT=2") ==
        "rrule: BYWEEKNO 54 is out of range (1 to 53, or -53 to -1)");
}

TEST_CASE("BYSETPOS counts each day once, however many values name it") {
  // A value written twice is one value.
  CHECK(Dates(Expand("FREQ=YEARLY;BYSETPOS=-2;BYMONTH=9,2,2;COUNT=2", "UTC", {2026, 12, 20}, 9h)) ==
        Strings{"2027-02-20", "2028-02-20"});
  CHECK(Error("FREQ=MONTHLY;BYSETPOS=-2;BYMONTHDAY=2,2;COUNT=3") ==
        "rrule: the series has no occurrences: BYSETPOS asks for a position beyond the starts "
        "each period has");
  // Days that two values can both name, each once: 31 and -1 are one day in March, so its
  // last is the 31st; April has only its 30th.
  CHECK(Dates(Expand("FREQ=MONTHLY;BYMONTHDAY=-1,31;BYSETPOS=-1;COUNT=2", "UTC", {2026, 3, 2},
                     10h)) == Strings{"2026-03-31", "2026-04-30"});
  // Day 1 and day -365 are January 1st in a common year, so only a leap year has a second.
  CHECK(Dates(Expand("FREQ=YEARLY;BYYEARDAY=1,-365;BYSETPOS=2;COUNT=2", "UTC", {2026, 3, 2},
                     10h)) == Strings{"2028-01-02", "2032-01-02"});
  // Every Monday, and the first Monday: the second Monday is the 9th of March. (BYDAY lists
  // days any of which may match; python-dateutil requires both here, and finds none.)
  CHECK(Dates(Expand("FREQ=MONTHLY;BYDAY=MO,1MO;BYSETPOS=2;COUNT=2", "UTC", {2026, 3, 2}, 10h)) ==
        Strings{"2026-03-09", "2026-04-13"});
  // Without BYSETPOS, such a day is booked once.
  CHECK(Dates(Expand("FREQ=MONTHLY;BYMONTHDAY=-1,31;COUNT=3", "UTC", {2029, 10, 12}, 9h)) ==
        Strings{"2029-10-31", "2029-11-30", "2029-12-31"});
}
