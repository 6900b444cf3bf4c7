/*
 * ledger.c - the budget ledger's front end: unit conversion, argument
 * checks, the clock, the per-handle mutex and dispatch to a backend.
 *
 * Every public call takes the same steps: validate the arguments (so a
 * backend never sees a bad id or an amount out of range), lock the
 * handle, read the clock once, call the backend, unlock.  The clock is
 * read under the lock so that calls on one handle see non-decreasing
 * times when the clock is monotone.
 *
 * The settle rule lives here (sr_ledger_rule_settle) so that the SQLite
 * backend and the tests share one statement of it; the Redis backend
 * repeats it in Lua because it must run inside the server.
 */
#include "seqroute/ledger.h"

#include "ledger_backend.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Default time limits: long enough for a loaded disk or network, short
 * enough that a stuck backend fails a request instead of hanging it. */
#define LEDGER_DEFAULT_BUSY_TIMEOUT_MS 5000
#define LEDGER_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define LEDGER_DEFAULT_COMMAND_TIMEOUT_MS 5000

/* Longest accepted timeout option: one minute. */
#define LEDGER_MAX_TIMEOUT_MS 60000

/* Distance (in micro-units) under which a scaled cost snaps to a whole
 * micro-unit; absorbs decimal-to-binary error of inputs like 0.000003. */
#define LEDGER_SNAP_MICROS 1e-6

struct sr_ledger {
    const sr_ledger_backend_ops *ops;
    void *impl;
    sr_ledger_options options;
    pthread_mutex_t mutex;
};

/* ---- units ------------------------------------------------------------ */

static sr_status micros_from_units(double value, const char *field, bool round_up,
                                   int64_t *out_micros, sr_error *err)
{
    const char *name = field != NULL ? field : "amount";

    if (out_micros == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, name, "output pointer is NULL");
    if (isnan(value))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, name,
                            "%s is NaN; pass a finite, non-negative number", name);
    if (isinf(value))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, name,
                            "%s is infinite; pass a finite, non-negative number", name);
    if (value < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, name,
                            "%s %.17g is negative; pass a value >= 0", name, value);

    /* Scale, snap values within the decimal noise to the whole number,
     * otherwise round in the safe direction. */
    double scaled = value * (double)SR_LEDGER_MICROS_PER_UNIT;
    double nearest = nearbyint(scaled);
    double tolerance = fmax(LEDGER_SNAP_MICROS, 4.0 * DBL_EPSILON * scaled);
    double rounded;
    if (fabs(scaled - nearest) <= tolerance)
        rounded = nearest;
    else
        rounded = round_up ? ceil(scaled) : floor(scaled);

    if (!(rounded <= (double)SR_LEDGER_MAX_AMOUNT))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, name,
                            "%s %.17g is above the ledger's maximum of %" PRId64
                            " units; pass a smaller value",
                            name, value, SR_LEDGER_MAX_AMOUNT / SR_LEDGER_MICROS_PER_UNIT);

    *out_micros = (int64_t)rounded;
    return SR_OK;
}

sr_status sr_ledger_micros_from_cost(double cost, const char *field, int64_t *out_micros,
                                     sr_error *err)
{
    return micros_from_units(cost, field, true, out_micros, err);
}

sr_status sr_ledger_micros_from_budget(double budget, const char *field, int64_t *out_micros,
                                       sr_error *err)
{
    return micros_from_units(budget, field, false, out_micros, err);
}

double sr_ledger_micros_to_cost(int64_t micros)
{
    return (double)micros / (double)SR_LEDGER_MICROS_PER_UNIT;
}

int sr_ledger_micros_format(int64_t micros, char *buf, size_t size)
{
    /* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
    uint64_t magnitude = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
    uint64_t whole = magnitude / (uint64_t)SR_LEDGER_MICROS_PER_UNIT;
    uint64_t fraction = magnitude % (uint64_t)SR_LEDGER_MICROS_PER_UNIT;
    const char *sign = micros < 0 ? "-" : "";

    if (fraction == 0)
        return snprintf(buf, size, "%s%" PRIu64, sign, whole);

    /* Six fraction digits, then drop trailing zeros. */
    char digits[8];
    snprintf(digits, sizeof(digits), "%06" PRIu64, fraction);
    size_t length = strlen(digits);
    while (length > 1 && digits[length - 1] == '0')
        length--;
    digits[length] = '\0';
    return snprintf(buf, size, "%s%" PRIu64 ".%s", sign, whole, digits);
}

