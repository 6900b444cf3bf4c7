/*
 * ledger_sqlite.c - the budget ledger in one SQLite file (the default).
 *
 * Storage: a `sessions` table (budget, spent, overdraft, reservations
 * admitted) and a `reservations` table (amount, expiry, state, actual
 * cost, model).  The reserved
 * total is not stored: it is the sum of open reservations whose expiry is
 * later than now, read through an index on (session_id, state,
 * expires_ms).  So expiry needs no sweeper, and a reservation stops
 * counting at exactly its expiry time.
 *
 * Atomicity: every call that writes runs in BEGIN IMMEDIATE, which takes
 * the database's write lock before the first read, so check-and-reserve
 * cannot interleave with another writer in this or any other process.
 * A writer that finds the lock taken waits up to busy_timeout_ms.
 *
 * Durability: WAL mode with synchronous=FULL, so COMMIT returns only after
 * the WAL has been fsync'ed.  A committed call survives a crash of the
 * process and of the machine (given a disk that honours fsync).
 * synchronous=NORMAL would survive a process crash only.
 *
 * Schema versions (PRAGMA user_version): 1 had no reservation count and
 * no model; 2 adds sessions.reservations_admitted and reservations.model.
 * Opening a version 1 file upgrades it in place, in one transaction, and
 * fills the count from the reservations the file holds (it never deletes
 * any, so the count is exact).  A file with a newer version is refused.
 *
 * Threads: one connection per handle, opened with SQLITE_OPEN_NOMUTEX,
 * because ledger.c serialises calls on a handle with its own mutex.
 */
#include "ledger_backend.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped when the schema changes; stored in PRAGMA user_version. */
#define LEDGER_SQLITE_SCHEMA_VERSION 2

