/*
 * cmd_synth.c - `seqroute synth`: write synthetic sessions (src/synth.c).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seqroute/dataset.h"
#include "seqroute/synth.h"

static const char *const COMMAND = "synth";

static void print_help(FILE *out, const sr_synth_config *d)
{
    fprintf(out,
            "usage: seqroute synth [--out FILE] [--sessions N] [--models K] [--seed S] ...\n"
            "\n"
            "Generate seeded synthetic multi-turn sessions in the seqroute format.\n"
            "Every setting is recorded in the output header under \"synth\";\n"
            "docs/SYNTH.md explains the model behind them.\n"
            "\n"
            "Output and size:\n"
            "  --out FILE             output file, '-' for standard output (default -)\n"
            "  --sessions N           number of sessions (default %zu)\n"
            "  --seed S               random seed, a non-negative integer (default %llu)\n"
            "  --min-turns N          shortest session in turns (default %d)\n"
            "  --max-turns N          longest session in turns (default %d); equal values\n"
            "                         fix the length (4 and 4 match the SeqRoute paper)\n"
            "Models (model 1 strongest and dearest, prices log-uniform down to 1/ratio):\n"
            "  --models K             number of models, 2..8 (default %d)\n"
            "  --strength-strong X    strength of the strongest model (default %g)\n"
            "  --strength-weak X      strength of the weakest model (default %g)\n"
            "  --input-price P        strongest model's USD per 1M input tokens (default %g)\n"
            "  --output-price P       strongest model's USD per 1M output tokens (default %g)\n"
            "  --price-ratio R        strongest price / weakest price, >= 1 (default %g)\n"
            "Turns:\n"
            "  --hard-late P          probability that a second-half turn is hard (default %g)\n"
            "  --hard-early P         probability that a first-half turn is hard (default %g)\n"
            "  --easy-max D           ordinary difficulty ~ U(0, D) (default %g)\n"
            "  --hard-min D           hard difficulty ~ U(hard-min, hard-max) (default %g)\n"
            "  --hard-max D           (default %g)\n"
            "  --sharpness S          slope of quality against strength - difficulty (default %g)\n"
            "  --quality-noise SD     Gaussian noise on continuous quality (default %g)\n"
            "  --binary               0/1 correctness instead of continuous quality\n"
            "  --input-tokens N       median input tokens per turn (default %g)\n"
            "  --output-tokens N      median output tokens at difficulty 0 (default %g)\n"
            "  --token-spread SD      sd of log token counts, 0..3 (default %g)\n"
            "Observations:\n"
            "  --no-text              omit turn texts (needs --embedding-dim)\n"
            "  --text-signal P        probability a difficulty word matches the turn's\n"
            "                         difficulty band (default %g)\n"
            "  --embedding-dim D      add a noisy D-dimensional embedding of the latent\n"
            "                         factors to every turn (default 0: none)\n"
            "  --embedding-noise SD   noise on each embedding value (default %g)\n"
            "Logging policy and budget:\n"
            "  --logged POLICY        none, random or greedy (default none)\n"
            "  --logged-epsilon P     greedy only: chance of a random model (default %g)\n"
            "  --logged-only          keep only the logged model's outcome per turn\n"
            "  --budget B             write this budget (USD) on every session\n"
            "Other:\n"
            "  --verbose              log debug events\n"
            "  --help                 show this help\n",
            d->n_sessions, (unsigned long long)d->seed, d->min_turns, d->max_turns, d->n_models,
            d->strength_strong, d->strength_weak, d->strong_input_price,
            d->strong_output_price, d->price_ratio, d->hard_late, d->hard_early, d->easy_max,
            d->hard_min, d->hard_max, d->sharpness, d->quality_noise, d->input_tokens,
            d->output_tokens, d->token_spread, d->text_signal, d->embedding_noise,
            d->logged_epsilon);
}

enum {
    OPT_OUT = 256,
    OPT_SESSIONS,
    OPT_MODELS,
    OPT_SEED,
    OPT_MIN_TURNS,
    OPT_MAX_TURNS,
    OPT_STRENGTH_STRONG,
    OPT_STRENGTH_WEAK,
    OPT_INPUT_PRICE,
    OPT_OUTPUT_PRICE,
    OPT_PRICE_RATIO,
    OPT_HARD_LATE,
    OPT_HARD_EARLY,
    OPT_EASY_MAX,
    OPT_HARD_MIN,
    OPT_HARD_MAX,
    OPT_SHARPNESS,
    OPT_QUALITY_NOISE,
    OPT_BINARY,
    OPT_INPUT_TOKENS,
    OPT_OUTPUT_TOKENS,
    OPT_TOKEN_SPREAD,
    OPT_NO_TEXT,
    OPT_TEXT_SIGNAL,
    OPT_EMBEDDING_DIM,
    OPT_EMBEDDING_NOISE,
    OPT_LOGGED,
    OPT_LOGGED_EPSILON,
    OPT_LOGGED_ONLY,
    OPT_BUDGET,
    OPT_VERBOSE,
    OPT_HELP
};

static const struct option long_options[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"sessions", required_argument, NULL, OPT_SESSIONS},
    {"models", required_argument, NULL, OPT_MODELS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"min-turns", required_argument, NULL, OPT_MIN_TURNS},
    {"max-turns", required_argument, NULL, OPT_MAX_TURNS},
    {"strength-strong", required_argument, NULL, OPT_STRENGTH_STRONG},
    {"strength-weak", required_argument, NULL, OPT_STRENGTH_WEAK},
    {"input-price", required_argument, NULL, OPT_INPUT_PRICE},
    {"output-price", required_argument, NULL, OPT_OUTPUT_PRICE},
    {"price-ratio", required_argument, NULL, OPT_PRICE_RATIO},
    {"hard-late", required_argument, NULL, OPT_HARD_LATE},
    {"hard-early", required_argument, NULL, OPT_HARD_EARLY},
    {"easy-max", required_argument, NULL, OPT_EASY_MAX},
    {"hard-min", required_argument, NULL, OPT_HARD_MIN},
    {"hard-max", required_argument, NULL, OPT_HARD_MAX},
    {"sharpness", required_argument, NULL, OPT_SHARPNESS},
    {"quality-noise", required_argument, NULL, OPT_QUALITY_NOISE},
    {"binary", no_argument, NULL, OPT_BINARY},
    {"input-tokens", required_argument, NULL, OPT_INPUT_TOKENS},
    {"output-tokens", required_argument, NULL, OPT_OUTPUT_TOKENS},
    {"token-spread", required_argument, NULL, OPT_TOKEN_SPREAD},
    {"no-text", no_argument, NULL, OPT_NO_TEXT},
    {"text-signal", required_argument, NULL, OPT_TEXT_SIGNAL},
    {"embedding-dim", required_argument, NULL, OPT_EMBEDDING_DIM},
    {"embedding-noise", required_argument, NULL, OPT_EMBEDDING_NOISE},
    {"logged", required_argument, NULL, OPT_LOGGED},
    {"logged-epsilon", required_argument, NULL, OPT_LOGGED_EPSILON},
    {"logged-only", no_argument, NULL, OPT_LOGGED_ONLY},
    {"budget", required_argument, NULL, OPT_BUDGET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Maps an option code to the double field it sets, or NULL. */
