// Durable-storage benchmarks through the public API: bookings per second on SQLite and on
// PostgreSQL (every booking its own durable commit: synchronous=FULL / synchronous_commit=on),
// against plain INSERTs into a PostgreSQL table guarded by an EXCLUDE USING gist constraint at
// the same durability and concurrency; and the time to open a large tenant and answer its first
// availability query, on SQLite and on PostgreSQL.
//
// The PostgreSQL benchmarks need a server: SMOOTH_BENCH_PG_CONNINFO_FILE names a file holding an
// admin libpq conninfo (tests/pg/pg_cluster.sh writes one; scripts/run-benchmarks.sh starts the
// cluster). Without it they are skipped with an error saying so.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "schedule/civil_time.hpp"
#include "smooth/smooth.hpp"
#include "storage/sql/rows.hpp"

#include "bench_world.hpp"

namespace {

using namespace smooth::bench;  // NOLINT: the shared world of the benchmarks

using smooth::CustomerId;
using smooth::Instant;
using smooth::LocalDate;
using smooth::Principal;
using smooth::ResourceId;
using smooth::Scheduler;
using smooth::ServiceId;
using smooth::TenantId;
using smooth::UserId;
using std::chrono::hours;
using std::chrono::minutes;

constexpr minutes kLength{30};
// Bookings per iteration (one iteration per repetition), split evenly across the writers.
constexpr int kBookingsPerRun = 2000;



// The first `count` half hours of working time (09:00-17:00 on weekdays) from kFirstMonday.
std::vector<Instant> HalfHourStarts(std::size_t count) {
  std::vector<Instant> starts;
  for (std::int64_t w = 0; starts.size() < count; ++w) {
    const Instant open = smooth::internal::LocalToInstant(Zone(), WeekdayDate(w), kOpen);
    for (minutes m{0}; m < kClose - kOpen && starts.size() < count; m += kLength)
      starts.push_back(open + m);
  }
  return starts;
}

// --- A tenant behind the public API on a given storage -------------------------------------

struct Ids {
  TenantId tenant;
  UserId owner;
  CustomerId customer;
  ServiceId service;
  std::vector<ResourceId> resources;
};

struct Tenancy {
  smooth::ManualClock clock{Now()};
  std::unique_ptr<smooth::Platform> platform;
  std::unique_ptr<Scheduler> scheduler;
  Principal owner;
  Ids ids;

  // Opens Platform and Scheduler on `url`; a new tenant with `resources` staff and one service
  // of 30 minutes needing one of them when `create`, else the tenant of `existing`.
  Tenancy(const std::string& url, const smooth::StorageOptions& options, int resources,
          const Ids* existing = nullptr) {
    smooth::PlatformOptions o;
    o.storage = Must(smooth::OpenStorage(url, options), "OpenStorage");
    o.clock = &clock;
    o.password_cost = smooth::PasswordCost::InsecureForTests();
    platform = Must(smooth::Platform::Open(o), "Platform::Open");
    scheduler = Must(Scheduler::Open(*platform), "Scheduler::Open");
    if (existing) {
      ids = *existing;
      owner = Must(platform->ActAs(ids.owner), "ActAs(owner)");
      return;
    }
    const std::string password = "correct horse battery";
    auto root = Must(platform->CreateSuperuser("root@bench.test", "Root", password), "superuser");
    Principal root_p = Must(platform->ActAs(root.id), "ActAs(root)");
    ids.tenant = Must(platform->CreateTenant(root_p, {.slug = "bench", .name = "bench",
                                                      .time_zone = kZone}),
                      "CreateTenant")
                     .id;
    ids.owner = Must(platform->CreateUser(root_p, {.email = "owner@tenant.test",
                                                   .display_name = "Owner",
                                                   .role = smooth::Role::kTenantOwner,
                                                   .tenant = ids.tenant,
                                                   .password = password}),
                     "CreateUser(owner)")
                    .id;
    owner = Must(platform->ActAs(ids.owner), "ActAs(owner)");
    ids.customer =
        Must(scheduler->CreateCustomer(owner, ids.tenant, {.name = "Pat"}), "CreateCustomer").id;
    for (int r = 0; r < resources; ++r) {
      smooth::ResourceSpec spec;
      spec.name = "Staff " + std::to_string(r + 1);
      for (std::size_t d = 0; d < 5; ++d) spec.hours.weekly[d] = {{kOpen, kClose}};
      ids.resources.push_back(
          Must(scheduler->CreateResource(owner, ids.tenant, spec), "CreateResource").id);
    }
    smooth::ServiceSpec spec;
    spec.name = "30 minutes";
    spec.duration = kLength;
    spec.slot_interval = kLength;
    spec.requirements = {smooth::ResourceRequirement{ids.resources}};
    ids.service = Must(scheduler->CreateService(owner, ids.tenant, spec), "CreateService").id;
  }

