/*
 * cli.c - logging, error reporting and argument parsing for the tool.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *level_name(sr_log_level level)
{
    switch (level) {
    case SR_LOG_DEBUG:
        return "debug";
    case SR_LOG_INFO:
        return "info";
    case SR_LOG_WARN:
        return "warn";
    case SR_LOG_ERROR:
        return "error";
    }
    return "info";
}

static void log_to_stderr(sr_log_level level, const char *message, void *user_data)
{
    (void)user_data;
    char stamp[32];
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &utc);
    fprintf(stderr, "%s level=%s %s\n", stamp, level_name(level), message);
}

void cli_log_init(bool verbose)
{
    sr_log_set_callback(log_to_stderr, NULL, verbose ? SR_LOG_DEBUG : SR_LOG_INFO);
}

void cli_report_error(const sr_error *err)
{
    fprintf(stderr, "seqroute: error: %s\n",
            err->message[0] ? err->message : sr_status_name(err->status));
}

void cli_usage_error(const char *command, const char *format, ...)
{
    va_list args;
    fprintf(stderr, "seqroute %s: ", command);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\nRun 'seqroute %s --help' for the options.\n", command);
}

/*
 * True when `text` is written as a plain decimal number: strtod alone would
 * also take leading white space and hexadecimal ("0x10"), which on a command
 * line are more likely typos than intent.
 */
static bool is_plain_decimal(const char *text)
{
    const char *p = text;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return false;
    return strpbrk(text, "xXpP") == NULL;
}

bool cli_parse_double(const char *command, const char *option, const char *text, double *value)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(text, &end);
    if (!is_plain_decimal(text) || *end != '\0' || errno == ERANGE || !isfinite(x)) {
        cli_usage_error(command, "option %s: '%s' is not a finite decimal number", option, text);
        return false;
    }
    *value = x;
    return true;
}

bool cli_parse_u64(const char *command, const char *option, const char *text, uint64_t *value)
{
    char *end = NULL;
    errno = 0;
    if (!isdigit((unsigned char)text[0])) {
        cli_usage_error(command, "option %s: '%s' is not a non-negative integer", option, text);
        return false;
    }
    unsigned long long x = strtoull(text, &end, 10);
    if (*end != '\0' || errno == ERANGE) {
        cli_usage_error(command, "option %s: '%s' is not a non-negative integer", option, text);
        return false;
    }
    *value = (uint64_t)x;
    return true;
}

bool cli_parse_int(const char *command, const char *option, const char *text, int min, int max,
                   int *value)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(text, &end, 10);
    const char *digits = (text[0] == '-' || text[0] == '+') ? text + 1 : text;
    if (!isdigit((unsigned char)digits[0]) || *end != '\0' || errno == ERANGE || x < min || x > max) {
        cli_usage_error(command, "option %s: '%s' is not an integer in %d..%d", option, text, min,
                        max);
        return false;
    }
    *value = (int)x;
    return true;
}

bool cli_parse_string_list(const char *command, const char *option, const char *text, char ***items,
                           size_t *count)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += (*p == ',');
    char **list = calloc(n, sizeof(char *));
    if (list == NULL) {
        cli_usage_error(command, "option %s: out of memory", option);
        return false;
    }

    const char *start = text;
    for (size_t i = 0; i < n; i++) {
        const char *comma = strchr(start, ',');
        size_t len = comma ? (size_t)(comma - start) : strlen(start);
        if (len == 0) {
            cli_usage_error(command, "option %s: empty item in list '%s'", option, text);
            cli_free_strings(list, i);
            return false;
        }
        list[i] = strndup(start, len);
        if (list[i] == NULL) {
            cli_free_strings(list, i);
            return false;
        }
        start = comma ? comma + 1 : start + len;
    }
    *items = list;
    *count = n;
    return true;
}

void cli_free_strings(char **items, size_t count)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

bool cli_parse_double_list(const char *command, const char *option, const char *text,
                           double **values, size_t *count)
{
    char **items = NULL;
    size_t n = 0;
    if (!cli_parse_string_list(command, option, text, &items, &n))
        return false;

    double *list = malloc(n * sizeof(double));
    bool ok = list != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = cli_parse_double(command, option, items[i], &list[i]);
    cli_free_strings(items, n);
    if (!ok) {
        free(list);
        return false;
    }
    *values = list;
    *count = n;
    return true;
}
