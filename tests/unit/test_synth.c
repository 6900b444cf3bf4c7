/*
 * test_synth.c - the synthetic session generator: determinism, counts,
 * ranges, the hard-late rate, model ordering, logging and embeddings.
 *
 * Rate tolerances are five binomial standard errors of the sample used, so
 * a correct generator would fail a check with probability below 1e-6 for a
 * random seed.  The seeds here are fixed, so every run gives the same result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "seqroute/synth.h"

static sr_synth_config small_config(size_t sessions, uint64_t seed)
{
    sr_synth_config cfg;
    sr_synth_config_default(&cfg);
    cfg.n_sessions = sessions;
    cfg.seed = seed;
    return cfg;
}

static void generate(const sr_synth_config *cfg, sr_dataset *ds, sr_synth_latent **latents)
{
    sr_error err;
    sr_dataset_init(ds);
    sr_status status = sr_synth_generate(cfg, ds, latents, &err);
    if (status != SR_OK)
        fail_msg("generation failed: %s", err.message);
}

/* True when both data sets hold identical sessions 0..n-1. */
static bool same_sessions(const sr_dataset *a, const sr_dataset *b, size_t n)
{
    const int k_count = a->catalogue.n_models;

    for (size_t i = 0; i < n; i++) {
        const sr_session *sa = &a->sessions[i];
        const sr_session *sb = &b->sessions[i];
        if (strcmp(sa->id, sb->id) != 0 || sa->n_turns != sb->n_turns)
            return false;
        for (int t = 0; t < sa->n_turns; t++) {
            const sr_turn *ta = sr_session_turn(a, sa, t);
            const sr_turn *tb = sr_session_turn(b, sb, t);
            if ((ta->text == NULL) != (tb->text == NULL))
                return false;
            if (ta->text != NULL && strcmp(ta->text, tb->text) != 0)
                return false;
            if (ta->logged != tb->logged)
                return false;
            for (int k = 0; k < k_count; k++) {
                const sr_outcome *oa = sr_dataset_outcome(a, sa->first_turn + (size_t)t, k);
                const sr_outcome *ob = sr_dataset_outcome(b, sb->first_turn + (size_t)t, k);
                if (oa->present != ob->present)
                    return false;
                if (oa->present && (oa->quality != ob->quality || oa->cost != ob->cost))
                    return false;
            }
        }
    }
    return true;
}

static void same_seed_same_data(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(200, 42);
    sr_dataset a;
    sr_dataset b;
    sr_dataset c;

    generate(&cfg, &a, NULL);
    generate(&cfg, &b, NULL);
    assert_int_equal(a.n_turns, b.n_turns);
    assert_true(same_sessions(&a, &b, a.n_sessions));
    assert_string_equal(a.header_extra, b.header_extra);

    cfg.seed = 43;
    generate(&cfg, &c, NULL);
    assert_false(c.n_turns == a.n_turns && same_sessions(&a, &c, a.n_sessions));
    sr_dataset_free(&a);
    sr_dataset_free(&b);
    sr_dataset_free(&c);
}

static void sessions_independent_of_count(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(10, 5);
    sr_dataset shorter;
    sr_dataset longer;

    generate(&cfg, &shorter, NULL);
    cfg.n_sessions = 30;
    generate(&cfg, &longer, NULL);
    assert_true(same_sessions(&shorter, &longer, 10));
    sr_dataset_free(&shorter);
    sr_dataset_free(&longer);
}

static void counts_and_ranges(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(500, 3);
    sr_dataset ds;
    int seen_min = 1000;
    int seen_max = 0;
    size_t turns = 0;

    generate(&cfg, &ds, NULL);
    assert_int_equal(ds.n_sessions, 500);
    assert_int_equal(ds.catalogue.n_models, 2);
    assert_string_equal(ds.catalogue.models[0].name, "strong");
    assert_string_equal(ds.catalogue.models[1].name, "weak");
    assert_true(ds.catalogue.models[1].fallback);
    assert_false(ds.catalogue.models[0].fallback);
    assert_string_equal(ds.catalogue.cost_unit, "USD");
    assert_true(sr_dataset_is_full_information(&ds));

    for (size_t i = 0; i < ds.n_sessions; i++) {
        const sr_session *s = &ds.sessions[i];
        assert_int_equal(s->first_turn, turns);
        assert_true(isnan(s->budget));
        turns += (size_t)s->n_turns;
        seen_min = s->n_turns < seen_min ? s->n_turns : seen_min;
        seen_max = s->n_turns > seen_max ? s->n_turns : seen_max;
    }
    assert_int_equal(turns, ds.n_turns);
    assert_int_equal(seen_min, 2);
    assert_int_equal(seen_max, 6);

    for (size_t j = 0; j < ds.n_turns; j++) {
        assert_non_null(ds.turns[j].text);
        assert_null(ds.turns[j].embedding);
        assert_int_equal(ds.turns[j].logged, -1);
        for (int k = 0; k < 2; k++) {
            const sr_outcome *o = sr_dataset_outcome(&ds, j, k);
            assert_true(o->quality >= 0.0 && o->quality <= 1.0);
            assert_true(isfinite(o->cost) && o->cost > 0.0);
            double priced = sr_catalogue_price(&ds.catalogue, k, o->input_tokens, o->output_tokens);
            assert_float_equal(o->cost, priced, 1e-15);
        }
    }
    sr_dataset_free(&ds);
}

