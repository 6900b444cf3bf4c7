/*
 * test_train.c - training end to end on a tiny session set whose optimal
 * budget-saving policy is known, plus determinism, resume equivalence, the
 * non-finite guard, behaviour-cloning labels and settings checks.
 *
 * The set: models "strong" (cost 10, quality 1 on every turn) and "weak"
 * (cost 1, quality 0.5 on the easy first turn and 0 on the hard second
 * turn), 2-turn sessions whose turns differ in their text.  With budget 11
 * (one strong call plus one weak call):
 *
 *   weak, strong    return 0.5 + 1 = 1.5 (optimal)
 *   strong, weak    return 1 + 0   = 1.0 (a masked learned policy's myopic path)
 *   strong, strong  return 1 + (1 - eta) = 1.0 and bankrupt (always-strongest)
 *
 * A policy with the budget in its state must learn to save it on the easy turn.
 *
 * With λ-conditioning the cost enters the reward as λ c / ĉ_max, ĉ_max = 10,
 * so at budget 11 weak-then-strong returns 1.5 - 1.1 λ and weak-weak
 * 0.5 - 0.2 λ: weak-then-strong is best below λ = 1/0.9 ≈ 1.11, and weak
 * on both turns is best above it.
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

#include "seqroute/eval.h"
#include "seqroute/train.h"

#define SESSIONS 16
#define OPTIMAL_RETURN 1.5

static void build_tiny(sr_dataset *ds, int sessions)
{
    sr_error err;
    size_t turn;
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, 10.0, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, 1.0, true, &err), SR_OK);
    for (int s = 0; s < sessions; s++) {
        char id[16];
        snprintf(id, sizeof(id), "s%d", s);
        assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
        assert_int_equal(
            sr_dataset_add_turn(ds, "hello, how are you today", NULL, 0, NULL, -1, &turn, &err),
            SR_OK);
        assert_int_equal(sr_dataset_set_outcome(ds, turn, 0, 1.0, 10.0, NAN, NAN, &err), SR_OK);
        assert_int_equal(sr_dataset_set_outcome(ds, turn, 1, 0.5, 1.0, NAN, NAN, &err), SR_OK);
        assert_int_equal(sr_dataset_add_turn(ds, "prove the theorem on prime gaps rigorously",
                                             NULL, 0, NULL, -1, &turn, &err),
                         SR_OK);
        assert_int_equal(sr_dataset_set_outcome(ds, turn, 0, 1.0, 10.0, NAN, NAN, &err), SR_OK);
        assert_int_equal(sr_dataset_set_outcome(ds, turn, 1, 0.0, 1.0, NAN, NAN, &err), SR_OK);
    }
}

static const double levels[3] = {2.0, 11.0, 20.0};

/* Small, fast settings for the tiny set. */
static void tiny_config(sr_train_config *c, const char *out)
{
    sr_train_config_default(c);
    c->hidden_count = 2;
    c->hidden[0] = 32;
    c->hidden[1] = 32;
    c->batch = 32;
    c->steps = 1500;
    c->lr = 1e-3f;
    c->target_period = 100;
    c->eval_every = 250;
    c->log_every = 250;
    c->patience = 0;
    c->features.dim = 16;
    c->hbr.budget_mode = SR_HBR_BUDGET_ABSOLUTE;
    c->hbr.budget_values = levels;
    c->hbr.n_budget_values = 3;
    c->out_path = out;
}

static void temp_path(char *path, size_t size, const char *tag)
{
    snprintf(path, size, "/tmp/test_train_%ld_%s", (long)getpid(), tag);
}

/* Evaluates policy `name` with trade-off `lambda` on `ds` at budget 11. */
static sr_eval_metrics evaluate_lambda(const char *name, const sr_dataset *ds, double lambda)
{
    sr_error err;
    sr_policy *policy = NULL;
    sr_policy_options options;
    sr_policy_options_default(&options);
    options.lambda = lambda;
    if (sr_policy_create(name, ds, &options, &policy, &err) != SR_OK)
        fail_msg("%s", err.message);
    sr_eval_options eval;
    sr_eval_options_default(&eval);
    sr_eval_metrics m;
    if (sr_eval_policy(policy, ds, 11.0, &eval, &m, &err) != SR_OK)
        fail_msg("%s", err.message);
    sr_policy_free(policy);
    return m;
}

