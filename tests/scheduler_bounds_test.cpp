// Scheduler at the ends of time: the instants it accepts (years 1 to 9999 UTC), and the
// longest durations and buffers, which together can never overflow an Instant. Run under
// -fsanitize=undefined these would report a signed overflow without the bounds.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "schedule_fixtures.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::AlwaysOpen;
using smooth::testing::At;
using smooth::testing::Mon;
using smooth::testing::Must;
using smooth::testing::OneOf;
using smooth::testing::ScheduleWorld;
using smooth::testing::Show;
using smooth::testing::World;

namespace {

using Strings = std::vector<std::string>;

// The longest a service's buffers may be, and its duration.
constexpr Duration kLongestBuffer = std::chrono::hours(24 * 366 * 10);
constexpr Duration kLongestService = std::chrono::hours(24 * 7);

const Instant kLastAccepted = ParseRfc3339("9999-12-31T23:59:59.999999Z").value();

// A chair open around the clock in UTC, a 30-minute service on it, and a customer.
struct Chair : ScheduleWorld {
  Resource chair = AddResource({.name = "Chair", .time_zone = "UTC", .hours = AlwaysOpen()});
  Service cut = AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = AddCustomer("Pat");

  BookingRequest Req(Instant start) const {
    return {.service = cut.id, .customer = pat.id, .start = start};
  }
  // Every appointment there is, described: nothing else should change when a call is refused.
  Strings Everything() {
    Strings out;
    for (const Appointment& a : Must(scheduler->ListAppointments(
             root_p, acme.id, Instant::min(), Instant::max())))
      out.push_back(smooth::testing::Describe(a));
    return out;
  }
};

}  // namespace

TEST_CASE("a start outside years 1 to 9999 UTC is invalid_argument naming start, and changes nothing") {
  Chair w;
  const Appointment booked = Must(w.Book(w.owner, w.Req(Mon(10))));
  const Strings before = w.Everything();
  const std::size_t events = w.events.size();
  // RFC 3339 with an offset reaches just past either end too.
  for (Instant start : {Instant::max(), Instant::max() - 1min, kLastAccepted + 1us,
                        At("9999-12-31T23:00:00-01:00"), At("0001-01-01T00:30:00+01:00"),
                        At("0001-01-01T00:00:00Z") - 1us, Instant::min()}) {
    CAPTURE(start.time_since_epoch().count());
    CHECK_INVALID(w.Book(w.owner, w.Req(start)), "start");
    CHECK_INVALID(w.scheduler->PlaceHold(w.owner, w.acme.id, w.Req(start)), "start");
    CHECK_INVALID(w.scheduler->Reschedule(w.owner, w.acme.id, booked.id, start), "start");
    CHECK_INVALID(w.scheduler->BookSeries(w.owner, w.acme.id,
                                          {.first = w.Req(start), .rrule = "FREQ=DAILY;COUNT=2"}),
                  "start");
    // Even for the one role that may book outside working hours.
    BookingRequest anyway = w.Req(start);
    anyway.outside_hours = true;
    CHECK_INVALID(w.Book(w.owner, anyway), "start");
  }
  CHECK(w.Everything() == before);
  CHECK(w.events.size() == events);
}

TEST_CASE("the longest service with the longest buffers books at the last accepted instant") {
  Chair w;
  Service longest = w.AddService({.name = "Longest",
                                  .duration = kLongestService,
                                  .buffer_before = kLongestBuffer,
                                  .buffer_after = kLongestBuffer,
                                  .requirements = {OneOf({w.chair.id})}});
  Appointment a =
      Must(w.Book(w.owner, {.service = longest.id, .customer = w.pat.id, .start = kLastAccepted}));
  CHECK(a.start == kLastAccepted);
  CHECK(a.end == kLastAccepted + kLongestService);
  CHECK(Show(a.end) == "10000-01-07T23:59:59.999999Z");
  // Its buffers reach ten years either side, and keep everything in them off the chair.
  CHECK_CODE(w.Book(w.owner, w.Req(At("9999-06-01T10:00:00Z"))), StatusCode::kConflict);
  CHECK(w.SlotStarts(w.owner, {.service = w.cut.id, .from = {9999, 12, 30}, .to = {9999, 12, 31},
                               .time_zone = "UTC"})
            .empty());
  // It can be moved within the accepted years, and not out of them.
  CHECK_INVALID(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, kLastAccepted + 1us), "start");
  Appointment moved =
      Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, kLastAccepted - 1h));
  CHECK(moved.end == kLastAccepted - 1h + kLongestService);
  // A hold there too, once the appointment is gone.
  Must(w.scheduler->Cancel(w.owner, w.acme.id, a.id));
  Hold h = Must(w.scheduler->PlaceHold(
      w.owner, w.acme.id, {.service = longest.id, .customer = w.pat.id, .start = kLastAccepted}));
  Appointment confirmed = Must(w.scheduler->ConfirmHold(w.owner, w.acme.id, h.id));
  CHECK(confirmed.end == kLastAccepted + kLongestService);
}