static void fixed_length_and_budget(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(100, 9);
    sr_dataset ds;

    cfg.min_turns = 4;
    cfg.max_turns = 4;
    cfg.budget = 0.05;
    generate(&cfg, &ds, NULL);
    assert_int_equal(ds.n_turns, 400);
    for (size_t i = 0; i < ds.n_sessions; i++)
        assert_float_equal(ds.sessions[i].budget, 0.05, 0.0);
    sr_dataset_free(&ds);
}

static void binary_quality_is_zero_or_one(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(300, 11);
    sr_dataset ds;
    size_t ones = 0;

    cfg.binary = true;
    generate(&cfg, &ds, NULL);
    for (size_t j = 0; j < ds.n_turns; j++) {
        double q = sr_dataset_outcome(&ds, j, 0)->quality;
        assert_true(q == 0.0 || q == 1.0);
        ones += q == 1.0;
    }
    assert_true(ones > 0);
    assert_true(ones < ds.n_turns);
    sr_dataset_free(&ds);
}

static void hard_late_turns_at_stated_rate(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(20000, 17);
    sr_dataset ds;
    sr_synth_latent *latents = NULL;
    size_t late = 0, late_hard = 0, early = 0, early_hard = 0;

    cfg.min_turns = 4;
    cfg.max_turns = 4;
    generate(&cfg, &ds, &latents);
    assert_non_null(latents);
    for (size_t i = 0; i < ds.n_sessions; i++) {
        const sr_session *s = &ds.sessions[i];
        for (int t = 0; t < s->n_turns; t++) {
            const sr_synth_latent *l = &latents[s->first_turn + (size_t)t];
            assert_int_equal(l->late, t >= 2);
            if (l->hard)
                assert_true(l->difficulty >= cfg.hard_min - 0.08);
            else
                assert_true(l->difficulty <= cfg.easy_max + 0.08);
            late += l->late;
            late_hard += l->late && l->hard;
            early += !l->late;
            early_hard += !l->late && l->hard;
        }
    }
    assert_int_equal(late, 40000);
    assert_int_equal(early, 40000);

    /* 5 standard errors: sqrt(0.3 * 0.7 / 40000) = 0.0023, sqrt(0.05 * 0.95 / 40000) = 0.0011. */
    double late_rate = (double)late_hard / (double)late;
    double early_rate = (double)early_hard / (double)early;
    assert_float_equal(late_rate, 0.3, 5 * 0.0023);
    assert_float_equal(early_rate, 0.05, 5 * 0.0011);
    free(latents);
    sr_dataset_free(&ds);
}

static void one_turn_sessions_have_no_late_turn(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(50, 2);
    sr_dataset ds;
    sr_synth_latent *latents = NULL;

    cfg.min_turns = 1;
    cfg.max_turns = 1;
    generate(&cfg, &ds, &latents);
    for (size_t j = 0; j < ds.n_turns; j++)
        assert_false(latents[j].late);
    free(latents);
    sr_dataset_free(&ds);
}

static void strong_beats_weak_at_tenfold_cost(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(20000, 23);
    sr_dataset ds;
    double quality[2];
    double cost[2];

    generate(&cfg, &ds, NULL);
    sr_dataset_model_stats(&ds, quality, cost, NULL);
    assert_true(quality[0] > quality[1] + 0.2);
    /* Token counts are drawn alike for both models, so only sampling noise moves 10. */
    assert_float_equal(cost[0] / cost[1], 10.0, 0.3);
    sr_dataset_free(&ds);
}

static void many_models_spread_log_uniformly(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(5000, 31);
    sr_dataset ds;
    double quality[5];

    cfg.n_models = 5;
    generate(&cfg, &ds, NULL);
    assert_int_equal(ds.catalogue.n_models, 5);
    assert_string_equal(ds.catalogue.models[0].name, "m1");
    assert_string_equal(ds.catalogue.models[4].name, "m5");
    assert_float_equal(ds.catalogue.models[0].input_price, 10.0, 1e-12);
    assert_float_equal(ds.catalogue.models[2].input_price, 10.0 / sqrt(10.0), 1e-12);
    assert_float_equal(ds.catalogue.models[4].input_price, 1.0, 1e-12);
    assert_float_equal(ds.catalogue.models[4].output_price, 3.0, 1e-12);
    assert_true(ds.catalogue.models[4].fallback);
    sr_dataset_model_stats(&ds, quality, NULL, NULL);
    for (int k = 1; k < 5; k++)
        assert_true(quality[k - 1] > quality[k]);
    sr_dataset_free(&ds);
}

