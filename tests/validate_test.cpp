// Validation of emails, slugs, domain names, passwords and text: every rule, both ways.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "access/validate.hpp"

namespace {

using smooth::StatusCode;
using smooth::internal::NormalizeDomainName;
using smooth::internal::NormalizeEmail;
using smooth::internal::ValidatePassword;
using smooth::internal::ValidateSlug;
using smooth::internal::ValidateStorable;
using smooth::internal::ValidateText;

// A refusal is invalid_argument and its message starts with "<field>: ".
void CheckRefused(const smooth::Status& s, std::string_view field) {
  CAPTURE(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().starts_with(std::string(field) + ": "));
}

template <typename T>
void CheckRefused(const smooth::Result<T>& r, std::string_view field) {
  REQUIRE_FALSE(r.has_value());
  CheckRefused(r.error(), field);
}

std::string Repeat(char c, std::size_t n) { return std::string(n, c); }

}  // namespace

// --- Emails -------------------------------------------------------------------------------

TEST_CASE("an email is trimmed and lower-cased") {
  auto r = NormalizeEmail("  Alice@Example.COM ");
  REQUIRE(r);
  CHECK(*r == "alice@example.com");
}

TEST_CASE("ordinary email addresses are accepted") {
  for (std::string_view ok : {"a@b.co", "first.last+tag@mail.example.org", "o'brien@example.ie",
                              "x_y-z!#$%&*/=?^`{|}~@sub.example.com", "\tbob@example.com\n"}) {
    CAPTURE(ok);
    CHECK(NormalizeEmail(ok).has_value());
  }
}

TEST_CASE("email refusals name the field") {
  CheckRefused(NormalizeEmail(""), "email");
  CheckRefused(NormalizeEmail(" \t\n "), "email");
  CheckRefused(NormalizeEmail("alice.example.com"), "email");
  CheckRefused(NormalizeEmail("alice@bob@example.com"), "email");
  CheckRefused(NormalizeEmail("@example.com"), "email");
  CheckRefused(NormalizeEmail("alice@"), "email");
  CheckRefused(NormalizeEmail("alice@localhost"), "email");
  CheckRefused(NormalizeEmail("al ice@example.com"), "email");
  CheckRefused(NormalizeEmail("al(ice)@example.com"), "email");
  CheckRefused(NormalizeEmail("alice@exa_mple.com"), "email");
  CheckRefused(NormalizeEmail(".alice@example.com"), "email");
  CheckRefused(NormalizeEmail("alice.@example.com"), "email");
  CheckRefused(NormalizeEmail("al..ice@example.com"), "email");
  CheckRefused(NormalizeEmail("alice@example..com"), "email");
  CheckRefused(NormalizeEmail("alice@-example.com"), "email");
  CheckRefused(NormalizeEmail("alice@example.com."), "email");
  CheckRefused(NormalizeEmail("caf\xc3\xa9@example.com"), "email");
}

TEST_CASE("the email error says what is wrong") {
  CHECK(NormalizeEmail("alice.example.com").error().message() ==
        "email: must contain exactly one '@'");
  CHECK(NormalizeEmail("a@b@c.com").error().message() == "email: must contain exactly one '@'");
  CHECK(NormalizeEmail("x@a_b.com").error().message() ==
        "email: domain label 'a_b' contains a character other than a-z, 0-9 and '-'");
}

TEST_CASE("an email uses the field name it is given") {
  CheckRefused(NormalizeEmail("nope", "contact_email"), "contact_email");
}

TEST_CASE("an email local part is at most 64 characters") {
  CHECK(NormalizeEmail(Repeat('a', 64) + "@example.com").has_value());
  CheckRefused(NormalizeEmail(Repeat('a', 65) + "@example.com"), "email");
}

TEST_CASE("an email is at most 254 characters in total") {
  // 64 + 1 + 189 = 254: labels of 63 + '.' + 63 + '.' + 57 + ".com" = 189.
  const std::string domain =
      Repeat('d', 63) + "." + Repeat('e', 63) + "." + Repeat('f', 57) + ".com";
  REQUIRE(domain.size() == 189);
  const std::string at_limit = Repeat('a', 64) + "@" + domain;
  REQUIRE(at_limit.size() == 254);
  CHECK(NormalizeEmail(at_limit).has_value());
  // One more label keeps every part valid on its own but the whole too long.
  auto too_long = NormalizeEmail(Repeat('a', 64) + "@x." + domain);
  CheckRefused(too_long, "email");
  CHECK(too_long.error().message() == "email: must be at most 254 characters");
}

// --- Slugs --------------------------------------------------------------------------------

