// smooth-admin, run as the built binary against a fresh SQLite data directory: creating a
// superuser (password from stdin, never argv) and tenants, migrations that are idempotent
// and stop at the first failure naming the tenant and the migration, and a check that
// passes on a healthy directory and names the tenant when its file is gone (SECURITY.md 19);
// on the _postgresql run, the same against a database with a schema per tenant. And backup:
// a copy of a SQLite storage in use that opens as the same storage, taken while another
// process books, leaving nothing behind when it fails.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "fixtures.hpp"
#include "process_stack.hpp"
#include "schedule_fixtures.hpp"
#include "smooth/platform.hpp"
#include "smooth/scheduler.hpp"
#include "smooth/storage.hpp"
#include "storage/admin.hpp"
#include "storage_probe.hpp"
#include "subprocess.hpp"
#include "test_storage.hpp"

namespace smooth::testing {
namespace {

namespace fs = std::filesystem;

// The tool sits in the same build tree: <build>/tests/admin_cli_test and
// <build>/tools/smooth_admin/smooth-admin.
std::string AdminBinary() {
  fs::path path = fs::path(SelfExe()).parent_path().parent_path() / "tools" / "smooth_admin" /
                  "smooth-admin";
  if (!fs::exists(path))
    FAIL(path.string() << " is not built (configure with SMOOTH_BUILD_TOOLS=ON)");
  return path.string();
}

struct Admin {
  std::string binary = AdminBinary();
  std::string url;

