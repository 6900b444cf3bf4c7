/*
 * import_routerbench.c - RouterBench wide CSVs (one row per prompt, one
 * correctness and one dollar-cost column per model) to chained sessions.
 *
 * Layout of a file, as re-committed by the RouterDC authors: an unnamed
 * index column, sample_id, prompt, eval_name, then `<model>` (correctness
 * 1.0 / 0.0), `<model>|model_response` and `<model>|total_cost` (USD) for
 * each model, and oracle_model_to_route_to.  Models are recognised as the
 * columns X for which "X|total_cost" also exists, so extra columns do no
 * harm.  `prompt` is a Python list literal ("['...']") and is decoded to
 * plain text.
 *
 * Rows with an empty correctness or cost cell (upstream, some ARC rows are
 * only partly filled) are reported with file, line and column and skipped;
 * every other bad cell stops the import, because a non-numeric, negative or
 * out-of-range value means the file is not what this importer expects.
 */
#include "seqroute/import.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Separator between the elements of a multi-element prompt list. */
#define PYLIST_JOIN "\n\n"

/* ---- Python list literal decoding ---------------------------------------- */

typedef struct text_buffer {
    char *data;
    size_t length;
    size_t capacity;
} text_buffer;

static bool buffer_append(text_buffer *b, const char *bytes, size_t n)
{
    if (b->length + n + 1 > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 64;
        while (capacity < b->length + n + 1)
            capacity *= 2;
        char *p = realloc(b->data, capacity);
        if (p == NULL)
            return false;
        b->data = p;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, bytes, n);
    b->length += n;
    b->data[b->length] = '\0';
    return true;
}

