// fuzz_parsers: every parser that reads outside input, fed mutated input under
// AddressSanitizer and UndefinedBehaviorSanitizer (SECURITY.md 21). tests/CMakeLists.txt
// builds it against a sanitized copy of the library; any memory error or undefined behaviour
// aborts the run. Beyond not crashing, each answer must be a success or invalid_argument (or,
// for a Host header, not_found) whose message starts with the field it names.
//
//     fuzz_parsers [seconds]    default 20, shared among the parsers
//
// The mutations come from a fixed seed, so a failure happens again on the next run; the input
// that failed is printed, escaped.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "access/validate.hpp"
#include "schedule/civil_time.hpp"
#include "schedule/recurrence.hpp"
#include "schedule/zone_rule.hpp"
#include "smooth/smooth.hpp"

namespace {

using smooth::Status;
using smooth::StatusCode;

// A parser under test: the codes it may answer with besides ok, and the prefixes its error
// messages must start with.
struct Target {
  std::string name;
  std::vector<std::string> seeds;
  std::vector<StatusCode> codes;
  std::vector<std::string> prefixes;
  std::function<Status(const std::string&)> parse;
};

template <typename T>
Status StatusOf(const smooth::Result<T>& r) {
  return r ? Status() : r.error();
}

// Tokens worth splicing in: separators, field names, extreme numbers, bytes of broken UTF-8.
const std::vector<std::string> kTokens = {"T",
                                          "Z",
                                          "z",
                                          ":",
                                          "-",
                                          "+",
                                          ".",
                                          ";",
                                          "=",
                                          ",",
                                          "@",
                                          "/",
                                          "_",
                                          "\\",
                                          "%",
                                          "\"",
                                          " ",
                                          "FREQ=",
                                          "WEEKLY",
                                          "COUNT=",
                                          "UNTIL=",
                                          "BYDAY=",
                                          "INTERVAL=",
                                          "BYSETPOS=-1",
                                          "RSCALE=",
                                          "BYWEEKNO=-1",
                                          "BYMONTHDAY=-",
                                          "BYYEARDAY=",
                                          "BYMONTH=",
                                          "5L",
                                          "MONTHLY",
                                          "YEARLY",
                                          "366",
                                          "BYHOUR=",
                                          "BYMINUTE=",
                                          "WKST=",
                                          "99999999999999999999",
                                          "-2147483649",
                                          "0",
                                          "00",
                                          "60",
                                          "24:00",
                                          "1e9",
                                          "\xff",
                                          "\xc3",
                                          "\xe2\x82",
                                          "\xf0\x9f\x98\x80",
                                          std::string(1, '\0'),
                                          "..",
                                          "xn--",
                                          "localhost",
                                          ":65536"};

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  std::string Mutate(std::string s) {
    const int steps = 1 + Below(4);
    for (int i = 0; i < steps; ++i) {
      switch (Below(7)) {
        case 0:  // flip a bit
          if (!s.empty()) s[Below(s.size())] ^= static_cast<char>(1 << Below(8));
          break;
        case 1:  // any byte
          if (!s.empty()) s[Below(s.size())] = static_cast<char>(Below(256));
          break;
        case 2:  // insert a byte
          s.insert(s.begin() + static_cast<long>(Below(s.size() + 1)), static_cast<char>(Below(256)));
          break;
        case 3:  // delete a run
          if (!s.empty()) {
            std::size_t at = Below(s.size());
            s.erase(at, 1 + Below(s.size() - at));
          }
          break;
        case 4:  // repeat a run, to grow
          if (!s.empty() && s.size() < 2048) {
            std::size_t at = Below(s.size());
            std::string run = s.substr(at, 1 + Below(s.size() - at));
            s.insert(at, run + run);
          }
          break;
        default:  // splice a token
          s.insert(Below(s.size() + 1), kTokens[Below(kTokens.size())]);
          break;
      }
    }
    if (s.size() > 4096) s.resize(4096);
    return s;
  }

 private:
  std::size_t Below(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  std::mt19937_64 rng_;
};

std::string Escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += c >= 0x20 && c < 0x7f && c != '\\' ? std::string(1, static_cast<char>(c))
                                                                    : fmt::format("\\x{:02x}", c);
  return out;
}

// Whether `s` is an answer `t` may give.
bool Acceptable(const Target& t, const Status& s) {
  if (s.ok()) return true;
  bool code = false;
  for (StatusCode c : t.codes) code = code || s.code() == c;
  if (!code) return false;
  for (const std::string& p : t.prefixes)
    if (s.message().rfind(p, 0) == 0) return true;
  return t.prefixes.empty();
}

