// Masquerading ("log in as"): the full role × role matrix and every rule, generated from
// one table, plus sessions and the masquerade.log lines.
#include <doctest/doctest.h>

#include "fixtures.hpp"

using namespace smooth;
using smooth::testing::Must;
using smooth::testing::World;

namespace {

// The masquerade table of the issue, written out: may `hijacker` act as `target`, given
// whether the target is in the same tenant and whether it is a demo account?
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
  for (Role hr : kAllRoles) {
    for (Role tr : kAllRoles) {
      for (bool other_tenant : {false, true}) {
        for (bool temporary : {false, true}) {
          // Platform targets have no tenant, so "other tenant" only varies tenant targets.
          if (IsPlatformRole(tr) && other_tenant) continue;
          // SUPERUSERs come only from CreateSuperuser and are never demo accounts.
          if (tr == Role::kSuperuser && temporary) continue;
          const User& hijacker = w.users.at(std::string(RoleName(hr)));
          std::optional<TenantId> tenant;
          if (!IsPlatformRole(tr)) tenant = other_tenant ? w.globex.id : w.acme.id;
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
  // Per hijacker: 3 platform targets x 2 + SUPERUSER x 1 + 4 tenant targets x 2 x 2.
  CHECK(cases == 8 * (3 * 2 + 1 + 4 * 2 * 2));
}

TEST_CASE("no one masquerades as themselves, not even a SUPERUSER") {
  World w;
  Session s = w.LoginAs(w.root);
  auto m = w.platform->StartMasquerade(s.id, w.root.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().message() == "cannot masquerade as yourself");
}

TEST_CASE("only a SUPERUSER may masquerade as a SUPERUSER") {
  World w;
  User other_root = Must(w.platform->CreateSuperuser("root2@platform.test", "Root 2", World::kPassword));
  CHECK(w.platform->StartMasquerade(w.LoginAs(w.root).id, other_root.id, "::1"));
  auto m = w.platform->StartMasquerade(w.LoginAs(w.users.at("PLATFORM_SUPPORT")).id,
                                       other_root.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().message() == "only a SUPERUSER may masquerade as a SUPERUSER");
}

TEST_CASE("an inactive target or a suspended target tenant is refused") {
  World w;
  Session s = w.LoginAs(w.root);
  const User& staff = w.users.at("TENANT_STAFF");
  Must(w.platform->DeactivateUser(w.root_p, staff.id));
  auto m = w.platform->StartMasquerade(s.id, staff.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().message() == "the target user is inactive");

  const User& gstaff = w.users.at("globex:TENANT_STAFF");
  Must(w.platform->SuspendTenant(w.root_p, w.globex.id, "fraud"));
  m = w.platform->StartMasquerade(s.id, gstaff.id, "::1");
  REQUIRE_FALSE(m);
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
