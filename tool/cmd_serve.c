/*
 * cmd_serve.c - `seqroute serve`: the router service (docs/SERVE.md).
 *
 * The command parses options into an sr_serve_config, blocks SIGTERM and
 * SIGINT before any thread starts (so every thread inherits the mask and
 * only sigwait here receives them), starts the server and waits for one of the
 * two signals; then sr_server_stop drains requests in flight and stops.
 * Logs go to standard error, one "TIME level=L event key=value" line each.
 * Exit codes: 0 after a clean stop, 1 when the server cannot start (policy,
 * ledger, address), 2 for a bad command line.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "seqroute/serve.h"

static const char *const COMMAND = "serve";

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: seqroute serve --policy P [--listen HOST:PORT] [--ledger URL] [options]\n"
            "\n"
            "Serves routing decisions of policy P as JSON over HTTP/1.1 (docs/SERVE.md), with\n"
            "per-session budgets kept in a ledger.  Stops cleanly on SIGTERM or SIGINT.\n"
            "\n"
            "  --policy FILE          policy file written by seqroute train\n"
            "  --listen HOST:PORT     IPv4 address and port (default 127.0.0.1:8080; port 0\n"
            "                         picks a free one, printed in the serve_start log line)\n"
            "  --ledger URL           sqlite:PATH (default sqlite:seqroute-ledger.db) or\n"
            "                         redis://HOST:PORT[/DB][?prefix=P]\n"
            "  --threads N            worker threads, one policy copy each (default 4)\n"
            "  --reserve RULE         reservation per call: mean:F, F times the model's mean\n"
            "                         cost per turn (default mean:3), or tokens:N, the price\n"
            "                         of the turn's bytes as input tokens plus N output tokens\n"
            "  --reservation-ttl S    seconds before an unsettled reservation expires (600)\n"
            "  --cached-input-factor X  price of a cached input token relative to an input\n"
            "                         token, for settles by usage (default 0.5)\n"
            "  --lambda L             lambda when a request gives none (default 0)\n"
            "  --max-body BYTES       largest request body (default 65536)\n"
            "  --max-connections N    open connections at once (default 256)\n"
            "  --timeout S            idle seconds before a connection is closed (default 10)\n"
            "  --drain S              longest wait for requests in flight at stop (default 10)\n"
            "  --verbose              log debug events too\n"
            "  --help                 this text\n");
}

/* Splits "HOST:PORT" into the config; false after a usage message. */
static bool parse_listen(const char *text, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= host_size) {
        cli_usage_error(COMMAND, "--listen '%s' must be HOST:PORT, such as 127.0.0.1:8080", text);
        return false;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    return cli_parse_int(COMMAND, "--listen port", colon + 1, 0, 65535, port);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {{"policy", required_argument, NULL, 'p'},
                                            {"listen", required_argument, NULL, 'L'},
                                            {"ledger", required_argument, NULL, 'g'},
                                            {"threads", required_argument, NULL, 't'},
                                            {"reserve", required_argument, NULL, 'r'},
                                            {"reservation-ttl", required_argument, NULL, 'e'},
                                            {"cached-input-factor", required_argument, NULL, 'c'},
                                            {"lambda", required_argument, NULL, 'l'},
                                            {"max-body", required_argument, NULL, 'b'},
                                            {"max-connections", required_argument, NULL, 'm'},
                                            {"timeout", required_argument, NULL, 'o'},
                                            {"drain", required_argument, NULL, 'd'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    sr_serve_config config;
    sr_serve_config_default(&config);
    char host[64] = "127.0.0.1";
    bool verbose = false;
    int number = 0;
    sr_error err;
    sr_error_clear(&err);

    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'p':
            config.policy_path = optarg;
            break;
        case 'L':
            if (!parse_listen(optarg, host, sizeof(host), &config.port))
                return CLI_EXIT_USAGE;
            break;
        case 'g':
            config.ledger = optarg;
            break;
        case 't':
            if (!cli_parse_int(COMMAND, "--threads", optarg, 1, 256, &config.threads))
                return CLI_EXIT_USAGE;
            break;
        case 'r':
            if (sr_reserve_parse(optarg, &config.reserve, &err) != SR_OK) {
                cli_usage_error(COMMAND, "%s", err.message);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'e':
            if (!cli_parse_int(COMMAND, "--reservation-ttl", optarg, 1, 30 * 24 * 3600, &number))
                return CLI_EXIT_USAGE;
            config.reservation_ttl_seconds = number;
            break;
        case 'c':
            if (!cli_parse_double(COMMAND, "--cached-input-factor", optarg,
                                  &config.cached_input_factor))
                return CLI_EXIT_USAGE;
            break;
        case 'l':
            if (!cli_parse_double(COMMAND, "--lambda", optarg, &config.default_lambda))
                return CLI_EXIT_USAGE;
            break;
        case 'b':
            if (!cli_parse_int(COMMAND, "--max-body", optarg, 64, 64 << 20, &number))
                return CLI_EXIT_USAGE;
            config.max_body_bytes = (size_t)number;
            break;
        case 'm':
            if (!cli_parse_int(COMMAND, "--max-connections", optarg, 1, 65536, &number))
                return CLI_EXIT_USAGE;
            config.max_connections = (unsigned)number;
            break;
        case 'o':
            if (!cli_parse_int(COMMAND, "--timeout", optarg, 1, 3600, &number))
                return CLI_EXIT_USAGE;
            config.timeout_seconds = (unsigned)number;
            break;
        case 'd':
            if (!cli_parse_int(COMMAND, "--drain", optarg, 0, 3600, &number))
                return CLI_EXIT_USAGE;
            config.drain_seconds = (unsigned)number;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            print_help(stdout);
            return CLI_EXIT_OK;
        default:
            cli_usage_error(COMMAND, "unknown option");
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_usage_error(COMMAND, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!config.policy_path) {
        cli_usage_error(COMMAND, "--policy is required");
        return CLI_EXIT_USAGE;
    }
    config.host = host;
    cli_log_init(verbose);

    /* Block the stop signals in every thread; sigwait below receives them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client closing early must not kill the server */

    sr_server *server = NULL;
    if (sr_server_start(&config, &server, &err) != SR_OK) {
        cli_report_error(&err);
        return CLI_EXIT_FAILURE;
    }
    int received = 0;
    sigwait(&stop_signals, &received);
    sr_log(SR_LOG_INFO, "serve_signal signal=%s", received == SIGTERM ? "SIGTERM" : "SIGINT");
    sr_server_stop(server);
    return CLI_EXIT_OK;
}