std::vector<Target> Targets(smooth::Platform& platform) {
  const auto* berlin = smooth::internal::FindZone("Europe/Berlin").value();
  const std::vector<StatusCode> invalid = {StatusCode::kInvalidArgument};
  return {
      {"ParseRfc3339",
       {"2026-03-08T09:00:00Z", "2026-03-08T09:00:00.123456+05:30", "1970-01-01t00:00:00z"},
       invalid,
       {"timestamp:"},
       [](const std::string& s) { return StatusOf(smooth::ParseRfc3339(s)); }},
      {"ParseLocalDate",
       {"2026-03-08", "2024-02-29", "9999-12-31"},
       invalid,
       {"date:"},
       [](const std::string& s) { return StatusOf(smooth::ParseLocalDate(s)); }},
      {"NormalizeEmail",
       {"Pat.Smith@Example.COM", "a+b@sub.example.org", "x@y.z"},
       invalid,
       {"email:"},
       [](const std::string& s) { return StatusOf(smooth::internal::NormalizeEmail(s)); }},
      {"ValidateSlug",
       {"acme", "globex_2", "a"},
       invalid,
       {"slug:"},
       [](const std::string& s) { return smooth::internal::ValidateSlug(s); }},
      {"NormalizeDomainName",
       {"book.acme.example", "xn--bcher-kva.example", "a.b"},
       invalid,
       {"domain:"},
       [](const std::string& s) { return StatusOf(smooth::internal::NormalizeDomainName(s)); }},
      {"ValidatePassword",
       {"correct horse battery", "12345678", std::string(1024, 'p')},
       invalid,
       {"password:"},
       [](const std::string& s) { return smooth::internal::ValidatePassword(s); }},
      // Free text (names, reasons) and what is stored as given (notes, phone, keys).
      {"ValidateText",
       {"Acme Hair & Beauty", "Zo\xc3\xab \xe2\x98\x95", "cover for\nthe week"},
       invalid,
       {"name:"},
       [](const std::string& s) { return smooth::internal::ValidateText(s, "name", 200); }},
      {"ValidateStorable",
       {"", "+1 555 0100", "call after 5\tpm"},
       invalid,
       {"notes:"},
       [](const std::string& s) { return smooth::internal::ValidateStorable(s, "notes"); }},
      // The names of stored enums, read back by their parsers: each answers for its own field.
      {"enum names",
       {"TENANT_STAFF", "appointment.read_all", "enterprise", "suspended", "verified", "no_show",
        "equipment", "blocked"},
       {},
       {},
       [](const std::string& s) -> Status {
         const std::pair<Status, std::string_view> answers[] = {
             {StatusOf(smooth::ParseRole(s)), "role:"},
             {StatusOf(smooth::ParseAction(s)), "action:"},
             {StatusOf(smooth::ParseTier(s)), "tier:"},
             {StatusOf(smooth::ParseTenantStatus(s)), "status:"},
             {StatusOf(smooth::ParseDomainVerification(s)), "verification:"},
             {StatusOf(smooth::ParseAppointmentStatus(s)), "status:"},
             {StatusOf(smooth::ParseResourceKind(s)), "kind:"},
             {StatusOf(smooth::ParseCustomerStatus(s)), "status:"}};
         for (const auto& [answer, field] : answers)
           if (!answer.ok() && (answer.code() != StatusCode::kInvalidArgument ||
                                !answer.message().starts_with(field)))
             return smooth::Internal(
                 fmt::format("expected '{}...', got {}", field, answer.ToString()));
         return {};
       }},
      {"time zone name",
       {"Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5"},
       invalid,
       {"time_zone:"},
       [](const std::string& s) {
         return StatusOf(smooth::ToInstant(s, {{2026, 3, 29}, std::chrono::minutes(150)}));
       }},
      {"RRULE",
       {"FREQ=WEEKLY;COUNT=4", "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270101",
        "FREQ=DAILY;INTERVAL=2;COUNT=10", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3",
        "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260601T000000Z",
        "FREQ=DAILY;BYMONTHDAY=-1,15;BYHOUR=14,8;COUNT=6",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,TH;WKST=FR;BYMINUTE=30,0;COUNT=5",
        "FREQ=YEARLY;BYMONTHDAY=31;BYMINUTE=45,0;COUNT=4", "FREQ=YEARLY;BYYEARDAY=-1,100;COUNT=3",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9,17;BYSETPOS=1,-1;COUNT=6",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYSETPOS=-2;WKST=SU;UNTIL=20270101",
        "FREQ=YEARLY;BYDAY=20MO,-1FR;BYMONTHDAY=18,-3;BYMONTH=5,12;COUNT=2",
        "FREQ=YEARLY;BYWEEKNO=1,53,-1;BYDAY=SA,SU;WKST=SU;BYSETPOS=-1;COUNT=4"},
       invalid,
       {"rrule:", "start:"},
       [berlin](const std::string& s) {
         return StatusOf(smooth::internal::ExpandRecurrence(s, berlin, {2026, 3, 9},
                                                            std::chrono::minutes(600), 500));
       }},
      // The POSIX TZ rule at the end of a zone file (zone_rule.hpp), which decides offsets
      // after the file's last listed transition. Parsed or not, never undefined behaviour;
      // a rule it reads must place instants inside the periods it answers with.
      {"POSIX TZ rule",
       {"EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3", "IST-1GMT0,M10.5.0,M3.5.0/1",
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "<+0330>-3:30", "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "EST5EDT,J60/2,300/2", "<+13>-13"},
       // No error is acceptable: a rule it cannot read is an ok answer, and the only error
       // returned is the invariant broken.
       {},
       {},
       [](const std::string& s) -> Status {
         auto rule = smooth::internal::ZoneRule::Parse(s);
         if (!rule) return {};
         using namespace std::chrono;
         for (int year : {1970, 2038, 2100, 2582, 9998}) {
           for (unsigned month : {1u, 4u, 10u}) {
             const date::sys_seconds t = date::sys_days(date::year(year) / month / 15) + hours(12);
             const date::sys_info info = rule->SysInfo(t);
             if (!(info.begin <= t && t < info.end))
               return smooth::Internal(fmt::format("rule '{}': {} outside its period", s, year));
             rule->LocalInfo(date::local_seconds(t.time_since_epoch()));
           }
         }
         return {};
       }},
      {"Host header",
       {"acme.lvh.me", "platform.lvh.me:8080", "ACME.LVH.ME", "acme.lvh.me:443"},
       {StatusCode::kNotFound, StatusCode::kInvalidArgument},
       {},
       [&platform](const std::string& s) { return StatusOf(platform.ResolveHost(s)); }},
  };
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 20.0;
  smooth::PlatformOptions options;
  options.storage = smooth::NewMemoryStorage();
  options.password_cost = smooth::PasswordCost::InsecureForTests();
  auto platform = smooth::Platform::Open(options);
  if (!platform) {
    fmt::print(stderr, "Platform::Open: {}\n", platform.error().ToString());
    return 1;
  }
  auto root = (*platform)->CreateSuperuser("root@fuzz.test", "Root", "correct horse battery");
  auto actor = root ? (*platform)->ActAs(root->id) : smooth::Result<smooth::Principal>(root.error());
  if (!actor || !(*platform)->CreateTenant(*actor, {.slug = "acme", .name = "Acme"})) {
    fmt::print(stderr, "setting up a tenant failed\n");
    return 1;
  }

  std::vector<Target> targets = Targets(**platform);
  const auto budget = std::chrono::duration<double>(seconds / static_cast<double>(targets.size()));
  Mutator mutate(0x5eed5eed);
  for (const Target& t : targets) {
    for (const std::string& seed : t.seeds) {
      Status s = t.parse(seed);
      if (!s.ok()) {
        fmt::print(stderr, "{}: the seed '{}' is refused: {}\n", t.name, Escaped(seed), s.ToString());
        return 1;
      }
    }
    long runs = 0;
    const auto end = std::chrono::steady_clock::now() + budget;
    std::string input;
    while (std::chrono::steady_clock::now() < end) {
      for (int i = 0; i < 64; ++i, ++runs) {
        // Mostly from a seed, sometimes from the last input, so mutations pile up.
        input = mutate.Mutate(runs % 4 == 0 || input.empty() ? t.seeds[runs % t.seeds.size()]
                                                             : input);
        Status s = t.parse(input);
        if (!Acceptable(t, s)) {
          fmt::print(stderr, "{}: input '{}' got {}\n", t.name, Escaped(input), s.ToString());
          return 1;
        }
      }
    }
    fmt::print("{}: {} inputs\n", t.name, runs);
  }
  fmt::print("fuzz_parsers: every answer was a success or an error naming its field\n");
  return 0;
}
