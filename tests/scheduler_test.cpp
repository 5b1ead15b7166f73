// Scheduler: resources, services and customers; the booking rules (half-open intervals,
// buffers, capacity, working hours, notice, multi-resource picking, idempotency);
// reschedule, cancel and status changes; who may do what; events; availability.
// DST and recurring series are in scheduler_dst_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "before_write_storage.hpp"
#include "schedule_fixtures.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::AlwaysOpen;
using smooth::testing::At;
using smooth::testing::BeforeWriteStorage;
using smooth::testing::CodeOf;
using smooth::testing::Describe;
using smooth::testing::EveryDay;
using smooth::testing::Hours;
using smooth::testing::MessageOf;
using smooth::testing::Mon;
using smooth::testing::Must;
using smooth::testing::OneOf;
using smooth::testing::ScheduleWorld;
using smooth::testing::Show;
using smooth::testing::StartsWith;
using smooth::testing::Weekdays;
using smooth::testing::Weekly;

namespace {

using Strings = std::vector<std::string>;
using Ids = std::vector<ResourceId>;

Instant Tue(int h, int m = 0) { return Mon(h, m) + 24h; }
Instant Wed(int h, int m = 0) { return Mon(h, m) + 48h; }

// One stylist, Ann, Monday to Friday 09:00-17:00 UTC, capacity 1; a 30-minute cut on a
// 15-minute grid; a customer, Pat, without a login.
struct Salon : ScheduleWorld {
  Resource ann =
      AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service cut = AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = AddCustomer("Pat");

  BookingRequest Cut(Instant start) {
    return {.service = cut.id, .customer = pat.id, .start = start};
  }
};

// Sorted copy, for comparing resource sets whose order is not specified.
Ids Sorted(Ids ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool IsRefusal(const std::string& code) {
  return code == "permission_denied" || code == "not_found";
}

int CountAudit(ScheduleWorld& w, std::string_view action) {
  return smooth::testing::CountActions(w.security->Lines(), action);
}

Strings EventNames(const std::vector<ScheduleEvent>& events) {
  Strings out;
  for (const ScheduleEvent& e : events) out.emplace_back(EventTypeName(e.type));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Resources, services, customers

TEST_CASE("resources: created with their fields; an empty zone means the tenant's") {
  ScheduleWorld w;
  Resource r = Must(w.scheduler->CreateResource(
      w.owner, w.acme.id, {.name = "Ann", .capacity = 2, .hours = Weekdays({Hours(9, 17)})}));
  CHECK(r.id.valid());
  CHECK(r.name == "Ann");
  CHECK(r.kind == ResourceKind::kStaff);
  CHECK(r.capacity == 2);
  CHECK(r.time_zone == "America/New_York");
  CHECK(r.is_active);
  CHECK(r.hours == Weekdays({Hours(9, 17)}));
  CHECK(r.created_at == w.clock.Now());

  Resource got = Must(w.scheduler->GetResource(w.owner, w.acme.id, r.id));
  CHECK(got.name == "Ann");
  CHECK(got.capacity == 2);
  CHECK(got.hours == r.hours);

  Resource room = Must(w.scheduler->CreateResource(
      w.owner, w.acme.id,
      {.name = "Room 1", .kind = ResourceKind::kRoom, .time_zone = "Europe/London"}));
  CHECK(room.kind == ResourceKind::kRoom);
  CHECK(room.time_zone == "Europe/London");
  CHECK(room.id != r.id);
  CHECK(Must(w.scheduler->ListResources(w.owner, w.acme.id)).size() == 2);
  CHECK(Must(w.scheduler->ListResources(w.root_p, w.globex.id)).empty());
}

TEST_CASE("resources: bad input names the field and changes nothing") {
  ScheduleWorld w;
  auto create = [&](const ResourceSpec& spec) {
    return w.scheduler->CreateResource(w.owner, w.acme.id, spec);
  };
  CHECK_INVALID(create({.name = "A", .capacity = 0}), "capacity");
  CHECK_INVALID(create({.name = "A", .capacity = -3}), "capacity");
  CHECK_INVALID(create({.name = ""}), "name");
  CHECK_INVALID(create({.name = "A", .time_zone = "Mars/Olympus_Mons"}), "time_zone");
  CHECK_INVALID(create({.name = "A", .hours = Weekly({0}, {Hours(17, 9)})}), "working_hours");
  CHECK_INVALID(create({.name = "A", .hours = Weekly({0}, {Hours(9, 9)})}), "working_hours");
  CHECK_INVALID(create({.name = "A", .hours = Weekly({2}, {Hours(9, 0, 24, 30)})}),
                "working_hours");
  CHECK_INVALID(create({.name = "A", .hours = Weekly({6}, {DailyInterval{-60min, 60min}})}),
                "working_hours");
  {
    WorkingHours bad_override;
    bad_override.overrides.push_back({.date = {2026, 3, 9}, .hours = {Hours(12, 10)}});
    CHECK_CODE(create({.name = "A", .hours = bad_override}), StatusCode::kInvalidArgument);
    CHECK_INVALID(create({.name = "A", .hours = bad_override}), "overrides");
    WorkingHours no_such_day;
    no_such_day.overrides.push_back({.date = {2026, 2, 30}, .hours = {}});
    CHECK_CODE(create({.name = "A", .hours = no_such_day}), StatusCode::kInvalidArgument);
    CHECK_INVALID(create({.name = "A", .hours = no_such_day}), "overrides");
    WorkingHours reversed_off;
    reversed_off.time_off.push_back({.start = Mon(12), .end = Mon(10), .reason = "?"});
    CHECK_CODE(create({.name = "A", .hours = reversed_off}), StatusCode::kInvalidArgument);
    CHECK_INVALID(create({.name = "A", .hours = reversed_off}), "time_off");
  }
  CHECK(Must(w.scheduler->ListResources(w.root_p, w.acme.id)).empty());

  // An update with bad input leaves the stored resource as it was.
  Resource r = w.AddResource({.name = "Ann", .capacity = 2, .time_zone = "UTC"});
  Resource bad = r;
  bad.capacity = 0;
  CHECK_INVALID(w.scheduler->UpdateResource(w.owner, w.acme.id, bad), "capacity");
  bad = r;
  bad.time_zone = "Nowhere/Special";
  CHECK_INVALID(w.scheduler->UpdateResource(w.owner, w.acme.id, bad), "time_zone");
  bad = r;
  bad.name = "";
  CHECK_INVALID(w.scheduler->UpdateResource(w.owner, w.acme.id, bad), "name");
  Resource now = Must(w.scheduler->GetResource(w.owner, w.acme.id, r.id));
  CHECK(now.capacity == 2);
  CHECK(now.time_zone == "UTC");
  CHECK(now.name == "Ann");
}

TEST_CASE("an enum field out of range is invalid_argument naming it, and changes nothing") {
  // Storage writes an enum by its name; one with no name was written as "unknown", which
  // SQL storage cannot read back, so every later call on the tenant failed.
  Salon w;
  const auto bad_kind = static_cast<ResourceKind>(7);
  const auto bad_status = static_cast<AppointmentStatus>(7);
  const auto bad_customer_status = static_cast<CustomerStatus>(7);
  const Appointment booked = Must(w.Book(w.owner, w.Cut(Mon(10))));
  const Strings before = w.Snapshot();
  const std::size_t events = w.events.size();

  CHECK_INVALID(w.scheduler->CreateResource(w.owner, w.acme.id, {.name = "Bob", .kind = bad_kind}),
                "kind");
  Resource ann = w.ann;
  ann.kind = bad_kind;
  CHECK_INVALID(w.scheduler->UpdateResource(w.owner, w.acme.id, ann), "kind");
  Customer pat = w.pat;
  pat.status = bad_customer_status;
  CHECK_INVALID(w.scheduler->UpdateCustomer(w.owner, w.acme.id, pat), "status");
  CHECK_INVALID(w.scheduler->SetStatus(w.owner, w.acme.id, booked.id, bad_status), "status");

  // Nothing changed, here or in storage, which a new Scheduler reads whole.
  CHECK(w.Snapshot() == before);
  CHECK(w.events.size() == events);
  CHECK(Must(w.scheduler->ListResources(w.owner, w.acme.id)).size() == 1);
  auto fresh = Must(Scheduler::Open(*w.platform));
  const auto resources = fresh->ListResources(w.owner, w.acme.id);
  REQUIRE_MESSAGE(resources.ok(), MessageOf(resources));
  REQUIRE(resources->size() == 1);
  CHECK(resources->front().kind == ResourceKind::kStaff);
  CHECK(Must(fresh->GetCustomer(w.owner, w.acme.id, w.pat.id)).status == CustomerStatus::kActive);
  CHECK(Must(fresh->GetAppointment(w.owner, w.acme.id, booked.id)).status ==
        AppointmentStatus::kConfirmed);
  CHECK_CODE(fresh->Book(w.owner, w.acme.id, w.Cut(Mon(10))), StatusCode::kConflict);
}

TEST_CASE("resources: lowering capacity below what is booked is a conflict") {
  ScheduleWorld w;
  Resource r = w.AddResource(
      {.name = "Chair", .capacity = 2, .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service s = w.AddService({.name = "Cut", .requirements = {OneOf({r.id})}});
  Customer pat = w.AddCustomer("Pat");
  Must(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(10)}));
  Must(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(10)}));
  Resource lower = r;
  lower.capacity = 1;
  CHECK_CODE(w.scheduler->UpdateResource(w.owner, w.acme.id, lower), StatusCode::kConflict);
  CHECK(Must(w.scheduler->GetResource(w.owner, w.acme.id, r.id)).capacity == 2);
  lower.capacity = 3;
  CHECK(Must(w.scheduler->UpdateResource(w.owner, w.acme.id, lower)).capacity == 3);
}

TEST_CASE("resources and services are managed by owners and managers only") {
  ScheduleWorld w;
  for (const char* who : {"TENANT_OWNER", "TENANT_MANAGER", "SUPERUSER", "PLATFORM_MANAGER"}) {
    CAPTURE(who);
    Resource r = Must(w.scheduler->CreateResource(w.As(who), w.acme.id, {.name = who}));
    CHECK(w.scheduler->CreateService(w.As(who), w.acme.id,
                                     {.name = who, .requirements = {OneOf({r.id})}}));
  }
  Resource ann = w.AddResource({.name = "Ann"});
  for (const char* who : {"TENANT_STAFF", "CUSTOMER", "PLATFORM_SUPPORT", "PLATFORM_SALES"}) {
    CAPTURE(who);
    CHECK_CODE(w.scheduler->CreateResource(w.As(who), w.acme.id, {.name = "X"}),
               StatusCode::kPermissionDenied);
    CHECK_CODE(w.scheduler->CreateService(w.As(who), w.acme.id,
                                          {.name = "X", .requirements = {OneOf({ann.id})}}),
               StatusCode::kPermissionDenied);
    Resource renamed = ann;
    renamed.name = "Hacked";
    CHECK_CODE(w.scheduler->UpdateResource(w.As(who), w.acme.id, renamed),
               StatusCode::kPermissionDenied);
  }
  CHECK(Must(w.scheduler->GetResource(w.owner, w.acme.id, ann.id)).name == "Ann");
  CHECK(Must(w.scheduler->ListResources(w.root_p, w.acme.id)).size() == 5);
  CHECK(Must(w.scheduler->ListServices(w.root_p, w.acme.id)).size() == 4);
  // Sales may work on demo tenants.
  CHECK(w.scheduler->CreateResource(w.As("PLATFORM_SALES"), w.demo.id, {.name = "Demo chair"}));
}

TEST_CASE("UpdateResource checks the linked user like CreateResource does") {
  ScheduleWorld w;
  Resource r = w.AddResource({.name = "R", .time_zone = "UTC", .hours = AlwaysOpen()});
  // CreateResource refuses a user of another tenant.
  CHECK_CODE(w.scheduler->CreateResource(
                 w.owner, w.acme.id,
                 {.name = "X", .time_zone = "UTC", .user = w.users.at("globex:TENANT_STAFF").id}),
             StatusCode::kNotFound);
  Resource changed = r;
  changed.user = w.users.at("globex:TENANT_STAFF").id;
  auto u = w.scheduler->UpdateResource(w.owner, w.acme.id, changed);
  CHECK_CODE(u, StatusCode::kNotFound);
  CHECK(!Must(w.scheduler->GetResource(w.root_p, w.acme.id, r.id)).user.has_value());
  // A user of the tenant may be linked.
  changed.user = w.users.at("TENANT_STAFF").id;
  CHECK(Must(w.scheduler->UpdateResource(w.owner, w.acme.id, changed)).user == changed.user);
}

TEST_CASE("an override date that is not a real date is refused, and never breaks the tenant") {
  ScheduleWorld w;
  // Month 257 is not a month (date::month keeps an unsigned char: it wraps to January).
  WorkingHours bad = AlwaysOpen();
  bad.overrides.push_back({.date = {2026, 257, 1}, .hours = {}});
  auto r = w.scheduler->CreateResource(w.owner, w.acme.id,
                                       {.name = "Bad month", .time_zone = "UTC", .hours = bad});
  CHECK_CODE(r, StatusCode::kInvalidArgument);
  CHECK_INVALID(r, "overrides");
  // Year 10000 cannot be stored as YYYY-MM-DD and read back.
  WorkingHours far = AlwaysOpen();
  far.overrides.push_back({.date = {10000, 1, 1}, .hours = {}});
  auto f = w.scheduler->CreateResource(w.owner, w.acme.id,
                                       {.name = "Far", .time_zone = "UTC", .hours = far});
  CHECK_INVALID(f, "overrides");
  // Whatever was accepted must be readable by a fresh scheduler (another process).
  auto fresh = Must(Scheduler::Open(*w.platform));
  auto listed = fresh->ListResources(w.owner, w.acme.id);
  CHECK_MESSAGE(listed.ok(), "CreateResource answered "
                                 << CodeOf(f) << "; a fresh scheduler: " << MessageOf(listed));
  // UpdateResource refuses it too, and changes nothing.
  Resource ok = w.AddResource({.name = "Ok", .time_zone = "UTC", .hours = AlwaysOpen()});
  Resource changed = ok;
  changed.hours = far;
  CHECK_INVALID(w.scheduler->UpdateResource(w.owner, w.acme.id, changed), "overrides");
  CHECK(Must(w.scheduler->GetResource(w.root_p, w.acme.id, ok.id)).hours.overrides.empty());
  // An availability question with such a date is refused too.
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({ok.id})}});
  auto slots = w.scheduler->Availability(
      w.owner, w.acme.id,
      {.service = cut.id, .from = {2026, 259, 1}, .to = {2026, 259, 1}, .time_zone = "UTC"});
  CHECK_CODE(slots, StatusCode::kInvalidArgument);
  CHECK_INVALID(slots, "from");
  CHECK_INVALID(
      w.scheduler->Availability(
          w.owner, w.acme.id,
          {.service = cut.id, .from = {2026, 3, 2}, .to = {10000, 1, 1}, .time_zone = "UTC"}),
      "to");
  CHECK_INVALID(
      w.scheduler->Availability(
          w.owner, w.acme.id,
          {.service = cut.id, .from = {0, 12, 31}, .to = {2026, 3, 2}, .time_zone = "UTC"}),
      "from");
  // The last date there is may still be asked about.
  CHECK(w.scheduler->Availability(
      w.owner, w.acme.id,
      {.service = cut.id, .from = {9999, 12, 31}, .to = {9999, 12, 31}, .time_zone = "UTC"}));
}

