// The SQLite backend over the generic SOCI storage. SQLite specifics live here: one file
// per tenant (the embedded analogue of a schema), the pragmas of every connection, BEGIN
// IMMEDIATE for writers, a pool per file, and the global id counter in shared.db.
#include "storage/sqlite/sqlite_storage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sql/session_pool.hpp"
#include "storage/sql/transactions.hpp"
#include "storage/sqlite/sqlite_schema.hpp"

namespace smooth::internal::sqlite {
namespace {

namespace fs = std::filesystem;
using sql::Connection;
using sql::SessionPool;
using sql::WriteGate;

class SqliteDialect final : public sql::SqlDialect {
 public:
  static const SqliteDialect& Instance() {
    static const SqliteDialect dialect;
    return dialect;
  }

  void Begin(soci::session& session, TxnMode mode) const override {
    // SOCI's session.begin() issues a plain (deferred) BEGIN; a writer must take the
    // write lock up front, or two writers that both read first deadlock on the upgrade.
    session << (mode == TxnMode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
  }

  sql::SqlErrorKind Classify(const soci::soci_error& e) const override {
    if (const auto* se = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
      int code = se->result() & 0xff;
      if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return sql::SqlErrorKind::kBusy;
      if (code == SQLITE_FULL || code == SQLITE_NOMEM) return sql::SqlErrorKind::kResourceExhausted;
      if (code == SQLITE_CONSTRAINT && se->get_error_message().find("UNIQUE") != std::string::npos)
        return sql::SqlErrorKind::kUniqueViolation;
    }
    std::string message = e.get_error_message();
    if (message.find("database is locked") != std::string::npos ||
        message.find("database table is locked") != std::string::npos)
      return sql::SqlErrorKind::kBusy;
    if (message.find("UNIQUE constraint failed") != std::string::npos)
      return sql::SqlErrorKind::kUniqueViolation;
    return sql::SqlErrorKind::kOther;
  }

  // sqlite3_get_autocommit is, by SQLite's documentation, the only way to learn that an
  // error rolled the transaction back.
  bool TransactionEnded(soci::session& session) const override {
    auto* backend = static_cast<soci::sqlite3_session_backend*>(session.get_backend());
    return backend == nullptr || backend->conn_ == nullptr ||
           sqlite_api::sqlite3_get_autocommit(backend->conn_) != 0;
  }
};

// Whether the database file open on `c` is no longer the file at its path: removed (a
// deleted tenant's) or replaced. SQLITE_FCNTL_HAS_MOVED compares the open file with the path.
bool FileMoved(Connection& c) {
  auto* backend = static_cast<soci::sqlite3_session_backend*>(c.session().get_backend());
  int moved = 0;
  return backend != nullptr && backend->conn_ != nullptr &&
         sqlite_api::sqlite3_file_control(backend->conn_, "main", SQLITE_FCNTL_HAS_MOVED, &moved) ==
             SQLITE_OK &&
         moved != 0;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool UrisSupported() {
  static const bool supported = sqlite_api::sqlite3_compileoption_used("USE_URI") != 0;
  return supported;
}

// `path` as a URI filename, without parameters.
std::string FileUri(const std::string& path) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~')
      uri += static_cast<char>(c);
    else
      uri += fmt::format("%{:02X}", c);
  }
  return uri;
}

// The SOCI connect string for `path`. With URI filenames, `mode=rw` makes SQLite refuse
// to create a missing file, so a tenant file deleted under us is never silently recreated
// empty. Without them, the caller's existence check is all there is.
Result<std::string> ConnectString(const fs::path& path, bool create) {
  std::string p = path.string();
  if (UrisSupported()) return fmt::format("dbname={}?mode={}", FileUri(p), create ? "rwc" : "rw");
  if (p.find('"') != std::string::npos)
    return InvalidArgument("sqlite: the data directory's path may not contain '\"'");
  return fmt::format("dbname=\"{}\"", p);
}

}  // namespace

const sql::SqlDialect& Dialect() { return SqliteDialect::Instance(); }

bool SafeSlug(std::string_view key) {
  if (key.empty() || key.size() > 56 || key[0] < 'a' || key[0] > 'z') return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

void RemoveDatabaseFiles(const fs::path& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"})
    ::unlink((path.string() + suffix).c_str());
}

Status SyncFile(const fs::path& path, std::string_view label) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    return Internal(fmt::format("{}: cannot sync its data file: {}", label, std::strerror(err)));
  }
  ::close(fd);
  return {};
}

