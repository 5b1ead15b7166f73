// How the Scheduler lets Platform skip a read of the shared epoch it already has.
#pragma once

#include <cstdint>
#include <optional>

namespace smooth::internal {

/// While alive, tells Platform's actor checks on this thread that `epoch` is
/// Storage::SharedEpoch() as read after the current request began (by the statement that
/// began the request's write transaction), so they use it instead of reading it again.
/// Without a value it changes nothing. One per thread at a time; not movable.
class EpochHint {
 public:
  explicit EpochHint(std::optional<std::int64_t> epoch);
  ~EpochHint();
  EpochHint(const EpochHint&) = delete;
  EpochHint& operator=(const EpochHint&) = delete;

  /// The hint in force on this thread, if any.
  static std::optional<std::int64_t> Current();

 private:
  std::optional<std::int64_t> previous_;
};

}  // namespace smooth::internal