TEST_CASE("services: created with their fields") {
  ScheduleWorld w;
  Resource ann = w.AddResource({.name = "Ann"});
  Resource room = w.AddResource({.name = "Room", .kind = ResourceKind::kRoom});
  Service s =
      Must(w.scheduler->CreateService(w.owner, w.acme.id,
                                      {.name = "Color",
                                       .duration = 90min,
                                       .buffer_before = 5min,
                                       .buffer_after = 10min,
                                       .slot_interval = 30min,
                                       .min_notice = 2h,
                                       .max_advance = 24h * 30,
                                       .price_minor = 12000,
                                       .currency = "EUR",
                                       .requirements = {OneOf({ann.id}), OneOf({room.id})}}));
  CHECK(s.id.valid());
  CHECK(s.name == "Color");
  CHECK(s.duration == 90min);
  CHECK(s.buffer_before == 5min);
  CHECK(s.buffer_after == 10min);
  CHECK(s.slot_interval == 30min);
  CHECK(s.min_notice == 2h);
  CHECK(s.max_advance == 24h * 30);
  CHECK(s.price_minor == 12000);
  CHECK(s.currency == "EUR");
  CHECK(s.requirements == std::vector<ResourceRequirement>{OneOf({ann.id}), OneOf({room.id})});
  CHECK(s.is_active);
  Service got = Must(w.scheduler->GetService(w.owner, w.acme.id, s.id));
  CHECK(got.duration == 90min);
  CHECK(got.requirements == s.requirements);
  CHECK(Must(w.scheduler->ListServices(w.owner, w.acme.id)).size() == 1);
}

TEST_CASE("services: bad input names the field and changes nothing") {
  ScheduleWorld w;
  Resource ann = w.AddResource({.name = "Ann"});
  Resource elsewhere = w.AddResource({.name = "Globex chair"}, w.globex.id);
  auto create = [&](ServiceSpec spec) {
    if (spec.requirements.empty()) spec.requirements = {OneOf({ann.id})};
    return w.scheduler->CreateService(w.owner, w.acme.id, spec);
  };
  CHECK_INVALID(create({.name = "X", .duration = 0min}), "duration");
  CHECK_INVALID(create({.name = "X", .duration = -30min}), "duration");
  CHECK_INVALID(create({.name = "X", .buffer_before = -5min}), "buffer_before");
  CHECK_INVALID(create({.name = "X", .buffer_after = -5min}), "buffer_after");
  CHECK_INVALID(create({.name = "X", .slot_interval = 0min}), "slot_interval");
  CHECK_INVALID(create({.name = "X", .slot_interval = -15min}), "slot_interval");
  CHECK_INVALID(create({.name = ""}), "name");
  // A requirement naming a resource that does not exist here.
  CHECK_CODE(create({.name = "X", .requirements = {OneOf({ResourceId(987654)})}}),
             StatusCode::kNotFound);
  CHECK_CODE(create({.name = "X", .requirements = {OneOf({elsewhere.id})}}), StatusCode::kNotFound);
  CHECK_CODE(create({.name = "X", .requirements = {OneOf({ann.id}), OneOf({elsewhere.id})}}),
             StatusCode::kNotFound);
  // "One of nothing" can never be satisfied.
  CHECK_CODE(create({.name = "X", .requirements = {OneOf({ann.id}), OneOf({})}}),
             StatusCode::kInvalidArgument);
  CHECK_INVALID(create({.name = "X", .requirements = {OneOf({ann.id}), OneOf({})}}),
                "requirements");
  CHECK(Must(w.scheduler->ListServices(w.root_p, w.acme.id)).empty());

  Service ok = Must(create({.name = "Cut"}));
  Service bad = ok;
  bad.duration = 0min;
  CHECK_INVALID(w.scheduler->UpdateService(w.owner, w.acme.id, bad), "duration");
  CHECK(Must(w.scheduler->GetService(w.owner, w.acme.id, ok.id)).duration == 30min);
}

TEST_CASE("customers: created with their fields; an empty name is invalid") {
  ScheduleWorld w;
  Customer c = Must(w.scheduler->CreateCustomer(w.owner, w.acme.id,
                                                {.name = "Pat",
                                                 .email = "pat@example.com",
                                                 .phone = "+1 555 0100",
                                                 .user = w.users.at("CUSTOMER").id}));
  CHECK(c.id.valid());
  CHECK(c.name == "Pat");
  CHECK(c.email == "pat@example.com");
  CHECK(c.phone == "+1 555 0100");
  CHECK(c.user == w.users.at("CUSTOMER").id);
  CHECK(c.status == CustomerStatus::kActive);
  CHECK(Must(w.scheduler->GetCustomer(w.owner, w.acme.id, c.id)).name == "Pat");
  CHECK_INVALID(w.scheduler->CreateCustomer(w.owner, w.acme.id, {.name = ""}), "name");
  CHECK_CODE(w.scheduler->GetCustomer(w.owner, w.acme.id, CustomerId(987654)),
             StatusCode::kNotFound);
}

TEST_CASE("notes, phone and idempotency keys: bytes no backend can store are refused") {
  // PostgreSQL text holds neither U+0000 nor bytes that are not UTF-8: it cut a phone short
  // at a NUL, and failed a booking with such notes or key as an internal error, while memory
  // and SQLite kept them. Every backend now refuses them, naming the field.
  ScheduleWorld w;
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 1, .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = w.AddCustomer("Pat");
  const std::vector<std::string> unstorable = {std::string("call\0me", 7), "caf\xe9", "\xc3(",
                                               std::string(1, '\0')};
  for (const std::string& bad : unstorable) {
    CAPTURE(bad);
    CHECK_INVALID(
        w.scheduler->Book(w.owner, w.acme.id,
                          {.service = cut.id, .customer = pat.id, .start = Mon(10), .notes = bad}),
        "notes");
    CHECK_INVALID(w.scheduler->Book(w.owner, w.acme.id,
                                    {.service = cut.id,
                                     .customer = pat.id,
                                     .start = Mon(10),
                                     .idempotency_key = "k-" + bad}),
                  "idempotency_key");
    CHECK_INVALID(w.scheduler->PlaceHold(
                      w.owner, w.acme.id,
                      {.service = cut.id, .customer = pat.id, .start = Mon(10), .notes = bad}),
                  "notes");
    CHECK_INVALID(w.scheduler->CreateCustomer(w.owner, w.acme.id, {.name = "Lee", .phone = bad}),
                  "phone");
    Customer changed = pat;
    changed.phone = "555 " + bad;
    CHECK_INVALID(w.scheduler->UpdateCustomer(w.owner, w.acme.id, changed), "phone");
  }
  // Nothing was stored: no appointment, no other customer, Pat's phone as it was.
  auto fresh = Must(Scheduler::Open(*w.platform));
  CHECK(Must(fresh->ListAppointments(w.owner, w.acme.id, Mon(0), Mon(24))).empty());
  auto customers = Must(fresh->ListCustomers(w.owner, w.acme.id));
  REQUIRE(customers.size() == 1);
  CHECK(customers[0].phone == pat.phone);
  // Tabs, newlines and any valid UTF-8 are text like any other.
  const std::string notes = "Zoë ☕\n\tline two";
  Appointment a = Must(
      w.scheduler->Book(w.owner, w.acme.id,
                        {.service = cut.id, .customer = pat.id, .start = Mon(10), .notes = notes}));
  CHECK(Must(fresh->GetAppointment(w.owner, w.acme.id, a.id)).notes == notes);
}

TEST_CASE("idempotency: a key no backend can store is refused before it is looked up") {
  // The key is looked up before the request is checked (a retry). PostgreSQL is handed text
  // up to its first NUL, so "k\0x" was looked up as "k": a booking with a key never used
  // answered as a retry of the one made with "k". Every backend refuses it, naming the field.
  Salon w;
  BookingRequest req = w.Cut(Mon(10));
  req.idempotency_key = "k";
  Must(w.Book(w.owner, req));
  for (const std::string& bad : {std::string("k\0x", 3), std::string("k\0", 2)}) {
    BookingRequest retry = req;
    retry.idempotency_key = bad;
    CHECK_INVALID(w.scheduler->Book(w.owner, w.acme.id, retry), "idempotency_key");
  }
}

TEST_CASE("time off: a reason no backend can store is refused, and changes nothing") {
  // The reason is stored inside the resource's hours (JSON). Bytes that are not UTF-8 were
  // written as they were: PostgreSQL failed the write, and SQLite kept a row whose hours no
  // longer parse, so a Scheduler opened afresh could not read the tenant's resources.
  ScheduleWorld w;
  Resource ann = w.AddResource({.name = "Ann", .time_zone = "UTC"});
  for (const std::string& bad :
       {std::string("caf\xe9"), std::string("\xc3("), std::string("off\0duty", 8)}) {
    CAPTURE(bad);
    WorkingHours hours;
    hours.time_off.push_back({.start = Mon(12), .end = Mon(13), .reason = bad});
    CHECK_INVALID(w.scheduler->CreateResource(w.owner, w.acme.id, {.name = "Bob", .hours = hours}),
                  "time_off");
    Resource changed = ann;
    changed.hours = hours;
    CHECK_INVALID(w.scheduler->UpdateResource(w.owner, w.acme.id, changed), "time_off");
  }
  auto fresh = Must(Scheduler::Open(*w.platform));
  const auto resources = fresh->ListResources(w.owner, w.acme.id);
  REQUIRE_MESSAGE(resources.ok(), MessageOf(resources));
  REQUIRE(resources->size() == 1);
  CHECK(resources->front().hours.time_off.empty());
  // Any valid UTF-8 is a reason like any other.
  Resource away = ann;
  away.hours.time_off.push_back(
      {.start = Mon(12), .end = Mon(13), .reason = "Zo\xc3\xab \xe2\x98\x95"});
  Must(w.scheduler->UpdateResource(w.owner, w.acme.id, away));
  CHECK(Must(Must(Scheduler::Open(*w.platform))->GetResource(w.owner, w.acme.id, ann.id))
            .hours.time_off.at(0)
            .reason == "Zo\xc3\xab \xe2\x98\x95");
}

TEST_CASE("another tenant's ids are not found, whoever asks from the wrong tenant") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  Resource gx = w.AddResource(
      {.name = "Globex chair", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})}, w.globex.id);
  Service gcut =
      w.AddService({.name = "Globex cut", .requirements = {OneOf({gx.id})}}, w.globex.id);
  Customer gpat = w.AddCustomer("Globex Pat", std::nullopt, w.globex.id);
  const Strings before = w.Snapshot();
  w.events.clear();

  Principal intruder = w.As("globex:TENANT_OWNER");
  // Addressing acme's tenant id at all.
  CHECK_CODE(w.scheduler->CreateResource(intruder, w.acme.id, {.name = "X"}),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->ListResources(intruder, w.acme.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetResource(intruder, w.acme.id, w.ann.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetAppointment(intruder, w.acme.id, a.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->ListAppointments(intruder, w.acme.id, Mon(0), Tue(0)),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Book(intruder, w.acme.id, w.Cut(Mon(11))), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Cancel(intruder, w.acme.id, a.id), StatusCode::kNotFound);
  CHECK_CODE(
      w.scheduler->Availability(
          intruder, w.acme.id,
          {.service = w.cut.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"}),
      StatusCode::kNotFound);
  // Acme's objects through the intruder's own tenant id.
  CHECK_CODE(w.scheduler->GetResource(intruder, w.globex.id, w.ann.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetService(intruder, w.globex.id, w.cut.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetCustomer(intruder, w.globex.id, w.pat.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetAppointment(intruder, w.globex.id, a.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Cancel(intruder, w.globex.id, a.id), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Reschedule(intruder, w.globex.id, a.id, Mon(11)), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Book(intruder, w.globex.id,
                               {.service = w.cut.id, .customer = gpat.id, .start = Mon(11)}),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Book(intruder, w.globex.id,
                               {.service = gcut.id, .customer = w.pat.id, .start = Mon(11)}),
             StatusCode::kNotFound);
  // And acme's owner cannot reach into globex through acme's tenant id either.
  CHECK_CODE(w.scheduler->GetResource(w.owner, w.acme.id, gx.id), StatusCode::kNotFound);
  CHECK_CODE(w.Book(w.owner, {.service = gcut.id, .customer = w.pat.id, .start = Mon(11)}),
             StatusCode::kNotFound);
  CHECK_CODE(w.Book(w.owner, {.service = w.cut.id, .customer = gpat.id, .start = Mon(11)}),
             StatusCode::kNotFound);

  CHECK(w.Snapshot() == before);
  CHECK(w.Snapshot(w.globex.id).empty());
  CHECK(w.events.empty());
}

TEST_CASE("unknown service, customer and appointment ids are not found") {
  Salon w;
  CHECK_CODE(
      w.Book(w.owner, {.service = ServiceId(987654), .customer = w.pat.id, .start = Mon(10)}),
      StatusCode::kNotFound);
  CHECK_CODE(
      w.Book(w.owner, {.service = w.cut.id, .customer = CustomerId(987654), .start = Mon(10)}),
      StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetAppointment(w.owner, w.acme.id, AppointmentId(987654)),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Cancel(w.owner, w.acme.id, AppointmentId(987654)), StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, AppointmentId(987654), Mon(10)),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetResource(w.owner, w.acme.id, ResourceId(987654)),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->GetService(w.owner, w.acme.id, ServiceId(987654)), StatusCode::kNotFound);
  CHECK(w.Snapshot().empty());
}

// ---------------------------------------------------------------------------------------
// The booking rules

TEST_CASE(
    "a booking ends one duration after its start, copies the service's buffers, is version 1") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service s = w.AddService({.name = "Cut",
                            .duration = 45min,
                            .buffer_before = 5min,
                            .buffer_after = 10min,
                            .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  Appointment a = Must(
      w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(10), .notes = "fringe"}));
  CHECK(a.id.valid());
  CHECK(a.service == s.id);
  CHECK(a.customer == pat.id);
  CHECK(a.resources == Ids{ann.id});
  CHECK(a.start == Mon(10));
  CHECK(a.end == Mon(10, 45));
  CHECK(a.buffer_before == 5min);
  CHECK(a.buffer_after == 10min);
  CHECK(a.status == AppointmentStatus::kConfirmed);
  CHECK(a.notes == "fringe");
  CHECK(a.created_by == w.owner.user.id);
  CHECK(a.created_at == w.clock.Now());
  CHECK(a.version == 1);
  CHECK_FALSE(a.outside_hours);
  CHECK_FALSE(a.series.has_value());
  CHECK(Describe(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id))) == Describe(a));
}

TEST_CASE("a new booking is pending or confirmed; any other status is invalid") {
  Salon w;
  for (AppointmentStatus st :
       {AppointmentStatus::kCompleted, AppointmentStatus::kCancelled, AppointmentStatus::kNoShow}) {
    CAPTURE(AppointmentStatusName(st));
    CHECK_CODE(w.Book(w.owner,
                      {.service = w.cut.id, .customer = w.pat.id, .start = Mon(10), .status = st}),
               StatusCode::kInvalidArgument);
    CHECK_INVALID(
        w.Book(w.owner,
               {.service = w.cut.id, .customer = w.pat.id, .start = Mon(10), .status = st}),
        "status");
  }
  CHECK(w.Snapshot().empty());
}

TEST_CASE("half-open intervals: touching is not overlapping") {
  Salon w;
  Must(w.Book(w.owner, w.Cut(Mon(10))));       // 10:00-10:30
  CHECK(w.Book(w.owner, w.Cut(Mon(10, 30))));  // starts as the first ends
  CHECK(w.Book(w.owner, w.Cut(Mon(9, 30))));   // ends as the first starts
  const Strings before = w.Snapshot();
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(10, 15))), StatusCode::kConflict);
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(9, 45))), StatusCode::kConflict);
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(10))), StatusCode::kConflict);
  CHECK(w.Snapshot() == before);
  CHECK(before.size() == 3);
}

