/*
 * test_import.c - the benchmark importers on tiny hand-written fixtures
 * (tests/data/import), with qualities and costs computed by hand in the
 * comments, plus the Python literal decoder, the LiteLLM lookup and the
 * chaining.  Skipped rows must be reported with their line, so the tests
 * capture the library log.  Imported datasets are also written and loaded
 * back with sr_dataset_load to check that the loader accepts them.
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
#include "seqroute/import.h"

/* Relative tolerance of hand-computed costs: a few ulps of arithmetic. */
#define COST_TOLERANCE 1e-12

static void assert_close(double actual, double expected)
{
    double scale = fabs(expected) > 1e-300 ? fabs(expected) : 1.0;
    if (fabs(actual - expected) > COST_TOLERANCE * scale)
        fail_msg("got %.17g, expected %.17g", actual, expected);
}

/* ---- log capture and fixture paths ------------------------------------------ */

static char captured[65536];

static void capture_log(sr_log_level level, const char *message, void *user_data)
{
    (void)level;
    (void)user_data;
    size_t used = strlen(captured);
    snprintf(captured + used, sizeof(captured) - used, "%s\n", message);
}

static int setup_log(void **state)
{
    (void)state;
    captured[0] = '\0';
    sr_log_set_callback(capture_log, NULL, SR_LOG_DEBUG);
    return 0;
}

static const char *fixture(const char *name)
{
    static char paths[8][1024];
    static int next;
    const char *root = getenv("SEQROUTE_TEST_DATA");
    char *path = paths[next++ % 8];
    snprintf(path, sizeof(paths[0]), "%s/import/%s", root ? root : "tests/data", name);
    return path;
}

/* Finds the pooled turn whose source_id is `id`; fails when absent. */
static size_t turn_by_source(const sr_dataset *ds, const char *id)
{
    for (size_t j = 0; j < ds->n_turns; j++)
        if (ds->turns[j].source_id != NULL && strcmp(ds->turns[j].source_id, id) == 0)
            return j;
    fail_msg("no turn with source_id %s", id);
    return 0;
}

/* Writes `ds` to a temporary file and loads it back; returns the copy. */
static void round_trip(const sr_dataset *ds, sr_dataset *copy)
{
    char path[] = "/tmp/test_import_XXXXXX";
    sr_error err;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sr_dataset_save(ds, path, &err), SR_OK);
    sr_dataset_init(copy);
    sr_status status = sr_dataset_load(path, NULL, copy, NULL, &err);
    if (status != SR_OK)
        fail_msg("reload failed: %s", err.message);
    unlink(path);
    assert_int_equal(copy->n_sessions, ds->n_sessions);
    assert_int_equal(copy->n_turns, ds->n_turns);
    assert_int_equal(copy->catalogue.n_models, ds->catalogue.n_models);
}

/* ---- Python list literals -------------------------------------------------- */

static void decode_ok(const char *literal, const char *expected)
{
    char *text = NULL;
    sr_error err;
    sr_status status = sr_import_decode_pylist(literal, "test", &text, &err);
    if (status != SR_OK)
        fail_msg("decoding %s failed: %s", literal, err.message);
    assert_string_equal(text, expected);
    free(text);
}

static void decode_fails(const char *literal)
{
    char *text = NULL;
    sr_error err;
    assert_int_equal(sr_import_decode_pylist(literal, "f.csv:3: column prompt", &text, &err),
                     SR_ERR_INVALID);
    assert_null(text);
    assert_non_null(strstr(err.message, "f.csv:3: column prompt"));
}

static void test_pylist_quote_styles(void **state)
{
    (void)state;
    decode_ok("['plain']", "plain");
    decode_ok("[\"it's\"]", "it's");
    decode_ok("['it\\'s']", "it's");
    decode_ok("[\"say \\\"hi\\\"\"]", "say \"hi\"");
    decode_ok("  [ 'a' , \"b\" , ]  ", "a\n\nb");
    decode_ok("[]", "");
}

static void test_pylist_escapes(void **state)
{
    (void)state;
    decode_ok("['a\\nb\\tc\\rd']", "a\nb\tc\rd");
    decode_ok("['back\\\\slash']", "back\\slash");
    decode_ok("['\\x41\\x02']", "A\x02");
    decode_ok("['\\xe9']", "\xc3\xa9");
    decode_ok("['\\u00e9\\u4e2d']", "\xc3\xa9\xe4\xb8\xad");
    decode_ok("['\\U0001F600']", "\xf0\x9f\x98\x80");
    decode_ok("['\\101\\7']", "A\x07");
    decode_ok("['keep \\d']", "keep \\d");
    decode_ok("['raw \xc3\xa9 utf8']", "raw \xc3\xa9 utf8");
}

