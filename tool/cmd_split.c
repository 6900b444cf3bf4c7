/* Placeholder until the split subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_split(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "seqroute split: not built yet\n");
    return CLI_EXIT_FAILURE;
}