Status SyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    return Internal(
        fmt::format("cannot sync the directory {}: {}", dir.string(), std::strerror(err)));
  }
  ::close(fd);
  return {};
}

void ReadOnlyFile::Close(sqlite_api::sqlite3* db) { sqlite_api::sqlite3_close(db); }

Result<ReadOnlyFile> ReadOnlyFile::Open(const fs::path& path,
                                        std::chrono::milliseconds busy_timeout, bool immutable) {
  const std::string uri = FileUri(path.string()) + (immutable ? "?immutable=1" : "?mode=ro");
  sqlite_api::sqlite3* raw = nullptr;
  int rc = sqlite_api::sqlite3_open_v2(uri.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                                       nullptr);
  ReadOnlyFile file(raw, path.filename().string());
  if (rc != SQLITE_OK)
    return Internal(fmt::format("cannot open {}: {}", file.file_, sqlite_api::sqlite3_errstr(rc)));
  sqlite_api::sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
  return file;
}

Result<Rows> QueryRows(sqlite_api::sqlite3* db, std::string_view file, const std::string& query) {
  sqlite_api::sqlite3_stmt* raw = nullptr;
  if (sqlite_api::sqlite3_prepare_v2(db, query.c_str(), -1, &raw, nullptr) != SQLITE_OK)
    return Internal(fmt::format("{}: {}", file, sqlite_api::sqlite3_errmsg(db)));
  std::unique_ptr<sqlite_api::sqlite3_stmt, int (*)(sqlite_api::sqlite3_stmt*)> st(
      raw, sqlite_api::sqlite3_finalize);
  Rows rows;
  int rc;
  while ((rc = sqlite_api::sqlite3_step(st.get())) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite_api::sqlite3_column_count(st.get()); ++i) {
      const unsigned char* text = sqlite_api::sqlite3_column_text(st.get(), i);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE)
    return Internal(fmt::format("{}: {}", file, sqlite_api::sqlite3_errmsg(db)));
  return rows;
}

// Looked at read-only, before any connection switches the file to WAL mode: a refused file
// is left exactly as it was. libsmooth's schema_migrations is told from another program's
// table of that name by its columns and their declared types. A file that cannot be read
// here is left to the connection that follows, which reports why.
Status SharedFileOursOrEmpty(const fs::path& path, std::chrono::milliseconds busy_timeout) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  // A file in WAL mode with no -wal file beside it holds all it has itself, and nobody has
  // it open; a read-only connection would make a -wal and a -shm file beside it that it
  // cannot remove when it closes. Read it as immutable then, which makes none. With a -wal
  // (where a libsmooth process's schema may still be), read it as SQLite reads it.
  fs::path wal = path;
  wal += "-wal";
  bool immutable = false;
  if (!fs::exists(wal, ec) && !ec) {
    char header[20] = {};
    std::ifstream in(path, std::ios::binary);
    immutable = in.read(header, sizeof header) && (header[18] == 2 || header[19] == 2);
  }
  auto file = ReadOnlyFile::Open(path, busy_timeout, immutable);
  if (!file) return {};
  // Every row's first column; nullopt when the query fails.
  auto column = [&file](const char* query) -> std::optional<std::vector<std::string>> {
    auto rows = file->Query(query);
    if (!rows) return std::nullopt;
    std::vector<std::string> out;
    for (auto& row : *rows) out.push_back(std::move(row.at(0)));
    return out;
  };
  auto ours = column(
      "SELECT COUNT(*) FROM pragma_table_info('schema_migrations') "
      "WHERE (name = 'version' AND type = 'INTEGER') OR (name = 'name' AND type = 'TEXT') "
      "OR (name = 'applied_at' AND type = 'BIGINT')");
  if (!ours || ours->empty() || (*ours)[0] == "3") return {};
  auto held = column(
      "SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!'");
  if (!held || held->empty()) return {};
  return sql::NotLibsmooth(fmt::format("sqlite shared database '{}'", path.string()), "database",
                           std::move(*held), "libsmooth version table schema_migrations");
}