static void greedy_logging_picks_best_quality(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(2000, 37);
    sr_dataset ds;
    size_t best = 0;

    cfg.logged = SR_SYNTH_LOGGED_GREEDY;
    generate(&cfg, &ds, NULL);
    for (size_t j = 0; j < ds.n_turns; j++) {
        int logged = ds.turns[j].logged;
        assert_true(logged == 0 || logged == 1);
        double q = sr_dataset_outcome(&ds, j, logged)->quality;
        double other = sr_dataset_outcome(&ds, j, 1 - logged)->quality;
        best += q >= other;
    }
    /* Exploration picks at random 10% of the time, so about 95% are best. */
    double share = (double)best / (double)ds.n_turns;
    assert_true(share > 0.9);
    assert_true(share < 1.0);
    sr_dataset_free(&ds);
}

static void logged_only_keeps_one_outcome(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(1000, 41);
    sr_dataset ds;
    size_t per_model[2] = {0, 0};

    cfg.logged = SR_SYNTH_LOGGED_RANDOM;
    cfg.logged_only = true;
    generate(&cfg, &ds, NULL);
    assert_false(sr_dataset_is_full_information(&ds));
    for (size_t j = 0; j < ds.n_turns; j++) {
        int logged = ds.turns[j].logged;
        assert_true(logged == 0 || logged == 1);
        assert_true(sr_dataset_outcome(&ds, j, logged)->present);
        assert_false(sr_dataset_outcome(&ds, j, 1 - logged)->present);
        per_model[logged]++;
    }
    /* Uniform choice: 5 standard errors of sqrt(n / 4). */
    double half = (double)ds.n_turns / 2.0;
    assert_float_equal((double)per_model[0], half, 5.0 * sqrt((double)ds.n_turns / 4.0));
    sr_dataset_free(&ds);
}

static void logging_and_embeddings_leave_outcomes(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(100, 43);
    sr_dataset plain;
    sr_dataset rich;

    generate(&cfg, &plain, NULL);
    cfg.embedding_dim = 6;
    cfg.logged = SR_SYNTH_LOGGED_GREEDY;
    generate(&cfg, &rich, NULL);
    assert_int_equal(rich.catalogue.embedding_dim, 6);
    assert_int_equal(plain.n_turns, rich.n_turns);
    for (size_t j = 0; j < rich.n_turns; j++) {
        assert_non_null(rich.turns[j].embedding);
        assert_string_equal(plain.turns[j].text, rich.turns[j].text);
        for (int k = 0; k < 2; k++) {
            assert_true(sr_dataset_outcome(&plain, j, k)->quality ==
                        sr_dataset_outcome(&rich, j, k)->quality);
            assert_true(sr_dataset_outcome(&plain, j, k)->cost ==
                        sr_dataset_outcome(&rich, j, k)->cost);
        }
    }
    sr_dataset_free(&plain);
    sr_dataset_free(&rich);
}

static void embedding_only_data(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(20, 47);
    sr_dataset ds;

    cfg.text = false;
    cfg.embedding_dim = 4;
    generate(&cfg, &ds, NULL);
    for (size_t j = 0; j < ds.n_turns; j++) {
        assert_null(ds.turns[j].text);
        assert_non_null(ds.turns[j].embedding);
        for (int d = 0; d < 4; d++)
            assert_true(isfinite(ds.turns[j].embedding[d]));
    }
    sr_dataset_free(&ds);
}

/* True when `text` contains one of the hard-band words as a whole word. */
static bool has_hard_word(const char *text)
{
    static const char *const hard[] = {"prove", "derive", "rigorous", "optimise", "formal",
                                       "edge", "complexity", "multistep", "counterexample",
                                       "invariant"};
    char lower[1024];
    snprintf(lower, sizeof(lower), "%s", text);
    lower[0] = (char)(lower[0] >= 'A' && lower[0] <= 'Z' ? lower[0] - 'A' + 'a' : lower[0]);

    for (size_t i = 0; i < sizeof(hard) / sizeof(hard[0]); i++) {
        size_t n = strlen(hard[i]);
        for (const char *p = lower; (p = strstr(p, hard[i])) != NULL; p += n) {
            bool start = p == lower || p[-1] == ' ';
            bool end = p[n] == ' ' || p[n] == '.' || p[n] == '?' || p[n] == '\0';
            if (start && end)
                return true;
        }
    }
    return false;
}

