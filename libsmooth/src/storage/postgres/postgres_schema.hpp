// The PostgreSQL schema, as migrations: one list for the shared tables in `public`, one
// for every tenant's schema `tenant_<slug>`.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "storage/sql/migrations.hpp"

namespace smooth::internal::postgres {

/// Migrations of `public`: the btree_gist extension, tenants, domains, users, grants,
/// sessions, the shared id counter and the object_ids sequence.
std::span<const sql::Migration> SharedMigrations();

/// Migrations of each tenant schema: the scheduling tables, the change sequence, the
/// appointment occupancy table whose EXCLUDE constraint refuses overlapping bookings of
/// capacity-1 resources, and stale_write(message), which the guard of a deferred write
/// (Storage::BeginTenantWriteAt) calls when the write is stale.
std::span<const sql::Migration> TenantMigrations();

/// `name` as a quoted SQL identifier: "name", with any " doubled.
std::string QuoteIdent(std::string_view name);

/// The SQLSTATE a write's guard raises (stale_write) when the change sequence or the
/// shared epoch is no longer what the writer expected.
extern const std::string_view kStaleWriteSqlstate;

}  // namespace smooth::internal::postgres
