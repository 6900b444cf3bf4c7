/*
 * test_fqe.c - Fitted Q Evaluation against exact values.
 *
 * The small MDP.  Two models (weak, strong), three turns, and at every turn
 * a hidden variant v in {0, 1} that picks the turn's outcomes (the strong
 * model's cost varies with it, so budgets evolve randomly).  The state the
 * estimator sees is a one-hot embedding of the turn plus the remaining
 * budget; the variant is invisible.  The data holds every one of the 2^3
 * variant sequences exactly once (full factorial), so the variant of each
 * turn is independent of everything before it, and the exact value of a
 * policy π that looks at (t, b) is the dynamic program
 *
 *   V(t, b) = sum over v of 1/2 [ q_t^v(a) + (b - c_t^v(a) < 0 ? -eta : V(t+1, b - c_t^v(a))) ]
 *   a = π(t, b),  V(3, b) = 0
 *
 * which the tests compute by hand-written recursion, and which also equals
 * the simulator's mean return over the 8 sessions (checked first, so the
 * reference itself is tested).  Tabular FQE must reproduce it to rounding,
 * on full-information data (enumerated paths) and on logged-only data whose
 * behaviour prefers the weak model (off-policy).  The linear class must
 * reach it where Q^π is linear in the state.  On generated data, the MLP
 * class must land within a stated tolerance of the simulator.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "seqroute/eval.h"
#include "seqroute/fqe.h"
#include "seqroute/policy.h"
#include "seqroute/synth.h"

#define T_TURNS 3
#define WEAK 0
#define STRONG 1

/* Outcomes per turn and variant; the strong model's cost depends on the variant. */
static const double Q_WEAK[T_TURNS][2] = {{0.5, 0.3}, {0.4, 0.2}, {0.6, 0.1}};
static const double Q_STRONG[T_TURNS][2] = {{0.9, 0.7}, {1.0, 0.6}, {0.8, 0.95}};
static const double C_WEAK = 1.0;
static const double C_STRONG[T_TURNS][2] = {{3, 4}, {2, 4}, {3, 5}};

/* Budgets from "bankrupt on most strong paths" to "strong almost throughout". */
static const double BUDGETS[] = {4, 7, 10};
#define N_BUDGETS 3

/* Rounding only: every value here is a short sum of one-decimal numbers. */
#define EXACT_TOL 1e-9

static void add_models(sr_dataset *ds)
{
    sr_error err;
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, NAN, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, NAN, false, &err), SR_OK);
}

/*
 * Adds one session with variants `v` (bit t = variant of turn t).  With
 * `path` >= 0 the session is logged-only along path (bit t set = strong);
 * otherwise every outcome is present.
 */
static void add_session(sr_dataset *ds, const char *id, unsigned v, int path)
{
    sr_error err;
    assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
    for (int t = 0; t < T_TURNS; t++) {
        float onehot[T_TURNS] = {0};
        onehot[t] = 1.0f;
        const int vt = (int)((v >> t) & 1u);
        const int logged = path < 0 ? -1 : (int)(((unsigned)path >> t) & 1u);
        size_t turn;
        assert_int_equal(sr_dataset_add_turn(ds, NULL, onehot, T_TURNS, NULL, logged, &turn, &err),
                         SR_OK);
        if (logged != STRONG)
            assert_int_equal(sr_dataset_set_outcome(ds, turn, WEAK, Q_WEAK[t][vt], C_WEAK, NAN,
                                                    NAN, &err),
                             SR_OK);
        if (logged != WEAK)
            assert_int_equal(sr_dataset_set_outcome(ds, turn, STRONG, Q_STRONG[t][vt],
                                                    C_STRONG[t][vt], NAN, NAN, &err),
                             SR_OK);
    }
}

/* The 8 sessions of the full factorial, every outcome present. */
static void build_full(sr_dataset *ds)
{
    sr_dataset_init(ds);
    add_models(ds);
    for (unsigned v = 0; v < 8; v++) {
        char id[32];
        snprintf(id, sizeof(id), "v%u", v);
        add_session(ds, id, v, -1);
    }
}

