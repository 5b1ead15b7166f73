// The in-memory Storage: maps guarded by reader/writer locks, with an undo log so an
// uncommitted write transaction rolls back completely.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "smooth/storage.hpp"

namespace smooth {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Records how to undo each write; Rollback replays it backwards. Commit forgets it.
class UndoLog {
 public:
  void Push(std::function<void()> undo) {
    if (undo_.empty()) undo_.reserve(4);  // a booking logs two or three
    undo_.push_back(std::move(undo));
  }
  void Rollback() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
    undo_.clear();
  }
  void Forget() { undo_.clear(); }

  // Sets map[key] = value, remembering what was there; returns the stored value. One lookup,
  // and the value moved in: in a tenant of a million appointments a second walk down the
  // tree and a copy of the row were a tenth of a booking. New ids are the highest yet, so in
  // an ordered map they go in at the end without a walk.
  template <typename Map, typename Key, typename Value>
  const typename Map::mapped_type& Put(Map& map, const Key& key, Value value) {
    typename Map::iterator it;
    bool inserted = false;
    if constexpr (requires { map.rbegin(); }) {
      if (map.empty() || map.rbegin()->first < key) {
        it = map.emplace_hint(map.end(), key, std::move(value));
        inserted = true;
      }
    }
    if (!inserted) std::tie(it, inserted) = map.try_emplace(key, std::move(value));
    if (inserted) {
      Push([&map, key] { map.erase(key); });
      return it->second;
    }
    Push([&map, key, old = std::move(it->second)] { map[key] = old; });
    it->second = std::move(value);  // try_emplace left it alone, the key being taken
    return it->second;
  }

  template <typename Map, typename Key>
  void Erase(Map& map, const Key& key) {
    auto it = map.find(key);
    if (it == map.end()) return;
    Push([&map, key, old = it->second] { map[key] = old; });
    map.erase(it);
  }

  template <typename T>
  void Set(T& slot, T value) {
    Push([&slot, old = slot] { slot = old; });
    slot = std::move(value);
  }

 private:
  std::vector<std::function<void()>> undo_;
};

// ----------------------------------------------------------------------------------------
// Shared tables

struct SharedData {
  std::int64_t next_id = 1;  // one sequence for all shared ids keeps them distinct in logs
  std::map<TenantId, Tenant> tenants;
  std::map<std::string, TenantId> tenant_by_slug;  // lower-cased slug
  std::set<std::string> deleted_slugs;             // lower-cased; never taken again
  std::map<DomainId, Domain> domains;
  std::map<std::string, DomainId> domain_by_name;  // verified domains only
  std::map<UserId, User> users;
  std::map<std::pair<std::int64_t, std::string>, UserId> user_by_email;  // (tenant or 0, email)
  std::map<GrantId, Grant> grants;
  std::map<SessionId, Session> sessions;
  std::map<std::string, SessionId> session_by_key;
  std::map<std::string, SessionId> session_by_token_hash;
  // Failed logins (the login throttle's), by account and by time.
  std::multiset<std::pair<std::string, Instant>> failures_by_account;
  std::multiset<std::pair<Instant, std::string>> failures_by_time;
  // Storage::SharedEpoch. Advanced by a committing writer before it lets go of the lock, so
  // a reader that sees the new value then reads (under the lock) the new rows.
  std::atomic<std::int64_t> epoch{0};
};

std::pair<std::int64_t, std::string> EmailKey(std::optional<TenantId> tenant,
                                              std::string_view email) {
  return {tenant ? tenant->value() : 0, std::string(email)};
}

template <typename Map, typename Id>
auto GetRow(const Map& map, Id id, std::string_view what)
    -> Result<typename Map::mapped_type> {
  auto it = map.find(id);
  if (it == map.end()) return NotFound(fmt::format("{} {} not found", what, id));
  return it->second;
}

template <typename Map>
auto Values(const Map& map) {
  std::vector<typename Map::mapped_type> out;
  out.reserve(map.size());
  for (const auto& [k, v] : map) out.push_back(v);
  return out;
}

class MemoryStorage;

