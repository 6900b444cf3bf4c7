/*
 * hbr.c - Hindsight Budget Relabeling (contract in seqroute/hbr.h).
 *
 * Nothing relabelled is stored.  sr_hbr_create classifies each session and
 * keeps per session its path kind, its path count P_s and a cumulative
 * weight for the sampler.  Paths are regenerated when needed: an enumerated
 * path is the base-K number of its index (turn 0 the most significant digit,
 * so index order is lexicographic order), and a sampled path is drawn from
 * its own random stream keyed by (seed, session id, path index), so path p
 * is the same whether the visitor or the sampler requests it.  Every walk
 * calls sr_mdp_step, so budgets, rewards and flags are the simulator's own.
 *
 * Dedupe: the walk along a path depends only on the path's prefix, so paths
 * sharing the first t + 1 actions produce the same transition at step t.
 * After sorting the paths lexicographically, those paths form a run.  With
 * d_i the first turn where sorted path i differs from path i - 1 (d_0 = 0,
 * T when the paths are equal), path i is the first of its run at step t
 * exactly when t >= d_i.  The run continues through each following path j
 * with d_j > t, and the weight is the run's length.  Summing weights thus
 * gives back the count without dedupe: a path in the run has a step t
 * exactly when the run's first path has one, because their walks agree up
 * to t.
 */
#include "seqroute/hbr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/eval.h"

/* A transition is 64 bytes: five doubles, the row, and small integer fields, no padding. */
_Static_assert(sizeof(sr_hbr_transition) == 64, "sr_hbr_transition should stay 64 bytes");

/* Stream tags that keep the budget and path streams of one session apart. */
#define STREAM_TAG_BUDGETS 0x6275646765747321ULL /* "budgets!" */
#define STREAM_TAG_PATHS 0x7061746873212121ULL   /* "paths!!!" */

/* Unusable sessions logged one by one before only the total is logged. */
#define UNUSABLE_LOG_LIMIT 10

struct sr_hbr {
    const sr_dataset *ds;
    sr_hbr_options options; /* budget_values points at `levels` */
    double *levels;         /* fixed budgets in cost units; NULL for log-uniform */
    size_t n_levels;
    int levels_per_session;
    double c_ref;
    double mixture_cdf[SR_HBR_N_BEHAVIOURS]; /* normalised, cumulative */
    int cheapest;
    int strongest;
    uint8_t *kind;       /* per session, an sr_hbr_path_kind */
    uint32_t *n_paths;   /* per session */
    uint64_t *cumulative; /* n_sessions + 1 entries: prefix sums of L x P_s x T_s */
};

/* ---- small helpers --------------------------------------------------------- */

