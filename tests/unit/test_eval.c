/*
 * test_eval.c - evaluation metrics on a three-session set worked out by
 * hand, the fallback treatment, the JSON report, determinism and
 * independence of session order, and argument errors.
 *
 * The tiny set has models "strong" and "weak" (the fallback) and sessions
 *
 *   a: turn 0 strong (q 1, c 1/2)    weak (q 1/2, c 1/8)
 *      turn 1 strong (q 1, c 1/2)    weak (q 1/4, c 1/8)
 *   b: turn 0 strong (q 3/4, c 3/4)  weak (q 1/2, c 1/4)
 *      turn 1 strong (q 1, c 1/2)    weak (q 0, c 1/4)
 *   c: turn 0 strong (q 1, c 1/2)    weak (q 1/2, c 1/4)
 *
 * At budget 1, always:strong spends 1 on a (exactly the budget: not
 * bankrupt), goes bankrupt on b's second turn after spending 3/4 + 1/2, and
 * spends 1/2 on c.  The oracle plays a: strong, strong; b: weak, strong;
 * c: strong.  Always-cheapest (weak) serves every turn.
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

#include "seqroute/eval.h"

/* Hand values are sums of a few terms; allow for last-bit rounding. */
#define TOLERANCE 1e-12

typedef struct qc {
    double q;
    double c;
} qc;

typedef struct tiny_session {
    const char *id;
    int n_turns;
    qc turns[2][2];
} tiny_session;

static const tiny_session tiny[3] = {
    {"a", 2, {{{1.0, 0.5}, {0.5, 0.125}}, {{1.0, 0.5}, {0.25, 0.125}}}},
    {"b", 2, {{{0.75, 0.75}, {0.5, 0.25}}, {{1.0, 0.5}, {0.0, 0.25}}}},
    {"c", 1, {{{1.0, 0.5}, {0.5, 0.25}}}},
};

/* Builds the tiny set with its sessions in the order given by `order`. */
static void build_tiny(sr_dataset *ds, const int order[3])
{
    sr_error err;
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, NAN, true, &err), SR_OK);
    for (int i = 0; i < 3; i++) {
        const tiny_session *s = &tiny[order[i]];
        assert_int_equal(sr_dataset_begin_session(ds, s->id, NAN, &err), SR_OK);
        for (int t = 0; t < s->n_turns; t++) {
            size_t j;
            assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
            for (int m = 0; m < 2; m++)
                assert_int_equal(sr_dataset_set_outcome(ds, j, m, s->turns[t][m].q,
                                                        s->turns[t][m].c, NAN, NAN, &err),
                                 SR_OK);
        }
    }
}

static const int natural_order[3] = {0, 1, 2};

static const sr_eval_metrics *find_row(const sr_eval_report *report, const char *name)
{
    for (size_t i = 0; i < report->n_rows; i++)
        if (strcmp(report->rows[i].name, name) == 0)
            return &report->rows[i];
    fail_msg("no row named %s", name);
    return NULL;
}

/* Runs `names` at absolute budget `budget` with default settings. */
static void run_report(const sr_dataset *ds, const char *const *names, size_t n_names,
                       double budget, sr_bankrupt_mode mode, sr_eval_report *report)
{
    sr_eval_request request;
    sr_error err;
    memset(&request, 0, sizeof(request));
    request.policies = names;
    request.n_policies = n_names;
    request.budgets = &budget;
    request.n_budgets = 1;
    sr_eval_options_default(&request.eval);
    request.eval.mdp.bankrupt_mode = mode;
    request.eval.mdp.fallback_model = sr_mdp_find_fallback(&ds->catalogue);
    sr_policy_options_default(&request.policy);
    assert_int_equal(sr_eval_report_build(ds, &request, report, &err), SR_OK);
}

