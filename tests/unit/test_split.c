/*
 * test_split.c - largest-remainder part sizes, seeded session splits, the
 * split header record and writing a part.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seqroute/split.h"

static const double default_fractions[3] = {0.8, 0.1, 0.1};

/* Builds `n` one-turn sessions "s0".."s{n-1}" with one model. */
static void build_dataset(sr_dataset *ds, size_t n, const char *header_extra)
{
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "m", NAN, NAN, 0.5, false, NULL), SR_OK);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        size_t j = 0;
        snprintf(id, sizeof(id), "s%zu", i);
        assert_int_equal(sr_dataset_begin_session(ds, id, NAN, NULL), SR_OK);
        assert_int_equal(sr_dataset_add_turn(ds, id, NULL, 0, NULL, -1, &j, NULL), SR_OK);
        assert_int_equal(sr_dataset_set_outcome(ds, j, 0, 0.5, 0.5, NAN, NAN, NULL), SR_OK);
    }
    if (header_extra != NULL)
        ds->header_extra = strdup(header_extra);
}

/* ---- part sizes ------------------------------------------------------------------ */

typedef struct counts_case {
    size_t n;
    double fractions[3];
    size_t expected[3];
} counts_case;

static void counts_by_largest_remainder(void **state)
{
    (void)state;
    /* Hand-computed: floors of f*n, then leftovers to the largest remainders. */
    const counts_case cases[] = {
        {10, {0.8, 0.1, 0.1}, {8, 1, 1}},
        {7, {0.8, 0.1, 0.1}, {5, 1, 1}},   /* 5.6 0.7 0.7 -> 5 0 0, +1 to parts 1, 2 */
        {3, {0.8, 0.1, 0.1}, {3, 0, 0}},   /* 2.4 0.3 0.3 -> 2 0 0, +1 to part 0 */
        {2, {0.5, 0.25, 0.25}, {1, 1, 0}}, /* 1 0.5 0.5 -> tie goes to the lower index */
        {1, {0.8, 0.1, 0.1}, {1, 0, 0}},
        {0, {0.8, 0.1, 0.1}, {0, 0, 0}},
        {5, {1.0, 0.0, 0.0}, {5, 0, 0}},
        {100, {0.7, 0.2, 0.1}, {70, 20, 10}},
        {101, {1.0 / 3, 1.0 / 3, 1.0 / 3}, {34, 34, 33}},
        {3, {0.0, 0.5, 0.5}, {0, 2, 1}},   /* a zero fraction never gets a leftover */
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t counts[3];
        assert_int_equal(sr_split_counts(cases[c].fractions, 3, cases[c].n, counts, NULL), SR_OK);
        for (int p = 0; p < 3; p++)
            if (counts[p] != cases[c].expected[p])
                fail_msg("case %zu part %d: got %zu, expected %zu", c, p, counts[p],
                         cases[c].expected[p]);
    }
}

static void counts_always_sum_to_n(void **state)
{
    (void)state;
    const double fractions[4] = {0.37, 0.29, 0.21, 0.13};

    for (size_t n = 0; n < 2000; n++) {
        size_t counts[4];
        assert_int_equal(sr_split_counts(fractions, 4, n, counts, NULL), SR_OK);
        assert_int_equal(counts[0] + counts[1] + counts[2] + counts[3], n);
        /* Each part is within one of its ideal size. */
        for (int p = 0; p < 4; p++)
            assert_true(fabs((double)counts[p] - fractions[p] * (double)n) < 1.0);
    }
}