/* FNV-1a 64-bit hash of a session id: the key of its random streams. */
static uint64_t hash_id(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64-bit offset basis */
    for (const unsigned char *p = (const unsigned char *)(id ? id : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL; /* FNV-1a 64-bit prime */
    }
    return h;
}

/* The splitmix64 finaliser: spreads a key over all 64 bits. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static void seed_path_stream(const sr_hbr *hbr, size_t session, uint64_t path, sr_rng *rng)
{
    const uint64_t key = hash_id(hbr->ds->sessions[session].id);
    sr_rng_seed_stream(rng, hbr->options.seed, mix64(key ^ STREAM_TAG_PATHS) + path);
}

/* Fills `out` with the session's budgets: fixed levels, or sorted log-uniform draws. */
static void session_budgets(const sr_hbr *hbr, size_t session, double *out)
{
    if (hbr->levels != NULL) {
        memcpy(out, hbr->levels, hbr->n_levels * sizeof(double));
        return;
    }

    sr_rng rng;
    const uint64_t key = hash_id(hbr->ds->sessions[session].id);
    sr_rng_seed_stream(&rng, hbr->options.seed, mix64(key ^ STREAM_TAG_BUDGETS));
    const double log_lo = log(hbr->options.log_lo);
    const double log_span = log(hbr->options.log_hi) - log_lo;
    const int n = hbr->options.log_n;
    for (int i = 0; i < n; i++) {
        double b = exp(log_lo + sr_rng_uniform(&rng) * log_span);

        /* exp(log(x)) may round one ulp outside the range. */
        b = fmin(fmax(b, hbr->options.log_lo), hbr->options.log_hi);

        /* Insertion sort keeps level 0 the smallest draw. */
        int j = i;
        while (j > 0 && out[j - 1] > b) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = b;
    }
}

/* ---- paths ----------------------------------------------------------------- */

/* Generates one path's actions turn by turn, in order. */
typedef struct path_gen {
    uint8_t kind;
    uint64_t remaining; /* enumerated: digits still to read */
    uint64_t place;     /* enumerated: K^(T-1-t) */
    int behaviour;      /* sampled */
    sr_rng rng;         /* sampled */
} path_gen;

static void path_gen_start(const sr_hbr *hbr, size_t session, uint64_t path, path_gen *gen)
{
    const sr_session *s = &hbr->ds->sessions[session];
    const uint64_t k = (uint64_t)hbr->ds->catalogue.n_models;

    gen->kind = hbr->kind[session];
    if (gen->kind == SR_HBR_PATHS_ENUMERATED) {
        gen->remaining = path;
        gen->place = 1;
        for (int t = 1; t < s->n_turns; t++)
            gen->place *= k;
    } else if (gen->kind == SR_HBR_PATHS_SAMPLED) {
        seed_path_stream(hbr, session, path, &gen->rng);
        const double u = sr_rng_uniform(&gen->rng);
        gen->behaviour = SR_HBR_N_BEHAVIOURS - 1;
        for (int i = 0; i < SR_HBR_N_BEHAVIOURS; i++)
            if (u < hbr->mixture_cdf[i]) {
                gen->behaviour = i;
                break;
            }
    }
}

/* The model with the best quality at a full-information turn; ties to lower cost, then index. */
static int greedy_action(const sr_dataset *ds, size_t turn)
{
    int best = 0;
    for (int k = 1; k < ds->catalogue.n_models; k++) {
        const sr_outcome *o = sr_dataset_outcome(ds, turn, k);
        const sr_outcome *b = sr_dataset_outcome(ds, turn, best);
        if (o->quality > b->quality || (o->quality == b->quality && o->cost < b->cost))
            best = k;
    }
    return best;
}

/* Returns the action of turn `t`; must be called for t = 0, 1, ... in order. */
static int path_gen_next(const sr_hbr *hbr, size_t session, int t, path_gen *gen)
{
    const sr_dataset *ds = hbr->ds;
    const sr_session *s = &ds->sessions[session];

    switch (gen->kind) {
    case SR_HBR_PATHS_ENUMERATED: {
        const int action = (int)(gen->remaining / gen->place);
        gen->remaining %= gen->place;
        gen->place /= (uint64_t)ds->catalogue.n_models;
        if (gen->place == 0)
            gen->place = 1;
        return action;
    }
    case SR_HBR_PATHS_SAMPLED:
        switch (gen->behaviour) {
        case SR_HBR_BEHAVIOUR_UNIFORM:
            return (int)sr_rng_below(&gen->rng, (uint64_t)ds->catalogue.n_models);
        case SR_HBR_BEHAVIOUR_CHEAPEST:
            return hbr->cheapest;
        case SR_HBR_BEHAVIOUR_STRONGEST:
            return hbr->strongest;
        default:
            return greedy_action(ds, s->first_turn + (size_t)t);
        }
    default:
        return sr_session_turn(ds, s, t)->logged;
    }
}

/* ---- construction ---------------------------------------------------------- */

void sr_hbr_options_default(sr_hbr_options *options)
{
    static const double mixture[SR_HBR_N_BEHAVIOURS] = SR_HBR_DEFAULT_MIXTURE;

    memset(options, 0, sizeof(*options));
    options->budget_mode = SR_HBR_BUDGET_FRACTIONS;
    options->budget_values = NULL;
    options->n_budget_values = 0;
    options->log_lo = NAN;
    options->log_hi = NAN;
    options->log_n = 0;
    options->c_ref = NAN;
    options->max_enum = SR_HBR_DEFAULT_MAX_ENUM;
    options->n_paths = SR_HBR_DEFAULT_N_PATHS;
    memcpy(options->mixture, mixture, sizeof(mixture));
    options->dedupe = false;
    sr_mdp_config_default(&options->mdp);
    options->seed = 1;
}

void sr_hbr_free(sr_hbr *hbr)
{
    if (hbr == NULL)
        return;
    free(hbr->levels);
    free(hbr->kind);
    free(hbr->n_paths);
    free(hbr->cumulative);
    free(hbr);
}

static sr_status check_paths_options(const sr_hbr_options *options, sr_error *err)
{
    if (options->max_enum < 1 || options->max_enum > SR_HBR_MAX_ENUM)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_enum",
                            "max_enum %llu is outside 1..%d",
                            (unsigned long long)options->max_enum, SR_HBR_MAX_ENUM);
    if (options->n_paths < 1 || options->n_paths > SR_HBR_MAX_PATHS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "paths",
                            "path count %d is outside 1..%d", options->n_paths,
                            SR_HBR_MAX_PATHS);
    double sum = 0;
    for (int i = 0; i < SR_HBR_N_BEHAVIOURS; i++) {
        const double w = options->mixture[i];
        if (!isfinite(w) || w < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "mixture",
                                "mixture weight %d is %g; weights must be finite and >= 0",
                                i + 1, w);
        sum += w;
    }
    if (!(sum > 0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "mixture",
                            "mixture weights sum to 0; give at least one positive weight");
    return SR_OK;
}

/* Resolves the budget levels (fixed modes) or checks the log-uniform range. */
static sr_status resolve_levels(sr_hbr *hbr, sr_error *err)
{
    static const double default_fractions[] = SR_HBR_DEFAULT_FRACTIONS;
    const sr_hbr_options *o = &hbr->options;

    if (o->budget_mode == SR_HBR_BUDGET_LOG_UNIFORM) {
        if (!(isfinite(o->log_lo) && isfinite(o->log_hi) && o->log_lo > 0 &&
              o->log_lo <= o->log_hi))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "log_uniform",
                                "log-uniform range [%g, %g] is invalid; it needs "
                                "0 < LO <= HI, both finite",
                                o->log_lo, o->log_hi);
        if (o->log_n < 1 || o->log_n > SR_HBR_MAX_LEVELS)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "log_uniform",
                                "log-uniform level count %d is outside 1..%d", o->log_n,
                                SR_HBR_MAX_LEVELS);
        hbr->levels_per_session = o->log_n;
        return SR_OK;
    }
    if (o->budget_mode != SR_HBR_BUDGET_FRACTIONS && o->budget_mode != SR_HBR_BUDGET_ABSOLUTE)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget_mode",
                            "unknown budget mode %d", (int)o->budget_mode);

    const double *values = o->budget_values;
    size_t n = o->n_budget_values;
    if (values == NULL || n == 0) {
        if (o->budget_mode == SR_HBR_BUDGET_ABSOLUTE)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budgets",
                                "absolute budget mode needs at least one budget");
        values = default_fractions;
        n = SR_HBR_DEFAULT_N_FRACTIONS;
    }
    if (n > SR_HBR_MAX_LEVELS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budgets",
                            "%zu budget levels exceed the maximum of %d", n, SR_HBR_MAX_LEVELS);
    const bool fractions = o->budget_mode == SR_HBR_BUDGET_FRACTIONS;
    if (fractions && !(isfinite(hbr->c_ref) && hbr->c_ref >= 0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget_fracs",
                            "budget fractions need C_ref, the mean cost of an always-most-"
                            "expensive session, but the data gives none (the most expensive "
                            "model lacks outcomes); give absolute budgets or C_ref");

    hbr->levels = malloc(n * sizeof(double));
    if (hbr->levels == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for budget levels");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(values[i]) || values[i] < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0,
                                fractions ? "budget_fracs" : "budgets",
                                "budget level %zu is %g; levels must be finite and >= 0", i + 1,
                                values[i]);
        hbr->levels[i] = fractions ? values[i] * hbr->c_ref : values[i];
    }
    hbr->n_levels = n;
    hbr->levels_per_session = (int)n;
    return SR_OK;
}

