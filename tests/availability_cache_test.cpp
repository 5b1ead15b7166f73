// Availability remembers each resource's valid starts per (service timing, dates asked); these
// tests ask again after every kind of change and check that the answer follows at once, for
// the range first asked and for a narrower one served from it.
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "schedule_fixtures.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::At;
using smooth::testing::Mon;
using smooth::testing::Hours;
using smooth::testing::Must;
using smooth::testing::OneOf;
using smooth::testing::ScheduleWorld;
using smooth::testing::Weekdays;

namespace {

using Ids = std::vector<ResourceId>;


// Ann and Bob, 09:00-17:00 UTC on weekdays, capacity 1; a 30-minute cut on a 30-minute grid.
struct Shop : ScheduleWorld {
  Resource ann =
      AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Resource bob =
      AddResource({.name = "Bob", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service cut = AddService(
      {.name = "Cut", .slot_interval = 30min, .requirements = {OneOf({ann.id, bob.id})}});
  Customer pat = AddCustomer("Pat");

  // Who is free at `start`, asked over the whole week (Mon-Sun) or over Monday alone.
  Ids FreeAt(Instant start, bool whole_week) {
    const std::vector<Slot> slots = Must(scheduler->Availability(
        owner, acme.id,
        {.service = cut.id, .from = {2026, 3, 9}, .to = {2026, 3, whole_week ? 15 : 9},
         .time_zone = "UTC"}));
    for (const Slot& s : slots)
      if (s.start == start) return s.free.at(0);
    return {};
  }
  // Both views must agree; returns what they say.
  Ids Free(Instant start) {
    const Ids week = FreeAt(start, true);
    const Ids day = FreeAt(start, false);
    CHECK(week == day);
    return week;
  }
  Appointment BookOn(const Resource& r, Instant start) {
    return Must(Book(owner, {.service = cut.id, .customer = pat.id, .start = start,
                             .resources = {r.id}}));
  }
};

}  // namespace

TEST_CASE("remembered availability follows bookings, cancels, status changes and moves") {
  Shop w;
  CHECK(w.Free(Mon(10)) == Ids{w.ann.id, w.bob.id});  // both views now remembered
  Appointment a = w.BookOn(w.ann, Mon(10));
  CHECK(w.Free(Mon(10)) == Ids{w.bob.id});
  Must(w.scheduler->Cancel(w.owner, w.acme.id, a.id));
  CHECK(w.Free(Mon(10)) == Ids{w.ann.id, w.bob.id});

  Appointment b = w.BookOn(w.bob, Mon(11));
  CHECK(w.Free(Mon(11)) == Ids{w.ann.id});
  b = Must(w.scheduler->Reschedule(w.owner, w.acme.id, b.id, Mon(14)));
  CHECK(w.Free(Mon(11)) == Ids{w.ann.id, w.bob.id});
  CHECK(w.Free(Mon(14)) == Ids{w.ann.id});
  Must(w.scheduler->SetStatus(w.owner, w.acme.id, b.id, AppointmentStatus::kCompleted));
  CHECK(w.Free(Mon(14)) == Ids{w.ann.id, w.bob.id});
}

TEST_CASE("remembered availability follows holds: placed, released, confirmed and expired") {
  Shop w;
  CHECK(w.Free(Mon(10)) == Ids{w.ann.id, w.bob.id});
  const BookingRequest on_ann{
      .service = w.cut.id, .customer = w.pat.id, .start = Mon(10), .resources = {w.ann.id}};
  Hold h = Must(w.scheduler->PlaceHold(w.owner, w.acme.id, on_ann, 5min));
  CHECK(w.Free(Mon(10)) == Ids{w.bob.id});
  Must(w.scheduler->ReleaseHold(w.owner, w.acme.id, h.id));
  CHECK(w.Free(Mon(10)) == Ids{w.ann.id, w.bob.id});

  h = Must(w.scheduler->PlaceHold(w.owner, w.acme.id, on_ann, 5min));
  CHECK(w.Free(Mon(10)) == Ids{w.bob.id});
  w.clock.Advance(5min);  // the hold stops counting at expires_at
  CHECK(w.Free(Mon(10)) == Ids{w.ann.id, w.bob.id});

  h = Must(w.scheduler->PlaceHold(w.owner, w.acme.id, on_ann, 5min));
  Must(w.scheduler->ConfirmHold(w.owner, w.acme.id, h.id));
  CHECK(w.Free(Mon(10)) == Ids{w.bob.id});
}

TEST_CASE("remembered availability follows changes to a resource's hours, activity and capacity") {
  Shop w;
  CHECK(w.Free(Mon(15)) == Ids{w.ann.id, w.bob.id});
  w.BookOn(w.ann, Mon(9));
  CHECK(w.Free(Mon(9)) == Ids{w.bob.id});

  Resource ann = w.ann;
  ann.hours = Weekdays({Hours(9, 12)});
  ann = Must(w.scheduler->UpdateResource(w.owner, w.acme.id, ann));
  CHECK(w.Free(Mon(15)) == Ids{w.bob.id});

  ann.capacity = 2;
  ann = Must(w.scheduler->UpdateResource(w.owner, w.acme.id, ann));
  CHECK(w.Free(Mon(9)) == Ids{w.ann.id, w.bob.id});

  ann.is_active = false;
  ann = Must(w.scheduler->UpdateResource(w.owner, w.acme.id, ann));
  CHECK(w.Free(Mon(10)) == Ids{w.bob.id});
  ann.is_active = true;
  ann = Must(w.scheduler->UpdateResource(w.owner, w.acme.id, ann));
  CHECK(w.Free(Mon(10)) == Ids{w.ann.id, w.bob.id});
}

TEST_CASE("remembered availability follows bookings made through another scheduler") {
  Shop w;
  CHECK(w.Free(Mon(10)) == Ids{w.ann.id, w.bob.id});
  auto other = Must(Scheduler::Open(*w.platform));
  Must(other->Book(w.owner, w.acme.id,
                   {.service = w.cut.id, .customer = w.pat.id, .start = Mon(10),
                    .resources = {w.ann.id}}));
  CHECK(w.Free(Mon(10)) == Ids{w.bob.id});
}
