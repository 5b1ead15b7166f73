// Platform: tenants, domains, users, sessions, authorization, masquerading and grants,
// on top of the storage seam, with every security-relevant event audited.
#include "smooth/platform.hpp"

#include <sodium.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>

#include "access/epoch_hint.hpp"
#include "access/password.hpp"
#include "access/rules.hpp"
#include "access/validate.hpp"
#include "core/enum_names.hpp"
#include "core/utf8.hpp"

namespace smooth {

using internal::ActorFacts;

namespace internal {
EpochHint::State& EpochHint::Here() {
  thread_local State state;
  return state;
}
EpochHint::EpochHint(std::optional<std::int64_t> epoch) : previous_(Here()) {
  if (epoch) Here() = State{.epoch = epoch, .waiting = false};
}
EpochHint::EpochHint() : previous_(Here()) {
  if (!Here().epoch) Here().waiting = true;
}
EpochHint::~EpochHint() { Here() = previous_; }
std::optional<std::int64_t> EpochHint::Current() { return Here().epoch; }
void EpochHint::Keep(std::int64_t epoch) {
  State& here = Here();
  if (here.waiting && !here.epoch) here.epoch = epoch;
}
}  // namespace internal

namespace {

std::string RandomKey() {
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  char hex[sizeof bytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return hex;
}

// A session's bearer token: 256 random bits in base64url without padding.
constexpr std::size_t kTokenBytes = 32;
constexpr auto kTokenVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
constexpr std::size_t kTokenLength = sodium_base64_ENCODED_LEN(kTokenBytes, kTokenVariant) - 1;

std::string NewToken() {
  unsigned char bytes[kTokenBytes];
  randombytes_buf(bytes, sizeof bytes);
  char text[kTokenLength + 1];
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes, kTokenVariant);
  return text;
}

// What storage keeps of a token. A token has 256 random bits, so a plain SHA-256 is enough:
// there is nothing to guess, and a leaked table gives no usable token.
std::string TokenHash(std::string_view token) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[sizeof digest * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

Status ValidateRoleTenant(Role role, const std::optional<TenantId>& tenant) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(role, &RoleName, "role"));
  if (!IsPlatformRole(role) && !tenant)
    return InvalidArgument(
        fmt::format("Users with role {} must be assigned to a tenant", RoleName(role)));
  if (IsPlatformRole(role) && tenant)
    return InvalidArgument(
        fmt::format("Users with role {} must not be assigned to a tenant", RoleName(role)));
  return {};
}

// A user as the object of an action. Demo data (Scope::kDemoOnly) is what lives in a demo
// tenant: temporary users exist only there, and a tenant's demo flag never changes.
Target TargetForUser(const User& u, bool in_demo_tenant, std::optional<Role> role = std::nullopt) {
  return Target{.tenant = u.tenant, .owner = u.id, .is_temporary = in_demo_tenant, .role = role};
}

// The platform itself, as a target: what only platform roles hold an action over.
const Target kPlatformItself{.tenant = std::nullopt, .owner = std::nullopt, .is_temporary = false,
                             .role = {}};

Target TargetForTenant(const Tenant& t) {
  return Target{.tenant = t.id, .owner = std::nullopt, .is_temporary = t.is_demo, .role = {}};
}

AuditValue OptionalText(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return *s;
}

}  // namespace

struct Platform::Impl {
  PlatformOptions opt;

  // Actors as last read (session, user, original user), valid while the storage's shared
  // epoch is actors_epoch; guarded by actors_mu. Cleared when it grows past the bound.
  struct FreshActor;
  using ActorKey = std::tuple<std::int64_t, std::int64_t, std::int64_t>;
  struct ActorKeyHash {
    std::size_t operator()(const ActorKey& k) const noexcept {
      auto [a, b, c] = k;
      return std::hash<std::int64_t>()(a) * 31 + std::hash<std::int64_t>()(b) * 17 +
             std::hash<std::int64_t>()(c);
    }
  };
  static constexpr std::size_t kMaxCachedActors = 10000;
  std::mutex epoch_mu;  // guards the epoch_* below (Epoch)
  std::condition_variable epoch_cv;
  std::uint64_t epoch_next = 1;  // the number the next read of the epoch gets
  std::uint64_t epoch_done = 0;  // the last read that ended, and what it found
  Result<std::int64_t> epoch_result = std::int64_t{0};
  bool epoch_reading = false;
  std::mutex actors_mu;
  std::int64_t actors_epoch = -1;
  std::unordered_map<ActorKey, std::shared_ptr<const FreshActor>, ActorKeyHash> actors;

  Instant Now() const { return opt.clock->Now(); }

  // -------------------------------------------------------------------------------------
  // Audit

  static void Append(AuditSink* sink, const AuditRecord& record) {
    // A failing audit sink must not undo or block the audited operation; the sink reports
    // its own failure and there is nowhere better to send it.
    if (sink != nullptr) (void)sink->Append(record);
  }
  void Write(AuditSink* sink, std::string action,
             std::vector<std::pair<std::string, AuditValue>> fields) const {
    if (sink == nullptr) return;
    Append(sink, AuditRecord{Now(), std::move(action), std::move(fields)});
  }
  // To security.log, or into `held` when the caller holds the records back (Platform::Check).
  void Security(std::string action, std::vector<std::pair<std::string, AuditValue>> fields,
                std::vector<AuditRecord>* held = nullptr) const {
    if (held != nullptr)
      held->push_back(AuditRecord{Now(), std::move(action), std::move(fields)});
    else
      Write(opt.security_log.get(), std::move(action), std::move(fields));
  }
  // To security.log, for what `actor`'s call did or was refused: under a masquerade the line
  // also names the user behind it (`hijacker_email`), whatever the action.
  void Security(const FreshActor& actor, std::string action,
                std::vector<std::pair<std::string, AuditValue>> fields,
                std::vector<AuditRecord>* held = nullptr) const {
    if (actor.original) fields.emplace_back("hijacker_email", actor.original->email);
    Security(std::move(action), std::move(fields), held);
  }
  void MasqueradeLog(std::string action, const std::string& hijacker, const std::string& hijacked,
                     std::string_view ip, const std::string& session_key,
                     const std::optional<std::string>& tenant,
                     const std::optional<std::string>& reason) const {
    Write(opt.masquerade_log.get(), std::move(action),
          {{"hijacker_email", hijacker},
           {"hijacked_email", hijacked},
           {"ip_address", std::string(ip)},
           {"session_key", session_key},
           {"tenant", OptionalText(tenant)},
           {"reason", OptionalText(reason)}});
  }

  // -------------------------------------------------------------------------------------
  // Reads

  Result<std::unique_ptr<SharedTransaction>> Read() { return opt.storage->BeginShared(TxnMode::kRead); }
  Result<std::unique_ptr<SharedTransaction>> Write() {
    return opt.storage->BeginShared(TxnMode::kWrite);
  }

  std::optional<std::string> TenantSlug(SharedTransaction& txn, std::optional<TenantId> id) {
    if (!id) return std::nullopt;
    auto t = txn.GetTenant(*id);
    return t ? std::optional<std::string>(t->slug) : std::nullopt;
  }

  // The actor as stored now: a Principal may be stale (deactivated, suspended, session
  // ended), so every operation re-reads it.
  struct FreshActor {
    User user;
    std::optional<User> original;
    std::optional<Tenant> tenant;
    // When the session behind the actor expires (session_lifetime after its login), if it
    // has one. Time, not storage, ends it: checked on every use, cached or not.
    std::optional<Instant> expires_at;
    bool Expired(Instant now) const { return expires_at && now >= *expires_at; }
    ActorFacts facts() const {
      return ActorFacts{user, tenant ? std::optional(tenant->status) : std::nullopt};
    }
  };

  // When login session `s` expires.
  Instant ExpiresAt(const Session& s) const { return s.created_at + opt.session_lifetime; }
  // Whether revoking the sessions of `person` (a password change, say) ended login session
  // `s`: every one made until then is (in that very microsecond too: Login dates a session
  // made then just after it).
  static bool Revoked(const Session& s, const User& person) {
    return s.user == person.id && person.sessions_revoked_at &&
           s.created_at <= *person.sessions_revoked_at;
  }

  Result<FreshActor> Refresh(SharedTransaction& txn, const Principal& p) {
    // The session the person behind the actor logged in with: the original of a masquerade.
    std::optional<Session> login;
    if (p.session) {
      auto s = txn.GetSession(p.session->id);
      if (!s || s->IsEnded()) return Unauthenticated("the session has ended");
      // The stored session says who acts and, for a masquerade, who is behind it, as
      // Authenticate put them in the Principal: one that says otherwise (built or kept by
      // hand, `original` lost on the way) is not taken at its word.
      if (s->user != p.user.id) return Unauthenticated("the session is another user's");
      login = *s;
      if (s->original) {
        auto o = txn.GetSession(*s->original);
        if (!o || o->IsEnded()) return Unauthenticated("the original session has ended");
        if (!p.original || p.original->id != o->user)
          return Unauthenticated("the principal does not name the masquerade's original user");
        login = *o;
      } else if (p.original) {
        return Unauthenticated("the session is not a masquerade");
      }
    }
    auto user = txn.GetUser(p.user.id);
    if (!user) return Unauthenticated("unknown user");
    FreshActor a{*user, std::nullopt, std::nullopt};
    if (p.original) {
      auto o = txn.GetUser(p.original->id);
      if (!o || !o->is_active) return Unauthenticated("the original user is inactive");
      a.original = *o;
    }
    if (login) a.expires_at = ExpiresAt(*login);
    if (a.Expired(Now())) return Unauthenticated("the session has expired");
    const User& person = a.original ? *a.original : a.user;
    if (login && Revoked(*login, person)) return Unauthenticated("the session has been revoked");
    if (user->tenant) {
      auto t = txn.GetTenant(*user->tenant);
      if (!t) return Unauthenticated("the user's tenant no longer exists");
      a.tenant = *t;
    }
    // A masquerade lasts only while the table and its rules would still start it: a
    // demoted original, or a target promoted, deactivated or suspended, ends its use.
    if (a.original) {
      if (auto refusal = internal::MasqueradeRefusal(*a.original, a.user,
                                                     a.tenant ? &*a.tenant : nullptr))
        return Unauthenticated(fmt::format("the masquerade is no longer allowed: {}", *refusal));
    }
    return a;
  }

