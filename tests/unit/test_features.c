/*
 * test_features.c - the text featuriser, the embedding path, the history
 * options and the feature table.
 *
 * Reference vectors below were computed once with an independent Python 3
 * implementation of the documented scheme (FNV-1a 64 over tag + n-gram
 * bytes, murmur3 fmix64, bucket = h % 256, sign from bit 63, per-block L2
 * norm) and pasted here; docs/FEATURES.md prints that script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/features.h"

/* Float tolerance for normalised entries (the reference printed 9 digits). */
#define TOLERANCE 1e-6

typedef struct sparse_entry {
    int index;
    double value;
} sparse_entry;

/* Checks a block of `dim` floats equals a sparse reference exactly there and 0 elsewhere. */
static void assert_block(const float *block, int dim, const sparse_entry *ref, size_t n_ref)
{
    for (int i = 0; i < dim; i++) {
        double expected = 0.0;
        for (size_t r = 0; r < n_ref; r++)
            if (ref[r].index == i)
                expected = ref[r].value;
        if (fabs((double)block[i] - expected) > TOLERANCE)
            fail_msg("bucket %d: got %.9f, expected %.9f", i, (double)block[i], expected);
    }
}

static bool blocks_equal(const float *a, const float *b, int n)
{
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

static sr_features_config default_config(void)
{
    sr_features_config cfg;
    sr_features_config_default(&cfg);
    return cfg;
}

/* Offsets of the blocks under the default configuration. */
enum { D = 256, UNI = 0, BI = 256, CHARS = 512, STATS = 768, TOTAL = 776 };

/* ---- hash and reference vectors ----------------------------------------------- */

static void hash_matches_reference(void **state)
{
    (void)state;
    assert_true(sr_features_hash("", 0, 0) == 0xefd01f60ba992926ULL);
    assert_true(sr_features_hash("ucat", 4, 0) == 0x7a0a6bc2d28347d0ULL);
    assert_int_equal(sr_features_hash("ucat", 4, 0) % 256, 208);
}

static void defaults_have_documented_width(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    assert_int_equal(cfg.dim, D);
    assert_int_equal(sr_features_text_dim(&cfg), TOTAL);
    assert_int_equal(sr_features_dim(&cfg, NULL), TOTAL);
    cfg.word_bigrams = false;
    assert_int_equal(sr_features_text_dim(&cfg), 2 * D + SR_FEATURES_N_STATS);
}

static void single_word_matches_reference(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];
    const double c = 0.40824829; /* 1/sqrt(6): six character n-grams of "<cat>" */
    const sparse_entry uni[] = {{208, 1.0}};
    const sparse_entry chars[] = {{86, c},  {122, c},  {127, c},
                                  {136, c}, {163, c}, {198, -c}};

    assert_int_equal(sr_features_text(&cfg, "cat", v, NULL), SR_OK);
    assert_block(v + UNI, D, uni, 1);
    assert_block(v + BI, D, NULL, 0);
    assert_block(v + CHARS, D, chars, 6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_BYTES], log1p(3.0), 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_WORDS], log1p(1.0), 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_LINES], log1p(1.0), 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_DIGIT_SHARE], 0.0, 0.0);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_TRUNCATED], 0.0, 0.0);
}

static void two_words_match_reference(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];
    const double u = 0.707106781;
    const double c = 0.288675135; /* 1/sqrt(12) */
    const sparse_entry uni[] = {{113, u}, {208, u}};
    const sparse_entry bi[] = {{32, -1.0}};
    const sparse_entry chars[] = {{63, c},   {86, c},  {90, -c},  {122, c},
                                  {127, c},  {136, c}, {139, -c}, {163, c},
                                  {198, -c}, {206, c}, {215, c},  {254, -c}};

    /* Upper case, punctuation and extra spaces do not change the n-grams. */
    assert_int_equal(sr_features_text(&cfg, "  The, CAT!", v, NULL), SR_OK);
    assert_block(v + UNI, D, uni, 2);
    assert_block(v + BI, D, bi, 1);
    assert_block(v + CHARS, D, chars, 12);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_WORDS], log1p(2.0), 1e-6);
}

static void same_text_gives_same_vector(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float a[TOTAL];
    float b[TOTAL];
    const char *text = "Explain how a B-tree splits a full node, step by step 42.";

    assert_int_equal(sr_features_text(&cfg, text, a, NULL), SR_OK);
    assert_int_equal(sr_features_text(&cfg, text, b, NULL), SR_OK);
    assert_true(blocks_equal(a, b, TOTAL));
}

