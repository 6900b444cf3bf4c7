/*
 * eval.c - runs policies through the MDP simulator and summarises the
 * episodes (metric definitions in docs/EVALUATION.md).
 *
 * One run walks every session: begin_session, then act and sr_mdp_step
 * per turn until the episode ends.  Per session it keeps spend, return and
 * whether it went bankrupt; per turn, served quality and the model called;
 * per decision, the pair (b_t / B_0, 1[requested the most expensive
 * model]) for the slope.  Means and the slope use Welford-style running
 * moments, which stay accurate over millions of terms.
 *
 * A bankrupt call is counted in spend, calls and model shares (the provider
 * bills it) and in the return (as q - eta), but its answer is not counted as
 * served: the budget is a hard limit, so quality bought by overspending
 * would make an overspending policy look better in mean_quality.
 */
#include "seqroute/eval.h"
#include "seqroute/qpolicy.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Denominators below this are treated as zero: the ratio is undefined. */
#define EVAL_TINY 1e-12

void sr_eval_options_default(sr_eval_options *options)
{
    sr_mdp_config_default(&options->mdp);
    options->seed = SR_EVAL_DEFAULT_SEED;
}

int sr_eval_most_expensive(const sr_dataset *ds)
{
    double mean_cost[SR_MAX_MODELS];
    size_t count[SR_MAX_MODELS];
    int best = -1;

    sr_dataset_model_stats(ds, NULL, mean_cost, count);
    for (int k = 0; k < ds->catalogue.n_models; k++) {
        if (count[k] == 0)
            continue;
        if (best < 0 || mean_cost[k] > mean_cost[best])
            best = k;
    }
    return best;
}

double sr_eval_c_ref(const sr_dataset *ds)
{
    const int model = sr_eval_most_expensive(ds);
    if (model < 0 || ds->n_sessions == 0)
        return NAN;

    double total = 0;
    for (size_t j = 0; j < ds->n_turns; j++) {
        const sr_outcome *o = sr_dataset_outcome(ds, j, model);
        if (!o->present)
            return NAN;
        total += o->cost;
    }
    return total / (double)ds->n_sessions;
}

void sr_eval_wilson(size_t successes, size_t trials, double z, double *lo, double *hi)
{
    if (trials == 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    const double n = (double)trials;
    const double p = (double)successes / n;
    const double z2 = z * z;
    const double denominator = 1 + z2 / n;
    const double centre = (p + z2 / (2 * n)) / denominator;
    const double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
    /* At 0 or n successes the bound is exactly 0 or 1; rounding would leave ~1e-17. */
    *lo = successes == 0 ? 0.0 : fmax(0.0, centre - half);
    *hi = successes == trials ? 1.0 : fmin(1.0, centre + half);
}

/* FNV-1a 64-bit hash of a session id, the per-session random stream index. */
static uint64_t hash_id(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64-bit offset basis */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL; /* FNV-1a 64-bit prime */
    }
    return h;
}

/* Running sums of one run, turned into metrics at the end. */
typedef struct eval_accumulator {
    size_t sessions;
    double cost_mean; /* Welford mean and second moment of per-session spend */
    double cost_m2;
    double return_sum;
    double served_quality;
    size_t decisions; /* Welford co-moments of (x, y) for the slope */
    double x_mean;
    double y_mean;
    double x_m2;
    double xy_c;
    size_t calls_by_model[SR_MAX_MODELS];
} eval_accumulator;

static void add_decision(eval_accumulator *acc, double x, double y)
{
    acc->decisions++;
    const double n = (double)acc->decisions;
    const double dx = x - acc->x_mean;
    acc->x_mean += dx / n;
    acc->y_mean += (y - acc->y_mean) / n;
    acc->x_m2 += dx * (x - acc->x_mean);
    acc->xy_c += dx * (y - acc->y_mean);
}