class MemorySharedTransaction final : public SharedTransaction {
 public:
  MemorySharedTransaction(SharedData& data, std::shared_mutex& mu, TxnMode mode)
      : data_(data), mode_(mode) {
    if (mode == TxnMode::kWrite) {
      write_lock_ = std::unique_lock(mu);
    } else {
      read_lock_ = std::shared_lock(mu);
    }
  }
  ~MemorySharedTransaction() override {
    if (!done_) undo_.Rollback();
  }

  Result<Tenant> GetTenant(TenantId id) override { return GetRow(data_.tenants, id, "tenant"); }
  Result<Tenant> FindTenantBySlug(std::string_view slug) override {
    auto it = data_.tenant_by_slug.find(Lower(slug));
    if (it == data_.tenant_by_slug.end())
      return NotFound(fmt::format("tenant '{}' not found", slug));
    return data_.tenants.at(it->second);
  }
  Result<std::vector<Tenant>> ListTenants() override { return Values(data_.tenants); }
  Status UpdateTenant(const Tenant& t) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    auto it = data_.tenants.find(t.id);
    if (it == data_.tenants.end()) return NotFound(fmt::format("tenant {} not found", t.id));
    if (Lower(it->second.slug) != Lower(t.slug)) return InvalidArgument("slug: cannot change");
    undo_.Put(data_.tenants, t.id, t);
    epoch_changed_ = true;
    return {};
  }

  Result<Domain> InsertDomain(Domain d) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    SMOOTH_RETURN_IF_ERROR(RequireTenant(d.tenant));
    for (const Domain& other : Values(data_.domains))
      if (other.tenant == d.tenant && other.name == d.name)
        return AlreadyExists(fmt::format("domain '{}' already exists", d.name));
    SMOOTH_RETURN_IF_ERROR(VerifiedNameFree(d));
    d.id = DomainId(NextId());
    undo_.Put(data_.domains, d.id, d);
    if (d.verification == DomainVerification::kVerified)
      undo_.Put(data_.domain_by_name, d.name, d.id);
    return d;
  }
  Status UpdateDomain(const Domain& d) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    auto it = data_.domains.find(d.id);
    if (it == data_.domains.end()) return NotFound(fmt::format("domain {} not found", d.id));
    if (it->second.name != d.name) return InvalidArgument("domain: name cannot change");
    SMOOTH_RETURN_IF_ERROR(VerifiedNameFree(d));
    const bool was_verified = it->second.verification == DomainVerification::kVerified;
    const bool verified = d.verification == DomainVerification::kVerified;
    undo_.Put(data_.domains, d.id, d);
    if (verified && !was_verified) undo_.Put(data_.domain_by_name, d.name, d.id);
    if (was_verified && !verified) undo_.Erase(data_.domain_by_name, d.name);
    return {};
  }
  Result<Domain> GetDomain(DomainId id) override { return GetRow(data_.domains, id, "domain"); }
  Result<Domain> FindDomainByName(std::string_view name) override {
    auto it = data_.domain_by_name.find(std::string(name));
    if (it == data_.domain_by_name.end())
      return NotFound(fmt::format("domain '{}' not found", name));
    return data_.domains.at(it->second);
  }
  Result<std::vector<Domain>> ListDomains(TenantId tenant) override {
    std::vector<Domain> out;
    for (const auto& [id, d] : data_.domains)
      if (d.tenant == tenant) out.push_back(d);
    return out;
  }

  Result<User> InsertUser(User u) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    SMOOTH_RETURN_IF_ERROR(RequireTenant(u.tenant));
    auto key = EmailKey(u.tenant, u.email);
    if (data_.user_by_email.count(key))
      return AlreadyExists(fmt::format("email: '{}' is already registered", u.email));
    u.id = UserId(NextId());
    undo_.Put(data_.users, u.id, u);
    undo_.Put(data_.user_by_email, key, u.id);
    return u;
  }
  Status UpdateUser(const User& u) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    auto it = data_.users.find(u.id);
    if (it == data_.users.end()) return NotFound(fmt::format("user {} not found", u.id));
    auto old_key = EmailKey(it->second.tenant, it->second.email);
    auto new_key = EmailKey(u.tenant, u.email);
    if (old_key != new_key) {
      if (data_.user_by_email.count(new_key))
        return AlreadyExists(fmt::format("email: '{}' is already registered", u.email));
      undo_.Erase(data_.user_by_email, old_key);
      undo_.Put(data_.user_by_email, new_key, u.id);
    }
    undo_.Put(data_.users, u.id, u);
    epoch_changed_ = true;
    return {};
  }
  Result<User> GetUser(UserId id) override { return GetRow(data_.users, id, "user"); }
  Result<User> FindUserByEmail(std::optional<TenantId> tenant, std::string_view email) override {
    auto it = data_.user_by_email.find(EmailKey(tenant, email));
    if (it == data_.user_by_email.end()) return NotFound("user not found");
    return data_.users.at(it->second);
  }
  Result<std::vector<User>> ListUsers(std::optional<TenantId> tenant) override {
    std::vector<User> out;
    for (const auto& [id, u] : data_.users)
      if (u.tenant == tenant) out.push_back(u);
    return out;
  }

  Result<Grant> InsertGrant(Grant g) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    SMOOTH_RETURN_IF_ERROR(RequireTenant(g.tenant));
    g.id = GrantId(NextId());
    undo_.Put(data_.grants, g.id, g);
    return g;
  }
  Status UpdateGrant(const Grant& g) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    if (!data_.grants.count(g.id)) return NotFound(fmt::format("grant {} not found", g.id));
    undo_.Put(data_.grants, g.id, g);
    return {};
  }
  Result<Grant> GetGrant(GrantId id) override { return GetRow(data_.grants, id, "grant"); }
  Result<std::vector<Grant>> ListGrants(const GrantFilter& f, Instant now) override {
    std::vector<Grant> out;
    for (const auto& [id, g] : data_.grants) {
      if (f.grantee && g.grantee != *f.grantee) continue;
      if (f.action && g.action != *f.action) continue;
      if (f.grantor && g.grantor != *f.grantor) continue;
      if (f.tenant && g.tenant != f.tenant) continue;
      if (f.only_active && !g.IsActive(now)) continue;
      out.push_back(g);
    }
    return out;
  }

  Result<Session> InsertSession(Session s) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    SMOOTH_RETURN_IF_ERROR(RequireTenant(s.tenant));
    if (data_.session_by_key.count(s.session_key))
      return AlreadyExists("session_key: already in use");
    if (!s.token_hash.empty() && data_.session_by_token_hash.count(s.token_hash))
      return AlreadyExists("token_hash: already in use");
    s.token.clear();  // the secret is never kept
    s.id = SessionId(NextId());
    undo_.Put(data_.sessions, s.id, s);
    undo_.Put(data_.session_by_key, s.session_key, s.id);
    if (!s.token_hash.empty()) undo_.Put(data_.session_by_token_hash, s.token_hash, s.id);
    return s;
  }
  Status UpdateSession(const Session& s) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    if (!data_.sessions.count(s.id)) return NotFound(fmt::format("session {} not found", s.id));
    Session stored = s;
    stored.token.clear();
    undo_.Put(data_.sessions, s.id, stored);
    epoch_changed_ = true;
    return {};
  }
  Result<Session> GetSession(SessionId id) override {
    return GetRow(data_.sessions, id, "session");
  }
  Result<Session> FindSessionByTokenHash(std::string_view token_hash) override {
    auto it = data_.session_by_token_hash.find(std::string(token_hash));
    if (token_hash.empty() || it == data_.session_by_token_hash.end())
      return NotFound("session not found");
    return data_.sessions.at(it->second);
  }
  Result<std::vector<Session>> ListLiveMasquerades(SessionId original) override {
    std::vector<Session> out;
    for (const auto& [id, s] : data_.sessions)
      if (s.original == original && !s.IsEnded()) out.push_back(s);
    return out;
  }
  Result<std::vector<Session>> ListSessions() override { return Values(data_.sessions); }
  Result<int> DeleteSessions(const std::vector<SessionId>& ids) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    int deleted = 0;
    for (SessionId id : ids) {
      auto it = data_.sessions.find(id);
      if (it == data_.sessions.end()) continue;
      const Session s = it->second;
      undo_.Erase(data_.session_by_key, s.session_key);
      if (!s.token_hash.empty()) undo_.Erase(data_.session_by_token_hash, s.token_hash);
      undo_.Erase(data_.sessions, id);
      ++deleted;
    }
    if (deleted > 0) epoch_changed_ = true;
    return deleted;
  }

  Result<int> CountLoginFailures(std::string_view account, Instant since) override {
    const std::string key(account);
    auto& by_account = data_.failures_by_account;
    return static_cast<int>(std::distance(by_account.lower_bound({key, since}),
                                          by_account.upper_bound({key, Instant::max()})));
  }
  Status RecordLoginFailure(std::string_view account, Instant at, Instant forget_before) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    auto& by_time = data_.failures_by_time;
    while (!by_time.empty() && by_time.begin()->first < forget_before) {
      auto [when, who] = *by_time.begin();
      DropFailure(who, when);
    }
    AddFailure(std::string(account), at);
    return {};
  }
  Status ClearLoginFailures(std::string_view account) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    const std::string key(account);
    auto& by_account = data_.failures_by_account;
    for (auto it = by_account.lower_bound({key, Instant::min()});
         it != by_account.end() && it->first == key;
         it = by_account.lower_bound({key, Instant::min()}))
      DropFailure(key, it->second);
    return {};
  }

  Status Commit() override {
    if (done_) return FailedPrecondition("transaction already finished");
    done_ = true;
    undo_.Forget();
    if (epoch_changed_) data_.epoch.fetch_add(1, std::memory_order_acq_rel);
    return {};
  }

  // Used by MemoryStorage::DeleteTenant: what SqlSharedTransaction::DeleteTenantRows does.
  Status DeleteTenantRows(const Tenant& t) {
    SMOOTH_RETURN_IF_ERROR(Writable());
    auto row = data_.tenants.find(t.id);
    if (row == data_.tenants.end()) return NotFound(fmt::format("tenant {} not found", t.id));
    const std::string key = Lower(row->second.slug);
    std::set<UserId> members;
    for (const auto& [id, u] : data_.users)
      if (u.tenant == t.id) members.insert(id);
    auto belongs = [&](UserId u) { return members.count(u) > 0; };
    const std::string prefix = fmt::format("{}/", t.id.value());
    std::vector<std::pair<std::string, Instant>> failures;
    for (const auto& [account, at] : data_.failures_by_account)
      if (account.starts_with(prefix)) failures.emplace_back(account, at);
    for (const auto& [account, at] : failures) DropFailure(account, at);
    for (const Grant& g : Values(data_.grants))
      if (g.tenant == t.id || belongs(g.grantee) || belongs(g.grantor))
        undo_.Erase(data_.grants, g.id);
    for (const Session& s : Values(data_.sessions)) {
      if (s.tenant != t.id && !belongs(s.user)) continue;
      undo_.Erase(data_.session_by_key, s.session_key);
      if (!s.token_hash.empty()) undo_.Erase(data_.session_by_token_hash, s.token_hash);
      undo_.Erase(data_.sessions, s.id);
    }
    for (UserId id : members) {
      undo_.Erase(data_.user_by_email, EmailKey(t.id, data_.users.at(id).email));
      undo_.Erase(data_.users, id);
    }
    for (const Domain& d : Values(data_.domains)) {
      if (d.tenant != t.id) continue;
      if (d.verification == DomainVerification::kVerified)
        undo_.Erase(data_.domain_by_name, d.name);
      undo_.Erase(data_.domains, d.id);
    }
    undo_.Erase(data_.tenant_by_slug, key);
    undo_.Erase(data_.tenants, t.id);
    data_.deleted_slugs.insert(key);
    undo_.Push([&d = data_, key] { d.deleted_slugs.erase(key); });
    epoch_changed_ = true;
    return {};
  }

  // Used by MemoryStorage::CreateTenant.
  Result<Tenant> InsertTenant(Tenant t) {
    SMOOTH_RETURN_IF_ERROR(Writable());
    std::string key = Lower(t.slug);
    if (data_.tenant_by_slug.count(key))
      return AlreadyExists(fmt::format("slug: tenant '{}' already exists", t.slug));
    if (data_.deleted_slugs.count(key))
      return AlreadyExists(
          fmt::format("slug: '{}' was a deleted tenant's, and is not used again", t.slug));
    t.id = TenantId(NextId());
    undo_.Put(data_.tenants, t.id, t);
    undo_.Put(data_.tenant_by_slug, key, t.id);
    return t;
  }

 private:
  Status Writable() const {
    if (done_) return FailedPrecondition("transaction already finished");
    if (mode_ != TxnMode::kWrite) return FailedPrecondition("write in a read transaction");
    return {};
  }
  // not_found unless the tenant a new row names exists (SharedTransaction): what
  // SqlSharedTransaction's RequireTenant checks.
  Status RequireTenant(std::optional<TenantId> id) const {
    if (id && !data_.tenants.count(*id)) return NotFound(fmt::format("tenant {} not found", *id));
    return {};
  }
  // already_exists when `d` is verified and another domain holds its name verified.
  Status VerifiedNameFree(const Domain& d) const {
    if (d.verification != DomainVerification::kVerified) return {};
    auto it = data_.domain_by_name.find(d.name);
    if (it != data_.domain_by_name.end() && it->second != d.id)
      return AlreadyExists(fmt::format("domain '{}' is verified for another tenant", d.name));
    return {};
  }
  std::int64_t NextId() {
    std::int64_t id = data_.next_id;
    undo_.Set(data_.next_id, id + 1);
    return id;
  }

  // One failed login in or out of both indexes, undone on rollback.
  static void EraseOne(auto& set, const auto& value) {
    auto it = set.find(value);
    if (it != set.end()) set.erase(it);
  }
  void AddFailure(const std::string& account, Instant at) {
    data_.failures_by_account.emplace(account, at);
    data_.failures_by_time.emplace(at, account);
    undo_.Push([&d = data_, account, at] {
      EraseOne(d.failures_by_account, std::pair(account, at));
      EraseOne(d.failures_by_time, std::pair(at, account));
    });
  }
  void DropFailure(const std::string& account, Instant at) {
    EraseOne(data_.failures_by_account, std::pair(account, at));
    EraseOne(data_.failures_by_time, std::pair(at, account));
    undo_.Push([&d = data_, account, at] {
      d.failures_by_account.emplace(account, at);
      d.failures_by_time.emplace(at, account);
    });
  }

  SharedData& data_;
  TxnMode mode_;
  std::shared_lock<std::shared_mutex> read_lock_;
  std::unique_lock<std::shared_mutex> write_lock_;
  UndoLog undo_;
  bool done_ = false;
  bool epoch_changed_ = false;  // a user, tenant or session changed
};