static void seed_changes_buckets(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float a[TOTAL];
    float b[TOTAL];

    assert_int_equal(sr_features_text(&cfg, "cat", a, NULL), SR_OK);
    cfg.seed = 12345;
    assert_int_equal(sr_features_text(&cfg, "cat", b, NULL), SR_OK);
    assert_false(blocks_equal(a + UNI, b + UNI, D) && blocks_equal(a + CHARS, b + CHARS, D));
    assert_true(blocks_equal(a + STATS, b + STATS, SR_FEATURES_N_STATS));
}

static void word_permutation_changes_bigrams_only(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float a[TOTAL];
    float b[TOTAL];

    assert_int_equal(sr_features_text(&cfg, "the cat sat on mats", a, NULL), SR_OK);
    assert_int_equal(sr_features_text(&cfg, "mats on sat the cat", b, NULL), SR_OK);
    assert_true(blocks_equal(a + UNI, b + UNI, D));
    assert_false(blocks_equal(a + BI, b + BI, D));
    assert_true(blocks_equal(a + CHARS, b + CHARS, D));
    assert_true(blocks_equal(a + STATS, b + STATS, SR_FEATURES_N_STATS));
}

static void blocks_have_unit_norm(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];

    assert_int_equal(sr_features_text(&cfg, "one two three four five six seven", v, NULL),
                     SR_OK);
    for (int block = 0; block < 3; block++) {
        double sum = 0;
        for (int i = 0; i < D; i++)
            sum += (double)v[block * D + i] * (double)v[block * D + i];
        assert_float_equal(sum, 1.0, 1e-5);
    }
}

/* ---- statistics -------------------------------------------------------------- */

static void stats_count_lines_digits_and_code(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];
    /* 19 bytes: 2 digits, 3 newlines (last line unterminated), a fence, 3 code symbols. */
    const char *text = "ab 12\n```\nf(x);\n```";
    size_t len = strlen(text);

    assert_int_equal(len, 19);
    assert_int_equal(sr_features_text(&cfg, text, v, NULL), SR_OK);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_BYTES], log1p(19.0), 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_WORDS], log1p(4.0), 1e-6); /* ab 12 f x */
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_LINES], log1p(4.0), 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_DIGIT_SHARE], 2.0 / 19.0, 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_NONASCII_SHARE], 0.0, 0.0);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_CODE_FENCE], 1.0, 0.0);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_CODE_SYMBOLS], 3.0 / 19.0, 1e-6); /* ( ) ; */
}

static void stats_lines_edge_cases(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];

    assert_int_equal(sr_features_text(&cfg, "a\n", v, NULL), SR_OK);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_LINES], log1p(1.0), 1e-6);
    assert_int_equal(sr_features_text(&cfg, "\n\n", v, NULL), SR_OK);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_LINES], log1p(2.0), 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_WORDS], 0.0, 0.0);
    assert_int_equal(sr_features_text(&cfg, "``", v, NULL), SR_OK);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_CODE_FENCE], 0.0, 0.0);
}

/* ---- empty, NULL, non-ASCII and invalid UTF-8 ----------------------------------- */

static void empty_and_null_text_give_zeros(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];

    memset(v, 0x7f, sizeof(v)); /* garbage that must be overwritten */
    assert_int_equal(sr_features_text(&cfg, "", v, NULL), SR_OK);
    for (int i = 0; i < TOTAL; i++)
        assert_float_equal(v[i], 0.0, 0.0);

    memset(v, 0x7f, sizeof(v));
    assert_int_equal(sr_features_text(&cfg, NULL, v, NULL), SR_OK);
    for (int i = 0; i < TOTAL; i++)
        assert_float_equal(v[i], 0.0, 0.0);

    memset(v, 0x7f, sizeof(v));
    assert_int_equal(sr_features_text_n(&cfg, NULL, 10, v, NULL), SR_OK);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_BYTES], 0.0, 0.0);
}

static void punctuation_only_text_has_no_ngrams(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];

    assert_int_equal(sr_features_text(&cfg, "?! ... ;", v, NULL), SR_OK);
    for (int i = 0; i < STATS; i++)
        assert_float_equal(v[i], 0.0, 0.0);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_BYTES], log1p(8.0), 1e-6);
}