const char *sr_ledger_state_name(sr_ledger_state state)
{
    switch (state) {
    case SR_LEDGER_OPEN:
        return "open";
    case SR_LEDGER_SETTLED:
        return "settled";
    case SR_LEDGER_RELEASED:
        return "released";
    case SR_LEDGER_EXPIRED:
        return "expired";
    }
    return "unknown";
}

/* ---- the settle rule -------------------------------------------------- */

sr_status sr_ledger_rule_settle(bool held, int64_t amount, int64_t actual, int64_t free_micros,
                                int64_t spent, int64_t overdraft_total, int64_t *overdraft,
                                bool *late, sr_error *err)
{
    int64_t excess;

    /* A held reservation covers `amount`; a late settle covers only what
     * is free in the budget now. */
    if (held) {
        excess = actual > amount ? actual - amount : 0;
    } else {
        int64_t covered = free_micros > 0 ? free_micros : 0;
        excess = actual > covered ? actual - covered : 0;
    }

    if (spent > SR_LEDGER_MAX_TOTAL - actual || overdraft_total > SR_LEDGER_MAX_TOTAL - excess)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "actual",
                            "settling %" PRId64 " micro-units would take the session's spent "
                            "total past the ledger's maximum of %" PRId64
                            "; open a new session",
                            actual, SR_LEDGER_MAX_TOTAL);

    *overdraft = excess;
    *late = !held;
    return SR_OK;
}

/* ---- argument checks -------------------------------------------------- */

static sr_status check_id(const char *id, const char *field, sr_error *err)
{
    if (id == NULL || id[0] == '\0')
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, field,
                            "%s is missing; pass 1 to %d printable ASCII characters", field,
                            SR_LEDGER_ID_MAX);

    size_t length = 0;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        if (*p < 0x21 || *p > 0x7e)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, field,
                                "%s contains byte 0x%02x at offset %zu; use printable ASCII "
                                "without spaces",
                                field, *p, length);
        length++;
        if (length > SR_LEDGER_ID_MAX)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, field,
                                "%s is longer than %d bytes; use a shorter id", field,
                                SR_LEDGER_ID_MAX);
    }
    return SR_OK;
}

static sr_status check_amount(int64_t amount, const char *field, sr_error *err)
{
    if (amount < 0 || amount > SR_LEDGER_MAX_AMOUNT)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, field,
                            "%s %" PRId64 " micro-units is outside [0, %" PRId64 "]", field,
                            amount, SR_LEDGER_MAX_AMOUNT);
    return SR_OK;
}

static sr_status check_model(const char *model, sr_error *err)
{
    size_t length = 0;
    for (const unsigned char *p = (const unsigned char *)model; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "model",
                                "model name contains control byte 0x%02x at offset %zu", *p,
                                length);
        length++;
        if (length > SR_LEDGER_MODEL_MAX)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "model",
                                "model name is longer than %d bytes", SR_LEDGER_MODEL_MAX);
    }
    return SR_OK;
}

static sr_status check_handle(const sr_ledger *ledger, sr_error *err)
{
    if (ledger == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "ledger handle is NULL");
    return SR_OK;
}

/* ---- clock and lock ---------------------------------------------------- */

static int64_t clock_realtime_ms(void *user_data)
{
    (void)user_data;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + (int64_t)(now.tv_nsec / 1000000);
}

static int64_t ledger_lock(sr_ledger *ledger)
{
    pthread_mutex_lock(&ledger->mutex);
    return ledger->options.clock(ledger->options.clock_data);
}

static void ledger_unlock(sr_ledger *ledger)
{
    pthread_mutex_unlock(&ledger->mutex);
}

/* ---- lifecycle -------------------------------------------------------- */

void sr_ledger_options_init(sr_ledger_options *options)
{
    if (options == NULL)
        return;
    memset(options, 0, sizeof(*options));
    options->default_ttl_ms = SR_LEDGER_DEFAULT_TTL_MS;
    options->clock = NULL;
    options->busy_timeout_ms = LEDGER_DEFAULT_BUSY_TIMEOUT_MS;
    options->connect_timeout_ms = LEDGER_DEFAULT_CONNECT_TIMEOUT_MS;
    options->command_timeout_ms = LEDGER_DEFAULT_COMMAND_TIMEOUT_MS;
}