  // The actor as stored now, from the cache while Storage::SharedEpoch says that no user,
  // tenant or session has changed since it was read (in any process), else from storage.
  // Storage::SharedEpoch as of now: from a read that began after this call did. Callers
  // that arrive together share one read (the first starts it; those that come while it is
  // under way wait for it to end and share the next), so a burst of checks costs a read or
  // two, not one each, and none gets a value older than its own arrival.
  Result<std::int64_t> Epoch() {
    std::unique_lock lock(epoch_mu);
    const std::uint64_t need = epoch_next;  // the first read to begin from now on
    for (;;) {
      if (epoch_done >= need) return epoch_result;
      if (!epoch_reading) break;
      epoch_cv.wait(lock);
    }
    const std::uint64_t mine = epoch_next++;
    epoch_reading = true;
    lock.unlock();
    Result<std::int64_t> read = opt.storage->SharedEpoch();
    lock.lock();
    epoch_reading = false;
    epoch_done = mine;
    epoch_result = read;
    epoch_cv.notify_all();
    return read;
  }

  Result<std::shared_ptr<const FreshActor>> Current(const Principal& p) {
    std::optional<std::int64_t> hint = internal::EpochHint::Current();
    Result<std::int64_t> epoch = hint ? Result<std::int64_t>(*hint) : Epoch();
    if (!epoch) return epoch.error();
    if (!hint) internal::EpochHint::Keep(*epoch);
    ActorKey key{p.session ? p.session->id.value() : 0, p.user.id.value(),
                 p.original ? p.original->id.value() : 0};
    {
      std::lock_guard lock(actors_mu);
      if (actors_epoch != *epoch) {
        actors.clear();
        actors_epoch = *epoch;
      }
      auto it = actors.find(key);
      if (it != actors.end()) {
        if (it->second->Expired(Now())) return Unauthenticated("the session has expired");
        return it->second;
      }
    }
    // Read after the epoch: rows at least as new as it, so the entry is never older than
    // its epoch says.
    auto txn = Read();
    if (!txn) return txn.error();
    auto fresh = Refresh(**txn, p);
    if (!fresh) return fresh.error();
    auto actor = std::make_shared<const FreshActor>(std::move(*fresh));
    std::lock_guard lock(actors_mu);
    if (actors_epoch == *epoch) {
      if (actors.size() >= kMaxCachedActors) actors.clear();
      actors.emplace(key, actor);
    }
    return actor;
  }

  Result<FreshActor> Refresh(const Principal& p) {
    auto actor = Current(p);
    if (!actor) return actor.error();
    return **actor;
  }

  // Evaluates without auditing; loads the actor's active grants only when the matrix says no.
  Decision Decide(const FreshActor& actor, Action action, const Target& target) {
    Decision d = internal::Evaluate(actor.facts(), action, target, {});
    if (d.allowed || !actor.user.is_active) return d;
    auto txn = Read();
    if (!txn) return d;
    GrantFilter f{.grantee = actor.user.id, .action = action, .grantor = {}, .tenant = {},
                  .only_active = true};
    auto grants = (*txn)->ListGrants(f, Now());
    if (!grants || grants->empty()) return d;
    return internal::Evaluate(actor.facts(), action, target, *grants);
  }

  // Refuses what no masquerade may do (delete a tenant, end sessions, set or change a
  // password), written to security.log as any denial is, with who is behind the masquerade.
  Status MasqueradeRefused(const FreshActor& actor, std::string_view permission,
                           std::optional<TenantId> tenant, std::string reason) {
    Security(actor, "PERMISSION_DENIED",
             {{"user_email", actor.user.email},
              {"role", std::string(RoleName(actor.user.role))},
              {"permission", std::string(permission)},
              {"target_tenant", tenant ? AuditValue(tenant->value()) : AuditValue(nullptr)},
              {"reason", reason}});
    return PermissionDenied(std::move(reason));
  }

  // Decide and audit: denials and grant-made allowances go to security.log.
  Decision DecideAudited(const FreshActor& actor, Action action, const Target& target,
                         std::vector<AuditRecord>* held = nullptr) {
    Decision d = Decide(actor, action, target);
    if (!d.allowed) {
      Security(actor, "PERMISSION_DENIED",
               {{"user_email", actor.user.email},
                {"role", std::string(RoleName(actor.user.role))},
                {"permission", std::string(ActionName(action))},
                {"target_tenant",
                 target.tenant ? AuditValue(target.tenant->value()) : AuditValue(nullptr)},
                {"reason", d.reason}},
               held);
    } else {
      AuditGrantUse(actor, action, d, held);
    }
    return d;
  }

  // A decision that only a grant made is worth a line: the grant changed the outcome.
  void AuditGrantUse(const FreshActor& actor, Action action, const Decision& d,
                     std::vector<AuditRecord>* held = nullptr) const {
    if (!d.allowed || !d.via_grant) return;
    Security(actor, "GRANT_USED",
             {{"user_email", actor.user.email},
              {"permission", std::string(ActionName(action))},
              {"grant_id", d.via_grant->value()}},
             held);
  }

  // Refresh + Decide, auditing only a grant use (Platform::Evaluate).
  Decision Evaluate(const Principal& p, Action action, const Target& target,
                    std::vector<AuditRecord>* held = nullptr) {
    auto actor = Current(p);
    if (!actor) return Decision{false, actor.error().message(), {}};
    Decision d = Decide(**actor, action, target);
    AuditGrantUse(**actor, action, d, held);
    return d;
  }

  // Platform::GetUser; `held`, when set, receives the audit records.
  Result<User> GetUser(const Principal& actor, UserId id, std::vector<AuditRecord>* held) {
    auto fresh = Refresh(actor);
    if (!fresh) return fresh.error();
    auto u = VisibleUser(*fresh, id);
    if (!u) return u.error();
    Decision d = DecideAudited(*fresh, Action::kUserRead, u->Target(), held);
    if (!d.allowed) return PermissionDenied(d.reason);
    return u->user;
  }

  // Refresh + DecideAudited as a Status, for operations.
  Result<std::shared_ptr<const FreshActor>> Require(const Principal& p, Action action,
                                                    const Target& target,
                                                    std::vector<AuditRecord>* held = nullptr) {
    auto actor = Current(p);
    if (!actor) return actor.error();
    Decision d = DecideAudited(**actor, action, target, held);
    if (!d.allowed) return PermissionDenied(d.reason);
    return actor;
  }

  // An object in another tenant is not found, rather than forbidden: its existence is not
  // the actor's business.
  static bool Hidden(const FreshActor& actor, std::optional<TenantId> object_tenant) {
    return actor.user.tenant && actor.user.tenant != object_tenant;
  }

  // -------------------------------------------------------------------------------------
  // Login throttling. Failures are kept in storage, so every process on it counts them
  // together. An attempt is counted before its password is checked, in the write
  // transaction that reads the count (storage serializes those), so attempts running at once
  // see each other and no more than the allowed number are ever checked.

  // Counts an attempt on `key` as a failure until it succeeds (a success clears the
  // account's failures). False, recording nothing, when the account has had its allowed
  // failures within the window.
  // The account a login attempt is counted against: a user is known by tenant and email.
  static std::string LoginKey(std::optional<TenantId> tenant, std::string_view email) {
    return fmt::format("{}/{}", tenant ? tenant->value() : 0, email);
  }

  Result<bool> ReserveAttempt(const std::string& key) {
    auto txn = Write();
    if (!txn) return txn.error();
    const Instant now = Now();
    auto failures = (*txn)->CountLoginFailures(key, now - opt.login_throttle_window);
    if (!failures) return failures.error();
    if (*failures >= opt.login_max_failures) return false;  // rolled back: nothing written
    SMOOTH_RETURN_IF_ERROR((*txn)->RecordLoginFailure(key, now, now - opt.login_throttle_window));
    SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
    return true;
  }

  // Stores a new session with a fresh bearer token; the Session returned carries the token,
  // which storage never sees (only its hash).
  static Result<Session> InsertSession(SharedTransaction& txn, Session s) {
    std::string token = NewToken();
    s.token_hash = TokenHash(token);
    auto created = txn.InsertSession(std::move(s));
    if (created) created->token = std::move(token);
    return created;
  }

  // The principal behind stored session `s`, read in `txn`.
  Result<Principal> Authenticate(SharedTransaction& txn, const Session& s) {
    Principal p;
    p.session = s;
    p.user.id = s.user;
    if (s.original) {
      auto o = txn.GetSession(*s.original);
      if (!o) return Unauthenticated("the original session has ended");
      p.original = User{};
      p.original->id = o->user;
    }
    auto actor = Refresh(txn, p);
    if (!actor) return actor.error();
    if (!actor->user.is_active) return Unauthenticated("the user is inactive");
    if (actor->tenant && actor->tenant->status == TenantStatus::kSuspended)
      return Unauthenticated("the user's tenant is suspended");
    p.user = actor->user;
    p.original = actor->original;
    return p;
  }

  // A masquerade that ended, for masquerade.log once its transaction has committed.
  struct HijackEnd {
    std::string hijacker, hijacked, ip_address, session_key;
    std::optional<std::string> tenant, reason;
  };
  void LogHijackEnds(const std::vector<HijackEnd>& ended) const {
    for (const HijackEnd& e : ended)
      MasqueradeLog("HIJACK_END", e.hijacker, e.hijacked, e.ip_address, e.session_key, e.tenant,
                    e.reason);
  }

  // The masquerade.log line for the end of masquerade session `m`, started by `hijacker`
  // (empty emails for users that cannot be read).
  HijackEnd HijackEndOf(SharedTransaction& txn, const Session& m, std::optional<UserId> hijacker,
                        std::optional<std::string> why) {
    auto by = hijacker ? txn.GetUser(*hijacker) : Result<User>(NotFound(""));
    auto as = txn.GetUser(m.user);
    return HijackEnd{by ? by->email : "", as ? as->email : "", m.ip_address, m.session_key,
                     TenantSlug(txn, m.tenant), std::move(why)};
  }