Result<std::unique_ptr<Connection>> ConnectFile(const fs::path& path, std::string_view label,
                                                const StorageOptions& options, bool create,
                                                bool scratch) {
  auto connect = ConnectString(path, create);
  if (!connect) return connect.error();
  if (create) {
    // The files hold password hashes and every booking: readable by the owner only,
    // whatever the umask or the directory's mode. SQLite gives the -wal and -shm files the
    // database file's mode.
    int fd;
    do {
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0) {
      ::close(fd);
    } else if (errno != EEXIST) {
      return Unavailable(fmt::format("{}: cannot create {}: {}", label, path.filename().string(),
                                     std::strerror(errno)));
    }
  }
  try {
    auto session = std::make_unique<soci::session>(*soci::factory_sqlite3(), *connect);
    soci::session& s = *session;
    // SQLite opens a file it may not write read-only, without a word. Such a connection
    // would stay read-only after the file is put right (every write through it failing
    // "attempt to write a readonly database" until the process restarts), and as it first
    // reads it gives an empty -wal file the database's mode, failing the next writer that
    // opens it too. So it is closed at once, before it reads anything, and the next use
    // opens the file afresh.
    auto* backend = static_cast<soci::sqlite3_session_backend*>(s.get_backend());
    if (backend != nullptr && backend->conn_ != nullptr &&
        sqlite_api::sqlite3_db_readonly(backend->conn_, "main") == 1)
      return FailedPrecondition(
          fmt::format("{}: {} is not writable (its mode, owner or file system?)", label,
                      path.filename().string()));
    long long timeout = options.busy_timeout.count();
    long long echoed = 0;
    s << fmt::format("PRAGMA busy_timeout = {}", timeout), soci::into(echoed);
    if (!scratch) {
      std::string journal;
      s << "PRAGMA journal_mode = WAL", soci::into(journal);
      if (Upper(journal) != "WAL")
        return Internal(fmt::format("{}: cannot switch to WAL mode (got '{}')", label, journal));
    }
    // Validated at open; never user data.
    s << fmt::format("PRAGMA synchronous = {}",
                     scratch ? std::string("OFF") : options.sqlite_synchronous);
    s << "PRAGMA foreign_keys = ON";
    return std::make_unique<Connection>(std::move(session));
  } catch (const soci::soci_error& e) {
    std::error_code ec;
    if (!create && !fs::exists(path, ec))
      return NotFound(fmt::format("{}: {} does not exist", label, path.filename().string()));
    if (SqliteDialect::Instance().Classify(e) == sql::SqlErrorKind::kBusy)
      return Unavailable(fmt::format("{} is busy; try again", label));
    return Internal(fmt::format("{}: cannot open {}: {}", label, path.filename().string(),
                                e.get_error_message()));
  } catch (const std::exception& e) {
    return Internal(
        fmt::format("{}: cannot open {}: {}", label, path.filename().string(), e.what()));
  }
}

namespace {

// One database file: its pool of connections and its in-process writer gate.
struct Database {
  Database(const std::string& name, fs::path file, std::size_t size, std::chrono::milliseconds wait,
           SessionPool::Opener open)
      : label(name), path(std::move(file)), pool(name, size, wait, std::move(open)), gate(name) {}
  std::string label;
  fs::path path;
  SessionPool pool;
  WriteGate gate;
};

struct TenantDatabase {
  TenantId tenant;  // the id recorded in the file's tenant_meta
  std::shared_ptr<Database> db;
  std::uint64_t used = 0;  // when last handed out (SqliteStorage::uses_)
};

// Ids for tenant rows, reserved from shared.db's object_ids in blocks, each in its own
// short BEGIN IMMEDIATE transaction on a connection of its own. Several processes sharing
// the directory each reserve their own blocks, so ids stay unique across all of them;
// ids of a block a process never uses are skipped, like a sequence's.
class BlockIdSource final : public sql::ObjectIdSource {
 public:
  static constexpr long long kBlock = 64;

  BlockIdSource(std::function<Result<std::unique_ptr<Connection>>()> open, WriteGate gate,
                std::chrono::milliseconds busy_timeout)
      : open_(std::move(open)), gate_(std::move(gate)), busy_timeout_(busy_timeout) {}

  Result<std::int64_t> Next(Connection& /*txn*/) override {
    // A refill waits for shared.db's write lock (up to busy_timeout, twice: the gate, then
    // BEGIN IMMEDIATE), outside mu_. Writers that need ids meanwhile wait for it at most
    // busy_timeout, rather than each making its own refill in turn, which with k writers
    // and another process holding the lock would take k times as long.
    std::unique_lock lock(mu_);
    if (!idle_.wait_for(lock, busy_timeout_, [&] { return !refilling_; }))
      return Unavailable("shared database is busy (reserving ids); try again");
    if (next_ < limit_) return next_++;
    refilling_ = true;
    lock.unlock();
    Result<long long> end = Refill();
    lock.lock();
    refilling_ = false;
    idle_.notify_all();
    if (!end) return end.error();
    next_ = *end - kBlock;
    limit_ = *end;
    return next_++;
  }

