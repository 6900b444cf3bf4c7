/*
 * test_calibrate.c - λ calibration on toy policies whose metrics are known
 * step functions of λ.
 *
 * Data: ten sessions of two turns; model "strong" (quality 1, cost 1) and
 * "weak" (quality 0.5, cost 0.1).  Session i has the threshold
 * th_i = (i + 0.5) / 10.  The toy policy calls strong at every turn of
 * session i iff λ < th_i (plus, in the bumpy variant, in sessions 0..4 when
 * λ is in [0.7, 0.8)).  With k(λ) the number of strong sessions:
 *   budget 10:  mean spend = 0.2 + 1.8 k / 10, no bankruptcy;
 *   budget 1.5: a strong session goes bankrupt on its second call, so the
 *               bankruptcy rate is k / 10;
 *   share of strong calls = k / 10 (each session makes two calls).
 * k(λ) = #{i : th_i > λ} for the monotone policy.
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

#include "seqroute/calibrate.h"

#define N_SESSIONS 10
#define LAMBDA_TOLERANCE 1e-4

typedef struct toy_impl {
    double lambda;
    bool bumpy;  /* adds sessions 0..4 as strong for λ in [0.7, 0.8) */
    bool always; /* always strong: no λ meets a low target */
} toy_impl;

static int toy_act(sr_policy *policy, const sr_policy_state *state)
{
    const toy_impl *toy = policy->impl;
    const double threshold = ((double)state->session + 0.5) / N_SESSIONS;
    bool strong = toy->always || toy->lambda < threshold;
    if (toy->bumpy && toy->lambda >= 0.7 && toy->lambda < 0.8 && state->session < 5)
        strong = true;
    return strong ? 0 : 1;
}

static void toy_destroy(sr_policy *policy)
{
    free(policy->impl);
    free(policy);
}

typedef struct toy_kind {
    bool bumpy;
    bool always;
} toy_kind;

static sr_status toy_factory(void *user, double lambda, sr_policy **out, sr_error *err)
{
    (void)err;
    const toy_kind *kind = user;
    sr_policy *policy = calloc(1, sizeof(*policy));
    toy_impl *impl = calloc(1, sizeof(*impl));
    assert_non_null(policy);
    assert_non_null(impl);
    impl->lambda = lambda;
    impl->bumpy = kind->bumpy;
    impl->always = kind->always;
    snprintf(policy->name, sizeof(policy->name), "toy");
    policy->impl = impl;
    policy->act = toy_act;
    policy->destroy = toy_destroy;
    *out = policy;
    return SR_OK;
}

static void build_toy(sr_dataset *ds)
{
    sr_error err;
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, NAN, true, &err), SR_OK);
    for (int i = 0; i < N_SESSIONS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "s%d", i);
        assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
        for (int t = 0; t < 2; t++) {
            size_t j;
            assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
            assert_int_equal(sr_dataset_set_outcome(ds, j, 0, 1.0, 1.0, NAN, NAN, &err), SR_OK);
            assert_int_equal(sr_dataset_set_outcome(ds, j, 1, 0.5, 0.1, NAN, NAN, &err), SR_OK);
        }
    }
}

static sr_calibrate_result result;

static void run(const toy_kind *kind, sr_calibrate_target target, double value, double budget,
                const sr_calibrate_options *custom)
{
    sr_dataset ds;
    sr_eval_options eval;
    sr_calibrate_options options;
    sr_error err;
    build_toy(&ds);
    sr_eval_options_default(&eval);
    if (custom != NULL)
        options = *custom;
    else
        sr_calibrate_options_default(&options);
    options.target = target;
    options.value = value;
    options.share_model = 0;
    assert_int_equal(sr_calibrate_lambda(toy_factory, (void *)kind, &ds, budget, &eval, &options,
                                         &result, &err),
                     SR_OK);
    sr_dataset_free(&ds);
}

/*
 * Spend ≤ 0.9 needs 1.8 k / 10 ≤ 0.7, k ≤ 3: λ ≥ 0.65 (th 0.75, 0.85,
 * 0.95 stay strong), realised 0.2 + 0.54 = 0.74.
 */
