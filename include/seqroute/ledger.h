/*
 * ledger.h - the per-session budget ledger behind `seqroute serve`.
 *
 * Every amount is an int64_t count of micro-units (1e-6 of the cost unit).
 * One admission rule holds in every backend: a reservation of `cost` is
 * admitted iff spent + reserved + cost <= budget, where `reserved` counts
 * only open reservations that have not expired.
 *
 * Life of a reservation:
 *   reserve  -> OPEN (counts as reserved until its expiry time)
 *   OPEN     -> SETTLED  (settle: actual cost added to spent)
 *   OPEN     -> RELEASED (release: nothing spent)
 *   OPEN     -> EXPIRED  (its expiry time has passed: no longer reserved)
 *   EXPIRED or RELEASED -> SETTLED (a late settle: the cost is still counted)
 * SETTLED is final.  Every call is idempotent on its ids: a retry with the
 * same arguments returns the stored record with `replayed` set and changes
 * nothing; the same id with different arguments returns SR_ERR_CONFLICT.
 *
 * Overdraft: a settle whose actual cost exceeds what was held is never cut.
 * All of it goes into `spent`, and the excess is also added to the
 * session's `overdraft` total and reported in the call's result.  For an
 * open reservation the excess is actual - amount.  For a late settle the
 * reservation no longer holds anything, so the excess is the part of the
 * actual cost that does not fit in budget - spent - reserved at that time.
 *
 * Backends (chosen by URL):
 *   sqlite:PATH                          one file, WAL mode (the default)
 *   redis://HOST:PORT[/DB][?prefix=P]    shared by several processes
 * docs/LEDGER.md describes storage, durability and the Redis scripts.
 *
 * Thread-safety: one sr_ledger handle may be used from several threads;
 * each handle serialises its calls with a mutex around its one database
 * connection.  Several handles (in one process or several) may open the
 * same SQLite file or Redis database: check-and-reserve is atomic there
 * too.  The clock callback is called with the handle's mutex held.
 */
#ifndef SEQROUTE_LEDGER_H
#define SEQROUTE_LEDGER_H

#include "seqroute/common.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Micro-units per cost unit. */
#define SR_LEDGER_MICROS_PER_UNIT INT64_C(1000000)

/*
 * Largest single amount (budget, reservation or cost): 1e15 micro-units,
 * that is 1e9 cost units.  Redis scripts run in Lua 5.1, whose numbers are
 * doubles, so every total must stay below 2^53 to be exact.  This bound
 * leaves room for nine maximal settles before a session reaches that.
 */
#define SR_LEDGER_MAX_AMOUNT INT64_C(1000000000000000)

/* Largest total (spent, overdraft) a session may reach: 2^53 - 1. */
#define SR_LEDGER_MAX_TOTAL INT64_C(9007199254740991)

/*
 * Maximum length of a session or reservation id in bytes.  Ids are 1 to this many
 * printable ASCII bytes (0x21 to 0x7e), so they are safe in Redis keys,
 * SQL text and log lines.
 */
#define SR_LEDGER_ID_MAX 128

/*
 * Maximum length in bytes of the model name stored on a reservation: the
 * longest model name a catalogue accepts.  Any bytes but control
 * characters (0x00 to 0x1f and 0x7f) are allowed, so UTF-8 names fit.
 */
#define SR_LEDGER_MODEL_MAX 256

/* Default reservation lifetime when neither the call nor the options set one. */
#define SR_LEDGER_DEFAULT_TTL_MS INT64_C(300000)

/* Maximum reservation lifetime: 30 days. */
#define SR_LEDGER_MAX_TTL_MS INT64_C(2592000000)

typedef struct sr_ledger sr_ledger;

/* Current time in milliseconds since the Unix epoch. */
typedef int64_t (*sr_ledger_clock_fn)(void *user_data);

typedef struct sr_ledger_options {
    /* Reservation lifetime used when sr_ledger_reserve gets ttl_ms == 0. */
    int64_t default_ttl_ms;

    /*
     * Clock for expiry; NULL means CLOCK_REALTIME.  Wall time, not a
     * monotonic clock, because expiry times are stored and shared between
     * processes and restarts.  Tests inject a fake clock here.
     */
    sr_ledger_clock_fn clock;
    void *clock_data;

    /* SQLite: how long a writer waits for another writer's lock. */
    int busy_timeout_ms;

    /* Redis: time limits for connecting and for each command. */
    int connect_timeout_ms;
    int command_timeout_ms;

    /* Redis: key prefix; NULL uses the URL's ?prefix= or "seqroute:". */
    const char *redis_prefix;
} sr_ledger_options;

