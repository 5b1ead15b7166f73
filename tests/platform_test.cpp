// Platform: tenants, domains and host resolution, users, login and sessions, and bad
// input for every validated field.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "before_write_storage.hpp"
#include "fixtures.hpp"

using namespace smooth;
using namespace std::chrono_literals;
using smooth::testing::BeforeWriteStorage;
using smooth::testing::Must;
using smooth::testing::World;

namespace {
void CheckInvalid(const Status& s, std::string_view field) {
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK_MESSAGE(s.message().rfind(std::string(field) + ":", 0) == 0,
                "message '" << s.message() << "' should name " << field);
}
template <typename T>
void CheckInvalid(const Result<T>& r, std::string_view field) {
  REQUIRE_FALSE(r.has_value());
  CheckInvalid(r.error(), field);
}
}  // namespace

TEST_CASE("tenants: created with their fields; slugs unique case-insensitively") {
  World w;
  CHECK(w.acme.id.valid());
  CHECK(w.acme.slug == "acme");
  CHECK(w.acme.time_zone == "America/New_York");
  CHECK(w.acme.created_at == w.clock.Now());
  auto dup = w.platform->CreateTenant(w.root_p, {.slug = "acme", .name = "Again"});
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code() == StatusCode::kAlreadyExists);
  CHECK(dup.error().message().rfind("slug: ", 0) == 0);
  CHECK(Must(w.platform->GetTenant(w.root_p, w.acme.id)).name == "Acme");
  // Upper case is refused outright, so a case-twin cannot be spelled at all.
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "ACME", .name = "Caps"}), "slug");
}

TEST_CASE("tenants: bad input names the field and changes nothing") {
  World w;
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "", .name = "X"}), "slug");
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "1abc", .name = "X"}), "slug");
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "pg_catalog2", .name = "X"}), "slug");
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "public", .name = "X"}), "slug");
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "www", .name = "X"}), "slug");
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "okay", .name = ""}), "name");
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "okay", .name = "X",
                                                   .time_zone = "Mars/Olympus_Mons"}),
               "time_zone");
  auto tenants = Must(Must(w.storage->BeginShared(TxnMode::kRead))->ListTenants());
  CHECK(tenants.size() == 3);
}

TEST_CASE("tenants: only platform roles create them; sales only demo tenants") {
  World w;
  CHECK(w.platform->CreateTenant(w.As("TENANT_OWNER"), {.slug = "mine", .name = "M"})
            .error().code() == StatusCode::kPermissionDenied);
  CHECK(w.platform->CreateTenant(w.As("PLATFORM_SALES"), {.slug = "real", .name = "R"})
            .error().code() == StatusCode::kPermissionDenied);
  CHECK(w.platform->CreateTenant(w.As("PLATFORM_SALES"),
                                 {.slug = "demo2", .name = "D", .is_demo = true}));
  CHECK(w.platform->CreateTenant(w.As("PLATFORM_MANAGER"), {.slug = "real", .name = "R"}));
  // The refusals made nothing: acme, globex, demo1 and the two allowed.
  auto shared = Must(w.storage->BeginShared(TxnMode::kRead));
  CHECK(Must(shared->ListTenants()).size() == 5);
  CHECK(shared->FindTenantBySlug("mine").error().code() == StatusCode::kNotFound);
}

TEST_CASE("suspension is audited and cuts sessions; reactivation restores them") {
  World w;
  Session s = w.LoginAs(w.users.at("TENANT_MANAGER"));
  w.security->Clear();
  Must(w.platform->SuspendTenant(w.root_p, w.acme.id, "chargeback"));
  CHECK(testing::ParseLine(w.security->Lines().at(0)).at("action").as_string() == "TENANT_SUSPENDED");
  CHECK(w.platform->Authenticate(s.id).error().code() == StatusCode::kUnauthenticated);
  CHECK(w.platform->Login(w.HostOf(w.users.at("TENANT_MANAGER")), "tenant_manager@acme.test",
                          World::kPassword, "::1").error().code() == StatusCode::kUnauthenticated);
  // Twice is refused, and writes nothing more.
  CHECK(w.platform->SuspendTenant(w.root_p, w.acme.id, "again").error().code() ==
        StatusCode::kFailedPrecondition);
  Must(w.platform->ReactivateTenant(w.root_p, w.acme.id));
  CHECK(w.platform->Authenticate(s.id));
  CHECK(w.platform->SuspendTenant(w.As("TENANT_OWNER"), w.acme.id, "self")
            .error().code() == StatusCode::kPermissionDenied);
  // Only a suspended tenant is reactivated: a trial tenant stays in trial.
  Tenant trial = Must(w.platform->CreateTenant(
      w.root_p, {.slug = "trial", .name = "Trial", .status = TenantStatus::kTrial}));
  auto reactivated = w.platform->ReactivateTenant(w.root_p, trial.id);
  REQUIRE_FALSE(reactivated);
  CHECK(reactivated.error().code() == StatusCode::kFailedPrecondition);
  CHECK(reactivated.error().message() == "tenant 'trial' is not suspended");
  CHECK(Must(w.platform->GetTenant(w.root_p, trial.id)).status == TenantStatus::kTrial);
  CHECK(testing::CountActions(w.security->Lines(), "TENANT_SUSPENDED") == 1);
}

TEST_CASE("tenants: renamed by their owner, re-tiered only by the platform, audited") {
  World w;
  w.security->Clear();
  Tenant renamed = Must(w.platform->UpdateTenant(w.As("TENANT_OWNER"), w.acme.id,
                                                  {.name = "Acme Dental"}));
  CHECK(renamed.name == "Acme Dental");
  CHECK(renamed.tier == w.acme.tier);
  CHECK(renamed.slug == "acme");
  CHECK(Must(w.platform->GetTenant(w.root_p, w.acme.id)).name == "Acme Dental");
  REQUIRE(w.security->Lines().size() == 1);
  auto line = testing::ParseLine(w.security->Lines().at(0));
  CHECK(line.at("action").as_string() == "TENANT_UPDATED");
  CHECK(line.at("tenant").as_string() == "acme");
  CHECK(line.at("by").as_string() == "tenant_owner@acme.test");
  CHECK(line.at("name").as_string() == "Acme Dental");
  CHECK_FALSE(line.contains("tier"));

  // The tier is what the tenant pays for: its owner cannot change it, even with a rename.
  w.security->Clear();
  auto upgrade = w.platform->UpdateTenant(w.As("TENANT_OWNER"), w.acme.id,
                                          {.name = "Acme Gold", .tier = SubscriptionTier::kEnterprise});
  REQUIRE_FALSE(upgrade);
  CHECK(upgrade.error().code() == StatusCode::kPermissionDenied);
  CHECK(upgrade.error().message().rfind("tier:", 0) == 0);
  Tenant now = Must(w.platform->GetTenant(w.root_p, w.acme.id));
  CHECK(now.name == "Acme Dental");
  CHECK(now.tier == SubscriptionTier::kFree);
  // Sales may rename a demo tenant, but not re-tier it, and touch no real tenant.
  CHECK(Must(w.platform->UpdateTenant(w.As("PLATFORM_SALES"), w.demo.id, {.name = "Demo 2"})).name ==
        "Demo 2");
  CHECK(w.platform->UpdateTenant(w.As("PLATFORM_SALES"), w.demo.id,
                                 {.tier = SubscriptionTier::kBusiness})
            .error().code() == StatusCode::kPermissionDenied);
  CHECK(w.platform->UpdateTenant(w.As("PLATFORM_SALES"), w.acme.id, {.name = "Sold"})
            .error().code() == StatusCode::kPermissionDenied);
  for (const char* role : {"TENANT_MANAGER", "TENANT_STAFF", "CUSTOMER", "PLATFORM_SUPPORT"})
    CHECK_MESSAGE(w.platform->UpdateTenant(w.As(role), w.acme.id, {.name = "Mine"})
                          .error().code() == StatusCode::kPermissionDenied,
                  role);
  // Another tenant's owner does not learn that the tenant exists.
  CHECK(w.platform->UpdateTenant(w.As("globex:TENANT_OWNER"), w.acme.id, {.name = "Taken"})
            .error().code() == StatusCode::kNotFound);
  CHECK(Must(w.platform->GetTenant(w.root_p, w.acme.id)).name == "Acme Dental");

  Tenant gold = Must(w.platform->UpdateTenant(w.As("PLATFORM_MANAGER"), w.acme.id,
                                               {.tier = SubscriptionTier::kEnterprise}));
  CHECK(gold.tier == SubscriptionTier::kEnterprise);
  CHECK(gold.name == "Acme Dental");
  CHECK(Must(w.platform->GetTenant(w.root_p, w.acme.id)).tier == SubscriptionTier::kEnterprise);
  auto tier_line = testing::ParseLine(w.security->Lines().back());
  CHECK(tier_line.at("action").as_string() == "TENANT_UPDATED");
  CHECK(tier_line.at("tier").as_string() == "enterprise");
  CHECK_FALSE(tier_line.contains("name"));
  // Setting what is already there writes nothing and audits nothing.
  std::size_t before = w.security->Lines().size();
  Must(w.platform->UpdateTenant(w.root_p, w.acme.id,
                                {.name = "Acme Dental", .tier = SubscriptionTier::kEnterprise}));
  CHECK(w.security->Lines().size() == before);
}

TEST_CASE("tenants: a bad update names the field and changes nothing") {
  World w;
  CheckInvalid(w.platform->UpdateTenant(w.root_p, w.acme.id, {}), "update");
  CheckInvalid(w.platform->UpdateTenant(w.root_p, w.acme.id, {.name = ""}), "name");
  CheckInvalid(w.platform->UpdateTenant(w.root_p, w.acme.id, {.name = std::string(201, 'x')}),
               "name");
  CheckInvalid(w.platform->UpdateTenant(w.root_p, w.acme.id,
                                        {.name = std::string("\xff\xfe"),
                                         .tier = SubscriptionTier::kBusiness}),
               "name");
  CHECK(w.platform->UpdateTenant(w.root_p, TenantId(999999), {.name = "Nobody"})
            .error().code() == StatusCode::kNotFound);
  Tenant now = Must(w.platform->GetTenant(w.root_p, w.acme.id));
  CHECK(now.name == "Acme");
  CHECK(now.tier == w.acme.tier);
}

