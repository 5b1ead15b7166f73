// Specification of OccupancyIndex, the per-resource count of items over time: the capacity
// rules, removal, free-span search, and a randomized comparison with a brute-force model.
#include "schedule/occupancy_index.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using smooth::Instant;
using smooth::internal::OccupancyIndex;
using smooth::internal::Span;
using std::chrono::minutes;

// Minutes after an arbitrary Monday, 2026-03-02T00:00Z, to keep the tests readable.
Instant At(std::int64_t minute) {
  using namespace std::chrono;
  return Instant(sys_days(year(2026) / March / 2)) + minutes(minute);
}
Span S(std::int64_t start_minute, std::int64_t end_minute) {
  return {At(start_minute), At(end_minute)};
}
constexpr std::int64_t kH = 60;  // one hour, in minutes

std::vector<Span> Free(const OccupancyIndex& index, Span window, int capacity) {
  std::vector<Span> out;
  index.FreeSpans(window, capacity, &out);
  return out;
}

}  // namespace

TEST_CASE("an empty index holds nothing and everything is free") {
  OccupancyIndex index;
  CHECK(index.items() == 0);
  CHECK(index.breakpoints() == 0);
  CHECK(index.MaxCount(S(0, 24 * kH)) == 0);
  CHECK(index.Fits(S(9 * kH, 10 * kH), 1));
  CHECK_FALSE(index.Fits(S(9 * kH, 10 * kH), 0));
  CHECK(Free(index, S(9 * kH, 17 * kH), 1) == std::vector<Span>{S(9 * kH, 17 * kH)});
  CHECK(index.InvariantsHold());
}

TEST_CASE("touching spans do not overlap") {
  OccupancyIndex index;
  index.Add(S(9 * kH, 10 * kH));
  CHECK(index.Fits(S(10 * kH, 11 * kH), 1));  // starts exactly when the item ends
  CHECK(index.Fits(S(8 * kH, 9 * kH), 1));    // ends exactly when the item starts
  CHECK(index.MaxCount(S(10 * kH, 11 * kH)) == 0);
  CHECK_FALSE(index.Fits(S(10 * kH - 1, 10 * kH + 1), 1));
  CHECK_FALSE(index.Fits(S(9 * kH - 1, 9 * kH + 1), 1));

  index.Add(S(10 * kH, 11 * kH));
  CHECK(index.MaxCount(S(9 * kH, 11 * kH)) == 1);
  // Back-to-back items make one flat step: the breakpoint at 10:00 carries no information.
  CHECK(index.breakpoints() == 2);
  CHECK(index.InvariantsHold());
}

TEST_CASE("capacity 1 refuses any overlap") {
  OccupancyIndex index;
  index.Add(S(9 * kH, 10 * kH));
  CHECK_FALSE(index.Fits(S(9 * kH, 10 * kH), 1));
  CHECK_FALSE(index.Fits(S(9 * kH + 30, 10 * kH + 30), 1));
  CHECK_FALSE(index.Fits(S(8 * kH, 11 * kH), 1));           // encloses the item
  CHECK_FALSE(index.Fits(S(9 * kH + 10, 9 * kH + 20), 1));  // inside the item
  CHECK(index.Fits(S(11 * kH, 12 * kH), 1));
}

TEST_CASE("capacity 2 admits a second overlapping item and refuses a third") {
  OccupancyIndex index;
  index.Add(S(9 * kH, 11 * kH));
  REQUIRE(index.Fits(S(10 * kH, 12 * kH), 2));
  index.Add(S(10 * kH, 12 * kH));
  CHECK(index.MaxCount(S(9 * kH, 12 * kH)) == 2);
  CHECK_FALSE(index.Fits(S(10 * kH + 30, 10 * kH + 45), 2));
  // Outside the doubly booked hour a third still fits.
  CHECK(index.Fits(S(9 * kH, 10 * kH), 2));
  CHECK(index.Fits(S(11 * kH, 13 * kH), 2));
}

TEST_CASE("capacity 3: a fourth item is refused only where three already overlap") {
  OccupancyIndex index;
  index.Add(S(9 * kH, 12 * kH));
  index.Add(S(10 * kH, 11 * kH));
  index.Add(S(10 * kH + 30, 13 * kH));
  // Counts: 9-10 one, 10-10:30 two, 10:30-11 three, 11-12 two, 12-13 one.
  CHECK(index.MaxCount(S(10 * kH + 45, 10 * kH + 50)) == 3);
  CHECK_FALSE(index.Fits(S(10 * kH + 45, 10 * kH + 50), 3));
  CHECK_FALSE(index.Fits(S(8 * kH, 14 * kH), 3));
  CHECK(index.Fits(S(8 * kH, 10 * kH + 30),
                   3));                       // ends as the triple overlap begins
  CHECK(index.Fits(S(11 * kH, 14 * kH), 3));  // starts as it ends
  CHECK(Free(index, S(8 * kH, 14 * kH), 3) ==
        std::vector<Span>{S(8 * kH, 10 * kH + 30), S(11 * kH, 14 * kH)});
  CHECK(index.InvariantsHold());
}

