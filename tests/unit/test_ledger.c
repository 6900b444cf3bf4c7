/*
 * test_ledger.c - one behaviour suite for the budget ledger, run against
 * the SQLite backend and then the Redis backend.
 *
 * Every expectation is computed by hand in micro-units from the rules in
 * ledger.h.  Time comes from a fake clock that each test sets, so expiry
 * is tested without sleeping.
 *
 * Redis: the suite uses $SEQROUTE_REDIS_URL when it is set; otherwise it
 * starts its own redis-server on a free loopback port in a temporary
 * folder and stops it at the end.  Every test uses its own key prefix, so
 * a shared server is safe.  When neither is possible the Redis half is
 * skipped with a message saying why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seqroute/ledger.h"

/* Start time of the fake clock: an arbitrary epoch in milliseconds. */
#define T0 INT64_C(1700000000000)

typedef enum backend_kind { BACKEND_SQLITE, BACKEND_REDIS } backend_kind;

/* The backend the running group tests, set by the group setup. */
static struct {
    backend_kind kind;
    bool available;
    char skip_reason[512];
    char redis_url[256]; /* without ?prefix= */
    pid_t redis_pid;     /* > 0 when this suite started the server */
    char redis_dir[256];
    int redis_port;
    unsigned counter; /* makes file names and prefixes unique per test */
} g_backend;

typedef struct fixture {
    sr_ledger *ledger;
    int64_t now;
    char url[640];
    char path[512]; /* SQLite file, or "" */
    sr_ledger_options options;
} fixture;

static int64_t fake_clock(void *user_data)
{
    return ((fixture *)user_data)->now;
}

/* ---- Redis server for the tests --------------------------------------- */

static int free_loopback_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &length) == 0)
        port = ntohs(address.sin_port);
    close(fd);
    return port;
}

static bool redis_answers(int port)
{
    struct timeval timeout = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *context = redisConnectWithTimeout("127.0.0.1", port, timeout);
    bool ok = false;
    if (context != NULL && context->err == 0) {
        redisReply *reply = redisCommand(context, "PING");
        ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
        if (reply != NULL)
            freeReplyObject(reply);
    }
    if (context != NULL)
        redisFree(context);
    return ok;
}

/* Starts redis-server on `port` in g_backend.redis_dir; waits up to 5 s. */
static bool start_redis(int port)
{
    char port_text[16];
    snprintf(port_text, sizeof(port_text), "%d", port);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        /* No persistence: the unit suite tests logic, not durability. */
        execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1",
               "--dir", g_backend.redis_dir, "--save", "", "--appendonly", "no", "--logfile",
               "redis.log", (char *)NULL);
        _exit(127);
    }
    g_backend.redis_pid = pid;
    for (int i = 0; i < 100; i++) {
        if (redis_answers(port))
            return true;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            g_backend.redis_pid = 0;
            return false;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 50000000};
        nanosleep(&pause, NULL);
    }
    return false;
}

static void stop_redis(void)
{
    if (g_backend.redis_pid <= 0)
        return;
    kill(g_backend.redis_pid, SIGTERM);
    waitpid(g_backend.redis_pid, NULL, 0);
    g_backend.redis_pid = 0;
}

static bool redis_server_installed(void)
{
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

/* ---- group and test setup --------------------------------------------- */

static int group_setup_sqlite(void **state)
{
    (void)state;
    memset(&g_backend, 0, sizeof(g_backend));
    g_backend.kind = BACKEND_SQLITE;
    g_backend.available = true;
    return 0;
}

static int group_setup_redis(void **state)
{
    (void)state;
    memset(&g_backend, 0, sizeof(g_backend));
    g_backend.kind = BACKEND_REDIS;

    const char *url = getenv("SEQROUTE_REDIS_URL");
    if (url != NULL && url[0] != '\0') {
        snprintf(g_backend.redis_url, sizeof(g_backend.redis_url), "%s", url);
        g_backend.available = true;
        return 0;
    }
    if (!redis_server_installed()) {
        snprintf(g_backend.skip_reason, sizeof(g_backend.skip_reason),
                 "redis-server is not installed and SEQROUTE_REDIS_URL is not set");
        return 0;
    }

    snprintf(g_backend.redis_dir, sizeof(g_backend.redis_dir), "/tmp/seqroute-redis-XXXXXX");
    if (mkdtemp(g_backend.redis_dir) == NULL) {
        snprintf(g_backend.skip_reason, sizeof(g_backend.skip_reason),
                 "cannot create a folder for redis-server: %s", strerror(errno));
        return 0;
    }
    g_backend.redis_port = free_loopback_port();
    if (g_backend.redis_port < 0 || !start_redis(g_backend.redis_port)) {
        snprintf(g_backend.skip_reason, sizeof(g_backend.skip_reason),
                 "redis-server did not start on 127.0.0.1:%d (see %s/redis.log)",
                 g_backend.redis_port, g_backend.redis_dir);
        return 0;
    }
    snprintf(g_backend.redis_url, sizeof(g_backend.redis_url), "redis://127.0.0.1:%d",
             g_backend.redis_port);
    g_backend.available = true;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_redis();
    if (g_backend.redis_dir[0] != '\0') {
        char command[512];
        snprintf(command, sizeof(command), "rm -rf '%s'", g_backend.redis_dir);
        if (system(command) != 0)
            fprintf(stderr, "could not remove %s\n", g_backend.redis_dir);
    }
    return 0;
}

static void open_ledger(fixture *f)
{
    sr_error err;
    sr_error_clear(&err);
    sr_status status = sr_ledger_open(f->url, &f->options, &f->ledger, &err);
    if (status != SR_OK)
        fail_msg("sr_ledger_open(%s): %s", f->url, err.message);
}

static int test_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    *state = f;
    if (!g_backend.available)
        return 0;

    f->now = T0;
    sr_ledger_options_init(&f->options);
    f->options.clock = fake_clock;
    f->options.clock_data = f;
    g_backend.counter++;
    if (g_backend.kind == BACKEND_SQLITE) {
        snprintf(f->path, sizeof(f->path), "/tmp/seqroute-ledger-test-%ld-%u.db", (long)getpid(),
                 g_backend.counter);
        unlink(f->path);
        snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    } else {
        snprintf(f->url, sizeof(f->url), "%s?prefix=test:%ld:%ld:%u:", g_backend.redis_url,
                 (long)getpid(), (long)time(NULL), g_backend.counter);
    }
    open_ledger(f);
    return 0;
}

