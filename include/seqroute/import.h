/*
 * import.h - importers of public routing benchmark formats into the session
 * data model: RouterBench wide CSVs, per-prompt outcome tables (RouteLLM CSVs,
 * LLMRouter JSON) and FastChat MT-Bench single-answer judgments.
 *
 * Every importer fills an sr_dataset that the caller then writes with
 * sr_dataset_save().  Single-turn benchmarks are first read into an item
 * pool (a dataset of one-turn sessions) and then chained into multi-turn
 * sessions by sr_import_chain(): the pool is shuffled with a seed and cut
 * into sessions of a fixed or uniformly drawn length.  Because chained items
 * are independent prompts, every routing path through a chained session has
 * a real outcome.
 *
 * Provenance: each importer records in the header (sr_dataset.header_extra)
 * the importer name, the input files, the skip counts, the cost model and,
 * where used, the chaining parameters, so results can name their data.
 *
 * Reporting: every skipped row or record (empty cells, unparseable judge
 * scores, duplicates, incomplete sessions) is logged through sr_log and
 * counted in sr_import_report, so nothing is dropped silently.  Invalid
 * values stop the import with an sr_error naming file, line, field and value.
 *
 * Thread-safety: the importers share no global state; distinct calls on
 * distinct datasets may run concurrently (sr_log's callback must then be
 * thread-safe).
 */
#ifndef SEQROUTE_IMPORT_H
#define SEQROUTE_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "seqroute/common.h"
#include "seqroute/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default chaining: seed 1 and four turns per session, long enough for an
 * early expensive call to constrain later turns; --turns changes it. */
#define SR_IMPORT_DEFAULT_SEED 1
#define SR_IMPORT_DEFAULT_TURNS 4

/* Default output tokens of a table item without response text: MMLU
 * responses are a single letter, which is one token. */
#define SR_IMPORT_DEFAULT_OUTPUT_TOKENS 1.0

/* Bytes per token of the length-based token estimate (UTF-8 bytes / 4). */
#define SR_IMPORT_BYTES_PER_TOKEN 4.0

/*
 * Options shared by the importers.  String arrays are borrowed: they must
 * stay valid for the duration of the import call.
 */
typedef struct sr_import_options {
    /* Chaining (routerbench, table): shuffle seed and session length range. */
    uint64_t seed;
    int turns_min;
    int turns_max;

    /* Models to keep, in catalogue order (names after renaming); all when 0. */
    const char *const *models;
    size_t n_models;

    /* "RAW=CANONICAL" pairs applied to model names found in the input. */
    const char *const *renames;
    size_t n_renames;

    /* Price sources, in decreasing priority (see sr_import_resolve_prices). */
    const char *const *prices; /* "MODEL=IN/OUT", USD per 1M tokens */
    size_t n_prices;
    const char *const *price_keys; /* "MODEL=LITELLM_KEY" */
    size_t n_price_keys;
    const char *litellm_path;   /* LiteLLM model_prices JSON, or NULL */
    const char *catalogue_path; /* seqroute header / {"models": [...]} / LLMRouter LLM list */

    /* Table importer: output tokens of an item without response text. */
    double output_tokens;

    /* Leave turn texts out of the dataset (they still set token counts). */
    bool drop_text;
} sr_import_options;

/* Counts of one import, for the summary line and the tests. */
typedef struct sr_import_report {
    size_t items;            /* single-turn items pooled (routerbench, table) */
    size_t sessions;         /* sessions written */
    size_t turns;            /* turns written */
    size_t outcomes;         /* (turn, model) outcomes written */
    size_t skipped_rows;     /* rows or items with an empty cell or missing score */
    size_t skipped_scores;   /* MT-Bench judgments with score -1 */
    size_t duplicates;       /* MT-Bench judgments replaced by a later one */
    size_t skipped_sessions; /* MT-Bench questions without a full set of judgments */
    size_t ignored_records;  /* MT-Bench judgments of models not selected */
    int remainder_turns;     /* length of a final short chained session, or 0 */
} sr_import_report;

/* Fills `options` with the defaults: seed 1, 4 turns, 1 output token, no
 * selection, renames or prices. */
void sr_import_options_init(sr_import_options *options);

/* ---- importers ---------------------------------------------------------- */

/*
 * Imports RouterBench wide CSV files (columns: unnamed index, sample_id,
 * prompt, eval_name, <model>, <model>|model_response, <model>|total_cost,
 * oracle_model_to_route_to) and chains their rows into sessions.
 *
 * Models are the columns that have both `<m>` and `<m>|total_cost`; every
 * file must have the same models.  Quality is the correctness cell, cost the
 * logged dollar cost; the catalogue's cost_per_call is the mean observed
 * cost of each model (an estimate for planning, not a price).  A row with an
 * empty correctness or cost cell of a selected model is reported and
 * skipped; any other bad value is an error.  `ds` must be initialised and
 * empty; on failure it is left empty.
 */
