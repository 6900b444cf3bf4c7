/*
 * fqe.c - Fitted Q Evaluation of a routing policy on relabelled transitions.
 * The method, the function classes and the coverage diagnostic are in
 * seqroute/fqe.h and docs/FQE.md.
 *
 * An evaluation runs in five steps:
 *   1. the feature table of the data (one row per global turn);
 *   2. the relabelled transitions, materialised once with dedupe weights,
 *      at the requested budgets as absolute levels;
 *   3. π's action in every non-terminal next state and every initial state,
 *      asked once each before any regression (the policy is fixed, so the
 *      regressions only need these indices);
 *   4. the tabular key of every state, giving the state count and the
 *      coverage of π's pairs whatever the function class;
 *   5. the regressions: exact weighted means for the tabular class, Adam on
 *      weighted minibatches for the linear and MLP classes, with the value
 *      at the initial states recorded after each one.
 *
 * Memory: the transitions (64 bytes each), one int32 of π's next action and
 * two int32 state ids per transition, and for the tabular class three
 * doubles per (state, model).  The state vectors of the network classes are
 * encoded per minibatch from the feature table, never stored.
 */
#include "seqroute/fqe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/state.h"

/* Stream index of the minibatch sampler, apart from the policy's per-session streams. */
#define SAMPLER_STREAM 0x46514553u /* "FQES" */
/* Offset of the initial-state streams, so they differ from the next-state ones. */
#define INITIAL_STREAM_OFFSET ((uint64_t)1 << 40)

void sr_fqe_options_default(sr_fqe_options *options)
{
    memset(options, 0, sizeof(*options));
    options->function = SR_FQE_MLP;
    options->iterations = 0;
    options->steps_per_iteration = SR_FQE_DEFAULT_STEPS;
    options->batch = SR_FQE_DEFAULT_BATCH;
    options->lr = SR_FQE_DEFAULT_LR;
    /* Two layers of 128: Q^π of a fixed policy is smoother than the optimal Q training fits. */
    options->hidden_count = 2;
    options->hidden[0] = 128;
    options->hidden[1] = 128;
    options->gamma = SR_FQE_DEFAULT_GAMMA;
    sr_features_config_default(&options->features);
    options->normalise = true;
    options->std_floor = 1.0; /* as training: centre every feature, never amplify one */
    /* The turn index: Q^π of a finite-horizon policy depends on the turns left. */
    options->state_options = SR_STATE_TURN;
    options->n_bins = 4;
    sr_hbr_options_default(&options->hbr);
    options->max_transitions = SR_FQE_DEFAULT_MAX_TRANSITIONS;
    options->seed = 1;
}

const char *sr_fqe_function_name(sr_fqe_function function)
{
    switch (function) {
    case SR_FQE_TABULAR:
        return "tabular";
    case SR_FQE_LINEAR:
        return "linear";
    case SR_FQE_MLP:
        return "mlp";
    }
    return "unknown";
}

bool sr_fqe_function_parse(const char *text, sr_fqe_function *function)
{
    static const sr_fqe_function all[] = {SR_FQE_TABULAR, SR_FQE_LINEAR, SR_FQE_MLP};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(text, sr_fqe_function_name(all[i])) == 0) {
            *function = all[i];
            return true;
        }
    return false;
}

sr_status sr_fqe_options_check(const sr_fqe_options *o, sr_error *err)
{
    if (o->function != SR_FQE_TABULAR && o->function != SR_FQE_LINEAR &&
        o->function != SR_FQE_MLP)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "function",
                            "unknown function class %d; use tabular, linear or mlp",
                            (int)o->function);
    if (o->iterations < 0 || o->iterations > SR_FQE_MAX_ITERATIONS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "iterations",
                            "iteration count %d is outside 0..%d (0: automatic)", o->iterations,
                            SR_FQE_MAX_ITERATIONS);
    if (!(o->gamma >= 0 && o->gamma <= 1))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "gamma",
                            "discount %g is outside [0, 1]", o->gamma);
    if (o->max_transitions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_transitions",
                            "the transition cap must be at least 1");
    if (o->hbr.mdp.horizon != 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "horizon",
                            "FQE evaluates whole sessions; the horizon cut must be 0, not %d",
                            o->hbr.mdp.horizon);
    sr_status status = sr_features_config_check(&o->features, err);
    if (status != SR_OK)
        return status;
    if (o->function == SR_FQE_TABULAR)
        return SR_OK;

    /* The network classes. */
    if (o->steps_per_iteration < 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "steps_per_iteration",
                            "steps per iteration %d must be at least 1",
                            o->steps_per_iteration);
    if (o->batch < 1 || o->batch > SR_NN_MAX_ROWS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "batch",
                            "batch %d is outside 1..%d", o->batch, SR_NN_MAX_ROWS);
    if (!(o->lr > 0) || !isfinite(o->lr))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lr",
                            "learning rate %g is not a finite number > 0", (double)o->lr);
    if (!(o->std_floor > 0) || !isfinite(o->std_floor))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "std_floor",
                            "std floor %g is not a finite number > 0", o->std_floor);
    if (o->function == SR_FQE_MLP && (o->hidden_count < 1 || o->hidden_count > SR_NN_MAX_HIDDEN))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "hidden",
                            "the MLP needs 1..%d hidden layers, not %d (use the linear class "
                            "for none)",
                            SR_NN_MAX_HIDDEN, o->hidden_count);
    return SR_OK;
}

