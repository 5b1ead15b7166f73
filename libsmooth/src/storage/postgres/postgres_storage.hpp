// The PostgreSQL backend: shared tables in `public`, one schema `tenant_<slug>` per tenant.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "smooth/storage.hpp"

namespace smooth::internal::postgres {

/// Connects with the libpq `conninfo` (a postgresql:// URI or key=value pairs), creates
/// the btree_gist extension when missing, and migrates `public`, then every tenant schema.
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

}  // namespace smooth::internal::postgres
