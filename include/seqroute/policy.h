/*
 * policy.h - the routing policy interface, the baseline policies and the
 * hindsight oracle.
 *
 * A policy is a struct of function pointers plus an implementation pointer,
 * so that learned policies (a Q-network over features and the remaining
 * budget) plug into the same simulator and evaluation as the baselines.
 * The simulator calls begin_session once per episode and act once per turn.
 * act must not allocate: any per-session work belongs in begin_session.
 *
 * What a policy may look at: the state view carries the dataset so that a
 * policy can read the current turn's text, embedding and position.  A
 * deployable policy must not read the current or later turns' outcomes;
 * the baselines here use only per-model estimates (mean quality and mean
 * cost per turn in a reference dataset).  The hindsight oracle is the one
 * exception: it reads every outcome of the session and is an upper bound,
 * not a router.
 *
 * Ownership: sr_policy_create returns a policy the caller releases with
 * sr_policy_free.  A policy keeps no pointer into the reference dataset
 * after creation.  A policy instance is not thread-safe; create one per
 * thread.
 */
#ifndef SEQROUTE_POLICY_H
#define SEQROUTE_POLICY_H

#include "seqroute/common.h"
#include "seqroute/dataset.h"
#include "seqroute/mdp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum length of a policy name, including "always:" and a model name. */
#define SR_POLICY_NAME_MAX (SR_MAX_NAME_BYTES + 16)

/*
 * What the hindsight oracle maximises.  The quality objective is the
 * evaluation's served quality, so the oracle bounds every policy's
 * mean_quality; the return objective is the MDP return of the simulator.
 */
typedef enum sr_oracle_objective {
    SR_ORACLE_QUALITY = 0, /* served quality, then return, then lower cost */
    SR_ORACLE_RETURN = 1   /* undiscounted return, then lower cost */
} sr_oracle_objective;

/*
 * What a policy sees at one decision.  `budget` is b_t before the call;
 * `start_budget` is B_0; `prev_action` is the model called at t - 1 (the
 * fallback when it replaced the request), -1 at t = 0.  `rng` is seeded per
 * session by the simulator, so random choices do not depend on the order in
 * which sessions are visited.
 */
typedef struct sr_policy_state {
    const sr_dataset *ds;
    size_t session;
    int t;
    double budget;
    double start_budget;
    int prev_action;
    sr_rng *rng;
} sr_policy_state;

typedef struct sr_policy sr_policy;

struct sr_policy {
    char name[SR_POLICY_NAME_MAX];
    void *impl;

    /*
     * Prepares an episode of session `session` of `ds` that starts with
     * `start_budget`.  May be NULL when the policy keeps no per-session
     * state.  Returns a negative status with `err` filled on failure.
     */
    sr_status (*begin_session)(sr_policy *policy, const sr_dataset *ds, size_t session,
                               double start_budget, sr_error *err);

    /* Returns the chosen model index in [0, n_models); must not allocate. */
    int (*act)(sr_policy *policy, const sr_policy_state *state);

    /* Releases the implementation and the sr_policy itself. */
    void (*destroy)(sr_policy *policy);
};

/* Releases `policy` through its destroy function; NULL is a no-op. */
void sr_policy_free(sr_policy *policy);

/* ---- model statistics ---------------------------------------------------- */

/*
 * Per-model estimates a baseline routes by, indexed by the target
 * catalogue.  Ties are broken by catalogue order after the rule given.
 */
typedef struct sr_model_stats {
    int n_models;
    double mean_quality[SR_MAX_MODELS]; /* mean quality per turn in the reference */
    double mean_cost[SR_MAX_MODELS];    /* mean cost per turn in the reference, c-hat(a) */
    double mean_session_turns;          /* mean session length of the reference */
    int cheapest;                       /* lowest mean cost; ties to higher mean quality */
    int strongest;                      /* highest mean quality; ties to lower mean cost */
    int most_expensive;                 /* highest mean cost; ties to the first in the catalogue */
} sr_model_stats;

/*
 * Computes `stats` from the present outcomes of `reference`, matching models
 * to `target` by name (the reference may order its catalogue differently).
 * Returns SR_ERR_INVALID when the reference has no sessions, lacks a model
 * of the target catalogue, or has no outcome for one of them.
 */
sr_status sr_model_stats_compute(const sr_dataset *reference, const sr_catalogue *target,
                                 sr_model_stats *stats, sr_error *err);

/* ---- construction by name -------------------------------------------------- */

/* Default multiplier on the heuristic's end-of-session reserve. */
#define SR_HEURISTIC_DEFAULT_RESERVE 1.0