static int test_teardown(void **state)
{
    fixture *f = *state;
    sr_ledger_close(f->ledger);
    if (f->path[0] != '\0') {
        char side[600];
        unlink(f->path);
        snprintf(side, sizeof(side), "%s-wal", f->path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", f->path);
        unlink(side);
    }
    free(f);
    return 0;
}

/* Returns the fixture, or skips the test when the backend is missing. */
static fixture *begin(void **state)
{
    if (!g_backend.available) {
        print_message("SKIP redis half: %s\n", g_backend.skip_reason);
        skip();
    }
    return *state;
}

/* Creates a session that must be new. */
static void create(fixture *f, const char *id, int64_t budget)
{
    sr_error err;
    bool created = false;
    sr_status status = sr_ledger_session_create(f->ledger, id, budget, NULL, &created, &err);
    if (status != SR_OK)
        fail_msg("create %s: %s", id, err.message);
    assert_true(created);
}

static sr_status reserve(fixture *f, const char *session, const char *id, int64_t amount,
                         int64_t ttl, sr_ledger_reservation *out)
{
    sr_error err;
    return sr_ledger_reserve(f->ledger, session, id, amount, ttl, out, &err);
}

static sr_status settle(fixture *f, const char *id, int64_t actual, sr_ledger_reservation *out)
{
    sr_error err;
    return sr_ledger_settle(f->ledger, id, actual, out, &err);
}

static sr_ledger_session totals(fixture *f, const char *session)
{
    sr_ledger_session s;
    sr_error err;
    sr_status status = sr_ledger_session_get(f->ledger, session, &s, &err);
    if (status != SR_OK)
        fail_msg("get %s: %s", session, err.message);
    return s;
}

/* ---- units (no backend) ------------------------------------------------ */

static void cost_rounds_up(void **state)
{
    (void)state;
    int64_t micros = -1;
    assert_int_equal(sr_ledger_micros_from_cost(1.5, "cost", &micros, NULL), SR_OK);
    assert_int_equal(micros, 1500000);
    assert_int_equal(sr_ledger_micros_from_cost(0.000003, "cost", &micros, NULL), SR_OK);
    assert_int_equal(micros, 3); /* snapped, not rounded up to 4 */
    assert_int_equal(sr_ledger_micros_from_cost(0.0000031, "cost", &micros, NULL), SR_OK);
    assert_int_equal(micros, 4); /* 3.1 micro-units round up */
    assert_int_equal(sr_ledger_micros_from_cost(0.1, "cost", &micros, NULL), SR_OK);
    assert_int_equal(micros, 100000);
    assert_int_equal(sr_ledger_micros_from_cost(0.0, "cost", &micros, NULL), SR_OK);
    assert_int_equal(micros, 0);
    assert_int_equal(sr_ledger_micros_from_cost(-0.0, "cost", &micros, NULL), SR_OK);
    assert_int_equal(micros, 0);
    assert_int_equal(sr_ledger_micros_from_cost(1e9, "cost", &micros, NULL), SR_OK);
    assert_int_equal(micros, SR_LEDGER_MAX_AMOUNT);
}

static void budget_rounds_down(void **state)
{
    (void)state;
    int64_t micros = -1;
    assert_int_equal(sr_ledger_micros_from_budget(0.0000039, "budget", &micros, NULL), SR_OK);
    assert_int_equal(micros, 3);
    assert_int_equal(sr_ledger_micros_from_budget(2.000001, "budget", &micros, NULL), SR_OK);
    assert_int_equal(micros, 2000001);
}

static void cost_rejects_bad_values(void **state)
{
    (void)state;
    int64_t micros = 7;
    sr_error err;
    assert_int_equal(sr_ledger_micros_from_cost(NAN, "cost", &micros, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "NaN"));
    assert_int_equal(sr_ledger_micros_from_cost(INFINITY, "cost", &micros, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_ledger_micros_from_cost(-INFINITY, "cost", &micros, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_ledger_micros_from_cost(-0.000001, "cost", &micros, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "negative"));
    assert_int_equal(sr_ledger_micros_from_cost(1e9 + 0.001, "cost", &micros, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_ledger_micros_from_cost(1e300, "cost", &micros, &err), SR_ERR_INVALID);
    assert_int_equal(sr_ledger_micros_from_budget(NAN, "budget", &micros, &err),
                     SR_ERR_INVALID);
    assert_int_equal(micros, 7); /* untouched on error */
}

static void micros_format_exact(void **state)
{
    (void)state;
    char text[32];
    sr_ledger_micros_format(1500000, text, sizeof(text));
    assert_string_equal(text, "1.5");
    sr_ledger_micros_format(3, text, sizeof(text));
    assert_string_equal(text, "0.000003");
    sr_ledger_micros_format(-125, text, sizeof(text));
    assert_string_equal(text, "-0.000125");
    sr_ledger_micros_format(0, text, sizeof(text));
    assert_string_equal(text, "0");
    sr_ledger_micros_format(7000000, text, sizeof(text));
    assert_string_equal(text, "7");
    sr_ledger_micros_format(INT64_MIN, text, sizeof(text));
    assert_string_equal(text, "-9223372036854.775808");
    assert_true(sr_ledger_micros_to_cost(2500000) == 2.5);
}

static void open_rejects_bad_urls(void **state)
{
    (void)state;
    const char *urls[] = {
        "", "sqlite:", "postgres://x", "redis://", "redis://:6379", "redis://h:0",
        "redis://h:65536", "redis://h:12x", "redis://h:1/x", "redis://h:1/2000",
        "redis://h:1?db=2", "redis://h:1?prefix=", "redis://h b:1", "redis://h:1 trailing",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        sr_ledger *ledger = (sr_ledger *)1;
        sr_error err;
        sr_status status = sr_ledger_open(urls[i], NULL, &ledger, &err);
        if (status != SR_ERR_INVALID)
            fail_msg("URL '%s': status %d, expected SR_ERR_INVALID", urls[i], status);
        assert_null(ledger);
    }
    sr_ledger *ledger = NULL;
    sr_error err;
    assert_int_equal(sr_ledger_open(NULL, NULL, &ledger, &err), SR_ERR_INVALID);

    sr_ledger_options options;
    sr_ledger_options_init(&options);
    options.default_ttl_ms = 0;
    assert_int_equal(sr_ledger_open("sqlite:/tmp/unused.db", &options, &ledger, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "TTL"));
}

static void sqlite_missing_folder_is_io_error(void **state)
{
    (void)state;
    sr_ledger *ledger = NULL;
    sr_error err;
    assert_int_equal(
        sr_ledger_open("sqlite:/nonexistent-seqroute-dir/x/ledger.db", NULL, &ledger, &err),
        SR_ERR_IO);
    assert_null(ledger);
    assert_non_null(strstr(err.message, "cannot open"));
}

static void redis_unreachable_is_unavailable(void **state)
{
    (void)state;
    /* A loopback port that was free a moment ago: nothing listens there. */
    int port = free_loopback_port();
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    sr_ledger *ledger = NULL;
    sr_error err;
    assert_int_equal(sr_ledger_open(url, NULL, &ledger, &err), SR_ERR_UNAVAILABLE);
    assert_null(ledger);
    assert_non_null(strstr(err.message, "redis-server"));
}

/* ---- behaviour suite (both backends) ----------------------------------- */

static void session_create_is_idempotent(void **state)
{
    fixture *f = begin(state);
    sr_ledger_session s;
    bool created = false;
    sr_error err;

    assert_int_equal(sr_ledger_session_create(f->ledger, "s1", 1000, &s, &created, &err), SR_OK);
    assert_true(created);
    assert_int_equal(s.budget, 1000);
    assert_int_equal(s.spent, 0);
    assert_int_equal(s.reserved, 0);
    assert_int_equal(s.remaining, 1000);
    assert_string_equal(s.id, "s1");

    /* Same budget: the existing session, never a second budget. */
    assert_int_equal(sr_ledger_reserve(f->ledger, "s1", "r1", 300, 0, NULL, &err), SR_OK);
    assert_int_equal(sr_ledger_session_create(f->ledger, "s1", 1000, &s, &created, &err), SR_OK);
    assert_false(created);
    assert_int_equal(s.budget, 1000);
    assert_int_equal(s.reserved, 300);
    assert_int_equal(s.remaining, 700);

    /* Another budget: conflict, session unchanged. */
    assert_int_equal(sr_ledger_session_create(f->ledger, "s1", 2000, &s, &created, &err),
                     SR_ERR_CONFLICT);
    assert_false(created);
    assert_non_null(strstr(err.message, "s1"));
    assert_int_equal(totals(f, "s1").budget, 1000);
}

static void session_get_unknown_not_found(void **state)
{
    fixture *f = begin(state);
    sr_ledger_session s;
    sr_error err;
    assert_int_equal(sr_ledger_session_get(f->ledger, "nobody", &s, &err), SR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "nobody"));
    assert_int_equal(reserve(f, "nobody", "r1", 1, 0, NULL), SR_ERR_NOT_FOUND);
}

static void invalid_arguments_rejected(void **state)
{
    fixture *f = begin(state);
    sr_error err;
    char long_id[SR_LEDGER_ID_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';

    assert_int_equal(sr_ledger_session_create(f->ledger, "", 1, NULL, NULL, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_ledger_session_create(f->ledger, "a b", 1, NULL, NULL, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_ledger_session_create(f->ledger, "caf\xc3\xa9", 1, NULL, NULL, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_ledger_session_create(f->ledger, long_id, 1, NULL, NULL, &err),
                     SR_ERR_INVALID);
    long_id[SR_LEDGER_ID_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(sr_ledger_session_create(f->ledger, long_id, 1, NULL, NULL, &err), SR_OK);
    assert_int_equal(sr_ledger_session_create(f->ledger, "s", -1, NULL, NULL, &err),
                     SR_ERR_INVALID);
    assert_int_equal(
        sr_ledger_session_create(f->ledger, "s", SR_LEDGER_MAX_AMOUNT + 1, NULL, NULL, &err),
        SR_ERR_INVALID);

    create(f, "s", 100);
    assert_int_equal(reserve(f, "s", "r", -1, 0, NULL), SR_ERR_INVALID);
    assert_int_equal(reserve(f, "s", "r", 1, -1, NULL), SR_ERR_INVALID);
    assert_int_equal(reserve(f, "s", "r", 1, SR_LEDGER_MAX_TTL_MS + 1, NULL), SR_ERR_INVALID);
    assert_int_equal(reserve(f, "s", NULL, 1, 0, NULL), SR_ERR_INVALID);
    assert_int_equal(settle(f, "r", -5, NULL), SR_ERR_INVALID);
    assert_int_equal(sr_ledger_release(f->ledger, "bad id", NULL, &err), SR_ERR_INVALID);

    /* None of the rejected calls left anything behind. */
    sr_ledger_session s = totals(f, "s");
    assert_int_equal(s.reserved, 0);
    assert_int_equal(s.open_reservations, 0);
}

static void exact_budget_fits(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "a", 400, 0, &r), SR_OK);
    assert_int_equal(r.session.reserved, 400);
    assert_int_equal(r.session.remaining, 600);
    assert_int_equal(reserve(f, "s", "b", 600, 0, &r), SR_OK); /* 0 + 1000 + 0 == 1000 */
    assert_int_equal(r.state, SR_LEDGER_OPEN);
    assert_false(r.replayed);
    assert_int_equal(r.session.reserved, 1000);
    assert_int_equal(r.session.remaining, 0);
    assert_int_equal(r.session.open_reservations, 2);

    /* Zero still fits at exactly the budget; one more micro-unit does not. */
    assert_int_equal(reserve(f, "s", "zero", 0, 0, &r), SR_OK);
    assert_int_equal(reserve(f, "s", "c", 1, 0, &r), SR_ERR_REJECTED);
    assert_int_equal(r.session.remaining, 0);
    assert_int_equal(totals(f, "s").reserved, 1000);
}

static void one_micro_over_rejected(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    sr_error err;
    create(f, "s", 1000);

    assert_int_equal(sr_ledger_reserve(f->ledger, "s", "big", 1001, 0, &r, &err),
                     SR_ERR_REJECTED);
    assert_non_null(strstr(err.message, "budget"));
    assert_int_equal(r.session.budget, 1000);
    assert_int_equal(r.session.remaining, 1000);

    /* The rejected id was not stored: it can be used for a fitting amount. */
    assert_int_equal(reserve(f, "s", "big", 1000, 0, &r), SR_OK);
    assert_false(r.replayed);
}

static void spent_counts_against_budget(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "a", 500, 0, NULL), SR_OK);
    assert_int_equal(settle(f, "a", 300, &r), SR_OK);
    assert_int_equal(r.state, SR_LEDGER_SETTLED);
    assert_int_equal(r.actual, 300);
    assert_int_equal(r.overdraft, 0);
    assert_false(r.late);
    assert_int_equal(r.session.spent, 300);
    assert_int_equal(r.session.reserved, 0);
    assert_int_equal(r.session.remaining, 700);

    /* 300 + 0 + 701 > 1000; 300 + 0 + 700 == 1000. */
    assert_int_equal(reserve(f, "s", "b", 701, 0, NULL), SR_ERR_REJECTED);
    assert_int_equal(reserve(f, "s", "b", 700, 0, NULL), SR_OK);
}

static void reserve_retry_is_idempotent(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    sr_error err;
    create(f, "s", 1000);
    create(f, "t", 1000);

    assert_int_equal(reserve(f, "s", "r1", 400, 0, &r), SR_OK);
    int64_t expires = r.expires_at_ms;
    f->now += 10;
    assert_int_equal(reserve(f, "s", "r1", 400, 0, &r), SR_OK);
    assert_true(r.replayed);
    assert_int_equal(r.amount, 400);
    assert_int_equal(r.expires_at_ms, expires); /* the retry does not extend it */
    assert_int_equal(r.session.reserved, 400);
    assert_int_equal(r.session.open_reservations, 1);

    /* Same id, other amount or other session: conflict, nothing changes. */
    assert_int_equal(sr_ledger_reserve(f->ledger, "s", "r1", 500, 0, &r, &err), SR_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "r1"));
    assert_int_equal(reserve(f, "t", "r1", 400, 0, &r), SR_ERR_CONFLICT);
    assert_int_equal(totals(f, "s").reserved, 400);
    assert_int_equal(totals(f, "t").reserved, 0);

    /* A retry after the settle returns the settled record. */
    assert_int_equal(settle(f, "r1", 100, NULL), SR_OK);
    assert_int_equal(reserve(f, "s", "r1", 400, 0, &r), SR_OK);
    assert_true(r.replayed);
    assert_int_equal(r.state, SR_LEDGER_SETTLED);
    assert_int_equal(r.session.spent, 100);
    assert_int_equal(r.session.reserved, 0);
}

static void settle_retry_is_idempotent(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    sr_error err;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "r1", 500, 0, NULL), SR_OK);
    assert_int_equal(settle(f, "r1", 300, &r), SR_OK);
    assert_false(r.replayed);
    assert_int_equal(settle(f, "r1", 300, &r), SR_OK);
    assert_true(r.replayed);
    assert_int_equal(r.actual, 300);
    assert_int_equal(r.session.spent, 300); /* counted once */

    assert_int_equal(sr_ledger_settle(f->ledger, "r1", 301, &r, &err), SR_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "300"));
    assert_int_equal(totals(f, "s").spent, 300);

    assert_int_equal(settle(f, "missing", 1, &r), SR_ERR_NOT_FOUND);
}