  void Book(ResourceId resource, Instant start) {
    smooth::BookingRequest r;
    r.service = ids.service;
    r.customer = ids.customer;
    r.start = start;
    r.resources = {resource};
    Must(scheduler->Book(owner, ids.tenant, r), "Book");
  }
};

// Runs `writer(w, count)` on `writers` threads, each with kBookingsPerRun / writers bookings.
template <typename F>
void RunWriters(int writers, F&& writer) {
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) threads.emplace_back([&, w] { writer(w, kBookingsPerRun / writers); });
  for (auto& t : threads) t.join();
}

// Each writer books its own resource at its successive half hours: throughput, not contention.
void RunDurableBook(benchmark::State& state, const std::string& url,
                    const smooth::StorageOptions& options) {
  const int writers = static_cast<int>(state.range(0));
  static const std::vector<Instant> starts = HalfHourStarts(kBookingsPerRun);
  Tenancy t(url, options, writers);
  for (auto _ : state) {
    RunWriters(writers, [&](int w, int count) {
      for (int i = 0; i < count; ++i) t.Book(t.ids.resources[static_cast<std::size_t>(w)],
                                             starts[static_cast<std::size_t>(i)]);
    });
  }
  state.SetItemsProcessed(state.iterations() * (kBookingsPerRun / writers) * writers);
  state.counters["writers"] = writers;
}

// A fresh directory under $TMPDIR (or /tmp), removed when it goes out of scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const char* prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
    if (!mkdtemp(templ.data())) Die("mkdtemp failed");
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Connections per pool: two per writer, at least 4, so that no writer waits for one (a
// booking holds its tenant write transaction's connection while another's authorization
// reads the shared tables; on PostgreSQL those reads have a pool of their own, of the same
// size, so one per writer would do, but the published figures were measured with two).
// SMOOTH_BENCH_POOL_SIZE overrides.
std::size_t PoolSize(const benchmark::State& state) {
  const char* v = std::getenv("SMOOTH_BENCH_POOL_SIZE");
  if (v && *v) return static_cast<std::size_t>(std::stoull(v));
  return std::max<std::size_t>(4, 2 * static_cast<std::size_t>(state.range(0)));
}

void BM_DurableBook_SQLite(benchmark::State& state) {
  TempDir dir("smooth-sbench-");
  smooth::StorageOptions options;  // synchronous=FULL, the default
  options.pool_size = PoolSize(state);
  RunDurableBook(state, "sqlite:" + (dir.path / "data").string(), options);
}
BENCHMARK(BM_DurableBook_SQLite)->Arg(1)->Arg(8)->Iterations(1)->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- PostgreSQL ------------------------------------------------------------------------------

std::optional<std::string> AdminConninfo() {
  const char* file = std::getenv("SMOOTH_BENCH_PG_CONNINFO_FILE");
  if (!file || !*file) return std::nullopt;
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line) || line.empty()) return std::nullopt;
  return line;
}

constexpr const char* kNoPg =
    "SMOOTH_BENCH_PG_CONNINFO_FILE is not set or unreadable (scripts/run-benchmarks.sh starts a "
    "cluster with tests/pg/pg_cluster.sh and sets it)";

struct PgConn {
  PGconn* conn = nullptr;
  explicit PgConn(const std::string& conninfo) : conn(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn) != CONNECTION_OK) Die(std::string("connect: ") + PQerrorMessage(conn));
  }
  ~PgConn() { PQfinish(conn); }
  void Exec(const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
      Die("'" + sql + "': " + PQerrorMessage(conn));
    PQclear(r);
  }
};

std::string WithDbname(const std::string& conninfo, const std::string& db) {
  static const std::regex dbname(R"(dbname=\S+)");
  std::string out = std::regex_replace(conninfo, dbname, "dbname=" + db);
  if (out == conninfo && conninfo.find("dbname=" + db) == std::string::npos) out += " dbname=" + db;
  return out;
}

