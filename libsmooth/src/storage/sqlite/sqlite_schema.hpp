// The SQLite schema, as migrations: one list for shared.db, one for every tenant file.
#pragma once

#include <span>

#include "storage/sql/migrations.hpp"

namespace smooth::internal::sqlite {

/// Migrations of shared.db: tenants, domains, users, grants, sessions and the id counters.
std::span<const sql::Migration> SharedMigrations();

/// Migrations of each tenant_<slug>.db: the tenant's scheduling tables and change sequence.
std::span<const sql::Migration> TenantMigrations();

}  // namespace smooth::internal::sqlite
