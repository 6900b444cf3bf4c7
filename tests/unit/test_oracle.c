/*
 * test_oracle.c - the hindsight oracle against brute-force enumeration.
 *
 * The reference enumerates all K^T request sequences of a session and runs
 * each through sr_mdp_step, so it shares no code with the dynamic program
 * except the simulator it must agree with.  Random sessions cover K up to 4,
 * T up to 6, real and dyadic costs, zero costs, budgets equal to a path's
 * exact cost, both bankruptcy treatments, several penalties and negative
 * qualities.  The returned plan is replayed through the simulator and must
 * reach the claimed return.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/policy.h"

#define MAX_K 4
#define MAX_T 6
#define RANDOM_CASES 3000
/* Agreement bound on returns; sums of at most six terms differ by far less. */
#define RETURN_TOLERANCE 1e-12

typedef struct reference_result {
    double best;       /* the largest return over all paths */
    double best_spent; /* the lowest spend among paths with exactly that return */
} reference_result;

/* Runs the request sequence `path` through the simulator. */
static void simulate(const sr_mdp_config *config, const sr_dataset *ds, double budget,
                     const int *path, double *total, double *spent, bool *bankrupt, int *steps)
{
    sr_error err;
    *total = 0;
    *spent = 0;
    *bankrupt = false;
    *steps = 0;
    for (int t = 0; t < ds->sessions[0].n_turns; t++) {
        sr_mdp_step_result r;
        assert_int_equal(sr_mdp_step(config, ds, 0, t, budget, path[t], &r, &err), SR_OK);
        *total += r.reward;
        *spent += r.cost;
        (*steps)++;
        budget = r.budget;
        if (r.done) {
            *bankrupt = r.bankrupt;
            break;
        }
    }
}

/* Enumerates every request sequence of session 0, counting in base K. */
static reference_result brute_force(const sr_mdp_config *config, const sr_dataset *ds,
                                    double budget)
{
    const int k = ds->catalogue.n_models;
    const int n = ds->sessions[0].n_turns;
    int path[MAX_T] = {0};
    reference_result result = {-INFINITY, INFINITY};
    for (;;) {
        double total, spent;
        bool bankrupt;
        int steps;
        simulate(config, ds, budget, path, &total, &spent, &bankrupt, &steps);
        if (total > result.best) {
            result.best = total;
            result.best_spent = spent;
        } else if (total == result.best && spent < result.best_spent) {
            result.best_spent = spent;
        }

        int t = 0;
        while (t < n && ++path[t] == k)
            path[t++] = 0;
        if (t == n)
            break;
    }
    return result;
}

/* Uniform draw in [0, 1) from the test's seeded generator. */
static double draw(sr_rng *rng)
{
    return sr_rng_uniform(rng);
}

typedef struct case_shape {
    bool dyadic;        /* costs and qualities on a 1/16 grid: sums are exact */
    bool negative;      /* qualities in [-1, 1] instead of [0, 1] */
    bool positive_only; /* qualities in {1/4, ..., 1}: ties in return are exact */
} case_shape;

