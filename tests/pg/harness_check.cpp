// Proof that the PostgreSQL test harness (tests/postgres.cmake, tests/pg/pg_cluster.sh)
// works: reads the conninfo that the postgres fixture wrote, connects over the Unix socket
// with libpq, and checks the server's durability settings, its version, the role, and a
// write/read round trip. Registered as ctest "postgres_harness". Fails, never skips, when
// the cluster is missing.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using Result = std::unique_ptr<PGresult, ResultClearer>;

// The conninfo written by pg_cluster.sh start; fails the test if it is not there.
std::string ReadConninfo() {
  const char* env = std::getenv("SMOOTH_TEST_PG_CONNINFO_FILE");
  if (env == nullptr || *env == '\0') {
    FAIL("SMOOTH_TEST_PG_CONNINFO_FILE is not set: run this test through ctest, which "
         "starts the cluster (fixture postgres)");
  }
  const std::string path = env;
  std::ifstream in(path);
  if (!in) FAIL("cannot read the conninfo file " << path << " (did postgres_start fail?)");
  std::string conninfo;
  std::getline(in, conninfo);
  if (conninfo.empty()) FAIL("the conninfo file " << path << " is empty");
  return conninfo;
}

Conn Connect() {
  const std::string conninfo = ReadConninfo();
  Conn conn(PQconnectdb(conninfo.c_str()));
  REQUIRE(conn != nullptr);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    FAIL("cannot connect with '" << conninfo << "': " << PQerrorMessage(conn.get()));
  }
  // Quiet the NOTICEs of DROP ... IF EXISTS and CASCADE.
  Result quiet(PQexec(conn.get(), "SET client_min_messages = warning"));
  REQUIRE_MESSAGE(PQresultStatus(quiet.get()) == PGRES_COMMAND_OK, PQerrorMessage(conn.get()));
  return conn;
}

// Runs a command that returns no rows; fails the test with the server's message otherwise.
void Exec(PGconn* conn, const std::string& sql) {
  Result r(PQexec(conn, sql.c_str()));
  INFO("SQL: " << sql);
  REQUIRE_MESSAGE(PQresultStatus(r.get()) == PGRES_COMMAND_OK, PQerrorMessage(conn));
}

// Runs a query returning exactly one row and one column, and returns that value.
std::string Scalar(PGconn* conn, const std::string& sql) {
  Result r(PQexec(conn, sql.c_str()));
  INFO("SQL: " << sql);
  REQUIRE_MESSAGE(PQresultStatus(r.get()) == PGRES_TUPLES_OK, PQerrorMessage(conn));
  REQUIRE(PQntuples(r.get()) == 1);
  REQUIRE(PQnfields(r.get()) == 1);
  return PQgetvalue(r.get(), 0, 0);
}

}  // namespace

TEST_CASE("postgres harness: connected over the cluster's Unix socket as smooth") {
  Conn conn = Connect();
  const std::string host = PQhost(conn.get());
  CHECK_MESSAGE(host.rfind("/tmp/", 0) == 0, "host " << host << " should be a socket dir");
  CHECK(Scalar(conn.get(), "SELECT current_user") == "smooth");
  CHECK(Scalar(conn.get(), "SELECT current_database()") == "smooth_test");
  // A socket connection has no client address.
  CHECK(Scalar(conn.get(), "SELECT coalesce(inet_client_addr()::text, 'unix')") == "unix");
}

TEST_CASE("postgres harness: PostgreSQL 15 or later, durable settings") {
  Conn conn = Connect();
  CHECK(PQserverVersion(conn.get()) >= 150000);
  CHECK(std::stoi(Scalar(conn.get(), "SHOW server_version_num")) >= 150000);
  CHECK(Scalar(conn.get(), "SHOW fsync") == "on");
  CHECK(Scalar(conn.get(), "SHOW synchronous_commit") == "on");
  CHECK(Scalar(conn.get(), "SHOW server_encoding") == "UTF8");
  CHECK(std::stoi(Scalar(conn.get(), "SHOW max_connections")) >= 100);
}

TEST_CASE("postgres harness: schema, table, insert and read back") {
  Conn conn = Connect();
  PGconn* c = conn.get();
  Exec(c, "DROP SCHEMA IF EXISTS harness_check CASCADE");
  Exec(c, "CREATE SCHEMA harness_check");
  Exec(c,
       "CREATE TABLE harness_check.items ("
       "  id bigint PRIMARY KEY,"
       "  name text NOT NULL,"
       "  at timestamptz NOT NULL DEFAULT now())");

  Exec(c, "BEGIN");
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"1", "plain"}, {"2", "ünïcödé ✓"}, {"3", "quote ' and \\ backslash"}};
  for (const auto& [id, name] : rows) {
    const char* values[] = {id.c_str(), name.c_str()};
    Result r(PQexecParams(c, "INSERT INTO harness_check.items (id, name) VALUES ($1, $2)", 2,
                          nullptr, values, nullptr, nullptr, 0));
    REQUIRE_MESSAGE(PQresultStatus(r.get()) == PGRES_COMMAND_OK, PQerrorMessage(c));
    CHECK(std::string(PQcmdTuples(r.get())) == "1");
  }
  Exec(c, "COMMIT");

  // Read back on a second connection, so the rows were committed, not just visible to us.
  Conn other = Connect();
  Result r(PQexec(other.get(), "SELECT id, name FROM harness_check.items ORDER BY id"));
  REQUIRE_MESSAGE(PQresultStatus(r.get()) == PGRES_TUPLES_OK, PQerrorMessage(other.get()));
  REQUIRE(PQntuples(r.get()) == static_cast<int>(rows.size()));
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    CHECK(std::string(PQgetvalue(r.get(), i, 0)) == rows[i].first);
    CHECK(std::string(PQgetvalue(r.get(), i, 1)) == rows[i].second);
  }

  // A constraint violation is reported, and the connection stays usable.
  {
    Result dup(PQexec(c, "INSERT INTO harness_check.items (id, name) VALUES (1, 'again')"));
    CHECK(PQresultStatus(dup.get()) == PGRES_FATAL_ERROR);
    CHECK(std::string(PQresultErrorField(dup.get(), PG_DIAG_SQLSTATE)) == "23505");
  }
  CHECK(Scalar(c, "SELECT count(*) FROM harness_check.items") == "3");

  Exec(c, "DROP SCHEMA harness_check CASCADE");
}
