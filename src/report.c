/*
 * report.c - `seqroute report` (see include/seqroute/report.h and
 * docs/REPORT.md).
 *
 * Design.  Everything is read and checked first: the evaluation JSON into
 * an array of rows (numbers as doubles, null and absent as NAN), the
 * training curves into columns.  Only then is the output folder written, so
 * bad input leaves no half report behind.
 *
 * Rows are grouped into policy families by name, in order of first
 * appearance.  A family whose rows carry `lambda` is swept over λ, and one
 * whose rows carry `reserve` is swept over the heuristic's reserve.  `oracle`
 * is the hindsight bound.  Every other family is a single configuration.  The frontier
 * of a budget joins a swept family's points in order of its parameter and
 * draws single configurations as markers; every marker's fill shows the
 * bankruptcy rate on a grey ramp (square-root scale, so the small rates that
 * separate good routers stay visible).  Plots that need one point per
 * family and budget (bankruptcy against budget, P(expensive)) take a swept
 * family at λ = 0 and the heuristic at the reserve of
 * settings.heuristic_reserve (else its smallest), and say so in the legend.
 *
 * P(expensive) against the remaining budget uses `p_expensive_bins` when the
 * JSON has them (points, plus the fitted slope drawn through the bins'
 * weighted centre, or through `p_expensive_intercept` when present).
 * Without bins the JSON gives only a slope, not where the line sits, so the
 * report plots the slopes against the budget instead of inventing an
 * intercept.
 *
 * Figures, CSV files and HTML are written in a fixed order from sorted data;
 * nothing depends on time or addresses, so the same input gives the same
 * bytes.
 */
#include "seqroute/report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROW_NAME_MAX 256      /* a longer policy name is rejected */
#define MAX_BINS 1000         /* p_expensive_bins entries per row */
#define LOG_COST_RATIO 30.0   /* cost axes go logarithmic past this max / min ratio */
#define LOG_LOSS_RATIO 100.0  /* loss axes likewise */

typedef enum family_kind {
    FAMILY_SINGLE = 0,
    FAMILY_LAMBDA = 1,
    FAMILY_RESERVE = 2,
    FAMILY_ORACLE = 3
} family_kind;

typedef struct row {
    char name[ROW_NAME_MAX];
    size_t family;
    size_t budget_index;
    double lambda, reserve; /* NAN when absent */
    double budget, budget_frac;
    double sessions;
    double mean_cost, cost_lo, cost_hi;
    double bankruptcy, bank_lo, bank_hi;
    double quality, quality_served, mean_return;
    double gap_closed, cost_reduction, slope, intercept;
    double *bin_x, *bin_p, *bin_n; /* p_expensive_bins, n_bins of each */
    size_t n_bins;
} row;

typedef struct family {
    char name[ROW_NAME_MAX];
    family_kind kind;
    bool is_static; /* always-*: a constant choice, left out of P(expensive) plots */
} family;

struct sr_report_eval {
    char *path;
    json_t *root;
    row *rows;
    size_t n_rows;
    family *families;
    size_t n_families;
    double budgets[SR_REPORT_MAX_BUDGETS];
    double budget_fracs[SR_REPORT_MAX_BUDGETS]; /* NAN when budgets were absolute */
    size_t n_budgets;
    double c_ref;
    double default_reserve;
    bool has_bins;
    char unit[64];
};

typedef struct curve {
    char *label;
    char *path;
    size_t n;
    double *step, *loss, *val_return;
} curve;

/* ---- input files ------------------------------------------------------------------- */

static char *read_whole_file(const char *path, size_t *size, sr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        sr_error_set(err, SR_ERR_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t capacity = 65536, n = 0;
    char *data = malloc(capacity);
    while (data != NULL) {
        if (n + 1 >= capacity) {
            if (capacity >= SR_REPORT_MAX_FILE_BYTES) {
                sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL,
                             "larger than %zu bytes, the most a report reads",
                             SR_REPORT_MAX_FILE_BYTES);
                free(data);
                fclose(f);
                return NULL;
            }
            char *grown = realloc(data, capacity * 2);
            if (grown == NULL)
                break;
            data = grown;
            capacity *= 2;
        }
        const size_t got = fread(data + n, 1, capacity - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (data == NULL) {
        sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory");
        fclose(f);
        return NULL;
    }
    if (ferror(f)) {
        sr_error_set(err, SR_ERR_IO, path, 0, NULL, "read failed: %s", strerror(errno));
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    data[n] = '\0';
    *size = n;
    return data;
}

/* ---- the evaluation JSON ------------------------------------------------------------- */

/*
 * A number field of an object: its value, NAN for null or absent.  A field
 * of another type is an error naming it.
 */
static bool get_number(const json_t *obj, const char *key, const char *where, double *value,
                       bool required, const char *path, sr_error *err)
{
    const json_t *v = json_object_get(obj, key);
    char field[128];
    snprintf(field, sizeof(field), "%s.%s", where, key);
    if (v == NULL || json_is_null(v)) {
        *value = NAN;
        if (v == NULL && required) {
            sr_error_set(err, SR_ERR_INVALID, path, 0, field,
                         "missing field %s; is this the JSON of seqroute eval --json?", field);
            return false;
        }
        return true;
    }
    if (!json_is_number(v)) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, field,
                     "%s must be a number or null; fix or regenerate the file", field);
        return false;
    }
    *value = json_number_value(v);
    return true;
}

static bool get_pair(const json_t *obj, const char *key, const char *where, double *lo,
                     double *hi, const char *path, sr_error *err)
{
    const json_t *v = json_object_get(obj, key);
    *lo = *hi = NAN;
    if (v == NULL || json_is_null(v))
        return true;
    char field[128];
    snprintf(field, sizeof(field), "%s.%s", where, key);
    const json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !(json_is_number(a) || json_is_null(a)) ||
        !(json_is_number(b) || json_is_null(b))) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, field,
                     "%s must be [lo, hi] of numbers or nulls", field);
        return false;
    }
    *lo = json_is_number(a) ? json_number_value(a) : NAN;
    *hi = json_is_number(b) ? json_number_value(b) : NAN;
    return true;
}

static bool read_bins(row *r, const json_t *obj, const char *where, const char *path,
                      sr_error *err)
{
    const json_t *bins = json_object_get(obj, "p_expensive_bins");
    if (bins == NULL || json_is_null(bins))
        return true;
    char field[128];
    snprintf(field, sizeof(field), "%s.p_expensive_bins", where);
    if (!json_is_array(bins) || json_array_size(bins) > MAX_BINS) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, field,
                     "%s must be an array of at most %d objects", field, MAX_BINS);
        return false;
    }
    const size_t n = json_array_size(bins);
    if (n == 0)
        return true;
    r->bin_x = malloc(n * sizeof(double));
    r->bin_p = malloc(n * sizeof(double));
    r->bin_n = malloc(n * sizeof(double));
    if (r->bin_x == NULL || r->bin_p == NULL || r->bin_n == NULL) {
        sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory");
        return false;
    }
    r->n_bins = n;
    for (size_t i = 0; i < n; i++) {
        char item[160];
        snprintf(item, sizeof(item), "%s[%zu]", field, i);
        const json_t *bin = json_array_get(bins, i);
        if (!json_is_object(bin)) {
            sr_error_set(err, SR_ERR_INVALID, path, 0, item, "%s must be an object", item);
            return false;
        }
        if (!get_number(bin, "budget_frac_mid", item, &r->bin_x[i], true, path, err) ||
            !get_number(bin, "p", item, &r->bin_p[i], true, path, err) ||
            !get_number(bin, "n", item, &r->bin_n[i], true, path, err))
            return false;
    }
    return true;
}