typedef struct sr_policy_options {
    /* Source of the model estimates; NULL means the evaluation data itself. */
    const sr_dataset *reference;
    /* Dynamics the oracle plans with; must equal the simulator's. */
    sr_mdp_config mdp;
    /* Heuristic: multiplier >= 0 on the reserve kept for the remaining turns. */
    double heuristic_reserve;
    /* Heuristic: count the session's true remaining turns instead of the expected number. */
    bool heuristic_true_remaining;
    /* Oracle: what the hindsight plan maximises (SR_ORACLE_QUALITY, the zero value, by default). */
    sr_oracle_objective oracle_objective;
    /* Learned policies: the trade-off λ of the decision rule (seqroute/qpolicy.h). */
    double lambda;
} sr_policy_options;

/* Fills `options` with defaults: no reference, default MDP, reserve 1, expected turns. */
void sr_policy_options_default(sr_policy_options *options);

/*
 * Creates the policy called `name` for the catalogue of `ds`:
 *   "always:MODEL"      always the named model
 *   "always-cheapest"   always the model with the lowest mean cost per turn
 *   "always-strongest"  always the model with the highest mean quality
 *   "random"            uniform over the catalogue, from the state's rng
 *   "heuristic"         budget-aware: the best model by mean quality whose
 *                       estimated cost leaves a reserve to finish the expected
 *                       remaining turns with the cheapest model
 *   "oracle"            the hindsight oracle (reads every outcome)
 *   "cql:FILE", "dqn:FILE", "bc:FILE"
 *                       a learned policy read from policy file FILE, deciding
 *                       with options->lambda; the row is named by the prefix
 *   "policy:FILE", FILE the same, named by the algorithm stored in FILE
 * On a name that is not one of these, returns SR_ERR_NOT_FOUND with a message
 * that lists the valid names and the catalogue's models.  Returns
 * SR_ERR_INVALID for bad options or statistics, SR_ERR_NOMEM on allocation
 * failure.  The new policy is stored in `*policy`, owned by the caller.
 */
sr_status sr_policy_create(const char *name, const sr_dataset *ds, const sr_policy_options *options,
                           sr_policy **policy, sr_error *err);

/*
 * True when `name` selects a learned policy: a cql:, dqn:, bc: or policy:
 * prefix, or a name that is no baseline and names an existing file.
 */
bool sr_policy_name_is_learned(const char *name);

/* ---- hindsight oracle ------------------------------------------------------ */

/* Result of planning one session with full knowledge of its outcomes. */
typedef struct sr_oracle_plan {
    double value;          /* undiscounted return of the plan, whatever the objective */
    double served_quality; /* quality of the turns served within budget, as eval counts it */
    double spent;          /* total cost of the plan, including a bankrupt call */
    bool bankrupt;         /* the plan ends in bankruptcy */
    int n_actions;         /* actions in the plan: all turns, or up to the bankrupt one */
} sr_oracle_plan;

/* Hard cap on the Pareto states kept for one turn; beyond it planning fails. */
#define SR_ORACLE_MAX_STATES (1u << 22)

/*
 * Finds the action sequence of session `session` starting with `budget` that
 * is best for `objective` under `config` (eta and the bankruptcy treatment;
 * the horizon must be 0), by exact dynamic programming over the turns.
 *
 *   SR_ORACLE_QUALITY  the largest served quality: the sum of the qualities
 *                      of the calls that stay within budget.  A bankrupt
 *                      call and the turns after it count 0, in both
 *                      treatments, exactly as sr_eval_policy counts
 *                      mean_quality.  Ties go to the higher return, then to
 *                      the lower total cost.
 *   SR_ORACLE_RETURN   the largest undiscounted return (q - eta on the
 *                      bankrupt call).  Ties go to the lower total cost.
 *
 * The first key is always exact; the tie rules are exact in the cases
 * docs/EVALUATION.md lists.  `actions` must have room for the session's turn
 * count; it receives the planned requests, and entries after a bankrupt step
 * are set to -1.  Models without an outcome at a turn are never planned
 * there.  Returns SR_ERR_INVALID for bad arguments (including an unknown
 * objective) or a turn where no model has an outcome, SR_ERR_NOMEM when
 * memory or SR_ORACLE_MAX_STATES runs out.  Thread-safe.
 */
sr_status sr_oracle_solve_objective(const sr_mdp_config *config, sr_oracle_objective objective,
                                    const sr_dataset *ds, size_t session, double budget,
                                    int *actions, sr_oracle_plan *plan, sr_error *err);

/* sr_oracle_solve_objective with SR_ORACLE_QUALITY, the default objective. */
sr_status sr_oracle_solve(const sr_mdp_config *config, const sr_dataset *ds, size_t session,
                          double budget, int *actions, sr_oracle_plan *plan, sr_error *err);

/* Returns "quality" or "return"; "unknown" for a value outside the enum. */
const char *sr_oracle_objective_name(sr_oracle_objective objective);

/*
 * Parses "quality" or "return" into `*objective`.  Returns false, leaving
 * `*objective` unchanged, for any other text.
 */
bool sr_oracle_objective_parse(const char *text, sr_oracle_objective *objective);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_POLICY_H */
