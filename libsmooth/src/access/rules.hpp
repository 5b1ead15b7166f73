// The pure decision rules of access control: matrix scopes applied to a target, the
// user-management rank rule, and the masquerade table. No storage, no clock, no audit;
// Platform feeds them fresh facts and records the outcome.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "smooth/access.hpp"

namespace smooth::internal {

/// Facts about the acting user needed to decide.
struct ActorFacts {
  const User& user;
  std::optional<TenantStatus> tenant_status;  // nullopt for platform users
};

/// True when `scope`, held by `actor`, covers `target`. Tenant users never reach another
/// tenant or the platform, whatever the scope.
bool ScopeCovers(Scope scope, const User& actor, const Target& target);

/// Why `actor` may not act at all (inactive, or its tenant suspended), or nullopt.
std::optional<std::string> ActorRefusal(const ActorFacts& actor);

/// The full decision: actor state, matrix, rank rule, then active grants (in order).
/// `active_grants` are the actor's grants for `action` that are active now.
Decision Evaluate(const ActorFacts& actor, Action action, const Target& target,
                  std::span<const Grant> active_grants);

/// Why `hijacker` may not masquerade as `target`, or nullopt when it may. Applies the
/// masquerade table and the rules (not yourself, SUPERUSER only by SUPERUSER, target
/// active, target's tenant not suspended). `target_tenant`: the target's tenant as stored
/// now (nullptr for a platform user). Depth is the caller's to check.
std::optional<std::string> MasqueradeRefusal(const User& hijacker, const User& target,
                                             const Tenant* target_tenant);

/// True for user.create, user.update and user.deactivate: actions limited to users of a
/// strictly lower role.
bool IsUserManagement(Action action);

}  // namespace smooth::internal
