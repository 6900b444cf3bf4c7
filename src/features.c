/*
 * features.c - the weight-free text featuriser and the history options.
 *
 * Design.  A turn's text becomes a fixed-width vector without any learned
 * weights, so a policy can be trained on data that has no embeddings:
 *
 *  1. Decode UTF-8 one code point at a time.  Every byte that does not start
 *     a valid sequence (overlong forms, surrogates, values above U+10FFFF,
 *     truncated sequences, stray continuation bytes) becomes one U+FFFD unit
 *     and consumes exactly one byte, so decoding always advances and never
 *     reads past the given length.
 *  2. Normalise: ASCII letters are lower-cased; every other code point is
 *     kept as is.  A word is a maximal run of ASCII letters and digits and
 *     non-ASCII code points (U+FFFD included).  Everything else separates.
 *  3. Hash word unigrams, word bigrams and the character n-grams of each
 *     word padded as "<word>" (the markers let prefixes and suffixes differ
 *     from inner n-grams) into cfg->dim buckets per block, adding +1 or -1
 *     by one hash bit (the sign trick keeps collisions unbiased: colliding
 *     features cancel in expectation instead of piling up).
 *  4. L2-normalise each block separately, so long and short texts and the
 *     three n-gram kinds weigh alike, then append the length statistics.
 *
 * Word-internal character n-grams make the unigram and character blocks
 * invariant under permutations of the words; only the bigram block sees
 * word order.  Punctuation and layout enter through the statistics.
 *
 * Cost.  Steps 1-3 run on the first max_bytes bytes only, cut back to a
 * code-point boundary, and use no heap memory; the statistics are one
 * byte-level pass over the full length.  Hashing consumes bytes as they are
 * decoded, with three running FNV-1a states per word (unigram, bigram, and
 * the prefix of the next bigram) and a ring of the last code points for the
 * character n-grams.
 *
 * Determinism.  Hashes are integer arithmetic; counts are small integers,
 * exact in float; the norm uses sqrt, which IEEE 754 rounds correctly.  Only
 * the log1p statistics depend on the C library and may differ in the last
 * bit between platforms.
 */
#include "seqroute/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Default buckets per hashed block; docs/FEATURES.md explains the choice. */
#define DEFAULT_DIM 256

/* Default prefix that feeds the n-grams: 64 KiB, about 16k tokens of text. */
#define DEFAULT_MAX_BYTES 65536

/* FNV-1a 64-bit parameters (Fowler, Noll, Vo). */
#define FNV_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* U+FFFD REPLACEMENT CHARACTER, the unit an invalid byte decodes to. */
#define REPLACEMENT_CHARACTER 0xfffdu

void sr_features_config_default(sr_features_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->dim = DEFAULT_DIM;
    cfg->char_ngram_min = 3;
    cfg->char_ngram_max = 5;
    cfg->word_bigrams = true;
    cfg->max_bytes = DEFAULT_MAX_BYTES;
    cfg->history = SR_HISTORY_CURRENT;
    cfg->source = SR_FEATURES_AUTO;
    cfg->seed = 0;
}

sr_status sr_features_config_check(const sr_features_config *cfg, sr_error *err)
{
    if (cfg == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "feature configuration is NULL");
    if (cfg->dim < 1 || cfg->dim > SR_FEATURES_MAX_DIM)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "dim",
                            "feature dim %d is outside 1..%d", cfg->dim, SR_FEATURES_MAX_DIM);
    if (cfg->char_ngram_min < 1 || cfg->char_ngram_max < cfg->char_ngram_min ||
        cfg->char_ngram_max > SR_FEATURES_MAX_NGRAM)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "char_ngram",
                            "character n-gram range %d..%d is invalid; use 1 <= min <= max "
                            "<= %d",
                            cfg->char_ngram_min, cfg->char_ngram_max, SR_FEATURES_MAX_NGRAM);
    if (cfg->max_bytes == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_bytes",
                            "max_bytes is 0; give a positive byte count");
    if (cfg->history != SR_HISTORY_CURRENT && cfg->history != SR_HISTORY_MEAN &&
        cfg->history != SR_HISTORY_CONCAT)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "history",
                            "unknown history mode %d", (int)cfg->history);
    if (cfg->source != SR_FEATURES_AUTO && cfg->source != SR_FEATURES_TEXT &&
        cfg->source != SR_FEATURES_EMBEDDING)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "source",
                            "unknown feature source %d", (int)cfg->source);
    return SR_OK;
}