sr_status sr_import_routerbench(const char *const *paths, size_t n_paths,
                                const sr_import_options *options, sr_dataset *ds,
                                sr_import_report *report, sr_error *err);

/*
 * Imports per-prompt outcome tables and chains them into sessions.  Each file
 * is either a CSV with a `prompt` column, one correctness column per model
 * (True/False, 1/0 or a number in [0, 1]) and optional `<model>_response`
 * text columns, or a JSON array of {"question": text, "scores": {model:
 * score}} (LLMRouter).  A file is read as JSON when its first non-blank byte
 * is '[' or '{' (an object is then rejected as not an array).  Costs are
 * priced from the catalogue prices (see sr_import_resolve_prices) with input
 * tokens = prompt bytes / 4 and output tokens = response bytes / 4, or
 * options->output_tokens without a response column.  Empty correctness cells
 * and missing scores are reported and skipped.
 */
sr_status sr_import_table(const char *const *paths, size_t n_paths,
                          const sr_import_options *options, sr_dataset *ds,
                          sr_import_report *report, sr_error *err);

/*
 * Imports FastChat MT-Bench data: the question file (question_id, turns[]),
 * one or more single-answer judgment files (question_id, model, turn, score,
 * user_prompt, tstamp) and optional answer files (question_id, model_id,
 * choices[0].turns[]).  Each question becomes one session with one turn per
 * question turn (not chained).  Quality = (score - 1) / 9.  Judgments with
 * score -1 are reported and skipped; of several judgments of one (model,
 * question, turn) the latest tstamp wins (the others are counted as
 * duplicates).  Answer text comes from the answer files when they cover the
 * model, else from the judge prompt between FastChat's markers.  Cost =
 * input tokens x input price + output tokens x output price with tokens =
 * bytes / 4; the input of turn t is every earlier question and answer plus
 * question t.  A question where a selected model lacks a valid judgment for
 * some turn is reported and skipped.
 */
sr_status sr_import_mtbench(const char *questions_path, const char *const *judgment_paths,
                            size_t n_judgment_paths, const char *const *answer_paths,
                            size_t n_answer_paths, const sr_import_options *options, sr_dataset *ds,
                            sr_import_report *report, sr_error *err);

/* ---- building blocks shared by the importers ----------------------------- */

/*
 * Parses a session length "N" or "MIN-MAX" (1 <= MIN <= MAX <= SR_MAX_TURNS).
 * Returns SR_ERR_INVALID with a message naming `text` otherwise.
 */
sr_status sr_import_parse_turns(const char *text, int *turns_min, int *turns_max, sr_error *err);

/* Result of a chaining run, recorded in the header by the importers. */
typedef struct sr_chain_result {
    size_t items;
    size_t sessions;
    int remainder_turns; /* length of the final short session, or 0 */
} sr_chain_result;

/*
 * Chains the one-turn sessions of `items` into `out`: shuffles their order
 * with sr_rng seeded by `seed`, then cuts sessions of `turns_min` turns, or
 * of a length drawn uniformly from [turns_min, turns_max] per session.  When
 * fewer items remain than the drawn length, they form a final shorter
 * session (logged).  Session ids are "PREFIX-000001", ...; turns keep their
 * text, source_id and outcomes; the catalogue, cost unit, quality range and
 * header_extra are copied.  `out` must be initialised and empty; on failure
 * it is left empty.  Deterministic for a given seed and pool order.
 */
sr_status sr_import_chain(const sr_dataset *items, uint64_t seed, int turns_min, int turns_max,
                          const char *id_prefix, sr_dataset *out, sr_chain_result *result,
                          sr_error *err);

/* Estimated tokens of a UTF-8 text: its byte length / 4 (0 for NULL). */
double sr_import_estimate_tokens(const char *text);

/*
 * Decodes a Python list-of-strings literal such as "['a\\nb', \"c'd\"]" into
 * plain text: the elements joined by a blank line ("\n\n").  Both quote
 * styles and the escapes \n \t \r \\ \' \" \a \b \f \v \0 (octal \ooo),
 * \xNN, \uNNNN, \UNNNNNNNN and backslash-newline are handled; a literal that
 * is not such a list is an error, as are NUL characters and surrogate code
 * points.  Returns a newly allocated string in `*text` (caller frees).
 * `where` (for example "file.csv:17: column prompt") prefixes the message.
 */
sr_status sr_import_decode_pylist(const char *literal, const char *where, char **text,
                                  sr_error *err);

/* True when `data[0..size)` is valid UTF-8 without NUL bytes. */
bool sr_import_utf8_valid(const char *data, size_t size);

/*
 * Maps a raw model name through options->renames ("RAW=CANONICAL").  Returns
 * the canonical name (borrowed from the option string), or `raw` itself when
 * no rename applies.
 */
