/*
 * cmd_split.c - `seqroute split`: split a session file into train,
 * validation and test files by session (src/split.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_paths.h"
#include "seqroute/dataset.h"
#include "seqroute/split.h"

static const char *const COMMAND = "split";

/* Parts in command-line order, with the names written into the headers. */
enum { PART_TRAIN, PART_VAL, PART_TEST, N_PARTS };
static const char *const part_names[N_PARTS] = {"train", "val", "test"};

/* Default seed; any value works, a fixed one makes repeated runs agree. */
#define DEFAULT_SEED 1

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: seqroute split --data FILE --train OUT --val OUT --test OUT\n"
            "                      [--fractions F,F,F] [--seed S] [--skip-invalid]\n"
            "\n"
            "Split a session file into train, validation and test files by session: every\n"
            "turn of a session goes to the same file.  The assignment is a seeded shuffle,\n"
            "so the same seed and session count always give the same split.  Each output\n"
            "keeps the input header and adds a \"split\" record (seed, part, fractions, of).\n"
            "\n"
            "Options:\n"
            "  --data FILE        session file to split; \"-\" reads standard input\n"
            "  --train OUT        output file of the training part\n"
            "  --val OUT          output file of the validation part\n"
            "  --test OUT         output file of the test part\n"
            "  --fractions LIST   train,val,test shares of the sessions, each >= 0 and\n"
            "                     summing to 1 (default 0.8,0.1,0.1); part sizes use the\n"
            "                     largest-remainder method, so they add up exactly\n"
            "  --seed S           shuffle seed, a non-negative integer (default %d)\n"
            "  --skip-invalid     skip bad session lines (each reported) instead of stopping\n"
            "  --verbose          log debug events\n"
            "  -h, --help         print this help\n"
            "\n"
            "Exit status: 0 done, 1 invalid data or I/O error, 2 bad command line.\n",
            DEFAULT_SEED);
}

static void report_skip(const sr_error *reason, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "seqroute split: skipped line: %s\n", reason->message);
}

enum { OPT_DATA = 256, OPT_TRAIN, OPT_VAL, OPT_TEST, OPT_FRACTIONS, OPT_SEED, OPT_SKIP,
       OPT_VERBOSE };

static const struct option long_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"train", required_argument, NULL, OPT_TRAIN},
    {"val", required_argument, NULL, OPT_VAL},
    {"test", required_argument, NULL, OPT_TEST},
    {"fractions", required_argument, NULL, OPT_FRACTIONS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"skip-invalid", no_argument, NULL, OPT_SKIP},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct split_args {
    const char *data;
    const char *outputs[N_PARTS];
    double fractions[N_PARTS];
    uint64_t seed;
    bool skip_invalid;
} split_args;

/* Checks the fraction list: three values, each >= 0, summing to 1. */
static bool parse_fractions(const char *text, double *fractions)
{
    double *values = NULL;
    size_t count = 0;

    if (!cli_parse_double_list(COMMAND, "--fractions", text, &values, &count))
        return false;
    if (count != N_PARTS) {
        cli_usage_error(COMMAND, "option --fractions: '%s' has %zu values; give 3 (train,val,test)",
                        text, count);
        free(values);
        return false;
    }
    sr_error err;
    sr_error_clear(&err);
    bool ok = sr_split_check_fractions(values, N_PARTS, &err) == SR_OK;
    if (!ok)
        cli_usage_error(COMMAND, "option --fractions: '%s': %s", text,
                        strstr(err.message, "': ") ? strstr(err.message, "': ") + 3
                                                   : err.message);
    else
        memcpy(fractions, values, N_PARTS * sizeof(double));
    free(values);
    return ok;
}

/* Parses the command line; returns an exit code, or -1 to go on. */
static int parse_arguments(int argc, char **argv, split_args *args)
{
    int code;

    optind = 1;
    while ((code = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        switch (code) {
        case OPT_DATA:
            args->data = optarg;
            break;
        case OPT_TRAIN:
        case OPT_VAL:
        case OPT_TEST:
            args->outputs[code - OPT_TRAIN] = optarg;
            break;
        case OPT_FRACTIONS:
            if (!parse_fractions(optarg, args->fractions))
                return CLI_EXIT_USAGE;
            break;
        case OPT_SEED:
            if (!cli_parse_u64(COMMAND, "--seed", optarg, &args->seed))
                return CLI_EXIT_USAGE;
            break;
        case OPT_SKIP:
            args->skip_invalid = true;
            break;
        case OPT_VERBOSE:
            cli_log_init(true);
            break;
        case 'h':
            print_help(stdout);
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

    /* Every path is required, and no two may name the same file. */
    if (args->data == NULL) {
        cli_usage_error(COMMAND, "missing --data FILE");
        return CLI_EXIT_USAGE;
    }
    for (int p = 0; p < N_PARTS; p++) {
        if (args->outputs[p] == NULL) {
            cli_usage_error(COMMAND, "missing --%s OUT", part_names[p]);
            return CLI_EXIT_USAGE;
        }
        if (cmd_same_file(args->outputs[p], args->data)) {
            cli_usage_error(COMMAND, "--%s %s would overwrite the input; choose another file",
                            part_names[p], args->outputs[p]);
            return CLI_EXIT_USAGE;
        }
        for (int q = 0; q < p; q++) {
            if (cmd_same_file(args->outputs[p], args->outputs[q])) {
                cli_usage_error(COMMAND, "--%s and --%s both name %s; give each part its own file",
                                part_names[q], part_names[p], args->outputs[p]);
                return CLI_EXIT_USAGE;
            }
        }
    }
    return -1;
}

int cmd_split(int argc, char **argv)
{
    split_args args = {.fractions = {0.8, 0.1, 0.1}, .seed = DEFAULT_SEED};
    sr_dataset ds;
    sr_split split;
    sr_error err;
    size_t skipped = 0;

    cli_log_init(false);
    int exit_code = parse_arguments(argc, argv, &args);
    if (exit_code >= 0)
        return exit_code;

    /* Load. */
    sr_load_options options = {.skip_invalid = args.skip_invalid, .on_skip = report_skip};
    sr_dataset_init(&ds);
    sr_error_clear(&err);
    if (sr_dataset_load(args.data, &options, &ds, &skipped, &err) != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    if (skipped > 0)
        fprintf(stderr, "seqroute split: skipped %zu invalid session line(s) of %s\n", skipped,
                args.data);

    /* Split and write each part. */
    sr_status status = sr_split_sessions(&ds, args.fractions, N_PARTS, args.seed, &split, &err);
    for (int p = 0; status == SR_OK && p < N_PARTS; p++)
        status = sr_split_save_part(&ds, &split, p, part_names[p], args.outputs[p], &err);
    if (status != SR_OK) {
        cli_report_error(&err);
        sr_split_free(&split);
        sr_dataset_free(&ds);
        return CLI_EXIT_FAILURE;
    }

    sr_log(SR_LOG_INFO, "split_done data=%s of=%zu train=%zu val=%zu test=%zu seed=%llu",
           args.data, ds.n_sessions, split.counts[PART_TRAIN], split.counts[PART_VAL],
           split.counts[PART_TEST], (unsigned long long)args.seed);
    sr_split_free(&split);
    sr_dataset_free(&ds);
    return CLI_EXIT_OK;
}