int sr_features_text_dim(const sr_features_config *cfg)
{
    int blocks = cfg->word_bigrams ? 3 : 2;
    return blocks * cfg->dim + SR_FEATURES_N_STATS;
}

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t fnv_byte(uint64_t h, unsigned char byte)
{
    return (h ^ byte) * FNV_PRIME;
}

static uint64_t fnv_bytes(uint64_t h, const unsigned char *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = fnv_byte(h, bytes[i]);
    return h;
}

/* murmur3's fmix64: spreads FNV's weak low bits over the whole word. */
static uint64_t finish_hash(uint64_t h, uint64_t seed)
{
    h ^= seed;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t sr_features_hash(const void *data, size_t len, uint64_t seed)
{
    return finish_hash(fnv_bytes(FNV_OFFSET_BASIS, data, len), seed);
}

/* Adds the signed count of one hashed feature to a block. */
static inline void add_hashed(float *block, int dim, uint64_t h)
{
    size_t bucket = (size_t)(h % (uint64_t)dim);
    block[bucket] += (h >> 63) ? -1.0f : 1.0f;
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/* One decoded unit: the code point and its UTF-8 bytes as hashed. */
typedef struct code_unit {
    uint32_t cp;
    unsigned char bytes[4];
    unsigned char n_bytes;  /* bytes of the normalised encoding, 1..4 */
} code_unit;

static inline bool is_continuation(unsigned char b)
{
    return (b & 0xc0) == 0x80;
}

/*
 * Decodes the unit at s[pos] (pos < len) and returns the input bytes it
 * consumes.  An invalid byte yields U+FFFD and consumes 1 byte.
 */
static size_t decode_unit(const unsigned char *s, size_t len, size_t pos, code_unit *unit)
{
    unsigned char b0 = s[pos];
    size_t avail = len - pos;
    uint32_t cp = REPLACEMENT_CHARACTER;
    size_t used = 1;

    if (b0 < 0x80) {
        cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
        if (avail >= 2 && is_continuation(s[pos + 1])) {
            cp = ((uint32_t)(b0 & 0x1f) << 6) | (s[pos + 1] & 0x3f);
            used = 2;
        }
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        /* E0 needs A0..BF (no overlongs), ED needs 80..9F (no surrogates). */
        unsigned char lo = b0 == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = b0 == 0xed ? 0x9f : 0xbf;
        if (avail >= 3 && s[pos + 1] >= lo && s[pos + 1] <= hi && is_continuation(s[pos + 2])) {
            cp = ((uint32_t)(b0 & 0x0f) << 12) | ((uint32_t)(s[pos + 1] & 0x3f) << 6) |
                 (s[pos + 2] & 0x3f);
            used = 3;
        }
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        /* F0 needs 90..BF (no overlongs), F4 needs 80..8F (max U+10FFFF). */
        unsigned char lo = b0 == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = b0 == 0xf4 ? 0x8f : 0xbf;
        if (avail >= 4 && s[pos + 1] >= lo && s[pos + 1] <= hi && is_continuation(s[pos + 2]) &&
            is_continuation(s[pos + 3])) {
            cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[pos + 1] & 0x3f) << 12) |
                 ((uint32_t)(s[pos + 2] & 0x3f) << 6) | (s[pos + 3] & 0x3f);
            used = 4;
        }
    }

    /* Normalise and re-encode: lower-case ASCII, keep the rest. */
    if (cp >= 'A' && cp <= 'Z')
        cp += 'a' - 'A';
    unit->cp = cp;
    if (cp < 0x80) {
        unit->bytes[0] = (unsigned char)cp;
        unit->n_bytes = 1;
    } else if (used > 1) {
        memcpy(unit->bytes, s + pos, used);
        unit->n_bytes = (unsigned char)used;
    } else {
        unit->bytes[0] = 0xef; /* U+FFFD in UTF-8 */
        unit->bytes[1] = 0xbf;
        unit->bytes[2] = 0xbd;
        unit->n_bytes = 3;
    }
    return used;
}

