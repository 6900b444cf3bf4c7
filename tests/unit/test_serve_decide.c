/*
 * test_serve_decide.c - route decisions and reservation rules of the router
 * service (serve_decide.c): the two masks, degrading, refusing, the amounts
 * each rule reserves, and the parser of --reserve.
 *
 * The policy is built in memory with three models and a network whose
 * weights are zero, so Q(s, ·) is its bias whatever the turn: strong 1.0,
 * mid 0.8, weak 0.5.  Mean costs ĉ are 10, 4 and 1 (ĉ_max = 10), so every
 * expected mask, score and amount below is worked out by hand.
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

#include "seqroute/serve.h"

enum { STRONG = 0, MID = 1, WEAK = 2, N_MODELS = 3 };

/* Width of the embeddings the test policy routes on. */
#define EMBEDDING_DIM 3

static const float g_embedding[EMBEDDING_DIM] = {0.1f, -0.2f, 0.3f};

/*
 * Builds the policy described in the file comment.  Prices per million
 * tokens: strong 10 in / 30 out, mid 2 / 6; weak costs 0.5 per call.
 */
static sr_qpolicy *make_policy(void)
{
    sr_error err;
    sr_state_config state = {0};
    state.feature_dim = EMBEDDING_DIM;
    state.b_ref = 20.0;
    state.t_ref = 4.0;
    state.strong_cost = 10.0;
    state.options = SR_STATE_ALL_OPTIONS;
    state.n_bins = 3;

    sr_qpolicy *p = NULL;
    if (sr_qpolicy_new(N_MODELS, &state, &p, &err) != SR_OK)
        fail_msg("sr_qpolicy_new: %s", err.message);
    p->algo = SR_CQL_ALGO_CQL;
    sr_features_config_default(&p->features);
    p->features.source = SR_FEATURES_EMBEDDING;
    p->features.dim = EMBEDDING_DIM;
    p->embedding_dim = EMBEDDING_DIM;
    snprintf(p->cost_unit, sizeof(p->cost_unit), "USD");

    const char *names[N_MODELS] = {"strong", "mid", "weak"};
    const double mean_cost[N_MODELS] = {10.0, 4.0, 1.0};
    const double input_price[N_MODELS] = {10.0, 2.0, NAN};
    const double output_price[N_MODELS] = {30.0, 6.0, NAN};
    const double per_call[N_MODELS] = {NAN, NAN, 0.5};
    for (int k = 0; k < N_MODELS; k++) {
        snprintf(p->models[k].name, sizeof(p->models[k].name), "%s", names[k]);
        p->models[k].mean_cost = mean_cost[k];
        p->models[k].input_price = input_price[k];
        p->models[k].output_price = output_price[k];
        p->models[k].cost_per_call = per_call[k];
    }

    /* One affine layer with zero weights: Q is the bias. */
    sr_mlp_config net_config = {0};
    net_config.input_dim = sr_state_dim(&state);
    net_config.hidden_count = 0;
    net_config.output_dim = N_MODELS;
    net_config.max_rows = 1;
    sr_mlp *net = NULL;
    assert_int_equal(sr_mlp_create(&net_config, 1, &net, &err), SR_OK);
    sr_dense_layer *last = &net->layers[net->layer_count - 1];
    memset(last->weight, 0, (size_t)last->in * (size_t)last->out * sizeof(float));
    last->bias[STRONG] = 1.0f;
    last->bias[MID] = 0.8f;
    last->bias[WEAK] = 0.5f;
    assert_int_equal(sr_qpolicy_attach_net(p, net, true, &err), SR_OK);
    return p;
}

static sr_route_input make_input(double remaining, double lambda)
{
    sr_route_input input = {0};
    input.embedding = g_embedding;
    input.embedding_dim = EMBEDDING_DIM;
    input.turn = 0;
    input.remaining = remaining;
    input.lambda = lambda;
    return input;
}

/* Decides with `rule` ("mean:F" or "tokens:N"); the decision must succeed. */
static sr_route_result decide(sr_qpolicy *p, const char *rule, const sr_route_input *input)
{
    sr_error err;
    sr_reserve_config reserve;
    assert_int_equal(sr_reserve_parse(rule, &reserve, &err), SR_OK);
    float scratch[EMBEDDING_DIM];
    assert_int_equal(sr_route_scratch_floats(p), EMBEDDING_DIM);
    sr_route_result result;
    const sr_status status = sr_route_decide(p, &reserve, input, scratch, &result, &err);
    if (status != SR_OK)
        fail_msg("sr_route_decide: %s", err.message);
    return result;
}

/* ---- reservation rules ---------------------------------------------------------- */