TEST_CASE("listings: tenants, domains and users, each reader seeing what it may read") {
  World w;
  auto tenant_ids = [](const std::vector<Tenant>& list) {
    std::vector<TenantId> out;
    for (const Tenant& t : list) out.push_back(t.id);
    return out;
  };
  const std::vector<TenantId> every{w.acme.id, w.globex.id, w.demo.id};
  CHECK(tenant_ids(Must(w.platform->ListTenants(w.root_p))) == every);
  CHECK(tenant_ids(Must(w.platform->ListTenants(w.As("PLATFORM_SUPPORT")))) == every);
  CHECK(tenant_ids(Must(w.platform->ListTenants(w.As("PLATFORM_SALES")))) ==
        std::vector<TenantId>{w.demo.id});
  for (const char* role : {"TENANT_OWNER", "CUSTOMER"})
    CHECK_MESSAGE(tenant_ids(Must(w.platform->ListTenants(w.As(role)))) ==
                      std::vector<TenantId>{w.acme.id},
                  role);

  Domain custom = Must(w.platform->AddDomain(
      w.root_p, {.name = "book.acme-dental.example", .tenant = w.acme.id, .is_custom_domain = true}));
  auto domains = Must(w.platform->ListDomains(w.As("TENANT_OWNER"), w.acme.id));
  CHECK(std::any_of(domains.begin(), domains.end(),
                    [&](const Domain& d) { return d.id == custom.id && d.tenant == w.acme.id; }));
  CHECK(std::all_of(domains.begin(), domains.end(),
                    [&](const Domain& d) { return d.tenant == w.acme.id; }));
  CHECK(w.platform->ListDomains(w.As("globex:TENANT_OWNER"), w.acme.id).error().code() ==
        StatusCode::kNotFound);
  CHECK(Must(w.platform->ListDomains(w.As("globex:TENANT_OWNER"), w.globex.id)).empty());

  auto user_ids = [](const std::vector<User>& list) {
    std::vector<UserId> out;
    for (const User& u : list) out.push_back(u.id);
    return out;
  };
  std::vector<UserId> acme_users;
  for (const char* role : {"TENANT_OWNER", "TENANT_MANAGER", "TENANT_STAFF", "CUSTOMER"})
    acme_users.push_back(w.users.at(role).id);
  std::sort(acme_users.begin(), acme_users.end());
  CHECK(user_ids(Must(w.platform->ListUsers(w.root_p, w.acme.id))) == acme_users);
  CHECK(user_ids(Must(w.platform->ListUsers(w.As("TENANT_STAFF"), w.acme.id))) == acme_users);
  CHECK(user_ids(Must(w.platform->ListUsers(w.As("CUSTOMER"), w.acme.id))) ==
        std::vector<UserId>{w.users.at("CUSTOMER").id});
  CHECK(w.platform->ListUsers(w.As("globex:TENANT_OWNER"), w.acme.id).error().code() ==
        StatusCode::kNotFound);
  std::vector<UserId> platform_users;
  for (const char* role : {"SUPERUSER", "PLATFORM_MANAGER", "PLATFORM_SALES", "PLATFORM_SUPPORT"})
    platform_users.push_back(w.users.at(role).id);
  std::sort(platform_users.begin(), platform_users.end());
  CHECK(user_ids(Must(w.platform->ListUsers(w.root_p, std::nullopt))) == platform_users);
  CHECK(Must(w.platform->ListUsers(w.As("TENANT_OWNER"), std::nullopt)).empty());
  // Sales read the users of demo tenants only.
  CHECK(Must(w.platform->ListUsers(w.As("PLATFORM_SALES"), w.acme.id)).empty());
  User demo_user = w.NewUser(Role::kTenantStaff, w.demo.id, "staff@demo1.test");
  CHECK(user_ids(Must(w.platform->ListUsers(w.As("PLATFORM_SALES"), w.demo.id))) ==
        std::vector<UserId>{demo_user.id});
}

TEST_CASE("platform options: the login throttle's bounds are checked at open") {
  World w;
  PlatformOptions o;
  o.storage = w.storage;
  o.login_max_failures = 0;
  auto zero = Platform::Open(o);
  CheckInvalid(zero.has_value() ? Status() : zero.error(), "login_max_failures");
  o.login_max_failures = 5;
  o.login_throttle_window = std::chrono::minutes(0);
  auto none = Platform::Open(o);
  CheckInvalid(none.has_value() ? Status() : none.error(), "login_throttle_window");
  o.login_throttle_window = std::chrono::minutes(15);
  o.session_lifetime = std::chrono::minutes(0);
  auto instant = Platform::Open(o);
  CheckInvalid(instant.has_value() ? Status() : instant.error(), "session_lifetime");
}

TEST_CASE("sessions: expire session_lifetime after login, held Principals and masquerades too") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Session s = w.LoginAs(staff);
  Principal held = Must(w.platform->Authenticate(s.id));
  CHECK(w.platform->GetUser(held, staff.id));  // the actor is now cached
  w.clock.Advance(std::chrono::minutes(14 * 24 * 60) - 1s);
  CHECK(w.platform->Authenticate(s.token, w.HostOf(staff)));
  CHECK(w.platform->GetUser(held, staff.id));
  w.clock.Advance(1s);
  auto by_id = w.platform->Authenticate(s.id);
  REQUIRE_FALSE(by_id);
  CHECK(by_id.error().code() == StatusCode::kUnauthenticated);
  CHECK(by_id.error().message() == "the session has expired");
  CHECK(w.platform->Authenticate(s.token, w.HostOf(staff)).error().code() ==
        StatusCode::kUnauthenticated);
  // Nothing in storage changed, so the cached actor is what refuses here.
  auto cached = w.platform->GetUser(held, staff.id);
  REQUIRE_FALSE(cached);
  CHECK(cached.error().message() == "the session has expired");
  // A new login works.
  CHECK(w.platform->Authenticate(w.LoginAs(staff).id));

  // A shorter lifetime; a masquerade ends when the session it started from expires.
  PlatformOptions o = w.platform->options();
  o.session_lifetime = std::chrono::minutes(60);
  auto hourly = Must(Platform::Open(o));
  Session owner = Must(hourly->Login(w.HostOf(w.users.at("TENANT_OWNER")), "tenant_owner@acme.test",
                                     World::kPassword, "::1"));
  w.clock.Advance(30min);
  Session m = Must(hourly->StartMasquerade(owner.id, staff.id, "::1"));
  CHECK(hourly->Authenticate(m.id));
  w.clock.Advance(30min);
  auto after = hourly->Authenticate(m.id);
  REQUIRE_FALSE(after);
  CHECK(after.error().message() == "the session has expired");
}

TEST_CASE("resolve_host: platform, tenant subdomains, ports, case; never a default") {
  World w;
  auto p = Must(w.platform->ResolveHost("platform.lvh.me"));
  CHECK(p.is_platform);
  auto a = Must(w.platform->ResolveHost("ACME.lvh.me:8080"));
  CHECK_FALSE(a.is_platform);
  CHECK(a.tenant->id == w.acme.id);
  CHECK(Must(w.platform->ResolveHost("acme.lvh.me.")).tenant->id == w.acme.id);
  Tenant gym = Must(w.platform->CreateTenant(w.root_p, {.slug = "acme_gym", .name = "Gym"}));
  CHECK(Must(w.platform->ResolveHost("acme-gym.lvh.me")).tenant->id == gym.id);
  for (const char* bad : {"lvh.me", "lvh.me:80", "nobody.lvh.me", "a.acme.lvh.me", "", ":80",
                          "acme.lvh.me:", "acme.lvh.me:x", "acme.example.com", "127.0.0.1",
                          "[::1]:80", "acme lvh.me", "_acme.lvh.me", "www.lvh.me"}) {
    auto r = w.platform->ResolveHost(bad);
    CHECK_MESSAGE(r.error().code() == StatusCode::kNotFound, "host '" << bad << "'");
  }
}

TEST_CASE("custom domains resolve only once verified") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Domain d = Must(w.platform->AddDomain(owner, {.name = "Book.Acme-Corp.COM.", .tenant = w.acme.id,
                                                .is_primary = true, .is_custom_domain = true}));
  CHECK(d.name == "book.acme-corp.com");
  CHECK(d.verification == DomainVerification::kPending);
  CHECK(w.platform->ResolveHost("book.acme-corp.com").error().code() == StatusCode::kNotFound);
  // The tenant cannot vouch for its own custom domain (else it could take any name), nor can
  // sales on a demo tenant: only the platform records a successful check.
  w.security->Clear();
  auto self = w.platform->SetDomainVerification(owner, d.id, DomainVerification::kVerified);
  REQUIRE_FALSE(self);
  CHECK(self.error().code() == StatusCode::kPermissionDenied);
  CHECK(self.error().message().rfind("verification: only the platform may verify a custom domain", 0) == 0);
  REQUIRE(w.security->Lines().size() == 1);
  CHECK(testing::ParseLine(w.security->Lines()[0]).at("action").as_string() == "PERMISSION_DENIED");
  Domain demo_domain = Must(w.platform->AddDomain(
      w.As("PLATFORM_SALES"), {.name = "demo.example", .tenant = w.demo.id, .is_custom_domain = true}));
  CHECK(w.platform->SetDomainVerification(w.As("PLATFORM_SALES"), demo_domain.id,
                                          DomainVerification::kVerified)
            .error().code() == StatusCode::kPermissionDenied);
  CHECK(w.platform->ResolveHost("book.acme-corp.com").error().code() == StatusCode::kNotFound);
  d = Must(w.platform->SetDomainVerification(w.As("PLATFORM_MANAGER"), d.id,
                                             DomainVerification::kVerified));
  REQUIRE(d.verified_at);
  CHECK(*d.verified_at == w.clock.Now());
  CHECK(Must(w.platform->ResolveHost("book.acme-corp.com:443")).tenant->id == w.acme.id);
  Must(w.platform->SetDomainVerification(owner, d.id, DomainVerification::kFailed));
  CHECK(w.platform->ResolveHost("book.acme-corp.com").error().code() == StatusCode::kNotFound);
}

TEST_CASE("domains: validation, uniqueness, permissions, one primary") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  CheckInvalid(w.platform->AddDomain(owner, {.name = "", .tenant = w.acme.id, .is_custom_domain = true}), "domain");
  CheckInvalid(w.platform->AddDomain(owner, {.name = "a..b.com", .tenant = w.acme.id, .is_custom_domain = true}), "domain");
  CheckInvalid(w.platform->AddDomain(owner, {.name = "-a.com", .tenant = w.acme.id, .is_custom_domain = true}), "domain");
  CheckInvalid(w.platform->AddDomain(owner, {.name = "a_b.com", .tenant = w.acme.id, .is_custom_domain = true}), "domain");
  CheckInvalid(w.platform->AddDomain(owner, {.name = std::string(64, 'a') + ".com", .tenant = w.acme.id, .is_custom_domain = true}), "domain");
  CheckInvalid(w.platform->AddDomain(owner, {.name = "evil.lvh.me", .tenant = w.acme.id, .is_custom_domain = true}), "domain");
  CheckInvalid(w.platform->AddDomain(owner, {.name = "platform.lvh.me", .tenant = w.acme.id}), "domain");
  // Under the base domain a tenant has its own subdomain only: others would route nowhere.
  auto other_sub = w.platform->AddDomain(owner, {.name = "book.lvh.me", .tenant = w.acme.id});
  CheckInvalid(other_sub, "domain");
  CHECK(other_sub.error().message() ==
        "domain: the tenant's subdomain of lvh.me is acme.lvh.me; others need a custom domain");
  Tenant gym = Must(w.platform->CreateTenant(w.root_p, {.slug = "acme_gym", .name = "Gym"}));
  CHECK(Must(w.platform->AddDomain(w.root_p, {.name = "acme-gym.lvh.me", .tenant = gym.id})).name ==
        "acme-gym.lvh.me");
  Domain first = Must(w.platform->AddDomain(owner, {.name = "acme.lvh.me", .tenant = w.acme.id, .is_primary = true}));
  CHECK(first.verification == DomainVerification::kVerified);
  Must(w.platform->AddDomain(owner, {.name = "acme.com", .tenant = w.acme.id, .is_primary = true, .is_custom_domain = true}));
  auto all = Must(Must(w.storage->BeginShared(TxnMode::kRead))->ListDomains(w.acme.id));
  CHECK(std::count_if(all.begin(), all.end(), [](const Domain& d) { return d.is_primary; }) == 1);
  // A tenant has a name once (several tenants may claim one: see the next test case).
  auto again = w.platform->AddDomain(
      owner, {.name = "ACME.com", .tenant = w.acme.id, .is_custom_domain = true});
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == StatusCode::kAlreadyExists);
  CHECK(again.error().message() == "domain 'acme.com' already exists");
  CHECK(w.platform->AddDomain(w.As("globex:TENANT_OWNER"),
                              {.name = "x.com", .tenant = w.acme.id, .is_custom_domain = true})
            .error().code() == StatusCode::kNotFound);
  CHECK(w.platform->AddDomain(w.As("TENANT_MANAGER"),
                              {.name = "y.com", .tenant = w.acme.id, .is_custom_domain = true})
            .error().code() == StatusCode::kPermissionDenied);
}

