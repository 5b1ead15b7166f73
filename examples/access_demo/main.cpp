// access_demo: a tour of libsmooth's access-control core — tenants, host resolution, login,
// masquerading, a time-limited grant — ending with the two audit logs it produced.
//
//     access_demo            audit to memory, printed at the end
//     access_demo <dir>      audit appended to <dir>/security.log and <dir>/masquerade.log
//
// Exits 0 when every step behaved as expected (allowed steps succeeded, refused ones were
// refused with the expected code), 1 otherwise, so it doubles as a smoke test.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <smooth/smooth.hpp>

namespace {

constexpr std::string_view kPassword = "correct horse battery staple";
constexpr std::string_view kClientIp = "203.0.113.7";

int failures = 0;

void Step(std::string_view title) { fmt::print("\n== {}\n", title); }

// The value of a step that must succeed; without it the demo cannot go on.
template <typename T>
T Require(smooth::Result<T> result, std::string_view what) {
  if (!result) {
    fmt::print("  FAILED  {}: {}\n", what, result.error().ToString());
    std::exit(EXIT_FAILURE);
  }
  fmt::print("  ok      {}\n", what);
  return std::move(result).value();
}

void Require(const smooth::Status& status, std::string_view what) {
  if (!status.ok()) {
    fmt::print("  FAILED  {}: {}\n", what, status.ToString());
    std::exit(EXIT_FAILURE);
  }
  fmt::print("  ok      {}\n", what);
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

// Shows an authorization decision and checks it is the expected one.
void ExpectDecision(const smooth::Decision& d, bool expected, std::string_view what) {
  fmt::print("  {:<7} {}: {}\n", d.allowed ? "allowed" : "denied", what, d.reason);
  if (d.allowed != expected) {
    fmt::print("  FAILED  expected {}\n", expected ? "allowed" : "denied");
    ++failures;
  }
}

std::vector<std::string> ReadLines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The two audit logs: in memory, or in files in a directory.
struct AuditLogs {
  std::shared_ptr<smooth::AuditSink> security;
  std::shared_ptr<smooth::AuditSink> masquerade;
  std::function<std::vector<std::string>(const std::string&)> lines;  // by log name
};

AuditLogs OpenAuditLogs(int argc, char** argv) {
  if (argc < 2) {
    auto security = std::make_shared<smooth::MemoryAuditSink>();
    auto masquerade = std::make_shared<smooth::MemoryAuditSink>();
    fmt::print("audit: in memory\n");
    return {security, masquerade, [=](const std::string& name) {
              return (name == "security" ? security : masquerade)->Lines();
            }};
  }
  std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fmt::print("FAILED  cannot create {}: {}\n", dir.string(), ec.message());
    std::exit(EXIT_FAILURE);
  }
  fmt::print("audit: files in {}\n", dir.string());
  auto open = [&](const std::string& name) -> std::shared_ptr<smooth::AuditSink> {
    return Require(smooth::FileAuditSink::Open((dir / (name + ".log")).string()),
                   fmt::format("open {}", (dir / (name + ".log")).string()));
  };
  return {open("security"), open("masquerade"),
          [dir](const std::string& name) { return ReadLines(dir / (name + ".log")); }};
}

}  // namespace