/* Evaluates policy `name` on `ds` at budget 11 and returns its metrics. */
static sr_eval_metrics evaluate(const char *name, const sr_dataset *ds)
{
    return evaluate_lambda(name, ds, 0.0);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    const long length = ftell(in);
    fseek(in, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)length + 1);
    assert_int_equal(fread(data, 1, (size_t)length, in), (size_t)length);
    fclose(in);
    *size = (size_t)length;
    return data;
}

static void assert_same_file(const char *a, const char *b)
{
    size_t size_a = 0;
    size_t size_b = 0;
    uint8_t *da = read_file(a, &size_a);
    uint8_t *db = read_file(b, &size_b);
    assert_int_equal(size_a, size_b);
    assert_memory_equal(da, db, size_a);
    free(da);
    free(db);
}

static void train_cql_saves_budget(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    sr_dataset val;
    build_tiny(&train, SESSIONS);
    build_tiny(&val, 4);
    char out[256];
    temp_path(out, sizeof(out), "cql.policy");

    sr_train_config config;
    tiny_config(&config, out);
    sr_train_result result;
    if (sr_train_run(&train, &val, &config, NULL, &result, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_int_equal(result.steps, 1500);
    assert_true(result.b_ref == 20.0);
    assert_true(result.t_ref == 2.0);

    /* The learned policy finds the optimum; the myopic ones do not. */
    char name[300];
    snprintf(name, sizeof(name), "cql:%s", out);
    const sr_eval_metrics cql = evaluate(name, &val);
    const sr_eval_metrics strongest = evaluate("always-strongest", &val);
    assert_float_equal(cql.mean_return, OPTIMAL_RETURN, 1e-9);
    assert_int_equal(cql.bankrupt_sessions, 0);
    assert_float_equal(cql.mean_cost, 11.0, 1e-9);
    assert_true(strongest.mean_return < OPTIMAL_RETURN - 0.4);
    assert_int_equal(strongest.bankrupt_sessions, 4);

    remove(out);
    sr_dataset_free(&train);
    sr_dataset_free(&val);
}

static void train_bc_stays_myopic(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    build_tiny(&train, SESSIONS);
    char out[256];
    temp_path(out, sizeof(out), "bc.policy");

    /* BC imitates the per-turn best-quality model: strong on both turns. */
    sr_train_config config;
    tiny_config(&config, out);
    config.algo = SR_CQL_ALGO_BC;
    config.steps = 500;
    sr_train_result result;
    if (sr_train_run(&train, &train, &config, NULL, &result, &err) != SR_OK)
        fail_msg("%s", err.message);

    char name[300];
    snprintf(name, sizeof(name), "bc:%s", out);
    const sr_eval_metrics bc = evaluate(name, &train);
    assert_string_equal(bc.name, "bc");
    /* Strong first, then the mask degrades the second turn to weak: 1 + 0. */
    assert_float_equal(bc.mean_return, 1.0, 1e-9);
    assert_float_equal(bc.model_share[0], 0.5, 1e-9);

    remove(out);
    sr_dataset_free(&train);
}

static void train_is_deterministic(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    build_tiny(&train, SESSIONS);
    char a[256];
    char b[256];
    temp_path(a, sizeof(a), "det_a.policy");
    temp_path(b, sizeof(b), "det_b.policy");

    sr_train_config config;
    sr_train_result result;
    tiny_config(&config, a);
    config.steps = 300;
    assert_int_equal(sr_train_run(&train, &train, &config, NULL, &result, &err), SR_OK);
    config.out_path = b;
    assert_int_equal(sr_train_run(&train, &train, &config, NULL, &result, &err), SR_OK);
    assert_same_file(a, b);

    /* Another seed gives other weights. */
    config.seed = 2;
    assert_int_equal(sr_train_run(&train, &train, &config, NULL, &result, &err), SR_OK);
    size_t size_a = 0;
    size_t size_b = 0;
    uint8_t *da = read_file(a, &size_a);
    uint8_t *db = read_file(b, &size_b);
    assert_int_equal(size_a, size_b);
    assert_true(memcmp(da, db, size_a) != 0);
    free(da);
    free(db);

    remove(a);
    remove(b);
    sr_dataset_free(&train);
}

static void train_val_mismatch_rejected_first(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    sr_dataset val;
    build_tiny(&train, SESSIONS);
    build_tiny(&val, SESSIONS);
    assert_int_equal(sr_dataset_set_cost_unit(&train, "units", &err), SR_OK);
    assert_int_equal(sr_dataset_set_cost_unit(&val, "USD", &err), SR_OK);
    char out[256];
    char checkpoint[256];
    temp_path(out, sizeof(out), "mismatch.policy");
    temp_path(checkpoint, sizeof(checkpoint), "mismatch.ckpt");
    remove(checkpoint);

    /* Validation in another cost unit fails before any step, so no checkpoint exists. */
    sr_train_config config;
    sr_train_result result;
    tiny_config(&config, out);
    config.steps = 50;
    config.eval_every = 1000;
    config.checkpoint_path = checkpoint;
    assert_int_equal(sr_train_run(&train, &val, &config, NULL, &result, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "validation"));
    assert_non_null(strstr(err.message, "'USD'"));
    FILE *written = fopen(checkpoint, "rb");
    assert_null(written);
    if (written != NULL)
        fclose(written);

    remove(out);
    sr_dataset_free(&val);
    sr_dataset_free(&train);
}

static void train_zero_budgets_explained(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    build_tiny(&train, SESSIONS);
    char out[256];
    temp_path(out, sizeof(out), "zero.policy");

    /* Every level 0 (as when every cost is 0) leaves B_ref without a scale. */
    static const double zero_levels[] = {0.0};
    sr_train_config config;
    sr_train_result result;
    tiny_config(&config, out);
    config.steps = 10;
    config.hbr.budget_values = zero_levels;
    config.hbr.n_budget_values = 1;
    assert_int_equal(sr_train_run(&train, NULL, &config, NULL, &result, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "every budget level is 0"));
    assert_non_null(strstr(err.message, "--b-ref"));

    /* An explicit B_ref gives the scale. */
    config.b_ref = 10.0;
    assert_int_equal(sr_train_run(&train, NULL, &config, NULL, &result, &err), SR_OK);

    remove(out);
    sr_dataset_free(&train);
}

static void train_resume_matches_straight(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    build_tiny(&train, SESSIONS);
    char straight[256];
    char resumed[256];
    char checkpoint[256];
    char checkpoint_straight[256];
    temp_path(straight, sizeof(straight), "straight.policy");
    temp_path(resumed, sizeof(resumed), "resumed.policy");
    temp_path(checkpoint, sizeof(checkpoint), "half.ckpt");
    temp_path(checkpoint_straight, sizeof(checkpoint_straight), "straight.ckpt");

    sr_train_config config;
    sr_train_result result;
    tiny_config(&config, straight);
    config.steps = 400;
    config.eval_every = 100;
    config.checkpoint_path = checkpoint_straight;
    assert_int_equal(sr_train_run(&train, &train, &config, NULL, &result, &err), SR_OK);

    /* Half the steps, then a resume with different (ignored) learner settings. */
    config.out_path = resumed;
    config.checkpoint_path = checkpoint;
    config.steps = 200;
    assert_int_equal(sr_train_run(&train, &train, &config, NULL, &result, &err), SR_OK);
    assert_int_equal(result.steps, 200);
    config.steps = 400;
    config.lr = 0.5f;
    config.seed = 99;
    if (sr_train_run(&train, &train, &config, checkpoint, &result, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_int_equal(result.steps, 400);
    assert_same_file(straight, resumed);
    assert_same_file(checkpoint_straight, checkpoint);

    /*
     * A resume without validation data keeps the last parameters, so it reports no
     * validation return: the checkpoint's best belongs to other parameters.
     */
    assert_int_equal(sr_train_run(&train, NULL, &config, checkpoint_straight, &result, &err),
                     SR_OK);
    assert_int_equal(result.best_step, 400);
    assert_true(isnan(result.best_val_return));

    /* A policy file without training state is not a checkpoint. */
    assert_int_equal(sr_train_run(&train, &train, &config, straight, &result, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "not a checkpoint"));

    /* Other training data is rejected. */
    sr_dataset other;
    build_tiny(&other, SESSIONS + 1);
    assert_int_equal(sr_train_run(&other, &other, &config, checkpoint, &result, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "same data"));
    sr_dataset_free(&other);

    remove(straight);
    remove(resumed);
    remove(checkpoint);
    remove(checkpoint_straight);
    sr_dataset_free(&train);
}

/*
 * N steps straight and N/2 plus a resume give one file for a variant; the
 * resume is called with the variant switched off, so the checkpoint must
 * restore it.
 */
static void assert_resume_matches(bool lambda_conditioned, sr_cql_algo algo)
{
    sr_error err;
    sr_dataset train;
    build_tiny(&train, SESSIONS);
    char straight[256];
    char resumed[256];
    char checkpoint[256];
    temp_path(straight, sizeof(straight), "variant-straight.policy");
    temp_path(resumed, sizeof(resumed), "variant-resumed.policy");
    temp_path(checkpoint, sizeof(checkpoint), "variant-half.ckpt");

    sr_train_config config;
    sr_train_result result;
    tiny_config(&config, straight);
    config.algo = algo;
    config.lambda_conditioned = lambda_conditioned;
    config.lambda_max = 2.0;
    config.steps = 300;
    config.eval_every = 100;
    if (sr_train_run(&train, &train, &config, NULL, &result, &err) != SR_OK)
        fail_msg("%s", err.message);

    config.out_path = resumed;
    config.checkpoint_path = checkpoint;
    config.steps = 150;
    assert_int_equal(sr_train_run(&train, &train, &config, NULL, &result, &err), SR_OK);
    config.steps = 300;
    config.algo = SR_CQL_ALGO_CQL;
    config.lambda_conditioned = false;
    config.lambda_max = 1.0;
    config.checkpoint_path = NULL;
    if (sr_train_run(&train, &train, &config, checkpoint, &result, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_same_file(straight, resumed);

    remove(straight);
    remove(resumed);
    remove(checkpoint);
    sr_dataset_free(&train);
}

static void train_resume_variants(void **unused)
{
    (void)unused;
    assert_resume_matches(true, SR_CQL_ALGO_CQL);
    assert_resume_matches(false, SR_QPOLICY_ALGO_MYOPIC);
}

/* Injects a NaN reward at step 5. */
static void poison_rewards(int64_t step, float *rewards, uint8_t *terminal, int count,
                           void *user_data)
{
    (void)terminal;
    (void)count;
    (void)user_data;
    if (step == 5)
        rewards[0] = NAN;
}

static void train_guard_stops_on_nan(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    build_tiny(&train, SESSIONS);
    char out[256];
    temp_path(out, sizeof(out), "guard.policy");
    remove(out);

    sr_train_config config;
    tiny_config(&config, out);
    config.steps = 50;
    config.batch_hook = poison_rewards;
    sr_train_result result;
    assert_int_equal(sr_train_run(&train, NULL, &config, NULL, &result, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "step 5"));
    assert_non_null(strstr(err.message, "reward"));
    assert_int_equal(access(out, F_OK), -1);

    sr_dataset_free(&train);
}

static void train_bc_labels_by_hand(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset ds;
    size_t turn;
    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "a", NAN, NAN, 1.0, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "b", NAN, NAN, 1.0, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "c", NAN, NAN, 1.0, false, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "x", NAN, &err), SR_OK);

    /* Turn 0: b is best. */
    assert_int_equal(sr_dataset_add_turn(&ds, "t0", NULL, 0, NULL, -1, &turn, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 0, 0.2, 1.0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 1, 0.9, 1.0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 2, 0.5, 1.0, NAN, NAN, &err), SR_OK);
    /* Turn 1: a and c tie; c has the better mean quality below. */
    assert_int_equal(sr_dataset_add_turn(&ds, "t1", NULL, 0, NULL, -1, &turn, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 0, 0.7, 1.0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 1, 0.1, 1.0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 2, 0.7, 1.0, NAN, NAN, &err), SR_OK);
    /* Turn 2: logged model a wins over the best quality. */
    assert_int_equal(sr_dataset_add_turn(&ds, "t2", NULL, 0, NULL, 0, &turn, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 0, 0.0, 1.0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 1, 1.0, 1.0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 2, 1.0, 1.0, NAN, NAN, &err), SR_OK);

    const double mean_quality[3] = {0.3, 0.6, 0.5};
    int32_t labels[3];
    sr_train_bc_labels(&ds, mean_quality, labels);
    assert_int_equal(labels[0], 1);
    assert_int_equal(labels[1], 2);
    assert_int_equal(labels[2], 0);

    /* With a's mean quality highest, the tie goes to a. */
    const double a_first[3] = {0.9, 0.6, 0.5};
    sr_train_bc_labels(&ds, a_first, labels);
    assert_int_equal(labels[1], 0);
    sr_dataset_free(&ds);
}

/* Text features on data without any text: rejected before training starts. */
static void train_rejects_data_without_text(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset ds;
    sr_train_config c;
    sr_train_result result;
    size_t turn;

    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "strong", NAN, NAN, 10.0, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(&ds, "weak", NAN, NAN, 1.0, true, &err), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "s0", NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, NULL, NULL, 0, NULL, -1, &turn, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 0, 1.0, 10.0, NAN, NAN, &err), SR_OK);
    assert_int_equal(sr_dataset_set_outcome(&ds, turn, 1, 0.5, 1.0, NAN, NAN, &err), SR_OK);

    tiny_config(&c, "/tmp/unused.policy");
    c.steps = 10;
    memset(&result, 0, sizeof(result));
    assert_int_equal(sr_train_run(&ds, NULL, &c, NULL, &result, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "features");
    assert_non_null(strstr(err.message, "no turn of the training data has text"));
    sr_dataset_free(&ds);
}

static void train_config_rejects(void **unused)
{
    (void)unused;
    sr_error err;
    sr_train_config c;

    tiny_config(&c, "/tmp/unused.policy");
    assert_int_equal(sr_train_config_check(&c, &err), SR_OK);
    c.lr = 0;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "learning rate"));

    tiny_config(&c, "/tmp/unused.policy");
    c.gamma = 1.5f;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);

    tiny_config(&c, "/tmp/unused.policy");
    c.batch = 0;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);

    tiny_config(&c, "/tmp/unused.policy");
    c.eta = NAN;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);

    tiny_config(&c, "/tmp/unused.policy");
    c.b_ref = -1;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);

    tiny_config(&c, NULL);
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "output"));

    tiny_config(&c, "/tmp/unused.policy");
    c.lambda_max = 0;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "lambda_max"));

    tiny_config(&c, "/tmp/unused.policy");
    c.algo = SR_CQL_ALGO_BC;
    c.lambda_conditioned = true;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "bc"));

    tiny_config(&c, "/tmp/unused.policy");
    c.algo = SR_QPOLICY_ALGO_MYOPIC;
    assert_int_equal(sr_train_config_check(&c, &err), SR_OK);
    c.state_options = SR_STATE_LOG_BUDGET;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "budget-blind"));

    tiny_config(&c, "/tmp/unused.policy");
    c.state_options = SR_STATE_LAMBDA;
    assert_int_equal(sr_train_config_check(&c, &err), SR_ERR_INVALID);
}

