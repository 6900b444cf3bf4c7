/*
 * serve.c - the router service: HTTP/1.1 JSON endpoints over libmicrohttpd,
 * decisions with sr_route_decide, budgets in the ledger (seqroute/ledger.h).
 *
 * Threads.  libmicrohttpd runs an internal pool of `threads` threads, each
 * with its own epoll set (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
 * with MHD_OPTION_THREAD_POOL_SIZE); a handler runs to completion on the
 * thread that read its request.  Decisions use a policy's scratch buffers,
 * so the server loads one policy copy per thread into a pool of workers
 * and a handler borrows one only for the decision itself, never across a
 * ledger call.  The ledger handle serialises its own calls.
 *
 * What the service keeps.  Nothing about sessions lives in the process:
 * budgets, spend and reservations are in the ledger, so a restart or a
 * second process sharing Redis reads the same state.  The turn index the
 * policy sees is the request's "turn" when given, and otherwise the
 * session's count of admitted reservations in the ledger (one per routed
 * turn).  The ledger stores the chosen model's name on the reservation, so
 * a settle by token usage knows which prices apply.  The reservation id is
 * the request id when one is given (a retried route then returns the same
 * reservation) and 16 random hex digits otherwise.  Reservations made
 * before the model was stored have ids "BASE.K" for policy model K; a
 * settle by usage still reads K from such an id.
 *
 * Route.  Read the session's remaining budget, decide, reserve the chosen
 * model's worst-case cost.  The reserve step is the ledger's atomic
 * check-and-reserve; when a concurrent request took the budget in between,
 * the ledger rejects, and the handler reads the totals again and decides
 * again, up to ROUTE_ATTEMPTS times.
 *
 * Limits.  Bodies above max_body_bytes are refused with 413 (at once when the
 * client waits for 100 Continue, otherwise after reading and dropping the rest);
 * libmicrohttpd enforces the connection limit and the idle timeout; each
 * ledger call has the ledger's own time limits.
 *
 * Shutdown.  sr_server_stop quiesces the listening socket, waits for the
 * requests in flight (counted from a request's first callback to its
 * completion callback) up to drain_seconds, then stops the threads.
 */
#include "seqroute/serve.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "seqroute/ledger.h"
#include "serve_internal.h"

/* Decide-and-reserve rounds before a route gives up under contention. */
#define ROUTE_ATTEMPTS 4

/* Largest token count in a usage object: far above any context window, small enough to price
 * exactly. */
#define MAX_USAGE_TOKENS 1e12

/* Hex digits of a reservation id the service makes up: 64 random bits. */
#define RANDOM_ID_BYTES 8

/* A policy copy and its feature scratch, lent to one handler at a time. */
typedef struct serve_worker {
    sr_qpolicy *policy;
    float *scratch;
} serve_worker;

struct sr_server {
    sr_serve_config config;
    char *policy_path; /* owned copies of the config's strings */
    char *host;
    char *ledger_url;

    struct MHD_Daemon *daemon;
    sr_ledger *ledger;
    int port;

    serve_worker *workers;
    int n_workers;
    int *free_workers; /* stack of indices of idle workers */
    int n_free;
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_ready;

    serve_metrics metrics;
    atomic_int in_flight;
    atomic_uint_fast64_t requests;
};

/* Per-request state, from the first callback to the completion callback. */
typedef struct serve_request {
    char *body;
    size_t size;
    size_t capacity;
    bool too_large;
    bool answered; /* an early response was queued */
} serve_request;

/* A response being built: status, body, and the error code when it is an error. */
typedef struct serve_reply {
    unsigned status;
    json_t *body;
} serve_reply;

/* ---- small helpers ---------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Copies `text` to the log without quotes, backslashes or control bytes breaking the line. */
static void log_safe(char *out, size_t size, const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < size; p++) {
        const unsigned char c = (unsigned char)*p;
        out[n++] = (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) ? '\'' : (char)c;
    }
    out[n] = '\0';
}

/* Fills `reply` with the error body {"error": {"code", "message"}} and logs it. */
static void reply_error(serve_reply *reply, unsigned status, const char *code, const char *method,
                        const char *url, const char *format, ...)
    __attribute__((format(printf, 6, 7)));

