// Scheduler: per-tenant state (resources with calendars and occupancy indexes, services,
// customers, placed appointments and holds) kept in sync with storage, the operations
// that change it inside storage transactions, availability, and events.
#include "smooth/scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "access/epoch_hint.hpp"
#include "access/validate.hpp"
#include "core/enum_names.hpp"
#include "schedule/civil_time.hpp"
#include "schedule/engine.hpp"
#include "schedule/recurrence.hpp"
#include "schedule/write_batch.hpp"

namespace smooth {

using internal::ResourceState;
using internal::Scratch;
using internal::Span;
using internal::Timing;

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kCreated: return "created";
    case EventType::kUpdated: return "updated";
    case EventType::kRescheduled: return "rescheduled";
    case EventType::kCancelled: return "cancelled";
    case EventType::kHoldCreated: return "hold_created";
    case EventType::kHoldReleased: return "hold_released";
    case EventType::kHoldExpired: return "hold_expired";
  }
  return "unknown";
}

namespace {

constexpr Duration kTick{1};

// What an occupying item put into the indexes, so it can be taken out again.
struct Placement {
  Span occupied;
  std::vector<ResourceId> resources;
};

// A service with its requirements resolved against the tenant's resources, so booking and
// availability neither search a requirement's list nor hash each of its ids.
struct ServiceState {
  // One entry of a requirement: the resource's id and its state. States live in
  // TenantState::resources, whose nodes never move and are only dropped when the whole
  // state is rebuilt, which rebuilds the services too.
  struct Member {
    ResourceId id;
    ResourceState* state;
    friend bool operator<(const Member& a, const Member& b) { return a.id < b.id; }
  };

  Service service;
  std::vector<std::vector<Member>> members;  // per requirement, in the requirement's order
  std::vector<std::vector<Member>> by_id;    // the same, sorted by id

  // The member `id` of requirement i, or nullptr.
  const Member* Find(std::size_t i, ResourceId id) const {
    const auto& v = by_id[i];
    auto it = std::lower_bound(v.begin(), v.end(), Member{id, nullptr});
    return it != v.end() && it->id == id ? &*it : nullptr;
  }
};

// Reusable buffers for the writer holding TenantState::mu exclusively, so placing a booking
// does not allocate.
struct WriterScratch {
  Scratch rule;
  std::vector<std::vector<ResourceId>> candidates;
  std::vector<std::pair<Duration, ResourceId>> ranked;
};

struct TenantState {
  std::shared_mutex mu;  // guards everything below but the outbox and last_used
  // When an operation last began on the tenant (Platform clock, Instant's ticks), for
  // Maintain's unloading.
  std::atomic<Instant::rep> last_used{0};
  bool loaded = false;
  std::int64_t seq = 0;  // the storage change sequence this state reflects
  // The highest sequence known to be in storage (built from it, or a batch's commit
  // confirmed): `seq` runs ahead of it while a batch is being committed.
  std::int64_t committed_seq = 0;
  std::unordered_map<ResourceId, ResourceState> resources;
  std::unordered_map<ServiceId, ServiceState> services;
  // Set by a reader whose insert into a resource's StartsCache was refused for lack of
  // room; the next holder of the exclusive lock empties the full caches.
  std::atomic<bool> trim_starts{false};
  WriterScratch writer;  // for the holder of mu exclusively
  std::unordered_map<CustomerId, Customer> customers;
  std::unordered_map<AppointmentId, Placement> appointments;  // occupying ones
  std::map<HoldId, Hold> holds;                                // not released

  // Group commit (write_batch.hpp), guarded by mu. The state holds the effects of the open
  // batch's finished operations before they are committed; if the commit fails, `resync`
  // makes the next user re-read from storage what the batch touched (`dirty`, a state
  // half built, makes it rebuild the whole state).
  std::shared_ptr<internal::WriteBatch> batch;  // open: operations may join it
  bool opening = false;             // a writer is beginning the next batch's transaction
  int committing = 0;                // closed batches still being committed
  bool dirty = false;
  bool resync = false;
  std::vector<AppointmentId> touched;  // placed or unplaced since the last batch committed
  std::vector<AppointmentId> touched_spare;  // an empty buffer, so a commit need not allocate
  // The appointments the open batch's bookings created, with where their `created` event
  // goes among the batch's events. Copied into events only if someone listens when the batch
  // is queued (a booking's row lives until its batch is settled); spare as for touched.
  std::vector<std::pair<std::size_t, const Appointment*>> created, created_spare;
  // For batches begun with Storage::BeginTenantWriteAt, which assume the state is current:
  // the shared epoch the last batch began or committed against (-1: none known), and
  // whether writers elsewhere moved the tenant on lately (then batches begin with
  // BeginTenantWrite, which waits for them and says what they did).
  std::int64_t epoch = -1;
  bool contended = false;
  std::condition_variable_any batch_cv;  // a batch opened, or opening it failed
  std::atomic<int> write_waiters{0};     // writers waiting for mu to join a batch
  // Batches commit, and queue their events, in the order they closed: a batch that began
  // with BeginTenantWriteAt while the one before it was committing assumes that one's
  // sequence, so must reach storage after it. commit_turns is guarded by mu.
  std::uint64_t commit_turns = 0;     // turns handed out
  std::mutex commit_mu;               // guards commit_serving and last_commit_failed
  std::condition_variable commit_cv;  // commit_serving moved on
  std::uint64_t commit_serving = 0;   // the turn that may commit now
  bool last_commit_failed = false;    // the outcome of the turn before commit_serving

  std::mutex outbox_mu;
  std::int64_t event_seq = 0;        // guarded by outbox_mu
  std::deque<ScheduleEvent> outbox;  // guarded by outbox_mu
  std::mutex dispatch_mu;            // held while delivering, to keep seq order

  // Whether the state holds writes that storage may not show yet: then it must not be
  // rebuilt from storage.
  bool WritesInFlight() const { return batch != nullptr || committing > 0; }

  // Waits, `lock` (on mu) released meanwhile, until no batch is committing.
  void WaitForCommits(std::unique_lock<std::shared_mutex>& lock) {
    batch_cv.wait(lock, [this] { return committing == 0; });
  }
};

// Resolves `s`'s requirements against `st.resources`; they exist (checked on write).
ServiceState MakeServiceState(TenantState& st, Service s) {
  ServiceState out;
  out.members.resize(s.requirements.size());
  for (std::size_t i = 0; i < s.requirements.size(); ++i) {
    for (ResourceId r : s.requirements[i].resources) {
      auto it = st.resources.find(r);
      if (it != st.resources.end()) out.members[i].push_back({r, &it->second});
    }
  }
  out.by_id = out.members;
  for (auto& v : out.by_id) std::sort(v.begin(), v.end());
  out.service = std::move(s);
  return out;
}

// Empties the resources' StartsCaches that filled up. Needs st.mu held exclusively.
void TrimStartsCaches(TenantState& st) {
  if (!st.trim_starts.exchange(false, std::memory_order_relaxed)) return;
  for (auto& [id, rs] : st.resources)
    if (rs.starts.full()) rs.starts.Clear();
}

Timing TimingOf(const Service& s) { return {s.duration, s.buffer_before, s.buffer_after}; }
Timing TimingOf(const Appointment& a) { return {a.end - a.start, a.buffer_before, a.buffer_after}; }
Timing TimingOf(const Hold& h) { return {h.end - h.start, h.buffer_before, h.buffer_after}; }

Result<internal::Calendar> MakeCalendar(const std::string& zone, const WorkingHours& hours) {
  internal::CalendarSpec spec;
  spec.time_zone = zone;
  spec.weekly = hours.weekly;
  for (const DateOverride& o : hours.overrides) spec.overrides.push_back({o.date, o.hours});
  for (const TimeOff& t : hours.time_off) {
    if (!(t.start < t.end)) return InvalidArgument("time_off: start must be before end");
    spec.time_off.push_back({t.start, t.end});
  }
  return internal::Calendar::Make(std::move(spec));
}

// The longest duration any setting may have (a service's duration, buffers, notice and
// advance; the hold time to live). With it, nothing computed from an accepted start can
// overflow Instant: the start is within years 1 to 9999 (ValidateInstant), and the most added
// to it, or taken from it, is a few of these.
constexpr Duration kMaxDuration = std::chrono::hours(24 * 366 * 10);
static_assert(internal::kEndInstant + 4 * kMaxDuration < Instant::max() &&
                  internal::kFirstInstant - 4 * kMaxDuration > Instant::min(),
              "start + buffer_before + duration + buffer_after must fit in an Instant");

Status ValidateDuration(Duration d, std::string_view field, bool allow_zero) {
  if (d < Duration(0) || (!allow_zero && d == Duration(0)))
    return InvalidArgument(fmt::format("{}: must be {}", field, allow_zero ? "zero or more" : "positive"));
  if (d > kMaxDuration) return InvalidArgument(fmt::format("{}: too long", field));
  return {};
}

// Book and ConfirmHold take the same keys.
Status ValidateIdempotencyKey(const std::optional<std::string>& key) {
  if (key && (key->empty() || key->size() > 200))
    return InvalidArgument("idempotency_key: must be 1 to 200 bytes");
  if (key) return internal::ValidateStorable(*key, "idempotency_key");
  return {};
}

// Whether `role` may place a booking outside working hours: asked for with
// BookingRequest::outside_hours when booking or holding, and kept by Reschedule only for
// such a role.
bool MayBookOutsideHours(Role role) {
  return role == Role::kTenantOwner || role == Role::kTenantManager ||
         role == Role::kSuperuser || role == Role::kPlatformManager;
}

}  // namespace

struct Scheduler::Impl {
  Platform& platform;
  SchedulerOptions opt;
  std::shared_ptr<Storage> storage;

  std::mutex tenants_mu;
  std::unordered_map<TenantId, std::shared_ptr<TenantState>> tenants;  // guarded by tenants_mu
  // The last event sequence of each tenant whose state Maintain unloaded, for the state
  // made on its next use, so that its events' seq goes on from there.
  std::unordered_map<TenantId, std::int64_t> unloaded_event_seq;  // guarded by tenants_mu

  std::shared_mutex tenant_cache_mu;
  std::unordered_map<TenantId, Tenant> tenant_cache;  // guarded by tenant_cache_mu

  std::mutex listeners_mu;
  std::map<std::uint64_t, Listener> listeners;  // guarded by listeners_mu
  std::uint64_t next_listener = 1;               // guarded by listeners_mu
  std::atomic<std::size_t> listener_count{0};    // listeners.size(), readable without the lock

  Impl(Platform& p, SchedulerOptions o)
      : platform(p), opt(o), storage(p.options().storage) {}

  Instant Now() const { return platform.Now(); }

  std::shared_ptr<TenantState> StateOf(TenantId id) {
    std::shared_ptr<TenantState> s;
    {
      std::lock_guard lock(tenants_mu);
      auto& entry = tenants[id];
      if (!entry) {
        entry = std::make_shared<TenantState>();
        if (auto it = unloaded_event_seq.find(id); it != unloaded_event_seq.end()) {
          entry->event_seq = it->second;  // the state is not shared yet
          unloaded_event_seq.erase(it);
        }
      }
      s = entry;
    }
    s->last_used.store(Now().time_since_epoch().count(), std::memory_order_relaxed);
    return s;
  }

  // --- Tenant context and authorization ------------------------------------------------

  // The tenant row, or not_found when it does not exist or the actor belongs to another.
  // The scheduler only uses the fields no API can change (id, slug, is_demo, time_zone),
  // so rows are cached; whether the actor may act at all (a suspended tenant, say) is
  // decided afresh by the Platform on every call.
  Result<Tenant> TenantFor(const Principal& actor, TenantId id) {
    if (actor.user.tenant && actor.user.tenant != id)
      return NotFound(fmt::format("tenant {} not found", id));
    {
      std::shared_lock lock(tenant_cache_mu);
      auto it = tenant_cache.find(id);
      if (it != tenant_cache.end()) return it->second;
    }
    auto txn = storage->BeginShared(TxnMode::kRead);
    if (!txn) return txn.error();
    auto t = (*txn)->GetTenant(id);
    if (!t) return NotFound(fmt::format("tenant {} not found", id));
    std::unique_lock lock(tenant_cache_mu);
    tenant_cache.emplace(id, *t);
    return t;
  }

  static Target TargetIn(const Tenant& t, std::optional<UserId> owner = std::nullopt) {
    return Target{.tenant = t.id, .owner = owner, .is_temporary = t.is_demo, .role = {}};
  }

  Status Require(const Principal& actor, Action action, const Tenant& t,
                 std::optional<UserId> owner = std::nullopt) {
    return Check(actor, action, TargetIn(t, owner));
  }

  // Platform::Check; within a write attempt (Retrying), what it audits is held back until
  // the attempt's answer stands, so a refusal decided again is logged once.
  static thread_local std::vector<AuditRecord>* held_audit;
  Status Check(const Principal& actor, Action action, const Target& target) {
    if (held_audit != nullptr) return platform.Check(actor, action, target, *held_audit);
    return platform.Check(actor, action, target);
  }
  // Platform::GetUser, with its record held the same way.
  Result<User> GetUser(const Principal& actor, UserId id) {
    if (held_audit != nullptr) return platform.GetUser(actor, id, *held_audit);
    return platform.GetUser(actor, id);
  }
  // Platform::Evaluate, with a grant use's record held the same way.
  bool Allows(const Principal& actor, Action action, const Target& target) {
    if (held_audit != nullptr) return platform.Evaluate(actor, action, target, *held_audit).allowed;
    return platform.Evaluate(actor, action, target).allowed;
  }

  // The actor's role as stored now (Platform::CurrentUser), for the rules the matrix does
  // not hold: the Principal's copy is the role it had when the Principal was made.
  Result<Role> RoleNow(const Principal& actor) {
    auto user = platform.CurrentUser(actor);
    if (!user) return user.error();
    return user->role;
  }

  // Users who own an appointment-like item: its customer's login and the logins of its
  // resources' staff.
  static std::vector<UserId> OwnersOf(const TenantState& st, CustomerId customer,
                                      const std::vector<ResourceId>& resources) {
    std::vector<UserId> owners;
    if (auto c = st.customers.find(customer); c != st.customers.end() && c->second.user)
      owners.push_back(*c->second.user);
    for (ResourceId r : resources) {
      auto it = st.resources.find(r);
      if (it != st.resources.end() && it->second.resource.user)
        owners.push_back(*it->second.resource.user);
    }
    return owners;
  }

  // Allowed when `all` covers the tenant, or `own` covers one of the item's owners. Only the
  // final answer is audited.
  Status RequireOnItem(const Principal& actor, const Tenant& t, Action all, Action own,
                       const std::vector<UserId>& owners) {
    if (Allows(actor, all, TargetIn(t))) return {};
    for (UserId u : owners)
      if (Allows(actor, own, TargetIn(t, u))) return {};
    // The refusal names the action that applies: `own` for a role the matrix gives nothing
    // of `all` (a customer reading another's appointment), else `all`.
    auto role = RoleNow(actor);
    if (!role) return role.error();
    if (own != all && MatrixScope(*role, all) == Scope::kNone)
      return Check(actor, own,
                   TargetIn(t, owners.empty() ? std::nullopt : std::optional(owners.front())));
    return Check(actor, all, TargetIn(t));
  }

