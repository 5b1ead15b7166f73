// Time-limited permission grants: creation rules, activity to the microsecond of the
// injected clock, revocation, bulk revocation, and their audit lines.
#include <doctest/doctest.h>

#include "before_write_storage.hpp"
#include "fixtures.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::BeforeWriteStorage;
using smooth::testing::Must;
using smooth::testing::World;

namespace {
const Target kAcme(const World& w) { return Target{w.acme.id, std::nullopt, false, std::nullopt}; }
}  // namespace

TEST_CASE("a grant acts exactly while active: at expiry - 1us yes, at expiry no") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal staff = w.As("TENANT_STAFF");
  CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)));

  Grant g = Must(w.platform->CreateGrant(owner, staff.user.id, Action::kCustomerManage,
                                         "covering the front desk"));
  CHECK(g.expires_at == w.clock.Now() + 30min);  // the default duration
  CHECK(g.scope == Scope::kOwnTenant);
  CHECK(g.StatusAt(w.clock.Now()) == GrantStatus::kActive);

  Decision d = w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w));
  CHECK(d.allowed);
  CHECK(d.via_grant == g.id);
  // Only for the granted action, and never in another tenant.
  CHECK_FALSE(w.platform->Authorize(staff, Action::kServiceManage, kAcme(w)));
  CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage,
                                    {w.globex.id, std::nullopt, false, std::nullopt}));

  w.clock.Set(g.expires_at - 1us);
  CHECK(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
  w.clock.Set(g.expires_at);
  CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
  CHECK(g.StatusAt(w.clock.Now()) == GrantStatus::kExpired);
}

TEST_CASE("revocation takes effect immediately") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal staff = w.As("TENANT_STAFF");
  Grant g = Must(w.platform->CreateGrant(owner, staff.user.id, Action::kCustomerManage, "cover"));
  CHECK(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
  Grant revoked = Must(w.platform->RevokeGrant(owner, g.id, "done"));
  CHECK(revoked.StatusAt(w.clock.Now()) == GrantStatus::kRevoked);
  CHECK(revoked.revoked_by == owner.user.id);
  CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
  CHECK(w.platform->RevokeGrant(owner, g.id, "again").error().code() ==
        StatusCode::kFailedPrecondition);
}

TEST_CASE("bulk revoke by ids and by filter returns the count of grants revoked") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  const User& staff = w.users.at("TENANT_STAFF");
  const User& customer = w.users.at("CUSTOMER");
  std::vector<GrantId> ids;
  for (Action a : {Action::kCustomerManage, Action::kServiceManage, Action::kResourceManage})
    ids.push_back(Must(w.platform->CreateGrant(owner, staff.id, a, "training week")).id);
  GrantId for_customer =
      Must(w.platform->CreateGrant(owner, customer.id, Action::kAppointmentReadAll, "vip")).id;

  // One id already revoked, one unknown: neither counts.
  Must(w.platform->RevokeGrant(owner, ids[0], "early"));
  CHECK(Must(w.platform->RevokeGrants(owner, {ids[0], ids[1], GrantId(999999)}, "bulk")) == 1);
  // By filter: the staff member's remaining active grants.
  GrantFilter f;
  f.grantee = staff.id;
  CHECK(Must(w.platform->RevokeGrants(owner, f, "bulk by filter")) == 1);
  CHECK(Must(w.platform->RevokeGrants(owner, f, "nothing left")) == 0);
  // The customer's grant is untouched.
  f.grantee = customer.id;
  f.only_active = true;
  auto left = Must(w.platform->ListGrants(owner, f));
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == for_customer);
}

TEST_CASE("bulk revoke skips grants the actor may not revoke") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal gowner = w.As("globex:TENANT_OWNER");
  Grant mine = Must(w.platform->CreateGrant(owner, w.users.at("TENANT_STAFF").id,
                                            Action::kCustomerManage, "x"));
  Grant theirs = Must(w.platform->CreateGrant(gowner, w.users.at("globex:TENANT_STAFF").id,
                                              Action::kCustomerManage, "y"));
  CHECK(Must(w.platform->RevokeGrants(owner, {mine.id, theirs.id}, "bulk")) == 1);
  CHECK(Must(w.platform->ListGrants(gowner, {.only_active = true})).size() == 1);
  auto left = Must(w.platform->ListGrants(gowner, {.only_active = true}));
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == theirs.id);
  CHECK(w.platform
            ->Authorize(w.As("globex:TENANT_STAFF"), Action::kCustomerManage,
                        {w.globex.id, std::nullopt, false, std::nullopt})
            .allowed);
}

