/*
 * report.h - `seqroute report`: plots, their CSV files and an HTML page from
 * the JSON of `seqroute eval` and the training curves of `seqroute train
 * --curves` (docs/REPORT.md lists every file).
 *
 * The evaluation JSON is read into an sr_report_eval, which the figure
 * builders turn into sr_plot figures (include/seqroute/plot.h);
 * sr_report_write does all of it and writes the folder.  Threads: no shared
 * state; distinct calls may run in distinct threads.
 */
#ifndef SEQROUTE_REPORT_H
#define SEQROUTE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "seqroute/common.h"
#include "seqroute/plot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on untrusted input: far above any real evaluation or training run. */
#define SR_REPORT_MAX_ROWS 100000     /* rows of an evaluation JSON */
#define SR_REPORT_MAX_BUDGETS 16      /* distinct budgets: one frontier file each */
#define SR_REPORT_MAX_CURVES 16       /* --curves files */
#define SR_REPORT_MAX_CURVE_ROWS 1000000
#define SR_REPORT_MAX_FILE_BYTES ((size_t)256 << 20) /* an input file */

/* The figure sizes, in pixels. */
#define SR_REPORT_WIDTH 960
#define SR_REPORT_HEIGHT 600
#define SR_REPORT_CURVES_HEIGHT 760 /* two stacked panels */

typedef struct sr_report_options {
    const char *eval_path;           /* the JSON written by seqroute eval --json */
    const char *const *curve_paths;  /* CSV files of seqroute train --curves; may be empty */
    size_t n_curves;
    const char *out_dir;             /* created when missing (one level) */
    const char *cost_unit;           /* NULL: the JSON's "cost_unit", else "cost units" */
    bool embed_images;               /* PNGs inline (base64) in index.html */
} sr_report_options;

typedef struct sr_report_summary {
    size_t plots;          /* figures written, each as PNG and SVG */
    size_t files;          /* all files written, index.html included */
    size_t skipped_points; /* rows with a null cost, quality or rate, left out of plots */
    bool binned_p_expensive; /* the P(expensive) plots used p_expensive_bins */
} sr_report_summary;

/* An evaluation JSON, parsed and checked. */
typedef struct sr_report_eval sr_report_eval;

/*
 * Reads and checks an evaluation JSON.  Errors name the file and the field
 * ("rows[3].mean_cost"): SR_ERR_IO when it cannot be read, SR_ERR_INVALID
 * for bad JSON, a missing or mistyped field, SR_ERR_NOMEM past the limits
 * above.  Returns NULL on error.  Free with sr_report_eval_free.
 */
sr_report_eval *sr_report_eval_load(const char *path, sr_error *err);
void sr_report_eval_free(sr_report_eval *eval);

/* Number of distinct budgets and the starting budget of the i-th (ascending). */
size_t sr_report_eval_budgets(const sr_report_eval *eval);
double sr_report_eval_budget(const sr_report_eval *eval, size_t i);

/*
 * The frontier figure of budget i: mean quality per turn against mean cost
 * per session, one series per policy family, marker fill = bankruptcy rate.
 * `unit` labels the cost axis.  NULL with err set on failure; the caller
 * frees the figure.
 */
sr_plot *sr_report_frontier_plot(const sr_report_eval *eval, size_t budget_index,
                                 const char *unit, sr_error *err);

/*
 * Writes the whole report (see docs/REPORT.md) into options->out_dir.
 * Inputs are read completely and checked before the first file is written.
 * `summary` may be NULL.  Errors name the file, line and field.
 */
sr_status sr_report_write(const sr_report_options *options, sr_report_summary *summary,
                          sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_REPORT_H */
