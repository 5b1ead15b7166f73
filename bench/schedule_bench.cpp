// Scheduler-level benchmarks through the public API on memory storage (availability, booking,
// index memory), with SmoothSchedule's original availability algorithm in the same binary.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "schedule/civil_time.hpp"
#include "schedule/occupancy_index.hpp"
#include "schedule/span.hpp"
#include "smooth/smooth.hpp"

#include "bench_world.hpp"

namespace {

using namespace smooth::bench;  // NOLINT: the shared world of the benchmarks

using smooth::CustomerId;
using smooth::Duration;
using smooth::Instant;
using smooth::LocalDate;
using smooth::Principal;
using smooth::ResourceId;
using smooth::Scheduler;
using smooth::ServiceId;
using smooth::Slot;
using smooth::TenantId;
using smooth::internal::OccupancyIndex;
using smooth::internal::Span;
using std::chrono::hours;
using std::chrono::minutes;

// The original offered a candidate every 30 minutes; our services use the same slot interval, so
// both answer exactly the same question (checked at setup).
constexpr minutes kCandidateStep{30};
// A blocker (time off, two hours) on about one weekday in 25 per resource.
constexpr int kBlockerOneDayIn = 25;



bool IsWeekday(LocalDate d) {
  return smooth::internal::WeekdayOf(d) < smooth::Weekday::kSaturday;
}

// Resident set size of this process, for a rough whole-stack memory figure.
std::size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// --- Synthetic data ------------------------------------------------------------------------

// One resource's data, as plain spans: the appointments in booking order (random in time) and
// the blockers (time off).
struct ResourceData {
  std::vector<Span> appointments;
  std::vector<Span> blockers;
};

// `count` appointments of `length` on distinct slots (starts every `length` within business
// hours) of `weekdays` weekdays from kFirstMonday, none overlapping a blocker; sampled uniformly,
// so the per-day count varies as it would in life.
ResourceData GenerateResource(std::mt19937_64& rng, std::int64_t weekdays, std::size_t count,
                              minutes length) {
  ResourceData data;
  std::vector<Instant> eligible;
  std::uniform_int_distribution<int> blocker_day(0, kBlockerOneDayIn - 1);
  std::uniform_int_distribution<int> blocker_hour(0, 3);
  for (std::int64_t w = 0; w < weekdays; ++w) {
    const LocalDate d = WeekdayDate(w);
    const Instant open = smooth::internal::LocalToInstant(Zone(), d, kOpen);
    const Instant close = smooth::internal::LocalToInstant(Zone(), d, kClose);
    Span blocker{open, open};
    if (blocker_day(rng) == 0) {
      const Instant start = open + hours(2 * blocker_hour(rng));
      blocker = {start, start + hours(2)};
      data.blockers.push_back(blocker);
    }
    for (Instant t = open; t + length <= close; t += length) {
      if (!blocker.Overlaps({t, t + length})) eligible.push_back(t);
    }
  }
  if (count > eligible.size()) Die("not enough free slots for the requested appointments");
  // A partial Fisher-Yates shuffle: the first `count` are a uniform sample in random order.
  for (std::size_t i = 0; i < count; ++i) {
    std::uniform_int_distribution<std::size_t> pick(i, eligible.size() - 1);
    std::swap(eligible[i], eligible[pick(rng)]);
    data.appointments.push_back({eligible[i], eligible[i] + length});
  }
  return data;
}

// --- A tenant behind the public API --------------------------------------------------------

// A Platform on memory storage with a manual clock, one tenant, its owner, a scheduler and a
// customer: what an embedder has.
struct Tenancy {
  smooth::ManualClock clock{Now()};
  std::unique_ptr<smooth::Platform> platform;
  std::unique_ptr<Scheduler> scheduler;
  Principal owner;
  TenantId tenant;
  CustomerId customer;
  std::vector<ResourceId> resources;
  std::size_t booked = 0;

