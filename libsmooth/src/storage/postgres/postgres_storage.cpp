// The PostgreSQL backend over the generic SOCI storage. PostgreSQL specifics live here:
// one schema per tenant, entered per transaction with SET LOCAL search_path (never a
// session-level SET, so a pooled connection carries no tenant from one transaction to the
// next) after checking the schema exists; one bounded pool for the shared tables and every
// tenant; row locks that serialize writers across processes; the object_ids sequence; and
// tenant creation as one transaction.
#include "storage/postgres/postgres_storage.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "storage/postgres/pipeline.hpp"
#include "storage/postgres/postgres_schema.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sql/session_pool.hpp"
#include "storage/sql/transactions.hpp"

namespace smooth::internal::postgres {
namespace {

using sql::Connection;
using sql::SessionPool;
using sql::WriteGate;

// pg_advisory_xact_lock key held by every migration transaction, so processes opening the
// same database at once apply each migration once, one after the other ("smooth" + 1).
constexpr long long kMigrationLockKey = 0x736d6f6f74680001;

class PostgresDialect final : public sql::SqlDialect {
 public:
  static const PostgresDialect& Instance() {
    static const PostgresDialect dialect;
    return dialect;
  }

  // A shared transaction starts with search_path set to `public` alone, so no "$user"
  // schema can shadow the shared tables; a tenant transaction sets its own schema alone
  // instead, in its BEGIN's statement string (EnterTenant). SET LOCAL ends with the
  // transaction. Writers run READ COMMITTED: once they hold the
  // row lock that serializes them (shared_ids, change_seq), each statement sees every
  // commit before it. Readers get one snapshot for the whole transaction, so a change
  // sequence and the rows read with it agree.
  void Begin(soci::session& session, TxnMode mode) const override {
    session << BeginSql(mode) << "; SET LOCAL search_path TO public";
  }

  static const char* BeginSql(TxnMode mode) {
    return mode == TxnMode::kWrite ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                                   : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  }

  sql::SqlErrorKind Classify(const soci::soci_error& e) const override {
    const auto* pe = dynamic_cast<const soci::postgresql_soci_error*>(&e);
    if (pe == nullptr) return sql::SqlErrorKind::kOther;
    return ClassifySqlstate(pe->sqlstate());
  }

  bool StatementErrorAbortsTransaction() const override { return true; }
};

std::string TenantLabel(std::string_view slug) { return fmt::format("tenant '{}'", slug); }

Status FromSoci(const soci::soci_error& e, std::string_view what) {
  return sql::StatusOfFailure(PostgresDialect::Instance().Classify(e),
                              fmt::format("{}: {}", what, e.get_error_message()));
}

// Whether `e` says the connection it came from is gone.
bool ConnectionLost(const soci::soci_error& e) {
  return PostgresDialect::Instance().Classify(e) == sql::SqlErrorKind::kConnectionLost;
}

// Ids for tenant rows from the object_ids sequence, taken on the asking transaction's own
// connection (nextval is never rolled back, so ids of rolled-back rows are not reused).
// The sequence advances by 64 and each value reserves that block in this process.
class SequenceIdSource final : public sql::ObjectIdSource {
 public:
  static constexpr long long kBlock = 64;  // the sequence's INCREMENT BY

  // The round trip for a new block is made without the lock, so that writers needing one
  // at once each wait for their own call (bounded by server_timeout), not for one another's
  // in turn. Ids stay increasing within the process: a block is installed only above the
  // one in use; a lower one, overtaken meanwhile, is skipped.
  Result<std::int64_t> Next(Connection& txn) override {
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (next_ < limit_) return next_++;
      }
      long long start = 0;
      try {
        txn.session() << "SELECT nextval('public.object_ids')", soci::into(start);
      } catch (const soci::soci_error& e) {
        // Before a deferred begin no ROLLBACK follows to find the connection dead.
        if (ConnectionLost(e)) txn.MarkBroken();
        return FromSoci(e, "reserving ids");
      }
      std::lock_guard lock(mu_);
      if (start >= limit_) {
        next_ = start;
        limit_ = start + kBlock;
      }
      if (next_ < limit_) return next_++;
    }
  }

 private:
  std::mutex mu_;
  long long next_ = 0, limit_ = 0;  // the unused part of the block; guarded by mu_
};

class PostgresStorage final : public Storage {
 public:
  PostgresStorage(std::string conninfo, StorageOptions options)
      : conninfo_(std::move(conninfo)),
        options_(std::move(options)),
        watch_(options_.server_timeout.count() > 0
                   ? std::make_shared<sql::ServerWatch>(options_.server_timeout)
                   : nullptr),
        pool_(
            "postgresql", options_.pool_size, options_.pool_wait, [this] { return Connect(); },
            IdleConnectionAlive),
        reads_(
            "postgresql (shared reads)", options_.pool_size, options_.pool_wait,
            [this] { return Connect(); }, IdleConnectionAlive),
        shared_gate_("shared database"),
        ids_(std::make_shared<SequenceIdSource>()) {}