static void wilson_interval(void **state)
{
    (void)state;
    double lo, hi;
    /* Reference values from the closed form with z = 1.959963984540054. */
    sr_eval_wilson(1, 3, SR_EVAL_Z95, &lo, &hi);
    assert_true(fabs(lo - 0.06149194472039621) < TOLERANCE);
    assert_true(fabs(hi - 0.7923403991979522) < TOLERANCE);
    sr_eval_wilson(0, 3, SR_EVAL_Z95, &lo, &hi);
    assert_true(lo == 0.0);
    assert_true(fabs(hi - 0.5614970317550454) < TOLERANCE);
    sr_eval_wilson(3, 3, SR_EVAL_Z95, &lo, &hi);
    assert_true(hi == 1.0);
    assert_true(fabs(lo - (1 - 0.5614970317550454)) < TOLERANCE);
    sr_eval_wilson(0, 0, SR_EVAL_Z95, &lo, &hi);
    assert_true(lo == 0.0);
    assert_true(hi == 1.0);
}

static void tiny_always_strong(void **state)
{
    (void)state;
    static const char *const names[] = {"always:strong", "oracle", "always-cheapest"};
    sr_dataset ds;
    sr_eval_report report;
    build_tiny(&ds, natural_order);
    run_report(&ds, names, 3, 1.0, SR_BANKRUPT_UNSERVED, &report);
    assert_int_equal(report.n_rows, 3);
    const sr_eval_metrics *m = find_row(&report, "always:strong");

    assert_true(m->budget == 1.0);
    assert_true(isnan(m->budget_frac));
    assert_int_equal(m->sessions, 3);
    /* Spend 1 + 5/4 + 1/2, the bankrupt call included. */
    assert_true(fabs(m->mean_cost - 2.75 / 3) < TOLERANCE);
    assert_true(fabs(m->mean_cost_ci[0] - 0.484535226521981) < TOLERANCE);
    assert_true(fabs(m->mean_cost_ci[1] - 1.3487981068113521) < TOLERANCE);
    assert_int_equal(m->bankrupt_sessions, 1);
    assert_true(fabs(m->bankruptcy_rate - 1.0 / 3) < TOLERANCE);
    assert_true(fabs(m->bankruptcy_ci[0] - 0.06149194472039621) < TOLERANCE);
    assert_true(fabs(m->bankruptcy_ci[1] - 0.7923403991979522) < TOLERANCE);
    /* Served quality 2 + 3/4 + 1 over 5 turns; b's bankrupt turn is not served. */
    assert_int_equal(m->turns, 5);
    assert_int_equal(m->served_turns, 4);
    assert_true(fabs(m->mean_quality - 0.75) < TOLERANCE);
    assert_true(fabs(m->mean_quality_served - 0.9375) < TOLERANCE);
    /* Returns 2, 3/4 + (1 - 1), 1. */
    assert_true(fabs(m->mean_return - 1.25) < TOLERANCE);
    /* Sample std sqrt(0.4375), so 1.25 -/+ 1.96 * 0.6614 / sqrt(3). */
    assert_true(fabs(m->mean_return_ci[0] - 0.5015263901214952) < TOLERANCE);
    assert_true(fabs(m->mean_return_ci[1] - 1.9984736098785048) < TOLERANCE);
    assert_int_equal(m->calls, 5);
    assert_true(m->model_share[0] == 1.0);
    assert_true(m->model_share[1] == 0.0);
    /* Q: always:strong 0.75, cheapest 1.75 / 5, oracle 4.5 / 5. */
    assert_true(fabs(m->oracle_gap_closed - 0.4 / 0.55) < TOLERANCE);
    assert_true(fabs(m->cost_reduction_vs_strongest) < TOLERANCE);
    /* Always the most expensive model: the indicator is constant, slope 0. */
    assert_int_equal(m->decisions, 5);
    assert_true(m->p_expensive_slope == 0.0);
    sr_eval_report_free(&report);
    sr_dataset_free(&ds);
}