  explicit Tenancy(const std::string& slug) {
    smooth::PlatformOptions o;
    o.storage = smooth::NewMemoryStorage();
    o.clock = &clock;
    o.password_cost = smooth::PasswordCost::InsecureForTests();
    platform = Must(smooth::Platform::Open(o), "Platform::Open");
    const std::string password = "correct horse battery";
    auto root = Must(platform->CreateSuperuser("root@bench.test", "Root", password), "superuser");
    Principal root_p = Must(platform->ActAs(root.id), "ActAs(root)");
    tenant = Must(platform->CreateTenant(root_p, {.slug = slug, .name = slug, .time_zone = kZone}),
                  "CreateTenant")
                 .id;
    auto owner_user = Must(platform->CreateUser(root_p, {.email = "owner@tenant.test",
                                                         .display_name = "Owner",
                                                         .role = smooth::Role::kTenantOwner,
                                                         .tenant = tenant,
                                                         .password = password}),
                           "CreateUser(owner)");
    owner = Must(platform->ActAs(owner_user.id), "ActAs(owner)");
    scheduler = Must(Scheduler::Open(*platform), "Scheduler::Open");
    customer = Must(scheduler->CreateCustomer(owner, tenant, {.name = "Pat"}), "CreateCustomer").id;
  }

  // A staff resource working 09:00-17:00 on weekdays, away during `blockers`.
  ResourceId AddResource(const std::vector<Span>& blockers) {
    smooth::ResourceSpec spec;
    spec.name = "Staff " + std::to_string(resources.size() + 1);
    for (std::size_t d = 0; d < 5; ++d) spec.hours.weekly[d] = {{kOpen, kClose}};
    for (const Span& b : blockers) spec.hours.time_off.push_back({b.start, b.end, "away"});
    resources.push_back(Must(scheduler->CreateResource(owner, tenant, spec), "CreateResource").id);
    return resources.back();
  }

  // A service of `length` needing one of all the tenant's resources, offered every 30 minutes.
  ServiceId AddService(minutes length) {
    smooth::ServiceSpec spec;
    spec.name = std::to_string(length.count()) + " minutes";
    spec.duration = length;
    spec.slot_interval = kCandidateStep;
    spec.requirements = {smooth::ResourceRequirement{resources}};
    return Must(scheduler->CreateService(owner, tenant, spec), "CreateService").id;
  }

  void Book(ServiceId service, ResourceId resource, Instant start) {
    smooth::BookingRequest r;
    r.service = service;
    r.customer = customer;
    r.start = start;
    r.resources = {resource};
    Must(scheduler->Book(owner, tenant, r), "Book");
    ++booked;
  }

  // Books every resource's appointments through Scheduler::Book, interleaved across resources in
  // a random order, as arrivals would be. Returns the resident-memory growth per appointment.
  double BookAll(ServiceId service, const std::vector<ResourceData>& data, std::mt19937_64& rng) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> order;  // (resource, appointment)
    for (std::size_t r = 0; r < data.size(); ++r)
      for (std::size_t a = 0; a < data[r].appointments.size(); ++a)
        order.emplace_back(static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(a));
    std::shuffle(order.begin(), order.end(), rng);
    const std::size_t before = ResidentBytes();
    for (const auto& [r, a] : order) Book(service, resources[r], data[r].appointments[a].start);
    return static_cast<double>(ResidentBytes() - before) / static_cast<double>(order.size());
  }

  std::vector<Slot> Availability(ServiceId service, LocalDate from, LocalDate to) {
    return Must(scheduler->Availability(owner, tenant,
                                        {.service = service, .from = from, .to = to,
                                         .time_zone = kZone, .resources = {}}),
                "Availability");
  }
};

// --- The baseline: SmoothSchedule's original algorithm -------------------------------------

// The original answered availability like this: for each resource, for each day, take the
// candidate starts every 30 minutes inside business hours (09:00-17:00, weekdays), and for each
// candidate scan every appointment and blocker of that day, refusing the candidate when one
// overlaps it (capacity 1 here, as for all our resources).
//
// Modelling "the day's appointments": the original queried the resource's appointments of the
// day and then looped over them. Here that query is a linear filter over a vector of all of the
// resource's appointments (kScan), done once per resource and day, not per candidate, into a
// reused buffer: like a store with no index on (resource, start), which must look at every row of
// the resource. A store with such an index answers the day in O(log N + day);
// kIndexedDay models that (a binary search over the appointments sorted by start), as the lower
// bound of what the original could have cost. The honest speedup lies between the two.
enum class DayQuery { kScan, kIndexedDay };

struct BaselineResource {
  ResourceId id;
  std::vector<Span> appointments;  // booking order, as the store returned them
  std::vector<Span> blockers;
  std::vector<Span> appointments_by_start;  // for kIndexedDay
  std::vector<Span> blockers_by_start;
};

