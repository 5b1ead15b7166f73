// SharedTransaction and TenantTransaction over one leased SOCI connection, for any
// SqlDialect. SOCI exceptions stop here and become a Status.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "smooth/storage.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sql/session_pool.hpp"

namespace smooth::internal::sql {

/// Where tenant rows get their ids: one counter across all tenants, so an id of one
/// tenant never names a row of another. Ids of rolled-back rows are not reused. Safe to
/// share between threads.
class ObjectIdSource {
 public:
  virtual ~ObjectIdSource() = default;
  /// The next id. `txn` is the connection of the transaction asking, which a source may
  /// use (PostgreSQL: nextval of a sequence, which no rollback gives back) or ignore.
  virtual Result<std::int64_t> Next(Connection& txn) = 0;
};

/// Storage::SharedEpoch for the SQL backends: `query` (which reads shared_epoch's one
/// value) on a pooled connection, outside any transaction: one round trip.
Result<std::int64_t> ReadSharedEpoch(SessionPool& pool, const SqlDialect& dialect,
                                     const std::string& query);

/// The Status of a database error of `kind` in `database` ("tenant 'acme'"):
/// `server_message` is the server's own words, `full_message` the whole error text, and
/// `unique_message` what a UNIQUE violation reports, if not the generic words.
Status StatusOfSqlError(SqlErrorKind kind, std::string_view database,
                        std::string_view server_message, std::string_view full_message,
                        std::string_view unique_message = {});

/// Sends a write transaction's statements the backend's own way: PostgreSQL sends its
/// begin, its appointment inserts and COMMIT as one pipeline of prepared statements, one
/// round trip. With one, TxnCore leaves those to it.
class TxnSender {
 public:
  virtual ~TxnSender() = default;
  /// Sends, as one exchange: the transaction's begin when `begin` (it was deferred), then
  /// the INSERT of `rows` with what must follow it, then COMMIT when `commit`. Returns the
  /// first failure, after which nothing of the transaction may be committed. Throws
  /// nothing.
  virtual Status Send(Connection& c, bool begin, std::vector<AppointmentRow>& rows,
                      bool commit) = 0;
};

/// What a transaction is made of.
struct TxnParts {
  SessionPool::Lease lease;
  WriteGate::Ticket ticket;  // held by write transactions until they end
  const SqlDialect* dialect = nullptr;
  TxnMode mode = TxnMode::kRead;
  std::string database;  // names the database in errors: "shared database", "tenant 'acme'"
  /// Runs right after BEGIN, inside the transaction: PostgreSQL points search_path at the
  /// tenant's schema there (SET LOCAL) and checks that the schema exists. An error ends
  /// Begin with that error (and the transaction is rolled back). May throw soci_error.
  std::function<Status(Connection&)> enter;
  /// When set, `enter` issues the dialect's BEGIN itself, as the start of its own first
  /// statement (Begin then costs one round trip, not two); TxnCore::Begin sends none.
  bool enter_begins = false;
  /// Sends the appointment inserts and COMMIT (see TxnSender); without one, they go
  /// through SOCI one statement at a time.
  std::unique_ptr<TxnSender> sender;
  /// With a sender: Begin() does not contact the database, and the sender's first Send
  /// begins the transaction, in front of the first statement that must reach the server
  /// (or of COMMIT, if that comes first). Not used together with `enter`.
  bool deferred = false;
};

/// unavailable for a call on `database` that its ServerWatch interrupted.
Status TimedOut(std::string_view database);

/// unavailable for a commit on `database` whose connection failed (`why`) once COMMIT was
/// sent: the server may have made it, and nobody here can tell.
Status CommitOutcomeUnknown(std::string_view database, std::string_view why);

/// The common core: begin, commit, rollback on destruction, and the translation of
/// database errors into a Status.
class TxnCore {
 public:
  explicit TxnCore(TxnParts parts) : p_(std::move(parts)) {}
  TxnCore(const TxnCore&) = delete;
  TxnCore& operator=(const TxnCore&) = delete;
  ~TxnCore();

