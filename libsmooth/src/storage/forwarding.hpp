// Transactions that pass every call on to another, for decorators that change a few calls
// (the Scheduler's write counting; fault injection in tests).
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "smooth/storage.hpp"

namespace smooth::internal {

/// A SharedTransaction passing every call on to `inner`.
class ForwardingSharedTransaction : public SharedTransaction {
 public:
  explicit ForwardingSharedTransaction(std::unique_ptr<SharedTransaction> inner)
      : inner_(std::move(inner)) {}

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
  Status UpdateGrant(const Grant& g) override { return inner_->UpdateGrant(g); }
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
};

class ForwardingTenantTransaction : public TenantTransaction {
 public:
  explicit ForwardingTenantTransaction(std::unique_ptr<TenantTransaction> inner)
      : inner_(std::move(inner)) {}

  TenantTransaction& inner() { return *inner_; }
  /// Ends the transaction: rolls it back unless committed, and lets its connection go.
  void Abandon() { inner_.reset(); }

  Result<std::int64_t> ChangeSeq() override { return inner_->ChangeSeq(); }
  Result<std::int64_t> BumpChangeSeq() override { return inner_->BumpChangeSeq(); }

  Result<Resource> InsertResource(Resource r) override { return inner_->InsertResource(std::move(r)); }
  Status UpdateResource(const Resource& r) override { return inner_->UpdateResource(r); }
  Result<Resource> GetResource(ResourceId id) override { return inner_->GetResource(id); }
  Result<std::vector<Resource>> ListResources() override { return inner_->ListResources(); }

  Result<Service> InsertService(Service s) override { return inner_->InsertService(std::move(s)); }
  Status UpdateService(const Service& s) override { return inner_->UpdateService(s); }
  Result<Service> GetService(ServiceId id) override { return inner_->GetService(id); }
  Result<std::vector<Service>> ListServices() override { return inner_->ListServices(); }

  Result<Customer> InsertCustomer(Customer c) override { return inner_->InsertCustomer(std::move(c)); }
  Status UpdateCustomer(const Customer& c) override { return inner_->UpdateCustomer(c); }
  Result<Customer> GetCustomer(CustomerId id) override { return inner_->GetCustomer(id); }
  Result<std::vector<Customer>> ListCustomers() override { return inner_->ListCustomers(); }

  Result<Appointment> InsertAppointment(Appointment a) override {
    return inner_->InsertAppointment(std::move(a));
  }
  Status UpdateAppointment(const Appointment& a) override { return inner_->UpdateAppointment(a); }
  Result<Appointment> GetAppointment(AppointmentId id) override { return inner_->GetAppointment(id); }
  Result<Appointment> FindAppointmentByIdempotencyKey(std::string_view key) override {
    return inner_->FindAppointmentByIdempotencyKey(key);
  }
  Result<std::vector<Appointment>> ListAppointments(Instant from, Instant to) override {
    return inner_->ListAppointments(from, to);
  }
  Result<std::vector<Appointment>> ListSeries(SeriesId series) override {
    return inner_->ListSeries(series);
  }
  Result<std::vector<Appointment>> ListAppointmentsChangedSince(std::int64_t seq) override {
    return inner_->ListAppointmentsChangedSince(seq);
  }
  Result<SeriesId> NewSeriesId() override { return inner_->NewSeriesId(); }

  Result<Hold> InsertHold(Hold h) override { return inner_->InsertHold(std::move(h)); }
  Status UpdateHold(const Hold& h) override { return inner_->UpdateHold(h); }
  Result<Hold> GetHold(HoldId id) override { return inner_->GetHold(id); }
  Result<std::vector<Hold>> ListLiveHolds(Instant now) override { return inner_->ListLiveHolds(now); }
  Result<int> DeleteHoldsExpiredBefore(Instant before) override {
    return inner_->DeleteHoldsExpiredBefore(before);
  }

  Status Commit() override { return inner_->Commit(); }

 private:
  std::unique_ptr<TenantTransaction> inner_;
};

}  // namespace smooth::internal
