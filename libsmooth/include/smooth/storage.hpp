// The storage seam: the one abstract interface through which libsmooth persists
// everything, in the spirit of LevelDB's Env. libsmooth ships an in-memory
// implementation (MemoryStorage) and SQL backends chosen by URL (OpenStorage).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/access.hpp"
#include "smooth/schedule_types.hpp"
#include "smooth/status.hpp"

namespace smooth {

enum class TxnMode { kRead, kWrite };

/// A transaction over the shared tables: tenants, domains, users, grants, sessions.
///
/// Writes become visible to others only on Commit(); destroying an uncommitted
/// transaction rolls it back. A transaction is used by one thread at a time.
/// Insert* assign the id (and fill it in the returned copy); uniqueness rules are the
/// storage's to enforce and surface as already_exists:
///   - tenant slug, case-insensitively;
///   - domain name within its tenant, and among verified domains (kVerified) across all
///     tenants: several tenants may claim a name, one holds it verified (InsertDomain and
///     UpdateDomain);
///   - user email within a tenant, and among platform users (tenant == nullopt);
///   - session_key, and a session's token_hash when it has one.
/// A domain, user, grant or session that names a tenant is inserted only while that tenant
/// exists, checked in the same transaction (not_found otherwise): a caller that looked the
/// tenant up earlier cannot leave a row behind for a tenant deleted since.
/// Get*/Find* return not_found when nothing matches.
class SharedTransaction {
 public:
  virtual ~SharedTransaction() = default;

  virtual Result<Tenant> GetTenant(TenantId id) = 0;
  virtual Result<Tenant> FindTenantBySlug(std::string_view slug) = 0;  // case-insensitive
  virtual Result<std::vector<Tenant>> ListTenants() = 0;
  virtual Status UpdateTenant(const Tenant& tenant) = 0;

  virtual Result<Domain> InsertDomain(Domain domain) = 0;
  virtual Status UpdateDomain(const Domain& domain) = 0;
  virtual Result<Domain> GetDomain(DomainId id) = 0;
  /// The verified domain named `name`; a name only pending or failed is not_found.
  virtual Result<Domain> FindDomainByName(std::string_view name) = 0;
  virtual Result<std::vector<Domain>> ListDomains(TenantId tenant) = 0;

  virtual Result<User> InsertUser(User user) = 0;
  virtual Status UpdateUser(const User& user) = 0;
  virtual Result<User> GetUser(UserId id) = 0;
  virtual Result<User> FindUserByEmail(std::optional<TenantId> tenant, std::string_view email) = 0;
  virtual Result<std::vector<User>> ListUsers(std::optional<TenantId> tenant) = 0;

  virtual Result<Grant> InsertGrant(Grant grant) = 0;
  virtual Status UpdateGrant(const Grant& grant) = 0;
  virtual Result<Grant> GetGrant(GrantId id) = 0;
  /// Grants matching every set field of `filter`; `only_active` is judged at `now`.
  virtual Result<std::vector<Grant>> ListGrants(const GrantFilter& filter, Instant now) = 0;

  virtual Result<Session> InsertSession(Session session) = 0;
  virtual Status UpdateSession(const Session& session) = 0;
  virtual Result<Session> GetSession(SessionId id) = 0;
  /// The session whose Session::token_hash is `token_hash` (never an empty one).
  virtual Result<Session> FindSessionByTokenHash(std::string_view token_hash) = 0;
  /// Live (not ended) masquerade sessions started from `original`.
  virtual Result<std::vector<Session>> ListLiveMasquerades(SessionId original) = 0;
  /// Every session, ended or not, by id: for Platform::ClearDeadSessions.
  virtual Result<std::vector<Session>> ListSessions() = 0;
  /// Deletes the sessions `ids` (an id that is not there is skipped) and returns how many
  /// went. The caller deletes a masquerade with its original session, never after it.
  virtual Result<int> DeleteSessions(const std::vector<SessionId>& ids) = 0;

