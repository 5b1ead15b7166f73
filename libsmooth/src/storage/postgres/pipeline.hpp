// A tenant write transaction's statements as one libpq pipeline of prepared statements:
// its begin (when deferred), its appointment inserts with their occupancy rows, and
// COMMIT go to the server together, one round trip, and no statement is parsed or planned
// twice on a connection.
#pragma once

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smooth/status.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/dialect.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sql/transactions.hpp"

namespace smooth::internal::postgres {

/// What the begin of a deferred write checks (Storage::BeginTenantWriteAt): the tenant's
/// change sequence and the shared epoch the writer prepared it against.
struct WriteGuard {
  long long seq = 0;
  long long epoch = 0;
};

/// The kind of a PostgreSQL error, by its SQLSTATE.
sql::SqlErrorKind ClassifySqlstate(std::string_view state);

/// Whether a SQLSTATE says the connection is gone: connection exceptions (08xxx), the
/// server ending the session (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
/// cannot_connect_now), and none at all (blank): an error of libpq's own, such as a write to
/// a server that went away.
bool ConnectionLostSqlstate(std::string_view state);

/// The libpq connection under `c` (a PostgreSQL session), or null when it has none.
PGconn* LibpqConnection(soci::session& s);
PGconn* LibpqConnection(sql::Connection& c);

/// Connection::SetWatch's interrupt for `pg`: shuts down its socket (through a duplicate of the
/// descriptor, kept open as long as the returned function, so never another file's), which
/// makes a call waiting on it fail at once as on a lost connection.
std::function<void()> SocketInterrupt(PGconn* pg);

/// Whether `c`, idle in its pool since its last transaction, is still connected
/// (SessionPool::Checker). PostgreSQL sends an idle session nothing unasked (libsmooth never
/// LISTENs) but when it ends it, at a shutdown, a restart, pg_terminate_backend or a crash:
/// a message, then the end of the stream. So anything to read, or a hang-up, means it has
/// gone. One poll() that does not wait; no round trip.
bool IdleConnectionAlive(sql::Connection& c);

/// The statements a pipeline sends for one tenant schema, built once per schema: SET LOCAL
/// search_path, the guard's two, and the appointment INSERT.
struct PipelineStatements {
  explicit PipelineStatements(std::string_view schema);  // unquoted
  std::string enter, advance, epoch, insert;
};

/// sql::TxnSender for one tenant's schema.
class TenantPipeline final : public sql::TxnSender {
 public:
  /// `statements`: those of the tenant's schema; `database`: the tenant in errors
  /// ("tenant 'acme'"); `guard`: what a deferred begin checks (nullopt: the transaction
  /// began the careful way); `missing`: the Status when the schema has gone.
  TenantPipeline(std::shared_ptr<const PipelineStatements> statements, std::string database,
                 std::optional<WriteGuard> guard, std::function<Status()> missing);

  /// With `begin`: BEGIN, SET LOCAL search_path to the schema, then the guard, which
  /// advances the change sequence only from guard.seq (under the row lock every writer of
  /// the tenant takes) and then checks the shared epoch, in a snapshot taken after that
  /// lock; either failing raises SQLSTATE SM001, reported as aborted. With `begin` and
  /// `commit` both, the whole transaction is one pipeline, and it sends no BEGIN, SET LOCAL
  /// or COMMIT: the server commits the statements before the pipeline's Sync as one
  /// implicit transaction, and every statement names the schema.
  Status Send(sql::Connection& c, bool begin, std::vector<sql::AppointmentRow>& rows,
              bool commit) override;

 private:
  std::shared_ptr<const PipelineStatements> sql_;
  std::string database_;
  std::optional<WriteGuard> guard_;
  std::function<Status()> missing_;
};

}  // namespace smooth::internal::postgres
