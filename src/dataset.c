/*
 * dataset.c - building, querying and writing session datasets.
 *
 * The loader lives in dataset_load.c; this file holds everything that does
 * not parse untrusted bytes: the builder used by the loader, the importers
 * and the generator, summary statistics, and the JSON Lines writer.  The
 * writer emits the same field names the loader accepts, so that
 * load(write(ds)) reproduces ds exactly (doubles are printed with 17
 * significant digits, which round-trips IEEE-754 binary64).
 */
#include "seqroute/dataset.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sr_dataset_init(sr_dataset *ds)
{
    memset(ds, 0, sizeof(*ds));
    ds->catalogue.quality_min = 0.0;
    ds->catalogue.quality_max = 1.0;
}

void sr_dataset_free(sr_dataset *ds)
{
    for (int k = 0; k < ds->catalogue.n_models; k++)
        free(ds->catalogue.models[k].name);
    free(ds->catalogue.cost_unit);
    for (size_t i = 0; i < ds->n_sessions; i++)
        free(ds->sessions[i].id);
    for (size_t j = 0; j < ds->n_turns; j++) {
        free(ds->turns[j].text);
        free(ds->turns[j].embedding);
        free(ds->turns[j].source_id);
    }
    free(ds->sessions);
    free(ds->turns);
    free(ds->outcomes);
    free(ds->header_extra);
    sr_dataset_init(ds);
}

static char *copy_string(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy != NULL)
        memcpy(copy, s, n);
    return copy;
}

sr_status sr_dataset_add_model(sr_dataset *ds, const char *name, double input_price,
                               double output_price, double cost_per_call, bool fallback,
                               sr_error *err)
{
    sr_catalogue *cat = &ds->catalogue;

    if (ds->n_turns > 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models",
                            "cannot add model '%s' after sessions were added", name);
    if (name == NULL || name[0] == '\0')
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models.name",
                            "model name is empty; give every model a unique name");
    if (strlen(name) >= SR_MAX_NAME_BYTES)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models.name",
                            "model name of %zu bytes is longer than the limit of %d", strlen(name),
                            SR_MAX_NAME_BYTES - 1);
    if (sr_dataset_find_model(ds, name) >= 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models.name",
                            "duplicate model name '%s'; model names must be unique", name);
    if (cat->n_models >= SR_MAX_MODELS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models",
                            "more than %d models in the catalogue", SR_MAX_MODELS);

    const double prices[3] = {input_price, output_price, cost_per_call};
    const char *fields[3] = {"input_price", "output_price", "cost_per_call"};
    for (int i = 0; i < 3; i++) {
        if (isnan(prices[i]))
            continue;
        if (!isfinite(prices[i]) || prices[i] < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, fields[i],
                                "price %g of model '%s' is not a finite non-negative number",
                                prices[i], name);
    }

    char *copy = copy_string(name);
    if (copy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    sr_model *m = &cat->models[cat->n_models++];
    m->name = copy;
    m->input_price = input_price;
    m->output_price = output_price;
    m->cost_per_call = cost_per_call;
    m->fallback = fallback;
    return SR_OK;
}

int sr_dataset_find_model(const sr_dataset *ds, const char *name)
{
    for (int k = 0; k < ds->catalogue.n_models; k++)
        if (strcmp(ds->catalogue.models[k].name, name) == 0)
            return k;
    return -1;
}