/* Stored reservation states; "expired" is derived from expires_ms. */
enum { STORED_OPEN = 0, STORED_SETTLED = 1, STORED_RELEASED = 2 };

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS sessions ("
    " id TEXT PRIMARY KEY,"
    " budget INTEGER NOT NULL CHECK (budget >= 0),"
    " spent INTEGER NOT NULL DEFAULT 0,"
    " overdraft INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " reservations_admitted INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS reservations ("
    " id TEXT PRIMARY KEY,"
    " session_id TEXT NOT NULL REFERENCES sessions (id),"
    " amount INTEGER NOT NULL CHECK (amount >= 0),"
    " expires_ms INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " actual INTEGER NOT NULL DEFAULT 0,"
    " overdraft INTEGER NOT NULL DEFAULT 0,"
    " late INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " closed_ms INTEGER,"
    " model TEXT);"
    "CREATE INDEX IF NOT EXISTS reservations_by_session"
    " ON reservations (session_id, state, expires_ms);"
    "CREATE INDEX IF NOT EXISTS reservations_by_expiry ON reservations (state, expires_ms);";

/* Upgrades a version 1 file to version 2 (see the file comment). */
static const char migrate_1_to_2_sql[] =
    "ALTER TABLE sessions ADD COLUMN reservations_admitted INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE reservations ADD COLUMN model TEXT;"
    "UPDATE sessions SET reservations_admitted ="
    " (SELECT COUNT(*) FROM reservations WHERE reservations.session_id = sessions.id);";

/* Every statement the backend runs, prepared once per connection. */
enum {
    Q_BEGIN_IMMEDIATE,
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SESSION_GET,
    Q_SESSION_HELD,
    Q_SESSION_INSERT,
    Q_SESSION_SPEND,
    Q_SESSION_ADMIT,
    Q_RES_GET,
    Q_RES_INSERT,
    Q_RES_SETTLE,
    Q_RES_RELEASE,
    Q_COUNT_OPEN,
    Q_COUNT
};

static const char *const query_sql[Q_COUNT] = {
    [Q_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [Q_BEGIN] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SESSION_GET] = "SELECT budget, spent, overdraft, reservations_admitted FROM sessions"
                      " WHERE id = ?1",
    [Q_SESSION_HELD] = "SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM reservations"
                       " WHERE session_id = ?1 AND state = 0 AND expires_ms > ?2",
    [Q_SESSION_INSERT] = "INSERT INTO sessions (id, budget, created_ms) VALUES (?1, ?2, ?3)",
    [Q_SESSION_SPEND] = "UPDATE sessions SET spent = spent + ?2, overdraft = overdraft + ?3"
                        " WHERE id = ?1",
    [Q_SESSION_ADMIT] = "UPDATE sessions SET reservations_admitted = reservations_admitted + 1"
                        " WHERE id = ?1",
    [Q_RES_GET] = "SELECT session_id, amount, expires_ms, state, actual, overdraft, late, model"
                  " FROM reservations WHERE id = ?1",
    [Q_RES_INSERT] = "INSERT INTO reservations (id, session_id, amount, expires_ms, state,"
                     " created_ms, model) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
    [Q_RES_SETTLE] = "UPDATE reservations SET state = 1, actual = ?2, overdraft = ?3,"
                     " late = ?4, closed_ms = ?5 WHERE id = ?1",
    [Q_RES_RELEASE] = "UPDATE reservations SET state = 2, closed_ms = ?2 WHERE id = ?1",
    [Q_COUNT_OPEN] = "SELECT COUNT(*) FROM reservations WHERE state = 0 AND expires_ms > ?1",
};

typedef struct sqlite_ledger {
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    char path[512];
} sqlite_ledger;

/* A reservation row as stored. */
typedef struct stored_reservation {
    char session_id[SR_LEDGER_ID_MAX + 1];
    int64_t amount;
    int64_t expires_ms;
    int state;
    int64_t actual;
    int64_t overdraft;
    bool late;
    char model[SR_LEDGER_MODEL_MAX + 1]; /* "" for NULL */
} stored_reservation;

/* ---- errors and statement helpers -------------------------------------- */

static sr_status db_error(sqlite_ledger *ledger, int rc, const char *what, sr_error *err)
{
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return sr_error_set(err, SR_ERR_UNAVAILABLE, ledger->path, 0, NULL,
                            "SQLite ledger is locked by another writer (%s): %s; retry, or raise "
                            "the busy timeout",
                            what, sqlite3_errmsg(ledger->db));
    if (rc == SQLITE_NOMEM)
        return sr_error_set(err, SR_ERR_NOMEM, ledger->path, 0, NULL,
                            "SQLite ran out of memory (%s)", what);
    return sr_error_set(err, SR_ERR_IO, ledger->path, 0, NULL, "SQLite ledger %s failed: %s",
                        what, sqlite3_errmsg(ledger->db));
}

static sqlite3_stmt *query(sqlite_ledger *ledger, int which)
{
    sqlite3_stmt *stmt = ledger->stmt[which];
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return stmt;
}

/* Runs a statement that returns no rows (BEGIN, COMMIT, INSERT, UPDATE). */
static sr_status run(sqlite_ledger *ledger, sqlite3_stmt *stmt, const char *what, sr_error *err)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_error(ledger, rc, what, err);
    return SR_OK;
}

static sr_status begin(sqlite_ledger *ledger, bool write, sr_error *err)
{
    return run(ledger, query(ledger, write ? Q_BEGIN_IMMEDIATE : Q_BEGIN), "BEGIN", err);
}

/* Commits on success; rolls back (keeping the first error) otherwise. */
static sr_status finish(sqlite_ledger *ledger, sr_status status, sr_error *err)
{
    if (status == SR_OK)
        status = run(ledger, query(ledger, Q_COMMIT), "COMMIT", err);
    if (status != SR_OK && !sqlite3_get_autocommit(ledger->db))
        run(ledger, query(ledger, Q_ROLLBACK), "ROLLBACK", NULL);
    return status;
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

/* ---- reading rows ------------------------------------------------------ */

static sr_status read_session(sqlite_ledger *ledger, const char *session_id, int64_t now,
                              sr_ledger_session *out, sr_error *err)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", session_id);

    sqlite3_stmt *stmt = query(ledger, Q_SESSION_GET);
    bind_text(stmt, 1, session_id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(stmt);
        return sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, "session_id",
                            "session '%s' not found; create it first", session_id);
    }
    if (rc != SQLITE_ROW)
        return db_error(ledger, rc, "reading a session", err);
    out->budget = sqlite3_column_int64(stmt, 0);
    out->spent = sqlite3_column_int64(stmt, 1);
    out->overdraft = sqlite3_column_int64(stmt, 2);
    out->reservations_admitted = sqlite3_column_int64(stmt, 3);
    sqlite3_reset(stmt);

    stmt = query(ledger, Q_SESSION_HELD);
    bind_text(stmt, 1, session_id);
    sqlite3_bind_int64(stmt, 2, now);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW)
        return db_error(ledger, rc, "summing reservations", err);
    out->reserved = sqlite3_column_int64(stmt, 0);
    out->open_reservations = sqlite3_column_int64(stmt, 1);
    sqlite3_reset(stmt);

    out->remaining = out->budget - out->spent - out->reserved;
    return SR_OK;
}

