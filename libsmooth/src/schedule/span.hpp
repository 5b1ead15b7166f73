// Span: a half-open interval of absolute time, [start, end). Touching is not overlapping.
#pragma once

#include "smooth/time.hpp"

namespace smooth::internal {

struct Span {
  Instant start;
  Instant end;

  bool empty() const { return !(start < end); }
  bool Overlaps(const Span& o) const { return start < o.end && o.start < end; }
  bool Contains(const Span& o) const { return start <= o.start && o.end <= end; }
  friend bool operator==(const Span&, const Span&) = default;
};

}  // namespace smooth::internal
