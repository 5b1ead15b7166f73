// The generic SQL transactions. Every statement is prepared once per connection (the
// Connection's cache) and every result is read to its end, so no statement keeps a read
// open past the transaction.
#include "storage/sql/transactions.hpp"

#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "storage/sql/rows.hpp"

namespace smooth::internal::sql {
namespace {

template <typename Row>
using EntityOf = std::decay_t<decltype(*FromRow(std::declval<const Row&>()))>;

// Runs a SELECT (prepared once per connection) with parameters `in`, mapping every row.
template <typename Row, typename In>
Result<std::vector<EntityOf<Row>>> Select(Connection& conn, const std::string& query,
                                          const In& in) {
  auto& p = conn.Prepare<Vars<Row, In>>(query);
  p.vars.in = in;
  std::vector<EntityOf<Row>> out;
  Status bad;
  if (p.st.execute(true)) {
    do {
      if (!bad.ok()) continue;  // keep fetching to the end, so the statement finishes
      auto entity = FromRow(p.vars.out);
      if (entity)
        out.push_back(std::move(*entity));
      else
        bad = entity.error();
    } while (p.st.fetch());
  }
  if (!bad.ok()) return bad;
  return out;
}

// The single row a SELECT finds, or not_found with `missing`.
template <typename Row, typename In>
Result<EntityOf<Row>> SelectOne(Connection& conn, const std::string& query, const In& in,
                                std::string missing) {
  auto rows = Select<Row>(conn, query, in);
  if (!rows) return rows.error();
  if (rows->empty()) return NotFound(std::move(missing));
  return std::move(rows->front());
}

// The first column of the first row of a one-value query, if any row.
template <typename Out, typename In>
std::optional<Out> Scalar(Connection& conn, const std::string& query, const In& in) {
  auto& p = conn.Prepare<Vars<Out, In>>(query);
  p.vars.in = in;
  std::optional<Out> out;
  if (p.st.execute(true)) {
    do {
      if (!out) out = p.vars.out;
    } while (p.st.fetch());
  }
  return out;
}

// Runs a statement without results; returns the number of rows it changed.
template <typename In>
long long Exec(Connection& conn, const std::string& query, const In& in) {
  auto& p = conn.Prepare<InVars<In>>(query);
  p.vars.in = in;
  p.st.execute(true);
  return p.st.get_affected_rows();
}
long long Exec(Connection& conn, const std::string& query) {
  auto& p = conn.Prepare<Vars<std::monostate, std::monostate>>(query);
  p.st.execute(true);
  return p.st.get_affected_rows();
}

// The server's own words in a database error: its first line, without a severity prefix.
std::string ServerMessage(const soci::soci_error& e) {
  std::string full = e.get_error_message();
  std::string_view text = full;
  if (auto at = text.find("ERROR:"); at != std::string_view::npos) text.remove_prefix(at + 6);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return std::string(text.substr(0, text.find('\n')));
}

using Id = Params<long long>;
Id IdParam(long long id) { return Id{{id}}; }

// not_found unless tenant `id` has a row. Shared writers are serialized, so what this finds
// stands until the transaction ends: a row that names the tenant is never inserted after
// Storage::DeleteTenant has taken it away.
Status RequireTenant(Connection& conn, long long id) {
  if (!Scalar<long long>(conn, "SELECT id FROM tenants WHERE id = :id", IdParam(id)))
    return NotFound(fmt::format("tenant {} not found", id));
  return {};
}
Status RequireTenant(Connection& conn, const std::optional<TenantId>& id) {
  return id ? RequireTenant(conn, id->value()) : Status();
}

// CreateTenant's answer for the slug of a deleted tenant.
std::string DeletedSlugMessage(std::string_view slug) {
  return fmt::format("slug: '{}' was a deleted tenant's, and is not used again", slug);
}

template <typename Row>
const std::string& ByIdSql() {
  static const std::string sql = SelectSql<Row>("WHERE id = :id");
  return sql;
}
template <typename Row>
const std::string& AllSql() {
  static const std::string sql = SelectSql<Row>("ORDER BY id");
  return sql;
}

}  // namespace

Result<std::int64_t> ReadSharedEpoch(SessionPool& pool, const SqlDialect& dialect,
                                     const std::string& query) {
  auto lease = pool.Acquire();
  if (!lease) return lease.error();
  Connection::Waiting waiting(**lease);
  try {
    auto value = Scalar<long long>(**lease, query, std::monostate{});
    if (!value) return Internal("shared database: shared_epoch is empty");
    return *value;
  } catch (const soci::soci_error& e) {
    if ((*lease)->interrupted()) return TimedOut("shared database");
    // Busy leaves the connection as it was; after anything else, a connection the server
    // ended above all, its state is unknown: closed, never handed out again.
    SqlErrorKind kind = dialect.Classify(e);
    if (kind != SqlErrorKind::kBusy) (*lease)->MarkBroken();
    return StatusOfSqlError(kind, "shared database", ServerMessage(e), e.get_error_message());
  }
}

// ----------------------------------------------------------------------------------------
// TxnCore

TxnCore::~TxnCore() {
  if (!begun_ || done_ || !p_.lease) return;
  Connection::Waiting waiting(conn());
  try {
    p_.lease->session() << "ROLLBACK";
  } catch (...) {
    p_.lease->MarkBroken();  // state unknown: close it rather than reuse it
  }
}

Status TxnCore::Begin() {
  if (p_.deferred) {  // sent by the sender, with the first statement (Flush, Commit)
    begin_pending_ = true;
    return {};
  }
  Connection::Waiting waiting(conn());
  if (p_.enter && p_.enter_begins) {
    // A connection the BEGIN failed on is closed by the destructor's failing ROLLBACK.
    begun_ = true;
    return Run([&] { return p_.enter(*p_.lease); });
  }
  Status begun = Run([&]() -> Status {
    p_.dialect->Begin(p_.lease->session(), p_.mode);
    begun_ = true;
    return {};
  });
  // BEGIN fails only on a connection in an unknown state (the server went away, say):
  // close it rather than hand it to the next transaction.
  if (!begun.ok()) {
    p_.lease->MarkBroken();
    return begun;
  }
  if (p_.enter) return Run([&] { return p_.enter(*p_.lease); });
  return {};
}

Status TxnCore::Send(bool commit) {
  // Whatever becomes of it, a transaction may be open from now on: the destructor rolls it
  // back unless it commits.
  const bool begin = std::exchange(begin_pending_, false);
  if (begin) begun_ = true;
  std::vector<AppointmentRow> rows;
  if (pending_ != nullptr) rows.swap(*pending_);  // sent or failed: never sent twice
  Connection::Waiting waiting(conn());
  Status sent = p_.sender->Send(conn(), begin, rows, commit);
  if (!sent.ok()) {
    failed_ = sent;
    // Begun and committed in one send, the transaction is over either way (PostgreSQL rolls
    // an implicit one back at its first error): no ROLLBACK is owed, and one would only make
    // the server warn that no transaction is in progress.
    if (begin && commit) begun_ = false;
  }
  return sent;
}

Result<std::int64_t> TxnCore::ReserveId(ObjectIdSource& ids) {
  Connection::Waiting waiting(conn());
  auto id = ids.Next(conn());
  if (!id) return StatementFailed(id.error());
  return id;
}

Status TxnCore::StatementFailed(Status failure) {
  if (p_.dialect->StatementErrorAbortsTransaction() ||
      (begun_ && p_.dialect->TransactionEnded(conn().session())))
    failed_ = failure;
  return failure;
}

void TxnCore::Savepoint(const std::string& statement) { Exec(conn(), statement); }

Status TxnCore::UndoToSavepoint(Status failure) noexcept {
  try {
    Exec(conn(), "ROLLBACK TO SAVEPOINT smooth_guard");
    Exec(conn(), "RELEASE SAVEPOINT smooth_guard");
  } catch (...) {
    p_.lease->MarkBroken();  // the destructor's ROLLBACK decides; never reuse it
    failed_ = failure;       // the transaction is still aborted: nothing may be committed
  }
  return failure;
}

Status TxnCore::Writable() const {
  if (done_) return FailedPrecondition("transaction already finished");
  if (p_.mode != TxnMode::kWrite) return FailedPrecondition("write in a read transaction");
  return failed_;
}

Status TxnCore::Commit() {
  if (done_) return FailedPrecondition("transaction already finished");
  // Never COMMIT a spoilt transaction: PostgreSQL would answer it with a ROLLBACK, no error.
  SMOOTH_RETURN_IF_ERROR(failed_);
  if (p_.sender) {
    SMOOTH_RETURN_IF_ERROR(Send(/*commit=*/true));
  } else {
    Connection::Waiting waiting(conn());
    SMOOTH_RETURN_IF_ERROR(Flush());  // what is still kept back goes before COMMIT
    try {
      Exec(conn(), "COMMIT");
    } catch (const soci::soci_error& e) {
      Status failed = FromSociError(e, {});
      // A connection lost (or cut at server_timeout) under COMMIT leaves the outcome
      // unknown: the server may have committed before it went. Retrying blindly could make
      // the write twice (a second tenant refused as existing, a login failure counted twice).
      if (p_.lease->broken()) {
        return CommitOutcomeUnknown(p_.database, p_.lease->interrupted()
                                                     ? "no answer within server_timeout"
                                                     : ServerMessage(e));
      }
      return StatementFailed(std::move(failed));
    } catch (const std::exception& e) {
      return FromException(e);
    }
  }
  done_ = true;
  p_.ticket = WriteGate::Ticket();  // let the next writer in now
  return {};
}

Status StatusOfSqlError(SqlErrorKind kind, std::string_view database,
                        std::string_view server_message, std::string_view full_message,
                        std::string_view unique_message) {
  switch (kind) {
    case SqlErrorKind::kBusy:
      return Unavailable(fmt::format("{} is busy; try again", database));
    case SqlErrorKind::kConnectionLost: {
      std::string_view why = server_message.empty() ? full_message : server_message;
      return Unavailable(
          fmt::format("{}: lost the connection to the database server ({}); try again", database,
                      why.substr(0, why.find('\n'))));
    }
    case SqlErrorKind::kUniqueViolation:
      if (!unique_message.empty()) return AlreadyExists(std::string(unique_message));
      return AlreadyExists(fmt::format("{}: already exists", database));
    case SqlErrorKind::kConflict:
      // The database's own overlap check (PostgreSQL's EXCLUDE constraint) caught what the
      // scheduler should have: a second booking of a capacity-1 resource at that time.
      return Conflict(
          fmt::format("{}: the booking overlaps another on a capacity-1 resource", database));
    case SqlErrorKind::kAborted:
      return Aborted(fmt::format("{}: {}; try again", database, server_message));
    case SqlErrorKind::kResourceExhausted:
      return ResourceExhausted(fmt::format("{}: {}", database, full_message));
    case SqlErrorKind::kOther:
      break;
  }
  return Internal(fmt::format("{}: {}", database, full_message));
}

Status TimedOut(std::string_view database) {
  return Unavailable(
      fmt::format("{}: the database server did not answer within server_timeout, so the "
                  "connection was closed; try again",
                  database));
}

Status CommitOutcomeUnknown(std::string_view database, std::string_view why) {
  return Unavailable(fmt::format(
      "{}: the connection failed as the write was committed, so whether it was saved is "
      "unknown (read it back before doing it again; a booking retried with its idempotency "
      "key finds out): {}",
      database, why));
}

Status TxnCore::FromSociError(const soci::soci_error& e, std::string_view unique_message) {
  if (p_.lease->interrupted()) return TimedOut(p_.database);
  SqlErrorKind kind = p_.dialect->Classify(e);
  if (kind == SqlErrorKind::kConnectionLost) p_.lease->MarkBroken();  // never handed out again
  return StatusOfSqlError(kind, p_.database, ServerMessage(e), e.get_error_message(),
                          unique_message);
}

Status TxnCore::FromException(const std::exception& e) const {
  return Internal(fmt::format("{}: {}", p_.database, e.what()));
}

// ----------------------------------------------------------------------------------------
// Shared tables

void SqlSharedTransaction::AdvanceEpoch() {
  Exec(core_.conn(), "UPDATE shared_epoch SET value = value + 1");
}

std::int64_t SqlSharedTransaction::NextId() {
  Exec(core_.conn(), "UPDATE shared_ids SET next = next + 1");
  auto next = Scalar<long long>(core_.conn(), "SELECT next FROM shared_ids", std::monostate{});
  if (!next) throw std::runtime_error("shared_ids is empty");
  return *next - 1;
}

Result<Tenant> SqlSharedTransaction::GetTenant(TenantId id) {
  return core_.Run([&] {
    return SelectOne<TenantRow>(core_.conn(), ByIdSql<TenantRow>(), IdParam(id.value()),
                                fmt::format("tenant {} not found", id));
  });
}

Result<Tenant> SqlSharedTransaction::FindTenantBySlug(std::string_view slug) {
  static const std::string sql = SelectSql<TenantRow>("WHERE slug_key = :slug_key");
  return core_.Run([&] {
    return SelectOne<TenantRow>(core_.conn(), sql, Params<std::string>{{SlugKey(slug)}},
                                fmt::format("tenant '{}' not found", slug));
  });
}

Result<std::vector<Tenant>> SqlSharedTransaction::ListTenants() {
  return core_.Run(
      [&] { return Select<TenantRow>(core_.conn(), AllSql<TenantRow>(), std::monostate{}); });
}

Status SqlSharedTransaction::UpdateTenant(const Tenant& t) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Status {
    auto key = Scalar<std::string>(core_.conn(), "SELECT slug_key FROM tenants WHERE id = :id",
                                   IdParam(t.id.value()));
    if (!key) return NotFound(fmt::format("tenant {} not found", t.id));
    if (*key != SlugKey(t.slug)) return InvalidArgument("slug: cannot change");
    TenantRow row = ToRow(t);
    Exec(core_.conn(), UpdateSql<TenantRow>(), row);
    AdvanceEpoch();
    return {};
  });
}