/* Returns SR_ERR_NOT_FOUND without touching `err` when the id is absent. */
static sr_status read_reservation(sqlite_ledger *ledger, const char *reservation_id,
                                  stored_reservation *row, sr_error *err)
{
    sqlite3_stmt *stmt = query(ledger, Q_RES_GET);
    bind_text(stmt, 1, reservation_id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(stmt);
        return SR_ERR_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return db_error(ledger, rc, "reading a reservation", err);

    const unsigned char *session_id = sqlite3_column_text(stmt, 0);
    snprintf(row->session_id, sizeof(row->session_id), "%s",
             session_id != NULL ? (const char *)session_id : "");
    row->amount = sqlite3_column_int64(stmt, 1);
    row->expires_ms = sqlite3_column_int64(stmt, 2);
    row->state = sqlite3_column_int(stmt, 3);
    row->actual = sqlite3_column_int64(stmt, 4);
    row->overdraft = sqlite3_column_int64(stmt, 5);
    row->late = sqlite3_column_int(stmt, 6) != 0;
    const unsigned char *model = sqlite3_column_text(stmt, 7);
    snprintf(row->model, sizeof(row->model), "%s", model != NULL ? (const char *)model : "");
    sqlite3_reset(stmt);
    return SR_OK;
}

static sr_status not_found_reservation(const char *reservation_id, sr_error *err)
{
    return sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, "reservation_id",
                        "reservation '%s' not found", reservation_id);
}

/* Fills the public record from a stored row and the session totals. */
static sr_status fill_reservation(sqlite_ledger *ledger, const char *reservation_id,
                                  const stored_reservation *row, int64_t now, bool replayed,
                                  sr_ledger_reservation *out, sr_error *err)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", reservation_id);
    snprintf(out->session_id, sizeof(out->session_id), "%s", row->session_id);
    out->amount = row->amount;
    out->expires_at_ms = row->expires_ms;
    switch (row->state) {
    case STORED_SETTLED:
        out->state = SR_LEDGER_SETTLED;
        break;
    case STORED_RELEASED:
        out->state = SR_LEDGER_RELEASED;
        break;
    default:
        out->state = row->expires_ms > now ? SR_LEDGER_OPEN : SR_LEDGER_EXPIRED;
        break;
    }
    out->actual = row->actual;
    out->overdraft = row->overdraft;
    out->late = row->late;
    snprintf(out->model, sizeof(out->model), "%s", row->model);
    out->replayed = replayed;
    return read_session(ledger, row->session_id, now, &out->session, err);
}

