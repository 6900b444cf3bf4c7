/*
 * synth.c - the synthetic session generator.
 *
 * Generative story, per session i (its own random streams from seed and i):
 *
 *   T ~ U{min_turns..max_turns}; topic ~ U{0..7}, switching with p 0.2 per turn
 *   turn t is late when 2t >= T (the second half; a 1-turn session has none)
 *   hard ~ Bernoulli(late ? hard_late : hard_early)
 *   difficulty = hard ? U(hard_min, hard_max) : U(0, easy_max), plus a fixed
 *                per-topic shift in [-0.08, +0.08], clamped to [0, 1]
 *   p_k = logistic(sharpness * (strength_k - difficulty))
 *   quality_k = binary ? Bernoulli(p_k) : clamp(p_k + N(0, quality_noise), 0, 1)
 *   input tokens = input_tokens * exp(N(0, token_spread))        (one per turn)
 *   output tokens_k = output_tokens * (1 + difficulty) * exp(N(0, token_spread))
 *   cost_k = catalogue price of those tokens
 *
 * Model k = 0 is the strongest and most expensive.  Prices fall
 * log-uniformly to strong / price_ratio, and strengths fall linearly from
 * strength_strong to strength_weak, so strength is linear in log price.
 * With two models that is a strong/weak pair at a 1:price_ratio price
 * ratio.  The cheapest model is the catalogue's fallback.
 *
 * Separate streams per session for outcomes, text, embedding and logging
 * mean that switching text, embeddings or the logging policy on or off
 * leaves every other draw unchanged.
 */
#include "seqroute/synth.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Probability that a turn changes topic: sessions mostly stay on one topic. */
#define TOPIC_SWITCH 0.2

/* Largest per-topic difficulty shift, small next to the hard/ordinary gap. */
#define TOPIC_SHIFT 0.08

/* Text shape: words per turn = 6 + U{0..4} + round(8 * difficulty). */
#define TEXT_BASE_WORDS 6
#define TEXT_EXTRA_WORDS 5
#define TEXT_DIFFICULTY_WORDS 8.0

/* Word mix: P(topic word), then P(difficulty word); the rest are fillers. */
#define P_TOPIC_WORD 0.35
#define P_DIFFICULTY_WORD 0.25

/* P(a code-topic turn carries a ``` fence), exercising the code statistics. */
#define P_CODE_FENCE 0.3

/* Text buffer: at most 18 words of <= 14 bytes plus a fence, far below 1 KiB. */
#define TEXT_BYTES 1024

/* Latent factors fed to the embedding: difficulty, hard, late, t/T, topic one-hot. */
#define LATENT_FACTORS (4 + SR_SYNTH_N_TOPICS)

/* Random streams per session (see the file comment). */
enum { STREAM_OUTCOMES, STREAM_TEXT, STREAM_EMBEDDING, STREAM_LOGGING, STREAMS_PER_SESSION };

/* Stream of the fixed embedding projection, apart from every session's. */
#define STREAM_PROJECTION UINT64_MAX

static const char *const topic_words[SR_SYNTH_N_TOPICS][10] = {
    {"integral", "equation", "matrix", "theorem", "probability", "derivative", "prime",
     "vector", "polynomial", "limit"},
    {"function", "compile", "pointer", "python", "array", "recursion", "thread", "api",
     "database", "regex"},
    {"empire", "war", "revolution", "dynasty", "treaty", "century", "king", "colonial",
     "medieval", "republic"},
    {"recipe", "oven", "flour", "garlic", "bake", "sauce", "onion", "dough", "grill",
     "spice"},
    {"flight", "hotel", "visa", "itinerary", "museum", "beach", "train", "luggage", "tour",
     "passport"},
    {"symptom", "diet", "sleep", "vitamin", "exercise", "doctor", "allergy", "fever",
     "muscle", "therapy"},
    {"stock", "interest", "loan", "budget", "tax", "portfolio", "inflation", "mortgage",
     "dividend", "bond"},
    {"quantum", "energy", "particle", "gravity", "momentum", "photon", "entropy", "orbit",
     "velocity", "field"},
};

