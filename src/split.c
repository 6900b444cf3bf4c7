/*
 * split.c - seeded session-level splits and writing one part to a file.
 *
 * The assignment is a seeded Fisher-Yates shuffle of the session indices
 * followed by consecutive slices of the part sizes, so it is uniform over
 * all assignments with those sizes and depends only on (seed, n).  Each
 * slice is then sorted so that a part keeps the sessions in file order,
 * which keeps outputs easy to compare with the input.
 */
#include "seqroute/split.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sr_status sr_split_check_fractions(const double *fractions, int n_parts, sr_error *err)
{
    if (fractions == NULL || n_parts < 1 || n_parts > SR_SPLIT_MAX_PARTS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "fractions",
                            "%d fractions given; give 1 to %d", n_parts, SR_SPLIT_MAX_PARTS);

    double sum = 0.0;
    for (int p = 0; p < n_parts; p++) {
        if (!isfinite(fractions[p]) || fractions[p] < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "fractions",
                                "fraction %d is %g; every fraction must be a number >= 0",
                                p + 1, fractions[p]);
        sum += fractions[p];
    }
    if (fabs(sum - 1.0) > SR_SPLIT_SUM_TOLERANCE)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "fractions",
                            "fractions sum to %.12g; they must sum to 1 (within %g)", sum,
                            SR_SPLIT_SUM_TOLERANCE);
    return SR_OK;
}

sr_status sr_split_counts(const double *fractions, int n_parts, size_t n, size_t *counts,
                          sr_error *err)
{
    double remainder[SR_SPLIT_MAX_PARTS];
    bool topped_up[SR_SPLIT_MAX_PARTS] = {false};

    sr_status status = sr_split_check_fractions(fractions, n_parts, err);
    if (status != SR_OK)
        return status;

    /* Normalise away the tolerated error, then take the floors. */
    double sum = 0.0;
    for (int p = 0; p < n_parts; p++)
        sum += fractions[p];
    size_t assigned = 0;
    for (int p = 0; p < n_parts; p++) {
        double ideal = fractions[p] / sum * (double)n;
        double whole = floor(ideal);
        counts[p] = (size_t)whole;
        remainder[p] = ideal - whole;
        assigned += counts[p];
    }

    /* Rounding can overshoot by one in extreme cases: take back from the smallest remainder. */
    while (assigned > n) {
        int smallest = -1;
        for (int p = 0; p < n_parts; p++)
            if (counts[p] > 0 && (smallest < 0 || remainder[p] < remainder[smallest]))
                smallest = p;
        counts[smallest]--;
        assigned--;
    }

    /* Hand out what is left, one per part, largest remainder first, ties to the lower index. */
    while (assigned < n) {
        int largest = -1;
        for (int p = 0; p < n_parts; p++) {
            if (topped_up[p] || fractions[p] == 0.0)
                continue;
            if (largest < 0 || remainder[p] > remainder[largest])
                largest = p;
        }
        if (largest < 0) {
            /* Every part got one already: only rounding can bring us here; start over. */
            memset(topped_up, 0, sizeof(topped_up));
            continue;
        }
        counts[largest]++;
        topped_up[largest] = true;
        assigned++;
    }
    return SR_OK;
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a;
    size_t y = *(const size_t *)b;
    return (x > y) - (x < y);
}

void sr_split_free(sr_split *split)
{
    if (split == NULL)
        return;
    for (int p = 0; p < SR_SPLIT_MAX_PARTS; p++)
        free(split->sessions[p]);
    memset(split, 0, sizeof(*split));
}

sr_status sr_split_sessions(const sr_dataset *ds, const double *fractions, int n_parts,
                            uint64_t seed, sr_split *split, sr_error *err)
{
    const size_t n = ds->n_sessions;

    memset(split, 0, sizeof(*split));
    sr_status status = sr_split_counts(fractions, n_parts, n, split->counts, err);
    if (status != SR_OK)
        return status;

    /* Shuffle all indices, then cut consecutive slices. */
    size_t *order = malloc((n ? n : 1) * sizeof(size_t));
    if (order == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sr_rng rng;
    sr_rng_seed(&rng, seed);
    sr_rng_shuffle(&rng, order, n, sizeof(size_t));

    size_t offset = 0;
    for (int p = 0; p < n_parts; p++) {
        size_t count = split->counts[p];
        split->sessions[p] = malloc((count ? count : 1) * sizeof(size_t));
        if (split->sessions[p] == NULL) {
            free(order);
            sr_split_free(split);
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        }
        memcpy(split->sessions[p], order + offset, count * sizeof(size_t));
        qsort(split->sessions[p], count, sizeof(size_t), compare_size);
        offset += count;
    }
    free(order);

    split->n_parts = n_parts;
    split->n_sessions = n;
    split->seed = seed;
    memcpy(split->fractions, fractions, (size_t)n_parts * sizeof(double));
    sr_log(SR_LOG_DEBUG, "split_sessions of=%zu parts=%d seed=%llu", n, n_parts,
           (unsigned long long)seed);
    return SR_OK;
}

/* JSON integer for values that fit, else the decimal string (seeds above 2^63). */
static json_t *u64_value(uint64_t x)
{
    if (x <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)x);
    char text[32];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)x);
    return json_string(text);
}

