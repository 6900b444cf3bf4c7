/*
 * cmd_validate.c - `seqroute validate`: loads a session file with every
 * check of the loader and prints what it holds.
 *
 * The summary is what a user needs before routing on a file: the number of
 * sessions and turns, session lengths, the embedding length, the cost unit,
 * and each model's mean quality, mean cost and share of turns that carry its
 * outcome.  A share of 1.0 for every model means full-information data.
 * The summary prints as an aligned table, or as one JSON object with --json.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqroute/dataset.h"

typedef struct validate_summary {
    size_t sessions;
    size_t turns;
    int min_turns;
    int max_turns;
    double mean_turns;
    bool full_information;
    size_t skipped;
    double *mean_quality; /* per model, NAN when the model has no outcome */
    double *mean_cost;
    size_t *count;
} validate_summary;

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: seqroute validate --data FILE [--skip-invalid] [--json]\n"
            "\n"
            "Checks a session file (JSON Lines, see docs/FORMAT.md) and prints a summary:\n"
            "sessions, turns, turns per session, per-model mean quality, mean cost and share\n"
            "of turns with an outcome, whether the data is full-information, the embedding\n"
            "length and the cost unit.\n"
            "\n"
            "Options:\n"
            "  --data FILE      session file to check; \"-\" reads standard input\n"
            "  --skip-invalid   skip bad session lines instead of stopping at the first one;\n"
            "                   each skipped line is printed on standard error, then the count\n"
            "  --json           print the summary as one JSON object instead of a table\n"
            "  -h, --help       print this help\n"
            "\n"
            "Costs are printed in the file's cost unit (header key cost_unit), qualities on\n"
            "the file's quality_range scale.  Exit status: 0 valid, 1 invalid data or read\n"
            "error (the message names file, line, field and value), 2 bad command line.\n");
}

static void report_skip(const sr_error *reason, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "seqroute validate: skipped line: %s\n", reason->message);
}

static bool summarise(const sr_dataset *ds, validate_summary *sum)
{
    const int n_models = ds->catalogue.n_models;

    sum->sessions = ds->n_sessions;
    sum->turns = ds->n_turns;
    sum->min_turns = 0;
    sum->max_turns = 0;
    for (size_t i = 0; i < ds->n_sessions; i++) {
        int n = ds->sessions[i].n_turns;
        if (i == 0 || n < sum->min_turns)
            sum->min_turns = n;
        if (n > sum->max_turns)
            sum->max_turns = n;
    }
    sum->mean_turns = ds->n_sessions ? (double)ds->n_turns / (double)ds->n_sessions : 0.0;
    sum->full_information = ds->n_turns > 0 && sr_dataset_is_full_information(ds);

    sum->mean_quality = calloc((size_t)n_models, sizeof(double));
    sum->mean_cost = calloc((size_t)n_models, sizeof(double));
    sum->count = calloc((size_t)n_models, sizeof(size_t));
    if (sum->mean_quality == NULL || sum->mean_cost == NULL || sum->count == NULL)
        return false;
    sr_dataset_model_stats(ds, sum->mean_quality, sum->mean_cost, sum->count);
    return true;
}

static void summary_free(validate_summary *sum)
{
    free(sum->mean_quality);
    free(sum->mean_cost);
    free(sum->count);
}

/* Share of turns that carry model k's outcome, in [0, 1]. */
static double outcome_share(const validate_summary *sum, int k)
{
    return sum->turns ? (double)sum->count[k] / (double)sum->turns : 0.0;
}

static void print_table(const char *path, const sr_dataset *ds, const validate_summary *sum)
{
    const sr_catalogue *cat = &ds->catalogue;
    const char *unit = cat->cost_unit ? cat->cost_unit : "units";

    printf("file                 %s\n", path);
    printf("sessions             %zu\n", sum->sessions);
    printf("turns                %zu\n", sum->turns);
    printf("turns per session    min %d  mean %.2f  max %d\n", sum->min_turns,
           sum->mean_turns, sum->max_turns);
    printf("full information     %s\n", sum->full_information ? "yes" : "no");
    if (cat->embedding_dim > 0)
        printf("embedding dim        %d\n", cat->embedding_dim);
    else
        printf("embedding dim        none\n");
    printf("cost unit            %s\n", unit);
    printf("quality range        [%g, %g]\n", cat->quality_min, cat->quality_max);
    if (sum->skipped > 0)
        printf("skipped lines        %zu\n", sum->skipped);

    /* Column width follows the longest model name. */
    int width = 5;
    for (int k = 0; k < cat->n_models; k++) {
        int n = (int)strlen(cat->models[k].name);
        if (n > width)
            width = n;
    }
    printf("\n%-*s  %12s  %14s  %13s  %s\n", width, "model", "mean quality", "mean cost",
           "outcome share", "fallback");
    for (int k = 0; k < cat->n_models; k++) {
        char quality[32] = "-";
        char cost[32] = "-";
        if (!isnan(sum->mean_quality[k]))
            snprintf(quality, sizeof(quality), "%.4f", sum->mean_quality[k]);
        if (!isnan(sum->mean_cost[k]))
            snprintf(cost, sizeof(cost), "%.6g", sum->mean_cost[k]);
        printf("%-*s  %12s  %14s  %13.3f  %s\n", width, cat->models[k].name, quality, cost,
               outcome_share(sum, k), cat->models[k].fallback ? "yes" : "");
    }
    printf("\n(mean cost in %s per turn; outcome share = turns with the model's outcome / "
           "all turns)\n",
           unit);
}

