// Several Schedulers on one storage stand for several processes: a random sequence of writes,
// each through one of them, must leave every one answering as a Scheduler freshly opened on
// the same storage does (availability with its free lists, appointments, resources,
// services, customers), refuse what a fresh one refuses, and never exceed a capacity.
//
// Reproduce one case with SMOOTH_PTEST_SEED=<seed> SMOOTH_PTEST_CASE=<case>; it prints the
// operations it ran. SMOOTH_PTEST_OPS=<n> runs n operations a case.
#include <doctest/doctest.h>

#include <date/date.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "property_random.hpp"
#include "schedule_fixtures.hpp"

namespace smooth::testing {
namespace {

using namespace std::chrono_literals;
using std::chrono::minutes;
// The fixture's ways to describe appointments, slots and instants, with this file's own.
using ::smooth::testing::Describe;
using ::smooth::testing::Show;

// Memory storage runs more cases; on SQLite and PostgreSQL every write is a transaction.
constexpr int kSeeds = 3;
constexpr int kCasesPerSeed = 3;
constexpr int kOpsPerCase = 300;
constexpr int kSeedsElsewhere = 2;
constexpr int kCasesPerSeedElsewhere = 3;
constexpr int kOpsPerCaseElsewhere = 200;

// A Sunday on which `zone` changes its offset, and another zone the tenant also works in.
struct DstChange {
  LocalDate date;
  std::string_view zone;
  std::string_view other_zone;
};
constexpr std::array<DstChange, 4> kDstChanges = {
    DstChange{{2026, 3, 8}, "America/New_York", "Europe/London"},  // 02:00 -> 03:00
    DstChange{{2026, 3, 29}, "Europe/London", "America/New_York"},
    DstChange{{2026, 10, 25}, "Europe/London", "Europe/London"},  // 02:00 -> 01:00
    DstChange{{2026, 11, 1}, "America/New_York", "Europe/London"}};

LocalDate AddDays(LocalDate d, int n) {
  const date::sys_days days =
      date::sys_days{date::year{d.year} / date::month{static_cast<unsigned>(d.month)} /
                     date::day{static_cast<unsigned>(d.day)}} +
      date::days{n};
  const date::year_month_day ymd{days};
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day()))};
}
std::string Show(LocalDate d) { return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day); }
std::string Show(const std::vector<DailyInterval>& hours) {
  std::string out;
  for (const DailyInterval& iv : hours)
    out += fmt::format("{}{:02}:{:02}-{:02}:{:02}", out.empty() ? "" : ",", iv.start.count() / 60,
                       iv.start.count() % 60, iv.end.count() / 60, iv.end.count() % 60);
  return out.empty() ? "closed" : out;
}
std::string Show(const std::vector<ResourceId>& ids) {
  std::string out;
  for (ResourceId id : ids) out += fmt::format("{}{}", out.empty() ? "" : ",", id.value());
  return "{" + out + "}";
}
std::string Describe(const Resource& r) {
  std::string out = fmt::format("R{} '{}' cap={} tz={} active={} updated={} weekly=", r.id.value(),
                                r.name, r.capacity, r.time_zone, r.is_active, Show(r.updated_at));
  for (const auto& day : r.hours.weekly) out += "[" + Show(day) + "]";
  for (const DateOverride& o : r.hours.overrides)
    out += fmt::format(" override {} {}", Show(o.date), Show(o.hours));
  for (const TimeOff& t : r.hours.time_off)
    out += fmt::format(" off {}..{}", Show(t.start), Show(t.end));
  return out;
}
std::string Describe(const Service& s) {
  std::string out =
      fmt::format("S{} '{}' {}min buf={}/{} every {} active={} updated={} req=", s.id.value(),
                  s.name, s.duration / 1min, s.buffer_before / 1min, s.buffer_after / 1min,
                  s.slot_interval / 1min, s.is_active, Show(s.updated_at));
  for (const ResourceRequirement& req : s.requirements) out += Show(req.resources);
  return out;
}
std::string Describe(const Customer& c) {
  return fmt::format("C{} '{}' {}", c.id.value(), c.name, CustomerStatusName(c.status));
}
std::string Describe(const Hold& h) {
  return fmt::format("H{} svc={} res={} {}..{} buf={}/{} expires {}", h.id.value(),
                     h.service.value(), Show(h.resources), Show(h.start), Show(h.end),
                     h.buffer_before / 1min, h.buffer_after / 1min, Show(h.expires_at));
}
template <typename T>
std::vector<std::string> DescribeAll(const std::vector<T>& items) {
  std::vector<std::string> out;
  for (const T& item : items) out.push_back(Describe(item));
  return out;
}
// The first line where two descriptions differ, for the failure message.
std::string FirstDifference(const std::vector<std::string>& here,
                            const std::vector<std::string>& fresh) {
  for (std::size_t i = 0; i < std::max(here.size(), fresh.size()); ++i) {
    const std::string a = i < here.size() ? here[i] : "(nothing)";
    const std::string b = i < fresh.size() ? fresh[i] : "(nothing)";
    if (a != b) return fmt::format("item {}: here {}\n  fresh {}", i, a, b);
  }
  return "(none)";
}

DailyInterval Iv(int from_h, int from_m, int to_h, int to_m) {
  return Hours(from_h, from_m, to_h, to_m);
}

// A long-lived Scheduler, standing for a process, the platform it stands on, and the
// events it delivered.
struct Process {
  std::string name;
  Platform* platform;
  SchedulerOptions options;
  std::unique_ptr<Scheduler> scheduler;
  std::shared_ptr<std::vector<ScheduleEvent>> events =
      std::make_shared<std::vector<ScheduleEvent>>();
  std::size_t events_checked = 0;
  std::int64_t last_seq = 0;
  std::vector<HoldId> expiries;  // hold_expired announced
};

// Who acts: the tenant's owner; the CUSTOMER user linked to the first customer, to whom
// notice rules apply; or a STAFF user, who sees the appointments of resources linked to it.
enum class Who { kOwner, kCustomer, kStaff };

// A hold as the answers of PlaceHold, ReleaseHold and ConfirmHold describe it.
struct KnownHold {
  Hold hold;
  bool released = false;  // released or confirmed
};

class Case : public PropertyCase {
 public:
  Case(World& w, Platform& other, int seed, int index, int ops, bool verbose)
      : PropertyCase(seed, index),
        w_(w),
        other_(other),
        ops_(ops),
        verbose_(verbose),
        rng_(static_cast<std::uint64_t>(seed) * 1000003u + static_cast<std::uint64_t>(index)) {}

  // Returns whether every check held.
  bool Run() {
    Setup();
    for (int i = 0; i < ops_ && !failed_; ++i) {
      op_ = i;
      Step();
      for (Process& p : processes_) CheckEvents(p);
      if (!failed_ && (rng_.Chance(0.35) || i + 1 == ops_)) CheckAgainstFresh(rng_.Chance(0.2));
    }
    if (!failed_ && rng_.Chance(0.3)) DeleteTenant();
    if (verbose_ || failed_) MESSAGE(Where() << " ran:\n" << Log());
    return !failed_;
  }