 private:
  // Reserves the next block in shared.db: the end of the block. Run by one thread at a
  // time (refilling_), the only one then to touch conn_.
  Result<long long> Refill() {
    if (!conn_) {
      auto conn = open_();
      if (!conn) return conn.error();
      conn_ = std::move(*conn);
    }
    auto ticket = gate_.Acquire(busy_timeout_);
    if (!ticket) return ticket.error();
    soci::session& s = conn_->session();
    try {
      SqliteDialect::Instance().Begin(s, TxnMode::kWrite);
      long long block = kBlock;
      long long end = 0;
      s << "UPDATE object_ids SET next = next + :n", soci::use(block);
      s << "SELECT next FROM object_ids", soci::into(end);
      s << "COMMIT";
      return end;
    } catch (const soci::soci_error& e) {
      try {
        s << "ROLLBACK";
      } catch (...) {
        conn_.reset();
      }
      if (SqliteDialect::Instance().Classify(e) == sql::SqlErrorKind::kBusy)
        return Unavailable("shared database is busy; try again");
      return Internal(fmt::format("shared database: reserving ids: {}", e.get_error_message()));
    } catch (const std::exception& e) {
      conn_.reset();
      return Internal(fmt::format("shared database: reserving ids: {}", e.what()));
    }
  }