  CommandResult operator()(std::vector<std::string> args,
                           std::optional<std::string> stdin_text = std::nullopt) const {
    std::vector<std::string> argv = {binary, "--storage", url};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, std::move(stdin_text));
  }
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Appointments put in by hand on resource 9001, as (id, start, end in seconds, status): what
// the scheduler would never write, for check to find.
std::string HandMadeAppointments(
    std::string_view table,
    std::initializer_list<std::tuple<int, long long, long long, const char*>> rows) {
  std::string sql = fmt::format(
      "INSERT INTO {} (id, service, resources, customer, start_at, end_at, buffer_before, "
      "buffer_after, status, notes, created_by, created_at, updated_at, version, "
      "idempotency_key, series, outside_hours, change_seq) VALUES ",
      table);
  bool first = true;
  for (const auto& [id, start, end, status] : rows) {
    sql += fmt::format("{}({}, 1, '[9001]', 1, {}, {}, 0, 0, '{}', '', 1, 0, 0, 1, NULL, NULL, 0, 1)",
                       first ? "" : ", ", id, start * 1'000'000, end * 1'000'000, status);
    first = false;
  }
  return sql;
}

void Exec(const fs::path& db, const std::string& sql) {
  sqlite3* conn = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(conn);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

// Common to both backends once acme and globex exist: migrate --shared touches no tenant,
// migrate --tenant of an unknown slug fails naming it, and check finds nothing wrong.
void CheckSharedMigrateUnknownTenantAndCleanCheck(const Admin& admin) {
  CommandResult r = admin({"migrate", "--shared"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(!Contains(r.output, "tenant"));
  r = admin({"migrate", "--tenant", "nobody"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "tenant 'nobody': no such tenant"));

  r = admin({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(Contains(r.output, "0 problems"));
}

TEST_CASE("smooth-admin creates, migrates idempotently, checks, and names what is broken") {
  fs::path dir = fs::path(NewTempDir()) / "data";  // does not exist yet
  Admin admin{.url = "sqlite:" + dir.string()};

  // A superuser, its password read from standard input.
  CommandResult r = admin({"create-superuser", "--email", "root@example.com", "--name", "Root"},
                          "correct horse battery\n");
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(Contains(r.output, "created superuser root@example.com"));
  r = admin({"create-superuser", "--email", "root@example.com"}, "something else entirely\n");
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(Contains(r.output, "already exists"));
  // Never from argv, where other users can read it.
  r = admin({"create-superuser", "--email", "two@example.com", "--password", "hunter22hunter"});
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.output, "never taken from the command line"));
  fs::path password_file = dir.parent_path() / "pw";
  std::ofstream(password_file) << "another good password\n";
  r = admin({"create-superuser", "--email", "two@example.com", "--password-file",
             password_file.string()});
  CHECK_MESSAGE(r.exit_code == 0, r.output);

  // Tenants, acting as a named superuser (there are two now).
  r = admin({"create-tenant", "--slug", "acme", "--name", "Acme"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "--as"));
  for (const char* slug : {"acme", "globex"}) {
    r = admin({"create-tenant", "--slug", slug, "--name", "A tenant", "--as", "root@example.com",
               "--time-zone", "Europe/London"});
    CHECK_MESSAGE(r.exit_code == 0, r.output);
    CHECK(Contains(r.output, "created tenant"));
  }
  r = admin({"create-tenant", "--slug", "ACME", "--name", "Again", "--as", "root@example.com"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(Contains(r.output, "already exists"));

  // Migrations: all, twice; one tenant; the shared database alone.
  for (int i = 0; i < 2; ++i) {
    r = admin({"migrate"});
    CHECK_MESSAGE(r.exit_code == 0, r.output);
    CHECK(Contains(r.output, "tenant 'acme': at version"));
    CHECK(Contains(r.output, "tenant 'globex': at version"));
  }
  r = admin({"migrate", "--tenant", "acme"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(!Contains(r.output, "globex"));
  CheckSharedMigrateUnknownTenantAndCleanCheck(admin);

  // What the tool made works through the library: the superuser logs in with the password
  // given on stdin, and the tenants are there.
  {
    auto storage = std::shared_ptr<Storage>(Must(OpenStorage(admin.url)));
    auto platform = Must(Platform::Open({.storage = storage}));
    CHECK(platform->Login({.is_platform = true}, "root@example.com", "correct horse battery",
                          "127.0.0.1")
              .ok());
    auto txn = Must(storage->BeginShared(TxnMode::kRead));
    CHECK(Must(txn->ListTenants()).size() == 2);
  }

  // A migration that cannot apply: the failure names the tenant and the migration, and
  // check reports the tenant behind on migrations.
  Exec(dir / "tenant_acme.db", "DELETE FROM schema_migrations WHERE version = 2");
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "tenant 'acme': migrations not applied: 2"));
  r = admin({"migrate"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "tenant 'acme': migration 2 'index_appointments_and_holds' failed"));
  CHECK(!Contains(r.output, "tenant 'globex': at version"));  // stopped at the first failure
  Exec(dir / "tenant_acme.db",
       "INSERT INTO schema_migrations (version, name, applied_at) "
       "VALUES (2, 'index_appointments_and_holds', 0)");
  r = admin({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': integrity ok, schema version"), r.output);
  CHECK(Contains(r.output, "no booking above capacity"));

  // Bookings put in by hand on a capacity-1 chair: two overlap from 00:30 to 01:00. A
  // cancelled one over them does not count, nor does one starting as another ends (01:30).
  Exec(dir / "tenant_acme.db",
       "INSERT INTO resources VALUES (9001, 'Chair', 'staff', 1, 'UTC', NULL, 1, '{}', 0, 0)");
  Exec(dir / "tenant_acme.db", HandMadeAppointments("appointments", {{9002, 0, 3600, "confirmed"},
                                                                     {9003, 1800, 5400, "pending"},
                                                                     {9004, 0, 7200, "cancelled"},
                                                                     {9005, 5400, 7200, "confirmed"}}));
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': bookings above capacity at 1 moment; the first: "
                                   "resource 9001 at 1970-01-01T00:30:00Z, 2 bookings for a "
                                   "capacity of 1"),
                r.output);
  Exec(dir / "tenant_acme.db", "DELETE FROM appointments WHERE id = 9003");
  r = admin({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  Exec(dir / "tenant_acme.db",
       "DELETE FROM appointments WHERE id >= 9002; DELETE FROM resources WHERE id = 9001");

  // A tenant's file gone: check fails and names the tenant; so does migrate.
  for (const char* suffix : {"", "-wal", "-shm"})
    fs::remove(dir / (std::string("tenant_globex.db") + suffix));
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "tenant 'globex'"));
  CHECK(Contains(r.output, "tenant_globex.db is missing"));
  CHECK(Contains(r.output, "1 problem"));
  r = admin({"migrate"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "tenant 'globex'"));

  // A stray tenant file without a row is a problem too.
  std::ofstream(dir / "tenant_ghost.db") << "";
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "tenant_ghost.db: a tenant data file with no tenant row"));
}

// Runs `sql` on the database of `conninfo` (not the fixture's admin database).
void PgExec(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  REQUIRE_MESSAGE(PQstatus(conn) == CONNECTION_OK, PQerrorMessage(conn));
  PGresult* r = PQexec(conn, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string error = ok ? "" : PQerrorMessage(conn);
  PQclear(r);
  PQfinish(conn);
  REQUIRE_MESSAGE(ok, "'" << sql << "' failed: " << error);
}

// On PostgreSQL (the _postgresql run): the same story with a schema per tenant.
// Skipped in the other runs, which the SQLite story above covers.
TEST_CASE("smooth-admin on PostgreSQL: migrates idempotently, checks, and names what is broken" *
          doctest::skip(TestStorageKind() != "postgresql")) {
  Admin admin{.url = NewPgDatabase()};
  CommandResult r = admin({"create-superuser", "--email", "root@example.com"},
                          "correct horse battery\n");
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  for (const char* slug : {"acme", "globex"}) {
    r = admin({"create-tenant", "--slug", slug, "--name", "A tenant"});
    CHECK_MESSAGE(r.exit_code == 0, r.output);
    CHECK(Contains(r.output, "created tenant"));
  }
  for (const char* slug : {"acme", "ACME"}) {
    r = admin({"create-tenant", "--slug", slug, "--name", "Acme"});
    CHECK_MESSAGE(r.exit_code == 0, r.output);
    CHECK_MESSAGE(Contains(r.output, "already exists"), r.output);
  }

  // Migrations: all, twice; one tenant; the shared database alone.
  for (int i = 0; i < 2; ++i) {
    r = admin({"migrate"});
    CHECK_MESSAGE(r.exit_code == 0, r.output);
    CHECK(Contains(r.output, "shared database: at version"));
    CHECK(Contains(r.output, "tenant 'acme': at version 10"));
    CHECK(Contains(r.output, "tenant 'globex': at version 10"));
  }
  r = admin({"migrate", "--tenant", "ACME"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(Contains(r.output, "tenant 'acme': at version"));
  CHECK(!Contains(r.output, "globex"));
  CheckSharedMigrateUnknownTenantAndCleanCheck(admin);

  // What the tool did leaves the storage usable through the library.
  {
    auto storage = std::shared_ptr<Storage>(Must(OpenStorage(admin.url)));
    auto txn = Must(storage->BeginShared(TxnMode::kRead));
    CHECK(Must(txn->ListTenants()).size() == 2);
  }

  // A migration that cannot apply: the failure names the tenant and the migration, and
  // check reports the tenant behind on migrations.
  PgExec(admin.url, "DELETE FROM tenant_acme.schema_migrations WHERE version = 2");
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': migrations not applied: 2"), r.output);
  r = admin({"migrate"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': migration 2 'appointment_occupancy' failed"),
                r.output);
  CHECK(!Contains(r.output, "tenant 'globex': at version"));  // stopped at the first failure
  PgExec(admin.url,
         "INSERT INTO tenant_acme.schema_migrations (version, name, applied_at) "
         "VALUES (2, 'appointment_occupancy', 0)");
  r = admin({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "no booking above capacity, occupancy rows agree"), r.output);

  // Bookings put in by hand: three at once in a room for two (the EXCLUDE constraint keeps
  // capacity-1 resources only), then an occupancy row taken away.
  PgExec(admin.url, "INSERT INTO tenant_acme.resources VALUES "
                    "(9001, 'Room', 'room', 2, 'UTC', NULL, 1, '{}', 0, 0)");
  PgExec(admin.url,
         HandMadeAppointments("tenant_acme.appointments", {{9002, 0, 3600, "confirmed"},
                                                           {9003, 1800, 5400, "pending"},
                                                           {9004, 900, 2700, "confirmed"},
                                                           {9005, 0, 7200, "cancelled"}}));
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': bookings above capacity at 1 moment; the first: "
                                   "resource 9001 at 1970-01-01T00:30:00Z, 3 bookings for a "
                                   "capacity of 2"),
                r.output);
  CHECK(!Contains(r.output, "occupancy rows disagree"));
  PgExec(admin.url, "DELETE FROM tenant_acme.appointments WHERE id = 9004;"
                    "DELETE FROM tenant_acme.appointment_occupancy WHERE appointment_id = 9002");
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': occupancy rows disagree with the appointments: "
                                   "1 missing or different, 1 that no appointment calls for"),
                r.output);
  CHECK(!Contains(r.output, "bookings above capacity"));
  PgExec(admin.url, "DELETE FROM tenant_acme.appointments WHERE id >= 9002;"
                    "DELETE FROM tenant_acme.appointment_occupancy WHERE appointment_id >= 9002;"
                    "DELETE FROM tenant_acme.resources WHERE id = 9001");
  r = admin({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);

  // A schema whose tenant_meta names another tenant.
  PgExec(admin.url, "UPDATE tenant_acme.tenant_meta SET tenant_id = tenant_id + 1");
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': schema tenant_acme does not belong"), r.output);
  PgExec(admin.url, "UPDATE tenant_acme.tenant_meta SET tenant_id = tenant_id - 1");
  r = admin({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);

  // A tenant's schema gone: check fails and names the tenant; so does migrate.
  PgExec(admin.url, "DROP SCHEMA tenant_globex CASCADE");
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.output, "tenant 'globex'"));
  CHECK_MESSAGE(Contains(r.output, "schema tenant_globex is missing"), r.output);
  CHECK(Contains(r.output, "1 problem"));
  r = admin({"migrate"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'globex'"), r.output);

  // A stray tenant schema without a row is a problem too.
  PgExec(admin.url, "CREATE SCHEMA tenant_ghost");
  r = admin({"check"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "schema tenant_ghost: a tenant schema with no tenant row"),
                r.output);
}

TEST_CASE("smooth-admin create-superuser is idempotent for an email written with capitals") {
  fs::path dir = fs::path(NewTempDir()) / "data";
  Admin admin{.url = "sqlite:" + dir.string()};
  CommandResult r = admin({"create-superuser", "--email", "Root@Example.com", "--name", "Root"},
                          "correct horse battery\n");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  // The same command again: the superuser exists (stored as root@example.com), nothing to do.
  r = admin({"create-superuser", "--email", "Root@Example.com", "--name", "Root"},
            "correct horse battery\n");
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "already exists"), r.output);
  // And --as finds it written the way it was given.
  r = admin({"create-tenant", "--slug", "acme", "--name", "Acme", "--as", "Root@Example.com"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
}

TEST_CASE("smooth-admin refuses an email that is not one, and a memory: storage, with status 1") {
  Admin admin{.url = "sqlite:" + NewTempDir()};
  CommandResult r = admin({"create-superuser", "--email", "root.example.com"}, "correct horse\n");
  CHECK_MESSAGE(r.exit_code == 1, r.output);
  CHECK_MESSAGE(Contains(r.output, "--email"), r.output);
  r = admin({"create-tenant", "--slug", "acme", "--name", "Acme", "--as", "root"});
  CHECK_MESSAGE(r.exit_code == 1, r.output);
  CHECK_MESSAGE(Contains(r.output, "--as"), r.output);
  // memory: would keep nothing past the command, whatever the command.
  Admin memory{.url = "memory:"};
  const std::vector<std::vector<std::string>> commands = {
      {"migrate"}, {"check"}, {"create-tenant", "--slug", "a", "--name", "A"}};
  for (const std::vector<std::string>& command : commands) {
    r = memory(command);
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(Contains(r.output, "memory:"), r.output);
  }
  CHECK_FALSE(Contains(RunCommand({AdminBinary(), "--help"}).output, "memory:"));
}

TEST_CASE("smooth-admin refuses bad usage with exit status 2") {
  Admin admin{.url = "sqlite:" + NewTempDir()};
  CHECK(admin({"frobnicate"}).exit_code == 2);
  CHECK(admin({"migrate", "--shared", "--tenant", "x"}).exit_code == 2);
  CHECK(admin({"create-tenant", "--slug", "x"}).exit_code == 2);
  CommandResult help = RunCommand({AdminBinary(), "--help"});
  CHECK(help.exit_code == 0);
  CHECK(Contains(help.output, "migrate --tenant SLUG"));
  // Help after a command is help too, and does nothing else: no storage is made.
  for (const char* command : {"migrate", "create-tenant", "create-superuser", "check"}) {
    CommandResult after = admin({command, "--help"});
    CHECK_MESSAGE(after.exit_code == 0, command << ": " << after.output);
    CHECK_MESSAGE(Contains(after.output, "migrate --tenant SLUG"), command);
  }
  CHECK(admin({"migrate", "-h"}).exit_code == 0);
  CHECK_FALSE(fs::exists(admin.url.substr(std::string("sqlite:").size()) + "/shared.db"));
}

TEST_CASE("smooth-admin refuses a repeated option or a missing value with exit status 2") {
  fs::path dir = NewTempDir();
  Admin admin{.url = "sqlite:" + dir.string()};
  // Not in the data directory: libsmooth installs only into an empty one.
  const fs::path pw = fs::path(NewTempDir()) / "pw";
  std::ofstream(pw) << "correct horse battery\n";
  REQUIRE(admin({"create-superuser", "--email", "root@example.com", "--password-file", pw.string()})
              .exit_code == 0);
  // Which of two values was meant is not for the tool to guess.
  CommandResult r = admin({"create-tenant", "--slug", "acme", "--slug", "globex", "--name", "X"});
  CHECK_MESSAGE(r.exit_code == 2, r.output);
  CHECK_MESSAGE(Contains(r.output, "--slug given twice"), r.output);
  CHECK_FALSE(fs::exists(dir / "tenant_globex.db"));
  CHECK_FALSE(fs::exists(dir / "tenant_acme.db"));
  r = admin({"migrate", "--tenant", "a", "--tenant", "b"});
  CHECK_MESSAGE(r.exit_code == 2, r.output);
  r = RunCommand({AdminBinary(), "--storage", admin.url, "--storage", "sqlite:elsewhere", "check"});
  CHECK_MESSAGE(r.exit_code == 2, r.output);
  CHECK_MESSAGE(Contains(r.output, "--storage given twice"), r.output);
  // An option where a value should be is a missing value, not the value.
  r = admin({"migrate", "--tenant", "--shared"});
  CHECK_MESSAGE(r.exit_code == 2, r.output);
  CHECK_MESSAGE(Contains(r.output, "--tenant needs a value"), r.output);
  r = admin({"create-superuser", "--email", "--name", "Root"}, "correct horse battery\n");
  CHECK_MESSAGE(r.exit_code == 2, r.output);
  CHECK_MESSAGE(Contains(r.output, "--email needs a value"), r.output);
}

TEST_CASE("smooth-admin names the password file it cannot read") {
  fs::path dir = NewTempDir();
  Admin admin{.url = "sqlite:" + dir.string()};
  for (const fs::path& file : {dir / "missing", dir}) {
    CAPTURE(file);
    CommandResult r = admin(
        {"create-superuser", "--email", "root@example.com", "--password-file", file.string()});
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(Contains(r.output, "--password-file: cannot read " + file.string()), r.output);
  }
}

// Runs the tool on a new pseudo-terminal, types `typed` once it prompts, and returns all it
// showed on the terminal.
// Runs `argv` on a new pseudo-terminal, types `typed` at its password prompt, and returns
// what the terminal showed; `echo_after`, if given, says whether the terminal echoes once
// the command has ended.
std::string RunOnTerminal(const std::vector<std::string>& argv, const std::string& typed,
                          bool* echo_after = nullptr) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  REQUIRE(master >= 0);
  REQUIRE(grantpt(master) == 0);
  REQUIRE(unlockpt(master) == 0);
  const std::string slave_name = ptsname(master);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setsid();
    int slave = open(slave_name.c_str(), O_RDWR);
    if (slave < 0) _exit(127);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    close(master);
    execv(args[0], args.data());
    _exit(127);
  }
  std::string shown;
  bool sent = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[512];
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;  // the child has gone and closed the terminal
      shown.append(buf, static_cast<std::size_t>(n));
    }
    if (!sent && Contains(shown, "password: ")) {
      REQUIRE(write(master, typed.data(), typed.size()) == static_cast<ssize_t>(typed.size()));
      sent = true;
    }
  }
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == 0) {  // still waiting for input: a failure
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (echo_after != nullptr) {
    // The settings belong to the terminal, which lives while its master side is open.
    int slave = open(slave_name.c_str(), O_RDWR | O_NOCTTY);
    REQUIRE(slave >= 0);
    termios now{};
    REQUIRE(tcgetattr(slave, &now) == 0);
    *echo_after = (now.c_lflag & ECHO) != 0;
    close(slave);
  }
  close(master);
  CHECK_MESSAGE(sent, shown);
  return shown;
}

TEST_CASE("smooth-admin does not show a password typed at a terminal") {
  Admin admin{.url = "sqlite:" + NewTempDir()};
  std::string shown = RunOnTerminal(
      {admin.binary, "--storage", admin.url, "create-superuser", "--email", "root@example.com"},
      "correct horse battery\n");
  CHECK_MESSAGE(Contains(shown, "created superuser root@example.com"), shown);
  CHECK_MESSAGE(!Contains(shown, "correct horse"), shown);
  // And the password typed is the one stored.
  auto storage = std::shared_ptr<Storage>(Must(OpenStorage(admin.url)));
  auto platform = Must(Platform::Open({.storage = storage}));
  CHECK(platform
            ->Login({.is_platform = true}, "root@example.com", "correct horse battery", "127.0.0.1")
            .ok());
}

TEST_CASE("smooth-admin interrupted at the password prompt gives the terminal its echo back") {
  Admin admin{.url = "sqlite:" + NewTempDir()};
  bool echo = false;
  // Ctrl-C, as a user typing at the prompt would send it: the terminal makes it SIGINT.
  RunOnTerminal(
      {admin.binary, "--storage", admin.url, "create-superuser", "--email", "root@example.com"},
      "\x03", &echo);
  CHECK(echo);
  // No superuser was created.
  auto storage = std::shared_ptr<Storage>(Must(OpenStorage(admin.url)));
  auto found =
      Must(storage->BeginShared(TxnMode::kRead))->FindUserByEmail(std::nullopt, "root@example.com");
  CHECK(found.error().code() == StatusCode::kNotFound);
}

TEST_CASE("smooth-admin set-password: the way back in when a password is lost") {
  Admin admin{.url = "sqlite:" + NewTempDir()};
  REQUIRE(admin({"create-superuser", "--email", "root@example.com"}, "first passphrase\n")
              .exit_code == 0);
  REQUIRE(admin({"create-tenant", "--slug", "acme", "--name", "Acme"}).exit_code == 0);
  auto storage = std::shared_ptr<Storage>(Must(OpenStorage(admin.url)));
  auto platform = Must(Platform::Open({.storage = storage,
                                       .password_cost = PasswordCost::InsecureForTests()}));
  Session before = Must(
      platform->Login({.is_platform = true}, "root@example.com", "first passphrase", "::1"));
  Principal root = Must(platform->ActAs(before.user));
  Tenant acme = Must(platform->ResolveHost("acme.lvh.me")).tenant.value();
  Must(platform->CreateUser(root, {.email = "owner@acme.test", .display_name = "Owner",
                                   .role = Role::kTenantOwner, .tenant = acme.id,
                                   .password = "owner passphrase"}));

  CommandResult r =
      admin({"set-password", "--email", "Root@Example.com"}, "second passphrase\n");
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(platform->Login({.is_platform = true}, "root@example.com", "second passphrase", "::1"));
  CHECK_FALSE(platform->Login({.is_platform = true}, "root@example.com", "first passphrase", "::1"));
  CHECK(platform->Authenticate(before.id).error().code() == StatusCode::kUnauthenticated);
  // A tenant's user, found in that tenant.
  r = admin({"set-password", "--email", "owner@acme.test", "--tenant", "acme"}, "owner anew 123\n");
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  HostMatch at_acme{.is_platform = false, .tenant = acme};
  CHECK(platform->Login(at_acme, "owner@acme.test", "owner anew 123", "::1"));
  // Nobody by that name, a tenant that does not exist, a password too short: status 1,
  // named, nothing changed.
  r = admin({"set-password", "--email", "owner@acme.test"}, "not among the platform\n");
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "no user owner@acme.test"), r.output);
  r = admin({"set-password", "--email", "owner@acme.test", "--tenant", "nope"}, "whatever 1234\n");
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "--tenant: no tenant nope"), r.output);
  r = admin({"set-password", "--email", "root@example.com"}, "short\n");
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "new_password"), r.output);
  CHECK(platform->Login({.is_platform = true}, "root@example.com", "second passphrase", "::1"));
  CHECK(admin({"set-password"}).exit_code == 2);
}

