/* Placeholder until the synth subcommand lands. */
#include <stdio.h>

#include "cli.h"

int cmd_synth(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "seqroute synth: not built yet\n");
    return CLI_EXIT_FAILURE;
}
