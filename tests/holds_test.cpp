// Specification of holds: a tentative booking that occupies capacity like an appointment
// until it expires by the injected clock or is released, and that confirming turns into an
// appointment atomically.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fixtures.hpp"
#include "smooth/scheduler.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::Must;
using smooth::testing::World;

namespace {

Instant At(std::string_view text) { return ParseRfc3339(text).value(); }

// The status code of an outcome as its name ("ok", "conflict", ...), so failures read well.
std::string CodeOf(const Status& s) { return std::string(StatusCodeName(s.code())); }
template <typename T>
std::string CodeOf(const Result<T>& r) {
  return r ? "ok" : CodeOf(r.error());
}

// Every day 09:00-17:00.
WorkingHours NineToFive() {
  WorkingHours h;
  for (auto& day : h.weekly) day = {{9h, 17h}};
  return h;
}

// Tuesday 2026-03-03, the day after the fixture's "now" (Monday 09:00Z), in globex (UTC).
constexpr LocalDate kTuesday{2026, 3, 3};
const Instant kTen = At("2026-03-03T10:00:00Z");

// A globex (UTC) shop with one kind of chair (capacity `capacity`, `chairs` of them), open
// every day 09:00-17:00, a 30-minute haircut offered every 30 minutes, and two customers.
// Records every schedule event.
struct Shop {
  World w;
  std::unique_ptr<Scheduler> scheduler;
  TenantId tenant;
  Principal manager;
  std::vector<Resource> chairs;
  Service cut;
  Customer ann;
  Customer bob;
  std::vector<ScheduleEvent> events;

  explicit Shop(int capacity = 1, int chair_count = 1, Duration buffer_after = 0us) {
    scheduler = Must(Scheduler::Open(*w.platform));
    scheduler->Subscribe([this](const ScheduleEvent& e) { events.push_back(e); });
    tenant = w.globex.id;
    manager = w.As("globex:TENANT_MANAGER");
    ResourceRequirement any_chair;
    for (int i = 0; i < chair_count; ++i) {
      chairs.push_back(Must(scheduler->CreateResource(manager, tenant,
                                                      {.name = "Chair " + std::to_string(i + 1),
                                                       .capacity = capacity,
                                                       .hours = NineToFive()})));
      any_chair.resources.push_back(chairs.back().id);
    }
    cut = Must(scheduler->CreateService(manager, tenant,
                                        {.name = "Haircut",
                                         .duration = 30min,
                                         .buffer_after = buffer_after,
                                         .slot_interval = 30min,
                                         .requirements = {any_chair}}));
    ann = Must(scheduler->CreateCustomer(manager, tenant, {.name = "Ann"}));
    bob = Must(scheduler->CreateCustomer(manager, tenant, {.name = "Bob"}));
  }

  Instant Now() const { return w.clock.Now(); }

  BookingRequest Request(const Customer& who, Instant start,
                         std::vector<std::optional<ResourceId>> resources = {}) const {
    return {
        .service = cut.id, .customer = who.id, .start = start, .resources = std::move(resources)};
  }

  Result<Hold> HoldFor(const Customer& who, Instant start,
                       std::optional<Duration> ttl = std::nullopt) {
    return scheduler->PlaceHold(manager, tenant, Request(who, start), ttl);
  }
  Result<Appointment> Book(const Customer& who, Instant start,
                           std::vector<std::optional<ResourceId>> resources = {}) {
    return scheduler->Book(manager, tenant, Request(who, start, std::move(resources)));
  }

  // The starts Availability offers on Tuesday.
  std::vector<Instant> Offered() {
    auto slots = Must(scheduler->Availability(
        manager, tenant,
        {.service = cut.id, .from = kTuesday, .to = kTuesday, .time_zone = "UTC"}));
    std::vector<Instant> starts;
    for (const Slot& s : slots) starts.push_back(s.start);
    return starts;
  }
  bool IsOffered(Instant start) {
    auto starts = Offered();
    return std::find(starts.begin(), starts.end(), start) != starts.end();
  }

