// The booking-validity rule; see engine.hpp.
#include "schedule/engine.hpp"

#include <algorithm>
#include <cassert>
#include <memory>
#include <new>
#include <type_traits>

#include "schedule/civil_time.hpp"

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

// --- SlotGrid ------------------------------------------------------------------------------

SlotGrid::SlotGrid(const date::time_zone* zone, LocalDate from, LocalDate to, Duration interval)
    : zone_(zone),
      interval_(interval),
      first_day_(ToLocalDays(from).time_since_epoch().count()),
      last_day_(ToLocalDays(to).time_since_epoch().count()) {
  LocalTimeConverter local(zone);
  const date::local_days last = ToLocalDays(to);
  date::local_days d = ToLocalDays(from);
  Instant midnight = local.ToInstant(d, std::chrono::minutes(0));
  dates_.start = midnight;
  for (; d <= last; d += date::days(1)) {
    const Instant next = local.ToInstant(d + date::days(1), std::chrono::minutes(0));
    if (midnight < next) {
      const auto count = static_cast<std::uint32_t>((next - midnight + interval - kTick) / interval);
      days_.push_back({midnight, next, size_, count});
      size_ += count;
    }
    midnight = next;
  }
  dates_.end = midnight;
}

Instant SlotGrid::Start(std::size_t k) const {
  auto day = std::upper_bound(days_.begin(), days_.end(), k,
                              [](std::size_t slot, const Day& d) { return slot < d.base; });
  --day;
  return day->first + static_cast<std::int64_t>(k - day->base) * interval_;
}

void SlotGrid::Mark(std::span<const Span> ranges, std::uint64_t* bits) const {
  std::size_t day = 0;
  for (const Span& range : ranges) {
    const Instant a = range.start;
    const Instant b = range.end;
    while (day < days_.size() && days_[day].end <= a) ++day;
    for (std::size_t d = day; d < days_.size() && days_[d].first < b; ++d) {
      const Day& on = days_[d];
      const std::uint32_t from = a <= on.first ? 0 : StepsTo(a - on.first);
      const std::uint32_t to = b >= on.end ? on.count : StepsTo(b - on.first);
      for (std::size_t k = on.base + from; k < on.base + to;) {
        // Whole words at a time: a range of starts often spans many slots.
        const std::size_t bit = k % 64;
        const std::size_t n = std::min<std::size_t>(64 - bit, on.base + to - k);
        const std::uint64_t ones = n == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << n) - 1);
        bits[k / 64] |= ones << bit;
        k += n;
      }
    }
  }
}

std::size_t SlotGrid::SlotsFrom(std::int32_t day) const {
  if (day >= first_day_) return 0;
  if (!offset_known_ || offset_day_ != day) {
    const auto first = date::local_days(date::days(day));
    SlotGrid before(zone_, FromLocalDays(first),
                    FromLocalDays(date::local_days(date::days(first_day_ - 1))), interval_);
    offset_day_ = day;
    offset_ = before.size();
    offset_known_ = true;
  }
  return offset_;
}

// ceil(x / interval) for 0 < x < 63 days, without a 64-bit division or a data-dependent
// branch. With x = (m - 1) * interval + s, 1 <= s <= interval, the quotient
// (x + interval - 1/2) / interval lies in [m + 1/2 / interval, m + 1 - 1/2 / interval]; the
// double product's relative error (2^-52) is below that margin while the numerator is
// under 2^51 microseconds (71 years; intervals are at most 10 years), so truncation gives m.
std::uint32_t SlotGrid::StepsTo(Duration x) const {
  const auto q = static_cast<std::int64_t>((static_cast<double>(x.count()) + half_less_) *
                                           per_interval_);
  assert(q * interval_ >= x && (q - 1) * interval_ < x);
  return static_cast<std::uint32_t>(q);
}

void SlotBits::CopyTo(std::size_t n, std::uint64_t* out) const {
  const std::size_t out_words = (n + 63) / 64;
  const std::uint64_t* from = words + offset / 64;
  const std::size_t shift = offset % 64;
  if (shift == 0) {
    std::copy(from, from + out_words, out);
  } else {
    // Bits past the source's slots are zero, and the word after the last one read exists
    // whenever those slots reach into it.
    const std::size_t source_words = (shift + n + 63) / 64;
    for (std::size_t w = 0; w < out_words; ++w) {
      std::uint64_t v = from[w] >> shift;
      if (w + 1 < source_words) v |= from[w + 1] << (64 - shift);
      out[w] = v;
    }
  }
  if (n % 64 != 0) out[out_words - 1] &= (std::uint64_t{1} << (n % 64)) - 1;
}

