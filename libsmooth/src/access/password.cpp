// Password hashing with argon2id through libsodium, and the per-cost dummy hash that
// keeps login timing the same for unknown users.
#include "access/password.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <sodium.h>

#include "access/validate.hpp"

namespace smooth::internal {
namespace {

// sodium_init() is idempotent and thread-safe itself; the function-local static only
// saves repeating the call and remembers whether it worked.
bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

Status ValidateCost(const PasswordCost& cost) {
  if (cost.ops_limit < crypto_pwhash_OPSLIMIT_MIN || cost.ops_limit > crypto_pwhash_OPSLIMIT_MAX) {
    return InvalidArgument(fmt::format("password_cost: ops_limit must be in [{}, {}], got {}",
                                       crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_OPSLIMIT_MAX,
                                       cost.ops_limit));
  }
  if (cost.mem_limit_bytes < crypto_pwhash_MEMLIMIT_MIN ||
      cost.mem_limit_bytes > crypto_pwhash_MEMLIMIT_MAX) {
    return InvalidArgument(fmt::format(
        "password_cost: mem_limit_bytes must be in [{}, {}], got {}", crypto_pwhash_MEMLIMIT_MIN,
        static_cast<std::uint64_t>(crypto_pwhash_MEMLIMIT_MAX), cost.mem_limit_bytes));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, const PasswordCost& cost) {
  SMOOTH_RETURN_IF_ERROR(ValidatePassword(password));
  SMOOTH_RETURN_IF_ERROR(ValidateCost(cost));
  if (!SodiumReady()) return Internal("password hashing: libsodium failed to initialize");

  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost.ops_limit,
                            cost.mem_limit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    // libsodium fails here only when it cannot allocate mem_limit_bytes.
    return ResourceExhausted(fmt::format(
        "password hashing: could not allocate {} bytes for argon2id", cost.mem_limit_bytes));
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view encoded_hash, std::string_view password) {
  if (!SodiumReady()) return false;
  // libsodium reads a NUL-terminated string of fewer than crypto_pwhash_STRBYTES bytes;
  // anything longer is not a hash it produced.
  if (encoded_hash.empty() || encoded_hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string terminated(encoded_hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool NeedsRehash(std::string_view encoded_hash, const PasswordCost& cost) {
  if (encoded_hash.empty() || encoded_hash.size() >= crypto_pwhash_STRBYTES) return true;
  const std::string terminated(encoded_hash);
  // 1 for other parameters, -1 for a string that is not an argon2id hash.
  return crypto_pwhash_str_needs_rehash(terminated.c_str(), cost.ops_limit,
                                        cost.mem_limit_bytes) != 0;
}

const std::string& DummyHash(const PasswordCost& cost) {
  static std::mutex mu;
  // Guarded by mu. std::map, because references to its values must stay valid as it grows.
  static std::map<std::pair<unsigned long long, std::size_t>, std::string> cache;
  static const std::string kEmpty;

  // Hashing under the lock keeps concurrent first logins from each paying for a hash;
  // it happens once per cost for the life of the process.
  std::lock_guard<std::mutex> lock(mu);
  const auto key = std::make_pair(cost.ops_limit, cost.mem_limit_bytes);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (!SodiumReady()) return kEmpty;

  // Nobody knows this password, so nothing can verify against the dummy hash.
  unsigned char random[32];
  randombytes_buf(random, sizeof random);
  char hex[2 * sizeof random + 1];
  sodium_bin2hex(hex, sizeof hex, random, sizeof random);
  Result<std::string> hash = HashPassword(hex, cost);
  sodium_memzero(random, sizeof random);
  sodium_memzero(hex, sizeof hex);
  // A cost that cannot hash would already have failed HashPassword for real users too; an
  // empty string makes VerifyPassword return false, which is still the right answer, and
  // is not cached so a transient allocation failure is retried.
  if (!hash) return kEmpty;
  return cache.emplace(key, std::move(*hash)).first->second;
}

}  // namespace smooth::internal
