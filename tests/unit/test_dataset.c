/*
 * test_dataset.c - the dataset builder, its statistics and the writer.
 *
 * The round trip builds a dataset that uses every field: text with escapes
 * and non-ASCII, embeddings with extreme and signed-zero floats, token
 * counts, logged models, absent outcomes, missing budgets and provenance
 * keys.  It writes the dataset with sr_dataset_save, loads it back with
 * sr_dataset_load and compares every field bit for bit.  Writing the loaded
 * copy again must reproduce the file byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seqroute/dataset.h"

#define EMBEDDING_DIM 5

/* Exact equality that also treats two NANs as equal. */
static bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

static bool same_string(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Three models: token-priced, per-call (fallback) and unpriced. */
static void add_models(sr_dataset *ds)
{
    sr_error err;
    assert_int_equal(sr_dataset_add_model(ds, "tok", 2.5, 7.5, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "call", NAN, NAN, 0.001, true, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "unpriced", NAN, NAN, NAN, false, &err), SR_OK);
}

static void build_rich_dataset(sr_dataset *ds)
{
    static const float embedding_a[EMBEDDING_DIM] = {0.1f, -3.4e38f, 1e-45f, -0.0f, 1.0f};
    static const float embedding_b[EMBEDDING_DIM] = {1.0f / 3.0f, 2.0f, -7.25f, 1e30f, 0.0f};
    sr_error err;
    size_t j;

    sr_dataset_init(ds);
    add_models(ds);
    assert_int_equal(sr_dataset_set_cost_unit(ds, "EUR", &err), SR_OK);
    ds->catalogue.quality_min = 1.0;
    ds->catalogue.quality_max = 10.0;
    ds->header_extra = strdup("{\"chaining\":{\"turns\":4,\"seed\":42},\"source\":\"unit\"}");
    assert_non_null(ds->header_extra);

    /* Session "a": full information on turn 0, one outcome on turn 1. */
    assert_int_equal(sr_dataset_begin_session(ds, "a", 0.25, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(ds, "Gr\xc3\xbc\xc3\x9f" "e, \"quoted\"\n\ttab \\",
                                         embedding_a, EMBEDDING_DIM, "q1", 1, &j, &err),
                     SR_OK);
    assert_int_equal(sr_dataset_set_outcome(ds, j, 0, 7.5, NAN, 120, 300, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(ds, j, 1, 1, 0.001, NAN, NAN, &err), SR_OK);
    assert_int_equal(
        sr_dataset_set_outcome(ds, j, 2, 10, 0.123456789012345678, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(ds, j, 1, 3.25, NAN, 5, NAN, &err), SR_OK);

    /* Session "séance-3": no budget, logged-only, empty text. */
    assert_int_equal(sr_dataset_begin_session(ds, "s\xc3\xa9" "ance-3", NAN, &err), SR_OK);
    assert_int_equal(
        sr_dataset_add_turn(ds, "", embedding_b, EMBEDDING_DIM, NULL, 0, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(ds, j, 0, 2, 1e-12, 0.5, 1e15, &err), SR_OK);
}

/* Writes `ds` to a new temporary file; returns its contents, sets `path`. */
static char *save_to_temp(const sr_dataset *ds, char *path, size_t path_size)
{
    sr_error err;
    snprintf(path, path_size, "/tmp/test_dataset_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sr_dataset_save(ds, path, &err), SR_OK);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    assert_non_null(text);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    assert_true(n > 0);
    fclose(f);
    return text;
}

static void assert_same_dataset(const sr_dataset *a, const sr_dataset *b)
{
    const sr_catalogue *ca = &a->catalogue;
    const sr_catalogue *cb = &b->catalogue;

    /* Catalogue and header. */
    assert_int_equal(ca->n_models, cb->n_models);
    for (int k = 0; k < ca->n_models; k++) {
        assert_string_equal(ca->models[k].name, cb->models[k].name);
        assert_true(same_double(ca->models[k].input_price, cb->models[k].input_price));
        assert_true(same_double(ca->models[k].output_price, cb->models[k].output_price));
        assert_true(same_double(ca->models[k].cost_per_call, cb->models[k].cost_per_call));
        assert_int_equal(ca->models[k].fallback, cb->models[k].fallback);
    }
    assert_string_equal(ca->cost_unit, cb->cost_unit);
    assert_true(same_double(ca->quality_min, cb->quality_min));
    assert_true(same_double(ca->quality_max, cb->quality_max));
    assert_int_equal(ca->embedding_dim, cb->embedding_dim);
    assert_string_equal(a->header_extra, b->header_extra);

    /* Sessions. */
    assert_int_equal(a->n_sessions, b->n_sessions);
    for (size_t i = 0; i < a->n_sessions; i++) {
        assert_string_equal(a->sessions[i].id, b->sessions[i].id);
        assert_true(same_double(a->sessions[i].budget, b->sessions[i].budget));
        assert_int_equal(a->sessions[i].first_turn, b->sessions[i].first_turn);
        assert_int_equal(a->sessions[i].n_turns, b->sessions[i].n_turns);
    }

    /* Turns and outcomes. */
    assert_int_equal(a->n_turns, b->n_turns);
    for (size_t j = 0; j < a->n_turns; j++) {
        const sr_turn *ta = &a->turns[j];
        const sr_turn *tb = &b->turns[j];
        assert_true(same_string(ta->text, tb->text));
        assert_true(same_string(ta->source_id, tb->source_id));
        assert_int_equal(ta->logged, tb->logged);
        assert_int_equal(ta->embedding == NULL, tb->embedding == NULL);
        if (ta->embedding != NULL)
            assert_memory_equal(ta->embedding, tb->embedding,
                                (size_t)ca->embedding_dim * sizeof(float));
        for (int k = 0; k < ca->n_models; k++) {
            const sr_outcome *oa = sr_dataset_outcome(a, j, k);
            const sr_outcome *ob = sr_dataset_outcome(b, j, k);
            assert_int_equal(oa->present, ob->present);
            assert_true(same_double(oa->quality, ob->quality));
            assert_true(same_double(oa->cost, ob->cost));
            assert_true(same_double(oa->input_tokens, ob->input_tokens));
            assert_true(same_double(oa->output_tokens, ob->output_tokens));
        }
    }
}

static void write_load_round_trip(void **state)
{
    (void)state;
    sr_dataset built;
    sr_dataset loaded;
    sr_dataset reloaded;
    sr_error err;
    char path[64];
    char path2[64];

    build_rich_dataset(&built);
    char *first = save_to_temp(&built, path, sizeof(path));
    size_t skipped = 7;
    sr_status status = sr_dataset_load(path, NULL, &loaded, &skipped, &err);
    if (status != SR_OK)
        fail_msg("reload failed: %s\nfile:\n%s", err.message, first);
    assert_int_equal(skipped, 0);
    assert_same_dataset(&built, &loaded);

    /* Writing the loaded copy reproduces the file byte for byte. */
    char *second = save_to_temp(&loaded, path2, sizeof(path2));
    assert_string_equal(first, second);
    assert_int_equal(sr_dataset_load(path2, NULL, &reloaded, NULL, &err), SR_OK);
    assert_same_dataset(&built, &reloaded);

    free(first);
    free(second);
    unlink(path);
    unlink(path2);
    sr_dataset_free(&built);
    sr_dataset_free(&loaded);
    sr_dataset_free(&reloaded);
}

static void round_trip_values_by_hand(void **state)
{
    (void)state;
    sr_dataset built;
    sr_dataset loaded;
    sr_error err;
    char path[64];

    build_rich_dataset(&built);
    char *text = save_to_temp(&built, path, sizeof(path));
    assert_int_equal(sr_dataset_load(path, NULL, &loaded, NULL, &err), SR_OK);

    /* 120 * 2.5 / 1e6 + 300 * 7.5 / 1e6 = 0.00255, priced by the builder. */
    assert_true(fabs(sr_dataset_outcome(&loaded, 0, 0)->cost - 0.00255) < 1e-15);
    /* cost_per_call wins over token counts: 0.001 for 5 input tokens. */
    assert_true(sr_dataset_outcome(&loaded, 1, 1)->cost == 0.001);
    assert_true(sr_dataset_outcome(&loaded, 1, 1)->input_tokens == 5.0);
    assert_true(isnan(sr_dataset_outcome(&loaded, 1, 1)->output_tokens));
    assert_false(sr_dataset_outcome(&loaded, 1, 0)->present);
    assert_true(signbit(loaded.turns[0].embedding[3]));
    assert_true(loaded.turns[0].embedding[2] == 1e-45f);
    assert_string_equal(loaded.turns[2].text, "");
    assert_null(loaded.turns[1].text);
    assert_string_equal(loaded.sessions[1].id, "s\xc3\xa9" "ance-3");
    assert_true(isnan(loaded.sessions[1].budget));
    assert_non_null(strstr(text, "\"chaining\":{\"turns\":4,\"seed\":42}"));
    assert_non_null(strstr(text, "\"embedding_dim\":5"));

    free(text);
    unlink(path);
    sr_dataset_free(&built);
    sr_dataset_free(&loaded);
}

static void builder_rejects_bad_models(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    size_t j;

    sr_dataset_init(&ds);
    add_models(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "tok", NAN, NAN, 1, false, &err),
                     SR_ERR_INVALID);
    assert_string_equal(err.field, "models.name");
    assert_int_equal(sr_dataset_add_model(&ds, "", NAN, NAN, 1, false, &err), SR_ERR_INVALID);
    assert_int_equal(sr_dataset_add_model(&ds, "neg", NAN, NAN, -1, false, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_dataset_add_model(&ds, "inf", INFINITY, 1, NAN, false, &err),
                     SR_ERR_INVALID);
    assert_int_equal(ds.catalogue.n_models, 3);

    assert_int_equal(sr_dataset_begin_session(&ds, "s", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "late", NAN, NAN, 1, false, &err),
                     SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

static void builder_rejects_bad_outcomes(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    size_t j;

    sr_dataset_init(&ds);
    add_models(&ds);
    assert_int_equal(sr_dataset_begin_session(&ds, "s", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);

    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 1.5, 1, NAN, NAN, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "quality");
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, NAN, 1, NAN, NAN, &err), SR_ERR_INVALID);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.5, -1, NAN, NAN, &err),
                     SR_ERR_INVALID);
    assert_string_equal(err.field, "cost");
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.5, INFINITY, NAN, NAN, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.5, NAN, NAN, NAN, &err),
                     SR_ERR_INVALID);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 2, 0.5, NAN, 10, 10, &err), SR_ERR_INVALID);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.5, NAN, -10, 10, &err),
                     SR_ERR_INVALID);
    assert_string_equal(err.field, "input_tokens");
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 3, 0.5, 1, NAN, NAN, &err), SR_ERR_INVALID);
    assert_int_equal(sr_dataset_set_outcome(&ds, j + 1, 0, 0.5, 1, NAN, NAN, &err),
                     SR_ERR_INVALID);
    for (int k = 0; k < 3; k++)
        assert_false(sr_dataset_outcome(&ds, j, k)->present);
    sr_dataset_free(&ds);
}