Status SqlSharedTransaction::WithConnection(const std::function<Status(Connection&)>& f) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&] { return f(core_.conn()); });
}

Result<Tenant> SqlSharedTransaction::InsertTenant(Tenant t) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  std::string taken = fmt::format("slug: tenant '{}' already exists", t.slug);
  return core_.RunGuarded(
      [&]() -> Result<Tenant> {
        if (Scalar<long long>(core_.conn(), "SELECT id FROM tenants WHERE slug_key = :slug_key",
                              Params<std::string>{{SlugKey(t.slug)}}))
          return AlreadyExists(taken);
        if (Scalar<long long>(core_.conn(),
                              "SELECT tenant_id FROM deleted_tenants WHERE slug_key = :slug_key",
                              Params<std::string>{{SlugKey(t.slug)}}))
          return AlreadyExists(DeletedSlugMessage(t.slug));
        t.id = TenantId(NextId());
        TenantRow row = ToRow(t);
        Exec(core_.conn(), InsertSql<TenantRow>(), row);
        return t;
      },
      taken);
}

void DeleteTenantRowsOn(Connection& conn, TenantId tenant, std::string_view slug, Instant at) {
  const long long id = tenant.value();
  // Platform's throttle keys a tenant user's failures "<tenant id>/<email>".
  Exec(conn, "DELETE FROM login_failures WHERE account LIKE :prefix",
       Params<std::string>{{fmt::format("{}/%", id)}});
  // Each placeholder is bound on its own, in order.
  Exec(conn,
       "DELETE FROM grants WHERE tenant = :t1 OR grantee IN (SELECT id FROM users WHERE tenant "
       "= :t2) OR grantor IN (SELECT id FROM users WHERE tenant = :t3)",
       Params<long long, long long, long long>{{id, id, id}});
  // A session in the tenant (a masquerade into it too), or of one of its users.
  Exec(conn,
       "DELETE FROM sessions WHERE tenant = :t1 OR user_id IN (SELECT id FROM users WHERE "
       "tenant = :t2)",
       Params<long long, long long>{{id, id}});
  Exec(conn, "DELETE FROM users WHERE tenant = :t", IdParam(id));
  Exec(conn, "DELETE FROM domains WHERE tenant = :t", IdParam(id));
  Exec(conn, "DELETE FROM tenants WHERE id = :t", IdParam(id));
  Exec(conn, "INSERT INTO deleted_tenants (slug_key, tenant_id, deleted_at) VALUES (:k, :id, :at)",
       Params<std::string, long long, long long>{
           {SlugKey(slug), id, at.time_since_epoch().count()}});
}

