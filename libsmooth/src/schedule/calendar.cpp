// Calendar: validation and normalization of a CalendarSpec, and its expansion into open
// spans of absolute time.
#include "schedule/calendar.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "schedule/civil_time.hpp"

namespace smooth::internal {
namespace {

constexpr std::chrono::minutes kDayLength{1440};
constexpr std::string_view kWeekdayNames[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                               "Friday", "Saturday", "Sunday"};

std::string Clock(std::chrono::minutes m) {
  const auto total = m.count();
  if (total < 0 || total > kDayLength.count()) return fmt::format("{} min", total);
  return fmt::format("{:02}:{:02}", total / 60, total % 60);
}

// Checks each interval, then sorts and merges overlapping or touching ones in place.
// `where` says which day the list belongs to, for the error message.
Status NormalizeHours(std::vector<DailyInterval>* hours, std::string_view field,
                      std::string_view where) {
  for (const DailyInterval& iv : *hours) {
    if (iv.start.count() < 0 || iv.end > kDayLength || !(iv.start < iv.end)) {
      return InvalidArgument(
          fmt::format("{}: {} interval {}-{} must satisfy 00:00 <= start < end <= 24:00", field,
                      where, Clock(iv.start), Clock(iv.end)));
    }
  }
  std::sort(hours->begin(), hours->end(),
            [](const DailyInterval& a, const DailyInterval& b) { return a.start < b.start; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < hours->size(); ++i) {
    const DailyInterval iv = (*hours)[i];
    if (kept > 0 && iv.start <= (*hours)[kept - 1].end) {
      (*hours)[kept - 1].end = std::max((*hours)[kept - 1].end, iv.end);
    } else {
      (*hours)[kept++] = iv;
    }
  }
  hours->resize(kept);
  return Status::Ok();
}

// Sorts spans[from, end) by start and merges overlapping or touching spans.
void SortAndMerge(std::vector<Span>* spans, std::size_t from) {
  auto by_start = [](const Span& a, const Span& b) { return a.start < b.start; };
  auto first = spans->begin() + static_cast<std::ptrdiff_t>(from);
  // Spans are produced in order except around a spring-forward gap, where the
  // LocalToInstant rule is not monotonic; check before paying for a sort.
  if (!std::is_sorted(first, spans->end(), by_start)) std::sort(first, spans->end(), by_start);
  std::size_t kept = from;
  for (std::size_t i = from; i < spans->size(); ++i) {
    const Span s = (*spans)[i];
    if (kept > from && s.start <= (*spans)[kept - 1].end) {
      (*spans)[kept - 1].end = std::max((*spans)[kept - 1].end, s.end);
    } else {
      (*spans)[kept++] = s;
    }
  }
  spans->resize(kept);
}

// ISO weekday index (Monday = 0) of a day count; 1970-01-01 was a Thursday.
int IsoWeekdayIndex(date::local_days day) {
  const int n = day.time_since_epoch().count();
  return ((n % 7) + 7 + 3) % 7;
}

}  // namespace

Result<Calendar> Calendar::Make(CalendarSpec spec) {
  Calendar cal;
  Result<const date::time_zone*> zone = FindZone(spec.time_zone, "time_zone");
  if (!zone) return zone.error();
  cal.zone_ = *zone;

  for (std::size_t d = 0; d < 7; ++d) {
    SMOOTH_RETURN_IF_ERROR(NormalizeHours(&spec.weekly[d], "working_hours", kWeekdayNames[d]));
    cal.weekly_[d] = std::move(spec.weekly[d]);
  }

  cal.overrides_.reserve(spec.overrides.size());
  for (DateOverride& o : spec.overrides) {
    const std::string date_text = FormatLocalDate(o.date);
    if (!IsValidDate(o.date)) {
      return InvalidArgument(fmt::format("overrides: {} is not a date", date_text));
    }
    SMOOTH_RETURN_IF_ERROR(NormalizeHours(&o.hours, "overrides", date_text));
    cal.overrides_.push_back({ToLocalDays(o.date).time_since_epoch().count(), std::move(o.hours)});
  }
  std::sort(cal.overrides_.begin(), cal.overrides_.end(),
            [](const Override& a, const Override& b) { return a.day < b.day; });
  for (std::size_t i = 1; i < cal.overrides_.size(); ++i) {
    if (cal.overrides_[i].day == cal.overrides_[i - 1].day) {
      return InvalidArgument(fmt::format(
          "overrides: more than one override for {}",
          FormatLocalDate(FromLocalDays(date::local_days(date::days(cal.overrides_[i].day))))));
    }
  }

  for (std::size_t i = 0; i < spec.time_off.size(); ++i) {
    if (spec.time_off[i].empty()) {
      return InvalidArgument(fmt::format("time_off: entry {} must start before it ends ({} .. {})",
                                         i + 1, FormatRfc3339(spec.time_off[i].start),
                                         FormatRfc3339(spec.time_off[i].end)));
    }
  }
  cal.time_off_ = std::move(spec.time_off);
  SortAndMerge(&cal.time_off_, 0);
  return cal;
}

void Calendar::OpenSpans(Span window, std::vector<Span>* out) const {
  if (window.empty()) return;
  const std::size_t from = out->size();
  LocalTimeConverter converter(zone_);
  // One day of slack on each side: once converted by the gap/overlap rule, a local
  // date's hours can spill past its own midnights (where midnight itself falls in a gap,
  // as in zones that change at 00:00), so neighbouring dates may reach the window.
  const date::local_days first = converter.DayOf(window.start) - date::days(1);
  const date::local_days last = converter.DayOf(window.end) + date::days(1);

  auto override_it =
      std::lower_bound(overrides_.begin(), overrides_.end(), first.time_since_epoch().count(),
                       [](const Override& o, std::int32_t day) { return o.day < day; });
  // Time off that ends at or before the window cannot matter.
  const auto off_first = std::partition_point(time_off_.begin(), time_off_.end(),
                                              [&](const Span& t) { return t.end <= window.start; });

  for (date::local_days day = first; day <= last; day += date::days(1)) {
    const std::int32_t n = day.time_since_epoch().count();
    while (override_it != overrides_.end() && override_it->day < n) ++override_it;
    const std::vector<DailyInterval>& hours =
        (override_it != overrides_.end() && override_it->day == n)
            ? override_it->hours
            : weekly_[static_cast<std::size_t>(IsoWeekdayIndex(day))];

    for (const DailyInterval& iv : hours) {
      Instant start = std::max(converter.ToInstant(day, iv.start), window.start);
      const Instant end = std::min(converter.ToInstant(day, iv.end), window.end);
      if (!(start < end)) continue;
      // Subtract time off: sorted and merged, so one forward walk suffices.
      auto off = std::partition_point(off_first, time_off_.end(),
                                      [&](const Span& t) { return t.end <= start; });
      for (; off != time_off_.end() && off->start < end && start < end; ++off) {
        if (start < off->start) out->push_back({start, off->start});
        start = std::max(start, off->end);
      }
      if (start < end) out->push_back({start, end});
    }
  }
  SortAndMerge(out, from);
}

bool Calendar::Contains(Span s) const {
  if (s.empty()) return false;
  // Cheap refusal first: any time off overlapping s.
  const auto off = std::partition_point(time_off_.begin(), time_off_.end(),
                                        [&](const Span& t) { return t.end <= s.start; });
  if (off != time_off_.end() && off->start < s.end) return false;
  // Reusing OpenSpans keeps one definition of "open"; the per-thread buffer keeps the
  // call free of allocations once warm.
  thread_local std::vector<Span> scratch;
  scratch.clear();
  OpenSpans(s, &scratch);
  return scratch.size() == 1 && scratch.front() == s;
}

}  // namespace smooth::internal
