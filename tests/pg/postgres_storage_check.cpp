// The PostgreSQL backend's own promises: its schemas and migrations, tenant context set per
// transaction (SET LOCAL) and never leaking through a pooled connection, failing closed
// when a tenant schema is missing, case-insensitive slugs, atomic tenant creation, the
// EXCLUDE constraint behind the scheduler, writers serialized on the change sequence, the
// bounded pool, and a server that goes away (a restart, ended sessions, an outage, a host
// that stops answering), through a proxy the tests cut. What it shares with MemoryStorage is
// covered by every other storage test, run again as <name>_postgresql. Runs only under the
// postgres ctest fixture; fails, never skips, without it.
#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "pg/pg_proxy.hpp"
#include "smooth/storage.hpp"
#include "storage/postgres/pipeline.hpp"
#include "storage/postgres/postgres_storage.hpp"
#include "test_storage.hpp"

namespace smooth::testing {
namespace {

using internal::postgres::PooledConninfoForTesting;
using internal::postgres::QueryPooledConnectionForTesting;
using namespace std::chrono_literals;

// The outcome of one statement run by hand, like an operator or another tool would.
struct Outcome {
  bool ok = false;
  std::string sqlstate;
  std::string error;
  std::vector<std::string> rows;  // the first column of each row
};

Outcome Run(const std::string& conninfo, const std::string& sql) {
  Outcome out;
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    out.error = PQerrorMessage(conn);
    PQfinish(conn);
    FAIL("cannot connect: " << out.error);
  }
  PQclear(PQexec(conn, "SET client_min_messages = warning"));
  PGresult* r = PQexec(conn, sql.c_str());
  ExecStatusType status = PQresultStatus(r);
  out.ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  if (!out.ok) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    out.sqlstate = state ? state : "";
    out.error = PQerrorMessage(conn);
  } else if (status == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); ++i)
      out.rows.emplace_back(PQgetisnull(r, i, 0) ? "NULL" : PQgetvalue(r, i, 0));
  }
  PQclear(r);
  PQfinish(conn);
  return out;
}

std::vector<std::string> Rows(const std::string& conninfo, const std::string& sql) {
  Outcome o = Run(conninfo, sql);
  INFO("SQL: " << sql);
  REQUIRE_MESSAGE(o.ok, o.error);
  return o.rows;
}

void Exec(const std::string& conninfo, const std::string& sql) {
  Outcome o = Run(conninfo, sql);
  INFO("SQL: " << sql);
  REQUIRE_MESSAGE(o.ok, o.error);
}

std::set<std::string> Tables(const std::string& db, const std::string& schema) {
  auto rows = Rows(
      db, "SELECT table_name FROM information_schema.tables WHERE table_schema = '" + schema + "'");
  return {rows.begin(), rows.end()};
}

bool SchemaExists(const std::string& db, const std::string& schema) {
  return Rows(db, "SELECT COUNT(*) FROM pg_namespace WHERE nspname = '" + schema + "'")[0] == "1";
}

std::unique_ptr<Storage> Open(const std::string& db, const StorageOptions& options = {}) {
  return Must(OpenStorage(db, options));
}

Tenant NewTenant(Storage& storage, std::string slug) {
  return Must(storage.CreateTenant({.slug = std::move(slug),
                                    .name = "A tenant",
                                    .time_zone = "Europe/London",
                                    .created_at = T0()}));
}

Resource NewResourceIn(TenantTransaction& txn, std::string name, int capacity = 1) {
  Resource r;
  r.name = std::move(name);
  r.kind = ResourceKind::kRoom;
  r.capacity = capacity;
  r.time_zone = "Europe/London";
  r.created_at = T0();
  r.updated_at = T0();
  return Must(txn.InsertResource(r));
}

Resource NewResource(Storage& storage, const Tenant& t, std::string name, int capacity = 1) {
  auto txn = Must(storage.BeginTenant(t, TxnMode::kWrite));
  Must(txn->BumpChangeSeq());
  Resource r = NewResourceIn(*txn, std::move(name), capacity);
  Must(txn->Commit());
  return r;
}

// A tenant with one resource, made through a storage closed again (another process).
Tenant MadeElsewhere(const std::string& db, std::string slug, std::string resource) {
  auto storage = Open(db);
  Tenant t = NewTenant(*storage, std::move(slug));
  NewResource(*storage, t, std::move(resource));
  return t;
}

std::vector<std::string> ResourceNames(Storage& storage, const Tenant& t, TxnMode mode) {
  auto txn = Must(storage.BeginTenant(t, mode));
  std::vector<std::string> names;
  for (const Resource& r : Must(txn->ListResources())) names.push_back(r.name);
  if (mode == TxnMode::kWrite) Must(txn->Commit());
  return names;
}

Appointment Booking(ResourceId r, Instant start, Duration length) {
  Appointment a;
  a.service = ServiceId(1);
  a.resources = {r};
  a.customer = CustomerId(1);
  a.start = start;
  a.end = start + length;
  a.status = AppointmentStatus::kConfirmed;
  a.created_by = UserId(1);
  a.created_at = T0();
  a.updated_at = T0();
  return a;
}

Result<Appointment> Book(Storage& storage, const Tenant& t, const Appointment& a) {
  auto txn = storage.BeginTenant(t, TxnMode::kWrite);
  if (!txn) return txn.error();
  auto seq = (*txn)->BumpChangeSeq();
  if (!seq) return seq.error();
  Appointment row = a;
  row.change_seq = *seq;
  auto created = (*txn)->InsertAppointment(row);
  if (!created) return created;
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  return created;
}

// Microseconds since the epoch, as the rows store times.
long long Micros(Instant t) { return t.time_since_epoch().count(); }

TEST_CASE("shared tables live in public, each tenant's in its own schema tenant_<slug>") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  NewTenant(*storage, "acme");
  NewTenant(*storage, "globex");

  std::set<std::string> shared = Tables(db, "public");
  for (const char* t :
       {"tenants", "domains", "users", "grants", "sessions", "shared_ids", "shared_epoch",
        "login_failures", "schema_migrations"})
    CHECK_MESSAGE(shared.count(t) == 1, "public." << t);
  CHECK(shared.count("appointments") == 0);
  for (const char* schema : {"tenant_acme", "tenant_globex"}) {
    std::set<std::string> tenant = Tables(db, schema);
    for (const char* t : {"tenant_meta", "change_seq", "resources", "services", "customers",
                          "appointments", "holds", "appointment_occupancy", "schema_migrations"})
      CHECK_MESSAGE(tenant.count(t) == 1, schema << "." << t);
    CHECK(tenant.count("users") == 0);
  }
  CHECK(Rows(db, "SELECT slug FROM tenant_acme.tenant_meta") == std::vector<std::string>{"acme"});
  CHECK(Rows(db, "SELECT COUNT(*) FROM pg_extension WHERE extname = 'btree_gist'")[0] == "1");
  CHECK(Rows(db, "SELECT last_value FROM public.object_ids").size() == 1);
}