Status SqlSharedTransaction::DeleteTenantRows(const Tenant& t, Instant now) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Status {
    SMOOTH_RETURN_IF_ERROR(RequireTenant(core_.conn(), t.id.value()));
    DeleteTenantRowsOn(core_.conn(), t.id, t.slug, now);
    AdvanceEpoch();
    return {};
  });
}

namespace {
// A name is claimed by several tenants at most once each, and verified for one of them
// (unique indexes domains_by_tenant_name and domains_verified_name). Checked before the
// write for a message that says which; the indexes decide between concurrent writers.
std::string VerifiedElsewhere(const Domain& d) {
  return fmt::format("domain '{}' is verified for another tenant", d.name);
}
bool NameVerifiedElsewhere(Connection& conn, const Domain& d) {
  if (d.verification != DomainVerification::kVerified) return false;
  return Scalar<long long>(conn,
                           "SELECT id FROM domains WHERE name = :name AND id <> :id"
                           " AND verification = 'verified'",
                           Params<std::string, long long>{{d.name, d.id.value()}})
      .has_value();
}
}  // namespace

Result<Domain> SqlSharedTransaction::InsertDomain(Domain d) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  std::string taken = fmt::format("domain '{}' already exists", d.name);
  return core_.RunGuarded(
      [&]() -> Result<Domain> {
        SMOOTH_RETURN_IF_ERROR(RequireTenant(core_.conn(), d.tenant.value()));
        if (Scalar<long long>(core_.conn(),
                              "SELECT id FROM domains WHERE name = :name AND tenant = :tenant",
                              Params<std::string, long long>{{d.name, d.tenant.value()}}))
          return AlreadyExists(taken);
        if (NameVerifiedElsewhere(core_.conn(), d)) return AlreadyExists(VerifiedElsewhere(d));
        d.id = DomainId(NextId());
        DomainRow row = ToRow(d);
        Exec(core_.conn(), InsertSql<DomainRow>(), row);
        return d;
      },
      taken);
}

