/*
 * cql.h - one update step of discrete Conservative Q-Learning (CQL), Double
 * DQN or behaviour cloning (BC) on a dense minibatch.
 *
 * A learner owns the online Q-network, the target network (not for BC),
 * the Adam step counter and every scratch buffer, all allocated at
 * creation, so an update never allocates.  One update:
 *   1. forward the online network on s and s' together (one sgemm per
 *      layer on 2N rows) and the target network on s';
 *   2. Double DQN targets y = r + gamma (1 - terminal) Q_target(s', a*),
 *      a* = argmax over the models allowed in s' of Q_online(s', .);
 *   3. loss mean Huber(Q(s, a) - y) + alpha mean[logsumexp Q(s, .) - Q(s, a)]
 *      with normalised sample weights, and its gradient on the outputs;
 *   4. backward on the N rows of s, global-norm clipping, one Adam step;
 *   5. target sync: a Polyak update every step when tau > 0, else a hard
 *      copy every target_period steps.
 * BC skips s' and the target: cross-entropy of softmax(Q(s, .)) on a.
 * Formulas and shapes: nn.h and docs/NN.md.
 *
 * Guard: when a Q value of either network or the loss is non-finite, or
 * |Q| exceeds q_bound, or the gradient norm is non-finite, the update
 * returns SR_ERR_INVALID with a diagnostic and changes nothing: the
 * parameters, the Adam moments, the step count and the target stay as they
 * were (only scratch buffers and the gradient region are overwritten).
 *
 * Thread-safety: a learner is used by one thread at a time.
 */
#ifndef SEQROUTE_CQL_H
#define SEQROUTE_CQL_H

#include "seqroute/common.h"
#include "seqroute/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sr_cql_algo {
    SR_CQL_ALGO_CQL = 0, /* Double DQN + alpha * CQL regulariser */
    SR_CQL_ALGO_DQN = 1, /* Double DQN: the CQL term with alpha forced to 0 */
    SR_CQL_ALGO_BC = 2   /* behaviour cloning: cross-entropy on the logged action */
} sr_cql_algo;

typedef struct sr_cql_config {
    sr_cql_algo algo;
    float alpha;          /* CQL weight, >= 0; ignored by DQN and BC */
    float gamma;          /* discount in [0, 1] */
    sr_adam_config adam;
    float grad_clip;      /* max global gradient norm; 0 disables clipping */
    float q_bound;        /* reject a step when some |Q| > q_bound; 0 disables */
    float tau;            /* Polyak rate in (0, 1]; 0 selects hard copies */
    int target_period;    /* hard copy every this many steps when tau == 0; >= 1 */
    int max_batch;        /* largest N passed to an update */
} sr_cql_config;

/* One minibatch of N transitions; rows of states are feature vectors. */
typedef struct sr_cql_batch {
    int count;                /* N, 1 .. max_batch */
    const float *states;      /* [N x D] */
    const int32_t *actions;   /* [N], each in [0, K) */
    const float *rewards;     /* [N], finite; unused by BC */
    const float *next_states; /* [N x D]; unused by BC (may be NULL) */
    const uint8_t *terminal;  /* [N], nonzero: no bootstrap; NULL: none terminal */
    const float *weights;     /* [N], finite, >= 0, positive sum; NULL: uniform */
    const uint8_t *next_mask; /* [N x K], nonzero: model allowed in s'; NULL: all */
} sr_cql_batch;

/* What one update measured, before its Adam step. */
typedef struct sr_cql_stats {
    sr_q_loss loss;     /* TD, CQL (or cross-entropy) and total */
    double mean_q;      /* mean over the batch of Q(s_i, a_i), unweighted */
    double mean_target; /* mean of y_i; 0 for BC */
    double max_abs_q;   /* largest |Q| over every output computed */
    double grad_norm;   /* global gradient norm before clipping */
    int64_t step;       /* Adam steps applied so far, this one included */
} sr_cql_stats;

typedef struct sr_cql sr_cql;

/*
 * Fills the defaults: CQL with alpha 1, gamma 0.99, Adam lr 1e-4 (beta 0.9,
 * 0.999, eps 1e-8), batch 256, hard target copy every 2000 steps, no
 * clipping and no Q bound.
 */
void sr_cql_config_default(sr_cql_config *config);

/*
 * Fills `net` with the default Q-network: `input_dim` inputs, hidden
 * layers [512, 256, 256] and one output per model.  sr_cql_create sets
 * max_rows itself.
 */
void sr_cql_network_default(sr_mlp_config *net, int input_dim, int models);

/*
 * Creates a learner whose online network is initialised from `seed` and
 * whose target network starts as its copy.  Errors: SR_ERR_INVALID for a
 * bad network or learner config (the message names the field),
 * SR_ERR_NOMEM.  Free the result with sr_cql_destroy.
 */
sr_status sr_cql_create(const sr_mlp_config *net, const sr_cql_config *config, uint64_t seed,
                        sr_cql **out, sr_error *err);

void sr_cql_destroy(sr_cql *learner);

/*
 * Runs steps 1 to 3 and the backward pass of one update, leaving dL/dtheta
 * in the online network's gradient region, without changing any parameter.
 * Fills `stats` (may be NULL) except `step`.  Errors: SR_ERR_INVALID for a
 * malformed batch (size, NULL array, action out of range, non-finite
 * reward, bad weights) or when the guard trips.
 */
sr_status sr_cql_compute_gradients(sr_cql *learner, const sr_cql_batch *batch,
                                   sr_cql_stats *stats, sr_error *err);

/*
 * Runs one full update: sr_cql_compute_gradients, clipping, the Adam step
 * and the target sync.  On error nothing is applied (see the guard above).
 */
sr_status sr_cql_update(sr_cql *learner, const sr_cql_batch *batch, sr_cql_stats *stats,
                        sr_error *err);

/* The online network, for evaluation and saving; owned by the learner. */
sr_mlp *sr_cql_online(sr_cql *learner);

/* The target network; NULL for behaviour cloning.  Owned by the learner. */
sr_mlp *sr_cql_target(sr_cql *learner);

/* Adam steps applied so far. */
int64_t sr_cql_step_count(const sr_cql *learner);

/*
 * Sets the step counter, e.g. when resuming from a checkpoint whose
 * parameters and Adam moments were loaded into the networks.
 */
void sr_cql_set_step_count(sr_cql *learner, int64_t step);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_CQL_H */
