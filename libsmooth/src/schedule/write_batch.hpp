// Group commit for the Scheduler: write operations of one tenant that arrive while another
// is running share its storage transaction, and so its commit (one fsync on SQLite, one
// round trip and one WAL flush on PostgreSQL, for all of them).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "smooth/schedule_types.hpp"
#include "smooth/scheduler.hpp"
#include "smooth/storage.hpp"
#include "storage/forwarding.hpp"

namespace smooth::internal {

/// Counts the writes made through a transaction, so a batch knows whether an operation
/// that gave up had already written (and so spoiled the shared transaction). Commit is the
/// batch's, never an operation's. A failed write counts too: on PostgreSQL it has spoiled
/// the transaction.
class CountingTransaction final : public ForwardingTenantTransaction {
 public:
  using ForwardingTenantTransaction::ForwardingTenantTransaction;

  std::size_t writes() const { return writes_; }

  Result<std::int64_t> BumpChangeSeq() override { return Counted(inner().BumpChangeSeq()); }
  Result<Resource> InsertResource(Resource r) override { return Counted(inner().InsertResource(std::move(r))); }
  Status UpdateResource(const Resource& r) override { return Counted(inner().UpdateResource(r)); }
  Result<Service> InsertService(Service s) override { return Counted(inner().InsertService(std::move(s))); }
  Status UpdateService(const Service& s) override { return Counted(inner().UpdateService(s)); }
  Result<Customer> InsertCustomer(Customer c) override { return Counted(inner().InsertCustomer(std::move(c))); }
  Status UpdateCustomer(const Customer& c) override { return Counted(inner().UpdateCustomer(c)); }
  Result<Appointment> InsertAppointment(Appointment a) override {
    return Counted(inner().InsertAppointment(std::move(a)));
  }
  Status UpdateAppointment(const Appointment& a) override { return Counted(inner().UpdateAppointment(a)); }
  Result<Hold> InsertHold(Hold h) override { return Counted(inner().InsertHold(std::move(h))); }
  Status UpdateHold(const Hold& h) override { return Counted(inner().UpdateHold(h)); }
  Result<int> DeleteHoldsExpiredBefore(Instant before) override {
    return Counted(inner().DeleteHoldsExpiredBefore(before));
  }

 private:
  template <typename R>
  R Counted(R r) {
    ++writes_;
    return r;
  }

  std::size_t writes_ = 0;
};

/// One group commit. The fields up to `events` are guarded by the tenant state's mutex
/// (TenantState::mu); the outcome by `mu`.
struct WriteBatch {
  /// Operations that may join one batch: bounds how long the first waits for its commit.
  static constexpr int kMaxMembers = 64;

  explicit WriteBatch(std::unique_ptr<TenantTransaction> t) : txn(std::move(t)) {}

  CountingTransaction txn;
  TenantId tenant;
  std::int64_t seq = 0;   // the change sequence every row written in the batch carries
  int joined = 0;         // operations in the batch, not counting those that gave up
  int finished = 0;       // of those, the ones done with their work
  bool closed = false;    // being committed: nobody joins any more
  bool closing = false;   // its last member waits for the batch before it to commit
  bool spoiled = false;   // an operation gave up after writing: the batch must not commit
  // Begun with Storage::BeginTenantWriteAt, assuming the tenant at seq - 1 and the shared
  // epoch at `epoch`; `checked` once storage has confirmed that, `stale` once it has not.
  bool deferred = false;
  std::int64_t epoch = -1;
  // Begun while the batch before it was committing, assuming that one's changes; doomed
  // once that one has failed: it is then not committed, and its members run again.
  bool on_top = false;
  bool doomed = false;
  bool checked = false;
  bool stale = false;
  std::vector<ScheduleEvent> events;  // of the finished operations, in order

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
  Status outcome;     // guarded by mu
};

}  // namespace smooth::internal
