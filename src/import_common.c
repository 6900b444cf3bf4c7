/*
 * import_common.c - what the benchmark importers share: option checks,
 * model renaming, the length-based token estimate, price resolution from
 * the command line, a catalogue file or the LiteLLM table, chaining of
 * single-turn items into sessions, and the provenance header.
 *
 * Chaining: the importers first read every input file into a pool, an
 * sr_dataset whose sessions each hold one item.  sr_import_chain shuffles
 * the pool's item order with one seeded generator (Fisher-Yates through
 * sr_rng_shuffle) and then cuts consecutive runs into sessions.  With a
 * length range, each session's length is drawn from the same generator
 * after the shuffle, so a seed fixes both the order and the lengths.
 *
 * Price resolution order (first hit wins): --price MODEL=IN/OUT, then
 * --price-key MODEL=KEY in the LiteLLM table, then the --catalogue file,
 * then an automatic lookup of the model name in the LiteLLM table.  An
 * ambiguous automatic lookup is an error, never a silent pick, because
 * hosts of one open model differ in price by up to 4x.
 */
#include "seqroute/import.h"

#include <csv.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sr_import_options_init(sr_import_options *options)
{
    memset(options, 0, sizeof(*options));
    options->seed = SR_IMPORT_DEFAULT_SEED;
    options->turns_min = SR_IMPORT_DEFAULT_TURNS;
    options->turns_max = SR_IMPORT_DEFAULT_TURNS;
    options->output_tokens = SR_IMPORT_DEFAULT_OUTPUT_TOKENS;
}

double sr_import_estimate_tokens(const char *text)
{
    if (text == NULL)
        return 0.0;
    return (double)strlen(text) / SR_IMPORT_BYTES_PER_TOKEN;
}

bool sr_import_utf8_valid(const char *data, size_t size)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t i = 0;

    while (i < size) {
        unsigned char c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }

        /* Sequence length and the smallest code point it may encode, which
         * rejects overlong forms. */
        int extra;
        uint32_t cp;
        uint32_t min;
        if ((c & 0xE0) == 0xC0) {
            extra = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (i + (size_t)extra >= size)
            return false;
        for (int k = 1; k <= extra; k++) {
            unsigned char cc = s[i + (size_t)k];
            if ((cc & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += (size_t)extra + 1;
    }
    return true;
}

/* ---- options ------------------------------------------------------------ */

sr_status sr_import_parse_turns(const char *text, int *turns_min, int *turns_max, sr_error *err)
{
    char *end = NULL;
    long lo;
    long hi;

    errno = 0;
    lo = strtol(text, &end, 10);
    hi = lo;
    if (end != text && *end == '-') {
        const char *second = end + 1;
        hi = strtol(second, &end, 10);
        if (end == second)
            hi = -1;
    }
    if (end == text || *end != '\0' || errno == ERANGE || lo < 1 || hi < lo || hi > SR_MAX_TURNS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--turns",
                            "invalid session length '%s'; give N or MIN-MAX with "
                            "1 <= MIN <= MAX <= %d",
                            text, SR_MAX_TURNS);
    *turns_min = (int)lo;
    *turns_max = (int)hi;
    return SR_OK;
}

/* Checks one "LEFT=RIGHT" option item; returns the position of '='. */
static sr_status check_pair(const char *option, const char *item, const char *form, size_t *split,
                            sr_error *err)
{
    const char *eq = strchr(item, '=');
    if (eq == NULL || eq == item || eq[1] == '\0')
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, option, "invalid value '%s'; expected %s",
                            item, form);
    *split = (size_t)(eq - item);
    return SR_OK;
}

/* Parses "IN/OUT" prices in USD per 1M tokens. */
static bool parse_price_pair(const char *text, double *input_price, double *output_price)
{
    char *end = NULL;
    errno = 0;
    double in = strtod(text, &end);
    if (end == text || *end != '/')
        return false;
    const char *second = end + 1;
    double out = strtod(second, &end);
    if (end == second || *end != '\0' || errno == ERANGE)
        return false;
    if (!isfinite(in) || !isfinite(out) || in < 0 || out < 0)
        return false;
    *input_price = in;
    *output_price = out;
    return true;
}

sr_status sr_import_check_options(const sr_import_options *options, sr_error *err)
{
    size_t split;
    sr_status status;

    if (options->turns_min < 1 || options->turns_max < options->turns_min ||
        options->turns_max > SR_MAX_TURNS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--turns",
                            "invalid session length range %d-%d; need 1 <= MIN <= MAX <= %d",
                            options->turns_min, options->turns_max, SR_MAX_TURNS);
    if (!isfinite(options->output_tokens) || options->output_tokens < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--output-tokens",
                            "invalid output token count %g; give a finite number >= 0",
                            options->output_tokens);

    for (size_t i = 0; i < options->n_models; i++) {
        if (options->models[i][0] == '\0')
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--models", "empty model name");
        for (size_t k = 0; k < i; k++)
            if (strcmp(options->models[i], options->models[k]) == 0)
                return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--models",
                                    "model '%s' is listed twice", options->models[i]);
    }

    for (size_t i = 0; i < options->n_renames; i++) {
        status = check_pair("--rename", options->renames[i], "RAW=CANONICAL", &split, err);
        if (status != SR_OK)
            return status;
        for (size_t k = 0; k < i; k++)
            if (strncmp(options->renames[k], options->renames[i], split + 1) == 0)
                return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--rename",
                                    "model '%.*s' is renamed twice", (int)split,
                                    options->renames[i]);
    }

    for (size_t i = 0; i < options->n_prices; i++) {
        double in;
        double out;
        status = check_pair("--price", options->prices[i], "MODEL=IN/OUT (USD per 1M tokens)",
                            &split, err);
        if (status != SR_OK)
            return status;
        if (!parse_price_pair(options->prices[i] + split + 1, &in, &out))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--price",
                                "invalid prices in '%s'; expected MODEL=IN/OUT with two "
                                "non-negative numbers in USD per 1M tokens, e.g. gpt-4=30/60",
                                options->prices[i]);
    }

    for (size_t i = 0; i < options->n_price_keys; i++) {
        status =
            check_pair("--price-key", options->price_keys[i], "MODEL=LITELLM_KEY", &split, err);
        if (status != SR_OK)
            return status;
    }
    if (options->n_price_keys > 0 && options->litellm_path == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--price-key",
                            "--price-key needs the LiteLLM price table; add --prices FILE");
    return SR_OK;
}

