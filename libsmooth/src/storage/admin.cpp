// smooth-admin's view of a storage: migrations one database at a time, a read-only check,
// and an online backup. SQLite: a data directory, with the same migration lists and runner
// as the backend (storage/sqlite/sqlite_schema.hpp, storage/sql/migrations.hpp), copied file
// by file with SQLite's backup API. PostgreSQL: through the backend's own
// PostgresMaintenance (its migration lists, advisory lock and schema entry); its backups
// are pg_dump's.
#include "storage/admin.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "smooth/storage.hpp"
#include "smooth/time.hpp"
#include "storage/postgres/postgres_schema.hpp"
#include "storage/postgres/postgres_storage.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sql/transactions.hpp"
#include "storage/sqlite/sqlite_schema.hpp"
#include "storage/sqlite/sqlite_storage.hpp"

namespace smooth::internal::admin {
namespace {

namespace fs = std::filesystem;
using namespace sqlite_api;  // the sqlite3 C API, as SOCI's backend header declares it

// A PostgreSQL URL or libpq conninfo ("host=... dbname=..."), as OpenStorage takes them.
bool IsPostgres(std::string_view url) {
  if (url == "memory:" || url.starts_with("sqlite:")) return false;
  return url.starts_with("postgres") || url.find('=') != std::string_view::npos;
}

// The data directory of a `sqlite:` URL; other schemes are refused with the reason.
Result<fs::path> SqliteDir(std::string_view url) {
  if (url == "memory:")
    return InvalidArgument("memory: storage lives in one process; there is nothing to maintain");
  if (!url.starts_with("sqlite:"))
    return InvalidArgument("storage url: expected sqlite:<dir> or postgresql://...");
  std::string_view dir = url.substr(7);
  if (dir.starts_with("//")) dir.remove_prefix(2);
  if (dir.empty()) return InvalidArgument("storage url: sqlite: needs a directory");
  return fs::path(dir);
}

std::string TenantLabel(std::string_view slug) { return fmt::format("tenant '{}'", slug); }

fs::path TenantFile(const fs::path& dir, std::string_view slug) {
  return dir / fmt::format("tenant_{}.db", sql::SlugKey(slug));
}

// A read-write connection to an existing database file, set up as the backend sets up its
// own (default StorageOptions: busy timeout, WAL, synchronous=FULL, foreign keys); never
// creates the file.
Result<std::unique_ptr<sql::Connection>> ConnectExisting(const fs::path& path,
                                                         std::string_view label) {
  return sqlite::ConnectFile(path, label, StorageOptions{}, /*create=*/false);
}

// Migrates the database file `path` with `migrate` and reports the version it is at.
Status MigrateFile(const fs::path& path, std::string_view label,
                   const std::function<Status(sql::Connection&)>& migrate,
                   const Progress& progress) {
  auto conn = ConnectExisting(path, label);
  if (!conn) return conn.error();
  SMOOTH_RETURN_IF_ERROR(migrate(**conn));
  if (progress) {
    auto applied = sql::AppliedMigrations(**conn, label);
    if (!applied) return applied.error();
    progress(fmt::format("{}: at version {}", label, applied->empty() ? 0 : applied->back()));
  }
  return {};
}

Status MigrateTenantFile(const fs::path& dir, std::string_view slug, const Progress& progress) {
  std::string label = TenantLabel(slug);
  return MigrateFile(
      TenantFile(dir, slug), label,
      [&label](sql::Connection& c) {
        return sql::Migrate(c, sqlite::Dialect(), label, sqlite::TenantMigrations());
      },
      progress);
}

struct TenantEntry {
  long long id = 0;
  std::string slug;
};

using sqlite::QueryRows;
using sqlite::ReadOnlyFile;
using sqlite::Rows;

// A read-only connection to an existing database file, waiting for locks as the backend's
// connections do.
Result<ReadOnlyFile> OpenReadOnly(const fs::path& path) {
  return ReadOnlyFile::Open(path, StorageOptions{}.busy_timeout);
}

// The rows of a one-query read on a file opened read-only, every column as text.
Result<Rows> ReadOnlyQuery(const fs::path& path, const std::string& query) {
  auto db = OpenReadOnly(path);
  if (!db) return db.error();
  return db->Query(query);
}

// The tenants that the shared database open on `db` lists, in id order.
Result<std::vector<TenantEntry>> TenantsIn(sqlite3* db) {
  auto rows = QueryRows(db, "shared.db", "SELECT id, slug FROM tenants ORDER BY id");
  if (!rows) return rows.error();
  std::vector<TenantEntry> out;
  for (const auto& row : *rows) out.push_back({std::stoll(row[0]), row[1]});
  return out;
}

Result<std::vector<TenantEntry>> ListTenants(const fs::path& dir) {
  auto db = OpenReadOnly(dir / "shared.db");
  if (!db) return db.error();
  return TenantsIn(db->handle());
}

CheckFinding VersionFinding(const std::string& label, const std::vector<int>& applied,
                            std::span<const sql::Migration> migrations, std::string_view prefix);

// Integrity and migrations of one database file, as findings.
void CheckDatabase(const fs::path& path, const std::string& label,
                   std::span<const sql::Migration> migrations,
                   std::vector<CheckFinding>& findings) {
  auto integrity = ReadOnlyQuery(path, "PRAGMA integrity_check");
  if (!integrity) {
    findings.push_back({label, false, integrity.error().message()});
    return;
  }
  std::string verdict;
  for (const auto& row : *integrity) verdict += (verdict.empty() ? "" : "; ") + row[0];
  if (verdict != "ok") {
    findings.push_back({label, false, "integrity_check: " + verdict});
    return;
  }
  auto versions = ReadOnlyQuery(path, "SELECT version FROM schema_migrations ORDER BY version");
  if (!versions) {
    findings.push_back({label, false, versions.error().message()});
    return;
  }
  std::vector<int> applied;
  for (const auto& row : *versions) applied.push_back(std::stoi(row[0]));
  findings.push_back(VersionFinding(label, applied, migrations, "integrity ok, "));
}

// The verdict on a database's applied migration versions against the known list.
CheckFinding VersionFinding(const std::string& label, const std::vector<int>& applied,
                            std::span<const sql::Migration> migrations, std::string_view prefix) {
  std::vector<int> known;
  for (const sql::Migration& m : migrations) known.push_back(m.version);
  if (applied == known)
    return {label, true,
            fmt::format("{}schema version {}", prefix, known.empty() ? 0 : known.back())};
  std::vector<int> missing;
  for (int v : known)
    if (!std::binary_search(applied.begin(), applied.end(), v)) missing.push_back(v);
  int newest = applied.empty() ? 0 : applied.back();
  if (!known.empty() && newest > known.back())
    return {label, false, fmt::format("schema version {} is newer than this "
                                      "smooth-admin knows ({})",
                                      newest, known.back())};
  return {label, false, fmt::format("migrations not applied: {} (run "
                                    "smooth-admin migrate)",
                                    fmt::join(missing, ", "))};
}

// --- Bookings ---

// What check verifies of a tenant's bookings on either backend, from the rows alone: no
// moment at which the pending and confirmed appointments on a resource (buffers included)
// outnumber its capacity; on PostgreSQL also that the occupancy rows under the EXCLUDE
// constraint are exactly those the appointments call for.

// Moments reported by count at most; past this, "more than".
constexpr std::size_t kMaxReported = 1000;

// The moments a resource is over capacity, in time order: resource, instant (microseconds),
// bookings, capacity, as text. `elements`: the rows of an appointment's resource ids (its
// JSON array) for the dialect. A sweep: +1 where an occupation starts, -1 where it ends (ends
// first at the same instant, [start, end) meeting is no overlap), running sum per resource.
std::string OverflowQuery(std::string_view elements) {
  return fmt::format(
      "WITH occ AS ("
      "  SELECT DISTINCT a.id, CAST(r.value AS BIGINT) AS resource,"
      "         a.start_at - a.buffer_before AS s, a.end_at + a.buffer_after AS e"
      "  FROM appointments a, {} r WHERE a.status IN ('pending', 'confirmed')),"
      " ev AS (SELECT resource, s AS t, 1 AS d FROM occ"
      "        UNION ALL SELECT resource, e AS t, -1 AS d FROM occ),"
      " run AS (SELECT resource, t, SUM(d) OVER (PARTITION BY resource ORDER BY t, d"
      "                                          ROWS UNBOUNDED PRECEDING) AS n FROM ev)"
      " SELECT CAST(run.resource AS TEXT), CAST(run.t AS TEXT), CAST(run.n AS TEXT),"
      "        CAST(res.capacity AS TEXT)"
      " FROM run JOIN resources res ON res.id = run.resource"
      " WHERE run.n > res.capacity ORDER BY run.t, run.resource LIMIT {}",
      elements, kMaxReported + 1);
}

// What OverflowQuery's rows say, or nothing when there are none.
std::optional<std::string> OverflowProblem(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return std::nullopt;
  const std::vector<std::string>& first = rows.front();
  const Instant at{std::chrono::microseconds(std::stoll(first[1]))};
  return fmt::format(
      "bookings above capacity at {}{} moment{}; the first: resource {} at {}, {} bookings for "
      "a capacity of {}",
      rows.size() > kMaxReported ? "more than " : "", std::min(rows.size(), kMaxReported),
      rows.size() == 1 ? "" : "s", first[0], FormatRfc3339(at), first[2], first[3]);
}

// PostgreSQL: the occupancy rows the appointments call for (as the triggers of tenant
// migrations 2 and 5 build them) but that are missing or differ, and those no appointment
// calls for, as two counts.
constexpr const char* kOccupancyQuery =
    "WITH want AS ("
    "  SELECT DISTINCT a.id AS appointment_id, CAST(r.value AS BIGINT) AS resource_id,"
    "   TIMESTAMPTZ 'epoch' + (a.start_at - a.buffer_before) * INTERVAL '1 microsecond'"
    "     AS occupied_start,"
    "   TIMESTAMPTZ 'epoch' + (a.end_at + a.buffer_after) * INTERVAL '1 microsecond'"
    "     AS occupied_end,"
    "   a.status IN ('pending', 'confirmed') AS active,"
    "   COALESCE((SELECT x.capacity = 1 FROM resources x WHERE x.id = CAST(r.value AS BIGINT)),"
    "            false) AS cap1"
    "  FROM appointments a, json_array_elements_text(CAST(a.resources AS json)) r),"
    " have AS (SELECT appointment_id, resource_id, occupied_start, occupied_end, active, cap1"
    "          FROM appointment_occupancy)"
    " SELECT CAST((SELECT COUNT(*) FROM (SELECT * FROM want EXCEPT SELECT * FROM have) m) AS TEXT),"
    "        CAST((SELECT COUNT(*) FROM (SELECT * FROM have EXCEPT SELECT * FROM want) x) AS TEXT)";

// Adds what a tenant's bookings show to its findings: a problem each, or a word on the
// tenant's last (good) finding. `rows(query, what)` reads the tenant's data.
template <typename Rows>
void CheckBookings(const std::string& label, bool postgres, Rows&& rows,
                   std::vector<CheckFinding>& findings) {
  const std::size_t own = findings.size() - 1;  // the tenant's finding so far, good
  std::vector<std::string> good;
  auto overflows = rows(OverflowQuery(postgres ? "json_array_elements_text(CAST(a.resources AS json))"
                                               : "json_each(a.resources)"),
                        "looking for bookings above capacity");
  if (!overflows) {
    findings.push_back({label, false, overflows.error().message()});
  } else if (auto problem = OverflowProblem(*overflows)) {
    findings.push_back({label, false, *problem});
  } else {
    good.push_back("no booking above capacity");
  }
  if (postgres) {
    auto occupancy = rows(kOccupancyQuery, "comparing occupancy rows with appointments");
    if (!occupancy) {
      findings.push_back({label, false, occupancy.error().message()});
    } else if ((*occupancy)[0][0] != "0" || (*occupancy)[0][1] != "0") {
      findings.push_back(
          {label, false,
           fmt::format("occupancy rows disagree with the appointments: {} missing or different, "
                       "{} that no appointment calls for (the EXCLUDE constraint works on them)",
                       (*occupancy)[0][0], (*occupancy)[0][1])});
    } else {
      good.push_back("occupancy rows agree");
    }
  }
  if (!good.empty()) findings[own].detail += fmt::format(", {}", fmt::join(good, ", "));
}

// --- PostgreSQL ---

using postgres::PostgresMaintenance;

Result<std::unique_ptr<PostgresMaintenance>> OpenPg(std::string_view url) {
  return PostgresMaintenance::Open(url);
}

Status PgMigrateShared(PostgresMaintenance& pg, const Progress& progress) {
  SMOOTH_RETURN_IF_ERROR(pg.MigrateShared());
  if (progress) {
    auto applied = pg.AppliedMigrations("public", "shared database");
    if (!applied) return applied.error();
    progress(fmt::format("shared database: at version {}", applied->empty() ? 0 : applied->back()));
  }
  return {};
}

Status PgMigrateTenant(PostgresMaintenance& pg, std::string_view slug, const Progress& progress) {
  SMOOTH_RETURN_IF_ERROR(pg.MigrateTenant(slug));
  if (progress) {
    std::string label = TenantLabel(slug);
    auto schema = postgres::TenantSchemaName(slug);
    if (!schema) return schema.error();
    auto applied = pg.AppliedMigrations(*schema, label);
    if (!applied) return applied.error();
    progress(fmt::format("{}: at version {}", label, applied->empty() ? 0 : applied->back()));
  }
  return {};
}

Result<std::vector<CheckFinding>> PgCheck(std::string_view url) {
  auto pg = OpenPg(url);
  if (!pg) return pg.error();
  std::vector<CheckFinding> findings;
  auto shared = (*pg)->AppliedMigrations("public", "shared database");
  findings.push_back(
      shared ? VersionFinding("shared database", *shared, postgres::SharedMigrations(), "")
             : CheckFinding{"shared database", false, shared.error().message()});
  if (!findings.back().ok) {
    // Another application's database: say so, not what it lacks.
    Status ours = (*pg)->OursOrEmpty();
    if (ours.code() == StatusCode::kFailedPrecondition) findings.back().detail = ours.message();
    return findings;  // tenants cannot be listed reliably
  }
  auto tenants = (*pg)->Tenants();
  if (!tenants) {
    findings.push_back({"shared database", false, tenants.error().message()});
    return findings;
  }
  std::set<std::string> expected;
  for (const auto& t : *tenants) {
    std::string label = TenantLabel(t.slug);
    auto schema = postgres::TenantSchemaName(t.slug);
    if (!schema) {
      findings.push_back({label, false, fmt::format("tenant id {}: {}", t.id,
                                                    schema.error().message())});
      continue;
    }
    expected.insert(*schema);
    auto exists = (*pg)->SchemaExists(*schema);
    if (!exists) {
      findings.push_back({label, false, exists.error().message()});
      continue;
    }
    if (!*exists) {
      findings.push_back(
          {label, false, fmt::format("tenant id {}: its schema {} is missing", t.id, *schema)});
      continue;
    }
    auto applied = (*pg)->AppliedMigrations(*schema, label);
    if (!applied) {
      findings.push_back({label, false, applied.error().message()});
      continue;
    }
    findings.push_back(VersionFinding(label, *applied, postgres::TenantMigrations(), ""));
    if (!findings.back().ok) continue;
    auto owner = (*pg)->SchemaOwner(*schema);
    if (!owner || !owner->has_value() || **owner != t.id) {
      findings.back() = {
          label, false,
          fmt::format("schema {} does not belong to tenant id {} (tenant_meta says {})", *schema,
                      t.id,
                      !owner ? owner.error().message()
                             : owner->has_value() ? std::to_string(**owner) : "nothing")};
      continue;
    }
    CheckBookings(label, /*postgres=*/true,
                  [&](const std::string& query, std::string_view what) {
                    return (*pg)->TextRows(*schema, fmt::format("{}: {}", label, what), query);
                  },
                  findings);
  }
  // Tenant schemas without a tenant row: left by hand or another tool. They make creating
  // that slug fail, so they are reported.
  auto schemas = (*pg)->TenantSchemas();
  if (!schemas) {
    findings.push_back({"tenant schemas", false, schemas.error().message()});
    return findings;
  }
  for (const std::string& name : *schemas)
    if (!expected.contains(name))
      findings.push_back({"schema " + name, false, "a tenant schema with no tenant row"});
  return findings;
}

// --- Backup ---

// The connection under a SOCI SQLite session, for the C API calls SOCI does not wrap.
sqlite3* RawHandle(sql::Connection& conn) {
  return static_cast<soci::sqlite3_session_backend*>(conn.session().get_backend())->conn_;
}

// Undoes a backup that did not finish: removes the directory when the backup made it,
// otherwise the files it made in the empty directory it was given.
class PartialBackup {
 public:
  PartialBackup(fs::path dir, bool made_dir) : dir_(std::move(dir)), made_dir_(made_dir) {}
  ~PartialBackup() {
    if (done_) return;
    std::error_code ec;
    if (made_dir_) {
      fs::remove_all(dir_, ec);
      return;
    }
    for (const fs::path& file : files_) sqlite::RemoveDatabaseFiles(file);
  }
  PartialBackup(const PartialBackup&) = delete;
  PartialBackup& operator=(const PartialBackup&) = delete;

