// The POSIX TZ rule at the end of a compiled zone file, and date/tz answers completed by it
// for the years after the last listed transition (see zone_rule.hpp).
#include "schedule/zone_rule.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <mutex>
#include <unordered_map>

namespace smooth::internal {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// A period that date/tz ends after this is the zone's last: no transition is listed after it.
constexpr date::sys_seconds kLastPeriod{date::sys_days{date::year{10000} / 1 / 1}};

// Reads a POSIX TZ string from left to right; every Read* returns false on bad input.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool Done() const { return i_ == s_.size(); }
  bool Peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Take(char c) {
    if (!Peek(c)) return false;
    ++i_;
    return true;
  }
  bool AtOffset() const {
    return i_ < s_.size() &&
           (s_[i_] == '+' || s_[i_] == '-' || std::isdigit(static_cast<unsigned char>(s_[i_])));
  }

  // "EST", or "<+0330>": at least three characters.
  bool ReadName(std::string& out) {
    std::size_t begin = i_;
    if (Take('<')) {
      while (i_ < s_.size() && s_[i_] != '>') {
        const char c = s_[i_];
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-') return false;
        ++i_;
      }
      out = std::string(s_.substr(begin + 1, i_ - begin - 1));
      return Take('>') && out.size() >= 3;
    }
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    out = std::string(s_.substr(begin, i_ - begin));
    return out.size() >= 3;
  }

  // [+|-]h[:mm[:ss]], hours up to `max_hours`.
  bool ReadDuration(int max_hours, seconds& out) {
    int sign = 1;
    if (Take('-'))
      sign = -1;
    else
      (void)Take('+');
    int h = 0, m = 0, sec = 0;
    if (!ReadNumber(0, max_hours, h)) return false;
    if (Take(':')) {
      if (!ReadNumber(0, 59, m)) return false;
      if (Take(':') && !ReadNumber(0, 59, sec)) return false;
    }
    out = sign * (hours(h) + minutes(m) + seconds(sec));
    return true;
  }

  bool ReadNumber(int min, int max, int& out) {
    std::size_t begin = i_;
    long value = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])) && i_ - begin < 4)
      value = value * 10 + (s_[i_++] - '0');
    if (i_ == begin || value < min || value > max) return false;
    out = static_cast<int>(value);
    return true;
  }

  // Jn, n or Mm.w.d, then an optional /time (RFC 8536 allows -167..167 hours).
  bool ReadWhen(ZoneRule::When& w) {
    using Kind = ZoneRule::When::Kind;
    if (Take('J')) {
      w.kind = Kind::kJulianNoLeap;
      if (!ReadNumber(1, 365, w.day)) return false;
    } else if (Take('M')) {
      w.kind = Kind::kMonthWeekDay;
      if (!ReadNumber(1, 12, w.month) || !Take('.') || !ReadNumber(1, 5, w.week) || !Take('.') ||
          !ReadNumber(0, 6, w.day))
        return false;
    } else {
      w.kind = Kind::kZeroBasedDay;
      if (!ReadNumber(0, 365, w.day)) return false;
    }
    w.time = hours(2);
    if (Take('/')) return ReadDuration(167, w.time);
    return true;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

date::local_days DayOf(const ZoneRule::When& w, int year) {
  using Kind = ZoneRule::When::Kind;
  const date::year y{year};
  const date::local_days jan1{y / 1 / 1};
  switch (w.kind) {
    case Kind::kJulianNoLeap:
      // Day 1..365, February 29 never counted: from March on a leap year is a day later.
      return jan1 + date::days(w.day - 1 + (y.is_leap() && w.day >= 60 ? 1 : 0));
    case Kind::kZeroBasedDay:
      return jan1 + date::days(w.day);
    case Kind::kMonthWeekDay:
      break;
  }
  const date::weekday wd{static_cast<unsigned>(w.day)};
  const date::month m{static_cast<unsigned>(w.month)};
  if (w.week == 5) return date::local_days{y / m / wd[date::last]};
  return date::local_days{y / m / wd[static_cast<unsigned>(w.week)]};
}

}  // namespace

std::optional<ZoneRule> ZoneRule::Parse(std::string_view tz) {
  ZoneRule r;
  Reader in(tz);
  seconds west{0};
  if (!in.ReadName(r.std_abbrev_) || !in.ReadDuration(24, west)) return std::nullopt;
  r.std_offset_ = -west;  // POSIX offsets count west of Greenwich
  if (in.Done()) return r;
  if (!in.ReadName(r.dst_abbrev_)) return std::nullopt;
  seconds dst = r.std_offset_ + hours(1);
  if (in.AtOffset()) {
    if (!in.ReadDuration(24, west)) return std::nullopt;
    dst = -west;
  }
  r.dst_offset_ = dst;
  // Without the rules POSIX leaves the dates to the implementation: not guessed at.
  if (!in.Take(',') || !in.ReadWhen(r.start_) || !in.Take(',') || !in.ReadWhen(r.end_) ||
      !in.Done())
    return std::nullopt;
  return r;
}

date::sys_seconds ZoneRule::Start(int year) const {
  // The start's time of day is standard time; the end's is daylight time.
  return date::sys_seconds{(DayOf(start_, year) + start_.time).time_since_epoch() - std_offset_};
}

date::sys_seconds ZoneRule::End(int year) const {
  return date::sys_seconds{(DayOf(end_, year) + end_.time).time_since_epoch() - *dst_offset_};
}