/*
 * Logged-only sessions: every variant sequence along every path, path p
 * repeated 1 + (weak turns of p) times, so the behaviour prefers the weak
 * model (12 of every 20 sessions start with it) and differs from the
 * policies evaluated.  Repetition depends on the path only, so the
 * variants stay independent of the behaviour.
 */
static void build_logged(sr_dataset *ds)
{
    sr_dataset_init(ds);
    add_models(ds);
    for (int path = 0; path < 8; path++) {
        const int weak_turns = T_TURNS - __builtin_popcount((unsigned)path);
        for (int copy = 0; copy <= weak_turns; copy++)
            for (unsigned v = 0; v < 8; v++) {
                char id[48];
                snprintf(id, sizeof(id), "p%d-c%d-v%u", path, copy, v);
                add_session(ds, id, v, path);
            }
    }
}

/* ---- policies ------------------------------------------------------------------ */

/* Strong while at least 4.5 remains: budget-dependent and not in the library. */
static int threshold_act(sr_policy *policy, const sr_policy_state *state)
{
    (void)policy;
    return state->budget >= 4.5 ? STRONG : WEAK;
}

static int weak_act(sr_policy *policy, const sr_policy_state *state)
{
    (void)policy;
    (void)state;
    return WEAK;
}

static int strong_act(sr_policy *policy, const sr_policy_state *state)
{
    (void)policy;
    (void)state;
    return STRONG;
}

static sr_policy make_policy(const char *name, int (*act)(sr_policy *, const sr_policy_state *))
{
    sr_policy p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    p.act = act;
    return p;
}

/* ---- the exact value ------------------------------------------------------------- */

/* V(t, b) of the file comment, asking `policy` for its action at (t, b). */
static double exact_value(sr_policy *policy, const sr_dataset *ds, int t, double budget,
                          double start_budget)
{
    if (t == T_TURNS)
        return 0.0;
    sr_rng rng;
    sr_rng_seed(&rng, 1);
    const sr_policy_state view = {ds, 0, t, budget, start_budget, -1, &rng};
    const int a = policy->act(policy, &view);
    double value = 0.0;
    for (int v = 0; v < 2; v++) {
        const double q = a == STRONG ? Q_STRONG[t][v] : Q_WEAK[t][v];
        const double c = a == STRONG ? C_STRONG[t][v] : C_WEAK;
        const double next = budget - c;
        const double tail = next < 0 ? -SR_MDP_DEFAULT_ETA
                                     : exact_value(policy, ds, t + 1, next, start_budget);
        value += 0.5 * (q + tail);
    }
    return value;
}

static void tabular_options(sr_fqe_options *o)
{
    sr_fqe_options_default(o);
    o->function = SR_FQE_TABULAR;
}

/* Runs FQE and checks every budget against the dynamic program. */
static void check_against_exact(const sr_dataset *data, const sr_dataset *reference,
                                sr_policy *policy, const sr_fqe_options *o, double tolerance)
{
    sr_fqe_result result;
    sr_error err;
    sr_error_clear(&err);
    const sr_status status = sr_fqe_evaluate(data, policy, BUDGETS, N_BUDGETS, o, &result, &err);
    if (status != SR_OK)
        fail_msg("sr_fqe_evaluate: %s", err.message);
    for (int b = 0; b < N_BUDGETS; b++) {
        const double exact = exact_value(policy, reference, 0, BUDGETS[b], BUDGETS[b]);
        if (fabs(result.budgets[b].value - exact) > tolerance)
            fail_msg("policy %s budget %g: FQE %.12f, exact %.12f (tolerance %g)", policy->name,
                     BUDGETS[b], result.budgets[b].value, exact, tolerance);
    }
    sr_fqe_result_free(&result);
}

/* ---- tests ----------------------------------------------------------------------- */

