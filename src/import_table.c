/*
 * import_table.c - per-prompt outcome tables to chained sessions: RouteLLM's
 * CSVs and LLMRouter's JSON.
 *
 * RouteLLM CSV: a `prompt` column, one correctness column per model (True /
 * False; 1 / 0 and numbers in [0, 1] are accepted too) and, in some files, a
 * `<model>_response` column with the answer text.  Every column that is not
 * the prompt or a response is a model column unless --models selects some.
 *
 * LLMRouter JSON: an array of {"question": text, "scores": {model: score in
 * [0, 1]}, ...}; other keys (cluster_id) are ignored.
 *
 * Neither format logs a cost, so costs are priced from the catalogue: input
 * tokens = UTF-8 bytes of the prompt / 4, output tokens = bytes of the
 * response / 4 when the file has a response column, else a fixed number per
 * call (default 1, because an MMLU answer is one letter).  The pool is built
 * with token counts first and priced once every model's price is resolved,
 * because the models are only known after the first file's header.
 */
#include "seqroute/import.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Suffix of a response column: "<model>_response". */
#define RESPONSE_SUFFIX "_response"

/* Bytes read to tell JSON from CSV: enough to pass a byte order mark and
 * leading blank lines. */
#define SNIFF_BYTES 256

typedef struct table_state {
    const sr_import_options *options;
    sr_dataset *pool;
    const char *path;
    const char *base;
    bool first_file;

    size_t n_columns;
    long prompt_column;
    int quality_column[SR_MAX_MODELS]; /* per pool model */
    int response_column[SR_MAX_MODELS];
    char column_names[SR_MAX_MODELS][SR_MAX_NAME_BYTES];

    size_t rows;
    size_t skipped;
    size_t responses; /* outcomes whose output tokens came from response text */
} table_state;

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Adds one item (a one-turn session) with quality and token counts; the
 * cost is set later by price_pool(). */
static sr_status add_item(table_state *st, const char *text, const char *source_id,
                          const double *quality, const double *output_tokens, sr_error *err)
{
    sr_dataset *pool = st->pool;
    char id[32];
    size_t turn;
    double input_tokens = sr_import_estimate_tokens(text);

    snprintf(id, sizeof(id), "item-%zu", pool->n_sessions + 1);
    sr_status status = sr_dataset_begin_session(pool, id, NAN, err);
    if (status == SR_OK)
        status = sr_dataset_add_turn(pool, st->options->drop_text ? NULL : text, NULL, 0, source_id,
                                     -1, &turn, err);
    for (int k = 0; status == SR_OK && k < pool->catalogue.n_models; k++)
        status = sr_dataset_set_outcome(pool, turn, k, quality[k], 0.0, input_tokens,
                                        output_tokens[k], err);
    return status;
}

/* Adds the first file's models: the selection, or the raw names renamed. */
static sr_status add_models(table_state *st, const char *const *raw, size_t n_raw, sr_error *err)
{
    const sr_import_options *options = st->options;
    sr_status status = SR_OK;

    if (options->n_models > 0) {
        for (size_t i = 0; status == SR_OK && i < options->n_models; i++)
            status = sr_dataset_add_model(st->pool, options->models[i], NAN, NAN, NAN, false, err);
    } else {
        for (size_t i = 0; status == SR_OK && i < n_raw; i++)
            status = sr_dataset_add_model(st->pool, sr_import_rename(options, raw[i]), NAN, NAN,
                                          NAN, false, err);
    }
    if (status == SR_OK && st->pool->catalogue.n_models == 0)
        status = sr_error_set(err, SR_ERR_INVALID, st->path, 1, NULL, "no model columns found");
    return status;
}

/* ---- RouteLLM CSV ------------------------------------------------------- */

/* Parses a correctness cell: True/False in any case, or a number in [0, 1]. */
static bool parse_correctness(const char *text, double *value)
{
    if (strcasecmp(text, "true") == 0) {
        *value = 1.0;
        return true;
    }
    if (strcasecmp(text, "false") == 0) {
        *value = 0.0;
        return true;
    }
    char *end = NULL;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(x) || x < 0 || x > 1)
        return false;
    *value = x;
    return true;
}