sr_status sr_dataset_set_cost_unit(sr_dataset *ds, const char *unit, sr_error *err)
{
    char *copy = copy_string(unit);
    if (copy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    free(ds->catalogue.cost_unit);
    ds->catalogue.cost_unit = copy;
    return SR_OK;
}

/* Grows `*array` to hold at least `needed` elements, doubling capacity. */
static bool grow(void **array, size_t *capacity, size_t needed, size_t element_size)
{
    if (needed <= *capacity)
        return true;
    size_t new_capacity = *capacity ? *capacity : 16;
    while (new_capacity < needed)
        new_capacity *= 2;
    void *p = realloc(*array, new_capacity * element_size);
    if (p == NULL)
        return false;
    *array = p;
    *capacity = new_capacity;
    return true;
}

sr_status sr_dataset_begin_session(sr_dataset *ds, const char *id, double budget, sr_error *err)
{
    if (id == NULL || id[0] == '\0')
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "id", "session id is empty");
    if (strlen(id) >= SR_MAX_NAME_BYTES)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "id",
                            "session id of %zu bytes is longer than the limit of %d", strlen(id),
                            SR_MAX_NAME_BYTES - 1);
    if (!isnan(budget) && (!isfinite(budget) || budget < 0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget",
                            "budget %g of session '%s' is not a finite non-negative number", budget,
                            id);
    if (!grow((void **)&ds->sessions, &ds->cap_sessions, ds->n_sessions + 1, sizeof(sr_session)))
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");

    char *copy = copy_string(id);
    if (copy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    sr_session *s = &ds->sessions[ds->n_sessions++];
    s->id = copy;
    s->budget = budget;
    s->first_turn = ds->n_turns;
    s->n_turns = 0;
    return SR_OK;
}

sr_status sr_dataset_add_turn(sr_dataset *ds, const char *text, const float *embedding,
                              int embedding_dim, const char *source_id, int logged,
                              size_t *turn_index, sr_error *err)
{
    const int n_models = ds->catalogue.n_models;

    if (ds->n_sessions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "turn added before any session was begun");
    if (n_models == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models", "the catalogue has no models");
    sr_session *s = &ds->sessions[ds->n_sessions - 1];
    if (s->n_turns >= SR_MAX_TURNS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "turns",
                            "session '%s' has more than %d turns", s->id, SR_MAX_TURNS);
    if (logged < -1 || logged >= n_models)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "logged",
                            "logged model index %d is outside the catalogue", logged);
    if (embedding != NULL) {
        if (embedding_dim <= 0 || embedding_dim > SR_MAX_EMBEDDING_DIM)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "embedding",
                                "embedding length %d is outside 1..%d", embedding_dim,
                                SR_MAX_EMBEDDING_DIM);
        if (ds->catalogue.embedding_dim != 0 && ds->catalogue.embedding_dim != embedding_dim)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "embedding",
                                "embedding has %d values but the data set uses %d", embedding_dim,
                                ds->catalogue.embedding_dim);
    }

    /* Reserve all storage first so a failure leaves the dataset unchanged. */
    if (!grow((void **)&ds->turns, &ds->cap_turns, ds->n_turns + 1, sizeof(sr_turn)))
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    if (ds->outcomes == NULL || ds->cap_outcome_turns < ds->cap_turns) {
        /* The outcome array follows the turn array's capacity, so it grows
         * only when that doubles, not on every turn. */
        sr_outcome *outcomes =
            realloc(ds->outcomes, ds->cap_turns * (size_t)n_models * sizeof(sr_outcome));
        if (outcomes == NULL)
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        ds->outcomes = outcomes;
        ds->cap_outcome_turns = ds->cap_turns;
    }

    sr_turn turn = {.logged = logged};
    turn.text = copy_string(text);
    turn.source_id = copy_string(source_id);
    if (embedding != NULL) {
        turn.embedding = malloc((size_t)embedding_dim * sizeof(float));
        if (turn.embedding != NULL)
            memcpy(turn.embedding, embedding, (size_t)embedding_dim * sizeof(float));
    }
    if ((text != NULL && turn.text == NULL) || (source_id != NULL && turn.source_id == NULL) ||
        (embedding != NULL && turn.embedding == NULL)) {
        free(turn.text);
        free(turn.source_id);
        free(turn.embedding);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }

    /* Commit. */
    if (embedding != NULL)
        ds->catalogue.embedding_dim = embedding_dim;
    size_t j = ds->n_turns++;
    ds->turns[j] = turn;
    for (int k = 0; k < n_models; k++) {
        sr_outcome *o = &ds->outcomes[j * (size_t)n_models + (size_t)k];
        o->quality = NAN;
        o->cost = NAN;
        o->input_tokens = NAN;
        o->output_tokens = NAN;
        o->present = false;
    }
    s->n_turns++;
    if (turn_index != NULL)
        *turn_index = j;
    return SR_OK;
}

double sr_catalogue_price(const sr_catalogue *cat, int model, double input_tokens,
                          double output_tokens)
{
    const sr_model *m = &cat->models[model];

    if (!isnan(m->cost_per_call))
        return m->cost_per_call;
    if (isnan(m->input_price) || isnan(m->output_price))
        return NAN;
    double in = isnan(input_tokens) ? 0.0 : input_tokens;
    double out = isnan(output_tokens) ? 0.0 : output_tokens;
    return in * m->input_price / 1e6 + out * m->output_price / 1e6;
}

