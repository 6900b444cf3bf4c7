/*
 * cmd_train.c - `seqroute train`: train a routing policy (CQL, Double DQN
 * or behaviour cloning) on relabelled sessions and write a policy file.
 *
 * The command parses options into an sr_train_config, loads the training
 * and validation sessions, and hands the work to sr_train_run.  Progress
 * goes to standard error: a bar redrawn in place on a terminal, plain
 * periodic lines otherwise.  Exit codes: 0 on success, 1 for bad data,
 * failed I/O or a tripped guard, 2 for a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_learn.h"
#include "cmd_paths.h"
#include "seqroute/train.h"

static const char *const COMMAND = "train";

/* Width of the progress bar in characters. */
#define BAR_WIDTH 30

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: seqroute train --data TRAIN [--val VAL] --out POLICY [options]\n"
            "\n"
            "Relabels the sessions of TRAIN under several starting budgets (Hindsight Budget\n"
            "Relabeling), trains a Q-network on them and writes the policy file POLICY.\n"
            "With VAL, the greedy policy is evaluated every --eval-every steps and the best\n"
            "parameters by mean validation return are kept.\n"
            "\n"
            "Algorithm:\n"
            "  --algo A              cql (default), dqn (CQL with alpha 0), bc (behaviour\n"
            "                        cloning of the logged, else per-turn best-quality, model)\n"
            "                        or myopic (budget-blind per-turn quality regression)\n"
            "  --lambda-conditioned  give the network lambda as an input, drawn per\n"
            "                        transition, with rewards q - lambda c / c_max (cql, dqn;\n"
            "                        default off: the post-hoc rule Q - lambda c / c_max traced\n"
            "                        the better frontier, see docs/RESULTS.md)\n"
            "  --lambda-max X        top of the drawn lambda range (default 1)\n"
            "  --alpha X             CQL regulariser weight (default 1)\n"
            "  --lr X                Adam learning rate (default 1e-4)\n"
            "  --batch N             transitions per update (default 256)\n"
            "  --steps N             updates (default 200000)\n"
            "  --target-period N     steps between hard target-network copies (default 2000)\n"
            "  --tau X               Polyak rate in (0, 1] instead of hard copies\n"
            "  --hidden H1,H2,...    hidden layer widths (default 512,256,256)\n"
            "  --gamma X             discount (default 0.99)\n"
            "  --eta X               bankruptcy penalty on the quality scale (default 1)\n"
            "  --grad-clip X         clip the global gradient norm to X (default: off)\n"
            "  --q-bound-factor X    stop when |Q| exceeds X times the largest possible\n"
            "                        return, T_max x q_max + eta (default 10; 0: off)\n"
            "  --threads N           OpenBLAS threads (default 1)\n"
            "  --seed S              seed of the network and the sampler (default 1)\n"
            "\n"
            "Validation, logging, checkpoints:\n"
            "  --val FILE            validation sessions\n"
            "  --eval-every N        steps between validation runs (default 5000)\n"
            "  --patience N          stop after N runs without a better return (default 10;\n"
            "                        0: never)\n"
            "  --eval-seed S         seed of the validation simulator (default 1)\n"
            "  --log-every N         steps between progress reports (default 1000)\n"
            "  --checkpoint FILE     write a checkpoint at every validation and at the end\n"
            "  --resume FILE         continue from a checkpoint; its settings are used, except\n"
            "                        --steps, --threads, outputs and logging\n"
            "  --progress MODE       bar, lines or auto (default: bar on a terminal)\n"
            "  --curves FILE         write the training curves as CSV, one row per report:\n"
            "                        step,loss,td,cql,mean_q,val_return,val_cost,\n"
            "                        val_bankruptcy (a cell is empty when not measured)\n"
            "\n"
            "State and features:\n"
            "  --state-options LIST  extra state inputs: turn (t / T_ref), log-budget,\n"
            "                        strong-calls (budget / mean cost of the most expensive\n"
            "                        model), bins (one-hot budget bins), or none (default)\n"
            "  --budget-bins N       bins for the bins option (default 4)\n"
            "  --b-ref X             B_ref in cost units (default: the largest budget level)\n"
            "  --t-ref X             T_ref in turns (default: the longest training session)\n"
            "  --no-normalise        feed raw features (default: centre each feature and\n"
            "                        divide by max(std, --std-floor))\n"
            "  --std-floor X         floor on the divisor (default 1)\n"
            "  --features SRC        auto (default: embeddings when present), text, embedding\n"
            "  --feature-dim N       hashed buckets per text block (default 256)\n"
            "  --history MODE        current (default), mean or concat\n"
            "\n"
            "Relabelling (as seqroute hbr):\n"
            "  --budget-fracs LIST   budget levels as fractions of C_ref (default\n"
            "                        0.05,0.15,0.30,0.50,0.85)\n"
            "  --budgets LIST        absolute budget levels in the data's cost unit\n"
            "  --log-uniform LO,HI,N N log-uniform budgets per session in [LO, HI]\n"
            "  --c-ref X             C_ref instead of the training data's\n"
            "  --max-enum N          enumerate all K^T paths when K^T <= N (default 64)\n"
            "  --paths N             sampled paths per session otherwise (default 16)\n"
            "  --mixture U,C,S,G     behaviour weights of sampled paths (default\n"
            "                        0.4,0.2,0.2,0.2)\n"
            "  --dedupe              weight each distinct transition by its path count\n"
            "\n"
            "  --skip-invalid        skip bad session lines instead of stopping\n"
            "  --verbose             log debug events\n"
            "  --help                print this help\n");
}

