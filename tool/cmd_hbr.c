/*
 * cmd_hbr.c - `seqroute hbr`: Hindsight Budget Relabeling statistics.
 *
 * Loads a session file, builds the relabeller with the requested budget
 * levels and path options, visits every relabelled transition once and
 * prints the counts as one JSON object.  Nothing is trained and nothing
 * relabelled is kept in memory, so this runs on data of any size that
 * loads.  The JSON keys are listed in docs/HBR.md.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_learn.h"
#include "seqroute/dataset.h"
#include "seqroute/hbr.h"

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: seqroute hbr --data FILE [BUDGETS] [OPTIONS] --stats\n"
            "\n"
            "Relabels every session of FILE under several starting budgets and action paths\n"
            "(Hindsight Budget Relabeling) and prints the transition counts as JSON.\n"
            "\n"
            "Budgets (at most one; default --budget-fracs 0.05,0.15,0.30,0.50,0.85):\n"
            "  --budgets B1,B2,...      absolute starting budgets in the file's cost unit\n"
            "  --budget-fracs F1,...    fractions of C_ref, the mean cost of a session that\n"
            "                           always calls the model with the highest mean cost\n"
            "  --log-uniform LO,HI,N    N budgets per session drawn log-uniformly in\n"
            "                           [LO, HI] cost units, seeded by session id\n"
            "  --c-ref X                use X as C_ref instead of computing it from FILE\n"
            "\n"
            "Paths:\n"
            "  --max-enum N             enumerate all K^T paths of a full-information\n"
            "                           session when K^T <= N (default 64)\n"
            "  --paths N                otherwise draw N paths per session (default 16)\n"
            "  --mixture U,C,S,G        weights of the behaviours the paths are drawn from:\n"
            "                           uniform random, always-cheapest, always-strongest,\n"
            "                           per-turn greedy best quality (default 0.4,0.2,0.2,0.2)\n"
            "  --dedupe                 count each distinct (session, budget, action prefix)\n"
            "                           transition once, weighted by the paths sharing it\n"
            "\n"
            "Other options:\n"
            "  --eta X                  bankruptcy penalty on the quality scale (default 1)\n"
            "  --seed S                 seed of sampled paths and log-uniform budgets\n"
            "                           (default 1)\n"
            "  --stats                  print the statistics (the only action for now)\n"
            "  --skip-invalid           skip bad session lines instead of stopping\n"
            "  -v, --verbose            log debug events on standard error\n"
            "  -h, --help               print this help\n"
            "\n"
            "Sessions that are neither full-information nor fully logged produce no\n"
            "transitions; they are counted as unusable_sessions and logged.  Exit status: 0 ok,\n"
            "1 invalid data or failed computation, 2 bad command line.\n");
}

static void report_skip(const sr_error *reason, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "seqroute hbr: skipped line: %s\n", reason->message);
}

static json_t *number_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *build_stats_json(const char *path, const sr_hbr *hbr, const sr_hbr_options *opt,
                                const sr_hbr_stats *stats)
{
    json_t *root = json_object();
    const double *levels = NULL;
    const size_t n_levels = sr_hbr_levels(hbr, &levels);

    json_object_set_new(root, "data", json_string(path));
    json_object_set_new(root, "sessions", json_integer((json_int_t)stats->sessions));
    json_object_set_new(root, "transitions", json_integer((json_int_t)stats->transitions));
    json_object_set_new(root, "bankrupt_transitions",
                        json_integer((json_int_t)stats->bankrupt_transitions));
    if (opt->dedupe)
        json_object_set_new(root, "distinct_transitions",
                            json_integer((json_int_t)stats->distinct_transitions));
    json_object_set_new(root, "transitions_per_session",
                        stats->sessions ? json_real((double)stats->transitions /
                                                    (double)stats->sessions)
                                        : json_null());
    json_object_set_new(root, "episodes", json_integer((json_int_t)stats->episodes));
    json_object_set_new(root, "paths", json_integer((json_int_t)stats->paths));

    json_t *kinds = json_object();
    for (int k = 0; k < 4; k++)
        json_object_set_new(kinds, sr_hbr_path_kind_name((sr_hbr_path_kind)k),
                            json_integer((json_int_t)stats->sessions_by_kind[k]));
    json_object_set_new(root, "sessions_by_paths", kinds);
    json_object_set_new(root, "unusable_sessions",
                        json_integer((json_int_t)stats->sessions_by_kind[SR_HBR_PATHS_UNUSABLE]));

    json_object_set_new(root, "c_ref", number_or_null(sr_hbr_c_ref(hbr)));
    if (opt->budget_mode == SR_HBR_BUDGET_LOG_UNIFORM) {
        json_t *range = json_object();
        json_object_set_new(range, "lo", json_real(opt->log_lo));
        json_object_set_new(range, "hi", json_real(opt->log_hi));
        json_object_set_new(range, "n", json_integer(opt->log_n));
        json_object_set_new(root, "budgets", json_null());
        json_object_set_new(root, "log_uniform", range);
    } else {
        json_t *budgets = json_array();
        for (size_t i = 0; i < n_levels; i++)
            json_array_append_new(budgets, json_real(levels[i]));
        json_object_set_new(root, "budgets", budgets);
    }

    /* Per level: the fixed budget, or the mean draw of that rank for log-uniform. */
    json_t *per_budget = json_array();
    for (int l = 0; l < stats->n_levels; l++) {
        json_t *row = json_object();
        const uint64_t paths = stats->paths;
        json_object_set_new(row, "level", json_integer(l));
        if (levels != NULL)
            json_object_set_new(row, "budget", json_real(levels[l]));
        else
            json_object_set_new(row, "mean_budget",
                                paths ? json_real(stats->level_budget_sum[l] /
                                                     (double)paths)
                                         : json_null());
        json_object_set_new(row, "transitions",
                            json_integer((json_int_t)stats->level_transitions[l]));
        json_object_set_new(row, "bankrupt_transitions",
                            json_integer((json_int_t)stats->level_bankrupt[l]));
        json_array_append_new(per_budget, row);
    }
    json_object_set_new(root, "per_budget", per_budget);

    /* Settings, so the output documents itself. */
    json_t *mixture = json_array();
    for (int i = 0; i < SR_HBR_N_BEHAVIOURS; i++)
        json_array_append_new(mixture, json_real(opt->mixture[i]));
    json_object_set_new(root, "max_enum", json_integer((json_int_t)opt->max_enum));
    json_object_set_new(root, "n_paths", json_integer(opt->n_paths));
    json_object_set_new(root, "mixture", mixture);
    json_object_set_new(root, "dedupe", json_boolean(opt->dedupe));
    json_object_set_new(root, "eta", json_real(opt->mdp.eta));
    json_object_set_new(root, "seed", json_integer((json_int_t)opt->seed));
    json_object_set_new(root, "bytes_per_transition",
                        json_integer((json_int_t)sizeof(sr_hbr_transition)));
    json_object_set_new(root, "materialised_bytes",
                        json_integer((json_int_t)(stats->distinct_transitions *
                                                  sizeof(sr_hbr_transition))));
    return root;
}

