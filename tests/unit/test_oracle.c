/*
 * test_oracle.c - the hindsight oracle against brute-force enumeration, for
 * both objectives, and the quality oracle as an upper bound on the
 * baselines through the real evaluation code.
 *
 * The reference enumerates all K^T request sequences of a session and runs
 * each through sr_mdp_step, so it shares no code with the dynamic program
 * except the simulator it must agree with.  It scores a path by its return
 * and by its served quality, counted as eval.c counts it: the qualities of
 * the steps that are not bankrupt.  Random sessions cover K up to 4, T up
 * to 6, real and dyadic costs, zero costs, budgets equal to a path's exact
 * cost, both bankruptcy treatments, several penalties, binary and negative
 * qualities.  The returned plan is replayed through the simulator and must
 * reach the claimed return and served quality.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/eval.h"
#include "seqroute/policy.h"

#define MAX_K 4
#define MAX_T 6
#define RANDOM_CASES 3000
/* Random single-session datasets in the upper-bound property test. */
#define BOUND_CASES 3000
/* Agreement bound on returns; sums of at most six terms differ by far less. */
#define RETURN_TOLERANCE 1e-12

/* Score of one path: served quality, return and spend. */
typedef struct path_score {
    double served;
    double total;
    double spent;
} path_score;

/* The best path score under an objective, keys in the oracle's order. */
typedef struct reference_result {
    path_score best;
} reference_result;

/*
 * Runs the request sequence `path` through the simulator; `served` sums the
 * qualities of the steps that are not bankrupt, as sr_eval_policy does.
 */
static void simulate_served(const sr_mdp_config *config, const sr_dataset *ds, double budget,
                            const int *path, double *total, double *served, double *spent,
                            bool *bankrupt, int *steps)
{
    sr_error err;
    *total = 0;
    *served = 0;
    *spent = 0;
    *bankrupt = false;
    *steps = 0;
    for (int t = 0; t < ds->sessions[0].n_turns; t++) {
        sr_mdp_step_result r;
        assert_int_equal(sr_mdp_step(config, ds, 0, t, budget, path[t], &r, &err), SR_OK);
        *total += r.reward;
        if (!r.bankrupt)
            *served += r.quality;
        *spent += r.cost;
        (*steps)++;
        budget = r.budget;
        if (r.done) {
            *bankrupt = r.bankrupt;
            break;
        }
    }
}

/* Runs the request sequence `path` through the simulator, return only. */
static void simulate(const sr_mdp_config *config, const sr_dataset *ds, double budget,
                     const int *path, double *total, double *spent, bool *bankrupt, int *steps)
{
    double served;
    simulate_served(config, ds, budget, path, total, &served, spent, bankrupt, steps);
}

/* Returns true when `a` is strictly better than `b` under `objective`. */
static bool score_beats(sr_oracle_objective objective, const path_score *a, const path_score *b)
{
    if (objective == SR_ORACLE_QUALITY && a->served != b->served)
        return a->served > b->served;
    if (a->total != b->total)
        return a->total > b->total;
    return a->spent < b->spent;
}