  bool MaySee(const Principal& actor, const Tenant& t, const TenantState& st,
              const Appointment& a) {
    if (platform.Evaluate(actor, Action::kAppointmentReadAll, TargetIn(t)).allowed) return true;
    for (UserId u : OwnersOf(st, a.customer, a.resources))
      if (platform.Evaluate(actor, Action::kAppointmentReadOwn, TargetIn(t, u)).allowed) return true;
    return false;
  }

  // --- State loading -------------------------------------------------------------------

  void Place(TenantState& st, AppointmentId id, Placement p) {
    st.touched.push_back(id);
    for (ResourceId r : p.resources) {
      auto it = st.resources.find(r);
      if (it != st.resources.end()) it->second.Occupy(p.occupied);
    }
    st.appointments.insert_or_assign(id, std::move(p));
  }
  void Unplace(TenantState& st, AppointmentId id) {
    auto it = st.appointments.find(id);
    if (it == st.appointments.end()) return;
    st.touched.push_back(id);
    for (ResourceId r : it->second.resources) {
      auto rs = st.resources.find(r);
      if (rs != st.resources.end()) rs->second.Vacate(it->second.occupied);
    }
    st.appointments.erase(it);
  }
  void PlaceHoldInIndex(TenantState& st, const Hold& h) {
    for (ResourceId r : h.resources) {
      auto it = st.resources.find(r);
      if (it != st.resources.end()) it->second.Occupy(TimingOf(h).Occupied(h.start));
    }
    st.holds[h.id] = h;
  }
  void UnplaceHold(TenantState& st, HoldId id) {
    auto it = st.holds.find(id);
    if (it == st.holds.end()) return;
    for (ResourceId r : it->second.resources) {
      auto rs = st.resources.find(r);
      if (rs != st.resources.end()) rs->second.Vacate(TimingOf(it->second).Occupied(it->second.start));
    }
    st.holds.erase(it);
  }

  // Brings the state to storage's sequence `seq`. A built state behind `seq` catches up from
  // what changed: the appointments written since (change_seq) are re-placed, the small tables
  // (resources, services, customers, live holds) re-read whole; resources keep their
  // occupancy indexes, and those that did not change keep their calendars and caches. Any
  // other state (never built, dirty, or ahead) is rebuilt whole. Appointments are never
  // deleted; a hold deleted after hold_retention simply is not among the live holds.
  // Called under st.mu held exclusively.
  Status Refresh(TenantTransaction& txn, TenantState& st, std::int64_t seq) {
    const bool catch_up = st.loaded && !st.dirty && st.seq <= seq;
    Status done = catch_up && st.resync ? Resync(txn, st) : Status();
    if (done.ok()) done = Rebuild(txn, st, seq, catch_up);
    st.dirty = !done.ok();  // a half-built state must be rebuilt by the next user
    if (done.ok()) {
      st.resync = false;
      st.touched.clear();
      st.committed_seq = st.seq;
    }
    return done;
  }

  // Undoes a failed batch: the appointments it placed or unplaced are placed as storage
  // has them (or not at all). Its other effects go with the catch-up, which re-reads the
  // small tables whole.
  Status Resync(TenantTransaction& txn, TenantState& st) {
    std::vector<AppointmentId> ids = std::move(st.touched);
    st.touched.clear();
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (AppointmentId id : ids) {
      Unplace(st, id);
      auto a = txn.GetAppointment(id);
      if (!a) {
        if (a.error().code() == StatusCode::kNotFound) continue;  // never saved
        return a.error();
      }
      if (a->Occupies()) Place(st, id, {TimingOf(*a).Occupied(a->start), a->resources});
    }
    return {};
  }

  Status Rebuild(TenantTransaction& txn, TenantState& st, std::int64_t seq, bool catch_up) {
    auto resources = txn.ListResources();
    if (!resources) return resources.error();
    auto services = txn.ListServices();
    if (!services) return services.error();
    auto customers = txn.ListCustomers();
    if (!customers) return customers.error();
    auto appointments = txn.ListAppointmentsChangedSince(catch_up ? st.seq : 0);
    if (!appointments) return appointments.error();
    auto holds = txn.ListLiveHolds(Now());
    if (!holds) return holds.error();
    if (catch_up) {
      std::vector<HoldId> old_holds;
      for (const auto& [id, h] : st.holds) old_holds.push_back(id);
      for (HoldId id : old_holds) UnplaceHold(st, id);
    } else {
      st.resources.clear();
      st.appointments.clear();
      st.holds.clear();
    }
    if (catch_up) {
      // A resource that storage does not have was made by a batch that failed.
      std::unordered_set<ResourceId> stored;
      for (const Resource& r : *resources) stored.insert(r.id);
      std::erase_if(st.resources, [&](const auto& entry) { return !stored.count(entry.first); });
    }
    for (Resource& r : *resources) {
      auto it = st.resources.find(r.id);
      if (it != st.resources.end() && it->second.resource == r) continue;
      auto cal = MakeCalendar(r.time_zone, r.hours);
      if (!cal) return Internal(fmt::format("stored resource {} is invalid: {}", r.id,
                                            cal.error().message()));
      if (it == st.resources.end()) {
        ResourceId id = r.id;
        st.resources.try_emplace(id, std::move(r), std::move(*cal));
      } else {
        it->second.Redefine(std::move(r), std::move(*cal));
      }
    }
    st.services.clear();
    for (Service& s : *services) {
      ServiceId id = s.id;
      st.services.emplace(id, MakeServiceState(st, std::move(s)));
    }
    st.customers.clear();
    for (Customer& c : *customers) st.customers.emplace(c.id, std::move(c));
    for (const Appointment& a : *appointments) {
      if (catch_up) Unplace(st, a.id);
      if (a.Occupies()) Place(st, a.id, {TimingOf(a).Occupied(a.start), a.resources});
    }
    for (const Hold& h : *holds) PlaceHoldInIndex(st, h);
    st.seq = seq;
    st.loaded = true;
    return {};
  }

  // --- Transactions with state ---------------------------------------------------------

  // A write operation: a place in a batch of the tenant's writes sharing one storage
  // transaction (group commit; write_batch.hpp), the tenant's state locked exclusively and
  // up to date, and the events to send once committed. Operations that arrive while a
  // batch is open join it; the last to finish commits it for all. Commit() returns with the
  // state locked again; an operation that returns early gives up its place (if it had
  // written, nothing of the batch is committed).
  //
  // A batch begins in one of two ways. When the state is believed current (this process
  // has been the tenant's only writer lately), with Storage::BeginTenantWriteAt: nothing
  // is read first, every member decides against the state and the shared epoch as they
  // are, and storage checks both when the batch first reaches it (on PostgreSQL, in the
  // statement string that commits). If either had moved, nothing is saved and the
  // operations run again (WriteAttempt, Retrying). Otherwise with BeginTenantWrite, whose
  // first statement takes the tenant's write lock and says what other writers did, so the
  // state catches up before anything is decided.
  struct WriteAttempt {
    bool stale = false;  // decided against a state that had moved on: run again
    std::shared_ptr<internal::WriteBatch> batch;  // the batch it was in, when stale

    // Waits until the stale batch has ended, so the next attempt finds its failure
    // recorded and begins its own batch the careful way.
    void WaitForBatch() const {
      if (!batch) return;
      std::unique_lock wait(batch->mu);
      batch->cv.wait(wait, [&] { return batch->done; });
    }
  };

  // Runs the write operation `f(attempt)` again while it reports that it decided against
  // a stale state (which happens only in a batch begun with BeginTenantWriteAt, when
  // another process or Scheduler wrote to the tenant first, and saves nothing). The next
  // batch begins with BeginTenantWrite, which waits for such writers and catches up, so a
  // second stale attempt is rare: 8 processes writing 16,000 operations to one PostgreSQL
  // tenant on a CPU-starved host had 10% stale once and none twice.
  static constexpr int kMaxWriteAttempts = 4;
  //
  // What an attempt would write to security.log (a refusal, say) is held until its answer
  // stands: an attempt that runs again drops it, and decides again what to log.
  template <typename F>
  auto Retrying(F&& f) -> decltype(f(std::declval<WriteAttempt&>())) {
    struct AuditHold {
      std::vector<AuditRecord> records;
      std::vector<AuditRecord>* outer = std::exchange(held_audit, &records);
      ~AuditHold() { held_audit = outer; }
    };
    for (int attempts = 1;; ++attempts) {
      WriteAttempt attempt;
      AuditHold hold;
      auto result = f(attempt);
      if (!attempt.stale || attempts == kMaxWriteAttempts) {
        platform.WriteHeld(std::move(hold.records));
        return result;
      }
      attempt.WaitForBatch();
    }
  }

  struct WriteOp {
    Impl* impl = nullptr;
    WriteAttempt* attempt = nullptr;
    std::shared_ptr<internal::WriteBatch> batch;
    TenantTransaction* txn = nullptr;  // the batch's
    std::shared_ptr<TenantState> st;
    std::unique_lock<std::shared_mutex> lock;
    std::int64_t seq = 0;  // the batch's change sequence
    std::vector<ScheduleEvent> events;
    const Appointment* created = nullptr;  // Book's row, announced after `events` (Queue)
    // State changes, applied when the operation finishes (before the batch commits, so the
    // next operation of the batch sees them).
    std::vector<std::function<void()>> on_commit;
    std::size_t writes_at_join = 0;
    bool finished = false;
    bool committed = false;  // Commit() returned ok: the batch, with this operation, is saved
    // The shared epoch Platform's actor checks use instead of reading it: for the operation
    // that began a batch with BeginTenantWrite, what its first statement read; for every
    // member of a batch begun with BeginTenantWriteAt, the epoch storage checks at commit.
    std::unique_ptr<internal::EpochHint> epoch_hint;

    WriteOp() = default;
    WriteOp(WriteOp&&) noexcept = default;
    WriteOp& operator=(WriteOp&&) = delete;
    ~WriteOp() {
      if (impl != nullptr && batch && !finished) impl->GiveUp(*this);
    }
  };

  // Hold `id`, live or not, for the actor who placed it, while it may still place it
  // (appointment.create over the hold's customer: an inactive actor, an ended session or a
  // suspended tenant is refused), or for one with `others` in the tenant.
  Result<Hold> HoldFor(WriteOp& op, const Principal& actor, const Tenant& t, HoldId id,
                       Action others) {
    auto h = op.txn->GetHold(id);
    if (!h) return h.error();
    if (h->owner == actor.RealUser().id) {
      auto c = op.st->customers.find(h->customer);
      SMOOTH_RETURN_IF_ERROR(
          Require(actor, Action::kAppointmentCreate, t,
                  c != op.st->customers.end() ? c->second.user : std::nullopt));
    } else {
      SMOOTH_RETURN_IF_ERROR(Require(actor, others, t));
    }
    return h;
  }
  // failed_precondition unless `h` is neither released nor expired.
  Status CheckLive(const Hold& h) {
    if (h.released) return FailedPrecondition("hold: already released or confirmed");
    if (!h.Occupies(Now())) return FailedPrecondition("hold: has expired");
    return {};
  }
  // HoldFor, when the hold is live (ReleaseHold).
  Result<Hold> LiveHold(WriteOp& op, const Principal& actor, const Tenant& t, HoldId id,
                        Action others) {
    auto h = HoldFor(op, actor, t, id, others);
    if (h) SMOOTH_RETURN_IF_ERROR(CheckLive(*h));
    return h;
  }

  // Cancel and SetStatus (defined with them).
  Result<Appointment> ChangeStatus(const Principal& actor, TenantId tenant, AppointmentId id,
                                   AppointmentStatus status, Action action, EventType event);

  // What a write operation sends to storage, which BeginWrite must know when its batch was
  // begun on top of batches still committing.
  enum class Sends {
    kAnything,      // reads, or writes that storage sends at once
    kAppendedRows,  // only appointments without idempotency keys, kept back until the commit
  };

  Result<WriteOp> BeginWrite(const Tenant& t, WriteAttempt& attempt, Sends sends) {
    WriteOp op;
    op.impl = this;
    op.attempt = &attempt;
    op.st = StateOf(t.id);
    TenantState& st = *op.st;
    // Counted as waiting to join from here until it joins or begins a batch itself, so the
    // last member of an open batch leaves it open for this one.
    st.write_waiters.fetch_add(1, std::memory_order_acq_rel);
    op.lock = std::unique_lock(st.mu);
    for (;;) {
      auto& b = st.batch;
      if (b && !b->closed) {
        if (b->joined + b->finished < internal::WriteBatch::kMaxMembers) {
          st.write_waiters.fetch_sub(1, std::memory_order_acq_rel);
          break;
        }
        // Full: the next batch begins once this one has closed (its last member closes it).
        // Begun before, it would assume this one's sequence, which is not yet taken; on
        // PostgreSQL it could take the tenant's row lock that this one's commit then waits
        // for, while it waits for this one to commit.
      } else if (!st.opening) {
        st.write_waiters.fetch_sub(1, std::memory_order_acq_rel);
        SMOOTH_RETURN_IF_ERROR(OpenBatch(op, t));
        break;
      }
      st.batch_cv.wait(op.lock);
    }
    auto& b = st.batch;
    ++b->joined;
    op.batch = b;
    op.txn = &b->txn;
    op.seq = b->seq;
    op.writes_at_join = b->txn.writes();
    if (b->deferred && !op.epoch_hint) op.epoch_hint = std::make_unique<internal::EpochHint>(b->epoch);
    // A batch begun on top of batches still committing sends its guard (the change sequence
    // they will have reached) in front of its first statement. Sent before theirs, it finds
    // the sequence not there yet and the batch fails as stale, so an operation that sends
    // anything waits for them, here, before it looks at the state: once it does, its
    // batch's members run one at a time. (Expiring holds below reads too.) Nothing else
    // commits while this batch is open, so one wait serves the whole batch.
    if (b->on_top && (sends == Sends::kAnything || HasExpiredHold(st))) st.WaitForCommits(op.lock);
    // A batch begun with BeginTenantWriteAt assumed the state current without looking:
    // another process may have released or confirmed a hold it holds as expired.
    ExpireHolds(st, t.id, b->deferred ? &b->txn : nullptr);
    TrimStartsCaches(st);
    return op;
  }

