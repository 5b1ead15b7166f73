// The pure access-control rules; see rules.hpp.
#include "access/rules.hpp"

#include <fmt/format.h>

namespace smooth::internal {

bool IsUserManagement(Action action) {
  return action == Action::kUserCreate || action == Action::kUserUpdate ||
         action == Action::kUserDeactivate;
}

bool ScopeCovers(Scope scope, const User& actor, const Target& target) {
  // A tenant user acts only inside its own tenant, whatever any table or grant says.
  if (actor.tenant && target.tenant != actor.tenant) return false;
  switch (scope) {
    case Scope::kNone: return false;
    case Scope::kAnyTenant: return true;
    case Scope::kDemoOnly: return target.is_temporary;
    case Scope::kOwnTenant: return actor.tenant.has_value();
    case Scope::kOwnData: return actor.tenant.has_value() && target.owner == actor.id;
  }
  return false;
}

std::optional<std::string> ActorRefusal(const ActorFacts& actor) {
  if (!actor.user.is_active) return "the acting user is inactive";
  if (actor.tenant_status == TenantStatus::kSuspended)
    return "the acting user's tenant is suspended";
  return std::nullopt;
}

Decision Evaluate(const ActorFacts& actor, Action action, const Target& target,
                  std::span<const Grant> active_grants) {
  const User& user = actor.user;
  if (auto refusal = ActorRefusal(actor)) return {false, std::move(*refusal), {}};
  if (user.tenant && target.tenant != user.tenant)
    return {false, target.tenant ? "the target belongs to another tenant"
                                 : "tenant users cannot act on the platform", {}};
  if (IsUserManagement(action)) {
    if (!target.role) return {false, "user management needs the target user's role", {}};
    if (RoleRank(*target.role) >= RoleRank(user.role))
      return {false,
              fmt::format("{} may only manage users of a lower role than its own, not {}",
                          RoleName(user.role), RoleName(*target.role)),
              {}};
    // The role table gives PLATFORM_SUPPORT tenant users as its scope: it manages no
    // platform user, though PLATFORM_SALES ranks below it.
    if (user.role == Role::kPlatformSupport && !target.tenant)
      return {false, "PLATFORM_SUPPORT may only manage tenant users", {}};
  }
  Scope scope = MatrixScope(user.role, action);
  // Allowed decisions are the hot path (every booking makes one): no formatting there.
  if (ScopeCovers(scope, user, target)) return {true, "allowed by the permission matrix", {}};
  for (const Grant& g : active_grants) {
    if (g.grantee != user.id || g.action != action) continue;
    if (ScopeCovers(g.scope, user, target)) return {true, "allowed by a grant", g.id};
  }
  return {false,
          scope == Scope::kNone
              ? fmt::format("{} may not {}", RoleName(user.role), ActionName(action))
              : fmt::format("{} may {} only with scope {}", RoleName(user.role),
                            ActionName(action), ScopeName(scope)),
          {}};
}

std::optional<std::string> MasqueradeRefusal(const User& hijacker, const User& target,
                                             const Tenant* target_tenant) {
  if (hijacker.id == target.id) return "cannot masquerade as yourself";
  if (target.role == Role::kSuperuser && hijacker.role != Role::kSuperuser)
    return "only a SUPERUSER may masquerade as a SUPERUSER";
  // The masquerade table: who may act as whom.
  bool allowed = false;
  switch (hijacker.role) {
    case Role::kSuperuser:
      allowed = true;
      break;
    case Role::kPlatformSupport:
      allowed = !IsPlatformRole(target.role);
      break;
    case Role::kPlatformSales:
      // Demo accounts: temporary users of a demo tenant (both, should either be changed).
      allowed = target.is_temporary && target_tenant != nullptr && target_tenant->is_demo;
      break;
    case Role::kTenantOwner:
      allowed = target.role == Role::kTenantStaff && target.tenant == hijacker.tenant;
      break;
    default:
      allowed = false;
  }
  if (!allowed)
    return fmt::format("{} may not masquerade as {}{}", RoleName(hijacker.role),
                       RoleName(target.role),
                       hijacker.role == Role::kPlatformSales ? " (demo accounts only)"
                       : hijacker.role == Role::kTenantOwner  ? " (staff of the same tenant only)"
                                                              : "");
  if (!target.is_active) return "the target user is inactive";
  if (target_tenant != nullptr && target_tenant->status == TenantStatus::kSuspended)
    return "the target's tenant is suspended";
  return std::nullopt;
}

}  // namespace smooth::internal