/* ---- the run ------------------------------------------------------------------ */

/* A state of the tabular key: feature row content, turn and remaining budget. */
typedef struct fqe_state {
    size_t row;
    int t;
    double budget;
} fqe_state;

typedef struct fqe_run {
    const sr_dataset *ds;
    sr_policy *policy;
    const sr_fqe_options *o;
    const double *budgets;
    size_t n_budgets;
    int k;          /* models */
    int iterations; /* resolved */
    int t_max;      /* longest session */

    sr_feature_table table;
    sr_hbr *hbr;
    sr_hbr_transition *tr; /* [n] distinct transitions */
    size_t n;
    int32_t *next_action;  /* [n] π(s'), -1 for terminal transitions */
    int32_t *init_action;  /* [n_budgets x sessions] π(s_0) */

    /* Tabular keys. */
    fqe_state *states;
    size_t n_states;
    size_t cap_states;
    uint32_t *slots; /* open addressing: state id + 1, 0 = empty */
    size_t n_slots;
    int32_t *state_of;      /* [n] id of s */
    int32_t *next_state_of; /* [n] id of s', -1 when absent or terminal */
    int32_t *init_state_of; /* [n_budgets x sessions] id of s_0 or -1 */
    double *pair_weight;    /* [states x K] total weight of (s, a) in the data */

    /* Network classes. */
    sr_state_config state;
    float *shift;
    float *scale;

    sr_fqe_result *result;
} fqe_run;

static void run_free(fqe_run *run)
{
    sr_feature_table_free(&run->table);
    sr_hbr_free(run->hbr);
    free(run->tr);
    free(run->next_action);
    free(run->init_action);
    free(run->states);
    free(run->slots);
    free(run->state_of);
    free(run->next_state_of);
    free(run->init_state_of);
    free(run->pair_weight);
    free(run->shift);
    free(run->scale);
}

static sr_status nomem(sr_error *err, const char *what)
{
    return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for %s", what);
}

/* ---- step 2: transitions ---------------------------------------------------------- */

static sr_status build_transitions(fqe_run *run, sr_error *err)
{
    sr_hbr_options h = run->o->hbr;
    h.budget_mode = SR_HBR_BUDGET_ABSOLUTE;
    h.budget_values = run->budgets;
    h.n_budget_values = run->n_budgets;
    h.dedupe = true;
    h.seed = run->o->hbr.seed;
    sr_status status = sr_hbr_create(run->ds, &h, &run->hbr, err);
    if (status != SR_OK)
        return status;

    for (size_t s = 0; s < run->ds->n_sessions; s++)
        if (sr_hbr_session_kind(run->hbr, s) == SR_HBR_PATHS_UNUSABLE)
            run->result->sessions_unusable++;

    status = sr_hbr_materialise(run->hbr, run->o->max_transitions, &run->tr, &run->n, err);
    if (status == SR_ERR_NOMEM)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, "max_transitions",
                            "the data relabels into more than %zu distinct transitions at these "
                            "budgets; raise the cap, give fewer budgets or fewer sessions",
                            run->o->max_transitions);
    if (status != SR_OK)
        return status;
    if (run->n == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "no session yields a transition: logged-only sessions need a "
                            "logged model with an outcome on every turn");

    uint64_t weighted = 0;
    for (size_t i = 0; i < run->n; i++)
        weighted += run->tr[i].weight;
    run->result->transitions = (size_t)weighted;
    run->result->distinct_transitions = run->n;
    return SR_OK;
}