// A custom domain is the tenant's only once the platform has checked it, so asking for a
// name proves nothing: a tenant that asks for another company's name first must not keep the
// company from asking for it too. Several tenants may claim a name; one holds it verified.
TEST_CASE("domains: several tenants may claim a custom domain, one holds it verified") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  Principal squatter = w.As("globex:TENANT_OWNER");
  Principal manager = w.As("PLATFORM_MANAGER");
  Domain theirs = Must(w.platform->AddDomain(
      squatter, {.name = "book.acme-corp.com", .tenant = w.globex.id, .is_custom_domain = true}));
  Domain ours = Must(w.platform->AddDomain(
      owner, {.name = "book.acme-corp.com", .tenant = w.acme.id, .is_custom_domain = true}));
  CHECK(ours.id != theirs.id);
  CHECK(ours.verification == DomainVerification::kPending);
  CHECK(w.platform->ResolveHost("book.acme-corp.com").error().code() == StatusCode::kNotFound);

  Must(w.platform->SetDomainVerification(manager, ours.id, DomainVerification::kVerified));
  CHECK(Must(w.platform->ResolveHost("book.acme-corp.com")).tenant->id == w.acme.id);
  // The other claim cannot be verified while this one is, and nothing changes for trying.
  auto second =
      w.platform->SetDomainVerification(manager, theirs.id, DomainVerification::kVerified);
  REQUIRE_FALSE(second);
  CHECK(second.error().code() == StatusCode::kAlreadyExists);
  CHECK(second.error().message() == "domain 'book.acme-corp.com' is verified for another tenant");
  auto listed = Must(w.platform->ListDomains(squatter, w.globex.id));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].verification == DomainVerification::kPending);
  CHECK(Must(w.platform->ResolveHost("book.acme-corp.com")).tenant->id == w.acme.id);
  // The other tenant may still claim it (the name may change hands), as a third may.
  Tenant third = Must(w.platform->CreateTenant(w.root_p, {.slug = "initech", .name = "Initech"}));
  Must(w.platform->AddDomain(
      w.root_p, {.name = "book.acme-corp.com", .tenant = third.id, .is_custom_domain = true}));

  // Once the first is no longer verified, the other can be; the host follows.
  Must(w.platform->SetDomainVerification(manager, ours.id, DomainVerification::kFailed));
  CHECK(w.platform->ResolveHost("book.acme-corp.com").error().code() == StatusCode::kNotFound);
  Must(w.platform->SetDomainVerification(manager, theirs.id, DomainVerification::kVerified));
  CHECK(Must(w.platform->ResolveHost("book.acme-corp.com")).tenant->id == w.globex.id);

  // Deleting the tenant that holds it verified frees the name for the others.
  Must(w.platform->SuspendTenant(w.root_p, w.globex.id, "closing"));
  Must(w.platform->DeleteTenant(w.root_p, w.globex.id));
  CHECK(w.platform->ResolveHost("book.acme-corp.com").error().code() == StatusCode::kNotFound);
  Must(w.platform->SetDomainVerification(manager, ours.id, DomainVerification::kVerified));
  CHECK(Must(w.platform->ResolveHost("book.acme-corp.com")).tenant->id == w.acme.id);
}

TEST_CASE("users: role and tenant must agree, with the exact messages") {
  World w;
  for (Role r : {Role::kTenantOwner, Role::kTenantManager, Role::kTenantStaff, Role::kCustomer}) {
    auto u = w.platform->CreateUser(w.root_p, {.email = "x@y.test", .display_name = "X", .role = r,
                                               .tenant = std::nullopt, .password = "long enough"});
    CHECK(u.error().code() == StatusCode::kInvalidArgument);
    CHECK(u.error().message() ==
          fmt::format("Users with role {} must be assigned to a tenant", RoleName(r)));
  }
  for (Role r : {Role::kPlatformManager, Role::kPlatformSales, Role::kPlatformSupport}) {
    auto u = w.platform->CreateUser(w.root_p, {.email = "x@y.test", .display_name = "X", .role = r,
                                               .tenant = w.acme.id, .password = "long enough"});
    CHECK(u.error().code() == StatusCode::kInvalidArgument);
    CHECK(u.error().message() ==
          fmt::format("Users with role {} must not be assigned to a tenant", RoleName(r)));
  }
  // None of them was made.
  auto shared = Must(w.storage->BeginShared(TxnMode::kRead));
  CHECK(shared->FindUserByEmail(std::nullopt, "x@y.test").error().code() == StatusCode::kNotFound);
  CHECK(shared->FindUserByEmail(w.acme.id, "x@y.test").error().code() == StatusCode::kNotFound);
}

TEST_CASE("users: email normalized, unique per tenant, shared across tenants") {
  World w;
  User u = w.NewUser(Role::kCustomer, w.acme.id, "  Pat.Smith@Example.COM ");
  CHECK(u.email == "pat.smith@example.com");
  CHECK(u.password_hash.rfind("$argon2id$", 0) == 0);
  auto dup = w.platform->CreateUser(w.root_p, {.email = "pat.smith@example.com", .display_name = "P",
                                               .role = Role::kCustomer, .tenant = w.acme.id,
                                               .password = "long enough"});
  CHECK(dup.error().code() == StatusCode::kAlreadyExists);
  CHECK(dup.error().message().rfind("email: ", 0) == 0);
  CHECK(w.NewUser(Role::kCustomer, w.globex.id, "pat.smith@example.com").tenant == w.globex.id);
  CHECK(w.NewUser(Role::kPlatformSupport, std::nullopt, "pat.smith@example.com").id.valid());
  auto platform_dup = w.platform->CreateUser(
      w.root_p, {.email = "PAT.smith@example.com", .display_name = "P", .role = Role::kPlatformSales,
                 .password = "long enough"});
  CHECK(platform_dup.error().code() == StatusCode::kAlreadyExists);
}

TEST_CASE("users: bad input for every validated field") {
  World w;
  auto make = [&](std::string email, std::string name, std::string password) {
    return w.platform->CreateUser(w.root_p, {.email = email, .display_name = name,
                                             .role = Role::kCustomer, .tenant = w.acme.id,
                                             .password = password});
  };
  CheckInvalid(make("", "N", "long enough"), "email");
  CheckInvalid(make("   ", "N", "long enough"), "email");
  CheckInvalid(make("no-at-sign", "N", "long enough"), "email");
  CheckInvalid(make("a@b@c.com", "N", "long enough"), "email");
  CheckInvalid(make("@c.com", "N", "long enough"), "email");
  CheckInvalid(make("a@", "N", "long enough"), "email");
  CheckInvalid(make("a@nodot", "N", "long enough"), "email");
  CheckInvalid(make("a b@c.com", "N", "long enough"), "email");
  CheckInvalid(make("ok@c.com", "", "long enough"), "display_name");
  CheckInvalid(make("ok@c.com", "N", "short"), "password");
  CheckInvalid(make("ok@c.com", "N", std::string(1025, 'p')), "password");
  CHECK(make("ok@c.com", "N", std::string(1024, 'p')));
}

TEST_CASE("users: managers create lower roles in their tenant; deactivation cuts sessions") {
  World w;
  Principal manager = w.As("TENANT_MANAGER");
  auto staff = w.platform->CreateUser(manager, {.email = "new@acme.test", .display_name = "N",
                                                .role = Role::kTenantStaff, .tenant = w.acme.id,
                                                .password = World::kPassword});
  REQUIRE(staff);
  CHECK(w.platform->CreateUser(manager, {.email = "boss@acme.test", .display_name = "B",
                                         .role = Role::kTenantOwner, .tenant = w.acme.id,
                                         .password = "long enough"})
            .error().code() == StatusCode::kPermissionDenied);
  CHECK(w.platform->CreateUser(manager, {.email = "x@globex.test", .display_name = "X",
                                         .role = Role::kCustomer, .tenant = w.globex.id,
                                         .password = "long enough"})
            .error().code() == StatusCode::kNotFound);

  Session s = w.LoginAs(*staff);
  Must(w.platform->DeactivateUser(manager, staff->id));
  CHECK(w.platform->Authenticate(s.id).error().code() == StatusCode::kUnauthenticated);
  CHECK(w.platform->Login(w.HostOf(*staff), staff->email, World::kPassword, "::1")
            .error().code() == StatusCode::kUnauthenticated);
  // Deactivated once: again is failed_precondition, with nothing audited a second time.
  w.security->Clear();
  auto again = w.platform->DeactivateUser(manager, staff->id);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == StatusCode::kFailedPrecondition);
  CHECK(again.error().message() == "user " + staff->email + " is already deactivated");
  CHECK(testing::CountActions(w.security->Lines(), "USER_DEACTIVATED") == 0);
}

TEST_CASE("users: role changes stay below the actor and are audited") {
  World w;
  Principal owner = w.As("TENANT_OWNER");
  const User& staff = w.users.at("TENANT_STAFF");
  w.security->Clear();
  User promoted = Must(w.platform->ChangeRole(owner, staff.id, Role::kTenantManager));
  CHECK(promoted.role == Role::kTenantManager);
  auto line = testing::ParseLine(w.security->Lines().at(0));
  CHECK(line.at("action").as_string() == "ROLE_CHANGED");
  CHECK(line.at("old_role").as_string() == "TENANT_STAFF");
  CHECK(line.at("new_role").as_string() == "TENANT_MANAGER");
  CHECK(w.platform->ChangeRole(owner, staff.id, Role::kTenantOwner).error().code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->ChangeRole(owner, staff.id, Role::kPlatformSupport).error().message() ==
        "Users with role PLATFORM_SUPPORT must not be assigned to a tenant");
  CHECK(w.platform->ChangeRole(owner, staff.id, Role::kPlatformSupport).error().code() ==
        StatusCode::kInvalidArgument);
  // The refused changes left the role as it was, and were not audited as changes.
  CHECK(Must(w.platform->GetUser(w.root_p, staff.id)).role == Role::kTenantManager);
  CHECK(testing::CountActions(w.security->Lines(), "ROLE_CHANGED") == 1);
}

