// The storage the tests run on, chosen by the environment: SMOOTH_TEST_STORAGE=memory (the
// default) or sqlite (a fresh data directory under /tmp per call, removed at exit).
// tests/CMakeLists.txt registers each storage-touching test once per backend.
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "smooth/storage.hpp"

namespace smooth::testing {

/// "memory" or "sqlite".
inline std::string TestStorageKind() {
  const char* kind = std::getenv("SMOOTH_TEST_STORAGE");
  return kind && *kind ? kind : "memory";
}

/// A new empty directory under /tmp; every one is removed when the program exits.
inline std::string NewTempDir() {
  struct Dirs {
    std::mutex mu;
    std::vector<std::string> paths;  // guarded by mu
    ~Dirs() {
      std::error_code ec;
      for (const std::string& p : paths) std::filesystem::remove_all(p, ec);
    }
  };
  static Dirs dirs;
  std::string path = "/tmp/smooth-test-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) FAIL("mkdtemp failed");
  std::lock_guard lock(dirs.mu);
  dirs.paths.push_back(path);
  return path;
}

/// A fresh, empty Storage of the kind SMOOTH_TEST_STORAGE names.
inline std::unique_ptr<Storage> TestStorage(const StorageOptions& options = {}) {
  std::string kind = TestStorageKind();
  if (kind == "memory") return NewMemoryStorage();
  if (kind == "sqlite") {
    auto storage = OpenStorage("sqlite:" + NewTempDir(), options);
    if (!storage) FAIL("cannot open sqlite test storage: " << storage.error().ToString());
    return std::move(*storage);
  }
  FAIL("SMOOTH_TEST_STORAGE: unknown storage '" << kind << "'");
  return nullptr;
}

}  // namespace smooth::testing
