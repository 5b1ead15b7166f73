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

}  // namespace smooth::internal
