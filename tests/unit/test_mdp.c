/*
 * test_mdp.c - one step of the Session-Budget MDP against hand-computed
 * cases: budget bookkeeping, bankruptcy at exactly-equal budgets, the
 * bankrupt last turn, the horizon cut against termination, sessions of one
 * and fifty turns, the fallback treatment and argument errors.
 *
 * Costs are dyadic fractions (multiples of 1/64) wherever a sum is compared
 * exactly, so the expected budgets are exact in binary floating point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "seqroute/mdp.h"

/* One model's outcome on one turn. */
typedef struct qc {
    double q;
    double c;
} qc;

/*
 * Builds a dataset with models "strong" and "weak" (weak is the fallback)
 * and one session per call, whose turns take outcomes from `turns`
 * (n_turns rows of two entries: strong, weak).
 */
static void add_session(sr_dataset *ds, const char *id, const qc (*turns)[2], int n_turns)
{
    sr_error err;
    assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
    for (int t = 0; t < n_turns; t++) {
        size_t j;
        assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
        for (int k = 0; k < 2; k++)
            assert_int_equal(
                sr_dataset_set_outcome(ds, j, k, turns[t][k].q, turns[t][k].c, NAN, NAN, &err),
                SR_OK);
    }
}

static void init_two_models(sr_dataset *ds)
{
    sr_error err;
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, NAN, true, &err), SR_OK);
}

/* Two turns: strong costs 0.5 then 0.5, weak 0.125 then 0.25. */
static const qc two_turns[2][2] = {
    {{0.75, 0.5}, {0.5, 0.125}},
    {{1.0, 0.5}, {0.25, 0.25}},
};

static void step_updates_budget(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", two_turns, 2);
    sr_mdp_config_default(&config);

    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 2.0, 1, &r, &err), SR_OK);
    assert_int_equal(r.requested, 1);
    assert_int_equal(r.called, 1);
    assert_false(r.replaced);
    assert_true(r.quality == 0.5);
    assert_true(r.cost == 0.125);
    assert_true(r.reward == 0.5);
    assert_true(r.budget == 1.875);
    assert_false(r.bankrupt);
    assert_false(r.done);
    assert_false(r.terminal);
    assert_int_equal(r.end, SR_END_NONE);
    sr_dataset_free(&ds);
}

static void bankrupt_on_last_turn(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", two_turns, 2);
    sr_mdp_config_default(&config);

    /* Turn 0 with strong: 0.75 - 0.5 leaves 0.25; turn 1 strong costs 0.5. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.75, 0, &r, &err), SR_OK);
    assert_true(r.budget == 0.25);
    assert_false(r.bankrupt);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 1, r.budget, 0, &r, &err), SR_OK);
    assert_true(r.bankrupt);
    assert_true(r.reward == 1.0 - 1.0); /* q - eta */
    assert_true(r.cost == 0.5);
    assert_true(r.budget == -0.25);
    assert_true(r.done);
    assert_true(r.terminal);
    assert_int_equal(r.end, SR_END_BANKRUPT);
    sr_dataset_free(&ds);
}