static void tiny_oracle_and_cheapest(void **state)
{
    (void)state;
    static const char *const names[] = {"oracle", "always-cheapest", "always-strongest"};
    sr_dataset ds;
    sr_eval_report report;
    build_tiny(&ds, natural_order);
    run_report(&ds, names, 3, 1.0, SR_BANKRUPT_UNSERVED, &report);

    const sr_eval_metrics *o = find_row(&report, "oracle");
    assert_true(fabs(o->mean_cost - 0.75) < TOLERANCE);
    assert_int_equal(o->bankrupt_sessions, 0);
    assert_true(o->bankruptcy_ci[0] == 0.0);
    assert_true(fabs(o->bankruptcy_ci[1] - 0.5614970317550454) < TOLERANCE);
    assert_true(fabs(o->mean_quality - 0.9) < TOLERANCE);
    assert_true(fabs(o->mean_quality_served - 0.9) < TOLERANCE);
    assert_true(fabs(o->mean_return - 1.5) < TOLERANCE);
    assert_true(fabs(o->model_share[0] - 0.8) < TOLERANCE);
    assert_true(fabs(o->model_share[1] - 0.2) < TOLERANCE);
    assert_true(fabs(o->oracle_gap_closed - 1.0) < TOLERANCE);
    assert_true(fabs(o->cost_reduction_vs_strongest - 0.5 / 2.75) < TOLERANCE);
    /*
     * Decisions (b_t / B_0, strong?): a (1, 1) (1/2, 1); b (1, 0) (3/4, 1);
     * c (1, 1).  Mean x 0.85, mean y 0.8, Sxx 0.2, Sxy -0.15: slope -0.75.
     */
    assert_true(fabs(o->p_expensive_slope - (-0.75)) < TOLERANCE);
    /* Intercept: mean y - slope * mean x = 0.8 + 0.75 * 0.85 = 1.4375. */
    assert_true(fabs(o->p_expensive_intercept - 1.4375) < TOLERANCE);
    /* Bins of width 0.1: x = 1 falls in the last bin (3 decisions, 2 strong),
     * x = 1/2 in bin 5 and x = 3/4 in bin 7 (one strong decision each). */
    assert_int_equal(o->budget_bin_decisions[9], 3);
    assert_int_equal(o->budget_bin_expensive[9], 2);
    assert_int_equal(o->budget_bin_decisions[5], 1);
    assert_int_equal(o->budget_bin_expensive[5], 1);
    assert_int_equal(o->budget_bin_decisions[7], 1);
    assert_int_equal(o->budget_bin_expensive[7], 1);
    assert_int_equal(o->budget_bin_decisions[0] + o->budget_bin_decisions[6] +
                         o->budget_bin_decisions[8],
                     0);

    const sr_eval_metrics *c = find_row(&report, "always-cheapest");
    assert_true(fabs(c->mean_cost - 1.0 / 3) < TOLERANCE);
    assert_true(fabs(c->mean_quality - 0.35) < TOLERANCE);
    assert_true(fabs(c->oracle_gap_closed) < TOLERANCE);
    assert_true(c->model_share[1] == 1.0);
    /* Never the most expensive model: constant indicator again. */
    assert_true(c->p_expensive_slope == 0.0);

    const sr_eval_metrics *s = find_row(&report, "always-strongest");
    assert_true(fabs(s->mean_cost - 2.75 / 3) < TOLERANCE);
    sr_eval_report_free(&report);
    sr_dataset_free(&ds);
}

