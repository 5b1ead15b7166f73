// Civil-to-absolute time conversion over date/tz, and the one rule for gaps and overlaps
// (see civil_time.hpp).
#include "schedule/civil_time.hpp"

#include "schedule/zone_rule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <exception>
#include <string>

namespace smooth::internal {
namespace {

using std::chrono::seconds;

// Longer than any difference between two UTC offsets in the tz database (under 32 hours:
// local mean times reach -15:56 in Asia/Manila and +15:13 in America/Metlakatla). A local
// time mapped this far inside an offset period cannot belong to any other period.
constexpr seconds kPeriodMargin = std::chrono::hours(48);

}  // namespace

Result<const date::time_zone*> FindZone(std::string_view name, std::string_view field) {
  if (name.empty()) return InvalidArgument(fmt::format("{}: must not be empty", field));
  // "localtime" is a link to the host's /etc/localtime, not an IANA name: accepting it
  // would make a stored rule mean different things on different servers.
  if (name == "localtime") {
    return InvalidArgument(fmt::format("{}: unknown time zone '{}'", field, name));
  }
  try {
    // Loads the database on first use; a failure there is ours, not the caller's.
    (void)date::get_tzdb();
  } catch (const std::exception& e) {
    return Internal(fmt::format("time zone database unavailable: {}", e.what()));
  }
  try {
    // locate_zone looks the name up in a sorted table; no further cache is needed.
    return date::locate_zone(name);
  } catch (const std::exception&) {
    // Names are echoed back to the caller who typed them; cap the length.
    constexpr std::size_t kMaxEcho = 64;
    std::string shown(name.substr(0, kMaxEcho));
    if (name.size() > kMaxEcho) shown += "...";
    return InvalidArgument(fmt::format("{}: unknown time zone '{}'", field, shown));
  }
}

Instant LocalToInstant(const date::time_zone* zone, LocalDate date,
                       std::chrono::minutes since_midnight) {
  assert(IsCalendarDate(date));
  const date::local_seconds local = date::local_seconds(ToLocalDays(date)) + since_midnight;
  // For a unique time `first` is its period. For a gap, `first` is the period before the
  // gap (the RFC 5545 rule); for an overlap, `first` is the earlier period, which gives
  // the first occurrence. One expression covers all three cases.
  const date::local_info info = ZoneLocalInfo(zone, local);
  return Instant(local.time_since_epoch() - info.first.offset);
}

date::local_time<Duration> ToLocal(const date::time_zone* zone, Instant t) {
  const date::sys_info info = ZoneSysInfo(zone, date::floor<seconds>(t));
  return date::local_time<Duration>(t.time_since_epoch() + info.offset);
}

LocalDate LocalDateOf(const date::time_zone* zone, Instant t) {
  return FromLocalDays(date::floor<date::days>(ToLocal(zone, t)));
}

std::chrono::minutes LocalMinutesOf(const date::time_zone* zone, Instant t) {
  const auto local = ToLocal(zone, t);
  return date::floor<std::chrono::minutes>(local - date::floor<date::days>(local));
}

Instant LocalMidnight(const date::time_zone* zone, LocalDate date) {
  return LocalToInstant(zone, date, std::chrono::minutes(0));
}

Weekday WeekdayOf(LocalDate date) {
  // iso_encoding: Monday = 1 ... Sunday = 7.
  const unsigned iso = date::weekday(ToLocalDays(date)).iso_encoding();
  return static_cast<Weekday>(iso - 1);
}

LocalDate AddDays(LocalDate date, int days) {
  return FromLocalDays(ToLocalDays(date) + date::days(days));
}

bool IsCalendarDate(LocalDate date) {
  // Range first: date::month and date::day keep an unsigned char, so 257 would wrap to 1.
  if (date.month < 1 || date.month > 12 || date.day < 1 || date.day > 31) return false;
  return date::year_month_day(date::year(date.year), date::month(date.month), date::day(date.day))
      .ok();
}

bool IsValidDate(LocalDate date) {
  // Years 1 to 9999: the dates YYYY-MM-DD can write and read back (FormatLocalDate,
  // ParseLocalDate), which is how working-hours overrides are stored.
  return date.year >= 1 && date.year <= 9999 && IsCalendarDate(date);
}

Status ValidateInstant(Instant t, std::string_view field) {
  if (t < kFirstInstant || t >= kEndInstant)
    return InvalidArgument(fmt::format(
        "{}: must be in years 1 to 9999 UTC (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z)",
        field));
  return {};
}

date::local_days ToLocalDays(LocalDate date) {
  return date::local_days(
      date::year_month_day(date::year(date.year), date::month(date.month), date::day(date.day)));
}

LocalDate FromLocalDays(date::local_days days) {
  const date::year_month_day ymd(days);
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

namespace {

// What a converter learned about a zone: the offset period and its fast-path limits. Pure
// functions of the tz database, which does not change while the process runs.
struct RememberedPeriod {
  const date::time_zone* zone = nullptr;
  bool refined = false;
  date::sys_seconds begin{};
  date::sys_seconds end{};
  std::chrono::seconds offset{0};
  date::sys_seconds fast_begin{};
  date::sys_seconds fast_end{};
};

// A few zones per thread: a tenant's resources and its customers' zones are usually few.
constexpr std::size_t kRememberedZones = 4;
thread_local std::array<RememberedPeriod, kRememberedZones> remembered;
thread_local std::size_t remembered_next = 0;

}  // namespace

LocalTimeConverter::LocalTimeConverter(const date::time_zone* zone) : zone_(zone) {
  for (const RememberedPeriod& r : remembered) {
    if (r.zone != zone) continue;
    loaded_ = true;
    refined_ = r.refined;
    begin_ = r.begin;
    end_ = r.end;
    offset_ = r.offset;
    fast_begin_ = r.fast_begin;
    fast_end_ = r.fast_end;
    return;
  }
}

LocalTimeConverter::~LocalTimeConverter() {
  if (!loaded_) return;
  RememberedPeriod* slot = nullptr;
  for (RememberedPeriod& r : remembered)
    if (r.zone == zone_) slot = &r;
  if (slot == nullptr) {
    slot = &remembered[remembered_next];
    remembered_next = (remembered_next + 1) % kRememberedZones;
  }
  *slot = {zone_, refined_, begin_, end_, offset_, fast_begin_, fast_end_};
}

void LocalTimeConverter::Load(date::sys_seconds t) {
  const date::sys_info info = ZoneSysInfo(zone_, t);
  begin_ = info.begin;
  end_ = info.end;
  offset_ = info.offset;
  loaded_ = true;
  refined_ = false;
  fast_begin_ = begin_ + kPeriodMargin;
  fast_end_ = end_ - kPeriodMargin;
}

void LocalTimeConverter::Refine() {
  // At the start of the period, local times up to begin + max(offset, previous offset)
  // belong to the previous period (its gap, or its first occurrence of an overlap); at
  // the end, a gap or overlap into the next period still maps with this offset, up to
  // end + max(offset, next offset). That holds when the neighbours are longer than
  // kPeriodMargin, so that no period further away can reach; otherwise keep the margin.
  refined_ = true;
  constexpr date::sys_seconds kFirst{date::sys_days(date::year(-32000) / 1 / 1)};
  constexpr date::sys_seconds kLast{date::sys_days(date::year(32000) / 1 / 1)};
  if (begin_ <= kFirst) {
    fast_begin_ = begin_;
  } else {
    const date::sys_info prev = ZoneSysInfo(zone_, begin_ - seconds(1));
    if (prev.end - prev.begin >= kPeriodMargin) {
      fast_begin_ = begin_ + std::max(seconds(0), prev.offset - offset_);
    }
  }
  if (end_ >= kLast) {
    fast_end_ = end_;
  } else {
    const date::sys_info next = ZoneSysInfo(zone_, end_);
    if (next.end - next.begin >= kPeriodMargin) {
      fast_end_ = end_ + std::max(seconds(0), next.offset - offset_);
    }
  }
}

Instant LocalTimeConverter::ToInstant(date::local_seconds local) {
  if (loaded_) {
    const date::sys_seconds u(local.time_since_epoch() - offset_);
    if (fast_begin_ <= u && u < fast_end_) return Instant(u);
    // Near the ends of the period: learn the exact limits once, then try again.
    if (!refined_ && begin_ <= u && u < end_ + kPeriodMargin) {
      Refine();
      if (fast_begin_ <= u && u < fast_end_) return Instant(u);
    }
  }
  const date::local_info info = ZoneLocalInfo(zone_, local);
  const date::sys_seconds result(local.time_since_epoch() - info.first.offset);
  Load(result);
  return Instant(result);
}

date::local_days LocalTimeConverter::DayOf(Instant t) {
  const auto s = date::floor<seconds>(t);
  if (!loaded_ || s < begin_ || !(s < end_)) Load(s);
  return date::local_days(
      date::floor<date::days>(date::local_seconds(s.time_since_epoch() + offset_)));
}

}  // namespace smooth::internal
