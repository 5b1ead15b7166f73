// Specification of absolute time (RFC 3339, clocks, zone names) and civil dates.
#include "smooth/time.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "smooth/civil.hpp"

using namespace std::chrono_literals;
using smooth::Instant;
using smooth::StatusCode;

namespace {

Instant At(std::string_view text) { return smooth::ParseRfc3339(text).value(); }

// Microseconds since the epoch, for comparisons doctest can print.
long long Micros(Instant t) { return t.time_since_epoch().count(); }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

TEST_CASE("FormatRfc3339 writes UTC with Z and microseconds only when there are some") {
  CHECK(smooth::FormatRfc3339(Instant{}) == "1970-01-01T00:00:00Z");
  const Instant t =
      Instant(std::chrono::sys_days(std::chrono::year(2026) / 11 / 26)) + 14h + 3min + 7s + 250ms;
  CHECK(smooth::FormatRfc3339(t) == "2026-11-26T14:03:07.250000Z");
  CHECK(smooth::FormatRfc3339(t - 250ms) == "2026-11-26T14:03:07Z");
  CHECK(smooth::FormatRfc3339(t - 250ms + 1us) == "2026-11-26T14:03:07.000001Z");
  CHECK(smooth::FormatRfc3339(Instant{} - 500ms) == "1969-12-31T23:59:59.500000Z");
}

TEST_CASE("RFC 3339 timestamps round-trip through ParseRfc3339 and FormatRfc3339") {
  for (std::string_view text :
       {"2026-03-08T07:30:00Z", "2026-11-26T14:03:07.250000Z", "2000-02-29T23:59:59.999999Z",
        "1970-01-01T00:00:00Z", "1969-07-20T20:17:40Z", "9999-12-31T23:59:59Z"}) {
    CAPTURE(text);
    const auto parsed = smooth::ParseRfc3339(text);
    REQUIRE(parsed.ok());
    CHECK(smooth::FormatRfc3339(*parsed) == text);
  }
}

TEST_CASE("a numeric offset is subtracted to reach UTC") {
  CHECK(Micros(At("2026-03-08T09:00:00+05:30")) == Micros(At("2026-03-08T03:30:00Z")));
  CHECK(Micros(At("2026-03-08T09:00:00-04:00")) == Micros(At("2026-03-08T13:00:00Z")));
  CHECK(Micros(At("2026-01-01T00:30:00+01:00")) == Micros(At("2025-12-31T23:30:00Z")));
  // RFC 3339's "-00:00" (offset unknown) still names the UTC instant.
  CHECK(Micros(At("2026-03-08T09:00:00-00:00")) == Micros(At("2026-03-08T09:00:00Z")));
}

TEST_CASE("lower-case t and z are accepted") {
  CHECK(Micros(At("2026-03-08t09:00:00z")) == Micros(At("2026-03-08T09:00:00Z")));
}

TEST_CASE("fractions of a second have 1 to 6 digits") {
  CHECK(smooth::FormatRfc3339(At("2026-03-08T09:00:00.5Z")) == "2026-03-08T09:00:00.500000Z");
  CHECK(smooth::FormatRfc3339(At("2026-03-08T09:00:00.000120+01:00")) ==
        "2026-03-08T08:00:00.000120Z");
  const auto seven = smooth::ParseRfc3339("2026-03-08T09:00:00.1234567Z", "when");
  REQUIRE_FALSE(seven.ok());
  CHECK(seven.error().code() == StatusCode::kInvalidArgument);
  CHECK(StartsWith(seven.error().message(), "when: "));
}

TEST_CASE("malformed timestamps are invalid_argument naming the field") {
  for (std::string_view bad : {
           "",
           "2026-03-08",
           "2026-03-08 09:00:00Z",   // space instead of T
           "2026-03-08T09:00:00",    // no offset
           "2026-03-08T09:00Z",      // no seconds
           "2026-3-08T09:00:00Z",    // one-digit month
           "2026-03-08T09:00:00.Z",  // dot without digits
           "2026-03-08T09:00:00+0530",
           "2026-03-08T09:00:00+05",
           "2026-03-08T09:00:00Zjunk",
           "2026-03-08T09:00:00Z ",
           " 2026-03-08T09:00:00Z",
           "2026-13-01T09:00:00Z",
           "2026-02-29T09:00:00Z",  // 2026 is not a leap year
           "2026-04-31T09:00:00Z",
           "2026-03-08T24:00:00Z",
           "2026-03-08T09:60:00Z",
           "2026-03-08T23:59:60Z",  // leap seconds are not representable
           "2026-03-08T09:00:00+24:00",
           "2026-03-08T09:00:00+05:60",
           "２026-03-08T09:00:00Z",
       }) {
    CAPTURE(bad);
    const auto r = smooth::ParseRfc3339(bad, "starts_at");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == StatusCode::kInvalidArgument);
    CHECK(StartsWith(r.error().message(), "starts_at: "));
  }
  CHECK(StartsWith(smooth::ParseRfc3339("nope").error().message(), "timestamp: "));
}

