// OccupancyIndex: the count function stored as sorted breakpoints in a two-level chunked array, so
// lookups are two binary searches and updates move at most one chunk's worth of memory.
#include "schedule/occupancy_index.hpp"

#include <algorithm>
#include <cassert>

namespace smooth::internal {
namespace {

// Largest chunk. An insert or erase moves half a chunk on average (1.5 KiB at 256), while splits
// and merges, which shift the per-chunk arrays, stay rare.
constexpr std::size_t kMaxChunk = 256;
// A chunk that shrinks below this joins a neighbour, if together they leave room for growth;
// otherwise many removals could leave many nearly empty chunks, each with a full capacity.
constexpr std::size_t kSparseChunk = kMaxChunk / 4;
constexpr std::size_t kMergedAtMost = kMaxChunk * 3 / 4;

std::int64_t Micros(Instant t) { return t.time_since_epoch().count(); }
Instant FromMicros(std::int64_t us) { return Instant(Duration(us)); }

void Prefetch(const void* address) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(address);
#else
  (void)address;
#endif
}

// std::upper_bound without branches on the data: query times are random, so those branches would
// mispredict about half the time. In a large index the chunk searched is usually not in cache, so
// each step also prefetches both possible next probes, overlapping the misses instead of taking
// them one after another (this halved Add+Remove time at 1M items).
std::size_t UpperBoundIndex(const std::vector<std::int64_t>& v, std::int64_t t) {
  std::size_t len = v.size();
  if (len == 0) return 0;
  const std::int64_t* base = v.data();
  // The answer stays within [base, base + len] of the original array.
  while (len > 1) {
    const std::size_t half = len / 2;
    Prefetch(base + half / 2);
    Prefetch(base + half + half / 2);
    base += (base[half] <= t) ? half : 0;
    len -= half;
  }
  return static_cast<std::size_t>(base - v.data()) + (*base <= t ? 1 : 0);
}

}  // namespace

void OccupancyIndex::Add(Span s) {
  assert(!s.empty() && "OccupancyIndex::Add of an empty span");
  if (s.empty()) return;
  Apply(Micros(s.start), Micros(s.end), +1);
  ++items_;
}

void OccupancyIndex::Remove(Span s) {
  assert(!s.empty() && "OccupancyIndex::Remove of an empty span");
  if (s.empty()) return;
  const std::int64_t start = Micros(s.start);
  const std::int64_t end = Micros(s.end);
  const bool covered = items_ > 0 && MinCount(start, end) >= 1;
  assert(covered && "OccupancyIndex::Remove of a span that was not added");
  if (!covered) return;
  Apply(start, end, -1);
  --items_;
}

int OccupancyIndex::MaxCount(Span s) const {
  if (s.empty()) return 0;
  const std::int64_t end = Micros(s.end);
  Pos p = UpperBound(Micros(s.start));
  int max = CountBefore(p);
  for (; !AtEnd(p) && TimeAt(p) < end; Next(&p)) max = std::max<int>(max, CountAt(p));
  return max;
}

int OccupancyIndex::MinCount(std::int64_t start, std::int64_t end) const {
  Pos p = UpperBound(start);
  int min = CountBefore(p);
  for (; !AtEnd(p) && TimeAt(p) < end; Next(&p)) min = std::min<int>(min, CountAt(p));
  return min;
}

void OccupancyIndex::FreeSpans(Span window, int capacity, std::vector<Span>* out) const {
  if (window.empty() || capacity <= 0) return;
  const std::int64_t end = Micros(window.end);
  // Neighbouring steps always differ in count, but two different counts can both be below the
  // capacity, so free steps are joined into one run until a full step closes it.
  bool open = false;
  std::int64_t run_start = 0;
  auto visit = [&](std::int64_t step_start, int count) {
    if (count < capacity) {
      if (!open) {
        open = true;
        run_start = step_start;
      }
    } else if (open) {
      out->push_back({FromMicros(run_start), FromMicros(step_start)});
      open = false;
    }
  };
  Pos p = UpperBound(Micros(window.start));
  visit(Micros(window.start), CountBefore(p));
  for (; !AtEnd(p) && TimeAt(p) < end; Next(&p)) visit(TimeAt(p), CountAt(p));
  if (open) out->push_back({FromMicros(run_start), window.end});
}

Duration OccupancyIndex::OccupiedTime(Span s) const {
  if (s.empty()) return Duration(0);
  const std::int64_t end = Micros(s.end);
  Pos p = UpperBound(Micros(s.start));
  std::int64_t at = Micros(s.start);
  std::int64_t count = CountBefore(p);
  std::int64_t total = 0;
  for (; !AtEnd(p) && TimeAt(p) < end; Next(&p)) {
    total += count * (TimeAt(p) - at);
    at = TimeAt(p);
    count = CountAt(p);
  }
  total += count * (end - at);
  return Duration(total);
}

