// The booking-validity rule; see engine.hpp.
#include "schedule/engine.hpp"

#include <algorithm>
#include <memory>
#include <new>
#include <type_traits>

namespace smooth::internal {
namespace {

constexpr Duration kTick{1};  // one microsecond: turns "t <= x" into "t < x + tick"

// Intersects two sorted lists of disjoint spans into *out.
void Intersect(const std::vector<Span>& a, const std::vector<Span>& b, std::vector<Span>* out) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    Instant s = std::max(a[i].start, b[j].start);
    Instant e = std::min(a[i].end, b[j].end);
    if (s < e) out->push_back({s, e});
    if (a[i].end < b[j].end) {
      ++i;
    } else {
      ++j;
    }
  }
}

bool Assign(const std::vector<std::vector<ResourceId>>& candidates, std::size_t i,
            std::vector<ResourceId>* picks) {
  if (i == candidates.size()) return true;
  for (ResourceId r : candidates[i]) {
    if (std::find(picks->begin(), picks->begin() + static_cast<std::ptrdiff_t>(i), r) !=
        picks->begin() + static_cast<std::ptrdiff_t>(i))
      continue;
    (*picks)[i] = r;
    if (Assign(candidates, i + 1, picks)) return true;
  }
  return false;
}

}  // namespace

// --- StartsCache ---------------------------------------------------------------------------

namespace {
// Bounds on one resource's cache, so memory stays bounded whatever is asked: a day of a
// typical calendar is a handful of ranges, a month of a busy one a few hundred.
constexpr std::size_t kMaxEntries = 16;
constexpr std::size_t kMaxSpans = 2048;
}  // namespace

// An entry and its starts in one allocation: the starts follow the entry, so a lookup that
// hits touches one or two cache lines. The fields a lookup reads come first.
struct StartsCache::Entry {
  Timing timing;
  Span window;
  Entry* next;  // set before the entry is published, changed only by writers
  std::size_t size;

  // The occupancy the answer was computed from (what ValidStarts asks FreeSpans about).
  Span Depends() const {
    return {window.start - timing.buffer_before,
            window.end + timing.duration + timing.buffer_after};
  }

  std::span<const Span> starts() const { return {reinterpret_cast<const Span*>(this + 1), size}; }

  static Entry* Make(const Timing& timing, Span window, const std::vector<Span>& starts) {
    static_assert(alignof(Entry) >= alignof(Span) && sizeof(Entry) % alignof(Span) == 0);
    static_assert(std::is_trivially_copyable_v<Span> && std::is_trivially_destructible_v<Span>);
    void* memory = ::operator new(sizeof(Entry) + starts.size() * sizeof(Span));
    auto* e = new (memory) Entry{timing, window, nullptr, starts.size()};
    std::uninitialized_copy(starts.begin(), starts.end(), reinterpret_cast<Span*>(e + 1));
    return e;
  }
  static void Free(Entry* e) {
    e->~Entry();
    ::operator delete(e);
  }
};

StartsCache::StartsCache(StartsCache&& other) noexcept { *this = std::move(other); }