static void train_lambda_reward_by_hand(void **unused)
{
    (void)unused;
    sr_hbr_transition tr;
    memset(&tr, 0, sizeof(tr));

    /* A plain step: quality 0.75, cost 4, unit 8: 0.75 - 0.5 x 4 / 8 = 0.5. */
    tr.quality = 0.75;
    tr.cost = 4.0;
    tr.reward = 0.75;
    assert_float_equal(sr_train_lambda_reward(&tr, 0.5, 8.0), 0.5, 1e-15);
    /* λ = 0 leaves the reward alone. */
    assert_float_equal(sr_train_lambda_reward(&tr, 0.0, 8.0), 0.75, 0.0);

    /* A bankrupt step keeps its penalty: 0.25 - 1 (eta) - 2 x 12 / 8 = -3.75. */
    tr.quality = 0.25;
    tr.cost = 12.0;
    tr.reward = 0.25 - 1.0;
    tr.flags = SR_HBR_BANKRUPT | SR_HBR_TERMINAL;
    assert_float_equal(sr_train_lambda_reward(&tr, 2.0, 8.0), -3.75, 1e-15);

    /* The tiny set's paths at budget 11 with unit 10 and λ = 1: weak then strong. */
    sr_hbr_transition weak = {0};
    weak.quality = weak.reward = 0.5;
    weak.cost = 1.0;
    sr_hbr_transition strong = {0};
    strong.quality = strong.reward = 1.0;
    strong.cost = 10.0;
    assert_float_equal(sr_train_lambda_reward(&weak, 1.0, 10.0) +
                           sr_train_lambda_reward(&strong, 1.0, 10.0),
                       1.5 - 1.1, 1e-15);
}

