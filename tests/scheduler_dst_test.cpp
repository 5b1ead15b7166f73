// Scheduler across time zones and daylight-saving changes: working hours and availability
// on change days (New York, London, Lord Howe's 30-minute shift, Kolkata's half-hour
// offset), output zones other than the resource's, and recurring series that keep their
// local time.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "schedule_fixtures.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::AlwaysOpen;
using smooth::testing::At;
using smooth::testing::CodeOf;
using smooth::testing::Describe;
using smooth::testing::EveryDay;
using smooth::testing::Hours;
using smooth::testing::MessageOf;
using smooth::testing::Mon;
using smooth::testing::Must;
using smooth::testing::OneOf;
using smooth::testing::ScheduleWorld;
using smooth::testing::Show;
using smooth::testing::StartsWith;
using smooth::testing::Weekdays;
using smooth::testing::Weekly;

namespace {

using Strings = std::vector<std::string>;

// A world with one resource in `zone` open `hours`, and services of any length on it.
struct Zoned : ScheduleWorld {
  Resource res;
  Customer pat = AddCustomer("Pat");
  int services_made = 0;

  Zoned(std::string zone, WorkingHours hours) {
    res = AddResource({.name = "R", .time_zone = std::move(zone), .hours = std::move(hours)});
  }

  Service ServiceOf(std::chrono::minutes duration, std::chrono::minutes slot_interval = 15min) {
    ++services_made;
    return AddService({.name = fmt::format("S{} ({} min)", services_made, duration.count()),
                       .duration = duration,
                       .slot_interval = slot_interval,
                       .requirements = {OneOf({res.id})}});
  }
  SeriesRequest SeriesOf(const Service& s, std::string_view first, std::string rrule) {
    return {.first = {.service = s.id, .customer = pat.id, .start = At(first)},
            .rrule = std::move(rrule)};
  }
  Result<Appointment> BookFor(std::chrono::minutes duration, Instant start) {
    return Book(owner, {.service = ServiceOf(duration).id, .customer = pat.id, .start = start});
  }
  // Slot starts for one local date of the output `zone`.
  Strings Starts(const Service& s, LocalDate date, std::string zone) {
    return SlotStarts(owner,
                      {.service = s.id, .from = date, .to = date, .time_zone = std::move(zone)});
  }
};

// Consecutive starts `step` apart, as RFC 3339.
Strings Every(Instant first, Instant last, Duration step) {
  Strings out;
  for (Instant t = first; t <= last; t += step) out.push_back(Show(t));
  return out;
}

Strings StartsOf(const std::vector<Appointment>& appts) {
  Strings out;
  for (const Appointment& a : appts) out.push_back(Show(a.start));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Working hours and availability on change days

TEST_CASE("New York spring forward: 09:00-17:00 on 2026-03-08 is 8 real hours, 13:00Z-21:00Z") {
  Zoned w("America/New_York", EveryDay({Hours(9, 17)}));  // Sunday included
  Service cut = w.ServiceOf(30min);
  Strings slots = w.Starts(cut, {2026, 3, 8}, "America/New_York");
  CHECK(slots == Every(At("2026-03-08T13:00:00Z"), At("2026-03-08T20:30:00Z"), 15min));
  CHECK(slots.size() == 31);
  // An 8-hour service fits exactly; 8 h 15 min does not.
  CHECK_CODE(w.BookFor(8h + 15min, At("2026-03-08T13:00:00Z")), StatusCode::kFailedPrecondition);
  CHECK_CODE(w.BookFor(8h, At("2026-03-08T12:00:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(8h, At("2026-03-08T13:00:00Z")));
  // The day before was still on EST.
  CHECK(w.Starts(cut, {2026, 3, 7}, "America/New_York") ==
        Every(At("2026-03-07T14:00:00Z"), At("2026-03-07T21:30:00Z"), 15min));
}

TEST_CASE("New York fall back: 09:00-17:00 on 2026-11-01 is 8 real hours, 14:00Z-22:00Z") {
  Zoned w("America/New_York", EveryDay({Hours(9, 17)}));
  Service cut = w.ServiceOf(30min);
  Strings slots = w.Starts(cut, {2026, 11, 1}, "America/New_York");
  CHECK(slots == Every(At("2026-11-01T14:00:00Z"), At("2026-11-01T21:30:00Z"), 15min));
  CHECK(slots.size() == 31);
  Service day = w.ServiceOf(8h);
  CHECK(w.Starts(day, {2026, 11, 1}, "America/New_York") == Strings{"2026-11-01T14:00:00Z"});
  CHECK_CODE(w.BookFor(8h + 15min, At("2026-11-01T14:00:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(8h, At("2026-11-01T14:00:00Z")));
}

TEST_CASE("hours spanning the spring-forward gap: 01:00-04:00 on 2026-03-08 is 2 real hours") {
  Zoned w("America/New_York", Weekly({6}, {Hours(1, 4)}));  // Sundays
  // 01:00 EST = 06:00Z; 04:00 EDT = 08:00Z.
  CHECK(w.Starts(w.ServiceOf(30min), {2026, 3, 8}, "America/New_York") ==
        Every(At("2026-03-08T06:00:00Z"), At("2026-03-08T07:30:00Z"), 15min));
  CHECK_CODE(w.BookFor(2h + 15min, At("2026-03-08T06:00:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(2h, At("2026-03-08T06:00:00Z")));
  // A week later, the same hours are 3 real hours (05:00Z-08:00Z).
  CHECK(w.BookFor(3h, At("2026-03-15T05:00:00Z")));
}

TEST_CASE("an opening time inside the gap is read with the offset before the gap") {
  // 02:30 does not exist on 2026-03-08 in New York: it means 02:30 EST = 07:30Z, which
  // the wall clock shows as 03:30 EDT. So 03:00 EDT (07:00Z) is still closed.
  Zoned w("America/New_York", Weekly({6}, {Hours(2, 30, 5, 0)}));
  CHECK(w.Starts(w.ServiceOf(30min), {2026, 3, 8}, "America/New_York") ==
        Every(At("2026-03-08T07:30:00Z"), At("2026-03-08T08:30:00Z"), 15min));
  CHECK_CODE(w.BookFor(30min, At("2026-03-08T07:00:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(90min, At("2026-03-08T07:30:00Z")));
}

TEST_CASE("an ambiguous opening time on a fall-back day means its first occurrence") {
  // 01:30 happens twice on 2026-11-01 in New York; the first is 01:30 EDT = 05:30Z.
  // 03:00 EST = 08:00Z, so the day's hours are 2.5 real hours.
  Zoned w("America/New_York", Weekly({6}, {Hours(1, 30, 3, 0)}));
  CHECK(w.Starts(w.ServiceOf(30min), {2026, 11, 1}, "America/New_York") ==
        Every(At("2026-11-01T05:30:00Z"), At("2026-11-01T07:30:00Z"), 15min));
  CHECK_CODE(w.BookFor(30min, At("2026-11-01T05:15:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(150min, At("2026-11-01T05:30:00Z")));
}

TEST_CASE(
    "Europe/London: 09:00-17:00 on 2026-03-29 is 08:00Z-16:00Z, on 2026-10-25 09:00Z-17:00Z") {
  Zoned w("Europe/London", EveryDay({Hours(9, 17)}));
  Service cut = w.ServiceOf(30min);
  CHECK(w.Starts(cut, {2026, 3, 29}, "Europe/London") ==
        Every(At("2026-03-29T08:00:00Z"), At("2026-03-29T15:30:00Z"), 15min));
  CHECK(w.Starts(cut, {2026, 3, 28}, "Europe/London") ==
        Every(At("2026-03-28T09:00:00Z"), At("2026-03-28T16:30:00Z"), 15min));
  CHECK(w.Starts(cut, {2026, 10, 25}, "Europe/London") ==
        Every(At("2026-10-25T09:00:00Z"), At("2026-10-25T16:30:00Z"), 15min));
  CHECK(w.Starts(cut, {2026, 10, 24}, "Europe/London") ==
        Every(At("2026-10-24T08:00:00Z"), At("2026-10-24T15:30:00Z"), 15min));
  CHECK(w.BookFor(8h, At("2026-03-29T08:00:00Z")));
  CHECK(w.BookFor(8h, At("2026-10-25T09:00:00Z")));
}

TEST_CASE("Australia/Lord_Howe shifts by 30 minutes: 8 real hours on both change days") {
  // +11 until 2026-04-04T15:00Z, then +10:30 until 2026-10-03T15:30Z, then +11.
  Zoned w("Australia/Lord_Howe", EveryDay({Hours(9, 17)}));
  Service cut = w.ServiceOf(30min);
  // 2026-04-05: 09:00 +10:30 = 2026-04-04T22:30Z.
  Strings april = w.Starts(cut, {2026, 4, 5}, "Australia/Lord_Howe");
  CHECK(april == Every(At("2026-04-04T22:30:00Z"), At("2026-04-05T06:00:00Z"), 15min));
  CHECK(april.size() == 31);
  // 2026-10-04: 09:00 +11 = 2026-10-03T22:00Z.
  Strings october = w.Starts(cut, {2026, 10, 4}, "Australia/Lord_Howe");
  CHECK(october == Every(At("2026-10-03T22:00:00Z"), At("2026-10-04T05:30:00Z"), 15min));
  CHECK(october.size() == 31);
  CHECK(w.BookFor(8h, At("2026-04-04T22:30:00Z")));
  CHECK(w.BookFor(8h, At("2026-10-03T22:00:00Z")));
}

TEST_CASE("Australia/Lord_Howe: hours across the half-hour gap and the half-hour overlap") {
  Zoned w("Australia/Lord_Howe", [] {
    WorkingHours h = Weekly({6}, {Hours(1, 3)});  // Sundays 01:00-03:00
    h.overrides.push_back({.date = {2026, 10, 4}, .hours = {Hours(2, 3)}});
    return h;
  }());
  // 2026-04-05: 01:30-02:00 happens twice, so 01:00 (+11, 14:00Z) to 03:00 (+10:30,
  // 16:30Z) is 2.5 real hours.
  CHECK(w.Starts(w.ServiceOf(30min), {2026, 4, 5}, "Australia/Lord_Howe") ==
        Every(At("2026-04-04T14:00:00Z"), At("2026-04-04T16:00:00Z"), 15min));
  CHECK_CODE(w.BookFor(165min, At("2026-04-04T14:00:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(150min, At("2026-04-04T14:00:00Z")));
  // 2026-10-04: 02:00-02:30 does not exist; 02:00 is read as +10:30 (15:30Z) and 03:00 is
  // +11 (16:00Z): half an hour.
  CHECK(w.Starts(w.ServiceOf(30min), {2026, 10, 4}, "Australia/Lord_Howe") ==
        Strings{"2026-10-03T15:30:00Z"});
  CHECK_CODE(w.BookFor(45min, At("2026-10-03T15:30:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(30min, At("2026-10-03T15:30:00Z")));
}

TEST_CASE("a query over several dates across the change gives each date its own offsets") {
  Zoned w("America/New_York", EveryDay({Hours(9, 17)}));
  auto slots = Must(w.scheduler->Availability(w.owner, w.acme.id,
                                              {.service = w.ServiceOf(8h).id,
                                               .from = {2026, 3, 7},
                                               .to = {2026, 3, 9},
                                               .time_zone = "America/New_York"}));
  Strings starts;
  for (const Slot& s : slots) starts.push_back(Show(s.start));
  CHECK(starts == Strings{"2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"});
}

TEST_CASE("date overrides and weekdays are judged on the resource's local date") {
  // Open around the clock except a closed Monday 2026-03-09 in New York, which runs from
  // 04:00Z on the 9th to 04:00Z on the 10th.
  WorkingHours hours = smooth::testing::AlwaysOpen();
  hours.overrides.push_back({.date = {2026, 3, 9}, .hours = {}});
  Zoned w("America/New_York", hours);
  CHECK(w.BookFor(30min, At("2026-03-09T03:00:00Z")));  // Sunday 23:00 EDT
  CHECK_CODE(w.BookFor(30min, At("2026-03-09T04:00:00Z")), StatusCode::kFailedPrecondition);
  CHECK_CODE(w.BookFor(30min, At("2026-03-10T02:00:00Z")),
             StatusCode::kFailedPrecondition);          // Mon 22:00
  CHECK(w.BookFor(30min, At("2026-03-10T04:00:00Z")));  // Tuesday 00:00 EDT
  CHECK_CODE(w.BookFor(60min, At("2026-03-09T03:30:00Z")),
             StatusCode::kFailedPrecondition);  // runs into Monday
}

TEST_CASE("Asia/Kolkata (+05:30): 09:00 local opens at 03:30Z") {
  Zoned w("Asia/Kolkata", EveryDay({Hours(9, 17)}));
  CHECK_CODE(w.BookFor(30min, At("2026-03-09T03:15:00Z")), StatusCode::kFailedPrecondition);
  CHECK(w.BookFor(30min, At("2026-03-09T03:30:00Z")));
  CHECK(w.BookFor(30min, At("2026-03-09T11:00:00Z")));
  CHECK_CODE(w.BookFor(30min, At("2026-03-09T11:15:00Z")), StatusCode::kFailedPrecondition);
}

TEST_CASE("availability steps from midnight of the output zone: Kolkata hours seen from UTC") {
  Zoned w("Asia/Kolkata", EveryDay({Hours(9, 17)}));  // 03:30Z-11:30Z
  // On a 15-minute grid from UTC midnight every start falls on :00/:15/:30/:45 UTC.
  Strings quarter = w.Starts(w.ServiceOf(30min), {2026, 3, 9}, "UTC");
  CHECK(quarter == Every(At("2026-03-09T03:30:00Z"), At("2026-03-09T11:00:00Z"), 15min));
  for (const std::string& s : quarter) {
    const std::string mm = s.substr(14, 2);
    CHECK_MESSAGE((mm == "00" || mm == "15" || mm == "30" || mm == "45"), s);
  }
  // On an hourly grid the output zone decides where the hours fall: from UTC midnight
  // they are on the hour UTC, from Kolkata midnight (18:30Z) on the half hour UTC.
  Service hourly = w.ServiceOf(30min, 60min);
  CHECK(w.Starts(hourly, {2026, 3, 9}, "UTC") ==
        Every(At("2026-03-09T04:00:00Z"), At("2026-03-09T11:00:00Z"), 60min));
  CHECK(w.Starts(hourly, {2026, 3, 9}, "Asia/Kolkata") ==
        Every(At("2026-03-09T03:30:00Z"), At("2026-03-09T10:30:00Z"), 60min));
}

TEST_CASE(
    "availability in another zone than the resource's: a Tokyo date covers two New York days") {
  Zoned w("America/New_York", EveryDay({Hours(9, 17)}));
  Service cut = w.ServiceOf(30min);
  // Tokyo's 2026-03-10 is [2026-03-09T15:00Z, 2026-03-10T15:00Z): the end of New York's
  // Monday (13:00Z-21:00Z) and the start of its Tuesday.
  Strings slots = w.Starts(cut, {2026, 3, 10}, "Asia/Tokyo");
  Strings want = Every(At("2026-03-09T15:00:00Z"), At("2026-03-09T20:30:00Z"), 15min);
  for (const std::string& s :
       Every(At("2026-03-10T13:00:00Z"), At("2026-03-10T14:45:00Z"), 15min)) {
    want.push_back(s);
  }
  CHECK(slots == want);
  CHECK(slots.size() == 31);
  // London's 2026-03-09 (GMT, from 00:00Z) holds New York's whole Monday.
  CHECK(w.Starts(cut, {2026, 3, 9}, "Europe/London") ==
        Every(At("2026-03-09T13:00:00Z"), At("2026-03-09T20:30:00Z"), 15min));
  // And New York's own Monday, seen from New York.
  CHECK(w.Starts(cut, {2026, 3, 9}, "America/New_York") ==
        Every(At("2026-03-09T13:00:00Z"), At("2026-03-09T20:30:00Z"), 15min));
}

TEST_CASE("availability on a 23-hour day steps in absolute time from local midnight") {
  Zoned w("America/New_York", smooth::testing::AlwaysOpen());
  // 2026-03-08 runs from 05:00Z to 04:00Z next day: 23 hours, 23 hourly starts.
  Strings spring = w.Starts(w.ServiceOf(30min, 60min), {2026, 3, 8}, "America/New_York");
  CHECK(spring == Every(At("2026-03-08T05:00:00Z"), At("2026-03-09T03:00:00Z"), 60min));
  CHECK(spring.size() == 23);
  // 2026-11-01 runs from 04:00Z to 05:00Z next day: 25 hours.
  Strings fall = w.Starts(w.ServiceOf(30min, 60min), {2026, 11, 1}, "America/New_York");
  CHECK(fall == Every(At("2026-11-01T04:00:00Z"), At("2026-11-02T04:00:00Z"), 60min));
  CHECK(fall.size() == 25);
}

// ---------------------------------------------------------------------------------------
// Recurring series

namespace {
// A New York resource, weekdays 09:00-17:00, capacity 1, with a 30-minute service.
struct NySeries : Zoned {
  Service cut = ServiceOf(30min);
  NySeries() : Zoned("America/New_York", Weekdays({Hours(9, 17)})) {}

  SeriesRequest Weekly4(std::string_view first) {
    return {.first = {.service = cut.id, .customer = pat.id, .start = At(first)},
            .rrule = "FREQ=WEEKLY;COUNT=4"};
  }
};
}  // namespace

TEST_CASE(
    "series: weekly at 10:00 New York stays 10:00 local across the March change (15Z, then 14Z)") {
  NySeries w;
  // Monday 2026-03-02 10:00 EST = 15:00Z; the clock's now is 09:00Z that day.
  SeriesBooking b =
      Must(w.scheduler->BookSeries(w.owner, w.acme.id, w.Weekly4("2026-03-02T15:00:00Z")));
  CHECK(b.series.valid());
  REQUIRE(b.appointments.size() == 4);
  CHECK(StartsOf(b.appointments) == Strings{"2026-03-02T15:00:00Z", "2026-03-09T14:00:00Z",
                                            "2026-03-16T14:00:00Z", "2026-03-23T14:00:00Z"});
  for (const Appointment& a : b.appointments) {
    CAPTURE(Describe(a));
    CHECK(a.series == std::optional<SeriesId>(b.series));
    CHECK(a.end == a.start + 30min);
    CHECK(a.status == AppointmentStatus::kConfirmed);
  }
  CHECK(w.Occupying().size() == 4);
}

TEST_CASE("series: one conflicting occurrence books nothing, and the conflict is named") {
  NySeries w;
  Must(w.Book(w.owner,
              {.service = w.cut.id, .customer = w.pat.id, .start = At("2026-03-16T14:00:00Z")}));
  const Strings before = w.Snapshot();
  w.events.clear();
  std::vector<OccurrenceConflict> conflicts;
  auto r =
      w.scheduler->BookSeries(w.owner, w.acme.id, w.Weekly4("2026-03-02T15:00:00Z"), &conflicts);
  CHECK_CODE(r, StatusCode::kConflict);
  CHECK_MESSAGE(MessageOf(r).find("2026-03-16") != std::string::npos, MessageOf(r));
  REQUIRE(conflicts.size() == 1);
  CHECK(Show(conflicts[0].start) == "2026-03-16T14:00:00Z");
  CHECK_FALSE(conflicts[0].reason.empty());
  CHECK(w.Snapshot() == before);
  CHECK(w.events.empty());
  // The same vector, reused for a series that books: it then lists nothing.
  Must(w.scheduler->BookSeries(w.owner, w.acme.id, w.Weekly4("2026-04-06T14:00:00Z"), &conflicts));
  CHECK(conflicts.empty());
}

TEST_CASE("series: every occurrence that cannot be booked is named, closed days included") {
  NySeries w;
  Resource r = w.res;
  r.hours.overrides.push_back({.date = {2026, 3, 23}, .hours = {}});
  Must(w.scheduler->UpdateResource(w.owner, w.acme.id, r));
  Must(w.Book(w.owner,
              {.service = w.cut.id, .customer = w.pat.id, .start = At("2026-03-09T14:00:00Z")}));
  const Strings before = w.Snapshot();
  std::vector<OccurrenceConflict> conflicts;
  auto result =
      w.scheduler->BookSeries(w.owner, w.acme.id, w.Weekly4("2026-03-02T15:00:00Z"), &conflicts);
  CHECK_CODE(result, StatusCode::kConflict);
  Strings named;
  for (const OccurrenceConflict& c : conflicts) named.push_back(Show(c.start));
  std::sort(named.begin(), named.end());
  CHECK(named == Strings{"2026-03-09T14:00:00Z", "2026-03-23T14:00:00Z"});
  CHECK(w.Snapshot() == before);
}

TEST_CASE("series: a malformed or unbounded rrule is invalid and books nothing") {
  NySeries w;
  for (const char* rule : {"FREQ=SOMETIMES;COUNT=4", "FREQ=WEEKLY", "COUNT=4", "",
                           "FREQ=WEEKLY;COUNT=four", "FREQ=WEEKLY;BYDAY=XX;COUNT=4"}) {
    CAPTURE(rule);
    SeriesRequest req = w.Weekly4("2026-03-02T15:00:00Z");
    req.rrule = rule;
    CHECK_INVALID(w.scheduler->BookSeries(w.owner, w.acme.id, req), "rrule");
  }
  CHECK(w.Snapshot().empty());
}

TEST_CASE("series: more than 500 occurrences is refused; 500 is fine") {
  Zoned w("America/New_York", smooth::testing::AlwaysOpen());
  Service cut = w.ServiceOf(30min);
  SeriesRequest req{
      .first = {.service = cut.id, .customer = w.pat.id, .start = At("2026-03-02T15:00:00Z")},
      .rrule = "FREQ=DAILY;COUNT=501"};
  CHECK_INVALID(w.scheduler->BookSeries(w.owner, w.acme.id, req), "rrule");
  CHECK(w.Snapshot().empty());
  req.rrule = "FREQ=DAILY;COUNT=500";
  SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  CHECK(b.appointments.size() == 500);
}

TEST_CASE("series: an occurrence at a local time the gap skips uses the offset before the gap") {
  Zoned w("America/New_York", smooth::testing::AlwaysOpen());
  w.clock.Set(At("2026-02-27T00:00:00Z"));
  Service cut = w.ServiceOf(30min);
  // Sundays at 02:30 local from 2026-03-01 (EST, 07:30Z).
  SeriesRequest req{
      .first = {.service = cut.id, .customer = w.pat.id, .start = At("2026-03-01T07:30:00Z")},
      .rrule = "FREQ=WEEKLY;COUNT=3"};
  SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  CHECK(StartsOf(b.appointments) ==
        Strings{"2026-03-01T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-15T06:30:00Z"});
}

TEST_CASE("series: a repeated local time on the fall-back day means its first occurrence") {
  Zoned w("America/New_York", smooth::testing::AlwaysOpen());
  Service cut = w.ServiceOf(30min);
  // Sundays at 01:30 local from 2026-10-25 (EDT, 05:30Z).
  SeriesRequest req{
      .first = {.service = cut.id, .customer = w.pat.id, .start = At("2026-10-25T05:30:00Z")},
      .rrule = "FREQ=WEEKLY;COUNT=3"};
  SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  CHECK(StartsOf(b.appointments) ==
        Strings{"2026-10-25T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-08T06:30:00Z"});
}

TEST_CASE("series: started in the repeated hour of a fall-back day, it keeps its wall clock") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "America/New_York", .hours = AlwaysOpen()});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  // 2026-11-01 01:30 EST (the second 01:30 of the day) = 06:30Z.
  const Instant first = At("2026-11-01T06:30:00Z");
  SeriesBooking s = Must(
      w.scheduler->BookSeries(w.owner, w.acme.id,
                              {.first = {.service = cut.id, .customer = pat.id, .start = first},
                               .rrule = "FREQ=DAILY;COUNT=2"}));
  REQUIRE(s.appointments.size() == 2);
  CHECK(Show(s.appointments[0].start) == "2026-11-01T06:30:00Z");
  // The next day 01:30 EST is 06:30Z.
  CHECK(Show(s.appointments[1].start) == "2026-11-02T06:30:00Z");
}

TEST_CASE("series: seconds of the first start carry over to every occurrence") {
  Zoned w("America/New_York", AlwaysOpen());
  Service cut = w.ServiceOf(30min);
  SeriesRequest req{.first = {.service = cut.id,
                              .customer = w.pat.id,
                              .start = At("2026-10-31T05:30:15.5Z")},  // 01:30:15.5 EDT
                    .rrule = "FREQ=DAILY;COUNT=3"};
  SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  // On the fall-back day 01:30 means its first occurrence (EDT), then EST.
  CHECK(StartsOf(b.appointments) == Strings{"2026-10-31T05:30:15.500000Z",
                                            "2026-11-01T05:30:15.500000Z",
                                            "2026-11-02T06:30:15.500000Z"});
}

TEST_CASE("series: UNTIL bounds the starts booked, seconds of the first start included") {
  // Occurrences start at hh:mm:30; an UNTIL at hh:mm:00 of a day comes before that day's
  // start, which must not be booked ("occurrences starting at or before that instant").
  Zoned w("UTC", AlwaysOpen());
  Service cut = w.ServiceOf(30min);
  for (const std::string rrule : {"FREQ=DAILY;UNTIL=20260311T100000Z",    // a UTC date-time
                                  "FREQ=DAILY;UNTIL=20260311T100000"}) {  // a floating one
    CAPTURE(rrule);
    SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id,
                                                   w.SeriesOf(cut, "2026-03-09T10:00:30Z", rrule)));
    CHECK(StartsOf(b.appointments) == Strings{"2026-03-09T10:00:30Z", "2026-03-10T10:00:30Z"});
    Must(w.scheduler->CancelSeriesFrom(w.owner, w.acme.id, b.appointments.front().id));
  }
  // An UNTIL on the start itself keeps it, to the microsecond.
  SeriesBooking b = Must(w.scheduler->BookSeries(
      w.owner, w.acme.id,
      w.SeriesOf(cut, "2026-03-09T10:00:00Z", "FREQ=DAILY;UNTIL=20260311T100000Z")));
  CHECK(StartsOf(b.appointments) ==
        Strings{"2026-03-09T10:00:00Z", "2026-03-10T10:00:00Z", "2026-03-11T10:00:00Z"});
}

TEST_CASE("series: a UTC UNTIL bounds a first start in the repeated hour as booked") {
  // 2026-11-01 01:30 EST (the second 01:30) = 06:30Z; the wall clock 01:30 otherwise means
  // its first occurrence, 05:30Z. An UNTIL between the two comes before the start booked.
  Zoned w("America/New_York", AlwaysOpen());
  Service cut = w.ServiceOf(30min);
  auto before = w.scheduler->BookSeries(
      w.owner, w.acme.id,
      w.SeriesOf(cut, "2026-11-01T06:30:00Z", "FREQ=DAILY;UNTIL=20261101T060000Z"));
  CHECK_MESSAGE(!before.ok(), "booked " << (before ? StartsOf(before->appointments).at(0) : ""));
  CHECK_INVALID(before, "rrule");
  CHECK(MessageOf(before) == "rrule: the series has no occurrences");
  // An UNTIL on that start keeps it.
  SeriesBooking on = Must(w.scheduler->BookSeries(
      w.owner, w.acme.id,
      w.SeriesOf(cut, "2026-11-01T06:30:00Z", "FREQ=DAILY;UNTIL=20261101T063000Z")));
  CHECK(StartsOf(on.appointments) == Strings{"2026-11-01T06:30:00Z"});
}

TEST_CASE("series: London weekly at 10:00 moves from 10:00Z to 09:00Z at the March change") {
  Zoned w("Europe/London", Weekdays({Hours(9, 17)}));
  Service cut = w.ServiceOf(30min);
  SeriesRequest req{
      .first = {.service = cut.id, .customer = w.pat.id, .start = At("2026-03-23T10:00:00Z")},
      .rrule = "FREQ=WEEKLY;COUNT=2"};
  SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  CHECK(StartsOf(b.appointments) == Strings{"2026-03-23T10:00:00Z", "2026-03-30T09:00:00Z"});
}

TEST_CASE("series: the booking permissions apply to the whole series") {
  NySeries w;
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  CHECK_CODE(w.scheduler->BookSeries(w.As("PLATFORM_SUPPORT"), w.acme.id,
                                     w.Weekly4("2026-03-02T15:00:00Z")),
             StatusCode::kPermissionDenied);
  CHECK_CODE(
      w.scheduler->BookSeries(w.As("CUSTOMER"), w.acme.id, w.Weekly4("2026-03-02T15:00:00Z")),
      StatusCode::kPermissionDenied);  // Pat is not the customer's own record
  CHECK_CODE(w.scheduler->BookSeries(w.As("globex:TENANT_OWNER"), w.acme.id,
                                     w.Weekly4("2026-03-02T15:00:00Z")),
             StatusCode::kNotFound);
  CHECK(w.Snapshot().empty());
  SeriesRequest mine = w.Weekly4("2026-03-02T15:00:00Z");
  mine.first.customer = me.id;
  CHECK(Must(w.scheduler->BookSeries(w.As("CUSTOMER"), w.acme.id, mine)).appointments.size() == 4);
}

TEST_CASE("series: a customer's notice rules apply to every occurrence, not just the first") {
  NySeries w;
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  // Booked up to 15 days ahead, at least a day ahead; the clock's now is 2026-03-02T09:00Z.
  Service s = w.AddService({.name = "Limited",
                            .min_notice = 24h,
                            .max_advance = 24h * 15,
                            .requirements = {OneOf({w.res.id})}});
  SeriesRequest weekly{
      .first = {.service = s.id, .customer = me.id, .start = At("2026-03-03T15:00:00Z")},
      .rrule = "FREQ=WEEKLY;COUNT=4"};
  std::vector<OccurrenceConflict> conflicts;
  auto refused = w.scheduler->BookSeries(w.As("CUSTOMER"), w.acme.id, weekly, &conflicts);
  CHECK_CODE(refused, StatusCode::kConflict);
  // The third and fourth Tuesdays are more than 15 days ahead.
  REQUIRE(conflicts.size() == 2);
  CHECK(Show(conflicts[0].start) == "2026-03-17T14:00:00Z");
  CHECK(Show(conflicts[1].start) == "2026-03-24T14:00:00Z");
  CHECK(StartsWith(conflicts[0].reason, "start: too far in advance"));
  CHECK(w.Snapshot().empty());
  // Inside the notice period from the first occurrence on: the first is named.
  weekly.first.start = At("2026-03-02T20:00:00Z");
  weekly.rrule = "FREQ=WEEKLY;COUNT=2";
  CHECK_CODE(w.scheduler->BookSeries(w.As("CUSTOMER"), w.acme.id, weekly, &conflicts),
             StatusCode::kConflict);
  REQUIRE(conflicts.size() == 1);
  CHECK(Show(conflicts[0].start) == "2026-03-02T20:00:00Z");
  CHECK(w.Snapshot().empty());
  // Staff are not held to notice: the same four Tuesdays book.
  weekly.first.start = At("2026-03-03T15:00:00Z");
  weekly.rrule = "FREQ=WEEKLY;COUNT=4";
  CHECK(
      Must(w.scheduler->BookSeries(w.As("TENANT_STAFF"), w.acme.id, weekly)).appointments.size() ==
      4);
}

TEST_CASE("series: CancelSeriesFrom goes by place in the series, not by rescheduled starts") {
  NySeries w;
  SeriesBooking b =
      Must(w.scheduler->BookSeries(w.owner, w.acme.id, w.Weekly4("2026-03-02T15:00:00Z")));
  REQUIRE(b.appointments.size() == 4);
  std::vector<Appointment> weeks = b.appointments;  // Mondays 2, 9, 16 and 23 March
  std::sort(weeks.begin(), weeks.end(),
            [](const Appointment& x, const Appointment& y) { return x.start < y.start; });
  // The second week's moves past the fourth's (to Wednesday 25 March), the fourth's to
  // before the third (Friday 13 March), both at 10:00 New York.
  Must(w.scheduler->Reschedule(w.owner, w.acme.id, weeks[1].id, At("2026-03-25T14:00:00Z")));
  Must(w.scheduler->Reschedule(w.owner, w.acme.id, weeks[3].id, At("2026-03-13T14:00:00Z")));

  // From the third on: the third and the fourth, wherever they are now; not the second.
  CHECK(Must(w.scheduler->CancelSeriesFrom(w.owner, w.acme.id, weeks[2].id)) == 2);
  auto status = [&](const Appointment& a) {
    return Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id)).status;
  };
  CHECK(status(weeks[0]) == AppointmentStatus::kConfirmed);
  CHECK(status(weeks[1]) == AppointmentStatus::kConfirmed);
  CHECK(status(weeks[2]) == AppointmentStatus::kCancelled);
  CHECK(status(weeks[3]) == AppointmentStatus::kCancelled);
}

TEST_CASE("series: CancelSeriesFrom cancels that occurrence and the later ones only") {
  NySeries w;
  SeriesBooking b =
      Must(w.scheduler->BookSeries(w.owner, w.acme.id, w.Weekly4("2026-03-02T15:00:00Z")));
  // One created event per occurrence, numbered consecutively.
  REQUIRE(w.events.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(w.events[i].type == EventType::kCreated);
    if (i > 0) CHECK(w.events[i].seq == w.events[i - 1].seq + 1);
  }
  w.events.clear();
  std::vector<Appointment> appts = b.appointments;
  std::sort(appts.begin(), appts.end(),
            [](const Appointment& x, const Appointment& y) { return x.start < y.start; });
  REQUIRE(appts.size() == 4);
  CHECK(Must(w.scheduler->CancelSeriesFrom(w.owner, w.acme.id, appts[1].id)) == 3);
  CHECK(w.events.size() == 3);
  for (const ScheduleEvent& e : w.events) CHECK(e.type == EventType::kCancelled);
  // One for each of the three cancelled, and none for the first.
  std::vector<AppointmentId> announced;
  for (const ScheduleEvent& e : w.events) {
    REQUIRE(e.appointment.has_value());
    announced.push_back(e.appointment->id);
  }
  std::sort(announced.begin(), announced.end());
  std::vector<AppointmentId> cancelled = {appts[1].id, appts[2].id, appts[3].id};
  std::sort(cancelled.begin(), cancelled.end());
  CHECK(announced == cancelled);
  CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, appts[0].id)).status ==
        AppointmentStatus::kConfirmed);
  for (std::size_t i = 1; i < 4; ++i) {
    CAPTURE(i);
    CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, appts[i].id)).status ==
          AppointmentStatus::kCancelled);
  }
  // The freed occurrences are bookable again; the kept one is not.
  CHECK(w.Book(w.owner, {.service = w.cut.id, .customer = w.pat.id, .start = appts[2].start}));
  CHECK_CODE(w.Book(w.owner, {.service = w.cut.id, .customer = w.pat.id, .start = appts[0].start}),
             StatusCode::kConflict);
}

TEST_CASE("series: staff linked to one resource cannot cancel occurrences on another's") {
  ScheduleWorld w;
  const User& staff = w.users.at("TENANT_STAFF");
  Resource a =
      w.AddResource({.name = "A", .time_zone = "UTC", .user = staff.id, .hours = AlwaysOpen()});
  Resource b = w.AddResource({.name = "B", .time_zone = "UTC", .hours = AlwaysOpen()});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({a.id, b.id})}});
  Customer pat = w.AddCustomer("Pat");
  Customer quinn = w.AddCustomer("Quinn");
  // A is busy on the second day, so the series' second occurrence goes to B.
  Must(w.Book(
      w.owner,
      {.service = cut.id, .customer = quinn.id, .start = Mon(10) + 24h, .resources = {a.id}}));
  SeriesBooking s = Must(
      w.scheduler->BookSeries(w.owner, w.acme.id,
                              {.first = {.service = cut.id, .customer = pat.id, .start = Mon(10)},
                               .rrule = "FREQ=DAILY;COUNT=2"}));
  REQUIRE(s.appointments.size() == 2);
  REQUIRE(s.appointments[0].resources == std::vector<ResourceId>{a.id});
  REQUIRE(s.appointments[1].resources == std::vector<ResourceId>{b.id});
  Principal p = w.As("TENANT_STAFF");
  // The staff member may not cancel the occurrence on B on its own...
  CHECK_CODE(w.scheduler->Cancel(p, w.acme.id, s.appointments[1].id),
             StatusCode::kPermissionDenied);
  // ...nor through CancelSeriesFrom on their own occurrence: refused whole, nothing written.
  auto n = w.scheduler->CancelSeriesFrom(p, w.acme.id, s.appointments[0].id);
  CHECK_CODE(n, StatusCode::kPermissionDenied);
  Appointment second = Must(w.scheduler->GetAppointment(w.root_p, w.acme.id, s.appointments[1].id));
  CHECK_MESSAGE(second.status != AppointmentStatus::kCancelled,
                "CancelSeriesFrom answered " << CodeOf(n) << " " << MessageOf(n));
  CHECK(second.status == AppointmentStatus::kConfirmed);
  CHECK(second.version == s.appointments[1].version);
  Appointment own = Must(w.scheduler->GetAppointment(w.root_p, w.acme.id, s.appointments[0].id));
  CHECK(own.status == AppointmentStatus::kConfirmed);
  // The owner may cancel both.
  CHECK(Must(w.scheduler->CancelSeriesFrom(w.owner, w.acme.id, s.appointments[0].id)) == 2);
}

TEST_CASE("series: a weekly rule never books a weekday other than the one it names") {
  NySeries w;
  // Monday 2026-03-02 10:00 EST. WEEKLY;BYDAY=2MO has no meaning (RFC 5545 allows a number
  // only with MONTHLY or YEARLY); libical alone would book Wednesdays.
  SeriesRequest req = w.Weekly4("2026-03-02T15:00:00Z");
  req.rrule = "FREQ=WEEKLY;BYDAY=2MO;COUNT=2";
  CHECK_INVALID(w.scheduler->BookSeries(w.owner, w.acme.id, req), "rrule");
  CHECK(w.Snapshot().empty());
}

TEST_CASE("series: late in year 9999 an occurrence past it is refused by its start") {
  Zoned w("UTC", AlwaysOpen());
  SeriesRequest req = w.SeriesOf(w.ServiceOf(30min), "9999-12-30T10:00:00Z", "FREQ=DAILY;COUNT=2");
  SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  CHECK(StartsOf(b.appointments) == Strings{"9999-12-30T10:00:00Z", "9999-12-31T10:00:00Z"});
  const Strings before = w.Snapshot();
  req.first.start = At("9999-12-30T12:00:00Z");
  req.rrule = "FREQ=DAILY;COUNT=3";
  CHECK_INVALID(w.scheduler->BookSeries(w.owner, w.acme.id, req), "rrule: an occurrence's start");
  CHECK(w.Snapshot() == before);
}

TEST_CASE("series: a start the gap makes equal to another is booked once") {
  Zoned w("America/New_York", AlwaysOpen());
  w.clock.Set(At("2026-03-01T00:00:00Z"));
  // 02:30 and 03:30 daily; on 2026-03-08 02:30 is read as 03:30 EDT, 07:30Z, like 03:30.
  SeriesRequest req = w.SeriesOf(w.ServiceOf(30min), "2026-03-07T07:30:00Z",
                                 "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30;COUNT=4");
  SeriesBooking b = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  CHECK(StartsOf(b.appointments) == Strings{"2026-03-07T07:30:00Z", "2026-03-07T08:30:00Z",
                                            "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"});
}

TEST_CASE("series: time_zone keeps the wall clock of that zone, not the resource's") {
  // A resource in London; the customer books weekly at 10:00 New York time. New York moves
  // its clocks on 8 March, London on 29 March: between the two, 10:00 in New York is 14:00Z.
  Zoned w("Europe/London", AlwaysOpen());
  const Service talk = w.ServiceOf(30min);
  SeriesRequest req = w.SeriesOf(talk, "2026-03-03T15:00:00Z", "FREQ=WEEKLY;COUNT=5");
  req.time_zone = "America/New_York";
  SeriesBooking ny = Must(w.scheduler->BookSeries(w.owner, w.acme.id, req));
  CHECK(StartsOf(ny.appointments) == Strings{"2026-03-03T15:00:00Z", "2026-03-10T14:00:00Z",
                                             "2026-03-17T14:00:00Z", "2026-03-24T14:00:00Z",
                                             "2026-03-31T14:00:00Z"});

  // Without it, the resource's wall clock: 16:00 London, 16:00Z, then 15:00Z once London moves.
  SeriesRequest london = w.SeriesOf(talk, "2026-03-03T16:00:00Z", "FREQ=WEEKLY;COUNT=5");
  SeriesBooking local = Must(w.scheduler->BookSeries(w.owner, w.acme.id, london));
  CHECK(StartsOf(local.appointments) == Strings{"2026-03-03T16:00:00Z", "2026-03-10T16:00:00Z",
                                                "2026-03-17T16:00:00Z", "2026-03-24T16:00:00Z",
                                                "2026-03-31T15:00:00Z"});

  const Strings before = w.Snapshot();
  req.time_zone = "Mars/Base";
  auto bad = w.scheduler->BookSeries(w.owner, w.acme.id, req);
  CHECK_INVALID(bad, "time_zone");
  CHECK(MessageOf(bad) == "time_zone: unknown time zone 'Mars/Base'");
  CHECK(w.Snapshot() == before);
}