  std::vector<Appointment> AppointmentsOnTuesday() {
    return Must(scheduler->ListAppointments(manager, tenant, At("2026-03-03T00:00:00Z"),
                                            At("2026-03-04T00:00:00Z")));
  }

  // The types of the events so far, "hold_created, created, ...".
  std::string EventNames() const {
    std::string names;
    for (const ScheduleEvent& e : events) {
      if (!names.empty()) names += ", ";
      names += EventTypeName(e.type);
    }
    return names;
  }
};

// How many lines of security.log record `action`.
int CountAudit(Shop& shop, std::string_view action) {
  return smooth::testing::CountActions(shop.w.security->Lines(), action);
}

}  // namespace

TEST_CASE("a hold blocks a capacity-1 slot for others until it expires") {
  Shop shop;
  CHECK(shop.IsOffered(kTen));
  Hold hold = Must(shop.HoldFor(shop.ann, kTen));
  CHECK(hold.start == kTen);
  CHECK(hold.end == kTen + 30min);
  CHECK(hold.resources == std::vector<ResourceId>{shop.chairs[0].id});
  CHECK(hold.expires_at == shop.Now() + SchedulerOptions{}.default_hold_ttl);
  CHECK(hold.expires_at == shop.Now() + 5min);

  CHECK(CodeOf(shop.Book(shop.bob, kTen)) == "conflict");
  CHECK(CodeOf(shop.HoldFor(shop.bob, kTen)) == "conflict");
  CHECK_FALSE(shop.IsOffered(kTen));
  CHECK(shop.IsOffered(kTen + 30min));  // only the held start is taken

  SUBCASE("one microsecond before it expires it still blocks") {
    shop.w.clock.Set(hold.expires_at - 1us);
    CHECK_FALSE(shop.IsOffered(kTen));
    CHECK(CodeOf(shop.Book(shop.bob, kTen)) == "conflict");
  }
  SUBCASE("at expires_at it no longer occupies: offered again") {
    shop.w.clock.Set(hold.expires_at);
    CHECK(shop.IsOffered(kTen));
  }
  SUBCASE("at expires_at it no longer occupies: bookable again") {
    shop.w.clock.Set(hold.expires_at);
    Appointment a = Must(shop.Book(shop.bob, kTen));
    CHECK(a.start == kTen);
    CHECK(a.customer == shop.bob.id);
  }
}

TEST_CASE("releasing a hold frees its capacity at once") {
  Shop shop;
  Hold hold = Must(shop.HoldFor(shop.ann, kTen));
  CHECK_FALSE(shop.IsOffered(kTen));
  Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, hold.id));
  // The clock has not moved: the release alone frees the slot.
  CHECK(shop.Now() < hold.expires_at);
  CHECK(shop.IsOffered(kTen));
  Must(shop.Book(shop.bob, kTen));
}

TEST_CASE("confirming a hold books the held start on the held resources") {
  Shop shop(/*capacity=*/1, /*chair_count=*/2);
  Hold hold = Must(shop.HoldFor(shop.ann, kTen));
  REQUIRE(hold.resources.size() == 1);
  const ResourceId held = hold.resources[0];
  const ResourceId other = held == shop.chairs[0].id ? shop.chairs[1].id : shop.chairs[0].id;
  shop.w.clock.Advance(1min);  // still live

  Appointment a = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id));
  CHECK(a.id.valid());
  CHECK(a.service == shop.cut.id);
  CHECK(a.customer == shop.ann.id);
  CHECK(a.start == hold.start);
  CHECK(a.end == hold.end);
  CHECK(a.resources == hold.resources);
  CHECK(a.buffer_before == hold.buffer_before);
  CHECK(a.buffer_after == hold.buffer_after);
  CHECK(a.Occupies());

  auto listed = shop.AppointmentsOnTuesday();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id == a.id);

  // The appointment occupies the held chair; the other chair is still free.
  CHECK(CodeOf(shop.Book(shop.bob, kTen, {held})) == "conflict");
  Must(shop.Book(shop.bob, kTen, {other}));
  CHECK_FALSE(shop.IsOffered(kTen));

  // A confirmed hold no longer occupies as a hold: cancelling the appointment frees the
  // chair even though the hold's expiry has not come.
  Must(shop.scheduler->Cancel(shop.manager, shop.tenant, a.id));
  CHECK(shop.Now() < hold.expires_at);
  Must(shop.Book(shop.bob, kTen, {held}));
}