const char *sr_import_rename(const sr_import_options *options, const char *raw)
{
    size_t n = strlen(raw);
    for (size_t i = 0; i < options->n_renames; i++) {
        const char *pair = options->renames[i];
        if (strncmp(pair, raw, n) == 0 && pair[n] == '=')
            return pair + n + 1;
    }
    return raw;
}

/* ---- prices ------------------------------------------------------------- */

/* Finds "NAME=..." in a list of option pairs and returns the text after '='. */
static const char *find_pair(const char *const *pairs, size_t n_pairs, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < n_pairs; i++)
        if (strncmp(pairs[i], name, n) == 0 && pairs[i][n] == '=')
            return pairs[i] + n + 1;
    return NULL;
}

static char *format_string(const char *format, ...) __attribute__((format(printf, 1, 2)));

static char *format_string(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(args, format);
    vsnprintf(s, (size_t)n + 1, format, args);
    va_end(args);
    return s;
}

/* Reads a non-negative finite number field of a catalogue entry (NAN if absent). */
static sr_status catalogue_number(json_t *entry, const char *key, const char *path,
                                  const char *name, double *value, sr_error *err)
{
    json_t *v = json_object_get(entry, key);
    *value = NAN;
    if (v == NULL || json_is_null(v))
        return SR_OK;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
        return sr_error_set(err, SR_ERR_INVALID, path, 0, key,
                            "model '%s': %s is not a non-negative number; fix the catalogue "
                            "file",
                            name, key);
    *value = json_number_value(v);
    return SR_OK;
}

/*
 * Looks `name` up in a catalogue document: {"models": [{"name", ...}]} (a
 * seqroute header or catalogue) or {NAME: {"input_price", "output_price"}}
 * (LLMRouter's LLM candidate list).  Sets *found.
 */
