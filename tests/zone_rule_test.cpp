// Time zones after 2037: the POSIX TZ rule at the end of each compiled zone file, checked
// against the transitions the files list, and the conversions that use it.
#include <doctest/doctest.h>

#include <date/tz.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "schedule/civil_time.hpp"
#include "schedule/zone_rule.hpp"

namespace smooth::internal {
namespace {

using namespace std::chrono_literals;
using date::local_days;
using date::local_seconds;
using date::sys_days;
using date::sys_seconds;

// The TZ string at the end of the zone's file, as zone_rule.cpp reads it.
std::string FooterOf(const std::string& name) {
  std::ifstream file("/usr/share/zoneinfo/" + name, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (text.size() < 2 || text.back() != '\n') return "";
  const std::size_t open = text.rfind('\n', text.size() - 2);
  return open == std::string::npos ? "" : text.substr(open + 1, text.size() - open - 2);
}

const date::time_zone* Zone(std::string_view name) { return *FindZone(name); }

std::chrono::seconds OffsetAt(std::string_view zone, sys_seconds t) {
  return ZoneSysInfo(Zone(zone), t).offset;
}

TEST_CASE("every zone's rule agrees with the last six years of transitions its file lists") {
  // Where the file still lists transitions, the rule must give the same periods and read
  // local times the same way: then it can be trusted for the years after the last one.
  int with_dst = 0;
  std::vector<std::string> irregular;
  for (const date::time_zone& zone : date::get_tzdb().zones) {
    const std::string name(zone.name());
    const std::string footer = FooterOf(name);
    auto rule = ZoneRule::Parse(footer);
    // Every footer in the system files is one this parser reads.
    CHECK_MESSAGE((footer.empty() || rule.has_value()), name << ": '" << footer << "'");
    if (!rule || !rule->HasDst()) continue;
    ++with_dst;
    // The last listed transition begins the period that date/tz never ends.
    const sys_seconds last = zone.get_info(sys_seconds{sys_days{date::year{9000} / 1 / 1}}).begin;
    // A few zones list irregular transitions far ahead (Gaza and Hebron: Ramadan, to 2086),
    // which their rule, for the years after, does not describe.
    if (last >= sys_seconds{sys_days{date::year{2038} / 1 / 1}}) {
      irregular.push_back(name);
      continue;
    }
    const sys_seconds from = last - date::years(6);
    int periods = 0;
    for (date::sys_info want = zone.get_info(from); want.end <= last;
         want = zone.get_info(want.end)) {
      ++periods;
      for (sys_seconds t : {std::max(want.begin, from), want.end - 1s}) {
        const date::sys_info got = rule->SysInfo(t);
        CHECK_MESSAGE((got.offset == want.offset && got.end == want.end &&
                       (want.begin < from || got.begin == want.begin)),
                      name << " at " << t);
      }
      // Local times around the period's end, where a gap or an overlap is.
      const local_seconds change{want.end.time_since_epoch() + want.offset};
      for (local_seconds l = change - 3h; l <= change + 3h; l += 15min) {
        const date::local_info w = zone.get_info(l);
        const date::local_info g = rule->LocalInfo(l);
        CHECK_MESSAGE(
            (g.result == w.result && g.first.offset == w.first.offset &&
             (w.result == date::local_info::unique || g.second.offset == w.second.offset)),
            name << " at local " << l);
      }
    }
    CHECK_MESSAGE(periods >= 10, name);  // two changes a year
  }
  // The database has a good number of zones with DST today (Europe, North America, ...).
  CHECK(with_dst > 50);
  CHECK_MESSAGE(irregular.size() <= 4,
                "zones with transitions listed after 2037: " << irregular.size());
}

TEST_CASE("daylight saving time goes on after 2037") {
  const sys_seconds summer_2038{sys_days{date::year{2038} / 7 / 1} + 10h};
  const sys_seconds winter_2038{sys_days{date::year{2038} / 1 / 15} + 10h};
  // date/tz alone keeps the offset of the last listed transition (October 2037: GMT).
  CHECK(Zone("Europe/London")->get_info(summer_2038).offset == 0s);
  CHECK(OffsetAt("Europe/London", summer_2038) == 1h);
  CHECK(OffsetAt("Europe/London", winter_2038) == 0h);
  CHECK(OffsetAt("America/New_York", sys_seconds{sys_days{date::year{2050} / 7 / 4}}) == -4h);
  CHECK(OffsetAt("America/New_York", sys_seconds{sys_days{date::year{9999} / 12 / 31}}) == -5h);
  // Southern hemisphere: summer across the new year.
  CHECK(OffsetAt("Australia/Sydney", sys_seconds{sys_days{date::year{2040} / 1 / 1}}) == 11h);
  CHECK(OffsetAt("Australia/Sydney", sys_seconds{sys_days{date::year{2040} / 7 / 1}}) == 10h);
  // Dublin's "negative" DST: IST (+1) is standard time, GMT the winter rule.
  CHECK(OffsetAt("Europe/Dublin", summer_2038) == 1h);
  CHECK(OffsetAt("Europe/Dublin", winter_2038) == 0h);
  // Zones without DST keep their offset.
  CHECK(OffsetAt("Asia/Tokyo", summer_2038) == 9h);
  CHECK(OffsetAt("America/Mexico_City", summer_2038) == -6h);
  // The period found is the rule's: London's 2038 summer time, March 28 to October 31.
  const date::sys_info bst = ZoneSysInfo(Zone("Europe/London"), summer_2038);
  CHECK(bst.begin == sys_seconds{sys_days{date::year{2038} / 3 / 28} + 1h});
  CHECK(bst.end == sys_seconds{sys_days{date::year{2038} / 10 / 31} + 1h});
  CHECK(bst.abbrev == "BST");
}

TEST_CASE("civil conversions after 2037 follow the rule, gaps and overlaps included") {
  const date::time_zone* london = Zone("Europe/London");
  auto at = [](int y, unsigned m, unsigned d, std::chrono::minutes since) {
    return Instant(sys_days{date::year{y} / m / d} + since);
  };
  CHECK(LocalToInstant(london, {2038, 7, 1}, 10h) == at(2038, 7, 1, 9h));
  CHECK(LocalToInstant(london, {2038, 1, 15}, 10h) == at(2038, 1, 15, 10h));
  // 01:30 on 2038-03-28 does not exist: read with the offset before the gap (GMT).
  CHECK(LocalToInstant(london, {2038, 3, 28}, 90min) == at(2038, 3, 28, 90min));
  // 01:30 on 2038-10-31 happens twice: the first, in BST.
  CHECK(LocalToInstant(london, {2038, 10, 31}, 90min) == at(2038, 10, 31, 30min));
  CHECK(LocalDateOf(london, at(2038, 6, 30, 23h + 30min)) == LocalDate{2038, 7, 1});
  CHECK(LocalMinutesOf(london, at(2038, 7, 1, 9h)) == 10h);
  // The fast converter the engine uses agrees.
  LocalTimeConverter converter(london);
  CHECK(converter.ToInstant(local_seconds{local_days{date::year{2038} / 7 / 1}} + 10h) ==
        at(2038, 7, 1, 9h));
  CHECK(converter.ToInstant(local_seconds{local_days{date::year{2038} / 12 / 1}} + 10h) ==
        at(2038, 12, 1, 10h));
  CHECK(converter.DayOf(at(2038, 6, 30, 23h + 30min)) == local_days{date::year{2038} / 7 / 1});
}

TEST_CASE("TZ strings: the forms the zone files use are read; anything else is refused") {
  auto offset = [](const char* tz, sys_seconds t) {
    return ZoneRule::Parse(tz)->SysInfo(t).offset;
  };
  const sys_seconds jan{sys_days{date::year{2040} / 1 / 15}};
  const sys_seconds jul{sys_days{date::year{2040} / 7 / 15}};
  CHECK(offset("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", jan) == 11h);
  CHECK(offset("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", jul) == 10h + 30min);
  CHECK(offset("<-03>3", jul) == -3h);
  // All year daylight time, written as a start on January 1 and an end after December 31.
  CHECK(offset("EST5EDT,0/0,J365/25", jan) == -4h);
  CHECK(offset("EST5EDT,0/0,J365/25", jul) == -4h);
  // Jn does not count February 29: J60 is March 1 in a leap year too.
  CHECK(ZoneRule::Parse("AAA0BBB,J60/0,J300/0")->SysInfo(jan).offset == 0s);
  CHECK(ZoneRule::Parse("AAA0BBB,J60/0,J300/0")
            ->SysInfo(sys_seconds{sys_days{date::year{2040} / 3 / 1}})
            .offset == 1h);
  CHECK(ZoneRule::Parse("AAA0BBB,J60/0,J300/0")
            ->SysInfo(sys_seconds{sys_days{date::year{2040} / 2 / 29} + 23h})
            .offset == 0s);
  for (const char* bad : {"", "GM0", "EST", "EST5EDT", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0",
                          "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST25",
                          "EST5EDT,M3.2.0,M11.1.0x", "<E>5", "EST5EDT,J0,J365"})
    CHECK_MESSAGE(!ZoneRule::Parse(bad).has_value(), bad);
}

}  // namespace
}  // namespace smooth::internal
