/*
 * cmd_eval.c - `seqroute eval`: evaluate routing policies on sessions under
 * one or more starting budgets and print a table (and optionally JSON).
 *
 * The command parses options, loads the evaluation data (and the reference
 * data the baselines estimate model quality and cost from), hands the work
 * to sr_eval_report_build and formats the result.  Exit codes: 0 on success,
 * 1 for bad data or failed I/O, 2 for a bad command line, including an
 * unknown policy name.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_paths.h"
#include "seqroute/calibrate.h"
#include "seqroute/eval.h"
#include "seqroute/qpolicy.h"

static const char *const COMMAND = "eval";

/* Number of models shown in the table's share column; the JSON has them all. */
#define TABLE_TOP_MODELS 2

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: seqroute eval --data FILE --policy NAME[,NAME...]\n"
            "                     (--budget B[,B...] | --budget-frac F[,F...]) [options]\n"
            "\n"
            "Runs each policy over every session of FILE, starting each session with each\n"
            "budget, and prints one table row per policy and budget.\n"
            "\n"
            "Policies:\n"
            "  oracle             hindsight oracle: best path with all outcomes known\n"
            "  random             uniform over the models (seeded per session)\n"
            "  heuristic          best model by mean quality that leaves enough budget to\n"
            "                     finish the expected remaining turns with the cheapest\n"
            "  always:MODEL       always MODEL\n"
            "  always-cheapest    always the model with the lowest mean cost per turn\n"
            "  always-strongest   always the model with the highest mean quality\n"
            "  all                every policy above, with always:MODEL for each model\n"
            "  cql:FILE, bc:FILE, dqn:FILE, myopic:FILE\n"
            "                     a learned policy from policy file FILE (seqroute train),\n"
            "                     its rows named cql, bc, dqn or myopic\n"
            "  FILE, policy:FILE  the same, named by the algorithm stored in FILE\n"
            "\n"
            "Options:\n"
            "  --data FILE          sessions to evaluate on (seqroute JSON Lines; - for stdin)\n"
            "  --policy LIST        comma-separated policy names\n"
            "  --budget LIST        starting budgets per session, in the data's cost unit\n"
            "  --budget-frac LIST   starting budgets as fractions of C_ref, the mean cost of\n"
            "                       a session that always calls the most expensive model\n"
            "  --json OUT           also write the results as JSON to OUT (- for stdout;\n"
            "                       the table then goes to standard error)\n"
            "  --seed S             seed of the per-session random streams (default %d)\n"
            "  --eta X              bankruptcy penalty subtracted from the reward (default %g)\n"
            "  --bankrupt MODE      unserved (default): an unaffordable call is made and the\n"
            "                       session goes bankrupt, leaving later turns unserved;\n"
            "                       fallback: an unaffordable call is replaced by the\n"
            "                       fallback model, bankrupt only when that overspends too\n"
            "  --fallback-model M   fallback model for --bankrupt fallback (default: the\n"
            "                       model flagged \"fallback\" in the catalogue)\n"
            "  --oracle-objective O quality (default): the oracle maximises the served\n"
            "                       quality, so it bounds every policy's mean_quality;\n"
            "                       return: it maximises the MDP return (q - eta when bankrupt)\n"
            "  --lambda LIST        learned policies: run once per lambda of the decision\n"
            "                       rule argmax Q(s,a) - lambda * c(a) / c_max, with c(a)\n"
            "                       the model's mean cost per turn in the training data and\n"
            "                       c_max the largest (default 0)\n"
            "  --sweep              learned policies (but BC): lambda in 0,0.02,0.05,0.1,0.2,\n"
            "                       0.3,0.5,0.75,1; the heuristic: reserve in 0,0.5,1,1.5,\n"
            "                       2,3,5 unless --reserve is given; then report each swept\n"
            "                       policy's frontier, its AIQ and the dominance table\n"
            "  --reference FILE     sessions the baselines take model means from (default:\n"
            "                       the evaluation data)\n"
            "  --c-ref X            C_ref that --budget-frac multiplies, in the data's cost\n"
            "                       unit (default: computed from the evaluation data); pass\n"
            "                       the training split's value so fractions match across splits\n"
            "  --reserve LIST       heuristic: multipliers >= 0 on the reserve kept for the\n"
            "                       remaining turns (default %g); several values sweep it\n"
            "  --true-remaining     heuristic: use the session's true remaining turn count\n"
            "                       instead of the expected count from the reference\n"
            "  --calibration FILE   check a calibration file of seqroute calibrate: run its\n"
            "                       policy at its lambda and budget (with any --policy as\n"
            "                       well) and report the drift of the realised value from\n"
            "                       the target; replaces --budget, --lambda and --sweep\n"
            "  --drift-tolerance X  allowed |realised - target| before a warning (default:\n"
            "                       10%% of a spend target, 0.02 for a rate); exit stays 0\n"
            "  --skip-invalid       report and skip bad session lines instead of failing\n"
            "  --verbose            log debug events to standard error\n"
            "  --help               print this help\n",
            SR_EVAL_DEFAULT_SEED, SR_MDP_DEFAULT_ETA, SR_HEURISTIC_DEFAULT_RESERVE);
}

