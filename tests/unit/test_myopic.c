/*
 * test_myopic.c - the myopic per-turn router (seqroute train --algo myopic):
 * it learns a known per-model quality function of a feature, it is blind to
 * the budget, it applies the λ rule and the mask of every learned policy,
 * and it learns from logged-only data.
 *
 * The set: one embedding value x per turn on the grid 0, 0.1, ..., 1 (plus a
 * constant second value), and two models with qualities linear in x that
 * cross at x = 0.5:
 *
 *   strong  q = 0.3 + 0.6 x    cost 10
 *   weak    q = 0.9 - 0.6 x    cost 1
 *
 * so a budget-blind quality predictor at λ = 0 calls weak below x = 0.5 and
 * strong above it.
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
#include <unistd.h>

#include "seqroute/train.h"

#define SESSIONS 120
#define GRID 11

/* Largest error of a learned quality; the regression is exact up to fitting noise. */
#define QUALITY_TOLERANCE 0.05

static double quality_strong(double x)
{
    return 0.3 + 0.6 * x;
}

static double quality_weak(double x)
{
    return 0.9 - 0.6 * x;
}

/* x of session `s`, turn `t`: the grid visited in a scrambled order. */
static double grid_x(int s, int t)
{
    return (double)(((s * 2 + t) * 7) % GRID) / (GRID - 1);
}

/*
 * Builds the set.  With `logged_only` each turn has only the outcome of
 * the model named by `logged` (alternating), as a logging policy leaves it.
 */
static void build_set(sr_dataset *ds, bool logged_only)
{
    sr_error err;
    size_t turn;
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, 10.0, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, 1.0, true, &err), SR_OK);
    for (int s = 0; s < SESSIONS; s++) {
        char id[16];
        snprintf(id, sizeof(id), "s%d", s);
        assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
        for (int t = 0; t < 2; t++) {
            const double x = grid_x(s, t);
            const float embedding[2] = {(float)x, 1.0f};
            const int logged = logged_only ? (s + t) % 2 : -1;
            assert_int_equal(sr_dataset_add_turn(ds, NULL, embedding, 2, NULL, logged, &turn, &err),
                             SR_OK);
            if (!logged_only || logged == 0)
                assert_int_equal(
                    sr_dataset_set_outcome(ds, turn, 0, quality_strong(x), 10.0, NAN, NAN, &err),
                    SR_OK);
            if (!logged_only || logged == 1)
                assert_int_equal(
                    sr_dataset_set_outcome(ds, turn, 1, quality_weak(x), 1.0, NAN, NAN, &err),
                    SR_OK);
        }
    }
}

static const double levels[2] = {11.0, 20.0};

static void myopic_config(sr_train_config *c, const char *out)
{
    sr_train_config_default(c);
    c->algo = SR_QPOLICY_ALGO_MYOPIC;
    c->hidden_count = 2;
    c->hidden[0] = 32;
    c->hidden[1] = 32;
    c->batch = 64;
    c->steps = 2500;
    c->lr = 3e-3f;
    c->log_every = 500;
    c->hbr.budget_mode = SR_HBR_BUDGET_ABSOLUTE;
    c->hbr.budget_values = levels;
    c->hbr.n_budget_values = 2;
    c->out_path = out;
}