static bool read_row(row *r, const json_t *obj, size_t index, const char *path, sr_error *err)
{
    char where[64];
    snprintf(where, sizeof(where), "rows[%zu]", index);
    if (!json_is_object(obj)) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, where, "%s must be an object", where);
        return false;
    }
    const json_t *name = json_object_get(obj, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) >= ROW_NAME_MAX) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, "name",
                     "%s.name must be a non-empty string of under %d bytes", where,
                     ROW_NAME_MAX);
        return false;
    }
    snprintf(r->name, sizeof(r->name), "%s", json_string_value(name));

    const bool ok =
        get_number(obj, "lambda", where, &r->lambda, false, path, err) &&
        get_number(obj, "reserve", where, &r->reserve, false, path, err) &&
        get_number(obj, "budget", where, &r->budget, true, path, err) &&
        get_number(obj, "budget_frac", where, &r->budget_frac, false, path, err) &&
        get_number(obj, "sessions", where, &r->sessions, false, path, err) &&
        get_number(obj, "mean_cost", where, &r->mean_cost, true, path, err) &&
        get_pair(obj, "mean_cost_ci", where, &r->cost_lo, &r->cost_hi, path, err) &&
        get_number(obj, "bankruptcy_rate", where, &r->bankruptcy, true, path, err) &&
        get_pair(obj, "bankruptcy_ci", where, &r->bank_lo, &r->bank_hi, path, err) &&
        get_number(obj, "mean_quality", where, &r->quality, true, path, err) &&
        get_number(obj, "mean_quality_served", where, &r->quality_served, false, path, err) &&
        get_number(obj, "mean_return", where, &r->mean_return, false, path, err) &&
        get_number(obj, "oracle_gap_closed", where, &r->gap_closed, false, path, err) &&
        get_number(obj, "cost_reduction_vs_strongest", where, &r->cost_reduction, false, path,
                   err) &&
        get_number(obj, "p_expensive_slope", where, &r->slope, false, path, err) &&
        get_number(obj, "p_expensive_intercept", where, &r->intercept, false, path, err) &&
        read_bins(r, obj, where, path, err);
    if (!ok)
        return false;
    if (!isfinite(r->budget) || r->budget < 0) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, "budget",
                     "%s.budget must be a finite number >= 0", where);
        return false;
    }
    return true;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Families in order of first appearance; budgets sorted ascending. */
static bool index_rows(sr_report_eval *ev, sr_error *err)
{
    ev->families = calloc(ev->n_rows ? ev->n_rows : 1, sizeof(*ev->families));
    if (ev->families == NULL) {
        sr_error_set(err, SR_ERR_NOMEM, ev->path, 0, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < ev->n_rows; i++) {
        row *r = &ev->rows[i];
        size_t f = 0;
        while (f < ev->n_families && strcmp(ev->families[f].name, r->name) != 0)
            f++;
        if (f == ev->n_families) {
            family *fam = &ev->families[ev->n_families++];
            snprintf(fam->name, sizeof(fam->name), "%s", r->name);
            fam->kind = strcmp(r->name, "oracle") == 0 ? FAMILY_ORACLE : FAMILY_SINGLE;
            fam->is_static = strncmp(r->name, "always", 6) == 0;
        }
        r->family = f;
        family *fam = &ev->families[f];
        if (fam->kind != FAMILY_ORACLE) {
            if (isfinite(r->lambda))
                fam->kind = FAMILY_LAMBDA;
            else if (isfinite(r->reserve) && fam->kind != FAMILY_LAMBDA)
                fam->kind = FAMILY_RESERVE;
        }

        size_t b = 0;
        while (b < ev->n_budgets && ev->budgets[b] != r->budget)
            b++;
        if (b == ev->n_budgets) {
            if (ev->n_budgets == SR_REPORT_MAX_BUDGETS) {
                sr_error_set(err, SR_ERR_INVALID, ev->path, 0, "budget",
                             "more than %d distinct budgets; a report draws one frontier per "
                             "budget, so evaluate fewer budgets",
                             SR_REPORT_MAX_BUDGETS);
                return false;
            }
            ev->budgets[ev->n_budgets++] = r->budget;
        }
        if (r->n_bins > 0)
            ev->has_bins = true;
    }
    qsort(ev->budgets, ev->n_budgets, sizeof(double), compare_doubles);
    for (size_t b = 0; b < ev->n_budgets; b++)
        ev->budget_fracs[b] = NAN;
    for (size_t i = 0; i < ev->n_rows; i++) {
        row *r = &ev->rows[i];
        size_t b = 0;
        while (ev->budgets[b] != r->budget)
            b++;
        r->budget_index = b;
        if (isfinite(r->budget_frac))
            ev->budget_fracs[b] = r->budget_frac;
    }
    return true;
}

sr_report_eval *sr_report_eval_load(const char *path, sr_error *err)
{
    size_t size = 0;
    char *text = read_whole_file(path, &size, err);
    if (text == NULL)
        return NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (root == NULL) {
        sr_error_set(err, SR_ERR_INVALID, path, jerr.line, NULL,
                     "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                     jerr.column);
        return NULL;
    }

    sr_report_eval *ev = calloc(1, sizeof(*ev));
    const size_t path_len = strlen(path) + 1;
    if (ev == NULL || (ev->path = malloc(path_len)) == NULL) {
        free(ev);
        json_decref(root);
        sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory");
        return NULL;
    }
    memcpy(ev->path, path, path_len);
    ev->root = root;
    ev->default_reserve = NAN;
    ev->c_ref = NAN;

    const json_t *rows = json_object_get(root, "rows");
    if (!json_is_object(root) || !json_is_array(rows)) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, "rows",
                     "no \"rows\" array; is this the JSON of seqroute eval --json?");
        goto fail;
    }
    if (json_array_size(rows) == 0 || json_array_size(rows) > SR_REPORT_MAX_ROWS) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, "rows",
                     "\"rows\" has %zu entries; a report needs 1..%d", json_array_size(rows),
                     SR_REPORT_MAX_ROWS);
        goto fail;
    }
    ev->rows = calloc(json_array_size(rows), sizeof(*ev->rows));
    if (ev->rows == NULL) {
        sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(rows); i++) {
        ev->n_rows = i + 1;
        if (!read_row(&ev->rows[i], json_array_get(rows, i), i, path, err))
            goto fail;
    }

    const json_t *settings = json_object_get(root, "settings");
    if (settings != NULL && !json_is_object(settings)) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, "settings", "\"settings\" must be an object");
        goto fail;
    }
    if (settings != NULL &&
        !get_number(settings, "heuristic_reserve", "settings", &ev->default_reserve, false, path,
                    err))
        goto fail;
    if (!get_number(root, "c_ref", "report", &ev->c_ref, false, path, err))
        goto fail;
    const json_t *unit = json_object_get(root, "cost_unit");
    snprintf(ev->unit, sizeof(ev->unit), "%s",
             json_is_string(unit) && json_string_length(unit) > 0 ? json_string_value(unit)
                                                                   : "cost units");
    if (!index_rows(ev, err))
        goto fail;
    return ev;

fail:
    sr_report_eval_free(ev);
    return NULL;
}

void sr_report_eval_free(sr_report_eval *ev)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < ev->n_rows; i++) {
        free(ev->rows[i].bin_x);
        free(ev->rows[i].bin_p);
        free(ev->rows[i].bin_n);
    }
    free(ev->rows);
    free(ev->families);
    json_decref(ev->root);
    free(ev->path);
    free(ev);
}

size_t sr_report_eval_budgets(const sr_report_eval *ev)
{
    return ev ? ev->n_budgets : 0;
}

double sr_report_eval_budget(const sr_report_eval *ev, size_t i)
{
    return ev && i < ev->n_budgets ? ev->budgets[i] : NAN;
}

/* ---- family helpers ---------------------------------------------------------------------- */

static double row_parameter(const sr_report_eval *ev, const row *r)
{
    const family_kind kind = ev->families[r->family].kind;
    return kind == FAMILY_LAMBDA ? r->lambda : kind == FAMILY_RESERVE ? r->reserve : NAN;
}

/* Rows of family f at budget b, sorted by the swept parameter; returns the count. */
static size_t family_rows(const sr_report_eval *ev, size_t f, size_t b, size_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->n_rows; i++)
        if (ev->rows[i].family == f && ev->rows[i].budget_index == b)
            out[n++] = i;
    /* Insertion sort: stable, and n is small (one sweep). */
    for (size_t i = 1; i < n; i++) {
        const size_t key = out[i];
        const double kv = row_parameter(ev, &ev->rows[key]);
        size_t j = i;
        while (j > 0 && row_parameter(ev, &ev->rows[out[j - 1]]) > kv) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = key;
    }
    return n;
}

/*
 * The one row that stands for family f at budget b: λ = 0 (else the
 * smallest λ), the reserve of settings.heuristic_reserve (else the
 * smallest), or the only row.  Writes which into `setting`.  -1 when none.
 */
static long representative_row(const sr_report_eval *ev, size_t f, size_t b, size_t *scratch,
                               char *setting, size_t size)
{
    const size_t n = family_rows(ev, f, b, scratch);
    setting[0] = '\0';
    if (n == 0)
        return -1;
    const family_kind kind = ev->families[f].kind;
    size_t pick = scratch[0]; /* the smallest parameter, or the first row */
    if (kind == FAMILY_LAMBDA) {
        for (size_t i = 0; i < n; i++)
            if (ev->rows[scratch[i]].lambda == 0.0)
                pick = scratch[i];
        snprintf(setting, size, "λ = %g", ev->rows[pick].lambda);
    } else if (kind == FAMILY_RESERVE) {
        for (size_t i = 0; i < n; i++)
            if (ev->rows[scratch[i]].reserve == ev->default_reserve)
                pick = scratch[i];
        snprintf(setting, size, "reserve %g", ev->rows[pick].reserve);
    }
    return (long)pick;
}

