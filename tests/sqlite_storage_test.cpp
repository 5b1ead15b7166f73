// The SQLite backend's own promises: its files, pragmas, migrations, durability across
// reopening, rollback, uniqueness, failing closed, atomic tenant creation, the bounded pool.
// The behaviour it shares with MemoryStorage is covered by every other test, run again with
// SMOOTH_TEST_STORAGE=sqlite.
#include <doctest/doctest.h>

#include <sqlite3.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "smooth/storage.hpp"
#include "storage/sqlite/sqlite_storage.hpp"
#include "test_storage.hpp"

namespace smooth::testing {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Storage> OpenAt(const std::string& dir, const StorageOptions& options = {}) {
  return Must(OpenStorage("sqlite:" + dir, options));
}

Tenant NewTenant(Storage& storage, std::string slug) {
  return Must(storage.CreateTenant({.slug = std::move(slug),
                                    .name = "A tenant",
                                    .time_zone = "Europe/London",
                                    .created_at = T0()}));
}

// Rows of a one-column query, read straight from a database file.
std::vector<std::string> Column(const fs::path& db, const std::string& sql) {
  sqlite3* conn = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE_MESSAGE(sqlite3_prepare_v2(conn, sql.c_str(), -1, &st, nullptr) == SQLITE_OK,
                  sqlite3_errmsg(conn));
  std::vector<std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(st, 0);
    out.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
  }
  sqlite3_finalize(st);
  sqlite3_close(conn);
  return out;
}

// Runs `sql` on a database file; returns SQLite's error message, empty when it succeeded.
std::string TryExec(const fs::path& db, const std::string& sql) {
  sqlite3* conn = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* error = nullptr;
  std::string message;
  if (sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK)
    message = error ? error : "failed";
  sqlite3_free(error);
  sqlite3_close(conn);
  return message;
}

void Exec(const fs::path& db, const std::string& sql) { CHECK(TryExec(db, sql) == ""); }

Resource SampleResource() {
  Resource r;
  r.name = "Chair 1";
  r.kind = ResourceKind::kRoom;
  r.capacity = 3;
  r.time_zone = "Europe/London";
  r.user = UserId(42);
  r.hours.weekly[0] = {{std::chrono::minutes(9 * 60), std::chrono::minutes(17 * 60)}};
  r.hours.weekly[5] = {{std::chrono::minutes(600), std::chrono::minutes(720)},
                       {std::chrono::minutes(780), std::chrono::minutes(1440)}};
  r.hours.overrides = {{{2026, 3, 8}, {}},
                       {{2026, 3, 9}, {{std::chrono::minutes(60), std::chrono::minutes(120)}}}};
  r.hours.time_off = {{T0(), T0() + std::chrono::hours(50), "holiday \"quoted\""}};
  r.created_at = T0();
  r.updated_at = T0() + std::chrono::microseconds(7);
  return r;
}

Appointment SampleAppointment(ResourceId resource, ServiceId service) {
  Appointment a;
  a.service = service;
  a.resources = {resource};
  a.customer = CustomerId(5);
  a.start = T0() + std::chrono::hours(1);
  a.end = a.start + std::chrono::minutes(30);
  a.buffer_before = std::chrono::minutes(5);
  a.status = AppointmentStatus::kPending;
  a.notes = "first visit";
  a.created_by = UserId(3);
  a.created_at = T0();
  a.updated_at = T0();
  a.idempotency_key = "key-1";
  a.series = SeriesId(77);
  a.outside_hours = true;
  a.change_seq = 1;
  return a;
}

TEST_CASE("a sqlite: storage keeps shared.db and one tenant_<slug>.db in a 0700 directory") {
  std::string dir = NewTempDir() + "/data/smooth";  // missing: created, parents too
  auto storage = OpenAt(dir);
  CHECK(fs::is_regular_file(dir + "/shared.db"));
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  NewTenant(*storage, "acme");
  CHECK(fs::is_regular_file(dir + "/tenant_acme.db"));
  CHECK_FALSE(fs::exists(dir + "/tenant_acme.db.tmp"));
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

TEST_CASE("a directory that holds something but no shared.db is refused and left as it was") {
  std::string dir = NewTempDir();
  std::string expected;  // what the refusal names
  SUBCASE("another application's files") {
    for (const char* file : {"orders.csv", "invoice.pdf", ".profile", "notes.txt"})
      std::ofstream(dir + "/" + file) << "not ours\n";
    fs::create_directory(dir + "/uploads");
    expected = "(it holds .profile, invoice.pdf, notes.txt and 2 more, and no shared.db)";
  }
  SUBCASE("one hidden file beside lost+found") {
    fs::create_directory(dir + "/lost+found");
    std::ofstream(dir + "/.keep") << "";
    expected = "(it holds .keep, and no shared.db)";
  }
  SUBCASE("a name that would rewrite the terminal is shown escaped") {
    std::ofstream(dir + "/a\x1b[2Jb\nc") << "";
    expected = "(it holds a\\x1b[2Jb\\x0ac, and no shared.db)";
  }
  SUBCASE("a data directory whose shared.db was removed: its tenants are not started afresh") {
    NewTenant(*OpenAt(dir), "acme");
    fs::remove(dir + "/shared.db");
    expected = "tenant_acme.db";
  }
  const std::set<std::string> before = Entries(dir);
  auto refused = OpenStorage("sqlite:" + dir);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.error().ToString());
  CHECK(refused.error().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.error().message().starts_with("sqlite data directory '" + dir +
                                              "': not a libsmooth data directory"));
  CHECK(refused.error().message().find(expected) != std::string::npos);
  CHECK(refused.error().message().ends_with("refusing to install into it"));
  CHECK(Entries(dir) == before);
}

std::string Contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("a shared.db that is another program's database is refused and left as it was") {
  std::string dir = NewTempDir();
  const fs::path shared = dir + "/shared.db";
  std::ofstream(shared).close();  // an empty file is an empty database
  std::string expected;           // what the refusal names
  SUBCASE("tables of its own") {
    Exec(shared, "CREATE TABLE orders (id INTEGER); CREATE VIEW big AS SELECT * FROM orders");
    expected = "(it holds table orders, view big, and no libsmooth version table";
  }
  SUBCASE("a schema_migrations of another framework's shape") {
    // Rails keeps one: a single text column.
    Exec(shared, "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)");
    expected = "(it holds table schema_migrations, and no libsmooth version table";
  }
  SUBCASE("in WAL mode, closed: looking at it makes no -wal or -shm file beside it") {
    Exec(shared, "PRAGMA journal_mode = WAL; CREATE TABLE orders (id INTEGER)");
    REQUIRE(Entries(dir) == std::set<std::string>{"shared.db"});
    expected = "(it holds table orders, and no libsmooth version table";
  }
  const std::string before = Contents(shared);
  auto refused = OpenStorage("sqlite:" + dir);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.error().ToString());
  CHECK(refused.error().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.error().message().starts_with("sqlite shared database '" + shared.string() +
                                              "': not a libsmooth database"));
  CHECK(refused.error().message().find(expected) != std::string::npos);
  CHECK(Contents(shared) == before);  // not even switched to WAL mode
  CHECK(Entries(dir) == std::set<std::string>{"shared.db"});
}

