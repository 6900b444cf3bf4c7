/*
 * calibrate.c - λ calibration by scan and bisection, the calibration file,
 * and the drift check (docs/CALIBRATION.md).
 *
 * The search, with "met" meaning realised value ≤ target:
 *   1. Probe lo.  When it is met, the result is lo: no larger λ is needed.
 *   2. Probe hi.  While it is not met and expansion is allowed, the old hi
 *      becomes the lower bracket and hi grows fourfold.  Still not met:
 *      unreachable, and the result is the probe with the lowest value.
 *   3. Probe SR_CALIBRATE_SCAN_POINTS evenly spaced interior points of the
 *      last bracket.  Without this, a bump in a non-monotone metric at the
 *      first midpoint would send the bisection past an earlier crossing.
 *   4. Bracket: f = the smallest met probe, b = the largest probe below f
 *      (missed, since f is the smallest met).  Bisect [b, f], keeping that
 *      invariant, until f - b ≤ λ tolerance, f's value is within a positive
 *      value tolerance of the target, or max_iter steps ran.
 * The result is f: the smallest met probe, with b a missed probe at most
 * the λ tolerance below it when the bracket closed.
 */
#include "seqroute/calibrate.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sr_calibrate_options_default(sr_calibrate_options *options)
{
    memset(options, 0, sizeof(*options));
    options->target = SR_CALIBRATE_SPEND;
    options->share_model = -1;
    options->lambda_tolerance = SR_CALIBRATE_DEFAULT_LAMBDA_TOLERANCE;
    options->lo = SR_CALIBRATE_DEFAULT_LO;
    options->hi = SR_CALIBRATE_DEFAULT_HI;
    options->expand_hi = true;
    options->max_iter = SR_CALIBRATE_DEFAULT_MAX_ITER;
}

double sr_calibrate_value(sr_calibrate_target target, int share_model,
                          const sr_eval_metrics *metrics)
{
    switch (target) {
    case SR_CALIBRATE_SPEND:
        return metrics->mean_cost;
    case SR_CALIBRATE_BANKRUPTCY:
        return metrics->bankruptcy_rate;
    case SR_CALIBRATE_SHARE:
        if (share_model < 0 || share_model >= metrics->n_models)
            return NAN;
        return metrics->model_share[share_model];
    }
    return NAN;
}

const char *sr_calibrate_target_name(sr_calibrate_target target)
{
    switch (target) {
    case SR_CALIBRATE_SPEND:
        return "spend";
    case SR_CALIBRATE_BANKRUPTCY:
        return "bankruptcy";
    case SR_CALIBRATE_SHARE:
        return "share";
    }
    return "unknown";
}

bool sr_calibrate_target_parse(const char *text, sr_calibrate_target *target)
{
    static const sr_calibrate_target all[] = {SR_CALIBRATE_SPEND, SR_CALIBRATE_BANKRUPTCY,
                                              SR_CALIBRATE_SHARE};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(text, sr_calibrate_target_name(all[i])) == 0) {
            *target = all[i];
            return true;
        }
    return false;
}

const char *sr_calibrate_status_name(sr_calibrate_status status)
{
    switch (status) {
    case SR_CALIBRATE_FOUND:
        return "found";
    case SR_CALIBRATE_MET_AT_LO:
        return "met_at_lo";
    case SR_CALIBRATE_UNREACHABLE:
        return "unreachable";
    }
    return "unknown";
}