/* Picks the always-cheapest and always-strongest models by their means in the data. */
static void pick_fixed_behaviours(sr_hbr *hbr)
{
    const sr_dataset *ds = hbr->ds;
    double quality[SR_MAX_MODELS];
    double cost[SR_MAX_MODELS];
    sr_dataset_model_stats(ds, quality, cost, NULL);

    hbr->cheapest = -1;
    hbr->strongest = -1;
    for (int k = 0; k < ds->catalogue.n_models; k++) {
        if (isnan(quality[k]))
            continue;
        const int c = hbr->cheapest;
        if (c < 0 || cost[k] < cost[c] || (cost[k] == cost[c] && quality[k] > quality[c]))
            hbr->cheapest = k;
        const int s = hbr->strongest;
        if (s < 0 || quality[k] > quality[s] || (quality[k] == quality[s] && cost[k] < cost[s]))
            hbr->strongest = k;
    }
}

/* Decides how the paths of one session are chosen; `reason` explains an unusable one. */
static sr_hbr_path_kind classify_session(const sr_hbr *hbr, const sr_session *s,
                                         uint32_t *n_paths, char *reason, size_t reason_size)
{
    const sr_dataset *ds = hbr->ds;
    const int k = ds->catalogue.n_models;

    /* Full information: every turn has every model's outcome. */
    bool full = true;
    for (int t = 0; t < s->n_turns && full; t++)
        for (int m = 0; m < k && full; m++)
            full = sr_dataset_outcome(ds, s->first_turn + (size_t)t, m)->present;
    if (full) {
        uint64_t count = 1;
        for (int t = 0; t < s->n_turns && count <= hbr->options.max_enum; t++)
            count *= (uint64_t)k;
        if (count <= hbr->options.max_enum) {
            *n_paths = (uint32_t)count;
            return SR_HBR_PATHS_ENUMERATED;
        }
        *n_paths = (uint32_t)hbr->options.n_paths;
        return SR_HBR_PATHS_SAMPLED;
    }

    /* Otherwise the logged path, which must be complete. */
    for (int t = 0; t < s->n_turns; t++) {
        const int logged = sr_session_turn(ds, s, t)->logged;
        if (logged < 0 || logged >= k) {
            snprintf(reason, reason_size, "turn %d has no logged model and not every outcome",
                     t + 1);
            *n_paths = 0;
            return SR_HBR_PATHS_UNUSABLE;
        }
        if (!sr_dataset_outcome(ds, s->first_turn + (size_t)t, logged)->present) {
            snprintf(reason, reason_size, "turn %d has no outcome for its logged model '%s'",
                     t + 1, ds->catalogue.models[logged].name);
            *n_paths = 0;
            return SR_HBR_PATHS_UNUSABLE;
        }
    }
    *n_paths = 1;
    return SR_HBR_PATHS_LOGGED;
}

