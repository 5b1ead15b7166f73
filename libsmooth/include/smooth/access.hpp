// The access-control vocabulary: tenants, domains, users, the 8 roles, actions, the
// permission matrix, grants and sessions. The operations on them live in platform.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "smooth/ids.hpp"
#include "smooth/status.hpp"
#include "smooth/time.hpp"

namespace smooth {

// ---------------------------------------------------------------------------------------
// Roles

/// The eight roles. Platform roles belong to no tenant; tenant roles belong to exactly one.
enum class Role {
  kSuperuser,
  kPlatformManager,
  kPlatformSales,
  kPlatformSupport,
  kTenantOwner,
  kTenantManager,
  kTenantStaff,
  kCustomer,
};

inline constexpr std::array<Role, 8> kAllRoles = {
    Role::kSuperuser,   Role::kPlatformManager, Role::kPlatformSales, Role::kPlatformSupport,
    Role::kTenantOwner, Role::kTenantManager,   Role::kTenantStaff,   Role::kCustomer};

/// "SUPERUSER", "TENANT_STAFF", ...
std::string_view RoleName(Role role);
/// Parses a role name as written by RoleName (exact, upper case).
Result<Role> ParseRole(std::string_view name);
/// True for SUPERUSER, PLATFORM_MANAGER, PLATFORM_SALES and PLATFORM_SUPPORT.
bool IsPlatformRole(Role role);
/// Rank used for "strictly lower role" rules; higher outranks lower. SUPERUSER 8,
/// PLATFORM_MANAGER 7, PLATFORM_SUPPORT 6, PLATFORM_SALES 5, TENANT_OWNER 4,
/// TENANT_MANAGER 3, TENANT_STAFF 2, CUSTOMER 1.
int RoleRank(Role role);

// ---------------------------------------------------------------------------------------
// Tenants, domains, users

enum class SubscriptionTier { kFree, kProfessional, kBusiness, kEnterprise };
enum class TenantStatus { kActive, kTrial, kSuspended };

std::string_view TierName(SubscriptionTier tier);  // "free", "professional", ...
Result<SubscriptionTier> ParseTier(std::string_view name);
std::string_view TenantStatusName(TenantStatus status);  // "active", "trial", "suspended"
Result<TenantStatus> ParseTenantStatus(std::string_view name);

/// A business hosted on the platform. `slug` doubles as its schema / file name.
struct Tenant {
  TenantId id;
  std::string slug;  // [a-z][a-z0-9_]{0,55}, unique case-insensitively
  std::string name;
  SubscriptionTier tier = SubscriptionTier::kFree;
  TenantStatus status = TenantStatus::kActive;
  std::string time_zone = "UTC";  // IANA name
  bool is_demo = false;           // demo tenants are what PLATFORM_SALES may touch
  Instant created_at{};
};

enum class DomainVerification { kPending, kVerified, kFailed };
std::string_view DomainVerificationName(DomainVerification v);  // "pending", ...
Result<DomainVerification> ParseDomainVerification(std::string_view name);

/// A host name that leads to a tenant.
struct Domain {
  DomainId id;
  std::string name;  // lower case, no trailing dot, LDH labels, <= 253 chars
  TenantId tenant;
  bool is_primary = false;
  bool is_custom_domain = false;
  std::optional<std::string> route53_zone_id;
  DomainVerification verification = DomainVerification::kPending;
  std::optional<Instant> verified_at;
  Instant created_at{};
};

/// A login. Platform users have no tenant; tenant users have exactly one.
struct User {
  UserId id;
  std::string email;  // trimmed, lower case
  std::string display_name;
  Role role = Role::kCustomer;
  std::optional<TenantId> tenant;
  bool is_active = true;
  bool is_temporary = false;  // demo accounts
  std::string password_hash;  // argon2id encoded string; never logged
  Instant created_at{};
  // The user's sessions made at or before this instant no longer work. Set by a password
  // change (ChangePassword, SetPassword, ResetPasswordAsOperator), ReactivateUser and
  // EndSessions; unset until then.
  // (While a user is inactive, is_active alone refuses its sessions.)
  std::optional<Instant> sessions_revoked_at;
};

// ---------------------------------------------------------------------------------------
// Actions, scopes and the permission matrix

/// Everything that can be authorized. The names are the dotted strings of ActionName.
enum class Action {
  kTenantCreate,
  kTenantRead,
  kTenantUpdate,
  kTenantSuspend,
  kDomainManage,
  kUserCreate,
  kUserRead,
  kUserUpdate,
  kUserDeactivate,
  kResourceManage,
  kServiceManage,
  kCustomerRead,
  kCustomerManage,
  kAppointmentReadAll,
  kAppointmentReadOwn,
  kAppointmentCreate,
  kAppointmentUpdate,
  kAppointmentCancel,
  kAvailabilityRead,
  kGrantCreate,
  kGrantRevoke,
  kGrantRead,
  kMasqueradeStart,
  kAuditRead,
  kBillingView,
};
inline constexpr std::size_t kActionCount = 25;

/// "tenant.create", "appointment.read_all", ...
std::string_view ActionName(Action action);
Result<Action> ParseAction(std::string_view name);
/// Every action, in declaration order.
const std::array<Action, kActionCount>& AllActions();

/// Where a role may perform an action.
enum class Scope {
  kNone,       // never
  kOwnData,    // in its own tenant, on data it owns (Target::owner is the actor)
  kOwnTenant,  // anywhere in its own tenant
  kDemoOnly,   // only on demo data (Target::is_temporary)
  kAnyTenant,  // on every tenant and on the platform itself
};
std::string_view ScopeName(Scope scope);  // "none", "own_data", ...

/// The permission matrix: the one declarative table that says, for each role and action,
/// the scope in which it is allowed. Everything else consults this.
Scope MatrixScope(Role role, Action action);

/// docs/permissions.md's table, rendered from MatrixScope. A test keeps the two equal.
std::string RenderPermissionMatrixMarkdown();

/// What an action is aimed at.
struct Target {
  /// The tenant the object lives in; nullopt for platform-level objects (tenants being
  /// created, platform users, the platform's own settings).
  std::optional<TenantId> tenant;
  /// The user who owns the object, for own_data rules (a customer's appointment, a
  /// staff member's schedule).
  std::optional<UserId> owner;
  /// Demo data: anything inside a demo tenant (the only place temporary users exist).
  bool is_temporary = false;
  /// For user.create / user.update / user.deactivate: the role the target user has or
  /// will have. Actors may only manage strictly lower roles, and PLATFORM_SUPPORT only
  /// users of a tenant (a `tenant` here).
  std::optional<Role> role;
};

/// The answer of Platform::Authorize.
struct Decision {
  bool allowed = false;
  std::string reason;               // why not, or which rule allowed it
  std::optional<GrantId> via_grant;  // set when an active grant made the difference
  explicit operator bool() const { return allowed; }
};

// ---------------------------------------------------------------------------------------
// Grants and sessions

enum class GrantStatus { kActive, kExpired, kRevoked };
std::string_view GrantStatusName(GrantStatus status);

/// A time-limited permission: `grantee` may perform `action` within `scope` until
/// `expires_at`, unless revoked first.
struct Grant {
  GrantId id;
  UserId grantor;
  UserId grantee;
  Action action = Action::kTenantRead;
  /// Where the grant applies, judged for the grantee like a matrix cell. For a tenant
  /// grantee this is never wider than own_tenant.
  Scope scope = Scope::kNone;
  std::optional<TenantId> tenant;  // the grantee's tenant, if any
  std::string reason;
  Instant created_at{};
  Instant expires_at{};
  std::optional<Instant> revoked_at;
  std::optional<UserId> revoked_by;
  std::string revoke_reason;

