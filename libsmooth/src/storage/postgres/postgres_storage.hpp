// The PostgreSQL backend: shared tables in `public`, one schema `tenant_<slug>` per tenant.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/storage.hpp"

namespace smooth::internal::postgres {

/// Connects with the libpq `conninfo` (a postgresql:// URI or key=value pairs), creates
/// the btree_gist extension when missing, and migrates `public`; a tenant's schema is
/// checked, and migrated when behind, the first time this process enters it. `options` are
/// checked by OpenStorage.
Result<std::unique_ptr<Storage>> OpenPostgresStorage(std::string_view conninfo,
                                                     const StorageOptions& options);

/// The schema that holds `slug`'s tenant data: "tenant_" + the slug in lower case.
/// invalid_argument when the slug cannot name a schema ([a-z][a-z0-9_]{0,55}).
Result<std::string> TenantSchemaName(std::string_view slug);

/// For tests: runs `query` (returning one text value) on one of `storage`'s pooled
/// connections outside any transaction, e.g. "SHOW search_path" after tenant work; with
/// pool_size 1 it is the connection every transaction used. invalid_argument when
/// `storage` is not the PostgreSQL backend.
Result<std::string> QueryPooledConnectionForTesting(Storage& storage, const std::string& query);

/// For tests: the value libpq uses for conninfo `keyword` on one of `storage`'s pooled
/// connections ("(unset)" when none).
Result<std::string> PooledConninfoForTesting(Storage& storage, const std::string& keyword);

/// For smooth-admin (storage/admin.cpp): one connection with the backend's own session
/// settings, running the backend's migrations one database at a time under its advisory
/// lock, and read-only looks at the schemas for the check. Errors name the database
/// ("shared database", "tenant 'acme'") and, for a failed migration, the migration.
class PostgresMaintenance {
 public:
  struct TenantRow {
    long long id = 0;
    std::string slug;
  };

  /// Connects (never creates or migrates anything).
  static Result<std::unique_ptr<PostgresMaintenance>> Open(std::string_view conninfo);
  ~PostgresMaintenance();

  /// Migrates `public`, exactly as OpenStorage does.
  Status MigrateShared();
  /// Migrates the schema of the tenant `slug`, exactly as OpenStorage does; not_found when
  /// the slug names no schema or the schema is missing.
  Status MigrateTenant(std::string_view slug);
  /// public.tenants, in id order.
  Result<std::vector<TenantRow>> Tenants();
  /// The versions in `schema`'s schema_migrations ("public" for the shared database).
  Result<std::vector<int>> AppliedMigrations(const std::string& schema, std::string_view label);
  /// failed_precondition, naming the database and some of what it holds, when it holds
  /// another application's relations and no libsmooth version table (MigrateShared refuses
  /// to install into it); ok when it is libsmooth's or empty.
  Status OursOrEmpty();
  /// Whether the schema exists.
  Result<bool> SchemaExists(const std::string& schema);
  /// The tenant_id of `schema`'s tenant_meta row; nullopt when there is not exactly one.
  Result<std::optional<long long>> SchemaOwner(const std::string& schema);
  /// Every schema named tenant_*, sorted.
  Result<std::vector<std::string>> TenantSchemas();
  /// The rows of `query`, read in `schema` (a read-only transaction with search_path set to
  /// it alone); every column must be TEXT and not NULL. `what` names the read in errors.
  Result<std::vector<std::vector<std::string>>> TextRows(const std::string& schema,
                                                         std::string_view what,
                                                         const std::string& query);

 private:
  struct Impl;
  explicit PostgresMaintenance(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smooth::internal::postgres
