// A bounded pool of database connections, the gate that serializes one database's writers
// within the process, and the watch that bounds a call's wait for its server. Each waits a
// bounded time and then fails with unavailable: an exhausted pool, a busy writer or a
// server that stopped answering never blocks a caller for ever.
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

/// Bounds how long a call waits for its database server (Connection::Waiting), so that a
/// server that stopped answering without ending the connection (a stopped process, a disk
/// that hangs: TCP keepalives see nothing wrong) fails the call instead of holding it for
/// ever. A call that has waited past `limit` is interrupted (Connection::Interrupt) by the
/// watch's thread: it fails as on a lost connection, and its pool closes the connection.
/// Checked about every second, so the cut comes up to a second late; the thread sleeps while
/// no call waits. Safe to share between threads and connections.
class ServerWatch {
 public:
  explicit ServerWatch(std::chrono::milliseconds limit);
  ~ServerWatch();
  ServerWatch(const ServerWatch&) = delete;
  ServerWatch& operator=(const ServerWatch&) = delete;

  /// Watches `c` from now until Stop(c).
  void Start(Connection& c);
  void Stop(Connection& c);

 private:
  void Run();

  const std::chrono::milliseconds limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Each waiting connection's deadline; guarded by mu_, as is an Interrupt() the thread
  // makes, so that once Stop() returns no interrupt can come.
  std::unordered_map<Connection*, std::chrono::steady_clock::time_point> watched_;
  bool sleeping_ = false;  // the thread waits for a first call; guarded by mu_
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
  SessionPool(std::string label, std::size_t size, std::chrono::milliseconds wait, Opener open,
              Checker alive = {});

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
    Lease(std::shared_ptr<State> state, std::unique_ptr<Connection> conn)
        : state_(std::move(state)), conn_(std::move(conn)) {}
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