static sr_status check_options(const sr_calibrate_options *o, const sr_dataset *ds,
                               sr_error *err)
{
    const bool rate = o->target != SR_CALIBRATE_SPEND;
    if (o->target != SR_CALIBRATE_SPEND && o->target != SR_CALIBRATE_BANKRUPTCY &&
        o->target != SR_CALIBRATE_SHARE)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "target", "unknown target kind %d",
                            (int)o->target);
    if (!isfinite(o->value) || o->value < 0 || (rate && o->value > 1))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "target",
                            "target %g is not %s", o->value,
                            rate ? "a rate in [0, 1]" : "a finite spend >= 0");
    if (o->target == SR_CALIBRATE_SHARE &&
        (o->share_model < 0 || o->share_model >= ds->catalogue.n_models))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "share_model",
                            "share model index %d is not in the catalogue of %d models",
                            o->share_model, ds->catalogue.n_models);
    if (!isfinite(o->tolerance) || o->tolerance < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "tolerance",
                            "tolerance %g is not a finite number >= 0", o->tolerance);
    if (!isfinite(o->lambda_tolerance) || o->lambda_tolerance <= 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda_tolerance",
                            "lambda tolerance %g is not a finite number > 0",
                            o->lambda_tolerance);
    if (!isfinite(o->lo) || !isfinite(o->hi) || !(o->lo < o->hi))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "range",
                            "the lambda range [%g, %g] needs finite bounds with lo < hi", o->lo,
                            o->hi);
    if (o->max_iter < 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_iter",
                            "max_iter %d is below 1", o->max_iter);
    return SR_OK;
}

/* State of one search: what it needs to run a probe. */
typedef struct search {
    sr_calibrate_factory factory;
    void *user;
    const sr_dataset *ds;
    double budget;
    const sr_eval_options *eval;
    const sr_calibrate_options *options;
    sr_calibrate_result *result;
} search;

/* Evaluates λ, records the probe and returns its value in `*value`. */
static sr_status probe(search *s, double lambda, double *value, sr_eval_metrics *metrics,
                       sr_error *err)
{
    sr_calibrate_result *r = s->result;
    if (r->n_probes >= SR_CALIBRATE_MAX_PROBES)
        return sr_error_set(err, SR_ERR_INTERNAL, NULL, 0, NULL,
                            "calibration ran out of probe slots (%d)", SR_CALIBRATE_MAX_PROBES);
    sr_policy *policy = NULL;
    sr_status status = s->factory(s->user, lambda, &policy, err);
    if (status != SR_OK)
        return status;
    status = sr_eval_policy(policy, s->ds, s->budget, s->eval, metrics, err);
    sr_policy_free(policy);
    if (status != SR_OK)
        return status;
    metrics->lambda = lambda;
    *value = sr_calibrate_value(s->options->target, s->options->share_model, metrics);
    r->probes[r->n_probes++] = (sr_calibrate_probe){lambda, *value};
    sr_log(SR_LOG_DEBUG, "calibrate_probe lambda=%.17g value=%.17g", lambda, *value);
    return SR_OK;
}

static bool met(const search *s, double value)
{
    return value <= s->options->value;
}

/* Counts probe pairs whose value rises with λ. */
static size_t count_non_monotone(const sr_calibrate_result *r)
{
    size_t pairs = 0;
    for (size_t i = 0; i < r->n_probes; i++)
        for (size_t j = 0; j < r->n_probes; j++)
            if (r->probes[i].lambda < r->probes[j].lambda &&
                r->probes[i].value < r->probes[j].value)
                pairs++;
    return pairs;
}