/* True when column `i` is "<X>_response" for another column X. */
static bool is_response_column(char *const *fields, size_t n, size_t i)
{
    size_t len = strlen(fields[i]);
    size_t suffix = strlen(RESPONSE_SUFFIX);
    if (len <= suffix || strcmp(fields[i] + len - suffix, RESPONSE_SUFFIX) != 0)
        return false;
    for (size_t j = 0; j < n; j++)
        if (j != i && strlen(fields[j]) == len - suffix &&
            strncmp(fields[j], fields[i], len - suffix) == 0)
            return true;
    return false;
}

static sr_status read_csv_header(table_state *st, size_t n, char *const *fields, sr_error *err)
{
    sr_dataset *pool = st->pool;
    const char *raw[SR_MAX_MODELS];
    size_t n_raw = 0;
    sr_status status;

    st->n_columns = n;
    st->prompt_column = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i], "prompt") == 0)
            st->prompt_column = (long)i;
    if (st->prompt_column < 0)
        return sr_error_set(err, SR_ERR_INVALID, st->path, 1, "prompt",
                            "no 'prompt' column; a table CSV needs a prompt column and one "
                            "correctness column per model");

    /* Model columns: everything but the prompt and the response texts. */
    for (size_t i = 0; i < n; i++) {
        if ((long)i == st->prompt_column || is_response_column(fields, n, i))
            continue;
        if (n_raw >= SR_MAX_MODELS)
            return sr_error_set(err, SR_ERR_INVALID, st->path, 1, NULL,
                                "more than %d model columns", SR_MAX_MODELS);
        raw[n_raw++] = fields[i];
    }
    if (st->first_file) {
        status = add_models(st, raw, n_raw, err);
        if (status != SR_OK)
            return status;
    }

    /* Map catalogue models to this file's columns. */
    for (int k = 0; k < pool->catalogue.n_models; k++) {
        st->quality_column[k] = -1;
        st->response_column[k] = -1;
    }
    for (size_t r = 0; r < n_raw; r++) {
        int k = sr_dataset_find_model(pool, sr_import_rename(st->options, raw[r]));
        if (k < 0) {
            if (st->options->n_models == 0)
                return sr_error_set(err, SR_ERR_INVALID, st->path, 1, raw[r],
                                    "column '%s' is not a model of the first file; every file "
                                    "must have the same model columns, or select models with "
                                    "--models",
                                    raw[r]);
            sr_log(SR_LOG_DEBUG, "import_ignore_column file=%s column=\"%s\"", st->path, raw[r]);
            continue;
        }
        if (st->quality_column[k] >= 0)
            return sr_error_set(err, SR_ERR_INVALID, st->path, 1, raw[r],
                                "two columns map to model '%s'; check --rename",
                                pool->catalogue.models[k].name);
        for (size_t i = 0; i < n; i++)
            if (fields[i] == raw[r])
                st->quality_column[k] = (int)i;
        snprintf(st->column_names[k], sizeof(st->column_names[k]), "%s", raw[r]);
        for (size_t i = 0; i < n; i++)
            if (is_response_column(fields, n, i) &&
                strncmp(fields[i], raw[r], strlen(raw[r])) == 0 &&
                strcmp(fields[i] + strlen(raw[r]), RESPONSE_SUFFIX) == 0)
                st->response_column[k] = (int)i;
    }
    for (int k = 0; k < pool->catalogue.n_models; k++)
        if (st->quality_column[k] < 0)
            return sr_error_set(err, SR_ERR_NOT_FOUND, st->path, 1, pool->catalogue.models[k].name,
                                "no correctness column for model '%s'; check --models and "
                                "--rename",
                                pool->catalogue.models[k].name);
    return SR_OK;
}

