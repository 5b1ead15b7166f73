// Benchmarks for OccupancyIndex, the per-resource capacity check, with SmoothSchedule's original
// day-scan check in the same binary as the baseline.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "schedule/occupancy_index.hpp"

namespace {

using smooth::Duration;
using smooth::Instant;
using smooth::internal::OccupancyIndex;
using smooth::internal::Span;
using std::chrono::days;
using std::chrono::minutes;

const Instant kOrigin = Instant(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1));
constexpr std::int64_t kSlotsPerDay = 24 * 4;  // appointments start on quarter hours
// A third of each day booked on average: 16 appointments of 30 minutes a day. The horizon grows
// with N to keep that density, so 1k items span two months and 1M items about 170 years; the
// baseline's per-day work stays the same at every N, and the index's depends only on N.
constexpr std::int64_t kAppointmentsPerDay = 16;
constexpr std::size_t kQueries = 1 << 12;  // cycled, so query generation is not measured

Instant Slot(std::int64_t slot) { return kOrigin + minutes(15 * slot); }

// One resource's appointments in booking order (random in time), and candidate 1-hour spans.
struct Workload {
  std::vector<Span> appointments;
  std::vector<Span> queries;
  std::int64_t horizon_slots = 0;
};

const Workload& GetWorkload(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Workload>> cache;
  auto& slot = cache[n];
  if (slot) return *slot;
  slot = std::make_unique<Workload>();
  Workload& w = *slot;
  w.horizon_slots =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(n) / kAppointmentsPerDay) * kSlotsPerDay;
  std::mt19937_64 rng(20260101 + n);
  std::uniform_int_distribution<std::int64_t> start(0, w.horizon_slots - 1);
  w.appointments.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t s = start(rng);
    w.appointments.push_back({Slot(s), Slot(s) + minutes(30)});
  }
  for (std::size_t i = 0; i < kQueries; ++i) {
    const std::int64_t s = start(rng);
    w.queries.push_back({Slot(s), Slot(s) + minutes(60)});
  }
  return w;
}

const OccupancyIndex& GetIndex(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<OccupancyIndex>> cache;
  auto& slot = cache[n];
  if (slot) return *slot;
  slot = std::make_unique<OccupancyIndex>();
  for (const Span& a : GetWorkload(n).appointments) slot->Add(a);
  return *slot;
}

double BytesPerItem(const OccupancyIndex& index) {
  return static_cast<double>(index.MemoryBytes()) / static_cast<double>(index.items());
}

void BM_FitsCheck(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const Workload& w = GetWorkload(n);
  const OccupancyIndex& index = GetIndex(n);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.Fits(w.queries[i++ % kQueries], /*capacity=*/1));
  }
  state.counters["bytes_per_item"] = BytesPerItem(index);
}
BENCHMARK(BM_FitsCheck)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);

// SmoothSchedule's original check. For each candidate it loaded the resource's appointments for the
// candidate's day and looped over them, counting those that overlap the candidate, and refused once
// the count reached the capacity.
//
// Modelling the load: the original asked storage for "this resource's appointments on this day" and
// got a fresh list back. Here that is a linear filter over a vector of all of the resource's
// appointments, so the load costs O(N), like a query that has to look at every appointment of the
// resource. The day buffer is reused, which spares the baseline the allocation the original paid. A
// store with an index on (resource, start) would load the day in O(log N + day); that lower bound
// is BM_BaselineDayScanOnly below, and the honest speedup lies between the two.
bool BaselineFits(const std::vector<Span>& resource_appointments, Span candidate, int capacity,
                  std::vector<Span>* day_appointments) {
  const Instant day_start = std::chrono::floor<days>(candidate.start);
  const Instant day_end = std::chrono::ceil<days>(candidate.end);
  day_appointments->clear();
  for (const Span& a : resource_appointments) {
    if (a.start < day_end && day_start < a.end) day_appointments->push_back(a);
  }
  int overlapping = 0;
  for (const Span& a : *day_appointments) {
    if (a.Overlaps(candidate)) ++overlapping;
  }
  return overlapping < capacity;
}

void BM_BaselineFitsCheck(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const Workload& w = GetWorkload(n);
  std::vector<Span> day_appointments;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        BaselineFits(w.appointments, w.queries[i++ % kQueries], 1, &day_appointments));
  }
}
BENCHMARK(BM_BaselineFitsCheck)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);