  void Made(fs::path file) { files_.push_back(std::move(file)); }
  void Done() { done_ = true; }

 private:
  fs::path dir_;
  bool made_dir_;
  bool done_ = false;
  std::vector<fs::path> files_;
};

// Makes `to` the backup's directory: a new one, mode 0700 whatever the umask (the copies
// hold password hashes), or an existing empty one, used as it is. Whether it was made here.
Result<bool> BackupDirectory(const fs::path& to) {
  if (to.empty()) return InvalidArgument("--to: needs a directory");
  if (::mkdir(to.c_str(), 0700) == 0) {
    std::error_code ec;
    fs::permissions(to, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove(to, ignored);
      return Unavailable(
          fmt::format("--to {}: cannot restrict it to its owner: {}", to.string(), ec.message()));
    }
    return true;
  }
  if (errno != EEXIST)
    return Unavailable(
        fmt::format("--to {}: cannot create it: {}", to.string(), std::strerror(errno)));
  std::error_code ec;
  if (!fs::is_directory(to, ec))
    return FailedPrecondition(fmt::format("--to {}: exists and is not a directory", to.string()));
  bool empty = fs::is_empty(to, ec);
  if (ec) return Unavailable(fmt::format("--to {}: cannot read it: {}", to.string(), ec.message()));
  if (!empty)
    return FailedPrecondition(fmt::format(
        "--to {}: is not empty; a backup goes into a new or an empty directory", to.string()));
  return false;
}

// A database file being copied: the copy's connection, open for the caller to read or
// adjust before FinishCopy, and the copy's size in bytes.
struct Copy {
  std::unique_ptr<sql::Connection> conn;
  std::uintmax_t bytes = 0;
};

// Copies the database file `from` into the new file `to` (mode 0600, as ConnectFile creates
// every data file) as one consistent snapshot.
//
// SQLite's online backup API rather than VACUUM INTO: it copies the pages as they are
// instead of rebuilding every table and index, which is far less work beside a running
// server, and it writes through a connection of ours, to a file made as the backend makes
// its own. One sqlite3_backup_step(-1) reads the whole source inside one read transaction:
// in WAL mode a snapshot, which writers in other processes neither block nor are blocked by
// (checkpoints only stop short of it until it ends). Stepping a few pages at a time instead
// would restart the copy whenever another process commits: under a steady writer it might
// never finish.
Result<Copy> Snapshot(const fs::path& from, const fs::path& to, const std::string& label,
                      PartialBackup& partial) {
  std::error_code ec;
  if (!fs::exists(from, ec))
    return NotFound(fmt::format("{}: {} does not exist", label, from.filename().string()));
  // Read-only: a backup never changes the databases it copies.
  auto source = OpenReadOnly(from);
  if (!source) return Internal(fmt::format("{}: {}", label, source.error().message()));
  // A scratch connection: rollback journal and no syncs while the copy is written; it is
  // put in WAL mode and synced once, in FinishCopy.
  partial.Made(to);
  auto conn = sqlite::ConnectFile(to, label, StorageOptions{}, /*create=*/true, /*scratch=*/true);
  if (!conn) return conn.error();
  sqlite3* dest = RawHandle(**conn);
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", source->handle(), "main");
  if (backup == nullptr)
    return Internal(fmt::format("{}: cannot start copying {}: {}", label, from.filename().string(),
                                sqlite3_errmsg(dest)));
  int rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
      return Unavailable(
          fmt::format("{}: {} stayed locked; try again", label, from.filename().string()));
    return Internal(
        fmt::format("{}: cannot copy {}: {}", label, from.filename().string(), sqlite3_errstr(rc)));
  }
  Copy copy{std::move(*conn), fs::file_size(to, ec)};
  if (ec)
    return Internal(fmt::format("{}: cannot read the size of its copy: {}", label, ec.message()));
  return copy;
}

// Puts a copy in WAL mode, as the backend keeps its files (the mode is recorded in the file),
// closes it and makes it durable.
Status FinishCopy(std::unique_ptr<sql::Connection> conn, const fs::path& path,
                  const std::string& label) {
  try {
    std::string journal;
    conn->session() << "PRAGMA journal_mode = WAL", soci::into(journal);
    if (journal != "wal")
      return Internal(
          fmt::format("{}: cannot switch its copy to WAL mode (got '{}')", label, journal));
  } catch (const soci::soci_error& e) {
    return Internal(
        fmt::format("{}: cannot switch its copy to WAL mode: {}", label, e.get_error_message()));
  }
  conn.reset();  // the last connection: SQLite removes the -wal and -shm files it made
  return sqlite::SyncFile(path, label);
}

// Raises the id counters of the copy of shared.db open on `copy` to where the source's
// (`shared`) stand now. The tenant files were taken after shared.db: their rows may hold
// ids reserved from object_ids, or name users numbered from shared_ids, after its snapshot.
// A restored storage must never hand those ids out again; the ids skipped are gaps, as the
// unused ids of a reserved block are.
Status RaiseIdCounters(sql::Connection& copy, const fs::path& shared) {
  auto now =
      ReadOnlyQuery(shared, "SELECT (SELECT next FROM shared_ids), (SELECT next FROM object_ids)");
  if (!now || now->size() != 1)
    return Internal(fmt::format("shared database: cannot read its id counters: {}",
                                now ? "no row" : now.error().message()));
  try {
    long long shared_next = std::stoll((*now)[0][0]);
    long long object_next = std::stoll((*now)[0][1]);
    copy.session() << "UPDATE shared_ids SET next = MAX(next, :n)", soci::use(shared_next);
    copy.session() << "UPDATE object_ids SET next = MAX(next, :n)", soci::use(object_next);
  } catch (const soci::soci_error& e) {
    return Internal(fmt::format("shared database: cannot raise the id counters of its copy: {}",
                                e.get_error_message()));
  } catch (const std::logic_error& e) {  // std::stoll: not a number
    return Internal(fmt::format("shared database: bad id counters: {}", e.what()));
  }
  return {};
}

// Whether the source's tenant `t`, listed by the copy of shared.db open on `copy`, was
// deleted (Storage::DeleteTenant) after that copy was taken: then its file has gone, and
// the source's shared.db records it. Such a tenant is left out as if it had been deleted
// before: its rows go from the copy and its slug stays taken, as in the source, and
// whatever a failed copy of its file left at `file` is removed.
Result<bool> LeaveOutDeleted(sql::Connection& copy, const fs::path& dir, const TenantEntry& t,
                             const fs::path& file) {
  std::error_code ec;
  if (fs::exists(TenantFile(dir, t.slug), ec)) return false;
  auto deleted = ReadOnlyQuery(
      dir / "shared.db",
      fmt::format("SELECT deleted_at FROM deleted_tenants WHERE tenant_id = {}", t.id));
  if (!deleted) return deleted.error();
  if (deleted->empty()) return false;
  sqlite::RemoveDatabaseFiles(file);
  try {
    const Instant at{Duration(std::stoll((*deleted)[0][0]))};
    soci::transaction txn(copy.session());
    sql::DeleteTenantRowsOn(copy, TenantId(t.id), t.slug, at);
    txn.commit();
  } catch (const soci::soci_error& e) {
    return Internal(
        fmt::format("cannot leave it out of the copy of shared.db: {}", e.get_error_message()));
  } catch (const std::logic_error& e) {  // std::stoll: not a number
    return Internal(fmt::format("bad deleted_at in shared.db: {}", e.what()));
  }
  return true;
}

}  // namespace