  std::function<Result<std::unique_ptr<Connection>>()> open_;
  WriteGate gate_;
  std::chrono::milliseconds busy_timeout_;
  std::mutex mu_;
  std::condition_variable idle_;      // refilling_ went false
  bool refilling_ = false;            // guarded by mu_
  std::unique_ptr<Connection> conn_;  // the refilling thread's
  long long next_ = 0, limit_ = 0;    // the unused part of the block; guarded by mu_
};

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(fs::path dir, StorageOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {
    options_.sqlite_synchronous = Upper(options_.sqlite_synchronous);
    fs::path shared_path = dir_ / "shared.db";
    shared_ = std::make_unique<Database>(
        "shared database", shared_path, options_.pool_size, options_.pool_wait,
        [this, shared_path] { return Connect(shared_path, "shared database", false); });
    ids_ = std::make_shared<BlockIdSource>(
        [this, shared_path] { return Connect(shared_path, "shared database", false); },
        shared_->gate, options_.busy_timeout);
  }

  // Creates and migrates shared.db. Each tenant's file is migrated when it is opened, on
  // its first use (TenantDb).
  Status Init() {
    SMOOTH_RETURN_IF_ERROR(SharedFileOursOrEmpty(shared_->path, options_.busy_timeout));
    auto conn = Connect(shared_->path, shared_->label, true);
    if (!conn) return conn.error();
    SMOOTH_RETURN_IF_ERROR(
        sql::Migrate(**conn, SqliteDialect::Instance(), shared_->label, SharedMigrations()));
    shared_->pool.Offer(std::move(*conn));
    return {};
  }

  Result<std::unique_ptr<SharedTransaction>> BeginShared(TxnMode mode) override {
    auto txn = BeginSharedImpl(mode);
    if (!txn) return txn.error();
    return std::unique_ptr<SharedTransaction>(std::move(*txn));
  }

  Result<std::int64_t> SharedEpoch() override {
    static const std::string query = "SELECT value FROM shared_epoch";
    return sql::ReadSharedEpoch(shared_->pool, SqliteDialect::Instance(), query);
  }

  Result<Tenant> CreateTenant(Tenant tenant) override {
    std::string key = sql::SlugKey(tenant.slug);
    if (!SafeSlug(key))
      return InvalidArgument("slug: must match [a-z][a-z0-9_]{0,55} to name a data file");
    // The shared write transaction is held throughout: it serializes tenant creation
    // across threads and processes, and its rollback undoes the row on any failure.
    auto txn = BeginSharedImpl(TxnMode::kWrite);
    if (!txn) return txn.error();
    Result<Tenant> created = (*txn)->InsertTenant(std::move(tenant));
    if (!created) return created;

    std::string label = TenantLabel(created->slug);
    fs::path path = TenantPath(key);
    fs::path temp = path;
    temp += ".tmp";
    std::error_code ec;
    if (fs::exists(path, ec)) {
      // A creation killed between linking the file into place and committing the row
      // leaves a file that no tenant owns. Anything else there is not ours to touch.
      if (!LeftByInterruptedCreation(path, key, **txn, created->id))
        return FailedPrecondition(fmt::format(
            "{}: {} exists without a tenant row, and is not an empty file of an interrupted "
            "creation of it; move it away to create the tenant",
            label, path.filename().string()));
      RemoveDatabaseFiles(path);
      static_cast<void>(SyncDirectory(dir_));  // best effort: see below
    }

    // Build the file under a temporary name, then link it into place: the tenant file
    // either does not exist or is complete and migrated.
    Status built = BuildTenantFile(temp, *created);
    if (!built.ok()) {
      RemoveDatabaseFiles(temp);
      return built;
    }
    if (::link(temp.c_str(), path.c_str()) != 0) {
      int err = errno;
      RemoveDatabaseFiles(temp);
      return Internal(
          fmt::format("{}: cannot move its data file into place: {}", label, std::strerror(err)));
    }
    RemoveDatabaseFiles(temp);
    // Best effort, as SQLite's own syncs of a directory are: some file systems cannot sync
    // one, and creating a tenant there must still work.
    static_cast<void>(SyncDirectory(dir_));

    Status committed = (*txn)->Commit();
    if (!committed.ok()) {
      RemoveDatabaseFiles(path);
      return committed;
    }
    return created;
  }

  Status DeleteTenant(const Tenant& tenant, const BeforeDelete& before) override {
    std::string key = sql::SlugKey(tenant.slug);
    auto txn = BeginSharedImpl(TxnMode::kWrite);
    if (!txn) return txn.error();
    if (before) SMOOTH_RETURN_IF_ERROR(before(**txn));
    SMOOTH_RETURN_IF_ERROR((*txn)->DeleteTenantRows(tenant, SystemClock::Default().Now()));
    // The file goes only if it is this tenant's: one that is not (made by hand, or left by
    // something else) was never used for it, and is not ours to remove.
    fs::path path = TenantPath(key);
    std::error_code ec;
    std::unique_ptr<Connection> file;  // the tenant's own file, to be removed
    if (SafeSlug(key) && fs::exists(path, ec)) {
      auto conn = Connect(path, TenantLabel(tenant.slug), false);
      if (!conn) return conn.error();
      auto owned = OwnedBy(**conn, tenant.id, TenantLabel(tenant.slug));
      if (!owned) return owned.error();
      if (*owned) file = std::move(*conn);
    }
    SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
    // After the commit: a crash in between leaves the file, which no tenant can take again
    // (the slug stays taken) and smooth-admin check reports. Connections this process has
    // on it close as their leases come back.
    {
      std::lock_guard lock(tenants_mu_);
      tenants_.erase(key);
    }
    if (file) {
      // Removed under the file's write lock: a writer of the tenant in any process either
      // committed before (its booking went with the tenant) or takes the lock after, finds
      // the file removed (BeginTenant), and fails closed. Best effort past busy_timeout.
      bool locked = false;
      try {
        file->session() << "BEGIN IMMEDIATE";
        locked = true;
      } catch (const soci::soci_error&) {
      }
      RemoveDatabaseFiles(path);
      // Best effort too: the deletion has committed, so failing now would report a tenant
      // that is gone as not deleted. A removal lost to a crash leaves a stray file, as above.
      static_cast<void>(SyncDirectory(dir_));
      try {
        if (locked) file->session() << "ROLLBACK";
      } catch (const soci::soci_error&) {
      }
    }
    return {};
  }

  Result<std::string> Pragma(std::string_view name, const Tenant* tenant) {
    for (char c : name)
      if (!((c >= 'a' && c <= 'z') || c == '_')) return InvalidArgument("pragma: bad name");
    std::shared_ptr<Database> db;
    if (tenant) {
      auto t = TenantDb(*tenant);
      if (!t) return t.error();
      db = *t;
    }
    auto lease = db ? db->pool.Acquire() : shared_->pool.Acquire();
    if (!lease) return lease.error();
    try {
      std::string value;
      (*lease)->session() << fmt::format("PRAGMA {}", name), soci::into(value);
      return value;
    } catch (const soci::soci_error& e) {
      return Internal(e.get_error_message());
    }
  }

  Result<std::unique_ptr<TenantTransaction>> BeginTenant(const Tenant& tenant,
                                                         TxnMode mode) override {
    // A file removed (DeleteTenant, in any process) after TenantDb saw it, while this
    // transaction began on a connection opened before: found once BEGIN holds the file (a
    // write's BEGIN IMMEDIATE takes its lock, which DeleteTenant holds while it removes the
    // file), and then looked for again, through a fresh connection or none.
    for (int attempt = 0;; ++attempt) {
      auto db = TenantDb(tenant);
      if (!db) return db.error();
      sql::TxnParts parts;
      parts.dialect = &SqliteDialect::Instance();
      parts.mode = mode;
      parts.database = (*db)->label;
      if (mode == TxnMode::kWrite) {
        auto ticket = (*db)->gate.Acquire(options_.busy_timeout);
        if (!ticket) return ticket.error();
        parts.ticket = std::move(*ticket);
      }
      auto lease = (*db)->pool.Acquire();
      if (!lease) return lease.error();
      parts.lease = std::move(*lease);
      const std::string label = (*db)->label;
      parts.enter = [label](Connection& c) -> Status {
        if (FileMoved(c))
          return NotFound(fmt::format("{}: its data file was removed or replaced", label));
        return {};
      };
      auto txn = std::make_unique<sql::SqlTenantTransaction>(std::move(parts), ids_);
      Status begun = txn->Begin();
      if (begun.ok()) return std::unique_ptr<TenantTransaction>(std::move(txn));
      if (begun.code() != StatusCode::kNotFound || attempt > 0) return begun;
      txn.reset();  // the lease goes back, to a pool no longer in the cache
      std::lock_guard lock(tenants_mu_);
      auto it = tenants_.find(sql::SlugKey(tenant.slug));
      if (it != tenants_.end() && it->second.db == *db) tenants_.erase(it);
    }
  }

 private:
  static std::string TenantLabel(std::string_view slug) { return fmt::format("tenant '{}'", slug); }
  fs::path TenantPath(const std::string& key) const {
    return dir_ / fmt::format("tenant_{}.db", key);
  }

  Result<std::unique_ptr<sql::SqlSharedTransaction>> BeginSharedImpl(TxnMode mode) {
    sql::TxnParts parts;
    parts.dialect = &SqliteDialect::Instance();
    parts.mode = mode;
    parts.database = shared_->label;
    if (mode == TxnMode::kWrite) {
      auto ticket = shared_->gate.Acquire(options_.busy_timeout);
      if (!ticket) return ticket.error();
      parts.ticket = std::move(*ticket);
    }
    auto lease = shared_->pool.Acquire();
    if (!lease) return lease.error();
    parts.lease = std::move(*lease);
    auto txn = std::make_unique<sql::SqlSharedTransaction>(std::move(parts));
    SMOOTH_RETURN_IF_ERROR(txn->Begin());
    return txn;
  }

  Result<std::unique_ptr<Connection>> Connect(const fs::path& path, std::string_view label,
                                              bool create, bool scratch = false) const {
    return ConnectFile(path, label, options_, create, scratch);
  }

  // Whether the file at `path` is what an interrupted CreateTenant of `key` leaves: a tenant
  // file stamped with that slug and with an id no committed tenant has (`creating` is the
  // id the caller's own uncommitted row took, which may be the same), holding no data. Such
  // a file can be replaced without losing anything. Called in the shared write transaction,
  // which keeps other creations out.
  bool LeftByInterruptedCreation(const fs::path& path, const std::string& key,
                                 SharedTransaction& shared, TenantId creating) {
    {
      std::lock_guard lock(tenants_mu_);
      if (tenants_.count(key)) return false;  // open here: somebody's
    }
    auto conn = Connect(path, TenantLabel(key), /*create=*/false, /*scratch=*/true);
    if (!conn) return false;
    long long owner = 0;
    std::string slug;
    long long rows = -1;
    try {
      soci::session& s = (*conn)->session();
      long long stamps = 0;
      s << "SELECT COUNT(*) FROM tenant_meta", soci::into(stamps);
      if (stamps != 1) return false;
      s << "SELECT tenant_id, slug FROM tenant_meta", soci::into(owner), soci::into(slug);
      s << "SELECT (SELECT COUNT(*) FROM resources) + (SELECT COUNT(*) FROM services) + "
           "(SELECT COUNT(*) FROM customers) + (SELECT COUNT(*) FROM appointments) + "
           "(SELECT COUNT(*) FROM holds)",
          soci::into(rows);
    } catch (const soci::soci_error&) {
      return false;  // not a tenant file of ours
    }
    if (sql::SlugKey(slug) != key || rows != 0) return false;
    if (owner == creating.value()) return true;
    auto other = shared.GetTenant(TenantId(owner));
    return !other && other.error().code() == StatusCode::kNotFound;
  }

  // Creates the tenant's file at `temp`, migrated and stamped with the tenant's id.
  Status BuildTenantFile(const fs::path& temp, const Tenant& tenant) {
    std::string label = TenantLabel(tenant.slug);
    RemoveDatabaseFiles(temp);  // a leftover of an interrupted creation
    // Connections to the final file switch it to WAL and to the configured synchronous.
    auto conn = Connect(temp, label, true, /*scratch=*/true);
    if (!conn) return conn.error();
    SMOOTH_RETURN_IF_ERROR(
        sql::Migrate(**conn, SqliteDialect::Instance(), label, TenantMigrations()));
    try {
      long long id = tenant.id.value();
      std::string slug = tenant.slug;
      (*conn)->session() << "INSERT INTO tenant_meta (tenant_id, slug) VALUES (:id, :slug)",
          soci::use(id), soci::use(slug);
    } catch (const soci::soci_error& e) {
      return Internal(
          fmt::format("{}: cannot record the tenant: {}", label, e.get_error_message()));
    }
    conn->reset();  // closed: everything is in the file
    return SyncFile(temp, label);
  }

  // The tenant's database, opened (and migrated) on first use. not_found — never a new
  // file — when the tenant's file is missing or belongs to another tenant id.
  // Whether the file open on `conn` is `tenant`'s, by its tenant_meta; read before anything
  // is written to it, so a file that is another tenant's, or none, is never migrated.
  static Result<bool> OwnedBy(Connection& conn, TenantId tenant, const std::string& label) {
    long long owner = 0;
    try {
      soci::indicator ind = soci::i_null;
      conn.session() << "SELECT tenant_id FROM tenant_meta", soci::into(owner, ind);
      if (ind != soci::i_ok) owner = 0;
    } catch (const soci::soci_error& e) {
      // A file without the table was not made by CreateTenant.
      if (std::string_view(e.what()).find("no such table") != std::string_view::npos) return false;
      return Internal(fmt::format("{}: cannot read tenant_meta: {}", label, e.get_error_message()));
    }
    return owner == tenant.value();
  }

  Result<std::shared_ptr<Database>> TenantDb(const Tenant& tenant) {
    std::string key = sql::SlugKey(tenant.slug);
    Status no_space = NotFound(fmt::format("tenant '{}' has no data space", tenant.slug));
    if (!SafeSlug(key)) return no_space;
    fs::path path = TenantPath(key);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      std::lock_guard lock(tenants_mu_);
      tenants_.erase(key);
      return no_space;
    }
    {
      std::lock_guard lock(tenants_mu_);
      auto it = tenants_.find(key);
      if (it != tenants_.end()) {
        if (it->second.tenant != tenant.id) return no_space;
        it->second.used = ++uses_;
        return it->second.db;
      }
    }

    std::string label = TenantLabel(tenant.slug);
    auto conn = Connect(path, label, false);
    if (!conn) return conn.error().code() == StatusCode::kNotFound ? no_space : conn.error();
    auto owned = OwnedBy(**conn, tenant.id, label);
    if (!owned) return owned.error();
    if (!*owned) return no_space;
    SMOOTH_RETURN_IF_ERROR(
        sql::Migrate(**conn, SqliteDialect::Instance(), label, TenantMigrations()));

    auto db =
        std::make_shared<Database>(label, path, options_.pool_size, options_.pool_wait,
                                   [this, path, label] { return Connect(path, label, false); });
    db->pool.Offer(std::move(*conn));
    std::lock_guard lock(tenants_mu_);
    // Another caller may have opened the file meanwhile: then its entry is the one to use.
    auto it = tenants_.emplace(key, TenantDatabase{tenant.id, std::move(db)}).first;
    it->second.used = ++uses_;
    // Held here, the entry counts as in use, so CloseLeastUsed keeps it (and `it` valid).
    std::shared_ptr<Database> opened = it->second.db;
    CloseLeastUsed();
    return opened;
  }

