/*
 * test_dataset_load.c - the JSON Lines loader.  Every kind of bad input is
 * rejected with the right status, line and field, and with a message that
 * names the file, the line and the offending value.  skip_invalid counts
 * and reports each skipped line.  Valid full-information and logged-only
 * files load with the values computed here by hand.
 *
 * Most inputs are loaded from memory under the name "data.jsonl"; a few go
 * through a temporary file and standard input to cover the FILE reader.
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

/* Three models: priced by tokens, priced per call (the fallback), and unpriced. */
#define HEADER                                                                                 \
    "{\"seqroute_sessions\": 1, \"cost_unit\": \"USD\", \"quality_range\": [0, 1], "           \
    "\"models\": [{\"name\": \"big\", \"input_price\": 10, \"output_price\": 30}, "            \
    "{\"name\": \"small\", \"cost_per_call\": 0.0004, \"fallback\": true}, "                   \
    "{\"name\": \"free\"}]}\n"

/* A valid one-turn session with the given id. */
#define GOOD(id)                                                                               \
    "{\"id\": \"" id "\", \"turns\": [{\"outcomes\": {\"big\": {\"quality\": 0.9, "            \
    "\"cost\": 0.012}, \"small\": {\"quality\": 0.6, \"cost\": 0.0004}}}]}\n"

/* A one-turn session whose only outcome is `outcome` for model "big". */
#define WITH_OUTCOME(outcome)                                                                  \
    "{\"id\": \"s\", \"turns\": [{\"outcomes\": {\"big\": " outcome "}}]}\n"

/* A one-turn session with the given turn object. */
#define WITH_TURN(turn) "{\"id\": \"s\", \"turns\": [" turn "]}\n"

#define assert_contains(haystack, needle)                                                      \
    do {                                                                                       \
        if (strstr((haystack), (needle)) == NULL)                                              \
            fail_msg("message \"%s\" does not contain \"%s\"", (haystack), (needle));          \
    } while (0)

static sr_status load_text(const char *text, const sr_load_options *options, sr_dataset *ds,
                           size_t *n_skipped, sr_error *err)
{
    return sr_dataset_load_buffer(text, strlen(text), "data.jsonl", options, ds, n_skipped,
                                  err);
}

/*
 * Loads `text` and checks the failure: status, line, field, that the
 * message starts with "data.jsonl:LINE:" and contains `value`, and that the
 * dataset was left empty.
 */
static void expect_error(const char *text, sr_status status, long line, const char *field,
                         const char *value)
{
    sr_dataset ds;
    sr_error err;
    char location[64];

    sr_status got = load_text(text, NULL, &ds, NULL, &err);
    if (got != status)
        fail_msg("status %d, expected %d; message: %s", got, status, err.message);
    assert_int_equal(err.status, status);
    assert_int_equal(err.line, line);
    assert_string_equal(err.field, field);
    assert_string_equal(err.path, "data.jsonl");
    if (line > 0)
        snprintf(location, sizeof(location), "data.jsonl:%ld: ", line);
    else
        snprintf(location, sizeof(location), "data.jsonl: ");
    assert_int_equal(strncmp(err.message, location, strlen(location)), 0);
    if (field[0] != '\0') {
        char quoted[256];
        snprintf(quoted, sizeof(quoted), "field '%s': ", field);
        assert_contains(err.message, quoted);
    }
    assert_contains(err.message, value);
    assert_int_equal(ds.n_sessions, 0);
    assert_int_equal(ds.n_turns, 0);
    assert_int_equal(ds.catalogue.n_models, 0);
    assert_null(ds.header_extra);
    sr_dataset_free(&ds);
}

/* ---- JSON level --------------------------------------------------------------- */

static void invalid_json_reports_column(void **state)
{
    (void)state;
    /* The stray '}' is the 24th character of line 3. */
    expect_error(HEADER GOOD("s1") "{\"id\": \"s2\", \"turns\": [}\n", SR_ERR_INVALID, 3, "",
                 "column 24");
    expect_error(HEADER GOOD("s1") "{\"id\": \"s2\", \"turns\": [}\n", SR_ERR_INVALID, 3, "",
                 "invalid JSON");
}

static void truncated_line_is_invalid_json(void **state)
{
    (void)state;
    expect_error(HEADER "{\"id\": \"s1\", \"turns\": [\n", SR_ERR_INVALID, 2, "",
                 "invalid JSON");
}

static void two_values_on_one_line_rejected(void **state)
{
    (void)state;
    expect_error(HEADER GOOD("s1") GOOD("s2") "{\"id\": \"s3\"} {\"id\": \"s4\"}\n",
                 SR_ERR_INVALID, 4, "", "end of file expected");
}

static void invalid_utf8_reported_as_utf8(void **state)
{
    (void)state;
    /* "caf\xe9" is Latin-1, not UTF-8: byte 0xe9 starts a sequence that never ends. */
    expect_error(HEADER WITH_TURN("{\"text\": \"caf\xe9\", \"outcomes\": {\"big\": "
                                  "{\"quality\": 1, \"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "", "invalid UTF-8");
    expect_error(HEADER WITH_TURN("{\"text\": \"caf\xe9\", \"outcomes\": {\"big\": "
                                  "{\"quality\": 1, \"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "", "0xe9");
}

static void nan_literal_rejected(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5, \"cost\": NaN}"), SR_ERR_INVALID, 2,
                 "", "NaN");
}

static void infinity_literal_rejected(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5, \"cost\": Infinity}"), SR_ERR_INVALID,
                 2, "", "Infinity");
}

static void overflowing_number_rejected(void **state)
{
    (void)state;
    /* 1e999 would parse to inf with strtod; it must be an error, not inf. */
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5, \"cost\": 1e999}"), SR_ERR_INVALID, 2,
                 "", "1e999");
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5, \"cost\": -1e999}"), SR_ERR_INVALID,
                 2, "", "-1e999");
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5, \"input_tokens\": "
                                     "123456789012345678901234567890}"),
                 SR_ERR_INVALID, 2, "", "too big integer");
}

