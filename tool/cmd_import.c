/* Placeholder until the import subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_import(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "seqroute import: not built yet\n");
    return CLI_EXIT_FAILURE;
}
