/*
 * test_qpolicy.c - the policy file and decisions: a save/load round trip
 * that reproduces every decision bit for bit, truncation at every length
 * (section boundaries included), every single-bit flip, wrong magic, a
 * future version, unknown sections, catalogue and feature mismatches, the
 * mask and λ rule worked out by hand, and the simulator adapter.
 *
 * The policy under test reads text features with 8 buckets per block
 * (8 unigram + 8 bigram + 8 character n-gram + 8 statistics = 32 values),
 * every state option, and a [6, 5] network with seeded random weights.
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
#include "seqroute/qpolicy.h"

#define FEATURE_BUCKETS 8

/* Two models: strong (index 0) and weak, with mean costs 10 and 1. */
static void build_data(sr_dataset *ds)
{
    sr_error err;
    size_t turn;
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "strong", NAN, NAN, 10.0, false, &err), SR_OK);
    assert_int_equal(sr_dataset_add_model(ds, "weak", NAN, NAN, 1.0, true, &err), SR_OK);
    const char *texts[2][2] = {{"hello there", "prove the theorem"},
                               {"what time is it", "derive the integral"}};
    for (int s = 0; s < 2; s++) {
        char id[8];
        snprintf(id, sizeof(id), "s%d", s);
        assert_int_equal(sr_dataset_begin_session(ds, id, NAN, &err), SR_OK);
        for (int t = 0; t < 2; t++) {
            assert_int_equal(
                sr_dataset_add_turn(ds, texts[s][t], NULL, 0, NULL, -1, &turn, &err), SR_OK);
            assert_int_equal(sr_dataset_set_outcome(ds, turn, 0, 1.0, 10.0, NAN, NAN, &err),
                             SR_OK);
            assert_int_equal(
                sr_dataset_set_outcome(ds, turn, 1, t == 0 ? 0.5 : 0.0, 1.0, NAN, NAN, &err),
                SR_OK);
        }
    }
}

static sr_features_config feature_config(void)
{
    sr_features_config f;
    sr_features_config_default(&f);
    f.dim = FEATURE_BUCKETS;
    f.source = SR_FEATURES_TEXT;
    return f;
}

/* Builds a policy over `ds`'s models with random weights from `seed`. */
static sr_qpolicy *make_policy(uint64_t seed)
{
    sr_error err;
    sr_features_config f = feature_config();
    sr_state_config state = {0};
    state.feature_dim = sr_features_text_dim(&f);
    state.b_ref = 20.0;
    state.t_ref = 2.0;
    state.strong_cost = 10.0;
    state.options = SR_STATE_ALL_OPTIONS;
    state.n_bins = 3;

    sr_qpolicy *p = NULL;
    assert_int_equal(sr_qpolicy_new(2, &state, &p, &err), SR_OK);
    p->algo = SR_CQL_ALGO_CQL;
    p->features = f;
    snprintf(p->cost_unit, sizeof(p->cost_unit), "units");
    snprintf(p->models[0].name, sizeof(p->models[0].name), "strong");
    snprintf(p->models[1].name, sizeof(p->models[1].name), "weak");
    p->models[0].mean_cost = 10.0;
    p->models[1].mean_cost = 1.0;
    p->models[0].mean_quality = 1.0;
    p->models[1].mean_quality = 0.25;
    for (int k = 0; k < 2; k++)
        p->models[k].input_price = p->models[k].output_price = p->models[k].cost_per_call = NAN;
    p->models[1].fallback = true;

    float shift[64];
    float scale[64];
    for (int i = 0; i < state.feature_dim; i++) {
        shift[i] = 0.01f * (float)i;
        scale[i] = 1.0f + 0.1f * (float)(i % 3);
    }
    assert_int_equal(sr_qpolicy_set_norm(p, shift, scale, &err), SR_OK);

    sr_mlp_config net_config = {0};
    net_config.input_dim = sr_state_dim(&state);
    net_config.hidden_count = 2;
    net_config.hidden[0] = 6;
    net_config.hidden[1] = 5;
    net_config.output_dim = 2;
    net_config.max_rows = 4;
    sr_mlp *net = NULL;
    assert_int_equal(sr_mlp_create(&net_config, seed, &net, &err), SR_OK);
    assert_int_equal(sr_qpolicy_attach_net(p, net, true, &err), SR_OK);
    assert_int_equal(sr_qpolicy_set_settings(p, "{\"algo\": \"cql\"}", &err), SR_OK);
    return p;
}