static sr_status catalogue_lookup(json_t *doc, const char *path, const char *name, bool *found,
                                  double *in, double *out, double *per_call, sr_error *err)
{
    json_t *entry = NULL;
    json_t *models = json_object_get(doc, "models");
    sr_status status;

    *found = false;
    if (json_is_array(models)) {
        size_t i;
        json_t *item;
        json_array_foreach(models, i, item)
        {
            json_t *n = json_object_get(item, "name");
            if (json_is_string(n) && strcmp(json_string_value(n), name) == 0) {
                entry = item;
                break;
            }
        }
    } else {
        entry = json_object_get(doc, name);
    }
    if (!json_is_object(entry))
        return SR_OK;

    status = catalogue_number(entry, "input_price", path, name, in, err);
    if (status == SR_OK)
        status = catalogue_number(entry, "output_price", path, name, out, err);
    if (status == SR_OK)
        status = catalogue_number(entry, "cost_per_call", path, name, per_call, err);
    if (status != SR_OK)
        return status;
    if (isnan(*per_call) && (isnan(*in) || isnan(*out)))
        return sr_error_set(err, SR_ERR_INVALID, path, 0, name,
                            "model '%s' has neither input_price and output_price nor "
                            "cost_per_call; fix the catalogue file or give --price",
                            name);
    *found = true;
    return SR_OK;
}

/* Loads the first JSON value of a catalogue file and checks its shape. */
static sr_status catalogue_load(const char *path, json_t **doc, sr_error *err)
{
    json_error_t jerr;
    json_t *value = json_load_file(path, JSON_DISABLE_EOF_CHECK, &jerr);

    if (value == NULL)
        return sr_error_set(err, SR_ERR_INVALID, path, jerr.line, NULL, "cannot read catalogue: %s",
                            jerr.text);
    bool shaped = json_is_array(json_object_get(value, "models"));
    if (!shaped && json_is_object(value) && json_object_size(value) > 0) {
        const char *key;
        json_t *entry;
        shaped = true;
        json_object_foreach(value, key, entry)
        {
            if (!json_is_object(entry) || json_object_get(entry, "input_price") == NULL)
                shaped = false;
        }
    }
    if (!shaped) {
        json_decref(value);
        return sr_error_set(err, SR_ERR_INVALID, path, 1, NULL,
                            "not a catalogue: expected a seqroute header or {\"models\": "
                            "[...]}, or an LLMRouter LLM list {NAME: {\"input_price\", "
                            "\"output_price\"}}");
    }
    *doc = value;
    return SR_OK;
}

sr_status sr_import_resolve_prices(const sr_import_options *options, sr_dataset *ds, char **sources,
                                   sr_error *err)
{
    sr_catalogue *cat = &ds->catalogue;
    sr_price_table *table = NULL;
    json_t *catalogue = NULL;
    sr_status status = SR_OK;
    char unpriced[SR_ERROR_MESSAGE_MAX / 2] = "";
    int n_unpriced = 0;

    if (options->litellm_path != NULL)
        status = sr_price_table_load(options->litellm_path, &table, err);
    if (status == SR_OK && options->catalogue_path != NULL)
        status = catalogue_load(options->catalogue_path, &catalogue, err);

    for (int k = 0; status == SR_OK && k < cat->n_models; k++) {
        sr_model *m = &cat->models[k];
        double in = NAN;
        double out = NAN;
        double per_call = NAN;
        char *source = NULL;
        const char *text;
        bool found = false;

        if (!isnan(m->input_price) || !isnan(m->cost_per_call))
            continue;

        /* 1. --price MODEL=IN/OUT */
        if ((text = find_pair(options->prices, options->n_prices, m->name)) != NULL) {
            parse_price_pair(text, &in, &out);
            source = format_string("--price %s=%s", m->name, text);
            found = true;
        }

        /* 2. --price-key MODEL=KEY */
        if (!found &&
            (text = find_pair(options->price_keys, options->n_price_keys, m->name)) != NULL) {
            status = sr_price_table_get(table, text, &in, &out, err);
            if (status != SR_OK)
                break;
            source = format_string("litellm %s (--price-key)", text);
            found = true;
        }

        /* 3. catalogue file */
        if (!found && catalogue != NULL) {
            status = catalogue_lookup(catalogue, options->catalogue_path, m->name, &found, &in,
                                      &out, &per_call, err);
            if (status != SR_OK)
                break;
            if (found)
                source = format_string("catalogue %s", options->catalogue_path);
        }

        /* 4. automatic LiteLLM lookup */
        if (!found && table != NULL) {
            const char *key = NULL;
            sr_error lookup_err;
            sr_status lookup = sr_price_table_find(table, m->name, &key, &lookup_err);
            if (lookup == SR_ERR_INVALID) {
                /* lookup_err.message already names the file and the model. */
                status = sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, NULL,
                                      "%s; pick one with --price-key %s=KEY or give "
                                      "--price %s=IN/OUT",
                                      lookup_err.message, m->name, m->name);
                break;
            }
            if (lookup == SR_OK) {
                status = sr_price_table_get(table, key, &in, &out, err);
                if (status != SR_OK)
                    break;
                source = format_string("litellm %s (matched by name)", key);
                found = true;
            }
        }

        if (!found) {
            size_t used = strlen(unpriced);
            snprintf(unpriced + used, sizeof(unpriced) - used, "%s'%s'", n_unpriced ? ", " : "",
                     m->name);
            n_unpriced++;
            continue;
        }
        if (source == NULL) {
            status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
            break;
        }
        m->input_price = isnan(per_call) ? in : NAN;
        m->output_price = isnan(per_call) ? out : NAN;
        m->cost_per_call = per_call;
        sr_log(SR_LOG_INFO,
               "import_price model=%s input_price=%g output_price=%g "
               "cost_per_call=%g source=\"%s\"",
               m->name, m->input_price, m->output_price, m->cost_per_call, source);
        if (sources != NULL)
            sources[k] = source;
        else
            free(source);
    }

    if (status == SR_OK && n_unpriced > 0)
        status = sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, "prices",
                              "no price for %d model(s): %s; give --price MODEL=IN/OUT (USD "
                              "per 1M tokens), --price-key MODEL=LITELLM_KEY with --prices "
                              "FILE, or --catalogue FILE",
                              n_unpriced, unpriced);

    /* Prices given for models that are not in the data are probably typos. */
    for (size_t i = 0; status == SR_OK && i < options->n_prices; i++) {
        const char *eq = strchr(options->prices[i], '=');
        char name[SR_MAX_NAME_BYTES];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - options->prices[i]), options->prices[i]);
        if (sr_dataset_find_model(ds, name) < 0)
            sr_log(SR_LOG_WARN, "import_price_unused model=%s reason=\"not a model of the data\"",
                   name);
    }

    json_decref(catalogue);
    sr_price_table_free(table);
    return status;
}