static void chinese_matches_reference(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];
    const double c = 0.577350269; /* 1/sqrt(3): "<日本", "日本>", "<日本>" */
    const sparse_entry uni[] = {{11, -1.0}};
    const sparse_entry chars[] = {{31, c}, {142, -c}, {226, c}};

    assert_int_equal(sr_features_text(&cfg, "日本", v, NULL), SR_OK);
    assert_block(v + UNI, D, uni, 1);
    assert_block(v + CHARS, D, chars, 3);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_BYTES], log1p(6.0), 1e-6);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_NONASCII_SHARE], 1.0, 0.0);
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_WORDS], log1p(1.0), 1e-6);
}

static void emoji_and_combining_marks(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float precomposed[TOTAL];
    float combining[TOTAL];
    float emoji[TOTAL];

    /* "café" with U+00E9 versus "cafe" + U+0301: different code points, both one word. */
    assert_int_equal(sr_features_text(&cfg, "caf\xc3\xa9", precomposed, NULL), SR_OK);
    assert_int_equal(sr_features_text(&cfg, "cafe\xcc\x81", combining, NULL), SR_OK);
    assert_float_equal(combining[STATS + SR_FEATURES_STAT_LOG_WORDS], log1p(1.0), 1e-6);
    assert_false(blocks_equal(precomposed + UNI, combining + UNI, D));

    /* Two thumbs-up (4-byte sequences) with a space: two words. */
    assert_int_equal(sr_features_text(&cfg, "\xf0\x9f\x91\x8d \xf0\x9f\x91\x8d", emoji, NULL),
                     SR_OK);
    assert_float_equal(emoji[STATS + SR_FEATURES_STAT_LOG_WORDS], log1p(2.0), 1e-6);
    assert_float_equal(emoji[STATS + SR_FEATURES_STAT_NONASCII_SHARE], 8.0 / 9.0, 1e-6);
    /* Both words are equal, so one unigram bucket carries the whole norm. */
    int nonzero = 0;
    for (int i = 0; i < D; i++)
        nonzero += emoji[UNI + i] != 0.0f;
    assert_int_equal(nonzero, 1);
}

static void invalid_byte_is_one_replacement_unit(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float bad[TOTAL];
    float replaced[TOTAL];
    const double c = 0.40824829;
    const sparse_entry uni[] = {{220, -1.0}};
    const sparse_entry chars[] = {{69, -c}, {121, -c}, {157, c}, {183, -c}, {231, c}, {251, c}};

    assert_int_equal(sr_features_text(&cfg, "a\xff" "b", bad, NULL), SR_OK);
    assert_int_equal(sr_features_text(&cfg, "a\xef\xbf\xbd" "b", replaced, NULL), SR_OK);
    assert_block(bad + UNI, D, uni, 1);
    assert_block(bad + CHARS, D, chars, 6);
    assert_true(blocks_equal(bad, replaced, STATS));
}

static void malformed_sequences_decode_bytewise(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float bad[TOTAL];
    float replaced[TOTAL];
    const char *three_replacements = "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
    /* A surrogate (ED A0 80), an overlong '/' + stray byte (C0 AF 80), and 4 bytes over U+10FFFF. */
    const char *cases[] = {"x\xed\xa0\x80", "x\xc0\xaf\x80", "x\xf4\x90\x80"};

    assert_int_equal(sr_features_text(&cfg, three_replacements, replaced, NULL), SR_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sr_features_text(&cfg, cases[i], bad, NULL), SR_OK);
        assert_true(blocks_equal(bad, replaced, STATS));
    }
}

static void truncated_sequence_never_reads_past_end(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float v[TOTAL];
    float ref[TOTAL];
    /* "ab" + the first two bytes of U+65E5, in a buffer with no terminator. */
    const unsigned char bytes[4] = {'a', 'b', 0xe6, 0x97};
    char *exact = malloc(sizeof(bytes));

    assert_non_null(exact);
    memcpy(exact, bytes, sizeof(bytes));
    assert_int_equal(sr_features_text_n(&cfg, exact, sizeof(bytes), v, NULL), SR_OK);
    assert_int_equal(sr_features_text(&cfg, "ab\xef\xbf\xbd\xef\xbf\xbd", ref, NULL), SR_OK);
    assert_true(blocks_equal(v, ref, STATS));
    assert_float_equal(v[STATS + SR_FEATURES_STAT_LOG_BYTES], log1p(4.0), 1e-6);
    free(exact);
}

