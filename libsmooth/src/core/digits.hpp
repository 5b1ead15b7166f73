// Reading ASCII decimal digits, for the parsers of outside input.
#pragma once

#include <optional>
#include <string_view>

namespace smooth::internal {

/// The value of `digits` when it is 1 to 18 ASCII digits and nothing else ("0042" is 42),
/// otherwise nullopt. No sign, no spaces.
inline std::optional<long long> Digits(std::string_view digits) {
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  long long value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace smooth::internal
