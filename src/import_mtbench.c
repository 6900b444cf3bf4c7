/*
 * import_mtbench.c - FastChat MT-Bench single-answer judgments to sessions.
 *
 * Inputs: the question file (one JSON object per line: question_id,
 * category, turns[]), judgment files written by FastChat's gen_judgment.py
 * in single-answer mode (question_id, model, judge, user_prompt, judgment,
 * score, turn, tstamp) and, optionally, answer files (question_id,
 * model_id, choices[0].turns[]).  Each question is one session with one turn
 * per question turn; the sessions are real multi-turn conversations, so
 * nothing is chained.
 *
 * Each (model, question, turn) keeps one judgment: records with score -1
 * (the judge's output could not be parsed) are reported and skipped, and of
 * several valid ones the latest tstamp wins (ties: the later record).  A
 * session is written only when every selected model has a judgment for
 * every turn; otherwise it is reported and skipped.
 *
 * Answer text, needed for token counts, comes from an answer file when one
 * covers the model and question, else from the judge prompt, which embeds
 * the answer between fixed markers of FastChat's templates: for turn 1
 * between "[The Start of Assistant's Answer]\n" and "\n[The End of
 * Assistant's Answer]", for later turns after the last "### Assistant A:\n"
 * and before "\n\n<|The End of Assistant A's Conversation with User|>".
 *
 * Cost model: tokens = UTF-8 bytes / 4.  The input of turn t is every
 * earlier question and answer of the same model plus question t (the model
 * re-reads the conversation); the output is answer t.
 */
#include "seqroute/import.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FastChat's judge prompt markers (fastchat/llm_judge/data/judge_prompts.jsonl). */
static const char SINGLE_START[] = "[The Start of Assistant's Answer]\n";
static const char SINGLE_END[] = "\n[The End of Assistant's Answer]";
static const char MULTI_START[] = "### Assistant A:\n";
static const char MULTI_END[] = "\n\n<|The End of Assistant A's Conversation with User|>";

/* MT-Bench scores run from 1 to 10; -1 marks an unparseable judgment. */
#define SCORE_MIN 1.0
#define SCORE_MAX 10.0
#define SCORE_UNPARSED (-1.0)

typedef struct question {
    long id;
    int n_turns;
    char **turns;
} question;

/* The judgment kept for one (model, question, turn). */
typedef struct judgment {
    bool set;
    double score;
    double tstamp;
    char *answer;
} judgment;

/* An answer-file entry: one model's answers to one question. */
typedef struct answer_entry {
    char *model;
    size_t question;
    int n_turns;
    char **turns;
} answer_entry;

typedef struct mtbench_state {
    const sr_import_options *options;

    question *questions;
    size_t n_questions;
    int max_turns;

    /* Models: the selection, or those discovered in judgment order. */
    char *models[SR_MAX_MODELS];
    int n_models;
    judgment *judgments[SR_MAX_MODELS]; /* n_questions * max_turns each */
    size_t valid[SR_MAX_MODELS];

    answer_entry *answers;
    size_t n_answers;
    size_t cap_answers;

    json_t *judges; /* distinct judge model names */
    size_t records;
    size_t from_answer_files;
    size_t from_judge_prompts;
    sr_import_report counts;
} mtbench_state;

/* ---- small helpers -------------------------------------------------------- */