  // Migrates `public`. Each tenant's schema is migrated on its first use (EnterTenant).
  Status Init() {
    auto conn = Connect();
    if (!conn) return conn.error();
    Connection& c = **conn;
    SMOOTH_RETURN_IF_ERROR(MigrateSharedOn(c));
    pool_.Offer(std::move(*conn));
    return {};
  }

  Result<std::unique_ptr<SharedTransaction>> BeginShared(TxnMode mode) override {
    auto txn = BeginSharedImpl(mode);
    if (!txn) return txn.error();
    return std::unique_ptr<SharedTransaction>(std::move(*txn));
  }

  Result<Tenant> CreateTenant(Tenant tenant) override {
    auto schema = TenantSchemaName(tenant.slug);
    if (!schema) return schema.error();
    // One transaction: the tenant row, CREATE SCHEMA, the schema's migrations and its
    // tenant_meta row commit together or not at all (PostgreSQL's DDL is transactional).
    // The shared write lock it holds serializes tenant creation across processes.
    auto txn = BeginSharedImpl(TxnMode::kWrite);
    if (!txn) return txn.error();
    Result<Tenant> created = (*txn)->InsertTenant(std::move(tenant));
    if (!created) return created;
    std::string label = TenantLabel(created->slug);
    Status built = (*txn)->WithConnection([&](Connection& c) -> Status {
      auto exists = SchemaExists(c, *schema);
      if (!exists) return exists.error();
      if (*exists)
        return FailedPrecondition(fmt::format(
            "{}: schema {} exists without a tenant row (made by hand, or by another tool?); "
            "drop or rename it to create the tenant",
            label, *schema));
      std::string quoted = QuoteIdent(*schema);
      c.session() << fmt::format("CREATE SCHEMA {}; SET LOCAL search_path TO {}", quoted, quoted);
      SMOOTH_RETURN_IF_ERROR(
          sql::MigrateInTransaction(c, PostgresDialect::Instance(), label, TenantMigrations()));
      long long id = created->id.value();
      std::string slug = created->slug;
      c.session() << "INSERT INTO tenant_meta (tenant_id, slug) VALUES (:id, :slug)", soci::use(id),
          soci::use(slug);
      c.session() << "SET LOCAL search_path TO public";
      return {};
    });
    if (!built.ok()) return built;  // the rollback takes the schema and the row with it
    SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
    return created;
  }

  Status DeleteTenant(const Tenant& tenant, const BeforeDelete& before) override {
    auto schema = TenantSchemaName(tenant.slug);
    // One transaction, as CreateTenant: the rows and the schema go together or not at all.
    // DROP SCHEMA waits for the tenant's transactions in flight, and those that begin after
    // it find the schema gone (EnterTenant; a deferred write's guard names the schema).
    auto txn = BeginSharedImpl(TxnMode::kWrite);
    if (!txn) return txn.error();
    if (before) SMOOTH_RETURN_IF_ERROR(before(**txn));
    SMOOTH_RETURN_IF_ERROR((*txn)->DeleteTenantRows(tenant, SystemClock::Default().Now()));
    if (schema) {
      SMOOTH_RETURN_IF_ERROR((*txn)->WithConnection([&](Connection& c) -> Status {
        auto exists = SchemaExists(c, *schema);
        if (!exists) return exists.error();
        if (!*exists) return {};
        // Only this tenant's schema: one that is not (made by hand, say) was never used
        // for it, and is not ours to drop.
        const std::string meta = QuoteIdent(*schema) + ".tenant_meta";
        int has_meta = 0;
        c.session() << "SELECT CASE WHEN to_regclass(:meta) IS NULL THEN 0 ELSE 1 END",
            soci::use(meta), soci::into(has_meta);
        if (has_meta == 0) return {};
        long long owner = 0;
        soci::indicator ind = soci::i_null;
        c.session() << fmt::format("SELECT tenant_id FROM {}", meta), soci::into(owner, ind);
        if (ind == soci::i_ok && owner == tenant.id.value())
          c.session() << fmt::format("DROP SCHEMA {} CASCADE", QuoteIdent(*schema));
        return {};
      }));
    }
    SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
    if (schema) {
      std::lock_guard lock(mu_);
      verified_.erase(*schema);
    }
    return {};
  }

  Result<std::int64_t> SharedEpoch() override {
    static const std::string query = "SELECT value FROM public.shared_epoch";
    return sql::ReadSharedEpoch(reads_, PostgresDialect::Instance(), query);
  }

  Result<std::unique_ptr<TenantTransaction>> BeginTenant(const Tenant& tenant,
                                                         TxnMode mode) override {
    return BeginTenantImpl(tenant, mode, nullptr);
  }

  // The bump goes in BEGIN's own statement string: one round trip for both.
  Result<BumpedWrite> BeginTenantWrite(const Tenant& tenant) override {
    auto bumped = std::make_shared<Bumped>();
    auto txn = BeginTenantImpl(tenant, TxnMode::kWrite, bumped);
    if (!txn) return txn.error();
    return BumpedWrite{std::move(*txn), bumped->seq, bumped->shared_epoch};
  }