char *sr_split_header_extra(const char *header_extra, const sr_split *split, int part,
                            const char *part_name, sr_error *err)
{
    json_t *extra;

    if (header_extra != NULL) {
        json_error_t json_err;
        extra = json_loads(header_extra, 0, &json_err);
        if (!json_is_object(extra)) {
            json_decref(extra);
            sr_error_set(err, SR_ERR_INVALID, NULL, 0, "header",
                         "the extra header keys are not a JSON object; the data set is "
                         "damaged");
            return NULL;
        }
    } else {
        extra = json_object();
    }

    json_t *record = json_object();
    json_t *fractions = json_array();
    for (int p = 0; p < split->n_parts; p++)
        json_array_append_new(fractions, json_real(split->fractions[p]));
    json_object_set_new(record, "seed", u64_value(split->seed));
    json_object_set_new(record, "part", json_string(part_name));
    json_object_set_new(record, "fractions", fractions);
    json_object_set_new(record, "of", u64_value(split->n_sessions));
    json_object_set_new(record, "count", u64_value(split->counts[part]));

    /* Splitting a part again keeps the earlier record as the parent. */
    json_t *previous = json_object_get(extra, "split");
    if (previous != NULL)
        json_object_set(record, "parent", previous);
    json_object_set_new(extra, "split", record);

    char *text = json_dumps(extra, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(extra);
    if (text == NULL) {
        sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        return NULL;
    }

    /* Hand back plain malloc'd memory, whatever allocator jansson uses. */
    size_t len = strlen(text) + 1;
    char *copy = malloc(len);
    if (copy != NULL)
        memcpy(copy, text, len);
    else
        sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    free(text);
    return copy;
}

/* Writes the header and the part's sessions to an open stream. */
static sr_status write_part(const sr_dataset *ds, const sr_split *split, int part,
                            char *header_extra, FILE *out, sr_error *err)
{
    /* A shallow view of ds with the new header extras; nothing is copied or freed. */
    sr_dataset view = *ds;
    view.header_extra = header_extra;

    sr_status status = sr_dataset_write_header(&view, out, err);
    for (size_t i = 0; status == SR_OK && i < split->counts[part]; i++)
        status = sr_dataset_write_session(ds, split->sessions[part][i], out, err);
    return status;
}

sr_status sr_split_save_part(const sr_dataset *ds, const sr_split *split, int part,
                             const char *part_name, const char *path, sr_error *err)
{
    if (part < 0 || part >= split->n_parts)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "part %d is out of range 0..%d", part, split->n_parts - 1);
    if (split->n_sessions != ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "the split covers %zu sessions but the data set has %zu",
                            split->n_sessions, ds->n_sessions);

    sr_error local;
    sr_error *report = err != NULL ? err : &local;
    char *extra = sr_split_header_extra(ds->header_extra, split, part, part_name, report);
    if (extra == NULL)
        return report->status;

    sr_status status;
    if (path == NULL || strcmp(path, "-") == 0) {
        status = write_part(ds, split, part, extra, stdout, err);
        if (status == SR_OK && fflush(stdout) != 0)
            status = sr_error_set(err, SR_ERR_IO, "<stdout>", 0, NULL, "write failed: %s",
                                  strerror(errno));
        free(extra);
        return status;
    }

    FILE *out = fopen(path, "w");
    if (out == NULL) {
        free(extra);
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL,
                            "cannot open for writing: %s; check the folder exists and is "
                            "writable",
                            strerror(errno));
    }
    status = write_part(ds, split, part, extra, out, err);
    if (fclose(out) != 0 && status == SR_OK)
        status = sr_error_set(err, SR_ERR_IO, path, 0, NULL, "write failed: %s",
                              strerror(errno));
    if (status != SR_OK && err != NULL && err->path[0] == '\0')
        snprintf(err->path, sizeof(err->path), "%s", path);
    free(extra);
    return status;
}
