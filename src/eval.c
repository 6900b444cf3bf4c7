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
#include "seqroute/frontier.h"
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
    double return_mean; /* Welford mean and second moment of per-session return */
    double return_m2;
    double served_quality;
    size_t decisions; /* Welford co-moments of (x, y) for the slope */
    double x_mean;
    double y_mean;
    double x_m2;
    double xy_c;
    size_t bin_decisions[SR_EVAL_BUDGET_BINS];
    size_t bin_expensive[SR_EVAL_BUDGET_BINS];
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

    /* x is a share of the starting budget in [0, 1]; clamp for rounding. */
    int bin = (int)(x * SR_EVAL_BUDGET_BINS);
    if (bin < 0)
        bin = 0;
    if (bin >= SR_EVAL_BUDGET_BINS)
        bin = SR_EVAL_BUDGET_BINS - 1;
    acc->bin_decisions[bin]++;
    if (y > 0.5)
        acc->bin_expensive[bin]++;
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
    const double return_delta = episode_return - acc->return_mean;
    acc->return_mean += return_delta / (double)acc->sessions;
    acc->return_m2 += return_delta * (episode_return - acc->return_mean);
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
    if (acc->sessions >= 2) {
        const double half = SR_EVAL_Z95 * sqrt(acc->return_m2 / (n - 1)) / sqrt(n);
        m->mean_return_ci[0] = m->mean_return - half;
        m->mean_return_ci[1] = m->mean_return + half;
    }

    m->n_models = n_models;
    for (int k = 0; k < n_models; k++)
        m->model_share[k] = m->calls ? (double)acc->calls_by_model[k] / (double)m->calls : NAN;

    m->decisions = acc->decisions;
    if (acc->decisions >= 2 && acc->x_m2 > EVAL_TINY) {
        m->p_expensive_slope = acc->xy_c / acc->x_m2;
        m->p_expensive_intercept = acc->y_mean - m->p_expensive_slope * acc->x_mean;
    }
    for (int b = 0; b < SR_EVAL_BUDGET_BINS; b++) {
        m->budget_bin_decisions[b] = acc->bin_decisions[b];
        m->budget_bin_expensive[b] = acc->bin_expensive[b];
    }
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
    metrics->mean_return_ci[0] = metrics->mean_return_ci[1] = NAN;
    metrics->oracle_gap_closed = NAN;
    metrics->cost_reduction_vs_strongest = NAN;
    metrics->p_expensive_slope = NAN;
    metrics->p_expensive_intercept = NAN;
    metrics->lambda = NAN;
    metrics->reserve = NAN;

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
 * A growable list of owned policy names, each with the λ it runs with and
 * the heuristic reserve (NAN where the setting does not apply) and the
 * family it belongs to, deduplicated on (name, λ, reserve).  Alongside, the
 * families of the requested policies.
 */
typedef struct name_list {
    char **names;
    double *lambdas;
    double *reserves;
    size_t *families;
    size_t count;
    size_t capacity;
    sr_eval_family *family_list;
    size_t n_families;
    size_t family_capacity;
} name_list;

static void name_list_free(name_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->names[i]);
    free(list->names);
    free(list->lambdas);
    free(list->reserves);
    free(list->families);
    free(list->family_list);
    memset(list, 0, sizeof(*list));
}

static bool same_setting(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static ssize_t name_list_find_setting(const name_list *list, const char *name, double lambda,
                                      double reserve)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->names[i], name) == 0 && same_setting(list->lambdas[i], lambda) &&
            same_setting(list->reserves[i], reserve))
            return (ssize_t)i;
    return -1;
}

static ssize_t name_list_find(const name_list *list, const char *name)
{
    return name_list_find_setting(list, name, NAN, NAN);
}

/* Appends a copy of (`name`, `lambda`, `reserve`) in `family` unless it is already listed. */
static bool name_list_add_setting(name_list *list, const char *name, double lambda,
                                  double reserve, size_t family)
{
    if (name_list_find_setting(list, name, lambda, reserve) >= 0)
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
        q = realloc(list->reserves, capacity * sizeof(double));
        if (q == NULL)
            return false;
        list->reserves = q;
        size_t *f = realloc(list->families, capacity * sizeof(size_t));
        if (f == NULL)
            return false;
        list->families = f;
        list->capacity = capacity;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return false;
    list->lambdas[list->count] = lambda;
    list->reserves[list->count] = reserve;
    list->families[list->count] = family;
    list->names[list->count++] = copy;
    return true;
}