// ----------------------------------------------------------------------------------------
// Per-tenant tables

struct TenantData {
  std::int64_t change_seq = 0;
  std::map<ResourceId, Resource> resources;
  std::map<ServiceId, Service> services;
  std::map<CustomerId, Customer> customers;
  std::map<AppointmentId, Appointment> appointments;
  std::unordered_map<std::string, AppointmentId> appointment_by_key;
  std::map<HoldId, Hold> holds;
  std::set<std::pair<Instant, HoldId>> holds_by_expiry;  // for DeleteHoldsExpiredBefore
};

// A reader/writer lock that any thread may release. A tenant's write transaction may end
// on another thread than the one that began it (the Scheduler's group commit), which a
// std::shared_mutex does not allow: glibc would take the release for a reader's.
class TxnLock {
 public:
  void lock() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return !writer_ && readers_ == 0; });
    writer_ = true;
  }
  void unlock() {
    {
      std::lock_guard l(mu_);
      writer_ = false;
    }
    cv_.notify_all();
  }
  void lock_shared() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return !writer_; });
    ++readers_;
  }
  void unlock_shared() {
    bool last = false;
    {
      std::lock_guard l(mu_);
      last = --readers_ == 0;
    }
    if (last) cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool writer_ = false;  // guarded by mu_
  int readers_ = 0;      // guarded by mu_
};