/* The reference: on the full factorial the recursion equals the simulator's mean return. */
static void test_exact_value_matches_simulator(void **state)
{
    (void)state;
    sr_dataset ds;
    build_full(&ds);
    sr_policy threshold = make_policy("threshold", threshold_act);
    sr_eval_options eopt;
    sr_eval_options_default(&eopt);
    for (int b = 0; b < N_BUDGETS; b++) {
        sr_eval_metrics m;
        sr_error err;
        assert_int_equal(sr_eval_policy(&threshold, &ds, BUDGETS[b], &eopt, &m, &err), SR_OK);
        assert_true(fabs(m.mean_return - exact_value(&threshold, &ds, 0, BUDGETS[b], BUDGETS[b])) <
                    EXACT_TOL);
    }

    /* Hand check of one value: always-weak is the sum of the mean weak qualities. */
    sr_policy weak = make_policy("weak", weak_act);
    assert_true(fabs(exact_value(&weak, &ds, 0, 10, 10) - (0.4 + 0.3 + 0.35)) < EXACT_TOL);

    /*
     * Hand check with bankruptcy: always-strong from 4.  Turn 0 costs 3 or 4
     * (0 or 1 left), turn 1 then costs 2 or 4 > 1: bankrupt.  So
     * V = 0.8 (mean turn-0 quality) + mean turn-1 quality 0.8 - eta = 0.6.
     */
    sr_policy strong = make_policy("strong", strong_act);
    assert_true(fabs(exact_value(&strong, &ds, 0, 4, 4) - 0.6) < EXACT_TOL);
    sr_dataset_free(&ds);
}

/* Tabular FQE on full-information data (all 8 paths enumerated, a behaviour unlike π). */
static void test_tabular_full_information(void **state)
{
    (void)state;
    sr_dataset ds;
    build_full(&ds);
    sr_fqe_options o;
    tabular_options(&o);

    sr_policy threshold = make_policy("threshold", threshold_act);
    sr_policy strong = make_policy("strong", strong_act);
    sr_policy weak = make_policy("weak", weak_act);
    check_against_exact(&ds, &ds, &threshold, &o, EXACT_TOL);
    check_against_exact(&ds, &ds, &strong, &o, EXACT_TOL);
    check_against_exact(&ds, &ds, &weak, &o, EXACT_TOL);

    /* The library's heuristic, built on the same data. */
    sr_policy_options popt;
    sr_policy_options_default(&popt);
    sr_policy *heuristic = NULL;
    sr_error err;
    assert_int_equal(sr_policy_create("heuristic", &ds, &popt, &heuristic, &err), SR_OK);
    check_against_exact(&ds, &ds, heuristic, &o, EXACT_TOL);
    sr_policy_free(heuristic);
    sr_dataset_free(&ds);
}

/* The result's bookkeeping on the full factorial. */
static void test_tabular_counts_and_trace(void **state)
{
    (void)state;
    sr_dataset ds;
    build_full(&ds);
    sr_fqe_options o;
    tabular_options(&o);
    sr_policy threshold = make_policy("threshold", threshold_act);
    sr_fqe_result r;
    sr_error err;
    assert_int_equal(sr_fqe_evaluate(&ds, &threshold, BUDGETS, N_BUDGETS, &o, &r, &err), SR_OK);

    /* Automatic iterations: the longest session (3) plus 2. */
    assert_int_equal(r.iterations, 5);
    assert_int_equal(r.sessions, 8);
    assert_int_equal(r.sessions_unusable, 0);
    assert_true(r.coverage_next == 1.0);
    for (int b = 0; b < N_BUDGETS; b++)
        assert_true(r.budgets[b].coverage_initial == 1.0);

    /* The fixed point is reached after 3 regressions, and later ones change nothing. */
    assert_true(r.last_change < EXACT_TOL);
    for (int b = 0; b < N_BUDGETS; b++) {
        assert_true(fabs(r.budgets[b].trace[2] - r.budgets[b].value) < EXACT_TOL);
        assert_true(fabs(r.budgets[b].trace[3] - r.budgets[b].value) < EXACT_TOL);
    }

    /*
     * One regression (Q_1 = immediate reward) gives the mean first-turn
     * reward of π: at budget 10 π calls strong, whose mean quality is 0.8.
     */
    assert_true(fabs(r.budgets[2].trace[0] - 0.8) < EXACT_TOL);

    /* Dedupe: paths that share a prefix share its transitions, so the weighted count is larger. */
    assert_true(r.transitions > r.distinct_transitions);
    sr_fqe_result_free(&r);
    sr_dataset_free(&ds);
}

