// RRULE expansion: libical parses the rule (serialized, because its error state is global);
// libsmooth checks it, bounds it and expands it on floating local times, and converts each
// start with LocalToInstant.
#include "schedule/recurrence.hpp"

#include <fmt/format.h>
#include <libical/ical.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/digits.hpp"
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

bool HasAny(const short* values) { return values[0] != ICAL_RECURRENCE_ARRAY_MAX; }

int CountOf(const short* values, int size) {
  int n = 0;
  while (n < size && values[n] != ICAL_RECURRENCE_ARRAY_MAX) ++n;
  return n;
}

// Why the rule, with its defaults (AddDefaults), can never produce an occurrence, or "" if
// it may, for the shapes whose reason can be told: a day no month has, a weekday no month or
// year has that many of, a BYSETPOS beyond a period's starts. Other rules that never match
// (BYYEARDAY=1 with BYMONTH=2, say) are searched for the hundred years of the horizon.
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

  // BYSETPOS picks among the starts a period yields: at most these days, each at every
  // BYHOUR x BYMINUTE time. A position beyond that number never exists.
  const int set_positions = CountOf(rule.by_set_pos, ICAL_BY_SETPOS_SIZE);
  if (set_positions == 0) return "";
  int by_day_count = 0;  // days each BYDAY entry can yield in a month
  int by_day_year = 0;   // ... in a year
  int plain_days = 0;    // BYDAY entries without a number
  for (int i = 0; i < by_days; ++i) {
    const int position = icalrecurrencetype_day_position(rule.by_day[i]);
    if (std::abs(position) > max_position) continue;
    const bool positioned = position != 0;
    by_day_count += positioned ? 1 : 5;
    by_day_year += positioned ? 1 : 53;
    plain_days += positioned ? 0 : 1;
  }
  const int months_in_year = months == 0 ? 12 : months;
  int per_period;
  if (rule.freq == ICAL_DAILY_RECURRENCE) {
    per_period = 1;
  } else if (rule.freq == ICAL_WEEKLY_RECURRENCE) {
    per_period = by_days > 0 ? plain_days : 7;
  } else if (rule.freq == ICAL_MONTHLY_RECURRENCE) {
    per_period = month_days > 0 ? month_days : by_days > 0 ? by_day_count : 31;
  } else if (HasAny(rule.by_week_no)) {
    return "";
  } else {
    const int year_days = CountOf(rule.by_year_day, ICAL_BY_YEARDAY_SIZE);
    if (year_days > 0) {
      per_period = year_days;
    } else if (month_days > 0) {
      per_period = month_days * months_in_year;
    } else if (by_days > 0) {
      per_period = months == 0 ? by_day_year : by_day_count * months_in_year;
    } else {
      per_period = 366;
    }
  }
  per_period *= std::max(1, CountOf(rule.by_hour, ICAL_BY_HOUR_SIZE)) *
                std::max(1, CountOf(rule.by_minute, ICAL_BY_MINUTE_SIZE));
  for (int i = 0; i < set_positions; ++i) {
    if (std::abs(rule.by_set_pos[i]) <= per_period) return "";
  }
  return "BYSETPOS asks for a position beyond the starts each period has";
}

