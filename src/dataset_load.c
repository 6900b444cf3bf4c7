/*
 * dataset_load.c - the JSON Lines session loader.
 *
 * Design: the input is read one line at a time, by a block reader over a
 * FILE or a cursor over a memory buffer.  Each line is parsed on its own
 * with jansson, so memory use is one line plus the dataset being built,
 * whatever the file size.  A line longer than SR_MAX_LINE_BYTES is rejected before
 * it is parsed.  The first non-blank line is the header; every later
 * non-blank line is one session.
 *
 * Every field is checked here, before the builder in dataset.c sees it, so
 * that each error can name the file, the line, the full field path (for
 * example "turns[2].outcomes.mixtral.cost"), the offending value and the
 * fix.  The builder checks again; if it still rejects something (a cost
 * that overflows when priced from token counts), its message is re-issued
 * with the path, line and field added.
 *
 * A session is added through the builder turn by turn; when a turn fails
 * the half-built session is removed with sr_dataset_drop_last_session, so
 * under skip_invalid the dataset only ever holds complete, valid sessions.
 * Session ids go into an open-addressing hash set so that duplicate checks
 * stay O(1) per line on files of 100k+ sessions.
 */
#include "seqroute/dataset.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes per fread from a file; large enough to make the read calls cheap. */
#define READ_BLOCK_BYTES (64u << 10)

/* Maximum bytes of a value quoted in an error message; the rest is elided. */
#define VALUE_EXCERPT_BYTES 80

/* Maximum field path length; a model name alone can take 255 of these bytes. */
#define FIELD_PATH_BYTES 512

/* ---- line reader ---------------------------------------------------------- */

/*
 * Yields the lines of a FILE or of a memory buffer without their '\n'.
 * For a buffer the line points into the caller's bytes; for a file it points
 * into `line`, which grows up to SR_MAX_LINE_BYTES.  The rest of an
 * overlong line is consumed and dropped, and `too_long` is set.
 */
typedef struct line_reader {
    FILE *file;
    const char *data;
    size_t size;
    size_t pos;

    char *block;
    size_t block_len;
    size_t block_pos;

    char *line;
    size_t line_len;
    size_t line_cap;

    long line_number;
    bool too_long;
    size_t too_long_bytes; /* length seen of an overlong line, for the message */
} line_reader;

typedef enum read_result {
    READ_LINE = 1,
    READ_END = 0,
    READ_IO_ERROR = -1,
    READ_NOMEM = -2
} read_result;

static bool reader_append(line_reader *r, const char *bytes, size_t n)
{
    if (r->line_len + n + 1 > r->line_cap) {
        size_t cap = r->line_cap ? r->line_cap : 4096;
        while (cap < r->line_len + n + 1)
            cap *= 2;
        char *p = realloc(r->line, cap);
        if (p == NULL)
            return false;
        r->line = p;
        r->line_cap = cap;
    }
    memcpy(r->line + r->line_len, bytes, n);
    r->line_len += n;
    r->line[r->line_len] = '\0';
    return true;
}

static read_result reader_next_from_file(line_reader *r, const char **line, size_t *len)
{
    bool got_bytes = false;

    r->line_len = 0;
    for (;;) {
        /* Refill the block when it is used up. */
        if (r->block_pos == r->block_len) {
            size_t n = fread(r->block, 1, READ_BLOCK_BYTES, r->file);
            if (n == 0) {
                if (ferror(r->file))
                    return READ_IO_ERROR;
                if (!got_bytes)
                    return READ_END;
                break;
            }
            r->block_len = n;
            r->block_pos = 0;
        }
        got_bytes = true;

        /* Copy up to the next newline, or the whole block when it has none. */
        const char *start = r->block + r->block_pos;
        size_t avail = r->block_len - r->block_pos;
        const char *newline = memchr(start, '\n', avail);
        size_t chunk = newline ? (size_t)(newline - start) : avail;
        if (!r->too_long && r->line_len + chunk > SR_MAX_LINE_BYTES) {
            r->too_long = true;
            r->too_long_bytes = r->line_len;
        }
        if (r->too_long)
            r->too_long_bytes += chunk;
        else if (!reader_append(r, start, chunk))
            return READ_NOMEM;
        r->block_pos += chunk + (newline ? 1 : 0);
        if (newline)
            break;
    }
    if (r->line == NULL && !reader_append(r, "", 0))
        return READ_NOMEM;
    *line = r->line;
    *len = r->too_long ? 0 : r->line_len;
    return READ_LINE;
}

static read_result reader_next_from_buffer(line_reader *r, const char **line, size_t *len)
{
    if (r->pos >= r->size)
        return READ_END;

    const char *start = r->data + r->pos;
    size_t avail = r->size - r->pos;
    const char *newline = memchr(start, '\n', avail);
    size_t n = newline ? (size_t)(newline - start) : avail;
    r->pos += n + (newline ? 1 : 0);
    if (n > SR_MAX_LINE_BYTES) {
        r->too_long = true;
        r->too_long_bytes = n;
        n = 0;
    }
    *line = start;
    *len = n;
    return READ_LINE;
}

/*
 * Reads the next line.  On READ_LINE, `*line` and `*len` describe it (empty
 * when `too_long` is set) and line_number is its 1-based number.
 */
static read_result reader_next(line_reader *r, const char **line, size_t *len)
{
    r->too_long = false;
    r->too_long_bytes = 0;
    read_result result = r->file ? reader_next_from_file(r, line, len)
                                 : reader_next_from_buffer(r, line, len);
    if (result == READ_LINE)
        r->line_number++;
    return result;
}

/* ---- session id set ------------------------------------------------------- */

/* One slot of the id set: the session index plus one (0 = empty) and its line. */
typedef struct id_slot {
    uint64_t hash;
    size_t session_plus_one;
    long line;
} id_slot;

typedef struct id_set {
    id_slot *slots;
    size_t capacity; /* a power of two */
    size_t count;
} id_set;

