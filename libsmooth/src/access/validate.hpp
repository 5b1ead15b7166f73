// Validation and normalization of the identifiers users type: emails, tenant slugs,
// domain names, passwords. Every error is invalid_argument and names the field.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "smooth/status.hpp"

namespace smooth::internal {

/// Trims ASCII whitespace, lower-cases, and checks the shape local@domain: local part
/// 1..64 chars of [A-Za-z0-9.!#$%&'*+/=?^_`{|}~-] without leading/trailing/double dots;
/// domain validated like NormalizeDomainName and containing at least one dot; total
/// <= 254 chars. Returns the normalized email.
Result<std::string> NormalizeEmail(std::string_view email, std::string_view field = "email");

/// `[a-z][a-z0-9_]{0,55}` (`tenant_` and the slug fit PostgreSQL's 63-byte names), not starting with `pg_`, not a reserved word (public,
/// platform, www, api, admin, and the other names in the .cpp). Upper case is an error,
/// not silently lowered: the slug becomes a schema name.
Status ValidateSlug(std::string_view slug, std::string_view field = "slug");

/// Lower-cases, removes one trailing dot, then checks: total <= 253 chars, labels of
/// 1..63 LDH characters ([a-z0-9-]) that neither start nor end with '-', at least one label.
/// Returns the normalized name.
Result<std::string> NormalizeDomainName(std::string_view name, std::string_view field = "domain");

/// A password's bounds, in bytes. The upper one keeps hashing cost bounded for hostile
/// input; it is checked, never applied by truncation, so two long passwords never collide.
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 1024;

/// 8..1024 bytes. Never truncated, never trimmed.
Status ValidatePassword(std::string_view password, std::string_view field = "password");

/// Valid UTF-8 without NUL, of any length: text that every backend stores as it is given
/// (PostgreSQL's text holds neither U+0000 nor bytes that are not UTF-8: it would cut the
/// text short at a NUL, or fail the write).
Status ValidateStorable(std::string_view text, std::string_view field);

/// Storable (ValidateStorable), non-empty after trimming, and at most `max_chars` code points.
Status ValidateText(std::string_view text, std::string_view field, std::size_t max_chars);

}  // namespace smooth::internal