static void test_pylist_rejects_bad_input(void **state)
{
    (void)state;
    decode_fails("plain text");
    decode_fails("['unterminated");
    decode_fails("['a' 'b']");
    decode_fails("['a'] tail");
    decode_fails("['\\x4']");
    decode_fails("['\\x00']");
    decode_fails("['\\ud800']");
    decode_fails("[42]");
    decode_fails("['bad \xff byte']");
}

/* ---- small helpers ------------------------------------------------------------ */

static void test_parse_turns(void **state)
{
    (void)state;
    int lo = 0;
    int hi = 0;
    sr_error err;
    assert_int_equal(sr_import_parse_turns("4", &lo, &hi, &err), SR_OK);
    assert_int_equal(lo, 4);
    assert_int_equal(hi, 4);
    assert_int_equal(sr_import_parse_turns("2-6", &lo, &hi, &err), SR_OK);
    assert_int_equal(lo, 2);
    assert_int_equal(hi, 6);
    assert_int_equal(sr_import_parse_turns("0", &lo, &hi, &err), SR_ERR_INVALID);
    assert_int_equal(sr_import_parse_turns("5-3", &lo, &hi, &err), SR_ERR_INVALID);
    assert_int_equal(sr_import_parse_turns("3-", &lo, &hi, &err), SR_ERR_INVALID);
    assert_int_equal(sr_import_parse_turns("x", &lo, &hi, &err), SR_ERR_INVALID);
    assert_int_equal(sr_import_parse_turns("1-99999", &lo, &hi, &err), SR_ERR_INVALID);
}

static void test_token_estimate(void **state)
{
    (void)state;
    assert_close(sr_import_estimate_tokens("abcdefgh"), 2.0);
    assert_close(sr_import_estimate_tokens("abc"), 0.75);
    assert_close(sr_import_estimate_tokens("\xc3\xa9"), 0.5); /* bytes, not characters */
    assert_close(sr_import_estimate_tokens(NULL), 0.0);
}