  // Begins the storage transaction of a new batch (without holding the state's lock: it
  // may wait for the previous batch's commit) and, when it began with BeginTenantWrite,
  // brings the state up to date with it.
  Status OpenBatch(WriteOp& op, const Tenant& t) {
    TenantState& st = *op.st;
    // Writers that arrive meanwhile wait for this; they are let go however it ends (every
    // return below holds the state's lock).
    st.opening = true;
    struct Opened {
      TenantState& st;
      ~Opened() {
        st.opening = false;
        st.batch_cv.notify_all();
      }
    } opened{st};
    // The state as this batch would assume it, if it may.
    const bool current = st.loaded && !st.dirty && !st.resync && !st.contended && st.epoch >= 0;
    const std::int64_t seq = st.seq;
    const std::int64_t epoch = st.epoch;
    op.lock.unlock();
    std::unique_ptr<TenantTransaction> deferred;
    if (current) {
      auto d = storage->BeginTenantWriteAt(t, seq, epoch);
      if (d) {
        deferred = std::move(*d);
      } else if (d.error().code() != StatusCode::kAborted) {
        op.lock.lock();
        return d.error();
      }
    }
    op.lock.lock();
    if (deferred) {
      // The previous batch may have failed while this one began.
      if (!st.dirty && !st.resync && st.seq == seq) {
        auto b = std::make_shared<internal::WriteBatch>(std::move(deferred));
        b->tenant = t.id;
        b->seq = seq + 1;
        b->deferred = true;
        b->epoch = epoch;
        b->on_top = st.committing > 0;
        st.batch = std::move(b);
        return {};
      }
      deferred.reset();
    }
    // This takes the tenant's row lock as it begins, so it waits until the batches before
    // it have committed: one of them, begun with BeginTenantWriteAt, may not have reached
    // storage yet, and would then wait for this one's lock while this one waits for its
    // turn to commit.
    st.WaitForCommits(op.lock);
    op.lock.unlock();
    auto begun = storage->BeginTenantWrite(t);  // the transaction, its sequence bumped
    op.lock.lock();
    if (!begun) return begun.error();
    auto b = std::make_shared<internal::WriteBatch>(std::move(begun->txn));
    b->tenant = t.id;
    b->seq = begun->seq;
    op.epoch_hint = std::make_unique<internal::EpochHint>(begun->shared_epoch);
    st.epoch = begun->shared_epoch.value_or(-1);
    // Another writer (another process, or another Scheduler on the same storage) moved
    // the tenant on since this state was built, or a batch failed: catch up before
    // deciding anything. Until a batch finds nobody else wrote, batches begin this way.
    st.contended = st.loaded && st.seq != b->seq - 1;
    if (!st.loaded || st.dirty || st.resync || st.seq != b->seq - 1) {
      ExpireHolds(st, t.id, &b->txn);  // before the catch-up forgets them
      SMOOTH_RETURN_IF_ERROR(Refresh(b->txn, st, b->seq - 1));
    }
    st.batch = std::move(b);
    return {};
  }

  // Finishes `op`: applies its state changes, and commits the batch if it is the last one
  // to finish, or waits for the one that does. Returns the batch's outcome, with the state
  // locked again.
  Status Commit(WriteOp& op) {
    for (auto& apply : op.on_commit) apply();
    op.on_commit.clear();
    auto& b = *op.batch;
    for (ScheduleEvent& e : op.events) b.events.push_back(std::move(e));
    op.events.clear();
    if (op.created != nullptr) op.st->created.emplace_back(b.events.size(), op.created);
    op.created = nullptr;
    op.finished = true;
    --b.joined;
    ++b.finished;
    Status outcome = Settle(op);
    if (outcome.code() == StatusCode::kAborted) Stale(op);
    op.committed = outcome.ok();
    return outcome;
  }

  // An operation that returns without Commit leaves its batch; had it written, the batch
  // can no longer commit. Its own state changes were never applied. In a batch begun with
  // BeginTenantWriteAt, what it returns (a refusal, say) was decided against a state not
  // yet checked: it is checked now, and the operation runs again if it had moved on.
  void GiveUp(WriteOp& op) {
    auto& b = *op.batch;
    TenantState& st = *op.st;
    if (b.txn.writes() != op.writes_at_join) b.spoiled = true;
    // Decided on top of changes still being committed: it stands only once they have
    // (and storage, checked below, can be asked only then: BeginWrite).
    if (b.on_top) st.WaitForCommits(op.lock);
    if (b.doomed) {
      // They failed: decided again. (Storage could confirm only the sequence number, which
      // another writer may have reached since.)
      Stale(op);
    } else if (b.deferred && !b.checked) {
      // A write that failed may have been the one that found the state stale.
      auto checked = b.txn.ChangeSeq();
      b.checked = checked.ok();
      if (!checked) {
        b.spoiled = true;
        if (checked.error().code() == StatusCode::kAborted) Stale(op);
      }
    }
    --b.joined;
    (void)Settle(op);
  }

  // Marks `op` as decided against a stale state; its state's next batch begins with
  // BeginTenantWrite.
  static void Stale(WriteOp& op) {
    op.st->contended = true;
    op.batch->stale = true;
    op.attempt->stale = true;
    op.attempt->batch = op.batch;
  }

  // Called with the state locked by every operation leaving the batch. The last one out,
  // when no writer is waiting to join, closes and commits it (Close); the others wait for
  // that. Batches commit one after another: while the one before commits, the last one out
  // keeps this one open, so that whoever arrives meanwhile joins it and shares the next
  // commit.
  Status Settle(WriteOp& op) {
    TenantState& st = *op.st;
    auto b = op.batch;
    auto full = [&] { return b->joined + b->finished >= internal::WriteBatch::kMaxMembers; };
    auto last = [&] {
      return b->joined == 0 &&
             (full() || st.write_waiters.load(std::memory_order_acquire) == 0);
    };
    if (b->closing) {
      st.batch_cv.notify_all();  // the member waiting to close it counts again
    } else if (last()) {
      if (st.committing > 0) {
        b->closing = true;
        st.batch_cv.wait(op.lock,
                         [&] { return (st.committing == 0 && b->joined == 0) || full(); });
        b->closing = false;
      }
      if (last()) return Close(op);
    }
    if (!op.finished) return {};  // gave up: nothing to wait for
    op.lock.unlock();
    {
      std::unique_lock wait(b->mu);
      b->cv.wait(wait, [&] { return b->done; });
    }
    op.lock.lock();
    std::lock_guard outcome(b->mu);
    return b->outcome;
  }

  // Closes the batch of `op`, the last operation out of it, and commits it (or rolls it
  // back), for every member.
  Status Close(WriteOp& op) {
    TenantState& st = *op.st;
    auto b = op.batch;
    b->closed = true;
    // This batch's bookings; the next batch's go to the spare buffer.
    auto created = std::exchange(st.created, std::move(st.created_spare));
    st.created.clear();
    if (st.batch == b) st.batch.reset();
    if (b->joined + b->finished >= internal::WriteBatch::kMaxMembers)
      st.batch_cv.notify_all();  // writers wait for a full batch to close (BeginWrite)
    Status outcome;
    if (b->finished == 0) {
      b->txn.Abandon();  // nobody wrote anything that finished: roll back
    } else if (b->spoiled) {
      outcome = b->stale
                    ? Aborted("the tenant changed while this write was prepared; try again")
                    : Unavailable(
                          "another operation committed together with this one failed after "
                          "writing; nothing was saved: try again");
      st.resync = true;
      b->txn.Abandon();
    } else if (b->doomed) {
      // The batch this one was prepared on top of has failed: what this one decided assumed
      // changes that never came (the ids it touched stay in st.touched, to re-read).
      outcome = Aborted("the write this one was prepared on top of failed; try again");
      b->txn.Abandon();
    } else {
      st.seq = b->seq;
      ++st.committing;
      const std::uint64_t turn = st.commit_turns++;
      // What this batch touched, to re-read should its commit fail; the next batch's own.
      std::vector<AppointmentId> touched = std::exchange(st.touched, std::move(st.touched_spare));
      st.touched.clear();
      std::vector<ScheduleEvent> events = std::move(b->events);
      op.lock.unlock();
      {
        std::unique_lock order(st.commit_mu);
        st.commit_cv.wait(order, [&] { return st.commit_serving == turn; });
        // A batch prepared on top of one that has just failed must not commit: storage
        // checks only the sequence number it assumed, which another writer may have
        // reached meanwhile with changes this batch never saw.
        if (b->on_top && st.last_commit_failed)
          outcome = Aborted("the write this one was prepared on top of failed; try again");
        else
          outcome = b->txn.Commit();
        st.last_commit_failed = !outcome.ok();
        b->txn.Abandon();  // ends it: frees the connection and the tenant's row lock
        if (!outcome.ok()) {
          // A batch begun with BeginTenantWrite waits for this one to be marked (it waits
          // until nothing is committing); one begun with BeginTenantWriteAt on top of this
          // batch's effects is refused above, before it reaches storage.
          std::unique_lock relock(st.mu);
          if (st.batch && st.batch != b && st.batch->on_top) st.batch->doomed = true;
          st.seq = std::min(st.seq, b->seq - 1);
          st.touched.insert(st.touched.end(), touched.begin(), touched.end());
          st.resync = true;
          if (outcome.code() == StatusCode::kAborted) st.contended = true;
        }
        if (outcome.ok()) Queue(st, b->tenant, std::move(events), created);
        ++st.commit_serving;
        st.commit_cv.notify_all();
      }
      op.lock.lock();
      if (outcome.ok()) {
        touched.clear();
        st.touched_spare = std::move(touched);
        st.committed_seq = std::max(st.committed_seq, b->seq);
      }
      --st.committing;
    }
    created.clear();
    st.created_spare = std::move(created);
    st.batch_cv.notify_all();  // readers wait for writes in flight to land (BeginRead)
    {
      std::lock_guard done(b->mu);
      b->done = true;
      b->outcome = outcome;
    }
    b->cv.notify_all();
    return outcome;
  }

  // The two shapes of write operation. Both run again while an attempt decided against a
  // stale state (Retrying), looking the tenant up afresh each time. A body writes through
  // `op`, calls Commit(op) and returns the operation's answer; one that returns without
  // calling it (a refusal, or an answer that needs no write) gives up its place in the
  // batch as `op` goes out of scope.

  // Changes to the tenant's setup (resources, services, customers). `check(t)` validates
  // and authorizes what needs no state, before the operation joins a batch and locks the
  // state; then `body(op)` writes. They announce no events of their own; what joining the
  // batch noticed (holds that expired) is delivered once the state is unlocked.
  template <typename Check, typename Body>
  auto WriteSetup(const Principal& actor, TenantId tenant, Check&& check, Body&& body) {
    using R = decltype(body(std::declval<WriteOp&>()));
    return Retrying([&](WriteAttempt& attempt) -> R {
      auto t = TenantFor(actor, tenant);
      if (!t) return t.error();
      SMOOTH_RETURN_IF_ERROR(check(*t));
      std::shared_ptr<TenantState> st;
      std::optional<R> answer;
      {
        auto op = BeginWrite(*t, attempt, Sends::kAnything);
        if (!op) return op.error();
        st = op->st;
        answer.emplace(body(*op));
      }  // `op` is done with: the state is unlocked
      Deliver(*st);
      return std::move(*answer);
    });
  }

  // Bookings and holds: `body(op, t)` decides everything against the state, in the batch.
  // Once it has committed and left the batch, with the state unlocked, `then(t, answer)`
  // runs (Book and BookSeries audit bookings outside working hours there). Then, committed
  // or not, the tenant's queued events are delivered: the operation's own (only a commit
  // queues them) and whatever joining the batch noticed (holds that expired). `sends` is
  // what the body sends to storage.
  template <typename Body, typename Then>
  auto WriteBooking(const Principal& actor, TenantId tenant, Sends sends, Body&& body,
                    Then&& then) {
    using R = decltype(body(std::declval<WriteOp&>(), std::declval<const Tenant&>()));
    return Retrying([&](WriteAttempt& attempt) -> R {
      auto t = TenantFor(actor, tenant);
      if (!t) return t.error();
      std::shared_ptr<TenantState> st;
      std::optional<R> answer;
      bool committed = false;
      {
        auto op = BeginWrite(*t, attempt, sends);
        if (!op) return op.error();
        st = op->st;
        answer.emplace(body(*op, *t));
        committed = op->committed;
      }  // `op` is done with: the state is unlocked
      // Committed bodies answer ok; `then` relies on it.
      if (committed && answer->ok()) then(*t, *answer);
      Deliver(*st);
      return std::move(*answer);
    });
  }
  template <typename Body>
  auto WriteBooking(const Principal& actor, TenantId tenant, Body&& body) {
    return WriteBooking(actor, tenant, Sends::kAnything, std::forward<Body>(body),
                        [](const Tenant&, const auto&) {});
  }

  // A read: the tenant's storage read transaction and its state, locked shared and
  // current. Rebuilding (or expiring holds) needs the exclusive lock briefly.
  // Delivers whatever a read queued (hold_expired events) once the read is over: declared
  // first in ReadOp, it runs after the lock and the transaction are released.
  struct DeliverOnExit {
    Impl* impl = nullptr;
    std::shared_ptr<TenantState> st;
    DeliverOnExit() = default;
    DeliverOnExit(DeliverOnExit&& o) noexcept : impl(o.impl), st(std::move(o.st)) { o.impl = nullptr; }
    DeliverOnExit& operator=(DeliverOnExit&&) = delete;
    ~DeliverOnExit() {
      if (impl != nullptr && st) impl->Deliver(*st);
    }
  };

  // How long a read waits for this process's writes in flight to land when its snapshot is
  // ahead of them (BeginRead); past it, the read answers from the state as it is.
  static constexpr std::chrono::seconds kInFlightReadWait{2};

  struct ReadOp {
    DeliverOnExit deliver;
    std::unique_ptr<TenantTransaction> txn;
    std::shared_ptr<TenantState> st;
    std::shared_lock<std::shared_mutex> lock;
  };

  Result<ReadOp> BeginRead(const Tenant& t) {
    auto txn = storage->BeginTenant(t, TxnMode::kRead);
    if (!txn) return txn.error();
    ReadOp op;
    op.txn = std::move(*txn);
    op.st = StateOf(t.id);
    op.deliver.impl = this;
    op.deliver.st = op.st;
    auto seq = op.txn->ChangeSeq();
    if (!seq) return seq.error();
    bool trimmed = false;  // trimming is housekeeping: once per read is enough
    // Stale: storage has moved on past the state. A state ahead of this read's snapshot is
    // newer, not stale (this process committed since the snapshot was taken, or is
    // committing: never rebuild then, it would lose writes in flight).
    auto stale = [&](const TenantState& s) {
      return !s.loaded || (!s.WritesInFlight() && (s.dirty || s.resync || s.seq < *seq));
    };
    for (;;) {
      op.lock = std::shared_lock(op.st->mu);
      // The snapshot may hold a commit the state cannot take in while this process has
      // writes in flight: its own, just landed, or another process's, made while a batch
      // begun with BeginTenantWriteAt was on its way (that batch then fails at storage,
      // which re-reads). Wait, within a bound, for the writes to land, then catch up below.
      TenantState& s = *op.st;
      if (s.loaded && *seq > s.committed_seq && s.WritesInFlight())
        s.batch_cv.wait_for(op.lock, kInFlightReadWait, [&] {
          return !s.WritesInFlight() || s.committed_seq >= *seq;
        });
      bool rebuild = stale(*op.st);
      bool expired = HasExpiredHold(*op.st);
      bool trim = !trimmed && op.st->trim_starts.load(std::memory_order_relaxed);
      if (!rebuild && !expired && !trim) return op;
      op.lock.unlock();
      std::unique_lock exclusive(op.st->mu);
      if (stale(*op.st)) {
        ExpireHolds(*op.st, t.id, op.txn.get());  // before the catch-up forgets them
        SMOOTH_RETURN_IF_ERROR(Refresh(*op.txn, *op.st, *seq));
      }
      ExpireHolds(*op.st, t.id);
      TrimStartsCaches(*op.st);
      trimmed = true;
    }
  }

  // The prologue of the simple reads: the tenant, the actor's right to `action` in it, and
  // a current read of its state.
  Result<ReadOp> AuthorizedRead(const Principal& actor, TenantId id, Action action) {
    auto t = TenantFor(actor, id);
    if (!t) return t.error();
    SMOOTH_RETURN_IF_ERROR(Require(actor, action, *t));
    return BeginRead(*t);
  }