/* What name_list_begin_family did. */
typedef enum family_start { FAMILY_NOMEM = -1, FAMILY_DUPLICATE = 0, FAMILY_NEW = 1 } family_start;

/*
 * Starts a family for the requested name `source`, storing its index in
 * `*family`.  A source requested twice is one family, and its
 * configurations are not added again.
 */
static family_start name_list_begin_family(name_list *list, const char *source, int algo,
                                           sr_eval_sweep sweep, size_t *family)
{
    for (size_t i = 0; i < list->n_families; i++)
        if (strcmp(list->family_list[i].source, source) == 0)
            return FAMILY_DUPLICATE;
    if (list->n_families == list->family_capacity) {
        const size_t capacity = list->family_capacity ? 2 * list->family_capacity : 16;
        sr_eval_family *grown = realloc(list->family_list, capacity * sizeof(sr_eval_family));
        if (grown == NULL)
            return FAMILY_NOMEM;
        list->family_list = grown;
        list->family_capacity = capacity;
    }
    sr_eval_family *f = &list->family_list[list->n_families];
    memset(f, 0, sizeof(*f));
    snprintf(f->source, sizeof(f->source), "%s", source);
    f->algo = algo;
    f->sweep = sweep;
    f->seqroute = algo == SR_CQL_ALGO_CQL;
    f->deployable = strcmp(source, "oracle") != 0;
    *family = list->n_families++;
    return FAMILY_NEW;
}

/*
 * Returns the algorithm stored in the policy file that learned-policy name
 * `name` refers to, or -1 when the file cannot be read (creating the policy
 * reports that error).  A behaviour-cloning file is evaluated at λ = 0 only:
 * its outputs are classifier logits, not Q-values, so the rule
 * Q - λ · cost has no meaning for it.
 */
static int learned_algo(const char *name)
{
    char label[16] = "";
    const char *path = sr_qpolicy_parse_name(name, label, sizeof(label));
    sr_qpolicy *qp = NULL;
    if (sr_qpolicy_load(path ? path : name, &qp, NULL) != SR_OK)
        return -1;
    const int algo = (int)qp->algo;
    sr_qpolicy_free(qp);
    return algo;
}

/* Adds one non-learned baseline as a family of its own. */
static bool add_baseline(name_list *list, const char *name, const sr_eval_request *request)
{
    size_t family = 0;
    const bool swept = strcmp(name, "heuristic") == 0 && request->n_reserves > 0;
    const family_start start = name_list_begin_family(
        list, name, -1, swept ? SR_EVAL_SWEEP_RESERVE : SR_EVAL_SWEEP_NONE, &family);
    if (start != FAMILY_NEW)
        return start == FAMILY_DUPLICATE;
    if (!swept)
        return name_list_add_setting(list, name, NAN, NAN, family);
    for (size_t i = 0; i < request->n_reserves; i++)
        if (!name_list_add_setting(list, name, NAN, request->reserves[i], family))
            return false;
    return true;
}

/* Expands "all" into every baseline and the oracle, in table order; learned names once per λ. */
static bool add_requested(name_list *list, const char *name, const sr_catalogue *cat,
                          const sr_eval_request *request)
{
    if (sr_policy_name_is_learned(name)) {
        const int algo = learned_algo(name);
        const bool swept = request->n_lambdas > 0 && algo != SR_CQL_ALGO_BC;
        size_t family = 0;
        const family_start start = name_list_begin_family(
            list, name, algo, swept ? SR_EVAL_SWEEP_LAMBDA : SR_EVAL_SWEEP_NONE, &family);
        if (start != FAMILY_NEW)
            return start == FAMILY_DUPLICATE;
        if (!swept)
            return name_list_add_setting(list, name, 0.0, NAN, family);
        for (size_t i = 0; i < request->n_lambdas; i++)
            if (!name_list_add_setting(list, name, request->lambdas[i], NAN, family))
                return false;
        return true;
    }
    if (strcmp(name, "all") != 0)
        return add_baseline(list, name, request);

    static const char *const fixed[] = {"random", "heuristic", "always-cheapest",
                                        "always-strongest"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!add_baseline(list, fixed[i], request))
            return false;
    for (int k = 0; k < cat->n_models; k++) {
        char buffer[SR_POLICY_NAME_MAX];
        snprintf(buffer, sizeof(buffer), "always:%s", cat->models[k].name);
        if (!add_baseline(list, buffer, request))
            return false;
    }
    return add_baseline(list, "oracle", request);
}