static void reply_error(serve_reply *reply, unsigned status, const char *code, const char *method,
                        const char *url, const char *format, ...)
{
    char message[SR_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);

    /* Messages may quote request bytes; keep the JSON body valid UTF-8 whatever they are. */
    for (char *p = message; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';

    char safe_message[SR_ERROR_MESSAGE_MAX];
    char safe_url[256];
    log_safe(safe_message, sizeof(safe_message), message);
    log_safe(safe_url, sizeof(safe_url), url);
    sr_log(status >= 500 ? SR_LOG_ERROR : SR_LOG_WARN,
           "request_error method=%s path=%s status=%u code=%s message=\"%s\"", method, safe_url,
           status, code, safe_message);

    json_decref(reply->body);
    reply->status = status;
    reply->body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}

/* Maps a ledger failure to an HTTP error. */
static void reply_ledger_error(serve_reply *reply, const sr_error *err, const char *not_found,
                               const char *method, const char *url)
{
    unsigned status = 500;
    const char *code = "internal";
    switch (err->status) {
    case SR_ERR_INVALID:
        status = 400;
        code = "invalid_field";
        break;
    case SR_ERR_NOT_FOUND:
        status = 404;
        code = not_found;
        break;
    case SR_ERR_CONFLICT:
        status = 409;
        code = "conflict";
        break;
    case SR_ERR_REJECTED:
        status = 402;
        code = "over_budget";
        break;
    case SR_ERR_UNAVAILABLE:
    case SR_ERR_IO:
        status = 503;
        code = "ledger_unavailable";
        break;
    default:
        break;
    }
    reply_error(reply, status, code, method, url, "%s",
                err->message[0] ? err->message : sr_status_name(err->status));
}

/* Start time of the ledger call this thread is making (calls never nest). */
static _Thread_local uint64_t ledger_started;

/* Records the ledger call that started at `ledger_started` and passes its status on. */
static sr_status ledger_finish(sr_server *server, sr_status status)
{
    serve_metrics_ledger(&server->metrics, now_ns() - ledger_started);
    return status;
}

/*
 * Times one ledger call for the histogram.  The comma operator reads the
 * clock before `call` runs, which function arguments alone would not order.
 */
#define LEDGER_CALL(server, call) (ledger_started = now_ns(), ledger_finish((server), (call)))

static double units(int64_t micros)
{
    return sr_ledger_micros_to_cost(micros);
}

/* Session totals as JSON: amounts in cost units and, exactly, in micro-units. */
static json_t *session_json(const sr_ledger_session *s)
{
    return json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id",
                     s->id, "budget", units(s->budget), "spent", units(s->spent), "reserved",
                     units(s->reserved), "remaining", units(s->remaining), "overdraft",
                     units(s->overdraft), "open_reservations", (json_int_t)s->open_reservations,
                     "reservations_admitted", (json_int_t)s->reservations_admitted, "budget_micro",
                     (json_int_t)s->budget, "spent_micro", (json_int_t)s->spent, "reserved_micro",
                     (json_int_t)s->reserved, "remaining_micro", (json_int_t)s->remaining,
                     "overdraft_micro", (json_int_t)s->overdraft);
}

/* ---- request fields --------------------------------------------------------------- */

/*
 * Reads string field `key`: NULL with no error when absent and optional; an
 * error reply when present with another type or absent and required.
 */
static bool field_string(const json_t *body, const char *key, bool required, const char **out,
                         serve_reply *reply, const char *method, const char *url)
{
    const json_t *value = json_object_get(body, key);
    *out = NULL;
    if (!value || json_is_null(value)) {
        if (!required)
            return true;
        reply_error(reply, 400, "missing_field", method, url, "field %s is required", key);
        return false;
    }
    if (!json_is_string(value)) {
        reply_error(reply, 400, "invalid_field", method, url, "field %s must be a string", key);
        return false;
    }
    *out = json_string_value(value);
    return true;
}

/* Reads number field `key` (integer or real, finite); `*present` says whether it was given. */
static bool field_number(const json_t *body, const char *key, bool required, double *out,
                         bool *present, serve_reply *reply, const char *method, const char *url)
{
    const json_t *value = json_object_get(body, key);
    *present = false;
    if (!value || json_is_null(value)) {
        if (!required)
            return true;
        reply_error(reply, 400, "missing_field", method, url, "field %s is required", key);
        return false;
    }
    if (!json_is_number(value) || !isfinite(json_number_value(value))) {
        reply_error(reply, 400, "invalid_field", method, url, "field %s must be a finite number",
                    key);
        return false;
    }
    *out = json_number_value(value);
    *present = true;
    return true;
}

/* Checks an id the service builds keys from: 1..max printable ASCII bytes, no spaces. */
static bool valid_id(const char *id, size_t max)
{
    const size_t n = strlen(id);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
            return false;
    return true;
}

/* ---- workers ---------------------------------------------------------------------- */

static serve_worker *worker_acquire(sr_server *server)
{
    pthread_mutex_lock(&server->pool_lock);
    while (server->n_free == 0)
        pthread_cond_wait(&server->pool_ready, &server->pool_lock);
    serve_worker *worker = &server->workers[server->free_workers[--server->n_free]];
    pthread_mutex_unlock(&server->pool_lock);
    return worker;
}

static void worker_release(sr_server *server, serve_worker *worker)
{
    pthread_mutex_lock(&server->pool_lock);
    server->free_workers[server->n_free++] = (int)(worker - server->workers);
    pthread_cond_signal(&server->pool_ready);
    pthread_mutex_unlock(&server->pool_lock);
}

/* ---- handlers --------------------------------------------------------------------- */

static void handle_session_create(sr_server *server, const json_t *body, serve_reply *reply,
                                  const char *method, const char *url)
{
    const char *id = NULL;
    double budget = 0;
    bool has_budget = false;
    if (!field_string(body, "id", true, &id, reply, method, url) ||
        !field_number(body, "budget", true, &budget, &has_budget, reply, method, url))
        return;
    if (!valid_id(id, SR_LEDGER_ID_MAX)) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field id must be 1 to %d printable ASCII characters", SR_LEDGER_ID_MAX);
        return;
    }

    sr_error err;
    sr_error_clear(&err);
    int64_t micros = 0;
    if (sr_ledger_micros_from_budget(budget, "budget", &micros, &err) != SR_OK) {
        reply_error(reply, 400, "invalid_field", method, url, "%s", err.message);
        return;
    }
    sr_ledger_session session;
    bool created = false;
    if (LEDGER_CALL(server, sr_ledger_session_create(server->ledger, id, micros, &session, &created,
                                                     &err)) != SR_OK) {
        reply_ledger_error(reply, &err, "unknown_session", method, url);
        return;
    }
    reply->status = created ? 201 : 200;
    reply->body = session_json(&session);
    if (reply->body)
        json_object_set_new(reply->body, "created", json_boolean(created));
}

static void handle_session_get(sr_server *server, const char *id, serve_reply *reply,
                               const char *method, const char *url)
{
    sr_error err;
    sr_error_clear(&err);
    sr_ledger_session session;
    if (LEDGER_CALL(server, sr_ledger_session_get(server->ledger, id, &session, &err)) != SR_OK) {
        reply_ledger_error(reply, &err, "unknown_session", method, url);
        return;
    }
    reply->status = 200;
    reply->body = session_json(&session);
}