Status SqlSharedTransaction::UpdateDomain(const Domain& d) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.RunGuarded(
      [&]() -> Status {
        auto name = Scalar<std::string>(core_.conn(), "SELECT name FROM domains WHERE id = :id",
                                        IdParam(d.id.value()));
        if (!name) return NotFound(fmt::format("domain {} not found", d.id));
        if (*name != d.name) return InvalidArgument("domain: name cannot change");
        if (NameVerifiedElsewhere(core_.conn(), d)) return AlreadyExists(VerifiedElsewhere(d));
        DomainRow row = ToRow(d);
        Exec(core_.conn(), UpdateSql<DomainRow>(), row);
        return {};
      },
      VerifiedElsewhere(d));
}

Result<Domain> SqlSharedTransaction::GetDomain(DomainId id) {
  return core_.Run([&] {
    return SelectOne<DomainRow>(core_.conn(), ByIdSql<DomainRow>(), IdParam(id.value()),
                                fmt::format("domain {} not found", id));
  });
}

Result<Domain> SqlSharedTransaction::FindDomainByName(std::string_view name) {
  static const std::string sql =
      SelectSql<DomainRow>("WHERE name = :name AND verification = 'verified'");
  return core_.Run([&] {
    return SelectOne<DomainRow>(core_.conn(), sql, Params<std::string>{{std::string(name)}},
                                fmt::format("domain '{}' not found", name));
  });
}