/* Runs one episode of session `i` and adds it to `acc` and `m`. */
static sr_status run_session(sr_policy *policy, const sr_dataset *ds, size_t i, double budget,
                             const sr_eval_options *options, int most_expensive,
                             eval_accumulator *acc, sr_eval_metrics *m, sr_error *err)
{
    const sr_session *s = &ds->sessions[i];
    const int n_models = ds->catalogue.n_models;
    sr_rng rng;
    sr_rng_seed_stream(&rng, options->seed, hash_id(s->id));

    if (policy->begin_session != NULL) {
        sr_status status = policy->begin_session(policy, ds, i, budget, err);
        if (status != SR_OK)
            return status;
    }

    /* Walk the episode. */
    double left = budget;
    double spent = 0;
    double episode_return = 0;
    bool bankrupt = false;
    int previous = -1;
    for (int t = 0; t < s->n_turns; t++) {
        const sr_policy_state state = {ds, i, t, left, budget, previous, &rng};
        const int action = policy->act(policy, &state);
        if (action < 0 || action >= n_models)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "action",
                                "policy '%s' chose action %d at session '%s' turn %d, but "
                                "the catalogue has models 0..%d",
                                policy->name, action, s->id, t + 1, n_models - 1);

        sr_mdp_step_result step;
        sr_status status = sr_mdp_step(&options->mdp, ds, i, t, left, action, &step, err);
        if (status != SR_OK)
            return status;

        if (budget > 0)
            add_decision(acc, left / budget, action == most_expensive ? 1.0 : 0.0);
        acc->calls_by_model[step.called]++;
        m->calls++;
        m->replaced_calls += step.replaced;
        spent += step.cost;
        episode_return += step.reward;
        if (!step.bankrupt) {
            acc->served_quality += step.quality;
            m->served_turns++;
        }
        bankrupt = step.bankrupt;
        left = step.budget;
        previous = step.called;
        if (step.done)
            break;
    }

    /* Per-session sums. */
    acc->sessions++;
    const double delta = spent - acc->cost_mean;
    acc->cost_mean += delta / (double)acc->sessions;
    acc->cost_m2 += delta * (spent - acc->cost_mean);
    acc->return_sum += episode_return;
    m->bankrupt_sessions += bankrupt;
    m->turns += (size_t)s->n_turns;
    return SR_OK;
}

/* Turns the sums of a finished run into the metrics. */
static void finish_metrics(const eval_accumulator *acc, int n_models, sr_eval_metrics *m)
{
    const double n = (double)acc->sessions;

    m->sessions = acc->sessions;
    m->mean_cost = acc->cost_mean;
    if (acc->sessions >= 2) {
        const double half = SR_EVAL_Z95 * sqrt(acc->cost_m2 / (n - 1)) / sqrt(n);
        m->mean_cost_ci[0] = acc->cost_mean - half;
        m->mean_cost_ci[1] = acc->cost_mean + half;
    }
    m->bankruptcy_rate = (double)m->bankrupt_sessions / n;
    sr_eval_wilson(m->bankrupt_sessions, acc->sessions, SR_EVAL_Z95, &m->bankruptcy_ci[0],
                   &m->bankruptcy_ci[1]);
    m->mean_quality = m->turns ? acc->served_quality / (double)m->turns : NAN;
    m->mean_quality_served = m->served_turns ? acc->served_quality / (double)m->served_turns : NAN;
    m->mean_return = acc->return_sum / n;

    m->n_models = n_models;
    for (int k = 0; k < n_models; k++)
        m->model_share[k] = m->calls ? (double)acc->calls_by_model[k] / (double)m->calls : NAN;

    m->decisions = acc->decisions;
    if (acc->decisions >= 2 && acc->x_m2 > EVAL_TINY)
        m->p_expensive_slope = acc->xy_c / acc->x_m2;
}

/*
 * Checks that the costs of `ds` sum to a finite number.  Each cost is finite
 * (the loader checks), but costs near the largest double can still add up to
 * infinity, and an infinite spend turns the running mean and variance into
 * NaN.  A finite grand total bounds every sum evaluation forms: spends,
 * their mean, C_ref and the per-model means.  The error names the model
 * with the largest total.
 */
static sr_status check_cost_total(const sr_dataset *ds, sr_error *err)
{
    double total = 0;
    double by_model[SR_MAX_MODELS] = {0};
    const int n_models = ds->catalogue.n_models;

    for (size_t j = 0; j < ds->n_turns; j++)
        for (int k = 0; k < n_models; k++) {
            const sr_outcome *o = sr_dataset_outcome(ds, j, k);
            if (o->present) {
                total += o->cost;
                by_model[k] += o->cost;
            }
        }
    if (isfinite(total))
        return SR_OK;

    int largest = 0;
    for (int k = 1; k < n_models; k++)
        if (!(by_model[k] <= by_model[largest]))
            largest = k;
    return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "cost",
                        "the costs sum to more than the largest double (about 1.8e308), "
                        "model '%s' contributing the most; rescale the costs to a smaller "
                        "cost unit",
                        ds->catalogue.models[largest].name);
}