// A Principal held across its user's deactivation stops working everywhere, the right to
// revoke grants included (the owner outranks the staff member the manager's grants went to).
TEST_CASE("a deactivated user's held Principal revokes nothing") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal manager = w.As("TENANT_MANAGER");
  const User& staff = w.users.at("TENANT_STAFF");
  Grant g1 = Must(w.platform->CreateGrant(manager, staff.id, Action::kCustomerManage, "cover"));
  Grant g2 = Must(w.platform->CreateGrant(manager, staff.id, Action::kServiceManage, "cover"));
  Must(w.platform->DeactivateUser(w.root_p, owner.user.id));
  CHECK_FALSE(w.platform->Authorize(owner, Action::kTenantRead, kAcme(w)));
  auto one = w.platform->RevokeGrant(owner, g1.id, "by a deactivated user");
  REQUIRE_FALSE(one);
  CHECK(one.error().code() == StatusCode::kPermissionDenied);
  CHECK(one.error().message() == "the acting user is inactive");
  CHECK(Must(w.platform->RevokeGrants(owner, {g2.id}, "by a deactivated user")) == 0);
  // Both grants still act.
  CHECK(Must(w.platform->ListGrants(w.root_p, {.only_active = true})).size() == 2);
  CHECK(w.platform->Authorize(w.As("TENANT_STAFF"), Action::kCustomerManage, kAcme(w)).allowed);
}

// A grant is judged on its grantor's and its grantee's standing when it is made. A
// deactivation or a role change of either ends it, in the same transaction, with an audit
// line naming why; a reactivation or a change back does not bring it back.
TEST_CASE("a grant ends when its grantor or grantee is deactivated or changes role") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal manager = w.As("TENANT_MANAGER");
  Principal staff = w.As("TENANT_STAFF");
  const User& customer = w.users.at("CUSTOMER");
  auto active_grants = [&] {
    return Must(w.platform->ListGrants(w.root_p, {.only_active = true}));
  };
  auto only_grant_revoked_for = [&] {
    auto all = Must(w.platform->ListGrants(w.root_p, {}));
    REQUIRE(all.size() == 1);
    CHECK(all[0].StatusAt(w.clock.Now()) == GrantStatus::kRevoked);
    return all[0].revoke_reason;
  };

  SUBCASE("the grantor is deactivated") {
    Grant by_manager =
        Must(w.platform->CreateGrant(manager, staff.user.id, Action::kCustomerManage, "cover"));
    Grant by_owner =
        Must(w.platform->CreateGrant(owner, customer.id, Action::kAppointmentReadAll, "vip"));
    w.security->Clear();
    Must(w.platform->DeactivateUser(owner, manager.user.id));
    auto lines = w.security->Lines();
    CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
    auto left = active_grants();
    REQUIRE(left.size() == 1);
    CHECK(left[0].id == by_owner.id);
    auto all = Must(w.platform->ListGrants(w.root_p, {.grantee = staff.user.id}));
    REQUIRE(all.size() == 1);
    CHECK(all[0].StatusAt(w.clock.Now()) == GrantStatus::kRevoked);
    CHECK(all[0].revoked_by == owner.user.id);
    CHECK(all[0].revoke_reason == "the grantor was deactivated");

    REQUIRE(lines.size() == 2);
    CHECK(testing::ParseLine(lines[0]).at("action").as_string() == "USER_DEACTIVATED");
    auto revoked = testing::ParseLine(lines[1]);
    CHECK(revoked.at("action").as_string() == "GRANT_REVOKED");
    CHECK(revoked.at("grant_id").as_int64() == by_manager.id.value());
    CHECK(revoked.at("reason").as_string() == "the grantor was deactivated");
    CHECK(revoked.at("revoked_by").as_string() == "tenant_owner@acme.test");

    // Reactivated, the manager's grant stays revoked.
    Must(w.platform->ReactivateUser(owner, manager.user.id));
    CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
  }

  SUBCASE("the grantee is deactivated") {
    Must(w.platform->CreateGrant(manager, staff.user.id, Action::kCustomerManage, "cover"));
    Must(w.platform->DeactivateUser(owner, staff.user.id));
    CHECK(active_grants().empty());
    Must(w.platform->ReactivateUser(owner, staff.user.id));
    Principal back = w.platform->ActAs(staff.user.id).value();
    CHECK_FALSE(w.platform->Authorize(back, Action::kCustomerManage, kAcme(w)).allowed);
    CHECK(only_grant_revoked_for() == "the grantee was deactivated");
  }

  SUBCASE("the grantor changes role") {
    Must(w.platform->CreateGrant(manager, staff.user.id, Action::kCustomerManage, "cover"));
    Must(w.platform->ChangeRole(owner, manager.user.id, Role::kTenantStaff));
    CHECK(active_grants().empty());
    Must(w.platform->ChangeRole(owner, manager.user.id, Role::kTenantManager));
    CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
    CHECK(only_grant_revoked_for() == "the grantor changed role");
  }

  SUBCASE("the grantee changes role") {
    Must(w.platform->CreateGrant(manager, staff.user.id, Action::kAppointmentReadAll, "audit"));
    Must(w.platform->CreateGrant(manager, customer.id, Action::kAppointmentReadAll, "vip"));
    // Demoted to customer, the staff member does not keep what the grant gave a staff member.
    Must(w.platform->ChangeRole(owner, staff.user.id, Role::kCustomer));
    CHECK_FALSE(w.platform->Authorize(staff, Action::kAppointmentReadAll, kAcme(w)).allowed);
    auto left = active_grants();
    REQUIRE(left.size() == 1);
    CHECK(left[0].grantee == customer.id);
    // Setting the same role again changes nothing and ends nothing.
    Must(w.platform->ChangeRole(owner, customer.id, Role::kCustomer));
    CHECK(active_grants().size() == 1);
  }

  SUBCASE("a deactivated user is given no grant") {
    Must(w.platform->DeactivateUser(owner, staff.user.id));
    auto g = w.platform->CreateGrant(manager, staff.user.id, Action::kCustomerManage, "cover");
    REQUIRE_FALSE(g);
    CHECK(g.error().code() == StatusCode::kFailedPrecondition);
    CHECK(g.error().message() == "grantee: user tenant_staff@acme.test is deactivated");
    CHECK(Must(w.platform->ListGrants(w.root_p, {})).empty());
  }
}