TEST_CASE("MaxCount reports the peak inside the span, not only at its ends") {
  OccupancyIndex index;
  index.Add(S(10 * kH, 10 * kH + 5));
  index.Add(S(10 * kH + 1, 10 * kH + 2));
  CHECK(index.MaxCount(S(9 * kH, 11 * kH)) == 2);
  CHECK(index.MaxCount(S(10 * kH + 2, 11 * kH)) == 1);
  CHECK(index.MaxCount(S(10 * kH + 5, 11 * kH)) == 0);
  CHECK(index.MaxCount(S(10 * kH, 10 * kH)) == 0);  // an empty span holds nothing
}

TEST_CASE("Remove restores the occupancy before the Add") {
  OccupancyIndex index;
  index.Add(S(9 * kH, 12 * kH));
  index.Add(S(10 * kH, 11 * kH));
  index.Add(S(10 * kH, 11 * kH));  // the same span twice is two items
  CHECK(index.items() == 3);
  CHECK(index.MaxCount(S(10 * kH, 11 * kH)) == 3);

  index.Remove(S(10 * kH, 11 * kH));
  CHECK(index.items() == 2);
  CHECK(index.MaxCount(S(10 * kH, 11 * kH)) == 2);
  index.Remove(S(10 * kH, 11 * kH));
  CHECK(index.MaxCount(S(9 * kH, 12 * kH)) == 1);
  CHECK(index.breakpoints() == 2);
  CHECK(index.Fits(S(10 * kH, 11 * kH), 2));

  index.Remove(S(9 * kH, 12 * kH));
  CHECK(index.items() == 0);
  CHECK(index.breakpoints() == 0);
  CHECK(index.MemoryBytes() == 0);
  CHECK(index.Fits(S(9 * kH, 12 * kH), 1));
  CHECK(index.InvariantsHold());
}

TEST_CASE("OccupiedTime is the item-time inside the span") {
  OccupancyIndex index;
  CHECK(index.OccupiedTime(S(0, 24 * kH)) == minutes(0));
  index.Add(S(9 * kH, 11 * kH));
  index.Add(S(10 * kH, 12 * kH));
  CHECK(index.OccupiedTime(S(0, 24 * kH)) == minutes(4 * kH));
  CHECK(index.OccupiedTime(S(10 * kH, 11 * kH)) == minutes(2 * kH));  // two items for an hour
  CHECK(index.OccupiedTime(S(11 * kH + 30, 13 * kH)) == minutes(30));
  CHECK(index.OccupiedTime(S(12 * kH, 13 * kH)) == minutes(0));
}

#ifdef NDEBUG
// In debug builds the same misuse stops at an assert; release builds must survive it.
TEST_CASE("a Remove the index can prove wrong is ignored and corrupts nothing") {
  OccupancyIndex index;
  index.Remove(S(9 * kH, 10 * kH));  // nothing there
  CHECK(index.items() == 0);
  CHECK(index.breakpoints() == 0);

  index.Add(S(9 * kH, 10 * kH));
  index.Remove(S(9 * kH + 30, 10 * kH + 30));  // sticks out past the item
  CHECK(index.items() == 1);
  CHECK(index.MaxCount(S(9 * kH, 10 * kH)) == 1);
  CHECK(index.MaxCount(S(10 * kH, 11 * kH)) == 0);
  CHECK(index.InvariantsHold());
}
#endif