int main(int argc, char** argv) {
  using smooth::Action;
  using smooth::Role;
  using smooth::StatusCode;
  using namespace std::chrono_literals;

  AuditLogs logs = OpenAuditLogs(argc, argv);

  Step("Open a Platform on in-memory storage");
  std::unique_ptr<smooth::Platform> platform =
      Require(smooth::Platform::Open({.storage = smooth::NewMemoryStorage(),
                                      .security_log = logs.security,
                                      .masquerade_log = logs.masquerade,
                                      .base_domain = "lvh.me",
                                      .password_cost = smooth::PasswordCost::Default()}),
              "Platform::Open (base domain lvh.me, argon2id at the default cost)");

  Step("Bootstrap: a superuser, a tenant and its domain");
  smooth::User root = Require(platform->CreateSuperuser("root@platform.example", "Root", kPassword),
                              "CreateSuperuser root@platform.example");
  smooth::Principal root_p = Require(platform->ActAs(root.id), "ActAs root");
  smooth::Tenant acme =
      Require(platform->CreateTenant(root_p, {.slug = "acme",
                                              .name = "Acme Fitness",
                                              .tier = smooth::SubscriptionTier::kProfessional,
                                              .time_zone = "America/New_York"}),
              "CreateTenant acme (America/New_York)");
  smooth::Domain acme_domain = Require(
      platform->AddDomain(root_p, {.name = "acme.lvh.me", .tenant = acme.id, .is_primary = true}),
      "AddDomain acme.lvh.me");
  fmt::print("          tenant {} '{}' id={}, domain {} is {}\n", acme.slug, acme.name, acme.id,
             acme_domain.name, smooth::DomainVerificationName(acme_domain.verification));
  // A demo tenant with a temporary account: the only thing PLATFORM_SALES may touch.
  smooth::Tenant demo = Require(
      platform->CreateTenant(root_p, {.slug = "demo", .name = "Demo Studio", .is_demo = true}),
      "CreateTenant demo (is_demo)");

  Step("Users of several roles");
  auto create_user = [&](std::string email, Role role, std::optional<smooth::TenantId> tenant,
                         bool temporary = false) {
    std::string what = fmt::format("CreateUser {} as {}", email, smooth::RoleName(role));
    return Require(
        platform->CreateUser(root_p, {.email = std::move(email),
                                      .display_name = std::string(smooth::RoleName(role)),
                                      .role = role,
                                      .tenant = tenant,
                                      .password = std::string(kPassword),
                                      .is_temporary = temporary}),
        what);
  };
  smooth::User owner = create_user("owner@acme.example", Role::kTenantOwner, acme.id);
  smooth::User manager = create_user("manager@acme.example", Role::kTenantManager, acme.id);
  smooth::User staff = create_user("staff@acme.example", Role::kTenantStaff, acme.id);
  smooth::User customer = create_user("customer@acme.example", Role::kCustomer, acme.id);
  smooth::User support = create_user("support@platform.example", Role::kPlatformSupport, {});
  smooth::User sales = create_user("sales@platform.example", Role::kPlatformSales, {});
  smooth::User demo_user = create_user("visitor@demo.example", Role::kCustomer, demo.id, true);

  Step("Resolve Host headers");
  smooth::HostMatch acme_host =
      Require(platform->ResolveHost("Acme.lvh.me:8443"), "ResolveHost Acme.lvh.me:8443");
  fmt::print("          -> tenant {}\n", acme_host.tenant ? acme_host.tenant->slug : "(none)");
  if (acme_host.is_platform || !acme_host.tenant || acme_host.tenant->id != acme.id) {
    fmt::print("  FAILED  expected tenant acme\n");
    ++failures;
  }
  smooth::HostMatch platform_host =
      Require(platform->ResolveHost("platform.lvh.me"), "ResolveHost platform.lvh.me");
  if (!platform_host.is_platform) {
    fmt::print("  FAILED  expected the platform\n");
    ++failures;
  }
  ExpectRefused(platform->ResolveHost("nobody.lvh.me"), StatusCode::kNotFound,
                "ResolveHost nobody.lvh.me (unknown tenant)");
  ExpectRefused(platform->ResolveHost("lvh.me"), StatusCode::kNotFound,
                "ResolveHost lvh.me (the bare base domain is never a default)");

  Step("Log in");
  auto login = [&](const smooth::HostMatch& host, const smooth::User& u) {
    return Require(platform->Login(host, u.email, kPassword, kClientIp),
                   fmt::format("Login {} on {}", u.email,
                               host.is_platform ? "platform.lvh.me" : host.tenant->slug));
  };
  smooth::Session owner_s = login(acme_host, owner);
  smooth::Session manager_s = login(acme_host, manager);
  smooth::Session support_s = login(platform_host, support);
  smooth::Session sales_s = login(platform_host, sales);
  fmt::print("          owner session key {} (for logs; the token is the secret)\n",
             owner_s.session_key);
  ExpectRefused(platform->Login(acme_host, owner.email, "not the password", kClientIp),
                StatusCode::kUnauthenticated, "Login owner with a wrong password");
  ExpectRefused(platform->Login(platform_host, owner.email, kPassword, kClientIp),
                StatusCode::kUnauthenticated, "Login owner on the platform host");

  Step("Authenticate a request by its bearer token, on the host it came to");
  // A client holds only the token; storage keeps its hash. It works on its tenant's hosts.
  smooth::Principal by_token =
      Require(platform->Authenticate(owner_s.token, acme_host), "Authenticate owner's token on acme");
  if (by_token.user.id != owner.id) {
    fmt::print("  FAILED  expected the owner\n");
    ++failures;
  }
  ExpectRefused(platform->Authenticate(owner_s.token, platform_host),
                StatusCode::kUnauthenticated, "the owner's token on the platform host");

  Step("Masquerade (\"log in as\")");
  smooth::Session as_staff = Require(platform->StartMasquerade(owner_s.id, staff.id, kClientIp),
                                     "TENANT_OWNER -> TENANT_STAFF of the same tenant");
  smooth::Principal acting = Require(platform->Authenticate(as_staff.id), "Authenticate it");
  fmt::print("          acting as {} ({}), really {}\n", acting.user.email,
             smooth::RoleName(acting.user.role), acting.RealUser().email);
  if (acting.user.id != staff.id || acting.RealUser().id != owner.id) {
    fmt::print("  FAILED  expected staff acting, owner behind it\n");
    ++failures;
  }
  smooth::Session back = Require(platform->StopMasquerade(as_staff.id), "StopMasquerade");
  if (back.id != owner_s.id) {
    fmt::print("  FAILED  StopMasquerade should return the owner's session\n");
    ++failures;
  }
  Require(platform->StartMasquerade(support_s.id, customer.id, kClientIp),
          "PLATFORM_SUPPORT -> CUSTOMER");
  Require(platform->StartMasquerade(sales_s.id, demo_user.id, kClientIp),
          "PLATFORM_SALES -> a temporary demo account");
  ExpectRefused(platform->StartMasquerade(manager_s.id, staff.id, kClientIp),
                StatusCode::kPermissionDenied, "TENANT_MANAGER -> TENANT_STAFF");
  ExpectRefused(platform->StartMasquerade(sales_s.id, staff.id, kClientIp),
                StatusCode::kPermissionDenied, "PLATFORM_SALES -> a non-demo TENANT_STAFF");
  ExpectRefused(platform->StartMasquerade(support_s.id, root.id, kClientIp),
                StatusCode::kPermissionDenied, "PLATFORM_SUPPORT -> SUPERUSER");

  Step("A time-limited grant: the owner lets staff manage customers for 30 minutes");
  smooth::Principal owner_p = Require(platform->Authenticate(owner_s.id), "Authenticate owner");
  smooth::Principal staff_p = Require(platform->ActAs(staff.id), "ActAs staff");
  const smooth::Target in_acme{.tenant = acme.id, .owner = {}, .is_temporary = false, .role = {}};
  ExpectDecision(platform->Authorize(staff_p, Action::kCustomerManage, in_acme), false,
                 "staff customer.manage, before the grant");
  smooth::Grant grant = Require(platform->CreateGrant(owner_p, staff.id, Action::kCustomerManage,
                                                      "covering the front desk", 30min),
                                "CreateGrant customer.manage to staff for 30 minutes");
  fmt::print("          grant {} scope {} expires {}\n", grant.id, smooth::ScopeName(grant.scope),
             smooth::FormatRfc3339(grant.expires_at));
  ExpectDecision(platform->Authorize(staff_p, Action::kCustomerManage, in_acme), true,
                 "staff customer.manage, with the grant");
  ExpectDecision(platform->Authorize(staff_p, Action::kServiceManage, in_acme), false,
                 "staff service.manage (not granted)");
  smooth::Grant revoked =
      Require(platform->RevokeGrant(owner_p, grant.id, "shift over"), "RevokeGrant");
  fmt::print("          grant {} is now {}\n", revoked.id,
             smooth::GrantStatusName(revoked.StatusAt(platform->Now())));
  ExpectDecision(platform->Authorize(staff_p, Action::kCustomerManage, in_acme), false,
                 "staff customer.manage, after revoking");

  Step("Log out");
  Require(platform->Logout(owner_s.id), "Logout owner");
  ExpectRefused(platform->Authenticate(owner_s.id), StatusCode::kUnauthenticated,
                "Authenticate the ended session");
  ExpectRefused(platform->Authenticate(owner_s.token, acme_host), StatusCode::kUnauthenticated,
                "Authenticate the ended session's token");

  for (const std::string name : {"security", "masquerade"}) {
    std::vector<std::string> lines = logs.lines(name);
    Step(fmt::format("{}.log ({} lines)", name, lines.size()));
    for (const std::string& line : lines) fmt::print("{}\n", line);
    if (lines.empty()) {
      fmt::print("  FAILED  {}.log should not be empty\n", name);
      ++failures;
    }
  }

  if (failures > 0) {
    fmt::print("\naccess_demo: {} step(s) did not behave as expected\n", failures);
    return EXIT_FAILURE;
  }
  fmt::print("\naccess_demo: every step behaved as expected\n");
  return EXIT_SUCCESS;
}