static sr_plot_marker family_marker(const sr_report_eval *ev, size_t f, size_t *single_count)
{
    static const sr_plot_marker singles[] = {
        SR_PLOT_MARKER_SQUARE, SR_PLOT_MARKER_TRIANGLE, SR_PLOT_MARKER_DIAMOND,
        SR_PLOT_MARKER_DOWN_TRIANGLE, SR_PLOT_MARKER_CROSS};
    switch (ev->families[f].kind) {
    case FAMILY_ORACLE:
        return SR_PLOT_MARKER_STAR;
    case FAMILY_LAMBDA:
    case FAMILY_RESERVE:
        return SR_PLOT_MARKER_CIRCLE;
    case FAMILY_SINGLE:
        break;
    }
    return singles[(*single_count)++ % (sizeof(singles) / sizeof(singles[0]))];
}

/*
 * Each family keeps one colour and marker across all figures.  Swept
 * families (the routers under study) take the first, strongest colours.
 */
static void family_styles(const sr_report_eval *ev, sr_plot_rgb *colors, sr_plot_marker *markers)
{
    size_t singles = 0, palette = 0;
    for (size_t f = 0; f < ev->n_families; f++)
        markers[f] = family_marker(ev, f, &singles);
    for (int pass = 0; pass < 2; pass++)
        for (size_t f = 0; f < ev->n_families; f++) {
            const family_kind kind = ev->families[f].kind;
            const bool swept = kind == FAMILY_LAMBDA || kind == FAMILY_RESERVE;
            if (kind == FAMILY_ORACLE && pass == 0)
                colors[f] = (sr_plot_rgb){0.1, 0.1, 0.1};
            else if (kind != FAMILY_ORACLE && swept == (pass == 0))
                colors[f] = sr_plot_palette(palette++);
        }
}

/* "0.0191 USD (0.3 × C_ref)" */
static void budget_text(const sr_report_eval *ev, size_t b, char *text, size_t size)
{
    if (isfinite(ev->budget_fracs[b]))
        snprintf(text, size, "%.4g %s (%g × C_ref)", ev->budgets[b], ev->unit,
                 ev->budget_fracs[b]);
    else
        snprintf(text, size, "%.4g %s", ev->budgets[b], ev->unit);
}

static bool all_fracs(const sr_report_eval *ev)
{
    for (size_t b = 0; b < ev->n_budgets; b++)
        if (!isfinite(ev->budget_fracs[b]))
            return false;
    return true;
}

static double budget_axis_value(const sr_report_eval *ev, size_t b)
{
    return all_fracs(ev) ? ev->budget_fracs[b] : ev->budgets[b];
}

static void budget_axis_label(const sr_report_eval *ev, char *text, size_t size)
{
    if (all_fracs(ev) && isfinite(ev->c_ref))
        snprintf(text, size, "starting budget per session (fraction of C_ref = %.4g %s)",
                 ev->c_ref, ev->unit);
    else if (all_fracs(ev))
        snprintf(text, size, "starting budget per session (fraction of C_ref)");
    else
        snprintf(text, size, "starting budget per session (%s)", ev->unit);
}

/* ---- figures ---------------------------------------------------------------------------- */

typedef struct point_buffers {
    double *x, *y, *lo, *hi, *fill;
} point_buffers;

static bool buffers_alloc(point_buffers *pb, size_t n)
{
    const size_t m = n ? n : 1;
    pb->x = malloc(m * sizeof(double));
    pb->y = malloc(m * sizeof(double));
    pb->lo = malloc(m * sizeof(double));
    pb->hi = malloc(m * sizeof(double));
    pb->fill = malloc(m * sizeof(double));
    return pb->x && pb->y && pb->lo && pb->hi && pb->fill;
}

static void buffers_free(point_buffers *pb)
{
    free(pb->x);
    free(pb->y);
    free(pb->lo);
    free(pb->hi);
    free(pb->fill);
}

static sr_plot_scale cost_scale(const sr_report_eval *ev, size_t b)
{
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < ev->n_rows; i++) {
        const row *r = &ev->rows[i];
        if (r->budget_index != b || !isfinite(r->mean_cost) || !isfinite(r->quality))
            continue;
        if (r->mean_cost <= 0)
            return SR_PLOT_LINEAR;
        lo = fmin(lo, r->mean_cost);
        hi = fmax(hi, r->mean_cost);
    }
    return hi / lo > LOG_COST_RATIO ? SR_PLOT_LOG : SR_PLOT_LINEAR;
}

sr_plot *sr_report_frontier_plot(const sr_report_eval *ev, size_t b, const char *unit,
                                 sr_error *err)
{
    if (ev == NULL || b >= ev->n_budgets) {
        sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "no budget %zu in the evaluation", b);
        return NULL;
    }
    sr_plot *plot = sr_plot_create(SR_REPORT_WIDTH, SR_REPORT_HEIGHT, 1, err);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    sr_plot_rgb *colors = malloc(ev->n_families * sizeof(sr_plot_rgb));
    sr_plot_marker *markers = malloc(ev->n_families * sizeof(sr_plot_marker));
    point_buffers pb = {0};
    if (plot == NULL || idx == NULL || colors == NULL || markers == NULL ||
        !buffers_alloc(&pb, ev->n_rows)) {
        if (plot != NULL)
            sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    family_styles(ev, colors, markers);

    char title[256], budget[128], label[256];
    budget_text(ev, b, budget, sizeof(budget));
    snprintf(title, sizeof(title), "Cost-quality frontier at budget %s", budget);
    snprintf(label, sizeof(label), "mean cost per session (%s)", unit);
    if (sr_plot_set_title(plot, 0, title,
                          "marker fill: bankruptcy rate; a line joins one policy's sweep "
                          "(λ or heuristic reserve) in order",
                          err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'x', label, cost_scale(ev, b), NAN, NAN, err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'y', "mean quality per turn (unserved turns count 0)",
                         SR_PLOT_LINEAR, NAN, NAN, err) != SR_OK ||
        sr_plot_set_colorbar(plot, 0, "bankruptcy rate (%)", 0, 100, SR_PLOT_RAMP_SQRT, err) !=
            SR_OK)
        goto fail;

    for (size_t f = 0; f < ev->n_families; f++) {
        const size_t n = family_rows(ev, f, b, idx);
        if (n == 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            const row *r = &ev->rows[idx[i]];
            pb.x[i] = r->mean_cost;
            pb.y[i] = r->quality;
            pb.fill[i] = 100.0 * r->bankruptcy;
        }
        const family *fam = &ev->families[f];
        char legend[ROW_NAME_MAX + 64];
        if (fam->kind == FAMILY_LAMBDA && n > 1)
            snprintf(legend, sizeof(legend), "%s (λ %g to %g)", fam->name,
                     ev->rows[idx[0]].lambda, ev->rows[idx[n - 1]].lambda);
        else if (fam->kind == FAMILY_RESERVE && n > 1)
            snprintf(legend, sizeof(legend), "%s (reserve %g to %g)", fam->name,
                     ev->rows[idx[0]].reserve, ev->rows[idx[n - 1]].reserve);
        else
            snprintf(legend, sizeof(legend), "%s", fam->name);
        const sr_plot_series s = {
            .label = legend,
            .n = n,
            .x = pb.x,
            .y = pb.y,
            .fill_value = pb.fill,
            .color = colors[f],
            .line = n > 1,
            .line_width = 1.8,
            .marker = markers[f],
            .marker_size = fam->kind == FAMILY_ORACLE ? 6.5 : 5.5,
        };
        if (sr_plot_add_series(plot, 0, &s, err) != SR_OK)
            goto fail;
    }
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    return plot;

fail:
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    sr_plot_free(plot);
    return NULL;
}

