/*
 * calibrate.h - choosing λ for a target at a given budget, by bisection on
 * validation data.  A target bounds the mean spend, the bankruptcy rate or
 * the share of calls to one model.  Also the calibration file, and the
 * drift of the realised values from the target on other data
 * (docs/CALIBRATION.md).
 *
 * The three metrics fall as λ grows in expectation, because a larger λ
 * charges more for every call of a dear model.  On finite data they are step
 * functions of λ and need not be monotone: a dearer early call can end a
 * session in bankruptcy and so lower its spend.  The search therefore
 * promises only what it checks.  It returns the smallest probed λ whose
 * realised value meets the target (value ≤ target), and a probe within the
 * λ tolerance below it misses the target.  A coarse scan before the
 * bisection makes it find the first crossing at the scan's resolution
 * rather than any crossing, and every probe pair that breaks monotonicity
 * is counted and reported.
 *
 * Thread-safety: the search runs policies from the caller's factory one
 * after another; it shares nothing between calls.
 */
#ifndef SEQROUTE_CALIBRATE_H
#define SEQROUTE_CALIBRATE_H

#include <stdio.h>

#include "seqroute/common.h"
#include "seqroute/dataset.h"
#include "seqroute/eval.h"
#include "seqroute/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the calibration aims for, always as "at most". */
typedef enum sr_calibrate_target {
    SR_CALIBRATE_SPEND = 0,      /* mean cost per session, in the data's cost unit */
    SR_CALIBRATE_BANKRUPTCY = 1, /* share of sessions that go bankrupt */
    SR_CALIBRATE_SHARE = 2       /* share of calls to one model */
} sr_calibrate_target;

/* How the search ended. */
typedef enum sr_calibrate_status {
    SR_CALIBRATE_FOUND = 0,      /* a crossing bracketed to the λ tolerance, or a close hit */
    SR_CALIBRATE_MET_AT_LO = 1,  /* the target is met at lo already: the result is lo */
    SR_CALIBRATE_UNREACHABLE = 2 /* not met even at the largest λ tried */
} sr_calibrate_status;

/* Probes kept in a result: scan, expansion and bisection together stay below it. */
#define SR_CALIBRATE_MAX_PROBES 128
/* Evenly spaced interior points of [lo, hi] probed before the bisection. */
#define SR_CALIBRATE_SCAN_POINTS 8
/* Times hi is multiplied by 4 while the target is not met there (when allowed): up to 4^6. */
#define SR_CALIBRATE_MAX_EXPAND 6
/* Default search range: λ = 1 charges a full quality point per most-expensive call. */
#define SR_CALIBRATE_DEFAULT_LO 0.0
#define SR_CALIBRATE_DEFAULT_HI 1.0
/* Default λ resolution: far below the steps of the --sweep grid. */
#define SR_CALIBRATE_DEFAULT_LAMBDA_TOLERANCE 1e-4
/* Default bisection steps: enough to reach 1e-4 from a range of 4^6. */
#define SR_CALIBRATE_DEFAULT_MAX_ITER 40

typedef struct sr_calibrate_options {
    sr_calibrate_target target;
    double value;            /* the target value, ≥ 0 (rates in [0, 1]) */
    int share_model;         /* SR_CALIBRATE_SHARE: catalogue index of the model */
    double tolerance;        /* > 0: stop once value - tolerance ≤ realised ≤ value; 0: never early */
    double lambda_tolerance; /* stop once the bracket is this narrow; > 0 */
    double lo, hi;           /* search range, finite, lo < hi */
    bool expand_hi;          /* multiply hi by 4 while the target is not met there */
    int max_iter;            /* bisection steps, ≥ 1 */
} sr_calibrate_options;

/* One evaluated λ. */
typedef struct sr_calibrate_probe {
    double lambda;
    double value; /* the realised target metric */
} sr_calibrate_probe;

typedef struct sr_calibrate_result {
    sr_calibrate_status status;
    double lambda;           /* the result */
    sr_eval_metrics metrics; /* the evaluation at the result */
    double value;            /* the realised target metric at the result */
    double below_lambda;     /* the largest probe below the result that misses; NAN if none */
    double below_value;
    size_t non_monotone_pairs; /* probe pairs λ_i < λ_j with value_i < value_j */
    size_t n_probes;
    sr_calibrate_probe probes[SR_CALIBRATE_MAX_PROBES]; /* in the order run */
} sr_calibrate_result;

/*
 * Creates the policy to evaluate at `lambda` into `*out` (owned by the
 * caller, released with sr_policy_free).  Returns a status with `err` set on
 * failure.
 */