const char *sr_import_rename(const sr_import_options *options, const char *raw);

/*
 * Validates options: turn range, non-empty model list items without
 * duplicates, "RAW=CANONICAL" renames, "MODEL=IN/OUT" prices and
 * "MODEL=KEY" price keys.  Returns SR_ERR_INVALID naming the bad option.
 */
sr_status sr_import_check_options(const sr_import_options *options, sr_error *err);

/*
 * Sets input and output prices (USD per 1M tokens) of every catalogue model
 * of `ds` whose prices are NAN, from, in decreasing priority: --price pairs,
 * --price-key pairs looked up in the LiteLLM table, the catalogue file, and
 * an automatic LiteLLM lookup of the model name (exact key, then a
 * case-insensitive exact key, then the unique key ending in "/NAME"
 * case-insensitively).  `sources` (optional, n_models entries) receives a
 * newly allocated description of each price's origin.  Fails with
 * SR_ERR_NOT_FOUND listing every model left unpriced and the options that
 * fix it, or naming an ambiguous model with its candidate keys.
 */
sr_status sr_import_resolve_prices(const sr_import_options *options, sr_dataset *ds, char **sources,
                                   sr_error *err);

/* ---- CSV records with line numbers --------------------------------------- */

/* Most columns accepted in one CSV record (RouterBench has 38). */
#define SR_IMPORT_MAX_CSV_FIELDS 4096

/*
 * Receives one CSV record: `line` is the physical line where the record
 * starts (quoted fields may span lines), `fields[i]` is NUL-terminated with
 * byte length `lengths[i]`.  The arrays are valid only during the call.
 * Returning a status other than SR_OK stops the reading.
 */
typedef sr_status (*sr_csv_record_fn)(void *user_data, long line, size_t n_fields,
                                      char *const *fields, const size_t *lengths, sr_error *err);

/*
 * Reads the CSV file at `path` with libcsv in strict mode (RFC 4180 quoting)
 * and calls `on_record` once per record, header included.  A leading UTF-8
 * byte order mark is skipped; blank lines between records are skipped.
 * Fails with SR_ERR_IO when the file cannot be read, SR_ERR_INVALID naming
 * the line of a quoting error, an unterminated quoted field, more than
 * SR_IMPORT_MAX_CSV_FIELDS fields or a record over SR_MAX_LINE_BYTES.
 */
sr_status sr_import_read_csv(const char *path, sr_csv_record_fn on_record, void *user_data,
                             sr_error *err);

/* ---- LiteLLM price table -------------------------------------------------- */

typedef struct sr_price_table sr_price_table;

/*
 * Loads a LiteLLM model_prices_and_context_window JSON file (an object of
 * model key -> {input_cost_per_token, output_cost_per_token, ...}).  Keys
 * whose value is not an object ("last_updated") and "sample_spec" are
 * ignored.  Caller frees with sr_price_table_free.
 */
sr_status sr_price_table_load(const char *path, sr_price_table **table, sr_error *err);
void sr_price_table_free(sr_price_table *table);

/*
 * Looks up `key` exactly and returns its prices in USD per 1M tokens,
 * rounded to 10 significant digits to remove binary noise of the per-token
 * figures.  SR_ERR_NOT_FOUND when absent, SR_ERR_INVALID when the entry has
 * no token prices.
 */
sr_status sr_price_table_get(const sr_price_table *table, const char *key, double *input_price,
                             double *output_price, sr_error *err);

/*
 * Finds the key for a model name: the exact key, else the unique key equal
 * to the name ignoring case, else the unique key ending in "/NAME" ignoring
 * case.  On success `*key` borrows the table's key.  SR_ERR_NOT_FOUND when
 * nothing matches; SR_ERR_INVALID when several keys match, with up to 12
 * candidates listed in the message.
 */
sr_status sr_price_table_find(const sr_price_table *table, const char *name, const char **key,
                              sr_error *err);

/* ---- provenance and chaining of a pool ---------------------------------- */

struct json_t;

/*
 * Chains the item pool `pool` into `ds` with the seed and turn range of
 * `options` (session ids "PREFIX-000001", ...) and sets ds->header_extra to
 * {"chaining": {"seed", "turns", "items", "sessions", "remainder_turns"},
 * "source": SOURCE}.  Takes ownership of the JSON object `source` (a
 * jansson json_t) in every case.  Fills the chaining counts of `report`.
 */
sr_status sr_import_finish_chained(const sr_dataset *pool, const sr_import_options *options,
                                   const char *id_prefix, struct json_t *source, sr_dataset *ds,
                                   sr_import_report *report, sr_error *err);

/*
 * Sets ds->header_extra to {"source": SOURCE} (no chaining).  Takes
 * ownership of `source`.
 */
sr_status sr_import_set_source(sr_dataset *ds, struct json_t *source, sr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_IMPORT_H */