TEST_CASE("a hold cannot be confirmed once expired, and the attempt changes nothing") {
  Shop shop;
  Hold hold = Must(shop.HoldFor(shop.ann, kTen, 2min));
  shop.w.clock.Set(hold.expires_at);
  const std::size_t events_before = shop.events.size();

  auto late = shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id);
  CHECK(CodeOf(late) == "failed_precondition");
  CHECK_MESSAGE((late ? std::string() : late.error().message()).rfind("hold:", 0) == 0,
                "message should name the hold: " << (late ? "" : late.error().message()));

  CHECK(shop.AppointmentsOnTuesday().empty());
  for (std::size_t i = events_before; i < shop.events.size(); ++i) {
    CHECK(shop.events[i].type != EventType::kCreated);
  }
  CHECK(shop.IsOffered(kTen));
  Must(shop.Book(shop.bob, kTen));
  // Still refused afterwards: expiry is final.
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id)) ==
        "failed_precondition");
}

TEST_CASE("a hold is released or confirmed only once") {
  Shop shop;
  SUBCASE("release twice") {
    Hold hold = Must(shop.HoldFor(shop.ann, kTen));
    Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, hold.id));
    CHECK(CodeOf(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, hold.id)) ==
          "failed_precondition");
    CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id)) ==
          "failed_precondition");
    CHECK(shop.AppointmentsOnTuesday().empty());
  }
  SUBCASE("confirm twice") {
    Hold hold = Must(shop.HoldFor(shop.ann, kTen));
    Appointment a = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id));
    CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id)) ==
          "failed_precondition");
    CHECK(CodeOf(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, hold.id)) ==
          "failed_precondition");
    // Releasing a confirmed hold does not undo its appointment.
    auto listed = shop.AppointmentsOnTuesday();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].id == a.id);
    CHECK(listed[0].Occupies());
    CHECK(CodeOf(shop.Book(shop.bob, kTen)) == "conflict");
  }
}

TEST_CASE("hold events arrive in seq order with the right types") {
  Shop shop;
  Hold released = Must(shop.HoldFor(shop.ann, kTen));
  Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, released.id));
  Hold confirmed = Must(shop.HoldFor(shop.ann, kTen + 1h));
  Appointment a = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, confirmed.id));
  Hold expiring = Must(shop.HoldFor(shop.bob, kTen + 2h, 1min));
  shop.w.clock.Advance(1min);
  // The engine notices the expiry on its next operation; an availability query is one.
  CHECK(shop.IsOffered(kTen + 2h));
  // ... and reports it only once.
  CHECK(shop.IsOffered(kTen + 2h));

  CHECK(shop.EventNames() ==
        "hold_created, hold_released, hold_created, created, hold_created, hold_expired");
  REQUIRE(shop.events.size() == 6);
  for (std::size_t i = 0; i < shop.events.size(); ++i) {
    CAPTURE(i);
    CHECK(shop.events[i].tenant == shop.tenant);
    if (i > 0) CHECK(shop.events[i].seq == shop.events[i - 1].seq + 1);
  }
  auto hold_of = [&](std::size_t i) {
    REQUIRE(shop.events[i].hold.has_value());
    return shop.events[i].hold->id;
  };
  CHECK(hold_of(0) == released.id);
  CHECK(hold_of(1) == released.id);
  CHECK(hold_of(2) == confirmed.id);
  REQUIRE(shop.events[3].appointment.has_value());
  CHECK(shop.events[3].appointment->id == a.id);
  CHECK(hold_of(4) == expiring.id);
  CHECK(hold_of(5) == expiring.id);
}