  int checks() const { return checks_; }
  int writes_ok() const { return writes_ok_; }
  int refusals() const { return refusals_; }
  int conflicts() const { return conflicts_; }
  int unloads() const { return unloads_; }

 private:
  // --- The world ---------------------------------------------------------------------

  void Setup() {
    dst_ = rng_.Pick(kDstChanges);
    zones_ = {std::string(dst_.zone), std::string(dst_.other_zone)};
    first_day_ = AddDays(dst_.date, -2);
    last_day_ = AddDays(dst_.date, 3);
    const Instant start = Must(ToInstant(zones_[0], {AddDays(dst_.date, -3), 8h}));
    w_.clock.Set(start + rng_.OddSeconds());
    list_from_ = start - 48h;
    list_to_ = Must(ToInstant(zones_[0], {AddDays(last_day_, 7), 0min}));

    const std::string slug = fmt::format("m{}_{}", seed_, index_);
    tenant_ = Must(w_.platform->CreateTenant(w_.root_p,
                                             {.slug = slug, .name = slug, .time_zone = zones_[0]}))
                  .id;
    auto user = [&](Role role, std::string_view who) {
      return Must(w_.platform->CreateUser(
          w_.root_p, {.email = fmt::format("{}@m{}-{}.test", who, seed_, index_),
                      .display_name = std::string(who),
                      .role = role,
                      .tenant = tenant_,
                      .password = World::kPassword}));
    };
    const User owner = user(Role::kTenantOwner, "owner");
    owner_ = Must(w_.platform->ActAs(owner.id));
    other_owner_ = Must(other_.ActAs(owner.id));
    const User customer = user(Role::kCustomer, "pat");
    customer_ = Must(w_.platform->ActAs(customer.id));
    other_customer_ = Must(other_.ActAs(customer.id));
    staff_user_ = user(Role::kTenantStaff, "sam").id;
    staff_ = Must(w_.platform->ActAs(staff_user_));
    other_staff_ = Must(other_.ActAs(staff_user_));

    const int processes = rng_.Int(2, 3);
    for (int i = 0; i < processes; ++i) {
      // The first two share the fixture's platform; a third has a platform of its own.
      Platform& platform = i < 2 ? *w_.platform : other_;
      SchedulerOptions options;
      options.unload_after = minutes{rng_.Int(5, 40)};
      options.hold_retention = minutes{rng_.Int(10, 120)};
      Process p{.name = fmt::format("P{}", i),
                .platform = &platform,
                .options = options,
                .scheduler = Must(Scheduler::Open(platform, options))};
      p.scheduler->Subscribe([events = p.events](const ScheduleEvent& e) { events->push_back(e); });
      processes_.push_back(std::move(p));
    }
    Scheduler& s = *processes_[0].scheduler;
    const int resources = rng_.Int(2, 4);
    for (int i = 0; i < resources; ++i) {
      ResourceSpec spec{.name = fmt::format("R{}", i + 1),
                        .capacity = rng_.Int(1, 2),
                        .time_zone = rng_.Chance(0.3) ? zones_[1] : "",
                        .hours = RandomHours()};
      resource_ids_.push_back(Must(s.CreateResource(owner_, tenant_, spec)).id);
    }
    const int services = rng_.Int(2, 3);
    for (int i = 0; i < services; ++i) {
      ServiceSpec spec = RandomService();
      spec.name = fmt::format("S{}", i + 1);
      service_ids_.push_back(Must(s.CreateService(owner_, tenant_, spec)).id);
    }
    customer_ids_.push_back(
        Must(s.CreateCustomer(owner_, tenant_, {.name = "Pat", .user = customer.id})).id);
    for (std::string_view name : {"Kim", "Lee"}) {
      customer_ids_.push_back(
          Must(s.CreateCustomer(owner_, tenant_, {.name = std::string(name)})).id);
    }
    Note(fmt::format("tenant {} in {}, also {}; days {}..{}; now {}; {} processes", slug, zones_[0],
                     zones_[1], Show(first_day_), Show(last_day_), Show(Now()), processes));
    for (const Resource& r : Must(s.ListResources(owner_, tenant_))) Note(Describe(r));
    for (const Service& sv : Must(s.ListServices(owner_, tenant_))) Note(Describe(sv));
  }

  Instant Now() const { return w_.clock.Now(); }
  const Principal& ActorFor(const Platform& p, Who who) const {
    const bool fixture = &p == w_.platform.get();
    if (who == Who::kCustomer) return fixture ? customer_ : other_customer_;
    if (who == Who::kStaff) return fixture ? staff_ : other_staff_;
    return fixture ? owner_ : other_owner_;
  }
  const Principal& OwnerFor(const Platform& p) const { return ActorFor(p, Who::kOwner); }
  Who SomeActor() { return rng_.Chance(0.25) ? Who::kCustomer : Who::kOwner; }

  std::vector<DailyInterval> RandomDay() {
    switch (rng_.Int(0, 5)) {
      case 0:
        return {Iv(9, 0, 17, 0)};
      case 1:
        return {Iv(8, 0, 12, 0), Iv(13, 0, 18, 0)};
      case 2:
        return {Iv(10, 0, 19, 30)};
      case 3:
        return {Iv(0, 0, 24, 0)};
      case 4:
        return {};
      default:
        return {Iv(7, 30, 11, 0), Iv(11, 0, 15, 0)};  // touching spans
    }
  }
  // Sunday's hours, the day of the change: across the small hours when clocks move.
  std::vector<DailyInterval> RandomSunday() {
    switch (rng_.Int(0, 3)) {
      case 0:
        return {Iv(0, 0, 4, 0), Iv(9, 0, 17, 0)};
      case 1:
        return {Iv(1, 0, 3, 0), Iv(8, 0, 12, 0)};
      case 2:
        return {Iv(0, 0, 24, 0)};
      default:
        return RandomDay();
    }
  }
  WorkingHours RandomHours() {
    WorkingHours wh;
    for (int d = 0; d < 6; ++d) wh.weekly[static_cast<std::size_t>(d)] = RandomDay();
    wh.weekly[6] = RandomSunday();
    if (rng_.Chance(0.3)) {
      wh.overrides.push_back(
          {.date = AddDays(first_day_, rng_.Int(0, 5)),
           .hours = rng_.Chance(0.5) ? std::vector<DailyInterval>{} : RandomDay()});
    }
    if (rng_.Chance(0.3)) {
      const Instant start = RandomInstant();
      wh.time_off.push_back(
          {.start = start, .end = start + minutes{rng_.Int(30, 600)}, .reason = "away"});
    }
    return wh;
  }
  ServiceSpec RandomService() {
    ServiceSpec spec;
    spec.duration = minutes{15 * rng_.Int(1, 6)};
    spec.buffer_before = minutes{5 * rng_.Int(0, 3)};
    spec.buffer_after = minutes{5 * rng_.Int(0, 3)};
    spec.slot_interval = rng_.Chance(0.5) ? 15min : 30min;
    spec.min_notice = rng_.Chance(0.5) ? 0min : rng_.Chance(0.5) ? 30min : 180min;
    if (rng_.Chance(0.3)) spec.max_advance = 72h;
    spec.requirements = {{rng_.Subset(resource_ids_)}};
    if (rng_.Chance(0.35)) spec.requirements.push_back({rng_.Subset(resource_ids_)});
    return spec;
  }
  // A start on the quarter hour of a day of the horizon, in one of the tenant's zones.
  Instant RandomInstant() {
    const LocalDate day = AddDays(first_day_, rng_.Int(0, 5));
    return Must(ToInstant(rng_.Pick(zones_), {day, minutes{15 * rng_.Int(0, 95)}}));
  }