TEST_CASE("FreeSpans at the edges of the window") {
  OccupancyIndex index;
  index.Add(S(9 * kH, 10 * kH));
  index.Add(S(12 * kH, 13 * kH));

  SUBCASE("a window that starts and ends inside items is cut at their ends") {
    CHECK(Free(index, S(9 * kH + 30, 12 * kH + 30), 1) == std::vector<Span>{S(10 * kH, 12 * kH)});
  }
  SUBCASE("a window that is exactly an item has no free span") {
    CHECK(Free(index, S(9 * kH, 10 * kH), 1).empty());
  }
  SUBCASE("a window that only touches items is entirely free") {
    CHECK(Free(index, S(10 * kH, 12 * kH), 1) == std::vector<Span>{S(10 * kH, 12 * kH)});
  }
  SUBCASE("free time before the first and after the last item is reported") {
    CHECK(Free(index, S(8 * kH, 14 * kH), 1) ==
          std::vector<Span>{S(8 * kH, 9 * kH), S(10 * kH, 12 * kH), S(13 * kH, 14 * kH)});
  }
  SUBCASE("steps below the capacity join into one span") {
    index.Add(S(9 * kH + 30, 9 * kH + 45));  // count 2 inside the first item
    CHECK(Free(index, S(8 * kH, 14 * kH), 3) == std::vector<Span>{S(8 * kH, 14 * kH)});
    CHECK(Free(index, S(8 * kH, 14 * kH), 2) ==
          std::vector<Span>{S(8 * kH, 9 * kH + 30), S(9 * kH + 45, 14 * kH)});
  }
  SUBCASE("capacity 0 and empty windows have no free span") {
    CHECK(Free(index, S(8 * kH, 14 * kH), 0).empty());
    CHECK(Free(index, S(11 * kH, 11 * kH), 1).empty());
  }
  SUBCASE("results are appended, not replacing what the caller had") {
    std::vector<Span> out{S(0, 1)};
    index.FreeSpans(S(10 * kH, 11 * kH), 1, &out);
    CHECK(out == std::vector<Span>{S(0, 1), S(10 * kH, 11 * kH)});
  }
}

TEST_CASE(
    "bookings made in time order pack the index densely and unwind "
    "completely") {
  OccupancyIndex index;
  constexpr int kItems = 20'000;
  // 30-minute items every 45 minutes: two breakpoints each, none merged.
  for (int i = 0; i < kItems; ++i) index.Add(S(45 * i, 45 * i + 30));
  CHECK(index.breakpoints() == 2 * kItems);
  CHECK(index.InvariantsHold());
  const double bytes_per_item = static_cast<double>(index.MemoryBytes()) / kItems;
  CHECK(bytes_per_item < 32);  // 2 breakpoints x 12 bytes, chunks nearly full
  CHECK(index.Fits(S(45 * 777 + 30, 45 * 778), 1));
  CHECK_FALSE(index.Fits(S(45 * 777 + 29, 45 * 778), 1));
  for (int i = 0; i < kItems; ++i) index.Remove(S(45 * i, 45 * i + 30));
  CHECK(index.items() == 0);
  CHECK(index.breakpoints() == 0);
  CHECK(index.InvariantsHold());
}

namespace {

// The model: the items themselves, and counts by brute force. All times are whole minutes, so the
// count is constant on each [m, m + 1) and checking every minute checks everything.
class NaiveOccupancy {
 public:
  void Add(std::int64_t start, std::int64_t end) { items_.push_back({start, end}); }
  void RemoveAt(std::size_t i) {
    items_[i] = items_.back();
    items_.pop_back();
  }
  std::size_t size() const { return items_.size(); }
  std::pair<std::int64_t, std::int64_t> item(std::size_t i) const { return items_[i]; }

  // The count at each minute of [start, end).
  std::vector<int> Counts(std::int64_t start, std::int64_t end) const {
    std::vector<int> counts(static_cast<std::size_t>(end - start), 0);
    for (const auto& [item_start, item_end] : items_) {
      for (std::int64_t m = std::max(start, item_start); m < std::min(end, item_end); ++m) {
        ++counts[static_cast<std::size_t>(m - start)];
      }
    }
    return counts;
  }
  int MaxCount(std::int64_t start, std::int64_t end) const {
    const std::vector<int> counts = Counts(start, end);
    return counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  }
  std::int64_t ItemMinutes(std::int64_t start, std::int64_t end) const {
    std::int64_t total = 0;
    for (int count : Counts(start, end)) total += count;
    return total;
  }
  std::vector<Span> FreeSpans(std::int64_t start, std::int64_t end, int capacity) const {
    const std::vector<int> counts = Counts(start, end);
    std::vector<Span> out;
    for (std::int64_t m = start; m < end; ++m) {
      if (counts[static_cast<std::size_t>(m - start)] >= capacity) continue;
      if (!out.empty() && out.back().end == At(m)) {
        out.back().end = At(m + 1);
      } else {
        out.push_back(S(m, m + 1));
      }
    }
    return out;
  }