static sr_status read_csv_row(table_state *st, long line, size_t n, char *const *fields,
                              const size_t *lengths, sr_error *err)
{
    const int n_models = st->pool->catalogue.n_models;
    double quality[SR_MAX_MODELS];
    double output_tokens[SR_MAX_MODELS];
    char source_id[SR_MAX_NAME_BYTES + 32];

    if (n != st->n_columns)
        return sr_error_set(err, SR_ERR_INVALID, st->path, line, NULL,
                            "row has %zu fields but the header has %zu; check the quoting of "
                            "the row",
                            n, st->n_columns);
    st->rows++;

    for (int k = 0; k < n_models; k++) {
        if (fields[st->quality_column[k]][0] == '\0') {
            sr_log(SR_LOG_WARN,
                   "import_skip_row file=%s line=%ld column=\"%s\" reason=\"empty cell\"", st->path,
                   line, st->column_names[k]);
            st->skipped++;
            return SR_OK;
        }
    }
    for (int k = 0; k < n_models; k++) {
        const char *cell = fields[st->quality_column[k]];
        if (!parse_correctness(cell, &quality[k]))
            return sr_error_set(err, SR_ERR_INVALID, st->path, line, st->column_names[k],
                                "correctness '%.40s' is not True, False or a number in [0, 1]",
                                cell);
        if (st->response_column[k] >= 0) {
            output_tokens[k] = (double)lengths[st->response_column[k]] / SR_IMPORT_BYTES_PER_TOKEN;
            st->responses++;
        } else {
            output_tokens[k] = st->options->output_tokens;
        }
    }

    const char *prompt = fields[st->prompt_column];
    if (!sr_import_utf8_valid(prompt, lengths[st->prompt_column]))
        return sr_error_set(err, SR_ERR_INVALID, st->path, line, "prompt",
                            "prompt is not valid UTF-8 text; convert the file to UTF-8");
    snprintf(source_id, sizeof(source_id), "%s:%ld", st->base, line);

    sr_status status = add_item(st, prompt, source_id, quality, output_tokens, err);
    if (status != SR_OK && err != NULL) {
        snprintf(err->path, sizeof(err->path), "%s", st->path);
        err->line = line;
    }
    return status;
}

static sr_status on_csv_record(void *user_data, long line, size_t n, char *const *fields,
                               const size_t *lengths, sr_error *err)
{
    table_state *st = user_data;
    if (st->n_columns == 0)
        return read_csv_header(st, n, fields, err);
    return read_csv_row(st, line, n, fields, lengths, err);
}

/* ---- LLMRouter JSON ------------------------------------------------------- */

/* Finds the score of catalogue model `model` among raw score keys. */
static json_t *find_score(const table_state *st, json_t *scores, const char *model)
{
    const char *key;
    json_t *value;
    json_object_foreach(scores, key, value)
    {
        if (strcmp(sr_import_rename(st->options, key), model) == 0)
            return value;
    }
    return NULL;
}