static void text_signals_difficulty(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(5000, 53);
    sr_dataset ds;
    sr_synth_latent *latents = NULL;
    size_t easy = 0, easy_marked = 0, hard = 0, hard_marked = 0;

    generate(&cfg, &ds, &latents);
    for (size_t j = 0; j < ds.n_turns; j++) {
        bool marked = has_hard_word(ds.turns[j].text);
        if (latents[j].difficulty < 1.0 / 3.0) {
            easy++;
            easy_marked += marked;
        } else if (latents[j].difficulty >= 2.0 / 3.0) {
            hard++;
            hard_marked += marked;
        }
    }
    assert_true(easy > 100);
    assert_true(hard > 100);
    assert_true((double)hard_marked / (double)hard > 2.0 * (double)easy_marked / (double)easy);
    free(latents);
    sr_dataset_free(&ds);
}

static void header_records_settings(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(3, 77);
    sr_dataset ds;

    cfg.logged = SR_SYNTH_LOGGED_RANDOM;
    generate(&cfg, &ds, NULL);
    assert_non_null(ds.header_extra);
    json_t *extra = json_loads(ds.header_extra, 0, NULL);
    assert_non_null(extra);
    json_t *synth = json_object_get(extra, "synth");
    assert_true(json_is_object(synth));
    assert_int_equal(json_integer_value(json_object_get(synth, "seed")), 77);
    assert_int_equal(json_integer_value(json_object_get(synth, "sessions")), 3);
    assert_string_equal(json_string_value(json_object_get(synth, "logged")), "random");
    assert_float_equal(json_real_value(json_object_get(synth, "hard_late")), 0.3, 0.0);
    assert_true(json_is_null(json_object_get(synth, "budget")));
    json_decref(extra);
    sr_dataset_free(&ds);
}

static void bad_settings_are_rejected(void **state)
{
    (void)state;
    sr_error err;
    sr_dataset ds;
    sr_synth_config cfg;

    cfg = small_config(10, 1);
    cfg.n_models = 1;
    assert_int_equal(sr_synth_config_check(&cfg, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "models");

    cfg = small_config(10, 1);
    cfg.n_models = 9;
    assert_int_equal(sr_synth_config_check(&cfg, &err), SR_ERR_INVALID);

    cfg = small_config(10, 1);
    cfg.hard_late = 1.5;
    assert_int_equal(sr_synth_config_check(&cfg, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "hard_late");

    cfg = small_config(10, 1);
    cfg.min_turns = 5;
    cfg.max_turns = 4;
    assert_int_equal(sr_synth_config_check(&cfg, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "max_turns");

    cfg = small_config(10, 1);
    cfg.logged_only = true;
    assert_int_equal(sr_synth_config_check(&cfg, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "logged_only");

    cfg = small_config(10, 1);
    cfg.text = false;
    assert_int_equal(sr_synth_config_check(&cfg, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "text");

    cfg = small_config(10, 1);
    cfg.price_ratio = NAN;
    assert_int_equal(sr_synth_config_check(&cfg, &err), SR_ERR_INVALID);

    cfg = small_config(0, 1);
    sr_dataset_init(&ds);
    assert_int_equal(sr_synth_generate(&cfg, &ds, NULL, &err), SR_ERR_INVALID);
    assert_int_equal(ds.n_sessions, 0);
}

static void nonempty_dataset_is_rejected(void **state)
{
    (void)state;
    sr_synth_config cfg = small_config(2, 1);
    sr_dataset ds;
    sr_error err;

    generate(&cfg, &ds, NULL);
    assert_int_equal(sr_synth_generate(&cfg, &ds, NULL, &err), SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_data),
        cmocka_unit_test(sessions_independent_of_count),
        cmocka_unit_test(counts_and_ranges),
        cmocka_unit_test(fixed_length_and_budget),
        cmocka_unit_test(binary_quality_is_zero_or_one),
        cmocka_unit_test(hard_late_turns_at_stated_rate),
        cmocka_unit_test(one_turn_sessions_have_no_late_turn),
        cmocka_unit_test(strong_beats_weak_at_tenfold_cost),
        cmocka_unit_test(many_models_spread_log_uniformly),
        cmocka_unit_test(greedy_logging_picks_best_quality),
        cmocka_unit_test(logged_only_keeps_one_outcome),
        cmocka_unit_test(logging_and_embeddings_leave_outcomes),
        cmocka_unit_test(embedding_only_data),
        cmocka_unit_test(text_signals_difficulty),
        cmocka_unit_test(header_records_settings),
        cmocka_unit_test(bad_settings_are_rejected),
        cmocka_unit_test(nonempty_dataset_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
