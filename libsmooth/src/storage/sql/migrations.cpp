// The migration runner.
#include "storage/sql/migrations.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "core/utf8.hpp"

namespace smooth::internal::sql {
namespace {

// BIGINT, not INTEGER: microseconds overflow PostgreSQL's 32-bit INTEGER (SQLite's
// INTEGER is 64-bit either way).
constexpr const char* kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

long long NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RollbackQuietly(Connection& conn) {
  try {
    conn.session() << "ROLLBACK";
  } catch (...) {
    conn.MarkBroken();
  }
}

// Runs the statements of `m` and records it; `step` counts the statements begun.
void Apply(soci::session& sql, const Migration& m, std::size_t& step) {
  for (std::string_view statement : m.statements) {
    ++step;
    sql << std::string(statement);
  }
  long long version = m.version;
  std::string name(m.name);
  long long at = NowMicros();
  sql << "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :a)",
      soci::use(version), soci::use(name), soci::use(at);
}

Status Failed(const SqlDialect& dialect, std::string_view database, const Migration& m,
              std::size_t step, const soci::soci_error& e) {
  std::string where = step == 0 ? "" : fmt::format(" at statement {}", step);
  std::string message = fmt::format("{}: migration {} '{}' failed{}: {}", database, m.version,
                                    m.name, where, e.get_error_message());
  return StatusOfFailure(dialect.Classify(e), std::move(message));
}

Status CheckOrder(std::string_view database, std::span<const Migration> migrations) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous)
      return Internal(fmt::format("{}: migrations out of order at {}", database, m.version));
    previous = m.version;
  }
  return {};
}

}  // namespace

Result<std::vector<int>> AppliedMigrations(Connection& conn, std::string_view database) {
  try {
    std::vector<int> out;
    long long version = 0;
    soci::statement st =
        (conn.session().prepare << "SELECT version FROM schema_migrations ORDER BY version",
         soci::into(version));
    if (st.execute(true)) {
      do out.push_back(static_cast<int>(version));
      while (st.fetch());
    }
    return out;
  } catch (const std::exception& e) {
    return Internal(fmt::format("{}: cannot read schema_migrations: {}", database, e.what()));
  }
}

Status Migrate(Connection& conn, const SqlDialect& dialect, std::string_view database,
               std::span<const Migration> migrations, const MigrationScope& scope,
               const InstallCheck& check) {
  SMOOTH_RETURN_IF_ERROR(CheckOrder(database, migrations));
  soci::session& sql = conn.session();
  int last_known = migrations.empty() ? 0 : migrations.back().version;
  try {
    dialect.Begin(sql, TxnMode::kWrite);
    if (scope) scope(sql);
    if (check) {
      Status allowed = check(sql);
      if (!allowed.ok()) {
        RollbackQuietly(conn);
        return allowed;
      }
    }
    sql << kCreateSchemaMigrations;
    long long newest = 0;
    soci::indicator ind = soci::i_null;
    sql << "SELECT MAX(version) FROM schema_migrations", soci::into(newest, ind);
    sql << "COMMIT";
    if (ind == soci::i_ok && newest > last_known)
      return FailedPrecondition(fmt::format(
          "{} is at schema version {}, newer than this libsmooth knows ({}); migrations "
          "only go forward",
          database, newest, last_known));
  } catch (const soci::soci_error& e) {
    RollbackQuietly(conn);
    std::string message =
        fmt::format("{}: cannot prepare schema_migrations: {}", database, e.get_error_message());
    return StatusOfFailure(dialect.Classify(e), std::move(message));
  }

  for (const Migration& m : migrations) {
    std::size_t step = 0;
    try {
      dialect.Begin(sql, TxnMode::kWrite);
      if (scope) scope(sql);
      long long applied = 0;
      long long version = m.version;
      sql << "SELECT COUNT(*) FROM schema_migrations WHERE version = :v", soci::use(version),
          soci::into(applied);
      if (applied == 0) Apply(sql, m, step);
      sql << "COMMIT";
    } catch (const soci::soci_error& e) {
      RollbackQuietly(conn);
      return Failed(dialect, database, m, step, e);
    } catch (const std::exception& e) {
      RollbackQuietly(conn);
      return Internal(
          fmt::format("{}: migration {} '{}' failed: {}", database, m.version, m.name, e.what()));
    }
  }
  return {};
}

Status MigrateInTransaction(Connection& conn, const SqlDialect& dialect, std::string_view database,
                            std::span<const Migration> migrations) {
  SMOOTH_RETURN_IF_ERROR(CheckOrder(database, migrations));
  soci::session& sql = conn.session();
  try {
    sql << kCreateSchemaMigrations;
  } catch (const soci::soci_error& e) {
    return Internal(
        fmt::format("{}: cannot create schema_migrations: {}", database, e.get_error_message()));
  }
  for (const Migration& m : migrations) {
    std::size_t step = 0;
    try {
      Apply(sql, m, step);
    } catch (const soci::soci_error& e) {
      return Failed(dialect, database, m, step, e);
    } catch (const std::exception& e) {
      return Internal(
          fmt::format("{}: migration {} '{}' failed: {}", database, m.version, m.name, e.what()));
    }
  }
  return {};
}

Status NotLibsmooth(std::string_view what, std::string_view kind, std::vector<std::string> held,
                    std::string_view lacks) {
  constexpr std::size_t kNamed = 3;
  std::sort(held.begin(), held.end());
  std::string named;
  for (std::size_t i = 0; i < held.size() && i < kNamed; ++i)
    named += fmt::format("{}{}", i == 0 ? "" : ", ", Printable(held[i]));
  if (held.size() > kNamed) named += fmt::format(" and {} more", held.size() - kNamed);
  return FailedPrecondition(
      fmt::format("{}: not a libsmooth {} (it holds {}, and no {}); refusing to install into it",
                  Printable(what), kind, named, lacks));
}

}  // namespace smooth::internal::sql