static void serialise(const sr_qpolicy *p, uint8_t **data, size_t *size)
{
    sr_error err;
    assert_int_equal(sr_qpolicy_serialise(p, NULL, 0, data, size, &err), SR_OK);
}

/* Offsets of every section start in a serialised file, and the count. */
static int section_offsets(const uint8_t *data, size_t size, size_t *offsets, int max)
{
    int n = 0;
    size_t pos = SR_QPOLICY_HEADER_BYTES;
    while (pos + 16 <= size && n < max) {
        offsets[n++] = pos;
        uint64_t length = 0;
        for (int i = 7; i >= 0; i--)
            length = length << 8 | data[pos + 8 + (size_t)i];
        pos += 16 + (size_t)length;
    }
    return n;
}

static void qpolicy_round_trip_decisions(void **unused)
{
    (void)unused;
    sr_error err;
    sr_qpolicy *p = make_policy(11);
    uint8_t *data = NULL;
    size_t size = 0;
    serialise(p, &data, &size);

    sr_qpolicy *q = NULL;
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "mem.policy", &q, &err), SR_OK);
    assert_string_equal(q->path, "mem.policy");
    assert_int_equal(q->algo, SR_CQL_ALGO_CQL);
    assert_int_equal(q->n_models, 2);
    assert_string_equal(q->models[1].name, "weak");
    assert_true(q->models[1].fallback);
    assert_true(q->models[0].mean_cost == 10.0);
    assert_true(q->max_mean_cost == 10.0);
    assert_true(q->state.b_ref == 20.0);
    assert_int_equal(q->state.options, SR_STATE_ALL_OPTIONS);
    assert_int_equal(q->features.dim, FEATURE_BUCKETS);
    assert_string_equal(q->settings_json, "{\"algo\": \"cql\"}");
    assert_int_equal(q->net->param_count, p->net->param_count);
    assert_memory_equal(q->net->params, p->net->params, p->net->param_count * sizeof(float));

    /* Same decisions, Q values bit for bit, over a grid of states. */
    sr_features_config f = feature_config();
    float features[64];
    const char *texts[] = {"", "a short one", "prove that 2 + 2 = 4 { code }"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sr_features_text(&f, texts[i], features, &err), SR_OK);
        for (int t = 0; t < 3; t++)
            for (double b = 0; b <= 25; b += 2.5)
                for (double lambda = 0; lambda <= 1.0; lambda += 0.5) {
                    sr_decision a;
                    sr_decision c;
                    assert_int_equal(sr_qpolicy_decide(p, features, t, b, lambda, &a, &err),
                                     SR_OK);
                    assert_int_equal(sr_qpolicy_decide(q, features, t, b, lambda, &c, &err),
                                     SR_OK);
                    assert_int_equal(a.model, c.model);
                    assert_int_equal(a.kind, c.kind);
                    assert_memory_equal(a.q, c.q, 2 * sizeof(float));
                }
    }

    /* Serialising the loaded policy gives the same bytes. */
    uint8_t *again = NULL;
    size_t again_size = 0;
    serialise(q, &again, &again_size);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, data, size);

    free(again);
    free(data);
    sr_qpolicy_free(q);
    sr_qpolicy_free(p);
}

static void qpolicy_file_save_load(void **unused)
{
    (void)unused;
    sr_error err;
    char path[] = "/tmp/test_qpolicy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    sr_qpolicy *p = make_policy(3);
    assert_int_equal(sr_qpolicy_save(p, NULL, 0, path, &err), SR_OK);
    sr_qpolicy *q = NULL;
    assert_int_equal(sr_qpolicy_load(path, &q, &err), SR_OK);
    assert_string_equal(q->path, path);
    assert_memory_equal(q->net->params, p->net->params, p->net->param_count * sizeof(float));
    sr_qpolicy_free(q);
    remove(path);

    /* A missing file is an I/O error naming the path. */
    assert_int_equal(sr_qpolicy_load(path, &q, &err), SR_ERR_IO);
    assert_null(q);
    assert_non_null(strstr(err.message, path));
    sr_qpolicy_free(p);
}