// A data directory made by smooth-admin with the superuser root@example.com, and a Platform
// on it whose clock starts 20 days ago (smooth-admin runs on the real clock), for sessions
// that clear-sessions finds old.
struct AgedStorage {
  Admin admin{.url = "sqlite:" + NewTempDir()};
  std::shared_ptr<Storage> storage;
  ManualClock clock{SystemClock::Default().Now() - std::chrono::days(20)};
  std::unique_ptr<Platform> platform;

  AgedStorage() {
    REQUIRE(admin({"create-superuser", "--email", "root@example.com"}, "first passphrase\n")
                .exit_code == 0);
    storage = Must(OpenStorage(admin.url));
    platform = Must(Platform::Open(
        {.storage = storage, .clock = &clock, .password_cost = PasswordCost::InsecureForTests()}));
  }
};

TEST_CASE("smooth-admin clear-sessions deletes the dead sessions, by the lifetime it is given") {
  AgedStorage aged;
  const Admin& admin = aged.admin;
  std::shared_ptr<Storage>& storage = aged.storage;
  ManualClock& clock = aged.clock;
  Platform* platform = aged.platform.get();
  // Logins made 20 days ago (this clock), and one now: the tool runs on the real clock.
  auto login = [&] {
    return Must(
        platform->Login({.is_platform = true}, "root@example.com", "first passphrase", "::1"));
  };
  Session old = login();
  Session logged_out = login();
  Must(platform->Logout(logged_out.id));
  clock.Set(SystemClock::Default().Now());
  Session current = login();
  auto left = [&] {
    auto txn = Must(storage->BeginShared(TxnMode::kRead));
    std::vector<SessionId> ids;
    for (const Session& s : Must(txn->ListSessions())) ids.push_back(s.id);
    return ids;
  };

  // A 30-day lifetime keeps the 20-day-old login; the ended one goes whatever the lifetime.
  fs::path log = fs::path(NewTempDir()) / "security.log";
  CommandResult r = RunCommand({admin.binary, "--storage", admin.url, "--security-log",
                                log.string(), "clear-sessions", "--session-lifetime-days", "30"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "cleared 1 session\n"), r.output);
  CHECK(left() == std::vector<SessionId>{old.id, current.id});
  // The default, 14 days, takes the old login; what is live stays, and works.
  r = admin({"clear-sessions"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "cleared 1 session\n"), r.output);
  CHECK(left() == std::vector<SessionId>{current.id});
  CHECK(platform->Authenticate(current.id));
  r = admin({"clear-sessions"});
  CHECK_MESSAGE(Contains(r.output, "cleared 0 sessions\n"), r.output);
  // The first run was audited.
  std::ifstream in(log);
  std::string line;
  REQUIRE(std::getline(in, line));
  auto record = ParseLine(line);
  CHECK(record.at("action").as_string() == "SESSIONS_CLEARED");
  CHECK(record.at("count").as_int64() == 1);
  // A lifetime that is not a whole number of days from 1 to 3650 is bad usage, named.
  for (const char* bad : {"0", "3651", "14.5", "x", "-1"}) {
    CAPTURE(bad);
    r = admin({"clear-sessions", "--session-lifetime-days", bad});
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(Contains(r.output, "--session-lifetime-days"), r.output);
  }
  CHECK(left() == std::vector<SessionId>{current.id});
}