TEST_CASE("migrations are recorded per schema, applied once, and never go backwards") {
  std::string db = NewPgDatabase();
  Tenant acme = MadeElsewhere(db, "acme", "Chair 1");
  std::vector<std::string> shared = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
  std::vector<std::string> tenant = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"};
  const std::string shared_sql = "SELECT version FROM public.schema_migrations ORDER BY version";
  const std::string tenant_sql =
      "SELECT version FROM tenant_acme.schema_migrations ORDER BY version";
  CHECK(Rows(db, shared_sql) == shared);
  CHECK(Rows(db, tenant_sql) == tenant);
  // Migration 7 dropped the guard function nothing calls any more.
  CHECK(Rows(db, "SELECT COUNT(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                 "WHERE n.nspname = 'tenant_acme' AND p.proname = 'advance_change_seq'")[0] == "0");
  CHECK(Rows(db, "SELECT COUNT(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                 "WHERE n.nspname = 'tenant_acme' AND p.proname = 'stale_write'")[0] == "1");
  // Migration 8 gave holds their outside_hours flag, false for the holds already there.
  CHECK(Rows(db, "SELECT column_default FROM information_schema.columns WHERE table_schema = "
                 "'tenant_acme' AND table_name = 'holds' AND column_name = 'outside_hours'") ==
        std::vector<std::string>{"0"});

  // Reopening (another process starting) applies nothing again and keeps the data.
  for (int i = 0; i < 2; ++i) {
    auto again = Open(db);
    CHECK(Rows(db, shared_sql) == shared);
    CHECK(Rows(db, tenant_sql) == tenant);
    CHECK(ResourceNames(*again, acme, TxnMode::kRead) == std::vector<std::string>{"Chair 1"});
  }

  // A tenant's schema is migrated on its first use, not when the storage opens, so one
  // tenant's failure is that tenant's alone. A schema from an older libsmooth catches up.
  Tenant beta = MadeElsewhere(db, "beta", "Desk");
  enum class Use { kRead, kWrite, kBumpedWrite };  // BeginTenant's two, BeginTenantWrite
  auto first_use = [&](const Tenant& t, Use use) -> Status {
    auto opened = OpenStorage(db);
    REQUIRE_MESSAGE(opened.ok(), opened.error().ToString());
    CHECK(ResourceNames(**opened, beta, TxnMode::kRead) == std::vector<std::string>{"Desk"});
    std::unique_ptr<TenantTransaction> txn;
    if (use == Use::kBumpedWrite) {
      auto begun = (*opened)->BeginTenantWrite(t);
      if (!begun) return begun.error();
      CHECK(begun->seq == Must(begun->txn->ChangeSeq()));
      CHECK(begun->shared_epoch == Must((*opened)->SharedEpoch()));
      txn = std::move(begun->txn);
    } else {
      auto begun = (*opened)->BeginTenant(t, use == Use::kRead ? TxnMode::kRead : TxnMode::kWrite);
      if (!begun) return begun.error();
      txn = std::move(*begun);
    }
    auto names = txn->ListResources();
    if (!names) return names.error();
    CHECK(names->size() == 1);
    return use == Use::kRead ? Status() : txn->Commit();
  };
  for (Use mode : {Use::kRead, Use::kWrite, Use::kBumpedWrite}) {
    Exec(db, "ALTER TABLE tenant_acme.holds DROP COLUMN confirmed_as");
    Exec(db, "DELETE FROM tenant_acme.schema_migrations WHERE version = 10");
    Status used = first_use(acme, mode);
    CHECK_MESSAGE(used.ok(), used.ToString());
    CHECK(Rows(db, tenant_sql) == tenant);
    CHECK(Rows(db,
               "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = "
               "'tenant_acme' AND table_name = 'holds' AND "
               "column_name = 'confirmed_as'")[0] == "1");
  }

  // A migration the server refuses for want of disk space is resource_exhausted, as any
  // write is, and the tenant catches up once there is room.
  Exec(db, "ALTER TABLE tenant_acme.holds DROP COLUMN confirmed_as");
  Exec(db, "DELETE FROM tenant_acme.schema_migrations WHERE version = 10");
  Exec(db,
       "CREATE FUNCTION public.no_space_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
       "BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = "
       "'disk_full'; END $$");
  Exec(db,
       "CREATE EVENT TRIGGER no_space_ddl ON ddl_command_start WHEN TAG IN ('ALTER TABLE') "
       "EXECUTE FUNCTION public.no_space_ddl()");
  Status full = first_use(acme, Use::kWrite);
  CHECK_MESSAGE(full.code() == StatusCode::kResourceExhausted, full.ToString());
  CHECK_MESSAGE(full.message().find("migration 10") != std::string::npos, full.ToString());
  CHECK(full.message().find("No space left on device") != std::string::npos);
  Exec(db, "DROP EVENT TRIGGER no_space_ddl");
  Exec(db, "DROP FUNCTION public.no_space_ddl()");
  Status room = first_use(acme, Use::kWrite);
  CHECK_MESSAGE(room.ok(), room.ToString());
  CHECK(Rows(db, tenant_sql) == tenant);

  // A schema newer than this libsmooth is refused at its first use, naming where.
  Exec(db, "INSERT INTO tenant_acme.schema_migrations VALUES (99, 'future', 0)");
  Status newer = first_use(acme, Use::kRead);
  CHECK_MESSAGE(newer.code() == StatusCode::kFailedPrecondition, newer.ToString());
  CHECK_MESSAGE(newer.message().find("tenant 'acme' is at schema version 99") == 0,
                newer.ToString());
}

TEST_CASE("tenant context is SET LOCAL: the pooled connection is back to the default after") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1});
  Tenant acme = NewTenant(*storage, "acme");
  std::string before = Must(QueryPooledConnectionForTesting(*storage, "SHOW search_path"));
  CHECK(before.find("tenant_") == std::string::npos);

  NewResource(*storage, acme, "Chair 1");  // a committed write
  CHECK(Must(QueryPooledConnectionForTesting(*storage, "SHOW search_path")) == before);
  CHECK(ResourceNames(*storage, acme, TxnMode::kRead).size() == 1);  // a read
  CHECK(Must(QueryPooledConnectionForTesting(*storage, "SHOW search_path")) == before);
  {
    auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));  // rolled back
    Must(txn->BumpChangeSeq());
  }
  CHECK(Must(QueryPooledConnectionForTesting(*storage, "SHOW search_path")) == before);
  // The one connection really is the one the transactions used: nothing of a tenant's is
  // reachable from it unqualified.
  CHECK_FALSE(QueryPooledConnectionForTesting(*storage, "SELECT name FROM resources").ok());
  // And it commits durably.
  CHECK(Must(QueryPooledConnectionForTesting(*storage, "SHOW synchronous_commit")) == "on");
}

TEST_CASE("two tenants alternating through a pool of one connection each see only their rows") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1});
  Tenant acme = NewTenant(*storage, "acme");
  Tenant globex = NewTenant(*storage, "globex");
  NewResource(*storage, acme, "acme chair");
  NewResource(*storage, globex, "globex desk");
  for (int i = 0; i < 4; ++i) {
    TxnMode mode = i % 2 == 0 ? TxnMode::kRead : TxnMode::kWrite;
    CHECK(ResourceNames(*storage, acme, mode) == std::vector<std::string>{"acme chair"});
    CHECK(ResourceNames(*storage, globex, mode) == std::vector<std::string>{"globex desk"});
  }
  // An id of one tenant finds nothing in the other.
  auto acme_ids = Rows(db, "SELECT id FROM tenant_acme.resources");
  auto txn = Must(storage->BeginTenant(globex, TxnMode::kRead));
  CHECK(txn->GetResource(ResourceId(std::stoll(acme_ids.at(0)))).error().code() ==
        StatusCode::kNotFound);
}

TEST_CASE("a tenant whose schema is missing fails closed and never reads public") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1});
  Tenant acme = NewTenant(*storage, "acme");
  NewResource(*storage, acme, "Chair 1");
  CHECK(ResourceNames(*storage, acme, TxnMode::kRead).size() == 1);

  // Dropped behind the backend's back, with decoy tables in public that a query falling
  // through search_path would find.
  Exec(db, "DROP SCHEMA tenant_acme CASCADE");
  Exec(db, "CREATE TABLE public.change_seq (value BIGINT NOT NULL)");
  Exec(db, "INSERT INTO public.change_seq VALUES (41)");
  Exec(db, "CREATE TABLE public.tenant_meta (tenant_id BIGINT NOT NULL, slug TEXT NOT NULL)");
  Exec(db,
       "INSERT INTO public.tenant_meta VALUES (" + std::to_string(acme.id.value()) + ", 'acme')");
  for (TxnMode mode : {TxnMode::kRead, TxnMode::kWrite}) {
    auto txn = storage->BeginTenant(acme, mode);
    REQUIRE_FALSE(txn.ok());
    CHECK(txn.error().code() == StatusCode::kNotFound);
    CHECK(txn.error().message().find("tenant_acme is missing") != std::string::npos);
  }
  // So does a write that bumps the change sequence as it begins (one statement), and the
  // decoy change_seq in public is left alone.
  auto write = storage->BeginTenantWrite(acme);
  REQUIRE_FALSE(write.ok());
  CHECK(write.error().code() == StatusCode::kNotFound);
  CHECK(write.error().message().find("tenant_acme is missing") != std::string::npos);
  CHECK(Rows(db, "SELECT value FROM public.change_seq")[0] == "41");
  // Reopening does not recreate it either.
  auto again = Open(db);
  CHECK(again->BeginTenant(acme, TxnMode::kRead).error().code() == StatusCode::kNotFound);
  CHECK_FALSE(SchemaExists(db, "tenant_acme"));
}

TEST_CASE("BeginTenantWrite begins a write transaction with the change sequence bumped") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  {
    auto w = Must(storage->BeginTenantWrite(acme));
    CHECK(w.seq == 1);
    CHECK(Must(w.txn->ChangeSeq()) == 1);
    // Not committed: rolled back with the transaction.
  }
  auto w = Must(storage->BeginTenantWrite(acme));
  CHECK(w.seq == 1);
  CHECK(Must(w.txn->BumpChangeSeq()) == 2);
  Must(w.txn->Commit());
  auto r = Must(storage->BeginTenant(acme, TxnMode::kRead));
  CHECK(Must(r->ChangeSeq()) == 2);
}

// --- BeginTenantWriteAt: a write prepared against a change sequence and shared epoch ---

std::int64_t CurrentSeq(Storage& storage, const Tenant& t) {
  auto txn = Must(storage.BeginTenant(t, TxnMode::kRead));
  return Must(txn->ChangeSeq());
}

// How many of acme's appointments have id `id`.
std::string Stored(const std::string& db, AppointmentId id) {
  return Rows(db, fmt::format("SELECT COUNT(*) FROM tenant_acme.appointments WHERE id = {}",
                              id.value()))[0];
}

// Transactions open on the database (other than the asking one's).
std::string OpenTransactions(const std::string& db) {
  return Rows(db,
              "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
              "AND state LIKE 'idle in transaction%'")[0];
}

// A booking another process commits.
void BookElsewhere(const std::string& db, const Tenant& t, ResourceId r, Instant start) {
  Must(Book(*Open(db), t, Booking(r, start, 30min)));
}

void AdvanceSharedEpoch(Storage& storage, const Tenant& t) {
  auto shared = Must(storage.BeginShared(TxnMode::kWrite));
  Tenant renamed = Must(shared->GetTenant(t.id));
  renamed.name = "Renamed";
  Must(shared->UpdateTenant(renamed));
  Must(shared->Commit());
}

// Checks that `s` is the failure of a guard that found acme moved on; its message.
std::string Aborts(const Status& s) {
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kAborted);
  CHECK(s.message().find("tenant 'acme'") != std::string::npos);
  CHECK(s.message().find("changed while this write was prepared") != std::string::npos);
  return s.message();
}

// A tenant with a chair, whose schema the storage has checked (by a write), and the change
// sequence and shared epoch it is at.
struct CheckedTenant {
  std::string db = NewPgDatabase();
  std::unique_ptr<Storage> storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  std::int64_t seq = CurrentSeq(*storage, acme);
  std::int64_t epoch = Must(storage->SharedEpoch());

