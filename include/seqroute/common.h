/*
 * common.h - status codes, error reports, logging and the random number
 * generator shared by every seqroute module.
 *
 * Error model: every fallible library call returns an sr_status (0 on
 * success, a negative code on failure) and, when the caller passes a
 * non-NULL sr_error, fills it with a message that names the file, line,
 * field and value at fault and says what to do.  The library never exits
 * the process and never prints; it reports through sr_error and through
 * the log callback below.
 */
#ifndef SEQROUTE_COMMON_H
#define SEQROUTE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sr_status {
    SR_OK = 0,
    SR_ERR_INVALID = -1,     /* invalid argument or invalid input data */
    SR_ERR_NOMEM = -2,       /* allocation failed or a size limit was hit */
    SR_ERR_IO = -3,          /* open, read or write failed */
    SR_ERR_NOT_FOUND = -4,   /* a named model, file or key does not exist */
    SR_ERR_UNSUPPORTED = -5, /* valid request that this build cannot serve */
    SR_ERR_INTERNAL = -6,    /* a broken invariant: a bug in seqroute */
    SR_ERR_CONFLICT = -7,    /* an id exists with different contents (idempotency clash) */
    SR_ERR_REJECTED = -8,    /* a valid request the rules refuse, e.g. over budget */
    SR_ERR_UNAVAILABLE = -9  /* a backend (database, server) cannot be reached */
} sr_status;

/* Longest message kept in an sr_error; longer messages are truncated. */
#define SR_ERROR_MESSAGE_MAX 1024

/*
 * Details of the last failure.  `path` and `line` locate bad input (line
 * numbers start at 1; 0 means "not tied to a line"), `field` names the
 * JSON field or CSV column.  `message` is one self-contained sentence or
 * two that already include path, line and field, ready to print.
 */
typedef struct sr_error {
    sr_status status;
    char path[512];
    long line;
    char field[128];
    char message[SR_ERROR_MESSAGE_MAX];
} sr_error;

/* Returns a short constant name for a status ("invalid input", ...). */
const char *sr_status_name(sr_status status);

/*
 * Fills `err` (when non-NULL) and returns `status`, so callers can write
 * `return sr_error_set(err, SR_ERR_INVALID, path, line, "cost", "...")`.
 * `path` and `field` may be NULL.  The message is prefixed with
 * "PATH:LINE: field FIELD: " when those are known.
 */
sr_status sr_error_set(sr_error *err, sr_status status, const char *path, long line,
                       const char *field, const char *format, ...)
    __attribute__((format(printf, 6, 7)));

/* Clears `err` to the success state. */
void sr_error_clear(sr_error *err);

/* ---- logging ---------------------------------------------------------- */

typedef enum sr_log_level {
    SR_LOG_DEBUG = 0,
    SR_LOG_INFO = 1,
    SR_LOG_WARN = 2,
    SR_LOG_ERROR = 3
} sr_log_level;

/*
 * Receives one formatted log event.  `message` is a single line without a
 * trailing newline, usually "event key=value ...".  Called from whichever
 * thread produced the event.
 */
typedef void (*sr_log_fn)(sr_log_level level, const char *message, void *user_data);

/*
 * Installs the process-wide log callback and minimum level.  A NULL
 * callback discards every event (the default).  Not thread-safe: call it
 * once at start-up, before other threads use the library.
 */
void sr_log_set_callback(sr_log_fn callback, void *user_data, sr_log_level min_level);

/* Formats and delivers one event when `level` passes the minimum level. */
void sr_log(sr_log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* True when an event at `level` would be delivered; skips formatting cost. */
bool sr_log_enabled(sr_log_level level);

/* ---- random numbers ---------------------------------------------------- */

/*
 * xoshiro256** generator (Blackman and Vigna, 2018), seeded through
 * splitmix64.  Small, fast and reproducible across platforms, which is what
 * seeded splits, synthetic data and evaluation need.  Not for cryptography.
 */
typedef struct sr_rng {
    uint64_t s[4];
} sr_rng;

/* Seeds `rng` from one 64-bit value; every seed, including 0, is valid. */
void sr_rng_seed(sr_rng *rng, uint64_t seed);

/*
 * Seeds `rng` from a base seed and a stream index, so that, for example,
 * session i of an evaluation draws the same numbers whatever order the
 * sessions are visited in.
 */
void sr_rng_seed_stream(sr_rng *rng, uint64_t seed, uint64_t stream);

uint64_t sr_rng_next(sr_rng *rng);

/* Uniform double in [0, 1). */
double sr_rng_uniform(sr_rng *rng);

/* Uniform integer in [0, n) without modulo bias; n must be > 0. */
uint64_t sr_rng_below(sr_rng *rng, uint64_t n);

/* Standard normal draw (Box-Muller). */
double sr_rng_normal(sr_rng *rng);

/* Shuffles `count` elements of `size` bytes each in place (Fisher-Yates). */
void sr_rng_shuffle(sr_rng *rng, void *base, size_t count, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_COMMON_H */
