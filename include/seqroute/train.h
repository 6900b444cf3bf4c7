/*
 * train.h - offline training of a routing policy: discrete CQL, Double DQN
 * or behaviour cloning on Hindsight-Budget-Relabelled transitions, with
 * validation through the evaluation simulator, checkpoints and resume.
 *
 * One training step:
 *   1. draw `batch` transitions uniformly from the relabelled multiset
 *      (sr_hbr_sample);
 *   2. gather each transition's feature row from the training feature table
 *      and encode s = (row, t, b_t) and s' = (row + 1, t + 1, b_{t+1}) with
 *      the state encoder; terminal transitions (last turn or bankruptcy)
 *      do not bootstrap, truncated ones do;
 *   3. mask in s' the models whose mean cost ĉ(a) exceeds b_{t+1}, the same
 *      mask decisions apply; when that masks every model, only the model
 *      with the lowest ĉ stays allowed, because that is what a decision
 *      calls when nothing is affordable (seqroute/qpolicy.h);
 *   4. one sr_cql_update.  Behaviour cloning replaces each action with the
 *      turn's label: the logged model, or without logs the best-quality
 *      model of that turn, ties to the better mean quality, then to the
 *      lower catalogue index.  BC states include the budget too.
 *
 * λ-conditioned Q (lambda_conditioned): each transition also gets a λ drawn
 * by sr_train_sample_lambda, which enters s and s' as an input, and its
 * reward becomes sr_train_lambda_reward: q - λ c / ĉ_max (- η when
 * bankrupt).  The relabelled transitions keep quality and cost apart, so
 * any λ relabels any transition.  Decisions then read Q(s, λ, a) directly.
 *
 * Myopic router (algo SR_QPOLICY_ALGO_MYOPIC): no relabelling.  A minibatch
 * is drawn uniformly from every present (turn, model) outcome of the
 * training data (all of them for full-information data, the logged ones
 * otherwise); the state is the feature row alone (SR_STATE_NO_BUDGET, plus
 * the turn when asked), and the target is the outcome's quality: a one-step
 * regression run through the DQN update with every transition terminal, so
 * the loss is the Huber loss, ½ (q̂ - q)² while |q̂ - q| <= 1 (always on a
 * [0, 1] quality scale).  Validation and the saved parameters work as for
 * the other algorithms.
 *
 * Every eval_every steps the greedy policy (λ = 0) runs through
 * sr_eval_policy on the validation sessions at each training budget level.
 * The mean return over the levels selects the best parameters, which are
 * what the policy file receives; `patience` evaluations without a strictly
 * better return stop training early.
 *
 * Determinism: the network, the sampler and every tie rule depend only on
 * the seed, so two runs with one seed and one OpenBLAS thread count write
 * identical files.  A checkpoint stores the parameters, the Adam moments,
 * the target network, the step count, the sampler's generator state and the
 * best-so-far record, so N steps and N/2 steps plus a resume to N give the
 * same policy file, bit for bit.
 *
 * Thread-safety: sr_train_run sets the process-wide OpenBLAS thread count;
 * run one training per process at a time.
 */
#ifndef SEQROUTE_TRAIN_H
#define SEQROUTE_TRAIN_H

#include <stdio.h>

#include "seqroute/common.h"
#include "seqroute/cql.h"
#include "seqroute/dataset.h"
#include "seqroute/features.h"
#include "seqroute/hbr.h"
#include "seqroute/qpolicy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Section tag of the training state in a checkpoint file. */
#define SR_TRAIN_TAG_CHECKPOINT SR_QPOLICY_TAG('T', 'R', 'A', 'N')

/* What one progress report carries. */
typedef struct sr_train_progress {
    int64_t step;  /* updates applied so far */
    int64_t steps; /* updates requested */
    double loss;   /* mean total loss over the updates since the last report */
    double td;     /* mean TD part */
    double cql;    /* mean CQL part (cross-entropy for BC) */
    double mean_q; /* mean Q(s, a) of the sampled transitions (q̂ for myopic) */
    bool measured; /* loss, td, cql and mean_q are defined: updates ran since the last report */
    bool validated;             /* this report follows a validation run */
    double val_return;          /* mean return per session over the levels; NAN before any */
    double val_cost;            /* mean cost per session over the levels */
    double val_bankruptcy;      /* mean bankruptcy rate over the levels */
    double best_val_return;     /* best so far, NAN before any */
    int64_t best_step;          /* step of the best, 0 before any */
} sr_train_progress;

typedef void (*sr_train_progress_fn)(const sr_train_progress *progress, void *user_data);

/*
 * Test hook called on every minibatch before the update, with the rewards
 * and terminal flags it may change (to inject faults).  NULL in production.
 */
typedef void (*sr_train_batch_hook)(int64_t step, float *rewards, uint8_t *terminal, int count,
                                    void *user_data);