TEST_CASE("users: another tenant's user is not found, not forbidden") {
  World w;
  CHECK(w.platform->GetUser(w.As("TENANT_OWNER"), w.users.at("globex:CUSTOMER").id)
            .error().code() == StatusCode::kNotFound);
  CHECK(w.platform->GetUser(w.As("TENANT_OWNER"), w.users.at("CUSTOMER").id));
  CHECK(w.platform->GetUser(w.As("CUSTOMER"), w.users.at("CUSTOMER").id));
  CHECK(w.platform->GetUser(w.As("CUSTOMER"), w.users.at("TENANT_STAFF").id).error().code() ==
        StatusCode::kPermissionDenied);
}

// PLATFORM_SALES' demo_only scope: temporary users and everything in demo tenants.
TEST_CASE("users: sales reach every user of a demo tenant, and no other") {
  World w;
  Principal sales = w.As("PLATFORM_SALES");
  User demo_customer = w.NewUser(Role::kCustomer, w.demo.id, "cust@demo.test");  // not temporary
  CHECK(w.platform->GetUser(sales, demo_customer.id));
  CHECK(w.platform->CreateUser(sales, {.email = "new@demo.test", .display_name = "N",
                                       .role = Role::kCustomer, .tenant = w.demo.id,
                                       .password = World::kPassword}));
  CHECK(w.platform->DeactivateUser(sales, demo_customer.id));
  CHECK(w.platform->GetUser(sales, w.users.at("CUSTOMER").id).error().code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->CreateUser(sales, {.email = "new@acme.test", .display_name = "N",
                                       .role = Role::kCustomer, .tenant = w.acme.id,
                                       .password = World::kPassword})
            .error().code() == StatusCode::kPermissionDenied);
}

// Text from outside that is not UTF-8 is refused where it is input, and where it is only
// recorded (an IP address at login) it cannot make an audit line unreadable.
TEST_CASE("bytes that are not UTF-8: refused as input, harmless in the audit trail") {
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  w.security->Clear();
  CHECK_FALSE(w.platform->Login(w.HostOf(owner), owner.email, "wrong password!", "203.0.113.9\xff"));
  CheckInvalid(w.platform->CreateGrant(w.As("TENANT_OWNER"), w.users.at("TENANT_STAFF").id,
                                       Action::kCustomerManage, "cover \xc3("),
               "reason");
  CheckInvalid(w.platform->CreateGrant(w.As("TENANT_OWNER"), w.users.at("TENANT_STAFF").id,
                                       Action::kServiceManage, "x" + std::string(100000, '\x80')),
               "reason");
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = "bytes", .name = "Caf\xe9"}), "name");
  const auto lines = w.security->Lines();
  REQUIRE(lines.size() == 1);  // LOGIN_FAILED; the refusals changed nothing and logged nothing
  auto failed = testing::ParseLine(lines[0]);
  CHECK(failed.at("action").as_string() == "LOGIN_FAILED");
  CHECK(failed.at("ip_address").as_string() == "203.0.113.9\xef\xbf\xbd");
}

TEST_CASE("an ip_address no backend can store is kept as the audit line shows it") {
  // The client's address is whatever the server was told (a forwarded header, say). As text
  // that is not UTF-8 it failed a good login on PostgreSQL (internal), and a NUL cut it short
  // there; every backend now stores it as the audit trail writes it, with U+FFFD.
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  const User& staff = w.users.at("TENANT_STAFF");
  const std::string replaced = "203.0.113.9\xef\xbf\xbd";
  Session s =
      Must(w.platform->Login(w.HostOf(owner), owner.email, World::kPassword, "203.0.113.9\xff"));
  CHECK(s.ip_address == replaced);
  CHECK(Must(w.platform->Authenticate(s.id)).session->ip_address == replaced);
  CHECK(testing::ParseLine(w.security->Lines().back()).at("ip_address").as_string() == replaced);
  Session m = Must(w.platform->StartMasquerade(s.id, staff.id, std::string("203.0.113.9\0", 12)));
  CHECK(Must(w.platform->Authenticate(m.id)).session->ip_address == replaced);
  CHECK(testing::ParseLine(w.masquerade->Lines().back()).at("ip_address").as_string() == replaced);
}

TEST_CASE("text with a NUL: refused as input, so no backend stores less than it was given") {
  // PostgreSQL cannot store U+0000 in text and cut the name short there; the others kept it.
  World w;
  const std::string nul_name("Bob\0 (platform support)", 23);
  CheckInvalid(w.platform->CreateUser(w.root_p, {.email = "bob@acme.test",
                                                 .display_name = nul_name,
                                                 .role = Role::kCustomer,
                                                 .tenant = w.acme.id,
                                                 .password = World::kPassword}),
               "display_name");
  CHECK(Must(w.platform->ListUsers(w.root_p, w.acme.id)).size() == 4);
  CheckInvalid(w.platform->UpdateTenant(w.root_p, w.acme.id, {.name = std::string("Ac\0me", 5)}),
               "name");
  CHECK(Must(w.platform->GetTenant(w.root_p, w.acme.id)).name == "Acme");
  CheckInvalid(w.platform->SuspendTenant(w.root_p, w.acme.id, std::string("late\0", 5)), "reason");
  CHECK(Must(w.platform->GetTenant(w.root_p, w.acme.id)).status == TenantStatus::kActive);
}

// "tenant_" + slug names the PostgreSQL schema: the longest slug the platform accepts works
// on every backend.
TEST_CASE("tenants: the longest slug accepted works on every backend") {
  World w;
  const std::string slug = "a" + std::string(55, 'b');
  Tenant t = Must(w.platform->CreateTenant(w.root_p, {.slug = slug, .name = "Long"}));
  CHECK(t.slug == slug);
  CheckInvalid(w.platform->CreateTenant(w.root_p, {.slug = slug + "c", .name = "Longer"}), "slug");
}

TEST_CASE("login: per host, one generic message, throttled per account, audited") {
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  Session s = w.LoginAs(owner);
  CHECK(s.user == owner.id);
  CHECK(s.tenant == w.acme.id);
  CHECK(s.session_key.size() == 32);
  // The same credentials on another tenant's host, or on the platform host, fail.
  HostMatch globex{false, w.globex};
  auto wrong_host = w.platform->Login(globex, owner.email, World::kPassword, "::1");
  auto platform_host = w.platform->Login({true, std::nullopt}, owner.email, World::kPassword, "::1");
  auto wrong_pw = w.platform->Login(w.HostOf(owner), owner.email, "not the password", "::1");
  auto unknown = w.platform->Login(w.HostOf(owner), "nobody@acme.test", World::kPassword, "::1");
  for (const auto* r : {&wrong_host, &platform_host, &wrong_pw, &unknown}) {
    CHECK(r->error().code() == StatusCode::kUnauthenticated);
    CHECK(r->error().message() == "invalid email or password");
  }
  // Root logs in on the platform host.
  CHECK(w.platform->Login({true, std::nullopt}, "ROOT@platform.test", World::kPassword, "::1"));

  // A password no account can have (over 1,024 bytes) is one more failure, never hashed
  // whole. Three more make five: the right password is refused until the window passes.
  w.security->Clear();
  auto huge = w.platform->Login(w.HostOf(owner), owner.email, std::string(1 << 20, 'p'), "::1");
  CHECK(huge.error().message() == "invalid email or password");
  REQUIRE(w.security->Lines().size() == 1);
  CHECK(testing::ParseLine(w.security->Lines()[0]).at("reason").as_string() ==
        "password length out of bounds");
  for (int i = 0; i < 3; ++i)
    CHECK_FALSE(w.platform->Login(w.HostOf(owner), owner.email, "wrong password", "::1"));
  CHECK_FALSE(w.platform->Login(w.HostOf(owner), owner.email, World::kPassword, "::1"));
  // Refused for the throttle, not for the password, and said so only in the audit line.
  CHECK(testing::ParseLine(w.security->Lines().back()).at("reason").as_string() ==
        "too many failed attempts");
  w.clock.Advance(15min + 1s);
  CHECK(w.platform->Login(w.HostOf(owner), owner.email, World::kPassword, "::1"));

  bool saw_success = false, saw_failure = false;
  for (const auto& line : w.security->Lines()) {
    auto o = testing::ParseLine(line);
    if (o.at("action").as_string() == "LOGIN_SUCCESS") saw_success = true;
    if (o.at("action").as_string() == "LOGIN_FAILED") saw_failure = true;
    CHECK(line.find(World::kPassword) == std::string::npos);
    CHECK(line.find("not the password") == std::string::npos);
    CHECK(line.find("$argon2") == std::string::npos);
  }
  CHECK(saw_success);
  CHECK(saw_failure);
}

// The failures are kept in storage: a second Platform on it stands for another process, and
// an attacker spreading attempts across processes gets no more of them.
// SECURITY.md 5 and 7: a session's token is its only secret: 256 random bits, stored only
// as a hash, bound to its user and tenant (its hosts), dead the moment the session ends.
TEST_CASE("passwords: a user changes its own with the current one, and every session ends") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  const HostMatch host = w.HostOf(staff);
  Session first = w.LoginAs(staff);
  Session second = w.LoginAs(staff);
  Principal me = Must(w.platform->Authenticate(first.id));
  const std::string fresh_password = "a brand new passphrase";
  w.clock.Advance(1s);
  w.security->Clear();

  // A wrong current password, or a bad new one, changes nothing.
  auto wrong = w.platform->ChangePassword(me, "not the password", fresh_password);
  CHECK(wrong.code() == StatusCode::kPermissionDenied);
  CHECK(wrong.message() == "current_password: does not match");
  CheckInvalid(w.platform->ChangePassword(me, World::kPassword, "short"), "new_password");
  CheckInvalid(w.platform->ChangePassword(me, World::kPassword, std::string(1025, 'x')),
               "new_password");
  CHECK(w.platform->Authenticate(second.token, host));
  REQUIRE(w.security->Lines().size() == 1);
  auto failed = testing::ParseLine(w.security->Lines().at(0));
  CHECK(failed.at("action").as_string() == "PASSWORD_CHANGE_FAILED");
  CHECK(failed.at("user_email").as_string() == staff.email);

  Must(w.platform->ChangePassword(me, World::kPassword, fresh_password));
  auto changed = testing::ParseLine(w.security->Lines().back());
  CHECK(changed.at("action").as_string() == "PASSWORD_CHANGED");
  CHECK(changed.at("user_email").as_string() == staff.email);
  // Every session made with the old password has ended: this one, the other, by id and by
  // token, and the Principal held from it.
  for (const Session& s : {first, second}) {
    auto by_id = w.platform->Authenticate(s.id);
    REQUIRE_FALSE(by_id);
    CHECK(by_id.error().code() == StatusCode::kUnauthenticated);
    CHECK(by_id.error().message() == "the session has been revoked");
    CHECK(w.platform->Authenticate(s.token, host).error().code() == StatusCode::kUnauthenticated);
  }
  CHECK(w.platform->GetUser(me, staff.id).error().code() == StatusCode::kUnauthenticated);
  // The old password no longer logs in; the new one does, even in the same microsecond.
  CHECK(w.platform->Login(host, staff.email, World::kPassword, "::1").error().code() ==
        StatusCode::kUnauthenticated);
  Session again = Must(w.platform->Login(host, staff.email, fresh_password, "::1"));
  Principal back = Must(w.platform->Authenticate(again.token, host));
  CHECK(back.user.id == staff.id);
  // Neither password nor hash reaches the log.
  const std::string stored = Must(Must(w.storage->BeginShared(TxnMode::kRead))->GetUser(staff.id))
                                 .password_hash;
  for (const std::string& line : w.security->Lines()) {
    CHECK(line.find(fresh_password) == std::string::npos);
    CHECK(line.find(World::kPassword) == std::string::npos);
    CHECK(line.find(stored) == std::string::npos);
  }
}

