// Masquerading ("log in as"): the full role × role matrix and every rule, generated from
// one table, plus sessions and the masquerade.log lines.
#include <doctest/doctest.h>

#include "fixtures.hpp"

using namespace smooth;
using smooth::testing::Must;
using smooth::testing::World;

namespace {

// The masquerade table of the issue, written out: may `hijacker` act as `target`, given
// whether the target is in the same tenant and whether it is a demo account (a temporary
// user, which only a demo tenant can have)?
bool TableAllows(Role hijacker, Role target, bool same_tenant, bool temporary) {
  if (target == Role::kSuperuser && hijacker != Role::kSuperuser) return false;
  switch (hijacker) {
    case Role::kSuperuser: return true;
    case Role::kPlatformSupport:
      return target == Role::kTenantOwner || target == Role::kTenantManager ||
             target == Role::kTenantStaff || target == Role::kCustomer;
    case Role::kPlatformSales: return temporary;
    case Role::kTenantOwner: return target == Role::kTenantStaff && same_tenant;
    default: return false;
  }
}

}  // namespace

TEST_CASE("the full role x role masquerade matrix, same and other tenant, demo or not") {
  World w;
  int cases = 0;
  // Where a tenant target lives: acme (the tenant users' own), globex, or the demo tenant,
  // as an ordinary user or as a temporary one.
  enum class Place { kAcme, kGlobex, kDemo, kDemoTemporary };
  for (Role hr : kAllRoles) {
    for (Role tr : kAllRoles) {
      for (Place place : {Place::kAcme, Place::kGlobex, Place::kDemo, Place::kDemoTemporary}) {
        {
          // Platform targets have no tenant and are never temporary: one case each.
          if (IsPlatformRole(tr) && place != Place::kAcme) continue;
          const bool temporary = place == Place::kDemoTemporary;
          const User& hijacker = w.users.at(std::string(RoleName(hr)));
          std::optional<TenantId> tenant;
          if (!IsPlatformRole(tr))
            tenant = place == Place::kAcme ? w.acme.id : place == Place::kGlobex ? w.globex.id
                                                                                 : w.demo.id;
          const bool other_tenant = tenant != w.acme.id;
          std::string email = fmt::format("t{}@x.test", ++cases);
          User target = tr == Role::kSuperuser
                            ? Must(w.platform->CreateSuperuser(email, "Root", World::kPassword))
                            : w.NewUser(tr, tenant, email, temporary);
          bool same_tenant = hijacker.tenant && hijacker.tenant == target.tenant;
          Session s = w.LoginAs(hijacker);
          auto m = w.platform->StartMasquerade(s.id, target.id, "198.51.100.1");
          bool expected = TableAllows(hr, tr, same_tenant, temporary);
          CHECK_MESSAGE(m.has_value() == expected,
                        RoleName(hr) << " -> " << RoleName(tr) << " other_tenant=" << other_tenant
                                     << " temporary=" << temporary << ": "
                                     << (m ? "allowed" : m.error().ToString()));
          if (m) {
            CHECK(m->user == target.id);
            CHECK(m->original == s.id);
            Must(w.platform->StopMasquerade(m->id));
          } else {
            // Tenant users cannot even see another tenant's users.
            bool hidden = hijacker.tenant && target.tenant != hijacker.tenant;
            CHECK(m.error().code() ==
                  (hidden ? StatusCode::kNotFound : StatusCode::kPermissionDenied));
          }
          Must(w.platform->Logout(s.id));
        }
      }
    }
  }
  // Per hijacker: 3 platform targets + SUPERUSER + 4 tenant targets x 4 places.
  CHECK(cases == 8 * (3 + 1 + 4 * 4));
}