  // Reads of resources and services, which the state holds whole and anyone who may read
  // availability may see: the entry `id` of `table`, or all its entries in id order, each
  // as its stored `row`.
  template <typename Id, typename Entry, typename Row>
  Result<Row> GetKept(const Principal& actor, TenantId tenant,
                      std::unordered_map<Id, Entry> TenantState::*table, Row Entry::*row, Id id,
                      std::string_view what) {
    auto op = AuthorizedRead(actor, tenant, Action::kAvailabilityRead);
    if (!op) return op.error();
    const auto& entries = (*op->st).*table;
    auto it = entries.find(id);
    if (it == entries.end()) return NotFound(fmt::format("{} {} not found", what, id));
    return it->second.*row;
  }
  template <typename Id, typename Entry, typename Row>
  Result<std::vector<Row>> ListKept(const Principal& actor, TenantId tenant,
                                    std::unordered_map<Id, Entry> TenantState::*table,
                                    Row Entry::*row) {
    auto op = AuthorizedRead(actor, tenant, Action::kAvailabilityRead);
    if (!op) return op.error();
    std::vector<Row> out;
    for (const auto& [id, entry] : (*op->st).*table) out.push_back(entry.*row);
    std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
    return out;
  }

  bool HasExpiredHold(const TenantState& st) const {
    Instant now = Now();
    for (const auto& [id, h] : st.holds)
      if (h.expires_at <= now) return true;
    return false;
  }

  // Takes holds whose time is up out of the indexes and announces them. Storage needs no
  // write: a hold past expires_at no longer counts as live there either. With `stored`,
  // the state may be behind storage (it is about to catch up, which drops every hold it
  // knew of, or its batch assumed it current without looking): storage is asked, and a
  // hold that another writer released or confirmed first goes without an announcement; one
  // storage cannot tell about stays, for the catch-up that follows.
  // Returns how many expiries it announced.
  std::size_t ExpireHolds(TenantState& st, TenantId tenant, TenantTransaction* stored = nullptr) {
    Instant now = Now();
    std::vector<ScheduleEvent> events;
    for (auto it = st.holds.begin(); it != st.holds.end();) {
      if (it->second.expires_at > now) {
        ++it;
        continue;
      }
      Hold h = it->second;
      ++it;
      bool announce = true;
      if (stored != nullptr) {
        auto row = stored->GetHold(h.id);
        if (!row && row.error().code() != StatusCode::kNotFound) continue;
        announce = row && !row->released;
      }
      UnplaceHold(st, h.id);
      if (announce) events.push_back({tenant, 0, EventType::kHoldExpired, std::nullopt, h});
    }
    const std::size_t announced = events.size();
    Queue(st, tenant, std::move(events));
    return announced;
  }

  // --- Housekeeping (Maintain) -------------------------------------------------------

  Result<MaintenanceReport> Maintain() {
    std::vector<std::pair<TenantId, std::shared_ptr<TenantState>>> known;
    std::vector<TenantId> unloaded;
    {
      std::lock_guard lock(tenants_mu);
      known.assign(tenants.begin(), tenants.end());
      for (const auto& [id, seq] : unloaded_event_seq) unloaded.push_back(id);
    }
    // The tenants storage has, read once after the lists above were taken: whatever they
    // name that it does not have was deleted.
    std::unordered_map<TenantId, Tenant> stored;
    {
      auto txn = storage->BeginShared(TxnMode::kRead);
      if (!txn) return txn.error();
      auto all = (*txn)->ListTenants();
      if (!all) return all.error();
      for (Tenant& t : *all) stored.emplace(t.id, std::move(t));
    }
    MaintenanceReport report;
    {
      std::lock_guard lock(tenants_mu);
      for (TenantId id : unloaded)
        if (!stored.count(id)) unloaded_event_seq.erase(id);
    }
    const Instant cutoff = Now() - opt.unload_after;
    for (const auto& [id, st] : known) {
      auto row = stored.find(id);
      if (row == stored.end()) {
        Forget(id, st);
        ++report.tenants_forgotten;
        continue;
      }
      auto expired = AnnounceExpiredHolds(row->second, *st);
      if (!expired && expired.error().code() == StatusCode::kNotFound && Deleted(id)) {
        Forget(id, st);  // deleted since the listing
        ++report.tenants_forgotten;
        continue;
      }
      if (!expired) {
        if (report.tenants_failed++ == 0) report.failure = expired.error();
        continue;
      }
      report.holds_expired += *expired;
      if (Unload(id, st, cutoff)) ++report.tenants_unloaded;
    }
    return report;  // unloaded and forgotten states are freed here, with `known`
  }

  // Takes out the expired holds of a loaded state and announces those storage still has
  // unreleased, as the tenant's next read would (BeginRead); returns how many it announced.
  // A state in use (its lock taken, or writes of this process in flight) is left to its
  // users, who do the same.
  Result<std::size_t> AnnounceExpiredHolds(const Tenant& t, TenantState& st) {
    {
      std::shared_lock lock(st.mu, std::try_to_lock);
      if (!lock || !st.loaded || st.WritesInFlight() || !HasExpiredHold(st)) return 0;
    }
    std::size_t announced = 0;
    {
      auto txn = storage->BeginTenant(t, TxnMode::kRead);
      if (!txn) return txn.error();
      auto seq = (*txn)->ChangeSeq();
      if (!seq) return seq.error();
      std::unique_lock lock(st.mu, std::try_to_lock);
      if (!lock || !st.loaded || st.WritesInFlight()) return 0;
      // A stale state (storage has moved on) asks storage which holds another writer
      // released or confirmed meanwhile; the user that next finds it stale catches it up.
      const bool stale = st.dirty || st.resync || st.seq < *seq;
      announced = ExpireHolds(st, t.id, stale ? txn->get() : nullptr);
    }  // the read ends before listeners run: one may write to this tenant, and on memory
       // storage that write would wait for this read, on this very thread
    Deliver(st);
    return announced;
  }

  // Drops the state of a tenant nobody has used since `cutoff`, if nobody holds it or waits
  // for it and it has no live holds (whose expiry it must still announce); the next use
  // makes a new one, built from storage like the first. Only the event sequence outlives it.
  bool Unload(TenantId id, const std::shared_ptr<TenantState>& st, Instant cutoff) {
    auto idle = [&] {
      return st->last_used.load(std::memory_order_relaxed) <= cutoff.time_since_epoch().count();
    };
    if (!idle()) return false;
    std::lock_guard tenants_lock(tenants_mu);
    auto it = tenants.find(id);
    // Held by the map and by Maintain's list alone: no operation has it, and none can take
    // it while tenants_mu is held (StateOf hands it out under it).
    if (it == tenants.end() || it->second != st || st.use_count() != 2) return false;
    {
      std::unique_lock lock(st->mu, std::try_to_lock);
      if (!lock || !idle() || st->WritesInFlight() || st->opening || !st->holds.empty())
        return false;
      std::lock_guard outbox(st->outbox_mu);
      if (!st->outbox.empty()) return false;
      unloaded_event_seq[id] = st->event_seq;
    }
    tenants.erase(it);
    std::unique_lock cache_lock(tenant_cache_mu);
    tenant_cache.erase(id);
    return true;
  }

  // Whether storage has no tenant `id` any more; false when it cannot tell.
  bool Deleted(TenantId id) {
    auto txn = storage->BeginShared(TxnMode::kRead);
    if (!txn) return false;
    auto t = (*txn)->GetTenant(id);
    return !t && t.error().code() == StatusCode::kNotFound;
  }

  // Forgets a tenant that storage no longer has. An operation still holding its state
  // fails at storage, as any later one does (which makes a new, empty state, forgotten in
  // turn).
  void Forget(TenantId id, const std::shared_ptr<TenantState>& st) {
    {
      std::lock_guard lock(tenants_mu);
      auto it = tenants.find(id);
      if (it != tenants.end() && it->second == st) tenants.erase(it);
      unloaded_event_seq.erase(id);
    }
    std::unique_lock lock(tenant_cache_mu);
    tenant_cache.erase(id);
  }

  // --- Events --------------------------------------------------------------------------

  // Numbers events and queues them for delivery, with a `created` event for each of
  // `created` (an appointment, and how many of `events` come before it). With nobody
  // listening they are only counted. Writers queue in commit order (TenantState::commit_mu).
  // Whether anyone listens is decided here, after the commit, for every event alike, so a
  // listener that subscribes while a batch commits hears all of it.
  void Queue(TenantState& st, TenantId tenant, std::vector<ScheduleEvent> events,
             std::span<const std::pair<std::size_t, const Appointment*>> created = {}) {
    if (events.empty() && created.empty()) return;
    std::lock_guard lock(st.outbox_mu);
    if (listener_count.load(std::memory_order_acquire) == 0) {
      st.event_seq += static_cast<std::int64_t>(events.size() + created.size());
      return;
    }
    auto push = [&](ScheduleEvent e) {
      e.tenant = tenant;
      e.seq = ++st.event_seq;
      st.outbox.push_back(std::move(e));
    };
    std::size_t next = 0;  // of `created`
    for (std::size_t i = 0; i <= events.size(); ++i) {
      for (; next < created.size() && created[next].first == i; ++next)
        push({tenant, 0, EventType::kCreated, *created[next].second, std::nullopt});
      if (i < events.size()) push(std::move(events[i]));
    }
  }

  // Delivers queued events in order, outside the state lock, so listeners may call back.
  // A listener that writes to the same tenant calls this again on its own thread while the
  // loop below is under way: that call returns at once, and the loop delivers what the
  // listener's write queued, after the event in hand has reached every listener.
  void Deliver(TenantState& st) {
    static thread_local std::vector<const TenantState*> delivering;
    if (std::find(delivering.begin(), delivering.end(), &st) != delivering.end()) return;
    {
      std::lock_guard lock(st.outbox_mu);
      if (st.outbox.empty()) return;
    }
    std::lock_guard dispatch(st.dispatch_mu);
    delivering.push_back(&st);
    struct Done {
      ~Done() { delivering.pop_back(); }
    } done;
    for (;;) {
      ScheduleEvent e;
      {
        std::lock_guard lock(st.outbox_mu);
        if (st.outbox.empty()) return;
        e = std::move(st.outbox.front());
        st.outbox.pop_front();
      }
      std::vector<Listener> targets;
      {
        std::lock_guard lock(listeners_mu);
        for (const auto& [id, l] : listeners) targets.push_back(l);
      }
      for (const Listener& l : targets) l(e);
    }
  }

  // --- Booking -------------------------------------------------------------------------

  // Everything a placement decision needs, checked against the request.
  struct Plan {
    const Service* service = nullptr;
    Timing timing;
    std::vector<ResourceId> resources;
    Instant start{};
  };

  // Occupied time on `rs` during the local day of `t`: the load for the pick policy.
  static Duration LoadOn(const ResourceState& rs, Instant t) {
    internal::LocalTimeConverter local(rs.calendar.zone());
    const date::local_days d = local.DayOf(t);
    return rs.index.OccupiedTime({local.ToInstant(d, std::chrono::minutes(0)),
                                  local.ToInstant(d + date::days(1), std::chrono::minutes(0))});
  }

  // No one books in the past: Book, and ConfirmHold again when the hold becomes a booking.
  Status CheckNotPast(Instant start, Instant now) {
    if (start < now) return FailedPrecondition("start: is in the past");
    return {};
  }

  // Validates the time rules that do not depend on resources.
  // `role` is the actor's as stored now (RoleNow).
  Status CheckTimePolicy(Role role, const Service& s, Instant start) {
    Instant now = Now();
    SMOOTH_RETURN_IF_ERROR(CheckNotPast(start, now));
    if (role == Role::kCustomer) {
      if (start < now + s.min_notice)
        return FailedPrecondition(fmt::format("start: needs at least {} minutes' notice",
                                              std::chrono::duration_cast<std::chrono::minutes>(s.min_notice).count()));
      if (start > now + s.max_advance)
        return FailedPrecondition("start: too far in advance for this service");
    }
    return {};
  }