static void overdraft_recorded_not_lost(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "r1", 400, 0, NULL), SR_OK);
    assert_int_equal(settle(f, "r1", 650, &r), SR_OK);
    assert_int_equal(r.actual, 650);
    assert_int_equal(r.overdraft, 250); /* 650 - 400 */
    assert_false(r.late);
    assert_int_equal(r.session.spent, 650);
    assert_int_equal(r.session.overdraft, 250);
    assert_int_equal(r.session.remaining, 350);
}

static void overdraft_past_budget(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "r1", 600, 0, NULL), SR_OK);
    assert_int_equal(reserve(f, "s", "r2", 400, 0, NULL), SR_OK);
    assert_int_equal(settle(f, "r1", 900, &r), SR_OK);
    assert_int_equal(r.overdraft, 300);
    assert_int_equal(r.session.spent, 900);
    assert_int_equal(r.session.reserved, 400);
    assert_int_equal(r.session.remaining, -300); /* 1000 - 900 - 400 */

    /* Over budget now: even a zero reservation is refused (900 + 400 > 1000). */
    assert_int_equal(reserve(f, "s", "r3", 0, 0, NULL), SR_ERR_REJECTED);

    /* r2 settles within its reservation: no further overdraft. */
    assert_int_equal(settle(f, "r2", 400, &r), SR_OK);
    assert_int_equal(r.overdraft, 0);
    assert_int_equal(r.session.spent, 1300);
    assert_int_equal(r.session.overdraft, 300);
    assert_int_equal(r.session.remaining, -300);
}