  /// Failed logins, kept in storage so that every process sharing it throttles an account
  /// together. `account` is Platform's key for it ("<tenant id or 0>/<email>").
  /// How many failures of `account` happened at or after `since`.
  virtual Result<int> CountLoginFailures(std::string_view account, Instant since) = 0;
  /// Records a failure of `account` at `at`, and forgets every account's failures before
  /// `forget_before`, so the record stays as small as the throttle window allows.
  virtual Status RecordLoginFailure(std::string_view account, Instant at,
                                    Instant forget_before) = 0;
  /// Forgets the failures of `account` (it has logged in).
  virtual Status ClearLoginFailures(std::string_view account) = 0;

  /// Makes the writes durable and visible. The transaction is finished afterwards.
  virtual Status Commit() = 0;
};

/// A transaction over one tenant's scheduling data (the tenant's schema or file).
/// Same rules as SharedTransaction: rollback on destruction unless committed, one thread
/// at a time, Insert* assign ids, not_found for missing rows.
///
/// The change sequence is the multi-process coherence mechanism: every write transaction
/// that changes anything calls BumpChangeSeq() first, which serializes writers of the
/// tenant and returns the new value; rows written in it carry that value in change_seq,
/// so an in-memory index at sequence k refreshes itself from ListAppointmentsChangedSince(k).
class TenantTransaction {
 public:
  virtual ~TenantTransaction() = default;

  /// The tenant's current change sequence (0 for a new tenant).
  virtual Result<std::int64_t> ChangeSeq() = 0;
  /// Increments and returns the change sequence; write transactions only.
  virtual Result<std::int64_t> BumpChangeSeq() = 0;

  virtual Result<Resource> InsertResource(Resource resource) = 0;
  virtual Status UpdateResource(const Resource& resource) = 0;
  virtual Result<Resource> GetResource(ResourceId id) = 0;
  virtual Result<std::vector<Resource>> ListResources() = 0;

  virtual Result<Service> InsertService(Service service) = 0;
  virtual Status UpdateService(const Service& service) = 0;
  virtual Result<Service> GetService(ServiceId id) = 0;
  virtual Result<std::vector<Service>> ListServices() = 0;

  virtual Result<Customer> InsertCustomer(Customer customer) = 0;
  virtual Status UpdateCustomer(const Customer& customer) = 0;
  virtual Result<Customer> GetCustomer(CustomerId id) = 0;
  virtual Result<std::vector<Customer>> ListCustomers() = 0;

  /// already_exists when the idempotency key is taken.
  virtual Result<Appointment> InsertAppointment(Appointment appointment) = 0;
  virtual Status UpdateAppointment(const Appointment& appointment) = 0;
  virtual Result<Appointment> GetAppointment(AppointmentId id) = 0;
  virtual Result<Appointment> FindAppointmentByIdempotencyKey(std::string_view key) = 0;
  /// Appointments whose [start, end) overlaps [from, to), any status, by start.
  virtual Result<std::vector<Appointment>> ListAppointments(Instant from, Instant to) = 0;
  virtual Result<std::vector<Appointment>> ListSeries(SeriesId series) = 0;
  /// Appointments with change_seq > seq.
  virtual Result<std::vector<Appointment>> ListAppointmentsChangedSince(std::int64_t seq) = 0;
  /// A fresh series id.
  virtual Result<SeriesId> NewSeriesId() = 0;

  virtual Result<Hold> InsertHold(Hold hold) = 0;
  virtual Status UpdateHold(const Hold& hold) = 0;
  virtual Result<Hold> GetHold(HoldId id) = 0;
  /// Holds not released, expiring after `now`.
  virtual Result<std::vector<Hold>> ListLiveHolds(Instant now) = 0;
  /// Deletes every hold that expired before `before`, released or not, and returns how many
  /// went (SchedulerOptions::hold_retention).
  virtual Result<int> DeleteHoldsExpiredBefore(Instant before) = 0;

  virtual Status Commit() = 0;
};

/// The storage backend. Implementations are safe to share between threads: each thread
/// begins its own transactions.
class Storage {
 public:
  virtual ~Storage() = default;

  /// Begins a transaction on the shared tables. Write transactions are serialized.
  virtual Result<std::unique_ptr<SharedTransaction>> BeginShared(TxnMode mode) = 0;