static void tiny_fallback_treatment(void **state)
{
    (void)state;
    static const char *const names[] = {"always:strong"};
    sr_dataset ds;
    sr_eval_report report;
    build_tiny(&ds, natural_order);
    run_report(&ds, names, 1, 1.0, SR_BANKRUPT_FALLBACK, &report);
    const sr_eval_metrics *m = &report.rows[0];

    /* b's second turn: strong (1/2) does not fit 1/4, weak (1/4) does and serves q 0. */
    assert_int_equal(m->bankrupt_sessions, 0);
    assert_true(m->bankruptcy_rate == 0.0);
    assert_int_equal(m->replaced_calls, 1);
    assert_int_equal(m->served_turns, 5);
    assert_true(fabs(m->mean_cost - 2.5 / 3) < TOLERANCE);
    assert_true(fabs(m->mean_quality - 0.75) < TOLERANCE);
    assert_true(fabs(m->mean_quality_served - 0.75) < TOLERANCE);
    assert_true(fabs(m->mean_return - 3.75 / 3) < TOLERANCE);
    assert_true(fabs(m->model_share[0] - 0.8) < TOLERANCE);
    assert_true(fabs(m->model_share[1] - 0.2) < TOLERANCE);
    assert_int_equal(report.mdp.bankrupt_mode, SR_BANKRUPT_FALLBACK);
    sr_eval_report_free(&report);
    sr_dataset_free(&ds);
}

static void budget_fractions_use_c_ref(void **state)
{
    (void)state;
    static const char *const names[] = {"always:weak"};
    static const double fractions[2] = {0.5, 1.0};
    sr_dataset ds;
    sr_eval_request request;
    sr_eval_report report;
    sr_error err;
    build_tiny(&ds, natural_order);

    /* C_ref: always-strong session costs 1, 5/4 and 1/2. */
    assert_int_equal(sr_eval_most_expensive(&ds), 0);
    assert_true(fabs(sr_eval_c_ref(&ds) - 2.75 / 3) < TOLERANCE);

    memset(&request, 0, sizeof(request));
    request.policies = names;
    request.n_policies = 1;
    request.budgets = fractions;
    request.n_budgets = 2;
    request.budgets_are_fractions = true;
    sr_eval_options_default(&request.eval);
    sr_policy_options_default(&request.policy);
    assert_int_equal(sr_eval_report_build(&ds, &request, &report, &err), SR_OK);
    assert_int_equal(report.n_rows, 2);
    assert_true(fabs(report.c_ref - 2.75 / 3) < TOLERANCE);
    assert_true(fabs(report.rows[0].budget - 0.5 * 2.75 / 3) < TOLERANCE);
    assert_true(report.rows[0].budget_frac == 0.5);
    assert_true(report.rows[1].budget_frac == 1.0);
    assert_false(report.c_ref_given);
    sr_eval_report_free(&report);

    /* A given C_ref (say the training split's) replaces the data's own. */
    request.c_ref = 2.0;
    assert_int_equal(sr_eval_report_build(&ds, &request, &report, &err), SR_OK);
    assert_true(report.c_ref_given);
    assert_true(report.c_ref == 2.0);
    assert_true(fabs(report.rows[0].budget - 1.0) < TOLERANCE);
    assert_true(fabs(report.rows[1].budget - 2.0) < TOLERANCE);
    sr_eval_report_free(&report);
    sr_dataset_free(&ds);
}

static void report_expands_all(void **state)
{
    (void)state;
    static const char *const names[] = {"all", "oracle"};
    sr_dataset ds;
    sr_eval_report report;
    build_tiny(&ds, natural_order);
    run_report(&ds, names, 2, 0.5, SR_BANKRUPT_UNSERVED, &report);

    /* random, heuristic, always-cheapest, always-strongest, two always:MODEL, oracle once. */
    assert_int_equal(report.n_rows, 7);
    assert_string_equal(report.rows[0].name, "random");
    assert_string_equal(report.rows[4].name, "always:strong");
    assert_string_equal(report.rows[6].name, "oracle");
    const sr_eval_metrics *oracle = find_row(&report, "oracle");
    for (size_t i = 0; i < report.n_rows; i++)
        assert_true(report.rows[i].mean_quality <= oracle->mean_quality + TOLERANCE);
    sr_eval_report_free(&report);
    sr_dataset_free(&ds);
}