  // --- Operations ----------------------------------------------------------------------

  void Step() {
    Process& p =
        processes_[static_cast<std::size_t>(rng_.Int(0, static_cast<int>(processes_.size()) - 1))];
    const int roll = rng_.Int(0, 99);
    if (roll < 3) return Race();
    if (roll < 6) return Burst();
    if (roll < 20) return BookOffered(p);
    if (roll < 30) return Book(p);
    if (roll < 38) return Reschedule(p);
    if (roll < 44) return Cancel(p);
    if (roll < 50) return SetStatus(p);
    if (roll < 58) return PlaceHold(p);
    if (roll < 62) return ReleaseHold(p);
    if (roll < 67) return ConfirmHold(p);
    if (roll < 71) return BookSeries(p);
    if (roll < 74) return CancelSeriesFrom(p);
    if (roll < 79) return UpdateResource(p);
    if (roll < 83) return UpdateService(p);
    if (roll < 85) return UpdateCustomer(p);
    if (roll < 87) return CreateSomething(p);
    if (roll < 93) return Advance();
    if (roll < 97) return Maintain(p);
    return Idle();
  }

  // A Scheduler opened now, on either platform, with the options of `like` if given.
  std::unique_ptr<Scheduler> Fresh(const Platform** on, const Process* like = nullptr) {
    Platform& platform = rng_.Chance(0.5) ? *w_.platform : other_;
    *on = &platform;
    return Must(Scheduler::Open(platform, like ? like->options : SchedulerOptions{}));
  }

  // `here` is what process `p` answered. If it refused, a Scheduler opened fresh on the same
  // storage must refuse the same request (`again` repeats it there) with the same code;
  // accepting it there is a divergence too (and the fresh one's write stands).
  template <typename T, typename Again>
  void SameRefusal(const Process& p, const std::string& what, const Result<T>& here, Again&& again,
                   Who who = Who::kOwner) {
    Note(fmt::format("{} {}: {} {}", p.name, what, CodeOf(here), here ? "" : MessageOf(here)));
    if (here) {
      ++writes_ok_;
      return;
    }
    ++refusals_;
    if (here.error().code() == StatusCode::kConflict) ++conflicts_;
    const Platform* on = nullptr;
    auto fresh = Fresh(&on, &p);
    const auto there = again(*fresh, ActorFor(*on, who));
    if (CodeOf(there) != CodeOf(here) || MessageOf(there) != MessageOf(here)) {
      Fail(fmt::format("{} refused {} as {} ({}), a fresh Scheduler answers {} ({})", p.name, what,
                       CodeOf(here), MessageOf(here), CodeOf(there), MessageOf(there)));
    }
  }

  // After a booking `a` made through `p`: a fresh Scheduler agrees it may stand where it
  // is (moving it onto its own start checks hours and capacity without counting itself).
  void FreshAgrees(const Process& p, const Appointment& a, const std::string& what) {
    if (!rng_.Chance(0.3) || a.outside_hours || a.start < Now()) return;
    const Platform* on = nullptr;
    auto fresh = Fresh(&on, &p);
    auto moved = fresh->Reschedule(OwnerFor(*on), tenant_, a.id, a.start);
    Note(fmt::format("  fresh re-checks #{} where it stands: {}", a.id.value(), CodeOf(moved)));
    if (!moved)
      Fail(
          fmt::format("{} accepted {} (#{} {}), which a fresh Scheduler refuses where it "
                      "stands: {} ({})",
                      p.name, what, a.id.value(), Describe(a), CodeOf(moved), MessageOf(moved)));
  }

  // Keeps what the last answer about `a` said, to aim later operations at it.
  void Remember(const Appointment& a) { known_.insert_or_assign(a.id, a); }

  // Mostly an appointment that still occupies, as far as the answers tell.
  std::optional<AppointmentId> SomeAppointment() {
    if (known_.empty()) return std::nullopt;
    std::vector<AppointmentId> all, live;
    for (const auto& [id, a] : known_) {
      all.push_back(id);
      if (a.Occupies()) live.push_back(id);
    }
    return !live.empty() && rng_.Chance(0.75) ? rng_.Pick(live) : rng_.Pick(all);
  }

  // A start: anywhere in the horizon, or near a booking, where capacity is contended.
  Instant SomeStart() {
    auto id = SomeAppointment();
    if (!id || rng_.Chance(0.5)) return RandomInstant();
    return known_.at(*id).start + minutes{15 * rng_.Int(-4, 4)};
  }

  // A request by `who`: a customer books for its own record, and rarely asks for what only
  // managers may.
  BookingRequest RandomRequest(Instant start, Who who = Who::kOwner) {
    BookingRequest r{.service = rng_.Pick(service_ids_),
                     .customer = who == Who::kCustomer && rng_.Chance(0.9)
                                     ? customer_ids_[0]
                                     : rng_.Pick(customer_ids_),
                     .start = start};
    if (rng_.Chance(0.2)) r.status = AppointmentStatus::kPending;
    if (rng_.Chance(who == Who::kCustomer ? 0.02 : 0.1)) r.outside_hours = true;
    if (rng_.Chance(0.1)) r.idempotency_key = fmt::format("key-{}", rng_.Int(1, 6));
    if (rng_.Chance(0.2)) {
      // Name a resource for each requirement, as the service was when setup made it or
      // as it is now: a random member may well be refused.
      r.resources.push_back(rng_.Pick(resource_ids_));
      if (rng_.Chance(0.4)) r.resources.push_back(rng_.Pick(resource_ids_));
    }
    return r;
  }
  std::string ShowRequest(const BookingRequest& r) const {
    std::string res;
    for (const auto& id : r.resources)
      res += id ? fmt::format("{},", id->value()) : std::string("?,");
    return fmt::format("svc={} cust={} start={} res=[{}]{}{}{}", r.service.value(),
                       r.customer.value(), Show(r.start), res,
                       r.status == AppointmentStatus::kPending ? " pending" : "",
                       r.outside_hours ? " outside_hours" : "",
                       r.idempotency_key ? " key=" + *r.idempotency_key : "");
  }