  // Ends masquerade session `m`, started by user `hijacker`; its line goes to `ended`.
  Status EndMasquerade(SharedTransaction& txn, Session m, UserId hijacker,
                       std::optional<std::string> why, std::vector<HijackEnd>& ended) {
    m.ended_at = Now();
    SMOOTH_RETURN_IF_ERROR(txn.UpdateSession(m));
    ended.push_back(HijackEndOf(txn, m, hijacker, std::move(why)));
    return {};
  }

  // Ends session `s`: an original session with its live masquerades, a masquerade session
  // as StopMasquerade would. Their masquerade.log lines go to `ended`.
  Status EndSession(SharedTransaction& txn, Session s, std::vector<HijackEnd>& ended) {
    if (s.original) {
      auto original = txn.GetSession(*s.original);
      if (!original) return Internal("masquerade without its original session");
      return EndMasquerade(txn, s, original->user, "logged out", ended);
    }
    auto masquerades = txn.ListLiveMasquerades(s.id);
    if (!masquerades) return masquerades.error();
    for (const Session& m : *masquerades)
      SMOOTH_RETURN_IF_ERROR(EndMasquerade(txn, m, s.user, "original session ended", ended));
    s.ended_at = Now();
    return txn.UpdateSession(s);
  }

  // Revokes `g` in `txn`; its GRANT_REVOKED line goes to `held`, to be written once the
  // transaction has committed.
  Result<Grant> RevokeOne(SharedTransaction& txn, const FreshActor& actor, Grant g,
                          std::string_view reason, std::vector<AuditRecord>* held) {
    if (g.revoked_at) return FailedPrecondition(fmt::format("grant {} is already revoked", g.id));
    g.revoked_at = Now();
    g.revoked_by = actor.user.id;
    g.revoke_reason = std::string(reason);
    SMOOTH_RETURN_IF_ERROR(txn.UpdateGrant(g));
    Security(actor, "GRANT_REVOKED",
             {{"grant_id", g.id.value()},
              {"revoked_by", actor.user.email},
              {"grantee_id", g.grantee.value()},
              {"permission", std::string(ActionName(g.action))},
              {"reason", std::string(reason)}},
             held);
    return g;
  }

  // May `actor` revoke `g`? An actor who may act at all (active, tenant not suspended):
  // the grantor always may; others need grant.revoke over the grantee and must outrank it.
  // Opens its own read transaction: call it outside any.
  bool MayRevoke(const FreshActor& actor, const Grant& g) {
    if (internal::ActorRefusal(actor.facts())) return false;
    if (g.grantor == actor.user.id) return true;
    std::optional<StoredUser> grantee;
    {
      auto txn = Read();
      if (!txn) return false;
      auto u = LoadUser(**txn, g.grantee);
      if (!u) return false;
      grantee = std::move(*u);
    }
    if (RoleRank(actor.user.role) <= RoleRank(grantee->user.role)) return false;
    return Decide(actor, Action::kGrantRevoke, grantee->Target()).allowed;
  }

  // A user with what its tenant makes of it as an object of actions.
  struct StoredUser {
    User user;
    bool in_demo_tenant = false;
    smooth::Target Target(std::optional<Role> role = std::nullopt) const {
      return TargetForUser(user, in_demo_tenant, role);
    }
  };
  static Result<StoredUser> LoadUser(SharedTransaction& txn, UserId id) {
    auto u = txn.GetUser(id);
    if (!u) return u.error();
    const bool demo = IsDemoTenant(txn, u->tenant);
    return StoredUser{std::move(*u), demo};
  }
  static bool IsDemoTenant(SharedTransaction& txn, std::optional<TenantId> id) {
    if (!id) return false;
    auto t = txn.GetTenant(*id);
    return t && t->is_demo;
  }
  // A grant as the object of grant.read and grant.revoke: its grantee, in its tenant.
  // `demo`, when given, keeps the tenants' demo flags read so far.
  static smooth::Target GrantTarget(SharedTransaction& txn, const Grant& g,
                                    std::map<TenantId, bool>* demo = nullptr) {
    bool in_demo = false;
    if (g.tenant && demo != nullptr) {
      auto [it, unread] = demo->try_emplace(*g.tenant, false);
      if (unread) it->second = IsDemoTenant(txn, g.tenant);
      in_demo = it->second;
    } else {
      in_demo = IsDemoTenant(txn, g.tenant);
    }
    return smooth::Target{.tenant = g.tenant, .owner = g.grantee, .is_temporary = in_demo,
                          .role = {}};
  }

  // A user the actor may know of: not_found for missing users and for another tenant's.
  Result<StoredUser> VisibleUser(const FreshActor& actor, UserId id) {
    Result<StoredUser> u = NotFound("");
    {
      auto txn = Read();
      if (!txn) return txn.error();
      u = LoadUser(**txn, id);
    }
    if (!u || Hidden(actor, u->user.tenant)) return NotFound(fmt::format("user {} not found", id));
    return u;
  }

  // Re-reads user `id` in a write transaction, applies `change` and commits. `also`, when
  // given, runs in the same transaction after the update, and its failure undoes it.
  template <typename Change, typename Also = std::nullptr_t>
  Result<User> UpdateUserRow(UserId id, Change change, Also also = nullptr) {
    auto txn = Write();
    if (!txn) return txn.error();
    auto current = (*txn)->GetUser(id);
    if (!current) return current;
    change(*current);
    SMOOTH_RETURN_IF_ERROR((*txn)->UpdateUser(*current));
    if constexpr (!std::is_same_v<Also, std::nullptr_t>) SMOOTH_RETURN_IF_ERROR(also(**txn));
    SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
    return current;
  }

  // Revokes, in `txn`, the active grants user `id` gave or holds. A grant is judged on its
  // grantor's and its grantee's standing when it is made; a role change or a deactivation of
  // either ends that standing, so it ends the grant too. `event` says what happened ("was
  // deactivated"); the GRANT_REVOKED lines go to `held`, for after the commit.
  Status RevokeGrantsOf(SharedTransaction& txn, const FreshActor& actor, UserId id,
                        std::string_view event, std::vector<AuditRecord>& held) {
    for (bool as_grantor : {true, false}) {
      GrantFilter f{.grantee = {}, .action = {}, .grantor = {}, .tenant = {}, .only_active = true};
      (as_grantor ? f.grantor : f.grantee) = id;
      auto grants = txn.ListGrants(f, Now());
      if (!grants) return grants.error();
      for (const Grant& g : *grants) {
        auto revoked =
            RevokeOne(txn, actor, g,
                      fmt::format("the {} {}", as_grantor ? "grantor" : "grantee", event), &held);
        if (!revoked) return revoked.error();
      }
    }
    return {};
  }

  void WriteSecurity(const std::vector<AuditRecord>& held) const {
    for (const AuditRecord& r : held) Append(opt.security_log.get(), r);
  }

  // Stores a new password for user `id` and revokes its sessions (SetPassword and the
  // operator's reset); `by` is who, for the audit line.
  Status StorePassword(UserId id, std::string_view password, AuditValue by) {
    auto hash = internal::HashPassword(password, opt.password_cost);
    if (!hash) return hash.error();
    const Instant now = Now();
    auto updated = UpdateUserRow(id, [&](User& row) {
      row.password_hash = std::move(*hash);
      row.sessions_revoked_at = now;
    });
    if (!updated) return updated.error();
    Security("PASSWORD_SET", {{"user_email", updated->email}, {"by", std::move(by)}});
    return {};
  }

  // DeactivateUser and ReactivateUser: user.deactivate over a user ranked below the actor.
  // Reactivating revokes the sessions from before, so none comes back to life.
  Result<User> SetUserActive(const Principal& actor, UserId id, bool active) {
    auto fresh = Refresh(actor);
    if (!fresh) return fresh.error();
    auto u = VisibleUser(*fresh, id);
    if (!u) return u.error();
    Decision d = DecideAudited(*fresh, Action::kUserDeactivate, u->Target(u->user.role));
    if (!d.allowed) return PermissionDenied(d.reason);
    if (active == u->user.is_active)
      return FailedPrecondition(fmt::format("user {} is {}", u->user.email,
                                            active ? "not deactivated" : "already deactivated"));
    const Instant now = Now();
    std::vector<AuditRecord> revoked;
    auto updated = UpdateUserRow(
        id,
        [&](User& row) {
          row.is_active = active;
          if (active) row.sessions_revoked_at = now;
        },
        [&](SharedTransaction& txn) {
          return active ? Status() : RevokeGrantsOf(txn, *fresh, id, "was deactivated", revoked);
        });
    if (!updated) return updated;
    Security(*fresh, active ? "USER_REACTIVATED" : "USER_DEACTIVATED",
             {{"user_email", updated->email}, {"by", fresh->user.email}});
    WriteSecurity(revoked);
    return updated;
  }

  // Tenant `id` when `actor` may do `action` over it (the decision audited); not_found when
  // it does not exist or belongs to another tenant than the actor's.
  Result<Tenant> TenantAllowing(const FreshActor& actor, TenantId id, Action action) {
    if (Hidden(actor, id)) return NotFound(fmt::format("tenant {} not found", id));
    Result<Tenant> t = NotFound("");
    {
      auto txn = Read();
      if (!txn) return txn.error();
      t = (*txn)->GetTenant(id);
    }
    if (!t) return t;
    Decision d = DecideAudited(actor, action, TargetForTenant(*t));
    if (!d.allowed) return PermissionDenied(d.reason);
    return t;
  }

