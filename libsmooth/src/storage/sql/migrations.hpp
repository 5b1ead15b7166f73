// Versioned, forward-only schema migrations, kept in code and recorded in each database's
// (or schema's) schema_migrations table.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/status.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"

namespace smooth::internal::sql {

/// One schema change: statements applied together, in order, in one transaction.
struct Migration {
  int version;  // 1, 2, 3, ... in order; never renumbered, never edited once released
  std::string_view name;
  std::vector<std::string_view> statements;
};

/// Runs first in every migration transaction (may throw soci_error): PostgreSQL takes a
/// lock that serializes migrating processes and points search_path at the schema.
using MigrationScope = std::function<void(soci::session&)>;

/// Decides whether Migrate may install into the database: run in Migrate's first
/// transaction, after the scope and before schema_migrations is created, every time. A
/// non-ok Status refuses the database: Migrate rolls back and returns it, having changed
/// nothing. May throw soci_error.
using InstallCheck = std::function<Status(soci::session&)>;

/// Brings the database on `conn` up to the last of `migrations`, applying each missing one
/// in its own write transaction together with its schema_migrations row, so concurrent
/// processes apply each exactly once. Stops at the first failure; the error names
/// `database` ("shared database", "tenant 'acme'") and the migration. failed_precondition
/// when the database records a version newer than any in `migrations`, or when `check`
/// refuses it.
Status Migrate(Connection& conn, const SqlDialect& dialect, std::string_view database,
               std::span<const Migration> migrations, const MigrationScope& scope = {},
               const InstallCheck& check = {});

/// failed_precondition for a database, or a SQLite data directory, that is not libsmooth's
/// and not empty: `what` ("postgresql database 'shop'", a `kind` of store) holds `held`
/// (a few of them are named, in order) and not `lacks`, what libsmooth's would have. Names and
/// `what` are shown with control bytes escaped (Printable): they come from the store.
/// Installing there would put libsmooth's tables among another application's data.
Status NotLibsmooth(std::string_view what, std::string_view kind, std::vector<std::string> held,
                    std::string_view lacks);

/// Applies every one of `migrations` (and creates schema_migrations) inside the
/// transaction already open on `conn`, for a schema created in that same transaction:
/// the caller commits or rolls back everything at once. Stops at the first failure.
Status MigrateInTransaction(Connection& conn, const SqlDialect& dialect, std::string_view database,
                            std::span<const Migration> migrations);

/// The versions recorded in the database, ascending.
Result<std::vector<int>> AppliedMigrations(Connection& conn, std::string_view database);

}  // namespace smooth::internal::sql