/* Reads the embedding array into a malloc'd float array; false with a reply on error. */
static bool field_embedding(const json_t *body, float **out, int *dim, serve_reply *reply,
                            const char *method, const char *url)
{
    const json_t *value = json_object_get(body, "embedding");
    *out = NULL;
    *dim = 0;
    if (!value || json_is_null(value))
        return true;
    if (!json_is_array(value)) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field embedding must be an array of numbers");
        return false;
    }
    const size_t n = json_array_size(value);
    if (n == 0 || n > SR_MAX_EMBEDDING_DIM) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field embedding has %zu values; give 1 to %d", n, SR_MAX_EMBEDDING_DIM);
        return false;
    }
    float *values = malloc(n * sizeof(float));
    if (!values) {
        reply_error(reply, 500, "internal", method, url, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(value, i);
        const double x = json_is_number(item) ? json_number_value(item) : NAN;
        if (!isfinite(x) || fabs(x) > 3.0e38) {
            free(values);
            reply_error(reply, 400, "invalid_field", method, url,
                        "embedding value %zu must be a finite number", i);
            return false;
        }
        values[i] = (float)x;
    }
    *out = values;
    *dim = (int)n;
    return true;
}

/* Adds the route response fields of an admitted reservation to `json`. */
static void route_reply_fields(const sr_qpolicy *policy, json_t *json,
                               const sr_ledger_reservation *reservation, int model,
                               const char *session_id, bool replayed)
{
    json_object_set_new(json, "model", json_string(policy->models[model].name));
    json_object_set_new(json, "session_id", json_string(session_id));
    json_object_set_new(json, "reservation_id", json_string(reservation->id));
    json_object_set_new(json, "reserved", json_real(units(reservation->amount)));
    json_object_set_new(json, "reserved_micro", json_integer(reservation->amount));
    json_object_set_new(json, "remaining", json_real(units(reservation->session.remaining)));
    json_object_set_new(json, "remaining_micro", json_integer(reservation->session.remaining));
    json_object_set_new(json, "expires_at_ms", json_integer(reservation->expires_at_ms));
    json_object_set_new(json, "state", json_string(sr_ledger_state_name(reservation->state)));
    json_object_set_new(json, "replayed", json_boolean(replayed));
}

/*
 * The policy model a reservation was made for: the stored model name, or
 * for a reservation from before names were stored, K of its id "BASE.K".
 * Returns -1 when neither names a model of this policy.
 */
static int reservation_model(const sr_qpolicy *policy, const sr_ledger_reservation *reservation)
{
    if (reservation->model[0] != '\0') {
        for (int k = 0; k < policy->n_models; k++)
            if (strcmp(policy->models[k].name, reservation->model) == 0)
                return k;
        return -1;
    }

    const char *dot = strrchr(reservation->id, '.');
    if (!dot || dot[1] < '0' || dot[1] > '9')
        return -1;
    char *end = NULL;
    const long k = strtol(dot + 1, &end, 10);
    if (*end != '\0' || k >= policy->n_models)
        return -1;
    return (int)k;
}

/*
 * A retried route: reservation `request_id` exists.  Fills `reply` and
 * returns true when found; false (reply untouched) when not.
 */
static bool route_replay(sr_server *server, const char *request_id, const char *session_id,
                         serve_reply *reply, const char *method, const char *url)
{
    const sr_qpolicy *policy = server->workers[0].policy;
    sr_error err;
    sr_error_clear(&err);
    sr_ledger_reservation reservation;
    const sr_status status = LEDGER_CALL(
        server, sr_ledger_reservation_get(server->ledger, request_id, &reservation, &err));
    if (status == SR_ERR_NOT_FOUND)
        return false;
    if (status != SR_OK) {
        reply_ledger_error(reply, &err, "unknown_reservation", method, url);
        return true;
    }
    if (strcmp(reservation.session_id, session_id) != 0) {
        reply_error(reply, 409, "conflict", method, url,
                    "request_id %s was used for session %s, not %s", request_id,
                    reservation.session_id, session_id);
        return true;
    }
    const int model = reservation_model(policy, &reservation);
    if (model < 0) {
        reply_error(reply, 409, "conflict", method, url,
                    "request_id %s names a reservation for model '%s', which this policy does "
                    "not have; use a new request_id",
                    request_id, reservation.model);
        return true;
    }
    reply->status = 200;
    reply->body =
        json_pack("{s:{}, s:[], s:b, s:n}", "q_values", "masked", "degraded", 0, "reason");
    if (reply->body)
        route_reply_fields(policy, reply->body, &reservation, model, session_id, true);
    return true;
}