// A database created for one run and dropped afterwards.
struct PgDatabase {
  std::string admin;
  std::string name;
  std::string conninfo;
  explicit PgDatabase(const std::string& admin_conninfo) : admin(admin_conninfo) {
    static std::atomic<int> counter{0};
    name = "smooth_bench_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    PgConn(admin).Exec("CREATE DATABASE " + name);
    conninfo = WithDbname(admin, name);
  }
  ~PgDatabase() { PgConn(admin).Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); }
};

void BM_DurableBook_Postgres(benchmark::State& state) {
  const auto admin = AdminConninfo();
  if (!admin) {
    state.SkipWithError(kNoPg);
    return;
  }
  PgDatabase db(*admin);
  {
    PgConn c(db.conninfo);
    c.Exec("SHOW synchronous_commit");
  }
  smooth::StorageOptions options;
  options.pool_size = PoolSize(state);
  RunDurableBook(state, db.conninfo, options);
}
BENCHMARK(BM_DurableBook_Postgres)->Arg(1)->Arg(8)->Iterations(1)->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The baseline: what an application gets from PostgreSQL alone. One INSERT per booking in
// autocommit (each its own durable commit, synchronous_commit=on), the overlap rule enforced by
// the EXCLUDE constraint; each writer on its own connection and resource.
//
// With `guarded`, a reference point rather than a baseline: the same INSERT inside a
// transaction that first advances a one-row change counter (BEGIN; UPDATE ... RETURNING;
// INSERT; COMMIT: four round trips, the writers serialized on the counter's row), which is the
// least a writer does that validates against the database's state inside its transaction and
// tells other processes' caches that something changed.
void RunPlainInserts(benchmark::State& state, bool guarded) {
  const auto admin = AdminConninfo();
  if (!admin) {
    state.SkipWithError(kNoPg);
    return;
  }
  const int writers = static_cast<int>(state.range(0));
  static const std::vector<Instant> starts = HalfHourStarts(kBookingsPerRun);
  PgDatabase db(*admin);
  {
    PgConn c(db.conninfo);
    c.Exec("CREATE EXTENSION IF NOT EXISTS btree_gist");
    c.Exec(
        "CREATE TABLE appointments (id bigserial PRIMARY KEY, resource_id bigint NOT NULL, "
        "occupied_start timestamptz NOT NULL, occupied_end timestamptz NOT NULL, "
        "active boolean NOT NULL, "
        "EXCLUDE USING gist (resource_id WITH =, tstzrange(occupied_start, occupied_end) WITH &&) "
        "WHERE (active))");
    c.Exec("CREATE TABLE change_seq (value bigint NOT NULL)");
    c.Exec("INSERT INTO change_seq VALUES (0)");
  }
  std::vector<std::unique_ptr<PgConn>> conns;
  for (int w = 0; w < writers; ++w) {
    conns.push_back(std::make_unique<PgConn>(db.conninfo));
    conns.back()->Exec("SET synchronous_commit = on");
    PGresult* r = PQprepare(conns.back()->conn, "ins",
                            "INSERT INTO appointments (resource_id, occupied_start, occupied_end, "
                            "active) VALUES ($1::bigint, to_timestamp($2::bigint), "
                            "to_timestamp($3::bigint), true)",
                            3, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) Die("prepare failed");
    PQclear(r);
    r = PQprepare(conns.back()->conn, "bump",
                  "UPDATE change_seq SET value = value + 1 RETURNING value", 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) Die("prepare failed");
    PQclear(r);
  }
  for (auto _ : state) {
    RunWriters(writers, [&](int w, int count) {
      PGconn* conn = conns[static_cast<std::size_t>(w)]->conn;
      const std::string resource = std::to_string(w + 1);
      for (int i = 0; i < count; ++i) {
        const auto s = std::chrono::duration_cast<std::chrono::seconds>(
                           starts[static_cast<std::size_t>(i)].time_since_epoch())
                           .count();
        const std::string start = std::to_string(s);
        const std::string end = std::to_string(s + 1800);
        const char* values[3] = {resource.c_str(), start.c_str(), end.c_str()};
        auto exec = [conn](PGresult* r, ExecStatusType want, const char* what) {
          if (PQresultStatus(r) != want) Die(std::string(what) + ": " + PQerrorMessage(conn));
          PQclear(r);
        };
        if (guarded) {
          exec(PQexec(conn, "BEGIN"), PGRES_COMMAND_OK, "begin");
          exec(PQexecPrepared(conn, "bump", 0, nullptr, nullptr, nullptr, 0), PGRES_TUPLES_OK, "bump");
        }
        exec(PQexecPrepared(conn, "ins", 3, values, nullptr, nullptr, 0), PGRES_COMMAND_OK, "insert");
        if (guarded) exec(PQexec(conn, "COMMIT"), PGRES_COMMAND_OK, "commit");
      }
    });
  }
  conns.clear();
  state.SetItemsProcessed(state.iterations() * (kBookingsPerRun / writers) * writers);
  state.counters["writers"] = writers;
}
void BM_Baseline_ExcludeInsert(benchmark::State& state) { RunPlainInserts(state, false); }
BENCHMARK(BM_Baseline_ExcludeInsert)->Arg(1)->Arg(8)->Iterations(1)->UseRealTime()
    ->Unit(benchmark::kMillisecond);
