/*
 * policy.c - model statistics, the baseline policies and their construction
 * by name.
 *
 * Every baseline is a small impl struct behind the sr_policy function
 * pointers.  Anything a decision needs (the model order by quality, the
 * cheapest model's estimated cost) is computed at creation, so act is a
 * short loop with no allocation.  The oracle's planner lives in oracle.c;
 * this file wraps it as a policy that plans in begin_session and replays
 * the plan in act.
 */
#include "seqroute/policy.h"

#include <unistd.h>

#include "seqroute/qpolicy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sr_policy_free(sr_policy *policy)
{
    if (policy != NULL)
        policy->destroy(policy);
}

/* ---- model statistics ------------------------------------------------------ */

sr_status sr_model_stats_compute(const sr_dataset *reference, const sr_catalogue *target,
                                 sr_model_stats *stats, sr_error *err)
{
    double quality[SR_MAX_MODELS];
    double cost[SR_MAX_MODELS];
    size_t count[SR_MAX_MODELS];

    if (reference->n_sessions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "reference",
                            "the reference data has no sessions to estimate model "
                            "quality and cost from");
    sr_dataset_model_stats(reference, quality, cost, count);

    /* Map each target model to the reference by name. */
    memset(stats, 0, sizeof(*stats));
    stats->n_models = target->n_models;
    for (int k = 0; k < target->n_models; k++) {
        const char *name = target->models[k].name;
        int r = sr_dataset_find_model(reference, name);
        if (r < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models",
                                "model '%s' is missing from the reference data's catalogue; "
                                "use reference data with the same models",
                                name);
        if (count[r] == 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "outcomes",
                                "model '%s' has no outcome in the reference data, so its "
                                "mean quality and cost are unknown",
                                name);
        stats->mean_quality[k] = quality[r];
        stats->mean_cost[k] = cost[r];
    }
    stats->mean_session_turns = (double)reference->n_turns / (double)reference->n_sessions;

    /* Named models; strict comparisons keep the first in catalogue order on full ties. */
    int cheapest = 0;
    int strongest = 0;
    int most_expensive = 0;
    for (int k = 1; k < target->n_models; k++) {
        const double q = stats->mean_quality[k];
        const double c = stats->mean_cost[k];
        if (c < stats->mean_cost[cheapest] ||
            (c == stats->mean_cost[cheapest] && q > stats->mean_quality[cheapest]))
            cheapest = k;
        if (q > stats->mean_quality[strongest] ||
            (q == stats->mean_quality[strongest] && c < stats->mean_cost[strongest]))
            strongest = k;
        if (c > stats->mean_cost[most_expensive])
            most_expensive = k;
    }
    stats->cheapest = cheapest;
    stats->strongest = strongest;
    stats->most_expensive = most_expensive;
    return SR_OK;
}

/* ---- always one model --------------------------------------------------------- */

typedef struct fixed_impl {
    int model;
} fixed_impl;

static int fixed_act(sr_policy *policy, const sr_policy_state *state)
{
    (void)state;
    return ((const fixed_impl *)policy->impl)->model;
}

/* Frees a policy whose impl is one plain allocation. */
static void plain_destroy(sr_policy *policy)
{
    free(policy->impl);
    free(policy);
}

/* ---- uniform random ---------------------------------------------------------- */

typedef struct random_impl {
    int n_models;
} random_impl;

static int random_act(sr_policy *policy, const sr_policy_state *state)
{
    const random_impl *impl = policy->impl;
    return (int)sr_rng_below(state->rng, (uint64_t)impl->n_models);
}

/* ---- budget-aware heuristic ---------------------------------------------------- */

typedef struct heuristic_impl {
    int n_models;
    int by_quality[SR_MAX_MODELS]; /* models by mean quality, best first */
    double mean_cost[SR_MAX_MODELS];
    int cheapest;
    double mean_session_turns;
    double reserve;
    bool true_remaining;
} heuristic_impl;

/*
 * Picks the best model by mean quality whose estimated cost c-hat(a), plus a
 * reserve of reserve * (expected turns after this one) * c-hat(cheapest),
 * fits the remaining budget.  When none fits, the cheapest.
 */
static int heuristic_act(sr_policy *policy, const sr_policy_state *state)
{
    const heuristic_impl *h = policy->impl;

    double turns_after;
    if (h->true_remaining)
        turns_after = (double)(state->ds->sessions[state->session].n_turns - state->t - 1);
    else
        turns_after = fmax(0.0, h->mean_session_turns - (double)(state->t + 1));
    const double reserve = h->reserve * turns_after * h->mean_cost[h->cheapest];

    for (int i = 0; i < h->n_models; i++) {
        const int a = h->by_quality[i];
        if (h->mean_cost[a] + reserve <= state->budget)
            return a;
    }
    return h->cheapest;
}

