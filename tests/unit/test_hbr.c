/*
 * test_hbr.c - Hindsight Budget Relabeling against counts computed by hand:
 * one and two turns around bankruptcy, the paper-shaped case (two models,
 * four turns, five budgets, sixteen paths) with and without dedupe, logged
 * replay and mixed data, sampled paths when K^T > max_enum, the behaviour
 * mixture, log-uniform budgets, determinism, and the sampler's uniformity.
 *
 * Unless a test says otherwise, model 0 "weak" costs 1 and scores
 * quality 0.25, and model 1 "strong" costs 10 with quality 0.75.  Every
 * number is a small integer or a dyadic fraction, so budgets and rewards
 * compare exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/hbr.h"

#define WEAK 0
#define STRONG 1

typedef struct qc {
    double q;
    double c;
} qc;

static const qc weak_strong[2] = {{0.25, 1.0}, {0.75, 10.0}};

static void init_models(sr_dataset *ds, int n_models)
{
    static const char *names[] = {"weak", "strong", "third"};
    sr_error err;
    sr_dataset_init(ds);
    for (int k = 0; k < n_models; k++)
        assert_int_equal(sr_dataset_add_model(ds, names[k], NAN, NAN, NAN, false, &err), SR_OK);
}

/*
 * Adds a session of `n_turns` turns whose outcome of model k at turn t is
 * outcomes[t * n_models + k] (or outcomes[k] on every turn when `same`).
 * `logged` (NULL for none) gives each turn's logged model; with
 * `logged_only` only that model's outcome is set.
 */
static void add_session(sr_dataset *ds, const char *id, int n_turns, const qc *outcomes,
                        bool same, const int *logged, bool logged_only)
{
    sr_error err;
    const int n_models = ds->catalogue.n_models;
    assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
    for (int t = 0; t < n_turns; t++) {
        size_t j;
        const int log_model = logged ? logged[t] : -1;
        assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, log_model, &j, &err), SR_OK);
        for (int k = 0; k < n_models; k++) {
            if (logged_only && k != log_model)
                continue;
            const qc *o = &outcomes[(same ? 0 : t * n_models) + k];
            assert_int_equal(sr_dataset_set_outcome(ds, j, k, o->q, o->c, NAN, NAN, &err), SR_OK);
        }
    }
}

static sr_hbr *make_hbr(const sr_dataset *ds, const double *budgets, size_t n_budgets,
                        bool dedupe)
{
    sr_hbr_options opt;
    sr_hbr *hbr = NULL;
    sr_error err;
    sr_hbr_options_default(&opt);
    opt.budget_mode = SR_HBR_BUDGET_ABSOLUTE;
    opt.budget_values = budgets;
    opt.n_budget_values = n_budgets;
    opt.dedupe = dedupe;
    assert_int_equal(sr_hbr_create(ds, &opt, &hbr, &err), SR_OK);
    return hbr;
}

static sr_hbr_transition *materialise(const sr_hbr *hbr, size_t *count)
{
    sr_hbr_transition *items = NULL;
    sr_error err;
    assert_int_equal(sr_hbr_materialise(hbr, 100000, &items, count, &err), SR_OK);
    return items;
}

