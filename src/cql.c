/*
 * cql.c - one CQL, Double DQN or behaviour-cloning update on a dense
 * minibatch.  The steps and the guard are described in cql.h.
 *
 * The online network runs on s and s' in one forward of 2N rows, so each
 * layer is one sgemm instead of two.  The rows of s come first, so the
 * backward pass reads the first N rows of every stored activation.  When
 * the caller already stores s' right after s (next_states == states + N D),
 * the batch is used in place; otherwise both are copied into a scratch
 * input of [2N x D].
 */
#include "seqroute/cql.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sr_cql {
    sr_cql_config config;
    sr_mlp *online;       /* max_rows = 2 max_batch: s and s' */
    sr_mlp *target;       /* max_rows = max_batch; NULL for BC */
    float *input;         /* [2 max_batch x D] scratch for s then s' */
    float *grad_q;        /* [max_batch x K] dL/dQ */
    float *targets;       /* [max_batch] y */
    int64_t step;
};

void sr_cql_config_default(sr_cql_config *config)
{
    memset(config, 0, sizeof(*config));
    config->algo = SR_CQL_ALGO_CQL;
    config->alpha = 1.0f;  /* the CQL authors' discrete-action setting */
    config->gamma = 0.99f; /* sessions are a few turns long, so little is discounted */
    sr_adam_config_default(&config->adam);
    config->grad_clip = 0.0f;
    config->q_bound = 0.0f;
    config->tau = 0.0f;
    config->target_period = 2000; /* hard copy period of the method's defaults */
    config->max_batch = 256;      /* batch size of the method's defaults */
}

void sr_cql_network_default(sr_mlp_config *net, int input_dim, int models)
{
    memset(net, 0, sizeof(*net));
    net->input_dim = input_dim;
    net->hidden_count = 3;
    net->hidden[0] = 512;
    net->hidden[1] = 256;
    net->hidden[2] = 256;
    net->output_dim = models;
    net->max_rows = 1;
}

static sr_status check_config(const sr_cql_config *config, sr_error *err)
{
    if (config->algo != SR_CQL_ALGO_CQL && config->algo != SR_CQL_ALGO_DQN &&
        config->algo != SR_CQL_ALGO_BC)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "algo",
                            "unknown algorithm %d; use CQL, DQN or BC", (int)config->algo);
    if (!(config->alpha >= 0.0f) || !isfinite(config->alpha))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "alpha",
                            "CQL alpha %g is invalid; use a finite value >= 0",
                            (double)config->alpha);
    if (!(config->gamma >= 0.0f && config->gamma <= 1.0f))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "gamma",
                            "discount %g is out of range; use 0 to 1", (double)config->gamma);
    if (!(config->adam.lr > 0.0f) || !isfinite(config->adam.lr))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lr",
                            "learning rate %g is invalid; use a finite value > 0",
                            (double)config->adam.lr);
    if (!(config->adam.beta1 >= 0.0f && config->adam.beta1 < 1.0f) ||
        !(config->adam.beta2 >= 0.0f && config->adam.beta2 < 1.0f))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "beta",
                            "Adam betas %g, %g are out of range; use values in [0, 1)",
                            (double)config->adam.beta1, (double)config->adam.beta2);
    if (!(config->adam.eps > 0.0f) || !isfinite(config->adam.eps))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "eps",
                            "Adam eps %g is invalid; use a finite value > 0",
                            (double)config->adam.eps);
    if (!(config->grad_clip >= 0.0f) || !(config->q_bound >= 0.0f))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "grad_clip",
                            "gradient clip %g and Q bound %g must be >= 0 (0 disables)",
                            (double)config->grad_clip, (double)config->q_bound);
    if (!(config->tau >= 0.0f && config->tau <= 1.0f))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "tau",
                            "Polyak tau %g is out of range; use 0 (hard copies) to 1",
                            (double)config->tau);
    if (config->tau == 0.0f && config->target_period < 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "target_period",
                            "target copy period %d is invalid; use a value >= 1",
                            config->target_period);
    if (config->max_batch < 1 || config->max_batch > SR_NN_MAX_ROWS / 2)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_batch",
                            "maximum batch %d is out of range; use 1 to %d", config->max_batch,
                            SR_NN_MAX_ROWS / 2);
    return SR_OK;
}