void BM_Reference_GuardedInsert(benchmark::State& state) { RunPlainInserts(state, true); }
BENCHMARK(BM_Reference_GuardedInsert)->Arg(1)->Iterations(1)->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- Opening a large tenant ------------------------------------------------------------------

// The tenant's size: SMOOTH_BENCH_OPEN_APPOINTMENTS, default 1,000,000.
std::size_t OpenTenantSize() {
  const char* v = std::getenv("SMOOTH_BENCH_OPEN_APPOINTMENTS");
  return v && *v ? static_cast<std::size_t>(std::stoull(v)) : 1'000'000;
}

constexpr int kOpenResources = 100;

// What the large tenant holds, on either backend: OpenTenantSize() appointments of 30 minutes
// on 100 staff, resources in turn, at every half hour of working time but the last of each
// hour (12 of 16, so that the answer is not empty); and the day its first query asks about,
// a weekday in the middle of the booked horizon. `ids` and `build_seconds` are filled in by
// whoever builds it.
struct BigTenantPlan {
  Ids ids;
  std::size_t appointments = OpenTenantSize();
  std::vector<Instant> starts;  // of appointment i: starts[i / kOpenResources]
  LocalDate day = WeekdayDate(static_cast<std::int64_t>(appointments / kOpenResources / 12 / 2));
  double build_seconds = 0;

  BigTenantPlan() {
    const std::vector<Instant> all = HalfHourStarts((appointments / kOpenResources + 1) * 4 / 3 + 16);
    for (std::size_t k = 0; k < all.size(); ++k)
      if (k % 4 != 3) starts.push_back(all[k]);
  }
  ResourceId Resource(std::size_t i) const { return ids.resources[i % kOpenResources]; }
  Instant Start(std::size_t i) const { return starts[i / kOpenResources]; }
};

// A SQLite data directory holding the large tenant, built once through Scheduler::Book with
// synchronous=OFF for setup speed.
struct BigTenant {
  TempDir dir{"smooth-sbench-open-"};
  std::string url = "sqlite:" + (dir.path / "data").string();
  BigTenantPlan plan;
  BigTenant() {
    smooth::StorageOptions options;
    options.sqlite_synchronous = "OFF";
    const auto t0 = std::chrono::steady_clock::now();
    Tenancy t(url, options, kOpenResources);
    plan.ids = t.ids;
    for (std::size_t i = 0; i < plan.appointments; ++i) t.Book(plan.Resource(i), plan.Start(i));
    plan.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "storage_bench: built the %zu-appointment tenant in %.1f s\n",
                 plan.appointments, plan.build_seconds);
  }
};