  Result<Tenant> SetTenantStatus(const Principal& actor, TenantId id, TenantStatus status,
                                 std::string_view reason) {
    auto fresh = Refresh(actor);
    if (!fresh) return fresh.error();
    auto t = TenantAllowing(*fresh, id, Action::kTenantSuspend);
    if (!t) return t;
    auto txn = Write();
    if (!txn) return txn.error();
    auto current = (*txn)->GetTenant(id);
    if (!current) return current;
    // Only a suspended tenant is reactivated: anything else would turn a trial into an
    // active tenant, and write an audit line for a change that did not happen.
    if (status == TenantStatus::kSuspended && current->status == TenantStatus::kSuspended)
      return FailedPrecondition(fmt::format("tenant '{}' is already suspended", current->slug));
    if (status != TenantStatus::kSuspended && current->status != TenantStatus::kSuspended)
      return FailedPrecondition(fmt::format("tenant '{}' is not suspended", current->slug));
    current->status = status;
    SMOOTH_RETURN_IF_ERROR((*txn)->UpdateTenant(*current));
    SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
    Security(
        *fresh, status == TenantStatus::kSuspended ? "TENANT_SUSPENDED" : "TENANT_REACTIVATED",
        {{"tenant", current->slug}, {"by", fresh->user.email}, {"reason", std::string(reason)}});
    return current;
  }

  // Revokes the active grants among `candidates` that the actor may revoke.
  Result<int> RevokeSelected(const Principal& actor, const std::vector<Grant>& candidates,
                             std::string_view reason) {
    SMOOTH_RETURN_IF_ERROR(internal::ValidateText(reason, "reason", 500));
    auto fresh = Refresh(actor);
    if (!fresh) return fresh.error();
    std::vector<GrantId> revocable;
    for (const Grant& g : candidates) {
      if (!g.IsActive(Now()) || Hidden(*fresh, g.tenant)) continue;
      if (MayRevoke(*fresh, g)) revocable.push_back(g.id);
    }
    auto txn = Write();
    if (!txn) return txn.error();
    int count = 0;
    std::vector<AuditRecord> held;
    for (GrantId id : revocable) {
      auto g = (*txn)->GetGrant(id);
      if (!g || g->revoked_at) continue;
      auto revoked = RevokeOne(**txn, *fresh, *g, reason, &held);
      if (!revoked) return revoked.error();
      ++count;
    }
    SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
    WriteSecurity(held);
    return count;
  }
};

// ----------------------------------------------------------------------------------------

Platform::Platform(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Platform::~Platform() = default;

Result<std::unique_ptr<Platform>> Platform::Open(PlatformOptions options) {
  if (!options.storage) return InvalidArgument("storage: required");
  if (options.clock == nullptr) return InvalidArgument("clock: required");
  auto base = internal::NormalizeDomainName(options.base_domain, "base_domain");
  if (!base) return base.error();
  options.base_domain = *base;
  if (options.max_grant_duration < std::chrono::minutes(1))
    return InvalidArgument("max_grant_duration: must be at least 1 minute");
  if (options.login_max_failures < 1)
    return InvalidArgument("login_max_failures: must be at least 1");
  if (options.login_throttle_window < std::chrono::minutes(1))
    return InvalidArgument("login_throttle_window: must be at least 1 minute");
  if (options.session_lifetime < std::chrono::minutes(1))
    return InvalidArgument("session_lifetime: must be at least 1 minute");
  if (sodium_init() < 0) return Internal("libsodium failed to initialize");
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  return std::unique_ptr<Platform>(new Platform(std::move(impl)));
}

const PlatformOptions& Platform::options() const { return impl_->opt; }
Instant Platform::Now() const { return impl_->Now(); }

// --- Bootstrap and identity --------------------------------------------------------------

Result<User> Platform::CreateSuperuser(std::string_view email, std::string_view display_name,
                                       std::string_view password) {
  auto normalized = internal::NormalizeEmail(email);
  if (!normalized) return normalized.error();
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(display_name, "display_name", 200));
  auto hash = internal::HashPassword(password, impl_->opt.password_cost);
  if (!hash) return hash.error();
  User u{.id = {}, .email = *normalized, .display_name = std::string(display_name),
         .role = Role::kSuperuser, .tenant = std::nullopt, .is_active = true,
         .is_temporary = false, .password_hash = *hash, .created_at = Now()};
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto created = (*txn)->InsertUser(u);
  if (!created) return created;
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->Security("USER_CREATED", {{"user_email", created->email},
                                   {"role", "SUPERUSER"},
                                   {"created_by", nullptr}});
  return created;
}

Result<Principal> Platform::ActAs(UserId user) {
  Principal p;
  p.user.id = user;
  auto actor = impl_->Refresh(p);
  if (!actor) return actor.error();
  if (!actor->user.is_active) return Unauthenticated("the user is inactive");
  if (actor->tenant && actor->tenant->status == TenantStatus::kSuspended)
    return Unauthenticated("the user's tenant is suspended");
  p.user = actor->user;
  return p;
}

Result<User> Platform::CurrentUser(const Principal& actor) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  return std::move(fresh->user);
}

Result<Session> Platform::Login(const HostMatch& where, std::string_view email,
                                std::string_view password, std::string_view client_ip) {
  // What the server was told, so any bytes: kept as text every backend stores as it is.
  const std::string ip_address = internal::ToStorableText(client_ip);
  const Status generic = Unauthenticated("invalid email or password");
  std::optional<TenantId> tenant;
  std::optional<std::string> slug;
  if (!where.is_platform) {
    if (!where.tenant) return generic;
    tenant = where.tenant->id;
    slug = where.tenant->slug;
  }
  auto fail = [&](std::string_view who, std::string reason) {
    impl_->Security("LOGIN_FAILED", {{"email", std::string(who)},
                                     {"ip_address", ip_address},
                                     {"tenant", OptionalText(slug)},
                                     {"reason", std::move(reason)}});
    return generic;
  };
  auto normalized = internal::NormalizeEmail(email);
  if (!normalized) {
    (void)internal::VerifyPassword(internal::DummyHash(impl_->opt.password_cost), password);
    return fail("", "malformed email");
  }
  const std::string key = Impl::LoginKey(tenant, *normalized);

  // From here on the attempt counts as a failure, unless it logs in.
  auto reserved = impl_->ReserveAttempt(key);
  if (!reserved) return reserved.error();
  if (!*reserved) return fail(*normalized, "too many failed attempts");
  // No stored password is outside 8..1024 bytes; a longer one would only cost hashing time.
  if (!internal::ValidatePassword(password).ok()) {
    (void)internal::VerifyPassword(internal::DummyHash(impl_->opt.password_cost),
                                   password.substr(0, internal::kMaxPasswordBytes));
    return fail(*normalized, "password length out of bounds");
  }

  std::optional<User> user;
  std::optional<Tenant> user_tenant;
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    auto found = (*txn)->FindUserByEmail(tenant, *normalized);
    if (found) {
      user = *found;
      if (tenant) {
        auto t = (*txn)->GetTenant(*tenant);
        if (t) user_tenant = *t;
      }
    }
  }
  if (!user) {
    // Same work as a real verification, so timing does not reveal who has an account.
    (void)internal::VerifyPassword(internal::DummyHash(impl_->opt.password_cost), password);
    return fail(*normalized, "unknown user");
  }
  if (!internal::VerifyPassword(user->password_hash, password))
    return fail(*normalized, "wrong password");
  if (!user->is_active) return fail(*normalized, "user inactive");
  if (user_tenant && user_tenant->status == TenantStatus::kSuspended)
    return fail(*normalized, "tenant suspended");

  // A hash made at another cost than the platform's now is replaced while the password is
  // at hand (hashed before the write transaction: argon2id takes a while).
  std::optional<std::string> rehashed;
  if (internal::NeedsRehash(user->password_hash, impl_->opt.password_cost)) {
    auto hash = internal::HashPassword(password, impl_->opt.password_cost);
    if (hash) rehashed = std::move(*hash);  // else keep the old one: the login stands
  }

  // The hash the password was checked against.
  std::string checked = user->password_hash;
  for (int tries = 1;; ++tries) {
    std::string stored;  // the hash stored now, when it is not `checked`
    {
      Session s{.id = {},
                .session_key = RandomKey(),
                .user = user->id,
                .tenant = user->tenant,
                .original = std::nullopt,
                .ip_address = ip_address,
                .created_at = Now(),
                .ended_at = std::nullopt};
      auto txn = impl_->Write();
      if (!txn) return txn.error();
      // The user as stored now. Its password may have changed while this login checked the
      // old one (argon2id takes a while): the old password is worth nothing from the change
      // on, so it makes no session, which would be dated after the change and so outlive it.
      auto current = (*txn)->GetUser(user->id);
      if (!current) {
        if (current.error().code() != StatusCode::kNotFound) return current.error();
        return fail(*normalized, "unknown user");
      }
      if (current->password_hash == checked) {
        // A session works only if made after the user's sessions were last revoked
        // (Refresh): one made in that very microsecond is dated just after it.
        if (current->sessions_revoked_at && s.created_at <= *current->sessions_revoked_at)
          s.created_at = *current->sessions_revoked_at + std::chrono::microseconds(1);
        SMOOTH_RETURN_IF_ERROR((*txn)->ClearLoginFailures(key));
        if (rehashed) {
          current->password_hash = std::move(*rehashed);
          SMOOTH_RETURN_IF_ERROR((*txn)->UpdateUser(*current));
        }
        auto created = impl_->InsertSession(**txn, std::move(s));
        if (!created) return created;
        SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
        impl_->Security("LOGIN_SUCCESS", {{"email", user->email},
                                          {"ip_address", ip_address},
                                          {"tenant", OptionalText(slug)},
                                          {"session_key", created->session_key}});
        return created;
      }
      stored = std::move(current->password_hash);
    }  // the transaction is rolled back before hashing again
    // Another hash is stored: a new password, or the same one hashed again (another login's
    // rehash at a new cost), which still logs in. Checked outside the transaction, as the
    // first check was; what this login would have rehashed is left as the other stored it.
    if (tries == 3 || !internal::VerifyPassword(stored, password))
      return fail(*normalized, "password changed meanwhile");
    checked = std::move(stored);
    rehashed.reset();
  }
}

