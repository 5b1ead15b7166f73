// Platform: the access-control core. Tenants, domains and host resolution, users and
// passwords, authorization against the permission matrix, masquerading, time-limited
// permission grants, and the audit trail.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/access.hpp"
#include "smooth/audit.hpp"
#include "smooth/status.hpp"
#include "smooth/storage.hpp"
#include "smooth/time.hpp"

namespace smooth {

/// Cost of argon2id password hashing. Default() meets OWASP's minimum (19 MiB, 2 passes);
/// production code never needs anything else. InsecureForTests() exists so test suites can
/// create thousands of users quickly, and must be asked for by name.
struct PasswordCost {
  unsigned long long ops_limit = 2;
  std::size_t mem_limit_bytes = 19u * 1024 * 1024;

  static PasswordCost Default() { return {}; }
  static PasswordCost InsecureForTests() { return {1, 8192}; }
};

struct PlatformOptions {
  /// Required. Shared with other components (the scheduler) that use the same data.
  std::shared_ptr<Storage> storage;
  /// Where "now" comes from. Must outlive the Platform.
  const Clock* clock = &SystemClock::Default();
  /// Audit sinks; null discards.
  std::shared_ptr<AuditSink> security_log;
  std::shared_ptr<AuditSink> masquerade_log;
  /// `<slug>.<base_domain>` reaches a tenant, `platform.<base_domain>` the platform.
  std::string base_domain = "lvh.me";
  PasswordCost password_cost = PasswordCost::Default();
  /// The longest duration CreateGrant accepts; at least 1 minute.
  std::chrono::minutes max_grant_duration{8 * 60};
  /// Failed logins allowed per account within `login_throttle_window` before further
  /// attempts are refused (with the same generic message) until the window passes. The
  /// failures are kept in storage, so every Platform (and process) on it counts together.
  int login_max_failures = 5;
  std::chrono::minutes login_throttle_window{15};
  /// How long a session (and its token) works after Login: then it has expired, and the
  /// user logs in again. A masquerade ends with the session it was started from. At least
  /// 1 minute; two weeks by default, as Django's session cookies.
  std::chrono::minutes session_lifetime{14 * 24 * 60};
};

/// What to create in Platform::CreateTenant.
struct TenantSpec {
  std::string slug;
  std::string name;
  SubscriptionTier tier = SubscriptionTier::kFree;
  TenantStatus status = TenantStatus::kActive;
  std::string time_zone = "UTC";
  bool is_demo = false;
};

/// What to change in Platform::UpdateTenant: each field given is set, the others are kept.
/// The slug, time zone and demo flag are fixed at creation; status has its own calls
/// (SuspendTenant, ReactivateTenant).
struct TenantUpdate {
  std::optional<std::string> name;
  std::optional<SubscriptionTier> tier;
};

struct DomainSpec {
  std::string name;
  TenantId tenant;
  bool is_primary = false;
  bool is_custom_domain = false;
  std::optional<std::string> route53_zone_id;
};

struct UserSpec {
  std::string email;
  std::string display_name;
  Role role = Role::kCustomer;
  std::optional<TenantId> tenant;
  std::string password;  // 8..1024 bytes
  /// A demo account, which PLATFORM_SALES may masquerade as: only in a demo tenant.
  bool is_temporary = false;
};

/// Where a Host header leads: the platform, or one tenant.
struct HostMatch {
  bool is_platform = false;
  std::optional<Tenant> tenant;  // set when !is_platform
};

/// The access-control core. Safe to share between threads; all state lives in Storage.
///
///     auto platform = smooth::Platform::Open({.storage = smooth::NewMemoryStorage()});
///     auto root = (*platform)->CreateSuperuser("root@example.com", "Root", "correct horse");
///     auto me = (*platform)->ActAs(root->id);
///     auto acme = (*platform)->CreateTenant(*me, {.slug = "acme", .name = "Acme"});
class Platform {
 public:
  /// Checks the options (invalid_argument naming the field: a missing storage or clock, a
  /// bad base_domain, max_grant_duration, login_throttle_window or session_lifetime under
  /// 1 minute, login_max_failures under 1) and keeps them; everything else is in storage.
  static Result<std::unique_ptr<Platform>> Open(PlatformOptions options);
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  /// The options as Open kept them (base_domain normalized).
  const PlatformOptions& options() const;
  /// Now by the platform's clock: what grant expiry and throttling are judged against.
  Instant Now() const;