static void qpolicy_truncation_rejected(void **unused)
{
    (void)unused;
    sr_error err;
    sr_qpolicy *p = make_policy(5);
    uint8_t *data = NULL;
    size_t size = 0;
    serialise(p, &data, &size);

    /* Cut at every section boundary: the message reports truncation. */
    size_t offsets[16];
    const int n = section_offsets(data, size, offsets, 16);
    assert_int_equal(n, 6); /* CATL FEAT STAT NORM NETW JSON */
    for (int i = 0; i < n; i++) {
        sr_qpolicy *q = (sr_qpolicy *)1;
        assert_int_equal(sr_qpolicy_load_buffer(data, offsets[i], "cut.policy", &q, &err),
                         SR_ERR_INVALID);
        assert_null(q);
        assert_non_null(strstr(err.message, "cut.policy"));
        assert_non_null(strstr(err.message, "truncated"));
    }

    /* Every other length fails too, naming the file. */
    for (size_t cut = 0; cut < size; cut++) {
        sr_qpolicy *q = NULL;
        assert_int_equal(sr_qpolicy_load_buffer(data, cut, "cut.policy", &q, &err),
                         SR_ERR_INVALID);
        assert_null(q);
        assert_non_null(strstr(err.message, "cut.policy"));
    }

    /* A trailing byte is reported as such. */
    uint8_t *longer = malloc(size + 1);
    memcpy(longer, data, size);
    longer[size] = 0;
    sr_qpolicy *q = NULL;
    assert_int_equal(sr_qpolicy_load_buffer(longer, size + 1, "long.policy", &q, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "after its last section"));

    free(longer);
    free(data);
    sr_qpolicy_free(p);
}

static void qpolicy_bit_flips_rejected(void **unused)
{
    (void)unused;
    sr_error err;
    sr_qpolicy *p = make_policy(7);
    uint8_t *data = NULL;
    size_t size = 0;
    serialise(p, &data, &size);

    for (size_t byte = 0; byte < size; byte++)
        for (int bit = 0; bit < 8; bit++) {
            data[byte] ^= (uint8_t)(1u << bit);
            sr_qpolicy *q = NULL;
            const sr_status status = sr_qpolicy_load_buffer(data, size, "flip.policy", &q, &err);
            data[byte] ^= (uint8_t)(1u << bit);
            if (status != SR_ERR_INVALID)
                fail_msg("flip of bit %d of byte %zu was not detected (status %d)", bit, byte,
                         (int)status);
            assert_null(q);
        }

    /* A flip in the payload is reported as a checksum failure. */
    data[size / 2] ^= 4;
    sr_qpolicy *q = NULL;
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "flip.policy", &q, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "corrupt"));
    assert_non_null(strstr(err.message, "CRC-32"));

    free(data);
    sr_qpolicy_free(p);
}

static void qpolicy_magic_and_version(void **unused)
{
    (void)unused;
    sr_error err;
    sr_qpolicy *p = make_policy(9);
    uint8_t *data = NULL;
    size_t size = 0;
    serialise(p, &data, &size);
    sr_qpolicy *q = NULL;

    data[0] = 'X';
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "magic.policy", &q, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "not a seqroute policy file"));
    data[0] = 'S';

    /* Version 3: rejected as newer before the CRC is looked at. */
    data[8] = 3;
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "future.policy", &q, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "future.policy"));
    assert_non_null(strstr(err.message, "format version 3"));
    assert_non_null(strstr(err.message, "newer"));
    data[8] = 2;

    assert_int_equal(sr_qpolicy_load_buffer(data, size, "ok.policy", &q, &err), SR_OK);
    sr_qpolicy_free(q);
    free(data);
    sr_qpolicy_free(p);
}

