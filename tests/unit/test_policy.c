/*
 * test_policy.c - model statistics, construction of policies by name, the
 * heuristic's decisions on a hand-worked case, random determinism and the
 * oracle wrapper.
 *
 * The reference data has three models with constant per-turn costs 1/2,
 * 1/4 and 1/8 (exact in binary) and sessions of 2 and 4 turns, so the mean
 * session length is 3 and every budget comparison below is exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqroute/policy.h"

/* Mean quality 0.9 / 0.6 / 0.3 and cost 1/2, 1/4, 1/8 for big, mid, small. */
static void build_reference(sr_dataset *ds, const char *const *order)
{
    static const char *const names[3] = {"big", "mid", "small"};
    static const double quality[3] = {0.9, 0.6, 0.3};
    static const double cost[3] = {0.5, 0.25, 0.125};
    static const int lengths[2] = {2, 4};
    sr_error err;

    if (order == NULL)
        order = names;
    sr_dataset_init(ds);
    for (int m = 0; m < 3; m++)
        assert_int_equal(sr_dataset_add_model(ds, order[m], NAN, NAN, NAN, false, &err), SR_OK);
    for (int s = 0; s < 2; s++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", s);
        assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
        for (int t = 0; t < lengths[s]; t++) {
            size_t j;
            assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
            for (int m = 0; m < 3; m++) {
                int source = 0;
                while (strcmp(names[source], order[m]) != 0)
                    source++;
                assert_int_equal(
                    sr_dataset_set_outcome(ds, j, m, quality[source], cost[source], NAN, NAN, &err),
                    SR_OK);
            }
        }
    }
}

static void stats_from_reference(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_model_stats stats;
    sr_error err;
    build_reference(&ds, NULL);

    assert_int_equal(sr_model_stats_compute(&ds, &ds.catalogue, &stats, &err), SR_OK);
    assert_int_equal(stats.n_models, 3);
    assert_true(stats.mean_cost[0] == 0.5);
    assert_true(stats.mean_cost[2] == 0.125);
    assert_true(fabs(stats.mean_quality[1] - 0.6) < 1e-15);
    assert_true(stats.mean_session_turns == 3.0);
    assert_int_equal(stats.cheapest, 2);
    assert_int_equal(stats.strongest, 0);
    assert_int_equal(stats.most_expensive, 0);
    sr_dataset_free(&ds);
}

static void stats_map_models_by_name(void **state)
{
    (void)state;
    static const char *const reversed[3] = {"small", "mid", "big"};
    sr_dataset target;
    sr_dataset reference;
    sr_model_stats stats;
    sr_error err;
    build_reference(&target, NULL);
    build_reference(&reference, reversed);

    assert_int_equal(sr_model_stats_compute(&reference, &target.catalogue, &stats, &err), SR_OK);
    assert_true(stats.mean_cost[0] == 0.5); /* "big" is index 0 in the target */
    assert_int_equal(stats.cheapest, 2);

    /* A target model the reference lacks is an error naming it. */
    sr_dataset other;
    sr_dataset_init(&other);
    assert_int_equal(sr_dataset_add_model(&other, "huge", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_model_stats_compute(&reference, &other.catalogue, &stats, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "huge"));
    sr_dataset_free(&other);
    sr_dataset_free(&target);
    sr_dataset_free(&reference);
}

static void stats_break_ties(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_model_stats stats;
    sr_error err;
    size_t j;
    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "x", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "y", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "z", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "s", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &j, &err), SR_OK);
    /* x and y tie on quality, y is cheaper; y and z tie on cost, z is stronger. */
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 0, 0.75, 0.5, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 1, 0.75, 0.25, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, j, 2, 0.5, 0.25, NAN, NAN, &err), SR_OK);

    assert_int_equal(sr_model_stats_compute(&ds, &ds.catalogue, &stats, &err), SR_OK);
    assert_int_equal(stats.strongest, 1);
    assert_int_equal(stats.cheapest, 1);
    assert_int_equal(stats.most_expensive, 0);
    sr_dataset_free(&ds);
}

