// Looking at what a backend stored without going through libsmooth: the appointment rows
// read with the database's own client library (sqlite3, libpq), an independent SQL query
// for instants above capacity, and the same check as a sweep over rows for the memory
// backend. Used by the multi-process tests (concurrency, durability), which also need a
// storage URL that other processes can open.
#pragma once

#include <doctest/doctest.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "smooth/storage.hpp"
#include "test_storage.hpp"

namespace smooth::testing {

/// A storage URL that several processes can open for the backend `kind` ("sqlite",
/// "postgresql"): a fresh data directory, or a fresh database on the test cluster.
inline std::string SharedStorageUrl(const std::string& kind) {
  if (kind == "sqlite") return "sqlite:" + NewTempDir();
  if (kind == "postgresql") return NewPgDatabase();
  FAIL("no storage shared between processes for '" << kind << "'");
  return {};
}

/// One appointment row as the database holds it.
struct RawAppointment {
  std::int64_t id = 0;
  std::vector<std::int64_t> resources;
  std::int64_t start = 0, end = 0, buffer_before = 0, buffer_after = 0;  // microseconds
  std::string status;
  std::int64_t version = 0;
};

inline std::vector<std::int64_t> ParseIdArray(std::string_view json_text) {
  std::vector<std::int64_t> out;
  boost::json::value parsed = boost::json::parse(json_text);
  for (const boost::json::value& v : parsed.as_array()) out.push_back(v.as_int64());
  return out;
}

inline RawAppointment FromAppointment(const Appointment& a) {
  RawAppointment r;
  r.id = a.id.value();
  for (ResourceId id : a.resources) r.resources.push_back(id.value());
  r.start = a.start.time_since_epoch().count();
  r.end = a.end.time_since_epoch().count();
  r.buffer_before = a.buffer_before.count();
  r.buffer_after = a.buffer_after.count();
  r.status = std::string(AppointmentStatusName(a.status));
  r.version = a.version;
  return r;
}

// --- SQLite: the tenant's file, read with the sqlite3 C API ---------------------------------

/// Rows of `sql` on the SQLite file `path` (opened read-only), every column as text.
inline std::vector<std::vector<std::string>> SqliteQuery(const std::string& path,
                                                         const std::string& sql) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(db, sqlite3_close);
  if (rc != SQLITE_OK) FAIL("cannot open " << path << ": " << sqlite3_errstr(rc));
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    FAIL("bad SQL on " << path << ": " << sqlite3_errmsg(db) << "\n" << sql);
  std::vector<std::vector<std::string>> rows;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* text = sqlite3_column_text(st, i);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
    }
    rows.push_back(std::move(row));
  }
  std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(st);
  if (!error.empty()) FAIL("query on " << path << " failed: " << error);
  return rows;
}

/// The data directory of a `sqlite:<dir>` URL.
inline std::string SqliteDir(const std::string& url) { return url.substr(7); }

/// The tenant's file in a SQLite data directory (slugs used by tests are lower case).
inline std::string SqliteTenantFile(const std::string& url, const std::string& slug) {
  return SqliteDir(url) + "/tenant_" + slug + ".db";
}

// --- PostgreSQL: the tenant's schema, read with libpq ----------------------------------------

struct PgCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};

/// Rows of `sql` through libpq, every column as text.
inline std::vector<std::vector<std::string>> PgQuery(const std::string& conninfo,
                                                     const std::string& sql) {
  std::unique_ptr<PGconn, PgCloser> conn(PQconnectdb(conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK)
    FAIL("cannot connect to PostgreSQL: " << PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, PgClearer> res(PQexec(conn.get(), sql.c_str()));
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK)
    FAIL("query failed: " << PQerrorMessage(conn.get()) << "\n" << sql);
  std::vector<std::vector<std::string>> rows;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(res.get()); ++c)
      row.emplace_back(PQgetisnull(res.get(), r, c) ? "NULL" : PQgetvalue(res.get(), r, c));
    rows.push_back(std::move(row));
  }
  return rows;
}

/// The schema holding the tenant's tables: the one whose tenant_meta names `slug`.
inline std::string PgTenantSchema(const std::string& conninfo, const std::string& slug) {
  for (const auto& row : PgQuery(conninfo,
                                 "SELECT table_schema FROM information_schema.tables "
                                 "WHERE table_name = 'tenant_meta'")) {
    std::string quoted = "\"" + row[0] + "\"";
    for (const auto& meta : PgQuery(conninfo, "SELECT slug FROM " + quoted + ".tenant_meta"))
      if (meta[0] == slug) return quoted;
  }
  FAIL("no PostgreSQL schema has a tenant_meta naming '" << slug << "'");
  return {};
}

// --- The same questions on every backend -----------------------------------------------------

/// Where to look: the storage URL and the tenant.
struct Probe {
  std::string kind;  // "memory", "sqlite", "postgresql"
  std::string url;
  std::string slug;
  Tenant tenant;
  Storage* memory = nullptr;  // the storage itself, for "memory" (nothing else can see it)
};

inline constexpr const char* kAppointmentColumns =
    "id, resources, start_at, end_at, buffer_before, buffer_after, status, version";