  // A write prepared at `seq` and `epoch`.
  std::unique_ptr<TenantTransaction> WriteAt() {
    auto txn = Must(storage->BeginTenantWriteAt(acme, seq, epoch));
    REQUIRE(txn != nullptr);
    return txn;
  }
};

TEST_CASE_FIXTURE(CheckedTenant, "BeginTenantWriteAt at the current sequence sends everything with the commit") {

  auto txn = WriteAt();
  Appointment a = Booking(chair.id, T0() + 1h, 30min);
  a.change_seq = seq + 1;  // the caller knows what the guard advances to
  a = Must(txn->InsertAppointment(a));
  CHECK(OpenTransactions(db) == "0");  // nothing has begun on the server yet
  Must(txn->Commit());

  CHECK(CurrentSeq(*storage, acme) == seq + 1);
  CHECK(Rows(db, fmt::format("SELECT change_seq FROM tenant_acme.appointments WHERE id = {}",
                             a.id.value())) == std::vector<std::string>{std::to_string(seq + 1)});
  CHECK(Rows(db, "SELECT COUNT(*) FROM tenant_acme.appointment_occupancy")[0] == "1");

  // With nothing to write, the commit still advances the sequence, as the caller expects.
  seq += 1;
  txn = WriteAt();
  Must(txn->Commit());
  CHECK(CurrentSeq(*storage, acme) == seq + 1);
}

TEST_CASE_FIXTURE(CheckedTenant, "BeginTenantWriteAt fails aborted and saves nothing when the tenant moved on") {

  auto txn = WriteAt();
  BookElsewhere(db, acme, chair.id, T0() + 3h);  // another process commits seq + 1
  Appointment a = Must(txn->InsertAppointment(Booking(chair.id, T0() + 1h, 30min)));
  CHECK(Aborts(txn->Commit()).find("change sequence") != std::string::npos);

  CHECK(Stored(db, a.id) == "0");
  CHECK(CurrentSeq(*storage, acme) == seq + 1);  // the other writer's bump alone
  // Every later call fails the same way; nothing is committed.
  CHECK(txn->GetAppointment(a.id).error().code() == StatusCode::kAborted);
  CHECK(txn->InsertAppointment(Booking(chair.id, T0() + 5h, 30min)).error().code() ==
        StatusCode::kAborted);
  CHECK(txn->Commit().code() == StatusCode::kAborted);
  CHECK(CurrentSeq(*storage, acme) == seq + 1);
  txn.reset();
  // The connection went back to the pool clean: the next write of this process works.
  Must(Book(*storage, acme, Booking(chair.id, T0() + 6h, 30min)));
}

TEST_CASE_FIXTURE(CheckedTenant, "BeginTenantWriteAt fails aborted and saves nothing when the shared epoch moved") {

  auto txn = WriteAt();
  AdvanceSharedEpoch(*storage, acme);
  REQUIRE(Must(storage->SharedEpoch()) == epoch + 1);
  Appointment a = Must(txn->InsertAppointment(Booking(chair.id, T0() + 1h, 30min)));
  CHECK(Aborts(txn->Commit()).find("shared epoch") != std::string::npos);
  CHECK(Stored(db, a.id) == "0");
  CHECK(CurrentSeq(*storage, acme) == seq);
}

TEST_CASE_FIXTURE(CheckedTenant, "a write sent whole that fails at its INSERT commits nothing, not even the guard") {
  // Sent whole (guard, INSERT, then the Sync that commits), the transaction is implicit: the
  // INSERT's failure must take the guard's advance with it.
  Instant ten = T0() + 1h;
  REQUIRE(Run(db, fmt::format("INSERT INTO tenant_acme.appointments (id, service, resources, "
                              "customer, start_at, end_at, buffer_before, buffer_after, status, "
                              "notes, created_by, created_at, updated_at, version, "
                              "outside_hours, change_seq) VALUES (900001, 1, '[{}]', 1, {}, {}, "
                              "0, 0, 'confirmed', '', 1, 0, 0, 1, 0, {})",
                              chair.id.value(), Micros(ten), Micros(ten + 30min), seq))
              .ok);
  auto txn = WriteAt();
  Appointment fits = Must(txn->InsertAppointment(Booking(chair.id, ten + 2h, 30min)));
  Appointment clash = Must(txn->InsertAppointment(Booking(chair.id, ten + 15min, 30min)));
  Status failed = txn->Commit();
  INFO(failed.ToString());
  CHECK(failed.code() == StatusCode::kConflict);

  CHECK(CurrentSeq(*storage, acme) == seq);
  CHECK(Stored(db, fits.id) == "0");
  CHECK(Stored(db, clash.id) == "0");
  CHECK(Rows(db, "SELECT COUNT(*) FROM tenant_acme.appointment_occupancy")[0] == "1");
  CHECK(txn->Commit().code() == StatusCode::kConflict);  // failed for good
  txn.reset();
  CHECK(OpenTransactions(db) == "0");
  // The connection went back to the pool clean: the same write at the same sequence works.
  txn = WriteAt();
  fits = Must(txn->InsertAppointment(Booking(chair.id, ten + 2h, 30min)));
  Must(txn->Commit());
  CHECK(Stored(db, fits.id) == "1");
  CHECK(CurrentSeq(*storage, acme) == seq + 1);
}

TEST_CASE_FIXTURE(CheckedTenant, "BeginTenantWriteAt checks at the first statement that reaches the database") {
  Appointment booked = Must(Book(*storage, acme, Booking(chair.id, T0() + 3h, 30min)));
  seq = CurrentSeq(*storage, acme);

  SUBCASE("at the current sequence, reads and writes go on in one transaction") {
    auto txn = WriteAt();
    CHECK(Must(txn->GetAppointment(booked.id)).start == booked.start);
    CHECK(OpenTransactions(db) == "1");  // begun by the read
    CHECK(Must(txn->ChangeSeq()) == seq + 1);
    Appointment a = Booking(chair.id, T0() + 1h, 30min);
    a.change_seq = seq + 1;
    a.idempotency_key = "k1";
    a = Must(txn->InsertAppointment(a));
    CHECK(Must(txn->FindAppointmentByIdempotencyKey("k1")).id == a.id);  // reads its write
    Must(txn->Commit());
    CHECK(Stored(db, a.id) == "1");
    CHECK(CurrentSeq(*storage, acme) == seq + 1);
  }

  SUBCASE("at a stale sequence, the read fails aborted and so does everything after it") {
    auto txn = WriteAt();
    BookElsewhere(db, acme, chair.id, T0() + 5h);
    Aborts(txn->FindAppointmentByIdempotencyKey("k1").error());
    auto a = txn->InsertAppointment(Booking(chair.id, T0() + 1h, 30min));
    CHECK(a.error().code() == StatusCode::kAborted);
    Aborts(txn->Commit());
    CHECK(Rows(db, "SELECT COUNT(*) FROM tenant_acme.appointments")[0] == "2");
    CHECK(CurrentSeq(*storage, acme) == seq + 1);
  }
}

TEST_CASE_FIXTURE(CheckedTenant, "BeginTenantWriteAt waits for a writer holding the sequence, then fails aborted") {
  auto elsewhere = Open(db);  // another process

  auto first = Must(elsewhere->BeginTenantWrite(acme));  // holds the change_seq row
  REQUIRE(first.seq == seq + 1);
  std::atomic<long long> id{0};
  auto second = std::async(std::launch::async, [&]() -> Status {
    auto txn = storage->BeginTenantWriteAt(acme, seq, epoch);
    if (!txn) return txn.error();
    if (*txn == nullptr) return Internal("not deferred");
    auto a = (*txn)->InsertAppointment(Booking(chair.id, T0() + 1h, 30min));
    if (!a) return a.error();
    id = a->id.value();
    return (*txn)->Commit();
  });
  CHECK(second.wait_for(300ms) == std::future_status::timeout);  // on the row lock
  Must(first.txn->Commit());
  REQUIRE(second.wait_for(10s) == std::future_status::ready);
  Aborts(second.get());
  CHECK(Stored(db, AppointmentId(id.load())) == "0");
  CHECK(CurrentSeq(*storage, acme) == seq + 1);
}

TEST_CASE("BeginTenantWriteAt defers only for a schema already checked, and fails closed") {
  std::string db = NewPgDatabase();
  Tenant acme = MadeElsewhere(db, "acme", "Chair");
  auto storage = Open(db);  // a new process: nothing checked yet
  std::int64_t epoch = Must(storage->SharedEpoch());
  CHECK(Must(storage->BeginTenantWriteAt(acme, 1, epoch)) == nullptr);
  Tenant impostor = acme;
  impostor.id = TenantId(acme.id.value() + 1000);
  CHECK(Must(storage->BeginTenantWriteAt(impostor, 1, epoch)) == nullptr);
  Tenant bad_slug = acme;
  bad_slug.slug = "no way";
  CHECK(Must(storage->BeginTenantWriteAt(bad_slug, 1, epoch)) == nullptr);

  CHECK(CurrentSeq(*storage, acme) == 1);  // checks the schema
  auto txn = Must(storage->BeginTenantWriteAt(acme, 1, epoch));
  REQUIRE(txn != nullptr);
  Exec(db, "DROP SCHEMA tenant_acme CASCADE");
  Status failed;
  SUBCASE("found out by the commit") { failed = txn->Commit(); }
  SUBCASE("found out by a read") { failed = txn->ListResources().error(); }
  INFO(failed.ToString());
  CHECK(failed.code() == StatusCode::kNotFound);
  CHECK(failed.message().find("tenant 'acme' has no data space") != std::string::npos);
  CHECK(txn->Commit().code() == StatusCode::kNotFound);
  txn.reset();
  // Forgotten as checked: the next write begins the usual way, which fails closed too.
  CHECK(Must(storage->BeginTenantWriteAt(acme, 1, epoch)) == nullptr);
  CHECK(storage->BeginTenantWrite(acme).error().code() == StatusCode::kNotFound);
}