Result<Principal> Platform::Authenticate(SessionId session) {
  auto txn = impl_->Read();
  if (!txn) return txn.error();
  auto s = (*txn)->GetSession(session);
  if (!s) return Unauthenticated("unknown session");
  return impl_->Authenticate(**txn, *s);
}

Result<Principal> Platform::Authenticate(std::string_view token, const HostMatch& where) {
  // One answer for every token that leads nowhere, so none can be told from another.
  const Status unknown = Unauthenticated("invalid token");
  if (token.size() != kTokenLength) return unknown;
  auto txn = impl_->Read();
  if (!txn) return txn.error();
  auto s = (*txn)->FindSessionByTokenHash(TokenHash(token));
  if (!s) return s.error().code() == StatusCode::kNotFound ? unknown : s.error();
  // A token works only on the hosts of the tenant its session is in: a tenant's hosts for
  // a tenant session, the platform host for a platform user's.
  const bool same_host = s->tenant ? !where.is_platform && where.tenant &&
                                         where.tenant->id == *s->tenant
                                   : where.is_platform;
  if (!same_host) return Unauthenticated("the token belongs to another host");
  return impl_->Authenticate(**txn, *s);
}

Status Platform::Logout(SessionId session) {
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto s = (*txn)->GetSession(session);
  if (!s) return NotFound(fmt::format("session {} not found", session));
  if (s->IsEnded()) return {};
  std::vector<Impl::HijackEnd> ended;
  SMOOTH_RETURN_IF_ERROR(impl_->EndSession(**txn, *s, ended));
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->LogHijackEnds(ended);
  std::vector<std::pair<std::string, AuditValue>> fields = {{"session_key", s->session_key}};
  // A masquerade's logout is a call made in it: who was behind it, as on its other lines.
  if (s->original && !ended.empty()) fields.emplace_back("hijacker_email", ended.front().hijacker);
  impl_->Security("LOGOUT", std::move(fields));
  return {};
}

// --- Authorization -----------------------------------------------------------------------

Decision Platform::Authorize(const Principal& actor, Action action, const Target& target) {
  auto fresh = impl_->Current(actor);
  if (!fresh) return Decision{false, fresh.error().message(), {}};
  return impl_->DecideAudited(**fresh, action, target);
}

Decision Platform::Evaluate(const Principal& actor, Action action, const Target& target) {
  return impl_->Evaluate(actor, action, target);
}

Decision Platform::Evaluate(const Principal& actor, Action action, const Target& target,
                            std::vector<AuditRecord>& held) {
  return impl_->Evaluate(actor, action, target, &held);
}

void Platform::RecordSecurityEvent(std::string action,
                                   std::vector<std::pair<std::string, AuditValue>> fields) {
  impl_->Security(std::move(action), std::move(fields));
}

Status Platform::Check(const Principal& actor, Action action, const Target& target) {
  auto fresh = impl_->Require(actor, action, target);
  return fresh ? Status() : fresh.error();
}

Status Platform::Check(const Principal& actor, Action action, const Target& target,
                       std::vector<AuditRecord>& held) {
  auto fresh = impl_->Require(actor, action, target, &held);
  return fresh ? Status() : fresh.error();
}

void Platform::WriteHeld(std::vector<AuditRecord> held) { impl_->WriteSecurity(held); }

// --- Tenants and domains -----------------------------------------------------------------

Result<Tenant> Platform::CreateTenant(const Principal& actor, const TenantSpec& spec) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateSlug(spec.slug));
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(spec.name, "name", 200));
  SMOOTH_RETURN_IF_ERROR(ValidateTimeZone(spec.time_zone, "time_zone"));
  SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(spec.tier, &TierName, "tier"));
  SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(spec.status, &TenantStatusName, "status"));
  if (spec.status == TenantStatus::kSuspended)
    return InvalidArgument("status: a tenant cannot be created suspended");
  Target target{.tenant = std::nullopt, .owner = {}, .is_temporary = spec.is_demo, .role = {}};
  auto who = impl_->Require(actor, Action::kTenantCreate, target);
  if (!who) return who.error();
  Tenant t{.id = {}, .slug = spec.slug, .name = spec.name, .tier = spec.tier,
           .status = spec.status, .time_zone = spec.time_zone, .is_demo = spec.is_demo,
           .created_at = Now()};
  auto created = impl_->opt.storage->CreateTenant(t);
  if (!created) return created;
  impl_->Security(**who, "TENANT_CREATED",
                  {{"tenant", created->slug},
                   {"tenant_id", created->id.value()},
                   {"created_by", (*who)->user.email}});
  return created;
}

Result<Tenant> Platform::GetTenant(const Principal& actor, TenantId id) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  return impl_->TenantAllowing(*fresh, id, Action::kTenantRead);
}


Result<std::vector<Tenant>> Platform::ListTenants(const Principal& actor) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  Result<std::vector<Tenant>> all = NotFound("");
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    all = (*txn)->ListTenants();
  }
  if (!all) return all;
  std::vector<Tenant> visible;
  for (Tenant& t : *all)
    if (!Impl::Hidden(*fresh, t.id) &&
        impl_->Decide(*fresh, Action::kTenantRead, TargetForTenant(t)).allowed)
      visible.push_back(std::move(t));
  std::sort(visible.begin(), visible.end(),
            [](const Tenant& a, const Tenant& b) { return a.id < b.id; });
  return visible;
}

Result<std::vector<Domain>> Platform::ListDomains(const Principal& actor, TenantId tenant) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  auto t = impl_->TenantAllowing(*fresh, tenant, Action::kTenantRead);
  if (!t) return t.error();
  auto txn = impl_->Read();
  if (!txn) return txn.error();
  auto domains = (*txn)->ListDomains(tenant);
  if (!domains) return domains;
  std::sort(domains->begin(), domains->end(),
            [](const Domain& a, const Domain& b) { return a.id < b.id; });
  return domains;
}

Result<Tenant> Platform::UpdateTenant(const Principal& actor, TenantId id,
                                      const TenantUpdate& update) {
  if (!update.name && !update.tier) return InvalidArgument("update: nothing to change");
  if (update.name) SMOOTH_RETURN_IF_ERROR(internal::ValidateText(*update.name, "name", 200));
  if (update.tier) SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(*update.tier, &TierName, "tier"));
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  auto t = impl_->TenantAllowing(*fresh, id, Action::kTenantUpdate);
  if (!t) return t;
  if (update.tier) {
    Decision platform = impl_->DecideAudited(*fresh, Action::kTenantUpdate, kPlatformItself);
    if (!platform.allowed)
      return PermissionDenied(
          fmt::format("tier: only the platform may change a tenant's tier ({})", platform.reason));
  }
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto current = (*txn)->GetTenant(id);
  if (!current) return current;
  std::vector<std::pair<std::string, AuditValue>> changed;
  if (update.name && *update.name != current->name) {
    current->name = *update.name;
    changed.emplace_back("name", current->name);
  }
  if (update.tier && *update.tier != current->tier) {
    current->tier = *update.tier;
    changed.emplace_back("tier", std::string(TierName(current->tier)));
  }
  if (changed.empty()) return current;  // already so: nothing written, nothing audited
  SMOOTH_RETURN_IF_ERROR((*txn)->UpdateTenant(*current));
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  changed.insert(changed.begin(), {{"tenant", current->slug}, {"by", fresh->user.email}});
  impl_->Security(*fresh, "TENANT_UPDATED", std::move(changed));
  return current;
}

Result<Tenant> Platform::SuspendTenant(const Principal& actor, TenantId id,
                                       std::string_view reason) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(reason, "reason", 500));
  return impl_->SetTenantStatus(actor, id, TenantStatus::kSuspended, reason);
}

Result<Tenant> Platform::ReactivateTenant(const Principal& actor, TenantId id) {
  return impl_->SetTenantStatus(actor, id, TenantStatus::kActive, "reactivated");
}

Status Platform::DeleteTenant(const Principal& actor, TenantId id) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  if (fresh->original)
    return impl_->MasqueradeRefused(*fresh, "tenant.delete", id,
                                    "a masquerade may not delete tenants");
  // Who may suspend the tenant, and of them only a superuser: no matrix cell grants this.
  auto t = impl_->TenantAllowing(*fresh, id, Action::kTenantSuspend);
  if (!t) return t.error();
  if (fresh->user.role != Role::kSuperuser) {
    impl_->Security(*fresh, "PERMISSION_DENIED",
                    {{"user_email", fresh->user.email},
                     {"role", std::string(RoleName(fresh->user.role))},
                     {"permission", "tenant.delete"},
                     {"target_tenant", id.value()},
                     {"reason", "only a superuser deletes a tenant"}});
    return PermissionDenied("only a superuser deletes a tenant");
  }
  auto require_suspended = [](const Tenant& tenant) -> Status {
    if (tenant.status == TenantStatus::kSuspended) return {};
    return FailedPrecondition(
        fmt::format("tenant '{}' is not suspended: suspend it first", tenant.slug));
  };
  SMOOTH_RETURN_IF_ERROR(require_suspended(*t));
  // Decided again inside the deleting transaction, which also finds the masquerades into the
  // tenant still open, to end them in masquerade.log: a reactivation or a logout committed
  // meanwhile is seen, so an active tenant is never deleted and a masquerade ends once.
  std::vector<Impl::HijackEnd> ended;
  Status deleted =
      impl_->opt.storage->DeleteTenant(*t, [&](SharedTransaction& txn) -> Status {
        auto now = txn.GetTenant(id);
        if (!now) return now.error();
        SMOOTH_RETURN_IF_ERROR(require_suspended(*now));
        auto sessions = txn.ListSessions();
        if (!sessions) return sessions.error();
        for (const Session& m : *sessions) {
          if (!m.original || m.IsEnded() || m.tenant != id) continue;
          auto original = txn.GetSession(*m.original);
          ended.push_back(impl_->HijackEndOf(
              txn, m, original ? std::optional(original->user) : std::nullopt, "tenant deleted"));
        }
        return {};
      });
  if (!deleted.ok()) return deleted;
  impl_->LogHijackEnds(ended);
  impl_->Security(*fresh, "TENANT_DELETED", {{"tenant", t->slug}, {"by", fresh->user.email}});
  return {};
}

