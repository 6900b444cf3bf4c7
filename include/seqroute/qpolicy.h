/*
 * qpolicy.h - learned routing policies: the policy file, decisions with the
 * budget mask and the λ rule, and the adapter that runs a learned policy in
 * the simulator (seqroute/policy.h).
 *
 * A policy file alone reproduces decisions.  It holds the Q-network (config
 * and weights), the feature configuration, the per-feature normalisation,
 * the state-encoder configuration (B_ref, T_ref, options), the catalogue
 * with each model's mean cost per turn ĉ(a) and mean quality from the
 * training data, and the training settings as JSON text.  The byte layout is
 * in docs/POLICY_FILE.md: a 32-byte header (magic, version, section count,
 * payload length, CRC-32), then tagged sections with their lengths, every
 * number little-endian and fixed-width.
 *
 * Decision rule for a state s with remaining budget b and trade-off λ:
 *
 *   score(a) = Q(s, a) - λ · ĉ(a) / ĉ_max        ĉ_max = max_a ĉ(a)
 *              (post-hoc rule: CQL, DQN, the myopic router)
 *   score(a) = Q(s, λ, a)                       (λ-conditioned Q: λ is an
 *              input and the cost is already in the learned return)
 *   mask(a)  = ĉ(a) > b                          (unaffordable by estimate)
 *   choice   = argmax of score over unmasked a   (lowest index on ties)
 *
 * The cost term is in units of one call of the most expensive model, so λ
 * is the quality (on the [0, 1] scale, the unit of Q) that such a call must
 * buy to be worth making, and λ values compare across data sets whatever
 * their cost unit or budget levels.  λ = 0 is the pure Q policy.  When the
 * unmasked argmax is masked the decision degrades to the best affordable
 * model; when every model is masked it says so and names the model with the
 * lowest ĉ, the call that is least likely to overspend.
 *
 * The myopic router (algo "myopic") is a budget-blind per-turn quality
 * predictor q̂(φ, a) in the same file format: its state has no budget
 * entry (SR_STATE_NO_BUDGET) and its outputs estimate one turn's quality,
 * so the same rule and mask apply with Q replaced by q̂.
 *
 * Thread-safety: a loaded sr_qpolicy is read-only except for the network's
 * workspace and one scratch state vector, so decisions on one sr_qpolicy
 * must not run concurrently; load one per thread.
 */
#ifndef SEQROUTE_QPOLICY_H
#define SEQROUTE_QPOLICY_H

#include "seqroute/common.h"
#include "seqroute/cql.h"
#include "seqroute/dataset.h"
#include "seqroute/features.h"
#include "seqroute/nn.h"
#include "seqroute/policy.h"
#include "seqroute/state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The eight bytes every policy file starts with. */
#define SR_QPOLICY_MAGIC "SRPOLICY"
/*
 * Format version this build writes; it reads versions 1 .. this.  Version 2
 * added λ_max to STAT, the state bits SR_STATE_NO_BUDGET and
 * SR_STATE_LAMBDA, and the myopic algorithm.
 */
#define SR_QPOLICY_FORMAT_VERSION 2

/*
 * The myopic router's algorithm value in the policy file and in
 * sr_qpolicy.algo / sr_train_config.algo.  sr_cql_algo (seqroute/cql.h)
 * has no enumerator for it because no CQL update is myopic-specific: the
 * router trains as a one-step regression through the DQN update.
 */
#define SR_QPOLICY_ALGO_MYOPIC_VALUE 3
#define SR_QPOLICY_ALGO_MYOPIC ((sr_cql_algo)SR_QPOLICY_ALGO_MYOPIC_VALUE)
/* Bytes of the fixed header before the sections. */
#define SR_QPOLICY_HEADER_BYTES 32
/* Largest policy file accepted: bounds what a corrupt length can claim (1 GiB). */
#define SR_QPOLICY_MAX_BYTES (1ull << 30)

