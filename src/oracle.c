/*
 * oracle.c - the hindsight oracle: the best action sequence of one session
 * with full knowledge of every outcome, by exact dynamic programming.
 *
 * Two objectives (seqroute/policy.h).  The quality objective maximises the
 * served quality S, the quantity eval.c sums into mean_quality: the
 * qualities of the calls made within budget, with the bankrupt call and the
 * turns after it counting 0.  Ties go to the higher return R, then to more
 * budget left.  The return objective maximises R (q - eta on the bankrupt
 * call), ties to more budget left.  A return-maximising plan is not an
 * upper bound on served quality, because a plan that serves a good call and
 * then goes bankrupt can serve more than any affordable plan while its
 * return is lower by eta.
 *
 * The DP walks the turns forward.  A state after turn t is (remaining budget
 * b, quality sum q) with a back-pointer; before any bankruptcy the quality
 * sum is both S and R so far, so the states are the same for both
 * objectives and only the scoring of endings differs.  Each state expands
 * into one child per model; a child whose call overspends (b - c < 0) is a
 * bankrupt ending, scored at once with S = q and R = q + q_t(a) - eta; a
 * child at the last turn is a finished ending with S = R = q + q_t(a).  The
 * other children form the next layer, which is pruned: a state is dropped
 * when another has at least as much budget left and at least as much
 * quality plus a margin m (below).
 *
 * Why pruning is exact.  Take states s1 = (b1, q1) and s2 = (b2, q2) after
 * turn t with b1 >= b2, and let m be the suffix sum, over turns after t, of
 * max(0, -min_a q_i(a)); m = 0 when the remaining qualities are
 * non-negative.  Whatever s2 does next, s1 can make the same calls: every
 * call that fits b2 fits b1, and floating-point subtraction is monotone, so
 * s1 keeps at least as much budget at every later turn and gains the same
 * qualities.  In the fallback treatment an unaffordable request becomes a
 * fallback call, so s1 repeats s2's actual calls rather than its requests.
 * The only place s1 can do worse is a turn k where s2 goes bankrupt: s1 may
 * be able to afford that call and must then continue.
 *
 * - Return objective.  s2 earns q_k - eta at k.  s1 earns q_k there and,
 *   after it, either finishes or pays eta once, as s2 did, having taken
 *   qualities no worse than each later turn's minimum.  So s1 loses at most
 *   m, and s2 is dominated when q1 >= q2 + m.
 * - Quality objective.  s2's ending is worth S2 = q2 + (the qualities it
 *   served before k), and its return is R2 = S2 + q_k - eta; the bankrupt
 *   call counts 0 in S.  s1 serves q_k instead, then takes any
 *   continuation: each later turn is served (at least that turn's minimum
 *   quality) until the continuation finishes or goes bankrupt at a turn j.
 *   Since m >= max(0, -q_k) plus the negative parts of the later turns'
 *   minima, s1's ending has S >= S2 + (q1 - q2 - m) + max(0, q_k) + (the
 *   negative parts of the minima at turns j and later).  So q1 >= q2 + m
 *   keeps the best S.  When S ties S2, every term is 0: q_k <= 0 and no
 *   quality at j or later is negative.  Then s1's return is S if it
 *   finishes, or S + q_j - eta with q_j >= 0 if it goes bankrupt at j, and
 *   either is at least R2 = S + q_k - eta.  In the other cases s1 repeats
 *   s2's ending and S and R both grow by q1 - q2.  So the same pruning keeps
 *   the best (S, R) pair exactly, up to the rounding of the sums.
 *
 * Third key.  Lower cost on ties is exact for the return objective when
 * every quality is positive and eta > 0, and for the quality objective when
 * every quality is positive: then s1 affording s2's bankrupt call serves
 * strictly more, and the only tied endings repeat s2's calls with more
 * budget left.  With zero qualities (binary correctness data) or eta = 0 a
 * pruned state can reach a tied ending more cheaply through a bankruptcy,
 * and a dearer plan of equal value may be returned.  The objective, and for
 * the quality objective the return among plans of maximal S, stay exact.
 *
 * The DP repeats the simulator's arithmetic (b - c, then q sums in turn
 * order, q - eta on the bankrupt call), so the returned return and served
 * quality equal, bit for bit, what a replay of the plan through sr_mdp_step
 * adds up.
 */
#include "seqroute/policy.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One DP state with its back-pointer into the node store. */
typedef struct oracle_node {
    double budget;  /* remaining budget after the call */
    double quality; /* sum of qualities so far: S and R alike, as no call overspent yet */
    int32_t parent; /* node index of the previous state, -1 for the root */
    int32_t action; /* model requested at this state's turn, -1 for the root */
    uint32_t order; /* generation order, the last sort key, for determinism */
} oracle_node;

/* The best ending seen so far. */
typedef struct oracle_best {
    sr_oracle_objective objective;
    bool found;
    double served; /* served quality S of the ending */
    double value;  /* return R of the ending */
    double budget; /* remaining budget at the end; higher means cheaper */
    int32_t parent;
    int32_t action;
    int turn; /* turn of the last call */
    bool bankrupt;
} oracle_best;