static void qpolicy_unknown_sections(void **unused)
{
    (void)unused;
    sr_error err;
    sr_qpolicy *p = make_policy(13);
    const char payload[] = "checkpoint bytes";
    sr_qpolicy_blob blob = {SR_QPOLICY_TAG('T', 'E', 'S', 'T'), 0, payload, sizeof(payload)};
    uint8_t *data = NULL;
    size_t size = 0;

    /* Optional: kept for the caller. */
    assert_int_equal(sr_qpolicy_serialise(p, &blob, 1, &data, &size, &err), SR_OK);
    sr_qpolicy *q = NULL;
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "extra.policy", &q, &err), SR_OK);
    const sr_qpolicy_section *section =
        sr_qpolicy_find_section(q, SR_QPOLICY_TAG('T', 'E', 'S', 'T'));
    assert_non_null(section);
    assert_int_equal(section->size, sizeof(payload));
    assert_memory_equal(section->data, payload, sizeof(payload));
    assert_null(sr_qpolicy_find_section(q, SR_QPOLICY_TAG('N', 'O', 'N', 'E')));
    sr_qpolicy_free(q);
    free(data);

    /* Required: rejected by name. */
    blob.flags = SR_QPOLICY_SECTION_REQUIRED;
    assert_int_equal(sr_qpolicy_serialise(p, &blob, 1, &data, &size, &err), SR_OK);
    q = NULL;
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "req.policy", &q, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "required section TEST"));
    free(data);
    sr_qpolicy_free(p);
}

static void qpolicy_data_mismatch(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset ds;
    build_data(&ds);
    sr_qpolicy *p = make_policy(17);
    int map[2];

    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_OK);
    assert_int_equal(map[0], 0);
    assert_int_equal(map[1], 1);

    /* A model the data lacks. */
    snprintf(p->path, sizeof(p->path), "named.policy");
    snprintf(p->models[1].name, sizeof(p->models[1].name), "tiny");
    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "named.policy"));
    assert_non_null(strstr(err.message, "'tiny'"));
    snprintf(p->models[1].name, sizeof(p->models[1].name), "weak");

    /* Data in another cost unit: budgets and costs would be on another scale. */
    assert_int_equal(sr_dataset_set_cost_unit(&ds, "USD", &err), SR_OK);
    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "named.policy"));
    assert_non_null(strstr(err.message, "'USD'"));
    assert_non_null(strstr(err.message, "'units'"));

    /* A policy without a recorded unit is not checked. */
    p->cost_unit[0] = '\0';
    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_OK);
    snprintf(p->cost_unit, sizeof(p->cost_unit), "units");
    assert_int_equal(sr_dataset_set_cost_unit(&ds, "units", &err), SR_OK);
    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_OK);

    /* A policy reading embeddings on data without them. */
    p->features.source = SR_FEATURES_EMBEDDING;
    p->embedding_dim = 32;
    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "embeddings"));
    p->features.source = SR_FEATURES_TEXT;

    /* Text features with another bucket count: another width. */
    p->features.dim = FEATURE_BUCKETS + 1;
    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "features per turn"));
    p->features.dim = FEATURE_BUCKETS;

    /* Data loaded without text. */
    for (size_t j = 0; j < ds.n_turns; j++) {
        free(ds.turns[j].text);
        ds.turns[j].text = NULL;
    }
    assert_int_equal(sr_qpolicy_check_data(p, &ds, map, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "no turn"));

    sr_qpolicy_free(p);
    sr_dataset_free(&ds);
}