TEST_CASE(
    "buffers stack: the earlier booking's buffer_after and the later one's buffer_before both "
    "count") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service tidy_after =
      w.AddService({.name = "Color", .buffer_after = 15min, .requirements = {OneOf({ann.id})}});
  Service prep_before =
      w.AddService({.name = "Perm", .buffer_before = 15min, .requirements = {OneOf({ann.id})}});
  Service plain = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](const Service& s, Instant start) {
    return w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = start});
  };
  // 10:00-10:30, occupying 10:00-10:45.
  Must(book(tidy_after, Mon(10)));
  // Either buffer alone would fit at 10:45 (10:30-10:45 and 10:45-11:00 only touch);
  // together they overlap.
  CHECK_CODE(book(prep_before, Mon(10, 45)), StatusCode::kConflict);  // occupies 10:30-11:15
  CHECK_CODE(book(plain, Mon(10, 30)), StatusCode::kConflict);        // inside the buffer_after
  CHECK(book(plain, Mon(9, 30)));                                     // 09:30-10:00 touches
  CHECK(book(prep_before, Mon(11)));                                  // occupies 10:45-11:30
  CHECK(w.Snapshot().size() == 3);
}

TEST_CASE("buffers are copied at booking: editing the service does not move existing occupancy") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service s =
      w.AddService({.name = "Color", .buffer_after = 30min, .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  Appointment a = Must(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(10)}));
  Service edited = s;
  edited.buffer_after = 0min;
  Must(w.scheduler->UpdateService(w.owner, w.acme.id, edited));
  CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id)).buffer_after == 30min);
  // 10:30 is still inside the old booking's buffer; 11:00 is not.
  CHECK_CODE(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(10, 30)}),
             StatusCode::kConflict);
  Appointment b = Must(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(11)}));
  CHECK(b.buffer_after == 0min);
}

TEST_CASE("buffers may lie outside working hours; the appointment itself may not") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service s = w.AddService({.name = "Color",
                            .buffer_before = 15min,
                            .buffer_after = 15min,
                            .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  CHECK(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(9)}));       // 08:45..
  CHECK(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(16, 30)}));  // ..17:15
  CHECK_CODE(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Tue(16, 45)}),
             StatusCode::kFailedPrecondition);
  CHECK_CODE(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Tue(8, 45)}),
             StatusCode::kFailedPrecondition);
}

TEST_CASE("capacity 3: three overlapping bookings fit, a fourth is a conflict") {
  ScheduleWorld w;
  Resource room = w.AddResource({.name = "Studio",
                                 .kind = ResourceKind::kRoom,
                                 .capacity = 3,
                                 .time_zone = "UTC",
                                 .hours = Weekdays({Hours(9, 17)})});
  Service yoga =
      w.AddService({.name = "Yoga", .duration = 60min, .requirements = {OneOf({room.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](Instant start) {
    return w.Book(w.owner, {.service = yoga.id, .customer = pat.id, .start = start});
  };
  Must(book(Mon(10)));
  Must(book(Mon(10, 15)));
  Appointment third = Must(book(Mon(10, 45)));
  const Strings before = w.Snapshot();
  CHECK_CODE(book(Mon(10, 30)), StatusCode::kConflict);  // 10:45-11:00 would carry four
  CHECK(w.Snapshot() == before);
  CHECK(book(Mon(11, 15)));  // after the first two ended, only the third remains
  // Cancelled bookings stop counting at once.
  Must(w.scheduler->Cancel(w.owner, w.acme.id, third.id));
  CHECK(book(Mon(10, 30)));
}

TEST_CASE("working hours: the appointment must end by closing time and start after opening") {
  Salon w;
  CHECK(w.Book(w.owner, w.Cut(Mon(9))));
  CHECK(w.Book(w.owner, w.Cut(Mon(16, 30))));
  CHECK_CODE(w.Book(w.owner, w.Cut(Tue(16, 45))), StatusCode::kFailedPrecondition);
  CHECK_CODE(w.Book(w.owner, w.Cut(Tue(8, 45))), StatusCode::kFailedPrecondition);
  CHECK_CODE(w.Book(w.owner, w.Cut(Tue(20))), StatusCode::kFailedPrecondition);
  CHECK(w.Snapshot().size() == 2);
}

TEST_CASE("weekly hours are indexed by ISO weekday: 0 is Monday, 6 is Sunday") {
  ScheduleWorld w;
  Resource mon =
      w.AddResource({.name = "Mondays", .time_zone = "UTC", .hours = Weekly({0}, {Hours(9, 17)})});
  Resource sun =
      w.AddResource({.name = "Sundays", .time_zone = "UTC", .hours = Weekly({6}, {Hours(9, 17)})});
  Service on_mon = w.AddService({.name = "M", .requirements = {OneOf({mon.id})}});
  Service on_sun = w.AddService({.name = "S", .requirements = {OneOf({sun.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](const Service& s, std::string_view start) {
    return w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = At(start)});
  };
  CHECK(book(on_mon, "2026-03-09T10:00:00Z"));                                        // Monday
  CHECK_CODE(book(on_mon, "2026-03-10T10:00:00Z"), StatusCode::kFailedPrecondition);  // Tuesday
  CHECK_CODE(book(on_mon, "2026-03-08T10:00:00Z"), StatusCode::kFailedPrecondition);  // Sunday
  CHECK(book(on_sun, "2026-03-08T10:00:00Z"));                                        // Sunday
  CHECK_CODE(book(on_sun, "2026-03-07T10:00:00Z"), StatusCode::kFailedPrecondition);  // Saturday
}

TEST_CASE("working hours are read in the resource's zone, not UTC") {
  ScheduleWorld w;
  // The tenant's zone, America/New_York: 09:00-17:00 EDT is 13:00-21:00Z on 2026-03-09.
  Resource ann = w.AddResource({.name = "Ann", .hours = Weekdays({Hours(9, 17)})});
  Service s = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](Instant start) {
    return w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = start});
  };
  CHECK_CODE(book(Mon(10)), StatusCode::kFailedPrecondition);  // 06:00 in New York
  CHECK_CODE(book(Mon(12, 45)), StatusCode::kFailedPrecondition);
  CHECK(book(Mon(13)));
  CHECK(book(Mon(20, 30)));
  CHECK_CODE(book(Tue(20, 45)), StatusCode::kFailedPrecondition);
}

TEST_CASE("split shifts: a booking in or across the lunch gap is refused") {
  ScheduleWorld w;
  Resource ann = w.AddResource(
      {.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 12), Hours(13, 17)})});
  Service s = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Service color =
      w.AddService({.name = "Color", .duration = 2h, .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](const Service& svc, Instant start) {
    return w.Book(w.owner, {.service = svc.id, .customer = pat.id, .start = start});
  };
  CHECK_CODE(book(s, Mon(11, 45)), StatusCode::kFailedPrecondition);  // runs into lunch
  CHECK_CODE(book(s, Mon(12)), StatusCode::kFailedPrecondition);      // in lunch
  CHECK_CODE(book(s, Mon(12, 45)), StatusCode::kFailedPrecondition);  // lunch until 13:00
  CHECK_CODE(book(color, Mon(11)), StatusCode::kFailedPrecondition);  // 11:00-13:00 spans it
  CHECK(w.Snapshot().empty());
  CHECK(book(s, Mon(11, 30)));  // ends as lunch starts
  CHECK(book(s, Mon(13)));      // starts as lunch ends
  CHECK(book(color, Mon(9)));   // the whole morning shift
}

TEST_CASE("date overrides replace the weekly hours on their date: closed, or other hours") {
  ScheduleWorld w;
  WorkingHours hours = Weekdays({Hours(9, 17)});
  hours.overrides.push_back({.date = {2026, 3, 9}, .hours = {}});                // closed
  hours.overrides.push_back({.date = {2026, 3, 10}, .hours = {Hours(18, 20)}});  // evening
  hours.overrides.push_back({.date = {2026, 3, 14}, .hours = {Hours(10, 12)}});  // a Saturday
  Resource ann = w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = hours});
  CHECK(ann.hours == hours);
  Service s = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](Instant start) {
    return w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = start});
  };
  CHECK_CODE(book(Mon(10)), StatusCode::kFailedPrecondition);
  CHECK_CODE(book(Tue(10)), StatusCode::kFailedPrecondition);
  CHECK(book(Tue(18)));
  CHECK(book(Wed(10)));  // no override: the weekly hours
  CHECK(book(At("2026-03-14T10:00:00Z")));
  CHECK_CODE(book(At("2026-03-14T12:00:00Z")), StatusCode::kFailedPrecondition);
}

TEST_CASE("time off may span midnight and closes both sides of it") {
  ScheduleWorld w;
  WorkingHours hours = smooth::testing::AlwaysOpen();
  hours.time_off.push_back({.start = Mon(22), .end = Tue(2), .reason = "night shift swap"});
  Resource ann = w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = hours});
  Service s = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](Instant start) {
    return w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = start});
  };
  CHECK_CODE(book(Mon(21, 45)), StatusCode::kFailedPrecondition);  // runs into it
  CHECK_CODE(book(Mon(23, 45)), StatusCode::kFailedPrecondition);  // across midnight
  CHECK_CODE(book(Tue(1, 45)), StatusCode::kFailedPrecondition);   // until 02:00
  CHECK(w.Snapshot().empty());
  CHECK(book(Mon(21, 30)));  // ends as time off starts
  CHECK(book(Tue(2)));       // starts as time off ends
}

