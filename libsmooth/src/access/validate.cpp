// Validation and normalization of emails, tenant slugs, domain names, passwords and free
// text. Every refusal is invalid_argument with a message that starts with "<field>: ".
#include "access/validate.hpp"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "core/utf8.hpp"

namespace smooth::internal {
namespace {

constexpr std::size_t kMaxEmailLength = 254;      // RFC 5321 path limit minus the brackets
constexpr std::size_t kMaxEmailLocalLength = 64;  // RFC 5321 section 4.5.3.1.1
constexpr std::size_t kMaxDomainLength = 253;     // 255 octets on the wire, in text form
constexpr std::size_t kMaxLabelLength = 63;
// "tenant_" and the slug name a PostgreSQL schema: 63 bytes at most (NAMEDATALEN-1).
constexpr std::size_t kMaxSlugLength = 56;

// Slugs become PostgreSQL schema names and subdomains of the base domain, so names that
// already mean something to either are refused.
constexpr std::string_view kReservedSlugs[] = {
    "public",   "platform",  "www",       "api",    "admin",     "information_schema",
    "postgres", "template0", "template1", "static", "media",     "mail",
    "root",     "system",    "default",   "shared", "auth",      "login",
    "assets",   "cdn",       "smtp",      "ftp",    "localhost",
};

constexpr std::string_view kWhitespace = " \t\n\r\f\v";

Status Invalid(std::string_view field, std::string_view problem) {
  return InvalidArgument(fmt::format("{}: {}", field, problem));
}

std::string_view TrimAscii(std::string_view s) {
  const std::size_t first = s.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = s.find_last_not_of(kWhitespace);
  return s.substr(first, last - first + 1);
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Checks an already lower-cased domain name. Returns what is wrong as a phrase that reads
// after either "<field>: " or "<field>: domain ", or nullopt when the name is fine.
std::optional<std::string> DomainProblem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxDomainLength) {
    return fmt::format("must be at most {} characters", kMaxDomainLength);
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return "must not contain an empty label";
    if (label.size() > kMaxLabelLength) {
      return fmt::format("label '{}' is longer than {} characters", Printable(label),
                         kMaxLabelLength);
    }
    for (char c : label) {
      if (!IsLower(c) && !IsDigit(c) && c != '-') {
        return fmt::format("label '{}' contains a character other than a-z, 0-9 and '-'",
                           Printable(label));
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return fmt::format("label '{}' must not start or end with '-'", Printable(label));
    }
    if (dot == std::string_view::npos) return std::nullopt;
    start = dot + 1;
  }
}

// RFC 5322 atext plus '.', which is checked separately for placement.
bool IsEmailLocalChar(char c) {
  if (IsLower(c) || IsDigit(c)) return true;
  constexpr std::string_view kSpecials = ".!#$%&'*+/=?^_`{|}~-";
  return kSpecials.find(c) != std::string_view::npos;
}

}  // namespace

Result<std::string> NormalizeEmail(std::string_view email, std::string_view field) {
  // Lower-casing the whole address, local part included, is what makes two sign-ups with
  // different capitalisation the same account; no mail system we target distinguishes them.
  const std::string normalized = LowerAscii(TrimAscii(email));
  if (normalized.empty()) return Invalid(field, "must not be empty");
  if (normalized.size() > kMaxEmailLength) {
    return Invalid(field, fmt::format("must be at most {} characters", kMaxEmailLength));
  }
  const std::size_t at = normalized.find('@');
  if (at == std::string::npos || normalized.find('@', at + 1) != std::string::npos) {
    return Invalid(field, "must contain exactly one '@'");
  }
  const std::string_view local = std::string_view(normalized).substr(0, at);
  const std::string_view domain = std::string_view(normalized).substr(at + 1);

  if (local.empty()) return Invalid(field, "local part must not be empty");
  if (local.size() > kMaxEmailLocalLength) {
    return Invalid(field,
                   fmt::format("local part must be at most {} characters", kMaxEmailLocalLength));
  }
  if (!std::all_of(local.begin(), local.end(), IsEmailLocalChar)) {
    return Invalid(field, "local part contains a character that is not allowed");
  }
  if (local.front() == '.' || local.back() == '.') {
    return Invalid(field, "local part must not start or end with '.'");
  }
  if (local.find("..") != std::string_view::npos) {
    return Invalid(field, "local part must not contain '..'");
  }

  if (domain.empty()) return Invalid(field, "domain must not be empty");
  // Unlike NormalizeDomainName, a trailing dot is not stripped here: "a@b.com." is not an
  // address anyone types on purpose, so it is reported (as an empty label) instead.
  if (std::optional<std::string> problem = DomainProblem(domain)) {
    return Invalid(field, "domain " + *problem);
  }
  if (domain.find('.') == std::string_view::npos) {
    return Invalid(field, "domain must contain at least one '.'");
  }
  return normalized;
}

Status ValidateSlug(std::string_view slug, std::string_view field) {
  if (slug.empty()) return Invalid(field, "must not be empty");
  if (slug.size() > kMaxSlugLength) {
    return Invalid(field, fmt::format("must be at most {} characters", kMaxSlugLength));
  }
  if (!IsLower(slug.front())) return Invalid(field, "must start with a lowercase letter");
  for (char c : slug) {
    if (!IsLower(c) && !IsDigit(c) && c != '_') {
      return Invalid(field, "may contain only a-z, 0-9 and '_'");
    }
  }
  if (slug.starts_with("pg_")) {
    return Invalid(field, "must not start with 'pg_' (reserved by PostgreSQL)");
  }
  if (std::find(std::begin(kReservedSlugs), std::end(kReservedSlugs), slug) !=
      std::end(kReservedSlugs)) {
    return Invalid(field, fmt::format("'{}' is reserved", slug));
  }
  return Status::Ok();
}

Result<std::string> NormalizeDomainName(std::string_view name, std::string_view field) {
  std::string normalized = LowerAscii(name);
  // The fully qualified form "example.com." names the same host as "example.com".
  if (!normalized.empty() && normalized.back() == '.') normalized.pop_back();
  if (std::optional<std::string> problem = DomainProblem(normalized)) {
    return Invalid(field, *problem);
  }
  return normalized;
}

Status ValidatePassword(std::string_view password, std::string_view field) {
  if (password.size() < kMinPasswordBytes) {
    return Invalid(field, fmt::format("must be at least {} bytes", kMinPasswordBytes));
  }
  if (password.size() > kMaxPasswordBytes) {
    return Invalid(field, fmt::format("must be at most {} bytes", kMaxPasswordBytes));
  }
  return Status::Ok();
}

Status ValidateStorable(std::string_view text, std::string_view field) {
  if (!Utf8Length(text)) return Invalid(field, "must be valid UTF-8");
  if (text.find('\0') != std::string_view::npos)
    return Invalid(field, "must not contain a NUL character");
  return Status::Ok();
}

Status ValidateText(std::string_view text, std::string_view field, std::size_t max_chars) {
  if (TrimAscii(text).empty()) return Invalid(field, "must not be empty");
  SMOOTH_RETURN_IF_ERROR(ValidateStorable(text, field));
  const std::optional<std::size_t> code_points = Utf8Length(text);
  if (*code_points > max_chars) {
    return Invalid(field, fmt::format("must be at most {} characters", max_chars));
  }
  return Status::Ok();
}

}  // namespace smooth::internal