  // What a write transaction's first statement reads: the change sequence it bumped to, and
  // the shared epoch.
  struct Bumped {
    long long seq = 0;
    long long shared_epoch = 0;
  };

  // `bumped`, when set, receives the change sequence the transaction bumped to as it began.
  Result<std::unique_ptr<TenantTransaction>> BeginTenantImpl(const Tenant& tenant, TxnMode mode,
                                                             std::shared_ptr<Bumped> bumped) {
    auto schema = TenantSchemaName(tenant.slug);
    if (!schema) return NoSpace(tenant);
    for (bool migrated = false;;) {
      auto parts = TenantParts(tenant, *schema, mode);
      if (!parts) return parts.error();
      auto behind = std::make_shared<bool>(false);
      parts->enter = [this, schema = *schema, tenant, mode, bumped, behind](Connection& c) {
        return EnterTenant(c, schema, tenant, mode, bumped.get(), behind.get());
      };
      parts->enter_begins = true;
      if (mode == TxnMode::kWrite) parts->sender = Pipeline(tenant, *schema, std::nullopt);
      auto txn = BeginTenantWith(std::move(*parts));
      if (txn || !*behind || migrated) return txn;
      // The schema's migrations are run on its first use, then it is entered again (with
      // the transaction, its connection and its write turn given back meanwhile).
      SMOOTH_RETURN_IF_ERROR(MigrateTenant(tenant.slug, *schema));
      migrated = true;
    }
  }

  // Brings `schema` up to date, on a pooled connection.
  Status MigrateTenant(const std::string& slug, const std::string& schema) {
    auto lease = pool_.Acquire();
    if (!lease) return lease.error();
    return MigrateTenantOn(**lease, slug, schema);
  }

  // Nothing is sent until the transaction's first statement must reach the server: then
  // (or with the COMMIT, if that comes first) BEGIN, the tenant's search_path and the guard
  // go in front of it. Only for a schema this storage has already checked (EnterTenant), as
  // only its existence is checked again: the guard is called through the schema's name, so
  // a schema dropped since fails closed, and the search_path that follows it is that one.
  Result<std::unique_ptr<TenantTransaction>> BeginTenantWriteAt(const Tenant& tenant,
                                                                std::int64_t seq,
                                                                std::int64_t epoch) override {
    auto schema = TenantSchemaName(tenant.slug);
    if (!schema || !Verified(*schema, tenant.id)) return std::unique_ptr<TenantTransaction>();
    // No WriteGate: the transaction waits for the tenant's other writers only when it
    // reaches the server, on the change_seq row lock, so a writer may prepare it while the
    // previous one still commits.
    auto parts = TenantParts(tenant, *schema, TxnMode::kWrite, /*gate=*/false);
    if (!parts) return parts.error();
    parts->deferred = true;
    parts->sender = Pipeline(tenant, *schema, WriteGuard{seq, epoch});
    return BeginTenantWith(std::move(*parts));
  }

  // The migrations of `public`, under the migration lock (Init, and smooth-admin), into a
  // database that is libsmooth's or empty (OursOrEmpty).
  static Status MigrateSharedOn(Connection& c) {
    Status shared = sql::Migrate(
        c, PostgresDialect::Instance(), "shared database", SharedMigrations(),
        [](soci::session& s) { LockMigrations(s); }, OursOrEmpty);
    // Only the extension's own migration fails for want of it (sql::Migrate's message names
    // the migration that failed); a refused database, one of a newer libsmooth or a role
    // that may not create tables in public fails for another reason.
    const sql::Migration& extension = SharedMigrations().front();
    if (shared.ok() ||
        shared.message().find(fmt::format("migration {} '{}' failed", extension.version,
                                          extension.name)) == std::string::npos)
      return shared;
    return ExplainMissingExtension(c, std::move(shared));
  }

  // The migrations of one existing tenant schema, under the migration lock.
  static Status MigrateTenantOn(Connection& c, const std::string& slug, const std::string& schema) {
    std::string enter = fmt::format("SET LOCAL search_path TO {}", QuoteIdent(schema));
    return sql::Migrate(c, PostgresDialect::Instance(), TenantLabel(slug), TenantMigrations(),
                        [&enter](soci::session& s) {
                          LockMigrations(s);
                          s << enter;
                        });
  }