Status RequireExisting(std::string_view url) {
  if (IsPostgres(url)) {
    // The database itself must exist to be connected to; libsmooth's version table in it
    // is what tells a storage from an empty database.
    auto pg = OpenPg(url);
    if (!pg) return pg.error();
    auto rows = (*pg)->TextRows(
        "public", "shared database",
        "SELECT current_database()::TEXT, "
        "CASE WHEN to_regclass('public.schema_migrations') IS NULL THEN 'no' ELSE 'yes' END");
    if (!rows) return rows.error();
    if (rows->size() == 1 && (*rows)[0].at(1) == "yes") return {};
    return NotFound(
        fmt::format("no storage in database '{}' (create-superuser or migrate creates one)",
                    rows->empty() ? std::string() : (*rows)[0].at(0)));
  }
  auto dir = SqliteDir(url);
  if (!dir) return dir.error();
  std::error_code ec;
  if (!fs::exists(*dir / "shared.db", ec))
    return NotFound(
        fmt::format("no storage in {} (create-superuser or migrate creates one)", dir->string()));
  return {};
}

Status MigrateShared(std::string_view url, const Progress& progress) {
  if (IsPostgres(url)) {
    auto pg = OpenPg(url);
    if (!pg) return pg.error();
    return PgMigrateShared(**pg, progress);
  }
  auto dir = SqliteDir(url);
  if (!dir) return dir.error();
  std::error_code ec;
  fs::path shared = *dir / "shared.db";
  if (!fs::exists(shared, ec)) {
    // A new data directory: the backend creates it and shared.db (and there are no tenants yet).
    auto created = OpenStorage(url);
    if (!created) return created.error();
  }
  SMOOTH_RETURN_IF_ERROR(sqlite::SharedFileOursOrEmpty(shared, StorageOptions{}.busy_timeout));
  return MigrateFile(
      shared, "shared database",
      [](sql::Connection& c) {
        return sql::Migrate(c, sqlite::Dialect(), "shared database", sqlite::SharedMigrations());
      },
      progress);
}