/* A session's totals; `remaining` = budget - spent - reserved (may be < 0). */
typedef struct sr_ledger_session {
    char id[SR_LEDGER_ID_MAX + 1];
    int64_t budget;
    int64_t spent;     /* every settled actual cost, overdraft included */
    int64_t reserved;  /* open, unexpired reservations */
    int64_t overdraft; /* the part of `spent` above what was held */
    int64_t remaining;
    int64_t open_reservations; /* count of open, unexpired reservations */

    /*
     * Reservations ever admitted on the session, whatever their state now.
     * Incremented in the same atomic step as the admission; retries and
     * rejected reserves do not count.  The router uses it as the index of
     * the session's next turn.
     */
    int64_t reservations_admitted;
} sr_ledger_session;

typedef enum sr_ledger_state {
    SR_LEDGER_OPEN = 0,
    SR_LEDGER_SETTLED = 1,
    SR_LEDGER_RELEASED = 2,
    SR_LEDGER_EXPIRED = 3
} sr_ledger_state;

/* One reservation as stored, plus what the call that returned it did. */
typedef struct sr_ledger_reservation {
    char id[SR_LEDGER_ID_MAX + 1];
    char session_id[SR_LEDGER_ID_MAX + 1];
    int64_t amount;        /* micro-units held when reserved */
    int64_t expires_at_ms; /* clock time at which it stops counting */
    sr_ledger_state state;
    int64_t actual;    /* settled cost; 0 unless SETTLED */
    int64_t overdraft; /* part of `actual` counted as overdraft */
    char model[SR_LEDGER_MODEL_MAX + 1]; /* as given to the reserve call; "" when none */
    bool late;         /* settled after it had expired or been released */
    bool replayed;     /* this call was a retry and changed nothing */
    sr_ledger_session session; /* the session's totals after the call */
} sr_ledger_reservation;

/* ---- units ------------------------------------------------------------ */

/*
 * Converts a cost in units to micro-units, rounding up so that rounding
 * never lets spend exceed a budget.  A product within 1e-6 micro-units
 * (or 4 ulp) of a whole number is taken as that number, because decimal
 * inputs such as 0.000003 are not exact in binary.  Errors: SR_ERR_INVALID
 * for NaN, infinities, negative values and values above
 * SR_LEDGER_MAX_AMOUNT micro-units; `field` names the input in the message.
 */
sr_status sr_ledger_micros_from_cost(double cost, const char *field, int64_t *out_micros,
                                     sr_error *err);

/*
 * Converts a budget in units to micro-units, rounding down (a budget never
 * grows by rounding), with the same snapping and errors as above.
 */
sr_status sr_ledger_micros_from_budget(double budget, const char *field, int64_t *out_micros,
                                       sr_error *err);

/* Converts micro-units to units (exact below 2^53 micro-units). */
double sr_ledger_micros_to_cost(int64_t micros);

/*
 * Writes micro-units as an exact decimal string ("-0.000125", "3",
 * "1.5") into `buf` of `size` bytes (32 is always enough).  Returns the
 * length written, as snprintf does.
 */
int sr_ledger_micros_format(int64_t micros, char *buf, size_t size);

/* Returns "open", "settled", "released" or "expired". */
const char *sr_ledger_state_name(sr_ledger_state state);

/* ---- lifecycle -------------------------------------------------------- */

/* Fills `options` with the defaults: 300 s TTL, real clock, 5 s timeouts. */
void sr_ledger_options_init(sr_ledger_options *options);

/*
 * Opens the ledger named by `url` ("sqlite:PATH" or
 * "redis://HOST:PORT[/DB][?prefix=P]").  SQLite creates the file and its
 * schema when missing, and upgrades a file written with an older schema
 * in place (docs/LEDGER.md lists the versions).  `options` may be NULL
 * for the defaults; it is copied.  Errors: SR_ERR_INVALID for a malformed
 * URL or option, SR_ERR_IO when the SQLite file cannot be opened or
 * upgraded, SR_ERR_UNSUPPORTED for a SQLite file with a newer schema than
 * this build knows, SR_ERR_UNAVAILABLE when the Redis server cannot be
 * reached.  The caller closes the handle
 * with sr_ledger_close.
 */
sr_status sr_ledger_open(const char *url, const sr_ledger_options *options,
                         sr_ledger **out_ledger, sr_error *err);

/* Closes the handle and frees it; NULL is allowed. */
void sr_ledger_close(sr_ledger *ledger);

/* Returns "sqlite" or "redis". */
const char *sr_ledger_backend_name(const sr_ledger *ledger);