TEST_CASE("a booking also notices expired holds and reports them") {
  Shop shop;
  Hold hold = Must(shop.HoldFor(shop.ann, kTen, 1min));
  shop.w.clock.Advance(1min);
  shop.events.clear();
  Appointment a = Must(shop.Book(shop.bob, kTen));
  CHECK(shop.EventNames() == "hold_expired, created");
  REQUIRE(shop.events.size() == 2);
  {
    REQUIRE(shop.events[0].hold.has_value());
    CHECK(shop.events[0].hold->id == hold.id);
    REQUIRE(shop.events[1].appointment.has_value());
    CHECK(shop.events[1].appointment->id == a.id);
    CHECK(shop.events[1].seq == shop.events[0].seq + 1);
  }
}

TEST_CASE("a hold lasts the ttl asked for, at most max_hold_ttl") {
  Shop shop;
  Hold ten = Must(shop.HoldFor(shop.ann, kTen, 10min));
  CHECK(ten.expires_at == shop.Now() + 10min);
  Hold longest = Must(shop.HoldFor(shop.ann, kTen + 1h, SchedulerOptions{}.max_hold_ttl));
  CHECK(longest.expires_at == shop.Now() + 1h);

  auto too_long = shop.HoldFor(shop.ann, kTen + 2h, 1h + 1us);
  REQUIRE(CodeOf(too_long) == "invalid_argument");
  CHECK_MESSAGE(too_long.error().message().find("ttl") != std::string::npos,
                "message '" << too_long.error().message() << "' should name ttl");
  CHECK_MESSAGE(too_long.error().message().rfind("ttl: ", 0) == 0,
                "message '" << too_long.error().message() << "' should start with ttl:");
  // Nor is a ttl of zero or less.
  CHECK(CodeOf(shop.HoldFor(shop.ann, kTen + 2h, 0us)) == "invalid_argument");
  CHECK(CodeOf(shop.HoldFor(shop.ann, kTen + 2h, -1min)) == "invalid_argument");
  // Refused outright: nothing is held.
  CHECK(shop.IsOffered(kTen + 2h));
  CHECK(shop.events.size() == 2);
}

TEST_CASE("holds count against capacity like appointments") {
  Shop shop(/*capacity=*/2);
  Hold hold = Must(shop.HoldFor(shop.ann, kTen));
  CHECK(shop.IsOffered(kTen));  // one place left
  Appointment a = Must(shop.Book(shop.bob, kTen));
  CHECK_FALSE(shop.IsOffered(kTen));
  CHECK(CodeOf(shop.Book(shop.bob, kTen)) == "conflict");
  CHECK(CodeOf(shop.HoldFor(shop.bob, kTen)) == "conflict");

  SUBCASE("releasing the hold makes room") {
    Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, hold.id));
    CHECK(shop.IsOffered(kTen));
    Must(shop.Book(shop.bob, kTen));
  }
  SUBCASE("cancelling the booking makes room for a second hold") {
    Must(shop.scheduler->Cancel(shop.manager, shop.tenant, a.id));
    Must(shop.HoldFor(shop.bob, kTen));
    CHECK_FALSE(shop.IsOffered(kTen));
  }
}

TEST_CASE("a hold occupies its buffers too") {
  // 30-minute cut plus 15 minutes of cleanup after it.
  Shop shop(/*capacity=*/1, /*chair_count=*/1, /*buffer_after=*/15min);
  Hold hold = Must(shop.HoldFor(shop.ann, kTen));
  CHECK(hold.buffer_after == 15min);
  // 10:30 would start inside the hold's cleanup; 10:45 is the first free moment, but
  // slots step by 30 minutes, so 11:00 is the next one offered.
  CHECK(CodeOf(shop.Book(shop.bob, kTen + 30min)) == "conflict");
  CHECK_FALSE(shop.IsOffered(kTen + 30min));
  CHECK(shop.IsOffered(kTen + 1h));
  Must(shop.Book(shop.bob, kTen + 45min));
  // Before it: 09:30 + 30 min + 15 min cleanup runs into the held 10:00.
  CHECK(CodeOf(shop.Book(shop.bob, kTen - 30min)) == "conflict");
}

