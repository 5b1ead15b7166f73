// Deleting a tenant (Platform::DeleteTenant, Storage::DeleteTenant): who may, when, and that
// afterwards nothing of it is found anywhere — not by host, login, token, grant listing,
// nor through a Scheduler (this process's or another's) that had its data loaded — while
// other tenants keep everything, and its slug is never taken again. On every backend.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "before_write_storage.hpp"
#include "fixtures.hpp"
#include "schedule_fixtures.hpp"
#include "smooth/platform.hpp"
#include "smooth/scheduler.hpp"
#include "smooth/storage.hpp"

namespace smooth::testing {
namespace {

using namespace std::chrono_literals;

// Acme and globex, each with a resource, a service, a customer and a booking; acme also with
// a verified custom domain, a grant and sessions of every kind.
struct Tenants : ScheduleWorld {
  Service acme_cut, globex_cut;
  Appointment acme_booking, globex_booking;
  Domain custom;
  Grant grant;
  Session owner_session, support_session, hijack;

  Tenants() {
    for (const Tenant* t : {&acme, &globex}) {
      Resource r = AddResource({.name = "Ann", .time_zone = "UTC", .hours = AlwaysOpen()}, t->id);
      Service s = AddService({.name = "Cut", .requirements = {OneOf({r.id})}}, t->id);
      Customer c = AddCustomer("Pat", std::nullopt, t->id);
      Appointment a = Must(
          scheduler->Book(root_p, t->id, {.service = s.id, .customer = c.id, .start = Mon(10)}));
      (t == &acme ? acme_cut : globex_cut) = s;
      (t == &acme ? acme_booking : globex_booking) = a;
    }
    custom = Must(platform->AddDomain(
        owner, {.name = "book.acme.example", .tenant = acme.id, .is_custom_domain = true}));
    Must(platform->SetDomainVerification(root_p, custom.id, DomainVerification::kVerified));
    grant = Must(platform->CreateGrant(owner, users.at("TENANT_STAFF").id,
                                       Action::kAppointmentReadAll, "covering the desk"));
    owner_session = LoginAs(users.at("TENANT_OWNER"));
    support_session = LoginAs(users.at("PLATFORM_SUPPORT"));
    hijack =
        Must(platform->StartMasquerade(support_session.id, users.at("TENANT_STAFF").id, "::1"));
  }
};

// "This process": a Platform on w's storage through a BeforeWriteStorage, so a test can have
// w.platform (another process) act at the moment a call of this one writes.
std::pair<std::shared_ptr<BeforeWriteStorage>, std::unique_ptr<Platform>> ThisProcess(World& w) {
  auto hooked = std::make_shared<BeforeWriteStorage>(w.storage);
  PlatformOptions o = w.platform->options();
  o.storage = hooked;
  return {hooked, Must(Platform::Open(o))};
}

TEST_CASE("a tenant is deleted only by a superuser, only once suspended; refusals change nothing") {
  Tenants w;
  w.security->Clear();
  Status manager = w.platform->DeleteTenant(w.As("PLATFORM_MANAGER"), w.acme.id);
  CHECK(CodeOf(manager) == "permission_denied");
  CHECK(manager.message() == "only a superuser deletes a tenant");
  auto denied = ParseLine(w.security->Lines().back());
  CHECK(denied.at("action").as_string() == "PERMISSION_DENIED");
  CHECK(denied.at("permission").as_string() == "tenant.delete");
  CHECK(CodeOf(w.platform->DeleteTenant(w.owner, w.acme.id)) == "permission_denied");
  CHECK(CodeOf(w.platform->DeleteTenant(w.As("globex:TENANT_OWNER"), w.acme.id)) == "not_found");
  Principal as_root_masquerading = Must(w.platform->Authenticate(
      Must(w.platform->StartMasquerade(w.LoginAs(w.root).id, w.users.at("PLATFORM_MANAGER").id,
                                       "::1"))
          .id));
  CheckMasqueradeRefusal(w.platform->DeleteTenant(as_root_masquerading, w.acme.id), *w.security,
                         "tenant.delete", w.users.at("PLATFORM_MANAGER"), w.root);
  Status active = w.platform->DeleteTenant(w.root_p, w.acme.id);
  CHECK(CodeOf(active) == "failed_precondition");
  CHECK(active.message() == "tenant 'acme' is not suspended: suspend it first");
  CHECK(CodeOf(w.platform->DeleteTenant(w.root_p, TenantId(987654))) == "not_found");

  // Nothing changed: the tenant, its data, its users, its sessions.
  CHECK(w.platform->GetTenant(w.root_p, w.acme.id));
  CHECK(w.Snapshot() == std::vector<std::string>{Describe(w.acme_booking)});
  CHECK(w.platform->Authenticate(w.owner_session.token, w.HostOf(w.users.at("TENANT_OWNER"))));
  CHECK(w.platform->Authenticate(w.hijack.id));
  CHECK(CountActions(w.security->Lines(), "TENANT_DELETED") == 0);
}

TEST_CASE("a deleted tenant is gone everywhere, other tenants keep everything") {
  Tenants w;
  // Another process's Platform and Scheduler, with acme's data loaded.
  auto other_platform = w.OpenPlatform();
  auto other = Must(Scheduler::Open(*other_platform));
  REQUIRE(Must(other->ListAppointments(w.root_p, w.acme.id, Mon(0), Mon(24))).size() == 1);

  Must(w.platform->SuspendTenant(w.root_p, w.acme.id, "contract ended"));
  const std::size_t masquerade_lines = w.masquerade->size();
  w.security->Clear();
  Must(w.platform->DeleteTenant(w.root_p, w.acme.id));

  auto deleted = ParseLine(w.security->Lines().back());
  CHECK(deleted.at("action").as_string() == "TENANT_DELETED");
  CHECK(deleted.at("tenant").as_string() == "acme");
  CHECK(deleted.at("by").as_string() == w.root.email);
  // The masquerade into it that was open ends with it.
  REQUIRE(w.masquerade->size() == masquerade_lines + 1);
  auto end = ParseLine(w.masquerade->Lines().back());
  CHECK(end.at("action").as_string() == "HIJACK_END");
  CHECK(end.at("session_key").as_string() == w.hijack.session_key);
  CHECK(end.at("hijacker_email").as_string() == w.users.at("PLATFORM_SUPPORT").email);
  CHECK(end.at("reason").as_string() == "tenant deleted");

  // Not found by id, in listings, by host (subdomain or custom domain).
  CHECK(CodeOf(w.platform->GetTenant(w.root_p, w.acme.id)) == "not_found");
  for (const Tenant& t : Must(w.platform->ListTenants(w.root_p))) CHECK(t.id != w.acme.id);
  CHECK(CodeOf(w.platform->ResolveHost("acme.lvh.me")) == "not_found");
  CHECK(CodeOf(w.platform->ResolveHost("book.acme.example")) == "not_found");
  // Its users, their sessions and tokens, its grants: gone.
  const User& owner = w.users.at("TENANT_OWNER");
  CHECK(CodeOf(w.platform->GetUser(w.root_p, owner.id)) == "not_found");
  CHECK(w.platform->Authenticate(w.owner_session.id).error().message() == "unknown session");
  CHECK(w.platform->Authenticate(w.hijack.id).error().message() == "unknown session");
  CHECK(w.platform->Authenticate(w.owner_session.token, w.HostOf(owner)).error().message() ==
        "invalid token");
  CHECK(CodeOf(w.platform->Login(w.HostOf(owner), owner.email, World::kPassword, "::1")) ==
        "unauthenticated");
  CHECK(CodeOf(w.platform->GetUser(w.owner, owner.id)) == "unauthenticated");
  for (const Grant& g : Must(w.platform->ListGrants(w.root_p, {}))) CHECK(g.id != w.grant.id);
  // The platform user who masqueraded keeps its own session.
  CHECK(w.platform->Authenticate(w.support_session.id));

  // Its data: no Scheduler reaches it, this process's or the other's, though both had it
  // loaded, and storage has no space for it.
  for (Scheduler* s : {w.scheduler.get(), other.get()}) {
    CHECK(CodeOf(s->ListAppointments(w.root_p, w.acme.id, Mon(0), Mon(24))) == "not_found");
    CHECK(CodeOf(s->Book(
              w.root_p, w.acme.id,
              {.service = w.acme_cut.id, .customer = w.acme_booking.customer, .start = Mon(12)})) ==
          "not_found");
  }
  Tenant gone = w.acme;
  CHECK(CodeOf(w.storage->BeginTenant(gone, TxnMode::kRead)) == "not_found");
  CHECK(CodeOf(w.storage->DeleteTenant(gone)) == "not_found");
  CHECK(CodeOf(w.platform->DeleteTenant(w.root_p, w.acme.id)) == "not_found");

  // Its slug is never taken again, by the platform nor by storage in another case.
  auto again = w.platform->CreateTenant(w.root_p, {.slug = "acme", .name = "Acme again"});
  CHECK(CodeOf(again) == "already_exists");
  CHECK(MessageOf(again) == "slug: 'acme' was a deleted tenant's, and is not used again");
  auto upper = w.storage->CreateTenant(Tenant{.slug = "Acme", .name = "Acme again"});
  CHECK(CodeOf(upper) == "already_exists");
  CHECK(MessageOf(upper) == "slug: 'Acme' was a deleted tenant's, and is not used again");

  // Globex keeps everything: its data, booking on it, its users and their logins.
  CHECK(w.Snapshot(w.globex.id) == std::vector<std::string>{Describe(w.globex_booking)});
  CHECK(Must(other->ListAppointments(w.root_p, w.globex.id, Mon(0), Mon(24))).size() == 1);
  CHECK(w.scheduler->Book(
      w.root_p, w.globex.id,
      {.service = w.globex_cut.id, .customer = w.globex_booking.customer, .start = Mon(12)}));
  CHECK(w.platform->Authenticate(w.LoginAs(w.users.at("globex:TENANT_OWNER")).id));
  CHECK(w.platform->ResolveHost("globex.lvh.me"));
}

TEST_CASE("what is made in a tenant while it is deleted is refused, not left behind") {
  // Each call reads the tenant (or its user) first and writes later; in between, another
  // process suspends and deletes the tenant. The write must then find the tenant gone
  // rather than leave a row naming it: a domain's name would stay taken for good, and
  // nothing could reach the user, grant or session to remove it.
  World w;
  auto [hooked, p] = ThisProcess(w);  // w.platform is the other one
  std::vector<TenantId> gone;
  auto doomed = [&](const std::string& slug) {
    Tenant t = Must(w.platform->CreateTenant(w.root_p, {.slug = slug, .name = slug}));
    gone.push_back(t.id);
    return t;
  };
  auto delete_before_write = [&](const Tenant& t) {
    hooked->before_write = [&w, t] {
      Must(w.platform->SuspendTenant(w.root_p, t.id, "contract ended"));
      Must(w.platform->DeleteTenant(w.root_p, t.id));
    };
  };

  Tenant t1 = doomed("gone1");
  delete_before_write(t1);
  auto domain = p->AddDomain(
      w.root_p, {.name = "book.gone1.example", .tenant = t1.id, .is_custom_domain = true});
  CHECK(CodeOf(domain) == "not_found");
  // The name is free for another tenant.
  CHECK(p->AddDomain(
      w.root_p, {.name = "book.gone1.example", .tenant = w.globex.id, .is_custom_domain = true}));

  Tenant t2 = doomed("gone2");
  delete_before_write(t2);
  auto user = p->CreateUser(w.root_p, {.email = "new@gone2.test",
                                       .display_name = "New",
                                       .role = Role::kTenantStaff,
                                       .tenant = t2.id,
                                       .password = World::kPassword});
  CHECK(CodeOf(user) == "not_found");

  Tenant t3 = doomed("gone3");
  User grantee = w.NewUser(Role::kTenantStaff, t3.id, "staff@gone3.test");
  delete_before_write(t3);
  auto grant = p->CreateGrant(w.root_p, grantee.id, Action::kAppointmentReadAll, "covering");
  CHECK(CodeOf(grant) == "not_found");  // the grantee went with its tenant

  // A login: its first write counts the attempt, its second makes the session.
  Tenant t4 = doomed("gone4");
  User member = w.NewUser(Role::kTenantStaff, t4.id, "staff@gone4.test");
  hooked->before_write = [&] { delete_before_write(t4); };
  auto session = p->Login(HostMatch{false, t4}, member.email, World::kPassword, "::1");
  CHECK(CodeOf(session) == "unauthenticated");

  auto txn = Must(w.storage->BeginShared(TxnMode::kRead));
  for (TenantId id : gone) {
    CAPTURE(id);
    CHECK(Must(txn->ListDomains(id)).empty());
    CHECK(Must(txn->ListUsers(id)).empty());
  }
  for (const Grant& g : Must(txn->ListGrants({}, w.clock.Now())))
    CHECK(std::find(gone.begin(), gone.end(), g.tenant.value_or(TenantId())) == gone.end());
  for (const Session& s : Must(txn->ListSessions()))
    CHECK(std::find(gone.begin(), gone.end(), s.tenant.value_or(TenantId())) == gone.end());
}

TEST_CASE("a masquerade a logout ends while its tenant is being deleted ends once in the log") {
  // Another process ends the masquerade just before the deletion's transaction: the
  // deletion must see it ended, not log its end a second time.
  Tenants w;
  auto [hooked, p] = ThisProcess(w);  // w.platform is the other one
  Must(p->SuspendTenant(w.root_p, w.acme.id, "contract ended"));
  const std::size_t before = w.masquerade->size();
  hooked->before_delete = [&] { Must(w.platform->Logout(w.hijack.id)); };
  Must(p->DeleteTenant(w.root_p, w.acme.id));
  int ends = 0;
  for (std::size_t i = before; i < w.masquerade->size(); ++i) {
    auto line = ParseLine(w.masquerade->Lines()[i]);
    if (line.at("action").as_string() == "HIJACK_END" &&
        line.at("session_key").as_string() == w.hijack.session_key)
      ++ends;
  }
  CHECK(ends == 1);
}

TEST_CASE("a tenant reactivated while it is being deleted is not deleted") {
  Tenants w;
  auto [hooked, p] = ThisProcess(w);  // w.platform is the other one
  Must(p->SuspendTenant(w.root_p, w.acme.id, "contract ended"));
  const std::size_t masquerade_lines = w.masquerade->size();
  hooked->before_delete = [&] { Must(w.platform->ReactivateTenant(w.root_p, w.acme.id)); };
  Status deleted = p->DeleteTenant(w.root_p, w.acme.id);
  CHECK(CodeOf(deleted) == "failed_precondition");
  CHECK(MessageOf(deleted) == "tenant 'acme' is not suspended: suspend it first");
  // Nothing went: the tenant, its data and its open masquerade.
  CHECK(Must(p->GetTenant(w.root_p, w.acme.id)).status == TenantStatus::kActive);
  CHECK(w.Snapshot() == std::vector<std::string>{Describe(w.acme_booking)});
  CHECK(w.masquerade->size() == masquerade_lines);
  CHECK(p->Authenticate(w.hijack.id));
}

TEST_CASE(
    "a write open on a tenant as it is deleted commits before the deletion returns, or never") {
  // Storage::DeleteTenant waits for the tenant's writers in flight: SQLite for the file's
  // write lock, PostgreSQL for DROP SCHEMA's locks, memory for the space's lock. A commit
  // reported after the deletion returned would be a booking acknowledged into nothing.
  World w;
  auto txn = Must(w.storage->BeginTenant(w.acme, TxnMode::kWrite));
  Must(txn->BumpChangeSeq());
  Must(txn->InsertCustomer(Customer{.name = "Late", .created_at = w.clock.Now()}));
  std::atomic<bool> deleted{false};
  Status deletion;
  std::thread deleter([&] {
    deletion = w.storage->DeleteTenant(w.acme);
    deleted = true;
  });
  std::this_thread::sleep_for(300ms);
  const bool deleted_first = deleted.load();
  const Status commit = txn->Commit();
  txn.reset();
  deleter.join();
  CHECK(deletion.ok());
  CHECK_FALSE(deleted_first);
  CHECK_MESSAGE(!(deleted_first && commit.ok()), "the write's commit succeeded after the deletion");
  CHECK(CodeOf(w.storage->BeginTenant(w.acme, TxnMode::kRead)) == "not_found");
  CHECK(CodeOf(w.storage->BeginTenant(w.acme, TxnMode::kWrite)) == "not_found");
}

}  // namespace
}  // namespace smooth::testing