  // An offered start, with a distinct free resource per requirement, must be bookable
  // through the Scheduler that offered it.
  void BookOffered(Process& p) {
    const Who who = SomeActor();
    const ServiceId service = rng_.Pick(service_ids_);
    const std::string zone = rng_.Pick(zones_);
    const LocalDate from = AddDays(first_day_, rng_.Int(0, 5));
    auto slots = p.scheduler->Availability(
        ActorFor(*p.platform, who), tenant_,
        {.service = service, .from = from, .to = AddDays(from, rng_.Int(0, 1)), .time_zone = zone});
    if (!slots) return Fail(fmt::format("{} Availability failed: {}", p.name, MessageOf(slots)));
    if (slots->empty())
      return Note(
          fmt::format("{} offers nothing for svc={} from {}", p.name, service.value(), Show(from)));
    const Slot& slot = rng_.Pick(*slots);
    BookingRequest r{.service = service,
                     .customer = who == Who::kCustomer ? customer_ids_[0] : ActiveCustomer(),
                     .start = slot.start};
    if (rng_.Chance(0.5)) r.resources = DistinctPick(slot);
    auto booked = p.scheduler->Book(ActorFor(*p.platform, who), tenant_, r);
    Note(fmt::format("{} books offered{} {} ({}): {} {}", p.name,
                     who == Who::kCustomer ? " as the customer" : "", ShowRequest(r),
                     Describe(slot), CodeOf(booked),
                     booked ? Describe(*booked) : MessageOf(booked)));
    if (!booked)
      return Fail(fmt::format("{} offered {} for svc={} but refused to book it: {} ({})", p.name,
                              Describe(slot), service.value(), CodeOf(booked), MessageOf(booked)));
    ++writes_ok_;
    Remember(*booked);
    FreshAgrees(p, *booked, "an offered booking");
  }

  // A free resource of `slot` for each requirement, none twice, picked at random; empty
  // when this way of picking finds none. Each can host the booking at that start, so
  // together they can.
  std::vector<std::optional<ResourceId>> DistinctPick(const Slot& slot) {
    std::vector<std::optional<ResourceId>> picked;
    for (const auto& free : slot.free) {
      std::vector<ResourceId> left;
      for (ResourceId id : free)
        if (std::find(picked.begin(), picked.end(), id) == picked.end()) left.push_back(id);
      if (left.empty()) return {};
      picked.push_back(rng_.Pick(left));
    }
    return picked;
  }

  CustomerId ActiveCustomer() {
    std::vector<CustomerId> active;
    for (CustomerId id : customer_ids_)
      if (!blocked_.count(id)) active.push_back(id);
    // Setup's first customer is never blocked (UpdateCustomer leaves it be).
    return active.empty() ? customer_ids_[0] : rng_.Pick(active);
  }

  void Book(Process& p) {
    const Who who = SomeActor();
    const BookingRequest r = RandomRequest(SomeStart(), who);
    auto booked = p.scheduler->Book(ActorFor(*p.platform, who), tenant_, r);
    SameRefusal(
        p,
        fmt::format("Book{} {}", who == Who::kCustomer ? " as the customer" : "", ShowRequest(r)),
        booked, [&](Scheduler& s, const Principal& a) { return s.Book(a, tenant_, r); }, who);
    if (booked) {
      Remember(*booked);
      FreshAgrees(p, *booked, "Book " + ShowRequest(r));
    }
  }

  void Reschedule(Process& p) {
    auto id = SomeAppointment();
    if (!id) return;
    const Instant to = SomeStart();
    std::optional<std::int64_t> version;
    if (rng_.Chance(0.4)) {
      auto a = p.scheduler->GetAppointment(OwnerFor(*p.platform), tenant_, *id);
      if (a) version = a->version - (rng_.Chance(0.2) ? 1 : 0);
    }
    auto moved = p.scheduler->Reschedule(OwnerFor(*p.platform), tenant_, *id, to, version);
    SameRefusal(p,
                fmt::format("Reschedule #{} to {} v{}", id->value(), Show(to),
                            version ? std::to_string(*version) : "-"),
                moved, [&](Scheduler& s, const Principal& a) {
                  return s.Reschedule(a, tenant_, *id, to, version);
                });
    if (!moved) return;
    Remember(*moved);
    FreshAgrees(p, *moved, "a move");
  }

  void Cancel(Process& p) {
    auto id = SomeAppointment();
    if (!id) return;
    auto done = p.scheduler->Cancel(OwnerFor(*p.platform), tenant_, *id);
    SameRefusal(p, fmt::format("Cancel #{}", id->value()), done,
                [&](Scheduler& s, const Principal& a) { return s.Cancel(a, tenant_, *id); });
    if (done) Remember(*done);
  }

  void SetStatus(Process& p) {
    auto id = SomeAppointment();
    if (!id) return;
    constexpr std::array<AppointmentStatus, 4> kStatuses = {
        AppointmentStatus::kPending, AppointmentStatus::kConfirmed, AppointmentStatus::kCompleted,
        AppointmentStatus::kNoShow};
    const AppointmentStatus status = rng_.Pick(kStatuses);
    auto done = p.scheduler->SetStatus(OwnerFor(*p.platform), tenant_, *id, status);
    SameRefusal(
        p, fmt::format("SetStatus #{} {}", id->value(), AppointmentStatusName(status)), done,
        [&](Scheduler& s, const Principal& a) { return s.SetStatus(a, tenant_, *id, status); });
    if (done) Remember(*done);
  }

  void PlaceHold(Process& p) {
    const Who who = SomeActor();
    BookingRequest r = RandomRequest(SomeStart(), who);
    r.idempotency_key.reset();  // PlaceHold takes none
    r.status = AppointmentStatus::kConfirmed;
    const Duration ttl = minutes{rng_.Int(1, 20)};
    auto held = p.scheduler->PlaceHold(ActorFor(*p.platform, who), tenant_, r, ttl);
    SameRefusal(
        p,
        fmt::format("PlaceHold{} {} ttl {}min", who == Who::kCustomer ? " as the customer" : "",
                    ShowRequest(r), ttl / 1min),
        held, [&](Scheduler& s, const Principal& a) { return s.PlaceHold(a, tenant_, r, ttl); },
        who);
    if (held) {
      Note("  " + Describe(*held));
      holds_.push_back({*held});
    }
  }

  KnownHold* SomeHold() {
    if (holds_.empty()) return nullptr;
    return &holds_[static_cast<std::size_t>(rng_.Int(0, static_cast<int>(holds_.size()) - 1))];
  }

  void ReleaseHold(Process& p) {
    KnownHold* h = SomeHold();
    if (h == nullptr) return;
    const HoldId id = h->hold.id;
    Status done = p.scheduler->ReleaseHold(OwnerFor(*p.platform), tenant_, id);
    Result<int> as_result = done.ok() ? Result<int>(0) : Result<int>(done);
    SameRefusal(p, fmt::format("ReleaseHold H{}", id.value()), as_result,
                [&](Scheduler& s, const Principal& a) {
                  Status again = s.ReleaseHold(a, tenant_, id);
                  if (again.ok()) h->released = true;
                  return again.ok() ? Result<int>(0) : Result<int>(again);
                });
    if (done.ok()) h->released = true;
  }

  void ConfirmHold(Process& p) {
    KnownHold* h = SomeHold();
    if (h == nullptr) return;
    const HoldId id = h->hold.id;
    auto confirmed = p.scheduler->ConfirmHold(OwnerFor(*p.platform), tenant_, id);
    SameRefusal(p, fmt::format("ConfirmHold H{}", id.value()), confirmed,
                [&](Scheduler& s, const Principal& a) {
                  auto again = s.ConfirmHold(a, tenant_, id);
                  if (again) h->released = true;
                  return again;
                });
    if (confirmed) {
      h->released = true;
      Remember(*confirmed);
    }
  }

