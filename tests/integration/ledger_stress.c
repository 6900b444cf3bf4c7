/*
 * ledger_stress.c - drives the budget ledger for the concurrency and crash
 * checks in test_ledger_concurrency.sh.
 *
 * Commands (every amount in micro-units):
 *   reserve URL SESSION BUDGET COST THREADS ATTEMPTS [shared]
 *       Creates the session (idempotent), then THREADS threads each try
 *       ATTEMPTS reservations of COST with ids unique to this process.
 *       Each thread opens its own handle, or all share one with "shared".
 *       Prints "admitted N" and exits 0 unless a call fails unexpectedly.
 *   check URL SESSION BUDGET COST EXPECTED_ADMITTED
 *       Exits 0 when the session holds exactly EXPECTED_ADMITTED * COST
 *       reserved, that count of open reservations, and reserved <= budget.
 *   settle-stream URL SESSION LOG
 *       Reserves and settles r0, r1, ... (amount 10, actual 7) forever;
 *       after each settle returns it appends the id to LOG and fsyncs.
 *   verify URL SESSION LOG
 *       Checks that every id in LOG is settled with 7, that re-settling
 *       them changes nothing, and that spent counts each settle once.
 *   free-port
 *       Prints a loopback TCP port that was free a moment ago.
 */
#include "seqroute/ledger.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Amounts used by the crash check: actual below the reservation. */
#define STREAM_AMOUNT 10
#define STREAM_ACTUAL 7

/* Maximum length of an id line read back from the log. */
#define LOG_LINE_MAX 256

typedef struct reserve_job {
    const char *url;
    const char *session;
    int64_t cost;
    int attempts;
    int thread;
    sr_ledger *shared;
    long admitted;
    int failures;
} reserve_job;

static int64_t parse_i64(const char *text, const char *what)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0) {
        fprintf(stderr, "ledger_stress: invalid %s '%s'\n", what, text);
        exit(2);
    }
    return (int64_t)value;
}

static sr_ledger *open_or_die(const char *url)
{
    sr_ledger *ledger = NULL;
    sr_error err;
    sr_ledger_options options;
    sr_ledger_options_init(&options);
    options.busy_timeout_ms = 30000; /* many writers queue on one file */
    if (sr_ledger_open(url, &options, &ledger, &err) != SR_OK) {
        fprintf(stderr, "ledger_stress: %s\n", err.message);
        exit(1);
    }
    return ledger;
}

static void *reserve_thread(void *arg)
{
    reserve_job *job = arg;
    sr_ledger *ledger = job->shared != NULL ? job->shared : open_or_die(job->url);

    for (int i = 0; i < job->attempts; i++) {
        char id[96];
        snprintf(id, sizeof(id), "p%ld-t%d-%d", (long)getpid(), job->thread, i);
        sr_error err;
        sr_status status = sr_ledger_reserve(ledger, job->session, id, job->cost, 0, NULL, &err);
        if (status == SR_OK) {
            job->admitted++;
        } else if (status != SR_ERR_REJECTED) {
            fprintf(stderr, "ledger_stress: reserve %s: %s\n", id, err.message);
            job->failures++;
        }
    }

    if (job->shared == NULL)
        sr_ledger_close(ledger);
    return NULL;
}

static int command_reserve(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: ledger_stress reserve URL SESSION BUDGET COST THREADS ATTEMPTS "
                        "[shared]\n");
        return 2;
    }
    const char *url = argv[2];
    const char *session = argv[3];
    int64_t budget = parse_i64(argv[4], "budget");
    int64_t cost = parse_i64(argv[5], "cost");
    int threads = (int)parse_i64(argv[6], "threads");
    int attempts = (int)parse_i64(argv[7], "attempts");
    bool shared = argc > 8 && strcmp(argv[8], "shared") == 0;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "ledger_stress: threads must be 1 to 256\n");
        return 2;
    }

    sr_ledger *ledger = open_or_die(url);
    sr_error err;
    if (sr_ledger_session_create(ledger, session, budget, NULL, NULL, &err) != SR_OK) {
        fprintf(stderr, "ledger_stress: %s\n", err.message);
        return 1;
    }

    reserve_job jobs[256];
    pthread_t ids[256];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (reserve_job){.url = url,
                                .session = session,
                                .cost = cost,
                                .attempts = attempts,
                                .thread = t,
                                .shared = shared ? ledger : NULL};
        pthread_create(&ids[t], NULL, reserve_thread, &jobs[t]);
    }
    long admitted = 0;
    int failures = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        admitted += jobs[t].admitted;
        failures += jobs[t].failures;
    }
    sr_ledger_close(ledger);

    printf("admitted %ld\n", admitted);
    return failures == 0 ? 0 : 1;
}

static int command_check(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: ledger_stress check URL SESSION BUDGET COST EXPECTED\n");
        return 2;
    }
    int64_t budget = parse_i64(argv[4], "budget");
    int64_t cost = parse_i64(argv[5], "cost");
    int64_t expected = parse_i64(argv[6], "expected");

    sr_ledger *ledger = open_or_die(argv[2]);
    sr_ledger_session s;
    sr_error err;
    sr_status status = sr_ledger_session_get(ledger, argv[3], &s, &err);
    sr_ledger_close(ledger);
    if (status != SR_OK) {
        fprintf(stderr, "ledger_stress: %s\n", err.message);
        return 1;
    }

    int failures = 0;
    if (s.reserved > budget) {
        fprintf(stderr, "FAIL: reserved %" PRId64 " exceeds budget %" PRId64 "\n", s.reserved,
                budget);
        failures++;
    }
    if (s.reserved != expected * cost) {
        fprintf(stderr, "FAIL: reserved %" PRId64 ", expected %" PRId64 "\n", s.reserved,
                expected * cost);
        failures++;
    }
    if (s.open_reservations != expected) {
        fprintf(stderr, "FAIL: %" PRId64 " open reservations, expected %" PRId64 "\n",
                s.open_reservations, expected);
        failures++;
    }
    return failures == 0 ? 0 : 1;
}

