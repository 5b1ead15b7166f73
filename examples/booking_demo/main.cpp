// booking_demo: a tour of libsmooth's scheduling engine on durable (SQLite) storage — working
// hours, services, availability, booking and its refusals, reschedule and cancel, a hold, a
// weekly series across a DST change, events — ending with a restart that finds it all again.
//
//     booking_demo          SQLite files in a fresh temporary directory, removed at the end
//     booking_demo <dir>    SQLite files in <dir> (missing or empty), kept afterwards
//
// Exits 0 when every step behaved as expected (allowed steps succeeded, refused ones were
// refused with the expected code), 1 otherwise, so it doubles as a smoke test.
#include <stdlib.h>  // mkdtemp (POSIX)

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <smooth/smooth.hpp>

namespace {

using namespace std::chrono_literals;

// The studio's time zone. Working hours and recurrence rules are wall-clock times in it.
constexpr char kZone[] = "Europe/Berlin";
constexpr std::string_view kPassword = "correct horse battery staple";

int failures = 0;
std::map<smooth::ResourceId, std::string> names;  // resource names, for printing

void Step(std::string_view title) { fmt::print("\n== {}\n", title); }

// The value of a step that must succeed; without it the demo cannot go on.
template <typename T>
T Require(smooth::Result<T> result, std::string_view what, bool quiet = false) {
  if (!result) {
    fmt::print("  FAILED  {}: {}\n", what, result.error().ToString());
    std::exit(EXIT_FAILURE);
  }
  if (!quiet) fmt::print("  ok      {}\n", what);
  return std::move(result).value();
}

// A step that must be refused with `expected`; anything else counts as a failure.
template <typename T>
void ExpectRefused(const smooth::Result<T>& result, smooth::StatusCode expected,
                   std::string_view what) {
  if (result) {
    fmt::print("  FAILED  {}: was allowed, expected {}\n", what, smooth::StatusCodeName(expected));
    ++failures;
  } else if (result.error().code() != expected) {
    fmt::print("  FAILED  {}: got {}, expected {}\n", what, result.error().ToString(),
               smooth::StatusCodeName(expected));
    ++failures;
  } else {
    fmt::print("  refused {} ({})\n", what, result.error().ToString());
  }
}

// A fact the reader is told; when it does not hold, that counts as a failure.
void Expect(bool holds, std::string_view what) {
  if (!holds) {
    fmt::print("  FAILED  expected {}\n", what);
    ++failures;
  }
}

// The instant that a wall-clock time on a date in the studio's zone names
// (smooth::ToInstant: a time a DST gap skips, or repeats, is read the way libsmooth reads
// working hours and recurrence rules).
smooth::Instant At(smooth::LocalDate d, int hour, int minute = 0) {
  return Require(smooth::ToInstant(kZone, {d, std::chrono::hours(hour) +
                                                  std::chrono::minutes(minute)}),
                 "ToInstant", /*quiet=*/true);
}

// An instant as the studio's wall clock shows it: "2026-03-09 09:00", or "09:00" alone.
std::string Local(smooth::Instant t, bool with_date = true) {
  const smooth::LocalDateTime local = Require(smooth::ToLocal(kZone, t), "ToLocal", /*quiet=*/true);
  const auto minutes = local.since_midnight.count();
  const std::string clock = fmt::format("{:02}:{:02}", minutes / 60, minutes % 60);
  return with_date ? smooth::FormatLocalDate(local.date) + " " + clock : clock;
}

// The same hours, [from_hour, to_hour), on ISO weekdays first..last (0 = Monday).
smooth::WorkingHours Weekly(std::size_t first, std::size_t last, int from_hour, int to_hour) {
  smooth::WorkingHours hours;
  for (std::size_t day = first; day <= last; ++day) {
    hours.weekly.at(day) = {{std::chrono::hours(from_hour), std::chrono::hours(to_hour)}};
  }
  return hours;
}

std::string NamesOf(const std::vector<smooth::ResourceId>& ids) {
  std::string out;
  for (smooth::ResourceId id : ids) out += (out.empty() ? "" : ", ") + names[id];
  return out;
}

std::string Describe(const smooth::Appointment& a) {
  return fmt::format("#{} {}-{} with {}, {} v{}", a.id, Local(a.start), Local(a.end, /*with_date=*/false),
                     NamesOf(a.resources), smooth::AppointmentStatusName(a.status), a.version);
}

// Where the SQLite files go: argv[1], or a fresh temporary directory removed at the end.
struct DataDir {
  std::filesystem::path path;
  bool temporary = false;
};

DataDir ChooseDataDir(int argc, char** argv) {
  if (argc >= 2) {
    std::filesystem::path dir = argv[1];
    std::error_code ec;
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
      fmt::print("FAILED  {} is not empty: the demo starts from nothing\n", dir.string());
      std::exit(EXIT_FAILURE);
    }
    return {dir, false};
  }
  std::string dir = (std::filesystem::temp_directory_path() / "booking_demo-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    fmt::print("FAILED  cannot create a temporary directory {}\n", dir);
    std::exit(EXIT_FAILURE);
  }
  return {dir, true};
}

}  // namespace