TEST_CASE("smooth-admin clear-sessions ends an open masquerade in --masquerade-log") {
  AgedStorage aged;
  const Admin& admin = aged.admin;
  Platform* platform = aged.platform.get();
  // A masquerade started 20 days ago (this clock) from a login that has expired since.
  Session root =
      Must(platform->Login({.is_platform = true}, "root@example.com", "first passphrase", "::1"));
  User support = Must(platform->CreateUser(Must(platform->Authenticate(root.id)),
                                           {.email = "support@example.com",
                                            .display_name = "Support",
                                            .role = Role::kPlatformSupport,
                                            .password = "second passphrase"}));
  Session m = Must(platform->StartMasquerade(root.id, support.id, "198.51.100.4"));

  fs::path log = fs::path(NewTempDir()) / "masquerade.log";
  CommandResult r = admin({"--masquerade-log", log.string(), "clear-sessions"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "cleared 2 sessions\n"), r.output);
  CHECK((fs::status(log).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 1);
  auto end = ParseLine(lines.front());
  CHECK(end.at("action").as_string() == "HIJACK_END");
  CHECK(end.at("hijacker_email").as_string() == "root@example.com");
  CHECK(end.at("hijacked_email").as_string() == "support@example.com");
  CHECK(end.at("ip_address").as_string() == "198.51.100.4");
  CHECK(end.at("session_key").as_string() == m.session_key);
  CHECK(end.at("reason").as_string() == "original session expired");
}

// A command line, for a message.
std::string Joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

TEST_CASE("smooth-admin --masquerade-log is created only by the commands that end masquerades") {
  Admin admin{.url = "sqlite:" + NewTempDir()};
  const fs::path log = fs::path(NewTempDir()) / "masquerade.log";
  auto with_log = [&](std::vector<std::string> command) {
    command.insert(command.begin(), {"--masquerade-log", log.string()});
    INFO(Joined(command));
    CommandResult r = admin(command, "first passphrase\n");
    CHECK_MESSAGE(r.exit_code == 0, r.output);
  };
  const std::vector<std::vector<std::string>> others = {
      {"create-superuser", "--email", "root@example.com"},
      {"create-tenant", "--slug", "acme", "--name", "Acme"},
      {"set-password", "--email", "root@example.com"},
      {"migrate"},
      {"check"},
      {"backup", "--to", (fs::path(NewTempDir()) / "backup").string()}};
  for (const std::vector<std::string>& command : others) {
    with_log(command);
    CHECK_MESSAGE(!fs::exists(log), command[0]);
  }
  with_log({"clear-sessions"});
  CHECK(fs::exists(log));
  fs::remove(log);
  with_log({"delete-tenant", "--slug", "acme", "--confirm", "acme"});
  CHECK(fs::exists(log));
}

TEST_CASE("smooth-admin leaves a data directory that does not exist alone when it cannot succeed") {
  // A mistyped --storage: neither command can succeed there, and neither may leave a new,
  // empty storage behind for the next command to take for the real one.
  fs::path dir = fs::path(NewTempDir()) / "typo";
  Admin admin{.url = "sqlite:" + dir.string()};
  const std::vector<std::vector<std::string>> commands = {
      {"create-tenant", "--slug", "acme", "--name", "Acme"},
      {"migrate", "--tenant", "acme"},
      {"delete-tenant", "--slug", "acme", "--confirm", "acme"},
      {"set-password", "--email", "root@example.com"},
      {"clear-sessions"}};
  for (const std::vector<std::string>& command : commands) {
    INFO(Joined(command));
    CommandResult r = admin(command, "correct horse battery\n");
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(Contains(r.output, "no storage in " + dir.string()), r.output);
    CHECK_FALSE(fs::exists(dir));
  }

  // On PostgreSQL the database must exist to be named at all; an empty one (a mistyped
  // dbname that happens to exist, or one made for libsmooth but not set up yet) is left
  // empty, without libsmooth's tables or the btree_gist extension.
  if (TestStorageKind() != "postgresql") return;
  Admin pg{.url = NewPgDatabase()};
  const std::string name = PgQuery(pg.url, "SELECT current_database()").at(0).at(0);
  for (const std::vector<std::string>& command : commands) {
    INFO(Joined(command));
    CommandResult r = pg(command, "correct horse battery\n");
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(Contains(r.output, "no storage in database '" + name + "'"), r.output);
  }
  CHECK(PgQuery(pg.url,
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE n.nspname = 'public'")
            .empty());
  CHECK(PgQuery(pg.url, "SELECT extname FROM pg_extension WHERE extname = 'btree_gist'").empty());
}

std::set<std::string> Names(const fs::path& dir) {
  std::set<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir))
    names.insert(entry.path().filename().string());
  return names;
}

