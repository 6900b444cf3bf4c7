/*
 * import_prices.c - LiteLLM's public price table (the JSON file
 * model_prices_and_context_window.json of BerriAI/litellm).
 *
 * The file is one object: model key -> entry, where an entry gives
 * input_cost_per_token and output_cost_per_token in USD per token.  Keys
 * often carry a provider prefix ("together_ai/mistralai/Mixtral-8x7B-
 * Instruct-v0.1"), so a bare model name is matched against the key suffix
 * after a '/' as well; several hosts of one open model then match, and the
 * lookup reports them all instead of guessing.  The table is kept as the
 * parsed jansson object: a few thousand entries, searched once per model.
 */
#include "seqroute/import.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Candidates listed in an "ambiguous model" message; enough to choose one. */
#define MAX_LISTED_CANDIDATES 12

/* Significant digits kept when converting per-token prices to per-1M
 * prices: LiteLLM writes at most a few digits, so 10 keeps every real digit
 * and drops the binary noise of 1e-05 * 1e6 = 10.000000000000002. */
#define PRICE_SIGNIFICANT_DIGITS 10

struct sr_price_table {
    json_t *root;
    char *path;
};

sr_status sr_price_table_load(const char *path, sr_price_table **table, sr_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);

    if (root == NULL)
        return sr_error_set(err, SR_ERR_INVALID, path, jerr.line, NULL,
                            "cannot read the LiteLLM price table: %s", jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sr_error_set(err, SR_ERR_INVALID, path, 1, NULL,
                            "not a LiteLLM price table: expected a JSON object of model "
                            "entries");
    }

    sr_price_table *t = calloc(1, sizeof(*t));
    char *copy = strdup(path);
    if (t == NULL || copy == NULL) {
        free(t);
        free(copy);
        json_decref(root);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    t->root = root;
    t->path = copy;
    *table = t;
    return SR_OK;
}

void sr_price_table_free(sr_price_table *table)
{
    if (table == NULL)
        return;
    json_decref(table->root);
    free(table->path);
    free(table);
}

/* True for keys that hold model entries ("sample_spec" documents the schema). */
static bool is_entry(const char *key, json_t *value)
{
    return json_is_object(value) && strcmp(key, "sample_spec") != 0;
}

static double per_million(double per_token)
{
    char text[64];
    snprintf(text, sizeof(text), "%.*g", PRICE_SIGNIFICANT_DIGITS, per_token * 1e6);
    return strtod(text, NULL);
}

sr_status sr_price_table_get(const sr_price_table *table, const char *key, double *input_price,
                             double *output_price, sr_error *err)
{
    json_t *entry = json_object_get(table->root, key);

    if (entry == NULL || !is_entry(key, entry))
        return sr_error_set(err, SR_ERR_NOT_FOUND, table->path, 0, key,
                            "no entry '%s' in the LiteLLM price table; check the key "
                            "(keys are case-sensitive and often start with a provider, "
                            "e.g. together_ai/...)",
                            key);

    json_t *in = json_object_get(entry, "input_cost_per_token");
    json_t *out = json_object_get(entry, "output_cost_per_token");
    if (!json_is_number(in) || !json_is_number(out) || json_number_value(in) < 0 ||
        json_number_value(out) < 0 || !isfinite(json_number_value(in)) ||
        !isfinite(json_number_value(out)))
        return sr_error_set(err, SR_ERR_INVALID, table->path, 0, key,
                            "entry '%s' has no valid input_cost_per_token and "
                            "output_cost_per_token; pick another key or give --price",
                            key);
    *input_price = per_million(json_number_value(in));
    *output_price = per_million(json_number_value(out));
    return SR_OK;
}

/* True when `key` ends in "/NAME", ignoring case. */
static bool suffix_match(const char *key, const char *name)
{
    size_t k = strlen(key);
    size_t n = strlen(name);
    return k > n && key[k - n - 1] == '/' && strcasecmp(key + k - n, name) == 0;
}

sr_status sr_price_table_find(const sr_price_table *table, const char *name, const char **key,
                              sr_error *err)
{
    const char *found = NULL;
    const char *k;
    json_t *value;
    char listed[SR_ERROR_MESSAGE_MAX / 2] = "";
    int n_matches = 0;

    /* Exact key. */
    json_t *entry = json_object_get(table->root, name);
    if (entry != NULL && is_entry(name, entry)) {
        *key = json_object_iter_key(json_object_iter_at(table->root, name));
        return SR_OK;
    }

    /* Same key ignoring case, then "/NAME" suffix ignoring case. */
    for (int pass = 0; pass < 2 && n_matches == 0; pass++) {
        json_object_foreach(table->root, k, value)
        {
            if (!is_entry(k, value))
                continue;
            bool match = pass == 0 ? strcasecmp(k, name) == 0 : suffix_match(k, name);
            if (!match)
                continue;
            if (n_matches < MAX_LISTED_CANDIDATES) {
                size_t used = strlen(listed);
                snprintf(listed + used, sizeof(listed) - used, "%s%s", n_matches ? ", " : "", k);
            }
            found = k;
            n_matches++;
        }
    }

    if (n_matches == 0)
        return sr_error_set(err, SR_ERR_NOT_FOUND, table->path, 0, name,
                            "model '%s' is not in the LiteLLM price table", name);
    if (n_matches > 1)
        return sr_error_set(err, SR_ERR_INVALID, table->path, 0, name,
                            "model '%s' matches %d LiteLLM keys (%s%s)", name, n_matches, listed,
                            n_matches > MAX_LISTED_CANDIDATES ? ", ..." : "");
    *key = found;
    return SR_OK;
}