struct TenantSpace {
  TxnLock mu;
  TenantData data;       // guarded by mu
  bool deleted = false;  // guarded by mu: the tenant was deleted, nothing may begin here
};

class MemoryTenantTransaction final : public TenantTransaction {
 public:
  MemoryTenantTransaction(std::shared_ptr<TenantSpace> space, std::atomic<std::int64_t>& ids,
                          TxnMode mode)
      : space_(std::move(space)), data_(space_->data), ids_(ids), mode_(mode) {
    if (mode == TxnMode::kWrite) {
      write_lock_ = std::unique_lock(space_->mu);
    } else {
      read_lock_ = std::shared_lock(space_->mu);
    }
  }
  ~MemoryTenantTransaction() override {
    if (!done_) undo_.Rollback();
  }

  Result<std::int64_t> ChangeSeq() override { return data_.change_seq; }
  Result<std::int64_t> BumpChangeSeq() override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    undo_.Set(data_.change_seq, data_.change_seq + 1);
    return data_.change_seq;
  }

  Result<Resource> InsertResource(Resource r) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    r.id = ResourceId(NextId());
    undo_.Put(data_.resources, r.id, r);
    return r;
  }
  Status UpdateResource(const Resource& r) override { return Update(data_.resources, r, "resource"); }
  Result<Resource> GetResource(ResourceId id) override { return GetRow(data_.resources, id, "resource"); }
  Result<std::vector<Resource>> ListResources() override { return Values(data_.resources); }

  Result<Service> InsertService(Service s) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    s.id = ServiceId(NextId());
    undo_.Put(data_.services, s.id, s);
    return s;
  }
  Status UpdateService(const Service& s) override { return Update(data_.services, s, "service"); }
  Result<Service> GetService(ServiceId id) override { return GetRow(data_.services, id, "service"); }
  Result<std::vector<Service>> ListServices() override { return Values(data_.services); }

  Result<Customer> InsertCustomer(Customer c) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    c.id = CustomerId(NextId());
    undo_.Put(data_.customers, c.id, c);
    return c;
  }
  Status UpdateCustomer(const Customer& c) override { return Update(data_.customers, c, "customer"); }
  Result<Customer> GetCustomer(CustomerId id) override { return GetRow(data_.customers, id, "customer"); }
  Result<std::vector<Customer>> ListCustomers() override { return Values(data_.customers); }

  Result<Appointment> InsertAppointment(Appointment a) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    if (a.idempotency_key && data_.appointment_by_key.count(*a.idempotency_key))
      return AlreadyExists("idempotency_key: already used");
    a.id = AppointmentId(NextId());
    if (a.idempotency_key) undo_.Put(data_.appointment_by_key, *a.idempotency_key, a.id);
    const AppointmentId id = a.id;
    return undo_.Put(data_.appointments, id, std::move(a));
  }
  Status UpdateAppointment(const Appointment& a) override {
    return Update(data_.appointments, a, "appointment");
  }
  Result<Appointment> GetAppointment(AppointmentId id) override {
    return GetRow(data_.appointments, id, "appointment");
  }
  Result<Appointment> FindAppointmentByIdempotencyKey(std::string_view key) override {
    auto it = data_.appointment_by_key.find(std::string(key));
    if (it == data_.appointment_by_key.end()) return NotFound("no appointment with that key");
    return data_.appointments.at(it->second);
  }
  Result<std::vector<Appointment>> ListAppointments(Instant from, Instant to) override {
    std::vector<Appointment> out;
    for (const auto& [id, a] : data_.appointments)
      if (a.start < to && from < a.end) out.push_back(a);
    std::stable_sort(out.begin(), out.end(),
                     [](const Appointment& x, const Appointment& y) { return x.start < y.start; });
    return out;
  }
  Result<std::vector<Appointment>> ListSeries(SeriesId series) override {
    std::vector<Appointment> out;
    for (const auto& [id, a] : data_.appointments)
      if (a.series == series) out.push_back(a);
    return out;
  }
  Result<std::vector<Appointment>> ListAppointmentsChangedSince(std::int64_t seq) override {
    std::vector<Appointment> out;
    for (const auto& [id, a] : data_.appointments)
      if (a.change_seq > seq) out.push_back(a);
    return out;
  }
  Result<SeriesId> NewSeriesId() override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    return SeriesId(NextId());
  }

  Result<Hold> InsertHold(Hold h) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    h.id = HoldId(NextId());
    undo_.Put(data_.holds, h.id, h);
    IndexHoldExpiry({}, h);
    return h;
  }
  Status UpdateHold(const Hold& h) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    auto it = data_.holds.find(h.id);
    if (it == data_.holds.end()) return NotFound(fmt::format("hold {} not found", h.id));
    IndexHoldExpiry(it->second, h);
    undo_.Put(data_.holds, h.id, h);
    return {};
  }
  Result<Hold> GetHold(HoldId id) override { return GetRow(data_.holds, id, "hold"); }
  Result<std::vector<Hold>> ListLiveHolds(Instant now) override {
    std::vector<Hold> out;
    for (const auto& [id, h] : data_.holds)
      if (h.Occupies(now)) out.push_back(h);
    return out;
  }
  Result<int> DeleteHoldsExpiredBefore(Instant before) override {
    SMOOTH_RETURN_IF_ERROR(Writable());
    int deleted = 0;
    auto& by_expiry = data_.holds_by_expiry;
    while (!by_expiry.empty() && by_expiry.begin()->first < before) {
      const auto entry = *by_expiry.begin();
      by_expiry.erase(by_expiry.begin());
      undo_.Push([&by_expiry, entry] { by_expiry.insert(entry); });
      undo_.Erase(data_.holds, entry.second);
      ++deleted;
    }
    return deleted;
  }

  Status Commit() override {
    if (done_) return FailedPrecondition("transaction already finished");
    if (epoch_check_ && epoch_check_->epoch.load(std::memory_order_acquire) != epoch_check_->expected)
      return epoch_check_->moved;
    done_ = true;
    undo_.Forget();
    return {};
  }

  // For BeginTenantWriteAt: Commit fails with `moved` unless `epoch` is still `expected`.
  struct EpochCheck {
    const std::atomic<std::int64_t>& epoch;
    std::int64_t expected;
    Status moved;
  };
  void CheckEpochAtCommit(EpochCheck check) { epoch_check_.emplace(std::move(check)); }

 private:
  template <typename Map, typename Row>
  Status Update(Map& map, const Row& row, std::string_view what) {
    SMOOTH_RETURN_IF_ERROR(Writable());
    if (!map.count(row.id)) return NotFound(fmt::format("{} {} not found", what, row.id));
    undo_.Put(map, row.id, row);
    return {};
  }
  Status Writable() const {
    if (done_) return FailedPrecondition("transaction already finished");
    if (mode_ != TxnMode::kWrite) return FailedPrecondition("write in a read transaction");
    return {};
  }
  // Moves hold `now`'s entry in holds_by_expiry from where `before` had it (none for a new
  // hold), undone on rollback.
  void IndexHoldExpiry(const std::optional<Hold>& before, const Hold& now) {
    auto& by_expiry = data_.holds_by_expiry;
    const std::pair<Instant, HoldId> entry{now.expires_at, now.id};
    if (before) {
      const std::pair<Instant, HoldId> old{before->expires_at, before->id};
      if (old == entry) return;
      by_expiry.erase(old);
      undo_.Push([&by_expiry, old] { by_expiry.insert(old); });
    }
    by_expiry.insert(entry);
    undo_.Push([&by_expiry, entry] { by_expiry.erase(entry); });
  }
  // Ids come from one counter for all tenants, so an id of one tenant never names a row
  // of another. Like a database sequence, ids of rolled-back rows are not reused.
  std::int64_t NextId() { return ids_.fetch_add(1); }

  std::shared_ptr<TenantSpace> space_;  // keeps the space alive while we hold its lock
  TenantData& data_;
  std::atomic<std::int64_t>& ids_;
  TxnMode mode_;
  std::shared_lock<TxnLock> read_lock_;
  std::unique_lock<TxnLock> write_lock_;
  UndoLog undo_;
  bool done_ = false;
  std::optional<EpochCheck> epoch_check_;
};