static void train_lambda_sampler_range(void **unused)
{
    (void)unused;
    sr_rng rng;
    sr_rng_seed(&rng, 5);
    const int n = 20000;
    int below_quarter = 0;
    double lowest = INFINITY;
    double highest = -INFINITY;
    for (int i = 0; i < n; i++) {
        const double lambda = sr_train_sample_lambda(&rng, 2.0);
        lowest = fmin(lowest, lambda);
        highest = fmax(highest, lambda);
        below_quarter += lambda < 0.5;
    }
    /* λ_max u² lies in [0, λ_max); P(λ < λ_max / 4) = P(u < 1/2) = 1/2. */
    assert_true(lowest >= 0.0);
    assert_true(highest < 2.0);
    assert_true(highest > 1.9);
    assert_true(lowest < 0.01);
    /* Binomial(20000, 0.5): 5 standard deviations are about 354. */
    assert_in_range(below_quarter, n / 2 - 354, n / 2 + 354);
}

static void train_lambda_conditioned_tiny(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    sr_dataset val;
    build_tiny(&train, SESSIONS);
    build_tiny(&val, 4);
    char out[256];
    temp_path(out, sizeof(out), "lambda.policy");

    sr_train_config config;
    tiny_config(&config, out);
    config.lambda_conditioned = true;
    config.lambda_max = 3.0;
    config.steps = 3000;
    sr_train_result result;
    if (sr_train_run(&train, &val, &config, NULL, &result, &err) != SR_OK)
        fail_msg("%s", err.message);

    /* The file records the λ input; decisions take λ from it. */
    sr_qpolicy *qp = NULL;
    assert_int_equal(sr_qpolicy_load(out, &qp, &err), SR_OK);
    assert_true(sr_qpolicy_lambda_conditioned(qp));
    assert_true(qp->state.lambda_max == 3.0);
    assert_int_equal(qp->net->config.input_dim, qp->state.feature_dim + 2);
    sr_qpolicy_free(qp);

    /* λ = 0: weak on the easy turn, strong on the hard one. */
    char name[300];
    snprintf(name, sizeof(name), "cql:%s", out);
    const sr_eval_metrics free_cost = evaluate_lambda(name, &val, 0.0);
    assert_float_equal(free_cost.mean_return, OPTIMAL_RETURN, 1e-9);
    assert_float_equal(free_cost.mean_cost, 11.0, 1e-9);
    assert_int_equal(free_cost.bankrupt_sessions, 0);

    /* λ = 2.5, past the switch at 1.11: weak on both turns. */
    const sr_eval_metrics dear = evaluate_lambda(name, &val, 2.5);
    assert_float_equal(dear.mean_cost, 2.0, 1e-9);
    assert_float_equal(dear.mean_quality, 0.25, 1e-9);
    assert_int_equal(dear.bankrupt_sessions, 0);

    remove(out);
    sr_dataset_free(&train);
    sr_dataset_free(&val);
}

