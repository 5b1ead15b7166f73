// Several Platforms on one storage stand for several processes: a random sequence of
// access-control changes (logins, logouts, masquerades, deactivations, role changes,
// suspensions, password changes, grants, clock moves, sweeps, tenants made and deleted),
// each through one of them, must leave every one answering for every Session and Principal
// held across the changes exactly as a Platform freshly opened on the same storage does:
// what Authenticate says, what Authorize and Evaluate decide and why, and what a few real
// calls return. SECURITY.md: such changes take effect on the very next call, in every
// process.
//
// Reproduce one case with SMOOTH_PTEST_SEED=<seed> SMOOTH_PTEST_CASE=<case>; it prints the
// operations it ran. SMOOTH_PTEST_OPS=<n> runs n operations a case.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "property_random.hpp"

namespace smooth::testing {
namespace {

using namespace std::chrono_literals;

// How much a run does on each backend: memory runs the most; on SQLite and PostgreSQL every
// call is a transaction, and on PostgreSQL a round trip or more.
struct RunSize {
  int seeds, cases_per_seed, ops_per_case;
};
RunSize SizeFor(const std::string& storage) {
  if (storage == "memory") return {3, 3, 250};
  if (storage == "sqlite") return {2, 3, 150};
  return {2, 2, 100};
}
// The long-lived Platforms: the World's own and two more.
constexpr int kPlatforms = 3;
// Sessions and Principals held at once.
constexpr std::size_t kMaxHeld = 8;

std::string Describe(const Status& s) {
  return s.ok() ? "ok" : fmt::format("{} \"{}\"", StatusCodeName(s.code()), s.message());
}

std::string Describe(const Result<Principal>& p) {
  if (!p) return Describe(p.error());
  return fmt::format(
      "ok user {} {} active={} tenant={} original={} session={}", p->user.id,
      RoleName(p->user.role), p->user.is_active, p->user.tenant ? p->user.tenant->value() : 0,
      p->original ? p->original->id.value() : 0, p->session ? p->session->id.value() : 0);
}

std::string Describe(const Decision& d) {
  return fmt::format("{} \"{}\" grant={}", d.allowed ? "allowed" : "denied", d.reason,
                     d.via_grant ? d.via_grant->value() : 0);
}

std::string Describe(const Result<User>& u) {
  if (!u) return Describe(u.error());
  return fmt::format("ok user {} {} active={}", u->id, RoleName(u->role), u->is_active);
}

std::string Describe(const Result<Tenant>& t) {
  if (!t) return Describe(t.error());
  return fmt::format("ok tenant {} {}", t->id, TenantStatusName(t->status));
}

std::string Describe(const Result<std::vector<User>>& us) {
  if (!us) return Describe(us.error());
  std::string out = "ok users";
  for (const User& u : *us) out += fmt::format(" {}", u.id);
  return out;
}

std::string Describe(const Target& t) {
  return fmt::format("{{tenant {} owner {} temporary {} role {}}}",
                     t.tenant ? t.tenant->value() : 0, t.owner ? t.owner->value() : 0,
                     t.is_temporary, t.role ? RoleName(*t.role) : "-");
}

// A user as the test knows it: enough to log in and to aim at.
struct KnownUser {
  UserId id;
  std::string email;
  std::optional<TenantId> tenant;
  std::string password;
};

struct KnownTenant {
  Tenant tenant;
  bool deleted = false;
};

// What a server or client holds across calls: a session (with its token, used on its
// host) and the Principal it was given.
struct Held {
  std::string label;
  std::optional<Session> session;
  HostMatch host;
  Principal principal;
};

class Case : public PropertyCase {
 public:
  Case(World& w, std::vector<Platform*> platforms, int seed, int index, int ops, bool verbose)
      : PropertyCase(seed, index),
        w_(w),
        platforms_(std::move(platforms)),
        ops_(ops),
        verbose_(verbose),
        rng_(static_cast<std::uint64_t>(seed) * 1000003u + static_cast<std::uint64_t>(index)) {}

  bool Run() {
    Setup();
    for (int i = 0; i < ops_ && !failed_; ++i) {
      op_ = i;
      Step();
      CheckAgainstFresh();
    }
    if (verbose_ || failed_) MESSAGE(Where() << " ran:\n" << Log());
    return !failed_;
  }

  int checks() const { return checks_; }
  int ops_ok() const { return ops_ok_; }
  int refusals() const { return refusals_; }
  int denials() const { return denials_; }
  int grant_allowances() const { return grant_allowances_; }