static void handle_route(sr_server *server, const json_t *body, serve_reply *reply,
                         const char *method, const char *url)
{
    const char *session_id = NULL;
    const char *text = NULL;
    const char *request_id = NULL;
    double lambda = server->config.default_lambda;
    double turn = 0;
    bool has_lambda = false;
    bool has_turn = false;
    float *embedding = NULL;
    int embedding_dim = 0;

    /* Validate the request. */
    if (!field_string(body, "session_id", true, &session_id, reply, method, url) ||
        !field_string(body, "text", false, &text, reply, method, url) ||
        !field_string(body, "request_id", false, &request_id, reply, method, url) ||
        !field_number(body, "lambda", false, &lambda, &has_lambda, reply, method, url) ||
        !field_number(body, "turn", false, &turn, &has_turn, reply, method, url))
        return;
    if (!has_lambda)
        lambda = server->config.default_lambda;
    if (has_turn && (turn < 0 || turn >= SR_MAX_TURNS || turn != floor(turn))) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field turn must be a whole number from 0 to %d", SR_MAX_TURNS - 1);
        return;
    }
    if (!valid_id(session_id, SR_LEDGER_ID_MAX)) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field session_id must be 1 to %d printable ASCII characters",
                    SR_LEDGER_ID_MAX);
        return;
    }
    if (request_id && !valid_id(request_id, SR_LEDGER_ID_MAX)) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field request_id must be 1 to %d printable ASCII characters",
                    SR_LEDGER_ID_MAX);
        return;
    }
    if (!field_embedding(body, &embedding, &embedding_dim, reply, method, url))
        return;
    const json_t *text_value = json_object_get(body, "text");
    const size_t text_len = text ? json_string_length(text_value) : 0;

    /* A retried request id returns its reservation. */
    if (request_id && route_replay(server, request_id, session_id, reply, method, url)) {
        free(embedding);
        return;
    }
    char id[SR_LEDGER_ID_MAX + 1];
    if (request_id) {
        snprintf(id, sizeof(id), "%s", request_id);
    } else {
        uint8_t random_bytes[RANDOM_ID_BYTES];
        if (getrandom(random_bytes, sizeof(random_bytes), 0) != (ssize_t)sizeof(random_bytes)) {
            free(embedding);
            reply_error(reply, 500, "internal", method, url, "no random bytes for an id");
            return;
        }
        for (int i = 0; i < RANDOM_ID_BYTES; i++)
            snprintf(id + 2 * i, 3, "%02x", random_bytes[i]);
    }

    /* Decide and reserve, again when a concurrent request took the budget first. */
    sr_error err;
    sr_error_clear(&err);
    for (int attempt = 0; attempt < ROUTE_ATTEMPTS; attempt++) {
        sr_ledger_session session;
        if (LEDGER_CALL(server, sr_ledger_session_get(server->ledger, session_id, &session,
                                                      &err)) != SR_OK) {
            reply_ledger_error(reply, &err, "unknown_session", method, url);
            break;
        }

        /* Without a request turn, the turn is the number of routes admitted so far. */
        if (!has_turn)
            turn = session.reservations_admitted < SR_MAX_TURNS - 1
                       ? (double)session.reservations_admitted
                       : SR_MAX_TURNS - 1;

        serve_worker *worker = worker_acquire(server);
        const sr_route_input input = {.text = text,
                                      .text_len = text_len,
                                      .embedding = embedding,
                                      .embedding_dim = embedding_dim,
                                      .turn = (int)turn,
                                      .remaining =
                                          session.remaining > 0 ? units(session.remaining) : 0.0,
                                      .lambda = lambda};
        sr_route_result result;
        const sr_status decided = sr_route_decide(worker->policy, &server->config.reserve, &input,
                                                  worker->scratch, &result, &err);
        json_t *explained =
            decided == SR_OK ? sr_route_result_json(worker->policy, &input, &result) : NULL;
        worker_release(server, worker);
        const sr_qpolicy *policy = server->workers[0].policy;

        if (decided != SR_OK) {
            reply_error(reply, decided == SR_ERR_UNSUPPORTED ? 422 : 400,
                        decided == SR_ERR_UNSUPPORTED ? "unsupported" : "invalid_field", method,
                        url, "%s", err.message);
            break;
        }
        if (!explained) {
            reply_error(reply, 500, "internal", method, url, "out of memory");
            break;
        }
        if (result.refused) {
            atomic_fetch_add(&server->metrics.refusals[SERVE_REFUSAL_NO_AFFORDABLE_MODEL], 1);
            reply_error(reply, 402, "no_affordable_model", method, url,
                        "session %s has %.6f %s remaining; no model's reservation fits "
                        "(the cheapest needs %.6f)",
                        session_id, input.remaining, policy->cost_unit,
                        result.reserve[result.decision.model]);
            if (reply->body)
                json_object_set_new(reply->body, "decision", explained);
            else
                json_decref(explained);
            break;
        }

        int64_t amount = 0;
        if (sr_ledger_micros_from_cost(result.reserve[result.model], "reserved", &amount, &err) !=
            SR_OK) {
            json_decref(explained);
            reply_error(reply, 500, "internal", method, url, "%s", err.message);
            break;
        }
        sr_ledger_reservation reservation;
        const sr_status reserved = LEDGER_CALL(
            server, sr_ledger_reserve_model(server->ledger, session_id, id, amount,
                                            server->config.reservation_ttl_seconds * 1000,
                                            policy->models[result.model].name, &reservation, &err));
        if (reserved == SR_ERR_REJECTED) {
            json_decref(explained);
            if (attempt + 1 < ROUTE_ATTEMPTS)
                continue;
            atomic_fetch_add(&server->metrics.refusals[SERVE_REFUSAL_CONTENTION], 1);
            reply_error(reply, 402, "no_affordable_model", method, url,
                        "session %s: the budget was taken by concurrent requests; %s", session_id,
                        err.message);
            break;
        }
        /* A concurrent retry of the same request reserved first: return its reservation. */
        if (reserved == SR_ERR_CONFLICT && request_id) {
            json_decref(explained);
            if (!route_replay(server, request_id, session_id, reply, method, url))
                reply_ledger_error(reply, &err, "unknown_session", method, url);
            break;
        }
        if (reserved != SR_OK) {
            json_decref(explained);
            reply_ledger_error(reply, &err, "unknown_session", method, url);
            break;
        }

        atomic_fetch_add(&server->metrics.decisions[result.model], 1);
        if (result.degraded)
            atomic_fetch_add(&server->metrics.degradations[result.mask[result.preferred]], 1);
        route_reply_fields(policy, explained, &reservation, result.model, session_id,
                           reservation.replayed);
        json_object_set_new(explained, "turn_source", json_string(has_turn ? "request" : "ledger"));
        reply->status = 200;
        reply->body = explained;
        break;
    }
    free(embedding);
}

