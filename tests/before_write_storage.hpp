// A storage that lets a test act before a call's reads or its write: what another process
// does in that moment (platform_test, tenant_deletion_test, maintenance_test); and fail a
// write inside a transaction (grants_test).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "smooth/storage.hpp"
#include "storage/forwarding.hpp"

namespace smooth::testing {

/// A shared transaction whose UpdateGrant first asks `on_update_grant` and fails with its
/// answer when that is not ok: a write failing inside a transaction.
class HookedSharedTransaction final : public internal::ForwardingSharedTransaction {
 public:
  HookedSharedTransaction(std::unique_ptr<SharedTransaction> inner,
                          std::function<Status()> on_update_grant)
      : ForwardingSharedTransaction(std::move(inner)),
        on_update_grant_(std::move(on_update_grant)) {}

  Status UpdateGrant(const Grant& g) override {
    if (Status s = on_update_grant_(); !s.ok()) return s;
    return ForwardingSharedTransaction::UpdateGrant(g);
  }

 private:
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
  /// How many times SharedEpoch was asked.
  std::atomic<int> shared_epoch_reads{0};
  Result<std::int64_t> SharedEpoch() override {
    ++shared_epoch_reads;
    return inner_->SharedEpoch();
  }
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