/* Writes every progress report as a curves row. */
static void write_curve(const sr_train_progress *progress, void *user_data)
{
    assert_true(sr_train_curves_write_row(user_data, progress));
}

static void train_curves_csv(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset train;
    build_tiny(&train, SESSIONS);
    char out[256];
    char csv[256];
    temp_path(out, sizeof(out), "curves.policy");
    temp_path(csv, sizeof(csv), "curves.csv");

    /* Reports at 50, 100 (validated), 150, 200 (validated), 250. */
    sr_train_config config;
    tiny_config(&config, out);
    config.steps = 250;
    config.log_every = 50;
    config.eval_every = 100;
    FILE *file = fopen(csv, "w");
    assert_non_null(file);
    assert_true(sr_train_curves_write_header(file));
    config.progress = write_curve;
    config.progress_data = file;
    sr_train_result result;
    if (sr_train_run(&train, &train, &config, NULL, &result, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_int_equal(fclose(file), 0);

    size_t size = 0;
    uint8_t *text = read_file(csv, &size);
    text[size] = '\0';
    char *lines[8] = {0};
    int n = 0;
    for (char *line = strtok((char *)text, "\n"); line != NULL && n < 8;
         line = strtok(NULL, "\n"))
        lines[n++] = line;
    assert_int_equal(n, 6);
    assert_string_equal(lines[0], SR_TRAIN_CURVES_HEADER);

    /* Every row has 8 cells; validation cells only at steps 100 and 200. */
    static const char *const steps[] = {"50,", "100,", "150,", "200,", "250,"};
    for (int i = 1; i < 6; i++) {
        int commas = 0;
        for (const char *c = lines[i]; *c; c++)
            commas += *c == ',';
        assert_int_equal(commas, 7);
        assert_true(strncmp(lines[i], steps[i - 1], strlen(steps[i - 1])) == 0);
        const bool validated = i == 2 || i == 4;
        const size_t length = strlen(lines[i]);
        assert_int_equal(strcmp(lines[i] + length - 3, ",,,") == 0, !validated);
        /* The loss cells are filled: no empty cell right after the step. */
        assert_true(lines[i][strlen(steps[i - 1])] != ',');
    }

    /* A report that follows no update leaves the loss cells empty. */
    sr_train_progress p;
    memset(&p, 0, sizeof(p));
    p.step = 7;
    p.validated = true;
    p.val_return = 1.5;
    p.val_cost = 0.25;
    p.val_bankruptcy = NAN;
    file = fopen(csv, "w");
    assert_non_null(file);
    assert_true(sr_train_curves_write_row(file, &p));
    assert_int_equal(fclose(file), 0);
    free(text);
    text = read_file(csv, &size);
    text[size] = '\0';
    assert_string_equal((char *)text, "7,,,,,1.5,0.25,\n");

    free(text);
    remove(out);
    remove(csv);
    sr_dataset_free(&train);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_cql_saves_budget),
        cmocka_unit_test(train_bc_stays_myopic),
        cmocka_unit_test(train_is_deterministic),
        cmocka_unit_test(train_val_mismatch_rejected_first),
        cmocka_unit_test(train_zero_budgets_explained),
        cmocka_unit_test(train_resume_matches_straight),
        cmocka_unit_test(train_guard_stops_on_nan),
        cmocka_unit_test(train_bc_labels_by_hand),
        cmocka_unit_test(train_config_rejects),
        cmocka_unit_test(train_rejects_data_without_text),
        cmocka_unit_test(train_lambda_reward_by_hand),
        cmocka_unit_test(train_lambda_sampler_range),
        cmocka_unit_test(train_lambda_conditioned_tiny),
        cmocka_unit_test(train_resume_variants),
        cmocka_unit_test(train_curves_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
