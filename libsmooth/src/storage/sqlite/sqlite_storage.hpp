// The SQLite backend: shared.db plus one tenant_<slug>.db per tenant in a data directory.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/storage.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"

namespace sqlite_api {
struct sqlite3;  // SQLite's C API, as SOCI's backend header declares it
}

namespace smooth::internal::sqlite {

/// Opens (creating when missing, mode 0700) the data directory `dir` and migrates
/// shared.db; a tenant's file is migrated when it is first opened for use. `options` are
/// checked by OpenStorage, but for those only SQLite reads.
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

/// Rows of a query, every column as text (NULL as "").
using Rows = std::vector<std::vector<std::string>>;

/// Every row of `query` on the connection `db`, which is of the file named `file`: the C API,
/// for connections SOCI does not hold or reads it does not wrap. An error names the file.
Result<Rows> QueryRows(sqlite_api::sqlite3* db, std::string_view file, const std::string& query);

/// A database file read with SQLite's own API, outside the pools: what the backend looks at
/// before it opens shared.db, and what smooth-admin checks and copies. Read-only: the file is
/// never created, written or switched to WAL mode.
class ReadOnlyFile {
 public:
  /// Opens the existing file `path`, waiting up to `busy_timeout` for a writer's lock. With
  /// `immutable`, SQLite takes no lock and makes no -wal or -shm file beside it: only for a
  /// file nobody has open.
  static Result<ReadOnlyFile> Open(const std::filesystem::path& path,
                                   std::chrono::milliseconds busy_timeout, bool immutable = false);

  /// Every row of `query` (QueryRows).
  Result<Rows> Query(const std::string& query) const { return QueryRows(db_.get(), file_, query); }

  /// The connection, for the C API calls this does not wrap (a backup).
  sqlite_api::sqlite3* handle() const { return db_.get(); }

 private:
  ReadOnlyFile(sqlite_api::sqlite3* db, std::string file)
      : db_(db, &Close), file_(std::move(file)) {}
  static void Close(sqlite_api::sqlite3* db);

  std::unique_ptr<sqlite_api::sqlite3, void (*)(sqlite_api::sqlite3*)> db_;
  std::string file_;  // its file name, for messages
};

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