TEST_CASE("a hold must respect working hours like a booking") {
  Shop shop;
  CHECK(CodeOf(shop.HoldFor(shop.ann, At("2026-03-03T16:45:00Z"))) == "failed_precondition");
  CHECK(CodeOf(shop.HoldFor(shop.ann, At("2026-03-02T08:00:00Z"))) == "failed_precondition");
  CHECK(shop.events.empty());
  // Nothing was held: 16:30-17:00, which a hold from 16:45 would overlap, still books.
  Must(shop.Book(shop.bob, At("2026-03-03T16:30:00Z")));
}

TEST_CASE("a hold placed outside hours and confirmed is flagged, and audited once") {
  Shop shop;
  shop.w.security->Clear();
  const Instant evening = At("2026-03-03T20:00:00Z");  // the chair closes at 17:00
  Hold h = Must(shop.scheduler->PlaceHold(
      shop.manager, shop.tenant,
      {.service = shop.cut.id, .customer = shop.ann.id, .start = evening, .outside_hours = true}));
  CHECK(h.outside_hours);
  // The hold is no booking yet: nothing is audited until it becomes one.
  CHECK(CountAudit(shop, "BOOKED_OUTSIDE_HOURS") == 0);
  Appointment a = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, h.id));
  CHECK(a.start == evening);
  CHECK(a.outside_hours);
  CHECK(CountAudit(shop, "BOOKED_OUTSIDE_HOURS") == 1);
  // Stored so: another scheduler on the same storage reads it back the same way.
  auto fresh = Must(Scheduler::Open(*shop.w.platform));
  CHECK(Must(fresh->GetAppointment(shop.manager, shop.tenant, a.id)).outside_hours);
}

TEST_CASE("a hold's outside_hours flag survives storage until it is confirmed") {
  Shop shop;
  const Instant evening = At("2026-03-03T20:00:00Z");
  Hold h = Must(shop.scheduler->PlaceHold(
      shop.manager, shop.tenant,
      {.service = shop.cut.id, .customer = shop.ann.id, .start = evening, .outside_hours = true}));
  // Confirmed by another scheduler, which knows the hold only from storage.
  auto fresh = Must(Scheduler::Open(*shop.w.platform));
  Appointment a = Must(fresh->ConfirmHold(shop.manager, shop.tenant, h.id));
  CHECK(a.outside_hours);
}

TEST_CASE("ConfirmHold validates the idempotency key like Book does, and changes nothing") {
  Shop shop;
  CHECK(CodeOf(shop.scheduler->Book(shop.manager, shop.tenant,
                                    {.service = shop.cut.id,
                                     .customer = shop.ann.id,
                                     .start = kTen,
                                     .idempotency_key = std::string(300, 'k')})) ==
        "invalid_argument");
  Hold h = Must(shop.HoldFor(shop.ann, kTen));
  const std::size_t events = shop.events.size();
  auto a = shop.scheduler->ConfirmHold(shop.manager, shop.tenant, h.id, std::string(300, 'k'));
  CHECK(CodeOf(a) == "invalid_argument");
  auto empty = shop.scheduler->ConfirmHold(shop.manager, shop.tenant, h.id, std::string());
  CHECK(CodeOf(empty) == "invalid_argument");
  // The same answer as Book's, naming the field.
  auto booked = shop.scheduler->Book(shop.manager, shop.tenant,
                                     {.service = shop.cut.id,
                                      .customer = shop.ann.id,
                                      .start = kTen + 1h,
                                      .idempotency_key = std::string(300, 'k')});
  REQUIRE_FALSE(booked);
  REQUIRE_FALSE(a);
  REQUIRE_FALSE(empty);
  CHECK(booked.error().message().rfind("idempotency_key: ", 0) == 0);
  CHECK(a.error().message() == booked.error().message());
  CHECK(empty.error().message() == booked.error().message());
  // The hold is still live, and confirms with a good key.
  CHECK(shop.AppointmentsOnTuesday().empty());
  CHECK(shop.events.size() == events);
  Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, h.id, std::string(200, 'k')));
}