 private:
  // Records the outcome of operation `what`.
  void Outcome(const std::string& what, const Status& s) {
    (s.ok() ? ops_ok_ : refusals_)++;
    Note(fmt::format("{} -> {}", what, Describe(s)));
  }
  template <typename T>
  Status StatusOf(const Result<T>& r) {
    return r ? Status() : r.error();
  }

  // --- The world -----------------------------------------------------------------------

  void Setup() {
    users_.clear();
    for (const auto& [name, u] : w_.users)
      users_.push_back({u.id, u.email, u.tenant, World::kPassword});
    // Earlier cases on this World may have changed passwords: set them back, and bring
    // the fixture's tenants back into use.
    for (KnownUser& u : users_)
      (void)w_.platform->ResetPasswordAsOperator(u.tenant, u.email, u.password);
    tenants_.clear();
    for (const Tenant& t : {w_.acme, w_.globex, w_.demo}) {
      (void)w_.platform->ReactivateTenant(w_.root_p, t.id);
      tenants_.push_back({Must(w_.platform->GetTenant(w_.root_p, t.id)), false});
    }
    // A few demo accounts, which PLATFORM_SALES may masquerade as.
    for (int i = 0; i < 2; ++i) NewUser(Role::kCustomer, w_.demo.id, true);
    Note(fmt::format("setup: {} users, {} tenants", users_.size(), tenants_.size()));
  }

  std::optional<KnownUser> NewUser(Role role, std::optional<TenantId> tenant, bool temporary,
                                   const Principal* by = nullptr, Platform* via = nullptr) {
    const std::string email = fmt::format("u{}@s{}c{}.test", ++made_, seed_, index_);
    auto u = (via ? via : w_.platform.get())
                 ->CreateUser(by ? *by : w_.root_p, {.email = email,
                                                     .display_name = "Someone",
                                                     .role = role,
                                                     .tenant = tenant,
                                                     .password = World::kPassword,
                                                     .is_temporary = temporary});
    Note(fmt::format("CreateUser {} {} tenant {} temporary={} -> {}", email, RoleName(role),
                     tenant ? tenant->value() : 0, temporary, Describe(u)));
    if (!u) return std::nullopt;
    KnownUser k{u->id, u->email, u->tenant, World::kPassword};
    users_.push_back(k);
    return k;
  }

  int PickPlatform() { return rng_.Int(0, static_cast<int>(platforms_.size()) - 1); }
  KnownUser& PickUser() {
    return users_[static_cast<std::size_t>(rng_.Int(0, static_cast<int>(users_.size()) - 1))];
  }
  KnownTenant& PickTenant() {
    return tenants_[static_cast<std::size_t>(rng_.Int(0, static_cast<int>(tenants_.size()) - 1))];
  }
  KnownUser* FindUser(UserId id) {
    for (KnownUser& u : users_)
      if (u.id == id) return &u;
    return nullptr;
  }
  bool IsDemo(std::optional<TenantId> id) {
    for (const KnownTenant& t : tenants_)
      if (id && t.tenant.id == *id) return t.tenant.is_demo;
    return false;
  }
  static std::string HostName(const std::optional<Tenant>& t) {
    if (!t) return "platform.lvh.me";
    std::string label = t->slug;
    std::replace(label.begin(), label.end(), '_', '-');
    return label + ".lvh.me";
  }
  HostMatch HostOf(const KnownUser& u) {
    if (!u.tenant) return HostMatch{true, std::nullopt};
    for (const KnownTenant& t : tenants_)
      if (t.tenant.id == *u.tenant) return HostMatch{false, t.tenant};
    return HostMatch{true, std::nullopt};
  }

  // An actor for an operation: a held Principal, a fresh ActAs, or root.
  std::optional<std::pair<std::string, Principal>> PickActor(Platform& p) {
    const int how = rng_.Int(0, 9);
    if (how < 5 && !held_.empty()) {
      const Held& h =
          held_[static_cast<std::size_t>(rng_.Int(0, static_cast<int>(held_.size()) - 1))];
      return std::pair{h.label, h.principal};
    }
    if (how < 8) {
      const KnownUser& u = PickUser();
      auto a = p.ActAs(u.id);
      if (!a) {
        Note(fmt::format("ActAs {} -> {}", u.email, Describe(a.error())));
        return std::nullopt;
      }
      return std::pair{u.email, *a};
    }
    auto root = p.ActAs(w_.root.id);
    if (!root) {
      Fail("ActAs(root) failed: " + Describe(root.error()));
      return std::nullopt;
    }
    return std::pair{std::string("root"), *root};
  }