  // Closes tenant files, least recently used first, until no more than sqlite_open_tenants
  // are open; a file in use (a transaction holds one of its connections, or a caller is
  // about to take one) stays open. Called with tenants_mu_ held.
  void CloseLeastUsed() {
    while (tenants_.size() > options_.sqlite_open_tenants) {
      auto victim = tenants_.end();
      for (auto it = tenants_.begin(); it != tenants_.end(); ++it) {
        const bool unused = it->second.db.use_count() == 1 && it->second.db->pool.Idle();
        if (unused && (victim == tenants_.end() || it->second.used < victim->second.used))
          victim = it;
      }
      if (victim == tenants_.end()) return;  // all in use: over the bound until they are not
      tenants_.erase(victim);                // closes its idle connections
    }
  }

  const fs::path dir_;
  StorageOptions options_;
  std::unique_ptr<Database> shared_;
  std::shared_ptr<BlockIdSource> ids_;
  std::mutex tenants_mu_;
  std::unordered_map<std::string, TenantDatabase> tenants_;  // by slug key; guarded by tenants_mu_
  std::uint64_t uses_ = 0;                                   // guarded by tenants_mu_
};

// Refuses an existing directory that holds something but no shared.db: another
// application's, or a home directory, reached by a mistyped URL, which libsmooth's files
// would join. shared.db is the first file libsmooth makes in a directory (Init, through
// ConnectFile's O_EXCL), so a directory libsmooth ever wrote to holds it, and a crash at any
// point leaves it either holding shared.db or as it was. lost+found (a new file system's
// mount point has one) is not counted; anything else is, hidden files included.
Status OursOrEmpty(const fs::path& dir) {
  std::error_code ec;
  const fs::path shared = dir / "shared.db";
  if (fs::exists(shared, ec)) return {};
  std::vector<std::string> held;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name != "lost+found") held.push_back(std::move(name));
  }
  if (ec)
    return Unavailable(fmt::format("sqlite: cannot read the data directory: {}", ec.message()));
  // Another process may have begun installing here since shared.db was looked for: then
  // the listing may show its files, and shared.db is there now, made before them.
  if (held.empty() || fs::exists(shared, ec)) return {};
  return sql::NotLibsmooth(fmt::format("sqlite data directory '{}'", dir.string()),
                           "data directory", std::move(held), "shared.db");
}

}  // namespace

