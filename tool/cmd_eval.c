/* Placeholder until the eval subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "seqroute eval: not built yet\n");
    return CLI_EXIT_FAILURE;
}