static void reserve_parse_accepts_rules(void **unused)
{
    (void)unused;
    sr_reserve_config c;
    sr_error err;

    sr_reserve_config_default(&c);
    assert_int_equal(c.rule, SR_RESERVE_MEAN);
    assert_true(c.factor == 3.0);

    assert_int_equal(sr_reserve_parse("mean:2.5", &c, &err), SR_OK);
    assert_int_equal(c.rule, SR_RESERVE_MEAN);
    assert_true(c.factor == 2.5);

    /* F = 1 is the smallest factor: the mean itself. */
    assert_int_equal(sr_reserve_parse("mean:1", &c, &err), SR_OK);
    assert_true(c.factor == 1.0);

    assert_int_equal(sr_reserve_parse("tokens:1000", &c, &err), SR_OK);
    assert_int_equal(c.rule, SR_RESERVE_TOKENS);
    assert_true(c.max_output_tokens == 1000.0);
}

static void reserve_parse_rejects_bad_rules(void **unused)
{
    (void)unused;
    const char *bad[] = {"",        "mean",         "mean:",    "mean:0.99", "mean:-3",
                         "mean:3x", "mean:inf",     "mean:nan", "tokens:0",  "tokens:-5",
                         "tokens:", "tokens:1e999", "max:3",    "MEAN:3",    " mean:3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_reserve_config c;
        sr_reserve_config_default(&c);
        c.factor = 7.0; /* a sentinel: a rejected rule leaves the config alone */
        sr_error err;
        sr_error_clear(&err);
        if (sr_reserve_parse(bad[i], &c, &err) != SR_ERR_INVALID)
            fail_msg("rule '%s' was accepted", bad[i]);
        assert_true(c.factor == 7.0);
        assert_non_null(strstr(err.message, "reservation rule"));
    }
}

static void reserve_amount_by_hand(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();
    sr_reserve_config mean;
    sr_reserve_config tokens;
    sr_error err;
    assert_int_equal(sr_reserve_parse("mean:2.5", &mean, &err), SR_OK);
    assert_int_equal(sr_reserve_parse("tokens:1000", &tokens, &err), SR_OK);

    /* mean:2.5 reserves 2.5 ĉ(a). */
    assert_float_equal(sr_reserve_amount(p, &mean, STRONG, 500), 25.0, 1e-12);
    assert_float_equal(sr_reserve_amount(p, &mean, MID, 500), 10.0, 1e-12);
    assert_float_equal(sr_reserve_amount(p, &mean, WEAK, 500), 2.5, 1e-12);

    /* tokens:1000 with 500 bytes: 500 · 10 / 1e6 + 1000 · 30 / 1e6 = 0.035 for strong,
     * 500 · 2 / 1e6 + 1000 · 6 / 1e6 = 0.007 for mid, the per-call 0.5 for weak. */
    assert_float_equal(sr_reserve_amount(p, &tokens, STRONG, 500), 0.035, 1e-15);
    assert_float_equal(sr_reserve_amount(p, &tokens, MID, 500), 0.007, 1e-15);
    assert_float_equal(sr_reserve_amount(p, &tokens, WEAK, 500), 0.5, 1e-15);
    assert_float_equal(sr_reserve_amount(p, &tokens, STRONG, 0), 0.03, 1e-15);

    /* Without an output price the tokens rule cannot price a model. */
    p->models[MID].output_price = NAN;
    assert_true(isnan(sr_reserve_amount(p, &tokens, MID, 500)));
    assert_float_equal(sr_reserve_amount(p, &mean, MID, 500), 10.0, 1e-12);
    sr_qpolicy_free(p);
}

/* ---- decisions ---------------------------------------------------------------------- */

static void decide_unmasked_takes_preferred(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();
    const sr_route_input input = make_input(100.0, 0.0);
    const sr_route_result r = decide(p, "mean:3", &input);

    assert_int_equal(r.model, STRONG);
    assert_int_equal(r.preferred, STRONG);
    assert_false(r.degraded);
    assert_false(r.refused);
    assert_float_equal(r.decision.q[STRONG], 1.0, 1e-6);
    assert_float_equal(r.decision.q[MID], 0.8, 1e-6);
    assert_float_equal(r.decision.q[WEAK], 0.5, 1e-6);
    assert_float_equal(r.reserve[STRONG], 30.0, 1e-12);
    assert_float_equal(r.reserve[MID], 12.0, 1e-12);
    assert_float_equal(r.reserve[WEAK], 3.0, 1e-12);
    for (int k = 0; k < N_MODELS; k++)
        assert_int_equal(r.mask[k], SR_MASK_NONE);
    sr_qpolicy_free(p);
}