static double *double_field(sr_synth_config *cfg, int code)
{
    switch (code) {
    case OPT_STRENGTH_STRONG:
        return &cfg->strength_strong;
    case OPT_STRENGTH_WEAK:
        return &cfg->strength_weak;
    case OPT_INPUT_PRICE:
        return &cfg->strong_input_price;
    case OPT_OUTPUT_PRICE:
        return &cfg->strong_output_price;
    case OPT_PRICE_RATIO:
        return &cfg->price_ratio;
    case OPT_HARD_LATE:
        return &cfg->hard_late;
    case OPT_HARD_EARLY:
        return &cfg->hard_early;
    case OPT_EASY_MAX:
        return &cfg->easy_max;
    case OPT_HARD_MIN:
        return &cfg->hard_min;
    case OPT_HARD_MAX:
        return &cfg->hard_max;
    case OPT_SHARPNESS:
        return &cfg->sharpness;
    case OPT_QUALITY_NOISE:
        return &cfg->quality_noise;
    case OPT_INPUT_TOKENS:
        return &cfg->input_tokens;
    case OPT_OUTPUT_TOKENS:
        return &cfg->output_tokens;
    case OPT_TOKEN_SPREAD:
        return &cfg->token_spread;
    case OPT_TEXT_SIGNAL:
        return &cfg->text_signal;
    case OPT_EMBEDDING_NOISE:
        return &cfg->embedding_noise;
    case OPT_LOGGED_EPSILON:
        return &cfg->logged_epsilon;
    case OPT_BUDGET:
        return &cfg->budget;
    default:
        return NULL;
    }
}