// --- StartsCache ---------------------------------------------------------------------------

namespace {
// Bounds on one resource's cache, so memory stays bounded whatever is asked: a day on a
// 30-minute grid is one word, two months on a 1-minute grid about 1,400.
constexpr std::size_t kMaxEntries = 16;
constexpr std::size_t kMaxWords = 4096;
}  // namespace

// An entry and its words in one allocation: the words follow the entry, so a lookup that
// hits touches two cache lines. The fields a lookup reads come first.
struct StartsCache::Entry {
  Entry* next;  // set before the entry is published, changed only by writers
  const date::time_zone* zone;
  Duration interval;
  Timing timing;
  std::int32_t first_day;
  std::int32_t last_day;
  Span dates;
  std::size_t size;  // words

  // The occupancy the answer was computed from (what ValidStarts asks FreeSpans about).
  Span Depends() const {
    return {dates.start - timing.buffer_before, dates.end + timing.duration + timing.buffer_after};
  }

  const std::uint64_t* words() const { return reinterpret_cast<const std::uint64_t*>(this + 1); }

  static Entry* Make(const Timing& timing, const SlotGrid& grid, const std::uint64_t* bits) {
    static_assert(alignof(Entry) >= alignof(std::uint64_t) &&
                  sizeof(Entry) % alignof(std::uint64_t) == 0);
    const std::size_t n = grid.words();
    void* memory = ::operator new(sizeof(Entry) + n * sizeof(std::uint64_t));
    auto* e = new (memory) Entry{nullptr,         grid.zone(),    grid.interval(), timing,
                                 grid.first_day(), grid.last_day(), grid.dates(),    n};
    std::uninitialized_copy(bits, bits + n, reinterpret_cast<std::uint64_t*>(e + 1));
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
  words_.store(other.words_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  full_.store(other.full_.exchange(false, std::memory_order_relaxed), std::memory_order_relaxed);
  return *this;
}

bool StartsCache::Find(const Timing& timing, const SlotGrid& grid, SlotBits* slots) const {
  for (const Entry* e = head_.load(std::memory_order_acquire); e != nullptr; e = e->next) {
    if (e->zone == grid.zone() && e->interval == grid.interval() && e->timing == timing &&
        e->first_day <= grid.first_day() && grid.last_day() <= e->last_day) {
      // Both grids number the same slots of the same dates, the entry's from further back.
      *slots = {e->words(), grid.SlotsFrom(e->first_day)};
      return true;
    }
  }
  return false;
}

bool StartsCache::Insert(const Timing& timing, const SlotGrid& grid, const std::uint64_t* bits,
                         SlotBits* stored) const {
  // Claim room first, so concurrent inserts cannot together overshoot the bounds.
  const std::size_t size = grid.words();
  const std::size_t n = entries_.fetch_add(1, std::memory_order_relaxed) + 1;
  const std::size_t words = words_.fetch_add(size, std::memory_order_relaxed) + size;
  if (n > kMaxEntries || words > kMaxWords) {
    entries_.fetch_sub(1, std::memory_order_relaxed);
    words_.fetch_sub(size, std::memory_order_relaxed);
    full_.store(true, std::memory_order_relaxed);
    return false;
  }
  Entry* e = Entry::Make(timing, grid, bits);
  Entry* head = head_.load(std::memory_order_relaxed);
  do {
    e->next = head;
  } while (!head_.compare_exchange_weak(head, e, std::memory_order_release,
                                        std::memory_order_relaxed));
  *stored = {e->words(), 0};
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
      words_.fetch_sub(e->size, std::memory_order_relaxed);
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
  words_.store(0, std::memory_order_relaxed);
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

bool ValidSlotsCached(const ResourceState& rs, const Timing& timing, const SlotGrid& grid,
                      Scratch* scratch, SlotBits* slots) {
  // Entries exist only for active resources (they are inserted below, and Redefine clears
  // them), so a hit needs no look at the row.
  if (rs.starts.Find(timing, grid, slots)) return true;
  if (!rs.resource.is_active) return false;
  scratch->result.clear();
  ValidStarts(rs, timing, false, grid.dates(), scratch, &scratch->result);
  scratch->bits.assign(grid.words(), 0);
  grid.Mark(scratch->result, scratch->bits.data());
  if (rs.starts.Insert(timing, grid, scratch->bits.data(), slots)) return true;
  scratch->cache_full = true;
  *slots = {scratch->bits.data(), 0};
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