Result<std::vector<Domain>> SqlSharedTransaction::ListDomains(TenantId tenant) {
  static const std::string sql = SelectSql<DomainRow>("WHERE tenant = :tenant ORDER BY id");
  return core_.Run([&] { return Select<DomainRow>(core_.conn(), sql, IdParam(tenant.value())); });
}

namespace {
Params<long long, std::string> EmailParam(std::optional<TenantId> tenant, std::string_view email) {
  return {{tenant ? tenant->value() : 0, std::string(email)}};
}
const std::string kUserIdByEmail =
    "SELECT id FROM users WHERE tenant_key = :tenant_key AND email = :email";
}  // namespace

Result<User> SqlSharedTransaction::InsertUser(User u) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  std::string taken = fmt::format("email: '{}' is already registered", u.email);
  return core_.RunGuarded(
      [&]() -> Result<User> {
        SMOOTH_RETURN_IF_ERROR(RequireTenant(core_.conn(), u.tenant));
        if (Scalar<long long>(core_.conn(), kUserIdByEmail, EmailParam(u.tenant, u.email)))
          return AlreadyExists(taken);
        u.id = UserId(NextId());
        UserRow row = ToRow(u);
        Exec(core_.conn(), InsertSql<UserRow>(), row);
        return u;
      },
      taken);
}

Status SqlSharedTransaction::UpdateUser(const User& u) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  std::string taken = fmt::format("email: '{}' is already registered", u.email);
  return core_.RunGuarded(
      [&]() -> Status {
        auto& p = core_.conn().Prepare<Vars<Params<long long, std::string>, Id>>(
            "SELECT tenant_key, email FROM users WHERE id = :id");
        p.vars.in = IdParam(u.id.value());
        std::optional<std::pair<long long, std::string>> old;
        if (p.st.execute(true)) {
          do {
            if (!old) old.emplace(std::get<0>(p.vars.out.values), std::get<1>(p.vars.out.values));
          } while (p.st.fetch());
        }
        if (!old) return NotFound(fmt::format("user {} not found", u.id));
        std::pair<long long, std::string> key{u.tenant ? u.tenant->value() : 0, u.email};
        if (*old != key &&
            Scalar<long long>(core_.conn(), kUserIdByEmail, EmailParam(u.tenant, u.email)))
          return AlreadyExists(taken);
        UserRow row = ToRow(u);
        Exec(core_.conn(), UpdateSql<UserRow>(), row);
        AdvanceEpoch();
        return {};
      },
      taken);
}

Result<User> SqlSharedTransaction::GetUser(UserId id) {
  return core_.Run([&] {
    return SelectOne<UserRow>(core_.conn(), ByIdSql<UserRow>(), IdParam(id.value()),
                              fmt::format("user {} not found", id));
  });
}

Result<User> SqlSharedTransaction::FindUserByEmail(std::optional<TenantId> tenant,
                                                   std::string_view email) {
  static const std::string sql =
      SelectSql<UserRow>("WHERE tenant_key = :tenant_key AND email = :email");
  return core_.Run([&] {
    return SelectOne<UserRow>(core_.conn(), sql, EmailParam(tenant, email), "user not found");
  });
}

Result<std::vector<User>> SqlSharedTransaction::ListUsers(std::optional<TenantId> tenant) {
  static const std::string sql = SelectSql<UserRow>("WHERE tenant_key = :tenant_key ORDER BY id");
  return core_.Run(
      [&] { return Select<UserRow>(core_.conn(), sql, IdParam(tenant ? tenant->value() : 0)); });
}

Result<Grant> SqlSharedTransaction::InsertGrant(Grant g) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Result<Grant> {
    SMOOTH_RETURN_IF_ERROR(RequireTenant(core_.conn(), g.tenant));
    g.id = GrantId(NextId());
    GrantRow row = ToRow(g);
    Exec(core_.conn(), InsertSql<GrantRow>(), row);
    return g;
  });
}

Status SqlSharedTransaction::UpdateGrant(const Grant& g) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Status {
    GrantRow row = ToRow(g);
    if (Exec(core_.conn(), UpdateSql<GrantRow>(), row) == 0)
      return NotFound(fmt::format("grant {} not found", g.id));
    return {};
  });
}

Result<Grant> SqlSharedTransaction::GetGrant(GrantId id) {
  return core_.Run([&] {
    return SelectOne<GrantRow>(core_.conn(), ByIdSql<GrantRow>(), IdParam(id.value()),
                               fmt::format("grant {} not found", id));
  });
}

