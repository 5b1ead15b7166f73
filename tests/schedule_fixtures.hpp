// Scheduling test fixture: the World of fixtures.hpp with a Scheduler on its platform, and
// short ways to write instants, working hours, resources, services and customers.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "fixtures.hpp"
#include "smooth/scheduler.hpp"

namespace smooth::testing {

/// An instant written in RFC 3339, e.g. At("2026-03-09T14:00:00Z").
inline Instant At(std::string_view text) {
  auto t = ParseRfc3339(text);
  REQUIRE_MESSAGE(t.ok(), "bad instant in test: " << text);
  return *t;
}
inline std::string Show(Instant t) { return FormatRfc3339(t); }

/// Monday 2026-03-09 at h:m UTC: the week after the fixture clock's "now" (T0, Monday
/// 2026-03-02T09:00Z).
inline Instant Mon(int h, int m = 0) {
  return At("2026-03-09T00:00:00Z") + std::chrono::hours(h) + std::chrono::minutes(m);
}

/// Wall-clock hours within a day: Hours(9, 17) is 09:00-17:00, Hours(9, 30, 12, 0) 09:30-12:00.
inline DailyInterval Hours(int from_h, int from_m, int to_h, int to_m) {
  return {std::chrono::hours(from_h) + std::chrono::minutes(from_m),
          std::chrono::hours(to_h) + std::chrono::minutes(to_m)};
}
inline DailyInterval Hours(int from_h, int to_h) { return Hours(from_h, 0, to_h, 0); }

/// The same hours on the listed ISO weekdays (0 = Monday ... 6 = Sunday).
inline WorkingHours Weekly(std::initializer_list<int> days, std::vector<DailyInterval> hours) {
  WorkingHours wh;
  for (int d : days) wh.weekly.at(static_cast<std::size_t>(d)) = hours;
  return wh;
}
/// Monday to Friday.
inline WorkingHours Weekdays(std::vector<DailyInterval> hours) {
  return Weekly({0, 1, 2, 3, 4}, std::move(hours));
}
/// Every day of the week.
inline WorkingHours EveryDay(std::vector<DailyInterval> hours) {
  return Weekly({0, 1, 2, 3, 4, 5, 6}, std::move(hours));
}
/// Open around the clock, every day.
inline WorkingHours AlwaysOpen() { return EveryDay({Hours(0, 24)}); }

/// "One of these resources".
inline ResourceRequirement OneOf(std::initializer_list<ResourceId> ids) {
  return ResourceRequirement{std::vector<ResourceId>(ids)};
}

/// The status code's name ("ok", "conflict", ...), which reads well in failure messages.
template <typename T>
std::string CodeOf(const Result<T>& r) {
  return r ? std::string("ok") : std::string(StatusCodeName(r.error().code()));
}
inline std::string CodeOf(const Status& s) { return std::string(StatusCodeName(s.code())); }
template <typename T>
std::string MessageOf(const Result<T>& r) {
  return r ? std::string("(no error)") : r.error().message();
}
inline std::string MessageOf(const Status& s) { return s.message(); }

inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// One line per appointment with everything that matters, for "nothing changed" checks.
inline std::string Describe(const Appointment& a) {
  std::string resources;
  for (ResourceId r : a.resources) resources += fmt::format("{},", r.value());
  return fmt::format("#{} svc={} cust={} res=[{}] {}..{} buf={}/{} {} v{}", a.id.value(),
                     a.service.value(), a.customer.value(), resources, Show(a.start), Show(a.end),
                     a.buffer_before.count(), a.buffer_after.count(),
                     AppointmentStatusName(a.status), a.version);
}

inline std::string Describe(const Slot& s) {
  std::string out = Show(s.start) + ".." + Show(s.end) + " free=";
  for (const auto& req : s.free) {
    out += "[";
    for (ResourceId r : req) out += fmt::format("{},", r.value());
    out += "]";
  }
  return out;
}

/// A World with a Scheduler, an acme TENANT_OWNER principal at hand, and every event the
/// scheduler delivers recorded in `events` (read it only while no other thread books).
struct ScheduleWorld : World {
  std::unique_ptr<Scheduler> scheduler;
  Principal owner;
  std::mutex events_mu;
  std::vector<ScheduleEvent> events;  // guarded by events_mu while threads run

