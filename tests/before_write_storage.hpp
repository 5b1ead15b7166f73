// A storage that lets a test act before a call's reads or its write: what another process
// does in that moment (platform_test, tenant_deletion_test, maintenance_test); and fail a
// write inside a transaction (grants_test).
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "smooth/storage.hpp"

namespace smooth::testing {

/// Forwards to the transaction it wraps, except that UpdateGrant first asks `on_update_grant`
/// and fails with its answer when that is not ok: a write failing inside a transaction.
class HookedSharedTransaction final : public SharedTransaction {
 public:
  HookedSharedTransaction(std::unique_ptr<SharedTransaction> inner,
                          std::function<Status()> on_update_grant)
      : inner_(std::move(inner)), on_update_grant_(std::move(on_update_grant)) {}

  Result<Tenant> GetTenant(TenantId id) override { return inner_->GetTenant(id); }
  Result<Tenant> FindTenantBySlug(std::string_view slug) override {
    return inner_->FindTenantBySlug(slug);
  }
  Result<std::vector<Tenant>> ListTenants() override { return inner_->ListTenants(); }
  Status UpdateTenant(const Tenant& t) override { return inner_->UpdateTenant(t); }
  Result<Domain> InsertDomain(Domain d) override { return inner_->InsertDomain(std::move(d)); }
  Status UpdateDomain(const Domain& d) override { return inner_->UpdateDomain(d); }
  Result<Domain> GetDomain(DomainId id) override { return inner_->GetDomain(id); }
  Result<Domain> FindDomainByName(std::string_view name) override {
    return inner_->FindDomainByName(name);
  }
  Result<std::vector<Domain>> ListDomains(TenantId tenant) override {
    return inner_->ListDomains(tenant);
  }
  Result<User> InsertUser(User u) override { return inner_->InsertUser(std::move(u)); }
  Status UpdateUser(const User& u) override { return inner_->UpdateUser(u); }
  Result<User> GetUser(UserId id) override { return inner_->GetUser(id); }
  Result<User> FindUserByEmail(std::optional<TenantId> tenant, std::string_view email) override {
    return inner_->FindUserByEmail(tenant, email);
  }
  Result<std::vector<User>> ListUsers(std::optional<TenantId> tenant) override {
    return inner_->ListUsers(tenant);
  }
  Result<Grant> InsertGrant(Grant g) override { return inner_->InsertGrant(std::move(g)); }
  Status UpdateGrant(const Grant& g) override {
    if (Status s = on_update_grant_(); !s.ok()) return s;
    return inner_->UpdateGrant(g);
  }
  Result<Grant> GetGrant(GrantId id) override { return inner_->GetGrant(id); }
  Result<std::vector<Grant>> ListGrants(const GrantFilter& f, Instant now) override {
    return inner_->ListGrants(f, now);
  }
  Result<Session> InsertSession(Session s) override { return inner_->InsertSession(std::move(s)); }
  Status UpdateSession(const Session& s) override { return inner_->UpdateSession(s); }
  Result<Session> GetSession(SessionId id) override { return inner_->GetSession(id); }
  Result<Session> FindSessionByTokenHash(std::string_view hash) override {
    return inner_->FindSessionByTokenHash(hash);
  }
  Result<std::vector<Session>> ListLiveMasquerades(SessionId original) override {
    return inner_->ListLiveMasquerades(original);
  }
  Result<std::vector<Session>> ListSessions() override { return inner_->ListSessions(); }
  Result<int> DeleteSessions(const std::vector<SessionId>& ids) override {
    return inner_->DeleteSessions(ids);
  }
  Result<int> CountLoginFailures(std::string_view account, Instant since) override {
    return inner_->CountLoginFailures(account, since);
  }
  Status RecordLoginFailure(std::string_view account, Instant at, Instant forget_before) override {
    return inner_->RecordLoginFailure(account, at, forget_before);
  }
  Status ClearLoginFailures(std::string_view account) override {
    return inner_->ClearLoginFailures(account);
  }
  Status Commit() override { return inner_->Commit(); }

 private:
  std::unique_ptr<SharedTransaction> inner_;
  std::function<Status()> on_update_grant_;
};

/// Runs `before_write` once, just before the next shared write transaction begins, then
/// forwards everything to the storage it wraps.
class BeforeWriteStorage final : public Storage {
 public:
  explicit BeforeWriteStorage(std::shared_ptr<Storage> inner) : inner_(std::move(inner)) {}
  std::function<void()> before_write;
  /// Likewise, just before the next shared read transaction begins.
  std::function<void()> before_read;
  /// Likewise, just before the next DeleteTenant.
  std::function<void()> before_delete;
  /// Likewise, just before the next tenant transaction of any kind begins.
  std::function<void()> before_tenant;
  /// While set, asked before every UpdateGrant of a shared transaction (see
  /// HookedSharedTransaction).
  std::function<Status()> on_update_grant;

  Result<std::unique_ptr<SharedTransaction>> BeginShared(TxnMode mode) override {
    if (mode == TxnMode::kWrite && before_write) std::exchange(before_write, nullptr)();
    if (mode == TxnMode::kRead && before_read) std::exchange(before_read, nullptr)();
    auto txn = inner_->BeginShared(mode);
    if (!txn || !on_update_grant) return txn;
    return std::unique_ptr<SharedTransaction>(
        std::make_unique<HookedSharedTransaction>(std::move(*txn), on_update_grant));
  }
  Result<std::int64_t> SharedEpoch() override { return inner_->SharedEpoch(); }
  Result<Tenant> CreateTenant(Tenant tenant) override {
    return inner_->CreateTenant(std::move(tenant));
  }
  Status DeleteTenant(const Tenant& tenant, const BeforeDelete& before) override {
    if (before_delete) std::exchange(before_delete, nullptr)();
    return inner_->DeleteTenant(tenant, before);
  }
  Result<std::unique_ptr<TenantTransaction>> BeginTenant(const Tenant& tenant,
                                                         TxnMode mode) override {
    if (before_tenant) std::exchange(before_tenant, nullptr)();
    return inner_->BeginTenant(tenant, mode);
  }

 private:
  std::shared_ptr<Storage> inner_;
};

}  // namespace smooth::testing
