/*
 * features.h - the state features φ of a turn: a weight-free text featuriser
 * (feature hashing of word and character n-grams plus length statistics), or
 * the turn's precomputed embedding, with the history options of the MDP.
 *
 * Layout of one text vector (cfg.dim = D buckets per hashed block):
 *
 *   [0, D)          word unigrams, hashed with the sign trick, L2-normalised
 *   [D, 2D)         word bigrams (only when cfg.word_bigrams), L2-normalised
 *   next D          character n-grams of each word, L2-normalised
 *   last 8          length statistics, SR_FEATURES_STAT_* slots below
 *
 * A hashed block whose counts are all zero stays zero.  With an embedding the
 * base vector is the embedding itself.  The history option then maps base
 * vectors to the state features (see sr_history_mode).
 *
 * Feature tables: sr_feature_table_build fills one row per global turn, row j
 * for ds->turns[j], in one contiguous block of n_rows * dim floats.  Later
 * stages (HBR transitions, training, evaluation) refer to a turn's features
 * by that row index and never copy the vector.
 *
 * Thread-safety: every function here is pure given its inputs; concurrent
 * calls are safe as long as no thread modifies the dataset or table read.
 */
#ifndef SEQROUTE_FEATURES_H
#define SEQROUTE_FEATURES_H

#include "seqroute/common.h"
#include "seqroute/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Slots of the length-statistics block, in order. */
enum {
    SR_FEATURES_STAT_LOG_BYTES = 0,   /* log1p(bytes of the whole text) */
    SR_FEATURES_STAT_LOG_WORDS = 1,   /* log1p(words of the whole text) */
    SR_FEATURES_STAT_LOG_LINES = 2,   /* log1p(lines); "" has 0 lines, "a" has 1 */
    SR_FEATURES_STAT_DIGIT_SHARE = 3, /* ASCII digit bytes / bytes */
    SR_FEATURES_STAT_NONASCII_SHARE = 4, /* bytes >= 0x80 / bytes */
    SR_FEATURES_STAT_CODE_FENCE = 5,  /* 1 when the text contains ``` */
    SR_FEATURES_STAT_CODE_SYMBOLS = 6, /* bytes among {}[]();=<> / bytes */
    SR_FEATURES_STAT_TRUNCATED = 7,   /* 1 when n-grams saw only the first max_bytes */
    SR_FEATURES_N_STATS = 8
};

/* Largest accepted bucket count per hashed block (bounds one row's memory). */
#define SR_FEATURES_MAX_DIM 65536

/* Longest accepted character n-gram in code points. */
#define SR_FEATURES_MAX_NGRAM 16

/* Where the base vector of a turn comes from. */
typedef enum sr_features_source {
    /* The embedding when the dataset carries embeddings, else the text. */
    SR_FEATURES_AUTO = 0,
    /* Always the text featuriser, even when embeddings exist. */
    SR_FEATURES_TEXT = 1,
    /* Always the embedding; a dataset without embeddings is an error. */
    SR_FEATURES_EMBEDDING = 2
} sr_features_source;

/* How earlier user turns of the session enter the state features. */
typedef enum sr_history_mode {
    /* φ(t) = base(t).  The default. */
    SR_HISTORY_CURRENT = 0,
    /* φ(t) = mean of base(0..t), the current turn included. */
    SR_HISTORY_MEAN = 1,
    /* φ(t) = [base(t); mean of base(0..t-1)], zeros for t = 0: twice the width. */
    SR_HISTORY_CONCAT = 2
} sr_history_mode;

typedef struct sr_features_config {
    int dim;              /* buckets per hashed block, 1..SR_FEATURES_MAX_DIM */
    int char_ngram_min;   /* shortest character n-gram in code points, >= 1 */
    int char_ngram_max;   /* longest, char_ngram_min..SR_FEATURES_MAX_NGRAM */
    bool word_bigrams;    /* include the word-bigram block */
    size_t max_bytes;     /* prefix of the text that feeds n-grams, > 0 */
    sr_history_mode history;
    sr_features_source source;
    uint64_t seed;        /* mixed into every hash; changing it re-maps buckets */
} sr_features_config;