/* FNV-1a, 64-bit: simple, and good enough spread for session id strings. */
static uint64_t hash_string(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Returns the slot holding `id`, or the empty slot where it would go. */
static id_slot *id_set_probe(const id_set *set, const sr_dataset *ds, const char *id,
                             uint64_t hash)
{
    size_t mask = set->capacity - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        id_slot *slot = &set->slots[i];
        if (slot->session_plus_one == 0)
            return slot;
        if (slot->hash == hash && strcmp(ds->sessions[slot->session_plus_one - 1].id, id) == 0)
            return slot;
    }
}

/* Returns the line where `id` was first seen, or 0 when it is new. */
static long id_set_find(const id_set *set, const sr_dataset *ds, const char *id)
{
    if (set->count == 0)
        return 0;
    id_slot *slot = id_set_probe(set, ds, id, hash_string(id));
    return slot->session_plus_one ? slot->line : 0;
}

/* Adds session `session` (already in ds) to the set; false when out of memory. */
static bool id_set_add(id_set *set, const sr_dataset *ds, size_t session, long line)
{
    /* Keep the load factor at or below one half so probe runs stay short. */
    if ((set->count + 1) * 2 > set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 1024;
        id_slot *slots = calloc(capacity, sizeof(id_slot));
        if (slots == NULL)
            return false;
        id_set grown = {slots, capacity, 0};
        for (size_t i = 0; i < set->capacity; i++) {
            const id_slot *old = &set->slots[i];
            if (old->session_plus_one == 0)
                continue;
            size_t mask = capacity - 1;
            size_t j = (size_t)old->hash & mask;
            while (slots[j].session_plus_one != 0)
                j = (j + 1) & mask;
            slots[j] = *old;
            grown.count++;
        }
        free(set->slots);
        *set = grown;
    }

    const char *id = ds->sessions[session].id;
    uint64_t hash = hash_string(id);
    id_slot *slot = id_set_probe(set, ds, id, hash);
    slot->hash = hash;
    slot->session_plus_one = session + 1;
    slot->line = line;
    set->count++;
    return true;
}

/* ---- loader state and error helpers ---------------------------------------- */

typedef struct loader {
    const char *name; /* path or buffer name used in messages */
    sr_load_options options;
    sr_dataset *ds;
    sr_error err;
    long line;
    bool fatal; /* set by failures that skip_invalid must not swallow */

    /* Where the dataset's embedding length came from, for messages. */
    int header_embedding_dim;
    long embedding_dim_line;

    id_set ids;
    float *embedding; /* scratch for one turn's embedding */
    int embedding_cap;
    int n_fallbacks;
} loader;

/* Scratch for one turn's outcomes before they are handed to the builder. */
typedef struct pending_outcome {
    int model;
    double quality;
    double cost;
    double input_tokens;
    double output_tokens;
} pending_outcome;