sr_status sr_dataset_set_outcome(sr_dataset *ds, size_t turn_index, int model, double quality,
                                 double cost, double input_tokens, double output_tokens,
                                 sr_error *err)
{
    const sr_catalogue *cat = &ds->catalogue;

    if (turn_index >= ds->n_turns || model < 0 || model >= cat->n_models)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "outcome for turn %zu, model %d is out of range", turn_index, model);
    const char *name = cat->models[model].name;
    if (!isfinite(quality) || quality < cat->quality_min || quality > cat->quality_max)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "quality",
                            "quality %g of model '%s' is outside the declared range [%g, %g]",
                            quality, name, cat->quality_min, cat->quality_max);
    const double tokens[2] = {input_tokens, output_tokens};
    const char *token_fields[2] = {"input_tokens", "output_tokens"};
    for (int i = 0; i < 2; i++)
        if (!isnan(tokens[i]) && (!isfinite(tokens[i]) || tokens[i] < 0))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, token_fields[i],
                                "token count %g of model '%s' is not a finite non-negative "
                                "number",
                                tokens[i], name);
    if (isnan(cost)) {
        if (isnan(input_tokens) && isnan(output_tokens))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "cost",
                                "outcome of model '%s' has neither 'cost' nor token counts; "
                                "give one of them",
                                name);
        cost = sr_catalogue_price(cat, model, input_tokens, output_tokens);
        if (isnan(cost))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "cost",
                                "outcome of model '%s' gives token counts but the catalogue "
                                "has no price for it; add input_price and output_price or "
                                "cost_per_call to the model",
                                name);
    }
    if (!isfinite(cost) || cost < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "cost",
                            "cost %g of model '%s' is not a finite non-negative number", cost,
                            name);

    sr_outcome *o = &ds->outcomes[turn_index * (size_t)cat->n_models + (size_t)model];
    o->quality = quality;
    o->cost = cost;
    o->input_tokens = input_tokens;
    o->output_tokens = output_tokens;
    o->present = true;
    return SR_OK;
}

void sr_dataset_drop_last_session(sr_dataset *ds)
{
    if (ds->n_sessions == 0)
        return;
    sr_session *s = &ds->sessions[ds->n_sessions - 1];
    for (size_t j = s->first_turn; j < ds->n_turns; j++) {
        free(ds->turns[j].text);
        free(ds->turns[j].embedding);
        free(ds->turns[j].source_id);
    }
    ds->n_turns = s->first_turn;
    free(s->id);
    ds->n_sessions--;
}

bool sr_dataset_is_full_information(const sr_dataset *ds)
{
    size_t n = ds->n_turns * (size_t)ds->catalogue.n_models;
    for (size_t i = 0; i < n; i++)
        if (!ds->outcomes[i].present)
            return false;
    return true;
}

void sr_dataset_model_stats(const sr_dataset *ds, double *mean_quality, double *mean_cost,
                            size_t *count)
{
    const int n_models = ds->catalogue.n_models;

    for (int k = 0; k < n_models; k++) {
        double sum_quality = 0;
        double sum_cost = 0;
        size_t n = 0;
        for (size_t j = 0; j < ds->n_turns; j++) {
            const sr_outcome *o = sr_dataset_outcome(ds, j, k);
            if (!o->present)
                continue;
            sum_quality += o->quality;
            sum_cost += o->cost;
            n++;
        }
        if (mean_quality)
            mean_quality[k] = n ? sum_quality / (double)n : NAN;
        if (mean_cost)
            mean_cost[k] = n ? sum_cost / (double)n : NAN;
        if (count)
            count[k] = n;
    }
}

/* ---- writer ----------------------------------------------------------- */

/* Dump flags: compact, keys in insertion order, 17 significant digits. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))

static sr_status dump_line(json_t *value, FILE *out, sr_error *err)
{
    if (value == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    int rc = json_dumpf(value, out, DUMP_FLAGS);
    json_decref(value);
    if (rc != 0 || fputc('\n', out) == EOF)
        return sr_error_set(err, SR_ERR_IO, NULL, 0, NULL, "write failed: %s", strerror(errno));
    return SR_OK;
}

/* Integral token counts print as integers, so files stay readable. */
static json_t *number_value(double x)
{
    if (x == floor(x) && fabs(x) < 9007199254740992.0)
        return json_integer((json_int_t)x);
    return json_real(x);
}