typedef struct eval_args {
    const char *data;
    const char *reference;
    const char *json;
    const char *fallback_model;
    char **policies;
    size_t n_policies;
    double *budgets;
    size_t n_budgets;
    bool fractions;
    uint64_t seed;
    double eta;
    sr_bankrupt_mode bankrupt;
    sr_oracle_objective oracle_objective;
    double *reserves;
    size_t n_reserves;
    bool sweep;
    bool true_remaining;
    bool skip_invalid;
    bool verbose;
    double *lambdas;
    size_t n_lambdas;
    const char *calibration_path;
    sr_calibration calibration;
    double drift_tolerance; /* < 0: the default */
    double c_ref;           /* --c-ref, NAN when absent */
} eval_args;

enum {
    OPT_DATA = 1000,
    OPT_POLICY,
    OPT_BUDGET,
    OPT_BUDGET_FRAC,
    OPT_JSON,
    OPT_SEED,
    OPT_ETA,
    OPT_BANKRUPT,
    OPT_FALLBACK_MODEL,
    OPT_ORACLE_OBJECTIVE,
    OPT_REFERENCE,
    OPT_C_REF,
    OPT_RESERVE,
    OPT_TRUE_REMAINING,
    OPT_SKIP_INVALID,
    OPT_VERBOSE,
    OPT_HELP,
    OPT_LAMBDA,
    OPT_SWEEP,
    OPT_CALIBRATION,
    OPT_DRIFT_TOLERANCE
};

/*
 * Reads the calibration file and sets the policy, budget, λ and η from it,
 * putting its policy before any --policy; returns -1 to go on, else the
 * exit code.
 */