  // Decides the resources for a request at `start` against the current state (an item
  // being moved must already be out of the indexes). conflict when capacity is the
  // problem, failed_precondition when working hours are. Needs st.mu held exclusively
  // (it uses st.writer).
  Result<std::vector<ResourceId>> Pick(TenantState& st, const ServiceState& s,
                                       const std::vector<std::optional<ResourceId>>& wanted,
                                       const Timing& timing, Instant start, bool ignore_hours) {
    WriterScratch& w = st.writer;
    const std::size_t n = s.members.size();
    w.candidates.resize(n);
    bool capacity_blocked = false;
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::pair<Duration, ResourceId>>& ranked = w.ranked;
      ranked.clear();
      auto consider = [&](ResourceId r, const ResourceState& rs) {
        if (!rs.resource.is_active) return;
        if (internal::CanStartAt(rs, timing, ignore_hours, start, &w.rule)) {
          ranked.emplace_back(Duration(0), r);
        } else if (ignore_hours || rs.calendar.Contains({start, start + timing.duration})) {
          // Inside working hours, so capacity is what stands in the way.
          capacity_blocked = true;
        }
      };
      if (i < wanted.size() && wanted[i]) {
        // A named resource, looked up by id: among the requirement's members first (their
        // sorted ids are usually in the CPU's cache, unlike the tenant's hash table), then
        // among all resources, since a moved appointment keeps resources that the service
        // may have dropped from its requirements since.
        if (const ServiceState::Member* m = s.Find(i, *wanted[i])) {
          consider(m->id, *m->state);
        } else if (auto it = st.resources.find(*wanted[i]); it != st.resources.end()) {
          consider(it->first, it->second);
        }
      } else {
        for (const ServiceState::Member& m : s.members[i]) consider(m.id, *m.state);
      }
      // The load only matters when there is a choice; it costs two zone conversions.
      if (ranked.size() > 1) {
        for (auto& [load, r] : ranked) load = LoadOn(*s.Find(i, r)->state, start);
        std::sort(ranked.begin(), ranked.end());
      }
      std::vector<ResourceId>& candidates = w.candidates[i];
      candidates.clear();
      for (const auto& [load, r] : ranked) candidates.push_back(r);
    }
    std::vector<ResourceId> picks;
    if (internal::AssignDistinct(w.candidates, &picks)) return picks;
    if (capacity_blocked)
      return Conflict(fmt::format("start: no capacity at {}", FormatRfc3339(start)));
    // Every requirement has an open, free resource, but not one of its own: those of one are
    // all needed by others (the rest being closed).
    if (std::none_of(w.candidates.begin(), w.candidates.begin() + static_cast<std::ptrdiff_t>(n),
                     [](const std::vector<ResourceId>& c) { return c.empty(); }))
      return FailedPrecondition(
          fmt::format("resources: at {} the requirements cannot each have a resource of their own",
                      FormatRfc3339(start)));
    return FailedPrecondition(
        fmt::format("start: {} is outside working hours", FormatRfc3339(start)));
  }

  // What must still stand about a booking's references when it is made, however long ago it
  // was asked for (Book decides at once, ConfirmHold when the hold becomes a booking): the
  // service exists and is active, the customer exists and is not blocked, and each resource
  // named is active. Returns the service.
  static Result<const ServiceState*> CheckBookable(const TenantState& st, const BookingRequest& r) {
    auto s = st.services.find(r.service);
    if (s == st.services.end()) return NotFound(fmt::format("service {} not found", r.service));
    const ServiceState& service = s->second;
    if (!service.service.is_active) return FailedPrecondition("service: is not active");
    auto c = st.customers.find(r.customer);
    if (c == st.customers.end()) return NotFound(fmt::format("customer {} not found", r.customer));
    if (c->second.status == CustomerStatus::kBlocked)
      return FailedPrecondition("customer: is blocked");
    for (const std::optional<ResourceId>& id : r.resources)
      if (id) SMOOTH_RETURN_IF_ERROR(CheckActive(st, *id));
    return &service;
  }

  // failed_precondition when resource `id`, named for a booking (or kept by a moved one),
  // is not active; an unknown one is for the caller to name.
  static Status CheckActive(const TenantState& st, ResourceId id) {
    auto it = st.resources.find(id);
    if (it != st.resources.end() && !it->second.resource.is_active)
      return FailedPrecondition(fmt::format("resources: resource {} is not active", id));
    return {};
  }

  // Checks a request's shape and references; returns the service.
  Result<const ServiceState*> CheckRequest(const TenantState& st, const BookingRequest& r) {
    auto bookable = CheckBookable(st, r);
    if (!bookable) return bookable.error();
    const ServiceState& service = **bookable;
    if (r.status != AppointmentStatus::kConfirmed && r.status != AppointmentStatus::kPending)
      return InvalidArgument("status: a booking starts pending or confirmed");
    const auto& reqs = service.service.requirements;
    if (!r.resources.empty() && r.resources.size() != reqs.size())
      return InvalidArgument(fmt::format("resources: expected {} entries, one per requirement",
                                         reqs.size()));
    for (std::size_t i = 0; i < r.resources.size(); ++i) {
      if (!r.resources[i]) continue;
      ResourceId id = *r.resources[i];
      const ServiceState::Member* member = service.Find(i, id);
      if (member == nullptr) {
        if (!st.resources.count(id)) return NotFound(fmt::format("resource {} not found", id));
        return InvalidArgument(fmt::format("resources: resource {} cannot serve requirement {}", id, i));
      }
      // In a large tenant the resource's state is rarely in the CPU's cache; start loading
      // what Pick reads (row, calendar, index) so it overlaps the authorization in between.
      const ResourceState* rs = member->state;
      internal::Prefetch(&rs->resource);
      internal::Prefetch(&rs->calendar);
      internal::Prefetch(&rs->index);
      // One entry per requirement, so a handful: a scan beats a set.
      for (std::size_t j = 0; j < i; ++j)
        if (r.resources[j] == id)
          return InvalidArgument(fmt::format("resources: resource {} requested twice", id));
    }
    if (r.notes.size() > 10000) return InvalidArgument("notes: longer than 10000 bytes");
    SMOOTH_RETURN_IF_ERROR(internal::ValidateStorable(r.notes, "notes"));
    SMOOTH_RETURN_IF_ERROR(ValidateIdempotencyKey(r.idempotency_key));
    return &service;
  }

  // `role` is the actor's as stored now (RoleNow).
  Status AuthorizeBooking(const Principal& actor, Role role, const Tenant& t, const TenantState& st,
                          const BookingRequest& r) {
    const Customer& c = st.customers.at(r.customer);
    SMOOTH_RETURN_IF_ERROR(Require(actor, Action::kAppointmentCreate, t, c.user));
    if (r.outside_hours && !MayBookOutsideHours(role))
      return PermissionDenied(fmt::format("{} may not book outside working hours", RoleName(role)));
    return {};
  }

  // The placement of a request on current state: validated, authorized, resources picked.
  Result<Plan> PlanBooking(const Principal& actor, const Tenant& t, TenantState& st,
                           const BookingRequest& r) {
    auto service = CheckRequest(st, r);
    if (!service) return service.error();
    auto role = RoleNow(actor);
    if (!role) return role.error();
    SMOOTH_RETURN_IF_ERROR(AuthorizeBooking(actor, *role, t, st, r));
    const Service& s = (*service)->service;
    SMOOTH_RETURN_IF_ERROR(CheckTimePolicy(*role, s, r.start));
    Timing timing = TimingOf(s);
    auto picks = Pick(st, **service, r.resources, timing, r.start, r.outside_hours);
    if (!picks) return picks.error();
    return Plan{&s, timing, std::move(*picks), r.start};
  }

  // The appointment `r` makes as `plan` places it. It is flagged outside_hours (and audited
  // so) only when asked for and needed: a booking asked for with the flag at a time inside
  // every resource's hours is an ordinary one, as Reschedule decides for a move.
  Appointment NewAppointment(const Principal& actor, const TenantState& st, const Plan& plan,
                             const BookingRequest& r, std::int64_t seq) {
    Instant now = Now();
    Appointment a;
    a.service = r.service;
    a.resources = plan.resources;
    a.customer = r.customer;
    a.start = plan.start;
    a.end = plan.start + plan.timing.duration;
    a.buffer_before = plan.timing.buffer_before;
    a.buffer_after = plan.timing.buffer_after;
    a.status = r.status;
    a.notes = r.notes;
    a.created_by = actor.RealUser().id;
    a.created_at = now;
    a.updated_at = now;
    a.version = 1;
    a.idempotency_key = r.idempotency_key;
    a.outside_hours =
        r.outside_hours && NeedsOutsideHours(st, plan.resources, plan.start, plan.timing.duration);
    a.change_seq = seq;
    return a;
  }

  // Whether [start, start + duration) is outside the working hours of any of `resources`:
  // whether a booking there needs outside_hours.
  static bool NeedsOutsideHours(const TenantState& st, const std::vector<ResourceId>& resources,
                                Instant start, Duration duration) {
    for (ResourceId r : resources) {
      auto it = st.resources.find(r);
      if (it != st.resources.end() && !it->second.calendar.Contains({start, start + duration}))
        return true;
    }
    return false;
  }

  // The user a resource or customer is linked to: one of the tenant's, else not_found.
  Result<User> LinkedUser(const Principal& actor, TenantId tenant, UserId id) {
    auto u = GetUser(actor, id);
    if (!u || u->tenant != tenant) return NotFound(fmt::format("user: {} not found", id));
    return u;
  }
  // A customer's login, when it has one: of this tenant, visible to the actor, a CUSTOMER
  // (defined with CreateCustomer).
  Status CheckCustomerLogin(const Principal& actor, TenantId tenant,
                            const std::optional<UserId>& user);

  // What CreateResource and UpdateResource check before writing (defined with them).
  Status CheckResource(const Principal& actor, const Tenant& t, const Resource& r,
                       std::optional<internal::Calendar>& cal);

  void AuditOutsideHours(const Principal& actor, const Tenant& t, const Appointment& a) {
    if (!a.outside_hours) return;
    std::vector<std::pair<std::string, AuditValue>> fields = {{"user_email", actor.user.email},
                                                              {"tenant", t.slug},
                                                              {"appointment_id", a.id.value()},
                                                              {"start", FormatRfc3339(a.start)}};
    // As Platform writes every line of a masquerade's doing: who was behind it too.
    if (actor.original) fields.emplace_back("hijacker_email", actor.original->email);
    platform.RecordSecurityEvent("BOOKED_OUTSIDE_HOURS", std::move(fields));
  }

  // Same request as the one that created `a`? Used for idempotent retries. A move changes
  // only the start, and keeps the one it was booked at.
  static bool SameRequest(const Appointment& a, const BookingRequest& r) {
    if (a.service != r.service || a.customer != r.customer ||
        a.booked_start.value_or(a.start) != r.start)
      return false;
    for (std::size_t i = 0; i < r.resources.size() && i < a.resources.size(); ++i)
      if (r.resources[i] && *r.resources[i] != a.resources[i]) return false;
    return true;
  }

  // A retry of a booking made before (Book, ConfirmHold): the appointment that already has
  // `r`'s idempotency key, when it was made by the same request — for ConfirmHold
  // (`hold` set), when it is the appointment the hold was confirmed into; conflict when the
  // key was used for something else; nullopt when the key is new or none was given. The
  // actor must be allowed to book for the appointment's customer, as for a new booking.
  Result<std::optional<Appointment>> Retried(WriteOp& op, const Principal& actor, const Tenant& t,
                                             const BookingRequest& r, const Hold* hold = nullptr) {
    if (!r.idempotency_key) return std::optional<Appointment>();
    auto existing = op.txn->FindAppointmentByIdempotencyKey(*r.idempotency_key);
    if (!existing) {
      // Only a key that is not there makes this a new booking. Any other failure leaves
      // unknown whether the booking was made before: a retry told "slot taken" then would
      // take its own booking for one that failed.
      if (existing.error().code() == StatusCode::kNotFound) return std::optional<Appointment>();
      return existing.error();
    }
    if (hold ? hold->confirmed_as != existing->id : !SameRequest(*existing, r))
      return Conflict("idempotency_key: already used for a different booking");
    auto c = op.st->customers.find(existing->customer);
    SMOOTH_RETURN_IF_ERROR(Require(actor, Action::kAppointmentCreate, t,
                                   c != op.st->customers.end() ? c->second.user : std::nullopt));
    if (existing->change_seq == op.seq) SMOOTH_RETURN_IF_ERROR(AwaitBatch(op));
    return std::optional<Appointment>(std::move(*existing));
  }

  // For an answer read from a row that an earlier member of `op`'s own batch wrote (an
  // idempotent retry, a status already set): it stands only if that batch commits. The
  // operation finishes as a member that wrote nothing and waits for the batch's outcome;
  // aborted, it runs again (Retrying). It queued nothing and wrote nothing, so it stays
  // uncommitted for WriteBooking: nothing of its own is announced or audited.
  Status AwaitBatch(WriteOp& op) {
    Status outcome = Commit(op);
    op.committed = false;
    return outcome;
  }

  // Index changes made while planning inside a WriteOp must be rolled back if the op
  // fails before committing; this guard does that.
  struct PlacementGuard {
    Impl& impl;
    TenantState& st;
    std::vector<AppointmentId> placed;
    std::vector<std::pair<AppointmentId, Placement>> removed;
    bool committed = false;
    ~PlacementGuard() {
      if (committed) return;
      for (AppointmentId id : placed) impl.Unplace(st, id);
      for (auto& [id, p] : removed) impl.Place(st, id, p);
    }
    void Remove(AppointmentId id) {
      auto it = st.appointments.find(id);
      if (it == st.appointments.end()) return;
      removed.emplace_back(id, it->second);
      impl.Unplace(st, id);
    }
    void Add(AppointmentId id, const Placement& p) {
      impl.Place(st, id, p);
      placed.push_back(id);
    }
  };
};

thread_local std::vector<AuditRecord>* Scheduler::Impl::held_audit = nullptr;

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scheduler::~Scheduler() = default;

Result<std::unique_ptr<Scheduler>> Scheduler::Open(Platform& platform, SchedulerOptions options) {
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(options.max_hold_ttl, "max_hold_ttl", false));
  if (options.default_hold_ttl <= Duration(0) || options.default_hold_ttl > options.max_hold_ttl)
    return InvalidArgument("default_hold_ttl: must be positive and at most max_hold_ttl");
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(options.hold_retention, "hold_retention", false));
  if (options.max_series_occurrences == 0)
    return InvalidArgument("max_series_occurrences: must be positive");
  if (options.max_range_days < 1) return InvalidArgument("max_range_days: must be positive");
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(options.unload_after, "unload_after", false));
  return std::unique_ptr<Scheduler>(new Scheduler(std::make_unique<Impl>(platform, options)));
}

// --- Resources ---------------------------------------------------------------------------

namespace {

Status ValidateResource(const Resource& r) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(r.name, "name", 200));
  SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(r.kind, &ResourceKindName, "kind"));
  if (r.capacity < 1) return InvalidArgument("capacity: must be at least 1");
  if (r.capacity > 10000) return InvalidArgument("capacity: must be at most 10000");
  // A reason is stored with the hours, as JSON that must read back: text like any other.
  for (std::size_t i = 0; i < r.hours.time_off.size(); ++i)
    SMOOTH_RETURN_IF_ERROR(internal::ValidateStorable(
        r.hours.time_off[i].reason, fmt::format("time_off: entry {} reason", i + 1)));
  return {};
}

}  // namespace

// The resource `r` as CreateResource and UpdateResource would write it: its fields and
// calendar (made into `cal`), the actor's right to manage resources, and a linked user
// that is one of the tenant's.
Status Scheduler::Impl::CheckResource(const Principal& actor, const Tenant& t, const Resource& r,
                                      std::optional<internal::Calendar>& cal) {
  SMOOTH_RETURN_IF_ERROR(ValidateResource(r));
  auto made = MakeCalendar(r.time_zone, r.hours);
  if (!made) return made.error();
  cal.emplace(std::move(*made));
  SMOOTH_RETURN_IF_ERROR(Require(actor, Action::kResourceManage, t));
  if (r.user) {
    auto u = LinkedUser(actor, t.id, *r.user);
    if (!u) return u.error();
  }
  return {};
}

namespace {

Status ValidateService(const Service& s) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(s.name, "name", 200));
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(s.duration, "duration", false));
  if (s.duration > std::chrono::hours(24 * 7)) return InvalidArgument("duration: at most 7 days");
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(s.buffer_before, "buffer_before", true));
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(s.buffer_after, "buffer_after", true));
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(s.slot_interval, "slot_interval", false));
  if (s.slot_interval < std::chrono::minutes(1))
    return InvalidArgument("slot_interval: must be at least 1 minute");
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(s.min_notice, "min_notice", true));
  SMOOTH_RETURN_IF_ERROR(ValidateDuration(s.max_advance, "max_advance", true));
  if (s.price_minor < 0) return InvalidArgument("price_minor: must not be negative");
  if (s.currency.size() != 3 || !std::all_of(s.currency.begin(), s.currency.end(),
                                             [](char c) { return c >= 'A' && c <= 'Z'; }))
    return InvalidArgument("currency: must be a three-letter ISO 4217 code such as USD");
  if (s.requirements.empty()) return InvalidArgument("requirements: at least one is needed");
  for (const ResourceRequirement& req : s.requirements)
    if (req.resources.empty())
      return InvalidArgument("requirements: each needs at least one resource");
  return {};
}

}  // namespace

// Every call with an actor begins with `one_epoch_read`: the actor checks it makes, however
// many, judge the actor by one read of the shared epoch (EpochHint).

Result<Resource> Scheduler::CreateResource(const Principal& actor, TenantId tenant,
                                           const ResourceSpec& spec) {
  const internal::EpochHint one_epoch_read;
  Resource r;
  r.name = spec.name;
  r.kind = spec.kind;
  r.capacity = spec.capacity;
  r.user = spec.user;
  r.hours = spec.hours;
  std::optional<internal::Calendar> cal;  // made from r by the check
  return impl_->WriteSetup(
      actor, tenant,
      [&](const Tenant& t) -> Status {
        r.time_zone = spec.time_zone.empty() ? t.time_zone : spec.time_zone;
        return impl_->CheckResource(actor, t, r, cal);
      },
      [&](Impl::WriteOp& op) -> Result<Resource> {
        r.created_at = r.updated_at = impl_->Now();
        auto created = op.txn->InsertResource(r);
        if (!created) return created;
        Resource row = *created;
        op.on_commit.push_back([st = op.st.get(), row, c = std::move(*cal)]() mutable {
          st->resources.try_emplace(row.id, row, std::move(c));
        });
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return row;
      });
}

