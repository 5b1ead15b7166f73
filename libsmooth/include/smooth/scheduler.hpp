// Scheduler: per-tenant scheduling on top of the Platform — resources and working hours,
// services, customers, conflict-free booking, holds, recurring series, availability, and
// change events.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smooth/access.hpp"
#include "smooth/civil.hpp"
#include "smooth/platform.hpp"
#include "smooth/schedule_types.hpp"
#include "smooth/status.hpp"
#include "smooth/time.hpp"

namespace smooth {

struct SchedulerOptions {
  /// How long a hold occupies capacity when the caller does not say.
  Duration default_hold_ttl{std::chrono::minutes(5)};
  /// Longest hold a caller may ask for.
  Duration max_hold_ttl{std::chrono::hours(1)};
  /// How long a hold stays in storage after it expires, confirmed and released holds
  /// alike: until then ConfirmHold and ReleaseHold answer for it as before (a retried
  /// confirm finds its appointment; an expired hold is failed_precondition). After that the
  /// tenant's next PlaceHold deletes it, in the transaction that inserts the new hold, and
  /// from then on it is not_found; so storage keeps about this long's worth of holds.
  /// Positive.
  Duration hold_retention{std::chrono::hours(24)};
  /// Most occurrences one recurring series may have.
  std::size_t max_series_occurrences = 500;
  /// Widest availability query, in local days.
  int max_range_days = 62;
  /// How long a tenant may go unused (by the Platform's clock) before Scheduler::Maintain
  /// frees what this Scheduler keeps of it in memory; its next use loads it from storage
  /// again. Positive.
  Duration unload_after{std::chrono::minutes(30)};
};

/// What one Scheduler::Maintain call did.
struct MaintenanceReport {
  std::size_t holds_expired = 0;      // hold_expired events it announced
  std::size_t tenants_unloaded = 0;   // unused for unload_after: their state freed
  std::size_t tenants_forgotten = 0;  // no longer in storage (deleted): forgotten
  std::size_t tenants_failed = 0;     // skipped for a storage error; `failure` is the first
  Status failure;
};

/// What to create with Scheduler::CreateResource. Defaults and limits of every spec:
/// docs/scheduling.md, "Defaults and limits".
struct ResourceSpec {
  std::string name;  // 1..200 characters
  ResourceKind kind = ResourceKind::kStaff;
  int capacity = 1;  // 1..10000
  std::string time_zone;  // empty = the tenant's zone
  std::optional<UserId> user;
  WorkingHours hours;
};

/// What to create with Scheduler::CreateService.
struct ServiceSpec {
  std::string name;  // 1..200 characters
  Duration duration{std::chrono::minutes(30)};
  Duration buffer_before{0};
  Duration buffer_after{0};
  Duration slot_interval{std::chrono::minutes(15)};
  Duration min_notice{0};
  Duration max_advance{std::chrono::hours(24 * 365)};
  std::int64_t price_minor = 0;
  std::string currency = "USD";  // ISO 4217: three upper-case letters
  std::vector<ResourceRequirement> requirements;  // at least one
};

/// What to create with Scheduler::CreateCustomer. Every customer starts kActive.
struct CustomerSpec {
  std::string name;   // 1..200 characters
  std::string email;  // optional; stored trimmed and in lower case
  std::string phone;  // optional; at most 40 bytes
  std::optional<UserId> user;  // a CUSTOMER user of the tenant
};

/// A booking (or hold) request.
struct BookingRequest {
  ServiceId service;
  CustomerId customer;
  Instant start{};
  /// One entry per service requirement: the resource wanted, or nullopt to let the engine
  /// pick (see docs/scheduling.md for the policy). Empty = let the engine pick them all.
  std::vector<std::optional<ResourceId>> resources;
  AppointmentStatus status = AppointmentStatus::kConfirmed;  // pending or confirmed
  std::string notes;  // at most 10000 bytes
  /// A retried request with the same key returns the original appointment; the same key
  /// with different content is a conflict. 1..200 bytes, unique per tenant. Book only:
  /// PlaceHold and BookSeries refuse a key (a hold takes it at ConfirmHold).
  std::optional<std::string> idempotency_key;
  /// Book outside working hours (TENANT_OWNER, TENANT_MANAGER, SUPERUSER and
  /// PLATFORM_MANAGER only). Capacity still holds. The appointment is flagged, and the
  /// booking audited, only when it needs it: asked for inside hours, it is an ordinary one.
  bool outside_hours = false;
};

/// One occurrence of a series that could not be booked, and why.
struct OccurrenceConflict {
  Instant start{};
  std::string reason;
};

struct SeriesRequest {
  BookingRequest first;  // the first occurrence; its start is the series' local start
  /// RFC 5545 RRULE, e.g. "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10". Expanded in `time_zone`, so
  /// 10:00 stays 10:00 local across DST. docs/scheduling.md ("Recurring series") lists the
  /// parts it may have and how each is read.
  std::string rrule;
  /// The IANA zone whose wall clock the series keeps (a customer's, say, when the resource
  /// is elsewhere); empty = the zone of the first requirement's resource: the one `first`
  /// names for it, else the first the service lists for it, whichever each occurrence gets.
  std::string time_zone;
};

/// The outcome of BookSeries: all occurrences booked, or none and every conflict named.
struct SeriesBooking {
  SeriesId series;
  std::vector<Appointment> appointments;
};

/// An availability question.
struct AvailabilityQuery {
  ServiceId service;
  LocalDate from;  // first local date, in `time_zone`
  LocalDate to;    // last local date, inclusive; at most max_range_days days in all
  std::string time_zone;  // required: the IANA zone of the dates and of the slot grid
  /// Only consider these resources of the service's; empty = all of them. A filter is the
  /// tenant's resources to look at, so one filter can serve every service: a resource the
  /// service does not use is passed over, and one naming none of its resources offers
  /// nothing. A resource the tenant does not have is not_found.
  std::vector<ResourceId> resources;
  /// Answer as a customer is answered, with the service's min_notice and max_advance,
  /// whoever asks: for a public booking page that an application serves with an account
  /// of its own (staff are not held to notice). A customer is always answered so.
  bool as_customer = false;
};

/// A bookable start. `free[i]` lists the resources of requirement i that are free for it;
/// a slot is offered only when one distinct resource per requirement can be chosen.
struct Slot {
  Instant start{};
  Instant end{};
  std::vector<std::vector<ResourceId>> free;
};

enum class EventType {
  kCreated,
  kUpdated,
  kRescheduled,
  kCancelled,
  kHoldCreated,
  kHoldReleased,
  kHoldExpired,
};
std::string_view EventTypeName(EventType type);  // "created", "hold_expired", ...

/// A change, delivered to subscribers after it is committed. `seq` increases by one per
/// event, per tenant, in delivery order: this Scheduler's count, in memory, from 1 (not a
/// cursor that survives a restart or is shared with another Scheduler).
struct ScheduleEvent {
  TenantId tenant;
  std::int64_t seq = 0;
  EventType type = EventType::kCreated;
  std::optional<Appointment> appointment;
  std::optional<Hold> hold;
};

/// The scheduling engine. Safe to share between threads. Every operation is authorized
/// through the Platform (and so the permission matrix); objects of another tenant are
/// not_found. Bookings never exceed a resource's capacity: each one is checked against the
/// tenant's state inside its write transaction.
///
///     auto scheduler = smooth::Scheduler::Open(*platform).value();
///     auto slots = scheduler->Availability(me, tenant, {.service = cut, .from = {2026, 3, 9},
///                                                     .to = {2026, 3, 9},
///                                                     .time_zone = "America/New_York"});
///     auto appt = scheduler->Book(me, tenant, {.service = cut, .customer = pat,
///                                              .start = slots->front().start});
class Scheduler {
 public:
  /// The scheduler uses the platform's storage, clock and audit log. `platform` must
  /// outlive it.
  static Result<std::unique_ptr<Scheduler>> Open(Platform& platform, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // --- Resources, services, customers --------------------------------------------------

  Result<Resource> CreateResource(const Principal& actor, TenantId tenant, const ResourceSpec& spec);
  /// Replaces a resource's name, kind, capacity, zone, user, active flag and hours.
  /// Lowering capacity below what is already booked is a conflict.
  Result<Resource> UpdateResource(const Principal& actor, TenantId tenant, const Resource& resource);
  Result<Resource> GetResource(const Principal& actor, TenantId tenant, ResourceId id);
  Result<std::vector<Resource>> ListResources(const Principal& actor, TenantId tenant);

  Result<Service> CreateService(const Principal& actor, TenantId tenant, const ServiceSpec& spec);
  /// Replaces a service's settings; existing appointments keep the buffers they were
  /// booked with.
  Result<Service> UpdateService(const Principal& actor, TenantId tenant, const Service& service);
  Result<Service> GetService(const Principal& actor, TenantId tenant, ServiceId id);
  Result<std::vector<Service>> ListServices(const Principal& actor, TenantId tenant);

  Result<Customer> CreateCustomer(const Principal& actor, TenantId tenant, const CustomerSpec& spec);
  /// Replaces a customer's name, email, phone, login and status (`kBlocked` refuses new
  /// bookings and holds; existing appointments stay). Needs customer.manage over the
  /// customer, so a CUSTOMER may edit its own record; changing the status needs it over the
  /// whole tenant (owner, manager), so a customer never unblocks itself.
  Result<Customer> UpdateCustomer(const Principal& actor, TenantId tenant, const Customer& customer);
  Result<Customer> GetCustomer(const Principal& actor, TenantId tenant, CustomerId id);
  /// The tenant's customers the actor may read, by id: all of them with customer.read over
  /// the tenant (staff, managers, owners, platform readers), a CUSTOMER's own record only;
  /// permission_denied for an actor who may read none.
  Result<std::vector<Customer>> ListCustomers(const Principal& actor, TenantId tenant);

  // --- Appointments --------------------------------------------------------------------

  /// Books all of the service's requirements at once, or nothing: conflict when capacity
  /// is exceeded, failed_precondition when outside working hours or notice rules.
  Result<Appointment> Book(const Principal& actor, TenantId tenant, const BookingRequest& request);

  /// Moves a pending or confirmed appointment to a new start (failed_precondition for any
  /// other status). It keeps its resources, duration and buffers: each of its own resources
  /// is checked at the new time (capacity: conflict; working hours, the past, a customer's
  /// notice rules: failed_precondition), whatever the service requires now. Its old
  /// interval never conflicts with its new one. `expected_version`, when given, must match
  /// (optimistic concurrency) or conflict.
  Result<Appointment> Reschedule(const Principal& actor, TenantId tenant, AppointmentId id,
                                 Instant new_start,
                                 std::optional<std::int64_t> expected_version = std::nullopt);

  /// Cancels; frees capacity at once. failed_precondition when already cancelled,
  /// completed or no_show.
  Result<Appointment> Cancel(const Principal& actor, TenantId tenant, AppointmentId id);

  /// Sets pending → confirmed, or marks completed / no_show. Cancelling goes through Cancel
  /// (kCancelled here is invalid_argument). failed_precondition for confirmed → pending and
  /// for an appointment already cancelled, completed or no_show; the status it already has
  /// returns it unchanged.
  Result<Appointment> SetStatus(const Principal& actor, TenantId tenant, AppointmentId id,
                                AppointmentStatus status);

  Result<Appointment> GetAppointment(const Principal& actor, TenantId tenant, AppointmentId id);
  /// The appointments of any status overlapping [from, to) (from < to), by start, that the
  /// actor may see: all of them for owners and managers, a staff member's own resources, a
  /// customer's own bookings.
  Result<std::vector<Appointment>> ListAppointments(const Principal& actor, TenantId tenant,
                                                    Instant from, Instant to);

  // --- Holds ---------------------------------------------------------------------------

  /// A tentative booking that occupies capacity for `ttl` (default_hold_ttl; at most
  /// max_hold_ttl), checked as Book checks. The request must carry no idempotency_key.
  Result<Hold> PlaceHold(const Principal& actor, TenantId tenant, const BookingRequest& request,
                         std::optional<Duration> ttl = std::nullopt);
  /// Frees a live hold at once. The user who placed it may, while it may still place it
  /// (appointment.create for the hold's customer); anyone else needs appointment.cancel
  /// over the whole tenant. failed_precondition once released, confirmed or expired.
  Status ReleaseHold(const Principal& actor, TenantId tenant, HoldId id);
  /// Turns a live hold into an appointment atomically; failed_precondition once expired
  /// or released. Needs appointment.create for the hold's customer, and, from anyone but
  /// the user who placed the hold, appointment.update over the whole tenant. What Book
  /// checks that can change while a hold waits is checked again (the start not past, the
  /// service active, the customer not blocked, the resources active), with Book's answers.
  /// A retry with the same idempotency key returns the appointment the first call made;
  /// a key used for anything else is conflict.
  Result<Appointment> ConfirmHold(const Principal& actor, TenantId tenant, HoldId id,
                                  std::optional<std::string> idempotency_key = std::nullopt);

  // --- Series --------------------------------------------------------------------------

  /// Books every occurrence of the rule atomically. When any occurrence cannot be booked,
  /// books nothing, returns conflict naming them, and fills `conflicts` if given (which is
  /// emptied first, so after a success it is empty).
  Result<SeriesBooking> BookSeries(const Principal& actor, TenantId tenant,
                                   const SeriesRequest& request,
                                   std::vector<OccurrenceConflict>* conflicts = nullptr);
  /// Cancels the occurrence `from` and every occurrence after it in its series (in the
  /// rule's order, wherever any has been rescheduled to since); returns how many were
  /// cancelled. Occurrences already final are left as they are.
  Result<int> CancelSeriesFrom(const Principal& actor, TenantId tenant, AppointmentId from);

  // --- Availability --------------------------------------------------------------------

  /// Every start at which booking the service would succeed for this actor right now.
  /// Starts step by the service's slot_interval from local midnight of each date in
  /// `time_zone`.
  Result<std::vector<Slot>> Availability(const Principal& actor, TenantId tenant,
                                         const AvailabilityQuery& query);

  // --- Events --------------------------------------------------------------------------

  using Listener = std::function<void(const ScheduleEvent&)>;
  /// Calls `listener` for every committed change, in seq order per tenant, on the thread
  /// that made the change, after its locks are released. Returns a handle for Unsubscribe.
  std::uint64_t Subscribe(Listener listener);
  /// Stops calling the listener that Subscribe returned `handle` for.
  void Unsubscribe(std::uint64_t handle);

  // --- Housekeeping --------------------------------------------------------------------

  /// What no call does by itself, for a timer to run on a thread of its own (every few
  /// seconds to a minute):
  ///   - announces the holds that have expired in the tenants this Scheduler has loaded
  ///     (hold_expired), which otherwise waits for the tenant's next use;
  ///   - frees the state of tenants unused for SchedulerOptions::unload_after (their
  ///     resources, services, customers and occupancy indexes); the next use loads it
  ///     from storage again, as the first one after Open does;
  ///   - forgets tenants that storage no longer has (deleted here or by another process).
  /// A tenant whose state is locked, or that this Scheduler is writing to, is left for the
  /// next call: Maintain never waits for the engine's locks (on memory storage its read of a
  /// tenant can wait for a commit under way there). It reads the list of tenants once a
  /// call. Listeners are called on this thread, after Maintain's read of their tenant has
  /// ended, so they may call back. An error reading the tenants list fails the call; one
  /// tenant's error skips that tenant.
  Result<MaintenanceReport> Maintain();

 private:
  struct Impl;
  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smooth
