// TenantPipeline: libpq's pipeline mode on the connection SOCI opened. SOCI keeps no state
// of its own between statements, so the pipeline may use the connection between two of
// them, provided it leaves pipeline mode with every result read.
#include "storage/postgres/pipeline.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "storage/postgres/postgres_schema.hpp"

namespace smooth::internal::postgres {
namespace {

// Statements a connection keeps prepared for the pipelines of every tenant it served: past
// this many, they are all deallocated and prepared again as needed.
constexpr std::size_t kMaxServerStatements = 64;

// --- Rows as PostgreSQL arrays, one per column, for unnest() --------------------------------

void AppendElement(std::string& array, long long value) { array += std::to_string(value); }
void AppendElement(std::string& array, const std::string& value) {
  array += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') array += '\\';
    array += c;
  }
  array += '"';
}
template <typename T>
void AppendElement(std::string& array, const sql::Nullable<T>& value) {
  if (value.is_null())
    array += "NULL";
  else
    AppendElement(array, value.value);
}

template <typename T>
struct ArrayType;
template <>
struct ArrayType<long long> {
  static constexpr std::string_view kName = "BIGINT[]";
};
template <>
struct ArrayType<std::string> {
  static constexpr std::string_view kName = "TEXT[]";
};
template <typename T>
struct ArrayType<sql::Nullable<T>> : ArrayType<T> {};

// One array literal per column of `rows`, in column order.
template <typename Row>
std::vector<std::string> ColumnArrays(std::vector<Row>& rows) {
  std::vector<std::string> arrays;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::size_t k = 0;
    rows[i].Columns([&](const auto& column) {
      if (k == arrays.size()) arrays.emplace_back("{");
      std::string& array = arrays[k++];
      if (i != 0) array += ',';
      AppendElement(array, column);
    });
  }
  for (std::string& array : arrays) array += '}';
  return arrays;
}

// The INSERT of appointments, one array parameter a column ($1 the first): one prepared
// statement for any number of rows. The statement-level trigger of tenant migration 5 writes
// their occupancy rows, as it does for any writer.
std::string InsertAppointmentsSql(std::string_view schema) {
  using Row = sql::AppointmentRow;
  std::string unnest;
  Row row;
  int n = 0;
  row.Columns([&](const auto& column) {
    using T = std::decay_t<decltype(column)>;
    unnest += fmt::format("{}CAST(${} AS {})", n == 0 ? "" : ", ", n + 1, ArrayType<T>::kName);
    ++n;
  });
  return fmt::format("INSERT INTO {}.{} ({}) SELECT * FROM unnest({})", schema, Row::kTable,
                     Row::kColumns, unnest);
}

// The guard: the change sequence advances only from $1. An UPDATE that waited for another
// writer's row lock re-reads the row once that writer commits (READ COMMITTED), finds
// nothing to advance, and fails too.
std::string AdvanceSql(std::string_view schema) {
  return fmt::format(
      "WITH advanced AS (UPDATE {0}.change_seq SET value = value + 1"
      " WHERE value = CAST($1 AS BIGINT) RETURNING value)"
      " SELECT CASE WHEN EXISTS (SELECT 1 FROM advanced) THEN 0 ELSE {0}.stale_write("
      "'the tenant changed while this write was prepared (change sequence no longer '"
      " || $1 || ')') END",
      schema);
}

// Then the shared epoch, in this statement's own snapshot, taken with the lock held.
std::string EpochSql(std::string_view schema) {
  return fmt::format(
      "SELECT CASE WHEN value = CAST($1 AS BIGINT) THEN 0 ELSE {0}.stale_write("
      "'shared data changed while this write was prepared (shared epoch no longer '"
      " || $1 || ')') END FROM public.shared_epoch",
      schema);
}

// One statement of a pipeline, as sent.
struct Step {
  std::string prepared;  // the SQL text of a statement prepared in this pipeline, or ""
};

// A pipeline being built and read on one connection.
class Pipe {
 public:
  Pipe(sql::Connection& c, PGconn* pg) : c_(c), pg_(pg) {}

  bool Enter() { return PQenterPipelineMode(pg_) == 1; }