TEST_CASE("ValidateTimeZone knows IANA names and refuses everything else by field") {
  CHECK(smooth::ValidateTimeZone("Europe/London").ok());
  CHECK(smooth::ValidateTimeZone("America/New_York").ok());
  CHECK(smooth::ValidateTimeZone("Australia/Lord_Howe").ok());
  CHECK(smooth::ValidateTimeZone("UTC").ok());

  const smooth::Status empty = smooth::ValidateTimeZone("");
  CHECK(empty.code() == StatusCode::kInvalidArgument);
  CHECK(StartsWith(empty.message(), "time_zone: "));

  const smooth::Status unknown = smooth::ValidateTimeZone("Mars/Olympus_Mons", "zone");
  CHECK(unknown.code() == StatusCode::kInvalidArgument);
  CHECK(unknown.message() == "zone: unknown time zone 'Mars/Olympus_Mons'");

  // Names are case-sensitive, and neither paths nor the host's "localtime" are zones.
  CHECK_FALSE(smooth::ValidateTimeZone("europe/london").ok());
  CHECK_FALSE(smooth::ValidateTimeZone("../../etc/passwd").ok());
  CHECK_FALSE(smooth::ValidateTimeZone("/usr/share/zoneinfo/UTC").ok());
  CHECK_FALSE(smooth::ValidateTimeZone("localtime").ok());
  for (std::string_view bad :
       {"europe/london", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "localtime"}) {
    CAPTURE(bad);
    const smooth::Status s = smooth::ValidateTimeZone(bad);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(StartsWith(s.message(), "time_zone: "));
  }
}

TEST_CASE("ManualClock moves only when told to") {
  smooth::ManualClock clock(At("2026-03-08T06:00:00Z"));
  CHECK(Micros(clock.Now()) == Micros(At("2026-03-08T06:00:00Z")));
  clock.Advance(30min);
  CHECK(Micros(clock.Now()) == Micros(At("2026-03-08T06:30:00Z")));
  clock.Set(At("2027-01-01T00:00:00.000001Z"));
  CHECK(smooth::FormatRfc3339(clock.Now()) == "2027-01-01T00:00:00.000001Z");
}

TEST_CASE("SystemClock reads the real clock") {
  const Instant before = std::chrono::floor<smooth::Duration>(std::chrono::system_clock::now());
  const Instant now = smooth::SystemClock::Default().Now();
  const Instant after = std::chrono::floor<smooth::Duration>(std::chrono::system_clock::now());
  CHECK(before <= now);
  CHECK(now <= after);
  CHECK(&smooth::SystemClock::Default() == &smooth::SystemClock::Default());
}

TEST_CASE("local dates format as YYYY-MM-DD and parse back") {
  CHECK(smooth::FormatLocalDate({2026, 3, 8}) == "2026-03-08");
  CHECK(smooth::FormatLocalDate({987, 12, 31}) == "0987-12-31");
  const auto d = smooth::ParseLocalDate("2024-02-29");
  REQUIRE(d.ok());
  CHECK(*d == smooth::LocalDate{2024, 2, 29});
  CHECK(smooth::FormatLocalDate(*d) == "2024-02-29");
}

TEST_CASE("dates that do not exist or are not YYYY-MM-DD are refused by field") {
  for (std::string_view bad :
       {"2026-02-29", "2100-02-29", "2026-04-31", "2026-00-10", "2026-13-01", "2026-01-00",
        "26-03-08", "2026-3-8", "2026/03/08", "2026-03-08T00:00:00Z", "", "2026-03-0x"}) {
    CAPTURE(bad);
    const auto r = smooth::ParseLocalDate(bad, "valid_from");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == StatusCode::kInvalidArgument);
    CHECK(StartsWith(r.error().message(), "valid_from: "));
  }
  CHECK(smooth::ParseLocalDate("2026-02-29").error().message() == "date: 2026-02-29 is not a date");
}

TEST_CASE("dates run from year 1 to 9999, the years YYYY-MM-DD can hold") {
  CHECK(smooth::ParseLocalDate("0001-01-01").ok());
  CHECK(smooth::ParseLocalDate("9999-12-31").ok());
  CHECK(smooth::ParseLocalDate("0000-12-31").error().code() == StatusCode::kInvalidArgument);
  CHECK(StartsWith(smooth::ParseLocalDate("0000-12-31").error().message(), "date: "));
}