/* ---- backend functions ------------------------------------------------ */

static sr_status sqlite_ping(void *impl, sr_error *err)
{
    sqlite_ledger *ledger = impl;
    sr_status status = begin(ledger, false, err);
    if (status != SR_OK)
        return status;
    sqlite3_stmt *stmt = query(ledger, Q_COUNT_OPEN);
    sqlite3_bind_int64(stmt, 1, 0);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        status = db_error(ledger, rc, "health check", err);
    return finish(ledger, status, err);
}

static sr_status sqlite_session_create(void *impl, const char *session_id, int64_t budget,
                                       int64_t now, sr_ledger_session *out, bool *created,
                                       sr_error *err)
{
    sqlite_ledger *ledger = impl;
    *created = false;
    sr_status status = begin(ledger, true, err);
    if (status != SR_OK)
        return status;

    /* Existing session: same budget is a retry, another budget a conflict. */
    status = read_session(ledger, session_id, now, out, err);
    if (status == SR_OK) {
        if (out->budget != budget)
            status = sr_error_set(err, SR_ERR_CONFLICT, NULL, 0, "budget",
                                  "session '%s' exists with budget %" PRId64
                                  " micro-units, not %" PRId64 "; use a new session id",
                                  session_id, out->budget, budget);
        return finish(ledger, status, err);
    }
    if (status != SR_ERR_NOT_FOUND)
        return finish(ledger, status, err);
    sr_error_clear(err);

    sqlite3_stmt *stmt = query(ledger, Q_SESSION_INSERT);
    bind_text(stmt, 1, session_id);
    sqlite3_bind_int64(stmt, 2, budget);
    sqlite3_bind_int64(stmt, 3, now);
    status = run(ledger, stmt, "creating a session", err);
    if (status == SR_OK)
        status = read_session(ledger, session_id, now, out, err);
    status = finish(ledger, status, err);
    *created = status == SR_OK;
    return status;
}

static sr_status sqlite_session_get(void *impl, const char *session_id, int64_t now,
                                    sr_ledger_session *out, sr_error *err)
{
    sqlite_ledger *ledger = impl;
    sr_status status = begin(ledger, false, err);
    if (status != SR_OK)
        return status;
    status = read_session(ledger, session_id, now, out, err);
    return finish(ledger, status, err);
}

static sr_status sqlite_reserve(void *impl, const char *session_id, const char *reservation_id,
                                int64_t amount, int64_t expires_at, int64_t now,
                                const char *model, sr_ledger_reservation *out, sr_error *err)
{
    sqlite_ledger *ledger = impl;
    stored_reservation row;
    sr_status status = begin(ledger, true, err);
    if (status != SR_OK)
        return status;

    /* A known id is a retry (same session, amount and model) or a conflict. */
    status = read_reservation(ledger, reservation_id, &row, err);
    if (status == SR_OK) {
        if (strcmp(row.session_id, session_id) != 0 || row.amount != amount ||
            strcmp(row.model, model) != 0)
            status = sr_error_set(err, SR_ERR_CONFLICT, NULL, 0, "reservation_id",
                                  "reservation '%s' exists for session '%s' with %" PRId64
                                  " micro-units and model '%s'; use a new reservation id",
                                  reservation_id, row.session_id, row.amount, row.model);
        else
            status = fill_reservation(ledger, reservation_id, &row, now, true, out, err);
        return finish(ledger, status, err);
    }
    if (status != SR_ERR_NOT_FOUND)
        return finish(ledger, status, err);

    /* The admission rule: spent + reserved + amount <= budget. */
    memset(out, 0, sizeof(*out));
    status = read_session(ledger, session_id, now, &out->session, err);
    if (status != SR_OK)
        return finish(ledger, status, err);
    const sr_ledger_session *totals = &out->session;
    if (totals->spent + totals->reserved + amount > totals->budget) {
        status = sr_error_set(err, SR_ERR_REJECTED, NULL, 0, "amount",
                              "reserving %" PRId64 " micro-units on session '%s' would exceed "
                              "its budget: %" PRId64 " remaining",
                              amount, session_id, totals->remaining);
        return finish(ledger, status, err);
    }

    sqlite3_stmt *stmt = query(ledger, Q_RES_INSERT);
    bind_text(stmt, 1, reservation_id);
    bind_text(stmt, 2, session_id);
    sqlite3_bind_int64(stmt, 3, amount);
    sqlite3_bind_int64(stmt, 4, expires_at);
    sqlite3_bind_int64(stmt, 5, now);
    if (model[0] != '\0')
        bind_text(stmt, 6, model);
    status = run(ledger, stmt, "storing a reservation", err);
    if (status == SR_OK) {
        stmt = query(ledger, Q_SESSION_ADMIT);
        bind_text(stmt, 1, session_id);
        status = run(ledger, stmt, "counting an admitted reservation", err);
    }
    if (status == SR_OK)
        status = read_reservation(ledger, reservation_id, &row, err);
    if (status == SR_OK)
        status = fill_reservation(ledger, reservation_id, &row, now, false, out, err);
    return finish(ledger, status, err);
}