/* Bankruptcy rate against budget, one line per family, 95% intervals as bars. */
static sr_plot *bankruptcy_plot(const sr_report_eval *ev, sr_error *err)
{
    sr_plot *plot = sr_plot_create(SR_REPORT_WIDTH, SR_REPORT_HEIGHT, 1, err);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    sr_plot_rgb *colors = malloc(ev->n_families * sizeof(sr_plot_rgb));
    sr_plot_marker *markers = malloc(ev->n_families * sizeof(sr_plot_marker));
    point_buffers pb = {0};
    if (plot == NULL || idx == NULL || colors == NULL || markers == NULL ||
        !buffers_alloc(&pb, ev->n_budgets)) {
        if (plot != NULL)
            sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    family_styles(ev, colors, markers);

    char xlabel[256];
    budget_axis_label(ev, xlabel, sizeof(xlabel));
    if (sr_plot_set_title(plot, 0, "Bankruptcy rate against budget",
                          "bars: 95% Wilson interval; swept policies at λ = 0, the heuristic at "
                          "its default reserve; points nudged sideways to keep bars apart",
                          err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'x', xlabel, SR_PLOT_LINEAR, NAN, NAN, err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'y', "bankruptcy rate (% of sessions)", SR_PLOT_LINEAR, 0,
                         100, err) != SR_OK)
        goto fail;

    /* Sideways nudge: a share of the smallest gap between budgets, split among families. */
    double gap = INFINITY;
    for (size_t b = 1; b < ev->n_budgets; b++)
        gap = fmin(gap, budget_axis_value(ev, b) - budget_axis_value(ev, b - 1));
    if (!isfinite(gap) || gap <= 0)
        gap = fabs(budget_axis_value(ev, 0)) > 0 ? fabs(budget_axis_value(ev, 0)) : 1.0;
    const double nudge = 0.5 * gap / (double)(ev->n_families > 1 ? ev->n_families : 1);

    for (size_t f = 0; f < ev->n_families; f++) {
        size_t n = 0;
        char setting[64] = "";
        for (size_t b = 0; b < ev->n_budgets; b++) {
            const long r = representative_row(ev, f, b, idx, setting, sizeof(setting));
            if (r < 0)
                continue;
            const row *rw = &ev->rows[r];
            pb.x[n] = budget_axis_value(ev, b) + nudge * ((double)f - (ev->n_families - 1) / 2.0);
            pb.y[n] = 100.0 * rw->bankruptcy;
            pb.lo[n] = 100.0 * rw->bank_lo;
            pb.hi[n] = 100.0 * rw->bank_hi;
            n++;
        }
        if (n == 0)
            continue;
        char legend[ROW_NAME_MAX + 64];
        if (setting[0] != '\0')
            snprintf(legend, sizeof(legend), "%s (%s)", ev->families[f].name, setting);
        else
            snprintf(legend, sizeof(legend), "%s", ev->families[f].name);
        const sr_plot_series s = {.label = legend, .n = n, .x = pb.x, .y = pb.y,
                                  .y_lo = pb.lo, .y_hi = pb.hi, .color = colors[f],
                                  .line = n > 1, .line_width = 1.2, .marker = markers[f],
                                  .marker_size = 4.5};
        if (sr_plot_add_series(plot, 0, &s, err) != SR_OK)
            goto fail;
    }
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    return plot;

fail:
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    sr_plot_free(plot);
    return NULL;
}

/*
 * Where the fitted line of a row sits: through (0, intercept) when the JSON
 * gives one, else through the n-weighted centre of its bins.  False when
 * neither is known.
 */
static bool line_anchor(const row *r, double *x0, double *y0)
{
    if (isfinite(r->intercept)) {
        *x0 = 0;
        *y0 = r->intercept;
        return true;
    }
    double n = 0, sx = 0, sy = 0;
    for (size_t i = 0; i < r->n_bins; i++)
        if (isfinite(r->bin_x[i]) && isfinite(r->bin_p[i]) && r->bin_n[i] > 0) {
            n += r->bin_n[i];
            sx += r->bin_n[i] * r->bin_x[i];
            sy += r->bin_n[i] * r->bin_p[i];
        }
    if (n <= 0)
        return false;
    *x0 = sx / n;
    *y0 = sy / n;
    return true;
}

/* P(expensive) against b_t / B_0 at budget b: bins as markers, fitted slopes as lines. */
static sr_plot *p_expensive_plot(const sr_report_eval *ev, size_t b, sr_error *err)
{
    sr_plot *plot = sr_plot_create(SR_REPORT_WIDTH, SR_REPORT_HEIGHT, 1, err);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    sr_plot_rgb *colors = malloc(ev->n_families * sizeof(sr_plot_rgb));
    sr_plot_marker *markers = malloc(ev->n_families * sizeof(sr_plot_marker));
    size_t max_bins = 2;
    for (size_t i = 0; i < ev->n_rows; i++)
        max_bins = ev->rows[i].n_bins > max_bins ? ev->rows[i].n_bins : max_bins;
    point_buffers pb = {0};
    if (plot == NULL || idx == NULL || colors == NULL || markers == NULL ||
        !buffers_alloc(&pb, max_bins)) {
        if (plot != NULL)
            sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    family_styles(ev, colors, markers);

    char title[256], budget[128];
    budget_text(ev, b, budget, sizeof(budget));
    snprintf(title, sizeof(title), "P(most expensive model) against remaining budget, at %s",
             budget);
    if (sr_plot_set_title(plot, 0, title,
                          "markers: share of decisions per bin of b_t / B_0; lines: the fitted "
                          "slope (p_expensive_slope); λ = 0 for swept policies",
                          err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'x', "remaining budget b_t / B_0 (share of the starting budget)",
                         SR_PLOT_LINEAR, 0, 1, err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'y', "P(most expensive model requested)", SR_PLOT_LINEAR, 0, 1,
                         err) != SR_OK)
        goto fail;

    for (size_t f = 0; f < ev->n_families; f++) {
        if (ev->families[f].is_static)
            continue;
        char setting[64];
        const long ri = representative_row(ev, f, b, idx, setting, sizeof(setting));
        if (ri < 0)
            continue;
        const row *r = &ev->rows[ri];
        char legend[ROW_NAME_MAX + 96];
        if (setting[0] != '\0')
            snprintf(legend, sizeof(legend), "%s (%s), slope %.3g", r->name, setting, r->slope);
        else
            snprintf(legend, sizeof(legend), "%s, slope %.3g", r->name, r->slope);

        /* The fitted line over x in [0, 1]. */
        double x0, y0;
        const bool has_line = isfinite(r->slope) && line_anchor(r, &x0, &y0);
        if (has_line) {
            const double lx[2] = {0.0, 1.0};
            const double ly[2] = {y0 + r->slope * (0.0 - x0), y0 + r->slope * (1.0 - x0)};
            const sr_plot_series line = {.label = r->n_bins > 0 ? NULL : legend, .n = 2,
                                         .x = lx, .y = ly, .color = colors[f], .line = true,
                                         .dashed = true, .line_width = 1.6};
            if (sr_plot_add_series(plot, 0, &line, err) != SR_OK)
                goto fail;
        }
        if (r->n_bins > 0) {
            for (size_t i = 0; i < r->n_bins; i++) {
                pb.x[i] = r->bin_x[i];
                pb.y[i] = r->bin_n[i] > 0 ? r->bin_p[i] : NAN; /* an empty bin has no share */
            }
            const sr_plot_series pts = {.label = legend, .n = r->n_bins, .x = pb.x, .y = pb.y,
                                        .color = colors[f], .marker = markers[f],
                                        .marker_size = 4.5};
            if (sr_plot_add_series(plot, 0, &pts, err) != SR_OK)
                goto fail;
        }
    }
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    return plot;

fail:
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    sr_plot_free(plot);
    return NULL;
}

/* Without bins: the fitted slope of P(expensive) against the budget, per family. */
static sr_plot *slope_plot(const sr_report_eval *ev, sr_error *err)
{
    sr_plot *plot = sr_plot_create(SR_REPORT_WIDTH, SR_REPORT_HEIGHT, 1, err);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    sr_plot_rgb *colors = malloc(ev->n_families * sizeof(sr_plot_rgb));
    sr_plot_marker *markers = malloc(ev->n_families * sizeof(sr_plot_marker));
    point_buffers pb = {0};
    if (plot == NULL || idx == NULL || colors == NULL || markers == NULL ||
        !buffers_alloc(&pb, ev->n_budgets)) {
        if (plot != NULL)
            sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    family_styles(ev, colors, markers);

    char xlabel[256];
    budget_axis_label(ev, xlabel, sizeof(xlabel));
    if (sr_plot_set_title(plot, 0, "Slope of P(most expensive model) against remaining budget",
                          "OLS slope of 1[most expensive requested] on b_t / B_0 (the JSON has "
                          "no p_expensive_bins); positive: spends more while budget remains",
                          err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'x', xlabel, SR_PLOT_LINEAR, NAN, NAN, err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'y', "slope (change in P per unit of b_t / B_0)",
                         SR_PLOT_LINEAR, NAN, NAN, err) != SR_OK)
        goto fail;
    for (size_t f = 0; f < ev->n_families; f++) {
        if (ev->families[f].is_static)
            continue;
        size_t n = 0;
        char setting[64] = "";
        for (size_t b = 0; b < ev->n_budgets; b++) {
            const long r = representative_row(ev, f, b, idx, setting, sizeof(setting));
            if (r < 0)
                continue;
            pb.x[n] = budget_axis_value(ev, b);
            pb.y[n] = ev->rows[r].slope;
            n++;
        }
        if (n == 0)
            continue;
        char legend[ROW_NAME_MAX + 64];
        if (setting[0] != '\0')
            snprintf(legend, sizeof(legend), "%s (%s)", ev->families[f].name, setting);
        else
            snprintf(legend, sizeof(legend), "%s", ev->families[f].name);
        const sr_plot_series s = {.label = legend, .n = n, .x = pb.x, .y = pb.y,
                                  .color = colors[f], .line = n > 1, .line_width = 1.5,
                                  .marker = markers[f], .marker_size = 4.5};
        if (sr_plot_add_series(plot, 0, &s, err) != SR_OK)
            goto fail;
    }
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    return plot;

fail:
    buffers_free(&pb);
    free(idx);
    free(colors);
    free(markers);
    sr_plot_free(plot);
    return NULL;
}

/* ---- training curves ------------------------------------------------------------------- */

static void curve_free(curve *c)
{
    free(c->label);
    free(c->path);
    free(c->step);
    free(c->loss);
    free(c->val_return);
}

/* A cell: empty means not measured (NAN); otherwise a whole finite number. */
static bool parse_cell(const char *text, size_t len, double *value)
{
    if (len == 0) {
        *value = NAN;
        return true;
    }
    char buf[64];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    const double v = strtod(buf, &end);
    if (end == buf || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *value = v;
    return true;
}

/* The label of a curve file: its base name without ".csv" and ".curves". */
static char *curve_label(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".csv") == 0)
        n -= 4;
    if (n > 7 && strncmp(base + n - 7, ".curves", 7) == 0)
        n -= 7;
    char *label = malloc(n + 1);
    if (label != NULL) {
        memcpy(label, base, n);
        label[n] = '\0';
    }
    return label;
}

static bool load_curve(const char *path, curve *c, sr_error *err)
{
    static const char *const required[] = {"step", "loss", "val_return"};
    size_t size = 0;
    char *text = read_whole_file(path, &size, err);
    if (text == NULL)
        return false;
    const size_t path_len = strlen(path) + 1;
    c->path = malloc(path_len);
    c->label = curve_label(path);
    size_t capacity = 256;
    c->step = malloc(capacity * sizeof(double));
    c->loss = malloc(capacity * sizeof(double));
    c->val_return = malloc(capacity * sizeof(double));
    if (c->path == NULL || c->label == NULL || c->step == NULL || c->loss == NULL ||
        c->val_return == NULL) {
        free(text);
        sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory");
        return false;
    }
    memcpy(c->path, path, path_len);

    int column[3] = {-1, -1, -1}; /* the header position of each required column */
    int n_columns = 0;
    long line_no = 0;
    bool ok = true;
    char *line = text;
    while (ok && *line != '\0') {
        char *next = strchr(line, '\n');
        size_t len = next ? (size_t)(next - line) : strlen(line);
        line_no++;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len == 0 && next == NULL)
            break;

        /* Split the line into cells. */
        int cell = 0;
        size_t start = 0;
        double values[3] = {NAN, NAN, NAN};
        for (size_t i = 0; i <= len && ok; i++) {
            if (i < len && line[i] != ',')
                continue;
            const char *cell_text = line + start;
            const size_t cell_len = i - start;
            if (line_no == 1) {
                for (int k = 0; k < 3; k++)
                    if (strlen(required[k]) == cell_len &&
                        memcmp(required[k], cell_text, cell_len) == 0)
                        column[k] = cell;
            } else {
                for (int k = 0; k < 3; k++)
                    if (column[k] == cell && !parse_cell(cell_text, cell_len, &values[k])) {
                        sr_error_set(err, SR_ERR_INVALID, path, line_no, required[k],
                                     "column %s: '%.*s' is not a number (leave the cell empty "
                                     "when it was not measured)",
                                     required[k], (int)(cell_len > 40 ? 40 : cell_len),
                                     cell_text);
                        ok = false;
                    }
            }
            cell++;
            start = i + 1;
        }
        if (!ok)
            break;
        if (line_no == 1) {
            n_columns = cell;
            for (int k = 0; k < 3; k++)
                if (column[k] < 0) {
                    sr_error_set(err, SR_ERR_INVALID, path, 1, required[k],
                                 "the header has no '%s' column; expected the CSV of seqroute "
                                 "train --curves",
                                 required[k]);
                    ok = false;
                    break;
                }
        } else if (cell != n_columns) {
            sr_error_set(err, SR_ERR_INVALID, path, line_no, NULL,
                         "%d cells where the header has %d", cell, n_columns);
            ok = false;
        } else if (!isfinite(values[0])) {
            sr_error_set(err, SR_ERR_INVALID, path, line_no, "step",
                         "every row needs its step");
            ok = false;
        } else {
            if (c->n == SR_REPORT_MAX_CURVE_ROWS) {
                sr_error_set(err, SR_ERR_NOMEM, path, line_no, NULL,
                             "more than %d rows, the most a report reads",
                             SR_REPORT_MAX_CURVE_ROWS);
                ok = false;
                break;
            }
            if (c->n == capacity) {
                capacity *= 2;
                double *s = realloc(c->step, capacity * sizeof(double));
                if (s != NULL)
                    c->step = s;
                double *l = realloc(c->loss, capacity * sizeof(double));
                if (l != NULL)
                    c->loss = l;
                double *v = realloc(c->val_return, capacity * sizeof(double));
                if (v != NULL)
                    c->val_return = v;
                if (s == NULL || l == NULL || v == NULL) {
                    sr_error_set(err, SR_ERR_NOMEM, path, line_no, NULL, "out of memory");
                    ok = false;
                    break;
                }
            }
            c->step[c->n] = values[0];
            c->loss[c->n] = values[1];
            c->val_return[c->n] = values[2];
            c->n++;
        }
        line = next ? next + 1 : line + len;
    }
    if (ok && line_no == 0) {
        sr_error_set(err, SR_ERR_INVALID, path, 0, NULL, "empty file; expected a CSV header");
        ok = false;
    }
    free(text);
    return ok;
}

/* Keeps the measured points of one column (skipping empty cells) into x, y. */
static size_t measured(const curve *c, const double *column, double *x, double *y)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (isfinite(column[i])) {
            x[n] = c->step[i];
            y[n] = column[i];
            n++;
        }
    return n;
}