/* ---- step 3: the policy's actions --------------------------------------------------- */

/* Asks the policy for its action at (session, t, budget) and checks the range. */
static sr_status policy_act(fqe_run *run, size_t session, int t, double budget,
                            double start_budget, int prev_action, sr_rng *rng, int32_t *action,
                            sr_error *err)
{
    const sr_policy_state view = {
        .ds = run->ds,
        .session = session,
        .t = t,
        .budget = budget,
        .start_budget = start_budget,
        .prev_action = prev_action,
        .rng = rng,
    };
    const int a = run->policy->act(run->policy, &view);
    if (a < 0 || a >= run->k)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                            "policy %s chose model %d, outside the catalogue of %d models, at "
                            "session %s turn %d",
                            run->policy->name, a, run->k, run->ds->sessions[session].id, t + 1);
    *action = a;
    return SR_OK;
}

static sr_status begin(fqe_run *run, size_t session, double start_budget, sr_error *err)
{
    if (run->policy->begin_session == NULL)
        return SR_OK;
    return run->policy->begin_session(run->policy, run->ds, session, start_budget, err);
}

static sr_status collect_actions(fqe_run *run, sr_error *err)
{
    const size_t n_sessions = run->ds->n_sessions;
    run->next_action = malloc(run->n * sizeof(int32_t));
    run->init_action = malloc(run->n_budgets * n_sessions * sizeof(int32_t));
    if (run->next_action == NULL || run->init_action == NULL)
        return nomem(err, "the policy's actions");

    /* Next states: transitions come grouped by (session, level), one episode start each. */
    const int fallback = run->o->hbr.mdp.fallback_model;
    size_t group_session = SIZE_MAX;
    int group_level = -1;
    sr_rng rng;
    for (size_t i = 0; i < run->n; i++) {
        const sr_hbr_transition *tr = &run->tr[i];
        run->next_action[i] = -1;
        if (tr->flags & SR_HBR_TERMINAL)
            continue;
        if (tr->session != group_session || tr->level != group_level) {
            group_session = tr->session;
            group_level = tr->level;
            sr_rng_seed_stream(&rng, run->o->seed,
                               (uint64_t)tr->session * SR_HBR_MAX_LEVELS + tr->level);
            sr_status status = begin(run, tr->session, run->budgets[tr->level], err);
            if (status != SR_OK)
                return status;
        }
        const int called = (tr->flags & SR_HBR_REPLACED) ? fallback : tr->action;
        sr_status status = policy_act(run, tr->session, tr->t + 1, tr->next_budget,
                                      run->budgets[tr->level], called, &rng,
                                      &run->next_action[i], err);
        if (status != SR_OK)
            return status;
    }

    /* Initial states: every session at every budget. */
    for (size_t s = 0; s < n_sessions; s++)
        for (size_t b = 0; b < run->n_budgets; b++) {
            sr_rng_seed_stream(&rng, run->o->seed,
                               INITIAL_STREAM_OFFSET + (uint64_t)s * SR_HBR_MAX_LEVELS + b);
            sr_status status = begin(run, s, run->budgets[b], err);
            if (status == SR_OK)
                status = policy_act(run, s, 0, run->budgets[b], run->budgets[b], -1, &rng,
                                    &run->init_action[b * n_sessions + s], err);
            if (status != SR_OK)
                return status;
        }
    return SR_OK;
}

/* ---- step 4: tabular keys ---------------------------------------------------------- */