/* Enumerates every request sequence of session 0, counting in base K. */
static reference_result brute_force(const sr_mdp_config *config, sr_oracle_objective objective,
                                    const sr_dataset *ds, double budget)
{
    const int k = ds->catalogue.n_models;
    const int n = ds->sessions[0].n_turns;
    int path[MAX_T] = {0};
    reference_result result = {{-INFINITY, -INFINITY, INFINITY}};
    for (;;) {
        path_score score;
        bool bankrupt;
        int steps;
        simulate_served(config, ds, budget, path, &score.total, &score.served, &score.spent,
                        &bankrupt, &steps);
        if (score_beats(objective, &score, &result.best))
            result.best = score;

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
    bool binary;        /* qualities in {0, 1}, like correctness data */
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
            if (shape->binary)
                q = (double)sr_rng_below(rng, 2);
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

/* Which keys of the oracle's order a case checks exactly. */
typedef struct case_checks {
    bool second_key; /* quality objective: the return among maximal served quality */
    bool cost_key;   /* the lowest spend among paths tied on the other keys */
} case_checks;

/* Solves for `objective`, compares with brute force and replays the plan. */
static void check_case(const sr_mdp_config *config, sr_oracle_objective objective,
                       const sr_dataset *ds, double budget, case_checks checks, int case_index)
{
    sr_error err;
    int plan_actions[MAX_T];
    sr_oracle_plan plan;
    assert_int_equal(
        sr_oracle_solve_objective(config, objective, ds, 0, budget, plan_actions, &plan, &err),
        SR_OK);

    const reference_result ref = brute_force(config, objective, ds, budget);
    const char *name = sr_oracle_objective_name(objective);
    if (objective == SR_ORACLE_QUALITY &&
        fabs(plan.served_quality - ref.best.served) > RETURN_TOLERANCE)
        fail_msg("case %d (%s): oracle served quality %.17g, brute force %.17g", case_index, name,
                 plan.served_quality, ref.best.served);
    if (objective == SR_ORACLE_RETURN && fabs(plan.value - ref.best.total) > RETURN_TOLERANCE)
        fail_msg("case %d (%s): oracle return %.17g, brute force %.17g", case_index, name,
                 plan.value, ref.best.total);
    if (checks.second_key && plan.value != ref.best.total)
        fail_msg("case %d (%s): oracle return %.17g, best return at maximal quality %.17g",
                 case_index, name, plan.value, ref.best.total);

    /* The plan replays to what it claims. */
    double total, served, spent;
    bool bankrupt;
    int steps;
    simulate_served(config, ds, budget, plan_actions, &total, &served, &spent, &bankrupt, &steps);
    assert_true(total == plan.value);
    assert_true(served == plan.served_quality);
    assert_int_equal(steps, plan.n_actions);
    assert_int_equal(bankrupt, plan.bankrupt);
    assert_true(fabs(spent - plan.spent) <= RETURN_TOLERANCE);
    for (int t = plan.n_actions; t < ds->sessions[0].n_turns; t++)
        assert_int_equal(plan_actions[t], -1);
    if (checks.cost_key && spent != ref.best.spent)
        fail_msg("case %d (%s): oracle spends %.17g, cheapest optimal path %.17g", case_index, name,
                 spent, ref.best.spent);
}

/* Runs one random case for both objectives. */
static void check_both(const sr_mdp_config *config, const sr_dataset *ds, double budget,
                       const case_shape *shape, int case_index)
{
    const case_checks quality = {shape->dyadic, false};
    const case_checks plain = {false, false};
    check_case(config, SR_ORACLE_QUALITY, ds, budget, quality, case_index);
    check_case(config, SR_ORACLE_RETURN, ds, budget, plain, case_index);
}

static void oracle_matches_brute_force(void **state)
{
    (void)state;
    sr_rng rng;
    sr_rng_seed(&rng, 20261204);
    for (int i = 0; i < RANDOM_CASES; i++) {
        const case_shape shape = {sr_rng_below(&rng, 3) == 0, false, false, false};
        sr_dataset ds;
        sr_mdp_config config;
        const double budget = random_case(&rng, &shape, &ds);
        random_config(&rng, &ds, &config);
        check_both(&config, &ds, budget, &shape, i);
        sr_dataset_free(&ds);
    }
}

/* Binary qualities: many ties in served quality, where the return decides. */
static void oracle_binary_qualities(void **state)
{
    (void)state;
    sr_rng rng;
    sr_rng_seed(&rng, 31);
    for (int i = 0; i < RANDOM_CASES; i++) {
        const case_shape shape = {true, false, false, true};
        sr_dataset ds;
        sr_mdp_config config;
        const double budget = random_case(&rng, &shape, &ds);
        random_config(&rng, &ds, &config);
        check_both(&config, &ds, budget, &shape, i);
        sr_dataset_free(&ds);
    }
}

static void oracle_negative_qualities(void **state)
{
    (void)state;
    sr_rng rng;
    sr_rng_seed(&rng, 7);
    for (int i = 0; i < RANDOM_CASES; i++) {
        const case_shape shape = {sr_rng_below(&rng, 2) == 0, true, false, false};
        sr_dataset ds;
        sr_mdp_config config;
        const double budget = random_case(&rng, &shape, &ds);
        random_config(&rng, &ds, &config);
        check_both(&config, &ds, budget, &shape, i);
        sr_dataset_free(&ds);
    }
}

static void oracle_ties_go_cheaper(void **state)
{
    (void)state;
    sr_rng rng;
    sr_rng_seed(&rng, 99);
    for (int i = 0; i < RANDOM_CASES; i++) {
        const case_shape shape = {true, false, true, false};
        const case_checks all = {true, true};
        sr_dataset ds;
        sr_mdp_config config;
        const double budget = random_case(&rng, &shape, &ds);
        random_config(&rng, &ds, &config);

        /* Quality objective: exact ties with positive qualities, whatever eta. */
        check_case(&config, SR_ORACLE_QUALITY, &ds, budget, all, i);

        /* Return objective: exact ties need a positive penalty as well. */
        if (config.eta == 0)
            config.eta = 1.0;
        const case_checks cost_only = {false, true};
        check_case(&config, SR_ORACLE_RETURN, &ds, budget, cost_only, i);
        sr_dataset_free(&ds);
    }
}

/*
 * Two models, three turns, worked out by hand.  Both objectives pick the
 * same plans here, for the reasons given at each budget.
 */
static void oracle_hand_case(void **state)
{
    (void)state;
    static const double q[3][2] = {{0.5, 0.25}, {1.0, 0.0}, {0.75, 0.5}};
    static const double c[3][2] = {{0.5, 0.125}, {0.5, 0.125}, {0.5, 0.125}};
    static const sr_oracle_objective objectives[2] = {SR_ORACLE_RETURN, SR_ORACLE_QUALITY};
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

    for (int k = 0; k < 2; k++) {
        const sr_oracle_objective objective = objectives[k];

        /* Budget 0.75: strong only on turn 1 (weak, strong, weak) gives 0.25 + 1 + 0.5. */
        int actions[3];
        sr_oracle_plan plan;
        assert_int_equal(
            sr_oracle_solve_objective(&config, objective, &ds, 0, 0.75, actions, &plan, &err),
            SR_OK);
        assert_true(plan.value == 1.75);
        assert_true(plan.served_quality == 1.75);
        assert_true(plan.spent == 0.75);
        assert_false(plan.bankrupt);
        assert_int_equal(actions[0], 1);
        assert_int_equal(actions[1], 0);
        assert_int_equal(actions[2], 1);

        /*
         * Budget 0.25: no path fits all three turns.  Weak then a bankrupt
         * strong call on turn 1 earns 0.25 + (1 - 1) = 0.25, more than weak,
         * weak and a bankrupt strong turn 2 (0.25 + 0 + 0.75 - 1 = 0).  Both
         * serve 0.25, so the quality objective picks the first by return.
         */
        assert_int_equal(
            sr_oracle_solve_objective(&config, objective, &ds, 0, 0.25, actions, &plan, &err),
            SR_OK);
        assert_true(plan.value == 0.25);
        assert_true(plan.served_quality == 0.25);
        assert_true(plan.bankrupt);
        assert_int_equal(plan.n_actions, 2);
        assert_int_equal(actions[0], 1);
        assert_int_equal(actions[1], 0);
        assert_int_equal(actions[2], -1);
        assert_true(plan.spent == 0.625);

        /* Budget 0: the first call is bankrupt and serves 0; strong earns 0.5 - 1. */
        assert_int_equal(
            sr_oracle_solve_objective(&config, objective, &ds, 0, 0.0, actions, &plan, &err),
            SR_OK);
        assert_true(plan.value == 0.5 - 1.0);
        assert_true(plan.served_quality == 0.0);
        assert_int_equal(plan.n_actions, 1);
        assert_int_equal(actions[0], 0);
        assert_int_equal(actions[1], -1);
    }
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
    const case_checks exact = {true, false};
    check_case(&config, SR_ORACLE_RETURN, &ds, 1.0, exact, -1);
    check_case(&config, SR_ORACLE_QUALITY, &ds, 1.0, exact, -1);
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

/*
 * The counter-example to a return oracle as a quality bound, binary
 * qualities, budget 1, eta 1:
 *   turn 1: strong q 1 c 1, weak q 0 c 1/2
 *   turn 2: strong q 0 c 1, weak q 0 c 1/2
 * strong, weak serves 1 and goes bankrupt on turn 2 (return 1 + 0 - 1 = 0,
 * spend 3/2); strong, strong ties it on quality and return but spends 2.
 * weak, weak is affordable with return 0 and quality 0; weak, strong is
 * bankrupt with return -1.  The quality oracle must pick strong, weak; the
 * return oracle ties three plans at 0 and takes the cheapest, weak, weak.
 */
static void build_counter_example(sr_dataset *ds, bool weak_is_fallback)
{
    static const double q[2][2] = {{1.0, 0.0}, {0.0, 0.0}};
    static const double c[2][2] = {{1.0, 0.5}, {1.0, 0.5}};
    sr_error err;
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, NAN, weak_is_fallback, &err),
                     SR_OK);
    assert_int_equal(sr_dataset_begin_session(ds, "counter", NAN, &err), SR_OK);
    for (int t = 0; t < 2; t++) {
        size_t j;
        assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
        for (int m = 0; m < 2; m++)
            assert_int_equal(sr_dataset_set_outcome(ds, j, m, q[t][m], c[t][m], NAN, NAN, &err),
                             SR_OK);
    }
}

static void oracle_counter_example(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    int actions[2];
    sr_oracle_plan plan;
    build_counter_example(&ds, true);

    for (int mode = 0; mode < 2; mode++) {
        sr_mdp_config_default(&config);
        if (mode == 1) {
            config.bankrupt_mode = SR_BANKRUPT_FALLBACK;
            config.fallback_model = 1;
        }

        /* Quality objective (the default): strong, then a bankrupt weak call. */
        assert_int_equal(sr_oracle_solve(&config, &ds, 0, 1.0, actions, &plan, &err), SR_OK);
        assert_int_equal(actions[0], 0);
        assert_int_equal(actions[1], 1);
        assert_true(plan.served_quality == 1.0);
        assert_true(plan.value == 0.0);
        assert_true(plan.bankrupt);
        assert_true(plan.spent == 1.5);
        assert_int_equal(plan.n_actions, 2);

        /* Return objective: weak, weak, the cheapest of three plans returning 0. */
        assert_int_equal(
            sr_oracle_solve_objective(&config, SR_ORACLE_RETURN, &ds, 0, 1.0, actions, &plan, &err),
            SR_OK);
        assert_int_equal(actions[0], 1);
        assert_int_equal(actions[1], 1);
        assert_true(plan.served_quality == 0.0);
        assert_true(plan.value == 0.0);
        assert_false(plan.bankrupt);
        assert_true(plan.spent == 1.0);
        assert_int_equal(plan.n_actions, 2);
    }

    /* Through the evaluation: the oracle serves 1 of 2 turns, like always:strong. */
    sr_policy_options options;
    sr_eval_options eval;
    sr_eval_metrics oracle_row, strong_row;
    sr_policy *policy = NULL;
    sr_policy_options_default(&options);
    sr_eval_options_default(&eval);
    options.mdp = eval.mdp;
    assert_int_equal(sr_policy_create("oracle", &ds, &options, &policy, &err), SR_OK);
    assert_int_equal(sr_eval_policy(policy, &ds, 1.0, &eval, &oracle_row, &err), SR_OK);
    sr_policy_free(policy);
    assert_int_equal(sr_policy_create("always:strong", &ds, &options, &policy, &err), SR_OK);
    assert_int_equal(sr_eval_policy(policy, &ds, 1.0, &eval, &strong_row, &err), SR_OK);
    sr_policy_free(policy);
    assert_true(oracle_row.mean_quality == 0.5);
    assert_true(strong_row.mean_quality == 0.5);
    assert_true(oracle_row.mean_return == 0.0);
    assert_int_equal(oracle_row.bankrupt_sessions, 1);
    sr_dataset_free(&ds);
}

/* Evaluates the policy `name` on `ds` at `budget` and returns its mean_quality. */
static double evaluated_quality(const char *name, const sr_dataset *ds, double budget,
                                const sr_eval_options *eval)
{
    sr_error err;
    sr_policy_options options;
    sr_policy *policy = NULL;
    sr_eval_metrics row;
    sr_policy_options_default(&options);
    options.mdp = eval->mdp;
    if (sr_policy_create(name, ds, &options, &policy, &err) != SR_OK)
        fail_msg("policy '%s': %s", name, err.message);
    if (sr_eval_policy(policy, ds, budget, eval, &row, &err) != SR_OK)
        fail_msg("policy '%s': %s", name, err.message);
    sr_policy_free(policy);
    return row.mean_quality;
}

/*
 * On random single-session datasets the oracle's evaluated mean_quality is
 * at least every baseline's at the same budget, in both treatments.  The
 * return oracle, replayed the same way, must fall below some baseline at
 * least once, or this test could not tell the objectives apart.
 */
static void oracle_bounds_baselines(void **state)
{
    (void)state;
    sr_rng rng;
    int return_oracle_below = 0;
    sr_rng_seed(&rng, 424242);
    for (int i = 0; i < BOUND_CASES; i++) {
        const uint64_t kind = sr_rng_below(&rng, 3);
        const case_shape shape = {kind != 2, false, false, kind == 0};
        sr_dataset ds;
        sr_eval_options eval;
        const double budget = random_case(&rng, &shape, &ds);
        sr_eval_options_default(&eval);
        random_config(&rng, &ds, &eval.mdp);
        eval.seed = (uint64_t)i;

        const double oracle = evaluated_quality("oracle", &ds, budget, &eval);
        char names[MAX_K + 2][SR_POLICY_NAME_MAX];
        int n_names = 0;
        snprintf(names[n_names++], SR_POLICY_NAME_MAX, "random");
        snprintf(names[n_names++], SR_POLICY_NAME_MAX, "heuristic");
        for (int m = 0; m < ds.catalogue.n_models; m++)
            snprintf(names[n_names++], SR_POLICY_NAME_MAX, "always:%s",
                     ds.catalogue.models[m].name);

        double best_baseline = -INFINITY;
        for (int p = 0; p < n_names; p++) {
            const double q = evaluated_quality(names[p], &ds, budget, &eval);
            if (q > oracle + RETURN_TOLERANCE)
                fail_msg("case %d: %s quality %.17g > oracle %.17g (budget %.17g, %s)", i, names[p],
                         q, oracle, budget, sr_bankrupt_mode_name(eval.mdp.bankrupt_mode));
            if (q > best_baseline)
                best_baseline = q;
        }

        /* The return oracle's plan, scored as the evaluation scores it. */
        sr_error err;
        int actions[MAX_T];
        sr_oracle_plan plan;
        assert_int_equal(sr_oracle_solve_objective(&eval.mdp, SR_ORACLE_RETURN, &ds, 0, budget,
                                                   actions, &plan, &err),
                         SR_OK);
        const double turns = (double)ds.sessions[0].n_turns;
        if (plan.served_quality / turns < best_baseline - RETURN_TOLERANCE)
            return_oracle_below++;
        sr_dataset_free(&ds);
    }
    assert_true(return_oracle_below > 0);
}

static void oracle_objective_names(void **state)
{
    (void)state;
    sr_oracle_objective objective = SR_ORACLE_RETURN;
    assert_string_equal(sr_oracle_objective_name(SR_ORACLE_QUALITY), "quality");
    assert_string_equal(sr_oracle_objective_name(SR_ORACLE_RETURN), "return");
    assert_string_equal(sr_oracle_objective_name((sr_oracle_objective)7), "unknown");
    assert_true(sr_oracle_objective_parse("quality", &objective));
    assert_int_equal(objective, SR_ORACLE_QUALITY);
    assert_true(sr_oracle_objective_parse("return", &objective));
    assert_int_equal(objective, SR_ORACLE_RETURN);
    assert_false(sr_oracle_objective_parse("Quality", &objective));
    assert_false(sr_oracle_objective_parse("", &objective));
    assert_false(sr_oracle_objective_parse(NULL, &objective));
    assert_int_equal(objective, SR_ORACLE_RETURN);

    /* An objective outside the enum is rejected before any planning. */
    sr_dataset ds;
    sr_mdp_config config;
    sr_error err;
    int actions[2];
    sr_oracle_plan plan;
    build_counter_example(&ds, false);
    sr_mdp_config_default(&config);
    assert_int_equal(sr_oracle_solve_objective(&config, (sr_oracle_objective)2, &ds, 0, 1.0,
                                               actions, &plan, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "objective"));
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oracle_hand_case),
        cmocka_unit_test(oracle_counter_example),
        cmocka_unit_test(oracle_matches_brute_force),
        cmocka_unit_test(oracle_binary_qualities),
        cmocka_unit_test(oracle_negative_qualities),
        cmocka_unit_test(oracle_negative_quality_margin),
        cmocka_unit_test(oracle_ties_go_cheaper),
        cmocka_unit_test(oracle_long_session),
        cmocka_unit_test(oracle_rejects_bad_arguments),
        cmocka_unit_test(oracle_skips_absent_outcomes),
        cmocka_unit_test(oracle_bounds_baselines),
        cmocka_unit_test(oracle_objective_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