// PLATFORM_SALES may act as demo accounts only: a temporary user outside a demo tenant
// would be a way into a real tenant (or onto the platform), so none can be made.
TEST_CASE("temporary users exist only in demo tenants, so sales reach nothing else") {
  World w;
  for (auto [role, tenant] : {std::pair{Role::kTenantOwner, std::optional(w.acme.id)},
                              std::pair{Role::kCustomer, std::optional(w.globex.id)},
                              std::pair{Role::kPlatformSupport, std::optional<TenantId>()}}) {
    CAPTURE(RoleName(role));
    for (const Principal& by : {w.root_p, w.As("PLATFORM_SALES")}) {
      auto u = w.platform->CreateUser(by, {.email = "sneaky@x.test", .display_name = "S",
                                           .role = role, .tenant = tenant,
                                           .password = World::kPassword, .is_temporary = true});
      REQUIRE_FALSE(u);
      CHECK(u.error().code() == StatusCode::kInvalidArgument);
      CHECK(u.error().message() == "is_temporary: only users of a demo tenant can be temporary");
    }
  }
  // In the demo tenant, sales create one and act as it there, and only there.
  Principal sales = w.As("PLATFORM_SALES");
  User demo_owner = Must(w.platform->CreateUser(
      sales, {.email = "owner@demo.test", .display_name = "Demo owner",
              .role = Role::kTenantOwner, .tenant = w.demo.id, .password = World::kPassword,
              .is_temporary = true}));
  Session s = w.LoginAs(w.users.at("PLATFORM_SALES"));
  Principal as_owner =
      Must(w.platform->Authenticate(Must(w.platform->StartMasquerade(s.id, demo_owner.id, "::1")).id));
  CHECK(w.platform->Authorize(as_owner, Action::kCustomerRead, {w.demo.id, {}, false, {}}));
  CHECK_FALSE(w.platform->Authorize(as_owner, Action::kCustomerRead, {w.acme.id, {}, false, {}}));
}

TEST_CASE("logging out of a masquerade session ends it and writes HIJACK_END") {
  World w;
  Session s = w.LoginAs(w.users.at("TENANT_OWNER"));
  Session m = Must(w.platform->StartMasquerade(s.id, w.users.at("TENANT_STAFF").id, "192.0.2.10"));
  w.masquerade->Clear();
  Must(w.platform->Logout(m.id));
  CHECK(w.platform->Authenticate(m.id).error().code() == StatusCode::kUnauthenticated);
  // The original session lives on.
  CHECK(Must(w.platform->Authenticate(s.id)).user.role == Role::kTenantOwner);
  auto lines = w.masquerade->Lines();
  REQUIRE(lines.size() == 1);
  auto end = testing::ParseLine(lines[0]);
  CHECK(end.at("action").as_string() == "HIJACK_END");
  CHECK(end.at("hijacker_email").as_string() == "tenant_owner@acme.test");
  CHECK(end.at("hijacked_email").as_string() == "tenant_staff@acme.test");
  CHECK(end.at("session_key").as_string() == m.session_key);
  CHECK(end.at("reason").as_string() == "logged out");
  // Logging out of the original then ends nothing more.
  Must(w.platform->Logout(s.id));
  CHECK(w.masquerade->Lines().size() == 1);
}