std::string FileContents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE(
    "smooth-admin refuses a directory or a database that is not libsmooth's, changing nothing") {
  // A --storage that names an existing directory of something else: every command that
  // would install libsmooth there fails, naming it, and nothing is made in it.
  const fs::path dir = NewTempDir();
  std::ofstream(dir / "orders.csv") << "not ours\n";
  Admin admin{.url = "sqlite:" + dir.string()};
  const std::vector<std::vector<std::string>> commands = {
      {"migrate"}, {"migrate", "--shared"}, {"create-superuser", "--email", "root@example.com"}};
  for (const std::vector<std::string>& command : commands) {
    INFO(Joined(command));
    CommandResult r = admin(command, "correct horse battery\n");
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(Contains(r.output, "sqlite data directory '" + dir.string() +
                                         "': not a libsmooth data directory (it holds orders.csv"),
                  r.output);
  }
  CHECK(admin({"check"}).exit_code == 1);
  std::set<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir))
    names.insert(entry.path().filename().string());
  CHECK(names == std::set<std::string>{"orders.csv"});

  // Another program's SQLite database under libsmooth's file name.
  const fs::path other = NewTempDir();
  const fs::path shared = other / "shared.db";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(shared.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE orders (id INTEGER)", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(db);
  }
  const std::string before = FileContents(shared);
  Admin foreign{.url = "sqlite:" + other.string()};
  const std::string refusal = "sqlite shared database '" + shared.string() +
                              "': not a libsmooth database (it holds table orders, and no "
                              "libsmooth version table schema_migrations)";
  for (const std::vector<std::string>& command : commands) {
    INFO(Joined(command));
    CommandResult r = foreign(command, "correct horse battery\n");
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(Contains(r.output, refusal), r.output);
  }
  CommandResult checked = foreign({"check"});
  CHECK_MESSAGE(checked.exit_code == 1, checked.output);
  CHECK_MESSAGE(Contains(checked.output, refusal), checked.output);
  CHECK(FileContents(shared) == before);
  CHECK(Names(other) == std::set<std::string>{"shared.db"});

  if (TestStorageKind() != "postgresql") return;
  Admin pg{.url = NewPgDatabase()};
  PgExec(pg.url, "CREATE TABLE orders (id int)");
  for (const std::vector<std::string>& command : commands) {
    INFO(Joined(command));
    CommandResult r = pg(command, "correct horse battery\n");
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(Contains(r.output,
                           "not a libsmooth database (it holds public.orders, and no "
                           "libsmooth version table"),
                  r.output);
  }
  CommandResult pg_checked = pg({"check"});
  CHECK_MESSAGE(pg_checked.exit_code == 1, pg_checked.output);
  CHECK_MESSAGE(Contains(pg_checked.output,
                         "not a libsmooth database (it holds public.orders, and no libsmooth "
                         "version table"),
                pg_checked.output);
  CHECK(PgQuery(pg.url,
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE n.nspname = 'public'") ==
        std::vector<std::vector<std::string>>{{"orders"}});
  CHECK(PgQuery(pg.url, "SELECT extname FROM pg_extension WHERE extname = 'btree_gist'").empty());
}

TEST_CASE("smooth-admin check names another framework's shared.db, whatever its versions say") {
  // Rails keeps schema_migrations with one text column of timestamps; check read those as
  // libsmooth's version numbers before it asked whose the file is. In WAL mode, as many
  // programs keep theirs, and left without a -wal or -shm file beside it.
  const fs::path dir = NewTempDir();
  const fs::path shared = dir / "shared.db";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(shared.c_str(), &db) == SQLITE_OK);
    REQUIRE(
        sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; "
                     "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY); "
                     "INSERT INTO schema_migrations VALUES ('20240101120000'), ('not a number')",
                     nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  REQUIRE(Names(dir) == std::set<std::string>{"shared.db"});
  const std::string before = FileContents(shared);
  Admin admin{.url = "sqlite:" + dir.string()};
  CommandResult checked = admin({"check"});
  CHECK_MESSAGE(checked.exit_code == 1, checked.output);
  CHECK_MESSAGE(Contains(checked.output, "sqlite shared database '" + shared.string() +
                                             "': not a libsmooth database (it holds table "
                                             "schema_migrations, and no libsmooth version table"),
                checked.output);
  CommandResult migrated = admin({"migrate"});
  CHECK_MESSAGE(migrated.exit_code == 1, migrated.output);
  CHECK_MESSAGE(Contains(migrated.output, "not a libsmooth database"), migrated.output);
  CHECK(FileContents(shared) == before);
  CHECK(Names(dir) == std::set<std::string>{"shared.db"});
}

// --- backup ---

// What a booking in a tenant needs: a room open around the clock, a service on it and a
// customer.
struct BookingSetup {
  TenantId tenant;
  ServiceId service;
  CustomerId customer;
};