typedef enum progress_mode { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_LINES } progress_mode;

typedef struct train_args {
    const char *data;
    const char *val;
    const char *resume;
    const char *curves;
    double *budgets;
    size_t n_budgets;
    progress_mode progress;
    bool skip_invalid;
    bool verbose;
} train_args;

enum {
    OPT_DATA = 1000,
    OPT_VAL,
    OPT_OUT,
    OPT_ALGO,
    OPT_ALPHA,
    OPT_LAMBDA_CONDITIONED,
    OPT_LAMBDA_MAX,
    OPT_LR,
    OPT_BATCH,
    OPT_STEPS,
    OPT_TARGET_PERIOD,
    OPT_TAU,
    OPT_HIDDEN,
    OPT_GAMMA,
    OPT_ETA,
    OPT_GRAD_CLIP,
    OPT_Q_BOUND,
    OPT_THREADS,
    OPT_SEED,
    OPT_EVAL_EVERY,
    OPT_PATIENCE,
    OPT_EVAL_SEED,
    OPT_LOG_EVERY,
    OPT_CHECKPOINT,
    OPT_RESUME,
    OPT_PROGRESS,
    OPT_CURVES,
    OPT_STATE_OPTIONS,
    OPT_BUDGET_BINS,
    OPT_B_REF,
    OPT_T_REF,
    OPT_NO_NORMALISE,
    OPT_STD_FLOOR,
    OPT_FEATURES,
    OPT_FEATURE_DIM,
    OPT_HISTORY,
    OPT_BUDGET_FRACS,
    OPT_BUDGETS,
    OPT_LOG_UNIFORM,
    OPT_C_REF,
    OPT_MAX_ENUM,
    OPT_PATHS,
    OPT_MIXTURE,
    OPT_DEDUPE,
    OPT_SKIP_INVALID,
    OPT_VERBOSE,
    OPT_HELP
};

static bool parse_float(const char *option, const char *text, float *value)
{
    double x;
    if (!cli_parse_double(COMMAND, option, text, &x))
        return false;
    *value = (float)x;
    return true;
}

static bool parse_i64(const char *option, const char *text, int64_t *value)
{
    uint64_t x;
    if (!cli_parse_u64(COMMAND, option, text, &x))
        return false;
    if (x > (uint64_t)INT64_MAX) {
        cli_usage_error(COMMAND, "option %s: %s is too large", option, text);
        return false;
    }
    *value = (int64_t)x;
    return true;
}

static bool parse_log_uniform(const char *text, sr_hbr_options *hbr)
{
    double *values = NULL;
    size_t count = 0;
    if (!cli_parse_double_list(COMMAND, "--log-uniform", text, &values, &count))
        return false;
    const bool ok = count == 3 && values[0] > 0 && values[1] >= values[0] && values[2] >= 1 &&
                    values[2] <= SR_HBR_MAX_LEVELS && values[2] == floor(values[2]);
    if (ok) {
        hbr->budget_mode = SR_HBR_BUDGET_LOG_UNIFORM;
        hbr->log_lo = values[0];
        hbr->log_hi = values[1];
        hbr->log_n = (int)values[2];
    } else
        cli_usage_error(COMMAND,
                        "option --log-uniform: needs LO,HI,N with 0 < LO <= HI and N a whole "
                        "number in 1..%d, got '%s'",
                        SR_HBR_MAX_LEVELS, text);
    free(values);
    return ok;
}