typedef struct node_vec {
    oracle_node *items;
    size_t count;
    size_t capacity;
} node_vec;

static bool node_vec_reserve(node_vec *v, size_t needed)
{
    if (needed <= v->capacity)
        return true;
    size_t capacity = v->capacity ? v->capacity : 64;
    while (capacity < needed)
        capacity *= 2;
    oracle_node *p = realloc(v->items, capacity * sizeof(*p));
    if (p == NULL)
        return false;
    v->items = p;
    v->capacity = capacity;
    return true;
}

/* Orders by budget descending, then quality descending, then generation. */
static int compare_nodes(const void *a, const void *b)
{
    const oracle_node *x = a;
    const oracle_node *y = b;
    if (x->budget != y->budget)
        return x->budget > y->budget ? -1 : 1;
    if (x->quality != y->quality)
        return x->quality > y->quality ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

/* Returns true when the ending (served, value, budget) beats `best` under its objective. */
static bool ending_beats(const oracle_best *best, double served, double value, double budget)
{
    if (!best->found)
        return true;
    if (best->objective == SR_ORACLE_QUALITY && served != best->served)
        return served > best->served;
    if (value != best->value)
        return value > best->value;
    return budget > best->budget;
}

/* Records an ending when it beats the best.  The file comment discusses the tie rules. */
static void offer_ending(oracle_best *best, double served, double value, double budget,
                         int32_t parent, int32_t action, int turn, bool bankrupt)
{
    if (!ending_beats(best, served, value, budget))
        return;
    best->found = true;
    best->served = served;
    best->value = value;
    best->budget = budget;
    best->parent = parent;
    best->action = action;
    best->turn = turn;
    best->bankrupt = bankrupt;
}

/*
 * Expands the layer store->items[first .. first + width) for turn t into
 * `children`, scoring bankrupt and final endings in `best`.
 */
static sr_status expand_layer(const sr_mdp_config *config, const sr_dataset *ds,
                              const sr_session *s, int t, const node_vec *store, size_t first,
                              size_t width, node_vec *children, oracle_best *best, sr_error *err)
{
    const int n_models = ds->catalogue.n_models;
    const size_t turn = s->first_turn + (size_t)t;
    const bool last = t + 1 == s->n_turns;
    const bool fallback_mode = config->bankrupt_mode == SR_BANKRUPT_FALLBACK;

    children->count = 0;
    if (width > SR_ORACLE_MAX_STATES / (size_t)n_models)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "oracle: session '%s' turn %d needs more than %u states; the "
                            "session is too long or its costs too varied for exact planning",
                            s->id, t + 1, SR_ORACLE_MAX_STATES);
    if (!node_vec_reserve(children, width * (size_t)n_models))
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "oracle: out of memory");

    for (size_t i = 0; i < width; i++) {
        const oracle_node *node = &store->items[first + i];
        for (int a = 0; a < n_models; a++) {
            const sr_outcome *o = sr_dataset_outcome(ds, turn, a);
            if (!o->present)
                continue;
            const double left = node->budget - o->cost;

            /* In fallback mode an unaffordable request is a fallback call, planned as such. */
            if (left < 0 && fallback_mode && a != config->fallback_model)
                continue;

            /* A bankrupt call is not served: S stays the prefix's, R pays eta. */
            if (left < 0) {
                offer_ending(best, node->quality, node->quality + (o->quality - config->eta), left,
                             (int32_t)(first + i), a, t, true);
                continue;
            }
            if (last) {
                const double total = node->quality + o->quality;
                offer_ending(best, total, total, left, (int32_t)(first + i), a, t, false);
                continue;
            }
            oracle_node *child = &children->items[children->count];
            child->budget = left;
            child->quality = node->quality + o->quality;
            child->parent = (int32_t)(first + i);
            child->action = a;
            child->order = (uint32_t)children->count;
            children->count++;
        }
    }
    return SR_OK;
}

/*
 * Appends the Pareto set of `children` (with quality margin `margin`) to the
 * store.  Sorting by budget descending leaves a state dominated exactly when
 * an earlier one has quality >= its quality + margin.  The rule is the same
 * for both objectives (see the file comment).
 */
static sr_status prune_into(node_vec *children, double margin, node_vec *store, sr_error *err)
{
    qsort(children->items, children->count, sizeof(oracle_node), compare_nodes);

    double best_quality = -INFINITY;
    for (size_t i = 0; i < children->count; i++) {
        const oracle_node *c = &children->items[i];
        if (best_quality >= c->quality + margin)
            continue;
        if (c->quality > best_quality)
            best_quality = c->quality;
        if (store->count >= INT32_MAX || !node_vec_reserve(store, store->count + 1))
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "oracle: out of memory");
        store->items[store->count++] = *c;
    }
    return SR_OK;
}

