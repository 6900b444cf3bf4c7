/*
 * serve.h - the run-time side of routing: one explained decision for a
 * turn under a session's remaining budget (sr_route_decide), and the HTTP
 * JSON router service of `seqroute serve` (sr_server_*), backed by the
 * budget ledger (seqroute/ledger.h).  docs/SERVE.md describes the API.
 *
 * A route decision is the policy's decision (seqroute/qpolicy.h: the mask
 * ĉ(a) > b and the λ rule) with one more mask: the service reserves a
 * worst-case cost for the chosen model before the call is made, so a model
 * whose reservation exceeds the remaining budget is masked too.  The
 * reservation rule is one of
 *
 *   mean:F     F · ĉ(a), F times the model's mean cost per turn in the
 *              training data (default F = 3; on generated sessions the
 *              99th percentile of a turn's cost is about 2.5 ĉ(a));
 *   tokens:N   the catalogue price of a call with as many input tokens as
 *              the turn text has bytes (a byte-level BPE token is at least
 *              one byte, so this bounds the turn's own tokens) and N
 *              output tokens; a model priced per call reserves that price.
 *
 * When the λ rule's favourite is masked the decision degrades to the best
 * unmasked model and reports why; when every model is masked it is refused.
 *
 * Thread-safety: sr_route_decide uses the policy's scratch buffers, so calls
 * on one sr_qpolicy must not overlap (the server keeps one policy copy per
 * worker thread).  The server's functions are called from one thread.
 */
#ifndef SEQROUTE_SERVE_H
#define SEQROUTE_SERVE_H

#include <jansson.h>

#include "seqroute/common.h"
#include "seqroute/qpolicy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reservations ---------------------------------------------------------- */

typedef enum sr_reserve_rule {
    SR_RESERVE_MEAN = 0,  /* factor · ĉ(a) */
    SR_RESERVE_TOKENS = 1 /* priced: text bytes as input tokens, max_output_tokens output */
} sr_reserve_rule;

typedef struct sr_reserve_config {
    sr_reserve_rule rule;
    double factor;            /* SR_RESERVE_MEAN: >= 1, finite */
    double max_output_tokens; /* SR_RESERVE_TOKENS: > 0, finite */
} sr_reserve_config;

/* Default multiple of ĉ(a) reserved per call (see the note above). */
#define SR_RESERVE_DEFAULT_FACTOR 3.0

/* Fills `config` with the default rule, mean:3. */
void sr_reserve_config_default(sr_reserve_config *config);

/*
 * Parses "mean:F" or "tokens:N" into `config`.  Errors: SR_ERR_INVALID
 * naming the text and the accepted forms (F must be >= 1, N > 0).
 */
sr_status sr_reserve_parse(const char *text, sr_reserve_config *config, sr_error *err);

/*
 * The reservation in cost units for one call of policy model `model` on a
 * turn whose text has `text_bytes` bytes.  Returns NAN when the tokens rule
 * meets a model without usable prices; callers mask such a model.
 */
double sr_reserve_amount(const sr_qpolicy *policy, const sr_reserve_config *config, int model,
                         size_t text_bytes);

/* ---- one decision ------------------------------------------------------------- */

/* Why a model was left out of a decision. */
typedef enum sr_mask_reason {
    SR_MASK_NONE = 0,
    SR_MASK_ESTIMATE = 1, /* its mean cost ĉ(a) exceeds the remaining budget */
    SR_MASK_RESERVE = 2,  /* its worst-case reservation exceeds the remaining budget */
    SR_MASK_UNPRICED = 3  /* the reservation rule cannot price it */
} sr_mask_reason;

/* Stable snake_case name of a mask reason, as it appears in JSON and metrics. */
const char *sr_mask_reason_name(sr_mask_reason reason);

/* What one turn asks for. */
typedef struct sr_route_input {
    const char *text; /* the user turn, `text_len` bytes, or NULL */
    size_t text_len;
    const float *embedding; /* `embedding_dim` floats, or NULL */
    int embedding_dim;
    int turn;         /* 0-based index of the turn in its session */
    double remaining; /* budget left in cost units: budget - spent - reserved */
    double lambda;    /* trade-off of the λ rule, finite */
} sr_route_input;