static void qpolicy_choose_by_hand(void **unused)
{
    (void)unused;
    sr_qpolicy *p = make_policy(19);
    sr_decision d;
    const float q[2] = {1.0f, 0.6f};

    /* λ 0, budget 20: strong is preferred and affordable. */
    sr_qpolicy_choose(p, q, 20.0, 0.0, &d);
    assert_int_equal(d.model, 0);
    assert_int_equal(d.preferred, 0);
    assert_int_equal(d.kind, SR_DECISION_CHOSEN);
    assert_false(d.masked[0]);
    assert_false(d.masked[1]);

    /* Budget 10 equals strong's mean cost: still affordable. */
    sr_qpolicy_choose(p, q, 10.0, 0.0, &d);
    assert_int_equal(d.model, 0);

    /* Budget 9.5: strong masked, degrade to weak. */
    sr_qpolicy_choose(p, q, 9.5, 0.0, &d);
    assert_true(d.masked[0]);
    assert_int_equal(d.model, 1);
    assert_int_equal(d.preferred, 0);
    assert_int_equal(d.kind, SR_DECISION_DEGRADED);

    /* Budget 0.5: nothing affordable, name the cheapest. */
    sr_qpolicy_choose(p, q, 0.5, 0.0, &d);
    assert_int_equal(d.kind, SR_DECISION_NONE_AFFORDABLE);
    assert_int_equal(d.model, 1);

    /* λ rule: scores 1 - λ and 0.6 - λ / 10; they cross at λ = 0.4 / 0.9 ≈ 0.444. */
    sr_qpolicy_choose(p, q, 20.0, 0.4, &d);
    assert_int_equal(d.model, 0);
    assert_float_equal(d.score[0], 0.6, 1e-7);
    assert_float_equal(d.score[1], 0.56, 1e-7);
    sr_qpolicy_choose(p, q, 20.0, 0.5, &d);
    assert_int_equal(d.model, 1);
    assert_int_equal(d.kind, SR_DECISION_CHOSEN);

    /* Ties go to the lower index. */
    const float tie[2] = {0.5f, 0.5f};
    sr_qpolicy_choose(p, tie, 20.0, 0.0, &d);
    assert_int_equal(d.model, 0);

    sr_qpolicy_free(p);
}

/* Sets the network so that Q(s, ·) = (q0, q1) for every state. */
static void set_constant_q(sr_qpolicy *p, float q0, float q1)
{
    sr_dense_layer *last = &p->net->layers[p->net->layer_count - 1];
    memset(last->weight, 0, (size_t)last->in * (size_t)last->out * sizeof(float));
    last->bias[0] = q0;
    last->bias[1] = q1;
}

static void qpolicy_adapter_in_simulator(void **unused)
{
    (void)unused;
    sr_error err;
    sr_dataset ds;
    build_data(&ds);
    sr_eval_options options;
    sr_eval_options_default(&options);

    sr_qpolicy *p = make_policy(23);
    set_constant_q(p, 1.0f, 0.0f);
    sr_policy *learned = NULL;
    assert_int_equal(sr_qpolicy_policy_create(p, false, "cql", 0.0, &ds, &learned, &err),
                     SR_OK);
    assert_string_equal(learned->name, "cql");

    /* Budget 11: strong at turn 1 (10 <= 11), then strong is masked (1 < 10): weak. */
    sr_eval_metrics m;
    assert_int_equal(sr_eval_policy(learned, &ds, 11.0, &options, &m, &err), SR_OK);
    assert_int_equal(m.bankrupt_sessions, 0);
    assert_float_equal(m.mean_cost, 11.0, 1e-12);
    assert_float_equal(m.mean_return, 1.0, 1e-12);
    assert_float_equal(m.model_share[0], 0.5, 1e-12);

    /* Budget 0.5: nothing affordable; the weak call overspends and the session ends. */
    assert_int_equal(sr_eval_policy(learned, &ds, 0.5, &options, &m, &err), SR_OK);
    assert_int_equal(m.bankrupt_sessions, 2);
    assert_float_equal(m.model_share[1], 1.0, 1e-12);
    sr_policy_free(learned);

    /* λ 2 prices strong out: score 1 - 2 < 0 - 0.2. */
    assert_int_equal(sr_qpolicy_policy_create(p, false, "cql", 2.0, &ds, &learned, &err),
                     SR_OK);
    assert_int_equal(sr_eval_policy(learned, &ds, 100.0, &options, &m, &err), SR_OK);
    assert_float_equal(m.model_share[1], 1.0, 1e-12);
    assert_float_equal(m.mean_cost, 2.0, 1e-12);
    sr_policy_free(learned);

    /* Non-finite λ is rejected. */
    assert_int_equal(sr_qpolicy_policy_create(p, false, "cql", NAN, &ds, &learned, &err),
                     SR_ERR_INVALID);

    sr_qpolicy_free(p);
    sr_dataset_free(&ds);
}