static sr_status fail(loader *ld, sr_status status, const char *field, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills ld->err with the current path and line; returns `status`. */
static sr_status fail(loader *ld, sr_status status, const char *field, const char *format, ...)
{
    char text[SR_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    return sr_error_set(&ld->err, status, ld->name, ld->line, field, "%s", text);
}

static sr_status fail_nomem(loader *ld)
{
    ld->fatal = true;
    return fail(ld, SR_ERR_NOMEM, NULL, "out of memory while loading");
}

/*
 * Re-issues a builder error, whose message has no path or line, with the
 * loader's path, line and the full field path.
 */
static sr_status fail_from_builder(loader *ld, sr_status status, const sr_error *inner,
                                   const char *field)
{
    if (status == SR_ERR_NOMEM)
        return fail_nomem(ld);
    const char *text = inner->message;
    if (strncmp(text, "field '", 7) == 0) {
        const char *end = strstr(text, "': ");
        if (end != NULL)
            text = end + 3;
    }
    return fail(ld, status, field, "%s", text);
}

/* Copies at most `max` bytes of `s` into `out`, cut on a UTF-8 boundary. */
static void excerpt(const char *s, size_t len, char *out, size_t out_size, size_t max)
{
    size_t n = len < max ? len : max;
    if (n >= out_size)
        n = out_size - 1;
    while (n > 0 && n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(out, s, n);
    out[n] = '\0';
    if (n < len && n + 4 <= out_size - 1)
        strcat(out, "...");
}

/* Prints the shortest decimal form of `x` that reads back to the same double. */
static void format_number(double x, char *out, size_t out_size)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(out, out_size, "%.*g", digits, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

/* Describes a JSON value for a message: its type and, when short, its text. */
static void describe_value(const json_t *value, char *out, size_t out_size)
{
    char text[VALUE_EXCERPT_BYTES + 8];

    switch (json_typeof(value)) {
    case JSON_OBJECT:
        snprintf(out, out_size, "an object");
        break;
    case JSON_ARRAY:
        snprintf(out, out_size, "an array of %zu values", json_array_size(value));
        break;
    case JSON_STRING:
        excerpt(json_string_value(value), json_string_length(value), text, sizeof(text),
                VALUE_EXCERPT_BYTES);
        snprintf(out, out_size, "the string \"%s\"", text);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        format_number(json_number_value(value), text, sizeof(text));
        snprintf(out, out_size, "the number %s", text);
        break;
    case JSON_TRUE:
        snprintf(out, out_size, "true");
        break;
    case JSON_FALSE:
        snprintf(out, out_size, "false");
        break;
    case JSON_NULL:
        snprintf(out, out_size, "null");
        break;
    }
}

/* Reports a value of the wrong JSON type. */
static sr_status fail_type(loader *ld, const char *field, const char *expected,
                           const json_t *value)
{
    char got[VALUE_EXCERPT_BYTES + 64];
    describe_value(value, got, sizeof(got));

    /* A quoted number ("0.9") is a common export mistake, so the message gives the fix. */
    const char *hint = "";
    if (json_is_string(value) && strcmp(expected, "a number") == 0) {
        char *end = NULL;
        const char *text = json_string_value(value);
        strtod(text, &end);
        if (end != text && *end == '\0')
            hint = "; write numbers without quotes";
    }
    return fail(ld, SR_ERR_INVALID, field, "expected %s, got %s%s", expected, got, hint);
}

static void field_format(char *out, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Formats a field path into a FIELD_PATH_BYTES buffer; overlong paths are cut. */
static void field_format(char *out, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(out, FIELD_PATH_BYTES, format, args);
    va_end(args);
}

/* Joins `prefix` and `key` into a field path ("turns[0].outcomes" + "m"). */
static void field_join(char *out, const char *prefix, const char *key)
{
    if (prefix == NULL || prefix[0] == '\0')
        field_format(out, "%s", key);
    else
        field_format(out, "%s.%s", prefix, key);
}

/* ---- key and value checks --------------------------------------------------- */

/* Levenshtein distance of two short keys, capped for long inputs. */
static size_t edit_distance(const char *a, const char *b)
{
    enum { MAX_KEY = 32 };
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la > MAX_KEY || lb > MAX_KEY)
        return SIZE_MAX;

    size_t row[MAX_KEY + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t substitute = diagonal + (a[i - 1] != b[j - 1]);
            size_t best = above + 1 < row[j - 1] + 1 ? above + 1 : row[j - 1] + 1;
            row[j] = substitute < best ? substitute : best;
            diagonal = above;
        }
    }
    return row[lb];
}

/*
 * Rejects keys of `object` outside `allowed`, except keys starting with
 * "x_", which are left free for users.  The message lists the valid keys
 * and suggests the closest one for a likely typo.
 */
static sr_status check_keys(loader *ld, const json_t *object, const char *const *allowed,
                            size_t n_allowed, const char *prefix)
{
    const char *key;
    const json_t *value;

    json_object_foreach((json_t *)object, key, value)
    {
        (void)value;
        if (strncmp(key, "x_", 2) == 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < n_allowed && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (known)
            continue;

        char list[512] = "";
        const char *closest = NULL;
        size_t closest_distance = 3; /* suggest only keys within two edits */
        for (size_t i = 0; i < n_allowed; i++) {
            if (i > 0)
                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
            strncat(list, allowed[i], sizeof(list) - strlen(list) - 1);
            size_t d = edit_distance(key, allowed[i]);
            if (d < closest_distance) {
                closest_distance = d;
                closest = allowed[i];
            }
        }
        char hint[64] = "";
        if (closest != NULL)
            snprintf(hint, sizeof(hint), " (did you mean '%s'?)", closest);
        char field[FIELD_PATH_BYTES];
        char shown[VALUE_EXCERPT_BYTES + 8];
        excerpt(key, strlen(key), shown, sizeof(shown), VALUE_EXCERPT_BYTES);
        field_join(field, prefix, shown);
        return fail(ld, SR_ERR_INVALID, field,
                    "unknown key '%s'%s; valid keys are %s, and keys starting with x_ are "
                    "ignored",
                    shown, hint, list);
    }
    return SR_OK;
}

/*
 * Reads an optional non-negative number.  Absent gives NAN.  Jansson has
 * already rejected NaN, Infinity and out-of-range literals while parsing.
 */
static sr_status get_non_negative(loader *ld, const json_t *object, const char *key,
                                  const char *prefix, const char *what, double *out)
{
    char field[FIELD_PATH_BYTES];
    const json_t *value = json_object_get(object, key);

    *out = NAN;
    if (value == NULL)
        return SR_OK;
    field_join(field, prefix, key);
    if (!json_is_number(value))
        return fail_type(ld, field, "a number", value);
    double x = json_number_value(value);
    if (!isfinite(x) || x < 0) {
        char shown[40];
        format_number(x, shown, sizeof(shown));
        return fail(ld, SR_ERR_INVALID, field,
                    "%s %s is negative; %ss must be finite and >= 0", what, shown, what);
    }
    *out = x;
    return SR_OK;
}

/* Reads an optional string; absent gives NULL.  `max_bytes` 0 means no limit. */
static sr_status get_string(loader *ld, const json_t *object, const char *key,
                            const char *prefix, size_t max_bytes, const char **out)
{
    char field[FIELD_PATH_BYTES];
    const json_t *value = json_object_get(object, key);

    *out = NULL;
    if (value == NULL)
        return SR_OK;
    field_join(field, prefix, key);
    if (!json_is_string(value))
        return fail_type(ld, field, "a string", value);
    if (max_bytes > 0 && json_string_length(value) > max_bytes) {
        char shown[VALUE_EXCERPT_BYTES + 8];
        excerpt(json_string_value(value), json_string_length(value), shown, sizeof(shown),
                VALUE_EXCERPT_BYTES);
        return fail(ld, SR_ERR_INVALID, field,
                    "\"%s\" is %zu bytes long; the limit is %zu bytes", shown,
                    json_string_length(value), max_bytes);
    }
    *out = json_string_value(value);
    return SR_OK;
}

/* Lists the catalogue's model names, comma-separated, for messages. */
static void list_models(const sr_catalogue *cat, char *out, size_t out_size)
{
    out[0] = '\0';
    for (int k = 0; k < cat->n_models; k++) {
        if (strlen(out) + strlen(cat->models[k].name) + 8 >= out_size) {
            strncat(out, ", ...", out_size - strlen(out) - 1);
            return;
        }
        if (k > 0)
            strcat(out, ", ");
        strcat(out, cat->models[k].name);
    }
}

/* ---- JSON parsing of one line ------------------------------------------------ */

/* True for the tokens other languages write for non-finite floats. */
static bool is_non_finite_token(const char *text)
{
    static const char *const tokens[] = {"'NaN'", "'nan'", "'Infinity'", "'-Infinity'",
                                         "'inf'", "'-inf'", "'Inf'", "'-Inf'"};
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        if (strstr(text, tokens[i]) != NULL)
            return true;
    return false;
}

/* Parses one line into a JSON value, reporting jansson's error with its column. */
static sr_status parse_line(loader *ld, const char *line, size_t len, json_t **out)
{
    json_error_t jerr;

    *out = NULL;
    const char *nul = memchr(line, '\0', len);
    if (nul != NULL)
        return fail(ld, SR_ERR_INVALID, NULL,
                    "invalid JSON: NUL byte at byte %zu; session files are UTF-8 text with no "
                    "NUL bytes",
                    (size_t)(nul - line) + 1);

    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root != NULL) {
        *out = root;
        return SR_OK;
    }

    switch (json_error_code(&jerr)) {
    case json_error_out_of_memory:
        return fail_nomem(ld);
    case json_error_invalid_utf8:
        return fail(ld, SR_ERR_INVALID, NULL,
                    "invalid UTF-8 at byte %d (column %d): %s; save the file as UTF-8 text",
                    jerr.position, jerr.column, jerr.text);
    case json_error_null_character:
        return fail(ld, SR_ERR_INVALID, NULL,
                    "invalid JSON at column %d: the escape \\u0000 (a NUL character) is not "
                    "allowed in a string; remove it from the text",
                    jerr.column);
    case json_error_stack_overflow:
        return fail(ld, SR_ERR_INVALID, NULL,
                    "invalid JSON at column %d: arrays and objects are nested more than %d "
                    "levels deep; flatten the value",
                    jerr.column, JSON_PARSER_MAX_DEPTH);
    case json_error_numeric_overflow:
        return fail(ld, SR_ERR_INVALID, NULL,
                    "invalid number at column %d: %s; numbers must be finite doubles "
                    "(integers must fit in 64 bits)",
                    jerr.column, jerr.text);
    default:
        break;
    }
    if (is_non_finite_token(jerr.text))
        return fail(ld, SR_ERR_INVALID, NULL,
                    "invalid JSON at column %d: %s; JSON has no NaN or Infinity and "
                    "seqroute accepts only finite numbers",
                    jerr.column, jerr.text);
    return fail(ld, SR_ERR_INVALID, NULL,
                "invalid JSON at column %d: %s; each non-blank line must be one complete "
                "JSON object",
                jerr.column, jerr.text);
}

/* ---- header ----------------------------------------------------------------- */

static const char *const header_keys[] = {"seqroute_sessions", "cost_unit", "quality_range",
                                          "models", "embedding_dim"};
#define N_HEADER_KEYS (sizeof(header_keys) / sizeof(header_keys[0]))

static const char *const model_keys[] = {"name", "input_price", "output_price",
                                         "cost_per_call", "fallback"};

static sr_status parse_model(loader *ld, const json_t *entry, size_t index)
{
    char prefix[FIELD_PATH_BYTES];
    char field[FIELD_PATH_BYTES];
    sr_status status;

    field_format(prefix, "models[%zu]", index);
    if (!json_is_object(entry))
        return fail_type(ld, prefix, "a model object {\"name\": ...}", entry);
    status = check_keys(ld, entry, model_keys, sizeof(model_keys) / sizeof(model_keys[0]),
                        prefix);
    if (status != SR_OK)
        return status;

    /* Name: required, unique, bounded. */
    const char *name = NULL;
    status = get_string(ld, entry, "name", prefix, SR_MAX_NAME_BYTES - 1, &name);
    if (status != SR_OK)
        return status;
    field_join(field, prefix, "name");
    if (name == NULL)
        return fail(ld, SR_ERR_INVALID, field, "model has no 'name'; give every model a name");
    if (name[0] == '\0')
        return fail(ld, SR_ERR_INVALID, field, "model name is empty; give every model a name");
    int existing = sr_dataset_find_model(ld->ds, name);
    if (existing >= 0)
        return fail(ld, SR_ERR_INVALID, field,
                    "duplicate model name '%s' (also models[%d]); model names must be unique",
                    name, existing);

    /* Prices: a complete token price pair, a flat price, both or neither. */
    double input_price;
    double output_price;
    double cost_per_call;
    status = get_non_negative(ld, entry, "input_price", prefix, "price", &input_price);
    if (status == SR_OK)
        status = get_non_negative(ld, entry, "output_price", prefix, "price", &output_price);
    if (status == SR_OK)
        status = get_non_negative(ld, entry, "cost_per_call", prefix, "price", &cost_per_call);
    if (status != SR_OK)
        return status;
    if (isnan(input_price) != isnan(output_price)) {
        field_join(field, prefix, isnan(input_price) ? "input_price" : "output_price");
        return fail(ld, SR_ERR_INVALID, field,
                    "model '%s' gives only one of input_price and output_price; give both "
                    "(cost units per 1M tokens) or neither",
                    name);
    }

    /* Fallback: an optional boolean, true on at most one model. */
    bool fallback = false;
    const json_t *flag = json_object_get(entry, "fallback");
    if (flag != NULL) {
        field_join(field, prefix, "fallback");
        if (!json_is_boolean(flag))
            return fail_type(ld, field, "true or false", flag);
        fallback = json_is_true(flag);
        if (fallback && ++ld->n_fallbacks > 1)
            return fail(ld, SR_ERR_INVALID, field,
                        "model '%s' is the second fallback model; mark at most one model as "
                        "fallback",
                        name);
    }

    sr_error inner;
    status = sr_dataset_add_model(ld->ds, name, input_price, output_price, cost_per_call,
                                  fallback, &inner);
    if (status != SR_OK)
        return fail_from_builder(ld, status, &inner, prefix);
    return SR_OK;
}

static sr_status parse_quality_range(loader *ld, const json_t *range)
{
    sr_catalogue *cat = &ld->ds->catalogue;

    if (!json_is_array(range) || json_array_size(range) != 2)
        return fail_type(ld, "quality_range", "an array [min, max]", range);
    const json_t *low = json_array_get(range, 0);
    const json_t *high = json_array_get(range, 1);
    if (!json_is_number(low))
        return fail_type(ld, "quality_range[0]", "a number", low);
    if (!json_is_number(high))
        return fail_type(ld, "quality_range[1]", "a number", high);
    double min = json_number_value(low);
    double max = json_number_value(high);
    if (!(min < max)) {
        char a[40];
        char b[40];
        format_number(min, a, sizeof(a));
        format_number(max, b, sizeof(b));
        return fail(ld, SR_ERR_INVALID, "quality_range",
                    "[%s, %s] is empty; give [min, max] with min < max, usually [0, 1]", a, b);
    }
    cat->quality_min = min;
    cat->quality_max = max;
    return SR_OK;
}

/* Copies the header keys seqroute does not interpret into ds->header_extra. */
static sr_status keep_header_extra(loader *ld, const json_t *root)
{
    json_t *extra = json_object();
    const char *key;
    json_t *value;

    if (extra == NULL)
        return fail_nomem(ld);
    json_object_foreach((json_t *)root, key, value)
    {
        bool fixed = false;
        for (size_t i = 0; i < N_HEADER_KEYS && !fixed; i++)
            fixed = strcmp(key, header_keys[i]) == 0;
        if (!fixed && json_object_set(extra, key, value) != 0) {
            json_decref(extra);
            return fail_nomem(ld);
        }
    }
    if (json_object_size(extra) > 0) {
        ld->ds->header_extra =
            json_dumps(extra, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        if (ld->ds->header_extra == NULL) {
            json_decref(extra);
            return fail_nomem(ld);
        }
    }
    json_decref(extra);
    return SR_OK;
}

static sr_status parse_header(loader *ld, const json_t *root)
{
    sr_catalogue *cat = &ld->ds->catalogue;
    sr_status status;

    /* Shape and version. */
    if (!json_is_object(root))
        return fail_type(ld, NULL,
                         "the header object {\"seqroute_sessions\": 1, \"models\": [...]}",
                         root);
    const json_t *version = json_object_get(root, "seqroute_sessions");
    if (version == NULL) {
        if (json_object_get(root, "id") != NULL || json_object_get(root, "turns") != NULL)
            return fail(ld, SR_ERR_INVALID, "seqroute_sessions",
                        "header missing: the first line is a session; start the file with a "
                        "header line {\"seqroute_sessions\": 1, \"cost_unit\": ..., "
                        "\"models\": [...]}");
        return fail(ld, SR_ERR_INVALID, "seqroute_sessions",
                    "header missing: the first line has no 'seqroute_sessions' key; start "
                    "the file with a header line {\"seqroute_sessions\": 1, \"models\": "
                    "[...]}");
    }
    if (!json_is_integer(version))
        return fail_type(ld, "seqroute_sessions", "the integer 1", version);
    if (json_integer_value(version) != SR_SESSIONS_FORMAT_VERSION)
        return fail(ld, SR_ERR_INVALID, "seqroute_sessions",
                    "format version %lld is not supported; this build reads version %d",
                    (long long)json_integer_value(version), SR_SESSIONS_FORMAT_VERSION);

    /* Cost unit and quality range. */
    const char *unit = NULL;
    status = get_string(ld, root, "cost_unit", NULL, SR_MAX_NAME_BYTES - 1, &unit);
    if (status != SR_OK)
        return status;
    if (unit != NULL && unit[0] == '\0')
        return fail(ld, SR_ERR_INVALID, "cost_unit",
                    "cost unit is empty; name it, for example \"USD\" or \"units\"");
    sr_error inner;
    status = sr_dataset_set_cost_unit(ld->ds, unit ? unit : "units", &inner);
    if (status != SR_OK)
        return fail_from_builder(ld, status, &inner, "cost_unit");
    const json_t *range = json_object_get(root, "quality_range");
    if (range != NULL) {
        status = parse_quality_range(ld, range);
        if (status != SR_OK)
            return status;
    }

    /* Model catalogue. */
    const json_t *models = json_object_get(root, "models");
    if (models == NULL)
        return fail(ld, SR_ERR_INVALID, "models",
                    "header has no 'models'; list the models as [{\"name\": ..., "
                    "\"cost_per_call\": ...}, ...]");
    if (!json_is_array(models))
        return fail_type(ld, "models", "an array of model objects", models);
    if (json_array_size(models) == 0)
        return fail(ld, SR_ERR_INVALID, "models",
                    "header declares no models; list at least one model in 'models'");
    if (json_array_size(models) > SR_MAX_MODELS)
        return fail(ld, SR_ERR_INVALID, "models",
                    "header declares %zu models; the limit is %d", json_array_size(models),
                    SR_MAX_MODELS);
    for (size_t i = 0; i < json_array_size(models); i++) {
        status = parse_model(ld, json_array_get(models, i), i);
        if (status != SR_OK)
            return status;
    }

    /* Embedding length, when the header fixes it. */
    const json_t *dim = json_object_get(root, "embedding_dim");
    if (dim != NULL) {
        if (!json_is_integer(dim))
            return fail_type(ld, "embedding_dim", "an integer", dim);
        json_int_t d = json_integer_value(dim);
        if (d < 1 || d > SR_MAX_EMBEDDING_DIM)
            return fail(ld, SR_ERR_INVALID, "embedding_dim",
                        "embedding_dim %lld is outside 1..%d", (long long)d,
                        SR_MAX_EMBEDDING_DIM);
        cat->embedding_dim = (int)d;
        ld->header_embedding_dim = (int)d;
        ld->embedding_dim_line = ld->line;
    }

    return keep_header_extra(ld, root);
}

/* ---- sessions ---------------------------------------------------------------- */

static const char *const session_keys[] = {"id", "budget", "turns"};
static const char *const turn_keys[] = {"text", "embedding", "source_id", "outcomes",
                                        "logged"};
static const char *const outcome_keys[] = {"quality", "cost", "input_tokens",
                                           "output_tokens"};

/* Reads and checks a turn's embedding into ld->embedding; sets *dim to its length. */
static sr_status parse_embedding(loader *ld, const json_t *value, const char *prefix,
                                 int *dim)
{
    char field[FIELD_PATH_BYTES];
    const int expected = ld->ds->catalogue.embedding_dim;

    field_join(field, prefix, "embedding");
    if (!json_is_array(value))
        return fail_type(ld, field, "an array of numbers", value);
    size_t n = json_array_size(value);
    if (n == 0)
        return fail(ld, SR_ERR_INVALID, field,
                    "embedding is empty; omit the key or give %d numbers",
                    expected > 0 ? expected : 1);
    if (n > SR_MAX_EMBEDDING_DIM)
        return fail(ld, SR_ERR_INVALID, field, "embedding has %zu values; the limit is %d", n,
                    SR_MAX_EMBEDDING_DIM);
    if (expected > 0 && n != (size_t)expected) {
        if (ld->header_embedding_dim > 0)
            return fail(ld, SR_ERR_INVALID, field,
                        "embedding has %zu values but the header sets embedding_dim %d; "
                        "every embedding in a file must have the same length",
                        n, expected);
        return fail(ld, SR_ERR_INVALID, field,
                    "embedding has %zu values but the first embedding (line %ld) has %d; "
                    "every embedding in a file must have the same length",
                    n, ld->embedding_dim_line, expected);
    }

    if ((int)n > ld->embedding_cap) {
        float *p = realloc(ld->embedding, n * sizeof(float));
        if (p == NULL)
            return fail_nomem(ld);
        ld->embedding = p;
        ld->embedding_cap = (int)n;
    }
    for (size_t d = 0; d < n; d++) {
        const json_t *x = json_array_get(value, d);
        field_format(field, "%s%sembedding[%zu]", prefix, prefix[0] ? "." : "", d);
        if (!json_is_number(x))
            return fail_type(ld, field, "a number", x);
        double v = json_number_value(x);
        if (!(fabs(v) <= FLT_MAX)) {
            char shown[40];
            format_number(v, shown, sizeof(shown));
            return fail(ld, SR_ERR_INVALID, field,
                        "embedding value %s does not fit in a 32-bit float (|x| <= %g)", shown,
                        (double)FLT_MAX);
        }
        ld->embedding[d] = (float)v;
    }
    *dim = (int)n;
    return SR_OK;
}

/* Reads one outcome object of model `model` into `out`. */
static sr_status parse_outcome(loader *ld, const json_t *value, int model, const char *prefix,
                               pending_outcome *out)
{
    const sr_catalogue *cat = &ld->ds->catalogue;
    const sr_model *m = &cat->models[model];
    char field[FIELD_PATH_BYTES];
    sr_status status;

    if (!json_is_object(value))
        return fail_type(ld, prefix, "an outcome object {\"quality\": ..., \"cost\": ...}",
                         value);
    status = check_keys(ld, value, outcome_keys,
                        sizeof(outcome_keys) / sizeof(outcome_keys[0]), prefix);
    if (status != SR_OK)
        return status;

    /* Quality: required, inside the declared range. */
    const json_t *quality = json_object_get(value, "quality");
    field_join(field, prefix, "quality");
    if (quality == NULL)
        return fail(ld, SR_ERR_INVALID, field,
                    "outcome of model '%s' has no 'quality'; give a number in [%g, %g]",
                    m->name, cat->quality_min, cat->quality_max);
    if (!json_is_number(quality))
        return fail_type(ld, field, "a number", quality);
    double q = json_number_value(quality);
    if (!(q >= cat->quality_min && q <= cat->quality_max)) {
        char shown[40];
        format_number(q, shown, sizeof(shown));
        return fail(ld, SR_ERR_INVALID, field,
                    "quality %s is outside the declared quality_range [%g, %g]; rescale it "
                    "or widen quality_range in the header",
                    shown, cat->quality_min, cat->quality_max);
    }

    /* Cost, or token counts the catalogue can price. */
    double cost;
    double input_tokens;
    double output_tokens;
    status = get_non_negative(ld, value, "cost", prefix, "cost", &cost);
    if (status == SR_OK)
        status =
            get_non_negative(ld, value, "input_tokens", prefix, "token count", &input_tokens);
    if (status == SR_OK)
        status =
            get_non_negative(ld, value, "output_tokens", prefix, "token count", &output_tokens);
    if (status != SR_OK)
        return status;
    if (isnan(cost) && isnan(input_tokens) && isnan(output_tokens))
        return fail(ld, SR_ERR_INVALID, prefix,
                    "outcome of model '%s' has neither 'cost' nor token counts; give 'cost' "
                    "or 'input_tokens' and 'output_tokens'",
                    m->name);
    if (isnan(cost) && isnan(sr_catalogue_price(cat, model, input_tokens, output_tokens)))
        return fail(ld, SR_ERR_INVALID, prefix,
                    "outcome of model '%s' gives token counts but no 'cost', and the header "
                    "gives the model no price; add input_price and output_price or "
                    "cost_per_call to model '%s', or give 'cost'",
                    m->name, m->name);

    out->model = model;
    out->quality = q;
    out->cost = cost;
    out->input_tokens = input_tokens;
    out->output_tokens = output_tokens;
    return SR_OK;
}

/* Checks one turn and appends it, with its outcomes, to the current session. */
static sr_status parse_turn(loader *ld, const json_t *turn, size_t index)
{
    sr_dataset *ds = ld->ds;
    const sr_catalogue *cat = &ds->catalogue;
    char prefix[FIELD_PATH_BYTES];
    char field[FIELD_PATH_BYTES];
    char models[512];
    sr_status status;

    field_format(prefix, "turns[%zu]", index);
    if (!json_is_object(turn))
        return fail_type(ld, prefix, "a turn object {\"outcomes\": {...}}", turn);
    status = check_keys(ld, turn, turn_keys, sizeof(turn_keys) / sizeof(turn_keys[0]), prefix);
    if (status != SR_OK)
        return status;

    /* Text, source id and embedding. */
    const char *text = NULL;
    const char *source_id = NULL;
    status = get_string(ld, turn, "text", prefix, 0, &text);
    if (status == SR_OK)
        status = get_string(ld, turn, "source_id", prefix, 0, &source_id);
    if (status != SR_OK)
        return status;
    int dim = 0;
    const json_t *embedding = json_object_get(turn, "embedding");
    if (embedding != NULL) {
        status = parse_embedding(ld, embedding, prefix, &dim);
        if (status != SR_OK)
            return status;
    }

    /* Logged model. */
    int logged = -1;
    const char *logged_name = NULL;
    status = get_string(ld, turn, "logged", prefix, 0, &logged_name);
    if (status != SR_OK)
        return status;
    if (logged_name != NULL) {
        logged = sr_dataset_find_model(ds, logged_name);
        if (logged < 0) {
            char shown[VALUE_EXCERPT_BYTES + 8];
            excerpt(logged_name, strlen(logged_name), shown, sizeof(shown),
                    VALUE_EXCERPT_BYTES);
            list_models(cat, models, sizeof(models));
            field_join(field, prefix, "logged");
            return fail(ld, SR_ERR_INVALID, field,
                        "unknown model '%s'; the header's models are: %s", shown, models);
        }
    }

    /* Outcomes, keyed by model name. */
    const json_t *outcomes = json_object_get(turn, "outcomes");
    field_join(field, prefix, "outcomes");
    if (outcomes == NULL)
        return fail(ld, SR_ERR_INVALID, field,
                    "turn has no 'outcomes'; give at least the outcome of the model that "
                    "served it");
    if (!json_is_object(outcomes))
        return fail_type(ld, field, "an object keyed by model name", outcomes);
    if (json_object_size(outcomes) == 0)
        return fail(ld, SR_ERR_INVALID, field,
                    "turn has no outcomes; give at least the outcome of the model that "
                    "served it");

    pending_outcome pending[SR_MAX_MODELS];
    int n_pending = 0;
    bool has_logged = false;
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)outcomes, name, value)
    {
        char outcome_prefix[FIELD_PATH_BYTES];
        char shown[VALUE_EXCERPT_BYTES + 8];
        excerpt(name, strlen(name), shown, sizeof(shown), VALUE_EXCERPT_BYTES);
        field_format(outcome_prefix, "%s.outcomes.%s", prefix, shown);
        int model = sr_dataset_find_model(ds, name);
        if (model < 0) {
            list_models(cat, models, sizeof(models));
            return fail(ld, SR_ERR_INVALID, outcome_prefix,
                        "unknown model '%s'; the header's models are: %s", shown, models);
        }
        status = parse_outcome(ld, value, model, outcome_prefix, &pending[n_pending]);
        if (status != SR_OK)
            return status;
        has_logged = has_logged || model == logged;
        n_pending++;
    }
    if (logged >= 0 && !has_logged) {
        field_join(field, prefix, "logged");
        return fail(ld, SR_ERR_INVALID, field,
                    "logged model '%s' has no outcome in this turn; add its outcome or remove "
                    "'logged'",
                    cat->models[logged].name);
    }

    /* Commit through the builder. */
    sr_error inner;
    size_t turn_index = 0;
    if (ld->options.drop_text)
        text = NULL;
    bool first_embedding = dim > 0 && cat->embedding_dim == 0;
    status = sr_dataset_add_turn(ds, text, dim > 0 ? ld->embedding : NULL, dim, source_id,
                                 logged, &turn_index, &inner);
    if (status != SR_OK)
        return fail_from_builder(ld, status, &inner, prefix);
    if (first_embedding)
        ld->embedding_dim_line = ld->line;
    for (int i = 0; i < n_pending; i++) {
        const pending_outcome *o = &pending[i];
        status = sr_dataset_set_outcome(ds, turn_index, o->model, o->quality, o->cost,
                                        o->input_tokens, o->output_tokens, &inner);
        if (status != SR_OK) {
            char outcome_field[FIELD_PATH_BYTES];
            field_format(outcome_field, "%s.outcomes.%s.%s", prefix,
                     cat->models[o->model].name, inner.field[0] ? inner.field : "cost");
            return fail_from_builder(ld, status, &inner, outcome_field);
        }
    }
    return SR_OK;
}

/* Checks the session-level fields, then adds the session turn by turn. */
static sr_status parse_session(loader *ld, const json_t *root)
{
    sr_dataset *ds = ld->ds;
    sr_status status;

    if (!json_is_object(root))
        return fail_type(ld, NULL, "a session object {\"id\": ..., \"turns\": [...]}", root);
    status = check_keys(ld, root, session_keys, sizeof(session_keys) / sizeof(session_keys[0]),
                        NULL);
    if (status != SR_OK)
        return status;

    /* Id: required, non-empty, unique. */
    const char *id = NULL;
    status = get_string(ld, root, "id", NULL, SR_MAX_NAME_BYTES - 1, &id);
    if (status != SR_OK)
        return status;
    if (id == NULL)
        return fail(ld, SR_ERR_INVALID, "id",
                    "session has no 'id'; give every session a unique string id");
    if (id[0] == '\0')
        return fail(ld, SR_ERR_INVALID, "id",
                    "session id is empty; give every session a unique string id");
    long first_line = id_set_find(&ld->ids, ds, id);
    if (first_line > 0)
        return fail(ld, SR_ERR_INVALID, "id",
                    "duplicate session id '%s' (first used on line %ld); session ids must "
                    "be unique",
                    id, first_line);

    /* Budget and turns. */
    double budget;
    status = get_non_negative(ld, root, "budget", NULL, "budget", &budget);
    if (status != SR_OK)
        return status;
    const json_t *turns = json_object_get(root, "turns");
    if (turns == NULL)
        return fail(ld, SR_ERR_INVALID, "turns",
                    "session '%s' has no 'turns'; a session needs at least one turn", id);
    if (!json_is_array(turns))
        return fail_type(ld, "turns", "an array of turn objects", turns);
    if (json_array_size(turns) == 0)
        return fail(ld, SR_ERR_INVALID, "turns",
                    "session '%s' is empty; a session needs at least one turn", id);
    if (json_array_size(turns) > SR_MAX_TURNS)
        return fail(ld, SR_ERR_INVALID, "turns",
                    "session '%s' has %zu turns; the limit is %d; split it into shorter "
                    "sessions",
                    id, json_array_size(turns), SR_MAX_TURNS);

    /* Build; on any failure remove the half-built session. */
    sr_error inner;
    int dim_before = ds->catalogue.embedding_dim;
    long dim_line_before = ld->embedding_dim_line;
    status = sr_dataset_begin_session(ds, id, budget, &inner);
    if (status != SR_OK)
        return fail_from_builder(ld, status, &inner, "id");
    for (size_t t = 0; t < json_array_size(turns) && status == SR_OK; t++)
        status = parse_turn(ld, json_array_get(turns, t), t);
    if (status == SR_OK && !id_set_add(&ld->ids, ds, ds->n_sessions - 1, ld->line))
        status = fail_nomem(ld);
    if (status != SR_OK) {
        sr_dataset_drop_last_session(ds);
        ds->catalogue.embedding_dim = dim_before;
        ld->embedding_dim_line = dim_line_before;
    }
    return status;
}

/* ---- driver ------------------------------------------------------------------- */

static bool is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

/* Parses and adds one non-blank line: the header when `is_header`, else a session. */
static sr_status load_line(loader *ld, const char *line, size_t len, bool is_header)
{
    json_t *root = NULL;
    sr_status status = parse_line(ld, line, len, &root);
    if (status != SR_OK)
        return status;
    status = is_header ? parse_header(ld, root) : parse_session(ld, root);
    json_decref(root);
    return status;
}

/* Reads every line of `reader` into ld->ds. */
static sr_status load_lines(loader *ld, line_reader *reader, size_t *n_skipped)
{
    bool have_header = false;

    for (;;) {
        const char *line = NULL;
        size_t len = 0;
        read_result result = reader_next(reader, &line, &len);
        ld->line = reader->line_number;
        if (result == READ_END)
            break;
        if (result == READ_NOMEM)
            return fail_nomem(ld);
        if (result == READ_IO_ERROR)
            return sr_error_set(&ld->err, SR_ERR_IO, ld->name, ld->line + 1, NULL,
                                "read failed: %s", strerror(errno));

        /* A UTF-8 byte order mark before the header is tolerated. */
        if (!have_header && reader->line_number == 1 && len >= 3 &&
            memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }

        sr_status status;
        if (reader->too_long)
            status = fail(ld, SR_ERR_NOMEM, NULL,
                          "line of %zu or more bytes is longer than the limit of %u bytes",
                          reader->too_long_bytes, SR_MAX_LINE_BYTES);
        else if (is_blank(line, len))
            continue;
        else
            status = load_line(ld, line, len, !have_header);

        if (status == SR_OK) {
            have_header = true;
            continue;
        }
        if (!have_header || ld->fatal || !ld->options.skip_invalid)
            return status;
        (*n_skipped)++;
        if (ld->options.on_skip != NULL)
            ld->options.on_skip(&ld->err, ld->options.user_data);
    }

    if (!have_header)
        return fail(ld, SR_ERR_INVALID, "seqroute_sessions",
                    "header missing: the input is empty; a session file starts with a header "
                    "line {\"seqroute_sessions\": 1, \"models\": [...]}");
    return SR_OK;
}

/* Runs the loader over `reader` and settles the caller's outputs. */
static sr_status load_from_reader(const char *name, line_reader *reader,
                                  const sr_load_options *options, sr_dataset *ds,
                                  size_t *n_skipped, sr_error *err)
{
    loader ld;
    size_t skipped = 0;

    memset(&ld, 0, sizeof(ld));
    ld.name = name;
    ld.ds = ds;
    if (options != NULL)
        ld.options = *options;
    sr_dataset_init(ds);

    sr_status status = load_lines(&ld, reader, &skipped);

    free(ld.ids.slots);
    free(ld.embedding);
    if (n_skipped != NULL)
        *n_skipped = skipped;
    if (status != SR_OK) {
        sr_dataset_free(ds);
        if (err != NULL)
            *err = ld.err;
        return status;
    }
    sr_error_clear(err);
    sr_log(SR_LOG_INFO, "dataset_loaded path=%s sessions=%zu turns=%zu models=%d skipped=%zu",
           name, ds->n_sessions, ds->n_turns, ds->catalogue.n_models, skipped);
    return SR_OK;
}

sr_status sr_dataset_load_buffer(const char *data, size_t size, const char *name,
                                 const sr_load_options *options, sr_dataset *ds,
                                 size_t *n_skipped, sr_error *err)
{
    line_reader reader;

    memset(&reader, 0, sizeof(reader));
    reader.data = data;
    reader.size = data != NULL ? size : 0;
    return load_from_reader(name ? name : "<buffer>", &reader, options, ds, n_skipped, err);
}

sr_status sr_dataset_load(const char *path, const sr_load_options *options, sr_dataset *ds,
                          size_t *n_skipped, sr_error *err)
{
    line_reader reader;
    bool is_stdin = path != NULL && strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;

    if (n_skipped != NULL)
        *n_skipped = 0;
    if (path == NULL || path[0] == '\0') {
        sr_dataset_init(ds);
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "no session file given; pass a path or \"-\" for standard input");
    }

    memset(&reader, 0, sizeof(reader));
    reader.file = is_stdin ? stdin : fopen(path, "rb");
    if (reader.file == NULL) {
        sr_dataset_init(ds);
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL,
                            "cannot open: %s; check the path and its permissions",
                            strerror(errno));
    }
    reader.block = malloc(READ_BLOCK_BYTES);
    sr_status status;
    if (reader.block == NULL) {
        sr_dataset_init(ds);
        status = sr_error_set(err, SR_ERR_NOMEM, name, 0, NULL, "out of memory");
    } else {
        status = load_from_reader(name, &reader, options, ds, n_skipped, err);
    }

    free(reader.block);
    free(reader.line);
    if (!is_stdin)
        fclose(reader.file);
    return status;
}