// The same tenant in a PostgreSQL database of the throwaway cluster. Built through
// Scheduler::Book it would take the better part of an hour at the durable rate, so the
// appointments are written with one COPY of the rows Book writes (sql::ToRow); the tenant's
// occupancy trigger writes their occupancy rows, as it does for any writer.
struct BigPgTenant {
  PgDatabase db;
  BigTenantPlan plan;
  explicit BigPgTenant(const std::string& admin) : db(admin) {
    const auto t0 = std::chrono::steady_clock::now();
    plan.ids = Tenancy(db.conninfo, smooth::StorageOptions{}, kOpenResources).ids;

    PgConn c(db.conninfo);
    c.Exec("BEGIN");
    // Ids from the shared sequence, as the storage takes them (blocks of 64), so none is
    // given again.
    PGresult* r = PQexec(c.conn, "SELECT nextval('public.object_ids')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) Die(std::string("nextval: ") + PQerrorMessage(c.conn));
    const long long base = std::stoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    c.Exec("SELECT setval('public.object_ids', " +
           std::to_string(base + 64 * static_cast<long long>(plan.appointments / 64 + 2)) + ")");
    r = PQexec(c.conn, ("COPY tenant_bench.appointments (" +
                        std::string(smooth::internal::sql::AppointmentRow::kColumns) + ") FROM STDIN")
                           .c_str());
    if (PQresultStatus(r) != PGRES_COPY_IN) Die(std::string("COPY: ") + PQerrorMessage(c.conn));
    PQclear(r);
    std::string buffer;
    for (std::size_t i = 0; i < plan.appointments; ++i) {
      smooth::Appointment a;
      a.id = smooth::AppointmentId(base + static_cast<long long>(i));
      a.service = plan.ids.service;
      a.resources = {plan.Resource(i)};
      a.customer = plan.ids.customer;
      a.start = plan.Start(i);
      a.end = a.start + kLength;
      a.status = smooth::AppointmentStatus::kConfirmed;
      a.created_by = plan.ids.owner;
      a.created_at = a.updated_at = Now();
      a.version = 1;
      a.change_seq = 1;
      auto row = smooth::internal::sql::ToRow(a);
      bool first = true;
      row.Columns([&](const auto& column) {
        if (!first) buffer += '\t';
        first = false;
        AppendCopyField(buffer, column);
      });
      buffer += '\n';
      if (buffer.size() > (1 << 20) || i + 1 == plan.appointments) {
        if (PQputCopyData(c.conn, buffer.data(), static_cast<int>(buffer.size())) != 1)
          Die(std::string("COPY: ") + PQerrorMessage(c.conn));
        buffer.clear();
      }
    }
    if (PQputCopyEnd(c.conn, nullptr) != 1) Die(std::string("COPY end: ") + PQerrorMessage(c.conn));
    r = PQgetResult(c.conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) Die(std::string("COPY: ") + PQerrorMessage(c.conn));
    PQclear(r);
    while ((r = PQgetResult(c.conn)) != nullptr) PQclear(r);
    c.Exec("UPDATE tenant_bench.change_seq SET value = value + 1");
    c.Exec("COMMIT");
    c.Exec("VACUUM ANALYZE tenant_bench.appointments");
    c.Exec("VACUUM ANALYZE tenant_bench.appointment_occupancy");
    plan.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "storage_bench: built the %zu-appointment PostgreSQL tenant in %.1f s\n",
                 plan.appointments, plan.build_seconds);
  }

  // A field of COPY's text format.
  static void AppendCopyField(std::string& out, long long v) { out += std::to_string(v); }
  static void AppendCopyField(std::string& out, const std::string& v) {
    for (char ch : v) {
      if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') out += '\\';
      out += ch;
    }
  }
  template <typename T>
  static void AppendCopyField(std::string& out, const smooth::internal::sql::Nullable<T>& v) {
    if (v.is_null())
      out += "\\N";
    else
      AppendCopyField(out, v.value);
  }
};

// New OpenStorage on `url` + Platform + Scheduler + the first Availability call, which loads
// the tenant's state.
void RunOpen(benchmark::State& state, const std::string& url, const BigTenantPlan& plan) {
  std::size_t slots = 0;
  for (auto _ : state) {
    Tenancy t(url, smooth::StorageOptions{}, 0, &plan.ids);
    auto answer = Must(t.scheduler->Availability(t.owner, plan.ids.tenant,
                                                 {.service = plan.ids.service, .from = plan.day,
                                                  .to = plan.day, .time_zone = kZone,
                                                  .resources = {}}),
                       "Availability");
    slots = answer.size();
    benchmark::DoNotOptimize(answer.data());
  }
  state.counters["appointments"] = static_cast<double>(plan.appointments);
  state.counters["slots"] = static_cast<double>(slots);
  state.counters["build_seconds"] = plan.build_seconds;
}

// SQLite (synchronous=FULL): the files are in the OS page cache (the setup just wrote them).
void BM_OpenTenant_1M(benchmark::State& state) {
  static BigTenant b;
  RunOpen(state, b.url, b.plan);
}
BENCHMARK(BM_OpenTenant_1M)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// PostgreSQL: the state is read over the wire; the server has the tables in its cache.
void BM_OpenTenant_1M_Postgres(benchmark::State& state) {
  const auto admin = AdminConninfo();
  if (!admin) {
    state.SkipWithError(kNoPg);
    return;
  }
  static BigPgTenant b(*admin);
  RunOpen(state, b.db.conninfo, b.plan);
}
BENCHMARK(BM_OpenTenant_1M_Postgres)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