static void report_rejects_unknown_policy(void **state)
{
    (void)state;
    static const char *const names[] = {"oracle", "always:stronk"};
    const double budget = 1.0;
    sr_dataset ds;
    sr_eval_request request;
    sr_eval_report report;
    sr_error err;
    build_tiny(&ds, natural_order);
    memset(&request, 0, sizeof(request));
    request.policies = names;
    request.n_policies = 2;
    request.budgets = &budget;
    request.n_budgets = 1;
    sr_eval_options_default(&request.eval);
    sr_policy_options_default(&request.policy);

    assert_int_equal(sr_eval_report_build(&ds, &request, &report, &err), SR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "always:stronk"));
    assert_non_null(strstr(err.message, "strong, weak"));
    assert_null(report.rows);

    const double negative = -1.0;
    request.policies = names;
    request.n_policies = 1;
    request.budgets = &negative;
    assert_int_equal(sr_eval_report_build(&ds, &request, &report, &err), SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

static void json_has_schema_keys(void **state)
{
    (void)state;
    static const char *const names[] = {"always:strong", "oracle"};
    static const char *const row_keys[] = {"name",
                                           "budget",
                                           "sessions",
                                           "mean_cost",
                                           "mean_cost_ci",
                                           "bankruptcy_rate",
                                           "bankruptcy_ci",
                                           "mean_quality",
                                           "mean_quality_served",
                                           "mean_return",
                                           "model_share",
                                           "oracle_gap_closed",
                                           "cost_reduction_vs_strongest",
                                           "p_expensive_slope"};
    sr_dataset ds;
    sr_eval_report report;
    sr_error err;
    build_tiny(&ds, natural_order);
    run_report(&ds, names, 2, 1.0, SR_BANKRUPT_UNSERVED, &report);

    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(sr_eval_report_write_json(&report, &ds, "tiny.jsonl", NULL, f, &err), SR_OK);
    rewind(f);
    json_error_t jerr;
    json_t *doc = json_loadf(f, 0, &jerr);
    fclose(f);
    assert_non_null(doc);

    assert_int_equal(json_integer_value(json_object_get(doc, "seed")), SR_EVAL_DEFAULT_SEED);
    assert_string_equal(json_string_value(json_object_get(doc, "data")), "tiny.jsonl");
    assert_int_equal(json_integer_value(json_object_get(doc, "sessions")), 3);
    assert_true(fabs(json_real_value(json_object_get(doc, "c_ref")) - 2.75 / 3) < TOLERANCE);
    json_t *settings = json_object_get(doc, "settings");
    assert_true(json_real_value(json_object_get(settings, "eta")) == 1.0);
    assert_string_equal(json_string_value(json_object_get(settings, "bankrupt")), "unserved");

    json_t *rows = json_object_get(doc, "rows");
    assert_int_equal(json_array_size(rows), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *row = json_array_get(rows, i);
        for (size_t k = 0; k < sizeof(row_keys) / sizeof(row_keys[0]); k++)
            if (json_object_get(row, row_keys[k]) == NULL)
                fail_msg("row %zu lacks key %s", i, row_keys[k]);
        /* Absolute budgets: no budget_frac key. */
        assert_null(json_object_get(row, "budget_frac"));
        assert_int_equal(json_array_size(json_object_get(row, "bankruptcy_ci")), 2);
    }
    json_t *first = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "always:strong");
    assert_true(json_real_value(json_object_get(json_object_get(first, "model_share"), "strong")) ==
                1.0);
    assert_true(fabs(json_real_value(json_object_get(first, "bankruptcy_rate")) - 1.0 / 3) <
                TOLERANCE);
    json_decref(doc);
    sr_eval_report_free(&report);
    sr_dataset_free(&ds);
}

/* ---- random: order independence through a recording wrapper ----------------- */

typedef struct recorder {
    sr_policy *inner;
    int actions[3][2]; /* by session id letter and turn */
} recorder;

static int recorder_act(sr_policy *policy, const sr_policy_state *state)
{
    recorder *r = policy->impl;
    const int action = r->inner->act(r->inner, state);
    const char *id = state->ds->sessions[state->session].id;
    r->actions[id[0] - 'a'][state->t] = action;
    return action;
}

