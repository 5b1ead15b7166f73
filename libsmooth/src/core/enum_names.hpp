// Parsing an enum back from the name its *Name() function gives it.
#pragma once

#include <array>
#include <string_view>

#include <fmt/format.h>

#include "smooth/status.hpp"

namespace smooth::internal {

/// The value of `all` whose to_name() is `name`, or invalid_argument naming `field`.
template <typename Enum, std::size_t N>
Result<Enum> ParseByName(std::string_view name, const std::array<Enum, N>& all,
                         std::string_view (*to_name)(Enum), std::string_view field) {
  for (Enum e : all)
    if (to_name(e) == name) return e;
  return InvalidArgument(fmt::format("{}: unknown value '{}'", field, name));
}

/// Ok when `value` is one of its enum's values, otherwise invalid_argument naming `field`: a
/// value cast from an out-of-range integer, which to_name() calls "unknown". Storage writes
/// an enum by its name and reads it back with ParseByName, which refuses "unknown", so such
/// a value must be refused before anything is written.
template <typename Enum>
Status ValidateEnum(Enum value, std::string_view (*to_name)(Enum), std::string_view field) {
  if (to_name(value) == "unknown")
    return InvalidArgument(
        fmt::format("{}: unknown value {}", field, static_cast<long long>(value)));
  return Status::Ok();
}

}  // namespace smooth::internal
