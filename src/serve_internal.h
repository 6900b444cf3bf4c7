/*
 * serve_internal.h - pieces of the router service shared between its files:
 * the metrics the handlers count and /metrics renders (serve_metrics.c).
 *
 * Counters are C11 atomics updated with relaxed ordering: each is an
 * independent tally, and a scrape that reads one counter a request ahead of
 * another is fine for Prometheus.
 */
#ifndef SEQROUTE_SERVE_INTERNAL_H
#define SEQROUTE_SERVE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "seqroute/serve.h"

/* Why a route request was refused; the label values of seqroute_refusals_total. */
typedef enum serve_refusal {
    SERVE_REFUSAL_NO_AFFORDABLE_MODEL = 0, /* every model masked */
    SERVE_REFUSAL_CONTENTION = 1,          /* the ledger kept rejecting under concurrency */
    SERVE_REFUSAL_COUNT = 2
} serve_refusal;

/* Upper bounds in seconds of the ledger latency histogram (a +Inf bucket follows). */
#define SERVE_LEDGER_BUCKETS                                                                       \
    {                                                                                              \
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0           \
    }
#define SERVE_N_LEDGER_BUCKETS 12

/* HTTP statuses the service answers with, for seqroute_http_responses_total. */
#define SERVE_STATUSES                                                                             \
    {                                                                                              \
        200, 201, 400, 402, 404, 405, 409, 413, 422, 500, 503                                      \
    }
#define SERVE_N_STATUSES 11

typedef struct serve_metrics {
    const sr_qpolicy *policy; /* model names of the labels */
    atomic_uint_fast64_t decisions[SR_MAX_MODELS];
    atomic_uint_fast64_t degradations[4]; /* by sr_mask_reason of the preferred model */
    atomic_uint_fast64_t refusals[SERVE_REFUSAL_COUNT];
    atomic_uint_fast64_t overdrafts;
    atomic_uint_fast64_t responses[SERVE_N_STATUSES + 1]; /* last: any other status */
    atomic_uint_fast64_t ledger_buckets[SERVE_N_LEDGER_BUCKETS + 1];
    atomic_uint_fast64_t ledger_calls;
    atomic_uint_fast64_t ledger_nanoseconds;
} serve_metrics;

/* Zeroes every counter and remembers the policy whose model names label them. */
void serve_metrics_init(serve_metrics *metrics, const sr_qpolicy *policy);

/* Counts one ledger call that took `nanoseconds`. */
void serve_metrics_ledger(serve_metrics *metrics, uint64_t nanoseconds);

/* Counts one response with HTTP `status`. */
void serve_metrics_response(serve_metrics *metrics, unsigned status);

/*
 * Renders the metrics in the Prometheus text format (version 0.0.4) into a
 * malloc'd string the caller frees; `open_reservations` is the ledger's
 * count, or -1 when it could not be read.  Returns NULL when out of memory.
 */
char *serve_metrics_render(serve_metrics *metrics, int64_t open_reservations, size_t *out_length);

#endif /* SEQROUTE_SERVE_INTERNAL_H */