// Rights are judged on the original user on every call, not only when the masquerade starts.
TEST_CASE("a masquerade stops working once the table would no longer start it") {
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  const User& staff = w.users.at("TENANT_STAFF");
  Session s = w.LoginAs(owner);
  Session m = Must(w.platform->StartMasquerade(s.id, staff.id, "::1"));
  Principal held = Must(w.platform->Authenticate(m.id));
  // The owner becomes a manager, who may masquerade as no one.
  Must(w.platform->ChangeRole(w.root_p, owner.id, Role::kTenantManager));
  auto restart = w.platform->StartMasquerade(s.id, staff.id, "::1");
  CHECK_FALSE(restart);
  REQUIRE_FALSE(restart);
  CHECK(restart.error().code() == StatusCode::kPermissionDenied);
  CHECK(restart.error().message() == "TENANT_MANAGER may not masquerade as TENANT_STAFF");
  auto again = w.platform->Authenticate(m.id);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == StatusCode::kUnauthenticated);
  CHECK(again.error().message() ==
        "the masquerade is no longer allowed: TENANT_MANAGER may not masquerade as TENANT_STAFF");
  CHECK_FALSE(w.platform->Authorize(held, Action::kAppointmentReadOwn, {w.acme.id, {}, false, {}}));
  // Given back the role, the same session works again: nothing else had ended it.
  Must(w.platform->ChangeRole(w.root_p, owner.id, Role::kTenantOwner));
  CHECK(w.platform->Authenticate(m.id));

  // The target promoted out of the table's reach ends it the same way.
  Must(w.platform->ChangeRole(w.root_p, staff.id, Role::kTenantManager));
  CHECK(w.platform->Authenticate(m.id).error().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("no one masquerades as themselves, not even a SUPERUSER") {
  World w;
  Session s = w.LoginAs(w.root);
  auto m = w.platform->StartMasquerade(s.id, w.root.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().code() == StatusCode::kPermissionDenied);
  CHECK(m.error().message() == "cannot masquerade as yourself");
}

TEST_CASE("only a SUPERUSER may masquerade as a SUPERUSER") {
  World w;
  User other_root = Must(w.platform->CreateSuperuser("root2@platform.test", "Root 2", World::kPassword));
  CHECK(w.platform->StartMasquerade(w.LoginAs(w.root).id, other_root.id, "::1"));
  auto m = w.platform->StartMasquerade(w.LoginAs(w.users.at("PLATFORM_SUPPORT")).id,
                                       other_root.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().code() == StatusCode::kPermissionDenied);
  CHECK(m.error().message() == "only a SUPERUSER may masquerade as a SUPERUSER");
}

TEST_CASE("an inactive target or a suspended target tenant is refused") {
  World w;
  Session s = w.LoginAs(w.root);
  const User& staff = w.users.at("TENANT_STAFF");
  Must(w.platform->DeactivateUser(w.root_p, staff.id));
  auto m = w.platform->StartMasquerade(s.id, staff.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().code() == StatusCode::kPermissionDenied);
  CHECK(m.error().message() == "the target user is inactive");

  const User& gstaff = w.users.at("globex:TENANT_STAFF");
  Must(w.platform->SuspendTenant(w.root_p, w.globex.id, "fraud"));
  m = w.platform->StartMasquerade(s.id, gstaff.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().code() == StatusCode::kPermissionDenied);
  CHECK(m.error().message() == "the target's tenant is suspended");
}

TEST_CASE("depth is at most 1: a masquerade cannot start another, rights judged on the original") {
  World w;
  Session s = w.LoginAs(w.root);
  // Root masquerades as the owner, who on its own could masquerade as staff.
  Session as_owner = Must(w.platform->StartMasquerade(s.id, w.users.at("TENANT_OWNER").id, "::1"));
  auto nested = w.platform->StartMasquerade(as_owner.id, w.users.at("TENANT_STAFF").id, "::1");
  REQUIRE_FALSE(nested);
  CHECK(nested.error().code() == StatusCode::kPermissionDenied);
  CHECK(nested.error().message().find("maximum depth 1") != std::string::npos);
}

TEST_CASE("a masquerade session acts as the target and never outlives the original") {
  World w;
  Session s = w.LoginAs(w.users.at("PLATFORM_SUPPORT"));
  const User& customer = w.users.at("CUSTOMER");
  Session m = Must(w.platform->StartMasquerade(s.id, customer.id, "::1"));
  Principal p = Must(w.platform->Authenticate(m.id));
  CHECK(p.user.id == customer.id);
  REQUIRE(p.original);
  CHECK(p.original->id == w.users.at("PLATFORM_SUPPORT").id);
  CHECK(p.RealUser().role == Role::kPlatformSupport);
  CHECK(m.session_key.size() == 32);
  CHECK(m.session_key != s.session_key);

  Must(w.platform->Logout(s.id));
  CHECK(w.platform->Authenticate(m.id).error().code() == StatusCode::kUnauthenticated);
  // A Principal held across the logout stops working too.
  CHECK_FALSE(w.platform->Authorize(p, Action::kTenantRead, {w.acme.id, {}, false, {}}));
}

TEST_CASE("stopping returns the original session") {
  World w;
  Session s = w.LoginAs(w.users.at("TENANT_OWNER"));
  Session m = Must(w.platform->StartMasquerade(s.id, w.users.at("TENANT_STAFF").id, "::1"));
  Session back = Must(w.platform->StopMasquerade(m.id));
  CHECK(back.id == s.id);
  CHECK(w.platform->Authenticate(m.id).error().code() == StatusCode::kUnauthenticated);
  CHECK(Must(w.platform->Authenticate(s.id)).user.role == Role::kTenantOwner);
  CHECK(w.platform->StopMasquerade(s.id).error().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("masquerade.log carries the seed's fields for start, end and denial") {
  World w;
  w.masquerade->Clear();
  Session s = w.LoginAs(w.users.at("TENANT_OWNER"));
  Session m = Must(w.platform->StartMasquerade(s.id, w.users.at("TENANT_STAFF").id, "192.0.2.10"));
  Must(w.platform->StopMasquerade(m.id));
  CHECK_FALSE(w.platform->StartMasquerade(s.id, w.users.at("TENANT_MANAGER").id, "192.0.2.10"));
  auto lines = w.masquerade->Lines();
  REQUIRE(lines.size() == 3);
  auto start = testing::ParseLine(lines[0]);
  CHECK(start.at("action").as_string() == "HIJACK_START");
  CHECK(start.at("hijacker_email").as_string() == "tenant_owner@acme.test");
  CHECK(start.at("hijacked_email").as_string() == "tenant_staff@acme.test");
  CHECK(start.at("ip_address").as_string() == "192.0.2.10");
  CHECK(start.at("session_key").as_string() == m.session_key);
  CHECK(start.at("tenant").as_string() == "acme");
  std::string ts(start.at("timestamp").as_string());
  CHECK(ts.back() == 'Z');
  CHECK(ParseRfc3339(ts).value() == w.clock.Now());
  CHECK(testing::ParseLine(lines[1]).at("action").as_string() == "HIJACK_END");
  auto denied = testing::ParseLine(lines[2]);
  CHECK(denied.at("action").as_string() == "HIJACK_DENIED");
  CHECK(denied.at("reason").as_string().find("TENANT_OWNER may not masquerade as TENANT_MANAGER") == 0);
  for (const auto& line : lines) {
    CHECK(line.find("password") == std::string::npos);
    CHECK(line.find("$argon2") == std::string::npos);
  }
}

// In the matrix, what a masquerade does is the acted-as user's doing; in security.log, every
// line it causes also names the user behind it, so the two are told apart afterwards.
TEST_CASE("security.log names the user behind a masquerade on every line it causes") {
  World w;
  const User& root = w.users.at("SUPERUSER");
  const User& manager = w.users.at("TENANT_MANAGER");
  auto act = [&](const Principal& p, const std::string& email) {
    // Made beforehand: no masquerade creates users (platform_test).
    User made = w.NewUser(Role::kCustomer, w.acme.id, email);
    w.security->Clear();
    Must(w.platform->ChangeRole(p, made.id, Role::kTenantStaff));
    Must(w.platform->DeactivateUser(p, made.id));
    CHECK_FALSE(w.platform->Authorize(p, Action::kTenantSuspend, {w.acme.id, {}, false, {}}));
    std::vector<std::string> actions;
    std::vector<std::string> behind;
    for (const std::string& line : w.security->Lines()) {
      boost::json::object o = testing::ParseLine(line);
      actions.emplace_back(o.at("action").as_string());
      behind.emplace_back(o.contains("hijacker_email") ? o.at("hijacker_email").as_string()
                                                       : "(none)");
    }
    CHECK(actions ==
          std::vector<std::string>{"ROLE_CHANGED", "USER_DEACTIVATED", "PERMISSION_DENIED"});
    return behind;
  };
  Session s = w.LoginAs(root);
  Principal as_manager = Must(w.platform->Authenticate(
      Must(w.platform->StartMasquerade(s.id, manager.id, "192.0.2.10")).id));
  CHECK(act(as_manager, "made-in-masquerade@acme.test") == std::vector<std::string>(3, root.email));
  // The manager itself: nobody behind it.
  CHECK(act(w.As("TENANT_MANAGER"), "made-by-manager@acme.test") ==
        std::vector<std::string>(3, "(none)"));
}

// Logging out of a masquerade session is a call made in it: its LOGOUT line names who was
// behind it too, as every line a masquerade causes does (architecture.md, Audit).
TEST_CASE("LOGOUT of a masquerade session names the user behind it") {
  World w;
  const User& root = w.users.at("SUPERUSER");
  const User& manager = w.users.at("TENANT_MANAGER");
  Session s = w.LoginAs(root);
  Session m = Must(w.platform->StartMasquerade(s.id, manager.id, "192.0.2.10"));
  w.security->Clear();
  Must(w.platform->Logout(m.id));
  REQUIRE(w.security->size() == 1);
  boost::json::object line = testing::ParseLine(w.security->Lines().back());
  CHECK(line.at("action").as_string() == "LOGOUT");
  CHECK(line.at("session_key").as_string() == m.session_key);
  REQUIRE(line.contains("hijacker_email"));
  CHECK(line.at("hijacker_email").as_string() == root.email);
  // The original session's own logout: nobody behind it.
  w.security->Clear();
  Must(w.platform->Logout(s.id));
  REQUIRE(w.security->size() == 1);
  CHECK_FALSE(testing::ParseLine(w.security->Lines().back()).contains("hijacker_email"));
}

// An embedder keeps the Principal Authenticate gave; one changed on the way (the user behind
// a masquerade dropped, or another user put on the session) is refused, not believed: without
// its original, a masquerade would no longer be held to the rules judged on that user.
TEST_CASE("a Principal is held to its stored session: who acts, and who is behind a masquerade") {
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  const User& staff = w.users.at("TENANT_STAFF");
  const User& manager = w.users.at("TENANT_MANAGER");
  Session s = w.LoginAs(owner);
  Session m = Must(w.platform->StartMasquerade(s.id, staff.id, "::1"));
  const Principal as_staff = Must(w.platform->Authenticate(m.id));
  const Principal as_owner = Must(w.platform->Authenticate(s.id));
  const Target in_acme{w.acme.id, {}, false, {}};
  auto refused = [&](const Principal& p, const std::string& why) {
    auto user = w.platform->CurrentUser(p);
    REQUIRE_FALSE(user);
    CHECK(user.error().code() == StatusCode::kUnauthenticated);
    CHECK(user.error().message() == why);
    CHECK_FALSE(w.platform->Authorize(p, Action::kCustomerRead, in_acme).allowed);
  };

  Principal lost = as_staff;
  lost.original.reset();
  refused(lost, "the principal does not name the masquerade's original user");
  Principal someone_else = as_staff;
  someone_else.original = manager;
  refused(someone_else, "the principal does not name the masquerade's original user");
  Principal swapped = as_owner;
  swapped.user = manager;
  refused(swapped, "the session is another user's");
  Principal claimed = as_owner;
  claimed.original = w.root;
  refused(claimed, "the session is not a masquerade");

  // As Authenticate made them, they act.
  CHECK(w.platform->Authorize(as_staff, Action::kCustomerRead, in_acme).allowed);
  CHECK(w.platform->Authorize(as_owner, Action::kCustomerRead, in_acme).allowed);
  // Without the original, the masquerade would have outlived the rules: the owner, made a
  // manager (who may masquerade as no one), ends it, and only a Principal naming the owner
  // sees that.
  Must(w.platform->ChangeRole(w.root_p, owner.id, Role::kTenantManager));
  refused(as_staff, "the masquerade is no longer allowed: TENANT_MANAGER may not masquerade as "
                    "TENANT_STAFF");
  refused(lost, "the principal does not name the masquerade's original user");
}