/* ---- huge input --------------------------------------------------------------- */

static void huge_text_uses_bounded_prefix(void **state)
{
    (void)state;
    sr_features_config cfg = default_config();
    float full[TOTAL];
    float prefix[TOTAL];
    const size_t size = 5u << 20;
    char *text = malloc(size + 1);

    /* "ab" then 日 (3 bytes) repeated with spaces: 65536 falls inside a character. */
    assert_non_null(text);
    memcpy(text, "ab", 2);
    size_t pos = 2;
    const char *unit = "\xe6\x97\xa5\xe6\x97\xa5 x9 ";
    size_t unit_len = strlen(unit);
    while (pos + unit_len <= size) {
        memcpy(text + pos, unit, unit_len);
        pos += unit_len;
    }
    memset(text + pos, 'z', size - pos);
    text[size] = '\0';

    /* The cut backs off from max_bytes to the start of the character it splits. */
    size_t cut = cfg.max_bytes;
    while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
        cut--;
    assert_true(cut < cfg.max_bytes);

    assert_int_equal(sr_features_text(&cfg, text, full, NULL), SR_OK);
    assert_int_equal(sr_features_text_n(&cfg, text, cut, prefix, NULL), SR_OK);
    assert_true(blocks_equal(full, prefix, STATS));
    assert_float_equal(full[STATS + SR_FEATURES_STAT_LOG_BYTES], log1p((double)size), 1e-5);
    assert_float_equal(full[STATS + SR_FEATURES_STAT_TRUNCATED], 1.0, 0.0);
    assert_float_equal(prefix[STATS + SR_FEATURES_STAT_TRUNCATED], 0.0, 0.0);
    free(text);
}

/* ---- configuration -------------------------------------------------------------- */

static void bad_config_is_rejected(void **state)
{
    (void)state;
    float v[TOTAL];
    sr_error err;
    sr_features_config cfg = default_config();

    cfg.dim = 0;
    assert_int_equal(sr_features_text(&cfg, "x", v, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "dim");

    cfg = default_config();
    cfg.char_ngram_min = 4;
    cfg.char_ngram_max = 3;
    assert_int_equal(sr_features_text(&cfg, "x", v, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "char_ngram");

    cfg = default_config();
    cfg.char_ngram_max = SR_FEATURES_MAX_NGRAM + 1;
    assert_int_equal(sr_features_config_check(&cfg, &err), SR_ERR_INVALID);

    cfg = default_config();
    cfg.max_bytes = 0;
    assert_int_equal(sr_features_text(&cfg, "x", v, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "max_bytes");
    assert_int_equal(sr_features_dim(&cfg, NULL), -1);
}

/* ---- datasets, history and tables ---------------------------------------------- */

/* Two sessions: "s1" with three texts, "s2" with one. */
static void build_text_dataset(sr_dataset *ds)
{
    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "m", NAN, NAN, 1.0, false, NULL), SR_OK);
    assert_int_equal(sr_dataset_begin_session(ds, "s1", NAN, NULL), SR_OK);
    assert_int_equal(sr_dataset_add_turn(ds, "hello world", NULL, 0, NULL, -1, NULL, NULL), SR_OK);
    assert_int_equal(sr_dataset_add_turn(ds, "prove it", NULL, 0, NULL, -1, NULL, NULL), SR_OK);
    assert_int_equal(sr_dataset_add_turn(ds, NULL, NULL, 0, NULL, -1, NULL, NULL), SR_OK);
    assert_int_equal(sr_dataset_begin_session(ds, "s2", NAN, NULL), SR_OK);
    assert_int_equal(sr_dataset_add_turn(ds, "bye", NULL, 0, NULL, -1, NULL, NULL), SR_OK);
}

static void history_modes_on_text_session(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_features_config cfg = default_config();
    float base[3][TOTAL];
    float v[2 * TOTAL];

    build_text_dataset(&ds);
    assert_int_equal(sr_features_text(&cfg, "hello world", base[0], NULL), SR_OK);
    assert_int_equal(sr_features_text(&cfg, "prove it", base[1], NULL), SR_OK);
    assert_int_equal(sr_features_text(&cfg, NULL, base[2], NULL), SR_OK);

    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 1, v, NULL), SR_OK);
    assert_true(blocks_equal(v, base[1], TOTAL));

    cfg.history = SR_HISTORY_MEAN;
    assert_int_equal(sr_features_dim(&cfg, &ds), TOTAL);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 2, v, NULL), SR_OK);
    for (int i = 0; i < TOTAL; i++)
        assert_float_equal(v[i], ((double)base[0][i] + base[1][i] + base[2][i]) / 3.0, 1e-6);

    cfg.history = SR_HISTORY_CONCAT;
    assert_int_equal(sr_features_dim(&cfg, &ds), 2 * TOTAL);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 0, v, NULL), SR_OK);
    assert_true(blocks_equal(v, base[0], TOTAL));
    for (int i = 0; i < TOTAL; i++)
        assert_float_equal(v[TOTAL + i], 0.0, 0.0);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 2, v, NULL), SR_OK);
    assert_true(blocks_equal(v, base[2], TOTAL));
    for (int i = 0; i < TOTAL; i++)
        assert_float_equal(v[TOTAL + i], ((double)base[0][i] + base[1][i]) / 2.0, 1e-6);
    sr_dataset_free(&ds);
}