  /// Issues the dialect's BEGIN, then runs `enter`; with a deferred begin, nothing.
  Status Begin();
  /// failed_precondition once finished or in a read transaction; the failure that spoilt
  /// the transaction, if one did.
  Status Writable() const;
  /// COMMIT (through the sender, with the deferred begin and the kept-back inserts in
  /// front, if it has one); the transaction is finished afterwards. On failure it stays
  /// open, and destruction rolls it back. Fails without contacting the database once a
  /// statement has spoilt the transaction.
  Status Commit();

  Connection& conn() { return *p_.lease; }
  const SqlDialect& dialect() const { return *p_.dialect; }

  /// Writes kept back to be sent together (SqlTenantTransaction's appointment inserts):
  /// `flush` sends them, and runs before every other statement of the transaction and
  /// before COMMIT, so the transaction reads what it wrote. It may throw soci_error. With a
  /// sender, the rows in `pending` go through it instead.
  void SetFlush(std::function<void()> flush, std::vector<AppointmentRow>* pending) {
    flush_ = std::move(flush);
    pending_ = pending;
  }
  const std::string& database() const { return p_.database; }

  /// The next id from `ids`, which may take it on this transaction's connection
  /// (PostgreSQL's nextval). Nothing kept back is sent first, so a deferred begin stays
  /// deferred. A failure is the transaction's where a failed statement aborts it: PostgreSQL
  /// would answer the COMMIT with a ROLLBACK, and Commit must not report success.
  Result<std::int64_t> ReserveId(ObjectIdSource& ids);

  /// Runs `f`, turning exceptions into a Status: busy -> unavailable, a UNIQUE violation
  /// -> already_exists with `unique_message`, anything else -> internal. Where a failed
  /// statement aborts the transaction (PostgreSQL), its failure is the transaction's: every
  /// later call, Commit too, returns it.
  template <typename F>
  auto Run(F&& f, std::string_view unique_message = {}) -> decltype(f()) {
    Connection::Waiting waiting(conn());
    SMOOTH_RETURN_IF_ERROR(Flush());
    try {
      return f();
    } catch (const soci::soci_error& e) {
      return StatementFailed(FromSociError(e, unique_message));
    } catch (const std::exception& e) {
      return FromException(e);
    }
  }

  /// Run() for a write the database may reject as a duplicate. Where a failed statement
  /// aborts the whole transaction (PostgreSQL), `f` runs inside a SAVEPOINT that is rolled
  /// back on error, so the transaction goes on as it does on SQLite.
  template <typename F>
  auto RunGuarded(F&& f, std::string_view unique_message) -> decltype(f()) {
    if (!p_.dialect->StatementErrorAbortsTransaction()) return Run(f, unique_message);
    Connection::Waiting waiting(conn());
    SMOOTH_RETURN_IF_ERROR(Run([&]() -> Status {
      Savepoint("SAVEPOINT smooth_guard");  // Run has flushed the deferred writes
      return {};
    }));
    try {
      auto result = f();
      Savepoint("RELEASE SAVEPOINT smooth_guard");
      return result;
    } catch (const soci::soci_error& e) {
      return UndoToSavepoint(FromSociError(e, unique_message));
    } catch (const std::exception& e) {
      return UndoToSavepoint(FromException(e));
    }
  }