sr_status sr_dataset_write_header(const sr_dataset *ds, FILE *out, sr_error *err)
{
    const sr_catalogue *cat = &ds->catalogue;
    json_t *header = json_object();
    json_t *models = json_array();
    json_t *range = json_array();

    json_object_set_new(header, "seqroute_sessions", json_integer(SR_SESSIONS_FORMAT_VERSION));
    json_object_set_new(header, "cost_unit",
                        json_string(cat->cost_unit ? cat->cost_unit : "units"));
    json_array_append_new(range, number_value(cat->quality_min));
    json_array_append_new(range, number_value(cat->quality_max));
    json_object_set_new(header, "quality_range", range);
    for (int k = 0; k < cat->n_models; k++) {
        const sr_model *m = &cat->models[k];
        json_t *entry = json_object();
        json_object_set_new(entry, "name", json_string(m->name));
        if (!isnan(m->input_price))
            json_object_set_new(entry, "input_price", number_value(m->input_price));
        if (!isnan(m->output_price))
            json_object_set_new(entry, "output_price", number_value(m->output_price));
        if (!isnan(m->cost_per_call))
            json_object_set_new(entry, "cost_per_call", number_value(m->cost_per_call));
        if (m->fallback)
            json_object_set_new(entry, "fallback", json_true());
        json_array_append_new(models, entry);
    }
    json_object_set_new(header, "models", models);
    if (cat->embedding_dim > 0)
        json_object_set_new(header, "embedding_dim", json_integer(cat->embedding_dim));

    /* Provenance keys (chaining, source) go after the fixed ones. */
    if (ds->header_extra != NULL) {
        json_t *extra = json_loads(ds->header_extra, 0, NULL);
        if (json_is_object(extra)) {
            const char *key;
            json_t *value;
            json_object_foreach(extra, key, value)
            {
                if (json_object_get(header, key) == NULL)
                    json_object_set(header, key, value);
            }
        }
        json_decref(extra);
    }
    return dump_line(header, out, err);
}

sr_status sr_dataset_write_session(const sr_dataset *ds, size_t session_index, FILE *out,
                                   sr_error *err)
{
    const sr_catalogue *cat = &ds->catalogue;
    const sr_session *s = &ds->sessions[session_index];
    json_t *line = json_object();
    json_t *turns = json_array();

    json_object_set_new(line, "id", json_string(s->id));
    if (!isnan(s->budget))
        json_object_set_new(line, "budget", number_value(s->budget));
    for (int t = 0; t < s->n_turns; t++) {
        size_t j = s->first_turn + (size_t)t;
        const sr_turn *turn = &ds->turns[j];
        json_t *entry = json_object();
        if (turn->source_id != NULL)
            json_object_set_new(entry, "source_id", json_string(turn->source_id));
        if (turn->text != NULL)
            json_object_set_new(entry, "text", json_string(turn->text));
        if (turn->embedding != NULL) {
            json_t *embedding = json_array();
            for (int d = 0; d < cat->embedding_dim; d++)
                json_array_append_new(embedding, json_real(turn->embedding[d]));
            json_object_set_new(entry, "embedding", embedding);
        }
        json_t *outcomes = json_object();
        for (int k = 0; k < cat->n_models; k++) {
            const sr_outcome *o = sr_dataset_outcome(ds, j, k);
            if (!o->present)
                continue;
            json_t *value = json_object();
            json_object_set_new(value, "quality", number_value(o->quality));
            json_object_set_new(value, "cost", json_real(o->cost));
            if (!isnan(o->input_tokens))
                json_object_set_new(value, "input_tokens", number_value(o->input_tokens));
            if (!isnan(o->output_tokens))
                json_object_set_new(value, "output_tokens", number_value(o->output_tokens));
            json_object_set_new(outcomes, cat->models[k].name, value);
        }
        json_object_set_new(entry, "outcomes", outcomes);
        if (turn->logged >= 0)
            json_object_set_new(entry, "logged", json_string(cat->models[turn->logged].name));
        json_array_append_new(turns, entry);
    }
    json_object_set_new(line, "turns", turns);
    return dump_line(line, out, err);
}

sr_status sr_dataset_write(const sr_dataset *ds, FILE *out, sr_error *err)
{
    sr_status status = sr_dataset_write_header(ds, out, err);
    for (size_t i = 0; status == SR_OK && i < ds->n_sessions; i++)
        status = sr_dataset_write_session(ds, i, out, err);
    return status;
}

sr_status sr_dataset_save(const sr_dataset *ds, const char *path, sr_error *err)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        sr_status status = sr_dataset_write(ds, stdout, err);
        if (status == SR_OK && fflush(stdout) != 0)
            return sr_error_set(err, SR_ERR_IO, "<stdout>", 0, NULL, "write failed: %s",
                                strerror(errno));
        return status;
    }

    FILE *out = fopen(path, "w");
    if (out == NULL)
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL,
                            "cannot open for writing: %s; check the folder exists and is "
                            "writable",
                            strerror(errno));
    sr_status status = sr_dataset_write(ds, out, err);
    if (fclose(out) != 0 && status == SR_OK)
        status = sr_error_set(err, SR_ERR_IO, path, 0, NULL, "write failed: %s", strerror(errno));
    if (status != SR_OK && err != NULL && err->path[0] == '\0')
        snprintf(err->path, sizeof(err->path), "%s", path);
    return status;
}
