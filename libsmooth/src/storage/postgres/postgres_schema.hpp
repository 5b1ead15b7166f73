// The PostgreSQL schema, as migrations: one list for the shared tables in `public`, one
// for every tenant's schema `tenant_<slug>`.
#pragma once

#include <span>

#include "storage/sql/migrations.hpp"

namespace smooth::internal::postgres {

/// Migrations of `public`: the btree_gist extension, tenants, domains, users, grants,
/// sessions, the shared id counter and the object_ids sequence.
std::span<const sql::Migration> SharedMigrations();

/// Migrations of each tenant schema: the scheduling tables, the change sequence, and the
/// appointment occupancy table whose EXCLUDE constraint refuses overlapping bookings of
/// capacity-1 resources.
std::span<const sql::Migration> TenantMigrations();

}  // namespace smooth::internal::postgres