static sr_status check_options(const sr_ledger_options *options, sr_error *err)
{
    if (options->default_ttl_ms <= 0 || options->default_ttl_ms > SR_LEDGER_MAX_TTL_MS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "default_ttl_ms",
                            "default reservation TTL %" PRId64 " ms is outside [1, %" PRId64 "]",
                            options->default_ttl_ms, SR_LEDGER_MAX_TTL_MS);

    const struct {
        const char *name;
        int value;
    } timeouts[] = {
        {"busy_timeout_ms", options->busy_timeout_ms},
        {"connect_timeout_ms", options->connect_timeout_ms},
        {"command_timeout_ms", options->command_timeout_ms},
    };
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        if (timeouts[i].value <= 0 || timeouts[i].value > LEDGER_MAX_TIMEOUT_MS)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, timeouts[i].name,
                                "%s %d is outside [1, %d]", timeouts[i].name, timeouts[i].value,
                                LEDGER_MAX_TIMEOUT_MS);
    }
    return SR_OK;
}

sr_status sr_ledger_open(const char *url, const sr_ledger_options *options,
                         sr_ledger **out_ledger, sr_error *err)
{
    static const char sqlite_scheme[] = "sqlite:";
    static const char redis_scheme[] = "redis://";

    if (out_ledger == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "output pointer is NULL");
    *out_ledger = NULL;
    if (url == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "ledger", "ledger URL is missing");

    /* Copy and check the options. */
    sr_ledger_options copy;
    if (options != NULL)
        copy = *options;
    else
        sr_ledger_options_init(&copy);
    if (copy.clock == NULL) {
        copy.clock = clock_realtime_ms;
        copy.clock_data = NULL;
    }
    sr_status status = check_options(&copy, err);
    if (status != SR_OK)
        return status;

    sr_ledger *ledger = calloc(1, sizeof(*ledger));
    if (ledger == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory opening ledger");
    ledger->options = copy;
    if (pthread_mutex_init(&ledger->mutex, NULL) != 0) {
        free(ledger);
        return sr_error_set(err, SR_ERR_INTERNAL, NULL, 0, NULL, "pthread_mutex_init failed");
    }

    /* Pick the backend by scheme. */
    if (strncmp(url, sqlite_scheme, sizeof(sqlite_scheme) - 1) == 0) {
        const char *path = url + sizeof(sqlite_scheme) - 1;
        if (path[0] == '\0')
            status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "ledger",
                                  "ledger URL '%s' has no file path; use sqlite:PATH", url);
        else
            status = sr_ledger_sqlite_open(path, &ledger->options, &ledger->ops, &ledger->impl,
                                           err);
    } else if (strncmp(url, redis_scheme, sizeof(redis_scheme) - 1) == 0) {
        status = sr_ledger_redis_open(url, &ledger->options, &ledger->ops, &ledger->impl, err);
    } else {
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "ledger",
                              "ledger URL '%s' has an unknown scheme; use sqlite:PATH or "
                              "redis://HOST:PORT[/DB][?prefix=P]",
                              url);
    }

    if (status != SR_OK) {
        pthread_mutex_destroy(&ledger->mutex);
        free(ledger);
        return status;
    }
    *out_ledger = ledger;
    return SR_OK;
}

void sr_ledger_close(sr_ledger *ledger)
{
    if (ledger == NULL)
        return;
    ledger->ops->close(ledger->impl);
    pthread_mutex_destroy(&ledger->mutex);
    free(ledger);
}

const char *sr_ledger_backend_name(const sr_ledger *ledger)
{
    return ledger != NULL ? ledger->ops->name : "none";
}

sr_status sr_ledger_ping(sr_ledger *ledger, sr_error *err)
{
    sr_status status = check_handle(ledger, err);
    if (status != SR_OK)
        return status;

    ledger_lock(ledger);
    status = ledger->ops->ping(ledger->impl, err);
    ledger_unlock(ledger);
    return status;
}

/* ---- sessions --------------------------------------------------------- */

sr_status sr_ledger_session_create(sr_ledger *ledger, const char *session_id, int64_t budget,
                                   sr_ledger_session *out, bool *created, sr_error *err)
{
    sr_status status = check_handle(ledger, err);
    if (status == SR_OK)
        status = check_id(session_id, "session_id", err);
    if (status == SR_OK)
        status = check_amount(budget, "budget", err);
    if (status != SR_OK)
        return status;

    sr_ledger_session local;
    bool local_created = false;
    int64_t now = ledger_lock(ledger);
    status = ledger->ops->session_create(ledger->impl, session_id, budget, now,
                                         out != NULL ? out : &local, &local_created, err);
    ledger_unlock(ledger);
    if (created != NULL)
        *created = status == SR_OK && local_created;
    return status;
}