void sr_eval_report_free(sr_eval_report *report)
{
    free(report->rows);
    free(report->families);
    free(report->aiq_ranges);
    free(report->aiq);
    free(report->frontiers);
    free(report->dominance);
    free(report->calibration_json);
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

/* ---- frontier analysis ---------------------------------------------------------- */

static sr_frontier_point row_point(const sr_eval_metrics *row)
{
    return (sr_frontier_point){row->mean_cost, row->mean_quality, row->bankruptcy_rate};
}

/*
 * The frontier analysis of one budget (docs/EVALUATION.md, "Frontiers, AIQ
 * and dominance").  `rows` are the n_requested rows of budget `b`, starting
 * at report->rows[first]; `anchor` is always-cheapest's run at that budget.
 * `points`, `vertices` and `pareto` are scratch arrays of n_requested + 1
 * entries.
 */
static sr_status analyse_budget(sr_eval_report *report, size_t b, size_t first,
                                size_t n_requested, const sr_eval_metrics *anchor,
                                sr_frontier_point *points, size_t *vertices, bool *pareto,
                                sr_error *err)
{
    sr_eval_metrics *rows = &report->rows[first];
    const size_t n_families = report->n_families;
    sr_status status = SR_OK;

    /* The shared cost range: from the anchor to the dearest swept configuration. */
    sr_eval_aiq_range *range = &report->aiq_ranges[b];
    range->lo = anchor->mean_cost;
    range->anchor_quality = anchor->mean_quality;
    range->hi = range->lo;
    for (size_t r = 0; r < n_requested; r++)
        if (report->families[rows[r].family].sweep != SR_EVAL_SWEEP_NONE)
            range->hi = fmax(range->hi, rows[r].mean_cost);

    /* Per family: Pareto flags, hull flags and AIQ with the anchor added. */
    for (size_t f = 0; f < n_families; f++) {
        const sr_eval_family *family = &report->families[f];
        report->aiq[b * n_families + f] = NAN;
        size_t start = 0;
        while (start < n_requested && rows[start].family != f)
            start++;
        size_t count = 0;
        while (start + count < n_requested && rows[start + count].family == f)
            count++;
        if (count == 0 || !family->deployable)
            continue;

        for (size_t i = 0; i < count; i++)
            points[i] = row_point(&rows[start + i]);
        status = sr_frontier_pareto(points, count, pareto, err);
        if (status != SR_OK)
            return status;
        points[count] = row_point(anchor);
        size_t n_vertices = 0;
        status = sr_frontier_envelope(points, count + 1, vertices, &n_vertices, err);
        if (status == SR_OK)
            status = sr_frontier_aiq(points, count + 1, range->lo, range->hi,
                                     &report->aiq[b * n_families + f], err);
        if (status != SR_OK)
            return status;
        for (size_t i = 0; i < count; i++) {
            rows[start + i].pareto = pareto[i];
            rows[start + i].hull = false;
        }
        for (size_t v = 0; v < n_vertices; v++)
            if (vertices[v] < count)
                rows[start + vertices[v]].hull = true;

        if (family->sweep != SR_EVAL_SWEEP_NONE)
            report->frontiers[report->n_frontiers++] = (sr_eval_frontier){
                f, b, first + start, count, report->aiq[b * n_families + f]};
    }

    /* Dominance: every deployable non-SeqRoute row against every SeqRoute family. */
    for (size_t f = 0; f < n_families; f++) {
        if (!report->families[f].seqroute)
            continue;
        size_t count = 0;
        size_t start = 0;
        while (start < n_requested && rows[start].family != f)
            start++;
        while (start + count < n_requested && rows[start + count].family == f)
            count++;
        for (size_t i = 0; i < count; i++)
            points[i] = row_point(&rows[start + i]);
        for (size_t r = 0; r < n_requested; r++) {
            const sr_eval_family *baseline = &report->families[rows[r].family];
            if (baseline->seqroute || !baseline->deployable)
                continue;
            const sr_frontier_point target = row_point(&rows[r]);
            const long match = sr_frontier_cheapest_dominating(points, count, &target);
            report->dominance[report->n_dominance++] = (sr_eval_dominance){
                b, first + r, f, match < 0 ? -1 : (long)(first + start) + match};
        }
    }
    return SR_OK;
}

/* Gives each family the name of its rows, or its request name when another family has it. */
static void name_families(sr_eval_report *report, const name_list *names, sr_policy **policies)
{
    for (size_t p = 0; p < names->count; p++) {
        const size_t f = names->families[p];
        if (f < report->n_families && report->families[f].name[0] == '\0')
            snprintf(report->families[f].name, sizeof(report->families[f].name), "%s",
                     policies[p]->name);
    }
    for (size_t f = 0; f < report->n_families; f++)
        for (size_t g = 0; g < f; g++)
            if (strcmp(report->families[f].name, report->families[g].name) == 0) {
                snprintf(report->families[f].name, sizeof(report->families[f].name), "%s",
                         report->families[f].source);
                break;
            }
}

sr_status sr_eval_report_build(const sr_dataset *ds, const sr_eval_request *request,
                               sr_eval_report *report, sr_error *err)
{
    name_list names = {0};
    sr_policy **policies = NULL;
    sr_eval_metrics *runs = NULL;
    double *budgets = NULL;
    sr_frontier_point *points = NULL;
    size_t *vertices = NULL;
    bool *pareto = NULL;
    size_t n_requested = 0;
    sr_status status = SR_OK;

    memset(report, 0, sizeof(*report));
    if (ds->n_sessions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "sessions",
                            "the evaluation data has no sessions");
    status = check_cost_total(ds, err);
    if (status != SR_OK)
        return status;
    for (size_t i = 0; i < request->n_reserves; i++)
        if (!isfinite(request->reserves[i]) || request->reserves[i] < 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "reserve",
                                "heuristic reserve multiplier %g is not a finite number >= 0",
                                request->reserves[i]);

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
        if (!name_list_add_setting(&names, comparison_names[i], NAN, NAN, SIZE_MAX))
            goto nomem;

    /* Budgets. */
    report->c_ref_given = isfinite(request->c_ref) && request->c_ref > 0;
    report->c_ref = report->c_ref_given ? request->c_ref : sr_eval_c_ref(ds);
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
        policy_options.heuristic_reserve =
            isnan(names.reserves[p]) ? request->policy.heuristic_reserve : names.reserves[p];
        status = sr_policy_create(names.names[p], ds, &policy_options, &policies[p], err);
        if (status != SR_OK)
            goto out;
    }

    /* The families, and room for the frontier analysis. */
    report->n_families = names.n_families;
    report->families = calloc(names.n_families, sizeof(sr_eval_family));
    if (report->families == NULL)
        goto nomem;
    memcpy(report->families, names.family_list, names.n_families * sizeof(sr_eval_family));
    name_families(report, &names, policies);
    report->n_budgets = request->n_budgets;
    report->frontier = request->frontier;
    if (request->frontier) {
        report->aiq_ranges = calloc(request->n_budgets, sizeof(sr_eval_aiq_range));
        report->aiq = calloc(request->n_budgets * names.n_families, sizeof(double));
        report->frontiers = calloc(request->n_budgets * names.n_families, sizeof(sr_eval_frontier));
        report->dominance = calloc(request->n_budgets * n_requested * names.n_families,
                                   sizeof(sr_eval_dominance));
        points = calloc(n_requested + 1, sizeof(sr_frontier_point));
        vertices = calloc(n_requested + 1, sizeof(size_t));
        pareto = calloc(n_requested + 1, sizeof(bool));
        if (report->aiq_ranges == NULL || report->aiq == NULL || report->frontiers == NULL ||
            report->dominance == NULL || points == NULL || vertices == NULL || pareto == NULL)
            goto nomem;
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
            runs[p].reserve = names.reserves[p];
            runs[p].family = names.families[p];
        }
        const double min_gain = SR_EVAL_MIN_ORACLE_GAIN * (ds->catalogue.quality_max -
                                                           ds->catalogue.quality_min);
        const size_t first = report->n_rows;
        for (size_t p = 0; p < n_requested; p++) {
            sr_eval_compare(&runs[p], &runs[cheapest], &runs[strongest], &runs[oracle],
                            min_gain);
            report->rows[report->n_rows++] = runs[p];
        }
        if (request->frontier) {
            status = analyse_budget(report, b, first, n_requested, &runs[cheapest], points,
                                    vertices, pareto, err);
            if (status != SR_OK)
                goto out;
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
    free(points);
    free(vertices);
    free(pareto);
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
    if (isfinite(m->reserve))
        json_object_set_new(row, "reserve", json_real(m->reserve));
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
    json_object_set_new(row, "mean_return_ci", json_pair(m->mean_return_ci));
    json_object_set_new(row, "model_share", share);
    json_object_set_new(row, "oracle_gap_closed", json_number(m->oracle_gap_closed));
    json_object_set_new(row, "cost_reduction_vs_strongest",
                        json_number(m->cost_reduction_vs_strongest));
    json_object_set_new(row, "p_expensive_slope", json_number(m->p_expensive_slope));
    json_object_set_new(row, "p_expensive_intercept", json_number(m->p_expensive_intercept));

    /* The binned curve behind the slope; empty bins are left out. */
    json_t *bins = json_array();
    for (int b = 0; b < SR_EVAL_BUDGET_BINS; b++) {
        size_t n = m->budget_bin_decisions[b];
        if (n == 0)
            continue;
        json_t *bin = json_object();
        json_object_set_new(bin, "budget_frac_mid", json_real((b + 0.5) / SR_EVAL_BUDGET_BINS));
        json_object_set_new(bin, "p", json_real((double)m->budget_bin_expensive[b] / (double)n));
        json_object_set_new(bin, "n", json_integer((json_int_t)n));
        json_array_append_new(bins, bin);
    }
    json_object_set_new(row, "p_expensive_bins", bins);
    return row;
}

/* Adds the swept setting of `row` ("lambda" or "reserve") to `object`, when it has one. */
static void set_sweep_value(json_t *object, const sr_eval_metrics *row)
{
    if (isfinite(row->lambda))
        json_object_set_new(object, "lambda", json_real(row->lambda));
    if (isfinite(row->reserve))
        json_object_set_new(object, "reserve", json_real(row->reserve));
}

/* A point of a frontier or the dominance table: its setting, cost, quality, bankruptcy. */
static json_t *point_to_json(const sr_eval_metrics *row, bool with_name)
{
    json_t *point = json_object();
    if (point == NULL)
        return NULL;
    if (with_name)
        json_object_set_new(point, "name", json_string(row->name));
    set_sweep_value(point, row);
    json_object_set_new(point, "mean_cost", json_number(row->mean_cost));
    json_object_set_new(point, "mean_quality", json_number(row->mean_quality));
    json_object_set_new(point, "bankruptcy_rate", json_number(row->bankruptcy_rate));
    return point;
}

static const char *sweep_name(sr_eval_sweep sweep)
{
    return sweep == SR_EVAL_SWEEP_LAMBDA ? "lambda" : sweep == SR_EVAL_SWEEP_RESERVE ? "reserve"
                                                                                     : "none";
}

static void set_budget(json_t *object, const sr_eval_metrics *row)
{
    json_object_set_new(object, "budget", json_number(row->budget));
    if (!isnan(row->budget_frac))
        json_object_set_new(object, "budget_frac", json_number(row->budget_frac));
}

/* The "frontiers" array of the JSON report. */
static json_t *frontiers_to_json(const sr_eval_report *report)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < report->n_frontiers; i++) {
        const sr_eval_frontier *fr = &report->frontiers[i];
        const sr_eval_family *family = &report->families[fr->family];
        json_t *entry = json_object();
        json_t *points = json_array();
        if (entry == NULL || points == NULL) {
            json_decref(entry);
            json_decref(points);
            json_decref(list);
            return NULL;
        }
        json_object_set_new(entry, "policy", json_string(family->name));
        json_object_set_new(entry, "source", json_string(family->source));
        if (family->algo >= 0)
            json_object_set_new(entry, "algo",
                                json_string(sr_qpolicy_algo_name((sr_cql_algo)family->algo)));
        json_object_set_new(entry, "parameter", json_string(sweep_name(family->sweep)));
        set_budget(entry, &report->rows[fr->first_row]);
        json_object_set_new(entry, "aiq", json_number(fr->aiq));
        for (size_t r = 0; r < fr->n_points; r++) {
            const sr_eval_metrics *row = &report->rows[fr->first_row + r];
            json_t *point = point_to_json(row, false);
            if (point != NULL) {
                json_object_set_new(point, "pareto", json_boolean(row->pareto));
                json_object_set_new(point, "hull", json_boolean(row->hull));
            }
            json_array_append_new(points, point);
        }
        json_object_set_new(entry, "points", points);
        json_array_append_new(list, entry);
    }
    return list;
}

