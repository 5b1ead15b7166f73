// Row mappers: how each entity is laid out in its table. Timestamps and durations are
// INTEGER microseconds since the epoch; optionals are NULL; enums are their names (the
// *Name / Parse* functions); composite fields (working hours, service requirements,
// resource lists) are JSON TEXT. Booleans are INTEGER 0/1.
//
// Every row struct lists its columns in one order — `id` last — used alike by SELECT,
// INSERT and UPDATE (whose SET list is every column but the id, then WHERE id = :id).
#pragma once

#include <array>

#include <string>
#include <string_view>

#include "smooth/access.hpp"
#include "smooth/schedule_types.hpp"
#include "smooth/status.hpp"
#include "storage/sql/connection.hpp"

namespace smooth::internal::sql {

struct TenantRow {
  static constexpr std::string_view kTable = "tenants";
  static constexpr std::string_view kColumns =
      "name, slug, slug_key, tier, status, time_zone, is_demo, created_at, id";
  std::string name, slug, slug_key, tier, status, time_zone;
  long long is_demo = 0, created_at = 0, id = 0;
  template <typename F>
  void Columns(F f) {
    f(name);
    f(slug);
    f(slug_key);
    f(tier);
    f(status);
    f(time_zone);
    f(is_demo);
    f(created_at);
    f(id);
  }
};

struct DomainRow {
  static constexpr std::string_view kTable = "domains";
  static constexpr std::string_view kColumns =
      "name, tenant, is_primary, is_custom_domain, route53_zone_id, verification, "
      "verified_at, created_at, id";
  std::string name;
  long long tenant = 0, is_primary = 0, is_custom_domain = 0;
  Nullable<std::string> route53_zone_id;
  std::string verification;
  Nullable<long long> verified_at;
  long long created_at = 0, id = 0;
  template <typename F>
  void Columns(F f) {
    f(name);
    f(tenant);
    f(is_primary);
    f(is_custom_domain);
    f(route53_zone_id);
    f(verification);
    f(verified_at);
    f(created_at);
    f(id);
  }
};

struct UserRow {
  static constexpr std::string_view kTable = "users";
  static constexpr std::string_view kColumns =
      "email, tenant_key, tenant, display_name, role, is_active, is_temporary, "
      "password_hash, created_at, sessions_revoked_at, id";
  std::string email;
  long long tenant_key = 0;  // the tenant id, or 0 for platform users: UNIQUE(tenant_key, email)
  Nullable<long long> tenant;
  std::string display_name, role;
  long long is_active = 0, is_temporary = 0;
  std::string password_hash;
  long long created_at = 0;
  Nullable<long long> sessions_revoked_at;
  long long id = 0;
  template <typename F>
  void Columns(F f) {
    f(email);
    f(tenant_key);
    f(tenant);
    f(display_name);
    f(role);
    f(is_active);
    f(is_temporary);
    f(password_hash);
    f(created_at);
    f(sessions_revoked_at);
    f(id);
  }
};

struct GrantRow {
  static constexpr std::string_view kTable = "grants";
  static constexpr std::string_view kColumns =
      "grantor, grantee, action, scope, tenant, reason, created_at, expires_at, revoked_at, "
      "revoked_by, revoke_reason, id";
  long long grantor = 0, grantee = 0;
  std::string action, scope;
  Nullable<long long> tenant;
  std::string reason;
  long long created_at = 0, expires_at = 0;
  Nullable<long long> revoked_at, revoked_by;
  std::string revoke_reason;
  long long id = 0;
  template <typename F>
  void Columns(F f) {
    f(grantor);
    f(grantee);
    f(action);
    f(scope);
    f(tenant);
    f(reason);
    f(created_at);
    f(expires_at);
    f(revoked_at);
    f(revoked_by);
    f(revoke_reason);
    f(id);
  }
};

struct SessionRow {
  static constexpr std::string_view kTable = "sessions";
  static constexpr std::string_view kColumns =
      "session_key, user_id, tenant, original, ip_address, created_at, ended_at, token_hash, id";
  std::string session_key;
  long long user_id = 0;
  Nullable<long long> tenant, original;
  std::string ip_address;
  long long created_at = 0;
  Nullable<long long> ended_at;
  Nullable<std::string> token_hash;
  long long id = 0;
  template <typename F>
  void Columns(F f) {
    f(session_key);
    f(user_id);
    f(tenant);
    f(original);
    f(ip_address);
    f(created_at);
    f(ended_at);
    f(token_hash);
    f(id);
  }
};

struct ResourceRow {
  static constexpr std::string_view kTable = "resources";
  static constexpr std::string_view kColumns =
      "name, kind, capacity, time_zone, user_id, is_active, hours, created_at, updated_at, id";
  std::string name, kind;
  long long capacity = 0;
  std::string time_zone;
  Nullable<long long> user_id;
  long long is_active = 0;
  std::string hours;  // JSON
  long long created_at = 0, updated_at = 0, id = 0;
  template <typename F>
  void Columns(F f) {
    f(name);
    f(kind);
    f(capacity);
    f(time_zone);
    f(user_id);
    f(is_active);
    f(hours);
    f(created_at);
    f(updated_at);
    f(id);
  }
};

struct ServiceRow {
  static constexpr std::string_view kTable = "services";
  static constexpr std::string_view kColumns =
      "name, duration, buffer_before, buffer_after, slot_interval, min_notice, max_advance, "
      "price_minor, currency, requirements, is_active, created_at, updated_at, id";
  std::string name;
  long long duration = 0, buffer_before = 0, buffer_after = 0, slot_interval = 0, min_notice = 0,
            max_advance = 0, price_minor = 0;
  std::string currency;
  std::string requirements;  // JSON
  long long is_active = 0, created_at = 0, updated_at = 0, id = 0;
  template <typename F>
  void Columns(F f) {
    f(name);
    f(duration);
    f(buffer_before);
    f(buffer_after);
    f(slot_interval);
    f(min_notice);
    f(max_advance);
    f(price_minor);
    f(currency);
    f(requirements);
    f(is_active);
    f(created_at);
    f(updated_at);
    f(id);
  }
};

struct CustomerRow {
  static constexpr std::string_view kTable = "customers";
  static constexpr std::string_view kColumns =
      "name, email, phone, user_id, status, created_at, id";
  std::string name, email, phone;
  Nullable<long long> user_id;
  std::string status;
  long long created_at = 0, id = 0;
  template <typename F>
  void Columns(F f) {
    f(name);
    f(email);
    f(phone);
    f(user_id);
    f(status);
    f(created_at);
    f(id);
  }
};

struct AppointmentRow {
  static constexpr std::string_view kTable = "appointments";
  static constexpr std::string_view kColumns =
      "service, resources, customer, start_at, end_at, buffer_before, buffer_after, status, "
      "notes, created_by, created_at, updated_at, version, idempotency_key, booked_start, "
      "series, outside_hours, change_seq, id";
  long long service = 0;
  std::string resources;  // JSON
  long long customer = 0, start_at = 0, end_at = 0, buffer_before = 0, buffer_after = 0;
  std::string status, notes;
  long long created_by = 0, created_at = 0, updated_at = 0, version = 0;
  Nullable<std::string> idempotency_key;
  Nullable<long long> booked_start;
  Nullable<long long> series;
  long long outside_hours = 0, change_seq = 0, id = 0;
  template <typename F>
  void Columns(F f) {
    f(service);
    f(resources);
    f(customer);
    f(start_at);
    f(end_at);
    f(buffer_before);
    f(buffer_after);
    f(status);
    f(notes);
    f(created_by);
    f(created_at);
    f(updated_at);
    f(version);
    f(idempotency_key);
    f(booked_start);
    f(series);
    f(outside_hours);
    f(change_seq);
    f(id);
  }
};

struct HoldRow {
  static constexpr std::string_view kTable = "holds";
  static constexpr std::string_view kColumns =
      "service, resources, customer, start_at, end_at, buffer_before, buffer_after, "
      "owner_id, created_at, expires_at, released, confirmed_as, outside_hours, change_seq, id";
  long long service = 0;
  std::string resources;  // JSON
  long long customer = 0, start_at = 0, end_at = 0, buffer_before = 0, buffer_after = 0,
            owner_id = 0, created_at = 0, expires_at = 0, released = 0;
  Nullable<long long> confirmed_as;
  long long outside_hours = 0, change_seq = 0, id = 0;
  template <typename F>
  void Columns(F f) {
    f(service);
    f(resources);
    f(customer);
    f(start_at);
    f(end_at);
    f(buffer_before);
    f(buffer_after);
    f(owner_id);
    f(created_at);
    f(expires_at);
    f(released);
    f(confirmed_as);
    f(outside_hours);
    f(change_seq);
    f(id);
  }
};

// Entity -> row. The tenant's slug_key and the user's tenant_key are derived here.
TenantRow ToRow(const Tenant& t);
DomainRow ToRow(const Domain& d);
UserRow ToRow(const User& u);
GrantRow ToRow(const Grant& g);
SessionRow ToRow(const Session& s);
ResourceRow ToRow(const Resource& r);
ServiceRow ToRow(const Service& s);
CustomerRow ToRow(const Customer& c);
AppointmentRow ToRow(const Appointment& a);
HoldRow ToRow(const Hold& h);

// Row -> entity; internal when a stored value does not parse (a corrupt row).
Result<Tenant> FromRow(const TenantRow& r);
Result<Domain> FromRow(const DomainRow& r);
Result<User> FromRow(const UserRow& r);
Result<Grant> FromRow(const GrantRow& r);
Result<Session> FromRow(const SessionRow& r);
Result<Resource> FromRow(const ResourceRow& r);
Result<Service> FromRow(const ServiceRow& r);
Result<Customer> FromRow(const CustomerRow& r);
Result<Appointment> FromRow(const AppointmentRow& r);
Result<Hold> FromRow(const HoldRow& r);

/// The key under which a slug is unique: ASCII lower case.
std::string SlugKey(std::string_view slug);

/// "SELECT <columns> FROM <table> <tail>".
template <typename Row>
std::string SelectSql(std::string_view tail) {
  std::string sql = "SELECT ";
  sql.append(Row::kColumns).append(" FROM ").append(Row::kTable);
  if (!tail.empty()) sql.append(" ").append(tail);
  return sql;
}
/// "INSERT INTO <table> (<columns>) VALUES (:c1, ...)".
std::string InsertSql(std::string_view table, std::string_view columns);
/// "UPDATE <table> SET c1 = :c1, ... WHERE id = :id" (id being the last column).
std::string UpdateSql(std::string_view table, std::string_view columns);

template <typename Row>
const std::string& InsertSql() {
  static const std::string sql = InsertSql(Row::kTable, Row::kColumns);
  return sql;
}
/// Rows one multi-row INSERT carries at most.
constexpr std::size_t kMaxRowsPerInsert = 16;
/// "INSERT INTO <table> (<columns>) VALUES (...), (...)" for `rows` rows, 1 <= rows <=
/// kMaxRowsPerInsert.
std::string InsertManySql(std::string_view table, std::string_view columns, std::size_t rows);
template <typename Row>
const std::string& InsertManySql(std::size_t rows) {
  static const auto sql = [] {
    std::array<std::string, kMaxRowsPerInsert + 1> out;
    for (std::size_t n = 1; n <= kMaxRowsPerInsert; ++n)
      out[n] = InsertManySql(Row::kTable, Row::kColumns, n);
    return out;
  }();
  return sql.at(rows);
}
template <typename Row>
const std::string& UpdateSql() {
  static const std::string sql = UpdateSql(Row::kTable, Row::kColumns);
  return sql;
}

}  // namespace smooth::internal::sql