Result<std::vector<Grant>> SqlSharedTransaction::ListGrants(const GrantFilter& f, Instant now) {
  // One statement for every filter: an unset field's condition is switched off by its flag.
  static const std::string sql = SelectSql<GrantRow>(
      "WHERE (:any_grantee = 1 OR grantee = :grantee)"
      " AND (:any_action = 1 OR action = :action)"
      " AND (:any_grantor = 1 OR grantor = :grantor)"
      " AND (:any_tenant = 1 OR tenant = :tenant)"
      " AND (:all_times = 1 OR (revoked_at IS NULL AND expires_at > :now))"
      " ORDER BY id");
  using P = Params<long long, long long, long long, std::string, long long, long long, long long,
                   long long, long long, long long>;
  P in{{f.grantee ? 0 : 1, f.grantee ? f.grantee->value() : 0, f.action ? 0 : 1,
        f.action ? std::string(ActionName(*f.action)) : std::string(), f.grantor ? 0 : 1,
        f.grantor ? f.grantor->value() : 0, f.tenant ? 0 : 1, f.tenant ? f.tenant->value() : 0,
        f.only_active ? 0 : 1, now.time_since_epoch().count()}};
  return core_.Run([&] { return Select<GrantRow>(core_.conn(), sql, in); });
}

Result<Session> SqlSharedTransaction::InsertSession(Session s) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  std::string taken = "session_key: already in use";
  return core_.RunGuarded(
      [&]() -> Result<Session> {
        SMOOTH_RETURN_IF_ERROR(RequireTenant(core_.conn(), s.tenant));
        if (Scalar<long long>(core_.conn(), "SELECT id FROM sessions WHERE session_key = :k",
                              Params<std::string>{{s.session_key}}))
          return AlreadyExists(taken);
        s.token.clear();  // the secret is never kept
        s.id = SessionId(NextId());
        SessionRow row = ToRow(s);
        Exec(core_.conn(), InsertSql<SessionRow>(), row);
        return s;
      },
      taken);
}

Status SqlSharedTransaction::UpdateSession(const Session& s) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.RunGuarded(
      [&]() -> Status {
        SessionRow row = ToRow(s);
        if (Exec(core_.conn(), UpdateSql<SessionRow>(), row) == 0)
          return NotFound(fmt::format("session {} not found", s.id));
        AdvanceEpoch();
        return {};
      },
      "session_key: already in use");
}

Result<Session> SqlSharedTransaction::GetSession(SessionId id) {
  return core_.Run([&] {
    return SelectOne<SessionRow>(core_.conn(), ByIdSql<SessionRow>(), IdParam(id.value()),
                                 fmt::format("session {} not found", id));
  });
}

Result<Session> SqlSharedTransaction::FindSessionByTokenHash(std::string_view token_hash) {
  static const std::string sql = SelectSql<SessionRow>("WHERE token_hash = :h");
  if (token_hash.empty()) return NotFound("session not found");
  return core_.Run([&] {
    return SelectOne<SessionRow>(core_.conn(), sql, Params<std::string>{{std::string(token_hash)}},
                                 "session not found");
  });
}

Result<std::vector<Session>> SqlSharedTransaction::ListLiveMasquerades(SessionId original) {
  static const std::string sql =
      SelectSql<SessionRow>("WHERE original = :original AND ended_at IS NULL ORDER BY id");
  return core_.Run(
      [&] { return Select<SessionRow>(core_.conn(), sql, IdParam(original.value())); });
}

Result<std::vector<Session>> SqlSharedTransaction::ListSessions() {
  return core_.Run(
      [&] { return Select<SessionRow>(core_.conn(), AllSql<SessionRow>(), std::monostate{}); });
}

Result<int> SqlSharedTransaction::DeleteSessions(const std::vector<SessionId>& ids) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Result<int> {
    long long deleted = 0;
    for (SessionId id : ids)
      deleted += Exec(core_.conn(), "DELETE FROM sessions WHERE id = :id", IdParam(id.value()));
    if (deleted > 0) AdvanceEpoch();
    return static_cast<int>(deleted);
  });
}

Result<int> SqlSharedTransaction::CountLoginFailures(std::string_view account, Instant since) {
  return core_.Run([&]() -> Result<int> {
    auto n = Scalar<long long>(core_.conn(),
                               "SELECT COUNT(*) FROM login_failures WHERE account = :a AND at >= :t",
                               Params<std::string, long long>{
                                   {std::string(account), since.time_since_epoch().count()}});
    return static_cast<int>(n.value_or(0));
  });
}

Status SqlSharedTransaction::RecordLoginFailure(std::string_view account, Instant at,
                                                Instant forget_before) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Status {
    // Expired failures go first, whoever's: made-up accounts must not grow the table.
    Exec(core_.conn(), "DELETE FROM login_failures WHERE at < :t",
         Params<long long>{{forget_before.time_since_epoch().count()}});
    Exec(core_.conn(), "INSERT INTO login_failures (account, at) VALUES (:a, :t)",
         Params<std::string, long long>{{std::string(account), at.time_since_epoch().count()}});
    return {};
  });
}