namespace {
// A clock that runs `before_next_now` (once) just before it next tells the time: lets a test
// act at the moment a call reads the clock, with the clock moved on as it would have.
class HookedClock final : public Clock {
 public:
  explicit HookedClock(const Clock& base) : base_(base) {}
  mutable std::function<void()> before_next_now;
  Instant Now() const override {
    if (before_next_now) std::exchange(before_next_now, nullptr)();
    return base_.Now();
  }

 private:
  const Clock& base_;
};
}  // namespace

TEST_CASE("passwords: a login that checked the old password while it changed makes no session") {
  // Argon2id takes a while: a login may verify the old password, then the user changes it
  // (another process, say), and only then does the login write its session. The old password
  // must not yield a session that outlives the change.
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  const HostMatch host = w.HostOf(staff);
  Principal me = Must(w.platform->Authenticate(w.LoginAs(staff).id));
  const std::string fresh_password = "a brand new passphrase";

  auto hooked = std::make_shared<BeforeWriteStorage>(w.storage);
  HookedClock clock(w.clock);
  PlatformOptions o = w.platform->options();
  o.storage = hooked;
  o.clock = &clock;
  auto attacker_side = Must(Platform::Open(o));
  // Login's read of the user comes after it has counted the attempt; its next look at the
  // clock comes after it has checked the password. The change commits in between.
  hooked->before_read = [&] {
    clock.before_next_now = [&] {
      w.clock.Advance(1s);
      Must(w.platform->ChangePassword(me, World::kPassword, fresh_password));
      w.clock.Advance(1s);
    };
  };
  auto late = attacker_side->Login(host, staff.email, World::kPassword, "198.51.100.9");
  CHECK_FALSE(hooked->before_read);
  CHECK_FALSE(clock.before_next_now);  // the change did happen in between
  if (late) {
    // Whatever the login answered, what it made must not work after the change.
    auto p = w.platform->Authenticate(late->token, host);
    CHECK_FALSE(p);
  }
  REQUIRE_FALSE(late);
  CHECK(late.error().code() == StatusCode::kUnauthenticated);
  CHECK(late.error().message() == "invalid email or password");
  auto failed = testing::ParseLine(w.security->Lines().back());
  CHECK(failed.at("action").as_string() == "LOGIN_FAILED");
  CHECK(failed.at("reason").as_string() == "password changed meanwhile");
  // The new password logs in as ever.
  Must(w.platform->Login(host, staff.email, fresh_password, "::1"));
}

TEST_CASE("passwords: a login that another login's rehash overtook still logs in") {
  // After the platform's password cost changes, each login replaces the user's hash with one
  // at the new cost. Two logins with the right password at once (two devices): the first to
  // commit rehashes, and the second then finds a hash other than the one it checked. The
  // password is the same, so the second must log in too.
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  const HostMatch host = w.HostOf(staff);
  const PasswordCost raised{2, 8192};  // not the cost the stored hash was made at
  auto hooked = std::make_shared<BeforeWriteStorage>(w.storage);
  HookedClock clock(w.clock);
  PlatformOptions o = w.platform->options();
  o.storage = hooked;
  o.clock = &clock;
  o.password_cost = raised;
  auto phone = Must(Platform::Open(o));
  PlatformOptions other = w.platform->options();
  other.password_cost = raised;
  auto laptop = Must(Platform::Open(other));
  // The laptop logs in (and rehashes) after the phone checked the password, before it writes.
  hooked->before_read = [&] {
    clock.before_next_now = [&] {
      Must(laptop->Login(host, staff.email, World::kPassword, "198.51.100.7"));
    };
  };
  auto late = phone->Login(host, staff.email, World::kPassword, "198.51.100.9");
  CHECK_FALSE(clock.before_next_now);  // the laptop did log in in between
  REQUIRE_MESSAGE(late.ok(), (late ? std::string() : late.error().message()));
  CHECK(Must(w.platform->Authenticate(late->token, host)).user.id == staff.id);
  CHECK(testing::ParseLine(w.security->Lines().back()).at("action").as_string() == "LOGIN_SUCCESS");
  // A password changed meanwhile is still refused (the case above).
  Must(w.platform->Login(host, staff.email, World::kPassword, "::1"));
}

TEST_CASE("passwords: a change that another login's rehash overtook still changes it") {
  // As above, but the phone changes the password: the laptop's login rehashes the same
  // password between the phone's check of it and its write. The change must go through.
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  const HostMatch host = w.HostOf(staff);
  const PasswordCost raised{2, 8192};
  auto hooked = std::make_shared<BeforeWriteStorage>(w.storage);
  PlatformOptions o = w.platform->options();
  o.storage = hooked;
  auto phone = Must(Platform::Open(o));
  PlatformOptions other = w.platform->options();
  other.password_cost = raised;
  auto laptop = Must(Platform::Open(other));
  Principal me = Must(phone->Authenticate(w.LoginAs(staff).id));
  const std::string fresh_password = "a brand new passphrase";
  // ChangePassword's first write counts the attempt; its second stores the new hash.
  hooked->before_write = [&] {
    hooked->before_write = [&] {
      Must(laptop->Login(host, staff.email, World::kPassword, "198.51.100.7"));
    };
  };
  Status changed = phone->ChangePassword(me, World::kPassword, fresh_password);
  CHECK_FALSE(hooked->before_write);  // the laptop did log in in between
  REQUIRE_MESSAGE(changed.ok(), changed.message());
  CHECK(testing::ParseLine(w.security->Lines().back()).at("action").as_string() ==
        "PASSWORD_CHANGED");
  Must(w.platform->Login(host, staff.email, fresh_password, "::1"));
  CHECK(w.platform->Login(host, staff.email, World::kPassword, "::1").error().code() ==
        StatusCode::kUnauthenticated);
}

TEST_CASE("passwords: guessing the current one is throttled with the account's logins") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Principal me = Must(w.platform->Authenticate(w.LoginAs(staff).id));
  for (int i = 0; i < 5; ++i)
    CHECK(w.platform->ChangePassword(me, "guess number " + std::to_string(i), "new passphrase 1")
              .code() == StatusCode::kPermissionDenied);
  // The right one is now refused too, and so is a login with it: one count for the account.
  CHECK(w.platform->ChangePassword(me, World::kPassword, "new passphrase 1").code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->Login(w.HostOf(staff), staff.email, World::kPassword, "::1")
            .error().code() == StatusCode::kUnauthenticated);
  // Once the window has passed, the password was never changed: the old one works.
  w.clock.Advance(16min);
  CHECK(w.platform->Login(w.HostOf(staff), staff.email, World::kPassword, "::1"));
}

TEST_CASE("passwords: a masquerade changes and sets none") {
  World w;
  Session owner = w.LoginAs(w.users.at("TENANT_OWNER"));
  const User& staff = w.users.at("TENANT_STAFF");
  Session m = Must(w.platform->StartMasquerade(owner.id, staff.id, "::1"));
  Principal as_staff = Must(w.platform->Authenticate(m.id));
  const User& owner_user = w.users.at("TENANT_OWNER");
  testing::CheckMasqueradeRefusal(
      w.platform->ChangePassword(as_staff, World::kPassword, "taken over 123"), *w.security,
      "user.update", staff, owner_user);
  testing::CheckMasqueradeRefusal(
      w.platform->SetPassword(as_staff, w.users.at("CUSTOMER").id, "taken over 123"), *w.security,
      "user.update", staff, owner_user);
  CHECK(w.platform->Login(w.HostOf(staff), staff.email, World::kPassword, "::1"));
}

TEST_CASE("users: a masquerade creates none, which would give it a password of its choosing") {
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  Session root = w.LoginAs(w.root);
  Session m = Must(w.platform->StartMasquerade(root.id, owner.id, "::1"));
  Principal as_owner = Must(w.platform->Authenticate(m.id));
  const UserSpec spec{.email = "backdoor@acme.test",
                      .display_name = "Backdoor",
                      .role = Role::kTenantManager,
                      .tenant = w.acme.id,
                      .password = "chosen by root 123"};
  const std::size_t before = Must(w.platform->ListUsers(w.root_p, w.acme.id)).size();
  auto created = w.platform->CreateUser(as_owner, spec);
  REQUIRE_FALSE(created);
  testing::CheckMasqueradeRefusal(created.error(), *w.security, "user.create", owner, w.root);
  CHECK(Must(w.platform->ListUsers(w.root_p, w.acme.id)).size() == before);
  CHECK_FALSE(w.platform->Login(w.HostOf(owner), spec.email, spec.password, "::1"));
  // The owner, not masquerading, may.
  CHECK(w.platform->CreateUser(Must(w.platform->Authenticate(w.LoginAs(owner).id)), spec));
}

TEST_CASE("passwords: a held Principal of a suspended tenant or inactive user changes none") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Principal held = w.As("TENANT_STAFF");
  Must(w.platform->SuspendTenant(w.root_p, w.acme.id, "unpaid"));
  Status suspended = w.platform->ChangePassword(held, World::kPassword, "while suspended 1");
  CHECK(suspended.code() == StatusCode::kPermissionDenied);
  CHECK(suspended.message() == "the acting user's tenant is suspended");
  Must(w.platform->ReactivateTenant(w.root_p, w.acme.id));
  Must(w.platform->DeactivateUser(w.root_p, staff.id));
  Status inactive = w.platform->ChangePassword(held, World::kPassword, "while inactive 1");
  CHECK(inactive.code() == StatusCode::kPermissionDenied);
  CHECK(inactive.message() == "the acting user is inactive");
  Must(w.platform->ReactivateUser(w.root_p, staff.id));
  CHECK(w.platform->Login(w.HostOf(staff), staff.email, World::kPassword, "::1"));
}