/* Off-policy: logged-only data from a weak-leaning behaviour still gives the exact value. */
static void test_tabular_logged_off_policy(void **state)
{
    (void)state;
    sr_dataset full;
    sr_dataset logged;
    build_full(&full);
    build_logged(&logged);
    assert_int_equal(logged.n_sessions, 8 * 20);
    assert_false(sr_dataset_is_full_information(&logged));

    sr_fqe_options o;
    tabular_options(&o);
    sr_policy threshold = make_policy("threshold", threshold_act);
    sr_policy strong = make_policy("strong", strong_act);
    check_against_exact(&logged, &full, &threshold, &o, EXACT_TOL);
    check_against_exact(&logged, &full, &strong, &o, EXACT_TOL);

    /* The heuristic with its model means from the full data, so it is the same policy. */
    sr_policy_options popt;
    sr_policy_options_default(&popt);
    popt.reference = &full;
    sr_policy *heuristic = NULL;
    sr_error err;
    assert_int_equal(sr_policy_create("heuristic", &logged, &popt, &heuristic, &err), SR_OK);
    check_against_exact(&logged, &full, heuristic, &o, EXACT_TOL);
    sr_policy_free(heuristic);

    /* Without the repetition the behaviour would be uniform; check it was not. */
    size_t weak_first = 0;
    for (size_t s = 0; s < logged.n_sessions; s++)
        weak_first += logged.turns[logged.sessions[s].first_turn].logged == WEAK;
    /* Paths 0, 2, 4 and 6 start weak, with 3, 2, 2 and 1 weak turns: 4 + 3 + 3 + 2 copies. */
    assert_int_equal(weak_first, 8 * (4 + 3 + 3 + 2));
    sr_dataset_free(&logged);
    sr_dataset_free(&full);
}

/* No coverage: the data never calls strong, so FQE of always-strong reports 0 coverage. */
static void test_coverage_missing(void **state)
{
    (void)state;
    sr_dataset full;
    sr_dataset ds;
    build_full(&full);
    sr_dataset_init(&ds);
    add_models(&ds);
    for (unsigned v = 0; v < 8; v++) {
        char id[32];
        snprintf(id, sizeof(id), "w%u", v);
        add_session(&ds, id, v, 0); /* path 0: weak on every turn */
    }
    sr_fqe_options o;
    tabular_options(&o);
    sr_policy strong = make_policy("strong", strong_act);
    sr_fqe_result r;
    sr_error err;
    assert_int_equal(sr_fqe_evaluate(&ds, &strong, BUDGETS, N_BUDGETS, &o, &r, &err), SR_OK);
    for (int b = 0; b < N_BUDGETS; b++) {
        assert_true(r.budgets[b].coverage_initial == 0.0);
        assert_true(r.budgets[b].value == 0.0); /* unconstrained pairs read 0 */
    }
    assert_true(r.coverage_next == 0.0);
    sr_fqe_result_free(&r);

    /* Weak-only data covers always-weak fully, so its estimate is exact. */
    sr_policy weak = make_policy("weak", weak_act);
    check_against_exact(&ds, &full, &weak, &o, EXACT_TOL);
    sr_dataset_free(&ds);
    sr_dataset_free(&full);
}

/*
 * Linear class where Q^π is linear in the state: at budget 20 nothing goes
 * bankrupt on any path, so Q^π(s, a) depends on the turn alone, which the
 * one-hot embedding gives.  Adam must reach the exact value closely.
 */