TEST_CASE("a shared.db whose tables are still only in its -wal file is libsmooth's") {
  // A process killed before any checkpoint: shared.db itself holds no table yet, its -wal
  // holds them all. Looking at it read-only must read the -wal, as SQLite does.
  std::string dir = NewTempDir();
  const fs::path shared = dir + "/shared.db";
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto storage = OpenStorage("sqlite:" + dir);
    ::_exit(storage.ok() ? 0 : 1);  // no close, no checkpoint
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  REQUIRE(fs::exists(dir + "/shared.db-wal"));
  {  // the file alone, as if no -wal were there, has no table
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(("file:" + shared.string() + "?immutable=1").c_str(), &db,
                            SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_master", -1, &st, nullptr) ==
            SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 0) == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  auto reopened = OpenStorage("sqlite:" + dir);
  CHECK_MESSAGE(reopened.ok(), reopened.error().ToString());
}

TEST_CASE("an empty directory, or one with lost+found alone, is installed into") {
  std::string dir = NewTempDir();
  SUBCASE("empty") {}
  SUBCASE("a new file system's mount point") { fs::create_directory(dir + "/lost+found"); }
  NewTenant(*OpenAt(dir), "acme");
  CHECK(fs::is_regular_file(dir + "/shared.db"));
  // It is libsmooth's now, whatever else comes to be in it.
  std::ofstream(dir + "/notes.txt") << "an operator's\n";
  auto storage = OpenAt(dir);
  CHECK(Must(Must(storage->BeginShared(TxnMode::kRead))->ListTenants()).size() == 1);
}

TEST_CASE("a directory left by a crash as libsmooth began installing opens") {
  // shared.db is the first file made, empty, before anything else: what a process killed
  // right after making it leaves.
  std::string dir = NewTempDir();
  std::ofstream(dir + "/shared.db").close();
  fs::permissions(dir + "/shared.db", fs::perms::owner_read | fs::perms::owner_write);
  auto storage = OpenAt(dir);
  NewTenant(*storage, "acme");
  CHECK(Column(dir + "/shared.db", "SELECT COUNT(*) FROM tenants") ==
        std::vector<std::string>{"1"});
}

// The files hold password hashes and bookings: owner only, even in a directory that others
// may read and under a permissive umask.
TEST_CASE("a sqlite: storage's files are 0600 whatever the umask and the directory") {
  std::string dir = NewTempDir() + "/open";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  const mode_t old_mask = ::umask(0);
  auto storage = OpenAt(dir);
  NewTenant(*storage, "acme");
  ::umask(old_mask);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    struct stat st {};
    REQUIRE(::stat(entry.path().c_str(), &st) == 0);
    CHECK_MESSAGE((st.st_mode & 0777) == 0600, entry.path().filename().string());
  }
  CHECK(files >= 4);  // shared.db, tenant_acme.db and their -wal (and -shm) files
}

TEST_CASE("every connection runs in WAL mode with synchronous=FULL unless configured") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  using internal::sqlite::PragmaForTesting;
  CHECK(Must(PragmaForTesting(*storage, "journal_mode")) == "wal");
  CHECK(Must(PragmaForTesting(*storage, "synchronous")) == "2");  // FULL
  CHECK(Must(PragmaForTesting(*storage, "busy_timeout")) == "5000");
  CHECK(Must(PragmaForTesting(*storage, "foreign_keys")) == "1");
  CHECK(Must(PragmaForTesting(*storage, "journal_mode", &acme)) == "wal");
  CHECK(Must(PragmaForTesting(*storage, "synchronous", &acme)) == "2");
  // WAL is a property of the file: another connection sees it too.
  CHECK(Column(dir + "/tenant_acme.db", "PRAGMA journal_mode") == std::vector<std::string>{"wal"});

  storage.reset();
  auto normal =
      OpenAt(dir, {.sqlite_synchronous = "normal", .busy_timeout = std::chrono::milliseconds(250)});
  CHECK(Must(PragmaForTesting(*normal, "synchronous")) == "1");  // NORMAL
  CHECK(Must(PragmaForTesting(*normal, "synchronous", &acme)) == "1");
  CHECK(Must(PragmaForTesting(*normal, "busy_timeout")) == "250");
}

TEST_CASE("bad options and unknown urls are refused; postgresql urls go to its backend") {
  std::string dir = NewTempDir();
  CHECK(OpenStorage("sqlite:" + dir, {.sqlite_synchronous = "SOMETIMES"}).error().code() ==
        StatusCode::kInvalidArgument);
  CHECK(OpenStorage("sqlite:" + dir, {.sqlite_synchronous = "SOMETIMES"})
            .error()
            .message()
            .starts_with("sqlite_synchronous: "));
  CHECK(OpenStorage("sqlite:" + dir, {.pool_size = 0}).error().code() ==
        StatusCode::kInvalidArgument);
  CHECK(
      OpenStorage("sqlite:" + dir, {.pool_size = 0}).error().message().starts_with("pool_size: "));
  auto no_tenants = OpenStorage("sqlite:" + dir, {.sqlite_open_tenants = 0});
  CHECK(no_tenants.error().code() == StatusCode::kInvalidArgument);
  CHECK(no_tenants.error().message().find("sqlite_open_tenants") != std::string::npos);
  // SQLite does not use server_timeout, but a negative one is still a mistake, refused as
  // PostgreSQL refuses it.
  auto negative = OpenStorage("sqlite:" + dir, {.server_timeout = std::chrono::milliseconds(-1)});
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.error().code() == StatusCode::kInvalidArgument);
  CHECK(negative.error().message().starts_with("server_timeout: "));
  // Waits past what a 32-bit count of milliseconds holds (SQLite's busy_timeout takes an
  // int) are refused rather than wrapped to a negative wait.
  auto too_long = std::chrono::milliseconds(std::int64_t{1} << 31);
  for (auto [name, options] :
       {std::pair("busy_timeout: ", StorageOptions{.busy_timeout = too_long}),
        std::pair("pool_wait: ", StorageOptions{.pool_wait = too_long}),
        std::pair("server_timeout: ", StorageOptions{.server_timeout = too_long}),
        std::pair("pool_wait: ", StorageOptions{.pool_wait = std::chrono::milliseconds::max()})}) {
    CAPTURE(name);
    auto refused = OpenStorage("sqlite:" + dir, options);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == StatusCode::kInvalidArgument);
    CHECK(refused.error().message().starts_with(name));
  }
  CHECK(OpenStorage("sqlite:" + dir,
                    {.busy_timeout = std::chrono::milliseconds(std::int64_t{1} << 31) -
                                     std::chrono::milliseconds(1)})
            .ok());
  CHECK(OpenStorage("sqlite:").error().code() == StatusCode::kInvalidArgument);
  auto unknown = OpenStorage("mysql://root:secret@db/x");
  CHECK(unknown.error().code() == StatusCode::kInvalidArgument);
  CHECK(unknown.error().message().find("secret") == std::string::npos);
  CHECK(unknown.error().message().starts_with("storage url: unknown scheme 'mysql'"));
  // No server there: the PostgreSQL backend answers, unavailable, and keeps the password.
  auto pg = OpenStorage("postgresql://smooth:secret@127.0.0.1:1/smooth?connect_timeout=2");
  CHECK(pg.error().code() == StatusCode::kUnavailable);
  CHECK(pg.error().message().find("secret") == std::string::npos);
  CHECK(OpenStorage("host=/nonexistent-smooth dbname=smooth").error().code() ==
        StatusCode::kUnavailable);
  CHECK(OpenStorage("memory:").ok());
  CHECK(OpenStorage("sqlite://" + dir).ok());
}

TEST_CASE("a storage string that is not recognised never has its password echoed") {
  // A conninfo with a leading blank (libpq reads it fine), or whose first key is another
  // libpq parameter: whatever becomes of it, the password must not appear in the error.
  for (const char* url : {" password=hunter2secret host=/nonexistent-smooth dbname=smooth",
                          "Password=hunter2secret", "tty=x password=hunter2secret"}) {
    auto opened = OpenStorage(url);
    REQUIRE_FALSE(opened.ok());
    INFO(opened.error().ToString());
    CHECK(opened.error().message().find("hunter") == std::string::npos);
  }
}