TEST_CASE("passwords: set by an administrator above the user; the user's sessions end") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Session before = w.LoginAs(staff);
  w.clock.Advance(1s);
  w.security->Clear();
  Principal owner = w.As("TENANT_OWNER");
  Must(w.platform->SetPassword(owner, staff.id, "reset by the owner"));
  auto line = testing::ParseLine(w.security->Lines().back());
  CHECK(line.at("action").as_string() == "PASSWORD_SET");
  CHECK(line.at("user_email").as_string() == staff.email);
  CHECK(line.at("by").as_string() == "tenant_owner@acme.test");
  CHECK(w.platform->Authenticate(before.id).error().code() == StatusCode::kUnauthenticated);
  CHECK(w.platform->Login(w.HostOf(staff), staff.email, "reset by the owner", "::1"));

  // Only over users ranked below, in the actor's reach; never one's own this way.
  const UserId owner_id = w.users.at("TENANT_OWNER").id;
  CHECK(w.platform->SetPassword(w.As("TENANT_MANAGER"), owner_id, "a takeover 123").code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->SetPassword(w.As("TENANT_STAFF"), w.users.at("CUSTOMER").id,
                                "a takeover 123").code() == StatusCode::kPermissionDenied);
  CHECK(w.platform->SetPassword(w.As("globex:TENANT_OWNER"), staff.id, "a takeover 123").code() ==
        StatusCode::kNotFound);
  CHECK(w.platform->SetPassword(owner, owner_id, "a takeover 123").code() ==
        StatusCode::kPermissionDenied);
  CheckInvalid(w.platform->SetPassword(owner, staff.id, "short"), "new_password");
  // PLATFORM_SUPPORT's reach is tenant users: not PLATFORM_SALES, whom it may not
  // masquerade as either, though that role ranks below it.
  const User& sales = w.users.at("PLATFORM_SALES");
  const Status by_support =
      w.platform->SetPassword(w.As("PLATFORM_SUPPORT"), sales.id, "a takeover 123");
  CHECK(by_support.code() == StatusCode::kPermissionDenied);
  CHECK(by_support.message() == "PLATFORM_SUPPORT may only manage tenant users");
  CHECK(w.platform->Login(w.HostOf(sales), sales.email, World::kPassword, "::1"));
  CHECK(w.platform->Login(w.HostOf(w.users.at("TENANT_OWNER")), "tenant_owner@acme.test",
                          World::kPassword, "::1"));
  CHECK(w.platform->Login(w.HostOf(staff), staff.email, "reset by the owner", "::1"));
  Must(w.platform->SetPassword(w.root_p, owner_id, "reset by the root"));
  CHECK(w.platform->Login(w.HostOf(w.users.at("TENANT_OWNER")), "tenant_owner@acme.test",
                          "reset by the root", "::1"));

  // The operator's reset (smooth-admin set-password): no actor, found by tenant and email.
  Session root_session = w.LoginAs(w.root);
  w.clock.Advance(1s);
  Must(w.platform->ResetPasswordAsOperator(std::nullopt, " ROOT@platform.test", "by the operator"));
  auto op_line = testing::ParseLine(w.security->Lines().back());
  CHECK(op_line.at("action").as_string() == "PASSWORD_SET");
  CHECK(op_line.at("user_email").as_string() == "root@platform.test");
  CHECK(op_line.at("by").is_null());
  CHECK(w.platform->Authenticate(root_session.id).error().code() == StatusCode::kUnauthenticated);
  CHECK(w.platform->Login(w.HostOf(w.root), "root@platform.test", "by the operator", "::1"));
  // A tenant user is not a platform user: not found without its tenant.
  Status elsewhere = w.platform->ResetPasswordAsOperator(std::nullopt, staff.email, "nobody here 1");
  CHECK(elsewhere.code() == StatusCode::kNotFound);
  CHECK(elsewhere.message().rfind("email:", 0) == 0);
  Must(w.platform->ResetPasswordAsOperator(w.acme.id, staff.email, "staff by operator"));
  CHECK(w.platform->Login(w.HostOf(staff), staff.email, "staff by operator", "::1"));
  CheckInvalid(w.platform->ResetPasswordAsOperator(w.acme.id, staff.email, "short"),
               "new_password");
}

TEST_CASE("users: a reactivated user logs in again; its old sessions stay dead") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Session old = w.LoginAs(staff);
  Principal manager = w.As("TENANT_MANAGER");
  CHECK(w.platform->ReactivateUser(manager, staff.id).error().code() == StatusCode::kFailedPrecondition);
  Must(w.platform->DeactivateUser(manager, staff.id));
  CHECK(w.platform->Authenticate(old.id).error().code() == StatusCode::kUnauthenticated);
  // Only who may deactivate may reactivate: not the staff's peers, not another tenant.
  CHECK(w.platform->ReactivateUser(w.As("CUSTOMER"), staff.id).error().code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->ReactivateUser(w.As("globex:TENANT_OWNER"), staff.id).error().code() ==
        StatusCode::kNotFound);
  CHECK_FALSE(Must(Must(w.storage->BeginShared(TxnMode::kRead))->GetUser(staff.id)).is_active);
  w.clock.Advance(1s);
  w.security->Clear();
  User back = Must(w.platform->ReactivateUser(manager, staff.id));
  CHECK(back.is_active);
  auto line = testing::ParseLine(w.security->Lines().back());
  CHECK(line.at("action").as_string() == "USER_REACTIVATED");
  CHECK(line.at("user_email").as_string() == staff.email);
  CHECK(line.at("by").as_string() == "tenant_manager@acme.test");
  // The token from before the deactivation does not come back to life.
  auto revived = w.platform->Authenticate(old.token, w.HostOf(staff));
  REQUIRE_FALSE(revived);
  CHECK(revived.error().code() == StatusCode::kUnauthenticated);
  CHECK(w.platform->Authenticate(w.LoginAs(staff).id));
}

TEST_CASE("sessions: a user, or who may deactivate it, ends all its sessions at once") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Session a = w.LoginAs(staff);
  Session b = w.LoginAs(staff);
  Principal me = Must(w.platform->Authenticate(a.id));
  w.clock.Advance(1s);
  // Neither a peer nor a masquerade may; another tenant does not see the user.
  CHECK(w.platform->EndSessions(w.As("CUSTOMER"), staff.id).code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->EndSessions(w.As("globex:TENANT_OWNER"), staff.id).code() ==
        StatusCode::kNotFound);
  Session owner = w.LoginAs(w.users.at("TENANT_OWNER"));
  Session m = Must(w.platform->StartMasquerade(owner.id, staff.id, "::1"));
  testing::CheckMasqueradeRefusal(
      w.platform->EndSessions(Must(w.platform->Authenticate(m.id)), staff.id), *w.security,
      "user.deactivate", staff, w.users.at("TENANT_OWNER"));
  CHECK(w.platform->Authenticate(b.id));

  w.security->Clear();
  Must(w.platform->EndSessions(me, staff.id));
  auto line = testing::ParseLine(w.security->Lines().back());
  CHECK(line.at("action").as_string() == "SESSIONS_REVOKED");
  CHECK(line.at("user_email").as_string() == staff.email);
  CHECK(line.at("by").as_string() == staff.email);
  for (const Session& s : {a, b}) {
    auto gone = w.platform->Authenticate(s.id);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().message() == "the session has been revoked");
  }
  // The owner's own session, and its masquerade as someone else's target, are untouched.
  CHECK(w.platform->Authenticate(owner.id));
  // The owner ends the staff's new sessions too; its own stay.
  w.clock.Advance(1s);
  Session c = w.LoginAs(staff);
  w.clock.Advance(1s);
  Must(w.platform->EndSessions(w.As("TENANT_OWNER"), staff.id));
  CHECK(w.platform->Authenticate(c.token, w.HostOf(staff)).error().code() ==
        StatusCode::kUnauthenticated);
  CHECK(w.platform->Authenticate(owner.id));
}

TEST_CASE("sessions: ClearDeadSessions deletes what no call accepts; open masquerades end") {
  World w;
  PlatformOptions o = w.platform->options();
  o.session_lifetime = std::chrono::minutes(60);
  auto p = Must(Platform::Open(o));
  auto login = [&](const std::string& role) {
    const User& u = w.users.at(role);
    return Must(p->Login(w.HostOf(u), u.email, World::kPassword, "::1"));
  };
  const User& staff = w.users.at("TENANT_STAFF");
  const User& customer = w.users.at("CUSTOMER");
  Session expiring = login("TENANT_OWNER");
  Session expiring_m = Must(p->StartMasquerade(expiring.id, staff.id, "::1"));
  w.clock.Advance(30min);
  Session live = login("TENANT_OWNER");
  Session live_m = Must(p->StartMasquerade(live.id, staff.id, "::1"));
  Session logged_out = login("TENANT_MANAGER");
  Must(p->Logout(logged_out.id));
  Session support = login("PLATFORM_SUPPORT");
  Session stopped = Must(p->StartMasquerade(support.id, customer.id, "::1"));
  Must(p->StopMasquerade(stopped.id));
  Session revoked = login("TENANT_STAFF");
  Session deactivated = login("CUSTOMER");
  w.clock.Advance(1s);
  Must(p->EndSessions(w.As("TENANT_STAFF"), staff.id));
  Must(p->DeactivateUser(w.root_p, customer.id));
  w.clock.Advance(30min);  // `expiring` is 60 min and 1 s old, `live` 30 min and 1 s
  Principal held = Must(p->Authenticate(live_m.id));

  const auto epoch = Must(w.storage->SharedEpoch());
  const std::size_t masquerade_lines = w.masquerade->size();
  w.security->Clear();
  CHECK(Must(p->ClearDeadSessions()) == 6);
  CHECK(Must(w.storage->SharedEpoch()) > epoch);

  // What is left is exactly what still works.
  auto txn = Must(w.storage->BeginShared(TxnMode::kRead));
  std::vector<SessionId> left;
  for (const Session& s : Must(txn->ListSessions())) left.push_back(s.id);
  txn.reset();
  CHECK(left == std::vector<SessionId>{live.id, live_m.id, support.id});
  CHECK(p->Authenticate(live.token, w.HostOf(w.users.at("TENANT_OWNER"))));
  CHECK(p->Authenticate(live_m.id));
  CHECK(p->Authenticate(support.id));
  CHECK(p->GetUser(held, staff.id));
  for (const Session& s : {expiring, expiring_m, logged_out, stopped, revoked, deactivated}) {
    auto gone = p->Authenticate(s.id);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().message() == "unknown session");
  }
  CHECK(p->Authenticate(expiring.token, w.HostOf(w.users.at("TENANT_OWNER"))).error().message() ==
        "invalid token");
  CHECK(p->Logout(revoked.id).code() == StatusCode::kNotFound);

  // The masquerade left open on the expired session ends in masquerade.log; the stopped
  // one had its line already.
  REQUIRE(w.masquerade->size() == masquerade_lines + 1);
  auto end = testing::ParseLine(w.masquerade->Lines().back());
  CHECK(end.at("action").as_string() == "HIJACK_END");
  CHECK(end.at("hijacker_email").as_string() == w.users.at("TENANT_OWNER").email);
  CHECK(end.at("hijacked_email").as_string() == staff.email);
  CHECK(end.at("session_key").as_string() == expiring_m.session_key);
  CHECK(end.at("tenant").as_string() == "acme");
  CHECK(end.at("reason").as_string() == "original session expired");
  REQUIRE(w.security->size() == 1);
  auto cleared = testing::ParseLine(w.security->Lines().back());
  CHECK(cleared.at("action").as_string() == "SESSIONS_CLEARED");
  CHECK(cleared.at("count").as_int64() == 6);

  // Nothing more to clear: nothing written.
  CHECK(Must(p->ClearDeadSessions()) == 0);
  CHECK(w.security->size() == 1);
  CHECK(w.masquerade->size() == masquerade_lines + 1);
  // With the live sessions' hour over, they go too, the masquerade with its original.
  w.clock.Advance(30min);
  CHECK(Must(p->ClearDeadSessions()) == 3);
}