  // Refuses to install into a database that holds something but no libsmooth version table:
  // another application's, reached by a mistyped URL, whose `public` libsmooth's shared
  // tables would join. Counted: any relation in `public` but an index (whose table counts)
  // or an extension's (an administrator may install extensions, btree_gist among them,
  // into a new database), and any tenant_* schema. Run under the migration lock, in the
  // transaction that would create the version table, so another process installing at the
  // same time is seen.
  static Status OursOrEmpty(soci::session& s) {
    // Rails, Ecto and golang-migrate keep a public.schema_migrations too, other columns
    // (or the same names with other types).
    long long ours = 0;
    s << "SELECT COUNT(*) FROM pg_catalog.pg_attribute "
         "WHERE attrelid = to_regclass('public.schema_migrations') AND NOT attisdropped "
         "AND ((attname = 'version' AND atttypid = CAST('integer' AS regtype)) "
         "  OR (attname = 'name' AND atttypid = CAST('text' AS regtype)) "
         "  OR (attname = 'applied_at' AND atttypid = CAST('bigint' AS regtype)))",
        soci::into(ours);
    if (ours == 3) return {};
    std::vector<std::string> held;
    std::string name;
    soci::statement st =
        (s.prepare << "SELECT 'public.' || c.relname FROM pg_catalog.pg_class c "
                      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = 'public' AND c.relkind NOT IN ('i', 'I') AND NOT EXISTS ("
                      "  SELECT 1 FROM pg_catalog.pg_depend d WHERE d.deptype = 'e' AND ("
                      "    (d.classid = CAST('pg_class' AS regclass) AND d.objid = c.oid) OR"
                      // an extension's composite type is recorded as the type's member
                      "    (d.classid = CAST('pg_type' AS regclass) AND d.objid = c.reltype))) "
                      "UNION ALL SELECT 'schema ' || nspname FROM pg_catalog.pg_namespace "
                      "WHERE starts_with(nspname, 'tenant_')",
         soci::into(name));
    if (st.execute(true)) {
      do held.push_back(name);
      while (st.fetch());
    }
    if (held.empty()) return {};
    std::string database;
    s << "SELECT current_database()", soci::into(database);
    return sql::NotLibsmooth(fmt::format("postgresql database '{}'", database), "database",
                             std::move(held), "libsmooth version table public.schema_migrations");
  }

  // A new connection with the backend's session settings (for smooth-admin).
  Result<std::unique_ptr<Connection>> ConnectOne() const { return Connect(); }

  static Result<bool> SchemaExistsOn(Connection& c, const std::string& schema) {
    return SchemaExists(c, schema);
  }

  Result<std::string> PooledConninfo(const std::string& keyword) {
    auto lease = pool_.Acquire();
    if (!lease) return lease.error();
    PGconn* pg = LibpqConnection(**lease);
    if (pg == nullptr) return Internal("no libpq connection");
    PQconninfoOption* options = PQconninfo(pg);
    if (options == nullptr) return Internal("PQconninfo failed");
    std::string value = "(unset)";
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o)
      if (keyword == o->keyword && o->val != nullptr) value = o->val;
    PQconninfoFree(options);
    return value;
  }

  Result<std::string> QueryPooled(const std::string& query) {
    auto lease = pool_.Acquire();
    if (!lease) return lease.error();
    try {
      std::string value;
      soci::indicator ind = soci::i_null;
      (*lease)->session() << query, soci::into(value, ind);
      return ind == soci::i_ok ? value : std::string("NULL");
    } catch (const soci::soci_error& e) {
      if (ConnectionLost(e)) (*lease)->MarkBroken();
      return FromSoci(e, "query");
    }
  }

 private:
  static void LockMigrations(soci::session& s) {
    long long key = kMigrationLockKey;
    s << "SELECT pg_advisory_xact_lock(:k)", soci::use(key);
  }

  static Status NoSpace(const Tenant& tenant) {
    return NotFound(fmt::format("tenant '{}' has no data space", tenant.slug));
  }

  // The parts of a transaction on the tenant's schema `schema`; a write's waits for its
  // turn and for a connection are bounded (busy_timeout, pool_wait).
  // `gate`: whether a writer first passes the tenant's WriteGate.
  Result<sql::TxnParts> TenantParts(const Tenant& tenant, const std::string& schema,
                                    TxnMode mode, bool gate = true) {
    sql::TxnParts parts;
    parts.dialect = &PostgresDialect::Instance();
    parts.mode = mode;
    parts.database = TenantLabel(tenant.slug);
    if (mode == TxnMode::kWrite && gate) {
      // Writers of one tenant queue here inside the process instead of each holding a
      // pooled connection while it waits for the change_seq row lock.
      auto ticket = TenantGate(schema).Acquire(options_.busy_timeout);
      if (!ticket) return ticket.error();
      parts.ticket = std::move(*ticket);
    }
    auto lease = pool_.Acquire();
    if (!lease) return lease.error();
    parts.lease = std::move(*lease);
    return parts;
  }

  // The sender of a write transaction on `tenant`'s `schema`.
  std::unique_ptr<sql::TxnSender> Pipeline(const Tenant& tenant, const std::string& schema,
                                           std::optional<WriteGuard> guard) {
    std::shared_ptr<const PipelineStatements> statements;
    {
      std::lock_guard lock(mu_);
      auto& built = statements_[schema];
      if (!built) built = std::make_shared<const PipelineStatements>(schema);
      statements = built;
    }
    return std::make_unique<TenantPipeline>(std::move(statements), TenantLabel(tenant.slug), guard,
                                            [this, schema, tenant] { return Missing(schema, tenant); });
  }

  Result<std::unique_ptr<TenantTransaction>> BeginTenantWith(sql::TxnParts parts) {
    auto txn = std::make_unique<sql::SqlTenantTransaction>(std::move(parts), ids_);
    SMOOTH_RETURN_IF_ERROR(txn->Begin());
    return std::unique_ptr<TenantTransaction>(std::move(txn));
  }