TEST_CASE("migrations are recorded in every database, applied once, and never go backwards") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  Tenant beta = NewTenant(*storage, "beta");
  std::string versions = "SELECT version || ':' || name FROM schema_migrations ORDER BY version";
  auto shared = Column(dir + "/shared.db", versions);
  auto tenant = Column(dir + "/tenant_acme.db", versions);
  CHECK(shared == std::vector<std::string>{"1:create_shared_tables", "2:index_shared_lookups",
                                           "3:shared_epoch", "4:login_failures", "5:session_tokens",
                                           "6:sessions_revoked_at", "7:deleted_tenants",
                                           "8:domain_claims"});
  CHECK(tenant == std::vector<std::string>{"1:create_tenant_tables",
                                           "2:index_appointments_and_holds", "3:hold_outside_hours",
                                           "4:appointment_booked_start", "5:hold_confirmed_as"});
  auto stamps = Column(dir + "/shared.db", "SELECT applied_at FROM schema_migrations");

  auto tenant_stamps = Column(dir + "/tenant_acme.db", "SELECT applied_at FROM schema_migrations");

  storage.reset();
  storage = OpenAt(dir);  // reopening, and using the tenant, applies nothing twice
  Must(Must(storage->BeginTenant(acme, TxnMode::kRead))->ListResources());
  CHECK(Column(dir + "/shared.db", versions) == shared);
  CHECK(Column(dir + "/shared.db", "SELECT applied_at FROM schema_migrations") == stamps);
  CHECK(Column(dir + "/tenant_acme.db", versions) == tenant);
  CHECK(Column(dir + "/tenant_acme.db", "SELECT applied_at FROM schema_migrations") ==
        tenant_stamps);
  storage.reset();

  // A tenant's file is migrated on its first use, not when the storage opens: one tenant's
  // failure is that tenant's alone, and the others go on.
  auto first_use = [&](const Tenant& t) -> Status {
    auto opened = OpenStorage("sqlite:" + dir);
    REQUIRE_MESSAGE(opened.ok(), opened.error().ToString());
    auto other = (*opened)->BeginTenant(beta, TxnMode::kRead);
    REQUIRE_MESSAGE(other.ok(), other.error().ToString());
    auto txn = (*opened)->BeginTenant(t, TxnMode::kRead);
    return txn.ok() ? Status() : txn.error();
  };

  SUBCASE("a shared database from a newer libsmooth") {
    Exec(dir + "/shared.db", "INSERT INTO schema_migrations VALUES (99, 'future', 0)");
    auto refused = OpenStorage("sqlite:" + dir);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == StatusCode::kFailedPrecondition);
    CHECK(refused.error().message().find("shared database is at schema version 99") == 0);
  }
  SUBCASE("a tenant database from an older libsmooth is migrated on its first use") {
    Exec(dir + "/tenant_acme.db", "ALTER TABLE holds DROP COLUMN confirmed_as");
    Exec(dir + "/tenant_acme.db", "DELETE FROM schema_migrations WHERE version = 5");
    CHECK(Column(dir + "/tenant_acme.db", versions).size() == 4);
    Status used = first_use(acme);
    CHECK_MESSAGE(used.ok(), used.ToString());
    CHECK(Column(dir + "/tenant_acme.db", versions) == tenant);
    CHECK(Column(dir + "/tenant_acme.db",
                 "SELECT COUNT(*) FROM pragma_table_info('holds') "
                 "WHERE name = 'confirmed_as'") == std::vector<std::string>{"1"});
  }
  SUBCASE("a tenant database from a newer libsmooth names the tenant") {
    Exec(dir + "/tenant_acme.db", "INSERT INTO schema_migrations VALUES (99, 'future', 0)");
    Status refused = first_use(acme);
    CHECK_MESSAGE(refused.code() == StatusCode::kFailedPrecondition, refused.ToString());
    CHECK_MESSAGE(refused.message().find("tenant 'acme' is at schema version 99") == 0,
                  refused.ToString());
  }
  SUBCASE("a migration that fails stops there and says where") {
    // Forget that migration 2 ran: applying it again hits the index it created.
    Exec(dir + "/tenant_acme.db", "DELETE FROM schema_migrations WHERE version = 2");
    Status refused = first_use(acme);
    CHECK_MESSAGE(refused.message().find(
                      "tenant 'acme': migration 2 'index_appointments_and_holds' failed at "
                      "statement") == 0,
                  refused.ToString());
    // Nothing of the failed migration stays.
    CHECK(
        Column(dir + "/tenant_acme.db", "SELECT version FROM schema_migrations ORDER BY version") ==
        std::vector<std::string>{"1", "3", "4", "5"});
  }
}

// Shared migration 8 rebuilds the domains table; a database from before keeps its rows.
TEST_CASE("a shared database from before domain claims keeps its domains when migrated") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  Tenant globex = NewTenant(*storage, "globex");
  Domain verified;
  {
    auto shared = Must(storage->BeginShared(TxnMode::kWrite));
    verified = Must(shared->InsertDomain({.name = "book.acme.com",
                                          .tenant = acme.id,
                                          .is_primary = true,
                                          .is_custom_domain = true,
                                          .route53_zone_id = "Z1",
                                          .verification = DomainVerification::kVerified,
                                          .verified_at = T0(),
                                          .created_at = T0()}));
    Must(shared->Commit());
  }
  storage.reset();
  // The table as migrations 1 and 2 made it, and migration 8 not yet applied.
  Exec(dir + "/shared.db",
       "CREATE TABLE old_domains (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
       " tenant INTEGER NOT NULL, is_primary INTEGER NOT NULL, is_custom_domain INTEGER NOT NULL,"
       " route53_zone_id TEXT, verification TEXT NOT NULL, verified_at INTEGER,"
       " created_at INTEGER NOT NULL);"
       "INSERT INTO old_domains SELECT id, name, tenant, is_primary, is_custom_domain,"
       " route53_zone_id, verification, verified_at, created_at FROM domains;"
       "DROP TABLE domains; ALTER TABLE old_domains RENAME TO domains;"
       "CREATE INDEX domains_by_tenant ON domains (tenant);"
       "DELETE FROM schema_migrations WHERE version = 8");
  REQUIRE(Column(dir + "/shared.db", "SELECT MAX(version) FROM schema_migrations") ==
          std::vector<std::string>{"7"});

  storage = OpenAt(dir);
  CHECK(Column(dir + "/shared.db", "SELECT MAX(version) FROM schema_migrations") ==
        std::vector<std::string>{"8"});
  auto shared = Must(storage->BeginShared(TxnMode::kWrite));
  Domain kept = Must(shared->FindDomainByName("book.acme.com"));
  CHECK(kept.id == verified.id);
  CHECK(kept.tenant == acme.id);
  CHECK(kept.is_primary);
  CHECK(kept.is_custom_domain);
  CHECK(kept.route53_zone_id == std::optional<std::string>("Z1"));
  CHECK(kept.verified_at == std::optional<Instant>(T0()));
  CHECK(kept.created_at == T0());
  Must(shared->InsertDomain(
      {.name = "book.acme.com", .tenant = globex.id, .is_custom_domain = true}));
  Must(shared->Commit());
}