/* Trains on `ds` without validation and loads the written file. */
static sr_qpolicy *train_and_load(const sr_dataset *ds, const char *tag)
{
    sr_error err;
    char out[256];
    snprintf(out, sizeof(out), "/tmp/test_myopic_%ld_%s", (long)getpid(), tag);
    sr_train_config config;
    myopic_config(&config, out);
    sr_train_result result;
    if (sr_train_run(ds, NULL, &config, NULL, &result, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_int_equal(result.steps, 2500);
    sr_qpolicy *qp = NULL;
    if (sr_qpolicy_load(out, &qp, &err) != SR_OK)
        fail_msg("%s", err.message);
    remove(out);
    return qp;
}

/* Checks the learned qualities on the whole grid against the true ones. */
static void assert_learned_qualities(sr_qpolicy *qp)
{
    sr_error err;
    sr_decision d;
    for (int i = 0; i < GRID; i++) {
        const double x = (double)i / (GRID - 1);
        const float features[2] = {(float)x, 1.0f};
        assert_int_equal(sr_qpolicy_decide(qp, features, 0, 100.0, 0.0, &d, &err), SR_OK);
        assert_float_equal(d.q[0], quality_strong(x), QUALITY_TOLERANCE);
        assert_float_equal(d.q[1], quality_weak(x), QUALITY_TOLERANCE);
    }
}

static void myopic_learns_qualities(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset ds;
    build_set(&ds, false);
    sr_qpolicy *qp = train_and_load(&ds, "full.policy");

    /* The file is a myopic policy whose state is the feature row alone. */
    assert_int_equal((int)qp->algo, SR_QPOLICY_ALGO_MYOPIC_VALUE);
    assert_string_equal(sr_qpolicy_algo_name(qp->algo), "myopic");
    assert_true((qp->state.options & SR_STATE_NO_BUDGET) != 0);
    assert_int_equal(sr_state_dim(&qp->state), 2);
    assert_int_equal(qp->net->config.input_dim, 2);
    assert_false(sr_qpolicy_lambda_conditioned(qp));

    assert_learned_qualities(qp);

    /* λ = 0 follows the better predicted quality on each side of the crossing. */
    sr_decision d;
    const float low[2] = {0.2f, 1.0f};
    const float high[2] = {0.8f, 1.0f};
    assert_int_equal(sr_qpolicy_decide(qp, low, 0, 100.0, 0.0, &d, &err), SR_OK);
    assert_int_equal(d.model, 1);
    assert_int_equal(sr_qpolicy_decide(qp, high, 0, 100.0, 0.0, &d, &err), SR_OK);
    assert_int_equal(d.model, 0);
    assert_int_equal(d.kind, SR_DECISION_CHOSEN);

    /*
     * The λ rule of every learned policy: at x = 0.8 strong predicts 0.78 and
     * weak 0.42; λ = 0.5 charges 0.5 x 10 / 10 against strong and 0.05 against
     * weak, so weak wins.
     */
    assert_int_equal(sr_qpolicy_decide(qp, high, 0, 100.0, 0.5, &d, &err), SR_OK);
    assert_float_equal(d.score[0], (double)d.q[0] - 0.5, 1e-12);
    assert_float_equal(d.score[1], (double)d.q[1] - 0.05, 1e-12);
    assert_int_equal(d.model, 1);

    sr_qpolicy_free(qp);
    sr_dataset_free(&ds);
}

static void myopic_ignores_budget(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset ds;
    build_set(&ds, false);
    sr_qpolicy *qp = train_and_load(&ds, "blind.policy");

    /* Every budget where both models are affordable gives one decision, bit for bit. */
    static const double budgets[] = {10.0, 11.0, 37.5, 1000.0, 1e9};
    for (int i = 0; i < GRID; i++) {
        const float features[2] = {(float)i / (GRID - 1), 1.0f};
        for (int t = 0; t < 2; t++) {
            sr_decision first;
            assert_int_equal(sr_qpolicy_decide(qp, features, t, budgets[0], 0.0, &first, &err),
                             SR_OK);
            for (size_t b = 1; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
                sr_decision d;
                assert_int_equal(sr_qpolicy_decide(qp, features, t, budgets[b], 0.0, &d, &err),
                                 SR_OK);
                assert_int_equal(d.model, first.model);
                assert_memory_equal(d.q, first.q, sizeof(float) * 2);
            }
        }
    }

    /* Below strong's mean cost the mask applies as for CQL: degrade to weak. */
    const float high[2] = {0.9f, 1.0f};
    sr_decision d;
    assert_int_equal(sr_qpolicy_decide(qp, high, 0, 5.0, 0.0, &d, &err), SR_OK);
    assert_int_equal(d.preferred, 0);
    assert_int_equal(d.model, 1);
    assert_int_equal(d.kind, SR_DECISION_DEGRADED);

    sr_qpolicy_free(qp);
    sr_dataset_free(&ds);
}

static void myopic_learns_from_logged_outcomes(void **unused)
{
    (void)unused;
    sr_dataset ds;
    build_set(&ds, true);
    sr_qpolicy *qp = train_and_load(&ds, "logged.policy");

    /* Each model's outcomes cover the grid on their own, so both curves are learned. */
    assert_learned_qualities(qp);

    sr_qpolicy_free(qp);
    sr_dataset_free(&ds);
}

static void myopic_rejects_budget_views(void **unused)
{
    (void)unused;
    sr_error err;
    sr_train_config c;
    myopic_config(&c, "/tmp/unused.policy");
    assert_int_equal(sr_train_config_check(&c, &err), SR_OK);
    c.state_options = SR_STATE_BUDGET_BINS;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "budget-blind"));
    c.state_options = SR_STATE_TURN;
    assert_int_equal(sr_train_config_check(&c, &err), SR_OK);
    c.lambda_conditioned = true;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "myopic"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(myopic_learns_qualities),
        cmocka_unit_test(myopic_ignores_budget),
        cmocka_unit_test(myopic_learns_from_logged_outcomes),
        cmocka_unit_test(myopic_rejects_budget_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