/* Per-topic difficulty shift as a multiple of TOPIC_SHIFT: math and code harder. */
static const double topic_shift[SR_SYNTH_N_TOPICS] = {1.0, 0.75, -0.25, -1.0,
                                                      -0.75, -0.5, 0.25, 0.5};

/* Topic whose turns may carry a code fence (row 1 of topic_words). */
#define TOPIC_CODE 1

static const char *const band_words[3][10] = {
    {"quick", "simple", "briefly", "basic", "short", "easy", "list", "name", "define",
     "summary"},
    {"explain", "compare", "describe", "why", "example", "difference", "outline", "steps",
     "analyse", "tradeoffs"},
    {"prove", "derive", "rigorous", "optimise", "formal", "edge", "complexity", "multistep",
     "counterexample", "invariant"},
};

static const char *const filler_words[16] = {"the", "please", "can", "you", "about", "i",
                                             "want", "to", "know", "a", "of", "and", "this",
                                             "with", "my", "for"};

/* Names of the two-model catalogue; larger catalogues use m1..mK. */
static const char *const pair_names[2] = {"strong", "weak"};

void sr_synth_config_default(sr_synth_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = 1;
    cfg->n_sessions = 1000;
    cfg->n_models = 2;
    cfg->min_turns = 2;
    cfg->max_turns = 6;
    cfg->hard_late = 0.3;
    cfg->hard_early = 0.05;
    cfg->easy_max = 0.5;
    cfg->hard_min = 0.6;
    cfg->hard_max = 0.9;
    cfg->strength_strong = 0.85;
    cfg->strength_weak = 0.35;
    cfg->sharpness = 10.0;
    cfg->quality_noise = 0.05;
    cfg->binary = false;
    cfg->strong_input_price = 10.0;
    cfg->strong_output_price = 30.0;
    cfg->price_ratio = 10.0;
    cfg->input_tokens = 400.0;
    cfg->output_tokens = 250.0;
    cfg->token_spread = 0.5;
    cfg->text = true;
    cfg->text_signal = 0.8;
    cfg->embedding_dim = 0;
    cfg->embedding_noise = 0.1;
    cfg->logged = SR_SYNTH_LOGGED_NONE;
    cfg->logged_epsilon = 0.1;
    cfg->logged_only = false;
    cfg->budget = NAN;
}

const char *sr_synth_logged_name(sr_synth_logged logged)
{
    switch (logged) {
    case SR_SYNTH_LOGGED_NONE:
        return "none";
    case SR_SYNTH_LOGGED_RANDOM:
        return "random";
    case SR_SYNTH_LOGGED_GREEDY:
        return "greedy";
    }
    return "unknown";
}

bool sr_synth_logged_parse(const char *name, sr_synth_logged *logged)
{
    const sr_synth_logged all[3] = {SR_SYNTH_LOGGED_NONE, SR_SYNTH_LOGGED_RANDOM,
                                    SR_SYNTH_LOGGED_GREEDY};
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, sr_synth_logged_name(all[i])) == 0) {
            *logged = all[i];
            return true;
        }
    }
    return false;
}

/* ---- configuration check ------------------------------------------------------- */