static sr_status sqlite_settle(void *impl, const char *reservation_id, int64_t actual,
                               int64_t now, sr_ledger_reservation *out, sr_error *err)
{
    sqlite_ledger *ledger = impl;
    stored_reservation row;
    sr_status status = begin(ledger, true, err);
    if (status != SR_OK)
        return status;

    status = read_reservation(ledger, reservation_id, &row, err);
    if (status == SR_ERR_NOT_FOUND)
        status = not_found_reservation(reservation_id, err);
    if (status != SR_OK)
        return finish(ledger, status, err);

    /* Settled already: the same cost is a retry, another a conflict. */
    if (row.state == STORED_SETTLED) {
        if (row.actual != actual)
            status = sr_error_set(err, SR_ERR_CONFLICT, NULL, 0, "actual",
                                  "reservation '%s' was settled with %" PRId64
                                  " micro-units, not %" PRId64,
                                  reservation_id, row.actual, actual);
        else
            status = fill_reservation(ledger, reservation_id, &row, now, true, out, err);
        return finish(ledger, status, err);
    }

    /* Apply the settle rule against the session's current totals. */
    sr_ledger_session totals;
    status = read_session(ledger, row.session_id, now, &totals, err);
    if (status != SR_OK)
        return finish(ledger, status, err);
    bool held = row.state == STORED_OPEN && row.expires_ms > now;
    int64_t free_micros = totals.budget - totals.spent - totals.reserved;
    int64_t overdraft = 0;
    bool late = false;
    status = sr_ledger_rule_settle(held, row.amount, actual, free_micros, totals.spent,
                                   totals.overdraft, &overdraft, &late, err);
    if (status != SR_OK)
        return finish(ledger, status, err);

    sqlite3_stmt *stmt = query(ledger, Q_RES_SETTLE);
    bind_text(stmt, 1, reservation_id);
    sqlite3_bind_int64(stmt, 2, actual);
    sqlite3_bind_int64(stmt, 3, overdraft);
    sqlite3_bind_int(stmt, 4, late ? 1 : 0);
    sqlite3_bind_int64(stmt, 5, now);
    status = run(ledger, stmt, "settling a reservation", err);
    if (status == SR_OK) {
        stmt = query(ledger, Q_SESSION_SPEND);
        bind_text(stmt, 1, row.session_id);
        sqlite3_bind_int64(stmt, 2, actual);
        sqlite3_bind_int64(stmt, 3, overdraft);
        status = run(ledger, stmt, "adding spend to a session", err);
    }
    if (status == SR_OK)
        status = read_reservation(ledger, reservation_id, &row, err);
    if (status == SR_OK)
        status = fill_reservation(ledger, reservation_id, &row, now, false, out, err);
    return finish(ledger, status, err);
}