struct Baseline {
  std::vector<BaselineResource> resources;
  Duration duration{kCandidateStep};
};

Baseline MakeBaseline(const std::vector<ResourceId>& ids, const std::vector<ResourceData>& data,
                      minutes service_length) {
  Baseline b;
  b.duration = service_length;
  auto by_start = [](const Span& x, const Span& y) { return x.start < y.start; };
  for (std::size_t i = 0; i < ids.size(); ++i) {
    BaselineResource r{ids[i], data[i].appointments, data[i].blockers, data[i].appointments,
                       data[i].blockers};
    std::sort(r.appointments_by_start.begin(), r.appointments_by_start.end(), by_start);
    std::sort(r.blockers_by_start.begin(), r.blockers_by_start.end(), by_start);
    b.resources.push_back(std::move(r));
  }
  return b;
}

// A view of the items of one day: [first, last).
struct DayItems {
  const Span* first;
  const Span* last;
};

// The day's items of one resource. kScan filters all of them into *buffer; kIndexedDay
// binary-searches the sorted copy (no appointment or blocker here crosses midnight, so "starts
// on the day" is "overlaps the day").
DayItems ItemsOfDay(const std::vector<Span>& all, const std::vector<Span>& sorted, Span day,
                    DayQuery how, std::vector<Span>* buffer) {
  if (how == DayQuery::kScan) {
    buffer->clear();
    for (const Span& a : all)
      if (a.start < day.end && day.start < a.end) buffer->push_back(a);
    return {buffer->data(), buffer->data() + buffer->size()};
  }
  auto first = std::lower_bound(sorted.begin(), sorted.end(), day.start,
                                [](const Span& a, Instant t) { return a.start < t; });
  auto last = std::lower_bound(first, sorted.end(), day.end,
                               [](const Span& a, Instant t) { return a.start < t; });
  return {sorted.data() + (first - sorted.begin()), sorted.data() + (last - sorted.begin())};
}

struct BaselineScratch {
  std::vector<Span> day_appointments;
  std::vector<Span> day_blockers;
  std::vector<std::vector<ResourceId>> free;  // per (day, candidate)
};

// The original's availability for dates [from, to] over every resource, shaped like ours.
std::vector<Slot> BaselineAvailability(const Baseline& b, LocalDate from, LocalDate to,
                                       DayQuery how, BaselineScratch* scratch) {
  using smooth::internal::AddDays;
  const date::time_zone* zone = Zone();
  const auto days = static_cast<std::size_t>(
      (smooth::internal::ToLocalDays(to) - smooth::internal::ToLocalDays(from)).count() + 1);
  const auto per_day =
      static_cast<std::size_t>((kClose - kOpen - b.duration) / kCandidateStep + 1);
  scratch->free.resize(days * per_day);
  for (auto& f : scratch->free) f.clear();

  for (const BaselineResource& r : b.resources) {
    LocalDate d = from;
    for (std::size_t day = 0; day < days; ++day, d = AddDays(d, 1)) {
      if (!IsWeekday(d)) continue;  // no business hours, no candidates, no query
      const Span whole_day{smooth::internal::LocalMidnight(zone, d),
                           smooth::internal::LocalMidnight(zone, AddDays(d, 1))};
      const DayItems appts = ItemsOfDay(r.appointments, r.appointments_by_start, whole_day, how,
                                        &scratch->day_appointments);
      const DayItems blockers =
          ItemsOfDay(r.blockers, r.blockers_by_start, whole_day, how, &scratch->day_blockers);
      const Instant open = smooth::internal::LocalToInstant(zone, d, kOpen);
      const Instant close = smooth::internal::LocalToInstant(zone, d, kClose);
      std::size_t i = 0;
      for (Instant t = open; t + b.duration <= close; t += kCandidateStep, ++i) {
        const Span candidate{t, t + b.duration};
        bool busy = false;
        for (const Span* a = appts.first; a != appts.last && !busy; ++a)
          busy = a->Overlaps(candidate);
        for (const Span* x = blockers.first; x != blockers.last && !busy; ++x)
          busy = x->Overlaps(candidate);
        if (!busy) scratch->free[day * per_day + i].push_back(r.id);
      }
    }
  }

  std::vector<Slot> slots;
  LocalDate d = from;
  for (std::size_t day = 0; day < days; ++day, d = AddDays(d, 1)) {
    const Instant open = smooth::internal::LocalToInstant(zone, d, kOpen);
    for (std::size_t i = 0; i < per_day; ++i) {
      const auto& f = scratch->free[day * per_day + i];
      if (f.empty()) continue;
      const Instant t = open + kCandidateStep * static_cast<int>(i);
      slots.push_back(Slot{t, t + b.duration, {f}});
    }
  }
  return slots;
}