Result<Resource> Scheduler::UpdateResource(const Principal& actor, TenantId tenant,
                                           const Resource& resource) {
  const internal::EpochHint one_epoch_read;
  std::optional<internal::Calendar> cal;  // made from `resource` by the check
  return impl_->WriteSetup(
      actor, tenant,
      [&](const Tenant& t) -> Status { return impl_->CheckResource(actor, t, resource, cal); },
      [&](Impl::WriteOp& op) -> Result<Resource> {
        auto it = op.st->resources.find(resource.id);
        if (it == op.st->resources.end())
          return NotFound(fmt::format("resource {} not found", resource.id));
        ResourceState& rs = it->second;
        if (resource.capacity < rs.resource.capacity) {
          // Lowering capacity must not strand existing bookings above it.
          Span everything{Instant::min() + std::chrono::hours(24 * 365),
                          Instant::max() - std::chrono::hours(24 * 365)};
          if (rs.index.MaxCount(everything) > resource.capacity)
            return Conflict("capacity: existing bookings exceed the new capacity");
        }
        Resource row = resource;
        row.created_at = rs.resource.created_at;
        row.updated_at = impl_->Now();
        SMOOTH_RETURN_IF_ERROR(op.txn->UpdateResource(row));
        op.on_commit.push_back(
            [&rs, row, c = std::move(*cal)]() mutable { rs.Redefine(row, std::move(c)); });
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return row;
      });
}

Result<Resource> Scheduler::GetResource(const Principal& actor, TenantId tenant, ResourceId id) {
  const internal::EpochHint one_epoch_read;
  return impl_->GetKept(actor, tenant, &TenantState::resources, &ResourceState::resource, id,
                        "resource");
}

Result<std::vector<Resource>> Scheduler::ListResources(const Principal& actor, TenantId tenant) {
  const internal::EpochHint one_epoch_read;
  return impl_->ListKept(actor, tenant, &TenantState::resources, &ResourceState::resource);
}

// --- Services ----------------------------------------------------------------------------

namespace {
Status CheckRequirementsExist(const TenantState& st, const Service& s) {
  for (const ResourceRequirement& req : s.requirements) {
    std::set<ResourceId> seen;
    for (ResourceId r : req.resources) {
      if (!st.resources.count(r)) return NotFound(fmt::format("requirements: resource {} not found", r));
      if (!seen.insert(r).second)
        return InvalidArgument(fmt::format("requirements: resource {} listed twice", r));
    }
  }
  return {};
}
}  // namespace

Result<Service> Scheduler::CreateService(const Principal& actor, TenantId tenant,
                                         const ServiceSpec& spec) {
  const internal::EpochHint one_epoch_read;
  Service s;
  s.name = spec.name;
  s.duration = spec.duration;
  s.buffer_before = spec.buffer_before;
  s.buffer_after = spec.buffer_after;
  s.slot_interval = spec.slot_interval;
  s.min_notice = spec.min_notice;
  s.max_advance = spec.max_advance;
  s.price_minor = spec.price_minor;
  s.currency = spec.currency;
  s.requirements = spec.requirements;
  return impl_->WriteSetup(
      actor, tenant,
      [&](const Tenant& t) -> Status {
        SMOOTH_RETURN_IF_ERROR(ValidateService(s));
        return impl_->Require(actor, Action::kServiceManage, t);
      },
      [&](Impl::WriteOp& op) -> Result<Service> {
        SMOOTH_RETURN_IF_ERROR(CheckRequirementsExist(*op.st, s));
        s.created_at = s.updated_at = impl_->Now();
        auto created = op.txn->InsertService(s);
        if (!created) return created;
        Service row = *created;
        op.on_commit.push_back([st = op.st.get(), row] {
          st->services.insert_or_assign(row.id, MakeServiceState(*st, row));
        });
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return row;
      });
}

Result<Service> Scheduler::UpdateService(const Principal& actor, TenantId tenant,
                                         const Service& service) {
  const internal::EpochHint one_epoch_read;
  return impl_->WriteSetup(
      actor, tenant,
      [&](const Tenant& t) -> Status {
        SMOOTH_RETURN_IF_ERROR(ValidateService(service));
        return impl_->Require(actor, Action::kServiceManage, t);
      },
      [&](Impl::WriteOp& op) -> Result<Service> {
        auto it = op.st->services.find(service.id);
        if (it == op.st->services.end())
          return NotFound(fmt::format("service {} not found", service.id));
        SMOOTH_RETURN_IF_ERROR(CheckRequirementsExist(*op.st, service));
        Service row = service;
        row.created_at = it->second.service.created_at;
        row.updated_at = impl_->Now();
        SMOOTH_RETURN_IF_ERROR(op.txn->UpdateService(row));
        op.on_commit.push_back([st = op.st.get(), row] {
          st->services.insert_or_assign(row.id, MakeServiceState(*st, row));
        });
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return row;
      });
}

Result<Service> Scheduler::GetService(const Principal& actor, TenantId tenant, ServiceId id) {
  const internal::EpochHint one_epoch_read;
  return impl_->GetKept(actor, tenant, &TenantState::services, &ServiceState::service, id,
                        "service");
}

Result<std::vector<Service>> Scheduler::ListServices(const Principal& actor, TenantId tenant) {
  const internal::EpochHint one_epoch_read;
  return impl_->ListKept(actor, tenant, &TenantState::services, &ServiceState::service);
}

// --- Customers ---------------------------------------------------------------------------

// A customer's fields as CreateCustomer and UpdateCustomer take them: the name, the email
// (normalized in place), the phone.
static Status CheckCustomerFields(Customer& c) {
  SMOOTH_RETURN_IF_ERROR(internal::ValidateText(c.name, "name", 200));
  if (!c.email.empty()) {
    auto email = internal::NormalizeEmail(c.email);
    if (!email) return email.error();
    c.email = *email;
  }
  if (c.phone.size() > 40) return InvalidArgument("phone: longer than 40 bytes");
  SMOOTH_RETURN_IF_ERROR(internal::ValidateStorable(c.phone, "phone"));
  return internal::ValidateEnum(c.status, &CustomerStatusName, "status");
}

Status Scheduler::Impl::CheckCustomerLogin(const Principal& actor, TenantId tenant,
                                           const std::optional<UserId>& user) {
  if (!user) return {};
  auto u = LinkedUser(actor, tenant, *user);
  if (!u) return u.error();
  if (u->role != Role::kCustomer) return InvalidArgument("user: must have role CUSTOMER");
  return {};
}

Result<Customer> Scheduler::CreateCustomer(const Principal& actor, TenantId tenant,
                                           const CustomerSpec& spec) {
  const internal::EpochHint one_epoch_read;
  Customer c;
  c.name = spec.name;
  c.email = spec.email;
  c.phone = spec.phone;
  c.user = spec.user;
  return impl_->WriteSetup(
      actor, tenant,
      [&](const Tenant& t) -> Status {
        SMOOTH_RETURN_IF_ERROR(CheckCustomerFields(c));
        SMOOTH_RETURN_IF_ERROR(impl_->Require(actor, Action::kCustomerManage, t, spec.user));
        return impl_->CheckCustomerLogin(actor, tenant, c.user);
      },
      [&](Impl::WriteOp& op) -> Result<Customer> {
        c.created_at = impl_->Now();
        auto created = op.txn->InsertCustomer(c);
        if (!created) return created;
        Customer row = *created;
        op.on_commit.push_back([st = op.st.get(), row] { st->customers[row.id] = row; });
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return row;
      });
}

Result<Customer> Scheduler::UpdateCustomer(const Principal& actor, TenantId tenant,
                                           const Customer& customer) {
  const internal::EpochHint one_epoch_read;
  Customer c = customer;
  std::optional<Tenant> in;
  return impl_->WriteSetup(
      actor, tenant,
      [&](const Tenant& t) -> Status {
        in = t;
        c = customer;
        SMOOTH_RETURN_IF_ERROR(CheckCustomerFields(c));
        return impl_->CheckCustomerLogin(actor, tenant, c.user);
      },
      [&](Impl::WriteOp& op) -> Result<Customer> {
        auto it = op.st->customers.find(c.id);
        if (it == op.st->customers.end())
          return NotFound(fmt::format("customer {} not found", c.id));
        const Customer old = it->second;
        // Over the record as it is and as it would be: a customer keeps to its own record.
        SMOOTH_RETURN_IF_ERROR(impl_->Require(actor, Action::kCustomerManage, *in, old.user));
        if (c.user != old.user)
          SMOOTH_RETURN_IF_ERROR(impl_->Require(actor, Action::kCustomerManage, *in, c.user));
        // Blocking and unblocking are the business's to decide, never the customer's own.
        if (c.status != old.status)
          SMOOTH_RETURN_IF_ERROR(impl_->Require(actor, Action::kCustomerManage, *in));
        c.created_at = old.created_at;
        SMOOTH_RETURN_IF_ERROR(op.txn->UpdateCustomer(c));
        op.on_commit.push_back([st = op.st.get(), row = c] { st->customers[row.id] = row; });
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return c;
      });
}

Result<Customer> Scheduler::GetCustomer(const Principal& actor, TenantId tenant, CustomerId id) {
  const internal::EpochHint one_epoch_read;
  auto t = impl_->TenantFor(actor, tenant);
  if (!t) return t.error();
  auto op = impl_->BeginRead(*t);
  if (!op) return op.error();
  auto it = op->st->customers.find(id);
  if (it == op->st->customers.end()) return NotFound(fmt::format("customer {} not found", id));
  Customer c = it->second;
  op->lock.unlock();
  SMOOTH_RETURN_IF_ERROR(impl_->Require(actor, Action::kCustomerRead, *t, c.user));
  return c;
}

Result<std::vector<Customer>> Scheduler::ListCustomers(const Principal& actor, TenantId tenant) {
  const internal::EpochHint one_epoch_read;
  auto t = impl_->TenantFor(actor, tenant);
  if (!t) return t.error();
  const bool whole = impl_->Allows(actor, Action::kCustomerRead, Impl::TargetIn(*t));
  // Otherwise the actor's own, if it may read even those: else refused, and audited so.
  if (!whole)
    SMOOTH_RETURN_IF_ERROR(
        impl_->Check(actor, Action::kCustomerRead, Impl::TargetIn(*t, actor.user.id)));
  std::vector<Customer> all;
  {
    auto op = impl_->BeginRead(*t);
    if (!op) return op.error();
    for (const auto& [id, c] : op->st->customers) all.push_back(c);
  }
  std::sort(all.begin(), all.end(), [](const Customer& a, const Customer& b) { return a.id < b.id; });
  if (whole) return all;
  std::vector<Customer> visible;
  for (Customer& c : all)
    if (c.user && impl_->platform.Evaluate(actor, Action::kCustomerRead, Impl::TargetIn(*t, c.user))
                      .allowed)
      visible.push_back(std::move(c));
  return visible;
}

// --- Appointments ------------------------------------------------------------------------

Result<Appointment> Scheduler::Book(const Principal& actor, TenantId tenant,
                                    const BookingRequest& request) {
  const internal::EpochHint one_epoch_read;
  SMOOTH_RETURN_IF_ERROR(internal::ValidateInstant(request.start, "start"));
  // Before Retried looks the key up: storage must be asked about the key given, all of it.
  SMOOTH_RETURN_IF_ERROR(ValidateIdempotencyKey(request.idempotency_key));
  return impl_->WriteBooking(
      actor, tenant, request.idempotency_key ? Impl::Sends::kAnything : Impl::Sends::kAppendedRows,
      [&](Impl::WriteOp& op, const Tenant& t) -> Result<Appointment> {
        TenantState& st = *op.st;
        auto retried = impl_->Retried(op, actor, t, request);
        if (!retried) return retried.error();
        if (*retried) return std::move(**retried);  // written before: nothing to commit
        auto plan = impl_->PlanBooking(actor, t, st, request);
        if (!plan) return plan.error();
        auto created =
            op.txn->InsertAppointment(impl_->NewAppointment(actor, st, *plan, request, op.seq));
        if (!created) return created;
        const Appointment& a = *created;
        // Its `created` event is made from the row only if someone listens once the batch
        // has committed (Queue): copying every booking into an event nobody hears costs
        // more than the rest of an in-memory booking.
        op.created = &a;
        op.on_commit.push_back(
            [impl = impl_.get(), s = &st, id = a.id,
             p = Placement{plan->timing.Occupied(a.start), std::move(plan->resources)}]() mutable {
              impl->Place(*s, id, std::move(p));
            });
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return created;
      },
      [&](const Tenant& t, const Result<Appointment>& booked) {
        impl_->AuditOutsideHours(actor, t, *booked);
      });
}

Result<Appointment> Scheduler::Reschedule(const Principal& actor, TenantId tenant,
                                          AppointmentId id, Instant new_start,
                                          std::optional<std::int64_t> expected_version) {
  const internal::EpochHint one_epoch_read;
  SMOOTH_RETURN_IF_ERROR(internal::ValidateInstant(new_start, "start"));
  return impl_->WriteBooking(
      actor, tenant, Impl::Sends::kAnything,
      [&](Impl::WriteOp& op, const Tenant& t) -> Result<Appointment> {
        TenantState& st = *op.st;
        auto a = op.txn->GetAppointment(id);
        if (!a) return a;
        SMOOTH_RETURN_IF_ERROR(impl_->RequireOnItem(actor, t, Action::kAppointmentUpdate,
                                                    Action::kAppointmentUpdate,
                                                    Impl::OwnersOf(st, a->customer, a->resources)));
        if (expected_version && *expected_version != a->version)
          return Conflict(fmt::format("version: expected {}, the appointment is at {}",
                                      *expected_version, a->version));
        if (!a->Occupies())
          return FailedPrecondition(fmt::format("status: a {} appointment cannot be moved",
                                                AppointmentStatusName(a->status)));
        auto service = st.services.find(a->service);
        if (service == st.services.end()) return Internal("appointment without its service");
        auto role = impl_->RoleNow(actor);
        if (!role) return role.error();
        SMOOTH_RETURN_IF_ERROR(impl_->CheckTimePolicy(*role, service->second.service, new_start));
        // A resource taken out of new bookings takes no moved ones either, and says so.
        for (ResourceId r : a->resources) SMOOTH_RETURN_IF_ERROR(Impl::CheckActive(st, r));
        // Take the appointment out of the indexes while deciding, so it never blocks itself.
        Impl::PlacementGuard guard{*impl_, st, {}, {}, false};
        guard.Remove(a->id);
        Timing timing = TimingOf(*a);
        // The appointment keeps its own resources, whatever the service requires now: each
        // is checked at the new time as a requirement of its own, by Pick's rules (capacity
        // is a conflict, working hours a failed precondition).
        Service own;
        for (ResourceId r : a->resources) own.requirements.push_back({.resources = {r}});
        const ServiceState kept = MakeServiceState(st, std::move(own));
        // Outside working hours only for an appointment booked so, moved by someone who may
        // book so (as Book decides); it stays flagged, and audited, while it needs to be.
        const bool ignore_hours = a->outside_hours && MayBookOutsideHours(*role);
        auto picks = impl_->Pick(st, kept, {}, timing, new_start, ignore_hours);
        if (!picks) return picks.error();
        Appointment moved = *a;
        if (!moved.booked_start) moved.booked_start = a->start;
        moved.start = new_start;
        moved.end = new_start + timing.duration;
        moved.outside_hours =
            ignore_hours && Impl::NeedsOutsideHours(st, a->resources, new_start, timing.duration);
        moved.version += 1;
        moved.updated_at = impl_->Now();
        moved.change_seq = op.seq;
        SMOOTH_RETURN_IF_ERROR(op.txn->UpdateAppointment(moved));
        guard.Add(moved.id, {timing.Occupied(moved.start), moved.resources});
        op.events.push_back({tenant, 0, EventType::kRescheduled, moved, std::nullopt});
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        guard.committed = true;
        return moved;
      },
      [&](const Tenant& t, const Result<Appointment>& moved) {
        impl_->AuditOutsideHours(actor, t, *moved);
      });
}