static uint64_t mix64(uint64_t h, uint64_t x)
{
    /* One round of splitmix64's finaliser over the running hash. */
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static uint64_t state_hash(const fqe_run *run, size_t row, int t, double budget)
{
    const float *x = sr_feature_table_row(&run->table, row);
    uint64_t h = mix64(0, (uint64_t)t);
    uint64_t bits;
    memcpy(&bits, &budget, sizeof(bits));
    h = mix64(h, bits);
    for (int i = 0; i < run->table.dim; i++) {
        uint32_t v;
        memcpy(&v, &x[i], sizeof(v));
        h = mix64(h, v);
    }
    return h;
}

static bool state_equal(const fqe_run *run, const fqe_state *s, size_t row, int t, double budget)
{
    if (s->t != t || s->budget != budget)
        return false;
    const size_t bytes = (size_t)run->table.dim * sizeof(float);
    return memcmp(sr_feature_table_row(&run->table, s->row),
                  sr_feature_table_row(&run->table, row), bytes) == 0;
}

/*
 * Finds the state (row, t, budget); inserts it when `insert`.  Returns its
 * id, -1 when absent and not inserted, -2 when out of memory.
 */
static int32_t state_find(fqe_run *run, size_t row, int t, double budget, bool insert)
{
    const size_t mask = run->n_slots - 1;
    size_t slot = (size_t)state_hash(run, row, t, budget) & mask;
    for (;;) {
        const uint32_t id = run->slots[slot];
        if (id == 0)
            break;
        if (state_equal(run, &run->states[id - 1], row, t, budget))
            return (int32_t)(id - 1);
        slot = (slot + 1) & mask;
    }
    if (!insert)
        return -1;
    if (run->n_states == run->cap_states)
        return -2;
    run->states[run->n_states] = (fqe_state){.row = row, .t = t, .budget = budget};
    run->slots[slot] = (uint32_t)(++run->n_states);
    return (int32_t)(run->n_states - 1);
}

static sr_status build_keys(fqe_run *run, sr_error *err)
{
    const size_t n_sessions = run->ds->n_sessions;
    const size_t n_init = run->n_budgets * n_sessions;

    /* At most one state per transition and per initial state; slots at most half full. */
    run->cap_states = run->n + n_init;
    if (run->cap_states >= INT32_MAX / 2)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "%zu states exceed the tabular index", run->cap_states);
    run->n_slots = 16;
    while (run->n_slots < 2 * run->cap_states)
        run->n_slots *= 2;
    run->states = malloc(run->cap_states * sizeof(fqe_state));
    run->slots = calloc(run->n_slots, sizeof(uint32_t));
    run->state_of = malloc(run->n * sizeof(int32_t));
    run->next_state_of = malloc(run->n * sizeof(int32_t));
    run->init_state_of = malloc(n_init * sizeof(int32_t));
    if (run->states == NULL || run->slots == NULL || run->state_of == NULL ||
        run->next_state_of == NULL || run->init_state_of == NULL)
        return nomem(err, "the tabular index");

    /* The states of the data, then lookups of next and initial states. */
    for (size_t i = 0; i < run->n; i++) {
        const sr_hbr_transition *tr = &run->tr[i];
        run->state_of[i] = state_find(run, tr->row, tr->t, tr->budget, true);
    }
    for (size_t i = 0; i < run->n; i++) {
        const sr_hbr_transition *tr = &run->tr[i];
        run->next_state_of[i] = (tr->flags & SR_HBR_TERMINAL)
                                    ? -1
                                    : state_find(run, tr->row + 1, tr->t + 1, tr->next_budget,
                                                 false);
    }
    for (size_t b = 0; b < run->n_budgets; b++)
        for (size_t s = 0; s < n_sessions; s++)
            run->init_state_of[b * n_sessions + s] =
                state_find(run, run->ds->sessions[s].first_turn, 0, run->budgets[b], false);
    run->result->states = run->n_states;

    /* Weight of each (state, action) pair, and the coverage of π's pairs. */
    const size_t k = (size_t)run->k;
    run->pair_weight = calloc(run->n_states * k, sizeof(double));
    if (run->pair_weight == NULL)
        return nomem(err, "the tabular index");
    for (size_t i = 0; i < run->n; i++)
        run->pair_weight[(size_t)run->state_of[i] * k + run->tr[i].action] += run->tr[i].weight;

    double covered = 0;
    double bootstrapped = 0;
    for (size_t i = 0; i < run->n; i++) {
        if (run->next_action[i] < 0)
            continue;
        bootstrapped += run->tr[i].weight;
        const int32_t ns = run->next_state_of[i];
        if (ns >= 0 && run->pair_weight[(size_t)ns * k + (size_t)run->next_action[i]] > 0)
            covered += run->tr[i].weight;
    }
    run->result->coverage_next = bootstrapped > 0 ? covered / bootstrapped : 1.0;
    for (size_t b = 0; b < run->n_budgets; b++) {
        size_t hits = 0;
        for (size_t s = 0; s < n_sessions; s++) {
            const int32_t id = run->init_state_of[b * n_sessions + s];
            const int32_t a = run->init_action[b * n_sessions + s];
            if (id >= 0 && run->pair_weight[(size_t)id * k + (size_t)a] > 0)
                hits++;
        }
        run->result->budgets[b].coverage_initial = (double)hits / (double)n_sessions;
    }
    return SR_OK;
}