static void test_linear_reaches_exact(void **state)
{
    (void)state;
    sr_dataset ds;
    build_full(&ds);
    sr_fqe_options o;
    sr_fqe_options_default(&o);
    o.function = SR_FQE_LINEAR;
    o.state_options = 0; /* [one-hot turn ; b / B_ref] */
    o.normalise = false;
    o.lr = 0.02f;
    o.steps_per_iteration = 3000;
    sr_policy weak = make_policy("weak", weak_act);
    sr_policy strong = make_policy("strong", strong_act);
    const double budget = 20;
    sr_policy *policies[] = {&weak, &strong};
    for (int p = 0; p < 2; p++) {
        sr_fqe_result r;
        sr_error err;
        sr_error_clear(&err);
        if (sr_fqe_evaluate(&ds, policies[p], &budget, 1, &o, &r, &err) != SR_OK)
            fail_msg("%s", err.message);
        const double exact = exact_value(policies[p], &ds, 0, budget, budget);
        print_message("linear FQE of %s: %.6f, exact %.6f\n", policies[p]->name,
                      r.budgets[0].value, exact);
        /* 0.01 in return units: under 1% of either value (measured: within 0.003). */
        if (fabs(r.budgets[0].value - exact) > 0.01)
            fail_msg("linear FQE of %s: %.6f, exact %.6f", policies[p]->name, r.budgets[0].value,
                     exact);
        assert_int_equal(r.input_dim, T_TURNS + 1);
        sr_fqe_result_free(&r);
    }
    sr_dataset_free(&ds);
}

/*
 * Generated full-information data: the MLP estimate of always-cheapest and
 * the heuristic lands within 0.1 of the simulator's mean return.  Returns
 * are about 2.3 over 4 turns, so 0.1 is under 5%, or 0.025 quality per
 * turn.  The measured gaps are at most 0.035.
 * Budgets are a tight and a loose fraction of C_ref.
 */
static void test_mlp_on_synth_matches_simulator(void **state)
{
    (void)state;
    sr_synth_config cfg;
    sr_synth_config_default(&cfg);
    cfg.n_sessions = 300;
    cfg.min_turns = 4;
    cfg.max_turns = 4;
    cfg.seed = 5;
    cfg.text = false;
    cfg.embedding_dim = 8; /* small input: keeps the test fast */
    sr_dataset ds;
    sr_dataset_init(&ds);
    sr_error err;
    assert_int_equal(sr_synth_generate(&cfg, &ds, NULL, &err), SR_OK);
    const double c_ref = sr_eval_c_ref(&ds);
    const double budgets[] = {0.15 * c_ref, 0.5 * c_ref};

    sr_fqe_options o;
    sr_fqe_options_default(&o);
    o.hidden[0] = o.hidden[1] = 64;
    o.steps_per_iteration = 1000;
    sr_nn_set_threads(1);

    const char *names[] = {"always-cheapest", "heuristic"};
    sr_policy_options popt;
    sr_policy_options_default(&popt);
    for (int p = 0; p < 2; p++) {
        sr_policy *policy = NULL;
        assert_int_equal(sr_policy_create(names[p], &ds, &popt, &policy, &err), SR_OK);
        sr_fqe_result r;
        sr_error_clear(&err);
        if (sr_fqe_evaluate(&ds, policy, budgets, 2, &o, &r, &err) != SR_OK)
            fail_msg("%s", err.message);
        for (int b = 0; b < 2; b++) {
            sr_eval_options eopt;
            sr_eval_options_default(&eopt);
            sr_eval_metrics m;
            assert_int_equal(sr_eval_policy(policy, &ds, budgets[b], &eopt, &m, &err), SR_OK);
            print_message("%s budget %g: fqe %.4f simulator %.4f\n", names[p], budgets[b],
                          r.budgets[b].value, m.mean_return);
            if (fabs(r.budgets[b].value - m.mean_return) > 0.1)
                fail_msg("%s at budget %g: FQE %.4f, simulator %.4f", names[p], budgets[b],
                         r.budgets[b].value, m.mean_return);
        }
        sr_fqe_result_free(&r);
        sr_policy_free(policy);
    }
    sr_dataset_free(&ds);
}