/* Handles the options of one group; returns -1 when `c` is not one of them, else 0 or 1 (ok). */
static int parse_learner_option(int c, sr_train_config *config)
{
    switch (c) {
    case OPT_ALGO:
        if (strcmp(optarg, "cql") == 0)
            config->algo = SR_CQL_ALGO_CQL;
        else if (strcmp(optarg, "dqn") == 0)
            config->algo = SR_CQL_ALGO_DQN;
        else if (strcmp(optarg, "bc") == 0)
            config->algo = SR_CQL_ALGO_BC;
        else if (strcmp(optarg, "myopic") == 0)
            config->algo = SR_QPOLICY_ALGO_MYOPIC;
        else {
            cli_usage_error(COMMAND, "option --algo: '%s' is not cql, dqn, bc or myopic",
                            optarg);
            return 0;
        }
        return 1;
    case OPT_LAMBDA_CONDITIONED:
        config->lambda_conditioned = true;
        return 1;
    case OPT_LAMBDA_MAX:
        return cli_parse_double(COMMAND, "--lambda-max", optarg, &config->lambda_max);
    case OPT_ALPHA:
        return parse_float("--alpha", optarg, &config->alpha);
    case OPT_LR:
        return parse_float("--lr", optarg, &config->lr);
    case OPT_BATCH:
        return cli_parse_int(COMMAND, "--batch", optarg, 1, SR_NN_MAX_ROWS / 2, &config->batch);
    case OPT_STEPS:
        return parse_i64("--steps", optarg, &config->steps);
    case OPT_TARGET_PERIOD:
        return cli_parse_int(COMMAND, "--target-period", optarg, 1, 1 << 30,
                             &config->target_period);
    case OPT_TAU:
        return parse_float("--tau", optarg, &config->tau);
    case OPT_HIDDEN:
        return cli_parse_hidden(COMMAND, optarg, true, config->hidden,
                                &config->hidden_count);
    case OPT_GAMMA:
        return parse_float("--gamma", optarg, &config->gamma);
    case OPT_ETA:
        return cli_parse_double(COMMAND, "--eta", optarg, &config->eta);
    case OPT_GRAD_CLIP:
        return parse_float("--grad-clip", optarg, &config->grad_clip);
    case OPT_Q_BOUND:
        return cli_parse_double(COMMAND, "--q-bound-factor", optarg, &config->q_bound_factor);
    case OPT_THREADS:
        return cli_parse_int(COMMAND, "--threads", optarg, 1, 1024, &config->threads);
    case OPT_SEED:
        return cli_parse_u64(COMMAND, "--seed", optarg, &config->seed);
    case OPT_EVAL_EVERY:
        return parse_i64("--eval-every", optarg, &config->eval_every);
    case OPT_PATIENCE:
        return cli_parse_int(COMMAND, "--patience", optarg, 0, 1 << 30, &config->patience);
    case OPT_EVAL_SEED:
        return cli_parse_u64(COMMAND, "--eval-seed", optarg, &config->eval_seed);
    case OPT_LOG_EVERY:
        return parse_i64("--log-every", optarg, &config->log_every);
    case OPT_CHECKPOINT:
        config->checkpoint_path = optarg;
        return 1;
    case OPT_OUT:
        config->out_path = optarg;
        return 1;
    default:
        return -1;
    }
}