static void decide_reserve_mask_degrades(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();

    /* Remaining 20: strong's ĉ 10 fits, its reservation 30 does not; mid's 12 fits. */
    sr_route_input input = make_input(20.0, 0.0);
    sr_route_result r = decide(p, "mean:3", &input);
    assert_int_equal(r.mask[STRONG], SR_MASK_RESERVE);
    assert_false(r.decision.masked[STRONG]);
    assert_int_equal(r.mask[MID], SR_MASK_NONE);
    assert_int_equal(r.mask[WEAK], SR_MASK_NONE);
    assert_int_equal(r.preferred, STRONG);
    assert_int_equal(r.model, MID);
    assert_true(r.degraded);
    assert_false(r.refused);

    /* Remaining 12: mid's reservation of exactly 12 still fits. */
    input = make_input(12.0, 0.0);
    r = decide(p, "mean:3", &input);
    assert_int_equal(r.model, MID);
    assert_int_equal(r.mask[MID], SR_MASK_NONE);

    /* Remaining 9: strong's ĉ 10 is above it (the policy's mask), mid's
     * reservation 12 is above it, weak's 3 fits. */
    input = make_input(9.0, 0.0);
    r = decide(p, "mean:3", &input);
    assert_int_equal(r.mask[STRONG], SR_MASK_ESTIMATE);
    assert_true(r.decision.masked[STRONG]);
    assert_int_equal(r.mask[MID], SR_MASK_RESERVE);
    assert_int_equal(r.mask[WEAK], SR_MASK_NONE);
    assert_int_equal(r.model, WEAK);
    assert_int_equal(r.preferred, STRONG);
    assert_true(r.degraded);
    sr_qpolicy_free(p);
}

static void decide_refuses_when_all_masked(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();

    /* Remaining 3: weak's reservation of exactly 3 fits. */
    sr_route_input input = make_input(3.0, 0.0);
    sr_route_result r = decide(p, "mean:3", &input);
    assert_int_equal(r.model, WEAK);
    assert_false(r.refused);

    /* Remaining 2.9: strong and mid by ĉ (10, 4 > 2.9), weak by its reservation
     * (ĉ 1 fits, 3 does not).  The policy alone would have named weak. */
    input = make_input(2.9, 0.0);
    r = decide(p, "mean:3", &input);
    assert_true(r.refused);
    assert_int_equal(r.model, -1);
    assert_false(r.degraded);
    assert_int_equal(r.mask[STRONG], SR_MASK_ESTIMATE);
    assert_int_equal(r.mask[MID], SR_MASK_ESTIMATE);
    assert_int_equal(r.mask[WEAK], SR_MASK_RESERVE);
    assert_int_equal(r.decision.model, WEAK);

    /* Remaining 0: refused too. */
    input = make_input(0.0, 0.0);
    r = decide(p, "mean:3", &input);
    assert_true(r.refused);
    sr_qpolicy_free(p);
}

static void decide_lambda_rule_and_masks(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();

    /* λ 0.5: scores 1 - 0.5 · 10/10 = 0.5, 0.8 - 0.5 · 4/10 = 0.6, 0.5 - 0.5 · 1/10 = 0.45. */
    sr_route_input input = make_input(100.0, 0.5);
    sr_route_result r = decide(p, "mean:3", &input);
    assert_float_equal(r.decision.score[STRONG], 0.5, 1e-6);
    assert_float_equal(r.decision.score[MID], 0.6, 1e-6);
    assert_float_equal(r.decision.score[WEAK], 0.45, 1e-6);
    assert_int_equal(r.preferred, MID);
    assert_int_equal(r.model, MID);
    assert_false(r.degraded);

    /* Remaining 11: mid (12) and strong (30) masked by reservation; strong would
     * outscore weak (0.5 > 0.45) but it is masked, so weak. */
    input = make_input(11.0, 0.5);
    r = decide(p, "mean:3", &input);
    assert_int_equal(r.mask[STRONG], SR_MASK_RESERVE);
    assert_int_equal(r.mask[MID], SR_MASK_RESERVE);
    assert_int_equal(r.model, WEAK);
    assert_int_equal(r.preferred, MID);
    assert_true(r.degraded);
    sr_qpolicy_free(p);
}

static void decide_tokens_rule_masks(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();
    char text[501];
    memset(text, 'x', 500);
    text[500] = '\0';

    /* tokens:1000 on 500 bytes: strong 0.035, mid 0.007, weak 0.5 per call.
     * Remaining 20 passes every ĉ mask and every reservation. */
    sr_route_input input = make_input(20.0, 0.0);
    input.text = text;
    input.text_len = 500;
    sr_route_result r = decide(p, "tokens:1000", &input);
    assert_int_equal(r.model, STRONG);
    assert_float_equal(r.reserve[STRONG], 0.035, 1e-15);
    assert_float_equal(r.reserve[WEAK], 0.5, 1e-15);

    /* Without strong's output price it cannot be reserved: unpriced, degrade to mid. */
    p->models[STRONG].output_price = NAN;
    r = decide(p, "tokens:1000", &input);
    assert_int_equal(r.mask[STRONG], SR_MASK_UNPRICED);
    assert_true(isnan(r.reserve[STRONG]));
    assert_int_equal(r.model, MID);
    assert_true(r.degraded);
    sr_qpolicy_free(p);
}