Result<std::unique_ptr<Storage>> OpenSqliteStorage(std::string_view dir,
                                                   const StorageOptions& options) {
  if (dir.empty()) return InvalidArgument("storage url: sqlite: needs a directory");
  std::string sync = Upper(options.sqlite_synchronous);
  if (sync != "OFF" && sync != "NORMAL" && sync != "FULL" && sync != "EXTRA")
    return InvalidArgument("sqlite_synchronous: must be OFF, NORMAL, FULL or EXTRA");
  if (options.sqlite_open_tenants == 0)
    return InvalidArgument("sqlite_open_tenants: must be at least 1");

  std::error_code ec;
  fs::path path = fs::absolute(fs::path(dir), ec);
  if (ec) return InvalidArgument(fmt::format("storage url: bad directory: {}", ec.message()));
  if (!fs::exists(path, ec)) {
    fs::create_directories(path, ec);
    if (ec)
      return Unavailable(fmt::format("sqlite: cannot create the data directory: {}", ec.message()));
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec)
      return Unavailable(
          fmt::format("sqlite: cannot restrict the data directory: {}", ec.message()));
  } else if (!fs::is_directory(path, ec)) {
    return InvalidArgument("storage url: the sqlite data path is not a directory");
  } else {
    SMOOTH_RETURN_IF_ERROR(OursOrEmpty(path));
  }

  auto storage = std::make_unique<SqliteStorage>(path, options);
  SMOOTH_RETURN_IF_ERROR(storage->Init());
  return std::unique_ptr<Storage>(std::move(storage));
}

Result<std::string> PragmaForTesting(Storage& storage, std::string_view name,
                                     const Tenant* tenant) {
  auto* sqlite = dynamic_cast<SqliteStorage*>(&storage);
  if (sqlite == nullptr) return InvalidArgument("storage: not the SQLite backend");
  return sqlite->Pragma(name, tenant);
}

}  // namespace smooth::internal::sqlite
