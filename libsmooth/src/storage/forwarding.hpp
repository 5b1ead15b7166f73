// A TenantTransaction that passes every call on to another, for decorators that change
// a few calls (the Scheduler's write counting; fault injection in tests).
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "smooth/storage.hpp"

namespace smooth::internal {

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