/* Section tags: four ASCII bytes read as a little-endian u32. */
#define SR_QPOLICY_TAG(a, b, c, d)                                                               \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define SR_QPOLICY_TAG_CATALOGUE SR_QPOLICY_TAG('C', 'A', 'T', 'L')
#define SR_QPOLICY_TAG_FEATURES SR_QPOLICY_TAG('F', 'E', 'A', 'T')
#define SR_QPOLICY_TAG_NORMALISE SR_QPOLICY_TAG('N', 'O', 'R', 'M')
#define SR_QPOLICY_TAG_STATE SR_QPOLICY_TAG('S', 'T', 'A', 'T')
#define SR_QPOLICY_TAG_NETWORK SR_QPOLICY_TAG('N', 'E', 'T', 'W')
#define SR_QPOLICY_TAG_SETTINGS SR_QPOLICY_TAG('J', 'S', 'O', 'N')

/* Section flag: a reader that does not know the tag must reject the file. */
#define SR_QPOLICY_SECTION_REQUIRED 1u

/* Default λ grid of `seqroute eval --sweep`, in units of one most-expensive call. */
#define SR_QPOLICY_SWEEP_LAMBDAS {0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0}
#define SR_QPOLICY_SWEEP_N 9

/* One catalogue entry of a policy, with the estimates decisions use. */
typedef struct sr_qpolicy_model {
    char name[SR_MAX_NAME_BYTES + 1];
    double input_price; /* as in sr_model; NAN when not given */
    double output_price;
    double cost_per_call;
    bool fallback;
    double mean_cost;    /* ĉ(a): mean cost per turn in the training data */
    double mean_quality; /* mean quality per turn in the training data */
} sr_qpolicy_model;

/* A section the loader did not interpret (for example a training checkpoint). */
typedef struct sr_qpolicy_section {
    uint32_t tag;
    uint32_t flags;
    uint8_t *data; /* owned by the policy */
    uint64_t size;
} sr_qpolicy_section;

/* Most extra sections kept by the loader. */
#define SR_QPOLICY_MAX_EXTRA 16

/*
 * A learned policy.  Fields are read-only for callers once the policy is
 * built.  `models` is indexed by Q-network output.
 */
typedef struct sr_qpolicy {
    char path[512];    /* file it was loaded from; "" when built in memory */
    sr_cql_algo algo;  /* algorithm that trained it */
    int n_models;      /* K, the network's outputs */
    sr_qpolicy_model *models; /* [K] */
    char cost_unit[64];
    double max_mean_cost; /* ĉ_max, the unit of the λ cost term */

    sr_features_config features; /* source is TEXT or EMBEDDING, never AUTO */
    int embedding_dim;           /* with EMBEDDING: the width each turn must have */
    float *norm_shift;           /* [F] or NULL: no normalisation */
    float *norm_scale;           /* [F] or NULL */
    sr_state_config state;       /* state.feature_dim is F */

    sr_mlp *net;   /* input sr_state_dim(&state), K outputs */
    bool owns_net; /* false when the network is borrowed (a learner's, during training) */
    char *settings_json; /* training settings, NUL-terminated JSON text, or NULL */

    float *state_buffer; /* [sr_state_dim] scratch of decisions */
    sr_qpolicy_section extra[SR_QPOLICY_MAX_EXTRA];
    int n_extra;
} sr_qpolicy;

/* How a decision came out. */
typedef enum sr_decision_kind {
    SR_DECISION_CHOSEN = 0,         /* the rule's argmax is affordable */
    SR_DECISION_DEGRADED = 1,       /* the argmax was masked; the best affordable model instead */
    SR_DECISION_NONE_AFFORDABLE = 2 /* every model is masked; `model` is the lowest ĉ */
} sr_decision_kind;

/* One explained decision, indexed by policy model. */
typedef struct sr_decision {
    int model;             /* the model to call */
    int preferred;         /* argmax of the λ rule before the mask */
    sr_decision_kind kind;
    double lambda;
    double budget;
    int n_models;
    float q[SR_MAX_MODELS];     /* Q(s, a), or Q(s, λ, a) when λ-conditioned */
    double score[SR_MAX_MODELS]; /* Q(s, a) - λ ĉ(a) / ĉ_max, or Q(s, λ, a) */
    bool masked[SR_MAX_MODELS]; /* ĉ(a) > budget */
} sr_decision;

/* ---- building, saving, loading --------------------------------------------------- */

