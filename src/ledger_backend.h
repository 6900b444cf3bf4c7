/*
 * ledger_backend.h - the table of functions each ledger backend provides,
 * and the settle and release rules shared by the C backend.
 *
 * ledger.c validates every argument, reads the clock and holds the
 * handle's mutex before it calls a backend, so a backend sees valid ids,
 * amounts in range and one call at a time.  A backend returns the stored
 * state in the output structs and fills `err` on failure.
 */
#ifndef SEQROUTE_LEDGER_BACKEND_H
#define SEQROUTE_LEDGER_BACKEND_H

#include "seqroute/ledger.h"

typedef struct sr_ledger_backend_ops {
    const char *name;
    void (*close)(void *impl);
    sr_status (*ping)(void *impl, sr_error *err);
    sr_status (*session_create)(void *impl, const char *session_id, int64_t budget, int64_t now,
                                sr_ledger_session *out, bool *created, sr_error *err);
    sr_status (*session_get)(void *impl, const char *session_id, int64_t now,
                             sr_ledger_session *out, sr_error *err);
    /* `model` is never NULL; "" means none. */
    sr_status (*reserve)(void *impl, const char *session_id, const char *reservation_id,
                         int64_t amount, int64_t expires_at, int64_t now, const char *model,
                         sr_ledger_reservation *out, sr_error *err);
    sr_status (*settle)(void *impl, const char *reservation_id, int64_t actual, int64_t now,
                        sr_ledger_reservation *out, sr_error *err);
    sr_status (*release)(void *impl, const char *reservation_id, int64_t now,
                         sr_ledger_reservation *out, sr_error *err);
    sr_status (*reservation_get)(void *impl, const char *reservation_id, int64_t now,
                                 sr_ledger_reservation *out, sr_error *err);
    sr_status (*count_open)(void *impl, int64_t now, int64_t *out_count, sr_error *err);
} sr_ledger_backend_ops;

/*
 * Opens a backend: SQLite takes the file path (the URL without "sqlite:"),
 * Redis takes the whole URL.  On success sets *ops and *impl.
 */
sr_status sr_ledger_sqlite_open(const char *path, const sr_ledger_options *options,
                                const sr_ledger_backend_ops **ops, void **impl, sr_error *err);
sr_status sr_ledger_redis_open(const char *url, const sr_ledger_options *options,
                               const sr_ledger_backend_ops **ops, void **impl, sr_error *err);

/*
 * The outcome of settling one reservation, computed from the stored
 * state.  `held` is true when the reservation still counts as reserved
 * (open and unexpired).  `free_micros` is budget - spent - reserved before
 * the settle.  Returns SR_OK with `overdraft` and `late` filled, or
 * SR_ERR_INVALID with `err` filled when a total would pass
 * SR_LEDGER_MAX_TOTAL.  The Redis settle script applies the same rule in
 * Lua; the behaviour suite checks that both agree.
 */
sr_status sr_ledger_rule_settle(bool held, int64_t amount, int64_t actual, int64_t free_micros,
                                int64_t spent, int64_t overdraft_total, int64_t *overdraft,
                                bool *late, sr_error *err);

#endif /* SEQROUTE_LEDGER_BACKEND_H */
