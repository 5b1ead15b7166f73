// Scheduler::Maintain, the housekeeping a timer runs: it frees the state of tenants nobody
// has used for a while (their next use loads it again, with the same answers), announces
// holds that expired while nobody called, and forgets tenants that were deleted.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "before_write_storage.hpp"
#include "schedule_fixtures.hpp"

using namespace smooth;
using namespace smooth::testing;
using namespace std::chrono_literals;

namespace {

// acme with one room open around the clock, an hour-long talk in it every hour, and Pat.
struct Venue {
  ScheduleWorld w;
  Resource room;
  Service talk;
  Customer pat;

  explicit Venue(SchedulerOptions options = {}) : w(options) {
    room = w.AddResource({.name = "Room", .hours = AlwaysOpen()});
    talk = w.AddService({.name = "Talk",
                         .duration = 60min,
                         .slot_interval = 60min,
                         .requirements = {OneOf({room.id})}});
    pat = w.AddCustomer("Pat");
  }

  BookingRequest At(Instant start) const {
    return {.service = talk.id, .customer = pat.id, .start = start};
  }
  // The starts offered on Monday 2026-03-09 (UTC).
  std::vector<std::string> Monday() {
    return w.SlotStarts(
        w.owner,
        {.service = talk.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"});
  }
  MaintenanceReport Maintain() {
    auto report = w.scheduler->Maintain();
    REQUIRE_MESSAGE(report.ok(), report.error().message());
    CHECK(report->tenants_failed == 0);
    return *report;
  }
};

}  // namespace

TEST_CASE("Maintain frees a tenant unused for unload_after; its next use loads it again") {
  Venue v;
  Must(v.w.Book(v.w.owner, v.At(Mon(10))));
  const auto offered = v.Monday();
  CHECK(offered.size() == 23);  // every hour but the booked one

  // Just used: kept.
  MaintenanceReport now = v.Maintain();
  CHECK(now.tenants_unloaded == 0);
  CHECK(now.tenants_forgotten == 0);
  CHECK(now.holds_expired == 0);
  v.w.clock.Advance(SchedulerOptions{}.unload_after - 1s);
  CHECK(v.Maintain().tenants_unloaded == 0);

  v.w.clock.Advance(1s);
  CHECK(v.Maintain().tenants_unloaded == 1);
  CHECK(v.Maintain().tenants_unloaded == 0);  // nothing of it is left to free

  // Loaded again from storage: the same answers, the booked hour still taken.
  CHECK(v.Monday() == offered);
  CHECK_CODE(v.w.Book(v.w.owner, v.At(Mon(10))), StatusCode::kConflict);
  // Its events number on from where they were.
  Must(v.w.Book(v.w.owner, v.At(Mon(11))));
  REQUIRE(v.w.events.size() == 2);
  CHECK(v.w.events[0].seq == 1);
  CHECK(v.w.events[1].seq == 2);
  CHECK(v.w.events[1].type == EventType::kCreated);

  // Used again, so unloaded again only after another unload_after.
  v.w.clock.Advance(SchedulerOptions{}.unload_after - 1s);
  CHECK(v.Maintain().tenants_unloaded == 0);
  v.w.clock.Advance(1s);
  CHECK(v.Maintain().tenants_unloaded == 1);
}

TEST_CASE("an unloaded tenant's next use sees what another Scheduler wrote meanwhile") {
  Venue v;
  Must(v.w.Book(v.w.owner, v.At(Mon(10))));
  v.w.clock.Advance(SchedulerOptions{}.unload_after);
  CHECK(v.Maintain().tenants_unloaded == 1);

  // Another process, as far as this Scheduler can tell.
  auto other_platform = v.w.OpenPlatform();
  auto other = Must(Scheduler::Open(*other_platform));
  Must(other->Book(v.w.owner, v.w.acme.id, v.At(Mon(12))));

  CHECK_CODE(v.w.Book(v.w.owner, v.At(Mon(12))), StatusCode::kConflict);
  CHECK(v.Monday().size() == 22);
}

TEST_CASE(
    "Maintain announces a hold's expiry without waiting for a call, and keeps the tenant "
    "loaded until then") {
  SchedulerOptions options;
  options.max_hold_ttl = 3h;
  options.unload_after = 30min;
  Venue v(options);
  Hold hold = Must(v.w.scheduler->PlaceHold(v.w.owner, v.w.acme.id, v.At(Mon(10)), 2h));
  REQUIRE(v.w.events.size() == 1);
  CHECK(v.w.events[0].type == EventType::kHoldCreated);

  // Unused for longer than unload_after, but the hold is live: its expiry is still to be
  // announced, so the state stays.
  v.w.clock.Advance(1h);
  MaintenanceReport live = v.Maintain();
  CHECK(live.tenants_unloaded == 0);
  CHECK(live.holds_expired == 0);
  CHECK(v.w.events.size() == 1);

  v.w.clock.Set(hold.expires_at);
  MaintenanceReport expired = v.Maintain();
  CHECK(expired.holds_expired == 1);
  REQUIRE(v.w.events.size() == 2);
  CHECK(v.w.events[1].type == EventType::kHoldExpired);
  REQUIRE(v.w.events[1].hold);
  CHECK(v.w.events[1].hold->id == hold.id);
  CHECK(v.w.events[1].seq == 2);
  CHECK(expired.tenants_unloaded == 1);  // nothing left to announce: freed in the same call

  // The next use does not announce it again, and the hour is free.
  CHECK(v.Monday().size() == 24);
  CHECK(v.w.events.size() == 2);
  CHECK(v.Maintain().holds_expired == 0);
}

TEST_CASE("Maintain leaves alone a tenant an operation is using") {
  Venue v;
  std::optional<MaintenanceReport> during;
  v.w.scheduler->Subscribe([&](const ScheduleEvent& e) {
    if (e.type != EventType::kCreated || during) return;
    // The booking that made this event still holds the tenant's state.
    v.w.clock.Advance(SchedulerOptions{}.unload_after + 1min);
    during = v.Maintain();
  });
  Must(v.w.Book(v.w.owner, v.At(Mon(10))));
  REQUIRE(during);
  CHECK(during->tenants_unloaded == 0);
  // Once it is done, the tenant is idle by the clock: freed.
  CHECK(v.Maintain().tenants_unloaded == 1);
  CHECK(v.Monday().size() == 23);
}

TEST_CASE("Maintain forgets tenants deleted here or by another process") {
  Venue v;
  v.w.AddResource({.name = "Desk", .hours = AlwaysOpen()}, v.w.globex.id);
  CHECK(Must(v.w.scheduler->ListResources(v.w.root_p, v.w.globex.id)).size() == 1);
  CHECK(v.Maintain().tenants_forgotten == 0);

  Must(v.w.platform->SuspendTenant(v.w.root_p, v.w.acme.id, "closed"));
  Must(v.w.platform->DeleteTenant(v.w.root_p, v.w.acme.id));
  MaintenanceReport here = v.Maintain();
  CHECK(here.tenants_forgotten == 1);
  CHECK(here.tenants_unloaded == 0);
  CHECK(v.Maintain().tenants_forgotten == 0);
  CHECK_CODE(v.w.scheduler->ListResources(v.w.root_p, v.w.acme.id), StatusCode::kNotFound);

  auto other = v.w.OpenPlatform();
  Must(other->SuspendTenant(v.w.root_p, v.w.globex.id, "closed"));
  Must(other->DeleteTenant(v.w.root_p, v.w.globex.id));
  CHECK(v.Maintain().tenants_forgotten == 1);
  CHECK_CODE(v.w.scheduler->ListResources(v.w.root_p, v.w.globex.id), StatusCode::kNotFound);
  CHECK(v.Maintain().tenants_forgotten == 0);
}

TEST_CASE("a tenant deleted while Maintain looks at it is forgotten, not a failure") {
  Venue v;
  // This process: a Scheduler whose storage lets another process act just before the
  // tenant's next transaction begins.
  auto hooked = std::make_shared<BeforeWriteStorage>(v.w.storage);
  PlatformOptions o = v.w.platform->options();
  o.storage = hooked;
  auto platform = Must(Platform::Open(o));
  auto scheduler = Must(Scheduler::Open(*platform));
  Must(scheduler->PlaceHold(v.w.owner, v.w.acme.id, v.At(Mon(10)), 5min));
  v.w.clock.Advance(6min);  // the hold's expiry is due: Maintain reads acme for it
  hooked->before_tenant = [&] {
    Must(v.w.platform->SuspendTenant(v.w.root_p, v.w.acme.id, "closed"));
    Must(v.w.platform->DeleteTenant(v.w.root_p, v.w.acme.id));
  };
  auto report = scheduler->Maintain();
  REQUIRE_MESSAGE(report.ok(), report.error().message());
  CHECK(hooked->before_tenant == nullptr);  // the deletion came in between
  CHECK_MESSAGE(report->tenants_failed == 0, report->failure.message());
  CHECK(report->tenants_forgotten == 1);
  CHECK(report->holds_expired == 0);
  CHECK(Must(scheduler->Maintain()).tenants_forgotten == 0);
}

TEST_CASE("unload_after must be positive") {
  ScheduleWorld w;
  SchedulerOptions zero;
  zero.unload_after = 0s;
  auto s = Scheduler::Open(*w.platform, zero);
  CHECK_INVALID(s, "unload_after");
  CHECK(MessageOf(s) == "unload_after: must be positive");
  SchedulerOptions long_ago;
  long_ago.unload_after = std::chrono::hours(24 * 366 * 11);
  auto t = Scheduler::Open(*w.platform, long_ago);
  CHECK_INVALID(t, "unload_after");
  CHECK(MessageOf(t) == "unload_after: too long");
}

TEST_CASE("Maintain unloading tenants while writers and readers use them loses nothing") {
  SchedulerOptions options;
  options.unload_after = 1min;
  ScheduleWorld w(options);
  struct Shop {
    TenantId tenant;
    Resource room;
    Service talk;
    Customer pat;
  };
  std::vector<Shop> shops;
  for (TenantId t : {w.acme.id, w.globex.id}) {
    Shop s{t, w.AddResource({.name = "Room", .hours = AlwaysOpen()}, t), {}, {}};
    s.talk = w.AddService({.name = "Talk",
                           .duration = 60min,
                           .slot_interval = 60min,
                           .requirements = {OneOf({s.room.id})}},
                          t);
    s.pat = w.AddCustomer("Pat", std::nullopt, t);
    shops.push_back(s);
  }
  const Instant first = At("2027-03-01T00:00:00Z");
  constexpr int kWriters = 4;
  constexpr int kBookingsEach = 150;
  constexpr int kHours = 200;  // fewer than the bookings: many conflict

  std::atomic<bool> done{false};
  std::atomic<int> unloaded{0};
  std::atomic<int> failures{0};
  std::thread housekeeper([&] {
    while (!done.load()) {
      w.clock.Advance(options.unload_after);
      auto r = w.scheduler->Maintain();
      if (!r || r->tenants_failed != 0 || r->tenants_forgotten != 0) ++failures;
      if (r) unloaded += static_cast<int>(r->tenants_unloaded);
    }
  });
  std::mutex acked_mu;
  std::vector<std::vector<AppointmentId>> acked(shops.size());
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i) + 1);
      for (int n = 0; n < kBookingsEach; ++n) {
        const std::size_t k = rng() % shops.size();
        const Shop& s = shops[k];
        const Instant start = first + std::chrono::hours(rng() % kHours);
        auto a = w.scheduler->Book(w.root_p, s.tenant,
                                   {.service = s.talk.id, .customer = s.pat.id, .start = start});
        if (a) {
          std::lock_guard lock(acked_mu);
          acked[k].push_back(a->id);
        } else if (a.error().code() != StatusCode::kConflict) {
          ++failures;
        }
        if (n % 3 == 0) {  // a reader too
          auto slots = w.scheduler->Availability(
              w.root_p, s.tenant,
              {.service = s.talk.id, .from = {2027, 3, 1}, .to = {2027, 3, 9}, .time_zone = "UTC"});
          if (!slots) ++failures;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1000));
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  housekeeper.join();
  CHECK(failures.load() == 0);
  CHECK(unloaded.load() > 0);