/* Offset of the STAT section's start in a serialised file. */
static size_t state_section(const uint8_t *data, size_t size)
{
    size_t offsets[16];
    const int n = section_offsets(data, size, offsets, 16);
    for (int i = 0; i < n; i++)
        if (memcmp(data + offsets[i], "STAT", 4) == 0)
            return offsets[i];
    fail_msg("no STAT section");
    return 0;
}

static void put_le(uint8_t *at, uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; i++)
        at[i] = (uint8_t)(value >> (8 * i));
}

/* Recomputes the payload length and the CRC of a patched file. */
static void reseal(uint8_t *data, size_t size)
{
    put_le(data + 16, size - SR_QPOLICY_HEADER_BYTES, 8);
    uint32_t crc = sr_crc32(0, data, 24);
    crc = sr_crc32(crc, data + SR_QPOLICY_HEADER_BYTES, size - SR_QPOLICY_HEADER_BYTES);
    put_le(data + 24, crc, 4);
}

/*
 * Rewrites a version 2 file as version 1 wrote it: STAT without its last
 * field, λ_max (8 bytes), and the header's version 1.  Returns the new size.
 */
static size_t downgrade_to_version_1(uint8_t *data, size_t size)
{
    const size_t stat = state_section(data, size);
    uint64_t length = 0;
    for (int i = 7; i >= 0; i--)
        length = length << 8 | data[stat + 8 + (size_t)i];
    const size_t end = stat + 16 + (size_t)length;
    memmove(data + end - 8, data + end, size - end);
    size -= 8;
    put_le(data + stat + 8, length - 8, 8);
    put_le(data + 8, 1, 4);
    reseal(data, size);
    return size;
}

static void qpolicy_reads_version_1(void **unused)
{
    (void)unused;
    sr_error err;
    sr_qpolicy *p = make_policy(23);
    uint8_t *data = NULL;
    size_t size = 0;
    serialise(p, &data, &size);
    assert_int_equal(data[8], SR_QPOLICY_FORMAT_VERSION);
    size = downgrade_to_version_1(data, size);

    /* A file of the first layout loads and decides as before. */
    sr_qpolicy *q = NULL;
    if (sr_qpolicy_load_buffer(data, size, "v1.policy", &q, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_true(q->state.lambda_max == 0.0);
    assert_false(sr_qpolicy_lambda_conditioned(q));
    const float qv[2] = {0.3f, 0.9f};
    sr_decision a;
    sr_decision b;
    sr_qpolicy_choose(p, qv, 20.0, 0.2, &a);
    sr_qpolicy_choose(q, qv, 20.0, 0.2, &b);
    assert_int_equal(a.model, b.model);
    assert_memory_equal(a.score, b.score, sizeof(double) * 2);
    sr_qpolicy_free(q);

    /* Version 1 knew no myopic algorithm (STAT starts with the algorithm). */
    const size_t stat = state_section(data, size);
    put_le(data + stat + 16, SR_QPOLICY_ALGO_MYOPIC_VALUE, 4);
    reseal(data, size);
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "v1.policy", &q, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "algorithm is unknown"));

    /* Nor the algorithm's state bits. */
    put_le(data + stat + 16, SR_CQL_ALGO_CQL, 4);
    put_le(data + stat + 20, SR_STATE_ALL_OPTIONS | SR_STATE_NO_BUDGET, 4);
    reseal(data, size);
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "v1.policy", &q, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "later version"));

    free(data);
    sr_qpolicy_free(p);
}