static void recorder_destroy(sr_policy *policy)
{
    (void)policy; /* lives on the test's stack */
}

static void record_random(const int order[3], uint64_t seed, int actions[3][2])
{
    sr_dataset ds;
    sr_error err;
    sr_eval_options options;
    sr_eval_metrics metrics;
    recorder r;
    sr_policy wrapper;
    build_tiny(&ds, order);
    memset(&r, 0, sizeof(r));
    memset(&wrapper, 0, sizeof(wrapper));
    assert_int_equal(sr_policy_create("random", &ds, NULL, &r.inner, &err), SR_OK);
    snprintf(wrapper.name, sizeof(wrapper.name), "recorded random");
    wrapper.impl = &r;
    wrapper.act = recorder_act;
    wrapper.destroy = recorder_destroy;
    sr_eval_options_default(&options);
    options.seed = seed;

    /* Budget 10 never binds, so every turn is decided. */
    assert_int_equal(sr_eval_policy(&wrapper, &ds, 10.0, &options, &metrics, &err), SR_OK);
    memcpy(actions, r.actions, sizeof(r.actions));
    sr_policy_free(r.inner);
    sr_dataset_free(&ds);
}

static void random_ignores_session_order(void **state)
{
    (void)state;
    static const int shuffled[3] = {2, 0, 1};
    int first[3][2];
    int again[3][2];
    int reordered[3][2];
    record_random(natural_order, 11, first);
    record_random(natural_order, 11, again);
    record_random(shuffled, 11, reordered);
    assert_memory_equal(first, again, sizeof(first));
    assert_memory_equal(first, reordered, sizeof(first));
}

/* Many sessions with varied costs, for whole-run determinism. */
static void build_many(sr_dataset *ds, int n_sessions)
{
    sr_error err;
    sr_rng rng;
    sr_rng_seed(&rng, 3);
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "x", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "y", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "z", NAN, NAN, NAN, false, &err), SR_OK);
    for (int s = 0; s < n_sessions; s++) {
        char id[32];
        snprintf(id, sizeof(id), "s%d", s);
        assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
        const int turns = 1 + (int)sr_rng_below(&rng, 5);
        for (int t = 0; t < turns; t++) {
            size_t j;
            assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
            for (int m = 0; m < 3; m++)
                assert_int_equal(sr_dataset_set_outcome(ds, j, m, sr_rng_uniform(&rng),
                                                        sr_rng_uniform(&rng) / (m + 1), NAN, NAN,
                                                        &err),
                                 SR_OK);
        }
    }
}

static void evaluation_is_deterministic(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_policy *policy = NULL;
    sr_eval_options options;
    sr_eval_metrics first, second, other;
    sr_error err;
    build_many(&ds, 300);
    assert_int_equal(sr_policy_create("random", &ds, NULL, &policy, &err), SR_OK);
    sr_eval_options_default(&options);
    options.seed = 5;

    assert_int_equal(sr_eval_policy(policy, &ds, 0.8, &options, &first, &err), SR_OK);
    assert_int_equal(sr_eval_policy(policy, &ds, 0.8, &options, &second, &err), SR_OK);
    assert_memory_equal(&first, &second, sizeof(first));
    options.seed = 6;
    assert_int_equal(sr_eval_policy(policy, &ds, 0.8, &options, &other, &err), SR_OK);
    assert_true(first.mean_cost != other.mean_cost);
    sr_policy_free(policy);
    sr_dataset_free(&ds);
}

/* A policy that returns an index outside the catalogue. */
static int bad_act(sr_policy *policy, const sr_policy_state *state)
{
    (void)policy;
    (void)state;
    return 7;
}

static void no_destroy(sr_policy *policy)
{
    (void)policy;
}

