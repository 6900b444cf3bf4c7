/*
 * eval.h - offline evaluation of routing policies: run a policy over every
 * session of a dataset at one starting budget through the MDP simulator and
 * summarise cost, bankruptcy, quality, return and model choice.
 *
 * Every metric is defined in docs/EVALUATION.md; the short forms are beside
 * the fields below.  Evaluation is deterministic for a given seed: session
 * i's random stream is derived from the seed and a hash of the session id,
 * so it also does not depend on the order of sessions in the file.
 *
 * Thread-safety: functions here only read the dataset; a policy instance
 * must not be shared between concurrent evaluations.
 */
#ifndef SEQROUTE_EVAL_H
#define SEQROUTE_EVAL_H

#include <stdio.h>

#include "seqroute/common.h"
#include "seqroute/dataset.h"
#include "seqroute/mdp.h"
#include "seqroute/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Two-sided 95% standard normal quantile, used by every interval here. */
#define SR_EVAL_Z95 1.959963984540054

/* Default evaluation seed, reported with the results. */
#define SR_EVAL_DEFAULT_SEED 1

typedef struct sr_eval_options {
    sr_mdp_config mdp; /* the horizon must be 0: evaluation runs whole sessions */
    uint64_t seed;
} sr_eval_options;

/* Bins of the remaining-budget share for the binned P(expensive) curve: ten
 * bins of width 0.1 resolve the curve while keeping a few hundred decisions
 * per bin on a 1,000-session evaluation. */
#define SR_EVAL_BUDGET_BINS 10

/*
 * Metrics of one (policy, budget) run.  NAN marks a value that is undefined
 * (written as JSON null): a zero denominator or too few data.
 */
typedef struct sr_eval_metrics {
    char name[SR_POLICY_NAME_MAX];
    double budget;      /* starting budget B_0 of every session */
    double budget_frac; /* B_0 / C_ref when budgets were given as fractions, else NAN */
    size_t sessions;
    double mean_cost;           /* spend per session, bankrupt call included */
    double mean_cost_ci[2];     /* 95% normal interval of mean_cost; NAN for < 2 sessions */
    double bankruptcy_rate;     /* bankrupt sessions / sessions */
    double bankruptcy_ci[2];    /* 95% Wilson interval of bankruptcy_rate */
    double mean_quality;        /* served quality / all turns (unserved turns count 0) */
    double mean_quality_served; /* served quality / served turns */
    double mean_return;         /* undiscounted MDP return per session */
    double mean_return_ci[2];   /* 95% normal interval of mean_return; NAN for < 2 sessions */
    int n_models;
    double model_share[SR_MAX_MODELS];  /* calls of each model / all calls */
    double oracle_gap_closed;           /* (Q - Q_cheapest) / (Q_oracle - Q_cheapest) */
    double cost_reduction_vs_strongest; /* 1 - mean_cost / mean_cost(always-strongest) */
    double p_expensive_slope;           /* OLS slope of 1[most expensive] on b_t / B_0 */
    double p_expensive_intercept;       /* OLS intercept of the same fit */
    /* Decisions and expensive calls per bin of b_t / B_0: bin i covers
     * [i / SR_EVAL_BUDGET_BINS, (i + 1) / SR_EVAL_BUDGET_BINS), the last bin includes 1. */
    size_t budget_bin_decisions[SR_EVAL_BUDGET_BINS];
    size_t budget_bin_expensive[SR_EVAL_BUDGET_BINS];

    /* Raw counts behind the rates. */
    size_t bankrupt_sessions;
    size_t turns;          /* all turns of all sessions */
    size_t served_turns;   /* turns answered within budget */
    size_t calls;          /* calls made, bankrupt calls included */
    size_t replaced_calls; /* requests replaced by the fallback model */
    size_t decisions;      /* decisions entering p_expensive_slope */

    double lambda; /* λ of a learned policy's decision rule; NAN for other policies */
    double reserve; /* heuristic reserve multiplier when the heuristic is swept, else NAN */

    /* Frontier analysis (sr_eval_request.frontier); false when it did not run. */
    size_t family; /* index into sr_eval_report.families */
    bool pareto;   /* not dominated within its family at this budget (sr_frontier_pareto) */
    bool hull;     /* a vertex of its family's AIQ envelope at this budget */
} sr_eval_metrics;

/* Fills `options` with the default MDP and SR_EVAL_DEFAULT_SEED. */
void sr_eval_options_default(sr_eval_options *options);