/* Parses "LO,HI,N" for --log-uniform. */
static bool parse_log_uniform(const char *text, sr_hbr_options *opt)
{
    double *values = NULL;
    size_t count = 0;
    if (!cli_parse_double_list("hbr", "--log-uniform", text, &values, &count))
        return false;
    bool ok = count == 3 && values[2] >= 1 && values[2] <= SR_HBR_MAX_LEVELS &&
              values[2] == floor(values[2]);
    if (ok) {
        opt->log_lo = values[0];
        opt->log_hi = values[1];
        opt->log_n = (int)values[2];
    } else {
        cli_usage_error("hbr",
                        "--log-uniform needs LO,HI,N with N a whole number in 1..%d, got '%s'",
                        SR_HBR_MAX_LEVELS, text);
    }
    free(values);
    return ok;
}

static bool parse_mixture(const char *text, sr_hbr_options *opt)
{
    double *values = NULL;
    size_t count = 0;
    if (!cli_parse_double_list("hbr", "--mixture", text, &values, &count))
        return false;
    const bool ok = count == SR_HBR_N_BEHAVIOURS;
    if (ok)
        memcpy(opt->mixture, values, sizeof(opt->mixture));
    else
        cli_usage_error("hbr", "--mixture needs 4 weights U,C,S,G, got %zu in '%s'", count, text);
    free(values);
    return ok;
}

