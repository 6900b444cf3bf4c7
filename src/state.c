/*
 * state.c - the state encoder: feature row plus budget (and optional turn
 * and budget views) into one float vector.  Layout in seqroute/state.h.
 */
#include "seqroute/state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option names, in bit order, as the command line and the policy file's JSON spell them. */
static const char *const option_names[] = {"turn", "log-budget", "strong-calls",
                                           "bins", "no-budget",  "lambda"};
#define N_OPTION_NAMES (sizeof(option_names) / sizeof(option_names[0]))
/* Names the parser accepts: the first four; the others are set by the algorithm. */
#define N_USER_OPTION_NAMES 4

/* Largest accepted feature width, 2^20: above the widest text vector with history concatenation. */
#define STATE_MAX_FEATURES (1 << 20)

static bool positive_finite(double x)
{
    return isfinite(x) && x > 0;
}

sr_status sr_state_config_check(const sr_state_config *config, sr_error *err)
{
    if (config->feature_dim < 1 || config->feature_dim > STATE_MAX_FEATURES)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "feature_dim",
                            "feature width %d is out of range; use 1 to %d",
                            config->feature_dim, STATE_MAX_FEATURES);
    if ((config->options & ~(uint32_t)SR_STATE_KNOWN_OPTIONS) != 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "options",
                            "unknown state option bits 0x%x", (unsigned)config->options);
    if ((config->options & SR_STATE_NO_BUDGET) &&
        (config->options & (SR_STATE_LOG_BUDGET | SR_STATE_STRONG_CALLS | SR_STATE_BUDGET_BINS)))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "options",
                            "a budget-blind state cannot include the log-budget, strong-calls "
                            "or bins views");
    if ((config->options & SR_STATE_LAMBDA) && !positive_finite(config->lambda_max))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda_max",
                            "lambda_max %g is not a finite number > 0", config->lambda_max);
    if (!positive_finite(config->b_ref))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "b_ref",
                            "B_ref %g is not a finite number > 0", config->b_ref);
    if ((config->options & SR_STATE_TURN) && !positive_finite(config->t_ref))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "t_ref",
                            "T_ref %g is not a finite number > 0", config->t_ref);
    if ((config->options & SR_STATE_STRONG_CALLS) && !positive_finite(config->strong_cost))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "strong_cost",
                            "mean cost of the most expensive model %g is not a finite "
                            "number > 0, so budgets cannot be counted in its calls",
                            config->strong_cost);
    if ((config->options & SR_STATE_BUDGET_BINS) &&
        (config->n_bins < 1 || config->n_bins > SR_STATE_MAX_BINS))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "n_bins",
                            "%d budget bins is out of range; use 1 to %d", config->n_bins,
                            SR_STATE_MAX_BINS);
    return SR_OK;
}

int sr_state_dim(const sr_state_config *config)
{
    int dim = config->feature_dim;
    if (!(config->options & SR_STATE_NO_BUDGET))
        dim++;
    if (config->options & SR_STATE_TURN)
        dim++;
    if (config->options & SR_STATE_LOG_BUDGET)
        dim++;
    if (config->options & SR_STATE_STRONG_CALLS)
        dim++;
    if (config->options & SR_STATE_BUDGET_BINS)
        dim += config->n_bins;
    if (config->options & SR_STATE_LAMBDA)
        dim++;
    return dim;
}

void sr_state_encode(const sr_state_config *config, const float *features, const float *shift,
                     const float *scale, int t, double budget, float *out)
{
    sr_state_encode_lambda(config, features, shift, scale, t, budget, 0.0, out);
}

void sr_state_encode_lambda(const sr_state_config *config, const float *features,
                            const float *shift, const float *scale, int t, double budget,
                            double lambda, float *out)
{
    const int f = config->feature_dim;

    /* Features, normalised when constants are given. */
    if (shift != NULL && scale != NULL)
        for (int i = 0; i < f; i++)
            out[i] = (features[i] - shift[i]) * scale[i];
    else
        memcpy(out, features, (size_t)f * sizeof(float));

    /* Budget views; a negative budget only occurs after bankruptcy and reads as 0. */
    const double b = budget > 0 ? budget : 0.0;
    const double ratio = b / config->b_ref;
    int i = f;
    if (!(config->options & SR_STATE_NO_BUDGET))
        out[i++] = (float)ratio;
    if (config->options & SR_STATE_TURN)
        out[i++] = (float)((double)t / config->t_ref);
    if (config->options & SR_STATE_LOG_BUDGET)
        out[i++] = (float)log1p(ratio);
    if (config->options & SR_STATE_STRONG_CALLS)
        out[i++] = (float)(b / config->strong_cost);
    if (config->options & SR_STATE_BUDGET_BINS) {
        int bin = (int)(ratio * config->n_bins);
        if (bin >= config->n_bins)
            bin = config->n_bins - 1;
        for (int k = 0; k < config->n_bins; k++)
            out[i + k] = k == bin ? 1.0f : 0.0f;
        i += config->n_bins;
    }
    if (config->options & SR_STATE_LAMBDA)
        out[i] = (float)(lambda / config->lambda_max);
}

bool sr_state_options_parse(const char *text, uint32_t *options)
{
    uint32_t bits = 0;
    const char *p = text;

    if (text[0] == '\0')
        return false;
    if (strcmp(text, "none") == 0) {
        *options = 0;
        return true;
    }
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        const size_t length = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (size_t k = 0; k < N_USER_OPTION_NAMES; k++)
            if (strlen(option_names[k]) == length && strncmp(p, option_names[k], length) == 0) {
                bits |= 1u << k;
                found = true;
            }
        if (!found)
            return false;
        if (end == NULL)
            break;
        p = end + 1;
        if (*p == '\0')
            return false;
    }
    *options = bits;
    return true;
}

void sr_state_options_format(uint32_t options, char *text, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    text[0] = '\0';
    for (size_t k = 0; k < N_OPTION_NAMES; k++) {
        if (!(options & (1u << k)))
            continue;
        int n = snprintf(text + used, size - used, "%s%s", used ? "," : "", option_names[k]);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(text, size, "none");
}

sr_status sr_state_compute_normalisation(const float *rows, size_t n_rows, int dim, bool normalise,
                                         double std_floor, float **shift, float **scale,
                                         sr_error *err)
{
    const size_t f = (size_t)dim;
    const size_t n = n_rows;
    *shift = malloc(f * sizeof(float));
    *scale = malloc(f * sizeof(float));
    double *sum = calloc(f, sizeof(double));
    double *sum_sq = calloc(f, sizeof(double));
    if (*shift == NULL || *scale == NULL || sum == NULL || sum_sq == NULL) {
        free(*shift);
        free(*scale);
        *shift = NULL;
        *scale = NULL;
        free(sum);
        free(sum_sq);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory for the normalisation");
    }

    /* Sums in double, one pass over the rows in storage order. */
    for (size_t j = 0; j < n; j++) {
        const float *row = rows + j * f;
        for (size_t i = 0; i < f; i++) {
            sum[i] += row[i];
            sum_sq[i] += (double)row[i] * row[i];
        }
    }

    for (size_t i = 0; i < f; i++) {
        const double mean = n ? sum[i] / (double)n : 0.0;
        const double variance = n ? fmax(0.0, sum_sq[i] / (double)n - mean * mean) : 0.0;
        const double spread = fmax(sqrt(variance), std_floor);
        (*shift)[i] = normalise ? (float)mean : 0.0f;
        (*scale)[i] = normalise ? (float)(1.0 / spread) : 1.0f;
    }
    free(sum);
    free(sum_sq);
    return SR_OK;
}