/* The "aiq" object of the JSON report: per budget, the range, the anchor and the values. */
static json_t *aiq_to_json(const sr_eval_report *report)
{
    json_t *doc = json_object();
    json_t *budgets = json_array();
    if (doc == NULL || budgets == NULL) {
        json_decref(doc);
        json_decref(budgets);
        return NULL;
    }
    json_object_set_new(doc, "anchor", json_string("always-cheapest"));
    const size_t per_budget = report->n_budgets ? report->n_rows / report->n_budgets : 0;
    for (size_t b = 0; b < report->n_budgets; b++) {
        const sr_eval_aiq_range *range = &report->aiq_ranges[b];
        json_t *entry = json_object();
        json_t *cost_range = json_array();
        json_t *anchor = json_object();
        json_t *values = json_object();
        if (entry == NULL || cost_range == NULL || anchor == NULL || values == NULL) {
            json_decref(entry);
            json_decref(cost_range);
            json_decref(anchor);
            json_decref(values);
            json_decref(budgets);
            json_decref(doc);
            return NULL;
        }
        set_budget(entry, &report->rows[b * per_budget]);
        json_array_append_new(cost_range, json_number(range->lo));
        json_array_append_new(cost_range, json_number(range->hi));
        json_object_set_new(entry, "cost_range", cost_range);
        json_object_set_new(anchor, "mean_cost", json_number(range->lo));
        json_object_set_new(anchor, "mean_quality", json_number(range->anchor_quality));
        json_object_set_new(entry, "anchor_point", anchor);
        for (size_t f = 0; f < report->n_families; f++)
            if (report->families[f].deployable)
                json_object_set_new(values, report->families[f].name,
                                    json_number(report->aiq[b * report->n_families + f]));
        json_object_set_new(entry, "values", values);
        json_array_append_new(budgets, entry);
    }
    json_object_set_new(doc, "budgets", budgets);
    return doc;
}

