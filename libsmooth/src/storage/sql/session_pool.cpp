// The bounded connection pool, the in-process write gate and the server watch.
#include "storage/sql/session_pool.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace smooth::internal::sql {

ServerWatch::ServerWatch(std::chrono::milliseconds limit)
    : limit_(limit), thread_([this] { Run(); }) {}

ServerWatch::~ServerWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ServerWatch::Start(Connection& c) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    watched_[&c] = std::chrono::steady_clock::now() + limit_;
    wake = std::exchange(sleeping_, false);
  }
  // Only a thread that had nothing to watch is woken: otherwise it looks again within a
  // second anyway, and every call must not cost a thread switch.
  if (wake) cv_.notify_all();
}

void ServerWatch::Stop(Connection& c) {
  std::lock_guard lock(mu_);
  watched_.erase(&c);
}

Connection::Waiting::Waiting(Connection& c) : c_(c) {
  if (c_.watch_ && c_.waiting_++ == 0) c_.watch_->Start(c_);
}

Connection::Waiting::~Waiting() {
  if (c_.watch_ && --c_.waiting_ == 0) c_.watch_->Stop(c_);
}

void ServerWatch::Run() {
  // Every deadline is `limit_` after its start, so none is missed by more than the period.
  const auto period =
      std::min<std::chrono::steady_clock::duration>(limit_, std::chrono::seconds(1));
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (watched_.empty()) {
      sleeping_ = true;
      cv_.wait(lock, [this] { return stop_ || !sleeping_; });
      continue;
    }
    cv_.wait_for(lock, period, [this] { return stop_; });
    const auto now = std::chrono::steady_clock::now();
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (it->second <= now) {
        it->first->Interrupt();
        it = watched_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

// ----------------------------------------------------------------------------------------

struct SessionPool::Lease::State {
  std::string label;
  std::size_t size;
  std::chrono::milliseconds wait;
  Opener open;
  Checker alive;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Connection>> idle;  // guarded by mu
  std::size_t open_count = 0;                     // leased + idle; guarded by mu
};

SessionPool::SessionPool(std::string label, std::size_t size, std::chrono::milliseconds wait,
                         Opener open, Checker alive)
    : state_(std::make_shared<Lease::State>()) {
  state_->label = std::move(label);
  state_->size = size;
  state_->wait = wait;
  state_->open = std::move(open);
  state_->alive = std::move(alive);
}

const std::string& SessionPool::label() const { return state_->label; }

Result<SessionPool::Lease> SessionPool::Acquire() {
  Lease::State& s = *state_;
  auto deadline = std::chrono::steady_clock::now() + s.wait;
  std::unique_lock lock(s.mu);
  for (;;) {
    if (!s.idle.empty()) {
      std::unique_ptr<Connection> conn = std::move(s.idle.back());
      s.idle.pop_back();
      if (!s.alive) return Lease(state_, std::move(conn));
      lock.unlock();  // counted as open, and no one else's: checked and closed unlocked
      if (s.alive(*conn)) return Lease(state_, std::move(conn));
      conn.reset();  // dead while idle: the next idle one, or a new one, instead
      lock.lock();
      --s.open_count;
      continue;
    }
    if (s.open_count < s.size) {
      ++s.open_count;
      lock.unlock();
      Result<std::unique_ptr<Connection>> conn = s.open();
      if (!conn) {
        lock.lock();
        --s.open_count;
        s.cv.notify_one();
        return conn.error();
      }
      return Lease(state_, std::move(*conn));
    }
    if (s.cv.wait_until(lock, deadline) == std::cv_status::timeout && s.idle.empty() &&
        s.open_count >= s.size) {
      return Unavailable(fmt::format("{}: all {} connections are in use (waited {} ms)", s.label,
                                     s.size, s.wait.count()));
    }
  }
}

void SessionPool::Offer(std::unique_ptr<Connection> conn) {
  Lease::State& s = *state_;
  std::lock_guard lock(s.mu);
  if (s.open_count >= s.size) return;
  ++s.open_count;
  s.idle.push_back(std::move(conn));
  s.cv.notify_one();
}

bool SessionPool::Idle() const {
  Lease::State& s = *state_;
  std::lock_guard lock(s.mu);
  return s.idle.size() == s.open_count;
}

SessionPool::Lease& SessionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    state_ = std::move(other.state_);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

SessionPool::Lease::~Lease() { Release(); }

void SessionPool::Lease::Release() {
  if (!state_ || !conn_) return;
  std::unique_ptr<Connection> closing;
  {
    std::lock_guard lock(state_->mu);
    if (conn_->broken()) {
      --state_->open_count;
      closing = std::move(conn_);  // closed outside the lock
    } else {
      state_->idle.push_back(std::move(conn_));
    }
    state_->cv.notify_one();
  }
  state_.reset();
}

// ----------------------------------------------------------------------------------------

struct WriteGate::Ticket::State {
  std::string label;
  std::mutex mu;
  std::condition_variable cv;
  bool held = false;  // guarded by mu
};

WriteGate::WriteGate(std::string label) : state_(std::make_shared<Ticket::State>()) {
  state_->label = std::move(label);
}

Result<WriteGate::Ticket> WriteGate::Acquire(std::chrono::milliseconds timeout) {
  Ticket::State& s = *state_;
  std::unique_lock lock(s.mu);
  if (!s.cv.wait_for(lock, timeout, [&s] { return !s.held; }))
    return Unavailable(
        fmt::format("{}: busy with another writer (waited {} ms)", s.label, timeout.count()));
  s.held = true;
  return Ticket(state_);
}

WriteGate::Ticket& WriteGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    state_ = std::move(other.state_);
  }
  return *this;
}

WriteGate::Ticket::~Ticket() { Release(); }

void WriteGate::Ticket::Release() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mu);
    state_->held = false;
  }
  state_->cv.notify_one();
  state_.reset();
}

}  // namespace smooth::internal::sql
