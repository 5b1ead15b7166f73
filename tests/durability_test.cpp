// An acknowledged booking survives kill -9 (SECURITY.md 18): a child process books in a
// loop and prints each acknowledged id; the parent kills it with SIGKILL at a random moment,
// several times over the same data; reopening finds every acknowledged id, and the
// database's own view agrees (SQLite: integrity_check and the row count; PostgreSQL: the
// row count).
//
// Memory storage cannot outlive a process, so the memory run uses a SQLite directory:
// the property is checked, never skipped, whatever backend the run is for. The child is
// this binary again, selected with SMOOTH_TEST_CHILD=durability-booker and a doctest filter.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "fixtures.hpp"
#include "process_stack.hpp"
#include "smooth/platform.hpp"
#include "smooth/scheduler.hpp"
#include "smooth/storage.hpp"
#include "storage_probe.hpp"
#include "subprocess.hpp"
#include "test_storage.hpp"

namespace smooth::testing {
namespace {

constexpr int kKills = 10;

// Complete "ack <id>" lines in `text`; a line cut short by the kill does not count.
void CollectAcks(const std::string& text, std::vector<std::int64_t>& acks) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline: torn
    if (line.rfind("ack ", 0) == 0) acks.push_back(std::stoll(line.substr(4)));
  }
}

template <typename T>
std::string MessageOf(const Result<T>& r) {
  return r ? std::string() : r.error().ToString();
}