TEST_CASE("open hours touching at midnight merge: a booking may run across midnight") {
  ScheduleWorld w;
  WorkingHours hours;
  hours.weekly[0] = {Hours(18, 24)};  // Monday evening
  hours.weekly[1] = {Hours(0, 6)};    // Tuesday small hours
  Resource night = w.AddResource({.name = "Night desk", .time_zone = "UTC", .hours = hours});
  Service shift =
      w.AddService({.name = "Watch", .duration = 2h, .requirements = {OneOf({night.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto book = [&](Instant start) {
    return w.Book(w.owner, {.service = shift.id, .customer = pat.id, .start = start});
  };
  CHECK_CODE(book(Tue(5)), StatusCode::kFailedPrecondition);  // past 06:00
  CHECK(book(Mon(23)));                                       // 23:00-01:00
  CHECK(book(Tue(4)));                                        // 04:00-06:00
}

// ---------------------------------------------------------------------------------------
// Multi-resource services

namespace {
// Two stylists and one room, all Monday to Friday 09:00-17:00 UTC.
struct ColorBar : ScheduleWorld {
  Resource a = AddResource({.name = "A", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Resource b = AddResource({.name = "B", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Resource r1 = AddResource({.name = "R1",
                             .kind = ResourceKind::kRoom,
                             .time_zone = "UTC",
                             .hours = Weekdays({Hours(9, 17)})});
  // A stylist and the room, for an hour.
  Service color = AddService(
      {.name = "Color", .duration = 60min, .requirements = {OneOf({a.id, b.id}), OneOf({r1.id})}});
  Service stylist =
      AddService({.name = "Cut", .duration = 60min, .requirements = {OneOf({a.id, b.id})}});
  Service room = AddService({.name = "Room", .duration = 60min, .requirements = {OneOf({r1.id})}});
  Customer pat = AddCustomer("Pat");

  Result<Appointment> Book(const Service& s, Instant start,
                           std::vector<std::optional<ResourceId>> resources = {}) {
    return ScheduleWorld::Book(
        owner,
        {.service = s.id, .customer = pat.id, .start = start, .resources = std::move(resources)});
  }
};
}  // namespace

TEST_CASE("multi-resource: all or nothing; when the only room is busy, no stylist is booked") {
  ColorBar w;
  REQUIRE(w.a.id < w.b.id);
  Must(w.Book(w.room, Mon(10)));
  const Strings before = w.Snapshot();
  w.events.clear();
  CHECK_CODE(w.Book(w.color, Mon(10)), StatusCode::kConflict);
  CHECK_CODE(w.Book(w.color, Mon(10, 30), {w.a.id, std::nullopt}), StatusCode::kConflict);
  CHECK_CODE(w.Book(w.color, Mon(10), {std::nullopt, std::nullopt}), StatusCode::kConflict);
  CHECK(w.Snapshot() == before);
  CHECK(w.events.empty());
  // Both stylists really are free then.
  CHECK(Must(w.Book(w.stylist, Mon(10), {w.a.id})).resources == Ids{w.a.id});
  CHECK(Must(w.Book(w.stylist, Mon(10), {w.b.id})).resources == Ids{w.b.id});
  // And when the room is free, the stylist and the room are booked together.
  Appointment c = Must(w.Book(w.color, Mon(11)));
  REQUIRE(c.resources.size() == 2);
  CHECK(c.resources[1] == w.r1.id);
}

TEST_CASE("multi-resource: when every stylist is busy, the free room is not booked") {
  ColorBar w;
  Must(w.Book(w.stylist, Mon(10), {w.a.id}));
  Must(w.Book(w.stylist, Mon(10), {w.b.id}));
  CHECK_CODE(w.Book(w.color, Mon(10)), StatusCode::kConflict);
  // The room is still free at 10:00.
  CHECK(w.Book(w.room, Mon(10)));
}

TEST_CASE(
    "multi-resource: the engine picks the least-loaded free resource of the day, then the lowest "
    "id") {
  ColorBar w;
  REQUIRE(w.a.id < w.b.id);
  CHECK(Must(w.Book(w.stylist, Mon(9))).resources == Ids{w.a.id});   // 0 h vs 0 h: lowest id
  CHECK(Must(w.Book(w.stylist, Mon(10))).resources == Ids{w.b.id});  // A 1 h, B 0 h
  CHECK(Must(w.Book(w.stylist, Mon(11))).resources == Ids{w.a.id});  // 1 h each: lowest id
  CHECK(Must(w.Book(w.stylist, Mon(11))).resources == Ids{w.b.id});  // A busy at 11:00
  // A takes another hour on Monday; B is now the less loaded (A 3 h, B 2 h).
  Must(w.Book(w.stylist, Mon(14), {w.a.id}));
  CHECK(Must(w.Book(w.stylist, Mon(15))).resources == Ids{w.b.id});
  // Another day starts from zero: Tuesday's pick does not remember Monday.
  CHECK(Must(w.Book(w.stylist, Tue(9))).resources == Ids{w.a.id});
  // An explicit choice is honoured even when the other is less loaded.
  CHECK(Must(w.Book(w.stylist, Tue(10), {w.a.id})).resources == Ids{w.a.id});
}

TEST_CASE(
    "multi-resource: load is counted over the local day of the start, in the resource's zone") {
  ScheduleWorld w;
  // Tokyo is UTC+9: Tuesday 2026-03-10 there runs from 2026-03-09T15:00Z.
  Resource a = w.AddResource(
      {.name = "A", .time_zone = "Asia/Tokyo", .hours = smooth::testing::AlwaysOpen()});
  Resource b = w.AddResource(
      {.name = "B", .time_zone = "Asia/Tokyo", .hours = smooth::testing::AlwaysOpen()});
  REQUIRE(a.id < b.id);
  Service s =
      w.AddService({.name = "Cut", .duration = 60min, .requirements = {OneOf({a.id, b.id})}});
  Service long_one =
      w.AddService({.name = "Long", .duration = 3h, .requirements = {OneOf({a.id, b.id})}});
  Customer pat = w.AddCustomer("Pat");
  // Tuesday 01:00-04:00 in Tokyo, still Monday in UTC.
  Must(w.Book(w.owner,
              {.service = long_one.id, .customer = pat.id, .start = Mon(16), .resources = {a.id}}));
  // Monday 19:00 in Tokyo: neither has anything that Tokyo day, so the lowest id.
  CHECK(Must(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(10)})).resources ==
        Ids{a.id});
  // Tuesday 11:00 in Tokyo: A already has 3 hours that Tokyo day.
  CHECK(Must(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Tue(2)})).resources ==
        Ids{b.id});
}

TEST_CASE("multi-resource: one resource in two requirements is never assigned twice") {
  ColorBar w;
  // A stylist, and specifically A as the second pair of hands.
  Service pair = w.AddService({.name = "Bridal",
                               .duration = 60min,
                               .requirements = {OneOf({w.a.id, w.b.id}), OneOf({w.a.id})}});
  Appointment p = Must(w.Book(pair, Mon(10)));
  CHECK(p.resources == Ids{w.b.id, w.a.id});
  // With B busy, A cannot fill both requirements, so nothing is booked.
  Must(w.Book(w.stylist, Mon(14), {w.b.id}));
  const Strings before = w.Snapshot();
  CHECK_CODE(w.Book(pair, Mon(14)), StatusCode::kConflict);
  CHECK(w.Snapshot() == before);
  CHECK(w.Book(w.stylist, Mon(14), {w.a.id}));  // A was left untouched
}

TEST_CASE("multi-resource: requirements that cannot each have their own resource say so") {
  ScheduleWorld w;
  Resource b = w.AddResource({.name = "B", .time_zone = "UTC", .hours = AlwaysOpen()});
  Resource c = w.AddResource({.name = "C", .time_zone = "UTC", .hours = Weekdays({Hours(14, 17)})});
  // B for the first; C or B for the second. At 10:00 C is closed and B is free: no
  // resource is busy and one is open for each requirement, but the second's only open one
  // is the first's.
  Service pair = w.AddService(
      {.name = "Pair", .duration = 60min, .requirements = {OneOf({b.id}), OneOf({c.id, b.id})}});
  Customer pat = w.AddCustomer("Pat");
  auto at = [&](Instant start) {
    return w.Book(w.owner, {.service = pair.id, .customer = pat.id, .start = start});
  };
  auto refused = at(Mon(10));
  CHECK_CODE(refused, StatusCode::kFailedPrecondition);
  CHECK(MessageOf(refused) ==
        "resources: at 2026-03-09T10:00:00Z the requirements cannot each "
        "have a resource of their own");
  CHECK(w.Snapshot().empty());
  CHECK(Must(at(Mon(14))).resources == Ids{b.id, c.id});  // C open: each has its own
  // With B and C both taken at 15:00, capacity is what stands in the way: conflict.
  Must(w.Book(w.owner, {.service = pair.id, .customer = pat.id, .start = Mon(15)}));
  CHECK_CODE(at(Mon(15)), StatusCode::kConflict);
}

TEST_CASE("multi-resource: a requested resource outside its requirement's set is invalid") {
  ColorBar w;
  CHECK_CODE(w.Book(w.color, Mon(10), {w.r1.id, std::nullopt}), StatusCode::kInvalidArgument);
  CHECK_CODE(w.Book(w.color, Mon(10), {std::nullopt, w.a.id}), StatusCode::kInvalidArgument);
  // One entry per requirement, or none at all.
  CHECK_CODE(w.Book(w.color, Mon(10), {w.a.id}), StatusCode::kInvalidArgument);
  CHECK_CODE(w.Book(w.color, Mon(10), {w.a.id, w.r1.id, std::nullopt}),
             StatusCode::kInvalidArgument);
  CHECK_INVALID(w.Book(w.color, Mon(10), {w.r1.id, std::nullopt}), "resources");
  CHECK_INVALID(w.Book(w.color, Mon(10), {std::nullopt, w.a.id}), "resources");
  CHECK_INVALID(w.Book(w.color, Mon(10), {w.a.id}), "resources");
  CHECK_INVALID(w.Book(w.color, Mon(10), {w.a.id, w.r1.id, std::nullopt}), "resources");
  CHECK(w.Snapshot().empty());
  // Asked for by name, B is used; the room is picked.
  CHECK(Must(w.Book(w.color, Mon(10), {w.b.id, std::nullopt})).resources == Ids{w.b.id, w.r1.id});
}

// ---------------------------------------------------------------------------------------
// Reschedule, cancel, status, versions

TEST_CASE("reschedule: moving onto itself by one slot works; its old time is freed at once") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));  // 10:00-10:30
  w.events.clear();
  Appointment moved = Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(10, 15), 1));
  CHECK(moved.id == a.id);
  CHECK(moved.start == Mon(10, 15));
  CHECK(moved.end == Mon(10, 45));
  CHECK(moved.version == 2);
  CHECK(moved.resources == a.resources);
  REQUIRE(w.events.size() == 1);
  CHECK(w.events[0].type == EventType::kRescheduled);
  // 09:45-10:15 only touches the new time; it would have overlapped the old one.
  CHECK(w.Book(w.owner, w.Cut(Mon(9, 45))));
  CHECK(w.Snapshot().size() == 2);
}

TEST_CASE("reschedule: the old occupancy, buffers included, never blocks the new one") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service s = w.AddService({.name = "Color",
                            .buffer_before = 15min,
                            .buffer_after = 15min,
                            .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  Appointment a = Must(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = Mon(10)}));
  Appointment later = Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(10, 15)));
  CHECK(later.start == Mon(10, 15));
  Appointment earlier = Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(10)));
  CHECK(earlier.start == Mon(10));
  CHECK(earlier.version == 3);
}

TEST_CASE("reschedule: onto a resource made inactive says so, not that hours are closed") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  Resource ann = w.ann;
  ann.is_active = false;
  Must(w.scheduler->UpdateResource(w.owner, w.acme.id, ann));
  const Strings before = w.Snapshot();
  // 11:00 is inside Ann's hours and free: only her being inactive stands in the way, as it
  // does for a booking naming her.
  auto moved = w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(11));
  CHECK_CODE(moved, StatusCode::kFailedPrecondition);
  CHECK(MessageOf(moved) == fmt::format("resources: resource {} is not active", w.ann.id));
  auto booked = w.Book(
      w.owner,
      {.service = w.cut.id, .customer = w.pat.id, .start = Mon(11), .resources = {w.ann.id}});
  CHECK(MessageOf(booked) == MessageOf(moved));
  CHECK(w.Snapshot() == before);
}

TEST_CASE("reschedule: a taken, closed, past or stale move is refused and changes nothing") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  Must(w.Book(w.owner, w.Cut(Mon(11))));
  const Strings before = w.Snapshot();
  w.events.clear();
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(10, 45)), StatusCode::kConflict);
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(20)),
             StatusCode::kFailedPrecondition);
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, w.clock.Now() - 1h),
             StatusCode::kFailedPrecondition);
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(14), 2), StatusCode::kConflict);
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(14), 0), StatusCode::kConflict);
  CHECK(w.Snapshot() == before);
  CHECK(w.events.empty());
  // With the right version it goes through.
  CHECK(Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(14), 1)).version == 2);
  // The version it had before is now stale.
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(15), 1), StatusCode::kConflict);
  CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id)).start == Mon(14));
}

TEST_CASE("reschedule: keeps the appointment's resources after the service changed") {
  ScheduleWorld w;
  Resource ann = w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = AlwaysOpen()});
  Resource room = w.AddResource({.name = "Room", .time_zone = "UTC", .hours = AlwaysOpen()});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  Appointment a = Must(w.Book(w.owner, {.service = cut.id, .customer = pat.id, .start = Mon(10)}));
  REQUIRE(a.resources == std::vector<ResourceId>{ann.id});
  // The service now also needs a room.
  Service s = cut;
  s.requirements.push_back(OneOf({room.id}));
  Must(w.scheduler->UpdateService(w.owner, w.acme.id, s));
  Appointment moved = Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(11)));
  CHECK(moved.resources.size() == 1);
  CHECK(moved.resources == std::vector<ResourceId>{ann.id});
}

TEST_CASE("reschedule: the kept resources' capacity and hours decide, not the service's new ones") {
  Salon w;
  Resource bob =
      w.AddResource({.name = "Bob", .time_zone = "UTC", .hours = Weekdays({Hours(9, 12)})});
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  Must(w.Book(w.owner, w.Cut(Mon(11))));  // Ann is busy at 11:00
  // The service now uses Bob only, who is free all morning and closes at 12:00.
  Service s = w.cut;
  s.requirements = {OneOf({bob.id})};
  Must(w.scheduler->UpdateService(w.owner, w.acme.id, s));
  // Ann is busy at 11:00: a conflict, though Bob is free.
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(11)), StatusCode::kConflict);
  // Ann closes at 17:00: outside her working hours.
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(17)),
             StatusCode::kFailedPrecondition);
  // Ann works at 14:00, Bob does not: the move is allowed and stays on Ann.
  CHECK(Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(14))).resources ==
        Ids{w.ann.id});
}

TEST_CASE("cancel frees capacity at once: the same slot is bookable immediately") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(10))), StatusCode::kConflict);
  Appointment c = Must(w.scheduler->Cancel(w.owner, w.acme.id, a.id));
  CHECK(c.status == AppointmentStatus::kCancelled);
  CHECK(c.version == 2);
  CHECK_FALSE(c.Occupies());
  CHECK(w.Book(w.owner, w.Cut(Mon(10))));
  // The cancelled one stays cancelled and the new one holds the slot.
  Customer other = w.AddCustomer("Other");
  CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id)).status ==
        AppointmentStatus::kCancelled);
  CHECK_CODE(w.Book(w.owner, {.service = w.cut.id, .customer = other.id, .start = Mon(10)}),
             StatusCode::kConflict);
}

TEST_CASE("status: pending occupies like confirmed; completed and no_show stop occupying") {
  Salon w;
  Appointment p = Must(w.Book(w.owner, {.service = w.cut.id,
                                        .customer = w.pat.id,
                                        .start = Mon(10),
                                        .status = AppointmentStatus::kPending}));
  CHECK(p.status == AppointmentStatus::kPending);
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(10))), StatusCode::kConflict);
  w.events.clear();
  Appointment c =
      Must(w.scheduler->SetStatus(w.owner, w.acme.id, p.id, AppointmentStatus::kConfirmed));
  CHECK(c.status == AppointmentStatus::kConfirmed);
  CHECK(c.version == 2);
  REQUIRE(w.events.size() == 1);
  CHECK(w.events[0].type == EventType::kUpdated);
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(10))), StatusCode::kConflict);
  Appointment done =
      Must(w.scheduler->SetStatus(w.owner, w.acme.id, p.id, AppointmentStatus::kCompleted));
  CHECK(done.version == 3);
  CHECK(w.Book(w.owner, w.Cut(Mon(10))));

  Appointment q = Must(w.Book(w.owner, w.Cut(Mon(11))));
  Must(w.scheduler->SetStatus(w.owner, w.acme.id, q.id, AppointmentStatus::kNoShow));
  CHECK(w.Book(w.owner, w.Cut(Mon(11))));
}

TEST_CASE("version increments on every change") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, {.service = w.cut.id,
                                        .customer = w.pat.id,
                                        .start = Mon(10),
                                        .status = AppointmentStatus::kPending}));
  CHECK(a.version == 1);
  CHECK(Must(w.scheduler->SetStatus(w.owner, w.acme.id, a.id, AppointmentStatus::kConfirmed))
            .version == 2);
  CHECK(Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(11))).version == 3);
  CHECK(Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(12), 3)).version == 4);
  CHECK(Must(w.scheduler->Cancel(w.owner, w.acme.id, a.id)).version == 5);
  CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id)).version == 5);
  // Refused changes do not count.
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(13), 4), StatusCode::kConflict);
  CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id)).version == 5);
}

TEST_CASE("status: SetStatus(cancelled) is refused: cancelling is Cancel's, which frees capacity") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  w.events.clear();
  auto r = w.scheduler->SetStatus(w.owner, w.acme.id, a.id, AppointmentStatus::kCancelled);
  CHECK_INVALID(r, "status");
  CHECK(w.events.empty());
  Appointment now = Must(w.scheduler->GetAppointment(w.owner, w.acme.id, a.id));
  CHECK(now.status == AppointmentStatus::kConfirmed);
  CHECK(now.version == a.version);
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(10))), StatusCode::kConflict);  // still occupied
}

TEST_CASE("status: nothing comes back to occupy a slot it gave up") {
  Salon w;
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  // Once completed, the slot is reused; the completed one may not return to occupying it.
  Must(w.scheduler->SetStatus(w.owner, w.acme.id, a.id, AppointmentStatus::kCompleted));
  Appointment b = Must(w.Book(w.owner, w.Cut(Mon(10))));
  for (AppointmentStatus st : {AppointmentStatus::kConfirmed, AppointmentStatus::kPending}) {
    CAPTURE(AppointmentStatusName(st));
    auto back = w.scheduler->SetStatus(w.owner, w.acme.id, a.id, st);
    CHECK_FALSE(back);
    CHECK_CODE(back, StatusCode::kFailedPrecondition);
    CHECK(StartsWith(MessageOf(back), "status: "));
  }
  CHECK(w.Occupying() == Strings{Describe(b)});
  // A cancelled appointment cannot be moved back into use either.
  Must(w.scheduler->Cancel(w.owner, w.acme.id, b.id));
  auto moved = w.scheduler->Reschedule(w.owner, w.acme.id, b.id, Mon(11));
  CHECK_FALSE(moved);
  CHECK_CODE(moved, StatusCode::kFailedPrecondition);
  CHECK(StartsWith(MessageOf(moved), "status: "));
  CHECK(w.Occupying().empty());
  CHECK(w.Book(w.owner, w.Cut(Mon(11))));
}