static void eval_rejects_bad_input(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_eval_options options;
    sr_eval_metrics metrics;
    sr_error err;
    sr_policy *policy = NULL;
    build_tiny(&ds, natural_order);
    assert_int_equal(sr_policy_create("always:weak", &ds, NULL, &policy, &err), SR_OK);
    sr_eval_options_default(&options);

    assert_int_equal(sr_eval_policy(policy, &ds, -0.5, &options, &metrics, &err), SR_ERR_INVALID);
    assert_int_equal(sr_eval_policy(policy, &ds, NAN, &options, &metrics, &err), SR_ERR_INVALID);
    options.mdp.horizon = 1;
    assert_int_equal(sr_eval_policy(policy, &ds, 1.0, &options, &metrics, &err), SR_ERR_INVALID);
    sr_eval_options_default(&options);
    options.mdp.bankrupt_mode = SR_BANKRUPT_FALLBACK; /* with no fallback index */
    assert_int_equal(sr_eval_policy(policy, &ds, 1.0, &options, &metrics, &err), SR_ERR_INVALID);
    sr_eval_options_default(&options);

    sr_policy bad;
    memset(&bad, 0, sizeof(bad));
    snprintf(bad.name, sizeof(bad.name), "bad");
    bad.act = bad_act;
    bad.destroy = no_destroy;
    assert_int_equal(sr_eval_policy(&bad, &ds, 1.0, &options, &metrics, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "action 7"));

    sr_dataset empty;
    sr_dataset_init(&empty);
    assert_int_equal(sr_dataset_add_model(&empty, "weak", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_eval_policy(policy, &empty, 1.0, &options, &metrics, &err), SR_ERR_INVALID);
    sr_dataset_free(&empty);

    /* Logged-only data: the policy calls a model without an outcome. */
    sr_dataset logged;
    size_t j;
    sr_dataset_init(&logged);
    assert_int_equal(sr_dataset_add_model(&logged, "strong", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&logged, "weak", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&logged, "only", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&logged, NULL, NULL, 0, NULL, 0, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&logged, j, 0, 0.5, 0.25, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_eval_policy(policy, &logged, 1.0, &options, &metrics, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "only"));
    assert_non_null(strstr(err.message, "weak"));
    sr_dataset_free(&logged);

    sr_policy_free(policy);
    sr_dataset_free(&ds);
}

/*
 * Costs that are each finite but sum past the largest double: per-session
 * spend and its mean would be infinite, and the running variance NaN (the
 * table printed "-nan").  Evaluation rejects the data and names the model.
 */
static void eval_rejects_overflowing_costs(void **state)
{
    (void)state;
    static const char *const names[] = {"always:big"};
    const double budget = 1.0;
    sr_dataset ds;
    sr_eval_request request;
    sr_eval_report report;
    sr_eval_options options;
    sr_eval_metrics metrics;
    sr_error err;
    sr_policy *policy = NULL;
    size_t j;

    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "big", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "small", NAN, NAN, NAN, false, &err), SR_OK);
    for (int i = 0; i < 2; i++) {
        char id[8];
        snprintf(id, sizeof(id), "s%d", i);
        assert_int_equal(sr_dataset_begin_session(&ds, id, NAN, &err), SR_OK);
        assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
        assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.9, 1e308, NAN, NAN, &err), SR_OK);
        assert_int_equal(sr_dataset_set_outcome(&ds, j, 1, 0.5, 1e-3, NAN, NAN, &err), SR_OK);
    }

    memset(&request, 0, sizeof(request));
    request.policies = names;
    request.n_policies = 1;
    request.budgets = &budget;
    request.n_budgets = 1;
    sr_eval_options_default(&request.eval);
    sr_policy_options_default(&request.policy);
    assert_int_equal(sr_eval_report_build(&ds, &request, &report, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "'big'"));
    assert_string_equal(err.field, "cost");
    assert_null(report.rows);

    assert_int_equal(sr_policy_create("always:big", &ds, NULL, &policy, &err), SR_OK);
    sr_eval_options_default(&options);
    assert_int_equal(sr_eval_policy(policy, &ds, budget, &options, &metrics, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "'big'"));
    sr_policy_free(policy);
    sr_dataset_free(&ds);
}