static sr_plot *curves_plot(const curve *curves, size_t n_curves, sr_error *err)
{
    sr_plot *plot = sr_plot_create(SR_REPORT_WIDTH, SR_REPORT_CURVES_HEIGHT, 2, err);
    size_t longest = 1;
    bool positive = true;
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < n_curves; i++) {
        longest = curves[i].n > longest ? curves[i].n : longest;
        for (size_t j = 0; j < curves[i].n; j++)
            if (isfinite(curves[i].loss[j])) {
                positive = positive && curves[i].loss[j] > 0;
                lo = fmin(lo, curves[i].loss[j]);
                hi = fmax(hi, curves[i].loss[j]);
            }
    }
    const sr_plot_scale loss_scale =
        positive && hi > 0 && hi / lo > LOG_LOSS_RATIO ? SR_PLOT_LOG : SR_PLOT_LINEAR;
    double *x = malloc(longest * sizeof(double)), *y = malloc(longest * sizeof(double));
    if (plot == NULL || x == NULL || y == NULL) {
        if (plot != NULL)
            sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    if (sr_plot_set_title(plot, 0, "Training loss",
                          "the training objective at each report of seqroute train --curves",
                          err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'x', "gradient step", SR_PLOT_LINEAR, NAN, NAN, err) != SR_OK ||
        sr_plot_set_axis(plot, 0, 'y',
                         loss_scale == SR_PLOT_LOG ? "loss (log scale)" : "loss", loss_scale,
                         NAN, NAN, err) != SR_OK ||
        sr_plot_set_title(plot, 1, "Validation return",
                          "mean undiscounted return per validation session (quality, minus eta "
                          "at bankruptcy)",
                          err) != SR_OK ||
        sr_plot_set_axis(plot, 1, 'x', "gradient step", SR_PLOT_LINEAR, NAN, NAN, err) != SR_OK ||
        sr_plot_set_axis(plot, 1, 'y', "mean return per session (quality units)", SR_PLOT_LINEAR,
                         NAN, NAN, err) != SR_OK)
        goto fail;
    for (size_t i = 0; i < n_curves; i++) {
        for (int panel = 0; panel < 2; panel++) {
            const size_t n =
                measured(&curves[i], panel == 0 ? curves[i].loss : curves[i].val_return, x, y);
            const sr_plot_series s = {.label = curves[i].label, .n = n, .x = x, .y = y,
                                      .color = sr_plot_palette(i), .line = true,
                                      .line_width = 1.6,
                                      .marker = n <= 40 ? SR_PLOT_MARKER_CIRCLE
                                                        : SR_PLOT_MARKER_NONE,
                                      .marker_size = 3};
            if (sr_plot_add_series(plot, panel, &s, err) != SR_OK)
                goto fail;
        }
    }
    free(x);
    free(y);
    return plot;

fail:
    free(x);
    free(y);
    sr_plot_free(plot);
    return NULL;
}

