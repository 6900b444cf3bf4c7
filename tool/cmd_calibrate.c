/*
 * cmd_calibrate.c - `seqroute calibrate`: find the λ at which a learned
 * policy meets a target mean spend, bankruptcy rate or model share at one
 * budget on validation data, print it with the realised values and
 * optionally write the calibration file that `seqroute eval --calibration`
 * checks on other data (docs/CALIBRATION.md).
 *
 * Exit codes: 0 when λ was found or the target is met at --lo, 1 for bad
 * data, failed I/O or an unreachable target (the result is still printed
 * and written), 2 for a bad command line.
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
#include "seqroute/qpolicy.h"

static const char *const COMMAND = "calibrate";

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: seqroute calibrate --policy P --data VAL (--budget B | --budget-frac F)\n"
            "                          (--target-spend X | --target-bankruptcy p |\n"
            "                           --target-share S [--share-model M]) [options]\n"
            "\n"
            "Finds the smallest lambda at which learned policy P, deciding with\n"
            "argmax Q(s,a) - lambda * c(a) / c_max, keeps the target metric at or below the\n"
            "target on VAL at starting budget B, by a scan and bisection over lambda.\n"
            "\n"
            "Options:\n"
            "  --policy P            cql:FILE, dqn:FILE, policy:FILE or FILE (not bc)\n"
            "  --data VAL            validation sessions (seqroute JSON Lines)\n"
            "  --budget B            starting budget per session, in the data's cost unit\n"
            "  --budget-frac F       the budget as a fraction of C_ref on VAL\n"
            "  --target-spend X      mean cost per session at most X\n"
            "  --target-bankruptcy p share of sessions going bankrupt at most p\n"
            "  --target-share S      share of calls to the share model at most S\n"
            "  --share-model M       model of --target-share (default: the most expensive)\n"
            "  --tolerance T         stop once the realised value is within T > 0 below the\n"
            "                        target (default 0: bisect to the lambda tolerance)\n"
            "  --lambda-tolerance L  width at which the lambda bracket stops (default %g)\n"
            "  --lo L, --hi H        search range (default %g, %g); without --hi, hi grows\n"
            "                        fourfold up to %d times while the target is missed there\n"
            "  --max-iter N          bisection steps at most (default %d)\n"
            "  --seed S              evaluation seed (default %d)\n"
            "  --eta X               bankruptcy penalty (default %g)\n"
            "  --json OUT            write the calibration file (- for stdout)\n"
            "  --verbose             log every probe to standard error\n"
            "  --help                print this help\n",
            SR_CALIBRATE_DEFAULT_LAMBDA_TOLERANCE, SR_CALIBRATE_DEFAULT_LO,
            SR_CALIBRATE_DEFAULT_HI, SR_CALIBRATE_MAX_EXPAND, SR_CALIBRATE_DEFAULT_MAX_ITER,
            SR_EVAL_DEFAULT_SEED, SR_MDP_DEFAULT_ETA);
}

typedef struct calibrate_args {
    const char *policy;
    const char *data;
    const char *json;
    const char *share_model;
    double budget;
    bool budget_is_fraction;
    bool have_budget;
    bool have_target;
    bool have_hi;
    sr_calibrate_options options;
    uint64_t seed;
    double eta;
    bool verbose;
} calibrate_args;

enum {
    OPT_POLICY = 1000,
    OPT_DATA,
    OPT_BUDGET,
    OPT_BUDGET_FRAC,
    OPT_TARGET_SPEND,
    OPT_TARGET_BANKRUPTCY,
    OPT_TARGET_SHARE,
    OPT_SHARE_MODEL,
    OPT_TOLERANCE,
    OPT_LAMBDA_TOLERANCE,
    OPT_LO,
    OPT_HI,
    OPT_MAX_ITER,
    OPT_SEED,
    OPT_ETA,
    OPT_JSON,
    OPT_VERBOSE,
    OPT_HELP
};

/* Parses argv into `args`; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, calibrate_args *args)
{
    static const struct option options[] = {
        {"policy", required_argument, NULL, OPT_POLICY},
        {"data", required_argument, NULL, OPT_DATA},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"budget-frac", required_argument, NULL, OPT_BUDGET_FRAC},
        {"target-spend", required_argument, NULL, OPT_TARGET_SPEND},
        {"target-bankruptcy", required_argument, NULL, OPT_TARGET_BANKRUPTCY},
        {"target-share", required_argument, NULL, OPT_TARGET_SHARE},
        {"share-model", required_argument, NULL, OPT_SHARE_MODEL},
        {"tolerance", required_argument, NULL, OPT_TOLERANCE},
        {"lambda-tolerance", required_argument, NULL, OPT_LAMBDA_TOLERANCE},
        {"lo", required_argument, NULL, OPT_LO},
        {"hi", required_argument, NULL, OPT_HI},
        {"max-iter", required_argument, NULL, OPT_MAX_ITER},
        {"seed", required_argument, NULL, OPT_SEED},
        {"eta", required_argument, NULL, OPT_ETA},
        {"json", required_argument, NULL, OPT_JSON},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    sr_calibrate_options *o = &args->options;

    optind = 1;
    opterr = 0;
    for (;;) {
        const int c = getopt_long(argc, argv, "", options, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_POLICY:
            args->policy = optarg;
            break;
        case OPT_DATA:
            args->data = optarg;
            break;
        case OPT_BUDGET:
        case OPT_BUDGET_FRAC:
            if (args->have_budget) {
                cli_usage_error(COMMAND, "give one --budget or --budget-frac");
                return CLI_EXIT_USAGE;
            }
            args->have_budget = true;
            args->budget_is_fraction = c == OPT_BUDGET_FRAC;
            if (!cli_parse_double(COMMAND, c == OPT_BUDGET ? "--budget" : "--budget-frac",
                                  optarg, &args->budget))
                return CLI_EXIT_USAGE;
            break;
        case OPT_TARGET_SPEND:
        case OPT_TARGET_BANKRUPTCY:
        case OPT_TARGET_SHARE:
            if (args->have_target) {
                cli_usage_error(COMMAND, "give one of --target-spend, --target-bankruptcy "
                                         "and --target-share");
                return CLI_EXIT_USAGE;
            }
            args->have_target = true;
            o->target = c == OPT_TARGET_SPEND        ? SR_CALIBRATE_SPEND
                        : c == OPT_TARGET_BANKRUPTCY ? SR_CALIBRATE_BANKRUPTCY
                                                     : SR_CALIBRATE_SHARE;
            if (!cli_parse_double(COMMAND,
                                  c == OPT_TARGET_SPEND        ? "--target-spend"
                                  : c == OPT_TARGET_BANKRUPTCY ? "--target-bankruptcy"
                                                               : "--target-share",
                                  optarg, &o->value))
                return CLI_EXIT_USAGE;
            break;
        case OPT_SHARE_MODEL:
            args->share_model = optarg;
            break;
        case OPT_TOLERANCE:
            if (!cli_parse_double(COMMAND, "--tolerance", optarg, &o->tolerance))
                return CLI_EXIT_USAGE;
            break;
        case OPT_LAMBDA_TOLERANCE:
            if (!cli_parse_double(COMMAND, "--lambda-tolerance", optarg, &o->lambda_tolerance))
                return CLI_EXIT_USAGE;
            break;
        case OPT_LO:
            if (!cli_parse_double(COMMAND, "--lo", optarg, &o->lo))
                return CLI_EXIT_USAGE;
            break;
        case OPT_HI:
            if (!cli_parse_double(COMMAND, "--hi", optarg, &o->hi))
                return CLI_EXIT_USAGE;
            args->have_hi = true;
            break;
        case OPT_MAX_ITER:
            if (!cli_parse_int(COMMAND, "--max-iter", optarg, 1, 1000, &o->max_iter))
                return CLI_EXIT_USAGE;
            break;
        case OPT_SEED:
            if (!cli_parse_u64(COMMAND, "--seed", optarg, &args->seed))
                return CLI_EXIT_USAGE;
            break;
        case OPT_ETA:
            if (!cli_parse_double(COMMAND, "--eta", optarg, &args->eta))
                return CLI_EXIT_USAGE;
            break;
        case OPT_JSON:
            args->json = optarg;
            break;
        case OPT_VERBOSE:
            args->verbose = true;
            break;
        case OPT_HELP:
            print_help(stdout);
            return CLI_EXIT_OK;
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
    if (args->policy == NULL || args->data == NULL || !args->have_budget || !args->have_target) {
        cli_usage_error(COMMAND, "--policy, --data, --budget (or --budget-frac) and one "
                                 "--target-* option are required");
        return CLI_EXIT_USAGE;
    }
    if (args->budget < 0) {
        cli_usage_error(COMMAND, "the budget %g is negative", args->budget);
        return CLI_EXIT_USAGE;
    }
    if (o->value < 0 || (o->target != SR_CALIBRATE_SPEND && o->value > 1)) {
        cli_usage_error(COMMAND, "target %g is out of range: a spend must be >= 0, a rate "
                                 "in [0, 1]",
                        o->value);
        return CLI_EXIT_USAGE;
    }
    if (args->share_model != NULL && o->target != SR_CALIBRATE_SHARE) {
        cli_usage_error(COMMAND, "--share-model goes with --target-share only");
        return CLI_EXIT_USAGE;
    }
    if (o->tolerance < 0 || o->lambda_tolerance <= 0 || !(o->lo < o->hi)) {
        cli_usage_error(COMMAND, "need --tolerance >= 0, --lambda-tolerance > 0 and --lo < "
                                 "--hi (got %g, %g, %g, %g)",
                        o->tolerance, o->lambda_tolerance, o->lo, o->hi);
        return CLI_EXIT_USAGE;
    }
    if (args->eta < 0) {
        cli_usage_error(COMMAND, "option --eta: penalty %g is negative", args->eta);
        return CLI_EXIT_USAGE;
    }
    if (args->json != NULL && strcmp(args->json, "-") != 0 &&
        cmd_same_file(args->json, args->data)) {
        cli_usage_error(COMMAND, "--json %s names the input file and would overwrite it",
                        args->json);
        return CLI_EXIT_USAGE;
    }
    o->expand_hi = !args->have_hi;
    return -1;
}

/* Factory context: the policy name and the data it runs on. */
typedef struct factory_context {
    const char *name;
    const sr_dataset *ds;
} factory_context;