static void free_strings(char **items, int n)
{
    if (items == NULL)
        return;
    for (int i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* Copies a JSON array of strings; NULL when `value` is not one. */
static char **copy_string_array(json_t *value, int *n, bool *nomem)
{
    *nomem = false;
    if (!json_is_array(value) || json_array_size(value) == 0 ||
        json_array_size(value) > SR_MAX_TURNS)
        return NULL;
    size_t count = json_array_size(value);
    char **items = calloc(count, sizeof(char *));
    if (items == NULL) {
        *nomem = true;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *s = json_array_get(value, i);
        if (!json_is_string(s)) {
            free_strings(items, (int)count);
            return NULL;
        }
        items[i] = strdup(json_string_value(s));
        if (items[i] == NULL) {
            free_strings(items, (int)count);
            *nomem = true;
            return NULL;
        }
    }
    *n = (int)count;
    return items;
}

/* Integer value of a JSON integer or integral real; false otherwise. */
static bool json_whole_number(json_t *value, long *out)
{
    if (json_is_integer(value)) {
        *out = (long)json_integer_value(value);
        return true;
    }
    if (json_is_real(value) && json_real_value(value) == floor(json_real_value(value)) &&
        fabs(json_real_value(value)) < 1e15) {
        *out = (long)json_real_value(value);
        return true;
    }
    return false;
}

static long find_question(const mtbench_state *st, long id)
{
    for (size_t i = 0; i < st->n_questions; i++)
        if (st->questions[i].id == id)
            return (long)i;
    return -1;
}

static int find_model(const mtbench_state *st, const char *name)
{
    for (int k = 0; k < st->n_models; k++)
        if (strcmp(st->models[k], name) == 0)
            return k;
    return -1;
}

static sr_status add_model(mtbench_state *st, const char *name, sr_error *err)
{
    if (st->n_models >= SR_MAX_MODELS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "model",
                            "more than %d models; select some with --models", SR_MAX_MODELS);
    char *copy = strdup(name);
    judgment *slots = calloc(st->n_questions * (size_t)st->max_turns, sizeof(judgment));
    if (copy == NULL || slots == NULL) {
        free(copy);
        free(slots);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    st->models[st->n_models] = copy;
    st->judgments[st->n_models] = slots;
    st->n_models++;
    return SR_OK;
}

/* Calls `on_line` for every non-blank line of a JSON Lines file. */
typedef sr_status (*line_fn)(mtbench_state *st, const char *path, long line, json_t *value,
                             sr_error *err);

static sr_status read_jsonl(mtbench_state *st, const char *path, line_fn on_line, sr_error *err)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    long line_no = 0;
    sr_status status = SR_OK;

    FILE *in = fopen(path, "rb");
    if (in == NULL)
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
    while (status == SR_OK && (length = getline(&line, &capacity, in)) != -1) {
        json_error_t jerr;
        line_no++;
        if ((size_t)length > SR_MAX_LINE_BYTES) {
            status = sr_error_set(err, SR_ERR_INVALID, path, line_no, NULL,
                                  "line is longer than the limit of %u bytes", SR_MAX_LINE_BYTES);
            break;
        }
        size_t start = 0;
        while (start < (size_t)length && strchr(" \t\r\n", line[start]) != NULL)
            start++;
        if (start == (size_t)length)
            continue;
        json_t *value = json_loadb(line, (size_t)length, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(value)) {
            status = sr_error_set(err, SR_ERR_INVALID, path, line_no, NULL,
                                  value == NULL ? "invalid JSON: %s" : "expected a JSON object%s",
                                  value == NULL ? jerr.text : "");
            json_decref(value);
            break;
        }
        status = on_line(st, path, line_no, value, err);
        json_decref(value);
    }
    if (status == SR_OK && ferror(in))
        status =
            sr_error_set(err, SR_ERR_IO, path, line_no, NULL, "read failed: %s", strerror(errno));
    free(line);
    fclose(in);
    return status;
}

/* ---- questions ------------------------------------------------------------ */

static sr_status on_question(mtbench_state *st, const char *path, long line, json_t *value,
                             sr_error *err)
{
    long id;
    int n_turns = 0;
    bool nomem;

    if (!json_whole_number(json_object_get(value, "question_id"), &id))
        return sr_error_set(err, SR_ERR_INVALID, path, line, "question_id",
                            "missing or not an integer");
    if (find_question(st, id) >= 0)
        return sr_error_set(err, SR_ERR_INVALID, path, line, "question_id",
                            "question %ld appears twice", id);
    char **turns = copy_string_array(json_object_get(value, "turns"), &n_turns, &nomem);
    if (turns == NULL)
        return sr_error_set(err, nomem ? SR_ERR_NOMEM : SR_ERR_INVALID, path, line, "turns",
                            nomem ? "out of memory"
                                  : "question %ld: 'turns' is not a non-empty array of strings",
                            id);

    if (st->n_questions % 64 == 0) {
        question *grown = realloc(st->questions, (st->n_questions + 64) * sizeof(question));
        if (grown == NULL) {
            free_strings(turns, n_turns);
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        }
        st->questions = grown;
    }
    st->questions[st->n_questions++] = (question){.id = id, .n_turns = n_turns, .turns = turns};
    if (n_turns > st->max_turns)
        st->max_turns = n_turns;
    return SR_OK;
}

/* ---- answers ------------------------------------------------------------- */

static const answer_entry *find_answer(const mtbench_state *st, const char *model,
                                       size_t question_index)
{
    /* Later entries win, so search backwards. */
    for (size_t i = st->n_answers; i-- > 0;)
        if (st->answers[i].question == question_index && strcmp(st->answers[i].model, model) == 0)
            return &st->answers[i];
    return NULL;
}

static sr_status on_answer(mtbench_state *st, const char *path, long line, json_t *value,
                           sr_error *err)
{
    long id;
    int n_turns = 0;
    bool nomem;

    json_t *model = json_object_get(value, "model_id");
    if (!json_is_string(model))
        return sr_error_set(err, SR_ERR_INVALID, path, line, "model_id", "missing or not a string");
    const char *name = sr_import_rename(st->options, json_string_value(model));
    if (st->options->n_models > 0 && find_model(st, name) < 0)
        return SR_OK;
    if (!json_whole_number(json_object_get(value, "question_id"), &id))
        return sr_error_set(err, SR_ERR_INVALID, path, line, "question_id",
                            "missing or not an integer");
    long q = find_question(st, id);
    if (q < 0)
        return sr_error_set(err, SR_ERR_INVALID, path, line, "question_id",
                            "question %ld is not in the question file", id);
    json_t *choice = json_array_get(json_object_get(value, "choices"), 0);
    char **turns = copy_string_array(json_object_get(choice, "turns"), &n_turns, &nomem);
    if (turns == NULL)
        return sr_error_set(err, nomem ? SR_ERR_NOMEM : SR_ERR_INVALID, path, line,
                            "choices[0].turns", "%s",
                            nomem ? "out of memory" : "missing or not an array of strings");

    if (st->n_answers == st->cap_answers) {
        size_t capacity = st->cap_answers ? st->cap_answers * 2 : 256;
        answer_entry *grown = realloc(st->answers, capacity * sizeof(answer_entry));
        if (grown == NULL) {
            free_strings(turns, n_turns);
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        }
        st->answers = grown;
        st->cap_answers = capacity;
    }
    char *copy = strdup(name);
    if (copy == NULL) {
        free_strings(turns, n_turns);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    st->answers[st->n_answers++] =
        (answer_entry){.model = copy, .question = (size_t)q, .n_turns = n_turns, .turns = turns};
    return SR_OK;
}

/* ---- judgments ------------------------------------------------------------ */

/* Position of the last occurrence of `needle` in text[0..limit), or NULL. */
static const char *find_last(const char *text, size_t limit, const char *needle)
{
    size_t n = strlen(needle);
    const char *found = NULL;
    const char *p = text;
    while ((p = strstr(p, needle)) != NULL && (size_t)(p - text) + n <= limit) {
        found = p;
        p++;
    }
    return found;
}

/* Cuts turn `turn`'s answer out of a FastChat judge prompt; NULL if absent. */
static char *cut_answer(const char *prompt, int turn)
{
    const char *start_marker = turn == 1 ? SINGLE_START : MULTI_START;
    const char *end_marker = turn == 1 ? SINGLE_END : MULTI_END;
    const char *end = find_last(prompt, strlen(prompt), end_marker);
    if (end == NULL)
        return NULL;
    const char *start = find_last(prompt, (size_t)(end - prompt), start_marker);
    if (start == NULL)
        return NULL;
    start += strlen(start_marker);
    return strndup(start, (size_t)(end - start));
}

static sr_status on_judgment(mtbench_state *st, const char *path, long line, json_t *value,
                             sr_error *err)
{
    long id;
    long turn;
    sr_status status;

    json_t *model = json_object_get(value, "model");
    if (!json_is_string(model))
        return sr_error_set(err, SR_ERR_INVALID, path, line, "model", "missing or not a string");
    const char *name = sr_import_rename(st->options, json_string_value(model));
    int k = find_model(st, name);
    if (k < 0 && st->options->n_models > 0) {
        st->counts.ignored_records++;
        return SR_OK;
    }
    st->records++;

    /* Locate the question and turn. */
    if (!json_whole_number(json_object_get(value, "question_id"), &id))
        return sr_error_set(err, SR_ERR_INVALID, path, line, "question_id",
                            "missing or not an integer");
    long q = find_question(st, id);
    if (q < 0)
        return sr_error_set(err, SR_ERR_INVALID, path, line, "question_id",
                            "question %ld is not in the question file; check --questions", id);
    if (!json_whole_number(json_object_get(value, "turn"), &turn) || turn < 1 ||
        turn > st->questions[q].n_turns)
        return sr_error_set(err, SR_ERR_INVALID, path, line, "turn",
                            "missing or not a turn of question %ld (1..%d)", id,
                            st->questions[q].n_turns);

    /* Score: -1 is skipped (reported), anything else outside 1..10 is an error. */
    json_t *score_value = json_object_get(value, "score");
    double score = json_number_value(score_value);
    if (!json_is_number(score_value) || !isfinite(score))
        return sr_error_set(err, SR_ERR_INVALID, path, line, "score", "missing or not a number");
    if (score == SCORE_UNPARSED) {
        sr_log(SR_LOG_WARN,
               "import_skip_judgment file=%s line=%ld model=%s question=%ld turn=%ld "
               "reason=\"score -1: the judge output could not be parsed\"",
               path, line, name, id, turn);
        st->counts.skipped_scores++;
        return SR_OK;
    }
    if (score < SCORE_MIN || score > SCORE_MAX)
        return sr_error_set(err, SR_ERR_INVALID, path, line, "score",
                            "score %g is outside 1..10 (and is not -1)", score);
    json_t *tstamp_value = json_object_get(value, "tstamp");
    double tstamp = json_is_number(tstamp_value) ? json_number_value(tstamp_value) : 0.0;

    if (k < 0) {
        status = add_model(st, name, err);
        if (status != SR_OK)
            return status;
        k = st->n_models - 1;
    }

    /* Keep the latest of several judgments of one (model, question, turn). */
    judgment *slot = &st->judgments[k][(size_t)q * (size_t)st->max_turns + (size_t)(turn - 1)];
    if (slot->set) {
        bool replace = tstamp >= slot->tstamp;
        sr_log(SR_LOG_INFO,
               "import_duplicate_judgment file=%s line=%ld model=%s question=%ld turn=%ld "
               "kept=%s",
               path, line, name, id, turn, replace ? "this (later tstamp)" : "earlier record");
        st->counts.duplicates++;
        if (!replace)
            return SR_OK;
    }

    /* Answer text: the answer file, else the judge prompt. */
    char *answer = NULL;
    const answer_entry *entry = find_answer(st, name, (size_t)q);
    if (entry != NULL && turn <= entry->n_turns) {
        answer = strdup(entry->turns[turn - 1]);
        st->from_answer_files++;
    } else {
        json_t *prompt = json_object_get(value, "user_prompt");
        if (!json_is_string(prompt))
            return sr_error_set(err, SR_ERR_INVALID, path, line, "user_prompt",
                                "missing or not a string, and no answer file gives this "
                                "answer; pass the answers with --answers");
        answer = cut_answer(json_string_value(prompt), (int)turn);
        if (answer == NULL)
            return sr_error_set(err, SR_ERR_INVALID, path, line, "user_prompt",
                                "cannot find the turn-%ld answer between FastChat's judge "
                                "prompt markers; pass the answers with --answers",
                                turn);
        st->from_judge_prompts++;
    }
    if (answer == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");

    json_t *judge = json_array_get(json_object_get(value, "judge"), 0);
    if (json_is_string(judge)) {
        bool known = false;
        size_t i;
        json_t *seen;
        json_array_foreach(st->judges, i, seen)
        {
            if (json_equal(seen, judge))
                known = true;
        }
        if (!known)
            json_array_append(st->judges, judge);
    }

    free(slot->answer);
    if (!slot->set)
        st->valid[k]++;
    *slot = (judgment){.set = true, .score = score, .tstamp = tstamp, .answer = answer};
    return SR_OK;
}

/* ---- building the sessions -------------------------------------------------- */

/* Writes question `q` as a session, or reports and skips it when incomplete. */
static sr_status add_session(mtbench_state *st, size_t q, sr_dataset *ds, sr_error *err)
{
    const question *qu = &st->questions[q];
    char missing[512] = "";
    int n_missing = 0;
    char id[64];
    sr_status status;

    for (int k = 0; k < st->n_models; k++)
        for (int t = 0; t < qu->n_turns; t++) {
            if (st->judgments[k][q * (size_t)st->max_turns + (size_t)t].set)
                continue;
            size_t used = strlen(missing);
            if (used + 80 < sizeof(missing))
                snprintf(missing + used, sizeof(missing) - used, "%s%s turn %d",
                         n_missing ? ", " : "", st->models[k], t + 1);
            n_missing++;
        }
    if (n_missing > 0) {
        sr_log(SR_LOG_WARN,
               "import_skip_session question=%ld missing=%d reason=\"no valid judgment for: "
               "%s\"",
               qu->id, n_missing, missing);
        st->counts.skipped_sessions++;
        return SR_OK;
    }

    snprintf(id, sizeof(id), "mtbench-%ld", qu->id);
    status = sr_dataset_begin_session(ds, id, NAN, err);
    for (int t = 0; status == SR_OK && t < qu->n_turns; t++) {
        char source_id[64];
        size_t turn;
        snprintf(source_id, sizeof(source_id), "mtbench:%ld:%d", qu->id, t + 1);
        status = sr_dataset_add_turn(ds, st->options->drop_text ? NULL : qu->turns[t], NULL, 0,
                                     source_id, -1, &turn, err);
        for (int k = 0; status == SR_OK && k < st->n_models; k++) {
            const judgment *row = &st->judgments[k][q * (size_t)st->max_turns];
            double input_bytes = (double)strlen(qu->turns[t]);
            for (int e = 0; e < t; e++)
                input_bytes += (double)(strlen(qu->turns[e]) + strlen(row[e].answer));
            double input_tokens = input_bytes / SR_IMPORT_BYTES_PER_TOKEN;
            double output_tokens = sr_import_estimate_tokens(row[t].answer);
            double cost = sr_catalogue_price(&ds->catalogue, k, input_tokens, output_tokens);
            double quality = (row[t].score - SCORE_MIN) / (SCORE_MAX - SCORE_MIN);
            status = sr_dataset_set_outcome(ds, turn, k, quality, cost, input_tokens, output_tokens,
                                            err);
        }
    }
    return status;
}

static json_t *path_array(const char *const *paths, size_t n)
{
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(array, json_string(paths[i]));
    return array;
}

static json_t *mtbench_source(const mtbench_state *st, const char *questions_path,
                              const char *const *judgment_paths, size_t n_judgment_paths,
                              const char *const *answer_paths, size_t n_answer_paths,
                              const sr_dataset *ds, char **price_sources)
{
    json_t *source = json_object();
    json_t *prices = json_object();

    for (int k = 0; k < ds->catalogue.n_models; k++)
        if (price_sources[k] != NULL)
            json_object_set_new(prices, ds->catalogue.models[k].name,
                                json_string(price_sources[k]));
    json_object_set_new(source, "importer", json_string("mtbench"));
    json_object_set_new(source, "questions", json_string(questions_path));
    json_object_set_new(source, "judgments", path_array(judgment_paths, n_judgment_paths));
    json_object_set_new(source, "answers", path_array(answer_paths, n_answer_paths));
    json_object_set_new(source, "judges", json_incref(st->judges));
    json_object_set_new(source, "quality",
                        json_string("(score - 1) / 9 of the judge's 1-10 "
                                    "score"));
    json_object_set_new(source, "records", json_integer((json_int_t)st->records));
    json_object_set_new(source, "skipped_scores",
                        json_integer((json_int_t)st->counts.skipped_scores));
    json_object_set_new(source, "duplicates", json_integer((json_int_t)st->counts.duplicates));
    json_object_set_new(source, "skipped_sessions",
                        json_integer((json_int_t)st->counts.skipped_sessions));
    json_object_set_new(source, "answers_from_answer_files",
                        json_integer((json_int_t)st->from_answer_files));
    json_object_set_new(source, "answers_from_judge_prompts",
                        json_integer((json_int_t)st->from_judge_prompts));
    json_object_set_new(source, "cost_model",
                        json_string("priced: tokens = UTF-8 bytes / 4; input of turn t = "
                                    "questions 1..t and the model's own answers 1..t-1; "
                                    "output = answer t; cost = input x input_price / 1e6 + "
                                    "output x output_price / 1e6 (USD per 1M tokens)"));
    json_object_set_new(source, "prices", prices);
    return source;
}

static void state_free(mtbench_state *st)
{
    for (size_t i = 0; i < st->n_questions; i++)
        free_strings(st->questions[i].turns, st->questions[i].n_turns);
    free(st->questions);
    for (int k = 0; k < st->n_models; k++) {
        size_t n = st->n_questions * (size_t)st->max_turns;
        for (size_t i = 0; i < n; i++)
            free(st->judgments[k][i].answer);
        free(st->judgments[k]);
        free(st->models[k]);
    }
    for (size_t i = 0; i < st->n_answers; i++) {
        free(st->answers[i].model);
        free_strings(st->answers[i].turns, st->answers[i].n_turns);
    }
    free(st->answers);
    json_decref(st->judges);
    free(st);
}

sr_status sr_import_mtbench(const char *questions_path, const char *const *judgment_paths,
                            size_t n_judgment_paths, const char *const *answer_paths,
                            size_t n_answer_paths, const sr_import_options *options, sr_dataset *ds,
                            sr_import_report *report, sr_error *err)
{
    mtbench_state *st = NULL;
    char *price_sources[SR_MAX_MODELS] = {0};
    sr_status status;

    if (report != NULL)
        memset(report, 0, sizeof(*report));
    if (questions_path == NULL || n_judgment_paths == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "give the question file (--questions) and at least one judgment "
                            "file (--judgments)");
    status = sr_import_check_options(options, err);
    if (status != SR_OK)
        return status;
    st = calloc(1, sizeof(*st));
    if (st == NULL || (st->judges = json_array()) == NULL) {
        free(st);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    st->options = options;

    /* Questions, then the selected models, answers and judgments. */
    status = read_jsonl(st, questions_path, on_question, err);
    if (status == SR_OK && st->n_questions == 0)
        status = sr_error_set(err, SR_ERR_INVALID, questions_path, 0, NULL,
                              "the question file has no questions");
    for (size_t i = 0; status == SR_OK && i < options->n_models; i++)
        status = add_model(st, options->models[i], err);
    for (size_t f = 0; status == SR_OK && f < n_answer_paths; f++)
        status = read_jsonl(st, answer_paths[f], on_answer, err);
    for (size_t f = 0; status == SR_OK && f < n_judgment_paths; f++)
        status = read_jsonl(st, judgment_paths[f], on_judgment, err);

    /* A selected model without any judgment is almost surely a naming mistake. */
    if (status == SR_OK && st->n_models == 0)
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "model",
                              "no valid judgments in the judgment files");
    for (int k = 0; status == SR_OK && k < st->n_models; k++)
        if (st->valid[k] == 0)
            status = sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, "model",
                                  "model '%s' has no valid judgment in the judgment files; "
                                  "check --models and use --rename RAW=CANONICAL for names "
                                  "spelt differently in the files",
                                  st->models[k]);

    /* Catalogue and prices. */
    for (int k = 0; status == SR_OK && k < st->n_models; k++)
        status = sr_dataset_add_model(ds, st->models[k], NAN, NAN, NAN, false, err);
    if (status == SR_OK)
        status = sr_dataset_set_cost_unit(ds, "USD", err);
    if (status == SR_OK)
        status = sr_import_resolve_prices(options, ds, price_sources, err);

    /* One session per complete question. */
    for (size_t q = 0; status == SR_OK && q < st->n_questions; q++)
        status = add_session(st, q, ds, err);
    if (status == SR_OK && ds->n_sessions == 0)
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                              "no question has a valid judgment of every selected model for "
                              "every turn; see the skipped sessions above");
    if (status == SR_OK)
        status = sr_import_set_source(ds,
                                      mtbench_source(st, questions_path, judgment_paths,
                                                     n_judgment_paths, answer_paths, n_answer_paths,
                                                     ds, price_sources),
                                      err);

    if (status == SR_OK && report != NULL) {
        *report = st->counts;
        report->sessions = ds->n_sessions;
        report->turns = ds->n_turns;
        report->outcomes = ds->n_turns * (size_t)ds->catalogue.n_models;
    }
    if (status != SR_OK)
        sr_dataset_free(ds);
    for (int k = 0; k < SR_MAX_MODELS; k++)
        free(price_sources[k]);
    state_free(st);
    return status;
}