namespace {

// Every appointment of the shop's tenant, and whether hold `id` is still live (releasing it
// says so, and frees it): what a refused ConfirmHold must leave as it was.
std::vector<AppointmentId> AllAppointments(Shop& shop) {
  std::vector<AppointmentId> ids;
  for (const Appointment& a : Must(shop.scheduler->ListAppointments(
           shop.manager, shop.tenant, At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"))))
    ids.push_back(a.id);
  return ids;
}

}  // namespace

TEST_CASE("ConfirmHold refuses what Book would refuse now, with Book's answer, and changes nothing") {
  Shop shop;
  const Instant soon = shop.Now() + 30min;  // Monday 09:30, inside the chair's hours
  Hold hold = Must(shop.HoldFor(shop.ann, soon, 1h));
  std::string code;
  std::string message;
  SUBCASE("the start has passed while the hold lives") {
    shop.w.clock.Advance(45min);
    REQUIRE(shop.Now() < hold.expires_at);
    code = "failed_precondition";
    message = "start: is in the past";
  }
  SUBCASE("the customer was blocked") {
    Customer blocked = shop.ann;
    blocked.status = CustomerStatus::kBlocked;
    Must(shop.scheduler->UpdateCustomer(shop.manager, shop.tenant, blocked));
    code = "failed_precondition";
    message = "customer: is blocked";
  }
  SUBCASE("the service was deactivated") {
    Service off = shop.cut;
    off.is_active = false;
    Must(shop.scheduler->UpdateService(shop.manager, shop.tenant, off));
    code = "failed_precondition";
    message = "service: is not active";
  }
  SUBCASE("the held resource was deactivated") {
    Resource off = shop.chairs[0];
    off.is_active = false;
    Must(shop.scheduler->UpdateResource(shop.manager, shop.tenant, off));
    code = "failed_precondition";
    message = "resources: resource " + std::to_string(off.id.value()) + " is not active";
  }
  const std::size_t events = shop.events.size();
  auto confirmed = shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id, "confirm-1");
  CHECK(CodeOf(confirmed) == code);
  CHECK((confirmed ? std::string() : confirmed.error().message()) == message);
  // Book asked the same now gets the same answer.
  auto booked = shop.scheduler->Book(
      shop.manager, shop.tenant,
      {.service = shop.cut.id, .customer = shop.ann.id, .start = soon,
       .resources = {hold.resources[0]}});
  CHECK(CodeOf(booked) == code);
  CHECK((booked ? std::string() : booked.error().message()) == message);
  // Nothing was written: no appointment, no event, and the hold is still live.
  CHECK(AllAppointments(shop).empty());
  CHECK(shop.events.size() == events);
  Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, hold.id));
}