typedef struct sr_train_config {
    /* Learner (DESIGN defaults in sr_train_config_default). */
    sr_cql_algo algo;
    float alpha;         /* CQL weight */
    float lr;            /* Adam learning rate */
    float gamma;         /* discount */
    float tau;           /* Polyak rate; 0 selects hard copies every target_period steps */
    int target_period;   /* steps between hard target copies */
    float grad_clip;     /* global gradient-norm clip; 0 disables */
    int batch;           /* transitions per update */
    int64_t steps;       /* updates to run */
    int hidden_count;    /* hidden layers */
    int hidden[SR_NN_MAX_HIDDEN];
    double eta;          /* bankruptcy penalty of the relabelled rewards */
    bool lambda_conditioned; /* λ as a network input, sampled per transition */
    double lambda_max;   /* top of the sampled λ range, finite and > 0 */
    double q_bound_factor; /* |Q| bound = factor x (T_max q_max + eta); 0 disables */
    int threads;         /* OpenBLAS threads */
    uint64_t seed;       /* network initialisation and transition sampling */

    /* Validation and logging. */
    int64_t eval_every;  /* steps between validation runs */
    int patience;        /* validation runs without improvement before stopping; 0: never */
    int64_t log_every;   /* steps between progress reports */
    uint64_t eval_seed;  /* seed of the validation simulator */

    /* Features and state. */
    sr_features_config features;
    bool normalise;        /* centre features and divide by max(std, std_floor) */
    double std_floor;      /* > 0 */
    uint32_t state_options; /* SR_STATE_* bits */
    int n_bins;            /* budget bins with SR_STATE_BUDGET_BINS */
    double b_ref;          /* NAN: the largest HBR budget level */
    double t_ref;          /* NAN: the longest training session */

    /* Relabelling; hbr.budget_values is copied when the run starts. */
    sr_hbr_options hbr;

    /* Outputs: the policy file, and a checkpoint file (NULL: none). */
    const char *out_path;
    const char *checkpoint_path;
    const char *train_name; /* for the settings record; may be NULL */
    const char *val_name;

    sr_train_progress_fn progress;
    void *progress_data;
    sr_train_batch_hook batch_hook;
    void *hook_data;
} sr_train_config;

/* Default λ_max of λ-conditioning: the top of the default sweep grid. */
#define SR_TRAIN_DEFAULT_LAMBDA_MAX 1.0

/* What a finished run reports. */
typedef struct sr_train_result {
    int64_t steps;          /* updates applied, resumed ones included */
    int64_t best_step;      /* step whose parameters were saved */
    double best_val_return; /* NAN without validation data */
    bool early_stopped;
    double b_ref;
    double t_ref;
    int input_dim;
} sr_train_result;

/*
 * Fills `config` with the defaults.  Learner: CQL, alpha 1, lr 1e-4, gamma
 * 0.99, hard target copy every 2000 steps, no clipping, batch 256, 200000
 * steps, hidden [512, 256, 256], eta 1, Q bound factor 10, 1 thread, seed 1.
 * Validation every 5000 steps with patience 10 and a report every 1000
 * steps.  Default features normalised with std floor 1, no extra state
 * options (4 bins when enabled), B_ref and T_ref from the data, and the
 * default HBR options.  λ-conditioning is off, with λ_max 1 when turned on.
 */
void sr_train_config_default(sr_train_config *config);

/* Checks every field; SR_ERR_INVALID names the field and the valid range. */
sr_status sr_train_config_check(const sr_train_config *config, sr_error *err);

/*
 * Trains on `train` (validating on `val` when non-NULL) and writes the
 * policy file to config->out_path, and checkpoints to
 * config->checkpoint_path at every validation and at the end.  With
 * `resume_path` the run continues from that checkpoint: its settings replace
 * those of `config` except steps, threads, outputs, log period and
 * callbacks.  Errors: SR_ERR_INVALID for bad settings, unusable data, a
 * checkpoint that does not match the data, or a tripped guard (the message
 * gives the step and the value at fault); SR_ERR_IO; SR_ERR_NOMEM.
 */
sr_status sr_train_run(const sr_dataset *train, const sr_dataset *val,
                       const sr_train_config *config, const char *resume_path,
                       sr_train_result *result, sr_error *err);

/*
 * Writes the behaviour-cloning label of every global turn of `ds` into
 * `labels` (ds->n_turns entries): the logged model when the turn has one
 * with an outcome, else the model with the best quality on that turn, ties
 * to the higher `mean_quality`, then the lower index.  A turn with no
 * outcome at all gets -1.
 */
void sr_train_bc_labels(const sr_dataset *ds, const double *mean_quality, int32_t *labels);

/* Columns of the training-curves CSV, in order. */
#define SR_TRAIN_CURVES_HEADER "step,loss,td,cql,mean_q,val_return,val_cost,val_bankruptcy"

/* Writes SR_TRAIN_CURVES_HEADER and a newline to `out`; false when the write fails. */
bool sr_train_curves_write_header(FILE *out);

/*
 * Writes one CSV row for a progress report to `out`: the step, then the
 * loss columns when `measured`, the validation columns when `validated`.
 * A cell is empty when its value was not measured or is not finite.
 * Numbers have 9 significant digits.  Returns false when the write fails.
 */
bool sr_train_curves_write_row(FILE *out, const sr_train_progress *progress);

/*
 * Draws the λ of one λ-conditioned transition: λ_max · u², u uniform in
 * [0, 1).  The square puts half the draws below λ_max / 4, where the sweep
 * grid is densest and the frontier bends most, while still covering the
 * whole range.  Pure apart from advancing `rng`.
 */
double sr_train_sample_lambda(sr_rng *rng, double lambda_max);

/*
 * The reward of `transition` relabelled for trade-off `lambda`: its reward
 * (quality, minus η when bankrupt) minus λ · cost / `cost_unit`.  With
 * cost_unit ĉ_max the cost term has the unit of the post-hoc rule's, so one
 * λ means the same in both.  `cost_unit` must be > 0.  Pure.
 */
double sr_train_lambda_reward(const sr_hbr_transition *transition, double lambda,
                              double cost_unit);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_TRAIN_H */
