// The SQLite schema. Released migrations are never edited: a change is a new migration at
// the end of its list. Column layouts match storage/sql/rows.hpp. Ids are assigned by
// libsmooth (INTEGER PRIMARY KEY makes them the rowid, so lookups by id are direct).
#include "storage/sqlite/sqlite_schema.hpp"

namespace smooth::internal::sqlite {

std::span<const sql::Migration> SharedMigrations() {
  static const std::vector<sql::Migration> kMigrations = {
      {1,
       "create_shared_tables",
       {
           // One counter for the ids of shared rows (advanced inside each transaction) and
           // one for the ids of every tenant's rows (reserved in blocks, never given back).
           "CREATE TABLE shared_ids (next INTEGER NOT NULL)",
           "INSERT INTO shared_ids (next) VALUES (1)",
           "CREATE TABLE object_ids (next INTEGER NOT NULL)",
           "INSERT INTO object_ids (next) VALUES (1)",
           "CREATE TABLE tenants ("
           " id INTEGER PRIMARY KEY,"
           " slug TEXT NOT NULL,"
           " slug_key TEXT NOT NULL UNIQUE,"  // lower(slug): slugs are unique case-insensitively
           " name TEXT NOT NULL,"
           " tier TEXT NOT NULL,"
           " status TEXT NOT NULL,"
           " time_zone TEXT NOT NULL,"
           " is_demo INTEGER NOT NULL,"
           " created_at INTEGER NOT NULL)",
           "CREATE TABLE domains ("
           " id INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL UNIQUE,"
           " tenant INTEGER NOT NULL,"
           " is_primary INTEGER NOT NULL,"
           " is_custom_domain INTEGER NOT NULL,"
           " route53_zone_id TEXT,"
           " verification TEXT NOT NULL,"
           " verified_at INTEGER,"
           " created_at INTEGER NOT NULL)",
           "CREATE TABLE users ("
           " id INTEGER PRIMARY KEY,"
           " email TEXT NOT NULL,"
           " tenant_key INTEGER NOT NULL,"  // the tenant id, 0 for platform users
           " tenant INTEGER,"
           " display_name TEXT NOT NULL,"
           " role TEXT NOT NULL,"
           " is_active INTEGER NOT NULL,"
           " is_temporary INTEGER NOT NULL,"
           " password_hash TEXT NOT NULL,"
           " created_at INTEGER NOT NULL,"
           " UNIQUE (tenant_key, email))",
           "CREATE TABLE grants ("
           " id INTEGER PRIMARY KEY,"
           " grantor INTEGER NOT NULL,"
           " grantee INTEGER NOT NULL,"
           " action TEXT NOT NULL,"
           " scope TEXT NOT NULL,"
           " tenant INTEGER,"
           " reason TEXT NOT NULL,"
           " created_at INTEGER NOT NULL,"
           " expires_at INTEGER NOT NULL,"
           " revoked_at INTEGER,"
           " revoked_by INTEGER,"
           " revoke_reason TEXT NOT NULL)",
           "CREATE TABLE sessions ("
           " id INTEGER PRIMARY KEY,"
           " session_key TEXT NOT NULL UNIQUE,"
           " user_id INTEGER NOT NULL,"
           " tenant INTEGER,"
           " original INTEGER,"
           " ip_address TEXT NOT NULL,"
           " created_at INTEGER NOT NULL,"
           " ended_at INTEGER)",
       }},
      {2,
       "index_shared_lookups",
       {
           "CREATE INDEX domains_by_tenant ON domains (tenant)",
           "CREATE INDEX grants_by_grantee ON grants (grantee)",
           "CREATE INDEX sessions_by_original ON sessions (original)",
       }},
      {3,
       "shared_epoch",
       {
           // Advanced by every change to a user, tenant or session: what Platform's cache of
           // actors is checked against (Storage::SharedEpoch).
           "CREATE TABLE shared_epoch (value INTEGER NOT NULL)",
           "INSERT INTO shared_epoch (value) VALUES (0)",
       }},
      {4,
       "login_failures",
       {
           // Failed logins per account (Platform's key), so that every process on this
           // storage throttles an account together. Rows older than the throttle window are
           // deleted as new failures come in.
           "CREATE TABLE login_failures (account TEXT NOT NULL, at INTEGER NOT NULL)",
           "CREATE INDEX login_failures_by_account ON login_failures (account, at)",
           "CREATE INDEX login_failures_by_time ON login_failures (at)",
       }},
      {5,
       "session_tokens",
       {
           // The SHA-256 of each session's bearer token (the token itself is never stored).
           // Sessions from before have none and can be reached by id only.
           "ALTER TABLE sessions ADD COLUMN token_hash TEXT",
           "CREATE UNIQUE INDEX sessions_by_token_hash ON sessions (token_hash)",
       }},
      {6,
       "sessions_revoked_at",
       {
           // The user's sessions made at or before this instant no longer work (set by a
           // password change, a reactivation, or ending every session).
           "ALTER TABLE users ADD COLUMN sessions_revoked_at INTEGER",
       }},
      {7,
       "deleted_tenants",
       {
           // The slugs of deleted tenants (Storage::DeleteTenant), which no tenant takes again:
           // another process may still name the old tenant's data file by it.
           "CREATE TABLE deleted_tenants (slug_key TEXT PRIMARY KEY, tenant_id INTEGER NOT NULL,"
           " deleted_at INTEGER NOT NULL)",
       }},
      {8,
       "domain_claims",
       {
           // A name may be claimed (pending) by several tenants, once each, and verified for
           // one: a tenant that asks for another's name first no longer keeps it from them.
           // SQLite cannot drop a column's UNIQUE, so the table is rebuilt, same columns.
           "CREATE TABLE domains_claims ("
           " id INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " tenant INTEGER NOT NULL,"
           " is_primary INTEGER NOT NULL,"
           " is_custom_domain INTEGER NOT NULL,"
           " route53_zone_id TEXT,"
           " verification TEXT NOT NULL,"
           " verified_at INTEGER,"
           " created_at INTEGER NOT NULL)",
           "INSERT INTO domains_claims (id, name, tenant, is_primary, is_custom_domain,"
           " route53_zone_id, verification, verified_at, created_at)"
           " SELECT id, name, tenant, is_primary, is_custom_domain, route53_zone_id,"
           " verification, verified_at, created_at FROM domains",
           "DROP TABLE domains",
           "ALTER TABLE domains_claims RENAME TO domains",
           "CREATE INDEX domains_by_tenant ON domains (tenant)",
           "CREATE UNIQUE INDEX domains_by_tenant_name ON domains (tenant, name)",
           "CREATE UNIQUE INDEX domains_verified_name ON domains (name)"
           " WHERE verification = 'verified'",
       }},
  };
  return kMigrations;
}

std::span<const sql::Migration> TenantMigrations() {
  static const std::vector<sql::Migration> kMigrations = {
      {1,
       "create_tenant_tables",
       {
           // Which tenant this file belongs to, checked when it is opened.
           "CREATE TABLE tenant_meta (tenant_id INTEGER NOT NULL, slug TEXT NOT NULL)",
           // The change sequence: bumped by every write transaction (BumpChangeSeq).
           "CREATE TABLE change_seq (value INTEGER NOT NULL)",
           "INSERT INTO change_seq (value) VALUES (0)",
           "CREATE TABLE resources ("
           " id INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " kind TEXT NOT NULL,"
           " capacity INTEGER NOT NULL,"
           " time_zone TEXT NOT NULL,"
           " user_id INTEGER,"
           " is_active INTEGER NOT NULL,"
           " hours TEXT NOT NULL,"  // JSON
           " created_at INTEGER NOT NULL,"
           " updated_at INTEGER NOT NULL)",
           "CREATE TABLE services ("
           " id INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " duration INTEGER NOT NULL,"
           " buffer_before INTEGER NOT NULL,"
           " buffer_after INTEGER NOT NULL,"
           " slot_interval INTEGER NOT NULL,"
           " min_notice INTEGER NOT NULL,"
           " max_advance INTEGER NOT NULL,"
           " price_minor INTEGER NOT NULL,"
           " currency TEXT NOT NULL,"
           " requirements TEXT NOT NULL,"  // JSON
           " is_active INTEGER NOT NULL,"
           " created_at INTEGER NOT NULL,"
           " updated_at INTEGER NOT NULL)",
           "CREATE TABLE customers ("
           " id INTEGER PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " email TEXT NOT NULL,"
           " phone TEXT NOT NULL,"
           " user_id INTEGER,"
           " status TEXT NOT NULL,"
           " created_at INTEGER NOT NULL)",
           "CREATE TABLE appointments ("
           " id INTEGER PRIMARY KEY,"
           " service INTEGER NOT NULL,"
           " resources TEXT NOT NULL,"  // JSON
           " customer INTEGER NOT NULL,"
           " start_at INTEGER NOT NULL,"
           " end_at INTEGER NOT NULL,"
           " buffer_before INTEGER NOT NULL,"
           " buffer_after INTEGER NOT NULL,"
           " status TEXT NOT NULL,"
           " notes TEXT NOT NULL,"
           " created_by INTEGER NOT NULL,"
           " created_at INTEGER NOT NULL,"
           " updated_at INTEGER NOT NULL,"
           " version INTEGER NOT NULL,"
           " idempotency_key TEXT UNIQUE,"
           " series INTEGER,"
           " outside_hours INTEGER NOT NULL,"
           " change_seq INTEGER NOT NULL)",
           "CREATE TABLE holds ("
           " id INTEGER PRIMARY KEY,"
           " service INTEGER NOT NULL,"
           " resources TEXT NOT NULL,"  // JSON
           " customer INTEGER NOT NULL,"
           " start_at INTEGER NOT NULL,"
           " end_at INTEGER NOT NULL,"
           " buffer_before INTEGER NOT NULL,"
           " buffer_after INTEGER NOT NULL,"
           " owner_id INTEGER NOT NULL,"
           " created_at INTEGER NOT NULL,"
           " expires_at INTEGER NOT NULL,"
           " released INTEGER NOT NULL,"
           " change_seq INTEGER NOT NULL)",
       }},
      {2,
       "index_appointments_and_holds",
       {
           "CREATE INDEX appointments_by_start ON appointments (start_at)",
           "CREATE INDEX appointments_by_change ON appointments (change_seq)",
           "CREATE INDEX appointments_by_series ON appointments (series)",
           "CREATE INDEX holds_by_expiry ON holds (expires_at)",
       }},
      {3,
       "hold_outside_hours",
       {
           // Whether a hold was placed outside working hours, for the appointment it is
           // confirmed into. Holds written before this were all placed inside hours.
           "ALTER TABLE holds ADD COLUMN outside_hours INTEGER NOT NULL DEFAULT 0",
       }},
      {4,
       "appointment_booked_start",
       {
           // The start an appointment was booked at, set when it is first moved, for
           // retries with its idempotency key. Appointments moved before this have none.
           "ALTER TABLE appointments ADD COLUMN booked_start BIGINT",
       }},
      {5,
       "hold_confirmed_as",
       {
           // The appointment a hold was confirmed into, so that only a retry of that
           // confirmation finds it. Holds released or confirmed before this have none: a
           // retried confirm of one is refused as a key used for another booking.
           "ALTER TABLE holds ADD COLUMN confirmed_as INTEGER",
       }},
  };
  return kMigrations;
}

}  // namespace smooth::internal::sqlite
