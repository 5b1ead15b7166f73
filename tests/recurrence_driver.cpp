// Expands recurrence rules for tests/recurrence_differential.py: reads lines
// "RRULE|YYYY-MM-DD|HH:MM" (the rule, and the first start on the UTC wall clock) and writes,
// per line, "OK" and the starts as YYYY-MM-DDTHH:MM, or "ERR" and the refusal.
#include <iostream>
#include <string>

#include "schedule/civil_time.hpp"
#include "schedule/recurrence.hpp"
#include "smooth/time.hpp"

int main() {
  const date::time_zone* utc = smooth::internal::FindZone("UTC").value();
  std::string line;
  while (std::getline(std::cin, line)) {
    const auto bar1 = line.find('|');
    const auto bar2 = line.find('|', bar1 + 1);
    auto date = smooth::ParseLocalDate(line.substr(bar1 + 1, bar2 - bar1 - 1));
    if (bar1 == std::string::npos || bar2 == std::string::npos || !date ||
        line.size() != bar2 + 6) {
      std::cout << "BAD " << line << "\n" << std::flush;
      continue;
    }
    const std::chrono::minutes at(std::stoi(line.substr(bar2 + 1, 2)) * 60 +
                                  std::stoi(line.substr(bar2 + 4, 2)));
    auto starts = smooth::internal::ExpandRecurrence(line.substr(0, bar1), utc, *date, at);
    if (!starts) {
      std::cout << "ERR " << starts.error().message() << "\n" << std::flush;
      continue;
    }
    std::cout << "OK";
    for (const smooth::internal::Occurrence& o : *starts)
      std::cout << ' ' << smooth::FormatRfc3339(o.instant).substr(0, 16);
    std::cout << "\n" << std::flush;
  }
}
