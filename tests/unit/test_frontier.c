/*
 * test_frontier.c - the Pareto set, the envelope, AIQ and the dominance
 * check on hand-made point sets whose areas are worked out by hand in the
 * comments: non-monotone points, a non-concave staircase, collinear
 * points, a single point, duplicate costs, points outside the range and a
 * zero-width range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "seqroute/frontier.h"

/* Hand values are sums of a few products of short decimals. */
#define TOLERANCE 1e-12

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static double aiq_of(const sr_frontier_point *points, size_t n, double lo, double hi)
{
    sr_error err;
    double aiq = -1;
    assert_int_equal(sr_frontier_aiq(points, n, lo, hi, &aiq, &err), SR_OK);
    return aiq;
}

/*
 * Non-monotone points: (3, 0.5) and (5, 0.7) cost more than a better point.
 * The staircase is (1, .2), (2, .6), (4, .8), already concave (slopes 0.4,
 * 0.1).  Over [1, 5]: 1 · (0.2 + 0.6)/2 + 2 · (0.6 + 0.8)/2 + 1 · 0.8 =
 * 0.4 + 1.4 + 0.8 = 2.6, divided by 4: 0.65.
 */
static void aiq_non_monotone(void **state)
{
    (void)state;
    const sr_frontier_point points[] = {
        {1, 0.2, 0}, {2, 0.6, 0}, {3, 0.5, 0}, {4, 0.8, 0}, {5, 0.7, 0},
    };
    size_t vertices[N_OF(points)];
    size_t n_vertices = 0;
    sr_error err;
    assert_int_equal(sr_frontier_envelope(points, N_OF(points), vertices, &n_vertices, &err),
                     SR_OK);
    assert_int_equal(n_vertices, 3);
    assert_int_equal(vertices[0], 0);
    assert_int_equal(vertices[1], 1);
    assert_int_equal(vertices[2], 3);
    assert_true(fabs(aiq_of(points, N_OF(points), 1, 5) - 0.65) < TOLERANCE);

    /* The envelope at 3 is on the chord (2, .6)-(4, .8): 0.7, above the point (3, .5). */
    assert_true(fabs(sr_frontier_envelope_at(points, vertices, n_vertices, 3) - 0.7) < TOLERANCE);
    /* Beyond the top point it is flat; below the cheapest it is 0. */
    assert_true(sr_frontier_envelope_at(points, vertices, n_vertices, 9) == 0.8);
    assert_true(sr_frontier_envelope_at(points, vertices, n_vertices, 0.5) == 0.0);
}

/*
 * A point above the chord becomes a vertex: adding (3, 0.75) to the set
 * above gives 0.4 + (0.6 + 0.75)/2 + (0.75 + 0.8)/2 + 0.8 = 2.65, /4.
 */
static void aiq_point_above_chord(void **state)
{
    (void)state;
    const sr_frontier_point points[] = {
        {1, 0.2, 0}, {2, 0.6, 0}, {3, 0.75, 0}, {4, 0.8, 0}, {5, 0.7, 0},
    };
    assert_true(fabs(aiq_of(points, N_OF(points), 1, 5) - 2.65 / 4) < TOLERANCE);
}

/*
 * A staircase that is not concave: (1, 0.1) lies below the chord from
 * (0, 0) to (2, 0.9), so mixing those two beats it.  Over [0, 2]:
 * 2 · 0.9 / 2 = 0.9, divided by 2: 0.45.
 */
static void aiq_not_concave(void **state)
{
    (void)state;
    const sr_frontier_point points[] = {{0, 0, 0}, {1, 0.1, 0}, {2, 0.9, 0}};
    size_t vertices[3];
    size_t n_vertices = 0;
    sr_error err;
    assert_int_equal(sr_frontier_envelope(points, 3, vertices, &n_vertices, &err), SR_OK);
    assert_int_equal(n_vertices, 2);
    assert_int_equal(vertices[1], 2);
    assert_true(fabs(aiq_of(points, 3, 0, 2) - 0.45) < TOLERANCE);
}

/* A point exactly on a chord is not a vertex. */
static void envelope_drops_collinear(void **state)
{
    (void)state;
    const sr_frontier_point points[] = {{0, 0, 0}, {1, 0.5, 0}, {2, 1, 0}};
    size_t vertices[3];
    size_t n_vertices = 0;
    sr_error err;
    assert_int_equal(sr_frontier_envelope(points, 3, vertices, &n_vertices, &err), SR_OK);
    assert_int_equal(n_vertices, 2);
    assert_int_equal(vertices[0], 0);
    assert_int_equal(vertices[1], 2);
    assert_true(fabs(aiq_of(points, 3, 0, 2) - 0.5) < TOLERANCE);
}

/*
 * One point (2, 0.5).  Over [1, 3]: 0 on [1, 2), 0.5 on [2, 3], area 0.5,
 * AIQ 0.25.  Over [2, 2] it is the point's quality; over [0.5, 1.5], left
 * of the point, 0; over [3, 4], right of it, 0.5.
 */
static void aiq_single_point(void **state)
{
    (void)state;
    const sr_frontier_point point = {2, 0.5, 0.1};
    assert_true(fabs(aiq_of(&point, 1, 1, 3) - 0.25) < TOLERANCE);
    assert_true(aiq_of(&point, 1, 2, 2) == 0.5);
    assert_true(aiq_of(&point, 1, 0.5, 1.5) == 0.0);
    assert_true(aiq_of(&point, 1, 3, 4) == 0.5);
}