/* One turn, budget 5: weak leaves 4; strong needs 10 > 5 and goes bankrupt. */
static void one_turn_one_bankrupt(void **state)
{
    (void)state;
    sr_dataset ds;
    init_models(&ds, 2);
    add_session(&ds, "s", 1, weak_strong, true, NULL, false);
    const double budget = 5;
    sr_hbr *hbr = make_hbr(&ds, &budget, 1, false);

    /* K^T = 2^1 = 2 <= 64: both paths are enumerated, one transition each. */
    assert_int_equal(sr_hbr_session_kind(hbr, 0), SR_HBR_PATHS_ENUMERATED);
    assert_int_equal(sr_hbr_session_paths(hbr, 0), 2);
    size_t n;
    sr_hbr_transition *tr = materialise(hbr, &n);
    assert_int_equal(n, 2);

    /* Path [weak]: 5 - 1 = 4 >= 0, last turn, reward 0.25. */
    assert_int_equal(tr[0].action, WEAK);
    assert_true(tr[0].budget == 5.0);
    assert_true(tr[0].next_budget == 4.0);
    assert_true(tr[0].quality == 0.25);
    assert_true(tr[0].cost == 1.0);
    assert_true(tr[0].reward == 0.25);
    assert_int_equal(tr[0].flags, SR_HBR_TERMINAL);
    assert_int_equal(tr[0].row, 0);
    assert_int_equal(tr[0].t, 0);
    assert_int_equal(tr[0].weight, 1);

    /* Path [strong]: 5 - 10 = -5 < 0, bankrupt, reward 0.75 - eta (1) = -0.25. */
    assert_int_equal(tr[1].action, STRONG);
    assert_true(tr[1].next_budget == -5.0);
    assert_true(tr[1].reward == -0.25);
    assert_int_equal(tr[1].flags, SR_HBR_TERMINAL | SR_HBR_BANKRUPT);

    free(tr);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/*
 * Two turns, budget 8.  Paths in lexicographic order (weak 0, strong 1):
 *   [w,w]  8 -> 7 -> 6                         2 transitions
 *   [w,s]  8 -> 7 -> -3, bankrupt at turn 2    2 transitions, 1 bankrupt
 *   [s,w]  8 -> -2, bankrupt at turn 1, stop   1 transition,  1 bankrupt
 *   [s,s]  8 -> -2, bankrupt at turn 1, stop   1 transition,  1 bankrupt
 * Total 6 transitions, 3 bankrupt.
 */
static void two_turns_bankrupt_truncates(void **state)
{
    (void)state;
    sr_dataset ds;
    init_models(&ds, 2);
    add_session(&ds, "s", 2, weak_strong, true, NULL, false);
    const double budget = 8;
    sr_hbr *hbr = make_hbr(&ds, &budget, 1, false);

    size_t n;
    sr_hbr_transition *tr = materialise(hbr, &n);
    assert_int_equal(n, 6);

    /* [w,s]: the second step is the bankrupt one and is kept. */
    assert_int_equal(tr[3].t, 1);
    assert_int_equal(tr[3].action, STRONG);
    assert_true(tr[3].budget == 7.0);
    assert_true(tr[3].next_budget == -3.0);
    assert_int_equal(tr[3].row, 1);
    assert_true((tr[3].flags & SR_HBR_BANKRUPT) != 0);

    /* [s,w] and [s,s]: one bankrupt step each, no turn 2. */
    assert_int_equal(tr[4].t, 0);
    assert_int_equal(tr[4].flags, SR_HBR_TERMINAL | SR_HBR_BANKRUPT);
    assert_int_equal(tr[5].t, 0);
    assert_int_equal(tr[5].flags, SR_HBR_TERMINAL | SR_HBR_BANKRUPT);

    /* [w,w]: the first step continues (no flag), the second ends the session. */
    assert_int_equal(tr[0].flags, 0);
    assert_int_equal(tr[1].flags, SR_HBR_TERMINAL);

    sr_hbr_stats stats;
    sr_error err;
    assert_int_equal(sr_hbr_stats_compute(hbr, &stats, &err), SR_OK);
    assert_int_equal(stats.transitions, 6);
    assert_int_equal(stats.bankrupt_transitions, 3);
    assert_int_equal(stats.episodes, 4);

    sr_hbr_stats_free(&stats);
    free(tr);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/*
 * The paper-shaped case: two models, four turns, budgets 5, 15, 30, 50, 85,
 * 2^4 = 16 enumerated paths.  A path goes bankrupt at the first step where
 * its running cost exceeds the budget and then has (that step + 1)
 * transitions; otherwise it has 4.
 *
 *   B = 5   the first strong call (10 > 5) is bankrupt; weak only costs 4.
 *           [wwww] 4; first strong at turn 1: 8 paths x 1 = 8; turn 2:
 *           4 x 2 = 8; turn 3: 2 x 3 = 6; turn 4: 1 x 4 = 4.
 *           Transitions 4 + 8 + 8 + 6 + 4 = 30, bankrupt 15.
 *   B = 15  one strong call costs at most 13; the second strong call
 *           bankrupts (>= 20).  0 or 1 strong: 5 paths x 4 = 20.  Two strong
 *           at turns (i, j) give j transitions: (1,2) 2, (1,3) 3, (1,4) 4,
 *           (2,3) 3, (2,4) 4, (3,4) 4 = 20.  Three strong: sssw 2, ssws 2,
 *           swss 3, wsss 3 = 10.  ssss 2.  Transitions 20 + 20 + 10 + 2 = 52,
 *           bankrupt 6 + 4 + 1 = 11.
 *   B = 30  only at turn 4 can the running cost exceed 30: ssss (40) and the
 *           four paths with three strong (31).  Transitions 16 x 4 = 64,
 *           bankrupt 5.
 *   B = 50, 85  the most expensive path costs 40: 64 transitions each, none
 *           bankrupt.
 * Per session: 30 + 52 + 64 + 64 + 64 = 274 transitions, 15 + 11 + 5 = 31
 * bankrupt.
 */
static const double paper_budgets[5] = {5, 15, 30, 50, 85};
static const uint64_t paper_transitions[5] = {30, 52, 64, 64, 64};
static const uint64_t paper_bankrupt[5] = {15, 11, 5, 0, 0};

static void paper_shaped_counts(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_stats stats;
    sr_error err;
    init_models(&ds, 2);
    add_session(&ds, "a", 4, weak_strong, true, NULL, false);
    add_session(&ds, "b", 4, weak_strong, true, NULL, false);
    sr_hbr *hbr = make_hbr(&ds, paper_budgets, 5, false);

    assert_int_equal(sr_hbr_session_paths(hbr, 0), 16);
    assert_int_equal(sr_hbr_stats_compute(hbr, &stats, &err), SR_OK);
    assert_int_equal(stats.sessions, 2);
    assert_int_equal(stats.sessions_by_kind[SR_HBR_PATHS_ENUMERATED], 2);
    assert_int_equal(stats.episodes, 2 * 5 * 16);
    assert_int_equal(stats.transitions, 2 * 274);
    assert_int_equal(stats.bankrupt_transitions, 2 * 31);
    assert_int_equal(stats.distinct_transitions, 2 * 274);
    for (int l = 0; l < 5; l++) {
        assert_int_equal(stats.level_transitions[l], 2 * paper_transitions[l]);
        assert_int_equal(stats.level_bankrupt[l], 2 * paper_bankrupt[l]);
    }

    sr_hbr_stats_free(&stats);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/*
 * Dedupe on the paper-shaped case: a prefix of length L is a distinct
 * transition when its first L - 1 actions did not already go bankrupt.
 *   B = 30, 50, 85  nothing is bankrupt before turn 4: 2 + 4 + 8 + 16 = 30.
 *   B = 15  the first L - 1 actions must hold at most one strong call:
 *           L = 1: 2; L = 2: 2 x 2 = 4; L = 3: {ww, ws, sw} x 2 = 6;
 *           L = 4: {www, wws, wsw, sww} x 2 = 8.  Total 20.
 *   B = 5   the first L - 1 actions must all be weak: 2 per length, 8.
 * Distinct per session 8 + 20 + 30 + 30 + 30 = 118; the weights still sum
 * to 274 and the bankrupt weights to 31.
 */
static void paper_shaped_dedupe(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_stats stats;
    sr_error err;
    static const uint64_t distinct[5] = {8, 20, 30, 30, 30};
    init_models(&ds, 2);
    add_session(&ds, "a", 4, weak_strong, true, NULL, false);
    sr_hbr *hbr = make_hbr(&ds, paper_budgets, 5, true);

    assert_int_equal(sr_hbr_stats_compute(hbr, &stats, &err), SR_OK);
    assert_int_equal(stats.distinct_transitions, 118);
    assert_int_equal(stats.transitions, 274);
    assert_int_equal(stats.bankrupt_transitions, 31);
    for (int l = 0; l < 5; l++) {
        assert_int_equal(stats.level_transitions[l], paper_transitions[l]);
        assert_int_equal(stats.level_bankrupt[l], paper_bankrupt[l]);
    }

    /* Per level distinct counts, and the first transition shared by all 16 paths at B = 85. */
    size_t n;
    sr_hbr_transition *tr = materialise(hbr, &n);
    assert_int_equal(n, 118);
    uint64_t per_level[5] = {0};
    for (size_t i = 0; i < n; i++)
        per_level[tr[i].level]++;
    for (int l = 0; l < 5; l++)
        assert_int_equal(per_level[l], distinct[l]);
    const sr_hbr_transition *first_85 = &tr[n - 30];
    assert_int_equal(first_85->level, 4);
    assert_int_equal(first_85->t, 0);
    assert_int_equal(first_85->weight, 8); /* prefix [w]: half of the 16 paths */

    free(tr);
    sr_hbr_stats_free(&stats);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/*
 * Logged-only replay: logged path [s, w, s] costs 10, 1, 10.
 *   B = 12   12 -> 2 -> 1 -> -9: 3 transitions, the last bankrupt.
 *   B = 100  100 -> 90 -> 89 -> 79: 3 transitions, none bankrupt.
 */
static void logged_only_replay(void **state)
{
    (void)state;
    sr_dataset ds;
    static const int logged[3] = {STRONG, WEAK, STRONG};
    init_models(&ds, 2);
    add_session(&ds, "s", 3, weak_strong, true, logged, true);
    static const double budgets[2] = {12, 100};
    sr_hbr *hbr = make_hbr(&ds, budgets, 2, false);

    assert_int_equal(sr_hbr_session_kind(hbr, 0), SR_HBR_PATHS_LOGGED);
    size_t n;
    sr_hbr_transition *tr = materialise(hbr, &n);
    assert_int_equal(n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(tr[i].action, logged[i % 3]);
    assert_true(tr[2].budget == 1.0);
    assert_true(tr[2].next_budget == -9.0);
    assert_int_equal(tr[2].flags, SR_HBR_TERMINAL | SR_HBR_BANKRUPT);
    assert_true(tr[5].next_budget == 79.0);
    assert_int_equal(tr[5].flags, SR_HBR_TERMINAL);

    free(tr);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/*
 * Logged-only data has no C_ref for fractions when the dearest model lacks
 * outcomes (here strong, logged on turn 2 only): creation fails and the
 * message names the fix.
 */
static void logged_only_fractions_rejected(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_options opt;
    sr_hbr *hbr = NULL;
    sr_error err;
    static const int logged[2] = {WEAK, STRONG};
    init_models(&ds, 2);
    add_session(&ds, "s", 2, weak_strong, true, logged, true);
    sr_hbr_options_default(&opt);

    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_ERR_INVALID);
    assert_null(hbr);
    assert_non_null(strstr(err.message, "absolute budgets"));

    /* With an explicit C_ref the fractions resolve: 0.5 x 8 = 4. */
    opt.c_ref = 8;
    static const double half = 0.5;
    opt.budget_values = &half;
    opt.n_budget_values = 1;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_OK);
    const double *levels;
    assert_int_equal(sr_hbr_levels(hbr, &levels), 1);
    assert_true(levels[0] == 4.0);

    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/*
 * Mixed data, budget 100 (nothing bankrupt): a full-information 2-turn
 * session (4 paths x 2 = 8 transitions), a logged 2-turn session (2), and a
 * session whose turn 2 has neither a logged model nor all outcomes
 * (unusable, 0, but counted).
 */
static void mixed_data_unusable_counted(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_stats stats;
    sr_error err;
    static const int logged[2] = {WEAK, STRONG};
    init_models(&ds, 2);
    add_session(&ds, "full", 2, weak_strong, true, NULL, false);
    add_session(&ds, "logged", 2, weak_strong, true, logged, true);
    add_session(&ds, "broken", 2, weak_strong, true, logged, true);
    ds.turns[ds.n_turns - 1].logged = -1;
    const double budget = 100;
    sr_hbr *hbr = make_hbr(&ds, &budget, 1, false);

    assert_int_equal(sr_hbr_session_kind(hbr, 0), SR_HBR_PATHS_ENUMERATED);
    assert_int_equal(sr_hbr_session_kind(hbr, 1), SR_HBR_PATHS_LOGGED);
    assert_int_equal(sr_hbr_session_kind(hbr, 2), SR_HBR_PATHS_UNUSABLE);
    assert_int_equal(sr_hbr_stats_compute(hbr, &stats, &err), SR_OK);
    assert_int_equal(stats.transitions, 10);
    assert_int_equal(stats.sessions, 3);
    assert_int_equal(stats.sessions_by_kind[SR_HBR_PATHS_UNUSABLE], 1);
    assert_int_equal(stats.sessions_by_kind[SR_HBR_PATHS_LOGGED], 1);

    sr_hbr_stats_free(&stats);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/* Default budgets: C_ref = 4 turns x strong cost 10 = 40, levels 2, 6, 12, 20, 34. */
static void default_fractions_of_c_ref(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_options opt;
    sr_hbr *hbr = NULL;
    sr_error err;
    init_models(&ds, 2);
    add_session(&ds, "a", 4, weak_strong, true, NULL, false);
    sr_hbr_options_default(&opt);
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_OK);

    const double *levels;
    assert_int_equal(sr_hbr_levels(hbr, &levels), 5);
    assert_true(sr_hbr_c_ref(hbr) == 40.0);
    assert_true(fabs(levels[0] - 2.0) < 1e-12);
    assert_true(fabs(levels[1] - 6.0) < 1e-12);
    assert_true(fabs(levels[2] - 12.0) < 1e-12);
    assert_true(fabs(levels[3] - 20.0) < 1e-12);
    assert_true(fabs(levels[4] - 34.0) < 1e-12);
    assert_true(fabs(sr_hbr_max_budget(hbr) - 34.0) < 1e-12);

    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/* Three models, four turns: 3^4 = 81 > 64, so 16 paths are sampled; with max_enum 81, all. */
static const qc three_models[3] = {{0.25, 1.0}, {0.75, 10.0}, {0.5, 4.0}};

static void sampled_when_too_many_paths(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_options opt;
    sr_hbr_stats stats;
    sr_hbr *hbr = NULL;
    sr_error err;
    init_models(&ds, 3);
    add_session(&ds, "a", 4, three_models, true, NULL, false);
    const double budget = 1000; /* above the dearest path's 40: no bankruptcy */
    sr_hbr_options_default(&opt);
    opt.budget_mode = SR_HBR_BUDGET_ABSOLUTE;
    opt.budget_values = &budget;
    opt.n_budget_values = 1;

    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_OK);
    assert_int_equal(sr_hbr_session_kind(hbr, 0), SR_HBR_PATHS_SAMPLED);
    assert_int_equal(sr_hbr_session_paths(hbr, 0), 16);
    assert_int_equal(sr_hbr_stats_compute(hbr, &stats, &err), SR_OK);
    assert_int_equal(stats.transitions, 16 * 4);
    sr_hbr_stats_free(&stats);
    sr_hbr_free(hbr);

    /* Dedupe over sampled paths keeps the weighted count. */
    opt.dedupe = true;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_OK);
    assert_int_equal(sr_hbr_stats_compute(hbr, &stats, &err), SR_OK);
    assert_int_equal(stats.transitions, 16 * 4);
    assert_true(stats.distinct_transitions <= 16 * 4);
    sr_hbr_stats_free(&stats);
    sr_hbr_free(hbr);

    opt.dedupe = false;
    opt.max_enum = 81;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_OK);
    assert_int_equal(sr_hbr_session_kind(hbr, 0), SR_HBR_PATHS_ENUMERATED);
    assert_int_equal(sr_hbr_session_paths(hbr, 0), 81);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/* Counts actions of the visited transitions. */
static sr_status count_actions(const sr_hbr_transition *tr, void *user_data)
{
    size_t *counts = user_data;
    counts[tr->t * 3 + tr->action]++;
    return SR_OK;
}

/*
 * A pure mixture gives a fixed behaviour.  The turn qualities (weak, strong,
 * third) make the per-turn greedy choice strong, third, weak, strong.  The
 * cheapest model by mean cost is weak (1), and the strongest by mean quality
 * is strong (0.75 against 0.4375 and 0.5625).
 */
static void mixture_behaviours(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_options opt;
    sr_error err;
    static const qc turns[4][3] = {
        {{0.25, 1}, {0.75, 10}, {0.5, 4}},
        {{0.25, 1}, {0.5, 10}, {0.75, 4}},
        {{1.0, 1}, {0.75, 10}, {0.5, 4}},
        {{0.25, 1}, {1.0, 10}, {0.5, 4}},
    };
    static const int expected[3][4] = {
        {WEAK, WEAK, WEAK, WEAK},
        {STRONG, STRONG, STRONG, STRONG},
        {STRONG, 2, WEAK, STRONG},
    };
    init_models(&ds, 3);
    add_session(&ds, "a", 4, &turns[0][0], false, NULL, false);
    const double budget = 1000;

    for (int b = 0; b < 3; b++) {
        sr_hbr *hbr = NULL;
        size_t counts[4 * 3] = {0};
        sr_hbr_options_default(&opt);
        opt.budget_mode = SR_HBR_BUDGET_ABSOLUTE;
        opt.budget_values = &budget;
        opt.n_budget_values = 1;
        memset(opt.mixture, 0, sizeof(opt.mixture));
        opt.mixture[SR_HBR_BEHAVIOUR_CHEAPEST + b] = 1;
        assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_OK);
        assert_int_equal(sr_hbr_foreach(hbr, count_actions, counts, &err), SR_OK);
        for (int t = 0; t < 4; t++)
            assert_int_equal(counts[t * 3 + expected[b][t]], 16);
        sr_hbr_free(hbr);
    }
    sr_dataset_free(&ds);
}

/* Compares two transitions except their session and row, which depend on file order. */
static bool same_transition(const sr_hbr_transition *a, const sr_hbr_transition *b)
{
    return a->budget == b->budget && a->next_budget == b->next_budget &&
           a->reward == b->reward && a->t == b->t && a->level == b->level &&
           a->action == b->action && a->flags == b->flags && a->weight == b->weight;
}

/*
 * Sampled paths and log-uniform budgets are the same for the same seed,
 * differ for another seed, and do not depend on where the session sits in
 * the file.
 */
static void determinism_by_seed(void **state)
{
    (void)state;
    sr_dataset forward;
    sr_dataset backward;
    sr_hbr_options opt;
    sr_error err;
    static const qc other[3] = {{0.5, 2.0}, {1.0, 8.0}, {0.25, 1.0}};
    init_models(&forward, 3);
    add_session(&forward, "a", 4, three_models, true, NULL, false);
    add_session(&forward, "b", 4, other, true, NULL, false);
    init_models(&backward, 3);
    add_session(&backward, "b", 4, other, true, NULL, false);
    add_session(&backward, "a", 4, three_models, true, NULL, false);
    sr_hbr_options_default(&opt);
    opt.budget_mode = SR_HBR_BUDGET_LOG_UNIFORM;
    opt.log_lo = 2;
    opt.log_hi = 40;
    opt.log_n = 3;
    opt.seed = 7;

    sr_hbr *h1 = NULL;
    sr_hbr *h2 = NULL;
    sr_hbr *h3 = NULL;
    assert_int_equal(sr_hbr_create(&forward, &opt, &h1, &err), SR_OK);
    assert_int_equal(sr_hbr_create(&backward, &opt, &h2, &err), SR_OK);
    opt.seed = 8;
    assert_int_equal(sr_hbr_create(&forward, &opt, &h3, &err), SR_OK);

    /* Log-uniform budgets: in range, sorted, keyed by session id. */
    double b1[3];
    double b2[3];
    double b3[3];
    assert_int_equal(sr_hbr_session_budgets(h1, 0, b1, &err), SR_OK);
    assert_int_equal(sr_hbr_session_budgets(h2, 1, b2, &err), SR_OK);
    assert_int_equal(sr_hbr_session_budgets(h3, 0, b3, &err), SR_OK);
    for (int i = 0; i < 3; i++) {
        assert_true(b1[i] >= 2 && b1[i] <= 40);
        assert_true(b1[i] == b2[i]);
    }
    assert_true(b1[0] <= b1[1] && b1[1] <= b1[2]);
    assert_true(b1[0] != b3[0]);

    /* Transitions of session "a" agree between h1 and h2 and differ under seed 8. */
    size_t n1;
    size_t n2;
    size_t n3;
    sr_hbr_transition *t1 = materialise(h1, &n1);
    sr_hbr_transition *t2 = materialise(h2, &n2);
    sr_hbr_transition *t3 = materialise(h3, &n3);
    size_t a1 = 0;
    size_t a2 = 0;
    while (a2 < n2 && t2[a2].session != 1)
        a2++;
    size_t count_a = 0;
    while (a1 + count_a < n1 && t1[a1 + count_a].session == 0)
        count_a++;
    assert_true(count_a > 0);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < count_a; i++)
        assert_true(same_transition(&t1[a1 + i], &t2[a2 + i]));
    bool differs = n1 != n3;
    for (size_t i = 0; i < n1 && i < n3 && !differs; i++)
        differs = !same_transition(&t1[i], &t3[i]);
    assert_true(differs);

    /* Sampling: the same rng seed gives the same draws. */
    sr_hbr_transition s1[64];
    sr_hbr_transition s2[64];
    sr_rng r1;
    sr_rng r2;
    sr_rng_seed(&r1, 99);
    sr_rng_seed(&r2, 99);
    assert_int_equal(sr_hbr_sample(h1, &r1, s1, 64, &err), SR_OK);
    assert_int_equal(sr_hbr_sample(h1, &r2, s2, 64, &err), SR_OK);
    assert_memory_equal(s1, s2, sizeof(s1));

    free(t1);
    free(t2);
    free(t3);
    sr_hbr_free(h1);
    sr_hbr_free(h2);
    sr_hbr_free(h3);
    sr_dataset_free(&forward);
    sr_dataset_free(&backward);
}

/* ---- sampler uniformity ------------------------------------------------------ */

/* Distinct transitions of the multiset and their multiplicities. */
typedef struct tally {
    sr_hbr_transition keys[64];
    double expected[64];
    size_t observed[64];
    size_t n;
    size_t total;
} tally;

static bool same_key(const sr_hbr_transition *a, const sr_hbr_transition *b)
{
    return a->session == b->session && a->row == b->row && same_transition(a, b);
}

/* Returns the slot of `tr`, adding it when `add`; -1 when absent. */
static int tally_find(tally *tl, const sr_hbr_transition *tr, bool add)
{
    for (size_t i = 0; i < tl->n; i++)
        if (same_key(&tl->keys[i], tr))
            return (int)i;
    if (!add || tl->n == 64)
        return -1;
    tl->keys[tl->n] = *tr;
    tl->expected[tl->n] = 0;
    tl->observed[tl->n] = 0;
    return (int)tl->n++;
}

static sr_status tally_visit(const sr_hbr_transition *tr, void *user_data)
{
    tally *tl = user_data;
    const int i = tally_find(tl, tr, true);
    if (i < 0)
        return SR_ERR_NOMEM;
    tl->expected[i] += 1;
    tl->total++;
    return SR_OK;
}

/*
 * Sampling is uniform over the multiset.  The data is a 2-turn session at
 * budgets 8 and 12 (6 + 8 transitions) plus a 1-turn session (2 + 2).  That
 * makes 18 transitions in 14 distinct keys (4 + 6 + 2 + 2), with episodes
 * of one and two steps and keys shared by up to two paths.  200,000 draws with a fixed seed: the
 * chi-square statistic over the keys must stay below the 0.999 quantile of
 * chi-square with (keys - 1) degrees of freedom (Wilson-Hilferty
 * approximation, accurate to about 1% at these degrees of freedom).  A
 * correct sampler fails with probability 0.001 for a random seed, and the
 * seed is fixed, so the test is deterministic.  A sampler that picked an
 * episode first and then a step inside it would give each transition of a
 * one-step episode twice its share, which at 200,000 draws puts the
 * statistic in the thousands.
 */
static void sampler_uniform(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    init_models(&ds, 2);
    add_session(&ds, "two", 2, weak_strong, true, NULL, false);
    add_session(&ds, "one", 1, weak_strong, true, NULL, false);
    static const double budgets[2] = {8, 12};
    sr_hbr *hbr = make_hbr(&ds, budgets, 2, false);

    tally tl;
    memset(&tl, 0, sizeof(tl));
    assert_int_equal(sr_hbr_foreach(hbr, tally_visit, &tl, &err), SR_OK);
    assert_int_equal(tl.total, 18);

    enum { DRAWS = 200000, BATCH = 1000 };
    sr_rng rng;
    sr_rng_seed(&rng, 12345);
    sr_hbr_transition batch[BATCH];
    for (int d = 0; d < DRAWS; d += BATCH) {
        assert_int_equal(sr_hbr_sample(hbr, &rng, batch, BATCH, &err), SR_OK);
        for (int i = 0; i < BATCH; i++) {
            const int k = tally_find(&tl, &batch[i], false);
            assert_true(k >= 0); /* never a transition outside the multiset */
            assert_int_equal(batch[i].weight, 1);
            tl.observed[k]++;
        }
    }

    double chi2 = 0;
    for (size_t i = 0; i < tl.n; i++) {
        const double e = DRAWS * tl.expected[i] / (double)tl.total;
        const double diff = (double)tl.observed[i] - e;
        assert_true(tl.observed[i] > 0);
        chi2 += diff * diff / e;
    }
    const double df = (double)tl.n - 1;
    const double z999 = 3.090232306; /* standard normal 0.999 quantile */
    const double a = 2.0 / (9.0 * df);
    const double critical = df * pow(1 - a + z999 * sqrt(a), 3);
    print_message("sampler chi-square %.3f with %g degrees of freedom, critical %.3f\n", chi2, df,
                  critical);
    assert_true(chi2 < critical);

    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/* The sampler fails cleanly when nothing can be sampled. */
static void sampler_empty_fails(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    init_models(&ds, 2);
    const double budget = 5;
    sr_hbr *hbr = make_hbr(&ds, &budget, 1, false);
    sr_hbr_transition tr;
    sr_rng rng;
    sr_rng_seed(&rng, 1);
    assert_int_equal(sr_hbr_sample(hbr, &rng, &tr, 1, &err), SR_ERR_INVALID);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

/* Bad options are rejected with the field named. */
static void options_rejected(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_hbr_options opt;
    sr_hbr *hbr = NULL;
    sr_error err;
    init_models(&ds, 2);
    add_session(&ds, "a", 2, weak_strong, true, NULL, false);

    sr_hbr_options_default(&opt);
    opt.max_enum = 0;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "max_enum");

    sr_hbr_options_default(&opt);
    memset(opt.mixture, 0, sizeof(opt.mixture));
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "mixture");

    sr_hbr_options_default(&opt);
    opt.mixture[2] = -1;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "mixture");

    sr_hbr_options_default(&opt);
    opt.budget_mode = SR_HBR_BUDGET_LOG_UNIFORM;
    opt.log_lo = 0;
    opt.log_hi = 10;
    opt.log_n = 3;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "log_uniform");

    sr_hbr_options_default(&opt);
    static const double negative = -1;
    opt.budget_mode = SR_HBR_BUDGET_ABSOLUTE;
    opt.budget_values = &negative;
    opt.n_budget_values = 1;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "budgets");

    sr_hbr_options_default(&opt);
    opt.mdp.eta = -1;
    assert_int_equal(sr_hbr_create(&ds, &opt, &hbr, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "eta");
    assert_null(hbr);

    sr_dataset_free(&ds);
}