  // What storage holds, through a Scheduler that never saw any of it: every acknowledged
  // booking, and no two on one room at once.
  auto other_platform = w.OpenPlatform();
  auto fresh = Must(Scheduler::Open(*other_platform));
  for (std::size_t k = 0; k < shops.size(); ++k) {
    auto stored = Must(fresh->ListAppointments(w.root_p, shops[k].tenant, first,
                                               first + std::chrono::hours(kHours + 1)));
    std::set<AppointmentId> ids;
    std::set<Instant> starts;
    for (const Appointment& a : stored) {
      ids.insert(a.id);
      CHECK_MESSAGE(starts.insert(a.start).second, "two bookings at " << Show(a.start));
    }
    CHECK(stored.size() == acked[k].size());
    for (AppointmentId id : acked[k]) CHECK(ids.count(id) == 1);
    // And this Scheduler, however often it reloaded, refuses every taken hour.
    for (Instant start : starts)
      CHECK_CODE(w.scheduler->Book(
                     w.root_p, shops[k].tenant,
                     {.service = shops[k].talk.id, .customer = shops[k].pat.id, .start = start}),
                 StatusCode::kConflict);
  }
}

// A listener may call back into the scheduler, and Maintain calls listeners on its own
// thread: one that books on hold_expired (offering the freed slot to a waiting list, say)
// must not find Maintain's own tenant read in its way (on memory storage, a write waits
// for the reads open on its tenant).
TEST_CASE("a listener that books on hold_expired does not hang Maintain") {
  SchedulerOptions options;
  options.max_hold_ttl = 3h;
  Venue v(options);
  Hold hold = Must(v.w.scheduler->PlaceHold(v.w.owner, v.w.acme.id, v.At(Mon(10)), 1h));
  std::atomic<bool> rebooked{false};
  v.w.scheduler->Subscribe([&](const ScheduleEvent& e) {
    if (e.type != EventType::kHoldExpired || rebooked.exchange(true)) return;
    (void)v.w.scheduler->Book(v.w.owner, v.w.acme.id, v.At(Mon(10)));
  });
  v.w.clock.Set(hold.expires_at);
  std::atomic<bool> finished{false};
  std::thread housekeeper([&] {
    (void)v.w.scheduler->Maintain();
    finished = true;
  });
  for (int i = 0; i < 100 && !finished.load(); ++i) std::this_thread::sleep_for(50ms);
  CHECK_MESSAGE(finished.load(), "Maintain is stuck: its listener's Book waits for Maintain's own read");
  if (!finished.load()) {
    std::fflush(nullptr);
    std::_Exit(1);  // the thread cannot be joined
  }
  housekeeper.join();
  CHECK(rebooked.load());
  CHECK(v.w.Occupying().size() == 1);
}
