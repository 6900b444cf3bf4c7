/*
 * dataset.h - the session data model: model catalogue, sessions, turns and
 * per-model outcomes, with a builder, the JSON Lines loader and writer.
 *
 * Layout: a dataset owns three flat arrays.  `sessions[i]` refers to the
 * turns `turns[first_turn .. first_turn + n_turns - 1]`, and the outcome of
 * model k at global turn j is `outcomes[j * n_models + k]`.  Flat arrays
 * keep a 10k-session, 11-model set in a few megabytes and let simulators
 * index a turn's outcomes without pointer chasing.
 *
 * Ownership: every string and embedding reachable from an sr_dataset is
 * owned by it and released by sr_dataset_free().  Datasets are not
 * thread-safe while being built; once built, concurrent readers are fine.
 */
#ifndef SEQROUTE_DATASET_H
#define SEQROUTE_DATASET_H

#include <stdio.h>

#include "seqroute/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version written in and accepted from the "seqroute_sessions" header key. */
#define SR_SESSIONS_FORMAT_VERSION 1

/* Hard caps on untrusted input; each bounds memory that one line can claim. */
#define SR_MAX_MODELS 256              /* catalogue size */
#define SR_MAX_NAME_BYTES 256          /* model name, session id */
#define SR_MAX_TURNS 4096              /* turns in one session */
#define SR_MAX_EMBEDDING_DIM 65536     /* floats in one embedding */
#define SR_MAX_LINE_BYTES (256u << 20) /* one JSON line: 256 MiB */

/* One catalogue entry.  Prices are NAN when not given. */
typedef struct sr_model {
    char *name;
    double input_price;   /* cost units per 1M input tokens */
    double output_price;  /* cost units per 1M output tokens */
    double cost_per_call; /* flat cost units per call */
    bool fallback;        /* the model to degrade to when budget runs short */
} sr_model;

/*
 * The catalogue and the header facts every session line is checked against.
 * `embedding_dim` is 0 when no turn carries an embedding; otherwise every
 * embedding in the set has exactly that many values.
 */
typedef struct sr_catalogue {
    int n_models;
    sr_model models[SR_MAX_MODELS];
    char *cost_unit; /* "USD", "units", ... */
    double quality_min;
    double quality_max;
    int embedding_dim;
} sr_catalogue;

/*
 * Outcome of one model on one turn.  In logged-only data, models that were
 * not called have `present == false` and NAN quality and cost.  Token counts
 * are NAN unless the source gave them; `cost` is always filled for present
 * outcomes (priced from tokens by the catalogue when the source gave none).
 */
typedef struct sr_outcome {
    double quality;
    double cost;
    double input_tokens;
    double output_tokens;
    bool present;
} sr_outcome;

typedef struct sr_turn {
    char *text;       /* NULL when absent */
    float *embedding; /* NULL or catalogue.embedding_dim values */
    char *source_id;  /* optional id of the source item (benchmark prompt id) */
    int logged;       /* index of the model the logging policy used, or -1 */
} sr_turn;

typedef struct sr_session {
    char *id;
    double budget; /* logged budget in cost units, NAN when absent */
    size_t first_turn;
    int n_turns;
} sr_session;

typedef struct sr_dataset {
    sr_catalogue catalogue;

    sr_session *sessions;
    size_t n_sessions;
    size_t cap_sessions;

    sr_turn *turns;
    size_t n_turns;
    size_t cap_turns;

    sr_outcome *outcomes;     /* n_turns * catalogue.n_models entries */
    size_t cap_outcome_turns; /* turns the outcome array has room for */

    /*
     * Extra header keys kept verbatim as a JSON object text (for example
     * {"chaining": {...}, "source": "..."}), or NULL.  Written back by
     * sr_dataset_write so provenance survives a load/write round trip.
     */
    char *header_extra;
} sr_dataset;

/* ---- lifecycle and building ------------------------------------------- */

/* Initialises an empty dataset with quality range [0, 1] and unit "units". */
void sr_dataset_init(sr_dataset *ds);

/* Releases everything the dataset owns and re-initialises it. */
void sr_dataset_free(sr_dataset *ds);

/*
 * Appends a model to the catalogue.  Exactly one of a token price pair or
 * `cost_per_call` should be set (others NAN); both or neither are allowed
 * for data that carries its own cost per outcome.  Must be called before the
 * first session is added.  Returns SR_ERR_INVALID for an empty, too long or
 * duplicate name, a negative or non-finite price, or a full catalogue.
 */
sr_status sr_dataset_add_model(sr_dataset *ds, const char *name, double input_price,
                               double output_price, double cost_per_call, bool fallback,
                               sr_error *err);

/* Returns the catalogue index of `name`, or -1. */
int sr_dataset_find_model(const sr_dataset *ds, const char *name);