static int parse_state_option(int c, sr_train_config *config)
{
    switch (c) {
    case OPT_STATE_OPTIONS:
        if (!sr_state_options_parse(optarg, &config->state_options)) {
            cli_usage_error(COMMAND,
                            "option --state-options: '%s' is not a list of turn, log-budget, "
                            "strong-calls, bins, or none",
                            optarg);
            return 0;
        }
        return 1;
    case OPT_BUDGET_BINS:
        return cli_parse_int(COMMAND, "--budget-bins", optarg, 1, SR_STATE_MAX_BINS,
                             &config->n_bins);
    case OPT_B_REF:
        return cli_parse_double(COMMAND, "--b-ref", optarg, &config->b_ref);
    case OPT_T_REF:
        return cli_parse_double(COMMAND, "--t-ref", optarg, &config->t_ref);
    case OPT_NO_NORMALISE:
        config->normalise = false;
        return 1;
    case OPT_STD_FLOOR:
        return cli_parse_double(COMMAND, "--std-floor", optarg, &config->std_floor);
    case OPT_FEATURES:
        return cli_parse_features_source(COMMAND, optarg, &config->features.source);
    case OPT_FEATURE_DIM:
        return cli_parse_int(COMMAND, "--feature-dim", optarg, 1, SR_FEATURES_MAX_DIM,
                             &config->features.dim);
    case OPT_HISTORY:
        if (strcmp(optarg, "current") == 0)
            config->features.history = SR_HISTORY_CURRENT;
        else if (strcmp(optarg, "mean") == 0)
            config->features.history = SR_HISTORY_MEAN;
        else if (strcmp(optarg, "concat") == 0)
            config->features.history = SR_HISTORY_CONCAT;
        else {
            cli_usage_error(COMMAND, "option --history: '%s' is not current, mean or concat",
                            optarg);
            return 0;
        }
        return 1;
    default:
        return -1;
    }
}

static int parse_hbr_option(int c, sr_train_config *config, train_args *args)
{
    sr_hbr_options *hbr = &config->hbr;
    switch (c) {
    case OPT_BUDGET_FRACS:
    case OPT_BUDGETS:
        free(args->budgets);
        args->budgets = NULL;
        if (!cli_parse_budget_levels(COMMAND, c == OPT_BUDGETS ? "--budgets" : "--budget-fracs",
                                     optarg, &args->budgets, &args->n_budgets))
            return 0;
        hbr->budget_mode = c == OPT_BUDGETS ? SR_HBR_BUDGET_ABSOLUTE : SR_HBR_BUDGET_FRACTIONS;
        hbr->budget_values = args->budgets;
        hbr->n_budget_values = args->n_budgets;
        return 1;
    case OPT_LOG_UNIFORM:
        return parse_log_uniform(optarg, hbr);
    case OPT_C_REF:
        return cli_parse_double(COMMAND, "--c-ref", optarg, &hbr->c_ref);
    case OPT_MAX_ENUM:
        return cli_parse_u64(COMMAND, "--max-enum", optarg, &hbr->max_enum);
    case OPT_PATHS:
        return cli_parse_int(COMMAND, "--paths", optarg, 1, SR_HBR_MAX_PATHS, &hbr->n_paths);
    case OPT_MIXTURE:
        return cli_parse_mixture(COMMAND, optarg, hbr);
    case OPT_DEDUPE:
        hbr->dedupe = true;
        return 1;
    default:
        return -1;
    }
}