/* ---- chaining ----------------------------------------------------------- */

/* Copies models, cost unit and quality range of `from` into the empty `to`. */
static sr_status copy_catalogue(const sr_dataset *from, sr_dataset *to, sr_error *err)
{
    const sr_catalogue *cat = &from->catalogue;
    sr_status status = SR_OK;

    for (int k = 0; status == SR_OK && k < cat->n_models; k++) {
        const sr_model *m = &cat->models[k];
        status = sr_dataset_add_model(to, m->name, m->input_price, m->output_price,
                                      m->cost_per_call, m->fallback, err);
    }
    if (status == SR_OK && cat->cost_unit != NULL)
        status = sr_dataset_set_cost_unit(to, cat->cost_unit, err);
    to->catalogue.quality_min = cat->quality_min;
    to->catalogue.quality_max = cat->quality_max;
    return status;
}

/* Appends pool turn `j` with its outcomes to the current session of `out`. */
static sr_status copy_turn(const sr_dataset *pool, size_t j, sr_dataset *out, sr_error *err)
{
    const sr_turn *turn = &pool->turns[j];
    const int n_models = pool->catalogue.n_models;
    size_t dest;

    sr_status status =
        sr_dataset_add_turn(out, turn->text, turn->embedding, pool->catalogue.embedding_dim,
                            turn->source_id, turn->logged, &dest, err);
    for (int k = 0; status == SR_OK && k < n_models; k++) {
        const sr_outcome *o = sr_dataset_outcome(pool, j, k);
        if (!o->present)
            continue;
        status = sr_dataset_set_outcome(out, dest, k, o->quality, o->cost, o->input_tokens,
                                        o->output_tokens, err);
    }
    return status;
}