TEST_CASE("a retried ConfirmHold with the same key returns the appointment it made") {
  Shop shop;
  Hold hold = Must(shop.HoldFor(shop.ann, kTen));
  Appointment a = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id, "confirm-1"));
  const std::size_t events = shop.events.size();
  Appointment again =
      Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id, "confirm-1"));
  CHECK(again.id == a.id);
  CHECK(again.version == a.version);
  // Even once the hold would have expired: the retry is answered from what was written.
  shop.w.clock.Set(hold.expires_at + 1h);
  CHECK(Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id, "confirm-1")).id ==
        a.id);
  CHECK(AllAppointments(shop) == std::vector<AppointmentId>{a.id});
  CHECK(shop.events.size() == events);  // nothing more was booked or announced
  // And once the appointment has been moved: the retry is of the confirmation as made.
  Appointment moved = Must(shop.scheduler->Reschedule(shop.manager, shop.tenant, a.id, kTen + 1h));
  CHECK(moved.booked_start == std::optional<Instant>(hold.start));
  Appointment after_move =
      Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id, "confirm-1"));
  CHECK(after_move.id == a.id);
  CHECK(after_move.start == kTen + 1h);
  CHECK(AllAppointments(shop) == std::vector<AppointmentId>{a.id});
  // Without the key, or with another, the hold is simply no longer live.
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id)) ==
        "failed_precondition");
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, hold.id, "confirm-2")) ==
        "failed_precondition");
}

TEST_CASE("holds over for hold_retention are deleted as new ones are placed") {
  Shop shop;
  const Duration retention = SchedulerOptions{}.hold_retention;
  Hold confirmed = Must(shop.HoldFor(shop.ann, kTen));
  Appointment a =
      Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, confirmed.id, "confirm-1"));
  Hold released = Must(shop.HoldFor(shop.bob, kTen + 1h));
  Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, released.id));
  Hold lapsed = Must(shop.HoldFor(shop.bob, kTen + 2h));
  REQUIRE(lapsed.expires_at == confirmed.expires_at);  // one instant: the fixture's clock

  auto stored = [&](HoldId id) {
    auto txn = Must(shop.w.storage->BeginTenant(shop.w.globex, TxnMode::kRead));
    auto h = txn->GetHold(id);
    return h ? std::string("ok") : CodeOf(h.error());
  };
  // Until hold_retention has passed since they expired, they are answered for as before.
  shop.w.clock.Set(lapsed.expires_at + retention);
  Hold first = Must(shop.HoldFor(shop.ann, kTen + 3h));
  for (HoldId id : {confirmed.id, released.id, lapsed.id}) CHECK(stored(id) == "ok");
  CHECK(
      Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, confirmed.id, "confirm-1")).id ==
      a.id);
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, lapsed.id)) ==
        "failed_precondition");
  CHECK(CodeOf(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, released.id)) ==
        "failed_precondition");

  // Then the next hold placed takes them away: not found any more.
  shop.w.clock.Advance(1us);
  Hold second = Must(shop.HoldFor(shop.ann, kTen + 4h));
  for (HoldId id : {confirmed.id, released.id, lapsed.id}) CHECK(stored(id) == "not_found");
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, confirmed.id, "confirm-1")) ==
        "not_found");
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, lapsed.id)) == "not_found");
  CHECK(CodeOf(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, released.id)) == "not_found");
  // The appointment stays, and so do the live holds, which still confirm.
  CHECK(stored(first.id) == "ok");
  CHECK(stored(second.id) == "ok");
  Appointment b = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, first.id));
  CHECK(AllAppointments(shop) == std::vector<AppointmentId>{a.id, b.id});
  CHECK(CodeOf(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, second.id)) == "ok");
}

TEST_CASE("ConfirmHold with a key already used for something else is a conflict") {
  Shop shop(/*capacity=*/2);
  Appointment other = Must(shop.scheduler->Book(
      shop.manager, shop.tenant,
      {.service = shop.cut.id, .customer = shop.bob.id, .start = kTen + 1h,
       .idempotency_key = "order-1"}));
  Hold first = Must(shop.HoldFor(shop.ann, kTen));
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, first.id, "order-1")) ==
        "conflict");
  // A booking of the very same content is still not this live hold's confirmation.
  Must(shop.scheduler->Book(shop.manager, shop.tenant,
                            {.service = shop.cut.id, .customer = shop.ann.id, .start = kTen,
                             .idempotency_key = "order-2"}));
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, first.id, "order-2")) ==
        "conflict");
  CHECK(AllAppointments(shop).size() == 2);
  // The hold is untouched, and confirms with a key of its own; that key is then its.
  Appointment a = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, first.id, "hold-1"));
  Hold second = Must(shop.HoldFor(shop.bob, kTen + 2h));
  CHECK(CodeOf(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, second.id, "hold-1")) ==
        "conflict");
  CHECK(a.id != other.id);
}

