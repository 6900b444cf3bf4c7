/*
 * serve_metrics.c - the counters of the router service and their Prometheus
 * text form (GET /metrics).
 *
 * Metric names carry the seqroute_ prefix; counters end in _total, the
 * ledger latency histogram is in seconds with cumulative buckets, as the
 * Prometheus exposition format requires.
 */
#include "serve_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double LEDGER_BUCKETS[SERVE_N_LEDGER_BUCKETS] = SERVE_LEDGER_BUCKETS;
static const unsigned STATUSES[SERVE_N_STATUSES] = SERVE_STATUSES;
static const char *const REFUSAL_NAMES[SERVE_REFUSAL_COUNT] = {"no_affordable_model", "contention"};

void serve_metrics_init(serve_metrics *metrics, const sr_qpolicy *policy)
{
    metrics->policy = policy;
    for (int i = 0; i < SR_MAX_MODELS; i++)
        atomic_init(&metrics->decisions[i], 0);
    for (int i = 0; i < 4; i++)
        atomic_init(&metrics->degradations[i], 0);
    for (int i = 0; i < SERVE_REFUSAL_COUNT; i++)
        atomic_init(&metrics->refusals[i], 0);
    atomic_init(&metrics->overdrafts, 0);
    for (int i = 0; i <= SERVE_N_STATUSES; i++)
        atomic_init(&metrics->responses[i], 0);
    for (int i = 0; i <= SERVE_N_LEDGER_BUCKETS; i++)
        atomic_init(&metrics->ledger_buckets[i], 0);
    atomic_init(&metrics->ledger_calls, 0);
    atomic_init(&metrics->ledger_nanoseconds, 0);
}

void serve_metrics_ledger(serve_metrics *metrics, uint64_t nanoseconds)
{
    const double seconds = (double)nanoseconds / 1e9;
    int bucket = 0;
    while (bucket < SERVE_N_LEDGER_BUCKETS && seconds > LEDGER_BUCKETS[bucket])
        bucket++;
    atomic_fetch_add_explicit(&metrics->ledger_buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&metrics->ledger_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&metrics->ledger_nanoseconds, nanoseconds, memory_order_relaxed);
}

void serve_metrics_response(serve_metrics *metrics, unsigned status)
{
    int slot = SERVE_N_STATUSES;
    for (int i = 0; i < SERVE_N_STATUSES; i++)
        if (STATUSES[i] == status)
            slot = i;
    atomic_fetch_add_explicit(&metrics->responses[slot], 1, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *counter)
{
    return (uint64_t)atomic_load_explicit(counter, memory_order_relaxed);
}

/* Writes `name` as a Prometheus label value: backslash, quote and newline escaped. */
static void put_label(FILE *out, const char *name)
{
    for (const char *p = name; *p; p++) {
        if (*p == '\\' || *p == '"')
            fputc('\\', out);
        if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}

char *serve_metrics_render(serve_metrics *metrics, int64_t open_reservations, size_t *out_length)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (!out)
        return NULL;
    const sr_qpolicy *policy = metrics->policy;

    fputs("# HELP seqroute_decisions_total Route requests admitted, by chosen model.\n"
          "# TYPE seqroute_decisions_total counter\n",
          out);
    for (int a = 0; a < policy->n_models; a++) {
        fputs("seqroute_decisions_total{model=\"", out);
        put_label(out, policy->models[a].name);
        fprintf(out, "\"} %llu\n", (unsigned long long)load(&metrics->decisions[a]));
    }

    fputs("# HELP seqroute_degradations_total Decisions whose preferred model was masked, by "
          "reason.\n# TYPE seqroute_degradations_total counter\n",
          out);
    for (int r = SR_MASK_ESTIMATE; r <= SR_MASK_UNPRICED; r++)
        fprintf(out, "seqroute_degradations_total{reason=\"%s\"} %llu\n",
                sr_mask_reason_name((sr_mask_reason)r),
                (unsigned long long)load(&metrics->degradations[r]));

    fputs("# HELP seqroute_refusals_total Route requests refused, by reason.\n"
          "# TYPE seqroute_refusals_total counter\n",
          out);
    for (int r = 0; r < SERVE_REFUSAL_COUNT; r++)
        fprintf(out, "seqroute_refusals_total{reason=\"%s\"} %llu\n", REFUSAL_NAMES[r],
                (unsigned long long)load(&metrics->refusals[r]));

    fputs("# HELP seqroute_overdrafts_total Settles whose cost exceeded what was held.\n"
          "# TYPE seqroute_overdrafts_total counter\n",
          out);
    fprintf(out, "seqroute_overdrafts_total %llu\n",
            (unsigned long long)load(&metrics->overdrafts));

    fputs("# HELP seqroute_reservations_open Open, unexpired reservations in the ledger.\n"
          "# TYPE seqroute_reservations_open gauge\n",
          out);
    if (open_reservations >= 0)
        fprintf(out, "seqroute_reservations_open %lld\n", (long long)open_reservations);
    else
        fputs("seqroute_reservations_open NaN\n", out);

    fputs("# HELP seqroute_http_responses_total Responses sent, by HTTP status.\n"
          "# TYPE seqroute_http_responses_total counter\n",
          out);
    for (int i = 0; i < SERVE_N_STATUSES; i++)
        fprintf(out, "seqroute_http_responses_total{code=\"%u\"} %llu\n", STATUSES[i],
                (unsigned long long)load(&metrics->responses[i]));
    fprintf(out, "seqroute_http_responses_total{code=\"other\"} %llu\n",
            (unsigned long long)load(&metrics->responses[SERVE_N_STATUSES]));

    fputs("# HELP seqroute_ledger_seconds Time of one ledger call.\n"
          "# TYPE seqroute_ledger_seconds histogram\n",
          out);
    uint64_t cumulative = 0;
    for (int b = 0; b < SERVE_N_LEDGER_BUCKETS; b++) {
        cumulative += load(&metrics->ledger_buckets[b]);
        fprintf(out, "seqroute_ledger_seconds_bucket{le=\"%g\"} %llu\n", LEDGER_BUCKETS[b],
                (unsigned long long)cumulative);
    }
    cumulative += load(&metrics->ledger_buckets[SERVE_N_LEDGER_BUCKETS]);
    fprintf(out, "seqroute_ledger_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)cumulative);
    fprintf(out, "seqroute_ledger_seconds_sum %.9f\n",
            (double)load(&metrics->ledger_nanoseconds) / 1e9);
    fprintf(out, "seqroute_ledger_seconds_count %llu\n", (unsigned long long)cumulative);

    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    *out_length = length;
    return text;
}