/*
 * Duplicate costs: at cost 1 the better of (1, .3) and (1, .5) counts; the
 * two identical points (2, .6) give one vertex, the lower index.  Over
 * [1, 2]: (0.5 + 0.6)/2 = 0.55.
 */
static void aiq_duplicate_costs(void **state)
{
    (void)state;
    const sr_frontier_point points[] = {{1, 0.3, 0}, {1, 0.5, 0}, {2, 0.6, 0}, {2, 0.6, 0}};
    size_t vertices[4];
    size_t n_vertices = 0;
    sr_error err;
    assert_int_equal(sr_frontier_envelope(points, 4, vertices, &n_vertices, &err), SR_OK);
    assert_int_equal(n_vertices, 2);
    assert_int_equal(vertices[0], 1);
    assert_int_equal(vertices[1], 2);
    assert_true(fabs(aiq_of(points, 4, 1, 2) - 0.55) < TOLERANCE);
}

/*
 * Points outside the range still shape it.  (0, .4) and (4, .8) span
 * [1, 3] with E(c) = 0.4 + 0.1 c: area 2 · (0.5 + 0.7)/2 = 1.2, AIQ 0.6.
 * With (2, .5) and (10, 1): E(c) = 0.5 + (c - 2)/16 on [2, 4], area
 * 2 · (0.5 + 0.625)/2 = 1.125, AIQ 0.5625.
 */
static void aiq_points_outside_range(void **state)
{
    (void)state;
    const sr_frontier_point both_sides[] = {{0, 0.4, 0}, {4, 0.8, 0}};
    assert_true(fabs(aiq_of(both_sides, 2, 1, 3) - 0.6) < TOLERANCE);
    const sr_frontier_point right[] = {{2, 0.5, 0}, {10, 1.0, 0}};
    assert_true(fabs(aiq_of(right, 2, 2, 4) - 0.5625) < TOLERANCE);
}

static void aiq_rejects_bad_input(void **state)
{
    (void)state;
    const sr_frontier_point good = {1, 0.5, 0};
    const sr_frontier_point bad = {NAN, 0.5, 0};
    double aiq = 0;
    sr_error err;
    assert_int_equal(sr_frontier_aiq(&good, 0, 0, 1, &aiq, &err), SR_ERR_INVALID);
    assert_int_equal(sr_frontier_aiq(&bad, 1, 0, 1, &aiq, &err), SR_ERR_INVALID);
    assert_int_equal(sr_frontier_aiq(&good, 1, 2, 1, &aiq, &err), SR_ERR_INVALID);
    assert_int_equal(sr_frontier_aiq(&good, 1, 0, INFINITY, &aiq, &err), SR_ERR_INVALID);
    assert_true(isnan(aiq));
}

/*
 * Pareto in (cost, quality, bankruptcy).  Duplicates 0 and 1 stay; 2 is
 * dominated by 0; 3 has better quality; 4 a lower bankruptcy rate; 5 is
 * dominated by 3.
 */
static void pareto_three_objectives(void **state)
{
    (void)state;
    const sr_frontier_point points[] = {
        {1, 0.5, 0.1}, {1, 0.5, 0.1}, {2, 0.4, 0.2}, {2, 0.6, 0.2}, {3, 0.6, 0.0}, {3, 0.6, 0.2},
    };
    bool on[N_OF(points)];
    sr_error err;
    assert_int_equal(sr_frontier_pareto(points, N_OF(points), on, &err), SR_OK);
    assert_true(on[0]);
    assert_true(on[1]);
    assert_false(on[2]);
    assert_true(on[3]);
    assert_true(on[4]);
    assert_false(on[5]);
}

/*
 * Dominance: candidates A (1, .5, .1), B (2, .7, .05), C (2, .7, .02),
 * D (3, .9, 0), E with a NaN cost.
 */
static void dominance_cheapest(void **state)
{
    (void)state;
    const sr_frontier_point candidates[] = {
        {1, 0.5, 0.1}, {2, 0.7, 0.05}, {2, 0.7, 0.02}, {3, 0.9, 0.0}, {NAN, 1.0, 0.0},
    };
    const size_t n = N_OF(candidates);

    /* B, C and D qualify; B and C tie on cost and quality, C goes bankrupt less. */
    const sr_frontier_point mid = {2.5, 0.6, 0.05};
    assert_int_equal(sr_frontier_cheapest_dominating(candidates, n, &mid), 2);
    /* Equal values qualify: A matches itself. */
    const sr_frontier_point same = {1, 0.5, 0.1};
    assert_int_equal(sr_frontier_cheapest_dominating(candidates, n, &same), 0);
    /* A lower bankruptcy rate than every candidate but D: D, though it costs more. */
    const sr_frontier_point safe = {0.5, 0.1, 0.01};
    assert_int_equal(sr_frontier_cheapest_dominating(candidates, n, &safe), 3);
    /* Quality above every finite candidate: none (the NaN point never qualifies). */
    const sr_frontier_point best = {1, 0.95, 0.5};
    assert_int_equal(sr_frontier_cheapest_dominating(candidates, n, &best), -1);
    assert_int_equal(sr_frontier_cheapest_dominating(candidates, 0, &mid), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aiq_non_monotone),
        cmocka_unit_test(aiq_point_above_chord),
        cmocka_unit_test(aiq_not_concave),
        cmocka_unit_test(envelope_drops_collinear),
        cmocka_unit_test(aiq_single_point),
        cmocka_unit_test(aiq_duplicate_costs),
        cmocka_unit_test(aiq_points_outside_range),
        cmocka_unit_test(aiq_rejects_bad_input),
        cmocka_unit_test(pareto_three_objectives),
        cmocka_unit_test(dominance_cheapest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
