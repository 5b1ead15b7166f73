// OpenStorage: the storage backend chosen by URL.
#include <cstdint>
#include <limits>
#include <optional>
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

// The scheme of `url` when it starts like a URL, "scheme:" with a scheme name as RFC 3986
// spells one (a letter, then letters, digits, '+', '-' or '.'), at most 32 characters.
// Anything else (a conninfo with a key libsmooth does not look for, say) has no scheme
// that can be named without echoing what may be a password.
std::optional<std::string_view> Scheme(std::string_view url) {
  std::size_t colon = url.find(':');
  if (colon == 0 || colon > 32 || colon == std::string_view::npos) return std::nullopt;
  std::string_view scheme = url.substr(0, colon);
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!letter(scheme.front())) return std::nullopt;
  for (char c : scheme)
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.')
      return std::nullopt;
  return scheme;
}

// The options both SQL backends read; each backend checks its own beyond these.
Status CheckSqlOptions(const StorageOptions& options) {
  if (options.pool_size == 0) return InvalidArgument("pool_size: must be at least 1");
  // Each wait goes to the database as a 32-bit count of milliseconds (SQLite's
  // busy_timeout, PostgreSQL's lock_timeout) or is added to the clock's now: past that it
  // would wrap or overflow. SQLite has no use for server_timeout, but a bad one is a
  // mistake wherever it is made.
  constexpr std::int64_t kMaxMs = std::numeric_limits<std::int32_t>::max();
  for (auto [name, wait] :
       {std::pair("busy_timeout", options.busy_timeout), std::pair("pool_wait", options.pool_wait),
        std::pair("server_timeout", options.server_timeout)}) {
    if (wait.count() < 0) return InvalidArgument(fmt::format("{}: must not be negative", name));
    if (wait.count() > kMaxMs)
      return InvalidArgument(
          fmt::format("{}: must be at most {} ms (about 24 days)", name, kMaxMs));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Storage>> OpenStorage(std::string_view url, const StorageOptions& options) {
  if (url == "memory:") return NewMemoryStorage();
  if (url.starts_with("sqlite:")) {
    std::string_view dir = url.substr(7);
    if (dir.starts_with("//")) dir.remove_prefix(2);  // sqlite:///var/lib/smooth
    SMOOTH_RETURN_IF_ERROR(CheckSqlOptions(options));
    return internal::sqlite::OpenSqliteStorage(dir, options);
  }
  if (IsPostgresUrl(url)) {
    SMOOTH_RETURN_IF_ERROR(CheckSqlOptions(options));
    return internal::postgres::OpenPostgresStorage(url, options);
  }
  // Name only a real scheme: the rest of the input may hold a password.
  constexpr std::string_view kExpected = "expected memory:, sqlite:<dir> or postgresql://...";
  if (auto scheme = Scheme(url))
    return InvalidArgument(
        fmt::format("storage url: unknown scheme '{}' ({})", *scheme, kExpected));
  return InvalidArgument(fmt::format("storage url: not a recognised storage URL ({})", kExpected));
}

}  // namespace smooth