TEST_CASE(
    "reschedule keeps the assigned resources: a move onto a time they are busy is a conflict") {
  ColorBar w;
  Appointment c = Must(w.Book(w.color, Mon(10), {w.a.id, std::nullopt}));
  Must(w.Book(w.stylist, Mon(14), {w.a.id}));
  const Strings before = w.Snapshot();
  // B is free at 14:00, but the appointment is A's.
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, c.id, Mon(14)), StatusCode::kConflict);
  CHECK(w.Snapshot() == before);
  Appointment moved = Must(w.scheduler->Reschedule(w.owner, w.acme.id, c.id, Mon(15)));
  CHECK(moved.resources == c.resources);
}

TEST_CASE("customers' reschedules obey the same notice rules as their bookings") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = smooth::testing::AlwaysOpen()});
  Service s = w.AddService(
      {.name = "Cut", .min_notice = 2h, .max_advance = 24h * 7, .requirements = {OneOf({ann.id})}});
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  Principal customer = w.As("CUSTOMER");
  const Instant now = w.clock.Now();
  Appointment a = Must(w.Book(customer, {.service = s.id, .customer = me.id, .start = now + 24h}));
  CHECK_CODE(w.scheduler->Reschedule(customer, w.acme.id, a.id, now + 1h),
             StatusCode::kFailedPrecondition);
  CHECK_CODE(w.scheduler->Reschedule(customer, w.acme.id, a.id, now + 24h * 8),
             StatusCode::kFailedPrecondition);
  CHECK(Must(w.scheduler->GetAppointment(customer, w.acme.id, a.id)).start == now + 24h);
  CHECK(w.scheduler->Reschedule(customer, w.acme.id, a.id, now + 3h));
  // The owner is not bound by them.
  CHECK(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, now + 30min));
}

TEST_CASE("concurrent bookings of one slot: exactly capacity of them succeed") {
  ScheduleWorld w;
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 2, .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service s = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = w.AddCustomer("Pat");
  std::atomic<int> ok{0}, conflict{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      // Staggered by 15 minutes in pairs, all overlapping 10:15-10:30.
      auto r = w.scheduler->Book(
          w.owner, w.acme.id,
          {.service = s.id, .customer = pat.id, .start = Mon(10) + 15min * (i % 2)});
      if (r) {
        ++ok;
      } else if (r.error().code() == StatusCode::kConflict) {
        ++conflict;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(ok.load() == 2);
  CHECK(conflict.load() == 6);
  CHECK(other.load() == 0);
  CHECK(w.Occupying().size() == 2);
  CHECK(w.events.size() == 2);
}

// ---------------------------------------------------------------------------------------
// Idempotency

TEST_CASE(
    "idempotency: a retry with the same key returns the same appointment and books nothing more") {
  Salon w;
  BookingRequest req = w.Cut(Mon(10));
  req.idempotency_key = "checkout-7f3a";
  Appointment first = Must(w.Book(w.owner, req));
  CHECK(first.idempotency_key == std::optional<std::string>("checkout-7f3a"));
  const Strings before = w.Snapshot();
  const std::size_t events_before = w.events.size();
  Appointment again = Must(w.Book(w.owner, req));
  CHECK(again.id == first.id);
  CHECK(again.version == first.version);
  CHECK(w.Snapshot() == before);
  CHECK(w.events.size() == events_before);
}

TEST_CASE("idempotency: the same key with different content is a conflict") {
  Salon w;
  Service other_service = w.AddService({.name = "Trim", .requirements = {OneOf({w.ann.id})}});
  Customer other_customer = w.AddCustomer("Quinn");
  BookingRequest req = w.Cut(Mon(10));
  req.idempotency_key = "k1";
  Must(w.Book(w.owner, req));
  const Strings before = w.Snapshot();

  BookingRequest later = req;
  later.start = Mon(11);
  CHECK_CODE(w.Book(w.owner, later), StatusCode::kConflict);
  BookingRequest someone_else = req;
  someone_else.customer = other_customer.id;
  CHECK_CODE(w.Book(w.owner, someone_else), StatusCode::kConflict);
  BookingRequest trim = req;
  trim.service = other_service.id;
  trim.start = Mon(12);
  CHECK_CODE(w.Book(w.owner, trim), StatusCode::kConflict);
  CHECK(w.Snapshot() == before);
  // A different key is a different booking.
  BookingRequest fresh = later;
  fresh.idempotency_key = "k2";
  CHECK(w.Book(w.owner, fresh));
}

TEST_CASE("idempotency: a retry after the booking was moved still finds it") {
  // The retry is compared with the request as it was booked, not with where the appointment
  // is now: a client retrying its booking must not be told its key was used for another.
  Salon w;
  BookingRequest req = w.Cut(Mon(10));
  req.idempotency_key = "checkout-9";
  Appointment first = Must(w.Book(w.owner, req));
  CHECK_FALSE(first.booked_start.has_value());
  Appointment moved = Must(w.scheduler->Reschedule(w.owner, w.acme.id, first.id, Mon(14)));
  CHECK(moved.booked_start == std::optional<Instant>(Mon(10)));
  // A second move keeps the start it was booked at.
  moved = Must(w.scheduler->Reschedule(w.owner, w.acme.id, first.id, Mon(15)));
  CHECK(moved.booked_start == std::optional<Instant>(Mon(10)));
  const Strings before = w.Snapshot();
  const std::size_t events_before = w.events.size();

  Appointment again = Must(w.Book(w.owner, req));
  CHECK(again.id == first.id);
  CHECK(again.start == Mon(15));
  CHECK(again.version == moved.version);
  CHECK(w.Snapshot() == before);
  CHECK(w.events.size() == events_before);
  // The key with the start it has now is not the request it was booked with.
  BookingRequest at_new_start = req;
  at_new_start.start = Mon(15);
  CHECK_CODE(w.Book(w.owner, at_new_start), StatusCode::kConflict);
  CHECK(w.Snapshot() == before);

  // Storage keeps it: a Scheduler opened afresh answers the same.
  auto fresh = Must(Scheduler::Open(*w.platform));
  Appointment stored = Must(fresh->GetAppointment(w.owner, w.acme.id, first.id));
  CHECK(stored.booked_start == std::optional<Instant>(Mon(10)));
  CHECK(Must(fresh->Book(w.owner, w.acme.id, req)).id == first.id);
}

TEST_CASE("idempotency keys belong to one tenant") {
  Salon w;
  Resource gx = w.AddResource(
      {.name = "Globex chair", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})}, w.globex.id);
  Service gcut =
      w.AddService({.name = "Globex cut", .requirements = {OneOf({gx.id})}}, w.globex.id);
  Customer gpat = w.AddCustomer("Globex Pat", std::nullopt, w.globex.id);
  BookingRequest req = w.Cut(Mon(10));
  req.idempotency_key = "order-1";
  Appointment a = Must(w.Book(w.owner, req));
  Appointment g = Must(w.scheduler->Book(
      w.As("globex:TENANT_OWNER"), w.globex.id,
      {.service = gcut.id, .customer = gpat.id, .start = Mon(10), .idempotency_key = "order-1"}));
  CHECK(g.id != a.id);
  CHECK(g.idempotency_key == std::optional<std::string>("order-1"));
  CHECK(w.Snapshot(w.globex.id).size() == 1);
  CHECK(w.Snapshot().size() == 1);
  // Each tenant's retry finds its own booking.
  CHECK(Must(w.Book(w.owner, req)).id == a.id);
}

// ---------------------------------------------------------------------------------------
// Notice: the past, min_notice, max_advance

TEST_CASE("nobody books in the past; starting exactly now is allowed") {
  ScheduleWorld w;
  Resource ann = w.AddResource(
      {.name = "Ann", .capacity = 10, .time_zone = "UTC", .hours = smooth::testing::AlwaysOpen()});
  Service s = w.AddService({.name = "Cut", .requirements = {OneOf({ann.id})}});
  Customer pat = w.AddCustomer("Pat");
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  const Instant now = w.clock.Now();
  for (const char* who : {"SUPERUSER", "TENANT_OWNER", "TENANT_MANAGER", "TENANT_STAFF"}) {
    CAPTURE(who);
    CHECK_CODE(w.Book(w.As(who), {.service = s.id, .customer = pat.id, .start = now - 15min}),
               StatusCode::kFailedPrecondition);
    CHECK_CODE(w.Book(w.As(who), {.service = s.id, .customer = pat.id, .start = now - 1us}),
               StatusCode::kFailedPrecondition);
  }
  CHECK_CODE(w.Book(w.As("CUSTOMER"), {.service = s.id, .customer = me.id, .start = now - 15min}),
             StatusCode::kFailedPrecondition);
  CHECK_CODE(
      w.Book(w.root_p,
             {.service = s.id, .customer = pat.id, .start = now - 1h, .outside_hours = true}),
      StatusCode::kFailedPrecondition);
  CHECK(MessageOf(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = now - 1us})) ==
        "start: is in the past");
  CHECK(w.Snapshot().empty());
  CHECK(w.Book(w.owner, {.service = s.id, .customer = pat.id, .start = now}));
}

TEST_CASE("customers must respect min_notice and max_advance; staff and managers need not") {
  ScheduleWorld w;
  Resource ann = w.AddResource(
      {.name = "Ann", .capacity = 10, .time_zone = "UTC", .hours = smooth::testing::AlwaysOpen()});
  Service s = w.AddService(
      {.name = "Cut", .min_notice = 2h, .max_advance = 24h * 7, .requirements = {OneOf({ann.id})}});
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  const Instant now = w.clock.Now();
  Principal customer = w.As("CUSTOMER");
  auto book = [&](const Principal& who, Instant start) {
    return w.Book(who, {.service = s.id, .customer = me.id, .start = start});
  };
  CHECK_CODE(book(customer, now + 1h + 45min), StatusCode::kFailedPrecondition);
  CHECK_CODE(book(customer, now + 2h - 1us), StatusCode::kFailedPrecondition);
  CHECK(book(customer, now + 2h));       // exactly min_notice
  CHECK(book(customer, now + 24h * 7));  // exactly max_advance
  CHECK_CODE(book(customer, now + 24h * 7 + 15min), StatusCode::kFailedPrecondition);
  CHECK(w.Snapshot().size() == 2);
  for (const char* who : {"TENANT_STAFF", "TENANT_MANAGER", "TENANT_OWNER"}) {
    CAPTURE(who);
    CHECK(book(w.As(who), now + 15min));
    CHECK(book(w.As(who), now + 24h * 14));
  }
}

// ---------------------------------------------------------------------------------------
// Booking outside working hours

TEST_CASE(
    "outside_hours: owners and managers may book outside hours, audited; capacity still holds") {
  Salon w;
  auto outside = [&](const char* who, Instant start) {
    BookingRequest req = w.Cut(start);
    req.outside_hours = true;
    return w.Book(w.As(who), req);
  };
  // Without the flag even the owner is refused.
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(20))), StatusCode::kFailedPrecondition);
  w.security->Clear();
  Appointment a = Must(outside("TENANT_OWNER", Mon(20)));
  CHECK(a.outside_hours);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 1);
  {
    // The line says who booked what.
    REQUIRE(w.security->size() >= 1);
    const std::string line = w.security->Lines().back();
    CHECK_MESSAGE(line.find(w.users.at("TENANT_OWNER").email) != std::string::npos, line);
    CHECK_MESSAGE(line.find(std::to_string(a.id.value())) != std::string::npos, line);
  }
  CHECK(outside("TENANT_MANAGER", Mon(21)));
  CHECK(outside("SUPERUSER", Mon(7)));
  CHECK(outside("PLATFORM_MANAGER", At("2026-03-14T10:00:00Z")));  // a Saturday
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 4);
  // Capacity still applies.
  CHECK_CODE(outside("TENANT_OWNER", Mon(20, 15)), StatusCode::kConflict);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 4);
  CHECK(w.Snapshot().size() == 4);
}

TEST_CASE("outside_hours: asked for inside working hours, the booking is an ordinary one") {
  // The flag lets a booking go outside hours; only one that does is flagged and audited,
  // as Reschedule decides for a move. Series occurrences and confirmed holds likewise.
  Salon w;
  w.security->Clear();
  BookingRequest req = w.Cut(Mon(10));
  req.outside_hours = true;
  Appointment inside = Must(w.Book(w.owner, req));
  CHECK_FALSE(inside.outside_hours);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 0);
  // Not flagged, so a move out of hours is refused like any other booking's.
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, inside.id, Mon(20), inside.version),
             StatusCode::kFailedPrecondition);

  // A series, Friday and Saturday at 11:00: Friday is inside Ann's hours, Saturday is not.
  SeriesRequest series{.first = w.Cut(Mon(11) + 96h), .rrule = "FREQ=DAILY;COUNT=2"};
  series.first.outside_hours = true;
  SeriesBooking booked = Must(w.scheduler->BookSeries(w.owner, w.acme.id, series));
  REQUIRE(booked.appointments.size() == 2);
  CHECK_FALSE(booked.appointments[0].outside_hours);
  CHECK(booked.appointments[1].outside_hours);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 1);

  // A hold carries the flag as asked (it is what lets the confirmation go outside hours);
  // the appointment it becomes is flagged only if it needs it.
  BookingRequest held = w.Cut(Mon(12));
  held.outside_hours = true;
  Hold h = Must(w.scheduler->PlaceHold(w.owner, w.acme.id, held, 5min));
  CHECK(h.outside_hours);
  Appointment confirmed = Must(w.scheduler->ConfirmHold(w.owner, w.acme.id, h.id));
  CHECK_FALSE(confirmed.outside_hours);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 1);
}

TEST_CASE("outside_hours: a booking made in a masquerade names the user behind it") {
  Salon w;
  const User& root = w.users.at("SUPERUSER");
  const User& owner = w.users.at("TENANT_OWNER");
  Session s = w.LoginAs(root);
  Principal as_owner = Must(
      w.platform->Authenticate(Must(w.platform->StartMasquerade(s.id, owner.id, "192.0.2.1")).id));
  w.security->Clear();
  BookingRequest req = w.Cut(Mon(20));
  req.outside_hours = true;
  Must(w.Book(as_owner, req));
  REQUIRE(w.security->size() == 1);
  boost::json::object line = testing::ParseLine(w.security->Lines().back());
  CHECK(line.at("action").as_string() == "BOOKED_OUTSIDE_HOURS");
  // As every line a masquerade causes: the user acted as, and who was behind it.
  CHECK(line.at("user_email").as_string() == owner.email);
  CHECK(line.at("hijacker_email").as_string() == root.email);
}

TEST_CASE("outside_hours: staff and customers asking for it are denied") {
  Salon w;
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  w.security->Clear();
  CHECK_CODE(
      w.Book(w.As("TENANT_STAFF"),
             {.service = w.cut.id, .customer = w.pat.id, .start = Mon(20), .outside_hours = true}),
      StatusCode::kPermissionDenied);
  CHECK_CODE(
      w.Book(w.As("CUSTOMER"),
             {.service = w.cut.id, .customer = me.id, .start = Mon(20), .outside_hours = true}),
      StatusCode::kPermissionDenied);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 0);
  CHECK(w.Snapshot().empty());
}