static inline bool is_word_unit(uint32_t cp)
{
    return cp >= 0x80 || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z');
}

/* ---- n-gram extraction ------------------------------------------------------ */

/* Running state of the n-gram pass over one text. */
typedef struct ngram_state {
    const sr_features_config *cfg;
    float *unigrams;
    float *bigrams; /* NULL when bigrams are off */
    float *chars;

    bool in_word;
    bool have_previous;   /* a previous word exists for the next bigram */
    uint64_t unigram_fnv; /* 'u' + current word bytes */
    uint64_t bigram_fnv;  /* 'b' + previous word + ' ' + current word bytes */
    uint64_t next_prefix; /* 'b' + current word bytes: the next bigram's start */

    /* Ring of the last SR_FEATURES_MAX_NGRAM units of the padded word. */
    code_unit ring[SR_FEATURES_MAX_NGRAM];
    size_t ring_count; /* units pushed since the word started, markers included */
} ngram_state;

/* Pushes one unit of the padded word and hashes the n-grams ending at it. */
static void push_char(ngram_state *st, const code_unit *unit)
{
    const int n_min = st->cfg->char_ngram_min;
    const int n_max = st->cfg->char_ngram_max;

    st->ring[st->ring_count % SR_FEATURES_MAX_NGRAM] = *unit;
    st->ring_count++;

    /* The n-gram of length n ends at the newest unit and starts n-1 before. */
    for (int n = n_min; n <= n_max && (size_t)n <= st->ring_count; n++) {
        uint64_t h = fnv_byte(FNV_OFFSET_BASIS, 'c');
        for (int i = n; i >= 1; i--) {
            const code_unit *u = &st->ring[(st->ring_count - (size_t)i) % SR_FEATURES_MAX_NGRAM];
            h = fnv_bytes(h, u->bytes, u->n_bytes);
        }
        add_hashed(st->chars, st->cfg->dim, finish_hash(h, st->cfg->seed));
    }
}

static void begin_word(ngram_state *st)
{
    static const code_unit start_marker = {.cp = '<', .bytes = {'<'}, .n_bytes = 1};

    st->in_word = true;
    st->unigram_fnv = fnv_byte(FNV_OFFSET_BASIS, 'u');
    st->next_prefix = fnv_byte(FNV_OFFSET_BASIS, 'b');
    st->ring_count = 0;
    push_char(st, &start_marker);
}

static void extend_word(ngram_state *st, const code_unit *unit)
{
    st->unigram_fnv = fnv_bytes(st->unigram_fnv, unit->bytes, unit->n_bytes);
    st->bigram_fnv = fnv_bytes(st->bigram_fnv, unit->bytes, unit->n_bytes);
    st->next_prefix = fnv_bytes(st->next_prefix, unit->bytes, unit->n_bytes);
    push_char(st, unit);
}

static void end_word(ngram_state *st)
{
    static const code_unit end_marker = {.cp = '>', .bytes = {'>'}, .n_bytes = 1};
    const uint64_t seed = st->cfg->seed;

    push_char(st, &end_marker);
    add_hashed(st->unigrams, st->cfg->dim, finish_hash(st->unigram_fnv, seed));
    if (st->bigrams != NULL && st->have_previous)
        add_hashed(st->bigrams, st->cfg->dim, finish_hash(st->bigram_fnv, seed));

    /* The next word's bigram starts as 'b' + this word + ' '. */
    st->bigram_fnv = fnv_byte(st->next_prefix, ' ');
    st->have_previous = true;
    st->in_word = false;
}