TEST_CASE("sessions: no masquerade starts from a session that died while it was starting") {
  // The original session was authenticated, then expired and was cleared away by another
  // process before the masquerade was written: the masquerade is refused, not left behind
  // pointing at a session that is not there (which Logout and StopMasquerade could not end).
  World w;
  auto hooked = std::make_shared<BeforeWriteStorage>(w.storage);
  PlatformOptions o = w.platform->options();
  o.session_lifetime = std::chrono::minutes(60);
  auto sweeper = Must(Platform::Open(o));  // another process, on the same storage
  o.storage = hooked;
  auto p = Must(Platform::Open(o));
  const User& owner = w.users.at("TENANT_OWNER");
  const User& staff = w.users.at("TENANT_STAFF");
  Session original = Must(p->Login(w.HostOf(owner), owner.email, World::kPassword, "::1"));
  w.clock.Advance(60min - 1us);
  hooked->before_write = [&] {
    w.clock.Advance(1us);
    CHECK(Must(sweeper->ClearDeadSessions()) == 1);
  };
  const std::size_t masquerade_lines = w.masquerade->size();

  auto m = p->StartMasquerade(original.id, staff.id, "::1");
  REQUIRE_FALSE(m);
  CHECK(m.error().code() == StatusCode::kUnauthenticated);
  // Refused, and logged as refused; no session was made.
  REQUIRE(w.masquerade->size() == masquerade_lines + 1);
  CHECK(testing::ParseLine(w.masquerade->Lines().back()).at("action").as_string() ==
        "HIJACK_DENIED");
  auto txn = Must(w.storage->BeginShared(TxnMode::kRead));
  CHECK(Must(txn->ListSessions()).empty());
}

TEST_CASE("sessions: a sweep of many dead sessions deletes them a chunk per transaction") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Session live = w.LoginAs(staff);
  {
    auto txn = Must(w.storage->BeginShared(TxnMode::kWrite));
    for (int i = 0; i < 1050; ++i)
      Must(txn->InsertSession({.session_key = "ended-" + std::to_string(i),
                               .user = staff.id,
                               .tenant = staff.tenant,
                               .ip_address = "::1",
                               .created_at = w.clock.Now(),
                               .ended_at = w.clock.Now()}));
    Must(txn->Commit());
  }
  w.security->Clear();
  CHECK(Must(w.platform->ClearDeadSessions()) == 1050);
  std::vector<std::int64_t> counts;
  for (const std::string& line : w.security->Lines()) {
    auto record = testing::ParseLine(line);
    REQUIRE(record.at("action").as_string() == "SESSIONS_CLEARED");
    counts.push_back(record.at("count").as_int64());
  }
  CHECK(counts == std::vector<std::int64_t>{500, 500, 50});
  auto txn = Must(w.storage->BeginShared(TxnMode::kRead));
  auto left = Must(txn->ListSessions());
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == live.id);
}

TEST_CASE("storage: deleted sessions come back when the transaction rolls back") {
  World w;
  Session a = w.LoginAs(w.users.at("TENANT_STAFF"));
  Session b = w.LoginAs(w.users.at("CUSTOMER"));
  {
    auto txn = Must(w.storage->BeginShared(TxnMode::kWrite));
    CHECK(Must(txn->DeleteSessions({a.id, SessionId(999999), b.id})) == 2);
    CHECK(Must(txn->ListSessions()).empty());
  }  // not committed
  CHECK(w.platform->Authenticate(a.id));
  CHECK(w.platform->Authenticate(b.token, w.HostOf(w.users.at("CUSTOMER"))));
  {
    auto txn = Must(w.storage->BeginShared(TxnMode::kWrite));
    CHECK(Must(txn->DeleteSessions({b.id})) == 1);
    Must(txn->Commit());
  }
  CHECK(w.platform->Authenticate(a.id));
  CHECK(w.platform->Authenticate(b.id).error().message() == "unknown session");
}

TEST_CASE("login stores a new hash when the platform's password cost has changed") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  auto stored = [&] {
    return Must(Must(w.storage->BeginShared(TxnMode::kRead))->GetUser(staff.id)).password_hash;
  };
  const std::string old_hash = stored();
  CHECK(old_hash.find("$m=8,t=1,") != std::string::npos);
  PlatformOptions o = w.platform->options();
  o.password_cost = PasswordCost{.ops_limit = 2, .mem_limit_bytes = 16 * 1024};
  auto costlier = Must(Platform::Open(o));
  // A failed login changes nothing.
  CHECK_FALSE(costlier->Login(w.HostOf(staff), staff.email, "not the password", "::1"));
  CHECK(stored() == old_hash);
  Must(costlier->Login(w.HostOf(staff), staff.email, World::kPassword, "::1"));
  const std::string new_hash = stored();
  CHECK(new_hash != old_hash);
  CHECK(new_hash.find("$m=16,t=2,") != std::string::npos);
  // Same password, same sessions: the old platform still logs the user in, and an earlier
  // session is not ended by a new hash.
  Session s = Must(w.platform->Login(w.HostOf(staff), staff.email, World::kPassword, "::1"));
  CHECK(w.platform->Authenticate(s.id));
  CHECK(Must(costlier->Login(w.HostOf(staff), staff.email, World::kPassword, "::1")).id.valid());
  CHECK(w.platform->Authenticate(s.id));
}

TEST_CASE("sessions: the bearer token, stored as a hash, works only on its own hosts") {
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  Session s = w.LoginAs(owner);
  CHECK(s.token.size() == 43);
  CHECK(s.token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(s.token_hash.size() == 64);
  CHECK(s.token_hash.find(s.token) == std::string::npos);
  Session again = w.LoginAs(owner);
  CHECK(again.token != s.token);
  CHECK(again.token_hash != s.token_hash);
  {
    // Storage has the hash and never the token.
    auto txn = Must(w.storage->BeginShared(TxnMode::kRead));
    Session stored = Must(txn->GetSession(s.id));
    CHECK(stored.token.empty());
    CHECK(stored.token_hash == s.token_hash);
    CHECK(Must(txn->FindSessionByTokenHash(s.token_hash)).id == s.id);
    CHECK(txn->FindSessionByTokenHash("").error().code() == StatusCode::kNotFound);
  }

  Principal p = Must(w.platform->Authenticate(s.token, w.HostOf(owner)));
  CHECK(p.user.id == owner.id);
  REQUIRE(p.session);
  CHECK(p.session->id == s.id);
  auto refused = [&](const Result<Principal>& r, std::string_view message) {
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == StatusCode::kUnauthenticated);
    CHECK(r.error().message() == message);
  };
  // Another tenant's host, and the platform's, refuse it.
  refused(w.platform->Authenticate(s.token, HostMatch{false, w.globex}),
          "the token belongs to another host");
  refused(w.platform->Authenticate(s.token, HostMatch{true, std::nullopt}),
          "the token belongs to another host");
  // A token changed in one character, cut short, or empty leads nowhere, with one message.
  std::string changed = s.token;
  changed[10] = changed[10] == 'A' ? 'B' : 'A';
  refused(w.platform->Authenticate(changed, w.HostOf(owner)), "invalid token");
  refused(w.platform->Authenticate(s.token.substr(0, 42), w.HostOf(owner)), "invalid token");
  refused(w.platform->Authenticate("", w.HostOf(owner)), "invalid token");
  // Revoked at once: by logout, and by the user's deactivation.
  Must(w.platform->Logout(s.id));
  refused(w.platform->Authenticate(s.token, w.HostOf(owner)), "the session has ended");
  CHECK(w.platform->Authenticate(again.token, w.HostOf(owner)));
  Must(w.platform->DeactivateUser(w.root_p, owner.id));
  CHECK(w.platform->Authenticate(again.token, w.HostOf(owner)).error().code() ==
        StatusCode::kUnauthenticated);

  // A platform user's token works on the platform host only.
  const User& support = w.users.at("PLATFORM_SUPPORT");
  Session ps = w.LoginAs(support);
  CHECK(Must(w.platform->Authenticate(ps.token, HostMatch{true, std::nullopt})).user.id == support.id);
  refused(w.platform->Authenticate(ps.token, w.HostOf(w.users.at("CUSTOMER"))),
          "the token belongs to another host");
  // A masquerade session has its own token, on its target's tenant's hosts.
  const User& customer = w.users.at("CUSTOMER");
  Session m = Must(w.platform->StartMasquerade(ps.id, customer.id, "::1"));
  CHECK(m.token.size() == 43);
  Principal as_customer = Must(w.platform->Authenticate(m.token, w.HostOf(customer)));
  CHECK(as_customer.user.id == customer.id);
  REQUIRE(as_customer.original);
  CHECK(as_customer.original->id == support.id);
  refused(w.platform->Authenticate(m.token, HostMatch{true, std::nullopt}),
          "the token belongs to another host");
  Must(w.platform->StopMasquerade(m.id));
  refused(w.platform->Authenticate(m.token, w.HostOf(customer)), "the session has ended");

  // No token, and no hash of one, reaches an audit line.
  for (const auto& log : {w.security, w.masquerade}) {
    for (const std::string& line : log->Lines()) {
      for (const Session& each : {s, again, ps, m}) {
        CHECK(line.find(each.token) == std::string::npos);
        CHECK(line.find(each.token_hash) == std::string::npos);
      }
    }
  }
}

TEST_CASE("CurrentUser: the acting user as stored now, and none once its session has ended") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  Session s = w.LoginAs(staff);
  Principal held = Must(w.platform->Authenticate(s.token, w.HostOf(staff)));
  Must(w.platform->ChangeRole(w.root_p, staff.id, Role::kCustomer));
  CHECK(held.user.role == Role::kTenantStaff);  // the copy made at authentication
  CHECK(Must(w.platform->CurrentUser(held)).role == Role::kCustomer);
  Must(w.platform->Logout(s.id));
  auto ended = w.platform->CurrentUser(held);
  REQUIRE_FALSE(ended);
  CHECK(ended.error().code() == StatusCode::kUnauthenticated);
  CHECK(ended.error().message() == "the session has ended");
}

