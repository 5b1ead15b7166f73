// The availability property: a start is offered exactly when booking it would succeed for
// the same actor right now, and each slot's free lists name exactly the resources that
// could host it. Checked against the engine itself (book, then cancel) and against an
// independent model of the rules, over thousands of random worlds around DST changes.
//
// Reproduce one case with SMOOTH_PTEST_SEED=<seed> SMOOTH_PTEST_CASE=<case>; it prints the
// world it built.
#include <doctest/doctest.h>

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fixtures.hpp"
#include "property_random.hpp"
#include "smooth/scheduler.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::Must;
using smooth::testing::PropertyRun;
using smooth::testing::Rng;
using smooth::testing::World;
using std::chrono::minutes;

namespace {

// On memory storage; other backends (SMOOTH_TEST_STORAGE) run a slice of the same cases,
// since every booking there is a real transaction.
constexpr int kSeeds = 40;
constexpr int kCasesPerSeed = 100;
constexpr int kSeedsElsewhere = 3;
constexpr int kCasesPerSeedElsewhere = 15;
// Per case, how many offered and how many non-offered starts are also checked by booking
// them for real (the model checks every candidate start).
constexpr int kBookedStartsPerKind = 40;
constexpr int kMaxReportedFailures = 30;

constexpr std::array<std::string_view, 5> kZones = {"America/New_York", "Europe/London",
                                                    "Australia/Lord_Howe", "Asia/Kolkata", "UTC"};
// Days on which one of those zones changes its offset in 2026 (all Sundays), and the zone.
struct DstDay {
  LocalDate date;
  std::string_view zone;
};
constexpr std::array<DstDay, 6> kDstDays = {
    DstDay{{2026, 3, 8}, "America/New_York"},      // 02:00 -> 03:00
    DstDay{{2026, 3, 29}, "Europe/London"},        // 01:00 -> 02:00
    DstDay{{2026, 4, 5}, "Australia/Lord_Howe"},   // 02:00 -> 01:30
    DstDay{{2026, 10, 4}, "Australia/Lord_Howe"},  // 02:00 -> 02:30
    DstDay{{2026, 10, 25}, "Europe/London"},       // 02:00 -> 01:00
    DstDay{{2026, 11, 1}, "America/New_York"}};    // 02:00 -> 01:00
constexpr std::array<int, 6> kSlotIntervals = {5, 10, 15, 20, 30, 60};

// --- Civil time, computed here independently of the engine --------------------------------

date::local_days Days(LocalDate d) {
  return date::local_days{date::year{d.year} / date::month{static_cast<unsigned>(d.month)} /
                          date::day{static_cast<unsigned>(d.day)}};
}
LocalDate DateOf(date::local_days days) {
  const date::year_month_day ymd{days};
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day()))};
}
LocalDate AddDays(LocalDate d, int n) { return DateOf(Days(d) + date::days{n}); }
int IsoWeekday(date::local_days days) {
  return static_cast<int>(date::weekday{days}.iso_encoding()) - 1;
}

// The RFC 5545 reading of a wall-clock time: a time skipped by a gap uses the offset in force
// before the gap; a repeated time means its first occurrence. In both cases that is the
// offset of `first`.
Instant ToInstant(const date::time_zone* zone, date::local_days day, minutes since_midnight) {
  const date::local_seconds local = date::local_seconds{day} + since_midnight;
  const date::local_info info = zone->get_info(local);
  return Instant{
      std::chrono::duration_cast<Duration>(local.time_since_epoch() - info.first.offset)};
}
Instant Midnight(const date::time_zone* zone, LocalDate d) {
  return ToInstant(zone, Days(d), minutes{0});
}

std::string Show(Instant t) { return FormatRfc3339(t); }
std::string Show(const date::time_zone* zone, Instant t) {
  const auto z = date::make_zoned(zone, std::chrono::floor<std::chrono::seconds>(t));
  return fmt::format("{} ({} {})", FormatRfc3339(t), date::format("%F %R %Z", z), zone->name());
}
std::string Show(minutes m) { return fmt::format("{:02}:{:02}", m.count() / 60, m.count() % 60); }
std::string Show(const std::vector<DailyInterval>& hours) {
  if (hours.empty()) return "closed";
  std::string out;
  for (const DailyInterval& iv : hours) {
    out += fmt::format("{}{}-{}", out.empty() ? "" : ",", Show(iv.start), Show(iv.end));
  }
  return out;
}
std::string Show(const std::vector<ResourceId>& ids) {
  std::string out = "{";
  for (ResourceId id : ids) out += fmt::format("{}{}", out.size() > 1 ? "," : "", id.value());
  return out + "}";
}

DailyInterval Iv(int from, int to) { return {minutes{from}, minutes{to}}; }

// One day's hours: closed, all day, office hours, split shifts (sometimes touching),
// until midnight, from midnight, both, or the small hours where DST changes happen.
std::vector<DailyInterval> RandomDay(Rng& rng) {
  switch (rng.Int(0, 9)) {
    case 0:
      return {};
    case 1:
      return {Iv(0, 1440)};
    case 2: {
      const int a = rng.Minute(0, 1200);
      return {Iv(a, rng.Minute(a + 30, 1440))};
    }
    case 3: {
      const int a = rng.Minute(0, 700);
      const int b = rng.Minute(a + 20, 900);
      const int c = rng.Chance(0.15) ? b : rng.Minute(b + 5, 1200);
      return {Iv(a, b), Iv(c, rng.Minute(c + 20, 1440))};
    }
    case 4:
      return {Iv(rng.Minute(600, 1380), 1440)};
    case 5:
      return {Iv(0, rng.Minute(60, 900))};
    case 6:
      return {Iv(0, rng.Minute(30, 400)), Iv(rng.Minute(1000, 1400), 1440)};
    case 7: {
      const int a = rng.Minute(0, 200);
      return {Iv(a, rng.Minute(a + 10, 300))};
    }
    default: {
      const int a = rng.Minute(480, 600);
      return {Iv(a, rng.Minute(a + 240, 1200))};
    }
  }
}