TEST_CASE("a Principal made before a role change is judged by the role stored now") {
  // A server holds a request's Principal while it works; the rules outside the matrix
  // (outside working hours, customers' notice) must not read the role it was made with.
  Salon w;
  Principal manager = w.As("TENANT_MANAGER");
  Appointment late = Must(
      w.Book(manager,
             {.service = w.cut.id, .customer = w.pat.id, .start = Mon(20), .outside_hours = true}));
  Must(w.platform->ChangeRole(w.root_p, manager.user.id, Role::kTenantStaff));
  // Ann's bookings are the demoted manager's own, so staff may move them.
  Resource linked = w.ann;
  linked.user = manager.user.id;
  Must(w.scheduler->UpdateResource(w.root_p, w.acme.id, linked));
  w.security->Clear();
  auto booked =
      w.Book(manager,
             {.service = w.cut.id, .customer = w.pat.id, .start = Mon(21), .outside_hours = true});
  CHECK_CODE(booked, StatusCode::kPermissionDenied);
  if (!booked) CHECK(booked.error().message() == "TENANT_STAFF may not book outside working hours");
  auto series = w.scheduler->BookSeries(manager, w.acme.id,
                                        {.first = {.service = w.cut.id,
                                                   .customer = w.pat.id,
                                                   .start = Mon(21),
                                                   .outside_hours = true},
                                         .rrule = "FREQ=DAILY;COUNT=2"});
  CHECK_CODE(series, StatusCode::kPermissionDenied);
  // Moved by someone who may no longer book outside hours, it must land inside them.
  CHECK_CODE(w.scheduler->Reschedule(manager, w.acme.id, late.id, Mon(22)),
             StatusCode::kFailedPrecondition);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 0);
  CHECK(w.Snapshot().size() == 1);

  // A member of staff made a customer gets a customer's notice rules.
  Resource open = w.AddResource({.name = "Open", .time_zone = "UTC", .hours = AlwaysOpen()});
  Service soon =
      w.AddService({.name = "Soon", .min_notice = 2h, .requirements = {OneOf({open.id})}});
  Principal staff = w.As("TENANT_STAFF");
  Must(w.platform->ChangeRole(w.root_p, staff.user.id, Role::kCustomer));
  Customer self = w.AddCustomer("Self", staff.user.id);
  const Instant now = w.clock.Now();
  CHECK_CODE(w.Book(staff, {.service = soon.id, .customer = self.id, .start = now + 1h}),
             StatusCode::kFailedPrecondition);
  const LocalDate today = Must(ToLocal("UTC", now)).date;
  const LocalDate tomorrow = Must(ToLocal("UTC", now + 24h)).date;
  std::vector<Slot> slots = Must(w.scheduler->Availability(
      staff, w.acme.id, {.service = soon.id, .from = today, .to = tomorrow, .time_zone = "UTC"}));
  REQUIRE_FALSE(slots.empty());
  CHECK_MESSAGE(slots.front().start >= now + 2h, Show(slots.front().start));
}

TEST_CASE(
    "outside_hours: a customer cannot reschedule a manager's outside-hours booking to any time") {
  Salon w;
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  Principal customer = w.As("CUSTOMER");
  // The customer may not book outside hours itself.
  CHECK_CODE(w.Book(customer, {.service = w.cut.id, .customer = me.id, .start = Mon(22)}),
             StatusCode::kFailedPrecondition);
  // The owner books one for them at 20:00, outside hours (audited).
  Appointment a = Must(w.Book(
      w.owner, {.service = w.cut.id, .customer = me.id, .start = Mon(20), .outside_hours = true}));
  REQUIRE(a.outside_hours);
  // The customer moves it to 03:00 on Wednesday: outside working hours, and nobody with
  // the right to book outside hours asked for it.
  w.security->Clear();
  auto moved = w.scheduler->Reschedule(customer, w.acme.id, a.id, Mon(3) + 48h);
  CHECK_CODE(moved, StatusCode::kFailedPrecondition);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 0);
  // Into working hours, the customer may move it; it then no longer needs the flag.
  Appointment inside = Must(w.scheduler->Reschedule(customer, w.acme.id, a.id, Wed(10)));
  CHECK_FALSE(inside.outside_hours);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 0);
}

TEST_CASE(
    "outside_hours: an owner moving such a booking keeps it flagged and audited while it needs "
    "it") {
  Salon w;
  Appointment a = Must(
      w.Book(w.owner,
             {.service = w.cut.id, .customer = w.pat.id, .start = Mon(20), .outside_hours = true}));
  w.security->Clear();
  // To another time outside hours: allowed for the owner, flagged, audited like a booking.
  Appointment later = Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(21)));
  CHECK(later.outside_hours);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 1);
  // Back inside hours: the flag goes (it says whether the time needed it), nothing audited.
  Appointment inside = Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Tue(10)));
  CHECK_FALSE(inside.outside_hours);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 1);
  // From there it is an ordinary booking: outside hours again needs a new booking.
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Tue(20)),
             StatusCode::kFailedPrecondition);
  // An ordinary booking is never moved outside hours, whoever moves it.
  Appointment b = Must(w.Book(w.owner, w.Cut(Mon(10))));
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, b.id, Mon(20)),
             StatusCode::kFailedPrecondition);
  CHECK(CountAudit(w, "BOOKED_OUTSIDE_HOURS") == 1);
}

// ---------------------------------------------------------------------------------------
// Who may do what with appointments

namespace {
// Ann is the TENANT_STAFF user's own resource; Bob is someone else's. "me" is the CUSTOMER
// user's customer record; Pat has no login.
struct Shop : ScheduleWorld {
  Resource ann = AddResource({.name = "Ann",
                              .time_zone = "UTC",
                              .user = users.at("TENANT_STAFF").id,
                              .hours = Weekdays({Hours(9, 17)})});
  Resource bob =
      AddResource({.name = "Bob", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service on_ann = AddService({.name = "Ann's cut", .requirements = {OneOf({ann.id})}});
  Service on_bob = AddService({.name = "Bob's cut", .requirements = {OneOf({bob.id})}});
  Customer pat = AddCustomer("Pat");
  Customer me = AddCustomer("Me", users.at("CUSTOMER").id);
  Appointment pat_ann =
      Must(Book(owner, {.service = on_ann.id, .customer = pat.id, .start = Mon(10)}));
  Appointment me_bob =
      Must(Book(owner, {.service = on_bob.id, .customer = me.id, .start = Mon(10)}));
  Appointment pat_bob =
      Must(Book(owner, {.service = on_bob.id, .customer = pat.id, .start = Mon(11)}));

  std::vector<AppointmentId> Visible(const Principal& who) {
    std::vector<AppointmentId> out;
    for (const Appointment& a : Must(scheduler->ListAppointments(who, acme.id, Mon(0), Tue(0)))) {
      out.push_back(a.id);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<AppointmentId> AllIds() {
    std::vector<AppointmentId> ids = {pat_ann.id, me_bob.id, pat_bob.id};
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};
}  // namespace

TEST_CASE(
    "list appointments: owners, managers and support see all; staff their resources; customers "
    "their own") {
  Shop w;
  for (const char* who :
       {"SUPERUSER", "PLATFORM_MANAGER", "PLATFORM_SUPPORT", "TENANT_OWNER", "TENANT_MANAGER"}) {
    CAPTURE(who);
    CHECK(w.Visible(w.As(who)) == w.AllIds());
  }
  CHECK(w.Visible(w.As("TENANT_STAFF")) == std::vector<AppointmentId>{w.pat_ann.id});
  CHECK(w.Visible(w.As("CUSTOMER")) == std::vector<AppointmentId>{w.me_bob.id});
  CHECK_CODE(w.scheduler->ListAppointments(w.As("globex:TENANT_OWNER"), w.acme.id, Mon(0), Tue(0)),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->ListAppointments(w.As("globex:CUSTOMER"), w.acme.id, Mon(0), Tue(0)),
             StatusCode::kNotFound);
}

TEST_CASE("list appointments: those overlapping the half-open window [from, to)") {
  Shop w;
  auto list = [&](Instant from, Instant to) {
    std::vector<AppointmentId> out;
    for (const Appointment& a : Must(w.scheduler->ListAppointments(w.owner, w.acme.id, from, to))) {
      out.push_back(a.id);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<AppointmentId> at_ten = {w.pat_ann.id, w.me_bob.id};
  std::sort(at_ten.begin(), at_ten.end());
  CHECK(list(Mon(10, 30), Mon(11)).empty());  // after 10:00-10:30, before 11:00
  CHECK(list(Mon(9), Mon(10)).empty());
  CHECK(list(Mon(10, 29), Mon(10, 30)) == at_ten);
  CHECK(list(Mon(10, 59), Mon(11, 1)) == std::vector<AppointmentId>{w.pat_bob.id});
  CHECK(list(Mon(0), Tue(0)) == w.AllIds());
}

TEST_CASE("customers: listed by id, all to the tenant's staff, its own to a customer") {
  Shop w;
  Customer third = w.AddCustomer("Third");
  auto ids = [](const std::vector<Customer>& list) {
    std::vector<CustomerId> out;
    for (const Customer& c : list) out.push_back(c.id);
    return out;
  };
  std::vector<CustomerId> all{w.pat.id, w.me.id, third.id};
  std::sort(all.begin(), all.end());
  for (const char* role : {"TENANT_OWNER", "TENANT_MANAGER", "TENANT_STAFF", "PLATFORM_SUPPORT"})
    CHECK_MESSAGE(ids(Must(w.scheduler->ListCustomers(w.As(role), w.acme.id))) == all, role);
  auto mine = Must(w.scheduler->ListCustomers(w.As("CUSTOMER"), w.acme.id));
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].id == w.me.id);
  CHECK(mine[0].name == w.me.name);
  // A customer with no record of its own sees none; another tenant's users see no tenant.
  User stranger = w.NewUser(Role::kCustomer, w.acme.id, "stranger@acme.test");
  CHECK(Must(w.scheduler->ListCustomers(Must(w.platform->ActAs(stranger.id)), w.acme.id)).empty());
  CHECK_CODE(w.scheduler->ListCustomers(w.As("globex:TENANT_OWNER"), w.acme.id),
             StatusCode::kNotFound);
  CHECK_CODE(w.scheduler->ListCustomers(w.As("PLATFORM_SALES"), w.acme.id),
             StatusCode::kPermissionDenied);
}

TEST_CASE("customers book only for themselves and see only their own appointments") {
  Shop w;
  Principal customer = w.As("CUSTOMER");
  const Strings before = w.Snapshot();
  CHECK_CODE(w.Book(customer, {.service = w.on_ann.id, .customer = w.pat.id, .start = Mon(14)}),
             StatusCode::kPermissionDenied);
  CHECK(w.Snapshot() == before);
  Appointment mine =
      Must(w.Book(customer, {.service = w.on_ann.id, .customer = w.me.id, .start = Mon(14)}));
  CHECK(mine.created_by == w.users.at("CUSTOMER").id);
  CHECK(w.scheduler->GetAppointment(customer, w.acme.id, w.me_bob.id));
  auto other = w.scheduler->GetAppointment(customer, w.acme.id, w.pat_ann.id);
  CHECK_MESSAGE(IsRefusal(CodeOf(other)), CodeOf(other));
  auto cancel_other = w.scheduler->Cancel(customer, w.acme.id, w.pat_bob.id);
  CHECK_MESSAGE(IsRefusal(CodeOf(cancel_other)), CodeOf(cancel_other));
  auto move_other = w.scheduler->Reschedule(customer, w.acme.id, w.pat_bob.id, Mon(15));
  CHECK_MESSAGE(IsRefusal(CodeOf(move_other)), CodeOf(move_other));
  CHECK(Must(w.scheduler->GetAppointment(w.owner, w.acme.id, w.pat_bob.id)).status ==
        AppointmentStatus::kConfirmed);
  // Their own they may move and cancel.
  CHECK(w.scheduler->Reschedule(customer, w.acme.id, w.me_bob.id, Mon(15)));
  CHECK(Must(w.scheduler->Cancel(customer, w.acme.id, w.me_bob.id)).status ==
        AppointmentStatus::kCancelled);
  // A customer without a customer record of their own books nothing.
  User stranger = w.NewUser(Role::kCustomer, w.acme.id, "stranger@acme.test");
  Principal s = Must(w.platform->ActAs(stranger.id));
  CHECK_CODE(w.Book(s, {.service = w.on_ann.id, .customer = w.me.id, .start = Mon(16)}),
             StatusCode::kPermissionDenied);
}

TEST_CASE("a refused reading names the rule that refused it, and is audited once") {
  Shop w;
  auto says = [](const auto& r, std::string_view text) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == StatusCode::kPermissionDenied);
    CHECK_MESSAGE(r.error().message() == text, r.error().message());
  };
  auto denials = [&] {
    std::vector<std::string> out;
    for (const std::string& line : w.security->Lines())
      if (line.find("\"PERMISSION_DENIED\"") != std::string::npos) out.push_back(line);
    return out;
  };
  // A customer is refused another's appointment for what customers have: read_own.
  w.security->Clear();
  says(w.scheduler->GetAppointment(w.As("CUSTOMER"), w.acme.id, w.pat_ann.id),
       "CUSTOMER may appointment.read_own only with scope own_data");
  REQUIRE(denials().size() == 1);
  CHECK_MESSAGE(denials()[0].find("\"appointment.read_own\"") != std::string::npos, denials()[0]);

  // Listings refused for who the actor is, not for its role.
  Principal staff = w.As("TENANT_STAFF");
  Must(w.platform->DeactivateUser(w.root_p, staff.user.id));
  w.security->Clear();
  says(w.scheduler->ListAppointments(staff, w.acme.id, Mon(0), Mon(0) + 24h * 7),
       "the acting user is inactive");
  says(w.scheduler->ListCustomers(staff, w.acme.id), "the acting user is inactive");
  CHECK(denials().size() == 2);
  Must(w.platform->SuspendTenant(w.root_p, w.acme.id, "unpaid"));
  w.security->Clear();
  says(w.scheduler->ListAppointments(w.owner, w.acme.id, Mon(0), Mon(0) + 24h * 7),
       "the acting user's tenant is suspended");
  says(w.scheduler->ListCustomers(w.owner, w.acme.id), "the acting user's tenant is suspended");
  CHECK(denials().size() == 2);
}

TEST_CASE(
    "staff book for any customer but read and change only appointments on their own resources") {
  Shop w;
  Principal staff = w.As("TENANT_STAFF");
  Appointment booked =
      Must(w.Book(staff, {.service = w.on_ann.id, .customer = w.me.id, .start = Mon(14)}));
  CHECK(booked.created_by == w.users.at("TENANT_STAFF").id);
  CHECK(w.Book(staff, {.service = w.on_ann.id, .customer = w.pat.id, .start = Mon(15)}));
  const Strings before = w.Snapshot();
  // Someone else's resource: no.
  for (auto r : {CodeOf(w.scheduler->GetAppointment(staff, w.acme.id, w.pat_bob.id)),
                 CodeOf(w.scheduler->Cancel(staff, w.acme.id, w.pat_bob.id)),
                 CodeOf(w.scheduler->Reschedule(staff, w.acme.id, w.pat_bob.id, Mon(16))),
                 CodeOf(w.scheduler->SetStatus(staff, w.acme.id, w.pat_bob.id,
                                               AppointmentStatus::kNoShow))}) {
    CHECK_MESSAGE(IsRefusal(r), r);
  }
  CHECK(w.Snapshot() == before);
  // Their own resource: yes.
  CHECK(w.scheduler->GetAppointment(staff, w.acme.id, w.pat_ann.id));
  CHECK(w.scheduler->Reschedule(staff, w.acme.id, w.pat_ann.id, Mon(9)));
  CHECK(w.scheduler->SetStatus(staff, w.acme.id, w.pat_ann.id, AppointmentStatus::kCompleted));
  CHECK(w.scheduler->Cancel(staff, w.acme.id, booked.id));
}

TEST_CASE("managers and owners change anything in their tenant") {
  Shop w;
  Principal manager = w.As("TENANT_MANAGER");
  CHECK(w.scheduler->Reschedule(manager, w.acme.id, w.pat_bob.id, Mon(12)));
  CHECK(w.scheduler->SetStatus(manager, w.acme.id, w.me_bob.id, AppointmentStatus::kNoShow));
  CHECK(w.scheduler->Cancel(w.owner, w.acme.id, w.pat_ann.id));
  CHECK(w.Book(manager, {.service = w.on_bob.id, .customer = w.me.id, .start = Mon(15)}));
  // What they did stands.
  auto get = [&](AppointmentId id) {
    return Must(w.scheduler->GetAppointment(w.owner, w.acme.id, id));
  };
  CHECK(get(w.pat_bob.id).start == Mon(12));
  CHECK(get(w.me_bob.id).status == AppointmentStatus::kNoShow);
  CHECK(get(w.pat_ann.id).status == AppointmentStatus::kCancelled);
  CHECK(w.Occupying().size() == 2);  // pat_bob moved, and the new one
}

TEST_CASE("platform support reads appointments but cannot book or change them") {
  Shop w;
  Principal support = w.As("PLATFORM_SUPPORT");
  CHECK(Must(w.scheduler->GetAppointment(support, w.acme.id, w.pat_ann.id)).id == w.pat_ann.id);
  const Strings before = w.Snapshot();
  CHECK_CODE(w.Book(support, {.service = w.on_ann.id, .customer = w.pat.id, .start = Mon(14)}),
             StatusCode::kPermissionDenied);
  CHECK_CODE(w.scheduler->Cancel(support, w.acme.id, w.pat_ann.id), StatusCode::kPermissionDenied);
  CHECK_CODE(w.scheduler->Reschedule(support, w.acme.id, w.pat_ann.id, Mon(14)),
             StatusCode::kPermissionDenied);
  CHECK(w.Snapshot() == before);
}

TEST_CASE("a call reads the shared epoch at most once, however many checks it makes") {
  // Every decision judges the actor as stored now, which takes a read of the shared epoch
  // unless the call has one already. A customer's listing checks each appointment's owners,
  // GetAppointment the whole tenant and then the actor's own, Availability access and then
  // the role; on PostgreSQL each read is a round trip.
  Shop w;
  Must(w.Book(w.owner, {.service = w.on_bob.id, .customer = w.me.id, .start = Mon(12)}));
  Must(w.Book(w.owner, {.service = w.on_ann.id, .customer = w.me.id, .start = Mon(13)}));
  auto counted = std::make_shared<BeforeWriteStorage>(w.storage);
  PlatformOptions o = w.platform->options();
  o.storage = counted;
  auto platform = Must(Platform::Open(o));
  auto scheduler = Must(Scheduler::Open(*platform));
  const Principal customer = w.As("CUSTOMER");
  auto reads_of = [&](auto call) {
    const int before = counted->shared_epoch_reads;
    auto answer = call();
    CHECK_MESSAGE(answer, MessageOf(answer));
    return counted->shared_epoch_reads - before;
  };

  CHECK(reads_of(
            [&] { return scheduler->ListAppointments(customer, w.acme.id, Mon(0), Tue(0)); }) == 1);
  CHECK(Must(scheduler->ListAppointments(customer, w.acme.id, Mon(0), Tue(0))).size() == 3);
  CHECK(reads_of([&] { return scheduler->GetAppointment(customer, w.acme.id, w.me_bob.id); }) == 1);
  CHECK(reads_of([&] {
          return scheduler->Availability(customer, w.acme.id,
                                         {.service = w.on_bob.id,
                                          .from = LocalDate{2026, 3, 9},
                                          .to = LocalDate{2026, 3, 10},
                                          .time_zone = "UTC"});
        }) == 1);
  CHECK(reads_of([&] {
          return scheduler->Book(customer, w.acme.id,
                                 {.service = w.on_bob.id, .customer = w.me.id, .start = Tue(10)});
        }) <= 1);

  // The epoch a call read is the call's only: a change made since counts from the next one.
  Must(w.platform->DeactivateUser(w.root_p, w.users.at("CUSTOMER").id));
  CHECK_FALSE(scheduler->ListAppointments(customer, w.acme.id, Mon(0), Tue(0)));
  CHECK_FALSE(scheduler->GetAppointment(customer, w.acme.id, w.me_bob.id));
}

// ---------------------------------------------------------------------------------------
// Events

TEST_CASE("events: every committed change is delivered once, in seq order per tenant") {
  Salon w;
  Resource gx = w.AddResource(
      {.name = "Globex chair", .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})}, w.globex.id);
  Service gcut =
      w.AddService({.name = "Globex cut", .requirements = {OneOf({gx.id})}}, w.globex.id);
  Customer gpat = w.AddCustomer("Globex Pat", std::nullopt, w.globex.id);
  w.events.clear();