  // Whether EnterTenant has found `schema` there and `owner`'s.
  bool Verified(const std::string& schema, TenantId owner) {
    std::lock_guard lock(mu_);
    auto it = verified_.find(schema);
    return it != verified_.end() && it->second == owner;
  }

  // not_found for a tenant whose schema has gone, which is then checked again before use.
  Status Missing(const std::string& schema, const Tenant& tenant) {
    {
      std::lock_guard lock(mu_);
      verified_.erase(schema);
    }
    return NotFound(
        fmt::format("tenant '{}' has no data space (schema {} is missing)", tenant.slug, schema));
  }

  static Result<bool> SchemaExists(Connection& c, const std::string& schema) {
    try {
      long long count = 0;
      std::string name = schema;
      c.session() << "SELECT COUNT(*) FROM pg_catalog.pg_namespace WHERE nspname = :n",
          soci::use(name), soci::into(count);
      return count != 0;
    } catch (const soci::soci_error& e) {
      return FromSoci(e, fmt::format("looking for schema {}", schema));
    }
  }

  // When the shared migrations fail because btree_gist could not be created, says so and
  // what an administrator must do.
  static Status ExplainMissingExtension(Connection& c, Status failed) {
    try {
      long long installed = 0;
      c.session() << "SELECT COUNT(*) FROM pg_catalog.pg_extension WHERE extname = 'btree_gist'",
          soci::into(installed);
      if (installed != 0) return failed;
    } catch (const soci::soci_error&) {
      return failed;
    }
    return FailedPrecondition(fmt::format(
        "{} -- the btree_gist extension is not installed in this database and this role may "
        "not create it: a superuser (or the database owner, PostgreSQL 13+) must run "
        "CREATE EXTENSION btree_gist; once",
        failed.message()));
  }

  // Points the transaction just begun at the tenant's schema, alone, and checks that it is
  // there and is this tenant's: PostgreSQL skips a missing schema in search_path without a
  // word, so without the check the queries would find nothing, or something else.
  // BEGIN is part of the same statement string: one round trip in all. With `bumped`, so is
  // the change sequence's bump, whose value it receives with the shared epoch.
  // The first time, it also checks that the schema has every migration this libsmooth
  // knows; when not, it fails and sets `*behind` (BeginTenantImpl migrates it, then enters
  // again).
  Status EnterTenant(Connection& c, const std::string& schema, const Tenant& tenant, TxnMode mode,
                     Bumped* bumped, bool* behind) {
    std::string current;
    soci::indicator ind = soci::i_null;
    // SET LOCAL ends with the transaction.
    std::string enter = fmt::format("{}; SET LOCAL search_path TO {}; ",
                                    PostgresDialect::BeginSql(mode), QuoteIdent(schema));
    const bool verified = Verified(schema, tenant.id);
    if (bumped == nullptr || !verified) {
      c.session() << enter << "SELECT current_schema()", soci::into(current, ind);
    } else {
      try {
        c.session() << enter
                    << "UPDATE change_seq SET value = value + 1 RETURNING value, "
                       "current_schema(), (SELECT value FROM public.shared_epoch)",
            soci::into(bumped->seq), soci::into(current, ind), soci::into(bumped->shared_epoch);
      } catch (const soci::postgresql_soci_error& e) {
        if (e.sqlstate() != "42P01") throw;  // undefined_table: the schema is missing
        ind = soci::i_null;
      }
    }
    if (ind != soci::i_ok || current != schema) return Missing(schema, tenant);
    if (verified) return {};

    // The first use: the schema's owner and migrations, before anything else reads it.
    long long owner = 0, applied = 0, last = 0;
    soci::indicator owner_ind = soci::i_null, last_ind = soci::i_null;
    c.session() << "SELECT tenant_id, (SELECT COUNT(*) FROM schema_migrations), "
                   "(SELECT MAX(version) FROM schema_migrations) FROM tenant_meta",
        soci::into(owner, owner_ind), soci::into(applied), soci::into(last, last_ind);
    if (owner_ind != soci::i_ok || owner != tenant.id.value()) return NoSpace(tenant);
    const auto known = TenantMigrations();
    if (last_ind != soci::i_ok || applied != static_cast<long long>(known.size()) ||
        last != known.back().version) {
      *behind = true;
      return FailedPrecondition(
          fmt::format("{}: migrations not applied", TenantLabel(tenant.slug)));
    }
    if (bumped != nullptr)
      c.session() << "UPDATE change_seq SET value = value + 1 RETURNING value, "
                     "(SELECT value FROM public.shared_epoch)",
          soci::into(bumped->seq), soci::into(bumped->shared_epoch);
    std::lock_guard lock(mu_);
    verified_[schema] = tenant.id;
    return {};
  }

  WriteGate TenantGate(const std::string& schema) {
    std::lock_guard lock(mu_);
    auto it = gates_.find(schema);
    if (it == gates_.end()) it = gates_.emplace(schema, WriteGate(TenantLabel(schema))).first;
    return it->second;
  }

