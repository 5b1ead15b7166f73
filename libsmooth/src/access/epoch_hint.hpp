// How the Scheduler lets Platform skip reads of the shared epoch: one read serves a request.
#pragma once

#include <cstdint>
#include <optional>

namespace smooth::internal {

/// While alive, tells Platform's actor checks on this thread which Storage::SharedEpoch()
/// to judge the actor by, instead of reading it for every check. Hints nest: the innermost
/// one with an epoch is in force. Not movable; destroyed in the reverse order of creation,
/// as locals are.
class EpochHint {
 public:
  /// `epoch` is the shared epoch as read after the current request began (by the statement
  /// that began the request's write transaction). Without a value it changes nothing.
  explicit EpochHint(std::optional<std::int64_t> epoch);
  /// For a whole request: the first check that has to read the epoch keeps what it read
  /// (Keep), and the checks after it, on this thread and while this hint lives, use that.
  /// So a request makes its decisions at one moment after it began, with one read however
  /// many checks it makes. Changes nothing when an epoch is in force already.
  EpochHint();
  ~EpochHint();
  EpochHint(const EpochHint&) = delete;
  EpochHint& operator=(const EpochHint&) = delete;

  /// The epoch in force on this thread, if any.
  static std::optional<std::int64_t> Current();
  /// Called with an epoch just read: kept when a request-wide hint is waiting for one.
  static void Keep(std::int64_t epoch);

 private:
  struct State {
    std::optional<std::int64_t> epoch;
    bool waiting = false;  // a request-wide hint is waiting for its first read
  };
  static State& Here();
  State previous_;
};

}  // namespace smooth::internal