std::size_t OccupancyIndex::MemoryBytes() const {
  std::size_t bytes =
      chunks_.capacity() * sizeof(chunks_[0]) + first_times_.capacity() * sizeof(first_times_[0]);
  for (const auto& chunk : chunks_) {
    bytes += sizeof(Chunk) + chunk->times.capacity() * sizeof(chunk->times[0]) +
             chunk->counts.capacity() * sizeof(chunk->counts[0]);
  }
  return bytes;
}

std::size_t OccupancyIndex::breakpoints() const {
  std::size_t n = 0;
  for (const auto& chunk : chunks_) n += chunk->times.size();
  return n;
}

bool OccupancyIndex::InvariantsHold() const {
  if (chunks_.size() != first_times_.size()) return false;
  if (items_ == 0 && !chunks_.empty()) return false;
  bool first = true;
  std::int64_t previous_time = 0;
  std::int32_t previous_count = 0;
  for (std::size_t c = 0; c < chunks_.size(); ++c) {
    const Chunk& chunk = *chunks_[c];
    if (chunk.times.empty() || chunk.times.size() > kMaxChunk) return false;
    if (chunk.times.size() != chunk.counts.size()) return false;
    if (first_times_[c] != chunk.times[0]) return false;
    for (std::size_t i = 0; i < chunk.times.size(); ++i) {
      if (!first && chunk.times[i] <= previous_time) return false;
      if (chunk.counts[i] < 0 || chunk.counts[i] == previous_count) return false;
      first = false;
      previous_time = chunk.times[i];
      previous_count = chunk.counts[i];
    }
  }
  if (!chunks_.empty() && last_time_ != previous_time) return false;
  return previous_count == 0;
}

void OccupancyIndex::Next(Pos* p) const {
  if (++p->index == chunks_[p->chunk]->times.size()) {
    ++p->chunk;
    p->index = 0;
  }
}

OccupancyIndex::Pos OccupancyIndex::Prev(Pos p) const {
  if (p.index > 0) return {p.chunk, p.index - 1};
  return {p.chunk - 1, chunks_[p.chunk - 1]->times.size() - 1};
}

OccupancyIndex::Pos OccupancyIndex::UpperBound(std::int64_t t) const {
  if (chunks_.empty() || t >= last_time_) return {chunks_.size(), 0};
  const std::size_t c = UpperBoundIndex(first_times_, t);
  if (c == 0) return {0, 0};
  const std::vector<std::int64_t>& times = chunks_[c - 1]->times;
  const std::size_t i = UpperBoundIndex(times, t);
  if (i == times.size()) return {c, 0};
  return {c - 1, i};
}

void OccupancyIndex::Apply(std::int64_t start, std::int64_t end, int delta) {
  bool start_is_new = false;
  Pos first = EnsureBreakpoint(start, &start_is_new);
  // Shift every step in [start, end), remembering the count the last one had, which is the count
  // that must resume at `end`.
  Pos p = first;
  std::int32_t resume = 0;
  do {
    std::int32_t& count = chunks_[p.chunk]->counts[p.index];
    resume = count;
    count += delta;
    Next(&p);
  } while (!AtEnd(p) && TimeAt(p) < end);
  // Every step inside [start, end) moved by the same delta, so only the two ends can now repeat the
  // count before them. A new breakpoint never does.
  bool first_moved = false;
  if (!AtEnd(p) && TimeAt(p) == end) {
    if (CountAt(p) == CountAt(Prev(p))) first_moved = Erase(p);
  } else {
    InsertBefore(p, end, resume, &first_moved);
  }
  if (start_is_new) return;
  if (first_moved) first = Prev(UpperBound(start));
  if (CountAt(first) == CountBefore(first)) Erase(first);
}

OccupancyIndex::Pos OccupancyIndex::EnsureBreakpoint(std::int64_t t, bool* inserted) {
  const Pos after = UpperBound(t);
  if (!IsFirst(after)) {
    const Pos at = Prev(after);
    if (TimeAt(at) == t) {
      *inserted = false;
      return at;
    }
  }
  *inserted = true;
  bool split = false;
  return InsertBefore(after, t, CountBefore(after), &split);
}