TEST_CASE("what was committed survives closing and reopening, field for field") {
  std::string dir = NewTempDir();
  Tenant acme;
  User user;
  Domain domain;
  Grant grant;
  Session session;
  Resource resource;
  Service service;
  Customer customer;
  Appointment appointment;
  Hold hold;
  {
    auto storage = OpenAt(dir);
    acme = NewTenant(*storage, "acme");
    auto shared = Must(storage->BeginShared(TxnMode::kWrite));
    domain = Must(shared->InsertDomain({.name = "acme.example.com",
                                        .tenant = acme.id,
                                        .is_primary = true,
                                        .route53_zone_id = "Z123",
                                        .verification = DomainVerification::kVerified,
                                        .verified_at = T0(),
                                        .created_at = T0()}));
    user = Must(shared->InsertUser({.email = "a@acme.test",
                                    .display_name = "A",
                                    .role = Role::kTenantStaff,
                                    .tenant = acme.id,
                                    .password_hash = "$argon2id$x",
                                    .created_at = T0()}));
    grant = Must(shared->InsertGrant({.grantor = UserId(1),
                                      .grantee = user.id,
                                      .action = Action::kAppointmentReadAll,
                                      .scope = Scope::kOwnTenant,
                                      .tenant = acme.id,
                                      .reason = "cover",
                                      .created_at = T0(),
                                      .expires_at = T0() + std::chrono::hours(1),
                                      .revoked_at = T0(),
                                      .revoked_by = UserId(1),
                                      .revoke_reason = "done"}));
    session = Must(shared->InsertSession({.session_key = "k1",
                                          .user = user.id,
                                          .tenant = acme.id,
                                          .original = SessionId(9),
                                          .ip_address = "203.0.113.7",
                                          .created_at = T0(),
                                          .ended_at = T0()}));
    Must(shared->Commit());

    auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
    CHECK(Must(txn->BumpChangeSeq()) == 1);
    resource = Must(txn->InsertResource(SampleResource()));
    Service s;
    s.name = "Cut";
    s.duration = std::chrono::minutes(45);
    s.requirements = {ResourceRequirement{{resource.id, ResourceId(99)}},
                      ResourceRequirement{{resource.id}}};
    s.price_minor = 2500;
    s.currency = "EUR";
    service = Must(txn->InsertService(s));
    customer = Must(txn->InsertCustomer({.name = "C",
                                         .email = "c@x.test",
                                         .phone = "+1",
                                         .user = user.id,
                                         .status = CustomerStatus::kBlocked,
                                         .created_at = T0()}));
    appointment = Must(txn->InsertAppointment(SampleAppointment(resource.id, service.id)));
    hold = Must(txn->InsertHold({.service = service.id,
                                 .resources = {resource.id},
                                 .customer = customer.id,
                                 .start = T0(),
                                 .end = T0() + std::chrono::hours(1),
                                 .owner = user.id,
                                 .created_at = T0(),
                                 .expires_at = T0() + std::chrono::minutes(10),
                                 .change_seq = 1}));
    Must(txn->Commit());
  }
  auto storage = OpenAt(dir);
  auto shared = Must(storage->BeginShared(TxnMode::kRead));
  Tenant t = Must(shared->FindTenantBySlug("ACME"));
  CHECK(t.id == acme.id);
  CHECK(t.name == acme.name);
  CHECK(t.time_zone == "Europe/London");
  CHECK(t.created_at == T0());
  Domain d = Must(shared->GetDomain(domain.id));
  CHECK(d.route53_zone_id == domain.route53_zone_id);
  CHECK(d.verified_at == domain.verified_at);
  CHECK(d.verification == DomainVerification::kVerified);
  User u = Must(shared->FindUserByEmail(acme.id, "a@acme.test"));
  CHECK(u.id == user.id);
  CHECK(u.role == Role::kTenantStaff);
  CHECK(u.tenant == acme.id);
  CHECK(u.password_hash == "$argon2id$x");
  Grant g = Must(shared->GetGrant(grant.id));
  CHECK(g.action == Action::kAppointmentReadAll);
  CHECK(g.scope == Scope::kOwnTenant);
  CHECK(g.revoked_at == T0());
  CHECK(g.revoked_by == UserId(1));
  CHECK(g.revoke_reason == "done");
  Session s = Must(shared->GetSession(session.id));
  CHECK(s.original == SessionId(9));
  CHECK(s.ended_at == T0());

  auto txn = Must(storage->BeginTenant(t, TxnMode::kRead));
  CHECK(Must(txn->ChangeSeq()) == 1);
  Resource r = Must(txn->GetResource(resource.id));
  CHECK(r.hours == resource.hours);
  CHECK(r.user == UserId(42));
  CHECK(r.kind == ResourceKind::kRoom);
  CHECK(r.updated_at == resource.updated_at);
  Service sv = Must(txn->GetService(service.id));
  CHECK(sv.requirements == service.requirements);
  CHECK(sv.duration == std::chrono::minutes(45));
  CHECK(sv.max_advance == service.max_advance);
  Customer c = Must(txn->GetCustomer(customer.id));
  CHECK(c.status == CustomerStatus::kBlocked);
  Appointment a = Must(txn->FindAppointmentByIdempotencyKey("key-1"));
  CHECK(a.id == appointment.id);
  CHECK(a.resources == appointment.resources);
  CHECK(a.start == appointment.start);
  CHECK(a.buffer_before == appointment.buffer_before);
  CHECK(a.status == AppointmentStatus::kPending);
  CHECK(a.series == SeriesId(77));
  CHECK(a.outside_hours);
  CHECK(a.version == 1);
  Hold h = Must(txn->GetHold(hold.id));
  CHECK(h.expires_at == hold.expires_at);
  CHECK(Must(txn->ListLiveHolds(T0())).size() == 1);
  CHECK(Must(txn->ListLiveHolds(T0() + std::chrono::minutes(10))).empty());
}

TEST_CASE("a transaction destroyed without Commit leaves nothing behind") {
  auto storage = OpenAt(NewTempDir());
  Tenant acme = NewTenant(*storage, "acme");
  {
    auto shared = Must(storage->BeginShared(TxnMode::kWrite));
    Must(shared->InsertDomain({.name = "gone.example.com", .tenant = acme.id}));
    Must(shared->InsertUser({.email = "gone@acme.test", .tenant = acme.id}));
  }
  {
    auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    Must(txn->InsertResource(SampleResource()));
  }
  auto shared = Must(storage->BeginShared(TxnMode::kRead));
  CHECK(shared->FindDomainByName("gone.example.com").error().code() == StatusCode::kNotFound);
  CHECK(shared->FindUserByEmail(acme.id, "gone@acme.test").error().code() == StatusCode::kNotFound);
  auto txn = Must(storage->BeginTenant(acme, TxnMode::kRead));
  CHECK(Must(txn->ChangeSeq()) == 0);
  CHECK(Must(txn->ListResources()).empty());
  // Writing through a read transaction, or after Commit, is refused.
  CHECK(txn->BumpChangeSeq().error() == FailedPrecondition("write in a read transaction"));
  Must(txn->Commit());
  CHECK(txn->Commit() == FailedPrecondition("transaction already finished"));
}