/* A JSON number, or null for NAN (JSON has no NaN). */
static json_t *number_or_null(double x)
{
    return isnan(x) ? json_null() : json_real(x);
}

static bool print_json(const char *path, const sr_dataset *ds, const validate_summary *sum)
{
    const sr_catalogue *cat = &ds->catalogue;
    json_t *root = json_object();
    json_t *per_session = json_object();
    json_t *range = json_array();
    json_t *models = json_array();

    json_object_set_new(root, "file", json_string(path));
    json_object_set_new(root, "sessions", json_integer((json_int_t)sum->sessions));
    json_object_set_new(root, "turns", json_integer((json_int_t)sum->turns));
    json_object_set_new(per_session, "min", json_integer(sum->min_turns));
    json_object_set_new(per_session, "mean", json_real(sum->mean_turns));
    json_object_set_new(per_session, "max", json_integer(sum->max_turns));
    json_object_set_new(root, "turns_per_session", per_session);
    json_object_set_new(root, "full_information", json_boolean(sum->full_information));
    json_object_set_new(root, "embedding_dim", json_integer(cat->embedding_dim));
    json_object_set_new(root, "cost_unit", json_string(cat->cost_unit ? cat->cost_unit : "units"));
    json_array_append_new(range, json_real(cat->quality_min));
    json_array_append_new(range, json_real(cat->quality_max));
    json_object_set_new(root, "quality_range", range);
    json_object_set_new(root, "skipped", json_integer((json_int_t)sum->skipped));
    for (int k = 0; k < cat->n_models; k++) {
        json_t *m = json_object();
        json_object_set_new(m, "name", json_string(cat->models[k].name));
        json_object_set_new(m, "mean_quality", number_or_null(sum->mean_quality[k]));
        json_object_set_new(m, "mean_cost", number_or_null(sum->mean_cost[k]));
        json_object_set_new(m, "outcomes", json_integer((json_int_t)sum->count[k]));
        json_object_set_new(m, "outcome_share", json_real(outcome_share(sum, k)));
        json_object_set_new(m, "fallback", json_boolean(cat->models[k].fallback));
        json_array_append_new(models, m);
    }
    json_object_set_new(root, "models", models);

    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    return rc == 0 && fputc('\n', stdout) != EOF;
}

int cmd_validate(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"data", required_argument, NULL, 'd'},
        {"skip-invalid", no_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL;
    bool skip_invalid = false;
    bool as_json = false;

    /* Options. */
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", long_options, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 's':
            skip_invalid = true;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            print_usage(stdout);
            return CLI_EXIT_OK;
        case ':':
            cli_usage_error("validate", "option %s needs a value", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        default:
            cli_usage_error("validate", "unknown option '%s'", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error("validate", "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (data == NULL) {
        cli_usage_error("validate", "--data FILE is required");
        return CLI_EXIT_USAGE;
    }

    /* Load with every check. */
    sr_load_options options = {.skip_invalid = skip_invalid, .on_skip = report_skip};
    sr_dataset ds;
    sr_error err;
    size_t skipped = 0;
    sr_status status = sr_dataset_load(data, &options, &ds, &skipped, &err);
    if (status != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }

    /* Summarise and print. */
    validate_summary sum;
    memset(&sum, 0, sizeof(sum));
    sum.skipped = skipped;
    int exit_code = CLI_EXIT_OK;
    if (!summarise(&ds, &sum)) {
        fprintf(stderr, "seqroute validate: out of memory while summarising %s\n", data);
        exit_code = CLI_EXIT_FAILURE;
    } else if (as_json) {
        if (!print_json(data, &ds, &sum)) {
            fprintf(stderr, "seqroute validate: writing the summary failed\n");
            exit_code = CLI_EXIT_FAILURE;
        }
    } else {
        print_table(data, &ds, &sum);
    }
    if (skip_invalid)
        fprintf(stderr, "seqroute validate: skipped %zu invalid session line%s\n", skipped,
                skipped == 1 ? "" : "s");
    if (fflush(stdout) != 0) {
        fprintf(stderr, "seqroute validate: writing the summary failed\n");
        exit_code = CLI_EXIT_FAILURE;
    }

    summary_free(&sum);
    sr_dataset_free(&ds);
    return exit_code;
}
