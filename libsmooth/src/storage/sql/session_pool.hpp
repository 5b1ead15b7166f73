// A bounded pool of database connections, and the gate that serializes one database's
// writers within the process. Both wait a bounded time and then fail with unavailable:
// an exhausted pool never blocks forever.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "smooth/status.hpp"
#include "storage/sql/connection.hpp"

namespace smooth::internal::sql {

/// Bounds how long a connection may be held, so that a call to a server that stopped
/// answering without ending the connection (a stopped process, a disk that hangs: TCP
/// keepalives see nothing wrong) fails instead of waiting for ever. A connection watched
/// past `limit` is interrupted (Connection::Interrupt) by the watch's thread: the call
/// under it fails as on a lost connection, and its pool closes it. Checked about every
/// second, so the cut comes up to a second late. Safe to share between threads and pools.
class LeaseWatch {
 public:
  explicit LeaseWatch(std::chrono::milliseconds limit);
  ~LeaseWatch();
  LeaseWatch(const LeaseWatch&) = delete;
  LeaseWatch& operator=(const LeaseWatch&) = delete;

  /// Watches `c` (interruptible) from now until Stop(c).
  void Start(Connection& c);
  void Stop(Connection& c);

  std::chrono::milliseconds limit() const { return limit_; }

 private:
  void Run();

  const std::chrono::milliseconds limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Each watched connection's deadline; guarded by mu_, as is an Interrupt() the thread
  // makes, so that Stop() returns only once no interrupt can come.
  std::unordered_map<Connection*, std::chrono::steady_clock::time_point> watched_;
  bool sleeping_ = false;  // the thread waits for a first connection; guarded by mu_
  bool stop_ = false;      // guarded by mu_
  std::thread thread_;
};

/// Up to `size` connections to one database, opened on demand by `open`. Safe to share
/// between threads. A Lease returns its connection on destruction (or closes it when it
/// was marked broken); leases may outlive the pool object.
class SessionPool {
 public:
  using Opener = std::function<Result<std::unique_ptr<Connection>>()>;
  /// Whether an idle connection is still usable, judged without a round trip (a server
  /// restarted, or ending the connection, while it sat in the pool). Must not block.
  using Checker = std::function<bool(Connection&)>;

  /// With `alive`, an idle connection it rejects is closed instead of being handed out.
  /// With `watch`, every lease is watched by it, from Acquire to its release.
  SessionPool(std::string label, std::size_t size, std::chrono::milliseconds wait, Opener open,
              Checker alive = {}, std::shared_ptr<LeaseWatch> watch = nullptr);

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }
    explicit operator bool() const { return conn_ != nullptr; }

   private:
    friend class SessionPool;
    struct State;
    Lease(std::shared_ptr<State> state, std::unique_ptr<Connection> conn);
    void Release();

    std::shared_ptr<State> state_;
    std::unique_ptr<Connection> conn_;
  };

  /// A connection: an idle one (that `alive` accepts), a newly opened one while fewer than
  /// `size` are open, or one given back within `wait`; unavailable otherwise.
  Result<Lease> Acquire();

  /// Adds an already-open connection as idle, when there is room (else closes it).
  void Offer(std::unique_ptr<Connection> conn);

  /// Whether no connection is leased out (each open one is idle in the pool).
  bool Idle() const;

  const std::string& label() const;

 private:
  std::shared_ptr<Lease::State> state_;
};

/// Serializes the writers of one database inside the process, so they queue fairly here
/// instead of polling the database's lock (SQLite's busy handler sleeps). Other
/// processes are still excluded by the database itself. Safe to share between threads; a
/// Ticket may be released on another thread than the one that took it.
class WriteGate {
 public:
  explicit WriteGate(std::string label);

  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&&) noexcept = default;
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();

   private:
    friend class WriteGate;
    struct State;
    explicit Ticket(std::shared_ptr<State> state) : state_(std::move(state)) {}
    void Release();
    std::shared_ptr<State> state_;
  };

  /// The gate, or unavailable after `timeout`.
  Result<Ticket> Acquire(std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<Ticket::State> state_;
};

}  // namespace smooth::internal::sql