static sr_status make_policy(void *user, double lambda, sr_policy **out, sr_error *err)
{
    const factory_context *context = user;
    sr_policy_options options;
    sr_policy_options_default(&options);
    options.lambda = lambda;
    return sr_policy_create(context->name, context->ds, &options, out, err);
}

/* Checks that `name` is a learned policy that λ acts on: not a baseline, not BC. */
static int check_policy(const char *name)
{
    if (!sr_policy_name_is_learned(name)) {
        cli_usage_error(COMMAND,
                        "--policy %s is not a policy file; lambda applies to learned "
                        "policies (cql:FILE, dqn:FILE, policy:FILE or FILE)",
                        name);
        return CLI_EXIT_USAGE;
    }
    char label[16] = "";
    const char *path = sr_qpolicy_parse_name(name, label, sizeof(label));
    sr_qpolicy *qp = NULL;
    sr_error err;
    sr_error_clear(&err);
    if (sr_qpolicy_load(path ? path : name, &qp, &err) != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    const bool classifier = qp->algo == SR_CQL_ALGO_BC;
    sr_qpolicy_free(qp);
    if (classifier) {
        cli_usage_error(COMMAND,
                        "--policy %s was trained by behaviour cloning: its outputs are "
                        "classifier logits, so lambda has no meaning for it",
                        name);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static const char *target_text(sr_calibrate_target target)
{
    return target == SR_CALIBRATE_SPEND        ? "mean spend per session"
           : target == SR_CALIBRATE_BANKRUPTCY ? "bankruptcy rate"
                                               : "share of calls to";
}

static void print_result(FILE *out, const calibrate_args *args, const sr_dataset *ds,
                         double budget, int share_model, const sr_calibrate_result *r)
{
    const sr_eval_metrics *m = &r->metrics;
    const char *unit = ds->catalogue.cost_unit ? ds->catalogue.cost_unit : "cost units";
    const sr_calibrate_options *o = &args->options;

    fprintf(out, "policy %s on %s (%zu sessions), budget %.6g %s\n", args->policy, args->data,
            ds->n_sessions, budget, unit);
    fprintf(out, "target: %s%s%s at most %.6g\n", target_text(o->target),
            o->target == SR_CALIBRATE_SHARE ? " " : "",
            o->target == SR_CALIBRATE_SHARE ? ds->catalogue.models[share_model].name : "",
            o->value);
    fprintf(out, "lambda %.6g (%s, %zu probes)\n", r->lambda, sr_calibrate_status_name(r->status),
            r->n_probes);
    fprintf(out,
            "realised: mean spend %.6g %s [95%% CI %.6g, %.6g], bankruptcy %.2f%% [%.2f, "
            "%.2f], quality %.4f",
            m->mean_cost, unit, m->mean_cost_ci[0], m->mean_cost_ci[1],
            100 * m->bankruptcy_rate, 100 * m->bankruptcy_ci[0], 100 * m->bankruptcy_ci[1],
            m->mean_quality);
    if (share_model >= 0)
        fprintf(out, ", share of %s %.2f%%", ds->catalogue.models[share_model].name,
                100 * m->model_share[share_model]);
    fputc('\n', out);
    if (isfinite(r->below_lambda))
        fprintf(out, "just below: lambda %.6g gives %.6g, which misses the target\n",
                r->below_lambda, r->below_value);

    if (r->status == SR_CALIBRATE_MET_AT_LO)
        fprintf(out, "note: the target is met at --lo already; a larger lambda only costs "
                     "quality\n");
    if (r->status == SR_CALIBRATE_UNREACHABLE)
        fprintf(out, "warning: no lambda up to %.6g meets the target; the lambda shown has "
                     "the lowest realised value.  Raise --hi or relax the target.\n",
                r->probes[r->n_probes - 1].lambda);
    if (r->non_monotone_pairs > 0)
        fprintf(out,
                "note: the realised value rose with lambda between %zu probe pairs (finite "
                "data); the result is the smallest probed lambda that meets the target\n",
                r->non_monotone_pairs);
}

int cmd_calibrate(int argc, char **argv)
{
    calibrate_args args;
    memset(&args, 0, sizeof(args));
    sr_calibrate_options_default(&args.options);
    args.seed = SR_EVAL_DEFAULT_SEED;
    args.eta = SR_MDP_DEFAULT_ETA;
    sr_dataset data;
    sr_dataset_init(&data);
    sr_calibrate_result *result = NULL;
    sr_error err;
    sr_error_clear(&err);

    int code = parse_args(argc, argv, &args);
    if (code >= 0)
        goto out;
    cli_log_init(args.verbose);
    code = check_policy(args.policy);
    if (code != CLI_EXIT_OK)
        goto out;

    /* Data, with text: learned policies may featurise it. */
    sr_load_options load = {0};
    size_t skipped = 0;
    if (sr_dataset_load(args.data, &load, &data, &skipped, &err) != SR_OK) {
        cli_report_error(&err);
        code = CLI_EXIT_FAILURE;
        goto out;
    }

    /* Budget and share model. */
    double budget = args.budget;
    if (args.budget_is_fraction) {
        const double c_ref = sr_eval_c_ref(&data);
        if (!isfinite(c_ref)) {
            fprintf(stderr, "seqroute calibrate: error: %s: C_ref is undefined (a model lacks "
                            "outcomes); give --budget\n",
                    args.data);
            code = CLI_EXIT_FAILURE;
            goto out;
        }
        budget = args.budget * c_ref;
    }
    int share_model = -1;
    if (args.options.target == SR_CALIBRATE_SHARE) {
        share_model = args.share_model ? sr_dataset_find_model(&data, args.share_model)
                                       : sr_eval_most_expensive(&data);
        if (share_model < 0) {
            cli_usage_error(COMMAND, "--share-model %s is not in the catalogue of %s",
                            args.share_model ? args.share_model : "(most expensive)", args.data);
            code = CLI_EXIT_USAGE;
            goto out;
        }
        args.options.share_model = share_model;
    }

    /* Search. */
    sr_eval_options eval;
    sr_eval_options_default(&eval);
    eval.seed = args.seed;
    eval.mdp.eta = args.eta;
    result = malloc(sizeof(*result));
    if (result == NULL) {
        fprintf(stderr, "seqroute calibrate: error: out of memory\n");
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    factory_context context = {args.policy, &data};
    sr_status status = sr_calibrate_lambda(make_policy, &context, &data, budget, &eval,
                                           &args.options, result, &err);
    if (status != SR_OK) {
        cli_report_error(&err);
        code = status == SR_ERR_NOT_FOUND ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto out;
    }

    /* Report. */
    const bool json_to_stdout = args.json != NULL && strcmp(args.json, "-") == 0;
    print_result(json_to_stdout ? stderr : stdout, &args, &data, budget, share_model, result);
    code = result->status == SR_CALIBRATE_UNREACHABLE ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    if (args.json != NULL) {
        sr_calibration cal;
        memset(&cal, 0, sizeof(cal));
        snprintf(cal.policy, sizeof(cal.policy), "%s", args.policy);
        cal.budget = budget;
        cal.budget_frac = args.budget_is_fraction ? args.budget : NAN;
        cal.eta = args.eta;
        cal.seed = args.seed;
        FILE *out = json_to_stdout ? stdout : fopen(args.json, "w");
        if (out == NULL) {
            fprintf(stderr, "seqroute calibrate: error: cannot open '%s' for writing: %s\n",
                    args.json, strerror(errno));
            code = CLI_EXIT_FAILURE;
            goto out;
        }
        status = sr_calibration_write_json(&cal, &args.options, result, &data, args.data, out,
                                           &err);
        if (!json_to_stdout && fclose(out) != 0 && status == SR_OK)
            status = sr_error_set(&err, SR_ERR_IO, args.json, 0, NULL, "failed to close: %s",
                                  strerror(errno));
        if (status != SR_OK) {
            cli_report_error(&err);
            code = CLI_EXIT_FAILURE;
        }
    }

out:
    free(result);
    sr_dataset_free(&data);
    return code;
}