sr_status sr_import_chain(const sr_dataset *items, uint64_t seed, int turns_min, int turns_max,
                          const char *id_prefix, sr_dataset *out, sr_chain_result *result,
                          sr_error *err)
{
    const size_t n_items = items->n_turns;
    size_t *order = NULL;
    sr_rng rng;
    sr_status status;
    size_t next = 0;
    int remainder = 0;

    if (turns_min < 1 || turns_max < turns_min || turns_max > SR_MAX_TURNS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "--turns",
                            "invalid session length range %d-%d", turns_min, turns_max);
    if (n_items == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "no items to chain: every input row was skipped or the inputs "
                            "are empty");

    /* Shuffle the item order. */
    order = malloc(n_items * sizeof(*order));
    if (order == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = 0; i < n_items; i++)
        order[i] = i;
    sr_rng_seed(&rng, seed);
    sr_rng_shuffle(&rng, order, n_items, sizeof(*order));

    /* Cut sessions. */
    status = copy_catalogue(items, out, err);
    while (status == SR_OK && next < n_items) {
        char id[SR_MAX_NAME_BYTES];
        int length = turns_min;
        if (turns_max > turns_min)
            length += (int)sr_rng_below(&rng, (uint64_t)(turns_max - turns_min + 1));
        if ((size_t)length > n_items - next) {
            remainder = (int)(n_items - next);
            length = remainder;
        }
        snprintf(id, sizeof(id), "%s-%06zu", id_prefix, out->n_sessions + 1);
        status = sr_dataset_begin_session(out, id, NAN, err);
        for (int t = 0; status == SR_OK && t < length; t++)
            status = copy_turn(items, order[next++], out, err);
    }
    free(order);

    if (status != SR_OK) {
        sr_dataset_free(out);
        return status;
    }
    if (remainder > 0)
        sr_log(SR_LOG_INFO,
               "import_chain_remainder session=%s turns=%d reason=\"the last session is "
               "shorter because the item count is not a multiple of the session length\"",
               out->sessions[out->n_sessions - 1].id, remainder);
    if (result != NULL) {
        result->items = n_items;
        result->sessions = out->n_sessions;
        result->remainder_turns = remainder;
    }
    return SR_OK;
}

/* ---- provenance --------------------------------------------------------- */