namespace {
bool IsFinal(AppointmentStatus s) {
  return s == AppointmentStatus::kCancelled || s == AppointmentStatus::kCompleted ||
         s == AppointmentStatus::kNoShow;
}
}  // namespace

// Moves appointment `id` to `status` in one write, the actor needing `action` on it: a
// final appointment (cancelled, completed, no-show) stays as it is, a confirmed one does not
// go back to pending, and one already at `status` is returned unchanged. One that no longer
// occupies its time frees it. Subscribers get `event`.
Result<Appointment> Scheduler::Impl::ChangeStatus(const Principal& actor, TenantId tenant,
                                                  AppointmentId id, AppointmentStatus status,
                                                  Action action, EventType event) {
  return WriteBooking(actor, tenant, [&](WriteOp& op, const Tenant& t) -> Result<Appointment> {
    TenantState& st = *op.st;
    auto a = op.txn->GetAppointment(id);
    if (!a) return a;
    SMOOTH_RETURN_IF_ERROR(
        RequireOnItem(actor, t, action, action, OwnersOf(st, a->customer, a->resources)));
    if (IsFinal(a->status))
      return FailedPrecondition(
          fmt::format("status: the appointment is already {}", AppointmentStatusName(a->status)));
    if (status == AppointmentStatus::kPending && a->status == AppointmentStatus::kConfirmed)
      return FailedPrecondition("status: a confirmed appointment cannot go back to pending");
    if (status == a->status) {  // nothing to write, once the write that set it stands
      if (a->change_seq == op.seq) SMOOTH_RETURN_IF_ERROR(AwaitBatch(op));
      return a;
    }
    Appointment u = *a;
    u.status = status;
    u.version += 1;
    u.updated_at = Now();
    u.change_seq = op.seq;
    SMOOTH_RETURN_IF_ERROR(op.txn->UpdateAppointment(u));
    if (!u.Occupies()) op.on_commit.push_back([this, s = &st, id] { Unplace(*s, id); });
    op.events.push_back({tenant, 0, event, u, std::nullopt});
    SMOOTH_RETURN_IF_ERROR(Commit(op));
    return u;
  });
}

Result<Appointment> Scheduler::Cancel(const Principal& actor, TenantId tenant, AppointmentId id) {
  const internal::EpochHint one_epoch_read;
  return impl_->ChangeStatus(actor, tenant, id, AppointmentStatus::kCancelled,
                             Action::kAppointmentCancel, EventType::kCancelled);
}

Result<Appointment> Scheduler::SetStatus(const Principal& actor, TenantId tenant, AppointmentId id,
                                         AppointmentStatus status) {
  const internal::EpochHint one_epoch_read;
  if (status == AppointmentStatus::kCancelled)
    return InvalidArgument("status: cancel with Scheduler::Cancel, which frees capacity");
  SMOOTH_RETURN_IF_ERROR(internal::ValidateEnum(status, &AppointmentStatusName, "status"));
  return impl_->ChangeStatus(actor, tenant, id, status, Action::kAppointmentUpdate,
                             EventType::kUpdated);
}

Result<Appointment> Scheduler::GetAppointment(const Principal& actor, TenantId tenant,
                                              AppointmentId id) {
  const internal::EpochHint one_epoch_read;
  auto t = impl_->TenantFor(actor, tenant);
  if (!t) return t.error();
  auto op = impl_->BeginRead(*t);
  if (!op) return op.error();
  auto a = op->txn->GetAppointment(id);
  if (!a) return a;
  std::vector<UserId> owners = Impl::OwnersOf(*op->st, a->customer, a->resources);
  op->lock.unlock();
  op->txn.reset();
  SMOOTH_RETURN_IF_ERROR(impl_->RequireOnItem(actor, *t, Action::kAppointmentReadAll,
                                              Action::kAppointmentReadOwn, owners));
  return a;
}

Result<std::vector<Appointment>> Scheduler::ListAppointments(const Principal& actor,
                                                             TenantId tenant, Instant from,
                                                             Instant to) {
  const internal::EpochHint one_epoch_read;
  if (!(from < to)) return InvalidArgument("to: must be after from");
  auto t = impl_->TenantFor(actor, tenant);
  if (!t) return t.error();
  const bool whole = impl_->Allows(actor, Action::kAppointmentReadAll, Impl::TargetIn(*t));
  // Otherwise the actor's own, if it may read even those: else refused, and audited so.
  if (!whole)
    SMOOTH_RETURN_IF_ERROR(
        impl_->Check(actor, Action::kAppointmentReadOwn, Impl::TargetIn(*t, actor.user.id)));
  std::vector<Appointment> all;
  std::vector<std::vector<UserId>> owners;
  {
    auto op = impl_->BeginRead(*t);
    if (!op) return op.error();
    auto rows = op->txn->ListAppointments(from, to);
    if (!rows) return rows.error();
    all = std::move(*rows);
    for (const Appointment& a : all) owners.push_back(Impl::OwnersOf(*op->st, a.customer, a.resources));
  }
  if (whole) return all;
  std::vector<Appointment> visible;
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (UserId u : owners[i]) {
      if (impl_->platform.Evaluate(actor, Action::kAppointmentReadOwn, Impl::TargetIn(*t, u)).allowed) {
        visible.push_back(all[i]);
        break;
      }
    }
  }
  return visible;
}

// --- Holds -------------------------------------------------------------------------------

Result<Hold> Scheduler::PlaceHold(const Principal& actor, TenantId tenant,
                                  const BookingRequest& request, std::optional<Duration> ttl) {
  const internal::EpochHint one_epoch_read;
  Duration life = ttl.value_or(impl_->opt.default_hold_ttl);
  if (life <= Duration(0) || life > impl_->opt.max_hold_ttl)
    return InvalidArgument(fmt::format(
        "ttl: must be positive and at most {} minutes",
        std::chrono::duration_cast<std::chrono::minutes>(impl_->opt.max_hold_ttl).count()));
  if (request.idempotency_key) return InvalidArgument("idempotency_key: give it to ConfirmHold");
  SMOOTH_RETURN_IF_ERROR(internal::ValidateInstant(request.start, "start"));
  return impl_->WriteBooking(
      actor, tenant, [&](Impl::WriteOp& op, const Tenant& t) -> Result<Hold> {
        TenantState& st = *op.st;
        auto plan = impl_->PlanBooking(actor, t, st, request);
        if (!plan) return plan.error();
        Hold h;
        h.service = request.service;
        h.resources = plan->resources;
        h.customer = request.customer;
        h.start = plan->start;
        h.end = plan->start + plan->timing.duration;
        h.buffer_before = plan->timing.buffer_before;
        h.buffer_after = plan->timing.buffer_after;
        h.owner = actor.RealUser().id;
        h.created_at = impl_->Now();
        h.expires_at = h.created_at + life;
        h.outside_hours = request.outside_hours;
        h.change_seq = op.seq;
        // Holds long over go as new ones come, so storage keeps hold_retention's worth.
        auto swept = op.txn->DeleteHoldsExpiredBefore(h.created_at - impl_->opt.hold_retention);
        if (!swept) return swept.error();
        auto created = op.txn->InsertHold(h);
        if (!created) return created;
        Hold row = *created;
        op.on_commit.push_back(
            [impl = impl_.get(), s = &st, row] { impl->PlaceHoldInIndex(*s, row); });
        op.events.push_back({tenant, 0, EventType::kHoldCreated, std::nullopt, row});
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return row;
      });
}

Status Scheduler::ReleaseHold(const Principal& actor, TenantId tenant, HoldId id) {
  const internal::EpochHint one_epoch_read;
  return impl_->WriteBooking(actor, tenant, [&](Impl::WriteOp& op, const Tenant& t) -> Status {
    auto h = impl_->LiveHold(op, actor, t, id, Action::kAppointmentCancel);
    if (!h) return h.error();
    h->released = true;
    h->change_seq = op.seq;
    SMOOTH_RETURN_IF_ERROR(op.txn->UpdateHold(*h));
    op.on_commit.push_back(
        [impl = impl_.get(), s = op.st.get(), id] { impl->UnplaceHold(*s, id); });
    op.events.push_back({tenant, 0, EventType::kHoldReleased, std::nullopt, *h});
    return impl_->Commit(op);
  });
}

Result<Appointment> Scheduler::ConfirmHold(const Principal& actor, TenantId tenant, HoldId id,
                                           std::optional<std::string> idempotency_key) {
  const internal::EpochHint one_epoch_read;
  SMOOTH_RETURN_IF_ERROR(ValidateIdempotencyKey(idempotency_key));
  return impl_->WriteBooking(
      actor, tenant, Impl::Sends::kAnything,
      [&](Impl::WriteOp& op, const Tenant& t) -> Result<Appointment> {
        TenantState& st = *op.st;
        auto h = impl_->HoldFor(op, actor, t, id, Action::kAppointmentUpdate);
        if (!h) return h.error();
        // The booking the hold stands for, checked again as Book would check it now.
        BookingRequest request;
        request.service = h->service;
        request.customer = h->customer;
        request.start = h->start;
        request.resources.assign(h->resources.begin(), h->resources.end());
        request.idempotency_key = idempotency_key;
        request.outside_hours = h->outside_hours;
        // A retry of a confirm that succeeded finds its appointment, as Book's retry does.
        auto retried = impl_->Retried(op, actor, t, request, &*h);
        if (!retried) return retried.error();
        if (*retried) return std::move(**retried);  // written before: nothing to commit
        SMOOTH_RETURN_IF_ERROR(impl_->CheckLive(*h));
        const Customer* c =
            st.customers.count(h->customer) ? &st.customers.at(h->customer) : nullptr;
        SMOOTH_RETURN_IF_ERROR(
            impl_->Require(actor, Action::kAppointmentCreate, t, c ? c->user : std::nullopt));
        // What may have changed since the hold was placed. Capacity and working hours were
        // decided then, and the hold has kept the capacity since.
        auto service = Impl::CheckBookable(st, request);
        if (!service) return service.error();
        SMOOTH_RETURN_IF_ERROR(impl_->CheckNotPast(request.start, impl_->Now()));
        // The hold's capacity passes to the appointment: same start, resources and buffers.
        const Impl::Plan plan{&(*service)->service, TimingOf(*h), h->resources, h->start};
        Appointment a = impl_->NewAppointment(actor, st, plan, request, op.seq);
        auto created = op.txn->InsertAppointment(a);
        if (!created)
          return created.error().code() == StatusCode::kAlreadyExists
                     ? Result<Appointment>(Conflict("idempotency_key: already used"))
                     : created;
        Appointment row = *created;
        h->released = true;
        h->confirmed_as = row.id;
        h->change_seq = op.seq;
        SMOOTH_RETURN_IF_ERROR(op.txn->UpdateHold(*h));
        op.on_commit.push_back([impl = impl_.get(), s = &st, id, row] {
          impl->UnplaceHold(*s, id);
          impl->Place(*s, row.id, {TimingOf(row).Occupied(row.start), row.resources});
        });
        op.events.push_back({tenant, 0, EventType::kCreated, row, std::nullopt});
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        return row;
      },
      // Audited as the booking it now is, like Book (the hold itself made no booking).
      [&](const Tenant& t, const Result<Appointment>& booked) {
        impl_->AuditOutsideHours(actor, t, *booked);
      });
}

// --- Series ------------------------------------------------------------------------------

Result<SeriesBooking> Scheduler::BookSeries(const Principal& actor, TenantId tenant,
                                            const SeriesRequest& request,
                                            std::vector<OccurrenceConflict>* conflicts) {
  const internal::EpochHint one_epoch_read;
  if (conflicts) conflicts->clear();  // it lists this call's conflicts, or none
  if (request.first.idempotency_key)
    return InvalidArgument("idempotency_key: not supported for series");
  SMOOTH_RETURN_IF_ERROR(internal::ValidateInstant(request.first.start, "start"));
  const date::time_zone* asked_zone = nullptr;
  if (!request.time_zone.empty()) {
    auto z = internal::FindZone(request.time_zone, "time_zone");
    if (!z) return z.error();
    asked_zone = *z;
  }
  return impl_->WriteBooking(
      actor, tenant, Impl::Sends::kAppendedRows,
      [&](Impl::WriteOp& op, const Tenant& t) -> Result<SeriesBooking> {
        TenantState& st = *op.st;
        auto service = impl_->CheckRequest(st, request.first);
        if (!service) return service.error();
        auto role = impl_->RoleNow(actor);
        if (!role) return role.error();
        SMOOTH_RETURN_IF_ERROR(impl_->AuthorizeBooking(actor, *role, t, st, request.first));
        // The series keeps the wall clock asked for, else its first resource's.
        ResourceId anchor = request.first.resources.empty() || !request.first.resources[0]
                                ? (*service)->service.requirements[0].resources[0]
                                : *request.first.resources[0];
        const date::time_zone* zone =
            asked_zone != nullptr ? asked_zone : st.resources.at(anchor).calendar.zone();
        LocalDate first_date = internal::LocalDateOf(zone, request.first.start);
        std::chrono::minutes minutes = internal::LocalMinutesOf(zone, request.first.start);
        // Occurrences are whole local minutes; the start's seconds and below carry over to
        // each. Only those: in a fall-back overlap the wall clock maps to its first
        // occurrence, which for a start in the repeated hour is an hour earlier than the
        // start, and that hour must not move the rest of the series.
        const auto local_start = internal::ToLocal(zone, request.first.start);
        const Duration extra = local_start - date::floor<std::chrono::minutes>(local_start);
        auto occurrences = internal::ExpandRecurrence(request.rrule, zone, first_date, minutes,
                                                      impl_->opt.max_series_occurrences, extra,
                                                      request.first.start);
        if (!occurrences) return occurrences.error();
        if (occurrences->empty()) return InvalidArgument("rrule: produces no occurrences");

        auto series = op.txn->NewSeriesId();
        if (!series) return series.error();
        SeriesBooking result;
        result.series = *series;
        // Plan each occurrence against the state including the earlier ones, then write all
        // or nothing.
        Impl::PlacementGuard guard{*impl_, st, {}, {}, false};
        std::vector<OccurrenceConflict> found;
        std::int64_t provisional = 0;
        std::vector<Appointment> planned;
        for (const internal::Occurrence& occ : *occurrences) {
          BookingRequest r = request.first;
          // The first local start, when it is an occurrence, is the start asked for exactly.
          r.start = occ.instant;
          // A rule can run past the last accepted instant (a daily series from 9999-12-30).
          SMOOTH_RETURN_IF_ERROR(internal::ValidateInstant(r.start, "rrule: an occurrence's start"));
          auto plan = impl_->PlanBooking(actor, t, st, r);
          if (!plan) {
            if (plan.error().code() == StatusCode::kConflict ||
                plan.error().code() == StatusCode::kFailedPrecondition) {
              found.push_back({r.start, plan.error().message()});
              continue;
            }
            return plan.error();
          }
          Appointment a = impl_->NewAppointment(actor, st, *plan, r, op.seq);
          a.series = *series;
          // A provisional negative id keeps it in the index until the real insert.
          AppointmentId temp(--provisional);
          guard.Add(temp, {plan->timing.Occupied(a.start), a.resources});
          planned.push_back(std::move(a));
        }
        if (!found.empty()) {
          std::string list;
          for (const auto& c : found)
            list += fmt::format("{}{} ({})", list.empty() ? "" : "; ", FormatRfc3339(c.start),
                                c.reason);
          if (conflicts) *conflicts = found;
          return Conflict(fmt::format("series: {} of {} occurrences cannot be booked: {}",
                                      found.size(), occurrences->size(), list));
        }
        for (Appointment& a : planned) {
          auto created = op.txn->InsertAppointment(a);
          if (!created) return created.error();
          result.appointments.push_back(*created);
        }
        // Swap the provisional placements for the real ids once committed.
        std::vector<AppointmentId> temps = guard.placed;
        op.on_commit.push_back([impl = impl_.get(), s = &st, temps, rows = result.appointments] {
          for (AppointmentId id : temps) impl->Unplace(*s, id);
          for (const Appointment& a : rows)
            impl->Place(*s, a.id, {TimingOf(a).Occupied(a.start), a.resources});
        });
        for (const Appointment& a : result.appointments)
          op.events.push_back({tenant, 0, EventType::kCreated, a, std::nullopt});
        SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
        guard.committed = true;
        return result;
      },
      [&](const Tenant& t, const Result<SeriesBooking>& booked) {
        for (const Appointment& a : booked->appointments) impl_->AuditOutsideHours(actor, t, a);
      });
}