// The revocations are part of the deactivation's transaction: when it fails, the user stays
// active and the grant stays in force.
TEST_CASE("a deactivation whose grant revocation fails changes nothing") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal manager = w.As("TENANT_MANAGER");
  Principal staff = w.As("TENANT_STAFF");
  Must(w.platform->CreateGrant(manager, staff.user.id, Action::kCustomerManage, "cover"));
  auto hooked = std::make_shared<BeforeWriteStorage>(w.storage);
  PlatformOptions o = w.platform->options();
  o.storage = hooked;
  auto other = Must(Platform::Open(o));
  int asked = 0;
  hooked->on_update_grant = [&] {
    ++asked;
    return Unavailable("the database went away");
  };
  w.security->Clear();
  auto off = other->DeactivateUser(owner, manager.user.id);
  REQUIRE_FALSE(off);
  CHECK(off.error().code() == StatusCode::kUnavailable);
  CHECK(asked == 1);
  CHECK(w.security->Lines().empty());  // nothing is said of what did not happen
  hooked->on_update_grant = nullptr;

  CHECK(Must(w.platform->GetUser(w.root_p, manager.user.id)).is_active);
  CHECK(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
  CHECK(Must(w.platform->ListGrants(w.root_p, {.only_active = true})).size() == 1);
  // The same change with nothing failing goes through whole: the user is deactivated and
  // the grant it gave ends with it.
  CHECK_FALSE(Must(other->DeactivateUser(owner, manager.user.id)).is_active);
  CHECK_FALSE(Must(w.platform->GetUser(w.root_p, manager.user.id)).is_active);
  CHECK(Must(w.platform->ListGrants(w.root_p, {.only_active = true})).empty());
  CHECK_FALSE(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
}
// A listing of grants in several tenants shows each reader the grants it may read: all of
// them to the platform's readers, its own tenant's to an owner, none to sales.
TEST_CASE("a listing of grants across tenants shows each reader its own") {
  World w;
  User demo_owner = w.NewUser(Role::kTenantOwner, w.demo.id, "owner@demo1.test");
  User demo_staff = w.NewUser(Role::kTenantStaff, w.demo.id, "staff@demo1.test");
  Principal acme_owner = w.As("TENANT_OWNER");
  Principal demo_p = Must(w.platform->ActAs(demo_owner.id));
  // Interleaved, so that the listing alternates between the two tenants.
  Grant a1 = Must(w.platform->CreateGrant(acme_owner, w.users.at("TENANT_STAFF").id,
                                          Action::kCustomerManage, "cover"));
  Grant d1 = Must(w.platform->CreateGrant(demo_p, demo_staff.id, Action::kCustomerManage, "demo"));
  Grant a2 = Must(w.platform->CreateGrant(acme_owner, w.users.at("TENANT_STAFF").id,
                                          Action::kServiceManage, "cover"));
  Grant d2 = Must(w.platform->CreateGrant(demo_p, demo_staff.id, Action::kServiceManage, "demo"));
  auto ids = [](const std::vector<Grant>& grants) {
    std::vector<GrantId> out;
    for (const Grant& g : grants) out.push_back(g.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<GrantId> all{a1.id, d1.id, a2.id, d2.id};
  CHECK(ids(Must(w.platform->ListGrants(w.root_p, {}))) == all);
  CHECK(ids(Must(w.platform->ListGrants(w.As("PLATFORM_SUPPORT"), {}))) == all);
  CHECK(ids(Must(w.platform->ListGrants(acme_owner, {}))) == std::vector<GrantId>{a1.id, a2.id});
  CHECK(ids(Must(w.platform->ListGrants(demo_p, {}))) == std::vector<GrantId>{d1.id, d2.id});
  // grant.read is not among sales' rights, demo tenant or not.
  CHECK(Must(w.platform->ListGrants(w.As("PLATFORM_SALES"), {})).empty());
}

TEST_CASE("grant creation rules: reason, duration, rank, the grantor's own scope, no self-grants") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal manager = w.As("TENANT_MANAGER");
  const User& staff = w.users.at("TENANT_STAFF");

  auto r = w.platform->CreateGrant(owner, staff.id, Action::kCustomerManage, "");
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::kInvalidArgument);
  CHECK(r.error().message().rfind("reason:", 0) == 0);
  r = w.platform->CreateGrant(owner, staff.id, Action::kCustomerManage, std::string(501, 'x'));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::kInvalidArgument);
  CHECK(r.error().message().rfind("reason:", 0) == 0);
  CHECK(w.platform->CreateGrant(owner, staff.id, Action::kCustomerManage, std::string(500, 'x')));
  r = w.platform->CreateGrant(owner, staff.id, Action::kCustomerManage, "r", 0min);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::kInvalidArgument);
  CHECK(r.error().message().rfind("duration: must be between 1 and 480 minutes", 0) == 0);
  r = w.platform->CreateGrant(owner, staff.id, Action::kCustomerManage, "r", 8h + 1min);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::kInvalidArgument);
  CHECK(r.error().message().rfind("duration: must be between 1 and 480 minutes", 0) == 0);
  CHECK(w.platform->CreateGrant(owner, staff.id, Action::kCustomerManage, "r", 8h));

  // No self-grants.
  CHECK(w.platform->CreateGrant(owner, owner.user.id, Action::kAuditRead, "me").error().code() ==
        StatusCode::kPermissionDenied);
  // Must outrank the grantee.
  CHECK(w.platform->CreateGrant(manager, w.users.at("TENANT_OWNER").id, Action::kCustomerRead, "r")
            .error().code() == StatusCode::kPermissionDenied);
  // A manager cannot hand out billing.view, which it does not hold itself.
  auto billing = w.platform->CreateGrant(manager, staff.id, Action::kBillingView, "r");
  CHECK(billing.error().code() == StatusCode::kPermissionDenied);
  // Nobody grants across tenants: the grantee is not even visible.
  CHECK(w.platform->CreateGrant(owner, w.users.at("globex:TENANT_STAFF").id,
                                Action::kCustomerRead, "r").error().code() == StatusCode::kNotFound);
  // Staff may not create grants at all.
  CHECK(w.platform->CreateGrant(w.As("TENANT_STAFF"), w.users.at("CUSTOMER").id,
                                Action::kCustomerRead, "r").error().code() ==
        StatusCode::kPermissionDenied);

  // Of all those requests only the two good ones made a grant; no refusal made one.
  auto made = Must(w.platform->ListGrants(w.root_p, {}));
  CHECK(made.size() == 2);
  for (const Grant& g : made) {
    CHECK(g.grantor == owner.user.id);
    CHECK(g.grantee == staff.id);
  }
}