/* A policy over a 3-value embedding whose network also reads λ. */
static sr_qpolicy *make_lambda_policy(double lambda_max)
{
    sr_error err;
    sr_state_config state = {0};
    state.feature_dim = 3;
    state.b_ref = 20.0;
    state.options = SR_STATE_LAMBDA;
    state.lambda_max = lambda_max;
    sr_qpolicy *p = NULL;
    assert_int_equal(sr_qpolicy_new(2, &state, &p, &err), SR_OK);
    p->algo = SR_CQL_ALGO_CQL;
    sr_features_config_default(&p->features);
    p->features.source = SR_FEATURES_EMBEDDING;
    p->embedding_dim = 3;
    snprintf(p->models[0].name, sizeof(p->models[0].name), "strong");
    snprintf(p->models[1].name, sizeof(p->models[1].name), "weak");
    p->models[0].mean_cost = 10.0;
    p->models[1].mean_cost = 1.0;
    for (int k = 0; k < 2; k++)
        p->models[k].input_price = p->models[k].output_price = p->models[k].cost_per_call = NAN;

    sr_mlp_config net_config = {0};
    net_config.input_dim = sr_state_dim(&state);
    net_config.hidden_count = 1;
    net_config.hidden[0] = 4;
    net_config.output_dim = 2;
    net_config.max_rows = 1;
    sr_mlp *net = NULL;
    assert_int_equal(sr_mlp_create(&net_config, 29, &net, &err), SR_OK);
    assert_int_equal(sr_qpolicy_attach_net(p, net, true, &err), SR_OK);
    return p;
}