  // An unprepared statement without parameters.
  bool Simple(const char* sql) {
    steps_.push_back({});
    return PQsendQueryParams(pg_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
  }

  // `sql`, prepared on this connection the first time, with text parameters.
  bool Prepared(const std::string& sql, const std::vector<std::string>& params) {
    auto& statements = c_.server_statements();
    auto it = statements.names.find(sql);
    if (it == statements.names.end()) {
      std::string name = fmt::format("smooth_{}", statements.next++);
      it = statements.names.emplace(sql, std::move(name)).first;
      steps_.push_back({sql});
      if (PQsendPrepare(pg_, it->second.c_str(), sql.c_str(), 0, nullptr) != 1) return false;
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) values.push_back(p.c_str());
    steps_.push_back({});
    return PQsendQueryPrepared(pg_, it->second.c_str(), static_cast<int>(values.size()),
                               values.data(), nullptr, nullptr, 0) == 1;
  }

  // Sends Sync and reads every result. Returns false when the connection is in an unknown
  // state; otherwise `error` is the first failed statement's result (or null).
  bool Finish(PGresult*& error) {
    error = nullptr;
    if (PQpipelineSync(pg_) != 1) return false;
    for (const Step& step : steps_) {
      PGresult* r = PQgetResult(pg_);
      if (r == nullptr) return false;
      ExecStatusType status = PQresultStatus(r);
      bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
      if (!ok && !step.prepared.empty()) c_.server_statements().names.erase(step.prepared);
      if (status == PGRES_FATAL_ERROR && error == nullptr)
        error = r;
      else
        PQclear(r);
      while ((r = PQgetResult(pg_)) != nullptr) PQclear(r);  // the end of this statement's
    }
    PGresult* sync = PQgetResult(pg_);
    bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    return synced && PQexitPipelineMode(pg_) == 1;
  }

 private:
  sql::Connection& c_;
  PGconn* pg_;
  std::vector<Step> steps_;
};

// Deallocates the statements the pipelines prepared on `c`, once there are too many.
bool TrimServerStatements(sql::Connection& c, PGconn* pg) {
  auto& names = c.server_statements().names;
  if (names.size() < kMaxServerStatements) return true;
  for (const auto& [sql, name] : names) {
    PGresult* r = PQexec(pg, fmt::format("DEALLOCATE {}", name).c_str());
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) return false;
  }
  names.clear();
  return true;
}

}  // namespace

PGconn* LibpqConnection(soci::session& s) {
  // Every session of this backend is a PostgreSQL one (and SOCI exports no typeinfo to
  // check it with).
  auto* backend = static_cast<soci::postgresql_session_backend*>(s.get_backend());
  return backend != nullptr ? backend->conn_ : nullptr;
}
PGconn* LibpqConnection(sql::Connection& c) { return LibpqConnection(c.session()); }

std::function<void()> SocketInterrupt(PGconn* pg) {
  int fd = PQsocket(pg) >= 0 ? ::fcntl(PQsocket(pg), F_DUPFD_CLOEXEC, 0) : -1;
  if (fd < 0) return {};
  auto socket = std::shared_ptr<int>(new int(fd), [](int* owned) {
    ::close(*owned);
    delete owned;
  });
  return [socket] { ::shutdown(*socket, SHUT_RDWR); };
}

bool IdleConnectionAlive(sql::Connection& c) {
  PGconn* pg = LibpqConnection(c);
  if (pg == nullptr || PQstatus(pg) != CONNECTION_OK || PQsocket(pg) < 0) return false;
  pollfd socket{PQsocket(pg), POLLIN, 0};
  int ready;
  do ready = ::poll(&socket, 1, 0);
  while (ready < 0 && errno == EINTR);
  return ready == 0;
}

bool ConnectionLostSqlstate(std::string_view state) {
  // Every error the server sends has a SQLSTATE; one without is libpq's own, and libpq
  // reports a write to a server that has gone (an immediate shutdown, a crash) without one,
  // while the connection still looks open.
  // The server also ends a session itself: idle too long in a transaction (25P03,
  // idle_in_transaction_session_timeout) or out of one (57P05, idle_session_timeout).
  return state.find_first_not_of(' ') == std::string_view::npos || state.starts_with("08") ||
         state == "57P01" || state == "57P02" || state == "57P03" || state == "25P03" ||
         state == "57P05";
}