// SQLite may end a transaction itself after an error (SQLITE_FULL, an I/O error, NOMEM, a
// trigger's RAISE(ROLLBACK)); the statements after it would then each commit alone. The
// transaction must count as spoilt instead, so that nothing of it is ever committed.
TEST_CASE("a statement error that makes SQLite roll back the transaction spoils it") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair;
  {
    auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    chair = Must(txn->InsertResource(SampleResource()));
    Must(txn->Commit());
  }
  Exec(dir + "/tenant_acme.db",
       "CREATE TRIGGER boom BEFORE INSERT ON customers WHEN NEW.name = 'boom' "
       "BEGIN SELECT RAISE(ROLLBACK, 'boom'); END");
  auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
  Must(txn->BumpChangeSeq());
  Resource renamed = chair;
  renamed.name = "Renamed";
  Must(txn->UpdateResource(renamed));
  CHECK_FALSE(txn->InsertCustomer({.name = "boom", .created_at = T0()}).ok());
  // Gone with the rollback: what follows may not commit on its own, nor may Commit pass.
  auto after = txn->InsertCustomer({.name = "after", .created_at = T0()});
  CHECK_FALSE(after.ok());
  CHECK_FALSE(txn->Commit().ok());
  txn.reset();
  CHECK(Column(dir + "/tenant_acme.db", "SELECT name FROM customers").empty());
  CHECK(Column(dir + "/tenant_acme.db", "SELECT name FROM resources") ==
        std::vector<std::string>{"Chair 1"});
  // The connection goes on serving well-formed transactions.
  auto next = Must(storage->BeginTenant(acme, TxnMode::kWrite));
  Must(next->BumpChangeSeq());
  Must(next->InsertCustomer({.name = "later", .created_at = T0()}));
  Must(next->Commit());
  CHECK(Column(dir + "/tenant_acme.db", "SELECT name FROM customers") ==
        std::vector<std::string>{"later"});
}

TEST_CASE("uniqueness is the database's: slugs case-insensitively, emails per tenant, keys") {
  const std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  Tenant globex = NewTenant(*storage, "globex");
  Tenant initech = NewTenant(*storage, "initech");

  auto dup = storage->CreateTenant({.slug = "ACME", .name = "Shouting"});
  CHECK(dup.error() == AlreadyExists("slug: tenant 'ACME' already exists"));

  auto shared = Must(storage->BeginShared(TxnMode::kWrite));
  Must(shared->InsertUser({.email = "x@example.com", .tenant = acme.id}));
  Must(shared->InsertUser({.email = "x@example.com", .tenant = globex.id}));
  Must(shared->InsertUser({.email = "x@example.com", .tenant = std::nullopt}));
  CHECK(shared->InsertUser({.email = "x@example.com", .tenant = acme.id}).error() ==
        AlreadyExists("email: 'x@example.com' is already registered"));
  CHECK(shared->InsertUser({.email = "x@example.com", .tenant = std::nullopt}).error().code() ==
        StatusCode::kAlreadyExists);
  User moving = Must(shared->InsertUser({.email = "y@example.com", .tenant = acme.id}));
  moving.email = "x@example.com";
  CHECK(shared->UpdateUser(moving) ==
        AlreadyExists("email: 'x@example.com' is already registered"));
  // A domain name: once per tenant, and verified for one tenant.
  Domain claim = Must(shared->InsertDomain({.name = "a.example.com", .tenant = acme.id}));
  CHECK(shared->InsertDomain({.name = "a.example.com", .tenant = acme.id}).error() ==
        AlreadyExists("domain 'a.example.com' already exists"));
  Domain other_claim = Must(shared->InsertDomain({.name = "a.example.com", .tenant = globex.id}));
  claim.verification = DomainVerification::kVerified;
  Must(shared->UpdateDomain(claim));
  CHECK(Must(shared->FindDomainByName("a.example.com")).id == claim.id);
  other_claim.verification = DomainVerification::kVerified;
  CHECK(shared->UpdateDomain(other_claim) ==
        AlreadyExists("domain 'a.example.com' is verified for another tenant"));
  CHECK(shared
            ->InsertDomain({.name = "a.example.com",
                            .tenant = initech.id,
                            .verification = DomainVerification::kVerified})
            .error() == AlreadyExists("domain 'a.example.com' is verified for another tenant"));
  Must(shared->InsertSession({.session_key = "s", .user = moving.id}));
  CHECK(shared->InsertSession({.session_key = "s", .user = moving.id}).error() ==
        AlreadyExists("session_key: already in use"));
  // A UNIQUE violation the database reports itself (no pre-check looks at a session's new
  // key) is already_exists too, and the statement and the transaction stay usable.
  Session renamed = Must(shared->InsertSession({.session_key = "t", .user = moving.id}));
  renamed.session_key = "s";
  CHECK(shared->UpdateSession(renamed) == AlreadyExists("session_key: already in use"));
  renamed.session_key = "u";
  Must(shared->UpdateSession(renamed));
  // The transaction is still usable after a refused write, as with MemoryStorage.
  Must(shared->Commit());
  auto check = Must(storage->BeginShared(TxnMode::kRead));
  CHECK(Must(check->GetSession(renamed.id)).session_key == "u");
  check.reset();
  // Between concurrent writers, and against a write that skips the checks above, the
  // schema's unique indexes hold the domain rules.
  const std::string shared_db = dir + "/shared.db";
  const std::string insert =
      "INSERT INTO domains (id, name, tenant, is_primary, is_custom_domain, verification,"
      " created_at) VALUES ({}, 'b.example.com', {}, 0, 1, '{}', 0)";
  CHECK(TryExec(shared_db, fmt::format(fmt::runtime(insert), 9001, acme.id.value(), "verified")) ==
        "");
  CHECK(TryExec(shared_db, fmt::format(fmt::runtime(insert), 9002, globex.id.value(), "pending")) ==
        "");
  CHECK(TryExec(shared_db, fmt::format(fmt::runtime(insert), 9003, globex.id.value(), "failed")) ==
        "UNIQUE constraint failed: domains.tenant, domains.name");
  CHECK(TryExec(shared_db, "UPDATE domains SET verification = 'verified' WHERE id = 9002") ==
        "UNIQUE constraint failed: domains.name");

  auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
  Appointment a = SampleAppointment(ResourceId(1), ServiceId(2));
  Must(txn->InsertAppointment(a));
  CHECK(txn->InsertAppointment(a).error() == AlreadyExists("idempotency_key: already used"));
  a.idempotency_key.reset();
  Must(txn->InsertAppointment(a));
  Must(txn->InsertAppointment(a));  // no key: no constraint
  Must(txn->Commit());
  // Keys are per tenant.
  auto other = Must(storage->BeginTenant(globex, TxnMode::kWrite));
  Must(other->InsertAppointment(SampleAppointment(ResourceId(1), ServiceId(2))));
  Must(other->Commit());
}

TEST_CASE("a tenant whose file is missing fails closed, and the file is not recreated") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  Must(storage->BeginTenant(acme, TxnMode::kRead));  // opened and pooled

  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(dir + "/tenant_acme.db" + suffix);
  auto missing = storage->BeginTenant(acme, TxnMode::kWrite);
  CHECK(missing.error() == NotFound("tenant 'acme' has no data space"));
  CHECK_FALSE(fs::exists(dir + "/tenant_acme.db"));

  storage.reset();
  storage = OpenAt(dir);  // reopening skips it, and still fails closed
  CHECK(storage->BeginTenant(acme, TxnMode::kRead).error() ==
        NotFound("tenant 'acme' has no data space"));
  CHECK_FALSE(fs::exists(dir + "/tenant_acme.db"));
  // A tenant that was never created, a slug that cannot name a file, another tenant's id.
  CHECK(storage->BeginTenant({.id = TenantId(999), .slug = "nobody"}, TxnMode::kRead)
            .error()
            .code() == StatusCode::kNotFound);
  CHECK(storage->BeginTenant({.id = acme.id, .slug = "../shared"}, TxnMode::kRead).error().code() ==
        StatusCode::kNotFound);
  Tenant globex = NewTenant(*storage, "globex");
  CHECK(storage
            ->BeginTenant({.id = TenantId(globex.id.value() + 1000), .slug = "globex"},
                          TxnMode::kRead)
            .error() == NotFound("tenant 'globex' has no data space"));
}