TEST_CASE("login: failed attempts count across every Platform on the storage, and expire") {
  World w;
  auto other = w.OpenPlatform();
  const User& owner = w.users.at("TENANT_OWNER");
  const HostMatch host = w.HostOf(owner);

  for (int i = 0; i < 3; ++i)
    CHECK_FALSE(w.platform->Login(host, owner.email, "wrong password", "::1"));
  // Upper case is the same account.
  CHECK_FALSE(other->Login(host, "TENANT_OWNER@acme.test", "wrong password", "::1"));
  CHECK_FALSE(other->Login(host, owner.email, "wrong password", "::1"));
  for (Platform* p : {w.platform.get(), other.get()}) {
    auto refused = p->Login(host, owner.email, World::kPassword, "::1");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message() == "invalid email or password");
  }
  // Another account is not throttled by these.
  CHECK(w.LoginAs(w.users.at("TENANT_MANAGER")).user == w.users.at("TENANT_MANAGER").id);

  // An account nobody has is throttled the same way.
  for (int i = 0; i < 5; ++i)
    CHECK_FALSE(other->Login(host, "nobody@acme.test", "guess", "::1"));
  auto shared = Must(w.storage->BeginShared(TxnMode::kRead));
  const std::string nobody = fmt::format("{}/nobody@acme.test", w.acme.id.value());
  CHECK(Must(shared->CountLoginFailures(nobody, Instant::min())) == 5);
  shared.reset();

  // Once the window has passed, the right password works, and a success forgets the
  // failures: four more do not throttle.
  w.clock.Advance(15min + 1s);
  CHECK(other->Login(host, owner.email, World::kPassword, "::1"));
  for (int i = 0; i < 4; ++i)
    CHECK_FALSE(w.platform->Login(host, owner.email, "wrong password", "::1"));
  CHECK(w.platform->Login(host, owner.email, World::kPassword, "::1"));

  // Recording a failure forgets everyone's expired ones: the made-up account's are gone.
  shared = Must(w.storage->BeginShared(TxnMode::kRead));
  CHECK(Must(shared->CountLoginFailures(nobody, Instant::min())) == 0);
}

// Each attempt is counted before its password is checked, in a write transaction that reads
// the count: attempts at once see each other, so no more passwords are tried than allowed.
TEST_CASE("login: attempts at once on one account try no more passwords than allowed") {
  World w;
  const User& owner = w.users.at("TENANT_OWNER");
  const HostMatch host = w.HostOf(owner);
  w.security->Clear();
  constexpr int kAttempts = 12;
  std::atomic<int> refused{0};
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kAttempts; ++i)
      threads.emplace_back([&] {
        if (!w.platform->Login(host, owner.email, "wrong password", "::1")) ++refused;
      });
    for (auto& t : threads) t.join();
  }
  CHECK(refused == kAttempts);
  int wrong = 0, throttled = 0;
  for (const auto& line : w.security->Lines()) {
    auto o = testing::ParseLine(line);
    if (o.at("action").as_string() != "LOGIN_FAILED") continue;
    const std::string reason(o.at("reason").as_string());
    if (reason == "wrong password") ++wrong;
    if (reason == "too many failed attempts") ++throttled;
  }
  CHECK(wrong == 5);  // PlatformOptions::login_max_failures
  CHECK(throttled == kAttempts - 5);
  auto shared = Must(w.storage->BeginShared(TxnMode::kRead));
  const std::string account = fmt::format("{}/{}", w.acme.id.value(), owner.email);
  CHECK(Must(shared->CountLoginFailures(account, Instant::min())) == 5);
  shared.reset();
  CHECK_FALSE(w.platform->Login(host, owner.email, World::kPassword, "::1"));
}

TEST_CASE("storage: login failures are counted from an instant, recorded and cleared") {
  World w;
  const Instant t = w.clock.Now();
  {
    auto txn = Must(w.storage->BeginShared(TxnMode::kWrite));
    Must(txn->RecordLoginFailure("0/a@x.test", t, t - 15min));
    Must(txn->RecordLoginFailure("0/a@x.test", t, t - 15min));  // the same instant twice
    Must(txn->RecordLoginFailure("0/a@x.test", t + 1min, t - 15min));
    Must(txn->RecordLoginFailure("0/b@x.test", t + 1min, t - 15min));
    Must(txn->Commit());
  }
  {
    auto txn = Must(w.storage->BeginShared(TxnMode::kWrite));
    CHECK(Must(txn->CountLoginFailures("0/a@x.test", t)) == 3);
    CHECK(Must(txn->CountLoginFailures("0/a@x.test", t + 1s)) == 1);
    CHECK(Must(txn->CountLoginFailures("0/b@x.test", t)) == 1);
    CHECK(Must(txn->CountLoginFailures("0/c@x.test", t)) == 0);
    Must(txn->ClearLoginFailures("0/a@x.test"));
    Must(txn->RecordLoginFailure("0/c@x.test", t + 2min, t + 1min));  // forgets a's first two
    // Not committed: rolled back when the transaction goes.
  }
  auto txn = Must(w.storage->BeginShared(TxnMode::kWrite));
  CHECK(Must(txn->CountLoginFailures("0/a@x.test", Instant::min())) == 3);
  CHECK(Must(txn->CountLoginFailures("0/c@x.test", Instant::min())) == 0);
  Must(txn->RecordLoginFailure("0/c@x.test", t + 2min, t + 1min));
  CHECK(Must(txn->CountLoginFailures("0/a@x.test", Instant::min())) == 1);
  CHECK(Must(txn->CountLoginFailures("0/b@x.test", Instant::min())) == 1);
  Must(txn->ClearLoginFailures("0/a@x.test"));
  CHECK(Must(txn->CountLoginFailures("0/a@x.test", Instant::min())) == 0);
  CHECK(Must(txn->CountLoginFailures("0/c@x.test", Instant::min())) == 1);
  Must(txn->Commit());
  txn.reset();
  auto read = Must(w.storage->BeginShared(TxnMode::kRead));
  CHECK(read->RecordLoginFailure("0/d@x.test", t, t).code() == StatusCode::kFailedPrecondition);
}

// Platform caches who an actor is (user, tenant, session) against Storage::SharedEpoch.
// A second Platform on the same storage stands for another process: what it changes must
// take effect on the first one's very next check.
TEST_CASE("authorization follows changes made through another Platform at once") {
  World w;
  auto other = w.OpenPlatform();
  Target acme{.tenant = w.acme.id, .owner = {}, .is_temporary = false, .role = {}};
  const User& manager = w.users.at("TENANT_MANAGER");
  Principal owner_there = Must(other->ActAs(w.users.at("TENANT_OWNER").id));

  std::int64_t epoch = Must(w.storage->SharedEpoch());
  Principal manager_here = Must(w.platform->Authenticate(w.LoginAs(manager).id));
  for (int i = 0; i < 3; ++i) Must(w.platform->Check(manager_here, Action::kResourceManage, acme));
  CHECK(Must(w.storage->SharedEpoch()) == epoch);  // checks and logins change nothing

  // A role change: the manager becomes staff, who may not manage resources.
  Must(other->ChangeRole(owner_there, manager.id, Role::kTenantStaff));
  CHECK(Must(w.storage->SharedEpoch()) > epoch);
  CHECK(w.platform->Check(manager_here, Action::kResourceManage, acme).code() ==
        StatusCode::kPermissionDenied);
  Must(w.platform->Check(manager_here, Action::kAppointmentCreate, acme));
  Must(other->ChangeRole(w.root_p, manager.id, Role::kTenantManager));
  Must(w.platform->Check(manager_here, Action::kResourceManage, acme));

  // Logging out ends the session everywhere.
  Session second = w.LoginAs(manager);
  Principal via_second = Must(w.platform->Authenticate(second.id));
  Must(w.platform->Check(via_second, Action::kResourceManage, acme));
  Must(other->Logout(second.id));
  CHECK(w.platform->Check(via_second, Action::kResourceManage, acme).code() ==
        StatusCode::kUnauthenticated);
  Must(w.platform->Check(manager_here, Action::kResourceManage, acme));  // another session

  // Suspending the tenant stops its users.
  Must(other->SuspendTenant(w.root_p, w.acme.id, "chargeback"));
  CHECK_FALSE(w.platform->Check(manager_here, Action::kResourceManage, acme).ok());
  CHECK(w.platform->Check(manager_here, Action::kResourceManage, acme).code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->Evaluate(manager_here, Action::kResourceManage, acme).reason ==
        "the acting user's tenant is suspended");
  Must(other->ReactivateTenant(w.root_p, w.acme.id));
  Must(w.platform->Check(manager_here, Action::kResourceManage, acme));

  // Deactivation stops the user.
  Must(other->DeactivateUser(owner_there, manager.id));
  CHECK(w.platform->Check(manager_here, Action::kResourceManage, acme).code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.platform->Evaluate(manager_here, Action::kResourceManage, acme).reason ==
        "the acting user is inactive");
}

// An enum value cast from an integer out of range has no name: storage would write it as
// "unknown" and could not read the row back. Each is refused up front, naming the field.
TEST_CASE("enum values out of range are invalid_argument naming the field, and change nothing") {
  World w;
  const User& staff = w.users.at("TENANT_STAFF");
  const std::size_t users_before = Must(w.platform->ListUsers(w.root_p, w.acme.id)).size();
  auto refused = [](const auto& result, std::string_view field) {
    CHECK_MESSAGE(!result.ok(), field);
    if (result.ok()) return;
    CHECK(result.error().code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(result.error().message().starts_with(std::string(field) + ": "),
                  result.error().message());
  };
  refused(w.platform->CreateUser(w.root_p, {.email = "odd@acme.test",
                                            .display_name = "Odd",
                                            .role = static_cast<Role>(99),
                                            .tenant = w.acme.id,
                                            .password = World::kPassword}),
          "role");
  refused(w.platform->ChangeRole(w.root_p, staff.id, static_cast<Role>(99)), "role");
  refused(w.platform->CreateTenant(
              w.root_p, {.slug = "odd1", .name = "Odd", .tier = static_cast<SubscriptionTier>(99)}),
          "tier");
  refused(w.platform->CreateTenant(
              w.root_p, {.slug = "odd2", .name = "Odd", .status = static_cast<TenantStatus>(99)}),
          "status");
  refused(
      w.platform->UpdateTenant(w.root_p, w.acme.id,
                               {.name = std::nullopt, .tier = static_cast<SubscriptionTier>(99)}),
      "tier");
  Domain d = Must(w.platform->AddDomain(
      w.root_p,
      {.name = "booking.odd-example.com", .tenant = w.acme.id, .is_custom_domain = true}));
  refused(w.platform->SetDomainVerification(w.root_p, d.id, static_cast<DomainVerification>(99)),
          "verification");
  refused(
      w.platform->CreateGrant(w.As("TENANT_OWNER"), staff.id, static_cast<Action>(999), "a reason"),
      "action");

  // Asked about such an action, the matrix allows nobody, the superuser included.
  CHECK_FALSE(
      w.platform->Authorize(w.root_p, static_cast<Action>(999), {w.acme.id, {}, false, {}}));
  CHECK(ActionName(static_cast<Action>(-1)) == "unknown");

  // Nothing was written: every row still reads back, as it was.
  CHECK(Must(w.platform->ListUsers(w.root_p, w.acme.id)).size() == users_before);
  CHECK(Must(w.platform->GetUser(w.root_p, staff.id)).role == Role::kTenantStaff);
  Tenant acme = Must(w.platform->GetTenant(w.root_p, w.acme.id));
  CHECK(acme.tier == w.acme.tier);
  CHECK(Must(w.platform->ListDomains(w.root_p, w.acme.id)).back().verification ==
        DomainVerification::kPending);
  CHECK(w.platform->ResolveHost("odd1.lvh.me").error().code() == StatusCode::kNotFound);
  CHECK(w.platform->ResolveHost("odd2.lvh.me").error().code() == StatusCode::kNotFound);
  CHECK(Must(w.platform->ListGrants(w.root_p, {})).empty());
}