Result<Domain> Platform::AddDomain(const Principal& actor, const DomainSpec& spec) {
  auto name = internal::NormalizeDomainName(spec.name, "domain");
  if (!name) return name.error();
  const std::string& base = impl_->opt.base_domain;
  bool under_base = *name == base || (name->size() > base.size() &&
                                      name->ends_with("." + base));
  if (spec.is_custom_domain && under_base)
    return InvalidArgument(fmt::format("domain: a custom domain cannot be under {}", base));
  if (!spec.is_custom_domain && (!under_base || *name == base))
    return InvalidArgument(fmt::format("domain: must be a subdomain of {} unless custom", base));
  if (*name == "platform." + base) return InvalidArgument("domain: reserved for the platform");
  if (spec.route53_zone_id)
    SMOOTH_RETURN_IF_ERROR(internal::ValidateText(*spec.route53_zone_id, "route53_zone_id", 64));

  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  if (Impl::Hidden(*fresh, spec.tenant))
    return NotFound(fmt::format("tenant {} not found", spec.tenant));
  Result<Tenant> tenant = NotFound("");
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    tenant = (*txn)->GetTenant(spec.tenant);
  }
  if (!tenant) return tenant.error();
  Decision d = impl_->DecideAudited(*fresh, Action::kDomainManage, TargetForTenant(*tenant));
  if (!d.allowed) return PermissionDenied(d.reason);
  // ResolveHost reaches a tenant under the base domain by its slug alone, so the only
  // subdomain a tenant can have is its own: any other would be a row that routes nowhere,
  // or a name kept from the tenant whose slug it is.
  if (!spec.is_custom_domain) {
    std::string own = tenant->slug;
    std::replace(own.begin(), own.end(), '_', '-');
    own += "." + base;
    if (*name != own)
      return InvalidArgument(
          fmt::format("domain: the tenant's subdomain of {} is {}; others need a custom domain",
                      base, own));
  }

  Domain dom{.id = {}, .name = *name, .tenant = spec.tenant, .is_primary = spec.is_primary,
             .is_custom_domain = spec.is_custom_domain, .route53_zone_id = spec.route53_zone_id,
             // Our own subdomains need no DNS proof; custom domains do.
             .verification = spec.is_custom_domain ? DomainVerification::kPending
                                                   : DomainVerification::kVerified,
             .verified_at = spec.is_custom_domain ? std::nullopt : std::optional(Now()),
             .created_at = Now()};
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  if (dom.is_primary) {
    auto existing = (*txn)->ListDomains(spec.tenant);
    if (!existing) return existing.error();
    for (Domain other : *existing) {
      if (!other.is_primary) continue;
      other.is_primary = false;
      SMOOTH_RETURN_IF_ERROR((*txn)->UpdateDomain(other));
    }
  }
  auto created = (*txn)->InsertDomain(dom);
  if (!created) return created;
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->Security(*fresh, "DOMAIN_ADDED",
                  {{"domain", created->name}, {"tenant", tenant->slug}, {"by", fresh->user.email}});
  return created;
}

Result<Domain> Platform::SetDomainVerification(const Principal& actor, DomainId id,
                                               DomainVerification verification) {
  SMOOTH_RETURN_IF_ERROR(
      internal::ValidateEnum(verification, &DomainVerificationName, "verification"));
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  Result<Domain> dom = NotFound("");
  Result<Tenant> tenant = NotFound("");
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    dom = (*txn)->GetDomain(id);
    if (!dom) return dom;
    tenant = (*txn)->GetTenant(dom->tenant);
    if (!tenant) return tenant.error();
  }
  if (Impl::Hidden(*fresh, dom->tenant)) return NotFound(fmt::format("domain {} not found", id));
  Decision d = impl_->DecideAudited(*fresh, Action::kDomainManage, TargetForTenant(*tenant));
  if (!d.allowed) return PermissionDenied(d.reason);
  // A verified custom domain sends its visitors, and their logins, to the tenant: a
  // tenant that could verify its own would take any name it liked. Only the platform
  // (domain.manage on the platform itself) records a successful check.
  if (dom->is_custom_domain && verification == DomainVerification::kVerified) {
    Decision platform = impl_->DecideAudited(*fresh, Action::kDomainManage, kPlatformItself);
    if (!platform.allowed)
      return PermissionDenied(fmt::format(
          "verification: only the platform may verify a custom domain ({})", platform.reason));
  }
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto current = (*txn)->GetDomain(id);
  if (!current) return current;
  current->verification = verification;
  current->verified_at =
      verification == DomainVerification::kVerified ? std::optional(Now()) : std::nullopt;
  SMOOTH_RETURN_IF_ERROR((*txn)->UpdateDomain(*current));
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->Security(*fresh, "DOMAIN_VERIFICATION",
                  {{"domain", current->name},
                   {"verification", std::string(DomainVerificationName(verification))},
                   {"by", fresh->user.email}});
  return current;
}

Result<HostMatch> Platform::ResolveHost(std::string_view host_header) {
  const Status unknown = NotFound("host: no tenant is served here");
  std::string_view host = host_header;
  // Strip a port: the part after the last ':' when it is all digits.
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    if (port.empty() || !std::all_of(port.begin(), port.end(),
                                     [](char c) { return c >= '0' && c <= '9'; }))
      return unknown;
    host = host.substr(0, colon);
  }
  auto name = internal::NormalizeDomainName(host, "host");
  if (!name) return unknown;
  const std::string& base = impl_->opt.base_domain;
  auto txn = impl_->Read();
  if (!txn) return txn.error();
  if (*name == "platform." + base) return HostMatch{true, std::nullopt};
  if (name->size() > base.size() + 1 && name->ends_with("." + base)) {
    // Host labels cannot hold '_' but slugs (schema names) can: "acme-gym.<base>" reaches
    // the tenant "acme_gym". Slugs cannot hold '-', so the mapping is one to one.
    std::string label = name->substr(0, name->size() - base.size() - 1);
    if (label.find('.') != std::string::npos) return unknown;
    std::replace(label.begin(), label.end(), '-', '_');
    if (!internal::ValidateSlug(label).ok()) return unknown;
    auto t = (*txn)->FindTenantBySlug(label);
    if (!t) return unknown;
    return HostMatch{false, *t};
  }
  auto dom = (*txn)->FindDomainByName(*name);
  if (!dom || !dom->is_custom_domain || dom->verification != DomainVerification::kVerified)
    return unknown;
  auto t = (*txn)->GetTenant(dom->tenant);
  if (!t) return unknown;
  return HostMatch{false, *t};
}

// --- Users -------------------------------------------------------------------------------

Result<User> Platform::CreateUser(const Principal& actor, const UserSpec& spec) {
  auto email = internal::NormalizeEmail(spec.email);
  if (!email) return email.error();
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(spec.display_name, "display_name", 200));
  SMOOTH_RETURN_IF_ERROR(ValidateRoleTenant(spec.role, spec.tenant));
  SMOOTH_RETURN_IF_ERROR(internal::ValidatePassword(spec.password));

  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  if (spec.tenant && Impl::Hidden(*fresh, spec.tenant))
    return NotFound(fmt::format("tenant {} not found", *spec.tenant));
  // A new user comes with a password its creator chose: a way back in, after the
  // masquerade, as someone else, which no masquerade may make (nor set a password).
  if (fresh->original)
    return impl_->MasqueradeRefused(*fresh, ActionName(Action::kUserCreate), spec.tenant,
                                    "a masquerade may not create users");
  bool in_demo_tenant = false;
  if (spec.tenant) {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    auto t = (*txn)->GetTenant(*spec.tenant);
    if (!t) return NotFound(fmt::format("tenant: {} not found", *spec.tenant));
    in_demo_tenant = t->is_demo;
  }
  // A temporary user is a demo account: PLATFORM_SALES may masquerade as it, so it must
  // never be a way into a real tenant or onto the platform.
  if (spec.is_temporary && !in_demo_tenant)
    return InvalidArgument("is_temporary: only users of a demo tenant can be temporary");
  Target target{.tenant = spec.tenant, .owner = std::nullopt, .is_temporary = in_demo_tenant,
                .role = spec.role};
  Decision d = impl_->DecideAudited(*fresh, Action::kUserCreate, target);
  if (!d.allowed) return PermissionDenied(d.reason);

  auto hash = internal::HashPassword(spec.password, impl_->opt.password_cost);
  if (!hash) return hash.error();
  User u{.id = {}, .email = *email, .display_name = spec.display_name, .role = spec.role,
         .tenant = spec.tenant, .is_active = true, .is_temporary = spec.is_temporary,
         .password_hash = *hash, .created_at = Now()};
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto created = (*txn)->InsertUser(u);
  if (!created) return created;
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->Security(
      *fresh, "USER_CREATED",
      {{"user_email", created->email},
       {"role", std::string(RoleName(created->role))},
       {"tenant_id", created->tenant ? AuditValue(created->tenant->value()) : AuditValue(nullptr)},
       {"created_by", fresh->user.email}});
  return created;
}

Result<User> Platform::GetUser(const Principal& actor, UserId id) {
  return impl_->GetUser(actor, id, nullptr);
}

Result<User> Platform::GetUser(const Principal& actor, UserId id, std::vector<AuditRecord>& held) {
  return impl_->GetUser(actor, id, &held);
}

Result<std::vector<User>> Platform::ListUsers(const Principal& actor,
                                              std::optional<TenantId> tenant) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  if (tenant && Impl::Hidden(*fresh, *tenant))
    return NotFound(fmt::format("tenant {} not found", *tenant));
  Result<std::vector<User>> all = NotFound("");
  bool demo = false;
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    if (tenant) {
      auto t = (*txn)->GetTenant(*tenant);
      if (!t) return t.error();
      demo = t->is_demo;
    }
    all = (*txn)->ListUsers(tenant);
  }
  if (!all) return all;
  std::vector<User> visible;
  for (User& u : *all)
    if (impl_->Decide(*fresh, Action::kUserRead, TargetForUser(u, demo)).allowed)
      visible.push_back(std::move(u));
  std::sort(visible.begin(), visible.end(), [](const User& a, const User& b) { return a.id < b.id; });
  return visible;
}

