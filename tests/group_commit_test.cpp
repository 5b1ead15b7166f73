// Group commit: write operations of one tenant that arrive while another runs share its
// storage transaction and its commit. Each keeps its own outcome; if one gives up after
// writing, or the commit fails, none of the batch is saved, every one of them says so, and
// the in-memory state is rebuilt so that nothing lost is still offered as taken.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "schedule/write_batch.hpp"
#include "schedule_fixtures.hpp"
#include "storage/forwarding.hpp"
#include "subprocess.hpp"

namespace smooth::testing {
namespace {

using namespace std::chrono_literals;


// 30-minute cuts every 15 minutes, 09:00-17:00: 31 starts on a free day.
constexpr std::size_t kFreeDay = 31;

// What the faulty storage does to appointment inserts, by the appointment's notes:
// "fail" is refused (after the operation planned it); "slow" first runs `on_slow`.
struct Faults {
  std::function<void()> on_slow;
  std::atomic<bool> fail_commit{false};
  std::atomic<int> abort_commits{0};  // so many commits report aborted (a stale batch)
  std::function<void()> on_abort;     // runs in a commit before it reports aborted
  std::function<void()> before_commit;  // runs in every commit before it reaches storage
  std::atomic<int> commits{0};
  std::atomic<int> deferred{0};  // write transactions begun with BeginTenantWriteAt
  std::atomic<bool> fail_key_lookups{false};  // FindAppointmentByIdempotencyKey fails
  std::atomic<int> begun{0};                  // write transactions begun with BeginTenantWrite
  std::atomic<int> stale_reads{0};            // reads storage answered aborted (a stale guard)
};

class FaultyTransaction final : public internal::ForwardingTenantTransaction {
 public:
  FaultyTransaction(std::unique_ptr<TenantTransaction> inner, Faults& faults)
      : ForwardingTenantTransaction(std::move(inner)), faults_(faults) {}

  Result<Appointment> InsertAppointment(Appointment a) override {
    if (a.notes == "fail") return Internal("injected: insert refused");
    if (a.notes == "slow" && faults_.on_slow) faults_.on_slow();
    return ForwardingTenantTransaction::InsertAppointment(std::move(a));
  }
  Result<Appointment> FindAppointmentByIdempotencyKey(std::string_view key) override {
    if (faults_.fail_key_lookups) return Unavailable("injected: the lookup failed");
    return Read(ForwardingTenantTransaction::FindAppointmentByIdempotencyKey(key));
  }
  Result<Appointment> GetAppointment(AppointmentId id) override {
    return Read(ForwardingTenantTransaction::GetAppointment(id));
  }
  Status Commit() override {
    if (faults_.before_commit) faults_.before_commit();
    if (faults_.fail_commit) return Unavailable("injected: commit failed");
    if (faults_.abort_commits.load() > 0) {
      --faults_.abort_commits;
      if (faults_.on_abort) faults_.on_abort();
      return Aborted("injected: the tenant moved on");
    }
    ++faults_.commits;
    return ForwardingTenantTransaction::Commit();
  }

 private:
  Result<Appointment> Read(Result<Appointment> r) {
    if (!r && r.error().code() == StatusCode::kAborted) ++faults_.stale_reads;
    return r;
  }

  Faults& faults_;
};

class FaultyStorage final : public Storage {
 public:
  FaultyStorage(std::shared_ptr<Storage> inner, Faults& faults)
      : inner_(std::move(inner)), faults_(faults) {}

  Result<std::unique_ptr<SharedTransaction>> BeginShared(TxnMode mode) override {
    return inner_->BeginShared(mode);
  }
  Result<std::int64_t> SharedEpoch() override { return inner_->SharedEpoch(); }
  Result<Tenant> CreateTenant(Tenant tenant) override { return inner_->CreateTenant(std::move(tenant)); }
  Status DeleteTenant(const Tenant& tenant, const BeforeDelete& before) override {
    return inner_->DeleteTenant(tenant, before);
  }
  Result<std::unique_ptr<TenantTransaction>> BeginTenant(const Tenant& tenant, TxnMode mode) override {
    auto txn = inner_->BeginTenant(tenant, mode);
    if (!txn) return txn.error();
    return Wrap(std::move(*txn));
  }
  Result<BumpedWrite> BeginTenantWrite(const Tenant& tenant) override {
    auto begun = inner_->BeginTenantWrite(tenant);
    ++faults_.begun;
    if (begun) begun->txn = Wrap(std::move(begun->txn));
    return begun;
  }
  Result<std::unique_ptr<TenantTransaction>> BeginTenantWriteAt(const Tenant& tenant,
                                                                std::int64_t seq,
                                                                std::int64_t epoch) override {
    auto txn = inner_->BeginTenantWriteAt(tenant, seq, epoch);
    if (!txn || !*txn) return txn;
    ++faults_.deferred;
    return Wrap(std::move(*txn));
  }