static void builder_checks_embedding_length(void **state)
{
    (void)state;
    static const float values[4] = {1, 2, 3, 4};
    sr_dataset ds;
    sr_error err;
    size_t j;

    sr_dataset_init(&ds);
    add_models(&ds);
    assert_int_equal(sr_dataset_begin_session(&ds, "s", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, values, 3, NULL, -1, &j, &err), SR_OK);
    assert_int_equal(ds.catalogue.embedding_dim, 3);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, values, 4, NULL, -1, &j, &err),
                     SR_ERR_INVALID);
    assert_string_equal(err.field, "embedding");
    assert_int_equal(ds.n_turns, 1);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, 3, &j, &err),
                     SR_ERR_INVALID);
    assert_string_equal(err.field, "logged");
    sr_dataset_free(&ds);
}

static void drop_last_session_removes_turns(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    size_t j;

    sr_dataset_init(&ds);
    add_models(&ds);
    assert_int_equal(sr_dataset_begin_session(&ds, "keep", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, "a", NULL, 0, NULL, -1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "drop", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, "b", NULL, 0, "src", -1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, "c", NULL, 0, NULL, -1, &j, &err), SR_OK);

    sr_dataset_drop_last_session(&ds);
    assert_int_equal(ds.n_sessions, 1);
    assert_int_equal(ds.n_turns, 1);
    assert_string_equal(ds.sessions[0].id, "keep");
    assert_int_equal(sr_dataset_begin_session(&ds, "next", NAN, &err), SR_OK);
    assert_int_equal(ds.sessions[1].first_turn, 1);
    sr_dataset_free(&ds);
}