  Result<std::unique_ptr<sql::SqlSharedTransaction>> BeginSharedImpl(TxnMode mode) {
    sql::TxnParts parts;
    parts.dialect = &PostgresDialect::Instance();
    parts.mode = mode;
    parts.database = "shared database";
    if (mode == TxnMode::kWrite) {
      auto ticket = shared_gate_.Acquire(options_.busy_timeout);
      if (!ticket) return ticket.error();
      parts.ticket = std::move(*ticket);
      // The row lock on the shared id counter serializes shared writers across processes,
      // as Storage::BeginShared promises; check-then-insert is then exact.
      parts.enter = [](Connection& c) -> Status {
        long long next = 0;
        c.session() << "SELECT next FROM shared_ids FOR UPDATE", soci::into(next);
        return {};
      };
    }
    auto lease = (mode == TxnMode::kRead ? reads_ : pool_).Acquire();
    if (!lease) return lease.error();
    parts.lease = std::move(*lease);
    auto txn = std::make_unique<sql::SqlSharedTransaction>(std::move(parts));
    SMOOTH_RETURN_IF_ERROR(txn->Begin());
    return txn;
  }

  // A new connection, with the session settings every connection gets. None of them is
  // tenant context: that is only ever SET LOCAL inside a transaction.
  Result<std::unique_ptr<Connection>> Connect() const {
    std::unique_ptr<Connection> conn;
    auto timed_out = [&] { return conn != nullptr && conn->interrupted(); };
    try {
      auto session = std::make_unique<soci::session>(*soci::factory_postgresql(), conninfo_);
      // libpq prints what the server says outside an answer (a trigger's WARNING, the
      // message of a server ending an idle connection) on stderr, which is the embedding
      // application's. Dropped: what matters to a call reaches it as an error.
      PGconn* pg = LibpqConnection(*session);
      if (pg != nullptr)
        PQsetNoticeProcessor(
            pg, [](void*, const char*) {}, nullptr);
      conn = std::make_unique<Connection>(std::move(session));
      if (watch_ && pg != nullptr) {
        auto interrupt = SocketInterrupt(pg);
        if (interrupt) conn->SetWatch(watch_, std::move(interrupt));
      }
      // A server that accepted the connection and then stopped answering fails the open too.
      Connection::Waiting waiting(*conn);
      soci::session& session_ref = conn->session();
      std::string quiet, timeout, plans, synchronous;
      // lock_timeout bounds the wait for another writer's row lock (busy_timeout); 0
      // would mean forever. NOTICEs (IF NOT EXISTS) are not even sent.
      long long ms = std::max<long long>(1, options_.busy_timeout.count());
      session_ref << fmt::format(
          "SELECT set_config('client_min_messages', 'warning', false), "
          "set_config('lock_timeout', '{}ms', false), "
          "set_config('plan_cache_mode', 'force_generic_plan', false), "
          "current_setting('synchronous_commit')",
          ms),
          soci::into(quiet), soci::into(timeout), soci::into(plans), soci::into(synchronous);
      // An acknowledged commit must be on disk: never run with synchronous_commit=off,
      // whatever the server's default (local, on, remote_* all flush the local WAL).
      if (synchronous == "off") session_ref << "SET synchronous_commit TO on";
      if (timed_out()) return NoAnswer();
      return conn;
    } catch (const soci::soci_error& e) {
      if (timed_out()) return NoAnswer();
      // libpq's message names the host and database, never the password.
      return Unavailable(fmt::format("postgresql: cannot connect: {}", e.get_error_message()));
    } catch (const std::exception& e) {
      return Unavailable(fmt::format("postgresql: cannot connect: {}", e.what()));
    }
  }

  static Status NoAnswer() {
    return Unavailable(
        "postgresql: cannot connect: the server did not answer within server_timeout");
  }

  const std::string conninfo_;
  const StorageOptions options_;
  const std::shared_ptr<sql::ServerWatch> watch_;  // server_timeout's; or null
  // Shared reads (BeginShared(kRead), SharedEpoch) have connections of their own: a
  // transaction holding one may have to read the shared tables before it can finish (who
  // the actor is, the grants it holds: Platform's checks inside a Scheduler write), and
  // with one pool, pool_size such transactions at once would each wait for a connection
  // another holds, until pool_wait failed them all. A shared read holds nothing else.
  SessionPool pool_;   // tenant transactions and shared writes
  SessionPool reads_;  // shared reads
  WriteGate shared_gate_;
  std::shared_ptr<SequenceIdSource> ids_;
  std::mutex mu_;
  std::unordered_map<std::string, WriteGate> gates_;    // by schema; guarded by mu_
  std::unordered_map<std::string, TenantId> verified_;  // schema -> owner; guarded by mu_
  // The pipeline's statements, by schema; guarded by mu_.
  std::unordered_map<std::string, std::shared_ptr<const PipelineStatements>> statements_;
};