TEST_CASE("availability offers no start after year 9999 UTC, which Book would refuse") {
  // 9999-12-31 in New York runs until 10000-01-01T05:00Z: its last five hours are starts no
  // call accepts, so offering them breaks "every slot offered can be booked".
  Chair w;
  Resource ny =
      w.AddResource({.name = "NY", .time_zone = "America/New_York", .hours = AlwaysOpen()});
  Service hourly =
      w.AddService({.name = "Hourly", .slot_interval = 60min, .requirements = {OneOf({ny.id})}});
  const std::vector<Slot> slots =
      Must(w.scheduler->Availability(w.owner, w.acme.id,
                                     {.service = hourly.id,
                                      .from = {9999, 12, 31},
                                      .to = {9999, 12, 31},
                                      .time_zone = "America/New_York"}));
  Strings starts;
  for (const Slot& s : slots) starts.push_back(Show(s.start));
  Strings expected;
  for (int h = 5; h < 24; ++h) expected.push_back(fmt::format("9999-12-31T{:02}:00:00Z", h));
  CHECK(starts == expected);
  // Every one offered books.
  for (const Slot& s : slots) {
    CAPTURE(Show(s.start));
    auto booked = w.Book(w.owner, {.service = hourly.id, .customer = w.pat.id, .start = s.start});
    REQUIRE(booked.ok());
    Must(w.scheduler->Cancel(w.owner, w.acme.id, booked->id));
  }
}

TEST_CASE("a series may not run past year 9999") {
  Chair w;
  const std::size_t events = w.events.size();
  auto r = w.scheduler->BookSeries(
      w.owner, w.acme.id, {.first = w.Req(At("9999-12-30T10:00:00Z")), .rrule = "FREQ=DAILY;COUNT=3"});
  CHECK_INVALID(r, "rrule");
  CHECK(w.Everything().empty());
  CHECK(w.events.size() == events);
}

TEST_CASE("durations and buffers have upper bounds, so start + buffers + duration cannot overflow") {
  Chair w;
  auto service = [&](Duration duration, Duration before, Duration after) {
    return w.scheduler->CreateService(w.root_p, w.acme.id,
                                      {.name = "S",
                                       .duration = duration,
                                       .buffer_before = before,
                                       .buffer_after = after,
                                       .requirements = {OneOf({w.chair.id})}});
  };
  CHECK_INVALID(service(kLongestService + 1us, 0us, 0us), "duration");
  CHECK_INVALID(service(Duration::max(), 0us, 0us), "duration");
  CHECK_INVALID(service(30min, kLongestBuffer + 1us, 0us), "buffer_before");
  CHECK_INVALID(service(30min, Duration::max(), 0us), "buffer_before");
  CHECK_INVALID(service(30min, 0us, kLongestBuffer + 1us), "buffer_after");
  CHECK_INVALID(service(30min, 0us, Duration::max()), "buffer_after");
  Must(service(kLongestService, kLongestBuffer, kLongestBuffer));
  // UpdateService validates the same way.
  Service s = Must(service(30min, 0us, 0us));
  s.buffer_after = Duration::max();
  CHECK_INVALID(w.scheduler->UpdateService(w.root_p, w.acme.id, s), "buffer_after");
  // No refusal made or changed a service: the fixture's cut and the two made above.
  CHECK(Must(w.scheduler->GetService(w.root_p, w.acme.id, s.id)).buffer_after == 0us);
  CHECK(Must(w.scheduler->ListServices(w.root_p, w.acme.id)).size() == 3);
}

TEST_CASE("a hold's time to live is bounded, so its expiry cannot overflow") {
  World w;
  SchedulerOptions options;
  options.max_hold_ttl = Duration::max();
  CHECK_INVALID(Scheduler::Open(*w.platform, options), "max_hold_ttl");
  options.max_hold_ttl = kLongestBuffer + 1us;
  CHECK_INVALID(Scheduler::Open(*w.platform, options), "max_hold_ttl");
  options.max_hold_ttl = kLongestBuffer;
  Must(Scheduler::Open(*w.platform, options));
  options.hold_retention = 0us;
  CHECK_INVALID(Scheduler::Open(*w.platform, options), "hold_retention");
  options.hold_retention = Duration::max();
  CHECK_INVALID(Scheduler::Open(*w.platform, options), "hold_retention");
}