TEST_CASE("ordinary slugs are accepted") {
  for (std::string_view ok :
       {"a", "acme", "acme_gym", "gym2", "a1_b2_c3", "publicity", "apis", "p_g", "pgx"}) {
    CAPTURE(ok);
    CHECK(ValidateSlug(ok).ok());
  }
}

TEST_CASE("slug refusals name the field") {
  CheckRefused(ValidateSlug(""), "slug");
  CheckRefused(ValidateSlug("Acme"), "slug");
  CheckRefused(ValidateSlug("acMe"), "slug");
  CheckRefused(ValidateSlug("1acme"), "slug");
  CheckRefused(ValidateSlug("_acme"), "slug");
  CheckRefused(ValidateSlug("acme-gym"), "slug");
  CheckRefused(ValidateSlug("acme gym"), "slug");
  CheckRefused(ValidateSlug("acme.gym"), "slug");
  CheckRefused(ValidateSlug("pg_x"), "slug");
  CheckRefused(ValidateSlug("pg_catalog"), "slug");
  CheckRefused(ValidateSlug("Bad", "tenant_slug"), "tenant_slug");
}

TEST_CASE("a slug must start with a lowercase letter") {
  CHECK(ValidateSlug("9lives").message() == "slug: must start with a lowercase letter");
  CHECK(ValidateSlug("Acme").message() == "slug: must start with a lowercase letter");
  CheckRefused(ValidateSlug("9lives"), "slug");
  CheckRefused(ValidateSlug("Acme"), "slug");
}

// "tenant_" + slug names the tenant's PostgreSQL schema, which has 63 bytes at most.
TEST_CASE("a slug is at most 56 characters") {
  CHECK(ValidateSlug(Repeat('a', 56)).ok());
  CheckRefused(ValidateSlug(Repeat('a', 57)), "slug");
}

TEST_CASE("reserved words are not slugs") {
  for (std::string_view word :
       {"public", "platform", "www", "api", "admin", "information_schema", "postgres", "template0",
        "template1", "static", "media", "mail", "root", "system", "default", "shared"}) {
    CAPTURE(word);
    CheckRefused(ValidateSlug(word), "slug");
  }
}

// --- Domain names -------------------------------------------------------------------------

TEST_CASE("a domain name loses one trailing dot and is lower-cased") {
  auto r = NormalizeDomainName("Gym.Example.COM.");
  REQUIRE(r);
  CHECK(*r == "gym.example.com");
  CheckRefused(NormalizeDomainName("example.com.."), "domain");
}

TEST_CASE("ordinary domain names are accepted") {
  for (std::string_view ok :
       {"example.com", "a.b.c.d", "xn--bcher-kva.example", "a-b.c0m", "123.example", "localhost"}) {
    CAPTURE(ok);
    CHECK(NormalizeDomainName(ok).has_value());
  }
}

TEST_CASE("domain refusals name the field") {
  CheckRefused(NormalizeDomainName(""), "domain");
  CheckRefused(NormalizeDomainName("."), "domain");
  CheckRefused(NormalizeDomainName("a..b"), "domain");
  CheckRefused(NormalizeDomainName(".example.com"), "domain");
  CheckRefused(NormalizeDomainName("-a.com"), "domain");
  CheckRefused(NormalizeDomainName("a-.com"), "domain");
  CheckRefused(NormalizeDomainName("a.com-"), "domain");
  CheckRefused(NormalizeDomainName("a_b.com"), "domain");
  CheckRefused(NormalizeDomainName("a b.com"), "domain");
  CheckRefused(NormalizeDomainName("exa\nmple.com"), "domain");
  CheckRefused(NormalizeDomainName("b\xc3\xbc"
                                   "cher.example"),
               "domain");
  CheckRefused(NormalizeDomainName("a_b", "custom_domain"), "custom_domain");
}

TEST_CASE("a domain error quotes the bad label") {
  CHECK(NormalizeDomainName("x.a_b.com").error().message() ==
        "domain: label 'a_b' contains a character other than a-z, 0-9 and '-'");
}

TEST_CASE("a domain label is at most 63 characters") {
  CHECK(NormalizeDomainName(Repeat('a', 63) + ".com").has_value());
  CheckRefused(NormalizeDomainName(Repeat('a', 64) + ".com"), "domain");
}

TEST_CASE("a domain name is at most 253 characters") {
  // Four labels of 63 with three dots is 255; trim the last label to hit 253 and 254.
  const std::string base = Repeat('a', 63) + "." + Repeat('b', 63) + "." + Repeat('c', 63) + ".";
  const std::string at_limit = base + Repeat('d', 61);
  REQUIRE(at_limit.size() == 253);
  CHECK(NormalizeDomainName(at_limit).has_value());
  CHECK(NormalizeDomainName(at_limit + ".").has_value());  // the trailing dot does not count
  CheckRefused(NormalizeDomainName(base + Repeat('d', 62)), "domain");
}