 private:
  std::unique_ptr<TenantTransaction> Wrap(std::unique_ptr<TenantTransaction> txn) {
    return std::make_unique<FaultyTransaction>(std::move(txn), faults_);
  }

  std::shared_ptr<Storage> inner_;
  Faults& faults_;
};

// A ScheduleWorld whose data is set up normally, and a second Platform and Scheduler on the
// same storage seen through FaultyStorage.
struct FaultyWorld {
  ScheduleWorld w;
  Faults faults;
  std::unique_ptr<Platform> platform;
  std::unique_ptr<Scheduler> scheduler;
  Service cut;
  Customer pat;

  FaultyWorld() {
    Resource chair = w.AddResource(
        {.name = "Chair", .capacity = 1, .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
    cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
    pat = w.AddCustomer("Pat");
    PlatformOptions o;
    o.storage = std::make_shared<FaultyStorage>(w.storage, faults);
    o.clock = &w.clock;
    o.password_cost = PasswordCost::InsecureForTests();
    platform = Must(Platform::Open(o));
    scheduler = Must(Scheduler::Open(*platform));
  }

  Result<Appointment> Book(Instant start, std::string notes) {
    return scheduler->Book(w.owner, w.acme.id,
                           {.service = cut.id, .customer = pat.id, .start = start,
                            .notes = std::move(notes)});
  }
  // Books 10:00 (A) and, on another thread, 11:00 with `b_notes` (B) so that both land in
  // one batch: A's insert waits until B is on its way into the tenant's writes; B then
  // queues for the state A holds, and joins A's batch when A is done with it.
  std::pair<Result<Appointment>, Result<Appointment>> BookTogether(std::string b_notes) {
    std::latch a_inserting(1);
    std::atomic<bool> b_started{false};
    std::atomic<bool> counted{false};
    faults.on_slow = [&] {
      if (!counted.exchange(true)) a_inserting.count_down();  // once, should A run again
      while (!b_started.load()) std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(300ms);
    };
    Result<Appointment> a = Internal("not run"), b = Internal("not run");
    std::thread ta([&] { a = Book(Mon(10), "slow"); });
    std::thread tb([&] {
      a_inserting.wait();
      b_started = true;
      b = Book(Mon(11), b_notes);
    });
    ta.join();
    tb.join();
    faults.on_slow = nullptr;
    return {std::move(a), std::move(b)};
  }

  // What is stored, as a Scheduler that has never seen the tenant reads it.
  std::vector<std::string> Stored() {
    auto fresh = Must(Scheduler::Open(*w.platform));
    std::vector<std::string> out;
    for (const Appointment& a : Must(fresh->ListAppointments(
             w.root_p, w.acme.id, At("2025-01-01T00:00:00Z"), At("2029-01-01T00:00:00Z"))))
      out.push_back(Show(a.start));
    return out;
  }
  std::vector<std::string> Offered() {
    std::vector<std::string> out;
    for (const Slot& s : Must(scheduler->Availability(
             w.owner, w.acme.id,
             {.service = cut.id, .from = {2026, 3, 9}, .to = {2026, 3, 9}, .time_zone = "UTC"})))
      out.push_back(Show(s.start));
    return out;
  }
};

TEST_CASE("an operation that fails after writing saves nothing, alone in its batch") {
  FaultyWorld f;
  CHECK_CODE(f.Book(Mon(10), "fail"), StatusCode::kInternal);
  CHECK(f.Stored().empty());
  CHECK(f.Offered().size() == kFreeDay);
  Must(f.Book(Mon(10), "ok"));
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(10))});
}

TEST_CASE("one member failing after writing spoils the batch: the other is told, not saved") {
  FaultyWorld f;
  auto [a, b] = f.BookTogether("fail");
  CHECK_CODE(b, StatusCode::kInternal);
  CHECK_CODE(a, StatusCode::kUnavailable);
  CHECK(MessageOf(a).find("nothing was saved") != std::string::npos);
  CHECK(f.faults.commits.load() == 0);
  CHECK(f.Stored().empty());
  // The state that had A's booking in it was rebuilt: 10:00 is offered and books.
  CHECK(f.Offered().size() == kFreeDay);
  Must(f.Book(Mon(10), "again"));
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(10))});
}

TEST_CASE("operations that overlap share one commit and each gets its own answer") {
  FaultyWorld f;
  auto [a, b] = f.BookTogether("b");
  Must(a);
  Must(b);
  CHECK(f.faults.commits.load() == 1);  // both in one commit
  // A conflict inside a batch is the conflicting operation's alone.
  CHECK_CODE(f.Book(Mon(10), "c"), StatusCode::kConflict);
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(10)), Show(Mon(11))});
}