/*
 * Allocates an empty policy with room for `n_models` models and the scratch
 * state vector of `state`; the caller then fills models, features,
 * normalisation (optional, F floats each through sr_qpolicy_set_norm) and
 * attaches a network with sr_qpolicy_attach_net.  Errors: SR_ERR_INVALID
 * for a bad model count or state config, SR_ERR_NOMEM.
 */
sr_status sr_qpolicy_new(int n_models, const sr_state_config *state, sr_qpolicy **out,
                         sr_error *err);

/* Copies F shift and scale values into the policy (allocating them once). */
sr_status sr_qpolicy_set_norm(sr_qpolicy *policy, const float *shift, const float *scale,
                              sr_error *err);

/*
 * Attaches `net`, owned by the policy when `owns` (freed with it) or
 * borrowed.  Checks that its input width is sr_state_dim and its output
 * width K.  Also computes max_mean_cost from the models.
 */
sr_status sr_qpolicy_attach_net(sr_qpolicy *policy, sr_mlp *net, bool owns, sr_error *err);

/* Replaces the settings JSON text (copied; NULL clears it). */
sr_status sr_qpolicy_set_settings(sr_qpolicy *policy, const char *json, sr_error *err);

/* Releases the policy and everything it owns; NULL is a no-op. */
void sr_qpolicy_free(sr_qpolicy *policy);

/* An extra section to write after the policy's own (see sr_qpolicy_save). */
typedef struct sr_qpolicy_blob {
    uint32_t tag;
    uint32_t flags;
    const void *data;
    uint64_t size;
} sr_qpolicy_blob;

/*
 * Writes the policy and `n_blobs` extra sections to `path`, atomically: a
 * temporary file in the same folder is written, flushed and renamed over
 * `path`.  Errors: SR_ERR_INVALID for an incomplete policy, SR_ERR_IO,
 * SR_ERR_NOMEM.
 */
sr_status sr_qpolicy_save(const sr_qpolicy *policy, const sr_qpolicy_blob *blobs, int n_blobs,
                          const char *path, sr_error *err);

/* Serialises as sr_qpolicy_save does into a malloc'd buffer the caller frees. */
sr_status sr_qpolicy_serialise(const sr_qpolicy *policy, const sr_qpolicy_blob *blobs,
                               int n_blobs, uint8_t **data, size_t *size, sr_error *err);

/*
 * Reads a policy file.  Every failure names the file and what is wrong:
 * SR_ERR_IO when it cannot be read; SR_ERR_INVALID when it is not a policy
 * file (wrong magic), comes from a newer format version, is truncated or
 * has trailing bytes, fails its CRC-32 (corrupt), or holds inconsistent
 * sections; SR_ERR_NOMEM.  Unknown optional sections are kept in `extra`.
 */
sr_status sr_qpolicy_load(const char *path, sr_qpolicy **out, sr_error *err);

/* sr_qpolicy_load on bytes in memory; `name` stands for the file in messages. */
sr_status sr_qpolicy_load_buffer(const uint8_t *data, size_t size, const char *name,
                                 sr_qpolicy **out, sr_error *err);

/* The extra section with `tag`, or NULL. */
const sr_qpolicy_section *sr_qpolicy_find_section(const sr_qpolicy *policy, uint32_t tag);

/* Returns "cql", "dqn", "bc" or "myopic" ("unknown" for other values). */
const char *sr_qpolicy_algo_name(sr_cql_algo algo);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of `size` bytes, continuing from `crc`. */
uint32_t sr_crc32(uint32_t crc, const void *data, size_t size);

/* ---- little-endian byte buffers, for sections that other modules add ---------- */

/* A growable output buffer; after a failed allocation `failed` stays true. */
typedef struct sr_bytes_writer {
    uint8_t *data;
    size_t size;
    size_t capacity;
    bool failed;
} sr_bytes_writer;

void sr_bytes_put(sr_bytes_writer *writer, const void *data, size_t size);
void sr_bytes_put_u8(sr_bytes_writer *writer, uint8_t value);
void sr_bytes_put_u32(sr_bytes_writer *writer, uint32_t value);
void sr_bytes_put_u64(sr_bytes_writer *writer, uint64_t value);
void sr_bytes_put_f32(sr_bytes_writer *writer, float value);
void sr_bytes_put_f64(sr_bytes_writer *writer, double value);
/* Writes `count` floats, each as sr_bytes_put_f32. */
void sr_bytes_put_f32_array(sr_bytes_writer *writer, const float *values, size_t count);
void sr_bytes_writer_free(sr_bytes_writer *writer);