/* One session of three turns with 2-d embeddings (1,2), (3,4), (5,9), plus text. */
static void build_embedding_dataset(sr_dataset *ds)
{
    const float e[3][2] = {{1, 2}, {3, 4}, {5, 9}};

    sr_dataset_init(ds);
    assert_int_equal(sr_dataset_add_model(ds, "m", NAN, NAN, 1.0, false, NULL), SR_OK);
    assert_int_equal(sr_dataset_begin_session(ds, "e1", NAN, NULL), SR_OK);
    for (int t = 0; t < 3; t++)
        assert_int_equal(sr_dataset_add_turn(ds, "text", e[t], 2, NULL, -1, NULL, NULL), SR_OK);
}

static void history_modes_on_embeddings(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_features_config cfg = default_config();
    float v[4];

    build_embedding_dataset(&ds);
    assert_int_equal(sr_features_dim(&cfg, &ds), 2);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 2, v, NULL), SR_OK);
    assert_float_equal(v[0], 5.0, 0.0);
    assert_float_equal(v[1], 9.0, 0.0);

    /* Mean over turns 0..2: ((1+3+5)/3, (2+4+9)/3) = (3, 5). */
    cfg.history = SR_HISTORY_MEAN;
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 2, v, NULL), SR_OK);
    assert_float_equal(v[0], 3.0, 1e-6);
    assert_float_equal(v[1], 5.0, 1e-6);

    /* Concat at t=2: current (5, 9), mean of earlier ((1+3)/2, (2+4)/2) = (2, 3). */
    cfg.history = SR_HISTORY_CONCAT;
    assert_int_equal(sr_features_dim(&cfg, &ds), 4);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 2, v, NULL), SR_OK);
    assert_float_equal(v[0], 5.0, 0.0);
    assert_float_equal(v[1], 9.0, 0.0);
    assert_float_equal(v[2], 2.0, 1e-6);
    assert_float_equal(v[3], 3.0, 1e-6);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 0, v, NULL), SR_OK);
    assert_float_equal(v[2], 0.0, 0.0);
    assert_float_equal(v[3], 0.0, 0.0);

    /* The text source ignores the embeddings. */
    cfg.history = SR_HISTORY_CURRENT;
    cfg.source = SR_FEATURES_TEXT;
    assert_int_equal(sr_features_dim(&cfg, &ds), TOTAL);
    sr_dataset_free(&ds);
}

static void missing_embedding_is_reported(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_error err;
    sr_features_config cfg = default_config();
    sr_feature_table table;
    float v[TOTAL];
    const float e[2] = {1, 2};

    /* Required embeddings on a text-only set. */
    build_text_dataset(&ds);
    cfg.source = SR_FEATURES_EMBEDDING;
    assert_int_equal(sr_features_dim(&cfg, &ds), -1);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 0, v, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "embedding");
    sr_dataset_free(&ds);

    /* A set with embeddings where one turn lacks its embedding. */
    cfg = default_config();
    sr_dataset_init(&ds);
    assert_int_equal(sr_dataset_add_model(&ds, "m", NAN, NAN, 1.0, false, NULL), SR_OK);
    assert_int_equal(sr_dataset_begin_session(&ds, "gap", NAN, NULL), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, "a", e, 2, NULL, -1, NULL, NULL), SR_OK);
    assert_int_equal(sr_dataset_add_turn(&ds, "b", NULL, 0, NULL, -1, NULL, NULL), SR_OK);
    assert_int_equal(sr_feature_table_build(&cfg, &ds, &table, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "'gap' turn 2"));
    assert_null(table.data);
    assert_int_equal(table.n_rows, 0);
    sr_dataset_free(&ds);
}

