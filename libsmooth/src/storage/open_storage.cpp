// OpenStorage: the storage backend chosen by URL.
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "smooth/storage.hpp"
#include "storage/postgres/postgres_storage.hpp"
#include "storage/sqlite/sqlite_storage.hpp"

namespace smooth {
namespace {

// libpq's URI schemes, and the look of a key=value conninfo string ("host=db dbname=x").
bool IsPostgresUrl(std::string_view url) {
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return true;
  std::size_t eq = url.find('=');
  if (eq == std::string_view::npos || url.find("://") != std::string_view::npos) return false;
  std::string_view key = url.substr(0, eq);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  for (std::string_view known : {"host", "hostaddr", "port", "dbname", "user", "password",
                                 "service", "sslmode", "connect_timeout", "application_name"})
    if (key == known) return true;
  return false;
}

}  // namespace

Result<std::unique_ptr<Storage>> OpenStorage(std::string_view url, const StorageOptions& options) {
  if (url == "memory:") return NewMemoryStorage();
  if (url.starts_with("sqlite:")) {
    std::string_view dir = url.substr(7);
    if (dir.starts_with("//")) dir.remove_prefix(2);  // sqlite:///var/lib/smooth
    return internal::sqlite::OpenSqliteStorage(dir, options);
  }
  if (IsPostgresUrl(url)) return internal::postgres::OpenPostgresStorage(url, options);
  // Name only the scheme: the rest of a URL may hold a password.
  std::string_view scheme = url.substr(0, std::min(url.find(':'), std::size_t{20}));
  return InvalidArgument(fmt::format(
      "storage url: unknown scheme '{}' (expected memory:, sqlite:<dir> or postgresql://...)",
      scheme));
}

}  // namespace smooth