/* Parses argv; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, train_args *args, sr_train_config *config)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"val", required_argument, NULL, OPT_VAL},
        {"out", required_argument, NULL, OPT_OUT},
        {"algo", required_argument, NULL, OPT_ALGO},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        {"lambda-conditioned", no_argument, NULL, OPT_LAMBDA_CONDITIONED},
        {"lambda-max", required_argument, NULL, OPT_LAMBDA_MAX},
        {"lr", required_argument, NULL, OPT_LR},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"target-period", required_argument, NULL, OPT_TARGET_PERIOD},
        {"tau", required_argument, NULL, OPT_TAU},
        {"hidden", required_argument, NULL, OPT_HIDDEN},
        {"gamma", required_argument, NULL, OPT_GAMMA},
        {"eta", required_argument, NULL, OPT_ETA},
        {"grad-clip", required_argument, NULL, OPT_GRAD_CLIP},
        {"q-bound-factor", required_argument, NULL, OPT_Q_BOUND},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
        {"patience", required_argument, NULL, OPT_PATIENCE},
        {"eval-seed", required_argument, NULL, OPT_EVAL_SEED},
        {"log-every", required_argument, NULL, OPT_LOG_EVERY},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"resume", required_argument, NULL, OPT_RESUME},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"curves", required_argument, NULL, OPT_CURVES},
        {"state-options", required_argument, NULL, OPT_STATE_OPTIONS},
        {"budget-bins", required_argument, NULL, OPT_BUDGET_BINS},
        {"b-ref", required_argument, NULL, OPT_B_REF},
        {"t-ref", required_argument, NULL, OPT_T_REF},
        {"no-normalise", no_argument, NULL, OPT_NO_NORMALISE},
        {"std-floor", required_argument, NULL, OPT_STD_FLOOR},
        {"features", required_argument, NULL, OPT_FEATURES},
        {"feature-dim", required_argument, NULL, OPT_FEATURE_DIM},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"budget-fracs", required_argument, NULL, OPT_BUDGET_FRACS},
        {"budgets", required_argument, NULL, OPT_BUDGETS},
        {"log-uniform", required_argument, NULL, OPT_LOG_UNIFORM},
        {"c-ref", required_argument, NULL, OPT_C_REF},
        {"max-enum", required_argument, NULL, OPT_MAX_ENUM},
        {"paths", required_argument, NULL, OPT_PATHS},
        {"mixture", required_argument, NULL, OPT_MIXTURE},
        {"dedupe", no_argument, NULL, OPT_DEDUPE},
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
        int handled = parse_learner_option(c, config);
        if (handled < 0)
            handled = parse_state_option(c, config);
        if (handled < 0)
            handled = parse_hbr_option(c, config, args);
        if (handled == 0)
            return CLI_EXIT_USAGE;
        if (handled > 0)
            continue;

        switch (c) {
        case OPT_DATA:
            args->data = optarg;
            break;
        case OPT_VAL:
            args->val = optarg;
            break;
        case OPT_RESUME:
            args->resume = optarg;
            break;
        case OPT_CURVES:
            args->curves = optarg;
            break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") == 0)
                args->progress = PROGRESS_AUTO;
            else if (strcmp(optarg, "bar") == 0)
                args->progress = PROGRESS_BAR;
            else if (strcmp(optarg, "lines") == 0)
                args->progress = PROGRESS_LINES;
            else {
                cli_usage_error(COMMAND, "option --progress: '%s' is not auto, bar or lines",
                                optarg);
                return CLI_EXIT_USAGE;
            }
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
        default:
            cli_usage_error(COMMAND, "unknown option or missing value in '%s'", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }

    if (optind < argc) {
        cli_usage_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (args->data == NULL || config->out_path == NULL) {
        cli_usage_error(COMMAND, "--data and --out are required");
        return CLI_EXIT_USAGE;
    }
    if (args->curves != NULL) {
        const char *const others[] = {args->data, args->val, args->resume, config->out_path,
                                      config->checkpoint_path};
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
            if (others[i] != NULL && cmd_same_file(args->curves, others[i])) {
                cli_usage_error(COMMAND,
                                "--curves %s names the same file as %s; choose another file",
                                args->curves, others[i]);
                return CLI_EXIT_USAGE;
            }
    }
    sr_error err;
    if (sr_train_config_check(config, &err) != SR_OK) {
        cli_usage_error(COMMAND, "%s", err.message);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

static void report_skip(const sr_error *reason, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "seqroute train: skipped: %s\n", reason->message);
}

static int load(const char *path, bool skip_invalid, sr_dataset *ds)
{
    sr_error err;
    sr_load_options options = {0};
    size_t skipped = 0;
    options.skip_invalid = skip_invalid;
    options.on_skip = report_skip;
    sr_error_clear(&err);
    if (sr_dataset_load(path, &options, ds, &skipped, &err) != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    if (skipped > 0)
        fprintf(stderr, "seqroute train: %s: skipped %zu invalid session lines\n", path, skipped);
    return CLI_EXIT_OK;
}

/* Progress output state. */
typedef struct progress_sink {
    bool bar;
    bool bar_drawn;
    FILE *curves;      /* the --curves CSV, or NULL */
    bool curves_failed; /* a write to it failed */
} progress_sink;


/* Prints " key=value" or " key=-" for an undefined value. */
static void print_field(const char *key, double value)
{
    if (isfinite(value))
        fprintf(stderr, " %s=%.6g", key, value);
    else
        fprintf(stderr, " %s=-", key);
}