Result<int> Scheduler::CancelSeriesFrom(const Principal& actor, TenantId tenant,
                                        AppointmentId from) {
  const internal::EpochHint one_epoch_read;
  return impl_->WriteBooking(actor, tenant, [&](Impl::WriteOp& op, const Tenant& t) -> Result<int> {
    auto first = op.txn->GetAppointment(from);
    if (!first) return first.error();
    if (!first->series) return FailedPrecondition("appointment: is not part of a series");
    SMOOTH_RETURN_IF_ERROR(
        impl_->RequireOnItem(actor, t, Action::kAppointmentCancel, Action::kAppointmentCancel,
                             Impl::OwnersOf(*op.st, first->customer, first->resources)));
    auto all = op.txn->ListSeries(*first->series);
    if (!all) return all.error();
    // "Later" is by place in the series, not by the current start, so rescheduling one
    // occurrence past another does not change which follow `first` (RFC 5545's
    // THISANDFUTURE goes by RECURRENCE-ID, the original start, likewise). BookSeries
    // inserts the occurrences in the rule's order in one transaction, and ids only grow,
    // so that order is the ids'.
    std::erase_if(*all,
                  [&](const Appointment& a) { return a.id < first->id || IsFinal(a.status); });
    // Occurrences may be on other resources, with other owners: the actor must be allowed
    // to cancel every one, or nothing is cancelled.
    for (const Appointment& a : *all) {
      if (a.id == first->id) continue;
      SMOOTH_RETURN_IF_ERROR(impl_->RequireOnItem(actor, t, Action::kAppointmentCancel,
                                                  Action::kAppointmentCancel,
                                                  Impl::OwnersOf(*op.st, a.customer, a.resources)));
    }
    std::vector<AppointmentId> cancelled;
    for (Appointment a : *all) {
      a.status = AppointmentStatus::kCancelled;
      a.version += 1;
      a.updated_at = impl_->Now();
      a.change_seq = op.seq;
      SMOOTH_RETURN_IF_ERROR(op.txn->UpdateAppointment(a));
      cancelled.push_back(a.id);
      op.events.push_back({tenant, 0, EventType::kCancelled, a, std::nullopt});
    }
    op.on_commit.push_back([impl = impl_.get(), s = op.st.get(), cancelled] {
      for (AppointmentId id : cancelled) impl->Unplace(*s, id);
    });
    SMOOTH_RETURN_IF_ERROR(impl_->Commit(op));
    return static_cast<int>(cancelled.size());
  });
}

// --- Availability ------------------------------------------------------------------------

namespace {

// Which resources of each requirement are free at which slots of a query's grid, one
// bitmask per resource, and the answer built from them.
class FreeSets {
 public:
  FreeSets(const internal::SlotGrid& grid, const ServiceState& ss)
      : grid_(grid), ss_(ss), n_(ss.members.size()), words_(grid.words()), bits_(n_) {
    for (std::size_t i = 0; i < n_; ++i) bits_[i].assign(ss.members[i].size() * words_, 0);
  }

  /// Member `member` of requirement i is free at `slots`, where `allowed` also says so.
  void Add(std::size_t i, std::size_t member, const internal::SlotBits& slots,
           const std::vector<std::uint64_t>& allowed) {
    std::uint64_t* bits = bits_[i].data() + member * words_;
    slots.CopyTo(grid_.size(), bits);
    for (std::size_t w = 0; w < words_; ++w) bits[w] &= allowed[w];
  }

  /// The offered slots: those with a free resource for every requirement (and, with several
  /// requirements, a distinct one for each), each list in requirement order, then member order.
  std::vector<Slot> Slots(Duration duration) const {
    std::vector<std::uint64_t> offered(words_, ~std::uint64_t{0});
    std::vector<std::uint64_t> any(words_);
    for (std::size_t i = 0; i < n_; ++i) {
      std::fill(any.begin(), any.end(), 0);
      for (std::size_t j = 0; j < ss_.members[i].size(); ++j)
        for (std::size_t w = 0; w < words_; ++w) any[w] |= bits_[i][j * words_ + w];
      for (std::size_t w = 0; w < words_; ++w) offered[w] &= any[w];
    }
    // Lists are sized exactly, then filled; next[k * n + i] is where slot k's next resource
    // for requirement i goes.
    std::vector<std::uint32_t> count(grid_.size() * n_, 0);
    std::vector<bool> dense(n_ * words_);
    for (std::size_t i = 0; i < n_; ++i) {
      for (std::size_t w = 0; w < words_; ++w) {
        dense[i * words_ + w] = Dense(i, w, offered[w]);
        Visit(i, w, offered[w], dense[i * words_ + w],
              [&](std::size_t k, const std::uint64_t* bits, int bit) {
                std::uint32_t free = 0;
                for (std::size_t j = 0; j < ss_.members[i].size(); ++j)
                  free += static_cast<std::uint32_t>((bits[j * words_] >> bit) & 1);
                count[k * n_ + i] = free;
              },
              [&](std::size_t k, std::size_t) { ++count[k * n_ + i]; });
      }
    }
    std::vector<ResourceId*> next(grid_.size() * n_, nullptr);
    std::vector<Slot> slots;
    for (std::size_t w = 0; w < words_; ++w) {
      for (std::uint64_t b = offered[w]; b != 0; b &= b - 1) {
        const std::size_t k = w * 64 + static_cast<std::size_t>(std::countr_zero(b));
        const Instant start = grid_.Start(k);
        Slot& slot = slots.emplace_back(
            Slot{start, start + duration, std::vector<std::vector<ResourceId>>(n_)});
        for (std::size_t i = 0; i < n_; ++i) {
          slot.free[i].resize(count[k * n_ + i]);
          next[k * n_ + i] = slot.free[i].data();
        }
      }
    }
    for (std::size_t i = 0; i < n_; ++i) {
      const ServiceState::Member* members = ss_.members[i].data();
      for (std::size_t w = 0; w < words_; ++w) {
        Visit(i, w, offered[w], dense[i * words_ + w],
              [&](std::size_t k, const std::uint64_t* bits, int bit) {
                // Without a branch: a resource that is not free is written to a sink.
                ResourceId* at = next[k * n_ + i];
                ResourceId sink;
                for (std::size_t j = 0; j < ss_.members[i].size(); ++j) {
                  const std::uint64_t free = (bits[j * words_] >> bit) & 1;
                  *(free != 0 ? at : &sink) = members[j].id;
                  at += free;
                }
                next[k * n_ + i] = at;
              },
              [&](std::size_t k, std::size_t j) { *next[k * n_ + i]++ = members[j].id; });
      }
    }
    if (n_ > 1) {
      std::vector<ResourceId> picks;
      std::erase_if(slots,
                    [&](const Slot& slot) { return !internal::AssignDistinct(slot.free, &picks); });
    }
    return slots;
  }

 private:
  static int PopCount(std::uint64_t x) {
    // Inline: without a popcnt instruction in the target, std::popcount is a library call.
    x -= (x >> 1) & 0x5555555555555555u;
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return static_cast<int>((x * 0x0101010101010101u) >> 56);
  }

  // Whether most members of requirement i are free at most of `slots`, the offered slots of
  // word w: then Visit goes slot by slot over all members, without data-dependent branches;
  // otherwise member by member over the free slots only, whose loop exits mispredict but
  // which skips the rest.
  bool Dense(std::size_t i, std::size_t w, std::uint64_t slots) const {
    const std::size_t members = ss_.members[i].size();
    const std::uint64_t* bits = bits_[i].data() + w;
    std::size_t set = 0;
    for (std::size_t j = 0; j < members; ++j)
      set += static_cast<std::size_t>(PopCount(bits[j * words_] & slots));
    return set * 4 >= static_cast<std::size_t>(PopCount(slots)) * members;
  }

  // The members of requirement i free at `slots` (offered slots of word w), members in order
  // for each slot: when dense, slot_by_slot(k, bits, bit) for each slot k, member j's word
  // being bits[j * words_] and k its bit `bit`; else member_by_member(k, j) for each member j
  // free at slot k.
  template <typename SlotBySlot, typename MemberByMember>
  void Visit(std::size_t i, std::size_t w, std::uint64_t slots, bool dense,
             SlotBySlot slot_by_slot, MemberByMember member_by_member) const {
    const std::uint64_t* bits = bits_[i].data() + w;
    if (dense) {
      for (std::uint64_t b = slots; b != 0; b &= b - 1) {
        const int bit = std::countr_zero(b);
        slot_by_slot(w * 64 + static_cast<std::size_t>(bit), bits, bit);
      }
      return;
    }
    for (std::size_t j = 0; j < ss_.members[i].size(); ++j)
      for (std::uint64_t b = bits[j * words_] & slots; b != 0; b &= b - 1)
        member_by_member(w * 64 + static_cast<std::size_t>(std::countr_zero(b)), j);
  }

  const internal::SlotGrid& grid_;
  const ServiceState& ss_;
  std::size_t n_;  // requirements
  std::size_t words_;
  std::vector<std::vector<std::uint64_t>> bits_;  // per requirement: member j's at [j * words_]
};

}  // namespace


Result<std::vector<Slot>> Scheduler::Availability(const Principal& actor, TenantId tenant,
                                                  const AvailabilityQuery& query) {
  const internal::EpochHint one_epoch_read;
  auto zone = internal::FindZone(query.time_zone, "time_zone");
  if (!zone) return zone.error();
  if (!internal::IsValidDate(query.from)) return InvalidArgument("from: not a valid date");
  if (!internal::IsValidDate(query.to)) return InvalidArgument("to: not a valid date");
  auto days = (internal::ToLocalDays(query.to) - internal::ToLocalDays(query.from)).count() + 1;
  if (days < 1) return InvalidArgument("to: must not be before from");
  if (days > impl_->opt.max_range_days)
    return InvalidArgument(fmt::format("range: at most {} days, asked for {}",
                                       impl_->opt.max_range_days, days));
  auto t = impl_->TenantFor(actor, tenant);
  if (!t) return t.error();
  SMOOTH_RETURN_IF_ERROR(impl_->Require(actor, Action::kAvailabilityRead, *t));

  Instant window_start = internal::LocalMidnight(*zone, query.from);
  Instant window_end = internal::LocalMidnight(*zone, internal::AddDays(query.to, 1));

  auto op = impl_->BeginRead(*t);
  if (!op) return op.error();
  TenantState& st = *op->st;
  auto sit = st.services.find(query.service);
  if (sit == st.services.end()) return NotFound(fmt::format("service {} not found", query.service));
  const ServiceState& ss = sit->second;
  const Service& service = ss.service;
  for (ResourceId r : query.resources)
    if (!st.resources.count(r)) return NotFound(fmt::format("resources: resource {} not found", r));
  if (!service.is_active) return std::vector<Slot>{};

  // Starts the time policy allows: not in the past; notice and advance for customers; and
  // only starts Book accepts at all (ValidateInstant: years 1 to 9999 UTC), which the last
  // local date 9999-12-31 runs past in a zone west of UTC.
  Instant now = impl_->Now();
  Instant earliest = std::max(now, internal::kFirstInstant);
  Instant latest_exclusive = internal::kEndInstant;
  auto role = impl_->RoleNow(actor);
  if (!role) return role.error();
  if (*role == Role::kCustomer || query.as_customer) {
    earliest = std::max(earliest, now + service.min_notice);
    latest_exclusive = std::min(latest_exclusive, now + service.max_advance + kTick);
  }
  const Span window{std::max(window_start, earliest), std::min(window_end, latest_exclusive)};

  const Timing timing = TimingOf(service);
  const internal::SlotGrid grid(*zone, query.from, query.to, service.slot_interval);
  // The slots the time policy allows.
  std::vector<std::uint64_t> allowed(grid.words(), 0);
  if (!window.empty()) grid.Mark({&window, 1}, allowed.data());
  if (std::all_of(allowed.begin(), allowed.end(), [](std::uint64_t w) { return w == 0; }))
    return std::vector<Slot>{};

  // Per requirement, per resource: the slots THE rule allows, remembered per resource for
  // the whole dates asked.
  FreeSets free(grid, ss);
  Scratch scratch;
  for (std::size_t i = 0; i < ss.members.size(); ++i) {
    const std::vector<ServiceState::Member>& members = ss.members[i];
    // The resources' states and caches are rarely in the CPU cache: ask for them some
    // resources ahead, in two steps (the state holds the pointer to its newest entry).
    constexpr std::size_t kStateAhead = 16;
    constexpr std::size_t kEntryAhead = 8;
    for (std::size_t j = 0; j < members.size() && j < kStateAhead; ++j)
      internal::Prefetch(members[j].state);
    for (std::size_t j = 0; j < members.size(); ++j) {
      if (j + kStateAhead < members.size()) internal::Prefetch(members[j + kStateAhead].state);
      if (j + kEntryAhead < members.size()) members[j + kEntryAhead].state->starts.Prefetch(2);
      const ServiceState::Member& m = members[j];
      if (!query.resources.empty() &&
          std::find(query.resources.begin(), query.resources.end(), m.id) == query.resources.end())
        continue;
      internal::SlotBits slots;
      if (!internal::ValidSlotsCached(*m.state, timing, grid, &scratch, &slots)) continue;
      free.Add(i, j, slots, allowed);
    }
  }
  // A cache that refused an answer for lack of room is emptied by the next writer.
  if (scratch.cache_full) st.trim_starts.store(true, std::memory_order_relaxed);
  std::vector<Slot> slots = free.Slots(service.duration);
  return slots;
}

// --- Events ------------------------------------------------------------------------------

std::uint64_t Scheduler::Subscribe(Listener listener) {
  std::lock_guard lock(impl_->listeners_mu);
  std::uint64_t id = impl_->next_listener++;
  impl_->listeners.emplace(id, std::move(listener));
  impl_->listener_count.store(impl_->listeners.size(), std::memory_order_release);
  return id;
}

void Scheduler::Unsubscribe(std::uint64_t handle) {
  std::lock_guard lock(impl_->listeners_mu);
  impl_->listeners.erase(handle);
  impl_->listener_count.store(impl_->listeners.size(), std::memory_order_release);
}

// --- Housekeeping ------------------------------------------------------------------------

Result<MaintenanceReport> Scheduler::Maintain() { return impl_->Maintain(); }

}  // namespace smooth