  /// A counter that every committed change to a user, a tenant or a session advances (in
  /// the same transaction). While it stays the same, the rows that decide who an actor is
  /// (SharedTransaction::GetUser, GetTenant, GetSession) have not changed, in this process
  /// or any other: Platform caches them against it. One cheap read, no transaction.
  virtual Result<std::int64_t> SharedEpoch() = 0;

  /// Creates the tenant row and the tenant's own space (schema, file, or map) as one
  /// atomic step: on failure neither exists. Assigns and returns the id.
  /// already_exists when the slug is taken, case-insensitively.
  virtual Result<Tenant> CreateTenant(Tenant tenant) = 0;

  /// Deletes tenant `tenant` for good: its row, every shared row that belongs to it (its
  /// domains; its users with their sessions, grants and failed logins; sessions and grants
  /// in it) and its space with all its data (SQLite: the file, after the rows; PostgreSQL:
  /// the schema, in the same transaction). Its slug stays taken: CreateTenant refuses it
  /// (already_exists), since another process may still reach the old tenant's space by
  /// that name. not_found when the tenant does not exist.
  ///
  /// `before`, when given, runs inside the deleting shared write transaction before
  /// anything is deleted, so what it reads is exactly what the deletion removes (Platform
  /// lists there the masquerades the deletion ends). An error from it deletes nothing.
  using BeforeDelete = std::function<Status(SharedTransaction&)>;
  virtual Status DeleteTenant(const Tenant& tenant, const BeforeDelete& before = {}) = 0;

  /// Begins a transaction on one tenant's scheduling data. not_found (fails closed)
  /// when the tenant's space does not exist.
  virtual Result<std::unique_ptr<TenantTransaction>> BeginTenant(const Tenant& tenant,
                                                                 TxnMode mode) = 0;

  /// A write transaction whose first statement has bumped the change sequence: the
  /// transaction and the new sequence, as BeginTenant(kWrite) then BumpChangeSeq() (the
  /// transaction's first BumpChangeSeq is done). This is how every write of the Scheduler
  /// begins; PostgreSQL sends both in one statement, other backends use this default.
  struct BumpedWrite {
    std::unique_ptr<TenantTransaction> txn;
    std::int64_t seq = 0;
    /// SharedEpoch() as read by the same statement, where the backend does that for free
    /// (PostgreSQL); Platform then need not read it for the operation that began this.
    std::optional<std::int64_t> shared_epoch;
  };
  virtual Result<BumpedWrite> BeginTenantWrite(const Tenant& tenant) {
    auto txn = BeginTenant(tenant, TxnMode::kWrite);
    if (!txn) return txn.error();
    auto seq = (*txn)->BumpChangeSeq();
    if (!seq) return seq.error();
    return BumpedWrite{std::move(*txn), *seq, std::nullopt};
  }

