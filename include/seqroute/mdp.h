/*
 * mdp.h - the Session-Budget MDP: one step of budget bookkeeping, reward
 * and termination on a session of a dataset.
 *
 * A session is an episode.  At turn t the policy picks a model a with the
 * remaining budget b_t in hand; the dataset supplies that turn's outcome
 * {quality q_t(a), cost c_t(a)}.  Then
 *
 *   b_{t+1} = b_t - c_t(a)                     (budget bookkeeping)
 *   bankrupt  iff  b_t - c_t(a) < 0            (equal to the cost is fine)
 *   r_t = q_t(a), or q_t(a) - eta when bankrupt
 *
 * The episode ends after the last turn, at bankruptcy, or at an optional
 * horizon cut H.  Bankruptcy and the last turn are terminations, so the
 * value of the next state is 0.  The horizon cut is a truncation, so learning
 * code should bootstrap from the next state.  When bankruptcy and the cut fall
 * on one step, bankruptcy wins; when the last turn and the cut coincide,
 * the last turn wins.
 *
 * Two treatments of an unaffordable call, chosen in the configuration:
 *
 * - SR_BANKRUPT_UNSERVED (default): the requested call is made, the session
 *   goes bankrupt, and the remaining turns are unserved.
 * - SR_BANKRUPT_FALLBACK: the router degrades before overspending.  When the
 *   requested model's cost exceeds the remaining budget, the fallback model
 *   is called in its place.  If the fallback's cost exceeds the remaining
 *   budget too, the fallback call is still the one made and the session goes
 *   bankrupt on it.  Affordability is thus always judged before the call,
 *   on a non-negative remaining budget.
 *
 * Thread-safety: every function here is pure over its arguments; concurrent
 * calls on one read-only dataset are safe.
 */
#ifndef SEQROUTE_MDP_H
#define SEQROUTE_MDP_H

#include "seqroute/common.h"
#include "seqroute/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default bankruptcy penalty on the [0, 1] quality scale: one perfect answer. */
#define SR_MDP_DEFAULT_ETA 1.0
/* Default discount, kept here for the learning code; evaluation is undiscounted. */
#define SR_MDP_DEFAULT_GAMMA 0.99

typedef enum sr_bankrupt_mode {
    SR_BANKRUPT_UNSERVED = 0, /* unaffordable call is made; the session goes bankrupt */
    SR_BANKRUPT_FALLBACK = 1  /* unaffordable call is replaced by the fallback model */
} sr_bankrupt_mode;

/* Why an episode ended at a step; SR_END_NONE while it continues. */
typedef enum sr_end_reason {
    SR_END_NONE = 0,
    SR_END_LAST_TURN = 1, /* termination: the session has no more turns */
    SR_END_BANKRUPT = 2,  /* termination: the call overspent the budget */
    SR_END_HORIZON = 3    /* truncation: the horizon cut H was reached */
} sr_end_reason;

typedef struct sr_mdp_config {
    double eta;   /* bankruptcy penalty, >= 0 */
    double gamma; /* discount for learning code, in [0, 1] */
    int horizon;  /* H: truncate after H steps; 0 means no cut */
    sr_bankrupt_mode bankrupt_mode;
    int fallback_model; /* catalogue index, required in fallback mode; else -1 */
} sr_mdp_config;

/* Outcome of one step. */
typedef struct sr_mdp_step_result {
    int requested;  /* the action the policy chose */
    int called;     /* the model actually called (the fallback when it replaced one) */
    bool replaced;  /* true when the fallback replaced the requested model */
    double quality; /* q_t(called) */
    double cost;    /* c_t(called), counted in spend even on bankruptcy */
    double reward;  /* quality, minus eta when bankrupt */
    double budget;  /* b_{t+1} = b_t - cost; negative exactly when bankrupt */
    bool bankrupt;
    bool done;         /* the episode ended at this step, for any reason */
    bool terminal;     /* done by termination (last turn or bankruptcy), not by the cut */
    sr_end_reason end; /* why it ended, SR_END_NONE when it continues */
} sr_mdp_step_result;

/*
 * Fills `config` with the defaults: eta 1.0, gamma 0.99, no horizon cut,
 * unserved treatment, no fallback model.
 */
void sr_mdp_config_default(sr_mdp_config *config);

/*
 * Checks `config` against a catalogue: eta finite and >= 0, gamma in [0, 1],
 * horizon >= 0, and in fallback mode a fallback index inside the catalogue.
 * Returns SR_ERR_INVALID with a message naming the field otherwise.
 */
sr_status sr_mdp_config_check(const sr_mdp_config *config, const sr_catalogue *catalogue,
                              sr_error *err);

/* Returns the index of the first catalogue model flagged as fallback, or -1. */
int sr_mdp_find_fallback(const sr_catalogue *catalogue);

/* Returns a constant lower-case name: "none", "last_turn", "bankrupt", "horizon". */
const char *sr_end_reason_name(sr_end_reason reason);

/* Returns "unserved" or "fallback". */
const char *sr_bankrupt_mode_name(sr_bankrupt_mode mode);

/*
 * Takes one step of session `session` at turn `t` with remaining budget
 * `budget` (b_t, which must be finite and >= 0) and requested `action`.
 * Fills `result` as described in the file comment.  Returns SR_ERR_INVALID
 * when the session, turn or action is out of range, when the budget is
 * negative or not finite, or when the dataset has no outcome for the model
 * that would be called (logged-only data).  The configuration is not
 * re-checked here; call sr_mdp_config_check once beforehand.
 */
sr_status sr_mdp_step(const sr_mdp_config *config, const sr_dataset *ds, size_t session, int t,
                      double budget, int action, sr_mdp_step_result *result, sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_MDP_H */
