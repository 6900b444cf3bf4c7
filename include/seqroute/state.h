/*
 * state.h - the state encoder of the Session-Budget MDP: turns a feature
 * row φ and the remaining budget b_t into the Q-network's input vector.
 *
 * Layout of one state vector, in this order:
 *
 *   [0, F)      φ, the turn's feature row, after the optional per-feature
 *               normalisation x' = (x - shift) * scale
 *   next 1      b / B_ref                  (unless SR_STATE_NO_BUDGET)
 *   next 1      t / T_ref                      (SR_STATE_TURN)
 *   next 1      log1p(b / B_ref)               (SR_STATE_LOG_BUDGET)
 *   next 1      b / c_strong: calls of the most expensive model the budget
 *               still pays for, by its mean cost    (SR_STATE_STRONG_CALLS)
 *   next n_bins one-hot bin of b / B_ref over n_bins equal bins of [0, 1],
 *               values >= 1 in the last bin         (SR_STATE_BUDGET_BINS)
 *   next 1      λ / λ_max, the cost trade-off a λ-conditioned Q-network
 *               decides for                         (SR_STATE_LAMBDA)
 *
 * SR_STATE_NO_BUDGET drops the budget entry: the budget-blind myopic
 * router's input.  It excludes every other budget view.  The last two bits
 * are set by the training algorithm, not by --state-options, so
 * sr_state_options_parse does not accept their names.
 *
 * B_ref is a global constant (by default the largest budget level the
 * relabeller uses), never the session's own starting budget: b_0 / B_0
 * would be 1 at the first turn of every session whatever its budget.
 * A negative budget (the next state of a bankrupt call, which learning
 * never bootstraps from) is encoded as 0.
 *
 * Thread-safety: the functions are pure.  Only
 * sr_state_compute_normalisation allocates, and the caller owns what it returns.
 */
#ifndef SEQROUTE_STATE_H
#define SEQROUTE_STATE_H

#include "seqroute/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Option bits of sr_state_config.options. */
enum {
    SR_STATE_TURN = 1u << 0,         /* t / T_ref */
    SR_STATE_LOG_BUDGET = 1u << 1,   /* log1p(b / B_ref) */
    SR_STATE_STRONG_CALLS = 1u << 2, /* b / c_strong */
    SR_STATE_BUDGET_BINS = 1u << 3,  /* one-hot budget bins */
    SR_STATE_NO_BUDGET = 1u << 4,    /* no b / B_ref entry: budget-blind (myopic router) */
    SR_STATE_LAMBDA = 1u << 5,       /* λ / λ_max entry (λ-conditioned Q) */
    SR_STATE_ALL_OPTIONS = 0xfu,     /* every bit --state-options names */
    SR_STATE_KNOWN_OPTIONS = 0x3fu   /* every bit, the algorithm's two included */
};

/* Largest number of budget bins (bounds the state width). */
#define SR_STATE_MAX_BINS 64

typedef struct sr_state_config {
    int feature_dim;    /* F: width of one feature row, >= 1 */
    double b_ref;       /* B_ref in cost units, finite and > 0 */
    double t_ref;       /* T_ref in turns, finite and > 0 (used with SR_STATE_TURN) */
    double strong_cost; /* mean cost of the most expensive model, > 0 (SR_STATE_STRONG_CALLS) */
    uint32_t options;   /* SR_STATE_* bits */
    int n_bins;         /* bins with SR_STATE_BUDGET_BINS, 1 .. SR_STATE_MAX_BINS */
    double lambda_max;  /* λ_max, finite and > 0 (SR_STATE_LAMBDA); 0 otherwise */
} sr_state_config;

/*
 * Checks `config`: every value above in range for the options it enables,
 * no unknown option bit, and no budget view together with
 * SR_STATE_NO_BUDGET.  Returns SR_ERR_INVALID naming the field.
 */
sr_status sr_state_config_check(const sr_state_config *config, sr_error *err);

/* Width of one state vector under `config` (which must be valid). */
int sr_state_dim(const sr_state_config *config);

/*
 * Encodes the state of turn `t` (0-based) with remaining budget `budget`
 * into `out` (sr_state_dim floats, overwritten).  `features` holds F raw
 * feature values; `shift` and `scale` (F values each, or both NULL for
 * none) normalise them.  With SR_STATE_LAMBDA the λ entry is 0 (λ = 0).
 * Does not allocate; `config` must be valid.
 */
void sr_state_encode(const sr_state_config *config, const float *features, const float *shift,
                     const float *scale, int t, double budget, float *out);

/*
 * sr_state_encode with trade-off `lambda` for the λ entry (λ / λ_max, not
 * clipped: a λ above λ_max extrapolates).  Without SR_STATE_LAMBDA `lambda`
 * is ignored.
 */
void sr_state_encode_lambda(const sr_state_config *config, const float *features,
                            const float *shift, const float *scale, int t, double budget,
                            double lambda, float *out);

/*
 * Computes the per-feature normalisation constants that sr_state_encode
 * takes, over `n_rows` feature rows of `dim` floats each, stored one after
 * another in `rows`: shift = the mean and scale = 1 / max(std, std_floor),
 * with the population standard deviation.  With n_rows 0 the mean and
 * std are 0.  When `normalise` is false the constants are the identity
 * (shift 0, scale 1).  On success *shift and *scale point to `dim` floats
 * each, allocated with malloc, that the caller frees.  Errors:
 * SR_ERR_NOMEM, with *shift and *scale set to NULL.  Thread-safe.
 */
sr_status sr_state_compute_normalisation(const float *rows, size_t n_rows, int dim, bool normalise,
                                         double std_floor, float **shift, float **scale,
                                         sr_error *err);

/*
 * Parses a comma-separated list of option names ("turn", "log-budget",
 * "strong-calls", "bins", or "none") into SR_STATE_* bits.  Returns false,
 * leaving `*options` unchanged, on an unknown name.
 */
bool sr_state_options_parse(const char *text, uint32_t *options);

/*
 * Writes the option names of `options` as a comma-separated list ("none"
 * when empty) into `text` of `size` bytes, truncating when it is too small.
 * The algorithm's bits appear as "no-budget" and "lambda".
 */
void sr_state_options_format(uint32_t options, char *text, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_STATE_H */