/* Builds one random session into `ds` and returns a budget for it. */
static double random_case(sr_rng *rng, const case_shape *shape, sr_dataset *ds)
{
    sr_error err;
    const int k = 1 + (int)sr_rng_below(rng, MAX_K);
    const int n = 1 + (int)sr_rng_below(rng, MAX_T);
    const char *names[MAX_K] = {"a", "b", "c", "d"};

    sr_dataset_init(ds);
    if (shape->negative)
        ds->catalogue.quality_min = -1.0;
    for (int m = 0; m < k; m++)
        assert_int_equal(sr_dataset_add_model(ds, names[m], NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(ds, "case", NAN, &err), SR_OK);

    double costs[MAX_T][MAX_K];
    for (int t = 0; t < n; t++) {
        size_t j;
        assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
        for (int m = 0; m < k; m++) {
            double c = shape->dyadic ? (double)sr_rng_below(rng, 9) / 16 : draw(rng);
            if (sr_rng_below(rng, 10) == 0)
                c = 0; /* free calls */
            if (m > 0 && sr_rng_below(rng, 6) == 0)
                c = costs[t][m - 1]; /* equal costs */
            double q = shape->dyadic ? (double)sr_rng_below(rng, 17) / 16 : draw(rng);
            if (shape->positive_only)
                q = (double)(1 + sr_rng_below(rng, 4)) / 4;
            if (shape->negative)
                q = 2 * q - 1;
            costs[t][m] = c;
            assert_int_equal(sr_dataset_set_outcome(ds, j, m, q, c, NAN, NAN, &err), SR_OK);
        }
    }

    /* Budgets: an exact path cost (walked back from 0), a prefix of one, random, or 0. */
    switch (sr_rng_below(rng, 4)) {
    case 0: {
        double b = 0;
        for (int t = n - 1; t >= 0; t--)
            b += costs[t][sr_rng_below(rng, (uint64_t)k)];
        return b;
    }
    case 1: {
        double b = 0;
        const int stop = (int)sr_rng_below(rng, (uint64_t)n);
        for (int t = stop; t >= 0; t--)
            b += costs[t][sr_rng_below(rng, (uint64_t)k)];
        return b;
    }
    case 2:
        return draw(rng) * n * (shape->dyadic ? 0.5 : 1.0);
    default:
        return 0;
    }
}

static void random_config(sr_rng *rng, const sr_dataset *ds, sr_mdp_config *config)
{
    static const double etas[4] = {0.0, 0.25, 1.0, 3.0};
    sr_mdp_config_default(config);
    config->eta = etas[sr_rng_below(rng, 4)];
    if (sr_rng_below(rng, 2) == 0) {
        config->bankrupt_mode = SR_BANKRUPT_FALLBACK;
        config->fallback_model = (int)sr_rng_below(rng, (uint64_t)ds->catalogue.n_models);
    }
}

/* Solves, compares with brute force and replays the plan. */
static void check_case(const sr_mdp_config *config, const sr_dataset *ds, double budget,
                       bool check_ties, int case_index)
{
    sr_error err;
    int plan_actions[MAX_T];
    sr_oracle_plan plan;
    assert_int_equal(sr_oracle_solve(config, ds, 0, budget, plan_actions, &plan, &err), SR_OK);

    const reference_result ref = brute_force(config, ds, budget);
    if (fabs(plan.value - ref.best) > RETURN_TOLERANCE)
        fail_msg("case %d: oracle return %.17g, brute force %.17g", case_index, plan.value,
                 ref.best);

    double total, spent;
    bool bankrupt;
    int steps;
    simulate(config, ds, budget, plan_actions, &total, &spent, &bankrupt, &steps);
    assert_true(total == plan.value);
    assert_int_equal(steps, plan.n_actions);
    assert_int_equal(bankrupt, plan.bankrupt);
    assert_true(fabs(spent - plan.spent) <= RETURN_TOLERANCE);
    for (int t = plan.n_actions; t < ds->sessions[0].n_turns; t++)
        assert_int_equal(plan_actions[t], -1);
    if (check_ties && spent != ref.best_spent)
        fail_msg("case %d: oracle spends %.17g, cheapest optimal path %.17g", case_index, spent,
                 ref.best_spent);
}

static void oracle_matches_brute_force(void **state)
{
    (void)state;
    sr_rng rng;
    sr_rng_seed(&rng, 20261204);
    for (int i = 0; i < RANDOM_CASES; i++) {
        const case_shape shape = {sr_rng_below(&rng, 3) == 0, false, false};
        sr_dataset ds;
        sr_mdp_config config;
        const double budget = random_case(&rng, &shape, &ds);
        random_config(&rng, &ds, &config);
        check_case(&config, &ds, budget, false, i);
        sr_dataset_free(&ds);
    }
}

static void oracle_negative_qualities(void **state)
{
    (void)state;
    sr_rng rng;
    sr_rng_seed(&rng, 7);
    for (int i = 0; i < RANDOM_CASES; i++) {
        const case_shape shape = {sr_rng_below(&rng, 2) == 0, true, false};
        sr_dataset ds;
        sr_mdp_config config;
        const double budget = random_case(&rng, &shape, &ds);
        random_config(&rng, &ds, &config);
        check_case(&config, &ds, budget, false, i);
        sr_dataset_free(&ds);
    }
}

static void oracle_ties_go_cheaper(void **state)
{
    (void)state;
    sr_rng rng;
    sr_rng_seed(&rng, 99);
    for (int i = 0; i < RANDOM_CASES; i++) {
        const case_shape shape = {true, false, true};
        sr_dataset ds;
        sr_mdp_config config;
        const double budget = random_case(&rng, &shape, &ds);
        random_config(&rng, &ds, &config);
        if (config.eta == 0)
            config.eta = 1.0; /* ties are exact only with a positive penalty */
        check_case(&config, &ds, budget, true, i);
        sr_dataset_free(&ds);
    }
}

/* Two models, three turns, worked out by hand. */
static void oracle_hand_case(void **state)
{
    (void)state;
    static const double q[3][2] = {{0.5, 0.25}, {1.0, 0.0}, {0.75, 0.5}};
    static const double c[3][2] = {{0.5, 0.125}, {0.5, 0.125}, {0.5, 0.125}};
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "strong", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "weak", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "hand", NAN, &err), SR_OK);
    for (int t = 0; t < 3; t++) {
        size_t j;
        assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
        for (int m = 0; m < 2; m++)
            assert_int_equal(sr_dataset_set_outcome(&ds, j, m, q[t][m], c[t][m], NAN, NAN, &err),
                             SR_OK);
    }
    sr_mdp_config_default(&config);

    /* Budget 0.75: strong only on turn 1 (weak, strong, weak) gives 0.25 + 1 + 0.5. */
    int actions[3];
    sr_oracle_plan plan;
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, 0.75, actions, &plan, &err), SR_OK);
    assert_true(plan.value == 1.75);
    assert_true(plan.spent == 0.75);
    assert_false(plan.bankrupt);
    assert_int_equal(actions[0], 1);
    assert_int_equal(actions[1], 0);
    assert_int_equal(actions[2], 1);

    /*
     * Budget 0.25: no path fits all three turns.  Weak then a bankrupt strong
     * call on turn 1 earns 0.25 + (1 - 1) = 0.25, more than weak, weak and a
     * bankrupt strong turn 2 (0.25 + 0 + 0.75 - 1 = 0).
     */
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, 0.25, actions, &plan, &err), SR_OK);
    assert_true(plan.value == 0.25);
    assert_true(plan.bankrupt);
    assert_int_equal(plan.n_actions, 2);
    assert_int_equal(actions[0], 1);
    assert_int_equal(actions[1], 0);
    assert_int_equal(actions[2], -1);
    assert_true(plan.spent == 0.625);

    /* Budget 0: the first call is bankrupt; strong earns 0.5 - 1. */
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, 0.0, actions, &plan, &err), SR_OK);
    assert_true(plan.value == 0.5 - 1.0);
    assert_int_equal(plan.n_actions, 1);
    assert_int_equal(actions[0], 0);
    assert_int_equal(actions[1], -1);
    sr_dataset_free(&ds);
}

