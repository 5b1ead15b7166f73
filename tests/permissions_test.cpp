// The permission matrix and Platform::Authorize: every cell, cross-tenant denial, the rank
// rule for user management, and docs/permissions.md kept equal to the code.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "fixtures.hpp"

using namespace smooth;
using smooth::testing::World;

namespace {

// What each scope means, stated independently of the implementation: for an actor and a
// kind of target, whether the scope should allow it.
enum class Where { kOwnTenantOwnData, kOwnTenantOtherData, kOtherTenant, kPlatform, kDemo };

bool Expected(Scope scope, const User& actor, Where where) {
  bool tenant_user = actor.tenant.has_value();
  switch (scope) {
    case Scope::kNone: return false;
    case Scope::kAnyTenant: return !tenant_user || where == Where::kOwnTenantOwnData ||
                                   where == Where::kOwnTenantOtherData;
    case Scope::kOwnTenant: return tenant_user && (where == Where::kOwnTenantOwnData ||
                                                   where == Where::kOwnTenantOtherData);
    case Scope::kOwnData: return tenant_user && where == Where::kOwnTenantOwnData;
    case Scope::kDemoOnly: return !tenant_user && where == Where::kDemo;
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("every matrix cell: Authorize honours the cell's scope on every kind of target") {
  World w;
  int checked = 0;
  for (Role role : kAllRoles) {
    const User& actor = w.users.at(std::string(RoleName(role)));
    Principal p = w.As(std::string(RoleName(role)));
    const User& colleague = w.users.at("TENANT_MANAGER");
    for (Action action : AllActions()) {
      // For user management the target role must be below the actor's; use the lowest.
      std::optional<Role> target_role;
      if (action == Action::kUserCreate || action == Action::kUserUpdate ||
          action == Action::kUserDeactivate)
        target_role = Role::kCustomer;
      std::map<Where, Target> targets = {
          {Where::kOwnTenantOwnData, {actor.tenant ? actor.tenant : std::optional(w.acme.id),
                                      actor.id, false, target_role}},
          {Where::kOwnTenantOtherData, {actor.tenant ? actor.tenant : std::optional(w.acme.id),
                                        colleague.id, false, target_role}},
          {Where::kOtherTenant, {w.globex.id, std::nullopt, false, target_role}},
          {Where::kPlatform, {std::nullopt, std::nullopt, false, target_role}},
          {Where::kDemo, {w.demo.id, std::nullopt, true, target_role}},
      };
      Scope scope = MatrixScope(role, action);
      for (const auto& [where, target] : targets) {
        // A customer is its own data only when the rank rule allows managing it at all.
        bool expected = Expected(scope, actor, where);
        if (target_role && RoleRank(*target_role) >= RoleRank(role)) expected = false;
        // PLATFORM_SUPPORT's scope is tenant users: no platform user to manage.
        if (target_role && role == Role::kPlatformSupport && where == Where::kPlatform)
          expected = false;
        Decision d = w.platform->Authorize(p, action, target);
        CHECK_MESSAGE(d.allowed == expected,
                      RoleName(role) << " " << ActionName(action) << " (" << ScopeName(scope)
                                     << ") where=" << static_cast<int>(where) << ": "
                                     << d.reason);
        ++checked;
      }
    }
  }
  CHECK(checked == 8 * 25 * 5);
}

TEST_CASE("the table says what the issue says for the well-known cells") {
  CHECK(MatrixScope(Role::kSuperuser, Action::kTenantCreate) == Scope::kAnyTenant);
  CHECK(MatrixScope(Role::kPlatformSales, Action::kMasqueradeStart) == Scope::kDemoOnly);
  CHECK(MatrixScope(Role::kPlatformSupport, Action::kMasqueradeStart) == Scope::kAnyTenant);
  CHECK(MatrixScope(Role::kPlatformManager, Action::kMasqueradeStart) == Scope::kNone);
  CHECK(MatrixScope(Role::kTenantOwner, Action::kBillingView) == Scope::kOwnTenant);
  CHECK(MatrixScope(Role::kTenantStaff, Action::kAppointmentReadAll) == Scope::kNone);
  CHECK(MatrixScope(Role::kTenantStaff, Action::kAppointmentReadOwn) == Scope::kOwnData);
  CHECK(MatrixScope(Role::kCustomer, Action::kAppointmentCreate) == Scope::kOwnData);
  CHECK(MatrixScope(Role::kCustomer, Action::kAuditRead) == Scope::kNone);
  CHECK(AllActions().size() == 25);
}

TEST_CASE("a user of tenant A is never allowed anything on tenant B") {
  World w;
  for (Role role : {Role::kTenantOwner, Role::kTenantManager, Role::kTenantStaff, Role::kCustomer}) {
    Principal p = w.As(std::string(RoleName(role)));
    for (Action action : AllActions()) {
      Target t{w.globex.id, p.user.id, false, Role::kCustomer};
      Decision d = w.platform->Authorize(p, action, t);
      CHECK_MESSAGE(!d.allowed, RoleName(role) << " " << ActionName(action));
    }
  }
}

TEST_CASE("user management is limited to strictly lower roles") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Target t{w.acme.id, std::nullopt, false, Role::kTenantManager};
  CHECK(w.platform->Authorize(owner, Action::kUserCreate, t).allowed);
  t.role = Role::kTenantOwner;
  Decision same = w.platform->Authorize(owner, Action::kUserCreate, t);
  CHECK_FALSE(same.allowed);
  CHECK(same.reason.find("lower role") != std::string::npos);
  Principal manager = w.As("TENANT_MANAGER");
  t.role = Role::kTenantManager;
  CHECK_FALSE(w.platform->Authorize(manager, Action::kUserDeactivate, t).allowed);
  t.role = Role::kTenantStaff;
  CHECK(w.platform->Authorize(manager, Action::kUserDeactivate, t).allowed);
}

TEST_CASE("PLATFORM_SUPPORT manages tenant users only, not the platform's lower roles") {
  World w;
  Principal support = w.As("PLATFORM_SUPPORT");
  const Target tenant_owner{w.acme.id, std::nullopt, false, Role::kTenantOwner};
  CHECK(w.platform->Authorize(support, Action::kUserUpdate, tenant_owner).allowed);
  // PLATFORM_SALES ranks below it, but is a platform user.
  const Target sales{std::nullopt, std::nullopt, false, Role::kPlatformSales};
  Decision d = w.platform->Authorize(support, Action::kUserUpdate, sales);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == "PLATFORM_SUPPORT may only manage tenant users");
  // A PLATFORM_MANAGER may.
  CHECK(w.platform->Authorize(w.As("PLATFORM_MANAGER"), Action::kUserUpdate, sales).allowed);
}

namespace {
// Checks that security.log holds exactly one line: acme's CUSTOMER denied audit.read.
void CheckCustomerDeniedAuditRead(const MemoryAuditSink& security) {
  auto lines = security.Lines();
  REQUIRE(lines.size() == 1);
  auto o = testing::ParseLine(lines[0]);
  CHECK(o.at("action").as_string() == "PERMISSION_DENIED");
  CHECK(o.at("permission").as_string() == "audit.read");
  CHECK(o.at("user_email").as_string() == "customer@acme.test");
  CHECK(!o.at("reason").as_string().empty());
}
}  // namespace

TEST_CASE("denials are audited to security.log with the permission and reason") {
  World w;
  w.security->Clear();
  Principal customer = w.As("CUSTOMER");
  CHECK_FALSE(w.platform->Authorize(customer, Action::kAuditRead, {w.acme.id, {}, false, {}}));
  CheckCustomerDeniedAuditRead(*w.security);
}

TEST_CASE("a check can hold its audit records until the caller's answer stands") {
  World w;
  w.security->Clear();
  Principal customer = w.As("CUSTOMER");
  Principal owner = w.As("TENANT_OWNER");
  const Target acme{w.acme.id, {}, false, {}};
  std::vector<AuditRecord> held;
  CHECK(w.platform->Check(owner, Action::kResourceManage, acme, held).ok());
  CHECK(held.empty());  // nothing to audit in an allowance the matrix makes
  Status denied = w.platform->Check(customer, Action::kAuditRead, acme, held);
  CHECK(denied.code() == StatusCode::kPermissionDenied);
  CHECK(w.security->size() == 0);  // held, not written
  REQUIRE(held.size() == 1);
  CHECK(held[0].action == "PERMISSION_DENIED");
  w.platform->WriteHeld(std::move(held));
  CheckCustomerDeniedAuditRead(*w.security);
}

TEST_CASE("a suspended tenant's users cannot act") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  CHECK(w.platform->Authorize(owner, Action::kTenantRead, {w.acme.id, {}, false, {}}).allowed);
  testing::Must(w.platform->SuspendTenant(w.root_p, w.acme.id, "unpaid invoices"));
  Decision d = w.platform->Authorize(owner, Action::kTenantRead, {w.acme.id, {}, false, {}});
  CHECK_FALSE(d.allowed);
  CHECK(d.reason.find("suspended") != std::string::npos);
  CHECK(w.platform->ActAs(owner.user.id).error().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("docs/permissions.md shows exactly the matrix in the code") {
  std::string doc = ReadFile(std::string(SMOOTH_SOURCE_DIR) + "/docs/permissions.md");
  REQUIRE_FALSE(doc.empty());
  const std::string begin = "<!-- matrix:begin -->\n";
  const std::string end = "<!-- matrix:end -->";
  auto b = doc.find(begin);
  auto e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  std::string table = doc.substr(b + begin.size(), e - b - begin.size());
  CHECK_MESSAGE(table == RenderPermissionMatrixMarkdown(),
                "docs/permissions.md is out of date; paste in:\n"
                    << RenderPermissionMatrixMarkdown());
}
