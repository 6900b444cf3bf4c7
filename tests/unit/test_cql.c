/*
 * test_cql.c - one CQL, Double DQN and behaviour-cloning update.
 *
 * The gradients that sr_cql_compute_gradients leaves in the online network
 * are compared, for every weight and bias of a 5 -> 7 -> 6 -> 3 network on
 * a batch of 4, with central differences of the whole loss evaluated in
 * double by an independent reference (nn_reference.h plus the loss written
 * out again here).  The batch covers both Huber branches, a terminal
 * transition, a partly masked and a fully masked next state, and sample
 * weights.  Double DQN targets are checked by hand.  Separate tests cover
 * the guard, batch validation, target sync, determinism and a small
 * regression that must converge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_reference.h"
#include "seqroute/cql.h"

enum { N = 4, D = 5, K = 3, P = 111 };

typedef struct fd_case {
    float states[N * D];
    float next_states[N * D];
    int32_t actions[N];
    float rewards[N];
    uint8_t terminal[N];
    float weights[N];
    uint8_t mask[N * K];
    sr_cql_batch batch;
} fd_case;

static void fill_case(fd_case *c, bool weighted)
{
    sr_rng rng;
    sr_rng_seed(&rng, 2024);
    for (int i = 0; i < N * D; i++) {
        c->states[i] = (float)(2.0 * sr_rng_uniform(&rng) - 1.0);
        c->next_states[i] = (float)(2.0 * sr_rng_uniform(&rng) - 1.0);
    }
    static const int32_t actions[N] = {0, 2, 1, 2};
    /* Large rewards for Huber's linear branch, small ones for its quadratic one. */
    static const float rewards[N] = {3.0f, -2.5f, 0.2f, 0.5f};
    static const uint8_t terminal[N] = {0, 0, 1, 0};
    static const float weights[N] = {1.0f, 3.0f, 0.5f, 2.0f};
    /* Row 1 masks model 0; row 3 masks every model, so it is treated as terminal. */
    static const uint8_t mask[N * K] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0};
    memcpy(c->actions, actions, sizeof(actions));
    memcpy(c->rewards, rewards, sizeof(rewards));
    memcpy(c->terminal, terminal, sizeof(terminal));
    memcpy(c->weights, weights, sizeof(weights));
    memcpy(c->mask, mask, sizeof(mask));
    c->batch = (sr_cql_batch){
        .count = N,
        .states = c->states,
        .actions = c->actions,
        .rewards = c->rewards,
        .next_states = c->next_states,
        .terminal = c->terminal,
        .weights = weighted ? c->weights : NULL,
        .next_mask = c->mask,
    };
}

static sr_cql *make_learner(sr_cql_algo algo, float alpha, float gamma)
{
    sr_mlp_config net = {.input_dim = D, .hidden_count = 2, .hidden = {7, 6}, .output_dim = K,
                         .max_rows = 1};
    sr_cql_config config;
    sr_cql_config_default(&config);
    config.algo = algo;
    config.alpha = alpha;
    config.gamma = gamma;
    config.max_batch = N;
    sr_cql *learner = NULL;
    sr_error err;
    assert_int_equal(sr_cql_create(&net, &config, 77, &learner, &err), SR_OK);

    /* Biases away from 0 and a target network that differs from the online one. */
    sr_mlp *online = sr_cql_online(learner);
    sr_rng rng;
    sr_rng_seed(&rng, 31);
    for (int l = 0; l < online->layer_count; l++) {
        for (int o = 0; o < online->layers[l].out; o++)
            online->layers[l].bias[o] = (float)(0.3 * (2.0 * sr_rng_uniform(&rng) - 1.0));
    }
    sr_mlp *target = sr_cql_target(learner);
    if (target != NULL) {
        for (size_t p = 0; p < target->param_count; p++)
            target->params[p] = online->params[p] + (float)(0.2 * sr_rng_normal(&rng));
    }
    return learner;
}

static double ref_huber(double x)
{
    double a = fabs(x);
    return a <= 1.0 ? 0.5 * x * x : a - 0.5;
}

static double ref_logsumexp(const double *x, int n)
{
    double m = x[0];
    for (int j = 1; j < n; j++)
        m = fmax(m, x[j]);
    double sum = 0.0;
    for (int j = 0; j < n; j++)
        sum += exp(x[j] - m);
    return m + log(sum);
}