  explicit ScheduleWorld(SchedulerOptions options = {}) {
    scheduler = Must(Scheduler::Open(*platform, options));
    owner = As("TENANT_OWNER");
    scheduler->Subscribe([this](const ScheduleEvent& e) {
      std::lock_guard lock(events_mu);
      events.push_back(e);
    });
  }

  /// Creates a resource in `tenant` (acme by default) as SUPERUSER.
  Resource AddResource(ResourceSpec spec, std::optional<TenantId> tenant = std::nullopt) {
    return Must(scheduler->CreateResource(root_p, tenant.value_or(acme.id), spec));
  }
  Service AddService(ServiceSpec spec, std::optional<TenantId> tenant = std::nullopt) {
    return Must(scheduler->CreateService(root_p, tenant.value_or(acme.id), spec));
  }
  Customer AddCustomer(std::string name, std::optional<UserId> user = std::nullopt,
                       std::optional<TenantId> tenant = std::nullopt) {
    return Must(scheduler->CreateCustomer(
        root_p, tenant.value_or(acme.id),
        {.name = std::move(name), .email = "someone@example.com", .user = user}));
  }

  /// Books in acme.
  Result<Appointment> Book(const Principal& actor, const BookingRequest& request) {
    return scheduler->Book(actor, acme.id, request);
  }

  /// Every appointment of the tenant in 2025-2028, as SUPERUSER sees them, described.
  std::vector<std::string> Snapshot(std::optional<TenantId> tenant = std::nullopt) {
    std::vector<std::string> out;
    for (const Appointment& a : Must(scheduler->ListAppointments(root_p, tenant.value_or(acme.id),
                                                                 At("2025-01-01T00:00:00Z"),
                                                                 At("2029-01-01T00:00:00Z")))) {
      out.push_back(Describe(a));
    }
    return out;
  }
  /// The appointments that occupy (pending or confirmed), described.
  std::vector<std::string> Occupying(std::optional<TenantId> tenant = std::nullopt) {
    std::vector<std::string> out;
    for (const Appointment& a : Must(scheduler->ListAppointments(root_p, tenant.value_or(acme.id),
                                                                 At("2025-01-01T00:00:00Z"),
                                                                 At("2029-01-01T00:00:00Z")))) {
      if (a.Occupies()) out.push_back(Describe(a));
    }
    return out;
  }

  /// The slot starts offered, as RFC 3339 strings.
  std::vector<std::string> SlotStarts(const Principal& actor, const AvailabilityQuery& q,
                                      std::optional<TenantId> tenant = std::nullopt) {
    std::vector<std::string> out;
    for (const Slot& s : Must(scheduler->Availability(actor, tenant.value_or(acme.id), q))) {
      out.push_back(Show(s.start));
    }
    return out;
  }
};

}  // namespace smooth::testing

/// Checks that `expr` (a Result or Status) failed with `code`; prints the message if not.
#define CHECK_CODE(expr, code)                                                                   \
  do {                                                                                           \
    const auto& check_code_r_ = (expr);                                                          \
    CHECK_MESSAGE(                                                                               \
        ::smooth::testing::CodeOf(check_code_r_) == std::string(::smooth::StatusCodeName(code)), \
        "message: " << ::smooth::testing::MessageOf(check_code_r_));                             \
  } while (0)

/// Checks that `expr` failed with invalid_argument and a message starting "<field>:".
#define CHECK_INVALID(expr, field)                                                              \
  do {                                                                                          \
    const auto& check_invalid_r_ = (expr);                                                      \
    CHECK_MESSAGE(::smooth::testing::CodeOf(check_invalid_r_) == "invalid_argument",            \
                  "message: " << ::smooth::testing::MessageOf(check_invalid_r_));               \
    CHECK_MESSAGE(::smooth::testing::StartsWith(::smooth::testing::MessageOf(check_invalid_r_), \
                                                std::string(field) + ":"),                      \
                  "message '" << ::smooth::testing::MessageOf(check_invalid_r_)                 \
                              << "' should start with " << field << ":");                       \
  } while (0)