/* Orders model indices by mean quality descending, then mean cost, then index. */
static void sort_by_quality(const sr_model_stats *stats, int *order)
{
    const int n = stats->n_models;
    for (int k = 0; k < n; k++)
        order[k] = k;

    /* Insertion sort: n is at most SR_MAX_MODELS and this runs once per policy. */
    for (int i = 1; i < n; i++) {
        const int m = order[i];
        int j = i - 1;
        while (j >= 0) {
            const int o = order[j];
            const bool after = stats->mean_quality[o] < stats->mean_quality[m] ||
                               (stats->mean_quality[o] == stats->mean_quality[m] &&
                                stats->mean_cost[o] > stats->mean_cost[m]);
            if (!after)
                break;
            order[j + 1] = o;
            j--;
        }
        order[j + 1] = m;
    }
}

/* ---- hindsight oracle ------------------------------------------------------------ */

typedef struct oracle_impl {
    sr_mdp_config config;
    sr_oracle_objective objective;
    int *plan;
    int capacity;
} oracle_impl;

static sr_status oracle_begin_session(sr_policy *policy, const sr_dataset *ds, size_t session,
                                      double start_budget, sr_error *err)
{
    oracle_impl *impl = policy->impl;
    if (session >= ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "session",
                            "oracle: session index %zu is out of range", session);

    const int n_turns = ds->sessions[session].n_turns;
    if (n_turns > impl->capacity) {
        int *p = realloc(impl->plan, (size_t)n_turns * sizeof(int));
        if (p == NULL)
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "oracle: out of memory");
        impl->plan = p;
        impl->capacity = n_turns;
    }
    sr_oracle_plan plan;
    return sr_oracle_solve_objective(&impl->config, impl->objective, ds, session, start_budget,
                                     impl->plan, &plan, err);
}

static int oracle_act(sr_policy *policy, const sr_policy_state *state)
{
    const oracle_impl *impl = policy->impl;
    if (state->t < 0 || state->t >= impl->capacity)
        return -1;
    return impl->plan[state->t];
}

static void oracle_destroy(sr_policy *policy)
{
    oracle_impl *impl = policy->impl;
    if (impl != NULL)
        free(impl->plan);
    free(impl);
    free(policy);
}

/* ---- construction by name --------------------------------------------------------- */

void sr_policy_options_default(sr_policy_options *options)
{
    options->reference = NULL;
    sr_mdp_config_default(&options->mdp);
    options->heuristic_reserve = SR_HEURISTIC_DEFAULT_RESERVE;
    options->heuristic_true_remaining = false;
    options->oracle_objective = SR_ORACLE_QUALITY;
    options->lambda = 0.0;
}

/* Allocates a policy shell and its zeroed impl of `impl_size` bytes. */
static sr_policy *new_policy(const char *name, size_t impl_size)
{
    sr_policy *policy = calloc(1, sizeof(*policy));
    if (policy == NULL)
        return NULL;
    policy->impl = calloc(1, impl_size);
    if (policy->impl == NULL) {
        free(policy);
        return NULL;
    }
    snprintf(policy->name, sizeof(policy->name), "%s", name);
    policy->destroy = plain_destroy;
    return policy;
}

/* True for the fixed baseline names and always:MODEL. */
static bool is_baseline_name(const char *name)
{
    static const char *const fixed[] = {"oracle", "random", "heuristic", "always-cheapest",
                                        "always-strongest"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(name, fixed[i]) == 0)
            return true;
    return strncmp(name, "always:", 7) == 0;
}

bool sr_policy_name_is_learned(const char *name)
{
    char label[16];
    if (sr_qpolicy_parse_name(name, label, sizeof(label)) != NULL)
        return true;
    return name[0] != '\0' && !is_baseline_name(name) && access(name, F_OK) == 0;
}

/* Loads a policy file and wraps it for the simulator, deciding with options->lambda. */
static sr_status create_learned(const char *name, const sr_dataset *ds,
                                const sr_policy_options *options, sr_policy **out, sr_error *err)
{
    char label[16] = "";
    const char *path = sr_qpolicy_parse_name(name, label, sizeof(label));
    if (path == NULL)
        path = name;
    sr_qpolicy *qp = NULL;
    sr_status status = sr_qpolicy_load(path, &qp, err);
    if (status != SR_OK)
        return status;
    const char *row = label[0] ? label : sr_qpolicy_algo_name(qp->algo);
    status = sr_qpolicy_policy_create(qp, true, row, options->lambda, ds, out, err);
    if (status != SR_OK)
        sr_qpolicy_free(qp);
    return status;
}

/* Fills `err` with the unknown-name message listing valid names and models. */
static sr_status unknown_name(const char *name, const sr_catalogue *cat, sr_error *err)
{
    char models[SR_ERROR_MESSAGE_MAX] = "";
    size_t used = 0;
    for (int k = 0; k < cat->n_models && used < sizeof(models); k++)
        used += (size_t)snprintf(models + used, sizeof(models) - used, "%s%s", k ? ", " : "",
                                 cat->models[k].name);
    return sr_error_set(err, SR_ERR_NOT_FOUND, NULL, 0, "policy",
                        "unknown policy '%s'; valid names are oracle, random, heuristic, "
                        "always-cheapest, always-strongest, cql:FILE, bc:FILE, dqn:FILE, "
                        "policy:FILE and always:MODEL with MODEL one of: %s",
                        name, models);
}