/*
 * Computes the whole loss again in double, independently of nn.c.  Double
 * DQN targets come from the online argmax over allowed models, and a row
 * with none allowed is terminal.  The loss is Huber TD plus alpha times
 * logsumexp - Q(s, a), or the cross-entropy for BC, with weights
 * normalised by their sum.  Writes each TD error to `deltas` when non-NULL.
 */
static double ref_loss(const sr_mlp *online, const double *online_params, const sr_mlp *target,
                       const double *target_params, const fd_case *c, sr_cql_algo algo,
                       double alpha, double gamma, double *deltas)
{
    double s[N * D], s_next[N * D];
    ref_to_double(c->states, N * D, s);
    ref_to_double(c->next_states, N * D, s_next);
    double q[N * K], q_next[N * K], q_target[N * K];
    ref_forward(online, online_params, s, N, q);
    if (algo != SR_CQL_ALGO_BC) {
        ref_forward(online, online_params, s_next, N, q_next);
        ref_forward(target, target_params, s_next, N, q_target);
    }

    double weight_sum = 0.0;
    for (int i = 0; i < N; i++)
        weight_sum += c->batch.weights != NULL ? c->weights[i] : 1.0;

    double loss = 0.0;
    for (int i = 0; i < N; i++) {
        double w = (c->batch.weights != NULL ? c->weights[i] : 1.0) / weight_sum;
        int a = c->actions[i];
        double gap = ref_logsumexp(q + i * K, K) - q[i * K + a];
        if (algo == SR_CQL_ALGO_BC) {
            loss += w * gap;
            continue;
        }
        int best = -1;
        for (int j = 0; j < K; j++) {
            if (c->mask[i * K + j] && (best < 0 || q_next[i * K + j] > q_next[i * K + best]))
                best = j;
        }
        double y = c->rewards[i];
        if (!c->terminal[i] && best >= 0)
            y += gamma * q_target[i * K + best];
        double delta = q[i * K + a] - y;
        if (deltas != NULL)
            deltas[i] = delta;
        loss += w * (ref_huber(delta) + alpha * gap);
    }
    return loss;
}

static void check_gradients(sr_cql_algo algo, float alpha, bool weighted)
{
    const double gamma = 0.9;
    fd_case c;
    fill_case(&c, weighted);
    sr_cql *learner = make_learner(algo, alpha, (float)gamma);
    sr_mlp *online = sr_cql_online(learner);
    sr_mlp *target = sr_cql_target(learner);

    sr_cql_stats stats;
    sr_error err;
    assert_int_equal(sr_cql_compute_gradients(learner, &c.batch, &stats, &err), SR_OK);

    double online_params[P], target_params[P];
    assert_int_equal(online->param_count, P);
    ref_params_from(online, online_params);
    if (target != NULL)
        ref_params_from(target, target_params);

    /* The loss itself, and that both Huber branches are exercised. */
    double deltas[N] = {0};
    double loss = ref_loss(online, online_params, target, target_params, &c, algo, alpha, gamma,
                           deltas);
    assert_float_equal(stats.loss.total, loss, 1e-5 * fmax(1.0, fabs(loss)));
    if (algo != SR_CQL_ALGO_BC) {
        int linear = 0, quadratic = 0;
        for (int i = 0; i < N; i++) {
            if (fabs(deltas[i]) > 1.0)
                linear++;
            else
                quadratic++;
        }
        assert_true(linear > 0);
        assert_true(quadratic > 0);
    }

    /* Every weight and bias of every layer. */
    for (size_t p = 0; p < P; p++) {
        double saved = online_params[p];
        online_params[p] = saved + REF_FD_STEP;
        double plus = ref_loss(online, online_params, target, target_params, &c, algo, alpha,
                               gamma, NULL);
        online_params[p] = saved - REF_FD_STEP;
        double minus = ref_loss(online, online_params, target, target_params, &c, algo, alpha,
                                gamma, NULL);
        online_params[p] = saved;
        double numeric = (plus - minus) / (2.0 * REF_FD_STEP);
        if (!ref_gradient_close(online->grads[p], numeric))
            fail_msg("algo %d alpha %g weighted %d, parameter %zu: analytic %.8g, finite "
                     "difference %.8g",
                     (int)algo, (double)alpha, weighted, p, (double)online->grads[p], numeric);
    }
    sr_cql_destroy(learner);
}

static void test_grad_cql_matches_fd(void **state)
{
    (void)state;
    check_gradients(SR_CQL_ALGO_CQL, 1.0f, false);
}