/* Creates `name` on `ds` with `options` and returns the action for (t, budget). */
static int decide(const char *name, const sr_dataset *ds, const sr_policy_options *options,
                  size_t session, int t, double budget)
{
    sr_policy *policy = NULL;
    sr_error err;
    sr_rng rng;
    sr_rng_seed(&rng, 1);
    assert_int_equal(sr_policy_create(name, ds, options, &policy, &err), SR_OK);
    if (policy->begin_session != NULL)
        assert_int_equal(policy->begin_session(policy, ds, session, budget, &err), SR_OK);
    const sr_policy_state view = {ds, session, t, budget, budget, -1, &rng};
    const int action = policy->act(policy, &view);
    sr_policy_free(policy);
    return action;
}

static void create_by_name(void **state)
{
    (void)state;
    sr_dataset ds;
    build_reference(&ds, NULL);

    assert_int_equal(decide("always:mid", &ds, NULL, 0, 0, 1.0), 1);
    assert_int_equal(decide("always:small", &ds, NULL, 0, 1, 0.0), 2);
    assert_int_equal(decide("always-cheapest", &ds, NULL, 0, 0, 1.0), 2);
    assert_int_equal(decide("always-strongest", &ds, NULL, 0, 0, 0.0), 0);

    sr_policy *policy = NULL;
    sr_error err;
    assert_int_equal(sr_policy_create("heuristic", &ds, NULL, &policy, &err), SR_OK);
    assert_string_equal(policy->name, "heuristic");
    sr_policy_free(policy);
    sr_policy_free(NULL);
    sr_dataset_free(&ds);
}

static void create_rejects_unknown_names(void **state)
{
    (void)state;
    static const char *const bad[] = {"always:mdi", "always:",      "heuristc",   "",
                                      "Oracle",     "always-cheap", "always:mid "};
    sr_dataset ds;
    build_reference(&ds, NULL);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_policy *policy = NULL;
        sr_error err;
        sr_error_clear(&err);
        assert_int_equal(sr_policy_create(bad[i], &ds, NULL, &policy, &err), SR_ERR_NOT_FOUND);
        assert_null(policy);
        /* The message repeats the bad name and lists valid names and models. */
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
        assert_non_null(strstr(err.message, quoted));
        assert_non_null(strstr(err.message, "heuristic"));
        assert_non_null(strstr(err.message, "always:MODEL"));
        assert_non_null(strstr(err.message, "big, mid, small"));
    }
    sr_dataset_free(&ds);
}