// What a connection over TCP does about a server the network has lost (a partition, a host
// that went down without a word), unless the conninfo says otherwise: without these a call
// waiting for an answer would wait as long as the kernel keeps the connection, which with
// no keepalives is for ever, holding a pooled connection and whatever its caller holds.
// Idle or waiting, the connection is probed after 30 s and given up after 3 unanswered
// probes 10 s apart; data sent and not acknowledged within 60 s gives it up too. A server
// that is only slow answers the probes, so a long statement is not cut short. (libpq
// ignores these on Unix-domain sockets, where the server's host is this one.)
constexpr std::pair<const char*, const char*> kLostServerDefaults[] = {
    {"keepalives_idle", "30"},
    {"keepalives_interval", "10"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "60000"},
};

// The conninfo as key='value' pairs: libpq parses URIs and key=value strings alike, and
// SOCI passes key=value pairs through untouched. Never echoes the input (a password).
// Opening a connection waits for the server at most `pool_wait` (whole seconds, at least 2,
// libpq's least), unless the conninfo or PGCONNECT_TIMEOUT sets a connect_timeout: libpq's
// own default is to wait for a server that never answers as long as TCP does, minutes.
// kLostServerDefaults are added where the conninfo sets none.
Result<std::string> NormalizeConninfo(std::string_view conninfo,
                                      std::chrono::milliseconds pool_wait) {
  std::string input(conninfo);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(input.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return InvalidArgument("storage url: not a valid PostgreSQL connection string");
  }
  std::string out;
  const char* env_timeout = std::getenv("PGCONNECT_TIMEOUT");
  bool timeout_set = env_timeout != nullptr && *env_timeout != '\0';
  std::vector<std::string_view> set;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    if (std::string_view(o->keyword) == "connect_timeout") timeout_set = true;
    set.emplace_back(o->keyword);
    if (!out.empty()) out += ' ';
    out += o->keyword;
    out += "='";
    for (const char* p = o->val; *p != '\0'; ++p) {
      if (*p == '\'' || *p == '\\') out += '\\';
      out += *p;
    }
    out += '\'';
  }
  for (const auto& [keyword, value] : kLostServerDefaults)
    if (std::find(set.begin(), set.end(), keyword) == set.end())
      out += fmt::format("{}{}='{}'", out.empty() ? "" : " ", keyword, value);
  PQconninfoFree(options);  // `set` points into it
  if (!timeout_set) {
    auto seconds = std::chrono::ceil<std::chrono::seconds>(pool_wait).count();
    out += fmt::format("{}connect_timeout='{}'", out.empty() ? "" : " ",
                       std::max<long long>(2, seconds));
  }
  return out;
}

}  // namespace

Result<std::string> TenantSchemaName(std::string_view slug) {
  // "tenant_" + 56 = 63 bytes, PostgreSQL's identifier limit: longer names would be
  // truncated silently, and two slugs could meet in one schema.
  std::string key = sql::SlugKey(slug);
  bool ok = !key.empty() && key.size() <= 56 && key[0] >= 'a' && key[0] <= 'z';
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) ok = false;
  if (!ok)
    return InvalidArgument("slug: must match [a-z][a-z0-9_]{0,55} to name a PostgreSQL schema");
  return "tenant_" + key;
}

Result<std::unique_ptr<Storage>> OpenPostgresStorage(std::string_view conninfo,
                                                     const StorageOptions& options) {
  auto normalized = NormalizeConninfo(conninfo, options.pool_wait);
  if (!normalized) return normalized.error();
  auto storage = std::make_unique<PostgresStorage>(std::move(*normalized), options);
  SMOOTH_RETURN_IF_ERROR(storage->Init());
  return std::unique_ptr<Storage>(std::move(storage));
}

Result<std::string> QueryPooledConnectionForTesting(Storage& storage, const std::string& query) {
  auto* pg = dynamic_cast<PostgresStorage*>(&storage);
  if (pg == nullptr) return InvalidArgument("storage: not the PostgreSQL backend");
  return pg->QueryPooled(query);
}

Result<std::string> PooledConninfoForTesting(Storage& storage, const std::string& keyword) {
  auto* pg = dynamic_cast<PostgresStorage*>(&storage);
  if (pg == nullptr) return InvalidArgument("storage: not the PostgreSQL backend");
  return pg->PooledConninfo(keyword);
}

// --- PostgresMaintenance: smooth-admin's handle, over the backend's own pieces ---

struct PostgresMaintenance::Impl {
  std::unique_ptr<Connection> conn;

  // Runs `body` in a read-only transaction with search_path at `schema` alone; rolls back
  // when it throws, so the connection stays usable.
  template <typename F>
  auto ReadIn(const std::string& schema, std::string_view what, F&& body)
      -> decltype(body(std::declval<soci::session&>())) {
    soci::session& s = conn->session();
    try {
      PostgresDialect::Instance().Begin(s, TxnMode::kRead);
      s << fmt::format("SET LOCAL search_path TO {}", QuoteIdent(schema));
      auto out = body(s);
      s << "COMMIT";
      return out;
    } catch (const soci::soci_error& e) {
      try {
        s << "ROLLBACK";
      } catch (...) {
      }
      return FromSoci(e, what);
    }
  }
};