static void release_is_idempotent(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    sr_error err;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "r1", 400, 0, NULL), SR_OK);
    assert_int_equal(sr_ledger_release(f->ledger, "r1", &r, &err), SR_OK);
    assert_int_equal(r.state, SR_LEDGER_RELEASED);
    assert_false(r.replayed);
    assert_int_equal(r.session.reserved, 0);
    assert_int_equal(r.session.open_reservations, 0);
    assert_int_equal(sr_ledger_release(f->ledger, "r1", &r, &err), SR_OK);
    assert_true(r.replayed);
    assert_int_equal(r.session.reserved, 0);

    /* Releasing a settled reservation changes nothing. */
    assert_int_equal(reserve(f, "s", "r2", 200, 0, NULL), SR_OK);
    assert_int_equal(settle(f, "r2", 150, NULL), SR_OK);
    assert_int_equal(sr_ledger_release(f->ledger, "r2", &r, &err), SR_OK);
    assert_true(r.replayed);
    assert_int_equal(r.state, SR_LEDGER_SETTLED);
    assert_int_equal(r.session.spent, 150);

    assert_int_equal(sr_ledger_release(f->ledger, "missing", &r, &err), SR_ERR_NOT_FOUND);
}

static void settle_after_release_is_late(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "r1", 400, 0, NULL), SR_OK);
    assert_int_equal(reserve(f, "s", "r2", 800, 0, NULL), SR_ERR_REJECTED);
    assert_int_equal(sr_ledger_release(f->ledger, "r1", NULL, NULL), SR_OK);
    assert_int_equal(reserve(f, "s", "r2", 800, 0, NULL), SR_OK);

    /* r1 holds nothing now; free = 1000 - 0 - 800 = 200, so 300 - 200 is overdraft. */
    assert_int_equal(settle(f, "r1", 300, &r), SR_OK);
    assert_int_equal(r.state, SR_LEDGER_SETTLED);
    assert_true(r.late);
    assert_int_equal(r.overdraft, 100);
    assert_int_equal(r.session.spent, 300);
    assert_int_equal(r.session.reserved, 800);
    assert_int_equal(r.session.overdraft, 100);
}