TEST_CASE("a failed statement spoils a PostgreSQL write transaction: its commit fails") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  Must(Book(*storage, acme, Booking(chair.id, T0() + 1h, 30min)));
  Appointment later = Must(Book(*storage, acme, Booking(chair.id, T0() + 2h, 30min)));
  std::int64_t seq = CurrentSeq(*storage, acme);

  auto w = Must(storage->BeginTenantWrite(acme));
  Resource lamp = NewResourceIn(*w.txn, "Lamp");
  later.start = T0() + 1h;  // onto the other booking: the occupancy's EXCLUDE refuses it
  later.end = later.start + 30min;
  Status moved = w.txn->UpdateAppointment(later);
  CHECK(moved.code() == StatusCode::kConflict);
  // The server has aborted the transaction: nothing of it may be reported committed.
  CHECK(w.txn->ListResources().error().code() == StatusCode::kConflict);
  CHECK(w.txn->Commit().code() == StatusCode::kConflict);
  w.txn.reset();
  CHECK(Rows(db, fmt::format("SELECT COUNT(*) FROM tenant_acme.resources WHERE id = {}",
                             lamp.id.value()))[0] == "0");
  CHECK(CurrentSeq(*storage, acme) == seq);
}

TEST_CASE("a connection serving many tenants keeps its prepared statements bounded") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1});  // every tenant through the one connection
  std::vector<std::pair<std::string, AppointmentId>> booked;
  for (int i = 0; i < 30; ++i) {
    Tenant t = NewTenant(*storage, fmt::format("t{}", i));
    Resource chair = NewResource(*storage, t, "Chair");  // a checked schema
    const std::int64_t seq = CurrentSeq(*storage, t);
    auto txn = Must(storage->BeginTenantWriteAt(t, seq, Must(storage->SharedEpoch())));
    REQUIRE(txn != nullptr);
    Appointment a = Booking(chair.id, T0() + 1h, 30min);
    a.change_seq = seq + 1;
    a = Must(txn->InsertAppointment(a));
    Must(txn->Commit());
    booked.emplace_back(fmt::format("tenant_t{}", i), a.id);
  }
  // Three statements a tenant (guard, epoch check, insert): past the bound, they were
  // deallocated and prepared again as needed.
  const long prepared = std::stol(Must(QueryPooledConnectionForTesting(
      *storage, "SELECT COUNT(*) FROM pg_prepared_statements WHERE name LIKE 'smooth\\_%'")));
  CHECK(prepared > 0);
  CHECK(prepared <= 64);
  for (const auto& [schema, id] : booked) {
    CHECK(Rows(db, fmt::format("SELECT COUNT(*) FROM {}.appointments WHERE id = {}", schema,
                               id.value()))[0] == "1");
    CHECK(Rows(db, fmt::format("SELECT COUNT(*) FROM {}.appointment_occupancy "
                               "WHERE appointment_id = {}",
                               schema, id.value()))[0] == "1");
  }
}

TEST_CASE("a connection lost under a commit fails unavailable, and the next write gets another") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1});
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  Must(Book(*storage, acme, Booking(chair.id, T0() + 1h, 30min)));
  const std::string pid = Must(QueryPooledConnectionForTesting(*storage, "SELECT pg_backend_pid()"));

  const std::int64_t seq = CurrentSeq(*storage, acme);
  auto txn = Must(storage->BeginTenantWriteAt(acme, seq, Must(storage->SharedEpoch())));
  REQUIRE(txn != nullptr);
  Appointment a = Must(txn->InsertAppointment(Booking(chair.id, T0() + 2h, 30min)));
  // An administrator (or a server restart) ends the connection under it.
  CHECK(Rows(db, fmt::format("SELECT pg_terminate_backend({}, 5000)", pid))[0] == "t");
  Status lost = txn->Commit();
  INFO(lost.ToString());
  CHECK(lost.code() == StatusCode::kUnavailable);
  // From here the commit may or may not have been made (it was not: the server had ended
  // the connection before it came), and the caller is told it cannot be known.
  CHECK(lost.message().find("whether it was saved is unknown") != std::string::npos);
  txn.reset();
  CHECK(Stored(db, a.id) == "0");

  Appointment b = Must(Book(*storage, acme, Booking(chair.id, T0() + 3h, 30min)));
  CHECK(Stored(db, b.id) == "1");
  CHECK(Must(QueryPooledConnectionForTesting(*storage, "SELECT pg_backend_pid()")) != pid);
}

// The same for a write of the shared tables, which commits with a plain COMMIT: a tenant
// or a user created twice by a blind retry, a login failure counted twice.
TEST_CASE("a connection lost under a shared commit says whether it was saved is unknown") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1});
  Tenant acme = NewTenant(*storage, "acme");
  auto shared = Must(storage->BeginShared(TxnMode::kWrite));
  Must(shared->InsertDomain({.name = "book.acme.com", .tenant = acme.id}));
  Rows(db,
       "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = "
       "current_database() AND pid <> pg_backend_pid()");
  Status lost = shared->Commit();
  INFO(lost.ToString());
  CHECK(lost.code() == StatusCode::kUnavailable);
  CHECK(
      lost.message().starts_with("shared database: the connection failed as the write was "
                                 "committed, so whether it was saved is unknown"));
  CHECK(lost.message().find("try again") == std::string::npos);  // not blindly
  shared.reset();
  CHECK(Rows(db, "SELECT COUNT(*) FROM public.domains")[0] == "0");
  // The connection was closed; the next write gets another.
  auto again = Must(storage->BeginShared(TxnMode::kWrite));
  Must(again->InsertDomain({.name = "book.acme.com", .tenant = acme.id}));
  Must(again->Commit());
  CHECK(Rows(db, "SELECT COUNT(*) FROM public.domains")[0] == "1");
}

// A server that ends sessions itself (idle_in_transaction_session_timeout): the call that
// finds its session gone is told to try again, as for any lost connection, not internal.
// Here libpq reports the closed socket (no SQLSTATE); where it has read the server's
// FATAL first, the SQLSTATE says the same, which the classification below holds to.
TEST_CASE("a session the server ended for idling in a transaction fails unavailable") {
  using smooth::internal::postgres::ClassifySqlstate;
  for (const char* state : {"25P03", "57P05", "57P01", "08006", ""}) {
    CAPTURE(state);
    CHECK(ClassifySqlstate(state) == smooth::internal::sql::SqlErrorKind::kConnectionLost);
  }
  CHECK(ClassifySqlstate("25P02") == smooth::internal::sql::SqlErrorKind::kOther);

  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1});
  Tenant acme = NewTenant(*storage, "acme");
  Exec(db, "ALTER DATABASE " + Rows(db, "SELECT quote_ident(current_database())")[0] +
               " SET idle_in_transaction_session_timeout = '200ms'");
  Exec(db,
       "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = "
       "current_database() AND pid <> pg_backend_pid()");  // new sessions take the setting
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    auto shared = Must(storage->BeginShared(TxnMode::kWrite));
    Must(shared->ListTenants());
    std::this_thread::sleep_for(1s);
    auto late = shared->InsertDomain({.name = "book.acme.com", .tenant = acme.id});
    REQUIRE_FALSE(late.ok());
    INFO(late.error().ToString());
    CHECK(late.error().code() == StatusCode::kUnavailable);
    shared.reset();
  }
  CHECK(Rows(db, "SELECT COUNT(*) FROM public.domains")[0] == "0");
  Exec(db, "ALTER DATABASE " + Rows(db, "SELECT quote_ident(current_database())")[0] +
               " RESET idle_in_transaction_session_timeout");
}

// The connections to the database but the asking one.
// The server's sessions on `db` but the asking one, once it has `expected` (or after 5 s,
// whatever it has then): the backend of a connection just closed, this file's own included,
// takes a moment to leave pg_stat_activity, longer on a busy machine.
int Backends(const std::string& db, int expected) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    int n = std::stoi(Rows(db,
                           "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid()")[0]);
    if (n == expected || std::chrono::steady_clock::now() > deadline) return n;
    std::this_thread::sleep_for(20ms);
  }
}

TEST_CASE("SharedEpoch on a connection the server ended never hands that connection out again") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);  // the default pool of 4
  Must(storage->SharedEpoch());
  // An administrator (or a server restart) ends the pooled connections, the one SharedEpoch
  // used among them.
  CHECK(Rows(db,
             "SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid()")[0] == "t");
  REQUIRE(Backends(db, 0) == 0);
  // The dead connection is found dead before it is used, closed, and another opened.
  auto first = storage->SharedEpoch();
  CHECK_MESSAGE(first.ok(), (first.ok() ? std::string() : first.error().ToString()));
  // And it was closed, not put back: the next reads get live ones.
  for (int i = 0; i < 3; ++i) {
    auto again = storage->SharedEpoch();
    CAPTURE(i + 2);
    CHECK_MESSAGE(again.ok(), (again.ok() ? std::string() : again.error().ToString()));
  }
  auto second = storage->SharedEpoch();
  INFO((second.ok() ? std::string() : second.error().ToString()));
  CHECK(second.ok());
}

// --- A server that goes away: restarts, ended connections, outages ---------------------

// Fills the storage's pool with `n` open connections, idle again when it returns.
void FillPool(Storage& storage, const Tenant& t, int n) {
  std::vector<std::unique_ptr<TenantTransaction>> held;
  for (int i = 0; i < n; ++i) held.push_back(Must(storage.BeginTenant(t, TxnMode::kRead)));
}