 private:
  // Sends what is kept back (the deferred begin, the pending rows) before a statement. A
  // failure fails the transaction for good: what was to be sent is lost, so nothing may be
  // committed (on SQLite the transaction would otherwise go on).
  Status Flush() {
    if (!failed_.ok()) return failed_;
    if (p_.sender) {
      if (!begin_pending_ && (pending_ == nullptr || pending_->empty())) return {};
      return Send(/*commit=*/false);
    }
    if (!flush_) return {};
    try {
      flush_();
      return {};
    } catch (const soci::soci_error& e) {
      failed_ = FromSociError(e, {});
    } catch (const std::exception& e) {
      failed_ = FromException(e);
    }
    return failed_;
  }
  // Hands the deferred begin and the pending rows, and COMMIT when `commit`, to the sender.
  Status Send(bool commit);
  // `failure` of a statement, remembered as the transaction's where it aborts it.
  Status StatementFailed(Status failure);
  void Savepoint(const std::string& statement);  // may throw
  // Undoes the guarded statement that failed with `failure`; returns `failure`, which
  // becomes the transaction's if the undo fails too.
  Status UndoToSavepoint(Status failure) noexcept;
  // The Status of `e`; a connection the server ended is marked to be closed, not pooled.
  Status FromSociError(const soci::soci_error& e, std::string_view unique_message);
  Status FromException(const std::exception& e) const;

  TxnParts p_;
  std::function<void()> flush_;
  std::vector<AppointmentRow>* pending_ = nullptr;
  Status failed_;  // what spoilt the transaction, if anything did: nothing may be committed
  bool begin_pending_ = false;  // deferred, not yet sent
  bool begun_ = false;
  bool done_ = false;
};

/// Deletes, in the transaction open on `conn`, the row of tenant `tenant` (slug `slug`) and
/// every shared row that belongs to it, and keeps the slug as taken, deleted at `at`. What
/// Storage::DeleteTenant does to the shared tables (SqlSharedTransaction::DeleteTenantRows),
/// and what a SQLite backup does to its copy of shared.db for a tenant deleted while it ran.
/// Throws soci::soci_error.
void DeleteTenantRowsOn(Connection& conn, TenantId tenant, std::string_view slug, Instant at);

/// The shared tables.
class SqlSharedTransaction final : public SharedTransaction {
 public:
  explicit SqlSharedTransaction(TxnParts parts) : core_(std::move(parts)) {}
  Status Begin() { return core_.Begin(); }

  Result<Tenant> GetTenant(TenantId id) override;
  Result<Tenant> FindTenantBySlug(std::string_view slug) override;
  Result<std::vector<Tenant>> ListTenants() override;
  Status UpdateTenant(const Tenant& tenant) override;

  Result<Domain> InsertDomain(Domain domain) override;
  Status UpdateDomain(const Domain& domain) override;
  Result<Domain> GetDomain(DomainId id) override;
  Result<Domain> FindDomainByName(std::string_view name) override;
  Result<std::vector<Domain>> ListDomains(TenantId tenant) override;

  Result<User> InsertUser(User user) override;
  Status UpdateUser(const User& user) override;
  Result<User> GetUser(UserId id) override;
  Result<User> FindUserByEmail(std::optional<TenantId> tenant, std::string_view email) override;
  Result<std::vector<User>> ListUsers(std::optional<TenantId> tenant) override;

  Result<Grant> InsertGrant(Grant grant) override;
  Status UpdateGrant(const Grant& grant) override;
  Result<Grant> GetGrant(GrantId id) override;
  Result<std::vector<Grant>> ListGrants(const GrantFilter& filter, Instant now) override;

  Result<Session> InsertSession(Session session) override;
  Status UpdateSession(const Session& session) override;
  Result<Session> GetSession(SessionId id) override;
  Result<Session> FindSessionByTokenHash(std::string_view token_hash) override;
  Result<std::vector<Session>> ListLiveMasquerades(SessionId original) override;
  Result<std::vector<Session>> ListSessions() override;
  Result<int> DeleteSessions(const std::vector<SessionId>& ids) override;
  Result<int> CountLoginFailures(std::string_view account, Instant since) override;
  Status RecordLoginFailure(std::string_view account, Instant at, Instant forget_before) override;
  Status ClearLoginFailures(std::string_view account) override;

  Status Commit() override { return core_.Commit(); }