  void BookSeries(Process& p) {
    SeriesRequest r;
    r.first = RandomRequest(SomeStart());
    r.first.idempotency_key.reset();  // a series takes none
    r.rrule = rng_.Chance(0.7) ? fmt::format("FREQ=DAILY;COUNT={}", rng_.Int(2, 4))
                               : "FREQ=WEEKLY;COUNT=2";
    if (rng_.Chance(0.3)) r.time_zone = rng_.Pick(zones_);
    auto booked = p.scheduler->BookSeries(OwnerFor(*p.platform), tenant_, r);
    SameRefusal(
        p, fmt::format("BookSeries {} {} tz={}", ShowRequest(r.first), r.rrule, r.time_zone),
        booked, [&](Scheduler& s, const Principal& a) { return s.BookSeries(a, tenant_, r); });
    if (!booked) return;
    for (const Appointment& a : booked->appointments) {
      Remember(a);
      series_members_.push_back(a.id);
    }
    for (const Appointment& a : booked->appointments) FreshAgrees(p, a, "a series occurrence");
  }

  void CancelSeriesFrom(Process& p) {
    if (series_members_.empty()) return;
    const AppointmentId id = rng_.Pick(series_members_);
    auto done = p.scheduler->CancelSeriesFrom(OwnerFor(*p.platform), tenant_, id);
    SameRefusal(
        p, fmt::format("CancelSeriesFrom #{}", id.value()), done,
        [&](Scheduler& s, const Principal& a) { return s.CancelSeriesFrom(a, tenant_, id); });
  }

  void UpdateResource(Process& p) {
    auto row = p.scheduler->GetResource(OwnerFor(*p.platform), tenant_, rng_.Pick(resource_ids_));
    if (!row) return Fail(fmt::format("{} GetResource: {}", p.name, MessageOf(row)));
    Resource r = *row;
    std::string what;
    switch (rng_.Int(0, 6)) {
      case 0:
      case 1:
        r.capacity = r.capacity == 1 ? 2 : rng_.Int(1, 3);
        what = fmt::format("capacity {}", r.capacity);
        break;
      case 2: {
        const auto day = static_cast<std::size_t>(rng_.Int(0, 6));
        r.hours.weekly[day] = day == 6 ? RandomSunday() : RandomDay();
        what = fmt::format("weekday {} {}", day, Show(r.hours.weekly[day]));
        break;
      }
      case 3:
        r.hours = RandomHours();
        what = "all hours";
        break;
      case 4:
        r.time_zone = rng_.Pick(zones_);
        what = "zone " + r.time_zone;
        break;
      case 5:
        r.user = r.user ? std::nullopt : std::optional<UserId>(staff_user_);
        what = r.user ? "linked to the staff user" : "linked to nobody";
        break;
      default:
        r.is_active = !r.is_active || rng_.Chance(0.5);
        what = fmt::format("active={}", r.is_active);
    }
    auto done = p.scheduler->UpdateResource(OwnerFor(*p.platform), tenant_, r);
    SameRefusal(p, fmt::format("UpdateResource R{} {}", r.id.value(), what), done,
                [&](Scheduler& s, const Principal& a) { return s.UpdateResource(a, tenant_, r); });
    if (done) Note("  " + Describe(*done));
  }

  void UpdateService(Process& p) {
    auto row = p.scheduler->GetService(OwnerFor(*p.platform), tenant_, rng_.Pick(service_ids_));
    if (!row) return Fail(fmt::format("{} GetService: {}", p.name, MessageOf(row)));
    Service s = *row;
    const ServiceSpec spec = RandomService();
    switch (rng_.Int(0, 3)) {
      case 0:
        s.duration = spec.duration;
        s.buffer_before = spec.buffer_before;
        s.buffer_after = spec.buffer_after;
        break;
      case 1:
        s.requirements = spec.requirements;
        break;
      case 2:
        s.slot_interval = spec.slot_interval;
        break;
      default:
        s.is_active = !s.is_active || rng_.Chance(0.5);
    }
    auto done = p.scheduler->UpdateService(OwnerFor(*p.platform), tenant_, s);
    SameRefusal(p, "UpdateService " + Describe(s), done, [&](Scheduler& sch, const Principal& a) {
      return sch.UpdateService(a, tenant_, s);
    });
  }

  void UpdateCustomer(Process& p) {
    const CustomerId id = customer_ids_[static_cast<std::size_t>(rng_.Int(1, 2))];
    auto row = p.scheduler->GetCustomer(OwnerFor(*p.platform), tenant_, id);
    if (!row) return Fail(fmt::format("{} GetCustomer: {}", p.name, MessageOf(row)));
    Customer c = *row;
    c.status =
        c.status == CustomerStatus::kBlocked ? CustomerStatus::kActive : CustomerStatus::kBlocked;
    auto done = p.scheduler->UpdateCustomer(OwnerFor(*p.platform), tenant_, c);
    SameRefusal(p, "UpdateCustomer " + Describe(c), done,
                [&](Scheduler& s, const Principal& a) { return s.UpdateCustomer(a, tenant_, c); });
    if (done) {
      if (done->status == CustomerStatus::kBlocked)
        blocked_.insert({id, true});
      else
        blocked_.erase(id);
    }
  }

  void CreateSomething(Process& p) {
    if (resource_ids_.size() < 4 && rng_.Chance(0.5)) {
      ResourceSpec spec{.name = fmt::format("R{}", resource_ids_.size() + 1),
                        .capacity = rng_.Int(1, 2),
                        .time_zone = rng_.Pick(zones_),
                        .hours = RandomHours()};
      auto made = p.scheduler->CreateResource(OwnerFor(*p.platform), tenant_, spec);
      if (!made) return Fail(fmt::format("{} CreateResource: {}", p.name, MessageOf(made)));
      Note(p.name + " CreateResource " + Describe(*made));
      resource_ids_.push_back(made->id);
    } else if (service_ids_.size() < 4) {
      ServiceSpec spec = RandomService();
      spec.name = fmt::format("S{}", service_ids_.size() + 1);
      auto made = p.scheduler->CreateService(OwnerFor(*p.platform), tenant_, spec);
      if (!made) return Fail(fmt::format("{} CreateService: {}", p.name, MessageOf(made)));
      Note(p.name + " CreateService " + Describe(*made));
      service_ids_.push_back(made->id);
    }
  }

  void Advance() {
    const Duration by = rng_.Chance(0.2) ? minutes{rng_.Int(30, 90)} : minutes{rng_.Int(1, 12)};
    w_.clock.Advance(by);
    Note(fmt::format("clock +{}min: {}", by / 1min, Show(Now())));
  }

