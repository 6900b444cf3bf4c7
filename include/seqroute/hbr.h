/*
 * hbr.h - Hindsight Budget Relabeling: replays each session of a dataset
 * under several starting budgets and action paths, producing MDP
 * transitions for offline learning.
 *
 * Budget is pure bookkeeping: it never changes how a conversation unfolds.
 * A logged session can therefore be replayed from any starting budget B and
 * along any action path whose outcomes the data contains, and the result is
 * still a valid trajectory of the Session-Budget MDP (seqroute/mdp.h).  For
 * each (session, budget level, path) the relabeller walks the turns with
 * sr_mdp_step, so every budget, reward and flag agrees bit for bit with the
 * simulator.  Each walk stops after the bankrupt step, and that step is kept.
 *
 * Paths per session (decided per session, so mixed data works):
 *
 *   full information, K^T <= max_enum  all K^T paths, in lexicographic order
 *   full information, K^T >  max_enum  n_paths paths drawn from a behaviour
 *                                      mixture (uniform random, always-
 *                                      cheapest, always-strongest, per-turn
 *                                      greedy best quality)
 *   otherwise                          the logged path, if every turn has a
 *                                      logged model with an outcome; else the
 *                                      session is unusable: it produces no
 *                                      transitions, is logged at warn level
 *                                      and is counted in the statistics
 *
 * Memory: transitions are generated on the fly.  The relabeller keeps a few
 * numbers per session, and a transition refers to its state's feature row
 * by global turn index instead of copying the vector.  The visitor walks
 * every transition; the sampler draws uniformly from the relabelled multiset
 * without building it.  Both are deterministic for a given seed and do not
 * depend on the order of sessions in the file, because every random draw
 * comes from a stream keyed by the session id.
 *
 * Thread-safety: a built sr_hbr is read-only.  Concurrent visitors and
 * samplers are safe when each sampler has its own sr_rng and the dataset is
 * not modified.
 */
#ifndef SEQROUTE_HBR_H
#define SEQROUTE_HBR_H

#include "seqroute/common.h"
#include "seqroute/dataset.h"
#include "seqroute/mdp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default budget fractions of C_ref, from the 500..8000-unit levels against ~9,200 for always-strong. */
#define SR_HBR_DEFAULT_FRACTIONS {0.05, 0.15, 0.30, 0.50, 0.85}
#define SR_HBR_DEFAULT_N_FRACTIONS 5

/* Enumerate every path when K^T is at most this: 2 models and up to 6 turns. */
#define SR_HBR_DEFAULT_MAX_ENUM 64
/* Paths drawn per session when enumeration is too large: 16, the count of 2 models x 4 turns. */
#define SR_HBR_DEFAULT_N_PATHS 16

/* Caps that bound memory: budget levels per session, enumerated and sampled paths. */
#define SR_HBR_MAX_LEVELS 256
#define SR_HBR_MAX_ENUM 65536
#define SR_HBR_MAX_PATHS 4096

/* Behaviour policies of the sampling mixture, in the order of sr_hbr_options.mixture. */
enum {
    SR_HBR_BEHAVIOUR_UNIFORM = 0,   /* each turn uniform over the K models */
    SR_HBR_BEHAVIOUR_CHEAPEST = 1,  /* always the model with the lowest mean cost */
    SR_HBR_BEHAVIOUR_STRONGEST = 2, /* always the model with the highest mean quality */
    SR_HBR_BEHAVIOUR_GREEDY = 3,    /* each turn the model with the best quality on that turn */
    SR_HBR_N_BEHAVIOURS = 4
};

/* Default mixture weights: half random exploration, half the three fixed behaviours. */
#define SR_HBR_DEFAULT_MIXTURE {0.4, 0.2, 0.2, 0.2}

typedef enum sr_hbr_budget_mode {
    SR_HBR_BUDGET_FRACTIONS = 0,  /* levels = values x C_ref (the default) */
    SR_HBR_BUDGET_ABSOLUTE = 1,   /* levels = values, in cost units */
    SR_HBR_BUDGET_LOG_UNIFORM = 2 /* log_n levels per session, log-uniform in [log_lo, log_hi] */
} sr_hbr_budget_mode;

/* How the paths of a session were chosen. */
typedef enum sr_hbr_path_kind {
    SR_HBR_PATHS_ENUMERATED = 0,
    SR_HBR_PATHS_SAMPLED = 1,
    SR_HBR_PATHS_LOGGED = 2,
    SR_HBR_PATHS_UNUSABLE = 3 /* neither full information nor a complete logged path */
} sr_hbr_path_kind;