/* Bad requests fail with SR_ERR_INVALID and leave the result empty. */
static void test_rejects_bad_requests(void **state)
{
    (void)state;
    sr_dataset ds;
    build_full(&ds);
    sr_fqe_options o;
    tabular_options(&o);
    sr_policy weak = make_policy("weak", weak_act);
    sr_fqe_result r;
    sr_error err;

    const double negative = -1;
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, &negative, 1, &o, &r, &err), SR_ERR_INVALID);
    assert_null(r.budgets);
    const double nan_budget = NAN;
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, &nan_budget, 1, &o, &r, &err), SR_ERR_INVALID);
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, BUDGETS, 0, &o, &r, &err), SR_ERR_INVALID);

    /* The oracle is no policy of the state. */
    sr_policy oracle = make_policy("oracle", weak_act);
    assert_int_equal(sr_fqe_evaluate(&ds, &oracle, BUDGETS, 1, &o, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "oracle"));

    /* A policy without an act function. */
    sr_policy broken = make_policy("broken", NULL);
    assert_int_equal(sr_fqe_evaluate(&ds, &broken, BUDGETS, 1, &o, &r, &err), SR_ERR_INVALID);

    /* Bad options. */
    sr_fqe_options bad = o;
    bad.gamma = 1.5;
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, BUDGETS, 1, &bad, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "discount"));
    bad = o;
    bad.hbr.mdp.horizon = 2;
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, BUDGETS, 1, &bad, &r, &err), SR_ERR_INVALID);
    bad = o;
    bad.function = SR_FQE_MLP;
    bad.hidden_count = 0;
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, BUDGETS, 1, &bad, &r, &err), SR_ERR_INVALID);

    /* A cap below the distinct transitions. */
    bad = o;
    bad.max_transitions = 5;
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, BUDGETS, 1, &bad, &r, &err), SR_ERR_NOMEM);
    sr_dataset_free(&ds);

    /* Logged-only sessions without a logged model give no transition. */
    sr_dataset_init(&ds);
    add_models(&ds);
    assert_int_equal(sr_dataset_begin_session(&ds, "nolog", NAN, &err), SR_OK);
    const float onehot[T_TURNS] = {1, 0, 0};
    size_t turn;
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, onehot, T_TURNS, NULL, -1, &turn, &err),
                     SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, WEAK, 0.5, 1, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_fqe_evaluate(&ds, &weak, BUDGETS, 1, &o, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "no session yields a transition"));
    sr_dataset_free(&ds);
}

static int bad_act(sr_policy *policy, const sr_policy_state *state)
{
    (void)policy;
    (void)state;
    return 7;
}

static void test_rejects_action_out_of_range(void **state)
{
    (void)state;
    sr_dataset ds;
    build_full(&ds);
    sr_fqe_options o;
    tabular_options(&o);
    sr_policy bad = make_policy("bad", bad_act);
    sr_fqe_result r;
    sr_error err;
    assert_int_equal(sr_fqe_evaluate(&ds, &bad, BUDGETS, 1, &o, &r, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "model 7"));
    sr_dataset_free(&ds);
}

static void test_function_names(void **state)
{
    (void)state;
    sr_fqe_function f = SR_FQE_MLP;
    assert_true(sr_fqe_function_parse("tabular", &f));
    assert_int_equal(f, SR_FQE_TABULAR);
    assert_true(sr_fqe_function_parse("linear", &f));
    assert_int_equal(f, SR_FQE_LINEAR);
    assert_false(sr_fqe_function_parse("MLP", &f));
    assert_int_equal(f, SR_FQE_LINEAR);
    assert_string_equal(sr_fqe_function_name(SR_FQE_MLP), "mlp");
    assert_string_equal(sr_fqe_function_name((sr_fqe_function)9), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_value_matches_simulator),
        cmocka_unit_test(test_tabular_full_information),
        cmocka_unit_test(test_tabular_counts_and_trace),
        cmocka_unit_test(test_tabular_logged_off_policy),
        cmocka_unit_test(test_coverage_missing),
        cmocka_unit_test(test_linear_reaches_exact),
        cmocka_unit_test(test_mlp_on_synth_matches_simulator),
        cmocka_unit_test(test_rejects_bad_requests),
        cmocka_unit_test(test_rejects_action_out_of_range),
        cmocka_unit_test(test_function_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