  void Hold(Held h) {
    if (held_.size() >= kMaxHeld)
      held_.erase(held_.begin() + rng_.Int(0, static_cast<int>(held_.size()) - 1));
    Note("  holds " + h.label);
    held_.push_back(std::move(h));
  }

  Held* PickHeldSession(bool masquerade) {
    std::vector<Held*> c;
    for (Held& h : held_)
      if (h.session && h.session->original.has_value() == masquerade) c.push_back(&h);
    if (c.empty()) return nullptr;
    return rng_.Pick(c);
  }

  // --- Operations ----------------------------------------------------------------------

  void Step() {
    const int k = PickPlatform();
    Platform& p = *platforms_[static_cast<std::size_t>(k)];
    const std::string via = fmt::format("[P{}] ", k);
    const int what = rng_.Int(0, 99);
    if (what < 14) {
      Login(p, via);
    } else if (what < 19) {
      if (Held* h = PickHeldSession(rng_.Chance(0.3)))
        Outcome(via + "Logout " + h->label, p.Logout(h->session->id));
    } else if (what < 27) {
      StartMasquerade(p, via);
    } else if (what < 31) {
      if (Held* h = PickHeldSession(true)) {
        auto r = p.StopMasquerade(h->session->id);
        Outcome(via + "StopMasquerade " + h->label, StatusOf(r));
      }
    } else if (what < 41) {
      auto actor = PickActor(p);
      if (!actor) return;
      KnownUser& u = PickUser();
      const bool deactivate = rng_.Chance(0.55);
      auto r = deactivate ? p.DeactivateUser(actor->second, u.id)
                          : p.ReactivateUser(actor->second, u.id);
      Outcome(fmt::format("{}{} by {} of {}", via, deactivate ? "DeactivateUser" : "ReactivateUser",
                          actor->first, u.email),
              StatusOf(r));
    } else if (what < 47) {
      auto actor = PickActor(p);
      if (!actor) return;
      KnownUser& u = PickUser();
      Role role = rng_.Pick(kAllRoles);
      auto r = p.ChangeRole(actor->second, u.id, role);
      Outcome(
          fmt::format("{}ChangeRole by {} of {} to {}", via, actor->first, u.email, RoleName(role)),
          StatusOf(r));
    } else if (what < 53) {
      auto actor = rng_.Chance(0.7) ? std::optional(std::pair{std::string("root"), w_.root_p})
                                    : PickActor(p);
      if (!actor) return;
      KnownTenant& t = PickTenant();
      const bool suspend = rng_.Chance(0.5);
      auto r = suspend ? p.SuspendTenant(actor->second, t.tenant.id, "test")
                       : p.ReactivateTenant(actor->second, t.tenant.id);
      Outcome(fmt::format("{}{} by {} of {}", via, suspend ? "SuspendTenant" : "ReactivateTenant",
                          actor->first, t.tenant.slug),
              StatusOf(r));
    } else if (what < 57) {
      auto actor = PickActor(p);
      if (!actor) return;
      const bool own = rng_.Chance(0.5);
      UserId id = own ? actor->second.user.id : PickUser().id;
      Outcome(fmt::format("{}EndSessions by {} of user {}", via, actor->first, id),
              p.EndSessions(actor->second, id));
    } else if (what < 62) {
      ChangePassword(p, via);
    } else if (what < 66) {
      auto actor = PickActor(p);
      if (!actor) return;
      KnownUser& u = PickUser();
      const std::string password = fmt::format("password {}", ++made_);
      Status s = p.SetPassword(actor->second, u.id, password);
      if (s.ok()) u.password = password;
      Outcome(fmt::format("{}SetPassword by {} of {}", via, actor->first, u.email), s);
    } else if (what < 76) {
      CreateGrant(p, via);
    } else if (what < 81) {
      RevokeGrant(p, via);
    } else if (what < 88) {
      MoveClock();
    } else if (what < 91) {
      auto r = p.ClearDeadSessions();
      Outcome(fmt::format("{}ClearDeadSessions ({})", via, r ? *r : -1), StatusOf(r));
    } else if (what < 94) {
      CreateTenant(p, via);
    } else if (what < 96) {
      DeleteTenant(p, via);
    } else {
      auto actor = PickActor(p);
      if (!actor) return;
      KnownTenant& t = PickTenant();
      Role role = rng_.Pick(kAllRoles);
      std::optional<TenantId> tenant;
      if (!IsPlatformRole(role)) tenant = t.tenant.id;
      Note(via + "by " + actor->first + ":");
      (void)NewUser(role, tenant, t.tenant.is_demo && rng_.Chance(0.5), &actor->second, &p);
    }
  }