  // --- Bootstrap and identity -----------------------------------------------------------

  /// Creates a SUPERUSER without an acting user: for first start and the admin CLI.
  Result<User> CreateSuperuser(std::string_view email, std::string_view display_name,
                               std::string_view password);

  /// A Principal for `user` without a session, for embedders that authenticate users
  /// themselves. unauthenticated when the user is inactive or its tenant suspended.
  Result<Principal> ActAs(UserId user);

  /// The acting user as stored now, which is what every decision reads: a Principal holds
  /// the user as it was when the Principal was made, and a role or status changed since
  /// counts from the next call. unauthenticated when the actor's session has ended,
  /// expired or been revoked, or its masquerade is no longer allowed.
  Result<User> CurrentUser(const Principal& actor);

  /// Logs in on a host: platform users on the platform host, a tenant's users on that
  /// tenant's hosts. Every failure is the same unauthenticated "invalid email or
  /// password" (audited with the real reason), with similar timing for unknown users.
  /// `ip_address` is recorded (session and audit lines) as text: bytes that are not UTF-8,
  /// and NUL, become U+FFFD, as StartMasquerade records its own.
  Result<Session> Login(const HostMatch& where, std::string_view email,
                        std::string_view password, std::string_view ip_address);

  /// The principal behind the live session whose token (Session::token) this is, used on
  /// `where`: the hosts of the session's tenant, or the platform host for a platform
  /// user's session (a masquerade session is in its target's tenant). unauthenticated for
  /// an unknown token, another host, or as Authenticate(SessionId). This is the call for a
  /// server: the token is the only secret a client holds.
  Result<Principal> Authenticate(std::string_view token, const HostMatch& where);

  /// The principal behind a live session; unauthenticated when the session ended, its
  /// original ended, its user was deactivated, or the tenant suspended. Session ids are
  /// not secret (they count up): this is for callers that keep the id on their own side,
  /// never for an id that a client sent.
  Result<Principal> Authenticate(SessionId session);

  /// Ends a session and every masquerade started from it; for a masquerade session, ends
  /// the masquerade (HIJACK_END) and leaves the original session alive. not_found for an
  /// unknown session; ok, doing nothing, for one already ended.
  Status Logout(SessionId session);

  // --- Authorization --------------------------------------------------------------------

  /// Allowed or denied with a reason. Consults the matrix, the actor's and the target's
  /// tenants, is_temporary, role ranks and the actor's active grants. A user of tenant A
  /// is never allowed anything on tenant B. Denials are audited to security.log, and so is
  /// each decision that only an active grant allowed.
  Decision Authorize(const Principal& actor, Action action, const Target& target);

  /// Authorize as a Status: ok, or permission_denied carrying the reason.
  Status Check(const Principal& actor, Action action, const Target& target);
  /// Check for a caller that may decide one request more than once and wants it audited
  /// once (the Scheduler runs a write again when it was decided against a stale state):
  /// the records it would write to security.log go into `held` instead, for WriteHeld
  /// once the answer stands, or to be dropped with an attempt that does not.
  Status Check(const Principal& actor, Action action, const Target& target,
               std::vector<AuditRecord>& held);
  /// Writes records held back by Check to security.log, in order.
  void WriteHeld(std::vector<AuditRecord> held);

  /// Authorize without auditing denials: for deciding what a listing shows, where a "no"
  /// is not an attempt. Grant uses that change the outcome are still audited.
  Decision Evaluate(const Principal& actor, Action action, const Target& target);
  /// Evaluate, with the grant-use record held back as Check's `held` overload does.
  Decision Evaluate(const Principal& actor, Action action, const Target& target,
                    std::vector<AuditRecord>& held);

  /// Appends a record to security.log; for components built on the platform (the
  /// scheduler, the server). Never pass passwords, hashes or tokens.
  void RecordSecurityEvent(std::string action,
                           std::vector<std::pair<std::string, AuditValue>> fields);

  // --- Tenants and domains --------------------------------------------------------------