static sr_status sqlite_release(void *impl, const char *reservation_id, int64_t now,
                                sr_ledger_reservation *out, sr_error *err)
{
    sqlite_ledger *ledger = impl;
    stored_reservation row;
    sr_status status = begin(ledger, true, err);
    if (status != SR_OK)
        return status;

    status = read_reservation(ledger, reservation_id, &row, err);
    if (status == SR_ERR_NOT_FOUND)
        status = not_found_reservation(reservation_id, err);
    if (status != SR_OK)
        return finish(ledger, status, err);

    /* Settled or released already: nothing to do. */
    if (row.state != STORED_OPEN) {
        status = fill_reservation(ledger, reservation_id, &row, now, true, out, err);
        return finish(ledger, status, err);
    }

    sqlite3_stmt *stmt = query(ledger, Q_RES_RELEASE);
    bind_text(stmt, 1, reservation_id);
    sqlite3_bind_int64(stmt, 2, now);
    status = run(ledger, stmt, "releasing a reservation", err);
    if (status == SR_OK)
        status = read_reservation(ledger, reservation_id, &row, err);
    if (status == SR_OK)
        status = fill_reservation(ledger, reservation_id, &row, now, false, out, err);
    return finish(ledger, status, err);
}

static sr_status sqlite_reservation_get(void *impl, const char *reservation_id, int64_t now,
                                        sr_ledger_reservation *out, sr_error *err)
{
    sqlite_ledger *ledger = impl;
    stored_reservation row;
    sr_status status = begin(ledger, false, err);
    if (status != SR_OK)
        return status;

    status = read_reservation(ledger, reservation_id, &row, err);
    if (status == SR_ERR_NOT_FOUND)
        status = not_found_reservation(reservation_id, err);
    if (status == SR_OK)
        status = fill_reservation(ledger, reservation_id, &row, now, false, out, err);
    return finish(ledger, status, err);
}

static sr_status sqlite_count_open(void *impl, int64_t now, int64_t *out_count, sr_error *err)
{
    sqlite_ledger *ledger = impl;
    sqlite3_stmt *stmt = query(ledger, Q_COUNT_OPEN);
    sqlite3_bind_int64(stmt, 1, now);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(stmt);
        return db_error(ledger, rc, "counting open reservations", err);
    }
    *out_count = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return SR_OK;
}

static void sqlite_close(void *impl)
{
    sqlite_ledger *ledger = impl;
    if (ledger == NULL)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(ledger->stmt[i]);
    sqlite3_close(ledger->db);
    free(ledger);
}

static const sr_ledger_backend_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .ping = sqlite_ping,
    .session_create = sqlite_session_create,
    .session_get = sqlite_session_get,
    .reserve = sqlite_reserve,
    .settle = sqlite_settle,
    .release = sqlite_release,
    .reservation_get = sqlite_reservation_get,
    .count_open = sqlite_count_open,
};

/* ---- opening ----------------------------------------------------------- */

/* Runs one PRAGMA and, when `expected` is set, checks its one-row result. */
static sr_status pragma(sqlite_ledger *ledger, const char *sql, const char *expected,
                        sr_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(ledger->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return db_error(ledger, rc, sql, err);
    rc = sqlite3_step(stmt);
    sr_status status = SR_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        status = db_error(ledger, rc, sql, err);
    } else if (expected != NULL) {
        const unsigned char *value = rc == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
        if (value == NULL || strcmp((const char *)value, expected) != 0)
            status = sr_error_set(err, SR_ERR_IO, ledger->path, 0, NULL,
                                  "SQLite ledger: '%s' returned '%s', expected '%s'", sql,
                                  value != NULL ? (const char *)value : "(nothing)", expected);
    }
    sqlite3_finalize(stmt);
    return status;
}