static sr_status read_json_item(table_state *st, size_t index, json_t *item, sr_error *err)
{
    sr_dataset *pool = st->pool;
    const int n_models = pool->catalogue.n_models;
    double quality[SR_MAX_MODELS];
    double output_tokens[SR_MAX_MODELS];
    char field[SR_MAX_NAME_BYTES + 64];
    char source_id[SR_MAX_NAME_BYTES + 32];

    json_t *question = json_object_get(item, "question");
    json_t *scores = json_object_get(item, "scores");
    if (!json_is_object(item) || !json_is_string(question) || !json_is_object(scores)) {
        snprintf(field, sizeof(field), "[%zu]", index);
        return sr_error_set(err, SR_ERR_INVALID, st->path, 0, field,
                            "item %zu is not an object with a string 'question' and an object "
                            "'scores'",
                            index);
    }
    st->rows++;

    /* Unknown models are an error unless --models selects a subset. */
    if (st->options->n_models == 0) {
        const char *key;
        json_t *value;
        json_object_foreach(scores, key, value)
        {
            if (sr_dataset_find_model(pool, sr_import_rename(st->options, key)) < 0) {
                snprintf(field, sizeof(field), "[%zu].scores.%s", index, key);
                return sr_error_set(err, SR_ERR_INVALID, st->path, 0, field,
                                    "model '%s' is not in the first item; every item must "
                                    "score the same models, or select models with --models",
                                    key);
            }
        }
    }

    for (int k = 0; k < n_models; k++) {
        const char *name = pool->catalogue.models[k].name;
        json_t *score = find_score(st, scores, name);
        if (score == NULL || json_is_null(score)) {
            sr_log(SR_LOG_WARN,
                   "import_skip_item file=%s item=%zu model=%s reason=\"no score for the "
                   "model\"",
                   st->path, index, name);
            st->skipped++;
            return SR_OK;
        }
        double value = json_number_value(score);
        if (!json_is_number(score) || !isfinite(value) || value < 0 || value > 1) {
            snprintf(field, sizeof(field), "[%zu].scores.%s", index, name);
            return sr_error_set(err, SR_ERR_INVALID, st->path, 0, field,
                                "score of model '%s' is not a number in [0, 1]", name);
        }
        quality[k] = value;
        output_tokens[k] = st->options->output_tokens;
    }

    snprintf(source_id, sizeof(source_id), "%s#%zu", st->base, index);
    sr_status status =
        add_item(st, json_string_value(question), source_id, quality, output_tokens, err);
    if (status != SR_OK && err != NULL) {
        snprintf(err->path, sizeof(err->path), "%s", st->path);
        snprintf(err->field, sizeof(err->field), "[%zu]", index);
    }
    return status;
}

static sr_status read_json_file(table_state *st, sr_error *err)
{
    json_error_t jerr;
    sr_status status = SR_OK;

    json_t *root = json_load_file(st->path, 0, &jerr);
    if (root == NULL)
        return sr_error_set(err, SR_ERR_INVALID, st->path, jerr.line, NULL,
                            "invalid JSON at column %d: %s", jerr.column, jerr.text);
    if (!json_is_array(root)) {
        json_decref(root);
        return sr_error_set(err, SR_ERR_INVALID, st->path, 1, NULL,
                            "expected a JSON array of {\"question\", \"scores\"} items");
    }

    /* The first file's first item fixes the models unless --models does. */
    if (st->first_file) {
        json_t *scores = json_object_get(json_array_get(root, 0), "scores");
        const char *raw[SR_MAX_MODELS];
        size_t n_raw = 0;
        const char *key;
        json_t *value;
        if (!json_is_object(scores) && st->options->n_models == 0)
            status = sr_error_set(err, SR_ERR_INVALID, st->path, 0, "[0].scores",
                                  "the first item has no 'scores' object to take models from");
        if (json_is_object(scores)) {
            json_object_foreach(scores, key, value)
            {
                if (n_raw < SR_MAX_MODELS)
                    raw[n_raw++] = key;
            }
        }
        if (status == SR_OK)
            status = add_models(st, raw, n_raw, err);
    }

    size_t index;
    json_t *item;
    json_array_foreach(root, index, item)
    {
        if (status != SR_OK)
            break;
        status = read_json_item(st, index, item, err);
    }
    json_decref(root);
    return status;
}

/* ---- the importer ---------------------------------------------------------- */

/* True when the file's first non-blank byte opens JSON ('[' or '{'). */
static sr_status sniff_json(const char *path, bool *is_json, sr_error *err)
{
    unsigned char head[SNIFF_BYTES];
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
    size_t n = fread(head, 1, sizeof(head), in);
    fclose(in);

    size_t i = 0;
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF)
        i = 3;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    *is_json = i < n && (head[i] == '[' || head[i] == '{');
    return SR_OK;
}

/* Prices every pooled outcome from its token counts. */
static void price_pool(sr_dataset *pool)
{
    const int n_models = pool->catalogue.n_models;
    for (size_t j = 0; j < pool->n_turns; j++)
        for (int k = 0; k < n_models; k++) {
            sr_outcome *o = &pool->outcomes[j * (size_t)n_models + (size_t)k];
            o->cost = sr_catalogue_price(&pool->catalogue, k, o->input_tokens, o->output_tokens);
        }
}

