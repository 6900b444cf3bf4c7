/*
 * main.c - the seqroute command-line tool: dispatches to one subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"synth", cmd_synth, "generate synthetic multi-turn sessions (seeded)"},
    {"import", cmd_import, "convert mtbench, routerbench or table data to sessions"},
    {"validate", cmd_validate, "check a session file and print its summary"},
    {"split", cmd_split, "split sessions into train / validation / test (seeded)"},
    {"eval", cmd_eval, "evaluate routing policies on sessions under budgets"},
    {"hbr", cmd_hbr, "count hindsight-budget-relabelled transitions (--stats)"},
    {"train", cmd_train, "train a routing policy (CQL, DQN or BC) into a policy file"},
    {"report", cmd_report, "write plots, CSV files and an HTML page from eval JSON"},
    {"route", cmd_route, "print one routing decision of a policy file as JSON"},
    {"serve", cmd_serve, "serve routing decisions over HTTP with a budget ledger"},
    {"calibrate", cmd_calibrate, "find lambda for a spend, bankruptcy or share target"},
    {"fqe", cmd_fqe, "estimate a policy's value from logged data (fitted Q evaluation)"},
};

static void print_help(FILE *out)
{
    fprintf(out, "usage: seqroute COMMAND [OPTIONS]\n\n"
                 "Budget-aware sequential LLM routing.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'seqroute COMMAND --help' for the options of one command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("seqroute 0.1.0\n");
        return CLI_EXIT_OK;
    }

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);

    fprintf(stderr, "seqroute: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return CLI_EXIT_USAGE;
}