static void bankrupt_beats_horizon(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", two_turns, 2);
    sr_mdp_config_default(&config);
    config.horizon = 2; /* the cut falls on the last turn, where bankruptcy happens */
    config.eta = 2.5;

    assert_int_equal(sr_mdp_step(&config, &ds, 0, 1, 0.25, 0, &r, &err), SR_OK);
    assert_true(r.bankrupt);
    assert_true(r.reward == 1.0 - 2.5);
    assert_int_equal(r.end, SR_END_BANKRUPT);
    assert_true(r.terminal);

    /* Same step within budget: the last turn also wins over the cut. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 1, 0.5, 0, &r, &err), SR_OK);
    assert_false(r.bankrupt);
    assert_int_equal(r.end, SR_END_LAST_TURN);
    assert_true(r.terminal);
    sr_dataset_free(&ds);
}

static void horizon_truncates(void **state)
{
    (void)state;
    static const qc three[3][2] = {
        {{1, 0.25}, {0.5, 0.125}}, {{1, 0.25}, {0.5, 0.125}}, {{1, 0.25}, {0.5, 0.125}}};
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", three, 3);
    sr_mdp_config_default(&config);
    config.horizon = 2;

    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 1.0, 0, &r, &err), SR_OK);
    assert_int_equal(r.end, SR_END_NONE);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 1, r.budget, 0, &r, &err), SR_OK);
    assert_true(r.done);
    assert_false(r.terminal);
    assert_int_equal(r.end, SR_END_HORIZON);
    assert_true(r.reward == 1.0);
    assert_true(r.budget == 0.5);
    sr_dataset_free(&ds);
}

static void equal_budget_not_bankrupt(void **state)
{
    (void)state;
    /* 0.3 is not dyadic: 0.3 - 0.3 is still exactly 0 and must not bankrupt. */
    static const qc turns[3][2] = {
        {{0.9, 0.3}, {0.5, 0.1}}, {{0.9, 0.3}, {0.5, 0.0}}, {{0.9, 0.3}, {0.5, 0.1}}};
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", turns, 3);
    sr_mdp_config_default(&config);

    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.3, 0, &r, &err), SR_OK);
    assert_false(r.bankrupt);
    assert_true(r.budget == 0.0);
    assert_true(r.reward == 0.9);
    assert_int_equal(r.end, SR_END_NONE);

    /* A zero-cost call with nothing left still fits. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 1, r.budget, 1, &r, &err), SR_OK);
    assert_false(r.bankrupt);
    assert_true(r.budget == 0.0);

    /* The next non-zero-cost call is bankrupt. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 2, r.budget, 1, &r, &err), SR_OK);
    assert_true(r.bankrupt);
    assert_true(r.budget == -0.1);
    assert_true(r.reward == 0.5 - 1.0);
    assert_int_equal(r.end, SR_END_BANKRUPT);
    sr_dataset_free(&ds);
}

static void session_of_one_turn(void **state)
{
    (void)state;
    static const qc one[1][2] = {{{0.8, 0.5}, {0.4, 0.25}}};
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", one, 1);
    sr_mdp_config_default(&config);

    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.5, 0, &r, &err), SR_OK);
    assert_false(r.bankrupt);
    assert_true(r.done);
    assert_true(r.terminal);
    assert_int_equal(r.end, SR_END_LAST_TURN);
    assert_true(r.budget == 0.0);

    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.125, 0, &r, &err), SR_OK);
    assert_true(r.bankrupt);
    assert_int_equal(r.end, SR_END_BANKRUPT);
    assert_true(r.reward == 0.8 - 1.0);
    sr_dataset_free(&ds);
}

/* Walks all 50 turns with strong (cost 1/64 each) and returns the last step. */
static void walk_fifty(const sr_dataset *ds, double budget, sr_mdp_step_result *last, int *steps,
                       double *total_return)
{
    sr_mdp_config config;
    sr_error err;
    sr_mdp_config_default(&config);
    *steps = 0;
    *total_return = 0;
    for (int t = 0; t < 50; t++) {
        assert_int_equal(sr_mdp_step(&config, ds, 0, t, budget, 0, last, &err), SR_OK);
        (*steps)++;
        *total_return += last->reward;
        budget = last->budget;
        if (last->done)
            break;
    }
}

static void session_of_fifty_turns(void **state)
{
    (void)state;
    qc turns[50][2];
    for (int t = 0; t < 50; t++) {
        turns[t][0] = (qc){0.75, 1.0 / 64};
        turns[t][1] = (qc){0.25, 1.0 / 128};
    }
    sr_dataset ds;
    init_two_models(&ds);
    add_session(&ds, "long", (const qc(*)[2])turns, 50);

    /* Budget exactly 50/64: every turn is served and nothing is left. */
    sr_mdp_step_result r;
    int steps;
    double total;
    walk_fifty(&ds, 50.0 / 64, &r, &steps, &total);
    assert_int_equal(steps, 50);
    assert_false(r.bankrupt);
    assert_int_equal(r.end, SR_END_LAST_TURN);
    assert_true(r.budget == 0.0);
    assert_true(total == 50 * 0.75);

    /* One call short: bankrupt on the fiftieth turn. */
    walk_fifty(&ds, 49.0 / 64, &r, &steps, &total);
    assert_int_equal(steps, 50);
    assert_true(r.bankrupt);
    assert_int_equal(r.end, SR_END_BANKRUPT);
    assert_true(r.budget == -1.0 / 64);
    assert_true(total == 49 * 0.75 + (0.75 - 1.0));
    sr_dataset_free(&ds);
}