static bool in_range(double x, double lo, double hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

static sr_status range_error(sr_error *err, const char *field, double value, const char *range)
{
    return sr_error_set(err, SR_ERR_INVALID, NULL, 0, field, "value %g is invalid; use %s",
                        value, range);
}

sr_status sr_synth_config_check(const sr_synth_config *cfg, sr_error *err)
{
    if (cfg->n_sessions < 1)
        return range_error(err, "sessions", (double)cfg->n_sessions, "at least 1");
    if (cfg->n_models < SR_SYNTH_MIN_MODELS || cfg->n_models > SR_SYNTH_MAX_MODELS)
        return range_error(err, "models", cfg->n_models, "2..8");
    if (cfg->min_turns < 1 || cfg->min_turns > SR_MAX_TURNS)
        return range_error(err, "min_turns", cfg->min_turns, "1..4096");
    if (cfg->max_turns < cfg->min_turns || cfg->max_turns > SR_MAX_TURNS)
        return range_error(err, "max_turns", cfg->max_turns, "min_turns..4096");

    /* Probabilities. */
    const double probabilities[4] = {cfg->hard_late, cfg->hard_early, cfg->text_signal,
                                     cfg->logged_epsilon};
    const char *probability_fields[4] = {"hard_late", "hard_early", "text_signal",
                                         "logged_epsilon"};
    for (int i = 0; i < 4; i++)
        if (!in_range(probabilities[i], 0.0, 1.0))
            return range_error(err, probability_fields[i], probabilities[i], "0..1");

    /* Difficulty ranges. */
    if (!in_range(cfg->easy_max, 0.0, 1.0))
        return range_error(err, "easy_max", cfg->easy_max, "0..1");
    if (!in_range(cfg->hard_min, 0.0, 1.0))
        return range_error(err, "hard_min", cfg->hard_min, "0..1");
    if (!in_range(cfg->hard_max, cfg->hard_min, 1.0))
        return range_error(err, "hard_max", cfg->hard_max, "hard_min..1");

    /* Quality model. */
    if (!isfinite(cfg->strength_weak))
        return range_error(err, "strength_weak", cfg->strength_weak, "a finite number");
    if (!isfinite(cfg->strength_strong) || cfg->strength_strong < cfg->strength_weak)
        return range_error(err, "strength_strong", cfg->strength_strong,
                           "a finite number >= strength_weak");
    if (!isfinite(cfg->sharpness) || cfg->sharpness <= 0)
        return range_error(err, "sharpness", cfg->sharpness, "a positive number");
    if (!isfinite(cfg->quality_noise) || cfg->quality_noise < 0)
        return range_error(err, "quality_noise", cfg->quality_noise, "a number >= 0");

    /* Prices and tokens. */
    const double positives[4] = {cfg->strong_input_price, cfg->strong_output_price,
                                 cfg->input_tokens, cfg->output_tokens};
    const char *positive_fields[4] = {"strong_input_price", "strong_output_price",
                                      "input_tokens", "output_tokens"};
    for (int i = 0; i < 4; i++)
        if (!isfinite(positives[i]) || positives[i] <= 0)
            return range_error(err, positive_fields[i], positives[i], "a positive number");
    if (!isfinite(cfg->price_ratio) || cfg->price_ratio < 1)
        return range_error(err, "price_ratio", cfg->price_ratio, "a number >= 1");
    if (!in_range(cfg->token_spread, 0.0, 3.0))
        return range_error(err, "token_spread", cfg->token_spread,
                           "0..3 (sd of log tokens; 3 spans a factor of 20 either way)");

    /* Text, embeddings, logging, budget. */
    if (cfg->embedding_dim < 0 || cfg->embedding_dim > SR_MAX_EMBEDDING_DIM)
        return range_error(err, "embedding_dim", cfg->embedding_dim, "0..65536");
    if (!cfg->text && cfg->embedding_dim == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "text",
                            "turns would carry neither text nor an embedding; keep the text "
                            "or give an embedding dimension");
    if (!isfinite(cfg->embedding_noise) || cfg->embedding_noise < 0)
        return range_error(err, "embedding_noise", cfg->embedding_noise, "a number >= 0");
    if (cfg->logged != SR_SYNTH_LOGGED_NONE && cfg->logged != SR_SYNTH_LOGGED_RANDOM &&
        cfg->logged != SR_SYNTH_LOGGED_GREEDY)
        return range_error(err, "logged", cfg->logged, "none, random or greedy");
    if (cfg->logged_only && cfg->logged == SR_SYNTH_LOGGED_NONE)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "logged_only",
                            "logged-only data needs a logging policy; set logged to random "
                            "or greedy");
    if (!isnan(cfg->budget) && (!isfinite(cfg->budget) || cfg->budget < 0))
        return range_error(err, "budget", cfg->budget, "a number >= 0, or none");
    return SR_OK;
}

/* ---- catalogue and header ------------------------------------------------------- */