// The original's loop alone, with each day's appointments already in hand (bucketed by every day
// they touch), as if storage served a day in no time:
// the baseline's cheapest possible form.
struct DayBuckets {
  std::vector<std::vector<Span>> by_day;
};

std::int64_t DayNumber(Instant t) {
  return (std::chrono::floor<days>(t) - std::chrono::floor<days>(kOrigin)).count();
}

const DayBuckets& GetDayBuckets(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<DayBuckets>> cache;
  auto& slot = cache[n];
  if (slot) return *slot;
  slot = std::make_unique<DayBuckets>();
  const Workload& w = GetWorkload(n);
  slot->by_day.resize(static_cast<std::size_t>(w.horizon_slots / kSlotsPerDay + 2));
  for (const Span& a : w.appointments) {
    for (std::int64_t d = DayNumber(a.start); d <= DayNumber(a.end - Duration(1)); ++d) {
      slot->by_day[static_cast<std::size_t>(d)].push_back(a);
    }
  }
  return *slot;
}

void BM_BaselineDayScanOnly(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const Workload& w = GetWorkload(n);
  const DayBuckets& buckets = GetDayBuckets(n);
  std::size_t i = 0;
  for (auto _ : state) {
    const Span candidate = w.queries[i++ % kQueries];
    const std::int64_t first_day = DayNumber(candidate.start);
    const std::int64_t last_day = DayNumber(candidate.end - Duration(1));
    int overlapping = 0;
    for (std::int64_t d = first_day; d <= last_day; ++d) {
      const Instant day_start = kOrigin + days(d);
      for (const Span& a : buckets.by_day[static_cast<std::size_t>(d)]) {
        // An appointment across midnight is in both buckets; count it in the first only.
        if (d > first_day && a.start < day_start) continue;
        if (a.Overlaps(candidate)) ++overlapping;
      }
    }
    benchmark::DoNotOptimize(overlapping < 1);
  }
}
BENCHMARK(BM_BaselineDayScanOnly)->Arg(1'000)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);

// Steady booking churn on one resource holding N items: each iteration books a new appointment at a
// random quarter hour of the horizon and cancels the oldest live one, so the index keeps N items
// spread like the workload's. items_per_second is Add+Remove pairs a second; each iteration
// includes one splitmix64 draw (a few ns). The state persists across runs (it stays at N items), so
// the 1M setup is paid once.
struct Churn {
  OccupancyIndex index;
  std::vector<Span> live;  // a ring: live[oldest] is cancelled next
  std::size_t oldest = 0;
  std::uint64_t rng_state = 0;
  std::uint64_t horizon_slots = 0;

  Span NextArrival() {
    std::uint64_t z = (rng_state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    z ^= z >> 31;
    // Maps z onto [0, horizon_slots) by a multiply, not a slow division (horizon_slots < 2^32).
    const auto slot = static_cast<std::int64_t>(((z >> 32) * horizon_slots) >> 32);
    return {Slot(slot), Slot(slot) + minutes(30)};
  }
};

Churn& GetChurn(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Churn>> cache;
  auto& slot = cache[n];
  if (slot) return *slot;
  slot = std::make_unique<Churn>();
  const Workload& w = GetWorkload(n);
  slot->live = w.appointments;
  for (const Span& a : slot->live) slot->index.Add(a);
  slot->rng_state = 7 + n;
  slot->horizon_slots = static_cast<std::uint64_t>(w.horizon_slots);
  return *slot;
}

void BM_AddRemove(benchmark::State& state) {
  Churn& churn = GetChurn(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    const Span arrival = churn.NextArrival();
    churn.index.Add(arrival);
    churn.index.Remove(churn.live[churn.oldest]);
    churn.live[churn.oldest] = arrival;
    if (++churn.oldest == churn.live.size()) churn.oldest = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["bytes_per_item"] = BytesPerItem(churn.index);
}
BENCHMARK(BM_AddRemove)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// Cold build of an index in booking order, to show the setup cost and the memory it settles at.
void BM_BuildIndex(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<std::size_t>(state.range(0)));
  double bytes_per_item = 0;
  for (auto _ : state) {
    OccupancyIndex index;
    for (const Span& a : w.appointments) index.Add(a);
    bytes_per_item = BytesPerItem(index);
    benchmark::DoNotOptimize(index);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.appointments.size()));
  state.counters["bytes_per_item"] = bytes_per_item;
}
BENCHMARK(BM_BuildIndex)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