// --- Passwords ----------------------------------------------------------------------------

TEST_CASE("a password is 8 to 1024 bytes") {
  CheckRefused(ValidatePassword("1234567"), "password");
  CHECK(ValidatePassword("1234567").message() == "password: must be at least 8 bytes");
  CHECK(ValidatePassword("12345678").ok());
  CHECK(ValidatePassword(Repeat('x', 1024)).ok());
  CheckRefused(ValidatePassword(Repeat('x', 1025)), "password");
  CheckRefused(ValidatePassword(""), "password");
  CheckRefused(ValidatePassword("short", "new_password"), "new_password");
}

TEST_CASE("a password is not trimmed") {
  CHECK(ValidatePassword("   12345").ok());  // 8 bytes, three of them spaces
  CHECK(ValidatePassword("        ").ok());  // eight spaces are eight bytes
  CheckRefused(ValidatePassword(" 123456"), "password");
}

TEST_CASE("a password is measured in bytes, not characters") {
  // Four two-byte characters are 8 bytes; three are 6.
  CHECK(ValidatePassword("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9").ok());
  CheckRefused(ValidatePassword("\xc3\xa9\xc3\xa9\xc3\xa9"), "password");
  // 512 two-byte characters are 1024 bytes; one more is too many.
  std::string long_password;
  for (int i = 0; i < 512; ++i) long_password += "\xc3\xa9";
  CHECK(ValidatePassword(long_password).ok());
  CheckRefused(ValidatePassword(long_password + "\xc3\xa9"), "password");
}

// --- Text ---------------------------------------------------------------------------------

TEST_CASE("text must not be blank") {
  CHECK(ValidateText("Acme Gym", "name", 10).ok());
  CheckRefused(ValidateText("", "name", 10), "name");
  CheckRefused(ValidateText(" \t\r\n ", "name", 10), "name");
}

TEST_CASE("text length is counted in code points") {
  CHECK(ValidateText("abcde", "name", 5).ok());
  CheckRefused(ValidateText("abcdef", "name", 5), "name");
  // "Zürich" is 6 code points in 7 bytes; "日本語" is 3 in 9; an emoji is 1 in 4.
  CHECK(ValidateText("Z\xc3\xbcrich", "city", 6).ok());
  CheckRefused(ValidateText("Z\xc3\xbcrich", "city", 5), "city");
  CHECK(ValidateText("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "name", 3).ok());
  CheckRefused(ValidateText("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "name", 2), "name");
  CHECK(ValidateText("\xf0\x9f\x8f\x8b", "name", 1).ok());
}

TEST_CASE("text must be valid UTF-8, and every byte of it counts") {
  // A stray byte, a cut sequence, an overlong '/', a surrogate, a code point above U+10FFFF.
  for (std::string_view bad : {"cover \xff", "cover \xc3(", "\xc0\xaf", "\xed\xa0\x80",
                               "\xf4\x90\x80\x80", "Z\xc3"}) {
    CAPTURE(bad);
    const smooth::Status s = ValidateText(bad, "reason", 500);
    CheckRefused(s, "reason");
    CHECK(s.message() == "reason: must be valid UTF-8");
  }
  // Continuation bytes on their own are not free characters: 100,000 of them are refused.
  CheckRefused(ValidateText("x" + Repeat('\x80', 100000), "reason", 500), "reason");
  CHECK(ValidateText("\xe2\x82\xac 5", "reason", 3).ok());  // the euro sign: 3 bytes, 1 point
}

TEST_CASE("text must not hold a NUL, which PostgreSQL cannot store") {
  // PostgreSQL text cannot hold U+0000: it would be cut short there (or refused) while the
  // other backends keep it, so the same input would be stored differently.
  const smooth::Status s = ValidateText(std::string("Bob\0 (admin)", 12), "display_name", 200);
  CheckRefused(s, "display_name");
  CHECK(s.message() == "display_name: must not contain a NUL character");
  CheckRefused(ValidateText(std::string(1, '\0'), "name", 200), "name");
  // What is storable: valid UTF-8 without NUL, whatever its length.
  CHECK(ValidateStorable("\xe2\x82\xac 5\t\n", "notes").ok());
  CHECK(ValidateStorable("", "notes").ok());
  CHECK(ValidateStorable(std::string("a\0b", 3), "notes").message() ==
        "notes: must not contain a NUL character");
  CHECK(ValidateStorable("a\xff", "phone").message() == "phone: must be valid UTF-8");
}