  void Login(Platform& p, const std::string& via) {
    const KnownUser& u = PickUser();
    const HostMatch host = HostOf(u);
    auto s = p.Login(host, u.email, u.password, "203.0.113.7");
    Outcome(via + "Login " + u.email, StatusOf(s));
    if (!s) return;
    auto principal = p.Authenticate(s->token, host);
    if (!principal) {
      Fail("a session just made does not authenticate: " + Describe(principal.error()));
      return;
    }
    Hold({fmt::format("session {} of {}", s->id, u.email), *s, host, *principal});
    // Now and then a Principal without a session, as an embedder holds one.
    if (rng_.Chance(0.2)) {
      auto a = p.ActAs(u.id);
      if (a) Hold({"ActAs " + u.email, std::nullopt, host, *a});
    }
  }

  void StartMasquerade(Platform& p, const std::string& via) {
    Held* h = PickHeldSession(false);
    if (h == nullptr) return;
    // Mostly users a masquerade may reach: tenant users, demo accounts.
    const KnownUser& target = PickUser();
    auto m = p.StartMasquerade(h->session->id, target.id, "198.51.100.1");
    Outcome(fmt::format("{}StartMasquerade from {} as {}", via, h->label, target.email),
            StatusOf(m));
    if (!m) return;
    const HostMatch host = HostOf(target);
    auto principal = p.Authenticate(m->token, host);
    if (!principal) {
      Fail("a masquerade just started does not authenticate: " + Describe(principal.error()));
      return;
    }
    Hold({fmt::format("masquerade {} as {} from {}", m->id, target.email, h->label), *m, host,
          *principal});
  }

  void ChangePassword(Platform& p, const std::string& via) {
    auto actor = PickActor(p);
    if (!actor) return;
    KnownUser* u = FindUser(actor->second.user.id);
    if (u == nullptr) return;
    const bool right = rng_.Chance(0.85);
    const std::string password = fmt::format("password {}", ++made_);
    Status s = p.ChangePassword(actor->second, right ? u->password : "not the password", password);
    if (s.ok()) u->password = password;
    Outcome(fmt::format("{}ChangePassword by {} ({} current)", via, actor->first,
                        right ? "right" : "wrong"),
            s);
  }

  void CreateGrant(Platform& p, const std::string& via) {
    auto actor =
        rng_.Chance(0.5) ? std::optional(std::pair{std::string("root"), w_.root_p}) : PickActor(p);
    if (!actor) return;
    // Mostly to someone held, so that the oracle asks about what the grant gives.
    const KnownUser* grantee = &PickUser();
    if (!held_.empty() && rng_.Chance(0.7)) {
      const KnownUser* u = FindUser(rng_.Pick(held_).principal.user.id);
      if (u != nullptr) grantee = u;
    }
    const Action action = rng_.Pick(AllActions());
    const std::chrono::minutes duration(rng_.Chance(0.7) ? 30 : rng_.Int(1, 120));
    auto g = p.CreateGrant(actor->second, grantee->id, action, "property test", duration);
    Outcome(fmt::format("{}CreateGrant by {} to {} of {} for {} min", via, actor->first,
                        grantee->email, ActionName(action), duration.count()),
            StatusOf(g));
    if (g) grants_.push_back(*g);
  }

  void RevokeGrant(Platform& p, const std::string& via) {
    auto actor =
        rng_.Chance(0.6) ? std::optional(std::pair{std::string("root"), w_.root_p}) : PickActor(p);
    if (!actor) return;
    if (rng_.Chance(0.2)) {
      const KnownUser& grantee = PickUser();
      auto r = p.RevokeGrants(actor->second, GrantFilter{.grantee = grantee.id}, "property test");
      Outcome(fmt::format("{}RevokeGrants by {} of grantee {} ({})", via, actor->first,
                          grantee.email, r ? *r : -1),
              StatusOf(r));
      return;
    }
    if (grants_.empty()) return;
    const GrantId id = rng_.Pick(grants_).id;
    auto r = p.RevokeGrant(actor->second, id, "property test");
    Outcome(fmt::format("{}RevokeGrant by {} of grant {}", via, actor->first, id), StatusOf(r));
  }