sr_status sr_eval_policy(sr_policy *policy, const sr_dataset *ds, double budget,
                         const sr_eval_options *options, sr_eval_metrics *metrics, sr_error *err)
{
    if (!isfinite(budget) || budget < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget",
                            "budget %g is not a finite number >= 0", budget);
    if (ds->n_sessions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "sessions",
                            "the evaluation data has no sessions");
    if (options->mdp.horizon != 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "horizon",
                            "evaluation runs whole sessions, so the horizon must be 0 (got %d)",
                            options->mdp.horizon);
    sr_status status = sr_mdp_config_check(&options->mdp, &ds->catalogue, err);
    if (status == SR_OK)
        status = check_cost_total(ds, err);
    if (status != SR_OK)
        return status;

    /* Start from NAN for every undefined-until-computed metric. */
    memset(metrics, 0, sizeof(*metrics));
    snprintf(metrics->name, sizeof(metrics->name), "%s", policy->name);
    metrics->budget = budget;
    metrics->budget_frac = NAN;
    metrics->mean_cost_ci[0] = metrics->mean_cost_ci[1] = NAN;
    metrics->oracle_gap_closed = NAN;
    metrics->cost_reduction_vs_strongest = NAN;
    metrics->p_expensive_slope = NAN;
    metrics->lambda = NAN;

    eval_accumulator *acc = calloc(1, sizeof(*acc));
    if (acc == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    const int most_expensive = sr_eval_most_expensive(ds);
    for (size_t i = 0; i < ds->n_sessions; i++) {
        status = run_session(policy, ds, i, budget, options, most_expensive, acc, metrics, err);
        if (status != SR_OK) {
            free(acc);
            return status;
        }
    }
    finish_metrics(acc, ds->catalogue.n_models, metrics);
    free(acc);

    sr_log(SR_LOG_DEBUG, "eval_run policy=%s budget=%.17g sessions=%zu bankrupt=%zu", metrics->name,
           budget, metrics->sessions, metrics->bankrupt_sessions);
    return SR_OK;
}

void sr_eval_compare(sr_eval_metrics *row, const sr_eval_metrics *cheapest,
                     const sr_eval_metrics *strongest, const sr_eval_metrics *oracle,
                     double min_gain)
{
    row->oracle_gap_closed = NAN;
    row->cost_reduction_vs_strongest = NAN;
    if (cheapest != NULL && oracle != NULL) {
        const double gain = oracle->mean_quality - cheapest->mean_quality;
        if (gain > min_gain && gain > EVAL_TINY)
            row->oracle_gap_closed = (row->mean_quality - cheapest->mean_quality) / gain;
    }
    if (strongest != NULL && strongest->mean_cost > EVAL_TINY)
        row->cost_reduction_vs_strongest = 1 - row->mean_cost / strongest->mean_cost;
}

/* ---- a full report ------------------------------------------------------------- */

/* Names of the policies run to fill the comparison metrics. */
static const char *const comparison_names[3] = {"always-cheapest", "always-strongest", "oracle"};

/*
 * A growable list of owned policy names, each with the λ it runs with (NAN
 * for policies without one), deduplicated on the pair.
 */
typedef struct name_list {
    char **names;
    double *lambdas;
    size_t count;
    size_t capacity;
} name_list;

static void name_list_free(name_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->names[i]);
    free(list->names);
    free(list->lambdas);
    memset(list, 0, sizeof(*list));
}

static bool same_lambda(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static ssize_t name_list_find_lambda(const name_list *list, const char *name, double lambda)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->names[i], name) == 0 && same_lambda(list->lambdas[i], lambda))
            return (ssize_t)i;
    return -1;
}

static ssize_t name_list_find(const name_list *list, const char *name)
{
    return name_list_find_lambda(list, name, NAN);
}