/* Strength of model k (0 = strongest), linear between the two ends. */
static double model_strength(const sr_synth_config *cfg, int k)
{
    double position = (double)k / (double)(cfg->n_models - 1);
    return cfg->strength_strong - (cfg->strength_strong - cfg->strength_weak) * position;
}

/* Price divisor of model k: price_ratio^(k / (K-1)), log-uniform from 1 to price_ratio. */
static double price_divisor(const sr_synth_config *cfg, int k)
{
    double position = (double)k / (double)(cfg->n_models - 1);
    return pow(cfg->price_ratio, position);
}

static sr_status add_catalogue(const sr_synth_config *cfg, sr_dataset *ds, sr_error *err)
{
    sr_status status = sr_dataset_set_cost_unit(ds, "USD", err);

    for (int k = 0; status == SR_OK && k < cfg->n_models; k++) {
        char name[16];
        if (cfg->n_models == 2)
            snprintf(name, sizeof(name), "%s", pair_names[k]);
        else
            snprintf(name, sizeof(name), "m%d", k + 1);
        double divisor = price_divisor(cfg, k);
        status = sr_dataset_add_model(ds, name, cfg->strong_input_price / divisor,
                                      cfg->strong_output_price / divisor, NAN,
                                      k == cfg->n_models - 1, err);
    }
    return status;
}

/* JSON integer for values that fit, else the decimal string (seeds above 2^63). */
static json_t *u64_value(uint64_t x)
{
    if (x <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)x);
    char text[32];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)x);
    return json_string(text);
}

