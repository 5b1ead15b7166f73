// Names of the access-control enums, and the permission matrix: the single table that
// decides which role may do what, where.
#include "smooth/access.hpp"

#include <fmt/format.h>

#include <string>

#include "core/enum_names.hpp"

namespace smooth {
using internal::ParseByName;

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSuperuser: return "SUPERUSER";
    case Role::kPlatformManager: return "PLATFORM_MANAGER";
    case Role::kPlatformSales: return "PLATFORM_SALES";
    case Role::kPlatformSupport: return "PLATFORM_SUPPORT";
    case Role::kTenantOwner: return "TENANT_OWNER";
    case Role::kTenantManager: return "TENANT_MANAGER";
    case Role::kTenantStaff: return "TENANT_STAFF";
    case Role::kCustomer: return "CUSTOMER";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view name) {
  return ParseByName(name, kAllRoles, &RoleName, "role");
}

bool IsPlatformRole(Role role) {
  switch (role) {
    case Role::kSuperuser:
    case Role::kPlatformManager:
    case Role::kPlatformSales:
    case Role::kPlatformSupport:
      return true;
    default:
      return false;
  }
}

int RoleRank(Role role) {
  switch (role) {
    case Role::kSuperuser: return 8;
    case Role::kPlatformManager: return 7;
    case Role::kPlatformSupport: return 6;
    case Role::kPlatformSales: return 5;
    case Role::kTenantOwner: return 4;
    case Role::kTenantManager: return 3;
    case Role::kTenantStaff: return 2;
    case Role::kCustomer: return 1;
  }
  return 0;
}

std::string_view TierName(SubscriptionTier tier) {
  switch (tier) {
    case SubscriptionTier::kFree: return "free";
    case SubscriptionTier::kProfessional: return "professional";
    case SubscriptionTier::kBusiness: return "business";
    case SubscriptionTier::kEnterprise: return "enterprise";
  }
  return "unknown";
}

Result<SubscriptionTier> ParseTier(std::string_view name) {
  static constexpr std::array<SubscriptionTier, 4> kAll = {
      SubscriptionTier::kFree, SubscriptionTier::kProfessional, SubscriptionTier::kBusiness,
      SubscriptionTier::kEnterprise};
  return ParseByName(name, kAll, &TierName, "tier");
}

std::string_view TenantStatusName(TenantStatus status) {
  switch (status) {
    case TenantStatus::kActive: return "active";
    case TenantStatus::kTrial: return "trial";
    case TenantStatus::kSuspended: return "suspended";
  }
  return "unknown";
}

Result<TenantStatus> ParseTenantStatus(std::string_view name) {
  static constexpr std::array<TenantStatus, 3> kAll = {
      TenantStatus::kActive, TenantStatus::kTrial, TenantStatus::kSuspended};
  return ParseByName(name, kAll, &TenantStatusName, "status");
}

std::string_view DomainVerificationName(DomainVerification v) {
  switch (v) {
    case DomainVerification::kPending: return "pending";
    case DomainVerification::kVerified: return "verified";
    case DomainVerification::kFailed: return "failed";
  }
  return "unknown";
}

Result<DomainVerification> ParseDomainVerification(std::string_view name) {
  static constexpr std::array<DomainVerification, 3> kAll = {
      DomainVerification::kPending, DomainVerification::kVerified, DomainVerification::kFailed};
  return ParseByName(name, kAll, &DomainVerificationName, "verification");
}

std::string_view GrantStatusName(GrantStatus status) {
  switch (status) {
    case GrantStatus::kActive: return "active";
    case GrantStatus::kExpired: return "expired";
    case GrantStatus::kRevoked: return "revoked";
  }
  return "unknown";
}

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kNone: return "none";
    case Scope::kOwnData: return "own_data";
    case Scope::kOwnTenant: return "own_tenant";
    case Scope::kDemoOnly: return "demo_only";
    case Scope::kAnyTenant: return "any_tenant";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------
// The permission matrix.