static sr_status classify_sessions(sr_hbr *hbr, sr_error *err)
{
    const sr_dataset *ds = hbr->ds;
    const uint64_t levels = (uint64_t)hbr->levels_per_session;
    size_t unusable = 0;

    hbr->kind = malloc(ds->n_sessions ? ds->n_sessions : 1);
    hbr->n_paths = malloc((ds->n_sessions ? ds->n_sessions : 1) * sizeof(uint32_t));
    hbr->cumulative = malloc((ds->n_sessions + 1) * sizeof(uint64_t));
    if (hbr->kind == NULL || hbr->n_paths == NULL || hbr->cumulative == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory for the index of %zu sessions", ds->n_sessions);

    hbr->cumulative[0] = 0;
    for (size_t i = 0; i < ds->n_sessions; i++) {
        const sr_session *s = &ds->sessions[i];
        char reason[256] = "";
        const sr_hbr_path_kind kind =
            classify_session(hbr, s, &hbr->n_paths[i], reason, sizeof(reason));
        hbr->kind[i] = (uint8_t)kind;
        if (kind == SR_HBR_PATHS_UNUSABLE) {
            unusable++;
            if (unusable <= UNUSABLE_LOG_LIMIT)
                sr_log(SR_LOG_WARN, "hbr_session_unusable session=%s reason=\"%s\"", s->id,
                       reason);
        }

        /*
         * Sampler slots: L x P_s x T_s.  The caps keep one session below 2^32
         * (256 levels x at most 2^24 path-turns), but the sum over up to
         * 2^32 sessions could still wrap.
         */
        const uint64_t slots = levels * hbr->n_paths[i] * (uint64_t)s->n_turns;
        if (hbr->cumulative[i] > UINT64_MAX - slots)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "sessions",
                                "the relabelled data has more than 2^64 sampler slots at "
                                "session '%s'; use fewer levels or paths, or split the data",
                                s->id);
        hbr->cumulative[i + 1] = hbr->cumulative[i] + slots;
    }
    if (unusable > 0)
        sr_log(SR_LOG_WARN,
               "hbr_sessions_unusable count=%zu of=%zu note=\"these sessions produce no "
               "transitions: they are neither full-information nor fully logged\"",
               unusable, ds->n_sessions);
    return SR_OK;
}