  // Every process books the same offered start on the same resources at once, each on a
  // thread of its own: at least one gets it, exactly one if one of the resources has
  // capacity 1, and the others are told `conflict` (the capacity check follows).
  void Race() {
    const Platform* on = nullptr;
    auto fresh = Fresh(&on);
    const ServiceId service = rng_.Pick(service_ids_);
    const LocalDate day = AddDays(first_day_, rng_.Int(0, 5));
    auto slots = fresh->Availability(
        OwnerFor(*on), tenant_,
        {.service = service, .from = day, .to = day, .time_zone = rng_.Pick(zones_)});
    if (!slots || slots->empty()) return;
    const Slot slot = rng_.Pick(*slots);
    const auto contended = DistinctPick(slot);
    if (contended.empty()) return;
    int capacity = 0;
    std::string names;
    for (const Resource& r : Must(fresh->ListResources(OwnerFor(*on), tenant_))) {
      if (std::find(contended.begin(), contended.end(), r.id) == contended.end()) continue;
      capacity = capacity == 0 ? r.capacity : std::min(capacity, r.capacity);
      names += fmt::format("R{} ", r.id.value());
    }
    std::vector<BookingRequest> requests;
    for (std::size_t i = 0; i < processes_.size(); ++i) {
      requests.push_back({.service = service,
                          .customer = ActiveCustomer(),
                          .start = slot.start,
                          .resources = contended});
    }
    std::vector<std::optional<Result<Appointment>>> results(processes_.size());
    {
      std::vector<std::jthread> threads;
      for (std::size_t i = 0; i < processes_.size(); ++i) {
        threads.emplace_back([&, i] {
          Process& p = processes_[i];
          results[i] = p.scheduler->Book(OwnerFor(*p.platform), tenant_, requests[i]);
        });
      }
    }
    int booked = 0;
    std::string answers;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Result<Appointment>& r = *results[i];
      answers += fmt::format(" {}:{}", processes_[i].name, CodeOf(r));
      if (r) {
        ++booked;
        ++writes_ok_;
        Remember(*r);
      } else if (r.error().code() != StatusCode::kConflict) {
        Fail(fmt::format("{} racing for {} on {}was refused with {} ({})", processes_[i].name,
                         Show(slot.start), names, CodeOf(r), MessageOf(r)));
      }
    }
    Note(fmt::format("race for {} svc={} on {}(least capacity {}):{}", Show(slot.start),
                     service.value(), names, capacity, answers));
    if (booked == 0 || (capacity == 1 && booked != 1))
      Fail(fmt::format("{} of {} racing bookings of offered {} on {}(least capacity {}) succeeded",
                       booked, results.size(), Describe(slot), names, capacity));
  }

  // What one write of a burst answered, for the bookkeeping done once all have.
  struct Outcome {
    std::string code = "ok";
    std::string message;
    std::optional<Appointment> appointment;
    std::optional<Hold> placed;
    std::optional<HoldId> released;  // released or confirmed
  };
  template <typename T>
  static Outcome OutcomeOf(const Result<T>& r) {
    return {.code = CodeOf(r), .message = r ? "" : MessageOf(r)};
  }

  // Every process makes one random write at the same time, on a thread of its own. Who
  // wins is up to the threads, so no refusal is re-asked; but every answer must be one a
  // write can give without failing (no `aborted`, `unavailable` or `internal`), and the
  // comparison with a fresh Scheduler and the capacity check follow at once.
  void Burst() {
    std::vector<std::string> what(processes_.size());
    std::vector<std::function<Outcome(Scheduler&, const Principal&)>> writes;
    for (std::size_t i = 0; i < processes_.size(); ++i) {
      auto id = SomeAppointment();
      KnownHold* h = SomeHold();
      switch (rng_.Int(0, 5)) {
        case 0:
        case 1: {
          BookingRequest r = RandomRequest(SomeStart());
          r.idempotency_key.reset();
          what[i] = "Book " + ShowRequest(r);
          writes.push_back([this, r](Scheduler& s, const Principal& a) {
            auto b = s.Book(a, tenant_, r);
            Outcome o = OutcomeOf(b);
            if (b) o.appointment = *b;
            return o;
          });
          break;
        }
        case 2: {
          BookingRequest r = RandomRequest(SomeStart());
          r.idempotency_key.reset();
          r.status = AppointmentStatus::kConfirmed;
          what[i] = "PlaceHold " + ShowRequest(r);
          writes.push_back([this, r](Scheduler& s, const Principal& a) {
            auto held = s.PlaceHold(a, tenant_, r, 10min);
            Outcome o = OutcomeOf(held);
            if (held) o.placed = *held;
            return o;
          });
          break;
        }
        case 3:
          if (id) {
            const Instant to = SomeStart();
            what[i] = fmt::format("Reschedule #{} to {}", id->value(), Show(to));
            writes.push_back([this, id = *id, to](Scheduler& s, const Principal& a) {
              auto moved = s.Reschedule(a, tenant_, id, to);
              Outcome o = OutcomeOf(moved);
              if (moved) o.appointment = *moved;
              return o;
            });
            break;
          }
          [[fallthrough]];
        case 4:
          if (id) {
            what[i] = fmt::format("Cancel #{}", id->value());
            writes.push_back([this, id = *id](Scheduler& s, const Principal& a) {
              auto done = s.Cancel(a, tenant_, id);
              Outcome o = OutcomeOf(done);
              if (done) o.appointment = *done;
              return o;
            });
            break;
          }
          [[fallthrough]];
        default:
          if (h != nullptr) {
            const HoldId hold = h->hold.id;
            what[i] = fmt::format("ConfirmHold H{}", hold.value());
            writes.push_back([this, hold](Scheduler& s, const Principal& a) {
              auto done = s.ConfirmHold(a, tenant_, hold);
              Outcome o = OutcomeOf(done);
              if (done) {
                o.appointment = *done;
                o.released = hold;
              }
              return o;
            });
          } else {
            // The capacity of a resource, lowered or raised, as the process last read it.
            const ResourceId r = rng_.Pick(resource_ids_);
            const int capacity = rng_.Int(1, 2);
            what[i] = fmt::format("UpdateResource R{} capacity {}", r.value(), capacity);
            writes.push_back([this, r, capacity](Scheduler& s, const Principal& a) {
              auto row = s.GetResource(a, tenant_, r);
              if (!row) return OutcomeOf(row);
              row->capacity = capacity;
              return OutcomeOf(s.UpdateResource(a, tenant_, *row));
            });
          }
      }
    }
    std::vector<Outcome> outcomes(processes_.size());
    {
      std::vector<std::jthread> threads;
      for (std::size_t i = 0; i < processes_.size(); ++i) {
        threads.emplace_back([&, i] {
          Process& p = processes_[i];
          outcomes[i] = writes[i](*p.scheduler, OwnerFor(*p.platform));
        });
      }
    }
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      const Outcome& o = outcomes[i];
      Note(fmt::format("{} in a burst: {}: {} {}", processes_[i].name, what[i], o.code, o.message));
      if (o.code == "ok") ++writes_ok_;
      if (o.appointment) Remember(*o.appointment);
      if (o.placed) holds_.push_back({*o.placed});
      for (KnownHold& h : holds_)
        if (o.released && h.hold.id == *o.released) h.released = true;
      if (o.code == "aborted" || o.code == "unavailable" || o.code == "internal")
        Fail(fmt::format("{} answered {} in a burst: {} ({})", processes_[i].name, what[i], o.code,
                         o.message));
    }
    if (!failed_) CheckAgainstFresh(true);
  }

  // The tenant is suspended, then deleted, each through either platform: no process may
  // book in it meanwhile (and each refuses as a fresh one does), nor answer from what it
  // still remembers of it once it is gone, and Maintain forgets it without failing.
  void DeleteTenant() {
    Must((rng_.Chance(0.5) ? *w_.platform : other_).SuspendTenant(w_.root_p, tenant_, "closing"));
    Note("tenant suspended");
    for (Process& p : processes_) {
      const BookingRequest r{.service = service_ids_[0],
                             .customer = customer_ids_[0],
                             .start = RandomInstant(),
                             .outside_hours = true};
      auto refused = p.scheduler->Book(OwnerFor(*p.platform), tenant_, r);
      if (refused) return Fail(fmt::format("{} books in a suspended tenant", p.name));
      SameRefusal(p, "Book in a suspended tenant " + ShowRequest(r), refused,
                  [&](Scheduler& s, const Principal& a) { return s.Book(a, tenant_, r); });
    }
    Platform& admin = rng_.Chance(0.5) ? *w_.platform : other_;
    Must(admin.DeleteTenant(w_.root_p, tenant_));
    Note("tenant deleted");
    const Platform* on = nullptr;
    auto fresh = Fresh(&on);
    const AvailabilityQuery q{
        .service = service_ids_[0], .from = first_day_, .to = last_day_, .time_zone = zones_[0]};
    const BookingRequest r{
        .service = service_ids_[0], .customer = customer_ids_[0], .start = RandomInstant()};
    auto expected = [&](Scheduler& s, const Principal& a) {
      return std::vector<std::string>{CodeOf(s.ListResources(a, tenant_)),
                                      CodeOf(s.Availability(a, tenant_, q)),
                                      CodeOf(s.ListAppointments(a, tenant_, list_from_, list_to_)),
                                      CodeOf(s.Book(a, tenant_, r))};
    };
    // As the SUPERUSER: the tenant's own users went with it, and a call by one of them is
    // `unauthenticated` wherever the tenant's row is still cached (TenantFor), `not_found`
    // where it is not; both refuse, and that is not what this looks at.
    const auto fresh_answers = expected(*fresh, w_.root_p);
    if (fresh_answers != std::vector<std::string>(4, "not_found"))
      return Fail(fmt::format("after DeleteTenant a fresh Scheduler answers {}",
                              FirstDifference(fresh_answers, {})));
    for (Process& p : processes_) {
      for (int round = 0; round < 2; ++round) {
        const auto here = expected(*p.scheduler, w_.root_p);
        if (here != fresh_answers)
          return Fail(fmt::format("{} answers for a deleted tenant{}: {}", p.name,
                                  round ? " after Maintain" : "",
                                  FirstDifference(here, fresh_answers)));
        Maintain(p);
      }
    }
  }

  // Nobody calls for longer than any process's unload_after; then each one's housekeeping
  // runs, which unloads the tenant (unless it still has a hold to announce).
  void Idle() {
    w_.clock.Advance(minutes{rng_.Int(41, 90)});
    Note(fmt::format("idle until {}", Show(Now())));
    for (Process& p : processes_) Maintain(p);
  }

  void Maintain(Process& p) {
    auto report = p.scheduler->Maintain();
    if (!report) return Fail(fmt::format("{} Maintain failed: {}", p.name, MessageOf(report)));
    unloads_ += static_cast<int>(report->tenants_unloaded);
    Note(fmt::format("{} Maintain: {} expired, {} unloaded, {} failed", p.name,
                     report->holds_expired, report->tenants_unloaded, report->tenants_failed));
    if (report->tenants_failed != 0)
      Fail(fmt::format("{} Maintain failed a tenant: {}", p.name, report->failure.message()));
  }

  // --- The oracle ----------------------------------------------------------------------

  void CheckAgainstFresh(bool every_service) {
    ++checks_;
    const Platform* on = nullptr;
    auto fresh = Fresh(&on);
    const Principal& actor = OwnerFor(*on);
    const auto appointments = Must(fresh->ListAppointments(actor, tenant_, list_from_, list_to_));
    const auto resources = Must(fresh->ListResources(actor, tenant_));
    CheckCapacity(appointments, resources);
    if (failed_) return;
    const auto expect_appointments = DescribeAll(appointments);
    const auto expect_resources = DescribeAll(resources);
    const auto expect_services = DescribeAll(Must(fresh->ListServices(actor, tenant_)));
    const auto expect_customers = DescribeAll(Must(fresh->ListCustomers(actor, tenant_)));
    // What the customer or the staff member may read depends on who is linked to what.
    const Who reader = rng_.Chance(0.5) ? Who::kCustomer : Who::kStaff;
    const std::string reader_name = reader == Who::kCustomer ? "the customer" : "the staff";
    const auto expect_readable =
        Readable(fresh->ListAppointments(ActorFor(*on, reader), tenant_, list_from_, list_to_));
    std::vector<ServiceId> services;
    if (every_service) {
      services = service_ids_;
    } else {
      services.push_back(rng_.Pick(service_ids_));
    }
    // The whole horizon and a day either side, or a part of it (answered from the wider
    // cached answers, where a process has them), maybe for some resources only, as the
    // owner or as the customer.
    const std::string zone = rng_.Pick(zones_);
    const Who who = SomeActor();
    AvailabilityQuery base{
        .from = AddDays(first_day_, -1), .to = AddDays(last_day_, 1), .time_zone = zone};
    if (rng_.Chance(0.5)) {
      base.from = AddDays(first_day_, rng_.Int(0, 5));
      base.to = AddDays(base.from, rng_.Int(0, 2));
    }
    if (rng_.Chance(0.25)) base.resources = rng_.Subset(resource_ids_);
    std::string asked =
        fmt::format("{}..{} in {}{} res={}", Show(base.from), Show(base.to), zone,
                    who == Who::kCustomer ? " as the customer" : "", Show(base.resources));
    std::map<ServiceId, std::vector<std::string>> expect_slots;
    for (ServiceId s : services) {
      AvailabilityQuery q = base;
      q.service = s;
      expect_slots[s] = DescribeAll(Must(fresh->Availability(ActorFor(*on, who), tenant_, q)));
    }
    for (Process& p : processes_) {
      const Principal& a = OwnerFor(*p.platform);
      Scheduler& s = *p.scheduler;
      auto compare = [&](std::string_view what, const std::vector<std::string>& here,
                         const std::vector<std::string>& expected) {
        if (here != expected)
          Fail(fmt::format("{} {} differ from a fresh Scheduler's: {}", p.name, what,
                           FirstDifference(here, expected)));
      };
      // Availability first: a catch-up triggered by another read must not hide a stale
      // answer here.
      for (ServiceId id : services) {
        AvailabilityQuery q = base;
        q.service = id;
        auto slots = s.Availability(ActorFor(*p.platform, who), tenant_, q);
        if (!slots) return Fail(fmt::format("{} Availability: {}", p.name, MessageOf(slots)));
        compare(fmt::format("slots of svc={} {}", id.value(), asked), DescribeAll(*slots),
                expect_slots[id]);
      }
      compare("appointments",
              DescribeAll(Must(s.ListAppointments(a, tenant_, list_from_, list_to_))),
              expect_appointments);
      compare(fmt::format("appointments seen by {}", reader_name),
              Readable(
                  s.ListAppointments(ActorFor(*p.platform, reader), tenant_, list_from_, list_to_)),
              expect_readable);
      compare("resources", DescribeAll(Must(s.ListResources(a, tenant_))), expect_resources);
      compare("services", DescribeAll(Must(s.ListServices(a, tenant_))), expect_services);
      compare("customers", DescribeAll(Must(s.ListCustomers(a, tenant_))), expect_customers);
      if (failed_) return;
    }
  }

  static std::vector<std::string> Readable(const Result<std::vector<Appointment>>& r) {
    if (!r) return {CodeOf(r) + ": " + MessageOf(r)};
    return DescribeAll(*r);
  }

  // The events a process delivered since the last look: numbered one by one, and a hold's
  // expiry announced at most once, only once its time is up, and never for a hold released
  // or confirmed (docs/scheduling.md, Events).
  void CheckEvents(Process& p) {
    auto& events = *p.events;
    for (; p.events_checked < events.size(); ++p.events_checked) {
      const ScheduleEvent& e = events[p.events_checked];
      if (e.tenant != tenant_) continue;
      if (e.seq != p.last_seq + 1)
        return Fail(fmt::format("{} delivered event seq {} ({}) after {}", p.name, e.seq,
                                EventTypeName(e.type), p.last_seq));
      p.last_seq = e.seq;
      if (e.type != EventType::kHoldExpired) continue;
      const HoldId id = e.hold->id;
      Note(fmt::format("  {} announces H{} expired", p.name, id.value()));
      if (std::find(p.expiries.begin(), p.expiries.end(), id) != p.expiries.end())
        return Fail(fmt::format("{} announced the expiry of H{} twice", p.name, id.value()));
      p.expiries.push_back(id);
      if (Now() < e.hold->expires_at)
        return Fail(fmt::format("{} announced H{} expired at {}, before {}", p.name, id.value(),
                                Show(Now()), Show(e.hold->expires_at)));
      for (const KnownHold& h : holds_)
        if (h.hold.id == id && h.released)
          return Fail(
              fmt::format("{} announced the expiry of H{}, which was released or "
                          "confirmed before it expired",
                          p.name, id.value()));
    }
  }

  // No instant above a resource's capacity among pending and confirmed appointments and
  // the holds still live, as the answers of PlaceHold, ReleaseHold and ConfirmHold tell.
  void CheckCapacity(const std::vector<Appointment>& appointments,
                     const std::vector<Resource>& resources) {
    struct Item {
      Instant from;
      Instant to;
      std::string what;
    };
    std::map<ResourceId, std::vector<Item>> items;
    for (const Appointment& a : appointments) {
      if (!a.Occupies()) continue;
      for (ResourceId r : a.resources)
        items[r].push_back({a.start - a.buffer_before, a.end + a.buffer_after, Describe(a)});
    }
    for (const KnownHold& h : holds_) {
      if (h.released || !h.hold.Occupies(Now())) continue;
      for (ResourceId r : h.hold.resources)
        items[r].push_back({h.hold.start - h.hold.buffer_before, h.hold.end + h.hold.buffer_after,
                            Describe(h.hold)});
    }
    for (const Resource& r : resources) {
      const auto& mine = items[r.id];
      for (const Item& i : mine) {
        // The peak is at the start of some item: count what covers each start.
        std::vector<std::string> over;
        for (const Item& j : mine)
          if (j.from <= i.from && i.from < j.to) over.push_back(j.what);
        if (static_cast<int>(over.size()) > r.capacity) {
          std::string list;
          for (const std::string& s : over) list += "\n  " + s;
          return Fail(fmt::format("R{} (capacity {}) carries {} at {}:{}", r.id.value(), r.capacity,
                                  over.size(), Show(i.from), list));
        }
      }
    }
  }

  World& w_;
  Platform& other_;
  const int ops_;
  const bool verbose_;
  Rng rng_;
  int checks_ = 0;
  int writes_ok_ = 0;
  int refusals_ = 0;
  int conflicts_ = 0;
  int unloads_ = 0;

  DstChange dst_;
  std::array<std::string, 2> zones_;
  LocalDate first_day_;
  LocalDate last_day_;
  Instant list_from_;
  Instant list_to_;
  TenantId tenant_;
  Principal owner_;        // on the fixture's platform
  Principal other_owner_;  // the same user, on the other platform
  Principal customer_;     // the CUSTOMER linked to customer_ids_[0], likewise
  Principal other_customer_;
  UserId staff_user_;
  Principal staff_;  // a STAFF user, linked to some resources by UpdateResource
  Principal other_staff_;
  std::vector<Process> processes_;
  std::vector<ResourceId> resource_ids_;
  std::vector<ServiceId> service_ids_;
  std::vector<CustomerId> customer_ids_;
  std::map<CustomerId, bool> blocked_;
  std::map<AppointmentId, Appointment> known_;  // as the last answer about each said
  std::vector<AppointmentId> series_members_;
  std::vector<KnownHold> holds_;
};

