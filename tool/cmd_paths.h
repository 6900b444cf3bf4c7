/*
 * cmd_paths.h - path checks shared by the subcommands that write files
 * (eval, import, split): an output must never name one of the inputs.
 *
 * Kept apart from cli.h because cli.h is shared by every subcommand and
 * owned elsewhere; the function belongs there eventually.
 */
#ifndef SEQROUTE_CMD_PATHS_H
#define SEQROUTE_CMD_PATHS_H

#include <stdbool.h>

/*
 * True when `a` and `b` name one file.  Two spellings of one existing file
 * ("x", "./x", a symbolic link, a hard link, an absolute path) match by
 * device and inode.  When a file does not exist yet, the paths match when
 * their folders are one folder (by device and inode) and their last
 * components are equal, so "--train a --val ./a" is caught before either
 * file is written.  "-" (a standard stream) never matches.  Errors: none;
 * a folder that cannot be inspected counts as different (the later open
 * then fails with its own message).  Thread-safe.
 */
bool cmd_same_file(const char *a, const char *b);

#endif /* SEQROUTE_CMD_PATHS_H */