/* Records every setting as {"synth": {...}} in ds->header_extra. */
static sr_status record_settings(const sr_synth_config *cfg, sr_dataset *ds, sr_error *err)
{
    json_t *settings = json_object();
    json_t *strengths = json_array();

    for (int k = 0; k < cfg->n_models; k++)
        json_array_append_new(strengths, json_real(model_strength(cfg, k)));
    json_object_set_new(settings, "generator", json_string("seqroute synth"));
    json_object_set_new(settings, "seed", u64_value(cfg->seed));
    json_object_set_new(settings, "sessions", u64_value(cfg->n_sessions));
    json_object_set_new(settings, "models", json_integer(cfg->n_models));
    json_object_set_new(settings, "strengths", strengths);
    json_object_set_new(settings, "min_turns", json_integer(cfg->min_turns));
    json_object_set_new(settings, "max_turns", json_integer(cfg->max_turns));
    json_object_set_new(settings, "hard_late", json_real(cfg->hard_late));
    json_object_set_new(settings, "hard_early", json_real(cfg->hard_early));
    json_object_set_new(settings, "easy_max", json_real(cfg->easy_max));
    json_object_set_new(settings, "hard_min", json_real(cfg->hard_min));
    json_object_set_new(settings, "hard_max", json_real(cfg->hard_max));
    json_object_set_new(settings, "strength_strong", json_real(cfg->strength_strong));
    json_object_set_new(settings, "strength_weak", json_real(cfg->strength_weak));
    json_object_set_new(settings, "sharpness", json_real(cfg->sharpness));
    json_object_set_new(settings, "quality_noise", json_real(cfg->quality_noise));
    json_object_set_new(settings, "binary", json_boolean(cfg->binary));
    json_object_set_new(settings, "strong_input_price", json_real(cfg->strong_input_price));
    json_object_set_new(settings, "strong_output_price", json_real(cfg->strong_output_price));
    json_object_set_new(settings, "price_ratio", json_real(cfg->price_ratio));
    json_object_set_new(settings, "input_tokens", json_real(cfg->input_tokens));
    json_object_set_new(settings, "output_tokens", json_real(cfg->output_tokens));
    json_object_set_new(settings, "token_spread", json_real(cfg->token_spread));
    json_object_set_new(settings, "text", json_boolean(cfg->text));
    json_object_set_new(settings, "text_signal", json_real(cfg->text_signal));
    json_object_set_new(settings, "embedding_dim", json_integer(cfg->embedding_dim));
    json_object_set_new(settings, "embedding_noise", json_real(cfg->embedding_noise));
    json_object_set_new(settings, "logged", json_string(sr_synth_logged_name(cfg->logged)));
    json_object_set_new(settings, "logged_epsilon", json_real(cfg->logged_epsilon));
    json_object_set_new(settings, "logged_only", json_boolean(cfg->logged_only));
    json_object_set_new(settings, "budget",
                        isnan(cfg->budget) ? json_null() : json_real(cfg->budget));

    json_t *extra = json_object();
    json_object_set_new(extra, "synth", settings);
    char *text = json_dumps(extra, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(extra);
    if (text == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");

    /* Copy into malloc'd memory: sr_dataset_free releases it with free(). */
    size_t len = strlen(text) + 1;
    ds->header_extra = malloc(len);
    if (ds->header_extra != NULL)
        memcpy(ds->header_extra, text, len);
    free(text);
    if (ds->header_extra == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    return SR_OK;
}

/* ---- per-turn generation ---------------------------------------------------------- */

/* Per-session generator state. */
typedef struct session_streams {
    sr_rng outcomes;
    sr_rng text;
    sr_rng embedding;
    sr_rng logging;
} session_streams;

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

/* Appends `word` and a separator to the text buffer if it fits. */
static void append_word(char *text, size_t *used, const char *word, const char *separator)
{
    size_t n = strlen(word) + strlen(separator);
    if (*used + n + 1 > TEXT_BYTES)
        return;
    memcpy(text + *used, word, strlen(word));
    *used += strlen(word);
    memcpy(text + *used, separator, strlen(separator));
    *used += strlen(separator);
    text[*used] = '\0';
}

/* Writes a turn text whose words signal the topic and the difficulty band. */
static void make_text(const sr_synth_config *cfg, const sr_synth_latent *latent, sr_rng *rng,
                      char *text)
{
    int band = latent->difficulty < 1.0 / 3.0 ? 0 : (latent->difficulty < 2.0 / 3.0 ? 1 : 2);
    int n_words = TEXT_BASE_WORDS + (int)sr_rng_below(rng, TEXT_EXTRA_WORDS) +
                  (int)lround(TEXT_DIFFICULTY_WORDS * latent->difficulty);
    size_t used = 0;

    text[0] = '\0';
    for (int w = 0; w < n_words; w++) {
        double r = sr_rng_uniform(rng);
        const char *word;
        if (r < P_TOPIC_WORD) {
            word = topic_words[latent->topic][sr_rng_below(rng, 10)];
        } else if (r < P_TOPIC_WORD + P_DIFFICULTY_WORD) {
            int b = sr_rng_uniform(rng) < cfg->text_signal ? band : (int)sr_rng_below(rng, 3);
            word = band_words[b][sr_rng_below(rng, 10)];
        } else {
            word = filler_words[sr_rng_below(rng, 16)];
        }
        append_word(text, &used, word, w + 1 < n_words ? " " : "");
    }
    if (text[0] >= 'a' && text[0] <= 'z')
        text[0] = (char)(text[0] - 'a' + 'A');
    append_word(text, &used, sr_rng_uniform(rng) < 0.5 ? "?" : ".", "");
    if (latent->topic == TOPIC_CODE && sr_rng_uniform(rng) < P_CODE_FENCE)
        append_word(text, &used, "\n```\nx = f(y);\n```", "");
}

/* Embedding = projection * latent factors + noise. */
static void make_embedding(const sr_synth_config *cfg, const float *projection,
                           const sr_synth_latent *latent, double position, sr_rng *rng,
                           float *embedding)
{
    double z[LATENT_FACTORS] = {0};
    z[0] = latent->difficulty;
    z[1] = latent->hard ? 1.0 : 0.0;
    z[2] = latent->late ? 1.0 : 0.0;
    z[3] = position;
    z[4 + latent->topic] = 1.0;

    for (int d = 0; d < cfg->embedding_dim; d++) {
        const float *w = projection + (size_t)d * LATENT_FACTORS;
        double sum = 0.0;
        for (int f = 0; f < LATENT_FACTORS; f++)
            sum += (double)w[f] * z[f];
        embedding[d] = (float)(sum + cfg->embedding_noise * sr_rng_normal(rng));
    }
}

/* Picks the logged model; `quality` and `cost` hold the turn's K outcomes. */
static int pick_logged(const sr_synth_config *cfg, const double *quality, const double *cost,
                       sr_rng *rng)
{
    const int k_count = cfg->n_models;

    if (cfg->logged == SR_SYNTH_LOGGED_NONE)
        return -1;
    if (cfg->logged == SR_SYNTH_LOGGED_RANDOM || sr_rng_uniform(rng) < cfg->logged_epsilon)
        return (int)sr_rng_below(rng, (uint64_t)k_count);

    int best = 0;
    for (int k = 1; k < k_count; k++)
        if (quality[k] > quality[best] || (quality[k] == quality[best] && cost[k] < cost[best]))
            best = k;
    return best;
}

/* Draws a log-normal token count around `median`, at least 1. */
static double draw_tokens(double median, double spread, sr_rng *rng)
{
    double x = round(median * exp(spread * sr_rng_normal(rng)));
    return x < 1.0 ? 1.0 : x;
}

/* Generates session i into `ds` and its latents into latents[first turn ..]. */
static sr_status generate_session(const sr_synth_config *cfg, size_t i, const float *projection,
                                  sr_dataset *ds, sr_synth_latent *latents, sr_error *err)
{
    const int k_count = cfg->n_models;
    session_streams rng;
    char id[32];
    char text[TEXT_BYTES];
    float *embedding = NULL;
    double quality[SR_SYNTH_MAX_MODELS];
    double cost[SR_SYNTH_MAX_MODELS];
    double out_tokens[SR_SYNTH_MAX_MODELS];

    sr_rng_seed_stream(&rng.outcomes, cfg->seed, i * STREAMS_PER_SESSION + STREAM_OUTCOMES);
    sr_rng_seed_stream(&rng.text, cfg->seed, i * STREAMS_PER_SESSION + STREAM_TEXT);
    sr_rng_seed_stream(&rng.embedding, cfg->seed, i * STREAMS_PER_SESSION + STREAM_EMBEDDING);
    sr_rng_seed_stream(&rng.logging, cfg->seed, i * STREAMS_PER_SESSION + STREAM_LOGGING);

    snprintf(id, sizeof(id), "s%zu", i + 1);
    sr_status status = sr_dataset_begin_session(ds, id, cfg->budget, err);
    if (status != SR_OK)
        return status;
    if (cfg->embedding_dim > 0) {
        embedding = malloc((size_t)cfg->embedding_dim * sizeof(float));
        if (embedding == NULL)
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }

    int n_turns = cfg->min_turns +
                  (int)sr_rng_below(&rng.outcomes, (uint64_t)(cfg->max_turns - cfg->min_turns + 1));
    int topic = (int)sr_rng_below(&rng.outcomes, SR_SYNTH_N_TOPICS);

    for (int t = 0; t < n_turns && status == SR_OK; t++) {
        /* Latent factors. */
        sr_synth_latent latent = {0};
        if (t > 0 && sr_rng_uniform(&rng.outcomes) < TOPIC_SWITCH)
            topic = (int)sr_rng_below(&rng.outcomes, SR_SYNTH_N_TOPICS);
        latent.topic = topic;
        latent.late = 2 * t >= n_turns && n_turns > 1;
        latent.hard = sr_rng_uniform(&rng.outcomes) < (latent.late ? cfg->hard_late : cfg->hard_early);
        double base = latent.hard
                          ? cfg->hard_min + (cfg->hard_max - cfg->hard_min) *
                                                sr_rng_uniform(&rng.outcomes)
                          : cfg->easy_max * sr_rng_uniform(&rng.outcomes);
        latent.difficulty = clamp01(base + TOPIC_SHIFT * topic_shift[topic]);

        /* Outcomes of every model. */
        double in_tokens = draw_tokens(cfg->input_tokens, cfg->token_spread, &rng.outcomes);
        for (int k = 0; k < k_count; k++) {
            double p = 1.0 / (1.0 + exp(-cfg->sharpness *
                                        (model_strength(cfg, k) - latent.difficulty)));
            if (cfg->binary)
                quality[k] = sr_rng_uniform(&rng.outcomes) < p ? 1.0 : 0.0;
            else
                quality[k] = clamp01(p + cfg->quality_noise * sr_rng_normal(&rng.outcomes));
            out_tokens[k] = draw_tokens(cfg->output_tokens * (1.0 + latent.difficulty),
                                        cfg->token_spread, &rng.outcomes);
            cost[k] = sr_catalogue_price(&ds->catalogue, k, in_tokens, out_tokens[k]);
        }
        int logged = pick_logged(cfg, quality, cost, &rng.logging);

        /* Observable parts: text and embedding. */
        if (cfg->text)
            make_text(cfg, &latent, &rng.text, text);
        if (embedding != NULL)
            make_embedding(cfg, projection, &latent, (double)t / (double)n_turns,
                           &rng.embedding, embedding);

        size_t j = 0;
        status = sr_dataset_add_turn(ds, cfg->text ? text : NULL, embedding,
                                     cfg->embedding_dim, NULL, logged, &j, err);
        for (int k = 0; k < k_count && status == SR_OK; k++) {
            if (cfg->logged_only && k != logged)
                continue;
            status = sr_dataset_set_outcome(ds, j, k, quality[k], cost[k], in_tokens,
                                            out_tokens[k], err);
        }
        if (status == SR_OK && latents != NULL)
            latents[j] = latent;
    }
    free(embedding);
    return status;
}

/* Draws the fixed projection of latent factors, N(0, 1/LATENT_FACTORS) entries. */
static float *make_projection(const sr_synth_config *cfg)
{
    size_t n = (size_t)cfg->embedding_dim * LATENT_FACTORS;
    float *projection = malloc(n * sizeof(float));
    if (projection == NULL)
        return NULL;

    sr_rng rng;
    sr_rng_seed_stream(&rng, cfg->seed, STREAM_PROJECTION);
    double scale = 1.0 / sqrt((double)LATENT_FACTORS);
    for (size_t i = 0; i < n; i++)
        projection[i] = (float)(scale * sr_rng_normal(&rng));
    return projection;
}

sr_status sr_synth_generate(const sr_synth_config *cfg, sr_dataset *ds,
                            sr_synth_latent **latents, sr_error *err)
{
    sr_synth_latent *latent_array = NULL;
    size_t latent_capacity = 0;
    float *projection = NULL;

    if (latents != NULL)
        *latents = NULL;
    sr_status status = sr_synth_config_check(cfg, err);
    if (status != SR_OK)
        return status;
    if (ds->n_sessions != 0 || ds->catalogue.n_models != 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "the generator needs an empty data set");

    status = add_catalogue(cfg, ds, err);
    if (status == SR_OK)
        status = record_settings(cfg, ds, err);
    if (status == SR_OK && cfg->embedding_dim > 0) {
        projection = make_projection(cfg);
        if (projection == NULL)
            status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }

    for (size_t i = 0; i < cfg->n_sessions && status == SR_OK; i++) {
        /* Keep room for the longest possible session before writing latents. */
        if (latents != NULL && ds->n_turns + (size_t)cfg->max_turns > latent_capacity) {
            size_t capacity = latent_capacity ? 2 * latent_capacity : 1024;
            while (capacity < ds->n_turns + (size_t)cfg->max_turns)
                capacity *= 2;
            sr_synth_latent *grown = realloc(latent_array, capacity * sizeof(*grown));
            if (grown == NULL) {
                status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
                break;
            }
            latent_array = grown;
            latent_capacity = capacity;
        }
        status = generate_session(cfg, i, projection, ds, latent_array, err);
    }
    free(projection);

    if (status != SR_OK) {
        free(latent_array);
        sr_dataset_free(ds);
        return status;
    }
    sr_log(SR_LOG_INFO, "synth_done sessions=%zu turns=%zu models=%d seed=%llu", ds->n_sessions,
           ds->n_turns, cfg->n_models, (unsigned long long)cfg->seed);
    if (latents != NULL)
        *latents = latent_array;
    return SR_OK;
}