sr_status sr_hbr_create(const sr_dataset *ds, const sr_hbr_options *options, sr_hbr **out,
                        sr_error *err)
{
    *out = NULL;

    /* Validate. */
    if (ds->catalogue.n_models < 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models",
                            "the dataset has no models in its catalogue");
    if (ds->n_sessions > UINT32_MAX)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "sessions",
                            "%zu sessions exceed the relabeller's limit of %u; split the data",
                            ds->n_sessions, UINT32_MAX);
    sr_status status = sr_mdp_config_check(&options->mdp, &ds->catalogue, err);
    if (status != SR_OK)
        return status;
    status = check_paths_options(options, err);
    if (status != SR_OK)
        return status;

    sr_hbr *hbr = calloc(1, sizeof(*hbr));
    if (hbr == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for the relabeller");
    hbr->ds = ds;
    hbr->options = *options;
    hbr->c_ref = isnan(options->c_ref) ? sr_eval_c_ref(ds) : options->c_ref;

    /* Budgets, behaviours, sessions. */
    status = resolve_levels(hbr, err);
    if (status != SR_OK)
        goto fail;
    hbr->options.budget_values = hbr->levels;
    hbr->options.n_budget_values = hbr->n_levels;

    double sum = 0;
    for (int i = 0; i < SR_HBR_N_BEHAVIOURS; i++)
        sum += options->mixture[i];
    double running = 0;
    for (int i = 0; i < SR_HBR_N_BEHAVIOURS; i++) {
        running += options->mixture[i];
        hbr->mixture_cdf[i] = running / sum;
    }
    pick_fixed_behaviours(hbr);

    status = classify_sessions(hbr, err);
    if (status != SR_OK)
        goto fail;
    *out = hbr;
    return SR_OK;

fail:
    sr_hbr_free(hbr);
    return status;
}

/* ---- accessors ------------------------------------------------------------- */

double sr_hbr_c_ref(const sr_hbr *hbr)
{
    return hbr->c_ref;
}

size_t sr_hbr_levels(const sr_hbr *hbr, const double **levels)
{
    *levels = hbr->levels;
    return hbr->n_levels;
}

int sr_hbr_levels_per_session(const sr_hbr *hbr)
{
    return hbr->levels_per_session;
}

double sr_hbr_max_budget(const sr_hbr *hbr)
{
    if (hbr->levels == NULL)
        return hbr->options.log_hi;
    double max = 0;
    for (size_t i = 0; i < hbr->n_levels; i++)
        max = fmax(max, hbr->levels[i]);
    return max;
}

sr_status sr_hbr_session_budgets(const sr_hbr *hbr, size_t session, double *budgets,
                                 sr_error *err)
{
    if (session >= hbr->ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "session",
                            "session index %zu is out of range (%zu sessions)", session,
                            hbr->ds->n_sessions);
    session_budgets(hbr, session, budgets);
    return SR_OK;
}

sr_hbr_path_kind sr_hbr_session_kind(const sr_hbr *hbr, size_t session)
{
    return (sr_hbr_path_kind)hbr->kind[session];
}

size_t sr_hbr_session_paths(const sr_hbr *hbr, size_t session)
{
    return hbr->n_paths[session];
}

const char *sr_hbr_path_kind_name(sr_hbr_path_kind kind)
{
    switch (kind) {
    case SR_HBR_PATHS_ENUMERATED:
        return "enumerated";
    case SR_HBR_PATHS_SAMPLED:
        return "sampled";
    case SR_HBR_PATHS_LOGGED:
        return "logged";
    case SR_HBR_PATHS_UNUSABLE:
        return "unusable";
    }
    return "unknown";
}

/* ---- walking ----------------------------------------------------------------- */

/* Fills a transition from one step of the simulator. */
static void fill_transition(const sr_hbr *hbr, size_t session, int t, int level, double budget,
                            const sr_mdp_step_result *r, sr_hbr_transition *tr)
{
    const sr_session *s = &hbr->ds->sessions[session];

    memset(tr, 0, sizeof(*tr));
    tr->budget = budget;
    tr->next_budget = r->budget;
    tr->quality = r->quality;
    tr->cost = r->cost;
    tr->reward = r->reward;
    tr->row = (uint64_t)(s->first_turn + (size_t)t);
    tr->session = (uint32_t)session;
    tr->weight = 1;
    tr->t = (uint16_t)t;
    tr->level = (uint16_t)level;
    tr->action = (uint8_t)r->requested;
    tr->flags = 0;
    if (r->terminal)
        tr->flags |= SR_HBR_TERMINAL;
    if (r->bankrupt)
        tr->flags |= SR_HBR_BANKRUPT;
    if (r->end == SR_END_HORIZON)
        tr->flags |= SR_HBR_TRUNCATED;
    if (r->replaced)
        tr->flags |= SR_HBR_REPLACED;
}

