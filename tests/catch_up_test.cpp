// A Scheduler whose tenant another process (here: another Scheduler on the same storage)
// wrote to catches up before it answers or decides: appointments from the rows that
// changed, resources redefined in place, services, customers and holds re-read.
#include <doctest/doctest.h>

#include "schedule_fixtures.hpp"

namespace smooth::testing {
namespace {

using namespace std::chrono_literals;


struct TwoSchedulers {
  ScheduleWorld w;  // w.scheduler is "here"
  std::unique_ptr<Scheduler> there = Must(Scheduler::Open(*w.platform));
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 1, .time_zone = "UTC", .hours = Weekdays({Hours(9, 12)})});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = w.AddCustomer("Pat");

  std::vector<std::string> Offered(Scheduler& s) {
    std::vector<std::string> out;
    for (const Slot& slot : Must(s.Availability(
             w.owner, w.acme.id,
             {.service = cut.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"})))
      out.push_back(Show(slot.start));
    return out;
  }
  Result<Appointment> Book(Scheduler& s, Instant start) {
    return s.Book(w.owner, w.acme.id, {.service = cut.id, .customer = pat.id, .start = start});
  }
};

TEST_CASE("another writer's bookings, moves and cancellations are seen before answering") {
  TwoSchedulers t;
  // 30-minute cuts every 15 minutes from 09:00 to 12:00: 09:00 ... 11:30.
  CHECK(t.Offered(*t.w.scheduler).size() == 11);
  Appointment a = Must(t.Book(*t.there, Mon(10)));
  CHECK(t.Offered(*t.w.scheduler).size() == 8);  // 09:45, 10:00, 10:15 taken
  CHECK_CODE(t.Book(*t.w.scheduler, Mon(10, 15)), StatusCode::kConflict);

  Must(t.there->Reschedule(t.w.owner, t.w.acme.id, a.id, Mon(11)));
  auto offered = t.Offered(*t.w.scheduler);
  CHECK(std::find(offered.begin(), offered.end(), Show(Mon(10))) != offered.end());
  CHECK(std::find(offered.begin(), offered.end(), Show(Mon(11))) == offered.end());
  Must(t.Book(*t.w.scheduler, Mon(10)));  // free again here

  Must(t.there->Cancel(t.w.owner, t.w.acme.id, a.id));
  Must(t.Book(*t.w.scheduler, Mon(11)));
  CHECK(t.w.Occupying().size() == 2);
}

// No read in between: the Scheduler here may decide against the state it last wrote, and
// storage then finds that another writer moved the tenant on. The write is decided again
// on the caught-up state, for a refusal as for a booking.
TEST_CASE("a write decided against a state another writer moved on is decided again") {
  TwoSchedulers t;
  Must(t.Book(*t.w.scheduler, Mon(9)));
  Must(t.Book(*t.w.scheduler, Mon(9, 30)));
  Appointment there = Must(t.Book(*t.there, Mon(10)));
  CHECK_CODE(t.Book(*t.w.scheduler, Mon(10, 15)), StatusCode::kConflict);
  Must(t.there->Cancel(t.w.owner, t.w.acme.id, there.id));
  Must(t.Book(*t.w.scheduler, Mon(10)));  // refused here until the cancellation is seen
  Must(t.Book(*t.there, Mon(11)));
  CHECK_CODE(t.Book(*t.w.scheduler, Mon(11)), StatusCode::kConflict);
  Must(t.Book(*t.w.scheduler, Mon(11, 30)));
  CHECK(t.w.Occupying().size() == 5);  // 09:00, 09:30, 10:00, 11:00, 11:30
  CHECK(t.Offered(*t.w.scheduler) == t.Offered(*t.there));
}

// A refusal decided against a state that had moved on is decided again, like any answer;
// security.log must still show one refusal for one request.
TEST_CASE("a refusal decided against a state another writer moved on is audited once") {
  TwoSchedulers t;
  Must(t.Book(*t.w.scheduler, Mon(9)));  // this Scheduler's batches now assume its state
  Must(t.Book(*t.w.scheduler, Mon(9, 30)));
  Must(t.Book(*t.there, Mon(11)));  // and the tenant moves on behind its back
  auto denials = [&] { return CountActions(t.w.security->Lines(), "PERMISSION_DENIED"); };
  const int before = denials();
  // A CUSTOMER may book only for their own customer record; Pat is not theirs.
  auto refused = t.w.scheduler->Book(t.w.As("CUSTOMER"), t.w.acme.id,
                                     {.service = t.cut.id, .customer = t.pat.id, .start = Mon(10)});
  CHECK_CODE(refused, StatusCode::kPermissionDenied);
  CHECK(denials() == before + 1);
  CHECK(t.w.Occupying().size() == 3);
}

TEST_CASE("another writer's resource, service, customer and hold changes are seen") {
  TwoSchedulers t;
  CHECK(t.Offered(*t.w.scheduler).size() == 11);
  // Hours changed there: 09:00-10:00 only.
  Resource shorter = t.chair;
  shorter.hours = Weekdays({Hours(9, 10)});
  Must(t.there->UpdateResource(t.w.root_p, t.w.acme.id, shorter));
  CHECK(t.Offered(*t.w.scheduler).size() == 3);  // 09:00, 09:15, 09:30
  CHECK_CODE(t.Book(*t.w.scheduler, Mon(11)), StatusCode::kFailedPrecondition);

  // A second chair and a service on it, both made there, are usable here.
  Resource sofa = Must(t.there->CreateResource(
      t.w.root_p, t.w.acme.id,
      {.name = "Sofa", .capacity = 1, .time_zone = "UTC", .hours = Weekdays({Hours(9, 12)})}));
  Service nap = Must(t.there->CreateService(
      t.w.root_p, t.w.acme.id, {.name = "Nap", .requirements = {OneOf({sofa.id})}}));
  Customer kim = Must(t.there->CreateCustomer(t.w.root_p, t.w.acme.id, {.name = "Kim"}));
  Must(t.w.scheduler->Book(t.w.owner, t.w.acme.id,
                           {.service = nap.id, .customer = kim.id, .start = Mon(11)}));

  // A hold placed there blocks here until it is released there.
  Hold h = Must(t.there->PlaceHold(t.w.owner, t.w.acme.id,
                                   {.service = t.cut.id, .customer = t.pat.id, .start = Mon(9)}));
  CHECK_CODE(t.Book(*t.w.scheduler, Mon(9)), StatusCode::kConflict);
  Must(t.there->ReleaseHold(t.w.owner, t.w.acme.id, h.id));
  Must(t.Book(*t.w.scheduler, Mon(9)));
}

TEST_CASE("a user deactivated or a tenant suspended through another Platform cannot book next") {
  TwoSchedulers t;
  PlatformOptions o;
  o.storage = t.w.storage;
  o.clock = &t.w.clock;
  o.password_cost = PasswordCost::InsecureForTests();
  auto other = Must(Platform::Open(o));
  Principal manager = t.w.As("TENANT_MANAGER");
  auto book = [&](Instant start) {
    return t.w.scheduler->Book(manager, t.w.acme.id,
                               {.service = t.cut.id, .customer = t.pat.id, .start = start});
  };
  Must(book(Mon(9)));  // the manager's actor is now cached here
  Must(other->SuspendTenant(t.w.root_p, t.w.acme.id, "chargeback"));
  auto refused = book(Mon(10));
  CHECK_FALSE(refused.ok());
  CHECK_CODE(refused, StatusCode::kPermissionDenied);
  CHECK_MESSAGE(MessageOf(refused).find("suspended") != std::string::npos,
                "message: " << MessageOf(refused));
  CHECK(t.w.Occupying().size() == 1);  // the refusal wrote nothing
  Must(other->ReactivateTenant(t.w.root_p, t.w.acme.id));
  Must(book(Mon(10)));
  Must(other->DeactivateUser(t.w.root_p, manager.user.id));
  CHECK_CODE(book(Mon(11)), StatusCode::kPermissionDenied);
  CHECK(t.w.Occupying().size() == 2);
}

}  // namespace
}  // namespace smooth::testing