Status MigrateTenant(std::string_view url, std::string_view slug, const Progress& progress) {
  if (IsPostgres(url)) {
    SMOOTH_RETURN_IF_ERROR(RequireExisting(url));  // a new storage has no tenant to migrate
    auto pg = OpenPg(url);
    if (!pg) return pg.error();
    SMOOTH_RETURN_IF_ERROR(PgMigrateShared(**pg, progress));
    auto tenants = (*pg)->Tenants();
    if (!tenants) return tenants.error();
    for (const auto& t : *tenants)
      if (sql::SlugKey(t.slug) == sql::SlugKey(slug)) return PgMigrateTenant(**pg, t.slug, progress);
    return NotFound(fmt::format("tenant '{}': no such tenant", slug));
  }
  SMOOTH_RETURN_IF_ERROR(RequireExisting(url));  // a new storage has no tenant to migrate
  SMOOTH_RETURN_IF_ERROR(MigrateShared(url, progress));
  fs::path dir = *SqliteDir(url);
  auto tenants = ListTenants(dir);
  if (!tenants) return tenants.error();
  for (const TenantEntry& t : *tenants) {
    if (sql::SlugKey(t.slug) != sql::SlugKey(slug)) continue;
    return MigrateTenantFile(dir, t.slug, progress);
  }
  return NotFound(fmt::format("tenant '{}': no such tenant", slug));
}