OccupancyIndex::Pos OccupancyIndex::InsertBefore(Pos p, std::int64_t t, std::int32_t count,
                                                 bool* split) {
  if (chunks_.empty()) {
    auto chunk = std::make_unique<Chunk>();
    chunk->times.push_back(t);
    chunk->counts.push_back(count);
    chunks_.push_back(std::move(chunk));
    first_times_.push_back(t);
    last_time_ = t;
    return {0, 0};
  }
  // Going before the first breakpoint of a chunk means going after the last one of the chunk before
  // it, which leaves first_times_ alone. Only a new overall minimum lands at index 0.
  std::size_t c = p.chunk;
  std::size_t i = p.index;
  if (i == 0 && c > 0) {
    --c;
    i = chunks_[c]->times.size();
  }
  if (chunks_[c]->times.size() == kMaxChunk) {
    if (c + 1 == chunks_.size() && i == kMaxChunk) {
      // Appending after a full last chunk starts a new chunk and leaves the full one full, so
      // bookings made in time order, the common case, pack chunks densely instead of leaving every
      // one of them half empty.
      auto chunk = std::make_unique<Chunk>();
      chunk->times.reserve(kMaxChunk);
      chunk->counts.reserve(kMaxChunk);
      chunk->times.push_back(t);
      chunk->counts.push_back(count);
      chunks_.push_back(std::move(chunk));
      first_times_.push_back(t);
      last_time_ = t;
      return {c + 1, 0};
    }
    SplitChunk(c);
    *split = true;
    const std::size_t left_size = chunks_[c]->times.size();
    if (i > left_size) {
      ++c;
      i -= left_size;
    }
  }
  Chunk& chunk = *chunks_[c];
  chunk.times.insert(chunk.times.begin() + static_cast<std::ptrdiff_t>(i), t);
  chunk.counts.insert(chunk.counts.begin() + static_cast<std::ptrdiff_t>(i), count);
  if (i == 0) first_times_[c] = t;
  if (c + 1 == chunks_.size() && i + 1 == chunk.times.size()) last_time_ = t;
  return {c, i};
}

void OccupancyIndex::SplitChunk(std::size_t c) {
  Chunk& left = *chunks_[c];
  const std::size_t half = left.times.size() / 2;
  auto right = std::make_unique<Chunk>();
  // Both halves will grow back towards kMaxChunk; reserving it now avoids regrowth copies, and the
  // left half keeps the capacity it already has, so neither ever holds more than kMaxChunk.
  right->times.reserve(kMaxChunk);
  right->counts.reserve(kMaxChunk);
  right->times.assign(left.times.begin() + static_cast<std::ptrdiff_t>(half), left.times.end());
  right->counts.assign(left.counts.begin() + static_cast<std::ptrdiff_t>(half), left.counts.end());
  left.times.resize(half);
  left.counts.resize(half);
  first_times_.insert(first_times_.begin() + static_cast<std::ptrdiff_t>(c + 1), right->times[0]);
  chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c + 1), std::move(right));
}

bool OccupancyIndex::Erase(Pos p) {
  Chunk& chunk = *chunks_[p.chunk];
  if (p.chunk + 1 == chunks_.size() && p.index + 1 == chunk.times.size()) {
    // The last breakpoint goes: the one before it, if any, becomes the last.
    if (p.index > 0) {
      last_time_ = chunk.times[p.index - 1];
    } else if (p.chunk > 0) {
      last_time_ = chunks_[p.chunk - 1]->times.back();
    }
  }
  chunk.times.erase(chunk.times.begin() + static_cast<std::ptrdiff_t>(p.index));
  chunk.counts.erase(chunk.counts.begin() + static_cast<std::ptrdiff_t>(p.index));
  if (chunk.times.empty()) {
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(p.chunk));
    first_times_.erase(first_times_.begin() + static_cast<std::ptrdiff_t>(p.chunk));
    if (chunks_.empty()) {
      // An index whose items were all removed gives its memory back.
      chunks_.shrink_to_fit();
      first_times_.shrink_to_fit();
    }
    return false;
  }
  if (p.index == 0) first_times_[p.chunk] = chunk.times[0];
  return chunk.times.size() < kSparseChunk && MergeIfSparse(p.chunk);
}

bool OccupancyIndex::MergeIfSparse(std::size_t c) {
  const std::size_t size = chunks_[c]->times.size();
  std::size_t left;
  if (c + 1 < chunks_.size() && size + chunks_[c + 1]->times.size() <= kMergedAtMost) {
    left = c;
  } else if (c > 0 && size + chunks_[c - 1]->times.size() <= kMergedAtMost) {
    left = c - 1;
  } else {
    return false;
  }
  Chunk& into = *chunks_[left];
  const Chunk& from = *chunks_[left + 1];
  if (into.times.capacity() < into.times.size() + from.times.size()) {
    into.times.reserve(kMaxChunk);
    into.counts.reserve(kMaxChunk);
  }
  into.times.insert(into.times.end(), from.times.begin(), from.times.end());
  into.counts.insert(into.counts.end(), from.counts.begin(), from.counts.end());
  chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(left + 1));
  first_times_.erase(first_times_.begin() + static_cast<std::ptrdiff_t>(left + 1));
  return true;
}

}  // namespace smooth::internal