TEST_CASE("a platform grantee's grant keeps the grantor's any_tenant scope") {
  World w;
  Principal sales = w.As("PLATFORM_SALES");
  Target acme_tenant{w.acme.id, std::nullopt, false, std::nullopt};
  CHECK_FALSE(w.platform->Authorize(sales, Action::kTenantRead, acme_tenant));
  Grant g = Must(w.platform->CreateGrant(w.root_p, sales.user.id, Action::kTenantRead, "deal"));
  CHECK(g.scope == Scope::kAnyTenant);
  CHECK(w.platform->Authorize(sales, Action::kTenantRead, acme_tenant).allowed);
}

TEST_CASE("a grant use can be held back until the caller's answer stands") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal staff = w.As("TENANT_STAFF");
  Must(w.platform->CreateGrant(owner, staff.user.id, Action::kCustomerManage, "cover"));
  w.security->Clear();
  std::vector<AuditRecord> held;
  CHECK(w.platform->Evaluate(staff, Action::kCustomerManage, kAcme(w), held).allowed);
  CHECK(w.platform->Check(staff, Action::kCustomerManage, kAcme(w), held).ok());
  CHECK(w.security->size() == 0);
  REQUIRE(held.size() == 2);
  CHECK(held[0].action == "GRANT_USED");
  CHECK(held[1].action == "GRANT_USED");
  w.platform->WriteHeld(std::move(held));
  auto lines = w.security->Lines();
  REQUIRE(lines.size() == 2);
  CHECK(testing::ParseLine(lines[0]).at("action").as_string() == "GRANT_USED");
  CHECK(testing::ParseLine(lines[1]).at("action").as_string() == "GRANT_USED");
}

