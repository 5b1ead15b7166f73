// The storage the tests run on, chosen by the environment: SMOOTH_TEST_STORAGE=memory (the
// default), sqlite (a fresh data directory under /tmp per call, removed at exit) or
// postgresql (a fresh database per call on the cluster of the ctest fixture, whose conninfo
// is in the file SMOOTH_TEST_PG_CONNINFO_FILE; dropped at exit). tests/CMakeLists.txt
// registers each storage-touching test once per backend.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "smooth/storage.hpp"

namespace smooth::testing {

/// "memory", "sqlite" or "postgresql".
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

/// The libpq conninfo of the test cluster's database, from the file the postgres fixture
/// wrote. Fails the test — never skips it — when there is none.
inline std::string TestPgConninfo() {
  const char* env = std::getenv("SMOOTH_TEST_PG_CONNINFO_FILE");
  if (env == nullptr || *env == '\0')
    FAIL(
        "SMOOTH_TEST_PG_CONNINFO_FILE is not set: run PostgreSQL tests through ctest, which "
        "starts the cluster (fixture postgres)");
  std::ifstream in(env);
  if (!in) FAIL("cannot read the conninfo file " << env << " (did postgres_start fail?)");
  std::string conninfo;
  std::getline(in, conninfo);
  if (conninfo.empty()) FAIL("the conninfo file " << env << " is empty");
  return conninfo;
}

/// Runs one statement on a new admin connection to the fixture's database.
inline void PgAdminExec(const std::string& sql) {
  std::string conninfo = TestPgConninfo();
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    FAIL("cannot connect to the test cluster with '" << conninfo << "': " << error);
  }
  PGresult* r = PQexec(conn, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string error = ok ? "" : PQerrorMessage(conn);
  PQclear(r);
  PQfinish(conn);
  if (!ok) FAIL("'" << sql << "' failed: " << error);
}

/// A new empty database on the test cluster, named smooth_t_<pid>_<n>_<random>, so that
/// every storage starts empty (tests may all create tenant 'acme') and parallel test
/// processes never meet. Returns its conninfo; every one is dropped when the program exits.
inline std::string NewPgDatabase() {
  struct Databases {
    std::mutex mu;
    std::string admin;               // guarded by mu
    std::vector<std::string> names;  // guarded by mu
    ~Databases() {
      if (names.empty()) return;
      PGconn* conn = PQconnectdb(admin.c_str());
      if (PQstatus(conn) == CONNECTION_OK) {
        for (const std::string& name : names)
          PQclear(
              PQexec(conn, fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name).c_str()));
      }
      PQfinish(conn);
    }
  };
  static Databases dbs;
  static std::atomic<int> counter{0};
  std::string conninfo = TestPgConninfo();
  std::random_device random;
  std::string name = fmt::format("smooth_t_{}_{}_{:08x}", ::getpid(), counter++, random());
  PgAdminExec("CREATE DATABASE " + name);
  {
    std::lock_guard lock(dbs.mu);
    dbs.admin = conninfo;
    dbs.names.push_back(name);
  }
  return conninfo + " dbname=" + name;  // libpq: the last dbname wins
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
  if (kind == "postgresql") {
    auto storage = OpenStorage(NewPgDatabase(), options);
    if (!storage) FAIL("cannot open postgresql test storage: " << storage.error().ToString());
    return std::move(*storage);
  }
  FAIL("SMOOTH_TEST_STORAGE: unknown storage '" << kind << "'");
  return nullptr;
}

}  // namespace smooth::testing