static void model_stats_by_hand(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    size_t j;
    double quality[3];
    double cost[3];
    size_t count[3];

    sr_dataset_init(&ds);
    add_models(&ds);
    assert_int_equal(sr_dataset_begin_session(&ds, "s", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.5, 0.25, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 1, 1.0, 0.5, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.25, 0.75, NAN, NAN, &err), SR_OK);
    assert_false(sr_dataset_is_full_information(&ds));

    sr_dataset_model_stats(&ds, quality, cost, count);
    assert_true(quality[0] == 0.375);
    assert_true(cost[0] == 0.5);
    assert_int_equal(count[0], 2);
    assert_true(quality[1] == 1.0);
    assert_int_equal(count[1], 1);
    assert_true(isnan(quality[2]));
    assert_true(isnan(cost[2]));
    assert_int_equal(count[2], 0);

    assert_int_equal(sr_dataset_set_outcome(&ds, 0, 2, 0, 0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, 1, 1, 0, 0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, 1, 2, 0, 0, NAN, NAN, &err), SR_OK);
    assert_true(sr_dataset_is_full_information(&ds));
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_load_round_trip),
        cmocka_unit_test(round_trip_values_by_hand),
        cmocka_unit_test(builder_rejects_bad_models),
        cmocka_unit_test(builder_rejects_bad_outcomes),
        cmocka_unit_test(builder_checks_embedding_length),
        cmocka_unit_test(drop_last_session_removes_turns),
        cmocka_unit_test(model_stats_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