  Appointment a = Must(w.Book(w.owner, {.service = w.cut.id,
                                        .customer = w.pat.id,
                                        .start = Mon(10),
                                        .status = AppointmentStatus::kPending}));
  CHECK_CODE(w.Book(w.owner, w.Cut(Mon(10))), StatusCode::kConflict);  // no event
  Must(w.scheduler->Book(w.root_p, w.globex.id,
                         {.service = gcut.id, .customer = gpat.id, .start = Mon(10)}));
  Must(w.scheduler->SetStatus(w.owner, w.acme.id, a.id, AppointmentStatus::kConfirmed));
  Must(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(11)));
  CHECK_CODE(w.scheduler->Reschedule(w.owner, w.acme.id, a.id, Mon(12), 1), StatusCode::kConflict);
  Must(w.scheduler->Book(w.root_p, w.globex.id,
                         {.service = gcut.id, .customer = gpat.id, .start = Mon(11)}));
  Must(w.scheduler->Cancel(w.owner, w.acme.id, a.id));

  std::vector<ScheduleEvent> acme, globex;
  for (const ScheduleEvent& e : w.events) (e.tenant == w.acme.id ? acme : globex).push_back(e);
  CHECK(acme.size() + globex.size() == w.events.size());
  CHECK(EventNames(acme) == Strings{"created", "updated", "rescheduled", "cancelled"});
  CHECK(EventNames(globex) == Strings{"created", "created"});
  for (std::size_t i = 1; i < acme.size(); ++i) CHECK(acme[i].seq == acme[i - 1].seq + 1);
  for (std::size_t i = 1; i < globex.size(); ++i) CHECK(globex[i].seq == globex[i - 1].seq + 1);
  // Each carries the appointment as committed.
  for (std::size_t i = 0; i < acme.size(); ++i) {
    CAPTURE(i);
    REQUIRE(acme[i].appointment.has_value());
    CHECK(acme[i].appointment->id == a.id);
    CHECK(acme[i].appointment->version == static_cast<std::int64_t>(i) + 1);
    CHECK_FALSE(acme[i].hold.has_value());
  }
  CHECK(acme[0].appointment->status == AppointmentStatus::kPending);
  CHECK(acme[1].appointment->status == AppointmentStatus::kConfirmed);
  CHECK(acme[2].appointment->start == Mon(11));
  CHECK(acme[3].appointment->status == AppointmentStatus::kCancelled);
}

TEST_CASE(
    "events arrive after commit: a listener can read what it is told about, and can unsubscribe") {
  Salon w;
  Strings seen;
  std::uint64_t handle = w.scheduler->Subscribe([&](const ScheduleEvent& e) {
    if (!e.appointment) {
      seen.push_back("event without appointment");
      return;
    }
    auto now = w.scheduler->GetAppointment(w.root_p, e.tenant, e.appointment->id);
    seen.push_back(now ? Describe(*now) : CodeOf(now));
  });
  Appointment a = Must(w.Book(w.owner, w.Cut(Mon(10))));
  Appointment c = Must(w.scheduler->Cancel(w.owner, w.acme.id, a.id));
  CHECK(seen == Strings{Describe(a), Describe(c)});
  w.scheduler->Unsubscribe(handle);
  Must(w.Book(w.owner, w.Cut(Mon(11))));
  CHECK(seen.size() == 2);
}

// ---------------------------------------------------------------------------------------
// Availability

namespace {
// Ann and Bob, Monday to Friday 09:00-12:00 UTC; a 30-minute cut with either.
struct Morning : ScheduleWorld {
  Resource ann =
      AddResource({.name = "Ann", .time_zone = "UTC", .hours = Weekdays({Hours(9, 12)})});
  Resource bob =
      AddResource({.name = "Bob", .time_zone = "UTC", .hours = Weekdays({Hours(9, 12)})});
  Service cut = AddService({.name = "Cut", .requirements = {OneOf({ann.id, bob.id})}});
  Customer pat = AddCustomer("Pat");

  AvailabilityQuery Monday(std::vector<ResourceId> only = {}) {
    return {.service = cut.id,
            .from = {2026, 3, 9},
            .to = {2026, 3, 9},
            .time_zone = "UTC",
            .resources = std::move(only)};
  }
  std::vector<Slot> Slots(const AvailabilityQuery& q) {
    return Must(scheduler->Availability(owner, acme.id, q));
  }
};

const Slot* SlotAt(const std::vector<Slot>& slots, Instant start) {
  for (const Slot& s : slots) {
    if (s.start == start) return &s;
  }
  return nullptr;
}
}  // namespace

TEST_CASE(
    "availability: starts on the slot grid from local midnight, end = start + duration, free lists "
    "every free resource") {
  Morning w;
  Must(w.Book(
      w.owner,
      {.service = w.cut.id, .customer = w.pat.id, .start = Mon(10), .resources = {w.ann.id}}));
  std::vector<Slot> slots = w.Slots(w.Monday());
  REQUIRE(slots.size() == 11);  // 09:00 ... 11:30
  CHECK(slots.front().start == Mon(9));
  CHECK(slots.back().start == Mon(11, 30));
  for (std::size_t i = 0; i < slots.size(); ++i) {
    CAPTURE(Describe(slots[i]));
    CHECK(slots[i].start == Mon(9) + 15min * static_cast<int>(i));
    CHECK(slots[i].end == slots[i].start + 30min);
    REQUIRE(slots[i].free.size() == 1);
  }
  CHECK(Sorted(SlotAt(slots, Mon(9, 30))->free[0]) == Sorted({w.ann.id, w.bob.id}));
  CHECK(SlotAt(slots, Mon(9, 45))->free[0] == Ids{w.bob.id});
  CHECK(SlotAt(slots, Mon(10))->free[0] == Ids{w.bob.id});
  CHECK(SlotAt(slots, Mon(10, 15))->free[0] == Ids{w.bob.id});
  CHECK(Sorted(SlotAt(slots, Mon(10, 30))->free[0]) == Sorted({w.ann.id, w.bob.id}));

  // Filtered to Ann, the slots she cannot take disappear.
  std::vector<Slot> ann_only = w.Slots(w.Monday({w.ann.id}));
  CHECK(ann_only.size() == 8);
  CHECK(SlotAt(ann_only, Mon(10)) == nullptr);
  for (const Slot& s : ann_only) CHECK(s.free == std::vector<Ids>{Ids{w.ann.id}});

  // Once Bob is taken too, 09:45-10:15 is gone for everyone.
  Must(w.Book(
      w.owner,
      {.service = w.cut.id, .customer = w.pat.id, .start = Mon(10), .resources = {w.bob.id}}));
  slots = w.Slots(w.Monday());
  CHECK(slots.size() == 8);
  CHECK(SlotAt(slots, Mon(9, 45)) == nullptr);
  CHECK(SlotAt(slots, Mon(10)) == nullptr);
  CHECK(SlotAt(slots, Mon(10, 15)) == nullptr);
  // Every slot offered can in fact be booked.
  for (const Slot& s : slots) {
    CAPTURE(Describe(s));
    CHECK(w.scheduler->Book(w.owner, w.acme.id,
                            {.service = w.cut.id, .customer = w.pat.id, .start = s.start}));
  }
}

TEST_CASE("availability: cancelling puts a slot back at once") {
  Morning w;
  Appointment a = Must(w.Book(
      w.owner,
      {.service = w.cut.id, .customer = w.pat.id, .start = Mon(10), .resources = {w.ann.id}}));
  Must(w.Book(
      w.owner,
      {.service = w.cut.id, .customer = w.pat.id, .start = Mon(10), .resources = {w.bob.id}}));
  CHECK(SlotAt(w.Slots(w.Monday()), Mon(10)) == nullptr);
  Must(w.scheduler->Cancel(w.owner, w.acme.id, a.id));
  const std::vector<Slot> after = w.Slots(w.Monday());
  const Slot* back = SlotAt(after, Mon(10));
  REQUIRE(back != nullptr);
  CHECK(back->free[0] == Ids{w.ann.id});
}

TEST_CASE("availability: several dates, closed days, multi-resource free lists") {
  ColorBar w;
  Must(w.Book(w.stylist, Mon(10), {w.a.id}));
  auto slots = Must(w.scheduler->Availability(
      w.owner, w.acme.id,
      {.service = w.color.id, .from = {2026, 3, 9}, .to = {2026, 3, 15}, .time_zone = "UTC"}));
  // Five working days of 09:00-16:00 starts (a 60-minute service), nothing at the weekend.
  CHECK(slots.size() == 5 * 29);
  for (const Slot& s : slots) {
    REQUIRE(s.free.size() == 2);
    CHECK(s.free[1] == Ids{w.r1.id});
    CHECK(s.start < At("2026-03-14T00:00:00Z"));
  }
  const Slot* ten = SlotAt(slots, Mon(10));
  REQUIRE(ten != nullptr);
  CHECK(ten->free[0] == Ids{w.b.id});
}

