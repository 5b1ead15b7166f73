// RRULE expansion with libical: parse, bound, iterate on floating local times, convert with
// LocalToInstant. All libical use is serialized because its error state is global.
#include "schedule/recurrence.hpp"

#include <fmt/format.h>
#include <libical/ical.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "schedule/civil_time.hpp"

namespace smooth::internal {
namespace {

constexpr std::size_t kMaxRuleLength = 1024;

Status Refuse(std::string_view why) { return InvalidArgument(fmt::format("rrule: {}", why)); }

// Holds libical for one expansion: serializes callers (icalerrno and the "errors are
// fatal" switch are process globals in some builds), makes errors non-fatal so a bad rule
// can never abort the process or print to stderr, and leaves icalerrno clear on exit.
class IcalSession {
 public:
  IcalSession() : lock_(Mutex()), was_fatal_(icalerror_get_errors_are_fatal()) {
    icalerror_set_errors_are_fatal(0);
    icalerror_clear_errno();
  }
  ~IcalSession() {
    icalerror_clear_errno();
    icalerror_set_errors_are_fatal(was_fatal_);
  }
  IcalSession(const IcalSession&) = delete;
  IcalSession& operator=(const IcalSession&) = delete;

  bool failed() const { return icalerrno != ICAL_NO_ERROR; }