  /// Optionally, a write transaction that goes to the database only when it must, for a
  /// writer that believes the tenant is at change sequence `seq` and SharedEpoch() is
  /// `epoch`. Its first statement (at the latest, the one its Commit sends) checks both
  /// and advances the change sequence to seq + 1, under the same lock BeginTenantWrite
  /// takes. If either has moved, that statement fails with `aborted`, nothing of the
  /// transaction is saved, and every later call on it fails too. A booking that needs no
  /// reads then costs one round trip in all.
  ///
  /// Returns nullptr (the default) when the backend cannot defer, or cannot now (say, it
  /// has not yet checked the tenant's space): begin with BeginTenantWrite instead.
  virtual Result<std::unique_ptr<TenantTransaction>> BeginTenantWriteAt(const Tenant& tenant,
                                                                        std::int64_t seq,
                                                                        std::int64_t epoch) {
    (void)tenant;
    (void)seq;
    (void)epoch;
    return std::unique_ptr<TenantTransaction>();
  }
};

/// A Storage that keeps everything in process memory; nothing survives the process.
/// Read transactions run concurrently; write transactions are serialized, per tenant for
/// tenant data. Rollback undoes every write of the transaction.
std::unique_ptr<Storage> NewMemoryStorage();

/// Tuning for the SQL backends; MemoryStorage ignores it.
struct StorageOptions {
  /// SQLite `PRAGMA synchronous`: "FULL" (default) makes every acknowledged commit survive
  /// power loss and `kill -9`; "NORMAL" is faster in WAL mode but the last commits before
  /// a power failure (not a process crash) may be lost. "OFF" and "EXTRA" are accepted too.
  std::string sqlite_synchronous = "FULL";
  /// How long a write waits for another writer (thread or process) of the same database
  /// (PostgreSQL: of the same tenant, or of the shared tables; its lock_timeout) before
  /// failing with unavailable.
  std::chrono::milliseconds busy_timeout{5000};
  /// Connections per pool, opened on demand: SQLite has a pool for shared.db and one per
  /// tenant file; PostgreSQL one for the shared tables and every tenant, and one more for
  /// reads of the shared tables alone (so up to twice this many connections).
  std::size_t pool_size = 4;
  /// How long Begin* waits for a free connection before failing with unavailable.
  std::chrono::milliseconds pool_wait{2000};
  /// PostgreSQL: the longest one call waits for the server's answer (a statement, the few
  /// statements a call sends together, a commit, a rollback). Past it the connection is
  /// closed under the call, which fails with unavailable; a commit caught so may or may not
  /// have been saved. This is what ends a call to a server that stopped answering without
  /// closing the connection (a stopped process, a hung disk), which TCP keepalives cannot
  /// tell from a slow one. Time spent between calls, with a transaction open, does not
  /// count. Zero: no limit. A tenant's first load reads all its appointments in one call:
  /// a few seconds for a million; raise this for tenants of many millions. Lock waits end
  /// sooner, at busy_timeout.
  std::chrono::milliseconds server_timeout{60000};
  /// SQLite: tenant files kept open at once. Past this, the files of the tenants used least
  /// recently (and not in use) are closed, and opened again when next used: each open file
  /// holds up to pool_size connections of three file descriptors each.
  std::size_t sqlite_open_tenants = 64;
};

/// Opens the storage named by `url`:
///   - `memory:` — NewMemoryStorage(), for tests and benchmarks;
///   - `sqlite:<dir>` — SQLite files in the data directory `<dir>` (created 0700 when
///     missing): `shared.db` for the shared tables and one `tenant_<slug>.db` per tenant.
///     WAL mode, `synchronous` per `options`, every write transaction `BEGIN IMMEDIATE`,
///     so several processes may share one directory;
///   - `postgresql://user@host:port/db` (or `postgres://`) or a libpq conninfo string
///     (`host=... dbname=...`) — PostgreSQL: shared tables in `public`, one schema
///     `tenant_<slug>` per tenant entered per transaction with `SET LOCAL search_path`,
///     two pools of `pool_size` connections (see StorageOptions). Needs the btree_gist extension
///     (created on first open when the role may; else an administrator creates it once).
///     unavailable when the server cannot be reached.
/// The shared database's migrations run on open; a tenant's, on its first use in the
/// process (its first Begin*), so opening takes no longer with 10,000 tenants than with one,
/// and a tenant whose migration fails fails alone. An error names the database and the
/// migration. invalid_argument for an unknown scheme or bad options. (`smooth-admin
/// migrate` migrates every tenant at once.)
/// libsmooth installs itself only where there is nothing else: a data directory that is
/// missing, empty (`lost+found` aside) or holds `shared.db`; a database whose `public`
/// holds libsmooth's `schema_migrations`, or no relation (an extension's aside) and no
/// `tenant_*` schema. Anything else — another application's, reached by a mistyped URL —
/// is failed_precondition naming it and a few of the things in it, and nothing is changed.
/// docs/storage.md describes the layouts, durability and the multi-process model.
///
///     auto storage = smooth::OpenStorage("sqlite:/var/lib/smooth");
///     if (!storage) return storage.error();
///     options.storage = std::move(*storage);
Result<std::unique_ptr<Storage>> OpenStorage(std::string_view url,
                                             const StorageOptions& options = {});

}  // namespace smooth
