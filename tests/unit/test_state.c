/*
 * test_state.c - the state encoder: layout and values of every option,
 * computed by hand, normalisation, the negative-budget rule, configuration
 * checks and option-name parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/state.h"

static sr_state_config base_config(void)
{
    sr_state_config c = {0};
    c.feature_dim = 3;
    c.b_ref = 8.0;
    c.t_ref = 4.0;
    c.strong_cost = 2.0;
    c.n_bins = 4;
    return c;
}

static void state_budget_only(void **unused)
{
    (void)unused;
    sr_state_config c = base_config();
    const float features[3] = {0.5f, -1.0f, 2.0f};
    float out[4];

    assert_int_equal(sr_state_dim(&c), 4);
    sr_state_encode(&c, features, NULL, NULL, 2, 6.0, out);
    assert_true(out[0] == 0.5f);
    assert_true(out[1] == -1.0f);
    assert_true(out[2] == 2.0f);
    assert_true(out[3] == 0.75f); /* 6 / 8 */
}

static void state_every_option(void **unused)
{
    (void)unused;
    sr_state_config c = base_config();
    c.options = SR_STATE_ALL_OPTIONS;
    const float features[3] = {1.0f, 2.0f, 3.0f};
    float out[3 + 1 + 1 + 1 + 1 + 4];

    assert_int_equal(sr_state_dim(&c), 11);
    sr_state_encode(&c, features, NULL, NULL, 1, 4.0, out);
    assert_true(out[3] == 0.5f);                 /* 4 / 8 */
    assert_true(out[4] == 0.25f);                /* t 1 / 4 */
    assert_float_equal(out[5], log1p(0.5), 1e-7); /* log1p(b / B_ref) */
    assert_true(out[6] == 2.0f);                 /* 4 / strong cost 2 */
    /* 0.5 * 4 bins = bin 2. */
    assert_true(out[7] == 0.0f);
    assert_true(out[8] == 0.0f);
    assert_true(out[9] == 1.0f);
    assert_true(out[10] == 0.0f);
}

static void state_bins_edges(void **unused)
{
    (void)unused;
    sr_state_config c = base_config();
    c.options = SR_STATE_BUDGET_BINS;
    const float features[3] = {0};
    float out[8];

    /* Budget above B_ref falls in the last bin. */
    sr_state_encode(&c, features, NULL, NULL, 0, 20.0, out);
    assert_true(out[3] == 2.5f);
    assert_true(out[4] == 0.0f);
    assert_true(out[6] == 0.0f);
    assert_true(out[7] == 1.0f);

    /* Zero budget is bin 0. */
    sr_state_encode(&c, features, NULL, NULL, 0, 0.0, out);
    assert_true(out[4] == 1.0f);
    assert_true(out[7] == 0.0f);
}

static void state_negative_budget_zero(void **unused)
{
    (void)unused;
    sr_state_config c = base_config();
    c.options = SR_STATE_LOG_BUDGET | SR_STATE_STRONG_CALLS;
    const float features[3] = {0};
    float out[6];

    sr_state_encode(&c, features, NULL, NULL, 0, -3.0, out);
    assert_true(out[3] == 0.0f);
    assert_true(out[4] == 0.0f);
    assert_true(out[5] == 0.0f);
}

static void state_normalises_features(void **unused)
{
    (void)unused;
    sr_state_config c = base_config();
    const float features[3] = {1.0f, 2.0f, 3.0f};
    const float shift[3] = {1.0f, 0.0f, 5.0f};
    const float scale[3] = {2.0f, 0.5f, 1.0f};
    float out[4];

    sr_state_encode(&c, features, shift, scale, 0, 8.0, out);
    assert_true(out[0] == 0.0f);
    assert_true(out[1] == 1.0f);
    assert_true(out[2] == -2.0f);
    assert_true(out[3] == 1.0f);
}