 private:
  static std::mutex& Mutex() {
    static std::mutex mutex;
    return mutex;
  }
  std::lock_guard<std::mutex> lock_;
  int was_fatal_;
};

struct IteratorDeleter {
  void operator()(icalrecur_iterator* it) const { icalrecur_iterator_free(it); }
};

bool HasAny(const short* values) { return values[0] != ICAL_RECURRENCE_ARRAY_MAX; }

int CountOf(const short* values, int size) {
  int n = 0;
  while (n < size && values[n] != ICAL_RECURRENCE_ARRAY_MAX) ++n;
  return n;
}

// Why the rule can never produce an occurrence, or "" if it may. libical 3.0 looks for
// the next match of such a rule up to the year 2582, ignoring UNTIL, for up to a second
// under our lock; these are the shapes found to do that, refused here instead.
std::string_view WhyNeverMatches(const icalrecurrencetype& rule, unsigned start_month) {
  // Months of the year the rule can reach: BYMONTH, and for MONTHLY the months INTERVAL
  // steps onto from the start.
  bool month_ok[12];
  const int months = CountOf(rule.by_month, ICAL_BY_MONTH_SIZE);
  for (bool& ok : month_ok) ok = months == 0;
  for (int i = 0; i < months; ++i) {
    const int m = icalrecurrencetype_month_month(rule.by_month[i]);
    if (m >= 1 && m <= 12) month_ok[m - 1] = true;
  }
  if (rule.freq == ICAL_MONTHLY_RECURRENCE) {
    bool reachable[12] = {};
    const int interval = rule.interval > 0 ? rule.interval : 1;
    for (int k = 0; k < 12; ++k) {
      reachable[(static_cast<int>(start_month) - 1 + k * interval) % 12] = true;
    }
    for (int m = 0; m < 12; ++m) month_ok[m] = month_ok[m] && reachable[m];
  }
  constexpr int kMaxDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int month_days = CountOf(rule.by_month_day, ICAL_BY_MONTHDAY_SIZE);
  bool any_month = false;
  for (int m = 0; m < 12 && !any_month; ++m) {
    if (!month_ok[m]) continue;
    if (month_days == 0) any_month = true;
    for (int i = 0; i < month_days && !any_month; ++i) {
      if (std::abs(rule.by_month_day[i]) <= kMaxDays[m]) any_month = true;
    }
  }
  if (!any_month) return "no month the rule can reach has the requested day";

  // A BYDAY entry with a number counts within a month (MONTHLY, or YEARLY with BYMONTH),
  // which has at most 5 of each weekday, or within a year, which has at most 53.
  const int by_days = CountOf(rule.by_day, ICAL_BY_DAY_SIZE);
  const int max_position = rule.freq == ICAL_YEARLY_RECURRENCE && months == 0 ? 53 : 5;
  int possible_days = 0;  // BYDAY entries that can match at all
  for (int i = 0; i < by_days; ++i) {
    if (std::abs(icalrecurrencetype_day_position(rule.by_day[i])) <= max_position) ++possible_days;
  }
  if (by_days > 0 && possible_days == 0) {
    return "no month or year has that many of the requested weekday";
  }

  // BYSETPOS picks among the days a MONTHLY or YEARLY period yields (libical ignores it
  // for shorter periods, and does not count BYHOUR or BYMINUTE); a position beyond that
  // number never exists.
  const int set_positions = CountOf(rule.by_set_pos, ICAL_BY_SETPOS_SIZE);
  if (set_positions == 0) return "";
  int by_day_count = 0;  // days each BYDAY entry can yield in a month
  int by_day_year = 0;   // ... in a year
  for (int i = 0; i < by_days; ++i) {
    const int position = icalrecurrencetype_day_position(rule.by_day[i]);
    if (std::abs(position) > max_position) continue;
    const bool positioned = position != 0;
    by_day_count += positioned ? 1 : 5;
    by_day_year += positioned ? 1 : 53;
  }
  const int months_in_year = months == 0 ? 12 : months;
  int per_period;
  if (rule.freq == ICAL_MONTHLY_RECURRENCE) {
    per_period = month_days > 0 ? month_days : by_days > 0 ? by_day_count : 1;
  } else if (rule.freq == ICAL_YEARLY_RECURRENCE) {
    if (CountOf(rule.by_week_no, ICAL_BY_WEEKNO_SIZE) > 0) return "";
    const int year_days = CountOf(rule.by_year_day, ICAL_BY_YEARDAY_SIZE);
    if (year_days > 0) {
      per_period = year_days;
    } else if (month_days > 0) {
      per_period = month_days * months_in_year;
    } else if (by_days > 0) {
      per_period = months == 0 ? by_day_year : by_day_count * months_in_year;
    } else {
      per_period = months == 0 ? 1 : months;
    }
  } else {
    return "";
  }
  for (int i = 0; i < set_positions; ++i) {
    if (std::abs(rule.by_set_pos[i]) <= per_period) return "";
  }
  return "BYSETPOS asks for a position beyond the days each period has";
}

date::local_seconds LocalSecondsOf(const icaltimetype& t) {
  return date::local_days(date::year_month_day(date::year(t.year),
                                               date::month(static_cast<unsigned>(t.month)),
                                               date::day(static_cast<unsigned>(t.day)))) +
         std::chrono::hours(t.hour) + std::chrono::minutes(t.minute) +
         std::chrono::seconds(t.second);
}

icaltimetype FloatingTime(date::local_seconds local) {
  const auto day = date::floor<date::days>(local);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<std::chrono::seconds> hms(local - day);
  icaltimetype t = icaltime_null_time();
  t.year = static_cast<int>(ymd.year());
  t.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  t.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  t.hour = static_cast<int>(hms.hours().count());
  t.minute = static_cast<int>(hms.minutes().count());
  t.second = static_cast<int>(hms.seconds().count());
  t.is_date = 0;
  return t;  // no zone: floating
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Drops a BY part's repeated values, keeping the first of each: libical 3.0 counts a value
// written twice twice, so BYSETPOS=-2 with BYMONTHDAY=2,2 picked the 2nd of every month.
void DropRepeats(short* values, int size) {
  short* const end = values + CountOf(values, size);
  short* kept = values;
  for (short* v = values; v != end; ++v)
    if (std::find(values, kept, *v) == kept) *kept++ = *v;
  std::fill(kept, end, static_cast<short>(ICAL_RECURRENCE_ARRAY_MAX));
}

// Sorts a BY part's values and drops repeats: libical 3.0 takes BYHOUR, BYMINUTE and BYMONTH
// in the order written, so BYHOUR=14,8 gave 14:00 before 08:00 of the same day, and COUNT
// then counted the wrong occurrences.
void SortValues(short* values, int size) {
  short* const end = values + CountOf(values, size);
  std::sort(values, end);
  std::fill(std::unique(values, end), end, static_cast<short>(ICAL_RECURRENCE_ARRAY_MAX));
}

// Whether BYDAY has a day with a number (2MO, -1FR).
bool HasNumberedDay(const icalrecurrencetype& rule) {
  const int n = CountOf(rule.by_day, ICAL_BY_DAY_SIZE);
  return std::any_of(rule.by_day, rule.by_day + n,
                     [](short d) { return icalrecurrencetype_day_position(d) != 0; });
}

// Whether `values` has days counted from both ends (31 and -1 can be one day).
bool FromBothEnds(const short* values, int size) {
  const int n = CountOf(values, size);
  return std::any_of(values, values + n, [](short v) { return v > 0; }) &&
         std::any_of(values, values + n, [](short v) { return v < 0; });
}

// The local starts of a DAILY or WEEKLY rule from `first` (the series' first start) to
// `bound`, in order, by RFC 5545 §3.3.10, for the parts such a rule may have here: INTERVAL,
// BYDAY without numbers, BYMONTH, BYMONTHDAY, BYYEARDAY (each day must match all given),
// BYHOUR, BYMINUTE and WKST. libical 3.0 gets these wrong: it ignores a negative BYMONTHDAY
// with DAILY, and counts WEEKLY's INTERVAL from weeks that are not the ones WKST begins
// (WEEKLY;INTERVAL=3;BYDAY=SU from a Friday skipped the Sunday two days later).
class DayRule {
 public:
  DayRule(const icalrecurrencetype& rule, date::local_seconds first, date::local_seconds bound)
      : rule_(rule), first_(first), last_day_(date::floor<date::days>(bound)), bound_(bound) {
    const date::local_days first_day = date::floor<date::days>(first);
    const std::chrono::minutes at =
        std::chrono::duration_cast<std::chrono::minutes>(first - first_day);
    std::vector<int> hours, minutes;
    for (int i = 0; i < CountOf(rule.by_hour, ICAL_BY_HOUR_SIZE); ++i)
      hours.push_back(rule.by_hour[i]);
    for (int i = 0; i < CountOf(rule.by_minute, ICAL_BY_MINUTE_SIZE); ++i)
      minutes.push_back(rule.by_minute[i]);
    if (hours.empty()) hours.push_back(static_cast<int>(at.count() / 60));
    if (minutes.empty()) minutes.push_back(static_cast<int>(at.count() % 60));
    for (int h : hours)
      for (int m : minutes) times_.push_back(std::chrono::hours(h) + std::chrono::minutes(m));
    std::sort(times_.begin(), times_.end());
    times_.erase(std::unique(times_.begin(), times_.end()), times_.end());
    for (int i = 0; i < CountOf(rule.by_day, ICAL_BY_DAY_SIZE); ++i)
      weekdays_[WeekdayIndex(icalrecurrencetype_day_day_of_week(rule.by_day[i]))] = true;
    const bool any_weekday = CountOf(rule.by_day, ICAL_BY_DAY_SIZE) > 0;
    const unsigned start_weekday = date::weekday(first_day).c_encoding();
    if (rule.freq == ICAL_WEEKLY_RECURRENCE) {
      step_ = date::days(7 * Interval());
      // The week the first start is in, as WKST begins weeks (Monday unless it says).
      const unsigned week_start =
          rule.week_start == ICAL_NO_WEEKDAY ? 1u : WeekdayIndex(rule.week_start);
      period_ = first_day - date::days((start_weekday + 7 - week_start) % 7);
      period_days_ = 7;
      if (!any_weekday) weekdays_[start_weekday] = true;
    } else {
      step_ = date::days(Interval());
      period_ = first_day;
      period_days_ = 1;
      if (!any_weekday) weekdays_.fill(true);
    }
  }

  std::optional<date::local_seconds> Next() {
    while (pending_.empty()) {
      if (period_ > last_day_) return std::nullopt;
      for (int i = 0; i < period_days_; ++i) {
        const date::local_days day = period_ + date::days(i);
        if (!Matches(day)) continue;
        for (std::chrono::minutes t : times_) {
          const date::local_seconds start = day + t;
          if (start >= first_ && start <= bound_) pending_.push_back(start);
        }
      }
      period_ += step_;
      next_ = 0;
    }
    const date::local_seconds start = pending_[next_++];
    if (next_ == pending_.size()) pending_.clear();
    return start;
  }

 private:
  // date::weekday's c_encoding (Sunday 0) of libical's weekday (Sunday 1).
  static unsigned WeekdayIndex(icalrecurrencetype_weekday d) {
    return static_cast<unsigned>(d) - static_cast<unsigned>(ICAL_SUNDAY_WEEKDAY);
  }
  int Interval() const { return rule_.interval > 0 ? rule_.interval : 1; }

  bool Matches(date::local_days day) const {
    if (!weekdays_[date::weekday(day).c_encoding()]) return false;
    const date::year_month_day ymd(day);
    const int months = CountOf(rule_.by_month, ICAL_BY_MONTH_SIZE);
    if (months > 0 && !Contains(rule_.by_month, months, static_cast<int>(unsigned(ymd.month()))))
      return false;
    const int month_days = CountOf(rule_.by_month_day, ICAL_BY_MONTHDAY_SIZE);
    if (month_days > 0) {
      const int d = static_cast<int>(unsigned(ymd.day()));
      const int length = static_cast<int>(unsigned((ymd.year() / ymd.month() / date::last).day()));
      if (!Contains(rule_.by_month_day, month_days, d) &&
          !Contains(rule_.by_month_day, month_days, d - length - 1))
        return false;
    }
    const int year_days = CountOf(rule_.by_year_day, ICAL_BY_YEARDAY_SIZE);
    if (year_days > 0) {
      const date::local_days jan1{ymd.year() / date::January / 1};
      const int d = static_cast<int>((day - jan1).count()) + 1;
      const int length = ymd.year().is_leap() ? 366 : 365;
      if (!Contains(rule_.by_year_day, year_days, d) &&
          !Contains(rule_.by_year_day, year_days, d - length - 1))
        return false;
    }
    return true;
  }
  static bool Contains(const short* values, int n, int v) {
    return std::find(values, values + n, v) != values + n;
  }

  const icalrecurrencetype& rule_;
  const date::local_seconds first_;
  const date::local_days last_day_;
  const date::local_seconds bound_;
  std::array<bool, 7> weekdays_{};  // by c_encoding
  std::vector<std::chrono::minutes> times_;
  date::local_days period_;  // the first day of the next period to look at
  date::days step_{1};
  int period_days_ = 1;
  std::vector<date::local_seconds> pending_;  // the current period's starts, in order
  std::size_t next_ = 0;
};

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = s[i] >= 'a' && s[i] <= 'z' ? static_cast<char>(s[i] - 'a' + 'A') : s[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<Occurrence>> ExpandRecurrence(std::string_view rrule,
                                                 const date::time_zone* zone, LocalDate first_date,
                                                 std::chrono::minutes start_minutes,
                                                 std::size_t max_occurrences, Duration seconds,
                                                 std::optional<Instant> first_instant) {
  assert(seconds >= Duration(0) && seconds < std::chrono::minutes(1));
  if (!IsValidDate(first_date)) {
    return InvalidArgument(fmt::format("start: {} is not a date", FormatLocalDate(first_date)));
  }
  if (start_minutes.count() < 0 || start_minutes.count() >= 1440) {
    return InvalidArgument("start: time of day must be within 00:00..23:59");
  }
  std::string_view body = Trim(rrule);
  if (StartsWithNoCase(body, "RRULE:")) body.remove_prefix(6);
  if (body.empty()) return Refuse("must not be empty");
  if (body.size() > kMaxRuleLength) return Refuse("too long");
  if (body.find('\0') != std::string_view::npos) return Refuse("not a valid recurrence rule");
  const std::string text(body);

  // The series may not run past this local time, whatever its COUNT or UNTIL say.
  date::year_month_day horizon_ymd =
      date::year_month_day(ToLocalDays(first_date)) + date::years(kMaxRecurrenceYears);
  if (!horizon_ymd.ok()) horizon_ymd = horizon_ymd.year() / horizon_ymd.month() / date::last;
  const date::local_seconds horizon{date::local_days(horizon_ymd)};
  const date::local_seconds first_start =
      date::local_seconds(ToLocalDays(first_date)) + start_minutes;

  IcalSession ical;
  icalrecurrencetype rule = icalrecurrencetype_from_string(text.c_str());
  const bool parse_failed = ical.failed();
  if (rule.rscale != nullptr) {
    icalmemory_free_buffer(rule.rscale);
    rule.rscale = nullptr;
    if (!parse_failed) return Refuse("RSCALE is not supported");
  }
  if (parse_failed) return Refuse("not a valid RFC 5545 recurrence rule");

  switch (rule.freq) {
    case ICAL_DAILY_RECURRENCE:
    case ICAL_WEEKLY_RECURRENCE:
    case ICAL_MONTHLY_RECURRENCE:
    case ICAL_YEARLY_RECURRENCE:
      break;
    case ICAL_NO_RECURRENCE:
      return Refuse("FREQ is required");
    default:
      return Refuse(fmt::format("FREQ={} is not supported (use DAILY, WEEKLY, MONTHLY or YEARLY)",
                                icalrecur_freq_to_string(rule.freq)));
  }
  // Occurrences carry whole minutes.
  if (HasAny(rule.by_second)) return Refuse("BYSECOND is not supported");
  // RFC 5545 §3.3.10 allows a numbered BYDAY only there; libical reads WEEKLY;BYDAY=2MO as
  // a Wednesday, and WEEKLY;BYDAY=1MO,TU as the same Tuesday twice.
  const bool numbered_day_allowed =
      rule.freq == ICAL_MONTHLY_RECURRENCE ||
      (rule.freq == ICAL_YEARLY_RECURRENCE && !HasAny(rule.by_week_no));
  if (HasNumberedDay(rule) && !numbered_day_allowed) {
    return Refuse(
        "BYDAY with a number (such as 2MO) needs FREQ=MONTHLY, or FREQ=YEARLY without BYWEEKNO");
  }
  // libical 3.0 places BYWEEKNO's weeks wrongly (BYWEEKNO=20 gave days in September, and
  // BYWEEKNO=1;BYDAY=MO a Tuesday), and crashes on some negative week numbers.
  if (HasAny(rule.by_week_no)) return Refuse("BYWEEKNO is not supported");
  // libical applies BYSETPOS to the days of a MONTHLY or YEARLY period only: with DAILY or
  // WEEKLY it ignores it (WEEKLY;BYDAY=MO,TU,WE;BYSETPOS=1 gave all three days, not
  // Mondays), and it picks among days before adding BYHOUR and BYMINUTE times, so with
  // several of those it picks the wrong ones. RFC 5545 picks among all the period's starts.
  SortValues(rule.by_hour, ICAL_BY_HOUR_SIZE);
  SortValues(rule.by_minute, ICAL_BY_MINUTE_SIZE);
  SortValues(rule.by_month, ICAL_BY_MONTH_SIZE);
  DropRepeats(rule.by_month_day, ICAL_BY_MONTHDAY_SIZE);
  DropRepeats(rule.by_year_day, ICAL_BY_YEARDAY_SIZE);
  DropRepeats(rule.by_day, ICAL_BY_DAY_SIZE);
  if (HasAny(rule.by_set_pos)) {
    if (rule.freq != ICAL_MONTHLY_RECURRENCE && rule.freq != ICAL_YEARLY_RECURRENCE) {
      return Refuse("BYSETPOS is supported with FREQ=MONTHLY or YEARLY only");
    }
    if (CountOf(rule.by_hour, ICAL_BY_HOUR_SIZE) > 1 ||
        CountOf(rule.by_minute, ICAL_BY_MINUTE_SIZE) > 1) {
      return Refuse("BYSETPOS is not supported with several BYHOUR or BYMINUTE values");
    }
    // libical counts a day that two values name (31 and -1, in a month of 31 days) twice,
    // and then skipped such months altogether.
    if (FromBothEnds(rule.by_month_day, ICAL_BY_MONTHDAY_SIZE) ||
        FromBothEnds(rule.by_year_day, ICAL_BY_YEARDAY_SIZE)) {
      return Refuse(
          "BYSETPOS is not supported with BYMONTHDAY or BYYEARDAY days counted from both ends");
    }
    std::array<bool, 8> weekday_seen{};
    for (int i = 0; i < CountOf(rule.by_day, ICAL_BY_DAY_SIZE); ++i) {
      bool& seen = weekday_seen[static_cast<std::size_t>(
          icalrecurrencetype_day_day_of_week(rule.by_day[i]))];
      if (seen) return Refuse("BYSETPOS is not supported with one weekday in BYDAY twice");
      seen = true;
    }
  }
  if (rule.count == 0 && icaltime_is_null_time(rule.until)) {
    return Refuse("the series must end: add COUNT or UNTIL");
  }
  if (rule.count < 0) return Refuse("COUNT must be positive");
  if (static_cast<std::size_t>(rule.count) > max_occurrences) {
    return Refuse(fmt::format("series longer than {} occurrences", max_occurrences));
  }
  if (const std::string_view why = WhyNeverMatches(rule, static_cast<unsigned>(first_date.month));
      !why.empty()) {
    return Refuse(fmt::format("the series has no occurrences: {}", why));
  }
  // A YEARLY BYMONTHDAY without BYMONTH is that day of every month (RFC 5545 §3.3.10:
  // BYMONTHDAY expands a year), where libical 3.0 took the first start's month only.
  // Numbered BYDAY days and BYYEARDAY count within the year there, which naming the months
  // would change, so those need BYMONTH said.
  if (rule.freq == ICAL_YEARLY_RECURRENCE && HasAny(rule.by_month_day) && !HasAny(rule.by_month)) {
    if (HasNumberedDay(rule) || HasAny(rule.by_year_day))
      return Refuse("BYMONTHDAY with FREQ=YEARLY and a numbered BYDAY or BYYEARDAY needs BYMONTH");
    for (short m = 1; m <= 12; ++m) rule.by_month[m - 1] = m;
    rule.by_month[12] = ICAL_RECURRENCE_ARRAY_MAX;
  }

  // libical compares UNTIL with the floating start as if both were in one zone, and reads
  // a DATE UNTIL as that day's midnight (excluding the day). So UNTIL is applied here, and
  // libical is only given a local bound at or after it (plus the horizon) to stop at.
  enum class UntilKind { kNone, kDate, kUtc, kFloating };
  UntilKind until_kind = UntilKind::kNone;
  date::local_time<Duration> local_limit = horizon;  // last local start allowed (inclusive)
  Instant utc_limit{};
  date::local_seconds bound = horizon;  // given to libical
  if (!icaltime_is_null_time(rule.until)) {
    date::local_seconds reading;  // UNTIL read on the series' wall clock, against the horizon
    icaltimetype u = rule.until;
    if (u.is_date) {
      until_kind = UntilKind::kDate;
      u.hour = u.minute = u.second = 0;
      local_limit = LocalSecondsOf(u) + date::days(1) - Duration(1);
      bound = reading = LocalSecondsOf(u) + date::days(1) - std::chrono::seconds(1);
    } else if (icaltime_is_utc(u)) {
      until_kind = UntilKind::kUtc;
      utc_limit = Instant(LocalSecondsOf(u).time_since_epoch());
      // libical stops at the local reading of the instant, with a day of slack for gaps
      // and overlaps; the slack is not part of the series.
      reading = date::floor<std::chrono::seconds>(ToLocal(zone, utc_limit));
      bound = reading + date::days(1);
    } else {
      until_kind = UntilKind::kFloating;
      bound = reading = LocalSecondsOf(u);
      local_limit = bound;
    }
    if (reading > horizon) {
      return Refuse(
          fmt::format("UNTIL is more than {} years after the start", kMaxRecurrenceYears));
    }
  }
  // libical iterates no further than the year 2582. The Gregorian calendar repeats every
  // 400 years (146,097 days, a whole number of weeks: same weekdays, same leap days), so the
  // rule is expanded a whole number of such cycles away, from a year in [2000, 2400), and
  // each occurrence moved back.
  constexpr date::days kGregorianCycle{146097};
  const int year_offset = first_date.year - 2000;
  const int cycles = (year_offset >= 0 ? year_offset : year_offset - 399) / 400;
  const date::days shift = kGregorianCycle * cycles;

  const std::size_t count = static_cast<std::size_t>(rule.count);
  rule.count = 0;  // counted here, so that the bound below always applies
  rule.until = FloatingTime(bound - shift);

  icaltimetype dtstart = FloatingTime(first_start - shift);
  std::unique_ptr<icalrecur_iterator, IteratorDeleter> it(icalrecur_iterator_new(rule, dtstart));
  if (it == nullptr || ical.failed()) {
    return Refuse("rule parts cannot be combined this way (RFC 5545 §3.3.10)");
  }
  // DAILY and WEEKLY rules are expanded here (DayRule), MONTHLY and YEARLY by libical.
  std::optional<DayRule> days;
  if (rule.freq == ICAL_DAILY_RECURRENCE || rule.freq == ICAL_WEEKLY_RECURRENCE)
    days.emplace(rule, first_start, bound);
  auto next = [&]() -> std::optional<date::local_seconds> {
    if (days) return days->Next();
    const icaltimetype t = icalrecur_iterator_next(it.get());
    if (icaltime_is_null_time(t)) return std::nullopt;
    return LocalSecondsOf(t) + shift;
  };

  std::vector<Occurrence> out;
  std::set<Instant> instants;
  // COUNT is trusted only as far as the cap, which a scheduler may set very high: the
  // horizon ends most such series long before, so reserve no more than a typical series.
  out.reserve(std::min<std::size_t>(count != 0 ? count : 16, 1024));
  for (;;) {
    const std::optional<date::local_seconds> start = next();
    if (!start) break;
    const date::local_seconds local = *start;
    // UNTIL bounds the start as booked, the first start's seconds included.
    if (until_kind != UntilKind::kUtc && local + seconds > local_limit) break;
    const date::local_days day = date::floor<date::days>(local);
    const LocalDate date = FromLocalDays(day);
    const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(local - day);
    // The first local start is the instant it was asked at (the second of a repeated wall
    // clock time, say), which a UTC UNTIL then bounds.
    const Instant instant = first_instant && date == first_date && minutes == start_minutes
                                ? *first_instant
                                : LocalToInstant(zone, date, minutes) + seconds;
    if (until_kind == UntilKind::kUtc && instant > utc_limit) continue;
    // Local starts in a spring-forward gap are read with the offset before it, which can
    // make them the instant of another start (02:30 and 03:30 on a New York March change
    // day are both 07:30Z). RFC 5545 §3.8.5.3: duplicate instances are ignored.
    if (!instants.insert(instant).second) continue;
    if (out.size() == max_occurrences) {
      return Refuse(fmt::format("series longer than {} occurrences", max_occurrences));
    }
    out.push_back({date, minutes, instant});
    if (count != 0 && out.size() == count) break;
  }
  if (count != 0 && out.size() < count) {
    return Refuse(
        fmt::format("series does not end within {} years of its start", kMaxRecurrenceYears));
  }
  // Typically UNTIL before the first start: never what someone booking a series meant.
  if (out.empty()) return Refuse("the series has no occurrences");
  return out;
}

}  // namespace smooth::internal