Status MigrateAll(std::string_view url, const Progress& progress) {
  if (IsPostgres(url)) {
    auto pg = OpenPg(url);
    if (!pg) return pg.error();
    SMOOTH_RETURN_IF_ERROR(PgMigrateShared(**pg, progress));
    auto tenants = (*pg)->Tenants();
    if (!tenants) return tenants.error();
    for (const auto& t : *tenants) SMOOTH_RETURN_IF_ERROR(PgMigrateTenant(**pg, t.slug, progress));
    return {};
  }
  SMOOTH_RETURN_IF_ERROR(MigrateShared(url, progress));
  fs::path dir = *SqliteDir(url);
  auto tenants = ListTenants(dir);
  if (!tenants) return tenants.error();
  for (const TenantEntry& t : *tenants)
    SMOOTH_RETURN_IF_ERROR(MigrateTenantFile(dir, t.slug, progress));
  return {};
}

Result<std::vector<CheckFinding>> Check(std::string_view url) {
  if (IsPostgres(url)) return PgCheck(url);
  auto dir = SqliteDir(url);
  if (!dir) return dir.error();
  std::vector<CheckFinding> findings;
  std::error_code ec;
  if (!fs::is_directory(*dir, ec)) {
    findings.push_back({dir->string(), false, "no data directory"});
    return findings;
  }
  fs::path shared = *dir / "shared.db";
  if (!fs::exists(shared, ec)) {
    findings.push_back({"shared database", false, "shared.db does not exist"});
    return findings;
  }
  // Another program's database under libsmooth's name: say so, not what it lacks. Asked
  // first: its tables are not read as libsmooth's (another schema_migrations' versions need
  // not be numbers).
  Status ours = sqlite::SharedFileOursOrEmpty(shared, StorageOptions{}.busy_timeout);
  if (!ours.ok()) {
    findings.push_back({"shared database", false, ours.message()});
    return findings;
  }
  CheckDatabase(shared, "shared database", sqlite::SharedMigrations(), findings);
  if (!findings.back().ok) return findings;  // tenants cannot be listed reliably

  auto tenants = ListTenants(*dir);
  if (!tenants) {
    findings.push_back({"shared database", false, tenants.error().message()});
    return findings;
  }
  std::set<std::string> expected_files;
  for (const TenantEntry& t : *tenants) {
    std::string label = TenantLabel(t.slug);
    fs::path file = TenantFile(*dir, t.slug);
    expected_files.insert(file.filename().string());
    if (!fs::exists(file, ec)) {
      findings.push_back({label, false, fmt::format("tenant id {}: its data file {} is missing",
                                                    t.id, file.filename().string())});
      continue;
    }
    CheckDatabase(file, label, sqlite::TenantMigrations(), findings);
    if (!findings.back().ok) continue;
    auto owner = ReadOnlyQuery(file, "SELECT tenant_id FROM tenant_meta");
    if (!owner || owner->size() != 1 || (*owner)[0][0] != std::to_string(t.id)) {
      findings.back() = {label, false,
                         fmt::format("{} does not belong to tenant id {} (tenant_meta says {})",
                                     file.filename().string(), t.id,
                                     owner && !owner->empty() ? (*owner)[0][0] : "nothing")};
      continue;
    }
    CheckBookings(label, /*postgres=*/false,
                  [&](const std::string& query, std::string_view) {
                    return ReadOnlyQuery(file, query);
                  },
                  findings);
  }
  // Tenant files without a tenant row: left by an interrupted creation, or by hand. They
  // make creating that slug fail, so they are reported.
  for (const fs::directory_entry& entry : fs::directory_iterator(*dir, ec)) {
    std::string name = entry.path().filename().string();
    bool tenant_file = name.starts_with("tenant_") &&
                       (name.ends_with(".db") || name.ends_with(".db.tmp"));
    if (tenant_file && !expected_files.contains(name))
      findings.push_back({name, false, "a tenant data file with no tenant row"});
  }
  return findings;
}

