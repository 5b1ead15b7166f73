// The PostgreSQL schema, as migrations: one list for the shared tables in `public`, one
// for every tenant's schema `tenant_<slug>`.
#pragma once

#include <span>
#include <string_view>

#include "storage/sql/migrations.hpp"

namespace smooth::internal::postgres {

/// Migrations of `public`: the btree_gist extension, tenants, domains, users, grants,
/// sessions, the shared id counter and the object_ids sequence.
std::span<const sql::Migration> SharedMigrations();

/// Migrations of each tenant schema: the scheduling tables, the change sequence, the
/// appointment occupancy table whose EXCLUDE constraint refuses overlapping bookings of
/// capacity-1 resources, and advance_change_seq(expected, epoch), the guard of a deferred
/// write (Storage::BeginTenantWriteAt).
std::span<const sql::Migration> TenantMigrations();

/// The SQLSTATE advance_change_seq raises when the change sequence or the shared epoch is
/// no longer what the writer expected.
extern const std::string_view kStaleWriteSqlstate;

}  // namespace smooth::internal::postgres