/* Materialising stops at the cap instead of growing without bound. */
static void materialise_respects_cap(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    init_models(&ds, 2);
    add_session(&ds, "s", 2, weak_strong, true, NULL, false);
    const double budget = 8;
    sr_hbr *hbr = make_hbr(&ds, &budget, 1, false);
    sr_hbr_transition *items = NULL;
    size_t count = 0;
    assert_int_equal(sr_hbr_materialise(hbr, 5, &items, &count, &err), SR_ERR_NOMEM);
    assert_null(items);
    assert_int_equal(sr_hbr_materialise(hbr, 6, &items, &count, &err), SR_OK);
    assert_int_equal(count, 6);
    free(items);
    sr_hbr_free(hbr);
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_turn_one_bankrupt),
        cmocka_unit_test(two_turns_bankrupt_truncates),
        cmocka_unit_test(paper_shaped_counts),
        cmocka_unit_test(paper_shaped_dedupe),
        cmocka_unit_test(logged_only_replay),
        cmocka_unit_test(logged_only_fractions_rejected),
        cmocka_unit_test(mixed_data_unusable_counted),
        cmocka_unit_test(default_fractions_of_c_ref),
        cmocka_unit_test(sampled_when_too_many_paths),
        cmocka_unit_test(mixture_behaviours),
        cmocka_unit_test(determinism_by_seed),
        cmocka_unit_test(sampler_uniform),
        cmocka_unit_test(sampler_empty_fails),
        cmocka_unit_test(options_rejected),
        cmocka_unit_test(materialise_respects_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