// One call of each kind the storage serves, each of which must succeed the first time: a
// shared epoch, a shared read, a tenant read, a booking begun the careful way and one
// prepared against the tenant's sequence (BeginTenantWriteAt).
void EveryKindOfCallSucceeds(Storage& storage, const Tenant& acme, const Resource& chair,
                             Instant at) {
  Must(storage.SharedEpoch());
  auto shared = Must(storage.BeginShared(TxnMode::kRead));
  CHECK(Must(shared->ListTenants()).size() == 1);
  shared.reset();
  CHECK(ResourceNames(storage, acme, TxnMode::kRead) == std::vector<std::string>{"Chair"});
  Must(Book(storage, acme, Booking(chair.id, at, 30min)));
  auto txn = Must(
      storage.BeginTenantWriteAt(acme, CurrentSeq(storage, acme), Must(storage.SharedEpoch())));
  REQUIRE(txn != nullptr);
  Must(txn->InsertAppointment(Booking(chair.id, at + 1h, 30min)));
  Must(txn->Commit());
}

TEST_CASE("pooled connections the server ended while idle are never used: no call fails") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);  // the default pool of 4
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  FillPool(*storage, acme, 4);
  REQUIRE(Backends(db, 4) == 4);
  // An administrator ends them all, as a restart of the server does.
  CHECK(Rows(db,
             "SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid()")[0] == "t");
  REQUIRE(Backends(db, 0) == 0);
  // Each call finds the connections dead before it sends anything, and opens a new one.
  EveryKindOfCallSucceeds(*storage, acme, chair, T0() + 1h);
  FillPool(*storage, acme, 4);  // and the pool fills again
  CHECK(Backends(db, 4 + 1) == 4 + 1);  // with the shared reads' one (EveryKindOfCallSucceeds)
}

// Makes PL/pgSQL `body` run before every INSERT into each of tenant_acme's `tables` (a
// trigger function `name`), as a server would act or fail on its own.
void BeforeInsertsInAcme(const std::string& db, const std::string& name, const std::string& body,
                         const std::vector<std::string>& tables) {
  std::string sql = fmt::format(
      "CREATE FUNCTION tenant_acme.{0}() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN {1} END $$;",
      name, body);
  for (const std::string& table : tables)
    sql += fmt::format(
        " CREATE TRIGGER {0} BEFORE INSERT ON tenant_acme.{1} FOR EACH STATEMENT EXECUTE FUNCTION "
        "tenant_acme.{0}();",
        name, table);
  Exec(db, sql);
}

// What a process writes to its standard error while alive: fd 2 goes to a file meanwhile.
class StderrCapture {
 public:
  StderrCapture() : file_(std::tmpfile()), saved_(::dup(2)) {
    REQUIRE(file_ != nullptr);
    REQUIRE(saved_ >= 0);
    std::fflush(stderr);
    REQUIRE(::dup2(::fileno(file_), 2) == 2);
  }
  ~StderrCapture() { Restore(); }
  // Ends the capture and returns what was written.
  std::string Text() {
    Restore();
    std::string text;
    std::rewind(file_);
    for (int c; (c = std::fgetc(file_)) != EOF;) text += static_cast<char>(c);
    return text;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_;
};

// libpq hands the server's warnings, and the message of a server that ends an idle
// connection, to a notice processor that prints them on stderr: the embedding
// application's, which a library has no business writing to.
TEST_CASE("the server's warnings and farewells never reach the process's stderr") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  BeforeInsertsInAcme(db, "warn", "RAISE WARNING 'a warning from a trigger'; RETURN NULL;",
                      {"appointments"});
  std::string written;
  {
    StderrCapture capture;
    Must(Book(*storage, acme, Booking(chair.id, T0() + 2h, 30min)));  // the trigger warns
    FillPool(*storage, acme, 4);
    Exec(db,
         "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
         "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EveryKindOfCallSucceeds(*storage, acme, chair, T0() + 3h);
    written = capture.Text();
  }
  CHECK_MESSAGE(written.empty(), "written to stderr:\n" << written);
}

TEST_CASE("a transaction whose server shut down immediately fails unavailable, not internal") {
  std::string db = NewPgDatabase();
  PgProxy proxy(TestPgConninfo());
  auto storage = Open(proxy.Through(db), {.pool_size = 2});
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  // The server shuts down immediately (or crashes) under two open transactions: a WARNING
  // to each, then the end of the stream, and no error with a SQLSTATE.
  auto reading = Must(storage->BeginTenant(acme, TxnMode::kRead));
  auto writing = Must(storage->BeginShared(TxnMode::kWrite));
  CHECK(proxy.ShutDownImmediately() == 2);
  auto listed = reading->ListResources();
  REQUIRE_FALSE(listed.ok());
  CHECK_MESSAGE(listed.error().code() == StatusCode::kUnavailable, listed.error().ToString());
  CHECK_MESSAGE(listed.error().message().find("lost the connection") != std::string::npos,
                listed.error().ToString());
  auto found = writing->FindTenantBySlug("acme");
  REQUIRE_FALSE(found.ok());
  CHECK_MESSAGE(found.error().code() == StatusCode::kUnavailable, found.error().ToString());
  Status committed = writing->Commit();
  CHECK_MESSAGE(committed.code() == StatusCode::kUnavailable, committed.ToString());
  reading.reset();
  writing.reset();
  // Neither connection went back to the pool: the next transactions get new ones.
  CHECK(ResourceNames(*storage, acme, TxnMode::kRead) == std::vector<std::string>{"Chair"});
  Must(Book(*storage, acme, Booking(chair.id, T0() + 1h, 30min)));
}

TEST_CASE("after an immediate shutdown or an outage no call fails once the server is back") {
  std::string db = NewPgDatabase();
  PgProxy proxy(TestPgConninfo());
  auto storage = Open(proxy.Through(db));
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  FillPool(*storage, acme, 4);
  // The server restarts with -m immediate while the pool's connections are idle.
  CHECK(proxy.ShutDownImmediately() == 4);
  EveryKindOfCallSucceeds(*storage, acme, chair, T0() + 1h);

  // Down for a while: every call answers unavailable at once, whatever it is.
  FillPool(*storage, acme, 4);
  proxy.SetMode(PgProxy::Mode::kRefuse);
  proxy.DropAll();
  const auto down = std::chrono::steady_clock::now();
  auto epoch = storage->SharedEpoch();
  REQUIRE_FALSE(epoch.ok());
  CHECK_MESSAGE(epoch.error().code() == StatusCode::kUnavailable, epoch.error().ToString());
  auto read = storage->BeginTenant(acme, TxnMode::kRead);
  REQUIRE_FALSE(read.ok());
  CHECK_MESSAGE(read.error().code() == StatusCode::kUnavailable, read.error().ToString());
  auto booked = Book(*storage, acme, Booking(chair.id, T0() + 3h, 30min));
  REQUIRE_FALSE(booked.ok());
  CHECK_MESSAGE(booked.error().code() == StatusCode::kUnavailable, booked.error().ToString());
  CHECK(std::chrono::steady_clock::now() - down < 1s);
  // Back: the first calls succeed.
  proxy.SetMode(PgProxy::Mode::kForward);
  EveryKindOfCallSucceeds(*storage, acme, chair, T0() + 4h);
}

TEST_CASE("opening a connection to a server that never answers gives up, unavailable") {
  std::string db = NewPgDatabase();
  PgProxy proxy(TestPgConninfo());
  auto storage = Open(proxy.Through(db), {.pool_size = 2, .pool_wait = 500ms});
  auto held = Must(storage->BeginShared(TxnMode::kRead));  // the pool's one open connection
  // The host goes silent: it lets new connections in and never answers them.
  proxy.SetMode(PgProxy::Mode::kSilent);
  const auto started = std::chrono::steady_clock::now();
  auto epoch = std::async(std::launch::async, [&] { return storage->SharedEpoch(); });
  auto opened = std::async(std::launch::async, [&] { return OpenStorage(proxy.Through(db), {}); });
  const bool epoch_bounded = epoch.wait_for(15s) == std::future_status::ready;
  const bool open_bounded = opened.wait_for(1s) == std::future_status::ready;
  const auto waited = std::chrono::steady_clock::now() - started;
  proxy.DropAll();  // ends the attempts that are still waiting, so the test can end
  auto epoch_result = epoch.get();
  auto open_result = opened.get();
  INFO("waited " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
  CHECK(epoch_bounded);
  CHECK(open_bounded);
  REQUIRE_FALSE(epoch_result.ok());
  CHECK_MESSAGE(epoch_result.error().code() == StatusCode::kUnavailable,
                epoch_result.error().ToString());
  REQUIRE_FALSE(open_result.ok());
  CHECK_MESSAGE(open_result.error().code() == StatusCode::kUnavailable,
                open_result.error().ToString());
}

// A server whose process is stopped, or stuck on a disk that hangs, keeps its connections
// open (its kernel answers for it) and never answers a call: keepalives see nothing wrong.
// server_timeout bounds the call; the connection under it is closed, never reused.
TEST_CASE("a server that stops answering fails a call at server_timeout, then works again") {
  std::string db = NewPgDatabase();
  PgProxy proxy(TestPgConninfo());
  auto storage = Open(proxy.Through(db), {.pool_size = 2, .server_timeout = 1500ms});
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  FillPool(*storage, acme, 2);  // both calls below find a connection open: none is opened
  auto reading = Must(storage->BeginTenant(acme, TxnMode::kRead));
  const auto begun = std::chrono::steady_clock::now();
  proxy.Freeze(true);
  auto listed = std::async(std::launch::async, [&] { return reading->ListResources(); });
  auto booked = std::async(std::launch::async, [&] {
    return Book(*storage, acme, Booking(chair.id, T0() + 1h, 30min));
  });
  const bool bounded = listed.wait_for(10s) == std::future_status::ready &&
                       booked.wait_for(10s) == std::future_status::ready;
  const auto waited = std::chrono::steady_clock::now() - begun;
  if (!bounded) proxy.DropAll();  // ends the calls still waiting, so the test can end
  INFO("waited " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
  REQUIRE(bounded);
  CHECK(waited >= 1500ms);
  auto listed_result = listed.get();
  auto booked_result = booked.get();
  REQUIRE_FALSE(listed_result.ok());
  REQUIRE_FALSE(booked_result.ok());
  for (const Status& failed : {listed_result.error(), booked_result.error()}) {
    CHECK_MESSAGE(failed.code() == StatusCode::kUnavailable, failed.ToString());
    CHECK_MESSAGE(failed.message().find("server_timeout") != std::string::npos, failed.ToString());
  }
  reading.reset();
  // The server answers again: the frozen connections were closed, and no call fails.
  proxy.Freeze(false);
  EveryKindOfCallSucceeds(*storage, acme, chair, T0() + 2h);
  CHECK(Rows(db, "SELECT COUNT(*) FROM tenant_acme.appointments")[0] == "2");
}

// The bound is on each wait for the server, not on the transaction: a caller may keep one
// open longer (and a tenant's first load may take longer, in memory, between its reads).
TEST_CASE("a transaction open longer than server_timeout, its calls each answered, commits") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.server_timeout = 1s});
  Tenant acme = NewTenant(*storage, "acme");
  auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
  Must(txn->BumpChangeSeq());
  NewResourceIn(*txn, "Chair");
  std::this_thread::sleep_for(2500ms);  // the limit, and the watch's second, have passed
  NewResourceIn(*txn, "Table");
  Must(txn->Commit());
  txn.reset();
  CHECK(ResourceNames(*storage, acme, TxnMode::kRead) ==
        std::vector<std::string>{"Chair", "Table"});
  auto negative = OpenStorage(db, {.server_timeout = -1ms});
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.error().code() == StatusCode::kInvalidArgument);
  CHECK(negative.error().message().starts_with("server_timeout: "));
}

