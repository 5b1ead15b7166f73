// A front for the test cluster's Unix socket that a test can cut, to make the network
// and server failures a long-running client meets, without touching the cluster others use:
// every connection made through it is forwarded byte for byte until the test drops them all
// at once (as a server that crashes or a network that resets does: the client hears no
// error message, only the end of the stream), refuses new ones (an outage), or lets them in
// and never answers (a host that has gone silent).
#pragma once

#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace smooth::testing {

class PgProxy {
 public:
  enum class Mode {
    kForward,  // connections are forwarded to the server
    kRefuse,   // a new connection is closed at once: the server is down
    kSilent,   // a new connection is accepted and never answered
  };

  /// Forwards to the server whose libpq conninfo is `conninfo` (its host= is the socket's
  /// directory and port= names the socket file, as tests/pg/pg_cluster.sh writes them).
  explicit PgProxy(const std::string& conninfo) {
    socket_path_ = fmt::format("{}/.s.PGSQL.{}", Value(conninfo, "host"), Value(conninfo, "port"));
    // A Unix socket of its own, as the cluster's: a write to one whose peer has gone fails
    // at once, as it does when the server itself goes.
    dir_ = "/tmp/smooth-proxy-XXXXXX";
    if (::mkdtemp(dir_.data()) == nullptr)
      throw std::runtime_error(fmt::format("proxy: mkdtemp: {}", std::strerror(errno)));
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = Address(fmt::format("{}/.s.PGSQL.5432", dir_));
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 64) != 0)
      throw std::runtime_error(fmt::format("proxy: cannot listen: {}", std::strerror(errno)));
    thread_ = std::thread([this] { Loop(); });
  }

  ~PgProxy() {
    stop_ = true;
    thread_.join();
    for (const Link& link : links_) Close(link);
    for (int fd : silent_) ::close(fd);
    ::close(listener_);
    ::unlink(fmt::format("{}/.s.PGSQL.5432", dir_).c_str());
    ::rmdir(dir_.c_str());
  }

  /// `conninfo` (the database's) reached through this proxy instead: libpq takes the last
  /// host= and port=.
  std::string Through(const std::string& conninfo) const {
    return fmt::format("{} host={} port=5432", conninfo, dir_);
  }

  /// Ends every connection made through the proxy at once, silent ones too, without a word
  /// to either side. Returns how many there were.
  int DropAll() { return Request(Job::kDrop); }

  /// Ends every connection as PostgreSQL's immediate shutdown does (pg_ctl stop -m
  /// immediate, or a crash of another backend): a WARNING to each client, then the end of
  /// the stream. Only while no statement is in flight, as the WARNING is a whole message.
  int ShutDownImmediately() { return Request(Job::kImmediate); }

  void SetMode(Mode mode) { mode_ = mode; }

  /// While frozen, nothing is forwarded either way on any connection, and none ends: as a
  /// server whose process is stopped, or stuck on a disk that does not answer, whose
  /// kernel keeps the connections open. Unfrozen, what was held back goes on.
  void Freeze(bool frozen) { frozen_ = frozen; }

 private:
  struct Link {
    int client;
    int server;
  };
  enum class Job { kNone, kDrop, kImmediate };

  static std::string Value(const std::string& conninfo, const std::string& key) {
    std::size_t at = conninfo.find(key + "=");
    if (at == std::string::npos) throw std::runtime_error("proxy: no " + key + "= in conninfo");
    at += key.size() + 1;
    return conninfo.substr(at, conninfo.find(' ', at) - at);
  }

  static void Close(const Link& link) {
    ::close(link.client);
    ::close(link.server);
  }

  // Runs `job` on the proxy's thread, which alone touches the sockets; its answer.
  int Request(Job job) {
    std::unique_lock lock(mu_);
    job_ = job;
    cv_.wait(lock, [this] { return job_ == Job::kNone; });
    return answer_;
  }

  // The NoticeResponse a backend sends its client when the server shuts down immediately.
  static void SendWarning(int client) {
    std::string fields;
    for (const auto& [code, value] :
         {std::pair<char, std::string>{'S', "WARNING"},
          {'V', "WARNING"},
          {'C', "57P01"},
          {'M', "terminating connection due to immediate shutdown command"}}) {
      fields += code;
      fields += value;
      fields += '\0';
    }
    fields += '\0';
    const std::uint32_t length = htonl(static_cast<std::uint32_t>(fields.size() + 4));
    std::string message = "N";
    message.append(reinterpret_cast<const char*>(&length), 4);
    message += fields;
    static_cast<void>(::write(client, message.data(), message.size()));
  }

  static sockaddr_un Address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    return addr;
  }

  int ConnectServer() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = Address(socket_path_);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }

  // Copies what `from` has to `to`; false once either side has ended.
  static bool Pump(int from, int to) {
    char buffer[16384];
    ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n <= 0) return false;
    for (ssize_t sent = 0; sent < n;) {
      ssize_t w = ::write(to, buffer + sent, n - sent);
      if (w <= 0) return false;
      sent += w;
    }
    return true;
  }

  void Loop() {
    while (!stop_) {
      {
        std::lock_guard lock(mu_);
        if (job_ != Job::kNone) {
          answer_ = static_cast<int>(links_.size() + silent_.size());
          if (job_ == Job::kDrop || job_ == Job::kImmediate) {
            for (const Link& link : links_) {
              if (job_ == Job::kImmediate) SendWarning(link.client);
              Close(link);
            }
            for (int fd : silent_) ::close(fd);
            links_.clear();
            silent_.clear();
          }
          job_ = Job::kNone;
          cv_.notify_all();
        }
      }
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      const short events = frozen_ ? 0 : POLLIN;  // frozen: a hang-up still shows
      for (const Link& link : links_) {
        fds.push_back({link.client, events, 0});
        fds.push_back({link.server, events, 0});
      }
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      std::vector<Link> kept;
      for (std::size_t i = 0; i < links_.size(); ++i) {
        const short client = fds[1 + 2 * i].revents, server = fds[2 + 2 * i].revents;
        bool alive = true;
        if (frozen_) {
          // Only a client that hung up ends its link: the server side stays silent.
          alive = (client & (POLLHUP | POLLERR)) == 0;
        } else {
          if (client != 0) alive = Pump(links_[i].client, links_[i].server);
          if (alive && server != 0) alive = Pump(links_[i].server, links_[i].client);
        }
        if (alive)
          kept.push_back(links_[i]);
        else
          Close(links_[i]);
      }
      links_ = std::move(kept);
      if (fds[0].revents & POLLIN) {
        int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        if (mode_ == Mode::kRefuse) {
          ::close(client);
        } else if (mode_ == Mode::kSilent) {
          silent_.push_back(client);
        } else if (int server = ConnectServer(); server >= 0) {
          links_.push_back({client, server});
        } else {
          ::close(client);
        }
      }
    }
  }

  std::string socket_path_;  // the server's
  std::string dir_;          // the proxy's socket's
  int listener_ = -1;
  std::atomic<Mode> mode_{Mode::kForward};
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::vector<Link> links_;  // only the proxy's thread touches these two
  std::vector<int> silent_;
  std::mutex mu_;
  std::condition_variable cv_;
  Job job_ = Job::kNone;  // guarded by mu_
  int answer_ = 0;        // guarded by mu_
  std::thread thread_;
};

}  // namespace smooth::testing
