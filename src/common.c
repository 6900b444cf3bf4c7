/*
 * common.c - status names, error reports, the log callback and the
 * xoshiro256** random number generator.
 */
#include "seqroute/common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *sr_status_name(sr_status status)
{
    switch (status) {
    case SR_OK:
        return "ok";
    case SR_ERR_INVALID:
        return "invalid input";
    case SR_ERR_NOMEM:
        return "out of memory";
    case SR_ERR_IO:
        return "input/output error";
    case SR_ERR_NOT_FOUND:
        return "not found";
    case SR_ERR_UNSUPPORTED:
        return "unsupported";
    case SR_ERR_INTERNAL:
        return "internal error";
    case SR_ERR_CONFLICT:
        return "conflict";
    case SR_ERR_REJECTED:
        return "rejected";
    case SR_ERR_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown status";
}

void sr_error_clear(sr_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
}

sr_status sr_error_set(sr_error *err, sr_status status, const char *path, long line,
                       const char *field, const char *format, ...)
{
    if (err == NULL)
        return status;

    err->status = status;
    snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
    err->line = line;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");

    /* Location prefix first, then the caller's sentence. */
    size_t used = 0;
    if (path != NULL && line > 0)
        used = (size_t)snprintf(err->message, sizeof(err->message), "%s:%ld: ", path, line);
    else if (path != NULL)
        used = (size_t)snprintf(err->message, sizeof(err->message), "%s: ", path);
    if (used < sizeof(err->message) && field != NULL && field[0] != '\0')
        used += (size_t)snprintf(err->message + used, sizeof(err->message) - used,
                                 "field '%s': ", field);
    if (used < sizeof(err->message)) {
        va_list args;
        va_start(args, format);
        vsnprintf(err->message + used, sizeof(err->message) - used, format, args);
        va_end(args);
    }
    return status;
}

/* ---- logging ---------------------------------------------------------- */

static sr_log_fn log_callback;
static void *log_user_data;
static sr_log_level log_min_level = SR_LOG_INFO;

void sr_log_set_callback(sr_log_fn callback, void *user_data, sr_log_level min_level)
{
    log_callback = callback;
    log_user_data = user_data;
    log_min_level = min_level;
}

bool sr_log_enabled(sr_log_level level)
{
    return log_callback != NULL && level >= log_min_level;
}

void sr_log(sr_log_level level, const char *format, ...)
{
    if (!sr_log_enabled(level))
        return;

    char message[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    log_callback(level, message, log_user_data);
}

/* ---- random numbers ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void sr_rng_seed(sr_rng *rng, uint64_t seed)
{
    uint64_t state = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&state);
}

void sr_rng_seed_stream(sr_rng *rng, uint64_t seed, uint64_t stream)
{
    /* Mix the stream index through splitmix64 so neighbouring streams differ. */
    uint64_t state = stream;
    uint64_t mixed = splitmix64(&state);
    sr_rng_seed(rng, seed ^ mixed);
}

uint64_t sr_rng_next(sr_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sr_rng_uniform(sr_rng *rng)
{
    /* The top 53 bits fill a double's mantissa exactly. */
    return (double)(sr_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t sr_rng_below(sr_rng *rng, uint64_t n)
{
    /* Rejection sampling: discard the top partial range to avoid bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = sr_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

double sr_rng_normal(sr_rng *rng)
{
    double u1 = sr_rng_uniform(rng);
    double u2 = sr_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void sr_rng_shuffle(sr_rng *rng, void *base, size_t count, size_t size)
{
    unsigned char *bytes = base;

    if (count < 2)
        return;
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t)sr_rng_below(rng, (uint64_t)i + 1);
        if (j == i)
            continue;
        unsigned char *a = bytes + i * size;
        unsigned char *b = bytes + j * size;
        for (size_t k = 0; k < size; k++) {
            unsigned char tmp = a[k];
            a[k] = b[k];
            b[k] = tmp;
        }
    }
}