namespace {

struct ActionRow {
  Action action;
  std::string_view name;
  // One scope per role, in kAllRoles order:
  // SUPERUSER, PLATFORM_MANAGER, PLATFORM_SALES, PLATFORM_SUPPORT,
  // TENANT_OWNER, TENANT_MANAGER, TENANT_STAFF, CUSTOMER.
  std::array<Scope, 8> scopes;
};

constexpr Scope A = Scope::kAnyTenant;
constexpr Scope T = Scope::kOwnTenant;
constexpr Scope O = Scope::kOwnData;
constexpr Scope D = Scope::kDemoOnly;
constexpr Scope N = Scope::kNone;

// The single source of truth. docs/permissions.md is rendered from this table and a test
// fails when the two differ.
//                                                   SU PM PSa PSu TO TM TS CU
constexpr std::array<ActionRow, kActionCount> kMatrix = {{
    {Action::kTenantCreate,       "tenant.create",        {A, A, D, N, N, N, N, N}},
    {Action::kTenantRead,         "tenant.read",          {A, A, D, A, T, T, T, T}},
    {Action::kTenantUpdate,       "tenant.update",        {A, A, D, N, T, N, N, N}},
    {Action::kTenantSuspend,      "tenant.suspend",       {A, A, N, N, N, N, N, N}},
    {Action::kDomainManage,       "domain.manage",        {A, A, D, N, T, N, N, N}},
    {Action::kUserCreate,         "user.create",          {A, A, D, N, T, T, N, N}},
    {Action::kUserRead,           "user.read",            {A, A, D, A, T, T, T, O}},
    {Action::kUserUpdate,         "user.update",          {A, A, D, A, T, T, N, N}},
    {Action::kUserDeactivate,     "user.deactivate",      {A, A, D, N, T, T, N, N}},
    {Action::kResourceManage,     "resource.manage",      {A, A, D, N, T, T, N, N}},
    {Action::kServiceManage,      "service.manage",       {A, A, D, N, T, T, N, N}},
    {Action::kCustomerRead,       "customer.read",        {A, A, D, A, T, T, T, O}},
    {Action::kCustomerManage,     "customer.manage",      {A, A, D, N, T, T, N, O}},
    {Action::kAppointmentReadAll, "appointment.read_all", {A, A, D, A, T, T, N, N}},
    {Action::kAppointmentReadOwn, "appointment.read_own", {A, A, D, A, T, T, O, O}},
    {Action::kAppointmentCreate,  "appointment.create",   {A, A, D, N, T, T, T, O}},
    {Action::kAppointmentUpdate,  "appointment.update",   {A, A, D, N, T, T, O, O}},
    {Action::kAppointmentCancel,  "appointment.cancel",   {A, A, D, N, T, T, O, O}},
    {Action::kAvailabilityRead,   "availability.read",    {A, A, D, A, T, T, T, T}},
    {Action::kGrantCreate,        "grant.create",         {A, A, N, N, T, T, N, N}},
    {Action::kGrantRevoke,        "grant.revoke",         {A, A, N, N, T, T, N, N}},
    {Action::kGrantRead,          "grant.read",           {A, A, N, A, T, T, O, N}},
    {Action::kMasqueradeStart,    "masquerade.start",     {A, N, D, A, T, N, N, N}},
    {Action::kAuditRead,          "audit.read",           {A, A, N, A, T, N, N, N}},
    {Action::kBillingView,        "billing.view",         {A, A, D, N, T, N, N, N}},
}};

constexpr bool MatrixInDeclarationOrder() {
  for (std::size_t i = 0; i < kMatrix.size(); ++i) {
    if (static_cast<std::size_t>(kMatrix[i].action) != i) return false;
  }
  return true;
}
static_assert(MatrixInDeclarationOrder(), "kMatrix rows must follow enum Action's order");

constexpr std::array<Action, kActionCount> MakeAllActions() {
  std::array<Action, kActionCount> all{};
  for (std::size_t i = 0; i < kMatrix.size(); ++i) all[i] = kMatrix[i].action;
  return all;
}
constexpr std::array<Action, kActionCount> kAllActions = MakeAllActions();

}  // namespace

std::string_view ActionName(Action action) {
  const auto i = static_cast<std::size_t>(action);  // a negative value wraps: out of range too
  return i < kMatrix.size() ? kMatrix[i].name : std::string_view("unknown");
}

Result<Action> ParseAction(std::string_view name) {
  return ParseByName(name, kAllActions, &ActionName, "action");
}

const std::array<Action, kActionCount>& AllActions() { return kAllActions; }

Scope MatrixScope(Role role, Action action) {
  // An action or role cast from an integer out of range is allowed nothing.
  const auto a = static_cast<std::size_t>(action);
  const auto r = static_cast<std::size_t>(role);
  if (a >= kMatrix.size() || r >= kAllRoles.size()) return Scope::kNone;
  return kMatrix[a].scopes[r];
}

std::string RenderPermissionMatrixMarkdown() {
  std::string out = "| Action |";
  for (Role r : kAllRoles) out += fmt::format(" {} |", RoleName(r));
  out += "\n|---|";
  for (std::size_t i = 0; i < kAllRoles.size(); ++i) out += "---|";
  out += "\n";
  for (const ActionRow& row : kMatrix) {
    out += fmt::format("| `{}` |", row.name);
    for (Role r : kAllRoles) {
      Scope s = row.scopes[static_cast<std::size_t>(r)];
      out += s == Scope::kNone ? std::string(" — |") : fmt::format(" {} |", ScopeName(s));
    }
    out += "\n";
  }
  return out;
}

}  // namespace smooth
