// Child processes for the tests that need more than one process (concurrency, durability)
// or that run a built tool (admin CLI): spawning with extra environment and a captured
// stdout, waiting with a deadline, and a watchdog that turns a hang into a failure.
#pragma once

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace smooth::testing {

/// The running test executable, for re-executing it as a child.
inline std::string SelfExe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

/// A spawned process. Its stdout (and stderr, unless `stderr_path` was given) comes through
/// `out_fd` when it was captured.
struct ChildProcess {
  pid_t pid = -1;
  int out_fd = -1;  // read end of the child's stdout; -1 when not captured
};

struct SpawnOptions {
  /// Added to (or replacing in) this process's environment.
  std::map<std::string, std::string> env;
  /// Capture stdout (and stderr, unless `log_path`) through a pipe.
  bool capture = false;
  /// Write the child's stdout and stderr to this file instead (when not capturing stdout,
  /// both go there; when capturing, only stderr).
  std::optional<std::string> log_path;
  /// Fed to the child's stdin, which is otherwise /dev/null.
  std::optional<std::string> stdin_text;
};

/// Starts `argv[0]` with `argv`. Fails the test when it cannot.
inline ChildProcess Spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {}) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    if (!options.env.contains(key)) env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int out_pipe[2] = {-1, -1};
  int in_pipe[2] = {-1, -1};
  if (options.capture) {
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    if (!options.log_path) posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
  }
  if (options.log_path) {
    posix_spawn_file_actions_addopen(&actions, 2, options.log_path->c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!options.capture) posix_spawn_file_actions_adddup2(&actions, 2, 1);
  }
  if (options.stdin_text) {
    REQUIRE(::pipe2(in_pipe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) FAIL("cannot spawn " << argv[0] << ": " << std::strerror(rc));
  ChildProcess child{pid, -1};
  if (options.capture) {
    ::close(out_pipe[1]);
    child.out_fd = out_pipe[0];
  }
  if (options.stdin_text) {
    // Small inputs only (a password): they fit in the pipe buffer, so this cannot block.
    // Written while this process still holds the read end too: a child that exits without
    // reading (it refused its arguments, say) must not make the write raise SIGPIPE.
    const std::string& text = *options.stdin_text;
    ssize_t written = ::write(in_pipe[1], text.data(), text.size());
    CHECK(written == static_cast<ssize_t>(text.size()));
    ::close(in_pipe[1]);
    ::close(in_pipe[0]);
  }
  return child;
}

/// Reads whatever `fd` delivers until EOF or `deadline`; returns it.
inline std::string ReadAll(int fd, std::chrono::steady_clock::time_point deadline) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

/// Waits for `pid`; its exit code, or 128 + the signal that ended it.
inline int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/// What a finished command printed (stdout and stderr together) and its exit code.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

/// Runs a command to completion (at most `timeout`, then SIGKILL and a failed test).
inline CommandResult RunCommand(const std::vector<std::string>& argv,
                                std::optional<std::string> stdin_text = std::nullopt,
                                std::chrono::seconds timeout = std::chrono::seconds(120)) {
  SpawnOptions options;
  options.capture = true;
  options.stdin_text = std::move(stdin_text);
  ChildProcess child = Spawn(argv, options);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  CommandResult result;
  result.output = ReadAll(child.out_fd, deadline);
  ::close(child.out_fd);
  if (std::chrono::steady_clock::now() >= deadline) {
    ::kill(child.pid, SIGKILL);
    WaitExit(child.pid);
    FAIL("command timed out after " << timeout.count() << " s: " << argv[0]);
  }
  result.exit_code = WaitExit(child.pid);
  return result;
}

/// Aborts the whole test program with a clear message if it is still alive after
/// `limit`: a deadlock must fail the test, not hang it. Kills the registered children
/// first so none is left behind.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, std::string what)
      : what_(std::move(what)), thread_([this, limit] { Run(limit); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void Watch(pid_t child) {
    std::lock_guard lock(mu_);
    children_.push_back(child);
  }

 private:
  void Run(std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
    std::fprintf(stderr,
                 "WATCHDOG: '%s' still running after %lld s: deadlock or livelock; aborting\n",
                 what_.c_str(), static_cast<long long>(limit.count()));
    for (pid_t pid : children_) ::kill(pid, SIGKILL);
    std::fflush(stderr);
    std::abort();
  }

  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;              // guarded by mu_
  std::vector<pid_t> children_;    // guarded by mu_
  std::thread thread_;             // last: starts once the rest is ready
};

}  // namespace smooth::testing