static void state_config_rejects(void **unused)
{
    (void)unused;
    sr_error err;
    sr_state_config c = base_config();
    assert_int_equal(sr_state_config_check(&c, &err), SR_OK);

    c.b_ref = 0;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "B_ref"));

    c = base_config();
    c.b_ref = NAN;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);

    c = base_config();
    c.options = SR_STATE_TURN;
    c.t_ref = -1;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "T_ref"));

    /* T_ref is only checked when the turn option is on. */
    c.options = 0;
    assert_int_equal(sr_state_config_check(&c, &err), SR_OK);

    c = base_config();
    c.options = SR_STATE_STRONG_CALLS;
    c.strong_cost = 0;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);

    c = base_config();
    c.options = SR_STATE_BUDGET_BINS;
    c.n_bins = SR_STATE_MAX_BINS + 1;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);

    c = base_config();
    c.options = 1u << 7;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);

    c = base_config();
    c.feature_dim = 0;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);
}

static void state_option_names(void **unused)
{
    (void)unused;
    uint32_t options = 99;
    char text[64];

    assert_true(sr_state_options_parse("turn,bins", &options));
    assert_int_equal(options, SR_STATE_TURN | SR_STATE_BUDGET_BINS);
    assert_true(sr_state_options_parse("none", &options));
    assert_int_equal(options, 0);
    assert_true(sr_state_options_parse("log-budget,strong-calls", &options));
    assert_int_equal(options, SR_STATE_LOG_BUDGET | SR_STATE_STRONG_CALLS);

    options = 5;
    assert_false(sr_state_options_parse("turn,budget", &options));
    assert_false(sr_state_options_parse("turn,", &options));
    assert_false(sr_state_options_parse("", &options));
    assert_int_equal(options, 5);

    sr_state_options_format(SR_STATE_ALL_OPTIONS, text, sizeof(text));
    assert_string_equal(text, "turn,log-budget,strong-calls,bins");
    sr_state_options_format(0, text, sizeof(text));
    assert_string_equal(text, "none");

    /* The algorithm's bits are printed but not parsed. */
    sr_state_options_format(SR_STATE_TURN | SR_STATE_NO_BUDGET | SR_STATE_LAMBDA, text,
                            sizeof(text));
    assert_string_equal(text, "turn,no-budget,lambda");
    assert_false(sr_state_options_parse("lambda", &options));
    assert_false(sr_state_options_parse("no-budget", &options));
}

static void state_no_budget(void **unused)
{
    (void)unused;
    sr_state_config c = base_config();
    c.options = SR_STATE_NO_BUDGET | SR_STATE_TURN;
    const float features[3] = {0.5f, -1.0f, 2.0f};
    float out[4];

    /* Features, then t / T_ref: no budget entry at all. */
    assert_int_equal(sr_state_dim(&c), 4);
    sr_state_encode(&c, features, NULL, NULL, 1, 6.0, out);
    assert_true(out[0] == 0.5f);
    assert_true(out[2] == 2.0f);
    assert_true(out[3] == 0.25f); /* 1 / 4 */

    /* Any budget gives the same vector. */
    float other[4];
    sr_state_encode(&c, features, NULL, NULL, 1, 1e6, other);
    assert_memory_equal(out, other, sizeof(out));

    /* No budget view may come with it. */
    sr_error err;
    c.options = SR_STATE_NO_BUDGET | SR_STATE_BUDGET_BINS;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "budget-blind"));
    c.options = SR_STATE_NO_BUDGET | SR_STATE_LOG_BUDGET;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);
}