TEST_CASE("a failed commit is reported and leaves no trace in what is offered") {
  FaultyWorld f;
  f.faults.fail_commit = true;
  CHECK_CODE(f.Book(Mon(10), "x"), StatusCode::kUnavailable);
  f.faults.fail_commit = false;
  CHECK(f.Stored().empty());
  CHECK(f.Offered().size() == kFreeDay);
  Must(f.Book(Mon(10), "x"));
  CHECK(f.Offered().size() == kFreeDay - 3);  // 09:45, 10:00 and 10:15 overlap it
}

// Memory and PostgreSQL storage let a Scheduler that has been the tenant's only writer
// begin its batches without reading first (Storage::BeginTenantWriteAt); storage then
// checks at commit that the state they were decided against was current. SQLite does not.
TEST_CASE("a batch storage finds stale is decided again and saved once") {
  FaultyWorld f;
  Must(f.Book(Mon(9), "first"));
  Must(f.Book(Mon(13), "second"));
  if (TestStorageKind() == "sqlite") {
    CHECK(f.faults.deferred.load() == 0);
  } else {
    CHECK(f.faults.deferred.load() >= 1);
  }
  f.faults.abort_commits = 1;
  Appointment a = Must(f.Book(Mon(15), "x"));
  CHECK(a.start == Mon(15));
  CHECK(f.faults.abort_commits.load() == 0);  // the first commit was refused, the retry saved
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(9)), Show(Mon(13)), Show(Mon(15))});
  CHECK(f.Offered().size() == kFreeDay - 8);  // 09:00-09:15, 12:45-13:15, 14:45-15:15
}

// Decided again means decided from what the caller gave, every time.
TEST_CASE("a hold confirmed again after a stale commit keeps its idempotency key") {
  FaultyWorld f;
  Hold h = Must(f.scheduler->PlaceHold(f.w.owner, f.w.acme.id,
                                       {.service = f.cut.id, .customer = f.pat.id,
                                        .start = Mon(9)}));
  f.faults.abort_commits = 1;
  Appointment a = Must(f.scheduler->ConfirmHold(f.w.owner, f.w.acme.id, h.id, "confirm-1"));
  CHECK(f.faults.abort_commits.load() == 0);  // the first attempt was refused
  CHECK(a.idempotency_key == std::optional<std::string>("confirm-1"));
  auto fresh = Must(Scheduler::Open(*f.w.platform));
  Appointment stored = Must(fresh->GetAppointment(f.w.root_p, f.w.acme.id, a.id));
  CHECK(stored.idempotency_key == std::optional<std::string>("confirm-1"));
  // So the same booking asked for again with the key is found, not made twice.
  Appointment again = Must(f.scheduler->Book(
      f.w.owner, f.w.acme.id,
      {.service = f.cut.id, .customer = f.pat.id, .start = Mon(9), .idempotency_key = "confirm-1"}));
  CHECK(again.id == a.id);
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(9))});
}

TEST_CASE("every member of a batch storage finds stale runs again, and each is saved once") {
  FaultyWorld f;
  f.faults.abort_commits = 1;
  // A's slow insert runs again in the retry: the hook must count down once only.
  auto [a, b] = f.BookTogether("b");
  Must(a);
  Must(b);
  CHECK(f.faults.abort_commits.load() == 0);
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(10)), Show(Mon(11))});
  CHECK(f.Offered().size() == kFreeDay - 6);
}

