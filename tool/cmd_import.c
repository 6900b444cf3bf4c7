/*
 * cmd_import.c - `seqroute import KIND [OPTIONS] FILES`: converts public
 * benchmark formats (routerbench, table, mtbench) to the session format.
 *
 * One option table serves the three kinds; options that a kind does not use
 * are usage errors rather than silently ignored.  The library does the
 * work and reports skipped rows through the log callback, so this file
 * parses the command line, calls the importer, writes the result and logs
 * one summary line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_paths.h"
#include "seqroute/dataset.h"
#include "seqroute/import.h"

/* Most repeatable option values (--rename, --price, files...) per run. */
#define MAX_OPTION_VALUES 1024

enum {
    OPT_OUT = 'o',
    OPT_SEED = 256,
    OPT_TURNS,
    OPT_MODELS,
    OPT_RENAME,
    OPT_PRICE,
    OPT_PRICE_KEY,
    OPT_PRICES,
    OPT_CATALOGUE,
    OPT_OUTPUT_TOKENS,
    OPT_QUESTIONS,
    OPT_JUDGMENTS,
    OPT_ANSWERS,
    OPT_NO_TEXT,
    OPT_VERBOSE = 'v',
    OPT_HELP = 'h'
};

typedef enum kind { KIND_ROUTERBENCH, KIND_TABLE, KIND_MTBENCH } kind;

/* A growable list of borrowed argv strings. */
typedef struct string_list {
    const char *items[MAX_OPTION_VALUES];
    size_t n;
} string_list;

static bool list_add(string_list *list, const char *option, const char *value)
{
    if (list->n >= MAX_OPTION_VALUES) {
        cli_usage_error("import", "option %s is given more than %d times", option,
                        MAX_OPTION_VALUES);
        return false;
    }
    list->items[list->n++] = value;
    return true;
}

static const char COMMON_HELP[] =
    "  -o, --out FILE         write sessions to FILE (default: standard output)\n"
    "      --models A,B,...   keep only these models, in this order (names after --rename)\n"
    "      --rename RAW=NEW   rename a model found in the input (repeatable)\n"
    "      --no-text          leave turn texts out of the output\n"
    "  -v, --verbose          log debug events\n"
    "  -h, --help             show this help\n";

static const char CHAIN_HELP[] =
    "      --seed N           shuffle seed of the chaining (default 1)\n"
    "      --turns N|MIN-MAX  turns per chained session, fixed or drawn uniformly per\n"
    "                         session (default 4); a last shorter session takes the rest\n";

static const char PRICE_HELP[] =
    "      --price M=IN/OUT   price of model M in USD per 1M input/output tokens (repeatable)\n"
    "      --price-key M=KEY  price model M with LiteLLM key KEY of --prices (repeatable)\n"
    "      --prices FILE      LiteLLM price table (model_prices_and_context_window.json);\n"
    "                         models not priced otherwise are looked up by name\n"
    "      --catalogue FILE   prices from a seqroute session file header, a JSON object\n"
    "                         {\"models\": [...]}, or LLMRouter's default_llm.json\n";