 private:
  std::vector<std::pair<std::int64_t, std::int64_t>> items_;
};

struct Shape {
  std::string name;
  std::uint64_t seed;
  std::int64_t domain_minutes;  // items start in [0, domain)
  std::int64_t max_length;      // item lengths are 1..max_length minutes
  std::size_t live_items;       // grow to this many, then remove them all
  int max_capacity;             // queries ask capacities 1..max_capacity
};

void RunDifferential(const Shape& shape) {
  CAPTURE(shape.name);
  CAPTURE(shape.seed);
  std::mt19937_64 rng(shape.seed);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {  // inclusive
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  OccupancyIndex index;
  NaiveOccupancy model;
  std::size_t steps = 0;
  std::size_t updates = 0;
  std::size_t queries = 0;
  std::size_t max_breakpoints = 0;

  auto query = [&] {
    ++queries;
    const std::int64_t start = uniform(-10, shape.domain_minutes + shape.max_length);
    const std::int64_t end = start + uniform(1, 3 * shape.max_length);
    const int capacity = static_cast<int>(uniform(1, shape.max_capacity));
    CAPTURE(start);
    CAPTURE(end);
    CAPTURE(capacity);
    const int expected_max = model.MaxCount(start, end);
    REQUIRE(index.MaxCount(S(start, end)) == expected_max);
    REQUIRE(index.Fits(S(start, end), capacity) == (expected_max < capacity));
    std::vector<Span> free;
    index.FreeSpans(S(start, end), capacity, &free);
    REQUIRE(free == model.FreeSpans(start, end, capacity));
    REQUIRE(index.OccupiedTime(S(start, end)) == minutes(model.ItemMinutes(start, end)));
  };
  auto remove_random = [&] {
    const std::size_t i = static_cast<std::size_t>(uniform(0, model.size() - 1));
    const auto [start, end] = model.item(i);
    index.Remove(S(start, end));
    model.RemoveAt(i);
    ++updates;
  };
  auto check_structure = [&] {
    REQUIRE(index.items() == model.size());
    REQUIRE(index.InvariantsHold());
    max_breakpoints = std::max(max_breakpoints, index.breakpoints());
  };

  // Grow to the target with some churn: adds, duplicates of live items, removes, queries.
  while (model.size() < shape.live_items) {
    const std::int64_t dice = uniform(0, 99);
    if (dice < 60) {
      const std::int64_t start = uniform(0, shape.domain_minutes);
      const std::int64_t end = start + uniform(1, shape.max_length);
      index.Add(S(start, end));
      model.Add(start, end);
      ++updates;
    } else if (dice < 65 && model.size() > 0) {
      const auto [start, end] = model.item(static_cast<std::size_t>(uniform(0, model.size() - 1)));
      index.Add(S(start, end));
      model.Add(start, end);
      ++updates;
    } else if (dice < 85 && model.size() > 0) {
      remove_random();
    } else {
      query();
    }
    if (++steps % 1000 == 0) check_structure();
  }
  check_structure();
  const std::size_t peak_bytes = index.MemoryBytes();
  for (int i = 0; i < 200; ++i) query();

  // Drain in random order, which empties and merges chunks all over the index.
  while (model.size() > 0) {
    remove_random();
    if (uniform(0, 9) == 0) query();
    if (++steps % 1000 == 0) check_structure();
  }
  check_structure();
  CHECK(index.breakpoints() == 0);
  CHECK(index.MaxCount(S(-10, shape.domain_minutes + shape.max_length)) == 0);
  MESSAGE(shape.name << " seed " << shape.seed << ": " << updates << " updates and " << queries
                     << " queries, up to " << max_breakpoints << " breakpoints, "
                     << static_cast<double>(peak_bytes) / static_cast<double>(shape.live_items)
                     << " bytes/item at peak");
  CHECK(static_cast<double>(peak_bytes) / static_cast<double>(shape.live_items) <= 128);
}

}  // namespace

TEST_CASE("matches a brute-force model under random adds, removes and queries") {
  // Sparse: mostly single occupancy, ~25k breakpoints, so ~100+ chunks are split and emptied.
  RunDifferential({"sparse", 1, 400'000, 120, 12'000, 3});
  RunDifferential({"sparse", 2, 400'000, 120, 12'000, 3});
  // Overlapping: counts around 4 to 10, every capacity from full to free matters.
  RunDifferential({"overlapping", 3, 60'000, 90, 11'000, 12});
  // Crowded: few distinct minutes, deep counts, many merged and re-split steps.
  RunDifferential({"crowded", 4, 500, 30, 3'000, 200});
  // Small: the single-chunk path.
  RunDifferential({"small", 5, 300, 40, 60, 4});
}