typedef sr_status (*sr_calibrate_factory)(void *user, double lambda, sr_policy **out,
                                          sr_error *err);

/* Fills `options` with the defaults above, target spend 0 and share model -1. */
void sr_calibrate_options_default(sr_calibrate_options *options);

/*
 * Returns the value of `target` in `metrics`: mean_cost, bankruptcy_rate or
 * model_share[share_model] (NAN when share_model is out of range).
 */
double sr_calibrate_value(sr_calibrate_target target, int share_model,
                          const sr_eval_metrics *metrics);

/* Returns "spend", "bankruptcy" or "share"; "unknown" otherwise. */
const char *sr_calibrate_target_name(sr_calibrate_target target);

/* Parses a target name; false, leaving `*target` unchanged, for another text. */
bool sr_calibrate_target_parse(const char *text, sr_calibrate_target *target);

/* Returns "found", "met_at_lo" or "unreachable"; "unknown" otherwise. */
const char *sr_calibrate_status_name(sr_calibrate_status status);

/*
 * Finds λ for `options` by evaluating the policies of `factory` on `ds` at
 * starting budget `budget` (search described at the top of this file and
 * in docs/CALIBRATION.md), filling `result`.  An unreachable target is not
 * an error: the result has that status and the probe with the lowest value.
 * Errors: SR_ERR_INVALID for bad options (the message names the field),
 * and whatever the factory or sr_eval_policy returns.
 */
sr_status sr_calibrate_lambda(sr_calibrate_factory factory, void *user, const sr_dataset *ds,
                              double budget, const sr_eval_options *eval,
                              const sr_calibrate_options *options, sr_calibrate_result *result,
                              sr_error *err);

/* ---- the calibration file ------------------------------------------------------------ */

/* What a calibration file records: enough to rerun the policy at its λ and budget. */
typedef struct sr_calibration {
    char policy[SR_POLICY_NAME_MAX]; /* the policy name as given to calibrate */
    double lambda;
    double budget;      /* absolute starting budget */
    double budget_frac; /* as given, or NAN */
    sr_calibrate_target target;
    double value;                             /* the target value */
    char share_model[SR_MAX_NAME_BYTES + 1]; /* SR_CALIBRATE_SHARE only, else "" */
    double eta;
    uint64_t seed;
    sr_calibrate_status status;
    double realised; /* the target metric on the calibration data */
} sr_calibration;

/*
 * Writes the calibration file (JSON, schema in docs/CALIBRATION.md) for
 * `result` found on `data_name` (`ds`) with `calibration` (its lambda,
 * status and realised fields are taken from `result`) and `options`.
 * Errors: SR_ERR_IO, SR_ERR_NOMEM.
 */
sr_status sr_calibration_write_json(const sr_calibration *calibration,
                                    const sr_calibrate_options *options,
                                    const sr_calibrate_result *result, const sr_dataset *ds,
                                    const char *data_name, FILE *out, sr_error *err);

/*
 * Reads a calibration file written by sr_calibration_write_json.  Errors:
 * SR_ERR_IO when it cannot be read, SR_ERR_INVALID when it is not JSON or
 * a field is missing or out of range (the message names the file and field).
 */
sr_status sr_calibration_read(const char *path, sr_calibration *calibration, sr_error *err);

/* ---- drift on other data -------------------------------------------------------------- */

/* Default drift tolerances: 10% of a spend target, 2 percentage points of a rate. */
#define SR_CALIBRATION_SPEND_DRIFT 0.10
#define SR_CALIBRATION_RATE_DRIFT 0.02

typedef struct sr_calibration_drift {
    double realised;  /* the target metric on the new data */
    double drift;     /* realised - target */
    double tolerance; /* the allowed |drift| */
    double ci[2];     /* 95% interval of the realised value (normal for spend, Wilson for rates) */
    bool warn;        /* |drift| > tolerance */
} sr_calibration_drift;

/*
 * Compares `metrics` (the calibrated policy at its λ and budget on new data)
 * with the target of `calibration`; `share_model` is the catalogue index of
 * the share model in that data (ignored for other targets).  `tolerance` < 0
 * selects the default above.
 */
void sr_calibration_check(const sr_calibration *calibration, int share_model,
                          const sr_eval_metrics *metrics, double tolerance,
                          sr_calibration_drift *drift);

/*
 * Returns a malloc'd JSON text (the caller frees it) describing the check:
 * the calibration, the realised values and the drift; NULL when out of
 * memory.
 */
char *sr_calibration_check_json(const sr_calibration *calibration,
                                const sr_eval_metrics *metrics,
                                const sr_calibration_drift *drift);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_CALIBRATE_H */