static void spend_step_function(void **state)
{
    (void)state;
    const toy_kind kind = {false, false};
    run(&kind, SR_CALIBRATE_SPEND, 0.9, 10, NULL);
    assert_int_equal(result.status, SR_CALIBRATE_FOUND);
    assert_true(result.lambda >= 0.65);
    assert_true(result.lambda - 0.65 <= LAMBDA_TOLERANCE);
    assert_true(fabs(result.value - 0.74) < 1e-12);
    assert_true(result.metrics.mean_cost == result.value);
    assert_true(result.below_lambda < 0.65);
    assert_true(result.lambda - result.below_lambda <= LAMBDA_TOLERANCE);
    assert_int_equal(result.non_monotone_pairs, 0);
}

/*
 * Bankruptcy ≤ 0.35 at budget 1.5 needs k ≤ 3: λ ≥ 0.65, realised 0.3.  A
 * target of exactly 0.3 is hit on the whole plateau [0.65, 0.75); with the
 * value tolerance 0 the search still bisects to its left end.  With a value
 * tolerance of 0.1 it stops at the first probe on the plateau.
 */
static void bankruptcy_step_function(void **state)
{
    (void)state;
    const toy_kind kind = {false, false};
    run(&kind, SR_CALIBRATE_BANKRUPTCY, 0.35, 1.5, NULL);
    assert_int_equal(result.status, SR_CALIBRATE_FOUND);
    assert_true(result.lambda >= 0.65);
    assert_true(result.lambda - 0.65 <= LAMBDA_TOLERANCE);
    assert_true(fabs(result.value - 0.3) < 1e-12);

    run(&kind, SR_CALIBRATE_BANKRUPTCY, 0.3, 1.5, NULL);
    assert_true(result.lambda >= 0.65);
    assert_true(result.lambda - 0.65 <= LAMBDA_TOLERANCE);
    assert_true(result.value == 0.3);

    sr_calibrate_options early;
    sr_calibrate_options_default(&early);
    early.tolerance = 0.1;
    run(&kind, SR_CALIBRATE_BANKRUPTCY, 0.3, 1.5, &early);
    assert_true(result.lambda >= 0.65);
    assert_true(result.lambda < 0.75);
    assert_true(result.lambda - 0.65 > LAMBDA_TOLERANCE);
}

/* Share ≤ 0.25 needs k ≤ 2: λ ≥ 0.75, realised 0.2. */
static void share_step_function(void **state)
{
    (void)state;
    const toy_kind kind = {false, false};
    run(&kind, SR_CALIBRATE_SHARE, 0.25, 10, NULL);
    assert_int_equal(result.status, SR_CALIBRATE_FOUND);
    assert_true(result.lambda >= 0.75);
    assert_true(result.lambda - 0.75 <= LAMBDA_TOLERANCE);
    assert_true(fabs(result.value - 0.2) < 1e-12);
}

/* A target met at λ = 0 (spend of all strong is 2) returns lo without searching further. */
static void met_at_lo(void **state)
{
    (void)state;
    const toy_kind kind = {false, false};
    run(&kind, SR_CALIBRATE_SPEND, 5, 10, NULL);
    assert_int_equal(result.status, SR_CALIBRATE_MET_AT_LO);
    assert_true(result.lambda == 0);
    assert_int_equal(result.n_probes, 1);
}

/* An always-strong policy never meets spend ≤ 1: unreachable after every expansion. */
static void unreachable(void **state)
{
    (void)state;
    const toy_kind kind = {false, true};
    run(&kind, SR_CALIBRATE_SPEND, 1, 10, NULL);
    assert_int_equal(result.status, SR_CALIBRATE_UNREACHABLE);
    assert_int_equal(result.n_probes, 2 + SR_CALIBRATE_MAX_EXPAND);
    assert_true(result.value == 2.0);
}

/*
 * Without expansion the target must be met inside [lo, hi]: with hi 0.5 the
 * spend target 0.9 (needs λ ≥ 0.65) is unreachable.
 */
