// Strong identifier types: a TenantId is not a UserId, and neither is an int64_t.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

#include <fmt/format.h>

namespace smooth {

/// An integer id tagged with the kind of thing it names. Construction is explicit and
/// there is no conversion between kinds, so passing a UserId where a TenantId is
/// expected does not compile. Value 0 is never assigned by storage.
template <typename Tag>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(std::int64_t value) : value_(value) {}

  constexpr std::int64_t value() const { return value_; }
  /// True for an id storage could have assigned (> 0); a default-constructed id is not.
  constexpr bool valid() const { return value_ > 0; }

  friend constexpr auto operator<=>(StrongId, StrongId) = default;

 private:
  std::int64_t value_ = 0;
};

using TenantId = StrongId<struct TenantIdTag>;
using DomainId = StrongId<struct DomainIdTag>;
using UserId = StrongId<struct UserIdTag>;
using GrantId = StrongId<struct GrantIdTag>;
using SessionId = StrongId<struct SessionIdTag>;
using ResourceId = StrongId<struct ResourceIdTag>;
using ServiceId = StrongId<struct ServiceIdTag>;
using CustomerId = StrongId<struct CustomerIdTag>;
using AppointmentId = StrongId<struct AppointmentIdTag>;
using HoldId = StrongId<struct HoldIdTag>;
using SeriesId = StrongId<struct SeriesIdTag>;

}  // namespace smooth

template <typename Tag>
struct std::hash<smooth::StrongId<Tag>> {
  std::size_t operator()(smooth::StrongId<Tag> id) const noexcept {
    return std::hash<std::int64_t>{}(id.value());
  }
};

template <typename Tag>
struct fmt::formatter<smooth::StrongId<Tag>> : fmt::formatter<std::int64_t> {
  template <typename FormatContext>
  auto format(smooth::StrongId<Tag> id, FormatContext& ctx) const {
    return fmt::formatter<std::int64_t>::format(id.value(), ctx);
  }
};