TEST_CASE("a released hold is not confirmed by a booking of the same content") {
  // Only the appointment a hold was confirmed into answers a retried ConfirmHold: a hold
  // released, and then booked by other means under some key, was never confirmed.
  Shop shop(/*capacity=*/2);
  Hold released = Must(shop.HoldFor(shop.ann, kTen));
  Appointment other = Must(shop.scheduler->Book(shop.manager, shop.tenant,
                                                {.service = shop.cut.id,
                                                 .customer = shop.ann.id,
                                                 .start = kTen,
                                                 .idempotency_key = "order-2"}));
  Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, released.id));
  const std::size_t events = shop.events.size();
  auto confirmed = shop.scheduler->ConfirmHold(shop.manager, shop.tenant, released.id, "order-2");
  CHECK(CodeOf(confirmed) == "conflict");
  CHECK(AllAppointments(shop) == std::vector<AppointmentId>{other.id});
  CHECK(shop.events.size() == events);

  // A hold that was confirmed records its appointment, in storage: another scheduler, which
  // knows the hold only from there, answers the retry with it.
  Hold held = Must(shop.HoldFor(shop.bob, kTen + 1h));
  Appointment a = Must(shop.scheduler->ConfirmHold(shop.manager, shop.tenant, held.id, "hold-1"));
  auto fresh = Must(Scheduler::Open(*shop.w.platform));
  CHECK(Must(fresh->ConfirmHold(shop.manager, shop.tenant, held.id, "hold-1")).id == a.id);
  CHECK(CodeOf(fresh->ConfirmHold(shop.manager, shop.tenant, released.id, "hold-1")) == "conflict");
}

// The user who placed a hold may release or confirm it without appointment.cancel, but only
// while it could still place it: deactivated, or in a suspended tenant, it can do neither.
TEST_CASE("a hold's own placer loses it with the right to place it") {
  Shop shop;
  Principal staff = shop.w.As("globex:TENANT_STAFF");
  Hold mine = Must(shop.scheduler->PlaceHold(staff, shop.tenant, shop.Request(shop.ann, kTen)));
  Hold kept = Must(shop.scheduler->PlaceHold(staff, shop.tenant,
                                             shop.Request(shop.bob, kTen + 1h)));
  // Staff may not release another's hold (appointment.cancel over the tenant)...
  Hold managers = Must(shop.HoldFor(shop.ann, kTen + 2h));
  CHECK(CodeOf(shop.scheduler->ReleaseHold(staff, shop.tenant, managers.id)) ==
        "permission_denied");
  // ...but may release its own.
  Must(shop.scheduler->ReleaseHold(staff, shop.tenant, mine.id));

  bool suspended = false;
  SUBCASE("deactivated") {
    Must(shop.w.platform->DeactivateUser(shop.w.root_p, staff.user.id));
  }
  SUBCASE("its tenant suspended") {
    Must(shop.w.platform->SuspendTenant(shop.w.root_p, shop.tenant, "unpaid"));
    suspended = true;
  }
  auto released = shop.scheduler->ReleaseHold(staff, shop.tenant, kept.id);
  CHECK(CodeOf(released) == "permission_denied");
  CHECK(CodeOf(shop.scheduler->ConfirmHold(staff, shop.tenant, kept.id)) == "permission_denied");
  if (suspended) Must(shop.w.platform->ReactivateTenant(shop.w.root_p, shop.tenant));
  // The hold is still there: it keeps its slot until it expires or the manager acts.
  CHECK_FALSE(shop.IsOffered(kTen + 1h));
  Must(shop.scheduler->ReleaseHold(shop.manager, shop.tenant, kept.id));
  CHECK(shop.IsOffered(kTen + 1h));
}