/* Reads a token count of the usage object: absent is 0. */
static bool usage_tokens(const json_t *usage, const char *key, double *out, serve_reply *reply,
                         const char *method, const char *url)
{
    const json_t *value = json_object_get(usage, key);
    *out = 0;
    if (!value)
        return true;
    const double x = json_is_number(value) ? json_number_value(value) : NAN;
    if (!isfinite(x) || x < 0 || x != floor(x) || x > MAX_USAGE_TOKENS) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field usage.%s must be a whole number from 0 to %.0f", key, MAX_USAGE_TOKENS);
        return false;
    }
    *out = x;
    return true;
}

static void handle_settle(sr_server *server, const json_t *body, serve_reply *reply,
                          const char *method, const char *url)
{
    const char *id = NULL;
    double cost = 0;
    bool has_cost = false;
    if (!field_string(body, "reservation_id", true, &id, reply, method, url))
        return;
    const json_t *cost_value = json_object_get(body, "cost");
    if (cost_value && !json_is_null(cost_value) && !json_is_number(cost_value)) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field cost must be a number (the actual cost in cost units)");
        return;
    }
    if (!field_number(body, "cost", false, &cost, &has_cost, reply, method, url))
        return;
    const json_t *usage = json_object_get(body, "usage");
    if (usage && json_is_null(usage))
        usage = NULL;
    if (has_cost == (usage != NULL)) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "give exactly one of cost (the actual cost) and usage (token counts)");
        return;
    }

    /* The actual cost: given, or priced from usage with the reserved model's prices. */
    const sr_qpolicy *policy = server->workers[0].policy;
    double input = 0, cached = 0, output = 0;
    sr_error err;
    sr_error_clear(&err);
    if (usage) {
        if (!json_is_object(usage)) {
            reply_error(reply, 400, "invalid_field", method, url,
                        "field usage must be an object with input_tokens, cached_input_tokens "
                        "and output_tokens");
            return;
        }
        if (!usage_tokens(usage, "input_tokens", &input, reply, method, url) ||
            !usage_tokens(usage, "cached_input_tokens", &cached, reply, method, url) ||
            !usage_tokens(usage, "output_tokens", &output, reply, method, url))
            return;
        sr_ledger_reservation stored;
        if (LEDGER_CALL(server, sr_ledger_reservation_get(server->ledger, id, &stored, &err)) !=
            SR_OK) {
            reply_ledger_error(reply, &err, "unknown_reservation", method, url);
            return;
        }
        const int model = reservation_model(policy, &stored);
        if (model < 0) {
            reply_error(reply, 422, "unpriced_model", method, url,
                        "reservation %s names no model of this policy (stored model '%s'); "
                        "settle it with cost",
                        id, stored.model);
            return;
        }
        const sr_qpolicy_model *m = &policy->models[model];
        if (isfinite(m->cost_per_call))
            cost = m->cost_per_call;
        else if (isfinite(m->input_price) && isfinite(m->output_price))
            cost = input * m->input_price / 1e6 +
                   cached * m->input_price * server->config.cached_input_factor / 1e6 +
                   output * m->output_price / 1e6;
        else {
            reply_error(reply, 422, "unpriced_model", method, url,
                        "model %s has no token prices in the policy's catalogue; settle with "
                        "cost",
                        m->name);
            return;
        }
    }
    if (cost < 0) {
        reply_error(reply, 400, "invalid_field", method, url,
                    "field cost is %g; a cost must be zero or more", cost);
        return;
    }

    int64_t micros = 0;
    if (sr_ledger_micros_from_cost(cost, "cost", &micros, &err) != SR_OK) {
        reply_error(reply, 400, "invalid_field", method, url, "%s", err.message);
        return;
    }
    sr_ledger_reservation r;
    if (LEDGER_CALL(server, sr_ledger_settle(server->ledger, id, micros, &r, &err)) != SR_OK) {
        reply_ledger_error(reply, &err, "unknown_reservation", method, url);
        return;
    }
    if (r.overdraft > 0 && !r.replayed) {
        atomic_fetch_add(&server->metrics.overdrafts, 1);
        sr_log(SR_LOG_WARN, "settle_overdraft reservation=%s session=%s overdraft_micro=%" PRId64,
               r.id, r.session_id, r.overdraft);
    }
    reply->status = 200;
    reply->body = json_pack(
        "{s:s, s:s, s:s, s:f, s:I, s:f, s:I, s:f, s:I, s:b, s:b, s:b, s:f, s:I}", "reservation_id",
        r.id, "session_id", r.session_id, "state", sr_ledger_state_name(r.state), "actual",
        units(r.actual), "actual_micro", (json_int_t)r.actual, "reserved", units(r.amount),
        "reserved_micro", (json_int_t)r.amount, "overdraft", units(r.overdraft), "overdraft_micro",
        (json_int_t)r.overdraft, "overdrawn", r.overdraft > 0, "late", r.late, "replayed",
        r.replayed, "remaining", units(r.session.remaining), "remaining_micro",
        (json_int_t)r.session.remaining);
    const int model = reservation_model(policy, &r);
    if (reply->body && (model >= 0 || r.model[0] != '\0'))
        json_object_set_new(reply->body, "model",
                            json_string(model >= 0 ? policy->models[model].name : r.model));
}