  Result<Tenant> CreateTenant(const Principal& actor, const TenantSpec& spec);
  Result<Tenant> GetTenant(const Principal& actor, TenantId id);
  /// The tenants the actor may read (tenant.read), by id: every tenant for SUPERUSER,
  /// PLATFORM_MANAGER and PLATFORM_SUPPORT, demo tenants for PLATFORM_SALES, its own for
  /// a tenant user.
  Result<std::vector<Tenant>> ListTenants(const Principal& actor);
  /// A tenant's domains, by id; needs tenant.read over it (not_found for another tenant's).
  Result<std::vector<Domain>> ListDomains(const Principal& actor, TenantId tenant);
  /// Renames a tenant or changes its tier; needs tenant.update over it. The tier is what
  /// the tenant pays for, so changing it needs tenant.update on the platform itself
  /// (SUPERUSER, PLATFORM_MANAGER): an owner cannot upgrade its own tenant. Audited as
  /// TENANT_UPDATED with the fields that changed.
  Result<Tenant> UpdateTenant(const Principal& actor, TenantId id, const TenantUpdate& update);
  Result<Tenant> SuspendTenant(const Principal& actor, TenantId id, std::string_view reason);
  Result<Tenant> ReactivateTenant(const Principal& actor, TenantId id);
  /// Deletes a tenant for good, with everything it has: its data, its domains, its users
  /// and their sessions and grants (Storage::DeleteTenant). Only a SUPERUSER, not during a
  /// masquerade (permission_denied, audited as EndSessions says), and only a suspended tenant
  /// (failed_precondition: suspend it first, which already stops its users). Masquerades
  /// into it that were still open end in masquerade.log (HIJACK_END, "tenant deleted").
  /// Its slug is never used again (CreateTenant: already_exists). Audited TENANT_DELETED.
  Status DeleteTenant(const Principal& actor, TenantId id);

  Result<Domain> AddDomain(const Principal& actor, const DomainSpec& spec);
  /// Records the outcome of a DNS verification check; sets verified_at when verified.
  /// Marking a custom domain verified needs domain.manage on the platform itself
  /// (SUPERUSER, PLATFORM_MANAGER): a tenant cannot vouch for a name it asked for.
  Result<Domain> SetDomainVerification(const Principal& actor, DomainId id,
                                       DomainVerification verification);

  /// Resolves a Host header (port stripped, case-insensitive): `platform.<base>` → the
  /// platform, `<slug>.<base>` → that tenant (a '-' in the label stands for the slug's '_',
  /// which host names cannot carry), a verified custom domain → its tenant;
  /// everything else, the bare base domain included, is not_found. Never a default.
  Result<HostMatch> ResolveHost(std::string_view host_header);

  // --- Users ----------------------------------------------------------------------------