/* ---- output files --------------------------------------------------------------------- */

typedef struct writer {
    const char *dir;
    sr_report_summary *summary;
    sr_error *err;
    /* The figures written, in order, for the HTML page. */
    char names[SR_REPORT_MAX_BUDGETS * 2 + 4][64];
    char captions[SR_REPORT_MAX_BUDGETS * 2 + 4][320];
    size_t n_figures;
} writer;

static void join_path(const writer *w, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", w->dir, name);
}

static FILE *open_output(writer *w, const char *name)
{
    char path[4096];
    join_path(w, name, path, sizeof(path));
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        sr_error_set(w->err, SR_ERR_IO, path, 0, NULL, "cannot open for writing: %s",
                     strerror(errno));
    return f;
}

static sr_status close_output(writer *w, FILE *f, const char *name)
{
    char path[4096];
    join_path(w, name, path, sizeof(path));
    const bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed)
        return sr_error_set(w->err, SR_ERR_IO, path, 0, NULL, "failed to write");
    w->summary->files++;
    return SR_OK;
}

/* Writes NAME.png and NAME.svg and records the figure for the page; frees the plot. */
static sr_status write_figure(writer *w, sr_plot *plot, const char *name, const char *caption)
{
    if (plot == NULL)
        return w->err->status != SR_OK ? w->err->status : SR_ERR_INTERNAL;
    char file[128], path[4096];
    snprintf(file, sizeof(file), "%s.png", name);
    join_path(w, file, path, sizeof(path));
    sr_status status = sr_plot_write_png(plot, path, w->err);
    if (status == SR_OK) {
        snprintf(file, sizeof(file), "%s.svg", name);
        join_path(w, file, path, sizeof(path));
        status = sr_plot_write_svg(plot, path, w->err);
    }
    sr_plot_free(plot);
    if (status != SR_OK)
        return status;
    w->summary->files += 2;
    w->summary->plots++;
    snprintf(w->names[w->n_figures], sizeof(w->names[0]), "%s", name);
    snprintf(w->captions[w->n_figures], sizeof(w->captions[0]), "%s", caption);
    w->n_figures++;
    return SR_OK;
}

/* A CSV number: empty for NAN, else 17 significant digits (reads back exactly). */
static void csv_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
}