/*
 * Returns the catalogue index of the model with the highest mean cost per
 * turn over the present outcomes of `ds` (first in catalogue order on ties),
 * or -1 when the dataset has no outcome at all.
 */
int sr_eval_most_expensive(const sr_dataset *ds);

/*
 * Returns C_ref: the mean over sessions of the total cost of always calling
 * sr_eval_most_expensive(ds).  NAN when the dataset is empty or that model
 * lacks an outcome somewhere.
 */
double sr_eval_c_ref(const sr_dataset *ds);

/*
 * Computes the Wilson score interval for `successes` out of `trials` with
 * normal quantile `z` (SR_EVAL_Z95 for 95%).  With 0 trials it is [0, 1].
 */
void sr_eval_wilson(size_t successes, size_t trials, double z, double *lo, double *hi);

/*
 * Runs `policy` over every session of `ds` starting each with `budget` and
 * fills `metrics` (the comparison fields oracle_gap_closed and
 * cost_reduction_vs_strongest are left NAN; see sr_eval_compare).  Returns
 * SR_ERR_INVALID for a bad budget, configuration or an empty dataset, for a
 * policy action outside the catalogue, or when a called model has no outcome
 * (the message names session, turn and model); other statuses come from the
 * policy.
 */
sr_status sr_eval_policy(sr_policy *policy, const sr_dataset *ds, double budget,
                         const sr_eval_options *options, sr_eval_metrics *metrics, sr_error *err);

/*
 * Fills the comparison metrics of `row` from the always-cheapest,
 * always-strongest and oracle runs at the same budget.  Any of the three may
 * be NULL, leaving the metric it feeds NAN.  oracle_gap_closed stays NAN
 * when the oracle's quality gain over always-cheapest is at most `min_gain`
 * (a ratio over a near-zero gain is noise, not a measurement).
 */
void sr_eval_compare(sr_eval_metrics *row, const sr_eval_metrics *cheapest,
                     const sr_eval_metrics *strongest, const sr_eval_metrics *oracle,
                     double min_gain);

/*
 * Smallest oracle gain over always-cheapest, as a share of the quality
 * range, for which sr_eval_report_build computes oracle_gap_closed: 1%.
 */
#define SR_EVAL_MIN_ORACLE_GAIN 0.01

/* ---- a full report over policies and budgets --------------------------------- */

typedef struct sr_eval_request {
    /* Policy names as for sr_policy_create, plus "all" for every baseline and the oracle. */
    const char *const *policies;
    size_t n_policies;
    /* Starting budgets, absolute or as fractions of C_ref. */
    const double *budgets;
    size_t n_budgets;
    bool budgets_are_fractions;
    sr_eval_options eval;
    /* Policy settings; its mdp field is replaced by eval.mdp so the oracle plans what is run. */
    sr_policy_options policy;
    /*
     * λ values for learned policies (sr_policy_name_is_learned): each learned
     * name runs once per value, its rows carrying `lambda`.  NULL with 0
     * means λ = 0 alone.  Other policies ignore them.
     */
    const double *lambdas;
    size_t n_lambdas;
    /*
     * Reserve multipliers for the heuristic: with n_reserves > 0 the
     * heuristic runs once per value (rows carry `reserve`) instead of once
     * with policy.heuristic_reserve.
     */
    const double *reserves;
    size_t n_reserves;
    /* Computes frontiers, AIQ and the dominance table (see sr_eval_report). */
    bool frontier;
    /*
     * C_ref that budget fractions multiply, in the data's cost unit; 0 (the
     * zero value) or NAN computes it from the evaluated data.  Pass the
     * training data's C_ref so fractions mean the same budgets on every split.
     */
    double c_ref;
} sr_eval_request;

/* Reserve grid of the heuristic under `seqroute eval --sweep`: from no reserve to five times it. */
#define SR_EVAL_RESERVE_SWEEP {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0}
#define SR_EVAL_RESERVE_SWEEP_N 7

/* What a policy family is swept over. */
typedef enum sr_eval_sweep {
    SR_EVAL_SWEEP_NONE = 0,    /* one configuration */
    SR_EVAL_SWEEP_LAMBDA = 1,  /* a learned policy other than BC, over the request's λ values */
    SR_EVAL_SWEEP_RESERVE = 2  /* the heuristic, over the request's reserve values */
} sr_eval_sweep;

/*
 * One requested policy and all its configurations.  The rows of a family
 * at one budget are contiguous in sr_eval_report.rows.
 */