// A batch begun while the one before it commits is prepared on top of that one's changes;
// storage checks only that the change sequence is the one it assumed. Should the batch
// before fail while another writer moves the sequence on by one, that check alone would let
// the batch commit though it never saw the other writer's change.
TEST_CASE("a batch prepared on top of one that fails is decided again, not committed") {
  FaultyWorld f;
  Resource room = f.w.AddResource(
      {.name = "Room", .capacity = 2, .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service session = f.w.AddService({.name = "Session", .requirements = {OneOf({room.id})}});
  auto book_room = [&](Scheduler& s) {
    return s.Book(f.w.owner, f.w.acme.id,
                  {.service = session.id, .customer = f.pat.id, .start = Mon(11)});
  };
  // The faulty Scheduler's own writes: the first finds another writer was there (the set-up),
  // the second that none was, so its batches are then begun with BeginTenantWriteAt.
  Must(book_room(*f.scheduler));  // the room's first place at 11:00
  Must(f.Book(Mon(13), "second"));
  if (TestStorageKind() != "postgresql") {
    // Memory storage begins such a batch only once the one before has committed (it takes
    // the tenant's lock), and SQLite does not defer: the case cannot arise there.
    CHECK(f.faults.deferred.load() == (TestStorageKind() == "sqlite" ? 0 : 1));
    return;
  }
  const int deferred_before = f.faults.deferred.load();
  auto other = Must(Scheduler::Open(*f.w.platform));  // another process, in effect
  std::atomic<bool> a_committing{false};
  bool b_began = false;
  Result<Appointment> by_other = Internal("not run");
  f.faults.abort_commits = 1;
  f.faults.on_abort = [&] {  // in A's commit, which storage is about to refuse as stale
    a_committing = true;
    // B's batch begins on top of A's...
    for (int i = 0; i < 5000 && f.faults.deferred.load() < deferred_before + 2; ++i)
      std::this_thread::sleep_for(1ms);
    b_began = f.faults.deferred.load() == deferred_before + 2;
    // ...and the other writer takes the room's second place: one change, as A's would be.
    by_other = book_room(*other);
  };
  Result<Appointment> a = Internal("not run"), b = Internal("not run");
  std::thread ta([&] { a = f.Book(Mon(10), "a"); });
  std::thread tb([&] {
    while (!a_committing.load()) std::this_thread::sleep_for(1ms);
    b = book_room(*f.scheduler);
  });
  ta.join();
  tb.join();
  f.faults.on_abort = nullptr;
  CHECK(b_began);
  Must(by_other);
  Must(a);  // decided again, and saved
  CHECK_CODE(b, StatusCode::kConflict);  // the room is full at 11:00
  auto fresh = Must(Scheduler::Open(*f.w.platform));
  int in_room = 0;
  for (const Appointment& x : Must(fresh->ListAppointments(f.w.root_p, f.w.acme.id, Mon(11),
                                                           Mon(11) + 1min)))
    in_room += x.resources == std::vector<ResourceId>{room.id} ? 1 : 0;
  CHECK(in_room == 2);
}

// The faulty Scheduler's first write finds the set-up's writes, its second that nobody else
// wrote: on PostgreSQL its batches are then begun with BeginTenantWriteAt. Books 09:00 and
// 16:00.
void StartDeferring(FaultyWorld& f) {
  Must(f.Book(Mon(9), "first"));
  Must(f.Book(Mon(16), "second"));
}

// Runs `write` on another thread while the faulty Scheduler commits a booking at 10:00 (A):
// on PostgreSQL, its batch then begins on top of A's, with BeginTenantWriteAt, before A
// has reached storage; A's commit is held until it has begun and had time to send whatever
// it would send. Returns whether it began that way.
bool WhileACommits(FaultyWorld& f, const std::function<void()>& write) {
  const bool deferring = TestStorageKind() == "postgresql";
  const int deferred_before = f.faults.deferred.load();
  std::atomic<bool> a_committing{false};
  bool b_began = false;
  f.faults.before_commit = [&] {
    if (a_committing.exchange(true)) return;  // only A's commit waits
    if (deferring) {
      for (int i = 0; i < 5000 && f.faults.deferred.load() < deferred_before + 2; ++i)
        std::this_thread::sleep_for(1ms);
      b_began = f.faults.deferred.load() == deferred_before + 2;
    }
    std::this_thread::sleep_for(200ms);  // the other write's first statements, if it sends them
  };
  Result<Appointment> a = Internal("not run");
  std::thread ta([&] { a = f.Book(Mon(10), "a"); });
  std::thread tb([&] {
    while (!a_committing.load()) std::this_thread::sleep_for(1ms);
    write();
  });
  ta.join();
  tb.join();
  f.faults.before_commit = nullptr;
  Must(a);
  return b_began;
}

// Its guard (the change sequence A will have reached) goes with its first statement: sent
// before A's commit, it would find the sequence short and fail the batch as stale.
TEST_CASE("a write that reads, begun while the batch before it commits, waits for that commit") {
  FaultyWorld f;
  const Appointment first = Must(f.Book(Mon(11), "moved"));
  StartDeferring(f);
  const int begun_before = f.faults.begun.load();
  Result<Appointment> moved = Internal("not run");
  const bool b_began = WhileACommits(f, [&] {
    moved = f.scheduler->Reschedule(f.w.owner, f.w.acme.id, first.id, Mon(12), std::nullopt);
  });
  CHECK(b_began == (TestStorageKind() == "postgresql"));
  Must(moved);
  CHECK(f.faults.stale_reads.load() == 0);                    // decided once, against A's changes
  if (b_began) CHECK(f.faults.begun.load() == begun_before);  // no batch began the slow way
  CHECK(f.Stored() ==
        std::vector<std::string>{Show(Mon(9)), Show(Mon(10)), Show(Mon(12)), Show(Mon(16))});
}

// A batch holds at most WriteBatch::kMaxMembers operations; the writers beyond wait for the
// next. Many more writers than that, some looking up idempotency keys (which sends the
// batch's guard early on PostgreSQL) and another Scheduler writing beside them (so batches
// begin both ways): every booking is acknowledged and saved once, and nothing waits for
// ever (the watchdog aborts after a minute).
TEST_CASE("more writers than a batch holds are each saved once, and none waits for ever") {
  FaultyWorld f;
  Resource room = f.w.AddResource(
      {.name = "Hall", .capacity = 10000, .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service seat = f.w.AddService({.name = "Seat", .requirements = {OneOf({room.id})}});
  StartDeferring(f);
  auto other = Must(Scheduler::Open(*f.w.platform));  // another process, in effect
  constexpr int kWriters = 3 * internal::WriteBatch::kMaxMembers / 2;
  constexpr int kEach = 4;
  std::atomic<int> acknowledged{0};
  std::mutex mu;
  std::vector<std::string> refusals;  // guarded by mu
  {
    Watchdog watchdog(60s, "more writers than a batch holds");
    std::latch start(kWriters);
    std::vector<std::thread> writers;
    for (int i = 0; i < kWriters; ++i)
      writers.emplace_back([&, i] {
        start.arrive_and_wait();
        for (int j = 0; j < kEach; ++j) {
          BookingRequest r{.service = seat.id, .customer = f.pat.id, .start = Mon(10)};
          if (i % 2 == 1) r.idempotency_key = fmt::format("seat-{}-{}", i, j);
          Scheduler& s = i % 16 == 0 ? *other : *f.scheduler;
          auto booked = s.Book(f.w.owner, f.w.acme.id, r);
          if (booked) {
            ++acknowledged;
          } else {
            std::lock_guard lock(mu);
            refusals.push_back(fmt::format("writer {}: {}", i, booked.error().ToString()));
          }
        }
      });
    for (std::thread& t : writers) t.join();
  }
  for (const std::string& r : refusals) MESSAGE(r);
  CHECK(refusals.empty());
  CHECK(acknowledged.load() == kWriters * kEach);
  auto fresh = Must(Scheduler::Open(*f.w.platform));
  CHECK(Must(fresh->ListAppointments(f.w.root_p, f.w.acme.id, Mon(10), Mon(10) + 1min)).size() ==
        static_cast<std::size_t>(kWriters * kEach));
}

// A refusal decided on top of A's changes stands once they have committed: it is not
// decided again (which would begin the next batch the slow way, as after another writer).
TEST_CASE("a refusal prepared on top of a commit in flight stands once that commit lands") {
  FaultyWorld f;
  StartDeferring(f);
  const int begun_before = f.faults.begun.load();
  Result<Appointment> clash = Internal("not run");
  const bool b_began = WhileACommits(f, [&] { clash = f.Book(Mon(10), "clash"); });
  CHECK(b_began == (TestStorageKind() == "postgresql"));
  CHECK_CODE(clash, StatusCode::kConflict);  // A has 10:00
  Must(f.Book(Mon(14), "after"));
  // Memory and SQLite begin every batch that way; PostgreSQL only after another writer.
  if (b_began) CHECK(f.faults.begun.load() == begun_before);
  CHECK(f.Stored() ==
        std::vector<std::string>{Show(Mon(9)), Show(Mon(10)), Show(Mon(14)), Show(Mon(16))});
}

}  // namespace
}  // namespace smooth::testing

namespace smooth::testing {
namespace {

// PostgreSQL sends a transaction's inserts with its COMMIT, each column of the rows as one
// array parameter of a prepared statement: whatever the text, it arrives as it was.
TEST_CASE("what a commit carries arrives exactly, whatever the text") {
  ScheduleWorld w;
  Resource chair = w.AddResource(
      {.name = "Chair", .capacity = 1, .time_zone = "UTC", .hours = Weekdays({Hours(9, 17)})});
  Service cut = w.AddService({.name = "Cut", .requirements = {OneOf({chair.id})}});
  Customer pat = w.AddCustomer("Pat");
  const std::string notes =
      "It's a \"test\" \\ '); DROP TABLE appointments; -- $$ $1 :name \\x27 E'\\n' \n\t Zoë ☕";
  const std::string key = "key-'\"\\-;--";
  Appointment a = Must(w.scheduler->Book(
      w.owner, w.acme.id,
      {.service = cut.id, .customer = pat.id, .start = Mon(10), .notes = notes,
       .idempotency_key = key}));
  auto fresh = Must(Scheduler::Open(*w.platform));
  Appointment stored = Must(fresh->GetAppointment(w.root_p, w.acme.id, a.id));
  CHECK(stored.notes == notes);
  CHECK(stored.idempotency_key == std::optional<std::string>(key));
  CHECK(!stored.series);
  CHECK(Describe(stored) == Describe(a));
  // The retry with the same key finds it, in storage.
  CHECK(Must(fresh->Book(w.owner, w.acme.id,
                         {.service = cut.id, .customer = pat.id, .start = Mon(10), .notes = notes,
                          .idempotency_key = key}))
            .id == a.id);

  // Several rows at once, with what means something inside an array literal: braces,
  // commas, quotes, backslashes, the word NULL, an empty string.
  const std::vector<std::string> texts = {"NULL", "", "{a,b}", "\\\"}\"", " , ", "null"};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SeriesRequest series{.first = {.service = cut.id, .customer = pat.id,
                                   .start = Mon(11 + static_cast<int>(i)), .notes = texts[i]},
                         .rrule = "FREQ=DAILY;COUNT=3"};
    SeriesBooking booked = Must(w.scheduler->BookSeries(w.owner, w.acme.id, series));
    REQUIRE(booked.appointments.size() == 3);
    auto reread = Must(Scheduler::Open(*w.platform));
    for (const Appointment& b : booked.appointments) {
      Appointment back = Must(reread->GetAppointment(w.root_p, w.acme.id, b.id));
      CHECK(back.notes == texts[i]);
      CHECK(back.series == std::optional<SeriesId>(booked.series));
      CHECK(Describe(back) == Describe(b));
    }
  }
}


// A reader whose snapshot holds another process's commit answers from a state that has it,
// even while this process's own batch is on its way to storage. On PostgreSQL that batch
// was begun with BeginTenantWriteAt, which locks nothing until it commits, so the other
// process commits in between; the other backends lock as the batch begins.
TEST_CASE("a read catches up with another process's commit while this one's batch commits") {
  FaultyWorld f;
  Must(f.Book(Mon(9), "first"));
  Must(f.Book(Mon(12), "second"));  // from here f's batches assume their state is current
  // Another process (w.scheduler, on the same storage) books 15:00.
  Must(f.w.scheduler->Book(f.w.owner, f.w.acme.id,
                           {.service = f.cut.id, .customer = f.pat.id, .start = Mon(15)}));
  // While f's batch is about to reach storage, a reader of f's starts; the commit is held
  // back a moment so that the read runs while the batch is in flight.
  std::vector<std::string> offered_meanwhile;
  std::atomic<bool> fired{false};
  std::thread reader;
  f.faults.before_commit = [&] {
    if (fired.exchange(true)) return;
    reader = std::thread([&] { offered_meanwhile = f.Offered(); });
    std::this_thread::sleep_for(200ms);
  };
  Appointment a = Must(f.Book(Mon(10), "a"));
  REQUIRE(fired.load());
  reader.join();
  f.faults.before_commit = nullptr;
  CHECK(a.start == Mon(10));
  REQUIRE_FALSE(offered_meanwhile.empty());
  CHECK_MESSAGE(std::find(offered_meanwhile.begin(), offered_meanwhile.end(), Show(Mon(15))) ==
                    offered_meanwhile.end(),
                "15:00, booked and committed by another process, was offered as free");
  auto offered = f.Offered();
  CHECK(std::find(offered.begin(), offered.end(), Show(Mon(15))) == offered.end());
  CHECK(std::find(offered.begin(), offered.end(), Show(Mon(10))) == offered.end());
}

// A retry whose look-up of its key fails cannot tell a new booking from one made before.
// It must say so (unavailable: try again), not go on as a new booking and be told the slot
// is taken: the client would take its own booking for one that failed.
TEST_CASE("a retry whose key look-up fails is unavailable, not a new booking") {
  FaultyWorld f;
  BookingRequest request{
      .service = f.cut.id, .customer = f.pat.id, .start = Mon(10), .idempotency_key = "pay-7"};
  Appointment first = Must(f.scheduler->Book(f.w.owner, f.w.acme.id, request));
  f.faults.fail_key_lookups = true;
  auto retry = f.scheduler->Book(f.w.owner, f.w.acme.id, request);
  CHECK_CODE(retry, StatusCode::kUnavailable);
  CHECK(MessageOf(retry).find("injected: the lookup failed") != std::string::npos);
  // A request with a new key, the same slot: not a retry, and the slot is taken.
  request.idempotency_key = "pay-8";
  CHECK_CODE(f.scheduler->Book(f.w.owner, f.w.acme.id, request), StatusCode::kUnavailable);
  f.faults.fail_key_lookups = false;
  CHECK_CODE(f.scheduler->Book(f.w.owner, f.w.acme.id, request), StatusCode::kConflict);
  request.idempotency_key = "pay-7";
  CHECK(Must(f.scheduler->Book(f.w.owner, f.w.acme.id, request)).id == first.id);
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(10))});
}