  /// Not revoked and now < expires_at.
  bool IsActive(Instant now) const { return !revoked_at && now < expires_at; }
  GrantStatus StatusAt(Instant now) const {
    if (revoked_at) return GrantStatus::kRevoked;
    return now < expires_at ? GrantStatus::kActive : GrantStatus::kExpired;
  }
};

/// Which grants a bulk operation or listing selects. Unset fields match everything.
struct GrantFilter {
  std::optional<UserId> grantee;
  std::optional<Action> action;
  std::optional<UserId> grantor;
  std::optional<TenantId> tenant;
  bool only_active = false;  // active at the platform clock's now
};

/// A logged-in session. A masquerade session points at the original session it was
/// started from, and never outlives it.
struct Session {
  SessionId id;
  /// A random identifier for logs and correlation; not a secret.
  std::string session_key;
  /// The bearer secret that Platform::Authenticate(token, host) takes: 256 random bits,
  /// base64url (43 characters). Set only in the Session that Platform::Login or
  /// StartMasquerade returns, to be handed to the client once; never stored or logged.
  std::string token;
  /// SHA-256 of the token, lower-case hex: what storage keeps and finds the session by.
  /// Empty for a session made before tokens existed.
  std::string token_hash;
  UserId user;  // who this session acts as
  std::optional<TenantId> tenant;
  std::optional<SessionId> original;  // set for masquerade sessions
  std::string ip_address;
  Instant created_at{};
  std::optional<Instant> ended_at;
  bool IsEnded() const { return ended_at.has_value(); }
};

/// Who is acting: the effective user and, while masquerading, the original one.
/// Obtain it from Platform::Authenticate (for a session) or Platform::ActAs (for
/// embedders with their own authentication). Platform re-reads the users on every call,
/// so a Principal held across a deactivation or suspension stops working. One with a
/// session must say what the stored session says: its user, and for a masquerade session
/// the original user (else unauthenticated).
struct Principal {
  User user;
  std::optional<User> original;  // the real person behind a masquerade
  std::optional<Session> session;
  /// The user whose rights decide masquerade questions: the original if masquerading.
  const User& RealUser() const { return original ? *original : user; }
};

}  // namespace smooth
