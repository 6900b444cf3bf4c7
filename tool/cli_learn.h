/*
 * cli_learn.h - option parsers shared by the subcommands that learn a
 * Q-function (train, fqe): hidden-layer widths, the behaviour mixture of
 * relabelled paths and the feature source.
 *
 * On bad input each parser prints a usage error through cli_usage_error
 * under the caller's `command` name and returns false.  The caller then
 * exits with CLI_EXIT_USAGE.
 */
#ifndef SEQROUTE_CLI_LEARN_H
#define SEQROUTE_CLI_LEARN_H

#include <stdbool.h>

#include "seqroute/features.h"
#include "seqroute/hbr.h"

/*
 * Parses --hidden "H1,H2,..." into `hidden` (room for SR_NN_MAX_HIDDEN
 * widths) and `*count`.  With `allow_none`, "none" gives zero layers and a
 * list holds at most SR_NN_MAX_HIDDEN widths; without it, the list needs
 * 1..SR_NN_MAX_HIDDEN widths.  Each width is a whole number in
 * 1..SR_NN_MAX_WIDTH.  On failure prints a usage error and leaves the
 * outputs unchanged.  No allocation survives the call.  Not thread-safe
 * (cli_usage_error writes to standard error).
 */
bool cli_parse_hidden(const char *command, const char *text, bool allow_none, int *hidden,
                      int *count);

/*
 * Parses --mixture "U,C,S,G" (exactly SR_HBR_N_BEHAVIOURS weights) into
 * hbr->mixture.  On failure prints a usage error and leaves `hbr`
 * unchanged.  Not thread-safe (writes to standard error on failure).
 */
bool cli_parse_mixture(const char *command, const char *text, sr_hbr_options *hbr);

/*
 * Parses --features "auto", "text" or "embedding" into `*source`.  On
 * failure prints a usage error and leaves `*source` unchanged.  Not
 * thread-safe (writes to standard error on failure).
 */
bool cli_parse_features_source(const char *command, const char *text, sr_features_source *source);

/*
 * Parses the value of --budgets or --budget-fracs (named by `option`): a
 * comma-separated list of finite numbers >= 0, into a newly allocated array
 * the caller frees.  A negative level is a usage error here, where the
 * library would report it later as bad data.
 */
bool cli_parse_budget_levels(const char *command, const char *option, const char *text,
                             double **values, size_t *count);

#endif /* SEQROUTE_CLI_LEARN_H */