static void no_expansion(void **state)
{
    (void)state;
    const toy_kind kind = {false, false};
    sr_calibrate_options options;
    sr_calibrate_options_default(&options);
    options.hi = 0.5;
    options.expand_hi = false;
    run(&kind, SR_CALIBRATE_SPEND, 0.9, 10, &options);
    assert_int_equal(result.status, SR_CALIBRATE_UNREACHABLE);
    assert_int_equal(result.n_probes, 2);
}

/*
 * The bumpy policy: k(λ) = 9 or 8 ... in [0.7, 0.8) the five first sessions
 * are strong again (k = 7 at λ = 0.75), so spend is not monotone.  Plain
 * bisection from [0, 1] would probe 0.5 (missed), then 0.75 (missed, in the
 * bump) and converge to 0.8.  The scan's probe at 6/9 ≈ 0.667 (k = 3, met)
 * finds the first crossing, at 0.65.  The search counts the rising pairs.
 */
static void non_monotone(void **state)
{
    (void)state;
    const toy_kind kind = {true, false};
    run(&kind, SR_CALIBRATE_SPEND, 0.9, 10, NULL);
    assert_int_equal(result.status, SR_CALIBRATE_FOUND);
    assert_true(result.lambda >= 0.65);
    assert_true(result.lambda - 0.65 <= LAMBDA_TOLERANCE);
    assert_true(result.value <= 0.9);
    assert_true(result.non_monotone_pairs > 0);
}

static void rejects_bad_options(void **state)
{
    (void)state;
    const toy_kind kind = {false, false};
    sr_dataset ds;
    sr_eval_options eval;
    sr_calibrate_options options;
    sr_error err;
    build_toy(&ds);
    sr_eval_options_default(&eval);

    sr_calibrate_options_default(&options);
    options.target = SR_CALIBRATE_BANKRUPTCY;
    options.value = 1.5;
    assert_int_equal(sr_calibrate_lambda(toy_factory, (void *)&kind, &ds, 10, &eval, &options,
                                         &result, &err),
                     SR_ERR_INVALID);
    sr_calibrate_options_default(&options);
    options.value = 1;
    options.lo = 2;
    assert_int_equal(sr_calibrate_lambda(toy_factory, (void *)&kind, &ds, 10, &eval, &options,
                                         &result, &err),
                     SR_ERR_INVALID);
    sr_calibrate_options_default(&options);
    options.target = SR_CALIBRATE_SHARE;
    options.value = 0.5;
    options.share_model = 2;
    assert_int_equal(sr_calibrate_lambda(toy_factory, (void *)&kind, &ds, 10, &eval, &options,
                                         &result, &err),
                     SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

/* The drift check: spend tolerance is 10% of the target, rates 2 points. */
static void drift_check(void **state)
{
    (void)state;
    sr_calibration cal;
    sr_eval_metrics m;
    sr_calibration_drift drift;
    memset(&cal, 0, sizeof(cal));
    memset(&m, 0, sizeof(m));
    cal.target = SR_CALIBRATE_SPEND;
    cal.value = 1.0;
    m.mean_cost = 1.05;
    sr_calibration_check(&cal, -1, &m, -1, &drift);
    assert_true(fabs(drift.drift - 0.05) < 1e-12);
    assert_true(fabs(drift.tolerance - 0.1) < 1e-12);
    assert_false(drift.warn);
    m.mean_cost = 0.85;
    sr_calibration_check(&cal, -1, &m, -1, &drift);
    assert_true(drift.warn);

    cal.target = SR_CALIBRATE_BANKRUPTCY;
    cal.value = 0.05;
    m.bankruptcy_rate = 0.08;
    sr_calibration_check(&cal, -1, &m, -1, &drift);
    assert_true(drift.warn);
    sr_calibration_check(&cal, -1, &m, 0.05, &drift);
    assert_false(drift.warn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spend_step_function),
        cmocka_unit_test(bankruptcy_step_function),
        cmocka_unit_test(share_step_function),
        cmocka_unit_test(met_at_lo),
        cmocka_unit_test(unreachable),
        cmocka_unit_test(no_expansion),
        cmocka_unit_test(non_monotone),
        cmocka_unit_test(rejects_bad_options),
        cmocka_unit_test(drift_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