Result<User> Platform::ChangeRole(const Principal& actor, UserId id, Role new_role) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(new_role, &RoleName, "role"));
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  auto u = impl_->VisibleUser(*fresh, id);
  if (!u) return u.error();
  SMOOTH_RETURN_IF_ERROR(ValidateRoleTenant(new_role, u->user.tenant));
  // Both the current and the new role must be below the actor's.
  for (Role r : {u->user.role, new_role}) {
    Decision d = impl_->DecideAudited(*fresh, Action::kUserUpdate, u->Target(r));
    if (!d.allowed) return PermissionDenied(d.reason);
  }
  Role old_role = u->user.role;
  std::vector<AuditRecord> revoked;
  auto updated = impl_->UpdateUserRow(
      id, [&](User& row) { row.role = new_role; },
      [&](SharedTransaction& txn) {
        return new_role == old_role
                   ? Status()
                   : impl_->RevokeGrantsOf(txn, *fresh, id, "changed role", revoked);
      });
  if (!updated) return updated;
  impl_->Security(*fresh, "ROLE_CHANGED",
                  {{"user_email", updated->email},
                   {"old_role", std::string(RoleName(old_role))},
                   {"new_role", std::string(RoleName(new_role))},
                   {"by", fresh->user.email}});
  impl_->WriteSecurity(revoked);
  return updated;
}

Result<User> Platform::DeactivateUser(const Principal& actor, UserId id) {
  return impl_->SetUserActive(actor, id, false);
}

Result<User> Platform::ReactivateUser(const Principal& actor, UserId id) {
  return impl_->SetUserActive(actor, id, true);
}

Status Platform::EndSessions(const Principal& actor, UserId id) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  if (fresh->original)
    return impl_->MasqueradeRefused(*fresh, ActionName(Action::kUserDeactivate), fresh->user.tenant,
                                    "a masquerade may not end sessions");
  auto u = impl_->VisibleUser(*fresh, id);
  if (!u) return u.error();
  if (u->user.id != fresh->user.id) {
    Decision d =
        impl_->DecideAudited(*fresh, Action::kUserDeactivate, u->Target(u->user.role));
    if (!d.allowed) return PermissionDenied(d.reason);
  }
  const Instant now = Now();
  auto updated = impl_->UpdateUserRow(id, [&](User& row) { row.sessions_revoked_at = now; });
  if (!updated) return updated.error();
  impl_->Security(*fresh, "SESSIONS_REVOKED",
                  {{"user_email", updated->email}, {"by", fresh->user.email}});
  return {};
}

Result<int> Platform::ClearDeadSessions() {
  // Decided in a read transaction, so logins are not held up while every session is read:
  // a dead session stays dead (an end, an expiry and a revocation are never undone, and
  // ReactivateUser revokes what a deactivated user had), so what is decided here is still
  // true when the write transaction deletes it.
  auto read = impl_->Read();
  if (!read) return read.error();
  SharedTransaction& txn = **read;
  auto sessions = txn.ListSessions();
  if (!sessions) return sessions.error();
  const Instant now = Now();
  std::map<UserId, std::optional<User>> users;  // read once each; nullopt: no such user
  auto user_of = [&](UserId id) -> Result<const User*> {
    auto [it, fresh] = users.try_emplace(id);
    if (fresh) {
      auto u = txn.GetUser(id);
      if (u) {
        it->second = std::move(*u);
      } else if (u.error().code() != StatusCode::kNotFound) {
        return u.error();
      }
    }
    return it->second ? &*it->second : nullptr;
  };
  // Login sessions first: why each one that no call would accept any more is dead.
  std::map<SessionId, std::string> dead;
  std::vector<SessionId> doomed;
  for (const Session& s : *sessions) {
    if (s.original) continue;
    auto person = user_of(s.user);
    if (!person) return person.error();
    const User* u = *person;
    const char* why = s.IsEnded()                  ? "ended"
                      : now >= impl_->ExpiresAt(s) ? "expired"
                      : u == nullptr               ? "of an unknown user"
                      : Impl::Revoked(s, *u)       ? "revoked"
                      : !u->is_active              ? "of an inactive user"
                                                   : nullptr;
    if (why == nullptr) continue;
    dead.emplace(s.id, why);
    doomed.push_back(s.id);
  }
  // Then the masquerades: one lasts no longer than the session it was started from, and one
  // still open ends here, in masquerade.log, as Logout would have ended it.
  std::map<SessionId, const Session*> by_id;
  for (const Session& s : *sessions) by_id.emplace(s.id, &s);
  std::map<SessionId, Impl::HijackEnd> open;
  std::vector<SessionId> masquerades;
  for (const Session& m : *sessions) {
    if (!m.original) continue;
    auto original = by_id.find(*m.original);
    auto why = dead.find(*m.original);
    if (!m.IsEnded() && original != by_id.end() && why == dead.end()) continue;
    masquerades.push_back(m.id);
    if (m.IsEnded()) continue;
    open.emplace(m.id, impl_->HijackEndOf(
                           txn, m,
                           original != by_id.end() ? std::optional(original->second->user)
                                                   : std::nullopt,
                           why != dead.end() ? "original session " + why->second
                                             : "original session gone"));
  }
  read->reset();
  // Masquerades first, so none is ever left without its original between two chunks.
  doomed.insert(doomed.begin(), masquerades.begin(), masquerades.end());

  // A chunk at a time, each in its own write transaction, so that a first sweep over years
  // of sessions does not hold up logins for as long as it deletes. Each chunk is audited as
  // it commits.
  constexpr std::size_t kChunk = 500;
  int cleared = 0;
  for (std::size_t from = 0; from < doomed.size(); from += kChunk) {
    const std::vector<SessionId> chunk(
        doomed.begin() + static_cast<std::ptrdiff_t>(from),
        doomed.begin() + static_cast<std::ptrdiff_t>(std::min(doomed.size(), from + kChunk)));
    auto write = impl_->Write();
    if (!write) return write.error();
    // A masquerade ended since it was read (Logout, StopMasquerade) has had its line.
    std::vector<Impl::HijackEnd> ended;
    for (SessionId id : chunk) {
      auto line = open.find(id);
      if (line == open.end()) continue;
      auto m = (*write)->GetSession(id);
      if (!m && m.error().code() != StatusCode::kNotFound) return m.error();
      if (m && !m->IsEnded()) ended.push_back(std::move(line->second));
    }
    auto deleted = (*write)->DeleteSessions(chunk);
    if (!deleted) return deleted;
    SMOOTH_RETURN_IF_ERROR((*write)->Commit());
    impl_->LogHijackEnds(ended);
    if (*deleted > 0) impl_->Security("SESSIONS_CLEARED", {{"count", std::int64_t{*deleted}}});
    cleared += *deleted;
  }
  return cleared;
}

Status Platform::ChangePassword(const Principal& actor, std::string_view current_password,
                                std::string_view new_password) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  if (fresh->original)
    return impl_->MasqueradeRefused(
        *fresh, ActionName(Action::kUserUpdate), fresh->user.tenant,
        "a masquerade may not change the password of the user it acts as");
  const User& me = fresh->user;
  // As every authorization refuses them: an inactive user, a suspended tenant's.
  if (auto refusal = internal::ActorRefusal(fresh->facts())) return PermissionDenied(*refusal);
  SMOOTH_RETURN_IF_ERROR(internal::ValidatePassword(new_password, "new_password"));
  // Guessing the current password here counts against the account, as a login does.
  const std::string key = Impl::LoginKey(me.tenant, me.email);
  auto reserved = impl_->ReserveAttempt(key);
  if (!reserved) return reserved.error();
  auto wrong = [&](std::string reason) {
    impl_->Security("PASSWORD_CHANGE_FAILED", {{"user_email", me.email}, {"reason", reason}});
    return PermissionDenied("current_password: does not match");
  };
  if (!*reserved) return wrong("too many failed attempts");
  if (!internal::ValidatePassword(current_password).ok() ||
      !internal::VerifyPassword(me.password_hash, current_password))
    return wrong("wrong password");
  auto hash = internal::HashPassword(new_password, impl_->opt.password_cost);
  if (!hash) return hash.error();
  std::string checked = me.password_hash;  // the stored hash current_password matched
  for (int tries = 1;; ++tries) {
    std::string stored;
    {
      auto txn = impl_->Write();
      if (!txn) return txn.error();
      SMOOTH_RETURN_IF_ERROR((*txn)->ClearLoginFailures(key));
      auto current = (*txn)->GetUser(me.id);
      if (!current) return current.error();
      if (current->password_hash == checked) {
        current->password_hash = std::move(*hash);
        current->sessions_revoked_at = Now();
        SMOOTH_RETURN_IF_ERROR((*txn)->UpdateUser(*current));
        SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
        impl_->Security("PASSWORD_CHANGED", {{"user_email", me.email}});
        return {};
      }
      stored = std::move(current->password_hash);
    }  // the transaction is rolled back before hashing again
    // Another hash is stored: a new password, or the same one hashed again at a new cost
    // by a login (as Login), which current_password still matches. Checked outside the
    // transaction, as the first check was.
    if (tries == 3 || !internal::VerifyPassword(stored, current_password))
      return Aborted("the password changed meanwhile; try again");
    checked = std::move(stored);
  }
}

Status Platform::SetPassword(const Principal& actor, UserId id, std::string_view new_password) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidatePassword(new_password, "new_password"));
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  if (fresh->original)
    return impl_->MasqueradeRefused(*fresh, ActionName(Action::kUserUpdate), fresh->user.tenant,
                                    "a masquerade may not set passwords");
  auto u = impl_->VisibleUser(*fresh, id);
  if (!u) return u.error();
  if (u->user.id == fresh->user.id)
    return PermissionDenied("use ChangePassword for your own password");
  Decision d = impl_->DecideAudited(*fresh, Action::kUserUpdate, u->Target(u->user.role));
  if (!d.allowed) return PermissionDenied(d.reason);
  return impl_->StorePassword(id, new_password, fresh->user.email);
}