// An idempotent retry that finds the row an earlier member of its own batch wrote answers
// with that row only once the batch has committed: had it answered at once, a failed commit
// would leave the client holding an acknowledged booking that storage does not have.
TEST_CASE("a retry by idempotency key inside the batch waits for the booking to commit") {
  FaultyWorld f;
  f.faults.fail_commit = true;  // the batch carrying the first request will not commit
  std::latch a_inserting(1);
  std::atomic<bool> b_started{false};
  std::atomic<bool> counted{false};
  f.faults.on_slow = [&] {
    if (!counted.exchange(true)) a_inserting.count_down();
    while (!b_started.load()) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(300ms);  // the retry joins this batch meanwhile
  };
  auto request = [&](std::string notes) {
    return BookingRequest{.service = f.cut.id, .customer = f.pat.id, .start = Mon(10),
                          .notes = std::move(notes), .idempotency_key = "pay-42"};
  };
  Result<Appointment> a = Internal("not run"), b = Internal("not run");
  std::thread ta([&] { a = f.scheduler->Book(f.w.owner, f.w.acme.id, request("slow")); });
  std::thread tb([&] {
    a_inserting.wait();
    b_started = true;
    b = f.scheduler->Book(f.w.owner, f.w.acme.id, request("retry"));  // the client's retry
  });
  ta.join();
  tb.join();
  f.faults.on_slow = nullptr;
  f.faults.fail_commit = false;
  CHECK_CODE(a, StatusCode::kUnavailable);  // the commit failed: the first is told
  CHECK(f.Stored().empty());                // nothing was saved
  CHECK_MESSAGE(!b.ok(), "retry acknowledged appointment " << (b ? b->id.value() : 0)
                                                            << " that storage does not have");
  // It is told what the first was: the commit it waited for failed.
  CHECK_CODE(b, StatusCode::kUnavailable);
  // Asked again once storage works, the booking is made, once.
  Appointment again = Must(f.scheduler->Book(f.w.owner, f.w.acme.id, request("again")));
  CHECK(f.Stored() == std::vector<std::string>{Show(Mon(10))});
  CHECK(Must(f.scheduler->Book(f.w.owner, f.w.acme.id, request("again"))).id == again.id);
}