/* An explained route decision. */
typedef struct sr_route_result {
    sr_decision decision;               /* the policy's own decision (Q values, scores, ĉ mask) */
    int model;                          /* the model to call, or -1 when refused */
    int preferred;                      /* argmax of the λ rule before any mask */
    bool degraded;                      /* preferred was masked; model is the best unmasked one */
    bool refused;                       /* every model is masked */
    double reserve[SR_MAX_MODELS];      /* reservation of each model, cost units */
    sr_mask_reason mask[SR_MAX_MODELS]; /* SR_MASK_NONE for an unmasked model */
} sr_route_result;

/*
 * Floats of feature scratch that sr_route_decide needs for `policy`: the
 * text featuriser's width or the embedding width.
 */
int sr_route_scratch_floats(const sr_qpolicy *policy);

/*
 * Decides for one turn.  Features come from the embedding when the policy
 * was trained on embeddings (it must then have the policy's width) and from
 * the text otherwise; `scratch` holds sr_route_scratch_floats floats.
 * Errors: SR_ERR_INVALID for a missing text or embedding, an embedding of
 * the wrong width or with a non-finite value, a negative turn, a
 * non-finite λ or budget; SR_ERR_UNSUPPORTED for a policy whose features
 * need earlier turns (history mean or concat).  A refusal is not an error:
 * `out->refused` says it.  Not thread-safe on one policy.
 */
sr_status sr_route_decide(sr_qpolicy *policy, const sr_reserve_config *reserve,
                          const sr_route_input *input, float *scratch, sr_route_result *out,
                          sr_error *err);

/*
 * The decision as a new JSON object (the caller owns the reference):
 * model (null when refused), preferred, lambda, turn, remaining, q_values
 * and scores (objects by model name), reserve (the reservation each model
 * would take), masked (a list of {model, reason, estimate, reserve}),
 * degraded, and reason (why the preferred model was replaced, or null).
 * Returns NULL when out of memory.
 */
json_t *sr_route_result_json(const sr_qpolicy *policy, const sr_route_input *input,
                             const sr_route_result *result);

/* ---- the HTTP service ----------------------------------------------------------- */

typedef struct sr_serve_config {
    const char *policy_path;         /* policy file, required */
    const char *host;                /* IPv4 address to listen on (default 127.0.0.1) */
    int port;                        /* TCP port; 0 picks a free one (see sr_server_port) */
    const char *ledger;              /* "sqlite:PATH" or "redis://HOST:PORT" */
    int threads;                     /* worker threads, one policy copy each (default 4) */
    size_t max_body_bytes;           /* largest request body (default 64 KiB) */
    unsigned max_connections;        /* open connections at once (default 256) */
    unsigned timeout_seconds;        /* idle time before a connection is closed (default 10) */
    unsigned drain_seconds;          /* longest wait for requests in flight at stop (default 10) */
    int64_t reservation_ttl_seconds; /* reservations expire after this (default 600) */
    double cached_input_factor;      /* price of a cached input token / an input token (0.5) */
    double default_lambda;           /* λ when a request gives none (default 0) */
    sr_reserve_config reserve;
} sr_serve_config;

/* Fills `config` with the defaults above (no policy; ledger sqlite:seqroute-ledger.db). */
void sr_serve_config_default(sr_serve_config *config);

typedef struct sr_server sr_server;

/*
 * Loads the policy (one copy per thread), opens the ledger and starts
 * listening; requests are answered by libmicrohttpd's internal thread pool
 * from then on.  Logs "serve_start".  Errors: SR_ERR_INVALID for a bad
 * configuration or policy file, SR_ERR_UNSUPPORTED for a policy the service
 * cannot feed, SR_ERR_UNAVAILABLE when the ledger cannot be opened,
 * SR_ERR_IO when the address cannot be bound, SR_ERR_NOMEM.  On failure
 * nothing is left running.
 */
sr_status sr_server_start(const sr_serve_config *config, sr_server **out, sr_error *err);

/* The TCP port the server listens on. */
int sr_server_port(const sr_server *server);

/*
 * Stops accepting connections, waits up to drain_seconds for requests in
 * flight to finish, stops the threads, closes the ledger and frees
 * everything.  Logs "serve_stop".  NULL is a no-op.
 */
void sr_server_stop(sr_server *server);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_SERVE_H */