// A server the network has lost never answers, and without keepalives a connection waiting
// for it would wait as long as the kernel keeps the connection: for ever. Every connection
// probes an idle or waiting connection and bounds unacknowledged data, unless the conninfo
// says otherwise. (libpq acts on these over TCP; the test cluster is on a Unix socket, and a
// real partition cannot be made here: this checks the settings the connections carry.)
TEST_CASE("connections give up on a server the network lost, unless told otherwise") {
  std::string db = NewPgDatabase();
  auto defaults = Open(db);
  CHECK(Must(PooledConninfoForTesting(*defaults, "keepalives_idle")) == "30");
  CHECK(Must(PooledConninfoForTesting(*defaults, "keepalives_interval")) == "10");
  CHECK(Must(PooledConninfoForTesting(*defaults, "keepalives_count")) == "3");
  CHECK(Must(PooledConninfoForTesting(*defaults, "tcp_user_timeout")) == "60000");
  auto own = Open(db + " keepalives_idle=7 tcp_user_timeout=0");
  CHECK(Must(PooledConninfoForTesting(*own, "keepalives_idle")) == "7");
  CHECK(Must(PooledConninfoForTesting(*own, "tcp_user_timeout")) == "0");
  CHECK(Must(PooledConninfoForTesting(*own, "keepalives_count")) == "3");
  Must(own->SharedEpoch());  // and they work
}

TEST_CASE("a write the server refuses for want of disk space is resource_exhausted") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair");
  // What PostgreSQL answers when its disk is full (SQLSTATE 53100, "could not extend file
  // ...: No space left on device"), raised on demand.
  BeforeInsertsInAcme(db, "no_space",
                      "RAISE EXCEPTION 'could not extend file: No space left on device' "
                      "USING ERRCODE = 'disk_full';",
                      {"resources", "appointments"});
  auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
  Must(txn->BumpChangeSeq());
  auto inserted = txn->InsertResource(chair);
  REQUIRE_FALSE(inserted.ok());
  CHECK_MESSAGE(inserted.error().code() == StatusCode::kResourceExhausted,
                inserted.error().ToString());
  CHECK(inserted.error().message().find("No space left on device") != std::string::npos);
  txn.reset();
  // A booking, whose rows go in the pipeline with its commit.
  auto booked = Book(*storage, acme, Booking(chair.id, T0() + 1h, 30min));
  REQUIRE_FALSE(booked.ok());
  CHECK_MESSAGE(booked.error().code() == StatusCode::kResourceExhausted, booked.error().ToString());
  // With space again, the same connections write.
  Exec(db, "DROP TRIGGER no_space ON tenant_acme.appointments");
  Must(Book(*storage, acme, Booking(chair.id, T0() + 1h, 30min)));
}

TEST_CASE("a write whose id reservation failed is spoilt: its commit never reports success") {
  std::string db = NewPgDatabase();
  auto first = Open(db);
  Tenant acme = NewTenant(*first, "acme");
  Resource chair = NewResource(*first, acme, "Chair");  // first takes the block 1..64
  // Another process, with no block of ids yet; the sequence cannot give it one.
  auto other = Open(db);
  Exec(db, "ALTER SEQUENCE public.object_ids MAXVALUE 2");
  auto txn = Must(other->BeginTenant(acme, TxnMode::kWrite));
  Must(txn->BumpChangeSeq());
  Resource renamed = chair;
  renamed.name = "Renamed";
  Must(txn->UpdateResource(renamed));
  Resource extra = chair;
  extra.name = "Extra";
  auto inserted = txn->InsertResource(extra);
  REQUIRE_FALSE(inserted.ok());  // nextval failed inside the transaction, which is now aborted
  Status committed = txn->Commit();
  txn.reset();
  std::vector<std::string> names = ResourceNames(*first, acme, TxnMode::kRead);
  INFO("commit: " << committed.ToString() << "; stored: " << names.front());
  // Either the commit fails, or what it acknowledged is stored: never OK with nothing saved.
  CHECK((!committed.ok() || names == std::vector<std::string>{"Renamed"}));
  CHECK_FALSE(committed.ok());
}

// The pre-checks of InsertDomain and UpdateDomain give the message; what holds between
// concurrent writers, and against a write that skips them, is the schema's indexes.
TEST_CASE("a domain name is claimed once per tenant and verified for one, by the schema") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  Tenant globex = NewTenant(*storage, "globex");
  const std::string insert =
      "INSERT INTO public.domains (id, name, tenant, is_primary, is_custom_domain,"
      " verification, created_at) VALUES ({}, 'a.example.com', {}, 0, 1, '{}', 0)";
  Exec(db, fmt::format(fmt::runtime(insert), 9001, acme.id.value(), "verified"));
  Exec(db, fmt::format(fmt::runtime(insert), 9002, globex.id.value(), "pending"));
  Outcome twice = Run(db, fmt::format(fmt::runtime(insert), 9003, globex.id.value(), "failed"));
  CHECK_FALSE(twice.ok);
  CHECK(twice.error.find("domains_by_tenant_name") != std::string::npos);
  Outcome both = Run(db, "UPDATE public.domains SET verification = 'verified' WHERE id = 9002");
  CHECK_FALSE(both.ok);
  CHECK(both.error.find("domains_verified_name") != std::string::npos);
  Exec(db, "UPDATE public.domains SET verification = 'failed' WHERE id = 9001");
  Exec(db, "UPDATE public.domains SET verification = 'verified' WHERE id = 9002");
  auto shared = Must(storage->BeginShared(TxnMode::kRead));
  CHECK(Must(shared->FindDomainByName("a.example.com")).tenant == globex.id);
}

TEST_CASE("a database from before domain claims keeps its domains when migrated") {
  std::string db = NewPgDatabase();
  Tenant acme, globex;
  Domain verified;
  {
    auto storage = Open(db);
    acme = NewTenant(*storage, "acme");
    globex = NewTenant(*storage, "globex");
    auto shared = Must(storage->BeginShared(TxnMode::kWrite));
    verified = Must(shared->InsertDomain({.name = "book.acme.com",
                                          .tenant = acme.id,
                                          .is_custom_domain = true,
                                          .verification = DomainVerification::kVerified}));
    Must(shared->Commit());
  }
  // The constraint as migration 2 made it, and migration 9 not yet applied.
  Exec(db, "DROP INDEX public.domains_by_tenant_name");
  Exec(db, "DROP INDEX public.domains_verified_name");
  Exec(db, "ALTER TABLE public.domains ADD CONSTRAINT domains_name_key UNIQUE (name)");
  Exec(db, "DELETE FROM public.schema_migrations WHERE version = 9");

  auto storage = Open(db);
  CHECK(Rows(db, "SELECT MAX(version) FROM public.schema_migrations")[0] == "9");
  auto shared = Must(storage->BeginShared(TxnMode::kWrite));
  CHECK(Must(shared->FindDomainByName("book.acme.com")).id == verified.id);
  Must(shared->InsertDomain(
      {.name = "book.acme.com", .tenant = globex.id, .is_custom_domain = true}));
  Must(shared->Commit());
}