TEST_CASE("a listener that subscribes while a booking commits is told of it") {
  FaultyWorld f;
  std::vector<ScheduleEvent> seen;
  std::atomic<bool> subscribed{false};
  // The booking is planned with nobody listening; the listener arrives before it commits.
  f.faults.before_commit = [&] {
    if (!subscribed.exchange(true))
      f.scheduler->Subscribe([&](const ScheduleEvent& e) { seen.push_back(e); });
  };
  Appointment booked = Must(f.Book(Mon(10), "first"));
  f.faults.before_commit = nullptr;
  REQUIRE(subscribed.load());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].type == EventType::kCreated);
  REQUIRE(seen[0].appointment.has_value());
  CHECK(seen[0].appointment->id == booked.id);
  // The numbering goes on from there, one per event.
  Appointment next = Must(f.Book(Mon(11), "second"));
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].appointment->id == next.id);
  CHECK(seen[1].seq == seen[0].seq + 1);
}

// docs/scheduling.md: hold_expired is not announced if another writer released or confirmed
// the hold before it expired. Maintain, run while this process's batch is on its way (begun
// with BeginTenantWriteAt, it locks nothing until it commits, and will fail there), leaves
// the tenant to its users, who ask storage.
TEST_CASE("Maintain does not announce the expiry of a hold another process confirmed") {
  FaultyWorld f;
  Must(f.Book(Mon(9), "first"));
  Must(f.Book(Mon(12), "second"));  // from here f's batches assume their state is current
  Hold h = Must(f.scheduler->PlaceHold(f.w.owner, f.w.acme.id,
                                       {.service = f.cut.id, .customer = f.pat.id, .start = Mon(14)},
                                       std::chrono::minutes(10)));
  std::vector<ScheduleEvent> seen;
  std::mutex seen_mu;
  f.scheduler->Subscribe([&](const ScheduleEvent& e) {
    std::lock_guard lock(seen_mu);
    seen.push_back(e);
  });
  // Another process confirms the hold, before it expires.
  Must(f.w.scheduler->ConfirmHold(f.w.owner, f.w.acme.id, h.id));
  // f books 10:00; while that batch commits, the hold's time passes and Maintain runs.
  // As in the read test above: the commit is only held back a moment, not until
  // Maintain is done (a read waits for it to land, then asks storage).
  std::atomic<bool> fired{false};
  std::optional<Result<MaintenanceReport>> report;
  std::thread housekeeper;
  f.faults.before_commit = [&] {
    if (fired.exchange(true)) return;
    f.w.clock.Set(h.expires_at + std::chrono::minutes(1));
    housekeeper = std::thread([&] { report = f.scheduler->Maintain(); });
    std::this_thread::sleep_for(300ms);
  };
  Appointment a = Must(f.Book(Mon(10), "a"));  // its batch fails at storage and runs again
  housekeeper.join();
  f.faults.before_commit = nullptr;
  REQUIRE(fired.load());
  REQUIRE(report);
  REQUIRE(report->ok());
  CHECK((*report)->holds_expired == 0);
  std::lock_guard lock(seen_mu);
  // The listener heard this process's booking, so it was there to hear an expiry.
  CHECK(std::any_of(seen.begin(), seen.end(), [&](const ScheduleEvent& e) {
    return e.type == EventType::kCreated && e.appointment && e.appointment->id == a.id;
  }));
  for (const ScheduleEvent& e : seen)
    CHECK_MESSAGE(!(e.type == EventType::kHoldExpired && e.hold && e.hold->id == h.id),
                  "hold_expired announced for a hold another process confirmed");
}

}  // namespace
}  // namespace smooth::testing