/* Returns the option that sets configuration field `field` ("hard_late" -> "--hard-late"). */
static void option_of_field(const char *field, char *option, size_t size)
{
    static const char *const renamed[][2] = {
        {"strong_input_price", "--input-price"}, {"strong_output_price", "--output-price"},
        {"n_sessions", "--sessions"},            {"text", "--no-text"},
    };
    for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++) {
        if (strcmp(field, renamed[i][0]) == 0) {
            snprintf(option, size, "%s", renamed[i][1]);
            return;
        }
    }
    snprintf(option, size, "--%s", field);
    for (char *p = option; *p; p++)
        if (*p == '_')
            *p = '-';
}

/* Parses the command line into `cfg` and `out`; returns an exit code or -1 to go on. */
static int parse_arguments(int argc, char **argv, sr_synth_config *cfg, const char **out)
{
    sr_synth_config defaults = *cfg;
    uint64_t sessions = 0;
    int code;

    optind = 1;
    while ((code = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        double *field = double_field(cfg, code);
        const char *name = NULL;
        for (const struct option *o = long_options; o->name != NULL; o++)
            if (o->val == code)
                name = o->name;

        if (field != NULL) {
            char option[64];
            snprintf(option, sizeof(option), "--%s", name);
            if (!cli_parse_double(COMMAND, option, optarg, field))
                return CLI_EXIT_USAGE;
            continue;
        }
        switch (code) {
        case OPT_OUT:
            *out = optarg;
            break;
        case OPT_SESSIONS:
            if (!cli_parse_u64(COMMAND, "--sessions", optarg, &sessions))
                return CLI_EXIT_USAGE;
            cfg->n_sessions = (size_t)sessions;
            break;
        case OPT_MODELS:
            if (!cli_parse_int(COMMAND, "--models", optarg, SR_SYNTH_MIN_MODELS,
                               SR_SYNTH_MAX_MODELS, &cfg->n_models))
                return CLI_EXIT_USAGE;
            break;
        case OPT_SEED:
            if (!cli_parse_u64(COMMAND, "--seed", optarg, &cfg->seed))
                return CLI_EXIT_USAGE;
            break;
        case OPT_MIN_TURNS:
            if (!cli_parse_int(COMMAND, "--min-turns", optarg, 1, SR_MAX_TURNS,
                               &cfg->min_turns))
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_TURNS:
            if (!cli_parse_int(COMMAND, "--max-turns", optarg, 1, SR_MAX_TURNS,
                               &cfg->max_turns))
                return CLI_EXIT_USAGE;
            break;
        case OPT_EMBEDDING_DIM:
            if (!cli_parse_int(COMMAND, "--embedding-dim", optarg, 0, SR_MAX_EMBEDDING_DIM,
                               &cfg->embedding_dim))
                return CLI_EXIT_USAGE;
            break;
        case OPT_BINARY:
            cfg->binary = true;
            break;
        case OPT_NO_TEXT:
            cfg->text = false;
            break;
        case OPT_LOGGED_ONLY:
            cfg->logged_only = true;
            break;
        case OPT_LOGGED:
            if (!sr_synth_logged_parse(optarg, &cfg->logged)) {
                cli_usage_error(COMMAND, "option --logged: unknown policy '%s'; use none, "
                                         "random or greedy",
                                optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_VERBOSE:
            cli_log_init(true);
            break;
        case OPT_HELP:
            print_help(stdout, &defaults);
            return CLI_EXIT_OK;
        default:
            cli_usage_error(COMMAND, "unknown or incomplete option");
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }

    /* Settings that only make sense together are usage errors, named by option. */
    sr_error err;
    sr_error_clear(&err);
    if (sr_synth_config_check(cfg, &err) != SR_OK) {
        char option[sizeof(err.field) + 8];
        option_of_field(err.field, option, sizeof(option));
        const char *reason = strstr(err.message, "': ");
        cli_usage_error(COMMAND, "option %s: %s", option, reason ? reason + 3 : err.message);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

int cmd_synth(int argc, char **argv)
{
    sr_synth_config cfg;
    const char *out = "-";
    sr_dataset ds;
    sr_error err;

    cli_log_init(false);
    sr_synth_config_default(&cfg);
    int exit_code = parse_arguments(argc, argv, &cfg, &out);
    if (exit_code >= 0)
        return exit_code;

    sr_dataset_init(&ds);
    sr_error_clear(&err);
    sr_status status = sr_synth_generate(&cfg, &ds, NULL, &err);
    if (status == SR_OK)
        status = sr_dataset_save(&ds, out, &err);
    if (status != SR_OK) {
        cli_report_error(&err);
        sr_dataset_free(&ds);
        return CLI_EXIT_FAILURE;
    }
    sr_log(SR_LOG_INFO, "synth_written out=%s sessions=%zu turns=%zu", out, ds.n_sessions,
           ds.n_turns);
    sr_dataset_free(&ds);
    return CLI_EXIT_OK;
}
