/*
 * cli_learn.c - option parsers shared by `seqroute train` and
 * `seqroute fqe` (see cli_learn.h).  The messages are the ones each command
 * printed before the parsers were shared, and the caller passes its command name.
 */
#include "cli_learn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqroute/nn.h"

bool cli_parse_hidden(const char *command, const char *text, bool allow_none, int *hidden,
                      int *count)
{
    double *values = NULL;
    size_t width_count = 0;
    if (allow_none && strcmp(text, "none") == 0) {
        *count = 0;
        return true;
    }
    if (!cli_parse_double_list(command, "--hidden", text, &values, &width_count))
        return false;

    /* Without allow_none (fqe) a list needs one width at least, because "none" is not offered. */
    const size_t min_count = allow_none ? 0 : 1;
    bool ok = width_count >= min_count && width_count <= SR_NN_MAX_HIDDEN;
    for (size_t i = 0; ok && i < width_count; i++)
        ok = values[i] >= 1 && values[i] <= SR_NN_MAX_WIDTH && values[i] == floor(values[i]);
    if (ok) {
        *count = (int)width_count;
        for (size_t i = 0; i < width_count; i++)
            hidden[i] = (int)values[i];
    } else if (allow_none)
        cli_usage_error(command,
                        "option --hidden: '%s' is not a list of at most %d whole widths in "
                        "1..%d (or none)",
                        text, SR_NN_MAX_HIDDEN, SR_NN_MAX_WIDTH);
    else
        cli_usage_error(command,
                        "option --hidden: '%s' is not a list of 1..%d whole widths in 1..%d "
                        "(use --function linear for no hidden layer)",
                        text, SR_NN_MAX_HIDDEN, SR_NN_MAX_WIDTH);
    free(values);
    return ok;
}

bool cli_parse_mixture(const char *command, const char *text, sr_hbr_options *hbr)
{
    double *values = NULL;
    size_t count = 0;
    if (!cli_parse_double_list(command, "--mixture", text, &values, &count))
        return false;
    const bool ok = count == SR_HBR_N_BEHAVIOURS;
    if (ok)
        memcpy(hbr->mixture, values, sizeof(hbr->mixture));
    else
        cli_usage_error(command, "option --mixture: needs 4 weights U,C,S,G, got %zu in '%s'",
                        count, text);
    free(values);
    return ok;
}

bool cli_parse_features_source(const char *command, const char *text, sr_features_source *source)
{
    if (strcmp(text, "auto") == 0)
        *source = SR_FEATURES_AUTO;
    else if (strcmp(text, "text") == 0)
        *source = SR_FEATURES_TEXT;
    else if (strcmp(text, "embedding") == 0)
        *source = SR_FEATURES_EMBEDDING;
    else {
        cli_usage_error(command, "option --features: '%s' is not auto, text or embedding", text);
        return false;
    }
    return true;
}

bool cli_parse_budget_levels(const char *command, const char *option, const char *text,
                             double **values, size_t *count)
{
    double *levels = NULL;
    size_t n = 0;
    if (!cli_parse_double_list(command, option, text, &levels, &n))
        return false;

    for (size_t i = 0; i < n; i++) {
        if (levels[i] < 0) {
            cli_usage_error(command, "option %s: budget level %zu is %g; levels must be >= 0",
                            option, i + 1, levels[i]);
            free(levels);
            return false;
        }
    }
    *values = levels;
    *count = n;
    return true;
}
