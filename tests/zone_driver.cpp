// Converts times for tests/zone_differential.py. Reads lines
//   "L ZONE YYYY MM DD MINUTES"  a wall-clock reading: prints the instant (Unix seconds) by
//                                LocalToInstant and by a LocalTimeConverter
//   "U ZONE SECONDS"             an instant: prints its wall-clock reading (seconds since the
//                                local epoch) by ToLocal, LocalDateOf as YYYY-MM-DD,
//                                LocalMinutesOf, and the converter's DayOf (days since the
//                                local epoch)
// and answers each with one line, "BAD" for a line it cannot read or a zone it does not know.
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>

#include "schedule/civil_time.hpp"
#include "smooth/time.hpp"

namespace {

long long Seconds(smooth::Instant t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

int main() {
  using namespace smooth;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string kind, name;
    in >> kind >> name;
    auto zone = internal::FindZone(name);
    if (!zone) {
      std::cout << "BAD " << line << "\n";
      continue;
    }
    internal::LocalTimeConverter converter(*zone);
    if (kind == "L") {
      LocalDate date;
      long minutes = 0;
      in >> date.year >> date.month >> date.day >> minutes;
      if (!in || !internal::IsValidDate(date)) {
        std::cout << "BAD " << line << "\n";
        continue;
      }
      const std::chrono::minutes since_midnight(minutes);
      std::cout << Seconds(internal::LocalToInstant(*zone, date, since_midnight)) << ' '
                << Seconds(converter.ToInstant(internal::ToLocalDays(date), since_midnight))
                << "\n";
    } else if (kind == "U") {
      long long seconds = 0;
      in >> seconds;
      if (!in) {
        std::cout << "BAD " << line << "\n";
        continue;
      }
      const Instant t{std::chrono::seconds(seconds)};
      const auto local = date::floor<std::chrono::seconds>(internal::ToLocal(*zone, t));
      std::cout << local.time_since_epoch().count() << ' '
                << FormatLocalDate(internal::LocalDateOf(*zone, t)) << ' '
                << internal::LocalMinutesOf(*zone, t).count() << ' '
                << converter.DayOf(t).time_since_epoch().count() << "\n";
    } else {
      std::cout << "BAD " << line << "\n";
    }
  }
}
