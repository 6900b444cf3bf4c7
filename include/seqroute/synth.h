/*
 * synth.h - the synthetic session generator used by the demo and the tests.
 *
 * Each turn has a latent difficulty in [0, 1] and a topic.  Model k has a
 * strength; its expected quality on a turn is the logistic function of
 * sharpness * (strength - difficulty).  Costs come from token counts priced
 * by the catalogue, so they vary per turn.  Turns in the second half of a
 * session are hard with probability hard_late, which is what makes saving
 * budget worthwhile.  Every turn gets a text whose words carry signal about
 * its topic and difficulty, and optionally a noisy embedding of the latent
 * factors.  docs/SYNTH.md documents every parameter.
 *
 * Determinism: session i draws from its own random streams derived from
 * (seed, i), so it does not depend on how many sessions are generated.  The
 * same configuration gives the same output on one platform.  Across C
 * libraries, exp, log and cos may differ in the last bit, and so may the
 * qualities and costs derived from them.
 */
#ifndef SEQROUTE_SYNTH_H
#define SEQROUTE_SYNTH_H

#include "seqroute/common.h"
#include "seqroute/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Catalogue size limits: at least a choice, at most what the names and docs cover. */
#define SR_SYNTH_MIN_MODELS 2
#define SR_SYNTH_MAX_MODELS 8

/* Number of topics the text and embedding generators draw from. */
#define SR_SYNTH_N_TOPICS 8

/* Behaviour policy that fills each turn's "logged" model. */
typedef enum sr_synth_logged {
    SR_SYNTH_LOGGED_NONE = 0,   /* no logged model */
    SR_SYNTH_LOGGED_RANDOM = 1, /* uniform over the models */
    SR_SYNTH_LOGGED_GREEDY = 2  /* best realised quality, cheaper on ties, epsilon-random */
} sr_synth_logged;

typedef struct sr_synth_config {
    uint64_t seed;
    size_t n_sessions;
    int n_models;           /* SR_SYNTH_MIN_MODELS..SR_SYNTH_MAX_MODELS */
    int min_turns;          /* 1..max_turns */
    int max_turns;          /* ..SR_MAX_TURNS; lengths are uniform in between */
    double hard_late;       /* P(hard) for a turn in the second half of its session */
    double hard_early;      /* P(hard) for a turn in the first half */
    double easy_max;        /* ordinary difficulty ~ U(0, easy_max) */
    double hard_min;        /* hard difficulty ~ U(hard_min, hard_max) */
    double hard_max;
    double strength_strong; /* strength of the strongest model */
    double strength_weak;   /* strength of the weakest model */
    double sharpness;       /* slope of the logistic quality curve */
    double quality_noise;   /* sd of Gaussian noise on continuous quality */
    bool binary;            /* 0/1 correctness drawn with the expected quality */
    double strong_input_price;  /* cost units per 1M input tokens, strongest model */
    double strong_output_price; /* cost units per 1M output tokens, strongest model */
    double price_ratio;     /* strongest price / weakest price, > 1 */
    double input_tokens;    /* median input tokens per turn */
    double output_tokens;   /* median output tokens at difficulty 0 */
    double token_spread;    /* sd of log token counts */
    bool text;              /* emit turn texts */
    double text_signal;     /* P(a difficulty word comes from the turn's own band) */
    int embedding_dim;      /* 0 = none, else floats per embedding */
    double embedding_noise; /* sd of Gaussian noise added to each embedding value */
    sr_synth_logged logged;
    double logged_epsilon;  /* greedy only: P(uniformly random model instead) */
    bool logged_only;       /* keep only the logged model's outcome */
    double budget;          /* logged budget written per session, NAN for none */
} sr_synth_config;

/* Latent factors of one generated turn, for tests and diagnostics. */
typedef struct sr_synth_latent {
    double difficulty;
    int topic;   /* 0..SR_SYNTH_N_TOPICS-1 */
    bool late;   /* in the second half of its session */
    bool hard;   /* drawn from the hard difficulty range */
} sr_synth_latent;

/* Fills `cfg` with the defaults that docs/SYNTH.md lists. */
void sr_synth_config_default(sr_synth_config *cfg);

/*
 * Checks every field of `cfg`; returns SR_ERR_INVALID naming the first field
 * out of range, with the accepted range.
 */
sr_status sr_synth_config_check(const sr_synth_config *cfg, sr_error *err);

/*
 * Generates cfg->n_sessions sessions into `ds`, which must be freshly
 * initialised (sr_dataset_init): the catalogue, cost unit "USD", sessions,
 * and ds->header_extra = {"synth": {...every setting...}}.  When `latents`
 * is non-NULL it receives a malloc'd array with one entry per global turn
 * (index as ds->turns) that the caller frees.  On failure `ds` is freed
 * back to empty and `*latents` is NULL.  Errors: SR_ERR_INVALID for a bad
 * configuration or a non-empty dataset, SR_ERR_NOMEM.
 */
sr_status sr_synth_generate(const sr_synth_config *cfg, sr_dataset *ds,
                            sr_synth_latent **latents, sr_error *err);

/* Returns the policy's name ("none", "random", "greedy"). */
const char *sr_synth_logged_name(sr_synth_logged logged);

/* Parses a policy name; returns false for an unknown one. */
bool sr_synth_logged_parse(const char *name, sr_synth_logged *logged);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_SYNTH_H */