sr_status sr_ledger_session_get(sr_ledger *ledger, const char *session_id,
                                sr_ledger_session *out, sr_error *err)
{
    sr_status status = check_handle(ledger, err);
    if (status == SR_OK)
        status = check_id(session_id, "session_id", err);
    if (status == SR_OK && out == NULL)
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "output pointer is NULL");
    if (status != SR_OK)
        return status;

    int64_t now = ledger_lock(ledger);
    status = ledger->ops->session_get(ledger->impl, session_id, now, out, err);
    ledger_unlock(ledger);
    return status;
}

/* ---- reservations ----------------------------------------------------- */

sr_status sr_ledger_reserve(sr_ledger *ledger, const char *session_id,
                            const char *reservation_id, int64_t amount, int64_t ttl_ms,
                            sr_ledger_reservation *out, sr_error *err)
{
    return sr_ledger_reserve_model(ledger, session_id, reservation_id, amount, ttl_ms, NULL, out,
                                   err);
}

sr_status sr_ledger_reserve_model(sr_ledger *ledger, const char *session_id,
                                  const char *reservation_id, int64_t amount, int64_t ttl_ms,
                                  const char *model, sr_ledger_reservation *out, sr_error *err)
{
    if (model == NULL)
        model = "";
    sr_status status = check_handle(ledger, err);
    if (status == SR_OK)
        status = check_id(session_id, "session_id", err);
    if (status == SR_OK)
        status = check_id(reservation_id, "reservation_id", err);
    if (status == SR_OK)
        status = check_amount(amount, "amount", err);
    if (status == SR_OK)
        status = check_model(model, err);
    if (status == SR_OK && (ttl_ms < 0 || ttl_ms > SR_LEDGER_MAX_TTL_MS))
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "ttl_ms",
                              "reservation TTL %" PRId64 " ms is outside [0, %" PRId64
                              "]; 0 uses the default",
                              ttl_ms, SR_LEDGER_MAX_TTL_MS);
    if (status != SR_OK)
        return status;

    if (ttl_ms == 0)
        ttl_ms = ledger->options.default_ttl_ms;

    sr_ledger_reservation local;
    int64_t now = ledger_lock(ledger);
    status = ledger->ops->reserve(ledger->impl, session_id, reservation_id, amount, now + ttl_ms,
                                  now, model, out != NULL ? out : &local, err);
    ledger_unlock(ledger);
    return status;
}

sr_status sr_ledger_settle(sr_ledger *ledger, const char *reservation_id, int64_t actual,
                           sr_ledger_reservation *out, sr_error *err)
{
    sr_status status = check_handle(ledger, err);
    if (status == SR_OK)
        status = check_id(reservation_id, "reservation_id", err);
    if (status == SR_OK)
        status = check_amount(actual, "actual", err);
    if (status != SR_OK)
        return status;

    sr_ledger_reservation local;
    int64_t now = ledger_lock(ledger);
    status = ledger->ops->settle(ledger->impl, reservation_id, actual, now,
                                 out != NULL ? out : &local, err);
    ledger_unlock(ledger);
    return status;
}

sr_status sr_ledger_release(sr_ledger *ledger, const char *reservation_id,
                            sr_ledger_reservation *out, sr_error *err)
{
    sr_status status = check_handle(ledger, err);
    if (status == SR_OK)
        status = check_id(reservation_id, "reservation_id", err);
    if (status != SR_OK)
        return status;

    sr_ledger_reservation local;
    int64_t now = ledger_lock(ledger);
    status = ledger->ops->release(ledger->impl, reservation_id, now, out != NULL ? out : &local,
                                  err);
    ledger_unlock(ledger);
    return status;
}

sr_status sr_ledger_reservation_get(sr_ledger *ledger, const char *reservation_id,
                                    sr_ledger_reservation *out, sr_error *err)
{
    sr_status status = check_handle(ledger, err);
    if (status == SR_OK)
        status = check_id(reservation_id, "reservation_id", err);
    if (status == SR_OK && out == NULL)
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "output pointer is NULL");
    if (status != SR_OK)
        return status;

    int64_t now = ledger_lock(ledger);
    status = ledger->ops->reservation_get(ledger->impl, reservation_id, now, out, err);
    ledger_unlock(ledger);
    return status;
}

sr_status sr_ledger_count_open(sr_ledger *ledger, int64_t *out_count, sr_error *err)
{
    sr_status status = check_handle(ledger, err);
    if (status == SR_OK && out_count == NULL)
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "output pointer is NULL");
    if (status != SR_OK)
        return status;

    int64_t now = ledger_lock(ledger);
    status = ledger->ops->count_open(ledger->impl, now, out_count, err);
    ledger_unlock(ledger);
    return status;
}