PostgresMaintenance::PostgresMaintenance(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresMaintenance::~PostgresMaintenance() = default;

Result<std::unique_ptr<PostgresMaintenance>> PostgresMaintenance::Open(std::string_view conninfo) {
  auto normalized = NormalizeConninfo(conninfo, StorageOptions{}.pool_wait);
  if (!normalized) return normalized.error();
  PostgresStorage storage(std::move(*normalized), StorageOptions{});  // opens no connection
  auto conn = storage.ConnectOne();
  if (!conn) return conn.error();
  auto impl = std::make_unique<Impl>();
  impl->conn = std::move(*conn);
  return std::unique_ptr<PostgresMaintenance>(new PostgresMaintenance(std::move(impl)));
}

Status PostgresMaintenance::MigrateShared() {
  return PostgresStorage::MigrateSharedOn(*impl_->conn);
}

Status PostgresMaintenance::MigrateTenant(std::string_view slug) {
  std::string label = TenantLabel(slug);
  auto schema = TenantSchemaName(slug);
  if (!schema) return NotFound(fmt::format("{}: {}", label, schema.error().message()));
  auto exists = SchemaExists(*schema);
  if (!exists) return exists.error();
  if (!*exists) return NotFound(fmt::format("{}: schema {} is missing", label, *schema));
  return PostgresStorage::MigrateTenantOn(*impl_->conn, std::string(slug), *schema);
}

Result<std::vector<PostgresMaintenance::TenantRow>> PostgresMaintenance::Tenants() {
  return impl_->ReadIn("public", "shared database: listing tenants",
                       [](soci::session& s) -> Result<std::vector<TenantRow>> {
                         std::vector<TenantRow> out;
                         TenantRow row;
                         soci::statement st =
                             (s.prepare << "SELECT id, slug FROM tenants ORDER BY id",
                              soci::into(row.id), soci::into(row.slug));
                         if (st.execute(true)) {
                           do out.push_back(row);
                           while (st.fetch());
                         }
                         return out;
                       });
}

Result<std::vector<int>> PostgresMaintenance::AppliedMigrations(const std::string& schema,
                                                                std::string_view label) {
  soci::session& s = impl_->conn->session();
  try {
    PostgresDialect::Instance().Begin(s, TxnMode::kRead);
    s << fmt::format("SET LOCAL search_path TO {}", QuoteIdent(schema));
  } catch (const soci::soci_error& e) {
    try {
      s << "ROLLBACK";
    } catch (...) {
    }
    return FromSoci(e, label);
  }
  auto applied = sql::AppliedMigrations(*impl_->conn, label);
  try {
    s << (applied ? "COMMIT" : "ROLLBACK");
  } catch (const soci::soci_error& e) {
    return FromSoci(e, label);
  }
  return applied;
}

Status PostgresMaintenance::OursOrEmpty() {
  return impl_->ReadIn("public", "shared database: looking at what it holds",
                       [](soci::session& s) { return PostgresStorage::OursOrEmpty(s); });
}

Result<bool> PostgresMaintenance::SchemaExists(const std::string& schema) {
  return PostgresStorage::SchemaExistsOn(*impl_->conn, schema);
}

Result<std::optional<long long>> PostgresMaintenance::SchemaOwner(const std::string& schema) {
  return impl_->ReadIn(schema, fmt::format("reading {}.tenant_meta", schema),
                       [](soci::session& s) -> Result<std::optional<long long>> {
                         long long count = 0, owner = 0;
                         s << "SELECT COUNT(*), COALESCE(MIN(tenant_id), 0) FROM tenant_meta",
                             soci::into(count), soci::into(owner);
                         if (count != 1) return std::optional<long long>();
                         return std::optional<long long>(owner);
                       });
}

Result<std::vector<std::string>> PostgresMaintenance::TenantSchemas() {
  return impl_->ReadIn("public", "listing tenant schemas",
                       [](soci::session& s) -> Result<std::vector<std::string>> {
                         std::vector<std::string> out;
                         std::string name;
                         soci::statement st =
                             (s.prepare << "SELECT nspname FROM pg_catalog.pg_namespace "
                                           "WHERE starts_with(nspname, 'tenant_') ORDER BY nspname",
                              soci::into(name));
                         if (st.execute(true)) {
                           do out.push_back(name);
                           while (st.fetch());
                         }
                         return out;
                       });
}

Result<std::vector<std::vector<std::string>>> PostgresMaintenance::TextRows(
    const std::string& schema, std::string_view what, const std::string& query) {
  return impl_->ReadIn(schema, what,
                       [&](soci::session& s) -> Result<std::vector<std::vector<std::string>>> {
                         std::vector<std::vector<std::string>> out;
                         soci::rowset<soci::row> rows = (s.prepare << query);
                         for (const soci::row& row : rows) {
                           std::vector<std::string> columns;
                           for (std::size_t i = 0; i < row.size(); ++i)
                             columns.push_back(row.get<std::string>(i));
                           out.push_back(std::move(columns));
                         }
                         return out;
                       });
}

}  // namespace smooth::internal::postgres