/* Hashes the n-grams of the first units of `s` that fit in `limit` bytes. */
static void hash_ngrams(ngram_state *st, const unsigned char *s, size_t len, size_t limit)
{
    size_t pos = 0;

    while (pos < len) {
        code_unit unit;
        size_t used = decode_unit(s, len, pos, &unit);
        if (pos + used > limit)
            break;
        pos += used;

        if (is_word_unit(unit.cp)) {
            if (!st->in_word)
                begin_word(st);
            extend_word(st, &unit);
        } else if (st->in_word) {
            end_word(st);
        }
    }
    if (st->in_word)
        end_word(st);
}

/* Scales a block to unit L2 norm; an all-zero block stays zero. */
static void normalise_block(float *block, int dim)
{
    double sum = 0.0;
    for (int i = 0; i < dim; i++)
        sum += (double)block[i] * (double)block[i];
    if (sum == 0.0)
        return;
    double norm = sqrt(sum);
    for (int i = 0; i < dim; i++)
        block[i] = (float)((double)block[i] / norm);
}

/* ---- length statistics ------------------------------------------------------ */

/* Bytes counted by SR_FEATURES_STAT_CODE_SYMBOLS. */
static inline bool is_code_symbol(unsigned char b)
{
    switch (b) {
    case '{': case '}': case '[': case ']': case '(': case ')':
    case ';': case '=': case '<': case '>':
        return true;
    default:
        return false;
    }
}

/* One byte-level pass over the whole text; see the SR_FEATURES_STAT_* slots. */
static void compute_stats(const unsigned char *s, size_t len, bool truncated, float *stats)
{
    size_t words = 0;
    size_t newlines = 0;
    size_t digits = 0;
    size_t non_ascii = 0;
    size_t code_symbols = 0;
    size_t backtick_run = 0;
    bool fence = false;
    bool in_word = false;

    for (size_t i = 0; i < len; i++) {
        unsigned char b = s[i];
        bool digit = b >= '0' && b <= '9';
        bool word = b >= 0x80 || digit || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');

        words += word && !in_word;
        in_word = word;
        newlines += b == '\n';
        digits += digit;
        non_ascii += b >= 0x80;
        code_symbols += is_code_symbol(b);
        backtick_run = b == '`' ? backtick_run + 1 : 0;
        fence = fence || backtick_run >= 3;
    }

    /* A final line without '\n' still counts as a line. */
    size_t lines = newlines + (len > 0 && s[len - 1] != '\n');
    double bytes = (double)len;

    memset(stats, 0, SR_FEATURES_N_STATS * sizeof(float));
    stats[SR_FEATURES_STAT_LOG_BYTES] = (float)log1p(bytes);
    stats[SR_FEATURES_STAT_LOG_WORDS] = (float)log1p((double)words);
    stats[SR_FEATURES_STAT_LOG_LINES] = (float)log1p((double)lines);
    if (len > 0) {
        stats[SR_FEATURES_STAT_DIGIT_SHARE] = (float)((double)digits / bytes);
        stats[SR_FEATURES_STAT_NONASCII_SHARE] = (float)((double)non_ascii / bytes);
        stats[SR_FEATURES_STAT_CODE_SYMBOLS] = (float)((double)code_symbols / bytes);
    }
    stats[SR_FEATURES_STAT_CODE_FENCE] = fence ? 1.0f : 0.0f;
    stats[SR_FEATURES_STAT_TRUNCATED] = truncated ? 1.0f : 0.0f;
}

/* ---- text features ------------------------------------------------------------ */

/* sr_features_text_n without the configuration check. */
static void featurise_text(const sr_features_config *cfg, const char *text, size_t len,
                           float *out)
{
    const int dim = cfg->dim;
    const int total = sr_features_text_dim(cfg);

    memset(out, 0, (size_t)total * sizeof(float));
    if (text == NULL)
        return;

    ngram_state st = {.cfg = cfg};
    st.unigrams = out;
    st.bigrams = cfg->word_bigrams ? out + dim : NULL;
    st.chars = out + (cfg->word_bigrams ? 2 : 1) * dim;

    const unsigned char *s = (const unsigned char *)text;
    size_t limit = len < cfg->max_bytes ? len : cfg->max_bytes;
    hash_ngrams(&st, s, len, limit);

    normalise_block(st.unigrams, dim);
    if (st.bigrams != NULL)
        normalise_block(st.bigrams, dim);
    normalise_block(st.chars, dim);

    compute_stats(s, len, len > cfg->max_bytes, out + total - SR_FEATURES_N_STATS);
}

