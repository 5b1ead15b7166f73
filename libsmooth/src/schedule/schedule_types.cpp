// Names of the scheduling enums, as used in APIs, logs and storage.
#include "smooth/schedule_types.hpp"

#include <array>

#include "core/enum_names.hpp"

namespace smooth {
using internal::ParseByName;

std::string_view ResourceKindName(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kStaff: return "staff";
    case ResourceKind::kRoom: return "room";
    case ResourceKind::kEquipment: return "equipment";
  }
  return "unknown";
}

Result<ResourceKind> ParseResourceKind(std::string_view name) {
  static constexpr std::array kAll = {ResourceKind::kStaff, ResourceKind::kRoom,
                                      ResourceKind::kEquipment};
  return ParseByName(name, kAll, &ResourceKindName, "kind");
}

std::string_view CustomerStatusName(CustomerStatus status) {
  switch (status) {
    case CustomerStatus::kActive: return "active";
    case CustomerStatus::kInactive: return "inactive";
    case CustomerStatus::kBlocked: return "blocked";
  }
  return "unknown";
}

Result<CustomerStatus> ParseCustomerStatus(std::string_view name) {
  static constexpr std::array kAll = {CustomerStatus::kActive, CustomerStatus::kInactive,
                                      CustomerStatus::kBlocked};
  return ParseByName(name, kAll, &CustomerStatusName, "status");
}

std::string_view AppointmentStatusName(AppointmentStatus status) {
  switch (status) {
    case AppointmentStatus::kPending: return "pending";
    case AppointmentStatus::kConfirmed: return "confirmed";
    case AppointmentStatus::kCompleted: return "completed";
    case AppointmentStatus::kCancelled: return "cancelled";
    case AppointmentStatus::kNoShow: return "no_show";
  }
  return "unknown";
}

Result<AppointmentStatus> ParseAppointmentStatus(std::string_view name) {
  static constexpr std::array kAll = {AppointmentStatus::kPending, AppointmentStatus::kConfirmed,
                                      AppointmentStatus::kCompleted, AppointmentStatus::kCancelled,
                                      AppointmentStatus::kNoShow};
  return ParseByName(name, kAll, &AppointmentStatusName, "status");
}

}  // namespace smooth