static void bad_fractions_are_rejected(void **state)
{
    (void)state;
    sr_error err;
    size_t counts[3];
    const double over[3] = {0.8, 0.1, 0.2};
    const double under[3] = {0.5, 0.1, 0.1};
    const double negative[3] = {1.1, -0.1, 0.0};
    const double not_number[3] = {NAN, 0.5, 0.5};
    const double infinite[3] = {INFINITY, 0.0, 0.0};
    const double slightly_off[3] = {0.8, 0.1, 0.1 + 1e-8};
    const double within[3] = {0.8, 0.1, 0.1 + 1e-10};

    assert_int_equal(sr_split_counts(over, 3, 10, counts, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "fractions");
    assert_int_equal(sr_split_counts(under, 3, 10, counts, &err), SR_ERR_INVALID);
    assert_int_equal(sr_split_counts(negative, 3, 10, counts, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "-0.1"));
    assert_int_equal(sr_split_counts(not_number, 3, 10, counts, &err), SR_ERR_INVALID);
    assert_int_equal(sr_split_counts(infinite, 3, 10, counts, &err), SR_ERR_INVALID);
    assert_int_equal(sr_split_counts(slightly_off, 3, 10, counts, &err), SR_ERR_INVALID);
    assert_int_equal(sr_split_counts(within, 3, 10, counts, &err), SR_OK);
    assert_int_equal(sr_split_counts(over, 0, 10, counts, &err), SR_ERR_INVALID);
    assert_int_equal(sr_split_counts(over, SR_SPLIT_MAX_PARTS + 1, 10, counts, &err),
                     SR_ERR_INVALID);
}

/* ---- session splits ----------------------------------------------------------------- */

static void split_is_exact_disjoint_and_complete(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_split split;

    build_dataset(&ds, 1003, NULL);
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 7, &split, NULL), SR_OK);
    assert_int_equal(split.n_parts, 3);
    assert_int_equal(split.n_sessions, 1003);
    /* 802.4, 100.3, 100.3: floors 802 100 100, one left over to part 0. */
    assert_int_equal(split.counts[0], 803);
    assert_int_equal(split.counts[1], 100);
    assert_int_equal(split.counts[2], 100);

    int *owner = calloc(ds.n_sessions, sizeof(int));
    assert_non_null(owner);
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < split.counts[p]; i++) {
            size_t s = split.sessions[p][i];
            assert_true(s < ds.n_sessions);
            assert_int_equal(owner[s], 0);
            owner[s] = p + 1;
            if (i > 0)
                assert_true(split.sessions[p][i - 1] < s);
        }
    }
    for (size_t s = 0; s < ds.n_sessions; s++)
        assert_int_not_equal(owner[s], 0);
    free(owner);
    sr_split_free(&split);
    sr_dataset_free(&ds);
}

static void split_is_deterministic_by_seed(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_split a;
    sr_split b;
    sr_split c;

    build_dataset(&ds, 500, NULL);
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 11, &a, NULL), SR_OK);
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 11, &b, NULL), SR_OK);
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 12, &c, NULL), SR_OK);
    for (int p = 0; p < 3; p++) {
        assert_int_equal(a.counts[p], b.counts[p]);
        assert_memory_equal(a.sessions[p], b.sessions[p], a.counts[p] * sizeof(size_t));
    }
    assert_memory_not_equal(a.sessions[2], c.sessions[2], a.counts[2] * sizeof(size_t));
    sr_split_free(&a);
    sr_split_free(&b);
    sr_split_free(&c);
    sr_dataset_free(&ds);
}

static void split_of_empty_and_tiny_sets(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_split split;

    build_dataset(&ds, 0, NULL);
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 1, &split, NULL), SR_OK);
    assert_int_equal(split.counts[0] + split.counts[1] + split.counts[2], 0);
    sr_split_free(&split);
    sr_dataset_free(&ds);

    build_dataset(&ds, 1, NULL);
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 1, &split, NULL), SR_OK);
    assert_int_equal(split.counts[0], 1);
    assert_int_equal(split.sessions[0][0], 0);
    sr_split_free(&split);
    sr_dataset_free(&ds);
}

static void split_rejects_bad_fractions(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_split split;
    sr_error err;
    const double bad[3] = {0.9, 0.2, -0.1};

    build_dataset(&ds, 10, NULL);
    assert_int_equal(sr_split_sessions(&ds, bad, 3, 1, &split, &err), SR_ERR_INVALID);
    assert_int_equal(split.n_parts, 0);
    assert_null(split.sessions[0]);
    sr_split_free(&split);
    sr_dataset_free(&ds);
}

/* ---- header record and files --------------------------------------------------------- */

