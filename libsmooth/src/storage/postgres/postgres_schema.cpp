// The PostgreSQL schema. Released migrations are never edited: a change is a new migration
// at the end of its list. Column layouts match storage/sql/rows.hpp: ids and times are
// BIGINT (microseconds since the epoch), flags INTEGER 0/1 as the generic code binds them,
// composite fields JSON in TEXT. Ids are assigned by libsmooth.
//
// Statements run through SOCI, which reads `:name` as a parameter: none may contain a
// colon outside a string literal (casts are written CAST(x AS t), not x::t).
#include "storage/postgres/postgres_schema.hpp"

namespace smooth::internal::postgres {

// Written into tenant migration 4: never change it.
#define SMOOTH_STALE_WRITE_SQLSTATE "SM001"
const std::string_view kStaleWriteSqlstate = SMOOTH_STALE_WRITE_SQLSTATE;

// Pieces of the occupancy trigger, string literals shared by its versions in tenant
// migrations 2 and 3. The rows of the appointment NEW:
// An update that leaves the appointment's span and resources alone only flips `active`.
#define SMOOTH_OCCUPANCY_STATUS_ONLY                                                \
  "  IF TG_OP = 'UPDATE' AND NEW.resources = OLD.resources"                         \
  "     AND NEW.start_at = OLD.start_at AND NEW.end_at = OLD.end_at"                \
  "     AND NEW.buffer_before = OLD.buffer_before"                                  \
  "     AND NEW.buffer_after = OLD.buffer_after THEN\n"                             \
  "    UPDATE appointment_occupancy"                                                \
  "       SET active = NEW.status IN ('pending', 'confirmed')"                      \
  "     WHERE appointment_id = NEW.id"                                              \
  "       AND active <> (NEW.status IN ('pending', 'confirmed'));\n"                \
  "    RETURN NEW;\n"                                                               \
  "  END IF;\n"
#define SMOOTH_OCCUPANCY_ROWS_OF_NEW                                                       \
  "  INSERT INTO appointment_occupancy"                                                    \
  "    (appointment_id, resource_id, occupied_start, occupied_end, active, cap1)"          \
  "  SELECT NEW.id, r.id,"                                                                 \
  "    TIMESTAMPTZ 'epoch' + (NEW.start_at - NEW.buffer_before) * INTERVAL '1 microsecond'," \
  "    TIMESTAMPTZ 'epoch' + (NEW.end_at + NEW.buffer_after) * INTERVAL '1 microsecond',"   \
  "    NEW.status IN ('pending', 'confirmed'),"                                            \
  "    COALESCE((SELECT x.capacity = 1 FROM resources x WHERE x.id = r.id), false)"        \
  "  FROM (SELECT DISTINCT CAST(value AS BIGINT) AS id"                                    \
  "          FROM jsonb_array_elements_text(CAST(NEW.resources AS JSONB))) AS r;\n"

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::span<const sql::Migration> SharedMigrations() {
  static const std::vector<sql::Migration> kMigrations = {
      {1,
       "btree_gist_extension",
       {
           // For the tenant schemas' EXCLUDE constraints (bigint equality in a GiST index).
           // Creating it needs a superuser, or (PostgreSQL 13+, where it is a trusted
           // extension) a role with CREATE on the database; an administrator can create it
           // once beforehand, after which IF NOT EXISTS needs no privilege.
           "CREATE EXTENSION IF NOT EXISTS btree_gist",
       }},
      {2,
       "create_shared_tables",
       {
           // One counter for the ids of shared rows, advanced inside each write
           // transaction; its row lock is also what serializes shared writers.
           "CREATE TABLE shared_ids (next BIGINT NOT NULL)",
           "INSERT INTO shared_ids (next) VALUES (1)",
           // The ids of every tenant's rows: one sequence for all tenants, so an id never
           // names rows of two tenants. Each nextval reserves a block of 64.
           "CREATE SEQUENCE object_ids AS BIGINT INCREMENT BY 64 START WITH 1",
           "CREATE TABLE tenants ("
           " id BIGINT PRIMARY KEY,"
           " slug TEXT NOT NULL,"
           " slug_key TEXT NOT NULL UNIQUE,"  // lower(slug): slugs are unique case-insensitively
           " name TEXT NOT NULL,"
           " tier TEXT NOT NULL,"
           " status TEXT NOT NULL,"
           " time_zone TEXT NOT NULL,"
           " is_demo INTEGER NOT NULL,"
           " created_at BIGINT NOT NULL)",
           "CREATE TABLE domains ("
           " id BIGINT PRIMARY KEY,"
           " name TEXT NOT NULL UNIQUE,"
           " tenant BIGINT NOT NULL,"
           " is_primary INTEGER NOT NULL,"
           " is_custom_domain INTEGER NOT NULL,"
           " route53_zone_id TEXT,"
           " verification TEXT NOT NULL,"
           " verified_at BIGINT,"
           " created_at BIGINT NOT NULL)",
           "CREATE TABLE users ("
           " id BIGINT PRIMARY KEY,"
           " email TEXT NOT NULL,"
           " tenant_key BIGINT NOT NULL,"  // the tenant id, 0 for platform users
           " tenant BIGINT,"
           " display_name TEXT NOT NULL,"
           " role TEXT NOT NULL,"
           " is_active INTEGER NOT NULL,"
           " is_temporary INTEGER NOT NULL,"
           " password_hash TEXT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " UNIQUE (tenant_key, email))",
           "CREATE TABLE grants ("
           " id BIGINT PRIMARY KEY,"
           " grantor BIGINT NOT NULL,"
           " grantee BIGINT NOT NULL,"
           " action TEXT NOT NULL,"
           " scope TEXT NOT NULL,"
           " tenant BIGINT,"
           " reason TEXT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " expires_at BIGINT NOT NULL,"
           " revoked_at BIGINT,"
           " revoked_by BIGINT,"
           " revoke_reason TEXT NOT NULL)",
           "CREATE TABLE sessions ("
           " id BIGINT PRIMARY KEY,"
           " session_key TEXT NOT NULL UNIQUE,"
           " user_id BIGINT NOT NULL,"
           " tenant BIGINT,"
           " original BIGINT,"
           " ip_address TEXT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " ended_at BIGINT)",
       }},
      {3,
       "index_shared_lookups",
       {
           "CREATE INDEX domains_by_tenant ON domains (tenant)",
           "CREATE INDEX grants_by_grantee ON grants (grantee)",
           "CREATE INDEX sessions_by_original ON sessions (original)",
       }},
      {4,
       "shared_epoch",
       {
           // Advanced by every change to a user, tenant or session: what Platform's cache of
           // actors is checked against (Storage::SharedEpoch).
           "CREATE TABLE shared_epoch (value BIGINT NOT NULL)",
           "INSERT INTO shared_epoch (value) VALUES (0)",
       }},
      {5,
       "login_failures",
       {
           // Failed logins per account (Platform's key), so that every process on this
           // storage throttles an account together. Rows older than the throttle window are
           // deleted as new failures come in.
           "CREATE TABLE login_failures (account TEXT NOT NULL, at BIGINT NOT NULL)",
           "CREATE INDEX login_failures_by_account ON login_failures (account, at)",
           "CREATE INDEX login_failures_by_time ON login_failures (at)",
       }},
      {6,
       "session_tokens",
       {
           // The SHA-256 of each session's bearer token (the token itself is never stored).
           // Sessions from before have none and can be reached by id only.
           "ALTER TABLE sessions ADD COLUMN token_hash TEXT",
           "CREATE UNIQUE INDEX sessions_by_token_hash ON sessions (token_hash)",
       }},
      {7,
       "sessions_revoked_at",
       {
           // The user's sessions made at or before this instant no longer work (set by a
           // password change, a reactivation, or ending every session).
           "ALTER TABLE users ADD COLUMN sessions_revoked_at BIGINT",
       }},
      {8,
       "deleted_tenants",
       {
           // The slugs of deleted tenants (Storage::DeleteTenant), which no tenant takes again:
           // another process may still name the old tenant's schema by it.
           "CREATE TABLE deleted_tenants (slug_key TEXT PRIMARY KEY, tenant_id BIGINT NOT NULL,"
           " deleted_at BIGINT NOT NULL)",
       }},
      {9,
       "domain_claims",
       {
           // A name may be claimed (pending) by several tenants, once each, and verified for
           // one: a tenant that asks for another's name first no longer keeps it from them.
           "ALTER TABLE domains DROP CONSTRAINT domains_name_key",
           "CREATE UNIQUE INDEX domains_by_tenant_name ON domains (tenant, name)",
           "CREATE UNIQUE INDEX domains_verified_name ON domains (name)"
           " WHERE verification = 'verified'",
       }},
  };
  return kMigrations;
}

