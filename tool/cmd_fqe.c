/*
 * cmd_fqe.c - `seqroute fqe`: Fitted Q Evaluation of routing policies on
 * logged or relabelled sessions (seqroute/fqe.h, docs/FQE.md).
 *
 * For each policy and each starting budget the command prints the FQE
 * estimate of the policy's mean return.  When the data is full-information
 * it also runs the policy through the simulator (sr_eval_policy) on the same
 * sessions and budgets and prints the simulator's mean return and the
 * difference, which is the check on the estimate.  Exit codes: 0 on
 * success, 1 for bad data, failed I/O or a failed estimate, 2 for a bad
 * command line, including an unknown policy name.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_learn.h"
#include "cmd_paths.h"
#include "seqroute/eval.h"
#include "seqroute/fqe.h"
#include "seqroute/state.h"

static const char *const COMMAND = "fqe";

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: seqroute fqe --data FILE --policy NAME[,NAME...] --budget B[,B...] "
            "[options]\n"
            "\n"
            "Estimates each policy's mean return per session at each starting budget by\n"
            "Fitted Q Evaluation on the transitions of FILE, without running the policy.\n"
            "Logged-only sessions are replayed along their logged path; full-information\n"
            "sessions along the relabelling path mixture.  On full-information data the\n"
            "simulator's mean return on the same sessions is printed beside it.\n"
            "\n"
            "Policies: any name seqroute eval accepts except oracle (always:MODEL,\n"
            "always-cheapest, always-strongest, random, heuristic, cql:FILE, bc:FILE,\n"
            "dqn:FILE, policy:FILE, FILE).\n"
            "\n"
            "Options:\n"
            "  --data FILE               sessions (seqroute JSON Lines; - for stdin)\n"
            "  --policy LIST             comma-separated policy names\n"
            "  --budget LIST             starting budgets, in the data's cost unit\n"
            "  --function F              mlp (default), linear or tabular: the class of Q\n"
            "  --iterations N            regressions (default: longest session + 2)\n"
            "  --steps-per-iteration M   Adam steps per regression (default %d)\n"
            "  --batch N                 minibatch (default %d)\n"
            "  --lr X                    Adam learning rate (default %g)\n"
            "  --hidden H1,H2,...        MLP hidden widths (default 128,128)\n"
            "  --gamma X                 discount (default 1: the simulator's return is\n"
            "                            undiscounted, so 1 makes the two comparable)\n"
            "  --state-options LIST      extra state inputs: turn (default), log-budget,\n"
            "                            strong-calls, bins, or none\n"
            "  --budget-bins N           bins for the bins option (default 4)\n"
            "  --features SRC            auto (default), text or embedding\n"
            "  --feature-dim N           buckets per hashed text block (default 256)\n"
            "  --max-enum N, --paths N, --mixture U,C,S,G\n"
            "                            relabelling paths, as seqroute hbr\n"
            "  --max-transitions N       refuse more distinct transitions (default %zu)\n"
            "  --eta X                   bankruptcy penalty (default %g)\n"
            "  --lambda X                trade-off of learned policies' decisions (default 0)\n"
            "  --reference FILE          sessions the baselines take model means from\n"
            "  --seed S                  networks, minibatches, random policies (default 1)\n"
            "  --eval-seed S             seed of the simulator run (default %d)\n"
            "  --threads N               OpenBLAS threads (default 1)\n"
            "  --json OUT                also write the results as JSON (- for stdout)\n"
            "  --skip-invalid            report and skip bad session lines\n"
            "  --verbose                 log each regression to standard error\n"
            "  --help                    print this help\n",
            SR_FQE_DEFAULT_STEPS, SR_FQE_DEFAULT_BATCH, (double)SR_FQE_DEFAULT_LR,
            SR_FQE_DEFAULT_MAX_TRANSITIONS, SR_MDP_DEFAULT_ETA, SR_EVAL_DEFAULT_SEED);
}

typedef struct fqe_args {
    const char *data;
    const char *reference;
    const char *json;
    char **policies;
    size_t n_policies;
    double *budgets;
    size_t n_budgets;
    sr_fqe_options fqe;
    double lambda;
    uint64_t eval_seed;
    int threads;
    bool skip_invalid;
    bool verbose;
} fqe_args;

enum {
    OPT_DATA = 1000,
    OPT_POLICY,
    OPT_BUDGET,
    OPT_FUNCTION,
    OPT_ITERATIONS,
    OPT_STEPS,
    OPT_BATCH,
    OPT_LR,
    OPT_HIDDEN,
    OPT_GAMMA,
    OPT_STATE_OPTIONS,
    OPT_BUDGET_BINS,
    OPT_FEATURES,
    OPT_FEATURE_DIM,
    OPT_MAX_ENUM,
    OPT_PATHS,
    OPT_MIXTURE,
    OPT_MAX_TRANSITIONS,
    OPT_ETA,
    OPT_LAMBDA,
    OPT_REFERENCE,
    OPT_SEED,
    OPT_EVAL_SEED,
    OPT_THREADS,
    OPT_JSON,
    OPT_SKIP_INVALID,
    OPT_VERBOSE,
    OPT_HELP
};

/* Parses one option into `args`; false after a usage error. */
static bool parse_option(int c, const char *value, fqe_args *args)
{
    sr_fqe_options *o = &args->fqe;
    uint64_t u = 0;
    switch (c) {
    case OPT_DATA:
        args->data = value;
        return true;
    case OPT_POLICY:
        cli_free_strings(args->policies, args->n_policies);
        args->policies = NULL;
        return cli_parse_string_list(COMMAND, "--policy", value, &args->policies,
                                     &args->n_policies);
    case OPT_BUDGET:
        free(args->budgets);
        args->budgets = NULL;
        return cli_parse_double_list(COMMAND, "--budget", value, &args->budgets,
                                     &args->n_budgets);
    case OPT_FUNCTION:
        if (sr_fqe_function_parse(value, &o->function))
            return true;
        cli_usage_error(COMMAND, "option --function: '%s' is not mlp, linear or tabular", value);
        return false;
    case OPT_ITERATIONS:
        return cli_parse_int(COMMAND, "--iterations", value, 1, SR_FQE_MAX_ITERATIONS,
                             &o->iterations);
    case OPT_STEPS:
        return cli_parse_int(COMMAND, "--steps-per-iteration", value, 1, 100000000,
                             &o->steps_per_iteration);
    case OPT_BATCH:
        return cli_parse_int(COMMAND, "--batch", value, 1, SR_NN_MAX_ROWS, &o->batch);
    case OPT_LR: {
        double lr;
        if (!cli_parse_double(COMMAND, "--lr", value, &lr))
            return false;
        if (!(lr > 0)) {
            cli_usage_error(COMMAND, "option --lr: %g is not > 0", lr);
            return false;
        }
        o->lr = (float)lr;
        return true;
    }
    case OPT_HIDDEN:
        return cli_parse_hidden(COMMAND, value, false, o->hidden, &o->hidden_count);
    case OPT_GAMMA:
        if (!cli_parse_double(COMMAND, "--gamma", value, &o->gamma))
            return false;
        if (o->gamma < 0 || o->gamma > 1) {
            cli_usage_error(COMMAND, "option --gamma: %g is outside [0, 1]", o->gamma);
            return false;
        }
        return true;
    case OPT_STATE_OPTIONS:
        if (sr_state_options_parse(value, &o->state_options))
            return true;
        cli_usage_error(COMMAND,
                        "option --state-options: '%s' is not a list of turn, log-budget, "
                        "strong-calls, bins or none",
                        value);
        return false;
    case OPT_BUDGET_BINS:
        return cli_parse_int(COMMAND, "--budget-bins", value, 1, SR_STATE_MAX_BINS, &o->n_bins);
    case OPT_FEATURES:
        return cli_parse_features_source(COMMAND, value, &o->features.source);
    case OPT_FEATURE_DIM:
        return cli_parse_int(COMMAND, "--feature-dim", value, 1, SR_FEATURES_MAX_DIM,
                             &o->features.dim);
    case OPT_MAX_ENUM:
        if (!cli_parse_u64(COMMAND, "--max-enum", value, &u))
            return false;
        if (u < 1 || u > SR_HBR_MAX_ENUM) {
            cli_usage_error(COMMAND, "option --max-enum: %llu is outside 1..%d",
                            (unsigned long long)u, SR_HBR_MAX_ENUM);
            return false;
        }
        o->hbr.max_enum = u;
        return true;
    case OPT_PATHS:
        return cli_parse_int(COMMAND, "--paths", value, 1, SR_HBR_MAX_PATHS, &o->hbr.n_paths);
    case OPT_MIXTURE:
        return cli_parse_mixture(COMMAND, value, &o->hbr);
    case OPT_MAX_TRANSITIONS:
        if (!cli_parse_u64(COMMAND, "--max-transitions", value, &u))
            return false;
        if (u < 1 || u > SIZE_MAX / 64) {
            cli_usage_error(COMMAND, "option --max-transitions: %llu is out of range",
                            (unsigned long long)u);
            return false;
        }
        o->max_transitions = (size_t)u;
        return true;
    case OPT_ETA:
        if (!cli_parse_double(COMMAND, "--eta", value, &o->hbr.mdp.eta))
            return false;
        if (o->hbr.mdp.eta < 0) {
            cli_usage_error(COMMAND, "option --eta: penalty %g is negative", o->hbr.mdp.eta);
            return false;
        }
        return true;
    case OPT_LAMBDA:
        return cli_parse_double(COMMAND, "--lambda", value, &args->lambda);
    case OPT_REFERENCE:
        args->reference = value;
        return true;
    case OPT_SEED:
        if (!cli_parse_u64(COMMAND, "--seed", value, &o->seed))
            return false;
        o->hbr.seed = o->seed;
        return true;
    case OPT_EVAL_SEED:
        return cli_parse_u64(COMMAND, "--eval-seed", value, &args->eval_seed);
    case OPT_THREADS:
        return cli_parse_int(COMMAND, "--threads", value, 1, 1024, &args->threads);
    case OPT_JSON:
        args->json = value;
        return true;
    case OPT_SKIP_INVALID:
        args->skip_invalid = true;
        return true;
    case OPT_VERBOSE:
        args->verbose = true;
        return true;
    default:
        return false;
    }
}