static void handle_release(sr_server *server, const json_t *body, serve_reply *reply,
                           const char *method, const char *url)
{
    const char *id = NULL;
    if (!field_string(body, "reservation_id", true, &id, reply, method, url))
        return;
    sr_error err;
    sr_error_clear(&err);
    sr_ledger_reservation r;
    if (LEDGER_CALL(server, sr_ledger_release(server->ledger, id, &r, &err)) != SR_OK) {
        reply_ledger_error(reply, &err, "unknown_reservation", method, url);
        return;
    }
    reply->status = 200;
    reply->body = json_pack("{s:s, s:s, s:s, s:b, s:f, s:I}", "reservation_id", r.id, "session_id",
                            r.session_id, "state", sr_ledger_state_name(r.state), "replayed",
                            r.replayed, "remaining", units(r.session.remaining), "remaining_micro",
                            (json_int_t)r.session.remaining);
}

static void handle_health(sr_server *server, serve_reply *reply, const char *method,
                          const char *url)
{
    sr_error err;
    sr_error_clear(&err);
    if (LEDGER_CALL(server, sr_ledger_ping(server->ledger, &err)) != SR_OK) {
        reply_error(reply, 503, "ledger_unavailable", method, url, "%s", err.message);
        return;
    }
    reply->status = 200;
    reply->body = json_pack("{s:s, s:s, s:i}", "status", "ok", "ledger",
                            sr_ledger_backend_name(server->ledger), "models",
                            server->workers[0].policy->n_models);
}

/* ---- libmicrohttpd plumbing ---------------------------------------------------------- */

static enum MHD_Result send_reply(sr_server *server, struct MHD_Connection *connection,
                                  serve_reply *reply)
{
    if (!reply->body) {
        reply->status = 500;
        reply->body =
            json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message", "out of memory");
    }
    /* 15 significant digits print 0.1 as 0.1 rather than 0.10000000000000001.
     * Exact amounts travel in the *_micro integer fields, so the decimal
     * fields are for reading and lose nothing a client needs. */
    char *text =
        reply->body ? json_dumps(reply->body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    static const char fallback[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    struct MHD_Response *response =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(sizeof(fallback) - 1, (void *)fallback,
                                               MHD_RESPMEM_PERSISTENT);
    if (!response) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, "Content-Type", "application/json");
    const unsigned status = text ? reply->status : 500;
    serve_metrics_response(&server->metrics, status);
    const enum MHD_Result queued = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return queued;
}

static enum MHD_Result send_text(sr_server *server, struct MHD_Connection *connection, char *text,
                                 size_t length)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(length, text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, "Content-Type", "text/plain; version=0.0.4");
    serve_metrics_response(&server->metrics, 200);
    const enum MHD_Result queued = MHD_queue_response(connection, 200, response);
    MHD_destroy_response(response);
    return queued;
}

/* Parses the body as a JSON object, or fills `reply` with the reason it is not one. */
static json_t *parse_body(const serve_request *request, serve_reply *reply, const char *method,
                          const char *url)
{
    json_error_t jerr;
    json_t *body = json_loadb(request->body ? request->body : "", request->size,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        const bool utf8 = json_error_code(&jerr) == json_error_invalid_utf8;
        reply_error(reply, 400, utf8 ? "invalid_utf8" : "malformed_json", method, url,
                    "the body is not %s: %s at byte %d", utf8 ? "valid UTF-8" : "valid JSON",
                    jerr.text, jerr.position);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        reply_error(reply, 400, "invalid_field", method, url, "the body must be a JSON object");
        return NULL;
    }
    return body;
}