/* Lexicographic order of two rows of the path table. */
static int compare_paths(const uint8_t *table, size_t width, uint32_t a, uint32_t b)
{
    return memcmp(table + (size_t)a * width, table + (size_t)b * width, width);
}

/* Stable merge sort of path indices by their rows (P log P compares). */
static void sort_paths(const uint8_t *table, size_t width, uint32_t *order, uint32_t *scratch,
                       size_t n)
{
    for (size_t run = 1; run < n; run *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * run) {
            const size_t mid = lo + run < n ? lo + run : n;
            const size_t hi = lo + 2 * run < n ? lo + 2 * run : n;
            size_t i = lo;
            size_t j = mid;
            size_t out = lo;
            while (i < mid && j < hi)
                scratch[out++] =
                    compare_paths(table, width, order[j], order[i]) < 0 ? order[j++] : order[i++];
            while (i < mid)
                scratch[out++] = order[i++];
            while (j < hi)
                scratch[out++] = order[j++];
        }
        memcpy(order, scratch, n * sizeof(uint32_t));
    }
}

/* Per-session scratch of the visitor: path table, visiting order, first differences. */
typedef struct walk_buffers {
    uint8_t *table;    /* P rows of T actions */
    uint32_t *order;   /* P path indices in visiting order */
    uint32_t *scratch; /* P entries for the sort */
    uint16_t *first_diff;
} walk_buffers;

static void walk_buffers_free(walk_buffers *w)
{
    free(w->table);
    free(w->order);
    free(w->scratch);
    free(w->first_diff);
}

/* Generates, orders and compares the session's paths into `w`. */
static sr_status prepare_paths(const sr_hbr *hbr, size_t session, walk_buffers *w, sr_error *err)
{
    const sr_session *s = &hbr->ds->sessions[session];
    const size_t n = hbr->n_paths[session];
    const size_t width = (size_t)s->n_turns;

    w->table = malloc(n * width + 1);
    w->order = malloc(n * sizeof(uint32_t));
    w->scratch = malloc(n * sizeof(uint32_t));
    w->first_diff = malloc(n * sizeof(uint16_t));
    if (w->table == NULL || w->order == NULL || w->scratch == NULL || w->first_diff == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory for %zu paths of session '%s'", n, s->id);

    for (size_t p = 0; p < n; p++) {
        path_gen gen;
        path_gen_start(hbr, session, p, &gen);
        for (int t = 0; t < s->n_turns; t++)
            w->table[p * width + (size_t)t] = (uint8_t)path_gen_next(hbr, session, t, &gen);
        w->order[p] = (uint32_t)p;
    }

    /* Without dedupe every step of every path is visited: first_diff 0. */
    if (!hbr->options.dedupe) {
        memset(w->first_diff, 0, n * sizeof(uint16_t));
        return SR_OK;
    }
    sort_paths(w->table, width, w->order, w->scratch, n);
    for (size_t i = 0; i < n; i++) {
        size_t d = 0;
        if (i > 0) {
            const uint8_t *a = w->table + (size_t)w->order[i - 1] * width;
            const uint8_t *b = w->table + (size_t)w->order[i] * width;
            while (d < width && a[d] == b[d])
                d++;
        }
        w->first_diff[i] = (uint16_t)d;
    }
    return SR_OK;
}

sr_status sr_hbr_session_foreach(const sr_hbr *hbr, size_t session, sr_hbr_visit_fn visit,
                                 void *user_data, sr_error *err)
{
    const sr_dataset *ds = hbr->ds;
    if (session >= ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "session",
                            "session index %zu is out of range (%zu sessions)", session,
                            ds->n_sessions);
    if (hbr->kind[session] == SR_HBR_PATHS_UNUSABLE)
        return SR_OK;

    const sr_session *s = &ds->sessions[session];
    const size_t n = hbr->n_paths[session];
    const size_t width = (size_t)s->n_turns;
    walk_buffers w = {0};
    sr_status status = prepare_paths(hbr, session, &w, err);
    if (status != SR_OK)
        goto out;
    double budgets[SR_HBR_MAX_LEVELS];
    session_budgets(hbr, session, budgets);

    /* Walk every (level, path); under dedupe visit only a run's first path at each step. */
    for (int level = 0; level < hbr->levels_per_session; level++) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *actions = w.table + (size_t)w.order[i] * width;
            double budget = budgets[level];
            for (int t = 0; t < s->n_turns; t++) {
                sr_mdp_step_result r;
                status = sr_mdp_step(&hbr->options.mdp, ds, session, t, budget, actions[t], &r,
                                     err);
                if (status != SR_OK)
                    goto out;
                if ((size_t)t >= w.first_diff[i]) {
                    sr_hbr_transition tr;
                    fill_transition(hbr, session, t, level, budget, &r, &tr);
                    if (hbr->options.dedupe) {
                        size_t j = i + 1;
                        while (j < n && w.first_diff[j] > t)
                            j++;
                        tr.weight = (uint32_t)(j - i);
                    }
                    status = visit(&tr, user_data);
                    if (status != SR_OK)
                        goto out;
                }
                budget = r.budget;
                if (r.done)
                    break;
            }
        }
    }