/*
 * Fills `cfg` with the defaults: dim 256, character 3- to 5-grams, word
 * bigrams on, max_bytes 65536, history SR_HISTORY_CURRENT, source
 * SR_FEATURES_AUTO, seed 0.  docs/FEATURES.md gives the reasons.
 */
void sr_features_config_default(sr_features_config *cfg);

/*
 * Checks `cfg` and returns SR_ERR_INVALID with the offending field named in
 * `err` when a value is out of range.
 */
sr_status sr_features_config_check(const sr_features_config *cfg, sr_error *err);

/* Width of one text vector under `cfg`: hashed blocks plus statistics. */
int sr_features_text_dim(const sr_features_config *cfg);

/*
 * Width of the state features of `ds` under `cfg`, history included: the
 * embedding dimension or the text width, doubled for SR_HISTORY_CONCAT.
 * `ds` may be NULL (text features).  Returns -1 when the configuration is
 * invalid or requests embeddings that `ds` lacks.
 */
int sr_features_dim(const sr_features_config *cfg, const sr_dataset *ds);

/*
 * Featurises `len` bytes of `text` into `out` (sr_features_text_dim floats,
 * overwritten).  The bytes need not be valid UTF-8 or NUL-terminated, and
 * nothing past `len` is read.  NULL text gives the zero vector.  Only the
 * first cfg->max_bytes bytes (cut back to a code-point boundary) feed the
 * n-grams, so the cost is bounded; the statistics scan all `len` bytes.
 * Returns SR_ERR_INVALID for a bad configuration.
 */
sr_status sr_features_text_n(const sr_features_config *cfg, const char *text, size_t len,
                             float *out, sr_error *err);

/* sr_features_text_n on a NUL-terminated string (NULL allowed). */
sr_status sr_features_text(const sr_features_config *cfg, const char *text, float *out,
                           sr_error *err);

/*
 * Computes the state features of turn `t` of session `session_index`, with
 * the history option applied, into `out` (sr_features_dim floats).  Costs
 * O(t) featurisations for the history modes; for many turns build a table.
 * Errors: SR_ERR_INVALID for an index out of range, a bad configuration, or
 * a turn without the embedding that the source requires (the message names
 * the session id and turn); SR_ERR_NOMEM.
 */
sr_status sr_features_turn(const sr_features_config *cfg, const sr_dataset *ds,
                           size_t session_index, int t, float *out, sr_error *err);

/* One feature row per global turn of a dataset. */
typedef struct sr_feature_table {
    size_t n_rows; /* ds->n_turns at build time */
    int dim;       /* floats per row */
    float *data;   /* n_rows * dim floats; row j at data + j * dim */
} sr_feature_table;

/*
 * Builds the feature table of `ds`: row j contains the state features of
 * ds->turns[j], history applied within its session.  On success `table`
 * owns one malloc'd block; release it with sr_feature_table_free.  On
 * failure `table` is left empty.  Errors as sr_features_turn, plus
 * SR_ERR_NOMEM when the block would exceed memory.
 */
sr_status sr_feature_table_build(const sr_features_config *cfg, const sr_dataset *ds,
                                 sr_feature_table *table, sr_error *err);

/* Releases the table's block and empties it; NULL and empty tables are fine. */
void sr_feature_table_free(sr_feature_table *table);

/* Row j of the table (no bounds check). */
static inline const float *sr_feature_table_row(const sr_feature_table *table, size_t row)
{
    return table->data + row * (size_t)table->dim;
}

/*
 * The hash under the featuriser: FNV-1a 64 over `len` bytes, then XOR with
 * `seed` and the murmur3 64-bit finaliser.  Exposed for tests and tools that
 * must reproduce a bucket: bucket = h % dim, sign = +1 when bit 63 of h is
 * 0, else -1.  The featuriser prefixes each n-gram with a one-byte block tag
 * ('u' unigram, 'b' bigram, 'c' character n-gram).
 */
uint64_t sr_features_hash(const void *data, size_t len, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_FEATURES_H */