BookingSetup SetUpBookings(Stack& s, const Principal& me, TenantId tenant, int capacity = 1) {
  Resource room = Must(s.scheduler->CreateResource(
      me, tenant,
      {.name = "Room", .kind = ResourceKind::kRoom, .capacity = capacity, .hours = AlwaysOpen()}));
  Service service =
      Must(s.scheduler->CreateService(me, tenant,
                                      {.name = "Hour",
                                       .duration = std::chrono::minutes(60),
                                       .requirements = {ResourceRequirement{{room.id}}}}));
  Customer pat = Must(s.scheduler->CreateCustomer(me, tenant, {.name = "Pat"}));
  return {tenant, service.id, pat.id};
}

// Books the hour starting `hours` after a day past the clock.
Appointment BookAt(Stack& s, const Principal& me, const BookingSetup& b, int hours) {
  return Must(
      s.scheduler->Book(me, b.tenant,
                        {.service = b.service,
                         .customer = b.customer,
                         .start = T0() + std::chrono::hours(24) + std::chrono::hours(hours)}));
}

// A tenant's appointments of the next year, one line each, in start order.
std::vector<std::string> AppointmentLines(Stack& s, const Principal& me, TenantId tenant) {
  std::vector<std::string> lines;
  for (const Appointment& a :
       Must(s.scheduler->ListAppointments(me, tenant, T0(), T0() + std::chrono::days(366))))
    lines.push_back(fmt::format("{} {} {}", a.id.value(), FormatRfc3339(a.start),
                                AppointmentStatusName(a.status)));
  return lines;
}