/*
 * Checks that the backend answers (a trivial query or PING), for health
 * checks.  Errors: SR_ERR_UNAVAILABLE or SR_ERR_IO with a message.
 */
sr_status sr_ledger_ping(sr_ledger *ledger, sr_error *err);

/* ---- sessions --------------------------------------------------------- */

/*
 * Creates session `session_id` with `budget` micro-units, or returns the
 * existing one when it has the same budget (`out` then reports its
 * current totals).  Creation is set-if-absent, never additive.  Errors:
 * SR_ERR_INVALID for a bad id or budget outside [0, SR_LEDGER_MAX_AMOUNT],
 * SR_ERR_CONFLICT when the id exists with another budget, backend errors.
 * `out` may be NULL.  `created` (may be NULL) is set true when this call
 * created the session.
 */
sr_status sr_ledger_session_create(sr_ledger *ledger, const char *session_id, int64_t budget,
                                   sr_ledger_session *out, bool *created, sr_error *err);

/* Fills `out` with the session's totals.  Errors: SR_ERR_NOT_FOUND, backend errors. */
sr_status sr_ledger_session_get(sr_ledger *ledger, const char *session_id,
                                sr_ledger_session *out, sr_error *err);

/* ---- reservations ----------------------------------------------------- */

/*
 * Atomically checks spent + reserved + amount <= budget and, if it holds,
 * stores reservation `reservation_id` of `amount` micro-units on the
 * session, expiring `ttl_ms` milliseconds from now (0 = the default), and
 * adds one to the session's `reservations_admitted`.  A retry with the
 * same session and amount returns the stored record (whatever its state
 * now) with `replayed` set and counts nothing; the TTL of a retry is
 * ignored.  Errors: SR_ERR_INVALID (bad id, amount or ttl),
 * SR_ERR_NOT_FOUND (no such session), SR_ERR_CONFLICT (the id exists
 * with another session, amount or model), SR_ERR_REJECTED (over budget:
 * `out` still gets the session's totals in out->session), backend errors.
 * `out` may be NULL.  Stores no model; see sr_ledger_reserve_model.
 */
sr_status sr_ledger_reserve(sr_ledger *ledger, const char *session_id,
                            const char *reservation_id, int64_t amount, int64_t ttl_ms,
                            sr_ledger_reservation *out, sr_error *err);

/*
 * sr_ledger_reserve that also stores `model` (NULL or "" for none, at
 * most SR_LEDGER_MODEL_MAX bytes without control characters) on the
 * reservation, so that a later settle can price token usage with that
 * model's prices.  A retry must give the same model as the first call;
 * another model is SR_ERR_CONFLICT.  Errors as sr_ledger_reserve, plus
 * SR_ERR_INVALID for a bad model name.
 */
sr_status sr_ledger_reserve_model(sr_ledger *ledger, const char *session_id,
                                  const char *reservation_id, int64_t amount, int64_t ttl_ms,
                                  const char *model, sr_ledger_reservation *out, sr_error *err);

/*
 * Records `actual` micro-units spent against the reservation and closes
 * it.  See the file comment for overdraft and late settles.  A second
 * settle with the same actual cost returns the record with `replayed`
 * set.  Errors: SR_ERR_INVALID (bad id or amount, or a total that would
 * pass SR_LEDGER_MAX_TOTAL), SR_ERR_NOT_FOUND (no such reservation),
 * SR_ERR_CONFLICT (already settled with another cost), backend errors.
 * `out` may be NULL.
 */
sr_status sr_ledger_settle(sr_ledger *ledger, const char *reservation_id, int64_t actual,
                           sr_ledger_reservation *out, sr_error *err);

/*
 * Releases an open or expired reservation without spending.  Releasing a
 * released reservation, or one already settled, changes nothing and
 * returns SR_OK with `replayed` set and the stored state.  Errors:
 * SR_ERR_INVALID, SR_ERR_NOT_FOUND, backend errors.  `out` may be NULL.
 */
sr_status sr_ledger_release(sr_ledger *ledger, const char *reservation_id,
                            sr_ledger_reservation *out, sr_error *err);

/*
 * Fills `out` with a stored reservation; an open one past its expiry time
 * is reported as SR_LEDGER_EXPIRED.  Errors: SR_ERR_NOT_FOUND, backend
 * errors.
 */
sr_status sr_ledger_reservation_get(sr_ledger *ledger, const char *reservation_id,
                                    sr_ledger_reservation *out, sr_error *err);

/*
 * Counts open, unexpired reservations over all sessions (for metrics).
 * Errors: backend errors.
 */
sr_status sr_ledger_count_open(sr_ledger *ledger, int64_t *out_count, sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_LEDGER_H */