// --- Wall-clock readings in a time zone (smooth/civil.hpp) --------------------------------

namespace {
smooth::LocalDateTime Reading(int year, int month, int day, int hour, int minute) {
  return {{year, month, day}, std::chrono::hours(hour) + std::chrono::minutes(minute)};
}
void CheckNames(const smooth::Status& s, std::string_view field) {
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(s.message().rfind(std::string(field) + ":", 0) == 0, s.message());
}
}  // namespace

TEST_CASE("ToInstant and ToLocal convert wall-clock readings in a zone, both ways") {
  auto berlin = smooth::ToInstant("Europe/Berlin", Reading(2026, 3, 17, 10, 0));
  REQUIRE(berlin.ok());
  CHECK(Micros(*berlin) == Micros(At("2026-03-17T09:00:00Z")));  // CET
  auto summer = smooth::ToInstant("Europe/Berlin", Reading(2026, 3, 31, 10, 0));
  REQUIRE(summer.ok());
  CHECK(Micros(*summer) == Micros(At("2026-03-31T08:00:00Z")));  // CEST
  CHECK(smooth::ToLocal("Europe/Berlin", *summer).value() == Reading(2026, 3, 31, 10, 0));
  // Seconds are dropped; the local date can differ from the UTC one.
  CHECK(smooth::ToLocal("Asia/Tokyo", At("2026-03-17T20:30:59Z")).value() ==
        Reading(2026, 3, 18, 5, 30));
  // Midnight at the end of a day is the next day's start.
  CHECK(Micros(smooth::ToInstant("UTC", Reading(2026, 3, 17, 24, 0)).value()) ==
        Micros(At("2026-03-18T00:00:00Z")));
}

TEST_CASE("ToInstant reads a skipped time with the offset before the gap, a repeated one first") {
  // 02:30 does not exist on 2026-03-08 in New York: read as 02:30 EST.
  CHECK(Micros(smooth::ToInstant("America/New_York", Reading(2026, 3, 8, 2, 30)).value()) ==
        Micros(At("2026-03-08T07:30:00Z")));
  // 01:30 happens twice on 2026-11-01: the first, 01:30 EDT.
  CHECK(Micros(smooth::ToInstant("America/New_York", Reading(2026, 11, 1, 1, 30)).value()) ==
        Micros(At("2026-11-01T05:30:00Z")));
  // Both 05:30Z and 06:30Z read 01:30 on the wall clock.
  CHECK(smooth::ToLocal("America/New_York", At("2026-11-01T06:30:00Z")).value() ==
        Reading(2026, 11, 1, 1, 30));
}

TEST_CASE("ToInstant and ToLocal name the field that is wrong") {
  CheckNames(smooth::ToInstant("Mars/Olympus_Mons", Reading(2026, 3, 17, 10, 0)).error(),
             "time_zone");
  CheckNames(smooth::ToLocal("", At("2026-03-17T09:00:00Z")).error(), "time_zone");
  // Outside years 1 to 9999 UTC, as the scheduler takes instants, never a wrapped date.
  for (Instant t : {Instant::max(), Instant::min(), Instant(smooth::Duration(INT64_MAX / 2)),
                    At("0001-01-01T00:00:00Z") - smooth::Duration(1)})
    CheckNames(smooth::ToLocal("Asia/Tokyo", t).error(), "t");
  CHECK(smooth::ToLocal("Asia/Tokyo", At("9999-12-31T23:59:59Z")).value() ==
        Reading(10000, 1, 1, 8, 59));
  CheckNames(smooth::ToInstant("UTC", Reading(2026, 2, 30, 10, 0)).error(), "date");
  // Month 257 would wrap to January in date::month's unsigned char; years stop at 9999.
  CheckNames(smooth::ToInstant("UTC", Reading(2026, 257, 1, 10, 0)).error(), "date");
  CheckNames(smooth::ToInstant("UTC", Reading(2026, 1, 257, 10, 0)).error(), "date");
  CheckNames(smooth::ToInstant("UTC", Reading(10000, 1, 1, 10, 0)).error(), "date");
  CheckNames(smooth::ToInstant("UTC", Reading(0, 1, 1, 10, 0)).error(), "date");
  CHECK(smooth::ToInstant("UTC", Reading(9999, 12, 31, 24, 0)).ok());
  CheckNames(smooth::ToInstant("UTC", Reading(2026, 2, 3, 24, 1)).error(), "since_midnight");
  CheckNames(smooth::ToInstant("UTC", {{2026, 2, 3}, std::chrono::minutes(-1)}).error(),
             "since_midnight");
}