static sr_status set_header_extra(sr_dataset *ds, json_t *extra, sr_error *err)
{
    char *text = json_dumps(extra, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(extra);
    if (text == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    free(ds->header_extra);
    ds->header_extra = text;
    return SR_OK;
}

sr_status sr_import_set_source(sr_dataset *ds, json_t *source, sr_error *err)
{
    json_t *extra = json_object();
    if (extra == NULL || source == NULL) {
        json_decref(extra);
        json_decref(source);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    json_object_set_new(extra, "source", source);
    return set_header_extra(ds, extra, err);
}

sr_status sr_import_finish_chained(const sr_dataset *pool, const sr_import_options *options,
                                   const char *id_prefix, json_t *source, sr_dataset *ds,
                                   sr_import_report *report, sr_error *err)
{
    sr_chain_result chain = {0};
    char turns[32];

    sr_status status = sr_import_chain(pool, options->seed, options->turns_min, options->turns_max,
                                       id_prefix, ds, &chain, err);
    if (status != SR_OK) {
        json_decref(source);
        return status;
    }

    if (options->turns_min == options->turns_max)
        snprintf(turns, sizeof(turns), "%d", options->turns_min);
    else
        snprintf(turns, sizeof(turns), "%d-%d", options->turns_min, options->turns_max);
    json_t *extra = json_object();
    json_t *chaining = json_object();
    if (extra == NULL || chaining == NULL || source == NULL) {
        json_decref(extra);
        json_decref(chaining);
        json_decref(source);
        sr_dataset_free(ds);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    json_object_set_new(chaining, "seed", json_integer((json_int_t)options->seed));
    json_object_set_new(chaining, "turns", json_string(turns));
    json_object_set_new(
        chaining, "length",
        json_string(options->turns_min == options->turns_max ? "fixed" : "uniform per session"));
    json_object_set_new(chaining, "items", json_integer((json_int_t)chain.items));
    json_object_set_new(chaining, "sessions", json_integer((json_int_t)chain.sessions));
    json_object_set_new(chaining, "remainder_turns", json_integer(chain.remainder_turns));
    json_object_set_new(extra, "chaining", chaining);
    json_object_set_new(extra, "source", source);
    status = set_header_extra(ds, extra, err);
    if (status != SR_OK) {
        sr_dataset_free(ds);
        return status;
    }

    if (report != NULL) {
        report->items = chain.items;
        report->sessions = chain.sessions;
        report->turns = ds->n_turns;
        report->remainder_turns = chain.remainder_turns;
        report->outcomes = 0;
        for (size_t i = 0; i < ds->n_turns * (size_t)ds->catalogue.n_models; i++)
            report->outcomes += ds->outcomes[i].present;
    }
    return SR_OK;
}

/* ---- CSV reading -------------------------------------------------------- */

typedef struct csv_reader {
    const char *path;
    sr_csv_record_fn on_record;
    void *user_data;
    sr_error *err;
    sr_status status;

    char **fields;
    size_t *lengths;
    size_t n_fields;
    size_t record_bytes;
    long record_line;
    bool between_records;
} csv_reader;

static void reader_clear(csv_reader *r)
{
    for (size_t i = 0; i < r->n_fields; i++)
        free(r->fields[i]);
    r->n_fields = 0;
    r->record_bytes = 0;
}

static void on_csv_field(void *field, size_t length, void *data)
{
    csv_reader *r = data;

    if (r->status != SR_OK)
        return;
    if (r->n_fields >= SR_IMPORT_MAX_CSV_FIELDS) {
        r->status = sr_error_set(r->err, SR_ERR_INVALID, r->path, r->record_line, NULL,
                                 "record has more than %d fields", SR_IMPORT_MAX_CSV_FIELDS);
        return;
    }
    r->record_bytes += length;
    if (r->record_bytes > SR_MAX_LINE_BYTES) {
        r->status = sr_error_set(r->err, SR_ERR_INVALID, r->path, r->record_line, NULL,
                                 "record is longer than the limit of %u bytes", SR_MAX_LINE_BYTES);
        return;
    }
    char *copy = malloc(length + 1);
    if (copy == NULL) {
        r->status =
            sr_error_set(r->err, SR_ERR_NOMEM, r->path, r->record_line, NULL, "out of memory");
        return;
    }
    if (length > 0)
        memcpy(copy, field, length);
    copy[length] = '\0';
    r->fields[r->n_fields] = copy;
    r->lengths[r->n_fields] = length;
    r->n_fields++;
}

static void on_csv_record(int terminator, void *data)
{
    csv_reader *r = data;
    (void)terminator;

    if (r->status == SR_OK)
        r->status =
            r->on_record(r->user_data, r->record_line, r->n_fields, r->fields, r->lengths, r->err);
    reader_clear(r);
    r->between_records = true;
}

/* True when a line holds only spaces, tabs and line terminators, which
 * libcsv skips between records. */
static bool is_blank(const char *line, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
            return false;
    return true;
}

sr_status sr_import_read_csv(const char *path, sr_csv_record_fn on_record, void *user_data,
                             sr_error *err)
{
    struct csv_parser parser;
    csv_reader r = {.path = path,
                    .on_record = on_record,
                    .user_data = user_data,
                    .err = err,
                    .status = SR_OK,
                    .between_records = true};
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    long line_no = 0;

    FILE *in = fopen(path, "rb");
    if (in == NULL)
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
    r.fields = calloc(SR_IMPORT_MAX_CSV_FIELDS, sizeof(*r.fields));
    r.lengths = calloc(SR_IMPORT_MAX_CSV_FIELDS, sizeof(*r.lengths));
    if (r.fields == NULL || r.lengths == NULL ||
        csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        free(r.fields);
        free(r.lengths);
        fclose(in);
        return sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory");
    }

    /* Feed one physical line at a time so the line of each record start is known. */
    while (r.status == SR_OK && (length = getline(&line, &capacity, in)) != -1) {
        const char *data = line;
        size_t size = (size_t)length;
        line_no++;
        if (line_no == 1 && size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
            data += 3;
            size -= 3;
        }
        if (r.between_records && !is_blank(data, size)) {
            r.record_line = line_no;
            r.between_records = false;
        }
        if (csv_parse(&parser, data, size, on_csv_field, on_csv_record, &r) != size &&
            r.status == SR_OK)
            r.status = sr_error_set(err, SR_ERR_INVALID, path, line_no, NULL,
                                    "invalid CSV (%s); quote fields that contain commas, "
                                    "quotes or line breaks, and double quotes inside them",
                                    csv_strerror(csv_error(&parser)));
    }
    if (r.status == SR_OK && ferror(in))
        r.status =
            sr_error_set(err, SR_ERR_IO, path, line_no, NULL, "read failed: %s", strerror(errno));
    if (r.status == SR_OK && csv_fini(&parser, on_csv_field, on_csv_record, &r) != 0 &&
        r.status == SR_OK)
        r.status = sr_error_set(err, SR_ERR_INVALID, path, r.record_line, NULL,
                                "invalid CSV at end of file (%s); a quoted field that starts "
                                "here is not closed",
                                csv_strerror(csv_error(&parser)));

    reader_clear(&r);
    csv_free(&parser);
    free(r.fields);
    free(r.lengths);
    free(line);
    fclose(in);
    return r.status;
}