static sr_status create_fixed(const char *name, int model, sr_policy **out, sr_error *err)
{
    sr_policy *policy = new_policy(name, sizeof(fixed_impl));
    if (policy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    ((fixed_impl *)policy->impl)->model = model;
    policy->act = fixed_act;
    *out = policy;
    return SR_OK;
}

static sr_status create_heuristic(const char *name, const sr_model_stats *stats,
                                  const sr_policy_options *options, sr_policy **out, sr_error *err)
{
    if (!isfinite(options->heuristic_reserve) || options->heuristic_reserve < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "reserve",
                            "heuristic reserve multiplier %g is not a finite number >= 0",
                            options->heuristic_reserve);
    sr_policy *policy = new_policy(name, sizeof(heuristic_impl));
    if (policy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");

    heuristic_impl *h = policy->impl;
    h->n_models = stats->n_models;
    sort_by_quality(stats, h->by_quality);
    memcpy(h->mean_cost, stats->mean_cost, sizeof(h->mean_cost));
    h->cheapest = stats->cheapest;
    h->mean_session_turns = stats->mean_session_turns;
    h->reserve = options->heuristic_reserve;
    h->true_remaining = options->heuristic_true_remaining;
    policy->act = heuristic_act;
    *out = policy;
    return SR_OK;
}

static sr_status create_oracle(const sr_dataset *ds, const sr_policy_options *options,
                               sr_policy **out, sr_error *err)
{
    sr_status status = sr_mdp_config_check(&options->mdp, &ds->catalogue, err);
    if (status != SR_OK)
        return status;
    if (options->oracle_objective != SR_ORACLE_QUALITY &&
        options->oracle_objective != SR_ORACLE_RETURN)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "oracle_objective",
                            "unknown oracle objective %d; use quality or return",
                            (int)options->oracle_objective);
    sr_policy *policy = new_policy("oracle", sizeof(oracle_impl));
    if (policy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    oracle_impl *impl = policy->impl;
    impl->config = options->mdp;
    impl->objective = options->oracle_objective;
    policy->begin_session = oracle_begin_session;
    policy->act = oracle_act;
    policy->destroy = oracle_destroy;
    *out = policy;
    return SR_OK;
}

sr_status sr_policy_create(const char *name, const sr_dataset *ds, const sr_policy_options *options,
                           sr_policy **policy, sr_error *err)
{
    sr_policy_options defaults;
    if (options == NULL) {
        sr_policy_options_default(&defaults);
        options = &defaults;
    }
    *policy = NULL;
    if (name == NULL || name[0] == '\0')
        return unknown_name("", &ds->catalogue, err);
    if (strlen(name) >= SR_POLICY_NAME_MAX)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "policy",
                            "policy name of %zu bytes is longer than the limit of %d", strlen(name),
                            SR_POLICY_NAME_MAX - 1);
    if (ds->catalogue.n_models == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models",
                            "the catalogue has no models to route between");

    /* Learned policies from policy files. */
    if (sr_policy_name_is_learned(name))
        return create_learned(name, ds, options, policy, err);

    /* Names that need no statistics. */
    if (strcmp(name, "oracle") == 0)
        return create_oracle(ds, options, policy, err);
    if (strcmp(name, "random") == 0) {
        sr_policy *p = new_policy(name, sizeof(random_impl));
        if (p == NULL)
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        ((random_impl *)p->impl)->n_models = ds->catalogue.n_models;
        p->act = random_act;
        *policy = p;
        return SR_OK;
    }
    if (strncmp(name, "always:", 7) == 0) {
        const int model = sr_dataset_find_model(ds, name + 7);
        if (model < 0)
            return unknown_name(name, &ds->catalogue, err);
        return create_fixed(name, model, policy, err);
    }
    if (strcmp(name, "always-cheapest") != 0 && strcmp(name, "always-strongest") != 0 &&
        strcmp(name, "heuristic") != 0)
        return unknown_name(name, &ds->catalogue, err);

    /* Names that route by the reference statistics. */
    sr_model_stats stats;
    const sr_dataset *reference = options->reference ? options->reference : ds;
    sr_status status = sr_model_stats_compute(reference, &ds->catalogue, &stats, err);
    if (status != SR_OK)
        return status;
    if (strcmp(name, "always-cheapest") == 0)
        return create_fixed(name, stats.cheapest, policy, err);
    if (strcmp(name, "always-strongest") == 0)
        return create_fixed(name, stats.strongest, policy, err);
    return create_heuristic(name, &stats, options, policy, err);
}