/* The "dominance" array of the JSON report. */
static json_t *dominance_to_json(const sr_eval_report *report)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < report->n_dominance; i++) {
        const sr_eval_dominance *d = &report->dominance[i];
        const sr_eval_metrics *baseline = &report->rows[d->baseline_row];
        json_t *entry = json_object();
        if (entry == NULL) {
            json_decref(list);
            return NULL;
        }
        set_budget(entry, baseline);
        json_object_set_new(entry, "baseline", point_to_json(baseline, true));
        json_object_set_new(entry, "seqroute",
                            json_string(report->families[d->seqroute_family].name));
        json_t *match = json_null();
        if (d->match_row >= 0) {
            const sr_eval_metrics *row = &report->rows[d->match_row];
            match = point_to_json(row, false);
            if (match != NULL) {
                json_object_set_new(match, "cost_ratio",
                                    baseline->mean_cost > EVAL_TINY
                                        ? json_real(row->mean_cost / baseline->mean_cost)
                                        : json_null());
                json_object_set_new(match, "dominates",
                                    json_boolean(row->mean_cost <= baseline->mean_cost));
            }
        }
        json_object_set_new(entry, "match", match);
        json_array_append_new(list, entry);
    }
    return list;
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
    json_object_set_new(doc, "cost_unit",
                        json_string(ds->catalogue.cost_unit ? ds->catalogue.cost_unit : "units"));
    json_object_set_new(doc, "settings", settings);
    json_object_set_new(doc, "rows", rows);
    if (report->frontier) {
        json_t *frontiers = frontiers_to_json(report);
        json_t *aiq = aiq_to_json(report);
        json_t *dominance = dominance_to_json(report);
        if (frontiers == NULL || aiq == NULL || dominance == NULL) {
            json_decref(frontiers);
            json_decref(aiq);
            json_decref(dominance);
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(doc, "frontiers", frontiers);
        json_object_set_new(doc, "aiq", aiq);
        json_object_set_new(doc, "dominance", dominance);
    }
    if (report->calibration_json != NULL) {
        json_t *calibration = json_loads(report->calibration_json, 0, NULL);
        if (calibration == NULL) {
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(doc, "calibration", calibration);
    }
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