class MemoryStorage final : public Storage {
 public:
  Result<std::unique_ptr<SharedTransaction>> BeginShared(TxnMode mode) override {
    return std::unique_ptr<SharedTransaction>(
        std::make_unique<MemorySharedTransaction>(shared_, shared_mu_, mode));
  }

  Result<std::int64_t> SharedEpoch() override {
    return shared_.epoch.load(std::memory_order_acquire);
  }

  Result<Tenant> CreateTenant(Tenant tenant) override {
    MemorySharedTransaction txn(shared_, shared_mu_, TxnMode::kWrite);
    Result<Tenant> created = txn.InsertTenant(std::move(tenant));
    if (!created) return created;
    {
      std::lock_guard lock(spaces_mu_);
      spaces_[created->id] = std::make_shared<TenantSpace>();
    }
    SMOOTH_RETURN_IF_ERROR(txn.Commit());
    return created;
  }

  Status DeleteTenant(const Tenant& tenant, const BeforeDelete& before) override {
    {
      MemorySharedTransaction txn(shared_, shared_mu_, TxnMode::kWrite);
      if (before) SMOOTH_RETURN_IF_ERROR(before(txn));
      SMOOTH_RETURN_IF_ERROR(txn.DeleteTenantRows(tenant));
      SMOOTH_RETURN_IF_ERROR(txn.Commit());
    }  // the shared lock is let go first: a tenant writer may be waiting for it
    std::shared_ptr<TenantSpace> space;
    {
      std::lock_guard lock(spaces_mu_);
      auto it = spaces_.find(tenant.id);
      if (it == spaces_.end()) return {};
      space = std::move(it->second);
      spaces_.erase(it);
    }
    // Transactions open on the space end first (a writer's commit comes before the
    // deletion, as on SQLite and PostgreSQL); one that found the space before it was
    // erased but locks it only now is refused (BeginTenant).
    std::unique_lock lock(space->mu);
    space->deleted = true;
    return {};
  }

