// UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace smooth::internal {

/// The number of code points in `text`, or nullopt when it is not valid UTF-8.
std::optional<std::size_t> Utf8Length(std::string_view text);

/// `text` with each byte that does not begin a valid sequence replaced by U+FFFD; valid
/// text comes back unchanged.
std::string ToValidUtf8(std::string_view text);

/// ToValidUtf8, with each NUL replaced by U+FFFD too: text every storage backend keeps as it
/// is (PostgreSQL's text holds no NUL), for what is recorded rather than refused.
std::string ToStorableText(std::string_view text);

/// `text` for an error message that echoes input (a name, a path): every byte that could
/// break a log line or a terminal — below 0x20, 0x7f, and the bytes of non-ASCII text —
/// shown as \xNN.
std::string Printable(std::string_view text);

}  // namespace smooth::internal