static void fallback_replaces_unaffordable(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", two_turns, 2);
    sr_mdp_config_default(&config);
    config.bankrupt_mode = SR_BANKRUPT_FALLBACK;
    config.fallback_model = sr_mdp_find_fallback(&ds.catalogue);
    assert_int_equal(config.fallback_model, 1);
    assert_int_equal(sr_mdp_config_check(&config, &ds.catalogue, &err), SR_OK);

    /* Strong (0.5) does not fit 0.25; weak (0.125) does and is called instead. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.25, 0, &r, &err), SR_OK);
    assert_int_equal(r.requested, 0);
    assert_int_equal(r.called, 1);
    assert_true(r.replaced);
    assert_false(r.bankrupt);
    assert_true(r.quality == 0.5);
    assert_true(r.cost == 0.125);
    assert_true(r.budget == 0.125);
    assert_true(r.reward == 0.5);

    /* An affordable request is not replaced. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.5, 0, &r, &err), SR_OK);
    assert_int_equal(r.called, 0);
    assert_false(r.replaced);
    assert_true(r.budget == 0.0);

    /* Neither fits 0.0625: the fallback call is made and overspends. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.0625, 0, &r, &err), SR_OK);
    assert_int_equal(r.called, 1);
    assert_true(r.replaced);
    assert_true(r.bankrupt);
    assert_true(r.cost == 0.125);
    assert_true(r.reward == 0.5 - 1.0);
    assert_int_equal(r.end, SR_END_BANKRUPT);

    /* Requesting the unaffordable fallback itself is bankrupt without replacement. */
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.0625, 1, &r, &err), SR_OK);
    assert_false(r.replaced);
    assert_true(r.bankrupt);

    /* The unserved treatment makes the requested call and goes bankrupt on it. */
    config.bankrupt_mode = SR_BANKRUPT_UNSERVED;
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 0.25, 0, &r, &err), SR_OK);
    assert_int_equal(r.called, 0);
    assert_true(r.bankrupt);
    assert_true(r.cost == 0.5);
    assert_true(r.reward == 0.75 - 1.0);
    sr_dataset_free(&ds);
}

static void step_rejects_bad_arguments(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    init_two_models(&ds);
    add_session(&ds, "s", two_turns, 2);
    sr_mdp_config_default(&config);

    assert_int_equal(sr_mdp_step(&config, &ds, 1, 0, 1.0, 0, &r, &err), SR_ERR_INVALID);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 2, 1.0, 0, &r, &err), SR_ERR_INVALID);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, -1, 1.0, 0, &r, &err), SR_ERR_INVALID);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 1.0, 2, &r, &err), SR_ERR_INVALID);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 1.0, -1, &r, &err), SR_ERR_INVALID);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, -0.25, 0, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "-0.25"));
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, NAN, 0, &r, &err), SR_ERR_INVALID);
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, INFINITY, 0, &r, &err), SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

static void step_rejects_absent_outcome(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_mdp_step_result r;
    sr_error err;
    size_t j;
    init_two_models(&ds);
    assert_int_equal(sr_dataset_begin_session(&ds, "logged", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, 1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 1, 0.5, 0.25, NAN, NAN, &err), SR_OK);
    sr_mdp_config_default(&config);

    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 1.0, 0, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "logged"));
    assert_non_null(strstr(err.message, "strong"));
    assert_int_equal(sr_mdp_step(&config, &ds, 0, 0, 1.0, 1, &r, &err), SR_OK);
    sr_dataset_free(&ds);
}

static void config_check_rejects(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    init_two_models(&ds);

    sr_mdp_config_default(&config);
    assert_true(config.eta == 1.0);
    assert_true(config.gamma == 0.99);
    assert_int_equal(config.horizon, 0);
    assert_int_equal(config.bankrupt_mode, SR_BANKRUPT_UNSERVED);
    assert_int_equal(sr_mdp_config_check(&config, &ds.catalogue, &err), SR_OK);

    config.eta = -0.5;
    assert_int_equal(sr_mdp_config_check(&config, &ds.catalogue, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "eta");
    sr_mdp_config_default(&config);
    config.gamma = 1.5;
    assert_int_equal(sr_mdp_config_check(&config, &ds.catalogue, &err), SR_ERR_INVALID);
    sr_mdp_config_default(&config);
    config.horizon = -1;
    assert_int_equal(sr_mdp_config_check(&config, &ds.catalogue, &err), SR_ERR_INVALID);
    sr_mdp_config_default(&config);
    config.bankrupt_mode = SR_BANKRUPT_FALLBACK;
    assert_int_equal(sr_mdp_config_check(&config, &ds.catalogue, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "fallback");
    config.fallback_model = 2;
    assert_int_equal(sr_mdp_config_check(&config, &ds.catalogue, &err), SR_ERR_INVALID);

    assert_string_equal(sr_end_reason_name(SR_END_BANKRUPT), "bankrupt");
    assert_string_equal(sr_end_reason_name(SR_END_HORIZON), "horizon");
    assert_string_equal(sr_bankrupt_mode_name(SR_BANKRUPT_FALLBACK), "fallback");
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(step_updates_budget),
        cmocka_unit_test(bankrupt_on_last_turn),
        cmocka_unit_test(bankrupt_beats_horizon),
        cmocka_unit_test(horizon_truncates),
        cmocka_unit_test(equal_budget_not_bankrupt),
        cmocka_unit_test(session_of_one_turn),
        cmocka_unit_test(session_of_fifty_turns),
        cmocka_unit_test(fallback_replaces_unaffordable),
        cmocka_unit_test(step_rejects_bad_arguments),
        cmocka_unit_test(step_rejects_absent_outcome),
        cmocka_unit_test(config_check_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