// --- The model: what the rules say, computed from what the test asked for -----------------

struct Span {
  Instant start;
  Instant end;
};

void SortAndMerge(std::vector<Span>* spans) {
  std::sort(spans->begin(), spans->end(),
            [](const Span& a, const Span& b) { return a.start < b.start; });
  std::vector<Span> merged;
  for (const Span& s : *spans) {
    if (!merged.empty() && s.start <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, s.end);
    } else {
      merged.push_back(s);
    }
  }
  *spans = std::move(merged);
}

struct ModelResource {
  ResourceId id;
  int capacity = 1;
  const date::time_zone* zone = nullptr;
  WorkingHours hours;
  std::vector<Span> open;      // the day hours around the query, merged across days
  std::vector<Span> time_off;  // merged

  // Expands the hours for local dates [from, to] (in this resource's zone).
  void Expand(LocalDate from, LocalDate to) {
    for (date::local_days day = Days(from); day <= Days(to); day += date::days{1}) {
      std::vector<DailyInterval> list = hours.weekly[static_cast<std::size_t>(IsoWeekday(day))];
      for (const DateOverride& o : hours.overrides) {
        if (Days(o.date) == day) list = o.hours;
      }
      // Sorted and merged in wall-clock minutes first, then converted.
      std::sort(list.begin(), list.end(),
                [](const DailyInterval& a, const DailyInterval& b) { return a.start < b.start; });
      std::vector<DailyInterval> local;
      for (const DailyInterval& iv : list) {
        if (!local.empty() && iv.start <= local.back().end) {
          local.back().end = std::max(local.back().end, iv.end);
        } else {
          local.push_back(iv);
        }
      }
      for (const DailyInterval& iv : local) {
        const Span s{ToInstant(zone, day, iv.start), ToInstant(zone, day, iv.end)};
        if (s.start < s.end) open.push_back(s);  // a span starting inside a gap can vanish
      }
    }
    SortAndMerge(&open);
    for (const TimeOff& t : hours.time_off) time_off.push_back({t.start, t.end});
    SortAndMerge(&time_off);
  }

  // [start, end) lies within one span of open time minus time off.
  bool Works(Instant start, Instant end) const {
    bool inside = false;
    for (const Span& s : open) inside = inside || (s.start <= start && end <= s.end);
    if (!inside) return false;
    for (const Span& t : time_off) {
      if (t.start < end && start < t.end) return false;
    }
    return true;
  }
};

// Something occupying resources over [from, to).
struct Occupant {
  std::vector<ResourceId> resources;
  Instant from;
  Instant to;
};

struct Model {
  std::vector<ModelResource> resources;
  std::vector<Occupant> occupants;

  const ModelResource& Get(ResourceId id) const {
    for (const ModelResource& r : resources) {
      if (r.id == id) return r;
    }
    FAIL("unknown resource " << id.value());
    return resources.front();
  }

  // The most occupants on `id` at any instant of [from, to).
  int MaxLoad(ResourceId id, Instant from, Instant to) const {
    std::vector<std::pair<Instant, int>> edges;
    for (const Occupant& o : occupants) {
      if (std::find(o.resources.begin(), o.resources.end(), id) == o.resources.end()) continue;
      if (!(o.from < to && from < o.to)) continue;
      edges.push_back({std::max(o.from, from), +1});
      edges.push_back({std::min(o.to, to), -1});
    }
    std::sort(edges.begin(), edges.end());  // at equal instants, -1 (an end) comes first
    int load = 0;
    int most = 0;
    for (const auto& e : edges) most = std::max(most, load += e.second);
    return most;
  }

  // `id` could host the service alone at `start`: open for the appointment itself, and
  // room for one more over it and its buffers.
  bool CanHost(ResourceId id, const Service& s, Instant start) const {
    const ModelResource& r = Get(id);
    return r.Works(start, start + s.duration) &&
           MaxLoad(id, start - s.buffer_before, start + s.duration + s.buffer_after) < r.capacity;
  }
};

// One distinct resource per requirement, each from its list, if there is one.
std::optional<std::vector<ResourceId>> Assignment(
    const std::vector<std::vector<ResourceId>>& choices) {
  std::vector<ResourceId> taken;
  std::function<bool(std::size_t)> go = [&](std::size_t i) {
    if (i == choices.size()) return true;
    for (ResourceId r : choices[i]) {
      if (std::find(taken.begin(), taken.end(), r) != taken.end()) continue;
      taken.push_back(r);
      if (go(i + 1)) return true;
      taken.pop_back();
    }
    return false;
  };
  if (go(0)) return taken;
  return std::nullopt;
}