  /// Runs `f` on this transaction's connection, inside it, with database errors turned
  /// into a Status (for Storage::CreateTenant's schema work). Write transactions only.
  Status WithConnection(const std::function<Status(Connection&)>& f);

  /// Inserts the tenant row (for Storage::CreateTenant); already_exists when the slug is
  /// taken, case-insensitively, or was a deleted tenant's.
  Result<Tenant> InsertTenant(Tenant tenant);

  /// Deletes the tenant's row and every shared row that belongs to it, and keeps its slug
  /// as taken (for Storage::DeleteTenant, which deletes its space). not_found when there is
  /// no such tenant.
  Status DeleteTenantRows(const Tenant& tenant, Instant now);

 private:
  // The next id of the shared tables: one sequence for all of them, advanced inside this
  // transaction, so a rollback gives it back (as in MemoryStorage).
  std::int64_t NextId();
  // Advances shared_epoch (Storage::SharedEpoch) with a change to a user, tenant or session.
  void AdvanceEpoch();

  TxnCore core_;
};

/// One tenant's scheduling tables.
class SqlTenantTransaction final : public TenantTransaction {
 public:
  SqlTenantTransaction(TxnParts parts, std::shared_ptr<ObjectIdSource> ids)
      : core_(std::move(parts)), ids_(std::move(ids)) {
    core_.SetFlush([this] { FlushAppointments(); }, &pending_);
  }
  Status Begin() { return core_.Begin(); }

  Result<std::int64_t> ChangeSeq() override;
  Result<std::int64_t> BumpChangeSeq() override;

  Result<Resource> InsertResource(Resource resource) override;
  Status UpdateResource(const Resource& resource) override;
  Result<Resource> GetResource(ResourceId id) override;
  Result<std::vector<Resource>> ListResources() override;

  Result<Service> InsertService(Service service) override;
  Status UpdateService(const Service& service) override;
  Result<Service> GetService(ServiceId id) override;
  Result<std::vector<Service>> ListServices() override;

  Result<Customer> InsertCustomer(Customer customer) override;
  Status UpdateCustomer(const Customer& customer) override;
  Result<Customer> GetCustomer(CustomerId id) override;
  Result<std::vector<Customer>> ListCustomers() override;

  Result<Appointment> InsertAppointment(Appointment appointment) override;
  Status UpdateAppointment(const Appointment& appointment) override;
  Result<Appointment> GetAppointment(AppointmentId id) override;
  Result<Appointment> FindAppointmentByIdempotencyKey(std::string_view key) override;
  Result<std::vector<Appointment>> ListAppointments(Instant from, Instant to) override;
  Result<std::vector<Appointment>> ListSeries(SeriesId series) override;
  Result<std::vector<Appointment>> ListAppointmentsChangedSince(std::int64_t seq) override;
  Result<SeriesId> NewSeriesId() override;

  Result<Hold> InsertHold(Hold hold) override;
  Status UpdateHold(const Hold& hold) override;
  Result<Hold> GetHold(HoldId id) override;
  Result<std::vector<Hold>> ListLiveHolds(Instant now) override;
  Result<int> DeleteHoldsExpiredBefore(Instant before) override;

  Status Commit() override { return core_.Commit(); }

 private:
  template <typename Entity>
  Result<Entity> Insert(Entity entity);
  template <typename Entity>
  Status Update(const Entity& entity, std::string_view what);

  // Sends the appointments kept back by InsertAppointment, up to kMaxRowsPerInsert rows a
  // statement: a batch of bookings (the Scheduler's group commit) costs one round trip, not
  // one each. May throw soci_error. (With a TxnSender, it sends them instead.)
  void FlushAppointments();

  TxnCore core_;
  std::shared_ptr<ObjectIdSource> ids_;
  std::vector<AppointmentRow> pending_;  // inserted, not yet sent
};

}  // namespace smooth::internal::sql