Result<BackupReport> Backup(std::string_view url, const std::string& to, const Progress& progress) {
  if (IsPostgres(url))
    return FailedPrecondition(
        "backup copies a SQLite data directory; back up a PostgreSQL storage with pg_dump: "
        "pg_dump -Fc of the whole database (the public schema and every tenant_* schema), "
        "restored with pg_restore");
  SMOOTH_RETURN_IF_ERROR(RequireExisting(url));  // nothing is made for a storage not there
  const fs::path dir = *SqliteDir(url);
  const fs::path target(to);
  auto made = BackupDirectory(target);
  if (!made) return made.error();
  PartialBackup partial(target, *made);
  BackupReport report;

  // shared.db first: the tenants its copy lists are the tenants the backup holds.
  const std::string shared_label = "shared database";
  auto shared = Snapshot(dir / "shared.db", target / "shared.db", shared_label, partial);
  if (!shared) return shared.error();
  report.bytes += shared->bytes;
  if (progress) progress(fmt::format("{}: shared.db, {} bytes", shared_label, shared->bytes));
  auto tenants = TenantsIn(RawHandle(*shared->conn));
  if (!tenants) return Internal(fmt::format("{}: {}", shared_label, tenants.error().message()));

  for (const TenantEntry& t : *tenants) {
    const std::string label = TenantLabel(t.slug);
    if (!sqlite::SafeSlug(sql::SlugKey(t.slug)))  // about to name a file to write
      return Internal(
          fmt::format("{}: tenant id {} has a slug that cannot name a data file", label, t.id));
    const fs::path file = TenantFile(target, t.slug);
    auto copy = Snapshot(TenantFile(dir, t.slug), file, label, partial);
    if (!copy) {
      auto left_out = LeaveOutDeleted(*shared->conn, dir, t, file);
      if (!left_out) return Internal(fmt::format("{}: {}", label, left_out.error().message()));
      if (!*left_out) return copy.error();
      if (progress) progress(fmt::format("{}: deleted while the backup ran; left out", label));
      continue;
    }
    SMOOTH_RETURN_IF_ERROR(FinishCopy(std::move(copy->conn), file, label));
    report.bytes += copy->bytes;
    ++report.tenants;
    if (progress)
      progress(fmt::format("{}: {}, {} bytes", label, file.filename().string(), copy->bytes));
  }

  SMOOTH_RETURN_IF_ERROR(RaiseIdCounters(*shared->conn, dir / "shared.db"));
  SMOOTH_RETURN_IF_ERROR(FinishCopy(std::move(shared->conn), target / "shared.db", shared_label));
  // The files' names, and the directory's own when it is new.
  SMOOTH_RETURN_IF_ERROR(sqlite::SyncDirectory(target));
  if (*made) {
    std::error_code ec;
    fs::path made_path = fs::absolute(target, ec);
    if (ec) return Internal(fmt::format("--to {}: {}", target.string(), ec.message()));
    if (!made_path.has_filename()) made_path = made_path.parent_path();  // "DIR/"
    SMOOTH_RETURN_IF_ERROR(sqlite::SyncDirectory(made_path.parent_path()));
  }
  partial.Done();
  return report;
}

}  // namespace smooth::internal::admin
