// Formatting and parsing of civil dates ("2026-03-08").
#include "smooth/civil.hpp"

#include <fmt/format.h>

#include "core/digits.hpp"
#include "schedule/civil_time.hpp"

namespace smooth {

std::string FormatLocalDate(LocalDate d) {
  return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

Result<LocalDate> ParseLocalDate(std::string_view text, std::string_view field) {
  // Exactly YYYY-MM-DD: the shape FormatLocalDate produces and RFC 3339's full-date.
  auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  bool shaped = text.size() == 10 && text[4] == '-' && text[7] == '-';
  for (std::size_t i = 0; shaped && i < text.size(); ++i) {
    if (i != 4 && i != 7) shaped = digit(i);
  }
  if (!shaped) {
    return InvalidArgument(fmt::format("{}: expected a date as YYYY-MM-DD", field));
  }
  auto number = [&](std::size_t pos, std::size_t n) {
    return static_cast<int>(internal::Digits(text.substr(pos, n)).value());
  };
  const LocalDate date{number(0, 4), number(5, 2), number(8, 2)};
  if (!internal::IsValidDate(date)) {
    return InvalidArgument(fmt::format("{}: {} is not a date", field, text));
  }
  return date;
}

Result<Instant> ToInstant(std::string_view time_zone, LocalDateTime local) {
  auto zone = internal::FindZone(time_zone);
  if (!zone) return zone.error();
  if (!internal::IsValidDate(local.date))
    return InvalidArgument(fmt::format("date: {} is not a date", FormatLocalDate(local.date)));
  if (local.since_midnight < std::chrono::minutes(0) ||
      local.since_midnight > std::chrono::minutes(1440))
    return InvalidArgument("since_midnight: must be 0 to 1440 minutes");
  return internal::LocalToInstant(*zone, local.date, local.since_midnight);
}

Result<LocalDateTime> ToLocal(std::string_view time_zone, Instant t) {
  auto zone = internal::FindZone(time_zone);
  if (!zone) return zone.error();
  SMOOTH_RETURN_IF_ERROR(internal::ValidateInstant(t, "t"));
  return LocalDateTime{internal::LocalDateOf(*zone, t), internal::LocalMinutesOf(*zone, t)};
}

}  // namespace smooth