/* A bounds-checked input cursor; reading past the end sets `failed` and yields zeros. */
typedef struct sr_bytes_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
    bool failed;
} sr_bytes_reader;

bool sr_bytes_get(sr_bytes_reader *reader, void *out, size_t size);
uint8_t sr_bytes_get_u8(sr_bytes_reader *reader);
uint32_t sr_bytes_get_u32(sr_bytes_reader *reader);
uint64_t sr_bytes_get_u64(sr_bytes_reader *reader);
float sr_bytes_get_f32(sr_bytes_reader *reader);
double sr_bytes_get_f64(sr_bytes_reader *reader);
/* Reads `count` floats; false (and `failed`) when fewer bytes remain. */
bool sr_bytes_get_f32_array(sr_bytes_reader *reader, float *values, size_t count);

/* ---- decisions ----------------------------------------------------------------- */

/*
 * Decides for one state: encodes the raw feature row `features` (F floats),
 * turn `t`, remaining budget `budget` (and `lambda` when the policy is
 * λ-conditioned) into the state vector, runs the
 * network on it and applies the mask and the λ rule above, filling
 * `decision`.  Allocates nothing.  Errors: SR_ERR_INVALID when budget or
 * lambda is not finite or lambda is negative (the decision is then
 * untouched).
 */
sr_status sr_qpolicy_decide(sr_qpolicy *policy, const float *features, int t, double budget,
                            double lambda, sr_decision *decision, sr_error *err);

/* True when the policy's network takes λ as an input (SR_STATE_LAMBDA). */
bool sr_qpolicy_lambda_conditioned(const sr_qpolicy *policy);

/*
 * Applies the mask and the λ rule to Q values `q` (K floats) already
 * computed for a state with remaining budget `budget` (and, for a
 * λ-conditioned policy, for `lambda`, so no cost term is subtracted).
 * Pure; allocates nothing; `budget` and `lambda` must be finite.
 */
void sr_qpolicy_choose(const sr_qpolicy *policy, const float *q, double budget, double lambda,
                       sr_decision *decision);

/* ---- the simulator adapter ------------------------------------------------------- */

/*
 * Checks that `policy` can run on `ds`: every policy model is in the
 * catalogue of `ds` (matched by name), the data's cost unit is the one the
 * policy recorded (not checked when it recorded none), the data yields feature rows of the
 * policy's width F (embeddings of the right width, or turn text for text
 * features).  Fills `model_map` (K entries, may be NULL) with the catalogue
 * index of each policy model.  The message names the policy file and what
 * does not match.
 */
sr_status sr_qpolicy_check_data(const sr_qpolicy *policy, const sr_dataset *ds, int *model_map,
                                sr_error *err);

/*
 * Wraps `policy` as a simulator policy named `name` that decides with
 * trade-off `lambda` on sessions of `ds` (checked with sr_qpolicy_check_data).
 * The feature rows of a session are computed in begin_session, so act only
 * encodes and runs the network; the policy never sees the current turn's
 * realised cost.  When `owns` the wrapper frees `policy` when destroyed;
 * otherwise `policy` must outlive it.  Errors as sr_qpolicy_check_data,
 * SR_ERR_INVALID for a non-finite lambda, SR_ERR_NOMEM.
 */
sr_status sr_qpolicy_policy_create(sr_qpolicy *policy, bool owns, const char *name,
                                   double lambda, const sr_dataset *ds, sr_policy **out,
                                   sr_error *err);

/*
 * Parses a learned-policy name: "cql:FILE", "dqn:FILE", "bc:FILE",
 * "myopic:FILE" and "policy:FILE" (row named by the file's algorithm).  Copies the row label
 * (empty for "policy:") into `label` and returns the path inside `name`, or
 * NULL when `name` has none of these prefixes.
 */
const char *sr_qpolicy_parse_name(const char *name, char *label, size_t label_size);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_QPOLICY_H */