std::span<const sql::Migration> TenantMigrations() {
  // Statements run with search_path set to the tenant's schema alone, so unqualified
  // names land there; the functions keep that search_path (SET search_path FROM CURRENT)
  // whoever calls them.
  // The trigger functions below are laid out as SQL, line by line.
  // clang-format off
  static const std::vector<sql::Migration> kMigrations = {
      {1,
       "create_tenant_tables",
       {
           // Which tenant this schema belongs to, checked before it is used.
           "CREATE TABLE tenant_meta (tenant_id BIGINT NOT NULL, slug TEXT NOT NULL)",
           // The change sequence: bumped first by every write transaction (BumpChangeSeq).
           // The UPDATE's row lock is held to the end of the transaction, so it
           // serializes the tenant's writers across threads and processes.
           "CREATE TABLE change_seq (value BIGINT NOT NULL)",
           "INSERT INTO change_seq (value) VALUES (0)",
           "CREATE TABLE resources ("
           " id BIGINT PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " kind TEXT NOT NULL,"
           " capacity BIGINT NOT NULL,"
           " time_zone TEXT NOT NULL,"
           " user_id BIGINT,"
           " is_active INTEGER NOT NULL,"
           " hours TEXT NOT NULL,"  // JSON
           " created_at BIGINT NOT NULL,"
           " updated_at BIGINT NOT NULL)",
           "CREATE TABLE services ("
           " id BIGINT PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " duration BIGINT NOT NULL,"
           " buffer_before BIGINT NOT NULL,"
           " buffer_after BIGINT NOT NULL,"
           " slot_interval BIGINT NOT NULL,"
           " min_notice BIGINT NOT NULL,"
           " max_advance BIGINT NOT NULL,"
           " price_minor BIGINT NOT NULL,"
           " currency TEXT NOT NULL,"
           " requirements TEXT NOT NULL,"  // JSON
           " is_active INTEGER NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " updated_at BIGINT NOT NULL)",
           "CREATE TABLE customers ("
           " id BIGINT PRIMARY KEY,"
           " name TEXT NOT NULL,"
           " email TEXT NOT NULL,"
           " phone TEXT NOT NULL,"
           " user_id BIGINT,"
           " status TEXT NOT NULL,"
           " created_at BIGINT NOT NULL)",
           "CREATE TABLE appointments ("
           " id BIGINT PRIMARY KEY,"
           " service BIGINT NOT NULL,"
           " resources TEXT NOT NULL,"  // JSON array of resource ids
           " customer BIGINT NOT NULL,"
           " start_at BIGINT NOT NULL,"
           " end_at BIGINT NOT NULL,"
           " buffer_before BIGINT NOT NULL,"
           " buffer_after BIGINT NOT NULL,"
           " status TEXT NOT NULL,"
           " notes TEXT NOT NULL,"
           " created_by BIGINT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " updated_at BIGINT NOT NULL,"
           " version BIGINT NOT NULL,"
           " idempotency_key TEXT UNIQUE,"
           " series BIGINT,"
           " outside_hours INTEGER NOT NULL,"
           " change_seq BIGINT NOT NULL)",
           "CREATE TABLE holds ("
           " id BIGINT PRIMARY KEY,"
           " service BIGINT NOT NULL,"
           " resources TEXT NOT NULL,"  // JSON
           " customer BIGINT NOT NULL,"
           " start_at BIGINT NOT NULL,"
           " end_at BIGINT NOT NULL,"
           " buffer_before BIGINT NOT NULL,"
           " buffer_after BIGINT NOT NULL,"
           " owner_id BIGINT NOT NULL,"
           " created_at BIGINT NOT NULL,"
           " expires_at BIGINT NOT NULL,"
           " released INTEGER NOT NULL,"
           " change_seq BIGINT NOT NULL)",
           "CREATE INDEX appointments_by_start ON appointments (start_at)",
           "CREATE INDEX appointments_by_change ON appointments (change_seq)",
           "CREATE INDEX appointments_by_series ON appointments (series)",
           "CREATE INDEX holds_by_expiry ON holds (expires_at)",
       }},
      {2,
       "appointment_occupancy",
       {
           // The second line of defence against double booking: one row per (appointment,
           // resource) over [start - buffer_before, end + buffer_after), kept by triggers
           // from the appointments and resources rows, so no writer can skip it. The
           // scheduler decides bookings; if it ever let two active bookings overlap on a
           // capacity-1 resource, the EXCLUDE constraint refuses the second write (SQLSTATE
           // 23P01, reported as conflict) and its transaction rolls back.
           "CREATE TABLE appointment_occupancy ("
           " appointment_id BIGINT NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,"
           " resource_id BIGINT NOT NULL,"
           " occupied_start TIMESTAMPTZ NOT NULL,"
           " occupied_end TIMESTAMPTZ NOT NULL,"
           " active BOOLEAN NOT NULL,"  // pending or confirmed
           " cap1 BOOLEAN NOT NULL,"    // the resource has capacity 1
           " PRIMARY KEY (appointment_id, resource_id),"
           " CHECK (occupied_start <= occupied_end),"
           " CONSTRAINT appointment_occupancy_no_overlap EXCLUDE USING gist"
           " (resource_id WITH =, tstzrange(occupied_start, occupied_end) WITH &&)"
           " WHERE (active AND cap1))",
           "CREATE INDEX appointment_occupancy_by_resource ON appointment_occupancy (resource_id)",
           // Rows of an appointment: rebuilt when its time, buffers or resources change;
           // only `active` follows a status change (so cancelling frees the time, and a
           // status change never re-judges capacity). cap1 is the resource's capacity
           // when the row was built, and follows later capacity changes (below).
           "CREATE FUNCTION appointment_occupancy_sync() RETURNS trigger LANGUAGE plpgsql"
           " SET search_path FROM CURRENT AS $fn$\n"
           "BEGIN\n"
           SMOOTH_OCCUPANCY_STATUS_ONLY
           "  DELETE FROM appointment_occupancy WHERE appointment_id = NEW.id;\n"
           SMOOTH_OCCUPANCY_ROWS_OF_NEW
           "  RETURN NEW;\n"
           "END\n"
           "$fn$",
           "CREATE TRIGGER appointments_occupancy AFTER INSERT OR UPDATE ON appointments"
           " FOR EACH ROW EXECUTE FUNCTION appointment_occupancy_sync()",
           // The scheduler lowers a capacity only when no bookings exceed the new one.
           "CREATE FUNCTION resource_capacity_sync() RETURNS trigger LANGUAGE plpgsql"
           " SET search_path FROM CURRENT AS $fn$\n"
           "BEGIN\n"
           "  UPDATE appointment_occupancy SET cap1 = (NEW.capacity = 1)"
           "   WHERE resource_id = NEW.id AND cap1 <> (NEW.capacity = 1);\n"
           "  RETURN NEW;\n"
           "END\n"
           "$fn$",
           "CREATE TRIGGER resources_capacity AFTER UPDATE OF capacity ON resources"
           " FOR EACH ROW WHEN (OLD.capacity IS DISTINCT FROM NEW.capacity)"
           " EXECUTE FUNCTION resource_capacity_sync()",
       }},
      {3,
       "occupancy_insert_fast_path",
       {
           // A new appointment has no occupancy rows yet: no DELETE to look for them.
           "CREATE OR REPLACE FUNCTION appointment_occupancy_sync() RETURNS trigger"
           " LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$\n"
           "BEGIN\n"
           SMOOTH_OCCUPANCY_STATUS_ONLY
           "  IF TG_OP = 'UPDATE' THEN\n"
           "    DELETE FROM appointment_occupancy WHERE appointment_id = NEW.id;\n"
           "  END IF;\n"
           SMOOTH_OCCUPANCY_ROWS_OF_NEW
           "  RETURN NEW;\n"
           "END\n"
           "$fn$",
       }},
      {4,
       "advance_change_seq",
       {
           // The guard of a write prepared against what the writer believed were the
           // tenant's change sequence and the shared epoch (Storage::BeginTenantWriteAt):
           // advances the sequence only from `expected`, under the row lock every writer
           // takes. An UPDATE that waited for that lock re-reads the row once the other
           // writer commits (READ COMMITTED), so it then finds nothing to advance and
           // fails too. The epoch is read after the lock is taken, in a newer snapshot.
           "CREATE FUNCTION advance_change_seq(expected BIGINT, epoch BIGINT) RETURNS BIGINT"
           " LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$\n"
           "DECLARE\n"
           "  advanced BIGINT;\n"
           "BEGIN\n"
           "  UPDATE change_seq SET value = value + 1 WHERE value = expected"
           "   RETURNING value INTO advanced;\n"
           "  IF advanced IS NULL THEN\n"
           "    RAISE EXCEPTION 'the tenant changed while this write was prepared"
           " (change sequence no longer %)', expected"
           "      USING ERRCODE = '" SMOOTH_STALE_WRITE_SQLSTATE "';\n"
           "  END IF;\n"
           "  IF (SELECT value FROM public.shared_epoch) <> epoch THEN\n"
           "    RAISE EXCEPTION 'shared data changed while this write was prepared"
           " (shared epoch no longer %)', epoch"
           "      USING ERRCODE = '" SMOOTH_STALE_WRITE_SQLSTATE "';\n"
           "  END IF;\n"
           "  RETURN advanced;\n"
           "END\n"
           "$fn$",
       }},
      {5,
       "occupancy_insert_per_statement",
       {
           // An INSERT builds the occupancy rows of all its appointments at once: a batch
           // of bookings (one multi-row INSERT, group commit) runs the trigger once, not
           // once a row. Updates keep the per-row trigger.
           "CREATE FUNCTION appointment_occupancy_insert() RETURNS trigger LANGUAGE plpgsql"
           " SET search_path FROM CURRENT AS $fn$\n"
           "BEGIN\n"
           "  INSERT INTO appointment_occupancy"
           "    (appointment_id, resource_id, occupied_start, occupied_end, active, cap1)"
           "  SELECT n.id, r.id,"
           "    TIMESTAMPTZ 'epoch' + (n.start_at - n.buffer_before) * INTERVAL '1 microsecond',"
           "    TIMESTAMPTZ 'epoch' + (n.end_at + n.buffer_after) * INTERVAL '1 microsecond',"
           "    n.status IN ('pending', 'confirmed'),"
           "    COALESCE((SELECT x.capacity = 1 FROM resources x WHERE x.id = r.id), false)"
           "  FROM new_appointments AS n CROSS JOIN LATERAL"
           "    (SELECT DISTINCT CAST(value AS BIGINT) AS id"
           "       FROM jsonb_array_elements_text(CAST(n.resources AS JSONB))) AS r;\n"
           "  RETURN NULL;\n"
           "END\n"
           "$fn$",
           "DROP TRIGGER appointments_occupancy ON appointments",
           "CREATE TRIGGER appointments_occupancy_insert AFTER INSERT ON appointments"
           " REFERENCING NEW TABLE AS new_appointments"
           " FOR EACH STATEMENT EXECUTE FUNCTION appointment_occupancy_insert()",
           "CREATE TRIGGER appointments_occupancy AFTER UPDATE ON appointments"
           " FOR EACH ROW EXECUTE FUNCTION appointment_occupancy_sync()",
       }},
      {6,
       "booking_pipeline",
       {
           // What a booking writes, trimmed to what is used. The occupancy rows' foreign
           // key made every one lock its appointment row again (FOR KEY SHARE); they are
           // only ever written by the triggers from the appointment, and appointments are
           // never deleted. The EXCLUDE constraint's GiST index leads with resource_id and
           // answers the capacity trigger's lookups by resource. Most appointments have no
           // idempotency key and no series, so those indexes keep only the rows that do.
           "ALTER TABLE appointment_occupancy"
           " DROP CONSTRAINT appointment_occupancy_appointment_id_fkey",
           "DROP INDEX appointment_occupancy_by_resource",
           "ALTER TABLE appointments DROP CONSTRAINT appointments_idempotency_key_key",
           "CREATE UNIQUE INDEX appointments_by_idempotency_key ON appointments"
           " (idempotency_key) WHERE idempotency_key IS NOT NULL",
           "DROP INDEX appointments_by_series",
           "CREATE INDEX appointments_by_series ON appointments (series)"
           " WHERE series IS NOT NULL",
           // The INSERT trigger without SET search_path, whose save and restore on every
           // call cost more than the rest of the call: the function is written with the
           // schema's name in it instead (and pg_catalog's), so it still reads and writes
           // this schema's tables whoever calls it.
           "DO $do$ BEGIN EXECUTE format($f$"
           "CREATE OR REPLACE FUNCTION %1$I.appointment_occupancy_insert() RETURNS trigger"
           " LANGUAGE plpgsql AS $fn$\n"
           "BEGIN\n"
           "  INSERT INTO %1$I.appointment_occupancy"
           "    (appointment_id, resource_id, occupied_start, occupied_end, active, cap1)"
           "  SELECT n.id, r.id,"
           "    TIMESTAMPTZ 'epoch' + (n.start_at - n.buffer_before) * INTERVAL '1 microsecond',"
           "    TIMESTAMPTZ 'epoch' + (n.end_at + n.buffer_after) * INTERVAL '1 microsecond',"
           "    n.status IN ('pending', 'confirmed'),"
           "    COALESCE((SELECT x.capacity = 1 FROM %1$I.resources x WHERE x.id = r.id), false)"
           "  FROM new_appointments AS n CROSS JOIN LATERAL"
           "    (SELECT DISTINCT CAST(value AS BIGINT) AS id"
           "       FROM pg_catalog.jsonb_array_elements_text(CAST(n.resources AS JSONB))) AS r;\n"
           "  RETURN NULL;\n"
           "END\n"
           "$fn$ $f$, current_schema()); END $do$",
           "ALTER FUNCTION appointment_occupancy_insert() RESET search_path",
           // The guard of a deferred write is now two plain statements (postgres/
           // pipeline.cpp) that call this only when the write is stale, instead of
           // advance_change_seq, which is no longer called.
           "CREATE FUNCTION stale_write(message TEXT) RETURNS INTEGER LANGUAGE plpgsql AS $fn$\n"
           "BEGIN\n"
           "  RAISE EXCEPTION '%', message USING ERRCODE = '" SMOOTH_STALE_WRITE_SQLSTATE "';\n"
           "END\n"
           "$fn$",
       }},
      {7,
       "drop_advance_change_seq",
       {
           // Migration 4's guard, replaced by migration 6's statements: nothing calls it.
           "DROP FUNCTION advance_change_seq(BIGINT, BIGINT)",
       }},
      {8,
       "hold_outside_hours",
       {
           // Whether a hold was placed outside working hours, for the appointment it is
           // confirmed into. Holds written before this were all placed inside hours.
           "ALTER TABLE holds ADD COLUMN outside_hours INTEGER NOT NULL DEFAULT 0",
       }},
      {9,
       "appointment_booked_start",
       {
           // The start an appointment was booked at, set when it is first moved, for
           // retries with its idempotency key. Appointments moved before this have none.
           "ALTER TABLE appointments ADD COLUMN booked_start BIGINT",
       }},
      {10,
       "hold_confirmed_as",
       {
           // The appointment a hold was confirmed into, so that only a retry of that
           // confirmation finds it. Holds released or confirmed before this have none: a
           // retried confirm of one is refused as a key used for another booking.
           "ALTER TABLE holds ADD COLUMN confirmed_as BIGINT",
       }},
  };
  // clang-format on
  return kMigrations;
}

#undef SMOOTH_OCCUPANCY_ROWS_OF_NEW
#undef SMOOTH_OCCUPANCY_STATUS_ONLY
#undef SMOOTH_STALE_WRITE_SQLSTATE

}  // namespace smooth::internal::postgres