sr_status sr_cql_create(const sr_mlp_config *net, const sr_cql_config *config, uint64_t seed,
                        sr_cql **out, sr_error *err)
{
    *out = NULL;
    sr_status status = check_config(config, err);
    if (status != SR_OK)
        return status;

    sr_cql *learner = calloc(1, sizeof(*learner));
    if (learner == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for a learner");
    learner->config = *config;

    /* Online network: room for s and s' together; target: s' only. */
    bool bc = config->algo == SR_CQL_ALGO_BC;
    sr_mlp_config online_config = *net;
    online_config.max_rows = bc ? config->max_batch : 2 * config->max_batch;
    status = sr_mlp_create(&online_config, seed, &learner->online, err);
    if (status != SR_OK)
        goto fail;
    if (!bc) {
        sr_mlp_config target_config = *net;
        target_config.max_rows = config->max_batch;
        status = sr_mlp_create(&target_config, seed, &learner->target, err);
        if (status != SR_OK)
            goto fail;
        sr_mlp_copy_params(learner->target, learner->online);
    }

    /* Scratch buffers, sized once. */
    size_t rows = (size_t)config->max_batch;
    learner->input = malloc(2 * rows * (size_t)net->input_dim * sizeof(float));
    learner->grad_q = malloc(rows * (size_t)net->output_dim * sizeof(float));
    learner->targets = malloc(rows * sizeof(float));
    if (learner->input == NULL || learner->grad_q == NULL || learner->targets == NULL) {
        status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                              "out of memory for the scratch buffers of batch %d",
                              config->max_batch);
        goto fail;
    }
    *out = learner;
    return SR_OK;

fail:
    sr_cql_destroy(learner);
    return status;
}

void sr_cql_destroy(sr_cql *learner)
{
    if (learner == NULL)
        return;
    sr_mlp_destroy(learner->online);
    sr_mlp_destroy(learner->target);
    free(learner->input);
    free(learner->grad_q);
    free(learner->targets);
    free(learner);
}

sr_mlp *sr_cql_online(sr_cql *learner)
{
    return learner->online;
}

sr_mlp *sr_cql_target(sr_cql *learner)
{
    return learner->target;
}

int64_t sr_cql_step_count(const sr_cql *learner)
{
    return learner->step;
}

void sr_cql_set_step_count(sr_cql *learner, int64_t step)
{
    learner->step = step;
}

/* ---- one update ---------------------------------------------------------- */

static sr_status check_batch(const sr_cql *learner, const sr_cql_batch *batch, sr_error *err)
{
    int n = batch->count;
    int k = learner->online->config.output_dim;
    bool bc = learner->config.algo == SR_CQL_ALGO_BC;

    if (n < 1 || n > learner->config.max_batch)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "count",
                            "batch of %d transitions is out of range; use 1 to %d", n,
                            learner->config.max_batch);
    if (batch->states == NULL || batch->actions == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "states",
                            "batch states or actions are NULL");
    if (!bc && (batch->rewards == NULL || batch->next_states == NULL))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "next_states",
                            "batch rewards or next states are NULL; Q-learning needs both");
    for (int i = 0; i < n; i++) {
        if (batch->actions[i] < 0 || batch->actions[i] >= k)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "actions",
                                "action %d of transition %d is out of range; use 0 to %d",
                                (int)batch->actions[i], i, k - 1);
        if (!bc && !isfinite(batch->rewards[i]))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "rewards",
                                "reward of transition %d is %g; rewards must be finite", i,
                                (double)batch->rewards[i]);
    }
    double weight_sum;
    return sr_nn_check_weights(batch->weights, n, &weight_sum, err);
}

/*
 * Guard on one network's outputs: every value finite and within the bound.
 * Updates *max_abs; returns SR_ERR_INVALID naming the first bad value.
 */
static sr_status check_q(const float *q, int rows, int k, float bound, const char *what,
                         double *max_abs, sr_error *err)
{
    size_t count = (size_t)rows * (size_t)k;
    double largest = *max_abs;
    for (size_t i = 0; i < count; i++) {
        double a = fabs((double)q[i]);
        if (!(a <= largest))
            largest = a;
    }
    *max_abs = largest;
    if (isfinite(largest) && (bound == 0.0f || largest <= (double)bound))
        return SR_OK;

    /* Slow path: find the value at fault for the message. */
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(q[i]) || (bound > 0.0f && fabsf(q[i]) > bound))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "q",
                                "%s Q value of row %zu, model %zu is %g (bound %g); the step "
                                "was not applied; lower the learning rate, clip gradients or "
                                "check the rewards",
                                what, i / (size_t)k, i % (size_t)k, (double)q[i],
                                (double)bound);
    }
    return sr_error_set(err, SR_ERR_INTERNAL, NULL, 0, "q", "Q guard found no bad value");
}

