// The booking-validity rule, shared by booking and availability: at which starts can a
// resource host an item of a given timing, and which distinct resources serve a request.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "schedule/calendar.hpp"
#include "schedule/occupancy_index.hpp"
#include "schedule/span.hpp"
#include "smooth/civil.hpp"
#include "smooth/schedule_types.hpp"

namespace smooth::internal {

/// A hint to the CPU to start loading the cache line at `address`; never faults.
inline void Prefetch(const void* address) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(address);
#else
  (void)address;
#endif
}

/// How an item sits on a resource: [start, start + duration) must be in working hours,
/// [start - buffer_before, start + duration + buffer_after) must fit under capacity.
struct Timing {
  Duration duration{0};
  Duration buffer_before{0};
  Duration buffer_after{0};

  Span Occupied(Instant start) const {
    return {start - buffer_before, start + duration + buffer_after};
  }
  friend bool operator==(const Timing&, const Timing&) = default;
};

/// The candidate starts of availability over whole local dates of one zone: each date's
/// midnight plus whole slot intervals, before the next midnight. Slots are numbered from 0
/// in time order; a set of slots is a bitmask, slot k being bit k % 64 of word k / 64.
///
/// Not thread-safe (it remembers offsets it computed); make one per query.
class SlotGrid {
 public:
  SlotGrid(const date::time_zone* zone, LocalDate from, LocalDate to, Duration interval);

  const date::time_zone* zone() const { return zone_; }
  Duration interval() const { return interval_; }
  /// The local dates covered, as serial day numbers (date::local_days counts), inclusive.
  std::int32_t first_day() const { return first_day_; }
  std::int32_t last_day() const { return last_day_; }
  /// From the first date's midnight to the midnight after the last date.
  Span dates() const { return dates_; }
  std::size_t size() const { return size_; }
  /// Words of a bitmask over the slots.
  std::size_t words() const { return (size_ + 63) / 64; }

  /// The start of slot k.
  Instant Start(std::size_t k) const;

  /// Sets in `bits` the slots whose start lies in one of `ranges` (sorted and disjoint; they
  /// may reach beyond the dates).
  void Mark(std::span<const Span> ranges, std::uint64_t* bits) const;

  /// The number of slots of this grid's zone and interval on the dates from `day` (at most
  /// first_day()) up to the day before first_day(): where this grid starts within the grid
  /// of a wider range of dates.
  std::size_t SlotsFrom(std::int32_t day) const;

 private:
  struct Day {
    Instant first;        // its midnight, its first slot
    Instant end;          // the next midnight; its slots are < end
    std::uint32_t base;   // the number of its first slot
    std::uint32_t count;  // how many it has
  };

  std::uint32_t StepsTo(Duration x) const;

  const date::time_zone* zone_;
  Duration interval_;
  std::int32_t first_day_;
  std::int32_t last_day_;
  Span dates_;
  double per_interval_ = 1.0 / static_cast<double>(interval_.count());
  double half_less_ = static_cast<double>(interval_.count()) - 0.5;
  std::vector<Day> days_;  // only dates with slots, so their slots increase
  std::uint32_t size_ = 0;
  // SlotsFrom's last answer: availability asks it for every resource served from a wider
  // remembered answer, nearly always with the same day.
  mutable std::int32_t offset_day_ = 0;
  mutable std::size_t offset_ = 0;
  mutable bool offset_known_ = false;
};

/// Slots taken from a bitmask: slot k of a grid is bit (offset + k) of `words`.
struct SlotBits {
  const std::uint64_t* words = nullptr;
  std::size_t offset = 0;

  /// Copies `n` slots from here into the bitmask `out` (whose unused high bits stay 0).
  void CopyTo(std::size_t n, std::uint64_t* out) const;
};

/// Remembered answers of availability for one resource: the slots of a grid (zone, slot
/// interval, dates) at which ValidStarts (working hours respected) allows an item of a given
/// timing, so that availability asked again over the same dates, or over fewer of them,
/// costs a lookup and a copy of a few words instead of a walk through the calendar and the
/// occupancy index.
///
/// An answer depends on the calendar, the capacity and the occupancy over
/// [dates.start - buffer_before, dates.end + duration + buffer_after). The owner keeps
/// it true: Invalidate(span) whenever the occupancy changes over `span`, Clear() when the
/// calendar or the capacity changes.
///
/// Threads: Find and Insert may run concurrently with each other (availability, under the
/// tenant lock held shared); Invalidate, Clear, moves and destruction need the tenant lock
/// held exclusively. That is also what makes freeing entries safe: while a
/// writer holds the lock, no reader can be looking at one.
class StartsCache {
 public:
  StartsCache() = default;
  StartsCache(StartsCache&& other) noexcept;
  StartsCache& operator=(StartsCache&& other) noexcept;
  StartsCache(const StartsCache&) = delete;
  StartsCache& operator=(const StartsCache&) = delete;
  ~StartsCache() { Clear(); }