static void reservation_expires(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    sr_error err;
    create(f, "s", 1000);

    f->now = T0;
    assert_int_equal(reserve(f, "s", "r1", 600, 100, &r), SR_OK);
    assert_int_equal(r.expires_at_ms, T0 + 100);

    /* One millisecond before expiry it still counts. */
    f->now = T0 + 99;
    assert_int_equal(totals(f, "s").reserved, 600);
    assert_int_equal(reserve(f, "s", "r2", 401, 0, NULL), SR_ERR_REJECTED);

    /* At the expiry time it no longer does. */
    f->now = T0 + 100;
    sr_ledger_session s = totals(f, "s");
    assert_int_equal(s.reserved, 0);
    assert_int_equal(s.open_reservations, 0);
    assert_int_equal(sr_ledger_reservation_get(f->ledger, "r1", &r, &err), SR_OK);
    assert_int_equal(r.state, SR_LEDGER_EXPIRED);
    assert_int_equal(reserve(f, "s", "r2", 1000, 0, NULL), SR_OK);
}

static void settle_after_expiry_counts_overdraft(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    f->now = T0;
    assert_int_equal(reserve(f, "s", "r1", 800, 100, NULL), SR_OK);
    f->now = T0 + 200;
    assert_int_equal(reserve(f, "s", "r2", 300, 0, NULL), SR_OK);

    /* Late: free = 1000 - 0 - 300 = 700, so 800 - 700 = 100 is overdraft. */
    assert_int_equal(settle(f, "r1", 800, &r), SR_OK);
    assert_true(r.late);
    assert_int_equal(r.overdraft, 100);
    assert_int_equal(r.session.spent, 800);
    assert_int_equal(r.session.reserved, 300);
    assert_int_equal(r.session.overdraft, 100);
    assert_int_equal(r.session.remaining, -100);

    /* Retrying the late settle counts nothing twice. */
    assert_int_equal(settle(f, "r1", 800, &r), SR_OK);
    assert_true(r.replayed);
    assert_int_equal(r.session.spent, 800);
    assert_int_equal(r.session.overdraft, 100);
}

static void late_settle_that_fits(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "r1", 500, 50, NULL), SR_OK);
    f->now += 50;
    assert_int_equal(settle(f, "r1", 500, &r), SR_OK); /* free = 1000 */
    assert_true(r.late);
    assert_int_equal(r.overdraft, 0);
    assert_int_equal(r.session.spent, 500);
}

static void release_after_expiry(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);

    assert_int_equal(reserve(f, "s", "r1", 500, 10, NULL), SR_OK);
    f->now += 10;
    assert_int_equal(sr_ledger_release(f->ledger, "r1", &r, NULL), SR_OK);
    assert_int_equal(r.state, SR_LEDGER_RELEASED);
    assert_int_equal(r.session.reserved, 0);
    assert_int_equal(r.session.spent, 0);
}

static void default_ttl_from_options(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;

    sr_ledger_close(f->ledger);
    f->options.default_ttl_ms = 50;
    open_ledger(f);
    create(f, "s", 1000);
    assert_int_equal(reserve(f, "s", "r1", 10, 0, &r), SR_OK);
    assert_int_equal(r.expires_at_ms, T0 + 50);
    assert_int_equal(reserve(f, "s", "r2", 10, 7, &r), SR_OK);
    assert_int_equal(r.expires_at_ms, T0 + 7);
}

static void count_open_over_sessions(void **state)
{
    fixture *f = begin(state);
    int64_t count = -1;
    create(f, "s", 1000);
    create(f, "t", 1000);

    assert_int_equal(reserve(f, "s", "a", 1, 100, NULL), SR_OK);
    assert_int_equal(reserve(f, "t", "b", 1, 200, NULL), SR_OK);
    assert_int_equal(reserve(f, "t", "c", 1, 300, NULL), SR_OK);
    assert_int_equal(settle(f, "c", 1, NULL), SR_OK);
    assert_int_equal(sr_ledger_count_open(f->ledger, &count, NULL), SR_OK);
    assert_int_equal(count, 2);
    f->now += 100; /* "a" expires */
    assert_int_equal(sr_ledger_count_open(f->ledger, &count, NULL), SR_OK);
    assert_int_equal(count, 1);
    assert_int_equal(sr_ledger_ping(f->ledger, NULL), SR_OK);
}

