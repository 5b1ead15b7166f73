// The booking-validity rule, shared by booking and availability: at which starts can a
// resource host an item of a given timing, and which distinct resources serve a request.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "schedule/calendar.hpp"
#include "schedule/occupancy_index.hpp"
#include "schedule/span.hpp"
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

/// Remembered answers of ValidStarts (working hours respected) for one resource, one per
/// (timing, window), so that availability asked again over the same days costs a lookup
/// instead of a walk through the calendar and the occupancy index.
///
/// An answer depends on the calendar, the capacity and the occupancy over
/// [window.start - buffer_before, window.end + duration + buffer_after). The owner keeps
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

  /// The remembered starts of an entry for `timing` whose window contains `window`, all
  /// of that entry's window; false when there is none.
  bool Find(const Timing& timing, Span window, std::span<const Span>* starts) const;

  /// Remembers `starts` as the answer for (timing, window) and returns the stored copy;
  /// false, storing nothing, when the cache is full (see full()).
  bool Insert(const Timing& timing, Span window, const std::vector<Span>& starts,
              std::span<const Span>* stored) const;

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
  mutable std::atomic<std::size_t> spans_{0};
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
  std::vector<Span> result;  // CanStartAt's and ValidStartsCached's answer
};

/// THE rule. Appends to *out the sorted, disjoint ranges of starts t within `window`
/// (a span of candidate starts) at which `rs` can host an item of `timing`:
///   - [t, t + duration) lies inside one open span of the calendar (unless ignore_hours),
///   - [t - buffer_before, t + duration + buffer_after) fits under the resource capacity.
/// Both booking (with a one-microsecond window) and availability (with whole days) call
/// this, so they cannot disagree.
///
/// Each start is judged on its own: the answer for a window is the answer for any larger
/// window, clipped to it. ValidStartsCached relies on that.
void ValidStarts(const ResourceState& rs, const Timing& timing, bool ignore_hours, Span window,
                 Scratch* scratch, std::vector<Span>* out);

/// The starts availability offers on `rs`: false when the resource is inactive (it takes
/// no new items), else true and *starts = ValidStarts(rs, timing, false, window),
/// remembered in rs.starts, except that the ranges may reach beyond `window` on either
/// side (callers clip to it). The answer lives in the cache, or in scratch->result when the
/// cache is full, and stays valid while the caller keeps the tenant lock and does not reuse
/// `scratch`. Safe for concurrent readers (see StartsCache).
bool ValidStartsCached(const ResourceState& rs, const Timing& timing, Span window,
                       Scratch* scratch, std::span<const Span>* starts);

/// True when `rs` can host an item of `timing` starting at `t`.
bool CanStartAt(const ResourceState& rs, const Timing& timing, bool ignore_hours, Instant t,
                Scratch* scratch);

/// Chooses one distinct resource per requirement from `candidates` (each list in order of
/// preference). Fills *picks and returns true when possible; tries preferred resources
/// first and backtracks, so the result is deterministic.
bool AssignDistinct(const std::vector<std::vector<ResourceId>>& candidates,
                    std::vector<ResourceId>* picks);

}  // namespace smooth::internal