int cmd_hbr(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"data", required_argument, NULL, 'd'},
        {"budgets", required_argument, NULL, 'b'},
        {"budget-fracs", required_argument, NULL, 'f'},
        {"log-uniform", required_argument, NULL, 'l'},
        {"c-ref", required_argument, NULL, 'c'},
        {"max-enum", required_argument, NULL, 'm'},
        {"paths", required_argument, NULL, 'p'},
        {"mixture", required_argument, NULL, 'x'},
        {"dedupe", no_argument, NULL, 'D'},
        {"eta", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 's'},
        {"stats", no_argument, NULL, 'S'},
        {"skip-invalid", no_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL;
    double *values = NULL;
    int budget_options = 0;
    bool stats_requested = false;
    bool skip_invalid = false;
    bool verbose = false;
    int exit_code = CLI_EXIT_USAGE;
    sr_hbr_options opt;
    sr_hbr_options_default(&opt);

    /* Options. */
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":hv", long_options, NULL);
        if (c == -1)
            break;
        uint64_t u = 0;
        int n = 0;
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'b':
        case 'f':
            free(values);
            values = NULL;
            if (!cli_parse_budget_levels("hbr", c == 'b' ? "--budgets" : "--budget-fracs", optarg,
                                         &values, &opt.n_budget_values))
                goto out;
            opt.budget_mode = c == 'b' ? SR_HBR_BUDGET_ABSOLUTE : SR_HBR_BUDGET_FRACTIONS;
            budget_options++;
            break;
        case 'l':
            if (!parse_log_uniform(optarg, &opt))
                goto out;
            opt.budget_mode = SR_HBR_BUDGET_LOG_UNIFORM;
            budget_options++;
            break;
        case 'c':
            if (!cli_parse_double("hbr", "--c-ref", optarg, &opt.c_ref))
                goto out;
            if (opt.c_ref < 0) {
                cli_usage_error("hbr", "--c-ref must be >= 0, got %s", optarg);
                goto out;
            }
            break;
        case 'm':
            if (!cli_parse_u64("hbr", "--max-enum", optarg, &u))
                goto out;
            opt.max_enum = u;
            break;
        case 'p':
            if (!cli_parse_int("hbr", "--paths", optarg, 1, SR_HBR_MAX_PATHS, &n))
                goto out;
            opt.n_paths = n;
            break;
        case 'x':
            if (!parse_mixture(optarg, &opt))
                goto out;
            break;
        case 'D':
            opt.dedupe = true;
            break;
        case 'e':
            if (!cli_parse_double("hbr", "--eta", optarg, &opt.mdp.eta))
                goto out;
            break;
        case 's':
            if (!cli_parse_u64("hbr", "--seed", optarg, &opt.seed))
                goto out;
            break;
        case 'S':
            stats_requested = true;
            break;
        case 'k':
            skip_invalid = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            print_usage(stdout);
            exit_code = CLI_EXIT_OK;
            goto out;
        case ':':
            cli_usage_error("hbr", "option %s needs a value", argv[optind - 1]);
            goto out;
        default:
            cli_usage_error("hbr", "unknown option '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        cli_usage_error("hbr", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (data == NULL) {
        cli_usage_error("hbr", "--data FILE is required");
        goto out;
    }
    if (budget_options > 1) {
        cli_usage_error("hbr", "give at most one of --budgets, --budget-fracs, --log-uniform");
        goto out;
    }
    if (!stats_requested) {
        cli_usage_error("hbr", "nothing to do: pass --stats to print the counts");
        goto out;
    }
    if (opt.max_enum < 1 || opt.max_enum > SR_HBR_MAX_ENUM) {
        cli_usage_error("hbr", "--max-enum must be in 1..%d, got %llu", SR_HBR_MAX_ENUM,
                        (unsigned long long)opt.max_enum);
        goto out;
    }
    opt.budget_values = values;
    cli_log_init(verbose);

    /* Load, relabel, count. */
    exit_code = CLI_EXIT_FAILURE;
    sr_load_options load_options = {.skip_invalid = skip_invalid, .on_skip = report_skip};
    sr_dataset ds;
    sr_error err;
    size_t skipped = 0;
    if (sr_dataset_load(data, &load_options, &ds, &skipped, &err) != SR_OK) {
        cli_report_error(&err);
        goto out;
    }
    if (skip_invalid)
        fprintf(stderr, "seqroute hbr: skipped %zu invalid session line%s\n", skipped,
                skipped == 1 ? "" : "s");

    sr_hbr *hbr = NULL;
    sr_hbr_stats stats;
    memset(&stats, 0, sizeof(stats));
    if (sr_hbr_create(&ds, &opt, &hbr, &err) != SR_OK ||
        sr_hbr_stats_compute(hbr, &stats, &err) != SR_OK) {
        cli_report_error(&err);
    } else {
        json_t *root = build_stats_json(data, hbr, &opt, &stats);
        const int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                                    JSON_REAL_PRECISION(10));
        json_decref(root);
        if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
            fprintf(stderr, "seqroute hbr: writing the statistics failed\n");
        else
            exit_code = CLI_EXIT_OK;
        const size_t unusable = stats.sessions_by_kind[SR_HBR_PATHS_UNUSABLE];
        if (unusable > 0)
            fprintf(stderr,
                    "seqroute hbr: warning: %zu of %zu sessions are unusable (neither "
                    "full-information nor fully logged) and produce no transitions\n",
                    unusable, stats.sessions);
    }
    sr_hbr_stats_free(&stats);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);

out:
    free(values);
    return exit_code;
}
