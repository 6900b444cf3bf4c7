/*
 * cli.h - helpers shared by the seqroute subcommands: logging to standard
 * error, error reporting, number and list parsing, and exit codes.
 *
 * Each subcommand is `int cmd_NAME(int argc, char **argv)` where argv[0] is
 * the subcommand name; it parses its own options with getopt_long and
 * returns one of the exit codes below.
 */
#ifndef SEQROUTE_CLI_H
#define SEQROUTE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seqroute/common.h"

/* Exit codes of the tool. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1, /* bad data, failed I/O, failed computation */
    CLI_EXIT_USAGE = 2    /* bad command line */
};

/* Subcommands (tool/cmd_*.c). */
int cmd_synth(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_hbr(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_fqe(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);

/*
 * Installs a library log callback that writes one line per event to standard
 * error: "2026-12-04T20:22:37Z level=info event key=value ...".  `verbose`
 * lowers the threshold from info to debug.
 */
void cli_log_init(bool verbose);

/* Prints "seqroute: error: MESSAGE" for a failed library call. */
void cli_report_error(const sr_error *err);

/* Prints "seqroute CMD: FORMAT..." followed by a hint to run --help. */
void cli_usage_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Parses a whole string as a finite double / unsigned integer / int.  On
 * failure prints a usage error naming `option` and returns false.
 */
bool cli_parse_double(const char *command, const char *option, const char *text,
                      double *value);
bool cli_parse_u64(const char *command, const char *option, const char *text, uint64_t *value);
bool cli_parse_int(const char *command, const char *option, const char *text, int min, int max,
                   int *value);

/*
 * Parses a comma-separated list of finite doubles ("0.1,0.3,0.5") into a newly
 * allocated array the caller frees.  Rejects empty items.
 */
bool cli_parse_double_list(const char *command, const char *option, const char *text,
                           double **values, size_t *count);

/*
 * Splits a comma-separated list into newly allocated strings; free with
 * cli_free_strings.  Empty items are rejected.
 */
bool cli_parse_string_list(const char *command, const char *option, const char *text,
                           char ***items, size_t *count);
void cli_free_strings(char **items, size_t count);

#endif /* SEQROUTE_CLI_H */
