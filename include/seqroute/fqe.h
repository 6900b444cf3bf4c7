/*
 * fqe.h - Fitted Q Evaluation (FQE): estimates the value of an evaluation
 * policy π from logged or relabelled transitions, without running π.
 *
 * The method (Le, Voloshin and Yue, "Batch Policy Learning under
 * Constraints", 2019) repeats a regression:
 *
 *   Q_0 = 0
 *   Q_{k+1} = argmin_Q  Σ_i w_i ( Q(s_i, a_i) − y_i )²
 *   y_i     = r_i + γ (1 − done_i) Q_k(s'_i, π(s'_i))
 *
 * over the transitions (s, a, r, s', done) of the data, and reports
 *
 *   V̂(π, B) = mean over sessions of Q_N(s_0, π(s_0)),
 *
 * s_0 being the session's first turn with starting budget B.  Only the
 * evaluation policy's choice at s' enters the target, so the transitions may
 * come from any behaviour that covers the state-action pairs π visits.
 *
 * Transitions come from Hindsight Budget Relabeling (seqroute/hbr.h) at the
 * requested budgets as absolute levels: the logged path for logged-only
 * sessions, the enumerated or sampled path mixture for full-information
 * ones.  Each distinct transition is kept once with its path count as
 * weight (HBR dedupe), so the regression is over the relabelled multiset.
 *
 * Function classes:
 *
 *   SR_FQE_TABULAR  one value per (state, action); a state is the turn's
 *                   feature row (compared by content), the turn index and
 *                   the remaining budget (compared exactly).  Each
 *                   regression is solved exactly: the weighted mean of the
 *                   targets of that pair.  With γ = 1 and sessions of at
 *                   most T turns, N = T iterations give the exact fixed
 *                   point of the data's Bellman equation.
 *   SR_FQE_LINEAR   Q(s, ·) = W x(s) + b over the state vector x(s) of
 *                   seqroute/state.h, fitted by Adam on minibatches.
 *   SR_FQE_MLP      the MLP of seqroute/nn.h on the same state vector.
 *
 * The last two warm-start each regression from the previous parameters and
 * take `steps_per_iteration` Adam steps on minibatches drawn in proportion
 * to the weights, with the targets from a frozen copy of Q_k.  The loss is
 * 0.5 (Q(s, a) − y)², and the rate falls linearly from `lr` to lr / 100
 * within each regression so that the fit settles instead of jittering.
 *
 * The policy.  π is any sr_policy whose act depends only on the state the
 * view carries (session turn, t, remaining budget): the baselines and the
 * learned policies.  It is asked once per relabelled next state and once
 * per initial state, before the regressions start.  A policy that draws
 * random numbers draws one action per state from a stream keyed by the seed
 * and the session, which is an unbiased one-sample estimate of the
 * expectation over its actions.  The hindsight oracle is not a policy of
 * the state (it reads every outcome of the session) and is rejected.
 *
 * Coverage.  Where the data never takes π's action in a state that π
 * reaches, no regression constrains Q there: the tabular class reads 0 and
 * the others extrapolate.  The result reports the share of π's next-state
 * and initial-state pairs that the data contains (by the tabular key), so
 * that a caller can see how far the estimate rests on extrapolation.
 *
 * Thread-safety: sr_fqe_evaluate reads the dataset and drives the policy;
 * run one evaluation per policy instance at a time.  It does not change the
 * process-wide OpenBLAS thread count.
 */
#ifndef SEQROUTE_FQE_H
#define SEQROUTE_FQE_H

#include "seqroute/common.h"
#include "seqroute/dataset.h"
#include "seqroute/features.h"
#include "seqroute/hbr.h"
#include "seqroute/nn.h"
#include "seqroute/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Function class of Q. */
typedef enum sr_fqe_function {
    SR_FQE_TABULAR = 0,
    SR_FQE_LINEAR = 1,
    SR_FQE_MLP = 2
} sr_fqe_function;

/* Default discount: 1, so that the estimate compares with the simulator's undiscounted return. */
#define SR_FQE_DEFAULT_GAMMA 1.0
/* Default Adam steps per regression: enough for a small MLP to settle on one target set. */
#define SR_FQE_DEFAULT_STEPS 1000
/* Default minibatch: the learner's default batch. */
#define SR_FQE_DEFAULT_BATCH 256
/*
 * Default peak learning rate, 30x the CQL rate: each regression is short,
 * and the rate falls linearly to 1% of this within it (measured in
 * docs/FQE.md: 1e-3 under-fits 1,000 steps).
 */
#define SR_FQE_DEFAULT_LR 3e-3f
/* Default cap on distinct transitions held in memory: 4M x 64 bytes = 256 MiB. */
#define SR_FQE_DEFAULT_MAX_TRANSITIONS ((size_t)4 << 20)
/* Largest iteration count accepted: far past any session length the loader allows. */
#define SR_FQE_MAX_ITERATIONS 100000