// File permissions as an ordinary user meets them, for as long as it lives: root passes
// every permission check, so under root this thread checks files as the user `nobody` does
// (setfsuid: only the file system user changes, and with it root's override), after
// giving `dir` to that user.
class AsUnprivileged {
 public:
  explicit AsUnprivileged(const std::string& dir) {
    if (::geteuid() != 0) return;
    REQUIRE(::chown(dir.c_str(), kNobody, kNobody) == 0);
    ::setfsgid(kNobody);
    ::setfsuid(kNobody);
    active_ = true;
  }
  ~AsUnprivileged() {
    if (!active_) return;
    ::setfsuid(0);
    ::setfsgid(0);
  }

 private:
  static constexpr uid_t kNobody = 65534;
  bool active_ = false;
};

TEST_CASE("a file made read-only fails as such, and takes writes again once put right") {
  std::string dir = NewTempDir();
  AsUnprivileged as_user(dir);
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  auto other = OpenAt(dir);  // a second process, which has not used the tenant yet
  Must(storage->BeginTenant(acme, TxnMode::kRead));  // the first has the file open
  const std::string file = dir + "/tenant_acme.db";
  REQUIRE(::chmod(file.c_str(), 0400) == 0);  // an operator's slip, or a restore's mode
  // Neither reads nor writes, and the answer says why. (SQLite would open the file
  // read-only; such a connection stays so after the file is put right, and opening it
  // gives the empty -wal file the database's mode, failing the next writer too.)
  for (TxnMode mode : {TxnMode::kRead, TxnMode::kWrite}) {
    Status failed;
    if (auto txn = other->BeginTenant(acme, mode); !txn.ok())
      failed = txn.error();
    else if (mode == TxnMode::kRead)
      failed = (*txn)->ListResources().ok() ? Status() : Internal("ListResources failed");
    else if (auto bumped = (*txn)->BumpChangeSeq(); !bumped.ok())
      failed = bumped.error();
    else
      failed = (*txn)->Commit();
    CHECK(failed.code() == StatusCode::kFailedPrecondition);
    CHECK_MESSAGE(failed.message().find("tenant_acme.db is not writable") != std::string::npos,
                  failed.ToString());
  }
  // Put right, the file takes writes again in both processes, the first time.
  REQUIRE(::chmod(file.c_str(), 0600) == 0);
  for (Storage* s : {other.get(), storage.get()}) {
    auto txn = Must(s->BeginTenant(acme, TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    Must(txn->InsertResource(SampleResource()));
    Must(txn->Commit());
  }
  CHECK(Column(file, "SELECT COUNT(*) FROM resources") == std::vector<std::string>{"2"});
}

// A file in a tenant's place that is not that tenant's (made by hand, or another tenant's
// copied over it) is not_found, and is read only: no migration is written into it, neither
// when the tenant is used nor when the storage opens.
TEST_CASE("a file that is not the tenant's fails closed without being written to") {
  std::string dir = NewTempDir();
  Tenant acme;
  {
    auto storage = OpenAt(dir);
    acme = NewTenant(*storage, "acme");
  }
  const fs::path file = dir + "/tenant_acme.db";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  {
    sqlite3* conn = nullptr;
    REQUIRE(sqlite3_open_v2(file.c_str(), &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) == SQLITE_OK);
    sqlite3_close(conn);
  }
  Exec(file, "CREATE TABLE notes (text TEXT)");
  const std::string tables = "SELECT name FROM sqlite_master ORDER BY name";
  const std::vector<std::string> before = Column(file, tables);
  REQUIRE(before == std::vector<std::string>{"notes"});

  auto storage = OpenAt(dir);  // Init migrates the tenants' files: not this one
  CHECK(Column(file, tables) == before);
  CHECK(storage->BeginTenant(acme, TxnMode::kWrite).error() ==
        NotFound("tenant 'acme' has no data space"));
  CHECK(Column(file, tables) == before);
}

TEST_CASE("a deleted tenant's file goes after its rows; a file not its own stays") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  auto second = OpenAt(dir);  // another process, with the tenant open
  Tenant acme = NewTenant(*storage, "acme");
  Tenant globex = NewTenant(*storage, "globex");
  Must(Must(second->BeginTenant(acme, TxnMode::kRead))->ChangeSeq());
  const fs::path file = dir + "/tenant_acme.db";
  REQUIRE(fs::exists(file));

  Must(storage->DeleteTenant(acme));
  for (const char* suffix : {"", "-wal", "-shm", ".tmp"})
    CHECK_FALSE(fs::exists(file.string() + suffix));
  CHECK(fs::exists(dir + "/tenant_globex.db"));
  CHECK(Column(dir + "/shared.db", "SELECT slug FROM tenants") ==
        std::vector<std::string>{"globex"});
  CHECK(Column(dir + "/shared.db", "SELECT slug_key || ':' || tenant_id FROM deleted_tenants") ==
        std::vector<std::string>{fmt::format("acme:{}", acme.id.value())});
  for (Storage* s : {storage.get(), second.get()})
    CHECK(s->BeginTenant(acme, TxnMode::kRead).error() ==
          NotFound("tenant 'acme' has no data space"));

  // A file at a tenant's name that is not its own is not its data, and is not removed.
  const fs::path other = dir + "/tenant_globex.db";
  Exec(other, "UPDATE tenant_meta SET tenant_id = tenant_id + 1000");
  Must(storage->DeleteTenant(globex));
  CHECK(fs::exists(other));
  CHECK(Column(dir + "/shared.db", "SELECT COUNT(*) FROM tenants") ==
        std::vector<std::string>{"0"});
}

TEST_CASE("a tenant's file is removed only once its writers in flight have committed") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  auto second = OpenAt(dir);  // another process, writing to the tenant
  Tenant acme = NewTenant(*storage, "acme");
  auto txn = Must(second->BeginTenant(acme, TxnMode::kWrite));  // holds the file's write lock
  Must(txn->InsertResource({.name = "Chair", .capacity = 1, .time_zone = "UTC"}));
  std::atomic<bool> committed{false};
  std::atomic<bool> removed_before_commit{false};
  Status deleted;
  std::thread deleter([&] {
    deleted = storage->DeleteTenant(acme);
    removed_before_commit = !committed.load();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  committed = true;
  CHECK(txn->Commit().ok());
  deleter.join();
  CHECK(deleted.ok());
  CHECK_FALSE(removed_before_commit.load());
  CHECK_FALSE(fs::exists(dir + "/tenant_acme.db"));
}

TEST_CASE("a writer that gets the lock of a file removed meanwhile fails closed") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  Tenant acme = NewTenant(*storage, "acme");
  Must(Must(storage->BeginTenant(acme, TxnMode::kRead))->ChangeSeq());  // a pooled connection
  const fs::path file = dir + "/tenant_acme.db";
  // What DeleteTenant does in another process: the file's write lock, then the removal.
  sqlite3* holder = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &holder, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  // The writer finds the file there, then waits for its lock.
  Result<std::unique_ptr<TenantTransaction>> begun = Internal("not begun");
  std::thread writer([&] { begun = storage->BeginTenant(acme, TxnMode::kWrite); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  writer.join();
  REQUIRE_FALSE(begun.ok());
  CHECK(begun.error() == NotFound("tenant 'acme' has no data space"));
}

TEST_CASE("a failed tenant creation leaves no file and no row") {
  std::string dir = NewTempDir();
  auto storage = OpenAt(dir);
  // Tests run as root, so permissions cannot stop the write: a directory where the
  // temporary file must go can.
  fs::create_directories(dir + "/tenant_broken.db.tmp/inside");
  auto failed = storage->CreateTenant({.slug = "broken", .name = "Broken"});
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message().find("tenant 'broken'") == 0);
  CHECK_FALSE(fs::exists(dir + "/tenant_broken.db"));
  {
    auto shared = Must(storage->BeginShared(TxnMode::kRead));
    CHECK(shared->FindTenantBySlug("broken").error().code() == StatusCode::kNotFound);
    CHECK(Must(shared->ListTenants()).empty());
  }
  CHECK(Column(dir + "/shared.db", "SELECT COUNT(*) FROM tenants") ==
        std::vector<std::string>{"0"});

  fs::remove_all(dir + "/tenant_broken.db.tmp");
  Tenant created = NewTenant(*storage, "broken");
  Must(storage->BeginTenant(created, TxnMode::kRead));

  SUBCASE("an orphan file is not adopted") {
    std::ofstream(dir + "/tenant_orphan.db") << "not ours";
    auto orphan = storage->CreateTenant({.slug = "orphan", .name = "Orphan"});
    CHECK(orphan.error().code() == StatusCode::kFailedPrecondition);
    auto shared = Must(storage->BeginShared(TxnMode::kRead));
    CHECK(shared->FindTenantBySlug("orphan").error().code() == StatusCode::kNotFound);
    std::ifstream kept(dir + "/tenant_orphan.db");
    std::string text;
    std::getline(kept, text);
    CHECK(text == "not ours");
  }
  SUBCASE("a slug that cannot name a file") {
    auto evil = storage->CreateTenant({.slug = "../evil", .name = "Evil"});
    REQUIRE_FALSE(evil.ok());
    CHECK(evil.error().code() == StatusCode::kInvalidArgument);
    CHECK(evil.error().message().starts_with("slug: "));
    auto shared = Must(storage->BeginShared(TxnMode::kRead));
    CHECK(Must(shared->ListTenants()).size() == 1);  // "broken", made above
    CHECK_FALSE(fs::exists(dir + "/../evil.db"));
    CHECK_FALSE(fs::exists(dir + "/tenant_../evil.db"));
  }
}

// A creation killed between linking the tenant's file into place and committing its row
// leaves the file without the row. Creating the tenant again replaces that file only when
// nothing could be lost: it names this slug, no committed tenant, and holds no data.
TEST_CASE("a file left by an interrupted creation is replaced, a file with data never") {
  std::string dir = NewTempDir();
  const fs::path file = fs::path(dir) / "tenant_ghost.db";
  TenantId first;
  {
    auto storage = OpenAt(dir);
    first = NewTenant(*storage, "ghost").id;
  }
  // The row goes, as if its transaction had never committed.
  Exec(dir + "/shared.db", "DELETE FROM tenants WHERE slug = 'ghost'");
  REQUIRE(fs::exists(file));

  SUBCASE("empty: replaced") {
    auto storage = OpenAt(dir);
    Tenant again = Must(storage->CreateTenant({.slug = "ghost", .name = "Ghost"}));
    CHECK(again.id != first);
    CHECK(Column(file, "SELECT tenant_id FROM tenant_meta") ==
          std::vector<std::string>{std::to_string(again.id.value())});
    auto txn = Must(storage->BeginTenant(again, TxnMode::kRead));  // its data space now
    CHECK(Must(txn->ListResources()).empty());
  }
  SUBCASE("holding a row: left alone") {
    Exec(file, "INSERT INTO customers (id, name, email, phone, user_id, status, created_at) "
               "VALUES (77, 'Kept', '', '', NULL, 'active', 0)");
    auto storage = OpenAt(dir);
    auto refused = storage->CreateTenant({.slug = "ghost", .name = "Ghost"});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == StatusCode::kFailedPrecondition);
    CHECK(refused.error().message().find("tenant_ghost.db") != std::string::npos);
    CHECK(Column(file, "SELECT name FROM customers") == std::vector<std::string>{"Kept"});
    auto shared = Must(storage->BeginShared(TxnMode::kRead));
    CHECK(shared->FindTenantBySlug("ghost").error().code() == StatusCode::kNotFound);
  }
  SUBCASE("stamped for a tenant that exists: left alone") {
    auto storage = OpenAt(dir);
    Tenant other = NewTenant(*storage, "other");
    Exec(file, fmt::format("UPDATE tenant_meta SET tenant_id = {}", other.id.value()));
    auto refused = storage->CreateTenant({.slug = "ghost", .name = "Ghost"});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == StatusCode::kFailedPrecondition);
    CHECK(fs::exists(file));
  }
}