static void on_progress(const sr_train_progress *p, void *user_data)
{
    progress_sink *sink = user_data;

    if (sink->curves != NULL && !sr_train_curves_write_row(sink->curves, p))
        sink->curves_failed = true;
    if (sink->bar) {
        /* A validation result gets its own line above the bar. */
        if (p->validated) {
            fprintf(stderr, "\r\033[K");
            fprintf(stderr, "validation step=%lld", (long long)p->step);
            print_field("return", p->val_return);
            print_field("cost", p->val_cost);
            print_field("bankruptcy", p->val_bankruptcy);
            print_field("best", p->best_val_return);
            fprintf(stderr, "\n");
        }
        const double done = p->steps > 0 ? (double)p->step / (double)p->steps : 1.0;
        const int filled = (int)(done * BAR_WIDTH);
        fprintf(stderr, "\r[");
        for (int i = 0; i < BAR_WIDTH; i++)
            fputc(i < filled ? '#' : ' ', stderr);
        fprintf(stderr, "] %3.0f%% %lld/%lld loss %.4g mean_q %.4g best %.4g", 100 * done,
                (long long)p->step, (long long)p->steps, p->loss, p->mean_q, p->best_val_return);
        sink->bar_drawn = true;

        /* The last step ends the line, so the closing log lines start on their own. */
        if (p->step >= p->steps) {
            fputc('\n', stderr);
            sink->bar_drawn = false;
        }
        fflush(stderr);
        return;
    }

    fprintf(stderr, "train step=%lld/%lld", (long long)p->step, (long long)p->steps);
    print_field("loss", p->loss);
    print_field("td", p->td);
    print_field("cql", p->cql);
    print_field("mean_q", p->mean_q);
    if (p->validated) {
        print_field("val_return", p->val_return);
        print_field("val_cost", p->val_cost);
        print_field("val_bankruptcy", p->val_bankruptcy);
    }
    print_field("best_val_return", p->best_val_return);
    fprintf(stderr, "\n");
}

int cmd_train(int argc, char **argv)
{
    train_args args = {0};
    sr_train_config config;
    sr_train_config_default(&config);
    sr_dataset train;
    sr_dataset val;
    sr_dataset_init(&train);
    sr_dataset_init(&val);

    int code = parse_args(argc, argv, &args, &config);
    if (code >= 0)
        goto out;
    cli_log_init(args.verbose);

    code = load(args.data, args.skip_invalid, &train);
    if (code == CLI_EXIT_OK && args.val != NULL)
        code = load(args.val, args.skip_invalid, &val);
    if (code != CLI_EXIT_OK)
        goto out;

    /* Progress: a bar on a terminal, unless --progress selects a mode. */
    progress_sink sink = {0};
    if (args.curves != NULL) {
        sink.curves = fopen(args.curves, "w");
        if (sink.curves == NULL) {
            fprintf(stderr, "seqroute train: %s: cannot open the curves file for writing: %s\n",
                    args.curves, strerror(errno));
            code = CLI_EXIT_FAILURE;
            goto out;
        }
        if (!sr_train_curves_write_header(sink.curves))
            sink.curves_failed = true;
    }
    sink.bar = args.progress == PROGRESS_BAR ||
               (args.progress == PROGRESS_AUTO && isatty(fileno(stderr)));
    config.progress = on_progress;
    config.progress_data = &sink;
    config.train_name = args.data;
    config.val_name = args.val;

    sr_train_result result;
    sr_error err;
    sr_error_clear(&err);
    sr_status status =
        sr_train_run(&train, args.val ? &val : NULL, &config, args.resume, &result, &err);
    if (sink.bar_drawn)
        fputc('\n', stderr);
    if (sink.curves != NULL) {
        if (fclose(sink.curves) != 0)
            sink.curves_failed = true;
        sink.curves = NULL;
        if (sink.curves_failed && status == SR_OK) {
            fprintf(stderr, "seqroute train: %s: writing the curves failed: %s\n", args.curves,
                    strerror(errno));
            code = CLI_EXIT_FAILURE;
            goto out;
        }
    }
    if (status != SR_OK) {
        cli_report_error(&err);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    fprintf(stderr, "seqroute train: wrote %s (%lld steps, best at step %lld", config.out_path,
            (long long)result.steps, (long long)result.best_step);
    if (isfinite(result.best_val_return))
        fprintf(stderr, ", validation return %.6g", result.best_val_return);
    fprintf(stderr, "%s)\n", result.early_stopped ? ", stopped early" : "");
    code = CLI_EXIT_OK;

out:
    sr_dataset_free(&train);
    sr_dataset_free(&val);
    free(args.budgets);
    return code;
}
