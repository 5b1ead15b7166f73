// A pooled database connection: one SOCI session and the statements prepared on it,
// plus the small helpers that bind C++ variables to statement columns and parameters.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <soci/soci.h>

namespace smooth::internal::sql {

class ServerWatch;

/// A column that may be NULL.
template <typename T>
struct Nullable {
  T value{};
  soci::indicator ind = soci::i_null;

  bool is_null() const { return ind != soci::i_ok; }
  void Set(T v) {
    value = std::move(v);
    ind = soci::i_ok;
  }
  void SetNull() {
    value = T{};
    ind = soci::i_null;
  }
};

// Binding one variable as an output column (Into) or an input parameter (Use). Rows are
// structs with `template <class F> void Columns(F f)` that call f on each column in order.
inline void Into(soci::statement& st, long long& v) { st.exchange(soci::into(v)); }
inline void Into(soci::statement& st, std::string& v) { st.exchange(soci::into(v)); }
template <typename T>
void Into(soci::statement& st, Nullable<T>& v) {
  st.exchange(soci::into(v.value, v.ind));
}
template <typename Row>
requires requires(Row& r) {
  r.Columns([](auto&) {});
}
void Into(soci::statement& st, Row& row) {
  row.Columns([&st](auto& column) { Into(st, column); });
}

inline void Use(soci::statement& st, long long& v) { st.exchange(soci::use(v)); }
inline void Use(soci::statement& st, std::string& v) { st.exchange(soci::use(v)); }
template <typename T>
void Use(soci::statement& st, Nullable<T>& v) {
  st.exchange(soci::use(v.value, v.ind));
}
template <typename Row>
requires requires(Row& r) {
  r.Columns([](auto&) {});
}
void Use(soci::statement& st, Row& row) {
  row.Columns([&st](auto& column) { Use(st, column); });
}

/// Statement parameters (or columns) as a tuple: Params<long long, std::string>{{7, "x"}}.
template <typename... T>
struct Params {
  std::tuple<T...> values;
  template <typename F>
  void Columns(F f) {
    std::apply([&f](auto&... v) { (f(v), ...); }, values);
  }
};

/// The variables a prepared statement reads its results into (`out`) and its parameters
/// from (`in`). They live as long as the statement, because SOCI keeps their addresses.
template <typename Out, typename In>
struct Vars {
  Out out{};
  In in{};
  void Bind(soci::statement& st) {
    if constexpr (!std::is_same_v<Out, std::monostate>) Into(st, out);
    if constexpr (!std::is_same_v<In, std::monostate>) Use(st, in);
  }
};

/// The parameters of a statement that takes `rows.size()` rows at once (a multi-row
/// INSERT); Connection::PrepareRows sizes it before binding.
template <typename Row>
struct RowsIn {
  std::vector<Row> rows;
  void Bind(soci::statement& st) {
    for (Row& r : rows) Use(st, r);
  }
};

/// Output only / input only.
template <typename Out>
using OutVars = Vars<Out, std::monostate>;
template <typename In>
using InVars = Vars<std::monostate, In>;

/// A statement prepared once on a connection, with its bound variables.
struct PreparedBase {
  virtual ~PreparedBase() = default;
};
template <typename V>
struct Prepared final : PreparedBase {
  explicit Prepared(soci::session& session) : st(session) {}
  V vars;
  soci::statement st;
};

/// One database connection. Not thread-safe: a connection is used by one transaction at a
/// time, which the pool guarantees.
class Connection {
 public:
  explicit Connection(std::unique_ptr<soci::session> session) : session_(std::move(session)) {}

  soci::session& session() { return *session_; }

  /// The statement for `query`, prepared on first use and reused afterwards; the caller
  /// sets `vars.in`, executes, and reads `vars.out`.
  template <typename V>
  Prepared<V>& Prepare(const std::string& query) {
    auto it = statements_.find(query);
    if (it != statements_.end()) {
      auto* p = dynamic_cast<Prepared<V>*>(it->second.get());
      if (p == nullptr) throw std::logic_error("one query prepared with two variable sets");
      return *p;
    }
    auto p = std::make_unique<Prepared<V>>(*session_);
    p->vars.Bind(p->st);
    p->st.alloc();
    p->st.prepare(query);
    p->st.define_and_bind();
    Prepared<V>& ref = *p;
    statements_.emplace(query, std::move(p));
    return ref;
  }

  /// Prepare() for a statement taking `n` rows of parameters (RowsIn<Row>).
  template <typename Row>
  Prepared<RowsIn<Row>>& PrepareRows(const std::string& query, std::size_t n) {
    auto it = statements_.find(query);
    if (it != statements_.end()) {
      auto* p = dynamic_cast<Prepared<RowsIn<Row>>*>(it->second.get());
      if (p == nullptr || p->vars.rows.size() != n)
        throw std::logic_error("one query prepared with two variable sets");
      return *p;
    }
    auto p = std::make_unique<Prepared<RowsIn<Row>>>(*session_);
    p->vars.rows.resize(n);
    p->vars.Bind(p->st);
    p->st.alloc();
    p->st.prepare(query);
    p->st.define_and_bind();
    Prepared<RowsIn<Row>>& ref = *p;
    statements_.emplace(query, std::move(p));
    return ref;
  }

  /// Statements prepared on the server outside SOCI (the PostgreSQL pipeline): their
  /// names, by SQL text, and the number the next one's name takes. They live as long as
  /// the connection.
  struct ServerStatements {
    std::unordered_map<std::string, std::string> names;
    std::size_t next = 0;
  };
  ServerStatements& server_statements() { return server_statements_; }

  /// A connection whose state is unknown (a failed rollback, say) is closed instead of
  /// going back to its pool.
  void MarkBroken() { broken_ = true; }
  bool broken() const { return broken_ || interrupted(); }

  /// Bounds how long a call on this connection waits for its server (ServerWatch), and
  /// how the watch's thread ends one that waits too long: it ends the connection under the
  /// call, which then fails as on a lost connection. Set once, before first use.
  void SetWatch(std::shared_ptr<ServerWatch> watch, std::function<void()> interrupt) {
    watch_ = std::move(watch);
    interrupt_ = std::move(interrupt);
  }
  /// Safe to call from any thread.
  void Interrupt() {
    interrupted_ = true;
    if (interrupt_) interrupt_();
  }
  /// Whether Interrupt() has ended it: it is closed, never reused.
  bool interrupted() const { return interrupted_; }

  /// A call waiting for the server, watched for as long as it lives (when the connection
  /// has a watch). Nested ones are one call, the outermost.
  class Waiting {
   public:
    explicit Waiting(Connection& c);
    ~Waiting();
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;

   private:
    Connection& c_;
  };

 private:
  // Statements are declared after the session so they are destroyed first.
  std::unique_ptr<soci::session> session_;
  std::unordered_map<std::string, std::unique_ptr<PreparedBase>> statements_;
  ServerStatements server_statements_;
  bool broken_ = false;
  std::shared_ptr<ServerWatch> watch_;  // or null
  std::function<void()> interrupt_;
  int waiting_ = 0;  // Waiting objects alive; the owner's thread alone touches it
  std::atomic<bool> interrupted_{false};
};

}  // namespace smooth::internal::sql