static void state_survives_reopen(void **state)
{
    fixture *f = begin(state);
    create(f, "s", 1000);
    assert_int_equal(reserve(f, "s", "r1", 400, 0, NULL), SR_OK);
    assert_int_equal(reserve(f, "s", "r2", 100, 0, NULL), SR_OK);
    assert_int_equal(settle(f, "r2", 150, NULL), SR_OK);

    sr_ledger_close(f->ledger);
    open_ledger(f);
    sr_ledger_session s = totals(f, "s");
    assert_int_equal(s.budget, 1000);
    assert_int_equal(s.spent, 150);
    assert_int_equal(s.reserved, 400);
    assert_int_equal(s.overdraft, 50);
    assert_int_equal(settle(f, "r2", 150, NULL), SR_OK);
    assert_int_equal(totals(f, "s").spent, 150);
}

static void totals_stop_at_exact_limit(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    sr_error err;
    char id[16];
    create(f, "s", SR_LEDGER_MAX_AMOUNT);

    /* Ten zero reservations, then settles of the maximum amount each. */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "z%d", i);
        assert_int_equal(reserve(f, "s", id, 0, 0, NULL), SR_OK);
    }
    for (int i = 0; i < 9; i++) {
        snprintf(id, sizeof(id), "z%d", i);
        assert_int_equal(settle(f, id, SR_LEDGER_MAX_AMOUNT, &r), SR_OK);
    }
    assert_int_equal(r.session.spent, 9 * SR_LEDGER_MAX_AMOUNT);
    assert_int_equal(r.session.overdraft, 9 * SR_LEDGER_MAX_AMOUNT);

    /* 1e16 > 2^53 - 1: refused, nothing recorded. */
    assert_int_equal(sr_ledger_settle(f->ledger, "z9", SR_LEDGER_MAX_AMOUNT, &r, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "maximum"));
    sr_ledger_session s = totals(f, "s");
    assert_int_equal(s.spent, 9 * SR_LEDGER_MAX_AMOUNT);
    assert_int_equal(settle(f, "z9", 7, &r), SR_OK);
    assert_int_equal(r.session.spent, 9 * SR_LEDGER_MAX_AMOUNT + 7);
}

static void admitted_counts_each_reservation_once(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    create(f, "s", 1000);
    create(f, "t", 1000);
    assert_int_equal(totals(f, "s").reservations_admitted, 0);

    assert_int_equal(reserve(f, "s", "r1", 400, 0, &r), SR_OK);
    assert_int_equal(r.session.reservations_admitted, 1);

    /* A retry and a rejected reserve count nothing. */
    assert_int_equal(reserve(f, "s", "r1", 400, 0, &r), SR_OK);
    assert_true(r.replayed);
    assert_int_equal(r.session.reservations_admitted, 1);
    assert_int_equal(reserve(f, "s", "big", 601, 0, &r), SR_ERR_REJECTED);
    assert_int_equal(r.session.reservations_admitted, 1);
    assert_int_equal(reserve(f, "t", "r1", 400, 0, &r), SR_ERR_CONFLICT);
    assert_int_equal(totals(f, "t").reservations_admitted, 0);

    /* Settling, releasing and expiring leave the count alone. */
    assert_int_equal(reserve(f, "s", "r2", 100, 1000, &r), SR_OK);
    assert_int_equal(r.session.reservations_admitted, 2);
    assert_int_equal(reserve(f, "s", "r3", 100, 0, NULL), SR_OK);
    assert_int_equal(settle(f, "r1", 300, NULL), SR_OK);
    assert_int_equal(sr_ledger_release(f->ledger, "r3", &r, NULL), SR_OK);
    f->now += 1000;
    sr_ledger_session s = totals(f, "s");
    assert_int_equal(s.reservations_admitted, 3);
    assert_int_equal(s.open_reservations, 0);
    assert_int_equal(totals(f, "t").reservations_admitted, 0);

    /* A replayed create reports the count too. */
    sr_error err;
    assert_int_equal(sr_ledger_session_create(f->ledger, "s", 1000, &s, NULL, &err), SR_OK);
    assert_int_equal(s.reservations_admitted, 3);
}

static void model_stored_on_reservation(void **state)
{
    fixture *f = begin(state);
    sr_ledger_reservation r;
    sr_error err;
    create(f, "s", 1000);

    assert_int_equal(sr_ledger_reserve_model(f->ledger, "s", "r1", 100, 0, "gpt-4o", &r, &err),
                     SR_OK);
    assert_string_equal(r.model, "gpt-4o");
    assert_int_equal(sr_ledger_reservation_get(f->ledger, "r1", &r, &err), SR_OK);
    assert_string_equal(r.model, "gpt-4o");

    /* A retry must name the same model; none at all is another model. */
    assert_int_equal(sr_ledger_reserve_model(f->ledger, "s", "r1", 100, 0, "gpt-4o", &r, &err),
                     SR_OK);
    assert_true(r.replayed);
    assert_int_equal(sr_ledger_reserve_model(f->ledger, "s", "r1", 100, 0, "mini", &r, &err),
                     SR_ERR_CONFLICT);
    assert_non_null(strstr(err.message, "gpt-4o"));
    assert_int_equal(reserve(f, "s", "r1", 100, 0, &r), SR_ERR_CONFLICT);
    assert_int_equal(totals(f, "s").reservations_admitted, 1);

    /* Without a model the field is empty; "" and NULL are the same. */
    assert_int_equal(reserve(f, "s", "r2", 100, 0, &r), SR_OK);
    assert_string_equal(r.model, "");
    assert_int_equal(sr_ledger_reserve_model(f->ledger, "s", "r2", 100, 0, "", &r, &err), SR_OK);
    assert_true(r.replayed);

    /* Settle and release return the model. */
    assert_int_equal(settle(f, "r1", 100, &r), SR_OK);
    assert_string_equal(r.model, "gpt-4o");

    /* UTF-8 names fit; control bytes and names past the limit do not. */
    assert_int_equal(
        sr_ledger_reserve_model(f->ledger, "s", "r3", 1, 0, "mod\xc3\xa8le", &r, &err), SR_OK);
    assert_string_equal(r.model, "mod\xc3\xa8le");
    assert_int_equal(sr_ledger_reserve_model(f->ledger, "s", "r4", 1, 0, "a\nb", &r, &err),
                     SR_ERR_INVALID);
    char longest[SR_LEDGER_MODEL_MAX + 2];
    memset(longest, 'm', sizeof(longest) - 1);
    longest[SR_LEDGER_MODEL_MAX + 1] = '\0';
    assert_int_equal(sr_ledger_reserve_model(f->ledger, "s", "r5", 1, 0, longest, &r, &err),
                     SR_ERR_INVALID);
    longest[SR_LEDGER_MODEL_MAX] = '\0';
    assert_int_equal(sr_ledger_reserve_model(f->ledger, "s", "r5", 1, 0, longest, &r, &err),
                     SR_OK);
    assert_int_equal(strlen(r.model), SR_LEDGER_MODEL_MAX);
}