static void nul_byte_rejected(void **state)
{
    (void)state;
    static const char text[] = HEADER "{\"id\": \"s\0\"}\n";
    sr_dataset ds;
    sr_error err;

    sr_status status =
        sr_dataset_load_buffer(text, sizeof(text) - 1, "data.jsonl", NULL, &ds, NULL, &err);
    assert_int_equal(status, SR_ERR_INVALID);
    assert_int_equal(err.line, 2);
    assert_contains(err.message, "data.jsonl:2: ");
    assert_contains(err.message, "NUL byte at byte 10");
    sr_dataset_free(&ds);
}

/* The escape \u0000 is named in the message, not as jansson's flag name. */
static void nul_escape_rejected(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;

    expect_error(HEADER WITH_TURN("{\"text\": \"a\\u0000b\", \"outcomes\": {\"big\": "
                                  "{\"quality\": 0.9, \"cost\": 0.01}}}"),
                 SR_ERR_INVALID, 2, "", "\\u0000");
    assert_int_equal(load_text(HEADER WITH_TURN("{\"text\": \"a\\u0000b\", \"outcomes\": "
                                                "{\"big\": {\"quality\": 0.9, \"cost\": "
                                                "0.01}}}"),
                               NULL, &ds, NULL, &err),
                     SR_ERR_INVALID);
    if (strstr(err.message, "JSON_ALLOW_NUL") != NULL)
        fail_msg("message \"%s\" names a jansson flag", err.message);
    assert_contains(err.message, "remove");
    sr_dataset_free(&ds);
}

/* Nesting beyond the parser's depth limit says so and what to do. */
static void deep_nesting_rejected(void **state)
{
    (void)state;
    enum { DEPTH = 5000 }; /* beyond jansson's limit of 2048 levels */
    const char prefix[] = HEADER "{\"id\": \"s\", \"x_deep\": ";
    const char suffix[] = ", \"turns\": [{\"outcomes\": {\"big\": {\"quality\": 0.9, "
                          "\"cost\": 0.01}}}]}\n";
    const size_t size = sizeof(prefix) + 2 * DEPTH + sizeof(suffix);
    char *text = malloc(size);
    assert_non_null(text);
    size_t n = 0;
    memcpy(text, prefix, sizeof(prefix) - 1);
    n += sizeof(prefix) - 1;
    memset(text + n, '[', DEPTH);
    n += DEPTH;
    memset(text + n, ']', DEPTH);
    n += DEPTH;
    memcpy(text + n, suffix, sizeof(suffix));

    sr_dataset ds;
    sr_error err;
    assert_int_equal(load_text(text, NULL, &ds, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 2);
    assert_contains(err.message, "nested");
    assert_contains(err.message, "2048");
    sr_dataset_free(&ds);
    free(text);
}

static void duplicate_json_key_rejected(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5, \"cost\": 1, \"cost\": 2}"),
                 SR_ERR_INVALID, 2, "", "duplicate object key");
}

/* ---- header ------------------------------------------------------------------- */

static void header_not_object(void **state)
{
    (void)state;
    expect_error("[1, 2]\n" GOOD("s1"), SR_ERR_INVALID, 1, "", "an array of 2 values");
}

static void header_missing(void **state)
{
    (void)state;
    expect_error(GOOD("s1") GOOD("s2"), SR_ERR_INVALID, 1, "seqroute_sessions",
                 "header missing");
    expect_error("{\"models\": [{\"name\": \"m\"}]}\n", SR_ERR_INVALID, 1, "seqroute_sessions",
                 "header missing");
}

static void empty_input_has_no_header(void **state)
{
    (void)state;
    expect_error("", SR_ERR_INVALID, 0, "seqroute_sessions", "header missing");
    /* Blank lines are skipped, so this input is empty too; the error sits after line 3. */
    expect_error("\n  \n\t\r\n", SR_ERR_INVALID, 3, "seqroute_sessions", "header missing");
}

static void header_wrong_version(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 2, \"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "seqroute_sessions", "format version 2");
    expect_error("{\"seqroute_sessions\": \"1\", \"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "seqroute_sessions", "the string \"1\"");
}

static void header_without_models(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"models\": []}\n", SR_ERR_INVALID, 1, "models",
                 "no models");
    expect_error("{\"seqroute_sessions\": 1}\n", SR_ERR_INVALID, 1, "models", "no 'models'");
    expect_error("{\"seqroute_sessions\": 1, \"models\": {\"name\": \"m\"}}\n", SR_ERR_INVALID,
                 1, "models", "an object");
}

static void duplicate_model_names(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"big\"}, "
                 "{\"name\": \"small\"}, {\"name\": \"big\"}]}\n",
                 SR_ERR_INVALID, 1, "models[2].name", "'big' (also models[0])");
}

static void model_price_checks(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"m\", "
                 "\"cost_per_call\": -0.25}]}\n",
                 SR_ERR_INVALID, 1, "models[0].cost_per_call", "-0.25");
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"m\", "
                 "\"input_price\": 3}]}\n",
                 SR_ERR_INVALID, 1, "models[0].output_price", "only one of");
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"m\", "
                 "\"input_price\": \"3\", \"output_price\": 4}]}\n",
                 SR_ERR_INVALID, 1, "models[0].input_price", "the string \"3\"");
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"m\", \"fallback\": 1}]}\n",
                 SR_ERR_INVALID, 1, "models[0].fallback", "the number 1");
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"cost_per_call\": 1}]}\n",
                 SR_ERR_INVALID, 1, "models[0].name", "no 'name'");
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"m\", \"price\": 1}]}\n",
                 SR_ERR_INVALID, 1, "models[0].price", "unknown key 'price'");
}

