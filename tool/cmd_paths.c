/*
 * cmd_paths.c - does an output path name an input?  See cmd_paths.h.
 *
 * Comparing strings misses "./data.jsonl" against "data.jsonl", links and
 * absolute paths, and a command that opens its output for writing after
 * loading its input would then silently replace the user's data with its
 * result.  Existing files are therefore compared by device and inode.  A file
 * that does not exist yet is compared by its folder's device and inode plus
 * its last path component.
 */
#include "cmd_paths.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Splits `path` into its folder (written to `folder`, "." when the path
 * has no slash) and its last component.  Returns false when the folder
 * does not fit.
 */
static bool split_path(const char *path, char *folder, size_t size, const char **last)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(folder, size, ".");
        *last = path;
        return true;
    }
    const size_t length = slash == path ? 1 : (size_t)(slash - path);
    if (length >= size)
        return false;
    memcpy(folder, path, length);
    folder[length] = '\0';
    *last = slash + 1;
    return true;
}

bool cmd_same_file(const char *a, const char *b)
{
    struct stat sa;
    struct stat sb;

    /* A standard stream names no file, and identical strings name one file. */
    if (strcmp(a, "-") == 0 || strcmp(b, "-") == 0)
        return false;
    if (strcmp(a, b) == 0)
        return true;

    /* Both exist: one file when device and inode agree. */
    const bool a_exists = stat(a, &sa) == 0;
    const bool b_exists = stat(b, &sb) == 0;
    if (a_exists && b_exists)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (a_exists || b_exists)
        return false;

    /* Neither exists yet: same folder and same last component. */
    char folder_a[PATH_MAX];
    char folder_b[PATH_MAX];
    const char *last_a;
    const char *last_b;
    if (!split_path(a, folder_a, sizeof(folder_a), &last_a) ||
        !split_path(b, folder_b, sizeof(folder_b), &last_b))
        return false;
    if (strcmp(last_a, last_b) != 0)
        return false;
    if (stat(folder_a, &sa) != 0 || stat(folder_b, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