TEST_CASE("an exhausted pool fails with unavailable after pool_wait, never blocking") {
  auto storage =
      OpenAt(NewTempDir(), {.pool_size = 1, .pool_wait = std::chrono::milliseconds(100)});
  Tenant acme = NewTenant(*storage, "acme");
  {
    auto held = Must(storage->BeginShared(TxnMode::kRead));
    auto start = std::chrono::steady_clock::now();
    auto second = storage->BeginShared(TxnMode::kRead);
    auto waited = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code() == StatusCode::kUnavailable);
    CHECK(waited >= std::chrono::milliseconds(100));
    CHECK(waited < std::chrono::milliseconds(1500));
  }
  {
    auto held = Must(storage->BeginTenant(acme, TxnMode::kRead));
    CHECK(storage->BeginTenant(acme, TxnMode::kRead).error().code() == StatusCode::kUnavailable);
  }
  // Once given back, the connection serves the next transaction.
  Must(storage->BeginShared(TxnMode::kRead));
  Must(storage->BeginTenant(acme, TxnMode::kRead));
}

TEST_CASE("two tenants alternating through one-connection pools each see only their rows") {
  auto storage = OpenAt(NewTempDir(), {.pool_size = 1});
  Tenant acme = NewTenant(*storage, "acme");
  Tenant globex = NewTenant(*storage, "globex");
  std::set<std::int64_t> ids;
  for (int i = 0; i < 6; ++i) {
    const Tenant& t = i % 2 == 0 ? acme : globex;
    auto txn = Must(storage->BeginTenant(t, TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    Resource r = SampleResource();
    r.name = t.slug + std::to_string(i);
    ids.insert(Must(txn->InsertResource(r)).id.value());
    Must(txn->Commit());
  }
  CHECK(ids.size() == 6);  // one counter for all tenants: no id names rows of two tenants
  for (const Tenant& t : {acme, globex}) {
    auto txn = Must(storage->BeginTenant(t, TxnMode::kRead));
    auto rows = Must(txn->ListResources());
    CHECK(rows.size() == 3);
    for (const Resource& r : rows) CHECK(r.name.rfind(t.slug, 0) == 0);
    CHECK(Must(txn->ChangeSeq()) == 3);
  }
  // An id of one tenant is not found in the other.
  auto txn = Must(storage->BeginTenant(globex, TxnMode::kRead));
  CHECK(txn->GetResource(ResourceId(*ids.begin())).error().code() == StatusCode::kNotFound);
}

// The tenant files this process has open: the distinct tenant_*.db its descriptors name.
std::set<std::string> OpenTenantFiles() {
  std::set<std::string> files;
  for (const auto& fd : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = fs::read_symlink(fd.path(), ec).filename().string();
    if (!ec && target.rfind("tenant_", 0) == 0 && target.size() > 3 &&
        target.substr(target.size() - 3) == ".db")
      files.insert(target);
  }
  return files;
}

TEST_CASE("no more tenant files stay open than sqlite_open_tenants; closed ones reopen") {
  const std::string dir = NewTempDir();
  auto storage = OpenAt(dir, {.sqlite_open_tenants = 2});
  std::vector<Tenant> tenants;
  for (int i = 0; i < 5; ++i) {
    tenants.push_back(NewTenant(*storage, "t" + std::to_string(i)));
    auto txn = Must(storage->BeginTenant(tenants.back(), TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    Resource r = SampleResource();
    r.name = tenants.back().slug;
    Must(txn->InsertResource(r));
    Must(txn->Commit());
    CHECK(OpenTenantFiles().size() <= 2);
  }
  // The most recently used stay open; the others open again when used, their data intact.
  CHECK(OpenTenantFiles() == std::set<std::string>{"tenant_t3.db", "tenant_t4.db"});
  for (const Tenant& t : tenants) {
    auto txn = Must(storage->BeginTenant(t, TxnMode::kRead));
    auto rows = Must(txn->ListResources());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].name == t.slug);
    CHECK(OpenTenantFiles().size() <= 2);
  }
  // A tenant in use is never closed: with three transactions open, three files are.
  {
    auto a = Must(storage->BeginTenant(tenants[0], TxnMode::kRead));
    auto b = Must(storage->BeginTenant(tenants[1], TxnMode::kRead));
    auto c = Must(storage->BeginTenant(tenants[2], TxnMode::kWrite));
    CHECK(OpenTenantFiles().size() == 3);
    Must(c->BumpChangeSeq());
    Must(c->Commit());
    CHECK(Must(a->ListResources()).size() == 1);
    CHECK(Must(b->ListResources()).size() == 1);
  }
  // Once they end, the bound holds again at the next open.
  Must(storage->BeginTenant(tenants[3], TxnMode::kRead));
  CHECK(OpenTenantFiles().size() <= 2);
}

// Threads that open one closed tenant file at once each get a working transaction: the one
// that opens it second uses the first one's entry, even when closing files past the bound
// would close that entry (used and ended meanwhile) as the least recently used.
TEST_CASE("threads opening tenant files at once past sqlite_open_tenants all get them") {
  auto storage = OpenAt(NewTempDir(), {.sqlite_open_tenants = 2});
  std::vector<Tenant> tenants;
  for (int i = 0; i < 6; ++i) tenants.push_back(NewTenant(*storage, "t" + std::to_string(i)));
  std::atomic<int> failures{0};
  std::mutex first_failure_mu;
  std::string first_failure;  // guarded by first_failure_mu
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) + 1);
      for (int i = 0; i < 200; ++i) {
        auto txn = storage->BeginTenant(tenants[rng() % tenants.size()], TxnMode::kRead);
        Status failed = txn ? (*txn)->ChangeSeq().status() : txn.error();
        if (!failed.ok() && failures++ == 0) {
          std::lock_guard lock(first_failure_mu);
          first_failure = failed.ToString();
        }
        // Some stay in use a while, so that the others are opened past the bound.
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_MESSAGE(failures == 0, first_failure);
}

TEST_CASE("two storages on one directory, like two processes, share ids and see commits") {
  std::string dir = NewTempDir();
  auto first = OpenAt(dir);
  auto second = OpenAt(dir);
  Tenant acme = NewTenant(*first, "acme");
  std::set<std::int64_t> ids;
  for (int i = 0; i < 200; ++i) {
    Storage& s = i % 2 == 0 ? *first : *second;
    auto txn = Must(s.BeginTenant(acme, TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    ids.insert(Must(txn->NewSeriesId()).value());
    Must(txn->Commit());
  }
  CHECK(ids.size() == 200);
  auto txn = Must(second->BeginTenant(acme, TxnMode::kRead));
  CHECK(Must(txn->ChangeSeq()) == 200);
  auto shared = Must(second->BeginShared(TxnMode::kRead));
  CHECK(Must(shared->FindTenantBySlug("acme")).id == acme.id);
}

// Tenant rows take their ids from shared.db in blocks. While another process holds
// shared.db's write lock, each writer that needs a new block fails after about
// busy_timeout, not after every writer queued before it has waited its own in turn.
TEST_CASE("writers needing ids while shared.db is locked elsewhere each wait busy_timeout") {
  using std::chrono::milliseconds;
  const std::string dir = NewTempDir();
  constexpr int kWriters = 8;
  std::vector<Tenant> tenants;
  {
    auto setup = OpenAt(dir);
    for (int i = 0; i < kWriters; ++i)
      tenants.push_back(NewTenant(*setup, "t" + std::to_string(i)));
  }
  constexpr milliseconds kBusy(300);
  auto storage = OpenAt(dir, {.busy_timeout = kBusy});  // no block of ids reserved yet
  for (const Tenant& t : tenants) Must(storage->BeginTenant(t, TxnMode::kRead));  // files open

  sqlite3* other = nullptr;  // another process, as far as the storage can tell
  REQUIRE(sqlite3_open((fs::path(dir) / "shared.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  std::vector<Status> outcomes(kWriters);
  std::vector<milliseconds> waited(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i)
    writers.emplace_back([&, i] {
      auto txn = storage->BeginTenant(tenants[i], TxnMode::kWrite);
      if (!txn) {
        outcomes[i] = txn.error();
        return;
      }
      auto start = std::chrono::steady_clock::now();
      auto inserted = (*txn)->InsertResource(SampleResource());
      waited[i] =
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
      outcomes[i] = inserted ? Status() : inserted.error();
    });
  for (std::thread& w : writers) w.join();
  for (int i = 0; i < kWriters; ++i) {
    CAPTURE(i);
    INFO(outcomes[i].ToString());
    CHECK(outcomes[i].code() == StatusCode::kUnavailable);
    // At most its own wait and one refill's ahead of it (about 2 x 300 ms); in turn, the
    // last of eight waited about 8 x 300 ms.
    CHECK(waited[i] < 4 * kBusy);
  }
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  // Once the lock is given back, the same writes go through.
  auto txn = Must(storage->BeginTenant(tenants[0], TxnMode::kWrite));
  Must(txn->InsertResource(SampleResource()));
  Must(txn->Commit());
}

TEST_CASE("concurrent writers of one tenant are serialized by the change sequence") {
  auto storage = OpenAt(NewTempDir(), {.sqlite_synchronous = "NORMAL"});
  Tenant acme = NewTenant(*storage, "acme");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto txn = storage->BeginTenant(acme, TxnMode::kWrite);
        if (!txn) {
          ++failures;
          continue;
        }
        auto seq = (*txn)->BumpChangeSeq();
        Appointment a = SampleAppointment(ResourceId(1), ServiceId(1));
        a.idempotency_key.reset();
        a.change_seq = seq ? *seq : -1;
        if (!seq || !(*txn)->InsertAppointment(a) || !(*txn)->Commit().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  auto txn = Must(storage->BeginTenant(acme, TxnMode::kRead));
  CHECK(Must(txn->ChangeSeq()) == 100);
  auto changed = Must(txn->ListAppointmentsChangedSince(90));
  CHECK(changed.size() == 10);
  // Every write got its own sequence number: 1 to 100, each once.
  std::set<std::int64_t> seqs;
  for (const Appointment& a : Must(txn->ListAppointmentsChangedSince(0))) seqs.insert(a.change_seq);
  CHECK(seqs.size() == 100);
  CHECK(*seqs.begin() == 1);
  CHECK(*seqs.rbegin() == 100);
}

}  // namespace
}  // namespace smooth::testing