static void decide_rejects_bad_input(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();
    sr_reserve_config reserve;
    sr_reserve_config_default(&reserve);
    float scratch[EMBEDDING_DIM];
    sr_route_result r;
    sr_error err;

    sr_route_input input = make_input(10.0, 0.0);
    input.turn = -1;
    assert_int_equal(sr_route_decide(p, &reserve, &input, scratch, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "turn"));

    input = make_input(10.0, 0.0);
    input.embedding = NULL;
    assert_int_equal(sr_route_decide(p, &reserve, &input, scratch, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "embedding"));

    input = make_input(10.0, 0.0);
    input.embedding_dim = 2;
    assert_int_equal(sr_route_decide(p, &reserve, &input, scratch, &r, &err), SR_ERR_INVALID);

    const float bad[EMBEDDING_DIM] = {0.0f, NAN, 1.0f};
    input = make_input(10.0, 0.0);
    input.embedding = bad;
    assert_int_equal(sr_route_decide(p, &reserve, &input, scratch, &r, &err), SR_ERR_INVALID);

    input = make_input(NAN, 0.0);
    assert_int_equal(sr_route_decide(p, &reserve, &input, scratch, &r, &err), SR_ERR_INVALID);
    input = make_input(10.0, INFINITY);
    assert_int_equal(sr_route_decide(p, &reserve, &input, scratch, &r, &err), SR_ERR_INVALID);

    /* Features that average earlier turns cannot be served one turn at a time. */
    p->features.history = SR_HISTORY_MEAN;
    input = make_input(10.0, 0.0);
    assert_int_equal(sr_route_decide(p, &reserve, &input, scratch, &r, &err), SR_ERR_UNSUPPORTED);
    sr_qpolicy_free(p);
}

/* ---- the explained decision ------------------------------------------------------------ */

static void result_json_explains_masks(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy();

    /* The degraded case of remaining 9 (see decide_reserve_mask_degrades). */
    sr_route_input input = make_input(9.0, 0.0);
    sr_route_result r = decide(p, "mean:3", &input);
    json_t *json = sr_route_result_json(p, &input, &r);
    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "model")), "weak");
    assert_string_equal(json_string_value(json_object_get(json, "preferred")), "strong");
    assert_true(json_is_true(json_object_get(json, "degraded")));
    const json_t *masked = json_object_get(json, "masked");
    assert_int_equal(json_array_size(masked), 2);
    const json_t *first = json_array_get(masked, 0);
    assert_string_equal(json_string_value(json_object_get(first, "model")), "strong");
    assert_string_equal(json_string_value(json_object_get(first, "reason")),
                        "estimate_exceeds_remaining");
    const json_t *second = json_array_get(masked, 1);
    assert_string_equal(json_string_value(json_object_get(second, "model")), "mid");
    assert_string_equal(json_string_value(json_object_get(second, "reason")),
                        "reservation_exceeds_remaining");
    assert_float_equal(json_real_value(json_object_get(second, "reserve")), 12.0, 1e-12);
    const char *reason = json_string_value(json_object_get(json, "reason"));
    assert_non_null(reason);
    assert_non_null(strstr(reason, "strong is masked (estimate_exceeds_remaining)"));
    assert_non_null(strstr(reason, "weak is the best affordable model"));
    json_decref(json);

    /* A refusal: model null, and the reason states that no model is affordable. */
    input = make_input(2.9, 0.0);
    r = decide(p, "mean:3", &input);
    json = sr_route_result_json(p, &input, &r);
    assert_non_null(json);
    assert_true(json_is_null(json_object_get(json, "model")));
    assert_non_null(strstr(json_string_value(json_object_get(json, "reason")), "no model"));
    assert_int_equal(json_array_size(json_object_get(json, "masked")), 3);
    json_decref(json);
    sr_qpolicy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve_parse_accepts_rules),
        cmocka_unit_test(reserve_parse_rejects_bad_rules),
        cmocka_unit_test(reserve_amount_by_hand),
        cmocka_unit_test(decide_unmasked_takes_preferred),
        cmocka_unit_test(decide_reserve_mask_degrades),
        cmocka_unit_test(decide_refuses_when_all_masked),
        cmocka_unit_test(decide_lambda_rule_and_masks),
        cmocka_unit_test(decide_tokens_rule_masks),
        cmocka_unit_test(decide_rejects_bad_input),
        cmocka_unit_test(result_json_explains_masks),
    };
    return cmocka_run_group_tests_name("serve decisions", tests, NULL, NULL);
}