std::size_t FreePairs(const std::vector<Slot>& slots) {
  std::size_t n = 0;
  for (const Slot& s : slots) n += s.free.at(0).size();
  return n;
}

// Both algorithms must give the same answer, or the comparison means nothing.
void CheckSame(const std::vector<Slot>& ours, const std::vector<Slot>& baseline,
               const std::string& what) {
  bool same = ours.size() == baseline.size();
  for (std::size_t i = 0; same && i < ours.size(); ++i)
    same = ours[i].start == baseline[i].start && ours[i].end == baseline[i].end &&
           ours[i].free == baseline[i].free;
  if (!same)
    Die(what + ": the baseline disagrees with Scheduler::Availability (" +
        std::to_string(ours.size()) + " slots / " + std::to_string(FreePairs(ours)) +
        " free pairs vs " + std::to_string(baseline.size()) + " / " +
        std::to_string(FreePairs(baseline)) + ")");
}

// --- Scenarios -----------------------------------------------------------------------------

// A tenant, its data as plain spans, the service asked about, and the baseline's copy.
struct Scenario {
  std::unique_ptr<Tenancy> tenancy;
  std::vector<ResourceData> data;
  ServiceId service;
  Baseline baseline;
  LocalDate from;
  LocalDate to;
  double rss_bytes_per_appointment = 0;
  std::size_t appointments = 0;
};

// Builds a scenario: `resources` resources with `per_resource` appointments of `booked_length`
// over `weekdays` weekdays, booked through Scheduler::Book; the question is availability of a
// 30-minute service on [from, to].
std::unique_ptr<Scenario> BuildScenario(const std::string& slug, std::size_t resources,
                                        std::size_t per_resource, std::int64_t weekdays,
                                        minutes booked_length, LocalDate from, LocalDate to) {
  auto s = std::make_unique<Scenario>();
  std::mt19937_64 rng(std::hash<std::string>{}(slug));
  s->tenancy = std::make_unique<Tenancy>(slug);
  for (std::size_t r = 0; r < resources; ++r) {
    s->data.push_back(GenerateResource(rng, weekdays, per_resource, booked_length));
    s->tenancy->AddResource(s->data.back().blockers);
    s->appointments += per_resource;
  }
  const ServiceId booked_service = s->tenancy->AddService(booked_length);
  s->service = booked_length == kCandidateStep ? booked_service : s->tenancy->AddService(kCandidateStep);
  s->rss_bytes_per_appointment = s->tenancy->BookAll(booked_service, s->data, rng);
  s->baseline = MakeBaseline(s->tenancy->resources, s->data, kCandidateStep);
  s->from = from;
  s->to = to;
  BaselineScratch scratch;
  const auto ours = s->tenancy->Availability(s->service, from, to);
  CheckSame(ours, BaselineAvailability(s->baseline, from, to, DayQuery::kScan, &scratch), slug);
  CheckSame(ours, BaselineAvailability(s->baseline, from, to, DayQuery::kIndexedDay, &scratch),
            slug + " (indexed day)");
  return s;
}

// 1,000 staff with 1,000 appointments of 30 minutes each over 2026 (about 3.8 a weekday, a
// quarter of their time): 1,000,000 appointments in the tenant. One day is asked about.
Scenario& ThousandResources() {
  static std::unique_ptr<Scenario> s =
      BuildScenario("thousand", 1000, 1000, 261, minutes(30), {2026, 6, 17}, {2026, 6, 17});
  return *s;
}

// 50 staff with 20 appointments of 15 minutes a weekday over 2026 (62% of their time): 261,000
// appointments. A month (31 days) is asked about.
Scenario& FiftyStaff() {
  static std::unique_ptr<Scenario> s =
      BuildScenario("fifty", 50, 20 * 261, 261, minutes(15), {2026, 6, 1}, {2026, 7, 1});
  return *s;
}