static int apply_calibration(eval_args *args)
{
    if (args->budgets != NULL || args->lambdas != NULL) {
        cli_usage_error(COMMAND, "--calibration sets the budget and lambda; drop --budget, "
                                 "--budget-frac, --lambda and --sweep");
        return CLI_EXIT_USAGE;
    }
    sr_error err;
    sr_error_clear(&err);
    if (sr_calibration_read(args->calibration_path, &args->calibration, &err) != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    const sr_calibration *cal = &args->calibration;

    char **policies = calloc(args->n_policies + 1, sizeof(char *));
    args->budgets = malloc(sizeof(double));
    args->lambdas = malloc(sizeof(double));
    if (policies == NULL || args->budgets == NULL || args->lambdas == NULL ||
        (policies[0] = strdup(cal->policy)) == NULL) {
        free(policies);
        fprintf(stderr, "seqroute eval: error: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < args->n_policies; i++)
        policies[i + 1] = args->policies[i];
    free(args->policies);
    args->policies = policies;
    args->n_policies++;
    args->budgets[0] = cal->budget;
    args->n_budgets = 1;
    args->fractions = false;
    args->lambdas[0] = cal->lambda;
    args->n_lambdas = 1;
    args->eta = cal->eta;
    return -1;
}

/* Parses argv into `args`; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, eval_args *args)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"budget-frac", required_argument, NULL, OPT_BUDGET_FRAC},
        {"json", required_argument, NULL, OPT_JSON},
        {"seed", required_argument, NULL, OPT_SEED},
        {"eta", required_argument, NULL, OPT_ETA},
        {"bankrupt", required_argument, NULL, OPT_BANKRUPT},
        {"fallback-model", required_argument, NULL, OPT_FALLBACK_MODEL},
        {"oracle-objective", required_argument, NULL, OPT_ORACLE_OBJECTIVE},
        {"reference", required_argument, NULL, OPT_REFERENCE},
        {"c-ref", required_argument, NULL, OPT_C_REF},
        {"reserve", required_argument, NULL, OPT_RESERVE},
        {"true-remaining", no_argument, NULL, OPT_TRUE_REMAINING},
        {"skip-invalid", no_argument, NULL, OPT_SKIP_INVALID},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {"lambda", required_argument, NULL, OPT_LAMBDA},
        {"sweep", no_argument, NULL, OPT_SWEEP},
        {"calibration", required_argument, NULL, OPT_CALIBRATION},
        {"drift-tolerance", required_argument, NULL, OPT_DRIFT_TOLERANCE},
        {NULL, 0, NULL, 0},
    };
    bool have_absolute = false;

    optind = 1;
    opterr = 0;
    for (;;) {
        const int c = getopt_long(argc, argv, "", options, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_DATA:
            args->data = optarg;
            break;
        case OPT_POLICY:
            cli_free_strings(args->policies, args->n_policies);
            args->policies = NULL;
            if (!cli_parse_string_list(COMMAND, "--policy", optarg, &args->policies,
                                       &args->n_policies))
                return CLI_EXIT_USAGE;
            break;
        case OPT_BUDGET:
        case OPT_BUDGET_FRAC:
            if (args->budgets != NULL) {
                cli_usage_error(COMMAND, "give one --budget or one --budget-frac, not both "
                                         "or twice");
                return CLI_EXIT_USAGE;
            }
            have_absolute = c == OPT_BUDGET;
            args->fractions = c == OPT_BUDGET_FRAC;
            if (!cli_parse_double_list(COMMAND, have_absolute ? "--budget" : "--budget-frac",
                                       optarg, &args->budgets, &args->n_budgets))
                return CLI_EXIT_USAGE;
            break;
        case OPT_JSON:
            args->json = optarg;
            break;
        case OPT_SEED:
            if (!cli_parse_u64(COMMAND, "--seed", optarg, &args->seed))
                return CLI_EXIT_USAGE;
            break;
        case OPT_ETA:
            if (!cli_parse_double(COMMAND, "--eta", optarg, &args->eta))
                return CLI_EXIT_USAGE;
            break;
        case OPT_BANKRUPT:
            if (strcmp(optarg, "unserved") == 0)
                args->bankrupt = SR_BANKRUPT_UNSERVED;
            else if (strcmp(optarg, "fallback") == 0)
                args->bankrupt = SR_BANKRUPT_FALLBACK;
            else {
                cli_usage_error(COMMAND,
                                "option --bankrupt: '%s' is not 'unserved' or "
                                "'fallback'",
                                optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_FALLBACK_MODEL:
            args->fallback_model = optarg;
            break;
        case OPT_ORACLE_OBJECTIVE:
            if (!sr_oracle_objective_parse(optarg, &args->oracle_objective)) {
                cli_usage_error(COMMAND,
                                "option --oracle-objective: '%s' is not 'quality' or "
                                "'return'",
                                optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_REFERENCE:
            args->reference = optarg;
            break;
        case OPT_C_REF:
            if (!cli_parse_double(COMMAND, "--c-ref", optarg, &args->c_ref))
                return CLI_EXIT_USAGE;
            if (!(args->c_ref > 0)) {
                cli_usage_error(COMMAND, "option --c-ref: %s is not a positive cost", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_RESERVE:
            free(args->reserves);
            args->reserves = NULL;
            if (!cli_parse_double_list(COMMAND, "--reserve", optarg, &args->reserves,
                                       &args->n_reserves))
                return CLI_EXIT_USAGE;
            break;
        case OPT_TRUE_REMAINING:
            args->true_remaining = true;
            break;
        case OPT_SKIP_INVALID:
            args->skip_invalid = true;
            break;
        case OPT_VERBOSE:
            args->verbose = true;
            break;
        case OPT_HELP:
            print_help(stdout);
            return CLI_EXIT_OK;
        case OPT_CALIBRATION:
            args->calibration_path = optarg;
            break;
        case OPT_DRIFT_TOLERANCE:
            if (!cli_parse_double(COMMAND, "--drift-tolerance", optarg, &args->drift_tolerance))
                return CLI_EXIT_USAGE;
            if (args->drift_tolerance < 0) {
                cli_usage_error(COMMAND, "option --drift-tolerance: %g is negative",
                                args->drift_tolerance);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_LAMBDA:
        case OPT_SWEEP:
            if (args->lambdas != NULL) {
                cli_usage_error(COMMAND, "give one --lambda or --sweep, not both or twice");
                return CLI_EXIT_USAGE;
            }
            if (c == OPT_LAMBDA) {
                if (!cli_parse_double_list(COMMAND, "--lambda", optarg, &args->lambdas,
                                           &args->n_lambdas))
                    return CLI_EXIT_USAGE;
                break;
            }
            args->sweep = true;
            static const double sweep[SR_QPOLICY_SWEEP_N] = SR_QPOLICY_SWEEP_LAMBDAS;
            args->lambdas = malloc(sizeof(sweep));
            if (args->lambdas == NULL) {
                fprintf(stderr, "seqroute eval: error: out of memory\n");
                return CLI_EXIT_FAILURE;
            }
            memcpy(args->lambdas, sweep, sizeof(sweep));
            args->n_lambdas = SR_QPOLICY_SWEEP_N;
            break;
        default:
            cli_usage_error(COMMAND, "unknown option or missing value in '%s'", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }

    /* Required options and value ranges. */
    if (optind < argc) {
        cli_usage_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (args->calibration_path != NULL) {
        const int code = apply_calibration(args);
        if (code >= 0)
            return code;
    }
    if (args->data == NULL || args->policies == NULL || args->budgets == NULL) {
        cli_usage_error(COMMAND, "--data, --policy and one of --budget or --budget-frac "
                                 "are required");
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < args->n_budgets; i++)
        if (args->budgets[i] < 0) {
            cli_usage_error(COMMAND, "option %s: budget %g is negative",
                            args->fractions ? "--budget-frac" : "--budget", args->budgets[i]);
            return CLI_EXIT_USAGE;
        }
    if (args->eta < 0) {
        cli_usage_error(COMMAND, "option --eta: penalty %g is negative", args->eta);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < args->n_reserves; i++)
        if (args->reserves[i] < 0) {
            cli_usage_error(COMMAND, "option --reserve: multiplier %g is negative",
                            args->reserves[i]);
            return CLI_EXIT_USAGE;
        }
    if (args->sweep && args->reserves == NULL) {
        static const double grid[SR_EVAL_RESERVE_SWEEP_N] = SR_EVAL_RESERVE_SWEEP;
        args->reserves = malloc(sizeof(grid));
        if (args->reserves == NULL) {
            fprintf(stderr, "seqroute eval: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        memcpy(args->reserves, grid, sizeof(grid));
        args->n_reserves = SR_EVAL_RESERVE_SWEEP_N;
    }

    /* The report must not overwrite an input. */
    const char *const inputs[] = {args->data, args->reference};
    for (size_t i = 0; args->json != NULL && i < sizeof(inputs) / sizeof(inputs[0]); i++)
        if (inputs[i] != NULL && cmd_same_file(args->json, inputs[i])) {
            cli_usage_error(COMMAND,
                            "--json %s names the input file %s and would overwrite it; "
                            "choose another file",
                            args->json, inputs[i]);
            return CLI_EXIT_USAGE;
        }
    return -1;
}

/* Reports a skipped line of a session file. */
static void report_skip(const sr_error *reason, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "seqroute eval: skipped: %s\n", reason->message);
}

/* True when some requested policy is learned: those may read the turn text. */
static bool wants_text(const eval_args *args)
{
    for (size_t i = 0; i < args->n_policies; i++)
        if (sr_policy_name_is_learned(args->policies[i]))
            return true;
    return false;
}

static int load(const char *path, bool skip_invalid, bool keep_text, sr_dataset *ds)
{
    sr_error err;
    sr_load_options options = {0};
    size_t skipped = 0;
    options.drop_text = !keep_text;
    options.skip_invalid = skip_invalid;
    options.on_skip = report_skip;
    sr_error_clear(&err);
    if (sr_dataset_load(path, &options, ds, &skipped, &err) != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    if (skipped > 0)
        fprintf(stderr, "seqroute eval: %s: skipped %zu invalid session lines\n", path, skipped);
    return CLI_EXIT_OK;
}

/* Resolves the fallback model for --bankrupt fallback into `config`. */
static int resolve_fallback(const eval_args *args, const sr_dataset *ds, sr_mdp_config *config)
{
    if (args->bankrupt != SR_BANKRUPT_FALLBACK)
        return CLI_EXIT_OK;
    if (args->fallback_model != NULL) {
        config->fallback_model = sr_dataset_find_model(ds, args->fallback_model);
        if (config->fallback_model < 0) {
            cli_usage_error(COMMAND,
                            "option --fallback-model: model '%s' is not in the "
                            "catalogue of %s",
                            args->fallback_model, args->data);
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    }
    config->fallback_model = sr_mdp_find_fallback(&ds->catalogue);
    if (config->fallback_model < 0) {
        fprintf(stderr,
                "seqroute eval: error: %s: no model in the catalogue has \"fallback\": true; "
                "flag one, name one with --fallback-model, or use --bankrupt unserved\n",
                args->data);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* Formats the largest model shares of a row as "name 62% name 38%". */
static void format_top_shares(const sr_eval_metrics *row, const sr_dataset *ds, char *text,
                              size_t size)
{
    bool used[SR_MAX_MODELS] = {false};
    size_t length = 0;
    text[0] = '\0';
    for (int n = 0; n < TABLE_TOP_MODELS && length < size; n++) {
        int best = -1;
        for (int k = 0; k < row->n_models; k++)
            if (!used[k] && row->model_share[k] > 0 &&
                (best < 0 || row->model_share[k] > row->model_share[best]))
                best = k;
        if (best < 0)
            break;
        used[best] = true;
        length += (size_t)snprintf(text + length, size - length, "%s%s %.0f%%", n ? "  " : "",
                                   ds->catalogue.models[best].name, 100 * row->model_share[best]);
    }
}

/* Prints a number, or "-" for an undefined one. */
static void print_number(FILE *out, int width, int precision, double x)
{
    if (isfinite(x))
        fprintf(out, "%*.*f", width, precision, x);
    else
        fprintf(out, "%*s", width, "-");
}

/*
 * Writes a row's label: its name, with " lambda=L" for a learned policy and
 * " reserve=R" for a swept heuristic.
 */
static void row_label(const sr_eval_metrics *row, char *text, size_t size)
{
    if (isfinite(row->lambda))
        snprintf(text, size, "%s lambda=%g", row->name, row->lambda);
    else if (isfinite(row->reserve))
        snprintf(text, size, "%s reserve=%g", row->name, row->reserve);
    else
        snprintf(text, size, "%s", row->name);
}

static void print_table(FILE *out, const sr_eval_report *report, const sr_dataset *ds,
                        const eval_args *args)
{
    char label[SR_POLICY_NAME_MAX + 32];
    int name_width = (int)strlen("policy");
    for (size_t i = 0; i < report->n_rows; i++) {
        row_label(&report->rows[i], label, sizeof(label));
        const int w = (int)strlen(label);
        if (w > name_width)
            name_width = w;
    }

    /* Header lines: what was run, with what. */
    fprintf(out,
            "data %s: %zu sessions, seed %llu, eta %g, bankrupt treatment %s, oracle "
            "objective %s\n",
            args->data, report->sessions, (unsigned long long)report->seed, report->mdp.eta,
            sr_bankrupt_mode_name(report->mdp.bankrupt_mode),
            sr_oracle_objective_name(args->oracle_objective));
    if (report->c_ref_given)
        fprintf(out, "C_ref %.6g %s (given with --c-ref)\n", report->c_ref,
                ds->catalogue.cost_unit ? ds->catalogue.cost_unit : "");
    else if (report->c_ref_model >= 0)
        fprintf(out, "C_ref %.6g %s (mean cost of an always-%s session)\n", report->c_ref,
                ds->catalogue.cost_unit ? ds->catalogue.cost_unit : "",
                ds->catalogue.models[report->c_ref_model].name);
    fprintf(out, "\n%-*s %12s %6s %12s %22s %9s %9s %7s  %s\n", name_width, "policy", "budget",
            "frac", "mean_cost", "bankrupt % [95% CI]", "quality", "return", "gap", "top models");

    /* One row per (policy, budget), a blank line between budgets. */
    for (size_t i = 0; i < report->n_rows; i++) {
        const sr_eval_metrics *row = &report->rows[i];
        if (i > 0 && row->budget != report->rows[i - 1].budget)
            fputc('\n', out);
        char shares[256];
        char bankrupt[64];
        format_top_shares(row, ds, shares, sizeof(shares));
        snprintf(bankrupt, sizeof(bankrupt), "%5.1f [%5.1f, %5.1f]", 100 * row->bankruptcy_rate,
                 100 * row->bankruptcy_ci[0], 100 * row->bankruptcy_ci[1]);

        row_label(row, label, sizeof(label));
        fprintf(out, "%-*s ", name_width, label);
        fprintf(out, "%12.6g ", row->budget);
        print_number(out, 6, 3, row->budget_frac);
        fprintf(out, " %12.6g %22s ", row->mean_cost, bankrupt);
        print_number(out, 9, 4, row->mean_quality);
        fputc(' ', out);
        print_number(out, 9, 4, row->mean_return);
        fputc(' ', out);
        print_number(out, 7, 3, row->oracle_gap_closed);
        fprintf(out, "  %s\n", shares);
    }

    /* Legend: units and the meaning of the derived columns. */
    const char *unit = ds->catalogue.cost_unit ? ds->catalogue.cost_unit : "cost units";
    fprintf(out, "\nbudget, mean_cost: %s per session.\n", unit);
    fprintf(out, "quality: mean per turn; turns unserved after a bankruptcy count 0.\n");
    fprintf(out, "return: mean undiscounted return per session (quality, minus eta at a "
                 "bankruptcy).\n");
    fprintf(out, "gap: share of the oracle's quality gain over always-cheapest that the "
                 "policy recovers\n     ('-' when that gain is under 1%% of the quality "
                 "range).\n");
}

/* Rows of family `f` at the budget starting at row `first`: counts points and Pareto points. */
static void count_family(const sr_eval_report *report, size_t first, size_t per_budget, size_t f,
                         size_t *points, size_t *pareto)
{
    *points = 0;
    *pareto = 0;
    for (size_t r = first; r < first + per_budget; r++)
        if (report->rows[r].family == f) {
            (*points)++;
            *pareto += report->rows[r].pareto;
        }
}

/* Prints the AIQ table and the dominance table of every budget. */
static void print_frontier_summary(FILE *out, const sr_eval_report *report)
{
    if (!report->frontier || report->n_budgets == 0)
        return;
    const size_t per_budget = report->n_rows / report->n_budgets;
    char label[SR_POLICY_NAME_MAX + 32];
    int width = (int)strlen("baseline");
    for (size_t i = 0; i < report->n_rows; i++) {
        row_label(&report->rows[i], label, sizeof(label));
        if ((int)strlen(label) > width)
            width = (int)strlen(label);
    }

    fprintf(out, "\nFrontiers.  AIQ: the mean, over a cost range shared by all policies at a "
                 "budget, of the best\nmean quality that mixing a policy's configurations per "
                 "session reaches at that mean cost,\nwith always-cheapest's point added to "
                 "every policy as the anchor (docs/EVALUATION.md).\nPareto: points no other "
                 "point of the same policy beats in cost, quality and bankruptcy rate.\n");
    for (size_t b = 0; b < report->n_budgets; b++) {
        const size_t first = b * per_budget;
        const sr_eval_aiq_range *range = &report->aiq_ranges[b];
        fprintf(out, "\nbudget %.6g", report->rows[first].budget);
        if (!isnan(report->rows[first].budget_frac))
            fprintf(out, " (frac %.3f)", report->rows[first].budget_frac);
        fprintf(out, ": AIQ over mean cost [%.6g, %.6g], anchor quality %.4f\n", range->lo,
                range->hi, range->anchor_quality);
        fprintf(out, "  %-*s %-8s %6s %6s %8s\n", width, "policy", "swept", "points", "pareto",
                "AIQ");
        for (size_t f = 0; f < report->n_families; f++) {
            if (!report->families[f].deployable)
                continue;
            size_t points, pareto;
            count_family(report, first, per_budget, f, &points, &pareto);
            const sr_eval_sweep sweep = report->families[f].sweep;
            fprintf(out, "  %-*s %-8s %6zu %6zu ", width, report->families[f].name,
                    sweep == SR_EVAL_SWEEP_LAMBDA    ? "lambda"
                    : sweep == SR_EVAL_SWEEP_RESERVE ? "reserve"
                                                     : "-",
                    points, pareto);
            print_number(out, 8, 4, report->aiq[b * report->n_families + f]);
            fputc('\n', out);
        }
    }

    /* Dominance, grouped by budget as the entries are. */
    size_t i = 0;
    while (i < report->n_dominance) {
        const sr_eval_dominance *head = &report->dominance[i];
        const char *seqroute = report->families[head->seqroute_family].name;
        fprintf(out,
                "\nDominance at budget %.6g: the cheapest %s point with at least the baseline's "
                "quality\nand at most its bankruptcy rate; cost is that point's cost change "
                "against the baseline.\n",
                report->rows[head->baseline_row].budget, seqroute);
        fprintf(out, "  %-*s %12s %8s %9s   %-*s %12s %8s %9s %8s\n", width, "baseline",
                "mean_cost", "quality", "bankrupt%", width, seqroute, "mean_cost", "quality",
                "bankrupt%", "cost");
        size_t dominated = 0, dearer = 0, unmatched = 0;
        for (; i < report->n_dominance &&
               report->dominance[i].budget_index == head->budget_index &&
               report->dominance[i].seqroute_family == head->seqroute_family;
             i++) {
            const sr_eval_dominance *d = &report->dominance[i];
            const sr_eval_metrics *base = &report->rows[d->baseline_row];
            row_label(base, label, sizeof(label));
            fprintf(out, "  %-*s %12.6g %8.4f %9.1f   ", width, label, base->mean_cost,
                    base->mean_quality, 100 * base->bankruptcy_rate);
            if (d->match_row < 0) {
                fprintf(out, "none\n");
                unmatched++;
                continue;
            }
            const sr_eval_metrics *match = &report->rows[d->match_row];
            row_label(match, label, sizeof(label));
            fprintf(out, "%-*s %12.6g %8.4f %9.1f ", width, label, match->mean_cost,
                    match->mean_quality, 100 * match->bankruptcy_rate);
            if (base->mean_cost > 0)
                fprintf(out, "%+7.1f%%\n", 100 * (match->mean_cost / base->mean_cost - 1));
            else
                fprintf(out, "%8s\n", "-");
            if (match->mean_cost <= base->mean_cost)
                dominated++;
            else
                dearer++;
        }
        fprintf(out,
                "  %s dominates %zu of %zu baseline points (no dearer, at least as good, no "
                "more bankrupt); %zu more\n  are matched only at a higher cost; %zu have no "
                "match.\n",
                seqroute, dominated, dominated + dearer + unmatched, dearer, unmatched);
    }
}

/*
 * Prints the drift of the calibrated policy's realised value from its target
 * and stores the check as JSON in the report.  Returns false when out of
 * memory.
 */
static bool check_calibration(FILE *out, const eval_args *args, sr_eval_report *report,
                              const sr_dataset *ds)
{
    const sr_calibration *cal = &args->calibration;
    const sr_eval_metrics *row = NULL;
    for (size_t i = 0; i < report->n_rows && row == NULL; i++)
        if (strcmp(report->families[report->rows[i].family].source, cal->policy) == 0)
            row = &report->rows[i];
    if (row == NULL)
        return true;
    int share_model = -1;
    if (cal->target == SR_CALIBRATE_SHARE) {
        share_model = sr_dataset_find_model(ds, cal->share_model);
        if (share_model < 0)
            fprintf(out, "\nwarning: the share model '%s' of %s is not in the catalogue of %s\n",
                    cal->share_model, args->calibration_path, args->data);
    }
    sr_calibration_drift drift;
    sr_calibration_check(cal, share_model, row, args->drift_tolerance, &drift);

    fprintf(out, "\nCalibration check (%s): %s at lambda %.6g, budget %.6g\n",
            args->calibration_path, cal->policy, cal->lambda, cal->budget);
    fprintf(out, "  target %s%s%s at most %.6g; on the calibration data %.6g (%s)\n",
            sr_calibrate_target_name(cal->target),
            cal->target == SR_CALIBRATE_SHARE ? " of " : "",
            cal->target == SR_CALIBRATE_SHARE ? cal->share_model : "", cal->value, cal->realised,
            sr_calibrate_status_name(cal->status));
    fprintf(out, "  realised here %.6g [95%% CI %.6g, %.6g], drift %+.6g (tolerance %.6g)\n",
            drift.realised, drift.ci[0], drift.ci[1], drift.drift, drift.tolerance);
    if (drift.warn)
        fprintf(out, "  warning: the realised value drifts from the target by more than the "
                     "tolerance; recalibrate on data like this\n");
    if (cal->status == SR_CALIBRATE_UNREACHABLE)
        fprintf(out, "  warning: the calibration itself did not reach its target\n");

    report->calibration_json = sr_calibration_check_json(cal, row, &drift);
    return report->calibration_json != NULL;
}

static int write_json(const eval_args *args, const sr_eval_report *report, const sr_dataset *ds)
{
    sr_error err;
    sr_error_clear(&err);
    const bool to_stdout = strcmp(args->json, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(args->json, "w");
    if (out == NULL) {
        fprintf(stderr, "seqroute eval: error: cannot open '%s' for writing: %s\n", args->json,
                strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    sr_status status =
        sr_eval_report_write_json(report, ds, args->data, args->reference, out, &err);
    if (!to_stdout && fclose(out) != 0 && status == SR_OK)
        status = sr_error_set(&err, SR_ERR_IO, args->json, 0, NULL, "failed to close: %s",
                              strerror(errno));
    if (status != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    eval_args args = {0};
    args.drift_tolerance = -1;
    args.c_ref = NAN;
    args.seed = SR_EVAL_DEFAULT_SEED;
    args.eta = SR_MDP_DEFAULT_ETA;
    args.bankrupt = SR_BANKRUPT_UNSERVED;
    args.oracle_objective = SR_ORACLE_QUALITY;

    sr_dataset data;
    sr_dataset reference;
    sr_dataset_init(&data);
    sr_dataset_init(&reference);
    sr_eval_report report = {0};

    int code = parse_args(argc, argv, &args);
    if (code >= 0)
        goto out;
    cli_log_init(args.verbose);

    /* Load the data, and the reference data when it is another file. */
    code = load(args.data, args.skip_invalid, wants_text(&args), &data);
    if (code == CLI_EXIT_OK && args.reference != NULL)
        code = load(args.reference, args.skip_invalid, false, &reference);
    if (code != CLI_EXIT_OK)
        goto out;

    /* Settings. */
    sr_eval_request request;
    memset(&request, 0, sizeof(request));
    request.policies = (const char *const *)args.policies;
    request.n_policies = args.n_policies;
    request.budgets = args.budgets;
    request.n_budgets = args.n_budgets;
    request.budgets_are_fractions = args.fractions;
    request.c_ref = args.c_ref;
    sr_eval_options_default(&request.eval);
    request.eval.seed = args.seed;
    request.eval.mdp.eta = args.eta;
    request.eval.mdp.bankrupt_mode = args.bankrupt;
    code = resolve_fallback(&args, &data, &request.eval.mdp);
    if (code != CLI_EXIT_OK)
        goto out;
    sr_policy_options_default(&request.policy);
    request.policy.reference = args.reference ? &reference : NULL;
    /* One reserve sets the heuristic; several sweep it. */
    if (args.n_reserves == 1)
        request.policy.heuristic_reserve = args.reserves[0];
    else {
        request.reserves = args.reserves;
        request.n_reserves = args.n_reserves;
    }
    request.frontier = args.sweep || args.n_lambdas > 1 || args.n_reserves > 1;
    request.policy.heuristic_true_remaining = args.true_remaining;
    request.policy.oracle_objective = args.oracle_objective;
    request.lambdas = args.lambdas;
    request.n_lambdas = args.n_lambdas;

    /* Run and report. */
    sr_error err;
    sr_error_clear(&err);
    sr_status status = sr_eval_report_build(&data, &request, &report, &err);
    if (status == SR_ERR_INVALID && err.path[0] == '\0') {
        /* A data error found after loading: name the file it came from. */
        fprintf(stderr, "seqroute: error: %s: %s\n", args.data, err.message);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    if (status != SR_OK) {
        cli_report_error(&err);
        code = status == SR_ERR_NOT_FOUND ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto out;
    }
    const bool json_to_stdout = args.json != NULL && strcmp(args.json, "-") == 0;
    print_table(json_to_stdout ? stderr : stdout, &report, &data, &args);
    print_frontier_summary(json_to_stdout ? stderr : stdout, &report);
    if (args.calibration_path != NULL &&
        !check_calibration(json_to_stdout ? stderr : stdout, &args, &report, &data)) {
        fprintf(stderr, "seqroute eval: error: out of memory\n");
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    code = args.json != NULL ? write_json(&args, &report, &data) : CLI_EXIT_OK;
    if (code == CLI_EXIT_OK && fflush(stdout) != 0) {
        fprintf(stderr, "seqroute eval: error: failed to write standard output\n");
        code = CLI_EXIT_FAILURE;
    }

out:
    sr_eval_report_free(&report);
    sr_dataset_free(&data);
    sr_dataset_free(&reference);
    cli_free_strings(args.policies, args.n_policies);
    free(args.budgets);
    free(args.lambdas);
    free(args.reserves);
    return code;
}