out:
    walk_buffers_free(&w);
    return status;
}

sr_status sr_hbr_foreach(const sr_hbr *hbr, sr_hbr_visit_fn visit, void *user_data,
                         sr_error *err)
{
    for (size_t i = 0; i < hbr->ds->n_sessions; i++) {
        sr_status status = sr_hbr_session_foreach(hbr, i, visit, user_data, err);
        if (status != SR_OK)
            return status;
    }
    return SR_OK;
}

/* ---- sampling ------------------------------------------------------------------ */

/*
 * Method: rejection sampling over slots.  Session s owns W_s = L x P_s x T_s
 * slots (levels x paths x turns), one per (level, path, step) triple, and
 * `cumulative` holds the prefix sums of W_s.  A draw takes u uniform in
 * [0, W) with W the sum of all W_s, finds the session by binary search, and
 * splits the rest of u into (level, path, step).  It walks that path from
 * that level's budget and accepts when the walk is still running at the
 * step, returning that step's transition.  Otherwise it draws again.
 *
 * Proof of uniformity: every slot has probability 1 / W on each attempt.
 * The accepted slots are exactly the transitions of the multiset, since the
 * walk of (s, level, path) produces step t iff the episode has not ended
 * before t.  Each is therefore produced with probability 1 / W per attempt,
 * so conditioned on acceptance every element of the multiset has the same
 * probability 1 / N, with N = number of accepted slots.  Attempts are
 * independent, so the draws of one call are too.  Every usable episode has
 * at least one transition (step 0 always happens), so N / W >= 1 / T_max and
 * a draw takes at most T_max attempts in expectation.
 */