// One resource holding N appointments of 30 minutes, eight a weekday (half its time), so the
// horizon grows with N (1M reaches past the year 2400) while each day looks the same: only N
// changes. One weekday in the middle is asked about.
Scenario& OneResource(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Scenario>> cache;
  auto& s = cache[n];
  if (!s) {
    const auto weekdays = static_cast<std::int64_t>(n / 8);
    const LocalDate day = WeekdayDate(weekdays / 2);
    s = BuildScenario("one_" + std::to_string(n), 1, n, weekdays, minutes(30), day, day);
  }
  return *s;
}

void ReportShape(benchmark::State& state, const Scenario& s, const std::vector<Slot>& slots) {
  state.counters["resources"] = static_cast<double>(s.data.size());
  state.counters["appointments"] = static_cast<double>(s.appointments);
  state.counters["slots"] = static_cast<double>(slots.size());
  state.counters["free_pairs"] = static_cast<double>(FreePairs(slots));
}

void RunOurs(benchmark::State& state, Scenario& s) {
  std::vector<Slot> slots;
  for (auto _ : state) {
    slots = s.tenancy->Availability(s.service, s.from, s.to);
    benchmark::DoNotOptimize(slots.data());
  }
  ReportShape(state, s, slots);
}

void RunBaseline(benchmark::State& state, const Scenario& s, DayQuery how) {
  BaselineScratch scratch;
  std::vector<Slot> slots;
  for (auto _ : state) {
    slots = BaselineAvailability(s.baseline, s.from, s.to, how, &scratch);
    benchmark::DoNotOptimize(slots.data());
  }
  ReportShape(state, s, slots);
}

// --- Availability: 1 day, 1,000 resources, 1,000,000 appointments ---------------------------

void BM_Availability_1Day_1000Resources(benchmark::State& state) {
  Scenario& s = ThousandResources();
  RunOurs(state, s);
  state.counters["rss_bytes_per_appointment"] = s.rss_bytes_per_appointment;
}
BENCHMARK(BM_Availability_1Day_1000Resources)->Unit(benchmark::kMicrosecond);

void BM_Baseline_Availability_1Day_1000Resources(benchmark::State& state) {
  RunBaseline(state, ThousandResources(), DayQuery::kScan);
}
BENCHMARK(BM_Baseline_Availability_1Day_1000Resources)->Unit(benchmark::kMicrosecond);

void BM_BaselineIndexedDay_Availability_1Day_1000Resources(benchmark::State& state) {
  RunBaseline(state, ThousandResources(), DayQuery::kIndexedDay);
}
BENCHMARK(BM_BaselineIndexedDay_Availability_1Day_1000Resources)->Unit(benchmark::kMicrosecond);

// --- Availability: 31 days, 50 staff ---------------------------------------------------------

void BM_Availability_31Days_50Staff(benchmark::State& state) {
  RunOurs(state, FiftyStaff());
}
BENCHMARK(BM_Availability_31Days_50Staff)->Unit(benchmark::kMicrosecond);

void BM_Baseline_Availability_31Days_50Staff(benchmark::State& state) {
  RunBaseline(state, FiftyStaff(), DayQuery::kScan);
}
BENCHMARK(BM_Baseline_Availability_31Days_50Staff)->Unit(benchmark::kMicrosecond);

void BM_BaselineIndexedDay_Availability_31Days_50Staff(benchmark::State& state) {
  RunBaseline(state, FiftyStaff(), DayQuery::kIndexedDay);
}
BENCHMARK(BM_BaselineIndexedDay_Availability_31Days_50Staff)->Unit(benchmark::kMicrosecond);

// --- Scaling: 1 day on one resource holding N appointments ----------------------------------

// The index our scenario's resource holds, rebuilt directly in the same booking order: the
// scheduler keeps its indexes private, and OccupancyIndex is what it stores per resource.
double IndexBytesPerAppointment(const std::vector<ResourceData>& data) {
  std::size_t bytes = 0, items = 0;
  for (const ResourceData& r : data) {
    OccupancyIndex index;
    for (const Span& a : r.appointments) index.Add(a);
    bytes += index.MemoryBytes();
    items += index.items();
  }
  return static_cast<double>(bytes) / static_cast<double>(items);
}

