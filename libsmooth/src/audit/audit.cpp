// The audit trail: serializing records as JSON lines, and the memory and file sinks.
#include "smooth/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/utf8.hpp"

namespace smooth {
namespace {

// Key fragments that suggest a credential. Callers must never log credentials; refusing
// such keys catches the mistake in tests instead of in a leaked log.
constexpr std::string_view kForbiddenKeyParts[] = {"password", "token", "secret", "hash"};

bool ContainsIgnoringCase(std::string_view haystack, std::string_view needle) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [&](char a, char b) { return lower(a) == lower(b); }) != haystack.end();
}

// Checks what the serializer cannot: no credential-looking keys, and no key that would
// repeat "timestamp", "action" or another field (readers disagree on which duplicate
// wins, so a duplicate makes a line ambiguous).
Status CheckRecord(const AuditRecord& record) {
  for (std::size_t i = 0; i < record.fields.size(); ++i) {
    const std::string& key = record.fields[i].first;
    for (std::string_view part : kForbiddenKeyParts) {
      if (ContainsIgnoringCase(key, part)) {
        return InvalidArgument(fmt::format(
            "audit field '{}': keys containing '{}' are refused so credentials are never logged",
            key, part));
      }
    }
    if (key == "timestamp" || key == "action") {
      return InvalidArgument(fmt::format("audit field '{}': the key is reserved", key));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (record.fields[j].first == key) {
        return InvalidArgument(fmt::format("audit field '{}': the key appears twice", key));
      }
    }
  }
  return Status::Ok();
}

boost::json::value ToJson(const AuditValue& value) {
  return std::visit(
      [](const auto& v) -> boost::json::value {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, std::string>) {
          // Boost.JSON copies bytes as they are: text from outside (an email, an IP
          // address, a reason) that is not UTF-8 would make the line unreadable as JSON.
          return boost::json::string(internal::ToValidUtf8(v));
        } else {
          return v;  // bool or std::int64_t
        }
      },
      value);
}

// std::strerror may share a static buffer between threads; the error category does not.
std::string ErrnoText(int error) { return std::generic_category().message(error); }

}  // namespace

std::string AuditRecord::ToJsonLine() const {
  boost::json::object object;
  object.reserve(2 + fields.size());
  object.emplace("timestamp", FormatRfc3339(timestamp));
  object.emplace("action", internal::ToValidUtf8(action));
  // emplace keeps the first value for a repeated key, so a field can never replace
  // "timestamp" or "action"; the sinks refuse such records outright.
  for (const auto& [key, value] : fields) object.emplace(internal::ToValidUtf8(key), ToJson(value));
  // Boost.JSON escapes quotes, backslashes and every control character, so the result
  // never contains a raw newline and user data cannot end the line or forge a field.
  return boost::json::serialize(object);
}

Status MemoryAuditSink::Append(const AuditRecord& record) {
  SMOOTH_RETURN_IF_ERROR(CheckRecord(record));
  std::string line = record.ToJsonLine();
  std::lock_guard<std::mutex> lock(mu_);
  lines_.push_back(std::move(line));
  return Status::Ok();
}

std::vector<std::string> MemoryAuditSink::Lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::size_t MemoryAuditSink::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_.size();
}

void MemoryAuditSink::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.clear();
}

namespace {

// Opens (creating it 0600) the log file at `path` for appending, as FileAuditSink::Open
// describes; returns its descriptor.
Result<int> OpenLogFile(const std::string& path) {
  int fd;
  do {
    // O_NOFOLLOW: a symbolic link put where the log should be would have the records
    // appended to (and its target made 0600) whatever file it names.
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    return Unavailable(fmt::format("audit log {}: open: {}", path, ErrnoText(errno)));
  }

  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return Internal(fmt::format("audit log {}: fstat: {}", path, ErrnoText(error)));
  }
  // The mode passed to open() applies only when the file is created; an existing log that
  // others can read is tightened. Only regular files: chmod on a device such as /dev/null
  // would change it for the whole system.
  if (S_ISREG(st.st_mode) && (st.st_mode & 0777 & ~0600) != 0 && ::fchmod(fd, 0600) != 0) {
    const int error = errno;
    ::close(fd);
    return Internal(fmt::format("audit log {}: fchmod 0600: {}", path, ErrnoText(error)));
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<FileAuditSink>> FileAuditSink::Open(const std::string& path,
                                                           FileAuditSinkOptions options) {
  auto fd = OpenLogFile(path);
  if (!fd) return fd.error();
  return std::unique_ptr<FileAuditSink>(new FileAuditSink(*fd, path, options));
}

Status FileAuditSink::Reopen() {
  auto fd = OpenLogFile(path_);
  if (!fd) return fd.error();
  int old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = fd_;
    fd_ = *fd;
  }
  ::close(old);
  return {};
}

FileAuditSink::FileAuditSink(int fd, std::string path, FileAuditSinkOptions options)
    : fd_(fd), path_(std::move(path)), options_(options) {}

FileAuditSink::~FileAuditSink() {
  // close() is not retried on EINTR: on Linux the descriptor is released regardless.
  ::close(fd_);
}

Status FileAuditSink::Append(const AuditRecord& record) {
  SMOOTH_RETURN_IF_ERROR(CheckRecord(record));
  std::string line = record.ToJsonLine();
  line += '\n';

  std::lock_guard<std::mutex> lock(mu_);
  // One write(2) per line: with O_APPEND each write lands atomically at the end of the
  // file, so lines from other processes sharing the log do not interleave. The loop only
  // matters for a partial write (a full disk, a signal), where finishing the line is the
  // best that can be done.
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable(fmt::format("audit log {}: write: {}", path_, ErrnoText(errno)));
    }
    if (n == 0) {
      return Internal(fmt::format("audit log {}: write made no progress", path_));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (options_.fsync_each_line) {
    int rc;
    do {
      rc = ::fsync(fd_);
    } while (rc != 0 && errno == EINTR);
    // EINVAL: a pipe or terminal, which has nothing to flush to stable storage.
    if (rc != 0 && errno != EINVAL) {
      return Unavailable(fmt::format("audit log {}: fsync: {}", path_, ErrnoText(errno)));
    }
  }
  return Status::Ok();
}

}  // namespace smooth