bool Contains(const std::vector<ResourceId>& v, ResourceId id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}
std::vector<ResourceId> Sorted(std::vector<ResourceId> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// --- Counting and reporting -------------------------------------------------------------

struct Tally {
  long model_offered = 0;       // offered starts the model agreed with
  long model_not_offered = 0;   // candidate starts not offered, checked against the model
  long booked_offered = 0;      // offered starts booked for real (then cancelled)
  long booked_not_offered = 0;  // non-offered starts whose booking was tried and refused
  long resource_checks = 0;     // single-resource bookings compared with Slot.free
  long cases = 0;
  long customer_cases = 0;
  long filtered_cases = 0;
  long two_requirement_cases = 0;
  long dst_cases = 0;
  long occupying_appointments = 0;  // in the worlds at query time
  long outside_hours_appointments = 0;
  long live_holds = 0;
  long expired_holds = 0;
  int failures = 0;
};

// --- One random world and its checks ----------------------------------------------------

class Case {
 public:
  Case(World& w, Scheduler& scheduler, int seed, int index, Tally& tally, bool verbose)
      : w_(w),
        sched_(scheduler),
        seed_(seed),
        index_(index),
        tally_(tally),
        verbose_(verbose),
        rng_(static_cast<std::uint64_t>(seed) * 1000003u + static_cast<std::uint64_t>(index)) {}

  void Run() {
    ChooseDates();
    CreateTenant();
    CreateResources();
    CreateServices();
    w_.clock.Set(now0_);
    PlaceBookingsAndHolds();
    w_.clock.Set(now_);
    BuildModel();
    Query();
    if (verbose_) MESSAGE(Describe());
    CheckSlotsAgainstModel();
    CheckByBooking();
    CheckRestored();
    ++tally_.cases;
  }

 private:
  // Where a failure happened, for the failure message.
  std::string Where() const { return fmt::format("seed {} case {}", seed_, index_); }

  void Expect(bool ok, const std::function<std::string()>& what) {
    if (ok) return;
    ++tally_.failures;
    if (tally_.failures > kMaxReportedFailures) return;
    std::string message = fmt::format("{}: {}", Where(), what());
    if (!described_) {
      message += "\n" + Describe();
      described_ = true;
    }
    FAIL_CHECK(message);
  }

  void ChooseDates() {
    const bool near_dst = rng_.Chance(0.5);
    if (near_dst) dst_ = rng_.Pick(kDstDays);
    const LocalDate anchor = near_dst ? dst_->date : AddDays({2026, 3, 3}, rng_.Int(0, 270));
    from_ = AddDays(anchor, near_dst ? rng_.Int(-1, 0) : 0);
    days_ = rng_.Int(1, 3);
    to_ = AddDays(from_, days_ - 1);
    if (near_dst) ++tally_.dst_cases;
    out_zone_name_ = std::string(RandomZone());
    out_zone_ = date::locate_zone(out_zone_name_);
    window_start_ = Midnight(out_zone_, from_);
    as_customer_ = rng_.Chance(0.3);
  }

  // Near a DST change, often the zone that changes.
  std::string_view RandomZone() {
    return dst_ && rng_.Chance(0.5) ? dst_->zone : rng_.Pick(kZones);
  }

  // Hours with an edge inside or next to the hours where clocks change.
  std::vector<DailyInterval> SmallHours() {
    const int a = rng_.Minute(30, 170);
    const int b = rng_.Minute(a + 5, 240);
    if (rng_.Chance(0.5)) return {Iv(a, b)};
    return {Iv(rng_.Chance(0.5) ? 0 : a / 2, a),
            Iv(b, rng_.Chance(0.5) ? 1440 : rng_.Minute(b + 10, 600))};
  }

  void CreateTenant() {
    tenant_zone_ = std::string(RandomZone());
    const std::string slug = fmt::format("p{}_{}", seed_, index_);
    Tenant t = Must(w_.platform->CreateTenant(
        w_.root_p, {.slug = slug, .name = slug, .time_zone = tenant_zone_}));
    tenant_ = t.id;
    auto user = [&](Role role, std::string_view who) {
      return Must(w_.platform->CreateUser(
          w_.root_p, {.email = fmt::format("{}@p{}-{}.test", who, seed_, index_),
                      .display_name = std::string(who),
                      .role = role,
                      .tenant = tenant_,
                      .password = World::kPassword}));
    };
    owner_ = Must(w_.platform->ActAs(user(Role::kTenantOwner, "owner").id));
    manager_ = Must(w_.platform->ActAs(user(Role::kTenantManager, "manager").id));
    const User customer_user = user(Role::kCustomer, "pat");
    customer_ = Must(w_.platform->ActAs(customer_user.id));
    pat_ = Must(sched_.CreateCustomer(
                    owner_, tenant_,
                    {.name = "Pat", .email = "pat@example.test", .user = customer_user.id}))
               .id;
    walk_in_ = Must(sched_.CreateCustomer(owner_, tenant_, {.name = "Walk-in"})).id;
  }

  void CreateResources() {
    const int n = rng_.Int(1, 4);
    for (int i = 0; i < n; ++i) {
      ResourceSpec spec;
      spec.name = fmt::format("R{}", i + 1);
      spec.capacity = rng_.Int(1, 3);
      spec.time_zone = rng_.Chance(0.25) ? "" : std::string(RandomZone());
      for (auto& day : spec.hours.weekly) day = RandomDay(rng_);
      // The changes all happen on a Sunday between 01:00 and 03:00.
      if (dst_ && rng_.Chance(0.5)) spec.hours.weekly[6] = SmallHours();
      std::set<LocalDate> overridden;
      for (int k = rng_.Int(0, 2); k > 0; --k) {
        const LocalDate d = AddDays(from_, rng_.Int(-1, days_));
        if (!overridden.insert(d).second) continue;
        spec.hours.overrides.push_back({.date = d,
                                        .hours = rng_.Chance(0.4)   ? std::vector<DailyInterval>{}
                                                 : rng_.Chance(0.3) ? SmallHours()
                                                                    : RandomDay(rng_)});
      }
      const int window_minutes = days_ * 1440;
      for (int k = rng_.Int(0, 2); k > 0; --k) {
        const Instant start = window_start_ + minutes{rng_.Int(-600, window_minutes + 300)};
        const minutes length{rng_.Chance(0.3) ? rng_.Int(600, 2000) : rng_.Int(10, 300)};
        spec.hours.time_off.push_back({.start = start, .end = start + length, .reason = "away"});
      }
      Resource r = Must(sched_.CreateResource(owner_, tenant_, spec));
      ModelResource m;
      m.id = r.id;
      m.capacity = spec.capacity;
      m.zone = date::locate_zone(spec.time_zone.empty() ? tenant_zone_ : spec.time_zone);
      m.hours = spec.hours;
      model_.resources.push_back(std::move(m));
      resource_ids_.push_back(r.id);
      resource_specs_.push_back(spec);
    }
  }

  ServiceSpec RandomService(std::string name, bool allow_two) {
    ServiceSpec spec;
    spec.name = std::move(name);
    spec.duration = minutes{rng_.Int(15, 120)};
    spec.buffer_before = rng_.Chance(0.5) ? minutes{0} : minutes{rng_.Int(1, 30)};
    spec.buffer_after = rng_.Chance(0.5) ? minutes{0} : minutes{rng_.Int(1, 30)};
    spec.slot_interval = minutes{rng_.Pick(kSlotIntervals)};
    spec.requirements.push_back({rng_.Subset(resource_ids_)});
    if (allow_two && resource_ids_.size() >= 2 && rng_.Chance(0.4)) {
      // A second requirement, sometimes sharing resources with the first; never one that
      // no distinct pair could satisfy.
      std::vector<ResourceId> second;
      do {
        second = rng_.Subset(resource_ids_);
      } while (second.size() == 1 && spec.requirements[0].resources == second);
      spec.requirements.push_back({second});
    }
    return spec;
  }

  void CreateServices() {
    // Now: before the window, or inside it (so some starts are in the past).
    if (rng_.Chance(0.6)) {
      now_ = window_start_ - minutes{rng_.Int(0, 4 * 1440)} - rng_.OddSeconds();
    } else {
      now_ = window_start_ + minutes{rng_.Int(0, days_ * 1440)} + rng_.OddSeconds();
    }
    // The state is built at now0_; holds placed then may have expired by now_.
    const int built_before = rng_.Int(0, 9);
    now0_ = now_ - (built_before < 4   ? minutes{0}
                    : built_before < 7 ? minutes{rng_.Int(0, 90)}
                                       : minutes{rng_.Int(0, 3 * 1440)});

    ServiceSpec target = RandomService("Target", /*allow_two=*/true);
    // Notice rules; they bind customers only, so set them for managers' cases too.
    if (rng_.Chance(0.7)) {
      target.min_notice = minutes{rng_.Chance(0.3) ? 0 : rng_.Int(1, 48 * 60)};
      const auto to_window = std::chrono::duration_cast<minutes>(window_start_ - now_);
      minutes advance = to_window + minutes{rng_.Int(-360, days_ * 1440 + 360)};
      advance = std::max(advance, std::chrono::duration_cast<minutes>(target.min_notice) + 60min);
      target.max_advance = advance;
    }
    target_ = Must(sched_.CreateService(owner_, tenant_, target));
    services_.push_back(target_);
    for (int k = rng_.Int(0, 2); k > 0; --k) {
      services_.push_back(Must(sched_.CreateService(
          owner_, tenant_, RandomService(fmt::format("Other{}", k), /*allow_two=*/true))));
    }
    if (target_.requirements.size() == 2) ++tally_.two_requirement_cases;
    // Starts aligned as Availability steps them.
    for (LocalDate d = from_; d <= to_; d = AddDays(d, 1)) {
      const Instant next = Midnight(out_zone_, AddDays(d, 1));
      for (Instant t = Midnight(out_zone_, d); t < next; t += target_.slot_interval) {
        candidates_.push_back(t);
      }
    }
    // Sometimes "now" is exactly a candidate start, for a manager: start == now is allowed.
    if (!as_customer_ && rng_.Chance(0.2)) {
      now_ = rng_.Pick(candidates_);
      now0_ = now_ - minutes{rng_.Int(0, 120)};
    }
  }

  // Random existing state, built at now0_: bookings in and out of hours, some cancelled or
  // finished, and holds, some released or confirmed.
  void PlaceBookingsAndHolds() {
    const int window_minutes = days_ * 1440;
    auto random_start = [&]() {
      return window_start_ + minutes{rng_.Minute(-360, window_minutes + 360)};
    };
    auto random_request = [&](const Service& s, Instant start) {
      BookingRequest req{.service = s.id, .customer = walk_in_, .start = start};
      if (rng_.Chance(0.5)) {
        for (const ResourceRequirement& q : s.requirements) {
          req.resources.push_back(rng_.Chance(0.3) ? std::nullopt
                                                   : std::optional(rng_.Pick(q.resources)));
        }
      }
      if (rng_.Chance(0.2)) req.status = AppointmentStatus::kPending;
      return req;
    };
    std::vector<Appointment> booked;
    for (int k = rng_.Int(0, 25); k > 0; --k) {
      const Service& s = rng_.Pick(services_);
      BookingRequest req = random_request(s, random_start());
      req.outside_hours = rng_.Chance(0.4);
      if (req.start < now0_) continue;
      if (auto a = sched_.Book(owner_, tenant_, req)) booked.push_back(*a);
    }
    // Dense bookings of the target service on its own grid, to fill capacity where slots are.
    for (int k = rng_.Int(0, 12); k > 0; --k) {
      BookingRequest req = random_request(target_, rng_.Pick(candidates_));
      if (req.start < now0_) continue;
      if (auto a = sched_.Book(owner_, tenant_, req)) booked.push_back(*a);
    }
    for (Appointment& a : booked) {
      CheckBooked(a);
      if (rng_.Chance(0.15)) {
        a = Must(sched_.Cancel(owner_, tenant_, a.id));
      } else if (rng_.Chance(0.05)) {
        const auto status =
            rng_.Chance(0.5) ? AppointmentStatus::kCompleted : AppointmentStatus::kNoShow;
        if (auto changed = sched_.SetStatus(owner_, tenant_, a.id, status)) a = *changed;
      }
    }
    std::vector<Hold> holds;
    for (int k = rng_.Int(0, 6); k > 0; --k) {
      const Service& s = rng_.Pick(services_);
      const Instant start = rng_.Chance(0.5) ? rng_.Pick(candidates_) : random_start();
      if (start < now0_) continue;
      BookingRequest req = random_request(s, start);
      req.status = AppointmentStatus::kConfirmed;
      req.outside_hours = rng_.Chance(0.3);
      const std::optional<Duration> ttl =
          rng_.Chance(0.3) ? std::nullopt : std::optional<Duration>(minutes{rng_.Int(1, 60)});
      auto h = sched_.PlaceHold(owner_, tenant_, req, ttl);
      if (!h) continue;
      if (rng_.Chance(0.2)) {
        Must(sched_.ReleaseHold(owner_, tenant_, h->id));
        h->released = true;
      } else if (rng_.Chance(0.1)) {
        Appointment a = Must(sched_.ConfirmHold(owner_, tenant_, h->id));
        CHECK(a.resources == h->resources);
        CHECK(a.start == h->start);
        h->released = true;
        booked.push_back(a);
      }
      holds.push_back(*h);
    }
    appointments_ = booked;
    holds_ = holds;
  }

  // What Book returned is consistent with the service it booked.
  void CheckBooked(const Appointment& a) {
    const Service* s = nullptr;
    for (const Service& x : services_) {
      if (x.id == a.service) s = &x;
    }
    REQUIRE(s != nullptr);
    Expect(a.end == a.start + s->duration && a.buffer_before == s->buffer_before &&
               a.buffer_after == s->buffer_after && a.resources.size() == s->requirements.size(),
           [&] { return fmt::format("appointment {} does not match its service", a.id.value()); });
  }

  void BuildModel() {
    for (ModelResource& r : model_.resources) r.Expand(AddDays(from_, -2), AddDays(to_, 2));
    for (const Appointment& a : appointments_) {
      if (a.Occupies()) {
        model_.occupants.push_back(
            {a.resources, a.start - a.buffer_before, a.end + a.buffer_after});
        ++tally_.occupying_appointments;
        if (a.outside_hours) ++tally_.outside_hours_appointments;
      }
    }
    for (const Hold& h : holds_) {
      if (h.Occupies(now_)) {
        model_.occupants.push_back(
            {h.resources, h.start - h.buffer_before, h.end + h.buffer_after});
        ++tally_.live_holds;
      } else if (!h.released) {
        ++tally_.expired_holds;
      }
    }
    // The requirements as the query sees them.
    if (rng_.Chance(0.25)) {
      std::vector<ResourceId> all;
      for (const ResourceRequirement& q : target_.requirements) {
        for (ResourceId r : q.resources) {
          if (!Contains(all, r)) all.push_back(r);
        }
      }
      filter_ = rng_.Subset(all);
      ++tally_.filtered_cases;
    }
    for (const ResourceRequirement& q : target_.requirements) {
      std::vector<ResourceId> eligible;
      for (ResourceId r : q.resources) {
        if (filter_.empty() || Contains(filter_, r)) eligible.push_back(r);
      }
      eligible_.push_back(eligible);
    }
    if (as_customer_) ++tally_.customer_cases;
  }

  const Principal& Actor() const { return as_customer_ ? customer_ : manager_; }
  CustomerId BookingCustomer() const { return as_customer_ ? pat_ : walk_in_; }

  std::vector<Slot> Ask() {
    auto slots = sched_.Availability(Actor(), tenant_,
                                     {.service = target_.id,
                                      .from = from_,
                                      .to = to_,
                                      .time_zone = out_zone_name_,
                                      .resources = filter_});
    if (!slots) FAIL(Where() << ": availability failed: " << slots.error().ToString());
    return *slots;
  }

  void Query() {
    slots_ = Ask();
    for (const Slot& s : slots_) {
      Expect(slot_at_.emplace(s.start, &s).second,
             [&] { return "start offered twice: " + Show(out_zone_, s.start); });
      Expect(std::binary_search(candidates_.begin(), candidates_.end(), s.start),
             [&] { return "offered start is not on the slot grid: " + Show(out_zone_, s.start); });
      Expect(s.end == s.start + target_.duration,
             [&] { return "slot end is not start + duration at " + Show(out_zone_, s.start); });
      Expect(s.free.size() == target_.requirements.size(),
             [&] { return "slot has a free list per requirement at " + Show(out_zone_, s.start); });
    }
  }

  // What the rules say about `start`: the resources free for each requirement, and
  // whether one distinct resource per requirement can be chosen from them.
  struct Expected {
    bool offered = false;
    std::vector<std::vector<ResourceId>> free;
  };
  Expected Rules(Instant start) const {
    Expected e;
    for (const std::vector<ResourceId>& eligible : eligible_) {
      std::vector<ResourceId> free;
      for (ResourceId r : eligible) {
        if (model_.CanHost(r, target_, start)) free.push_back(r);
      }
      e.free.push_back(Sorted(free));
    }
    bool timely = start >= now_;
    if (as_customer_) {
      timely = timely && start - now_ >= target_.min_notice && start - now_ <= target_.max_advance;
    }
    e.offered = timely && Assignment(e.free).has_value();
    return e;
  }

  void CheckSlotsAgainstModel() {
    for (Instant start : candidates_) {
      const Expected e = Rules(start);
      auto it = slot_at_.find(start);
      const bool offered = it != slot_at_.end();
      Expect(offered == e.offered, [&] {
        return fmt::format("{} {} but the rules say it {}", Show(out_zone_, start),
                           offered ? "is offered" : "is not offered",
                           e.offered ? "is bookable" : "is not bookable");
      });
      if (offered && e.offered) {
        ++tally_.model_offered;
        for (std::size_t i = 0; i < e.free.size() && i < it->second->free.size(); ++i) {
          const std::vector<ResourceId> got = Sorted(it->second->free[i]);
          Expect(got == e.free[i], [&] {
            return fmt::format("{}: free[{}] is {} but the rules say {}", Show(out_zone_, start), i,
                               Show(got), Show(e.free[i]));
          });
        }
      } else if (!offered && !e.offered) {
        ++tally_.model_not_offered;
      }
    }
  }

  // Books `resources` at `start` as the query's actor; cancels at once what succeeded.
  Status TryBooking(Instant start, std::vector<std::optional<ResourceId>> resources) {
    const BookingRequest req{.service = target_.id,
                             .customer = BookingCustomer(),
                             .start = start,
                             .resources = resources};
    auto a = sched_.Book(Actor(), tenant_, req);
    if (!a) return a.error();
    Expect(a->start == start && a->resources.size() == target_.requirements.size(), [&] {
      return fmt::format("booking at {} came back with another start or resource count",
                         Show(out_zone_, start));
    });
    for (std::size_t i = 0; i < a->resources.size() && i < target_.requirements.size(); ++i) {
      Expect(Contains(target_.requirements[i].resources, a->resources[i]) &&
                 (i >= resources.size() || !resources[i] || *resources[i] == a->resources[i]),
             [&] {
               return fmt::format("booking at {} put requirement {} on resource {}",
                                  Show(out_zone_, start), i, a->resources[i].value());
             });
    }
    Expect(std::set<ResourceId>(a->resources.begin(), a->resources.end()).size() ==
               a->resources.size(),
           [&] { return "booking at " + Show(out_zone_, start) + " used a resource twice"; });
    Must(sched_.Cancel(owner_, tenant_, a->id));
    return Status::Ok();
  }

  static bool IsRefusal(const Status& s) {
    return s.code() == StatusCode::kConflict || s.code() == StatusCode::kFailedPrecondition;
  }

  // Every assignment of distinct resources from the eligible lists.
  std::vector<std::vector<ResourceId>> AllAssignments() const {
    std::vector<std::vector<ResourceId>> out;
    std::vector<ResourceId> taken;
    std::function<void(std::size_t)> go = [&](std::size_t i) {
      if (i == eligible_.size()) {
        out.push_back(taken);
        return;
      }
      for (ResourceId r : eligible_[i]) {
        if (Contains(taken, r)) continue;
        taken.push_back(r);
        go(i + 1);
        taken.pop_back();
      }
    };
    go(0);
    return out;
  }

  static std::vector<std::optional<ResourceId>> AsRequest(const std::vector<ResourceId>& ids) {
    return {ids.begin(), ids.end()};
  }

  void CheckOfferedByBooking(const Slot& slot) {
    const Instant start = slot.start;
    // (a) The slot books.
    std::vector<std::optional<ResourceId>> wanted;  // engine's choice, unless filtered
    if (!filter_.empty()) {
      auto pick = Assignment(slot.free);
      Expect(pick.has_value(), [&] {
        return "offered " + Show(out_zone_, start) + " has no distinct resource per requirement";
      });
      if (!pick) return;
      wanted = AsRequest(*pick);
    }
    const Status booked = TryBooking(start, wanted);
    Expect(booked.ok(), [&] {
      return fmt::format("offered {} does not book with resources {}: {}", Show(out_zone_, start),
                         filter_.empty() ? "left to the engine" : "from its free lists",
                         booked.ToString());
    });
    ++tally_.booked_offered;
    // (c) Slot.free names each resource that can take the booking.
    for (std::size_t i = 0; i < eligible_.size() && i < slot.free.size(); ++i) {
      for (ResourceId r : eligible_[i]) {
        std::vector<std::optional<ResourceId>> one(eligible_.size());
        one[i] = r;
        const Status s = TryBooking(start, one);
        ++tally_.resource_checks;
        const bool listed = Contains(slot.free[i], r);
        if (eligible_.size() == 1) {
          Expect(s.ok() == listed, [&] {
            return fmt::format("at {} resource {} is {}in free[0] but booking it: {}",
                               Show(out_zone_, start), r.value(), listed ? "" : "not ",
                               s.ToString());
          });
        } else {
          // With two requirements a listed resource may still fail for want of a partner;
          // a resource that books must be listed.
          Expect(!s.ok() || listed, [&] {
            return fmt::format("at {} resource {} books for requirement {} but is not in free[{}]",
                               Show(out_zone_, start), r.value(), i, i);
          });
        }
        if (!s.ok()) {
          Expect(IsRefusal(s), [&] { return "unexpected error: " + s.ToString(); });
        }
      }
    }
  }

  void CheckNotOfferedByBooking(Instant start) {
    // (b) Nothing books: not the engine's choice, not any explicit assignment.
    if (filter_.empty()) {
      const Status s = TryBooking(start, {});
      Expect(!s.ok(), [&] {
        return "not offered " + Show(out_zone_, start) + " books with resources left to the engine";
      });
      Expect(s.ok() || IsRefusal(s), [&] {
        return fmt::format("not offered {} fails with {}", Show(out_zone_, start), s.ToString());
      });
    }
    for (const std::vector<ResourceId>& ids : AllAssignments()) {
      const Status s = TryBooking(start, AsRequest(ids));
      Expect(!s.ok(), [&] {
        return fmt::format("not offered {} books on {}", Show(out_zone_, start), Show(ids));
      });
      Expect(s.ok() || IsRefusal(s), [&] {
        return fmt::format("not offered {} on {} fails with {}", Show(out_zone_, start), Show(ids),
                           s.ToString());
      });
    }
    ++tally_.booked_not_offered;
  }

  void CheckByBooking() {
    std::vector<const Slot*> offered;
    for (const Slot& s : slots_) offered.push_back(&s);
    std::vector<Instant> others;
    for (Instant t : candidates_) {
      if (!slot_at_.count(t)) others.push_back(t);
    }
    std::shuffle(offered.begin(), offered.end(), std::mt19937_64(rng_.Int(0, 1 << 30)));
    std::shuffle(others.begin(), others.end(), std::mt19937_64(rng_.Int(0, 1 << 30)));
    // Not-offered starts next to offered ones are the interesting ones; take half from there.
    std::vector<Instant> tried;
    const std::size_t half = kBookedStartsPerKind / 2;
    for (Instant t : others) {
      if (tried.size() >= half) break;
      if (slot_at_.count(t - target_.slot_interval) || slot_at_.count(t + target_.slot_interval)) {
        tried.push_back(t);
      }
    }
    for (Instant t : others) {
      if (tried.size() >= static_cast<std::size_t>(kBookedStartsPerKind)) break;
      if (std::find(tried.begin(), tried.end(), t) == tried.end()) tried.push_back(t);
    }
    for (Instant t : tried) CheckNotOfferedByBooking(t);
    for (std::size_t i = 0;
         i < offered.size() && i < static_cast<std::size_t>(kBookedStartsPerKind); ++i) {
      CheckOfferedByBooking(*offered[i]);
    }
  }

  // Book-then-cancel left the schedule as it was.
  void CheckRestored() {
    const std::vector<Slot> again = Ask();
    bool same = again.size() == slots_.size();
    for (std::size_t i = 0; same && i < again.size(); ++i) {
      same = again[i].start == slots_[i].start && again[i].free.size() == slots_[i].free.size();
      for (std::size_t k = 0; same && k < again[i].free.size(); ++k) {
        same = Sorted(again[i].free[k]) == Sorted(slots_[i].free[k]);
      }
    }
    Expect(same, [&] {
      return fmt::format("booking and cancelling changed availability: {} slots before, {} after",
                         slots_.size(), again.size());
    });
  }

  std::string Describe() const {
    std::string d = fmt::format(
        "world of {}:\n  now {} (state built at {})\n  actor {} | query {}..{} in {} | filter {}\n",
        Where(), Show(out_zone_, now_), Show(now0_), as_customer_ ? "CUSTOMER" : "TENANT_MANAGER",
        FormatLocalDate(from_), FormatLocalDate(to_), out_zone_name_, Show(filter_));
    d += fmt::format("  tenant zone {}\n", tenant_zone_);
    for (const Service& s : services_) {
      d += fmt::format(
          "  service {} '{}': duration {}m, buffers {}m/{}m, every {}m, notice {}m..{}m, "
          "requirements",
          s.id.value(), s.name, std::chrono::duration_cast<minutes>(s.duration).count(),
          std::chrono::duration_cast<minutes>(s.buffer_before).count(),
          std::chrono::duration_cast<minutes>(s.buffer_after).count(),
          std::chrono::duration_cast<minutes>(s.slot_interval).count(),
          std::chrono::duration_cast<minutes>(s.min_notice).count(),
          std::chrono::duration_cast<minutes>(s.max_advance).count());
      for (const ResourceRequirement& q : s.requirements) d += " " + Show(q.resources);
      d += "\n";
    }
    static constexpr std::array<std::string_view, 7> kDay = {"Mo", "Tu", "We", "Th",
                                                             "Fr", "Sa", "Su"};
    for (std::size_t i = 0; i < resource_specs_.size(); ++i) {
      const ResourceSpec& spec = resource_specs_[i];
      const ModelResource& m = model_.resources[i];
      d += fmt::format("  resource {} capacity {} zone {}\n   ", m.id.value(), spec.capacity,
                       m.zone->name());
      for (std::size_t k = 0; k < 7; ++k) {
        d += fmt::format(" {} {};", kDay[k], Show(spec.hours.weekly[k]));
      }
      d += "\n";
      for (const DateOverride& o : spec.hours.overrides) {
        d += fmt::format("    override {}: {}\n", FormatLocalDate(o.date), Show(o.hours));
      }
      for (const TimeOff& t : spec.hours.time_off) {
        d += fmt::format("    time off {} .. {}\n", Show(t.start), Show(t.end));
      }
    }
    for (const Appointment& a : appointments_) {
      d += fmt::format("  appointment {} service {} on {} {} .. {} buffers {}m/{}m {}{}\n",
                       a.id.value(), a.service.value(), Show(a.resources), Show(a.start),
                       Show(a.end), std::chrono::duration_cast<minutes>(a.buffer_before).count(),
                       std::chrono::duration_cast<minutes>(a.buffer_after).count(),
                       AppointmentStatusName(a.status), a.outside_hours ? " outside hours" : "");
    }
    for (const Hold& h : holds_) {
      d += fmt::format("  hold {} service {} on {} {} .. {} expires {}{}\n", h.id.value(),
                       h.service.value(), Show(h.resources), Show(h.start), Show(h.end),
                       Show(h.expires_at), h.released ? " released" : "");
    }
    d += fmt::format("  {} starts offered of {} candidates\n", slots_.size(), candidates_.size());
    return d;
  }

  World& w_;
  Scheduler& sched_;
  const int seed_;
  const int index_;
  Tally& tally_;
  const bool verbose_;
  Rng rng_;
  bool described_ = false;

  LocalDate from_;
  LocalDate to_;
  int days_ = 1;
  std::optional<DstDay> dst_;  // the DST change the dates are near, if any
  std::string out_zone_name_;
  const date::time_zone* out_zone_ = nullptr;
  Instant window_start_;
  Instant now_;
  Instant now0_;
  bool as_customer_ = false;

  std::string tenant_zone_;
  TenantId tenant_;
  Principal owner_;
  Principal manager_;
  Principal customer_;
  CustomerId pat_;      // linked to the CUSTOMER login
  CustomerId walk_in_;  // used by staff bookings
  std::vector<ResourceId> resource_ids_;
  std::vector<ResourceSpec> resource_specs_;
  std::vector<Service> services_;
  Service target_;
  std::vector<Instant> candidates_;
  std::vector<Appointment> appointments_;
  std::vector<Hold> holds_;

  Model model_;
  std::vector<ResourceId> filter_;
  std::vector<std::vector<ResourceId>> eligible_;  // per requirement, after the filter
  std::vector<Slot> slots_;
  std::map<Instant, const Slot*> slot_at_;
};

}  // namespace

