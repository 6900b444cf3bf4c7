/*
 * bench_decide.c - in-process route decision latency (p50, p99) and
 * decisions per second, for the default Q-network of seqroute train fed
 * with 384-float sentence embeddings (all-MiniLM-L6-v2's width) plus the budget (385 inputs),
 * hidden [512, 256, 256], 2 models.  The network is untrained (He initialisation, seed 1): latency
 * does not depend on the weights' values.
 *
 * One decision is sr_route_decide: copy and check the embedding, encode the
 * state, run the network on one row, apply the ĉ mask, the reservation mask
 * and the λ rule.  With --text the policy reads turn text instead (the
 * weight-free featuriser, 256 buckets: 777 inputs), so featurising a
 * 200-byte turn is timed too.
 *
 * Method: --warmup untimed decisions, then --decisions timed ones, each
 * timed alone with CLOCK_MONOTONIC; budgets and inputs rotate through 64
 * prepared turns.  Percentiles are order statistics of the sorted times.
 * The rate is decisions / total time of a second, untimed-per-call loop.
 *
 * With --write-policy FILE the policy is also saved, for the HTTP benchmark
 * (bench/run-serve-bench.sh).
 *
 * Usage: bench_decide [--decisions N] [--warmup N] [--threads T] [--text]
 *                     [--write-policy FILE]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seqroute/nn.h"
#include "seqroute/serve.h"

/* Width of the turn embeddings: 384, as all-MiniLM-L6-v2 produces. */
#define EMBEDDING_DIM 384
#define TURNS 64
#define TEXT_BYTES 200

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a;
    const double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Builds the policy: catalogue of the synthetic generator's two models, untrained network. */
static sr_qpolicy *build_policy(bool text, sr_error *err)
{
    sr_features_config features;
    sr_features_config_default(&features);
    features.source = text ? SR_FEATURES_TEXT : SR_FEATURES_EMBEDDING;

    sr_state_config state = {0};
    state.feature_dim = text ? sr_features_text_dim(&features) : EMBEDDING_DIM;
    state.b_ref = 0.1;
    state.t_ref = 6;
    state.strong_cost = 0.016;
    state.options = 0;
    state.n_bins = 4;

    sr_qpolicy *policy = NULL;
    if (sr_qpolicy_new(2, &state, &policy, err) != SR_OK)
        return NULL;
    policy->algo = SR_CQL_ALGO_CQL;
    policy->features = features;
    policy->embedding_dim = text ? 0 : EMBEDDING_DIM;
    snprintf(policy->cost_unit, sizeof(policy->cost_unit), "USD");
    snprintf(policy->models[0].name, sizeof(policy->models[0].name), "strong");
    snprintf(policy->models[1].name, sizeof(policy->models[1].name), "weak");
    policy->models[0].input_price = 10;
    policy->models[0].output_price = 30;
    policy->models[1].input_price = 1;
    policy->models[1].output_price = 3;
    policy->models[0].mean_cost = 0.016;
    policy->models[1].mean_cost = 0.0016;
    policy->models[0].mean_quality = 0.9;
    policy->models[1].mean_quality = 0.5;
    for (int k = 0; k < 2; k++)
        policy->models[k].cost_per_call = NAN;
    policy->models[1].fallback = true;

    sr_mlp_config net_config = {0};
    net_config.input_dim = sr_state_dim(&state);
    net_config.hidden_count = 3;
    net_config.hidden[0] = 512;
    net_config.hidden[1] = 256;
    net_config.hidden[2] = 256;
    net_config.output_dim = 2;
    net_config.max_rows = 1;
    sr_mlp *net = NULL;
    if (sr_mlp_create(&net_config, 1, &net, err) != SR_OK ||
        sr_qpolicy_attach_net(policy, net, true, err) != SR_OK) {
        sr_qpolicy_free(policy);
        return NULL;
    }
    return policy;
}