typedef struct sr_hbr_options {
    sr_hbr_budget_mode budget_mode;
    /* Fractions or absolute levels (copied); NULL with 0 means the default fractions. */
    const double *budget_values;
    size_t n_budget_values;
    /* Log-uniform range in cost units, 0 < log_lo <= log_hi, and levels per session. */
    double log_lo;
    double log_hi;
    int log_n;
    /* C_ref for fractions; NAN means sr_eval_c_ref of the dataset. */
    double c_ref;
    /* Enumerate when K^T <= max_enum (1..SR_HBR_MAX_ENUM). */
    uint64_t max_enum;
    /* Paths drawn per session otherwise (1..SR_HBR_MAX_PATHS). */
    int n_paths;
    /* Weights of the behaviours, >= 0 with a positive sum; normalised internally. */
    double mixture[SR_HBR_N_BEHAVIOURS];
    /* Emit each distinct (session, level, action prefix) transition once, weighted. */
    bool dedupe;
    /* Step rules; the horizon cut, when set, ends walks as in the simulator. */
    sr_mdp_config mdp;
    uint64_t seed;
} sr_hbr_options;

/* Transition flags. */
enum {
    SR_HBR_TERMINAL = 1u << 0,  /* last turn or bankruptcy: no bootstrap from s_{t+1} */
    SR_HBR_BANKRUPT = 1u << 1,  /* b_t - c_t(a_t) < 0; reward includes -eta */
    SR_HBR_TRUNCATED = 1u << 2, /* horizon cut: the walk ends but s_{t+1} is valid */
    SR_HBR_REPLACED = 1u << 3   /* fallback treatment called the fallback model instead */
};

/*
 * One relabelled transition (s_t, a_t, r_t, s_{t+1}, done), 64 bytes.
 * s_t is (feature row `row`, budget); s_{t+1}, unless terminal, is
 * (row + 1, next_budget).  `row` equals ds->sessions[session].first_turn + t,
 * the row of sr_feature_table.  `action` is the requested model; quality and
 * cost are those of the model called.
 */
typedef struct sr_hbr_transition {
    double budget;      /* b_t, before the call */
    double next_budget; /* b_{t+1} = b_t - cost; negative exactly when bankrupt */
    double quality;
    double cost;
    double reward; /* quality, minus eta when bankrupt */
    uint64_t row;
    uint32_t session;
    uint32_t weight; /* paths sharing this transition under dedupe; otherwise 1 */
    uint16_t t;
    uint16_t level; /* budget level index; for log-uniform, rank of the draw (0 = smallest) */
    uint8_t action;
    uint8_t flags;
    uint16_t reserved; /* always 0; makes the 64 bytes explicit */
} sr_hbr_transition;

typedef struct sr_hbr sr_hbr;

/*
 * Fills `options` with the defaults: the five default fractions of C_ref,
 * C_ref from the data, max_enum 64, 16 sampled paths, mixture
 * {0.4, 0.2, 0.2, 0.2}, no dedupe, the default MDP and seed 1.
 */
void sr_hbr_options_default(sr_hbr_options *options);

/*
 * Builds a relabeller over `ds`, which must outlive it and stay unchanged.
 * Checks the options, resolves the budget levels, and classifies every
 * session as enumerated, sampled, logged or unusable.  Each unusable session
 * is logged at warn level with its id and reason.  Costs O(turns x models)
 * time and O(sessions) memory.  Errors: SR_ERR_INVALID for a bad option, for
 * fractions when C_ref is undefined (the message says to give absolute
 * budgets or C_ref), for more than 2^32 - 1 sessions; SR_ERR_NOMEM.  The
 * caller releases `*hbr` with sr_hbr_free.
 */
sr_status sr_hbr_create(const sr_dataset *ds, const sr_hbr_options *options, sr_hbr **hbr,
                        sr_error *err);

/* Releases `hbr`; NULL is a no-op. */
void sr_hbr_free(sr_hbr *hbr);

/* C_ref used for fractions (NAN when the data gives none and the options gave none). */
double sr_hbr_c_ref(const sr_hbr *hbr);

/*
 * Number of fixed budget levels, and their values in `*levels` (owned by
 * `hbr`).  For log-uniform budgets returns 0 and sets `*levels` to NULL.
 */
size_t sr_hbr_levels(const sr_hbr *hbr, const double **levels);

/* Budget levels per session: the fixed count, or log_n for log-uniform. */
int sr_hbr_levels_per_session(const sr_hbr *hbr);