// The files in `dir` and what each holds.
std::map<std::string, std::string> DirectoryContents(const fs::path& dir) {
  std::map<std::string, std::string> contents;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    contents[entry.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return contents;
}

fs::perms Mode(const fs::path& path) { return fs::status(path).permissions() & fs::perms::mask; }

// The largest id in a tenant file's tables whose ids come from shared.db's object_ids.
long long LargestTenantId(const fs::path& file) {
  auto rows = SqliteQuery(file.string(),
                          "SELECT MAX(id) FROM (SELECT id FROM resources UNION ALL SELECT id "
                          "FROM services UNION ALL SELECT id FROM customers UNION ALL SELECT id "
                          "FROM appointments UNION ALL SELECT id FROM holds)");
  return std::stoll(rows.at(0).at(0));
}

long long Counter(const fs::path& shared, const std::string& table) {
  return std::stoll(SqliteQuery(shared.string(), "SELECT next FROM " + table).at(0).at(0));
}

TEST_CASE(
    "smooth-admin backup copies a storage in use into a directory that opens as the same "
    "storage") {
  const fs::path dir = fs::path(NewTempDir()) / "data";
  Admin admin{.url = "sqlite:" + dir.string()};
  Stack s = OpenStack(admin.url);  // open throughout, as a server would be
  User root =
      Must(s.platform->CreateSuperuser("root@example.com", "Root", "correct horse battery"));
  Principal me = Must(s.platform->ActAs(root.id));
  std::map<std::string, std::vector<std::string>> booked;  // by slug
  for (const char* slug : {"acme", "globex"}) {
    Tenant t = Must(s.platform->CreateTenant(me, {.slug = slug, .name = slug}));
    BookingSetup b = SetUpBookings(s, me, t.id);
    for (int hour : {0, 1, 5}) BookAt(s, me, b, hour);
    Must(s.scheduler->Cancel(me, t.id, BookAt(s, me, b, 7).id));
    booked[slug] = AppointmentLines(s, me, t.id);
    REQUIRE(booked[slug].size() == 4);
  }

  const fs::path out = fs::path(NewTempDir()) / "backup";
  CommandResult r = admin({"backup", "--to", out.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "shared database: shared.db, "), r.output);
  CHECK_MESSAGE(Contains(r.output, "tenant 'acme': tenant_acme.db, "), r.output);
  CHECK_MESSAGE(Contains(r.output, "tenant 'globex': tenant_globex.db, "), r.output);
  CHECK_MESSAGE(Contains(r.output, "backed up shared.db and 2 tenants to " + out.string()),
                r.output);

  // Plain database files and nothing else, readable by their owner only.
  CHECK(Names(out) == std::set<std::string>{"shared.db", "tenant_acme.db", "tenant_globex.db"});
  CHECK(Mode(out) == fs::perms::owner_all);
  for (const char* file : {"shared.db", "tenant_acme.db", "tenant_globex.db"}) {
    CAPTURE(file);
    CHECK(Mode(out / file) == (fs::perms::owner_read | fs::perms::owner_write));
  }

  Admin copy{.url = "sqlite:" + out.string()};
  r = copy({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "3 checked, 0 problems"), r.output);

  // The copy is the same storage: its tenants, their appointments, the superuser's password.
  Stack restored = OpenStack(copy.url);
  Principal me_there = Must(restored.platform->ActAs(root.id));
  std::vector<std::string> slugs;
  for (const Tenant& t : Must(restored.platform->ListTenants(me_there))) {
    slugs.push_back(t.slug);
    CHECK_MESSAGE(AppointmentLines(restored, me_there, t.id) == booked.at(t.slug), t.slug);
  }
  CHECK(slugs == std::vector<std::string>{"acme", "globex"});
  CHECK(restored.platform->Login({.is_platform = true}, "root@example.com", "correct horse battery",
                                 "::1"));
}

// A SQLite storage in use, as the backup tests take it: a superuser, and tenant acme with
// one booking.
struct BackupSource {
  std::string url = "sqlite:" + NewTempDir();
  Stack s = OpenStack(url);
  User root =
      Must(s.platform->CreateSuperuser("root@example.com", "Root", "correct horse battery"));
  Principal me = Must(s.platform->ActAs(root.id));
  Tenant acme = Must(s.platform->CreateTenant(me, {.slug = "acme", .name = "Acme"}));
  BookingSetup b = SetUpBookings(s, me, acme.id);
  BackupSource() { BookAt(s, me, b, 0); }
};

// Opens the backup in `out`, whose only tenant must be acme, once `check` passes on it:
// the restored stack and `root` acting in it.
std::pair<Stack, Principal> OpenBackupOfAcmeAlone(const fs::path& out, UserId root) {
  Admin copy{.url = "sqlite:" + out.string()};
  CommandResult r = copy({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  Stack restored = OpenStack(copy.url);
  Principal me_there = Must(restored.platform->ActAs(root));
  std::vector<Tenant> tenants = Must(restored.platform->ListTenants(me_there));
  REQUIRE(tenants.size() == 1);
  CHECK(tenants[0].slug == "acme");
  return {std::move(restored), std::move(me_there)};
}

TEST_CASE(
    "backup leaves out a tenant or user made while it runs, and never hands out again an "
    "id that a copied row holds") {
  BackupSource source;
  auto& [url, s, root, me, acme, b] = source;

  // Once shared.db is taken and before the tenant files are, another storage on the same
  // directory (another process, as far as ids go: it reserves its own block) creates a
  // tenant and a user and books in acme.
  const fs::path out = fs::path(NewTempDir()) / "backup";
  std::vector<std::string> lines;
  std::optional<Appointment> during;
  std::optional<User> late_user;
  auto report = internal::admin::Backup(url, out.string(), [&](std::string_view line) {
    lines.emplace_back(line);
    if (lines.size() != 1) return;
    Stack other = OpenStack(url);
    Principal root_there = Must(other.platform->ActAs(root.id));
    Must(other.platform->CreateTenant(root_there, {.slug = "late", .name = "Late"}));
    late_user = Must(other.platform->CreateUser(root_there, {.email = "staff@acme.test",
                                                             .display_name = "Staff",
                                                             .role = Role::kTenantStaff,
                                                             .tenant = acme.id,
                                                             .password = "correct horse battery"}));
    during = BookAt(other, root_there, b, 3);
  });
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  REQUIRE(during.has_value());
  CHECK(report->tenants == 1);
  REQUIRE(lines.size() == 2);
  CHECK_MESSAGE(lines[0].starts_with("shared database: shared.db, "), lines[0]);
  CHECK_MESSAGE(lines[1].starts_with("tenant 'acme': tenant_acme.db, "), lines[1]);

  // The tenant made after shared.db was taken is not in the backup, not even as a file; the
  // booking made before acme's file was taken is.
  CHECK(fs::exists(SqliteDir(url) + "/tenant_late.db"));
  CHECK(Names(out) == std::set<std::string>{"shared.db", "tenant_acme.db"});
  // The copy's counters are past every id its rows hold, the user's that it lacks included.
  CHECK(Counter(out / "shared.db", "object_ids") > LargestTenantId(out / "tenant_acme.db"));
  CHECK(Counter(out / "shared.db", "object_ids") > during->id.value());
  CHECK(Counter(out / "shared.db", "shared_ids") > late_user->id.value());

  auto [restored, me_there] = OpenBackupOfAcmeAlone(out, root.id);
  CHECK(restored.scheduler->GetAppointment(me_there, acme.id, during->id).ok());
  CHECK(CodeOf(restored.platform->GetUser(me_there, late_user->id)) == "not_found");
  // New rows in the restored storage take new ids.
  Appointment after = BookAt(restored, me_there, b, 6);
  CHECK(after.id.value() > during->id.value());
  User staff = Must(restored.platform->CreateUser(me_there, {.email = "staff@acme.test",
                                                             .display_name = "Staff",
                                                             .role = Role::kTenantStaff,
                                                             .tenant = acme.id,
                                                             .password = "correct horse battery"}));
  CHECK(staff.id.value() > late_user->id.value());
}

TEST_CASE("backup leaves out a tenant deleted while it runs, as if deleted before") {
  BackupSource source;
  auto& [url, s, root, me, acme, b] = source;
  Tenant globex = Must(s.platform->CreateTenant(me, {.slug = "globex", .name = "Globex"}));
  User staff = Must(s.platform->CreateUser(me, {.email = "staff@globex.test",
                                                .display_name = "Staff",
                                                .role = Role::kTenantStaff,
                                                .tenant = globex.id,
                                                .password = "correct horse battery"}));

  // Once shared.db is taken, and before globex's file is, another process deletes globex.
  const fs::path out = fs::path(NewTempDir()) / "backup";
  int lines = 0;
  auto report = internal::admin::Backup(url, out.string(), [&](std::string_view) {
    if (++lines != 1) return;
    Stack other = OpenStack(url);
    Principal root_there = Must(other.platform->ActAs(root.id));
    Must(other.platform->SuspendTenant(root_there, globex.id, "contract ended"));
    Must(other.platform->DeleteTenant(root_there, globex.id));
  });
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  CHECK(report->tenants == 1);
  CHECK(Names(out) == std::set<std::string>{"shared.db", "tenant_acme.db"});

  // The copy holds what the source does: acme, and nothing of globex, whose slug stays taken.
  auto [restored, me_there] = OpenBackupOfAcmeAlone(out, root.id);
  CHECK(CodeOf(restored.platform->GetUser(me_there, staff.id)) == "not_found");
  CHECK(CodeOf(restored.platform->CreateTenant(me_there, {.slug = "globex", .name = "Globex"})) ==
        "already_exists");
  CHECK(BookAt(restored, me_there, b, 2).id.valid());
}

// Complete "ack <id>" lines in `text`; the last one may still be on its way.
std::vector<std::int64_t> Acks(const std::string& text) {
  std::vector<std::int64_t> acks;
  std::size_t from = 0;
  for (std::size_t end; (end = text.find('\n', from)) != std::string::npos; from = end + 1)
    if (text.compare(from, 4, "ack ") == 0) acks.push_back(std::stoll(text.substr(from + 4)));
  return acks;
}

// Reads the child's output into `text` until it has acknowledged `count` bookings in all.
void WaitForAcks(const ChildProcess& child, std::string& text, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Acks(text).size() < count) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                    "the booker acknowledged " << Acks(text).size() << " of " << count
                                               << " bookings in 60 s:\n"
                                               << text);
    std::string more =
        ReadAll(child.out_fd, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
    siginfo_t info{};
    if (more.empty() &&
        ::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid != 0)
      FAIL("the booker ended early:\n" << text);
    text += more;
  }
}

TEST_CASE(
    "smooth-admin backup taken while another process books holds every booking "
    "acknowledged before it began") {
  const fs::path dir = NewTempDir();
  Admin admin{.url = "sqlite:" + dir.string()};
  BookingSetup b;
  UserId root;
  {
    Stack s = OpenStack(admin.url);
    root =
        Must(s.platform->CreateSuperuser("root@example.com", "Root", "correct horse battery")).id;
    Principal me = Must(s.platform->ActAs(root));
    Tenant acme = Must(s.platform->CreateTenant(me, {.slug = "acme", .name = "Acme"}));
    b = SetUpBookings(s, me, acme.id, /*capacity=*/10000);
    Must(s.platform->CreateTenant(me, {.slug = "globex", .name = "Globex"}));
  }  // closed: from here on only the child writes

  Watchdog watchdog(std::chrono::seconds(300), "backup while booking");
  SpawnOptions o;
  o.capture = true;
  o.log_path = (fs::path(NewTempDir()) / "booker.log").string();
  o.env = {{"SMOOTH_TEST_CHILD", "backup-booker"},
           {"SMOOTH_CHILD_URL", admin.url},
           {"SMOOTH_CHILD_ARGS", fmt::format("{} {} {} {}", b.tenant.value(), root.value(),
                                             b.service.value(), b.customer.value())}};
  ChildProcess child =
      Spawn({SelfExe(), "--test-case=backup child*", "--no-skip", "--no-version"}, o);
  watchdog.Watch(child.pid);
  std::string text;
  WaitForAcks(child, text, 100);  // past the first block of 64 ids
  const std::vector<std::int64_t> before = Acks(text);

  const fs::path out = fs::path(NewTempDir()) / "backup";
  CommandResult r = admin({"backup", "--to", out.string()});
  text += ReadAll(child.out_fd, std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
  MESSAGE(before.size() << " bookings acknowledged before the backup, "
                        << Acks(text).size() - before.size() << " more by 20 ms after it");
  // The booker went on throughout, and after.
  WaitForAcks(child, text, Acks(text).size() + 20);
  REQUIRE(::kill(child.pid, SIGKILL) == 0);
  const int code = WaitExit(child.pid);
  ::close(child.out_fd);
  if (code != 128 + SIGKILL) {
    std::ifstream log(*o.log_path);
    FAIL("the booker ended with " << code << " before the kill:\n"
                                  << std::string(std::istreambuf_iterator<char>(log), {}));
  }
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "backed up shared.db and 2 tenants"), r.output);

  Admin copy{.url = "sqlite:" + out.string()};
  CommandResult checked = copy({"check"});
  CHECK_MESSAGE(checked.exit_code == 0, checked.output);
  CHECK(Counter(out / "shared.db", "object_ids") > LargestTenantId(out / "tenant_acme.db"));
  Stack restored = OpenStack(copy.url);
  Principal me = Must(restored.platform->ActAs(root));
  std::size_t stored = AppointmentLines(restored, me, b.tenant).size();
  CHECK_MESSAGE(stored >= before.size(), stored << " stored, " << before.size() << " acknowledged");
  for (std::int64_t id : before)
    CHECK_MESSAGE(restored.scheduler->GetAppointment(me, b.tenant, AppointmentId(id)).ok(),
                  "acknowledged booking " << id << " is not in the backup");
}