sr_status sr_features_text_n(const sr_features_config *cfg, const char *text, size_t len,
                             float *out, sr_error *err)
{
    sr_status status = sr_features_config_check(cfg, err);
    if (status != SR_OK)
        return status;
    featurise_text(cfg, text, len, out);
    return SR_OK;
}

sr_status sr_features_text(const sr_features_config *cfg, const char *text, float *out,
                           sr_error *err)
{
    return sr_features_text_n(cfg, text, text ? strlen(text) : 0, out, err);
}

/* ---- turns, history and tables ------------------------------------------------ */

/*
 * Decides whether base vectors of `ds` come from embeddings and sets their
 * width; fails when embeddings are required but absent.
 */
static sr_status resolve_source(const sr_features_config *cfg, const sr_dataset *ds,
                                bool *use_embedding, int *base_dim, sr_error *err)
{
    sr_status status = sr_features_config_check(cfg, err);
    if (status != SR_OK)
        return status;

    int embedding_dim = ds != NULL ? ds->catalogue.embedding_dim : 0;
    if (cfg->source == SR_FEATURES_EMBEDDING && embedding_dim <= 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "embedding",
                            "features from embeddings were requested but the data set has "
                            "none; use text features or add embeddings");
    *use_embedding = cfg->source != SR_FEATURES_TEXT && embedding_dim > 0;
    *base_dim = *use_embedding ? embedding_dim : sr_features_text_dim(cfg);
    return SR_OK;
}

int sr_features_dim(const sr_features_config *cfg, const sr_dataset *ds)
{
    bool use_embedding = false;
    int base_dim = 0;
    if (resolve_source(cfg, ds, &use_embedding, &base_dim, NULL) != SR_OK)
        return -1;
    return cfg->history == SR_HISTORY_CONCAT ? 2 * base_dim : base_dim;
}

/* Writes the base vector of turn t of session `s` into `out`. */
static sr_status base_features(const sr_features_config *cfg, const sr_dataset *ds,
                               const sr_session *s, int t, bool use_embedding, int base_dim,
                               float *out, sr_error *err)
{
    const sr_turn *turn = sr_session_turn(ds, s, t);

    if (!use_embedding) {
        featurise_text(cfg, turn->text, turn->text ? strlen(turn->text) : 0, out);
        return SR_OK;
    }
    if (turn->embedding == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "embedding",
                            "session '%s' turn %d has no embedding but the data set uses "
                            "embeddings; give every turn one or use text features",
                            s->id, t + 1);
    memcpy(out, turn->embedding, (size_t)base_dim * sizeof(float));
    return SR_OK;
}

/*
 * Walks turns 0..last of session `s`, computing base vectors into `base`
 * and history rows with `sum` (base_dim doubles) as the running total.
 * When `rows` is non-NULL, row t of the session goes to rows + t * dim;
 * otherwise only the row of turn `last` is written, to `last_row`.
 */
