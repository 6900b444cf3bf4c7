/* Placeholder until the validate subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_validate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "seqroute validate: not built yet\n");
    return CLI_EXIT_FAILURE;
}
