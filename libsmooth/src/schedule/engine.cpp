// The booking-validity rule; see engine.hpp.
#include "schedule/engine.hpp"

#include <algorithm>

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