/// Every appointment row of the tenant, read without libsmooth (memory: through the
/// storage seam, the only way in).
inline std::vector<RawAppointment> ReadAppointments(const Probe& p) {
  std::vector<std::vector<std::string>> rows;
  std::string sql = fmt::format("SELECT {} FROM {{}}appointments ORDER BY id", kAppointmentColumns);
  if (p.kind == "sqlite") {
    rows = SqliteQuery(SqliteTenantFile(p.url, p.slug), fmt::format(fmt::runtime(sql), ""));
  } else if (p.kind == "postgresql") {
    rows = PgQuery(p.url, fmt::format(fmt::runtime(sql), PgTenantSchema(p.url, p.slug) + "."));
  } else {
    REQUIRE(p.memory != nullptr);
    auto txn = p.memory->BeginTenant(p.tenant, TxnMode::kRead);
    REQUIRE_MESSAGE(txn.ok(), txn.error().ToString());
    auto all = (*txn)->ListAppointmentsChangedSince(0);
    REQUIRE_MESSAGE(all.ok(), all.error().ToString());
    std::vector<RawAppointment> out;
    for (const Appointment& a : *all) out.push_back(FromAppointment(a));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }
  std::vector<RawAppointment> out;
  for (const auto& row : rows) {
    RawAppointment a;
    a.id = std::stoll(row[0]);
    a.resources = ParseIdArray(row[1]);
    a.start = std::stoll(row[2]);
    a.end = std::stoll(row[3]);
    a.buffer_before = std::stoll(row[4]);
    a.buffer_after = std::stoll(row[5]);
    a.status = row[6];
    a.version = std::stoll(row[7]);
    out.push_back(std::move(a));
  }
  return out;
}

/// One instant at which a resource holds more occupying appointments than its capacity.
struct Overflow {
  std::int64_t resource = 0;
  std::int64_t at = 0;  // microseconds since the epoch
  std::int64_t count = 0;
  std::int64_t capacity = 0;
  std::string ToString() const {
    return fmt::format("resource {} holds {} (capacity {}) at {}", resource, count, capacity,
                       FormatRfc3339(Instant(Duration(at))));
  }
};

/// The instants above capacity, found by a sweep over `rows`: each occupying appointment
/// (pending or confirmed) holds each of its resources over
/// [start - buffer_before, end + buffer_after).
inline std::vector<Overflow> SweepOverflows(const std::vector<RawAppointment>& rows,
                                            const std::map<std::int64_t, int>& capacity) {
  std::map<std::int64_t, std::vector<std::pair<std::int64_t, int>>> edges;  // by resource
  for (const RawAppointment& a : rows) {
    if (a.status != "pending" && a.status != "confirmed") continue;
    for (std::int64_t r : a.resources) {
      edges[r].push_back({a.start - a.buffer_before, +1});
      edges[r].push_back({a.end + a.buffer_after, -1});
    }
  }
  std::vector<Overflow> out;
  for (auto& [resource, list] : edges) {
    std::sort(list.begin(), list.end());  // at one instant, -1 (an end) before +1
    auto cap = capacity.find(resource);
    std::int64_t limit = cap == capacity.end() ? 0 : cap->second;
    std::int64_t count = 0;
    for (const auto& [at, delta] : list) {
      count += delta;
      if (count > limit) out.push_back({resource, at, count, limit});
    }
  }
  return out;
}

/// The instants above capacity, found by one SQL query in the database itself: for every
/// distinct start of an occupied interval, the intervals of the same resource covering it,
/// compared with the capacity in the resources table. SQLite and PostgreSQL only.
inline std::vector<Overflow> SqlOverflows(const Probe& p) {
  // {0}: the schema prefix; {1}: the set of resource ids of one appointment as rows.
  constexpr const char* kQuery =
      "WITH occ AS ("
      "  SELECT CAST(r.value AS BIGINT) AS resource,"
      "         a.start_at - a.buffer_before AS s, a.end_at + a.buffer_after AS e"
      "  FROM {0}appointments a, {1} r"
      "  WHERE a.status IN ('pending', 'confirmed')),"
      " pts AS (SELECT DISTINCT resource, s FROM occ)"
      " SELECT pts.resource, pts.s, COUNT(*), res.capacity"
      " FROM pts JOIN occ ON occ.resource = pts.resource AND occ.s <= pts.s AND pts.s < occ.e"
      " JOIN {0}resources res ON res.id = pts.resource"
      " GROUP BY pts.resource, pts.s, res.capacity"
      " HAVING COUNT(*) > res.capacity";
  std::vector<std::vector<std::string>> rows;
  if (p.kind == "sqlite") {
    rows = SqliteQuery(SqliteTenantFile(p.url, p.slug),
                       fmt::format(kQuery, "", "json_each(a.resources)"));
  } else if (p.kind == "postgresql") {
    rows = PgQuery(p.url, fmt::format(kQuery, PgTenantSchema(p.url, p.slug) + ".",
                                      "json_array_elements_text(a.resources::json)"));
  } else {
    FAIL("SqlOverflows: no SQL for '" << p.kind << "'");
  }
  std::vector<Overflow> out;
  for (const auto& row : rows)
    out.push_back({std::stoll(row[0]), std::stoll(row[1]), std::stoll(row[2]), std::stoll(row[3])});
  return out;
}

}  // namespace smooth::testing