/* Fills margins[t] = sum over turns i >= t of max(0, -min_a q_i(a)); margins[T] = 0. */
static void compute_margins(const sr_dataset *ds, const sr_session *s, double *margins)
{
    const int n_models = ds->catalogue.n_models;
    margins[s->n_turns] = 0;
    for (int t = s->n_turns - 1; t >= 0; t--) {
        double lowest = 0;
        for (int a = 0; a < n_models; a++) {
            const sr_outcome *o = sr_dataset_outcome(ds, s->first_turn + (size_t)t, a);
            if (o->present && o->quality < lowest)
                lowest = o->quality;
        }
        margins[t] = margins[t + 1] - lowest;
    }
}

static sr_status check_arguments(const sr_mdp_config *config, sr_oracle_objective objective,
                                 const sr_dataset *ds, size_t session, double budget, sr_error *err)
{
    if (objective != SR_ORACLE_QUALITY && objective != SR_ORACLE_RETURN)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "oracle_objective",
                            "oracle: unknown objective %d; use quality or return", (int)objective);
    if (session >= ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "session",
                            "oracle: session index %zu is out of range (%zu sessions)", session,
                            ds->n_sessions);
    if (!isfinite(budget) || budget < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget",
                            "oracle: starting budget %g is not a finite number >= 0", budget);
    if (config->horizon != 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "horizon",
                            "oracle: plans whole sessions, so the horizon must be 0 (got %d)",
                            config->horizon);
    sr_status status = sr_mdp_config_check(config, &ds->catalogue, err);
    if (status != SR_OK)
        return status;

    const sr_session *s = &ds->sessions[session];
    for (int t = 0; t < s->n_turns; t++) {
        bool any = false;
        for (int a = 0; a < ds->catalogue.n_models && !any; a++)
            any = sr_dataset_outcome(ds, s->first_turn + (size_t)t, a)->present;
        if (!any)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "outcomes",
                                "oracle: session '%s' turn %d has no outcome for any model", s->id,
                                t + 1);
    }
    return SR_OK;
}

const char *sr_oracle_objective_name(sr_oracle_objective objective)
{
    switch (objective) {
    case SR_ORACLE_QUALITY:
        return "quality";
    case SR_ORACLE_RETURN:
        return "return";
    }
    return "unknown";
}

bool sr_oracle_objective_parse(const char *text, sr_oracle_objective *objective)
{
    if (text == NULL)
        return false;
    if (strcmp(text, "quality") == 0)
        *objective = SR_ORACLE_QUALITY;
    else if (strcmp(text, "return") == 0)
        *objective = SR_ORACLE_RETURN;
    else
        return false;
    return true;
}

sr_status sr_oracle_solve(const sr_mdp_config *config, const sr_dataset *ds, size_t session,
                          double budget, int *actions, sr_oracle_plan *plan, sr_error *err)
{
    return sr_oracle_solve_objective(config, SR_ORACLE_QUALITY, ds, session, budget, actions, plan,
                                     err);
}

sr_status sr_oracle_solve_objective(const sr_mdp_config *config, sr_oracle_objective objective,
                                    const sr_dataset *ds, size_t session, double budget,
                                    int *actions, sr_oracle_plan *plan, sr_error *err)
{
    sr_status status = check_arguments(config, objective, ds, session, budget, err);
    if (status != SR_OK)
        return status;

    const sr_session *s = &ds->sessions[session];
    node_vec store = {0};
    node_vec children = {0};
    oracle_best best = {.objective = objective};
    double *margins = malloc(((size_t)s->n_turns + 1) * sizeof(double));
    if (margins == NULL || !node_vec_reserve(&store, 64)) {
        status = sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "oracle: out of memory");
        goto out;
    }
    compute_margins(ds, s, margins);

    /* Forward pass: layer t contains the Pareto states before the call of turn t. */
    store.items[0] = (oracle_node){budget, 0.0, -1, -1, 0};
    store.count = 1;
    size_t first = 0;
    size_t width = 1;
    for (int t = 0; t < s->n_turns && width > 0; t++) {
        status = expand_layer(config, ds, s, t, &store, first, width, &children, &best, err);
        if (status != SR_OK)
            goto out;
        if (t + 1 == s->n_turns)
            break;
        size_t next_first = store.count;
        status = prune_into(&children, margins[t + 1], &store, err);
        if (status != SR_OK)
            goto out;
        first = next_first;
        width = store.count - next_first;
    }
    if (!best.found) {
        status = sr_error_set(err, SR_ERR_INTERNAL, NULL, 0, NULL,
                              "oracle: no ending found for session '%s'", s->id);
        goto out;
    }

    /* Backward pass: follow the parents from the best ending. */
    for (int t = 0; t < s->n_turns; t++)
        actions[t] = -1;
    actions[best.turn] = best.action;
    int t = best.turn - 1;
    for (int32_t node = best.parent; node > 0; node = store.items[node].parent)
        actions[t--] = store.items[node].action;

    double spent = 0;
    for (int i = 0; i <= best.turn; i++)
        spent += sr_dataset_outcome(ds, s->first_turn + (size_t)i, actions[i])->cost;
    plan->value = best.value;
    plan->served_quality = best.served;
    plan->spent = spent;
    plan->bankrupt = best.bankrupt;
    plan->n_actions = best.turn + 1;
    status = SR_OK;

out:
    free(margins);
    free(store.items);
    free(children.items);
    return status;
}