/* Mean and standard deviation of `n` values. */
static void mean_sd(const double *x, size_t n, double *mean, double *sd)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    const double m = sum / (double)n;
    double sq = 0;
    for (size_t i = 0; i < n; i++)
        sq += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(sq / (double)(n - 1)) : NAN;
}

/* ---- step 5a: tabular regressions ---------------------------------------------------- */

/* Records the value at the initial states of every budget after iteration `it`. */
static void tabular_values(fqe_run *run, const double *q, int it, double *scratch)
{
    const size_t n_sessions = run->ds->n_sessions;
    const size_t k = (size_t)run->k;
    for (size_t b = 0; b < run->n_budgets; b++) {
        for (size_t s = 0; s < n_sessions; s++) {
            const int32_t id = run->init_state_of[b * n_sessions + s];
            const int32_t a = run->init_action[b * n_sessions + s];
            scratch[s] = id >= 0 ? q[(size_t)id * k + (size_t)a] : 0.0;
        }
        sr_fqe_budget_result *r = &run->result->budgets[b];
        mean_sd(scratch, n_sessions, &r->trace[it], &r->value_sd);
        r->value = r->trace[it];
    }
}

static sr_status run_tabular(fqe_run *run, sr_error *err)
{
    const size_t k = (size_t)run->k;
    const size_t pairs = run->n_states * k;
    double *q = calloc(pairs, sizeof(double));
    double *sum = malloc(pairs * sizeof(double));
    double *scratch = malloc(run->ds->n_sessions * sizeof(double));
    if (q == NULL || sum == NULL || scratch == NULL) {
        free(q);
        free(sum);
        free(scratch);
        return nomem(err, "the Q table");
    }

    for (int it = 0; it < run->iterations; it++) {
        /* Targets from Q_k: pairs the data lacks read 0 (no regression constrains them). */
        memset(sum, 0, pairs * sizeof(double));
        for (size_t i = 0; i < run->n; i++) {
            const sr_hbr_transition *tr = &run->tr[i];
            double y = tr->reward;
            if (run->next_action[i] >= 0 && run->next_state_of[i] >= 0)
                y += run->o->gamma * q[(size_t)run->next_state_of[i] * k +
                                       (size_t)run->next_action[i]];
            sum[(size_t)run->state_of[i] * k + tr->action] += tr->weight * y;
        }

        /* The exact least-squares solution: the weighted mean target of each pair. */
        double change = 0;
        for (size_t p = 0; p < pairs; p++) {
            const double next = run->pair_weight[p] > 0 ? sum[p] / run->pair_weight[p] : 0.0;
            change = fmax(change, fabs(next - q[p]));
            sum[p] = next;
        }

        /* Residual of Q_{k+1} against the targets it was fitted to (sum now contains Q_{k+1}). */
        double residual = 0;
        double total = 0;
        for (size_t i = 0; i < run->n; i++) {
            const sr_hbr_transition *tr = &run->tr[i];
            double y = tr->reward;
            if (run->next_action[i] >= 0 && run->next_state_of[i] >= 0)
                y += run->o->gamma * q[(size_t)run->next_state_of[i] * k +
                                       (size_t)run->next_action[i]];
            const double d = sum[(size_t)run->state_of[i] * k + tr->action] - y;
            residual += tr->weight * d * d;
            total += tr->weight;
        }
        memcpy(q, sum, pairs * sizeof(double));
        run->result->last_change = change;
        run->result->last_residual = residual / total;
        tabular_values(run, q, it, scratch);
        sr_log(SR_LOG_DEBUG, "fqe iteration=%d function=tabular change=%g residual=%g", it + 1,
               change, run->result->last_residual);
    }
    free(q);
    free(sum);
    free(scratch);
    return SR_OK;
}

/* ---- step 5b: network regressions ---------------------------------------------------- */