TEST_CASE("availability: a slot needs one distinct resource per requirement, not just one each") {
  ColorBar w;
  Service pair = w.AddService({.name = "Bridal",
                               .duration = 60min,
                               .requirements = {OneOf({w.a.id, w.b.id}), OneOf({w.a.id})}});
  Must(w.Book(w.stylist, Mon(14), {w.b.id}));
  const std::vector<Slot> slots = Must(w.scheduler->Availability(
      w.owner, w.acme.id,
      {.service = pair.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"}));
  // At 14:00 A is free for either requirement, but cannot fill both.
  CHECK(SlotAt(slots, Mon(14)) == nullptr);
  CHECK(SlotAt(slots, Mon(13, 15)) == nullptr);
  CHECK_CODE(w.Book(pair, Mon(14)), StatusCode::kConflict);
  const Slot* ten = SlotAt(slots, Mon(10));
  REQUIRE(ten != nullptr);
  CHECK(ten->free[1] == Ids{w.a.id});
  CHECK(std::find(ten->free[0].begin(), ten->free[0].end(), w.b.id) != ten->free[0].end());
}

TEST_CASE("availability: a customer is offered only what a customer may book") {
  ScheduleWorld w;
  Resource ann =
      w.AddResource({.name = "Ann", .time_zone = "UTC", .hours = smooth::testing::AlwaysOpen()});
  Service s = w.AddService(
      {.name = "Cut", .min_notice = 2h, .max_advance = 24h * 7, .requirements = {OneOf({ann.id})}});
  AvailabilityQuery today{
      .service = s.id, .from = {2026, 3, 2}, .to = {2026, 3, 2}, .time_zone = "UTC"};
  AvailabilityQuery week_on{
      .service = s.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"};
  // Now is 2026-03-02T09:00Z: nothing earlier for anyone; from 11:00 for a customer.
  Strings owner_today = w.SlotStarts(w.owner, today);
  REQUIRE_FALSE(owner_today.empty());
  CHECK(owner_today.front() == "2026-03-02T09:00:00Z");
  CHECK(owner_today.back() == "2026-03-02T23:45:00Z");  // runs into Tuesday, also open
  Strings customer_today = w.SlotStarts(w.As("CUSTOMER"), today);
  REQUIRE_FALSE(customer_today.empty());
  CHECK(customer_today.front() == "2026-03-02T11:00:00Z");
  CHECK(customer_today.back() == "2026-03-02T23:45:00Z");
  // A week on: the owner sees the whole day; a customer up to exactly now + 7 days.
  Strings owner_later = w.SlotStarts(w.owner, week_on);
  CHECK(owner_later.size() == 96);
  Strings customer_later = w.SlotStarts(w.As("CUSTOMER"), week_on);
  REQUIRE_FALSE(customer_later.empty());
  CHECK(customer_later.front() == "2026-03-09T00:00:00Z");
  CHECK(customer_later.back() == "2026-03-09T09:00:00Z");
  // Asked as_customer (a public page served with the owner's account), the owner is
  // answered as a customer is.
  today.as_customer = week_on.as_customer = true;
  CHECK(w.SlotStarts(w.owner, today) == customer_today);
  CHECK(w.SlotStarts(w.owner, week_on) == customer_later);
}

TEST_CASE("availability: bad ranges, zones and ids are refused") {
  Morning w;
  auto ask = [&](LocalDate from, LocalDate to, std::string zone = "UTC") {
    return w.scheduler->Availability(
        w.owner, w.acme.id, {.service = w.cut.id, .from = from, .to = to, .time_zone = zone});
  };
  auto names_range = [](const auto& r) {
    return CodeOf(r) == "invalid_argument" &&
           (StartsWith(MessageOf(r), "to") || StartsWith(MessageOf(r), "range"));
  };
  auto backwards = ask({2026, 3, 10}, {2026, 3, 9});
  CHECK_MESSAGE(names_range(backwards), CodeOf(backwards) << ": " << MessageOf(backwards));
  // 2026-03-09 to 2026-05-09 inclusive is 62 days; one more is too many.
  CHECK(ask({2026, 3, 9}, {2026, 5, 9}));
  auto too_wide = ask({2026, 3, 9}, {2026, 5, 10});
  CHECK_MESSAGE(names_range(too_wide), CodeOf(too_wide) << ": " << MessageOf(too_wide));
  CHECK_INVALID(ask({2026, 3, 9}, {2026, 3, 9}, "Mars/Olympus_Mons"), "time_zone");
  CHECK_CODE(w.scheduler->Availability(w.owner, w.acme.id,
                                       {.service = ServiceId(987654),
                                        .from = {2026, 3, 9},
                                        .to = {2026, 3, 9},
                                        .time_zone = "UTC"}),
             StatusCode::kNotFound);
  // A filter picks among the tenant's resources: one the service does not use is passed
  // over, so a filter of those alone offers nothing; one the tenant lacks is not_found.
  Resource room = w.AddResource({.name = "Room", .time_zone = "UTC", .hours = AlwaysOpen()});
  CHECK(w.SlotStarts(w.owner, w.Monday({w.ann.id, room.id})) ==
        w.SlotStarts(w.owner, w.Monday({w.ann.id})));
  CHECK_FALSE(w.SlotStarts(w.owner, w.Monday({w.ann.id})).empty());
  CHECK(w.SlotStarts(w.owner, w.Monday({room.id})).empty());
  CHECK_CODE(w.scheduler->Availability(w.owner, w.acme.id, w.Monday({ResourceId(987654)})),
             StatusCode::kNotFound);
  // A single day is fine for every tenant role.
  for (const char* who : {"TENANT_OWNER", "TENANT_MANAGER", "TENANT_STAFF", "CUSTOMER"}) {
    CAPTURE(who);
    CHECK(w.scheduler->Availability(w.As(who), w.acme.id, w.Monday()));
  }
}

TEST_CASE("availability offers exactly the starts that Book accepts, and bookings change it") {
  Salon w;
  Must(w.Book(w.owner, w.Cut(Mon(10))));
  AvailabilityQuery q{
      .service = w.cut.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"};
  Strings offered = w.SlotStarts(w.owner, q);
  // 09:00-16:30 on the grid minus 09:45, 10:00, 10:15.
  CHECK(offered.size() == 31 - 3);
  for (Instant t = Mon(0); t < Tue(0); t += 15min) {
    const bool is_offered = std::find(offered.begin(), offered.end(), Show(t)) != offered.end();
    // Probe without keeping the booking: book, then cancel.
    auto r = w.Book(w.owner, w.Cut(t));
    CAPTURE(Show(t));
    CHECK(is_offered == r.has_value());
    if (r) Must(w.scheduler->Cancel(w.owner, w.acme.id, r->id));
  }
}

// --- hold_expired is announced whoever notices the expiry -----------------------------------

namespace {
std::string EventTypes(const ScheduleWorld& w) {
  std::string out;
  for (const ScheduleEvent& e : w.events) out += std::string(EventTypeName(e.type)) + " ";
  return out;
}
}  // namespace

// The state catches up from another writer before it looks at its holds: the catch-up drops
// every hold it knew of, and an expired one must still be announced first.
TEST_CASE("hold_expired is announced even when the state catches up from another writer") {
  ScheduleWorld w;
  std::unique_ptr<Scheduler> there = Must(Scheduler::Open(*w.platform));
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 2, .time_zone = "UTC", .hours = AlwaysOpen()});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = w.AddCustomer("Pat");
  Hold h = Must(w.scheduler->PlaceHold(
      w.owner, w.acme.id, {.service = cut.id, .customer = pat.id, .start = At("2026-03-09T10:00:00Z")},
      5min));
  // A second hold, released by the other writer before it would have expired: not announced.
  Hold released = Must(w.scheduler->PlaceHold(
      w.owner, w.acme.id, {.service = cut.id, .customer = pat.id, .start = At("2026-03-09T12:00:00Z")},
      5min));
  Must(there->ReleaseHold(w.owner, w.acme.id, released.id));
  w.clock.Advance(10min);  // the first has expired
  Must(there->Book(w.owner, w.acme.id,
                   {.service = cut.id, .customer = pat.id, .start = At("2026-03-10T10:00:00Z")}));
  SUBCASE("noticed by a read") {
    Must(w.scheduler->Availability(
        w.owner, w.acme.id,
        {.service = cut.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"}));
  }
  SUBCASE("noticed by a write") {
    Must(w.scheduler->Book(w.owner, w.acme.id,
                           {.service = cut.id, .customer = pat.id, .start = At("2026-03-11T10:00:00Z")}));
  }
  // The other scheduler's release and booking are its own listeners' news, not this one's.
  CHECK(EventTypes(w).rfind("hold_created hold_created hold_expired", 0) == 0);
  int expired = 0;
  for (const ScheduleEvent& e : w.events) {
    if (e.type != EventType::kHoldExpired) continue;
    ++expired;
    REQUIRE(e.hold);
    CHECK(e.hold->id == h.id);
    CHECK(e.tenant == w.acme.id);
  }
  CHECK(expired == 1);
}

// Joining a batch expires holds and queues their events; a write that is then refused, or
// one that changes the setup, must still deliver them.
TEST_CASE("hold_expired noticed by a refused write or a setup write is delivered at once") {
  ScheduleWorld w;
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 1, .time_zone = "UTC", .hours = EveryDay({Hours(9, 17)})});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = w.AddCustomer("Pat");
  Must(w.scheduler->PlaceHold(
      w.owner, w.acme.id, {.service = cut.id, .customer = pat.id, .start = At("2026-03-09T10:00:00Z")},
      5min));
  w.clock.Advance(10min);
  SUBCASE("a refused booking") {
    auto refused = w.scheduler->Book(
        w.owner, w.acme.id,
        {.service = cut.id, .customer = pat.id, .start = At("2026-03-09T20:00:00Z")});
    CHECK(CodeOf(refused) == "failed_precondition");
  }
  SUBCASE("a new customer") { w.AddCustomer("Quinn"); }
  CHECK(EventTypes(w) == "hold_created hold_expired ");
}

// docs/scheduling.md: a listener may call back into the scheduler, writes to the same
// tenant included, and every listener still sees the events in order.
TEST_CASE("a listener that writes back into the same tenant neither deadlocks nor reorders") {
  ScheduleWorld w;
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 1, .time_zone = "UTC", .hours = EveryDay({Hours(9, 17)})});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = w.AddCustomer("Pat");
  std::vector<std::int64_t> seen_by_second;
  w.scheduler->Subscribe([&](const ScheduleEvent& e) {
    if (e.type == EventType::kCreated && e.appointment &&
        e.appointment->status == AppointmentStatus::kPending)
      (void)w.scheduler->SetStatus(w.owner, e.tenant, e.appointment->id,
                                   AppointmentStatus::kConfirmed);
  });
  w.scheduler->Subscribe([&](const ScheduleEvent& e) { seen_by_second.push_back(e.seq); });
  std::atomic<bool> done{false};
  std::thread booker([&] {
    (void)w.scheduler->Book(w.owner, w.acme.id,
                            {.service = cut.id, .customer = pat.id, .start = At("2026-03-09T10:00:00Z"),
                             .status = AppointmentStatus::kPending});
    done = true;
  });
  for (int i = 0; i < 100 && !done.load(); ++i) std::this_thread::sleep_for(100ms);
  if (!done.load()) {
    FAIL_CHECK("Book did not return within 10 s: the listener's write deadlocked");
    std::fflush(nullptr);
    std::_Exit(1);  // the thread cannot be joined
  }
  booker.join();
  CHECK(EventTypes(w) == "created updated ");
  CHECK(seen_by_second == std::vector<std::int64_t>{1, 2});
  auto listed = Must(w.scheduler->ListAppointments(w.owner, w.acme.id, At("2026-03-09T00:00:00Z"),
                                                   At("2026-03-10T00:00:00Z")));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].status == AppointmentStatus::kConfirmed);
}

// --- Customers ------------------------------------------------------------------------------

TEST_CASE("UpdateCustomer: fields, blocking, who may change what, and bad input changes nothing") {
  ScheduleWorld w;
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 1, .time_zone = "UTC", .hours = AlwaysOpen()});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer me = w.AddCustomer("Me", w.users.at("CUSTOMER").id);
  Customer other = w.AddCustomer("Other");
  Principal customer = w.As("CUSTOMER");

  // The owner edits and blocks; the email is normalized as at creation.
  Customer changed = me;
  changed.name = "Me Again";
  changed.email = " Me@Example.COM ";
  changed.phone = "+1 555 0100";
  changed.status = CustomerStatus::kBlocked;
  Customer stored = Must(w.scheduler->UpdateCustomer(w.owner, w.acme.id, changed));
  CHECK(stored.email == "me@example.com");
  CHECK(stored.created_at == me.created_at);
  CHECK(CodeOf(w.Book(w.owner, {.service = cut.id, .customer = me.id, .start = Mon(10)})) ==
        "failed_precondition");

  // The customer edits its own phone, but cannot unblock itself, nor touch another's record.
  Customer mine = stored;
  mine.phone = "+1 555 0199";
  CHECK(Must(w.scheduler->UpdateCustomer(customer, w.acme.id, mine)).phone == "+1 555 0199");
  mine.status = CustomerStatus::kActive;
  CHECK(CodeOf(w.scheduler->UpdateCustomer(customer, w.acme.id, mine)) == "permission_denied");
  Customer theirs = other;
  theirs.name = "Renamed by someone else";
  CHECK(CodeOf(w.scheduler->UpdateCustomer(customer, w.acme.id, theirs)) == "permission_denied");

  // Bad input names the field and changes nothing.
  Customer bad = stored;
  bad.name = " ";
  CHECK(MessageOf(w.scheduler->UpdateCustomer(w.owner, w.acme.id, bad)).rfind("name: ", 0) == 0);
  CHECK_INVALID(w.scheduler->UpdateCustomer(w.owner, w.acme.id, bad), "name");
  bad = stored;
  bad.email = "not an email";
  CHECK(MessageOf(w.scheduler->UpdateCustomer(w.owner, w.acme.id, bad)).rfind("email: ", 0) == 0);
  CHECK_INVALID(w.scheduler->UpdateCustomer(w.owner, w.acme.id, bad), "email");
  bad = stored;
  bad.user = w.users.at("TENANT_STAFF").id;
  CHECK(MessageOf(w.scheduler->UpdateCustomer(w.owner, w.acme.id, bad)) ==
        "user: must have role CUSTOMER");
  CHECK_INVALID(w.scheduler->UpdateCustomer(w.owner, w.acme.id, bad), "user");
  bad = stored;
  bad.id = CustomerId(999999);
  CHECK(CodeOf(w.scheduler->UpdateCustomer(w.owner, w.acme.id, bad)) == "not_found");
  // Another tenant's owner does not even find it.
  CHECK(CodeOf(w.scheduler->UpdateCustomer(w.As("globex:TENANT_OWNER"), w.acme.id, stored)) !=
        "ok");
  CHECK(CodeOf(w.scheduler->UpdateCustomer(w.As("globex:TENANT_OWNER"), w.acme.id, stored)) ==
        "not_found");
  // The other customer's record was not renamed.
  CHECK(Must(w.scheduler->GetCustomer(w.owner, w.acme.id, other.id)).name == "Other");

  // Unblocked by the owner, the customer books again; a fresh scheduler reads it all back.
  Customer unblocked = Must(w.scheduler->GetCustomer(w.owner, w.acme.id, me.id));
  CHECK(unblocked.name == "Me Again");
  CHECK(unblocked.phone == "+1 555 0199");
  CHECK(unblocked.status == CustomerStatus::kBlocked);
  CHECK(unblocked.email == "me@example.com");
  CHECK(unblocked.user == me.user);
  unblocked.status = CustomerStatus::kActive;
  Must(w.scheduler->UpdateCustomer(w.owner, w.acme.id, unblocked));
  Must(w.Book(customer, {.service = cut.id, .customer = me.id, .start = Mon(10)}));
  auto fresh = Must(Scheduler::Open(*w.platform));
  Customer reread = Must(fresh->GetCustomer(w.owner, w.acme.id, me.id));
  CHECK(reread.status == CustomerStatus::kActive);
  CHECK(reread.email == "me@example.com");
  CHECK(reread.phone == "+1 555 0199");
}