Status SqlSharedTransaction::ClearLoginFailures(std::string_view account) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Status {
    Exec(core_.conn(), "DELETE FROM login_failures WHERE account = :a",
         Params<std::string>{{std::string(account)}});
    return {};
  });
}

// ----------------------------------------------------------------------------------------
// Tenant tables

namespace {
template <typename Entity>
struct RowOf;
template <>
struct RowOf<Resource> {
  using type = ResourceRow;
};
template <>
struct RowOf<Service> {
  using type = ServiceRow;
};
template <>
struct RowOf<Customer> {
  using type = CustomerRow;
};
template <>
struct RowOf<Appointment> {
  using type = AppointmentRow;
};
template <>
struct RowOf<Hold> {
  using type = HoldRow;
};
}  // namespace

template <typename Entity>
Result<Entity> SqlTenantTransaction::Insert(Entity e) {
  using Row = typename RowOf<Entity>::type;
  auto id = core_.ReserveId(*ids_);
  if (!id) return id.error();
  e.id = decltype(e.id)(*id);
  return core_.Run([&]() -> Result<Entity> {
    Row row = ToRow(e);
    Exec(core_.conn(), InsertSql<Row>(), row);
    return e;
  });
}

template <typename Entity>
Status SqlTenantTransaction::Update(const Entity& e, std::string_view what) {
  using Row = typename RowOf<Entity>::type;
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Status {
    Row row = ToRow(e);
    if (Exec(core_.conn(), UpdateSql<Row>(), row) == 0)
      return NotFound(fmt::format("{} {} not found", what, e.id));
    return {};
  });
}

Result<std::int64_t> SqlTenantTransaction::ChangeSeq() {
  return core_.Run([&]() -> Result<std::int64_t> {
    auto seq = Scalar<long long>(core_.conn(), "SELECT value FROM change_seq", std::monostate{});
    if (!seq) return Internal(fmt::format("{}: change_seq is empty", core_.database()));
    return *seq;
  });
}

Result<std::int64_t> SqlTenantTransaction::BumpChangeSeq() {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Result<std::int64_t> {
    auto seq = Scalar<long long>(core_.conn(), "UPDATE change_seq SET value = value + 1 RETURNING value",
                                 std::monostate{});
    if (!seq) return Internal(fmt::format("{}: change_seq is empty", core_.database()));
    return *seq;
  });
}

Result<Resource> SqlTenantTransaction::InsertResource(Resource r) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return Insert(std::move(r));
}
Status SqlTenantTransaction::UpdateResource(const Resource& r) { return Update(r, "resource"); }
Result<Resource> SqlTenantTransaction::GetResource(ResourceId id) {
  return core_.Run([&] {
    return SelectOne<ResourceRow>(core_.conn(), ByIdSql<ResourceRow>(), IdParam(id.value()),
                                  fmt::format("resource {} not found", id));
  });
}
Result<std::vector<Resource>> SqlTenantTransaction::ListResources() {
  return core_.Run(
      [&] { return Select<ResourceRow>(core_.conn(), AllSql<ResourceRow>(), std::monostate{}); });
}

Result<Service> SqlTenantTransaction::InsertService(Service s) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return Insert(std::move(s));
}
Status SqlTenantTransaction::UpdateService(const Service& s) { return Update(s, "service"); }
Result<Service> SqlTenantTransaction::GetService(ServiceId id) {
  return core_.Run([&] {
    return SelectOne<ServiceRow>(core_.conn(), ByIdSql<ServiceRow>(), IdParam(id.value()),
                                 fmt::format("service {} not found", id));
  });
}
Result<std::vector<Service>> SqlTenantTransaction::ListServices() {
  return core_.Run(
      [&] { return Select<ServiceRow>(core_.conn(), AllSql<ServiceRow>(), std::monostate{}); });
}

Result<Customer> SqlTenantTransaction::InsertCustomer(Customer c) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return Insert(std::move(c));
}
Status SqlTenantTransaction::UpdateCustomer(const Customer& c) { return Update(c, "customer"); }
Result<Customer> SqlTenantTransaction::GetCustomer(CustomerId id) {
  return core_.Run([&] {
    return SelectOne<CustomerRow>(core_.conn(), ByIdSql<CustomerRow>(), IdParam(id.value()),
                                  fmt::format("customer {} not found", id));
  });
}
Result<std::vector<Customer>> SqlTenantTransaction::ListCustomers() {
  return core_.Run(
      [&] { return Select<CustomerRow>(core_.conn(), AllSql<CustomerRow>(), std::monostate{}); });
}

