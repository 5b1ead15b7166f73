// The audit trail: JSON lines for security.log and masquerade.log.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "smooth/status.hpp"
#include "smooth/time.hpp"

namespace smooth {

/// One value in an audit record. Null is written as JSON null.
using AuditValue = std::variant<std::nullptr_t, bool, std::int64_t, std::string>;

/// One audit event. Serialized as a single JSON object on one line, with `timestamp`
/// (RFC 3339 UTC, `Z`) and `action` first and then `fields` in order. The serializer
/// escapes everything, so user data holding quotes or newlines cannot forge a line.
/// Never put a password, password hash or bearer token in a record.
struct AuditRecord {
  Instant timestamp;
  std::string action;  // e.g. "HIJACK_START", "LOGIN_FAILED", "GRANT_CREATED"
  std::vector<std::pair<std::string, AuditValue>> fields;

  /// The JSON line, without the trailing newline.
  std::string ToJsonLine() const;
};

/// Where audit records go. Implementations must be safe to call from several threads.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  /// Appends one record. A failure is reported but never undoes the audited operation.
  virtual Status Append(const AuditRecord& record) = 0;
};

/// Keeps records in memory; for tests. Thread-safe. Like FileAuditSink, its Append refuses
/// (invalid_argument, writing nothing) a record with a key containing "password", "token",
/// "secret" or "hash" in any case, a key "timestamp" or "action", or a key given twice.
class MemoryAuditSink final : public AuditSink {
 public:
  Status Append(const AuditRecord& record) override;
  /// The serialized lines so far, oldest first.
  std::vector<std::string> Lines() const;
  std::size_t size() const;
  void Clear();

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;  // guarded by mu_
};

struct FileAuditSinkOptions {
  /// fsync after every line. Off by default: each line is still written with one
  /// write(2) to an O_APPEND file, so a process crash loses nothing already appended;
  /// turn it on to survive power loss too.
  bool fsync_each_line = false;
};

/// Appends JSON lines to a file opened O_APPEND, created with mode 0600 (an existing one
/// is tightened to 0600). A symbolic link at `path` is refused. Each line is written with
/// a single write(2) call. Thread-safe. Append refuses the records MemoryAuditSink refuses.
/// A failed open(2), write(2) or fsync(2) is unavailable.
class FileAuditSink final : public AuditSink {
 public:
  static Result<std::unique_ptr<FileAuditSink>> Open(const std::string& path,
                                                     FileAuditSinkOptions options = {});
  ~FileAuditSink() override;
  FileAuditSink(const FileAuditSink&) = delete;
  FileAuditSink& operator=(const FileAuditSink&) = delete;

  Status Append(const AuditRecord& record) override;

  /// Opens the path again, as Open does, and appends there from now on: for log rotation
  /// that moves the file away (logrotate's default `create`; call it on SIGHUP, say, after
  /// the move). Until then, lines go to the file that was moved. When the open fails, the
  /// sink keeps its file and the error is returned. Thread-safe with Append. The path is
  /// the one given to Open: a relative one is resolved against the working directory of the
  /// moment, so give an absolute path to a process that changes directory.
  Status Reopen();

 private:
  FileAuditSink(int fd, std::string path, FileAuditSinkOptions options);
  std::mutex mu_;
  int fd_;  // guarded by mu_
  std::string path_;
  FileAuditSinkOptions options_;
};

}  // namespace smooth