/* ---- backend-specific checks ------------------------------------------- */

/* Runs `sql` on the SQLite file at `path` with its own connection. */
static void sqlite_exec_file(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
        fail_msg("sqlite3_exec: %s", message);
    sqlite3_close(db);
}

static int sqlite_user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    const int version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
}

/* A file as the first ledger version wrote it: no count, no model column. */
static const char version_1_file_sql[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, budget INTEGER NOT NULL CHECK (budget >= 0),"
    " spent INTEGER NOT NULL DEFAULT 0, overdraft INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE reservations (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES"
    " sessions (id), amount INTEGER NOT NULL CHECK (amount >= 0), expires_ms INTEGER NOT NULL,"
    " state INTEGER NOT NULL, actual INTEGER NOT NULL DEFAULT 0,"
    " overdraft INTEGER NOT NULL DEFAULT 0, late INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, closed_ms INTEGER);"
    "CREATE INDEX reservations_by_session ON reservations (session_id, state, expires_ms);"
    "CREATE INDEX reservations_by_expiry ON reservations (state, expires_ms);"
    "INSERT INTO sessions VALUES ('old', 1000, 300, 0, 1);"
    "INSERT INTO sessions VALUES ('empty', 50, 0, 0, 1);"
    "INSERT INTO reservations VALUES ('s1.0', 'old', 300, 99999999999999, 1, 300, 0, 0, 1, 2);"
    "INSERT INTO reservations VALUES ('s2.1', 'old', 200, 99999999999999, 0, 0, 0, 0, 1, NULL);"
    "INSERT INTO reservations VALUES ('s3.1', 'old', 100, 99999999999999, 2, 0, 0, 0, 1, 3);"
    "PRAGMA user_version = 1;";

static void sqlite_upgrades_version_1_file(void **state)
{
    fixture *f = begin(state);
    if (g_backend.kind != BACKEND_SQLITE)
        skip();
    sr_ledger_close(f->ledger);
    f->ledger = NULL;
    unlink(f->path);
    sqlite_exec_file(f->path, version_1_file_sql);

    open_ledger(f);
    assert_int_equal(sqlite_user_version(f->path), 2);

    /* The count is filled from the reservations the file holds: 3 and 0. */
    sr_ledger_session s = totals(f, "old");
    assert_int_equal(s.reservations_admitted, 3);
    assert_int_equal(s.spent, 300);
    assert_int_equal(s.reserved, 200);
    assert_int_equal(totals(f, "empty").reservations_admitted, 0);

    /* Old reservations have no model and still settle; new ones count on. */
    sr_ledger_reservation r;
    assert_int_equal(settle(f, "s2.1", 150, &r), SR_OK);
    assert_string_equal(r.model, "");
    assert_int_equal(r.session.spent, 450);
    sr_error err;
    assert_int_equal(sr_ledger_reserve_model(f->ledger, "old", "s4", 10, 0, "weak", &r, &err),
                     SR_OK);
    assert_int_equal(r.session.reservations_admitted, 4);

    /* Opening again is a no-op on the schema. */
    sr_ledger_close(f->ledger);
    open_ledger(f);
    assert_int_equal(totals(f, "old").reservations_admitted, 4);
    assert_int_equal(sqlite_user_version(f->path), 2);
}

static void sqlite_rejects_newer_schema(void **state)
{
    fixture *f = begin(state);
    if (g_backend.kind != BACKEND_SQLITE)
        skip();
    sr_ledger_close(f->ledger);
    f->ledger = NULL;
    sqlite_exec_file(f->path, "PRAGMA user_version = 3;");

    sr_ledger *ledger = NULL;
    sr_error err;
    assert_int_equal(sr_ledger_open(f->url, &f->options, &ledger, &err), SR_ERR_UNSUPPORTED);
    assert_null(ledger);
    assert_non_null(strstr(err.message, "version 3"));
}

static void sqlite_file_is_wal(void **state)
{
    fixture *f = begin(state);
    if (g_backend.kind != BACKEND_SQLITE)
        skip();
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    assert_string_equal(sr_ledger_backend_name(f->ledger), "sqlite");
}

static void redis_script_cache_flush(void **state)
{
    fixture *f = begin(state);
    if (g_backend.kind != BACKEND_REDIS)
        skip();
    assert_string_equal(sr_ledger_backend_name(f->ledger), "redis");
    create(f, "s", 1000);

    /* Only a server this suite owns may have its script cache flushed. */
    if (g_backend.redis_pid <= 0)
        skip();
    struct timeval timeout = {.tv_sec = 2, .tv_usec = 0};
    redisContext *admin = redisConnectWithTimeout("127.0.0.1", g_backend.redis_port, timeout);
    assert_non_null(admin);
    assert_int_equal(admin->err, 0);
    redisReply *reply = redisCommand(admin, "SCRIPT FLUSH");
    assert_non_null(reply);
    freeReplyObject(reply);
    redisFree(admin);

    /* EVALSHA now answers NOSCRIPT; the backend falls back to EVAL. */
    assert_int_equal(reserve(f, "s", "r1", 10, 0, NULL), SR_OK);
    assert_int_equal(totals(f, "s").reserved, 10);
}

static void redis_reads_hashes_without_new_fields(void **state)
{
    fixture *f = begin(state);
    if (g_backend.kind != BACKEND_REDIS || g_backend.redis_pid <= 0)
        skip();

    /* Keys as the first ledger version wrote them: no `admitted`, no `model`. */
    const char *prefix = strstr(f->url, "?prefix=") + strlen("?prefix=");
    struct timeval timeout = {.tv_sec = 2, .tv_usec = 0};
    redisContext *admin = redisConnectWithTimeout("127.0.0.1", g_backend.redis_port, timeout);
    assert_non_null(admin);
    assert_int_equal(admin->err, 0);
    redisReply *reply = redisCommand(admin,
                                     "HSET %ss:old budget 1000 spent 0 reserved 200 overdraft 0 "
                                     "created_ms 1",
                                     prefix);
    assert_non_null(reply);
    freeReplyObject(reply);
    reply = redisCommand(admin,
                         "HSET %sr:x.1 session old amount 200 expires 99999999999999 state open "
                         "actual 0 overdraft 0 late 0 created_ms 1",
                         prefix);
    assert_non_null(reply);
    freeReplyObject(reply);
    reply = redisCommand(admin, "ZADD %sso:old 99999999999999 x.1", prefix);
    assert_non_null(reply);
    freeReplyObject(reply);
    redisFree(admin);

    sr_ledger_session s = totals(f, "old");
    assert_int_equal(s.reservations_admitted, 0);
    assert_int_equal(s.reserved, 200);
    sr_ledger_reservation r;
    sr_error err;
    assert_int_equal(sr_ledger_reservation_get(f->ledger, "x.1", &r, &err), SR_OK);
    assert_string_equal(r.model, "");
    assert_int_equal(r.amount, 200);
    assert_int_equal(reserve(f, "old", "x.1", 200, 0, &r), SR_OK);
    assert_true(r.replayed);

    /* Counting starts from the first reservation admitted after the upgrade. */
    assert_int_equal(reserve(f, "old", "y", 100, 0, &r), SR_OK);
    assert_int_equal(r.session.reservations_admitted, 1);
    assert_int_equal(settle(f, "x.1", 200, &r), SR_OK);
    assert_int_equal(r.session.spent, 200);
}

static void redis_reconnects_after_restart(void **state)
{
    fixture *f = begin(state);
    if (g_backend.kind != BACKEND_REDIS || g_backend.redis_pid <= 0)
        skip();
    create(f, "s", 1000);

    /* Restart the server: the ledger's connection is now dead.  The
     * server keeps no data, so the session must be created again. */
    stop_redis();
    assert_true(start_redis(g_backend.redis_port));
    sr_ledger_session s;
    sr_error err;
    assert_int_equal(sr_ledger_session_create(f->ledger, "s", 1000, &s, NULL, &err), SR_OK);
    assert_int_equal(s.budget, 1000);

    /* With the server gone, calls fail with a clear error, not a crash. */
    stop_redis();
    assert_int_equal(sr_ledger_session_get(f->ledger, "s", &s, &err), SR_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "redis-server"));
    assert_true(start_redis(g_backend.redis_port));
    assert_int_equal(sr_ledger_ping(f->ledger, &err), SR_OK);
}