static void print_help(kind k)
{
    switch (k) {
    case KIND_ROUTERBENCH:
        printf("usage: seqroute import routerbench [OPTIONS] FILE.csv...\n\n"
               "Converts RouterBench wide CSVs (<model>, <model>|total_cost columns) to\n"
               "sessions by chaining their rows.  Costs are the logged USD costs; each\n"
               "model's cost_per_call in the catalogue is its mean logged cost.  Rows with\n"
               "an empty correctness or cost cell are reported and skipped.\n\nOptions:\n");
        fputs(CHAIN_HELP, stdout);
        break;
    case KIND_TABLE:
        printf("usage: seqroute import table [OPTIONS] FILE...\n\n"
               "Converts per-prompt outcome tables to sessions by chaining their rows:\n"
               "RouteLLM CSVs (prompt, one True/False column per model, optional\n"
               "<model>_response) and LLMRouter JSON ([{\"question\", \"scores\"}]).\n"
               "Cost = input tokens x input price + output tokens x output price, with\n"
               "tokens = UTF-8 bytes / 4 of the prompt and of the response.\n\nOptions:\n");
        fputs(CHAIN_HELP, stdout);
        fputs(PRICE_HELP, stdout);
        printf("      --output-tokens N  output tokens of a call without response text\n"
               "                         (default 1: an MMLU answer is one letter)\n");
        break;
    case KIND_MTBENCH:
        printf("usage: seqroute import mtbench --questions FILE --judgments FILE... [OPTIONS]\n\n"
               "Converts FastChat MT-Bench single-answer judgments to one session per\n"
               "question (quality = (score - 1) / 9).  Score -1 judgments are reported and\n"
               "skipped; of duplicates the latest tstamp wins; a question lacking a valid\n"
               "judgment of a selected model is reported and skipped.\n\nOptions:\n"
               "      --questions FILE   MT-Bench question.jsonl\n"
               "      --judgments FILE   judgment file, e.g. gpt-4_single.jsonl (repeatable;\n"
               "                         extra arguments are judgment files too)\n"
               "      --answers FILE     FastChat answer file; answer text is otherwise cut\n"
               "                         from the judge prompt (repeatable)\n");
        fputs(PRICE_HELP, stdout);
        break;
    }
    fputs(COMMON_HELP, stdout);
}

static void print_kinds(FILE *out)
{
    fprintf(out, "usage: seqroute import KIND [OPTIONS] FILES\n\n"
                 "Kinds:\n"
                 "  routerbench  RouterBench wide CSVs with logged USD costs\n"
                 "  table        RouteLLM CSVs and LLMRouter JSON, priced from a catalogue\n"
                 "  mtbench      FastChat MT-Bench question, judgment and answer files\n\n"
                 "Run 'seqroute import KIND --help' for the options of one kind.\n");
}

/* Options that only some kinds use; giving them to another kind is an error. */
static bool check_kind_options(kind k, const char *kind_name, bool chain_given, bool price_given,
                               bool output_tokens_given, bool mtbench_given)
{
    if (k == KIND_MTBENCH && chain_given) {
        cli_usage_error("import", "mtbench sessions are not chained; --seed and --turns do "
                                  "not apply");
        return false;
    }
    if (k == KIND_ROUTERBENCH && price_given) {
        cli_usage_error("import", "routerbench uses the logged costs; price options do not "
                                  "apply");
        return false;
    }
    if (k != KIND_TABLE && output_tokens_given) {
        cli_usage_error("import", "--output-tokens applies to 'table' only, not '%s'", kind_name);
        return false;
    }
    if (k != KIND_MTBENCH && mtbench_given) {
        cli_usage_error("import",
                        "--questions, --judgments and --answers apply to 'mtbench' "
                        "only, not '%s'",
                        kind_name);
        return false;
    }
    return true;
}