void BM_Availability_1Day_1Resource(benchmark::State& state) {
  Scenario& s = OneResource(static_cast<std::size_t>(state.range(0)));
  RunOurs(state, s);
  state.counters["index_bytes_per_appointment"] = IndexBytesPerAppointment(s.data);
}
BENCHMARK(BM_Availability_1Day_1Resource)
    ->Arg(1'000)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_Baseline_Availability_1Day_1Resource(benchmark::State& state) {
  RunBaseline(state, OneResource(static_cast<std::size_t>(state.range(0))), DayQuery::kScan);
}
BENCHMARK(BM_Baseline_Availability_1Day_1Resource)
    ->Arg(1'000)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_BaselineIndexedDay_Availability_1Day_1Resource(benchmark::State& state) {
  RunBaseline(state, OneResource(static_cast<std::size_t>(state.range(0))),
              DayQuery::kIndexedDay);
}
BENCHMARK(BM_BaselineIndexedDay_Availability_1Day_1Resource)
    ->Arg(1'000)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

// --- Index memory for the 1,000,000-appointment tenant --------------------------------------

// Builds the 1,000 per-resource indexes of the 1M tenant from its data in booking order; reports
// the build rate and the heap bytes per appointment they settle at.
void BM_IndexMemory_1000Resources(benchmark::State& state) {
  const Scenario& s = ThousandResources();
  std::size_t bytes = 0, items = 0;
  for (auto _ : state) {
    std::vector<OccupancyIndex> indexes(s.data.size());
    for (std::size_t r = 0; r < s.data.size(); ++r)
      for (const Span& a : s.data[r].appointments) indexes[r].Add(a);
    bytes = items = 0;
    for (const OccupancyIndex& index : indexes) {
      bytes += index.MemoryBytes();
      items += index.items();
    }
    benchmark::DoNotOptimize(indexes.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * items));
  state.counters["index_bytes_per_appointment"] =
      static_cast<double>(bytes) / static_cast<double>(items);
}
BENCHMARK(BM_IndexMemory_1000Resources)->Unit(benchmark::kMillisecond);

// --- Booking throughput ---------------------------------------------------------------------

// The k-th half hour of working time (09:00-17:00 on weekdays) counting from weekday `first`.
std::vector<Instant> HalfHourStarts(std::int64_t first, std::size_t count) {
  std::vector<Instant> starts;
  for (std::int64_t w = first; starts.size() < count; ++w) {
    const Instant open = smooth::internal::LocalToInstant(Zone(), WeekdayDate(w), kOpen);
    for (minutes m{0}; m < kClose - kOpen; m += kCandidateStep) starts.push_back(open + m);
  }
  return starts;
}

// Books on `resources` in turn, each at its next half hour in `starts`, counting on from *next,
// so every call succeeds and writes.
void RunBook(benchmark::State& state, Tenancy& t, ServiceId service,
             const std::vector<ResourceId>& resources, const std::vector<Instant>& starts,
             std::size_t* next) {
  for (auto _ : state) {
    const std::size_t k = *next / resources.size();
    if (k >= starts.size()) {
      state.SkipWithError("ran out of precomputed starts");
      break;
    }
    t.Book(service, resources[*next % resources.size()], starts[k]);
    ++*next;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["tenant_appointments_at_end"] = static_cast<double>(t.booked);
}

// Scheduler::Book on one thread into a tenant that starts empty each run: 100 staff, the
// resource named in the request, as the owner. The tenant grows by the run's iterations (a few
// hundred thousand), so the figure is for a tenant of that size, not a huge one.
void BM_Book_NewTenant(benchmark::State& state) {
  static const std::vector<Instant> starts = HalfHourStarts(0, 200'000);
  Tenancy t("booking");
  for (int r = 0; r < 100; ++r) t.AddResource({});
  const ServiceId service = t.AddService(kCandidateStep);
  std::size_t next = 0;
  RunBook(state, t, service, t.resources, starts, &next);
}
BENCHMARK(BM_Book_NewTenant)->Unit(benchmark::kMicrosecond);

// The same into the 1,000,000-appointment tenant (1,000 staff), at free half hours after its
// data (from 2027-03). It keeps what it books across runs, growing by a million or so in all;
// registered last so the availability figures above see the tenant as built.
void BM_Book_1MTenant(benchmark::State& state) {
  Scenario& s = ThousandResources();
  static const std::vector<Instant> starts = HalfHourStarts(300, 100'000);
  static std::size_t next = 0;
  RunBook(state, *s.tenancy, s.service, s.tenancy->resources, starts, &next);
}
BENCHMARK(BM_Book_1MTenant)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