sql::SqlErrorKind ClassifySqlstate(std::string_view state) {
  if (state == "23505") return sql::SqlErrorKind::kUniqueViolation;
  if (state == "23P01") return sql::SqlErrorKind::kConflict;
  if (state == kStaleWriteSqlstate) return sql::SqlErrorKind::kAborted;
  // Insufficient resources: disk_full (53100), out_of_memory (53200), ...
  if (state.starts_with("53")) return sql::SqlErrorKind::kResourceExhausted;
  // A lost connection or a server shutting down (on a new connection); serialization
  // failure, deadlock, lock_timeout: all worth retrying.
  if (ConnectionLostSqlstate(state)) return sql::SqlErrorKind::kConnectionLost;
  if (state == "40001" || state == "40P01" || state == "55P03") return sql::SqlErrorKind::kBusy;
  return sql::SqlErrorKind::kOther;
}

PipelineStatements::PipelineStatements(std::string_view schema) {
  const std::string quoted = QuoteIdent(schema);
  enter = "SET LOCAL search_path TO " + quoted;
  advance = AdvanceSql(quoted);
  epoch = EpochSql(quoted);
  insert = InsertAppointmentsSql(quoted);
}

TenantPipeline::TenantPipeline(std::shared_ptr<const PipelineStatements> statements,
                               std::string database, std::optional<WriteGuard> guard,
                               std::function<Status()> missing)
    : sql_(std::move(statements)),
      database_(std::move(database)),
      guard_(guard),
      missing_(std::move(missing)) {}

Status TenantPipeline::Send(sql::Connection& c, bool begin, std::vector<sql::AppointmentRow>& rows,
                            bool commit) {
  PGconn* pg = LibpqConnection(c);
  // `committing`: the commit was sent, so the server may have made it before the
  // connection failed, and nobody here can tell.
  auto lost = [&](bool committing = false) {
    c.MarkBroken();  // in an unknown state: closed, never reused
    if (c.interrupted() && !committing) return sql::TimedOut(database_);
    const char* why = c.interrupted() ? "no answer within server_timeout"
                      : pg != nullptr ? PQerrorMessage(pg)
                                      : "no connection";
    if (committing) return sql::CommitOutcomeUnknown(database_, why);
    return Unavailable(fmt::format("{}: the connection failed: {}", database_, why));
  };
  if (begin && !guard_)
    return Internal(fmt::format("{}: a deferred begin without a guard", database_));
  if (pg == nullptr || !TrimServerStatements(c, pg)) return lost();

  // A whole transaction in one pipeline needs neither BEGIN nor COMMIT: the server runs
  // the statements before Sync as one implicit transaction (READ COMMITTED, the default)
  // and commits it at Sync, or rolls all of it back at the first error. Every statement
  // names the schema, so no search_path is needed either.
  const bool whole = begin && commit;
  Pipe pipe(c, pg);
  bool sent = pipe.Enter();
  if (sent && begin) {
    if (!whole)
      sent = pipe.Simple("BEGIN ISOLATION LEVEL READ COMMITTED") && pipe.Simple(sql_->enter.c_str());
    sent = sent && pipe.Prepared(sql_->advance, {std::to_string(guard_->seq)}) &&
           pipe.Prepared(sql_->epoch, {std::to_string(guard_->epoch)});
  }
  if (sent && !rows.empty()) sent = pipe.Prepared(sql_->insert, ColumnArrays(rows));
  if (sent && commit && !whole) sent = pipe.Simple("COMMIT");
  PGresult* error = nullptr;
  if (!sent || !pipe.Finish(error) || PQstatus(pg) != CONNECTION_OK) {
    PQclear(error);
    return lost(/*committing=*/sent && commit);
  }
  if (error == nullptr) return {};

  const char* state = PQresultErrorField(error, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(error, PG_DIAG_MESSAGE_PRIMARY);
  std::string sqlstate = state != nullptr ? state : "";
  std::string server = primary != nullptr ? primary : "";
  std::string full = PQresultErrorMessage(error);
  PQclear(error);
  if (ConnectionLostSqlstate(sqlstate)) c.MarkBroken();  // the server ended it: never reused
  // invalid_schema_name, undefined_function, undefined_table: not this tenant's schema.
  if (sqlstate == "3F000" || sqlstate == "42883" || sqlstate == "42P01") return missing_();
  return sql::StatusOfSqlError(ClassifySqlstate(sqlstate), database_, server, full);
}

}  // namespace smooth::internal::postgres
