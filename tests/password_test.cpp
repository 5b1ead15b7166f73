// Password hashing: argon2id at the configured cost, verification, and the dummy hash.
#include <doctest/doctest.h>

#include <string>

#include "access/password.hpp"

namespace {

using smooth::PasswordCost;
using smooth::StatusCode;
using smooth::internal::DummyHash;
using smooth::internal::HashPassword;
using smooth::internal::VerifyPassword;

const PasswordCost kFast = PasswordCost::InsecureForTests();

}  // namespace

TEST_CASE("the default cost is argon2id with OWASP's 19 MiB and 2 passes") {
  auto hash = HashPassword("correct horse battery staple", PasswordCost::Default());
  REQUIRE(hash);
  CAPTURE(*hash);
  CHECK(hash->starts_with("$argon2id$"));
  CHECK(hash->find("m=19456") != std::string::npos);
  CHECK(hash->find("t=2") != std::string::npos);
  CHECK(VerifyPassword(*hash, "correct horse battery staple"));
}

TEST_CASE("a hash verifies its own password and no other") {
  auto hash = HashPassword("open sesame", kFast);
  REQUIRE(hash);
  CHECK(hash->starts_with("$argon2id$"));
  CHECK(VerifyPassword(*hash, "open sesame"));
  CHECK_FALSE(VerifyPassword(*hash, "open sesamE"));
  CHECK_FALSE(VerifyPassword(*hash, "open sesame "));
  CHECK_FALSE(VerifyPassword(*hash, ""));
}

TEST_CASE("the same password hashes differently each time (random salt)") {
  auto a = HashPassword("same password", kFast);
  auto b = HashPassword("same password", kFast);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != *b);
  CHECK(VerifyPassword(*a, "same password"));
  CHECK(VerifyPassword(*b, "same password"));
}

TEST_CASE("long passwords are not truncated") {
  std::string password(1024, 'p');
  auto hash = HashPassword(password, kFast);
  REQUIRE(hash);
  CHECK(VerifyPassword(*hash, password));
  std::string last_byte_differs = password;
  last_byte_differs.back() = 'q';
  CHECK_FALSE(VerifyPassword(*hash, last_byte_differs));
}

TEST_CASE("the password length rule applies before hashing") {
  auto short_pw = HashPassword("1234567", kFast);
  REQUIRE_FALSE(short_pw);
  CHECK(short_pw.error().code() == StatusCode::kInvalidArgument);
  CHECK(short_pw.error().message().starts_with("password: "));

  auto long_pw = HashPassword(std::string(1025, 'x'), kFast);
  REQUIRE_FALSE(long_pw);
  CHECK(long_pw.error().code() == StatusCode::kInvalidArgument);
  CHECK(long_pw.error().message().starts_with("password: "));

  // The edges of 8..1024 bytes are allowed.
  auto shortest = HashPassword("12345678", kFast);
  REQUIRE(shortest);
  CHECK(VerifyPassword(*shortest, "12345678"));
  CHECK(HashPassword(std::string(1024, 'x'), kFast));
}

TEST_CASE("a malformed hash never verifies") {
  for (const std::string& bad :
       {std::string(), std::string("not a hash"), std::string("$argon2id$"),
        std::string("$argon2id$v=19$m=8,t=1,p=1$garbage$garbage"), std::string(500, '$')}) {
    CAPTURE(bad);
    CHECK_FALSE(VerifyPassword(bad, "whatever password"));
  }
  auto hash = HashPassword("open sesame", kFast);
  REQUIRE(hash);
  std::string truncated = hash->substr(0, hash->size() - 4);
  CHECK_FALSE(VerifyPassword(truncated, "open sesame"));
}

TEST_CASE("the insecure test cost is libsodium's minimum") {
  auto hash = HashPassword("quick for tests", kFast);
  REQUIRE(hash);
  CHECK(hash->find("m=8,") != std::string::npos);  // 8192 bytes is 8 KiB
  CHECK(hash->find("t=1,") != std::string::npos);
}

TEST_CASE("a cost below libsodium's minimum is refused naming password_cost") {
  auto no_passes = HashPassword("long enough", PasswordCost{0, 8192});
  REQUIRE_FALSE(no_passes);
  CHECK(no_passes.error().code() == StatusCode::kInvalidArgument);
  CHECK(no_passes.error().message().starts_with("password_cost: "));

  auto too_little_memory = HashPassword("long enough", PasswordCost{1, 1024});
  REQUIRE_FALSE(too_little_memory);
  CHECK(too_little_memory.error().code() == StatusCode::kInvalidArgument);
  CHECK(too_little_memory.error().message().starts_with("password_cost: "));
}

TEST_CASE("the dummy hash is computed once per cost and matches no likely password") {
  const std::string& a = DummyHash(kFast);
  const std::string& b = DummyHash(kFast);
  CHECK(&a == &b);
  CHECK(a.starts_with("$argon2id$"));
  CHECK_FALSE(VerifyPassword(a, "password"));
  CHECK_FALSE(VerifyPassword(a, ""));

  const std::string& other = DummyHash(PasswordCost{1, 16384});
  CHECK(&other != &a);
  CHECK(other.find("m=16,") != std::string::npos);
  CHECK(&DummyHash(kFast) == &a);  // still valid after the cache grew
}
