// What differs between the SQL databases behind the generic SOCI storage: how a
// transaction begins, and how a database error is classified.
#pragma once

#include <string>
#include <string_view>

#include "smooth/storage.hpp"

namespace soci {
class session;
class soci_error;
}  // namespace soci

namespace smooth::internal::sql {

/// The kinds of database error the generic code treats differently.
enum class SqlErrorKind {
  kBusy,               // locked or busy past the timeout, serialization failure: retryable
  kConnectionLost,     // the connection is gone (closed, never pooled again): retryable
  kUniqueViolation,    // a UNIQUE constraint: already_exists
  kConflict,           // an exclusion constraint (overlapping bookings): conflict
  kAborted,            // a deferred write's guard found the data moved on: aborted
  kResourceExhausted,  // out of disk space (or memory): resource_exhausted
  kOther,              // anything else: internal
};

/// Whether an error of `kind` may pass on a new attempt: unavailable.
inline bool Retryable(SqlErrorKind kind) {
  return kind == SqlErrorKind::kBusy || kind == SqlErrorKind::kConnectionLost;
}

/// `message` as the status of a failure of `kind` outside a transaction's statements
/// (migrations, id reservation, schema checks): unavailable when a new attempt may pass,
/// resource_exhausted for a database out of disk or memory, internal otherwise.
inline Status StatusOfFailure(SqlErrorKind kind, std::string message) {
  if (Retryable(kind)) return Unavailable(std::move(message));
  if (kind == SqlErrorKind::kResourceExhausted) return ResourceExhausted(std::move(message));
  return Internal(std::move(message));
}

/// A database dialect. Implementations are stateless and safe to share between threads.
class SqlDialect {
 public:
  virtual ~SqlDialect() = default;

  /// Starts a transaction on `session` (may throw soci::soci_error). Write transactions
  /// take the database's write lock at once (SQLite: BEGIN IMMEDIATE), so two writers
  /// never deadlock upgrading a read lock.
  virtual void Begin(soci::session& session, TxnMode mode) const = 0;

  /// Classifies an error thrown by SOCI for this database. kConnectionLost says the
  /// connection itself is gone (the server ended it or went away): it must be closed, never
  /// pooled again, and a fresh one may succeed. SQLite has no server to lose.
  virtual SqlErrorKind Classify(const soci::soci_error& error) const = 0;

  /// Whether a failed statement spoils the rest of its transaction. SQLite undoes only the
  /// failed statement; PostgreSQL aborts the whole transaction, so a write that may be
  /// rejected (a duplicate) runs inside a SAVEPOINT there, and the transaction stays usable.
  virtual bool StatementErrorAbortsTransaction() const { return false; }

  /// Whether the transaction open on `session` has ended on its own after a failed
  /// statement. SQLite may roll the whole transaction back after some errors (SQLITE_FULL,
  /// IOERR, NOMEM, BUSY, INTERRUPT, a trigger's RAISE(ROLLBACK)); what followed would then
  /// run in autocommit, each statement committed alone.
  virtual bool TransactionEnded(soci::session& /*session*/) const { return false; }
};

}  // namespace smooth::internal::sql