  /// Needs user.create for a role below the actor's. Not during a masquerade, which would
  /// choose the new user's password (permission_denied, audited PERMISSION_DENIED with
  /// hijacker_email).
  Result<User> CreateUser(const Principal& actor, const UserSpec& spec);
  Result<User> GetUser(const Principal& actor, UserId id);
  /// GetUser with its audit record (a denial, a grant use) held back, as Check's `held`
  /// overload does.
  Result<User> GetUser(const Principal& actor, UserId id, std::vector<AuditRecord>& held);
  /// The users of `tenant` (platform users for nullopt) that the actor may read
  /// (user.read), by id: a CUSTOMER sees only itself; another tenant's users are not_found.
  Result<std::vector<User>> ListUsers(const Principal& actor, std::optional<TenantId> tenant);
  Result<User> ChangeRole(const Principal& actor, UserId id, Role new_role);
  /// Stops a user logging in, ends its sessions and revokes its grants; needs
  /// user.deactivate over a role below the actor's. failed_precondition for a user already
  /// deactivated (nothing written or audited again).
  Result<User> DeactivateUser(const Principal& actor, UserId id);
  /// Lets a deactivated user log in again; needs what DeactivateUser needs. Its sessions
  /// from before stay ended. failed_precondition for a user who is active.
  Result<User> ReactivateUser(const Principal& actor, UserId id);
  /// Ends every session of the user at once ("log out everywhere"), the caller's own
  /// included when it is the user: for oneself, or with user.deactivate over the user.
  /// Not during a masquerade (permission_denied, audited PERMISSION_DENIED with
  /// hijacker_email). Audited SESSIONS_REVOKED.
  Status EndSessions(const Principal& actor, UserId id);
  /// Deletes from storage every session no call would accept any more: ended (Logout,
  /// StopMasquerade), expired (session_lifetime after its login), revoked (EndSessions, a
  /// password change) or of a deactivated user, and every masquerade started from one of
  /// those. A masquerade still open then ends in masquerade.log (HIJACK_END, "original
  /// session expired" and the like). Housekeeping with no actor, like Django's
  /// clearsessions: run it from a timer or cron (smooth-admin clear-sessions), or the
  /// sessions table keeps a row for every login ever made. Every process sharing the
  /// storage should use one session_lifetime, since this one's decides what has expired.
  /// Deletes at most 500 sessions a write transaction, so logins are not held up for long.
  /// Returns how many went; each transaction that deleted any is audited SESSIONS_CLEARED
  /// with its count.
  Result<int> ClearDeadSessions();
  /// The actor changes its own password, giving the current one. Every session of the
  /// user ends, this one included: log in again with the new password. A wrong current
  /// password is permission_denied ("current_password: does not match") and counts as a
  /// failed login of the account (so guessing is throttled as login is); a masquerade may
  /// not (permission_denied, audited as EndSessions says). `new_password`: 8 to 1024 bytes. Audited
  /// PASSWORD_CHANGED, or PASSWORD_CHANGE_FAILED.
  Status ChangePassword(const Principal& actor, std::string_view current_password,
                        std::string_view new_password);
  /// Sets another user's password (an administrator's reset): needs user.update over the
  /// user, who must rank below the actor, as for ChangeRole. The user's sessions end. Not
  /// for one's own password (ChangePassword), nor during a masquerade (audited as
  /// EndSessions says). Audited PASSWORD_SET.
  Status SetPassword(const Principal& actor, UserId id, std::string_view new_password);
  /// Sets the password of the user with `email` in `tenant` (platform users: nullopt) with
  /// no actor: for an operator with access to the storage itself, who could change the
  /// rows anyway (smooth-admin set-password), like CreateSuperuser. The way back in when a
  /// superuser's password is lost. Revokes the user's sessions; audited PASSWORD_SET with
  /// `by` null. not_found for an unknown user.
  Status ResetPasswordAsOperator(std::optional<TenantId> tenant, std::string_view email,
                                 std::string_view new_password);

  // --- Masquerading ---------------------------------------------------------------------

  /// Starts acting as `target` from `original`. Returns the new session. Refusals are
  /// permission_denied (unauthenticated for a dead session; not_found for an unknown
  /// target or another tenant's) and audited HIJACK_DENIED. The session works only while
  /// the masquerade table would still allow it (re-checked on every call).
  Result<Session> StartMasquerade(SessionId original, UserId target,
                                  std::string_view ip_address);
  /// Ends a masquerade session and returns the original session. not_found for an unknown
  /// session, failed_precondition for one that is not a masquerade or has already ended;
  /// unauthenticated (the masquerade still ended) when the original session has ended.
  Result<Session> StopMasquerade(SessionId masquerade);

  // --- Permission grants ----------------------------------------------------------------

  /// Grants `grantee` the right to perform `action` for `duration` (1 minute up to
  /// max_grant_duration). The grantor must be allowed the action in the grantee's scope
  /// and outrank the grantee; the reason is required (<= 500 characters).
  Result<Grant> CreateGrant(const Principal& grantor, UserId grantee, Action action,
                            std::string_view reason,
                            std::chrono::minutes duration = std::chrono::minutes(30));
  /// Revokes one grant: the grantor may, or anyone who outranks the grantee and holds
  /// grant.revoke over it. The reason is required (<= 500 characters); failed_precondition
  /// when the grant is already revoked.
  Result<Grant> RevokeGrant(const Principal& actor, GrantId id, std::string_view reason);
  /// Revokes each listed grant that is active and the actor may revoke; returns the count.
  Result<int> RevokeGrants(const Principal& actor, const std::vector<GrantId>& ids,
                           std::string_view reason);
  /// Revokes every active grant matching `filter` that the actor may revoke.
  Result<int> RevokeGrants(const Principal& actor, const GrantFilter& filter,
                           std::string_view reason);
  /// The grants matching `filter` that the actor may read (grant.read over the grantee);
  /// the others are left out, without an audit record.
  Result<std::vector<Grant>> ListGrants(const Principal& actor, const GrantFilter& filter);

 private:
  struct Impl;
  explicit Platform(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smooth
