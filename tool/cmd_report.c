/*
 * cmd_report.c - `seqroute report`: plots, CSV files and an HTML page from
 * the JSON of `seqroute eval` and, optionally, training curves.  The work
 * is sr_report_write (include/seqroute/report.h); this file parses the
 * command line and reports the result.  docs/REPORT.md lists the files.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqroute/report.h"

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: seqroute report --eval RESULT.json [--curves FILE ...] --out DIR [OPTIONS]\n"
            "\n"
            "Draws the cost-quality frontier of every budget, the bankruptcy rate against the\n"
            "budget, P(most expensive model) against the remaining budget and the training\n"
            "curves, each as PNG and SVG with the CSV behind it, and an index.html page with\n"
            "the settings, the tables and the plots.\n"
            "\n"
            "  --eval FILE       the JSON written by seqroute eval --json (required)\n"
            "  --curves FILE     a CSV written by seqroute train --curves; repeat for several\n"
            "                    runs (at most %d)\n"
            "  --out DIR         output folder, created when missing; files in it are\n"
            "                    overwritten (required)\n"
            "  --cost-unit TEXT  cost unit for axis labels (default: the JSON's cost_unit,\n"
            "                    else \"cost units\")\n"
            "  --embed           put the PNGs inside index.html (base64), so the page works\n"
            "                    as a single file\n"
            "  -v, --verbose     log debug events on standard error\n"
            "  -h, --help        print this help\n"
            "\n"
            "Exit status: 0 ok, 1 bad input or failed write, 2 bad command line.\n",
            SR_REPORT_MAX_CURVES);
}

int cmd_report(int argc, char **argv)
{
    enum { OPT_EVAL = 256, OPT_CURVES, OPT_OUT, OPT_UNIT, OPT_EMBED };
    static const struct option long_options[] = {
        {"eval", required_argument, NULL, OPT_EVAL},
        {"curves", required_argument, NULL, OPT_CURVES},
        {"out", required_argument, NULL, OPT_OUT},
        {"cost-unit", required_argument, NULL, OPT_UNIT},
        {"embed", no_argument, NULL, OPT_EMBED},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *curves[SR_REPORT_MAX_CURVES];
    sr_report_options opt = {.curve_paths = curves};
    bool verbose = false;

    optind = 1;
    opterr = 0;
    for (;;) {
        const int c = getopt_long(argc, argv, ":hv", long_options, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_EVAL:
            opt.eval_path = optarg;
            break;
        case OPT_CURVES:
            if (opt.n_curves == SR_REPORT_MAX_CURVES) {
                cli_usage_error("report", "at most %d --curves files", SR_REPORT_MAX_CURVES);
                return CLI_EXIT_USAGE;
            }
            curves[opt.n_curves++] = optarg;
            break;
        case OPT_OUT:
            opt.out_dir = optarg;
            break;
        case OPT_UNIT:
            if (optarg[0] == '\0') {
                cli_usage_error("report", "--cost-unit needs a non-empty text");
                return CLI_EXIT_USAGE;
            }
            opt.cost_unit = optarg;
            break;
        case OPT_EMBED:
            opt.embed_images = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            print_usage(stdout);
            return CLI_EXIT_OK;
        case ':':
            cli_usage_error("report", "option %s needs a value", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        default:
            cli_usage_error("report", "unknown option '%s'", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (opt.eval_path == NULL || opt.out_dir == NULL) {
        cli_usage_error("report", "--eval and --out are required");
        return CLI_EXIT_USAGE;
    }

    cli_log_init(verbose);
    sr_error err;
    sr_error_clear(&err);
    sr_report_summary summary;
    const sr_status status = sr_report_write(&opt, &summary, &err);
    sr_plot_release_caches(); /* the tool draws nothing more */
    if (status != SR_OK) {
        cli_report_error(&err);
        return err.status == SR_ERR_INVALID && err.path[0] == '\0' ? CLI_EXIT_USAGE
                                                                    : CLI_EXIT_FAILURE;
    }
    fprintf(stderr, "seqroute report: wrote %zu plots (PNG and SVG), %zu files in all, to %s/\n",
            summary.plots, summary.files, opt.out_dir);
    if (!summary.binned_p_expensive)
        fprintf(stderr, "seqroute report: the evaluation has no p_expensive_bins; "
                        "p_expensive_slope.png shows the fitted slopes only\n");
    if (summary.skipped_points > 0)
        fprintf(stderr, "seqroute report: %zu rows without cost, quality or bankruptcy rate "
                        "are in the tables but not in the plots\n",
                summary.skipped_points);
    return CLI_EXIT_OK;
}