StartsCache& StartsCache::operator=(StartsCache&& other) noexcept {
  if (this == &other) return *this;
  Clear();
  head_.store(other.head_.exchange(nullptr, std::memory_order_relaxed), std::memory_order_relaxed);
  entries_.store(other.entries_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  spans_.store(other.spans_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  full_.store(other.full_.exchange(false, std::memory_order_relaxed), std::memory_order_relaxed);
  return *this;
}

bool StartsCache::Find(const Timing& timing, Span window, std::span<const Span>* starts) const {
  for (const Entry* e = head_.load(std::memory_order_acquire); e != nullptr; e = e->next) {
    if (e->timing == timing && e->window.Contains(window)) {
      *starts = e->starts();
      return true;
    }
  }
  return false;
}

bool StartsCache::Insert(const Timing& timing, Span window, const std::vector<Span>& starts,
                         std::span<const Span>* stored) const {
  // Claim room first, so concurrent inserts cannot together overshoot the bounds.
  const std::size_t n = entries_.fetch_add(1, std::memory_order_relaxed) + 1;
  const std::size_t spans = spans_.fetch_add(starts.size(), std::memory_order_relaxed) + starts.size();
  if (n > kMaxEntries || spans > kMaxSpans) {
    entries_.fetch_sub(1, std::memory_order_relaxed);
    spans_.fetch_sub(starts.size(), std::memory_order_relaxed);
    full_.store(true, std::memory_order_relaxed);
    return false;
  }
  Entry* e = Entry::Make(timing, window, starts);
  Entry* head = head_.load(std::memory_order_relaxed);
  do {
    e->next = head;
  } while (!head_.compare_exchange_weak(head, e, std::memory_order_release,
                                        std::memory_order_relaxed));
  *stored = e->starts();
  return true;
}

void StartsCache::Invalidate(Span changed) {
  Entry* prev = nullptr;
  Entry* e = head_.load(std::memory_order_relaxed);
  while (e != nullptr) {
    Entry* next = e->next;
    if (e->Depends().Overlaps(changed)) {
      if (prev != nullptr) {
        prev->next = next;
      } else {
        head_.store(next, std::memory_order_relaxed);
      }
      entries_.fetch_sub(1, std::memory_order_relaxed);
      spans_.fetch_sub(e->size, std::memory_order_relaxed);
      Entry::Free(e);
    } else {
      prev = e;
    }
    e = next;
  }
}

void StartsCache::Clear() {
  Entry* e = head_.exchange(nullptr, std::memory_order_relaxed);
  while (e != nullptr) {
    Entry* next = e->next;
    Entry::Free(e);
    e = next;
  }
  entries_.store(0, std::memory_order_relaxed);
  spans_.store(0, std::memory_order_relaxed);
  full_.store(false, std::memory_order_relaxed);
}

// --- The rule ------------------------------------------------------------------------------

void ValidStarts(const ResourceState& rs, const Timing& timing, bool ignore_hours, Span window,
                 Scratch* scratch, std::vector<Span>* out) {
  if (window.empty()) return;
  const int capacity = rs.resource.capacity;
  // Starts allowed by capacity: t - before >= free.start and t + duration + after <= free.end.
  scratch->free.clear();
  rs.index.FreeSpans({window.start - timing.buffer_before,
                      window.end + timing.duration + timing.buffer_after},
                     capacity, &scratch->free);
  std::vector<Span>& by_capacity = scratch->starts;
  by_capacity.clear();
  for (const Span& f : scratch->free) {
    Span s{std::max(f.start + timing.buffer_before, window.start),
           std::min(f.end - timing.duration - timing.buffer_after + kTick, window.end)};
    if (!s.empty()) by_capacity.push_back(s);
  }
  if (ignore_hours) {
    out->insert(out->end(), by_capacity.begin(), by_capacity.end());
    return;
  }
  // Starts allowed by working hours: t >= open.start and t + duration <= open.end.
  scratch->open.clear();
  rs.calendar.OpenSpans({window.start, window.end + timing.duration}, &scratch->open);
  std::size_t kept = 0;
  for (const Span& o : scratch->open) {
    Span s{std::max(o.start, window.start), std::min(o.end - timing.duration + kTick, window.end)};
    if (!s.empty()) scratch->open[kept++] = s;
  }
  scratch->open.resize(kept);
  Intersect(scratch->open, by_capacity, out);
}

bool ValidStartsCached(const ResourceState& rs, const Timing& timing, Span window,
                       Scratch* scratch, std::span<const Span>* starts) {
  // Entries exist only for active resources (they are inserted below, and Redefine clears
  // them), so a hit needs no look at the row.
  if (rs.starts.Find(timing, window, starts)) return true;
  if (!rs.resource.is_active) return false;
  scratch->result.clear();
  ValidStarts(rs, timing, false, window, scratch, &scratch->result);
  if (!rs.starts.Insert(timing, window, scratch->result, starts)) *starts = scratch->result;
  return true;
}

bool CanStartAt(const ResourceState& rs, const Timing& timing, bool ignore_hours, Instant t,
                Scratch* scratch) {
  scratch->result.clear();
  ValidStarts(rs, timing, ignore_hours, {t, t + kTick}, scratch, &scratch->result);
  return !scratch->result.empty();
}

bool AssignDistinct(const std::vector<std::vector<ResourceId>>& candidates,
                    std::vector<ResourceId>* picks) {
  picks->assign(candidates.size(), ResourceId());
  return Assign(candidates, 0, picks);
}

}  // namespace smooth::internal
