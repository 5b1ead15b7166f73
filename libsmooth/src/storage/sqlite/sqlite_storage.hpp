// The SQLite backend: shared.db plus one tenant_<slug>.db per tenant in a data directory.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string_view>

#include "smooth/storage.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"

namespace smooth::internal::sqlite {

/// Opens (creating when missing, mode 0700) the data directory `dir` and migrates
/// shared.db, then every tenant file.
Result<std::unique_ptr<Storage>> OpenSqliteStorage(std::string_view dir,
                                                   const StorageOptions& options);

/// The backend's dialect: writers BEGIN IMMEDIATE; busy and UNIQUE errors classified.
const sql::SqlDialect& Dialect();

/// Whether a slug's key may become part of a file name: [a-z][a-z0-9_]{0,55}, the limit every
/// backend keeps (PostgreSQL's schema names set it). Checked again wherever a slug is about
/// to name a path, whatever the caller validated.
bool SafeSlug(std::string_view key);

/// Removes a database file and its journals; never directories (unlink refuses them).
void RemoveDatabaseFiles(const std::filesystem::path& path);

/// Makes a file's contents durable; `label` names the database in the error.
Status SyncFile(const std::filesystem::path& path, std::string_view label);

/// Makes a new name, rename or link in `dir` durable; the error names the directory.
Status SyncDirectory(const std::filesystem::path& dir);

/// Whether shared.db, at `path`, may be migrated: ok when it is missing, empty or
/// libsmooth's; failed_precondition, naming the file and some of what it holds, when it
/// holds tables but not libsmooth's version table (another program's database under
/// libsmooth's name). Reads the file without changing it; waits up to `busy_timeout` for a
/// writer's lock.
Status SharedFileOursOrEmpty(const std::filesystem::path& path,
                             std::chrono::milliseconds busy_timeout);

/// A connection to the database file `path` with the settings every connection of the
/// backend gets: busy_timeout, WAL, `synchronous` and foreign keys, per `options`. Without
/// `create`, a missing file is not_found and is not created. `scratch` is for a file not yet
/// in place: rollback journal (a WAL would be left under the temporary name) and
/// synchronous=OFF, the caller syncing the finished file once. `label` names the database
/// in errors.
Result<std::unique_ptr<sql::Connection>> ConnectFile(const std::filesystem::path& path,
                                                     std::string_view label,
                                                     const StorageOptions& options, bool create,
                                                     bool scratch = false);

/// For tests: the value of `PRAGMA <name>` (a lower-case identifier) on a pooled connection
/// of shared.db, or of the tenant's file when `tenant` is set — per-connection settings
/// such as `synchronous` can only be read there. invalid_argument when `storage` is not
/// the SQLite backend.
Result<std::string> PragmaForTesting(Storage& storage, std::string_view name,
                                     const Tenant* tenant = nullptr);

}  // namespace smooth::internal::sqlite