// The booking process of the test above: skipped in a normal run, which it spawns with
// --no-skip.
TEST_CASE("backup child: books until killed (skipped unless spawned by the test)" *
          doctest::skip()) {
  const char* role = std::getenv("SMOOTH_TEST_CHILD");
  if (role == nullptr || std::string(role) != "backup-booker") return;
  std::istringstream args(std::getenv("SMOOTH_CHILD_ARGS"));
  std::int64_t tenant = 0, actor = 0, service = 0, customer = 0;
  args >> tenant >> actor >> service >> customer;
  Stack s = OpenStack(std::getenv("SMOOTH_CHILD_URL"));
  Principal me = Must(s.platform->ActAs(UserId(actor)));
  const BookingSetup b{TenantId(tenant), ServiceId(service), CustomerId(customer)};
  auto until =
      std::chrono::steady_clock::now() + std::chrono::minutes(2);  // never outlive the test
  for (int hour = 0; std::chrono::steady_clock::now() < until; ++hour) {
    Appointment booked = BookAt(s, me, b, hour % (24 * 300));
    // One write(2) per line, after the commit: what the parent reads was acknowledged.
    std::string line = fmt::format("ack {}\n", booked.id.value());
    if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return;
  }
}

TEST_CASE(
    "smooth-admin backup refuses a directory in use, a storage that is not there and "
    "PostgreSQL, and leaves nothing behind when it fails") {
  const fs::path dir = fs::path(NewTempDir()) / "data";
  Admin admin{.url = "sqlite:" + dir.string()};
  REQUIRE(admin({"create-superuser", "--email", "root@example.com"}, "correct horse battery\n")
              .exit_code == 0);
  for (const char* slug : {"acme", "globex"})
    REQUIRE(admin({"create-tenant", "--slug", slug, "--name", slug}).exit_code == 0);
  const fs::path scratch = NewTempDir();

  // A directory with something in it: named, and left as it was.
  const fs::path used = scratch / "used";
  fs::create_directory(used);
  std::ofstream(used / "notes.txt") << "the operator's\n";
  CommandResult r = admin({"backup", "--to", used.string()});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "--to " + used.string() + ": is not empty"), r.output);
  CHECK(DirectoryContents(used) ==
        std::map<std::string, std::string>{{"notes.txt", "the operator's\n"}});
  // A file where the directory should be.
  r = admin({"backup", "--to", (used / "notes.txt").string()});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "exists and is not a directory"), r.output);

  // Bad usage.
  r = admin({"backup"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(Contains(r.output, "backup: --to DIR is required"), r.output);
  r = admin({"backup", "--to", (scratch / "a").string(), "--to", (scratch / "b").string()});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(Contains(r.output, "--to given twice"), r.output);
  r = admin({"backup", "--help"});
  CHECK(r.exit_code == 0);
  CHECK_MESSAGE(Contains(r.output, "backup --to DIR"), r.output);
  CHECK(Names(scratch) == std::set<std::string>{"used"});

  // No storage to back up, or one that is not SQLite: nothing is made. PostgreSQL is refused
  // before any connection is tried (none could succeed to these).
  const fs::path target = scratch / "backup";
  r = Admin{.url = "sqlite:" + (scratch / "typo").string()}({"backup", "--to", target.string()});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "no storage in " + (scratch / "typo").string()), r.output);
  std::vector<std::string> postgres = {"postgresql://nobody@127.0.0.1:1/nothing",
                                       "host=/nonexistent dbname=nothing"};
  if (TestStorageKind() == "postgresql") postgres.push_back(NewPgDatabase());
  for (const std::string& url : postgres) {
    CAPTURE(url);
    r = Admin{.url = url}({"backup", "--to", target.string()});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(Contains(r.output, "pg_dump -Fc of the whole database"), r.output);
  }
  r = Admin{.url = "memory:"}({"backup", "--to", target.string()});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "memory:"), r.output);
  CHECK(Names(scratch) == std::set<std::string>{"used"});

  // A tenant file that cannot be copied, after shared.db and acme's were: the error names the
  // tenant, and the backup is gone — the directory it made, or the files it made in the empty
  // directory it was given.
  const fs::path globex = dir / "tenant_globex.db";
  fs::rename(globex, scratch / "globex.db");
  const fs::path empty = scratch / "empty";
  fs::create_directory(empty);
  for (const fs::path& to : {target, empty}) {
    CAPTURE(to);
    r = admin({"backup", "--to", to.string()});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(Contains(r.output, "tenant 'globex': tenant_globex.db does not exist"), r.output);
  }
  std::ofstream(globex) << "not a database, though it has the name of one\n";
  r = admin({"backup", "--to", target.string()});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "tenant 'globex': cannot copy tenant_globex.db"), r.output);
  CHECK(Names(scratch) == std::set<std::string>{"used", "empty", "globex.db"});
  CHECK(Names(empty).empty());

  // Put back, the same storage backs up into the empty directory.
  fs::rename(scratch / "globex.db", globex);
  r = admin({"backup", "--to", empty.string()});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(Names(empty) == std::set<std::string>{"shared.db", "tenant_acme.db", "tenant_globex.db"});
}

TEST_CASE("smooth-admin delete-tenant suspends, then deletes, with the slug repeated") {
  const std::string dir = NewTempDir();
  Admin admin{.url = "sqlite:" + dir};
  REQUIRE(
      admin({"create-superuser", "--email", "root@example.com"}, "first passphrase\n").exit_code ==
      0);
  for (const char* slug : {"acme", "globex"})
    REQUIRE(admin({"create-tenant", "--slug", slug, "--name", slug}).exit_code == 0);
  const fs::path log = fs::path(NewTempDir()) / "security.log";

  // Without --confirm, or with another slug: bad usage, nothing done.
  CommandResult r = admin({"delete-tenant", "--slug", "acme"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(Contains(r.output, "--slug and --confirm are required"), r.output);
  r = admin({"delete-tenant", "--slug", "acme", "--confirm", "globex"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(Contains(r.output, "--confirm must repeat the slug"), r.output);
  CHECK(fs::exists(dir + "/tenant_acme.db"));

  r = RunCommand({admin.binary, "--storage", admin.url, "--security-log", log.string(),
                  "delete-tenant", "--slug", "acme", "--confirm", "acme", "--reason",
                  "contract ended"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "deleted tenant 'acme'"), r.output);
  CHECK_FALSE(fs::exists(dir + "/tenant_acme.db"));
  CHECK(fs::exists(dir + "/tenant_globex.db"));
  std::vector<std::string> lines;
  {
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  REQUIRE(lines.size() == 2);
  auto suspended = ParseLine(lines[0]);
  CHECK(suspended.at("action").as_string() == "TENANT_SUSPENDED");
  CHECK(suspended.at("reason").as_string() == "contract ended");
  CHECK(ParseLine(lines[1]).at("action").as_string() == "TENANT_DELETED");

  // The storage is sound without it; the slug is gone for good.
  r = admin({"check"});
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(Contains(r.output, "0 problems"), r.output);
  r = admin({"delete-tenant", "--slug", "acme", "--confirm", "acme"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "--slug: no tenant acme"), r.output);
  r = admin({"create-tenant", "--slug", "acme", "--name", "Acme again"});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Contains(r.output, "was a deleted tenant's"), r.output);
  auto storage = std::shared_ptr<Storage>(Must(OpenStorage(admin.url)));
  auto txn = Must(storage->BeginShared(TxnMode::kRead));
  std::vector<std::string> slugs;
  for (const Tenant& t : Must(txn->ListTenants())) slugs.push_back(t.slug);
  CHECK(slugs == std::vector<std::string>{"globex"});
}

}  // namespace
}  // namespace smooth::testing
