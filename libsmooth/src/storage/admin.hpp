// Maintenance of a storage named by URL, for the smooth-admin tool: migrating the shared
// database and the tenants one at a time (OpenStorage migrates everything at once),
// checking a storage without writing to it, and backing up a SQLite one while it is in use.
// SQLite (a data directory: shared.db and a file per tenant) and PostgreSQL (`public` and a
// schema tenant_<slug> per tenant, migrated by the backend's own lists under its advisory
// lock); `memory:` has nothing to maintain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/status.hpp"

namespace smooth::internal::admin {

/// Called with a line of progress ("tenant 'acme': at version 2") as work is done.
using Progress = std::function<void(std::string_view)>;

/// OK when `url` names a storage that has been created (SQLite: its data directory holds
/// shared.db; PostgreSQL: the database holds public.schema_migrations); not_found "no storage
/// in DIR" (PostgreSQL: "no storage in database 'NAME'") otherwise, so that a command that
/// cannot succeed on a new storage creates none.
Status RequireExisting(std::string_view url);

/// Brings the shared database up to the current version, and nothing else.
Status MigrateShared(std::string_view url, const Progress& progress = {});

/// The shared database, then the one tenant whose slug is `slug` (case-insensitively).
/// not_found when no tenant has that slug or its data file (schema) is missing.
Status MigrateTenant(std::string_view url, std::string_view slug, const Progress& progress = {});

/// The shared database, then every tenant in id order. Stops at the first failure; its
/// message names the database ("tenant 'acme'") and the migration.
Status MigrateAll(std::string_view url, const Progress& progress = {});

/// One finding of Check.
struct CheckFinding {
  std::string database;  // "shared database", "tenant 'acme'", or a file name
  bool ok = true;
  std::string detail;
};

/// Looks at everything without changing anything: SQLite's integrity_check on shared.db
/// and every tenant file, each database's migrations against the current version, a data
/// file for every tenant row and owned by it, and no stray tenant files. On PostgreSQL:
/// the migrations of `public`, a schema for every tenant row whose tenant_meta names that
/// tenant and whose migrations are current, and no stray tenant_* schemas. Then, for each
/// tenant whose database passed: no moment a resource's active bookings exceed its capacity,
/// and on PostgreSQL occupancy rows that match the appointments. An error only
/// when the check itself cannot run (a bad URL, no connection); problems are findings
/// with ok == false.
Result<std::vector<CheckFinding>> Check(std::string_view url);

/// What Backup copied.
struct BackupReport {
  std::size_t tenants = 0;   // tenant files, besides shared.db
  std::uintmax_t bytes = 0;  // of every file copied
};

/// Copies a SQLite storage into the directory `to` while other processes keep writing to
/// it: shared.db first, then every tenant that copy lists (a tenant created meanwhile is
/// not in the backup). Each file is a consistent snapshot of its database, taken one after
/// another; the copy's id counters are then raised to where the source's stand, so that a
/// restored storage never hands out an id that a row of a tenant file already holds. `to`
/// must not exist (it is made, mode 0700) or be an empty directory; the files are 0600 and
/// plain databases in WAL mode, like the originals, and are synced with the directory
/// before this returns. `progress` gets a line as each file is taken (shared.db's before
/// its copy is read for the tenants). On failure, what was made is removed and the error
/// names the database; a PostgreSQL URL is refused without connecting (pg_dump backs it up).
Result<BackupReport> Backup(std::string_view url, const std::string& to,
                            const Progress& progress = {});

}  // namespace smooth::internal::admin