  Result<std::unique_ptr<TenantTransaction>> BeginTenant(const Tenant& tenant,
                                                         TxnMode mode) override {
    std::shared_ptr<TenantSpace> space;
    {
      std::lock_guard lock(spaces_mu_);
      auto it = spaces_.find(tenant.id);
      if (it == spaces_.end()) return NoSpace(tenant);
      space = it->second;
    }
    auto txn = std::make_unique<MemoryTenantTransaction>(space, object_ids_, mode);
    if (space->deleted) return NoSpace(tenant);  // read under the lock the transaction holds
    return std::unique_ptr<TenantTransaction>(std::move(txn));
  }

  // Reading the epoch costs nothing here, so writes report it and the Scheduler can use
  // BeginTenantWriteAt.
  Result<BumpedWrite> BeginTenantWrite(const Tenant& tenant) override {
    auto begun = Storage::BeginTenantWrite(tenant);
    if (begun) begun->shared_epoch = shared_.epoch.load(std::memory_order_acquire);
    return begun;
  }

  // Nothing to defer in memory: the change sequence is checked at once, under the tenant's
  // write lock, and the epoch again at commit (a committing shared writer advances it
  // before it lets go of its lock, so the check sees every change committed before it).
  Result<std::unique_ptr<TenantTransaction>> BeginTenantWriteAt(const Tenant& tenant,
                                                                std::int64_t seq,
                                                                std::int64_t epoch) override {
    auto txn = BeginTenant(tenant, TxnMode::kWrite);
    if (!txn) return txn.error();
    auto now = (*txn)->ChangeSeq();
    if (!now) return now.error();
    if (*now != seq || !EpochIs(epoch)) return Moved(tenant);
    auto bumped = (*txn)->BumpChangeSeq();
    if (!bumped) return bumped.error();
    static_cast<MemoryTenantTransaction&>(**txn).CheckEpochAtCommit(
        {shared_.epoch, epoch, Moved(tenant)});
    return txn;
  }

 private:
  bool EpochIs(std::int64_t epoch) const {
    return shared_.epoch.load(std::memory_order_acquire) == epoch;
  }
  static Status NoSpace(const Tenant& tenant) {
    return NotFound(fmt::format("tenant '{}' has no data space", tenant.slug));
  }
  static Status Moved(const Tenant& tenant) {
    return Aborted(fmt::format("tenant '{}' changed while this write was prepared; try again",
                               tenant.slug));
  }

  std::shared_mutex shared_mu_;
  SharedData shared_;  // guarded by shared_mu_
  std::mutex spaces_mu_;
  std::unordered_map<TenantId, std::shared_ptr<TenantSpace>> spaces_;  // guarded by spaces_mu_
  std::atomic<std::int64_t> object_ids_{1};  // ids of every tenant's rows
};

}  // namespace

std::unique_ptr<Storage> NewMemoryStorage() { return std::make_unique<MemoryStorage>(); }

}  // namespace smooth