int cmd_import(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"out", required_argument, NULL, OPT_OUT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"turns", required_argument, NULL, OPT_TURNS},
        {"models", required_argument, NULL, OPT_MODELS},
        {"rename", required_argument, NULL, OPT_RENAME},
        {"price", required_argument, NULL, OPT_PRICE},
        {"price-key", required_argument, NULL, OPT_PRICE_KEY},
        {"prices", required_argument, NULL, OPT_PRICES},
        {"catalogue", required_argument, NULL, OPT_CATALOGUE},
        {"output-tokens", required_argument, NULL, OPT_OUTPUT_TOKENS},
        {"questions", required_argument, NULL, OPT_QUESTIONS},
        {"judgments", required_argument, NULL, OPT_JUDGMENTS},
        {"answers", required_argument, NULL, OPT_ANSWERS},
        {"no-text", no_argument, NULL, OPT_NO_TEXT},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    static string_list renames, prices, price_keys, judgments, answers;
    sr_import_options options;
    const char *out_path = NULL;
    const char *questions = NULL;
    char **models = NULL;
    size_t n_models = 0;
    bool verbose = false;
    bool chain_given = false;
    bool price_given = false;
    bool output_tokens_given = false;
    bool mtbench_given = false;
    sr_error err;
    kind k;
    int opt;

    /* The kind comes first. */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_kinds(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *kind_name = argv[1];
    if (strcmp(kind_name, "routerbench") == 0)
        k = KIND_ROUTERBENCH;
    else if (strcmp(kind_name, "table") == 0)
        k = KIND_TABLE;
    else if (strcmp(kind_name, "mtbench") == 0)
        k = KIND_MTBENCH;
    else {
        cli_usage_error("import", "unknown kind '%s'; use routerbench, table or mtbench",
                        kind_name);
        return CLI_EXIT_USAGE;
    }

    /* Options. */
    sr_import_options_init(&options);
    argc--;
    argv++;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:vh", long_options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case OPT_OUT:
            out_path = optarg;
            break;
        case OPT_SEED:
            ok = cli_parse_u64("import", "--seed", optarg, &options.seed);
            chain_given = true;
            break;
        case OPT_TURNS: {
            sr_status status =
                sr_import_parse_turns(optarg, &options.turns_min, &options.turns_max, &err);
            if (status != SR_OK) {
                cli_usage_error("import", "%s", err.message);
                ok = false;
            }
            chain_given = true;
            break;
        }
        case OPT_MODELS:
            cli_free_strings(models, n_models);
            models = NULL;
            ok = cli_parse_string_list("import", "--models", optarg, &models, &n_models);
            if (!ok)
                n_models = 0;
            break;
        case OPT_RENAME:
            ok = list_add(&renames, "--rename", optarg);
            break;
        case OPT_PRICE:
            ok = list_add(&prices, "--price", optarg);
            price_given = true;
            break;
        case OPT_PRICE_KEY:
            ok = list_add(&price_keys, "--price-key", optarg);
            price_given = true;
            break;
        case OPT_PRICES:
            options.litellm_path = optarg;
            price_given = true;
            break;
        case OPT_CATALOGUE:
            options.catalogue_path = optarg;
            price_given = true;
            break;
        case OPT_OUTPUT_TOKENS:
            ok = cli_parse_double("import", "--output-tokens", optarg, &options.output_tokens);
            output_tokens_given = true;
            break;
        case OPT_QUESTIONS:
            questions = optarg;
            mtbench_given = true;
            break;
        case OPT_JUDGMENTS:
            ok = list_add(&judgments, "--judgments", optarg);
            mtbench_given = true;
            break;
        case OPT_ANSWERS:
            ok = list_add(&answers, "--answers", optarg);
            mtbench_given = true;
            break;
        case OPT_NO_TEXT:
            options.drop_text = true;
            break;
        case OPT_VERBOSE:
            verbose = true;
            break;
        case OPT_HELP:
            print_help(k);
            cli_free_strings(models, n_models);
            return CLI_EXIT_OK;
        default:
            cli_usage_error("import", "invalid option");
            ok = false;
            break;
        }
        if (!ok) {
            cli_free_strings(models, n_models);
            return CLI_EXIT_USAGE;
        }
    }
    if (!check_kind_options(k, kind_name, chain_given, price_given, output_tokens_given,
                            mtbench_given)) {
        cli_free_strings(models, n_models);
        return CLI_EXIT_USAGE;
    }

    /* Positional arguments are the input files (extra judgment files for mtbench). */
    const char *const *files = (const char *const *)(argv + optind);
    size_t n_files = (size_t)(argc - optind);
    if (k == KIND_MTBENCH) {
        for (size_t i = 0; i < n_files; i++)
            if (!list_add(&judgments, "--judgments", files[i])) {
                cli_free_strings(models, n_models);
                return CLI_EXIT_USAGE;
            }
        if (questions == NULL || judgments.n == 0) {
            cli_usage_error("import", "mtbench needs --questions FILE and at least one "
                                      "--judgments FILE");
            cli_free_strings(models, n_models);
            return CLI_EXIT_USAGE;
        }
    } else if (n_files == 0) {
        cli_usage_error("import", "no input files; give one or more %s files",
                        k == KIND_ROUTERBENCH ? "RouterBench CSV" : "CSV or JSON table");
        cli_free_strings(models, n_models);
        return CLI_EXIT_USAGE;
    }
    options.models = (const char *const *)models;
    options.n_models = n_models;
    options.renames = renames.items;
    options.n_renames = renames.n;
    options.prices = prices.items;
    options.n_prices = prices.n;
    options.price_keys = price_keys.items;
    options.n_price_keys = price_keys.n;
    sr_error_clear(&err);
    if (sr_import_check_options(&options, &err) != SR_OK) {
        cli_usage_error("import", "%s", err.message);
        cli_free_strings(models, n_models);
        return CLI_EXIT_USAGE;
    }

    /* The output must not overwrite an input. */
    if (out_path != NULL) {
        const char *clash = NULL;
        for (size_t i = 0; clash == NULL && k != KIND_MTBENCH && i < n_files; i++)
            if (cmd_same_file(out_path, files[i]))
                clash = files[i];
        for (size_t i = 0; clash == NULL && i < judgments.n; i++)
            if (cmd_same_file(out_path, judgments.items[i]))
                clash = judgments.items[i];
        for (size_t i = 0; clash == NULL && i < answers.n; i++)
            if (cmd_same_file(out_path, answers.items[i]))
                clash = answers.items[i];
        const char *const singles[] = {questions, options.catalogue_path, options.litellm_path};
        for (size_t i = 0; clash == NULL && i < sizeof(singles) / sizeof(singles[0]); i++)
            if (singles[i] != NULL && cmd_same_file(out_path, singles[i]))
                clash = singles[i];
        if (clash != NULL) {
            cli_usage_error("import",
                            "--out %s names the input file %s and would overwrite it; "
                            "choose another file",
                            out_path, clash);
            cli_free_strings(models, n_models);
            return CLI_EXIT_USAGE;
        }
    }

    /* Import and write. */
    cli_log_init(verbose);
    sr_dataset ds;
    sr_import_report report;
    sr_status status;
    sr_dataset_init(&ds);
    if (k == KIND_ROUTERBENCH)
        status = sr_import_routerbench(files, n_files, &options, &ds, &report, &err);
    else if (k == KIND_TABLE)
        status = sr_import_table(files, n_files, &options, &ds, &report, &err);
    else
        status = sr_import_mtbench(questions, judgments.items, judgments.n, answers.items,
                                   answers.n, &options, &ds, &report, &err);
    if (status == SR_OK)
        status = sr_dataset_save(&ds, out_path, &err);
    if (status != SR_OK) {
        cli_report_error(&err);
        sr_dataset_free(&ds);
        cli_free_strings(models, n_models);
        return CLI_EXIT_FAILURE;
    }

    if (k == KIND_MTBENCH)
        sr_log(SR_LOG_INFO,
               "import_done kind=mtbench sessions=%zu turns=%zu models=%d outcomes=%zu "
               "skipped_scores=%zu duplicates=%zu skipped_sessions=%zu ignored_records=%zu "
               "out=%s",
               report.sessions, report.turns, ds.catalogue.n_models, report.outcomes,
               report.skipped_scores, report.duplicates, report.skipped_sessions,
               report.ignored_records, out_path ? out_path : "-");
    else
        sr_log(SR_LOG_INFO,
               "import_done kind=%s items=%zu sessions=%zu turns=%zu models=%d outcomes=%zu "
               "skipped_rows=%zu remainder_turns=%d out=%s",
               kind_name, report.items, report.sessions, report.turns, ds.catalogue.n_models,
               report.outcomes, report.skipped_rows, report.remainder_turns,
               out_path ? out_path : "-");
    sr_dataset_free(&ds);
    cli_free_strings(models, n_models);
    return CLI_EXIT_OK;
}
