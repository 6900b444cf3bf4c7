/*
 * bench_train.c - training throughput of the CQL update: full update steps
 * per second and samples per second, for given batch sizes and OpenBLAS
 * thread counts, on the default Q-network (385 inputs, hidden [512, 256,
 * 256], 2 outputs unless overridden).
 *
 * Method: random transitions (uniform features in [-1, 1], uniform rewards
 * in [0, 1], a quarter terminal), eight prepared batches used in turn so
 * the inputs are not always the same cache lines, then per setting a
 * warm-up of --warmup steps and --reps timed runs of --steps steps each.
 * The reported rate is the median run.  Each update includes everything
 * sr_cql_update does: forward on s and s' (online) and s' (target), the
 * targets, loss, backward, gradient norm, Adam and the target sync.  s and
 * s' are separate arrays, so the copy into one [2N x D] input is timed too.
 *
 * Output: one line per setting,
 *   impl=seqroute batch=N threads=T steps_per_s=X samples_per_s=Y
 * which bench/run-train-bench.sh joins with bench/torch_cql.py's lines.
 *
 * Usage: bench_train [--batch 32,256] [--threads 1,2] [--steps S]
 *                    [--reps R] [--warmup W] [--input D] [--models K]
 *                    [--reference]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seqroute/cql.h"

/* Prepared batches used in turn. */
#define BENCH_BATCHES 8
#define BENCH_MAX_LIST 16

typedef struct bench_options {
    int batches[BENCH_MAX_LIST];
    int batch_count;
    int threads[BENCH_MAX_LIST];
    int thread_count;
    int steps;
    int reps;
    int warmup;
    int input_dim;
    int models;
    bool reference;
} bench_options;

typedef struct bench_data {
    float *states;      /* [BENCH_BATCHES x N x D] */
    float *next_states; /* [BENCH_BATCHES x N x D] */
    int32_t *actions;
    float *rewards;
    uint8_t *terminal;
} bench_data;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_list(const char *text, int *out, int max)
{
    int count = 0;
    const char *p = text;
    while (*p != '\0' && count < max) {
        char *end;
        long value = strtol(p, &end, 10);
        if (end == p || value < 1 || value > 65536)
            return -1;
        out[count++] = (int)value;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return -1;
    }
    return count;
}

static int parse_positive(const char *text)
{
    char *end;
    long value = strtol(text, &end, 10);
    if (*end != '\0' || value < 1 || value > 100000000)
        return -1;
    return (int)value;
}

static int parse_options(int argc, char **argv, bench_options *opt)
{
    opt->batches[0] = 32;
    opt->batches[1] = 256;
    opt->batch_count = 2;
    opt->threads[0] = 1;
    opt->threads[1] = 2;
    opt->thread_count = 2;
    opt->steps = 200;
    opt->reps = 5;
    opt->warmup = 30;
    opt->input_dim = 385; /* the default state: 384-wide embedding plus the budget */
    opt->models = 2;
    opt->reference = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--reference") == 0) {
            opt->reference = true;
            continue;
        }
        if (value == NULL) {
            fprintf(stderr, "bench_train: option %s needs a value\n", arg);
            return -1;
        }
        i++;
        int ok = 1;
        if (strcmp(arg, "--batch") == 0)
            ok = (opt->batch_count = parse_list(value, opt->batches, BENCH_MAX_LIST)) > 0;
        else if (strcmp(arg, "--threads") == 0)
            ok = (opt->thread_count = parse_list(value, opt->threads, BENCH_MAX_LIST)) > 0;
        else if (strcmp(arg, "--steps") == 0)
            ok = (opt->steps = parse_positive(value)) > 0;
        else if (strcmp(arg, "--reps") == 0)
            ok = (opt->reps = parse_positive(value)) > 0;
        else if (strcmp(arg, "--warmup") == 0)
            ok = (opt->warmup = parse_positive(value)) > 0;
        else if (strcmp(arg, "--input") == 0)
            ok = (opt->input_dim = parse_positive(value)) > 0;
        else if (strcmp(arg, "--models") == 0)
            ok = (opt->models = parse_positive(value)) > 0;
        else {
            fprintf(stderr, "bench_train: unknown option %s\n", arg);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "bench_train: invalid value '%s' for %s\n", value, arg);
            return -1;
        }
    }
    return 0;
}

