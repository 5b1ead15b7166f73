// Shared test fixture: a Platform on the test storage (memory, or the backend named by
// SMOOTH_TEST_STORAGE; see test_storage.hpp) with a manual clock, memory audit
// sinks, two tenants, and one user of every role.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "smooth/platform.hpp"
#include "test_storage.hpp"

namespace smooth::testing {

/// Fails the current test with the status message when `r` holds an error.
template <typename T>
T Must(Result<T> r) {
  if (!r) FAIL("unexpected error: " << r.error().ToString());
  return std::move(r).value();
}
inline void Must(const Status& s) {
  if (!s.ok()) FAIL("unexpected error: " << s.ToString());
}

inline Instant T0() { return ParseRfc3339("2026-03-02T09:00:00Z").value(); }

/// Parses an audit line back into a JSON object.
inline boost::json::object ParseLine(const std::string& line) {
  return boost::json::parse(line).as_object();
}

/// How many of an audit log's `lines` record `action`.
inline int CountActions(const std::vector<std::string>& lines, std::string_view action) {
  int n = 0;
  for (const std::string& line : lines)
    if (ParseLine(line).at("action").as_string() == action) ++n;
  return n;
}

/// Checks that `refused` is a masquerade's refusal of what no masquerade may do, and that
/// the last of `security`'s lines records it: PERMISSION_DENIED as the user acted as, with
/// `permission`, the refusal as its reason and the user behind the masquerade.
inline void CheckMasqueradeRefusal(const Status& refused, const MemoryAuditSink& security,
                                   std::string_view permission, const User& acted_as,
                                   const User& hijacker) {
  CHECK(refused.code() == StatusCode::kPermissionDenied);
  CHECK(refused.message().starts_with("a masquerade may not "));
  REQUIRE_FALSE(security.Lines().empty());
  boost::json::object line = ParseLine(security.Lines().back());
  CHECK(line.at("action").as_string() == "PERMISSION_DENIED");
  CHECK(line.at("permission").as_string() == permission);
  CHECK(line.at("user_email").as_string() == acted_as.email);
  CHECK(line.at("hijacker_email").as_string() == hijacker.email);
  CHECK(line.at("reason").as_string() == refused.message());
}

struct World {
  ManualClock clock{T0()};
  std::shared_ptr<Storage> storage;
  std::shared_ptr<MemoryAuditSink> security = std::make_shared<MemoryAuditSink>();
  std::shared_ptr<MemoryAuditSink> masquerade = std::make_shared<MemoryAuditSink>();
  std::unique_ptr<Platform> platform;

  User root;
  Principal root_p;
  Tenant acme;    // an ordinary tenant
  Tenant globex;  // another one
  Tenant demo;    // a demo tenant
  // Users by role name, in acme for tenant roles ("TENANT_STAFF"), and their twins in
  // globex ("globex:TENANT_STAFF").
  std::map<std::string, User> users;

  static constexpr const char* kPassword = "correct horse battery";

  World() : World(StorageOptions{}) {}
  // On storage opened with `storage_options` (SQLite and PostgreSQL).
  explicit World(const StorageOptions& storage_options) : storage(TestStorage(storage_options)) {
    platform = OpenPlatform();
    root = Must(platform->CreateSuperuser("root@platform.test", "Root", kPassword));
    root_p = Must(platform->ActAs(root.id));
    acme = Must(platform->CreateTenant(root_p, {.slug = "acme", .name = "Acme",
                                                .time_zone = "America/New_York"}));
    globex = Must(platform->CreateTenant(root_p, {.slug = "globex", .name = "Globex"}));
    demo = Must(platform->CreateTenant(root_p, {.slug = "demo1", .name = "Demo", .is_demo = true}));
    users["SUPERUSER"] = root;
    for (Role r : kAllRoles) {
      if (r == Role::kSuperuser) continue;
      std::string name(RoleName(r));
      if (IsPlatformRole(r)) {
        users[name] = NewUser(r, std::nullopt, name + "@platform.test");
      } else {
        users[name] = NewUser(r, acme.id, name + "@acme.test");
        users["globex:" + name] = NewUser(r, globex.id, name + "@globex.test");
      }
    }
  }

  User NewUser(Role role, std::optional<TenantId> tenant, std::string email,
               bool temporary = false) {
    return Must(platform->CreateUser(root_p, {.email = std::move(email),
                                              .display_name = "Someone",
                                              .role = role,
                                              .tenant = tenant,
                                              .password = kPassword,
                                              .is_temporary = temporary}));
  }

  // A Platform on this world's storage, clock and logs: a second one stands for another
  // process.
  std::unique_ptr<Platform> OpenPlatform() {
    PlatformOptions o;
    o.storage = storage;
    o.clock = &clock;
    o.security_log = security;
    o.masquerade_log = masquerade;
    o.password_cost = PasswordCost::InsecureForTests();
    return Must(Platform::Open(o));
  }

  Principal As(const std::string& who) { return Must(platform->ActAs(users.at(who).id)); }

  HostMatch HostOf(const User& u) {
    if (!u.tenant) return HostMatch{true, std::nullopt};
    return HostMatch{false, u.tenant == acme.id ? acme : u.tenant == globex.id ? globex : demo};
  }

  Session LoginAs(const User& u) {
    return Must(platform->Login(HostOf(u), u.email, kPassword, "203.0.113.7"));
  }
};

}  // namespace smooth::testing