typedef struct sr_fqe_options {
    sr_fqe_function function;
    /* Regressions N; 0 means the longest session plus 2 (the tabular class needs T). */
    int iterations;
    /* Linear and MLP: Adam steps per regression, minibatch and learning rate. */
    int steps_per_iteration;
    int batch;
    float lr;
    /* MLP hidden layers (the linear class ignores them). */
    int hidden_count;
    int hidden[SR_NN_MAX_HIDDEN];
    /* Discount in [0, 1]; 1 by default (see SR_FQE_DEFAULT_GAMMA). */
    double gamma;
    /* Features of the state vector and the tabular key. */
    sr_features_config features;
    /* Linear and MLP: centre features and divide by max(std, std_floor), as training does. */
    bool normalise;
    double std_floor;
    /* State-vector options (SR_STATE_* of seqroute/state.h) and budget bins. */
    uint32_t state_options;
    int n_bins;
    /*
     * Relabelling: max_enum, n_paths, mixture, mdp and seed are used; the
     * budget levels are replaced by the requested budgets and dedupe is on.
     * The horizon must be 0.
     */
    sr_hbr_options hbr;
    /* Refuse data that relabels into more distinct transitions than this. */
    size_t max_transitions;
    /* Network initialisation, minibatches and the policy's random streams. */
    uint64_t seed;
} sr_fqe_options;

/* Estimate at one starting budget. */
typedef struct sr_fqe_budget_result {
    double budget;
    double value;            /* V̂(π, B): mean over sessions of Q(s_0, π(s_0)) */
    double value_sd;         /* standard deviation over sessions of Q(s_0, π(s_0)) */
    double coverage_initial; /* share of sessions whose (s_0, π(s_0)) the data contains */
    double *trace;           /* [iterations] value after each regression */
} sr_fqe_budget_result;

typedef struct sr_fqe_result {
    sr_fqe_function function;
    int iterations;
    size_t sessions;
    size_t sessions_unusable;      /* no transitions (logged-only without a full logged path) */
    size_t transitions;            /* relabelled multiset: weighted count */
    size_t distinct_transitions;   /* held in memory */
    size_t states;                 /* distinct states by the tabular key */
    double coverage_next;          /* weighted share of bootstrapped (s', π(s')) in the data */
    double last_change;            /* tabular: largest |Q_N − Q_{N−1}|; else NAN */
    double last_residual;          /* mean squared Bellman residual of the last regression */
    int input_dim;                 /* state width (linear, MLP); 0 for tabular */
    size_t n_budgets;
    sr_fqe_budget_result *budgets; /* [n_budgets] */
} sr_fqe_result;

/*
 * Fills `options` with the defaults: the MLP class, automatic iterations,
 * 1000 steps of batch 256 at peak lr 3e-3 per regression, hidden [128, 128],
 * γ = 1, default features normalised with std floor 1, the turn index in
 * the state (4 bins when bins are enabled), the default relabelling, at
 * most 4M distinct transitions, seed 1.
 */
void sr_fqe_options_default(sr_fqe_options *options);

/* Checks every option; SR_ERR_INVALID names the field and the valid range. */
sr_status sr_fqe_options_check(const sr_fqe_options *options, sr_error *err);

/* "tabular", "linear" or "mlp"; "unknown" outside the enum. */
const char *sr_fqe_function_name(sr_fqe_function function);

/* Parses a function-class name; false (leaving `*function` alone) for another text. */
bool sr_fqe_function_parse(const char *text, sr_fqe_function *function);

/*
 * Estimates the value of `policy` on `ds` at each of the `n_budgets`
 * starting budgets (finite, >= 0, at most SR_HBR_MAX_LEVELS of them) and
 * fills `result`, which the caller releases with sr_fqe_result_free.
 * The policy must have been created for the catalogue of `ds`.
 * Errors: SR_ERR_INVALID for bad options or budgets, a policy named
 * "oracle", a policy action outside the catalogue, data that yields no
 * transition, features the data cannot supply, or a non-finite Q value
 * (the message names the iteration).  SR_ERR_NOMEM when memory runs out or
 * the data relabels into more than max_transitions.  The policy's
 * begin_session may return other statuses.  On failure `result` is left
 * empty.
 */
sr_status sr_fqe_evaluate(const sr_dataset *ds, sr_policy *policy, const double *budgets,
                          size_t n_budgets, const sr_fqe_options *options,
                          sr_fqe_result *result, sr_error *err);

/* Releases what `result` owns and clears it; a cleared result is fine. */
void sr_fqe_result_free(sr_fqe_result *result);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_FQE_H */