namespace smooth::testing {
namespace {

// A write checks its actor inside the tenant's write transaction; when users change, the
// check reads who the actor is from the shared tables, on another connection. Tenants
// writing at once, as many as the pool has connections, must not each hold one and wait
// for another (PostgreSQL: one pool for every tenant; docs/storage.md, "Pools").
TEST_CASE("tenants writing at once while users change never wait on each other's connections") {
  StorageOptions small;
  small.pool_size = 2;
  World w(small);
  auto scheduler = Must(Scheduler::Open(*w.platform));
  struct Writer {
    TenantId tenant;
    Service seat;
    Customer pat;
    Principal owner;
  };
  std::vector<Writer> tenants;
  for (const auto& [t, owner] :
       {std::pair{w.acme, "TENANT_OWNER"}, std::pair{w.globex, "globex:TENANT_OWNER"}}) {
    Resource hall = Must(scheduler->CreateResource(w.root_p, t.id,
                                                   {.name = "Hall",
                                                    .capacity = 10000,
                                                    .time_zone = "UTC",
                                                    .hours = Weekdays({Hours(9, 17)})}));
    tenants.push_back({t.id,
                       Must(scheduler->CreateService(
                           w.root_p, t.id, {.name = "Seat", .requirements = {OneOf({hall.id})}})),
                       Must(scheduler->CreateCustomer(w.root_p, t.id,
                                                      {.name = "Pat", .email = "pat@example.com"})),
                       Must(w.platform->ActAs(w.users[owner].id))});
  }
  constexpr int kWriters = 4;
  constexpr int kEach = 60;
  std::atomic<bool> done{false};
  std::mutex mu;
  std::vector<std::string> refusals;  // guarded by mu
  auto refused = [&](std::string what) {
    std::lock_guard lock(mu);
    refusals.push_back(std::move(what));
  };
  {
    Watchdog watchdog(120s, "tenants writing while users change");
    // Each change to a user moves the shared epoch on: the next check of every actor reads.
    std::thread changer([&] {
      const UserId staff = w.users["TENANT_STAFF"].id;
      while (!done.load()) {
        for (auto change : {&Platform::DeactivateUser, &Platform::ReactivateUser}) {
          auto changed = (w.platform.get()->*change)(w.root_p, staff);
          if (!changed) refused("changer: " + changed.error().ToString());
        }
      }
    });
    std::vector<std::thread> writers;
    for (int i = 0; i < kWriters; ++i)
      writers.emplace_back([&, i] {
        const Writer& x = tenants[static_cast<std::size_t>(i) % tenants.size()];
        for (int j = 0; j < kEach; ++j) {
          auto booked = scheduler->Book(
              x.owner, x.tenant, {.service = x.seat.id, .customer = x.pat.id, .start = Mon(10)});
          if (!booked) refused(fmt::format("writer {}: {}", i, booked.error().ToString()));
        }
      });
    for (std::thread& t : writers) t.join();
    done = true;
    changer.join();
  }
  for (const std::string& r : refusals) MESSAGE(r);
  CHECK(refusals.empty());
  std::size_t stored = 0;
  for (const Writer& x : tenants)
    stored += Must(scheduler->ListAppointments(w.root_p, x.tenant, Mon(10), Mon(10) + 1min)).size();
  CHECK(stored == static_cast<std::size_t>(kWriters * kEach));
}

}  // namespace
}  // namespace smooth::testing