Status Platform::ResetPasswordAsOperator(std::optional<TenantId> tenant, std::string_view email,
                                         std::string_view new_password) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidatePassword(new_password, "new_password"));
  auto normalized = internal::NormalizeEmail(email);
  if (!normalized) return normalized.error();
  Result<User> user = NotFound("");
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    user = (*txn)->FindUserByEmail(tenant, *normalized);
  }
  if (!user) {
    return user.error().code() == StatusCode::kNotFound
               ? NotFound(fmt::format("email: no user {} there", *normalized))
               : user.error();
  }
  return impl_->StorePassword(user->id, new_password, nullptr);
}

// --- Masquerading ------------------------------------------------------------------------

Result<Session> Platform::StartMasquerade(SessionId original, UserId target,
                                          std::string_view client_ip) {
  const std::string ip_address = internal::ToStorableText(client_ip);  // as Login keeps it
  auto denied = [&](const std::string& hijacker, const std::string& hijacked,
                    const std::optional<std::string>& tenant, const std::string& reason) {
    impl_->MasqueradeLog("HIJACK_DENIED", hijacker, hijacked, ip_address, "", tenant, reason);
  };
  // The original is authenticated in the write transaction that inserts the masquerade:
  // read before it, it could end, expire or be revoked, and then be deleted
  // (ClearDeadSessions) before the insert, leaving a masquerade of a session not there.
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto session = (*txn)->GetSession(original);
  auto who = session ? impl_->Authenticate(**txn, *session)
                     : Result<Principal>(Unauthenticated("unknown session"));
  if (!who) {
    denied("", "", std::nullopt, who.error().message());
    return who.error();
  }
  // Rights are judged on the real person; a masquerade cannot start another one.
  const User& hijacker = who->RealUser();
  auto target_user = (*txn)->GetUser(target);
  if (!target_user || (hijacker.tenant && target_user->tenant != hijacker.tenant)) {
    denied(hijacker.email, "", std::nullopt, "target user not found");
    return NotFound(fmt::format("user {} not found", target));
  }
  std::optional<Tenant> target_tenant;
  if (target_user->tenant) {
    auto t = (*txn)->GetTenant(*target_user->tenant);
    if (t) target_tenant = *t;
  }
  std::optional<std::string> slug =
      target_tenant ? std::optional(target_tenant->slug) : std::nullopt;
  std::optional<std::string> refusal;
  if (who->original) {
    refusal = "already masquerading: a masquerade cannot start another (maximum depth 1)";
  } else {
    refusal = internal::MasqueradeRefusal(hijacker, *target_user,
                                          target_tenant ? &*target_tenant : nullptr);
  }
  if (refusal) {
    denied(hijacker.email, target_user->email, slug, *refusal);
    return PermissionDenied(*refusal);
  }
  Session s{.id = {},
            .session_key = RandomKey(),
            .user = target_user->id,
            .tenant = target_user->tenant,
            .original = original,
            .ip_address = ip_address,
            .created_at = Now(),
            .ended_at = {}};
  auto created = impl_->InsertSession(**txn, std::move(s));
  if (!created) return created;
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->MasqueradeLog("HIJACK_START", hijacker.email, target_user->email, ip_address,
                       created->session_key, slug, std::nullopt);
  return created;
}

Result<Session> Platform::StopMasquerade(SessionId masquerade) {
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto m = (*txn)->GetSession(masquerade);
  if (!m) return NotFound(fmt::format("session {} not found", masquerade));
  if (!m->original) return FailedPrecondition("session: not a masquerade session");
  if (m->IsEnded()) return FailedPrecondition("session: the masquerade has already ended");
  auto original = (*txn)->GetSession(*m->original);
  if (!original) return Internal("masquerade without its original session");
  std::vector<Impl::HijackEnd> ended;
  SMOOTH_RETURN_IF_ERROR(impl_->EndMasquerade(**txn, *m, original->user, std::nullopt, ended));
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->LogHijackEnds(ended);
  if (original->IsEnded()) return Unauthenticated("the original session has ended");
  return original;
}

// --- Permission grants -------------------------------------------------------------------

Result<Grant> Platform::CreateGrant(const Principal& grantor, UserId grantee, Action action,
                                    std::string_view reason, std::chrono::minutes duration) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(action, &ActionName, "action"));
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(reason, "reason", 500));
  if (duration < std::chrono::minutes(1) || duration > impl_->opt.max_grant_duration)
    return InvalidArgument(fmt::format("duration: must be between 1 and {} minutes",
                                       impl_->opt.max_grant_duration.count()));
  auto fresh = impl_->Refresh(grantor);
  if (!fresh) return fresh.error();
  auto stored = impl_->VisibleUser(*fresh, grantee);
  if (!stored) return NotFound(fmt::format("grantee: user {} not found", grantee));
  const User* target = &stored->user;
  if (target->id == fresh->user.id) return PermissionDenied("grantee: cannot grant to yourself");
  // Deactivation ends a user's grants, so one made before reactivation must not be waiting.
  if (!target->is_active)
    return FailedPrecondition(fmt::format("grantee: user {} is deactivated", target->email));
  Target over_grantee = stored->Target();
  Decision d = impl_->DecideAudited(*fresh, Action::kGrantCreate, over_grantee);
  if (!d.allowed) return PermissionDenied(d.reason);
  if (RoleRank(fresh->user.role) <= RoleRank(target->role))
    return PermissionDenied(fmt::format("{} does not outrank {}", RoleName(fresh->user.role),
                                        RoleName(target->role)));
  // The grantor must itself hold the action (from the matrix, not from grants of its own)
  // over the grantee's scope. The grant carries the narrower of the two scopes.
  Scope held = MatrixScope(fresh->user.role, action);
  Target scope_probe{.tenant = target->tenant, .owner = std::nullopt,
                     .is_temporary = stored->in_demo_tenant, .role = std::nullopt};
  if (!internal::ScopeCovers(held, fresh->user, scope_probe) || held == Scope::kOwnData)
    return PermissionDenied(fmt::format("{} cannot grant {} it does not hold over the grantee",
                                        RoleName(fresh->user.role), ActionName(action)));
  Scope scope = held;
  if (target->tenant && scope == Scope::kAnyTenant) scope = Scope::kOwnTenant;

  Instant now = Now();
  Grant g{.id = {}, .grantor = fresh->user.id, .grantee = target->id, .action = action,
          .scope = scope, .tenant = target->tenant, .reason = std::string(reason),
          .created_at = now, .expires_at = now + duration, .revoked_at = {}, .revoked_by = {},
          .revoke_reason = {}};
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto created = (*txn)->InsertGrant(g);
  if (!created) return created;
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->Security(*fresh, "GRANT_CREATED",
                  {{"grant_id", created->id.value()},
                   {"grantor", fresh->user.email},
                   {"grantee", target->email},
                   {"permission", std::string(ActionName(action))},
                   {"scope", std::string(ScopeName(scope))},
                   {"expires_at", FormatRfc3339(created->expires_at)},
                   {"reason", created->reason}});
  return created;
}

Result<Grant> Platform::RevokeGrant(const Principal& actor, GrantId id, std::string_view reason) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(reason, "reason", 500));
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  Result<Grant> g = NotFound("");
  Target over_grantee;
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    g = (*txn)->GetGrant(id);
    if (g) over_grantee = Impl::GrantTarget(**txn, *g);
  }
  if (!g || Impl::Hidden(*fresh, g->tenant)) return NotFound(fmt::format("grant {} not found", id));
  if (!impl_->MayRevoke(*fresh, *g)) {
    Decision d = impl_->DecideAudited(*fresh, Action::kGrantRevoke, over_grantee);
    return PermissionDenied(d.allowed ? "must outrank the grantee or be the grantor" : d.reason);
  }
  auto txn = impl_->Write();
  if (!txn) return txn.error();
  auto current = (*txn)->GetGrant(id);
  if (!current) return current;
  std::vector<AuditRecord> held;
  auto revoked = impl_->RevokeOne(**txn, *fresh, *current, reason, &held);
  if (!revoked) return revoked;
  SMOOTH_RETURN_IF_ERROR((*txn)->Commit());
  impl_->WriteSecurity(held);
  return revoked;
}


Result<int> Platform::RevokeGrants(const Principal& actor, const std::vector<GrantId>& ids,
                                   std::string_view reason) {
  std::vector<Grant> candidates;
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    for (GrantId id : ids) {
      auto g = (*txn)->GetGrant(id);
      if (g) candidates.push_back(*g);
    }
  }
  return impl_->RevokeSelected(actor, candidates, reason);
}

Result<int> Platform::RevokeGrants(const Principal& actor, const GrantFilter& filter,
                                   std::string_view reason) {
  Result<std::vector<Grant>> candidates = NotFound("");
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    GrantFilter f = filter;
    f.only_active = true;
    candidates = (*txn)->ListGrants(f, Now());
  }
  if (!candidates) return candidates.error();
  return impl_->RevokeSelected(actor, *candidates, reason);
}

Result<std::vector<Grant>> Platform::ListGrants(const Principal& actor, const GrantFilter& filter) {
  auto fresh = impl_->Refresh(actor);
  if (!fresh) return fresh.error();
  Result<std::vector<Grant>> all = NotFound("");
  std::vector<Target> targets;
  {
    auto txn = impl_->Read();
    if (!txn) return txn.error();
    all = (*txn)->ListGrants(filter, Now());
    if (!all) return all;
    std::map<TenantId, bool> demo;  // a listing's grants are of few tenants
    for (const Grant& g : *all) targets.push_back(Impl::GrantTarget(**txn, g, &demo));
  }
  std::vector<Grant> visible;
  for (std::size_t i = 0; i < all->size(); ++i) {
    if (impl_->Decide(*fresh, Action::kGrantRead, targets[i]).allowed)
      visible.push_back((*all)[i]);
  }
  return visible;
}

}  // namespace smooth