static void qpolicy_lambda_conditioned(void **unused)
{
    (void)unused;
    sr_error err;
    sr_qpolicy *p = make_lambda_policy(2.0);
    assert_int_equal(sr_state_dim(&p->state), 5);

    /* Round trip keeps λ_max and the bit. */
    uint8_t *data = NULL;
    size_t size = 0;
    serialise(p, &data, &size);
    sr_qpolicy *q = NULL;
    if (sr_qpolicy_load_buffer(data, size, "lambda.policy", &q, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_true(sr_qpolicy_lambda_conditioned(q));
    assert_true(q->state.lambda_max == 2.0);

    /* No post-hoc cost term: the score is the Q value whatever λ. */
    const float qv[2] = {1.0f, 0.6f};
    sr_decision d;
    sr_qpolicy_choose(q, qv, 20.0, 0.9, &d);
    assert_true(d.score[0] == 1.0);
    assert_true(d.score[1] == (double)0.6f);
    assert_int_equal(d.model, 0);
    /* The mask still applies. */
    sr_qpolicy_choose(q, qv, 5.0, 0.9, &d);
    assert_int_equal(d.model, 1);
    assert_int_equal(d.kind, SR_DECISION_DEGRADED);

    /* λ enters the state as λ / λ_max, last; the budget stays b / B_ref. */
    const float features[3] = {0.5f, -1.0f, 2.0f};
    assert_int_equal(sr_qpolicy_decide(q, features, 0, 10.0, 0.5, &d, &err), SR_OK);
    assert_true(q->state_buffer[3] == 0.5f);
    assert_true(q->state_buffer[4] == 0.25f);
    const float q_half[2] = {d.q[0], d.q[1]};
    assert_int_equal(sr_qpolicy_decide(q, features, 0, 10.0, 1.5, &d, &err), SR_OK);
    assert_true(q->state_buffer[4] == 0.75f);
    assert_true(d.q[0] != q_half[0] || d.q[1] != q_half[1]);
    /* A negative λ would reward cost: rejected, the decision untouched. */
    d.model = 7;
    assert_int_equal(sr_qpolicy_decide(q, features, 0, 10.0, -0.5, &d, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "lambda");
    assert_int_equal(d.model, 7);
    sr_qpolicy_free(q);

    /* λ_max must be positive exactly when the bit is set. */
    const size_t stat = state_section(data, size);
    uint64_t length = 0;
    for (int i = 7; i >= 0; i--)
        length = length << 8 | data[stat + 8 + (size_t)i];
    put_le(data + stat + 16 + (size_t)length - 8, 0, 8);
    reseal(data, size);
    assert_int_equal(sr_qpolicy_load_buffer(data, size, "lambda.policy", &q, &err),
                     SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "lambda_max"));

    free(data);
    sr_qpolicy_free(p);
}

static void qpolicy_myopic_round_trip(void **unused)
{
    (void)unused;
    sr_error err;
    sr_state_config state = {0};
    state.feature_dim = 3;
    state.b_ref = 20.0;
    state.options = SR_STATE_NO_BUDGET;
    sr_qpolicy *p = make_lambda_policy(1.0);
    sr_qpolicy *m = NULL;
    assert_int_equal(sr_qpolicy_new(2, &state, &m, &err), SR_OK);
    m->algo = SR_QPOLICY_ALGO_MYOPIC;
    m->features = p->features;
    m->embedding_dim = 3;
    memcpy(m->models, p->models, 2 * sizeof(sr_qpolicy_model));
    sr_mlp_config net_config = {0};
    net_config.input_dim = 3; /* the features alone: no budget entry */
    net_config.hidden_count = 1;
    net_config.hidden[0] = 4;
    net_config.output_dim = 2;
    net_config.max_rows = 1;
    sr_mlp *net = NULL;
    assert_int_equal(sr_mlp_create(&net_config, 31, &net, &err), SR_OK);
    assert_int_equal(sr_qpolicy_attach_net(m, net, true, &err), SR_OK);

    uint8_t *data = NULL;
    size_t size = 0;
    serialise(m, &data, &size);
    sr_qpolicy *q = NULL;
    if (sr_qpolicy_load_buffer(data, size, "myopic.policy", &q, &err) != SR_OK)
        fail_msg("%s", err.message);
    assert_int_equal((int)q->algo, SR_QPOLICY_ALGO_MYOPIC_VALUE);
    assert_string_equal(sr_qpolicy_algo_name(q->algo), "myopic");
    assert_int_equal(q->state.options, SR_STATE_NO_BUDGET);

    /* The post-hoc rule applies to the predicted qualities: 0.6 - λ / 10 vs 1 - λ. */
    const float qv[2] = {1.0f, 0.6f};
    sr_decision d;
    sr_qpolicy_choose(q, qv, 20.0, 0.5, &d);
    assert_float_equal(d.score[0], 0.5, 1e-7);
    assert_float_equal(d.score[1], 0.55, 1e-7);
    assert_int_equal(d.model, 1);

    free(data);
    sr_qpolicy_free(q);
    sr_qpolicy_free(m);
    sr_qpolicy_free(p);
}

static void qpolicy_parse_names(void **unused)
{
    (void)unused;
    char label[16];
    assert_string_equal(sr_qpolicy_parse_name("cql:a/b.policy", label, sizeof(label)),
                        "a/b.policy");
    assert_string_equal(label, "cql");
    assert_string_equal(sr_qpolicy_parse_name("bc:x", label, sizeof(label)), "x");
    assert_string_equal(label, "bc");
    assert_string_equal(sr_qpolicy_parse_name("myopic:m.policy", label, sizeof(label)),
                        "m.policy");
    assert_string_equal(label, "myopic");
    assert_string_equal(sr_qpolicy_parse_name("policy:x", label, sizeof(label)), "x");
    assert_string_equal(label, "");
    assert_null(sr_qpolicy_parse_name("always:strong", label, sizeof(label)));
    assert_null(sr_qpolicy_parse_name("heuristic", label, sizeof(label)));
}

static void qpolicy_crc_known_value(void **unused)
{
    (void)unused;
    /* The standard CRC-32 check value of "123456789". */
    assert_int_equal(sr_crc32(0, "123456789", 9), 0xcbf43926u);
    assert_int_equal(sr_crc32(sr_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
    assert_int_equal(sr_crc32(0, "", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qpolicy_crc_known_value),
        cmocka_unit_test(qpolicy_round_trip_decisions),
        cmocka_unit_test(qpolicy_file_save_load),
        cmocka_unit_test(qpolicy_truncation_rejected),
        cmocka_unit_test(qpolicy_bit_flips_rejected),
        cmocka_unit_test(qpolicy_magic_and_version),
        cmocka_unit_test(qpolicy_unknown_sections),
        cmocka_unit_test(qpolicy_data_mismatch),
        cmocka_unit_test(qpolicy_choose_by_hand),
        cmocka_unit_test(qpolicy_adapter_in_simulator),
        cmocka_unit_test(qpolicy_parse_names),
        cmocka_unit_test(qpolicy_reads_version_1),
        cmocka_unit_test(qpolicy_lambda_conditioned),
        cmocka_unit_test(qpolicy_myopic_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
