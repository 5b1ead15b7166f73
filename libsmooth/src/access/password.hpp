// Password hashing with argon2id through libsodium.
#pragma once

#include <string>
#include <string_view>

#include "smooth/platform.hpp"
#include "smooth/status.hpp"

namespace smooth::internal {

/// Hashes with argon2id at `cost` (crypto_pwhash_str_alg, ALG_ARGON2ID13). Returns the
/// encoded string, which carries its own salt and parameters. Validates the password
/// length first (ValidatePassword).
Result<std::string> HashPassword(std::string_view password, const PasswordCost& cost);

/// Constant-time verification (crypto_pwhash_str_verify). False for a malformed hash.
bool VerifyPassword(std::string_view encoded_hash, std::string_view password);

/// Whether `encoded_hash` was made with other parameters than `cost` (or is not an argon2id
/// hash at all): login then stores a new hash of the password it has just verified.
bool NeedsRehash(std::string_view encoded_hash, const PasswordCost& cost);

/// A hash of a random password at `cost`, computed once per cost: login verifies
/// against it for unknown users so their timing matches known ones.
const std::string& DummyHash(const PasswordCost& cost);

}  // namespace smooth::internal