static void turn_index_out_of_range(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_features_config cfg = default_config();
    float v[TOTAL];

    build_text_dataset(&ds);
    assert_int_equal(sr_features_turn(&cfg, &ds, 2, 0, v, NULL), SR_ERR_INVALID);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, 3, v, NULL), SR_ERR_INVALID);
    assert_int_equal(sr_features_turn(&cfg, &ds, 0, -1, v, NULL), SR_ERR_INVALID);
    sr_dataset_free(&ds);
}

static void table_rows_follow_global_turns(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_feature_table table;
    float v[2 * TOTAL];
    const sr_history_mode modes[] = {SR_HISTORY_CURRENT, SR_HISTORY_MEAN, SR_HISTORY_CONCAT};

    build_text_dataset(&ds);
    for (size_t m = 0; m < 3; m++) {
        sr_features_config cfg = default_config();
        cfg.history = modes[m];
        assert_int_equal(sr_feature_table_build(&cfg, &ds, &table, NULL), SR_OK);
        assert_int_equal(table.n_rows, 4);
        assert_int_equal(table.dim, sr_features_dim(&cfg, &ds));
        for (size_t i = 0; i < ds.n_sessions; i++) {
            const sr_session *s = &ds.sessions[i];
            for (int t = 0; t < s->n_turns; t++) {
                assert_int_equal(sr_features_turn(&cfg, &ds, i, t, v, NULL), SR_OK);
                const float *row = sr_feature_table_row(&table, s->first_turn + (size_t)t);
                assert_true(blocks_equal(row, v, table.dim));
            }
        }
        /* Session s2's only turn starts fresh: its concat half is zero. */
        if (modes[m] == SR_HISTORY_CONCAT)
            assert_float_equal(sr_feature_table_row(&table, 3)[TOTAL], 0.0, 0.0);
        sr_feature_table_free(&table);
        assert_null(table.data);
    }
    sr_dataset_free(&ds);
}

static void table_of_empty_dataset(void **state)
{
    (void)state;
    sr_dataset ds;
    sr_feature_table table;
    sr_features_config cfg = default_config();

    sr_dataset_init(&ds);
    assert_int_equal(sr_feature_table_build(&cfg, &ds, &table, NULL), SR_OK);
    assert_int_equal(table.n_rows, 0);
    assert_int_equal(table.dim, TOTAL);
    sr_feature_table_free(&table);
    sr_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_matches_reference),
        cmocka_unit_test(defaults_have_documented_width),
        cmocka_unit_test(single_word_matches_reference),
        cmocka_unit_test(two_words_match_reference),
        cmocka_unit_test(same_text_gives_same_vector),
        cmocka_unit_test(seed_changes_buckets),
        cmocka_unit_test(word_permutation_changes_bigrams_only),
        cmocka_unit_test(blocks_have_unit_norm),
        cmocka_unit_test(stats_count_lines_digits_and_code),
        cmocka_unit_test(stats_lines_edge_cases),
        cmocka_unit_test(empty_and_null_text_give_zeros),
        cmocka_unit_test(punctuation_only_text_has_no_ngrams),
        cmocka_unit_test(chinese_matches_reference),
        cmocka_unit_test(emoji_and_combining_marks),
        cmocka_unit_test(invalid_byte_is_one_replacement_unit),
        cmocka_unit_test(malformed_sequences_decode_bytewise),
        cmocka_unit_test(truncated_sequence_never_reads_past_end),
        cmocka_unit_test(huge_text_uses_bounded_prefix),
        cmocka_unit_test(bad_config_is_rejected),
        cmocka_unit_test(history_modes_on_text_session),
        cmocka_unit_test(history_modes_on_embeddings),
        cmocka_unit_test(missing_embedding_is_reported),
        cmocka_unit_test(turn_index_out_of_range),
        cmocka_unit_test(table_rows_follow_global_turns),
        cmocka_unit_test(table_of_empty_dataset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