  /// The remembered slots for `timing` on `grid`, from an entry of the same zone and
  /// interval whose dates include the grid's; false when there is none.
  bool Find(const Timing& timing, const SlotGrid& grid, SlotBits* slots) const;

  /// Remembers `bits` (grid.words() words) as the answer for (timing, grid) and returns the
  /// stored copy; false, storing nothing, when the cache is full (see full()).
  bool Insert(const Timing& timing, const SlotGrid& grid, const std::uint64_t* bits,
              SlotBits* stored) const;

  /// Forgets every answer that depends on the occupancy over `changed`.
  void Invalidate(Span changed);
  /// Forgets everything.
  void Clear();
  /// True once an Insert was refused for lack of room; a writer should then Clear().
  bool full() const { return full_.load(std::memory_order_relaxed); }

  /// Asks the CPU to start loading the newest entry (its first `lines` cache lines):
  /// availability walks many resources, and their caches are rarely in the CPU's.
  void Prefetch(int lines) const {
    const char* e = reinterpret_cast<const char*>(head_.load(std::memory_order_relaxed));
    if (e == nullptr) return;
    for (int i = 0; i < lines; ++i) internal::Prefetch(e + 64 * i);
  }

 private:
  struct Entry;

  // A singly-linked list, newest first. Readers push with a CAS and never unlink; writers
  // unlink and free.
  mutable std::atomic<Entry*> head_{nullptr};
  mutable std::atomic<std::size_t> entries_{0};
  mutable std::atomic<std::size_t> words_{0};
  mutable std::atomic<bool> full_{false};
};

/// One resource as the engine sees it: its row, its calendar, and its occupancy. Change the
/// occupancy through Occupy and Vacate, and the row or calendar through Redefine, so that
/// the remembered answers of availability stay true.
struct ResourceState {
  ResourceState(Resource r, Calendar c) : resource(std::move(r)), calendar(std::move(c)) {}

  // First, so that a lookup's first cache line of the state holds it.
  StartsCache starts;  // what ValidStartsCached remembered; entries only while active

  void Occupy(Span s) {
    index.Add(s);
    starts.Invalidate(s);
  }
  void Vacate(Span s) {
    index.Remove(s);
    starts.Invalidate(s);
  }
  void Redefine(Resource r, Calendar c) {
    resource = std::move(r);
    calendar = std::move(c);
    starts.Clear();
  }

  Resource resource;
  Calendar calendar;
  OccupancyIndex index;  // change through Occupy and Vacate
};

/// Reusable buffers, so repeated rule evaluations do not allocate.
struct Scratch {
  std::vector<Span> open;
  std::vector<Span> free;
  std::vector<Span> starts;
  std::vector<Span> result;  // CanStartAt's answer, and ValidSlotsCached's starts
  std::vector<std::uint64_t> bits;  // ValidSlotsCached's answer when the cache is full
  bool cache_full = false;          // set when ValidSlotsCached found no room to remember
};

/// THE rule. Appends to *out the sorted, disjoint ranges of starts t within `window`
/// (a span of candidate starts) at which `rs` can host an item of `timing`:
///   - [t, t + duration) lies inside one open span of the calendar (unless ignore_hours),
///   - [t - buffer_before, t + duration + buffer_after) fits under the resource capacity.
/// Both booking (with a one-microsecond window) and availability (with whole days) call
/// this, so they cannot disagree.
///
/// Each start is judged on its own: the answer for a window is the answer for any larger
/// window, clipped to it. ValidSlotsCached relies on that.
void ValidStarts(const ResourceState& rs, const Timing& timing, bool ignore_hours, Span window,
                 Scratch* scratch, std::vector<Span>* out);

/// The slots availability offers on `rs`: false when the resource is inactive (it takes
/// no new items), else true and *slots = the slots of `grid` whose starts are in
/// ValidStarts(rs, timing, false, grid.dates()), remembered in rs.starts. The answer lives
/// in the cache, or in scratch->bits when the cache is full (then scratch->cache_full is
/// set), and stays valid while the caller keeps the tenant lock and does not reuse
/// `scratch`. Safe for concurrent readers (see StartsCache).
bool ValidSlotsCached(const ResourceState& rs, const Timing& timing, const SlotGrid& grid,
                      Scratch* scratch, SlotBits* slots);

/// True when `rs` can host an item of `timing` starting at `t`.
bool CanStartAt(const ResourceState& rs, const Timing& timing, bool ignore_hours, Instant t,
                Scratch* scratch);

/// Chooses one distinct resource per requirement from `candidates` (each list in order of
/// preference). Fills *picks and returns true when possible; tries preferred resources
/// first and backtracks, so the result is deterministic.
bool AssignDistinct(const std::vector<std::vector<ResourceId>>& candidates,
                    std::vector<ResourceId>* picks);

}  // namespace smooth::internal