#define BEHAVIOUR(test) cmocka_unit_test_setup_teardown(test, test_setup, test_teardown)

#define BEHAVIOUR_SUITE                                                                        \
    BEHAVIOUR(session_create_is_idempotent), BEHAVIOUR(session_get_unknown_not_found),       \
        BEHAVIOUR(invalid_arguments_rejected), BEHAVIOUR(exact_budget_fits),                 \
        BEHAVIOUR(one_micro_over_rejected), BEHAVIOUR(spent_counts_against_budget),          \
        BEHAVIOUR(reserve_retry_is_idempotent), BEHAVIOUR(settle_retry_is_idempotent),       \
        BEHAVIOUR(overdraft_recorded_not_lost), BEHAVIOUR(overdraft_past_budget),            \
        BEHAVIOUR(release_is_idempotent), BEHAVIOUR(settle_after_release_is_late),           \
        BEHAVIOUR(reservation_expires), BEHAVIOUR(settle_after_expiry_counts_overdraft),     \
        BEHAVIOUR(late_settle_that_fits), BEHAVIOUR(release_after_expiry),                   \
        BEHAVIOUR(default_ttl_from_options), BEHAVIOUR(count_open_over_sessions),            \
        BEHAVIOUR(state_survives_reopen), BEHAVIOUR(totals_stop_at_exact_limit),             \
        BEHAVIOUR(admitted_counts_each_reservation_once), BEHAVIOUR(model_stored_on_reservation)

int main(void)
{
    const struct CMUnitTest unit_tests[] = {
        cmocka_unit_test(cost_rounds_up),
        cmocka_unit_test(budget_rounds_down),
        cmocka_unit_test(cost_rejects_bad_values),
        cmocka_unit_test(micros_format_exact),
        cmocka_unit_test(open_rejects_bad_urls),
        cmocka_unit_test(sqlite_missing_folder_is_io_error),
        cmocka_unit_test(redis_unreachable_is_unavailable),
    };
    const struct CMUnitTest sqlite_tests[] = {
        BEHAVIOUR_SUITE,
        BEHAVIOUR(sqlite_file_is_wal),
        BEHAVIOUR(sqlite_upgrades_version_1_file),
        BEHAVIOUR(sqlite_rejects_newer_schema),
    };
    const struct CMUnitTest redis_tests[] = {
        BEHAVIOUR_SUITE,
        BEHAVIOUR(redis_script_cache_flush),
        BEHAVIOUR(redis_reads_hashes_without_new_fields),
        BEHAVIOUR(redis_reconnects_after_restart),
    };

    int failed = cmocka_run_group_tests_name("ledger units", unit_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("ledger sqlite", sqlite_tests, group_setup_sqlite,
                                          group_teardown);
    failed += cmocka_run_group_tests_name("ledger redis", redis_tests, group_setup_redis,
                                          group_teardown);
    return failed;
}