TEST_CASE("slugs that differ only by case cannot both exist") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  NewTenant(*storage, "acme");
  for (const char* slug : {"ACME", "Acme", "acme"}) {
    auto dup = storage->CreateTenant({.slug = slug, .name = "Dup", .time_zone = "UTC"});
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.error().code() == StatusCode::kAlreadyExists);
  }
  CHECK(Rows(db, "SELECT COUNT(*) FROM public.tenants")[0] == "1");
  CHECK(Rows(db, "SELECT COUNT(*) FROM pg_namespace WHERE nspname ILIKE 'tenant_acme'")[0] == "1");
  // A slug too long for a schema name is refused, not truncated into another's schema.
  CHECK(storage->CreateTenant({.slug = std::string(57, 'a'), .name = "Long", .time_zone = "UTC"})
            .error()
            .code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a failed tenant creation leaves no schema and no row") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);

  SUBCASE("a schema of that name is already there") {
    Exec(db, "CREATE SCHEMA tenant_evil");
    auto created = storage->CreateTenant({.slug = "evil", .name = "Evil", .time_zone = "UTC"});
    REQUIRE_FALSE(created.ok());
    CHECK(created.error().code() == StatusCode::kFailedPrecondition);
    CHECK(created.error().message().find("tenant_evil") != std::string::npos);
    CHECK(Rows(db, "SELECT COUNT(*) FROM public.tenants")[0] == "0");
    CHECK(Tables(db, "tenant_evil").empty());  // the stranger's schema is untouched
  }

  SUBCASE("a migration fails halfway") {
    // An event trigger makes the fourth CREATE TABLE of the new schema fail, after the
    // schema and several tables exist.
    Exec(db,
         "CREATE FUNCTION public.fail_holds() RETURNS event_trigger LANGUAGE plpgsql AS $$\n"
         "DECLARE r record;\n"
         "BEGIN\n"
         "  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP\n"
         "    IF r.object_identity = 'tenant_broken.holds' THEN\n"
         "      RAISE EXCEPTION 'injected failure';\n"
         "    END IF;\n"
         "  END LOOP;\n"
         "END $$");
    Exec(db,
         "CREATE EVENT TRIGGER fail_holds ON ddl_command_end EXECUTE FUNCTION public.fail_holds()");
    auto created = storage->CreateTenant({.slug = "broken", .name = "Broken", .time_zone = "UTC"});
    REQUIRE_FALSE(created.ok());
    CHECK(created.error().message().find("injected failure") != std::string::npos);
    CHECK(created.error().message().find("migration 1") != std::string::npos);
    CHECK_FALSE(SchemaExists(db, "tenant_broken"));
    CHECK(Rows(db, "SELECT COUNT(*) FROM public.tenants")[0] == "0");
    auto txn = Must(storage->BeginShared(TxnMode::kRead));
    CHECK(txn->FindTenantBySlug("broken").error().code() == StatusCode::kNotFound);
    txn.reset();

    // Nothing was left that stands in the way once the cause is gone.
    Exec(db, "DROP EVENT TRIGGER fail_holds");
    Tenant broken = NewTenant(*storage, "broken");
    CHECK(ResourceNames(*storage, broken, TxnMode::kRead).empty());
  }
}

TEST_CASE("deleting a tenant drops its schema with its rows, in one transaction") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  Tenant globex = NewTenant(*storage, "globex");
  ResourceId chair = NewResource(*storage, acme, "Chair").id;

  SUBCASE("a failure part way leaves everything as it was") {
    Exec(db,
         "CREATE FUNCTION public.refuse_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$\n"
         "BEGIN RAISE EXCEPTION 'injected failure'; END $$");
    Exec(db, "CREATE EVENT TRIGGER refuse_drop ON sql_drop EXECUTE FUNCTION public.refuse_drop()");
    Status failed = storage->DeleteTenant(acme);
    CHECK(failed.message().find("injected failure") != std::string::npos);
    Exec(db, "DROP EVENT TRIGGER refuse_drop");
    CHECK(SchemaExists(db, "tenant_acme"));
    CHECK(Rows(db, "SELECT slug FROM public.tenants ORDER BY id") ==
          std::vector<std::string>{"acme", "globex"});
    CHECK(Rows(db, "SELECT COUNT(*) FROM public.deleted_tenants")[0] == "0");
    CHECK(ResourceNames(*storage, acme, TxnMode::kRead) == std::vector<std::string>{"Chair"});
  }

  SUBCASE("a write prepared before the deletion fails closed at its commit") {
    auto other = Open(db);  // another process, which has checked the schema
    CHECK(CurrentSeq(*other, acme) >= 1);
    auto txn =
        Must(other->BeginTenantWriteAt(acme, CurrentSeq(*other, acme), Must(other->SharedEpoch())));
    REQUIRE(txn != nullptr);
    REQUIRE(txn->InsertAppointment(Booking(chair, T0() + 24h, 1h)));
    Must(storage->DeleteTenant(acme));
    Status commit = txn->Commit();
    CHECK_FALSE(commit.ok());
    CHECK_FALSE(SchemaExists(db, "tenant_acme"));
    txn.reset();
    CHECK(other->BeginTenant(acme, TxnMode::kRead).error().code() == StatusCode::kNotFound);
  }

  SUBCASE("done: no schema, no rows, the slug kept as taken; a schema not its own stays") {
    Must(storage->DeleteTenant(acme));
    CHECK_FALSE(SchemaExists(db, "tenant_acme"));
    CHECK(Rows(db, "SELECT slug FROM public.tenants") == std::vector<std::string>{"globex"});
    CHECK(Rows(db, "SELECT slug_key || ':' || tenant_id FROM public.deleted_tenants") ==
          std::vector<std::string>{"acme:" + std::to_string(acme.id.value())});
    CHECK(storage->BeginTenant(acme, TxnMode::kRead).error().code() == StatusCode::kNotFound);
    Exec(db, "UPDATE tenant_globex.tenant_meta SET tenant_id = tenant_id + 1000");
    Must(storage->DeleteTenant(globex));
    CHECK(SchemaExists(db, "tenant_globex"));
    CHECK(Rows(db, "SELECT COUNT(*) FROM public.tenants")[0] == "0");
  }
}

TEST_CASE("the EXCLUDE constraint refuses overlapping bookings of a capacity-1 resource") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);
  Tenant acme = NewTenant(*storage, "acme");
  Resource chair = NewResource(*storage, acme, "Chair", 1);
  Resource room = NewResource(*storage, acme, "Room", 2);

  CHECK(Rows(db,
             "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n ON "
             "n.oid = c.connamespace WHERE n.nspname = 'tenant_acme' AND c.contype = 'x'") ==
        std::vector<std::string>{
            "EXCLUDE USING gist (resource_id WITH =, tstzrange(occupied_start, occupied_end) "
            "WITH &&) WHERE ((active AND cap1))"});

  Instant ten = T0() + 1h;
  Appointment first = Must(Book(*storage, acme, Booking(chair.id, ten, 30min)));
  CHECK(Rows(db, "SELECT cap1 AND active FROM tenant_acme.appointment_occupancy") ==
        std::vector<std::string>{"t"});

  // Raw SQL, as a buggy writer or another tool would do it: refused by the database.
  auto raw = [&](long long id, Instant start, Duration length, ResourceId r) {
    return Run(
        db,
        fmt::format("INSERT INTO tenant_acme.appointments (id, service, resources, customer, "
                    "start_at, end_at, buffer_before, buffer_after, status, notes, "
                    "created_by, created_at, updated_at, version, outside_hours, change_seq) "
                    "VALUES ({}, 1, '[{}]', 1, {}, {}, 0, 0, 'confirmed', '', 1, 0, 0, 1, 0, 99)",
                    id, r.value(), Micros(start), Micros(start + length)));
  };
  Outcome overlap = raw(900001, ten + 15min, 30min, chair.id);
  CHECK_FALSE(overlap.ok);
  CHECK(overlap.sqlstate == "23P01");
  // Back to back is no overlap; capacity 2 is not guarded by the constraint.
  CHECK(raw(900002, ten + 30min, 30min, chair.id).ok);
  CHECK(raw(900003, ten, 30min, room.id).ok);
  CHECK(raw(900004, ten, 30min, room.id).ok);

  // Through the backend the same clash is a conflict, and the transaction rolls back.
  auto clash = Book(*storage, acme, Booking(chair.id, ten - 10min, 20min));
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.error().code() == StatusCode::kConflict);
  // Nothing of it stayed: the first booking and the three raw rows that went in.
  CHECK(Rows(db, "SELECT COUNT(*) FROM tenant_acme.appointments")[0] == "4");

  // Cancelling frees the time; moving keeps the occupancy in step.
  {
    auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    first.status = AppointmentStatus::kCancelled;
    Must(txn->UpdateAppointment(first));
    Must(txn->Commit());
  }
  Appointment second = Must(Book(*storage, acme, Booking(chair.id, ten - 10min, 20min)));
  {
    auto txn = Must(storage->BeginTenant(acme, TxnMode::kWrite));
    Must(txn->BumpChangeSeq());
    second.start = ten + 2h;
    second.end = second.start + 20min;
    Must(txn->UpdateAppointment(second));
    Must(txn->Commit());
  }
  CHECK(raw(900005, ten - 10min, 20min, chair.id).ok);  // its old time is free now
  CHECK(Rows(db, fmt::format("SELECT COUNT(*) FROM tenant_acme.appointment_occupancy WHERE "
                             "appointment_id = {}",
                             second.id.value()))[0] == "1");
}

