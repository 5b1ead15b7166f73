// The SQLite backend: shared.db plus one tenant_<slug>.db per tenant in a data directory.
#pragma once

#include <memory>
#include <string_view>

#include "smooth/storage.hpp"

namespace smooth::internal::sqlite {

/// Opens (creating when missing, mode 0700) the data directory `dir` and migrates
/// shared.db, then every tenant file.
Result<std::unique_ptr<Storage>> OpenSqliteStorage(std::string_view dir,
                                                   const StorageOptions& options);

/// For tests: the value of `PRAGMA <name>` (a lower-case identifier) on a pooled connection
/// of shared.db, or of the tenant's file when `tenant` is set — per-connection settings
/// such as `synchronous` can only be read there. invalid_argument when `storage` is not
/// the SQLite backend.
Result<std::string> PragmaForTesting(Storage& storage, std::string_view name,
                                     const Tenant* tenant = nullptr);

}  // namespace smooth::internal::sqlite