/* Appends code point `cp` as UTF-8; false for NUL, surrogates and > U+10FFFF. */
static bool append_code_point(text_buffer *b, uint32_t cp)
{
    char bytes[4];
    size_t n;

    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    if (cp < 0x80) {
        bytes[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        bytes[0] = (char)(0xC0 | (cp >> 6));
        bytes[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (char)(0xE0 | (cp >> 12));
        bytes[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        bytes[0] = (char)(0xF0 | (cp >> 18));
        bytes[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        bytes[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buffer_append(b, bytes, n);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads exactly `digits` hex digits at *p; -1 when they are not there. */
static long read_hex(const char **p, int digits)
{
    long value = 0;
    for (int i = 0; i < digits; i++) {
        int h = hex_value((*p)[i]);
        if (h < 0)
            return -1;
        value = value * 16 + h;
    }
    *p += digits;
    return value;
}

static void skip_space(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

/*
 * Decodes one quoted string starting at *p (on the quote) and appends it to
 * `b`.  Returns NULL on success or a static description of the problem.
 */
static const char *decode_string(const char **p, text_buffer *b)
{
    const char quote = **p;
    const char *s = *p + 1;

    while (*s != quote) {
        if (*s == '\0')
            return "string is not closed";
        if (*s != '\\') {
            const char *run = s;
            while (*s != '\0' && *s != '\\' && *s != quote)
                s++;
            if (!buffer_append(b, run, (size_t)(s - run)))
                return "out of memory";
            continue;
        }

        /* An escape sequence. */
        s++;
        char c = *s++;
        char simple = 0;
        long cp = -2;
        switch (c) {
        case 'n':
            simple = '\n';
            break;
        case 't':
            simple = '\t';
            break;
        case 'r':
            simple = '\r';
            break;
        case '\\':
        case '\'':
        case '"':
            simple = c;
            break;
        case 'a':
            simple = '\a';
            break;
        case 'b':
            simple = '\b';
            break;
        case 'f':
            simple = '\f';
            break;
        case 'v':
            simple = '\v';
            break;
        case '\n':
            continue; /* line continuation */
        case 'x':
            cp = read_hex(&s, 2);
            break;
        case 'u':
            cp = read_hex(&s, 4);
            break;
        case 'U':
            cp = read_hex(&s, 8);
            break;
        case '\0':
            return "string ends in a backslash";
        default:
            if (c >= '0' && c <= '7') {
                cp = c - '0';
                for (int i = 0; i < 2 && *s >= '0' && *s <= '7'; i++)
                    cp = cp * 8 + (*s++ - '0');
            }
            break;
        }

        if (simple != 0) {
            if (!buffer_append(b, &simple, 1))
                return "out of memory";
        } else if (cp == -1) {
            return "\\x, \\u or \\U escape without enough hex digits";
        } else if (cp >= 0) {
            if (!append_code_point(b, (uint32_t)cp))
                return "escape encodes NUL, a surrogate or a code point above U+10FFFF";
        } else {
            /* Python keeps unknown escapes such as \d as they are. */
            char kept[2] = {'\\', c};
            if (!buffer_append(b, kept, 2))
                return "out of memory";
        }
    }
    *p = s + 1;
    return NULL;
}

sr_status sr_import_decode_pylist(const char *literal, const char *where, char **text,
                                  sr_error *err)
{
    text_buffer b = {0};
    const char *p = literal;
    const char *problem = NULL;
    int n_elements = 0;

    if (!buffer_append(&b, "", 0))
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");

    /* '[' string (',' string)* ','? ']' */
    skip_space(&p);
    if (*p != '[')
        problem = "does not start with '['";
    else
        p++;
    while (problem == NULL) {
        skip_space(&p);
        if (*p == ']') {
            p++;
            break;
        }
        if (*p != '\'' && *p != '"') {
            problem = "expected a quoted string or ']'";
            break;
        }
        if (n_elements > 0 && !buffer_append(&b, PYLIST_JOIN, strlen(PYLIST_JOIN))) {
            problem = "out of memory";
            break;
        }
        problem = decode_string(&p, &b);
        n_elements++;
        if (problem != NULL)
            break;
        skip_space(&p);
        if (*p == ',')
            p++;
        else if (*p != ']')
            problem = "expected ',' or ']' after a string";
    }
    if (problem == NULL) {
        skip_space(&p);
        if (*p != '\0')
            problem = "unexpected text after ']'";
    }
    if (problem == NULL && !sr_import_utf8_valid(b.data, b.length))
        problem = "decoded text is not valid UTF-8";

    if (problem != NULL) {
        free(b.data);
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "%s: invalid Python list literal (%s) in '%.60s%s'; expected "
                            "a list of quoted strings such as ['text']",
                            where, problem, literal, strlen(literal) > 60 ? "..." : "");
    }
    *text = b.data;
    return SR_OK;
}

/* ---- reading the CSV ------------------------------------------------------ */

typedef struct routerbench_state {
    const sr_import_options *options;
    sr_dataset *pool;
    const char *path;
    const char *base; /* file name without folder, for source ids */
    bool first_file;

    /* Column positions of the current file. */
    size_t n_columns;
    long prompt_column;
    long sample_column;
    int quality_column[SR_MAX_MODELS]; /* per pool model */
    int cost_column[SR_MAX_MODELS];
    char column_names[SR_MAX_MODELS][SR_MAX_NAME_BYTES]; /* raw header name per model */

    size_t rows;
    size_t skipped;
} routerbench_state;

/* Returns the column index of `name` in the header, or -1. */
static long find_column(char *const *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i], name) == 0)
            return (long)i;
    return -1;
}

/* True when the header has a "<fields[i]>|total_cost" column. */
static long cost_column_of(char *const *fields, size_t n, size_t i)
{
    char name[SR_MAX_NAME_BYTES + 16];
    if (strchr(fields[i], '|') != NULL || fields[i][0] == '\0' ||
        strlen(fields[i]) >= SR_MAX_NAME_BYTES)
        return -1;
    snprintf(name, sizeof(name), "%s|total_cost", fields[i]);
    return find_column(fields, n, name);
}

/* Lists the model columns of a header into `buffer` for messages. */
static void list_models(const sr_import_options *options, char *const *fields, size_t n,
                        char *buffer, size_t size)
{
    buffer[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (cost_column_of(fields, n, i) < 0)
            continue;
        size_t used = strlen(buffer);
        snprintf(buffer + used, size - used, "%s%s", used ? ", " : "",
                 sr_import_rename(options, fields[i]));
    }
}

static sr_status read_header(routerbench_state *st, size_t n, char *const *fields, sr_error *err)
{
    const sr_import_options *options = st->options;
    sr_dataset *pool = st->pool;
    char available[SR_ERROR_MESSAGE_MAX / 2];
    sr_status status = SR_OK;

    st->n_columns = n;
    st->prompt_column = find_column(fields, n, "prompt");
    st->sample_column = find_column(fields, n, "sample_id");
    if (st->prompt_column < 0)
        return sr_error_set(err, SR_ERR_INVALID, st->path, 1, "prompt",
                            "no 'prompt' column; is this a RouterBench CSV?");
    list_models(options, fields, n, available, sizeof(available));

    /* The first file fixes the catalogue: the selected models, or all. */
    if (st->first_file) {
        if (options->n_models > 0) {
            for (size_t i = 0; status == SR_OK && i < options->n_models; i++)
                status = sr_dataset_add_model(pool, options->models[i], NAN, NAN, NAN, false, err);
        } else {
            for (size_t i = 0; status == SR_OK && i < n; i++)
                if (cost_column_of(fields, n, i) >= 0)
                    status = sr_dataset_add_model(pool, sr_import_rename(options, fields[i]), NAN,
                                                  NAN, NAN, false, err);
        }
        if (status != SR_OK)
            return status;
        if (pool->catalogue.n_models == 0)
            return sr_error_set(err, SR_ERR_INVALID, st->path, 1, NULL,
                                "no model columns: a model needs both '<model>' and "
                                "'<model>|total_cost' columns");
    }

    /* Map every catalogue model to its two columns in this file. */
    int n_found = 0;
    for (int k = 0; k < pool->catalogue.n_models; k++) {
        st->quality_column[k] = -1;
        st->cost_column[k] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        long cost = cost_column_of(fields, n, i);
        if (cost < 0)
            continue;
        int k = sr_dataset_find_model(pool, sr_import_rename(options, fields[i]));
        if (k < 0) {
            if (options->n_models == 0)
                return sr_error_set(err, SR_ERR_INVALID, st->path, 1, fields[i],
                                    "model '%s' is not in the first file; every file must "
                                    "have the same models, or select some with --models",
                                    fields[i]);
            continue;
        }
        if (st->quality_column[k] >= 0)
            return sr_error_set(err, SR_ERR_INVALID, st->path, 1, fields[i],
                                "two columns map to model '%s'; check --rename",
                                pool->catalogue.models[k].name);
        st->quality_column[k] = (int)i;
        st->cost_column[k] = (int)cost;
        snprintf(st->column_names[k], sizeof(st->column_names[k]), "%s", fields[i]);
        n_found++;
    }
    for (int k = 0; k < pool->catalogue.n_models; k++)
        if (st->quality_column[k] < 0)
            return sr_error_set(err, SR_ERR_NOT_FOUND, st->path, 1, pool->catalogue.models[k].name,
                                "no columns '%s' and '%s|total_cost' for model '%s'; models "
                                "in this file: %s",
                                pool->catalogue.models[k].name, pool->catalogue.models[k].name,
                                pool->catalogue.models[k].name, available);
    if (n_found < pool->catalogue.n_models)
        return sr_error_set(err, SR_ERR_INTERNAL, st->path, 1, NULL, "model columns not mapped");
    return SR_OK;
}

/* Parses a whole cell as a finite number. */
static bool parse_number(const char *text, double *value)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(x))
        return false;
    *value = x;
    return true;
}

static sr_status read_row(routerbench_state *st, long line, size_t n, char *const *fields,
                          sr_error *err)
{
    sr_dataset *pool = st->pool;
    const int n_models = pool->catalogue.n_models;
    double quality[SR_MAX_MODELS];
    double cost[SR_MAX_MODELS];
    char where[SR_MAX_NAME_BYTES + 64];
    char source_id[SR_MAX_NAME_BYTES + 64];
    char *text = NULL;
    size_t turn;

    if (n != st->n_columns)
        return sr_error_set(err, SR_ERR_INVALID, st->path, line, NULL,
                            "row has %zu fields but the header has %zu; check the quoting of "
                            "the row",
                            n, st->n_columns);
    st->rows++;

    /* An empty correctness or cost cell skips the row (reported). */
    for (int k = 0; k < n_models; k++) {
        const int columns[2] = {st->quality_column[k], st->cost_column[k]};
        for (int c = 0; c < 2; c++) {
            if (fields[columns[c]][0] != '\0')
                continue;
            sr_log(SR_LOG_WARN,
                   "import_skip_row file=%s line=%ld column=\"%s%s\" reason=\"empty cell\"",
                   st->path, line, st->column_names[k], c == 0 ? "" : "|total_cost");
            st->skipped++;
            return SR_OK;
        }
    }

    /* Every other cell must be valid. */
    for (int k = 0; k < n_models; k++) {
        const char *q = fields[st->quality_column[k]];
        const char *c = fields[st->cost_column[k]];
        if (!parse_number(q, &quality[k]) || quality[k] < 0 || quality[k] > 1)
            return sr_error_set(err, SR_ERR_INVALID, st->path, line, pool->catalogue.models[k].name,
                                "correctness '%s' is not a number in [0, 1]", q);
        if (!parse_number(c, &cost[k]) || cost[k] < 0)
            return sr_error_set(err, SR_ERR_INVALID, st->path, line, pool->catalogue.models[k].name,
                                "cost '%s' in column '%s|total_cost' is not a finite "
                                "non-negative number",
                                c, pool->catalogue.models[k].name);
    }

    snprintf(where, sizeof(where), "%s:%ld: column prompt", st->path, line);
    sr_status status = sr_import_decode_pylist(fields[st->prompt_column], where, &text, err);
    if (status != SR_OK) {
        if (err != NULL) {
            snprintf(err->path, sizeof(err->path), "%s", st->path);
            err->line = line;
            snprintf(err->field, sizeof(err->field), "prompt");
        }
        return status;
    }

    if (st->sample_column >= 0 && fields[st->sample_column][0] != '\0')
        snprintf(source_id, sizeof(source_id), "%.*s", SR_MAX_NAME_BYTES,
                 fields[st->sample_column]);
    else
        snprintf(source_id, sizeof(source_id), "%s:%ld", st->base, line);
    if (!sr_import_utf8_valid(source_id, strlen(source_id))) {
        free(text);
        return sr_error_set(err, SR_ERR_INVALID, st->path, line, "sample_id",
                            "sample_id is not valid UTF-8");
    }

    char id[32];
    snprintf(id, sizeof(id), "item-%zu", pool->n_sessions + 1);
    status = sr_dataset_begin_session(pool, id, NAN, err);
    if (status == SR_OK)
        status = sr_dataset_add_turn(pool, st->options->drop_text ? NULL : text, NULL, 0, source_id,
                                     -1, &turn, err);
    for (int k = 0; status == SR_OK && k < n_models; k++)
        status = sr_dataset_set_outcome(pool, turn, k, quality[k], cost[k], NAN, NAN, err);
    free(text);
    if (status != SR_OK && err != NULL) {
        snprintf(err->path, sizeof(err->path), "%s", st->path);
        err->line = line;
    }
    return status;
}

static sr_status on_record(void *user_data, long line, size_t n, char *const *fields,
                           const size_t *lengths, sr_error *err)
{
    routerbench_state *st = user_data;
    (void)lengths;

    if (st->n_columns == 0)
        return read_header(st, n, fields, err);
    return read_row(st, line, n, fields, err);
}

/* ---- the importer ---------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

sr_status sr_import_routerbench(const char *const *paths, size_t n_paths,
                                const sr_import_options *options, sr_dataset *ds,
                                sr_import_report *report, sr_error *err)
{
    sr_dataset pool;
    routerbench_state *st = NULL;
    double mean_cost[SR_MAX_MODELS];
    sr_status status;

    if (report != NULL)
        memset(report, 0, sizeof(*report));
    if (n_paths == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "no input files; give one or more RouterBench CSV files");
    status = sr_import_check_options(options, err);
    if (status != SR_OK)
        return status;

    /* Pool every row of every file. */
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    sr_dataset_init(&pool);
    status = sr_dataset_set_cost_unit(&pool, "USD", err);
    st->options = options;
    st->pool = &pool;
    for (size_t f = 0; status == SR_OK && f < n_paths; f++) {
        size_t rows_before = st->rows;
        size_t skipped_before = st->skipped;
        st->path = paths[f];
        st->base = base_name(paths[f]);
        st->first_file = f == 0;
        st->n_columns = 0;
        status = sr_import_read_csv(paths[f], on_record, st, err);
        if (status == SR_OK && st->n_columns == 0)
            status = sr_error_set(err, SR_ERR_INVALID, paths[f], 0, NULL,
                                  "file is empty; expected a header row");
        if (status == SR_OK)
            sr_log(SR_LOG_INFO, "import_file file=%s rows=%zu skipped_rows=%zu", paths[f],
                   st->rows - rows_before, st->skipped - skipped_before);
    }

    /* The catalogue's flat price is each model's mean observed cost. */
    if (status == SR_OK) {
        sr_dataset_model_stats(&pool, NULL, mean_cost, NULL);
        for (int k = 0; k < pool.catalogue.n_models; k++)
            pool.catalogue.models[k].cost_per_call = isnan(mean_cost[k]) ? 0.0 : mean_cost[k];
    }

    /* Chain and record the provenance. */
    if (status == SR_OK) {
        json_t *source = json_object();
        json_t *files = json_array();
        for (size_t f = 0; f < n_paths; f++)
            json_array_append_new(files, json_string(paths[f]));
        json_object_set_new(source, "importer", json_string("routerbench"));
        json_object_set_new(source, "files", files);
        json_object_set_new(source, "rows", json_integer((json_int_t)st->rows));
        json_object_set_new(source, "skipped_rows", json_integer((json_int_t)st->skipped));
        json_object_set_new(source, "cost_model",
                            json_string("logged: each outcome's cost is RouterBench's "
                                        "<model>|total_cost in USD; catalogue cost_per_call is "
                                        "the model's mean logged cost, an estimate for "
                                        "planning"));
        status = sr_import_finish_chained(&pool, options, "rb", source, ds, report, err);
    }
    if (status == SR_OK && report != NULL)
        report->skipped_rows = st->skipped;

    sr_dataset_free(&pool);
    free(st);
    return status;
}
