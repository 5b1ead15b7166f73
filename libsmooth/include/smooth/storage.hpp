// The storage seam: the one abstract interface through which libsmooth persists
// everything, in the spirit of LevelDB's Env. libsmooth ships an in-memory
// implementation (MemoryStorage); SQL backends implement the same interface.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/access.hpp"
#include "smooth/status.hpp"

namespace smooth {

class TenantTransaction;  // per-tenant scheduling data; see schedule_storage.hpp

enum class TxnMode { kRead, kWrite };

/// A transaction over the shared tables: tenants, domains, users, grants, sessions.
///
/// Writes become visible to others only on Commit(); destroying an uncommitted
/// transaction rolls it back. A transaction is used by one thread at a time.
/// Insert* assign the id (and fill it in the returned copy); uniqueness rules are the
/// storage's to enforce and surface as already_exists:
///   - tenant slug, case-insensitively;
///   - domain name;
///   - user email within a tenant, and among platform users (tenant == nullopt);
///   - session_key.
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
  /// Live (not ended) masquerade sessions started from `original`.
  virtual Result<std::vector<Session>> ListLiveMasquerades(SessionId original) = 0;

  /// Makes the writes durable and visible. The transaction is finished afterwards.
  virtual Status Commit() = 0;
};

/// The storage backend. Implementations are safe to share between threads: each thread
/// begins its own transactions.
class Storage {
 public:
  virtual ~Storage() = default;

  /// Begins a transaction on the shared tables. Write transactions are serialized.
  virtual Result<std::unique_ptr<SharedTransaction>> BeginShared(TxnMode mode) = 0;

  /// Creates the tenant row and the tenant's own space (schema, file, or map) as one
  /// atomic step: on failure neither exists. Assigns and returns the id.
  /// already_exists when the slug is taken, case-insensitively.
  virtual Result<Tenant> CreateTenant(Tenant tenant) = 0;

  /// Begins a transaction on one tenant's scheduling data. not_found (fails closed)
  /// when the tenant's space does not exist.
  virtual Result<std::unique_ptr<TenantTransaction>> BeginTenant(const Tenant& tenant,
                                                                 TxnMode mode) = 0;
};

/// A Storage that keeps everything in process memory; nothing survives the process.
/// Read transactions run concurrently; write transactions are serialized, per tenant for
/// tenant data. Rollback undoes every write of the transaction.
std::unique_ptr<Storage> NewMemoryStorage();

}  // namespace smooth
