/*
 * split.h - seeded, session-level splits of a dataset (train / validation /
 * test, or any number of parts).
 *
 * Whole sessions go to one part, so no turn of a test session is ever seen
 * in training.  Part sizes come from the fractions by the largest-remainder
 * method, so they add up to the session count exactly.  Which session goes
 * where depends only on the seed and the session count, not on the content.
 * Index arrays let training code split in memory; sr_split_save_part writes
 * one part as a session file whose header records the split.
 */
#ifndef SEQROUTE_SPLIT_H
#define SEQROUTE_SPLIT_H

#include "seqroute/common.h"
#include "seqroute/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum number of parts in one split; train/validation/test uses 3. */
#define SR_SPLIT_MAX_PARTS 16

/* Tolerance on the sum of fractions: 1e-9 absorbs decimal rounding like 0.7+0.2+0.1. */
#define SR_SPLIT_SUM_TOLERANCE 1e-9

/* A split of n_sessions sessions into n_parts parts. */
typedef struct sr_split {
    int n_parts;
    size_t n_sessions;                   /* sessions in the source dataset */
    uint64_t seed;
    double fractions[SR_SPLIT_MAX_PARTS];
    size_t counts[SR_SPLIT_MAX_PARTS];   /* sessions per part, summing to n_sessions */
    size_t *sessions[SR_SPLIT_MAX_PARTS]; /* session indices per part, ascending */
} sr_split;

/*
 * Checks `fractions` (n_parts of them, 1..SR_SPLIT_MAX_PARTS): each finite
 * and >= 0, summing to 1 within SR_SPLIT_SUM_TOLERANCE.  Returns
 * SR_ERR_INVALID with the bad value in `err` otherwise.
 */
sr_status sr_split_check_fractions(const double *fractions, int n_parts, sr_error *err);

/*
 * Computes part sizes for `n` items by the largest-remainder method: part p
 * gets floor(f_p n), then the items left over go one each to the parts with
 * the largest fractional parts, ties to the lower part index.  `counts`
 * receives n_parts values that sum to n.  Errors as
 * sr_split_check_fractions.
 */
sr_status sr_split_counts(const double *fractions, int n_parts, size_t n, size_t *counts,
                          sr_error *err);

/*
 * Splits the sessions of `ds` into `n_parts` parts: shuffles 0..n-1 with an
 * sr_rng seeded by `seed`, gives the first counts[0] to part 0 and so on,
 * then sorts each part so sessions keep their file order.  On success
 * `split` owns its index arrays (release with sr_split_free); on failure it
 * is left empty.  Errors: SR_ERR_INVALID for bad fractions, SR_ERR_NOMEM.
 * Reads `ds` only.
 */
sr_status sr_split_sessions(const sr_dataset *ds, const double *fractions, int n_parts,
                            uint64_t seed, sr_split *split, sr_error *err);

/* Releases the index arrays and empties `split`; NULL is fine. */
void sr_split_free(sr_split *split);

/*
 * Builds the header extras for one part: a copy of `header_extra` (a JSON
 * object text or NULL) with the key "split" set to {"seed": S, "part":
 * NAME, "fractions": [...], "of": N, "count": C}, where N is the session
 * count of the source and C that of the part.  An existing "split" record (a part
 * being split again) moves under "parent" of the new one.  Returns a
 * malloc'd string the caller frees, or NULL on error with `err` filled
 * (SR_ERR_INVALID when header_extra is not a JSON object, SR_ERR_NOMEM).
 */
char *sr_split_header_extra(const char *header_extra, const sr_split *split, int part,
                            const char *part_name, sr_error *err);

/*
 * Writes part `part` of `split` of `ds` to `path` ("-" for standard output):
 * the header of `ds` with the split record added, then the part's sessions
 * in ascending index order.  Errors: SR_ERR_INVALID for a part index out of
 * range or a split made for another session count, SR_ERR_IO, SR_ERR_NOMEM.
 */
sr_status sr_split_save_part(const sr_dataset *ds, const sr_split *split, int part,
                             const char *part_name, const char *path, sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_SPLIT_H */