static void test_utf8_validation(void **state)
{
    (void)state;
    assert_true(sr_import_utf8_valid("plain", 5));
    assert_true(sr_import_utf8_valid("\xe4\xb8\xad", 3));
    assert_false(sr_import_utf8_valid("\xe4\xb8", 2));     /* truncated */
    assert_false(sr_import_utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(sr_import_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(sr_import_utf8_valid("a\0b", 3));         /* NUL */
}

static void test_options_validation(void **state)
{
    (void)state;
    sr_import_options options;
    sr_error err;
    const char *bad_rename[] = {"noequals"};
    const char *bad_price[] = {"m=1/x"};
    const char *keys[] = {"m=key"};
    const char *twice[] = {"a", "a"};

    sr_import_options_init(&options);
    assert_int_equal(sr_import_check_options(&options, &err), SR_OK);
    options.renames = bad_rename;
    options.n_renames = 1;
    assert_int_equal(sr_import_check_options(&options, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "noequals"));

    sr_import_options_init(&options);
    options.prices = bad_price;
    options.n_prices = 1;
    assert_int_equal(sr_import_check_options(&options, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "m=1/x"));

    sr_import_options_init(&options);
    options.price_keys = keys;
    options.n_price_keys = 1;
    assert_int_equal(sr_import_check_options(&options, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "--prices"));

    sr_import_options_init(&options);
    options.models = twice;
    options.n_models = 2;
    assert_int_equal(sr_import_check_options(&options, &err), SR_ERR_INVALID);
}

/* ---- LiteLLM price table -------------------------------------------------------- */

static void test_litellm_lookup(void **state)
{
    (void)state;
    sr_price_table *table = NULL;
    const char *key = NULL;
    double in = 0;
    double out = 0;
    sr_error err;

    assert_int_equal(sr_price_table_load(fixture("litellm_small.json"), &table, &err), SR_OK);

    /* Exact key; 1e-05 per token is exactly 10 per 1M after rounding. */
    assert_int_equal(sr_price_table_find(table, "gpt-x", &key, &err), SR_OK);
    assert_string_equal(key, "gpt-x");
    assert_int_equal(sr_price_table_get(table, key, &in, &out, &err), SR_OK);
    assert_true(in == 10.0);
    assert_true(out == 30.0);

    /* Case-insensitive exact key. */
    assert_int_equal(sr_price_table_find(table, "GPT-X", &key, &err), SR_OK);
    assert_string_equal(key, "gpt-x");

    /* Unique provider-prefixed key. */
    assert_int_equal(sr_price_table_find(table, "unique-b", &key, &err), SR_OK);
    assert_string_equal(key, "prov/unique-b");
    assert_int_equal(sr_price_table_get(table, key, &in, &out, &err), SR_OK);
    assert_true(in == 0.075);
    assert_true(out == 0.3);

    /* Two hosts match: an error listing both. */
    assert_int_equal(sr_price_table_find(table, "model-a", &key, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "prov1/org/Model-A"));
    assert_non_null(strstr(err.message, "prov2/org/model-a"));

    /* Missing, the schema entry and an entry without token prices. */
    assert_int_equal(sr_price_table_find(table, "nothing", &key, &err), SR_ERR_NOT_FOUND);
    assert_int_equal(sr_price_table_find(table, "sample_spec", &key, &err), SR_ERR_NOT_FOUND);
    assert_int_equal(sr_price_table_get(table, "noprice", &in, &out, &err), SR_ERR_INVALID);
    assert_int_equal(sr_price_table_get(table, "last_updated", &in, &out, &err), SR_ERR_NOT_FOUND);
    sr_price_table_free(table);
}

/* ---- chaining ------------------------------------------------------------------- */

/* A pool of `n` one-turn items "i0".."i{n-1}" with two models. */
static void build_pool(sr_dataset *pool, int n)
{
    sr_error err;
    sr_dataset_init(pool);
    assert_int_equal(sr_dataset_add_model(pool, "a", NAN, NAN, 0.5, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(pool, "b", NAN, NAN, 0.1, true, &err), SR_OK);
    for (int i = 0; i < n; i++) {
        char id[32];
        size_t j;
        snprintf(id, sizeof(id), "i%d", i);
        assert_int_equal(sr_dataset_begin_session(pool, id, NAN, &err), SR_OK);
        assert_int_equal(sr_dataset_add_turn(pool, id, NULL, 0, id, -1, &j, &err), SR_OK);
        assert_int_equal(sr_dataset_set_outcome(pool, j, 0, 1.0, 0.01 * i, NAN, NAN, &err), SR_OK);
        assert_int_equal(sr_dataset_set_outcome(pool, j, 1, 0.0, 0.001 * i, NAN, NAN, &err), SR_OK);
    }
}

static void test_chain_ten_items_by_four(void **state)
{
    (void)state;
    sr_dataset pool;
    sr_dataset out;
    sr_chain_result result;
    sr_error err;
    int seen[10] = {0};

    build_pool(&pool, 10);
    sr_dataset_init(&out);
    assert_int_equal(sr_import_chain(&pool, 1, 4, 4, "rb", &out, &result, &err), SR_OK);
    assert_int_equal(out.n_sessions, 3);
    assert_int_equal(out.sessions[0].n_turns, 4);
    assert_int_equal(out.sessions[1].n_turns, 4);
    assert_int_equal(out.sessions[2].n_turns, 2);
    assert_int_equal(result.items, 10);
    assert_int_equal(result.sessions, 3);
    assert_int_equal(result.remainder_turns, 2);
    assert_string_equal(out.sessions[0].id, "rb-000001");
    assert_string_equal(out.sessions[2].id, "rb-000003");
    assert_non_null(strstr(captured, "import_chain_remainder session=rb-000003 turns=2"));

    /* Every item appears once, with its own outcomes and the catalogue kept. */
    for (size_t j = 0; j < out.n_turns; j++) {
        int i = atoi(out.turns[j].source_id + 1);
        seen[i]++;
        assert_string_equal(out.turns[j].text, out.turns[j].source_id);
        assert_close(sr_dataset_outcome(&out, j, 0)->cost, 0.01 * i);
        assert_close(sr_dataset_outcome(&out, j, 1)->cost, 0.001 * i);
    }
    for (int i = 0; i < 10; i++)
        assert_int_equal(seen[i], 1);
    assert_true(out.catalogue.models[1].fallback);
    assert_close(out.catalogue.models[0].cost_per_call, 0.5);
    sr_dataset_free(&out);
    sr_dataset_free(&pool);
}

static void chain_order(const sr_dataset *pool, uint64_t seed, char *order, size_t size)
{
    sr_dataset out;
    sr_error err;
    order[0] = '\0';
    sr_dataset_init(&out);
    assert_int_equal(sr_import_chain(pool, seed, 4, 4, "x", &out, NULL, &err), SR_OK);
    for (size_t j = 0; j < out.n_turns; j++) {
        size_t used = strlen(order);
        snprintf(order + used, size - used, "%s,", out.turns[j].source_id);
    }
    sr_dataset_free(&out);
}

static void test_chain_deterministic_by_seed(void **state)
{
    (void)state;
    sr_dataset pool;
    char first[256];
    char again[256];
    char other[256];

    build_pool(&pool, 10);
    chain_order(&pool, 7, first, sizeof(first));
    chain_order(&pool, 7, again, sizeof(again));
    chain_order(&pool, 8, other, sizeof(other));
    assert_string_equal(first, again);
    assert_string_not_equal(first, other);
    sr_dataset_free(&pool);
}

static void test_chain_length_range(void **state)
{
    (void)state;
    sr_dataset pool;
    sr_dataset out;
    sr_chain_result result;
    sr_error err;
    bool saw_two = false;
    bool saw_three = false;

    build_pool(&pool, 100);
    sr_dataset_init(&out);
    assert_int_equal(sr_import_chain(&pool, 3, 2, 3, "x", &out, &result, &err), SR_OK);
    assert_int_equal(out.n_turns, 100);
    for (size_t s = 0; s < out.n_sessions; s++) {
        int n = out.sessions[s].n_turns;
        bool last = s + 1 == out.n_sessions;
        assert_true(n <= 3);
        assert_true(n >= 2 || (last && n == result.remainder_turns));
        saw_two |= n == 2;
        saw_three |= n == 3;
    }
    assert_true(saw_two);
    assert_true(saw_three);
    sr_dataset_free(&out);
    sr_dataset_free(&pool);
}

static void test_chain_rejects_empty_pool(void **state)
{
    (void)state;
    sr_dataset pool;
    sr_dataset out;
    sr_error err;
    build_pool(&pool, 0);
    sr_dataset_init(&out);
    assert_int_equal(sr_import_chain(&pool, 1, 4, 4, "x", &out, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(out.n_sessions, 0);
    sr_dataset_free(&pool);
}

/* ---- RouterBench ------------------------------------------------------------------ */

static void test_routerbench_small(void **state)
{
    (void)state;
    const char *paths[] = {fixture("rb_small.csv")};
    sr_import_options options;
    sr_import_report report;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    options.turns_min = options.turns_max = 2;
    sr_dataset_init(&ds);
    sr_status status = sr_import_routerbench(paths, 1, &options, &ds, &report, &err);
    if (status != SR_OK)
        fail_msg("%s", err.message);

    /* Rows t.1, t.2 and t.4 are kept; t.3 (line 5, empty model-b) is skipped. */
    assert_int_equal(report.items, 3);
    assert_int_equal(report.skipped_rows, 1);
    assert_int_equal(report.sessions, 2);
    assert_int_equal(report.outcomes, 6);
    assert_int_equal(ds.n_sessions, 2);
    assert_non_null(strstr(captured, "line=5 column=\"model-b\" reason=\"empty cell\""));
    assert_string_equal(ds.catalogue.cost_unit, "USD");
    assert_string_equal(ds.catalogue.models[0].name, "model-a");
    assert_string_equal(ds.catalogue.models[1].name, "model-b");

    /* cost_per_call: model-a (0.002 + 0.001 + 0.003) / 3, model-b (0.0005 + 0.0001 + 0.0003) / 3.
     */
    assert_close(ds.catalogue.models[0].cost_per_call, 0.002);
    assert_close(ds.catalogue.models[1].cost_per_call, 0.0003);

    /* Decoded prompts, including the one spanning two physical lines. */
    size_t t1 = turn_by_source(&ds, "t.1");
    size_t t2 = turn_by_source(&ds, "t.2");
    size_t t4 = turn_by_source(&ds, "t.4");
    assert_string_equal(ds.turns[t1].text, "What is 2+2?\nAnswer:");
    assert_string_equal(ds.turns[t2].text, "first line\nsecond, line");
    assert_string_equal(ds.turns[t4].text, "it's \\ A\xc3\xa9");
    assert_close(sr_dataset_outcome(&ds, t1, 0)->quality, 1.0);
    assert_close(sr_dataset_outcome(&ds, t1, 1)->quality, 0.0);
    assert_close(sr_dataset_outcome(&ds, t1, 0)->cost, 0.002);
    assert_close(sr_dataset_outcome(&ds, t2, 1)->cost, 0.0001);
    assert_close(sr_dataset_outcome(&ds, t4, 1)->cost, 0.0003);

    /* Provenance in the header. */
    assert_non_null(ds.header_extra);
    assert_non_null(strstr(ds.header_extra, "\"chaining\":{\"seed\":1,\"turns\":\"2\""));
    assert_non_null(strstr(ds.header_extra, "\"skipped_rows\":1"));
    assert_non_null(strstr(ds.header_extra, "\"importer\":\"routerbench\""));

    sr_dataset copy;
    round_trip(&ds, &copy);
    assert_non_null(strstr(copy.header_extra, "\"items\":3"));
    sr_dataset_free(&copy);
    sr_dataset_free(&ds);
}

static void routerbench_error(const char *name, long line, const char *field, const char *value)
{
    const char *paths[] = {fixture(name)};
    sr_import_options options;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    sr_dataset_init(&ds);
    assert_int_equal(sr_import_routerbench(paths, 1, &options, &ds, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, line);
    assert_string_equal(err.field, field);
    assert_non_null(strstr(err.message, name));
    assert_non_null(strstr(err.message, value));
    assert_int_equal(ds.n_sessions, 0);
}

static void test_routerbench_bad_values(void **state)
{
    (void)state;
    routerbench_error("rb_bad_correctness.csv", 2, "model-b", "'yes'");
    routerbench_error("rb_negative_cost.csv", 2, "model-b", "'-0.5'");
    routerbench_error("rb_out_of_range.csv", 3, "model-a", "'2.0'");
}

static void test_routerbench_model_selection(void **state)
{
    (void)state;
    const char *paths[] = {fixture("rb_small.csv")};
    const char *models[] = {"B"};
    const char *renames[] = {"model-b=B"};
    const char *missing[] = {"model-c"};
    sr_import_options options;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    options.models = models;
    options.n_models = 1;
    options.renames = renames;
    options.n_renames = 1;
    sr_dataset_init(&ds);
    assert_int_equal(sr_import_routerbench(paths, 1, &options, &ds, NULL, &err), SR_OK);
    assert_int_equal(ds.catalogue.n_models, 1);
    assert_string_equal(ds.catalogue.models[0].name, "B");
    sr_dataset_free(&ds);

    options.models = missing;
    options.n_renames = 0;
    assert_int_equal(sr_import_routerbench(paths, 1, &options, &ds, NULL, &err), SR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "model-a, model-b"));
}

/* ---- tables ---------------------------------------------------------------------- */

static void test_table_csv_costs(void **state)
{
    (void)state;
    const char *paths[] = {fixture("table_small.csv")};
    const char *prices[] = {"m1=10/30", "m2=1/2"};
    sr_import_options options;
    sr_import_report report;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    options.prices = prices;
    options.n_prices = 2;
    sr_dataset_init(&ds);
    sr_status status = sr_import_table(paths, 1, &options, &ds, &report, &err);
    if (status != SR_OK)
        fail_msg("%s", err.message);
    assert_int_equal(report.items, 3);
    assert_int_equal(report.skipped_rows, 1);
    assert_int_equal(report.sessions, 1);
    assert_non_null(strstr(captured, "line=5 column=\"m2\" reason=\"empty cell\""));
    assert_string_equal(ds.catalogue.models[0].name, "m1");
    assert_close(ds.catalogue.models[0].input_price, 10);
    assert_close(ds.catalogue.models[1].output_price, 2);

    /* Line 2 "abcdefgh": 2 input tokens; m1 answers "abcd" (1 token), m2 uses 1. */
    size_t a = turn_by_source(&ds, "table_small.csv:2");
    assert_close(sr_dataset_outcome(&ds, a, 0)->quality, 1.0);
    assert_close(sr_dataset_outcome(&ds, a, 1)->quality, 0.0);
    assert_close(sr_dataset_outcome(&ds, a, 0)->input_tokens, 2.0);
    assert_close(sr_dataset_outcome(&ds, a, 0)->output_tokens, 1.0);
    assert_close(sr_dataset_outcome(&ds, a, 0)->cost, 2 * 10e-6 + 1 * 30e-6);
    assert_close(sr_dataset_outcome(&ds, a, 1)->cost, 2 * 1e-6 + 1 * 2e-6);

    /* Lines 3-4 "two\nlines": 9 bytes = 2.25 tokens; m1 answers 8 bytes = 2 tokens. */
    size_t b = turn_by_source(&ds, "table_small.csv:3");
    assert_string_equal(ds.turns[b].text, "two\nlines");
    assert_close(sr_dataset_outcome(&ds, b, 1)->quality, 0.5);
    assert_close(sr_dataset_outcome(&ds, b, 0)->cost, 2.25 * 10e-6 + 2 * 30e-6);
    assert_close(sr_dataset_outcome(&ds, b, 1)->cost, 2.25 * 1e-6 + 1 * 2e-6);

    /* Line 6: lower-case false, upper-case TRUE, empty response = 0 output tokens. */
    size_t c = turn_by_source(&ds, "table_small.csv:6");
    assert_close(sr_dataset_outcome(&ds, c, 0)->quality, 0.0);
    assert_close(sr_dataset_outcome(&ds, c, 1)->quality, 1.0);
    assert_close(sr_dataset_outcome(&ds, c, 0)->cost, 2 * 10e-6);

    assert_non_null(strstr(ds.header_extra, "\"m1\":\"--price m1=10/30\""));
    sr_dataset copy;
    round_trip(&ds, &copy);
    sr_dataset_free(&copy);
    sr_dataset_free(&ds);

    /* --output-tokens changes only the outcomes without response text. */
    options.output_tokens = 3;
    assert_int_equal(sr_import_table(paths, 1, &options, &ds, NULL, &err), SR_OK);
    a = turn_by_source(&ds, "table_small.csv:2");
    assert_close(sr_dataset_outcome(&ds, a, 1)->cost, 2 * 1e-6 + 3 * 2e-6);
    assert_close(sr_dataset_outcome(&ds, a, 0)->cost, 2 * 10e-6 + 1 * 30e-6);
    sr_dataset_free(&ds);
}

static void test_table_unpriced_models(void **state)
{
    (void)state;
    const char *paths[] = {fixture("table_small.csv")};
    const char *prices[] = {"m1=10/30"};
    sr_import_options options;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    options.prices = prices;
    options.n_prices = 1;
    sr_dataset_init(&ds);
    assert_int_equal(sr_import_table(paths, 1, &options, &ds, NULL, &err), SR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "'m2'"));
    assert_null(strstr(err.message, "'m1'"));
    assert_non_null(strstr(err.message, "--price MODEL=IN/OUT"));
    assert_int_equal(ds.n_sessions, 0);
}

static void test_table_bad_correctness(void **state)
{
    (void)state;
    const char *paths[] = {fixture("table_bad.csv")};
    const char *prices[] = {"m1=1/1", "m2=1/1"};
    sr_import_options options;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    options.prices = prices;
    options.n_prices = 2;
    sr_dataset_init(&ds);
    assert_int_equal(sr_import_table(paths, 1, &options, &ds, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 2);
    assert_string_equal(err.field, "m2");
    assert_non_null(strstr(err.message, "'maybe'"));
}

static void test_table_llmrouter_json(void **state)
{
    (void)state;
    const char *paths[] = {fixture("llmrouter_small.json")};
    sr_import_options options;
    sr_import_report report;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    options.catalogue_path = fixture("llm_catalogue.json");
    sr_dataset_init(&ds);
    sr_status status = sr_import_table(paths, 1, &options, &ds, &report, &err);
    if (status != SR_OK)
        fail_msg("%s", err.message);

    /* Item 2 has no score for q: reported and skipped. */
    assert_int_equal(report.items, 2);
    assert_int_equal(report.skipped_rows, 1);
    assert_non_null(strstr(captured, "item=2 model=q"));
    assert_int_equal(ds.catalogue.n_models, 2);
    assert_close(ds.catalogue.models[1].input_price, 0.9);
    assert_close(ds.catalogue.models[1].output_price, 1.8);

    /* "abcdefgh": 2 input tokens + 1 output token. */
    size_t a = turn_by_source(&ds, "llmrouter_small.json#0");
    assert_close(sr_dataset_outcome(&ds, a, 0)->quality, 1.0);
    assert_close(sr_dataset_outcome(&ds, a, 0)->cost, 2 * 0.2e-6 + 1 * 0.2e-6);
    assert_close(sr_dataset_outcome(&ds, a, 1)->cost, 2 * 0.9e-6 + 1 * 1.8e-6);
    size_t b = turn_by_source(&ds, "llmrouter_small.json#1");
    assert_close(sr_dataset_outcome(&ds, b, 0)->quality, 0.5);
    assert_close(sr_dataset_outcome(&ds, b, 1)->cost, 1 * 0.9e-6 + 1 * 1.8e-6);
    sr_dataset_free(&ds);
}

static void test_table_litellm_prices(void **state)
{
    (void)state;
    const char *paths[] = {fixture("llmrouter_small.json")};
    const char *renames[] = {"p=gpt-x", "q=model-a"};
    const char *keys[] = {"model-a=prov2/org/model-a"};
    sr_import_options options;
    sr_dataset ds;
    sr_error err;

    /* q renamed to model-a matches two hosts: an error naming both and the fix. */
    sr_import_options_init(&options);
    options.renames = renames;
    options.n_renames = 2;
    options.litellm_path = fixture("litellm_small.json");
    sr_dataset_init(&ds);
    assert_int_equal(sr_import_table(paths, 1, &options, &ds, NULL, &err), SR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "prov1/org/Model-A"));
    assert_non_null(strstr(err.message, "--price-key model-a=KEY"));

    /* --price-key resolves it; gpt-x is found by name. */
    options.price_keys = keys;
    options.n_price_keys = 1;
    assert_int_equal(sr_import_table(paths, 1, &options, &ds, NULL, &err), SR_OK);
    assert_close(ds.catalogue.models[0].input_price, 10);
    assert_close(ds.catalogue.models[1].input_price, 0.27);
    assert_non_null(strstr(ds.header_extra, "litellm prov2/org/model-a (--price-key)"));
    sr_dataset_free(&ds);
}

/* ---- MT-Bench -------------------------------------------------------------------- */

static sr_status import_mt(const char *judgments, const char *answers, sr_dataset *ds,
                           sr_import_report *report, sr_error *err)
{
    const char *judgment_paths[] = {fixture(judgments)};
    const char *answer_paths[] = {answers ? fixture(answers) : NULL};
    const char *models[] = {"m1", "m2"};
    const char *renames[] = {"raw-m1=m1"};
    const char *prices[] = {"m1=10/30", "m2=1/2"};
    sr_import_options options;

    sr_import_options_init(&options);
    options.models = models;
    options.n_models = 2;
    options.renames = renames;
    options.n_renames = 1;
    options.prices = prices;
    options.n_prices = 2;
    sr_dataset_init(ds);
    return sr_import_mtbench(fixture("mt_questions.jsonl"), judgment_paths, 1, answer_paths,
                             answers ? 1 : 0, &options, ds, report, err);
}

static void test_mtbench_judgments(void **state)
{
    (void)state;
    sr_import_report report;
    sr_dataset ds;
    sr_error err;

    sr_status status = import_mt("mt_judgments.jsonl", NULL, &ds, &report, &err);
    if (status != SR_OK)
        fail_msg("%s", err.message);

    /* Question 2 lacks m2's turn 2: reported and skipped. */
    assert_int_equal(report.sessions, 1);
    assert_int_equal(report.skipped_sessions, 1);
    assert_int_equal(report.skipped_scores, 1);
    assert_int_equal(report.duplicates, 1);
    assert_int_equal(report.ignored_records, 1);
    assert_int_equal(report.outcomes, 4);
    assert_non_null(strstr(captured, "import_skip_session question=2 missing=1"));
    assert_non_null(strstr(captured, "line=4 model=m2 question=1 turn=1 reason=\"score -1"));
    assert_string_equal(ds.sessions[0].id, "mtbench-1");
    assert_int_equal(ds.sessions[0].n_turns, 2);
    assert_string_equal(ds.turns[0].text, "abcd");
    assert_string_equal(ds.turns[1].text, "efghijkl");
    assert_string_equal(ds.turns[1].source_id, "mtbench:1:2");

    /* Turn 1, m1: the later judgment (score 8) wins; "abcd" = 1 token in,
     * "12345678" = 2 tokens out; 1 x 10 + 2 x 30 per 1M. */
    const sr_outcome *o = sr_dataset_outcome(&ds, 0, 0);
    assert_close(o->quality, 7.0 / 9.0);
    assert_close(o->input_tokens, 1.0);
    assert_close(o->output_tokens, 2.0);
    assert_close(o->cost, 70e-6);

    /* Turn 1, m2: score 10 after a -1; answer of 12 bytes = 3 tokens. */
    o = sr_dataset_outcome(&ds, 0, 1);
    assert_close(o->quality, 1.0);
    assert_close(o->cost, 1 * 1e-6 + 3 * 2e-6);

    /* Turn 2, m1: input = "abcd" + "12345678" + "efghijkl" = 20 bytes = 5
     * tokens, output "1234" = 1 token, score 5. */
    o = sr_dataset_outcome(&ds, 1, 0);
    assert_close(o->quality, 4.0 / 9.0);
    assert_close(o->input_tokens, 5.0);
    assert_close(o->output_tokens, 1.0);
    assert_close(o->cost, 5 * 10e-6 + 1 * 30e-6);

    /* Turn 2, m2: input 4 + 12 + 8 = 24 bytes = 6 tokens, score 1. */
    o = sr_dataset_outcome(&ds, 1, 1);
    assert_close(o->quality, 0.0);
    assert_close(o->cost, 6 * 1e-6 + 1 * 2e-6);

    assert_non_null(strstr(ds.header_extra, "\"judges\":[\"gpt-4\"]"));
    assert_null(strstr(ds.header_extra, "chaining"));
    sr_dataset copy;
    round_trip(&ds, &copy);
    sr_dataset_free(&copy);
    sr_dataset_free(&ds);
}

static void test_mtbench_answer_file(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;

    assert_int_equal(import_mt("mt_judgments.jsonl", "mt_answers.jsonl", &ds, NULL, &err), SR_OK);

    /* m1's answers now come from the answer file: 16 and 2 bytes. */
    const sr_outcome *o = sr_dataset_outcome(&ds, 0, 0);
    assert_close(o->output_tokens, 4.0);
    assert_close(o->cost, 1 * 10e-6 + 4 * 30e-6);
    o = sr_dataset_outcome(&ds, 1, 0);
    assert_close(o->input_tokens, (4 + 16 + 8) / 4.0);
    assert_close(o->output_tokens, 0.5);
    assert_close(o->cost, 7 * 10e-6 + 0.5 * 30e-6);

    /* m2 still comes from the judge prompts. */
    assert_close(sr_dataset_outcome(&ds, 0, 1)->cost, 1 * 1e-6 + 3 * 2e-6);
    sr_dataset_free(&ds);
}

static void test_mtbench_bad_records(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;

    assert_int_equal(import_mt("mt_bad_score.jsonl", NULL, &ds, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 1);
    assert_string_equal(err.field, "score");
    assert_non_null(strstr(err.message, "11"));

    assert_int_equal(import_mt("mt_no_markers.jsonl", NULL, &ds, NULL, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "user_prompt");
    assert_non_null(strstr(err.message, "--answers"));
}

static void test_mtbench_unknown_model(void **state)
{
    (void)state;
    const char *judgment_paths[] = {fixture("mt_judgments.jsonl")};
    const char *models[] = {"m1", "typo"};
    const char *renames[] = {"raw-m1=m1"};
    sr_import_options options;
    sr_dataset ds;
    sr_error err;

    sr_import_options_init(&options);
    options.models = models;
    options.n_models = 2;
    options.renames = renames;
    options.n_renames = 1;
    sr_dataset_init(&ds);
    assert_int_equal(sr_import_mtbench(fixture("mt_questions.jsonl"), judgment_paths, 1, NULL, 0,
                                       &options, &ds, NULL, &err),
                     SR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "'typo'"));
    assert_non_null(strstr(err.message, "--rename"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pylist_quote_styles, setup_log),
        cmocka_unit_test_setup(test_pylist_escapes, setup_log),
        cmocka_unit_test_setup(test_pylist_rejects_bad_input, setup_log),
        cmocka_unit_test_setup(test_parse_turns, setup_log),
        cmocka_unit_test_setup(test_token_estimate, setup_log),
        cmocka_unit_test_setup(test_utf8_validation, setup_log),
        cmocka_unit_test_setup(test_options_validation, setup_log),
        cmocka_unit_test_setup(test_litellm_lookup, setup_log),
        cmocka_unit_test_setup(test_chain_ten_items_by_four, setup_log),
        cmocka_unit_test_setup(test_chain_deterministic_by_seed, setup_log),
        cmocka_unit_test_setup(test_chain_length_range, setup_log),
        cmocka_unit_test_setup(test_chain_rejects_empty_pool, setup_log),
        cmocka_unit_test_setup(test_routerbench_small, setup_log),
        cmocka_unit_test_setup(test_routerbench_bad_values, setup_log),
        cmocka_unit_test_setup(test_routerbench_model_selection, setup_log),
        cmocka_unit_test_setup(test_table_csv_costs, setup_log),
        cmocka_unit_test_setup(test_table_unpriced_models, setup_log),
        cmocka_unit_test_setup(test_table_bad_correctness, setup_log),
        cmocka_unit_test_setup(test_table_llmrouter_json, setup_log),
        cmocka_unit_test_setup(test_table_litellm_prices, setup_log),
        cmocka_unit_test_setup(test_mtbench_judgments, setup_log),
        cmocka_unit_test_setup(test_mtbench_answer_file, setup_log),
        cmocka_unit_test_setup(test_mtbench_bad_records, setup_log),
        cmocka_unit_test_setup(test_mtbench_unknown_model, setup_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
