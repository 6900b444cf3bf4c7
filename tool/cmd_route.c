/*
 * cmd_route.c - `seqroute route`: one route decision from the command line,
 * as JSON on standard output, for scripts and debugging.  No ledger is
 * involved: the budget given is the remaining budget.  The decision is the
 * one `seqroute serve` would make (sr_route_decide), reservation mask
 * included.  Exit codes: 0 with a decision (also when it is a refusal, which
 * the JSON reports), 1 for a bad policy file or turn, 2 for a bad command line.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqroute/serve.h"

static const char *const COMMAND = "route";

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: seqroute route --policy P --budget B (--text T | --embedding E) [options]\n"
            "\n"
            "Prints, as JSON, the model the policy P routes one user turn to when B cost units\n"
            "of the session's budget remain: Q values, the lambda scores, the reservation each\n"
            "model would take, masked models with reasons, and whether the choice degraded.\n"
            "\n"
            "  --policy FILE      policy file written by seqroute train\n"
            "  --budget B         remaining budget in the policy's cost unit\n"
            "  --text T           the user turn (policies trained on text)\n"
            "  --embedding LIST   comma-separated floats (policies trained on embeddings)\n"
            "  --lambda L         cost trade-off of the lambda rule (default 0)\n"
            "  --turn T           0-based turn index in the session (default 0)\n"
            "  --reserve RULE     mean:F (F times the mean cost, default mean:3) or tokens:N\n"
            "  --help             this text\n");
}

int cmd_route(int argc, char **argv)
{
    static const struct option options[] = {{"policy", required_argument, NULL, 'p'},
                                            {"budget", required_argument, NULL, 'b'},
                                            {"text", required_argument, NULL, 't'},
                                            {"embedding", required_argument, NULL, 'e'},
                                            {"lambda", required_argument, NULL, 'l'},
                                            {"turn", required_argument, NULL, 'n'},
                                            {"reserve", required_argument, NULL, 'r'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *policy_path = NULL;
    const char *text = NULL;
    const char *embedding_text = NULL;
    double budget = NAN;
    double lambda = 0;
    int turn = 0;
    sr_reserve_config reserve;
    sr_reserve_config_default(&reserve);
    sr_error err;
    sr_error_clear(&err);

    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'p':
            policy_path = optarg;
            break;
        case 'b':
            if (!cli_parse_double(COMMAND, "--budget", optarg, &budget))
                return CLI_EXIT_USAGE;
            break;
        case 't':
            text = optarg;
            break;
        case 'e':
            embedding_text = optarg;
            break;
        case 'l':
            if (!cli_parse_double(COMMAND, "--lambda", optarg, &lambda))
                return CLI_EXIT_USAGE;
            break;
        case 'n':
            if (!cli_parse_int(COMMAND, "--turn", optarg, 0, SR_MAX_TURNS - 1, &turn))
                return CLI_EXIT_USAGE;
            break;
        case 'r':
            if (sr_reserve_parse(optarg, &reserve, &err) != SR_OK) {
                cli_usage_error(COMMAND, "%s", err.message);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            print_help(stdout);
            return CLI_EXIT_OK;
        default:
            cli_usage_error(COMMAND, "unknown option");
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!policy_path || isnan(budget) || (!text && !embedding_text)) {
        cli_usage_error(COMMAND, "--policy, --budget and --text or --embedding are required");
        return CLI_EXIT_USAGE;
    }
    if (budget < 0) {
        cli_usage_error(COMMAND, "--budget %g is negative; give the budget that remains", budget);
        return CLI_EXIT_USAGE;
    }

    /* The embedding, when given, as floats. */
    double *values = NULL;
    size_t n_values = 0;
    float *embedding = NULL;
    if (embedding_text) {
        if (!cli_parse_double_list(COMMAND, "--embedding", embedding_text, &values, &n_values))
            return CLI_EXIT_USAGE;
        if (n_values > SR_MAX_EMBEDDING_DIM) {
            cli_usage_error(COMMAND, "--embedding has %zu values; at most %d are accepted",
                            n_values, SR_MAX_EMBEDDING_DIM);
            free(values);
            return CLI_EXIT_USAGE;
        }
        embedding = malloc(n_values * sizeof(float));
        if (!embedding) {
            free(values);
            fprintf(stderr, "seqroute: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        for (size_t i = 0; i < n_values; i++)
            embedding[i] = (float)values[i];
        free(values);
    }

    int rc = CLI_EXIT_FAILURE;
    sr_qpolicy *policy = NULL;
    float *scratch = NULL;
    json_t *json = NULL;
    if (sr_qpolicy_load(policy_path, &policy, &err) != SR_OK) {
        cli_report_error(&err);
        goto done;
    }
    scratch = malloc((size_t)sr_route_scratch_floats(policy) * sizeof(float));
    if (!scratch) {
        fprintf(stderr, "seqroute: error: out of memory\n");
        goto done;
    }

    const sr_route_input input = {.text = text,
                                  .text_len = text ? strlen(text) : 0,
                                  .embedding = embedding,
                                  .embedding_dim = (int)n_values,
                                  .turn = turn,
                                  .remaining = budget,
                                  .lambda = lambda};
    sr_route_result result;
    if (sr_route_decide(policy, &reserve, &input, scratch, &result, &err) != SR_OK) {
        cli_report_error(&err);
        goto done;
    }
    json = sr_route_result_json(policy, &input, &result);
    if (!json || json_dumpf(json, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) != 0 ||
        fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "seqroute: error: could not write the decision to standard output\n");
        goto done;
    }
    rc = CLI_EXIT_OK;

done:
    json_decref(json);
    free(scratch);
    free(embedding);
    sr_qpolicy_free(policy);
    return rc;
}