int main(int argc, char **argv)
{
    int decisions = 100000;
    int warmup = 2000;
    int threads = 1;
    bool text = false;
    const char *write_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--decisions") == 0 && i + 1 < argc)
            decisions = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--text") == 0)
            text = true;
        else if (strcmp(argv[i], "--write-policy") == 0 && i + 1 < argc)
            write_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_decide [--decisions N] [--warmup N] [--threads T] "
                            "[--text] [--write-policy FILE]\n");
            return 2;
        }
    }
    if (decisions < 100 || warmup < 0 || threads < 1) {
        fprintf(stderr, "bench_decide: need --decisions >= 100, --warmup >= 0, --threads >= 1\n");
        return 2;
    }
    sr_nn_set_threads(threads);

    sr_error err;
    sr_error_clear(&err);
    sr_qpolicy *policy = build_policy(text, &err);
    if (!policy) {
        fprintf(stderr, "bench_decide: %s\n", err.message);
        return 1;
    }
    if (write_path && sr_qpolicy_save(policy, NULL, 0, write_path, &err) != SR_OK) {
        fprintf(stderr, "bench_decide: %s\n", err.message);
        return 1;
    }

    /* Prepared turns: embeddings uniform in [-0.1, 0.1] or 200-byte texts; budgets 0..0.1. */
    sr_rng rng;
    sr_rng_seed(&rng, 7);
    float *embeddings = malloc((size_t)TURNS * EMBEDDING_DIM * sizeof(float));
    char(*texts)[TEXT_BYTES + 1] = malloc((size_t)TURNS * sizeof(*texts));
    float *scratch = malloc((size_t)sr_route_scratch_floats(policy) * sizeof(float));
    double *times = malloc((size_t)decisions * sizeof(double));
    if (!embeddings || !texts || !scratch || !times) {
        fprintf(stderr, "bench_decide: out of memory\n");
        return 1;
    }
    static const char *const words[] = {"prove",  "the", "integral", "of",     "code", "travel",
                                        "recipe", "why", "does",     "python", "loop", "fail"};
    for (int t = 0; t < TURNS; t++) {
        for (int i = 0; i < EMBEDDING_DIM; i++)
            embeddings[t * EMBEDDING_DIM + i] = (float)(0.2 * sr_rng_uniform(&rng) - 0.1);
        size_t n = 0;
        while (n < TEXT_BYTES) {
            const char *w = words[sr_rng_below(&rng, 12)];
            for (const char *p = w; *p && n < TEXT_BYTES; p++)
                texts[t][n++] = *p;
            if (n < TEXT_BYTES)
                texts[t][n++] = ' ';
        }
        texts[t][TEXT_BYTES] = '\0';
    }
    sr_reserve_config reserve;
    sr_reserve_config_default(&reserve);

    sr_route_result result;
    int chosen[2] = {0, 0};
    for (int i = 0; i < warmup + decisions; i++) {
        const int t = i % TURNS;
        const sr_route_input input = {.text = texts[t],
                                      .text_len = TEXT_BYTES,
                                      .embedding = embeddings + (size_t)t * EMBEDDING_DIM,
                                      .embedding_dim = EMBEDDING_DIM,
                                      .turn = 0,
                                      .remaining = 0.1 * (double)(i % 97) / 96.0,
                                      .lambda = 0.1};
        const double started = now_seconds();
        if (sr_route_decide(policy, &reserve, &input, scratch, &result, &err) != SR_OK) {
            fprintf(stderr, "bench_decide: %s\n", err.message);
            return 1;
        }
        const double elapsed = now_seconds() - started;
        if (i >= warmup)
            times[i - warmup] = elapsed;
        if (i >= warmup && result.model >= 0)
            chosen[result.model]++;
    }

    /* Rate without the per-call clock reads. */
    const double started = now_seconds();
    for (int i = 0; i < decisions; i++) {
        const int t = i % TURNS;
        const sr_route_input input = {.text = texts[t],
                                      .text_len = TEXT_BYTES,
                                      .embedding = embeddings + (size_t)t * EMBEDDING_DIM,
                                      .embedding_dim = EMBEDDING_DIM,
                                      .remaining = 0.1 * (double)(i % 97) / 96.0,
                                      .lambda = 0.1};
        sr_route_decide(policy, &reserve, &input, scratch, &result, &err);
    }
    const double total = now_seconds() - started;

    qsort(times, (size_t)decisions, sizeof(double), compare_doubles);
    const double p50 = times[(size_t)(0.50 * (decisions - 1))];
    const double p99 = times[(size_t)(0.99 * (decisions - 1))];
    const double p999 = times[(size_t)(0.999 * (decisions - 1))];
    printf("features=%s inputs=%d hidden=512,256,256 models=2 threads=%d decisions=%d "
           "p50_us=%.2f p99_us=%.2f p999_us=%.2f decisions_per_s=%.0f (chosen strong=%d weak=%d)\n",
           text ? "text" : "embedding", sr_state_dim(&policy->state), threads, decisions, p50 * 1e6,
           p99 * 1e6, p999 * 1e6, decisions / total, chosen[0], chosen[1]);

    free(embeddings);
    free(texts);
    free(scratch);
    free(times);
    sr_qpolicy_free(policy);
    return 0;
}