/* Parses argv into `args`; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, fqe_args *args)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"function", required_argument, NULL, OPT_FUNCTION},
        {"iterations", required_argument, NULL, OPT_ITERATIONS},
        {"steps-per-iteration", required_argument, NULL, OPT_STEPS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"lr", required_argument, NULL, OPT_LR},
        {"hidden", required_argument, NULL, OPT_HIDDEN},
        {"gamma", required_argument, NULL, OPT_GAMMA},
        {"state-options", required_argument, NULL, OPT_STATE_OPTIONS},
        {"budget-bins", required_argument, NULL, OPT_BUDGET_BINS},
        {"features", required_argument, NULL, OPT_FEATURES},
        {"feature-dim", required_argument, NULL, OPT_FEATURE_DIM},
        {"max-enum", required_argument, NULL, OPT_MAX_ENUM},
        {"paths", required_argument, NULL, OPT_PATHS},
        {"mixture", required_argument, NULL, OPT_MIXTURE},
        {"max-transitions", required_argument, NULL, OPT_MAX_TRANSITIONS},
        {"eta", required_argument, NULL, OPT_ETA},
        {"lambda", required_argument, NULL, OPT_LAMBDA},
        {"reference", required_argument, NULL, OPT_REFERENCE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"eval-seed", required_argument, NULL, OPT_EVAL_SEED},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"json", required_argument, NULL, OPT_JSON},
        {"skip-invalid", no_argument, NULL, OPT_SKIP_INVALID},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };

    optind = 1;
    opterr = 0;
    for (;;) {
        const int c = getopt_long(argc, argv, "", options, NULL);
        if (c == -1)
            break;
        if (c == OPT_HELP) {
            print_help(stdout);
            return CLI_EXIT_OK;
        }
        if (c == '?' || c == ':') {
            cli_usage_error(COMMAND, "unknown option or missing value in '%s'", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
        if (!parse_option(c, optarg, args))
            return CLI_EXIT_USAGE;
    }

    /* Required options and value ranges. */
    if (optind < argc) {
        cli_usage_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (args->data == NULL || args->policies == NULL || args->budgets == NULL) {
        cli_usage_error(COMMAND, "--data, --policy and --budget are required");
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < args->n_budgets; i++)
        if (args->budgets[i] < 0) {
            cli_usage_error(COMMAND, "option --budget: budget %g is negative", args->budgets[i]);
            return CLI_EXIT_USAGE;
        }
    if (args->n_budgets > SR_HBR_MAX_LEVELS) {
        cli_usage_error(COMMAND, "option --budget: %zu budgets exceed the maximum of %d",
                        args->n_budgets, SR_HBR_MAX_LEVELS);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < args->n_policies; i++)
        if (strcmp(args->policies[i], "oracle") == 0) {
            cli_usage_error(COMMAND,
                            "policy oracle reads every outcome of a session and is not a "
                            "policy of the state; FQE cannot evaluate it (seqroute eval can)");
            return CLI_EXIT_USAGE;
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

static void report_skip(const sr_error *reason, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "seqroute fqe: skipped: %s\n", reason->message);
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
        fprintf(stderr, "seqroute fqe: %s: skipped %zu invalid session lines\n", path, skipped);
    return CLI_EXIT_OK;
}

/* One printed and written row: a policy at a budget. */
typedef struct fqe_row {
    const char *policy;
    double budget;
    double fqe;
    double fqe_sd;
    double coverage_initial;
    double simulator; /* NAN without full information */
    double simulator_cost;
    double simulator_bankruptcy;
    const double *trace;
} fqe_row;

/* Per policy: the FQE result (owning the traces) and its rows' simulator values. */
typedef struct fqe_policy_run {
    sr_fqe_result result;
    double *simulator;  /* [n_budgets] */
    double *sim_cost;
    double *sim_bankruptcy;
} fqe_policy_run;

static void print_number(FILE *out, int width, int precision, double x)
{
    if (isfinite(x))
        fprintf(out, "%*.*f", width, precision, x);
    else
        fprintf(out, "%*s", width, "-");
}

static void print_table(FILE *out, const fqe_args *args, const sr_dataset *ds,
                        const fqe_policy_run *runs, bool full)
{
    const sr_fqe_result *first = &runs[0].result;
    fprintf(out,
            "data %s: %zu sessions (%zu unusable), %s; function %s, %d iterations, gamma %g, "
            "eta %g\n",
            args->data, first->sessions, first->sessions_unusable,
            full ? "full information" : "logged only", sr_fqe_function_name(first->function),
            first->iterations, args->fqe.gamma, args->fqe.hbr.mdp.eta);
    fprintf(out, "transitions %zu (%zu distinct), states %zu\n\n", first->transitions,
            first->distinct_transitions, first->states);

    int width = (int)strlen("policy");
    for (size_t p = 0; p < args->n_policies; p++)
        if ((int)strlen(args->policies[p]) > width)
            width = (int)strlen(args->policies[p]);
    fprintf(out, "%-*s %12s %10s %10s %10s %8s %8s\n", width, "policy", "budget", "fqe",
            "simulator", "diff", "cov_s0", "cov_next");
    for (size_t b = 0; b < args->n_budgets; b++) {
        if (b > 0)
            fputc('\n', out);
        for (size_t p = 0; p < args->n_policies; p++) {
            const sr_fqe_result *r = &runs[p].result;
            const double fqe = r->budgets[b].value;
            const double sim = runs[p].simulator[b];
            fprintf(out, "%-*s %12.6g ", width, args->policies[p], args->budgets[b]);
            print_number(out, 10, 4, fqe);
            fputc(' ', out);
            print_number(out, 10, 4, sim);
            fputc(' ', out);
            print_number(out, 10, 4, fqe - sim);
            fprintf(out, " %8.3f %8.3f\n", r->budgets[b].coverage_initial, r->coverage_next);
        }
    }
    const char *unit = ds->catalogue.cost_unit ? ds->catalogue.cost_unit : "cost units";
    fprintf(out, "\nbudget: %s per session.  fqe: estimated mean return per session "
                 "(quality, minus eta at a\nbankruptcy), undiscounted when gamma is 1.  "
                 "simulator: the mean return seqroute eval\nmeasures on the same sessions "
                 "('-' without full information).  diff: fqe - simulator.\n",
            unit);
    fprintf(out, "cov_s0 / cov_next: share of the policy's initial / next (state, action) "
                 "pairs that the data\ncontains; below 1 the estimate extrapolates.\n");
}

static json_t *number_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static int write_json(const fqe_args *args, const fqe_policy_run *runs, bool full)
{
    json_t *doc = json_object();
    const sr_fqe_result *first = &runs[0].result;
    json_object_set_new(doc, "data", json_string(args->data));
    json_object_set_new(doc, "full_information", json_boolean(full));
    json_object_set_new(doc, "function", json_string(sr_fqe_function_name(first->function)));
    json_object_set_new(doc, "iterations", json_integer(first->iterations));
    json_object_set_new(doc, "steps_per_iteration",
                        json_integer(args->fqe.steps_per_iteration));
    json_object_set_new(doc, "gamma", json_real(args->fqe.gamma));
    json_object_set_new(doc, "eta", json_real(args->fqe.hbr.mdp.eta));
    json_object_set_new(doc, "seed", json_integer((json_int_t)args->fqe.seed));
    json_object_set_new(doc, "eval_seed", json_integer((json_int_t)args->eval_seed));
    json_object_set_new(doc, "sessions", json_integer((json_int_t)first->sessions));
    json_object_set_new(doc, "unusable_sessions",
                        json_integer((json_int_t)first->sessions_unusable));
    json_object_set_new(doc, "transitions", json_integer((json_int_t)first->transitions));
    json_object_set_new(doc, "distinct_transitions",
                        json_integer((json_int_t)first->distinct_transitions));
    json_object_set_new(doc, "states", json_integer((json_int_t)first->states));

    json_t *rows = json_array();
    for (size_t p = 0; p < args->n_policies; p++) {
        const sr_fqe_result *r = &runs[p].result;
        for (size_t b = 0; b < args->n_budgets; b++) {
            json_t *row = json_object();
            json_object_set_new(row, "policy", json_string(args->policies[p]));
            json_object_set_new(row, "budget", json_real(args->budgets[b]));
            json_object_set_new(row, "fqe", number_or_null(r->budgets[b].value));
            json_object_set_new(row, "fqe_sd_over_sessions",
                                number_or_null(r->budgets[b].value_sd));
            json_object_set_new(row, "simulator", number_or_null(runs[p].simulator[b]));
            json_object_set_new(row, "difference",
                                number_or_null(r->budgets[b].value - runs[p].simulator[b]));
            json_object_set_new(row, "simulator_mean_cost", number_or_null(runs[p].sim_cost[b]));
            json_object_set_new(row, "simulator_bankruptcy_rate",
                                number_or_null(runs[p].sim_bankruptcy[b]));
            json_object_set_new(row, "coverage_initial",
                                json_real(r->budgets[b].coverage_initial));
            json_object_set_new(row, "coverage_next", json_real(r->coverage_next));
            json_object_set_new(row, "last_residual", number_or_null(r->last_residual));
            json_t *trace = json_array();
            for (int it = 0; it < r->iterations; it++)
                json_array_append_new(trace, json_real(r->budgets[b].trace[it]));
            json_object_set_new(row, "trace", trace);
            json_array_append_new(rows, row);
        }
    }
    json_object_set_new(doc, "rows", rows);

    const bool to_stdout = strcmp(args->json, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(args->json, "w");
    if (out == NULL) {
        fprintf(stderr, "seqroute fqe: error: cannot open '%s' for writing: %s\n", args->json,
                strerror(errno));
        json_decref(doc);
        return CLI_EXIT_FAILURE;
    }
    int failed = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0;
    failed |= fputc('\n', out) == EOF;
    if (!to_stdout)
        failed |= fclose(out) != 0;
    json_decref(doc);
    if (failed) {
        fprintf(stderr, "seqroute fqe: error: failed to write '%s'\n", args->json);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* Runs FQE, and the simulator on full-information data, for one policy. */
static int run_policy(const fqe_args *args, const sr_dataset *data, const sr_dataset *reference,
                      const char *name, bool full, fqe_policy_run *run)
{
    sr_error err;
    sr_error_clear(&err);
    sr_policy_options popt;
    sr_policy_options_default(&popt);
    popt.reference = reference;
    popt.mdp = args->fqe.hbr.mdp;
    popt.lambda = args->lambda;
    sr_policy *policy = NULL;
    sr_status status = sr_policy_create(name, data, &popt, &policy, &err);
    if (status != SR_OK) {
        cli_report_error(&err);
        return status == SR_ERR_NOT_FOUND ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }

    status = sr_fqe_evaluate(data, policy, args->budgets, args->n_budgets, &args->fqe,
                             &run->result, &err);
    for (size_t b = 0; status == SR_OK && b < args->n_budgets; b++) {
        run->simulator[b] = run->sim_cost[b] = run->sim_bankruptcy[b] = NAN;
        if (!full)
            continue;
        sr_eval_options eopt;
        sr_eval_options_default(&eopt);
        eopt.mdp = args->fqe.hbr.mdp;
        eopt.seed = args->eval_seed;
        sr_eval_metrics m;
        status = sr_eval_policy(policy, data, args->budgets[b], &eopt, &m, &err);
        if (status == SR_OK) {
            run->simulator[b] = m.mean_return;
            run->sim_cost[b] = m.mean_cost;
            run->sim_bankruptcy[b] = m.bankruptcy_rate;
        }
    }
    sr_policy_free(policy);
    if (status != SR_OK) {
        if (err.path[0] == '\0')
            fprintf(stderr, "seqroute: error: %s: policy %s: %s\n", args->data, name,
                    err.message);
        else
            cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

int cmd_fqe(int argc, char **argv)
{
    fqe_args args = {0};
    sr_fqe_options_default(&args.fqe);
    args.eval_seed = SR_EVAL_DEFAULT_SEED;
    args.threads = 1;

    sr_dataset data;
    sr_dataset reference;
    sr_dataset_init(&data);
    sr_dataset_init(&reference);
    fqe_policy_run *runs = NULL;

    int code = parse_args(argc, argv, &args);
    if (code >= 0)
        goto out;
    cli_log_init(args.verbose);
    sr_nn_set_threads(args.threads);

    /* Text is kept: learned policies and the text featuriser read it. */
    code = load(args.data, args.skip_invalid, true, &data);
    if (code == CLI_EXIT_OK && args.reference != NULL)
        code = load(args.reference, args.skip_invalid, false, &reference);
    if (code != CLI_EXIT_OK)
        goto out;
    const bool full = sr_dataset_is_full_information(&data);

    runs = calloc(args.n_policies, sizeof(*runs));
    for (size_t p = 0; runs != NULL && p < args.n_policies; p++) {
        runs[p].simulator = malloc(args.n_budgets * sizeof(double));
        runs[p].sim_cost = malloc(args.n_budgets * sizeof(double));
        runs[p].sim_bankruptcy = malloc(args.n_budgets * sizeof(double));
        if (runs[p].simulator == NULL || runs[p].sim_cost == NULL ||
            runs[p].sim_bankruptcy == NULL) {
            fprintf(stderr, "seqroute fqe: error: out of memory\n");
            code = CLI_EXIT_FAILURE;
            goto out;
        }
    }
    if (runs == NULL) {
        fprintf(stderr, "seqroute fqe: error: out of memory\n");
        code = CLI_EXIT_FAILURE;
        goto out;
    }

    for (size_t p = 0; p < args.n_policies; p++) {
        code = run_policy(&args, &data, args.reference ? &reference : NULL, args.policies[p],
                          full, &runs[p]);
        if (code != CLI_EXIT_OK)
            goto out;
    }

    const bool json_to_stdout = args.json != NULL && strcmp(args.json, "-") == 0;
    print_table(json_to_stdout ? stderr : stdout, &args, &data, runs, full);
    code = args.json != NULL ? write_json(&args, runs, full) : CLI_EXIT_OK;
    if (code == CLI_EXIT_OK && fflush(stdout) != 0) {
        fprintf(stderr, "seqroute fqe: error: failed to write standard output\n");
        code = CLI_EXIT_FAILURE;
    }

out:
    for (size_t p = 0; runs != NULL && p < args.n_policies; p++) {
        sr_fqe_result_free(&runs[p].result);
        free(runs[p].simulator);
        free(runs[p].sim_cost);
        free(runs[p].sim_bankruptcy);
    }
    free(runs);
    sr_dataset_free(&data);
    sr_dataset_free(&reference);
    cli_free_strings(args.policies, args.n_policies);
    free(args.budgets);
    return code;
}