static void test_grad_cql_weighted_matches_fd(void **state)
{
    (void)state;
    check_gradients(SR_CQL_ALGO_CQL, 0.5f, true);
}

static void test_grad_dqn_matches_fd(void **state)
{
    (void)state;
    /* DQN ignores the configured alpha: the reference uses 0. */
    check_gradients(SR_CQL_ALGO_DQN, 0.0f, true);
}

static void test_grad_bc_matches_fd(void **state)
{
    (void)state;
    check_gradients(SR_CQL_ALGO_BC, 1.0f, true);
}

static void test_double_dqn_targets_by_hand(void **state)
{
    (void)state;
    /*
     * gamma = 0.5.
     * row 0: online argmax 1 -> y = 1 + 0.5 * 20 = 11
     * row 1: online argmax 0 -> y = 2 + 0.5 * 30 = 17
     * row 2: terminal        -> y = 3
     * row 3: model 1 masked, so argmax over {0} -> y = 4 + 0.5 * 70 = 39 (44 unmasked)
     * row 4: every model masked -> treated as terminal, y = 5, chosen -1
     * row 5: a tie picks the lower index 0 -> y = 6 + 0.5 * 110 = 61
     */
    float online[12] = {1, 3, 2, 1, 5, 4, 0, 9, 1, 2, 2, 2};
    float target[12] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
    float rewards[6] = {1, 2, 3, 4, 5, 6};
    uint8_t terminal[6] = {0, 0, 1, 0, 0, 0};
    uint8_t mask[12] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1};
    float y[6];
    int32_t chosen[6];
    sr_nn_double_dqn_targets(online, target, 6, 2, rewards, terminal, mask, 0.5f, y, chosen);
    assert_float_equal(y[0], 11.0f, 0.0f);
    assert_float_equal(y[1], 17.0f, 0.0f);
    assert_float_equal(y[2], 3.0f, 0.0f);
    assert_float_equal(y[3], 39.0f, 0.0f);
    assert_float_equal(y[4], 5.0f, 0.0f);
    assert_float_equal(y[5], 61.0f, 0.0f);
    assert_int_equal(chosen[0], 1);
    assert_int_equal(chosen[1], 0);
    assert_int_equal(chosen[3], 0);
    assert_int_equal(chosen[4], -1);
    assert_int_equal(chosen[5], 0);

    /* Without a mask row 3 takes model 1 and row 4 model 1. */
    sr_nn_double_dqn_targets(online, target, 6, 2, rewards, NULL, NULL, 0.5f, y, chosen);
    assert_float_equal(y[2], 3.0f + 0.5f * 50.0f, 0.0f);
    assert_float_equal(y[3], 44.0f, 0.0f);
    assert_float_equal(y[4], 5.0f + 0.5f * 100.0f, 0.0f);
    assert_int_equal(chosen[4], 1);
}

/* ---- guard and validation ------------------------------------------------ */

static void snapshot(sr_mlp *net, float *out)
{
    memcpy(out, net->params, net->param_count * sizeof(float));
    memcpy(out + net->param_count, net->adam_m, net->param_count * sizeof(float));
    memcpy(out + 2 * net->param_count, net->adam_v, net->param_count * sizeof(float));
}

static void test_guard_rejects_large_q(void **state)
{
    (void)state;
    fd_case c;
    fill_case(&c, false);
    sr_mlp_config net = {.input_dim = D, .hidden_count = 2, .hidden = {7, 6}, .output_dim = K};
    sr_cql_config config;
    sr_cql_config_default(&config);
    config.max_batch = N;
    config.q_bound = 1e-3f; /* far below the outputs of a fresh network */
    sr_cql *learner = NULL;
    sr_error err;
    assert_int_equal(sr_cql_create(&net, &config, 5, &learner, &err), SR_OK);

    float before[3 * P], after[3 * P];
    snapshot(sr_cql_online(learner), before);
    sr_cql_stats stats;
    assert_int_equal(sr_cql_update(learner, &c.batch, &stats, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "not applied"));
    assert_non_null(strstr(err.message, "bound"));
    snapshot(sr_cql_online(learner), after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(sr_cql_step_count(learner), 0);
    sr_cql_destroy(learner);
}

static void test_guard_rejects_nan_q(void **state)
{
    (void)state;
    fd_case c;
    fill_case(&c, false);
    c.next_states[7] = NAN; /* row 1 of s': only the s' forward reads it */
    sr_cql *learner = make_learner(SR_CQL_ALGO_CQL, 1.0f, 0.9f);
    float before[3 * P], after[3 * P];
    snapshot(sr_cql_online(learner), before);
    sr_error err;
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "nan"));
    snapshot(sr_cql_online(learner), after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(sr_cql_step_count(learner), 0);
    sr_cql_destroy(learner);
}