TEST_CASE("a start is offered exactly when booking it would succeed, and free lists are exact") {
  const PropertyRun run;
  const bool full = smooth::testing::TestStorageKind() == "memory";
  const int seeds = full ? kSeeds : kSeedsElsewhere;
  const int cases = full ? kCasesPerSeed : kCasesPerSeedElsewhere;
  Tally tally;
  run.ForEachSeed(seeds, [&](int seed) {
    World w;
    auto scheduler = Must(Scheduler::Open(*w.platform));
    run.ForEachCase(cases, [&](int index, bool verbose) {
      Case(w, *scheduler, seed, index, tally, verbose).Run();
    });
  });
  MESSAGE(fmt::format(
      "{} cases ({} as a customer, {} filtered, {} with two requirements, {} near DST): "
      "model agreed on {} offered and {} not offered starts; booked {} offered starts, "
      "failed to book {} not offered starts, compared {} single-resource bookings with free lists",
      tally.cases, tally.customer_cases, tally.filtered_cases, tally.two_requirement_cases,
      tally.dst_cases, tally.model_offered, tally.model_not_offered, tally.booked_offered,
      tally.booked_not_offered, tally.resource_checks));
  MESSAGE(
      fmt::format("the worlds held {} occupying appointments ({} outside hours), {} live and "
                  "{} expired holds",
                  tally.occupying_appointments, tally.outside_hours_appointments, tally.live_holds,
                  tally.expired_holds));
  CHECK_MESSAGE(tally.failures == 0, tally.failures << " property violations (the first "
                                                    << kMaxReportedFailures << " are above)");
  // Every case ran to its end (a case that stopped early would have checked less).
  CHECK(tally.cases == run.Expected(seeds, cases));
  if (run.narrowed()) return;
  if (full) {
    // The property must have been exercised on both sides, often.
    CHECK(tally.booked_offered > 1000);
    CHECK(tally.booked_not_offered > 1000);
    CHECK(tally.model_offered > 10000);
    CHECK(tally.model_not_offered > 10000);
    CHECK(tally.customer_cases > 500);
    CHECK(tally.two_requirement_cases > 500);
    CHECK(tally.dst_cases > 1000);
    CHECK(tally.occupying_appointments > 10000);
    CHECK(tally.outside_hours_appointments > 1000);
    CHECK(tally.live_holds > 500);
    CHECK(tally.expired_holds > 500);
    CHECK(tally.resource_checks > 1000);
  } else {
    CHECK(tally.booked_offered > 0);
    CHECK(tally.booked_not_offered > 0);
    CHECK(tally.model_offered > 0);
    CHECK(tally.model_not_offered > 0);
    CHECK(tally.resource_checks > 0);
  }
}