static void state_lambda_entry(void **unused)
{
    (void)unused;
    sr_state_config c = base_config();
    c.options = SR_STATE_LAMBDA | SR_STATE_BUDGET_BINS;
    c.lambda_max = 2.0;
    const float features[3] = {0.5f, -1.0f, 2.0f};
    float out[9];

    /* Features, b / B_ref, 4 bins, then λ / λ_max last. */
    assert_int_equal(sr_state_dim(&c), 9);
    sr_state_encode_lambda(&c, features, NULL, NULL, 0, 6.0, 0.5, out);
    assert_true(out[3] == 0.75f);
    assert_true(out[4] == 0.0f);
    assert_true(out[7] == 1.0f); /* 6 / 8 = 0.75: the last of 4 bins */
    assert_true(out[8] == 0.25f);

    /* λ above λ_max is not clipped; sr_state_encode means λ = 0. */
    sr_state_encode_lambda(&c, features, NULL, NULL, 0, 6.0, 3.0, out);
    assert_true(out[8] == 1.5f);
    sr_state_encode(&c, features, NULL, NULL, 0, 6.0, out);
    assert_true(out[8] == 0.0f);

    /* λ_max must be a positive finite number with the bit. */
    sr_error err;
    c.lambda_max = 0.0;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "lambda_max"));
    c.lambda_max = INFINITY;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);

    /* Unknown bits above the known ones are still rejected. */
    c.lambda_max = 1.0;
    c.options = SR_STATE_KNOWN_OPTIONS + 1u;
    assert_int_equal(sr_state_config_check(&c, &err), SR_ERR_INVALID);
}

/*
 * Normalisation constants by hand.  Feature 0 takes 1, 3, 5: mean 3,
 * population std sqrt(8/3) = 1.633, scale 1 / 1.633 = 0.6124.  Feature 1
 * takes 2, 2, 2: std 0 is floored at 0.5, scale 2.  Feature 2 takes
 * 0, 0, 3: mean 1, std sqrt(2) = 1.414, scale 0.7071.
 */
static void state_normalisation_by_hand(void **state)
{
    (void)state;
    const float rows[9] = {1, 2, 0, 3, 2, 0, 5, 2, 3};
    float *shift = NULL;
    float *scale = NULL;
    sr_error err;

    assert_int_equal(sr_state_compute_normalisation(rows, 3, 3, true, 0.5, &shift, &scale, &err),
                     SR_OK);
    assert_true(fabsf(shift[0] - 3.0f) < 1e-6f);
    assert_true(fabsf(shift[1] - 2.0f) < 1e-6f);
    assert_true(fabsf(shift[2] - 1.0f) < 1e-6f);
    assert_true(fabsf(scale[0] - (float)(1.0 / sqrt(8.0 / 3.0))) < 1e-5f);
    assert_true(fabsf(scale[1] - 2.0f) < 1e-6f);
    assert_true(fabsf(scale[2] - (float)(1.0 / sqrt(2.0))) < 1e-5f);
    free(shift);
    free(scale);

    /* Normalisation off: the identity, whatever the rows. */
    assert_int_equal(sr_state_compute_normalisation(rows, 3, 3, false, 0.5, &shift, &scale, &err),
                     SR_OK);
    for (int d = 0; d < 3; d++) {
        assert_true(shift[d] == 0.0f);
        assert_true(scale[d] == 1.0f);
    }
    free(shift);
    free(scale);

    /* No rows: mean and std 0, so the floor sets the scale. */
    assert_int_equal(sr_state_compute_normalisation(rows, 0, 3, true, 0.5, &shift, &scale, &err),
                     SR_OK);
    assert_true(shift[0] == 0.0f);
    assert_true(fabsf(scale[0] - 2.0f) < 1e-6f);
    free(shift);
    free(scale);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_budget_only),        cmocka_unit_test(state_every_option),
        cmocka_unit_test(state_bins_edges),         cmocka_unit_test(state_negative_budget_zero),
        cmocka_unit_test(state_normalises_features), cmocka_unit_test(state_config_rejects),
        cmocka_unit_test(state_option_names),      cmocka_unit_test(state_no_budget),
        cmocka_unit_test(state_lambda_entry),
        cmocka_unit_test(state_normalisation_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