typedef struct sr_eval_family {
    char name[SR_POLICY_NAME_MAX];   /* the rows' name; the request name when two families share it */
    char source[SR_POLICY_NAME_MAX]; /* the requested policy name, "cql:FILE" for example */
    int algo;                        /* a learned policy's sr_cql_algo value, -1 for the others */
    sr_eval_sweep sweep;
    bool seqroute;   /* learned with algo CQL: a challenger in the dominance table */
    bool deployable; /* every policy but the hindsight oracle */
} sr_eval_family;

/* The frontier of one swept family at one budget. */
typedef struct sr_eval_frontier {
    size_t family;
    size_t budget_index;
    size_t first_row; /* its rows are rows[first_row .. first_row + n_points) */
    size_t n_points;
    double aiq;
} sr_eval_frontier;

/* The shared AIQ cost range of one budget and its anchor. */
typedef struct sr_eval_aiq_range {
    double lo;             /* always-cheapest's mean cost at this budget: the anchor */
    double hi;             /* the largest mean cost of a swept configuration, at least lo */
    double anchor_quality; /* always-cheapest's mean quality */
} sr_eval_aiq_range;

/*
 * One entry of the dominance table: a baseline row and the cheapest row of
 * a SeqRoute family at the same budget with at least its quality and at
 * most its bankruptcy rate, or none.
 */
typedef struct sr_eval_dominance {
    size_t budget_index;
    size_t baseline_row;
    size_t seqroute_family;
    long match_row; /* index into rows, -1 when no configuration qualifies */
} sr_eval_dominance;

typedef struct sr_eval_report {
    uint64_t seed;
    size_t sessions;
    double c_ref;
    int c_ref_model; /* the model behind C_ref (sr_eval_most_expensive) */
    bool c_ref_given; /* C_ref came from the request, not from the data */
    sr_mdp_config mdp;
    double heuristic_reserve;
    bool heuristic_true_remaining;
    sr_oracle_objective oracle_objective;
    sr_eval_metrics *rows; /* budget-major: every policy at budget 1, then budget 2, ... */
    size_t n_rows;
    size_t n_budgets;

    /* Requested policies; always filled. */
    sr_eval_family *families;
    size_t n_families;

    /*
     * Frontier analysis, filled when the request asked for it
     * (docs/EVALUATION.md, "Frontiers, AIQ and dominance").  `aiq` holds
     * n_budgets x n_families values, budget-major, NAN for the oracle.
     */
    bool frontier;
    sr_eval_aiq_range *aiq_ranges; /* [n_budgets] */
    double *aiq;
    sr_eval_frontier *frontiers; /* one per swept family and budget */
    size_t n_frontiers;
    sr_eval_dominance *dominance;
    size_t n_dominance;

    /*
     * JSON text written under the key "calibration" (the check of
     * `seqroute eval --calibration`), or NULL.  Malloc'd; freed by
     * sr_eval_report_free.
     */
    char *calibration_json;
} sr_eval_report;

/*
 * Evaluates every requested policy at every budget and fills `report`,
 * which the caller releases with sr_eval_report_free.  Policy names are
 * all checked before anything runs; an unknown one fails with the message
 * of sr_policy_create.  Always-cheapest, always-strongest and the oracle
 * also run at every budget (without rows unless requested) to fill the
 * comparison metrics.  Duplicate names keep their first occurrence.  Each
 * learned policy runs once per requested λ, in the order given, except a
 * behaviour-cloning one, which runs at λ = 0 only.  With reserves, the
 * heuristic runs once per reserve.  With request->frontier, the frontier
 * analysis fills the report's frontier fields.
 */
sr_status sr_eval_report_build(const sr_dataset *ds, const sr_eval_request *request,
                               sr_eval_report *report, sr_error *err);

/* Releases the rows of `report` and clears it. */
void sr_eval_report_free(sr_eval_report *report);

/*
 * Writes `report` as one JSON document (schema in docs/EVALUATION.md) to
 * `out`, naming the data as `data_name` and the reference data as
 * `reference_name` (NULL when the evaluation data served as reference).
 * Model names come from the catalogue of `ds`.  Returns SR_ERR_IO when the
 * write fails, SR_ERR_NOMEM when building the document fails.
 */
sr_status sr_eval_report_write_json(const sr_eval_report *report, const sr_dataset *ds,
                                    const char *data_name, const char *reference_name, FILE *out,
                                    sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_EVAL_H */