static void test_batch_validation(void **state)
{
    (void)state;
    fd_case c;
    sr_error err;
    sr_cql *learner = make_learner(SR_CQL_ALGO_CQL, 1.0f, 0.9f);

    fill_case(&c, false);
    c.actions[2] = K;
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "actions");

    fill_case(&c, false);
    c.actions[0] = -1;
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, &err), SR_ERR_INVALID);

    fill_case(&c, false);
    c.rewards[1] = INFINITY;
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "rewards");

    fill_case(&c, true);
    c.weights[3] = -1.0f;
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "weights");

    fill_case(&c, false);
    c.batch.count = N + 1;
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "count");

    fill_case(&c, false);
    c.batch.next_states = NULL;
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, &err), SR_ERR_INVALID);

    assert_int_equal(sr_cql_step_count(learner), 0);
    sr_cql_destroy(learner);
}

static void test_config_validation(void **state)
{
    (void)state;
    sr_mlp_config net = {.input_dim = D, .hidden_count = 1, .hidden = {4}, .output_dim = K};
    sr_cql_config config;
    sr_cql *learner = NULL;
    sr_error err;

    sr_cql_config_default(&config);
    config.gamma = 1.5f;
    assert_int_equal(sr_cql_create(&net, &config, 1, &learner, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "gamma");

    sr_cql_config_default(&config);
    config.alpha = -1.0f;
    assert_int_equal(sr_cql_create(&net, &config, 1, &learner, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "alpha");

    sr_cql_config_default(&config);
    config.adam.lr = 0.0f;
    assert_int_equal(sr_cql_create(&net, &config, 1, &learner, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "lr");

    sr_cql_config_default(&config);
    config.target_period = 0;
    assert_int_equal(sr_cql_create(&net, &config, 1, &learner, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "target_period");

    sr_cql_config_default(&config);
    config.tau = 2.0f;
    assert_int_equal(sr_cql_create(&net, &config, 1, &learner, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "tau");
    assert_null(learner);
}

/* ---- update mechanics ---------------------------------------------------- */

static void test_contiguous_next_states_same_gradients(void **state)
{
    (void)state;
    fd_case c;
    fill_case(&c, true);
    sr_cql *a = make_learner(SR_CQL_ALGO_CQL, 1.0f, 0.9f);
    sr_cql *b = make_learner(SR_CQL_ALGO_CQL, 1.0f, 0.9f);

    /* s' right after s in one array: the learner skips its copy. */
    float joined[2 * N * D];
    memcpy(joined, c.states, sizeof(c.states));
    memcpy(joined + N * D, c.next_states, sizeof(c.next_states));
    sr_cql_batch joined_batch = c.batch;
    joined_batch.states = joined;
    joined_batch.next_states = joined + N * D;

    assert_int_equal(sr_cql_compute_gradients(a, &c.batch, NULL, NULL), SR_OK);
    assert_int_equal(sr_cql_compute_gradients(b, &joined_batch, NULL, NULL), SR_OK);
    assert_memory_equal(sr_cql_online(a)->grads, sr_cql_online(b)->grads, P * sizeof(float));
    sr_cql_destroy(a);
    sr_cql_destroy(b);
}

static void test_target_sync_hard_and_polyak(void **state)
{
    (void)state;
    fd_case c;
    fill_case(&c, false);
    sr_mlp_config net = {.input_dim = D, .hidden_count = 2, .hidden = {7, 6}, .output_dim = K};
    sr_cql_config config;
    sr_cql_config_default(&config);
    config.max_batch = N;
    config.target_period = 3;
    config.adam.lr = 1e-2f;
    sr_cql *learner = NULL;
    assert_int_equal(sr_cql_create(&net, &config, 9, &learner, NULL), SR_OK);
    sr_mlp *online = sr_cql_online(learner);
    sr_mlp *target = sr_cql_target(learner);
    assert_memory_equal(online->params, target->params, P * sizeof(float));

    float initial[P];
    memcpy(initial, online->params, sizeof(initial));
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, NULL), SR_OK);
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, NULL), SR_OK);
    assert_memory_equal(target->params, initial, sizeof(initial));
    assert_memory_not_equal(target->params, online->params, sizeof(initial));
    sr_cql_stats stats;
    assert_int_equal(sr_cql_update(learner, &c.batch, &stats, NULL), SR_OK);
    assert_int_equal(stats.step, 3);
    assert_memory_equal(target->params, online->params, sizeof(initial));
    sr_cql_destroy(learner);

    /* Polyak with tau = 0.25: target = 0.75 initial + 0.25 online. */
    config.tau = 0.25f;
    assert_int_equal(sr_cql_create(&net, &config, 9, &learner, NULL), SR_OK);
    online = sr_cql_online(learner);
    target = sr_cql_target(learner);
    assert_int_equal(sr_cql_update(learner, &c.batch, NULL, NULL), SR_OK);
    for (int p = 0; p < P; p++) {
        float expected = initial[p] + 0.25f * (online->params[p] - initial[p]);
        assert_float_equal(target->params[p], expected, 1e-7);
    }
    sr_cql_destroy(learner);
}

static void test_gradient_clipping_limits_step(void **state)
{
    (void)state;
    /* With clip c, the Adam inputs are g * c / |g|: compare against a manual scale. */
    fd_case c;
    fill_case(&c, false);
    sr_mlp_config net = {.input_dim = D, .hidden_count = 2, .hidden = {7, 6}, .output_dim = K};
    sr_cql_config config;
    sr_cql_config_default(&config);
    config.max_batch = N;
    const float clip = 1e-3f; /* far below the gradient norm of a fresh network */
    config.grad_clip = clip;
    sr_cql *clipped = NULL;
    sr_cql *manual = NULL;
    assert_int_equal(sr_cql_create(&net, &config, 4, &clipped, NULL), SR_OK);
    config.grad_clip = 0.0f;
    assert_int_equal(sr_cql_create(&net, &config, 4, &manual, NULL), SR_OK);

    sr_cql_stats stats;
    assert_int_equal(sr_cql_update(clipped, &c.batch, &stats, NULL), SR_OK);
    assert_true(stats.grad_norm > clip);
    assert_int_equal(sr_cql_compute_gradients(manual, &c.batch, NULL, NULL), SR_OK);
    sr_mlp_adam_step(sr_cql_online(manual), &config.adam, 1,
                     (float)((double)clip / stats.grad_norm));
    assert_memory_equal(sr_cql_online(clipped)->adam_m, sr_cql_online(manual)->adam_m,
                        P * sizeof(float));
    sr_cql_destroy(clipped);
    sr_cql_destroy(manual);
}

/* Runs 50 updates of the default network shape at batch 64 on fixed data. */
static void train_fifty(sr_cql *learner, int d)
{
    enum { BATCH = 64 };
    float *states = malloc(sizeof(float) * BATCH * (size_t)d);
    float *next_states = malloc(sizeof(float) * BATCH * (size_t)d);
    assert_non_null(states);
    assert_non_null(next_states);
    int32_t actions[BATCH];
    float rewards[BATCH];
    uint8_t terminal[BATCH];
    sr_rng rng;
    sr_rng_seed(&rng, 404);
    for (int step = 0; step < 50; step++) {
        for (int i = 0; i < BATCH * d; i++) {
            states[i] = (float)sr_rng_uniform(&rng);
            next_states[i] = (float)sr_rng_uniform(&rng);
        }
        for (int i = 0; i < BATCH; i++) {
            actions[i] = (int32_t)sr_rng_below(&rng, 2);
            rewards[i] = (float)sr_rng_uniform(&rng);
            terminal[i] = sr_rng_below(&rng, 4) == 0;
        }
        sr_cql_batch batch = {.count = BATCH, .states = states, .actions = actions,
                              .rewards = rewards, .next_states = next_states,
                              .terminal = terminal};
        sr_error err;
        assert_int_equal(sr_cql_update(learner, &batch, NULL, &err), SR_OK);
    }
    free(states);
    free(next_states);
}

static void test_determinism_fifty_updates(void **state)
{
    (void)state;
    const int d = 385;
    sr_mlp_config net;
    sr_cql_network_default(&net, d, 2);
    sr_cql_config config;
    sr_cql_config_default(&config);
    config.max_batch = 64;
    config.target_period = 20;
    config.adam.lr = 1e-3f;

    /* Two OpenBLAS threads, so threaded sgemm is part of what must repeat. */
    sr_nn_set_threads(2);
    sr_cql *a = NULL, *b = NULL;
    assert_int_equal(sr_cql_create(&net, &config, 123, &a, NULL), SR_OK);
    assert_int_equal(sr_cql_create(&net, &config, 123, &b, NULL), SR_OK);
    train_fifty(a, d);
    train_fifty(b, d);
    sr_mlp *online_a = sr_cql_online(a);
    sr_mlp *online_b = sr_cql_online(b);
    size_t bytes = online_a->param_count * sizeof(float);
    assert_memory_equal(online_a->params, online_b->params, bytes);
    assert_memory_equal(online_a->adam_m, online_b->adam_m, bytes);
    assert_memory_equal(online_a->adam_v, online_b->adam_v, bytes);
    assert_memory_equal(sr_cql_target(a)->params, sr_cql_target(b)->params, bytes);
    sr_nn_set_threads(1);
    sr_cql_destroy(a);
    sr_cql_destroy(b);
}

/*
 * Two-action regression: terminal transitions (gamma irrelevant), reward
 * r = w_a . s with fixed w_0 and w_1, Double DQN (alpha 0) so the loss can
 * reach 0.  The mean loss of the last 20 steps must be 100 times below the
 * first 20.
 */
static void test_toy_regression_converges(void **state)
{
    (void)state;
    enum { TOY_D = 4, TOY_BATCH = 32, TOY_STEPS = 3000, WINDOW = 20 };
    static const float w[2][TOY_D] = {{1.0f, -0.5f, 0.25f, 0.0f}, {-0.5f, 1.0f, 0.0f, 0.5f}};
    sr_mlp_config net = {.input_dim = TOY_D, .hidden_count = 2, .hidden = {32, 32},
                         .output_dim = 2};
    sr_cql_config config;
    sr_cql_config_default(&config);
    config.algo = SR_CQL_ALGO_DQN;
    config.max_batch = TOY_BATCH;
    config.adam.lr = 3e-3f;
    sr_cql *learner = NULL;
    assert_int_equal(sr_cql_create(&net, &config, 8, &learner, NULL), SR_OK);

    float states[TOY_BATCH * TOY_D];
    float next_states[TOY_BATCH * TOY_D] = {0};
    int32_t actions[TOY_BATCH];
    float rewards[TOY_BATCH];
    uint8_t terminal[TOY_BATCH];
    memset(terminal, 1, sizeof(terminal));
    sr_rng rng;
    sr_rng_seed(&rng, 1);
    double first = 0.0, last = 0.0;
    for (int step = 0; step < TOY_STEPS; step++) {
        for (int i = 0; i < TOY_BATCH; i++) {
            actions[i] = (int32_t)sr_rng_below(&rng, 2);
            rewards[i] = 0.0f;
            for (int j = 0; j < TOY_D; j++) {
                states[i * TOY_D + j] = (float)(2.0 * sr_rng_uniform(&rng) - 1.0);
                rewards[i] += w[actions[i]][j] * states[i * TOY_D + j];
            }
        }
        sr_cql_batch batch = {.count = TOY_BATCH, .states = states, .actions = actions,
                              .rewards = rewards, .next_states = next_states,
                              .terminal = terminal};
        sr_cql_stats stats;
        sr_error err;
        assert_int_equal(sr_cql_update(learner, &batch, &stats, &err), SR_OK);
        if (step < WINDOW)
            first += stats.loss.total / WINDOW;
        if (step >= TOY_STEPS - WINDOW)
            last += stats.loss.total / WINDOW;
    }
    print_message("toy regression: loss %.6g -> %.6g (ratio %.1f)\n", first, last, first / last);
    assert_true(last * 100.0 < first);
    sr_cql_destroy(learner);
}

int main(void)
{
    sr_nn_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_cql_matches_fd),
        cmocka_unit_test(test_grad_cql_weighted_matches_fd),
        cmocka_unit_test(test_grad_dqn_matches_fd),
        cmocka_unit_test(test_grad_bc_matches_fd),
        cmocka_unit_test(test_double_dqn_targets_by_hand),
        cmocka_unit_test(test_guard_rejects_large_q),
        cmocka_unit_test(test_guard_rejects_nan_q),
        cmocka_unit_test(test_batch_validation),
        cmocka_unit_test(test_config_validation),
        cmocka_unit_test(test_contiguous_next_states_same_gradients),
        cmocka_unit_test(test_target_sync_hard_and_polyak),
        cmocka_unit_test(test_gradient_clipping_limits_step),
        cmocka_unit_test(test_determinism_fifty_updates),
        cmocka_unit_test(test_toy_regression_converges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