TEST_CASE("Schedulers sharing one storage answer as a fresh one does, after any writes") {
  const PropertyRun run;
  const bool full = TestStorageKind() == "memory";
  const int seeds = full ? kSeeds : kSeedsElsewhere;
  const int cases = full ? kCasesPerSeed : kCasesPerSeedElsewhere;
  const int ops = EnvInt("SMOOTH_PTEST_OPS").value_or(full ? kOpsPerCase : kOpsPerCaseElsewhere);
  int ran = 0, passed = 0, checks = 0, writes = 0, refusals = 0, conflicts = 0, unloads = 0;
  run.ForEachSeed(seeds, [&](int seed) {
    World w;
    auto other = w.OpenPlatform();
    run.ForEachCase(cases, [&](int index, bool verbose) {
      Case c(w, *other, seed, index, ops, verbose);
      ++ran;
      if (c.Run()) ++passed;
      checks += c.checks();
      writes += c.writes_ok();
      refusals += c.refusals();
      conflicts += c.conflicts();
      unloads += c.unloads();
    });
  });
  MESSAGE(
      fmt::format("{} cases of {} operations: {} writes accepted, {} refused and re-asked "
                  "({} conflicts), {} comparisons with a fresh Scheduler, {} unloads",
                  ran, ops, writes, refusals, conflicts, checks, unloads));
  CHECK(passed == ran);
  CHECK(ran == run.Expected(seeds, cases));
  if (run.narrowed()) return;
  // The sequences must have exercised both sides.
  CHECK(writes > ran * ops / 10);
  CHECK(refusals > ran * ops / 20);
  CHECK(checks > ran * ops / 5);
  CHECK(conflicts > ran * ops / 50);
  CHECK(unloads > 0);
}

}  // namespace
}  // namespace smooth::testing