Result<Appointment> SqlTenantTransaction::InsertAppointment(Appointment a) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  static constexpr std::string_view kTaken = "idempotency_key: already used";
  if (a.idempotency_key) {
    auto used = core_.Run([&]() -> Result<bool> {
      return Scalar<long long>(core_.conn(),
                               "SELECT id FROM appointments WHERE idempotency_key = :k",
                               Params<std::string>{{*a.idempotency_key}})
          .has_value();
    });
    if (!used) return used.error();
    if (*used) return AlreadyExists(std::string(kTaken));
  }
  auto id = core_.ReserveId(*ids_);
  if (!id) return id.error();
  a.id = AppointmentId(*id);
  // Kept back and sent with the next statement (FlushAppointments). No savepoint: the key
  // was looked up just now, and the writers of a tenant hold its change_seq row, so a
  // violation would be a broken invariant, not a race. Should one happen anyway (or the
  // EXCLUDE constraint object), the statement that sends it fails, and with it the
  // transaction (PostgreSQL) and so the whole write.
  pending_.push_back(ToRow(a));
  return a;
}

void SqlTenantTransaction::FlushAppointments() {
  if (pending_.empty()) return;
  std::vector<AppointmentRow> rows = std::move(pending_);
  pending_.clear();  // sent or failed (which fails the transaction): never sent twice
  for (std::size_t sent = 0; sent < rows.size();) {
    std::size_t n = std::min(kMaxRowsPerInsert, rows.size() - sent);
    auto& p = core_.conn().PrepareRows<AppointmentRow>(InsertManySql<AppointmentRow>(n), n);
    for (std::size_t i = 0; i < n; ++i) p.vars.rows[i] = std::move(rows[sent + i]);
    sent += n;
    p.st.execute(true);
  }
}
Status SqlTenantTransaction::UpdateAppointment(const Appointment& a) {
  return Update(a, "appointment");
}
Result<Appointment> SqlTenantTransaction::GetAppointment(AppointmentId id) {
  return core_.Run([&] {
    return SelectOne<AppointmentRow>(core_.conn(), ByIdSql<AppointmentRow>(), IdParam(id.value()),
                                     fmt::format("appointment {} not found", id));
  });
}
Result<Appointment> SqlTenantTransaction::FindAppointmentByIdempotencyKey(std::string_view key) {
  static const std::string sql = SelectSql<AppointmentRow>("WHERE idempotency_key = :k");
  return core_.Run([&] {
    return SelectOne<AppointmentRow>(core_.conn(), sql, Params<std::string>{{std::string(key)}},
                                     "no appointment with that key");
  });
}
Result<std::vector<Appointment>> SqlTenantTransaction::ListAppointments(Instant from, Instant to) {
  static const std::string sql =
      SelectSql<AppointmentRow>("WHERE start_at < :to AND end_at > :from ORDER BY start_at, id");
  return core_.Run([&] {
    return Select<AppointmentRow>(core_.conn(), sql,
                                  Params<long long, long long>{{to.time_since_epoch().count(),
                                                                from.time_since_epoch().count()}});
  });
}
Result<std::vector<Appointment>> SqlTenantTransaction::ListSeries(SeriesId series) {
  static const std::string sql = SelectSql<AppointmentRow>("WHERE series = :series ORDER BY id");
  return core_.Run(
      [&] { return Select<AppointmentRow>(core_.conn(), sql, IdParam(series.value())); });
}
Result<std::vector<Appointment>> SqlTenantTransaction::ListAppointmentsChangedSince(
    std::int64_t seq) {
  static const std::string sql = SelectSql<AppointmentRow>("WHERE change_seq > :seq ORDER BY id");
  return core_.Run([&] { return Select<AppointmentRow>(core_.conn(), sql, IdParam(seq)); });
}
Result<SeriesId> SqlTenantTransaction::NewSeriesId() {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  auto id = core_.ReserveId(*ids_);
  if (!id) return id.error();
  return SeriesId(*id);
}

Result<Hold> SqlTenantTransaction::InsertHold(Hold h) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return Insert(std::move(h));
}
Status SqlTenantTransaction::UpdateHold(const Hold& h) { return Update(h, "hold"); }
Result<Hold> SqlTenantTransaction::GetHold(HoldId id) {
  return core_.Run([&] {
    return SelectOne<HoldRow>(core_.conn(), ByIdSql<HoldRow>(), IdParam(id.value()),
                              fmt::format("hold {} not found", id));
  });
}
Result<std::vector<Hold>> SqlTenantTransaction::ListLiveHolds(Instant now) {
  static const std::string sql =
      SelectSql<HoldRow>("WHERE released = 0 AND expires_at > :now ORDER BY id");
  return core_.Run(
      [&] { return Select<HoldRow>(core_.conn(), sql, IdParam(now.time_since_epoch().count())); });
}

Result<int> SqlTenantTransaction::DeleteHoldsExpiredBefore(Instant before) {
  SMOOTH_RETURN_IF_ERROR(core_.Writable());
  return core_.Run([&]() -> Result<int> {
    return static_cast<int>(Exec(core_.conn(), "DELETE FROM holds WHERE expires_at < :t",
                                 IdParam(before.time_since_epoch().count())));
  });
}

}  // namespace smooth::internal::sql