/* A CSV text cell, quoted when it holds a comma, quote or line break. */
static void csv_text(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_row_head(FILE *f, const sr_report_eval *ev, const row *r)
{
    csv_text(f, r->name);
    fputc(',', f);
    const family_kind kind = ev->families[r->family].kind;
    fputs(kind == FAMILY_LAMBDA ? "lambda" : kind == FAMILY_RESERVE ? "reserve" : "", f);
    fputc(',', f);
    csv_number(f, row_parameter(ev, r));
    fputc(',', f);
    csv_number(f, r->budget);
    fputc(',', f);
    csv_number(f, r->budget_frac);
}

static sr_status write_frontier_csv(writer *w, const sr_report_eval *ev, size_t b,
                                    const char *name)
{
    FILE *f = open_output(w, name);
    if (f == NULL)
        return w->err->status;
    fputs("policy,parameter,value,budget,budget_frac,mean_cost,mean_cost_lo,mean_cost_hi,"
          "mean_quality,bankruptcy_rate_pct,bankruptcy_lo_pct,bankruptcy_hi_pct\n",
          f);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    if (idx == NULL) {
        fclose(f);
        return sr_error_set(w->err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    for (size_t fam = 0; fam < ev->n_families; fam++) {
        const size_t n = family_rows(ev, fam, b, idx);
        for (size_t i = 0; i < n; i++) {
            const row *r = &ev->rows[idx[i]];
            csv_row_head(f, ev, r);
            const double values[] = {r->mean_cost,        r->cost_lo,        r->cost_hi,
                                     r->quality,          100 * r->bankruptcy,
                                     100 * r->bank_lo,    100 * r->bank_hi};
            for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
                fputc(',', f);
                csv_number(f, values[k]);
            }
            fputc('\n', f);
        }
    }
    free(idx);
    return close_output(w, f, name);
}

/* One row per family and budget: the representative row's given columns. */
static sr_status write_per_budget_csv(writer *w, const sr_report_eval *ev, const char *name,
                                      bool slopes)
{
    FILE *f = open_output(w, name);
    if (f == NULL)
        return w->err->status;
    fputs(slopes ? "policy,parameter,value,budget,budget_frac,p_expensive_slope,"
                   "p_expensive_intercept\n"
                 : "policy,parameter,value,budget,budget_frac,bankruptcy_rate_pct,"
                   "bankruptcy_lo_pct,bankruptcy_hi_pct\n",
          f);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    if (idx == NULL) {
        fclose(f);
        return sr_error_set(w->err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    for (size_t fam = 0; fam < ev->n_families; fam++) {
        if (slopes && ev->families[fam].is_static)
            continue;
        for (size_t b = 0; b < ev->n_budgets; b++) {
            char setting[64];
            const long ri = representative_row(ev, fam, b, idx, setting, sizeof(setting));
            if (ri < 0)
                continue;
            const row *r = &ev->rows[ri];
            csv_row_head(f, ev, r);
            const double a[] = {r->slope, r->intercept};
            const double c[] = {100 * r->bankruptcy, 100 * r->bank_lo, 100 * r->bank_hi};
            const double *values = slopes ? a : c;
            const size_t n = slopes ? 2 : 3;
            for (size_t k = 0; k < n; k++) {
                fputc(',', f);
                csv_number(f, values[k]);
            }
            fputc('\n', f);
        }
    }
    free(idx);
    return close_output(w, f, name);
}

static sr_status write_bins_csv(writer *w, const sr_report_eval *ev, size_t b, const char *name)
{
    FILE *f = open_output(w, name);
    if (f == NULL)
        return w->err->status;
    fputs("policy,parameter,value,budget,budget_frac,budget_frac_mid,p,n,p_expensive_slope\n",
          f);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    if (idx == NULL) {
        fclose(f);
        return sr_error_set(w->err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    for (size_t fam = 0; fam < ev->n_families; fam++) {
        if (ev->families[fam].is_static)
            continue;
        char setting[64];
        const long ri = representative_row(ev, fam, b, idx, setting, sizeof(setting));
        if (ri < 0)
            continue;
        const row *r = &ev->rows[ri];
        for (size_t i = 0; i < r->n_bins; i++) {
            csv_row_head(f, ev, r);
            const double values[] = {r->bin_x[i], r->bin_p[i], r->bin_n[i], r->slope};
            for (size_t k = 0; k < 4; k++) {
                fputc(',', f);
                csv_number(f, values[k]);
            }
            fputc('\n', f);
        }
    }
    free(idx);
    return close_output(w, f, name);
}

static sr_status write_curves_csv(writer *w, const curve *curves, size_t n, const char *name)
{
    FILE *f = open_output(w, name);
    if (f == NULL)
        return w->err->status;
    fputs("run,step,loss,val_return\n", f);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < curves[i].n; j++) {
            csv_text(f, curves[i].label);
            fputc(',', f);
            csv_number(f, curves[i].step[j]);
            fputc(',', f);
            csv_number(f, curves[i].loss[j]);
            fputc(',', f);
            csv_number(f, curves[i].val_return[j]);
            fputc('\n', f);
        }
    return close_output(w, f, name);
}

/* ---- HTML ------------------------------------------------------------------------------- */

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A number with a literal printf format, or an en dash when undefined. */
#define HTML_NUMBER(f, v, format)                                                              \
    do {                                                                                       \
        const double v_ = (v);                                                                 \
        if (isfinite(v_))                                                                      \
            fprintf((f), format, v_);                                                          \
        else                                                                                   \
            fputs("–", (f));                                                                   \
    } while (0)

/* A JSON value as table text: strings as they are, the rest compact JSON. */
static void html_json(FILE *f, const json_t *v)
{
    if (json_is_string(v)) {
        html_text(f, json_string_value(v));
        return;
    }
    if (json_is_real(v)) {
        fprintf(f, "%.6g", json_real_value(v));
        return;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    html_text(f, text ? text : "?");
    free(text);
}

static bool write_base64_file(FILE *out, const char *path)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        return false;
    unsigned char b[3];
    size_t n;
    while ((n = fread(b, 1, 3, in)) > 0) {
        const unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) |
                           (n > 2 ? b[2] : 0);
        fputc(digits[v >> 18 & 63], out);
        fputc(digits[v >> 12 & 63], out);
        fputc(n > 1 ? digits[v >> 6 & 63] : '=', out);
        fputc(n > 2 ? digits[v & 63] : '=', out);
    }
    const bool ok = !ferror(in);
    fclose(in);
    return ok;
}

static const char HTML_STYLE[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;"
    "color:#222;line-height:1.4}\n"
    "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\n"
    "table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.85em}\n"
    "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}\n"
    "th{background:#f2f2f2}td.name,th.name{text-align:left}\n"
    "tr.oracle td{color:#666;font-style:italic}\n"
    "figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #ddd}\n"
    "figcaption{font-size:0.9em;color:#444}code{background:#f4f4f4;padding:0 3px}\n";

static void html_eval_table(FILE *f, const sr_report_eval *ev, size_t b)
{
    char budget[128];
    budget_text(ev, b, budget, sizeof(budget));
    fputs("<h3>Budget ", f);
    html_text(f, budget);
    fputs("</h3>\n<table>\n<tr><th class=\"name\">policy</th><th>setting</th>"
          "<th>mean cost</th><th>95% CI</th><th>bankrupt %</th><th>95% CI</th>"
          "<th>quality</th><th>quality (served)</th><th>return</th><th>gap closed</th>"
          "<th>cost cut vs strongest</th><th>P(exp.) slope</th></tr>\n",
          f);
    size_t *idx = malloc(ev->n_rows * sizeof(size_t));
    if (idx == NULL)
        return;
    for (size_t fam = 0; fam < ev->n_families; fam++) {
        const size_t n = family_rows(ev, fam, b, idx);
        for (size_t i = 0; i < n; i++) {
            const row *r = &ev->rows[idx[i]];
            fputs(ev->families[fam].kind == FAMILY_ORACLE ? "<tr class=\"oracle\">" : "<tr>", f);
            fputs("<td class=\"name\">", f);
            html_text(f, r->name);
            fputs("</td><td>", f);
            if (isfinite(r->lambda))
                fprintf(f, "λ = %g", r->lambda);
            else if (isfinite(r->reserve))
                fprintf(f, "reserve %g", r->reserve);
            fputs("</td><td>", f);
            HTML_NUMBER(f, r->mean_cost, "%.4g");
            fputs("</td><td>", f);
            HTML_NUMBER(f, r->cost_lo, "[%.4g, ");
            HTML_NUMBER(f, r->cost_hi, "%.4g]");
            fputs("</td><td>", f);
            HTML_NUMBER(f, 100 * r->bankruptcy, "%.1f");
            fputs("</td><td>", f);
            HTML_NUMBER(f, 100 * r->bank_lo, "[%.1f, ");
            HTML_NUMBER(f, 100 * r->bank_hi, "%.1f]");
            fputs("</td><td>", f);
            HTML_NUMBER(f, r->quality, "%.4f");
            fputs("</td><td>", f);
            HTML_NUMBER(f, r->quality_served, "%.4f");
            fputs("</td><td>", f);
            HTML_NUMBER(f, r->mean_return, "%.3f");
            fputs("</td><td>", f);
            HTML_NUMBER(f, r->gap_closed, "%.3f");
            fputs("</td><td>", f);
            HTML_NUMBER(f, 100 * r->cost_reduction, "%.1f%%");
            fputs("</td><td>", f);
            HTML_NUMBER(f, r->slope, "%.3f");
            fputs("</td></tr>\n", f);
        }
    }
    free(idx);
    fputs("</table>\n", f);
}

/* The "aiq" object: one row per budget, one column per family. */
static void html_aiq(FILE *f, const json_t *aiq)
{
    const json_t *budgets = json_object_get(aiq, "budgets");
    fputs("<h2>Area under the frontier (AIQ)</h2>\n<p>Normalised area under the non-decreasing "
          "convex hull of each policy's (mean cost, mean quality) points, over a cost range "
          "shared by all policies at the budget",
          f);
    const json_t *anchor = json_object_get(aiq, "anchor");
    if (json_is_string(anchor)) {
        fputs(", anchored at <code>", f);
        html_text(f, json_string_value(anchor));
        fputs("</code>", f);
    }
    fputs(" (docs/EVALUATION.md).</p>\n", f);
    if (!json_is_array(budgets) || json_array_size(budgets) == 0) {
        fputs("<pre>", f);
        html_json(f, aiq);
        fputs("</pre>\n", f);
        return;
    }
    const json_t *first_values = json_object_get(json_array_get(budgets, 0), "values");
    fputs("<table>\n<tr><th>budget</th><th>budget frac</th><th>cost range</th>", f);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)first_values, key, value)
    {
        fputs("<th>", f);
        html_text(f, key);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    size_t i;
    const json_t *entry;
    json_array_foreach(budgets, i, entry)
    {
        fputs("<tr><td>", f);
        html_json(f, json_object_get(entry, "budget"));
        fputs("</td><td>", f);
        const json_t *frac = json_object_get(entry, "budget_frac");
        if (frac != NULL)
            html_json(f, frac);
        fputs("</td><td>", f);
        const json_t *range = json_object_get(entry, "cost_range");
        if (range != NULL)
            html_json(f, range);
        fputs("</td>", f);
        const json_t *values = json_object_get(entry, "values");
        json_object_foreach((json_t *)first_values, key, value)
        {
            const json_t *v = json_object_get(values, key);
            fputs("<td>", f);
            if (json_is_number(v))
                fprintf(f, "%.4f", json_number_value(v));
            else
                fputs("–", f);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void html_point(FILE *f, const json_t *p)
{
    const json_t *lambda = json_object_get(p, "lambda");
    const json_t *reserve = json_object_get(p, "reserve");
    fputs("<td>", f);
    if (json_is_number(lambda))
        fprintf(f, "λ = %g", json_number_value(lambda));
    else if (json_is_number(reserve))
        fprintf(f, "reserve %g", json_number_value(reserve));
    fputs("</td>", f);
    static const char *const keys[] = {"mean_cost", "mean_quality", "bankruptcy_rate"};
    for (int k = 0; k < 3; k++) {
        const json_t *v = json_object_get(p, keys[k]);
        fputs("<td>", f);
        if (json_is_number(v))
            fprintf(f, k == 2 ? "%.1f" : "%.4g", json_number_value(v) * (k == 2 ? 100 : 1));
        else
            fputs("–", f);
        fputs("</td>", f);
    }
}

static void html_dominance(FILE *f, const json_t *dominance)
{
    fputs("<h2>Dominance</h2>\n<p>For each baseline point, the cheapest SeqRoute configuration "
          "at the same budget with at least its mean quality and at most its bankruptcy rate, "
          "if any.</p>\n",
          f);
    if (!json_is_array(dominance)) {
        fputs("<pre>", f);
        html_json(f, dominance);
        fputs("</pre>\n", f);
        return;
    }
    fputs("<table>\n<tr><th>budget</th><th class=\"name\">baseline</th><th>setting</th>"
          "<th>cost</th><th>quality</th><th>bankrupt %</th><th class=\"name\">SeqRoute</th>"
          "<th>setting</th><th>cost</th><th>quality</th><th>bankrupt %</th><th>cost ratio</th>"
          "</tr>\n",
          f);
    size_t i;
    const json_t *entry;
    json_array_foreach(dominance, i, entry)
    {
        const json_t *baseline = json_object_get(entry, "baseline");
        const json_t *match = json_object_get(entry, "match");
        fputs("<tr><td>", f);
        html_json(f, json_object_get(entry, "budget"));
        fputs("</td><td class=\"name\">", f);
        const json_t *name = json_object_get(baseline, "name");
        if (name != NULL)
            html_json(f, name);
        fputs("</td>", f);
        html_point(f, baseline);
        fputs("<td class=\"name\">", f);
        const json_t *seq = json_object_get(entry, "seqroute");
        if (seq != NULL)
            html_json(f, seq);
        fputs("</td>", f);
        if (json_is_object(match)) {
            html_point(f, match);
            fputs("<td>", f);
            const json_t *ratio = json_object_get(match, "cost_ratio");
            if (json_is_number(ratio))
                fprintf(f, "%.3f", json_number_value(ratio));
            else
                fputs("–", f);
            fputs("</td>", f);
        } else {
            fputs("<td colspan=\"5\">none qualifies</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static sr_status write_html(writer *w, const sr_report_eval *ev, const curve *curves,
                            size_t n_curves, bool embed)
{
    FILE *f = open_output(w, "index.html");
    if (f == NULL)
        return w->err->status;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>seqroute report</title>\n<style>\n",
          f);
    fputs(HTML_STYLE, f);
    fputs("</style>\n</head>\n<body>\n<h1>seqroute report</h1>\n<table>\n", f);

    /* The run: top-level scalars and the settings. */
    fputs("<tr><th class=\"name\">evaluation file</th><td class=\"name\">", f);
    html_text(f, ev->path);
    fputs("</td></tr>\n<tr><th class=\"name\">cost unit</th><td class=\"name\">", f);
    html_text(f, ev->unit);
    fputs("</td></tr>\n", f);
    const char *key;
    const json_t *value;
    json_object_foreach(ev->root, key, value)
    {
        if (json_is_object(value) || json_is_array(value))
            continue;
        fputs("<tr><th class=\"name\">", f);
        html_text(f, key);
        fputs("</th><td class=\"name\">", f);
        html_json(f, value);
        fputs("</td></tr>\n", f);
    }
    const json_t *settings = json_object_get(ev->root, "settings");
    json_object_foreach((json_t *)settings, key, value)
    {
        fputs("<tr><th class=\"name\">settings.", f);
        html_text(f, key);
        fputs("</th><td class=\"name\">", f);
        html_json(f, value);
        fputs("</td></tr>\n", f);
    }
    for (size_t i = 0; i < n_curves; i++) {
        fputs("<tr><th class=\"name\">training curves</th><td class=\"name\">", f);
        html_text(f, curves[i].path);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);

    /* Plots. */
    fputs("<h2>Plots</h2>\n", f);
    for (size_t i = 0; i < w->n_figures; i++) {
        fputs("<figure>\n", f);
        if (embed) {
            char file[128], path[4096];
            snprintf(file, sizeof(file), "%s.png", w->names[i]);
            join_path(w, file, path, sizeof(path));
            fputs("<img src=\"data:image/png;base64,", f);
            if (!write_base64_file(f, path)) {
                fclose(f);
                return sr_error_set(w->err, SR_ERR_IO, path, 0, NULL,
                                    "cannot read back the plot to embed it");
            }
            fprintf(f, "\" alt=\"%s\">\n", w->names[i]);
        } else {
            fprintf(f, "<img src=\"%s.png\" alt=\"%s\">\n", w->names[i], w->names[i]);
        }
        fputs("<figcaption>", f);
        html_text(f, w->captions[i]);
        fprintf(f, " <a href=\"%s.png\">PNG</a> <a href=\"%s.svg\">SVG</a> "
                   "<a href=\"%s.csv\">CSV</a></figcaption>\n</figure>\n",
                w->names[i], w->names[i], w->names[i]);
    }

    /* Tables. */
    fputs("<h2>Evaluation</h2>\n<p>Mean cost per session in ", f);
    html_text(f, ev->unit);
    fputs("; quality is the mean per turn with unserved turns counted 0; return is the mean "
          "undiscounted return per session; gap closed is the share of the oracle's quality "
          "gain over always-cheapest; – marks an undefined value.</p>\n",
          f);
    for (size_t b = 0; b < ev->n_budgets; b++)
        html_eval_table(f, ev, b);
    const json_t *aiq = json_object_get(ev->root, "aiq");
    if (aiq != NULL && !json_is_null(aiq))
        html_aiq(f, aiq);
    const json_t *dominance = json_object_get(ev->root, "dominance");
    if (dominance != NULL && !json_is_null(dominance))
        html_dominance(f, dominance);
    fputs("<p>Written by <code>seqroute report</code>; docs/REPORT.md describes every "
          "file.</p>\n</body>\n</html>\n",
          f);
    return close_output(w, f, "index.html");
}

/* ---- the whole report ---------------------------------------------------------------------- */

static sr_status make_dir(const char *dir, sr_error *err)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return sr_error_set(err, SR_ERR_INVALID, dir, 0, NULL,
                                "exists and is not a folder; choose another --out");
        return SR_OK;
    }
    if (mkdir(dir, 0777) != 0)
        return sr_error_set(err, SR_ERR_IO, dir, 0, NULL, "cannot create the folder: %s",
                            strerror(errno));
    return SR_OK;
}

static size_t count_skipped(const sr_report_eval *ev)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->n_rows; i++) {
        const row *r = &ev->rows[i];
        n += !isfinite(r->mean_cost) || !isfinite(r->quality) || !isfinite(r->bankruptcy);
    }
    return n;
}

sr_status sr_report_write(const sr_report_options *opt, sr_report_summary *summary,
                          sr_error *err)
{
    sr_report_summary local;
    sr_error local_err;
    if (err == NULL)
        err = &local_err;
    if (summary == NULL)
        summary = &local;
    memset(summary, 0, sizeof(*summary));
    if (opt == NULL || opt->eval_path == NULL || opt->out_dir == NULL ||
        (opt->n_curves > 0 && opt->curve_paths == NULL))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "a report needs an evaluation file and an output folder");
    if (opt->n_curves > SR_REPORT_MAX_CURVES)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "curves",
                            "%zu curve files; a report draws at most %d", opt->n_curves,
                            SR_REPORT_MAX_CURVES);

    /* Read and check every input before writing anything. */
    sr_status status = SR_OK;
    curve *curves = calloc(opt->n_curves ? opt->n_curves : 1, sizeof(*curves));
    sr_report_eval *ev = sr_report_eval_load(opt->eval_path, err);
    if (ev == NULL || curves == NULL) {
        status = ev == NULL ? err->status
                            : sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        goto out;
    }
    if (opt->cost_unit != NULL)
        snprintf(ev->unit, sizeof(ev->unit), "%s", opt->cost_unit);
    for (size_t i = 0; i < opt->n_curves; i++)
        if (!load_curve(opt->curve_paths[i], &curves[i], err)) {
            status = err->status;
            goto out;
        }
    summary->skipped_points = count_skipped(ev);
    if (summary->skipped_points > 0)
        sr_log(SR_LOG_WARN,
               "report: %zu rows of %s have a null cost, quality or bankruptcy rate and are "
               "left out of the plots",
               summary->skipped_points, opt->eval_path);

    status = make_dir(opt->out_dir, err);
    if (status != SR_OK)
        goto out;
    writer w = {.dir = opt->out_dir, .summary = summary, .err = err};

    /* Frontiers, one per budget. */
    for (size_t b = 0; b < ev->n_budgets && status == SR_OK; b++) {
        char name[64], csv[80], caption[320], budget[128];
        snprintf(name, sizeof(name), "frontier_budget%zu", b + 1);
        snprintf(csv, sizeof(csv), "%s.csv", name);
        budget_text(ev, b, budget, sizeof(budget));
        snprintf(caption, sizeof(caption),
                 "Mean quality per turn against mean cost per session at budget %s; marker "
                 "fill shows the bankruptcy rate.",
                 budget);
        status = write_figure(&w, sr_report_frontier_plot(ev, b, ev->unit, err), name, caption);
        if (status == SR_OK)
            status = write_frontier_csv(&w, ev, b, csv);
    }

    /* Bankruptcy against budget. */
    if (status == SR_OK)
        status = write_figure(&w, bankruptcy_plot(ev, err), "bankruptcy",
                              "Bankruptcy rate against budget with 95% Wilson intervals; swept "
                              "policies at λ = 0, the heuristic at its default reserve.");
    if (status == SR_OK)
        status = write_per_budget_csv(&w, ev, "bankruptcy.csv", false);

    /* P(expensive): binned per budget, or the slopes. */
    summary->binned_p_expensive = ev->has_bins;
    if (ev->has_bins) {
        for (size_t b = 0; b < ev->n_budgets && status == SR_OK; b++) {
            char name[64], csv[80], caption[320], budget[128];
            snprintf(name, sizeof(name), "p_expensive_budget%zu", b + 1);
            snprintf(csv, sizeof(csv), "%s.csv", name);
            budget_text(ev, b, budget, sizeof(budget));
            snprintf(caption, sizeof(caption),
                     "Probability of requesting the most expensive model against the remaining "
                     "budget at %s, with the fitted slope.",
                     budget);
            status = write_figure(&w, p_expensive_plot(ev, b, err), name, caption);
            if (status == SR_OK)
                status = write_bins_csv(&w, ev, b, csv);
        }
    } else {
        if (status == SR_OK)
            status = write_figure(&w, slope_plot(ev, err), "p_expensive_slope",
                                  "Slope of P(most expensive model) against the remaining "
                                  "budget share, per policy and budget.");
        if (status == SR_OK)
            status = write_per_budget_csv(&w, ev, "p_expensive_slope.csv", true);
    }

    /* Training curves. */
    if (status == SR_OK && opt->n_curves > 0) {
        status = write_figure(&w, curves_plot(curves, opt->n_curves, err), "training_curves",
                              "Training loss and validation return against the gradient step.");
        if (status == SR_OK)
            status = write_curves_csv(&w, curves, opt->n_curves, "training_curves.csv");
    }

    if (status == SR_OK)
        status = write_html(&w, ev, curves, opt->n_curves, opt->embed_images);

out:
    if (curves != NULL)
        for (size_t i = 0; i < opt->n_curves; i++)
            curve_free(&curves[i]);
    free(curves);
    sr_report_eval_free(ev);
    return status;
}
