// Entity <-> row conversion, including the JSON of composite fields.
#include "storage/sql/rows.hpp"

#include <algorithm>

#include <array>
#include <cctype>
#include <exception>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/enum_names.hpp"

namespace smooth::internal::sql {
namespace json = boost::json;
namespace {

long long Micros(Instant t) { return t.time_since_epoch().count(); }
long long Micros(Duration d) { return d.count(); }
Instant ToInstant(long long us) { return Instant(Duration(us)); }

template <typename Id>
Nullable<long long> NullableId(const std::optional<Id>& id) {
  Nullable<long long> out;
  if (id) out.Set(id->value());
  return out;
}
template <typename Id>
std::optional<Id> OptionalId(const Nullable<long long>& n) {
  if (n.is_null()) return std::nullopt;
  return Id(n.value);
}
Nullable<long long> NullableInstant(const std::optional<Instant>& t) {
  Nullable<long long> out;
  if (t) out.Set(Micros(*t));
  return out;
}
std::optional<Instant> OptionalInstant(const Nullable<long long>& n) {
  if (n.is_null()) return std::nullopt;
  return ToInstant(n.value);
}
Nullable<std::string> NullableText(const std::optional<std::string>& s) {
  Nullable<std::string> out;
  if (s) out.Set(*s);
  return out;
}
std::optional<std::string> OptionalText(const Nullable<std::string>& n) {
  if (n.is_null()) return std::nullopt;
  return n.value;
}

// A stored value that does not parse means a corrupt row, not bad input.
Status Corrupt(std::string_view what, long long id, std::string_view detail) {
  return Internal(fmt::format("stored {} {} is corrupt: {}", what, id, detail));
}

template <typename T>
Status Take(Result<T> parsed, T& out, std::string_view what, long long id) {
  if (!parsed) return Corrupt(what, id, parsed.error().message());
  out = *parsed;
  return {};
}

Result<Scope> ParseScope(std::string_view name) {
  static constexpr std::array<Scope, 5> kAll = {Scope::kNone, Scope::kOwnData, Scope::kOwnTenant,
                                                Scope::kDemoOnly, Scope::kAnyTenant};
  return ParseByName(name, kAll, &ScopeName, "scope");
}

// --- JSON of composite fields -------------------------------------------------------------

json::array IntervalsJson(const std::vector<DailyInterval>& intervals) {
  json::array out;
  for (const DailyInterval& i : intervals)
    out.push_back(json::array{i.start.count(), i.end.count()});
  return out;
}
std::vector<DailyInterval> IntervalsFromJson(const json::value& v) {
  std::vector<DailyInterval> out;
  for (const json::value& i : v.as_array()) {
    const json::array& pair = i.as_array();
    out.push_back(
        {std::chrono::minutes(pair.at(0).as_int64()), std::chrono::minutes(pair.at(1).as_int64())});
  }
  return out;
}

std::string HoursJson(const WorkingHours& wh) {
  json::array weekly;
  for (const auto& day : wh.weekly) weekly.push_back(IntervalsJson(day));
  json::array overrides;
  for (const DateOverride& o : wh.overrides)
    overrides.push_back(
        json::object{{"date", FormatLocalDate(o.date)}, {"hours", IntervalsJson(o.hours)}});
  json::array time_off;
  for (const TimeOff& t : wh.time_off)
    time_off.push_back(
        json::object{{"start", Micros(t.start)}, {"end", Micros(t.end)}, {"reason", t.reason}});
  return json::serialize(json::object{{"weekly", std::move(weekly)},
                                      {"overrides", std::move(overrides)},
                                      {"time_off", std::move(time_off)}});
}
Result<WorkingHours> HoursFromJson(std::string_view text) {
  WorkingHours wh;
  json::value parsed = json::parse(text);
  const json::object& o = parsed.as_object();
  const json::array& weekly = o.at("weekly").as_array();
  if (weekly.size() != wh.weekly.size()) return InvalidArgument("hours: not 7 weekdays");
  for (std::size_t d = 0; d < weekly.size(); ++d) wh.weekly[d] = IntervalsFromJson(weekly[d]);
  for (const json::value& v : o.at("overrides").as_array()) {
    const json::object& ov = v.as_object();
    auto date = ParseLocalDate(std::string_view(ov.at("date").as_string()), "hours.date");
    if (!date) return date.error();
    wh.overrides.push_back({*date, IntervalsFromJson(ov.at("hours"))});
  }
  for (const json::value& v : o.at("time_off").as_array()) {
    const json::object& t = v.as_object();
    wh.time_off.push_back({ToInstant(t.at("start").as_int64()), ToInstant(t.at("end").as_int64()),
                           std::string(t.at("reason").as_string())});
  }
  return wh;
}

template <typename Id>
json::array IdsJson(const std::vector<Id>& ids) {
  json::array out;
  for (Id id : ids) out.push_back(id.value());
  return out;
}
template <typename Id>
std::vector<Id> IdsFromJson(const json::value& v) {
  std::vector<Id> out;
  for (const json::value& id : v.as_array()) out.push_back(Id(id.as_int64()));
  return out;
}

std::string ResourcesJson(const std::vector<ResourceId>& ids) {
  return json::serialize(IdsJson(ids));
}
std::vector<ResourceId> ResourcesFromJson(std::string_view text) {
  return IdsFromJson<ResourceId>(json::parse(text));
}

std::string RequirementsJson(const std::vector<ResourceRequirement>& reqs) {
  json::array out;
  for (const ResourceRequirement& r : reqs) out.push_back(IdsJson(r.resources));
  return json::serialize(out);
}
std::vector<ResourceRequirement> RequirementsFromJson(std::string_view text) {
  std::vector<ResourceRequirement> out;
  json::value parsed = json::parse(text);
  for (const json::value& r : parsed.as_array()) out.push_back({IdsFromJson<ResourceId>(r)});
  return out;
}

// Runs a JSON decoder that returns a Status; Boost.JSON reports shape errors by throwing.
template <typename F>
Status DecodeJson(F&& decode, std::string_view what, long long id, std::string_view field) {
  try {
    Status s = decode();
    if (!s.ok()) return Corrupt(what, id, s.message());
    return {};
  } catch (const std::exception& e) {
    return Corrupt(what, id, fmt::format("{}: {}", field, e.what()));
  }
}

}  // namespace

std::string SlugKey(std::string_view slug) {
  std::string out(slug);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string InsertManySql(std::string_view table, std::string_view columns, std::size_t rows) {
  std::size_t count = static_cast<std::size_t>(std::count(columns.begin(), columns.end(), ',')) + 1;
  std::string values;
  for (std::size_t r = 0; r < rows; ++r) {
    values += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < count; ++c) values += fmt::format("{}:r{}c{}", c ? ", " : "", r, c);
    values += ")";
  }
  return fmt::format("INSERT INTO {} ({}) VALUES {}", table, columns, values);
}

std::string InsertSql(std::string_view table, std::string_view columns) {
  std::string placeholders;
  std::size_t start = 0;
  while (start <= columns.size()) {
    std::size_t comma = columns.find(',', start);
    std::string_view column = columns.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
    if (!placeholders.empty()) placeholders += ", ";
    placeholders.append(":").append(column);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fmt::format("INSERT INTO {} ({}) VALUES ({})", table, columns, placeholders);
}

std::string UpdateSql(std::string_view table, std::string_view columns) {
  std::string sets;
  std::size_t start = 0;
  std::string_view last;
  while (start <= columns.size()) {
    std::size_t comma = columns.find(',', start);
    std::string_view column = columns.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
    if (comma == std::string_view::npos) {
      last = column;
      break;
    }
    if (!sets.empty()) sets += ", ";
    sets.append(column).append(" = :").append(column);
    start = comma + 1;
  }
  return fmt::format("UPDATE {} SET {} WHERE {} = :{}", table, sets, last, last);
}

// --- Shared tables ----------------------------------------------------------------------

TenantRow ToRow(const Tenant& t) {
  TenantRow r;
  r.name = t.name;
  r.slug = t.slug;
  r.slug_key = SlugKey(t.slug);
  r.tier = std::string(TierName(t.tier));
  r.status = std::string(TenantStatusName(t.status));
  r.time_zone = t.time_zone;
  r.is_demo = t.is_demo;
  r.created_at = Micros(t.created_at);
  r.id = t.id.value();
  return r;
}
Result<Tenant> FromRow(const TenantRow& r) {
  Tenant t;
  t.id = TenantId(r.id);
  t.slug = r.slug;
  t.name = r.name;
  SMOOTH_RETURN_IF_ERROR(Take(ParseTier(r.tier), t.tier, "tenant", r.id));
  SMOOTH_RETURN_IF_ERROR(Take(ParseTenantStatus(r.status), t.status, "tenant", r.id));
  t.time_zone = r.time_zone;
  t.is_demo = r.is_demo != 0;
  t.created_at = ToInstant(r.created_at);
  return t;
}

DomainRow ToRow(const Domain& d) {
  DomainRow r;
  r.name = d.name;
  r.tenant = d.tenant.value();
  r.is_primary = d.is_primary;
  r.is_custom_domain = d.is_custom_domain;
  r.route53_zone_id = NullableText(d.route53_zone_id);
  r.verification = std::string(DomainVerificationName(d.verification));
  r.verified_at = NullableInstant(d.verified_at);
  r.created_at = Micros(d.created_at);
  r.id = d.id.value();
  return r;
}
Result<Domain> FromRow(const DomainRow& r) {
  Domain d;
  d.id = DomainId(r.id);
  d.name = r.name;
  d.tenant = TenantId(r.tenant);
  d.is_primary = r.is_primary != 0;
  d.is_custom_domain = r.is_custom_domain != 0;
  d.route53_zone_id = OptionalText(r.route53_zone_id);
  SMOOTH_RETURN_IF_ERROR(
      Take(ParseDomainVerification(r.verification), d.verification, "domain", r.id));
  d.verified_at = OptionalInstant(r.verified_at);
  d.created_at = ToInstant(r.created_at);
  return d;
}

UserRow ToRow(const User& u) {
  UserRow r;
  r.email = u.email;
  r.tenant_key = u.tenant ? u.tenant->value() : 0;
  r.tenant = NullableId(u.tenant);
  r.display_name = u.display_name;
  r.role = std::string(RoleName(u.role));
  r.is_active = u.is_active;
  r.is_temporary = u.is_temporary;
  r.password_hash = u.password_hash;
  r.created_at = Micros(u.created_at);
  r.sessions_revoked_at = NullableInstant(u.sessions_revoked_at);
  r.id = u.id.value();
  return r;
}
Result<User> FromRow(const UserRow& r) {
  User u;
  u.id = UserId(r.id);
  u.email = r.email;
  u.display_name = r.display_name;
  SMOOTH_RETURN_IF_ERROR(Take(ParseRole(r.role), u.role, "user", r.id));
  u.tenant = OptionalId<TenantId>(r.tenant);
  u.is_active = r.is_active != 0;
  u.is_temporary = r.is_temporary != 0;
  u.password_hash = r.password_hash;
  u.created_at = ToInstant(r.created_at);
  u.sessions_revoked_at = OptionalInstant(r.sessions_revoked_at);
  return u;
}

GrantRow ToRow(const Grant& g) {
  GrantRow r;
  r.grantor = g.grantor.value();
  r.grantee = g.grantee.value();
  r.action = std::string(ActionName(g.action));
  r.scope = std::string(ScopeName(g.scope));
  r.tenant = NullableId(g.tenant);
  r.reason = g.reason;
  r.created_at = Micros(g.created_at);
  r.expires_at = Micros(g.expires_at);
  r.revoked_at = NullableInstant(g.revoked_at);
  r.revoked_by = NullableId(g.revoked_by);
  r.revoke_reason = g.revoke_reason;
  r.id = g.id.value();
  return r;
}
Result<Grant> FromRow(const GrantRow& r) {
  Grant g;
  g.id = GrantId(r.id);
  g.grantor = UserId(r.grantor);
  g.grantee = UserId(r.grantee);
  SMOOTH_RETURN_IF_ERROR(Take(ParseAction(r.action), g.action, "grant", r.id));
  SMOOTH_RETURN_IF_ERROR(Take(ParseScope(r.scope), g.scope, "grant", r.id));
  g.tenant = OptionalId<TenantId>(r.tenant);
  g.reason = r.reason;
  g.created_at = ToInstant(r.created_at);
  g.expires_at = ToInstant(r.expires_at);
  g.revoked_at = OptionalInstant(r.revoked_at);
  g.revoked_by = OptionalId<UserId>(r.revoked_by);
  g.revoke_reason = r.revoke_reason;
  return g;
}

SessionRow ToRow(const Session& s) {
  SessionRow r;
  r.session_key = s.session_key;
  r.user_id = s.user.value();
  r.tenant = NullableId(s.tenant);
  r.original = NullableId(s.original);
  r.ip_address = s.ip_address;
  r.created_at = Micros(s.created_at);
  r.ended_at = NullableInstant(s.ended_at);
  r.token_hash = NullableText(s.token_hash.empty() ? std::nullopt : std::optional(s.token_hash));
  r.id = s.id.value();
  return r;
}
Result<Session> FromRow(const SessionRow& r) {
  Session s;
  s.id = SessionId(r.id);
  s.session_key = r.session_key;
  s.user = UserId(r.user_id);
  s.tenant = OptionalId<TenantId>(r.tenant);
  s.original = OptionalId<SessionId>(r.original);
  s.ip_address = r.ip_address;
  s.created_at = ToInstant(r.created_at);
  s.ended_at = OptionalInstant(r.ended_at);
  s.token_hash = OptionalText(r.token_hash).value_or("");
  return s;
}

// --- Tenant tables ----------------------------------------------------------------------

ResourceRow ToRow(const Resource& x) {
  ResourceRow r;
  r.name = x.name;
  r.kind = std::string(ResourceKindName(x.kind));
  r.capacity = x.capacity;
  r.time_zone = x.time_zone;
  r.user_id = NullableId(x.user);
  r.is_active = x.is_active;
  r.hours = HoursJson(x.hours);
  r.created_at = Micros(x.created_at);
  r.updated_at = Micros(x.updated_at);
  r.id = x.id.value();
  return r;
}
Result<Resource> FromRow(const ResourceRow& r) {
  Resource x;
  x.id = ResourceId(r.id);
  x.name = r.name;
  SMOOTH_RETURN_IF_ERROR(Take(ParseResourceKind(r.kind), x.kind, "resource", r.id));
  x.capacity = static_cast<int>(r.capacity);
  x.time_zone = r.time_zone;
  x.user = OptionalId<UserId>(r.user_id);
  x.is_active = r.is_active != 0;
  SMOOTH_RETURN_IF_ERROR(DecodeJson(
      [&]() -> Status {
        auto hours = HoursFromJson(r.hours);
        if (!hours) return hours.error();
        x.hours = std::move(*hours);
        return {};
      },
      "resource", r.id, "hours"));
  x.created_at = ToInstant(r.created_at);
  x.updated_at = ToInstant(r.updated_at);
  return x;
}

ServiceRow ToRow(const Service& s) {
  ServiceRow r;
  r.name = s.name;
  r.duration = Micros(s.duration);
  r.buffer_before = Micros(s.buffer_before);
  r.buffer_after = Micros(s.buffer_after);
  r.slot_interval = Micros(s.slot_interval);
  r.min_notice = Micros(s.min_notice);
  r.max_advance = Micros(s.max_advance);
  r.price_minor = s.price_minor;
  r.currency = s.currency;
  r.requirements = RequirementsJson(s.requirements);
  r.is_active = s.is_active;
  r.created_at = Micros(s.created_at);
  r.updated_at = Micros(s.updated_at);
  r.id = s.id.value();
  return r;
}
Result<Service> FromRow(const ServiceRow& r) {
  Service s;
  s.id = ServiceId(r.id);
  s.name = r.name;
  s.duration = Duration(r.duration);
  s.buffer_before = Duration(r.buffer_before);
  s.buffer_after = Duration(r.buffer_after);
  s.slot_interval = Duration(r.slot_interval);
  s.min_notice = Duration(r.min_notice);
  s.max_advance = Duration(r.max_advance);
  s.price_minor = r.price_minor;
  s.currency = r.currency;
  SMOOTH_RETURN_IF_ERROR(DecodeJson(
      [&]() -> Status {
        s.requirements = RequirementsFromJson(r.requirements);
        return {};
      },
      "service", r.id, "requirements"));
  s.is_active = r.is_active != 0;
  s.created_at = ToInstant(r.created_at);
  s.updated_at = ToInstant(r.updated_at);
  return s;
}

CustomerRow ToRow(const Customer& c) {
  CustomerRow r;
  r.name = c.name;
  r.email = c.email;
  r.phone = c.phone;
  r.user_id = NullableId(c.user);
  r.status = std::string(CustomerStatusName(c.status));
  r.created_at = Micros(c.created_at);
  r.id = c.id.value();
  return r;
}
Result<Customer> FromRow(const CustomerRow& r) {
  Customer c;
  c.id = CustomerId(r.id);
  c.name = r.name;
  c.email = r.email;
  c.phone = r.phone;
  c.user = OptionalId<UserId>(r.user_id);
  SMOOTH_RETURN_IF_ERROR(Take(ParseCustomerStatus(r.status), c.status, "customer", r.id));
  c.created_at = ToInstant(r.created_at);
  return c;
}

AppointmentRow ToRow(const Appointment& a) {
  AppointmentRow r;
  r.service = a.service.value();
  r.resources = ResourcesJson(a.resources);
  r.customer = a.customer.value();
  r.start_at = Micros(a.start);
  r.end_at = Micros(a.end);
  r.buffer_before = Micros(a.buffer_before);
  r.buffer_after = Micros(a.buffer_after);
  r.status = std::string(AppointmentStatusName(a.status));
  r.notes = a.notes;
  r.created_by = a.created_by.value();
  r.created_at = Micros(a.created_at);
  r.updated_at = Micros(a.updated_at);
  r.version = a.version;
  r.idempotency_key = NullableText(a.idempotency_key);
  r.booked_start = NullableInstant(a.booked_start);
  r.series = NullableId(a.series);
  r.outside_hours = a.outside_hours;
  r.change_seq = a.change_seq;
  r.id = a.id.value();
  return r;
}
Result<Appointment> FromRow(const AppointmentRow& r) {
  Appointment a;
  a.id = AppointmentId(r.id);
  a.service = ServiceId(r.service);
  SMOOTH_RETURN_IF_ERROR(DecodeJson(
      [&]() -> Status {
        a.resources = ResourcesFromJson(r.resources);
        return {};
      },
      "appointment", r.id, "resources"));
  a.customer = CustomerId(r.customer);
  a.start = ToInstant(r.start_at);
  a.end = ToInstant(r.end_at);
  a.buffer_before = Duration(r.buffer_before);
  a.buffer_after = Duration(r.buffer_after);
  SMOOTH_RETURN_IF_ERROR(Take(ParseAppointmentStatus(r.status), a.status, "appointment", r.id));
  a.notes = r.notes;
  a.created_by = UserId(r.created_by);
  a.created_at = ToInstant(r.created_at);
  a.updated_at = ToInstant(r.updated_at);
  a.version = r.version;
  a.idempotency_key = OptionalText(r.idempotency_key);
  a.booked_start = OptionalInstant(r.booked_start);
  a.series = OptionalId<SeriesId>(r.series);
  a.outside_hours = r.outside_hours != 0;
  a.change_seq = r.change_seq;
  return a;
}

HoldRow ToRow(const Hold& h) {
  HoldRow r;
  r.service = h.service.value();
  r.resources = ResourcesJson(h.resources);
  r.customer = h.customer.value();
  r.start_at = Micros(h.start);
  r.end_at = Micros(h.end);
  r.buffer_before = Micros(h.buffer_before);
  r.buffer_after = Micros(h.buffer_after);
  r.owner_id = h.owner.value();
  r.created_at = Micros(h.created_at);
  r.expires_at = Micros(h.expires_at);
  r.released = h.released;
  r.confirmed_as = NullableId(h.confirmed_as);
  r.outside_hours = h.outside_hours;
  r.change_seq = h.change_seq;
  r.id = h.id.value();
  return r;
}
Result<Hold> FromRow(const HoldRow& r) {
  Hold h;
  h.id = HoldId(r.id);
  h.service = ServiceId(r.service);
  SMOOTH_RETURN_IF_ERROR(DecodeJson(
      [&]() -> Status {
        h.resources = ResourcesFromJson(r.resources);
        return {};
      },
      "hold", r.id, "resources"));
  h.customer = CustomerId(r.customer);
  h.start = ToInstant(r.start_at);
  h.end = ToInstant(r.end_at);
  h.buffer_before = Duration(r.buffer_before);
  h.buffer_after = Duration(r.buffer_after);
  h.owner = UserId(r.owner_id);
  h.created_at = ToInstant(r.created_at);
  h.expires_at = ToInstant(r.expires_at);
  h.released = r.released != 0;
  h.confirmed_as = OptionalId<AppointmentId>(r.confirmed_as);
  h.outside_hours = r.outside_hours != 0;
  h.change_seq = r.change_seq;
  return h;
}

}  // namespace smooth::internal::sql