static void dispatch(sr_server *server, const char *method, const char *url,
                     const serve_request *request, serve_reply *reply)
{
    const bool get = strcmp(method, "GET") == 0;
    const bool post = strcmp(method, "POST") == 0;
    static const char sessions_prefix[] = "/v1/sessions/";

    if (strncmp(url, sessions_prefix, sizeof(sessions_prefix) - 1) == 0) {
        const char *id = url + sizeof(sessions_prefix) - 1;
        if (!get)
            reply_error(reply, 405, "method_not_allowed", method, url, "use GET %s", url);
        else if (!valid_id(id, SR_LEDGER_ID_MAX))
            reply_error(reply, 400, "invalid_field", method, url,
                        "the session id must be 1 to %d printable ASCII characters",
                        SR_LEDGER_ID_MAX);
        else
            handle_session_get(server, id, reply, method, url);
        return;
    }
    if (strcmp(url, "/healthz") == 0) {
        if (get)
            handle_health(server, reply, method, url);
        else
            reply_error(reply, 405, "method_not_allowed", method, url, "use GET /healthz");
        return;
    }

    void (*handler)(sr_server *, const json_t *, serve_reply *, const char *, const char *) = NULL;
    if (strcmp(url, "/v1/sessions") == 0)
        handler = handle_session_create;
    else if (strcmp(url, "/v1/route") == 0)
        handler = handle_route;
    else if (strcmp(url, "/v1/settle") == 0)
        handler = handle_settle;
    else if (strcmp(url, "/v1/release") == 0)
        handler = handle_release;
    if (!handler) {
        reply_error(reply, 404, "not_found", method, url,
                    "no endpoint %s; see docs/SERVE.md for the API", url);
        return;
    }
    if (!post) {
        reply_error(reply, 405, "method_not_allowed", method, url, "use POST %s", url);
        return;
    }
    json_t *body = parse_body(request, reply, method, url);
    if (!body)
        return;
    handler(server, body, reply, method, url);
    json_decref(body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **context)
{
    (void)version;
    sr_server *server = cls;
    serve_request *request = *context;

    /*
     * First call: headers only.  A client that waits for "100 Continue" is
     * told at once that its declared body is too large; others are sending
     * already, so their body is read and dropped and the 413 follows it
     * (answering mid-upload would reset the connection under them).
     */
    if (!request) {
        request = calloc(1, sizeof(*request));
        if (!request)
            return MHD_NO;
        *context = request;
        atomic_fetch_add(&server->in_flight, 1);
        atomic_fetch_add(&server->requests, 1);
        const char *length =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
        const char *expect = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Expect");
        if (length && expect && strcasecmp(expect, "100-continue") == 0 &&
            strtoull(length, NULL, 10) > server->config.max_body_bytes) {
            serve_reply reply = {0, NULL};
            reply_error(&reply, 413, "body_too_large", method, url,
                        "the body has %s bytes; the limit is %zu", length,
                        server->config.max_body_bytes);
            request->answered = true;
            const enum MHD_Result queued = send_reply(server, connection, &reply);
            json_decref(reply.body);
            return queued;
        }
        return MHD_YES;
    }

    /* Body chunks: keep up to the limit, count and drop the rest. */
    if (*upload_data_size > 0) {
        const size_t chunk = *upload_data_size;
        *upload_data_size = 0;
        if (request->answered || request->too_large)
            return MHD_YES;
        if (request->size + chunk > server->config.max_body_bytes) {
            request->too_large = true;
            free(request->body);
            request->body = NULL;
            return MHD_YES;
        }
        if (request->size + chunk > request->capacity) {
            size_t capacity = request->capacity ? request->capacity : 1024;
            while (capacity < request->size + chunk)
                capacity *= 2;
            char *grown = realloc(request->body, capacity);
            if (!grown)
                return MHD_NO;
            request->body = grown;
            request->capacity = capacity;
        }
        memcpy(request->body + request->size, upload_data, chunk);
        request->size += chunk;
        return MHD_YES;
    }
    if (request->answered)
        return MHD_YES;

    /* The whole request is in: answer it. */
    if (strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0) {
        sr_error err;
        sr_error_clear(&err);
        int64_t open = -1;
        if (LEDGER_CALL(server, sr_ledger_count_open(server->ledger, &open, &err)) != SR_OK) {
            sr_log(SR_LOG_WARN, "metrics_open_reservations_unavailable status=%s",
                   sr_status_name(err.status));
            open = -1;
        }
        size_t length = 0;
        char *text = serve_metrics_render(&server->metrics, open, &length);
        if (text)
            return send_text(server, connection, text, length);
    }
    serve_reply reply = {0, NULL};
    if (request->too_large)
        reply_error(&reply, 413, "body_too_large", method, url,
                    "the body is longer than the limit of %zu bytes",
                    server->config.max_body_bytes);
    else
        dispatch(server, method, url, request, &reply);
    const enum MHD_Result queued = send_reply(server, connection, &reply);
    json_decref(reply.body);
    return queued;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **context,
                         enum MHD_RequestTerminationCode code)
{
    (void)connection;
    sr_server *server = cls;
    serve_request *request = *context;
    if (!request)
        return;
    if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        sr_log(SR_LOG_WARN, "request_incomplete reason=%d", (int)code);
    free(request->body);
    free(request);
    *context = NULL;
    atomic_fetch_sub(&server->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *format, va_list args)
{
    (void)cls;
    char message[512];
    char safe[512];
    vsnprintf(message, sizeof(message), format, args);
    log_safe(safe, sizeof(safe), message);
    sr_log(SR_LOG_WARN, "http_error message=\"%s\"", safe);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

void sr_serve_config_default(sr_serve_config *config)
{
    memset(config, 0, sizeof(*config));
    config->host = "127.0.0.1";
    config->port = 8080;
    config->ledger = "sqlite:seqroute-ledger.db";
    config->threads = 4;
    config->max_body_bytes = 64 * 1024;
    config->max_connections = 256;
    config->timeout_seconds = 10;
    config->drain_seconds = 10;
    config->reservation_ttl_seconds = 600;
    config->cached_input_factor = 0.5;
    config->default_lambda = 0;
    sr_reserve_config_default(&config->reserve);
}

/* The ledger URL for logs: the backend and, for Redis, host and port only (no password). */
static void ledger_for_log(const char *url, char *out, size_t size)
{
    if (strncmp(url, "redis://", 8) == 0) {
        const char *host = url + 8;
        const char *at = strchr(host, '@');
        const char *slash = strchr(host, '/');
        if (at && (!slash || at < slash))
            host = at + 1;
        const size_t n = strcspn(host, "/?");
        snprintf(out, size, "redis://%.*s", (int)n, host);
    } else {
        char safe[256];
        log_safe(safe, sizeof(safe), url);
        snprintf(out, size, "%s", safe);
    }
}

static void server_free(sr_server *server)
{
    if (!server)
        return;
    if (server->daemon)
        MHD_stop_daemon(server->daemon);
    sr_ledger_close(server->ledger);
    for (int i = 0; i < server->n_workers; i++) {
        sr_qpolicy_free(server->workers[i].policy);
        free(server->workers[i].scratch);
    }
    free(server->workers);
    free(server->free_workers);
    pthread_mutex_destroy(&server->pool_lock);
    pthread_cond_destroy(&server->pool_ready);
    free(server->policy_path);
    free(server->host);
    free(server->ledger_url);
    free(server);
}

static sr_status check_config(const sr_serve_config *c, sr_error *err)
{
    if (!c->policy_path)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "policy", "a policy file is required");
    if (c->port < 0 || c->port > 65535)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "port", "port %d is not 0 to 65535",
                            c->port);
    if (c->threads < 1 || c->threads > 256)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "threads", "%d threads; give 1 to 256",
                            c->threads);
    if (c->max_body_bytes < 64 || c->max_body_bytes > (64u << 20))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_body_bytes",
                            "body limit %zu bytes; give 64 B to 64 MiB", c->max_body_bytes);
    if (c->max_connections < 1 || c->timeout_seconds < 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_connections",
                            "the connection limit and timeout must be at least 1");
    if (c->reservation_ttl_seconds < 1 || c->reservation_ttl_seconds * 1000 > SR_LEDGER_MAX_TTL_MS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "reservation_ttl",
                            "reservation lifetime %" PRId64 " s; give 1 s to 30 days",
                            c->reservation_ttl_seconds);
    if (!isfinite(c->cached_input_factor) || c->cached_input_factor < 0 ||
        c->cached_input_factor > 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "cached_input_factor",
                            "cached input factor %g; give 0 to 1", c->cached_input_factor);
    if (!isfinite(c->default_lambda))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda", "lambda must be finite");
    return SR_OK;
}