/* Appends a copy of (`name`, `lambda`) unless it is already listed. */
static bool name_list_add_lambda(name_list *list, const char *name, double lambda)
{
    if (name_list_find_lambda(list, name, lambda) >= 0)
        return true;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        char **p = realloc(list->names, capacity * sizeof(char *));
        if (p == NULL)
            return false;
        list->names = p;
        double *q = realloc(list->lambdas, capacity * sizeof(double));
        if (q == NULL)
            return false;
        list->lambdas = q;
        list->capacity = capacity;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return false;
    list->lambdas[list->count] = lambda;
    list->names[list->count++] = copy;
    return true;
}

static bool name_list_add(name_list *list, const char *name)
{
    return name_list_add_lambda(list, name, NAN);
}

/*
 * True when `name` is a policy file trained by behaviour cloning.  Its outputs
 * are classifier logits, not Q-values, so the rule Q - lambda * cost has no
 * meaning for it and it is evaluated at lambda 0 only.  A file that fails to
 * load counts as not a classifier; creating the policy reports the error.
 */
static bool learned_is_classifier(const char *name)
{
    char label[16] = "";
    const char *path = sr_qpolicy_parse_name(name, label, sizeof(label));
    sr_qpolicy *qp = NULL;
    if (sr_qpolicy_load(path ? path : name, &qp, NULL) != SR_OK)
        return false;
    bool classifier = qp->algo == SR_CQL_ALGO_BC;
    sr_qpolicy_free(qp);
    return classifier;
}

/* Expands "all" into every baseline and the oracle, in table order; learned names once per λ. */
static bool add_requested(name_list *list, const char *name, const sr_catalogue *cat,
                          const sr_eval_request *request)
{
    if (sr_policy_name_is_learned(name)) {
        if (request->n_lambdas == 0 || learned_is_classifier(name))
            return name_list_add_lambda(list, name, 0.0);
        for (size_t i = 0; i < request->n_lambdas; i++)
            if (!name_list_add_lambda(list, name, request->lambdas[i]))
                return false;
        return true;
    }
    if (strcmp(name, "all") != 0)
        return name_list_add(list, name);

    static const char *const fixed[] = {"random", "heuristic", "always-cheapest",
                                        "always-strongest"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!name_list_add(list, fixed[i]))
            return false;
    for (int k = 0; k < cat->n_models; k++) {
        char buffer[SR_POLICY_NAME_MAX];
        snprintf(buffer, sizeof(buffer), "always:%s", cat->models[k].name);
        if (!name_list_add(list, buffer))
            return false;
    }
    return name_list_add(list, "oracle");
}

void sr_eval_report_free(sr_eval_report *report)
{
    free(report->rows);
    memset(report, 0, sizeof(*report));
}