/*
 * Largest starting budget the relabeller can use: the largest fixed level,
 * or log_hi.  The default B_ref for normalising budgets in the state.
 */
double sr_hbr_max_budget(const sr_hbr *hbr);

/*
 * Fills `budgets` (sr_hbr_levels_per_session entries) with the starting
 * budgets of session `session`: the fixed levels, or that session's sorted
 * log-uniform draws.  Returns SR_ERR_INVALID for a session out of range.
 */
sr_status sr_hbr_session_budgets(const sr_hbr *hbr, size_t session, double *budgets,
                                 sr_error *err);

/* Path kind and path count of session `session`, which must be in range (0 paths when unusable). */
sr_hbr_path_kind sr_hbr_session_kind(const sr_hbr *hbr, size_t session);
size_t sr_hbr_session_paths(const sr_hbr *hbr, size_t session);

/* Returns "enumerated", "sampled", "logged" or "unusable". */
const char *sr_hbr_path_kind_name(sr_hbr_path_kind kind);

/*
 * Called once per transition.  A status other than SR_OK stops the walk,
 * and the visitor returns it.
 */
typedef sr_status (*sr_hbr_visit_fn)(const sr_hbr_transition *transition, void *user_data);

/*
 * Walks every relabelled transition of session `session`, in the order
 * level, path, step.  Under dedupe, paths are sorted lexicographically and
 * a transition is visited only on the first path of its prefix, with
 * `weight` set to the number of paths that share that prefix.  Unusable
 * sessions visit nothing.  Errors: SR_ERR_INVALID for a session out of
 * range; SR_ERR_NOMEM; a step error of sr_mdp_step (a fallback call without
 * an outcome); or the callback's status.  Allocates a path table per call.
 */
sr_status sr_hbr_session_foreach(const sr_hbr *hbr, size_t session, sr_hbr_visit_fn visit,
                                 void *user_data, sr_error *err);

/* sr_hbr_session_foreach over every session in file order. */
sr_status sr_hbr_foreach(const sr_hbr *hbr, sr_hbr_visit_fn visit, void *user_data,
                         sr_error *err);

/*
 * Draws `n` transitions independently and uniformly from the relabelled
 * multiset (the transitions that sr_hbr_foreach visits without dedupe, each
 * counted once per path).  The method and its proof are in src/hbr.c.
 * Sampled transitions carry weight 1 whatever the dedupe option, since
 * sampling the multiset already weights each distinct transition by its
 * path count.  Allocates nothing; O(T) expected steps per draw, at most T_max
 * rejections in expectation.  Errors: SR_ERR_INVALID when no session
 * produces transitions.
 */
sr_status sr_hbr_sample(const sr_hbr *hbr, sr_rng *rng, sr_hbr_transition *out, size_t n,
                        sr_error *err);

/* Counts over the relabelled data, from one full visit. */
typedef struct sr_hbr_stats {
    size_t sessions;
    size_t sessions_by_kind[4]; /* indexed by sr_hbr_path_kind */
    uint64_t paths;             /* sum over sessions of their paths */
    uint64_t episodes;          /* walks: sum over sessions of levels x paths */
    uint64_t transitions;       /* the multiset: weighted count */
    uint64_t bankrupt_transitions;
    uint64_t distinct_transitions; /* visits under dedupe; equals transitions without */
    int n_levels;                  /* entries of the per-level arrays */
    uint64_t *level_transitions;   /* per level, weighted */
    uint64_t *level_bankrupt;
    double *level_budget_sum; /* sum of starting budgets over episodes, for a mean */
} sr_hbr_stats;

/*
 * Visits every transition and fills `stats` (the caller releases it with
 * sr_hbr_stats_free).  Errors as sr_hbr_foreach, plus SR_ERR_NOMEM.
 */
sr_status sr_hbr_stats_compute(const sr_hbr *hbr, sr_hbr_stats *stats, sr_error *err);

void sr_hbr_stats_free(sr_hbr_stats *stats);

/*
 * Builds the visited transitions as one array (for small data and tests):
 * `*out` receives malloc'd storage the caller frees, `*count` its length.
 * Fails with SR_ERR_NOMEM, leaving `*out` NULL, when more than
 * `max_transitions` would be produced.  Other errors as sr_hbr_foreach.
 */
sr_status sr_hbr_materialise(const sr_hbr *hbr, size_t max_transitions, sr_hbr_transition **out,
                             size_t *count, sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_HBR_H */