date::local_seconds LocalSecondsOf(const icaltimetype& t) {
  return date::local_days(date::year_month_day(date::year(t.year),
                                               date::month(static_cast<unsigned>(t.month)),
                                               date::day(static_cast<unsigned>(t.day)))) +
         std::chrono::hours(t.hour) + std::chrono::minutes(t.minute) +
         std::chrono::seconds(t.second);
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

// Sorts a BY part's values and drops repeats, so that each counts once (WhyNeverMatches).
void SortValues(short* values, int size) {
  short* const end = values + CountOf(values, size);
  std::sort(values, end);
  std::fill(std::unique(values, end), end, static_cast<short>(ICAL_RECURRENCE_ARRAY_MAX));
}

// The whole number `s` is, with a sign if `sign_allowed`, or nullopt if it is anything else
// (empty, other characters, more than `max_digits` digits).
std::optional<long> WholeNumber(std::string_view s, bool sign_allowed, std::size_t max_digits) {
  bool negative = false;
  if (sign_allowed && !s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  const auto n = s.size() <= max_digits ? Digits(s) : std::nullopt;
  if (!n) return std::nullopt;
  return static_cast<long>(negative ? -*n : *n);
}

// The text of `rest` up to the first `separator` (or all of it), removed from `rest` with
// the separator.
std::string_view TakeItem(std::string_view& rest, char separator) {
  const std::size_t end = std::min(rest.find(separator), rest.size());
  const std::string_view item = rest.substr(0, end);
  rest.remove_prefix(std::min(end + 1, rest.size()));
  return item;
}

std::string OutOfRange(std::string_view name, std::string_view value, long low, long high,
                       bool signed_) {
  return signed_ ? fmt::format("{} {} is out of range ({} to {}, or {} to {})", name, value, low,
                               high, -high, -low)
                 : fmt::format("{} {} is out of range ({} to {})", name, value, low, high);
}

// Why the rule's text is not what RFC 5545 §3.3.10 allows for the parts libical would read
// wrongly, or "" if it is. libical 3.0 cuts numbers down without a word (INTERVAL=65537 read
// as 1, BYDAY=257MO as 1MO, a COUNT past 2^32 as what is left), ignores what follows a number
// (COUNT=2x), and rolls an impossible UNTIL forward (20260230 as March 2nd): every number,
// weekday and UNTIL is checked here, in full, before libical reads the rule. Parts are
// named NAME=VALUE, each once; names libical knows and these do not cover (FREQ, WKST,
// RSCALE, SKIP) are left to it, and so are names it does not know, which it refuses.
std::string CheckText(std::string_view body) {
  struct List {
    std::string_view name;
    long low, high;
    bool signed_;
  };
  static constexpr List kLists[] = {
      {"BYSECOND", 0, 60, false},  {"BYMINUTE", 0, 59, false},  {"BYHOUR", 0, 23, false},
      {"BYMONTHDAY", 1, 31, true}, {"BYYEARDAY", 1, 366, true}, {"BYWEEKNO", 1, 53, true},
      {"BYMONTH", 1, 12, false},   {"BYSETPOS", 1, 366, true},
  };
  std::vector<std::string> seen;
  bool other_by_part = false;  // a BY part besides BYSETPOS
  while (!body.empty()) {
    const std::string_view part = TakeItem(body, ';');
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos) return "not a valid RFC 5545 recurrence rule";
    std::string name(part.substr(0, equals));
    const std::string_view value = part.substr(equals + 1);
    for (char& c : name) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if ((c < 'A' || c > 'Z') && c != '-') return "not a valid RFC 5545 recurrence rule";
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return fmt::format("{} is given twice", name);
    seen.push_back(name);
    if (name.rfind("BY", 0) == 0 && name != "BYSETPOS") other_by_part = true;

    if (name == "COUNT" || name == "INTERVAL") {
      // libical keeps COUNT in an int and INTERVAL in a short.
      const long high = name == "COUNT" ? 2147483647 : 32767;
      const auto n = WholeNumber(value, false, 12);
      if (!n) return fmt::format("{} {} is not a whole number", name, value);
      if (*n < 1 || *n > high) return OutOfRange(name, value, 1, high, false);
    } else if (name == "UNTIL") {
      // YYYYMMDD, or YYYYMMDDTHHMMSS with an optional Z.
      const bool is_date = value.size() == 8;
      const bool shape_ok =
          is_date ||
          ((value.size() == 15 || (value.size() == 16 && value[15] == 'Z')) && value[8] == 'T');
      const auto ymd = shape_ok ? WholeNumber(value.substr(0, 8), false, 8) : std::nullopt;
      const auto hms = !shape_ok ? std::nullopt
                       : is_date ? std::optional<long>(0)
                                 : WholeNumber(value.substr(9, 6), false, 6);
      if (!ymd || !hms)
        return fmt::format("UNTIL {} is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS)",
                           value);
      const LocalDate date{static_cast<int>(*ymd / 10000), static_cast<int>(*ymd / 100 % 100),
                           static_cast<int>(*ymd % 100)};
      if (!IsValidDate(date) || *hms / 10000 > 23 || *hms / 100 % 100 > 59 || *hms % 100 > 59)
        return fmt::format("UNTIL {} is not a real date and time", value);
    } else if (name == "BYDAY") {
      std::string_view list = value;
      do {
        const std::string_view entry = TakeItem(list, ',');
        const bool day_ok = entry.size() >= 2 &&
                            std::isalpha(static_cast<unsigned char>(entry[entry.size() - 1])) &&
                            std::isalpha(static_cast<unsigned char>(entry[entry.size() - 2]));
        const std::string_view number = day_ok ? entry.substr(0, entry.size() - 2) : entry;
        const auto n = number.empty() ? std::optional<long>(0) : WholeNumber(number, true, 3);
        if (!day_ok || !n)
          return fmt::format("BYDAY {} is not a weekday such as MO, 2MO or -1FR", entry);
        if (!number.empty() && (std::abs(*n) < 1 || std::abs(*n) > 53))
          return OutOfRange("BYDAY", entry, 1, 53, true);
      } while (!list.empty());
    } else {
      const auto* spec = std::find_if(std::begin(kLists), std::end(kLists),
                                      [&](const List& l) { return l.name == name; });
      if (spec == std::end(kLists)) continue;
      std::string_view list = value;
      do {
        const std::string_view entry = TakeItem(list, ',');
        if (name == "BYMONTH" && !entry.empty() && (entry.back() == 'L' || entry.back() == 'l'))
          return fmt::format("BYMONTH {}: leap months need RSCALE, which is not supported", entry);
        const auto n = WholeNumber(entry, spec->signed_, 3);
        if (!n) return fmt::format("{} {} is not a whole number", name, entry);
        const long magnitude = std::abs(*n);
        if (magnitude < spec->low || magnitude > spec->high)
          return OutOfRange(name, entry, spec->low, spec->high, spec->signed_);
      } while (!list.empty());
    }
  }
  // RFC 5545: BYSETPOS "MUST only be used in conjunction with another BYxxx rule part".
  if (std::find(seen.begin(), seen.end(), "BYSETPOS") != seen.end() && !other_by_part)
    return "BYSETPOS needs another BY part to pick from, such as BYDAY";
  return "";
}

// Gives a rule the days RFC 5545 takes from the first start where it names none (no BYDAY,
// BYMONTHDAY, BYYEARDAY or BYWEEKNO): WEEKLY repeats its weekday, MONTHLY its day of the
// month, and YEARLY its day and month (that day of each BYMONTH month if the rule has
// BYMONTH).
void AddDefaults(icalrecurrencetype& rule, LocalDate first) {
  if (HasAny(rule.by_day) || HasAny(rule.by_month_day) || HasAny(rule.by_year_day) ||
      HasAny(rule.by_week_no))
    return;
  switch (rule.freq) {
    case ICAL_WEEKLY_RECURRENCE: {
      const date::weekday weekday(ToLocalDays(first));
      rule.by_day[0] =
          static_cast<short>(ICAL_SUNDAY_WEEKDAY + static_cast<int>(weekday.c_encoding()));
      rule.by_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
      break;
    }
    case ICAL_YEARLY_RECURRENCE:
      if (!HasAny(rule.by_month)) {
        rule.by_month[0] = static_cast<short>(first.month);
        rule.by_month[1] = ICAL_RECURRENCE_ARRAY_MAX;
      }
      [[fallthrough]];
    case ICAL_MONTHLY_RECURRENCE:
      rule.by_month_day[0] = static_cast<short>(first.day);
      rule.by_month_day[1] = ICAL_RECURRENCE_ARRAY_MAX;
      break;
    default:
      break;
  }
}

// Whether BYDAY has a day with a number (2MO, -1FR).
bool HasNumberedDay(const icalrecurrencetype& rule) {
  const int n = CountOf(rule.by_day, ICAL_BY_DAY_SIZE);
  return std::any_of(rule.by_day, rule.by_day + n,
                     [](short d) { return icalrecurrencetype_day_position(d) != 0; });
}

// The local starts of a rule from `first` (the series' first start) to `bound`, in order, by
// RFC 5545 §3.3.10 (tests/recurrence_differential.py compares them with python-dateutil's).
// The rule's periods are days, weeks (begun on WKST, Monday unless it says),
// months or years, every INTERVAL of them from the one `first` is in. A period yields its
// days that match every BY part the rule has, each at every BYHOUR × BYMINUTE time (the
// first start's hour and minute where not given); BYSETPOS then picks among the period's
// starts, counting from its first or (negative) from its last. Starts before `first` are
// not part of the series, though BYSETPOS counts them. A numbered BYDAY counts within the
// month (MONTHLY, or YEARLY with BYMONTH) or the year; BYWEEKNO numbers weeks as ISO 8601
// does, with WKST's weeks (InWeek). The rule comes with its defaults (AddDefaults).
//
// libical 3.0 expanded rules wrongly in many ways (BYHOUR taken in the order written, WEEKLY
// weeks that WKST does not begin, a day two values name counted twice by BYSETPOS, BYSETPOS
// ignored with DAILY and WEEKLY, BYWEEKNO's weeks misplaced) and crashed on some
// (FREQ=YEARLY;BYWEEKNO=20,-1); it only parses the rule now.
class Expansion {
 public:
  Expansion(const icalrecurrencetype& rule, date::local_seconds first, date::local_seconds bound)
      : freq_(rule.freq),
        interval_(rule.interval > 0 ? rule.interval : 1),
        first_(first),
        last_day_(date::floor<date::days>(bound)),
        bound_(bound),
        months_(Values(rule.by_month, ICAL_BY_MONTH_SIZE)),
        month_days_(Values(rule.by_month_day, ICAL_BY_MONTHDAY_SIZE)),
        year_days_(Values(rule.by_year_day, ICAL_BY_YEARDAY_SIZE)),
        week_numbers_(Values(rule.by_week_no, ICAL_BY_WEEKNO_SIZE)),
        set_positions_(Values(rule.by_set_pos, ICAL_BY_SETPOS_SIZE)),
        week_start_(rule.week_start == ICAL_NO_WEEKDAY ? 1u : WeekdayIndex(rule.week_start)) {
    const date::local_days first_day = date::floor<date::days>(first);
    const date::year_month_day ymd(first_day);
    const auto at = std::chrono::duration_cast<std::chrono::minutes>(first - first_day);
    std::vector<int> hours = Values(rule.by_hour, ICAL_BY_HOUR_SIZE);
    std::vector<int> minutes = Values(rule.by_minute, ICAL_BY_MINUTE_SIZE);
    if (hours.empty()) hours.push_back(static_cast<int>(at.count() / 60));
    if (minutes.empty()) minutes.push_back(static_cast<int>(at.count() % 60));
    for (int h : hours)
      for (int m : minutes) times_.push_back(std::chrono::hours(h) + std::chrono::minutes(m));
    std::sort(times_.begin(), times_.end());
    times_.erase(std::unique(times_.begin(), times_.end()), times_.end());

    for (int i = 0; i < CountOf(rule.by_day, ICAL_BY_DAY_SIZE); ++i) {
      const int position = icalrecurrencetype_day_position(rule.by_day[i]);
      const unsigned weekday = WeekdayIndex(icalrecurrencetype_day_day_of_week(rule.by_day[i]));
      if (position == 0) {
        weekdays_[weekday] = true;
      } else {
        numbered_days_.push_back({position, weekday});
      }
      by_weekday_ = true;
    }
    // Periods are counted from the first one's start: a day, a week's first day as WKST
    // says, a month (as months since year 0) or a year.
    switch (freq_) {
      case ICAL_WEEKLY_RECURRENCE:
        origin_ = WeekOf(first_day).time_since_epoch().count();
        break;
      case ICAL_MONTHLY_RECURRENCE:
        origin_ = MonthIndex(ymd.year() / ymd.month());
        break;
      case ICAL_YEARLY_RECURRENCE:
        origin_ = static_cast<int>(ymd.year());
        break;
      default:
        origin_ = first_day.time_since_epoch().count();
        break;
    }
  }

  std::optional<date::local_seconds> Next() {
    while (next_ == pending_.size()) {
      pending_.clear();
      next_ = 0;
      if (!Fill()) return std::nullopt;
    }
    return pending_[next_++];
  }

 private:
  // date::weekday's c_encoding (Sunday 0) of libical's weekday (Sunday 1).
  static unsigned WeekdayIndex(icalrecurrencetype_weekday d) {
    return static_cast<unsigned>(d) - static_cast<unsigned>(ICAL_SUNDAY_WEEKDAY);
  }
  static std::vector<int> Values(const short* values, int size) {
    return std::vector<int>(values, values + CountOf(values, size));
  }
  static bool Contains(const std::vector<int>& values, int v) {
    return std::find(values.begin(), values.end(), v) != values.end();
  }
  // The first day of the week `day` is in, as WKST begins weeks.
  date::local_days WeekOf(date::local_days day) const {
    return day - date::days((date::weekday(day).c_encoding() + 7 - week_start_) % 7);
  }
  // The first day of week 1 of `year`: the first week with at least four of its days in
  // that year (ISO 8601, with weeks begun on WKST).
  date::local_days FirstWeek(date::year year) const {
    const date::local_days jan1{year / date::January / 1};
    const date::local_days week = WeekOf(jan1);
    return jan1 - week > date::days(3) ? week + date::days(7) : week;
  }
  // Whether `day` is in a week BYWEEKNO names: its number in the year the week belongs to
  // (days of late December can be in week 1 of the next year, early January in the last
  // week of the one before), or with a negative value counted from that year's last week.
  bool InWeek(date::local_days day, date::year year) const {
    date::local_days first = FirstWeek(year);
    date::local_days next = FirstWeek(year + date::years(1));
    if (day < first) {
      next = first;
      first = FirstWeek(year - date::years(1));
    } else if (day >= next) {
      first = next;
      next = FirstWeek(year + date::years(2));
    }
    const int number = static_cast<int>((day - first).count() / 7) + 1;
    const int weeks = static_cast<int>((next - first).count() / 7);
    return Contains(week_numbers_, number) || Contains(week_numbers_, number - weeks - 1);
  }
  static long MonthIndex(date::year_month ym) {
    return static_cast<long>(int(ym.year())) * 12 + static_cast<long>(unsigned(ym.month())) - 1;
  }

  // The days of the next period, [begin, end); false once it begins after the last day.
  bool NextPeriod(date::local_days& begin, date::local_days& end) {
    // Counted in wide integers: a large INTERVAL must end the series, not wrap a date.
    const long long step = static_cast<long long>(periods_++) * interval_;
    const date::year_month_day last(last_day_);
    long long days_from = 0, days_to = 0;
    switch (freq_) {
      case ICAL_WEEKLY_RECURRENCE:
        days_from = origin_ + 7 * step;
        days_to = days_from + 7;
        break;
      case ICAL_MONTHLY_RECURRENCE: {
        const long long month = origin_ + step;
        if (month > MonthIndex(last.year() / last.month())) return false;
        const date::year_month ym = date::year(static_cast<int>(month / 12)) /
                                    date::month(static_cast<unsigned>(month % 12 + 1));
        begin = date::local_days(ym / 1);
        end = date::local_days((ym + date::months(1)) / 1);
        return true;
      }
      case ICAL_YEARLY_RECURRENCE: {
        const long long year = origin_ + step;
        if (year > static_cast<int>(last.year())) return false;
        const date::year y(static_cast<int>(year));
        begin = date::local_days(y / date::January / 1);
        end = date::local_days((y + date::years(1)) / date::January / 1);
        return true;
      }
      default:
        days_from = origin_ + step;
        days_to = days_from + 1;
        break;
    }
    if (days_from > last_day_.time_since_epoch().count()) return false;
    begin = date::local_days(date::days(static_cast<int>(days_from)));
    end = date::local_days(date::days(static_cast<int>(days_to)));
    return true;
  }

  // Adds the next starts to pending_ (perhaps none): the next day's, or with BYSETPOS the
  // next period's. False once there are no more.
  bool Fill() {
    if (!set_positions_.empty()) {
      date::local_days begin, end;
      if (!NextPeriod(begin, end)) return false;
      std::vector<date::local_days> days;
      for (date::local_days d = begin; d < end; d += date::days(1))
        if (Matches(d)) days.push_back(d);
      const long starts = static_cast<long>(days.size() * times_.size());
      const long per_day = static_cast<long>(times_.size());
      for (int position : set_positions_) {
        const long i = position > 0 ? position - 1 : starts + position;
        if (i < 0 || i >= starts) continue;
        const date::local_seconds start = days[i / per_day] + times_[i % per_day];
        if (start >= first_ && start <= bound_) pending_.push_back(start);
      }
      std::sort(pending_.begin(), pending_.end());
      pending_.erase(std::unique(pending_.begin(), pending_.end()), pending_.end());
      return true;
    }
    if (day_ == period_end_ && !NextPeriod(day_, period_end_)) return false;
    const date::local_days day = day_;
    day_ += date::days(1);
    if (day > last_day_) return false;
    if (Matches(day)) {
      for (std::chrono::minutes t : times_) {
        const date::local_seconds start = day + t;
        if (start >= first_ && start <= bound_) pending_.push_back(start);
      }
    }
    return true;
  }

  bool Matches(date::local_days day) const {
    const date::year_month_day ymd(day);
    if (!months_.empty() && !Contains(months_, static_cast<int>(unsigned(ymd.month()))))
      return false;
    const int month_day = static_cast<int>(unsigned(ymd.day()));
    const int month_length =
        static_cast<int>(unsigned((ymd.year() / ymd.month() / date::last).day()));
    if (!month_days_.empty() && !Contains(month_days_, month_day) &&
        !Contains(month_days_, month_day - month_length - 1))
      return false;
    const date::local_days jan1{ymd.year() / date::January / 1};
    const int year_day = static_cast<int>((day - jan1).count()) + 1;
    const int year_length = ymd.year().is_leap() ? 366 : 365;
    if (!year_days_.empty() && !Contains(year_days_, year_day) &&
        !Contains(year_days_, year_day - year_length - 1))
      return false;
    if (!week_numbers_.empty() && !InWeek(day, ymd.year())) return false;
    if (!by_weekday_) return true;
    const unsigned weekday = date::weekday(day).c_encoding();
    if (weekdays_[weekday]) return true;
    // A numbered day counts the weekday within the month or the year: the nth from the
    // start, or with a negative number from the end.
    const bool in_month =
        freq_ == ICAL_MONTHLY_RECURRENCE || (freq_ == ICAL_YEARLY_RECURRENCE && !months_.empty());
    const int index = in_month ? month_day : year_day;
    const int length = in_month ? month_length : year_length;
    return std::any_of(numbered_days_.begin(), numbered_days_.end(), [&](const NumberedDay& n) {
      return n.weekday == weekday && (n.position > 0 ? (index - 1) / 7 + 1 == n.position
                                                     : (length - index) / 7 + 1 == -n.position);
    });
  }

  struct NumberedDay {
    int position;      // 1 the first, -1 the last
    unsigned weekday;  // c_encoding
  };

  const icalrecurrencetype_frequency freq_;
  const int interval_;
  const date::local_seconds first_;
  const date::local_days last_day_;
  const date::local_seconds bound_;
  std::vector<int> months_, month_days_, year_days_, week_numbers_, set_positions_;
  const unsigned week_start_;       // WKST, as a c_encoding
  std::array<bool, 7> weekdays_{};  // BYDAY without a number, by c_encoding
  std::vector<NumberedDay> numbered_days_;
  bool by_weekday_ = false;                  // whether days must match weekdays_ or numbered_days_
  std::vector<std::chrono::minutes> times_;  // each matching day's starts, in order
  long long origin_ = 0;  // the first period: a day or week's first day, a month or a year
  int periods_ = 0;       // periods begun
  date::local_days day_{}, period_end_{};     // the next day to look at, and its period's end
  std::vector<date::local_seconds> pending_;  // starts found, not yet returned
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

  if (const std::string why = CheckText(body); !why.empty()) return Refuse(why);
  icalrecurrencetype rule;
  bool parse_failed = false;
  {
    IcalSession ical;
    rule = icalrecurrencetype_from_string(text.c_str());
    parse_failed = ical.failed();
  }
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
  // RFC 5545 §3.3.10 allows these parts only with these frequencies.
  const bool monthly_or_yearly =
      rule.freq == ICAL_MONTHLY_RECURRENCE || rule.freq == ICAL_YEARLY_RECURRENCE;
  if (HasNumberedDay(rule) && !monthly_or_yearly)
    return Refuse("BYDAY with a number (such as 2MO) needs FREQ=MONTHLY or YEARLY");
  if (HasAny(rule.by_week_no) && rule.freq != ICAL_YEARLY_RECURRENCE)
    return Refuse("BYWEEKNO needs FREQ=YEARLY");
  if (HasAny(rule.by_week_no) && HasNumberedDay(rule))
    return Refuse("BYDAY with a number (such as 2MO) cannot be used with BYWEEKNO");
  if (HasAny(rule.by_year_day) && rule.freq != ICAL_YEARLY_RECURRENCE)
    return Refuse("BYYEARDAY needs FREQ=YEARLY");
  if (HasAny(rule.by_month_day) && rule.freq == ICAL_WEEKLY_RECURRENCE)
    return Refuse("BYMONTHDAY cannot be used with FREQ=WEEKLY");
  SortValues(rule.by_hour, ICAL_BY_HOUR_SIZE);
  SortValues(rule.by_minute, ICAL_BY_MINUTE_SIZE);
  SortValues(rule.by_month, ICAL_BY_MONTH_SIZE);
  SortValues(rule.by_month_day, ICAL_BY_MONTHDAY_SIZE);
  SortValues(rule.by_year_day, ICAL_BY_YEARDAY_SIZE);
  SortValues(rule.by_week_no, ICAL_BY_WEEKNO_SIZE);
  SortValues(rule.by_day, ICAL_BY_DAY_SIZE);
  SortValues(rule.by_set_pos, ICAL_BY_SETPOS_SIZE);
  AddDefaults(rule, first_date);
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

  // UNTIL is applied below, on the wall clock or as an instant; the expansion stops at a
  // local bound at or after it (or the horizon).
  enum class UntilKind { kNone, kDate, kUtc, kFloating };
  UntilKind until_kind = UntilKind::kNone;
  date::local_time<Duration> local_limit = horizon;  // last local start allowed (inclusive)
  Instant utc_limit{};
  date::local_seconds bound = horizon;  // where the expansion stops
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
      // The expansion stops at the local reading of the instant, with a day of slack for
      // gaps and overlaps; the slack is not part of the series.
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
  const std::size_t count = static_cast<std::size_t>(rule.count);
  Expansion expansion(rule, first_start, bound);
  // The first start as LocalToInstant reads it; `first_instant` is later when it was asked
  // at the second of a repeated wall-clock time.
  const Instant first_reading = LocalToInstant(zone, first_date, start_minutes) + seconds;

  std::vector<Occurrence> out;
  std::set<Instant> instants;
  // COUNT is trusted only as far as the cap, which a scheduler may set very high: the
  // horizon ends most such series long before, so reserve no more than a typical series.
  out.reserve(std::min<std::size_t>(count != 0 ? count : 16, 1024));
  for (;;) {
    const std::optional<date::local_seconds> start = expansion.Next();
    if (!start) break;
    const date::local_seconds local = *start;
    // UNTIL bounds the start as booked, the first start's seconds included.
    if (until_kind != UntilKind::kUtc && local + seconds > local_limit) break;
    const date::local_days day = date::floor<date::days>(local);
    const LocalDate date = FromLocalDays(day);
    const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(local - day);
    // The first local start is the instant it was asked at (the second of a repeated wall
    // clock time, say), which a UTC UNTIL then bounds.
    Instant instant = first_instant && date == first_date && minutes == start_minutes
                          ? *first_instant
                          : LocalToInstant(zone, date, minutes) + seconds;
    // A later wall-clock time in the overlap the first start was asked in the second time
    // is read the second time too, so that no occurrence starts before the series does
    // (from the second 01:30 of a fall-back day, its 01:45 is the second 01:45).
    if (first_instant && instant < *first_instant) {
      const Instant again = instant + (*first_instant - first_reading);
      if (ToLocal(zone, again) == date::local_time<Duration>(local) + seconds) instant = again;
    }
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
  if (count != 0 && out.empty()) {
    return Refuse(fmt::format("the series has no occurrences within {} years of its start",
                              kMaxRecurrenceYears));
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