static sr_status setup_state(fqe_run *run, sr_error *err)
{
    double b_ref = 0;
    for (size_t b = 0; b < run->n_budgets; b++)
        b_ref = fmax(b_ref, run->budgets[b]);
    double mean_cost[SR_MAX_MODELS];
    sr_dataset_model_stats(run->ds, NULL, mean_cost, NULL);
    double strong = 0;
    for (int a = 0; a < run->k; a++)
        if (isfinite(mean_cost[a]))
            strong = fmax(strong, mean_cost[a]);

    run->state.feature_dim = run->table.dim;
    run->state.b_ref = b_ref > 0 ? b_ref : 1.0; /* all budgets 0: any positive scale will do */
    run->state.t_ref = run->t_max;
    run->state.strong_cost = strong > 0 ? strong : 1.0;
    run->state.options = run->o->state_options;
    run->state.n_bins = run->o->n_bins;
    sr_status status = sr_state_config_check(&run->state, err);
    if (status != SR_OK)
        return status;
    run->result->input_dim = sr_state_dim(&run->state);
    return sr_state_compute_normalisation(run->table.data, run->table.n_rows, run->table.dim,
                                          run->o->normalise, run->o->std_floor, &run->shift,
                                          &run->scale, err);
}

typedef struct fqe_nets {
    sr_mlp *online;
    sr_mlp *target;
    float *states;      /* [batch x D] */
    float *next_states; /* [batch x D] */
    float *grad;        /* [batch x K] */
    float *targets;     /* [batch] */
    size_t *picked;     /* [batch] */
    uint64_t *cumulative; /* [n] running sum of the weights */
    double *scratch;    /* [sessions] */
} fqe_nets;

static void nets_free(fqe_nets *nets)
{
    sr_mlp_destroy(nets->online);
    sr_mlp_destroy(nets->target);
    free(nets->states);
    free(nets->next_states);
    free(nets->grad);
    free(nets->targets);
    free(nets->picked);
    free(nets->cumulative);
    free(nets->scratch);
}