static sr_status session_rows(const sr_features_config *cfg, const sr_dataset *ds,
                              const sr_session *s, int last, bool use_embedding, int base_dim,
                              float *base, double *sum, float *rows, float *last_row,
                              sr_error *err)
{
    const int dim = cfg->history == SR_HISTORY_CONCAT ? 2 * base_dim : base_dim;

    for (int i = 0; i < base_dim; i++)
        sum[i] = 0.0;

    for (int t = 0; t <= last; t++) {
        float *row = rows != NULL ? rows + (size_t)t * (size_t)dim : last_row;
        bool emit = rows != NULL || t == last;

        /* The current-only mode needs no earlier turns. */
        if (cfg->history == SR_HISTORY_CURRENT && !emit)
            continue;
        sr_status status =
            base_features(cfg, ds, s, t, use_embedding, base_dim, base, err);
        if (status != SR_OK)
            return status;

        switch (cfg->history) {
        case SR_HISTORY_CURRENT:
            memcpy(row, base, (size_t)base_dim * sizeof(float));
            break;
        case SR_HISTORY_MEAN:
            for (int i = 0; i < base_dim; i++)
                sum[i] += (double)base[i];
            if (emit)
                for (int i = 0; i < base_dim; i++)
                    row[i] = (float)(sum[i] / (double)(t + 1));
            break;
        case SR_HISTORY_CONCAT:
            if (emit) {
                memcpy(row, base, (size_t)base_dim * sizeof(float));
                for (int i = 0; i < base_dim; i++)
                    row[base_dim + i] = t == 0 ? 0.0f : (float)(sum[i] / (double)t);
            }
            for (int i = 0; i < base_dim; i++)
                sum[i] += (double)base[i];
            break;
        }
    }
    return SR_OK;
}

sr_status sr_features_turn(const sr_features_config *cfg, const sr_dataset *ds,
                           size_t session_index, int t, float *out, sr_error *err)
{
    bool use_embedding = false;
    int base_dim = 0;

    if (ds == NULL || session_index >= ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "session index %zu is out of range", session_index);
    const sr_session *s = &ds->sessions[session_index];
    if (t < 0 || t >= s->n_turns)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "turn %d of session '%s' is out of range 0..%d", t, s->id,
                            s->n_turns - 1);
    sr_status status = resolve_source(cfg, ds, &use_embedding, &base_dim, err);
    if (status != SR_OK)
        return status;

    float *base = malloc((size_t)base_dim * sizeof(float));
    double *sum = malloc((size_t)base_dim * sizeof(double));
    if (base == NULL || sum == NULL) {
        free(base);
        free(sum);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    status = session_rows(cfg, ds, s, t, use_embedding, base_dim, base, sum, NULL, out, err);
    free(base);
    free(sum);
    return status;
}

sr_status sr_feature_table_build(const sr_features_config *cfg, const sr_dataset *ds,
                                 sr_feature_table *table, sr_error *err)
{
    bool use_embedding = false;
    int base_dim = 0;

    memset(table, 0, sizeof(*table));
    if (ds == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "data set is NULL");
    sr_status status = resolve_source(cfg, ds, &use_embedding, &base_dim, err);
    if (status != SR_OK)
        return status;
    const int dim = cfg->history == SR_HISTORY_CONCAT ? 2 * base_dim : base_dim;

    /* One block for all rows; reject sizes whose byte count overflows. */
    if (ds->n_turns > SIZE_MAX / sizeof(float) / (size_t)dim)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "feature table of %zu rows x %d floats is too large", ds->n_turns,
                            dim);
    float *data = malloc(ds->n_turns * (size_t)dim * sizeof(float) + 1);
    float *base = malloc((size_t)base_dim * sizeof(float));
    double *sum = malloc((size_t)base_dim * sizeof(double));
    if (data == NULL || base == NULL || sum == NULL) {
        status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                              "out of memory for a feature table of %zu rows x %d floats",
                              ds->n_turns, dim);
        goto out;
    }

    /* Sessions own disjoint, consecutive turn ranges, so rows follow turns. */
    for (size_t i = 0; i < ds->n_sessions && status == SR_OK; i++) {
        const sr_session *s = &ds->sessions[i];
        if (s->n_turns == 0)
            continue;
        float *rows = data + s->first_turn * (size_t)dim;
        status = session_rows(cfg, ds, s, s->n_turns - 1, use_embedding, base_dim, base, sum,
                              rows, NULL, err);
    }
    if (status == SR_OK) {
        table->n_rows = ds->n_turns;
        table->dim = dim;
        table->data = data;
        data = NULL;
    }

out:
    free(data);
    free(base);
    free(sum);
    return status;
}

void sr_feature_table_free(sr_feature_table *table)
{
    if (table == NULL)
        return;
    free(table->data);
    memset(table, 0, sizeof(*table));
}