int ZoneRule::Periods(int year, Period* out) const {
  struct Change {
    date::sys_seconds at;
    bool dst;
  };
  std::array<Change, 6> changes;
  for (int k = 0; k < 3; ++k) {
    changes[2 * k] = {Start(year - 1 + k), true};
    changes[2 * k + 1] = {End(year - 1 + k), false};
  }
  std::stable_sort(changes.begin(), changes.end(),
                   [](const Change& a, const Change& b) { return a.at < b.at; });
  int n = 0;
  for (std::size_t k = 0; k + 1 < changes.size(); ++k) {
    if (!(changes[k].at < changes[k + 1].at)) continue;  // a period of no length
    if (n > 0 && out[n - 1].dst == changes[k].dst && out[n - 1].end == changes[k].at) {
      out[n - 1].end = changes[k + 1].at;  // the same offset goes on
      continue;
    }
    out[n++] = {changes[k].at, changes[k + 1].at, changes[k].dst};
  }
  return n;
}

date::sys_info ZoneRule::Info(const Period& p) const {
  date::sys_info info;
  info.begin = p.begin;
  info.end = p.end;
  info.offset = Offset(p);
  info.save = p.dst ? std::chrono::duration_cast<minutes>(*dst_offset_ - std_offset_) : minutes(0);
  info.abbrev = p.dst ? dst_abbrev_ : std_abbrev_;
  return info;
}

date::sys_info ZoneRule::SysInfo(date::sys_seconds t) const {
  if (!dst_offset_) {
    return Info({date::sys_seconds::min(), date::sys_seconds::max(), false});
  }
  const int year = static_cast<int>(date::year_month_day{date::floor<date::days>(t)}.year());
  std::array<Period, 6> periods;
  const int n = Periods(year, periods.data());
  for (int k = 0; k < n; ++k)
    if (periods[k].begin <= t && t < periods[k].end) return Info(periods[k]);
  // Not reached: the periods of the years around `t` cover it.
  return Info({t, t + seconds(1), false});
}

date::local_info ZoneRule::LocalInfo(date::local_seconds local) const {
  date::local_info out;
  if (!dst_offset_) {
    out.result = date::local_info::unique;
    out.first = SysInfo(date::sys_seconds{local.time_since_epoch() - std_offset_});
    return out;
  }
  const int year = static_cast<int>(date::year_month_day{date::floor<date::days>(local)}.year());
  std::array<Period, 6> periods;
  const int n = Periods(year, periods.data());
  // Each period as the wall clock shows it: [begin + offset, end + offset).
  auto local_begin = [&](const Period& p) { return p.begin.time_since_epoch() + Offset(p); };
  auto local_end = [&](const Period& p) { return p.end.time_since_epoch() + Offset(p); };
  const seconds l = local.time_since_epoch();
  int found = 0;
  for (int k = 0; k < n; ++k) {
    if (!(local_begin(periods[k]) <= l && l < local_end(periods[k]))) continue;
    if (found++ == 0) {
      out.first = Info(periods[k]);
    } else {
      out.second = Info(periods[k]);
    }
  }
  if (found == 1) {
    out.result = date::local_info::unique;
  } else if (found == 2) {
    out.result = date::local_info::ambiguous;
  } else {
    // In a gap: the period before it and the one after.
    out.result = date::local_info::nonexistent;
    for (int k = 0; k + 1 < n; ++k) {
      if (local_end(periods[k]) <= l && l < local_begin(periods[k + 1])) {
        out.first = Info(periods[k]);
        out.second = Info(periods[k + 1]);
      }
    }
  }
  return out;
}

namespace {

// The rule at the end of the zone's file, when it has daylight saving time (a rule without
// adds nothing to what date/tz says), read once per zone.
const ZoneRule* RuleOf(const date::time_zone* zone) {
  static std::mutex mu;
  static std::unordered_map<const date::time_zone*, std::optional<ZoneRule>> rules;
  std::lock_guard lock(mu);
  auto it = rules.find(zone);
  if (it == rules.end()) {
    std::optional<ZoneRule> rule;
    std::ifstream file("/usr/share/zoneinfo/" + std::string(zone->name()), std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    // A version 2+ file ends "\n<TZ string>\n".
    if (text.size() > 6 && text.compare(0, 4, "TZif") == 0 && text[4] >= '2' &&
        text.back() == '\n') {
      const std::size_t open = text.rfind('\n', text.size() - 2);
      if (open != std::string::npos)
        rule = ZoneRule::Parse(std::string_view(text).substr(open + 1, text.size() - open - 2));
    }
    if (rule && !rule->HasDst()) rule.reset();
    it = rules.emplace(zone, std::move(rule)).first;
  }
  return it->second ? &*it->second : nullptr;
}

}  // namespace

date::sys_info ZoneSysInfo(const date::time_zone* zone, date::sys_seconds t) {
  date::sys_info info = zone->get_info(t);
  if (info.end < kLastPeriod) return info;
  const ZoneRule* rule = RuleOf(zone);
  if (rule == nullptr) return info;
  date::sys_info r = rule->SysInfo(t);
  r.begin = std::max(r.begin, info.begin);  // nothing before the last listed transition
  return r;
}

date::local_info ZoneLocalInfo(const date::time_zone* zone, date::local_seconds local) {
  date::local_info info = zone->get_info(local);
  if (info.result != date::local_info::unique || info.first.end < kLastPeriod) return info;
  const ZoneRule* rule = RuleOf(zone);
  if (rule == nullptr) return info;
  date::local_info r = rule->LocalInfo(local);
  r.first.begin = std::max(r.first.begin, info.first.begin);
  return r;
}

}  // namespace smooth::internal