/*
 * The frontier analysis on the tiny set at budget 1 with the heuristic swept
 * over reserves 0 and 1.  Always-cheapest (weak) costs (1/4 + 1/2 + 1/4) / 3
 * = 1/3 per session and serves quality (3/4 + 1/2 + 1/2) / 5 = 0.35 per
 * turn; it is the anchor, so the AIQ range starts at 1/3 and its own AIQ is
 * its quality.  No CQL policy is requested, so the dominance table is empty.
 */
static void frontier_sweeps_heuristic(void **state)
{
    (void)state;
    static const char *const names[] = {"heuristic", "always-cheapest", "oracle"};
    static const double reserves[] = {0.0, 1.0};
    const double budget = 1.0;
    sr_dataset ds;
    sr_eval_request request;
    sr_eval_report report;
    sr_error err;
    build_tiny(&ds, natural_order);
    memset(&request, 0, sizeof(request));
    request.policies = names;
    request.n_policies = 3;
    request.budgets = &budget;
    request.n_budgets = 1;
    request.reserves = reserves;
    request.n_reserves = 2;
    request.frontier = true;
    sr_eval_options_default(&request.eval);
    sr_policy_options_default(&request.policy);
    assert_int_equal(sr_eval_report_build(&ds, &request, &report, &err), SR_OK);

    assert_int_equal(report.n_rows, 4);
    assert_int_equal(report.n_families, 3);
    assert_true(report.rows[0].reserve == 0.0);
    assert_true(report.rows[1].reserve == 1.0);
    assert_true(isnan(report.rows[2].reserve));
    assert_int_equal(report.rows[0].family, 0);
    assert_int_equal(report.rows[1].family, 0);
    assert_int_equal(report.families[0].sweep, SR_EVAL_SWEEP_RESERVE);
    assert_false(report.families[2].deployable);

    assert_int_equal(report.n_frontiers, 1);
    assert_int_equal(report.frontiers[0].first_row, 0);
    assert_int_equal(report.frontiers[0].n_points, 2);
    assert_true(fabs(report.aiq_ranges[0].lo - 1.0 / 3) < TOLERANCE);
    assert_true(report.aiq_ranges[0].hi >= report.aiq_ranges[0].lo);
    assert_true(fabs(report.aiq[1] - 0.35) < TOLERANCE);
    assert_true(isnan(report.aiq[2]));
    assert_true(report.aiq[0] >= report.aiq[1] - TOLERANCE);
    assert_int_equal(report.n_dominance, 0);

    /* The JSON carries the three sections. */
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    assert_int_equal(sr_eval_report_write_json(&report, &ds, "tiny", NULL, out, &err), SR_OK);
    fclose(out);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    assert_true(json_is_array(json_object_get(doc, "frontiers")));
    assert_true(json_is_object(json_object_get(doc, "aiq")));
    assert_true(json_is_array(json_object_get(doc, "dominance")));
    json_t *points = json_object_get(json_array_get(json_object_get(doc, "frontiers"), 0),
                                     "points");
    assert_int_equal(json_array_size(points), 2);
    json_decref(doc);
    free(text);
    sr_eval_report_free(&report);
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wilson_interval),
        cmocka_unit_test(tiny_always_strong),
        cmocka_unit_test(tiny_oracle_and_cheapest),
        cmocka_unit_test(tiny_fallback_treatment),
        cmocka_unit_test(budget_fractions_use_c_ref),
        cmocka_unit_test(report_expands_all),
        cmocka_unit_test(report_rejects_unknown_policy),
        cmocka_unit_test(json_has_schema_keys),
        cmocka_unit_test(random_ignores_session_order),
        cmocka_unit_test(evaluation_is_deterministic),
        cmocka_unit_test(eval_rejects_bad_input),
        cmocka_unit_test(eval_rejects_overflowing_costs),
        cmocka_unit_test(frontier_sweeps_heuristic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