/* Checks the request and fills `budgets` with the absolute starting budgets. */
static sr_status resolve_budgets(const sr_eval_request *request, double c_ref, double *budgets,
                                 sr_error *err)
{
    if (request->n_budgets == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget", "no budget given");
    if (request->budgets_are_fractions && !(isfinite(c_ref) && c_ref >= 0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget_frac",
                            "budget fractions need C_ref, the mean cost of an always-most-"
                            "expensive session, but the data gives none (a model lacks "
                            "outcomes); give absolute budgets");
    for (size_t i = 0; i < request->n_budgets; i++) {
        const double value = request->budgets[i];
        if (!isfinite(value) || value < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0,
                                request->budgets_are_fractions ? "budget_frac" : "budget",
                                "budget %g is not a finite number >= 0", value);
        budgets[i] = request->budgets_are_fractions ? value * c_ref : value;
    }
    return SR_OK;
}

sr_status sr_eval_report_build(const sr_dataset *ds, const sr_eval_request *request,
                               sr_eval_report *report, sr_error *err)
{
    name_list names = {0};
    sr_policy **policies = NULL;
    sr_eval_metrics *runs = NULL;
    double *budgets = NULL;
    size_t n_requested = 0;
    sr_status status = SR_OK;

    memset(report, 0, sizeof(*report));
    if (ds->n_sessions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "sessions",
                            "the evaluation data has no sessions");
    status = check_cost_total(ds, err);
    if (status != SR_OK)
        return status;

    /* Names: the request (with "all" expanded), then the comparison policies. */
    for (size_t i = 0; i < request->n_policies; i++)
        if (!add_requested(&names, request->policies[i], &ds->catalogue, request))
            goto nomem;
    n_requested = names.count;
    if (n_requested == 0) {
        status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "policy", "no policy given");
        goto out;
    }
    for (size_t i = 0; i < 3; i++)
        if (!name_list_add(&names, comparison_names[i]))
            goto nomem;

    /* Budgets. */
    report->c_ref = sr_eval_c_ref(ds);
    report->c_ref_model = sr_eval_most_expensive(ds);
    budgets = malloc(request->n_budgets * sizeof(double));
    if (budgets == NULL)
        goto nomem;
    status = resolve_budgets(request, report->c_ref, budgets, err);
    if (status != SR_OK)
        goto out;

    /* Create every policy before running anything, so a typo fails fast. */
    sr_policy_options policy_options = request->policy;
    policy_options.mdp = request->eval.mdp;
    policies = calloc(names.count, sizeof(sr_policy *));
    runs = calloc(names.count, sizeof(sr_eval_metrics));
    report->rows = calloc(n_requested * request->n_budgets, sizeof(sr_eval_metrics));
    if (policies == NULL || runs == NULL || report->rows == NULL)
        goto nomem;
    for (size_t i = 0; i < request->n_lambdas; i++)
        if (!isfinite(request->lambdas[i])) {
            status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda",
                                  "lambda %g is not finite", request->lambdas[i]);
            goto out;
        }
    for (size_t p = 0; p < names.count; p++) {
        policy_options.lambda = isnan(names.lambdas[p]) ? 0.0 : names.lambdas[p];
        status = sr_policy_create(names.names[p], ds, &policy_options, &policies[p], err);
        if (status != SR_OK)
            goto out;
    }

    /* Run every policy at every budget; the comparison runs fill the relative metrics. */
    const size_t cheapest = (size_t)name_list_find(&names, comparison_names[0]);
    const size_t strongest = (size_t)name_list_find(&names, comparison_names[1]);
    const size_t oracle = (size_t)name_list_find(&names, comparison_names[2]);
    for (size_t b = 0; b < request->n_budgets; b++) {
        for (size_t p = 0; p < names.count; p++) {
            status = sr_eval_policy(policies[p], ds, budgets[b], &request->eval, &runs[p], err);
            if (status != SR_OK)
                goto out;
            runs[p].budget_frac = request->budgets_are_fractions ? request->budgets[b] : NAN;
            runs[p].lambda = names.lambdas[p];
        }
        const double min_gain = SR_EVAL_MIN_ORACLE_GAIN * (ds->catalogue.quality_max -
                                                           ds->catalogue.quality_min);
        for (size_t p = 0; p < n_requested; p++) {
            sr_eval_compare(&runs[p], &runs[cheapest], &runs[strongest], &runs[oracle],
                            min_gain);
            report->rows[report->n_rows++] = runs[p];
        }
    }

    report->seed = request->eval.seed;
    report->sessions = ds->n_sessions;
    report->mdp = request->eval.mdp;
    report->heuristic_reserve = request->policy.heuristic_reserve;
    report->heuristic_true_remaining = request->policy.heuristic_true_remaining;
    report->oracle_objective = request->policy.oracle_objective;
    status = SR_OK;
    goto out;

nomem:
    status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
out:
    if (policies != NULL)
        for (size_t p = 0; p < names.count; p++)
            sr_policy_free(policies[p]);
    free(policies);
    free(runs);
    free(budgets);
    name_list_free(&names);
    if (status != SR_OK)
        sr_eval_report_free(report);
    return status;
}

/* ---- JSON output ------------------------------------------------------------------ */