TEST_CASE("writers of a tenant queue on the change sequence, across storages like processes") {
  std::string db = NewPgDatabase();
  auto one = Open(db);
  auto two = Open(db, {.busy_timeout = 200ms});
  Tenant acme = NewTenant(*one, "acme");

  auto first = Must(one->BeginTenant(acme, TxnMode::kWrite));
  CHECK(Must(first->BumpChangeSeq()) == 1);
  // The other storage's writer waits on the row lock, past its busy_timeout: unavailable.
  {
    auto second = Must(two->BeginTenant(acme, TxnMode::kWrite));
    auto seq = second->BumpChangeSeq();
    REQUIRE_FALSE(seq.ok());
    CHECK(seq.error().code() == StatusCode::kUnavailable);
  }
  // With time to wait, it goes once the first commits, and sees its change.
  auto later = std::async(std::launch::async, [&]() -> std::int64_t {
    auto txn = Must(one->BeginTenant(acme, TxnMode::kRead));  // readers never wait
    (void)Must(txn->ChangeSeq());
    auto second = Must(Open(db)->BeginTenant(acme, TxnMode::kWrite));
    return Must(second->BumpChangeSeq());
  });
  CHECK(later.wait_for(300ms) == std::future_status::timeout);
  Must(first->Commit());
  CHECK(later.get() == 2);
}

TEST_CASE("an exhausted pool fails with unavailable after pool_wait, never blocking") {
  std::string db = NewPgDatabase();
  auto storage = Open(db, {.pool_size = 1, .pool_wait = 200ms});
  Tenant acme = NewTenant(*storage, "acme");
  auto held = Must(storage->BeginTenant(acme, TxnMode::kRead));
  auto started = std::chrono::steady_clock::now();
  auto shared = storage->BeginShared(TxnMode::kWrite);
  REQUIRE_FALSE(shared.ok());
  CHECK(shared.error().code() == StatusCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - started >= 200ms);
  CHECK(storage->BeginTenant(acme, TxnMode::kWrite).error().code() == StatusCode::kUnavailable);
  // Shared reads have their own pool, which runs out the same way.
  {
    auto read = Must(storage->BeginShared(TxnMode::kRead));
    auto again = storage->BeginShared(TxnMode::kRead);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code() == StatusCode::kUnavailable);
    CHECK(storage->SharedEpoch().error().code() == StatusCode::kUnavailable);
  }
  held.reset();
  CHECK(storage->BeginShared(TxnMode::kWrite).ok());
}

TEST_CASE("without the right to create btree_gist, opening says what an admin must do") {
  std::string admin = TestPgConninfo();
  std::string role = fmt::format("smooth_plain_{}", ::getpid());
  std::string db = NewPgDatabase();  // owned by the superuser; no btree_gist yet
  Exec(admin, "DROP ROLE IF EXISTS " + role);
  Exec(admin, "CREATE ROLE " + role + " LOGIN");
  // It may create tables in public, but not extensions in the database (btree_gist is a
  // trusted extension: that takes CREATE on the database, or a superuser).
  Exec(db, "GRANT CREATE ON SCHEMA public TO " + role);
  auto opened = OpenStorage(db + " user=" + role);
  REQUIRE_FALSE(opened.ok());
  INFO(opened.error().message());
  CHECK(opened.error().code() == StatusCode::kFailedPrecondition);
  CHECK(opened.error().message().find("CREATE EXTENSION btree_gist") != std::string::npos);
  CHECK(opened.error().message().find("migration 1 'btree_gist_extension'") != std::string::npos);
  // Once an administrator has created it, the same role opens the database.
  Exec(db, "CREATE EXTENSION btree_gist");
  {
    auto after = OpenStorage(db + " user=" + role);  // closed before the role goes
    CHECK_MESSAGE(after.ok(), (after.ok() ? "" : after.error().ToString()));
  }
  Exec(db, "REASSIGN OWNED BY " + role + " TO smooth");
  Exec(db, "DROP OWNED BY " + role);
  Exec(admin, "DROP ROLE " + role);
}

TEST_CASE("a role that may not create tables in public is told that, not about btree_gist") {
  std::string admin = TestPgConninfo();
  std::string role = fmt::format("smooth_reader_{}", ::getpid());
  std::string db = NewPgDatabase();  // no btree_gist, and PostgreSQL 15 gives PUBLIC no CREATE
  Exec(admin, "DROP ROLE IF EXISTS " + role);
  Exec(admin, "CREATE ROLE " + role + " LOGIN");
  {
    auto opened = OpenStorage(db + " user=" + role);
    REQUIRE_FALSE(opened.ok());
    INFO(opened.error().message());
    CHECK(opened.error().message().find("permission denied for schema public") !=
          std::string::npos);
    CHECK(opened.error().message().find("btree_gist") == std::string::npos);
  }
  Exec(admin, "DROP ROLE " + role);
}

// What a database holds that an install would add to: every relation in public, every
// extension and every schema, one name a line.
std::vector<std::string> Contents(const std::string& db) {
  return Rows(db,
              "SELECT 'relation ' || c.relname FROM pg_class c JOIN pg_namespace n "
              "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
              "UNION ALL SELECT 'extension ' || extname FROM pg_extension "
              "UNION ALL SELECT 'schema ' || nspname FROM pg_namespace ORDER BY 1");
}

bool Has(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST_CASE("a database that holds another application's tables is refused and left as it was") {
  std::string db = NewPgDatabase();
  const std::string name = Rows(db, "SELECT current_database()")[0];
  std::vector<std::string> expected;  // what the refusal names, in its order
  SUBCASE("tables, a view and a sequence in public") {
    Exec(db,
         "CREATE TABLE orders (id serial PRIMARY KEY); CREATE TABLE customers (id int); "
         "CREATE VIEW big_orders AS SELECT * FROM orders");
    expected = {"public.big_orders, public.customers, public.orders and 1 more"};
  }
  SUBCASE("a schema_migrations table that is not libsmooth's (golang-migrate's)") {
    Exec(db, "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean)");
    Exec(db, "INSERT INTO schema_migrations VALUES (3, false)");
    expected = {"public.schema_migrations"};
  }
  SUBCASE("a schema_migrations with libsmooth's column names but other types") {
    Exec(db,
         "CREATE TABLE schema_migrations (version text PRIMARY KEY, name text, "
         "applied_at timestamptz); CREATE TABLE orders (id int)");
    expected = {"public.orders, public.schema_migrations"};
  }
  SUBCASE("a tenant schema and nothing in public") {
    Exec(db, "CREATE SCHEMA tenant_acme; CREATE TABLE tenant_acme.resources (id int)");
    expected = {"schema tenant_acme"};
  }
  const std::vector<std::string> before = Contents(db);

  auto refused = OpenStorage(db);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.error().ToString());
  CHECK(refused.error().code() == StatusCode::kFailedPrecondition);
  const std::string& message = refused.error().message();
  CHECK(message.starts_with("postgresql database '" + name + "': not a libsmooth database"));
  for (const std::string& part : expected) CHECK(message.find(part) != std::string::npos);
  CHECK(message.ends_with("refusing to install into it"));  // nothing about btree_gist
  // Nothing was made: no version table, no btree_gist, no tenant table.
  CHECK(Contents(db) == before);
  CHECK_FALSE(Has(Contents(db), "extension btree_gist"));
}

TEST_CASE("an empty database is installed into, an administrator's extensions or not") {
  std::string db = NewPgDatabase();
  SUBCASE("nothing at all") {}
  SUBCASE("btree_gist, created by an administrator: it makes no relation in public") {
    Exec(db, "CREATE EXTENSION btree_gist");
    CHECK(Rows(db,
               "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
               "c.relnamespace WHERE n.nspname = 'public'")[0] == "0");
  }
  SUBCASE("an extension whose composite types are in public (tablefunc)") {
    // Their extension dependency is recorded on the pg_type row, not the pg_class one.
    Exec(db, "CREATE EXTENSION tablefunc");
    REQUIRE(Has(Contents(db), "relation tablefunc_crosstab_2"));
  }
  SUBCASE("an extension whose view is in public") {
    Exec(db, "CREATE EXTENSION pg_buffercache");
    REQUIRE(Has(Contents(db), "relation pg_buffercache"));
  }
  auto storage = Open(db);
  NewTenant(*storage, "acme");
  CHECK(Has(Contents(db), "relation schema_migrations"));
  CHECK(Has(Contents(db), "schema tenant_acme"));
}

TEST_CASE("a libsmooth database reopens, with whatever has been added to it since") {
  std::string db = NewPgDatabase();
  MadeElsewhere(db, "acme", "Chair 1");
  Exec(db, "CREATE TABLE public.notes (id int)");
  auto storage = Open(db);
  Tenant acme = Must(Must(storage->BeginShared(TxnMode::kRead))->FindTenantBySlug("acme"));
  CHECK(ResourceNames(*storage, acme, TxnMode::kRead) == std::vector<std::string>{"Chair 1"});
}

TEST_CASE("postgresql:// URLs and conninfo strings both open the backend") {
  std::string db = NewPgDatabase();
  auto storage = Open(db);  // key=value
  NewTenant(*storage, "acme");
  // The same database as a URI, socket directory and all, percent-encoded.
  std::string dir = Rows(db, "SELECT current_setting('unix_socket_directories')")[0];
  std::string name = Rows(db, "SELECT current_database()")[0];
  std::string encoded;
  for (char c : dir) encoded += c == '/' ? std::string("%2F") : std::string(1, c);
  auto uri = OpenStorage(fmt::format("postgresql://smooth@{}/{}", encoded, name));
  REQUIRE_MESSAGE(uri.ok(), uri.error().ToString());
  auto txn = Must((*uri)->BeginShared(TxnMode::kRead));
  CHECK(Must(txn->FindTenantBySlug("acme")).slug == "acme");
  CHECK(OpenStorage("postgresql://[bad").error().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace smooth::testing