int main(int argc, char** argv) {
  using smooth::StatusCode;

  const DataDir data = ChooseDataDir(argc, argv);
  const std::string url = "sqlite:" + data.path.string();
  // "Now" is pinned to Monday 2 March 2026, 09:00 in Berlin, so the dates below lie ahead and
  // every run prints the same. An application leaves PlatformOptions::clock at the system clock.
  smooth::ManualClock clock(At({2026, 3, 2}, 9));
  const smooth::LocalDate monday{2026, 3, 9};

  // The same on first start and after a restart; opening the storage runs its migrations.
  auto open_platform = [&] {
    return Require(
        smooth::Platform::Open(
            {.storage = Require(smooth::OpenStorage(url), "OpenStorage " + url), .clock = &clock}),
        "Platform::Open (argon2id at the default cost)");
  };

  Step("Open SQLite storage, a Platform and a Scheduler on it");
  std::unique_ptr<smooth::Platform> platform = open_platform();
  std::unique_ptr<smooth::Scheduler> scheduler =
      Require(smooth::Scheduler::Open(*platform), "Scheduler::Open");
  // Listeners run on the thread that made the change, after it is committed.
  std::vector<smooth::ScheduleEvent> events;
  const std::uint64_t subscription =
      scheduler->Subscribe([&events](const smooth::ScheduleEvent& e) { events.push_back(e); });

  Step("Bootstrap: a superuser, a tenant in Europe/Berlin and its owner");
  smooth::User root = Require(platform->CreateSuperuser("root@platform.example", "Root", kPassword),
                              "CreateSuperuser root@platform.example");
  smooth::Principal root_p = Require(platform->ActAs(root.id), "ActAs root");
  const smooth::Tenant studio =
      Require(platform->CreateTenant(
                  root_p, {.slug = "studio", .name = "Studio Mitte", .time_zone = kZone}),
              "CreateTenant studio (Europe/Berlin)");
  const smooth::TenantId tenant = studio.id;
  smooth::User owner_user =
      Require(platform->CreateUser(root_p, {.email = "olga@studio.example",
                                            .display_name = "Olga",
                                            .role = smooth::Role::kTenantOwner,
                                            .tenant = tenant,
                                            .password = std::string(kPassword)}),
              "CreateUser olga@studio.example as TENANT_OWNER");
  // ActAs is for embedders that authenticate users themselves; a server would Login.
  smooth::Principal owner = Require(platform->ActAs(owner_user.id), "ActAs Olga");

  Step("Resources with weekly hours, services, customers");
  auto add_resource = [&](const smooth::ResourceSpec& spec) {
    smooth::Resource r = Require(scheduler->CreateResource(owner, tenant, spec),
                                 fmt::format("CreateResource {} ({}, capacity {})", spec.name,
                                             smooth::ResourceKindName(spec.kind), spec.capacity));
    names[r.id] = r.name;
    return r;
  };
  // No time_zone given: the resources keep their hours in the tenant's zone.
  const smooth::Resource ann = add_resource({.name = "Ann", .hours = Weekly(0, 4, 9, 17)});
  const smooth::Resource ben = add_resource({.name = "Ben", .hours = Weekly(0, 4, 13, 19)});
  const smooth::Resource room = add_resource({.name = "Room 1",
                                              .kind = smooth::ResourceKind::kRoom,
                                              .capacity = 2,
                                              .hours = Weekly(0, 5, 8, 20)});
  fmt::print("          Ann Mon-Fri 09-17, Ben Mon-Fri 13-19, Room 1 Mon-Sat 08-20\n");
  const smooth::Service consult =
      Require(scheduler->CreateService(owner, tenant,
                                       {.name = "Consultation",
                                        .duration = 30min,
                                        .requirements = {{.resources = {ann.id, ben.id}}}}),
              "CreateService Consultation: 30 min with Ann or Ben");
  const smooth::Service massage =
      Require(scheduler->CreateService(
                  owner, tenant,
                  {.name = "Massage",
                   .duration = 60min,
                   .buffer_after = 15min,
                   .requirements = {{.resources = {ann.id, ben.id}}, {.resources = {room.id}}}}),
              "CreateService Massage: 60 min + 15 min clean-up, Ann or Ben, in Room 1");
  const smooth::Customer pat =
      Require(scheduler->CreateCustomer(owner, tenant, {.name = "Pat", .email = "pat@example.com"}),
              "CreateCustomer Pat");
  const smooth::Customer sam =
      Require(scheduler->CreateCustomer(owner, tenant, {.name = "Sam", .email = "sam@example.com"}),
              "CreateCustomer Sam");
  // A consultation for `who` with one named staff member.
  auto consultation = [&](const smooth::Customer& who, smooth::Instant start,
                          smooth::ResourceId staff) {
    return smooth::BookingRequest{
        .service = consult.id, .customer = who.id, .start = start, .resources = {staff}};
  };

  Step("Availability: consultations on Monday 9 March");
  auto availability = [&](const smooth::Service& service, std::vector<smooth::ResourceId> only,
                          std::string_view what) {
    return Require(scheduler->Availability(owner, tenant,
                                           {.service = service.id,
                                            .from = monday,
                                            .to = monday,
                                            .time_zone = kZone,
                                            .resources = std::move(only)}),
                   what);
  };
  std::vector<smooth::Slot> slots = availability(consult, {}, "Availability 2026-03-09");
  fmt::print("          {} starts; the first four:\n", slots.size());
  for (std::size_t i = 0; i < slots.size() && i < 4; ++i) {
    fmt::print("          {}  free: {}\n", Local(slots[i].start), NamesOf(slots[i].free[0]));
  }
  Expect(!slots.empty() && slots.front().start == At(monday, 9), "the first start at 09:00");

  Step("Book; a clash is refused; a retry returns the same appointment");
  smooth::BookingRequest pats = consultation(pat, At(monday, 9), ann.id);
  pats.idempotency_key = "pat-2026-03-09";  // a retry with the same key books nothing new
  smooth::Appointment appt =
      Require(scheduler->Book(owner, tenant, pats), "Book Pat with Ann at 09:00");
  fmt::print("          {}\n", Describe(appt));
  ExpectRefused(scheduler->Book(owner, tenant, consultation(sam, At(monday, 9, 15), ann.id)),
                StatusCode::kConflict, "Book Sam with Ann at 09:15 (overlaps 09:00-09:30)");
  const smooth::Appointment retried = Require(scheduler->Book(owner, tenant, pats),
                                              "Book Pat's request again, same idempotency_key");
  fmt::print("          -> #{} again, not a second appointment\n", retried.id);
  Expect(retried.id == appt.id && retried.version == appt.version, "the same appointment");

  Step("Reschedule, then cancel: the slot is offered again");
  appt = Require(scheduler->Reschedule(owner, tenant, appt.id, At(monday, 11), appt.version),
                 "Reschedule to 11:00, expected_version 1");
  fmt::print("          {}\n", Describe(appt));
  ExpectRefused(scheduler->Reschedule(owner, tenant, appt.id, At(monday, 12), 1),
                StatusCode::kConflict, "Reschedule with the stale expected_version 1");
  auto ann_offered_at_11 = [&] {
    const bool offered =
        std::ranges::any_of(availability(consult, {ann.id}, "Availability for Ann"),
                            [&](const smooth::Slot& s) { return s.start == At(monday, 11); });
    fmt::print("          Ann at 11:00 is {}\n", offered ? "offered" : "taken");
    return offered;
  };
  Expect(!ann_offered_at_11(), "11:00 taken while booked");
  appt = Require(scheduler->Cancel(owner, tenant, appt.id), "Cancel");
  fmt::print("          {}\n", Describe(appt));
  Expect(ann_offered_at_11(), "11:00 offered again after the cancel");

  Step("A hold keeps a slot while the customer decides");
  smooth::Hold hold = Require(scheduler->PlaceHold(owner, tenant,
                                                   {.service = massage.id,
                                                    .customer = pat.id,
                                                    .start = At(monday, 14),
                                                    .resources = {ann.id, room.id}},
                                                   10min),
                              "PlaceHold a massage with Ann in Room 1 at 14:00, for 10 minutes");
  fmt::print("          hold #{} expires {}\n", hold.id, Local(hold.expires_at));
  ExpectRefused(scheduler->Book(owner, tenant, consultation(sam, At(monday, 14, 30), ann.id)),
                StatusCode::kConflict, "Book Sam with Ann at 14:30 (held)");
  const smooth::Appointment massage_appt =
      Require(scheduler->ConfirmHold(owner, tenant, hold.id), "ConfirmHold");
  fmt::print("          {}\n", Describe(massage_appt));
  ExpectRefused(scheduler->Book(owner, tenant, consultation(sam, At(monday, 15), ann.id)),
                StatusCode::kConflict, "Book Sam with Ann at 15:00 (the massage's clean-up)");
  const smooth::Appointment sams =
      Require(scheduler->Book(owner, tenant,
                              {.service = massage.id, .customer = sam.id, .start = At(monday, 14)}),
              "Book Sam a massage at 14:00 too, resources picked by the engine");
  fmt::print("          {} (Room 1 has capacity 2)\n", Describe(sams));
  Expect(sams.resources == std::vector<smooth::ResourceId>{ben.id, room.id}, "Ben and Room 1");

  Step("A weekly series across the change to summer time (Sunday 29 March)");
  const smooth::SeriesBooking series =
      Require(scheduler->BookSeries(owner, tenant,
                                    {.first = consultation(sam, At({2026, 3, 17}, 10), ann.id),
                                     .rrule = "FREQ=WEEKLY;COUNT=4"}),
              "BookSeries Sam with Ann, Tuesdays at 10:00, FREQ=WEEKLY;COUNT=4");
  const std::vector<smooth::LocalDate> tuesdays = {
      {2026, 3, 17}, {2026, 3, 24}, {2026, 3, 31}, {2026, 4, 7}};
  Expect(series.appointments.size() == tuesdays.size(), "four occurrences");
  for (std::size_t i = 0; i < series.appointments.size(); ++i) {
    const smooth::Appointment& a = series.appointments[i];
    fmt::print("          #{} {} = {}\n", a.id, Local(a.start), smooth::FormatRfc3339(a.start));
    Expect(i < tuesdays.size() && a.start == At(tuesdays[i], 10), "10:00 local every week");
  }
  const int cancelled =
      Require(scheduler->CancelSeriesFrom(owner, tenant, series.appointments.at(2).id),
              "CancelSeriesFrom the third occurrence (31 March)");
  fmt::print("          {} occurrences cancelled\n", cancelled);
  Expect(cancelled == 2, "31 March and 7 April cancelled");

  Step("Housekeeping: Maintain, from a timer in a real application");
  const smooth::Hold lapsing =
      Require(scheduler->PlaceHold(owner, tenant, consultation(sam, At(monday, 16), ann.id), 5min),
              "PlaceHold Sam with Ann at 16:00, for 5 minutes");
  clock.Advance(smooth::SchedulerOptions{}.unload_after);  // nobody calls for half an hour
  const smooth::MaintenanceReport report = Require(scheduler->Maintain(), "Maintain");
  fmt::print("          {} hold expired (#{}), {} tenant unloaded from memory\n",
             report.holds_expired, lapsing.id, report.tenants_unloaded);
  Expect(report.holds_expired == 1 && events.back().type == smooth::EventType::kHoldExpired,
         "the hold's expiry announced without any other call");
  Expect(report.tenants_unloaded == 1, "the idle tenant unloaded");
  Expect(!availability(consult, {ann.id}, "Availability for Ann (loads the tenant again)").empty(),
         "answers again after the unload");

  Step("The events delivered so far");
  for (std::size_t i = 0; i < events.size(); ++i) {
    const smooth::ScheduleEvent& e = events[i];
    fmt::print("          seq {:>2} {:<13} {}\n", e.seq, smooth::EventTypeName(e.type),
               e.appointment ? fmt::format("appointment #{}", e.appointment->id)
                             : fmt::format("hold #{}", e.hold->id));
    Expect(i == 0 || e.seq == events[i - 1].seq + 1, "seq to go up by one per event");
  }
  Expect(!events.empty(), "events");

  Step("Close everything, reopen the same directory");
  const smooth::Instant march = At({2026, 3, 1}, 0);
  const smooth::Instant may = At({2026, 5, 1}, 0);
  std::vector<std::string> before;
  for (const smooth::Appointment& a :
       Require(scheduler->ListAppointments(owner, tenant, march, may), "ListAppointments")) {
    before.push_back(Describe(a));
  }
  scheduler->Unsubscribe(subscription);
  scheduler.reset();
  platform.reset();  // the storage's last owner: the SQLite files are closed
  fmt::print("          closed\n");
  platform = open_platform();
  scheduler = Require(smooth::Scheduler::Open(*platform), "Scheduler::Open");
  owner = Require(platform->ActAs(owner_user.id), "ActAs Olga");
  std::vector<std::string> after;
  for (const smooth::Appointment& a :
       Require(scheduler->ListAppointments(owner, tenant, march, may), "ListAppointments")) {
    after.push_back(Describe(a));
    fmt::print("          {}\n", after.back());
  }
  Expect(after == before, "the same appointments as before closing");
  ExpectRefused(scheduler->Book(owner, tenant, consultation(pat, At(monday, 14), ann.id)),
                StatusCode::kConflict,
                "Book Ann at 14:00 (the reopened scheduler knows she is busy)");

  Step("Bad input is refused with the field named");
  const smooth::Result<smooth::Service> negative = scheduler->CreateService(
      owner, tenant,
      {.name = "Time travel", .duration = -30min, .requirements = {{.resources = {ann.id}}}});
  ExpectRefused(negative, StatusCode::kInvalidArgument, "CreateService with duration -30 min");
  Expect(!negative && negative.error().message().starts_with("duration:"),
         "the message to start with \"duration:\"");
  ExpectRefused(
      scheduler->Book(owner, tenant, consultation(pat, At(monday, 10), smooth::ResourceId(999))),
      StatusCode::kNotFound, "Book with resource #999, which does not exist");

  scheduler.reset();
  platform.reset();
  if (data.temporary) {
    std::error_code ec;
    std::filesystem::remove_all(data.path, ec);
  } else {
    fmt::print("\nSQLite files kept in {}\n", data.path.string());
  }
  if (failures > 0) {
    fmt::print("\nbooking_demo: {} step(s) did not behave as expected\n", failures);
    return EXIT_FAILURE;
  }
  fmt::print("\nbooking_demo: every step behaved as expected\n");
  return EXIT_SUCCESS;
}