/*
 * A richer state is not always better when qualities can be negative: after
 * turn 0, "a" leaves (budget 1, quality 0.5) and "b" leaves (0.5, 0.4).  On
 * turn 1 the poorer state goes bankrupt for 0.4 + 0.5 - 0.25 = 0.65 while
 * the richer one can pay and must then take turn 2's -1 for a total of 0.
 * Plain Pareto pruning would drop the poorer state and return 0.
 */
static void oracle_negative_quality_margin(void **state)
{
    (void)state;
    static const double q[3][2] = {{0.5, 0.4}, {0.5, 0.5}, {-1.0, -1.0}};
    static const double c[3][2] = {{0.0, 0.5}, {0.75, 0.75}, {0.0, 0.0}};
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    sr_dataset_init(&ds);
    ds.catalogue.quality_min = -1.0;
    assert_int_equal(sr_dataset_add_model(&ds, "a", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "b", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "margin", NAN, &err), SR_OK);
    for (int t = 0; t < 3; t++) {
        size_t j;
        assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
        for (int m = 0; m < 2; m++)
            assert_int_equal(sr_dataset_set_outcome(&ds, j, m, q[t][m], c[t][m], NAN, NAN, &err),
                             SR_OK);
    }
    sr_mdp_config_default(&config);
    config.eta = 0.25;

    int actions[3];
    sr_oracle_plan plan;
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, 1.0, actions, &plan, &err), SR_OK);
    assert_true(plan.value == 0.4 + (0.5 - 0.25));
    assert_true(plan.bankrupt);
    assert_int_equal(actions[0], 1);
    check_case(&config, &ds, 1.0, false, -1);
    sr_dataset_free(&ds);
}