static void second_fallback_rejected(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"a\", \"fallback\": true}, "
                 "{\"name\": \"b\", \"fallback\": true}]}\n",
                 SR_ERR_INVALID, 1, "models[1].fallback", "'b'");
}

static void quality_range_checks(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"quality_range\": [1, 1], "
                 "\"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "quality_range", "[1, 1]");
    expect_error("{\"seqroute_sessions\": 1, \"quality_range\": [0], "
                 "\"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "quality_range", "an array of 1 values");
    expect_error("{\"seqroute_sessions\": 1, \"quality_range\": [0, \"ten\"], "
                 "\"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "quality_range[1]", "\"ten\"");
}

static void header_embedding_dim_checks(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"embedding_dim\": 0, "
                 "\"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "embedding_dim", "embedding_dim 0");
    expect_error("{\"seqroute_sessions\": 1, \"embedding_dim\": 2.5, "
                 "\"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "embedding_dim", "2.5");
}

static void empty_cost_unit_rejected(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"cost_unit\": \"\", "
                 "\"models\": [{\"name\": \"m\"}]}\n",
                 SR_ERR_INVALID, 1, "cost_unit", "empty");
}

/* ---- sessions ----------------------------------------------------------------- */

static void unknown_model_in_outcomes(void **state)
{
    (void)state;
    expect_error(HEADER GOOD("s1")
                 "{\"id\": \"s2\", \"turns\": [{\"outcomes\": {\"gpt5\": {\"quality\": 1, "
                 "\"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 3, "turns[0].outcomes.gpt5", "unknown model 'gpt5'");
    expect_error(HEADER "{\"id\": \"s2\", \"turns\": [{\"outcomes\": {\"gpt5\": {\"quality\": 1, "
                        "\"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 2, "turns[0].outcomes.gpt5", "big, small, free");
}

static void unknown_model_in_logged(void **state)
{
    (void)state;
    expect_error(HEADER WITH_TURN("{\"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1}}, "
                                  "\"logged\": \"tiny\"}"),
                 SR_ERR_INVALID, 2, "turns[0].logged", "unknown model 'tiny'");
    expect_error(HEADER WITH_TURN("{\"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1}}, "
                                  "\"logged\": 3}"),
                 SR_ERR_INVALID, 2, "turns[0].logged", "the number 3");
}

static void logged_model_without_outcome(void **state)
{
    (void)state;
    expect_error(HEADER WITH_TURN("{\"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1}}, "
                                  "\"logged\": \"small\"}"),
                 SR_ERR_INVALID, 2, "turns[0].logged", "'small' has no outcome");
}

static void negative_cost_rejected(void **state)
{
    (void)state;
    expect_error(HEADER GOOD("s1") GOOD("s2") GOOD("s3") GOOD("s4") GOOD("s5")
                 "{\"id\": \"s6\", \"turns\": [{\"outcomes\": {\"big\": {\"quality\": 1, "
                 "\"cost\": 1}}}, {\"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1}}}, "
                 "{\"outcomes\": {\"small\": {\"quality\": 0.5, \"cost\": -0.5}}}]}\n",
                 SR_ERR_INVALID, 7, "turns[2].outcomes.small.cost", "cost -0.5 is negative");
}

static void negative_tokens_and_budget_rejected(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5, \"input_tokens\": -3, "
                                     "\"output_tokens\": 4}"),
                 SR_ERR_INVALID, 2, "turns[0].outcomes.big.input_tokens", "-3");
    expect_error(HEADER "{\"id\": \"s\", \"budget\": -0.01, \"turns\": [{\"outcomes\": "
                        "{\"big\": {\"quality\": 1, \"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 2, "budget", "budget -0.01 is negative");
}

static void quality_outside_range(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 1.5, \"cost\": 0.1}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.quality", "quality 1.5 is outside");
    expect_error(HEADER WITH_OUTCOME("{\"quality\": -0.125, \"cost\": 0.1}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.quality", "-0.125");
    /* A declared range of [1, 10] makes 0.5 invalid and 10 valid. */
    expect_error("{\"seqroute_sessions\": 1, \"quality_range\": [1, 10], \"models\": "
                 "[{\"name\": \"big\"}]}\n" WITH_OUTCOME("{\"quality\": 0.5, \"cost\": 0.1}"),
                 SR_ERR_INVALID, 2, "turns[0].outcomes.big.quality", "[1, 10]");
}

static void quality_of_wrong_type(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": \"0.9\", \"cost\": 0.1}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.quality", "the string \"0.9\"");
    expect_error(HEADER WITH_OUTCOME("{\"quality\": null, \"cost\": 0.1}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.quality", "null");
    expect_error(HEADER WITH_OUTCOME("{\"cost\": 0.1}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.quality", "no 'quality'");
}

static void cost_of_wrong_type(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.9, \"cost\": \"cheap\"}"), SR_ERR_INVALID,
                 2, "turns[0].outcomes.big.cost", "the string \"cheap\"");
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.9, \"cost\": [1]}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.cost", "an array of 1 values");
}