/* A JSON number, or null for NAN and infinities (JSON has no such numbers). */
static json_t *json_number(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *json_pair(const double pair[2])
{
    json_t *array = json_array();
    if (array == NULL)
        return NULL;
    json_array_append_new(array, json_number(pair[0]));
    json_array_append_new(array, json_number(pair[1]));
    return array;
}

static json_t *row_to_json(const sr_eval_metrics *m, const sr_dataset *ds)
{
    json_t *row = json_object();
    json_t *share = json_object();
    if (row == NULL || share == NULL) {
        json_decref(row);
        json_decref(share);
        return NULL;
    }
    for (int k = 0; k < m->n_models; k++)
        json_object_set_new(share, ds->catalogue.models[k].name, json_number(m->model_share[k]));

    json_object_set_new(row, "name", json_string(m->name));
    if (isfinite(m->lambda))
        json_object_set_new(row, "lambda", json_real(m->lambda));
    json_object_set_new(row, "budget", json_number(m->budget));
    if (!isnan(m->budget_frac))
        json_object_set_new(row, "budget_frac", json_number(m->budget_frac));
    json_object_set_new(row, "sessions", json_integer((json_int_t)m->sessions));
    json_object_set_new(row, "mean_cost", json_number(m->mean_cost));
    json_object_set_new(row, "mean_cost_ci", json_pair(m->mean_cost_ci));
    json_object_set_new(row, "bankruptcy_rate", json_number(m->bankruptcy_rate));
    json_object_set_new(row, "bankruptcy_ci", json_pair(m->bankruptcy_ci));
    json_object_set_new(row, "mean_quality", json_number(m->mean_quality));
    json_object_set_new(row, "mean_quality_served", json_number(m->mean_quality_served));
    json_object_set_new(row, "mean_return", json_number(m->mean_return));
    json_object_set_new(row, "model_share", share);
    json_object_set_new(row, "oracle_gap_closed", json_number(m->oracle_gap_closed));
    json_object_set_new(row, "cost_reduction_vs_strongest",
                        json_number(m->cost_reduction_vs_strongest));
    json_object_set_new(row, "p_expensive_slope", json_number(m->p_expensive_slope));
    return row;
}

static json_t *report_to_json(const sr_eval_report *report, const sr_dataset *ds,
                              const char *data_name, const char *reference_name)
{
    json_t *doc = json_object();
    json_t *settings = json_object();
    json_t *rows = json_array();
    if (doc == NULL || settings == NULL || rows == NULL) {
        json_decref(doc);
        json_decref(settings);
        json_decref(rows);
        return NULL;
    }

    json_object_set_new(settings, "eta", json_number(report->mdp.eta));
    json_object_set_new(settings, "bankrupt",
                        json_string(sr_bankrupt_mode_name(report->mdp.bankrupt_mode)));
    if (report->mdp.bankrupt_mode == SR_BANKRUPT_FALLBACK && report->mdp.fallback_model >= 0 &&
        report->mdp.fallback_model < ds->catalogue.n_models)
        json_object_set_new(settings, "fallback_model",
                            json_string(ds->catalogue.models[report->mdp.fallback_model].name));
    json_object_set_new(settings, "reference",
                        reference_name ? json_string(reference_name) : json_null());
    json_object_set_new(settings, "heuristic_reserve", json_number(report->heuristic_reserve));
    json_object_set_new(settings, "heuristic_true_remaining",
                        json_boolean(report->heuristic_true_remaining));
    json_object_set_new(settings, "oracle_objective",
                        json_string(sr_oracle_objective_name(report->oracle_objective)));

    for (size_t i = 0; i < report->n_rows; i++) {
        json_t *row = row_to_json(&report->rows[i], ds);
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            json_decref(doc);
            json_decref(settings);
            json_decref(rows);
            return NULL;
        }
    }

    /* The seed is written as a string when it does not fit a JSON integer exactly. */
    if (report->seed <= (uint64_t)INT64_MAX)
        json_object_set_new(doc, "seed", json_integer((json_int_t)report->seed));
    else {
        char text[32];
        snprintf(text, sizeof(text), "%llu", (unsigned long long)report->seed);
        json_object_set_new(doc, "seed", json_string(text));
    }
    json_object_set_new(doc, "data", json_string(data_name ? data_name : ""));
    json_object_set_new(doc, "sessions", json_integer((json_int_t)report->sessions));
    json_object_set_new(doc, "c_ref", json_number(report->c_ref));
    json_object_set_new(doc, "settings", settings);
    json_object_set_new(doc, "rows", rows);
    return doc;
}

sr_status sr_eval_report_write_json(const sr_eval_report *report, const sr_dataset *ds,
                                    const char *data_name, const char *reference_name, FILE *out,
                                    sr_error *err)
{
    json_t *doc = report_to_json(report, ds, data_name, reference_name);
    if (doc == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory while building the evaluation JSON");

    /* Keys in insertion order, two-space indent, 17 digits so numbers round-trip. */
    const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17);
    int rc = json_dumpf(doc, out, flags);
    json_decref(doc);
    if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0)
        return sr_error_set(err, SR_ERR_IO, NULL, 0, NULL, "failed to write the evaluation JSON");
    return SR_OK;
}