/* Fifty turns of three models with real costs: exact planning stays tractable. */
static void oracle_long_session(void **state)
{
    (void)state;
    sr_rng rng;
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    sr_rng_seed(&rng, 5);
    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "big", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "mid", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "small", NAN, NAN, NAN, true, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "long", NAN, &err), SR_OK);
    double cheapest_total = 0;
    double cheapest_quality = 0;
    for (int t = 0; t < 50; t++) {
        size_t j;
        assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
        const double cost[3] = {0.5 + draw(&rng), 0.1 + 0.2 * draw(&rng), 0.01 * draw(&rng)};
        const double quality[3] = {0.6 + 0.4 * draw(&rng), 0.3 + 0.5 * draw(&rng),
                                   0.4 * draw(&rng)};
        for (int m = 0; m < 3; m++)
            assert_int_equal(sr_dataset_set_outcome(&ds, j, m, quality[m], cost[m], NAN, NAN, &err),
                             SR_OK);
        cheapest_total += cost[2];
        cheapest_quality += quality[2];
    }
    sr_mdp_config_default(&config);

    int actions[50];
    sr_oracle_plan plan;
    const double budget = 10.0;
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, budget, actions, &plan, &err), SR_OK);
    assert_false(plan.bankrupt);
    assert_int_equal(plan.n_actions, 50);
    assert_true(plan.spent <= budget);
    assert_true(cheapest_total <= budget);
    assert_true(plan.value >= cheapest_quality);

    /* The plan replays to its value in the simulator. */
    double total, spent;
    bool bankrupt;
    int steps;
    simulate(&config, &ds, budget, actions, &total, &spent, &bankrupt, &steps);
    assert_true(total == plan.value);
    assert_int_equal(steps, 50);
    assert_false(bankrupt);
    sr_dataset_free(&ds);
}

static void oracle_rejects_bad_arguments(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    size_t j;
    int actions[2];
    sr_oracle_plan plan;
    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "a", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "b", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "logged", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, 1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 1, 0.5, 0.25, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
    sr_mdp_config_default(&config);

    /* The second turn has no outcome at all. */
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, 1.0, actions, &plan, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "turn 2"));

    assert_int_equal(sr_oracle_solve(&config, &ds, 1, 1.0, actions, &plan, &err), SR_ERR_INVALID);
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, -1.0, actions, &plan, &err), SR_ERR_INVALID);
    config.horizon = 1;
    assert_int_equal(sr_oracle_solve(&config, &ds, 0, 1.0, actions, &plan, &err), SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

/* Logged-only data: only the present outcome is ever planned. */
static void oracle_skips_absent_outcomes(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    size_t j;
    int actions[1];
    sr_oracle_plan plan;
    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "a", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "b", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "logged", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, 1, &j, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 1, 0.25, 0.25, NAN, NAN, &err), SR_OK);
    sr_mdp_config_default(&config);

    assert_int_equal(sr_oracle_solve(&config, &ds, 0, 1.0, actions, &plan, &err), SR_OK);
    assert_int_equal(actions[0], 1);
    assert_true(plan.value == 0.25);
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oracle_hand_case),
        cmocka_unit_test(oracle_matches_brute_force),
        cmocka_unit_test(oracle_negative_qualities),
        cmocka_unit_test(oracle_negative_quality_margin),
        cmocka_unit_test(oracle_ties_go_cheaper),
        cmocka_unit_test(oracle_long_session),
        cmocka_unit_test(oracle_rejects_bad_arguments),
        cmocka_unit_test(oracle_skips_absent_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
