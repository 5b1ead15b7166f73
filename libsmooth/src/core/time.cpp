// The system clock, RFC 3339 formatting and parsing, and time zone name validation.
#include "smooth/time.hpp"

#include <date/date.h>
#include <fmt/format.h>

#include <cstdint>

#include "core/digits.hpp"
#include "schedule/civil_time.hpp"

namespace smooth {
namespace {

// Reads exactly `n` ASCII digits at `pos`; false if any is missing or not a digit.
bool ReadDigits(std::string_view text, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > text.size()) return false;
  const auto value = internal::Digits(text.substr(pos, n));
  if (!value) return false;
  *out = static_cast<int>(*value);
  return true;
}

bool At(std::string_view text, std::size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

Status Malformed(std::string_view field) {
  return InvalidArgument(
      fmt::format("{}: expected an RFC 3339 timestamp such as 2026-03-08T09:00:00Z or "
                  "2026-03-08T09:00:00.5+05:30",
                  field));
}

}  // namespace

Instant SystemClock::Now() const {
  return std::chrono::floor<Duration>(std::chrono::system_clock::now());
}

SystemClock& SystemClock::Default() {
  static SystemClock clock;
  return clock;
}

std::string FormatRfc3339(Instant t) {
  const auto day = date::floor<date::days>(t);
  const date::year_month_day ymd(day);
  const date::hh_mm_ss<Duration> hms(t - day);
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  hms.hours().count(), hms.minutes().count(), hms.seconds().count());
  if (hms.subseconds().count() != 0) {
    out += fmt::format(".{:06}", hms.subseconds().count());
  }
  out += 'Z';
  return out;
}

Result<Instant> ParseRfc3339(std::string_view text, std::string_view field) {
  // YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM); 't' and 'z' may be lower case.
  int year, month, day, hour, minute, second;
  if (!ReadDigits(text, 0, 4, &year) || !At(text, 4, '-') || !ReadDigits(text, 5, 2, &month) ||
      !At(text, 7, '-') || !ReadDigits(text, 8, 2, &day) ||
      !(At(text, 10, 'T') || At(text, 10, 't')) || !ReadDigits(text, 11, 2, &hour) ||
      !At(text, 13, ':') || !ReadDigits(text, 14, 2, &minute) || !At(text, 16, ':') ||
      !ReadDigits(text, 17, 2, &second)) {
    return Malformed(field);
  }
  std::size_t pos = 19;

  std::int64_t micros = 0;
  if (At(text, pos, '.')) {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++digits > 6) {
        return InvalidArgument(
            fmt::format("{}: at most 6 fractional second digits (microseconds)", field));
      }
      micros = micros * 10 + (text[pos] - '0');
      ++pos;
    }
    if (digits == 0) return Malformed(field);
    for (int i = digits; i < 6; ++i) micros *= 10;
  }

  std::chrono::minutes offset{0};
  if (At(text, pos, 'Z') || At(text, pos, 'z')) {
    ++pos;
  } else if (At(text, pos, '+') || At(text, pos, '-')) {
    const bool negative = text[pos] == '-';
    int offset_hours, offset_minutes;
    if (!ReadDigits(text, pos + 1, 2, &offset_hours) || !At(text, pos + 3, ':') ||
        !ReadDigits(text, pos + 4, 2, &offset_minutes)) {
      return Malformed(field);
    }
    if (offset_hours > 23 || offset_minutes > 59) {
      return InvalidArgument(fmt::format("{}: UTC offset out of range", field));
    }
    offset = std::chrono::hours(offset_hours) + std::chrono::minutes(offset_minutes);
    if (negative) offset = -offset;
    pos += 6;
  } else {
    return InvalidArgument(fmt::format("{}: missing UTC offset ('Z' or +HH:MM / -HH:MM)", field));
  }
  if (pos != text.size()) return Malformed(field);

  const date::year_month_day ymd(date::year(year), date::month(static_cast<unsigned>(month)),
                                 date::day(static_cast<unsigned>(day)));
  if (!ymd.ok()) {
    return InvalidArgument(
        fmt::format("{}: {:04}-{:02}-{:02} is not a date", field, year, month, day));
  }
  if (hour > 23 || minute > 59) {
    return InvalidArgument(fmt::format("{}: time of day out of range", field));
  }
  if (second > 59) {
    return InvalidArgument(
        fmt::format("{}: seconds out of range (leap seconds are not supported)", field));
  }

  const auto local = date::sys_days(ymd) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                     std::chrono::seconds(second) + Duration(micros);
  return Instant(local - offset);
}

Status ValidateTimeZone(std::string_view name, std::string_view field) {
  return internal::FindZone(name, field).status();
}

}  // namespace smooth