  void MoveClock() {
    Duration d;
    switch (rng_.Int(0, 3)) {
      case 0:
        d = std::chrono::seconds(rng_.Int(1, 600));
        break;
      case 1:
        d = 30min + rng_.OddSeconds();
        break;  // past a default grant's expiry
      case 2:
        d = std::chrono::hours(rng_.Int(1, 8)) + rng_.OddSeconds();
        break;
      default:
        d = std::chrono::days(rng_.Int(3, 14)) + rng_.OddSeconds();
        break;  // sessions
    }
    w_.clock.Advance(d);
    Note(fmt::format("clock +{}s to {}",
                     std::chrono::duration_cast<std::chrono::seconds>(d).count(),
                     FormatRfc3339(w_.clock.Now())));
  }

  void CreateTenant(Platform& p, const std::string& via) {
    const bool demo = rng_.Chance(0.3);
    const std::string slug = fmt::format("s{}c{}_t{}", seed_, index_, ++made_);
    auto t = p.CreateTenant(w_.root_p, {.slug = slug, .name = "Made", .is_demo = demo});
    Outcome(fmt::format("{}CreateTenant {} demo={}", via, slug, demo), StatusOf(t));
    if (!t) return;
    tenants_.push_back({*t, false});
    for (Role r : {Role::kTenantOwner, Role::kTenantStaff, Role::kCustomer})
      (void)NewUser(r, t->id, demo && r == Role::kCustomer);
  }

  void DeleteTenant(Platform& p, const std::string& via) {
    std::vector<KnownTenant*> made;
    for (std::size_t i = 3; i < tenants_.size(); ++i)
      if (!tenants_[i].deleted) made.push_back(&tenants_[i]);
    if (made.empty()) return;
    KnownTenant& t = *rng_.Pick(made);
    if (rng_.Chance(0.8)) (void)p.SuspendTenant(w_.root_p, t.tenant.id, "to delete it");
    Status s = p.DeleteTenant(w_.root_p, t.tenant.id);
    if (s.ok()) t.deleted = true;
    Outcome(via + "DeleteTenant " + t.tenant.slug, s);
  }

  // --- The oracle ----------------------------------------------------------------------

  // A target for a decision: a tenant (or the platform), sometimes an owner and a role.
  Target PickTarget() {
    Target t;
    if (rng_.Chance(0.8)) t.tenant = PickTenant().tenant.id;
    if (rng_.Chance(0.4)) {
      const KnownUser& u = PickUser();
      t.owner = u.id;
      t.tenant = u.tenant;
    }
    t.is_temporary = IsDemo(t.tenant);
    if (rng_.Chance(0.4)) t.role = rng_.Pick(kAllRoles);
    return t;
  }