TEST_CASE("a user lookup's audit record can be held back the same way") {
  World w;
  Principal customer = w.As("CUSTOMER");
  const UserId staff = w.users.at("TENANT_STAFF").id;
  w.security->Clear();
  // At once: the refusal is logged.
  CHECK(w.platform->GetUser(customer, staff).error().code() == StatusCode::kPermissionDenied);
  CHECK(w.security->size() == 1);
  // Held: the same refusal, logged only when written.
  std::vector<AuditRecord> held;
  CHECK(w.platform->GetUser(customer, staff, held).error().code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.security->size() == 1);
  REQUIRE(held.size() == 1);
  CHECK(held[0].action == "PERMISSION_DENIED");
  w.platform->WriteHeld(std::move(held));
  auto lines = w.security->Lines();
  REQUIRE(lines.size() == 2);
  CHECK(testing::ParseLine(lines[1]).at("permission").as_string() == "user.read");
  // Allowed without a grant: nothing to hold.
  std::vector<AuditRecord> none;
  CHECK(w.platform->GetUser(w.As("TENANT_OWNER"), staff, none).ok());
  CHECK(none.empty());
}

TEST_CASE("grant creation, use and revocation are audited") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal staff = w.As("TENANT_STAFF");
  w.security->Clear();
  Grant g = Must(w.platform->CreateGrant(owner, staff.user.id, Action::kCustomerManage,
                                         "quote \" and\nnewline"));
  CHECK(w.platform->Authorize(staff, Action::kCustomerManage, kAcme(w)).allowed);
  Must(w.platform->RevokeGrant(owner, g.id, "done"));
  auto lines = w.security->Lines();
  REQUIRE(lines.size() == 3);
  auto created = testing::ParseLine(lines[0]);
  CHECK(created.at("action").as_string() == "GRANT_CREATED");
  CHECK(created.at("reason").as_string() == "quote \" and\nnewline");
  CHECK(created.at("grantee").as_string() == "tenant_staff@acme.test");
  CHECK(created.at("permission").as_string() == "customer.manage");
  auto used = testing::ParseLine(lines[1]);
  CHECK(used.at("action").as_string() == "GRANT_USED");
  CHECK(used.at("permission").as_string() == "customer.manage");
  CHECK(used.at("grant_id").as_int64() == g.id.value());
  CHECK(used.at("user_email").as_string() == "tenant_staff@acme.test");
  auto revoked = testing::ParseLine(lines[2]);
  CHECK(revoked.at("action").as_string() == "GRANT_REVOKED");
  CHECK(revoked.at("reason").as_string() == "done");
  CHECK(revoked.at("grant_id").as_int64() == g.id.value());
  CHECK(revoked.at("revoked_by").as_string() == "tenant_owner@acme.test");
}