/* Sets the result to λ, re-running it to keep its full metrics. */
static sr_status set_result(search *s, sr_calibrate_status status, double lambda, sr_error *err)
{
    sr_calibrate_result *r = s->result;
    sr_policy *policy = NULL;
    sr_status rc = s->factory(s->user, lambda, &policy, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_eval_policy(policy, s->ds, s->budget, s->eval, &r->metrics, err);
    sr_policy_free(policy);
    if (rc != SR_OK)
        return rc;
    r->metrics.lambda = lambda;
    r->status = status;
    r->lambda = lambda;
    r->value = sr_calibrate_value(s->options->target, s->options->share_model, &r->metrics);

    /* The largest missed probe below the result, and the monotonicity count. */
    for (size_t i = 0; i < r->n_probes; i++) {
        const sr_calibrate_probe *p = &r->probes[i];
        if (p->lambda < lambda && !met(s, p->value) &&
            (isnan(r->below_lambda) || p->lambda > r->below_lambda)) {
            r->below_lambda = p->lambda;
            r->below_value = p->value;
        }
    }
    r->non_monotone_pairs = count_non_monotone(r);
    return SR_OK;
}

sr_status sr_calibrate_lambda(sr_calibrate_factory factory, void *user, const sr_dataset *ds,
                              double budget, const sr_eval_options *eval,
                              const sr_calibrate_options *options, sr_calibrate_result *result,
                              sr_error *err)
{
    memset(result, 0, sizeof(*result));
    result->lambda = NAN;
    result->value = NAN;
    result->below_lambda = NAN;
    result->below_value = NAN;
    sr_status status = check_options(options, ds, err);
    if (status != SR_OK)
        return status;
    search s = {factory, user, ds, budget, eval, options, result};
    sr_eval_metrics *metrics = malloc(sizeof(*metrics));
    if (metrics == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    double value;

    /* 1. Met at lo already: the result is lo. */
    status = probe(&s, options->lo, &value, metrics, err);
    if (status != SR_OK)
        goto out;
    if (met(&s, value)) {
        status = set_result(&s, SR_CALIBRATE_MET_AT_LO, options->lo, err);
        goto out;
    }

    /* 2. hi, grown fourfold while the target is missed there. */
    double bracket_lo = options->lo;
    double hi = options->hi;
    status = probe(&s, hi, &value, metrics, err);
    for (int expand = 0; status == SR_OK && !met(&s, value) && options->expand_hi &&
                         expand < SR_CALIBRATE_MAX_EXPAND;
         expand++) {
        bracket_lo = hi;
        hi = hi > 0 ? 4 * hi : 1;
        status = probe(&s, hi, &value, metrics, err);
    }
    if (status != SR_OK)
        goto out;
    if (!met(&s, value)) {
        size_t lowest = 0;
        for (size_t i = 1; i < result->n_probes; i++)
            if (result->probes[i].value < result->probes[lowest].value)
                lowest = i;
        status = set_result(&s, SR_CALIBRATE_UNREACHABLE, result->probes[lowest].lambda, err);
        goto out;
    }

    /* 3. A coarse scan of the last bracket. */
    for (int i = 1; i <= SR_CALIBRATE_SCAN_POINTS; i++) {
        const double lambda =
            bracket_lo + (hi - bracket_lo) * i / (double)(SR_CALIBRATE_SCAN_POINTS + 1);
        status = probe(&s, lambda, &value, metrics, err);
        if (status != SR_OK)
            goto out;
    }

    /* 4. Bracket the first crossing among the probes, then bisect it. */
    double f = INFINITY;
    double f_value = NAN;
    for (size_t i = 0; i < result->n_probes; i++)
        if (met(&s, result->probes[i].value) && result->probes[i].lambda < f) {
            f = result->probes[i].lambda;
            f_value = result->probes[i].value;
        }
    double b = -INFINITY;
    for (size_t i = 0; i < result->n_probes; i++)
        if (result->probes[i].lambda < f && result->probes[i].lambda > b)
            b = result->probes[i].lambda;
    for (int iter = 0; iter < options->max_iter; iter++) {
        if (f - b <= options->lambda_tolerance ||
            (options->tolerance > 0 && options->value - f_value <= options->tolerance))
            break;
        const double mid = b + (f - b) / 2;
        status = probe(&s, mid, &value, metrics, err);
        if (status != SR_OK)
            goto out;
        if (met(&s, value)) {
            f = mid;
            f_value = value;
        } else
            b = mid;
    }
    status = set_result(&s, SR_CALIBRATE_FOUND, f, err);

out:
    free(metrics);
    return status;
}

/* ---- the calibration file ------------------------------------------------------------ */

static json_t *json_number_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

sr_status sr_calibration_write_json(const sr_calibration *calibration,
                                    const sr_calibrate_options *options,
                                    const sr_calibrate_result *result, const sr_dataset *ds,
                                    const char *data_name, FILE *out, sr_error *err)
{
    json_t *doc = json_object();
    json_t *target = json_object();
    json_t *realised = json_object();
    json_t *search_doc = json_object();
    json_t *probes = json_array();
    if (doc == NULL || target == NULL || realised == NULL || search_doc == NULL ||
        probes == NULL) {
        json_decref(doc);
        json_decref(target);
        json_decref(realised);
        json_decref(search_doc);
        json_decref(probes);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    const sr_eval_metrics *m = &result->metrics;

    json_object_set_new(target, "kind", json_string(sr_calibrate_target_name(options->target)));
    json_object_set_new(target, "value", json_real(options->value));
    if (options->target == SR_CALIBRATE_SHARE)
        json_object_set_new(target, "share_model",
                            json_string(ds->catalogue.models[options->share_model].name));

    json_object_set_new(realised, "value", json_number_or_null(result->value));
    json_object_set_new(realised, "mean_cost", json_number_or_null(m->mean_cost));
    json_object_set_new(realised, "bankruptcy_rate", json_number_or_null(m->bankruptcy_rate));
    json_object_set_new(realised, "mean_quality", json_number_or_null(m->mean_quality));
    json_object_set_new(realised, "mean_return", json_number_or_null(m->mean_return));
    json_t *shares = json_object();
    for (int k = 0; shares != NULL && k < m->n_models; k++)
        json_object_set_new(shares, ds->catalogue.models[k].name,
                            json_number_or_null(m->model_share[k]));
    json_object_set_new(realised, "model_share", shares);

    json_object_set_new(search_doc, "lo", json_real(options->lo));
    json_object_set_new(search_doc, "hi", json_real(options->hi));
    json_object_set_new(search_doc, "expand_hi", json_boolean(options->expand_hi));
    json_object_set_new(search_doc, "tolerance", json_real(options->tolerance));
    json_object_set_new(search_doc, "lambda_tolerance", json_real(options->lambda_tolerance));
    json_object_set_new(search_doc, "max_iter", json_integer(options->max_iter));
    json_object_set_new(search_doc, "below_lambda", json_number_or_null(result->below_lambda));
    json_object_set_new(search_doc, "below_value", json_number_or_null(result->below_value));
    json_object_set_new(search_doc, "non_monotone_pairs",
                        json_integer((json_int_t)result->non_monotone_pairs));
    for (size_t i = 0; i < result->n_probes; i++) {
        json_t *p = json_object();
        if (p == NULL)
            continue;
        json_object_set_new(p, "lambda", json_real(result->probes[i].lambda));
        json_object_set_new(p, "value", json_number_or_null(result->probes[i].value));
        json_array_append_new(probes, p);
    }
    json_object_set_new(search_doc, "probes", probes);

    json_object_set_new(doc, "policy", json_string(calibration->policy));
    json_object_set_new(doc, "data", json_string(data_name ? data_name : ""));
    json_object_set_new(doc, "sessions", json_integer((json_int_t)ds->n_sessions));
    json_object_set_new(doc, "budget", json_real(calibration->budget));
    json_object_set_new(doc, "budget_frac", json_number_or_null(calibration->budget_frac));
    json_object_set_new(doc, "eta", json_real(calibration->eta));
    json_object_set_new(doc, "seed", json_integer((json_int_t)(calibration->seed & INT64_MAX)));
    json_object_set_new(doc, "target", target);
    json_object_set_new(doc, "status", json_string(sr_calibrate_status_name(result->status)));
    json_object_set_new(doc, "lambda", json_real(result->lambda));
    json_object_set_new(doc, "realised", realised);
    json_object_set_new(doc, "search", search_doc);

    const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17);
    const int rc = json_dumpf(doc, out, flags);
    json_decref(doc);
    if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0)
        return sr_error_set(err, SR_ERR_IO, NULL, 0, NULL, "failed to write the calibration JSON");
    return SR_OK;
}

/* Reads number `key` of `object` into `*value`; null reads as NAN when `nullable`. */
static sr_status read_number(const char *path, const json_t *object, const char *key,
                             bool nullable, double *value, sr_error *err)
{
    const json_t *item = json_object_get(object, key);
    if (item != NULL && json_is_number(item)) {
        *value = json_number_value(item);
        return SR_OK;
    }
    if (nullable && (item == NULL || json_is_null(item))) {
        *value = NAN;
        return SR_OK;
    }
    return sr_error_set(err, SR_ERR_INVALID, path, 0, key,
                        "field '%s' is missing or not a number; is this a file written by "
                        "seqroute calibrate --json?",
                        key);
}

static sr_status read_string(const char *path, const json_t *object, const char *key, char *out,
                             size_t size, sr_error *err)
{
    const json_t *item = json_object_get(object, key);
    if (item == NULL || !json_is_string(item) || strlen(json_string_value(item)) >= size)
        return sr_error_set(err, SR_ERR_INVALID, path, 0, key,
                            "field '%s' is missing, not a string or longer than %zu bytes", key,
                            size - 1);
    snprintf(out, size, "%s", json_string_value(item));
    return SR_OK;
}

sr_status sr_calibration_read(const char *path, sr_calibration *calibration, sr_error *err)
{
    memset(calibration, 0, sizeof(*calibration));
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        return sr_error_set(err, jerr.line < 0 ? SR_ERR_IO : SR_ERR_INVALID, path,
                            jerr.line < 0 ? 0 : jerr.line, NULL, "cannot read the calibration: %s",
                            jerr.text);

    sr_status status = SR_OK;
    const json_t *target = json_object_get(doc, "target");
    const json_t *realised = json_object_get(doc, "realised");
    char kind[32] = "";
    char state[32] = "";
    double seed = 0;
    if (!json_is_object(doc) || !json_is_object(target) || !json_is_object(realised)) {
        status = sr_error_set(err, SR_ERR_INVALID, path, 0, "target",
                              "not a calibration file: 'target' or 'realised' is missing");
        goto out;
    }
    status = read_string(path, doc, "policy", calibration->policy, sizeof(calibration->policy),
                         err);
    if (status == SR_OK)
        status = read_number(path, doc, "lambda", false, &calibration->lambda, err);
    if (status == SR_OK)
        status = read_number(path, doc, "budget", false, &calibration->budget, err);
    if (status == SR_OK)
        status = read_number(path, doc, "budget_frac", true, &calibration->budget_frac, err);
    if (status == SR_OK)
        status = read_number(path, doc, "eta", false, &calibration->eta, err);
    if (status == SR_OK)
        status = read_number(path, doc, "seed", false, &seed, err);
    if (status == SR_OK)
        status = read_string(path, target, "kind", kind, sizeof(kind), err);
    if (status == SR_OK)
        status = read_number(path, target, "value", false, &calibration->value, err);
    if (status == SR_OK)
        status = read_string(path, doc, "status", state, sizeof(state), err);
    if (status == SR_OK)
        status = read_number(path, realised, "value", true, &calibration->realised, err);
    if (status != SR_OK)
        goto out;

    if (!sr_calibrate_target_parse(kind, &calibration->target)) {
        status = sr_error_set(err, SR_ERR_INVALID, path, 0, "target.kind",
                              "target kind '%s' is not spend, bankruptcy or share", kind);
        goto out;
    }
    if (calibration->target == SR_CALIBRATE_SHARE) {
        status = read_string(path, target, "share_model", calibration->share_model,
                             sizeof(calibration->share_model), err);
        if (status != SR_OK)
            goto out;
    }
    calibration->status = SR_CALIBRATE_UNREACHABLE;
    if (strcmp(state, "found") == 0)
        calibration->status = SR_CALIBRATE_FOUND;
    else if (strcmp(state, "met_at_lo") == 0)
        calibration->status = SR_CALIBRATE_MET_AT_LO;
    if (!isfinite(calibration->lambda) || !isfinite(calibration->budget) ||
        calibration->budget < 0 || !isfinite(calibration->eta) || calibration->eta < 0 ||
        !isfinite(calibration->value) || calibration->value < 0 || seed < 0) {
        status = sr_error_set(err, SR_ERR_INVALID, path, 0, "lambda",
                              "lambda %g, budget %g, eta %g, target %g or seed %g is out of "
                              "range",
                              calibration->lambda, calibration->budget, calibration->eta,
                              calibration->value, seed);
        goto out;
    }
    calibration->seed = (uint64_t)seed;

out:
    json_decref(doc);
    return status;
}

/* ---- drift ------------------------------------------------------------------------ */

void sr_calibration_check(const sr_calibration *calibration, int share_model,
                          const sr_eval_metrics *metrics, double tolerance,
                          sr_calibration_drift *drift)
{
    drift->realised = sr_calibrate_value(calibration->target, share_model, metrics);
    drift->drift = drift->realised - calibration->value;
    if (tolerance < 0)
        tolerance = calibration->target == SR_CALIBRATE_SPEND
                        ? SR_CALIBRATION_SPEND_DRIFT * calibration->value
                        : SR_CALIBRATION_RATE_DRIFT;
    drift->tolerance = tolerance;

    /* The interval of the realised value: normal for spend, Wilson for the two rates. */
    switch (calibration->target) {
    case SR_CALIBRATE_SPEND:
        drift->ci[0] = metrics->mean_cost_ci[0];
        drift->ci[1] = metrics->mean_cost_ci[1];
        break;
    case SR_CALIBRATE_BANKRUPTCY:
        drift->ci[0] = metrics->bankruptcy_ci[0];
        drift->ci[1] = metrics->bankruptcy_ci[1];
        break;
    case SR_CALIBRATE_SHARE: {
        const double calls = (double)metrics->calls;
        const size_t hits = isfinite(drift->realised) ? (size_t)llround(drift->realised * calls)
                                                      : 0;
        sr_eval_wilson(hits, metrics->calls, SR_EVAL_Z95, &drift->ci[0], &drift->ci[1]);
        break;
    }
    }
    drift->warn = !(fabs(drift->drift) <= drift->tolerance);
}

char *sr_calibration_check_json(const sr_calibration *calibration,
                                const sr_eval_metrics *metrics,
                                const sr_calibration_drift *drift)
{
    json_t *doc = json_object();
    json_t *ci = json_array();
    if (doc == NULL || ci == NULL) {
        json_decref(doc);
        json_decref(ci);
        return NULL;
    }
    json_array_append_new(ci, json_number_or_null(drift->ci[0]));
    json_array_append_new(ci, json_number_or_null(drift->ci[1]));
    json_object_set_new(doc, "policy", json_string(calibration->policy));
    json_object_set_new(doc, "lambda", json_real(calibration->lambda));
    json_object_set_new(doc, "budget", json_real(calibration->budget));
    json_object_set_new(doc, "target", json_string(sr_calibrate_target_name(calibration->target)));
    if (calibration->target == SR_CALIBRATE_SHARE)
        json_object_set_new(doc, "share_model", json_string(calibration->share_model));
    json_object_set_new(doc, "target_value", json_real(calibration->value));
    json_object_set_new(doc, "calibration_value", json_number_or_null(calibration->realised));
    json_object_set_new(doc, "realised", json_number_or_null(drift->realised));
    json_object_set_new(doc, "realised_ci", ci);
    json_object_set_new(doc, "drift", json_number_or_null(drift->drift));
    json_object_set_new(doc, "tolerance", json_number_or_null(drift->tolerance));
    json_object_set_new(doc, "warning", json_boolean(drift->warn));
    json_object_set_new(doc, "mean_cost", json_number_or_null(metrics->mean_cost));
    json_object_set_new(doc, "bankruptcy_rate", json_number_or_null(metrics->bankruptcy_rate));
    json_object_set_new(doc, "mean_quality", json_number_or_null(metrics->mean_quality));
    char *text = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(doc);
    return text;
}