static void header_keeps_extras_and_adds_record(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_split split;

    build_dataset(&ds, 10, "{\"synth\":{\"seed\":3}}");
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 99, &split, NULL), SR_OK);
    char *text = sr_split_header_extra(ds.header_extra, &split, 1, "val", NULL);
    assert_non_null(text);

    json_t *extra = json_loads(text, 0, NULL);
    assert_non_null(extra);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(extra, "synth"), "seed")), 3);
    json_t *record = json_object_get(extra, "split");
    assert_int_equal(json_integer_value(json_object_get(record, "seed")), 99);
    assert_string_equal(json_string_value(json_object_get(record, "part")), "val");
    assert_int_equal(json_integer_value(json_object_get(record, "of")), 10);
    assert_int_equal(json_integer_value(json_object_get(record, "count")), 1);
    json_t *fractions = json_object_get(record, "fractions");
    assert_int_equal(json_array_size(fractions), 3);
    assert_float_equal(json_real_value(json_array_get(fractions, 0)), 0.8, 0.0);
    assert_null(json_object_get(record, "parent"));
    json_decref(extra);

    /* Splitting that output again nests the first record under "parent". */
    char *again = sr_split_header_extra(text, &split, 0, "train", NULL);
    assert_non_null(again);
    extra = json_loads(again, 0, NULL);
    record = json_object_get(extra, "split");
    assert_string_equal(json_string_value(json_object_get(record, "part")), "train");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(record, "parent"), "part")), "val");
    json_decref(extra);
    free(again);
    free(text);
    sr_split_free(&split);
    sr_dataset_free(&ds);
}

static void damaged_header_extra_is_rejected(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_split split;
    sr_error err;

    build_dataset(&ds, 4, "[1, 2]");
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 1, &split, NULL), SR_OK);
    assert_null(sr_split_header_extra(ds.header_extra, &split, 0, "train", &err));
    assert_int_equal(err.status, SR_ERR_INVALID);
    sr_split_free(&split);
    sr_dataset_free(&ds);
}

/* Reads a whole file into a malloc'd string. */
static char *read_file(const char *path)
{
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, in), (size_t)size);
    text[size] = '\0';
    fclose(in);
    return text;
}

static void saved_part_has_header_and_sessions(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_split split;
    sr_error err;
    char path[] = "/tmp/seqroute_test_split_XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    build_dataset(&ds, 20, NULL);
    assert_int_equal(sr_split_sessions(&ds, default_fractions, 3, 5, &split, NULL), SR_OK);
    assert_int_equal(sr_split_save_part(&ds, &split, 2, "test", path, &err), SR_OK);

    /* Header line plus counts[2] = 2 session lines, in ascending session order. */
    char *text = read_file(path);
    char *line = strtok(text, "\n");
    json_t *header = json_loads(line, 0, NULL);
    assert_non_null(header);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(header, "split"), "part")), "test");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(header, "models"), 0), "name")),
                        "m");
    json_decref(header);
    for (size_t i = 0; i < split.counts[2]; i++) {
        line = strtok(NULL, "\n");
        assert_non_null(line);
        json_t *session = json_loads(line, 0, NULL);
        char id[32];
        snprintf(id, sizeof(id), "s%zu", split.sessions[2][i]);
        assert_string_equal(json_string_value(json_object_get(session, "id")), id);
        json_decref(session);
    }
    assert_null(strtok(NULL, "\n"));
    free(text);
    unlink(path);

    /* Out-of-range part and a split of another data set are rejected. */
    assert_int_equal(sr_split_save_part(&ds, &split, 3, "x", path, &err), SR_ERR_INVALID);
    split.n_sessions = 21;
    assert_int_equal(sr_split_save_part(&ds, &split, 0, "train", path, &err), SR_ERR_INVALID);
    split.n_sessions = 20;

    /* An unwritable path reports SR_ERR_IO with the path. */
    assert_int_equal(
        sr_split_save_part(&ds, &split, 0, "train", "/nonexistent-dir/part.jsonl", &err),
        SR_ERR_IO);
    assert_string_equal(err.path, "/nonexistent-dir/part.jsonl");
    sr_split_free(&split);
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_by_largest_remainder),
        cmocka_unit_test(counts_always_sum_to_n),
        cmocka_unit_test(bad_fractions_are_rejected),
        cmocka_unit_test(split_is_exact_disjoint_and_complete),
        cmocka_unit_test(split_is_deterministic_by_seed),
        cmocka_unit_test(split_of_empty_and_tiny_sets),
        cmocka_unit_test(split_rejects_bad_fractions),
        cmocka_unit_test(header_keeps_extras_and_adds_record),
        cmocka_unit_test(damaged_header_extra_is_rejected),
        cmocka_unit_test(saved_part_has_header_and_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