  // Every long-lived Platform must say of `h` what `fresh` says.
  void CheckHeld(const Held& h, Platform& fresh) {
    struct Question {
      std::string what;
      std::function<std::string(Platform&)> ask;
    };
    std::vector<Question> qs;
    if (h.session) {
      const Session s = *h.session;
      const HostMatch host = h.host;
      qs.push_back({"Authenticate(token)",
                    [s, host](Platform& p) { return Describe(p.Authenticate(s.token, host)); }});
      qs.push_back(
          {"Authenticate(id)", [s](Platform& p) { return Describe(p.Authenticate(s.id)); }});
    }
    const Principal& a = h.principal;
    for (int i = 0; i < 5; ++i) {
      const Action action = rng_.Pick(AllActions());
      const Target target = PickTarget();
      const bool audited = rng_.Chance(0.5);
      qs.push_back({fmt::format("{} {} {}", audited ? "Authorize" : "Evaluate", ActionName(action),
                                Describe(target)),
                    [&a, action, target, audited](Platform& p) {
                      return Describe(audited ? p.Authorize(a, action, target)
                                              : p.Evaluate(a, action, target));
                    }});
    }
    // What the grants made to this user give, on a target of its own tenant.
    for (const Grant& g : grants_) {
      if (g.grantee != a.user.id || !rng_.Chance(0.5)) continue;
      Target target{.tenant = g.tenant, .is_temporary = IsDemo(g.tenant)};
      if (rng_.Chance(0.5)) target.owner = a.user.id;
      const Action action = g.action;
      qs.push_back(
          {fmt::format("Evaluate {} {} (granted)", ActionName(action), Describe(target)),
           [&a, action, target](Platform& p) { return Describe(p.Evaluate(a, action, target)); }});
    }
    const UserId user = PickUser().id;
    qs.push_back({fmt::format("GetUser {}", user),
                  [&a, user](Platform& p) { return Describe(p.GetUser(a, user)); }});
    const KnownTenant& t = PickTenant();
    const TenantId tenant = t.tenant.id;
    qs.push_back({fmt::format("UpdateTenant {} (no change)", tenant),
                  [&a, tenant](Platform& p) { return Describe(p.UpdateTenant(a, tenant, {})); }});
    std::optional<TenantId> list_of;
    if (rng_.Chance(0.8)) list_of = PickTenant().tenant.id;
    qs.push_back({fmt::format("ListUsers {}", list_of ? list_of->value() : 0),
                  [&a, list_of](Platform& p) { return Describe(p.ListUsers(a, list_of)); }});
    // Ask in a random order of platforms, the fresh one among them (the last index), so no
    // Platform's cache is always warmed by the same predecessor.
    std::vector<std::size_t> order(platforms_.size() + 1);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::vector<std::string> answers(order.size());
    for (const Question& q : qs) {
      rng_.Shuffle(order);
      for (std::size_t k : order)
        answers[k] = q.ask(k < platforms_.size() ? *platforms_[k] : fresh);
      const std::string& expected = answers.back();
      for (std::size_t k = 0; k < platforms_.size(); ++k) {
        const std::string& actual = answers[k];
        ++checks_;
        if (q.what.starts_with("Authorize") || q.what.starts_with("Evaluate")) {
          if (!expected.starts_with("allowed")) ++denials_;
          if (expected.find(" grant=0") == std::string::npos) ++grant_allowances_;
        }
        if (actual != expected) {
          Fail(
              fmt::format("Platform P{} differs from a fresh one for {}: {}\n  P{}:    {}\n  "
                          "fresh: {}",
                          k, h.label, q.what, k, actual, expected));
          return;
        }
      }
    }
  }

  void CheckAgainstFresh() {
    std::unique_ptr<Platform> fresh = w_.OpenPlatform();
    for (const Held& h : held_) {
      CheckHeld(h, *fresh);
      if (failed_) return;
    }
  }

  World& w_;
  std::vector<Platform*> platforms_;
  const int ops_;
  const bool verbose_;
  Rng rng_;
  int made_ = 0;
  int checks_ = 0;
  int ops_ok_ = 0;
  int refusals_ = 0;
  int denials_ = 0;
  int grant_allowances_ = 0;

  std::vector<KnownUser> users_;
  std::vector<KnownTenant> tenants_;
  std::vector<Grant> grants_;
  std::vector<Held> held_;
};

TEST_CASE("Platforms sharing one storage answer for held sessions as a fresh one does") {
  const PropertyRun run;
  const RunSize size = SizeFor(TestStorageKind());
  const int seeds = size.seeds;
  const int cases = size.cases_per_seed;
  const int ops = EnvInt("SMOOTH_PTEST_OPS").value_or(size.ops_per_case);
  int ran = 0, passed = 0, checks = 0, ok = 0, refused = 0, denials = 0, grant_uses = 0;
  run.ForEachSeed(seeds, [&](int seed) {
    World w;
    std::vector<std::unique_ptr<Platform>> others;
    std::vector<Platform*> platforms{w.platform.get()};
    for (int k = 1; k < kPlatforms; ++k) {
      others.push_back(w.OpenPlatform());
      platforms.push_back(others.back().get());
    }
    run.ForEachCase(cases, [&](int index, bool verbose) {
      Case c(w, platforms, seed, index, ops, verbose);
      ++ran;
      if (c.Run()) ++passed;
      checks += c.checks();
      ok += c.ops_ok();
      refused += c.refusals();
      denials += c.denials();
      grant_uses += c.grant_allowances();
    });
  });
  MESSAGE(
      fmt::format("{} cases of {} operations: {} done, {} refused; {} comparisons with a "
                  "fresh Platform ({} decisions denied, {} allowed by a grant)",
                  ran, ops, ok, refused, checks, denials, grant_uses));
  CHECK(passed == ran);
  CHECK(ran == run.Expected(seeds, cases));
  if (run.narrowed()) return;
  // The sequences must have exercised both sides.
  CHECK(ok > ran * ops / 5);
  CHECK(refused > ran * ops / 10);
  CHECK(denials > 0);
  CHECK(grant_uses > 0);
}

}  // namespace
}  // namespace smooth::testing
