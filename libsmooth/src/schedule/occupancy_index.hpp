// OccupancyIndex: the number of items occupying one resource at each instant, so capacity checks
// and free-slot searches cost O(log n) instead of a scan over the resource's appointments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "schedule/span.hpp"

namespace smooth::internal {

/// How many items occupy a resource at each instant: a piecewise-constant count over time. Not
/// thread-safe; the owner synchronizes. Movable, not copyable.
///
/// Only the count function is stored, not the items: the caller keeps the appointments and tells
/// the index about each one it books (Add) or cancels (Remove).
///
///     OccupancyIndex index;
///     index.Add({nine, ten});
///     index.Fits({nine_thirty, ten_thirty}, /*capacity=*/1);  // false
///     index.Fits({ten, eleven}, /*capacity=*/1);              // true: touching is not overlapping
class OccupancyIndex {
 public:
  OccupancyIndex() = default;
  OccupancyIndex(OccupancyIndex&&) noexcept = default;
  OccupancyIndex& operator=(OccupancyIndex&&) noexcept = default;
  ~OccupancyIndex() = default;

  /// Counts one more item over `s`. `s` must be non-empty; an empty span is ignored.
  void Add(Span s);

  /// Counts one item fewer over `s`, which must have been added before and not yet removed. The
  /// index cannot tell items apart, so it checks only that the count is at least one all over `s`;
  /// a removal that fails that check asserts in debug builds and is ignored otherwise, so the count
  /// never goes negative.
  void Remove(Span s);

  /// The highest count anywhere in `s`; 0 for an empty span or an empty index.
  int MaxCount(Span s) const;

  /// True when adding `s` would keep the count at or below `capacity` everywhere in `s`.
  bool Fits(Span s, int capacity) const { return MaxCount(s) < capacity; }

  /// Appends to `*out` the maximal sub-spans of `window` where the count is below `capacity`, i.e.
  /// where one more item would fit. They come sorted and disjoint, and never touch each other.
  /// Nothing is appended for an empty window or a capacity of 0 or less.
  ///
  ///     index.Add({ten, eleven});
  ///     index.FreeSpans({nine, noon}, 1, &free);  // {{nine, ten}, {eleven, noon}}
  void FreeSpans(Span window, int capacity, std::vector<Span>* out) const;

  /// The integral of the count over `s`: item-time spent inside `s`. The engine uses it as a
  /// resource's load when choosing between free resources.
  Duration OccupiedTime(Span s) const;

  /// Adds minus removes.
  std::size_t items() const { return items_; }

  /// Heap bytes held by the index: container capacities and chunk nodes (not allocator headers,
  /// which depend on the malloc in use).
  std::size_t MemoryBytes() const;

  /// The number of stored steps of the count function. For tests and diagnostics.
  std::size_t breakpoints() const;

  /// Checks every structural invariant in O(breakpoints). For tests.
  bool InvariantsHold() const;

 private:
  // A run of consecutive breakpoints. counts[i] is the count on [times[i], times[i + 1]), the next
  // time possibly being the first of the following chunk. Times and counts live in separate arrays
  // so a breakpoint costs 12 bytes instead of a padded 16, and the binary search over times touches
  // only times.
  struct Chunk {
    std::vector<std::int64_t> times;
    std::vector<std::int32_t> counts;
  };
  // Where a breakpoint is. {chunks_.size(), 0} is one past the last breakpoint.
  struct Pos {
    std::size_t chunk = 0;
    std::size_t index = 0;
  };

  bool AtEnd(Pos p) const { return p.chunk == chunks_.size(); }
  static bool IsFirst(Pos p) { return p.chunk == 0 && p.index == 0; }
  std::int64_t TimeAt(Pos p) const { return chunks_[p.chunk]->times[p.index]; }
  std::int32_t CountAt(Pos p) const { return chunks_[p.chunk]->counts[p.index]; }
  void Next(Pos* p) const;
  Pos Prev(Pos p) const;  // p must not be the first breakpoint

  // The first breakpoint strictly after `t`, or the end.
  Pos UpperBound(std::int64_t t) const;
  // The count just before breakpoint `p` (0 before the first one). Past the last one it is 0
  // too, by the invariants, which spares a look into the last chunk.
  std::int32_t CountBefore(Pos p) const {
    return IsFirst(p) || AtEnd(p) ? 0 : CountAt(Prev(p));
  }

  int MinCount(std::int64_t start, std::int64_t end) const;
  // Adds `delta` to the count over [start, end) and restores the canonical form.
  void Apply(std::int64_t start, std::int64_t end, int delta);
  // Makes sure a breakpoint exists at `t`, without changing the function it describes, and returns
  // where it is. Sets *inserted when it had to add it.
  Pos EnsureBreakpoint(std::int64_t t, bool* inserted);
  // Inserts a breakpoint just before position `p` and returns where it went. Sets *split when a
  // chunk was split, which moves positions in that chunk.
  Pos InsertBefore(Pos p, std::int64_t t, std::int32_t count, bool* split);
  // Erases the breakpoint at `p`. Returns true when chunks were merged, which can move positions
  // before `p`; otherwise those stay valid.
  bool Erase(Pos p);
  void SplitChunk(std::size_t c);
  bool MergeIfSparse(std::size_t c);

  // Invariants (InvariantsHold checks them): chunks are non-empty and hold at most kMaxChunk
  // breakpoints; first_times_[c] == chunks_[c]->times[0]; times strictly increase across all
  // chunks; the count is 0 before the first breakpoint and after the last one; no breakpoint
  // repeats the count before it, so the representation of a function is unique and an index whose
  // items were all removed holds no breakpoints.
  std::vector<std::unique_ptr<Chunk>> chunks_;
  // The first time of each chunk, contiguous so finding a chunk is one cache-friendly binary
  // search.
  std::vector<std::int64_t> first_times_;
  // The time of the last breakpoint, when there is one: a query or an update after every
  // breakpoint (booking past a resource's horizon, the usual case) then needs no search
  // through chunks that are likely not in the CPU's cache.
  std::int64_t last_time_ = 0;
  std::size_t items_ = 0;
};

}  // namespace smooth::internal
