// Status and Result<T>: how libsmooth reports success and failure as values.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <utility>

#include "smooth/status.hpp"

namespace {

using smooth::Result;
using smooth::Status;
using smooth::StatusCode;

Status FailWhen(bool fail) {
  if (fail) return smooth::NotFound("widget 7");
  return Status::Ok();
}

// Counts how far it got, to show that SMOOTH_RETURN_IF_ERROR stops at the first error.
Status TwoSteps(bool fail_first, int& steps) {
  SMOOTH_RETURN_IF_ERROR(FailWhen(fail_first));
  ++steps;
  SMOOTH_RETURN_IF_ERROR(FailWhen(false));
  ++steps;
  return Status::Ok();
}

Result<int> Half(int n) {
  if (n % 2 != 0) return smooth::InvalidArgument("n: must be even");
  return n / 2;
}

}  // namespace

TEST_CASE("a default Status is ok") {
  Status s;
  CHECK(s.ok());
  CHECK(s.code() == StatusCode::kOk);
  CHECK(s.message().empty());
  CHECK(s.ToString() == "ok");
  CHECK(Status::Ok() == Status());
}

TEST_CASE("every code has its snake_case name") {
  CHECK(smooth::StatusCodeName(StatusCode::kOk) == "ok");
  CHECK(smooth::StatusCodeName(StatusCode::kInvalidArgument) == "invalid_argument");
  CHECK(smooth::StatusCodeName(StatusCode::kUnauthenticated) == "unauthenticated");
  CHECK(smooth::StatusCodeName(StatusCode::kPermissionDenied) == "permission_denied");
  CHECK(smooth::StatusCodeName(StatusCode::kNotFound) == "not_found");
  CHECK(smooth::StatusCodeName(StatusCode::kAlreadyExists) == "already_exists");
  CHECK(smooth::StatusCodeName(StatusCode::kConflict) == "conflict");
  CHECK(smooth::StatusCodeName(StatusCode::kFailedPrecondition) == "failed_precondition");
  CHECK(smooth::StatusCodeName(StatusCode::kResourceExhausted) == "resource_exhausted");
  CHECK(smooth::StatusCodeName(StatusCode::kUnavailable) == "unavailable");
  CHECK(smooth::StatusCodeName(StatusCode::kInternal) == "internal");
  CHECK(smooth::StatusCodeName(StatusCode::kAborted) == "aborted");
}

TEST_CASE("each shorthand makes its own code and keeps the message") {
  const std::pair<Status, StatusCode> cases[] = {
      {smooth::InvalidArgument("m"), StatusCode::kInvalidArgument},
      {smooth::Unauthenticated("m"), StatusCode::kUnauthenticated},
      {smooth::PermissionDenied("m"), StatusCode::kPermissionDenied},
      {smooth::NotFound("m"), StatusCode::kNotFound},
      {smooth::AlreadyExists("m"), StatusCode::kAlreadyExists},
      {smooth::Conflict("m"), StatusCode::kConflict},
      {smooth::FailedPrecondition("m"), StatusCode::kFailedPrecondition},
      {smooth::ResourceExhausted("m"), StatusCode::kResourceExhausted},
      {smooth::Unavailable("m"), StatusCode::kUnavailable},
      {smooth::Internal("m"), StatusCode::kInternal},
      {smooth::Aborted("m"), StatusCode::kAborted},
  };
  for (const auto& [status, code] : cases) {
    CAPTURE(smooth::StatusCodeName(code));
    CHECK_FALSE(status.ok());
    CHECK(status.code() == code);
    CHECK(status.message() == "m");
  }
}

TEST_CASE("an error Status prints as '<code>: <message>'") {
  CHECK(smooth::PermissionDenied("staff may not edit tenants").ToString() ==
        "permission_denied: staff may not edit tenants");
  CHECK(smooth::Conflict("").ToString() == "conflict: ");
}

TEST_CASE("statuses are equal when code and message are") {
  CHECK(smooth::NotFound("a") == smooth::NotFound("a"));
  CHECK_FALSE(smooth::NotFound("a") == smooth::NotFound("b"));
  CHECK_FALSE(smooth::NotFound("a") == smooth::AlreadyExists("a"));
}

TEST_CASE("a Result holding a value") {
  Result<int> r = Half(8);
  REQUIRE(r.has_value());
  CHECK(static_cast<bool>(r));
  CHECK(r.ok());
  CHECK(r.value() == 4);
  CHECK(*r == 4);
  CHECK(r.status().ok());

  Result<std::string> s = std::string("abc");
  CHECK(s->size() == 3);
  *s += "d";
  CHECK(s.value() == "abcd");
}

TEST_CASE("a Result holding an error") {
  Result<int> r = Half(7);
  CHECK_FALSE(r.has_value());
  CHECK_FALSE(static_cast<bool>(r));
  CHECK_FALSE(r.ok());
  CHECK(r.error().code() == StatusCode::kInvalidArgument);
  CHECK(r.error().message() == "n: must be even");
  CHECK(r.status() == r.error());
}

TEST_CASE("a Result can hold a move-only value") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(42);
  REQUIRE(r);
  CHECK(**r == 42);
  std::unique_ptr<int> taken = std::move(r).value();
  REQUIRE(taken != nullptr);
  CHECK(*taken == 42);

  Result<std::unique_ptr<int>> moved =
      std::move(*Result<std::unique_ptr<int>>(std::make_unique<int>(7)));
  REQUIRE(moved);
  CHECK(**moved == 7);

  Result<std::unique_ptr<int>> error = smooth::Unavailable("no");
  CHECK(error.error().code() == StatusCode::kUnavailable);
}

TEST_CASE("SMOOTH_RETURN_IF_ERROR returns the first error and continues on ok") {
  int steps = 0;
  CHECK(TwoSteps(false, steps).ok());
  CHECK(steps == 2);

  steps = 0;
  Status s = TwoSteps(true, steps);
  CHECK(s == smooth::NotFound("widget 7"));
  CHECK(steps == 0);
}