sr_status sr_cql_compute_gradients(sr_cql *learner, const sr_cql_batch *batch,
                                   sr_cql_stats *stats, sr_error *err)
{
    sr_status status = check_batch(learner, batch, err);
    if (status != SR_OK)
        return status;

    const sr_cql_config *config = &learner->config;
    sr_mlp *online = learner->online;
    int n = batch->count;
    int d = online->config.input_dim;
    int k = online->config.output_dim;
    size_t state_floats = (size_t)n * (size_t)d;
    double max_abs_q = 0.0;
    sr_q_loss loss;

    if (config->algo == SR_CQL_ALGO_BC) {
        /* Behaviour cloning: one forward on s, cross-entropy on a. */
        const float *q = sr_mlp_forward(online, batch->states, n);
        status = check_q(q, n, k, config->q_bound, "online", &max_abs_q, err);
        if (status != SR_OK)
            return status;
        sr_nn_cross_entropy_loss(q, n, k, batch->actions, batch->weights, learner->grad_q,
                                 &loss);
        for (int i = 0; i < n; i++)
            learner->targets[i] = 0.0f;
    } else {
        /* Online forward on [s; s'] in one pass; target forward on s'. */
        const float *input = batch->states;
        if (batch->next_states != batch->states + state_floats) {
            memcpy(learner->input, batch->states, state_floats * sizeof(float));
            memcpy(learner->input + state_floats, batch->next_states,
                   state_floats * sizeof(float));
            input = learner->input;
        }
        const float *q = sr_mlp_forward(online, input, 2 * n);
        const float *q_next = q + (size_t)n * (size_t)k;
        const float *q_target = sr_mlp_forward(learner->target, batch->next_states, n);
        status = check_q(q, 2 * n, k, config->q_bound, "online", &max_abs_q, err);
        if (status == SR_OK)
            status = check_q(q_target, n, k, config->q_bound, "target", &max_abs_q, err);
        if (status != SR_OK)
            return status;

        /* Targets, then the TD + CQL loss on the rows of s. */
        sr_nn_double_dqn_targets(q_next, q_target, n, k, batch->rewards, batch->terminal,
                                 batch->next_mask, config->gamma, learner->targets, NULL);
        float alpha = config->algo == SR_CQL_ALGO_DQN ? 0.0f : config->alpha;
        sr_nn_td_cql_loss(q, n, k, batch->actions, learner->targets, batch->weights, alpha,
                          learner->grad_q, &loss);
    }
    if (!isfinite(loss.total))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "loss",
                            "loss is %g (TD %g, CQL %g); the step was not applied; lower the "
                            "learning rate or check the rewards",
                            loss.total, loss.td, loss.cql);

    /* Backward on the N rows of s only. */
    sr_mlp_backward(online, learner->grad_q, n, NULL);
    double grad_norm = sr_mlp_grad_norm(online);
    if (!isfinite(grad_norm))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "gradient",
                            "gradient norm is %g; the step was not applied; lower the learning "
                            "rate or enable gradient clipping",
                            grad_norm);

    if (stats != NULL) {
        /* Q(s_i, a_i) of the rows of s, read from the last layer's output. */
        const float *q = online->layers[online->layer_count - 1].output;
        double q_sum = 0.0;
        double target_sum = 0.0;
        for (int i = 0; i < n; i++) {
            q_sum += q[(size_t)i * k + batch->actions[i]];
            target_sum += learner->targets[i];
        }
        stats->loss = loss;
        stats->mean_q = q_sum / n;
        stats->mean_target = target_sum / n;
        stats->max_abs_q = max_abs_q;
        stats->grad_norm = grad_norm;
        stats->step = learner->step;
    }
    return SR_OK;
}

sr_status sr_cql_update(sr_cql *learner, const sr_cql_batch *batch, sr_cql_stats *stats,
                        sr_error *err)
{
    sr_cql_stats local;
    sr_cql_stats *out = stats != NULL ? stats : &local;
    sr_status status = sr_cql_compute_gradients(learner, batch, out, err);
    if (status != SR_OK)
        return status;

    /* Clip by global norm through Adam's gradient scale: no extra pass. */
    const sr_cql_config *config = &learner->config;
    float scale = 1.0f;
    if (config->grad_clip > 0.0f && out->grad_norm > (double)config->grad_clip)
        scale = (float)((double)config->grad_clip / out->grad_norm);
    learner->step++;
    sr_mlp_adam_step(learner->online, &config->adam, learner->step, scale);

    /* Target sync. */
    if (learner->target != NULL) {
        if (config->tau > 0.0f)
            sr_mlp_polyak_update(learner->target, learner->online, config->tau);
        else if (learner->step % config->target_period == 0)
            sr_mlp_copy_params(learner->target, learner->online);
    }
    out->step = learner->step;
    return SR_OK;
}