static int command_settle_stream(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: ledger_stress settle-stream URL SESSION LOG\n");
        return 2;
    }
    sr_ledger *ledger = open_or_die(argv[2]);
    sr_error err;
    if (sr_ledger_session_create(ledger, argv[3], SR_LEDGER_MAX_AMOUNT, NULL, NULL, &err) !=
        SR_OK) {
        fprintf(stderr, "ledger_stress: %s\n", err.message);
        return 1;
    }
    int log = open(argv[4], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log < 0) {
        fprintf(stderr, "ledger_stress: cannot open %s: %s\n", argv[4], strerror(errno));
        return 1;
    }

    /* Runs until killed; the parent sends SIGKILL mid-stream. */
    for (long i = 0;; i++) {
        char id[64];
        int length = snprintf(id, sizeof(id), "r%ld", i);
        if (sr_ledger_reserve(ledger, argv[3], id, STREAM_AMOUNT, 0, NULL, &err) != SR_OK ||
            sr_ledger_settle(ledger, id, STREAM_ACTUAL, NULL, &err) != SR_OK) {
            fprintf(stderr, "ledger_stress: %s: %s\n", id, err.message);
            return 1;
        }
        id[length] = '\n';
        if (write(log, id, (size_t)length + 1) != length + 1 || fsync(log) != 0) {
            fprintf(stderr, "ledger_stress: writing %s failed: %s\n", argv[4], strerror(errno));
            return 1;
        }
    }
}

static int command_verify(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: ledger_stress verify URL SESSION LOG\n");
        return 2;
    }
    FILE *log = fopen(argv[4], "r");
    if (log == NULL) {
        fprintf(stderr, "ledger_stress: cannot open %s: %s\n", argv[4], strerror(errno));
        return 1;
    }
    sr_ledger *ledger = open_or_die(argv[2]);
    sr_error err;
    int failures = 0;

    /* Every acknowledged id, in order r0, r1, ...: settled with 7, once. */
    long acknowledged = 0;
    char line[LOG_LINE_MAX];
    while (fgets(line, sizeof(line), log) != NULL) {
        size_t length = strlen(line);
        if (length == 0 || line[length - 1] != '\n')
            break; /* a line cut by the kill: that settle is unacknowledged */
        line[length - 1] = '\0';
        char expected[64];
        snprintf(expected, sizeof(expected), "r%ld", acknowledged);
        if (strcmp(line, expected) != 0) {
            fprintf(stderr, "FAIL: log line %ld is '%s', expected '%s'\n", acknowledged + 1, line,
                    expected);
            failures++;
            break;
        }
        sr_ledger_reservation r;
        if (sr_ledger_settle(ledger, line, STREAM_ACTUAL, &r, &err) != SR_OK) {
            fprintf(stderr, "FAIL: re-settling acknowledged %s: %s\n", line, err.message);
            failures++;
        } else if (!r.replayed || r.state != SR_LEDGER_SETTLED || r.actual != STREAM_ACTUAL) {
            fprintf(stderr, "FAIL: acknowledged %s was not stored as settled with %d\n", line,
                    STREAM_ACTUAL);
            failures++;
        }
        acknowledged++;
    }
    fclose(log);

    /* The settle after the last acknowledged one may or may not have
     * committed before the kill; the one after that was never started. */
    long settled = acknowledged;
    char id[64];
    sr_ledger_reservation r;
    snprintf(id, sizeof(id), "r%ld", acknowledged);
    if (sr_ledger_reservation_get(ledger, id, &r, &err) == SR_OK && r.state == SR_LEDGER_SETTLED)
        settled++;
    snprintf(id, sizeof(id), "r%ld", acknowledged + 1);
    if (sr_ledger_reservation_get(ledger, id, &r, &err) != SR_ERR_NOT_FOUND) {
        fprintf(stderr, "FAIL: %s exists, but the stream stopped before it\n", id);
        failures++;
    }

    sr_ledger_session s;
    if (sr_ledger_session_get(ledger, argv[3], &s, &err) != SR_OK) {
        fprintf(stderr, "FAIL: %s\n", err.message);
        failures++;
    } else if (s.spent != settled * STREAM_ACTUAL) {
        fprintf(stderr, "FAIL: spent %" PRId64 ", expected %ld settles of %d = %ld\n", s.spent,
                settled, STREAM_ACTUAL, settled * STREAM_ACTUAL);
        failures++;
    }
    sr_ledger_close(ledger);

    printf("acknowledged %ld settled %ld\n", acknowledged, settled);
    if (acknowledged == 0) {
        fprintf(stderr, "FAIL: no settle was acknowledged before the kill\n");
        failures++;
    }
    return failures == 0 ? 0 : 1;
}

static int command_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        fprintf(stderr, "ledger_stress: no free loopback port: %s\n", strerror(errno));
        return 1;
    }
    printf("%d\n", ntohs(address.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "reserve") == 0)
        return command_reserve(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return command_check(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "settle-stream") == 0)
        return command_settle_stream(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return command_verify(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "free-port") == 0)
        return command_free_port();
    fprintf(stderr, "usage: ledger_stress reserve|check|settle-stream|verify|free-port ...\n");
    return 2;
}