/* Sets the cost unit label (copied). */
sr_status sr_dataset_set_cost_unit(sr_dataset *ds, const char *unit, sr_error *err);

/*
 * Starts a new session; turns added next belong to it.  `budget` may be NAN.
 * The id is copied.  Duplicate ids are not checked here (the loader and
 * importers check them).
 */
sr_status sr_dataset_begin_session(sr_dataset *ds, const char *id, double budget, sr_error *err);

/*
 * Appends a turn to the current session and returns its global turn index in
 * `*turn_index`.  `text`, `embedding` and `source_id` may be NULL; they are
 * copied.  A non-NULL embedding must have catalogue.embedding_dim values (the
 * first embedding sets the dimension when it is still 0).  All outcomes of
 * the new turn start absent.
 */
sr_status sr_dataset_add_turn(sr_dataset *ds, const char *text, const float *embedding,
                              int embedding_dim, const char *source_id, int logged,
                              size_t *turn_index, sr_error *err);

/*
 * Sets one outcome of a turn.  `cost` may be NAN when token counts are
 * given: the catalogue then prices them (cost_per_call wins when set).
 * Rejects non-finite or negative values and qualities outside the range.
 */
sr_status sr_dataset_set_outcome(sr_dataset *ds, size_t turn_index, int model, double quality,
                                 double cost, double input_tokens, double output_tokens,
                                 sr_error *err);

/*
 * Prices a call from token counts with model `model`'s catalogue entry:
 * cost_per_call when set, else in * input_price / 1e6 + out * output_price /
 * 1e6.  Returns NAN when the entry has no usable price.
 */
double sr_catalogue_price(const sr_catalogue *cat, int model, double input_tokens,
                          double output_tokens);

/* Removes the last session and its turns (used to drop a half-built one). */
void sr_dataset_drop_last_session(sr_dataset *ds);

/* ---- access ----------------------------------------------------------- */

static inline const sr_outcome *sr_dataset_outcome(const sr_dataset *ds, size_t turn_index,
                                                   int model)
{
    return &ds->outcomes[turn_index * (size_t)ds->catalogue.n_models + (size_t)model];
}

static inline const sr_turn *sr_session_turn(const sr_dataset *ds, const sr_session *s, int t)
{
    return &ds->turns[s->first_turn + (size_t)t];
}

/* True when every turn of the dataset has an outcome for every model. */
bool sr_dataset_is_full_information(const sr_dataset *ds);

/*
 * Per-model summary statistics over all present outcomes: mean quality, mean
 * cost per turn and number of outcomes.  Arrays have catalogue.n_models
 * entries; any may be NULL.  Means are NAN for models with no outcome.
 */
void sr_dataset_model_stats(const sr_dataset *ds, double *mean_quality, double *mean_cost,
                            size_t *count);

/* ---- JSON Lines input and output ---------------------------------------- */

/* Called once per line skipped under skip_invalid, with the reason. */
typedef void (*sr_skip_fn)(const sr_error *reason, void *user_data);

typedef struct sr_load_options {
    /* Skip bad session lines (each reported through on_skip) instead of failing. */
    bool skip_invalid;
    sr_skip_fn on_skip;
    void *user_data;
    /* Drop turn texts after loading to save memory (features then need embeddings). */
    bool drop_text;
} sr_load_options;

/*
 * Loads a session file in the seqroute JSON Lines format (docs/FORMAT.md),
 * streaming it line by line.  On failure returns a negative status, leaves
 * `ds` empty, and fills `err` with file, line, field and value.  Under
 * skip_invalid a bad session line is reported and skipped; a bad header is
 * always fatal.  `n_skipped` (optional) receives the count of skipped lines.
 * `path` "-" reads standard input.
 */
sr_status sr_dataset_load(const char *path, const sr_load_options *options, sr_dataset *ds,
                          size_t *n_skipped, sr_error *err);

/*
 * Loads from a memory buffer, as sr_dataset_load does from a file; `name`
 * is used in messages.  Used by the fuzz target and by tests.
 */
sr_status sr_dataset_load_buffer(const char *data, size_t size, const char *name,
                                 const sr_load_options *options, sr_dataset *ds, size_t *n_skipped,
                                 sr_error *err);

/*
 * Writes the whole dataset (header then one line per session) to `out`.
 * Returns SR_ERR_IO when a write fails.
 */
sr_status sr_dataset_write(const sr_dataset *ds, FILE *out, sr_error *err);

/* Writes only the header line, or one session line. */
sr_status sr_dataset_write_header(const sr_dataset *ds, FILE *out, sr_error *err);
sr_status sr_dataset_write_session(const sr_dataset *ds, size_t session_index, FILE *out,
                                   sr_error *err);

/* Writes to `path` ("-" or NULL for standard output), replacing the file. */
sr_status sr_dataset_save(const sr_dataset *ds, const char *path, sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_DATASET_H */