static void embedding_length_from_header(void **state)
{
    (void)state;
    expect_error("{\"seqroute_sessions\": 1, \"embedding_dim\": 3, \"models\": "
                 "[{\"name\": \"big\"}]}\n" WITH_TURN(
                     "{\"embedding\": [1, 2], \"outcomes\": {\"big\": {\"quality\": 1, "
                     "\"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "turns[0].embedding", "2 values but the header sets "
                                                          "embedding_dim 3");
}

static void embedding_length_from_first_seen(void **state)
{
    (void)state;
    expect_error(HEADER
                 "{\"id\": \"a\", \"turns\": [{\"embedding\": [1, 2, 3], \"outcomes\": "
                 "{\"big\": {\"quality\": 1, \"cost\": 1}}}]}\n"
                 "\n"
                 "{\"id\": \"b\", \"turns\": [{\"outcomes\": {\"big\": {\"quality\": 1, "
                 "\"cost\": 1}}}, {\"embedding\": [1, 2, 3, 4], \"outcomes\": {\"big\": "
                 "{\"quality\": 1, \"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 4, "turns[1].embedding", "4 values but the first embedding "
                                                          "(line 2) has 3");
}

static void embedding_with_non_numbers(void **state)
{
    (void)state;
    expect_error(HEADER WITH_TURN("{\"embedding\": [0.5, \"x\", 1], \"outcomes\": {\"big\": "
                                  "{\"quality\": 1, \"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "turns[0].embedding[1]", "the string \"x\"");
    expect_error(HEADER WITH_TURN("{\"embedding\": [0.5, 1e39], \"outcomes\": {\"big\": "
                                  "{\"quality\": 1, \"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "turns[0].embedding[1]", "1e+39");
    expect_error(HEADER WITH_TURN("{\"embedding\": [], \"outcomes\": {\"big\": "
                                  "{\"quality\": 1, \"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "turns[0].embedding", "empty");
    expect_error(HEADER WITH_TURN("{\"embedding\": \"0.5 1\", \"outcomes\": {\"big\": "
                                  "{\"quality\": 1, \"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "turns[0].embedding", "the string \"0.5 1\"");
}

static void empty_session_rejected(void **state)
{
    (void)state;
    expect_error(HEADER "{\"id\": \"lonely\", \"turns\": []}\n", SR_ERR_INVALID, 2, "turns",
                 "session 'lonely' is empty");
    expect_error(HEADER "{\"id\": \"lonely\"}\n", SR_ERR_INVALID, 2, "turns",
                 "'lonely' has no 'turns'");
}

static void missing_id_rejected(void **state)
{
    (void)state;
    expect_error(HEADER "{\"turns\": [{\"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 2, "id", "no 'id'");
    expect_error(HEADER "{\"id\": 7, \"turns\": [{\"outcomes\": {\"big\": {\"quality\": 1, "
                        "\"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 2, "id", "the number 7");
    expect_error(HEADER "{\"id\": \"\", \"turns\": [{\"outcomes\": {\"big\": {\"quality\": 1, "
                        "\"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 2, "id", "empty");
}

static void duplicate_session_id(void **state)
{
    (void)state;
    expect_error(HEADER GOOD("a") GOOD("b") "\n" GOOD("a"), SR_ERR_INVALID, 5, "id",
                 "duplicate session id 'a' (first used on line 2)");
}

static void outcome_without_cost_or_tokens(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"quality\": 0.5}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big", "neither 'cost' nor token counts");
}

static void tokens_without_catalogue_price(void **state)
{
    (void)state;
    expect_error(HEADER WITH_TURN("{\"outcomes\": {\"free\": {\"quality\": 0.5, "
                                  "\"input_tokens\": 10, \"output_tokens\": 20}}}"),
                 SR_ERR_INVALID, 2, "turns[0].outcomes.free", "no price");
}

static void priced_cost_overflow_rejected(void **state)
{
    (void)state;
    /* 1e300 tokens at 10 per 1M tokens is finite; at 1e300 per 1M tokens it is inf. */
    expect_error("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"big\", \"input_price\": "
                 "1e300, \"output_price\": 1}]}\n" WITH_OUTCOME(
                     "{\"quality\": 0.5, \"input_tokens\": 1e300}"),
                 SR_ERR_INVALID, 2, "turns[0].outcomes.big.cost", "inf");
}

static void unknown_keys_rejected(void **state)
{
    (void)state;
    expect_error(HEADER WITH_OUTCOME("{\"qualty\": 0.5, \"cost\": 1}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.qualty", "did you mean 'quality'?");
    expect_error(HEADER WITH_OUTCOME("{\"qualty\": 0.5, \"cost\": 1}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes.big.qualty",
                 "valid keys are quality, cost, input_tokens, output_tokens");
    expect_error(HEADER WITH_TURN("{\"prompt\": \"hi\", \"outcomes\": {\"big\": "
                                  "{\"quality\": 1, \"cost\": 1}}}"),
                 SR_ERR_INVALID, 2, "turns[0].prompt", "unknown key 'prompt'");
    expect_error(HEADER "{\"id\": \"s\", \"budjet\": 1, \"turns\": [{\"outcomes\": {\"big\": "
                        "{\"quality\": 1, \"cost\": 1}}}]}\n",
                 SR_ERR_INVALID, 2, "budjet", "did you mean 'budget'?");
}

static void user_keys_accepted(void **state)
{
    (void)state;
    const char *text = HEADER "{\"id\": \"s\", \"x_tenant\": \"acme\", \"turns\": [{\"x_note\": "
                              "[1, 2], \"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1, "
                              "\"x_judge\": \"gpt-4\"}}}]}\n";
    sr_dataset ds;
    sr_error err;

    assert_int_equal(load_text(text, NULL, &ds, NULL, &err), SR_OK);
    assert_int_equal(ds.n_sessions, 1);
    assert_true(sr_dataset_outcome(&ds, 0, 0)->present);
    sr_dataset_free(&ds);
}

static void turn_without_outcomes(void **state)
{
    (void)state;
    expect_error(HEADER WITH_TURN("{\"text\": \"hi\", \"outcomes\": {}}"), SR_ERR_INVALID, 2,
                 "turns[0].outcomes", "turn has no outcomes");
    expect_error(HEADER WITH_TURN("{\"text\": \"hi\"}"), SR_ERR_INVALID, 2, "turns[0].outcomes",
                 "no 'outcomes'");
    expect_error(HEADER WITH_TURN("{\"outcomes\": [1]}"), SR_ERR_INVALID, 2, "turns[0].outcomes",
                 "an array of 1 values");
}

static void session_not_object(void **state)
{
    (void)state;
    expect_error(HEADER "\"s1\"\n", SR_ERR_INVALID, 2, "", "expected near '\"s1\"'");
    expect_error(HEADER WITH_TURN("42"), SR_ERR_INVALID, 2, "turns[0]", "the number 42");
}

static void too_many_turns_rejected(void **state)
{
    (void)state;
    const char *turn = "{\"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1}}},";
    size_t turn_len = strlen(turn);
    size_t size = strlen(HEADER) + 64 + (SR_MAX_TURNS + 1) * turn_len;
    char *text = malloc(size);
    assert_non_null(text);

    char *p = text + sprintf(text, "%s{\"id\": \"long\", \"turns\": [", HEADER);
    for (int t = 0; t <= SR_MAX_TURNS; t++) {
        memcpy(p, turn, turn_len);
        p += turn_len;
    }
    strcpy(p - 1, "]}\n");
    expect_error(text, SR_ERR_INVALID, 2, "turns", "4097 turns; the limit is 4096");
    free(text);
}

static void overlong_line_rejected(void **state)
{
    (void)state;
    /* One line one byte over the cap; the cap check runs before any parsing. */
    size_t header_len = strlen(HEADER);
    size_t size = header_len + (size_t)SR_MAX_LINE_BYTES + 1;
    char *text = malloc(size);
    assert_non_null(text);
    memcpy(text, HEADER, header_len);
    memset(text + header_len, ' ', size - header_len);

    sr_dataset ds;
    sr_error err;
    sr_status status =
        sr_dataset_load_buffer(text, size, "data.jsonl", NULL, &ds, NULL, &err);
    assert_int_equal(status, SR_ERR_NOMEM);
    assert_int_equal(err.line, 2);
    assert_contains(err.message, "data.jsonl:2: ");
    assert_contains(err.message, "longer than the limit of 268435456 bytes");
    free(text);
}

/* ---- skip_invalid -------------------------------------------------------------- */

typedef struct skip_log {
    long lines[8];
    char fields[8][128];
    int count;
} skip_log;

static void record_skip(const sr_error *reason, void *user_data)
{
    skip_log *log = user_data;
    if (log->count < 8) {
        log->lines[log->count] = reason->line;
        snprintf(log->fields[log->count], sizeof(log->fields[0]), "%s", reason->field);
    }
    log->count++;
}

static void skip_invalid_counts_and_reports(void **state)
{
    (void)state;
    const char *text = HEADER GOOD("a")                                 /* line 2 */
        "{\"id\": \"b\", \"turns\": [}\n"                               /* 3: invalid JSON */
        WITH_OUTCOME("{\"quality\": 2, \"cost\": 1}")                   /* 4: quality */
        "\n"                                                            /* 5: blank */
        GOOD("a")                                                       /* 6: duplicate */
        GOOD("c");                                                      /* 7 */
    skip_log log = {0};
    sr_load_options options = {.skip_invalid = true, .on_skip = record_skip, .user_data = &log};
    sr_dataset ds;
    sr_error err;
    size_t skipped = 99;

    assert_int_equal(load_text(text, &options, &ds, &skipped, &err), SR_OK);
    assert_int_equal(skipped, 3);
    assert_int_equal(log.count, 3);
    assert_int_equal(log.lines[0], 3);
    assert_int_equal(log.lines[1], 4);
    assert_int_equal(log.lines[2], 6);
    assert_string_equal(log.fields[0], "");
    assert_string_equal(log.fields[1], "turns[0].outcomes.big.quality");
    assert_string_equal(log.fields[2], "id");
    assert_int_equal(ds.n_sessions, 2);
    assert_string_equal(ds.sessions[0].id, "a");
    assert_string_equal(ds.sessions[1].id, "c");
    assert_int_equal(ds.n_turns, 2);
    assert_int_equal(err.status, SR_OK);
    sr_dataset_free(&ds);
}

static void skip_invalid_without_callback_still_counts(void **state)
{
    (void)state;
    const char *text = HEADER GOOD("a") "[]\n" GOOD("b") "{}\n";
    sr_load_options options = {.skip_invalid = true};
    sr_dataset ds;
    size_t skipped = 0;

    assert_int_equal(load_text(text, &options, &ds, &skipped, NULL), SR_OK);
    assert_int_equal(skipped, 2);
    assert_int_equal(ds.n_sessions, 2);
    sr_dataset_free(&ds);
}

static void skip_invalid_bad_header_is_fatal(void **state)
{
    (void)state;
    skip_log log = {0};
    sr_load_options options = {.skip_invalid = true, .on_skip = record_skip, .user_data = &log};
    sr_dataset ds;
    sr_error err;
    size_t skipped = 0;

    sr_status status = load_text("{\"seqroute_sessions\": 1, \"models\": []}\n" GOOD("a"),
                                 &options, &ds, &skipped, &err);
    assert_int_equal(status, SR_ERR_INVALID);
    assert_int_equal(err.line, 1);
    assert_string_equal(err.field, "models");
    assert_int_equal(log.count, 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(ds.n_sessions, 0);
    sr_dataset_free(&ds);
}

static void skip_invalid_drops_half_built_session(void **state)
{
    (void)state;
    /*
     * Line 2 sets an embedding of length 4 on its first turn, then fails on
     * its second turn.  After it is skipped, nothing of it may remain: not
     * its turns and not the embedding length it set, so line 3's length-3
     * embeddings load.
     */
    const char *text = HEADER
        "{\"id\": \"bad\", \"turns\": [{\"embedding\": [1, 2, 3, 4], \"text\": \"t\", "
        "\"outcomes\": {\"big\": {\"quality\": 1, \"cost\": 1}}}, {\"outcomes\": {\"big\": "
        "{\"quality\": 5, \"cost\": 1}}}]}\n"
        "{\"id\": \"good\", \"turns\": [{\"embedding\": [1, 2, 3], \"outcomes\": {\"big\": "
        "{\"quality\": 1, \"cost\": 1}}}]}\n"
        "{\"id\": \"bad\", \"turns\": [{\"embedding\": [7, 8, 9], \"outcomes\": {\"big\": "
        "{\"quality\": 0, \"cost\": 0}}}]}\n";
    sr_load_options options = {.skip_invalid = true};
    sr_dataset ds;
    sr_error err;
    size_t skipped = 0;

    assert_int_equal(load_text(text, &options, &ds, &skipped, &err), SR_OK);
    assert_int_equal(skipped, 1);
    assert_int_equal(ds.n_sessions, 2);
    assert_int_equal(ds.n_turns, 2);
    assert_string_equal(ds.sessions[0].id, "good");
    assert_string_equal(ds.sessions[1].id, "bad");
    assert_int_equal(ds.catalogue.embedding_dim, 3);
    assert_true(ds.turns[1].embedding[2] == 9.0f);
    sr_dataset_free(&ds);
}

/* ---- valid files --------------------------------------------------------------- */

static void full_information_loads(void **state)
{
    (void)state;
    const char *text =
        "{\"seqroute_sessions\": 1, \"cost_unit\": \"USD\", \"quality_range\": [0, 1], "
        "\"models\": [{\"name\": \"gpt-4-1106-preview\", \"input_price\": 10, \"output_price\": "
        "30}, {\"name\": \"mixtral\", \"cost_per_call\": 0.0004, \"fallback\": true}], "
        "\"source\": \"unit test\", \"chaining\": {\"turns\": 2, \"seed\": 7}}\r\n"
        "{\"id\": \"s1\", \"budget\": 0.05, \"turns\": [{\"text\": \"h\xc3\xa9llo\", "
        "\"source_id\": \"q17\", \"outcomes\": {\"gpt-4-1106-preview\": {\"quality\": 0.9, "
        "\"cost\": 0.012}, \"mixtral\": {\"quality\": 0.6, \"input_tokens\": 120, "
        "\"output_tokens\": 300}}, \"logged\": \"mixtral\"}, {\"outcomes\": "
        "{\"gpt-4-1106-preview\": {\"quality\": 1, \"input_tokens\": 100, \"output_tokens\": "
        "50}, \"mixtral\": {\"quality\": 0, \"cost\": 0}}}]}\r\n";
    sr_dataset ds;
    sr_error err;

    assert_int_equal(load_text(text, NULL, &ds, NULL, &err), SR_OK);
    assert_int_equal(ds.catalogue.n_models, 2);
    assert_string_equal(ds.catalogue.models[0].name, "gpt-4-1106-preview");
    assert_true(ds.catalogue.models[0].input_price == 10.0);
    assert_true(ds.catalogue.models[0].output_price == 30.0);
    assert_true(isnan(ds.catalogue.models[0].cost_per_call));
    assert_false(ds.catalogue.models[0].fallback);
    assert_true(ds.catalogue.models[1].cost_per_call == 0.0004);
    assert_true(ds.catalogue.models[1].fallback);
    assert_string_equal(ds.catalogue.cost_unit, "USD");
    assert_true(ds.catalogue.quality_min == 0.0);
    assert_true(ds.catalogue.quality_max == 1.0);
    assert_int_equal(ds.catalogue.embedding_dim, 0);
    assert_string_equal(ds.header_extra, "{\"source\":\"unit test\",\"chaining\":{\"turns\":2,"
                                         "\"seed\":7}}");

    assert_int_equal(ds.n_sessions, 1);
    assert_string_equal(ds.sessions[0].id, "s1");
    assert_true(ds.sessions[0].budget == 0.05);
    assert_int_equal(ds.sessions[0].n_turns, 2);
    assert_string_equal(ds.turns[0].text, "h\xc3\xa9llo");
    assert_string_equal(ds.turns[0].source_id, "q17");
    assert_int_equal(ds.turns[0].logged, 1);
    assert_null(ds.turns[1].text);
    assert_int_equal(ds.turns[1].logged, -1);

    /* Costs: given, per call (0.0004), and 100 * 10 / 1e6 + 50 * 30 / 1e6 = 0.0025. */
    assert_true(sr_dataset_outcome(&ds, 0, 0)->cost == 0.012);
    assert_true(sr_dataset_outcome(&ds, 0, 1)->cost == 0.0004);
    assert_true(sr_dataset_outcome(&ds, 0, 1)->input_tokens == 120.0);
    assert_true(sr_dataset_outcome(&ds, 0, 1)->output_tokens == 300.0);
    assert_true(fabs(sr_dataset_outcome(&ds, 1, 0)->cost - 0.0025) < 1e-15);
    assert_true(sr_dataset_outcome(&ds, 1, 1)->quality == 0.0);
    assert_true(isnan(sr_dataset_outcome(&ds, 0, 0)->input_tokens));
    assert_true(sr_dataset_is_full_information(&ds));
    sr_dataset_free(&ds);
}

static void logged_only_loads(void **state)
{
    (void)state;
    const char *text =
        "\xEF\xBB\xBF{\"seqroute_sessions\": 1, \"cost_unit\": \"USD\", \"models\": [{\"name\": "
        "\"big\", \"input_price\": 10, \"output_price\": 30}, {\"name\": \"small\", "
        "\"cost_per_call\": 0.0004, \"fallback\": true}]}\n"
        "{\"id\": \"u1\", \"turns\": [{\"embedding\": [0.5, -1], \"outcomes\": {\"small\": "
        "{\"quality\": 0.25, \"cost\": 0.0004}}, \"logged\": \"small\"}, {\"embedding\": [2, 0], "
        "\"outcomes\": {\"big\": {\"quality\": 0.75, \"input_tokens\": 1000, "
        "\"output_tokens\": 2000}}, \"logged\": \"big\"}]}";
    sr_dataset ds;
    sr_error err;

    assert_int_equal(load_text(text, NULL, &ds, NULL, &err), SR_OK);
    assert_int_equal(ds.n_sessions, 1);
    assert_int_equal(ds.n_turns, 2);
    assert_false(sr_dataset_is_full_information(&ds));
    assert_int_equal(ds.turns[0].logged, 1);
    assert_int_equal(ds.turns[1].logged, 0);
    assert_false(sr_dataset_outcome(&ds, 0, 0)->present);
    assert_true(isnan(sr_dataset_outcome(&ds, 0, 0)->quality));
    assert_true(sr_dataset_outcome(&ds, 0, 1)->present);
    assert_true(sr_dataset_outcome(&ds, 1, 0)->present);
    assert_false(sr_dataset_outcome(&ds, 1, 1)->present);
    /* 1000 * 10 / 1e6 + 2000 * 30 / 1e6 = 0.07 */
    assert_true(fabs(sr_dataset_outcome(&ds, 1, 0)->cost - 0.07) < 1e-15);
    assert_int_equal(ds.catalogue.embedding_dim, 2);
    assert_true(ds.turns[0].embedding[0] == 0.5f);
    assert_true(ds.turns[0].embedding[1] == -1.0f);
    assert_true(ds.turns[1].embedding[0] == 2.0f);
    assert_true(isnan(ds.sessions[0].budget));
    assert_null(ds.header_extra);
    sr_dataset_free(&ds);
}

static void header_only_file_is_empty_dataset(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;

    assert_int_equal(load_text("{\"seqroute_sessions\": 1, \"models\": [{\"name\": \"m\"}]}",
                               NULL, &ds, NULL, &err),
                     SR_OK);
    assert_int_equal(ds.n_sessions, 0);
    assert_int_equal(ds.catalogue.n_models, 1);
    assert_string_equal(ds.catalogue.cost_unit, "units");
    sr_dataset_free(&ds);
}

static void drop_text_option(void **state)
{
    (void)state;
    sr_load_options options = {.drop_text = true};
    sr_dataset ds;
    sr_error err;

    assert_int_equal(load_text(HEADER WITH_TURN("{\"text\": \"secret\", \"outcomes\": {\"big\": "
                                                "{\"quality\": 1, \"cost\": 1}}}"),
                               &options, &ds, NULL, &err),
                     SR_OK);
    assert_int_equal(ds.n_turns, 1);
    assert_null(ds.turns[0].text);
    sr_dataset_free(&ds);
}

/* ---- files and standard input ----------------------------------------------------- */

static void write_temp(char *path, size_t path_size, const char *text)
{
    snprintf(path, path_size, "/tmp/test_dataset_load_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void file_load_reports_path(void **state)
{
    (void)state;
    char path[64];
    char location[96];
    sr_dataset ds;
    sr_error err;

    write_temp(path, sizeof(path), HEADER GOOD("a") WITH_OUTCOME("{\"quality\": 0.5, "
                                                                 "\"cost\": -2}"));
    assert_int_equal(sr_dataset_load(path, NULL, &ds, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 3);
    assert_string_equal(err.field, "turns[0].outcomes.big.cost");
    snprintf(location, sizeof(location), "%s:3: ", path);
    assert_contains(err.message, location);
    assert_contains(err.message, "cost -2 is negative");
    assert_int_equal(ds.n_sessions, 0);
    unlink(path);
}

static void file_load_valid(void **state)
{
    (void)state;
    char path[64];
    sr_dataset ds;
    sr_error err;

    write_temp(path, sizeof(path), HEADER GOOD("a") "\n\n" GOOD("b"));
    assert_int_equal(sr_dataset_load(path, NULL, &ds, NULL, &err), SR_OK);
    assert_int_equal(ds.n_sessions, 2);
    assert_string_equal(ds.sessions[1].id, "b");
    sr_dataset_free(&ds);
    unlink(path);
}

static void missing_file_is_io_error(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;

    assert_int_equal(sr_dataset_load("/nonexistent/sessions.jsonl", NULL, &ds, NULL, &err),
                     SR_ERR_IO);
    assert_string_equal(err.path, "/nonexistent/sessions.jsonl");
    assert_contains(err.message, "/nonexistent/sessions.jsonl");
    assert_contains(err.message, "No such file");
    assert_int_equal(ds.n_sessions, 0);
}

static void stdin_is_dash(void **state)
{
    (void)state;
    char path[64];
    sr_dataset ds;
    sr_error err;

    write_temp(path, sizeof(path), HEADER GOOD("a") "{\"id\": \"b\"}\n");
    assert_non_null(freopen(path, "r", stdin));
    assert_int_equal(sr_dataset_load("-", NULL, &ds, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(err.line, 3);
    assert_contains(err.message, "<stdin>:3: ");
    unlink(path);
}

static void fixtures_load(void **state)
{
    (void)state;
    const char *dir = getenv("SEQROUTE_TEST_DATA");
    if (dir == NULL) {
        print_message("SEQROUTE_TEST_DATA is not set; skipping the fixture files\n");
        skip();
    }
    char path[1024];
    sr_dataset ds;
    sr_error err;

    snprintf(path, sizeof(path), "%s/format/full.jsonl", dir);
    assert_int_equal(sr_dataset_load(path, NULL, &ds, NULL, &err), SR_OK);
    assert_int_equal(ds.n_sessions, 2);
    assert_true(sr_dataset_is_full_information(&ds));
    sr_dataset_free(&ds);

    snprintf(path, sizeof(path), "%s/format/logged.jsonl", dir);
    assert_int_equal(sr_dataset_load(path, NULL, &ds, NULL, &err), SR_OK);
    assert_int_equal(ds.n_sessions, 2);
    assert_false(sr_dataset_is_full_information(&ds));
    assert_int_equal(ds.catalogue.embedding_dim, 3);
    sr_dataset_free(&ds);
}

/* ---- scale ------------------------------------------------------------------------ */

static void duplicate_found_among_100k_sessions(void **state)
{
    (void)state;
    enum { N_SESSIONS = 100000 };
    const size_t line_max = 128;
    size_t size = strlen(HEADER) + (N_SESSIONS + 1) * line_max;
    char *text = malloc(size);
    assert_non_null(text);

    /* Session "s<i>" sits on line i + 2; the extra last line repeats "s17" (line 19). */
    char *p = text + sprintf(text, "%s", HEADER);
    for (int i = 0; i <= N_SESSIONS; i++) {
        int id = i < N_SESSIONS ? i : 17;
        p += sprintf(p,
                     "{\"id\":\"s%d\",\"turns\":[{\"outcomes\":{\"small\":{\"quality\":0.5,"
                     "\"cost\":0.001}}}]}\n",
                     id);
    }

    sr_dataset ds;
    sr_error err;
    sr_status status = sr_dataset_load_buffer(text, (size_t)(p - text), "big.jsonl", NULL, &ds,
                                              NULL, &err);
    assert_int_equal(status, SR_ERR_INVALID);
    assert_int_equal(err.line, N_SESSIONS + 2);
    assert_string_equal(err.field, "id");
    char location[64];
    snprintf(location, sizeof(location), "big.jsonl:%d: ", N_SESSIONS + 2);
    assert_contains(err.message, location);
    assert_contains(err.message, "duplicate session id 's17' (first used on line 19)");

    /* Without the last line the same file loads completely. */
    char *last = text + (p - text) - 1;
    while (last > text && last[-1] != '\n')
        last--;
    status = sr_dataset_load_buffer(text, (size_t)(last - text), "big.jsonl", NULL, &ds, NULL,
                                    &err);
    assert_int_equal(status, SR_OK);
    assert_int_equal(ds.n_sessions, N_SESSIONS);
    char last_id[32];
    snprintf(last_id, sizeof(last_id), "s%d", N_SESSIONS - 1);
    assert_string_equal(ds.sessions[N_SESSIONS - 1].id, last_id);
    sr_dataset_free(&ds);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invalid_json_reports_column),
        cmocka_unit_test(truncated_line_is_invalid_json),
        cmocka_unit_test(two_values_on_one_line_rejected),
        cmocka_unit_test(invalid_utf8_reported_as_utf8),
        cmocka_unit_test(nan_literal_rejected),
        cmocka_unit_test(infinity_literal_rejected),
        cmocka_unit_test(overflowing_number_rejected),
        cmocka_unit_test(nul_byte_rejected),
        cmocka_unit_test(nul_escape_rejected),
        cmocka_unit_test(deep_nesting_rejected),
        cmocka_unit_test(duplicate_json_key_rejected),
        cmocka_unit_test(header_not_object),
        cmocka_unit_test(header_missing),
        cmocka_unit_test(empty_input_has_no_header),
        cmocka_unit_test(header_wrong_version),
        cmocka_unit_test(header_without_models),
        cmocka_unit_test(duplicate_model_names),
        cmocka_unit_test(model_price_checks),
        cmocka_unit_test(second_fallback_rejected),
        cmocka_unit_test(quality_range_checks),
        cmocka_unit_test(header_embedding_dim_checks),
        cmocka_unit_test(empty_cost_unit_rejected),
        cmocka_unit_test(unknown_model_in_outcomes),
        cmocka_unit_test(unknown_model_in_logged),
        cmocka_unit_test(logged_model_without_outcome),
        cmocka_unit_test(negative_cost_rejected),
        cmocka_unit_test(negative_tokens_and_budget_rejected),
        cmocka_unit_test(quality_outside_range),
        cmocka_unit_test(quality_of_wrong_type),
        cmocka_unit_test(cost_of_wrong_type),
        cmocka_unit_test(embedding_length_from_header),
        cmocka_unit_test(embedding_length_from_first_seen),
        cmocka_unit_test(embedding_with_non_numbers),
        cmocka_unit_test(empty_session_rejected),
        cmocka_unit_test(missing_id_rejected),
        cmocka_unit_test(duplicate_session_id),
        cmocka_unit_test(outcome_without_cost_or_tokens),
        cmocka_unit_test(tokens_without_catalogue_price),
        cmocka_unit_test(priced_cost_overflow_rejected),
        cmocka_unit_test(unknown_keys_rejected),
        cmocka_unit_test(user_keys_accepted),
        cmocka_unit_test(turn_without_outcomes),
        cmocka_unit_test(session_not_object),
        cmocka_unit_test(too_many_turns_rejected),
        cmocka_unit_test(overlong_line_rejected),
        cmocka_unit_test(skip_invalid_counts_and_reports),
        cmocka_unit_test(skip_invalid_without_callback_still_counts),
        cmocka_unit_test(skip_invalid_bad_header_is_fatal),
        cmocka_unit_test(skip_invalid_drops_half_built_session),
        cmocka_unit_test(full_information_loads),
        cmocka_unit_test(logged_only_loads),
        cmocka_unit_test(header_only_file_is_empty_dataset),
        cmocka_unit_test(drop_text_option),
        cmocka_unit_test(file_load_reports_path),
        cmocka_unit_test(file_load_valid),
        cmocka_unit_test(missing_file_is_io_error),
        cmocka_unit_test(stdin_is_dash),
        cmocka_unit_test(fixtures_load),
        cmocka_unit_test(duplicate_found_among_100k_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