sr_status sr_server_start(const sr_serve_config *config, sr_server **out, sr_error *err)
{
    *out = NULL;
    sr_status status = check_config(config, err);
    if (status != SR_OK)
        return status;

    sr_server *server = calloc(1, sizeof(*server));
    if (!server)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    pthread_mutex_init(&server->pool_lock, NULL);
    pthread_cond_init(&server->pool_ready, NULL);
    atomic_init(&server->in_flight, 0);
    atomic_init(&server->requests, 0);
    server->config = *config;
    server->policy_path = strdup(config->policy_path);
    server->host = strdup(config->host ? config->host : "127.0.0.1");
    server->ledger_url = strdup(config->ledger ? config->ledger : "sqlite:seqroute-ledger.db");
    server->workers = calloc((size_t)config->threads, sizeof(serve_worker));
    server->free_workers = calloc((size_t)config->threads, sizeof(int));
    if (!server->policy_path || !server->host || !server->ledger_url || !server->workers ||
        !server->free_workers) {
        server_free(server);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    server->config.policy_path = server->policy_path;
    server->config.host = server->host;
    server->config.ledger = server->ledger_url;

    /* One policy copy and scratch per thread; the first one checks the policy can serve. */
    for (int i = 0; i < config->threads; i++) {
        status = sr_qpolicy_load(server->policy_path, &server->workers[i].policy, err);
        if (status != SR_OK) {
            server_free(server);
            return status;
        }
        server->n_workers = i + 1;
        sr_qpolicy *policy = server->workers[i].policy;
        if (policy->features.history != SR_HISTORY_CURRENT) {
            server_free(server);
            return sr_error_set(err, SR_ERR_UNSUPPORTED, config->policy_path, 0, "history",
                                "the policy's features average earlier turns; the service "
                                "routes one turn at a time and needs --history current");
        }
        server->workers[i].scratch =
            malloc((size_t)sr_route_scratch_floats(policy) * sizeof(float));
        if (!server->workers[i].scratch) {
            server_free(server);
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        }
        server->free_workers[server->n_free++] = i;
    }
    serve_metrics_init(&server->metrics, server->workers[0].policy);

    /* The ledger. */
    sr_ledger_options options;
    sr_ledger_options_init(&options);
    options.default_ttl_ms = config->reservation_ttl_seconds * 1000;
    status = sr_ledger_open(server->ledger_url, &options, &server->ledger, err);
    if (status != SR_OK) {
        server_free(server);
        return status;
    }

    /* The listening socket and the thread pool. */
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)config->port);
    if (inet_pton(AF_INET, server->host, &address.sin_addr) != 1) {
        server_free(server);
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "listen",
                            "'%s' is not an IPv4 address such as 127.0.0.1", config->host);
    }
    server->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        (uint16_t)config->port, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)config->threads, MHD_OPTION_CONNECTION_LIMIT,
        config->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, config->timeout_seconds,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_END);
    if (!server->daemon) {
        server_free(server);
        return sr_error_set(err, SR_ERR_IO, NULL, 0, "listen",
                            "cannot listen on %s:%d (is the port in use?)", config->host,
                            config->port);
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? (int)info->port : config->port;

    char ledger[300];
    ledger_for_log(server->ledger_url, ledger, sizeof(ledger));
    char policy_name[512];
    log_safe(policy_name, sizeof(policy_name), server->policy_path);
    sr_log(SR_LOG_INFO,
           "serve_start listen=%s:%d policy=%s models=%d ledger=%s backend=%s threads=%d "
           "max_body_bytes=%zu max_connections=%u timeout_s=%u reserve=%s:%g ttl_s=%" PRId64,
           server->host, server->port, policy_name, server->workers[0].policy->n_models, ledger,
           sr_ledger_backend_name(server->ledger), config->threads, config->max_body_bytes,
           config->max_connections, config->timeout_seconds,
           config->reserve.rule == SR_RESERVE_MEAN ? "mean" : "tokens",
           config->reserve.rule == SR_RESERVE_MEAN ? config->reserve.factor
                                                   : config->reserve.max_output_tokens,
           config->reservation_ttl_seconds);
    *out = server;
    return SR_OK;
}

int sr_server_port(const sr_server *server)
{
    return server->port;
}

void sr_server_stop(sr_server *server)
{
    if (!server)
        return;

    /* Stop accepting, then let the requests in flight finish. */
    sr_log(SR_LOG_INFO, "serve_stopping in_flight=%d", atomic_load(&server->in_flight));
    MHD_socket listener = MHD_quiesce_daemon(server->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    const uint64_t deadline = now_ns() + (uint64_t)server->config.drain_seconds * 1000000000u;
    while (atomic_load(&server->in_flight) > 0 && now_ns() < deadline) {
        const struct timespec pause = {0, 5 * 1000 * 1000}; /* 5 ms between checks */
        nanosleep(&pause, NULL);
    }
    const int abandoned = atomic_load(&server->in_flight);

    MHD_stop_daemon(server->daemon);
    server->daemon = NULL;
    sr_log(abandoned > 0 ? SR_LOG_WARN : SR_LOG_INFO, "serve_stop requests=%llu abandoned=%d",
           (unsigned long long)atomic_load(&server->requests), abandoned);
    server_free(server);
}
