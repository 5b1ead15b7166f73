// Status and Result<T>: how every public libsmooth call reports success or failure.
// Exceptions never cross the public API; errors travel as values.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace smooth {

/// Error categories, with Abseil's meanings: `unauthenticated` when we do not know who
/// you are, `permission_denied` when we do and the answer is no, `conflict` for booking
/// clashes and stale versions.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kAlreadyExists,
  kConflict,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kInternal,
  /// Abandoned because what it was decided against changed before it could be saved (a
  /// write prepared against a tenant state another writer has since moved on): nothing
  /// was written, and trying again decides afresh. The Scheduler retries these itself.
  kAborted,
};

/// The snake_case name of a code, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

/// The outcome of an operation that returns no value. Cheap to copy when ok.
///
///     smooth::Status s = platform.Logout(session_id);
///     if (!s.ok()) fmt::print("{}\n", s.ToString());
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// "ok" or "<code>: <message>".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Shorthands that read well at the point of failure.
inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }

/// A value or the Status explaining why there is none; shaped like C++23 std::expected
/// (has_value, value, error, operator*, operator->) so it can become one later.
///
///     smooth::Result<smooth::Tenant> t = platform.CreateTenant(actor, spec);
///     if (!t) return t.error();
///     use(t->slug);
template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "use Status for Result<void>");

  Result(const T& value) : v_(value) {}                  // NOLINT: implicit like expected
  Result(T&& value) : v_(std::move(value)) {}            // NOLINT
  Result(Status status) : v_(std::move(status)) {        // NOLINT
    assert(!std::get<Status>(v_).ok() && "a Result cannot hold an ok Status");
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  bool ok() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; only valid when !has_value().
  const Status& error() const { assert(!has_value()); return std::get<1>(v_); }

  /// Ok when a value is present, else the error.
  Status status() const { return has_value() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace smooth

/// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define SMOOTH_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::smooth::Status smooth_status_ = (expr);     \
    if (!smooth_status_.ok()) return smooth_status_; \
  } while (0)
