// The library as one process of a multi-process test opens it (concurrency, durability, the
// admin tool's backup): a storage that other processes may have open too, and a Platform and
// Scheduler on it, all on one clock that stands still at T0.
#pragma once

#include <memory>
#include <string>

#include "fixtures.hpp"
#include "smooth/platform.hpp"
#include "smooth/scheduler.hpp"
#include "smooth/storage.hpp"

namespace smooth::testing {

/// The clock every process uses: fixed, so that "now" (notice, horizon) is the same for all.
inline const ManualClock& FixedClock() {
  static const ManualClock clock(T0());
  return clock;
}

/// What one process of the test holds.
struct Stack {
  std::shared_ptr<Storage> storage;
  std::unique_ptr<Platform> platform;
  std::unique_ptr<Scheduler> scheduler;
};

/// A Platform (with cheap password hashing) and a Scheduler on `storage` and FixedClock().
inline Stack OpenStack(std::shared_ptr<Storage> storage) {
  Stack s;
  s.storage = std::move(storage);
  PlatformOptions o;
  o.storage = s.storage;
  o.clock = &FixedClock();
  o.password_cost = PasswordCost::InsecureForTests();
  s.platform = Must(Platform::Open(o));
  s.scheduler = Must(Scheduler::Open(*s.platform));
  return s;
}

/// The same on the storage at `url`, opened with the default options.
inline Stack OpenStack(const std::string& url) { return OpenStack(Must(OpenStorage(url))); }

}  // namespace smooth::testing