static json_t *table_source(const sr_import_options *options, const char *const *paths,
                            size_t n_paths, const table_state *st, const sr_dataset *pool,
                            char **price_sources)
{
    json_t *source = json_object();
    json_t *files = json_array();
    json_t *prices = json_object();

    for (size_t f = 0; f < n_paths; f++)
        json_array_append_new(files, json_string(paths[f]));
    for (int k = 0; k < pool->catalogue.n_models; k++)
        if (price_sources[k] != NULL)
            json_object_set_new(prices, pool->catalogue.models[k].name,
                                json_string(price_sources[k]));
    json_object_set_new(source, "importer", json_string("table"));
    json_object_set_new(source, "files", files);
    json_object_set_new(source, "rows", json_integer((json_int_t)st->rows));
    json_object_set_new(source, "skipped_rows", json_integer((json_int_t)st->skipped));
    json_object_set_new(source, "cost_model",
                        json_string("priced: input tokens = UTF-8 bytes of the prompt / 4; "
                                    "output tokens = UTF-8 bytes of the <model>_response text "
                                    "/ 4 when the file has one, else output_tokens_default per "
                                    "call; cost = input x input_price / 1e6 + output x "
                                    "output_price / 1e6 (USD per 1M tokens)"));
    json_object_set_new(source, "output_tokens_default", json_real(options->output_tokens));
    json_object_set_new(source, "prices", prices);
    return source;
}

sr_status sr_import_table(const char *const *paths, size_t n_paths,
                          const sr_import_options *options, sr_dataset *ds,
                          sr_import_report *report, sr_error *err)
{
    sr_dataset pool;
    table_state *st = NULL;
    char *price_sources[SR_MAX_MODELS] = {0};
    sr_status status;

    if (report != NULL)
        memset(report, 0, sizeof(*report));
    if (n_paths == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "no input files; give one or more CSV or JSON tables");
    status = sr_import_check_options(options, err);
    if (status != SR_OK)
        return status;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    sr_dataset_init(&pool);
    status = sr_dataset_set_cost_unit(&pool, "USD", err);
    st->options = options;
    st->pool = &pool;

    /* Pool every row or item of every file. */
    for (size_t f = 0; status == SR_OK && f < n_paths; f++) {
        bool is_json = false;
        size_t rows_before = st->rows;
        size_t skipped_before = st->skipped;
        st->path = paths[f];
        st->base = base_name(paths[f]);
        st->first_file = f == 0;
        st->n_columns = 0;
        status = sniff_json(paths[f], &is_json, err);
        if (status == SR_OK && is_json)
            status = read_json_file(st, err);
        else if (status == SR_OK) {
            status = sr_import_read_csv(paths[f], on_csv_record, st, err);
            if (status == SR_OK && st->n_columns == 0)
                status = sr_error_set(err, SR_ERR_INVALID, paths[f], 0, NULL,
                                      "file is empty; expected a header row");
        }
        if (status == SR_OK)
            sr_log(SR_LOG_DEBUG, "import_file file=%s format=%s rows=%zu skipped_rows=%zu",
                   paths[f], is_json ? "json" : "csv", st->rows - rows_before,
                   st->skipped - skipped_before);
    }

    /* Price, chain and record the provenance. */
    if (status == SR_OK)
        status = sr_import_resolve_prices(options, &pool, price_sources, err);
    if (status == SR_OK) {
        price_pool(&pool);
        json_t *source = table_source(options, paths, n_paths, st, &pool, price_sources);
        json_object_set_new(source, "outcomes_with_response_text",
                            json_integer((json_int_t)st->responses));
        status = sr_import_finish_chained(&pool, options, "tb", source, ds, report, err);
    }
    if (status == SR_OK && report != NULL)
        report->skipped_rows = st->skipped;

    for (int k = 0; k < SR_MAX_MODELS; k++)
        free(price_sources[k]);
    sr_dataset_free(&pool);
    free(st);
    return status;
}
