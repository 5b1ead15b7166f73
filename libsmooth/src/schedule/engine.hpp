// The booking-validity rule, shared by booking and availability: at which starts can a
// resource host an item of a given timing, and which distinct resources serve a request.
#pragma once

#include <optional>
#include <vector>

#include "schedule/calendar.hpp"
#include "schedule/occupancy_index.hpp"
#include "schedule/span.hpp"
#include "smooth/schedule_types.hpp"

namespace smooth::internal {

/// How an item sits on a resource: [start, start + duration) must be in working hours,
/// [start - buffer_before, start + duration + buffer_after) must fit under capacity.
struct Timing {
  Duration duration{0};
  Duration buffer_before{0};
  Duration buffer_after{0};

  Span Occupied(Instant start) const {
    return {start - buffer_before, start + duration + buffer_after};
  }
};

/// One resource as the engine sees it: its row, its calendar, and its occupancy.
struct ResourceState {
  Resource resource;
  Calendar calendar;
  OccupancyIndex index;
};

/// Reusable buffers, so repeated rule evaluations do not allocate.
struct Scratch {
  std::vector<Span> open;
  std::vector<Span> free;
  std::vector<Span> starts;
  std::vector<Span> result;  // CanStartAt's answer
};

/// THE rule. Appends to *out the sorted, disjoint ranges of starts t within `window`
/// (a span of candidate starts) at which `rs` can host an item of `timing`:
///   - [t, t + duration) lies inside one open span of the calendar (unless ignore_hours),
///   - [t - buffer_before, t + duration + buffer_after) fits under the resource capacity.
/// Both booking (with a one-microsecond window) and availability (with whole days) call
/// this, so they cannot disagree.
void ValidStarts(const ResourceState& rs, const Timing& timing, bool ignore_hours, Span window,
                 Scratch* scratch, std::vector<Span>* out);

/// True when `rs` can host an item of `timing` starting at `t`.
bool CanStartAt(const ResourceState& rs, const Timing& timing, bool ignore_hours, Instant t,
                Scratch* scratch);

/// Chooses one distinct resource per requirement from `candidates` (each list in order of
/// preference). Fills *picks and returns true when possible; tries preferred resources
/// first and backtracks, so the result is deterministic.
bool AssignDistinct(const std::vector<std::vector<ResourceId>>& candidates,
                    std::vector<ResourceId>* picks);

}  // namespace smooth::internal