/* Reads PRAGMA user_version into *version. */
static int read_schema_version(sqlite_ledger *ledger, int *version)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(ledger->db, "PRAGMA user_version", -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * Creates the schema in a new file or upgrades an older one, under the
 * write lock, so that several processes opening one file at once agree.
 */
static sr_status create_schema(sqlite_ledger *ledger, sr_error *err)
{
    int rc = sqlite3_exec(ledger->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_error(ledger, rc, "BEGIN for the schema", err);

    int version = 0;
    rc = read_schema_version(ledger, &version);
    if (rc == SQLITE_OK && version > LEDGER_SQLITE_SCHEMA_VERSION) {
        sqlite3_exec(ledger->db, "ROLLBACK", NULL, NULL, NULL);
        return sr_error_set(err, SR_ERR_UNSUPPORTED, ledger->path, 0, NULL,
                            "SQLite ledger has schema version %d; this seqroute knows versions "
                            "up to %d, so open it with a newer seqroute",
                            version, LEDGER_SQLITE_SCHEMA_VERSION);
    }

    /* Version 0 is a new file; version 1 gains the count and model columns. */
    const char *what = "creating the schema";
    if (rc == SQLITE_OK && version == 0) {
        rc = sqlite3_exec(ledger->db, schema_sql, NULL, NULL, NULL);
    } else if (rc == SQLITE_OK && version == 1) {
        what = "upgrading the schema from version 1";
        rc = sqlite3_exec(ledger->db, migrate_1_to_2_sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && version != LEDGER_SQLITE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", LEDGER_SQLITE_SCHEMA_VERSION);
        rc = sqlite3_exec(ledger->db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ledger->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sr_status status = db_error(ledger, rc, what, err);
        sqlite3_exec(ledger->db, "ROLLBACK", NULL, NULL, NULL);
        return status;
    }
    if (version == 1)
        sr_log(SR_LOG_INFO, "ledger_schema_upgraded path=%s from=1 to=%d", ledger->path,
               LEDGER_SQLITE_SCHEMA_VERSION);
    return SR_OK;
}

sr_status sr_ledger_sqlite_open(const char *path, const sr_ledger_options *options,
                                const sr_ledger_backend_ops **ops, void **impl, sr_error *err)
{
    sqlite_ledger *ledger = calloc(1, sizeof(*ledger));
    if (ledger == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory opening ledger");
    snprintf(ledger->path, sizeof(ledger->path), "%s", path);

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &ledger->db, flags, NULL);
    sr_status status = SR_OK;
    if (rc != SQLITE_OK) {
        status = sr_error_set(err, SR_ERR_IO, path, 0, NULL,
                              "cannot open SQLite ledger: %s; check the path and permissions",
                              ledger->db != NULL ? sqlite3_errmsg(ledger->db)
                                                 : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_busy_timeout(ledger->db, options->busy_timeout_ms);

    /* WAL and FULL: a returned commit is on disk (see the file comment). */
    status = pragma(ledger, "PRAGMA journal_mode = WAL", "wal", err);
    if (status == SR_OK)
        status = pragma(ledger, "PRAGMA synchronous = FULL", NULL, err);
    if (status == SR_OK)
        status = pragma(ledger, "PRAGMA foreign_keys = ON", NULL, err);
    if (status == SR_OK)
        status = create_schema(ledger, err);
    if (status != SR_OK)
        goto out;

    for (int i = 0; i < Q_COUNT; i++) {
        rc = sqlite3_prepare_v3(ledger->db, query_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &ledger->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            status = db_error(ledger, rc, "preparing a statement", err);
            goto out;
        }
    }

out:
    if (status != SR_OK) {
        sqlite_close(ledger);
        return status;
    }
    *ops = &sqlite_ops;
    *impl = ledger;
    return SR_OK;
}