/* Draws a transition index with probability proportional to its weight. */
static size_t draw(const fqe_nets *nets, size_t n, sr_rng *rng)
{
    const uint64_t u = sr_rng_below(rng, nets->cumulative[n - 1]);
    size_t lo = 0;
    size_t hi = n - 1;
    while (lo < hi) { /* first index whose running sum exceeds u */
        const size_t mid = lo + (hi - lo) / 2;
        if (nets->cumulative[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Q at the initial states of every budget after iteration `it`, in chunks of one batch. */
static sr_status network_values(fqe_run *run, fqe_nets *nets, int it, sr_error *err)
{
    const size_t n_sessions = run->ds->n_sessions;
    const size_t d = (size_t)run->result->input_dim;
    const size_t chunk = (size_t)run->o->batch;
    for (size_t b = 0; b < run->n_budgets; b++) {
        for (size_t start = 0; start < n_sessions; start += chunk) {
            const size_t rows = n_sessions - start < chunk ? n_sessions - start : chunk;
            for (size_t r = 0; r < rows; r++) {
                const sr_session *s = &run->ds->sessions[start + r];
                sr_state_encode(&run->state, sr_feature_table_row(&run->table, s->first_turn),
                                run->shift, run->scale, 0, run->budgets[b],
                                nets->states + r * d);
            }
            const float *q = sr_mlp_forward(nets->online, nets->states, (int)rows);
            for (size_t r = 0; r < rows; r++) {
                const int32_t a = run->init_action[b * n_sessions + start + r];
                nets->scratch[start + r] = q[r * (size_t)run->k + (size_t)a];
            }
        }
        sr_fqe_budget_result *res = &run->result->budgets[b];
        mean_sd(nets->scratch, n_sessions, &res->trace[it], &res->value_sd);
        res->value = res->trace[it];
        if (!isfinite(res->value))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                                "FQE diverged: the value at budget %g is not finite after "
                                "iteration %d; lower the learning rate or use fewer steps",
                                run->budgets[b], it + 1);
    }
    return SR_OK;
}

/* One Adam step on a weighted minibatch; adds the batch's squared residuals to `*residual`. */
static sr_status network_step(fqe_run *run, fqe_nets *nets, sr_rng *rng, int64_t step, int it,
                              float lr, double *residual, sr_error *err)
{
    const size_t batch = (size_t)run->o->batch;
    const size_t d = (size_t)run->result->input_dim;
    const size_t k = (size_t)run->k;

    /* Sample, and encode s and s' (a terminal transition's s' is never read). */
    for (size_t r = 0; r < batch; r++) {
        const size_t i = draw(nets, run->n, rng);
        const sr_hbr_transition *tr = &run->tr[i];
        nets->picked[r] = i;
        sr_state_encode(&run->state, sr_feature_table_row(&run->table, tr->row), run->shift,
                        run->scale, tr->t, tr->budget, nets->states + r * d);
        if (run->next_action[i] >= 0)
            sr_state_encode(&run->state, sr_feature_table_row(&run->table, tr->row + 1),
                            run->shift, run->scale, tr->t + 1, tr->next_budget,
                            nets->next_states + r * d);
        else
            memset(nets->next_states + r * d, 0, d * sizeof(float));
    }

    /* Targets y = r + γ (1 − done) Q_k(s', π(s')) from the frozen copy; Q_0 = 0. */
    const bool bootstrap = it > 0;
    const float *qn = bootstrap ? sr_mlp_forward(nets->target, nets->next_states, (int)batch)
                                : NULL;
    for (size_t r = 0; r < batch; r++) {
        const size_t i = nets->picked[r];
        double y = run->tr[i].reward;
        if (bootstrap && run->next_action[i] >= 0)
            y += run->o->gamma * qn[r * k + (size_t)run->next_action[i]];
        nets->targets[r] = (float)y;
    }

    /* Squared loss 0.5 mean (Q(s, a) − y)²: its gradient is (Q − y) / N on the taken action. */
    const float *q = sr_mlp_forward(nets->online, nets->states, (int)batch);
    memset(nets->grad, 0, batch * k * sizeof(float));
    double sq = 0;
    for (size_t r = 0; r < batch; r++) {
        const size_t a = run->tr[nets->picked[r]].action;
        const float diff = q[r * k + a] - nets->targets[r];
        if (!isfinite(diff))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL,
                                "FQE diverged: a Q value or target is not finite at iteration "
                                "%d; lower the learning rate",
                                it + 1);
        nets->grad[r * k + a] = diff / (float)batch;
        sq += (double)diff * diff;
    }
    *residual += sq / (double)batch;
    sr_mlp_backward(nets->online, nets->grad, (int)batch, NULL);

    sr_adam_config adam;
    sr_adam_config_default(&adam);
    adam.lr = lr;
    sr_mlp_adam_step(nets->online, &adam, step, 1.0f);
    return SR_OK;
}

static sr_status run_network(fqe_run *run, sr_error *err)
{
    fqe_nets nets = {0};
    sr_status status = setup_state(run, err);
    if (status != SR_OK)
        return status;

    /* Networks: the linear class is the MLP core with no hidden layer. */
    sr_mlp_config config = {0};
    config.input_dim = run->result->input_dim;
    config.output_dim = run->k;
    config.max_rows = run->o->batch;
    if (run->o->function == SR_FQE_MLP) {
        config.hidden_count = run->o->hidden_count;
        memcpy(config.hidden, run->o->hidden, sizeof(config.hidden));
    }
    status = sr_mlp_create(&config, run->o->seed, &nets.online, err);
    if (status == SR_OK)
        status = sr_mlp_create(&config, run->o->seed, &nets.target, err);
    if (status != SR_OK)
        goto out;

    const size_t batch = (size_t)run->o->batch;
    const size_t d = (size_t)config.input_dim;
    nets.states = malloc(batch * d * sizeof(float));
    nets.next_states = malloc(batch * d * sizeof(float));
    nets.grad = malloc(batch * (size_t)run->k * sizeof(float));
    nets.targets = malloc(batch * sizeof(float));
    nets.picked = malloc(batch * sizeof(size_t));
    nets.cumulative = malloc(run->n * sizeof(uint64_t));
    nets.scratch = malloc(run->ds->n_sessions * sizeof(double));
    if (nets.states == NULL || nets.next_states == NULL || nets.grad == NULL ||
        nets.targets == NULL || nets.picked == NULL || nets.cumulative == NULL ||
        nets.scratch == NULL) {
        status = nomem(err, "the FQE networks");
        goto out;
    }
    uint64_t running = 0;
    for (size_t i = 0; i < run->n; i++) {
        running += run->tr[i].weight;
        nets.cumulative[i] = running;
    }

    /*
     * Q_0 = 0, so the first regression fits the rewards alone; later ones
     * bootstrap from a frozen copy of the previous fit.
     */
    sr_rng rng;
    sr_rng_seed_stream(&rng, run->o->seed, SAMPLER_STREAM);
    int64_t step = 0;
    for (int it = 0; it < run->iterations; it++) {
        sr_mlp_copy_params(nets.target, nets.online);
        double residual = 0;
        const int steps = run->o->steps_per_iteration;
        for (int m = 0; m < steps; m++) {
            /*
             * The rate falls linearly to 1% within each regression, so
             * the fit ends close to the least-squares solution instead of
             * jittering around it at the full rate.
             */
            const float lr = run->o->lr * (1.0f - 0.99f * (float)m / (float)steps);
            status = network_step(run, &nets, &rng, ++step, it, lr, &residual, err);
            if (status != SR_OK)
                goto out;
        }
        run->result->last_residual = residual / run->o->steps_per_iteration;
        status = network_values(run, &nets, it, err);
        if (status != SR_OK)
            goto out;
        sr_log(SR_LOG_DEBUG, "fqe iteration=%d function=%s residual=%g value=%g", it + 1,
               sr_fqe_function_name(run->o->function), run->result->last_residual,
               run->result->budgets[0].value);
    }

out:
    nets_free(&nets);
    return status;
}

/* ---- entry point ---------------------------------------------------------------------- */

void sr_fqe_result_free(sr_fqe_result *result)
{
    if (result == NULL)
        return;
    for (size_t b = 0; result->budgets != NULL && b < result->n_budgets; b++)
        free(result->budgets[b].trace);
    free(result->budgets);
    memset(result, 0, sizeof(*result));
}

static sr_status check_request(const sr_dataset *ds, const sr_policy *policy,
                               const double *budgets, size_t n_budgets, sr_error *err)
{
    if (ds->n_sessions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "the data has no sessions");
    if (policy == NULL || policy->act == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "policy", "no policy to evaluate");
    if (strcmp(policy->name, "oracle") == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "policy",
                            "the hindsight oracle reads every outcome of a session and is not "
                            "a policy of the state, so FQE cannot evaluate it; use seqroute "
                            "eval for its value");
    if (budgets == NULL || n_budgets == 0 || n_budgets > SR_HBR_MAX_LEVELS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budgets",
                            "give 1..%d starting budgets, not %zu", SR_HBR_MAX_LEVELS,
                            n_budgets);
    for (size_t b = 0; b < n_budgets; b++)
        if (!isfinite(budgets[b]) || budgets[b] < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budgets",
                                "budget %zu is %g; budgets must be finite and >= 0", b + 1,
                                budgets[b]);
    return SR_OK;
}

sr_status sr_fqe_evaluate(const sr_dataset *ds, sr_policy *policy, const double *budgets,
                          size_t n_budgets, const sr_fqe_options *options,
                          sr_fqe_result *result, sr_error *err)
{
    memset(result, 0, sizeof(*result));
    sr_status status = sr_fqe_options_check(options, err);
    if (status == SR_OK)
        status = check_request(ds, policy, budgets, n_budgets, err);
    if (status != SR_OK)
        return status;

    fqe_run run = {0};
    run.ds = ds;
    run.policy = policy;
    run.o = options;
    run.budgets = budgets;
    run.n_budgets = n_budgets;
    run.k = ds->catalogue.n_models;
    run.result = result;
    for (size_t s = 0; s < ds->n_sessions; s++)
        if (ds->sessions[s].n_turns > run.t_max)
            run.t_max = ds->sessions[s].n_turns;
    /* With γ = 1 the tabular fixed point is exact after T regressions; 2 more for the others. */
    run.iterations = options->iterations > 0 ? options->iterations : run.t_max + 2;

    /* The result's shape. */
    result->function = options->function;
    result->iterations = run.iterations;
    result->sessions = ds->n_sessions;
    result->last_change = NAN;
    result->last_residual = NAN;
    result->n_budgets = n_budgets;
    result->budgets = calloc(n_budgets, sizeof(sr_fqe_budget_result));
    if (result->budgets == NULL) {
        status = nomem(err, "the result");
        goto out;
    }
    for (size_t b = 0; b < n_budgets; b++) {
        result->budgets[b].budget = budgets[b];
        result->budgets[b].trace = calloc((size_t)run.iterations, sizeof(double));
        if (result->budgets[b].trace == NULL) {
            status = nomem(err, "the result");
            goto out;
        }
    }

    /* Steps 1 to 5 of the file comment. */
    status = sr_feature_table_build(&options->features, ds, &run.table, err);
    if (status == SR_OK)
        status = build_transitions(&run, err);
    if (status == SR_OK)
        status = collect_actions(&run, err);
    if (status == SR_OK)
        status = build_keys(&run, err);
    if (status == SR_OK)
        status = options->function == SR_FQE_TABULAR ? run_tabular(&run, err)
                                                     : run_network(&run, err);

out:
    run_free(&run);
    if (status != SR_OK)
        sr_fqe_result_free(result);
    return status;
}