TEST_CASE("an acknowledged booking survives kill -9 of the process that made it") {
  std::string kind = TestStorageKind() == "memory" ? "sqlite" : TestStorageKind();
  std::string url = SharedStorageUrl(kind);
  std::string slug = fmt::format("durable_{}", ::getpid());
  std::int64_t actor = 0, service = 0, customer = 0;
  Tenant tenant;
  {
    Stack s = OpenStack(url);
    User root = Must(s.platform->CreateSuperuser(fmt::format("root{}@platform.test", ::getpid()),
                                                 "Root", "correct horse battery"));
    Principal me = Must(s.platform->ActAs(root.id));
    tenant = Must(s.platform->CreateTenant(me, {.slug = slug, .name = "Durable"}));
    WorkingHours open;
    for (auto& day : open.weekly) day = {{std::chrono::hours(0), std::chrono::hours(24)}};
    Resource room = Must(s.scheduler->CreateResource(
        me, tenant.id, {.name = "Hall", .kind = ResourceKind::kRoom, .capacity = 50,
                        .hours = open}));
    service = Must(s.scheduler->CreateService(
                       me, tenant.id, {.name = "15", .duration = std::chrono::minutes(15),
                                       .requirements = {ResourceRequirement{{room.id}}}}))
                  .id.value();
    customer = Must(s.scheduler->CreateCustomer(me, tenant.id,
                                                {.name = "Pat", .email = "pat@example.com"}))
                   .id.value();
    actor = root.id.value();
  }  // closed: from here on only the children write

  std::random_device seed_source;
  std::uint64_t seed = seed_source();
  MESSAGE("seed " << seed);
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> acks;
  std::string log_dir = NewTempDir();
  Watchdog watchdog(std::chrono::seconds(300), "kill -9 rounds");
  auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < kKills; ++round) {
    SpawnOptions o;
    o.capture = true;
    o.log_path = fmt::format("{}/booker{}.log", log_dir, round);
    o.env = {{"SMOOTH_TEST_CHILD", "durability-booker"},
             {"SMOOTH_CHILD_URL", url},
             {"SMOOTH_CHILD_ARGS", fmt::format("{} {} {} {} {}", tenant.id.value(), actor, service,
                                               customer, seed + static_cast<unsigned>(round))}};
    ChildProcess child =
        Spawn({SelfExe(), "--test-case=durability child*", "--no-skip", "--no-version"}, o);
    watchdog.Watch(child.pid);
    // Let it acknowledge a random number of bookings, then kill it a random moment later:
    // between transactions, in the middle of one, or in its commit.
    std::size_t want = std::uniform_int_distribution<std::size_t>(1, 40)(rng);
    std::vector<std::int64_t> seen;
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (seen.size() < want && std::chrono::steady_clock::now() < deadline) {
      std::string more = ReadAll(child.out_fd, std::chrono::steady_clock::now() +
                                                   std::chrono::milliseconds(50));
      text += more;
      seen.clear();
      CollectAcks(text, seen);
      siginfo_t info{};
      if (more.empty() &&
          ::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid != 0)
        break;  // ended early (not reaped yet: the kill below still finds it)
    }
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(rng)));
    REQUIRE(::kill(child.pid, SIGKILL) == 0);
    int code = WaitExit(child.pid);
    // Whatever it wrote before dying was acknowledged too.
    text += ReadAll(child.out_fd, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    ::close(child.out_fd);
    std::size_t before = acks.size();
    CollectAcks(text, acks);
    if (code != 128 + SIGKILL) {
      std::ifstream log(*o.log_path);
      std::stringstream errors;
      errors << log.rdbuf();
      FAIL("booker " << round << " ended with " << code << " before the kill:\n"
                     << text << errors.str());
    }
    CHECK_MESSAGE(acks.size() > before, "round " << round << " acknowledged nothing");
  }
  MESSAGE(fmt::format("{} kills, {} acknowledged bookings, {:.1f} s", kKills, acks.size(),
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                          .count()));

  // A killed child's PostgreSQL backend may still be finishing the commit the child sent
  // before it died; it leaves once it finds the client gone. Wait for every such backend, so
  // that libsmooth and the database's own count below look at the same, final rows.
  if (kind == "postgresql") {
    const std::string others =
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()";
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (PgQuery(url, others).at(0).at(0) != "0") {
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < give_up,
                      "the killed children's backends did not leave within 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // No id was acknowledged twice: a booker started after a kill never reuses one.
  CHECK(std::set<std::int64_t>(acks.begin(), acks.end()).size() == acks.size());

  // Reopened by libsmooth: every acknowledged id is there, confirmed.
  Stack s = OpenStack(url);
  std::size_t stored = 0;
  {
    auto txn = Must(s.storage->BeginTenant(tenant, TxnMode::kRead));
    for (std::int64_t id : acks) {
      auto a = txn->GetAppointment(AppointmentId(id));
      CHECK_MESSAGE(a.ok(), "acknowledged appointment " << id << " lost: " << MessageOf(a));
      if (a) CHECK(a->status == AppointmentStatus::kConfirmed);
    }
    stored = Must(txn->ListAppointmentsChangedSince(0)).size();
  }
  CHECK(stored >= acks.size());

  // And by the database itself.
  Probe probe{.kind = kind, .url = url, .slug = slug, .tenant = tenant};
  std::vector<RawAppointment> rows = ReadAppointments(probe);
  CHECK(rows.size() == stored);
  std::set<std::int64_t> ids;
  for (const RawAppointment& a : rows) ids.insert(a.id);
  for (std::int64_t id : acks) CHECK_MESSAGE(ids.contains(id), "row " << id << " missing");
  if (kind == "sqlite") {
    for (const std::string& file :
         {SqliteDir(url) + "/shared.db", SqliteTenantFile(url, slug)}) {
      auto check = SqliteQuery(file, "PRAGMA integrity_check");
      REQUIRE(!check.empty());
      CHECK_MESSAGE(check[0][0] == "ok", file << ": " << check[0][0]);
    }
  }
}

// The booking process: skipped in a normal run; the test above spawns it with --no-skip.
TEST_CASE("durability child: books until killed (skipped unless spawned by the test)" *
          doctest::skip()) {
  const char* role = std::getenv("SMOOTH_TEST_CHILD");
  if (role == nullptr || std::string(role) != "durability-booker") return;
  std::istringstream args(std::getenv("SMOOTH_CHILD_ARGS"));
  std::int64_t tenant = 0, actor = 0, service = 0, customer = 0;
  std::uint64_t seed = 0;
  args >> tenant >> actor >> service >> customer >> seed;
  Stack s = OpenStack(std::getenv("SMOOTH_CHILD_URL"));
  Principal me = Must(s.platform->ActAs(UserId(actor)));
  std::mt19937_64 rng(seed);
  Instant first = T0() + std::chrono::hours(24);
  auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);  // never outlive the test
  while (std::chrono::steady_clock::now() < until) {
    // A random quarter-hour within the next 300 days: the hall (capacity 50) is rarely full.
    int quarter = std::uniform_int_distribution<int>(0, 300 * 96)(rng);
    auto booked = s.scheduler->Book(me, TenantId(tenant),
                                    {.service = ServiceId(service),
                                     .customer = CustomerId(customer),
                                     .start = first + std::chrono::minutes(15 * quarter)});
    if (booked) {
      // One write(2) per line, after the commit: what the parent reads was acknowledged.
      std::string line = fmt::format("ack {}\n", booked->id.value());
      if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return;
    } else if (booked.error().code() != StatusCode::kConflict) {
      FAIL("booking failed: " << booked.error().ToString());
    }
  }
}

}  // namespace
}  // namespace smooth::testing