static int make_data(bench_data *data, int n, int d, int k, uint64_t seed)
{
    size_t floats = (size_t)BENCH_BATCHES * (size_t)n * (size_t)d;
    size_t rows = (size_t)BENCH_BATCHES * (size_t)n;
    data->states = malloc(floats * sizeof(float));
    data->next_states = malloc(floats * sizeof(float));
    data->actions = malloc(rows * sizeof(int32_t));
    data->rewards = malloc(rows * sizeof(float));
    data->terminal = malloc(rows);
    if (!data->states || !data->next_states || !data->actions || !data->rewards ||
        !data->terminal)
        return -1;

    sr_rng rng;
    sr_rng_seed(&rng, seed);
    for (size_t i = 0; i < floats; i++) {
        data->states[i] = (float)(2.0 * sr_rng_uniform(&rng) - 1.0);
        data->next_states[i] = (float)(2.0 * sr_rng_uniform(&rng) - 1.0);
    }
    for (size_t i = 0; i < rows; i++) {
        data->actions[i] = (int32_t)sr_rng_below(&rng, (uint64_t)k);
        data->rewards[i] = (float)sr_rng_uniform(&rng);
        data->terminal[i] = sr_rng_uniform(&rng) < 0.25 ? 1 : 0;
    }
    return 0;
}

static void free_data(bench_data *data)
{
    free(data->states);
    free(data->next_states);
    free(data->actions);
    free(data->rewards);
    free(data->terminal);
}

static sr_cql_batch batch_at(const bench_data *data, int index, int n, int d)
{
    size_t row = (size_t)index * (size_t)n;
    sr_cql_batch batch = {
        .count = n,
        .states = data->states + row * (size_t)d,
        .actions = data->actions + row,
        .rewards = data->rewards + row,
        .next_states = data->next_states + row * (size_t)d,
        .terminal = data->terminal + row,
        .weights = NULL,
        .next_mask = NULL,
    };
    return batch;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs one (batch, threads) setting; returns the median steps per second. */
static double run_setting(const bench_options *opt, int n, int threads, double *rates)
{
    sr_nn_set_threads(threads);

    sr_mlp_config net;
    sr_cql_network_default(&net, opt->input_dim, opt->models);
    sr_cql_config config;
    sr_cql_config_default(&config);
    config.max_batch = n;
    config.target_period = 100; /* exercises the hard copy inside the timed runs */

    sr_error err;
    sr_cql *learner = NULL;
    bench_data data = {0};
    if (sr_cql_create(&net, &config, 42, &learner, &err) != SR_OK ||
        make_data(&data, n, opt->input_dim, opt->models, 7) != 0) {
        fprintf(stderr, "bench_train: setup failed: %s\n", err.message);
        exit(1);
    }

    int next = 0;
    for (int rep = -1; rep < opt->reps; rep++) {
        int steps = rep < 0 ? opt->warmup : opt->steps;
        double start = now_seconds();
        for (int s = 0; s < steps; s++) {
            sr_cql_batch batch = batch_at(&data, next, n, opt->input_dim);
            next = (next + 1) % BENCH_BATCHES;
            if (sr_cql_update(learner, &batch, NULL, &err) != SR_OK) {
                fprintf(stderr, "bench_train: update failed: %s\n", err.message);
                exit(1);
            }
        }
        double elapsed = now_seconds() - start;
        if (rep >= 0)
            rates[rep] = (double)steps / elapsed;
    }

    qsort(rates, (size_t)opt->reps, sizeof(double), compare_double);
    double median = opt->reps % 2 == 1
                        ? rates[opt->reps / 2]
                        : 0.5 * (rates[opt->reps / 2 - 1] + rates[opt->reps / 2]);
    free_data(&data);
    sr_cql_destroy(learner);
    return median;
}

int main(int argc, char **argv)
{
    bench_options opt;
    if (parse_options(argc, argv, &opt) != 0)
        return 2;
    sr_nn_set_reference(opt.reference);

    double *rates = malloc((size_t)opt.reps * sizeof(double));
    if (rates == NULL)
        return 1;
    for (int b = 0; b < opt.batch_count; b++) {
        for (int t = 0; t < opt.thread_count; t++) {
            double steps_per_s = run_setting(&opt, opt.batches[b], opt.threads[t], rates);
            printf("impl=seqroute batch=%d threads=%d steps_per_s=%.1f samples_per_s=%.0f\n",
                   opt.batches[b], opt.threads[t], steps_per_s,
                   steps_per_s * opt.batches[b]);
            fflush(stdout);
        }
    }
    free(rates);
    return 0;
}