static size_t find_session(const sr_hbr *hbr, uint64_t u)
{
    /* Largest s with cumulative[s] <= u; sessions without slots are skipped by the < test. */
    size_t lo = 0;
    size_t hi = hbr->ds->n_sessions;
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        if (hbr->cumulative[mid] <= u)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* One attempt: returns true and fills `tr` when the slot is a transition. */
static bool sample_slot(const sr_hbr *hbr, uint64_t u, sr_hbr_transition *tr, sr_status *status,
                        sr_error *err)
{
    const size_t session = find_session(hbr, u);
    const sr_session *s = &hbr->ds->sessions[session];
    const uint64_t turns = (uint64_t)s->n_turns;
    const uint64_t paths = hbr->n_paths[session];
    const uint64_t r = u - hbr->cumulative[session];
    const int level = (int)(r / (paths * turns));
    const uint64_t path = (r / turns) % paths;
    const int step = (int)(r % turns);

    double budgets[SR_HBR_MAX_LEVELS];
    session_budgets(hbr, session, budgets);
    double budget = budgets[level];

    path_gen gen;
    path_gen_start(hbr, session, path, &gen);
    for (int t = 0; t <= step; t++) {
        sr_mdp_step_result res;
        const int action = path_gen_next(hbr, session, t, &gen);
        *status = sr_mdp_step(&hbr->options.mdp, hbr->ds, session, t, budget, action, &res, err);
        if (*status != SR_OK)
            return false;
        if (t == step) {
            fill_transition(hbr, session, t, level, budget, &res, tr);
            return true;
        }
        if (res.done)
            return false;
        budget = res.budget;
    }
    return false;
}

sr_status sr_hbr_sample(const sr_hbr *hbr, sr_rng *rng, sr_hbr_transition *out, size_t n,
                        sr_error *err)
{
    const uint64_t total = hbr->cumulative[hbr->ds->n_sessions];
    if (total == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "sessions",
                            "no session produces transitions to sample from (the data is "
                            "empty, or every session is unusable)");

    for (size_t i = 0; i < n; i++) {
        sr_status status = SR_OK;
        while (!sample_slot(hbr, sr_rng_below(rng, total), &out[i], &status, err))
            if (status != SR_OK)
                return status;
    }
    return SR_OK;
}

/* ---- statistics and materialisation ------------------------------------------------- */

static sr_status count_transition(const sr_hbr_transition *tr, void *user_data)
{
    sr_hbr_stats *stats = user_data;
    const bool bankrupt = (tr->flags & SR_HBR_BANKRUPT) != 0;

    stats->transitions += tr->weight;
    stats->distinct_transitions++;
    stats->level_transitions[tr->level] += tr->weight;
    if (bankrupt) {
        stats->bankrupt_transitions += tr->weight;
        stats->level_bankrupt[tr->level] += tr->weight;
    }
    return SR_OK;
}

void sr_hbr_stats_free(sr_hbr_stats *stats)
{
    free(stats->level_transitions);
    free(stats->level_bankrupt);
    free(stats->level_budget_sum);
    memset(stats, 0, sizeof(*stats));
}

sr_status sr_hbr_stats_compute(const sr_hbr *hbr, sr_hbr_stats *stats, sr_error *err)
{
    const size_t levels = (size_t)hbr->levels_per_session;

    memset(stats, 0, sizeof(*stats));
    stats->n_levels = hbr->levels_per_session;
    stats->level_transitions = calloc(levels, sizeof(uint64_t));
    stats->level_bankrupt = calloc(levels, sizeof(uint64_t));
    stats->level_budget_sum = calloc(levels, sizeof(double));
    if (stats->level_transitions == NULL || stats->level_bankrupt == NULL ||
        stats->level_budget_sum == NULL) {
        sr_hbr_stats_free(stats);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for statistics");
    }

    /* Sessions, paths and episode budgets. */
    stats->sessions = hbr->ds->n_sessions;
    for (size_t i = 0; i < hbr->ds->n_sessions; i++) {
        stats->sessions_by_kind[hbr->kind[i]]++;
        stats->paths += hbr->n_paths[i];
        stats->episodes += hbr->n_paths[i] * (uint64_t)levels;
        if (hbr->n_paths[i] == 0)
            continue;
        double budgets[SR_HBR_MAX_LEVELS];
        session_budgets(hbr, i, budgets);
        for (size_t l = 0; l < levels; l++)
            stats->level_budget_sum[l] += budgets[l] * (double)hbr->n_paths[i];
    }

    /* Transitions. */
    sr_status status = sr_hbr_foreach(hbr, count_transition, stats, err);
    if (status != SR_OK)
        sr_hbr_stats_free(stats);
    return status;
}

typedef struct transition_array {
    sr_hbr_transition *items;
    size_t count;
    size_t cap;
    size_t max;
} transition_array;

static sr_status append_transition(const sr_hbr_transition *tr, void *user_data)
{
    transition_array *a = user_data;
    if (a->count == a->max)
        return SR_ERR_NOMEM;
    if (a->count == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        if (cap > a->max)
            cap = a->max;
        sr_hbr_transition *items = realloc(a->items, cap * sizeof(*items));
        if (items == NULL)
            return SR_ERR_NOMEM;
        a->items = items;
        a->cap = cap;
    }
    a->items[a->count++] = *tr;
    return SR_OK;
}

sr_status sr_hbr_materialise(const sr_hbr *hbr, size_t max_transitions, sr_hbr_transition **out,
                             size_t *count, sr_error *err)
{
    transition_array a = {.max = max_transitions};

    *out = NULL;
    *count = 0;
    sr_status status = sr_hbr_foreach(hbr, append_transition, &a, err);
    if (status == SR_ERR_NOMEM) {
        free(a.items);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, "max_transitions",
                            "materialising failed: more than %zu transitions or out of "
                            "memory; use the visitor or the sampler instead",
                            max_transitions);
    }
    if (status != SR_OK) {
        free(a.items);
        return status;
    }
    *out = a.items;
    *count = a.count;
    return SR_OK;
}
