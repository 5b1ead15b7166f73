// The scheduling entities of one tenant: resources and their working time, services,
// customers, appointments and holds. Operations on them live in scheduler.hpp.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/civil.hpp"
#include "smooth/ids.hpp"
#include "smooth/status.hpp"
#include "smooth/time.hpp"

namespace smooth {

enum class ResourceKind { kStaff, kRoom, kEquipment };
std::string_view ResourceKindName(ResourceKind kind);  // "staff", "room", "equipment"
Result<ResourceKind> ParseResourceKind(std::string_view name);

/// Hours that replace the weekly hours on one local date. No hours = closed that day.
struct DateOverride {
  LocalDate date;
  std::vector<DailyInterval> hours;
  friend bool operator==(const DateOverride&, const DateOverride&) = default;
};

/// An absolute stretch of time a resource is away; may span midnight and several days.
struct TimeOff {
  Instant start;
  Instant end;
  std::string reason;
  friend bool operator==(const TimeOff&, const TimeOff&) = default;
};

/// When a resource works, in its own time zone.
struct WorkingHours {
  /// Weekly rules by ISO weekday (index 0 = Monday), any number of intervals a day.
  std::array<std::vector<DailyInterval>, 7> weekly;
  std::vector<DateOverride> overrides;
  std::vector<TimeOff> time_off;
  friend bool operator==(const WorkingHours&, const WorkingHours&) = default;
};

/// Something that can be booked: a staff member, a room, a piece of equipment.
struct Resource {
  ResourceId id;
  std::string name;
  ResourceKind kind = ResourceKind::kStaff;
  int capacity = 1;       // maximum concurrent appointments, 1..10000
  std::string time_zone;  // IANA; defaults to the tenant's
  std::optional<UserId> user;  // a staff member's login
  bool is_active = true;
  WorkingHours hours;
  Instant created_at{};
  Instant updated_at{};
  friend bool operator==(const Resource&, const Resource&) = default;
};

/// "One resource out of this set".
struct ResourceRequirement {
  std::vector<ResourceId> resources;
  friend bool operator==(const ResourceRequirement&, const ResourceRequirement&) = default;
};

/// Something customers book.
struct Service {
  ServiceId id;
  std::string name;
  Duration duration{std::chrono::minutes(30)};
  Duration buffer_before{0};
  Duration buffer_after{0};
  Duration slot_interval{std::chrono::minutes(15)};
  Duration min_notice{0};
  Duration max_advance{std::chrono::hours(24 * 365)};
  std::int64_t price_minor = 0;
  std::string currency = "USD";
  std::vector<ResourceRequirement> requirements;
  bool is_active = true;
  Instant created_at{};
  Instant updated_at{};
};

enum class CustomerStatus { kActive, kInactive, kBlocked };
std::string_view CustomerStatusName(CustomerStatus status);
Result<CustomerStatus> ParseCustomerStatus(std::string_view name);

struct Customer {
  CustomerId id;
  std::string name;
  std::string email;
  std::string phone;
  std::optional<UserId> user;  // the CUSTOMER login, if any
  CustomerStatus status = CustomerStatus::kActive;
  Instant created_at{};
};

enum class AppointmentStatus { kPending, kConfirmed, kCompleted, kCancelled, kNoShow };
std::string_view AppointmentStatusName(AppointmentStatus status);
Result<AppointmentStatus> ParseAppointmentStatus(std::string_view name);

/// A booking. It occupies each of its resources over
/// [start - buffer_before, end + buffer_after) while pending or confirmed. The buffers are
/// copied from the service at booking time, so editing a service never moves existing
/// occupancy.
struct Appointment {
  AppointmentId id;
  ServiceId service;
  std::vector<ResourceId> resources;  // one per service requirement, in order
  CustomerId customer;
  Instant start{};
  Instant end{};
  Duration buffer_before{0};
  Duration buffer_after{0};
  AppointmentStatus status = AppointmentStatus::kConfirmed;
  std::string notes;
  UserId created_by;
  Instant created_at{};
  Instant updated_at{};
  std::int64_t version = 1;  // +1 on every change
  std::optional<std::string> idempotency_key;
  /// The start it was booked at, once Reschedule has moved it (kept through later moves);
  /// unset while it has never moved. A retry with its idempotency key is compared with it.
  std::optional<Instant> booked_start;
  std::optional<SeriesId> series;
  bool outside_hours = false;  // booked outside working hours by a manager, audited
  /// The tenant change sequence of the write that last touched this row.
  std::int64_t change_seq = 0;

  bool Occupies() const {
    return status == AppointmentStatus::kPending || status == AppointmentStatus::kConfirmed;
  }
};

/// A tentative reservation: occupies capacity until `expires_at` or release; confirming
/// turns it into an appointment atomically.
struct Hold {
  HoldId id;
  ServiceId service;
  std::vector<ResourceId> resources;
  CustomerId customer;
  Instant start{};
  Instant end{};
  Duration buffer_before{0};
  Duration buffer_after{0};
  UserId owner;
  Instant created_at{};
  Instant expires_at{};
  bool released = false;  // released or confirmed
  /// The appointment ConfirmHold made of it; none for a hold not confirmed (or confirmed
  /// by a libsmooth older than this field, which did not record it).
  std::optional<AppointmentId> confirmed_as;
  /// Placed with BookingRequest::outside_hours by a manager, as asked: its confirmation may
  /// go outside working hours, and the appointment is flagged and audited if it does.
  bool outside_hours = false;
  std::int64_t change_seq = 0;

  bool Occupies(Instant now) const { return !released && now < expires_at; }
};

}  // namespace smooth