static void heuristic_hand_case(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_policy_options options;
    build_reference(&ds, NULL);
    sr_policy_options_default(&options);

    /*
     * Turn 0, expected 3 turns: the reserve is (3 - 1) * 1/8 = 1/4.
     * big needs 1/2 + 1/4, mid 1/4 + 1/4, small 1/8 + 1/4.
     */
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.75), 0);
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.625), 1);
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.5), 1);
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.375), 2);
    /* Nothing fits: the cheapest. */
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.25), 2);

    /* Turn 2 and later: no expected turns remain, so no reserve. */
    assert_int_equal(decide("heuristic", &ds, &options, 1, 2, 0.5), 0);
    assert_int_equal(decide("heuristic", &ds, &options, 1, 3, 0.5), 0);

    /* A reserve multiplier of 2 doubles the reserve to 1/2. */
    options.heuristic_reserve = 2.0;
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.75), 1);
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 1.0), 0);
    /* A multiplier of 0 keeps no reserve. */
    options.heuristic_reserve = 0.0;
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.5), 0);

    /* True remaining turns: session r1 has 4 turns, so 3 remain after turn 0 (reserve 3/8). */
    options.heuristic_reserve = 1.0;
    options.heuristic_true_remaining = true;
    assert_int_equal(decide("heuristic", &ds, &options, 1, 0, 0.75), 1);
    assert_int_equal(decide("heuristic", &ds, &options, 1, 0, 0.875), 0);
    /* Session r0 has 2 turns: 1 remains after turn 0 (reserve 1/8). */
    assert_int_equal(decide("heuristic", &ds, &options, 0, 0, 0.625), 0);

    /* A negative multiplier is rejected. */
    sr_policy *policy = NULL;
    sr_error err;
    options.heuristic_reserve = -1.0;
    assert_int_equal(sr_policy_create("heuristic", &ds, &options, &policy, &err), SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

/* Draws the random policy's actions for session `session` of `ds`, as eval seeds them. */
static void random_actions(const sr_dataset *ds, size_t session, uint64_t seed, int *actions, int n)
{
    sr_policy *policy = NULL;
    sr_error err;
    sr_rng rng;
    assert_int_equal(sr_policy_create("random", ds, NULL, &policy, &err), SR_OK);
    sr_rng_seed(&rng, seed);
    for (int t = 0; t < n; t++) {
        const sr_policy_state view = {ds, session, t, 1.0, 1.0, -1, &rng};
        actions[t] = policy->act(policy, &view);
    }
    sr_policy_free(policy);
}

static void random_is_seeded_and_uniform(void **state)
{
    (void)state;
    enum { DRAWS = 30000 };
    static int first[DRAWS];
    static int second[DRAWS];
    sr_dataset ds;
    build_reference(&ds, NULL);

    random_actions(&ds, 0, 42, first, DRAWS);
    random_actions(&ds, 0, 42, second, DRAWS);
    assert_memory_equal(first, second, sizeof(first));

    /* Each of the three models within 5 standard deviations of DRAWS / 3. */
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < DRAWS; i++) {
        assert_true(first[i] >= 0 && first[i] < 3);
        counts[first[i]]++;
    }
    const double sd = sqrt(DRAWS * (1.0 / 3) * (2.0 / 3));
    for (int m = 0; m < 3; m++)
        assert_true(fabs(counts[m] - DRAWS / 3.0) < 5 * sd);

    random_actions(&ds, 0, 43, second, DRAWS);
    assert_true(memcmp(first, second, sizeof(first)) != 0);
    sr_dataset_free(&ds);
}

static void oracle_policy_replays_plan(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_policy_options options;
    sr_error err;
    build_reference(&ds, NULL);
    sr_policy_options_default(&options);

    /* Session r1 (4 turns), budget 1: mid four times (4 * 0.6 for exactly 1) beats big + mid + 2
     * small. */
    int plan[4];
    sr_oracle_plan result;
    assert_int_equal(sr_oracle_solve(&options.mdp, &ds, 1, 1.0, plan, &result, &err), SR_OK);
    sr_policy *policy = NULL;
    assert_int_equal(sr_policy_create("oracle", &ds, &options, &policy, &err), SR_OK);
    assert_non_null(policy->begin_session);
    assert_int_equal(policy->begin_session(policy, &ds, 1, 1.0, &err), SR_OK);
    for (int t = 0; t < 4; t++) {
        const sr_policy_state view = {&ds, 1, t, 1.0, 1.0, -1, NULL};
        assert_int_equal(policy->act(policy, &view), plan[t]);
    }
    assert_true(fabs(result.value - 4 * 0.6) < 1e-12);
    assert_int_equal(plan[0], 1);
    assert_int_equal(plan[3], 1);
    sr_policy_free(policy);
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_from_reference),
        cmocka_unit_test(stats_map_models_by_name),
        cmocka_unit_test(stats_break_ties),
        cmocka_unit_test(create_by_name),
        cmocka_unit_test(create_rejects_unknown_names),
        cmocka_unit_test(heuristic_hand_case),
        cmocka_unit_test(random_is_seeded_and_uniform),
        cmocka_unit_test(oracle_policy_replays_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
