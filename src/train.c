/*
 * train.c - the training loop: relabelled minibatches, CQL/DQN/BC updates,
 * validation through the simulator, best-checkpoint selection, checkpoints
 * and resume.  The algorithm is described in seqroute/train.h and
 * docs/TRAINING.md.
 *
 * A run owns: the training feature table (one row per global turn), the
 * normalisation constants, the relabeller, the learner, a network holding
 * the best parameters so far, and one minibatch of encoded states.  The
 * policy being validated borrows the learner's online network; the policy
 * that is saved borrows the best network.
 *
 * A checkpoint is a policy file (the online network as its weights) with
 * one extra section, TRAN, holding the settings and the training state.
 *
 * Two variants reuse the same loop and learner.  λ-conditioning draws a λ
 * per transition, appends it to s and s' and relabels the reward with it.
 * The myopic router replaces the relabelled transitions with (turn, model)
 * outcomes and the TD target with the outcome's quality (DQN with every
 * transition terminal and γ = 0: one-step regression).
 */
#include "seqroute/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/eval.h"
#include "seqroute/policy.h"
#include "seqroute/state.h"

/* Layout version of the TRAN section; 2 appended the λ-conditioning settings. */
#define CHECKPOINT_LAYOUT 2

/* Stream index of the sampler's generator, so it differs from other uses of the seed. */
#define SAMPLER_STREAM 0x5452414eu /* "TRAN" */

void sr_train_config_default(sr_train_config *config)
{
    memset(config, 0, sizeof(*config));
    config->algo = SR_CQL_ALGO_CQL;
    config->alpha = 1.0f;         /* the CQL authors' discrete-action weight */
    config->lr = 1e-4f;           /* Adam rate of the method's defaults */
    config->gamma = 0.99f;        /* sessions are a few turns: little is discounted */
    config->tau = 0.0f;           /* hard copies by default */
    config->target_period = 2000; /* hard copy period of the method's defaults */
    config->grad_clip = 0.0f;
    config->batch = 256;
    config->steps = 200000;
    config->hidden_count = 3;
    config->hidden[0] = 512;
    config->hidden[1] = 256;
    config->hidden[2] = 256;
    config->eta = SR_MDP_DEFAULT_ETA;
    config->lambda_conditioned = false;
    config->lambda_max = SR_TRAIN_DEFAULT_LAMBDA_MAX;
    /* Slack over the largest possible |return| for transient overshoot while learning. */
    config->q_bound_factor = 10.0;
    config->threads = 1;
    config->seed = 1;
    config->eval_every = 5000;
    config->patience = 10;
    config->log_every = 1000;
    config->eval_seed = SR_EVAL_DEFAULT_SEED;
    sr_features_config_default(&config->features);
    config->normalise = true;
    /* A floor of 1 centres every feature but never amplifies rare hashed buckets. */
    config->std_floor = 1.0;
    config->state_options = 0;
    config->n_bins = 4;
    config->b_ref = NAN;
    config->t_ref = NAN;
    sr_hbr_options_default(&config->hbr);
}

sr_status sr_train_config_check(const sr_train_config *c, sr_error *err)
{
    const bool myopic = c->algo == SR_QPOLICY_ALGO_MYOPIC;
    if (c->algo != SR_CQL_ALGO_CQL && c->algo != SR_CQL_ALGO_DQN && c->algo != SR_CQL_ALGO_BC &&
        !myopic)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "algo", "unknown algorithm %d",
                            (int)c->algo);
    if (!(c->lambda_max > 0) || !isfinite(c->lambda_max))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda_max",
                            "lambda_max %g is not a finite number > 0", c->lambda_max);
    if (c->lambda_conditioned && (c->algo == SR_CQL_ALGO_BC || myopic))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda_conditioned",
                            "lambda-conditioning needs a Q-learning algorithm (cql or dqn), "
                            "not %s",
                            sr_qpolicy_algo_name(c->algo));
    if (myopic &&
        (c->state_options & (SR_STATE_LOG_BUDGET | SR_STATE_STRONG_CALLS | SR_STATE_BUDGET_BINS)))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "state_options",
                            "the myopic router is budget-blind: it takes no log-budget, "
                            "strong-calls or bins state option (turn is allowed)");
    if ((c->state_options & ~(uint32_t)SR_STATE_ALL_OPTIONS) != 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "state_options",
                            "state options 0x%x include bits the algorithm sets itself",
                            (unsigned)c->state_options);
    if (!(c->alpha >= 0) || !isfinite(c->alpha))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "alpha",
                            "alpha %g is not a finite number >= 0", (double)c->alpha);
    if (!(c->lr > 0) || !isfinite(c->lr))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lr",
                            "learning rate %g is not a finite number > 0", (double)c->lr);
    if (!(c->gamma >= 0 && c->gamma <= 1))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "gamma", "gamma %g is not in [0, 1]",
                            (double)c->gamma);
    if (!(c->tau >= 0 && c->tau <= 1))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "tau", "tau %g is not in [0, 1]",
                            (double)c->tau);
    if (c->target_period < 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "target_period",
                            "target period %d is not >= 1", c->target_period);
    if (!(c->grad_clip >= 0) || !isfinite(c->grad_clip))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "grad_clip",
                            "gradient clip %g is not a finite number >= 0",
                            (double)c->grad_clip);
    if (c->batch < 1 || c->batch > SR_NN_MAX_ROWS / 2)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "batch",
                            "batch %d is out of range; use 1 to %d", c->batch,
                            SR_NN_MAX_ROWS / 2);
    if (c->steps < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "steps", "steps %lld is negative",
                            (long long)c->steps);
    if (c->hidden_count < 0 || c->hidden_count > SR_NN_MAX_HIDDEN)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "hidden",
                            "%d hidden layers is out of range; use 0 to %d", c->hidden_count,
                            SR_NN_MAX_HIDDEN);
    for (int i = 0; i < c->hidden_count; i++)
        if (c->hidden[i] < 1 || c->hidden[i] > SR_NN_MAX_WIDTH)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "hidden",
                                "hidden width %d is out of range; use 1 to %d", c->hidden[i],
                                SR_NN_MAX_WIDTH);
    if (!(c->eta >= 0) || !isfinite(c->eta))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "eta",
                            "eta %g is not a finite number >= 0", c->eta);
    if (!(c->q_bound_factor >= 0) || !isfinite(c->q_bound_factor))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "q_bound_factor",
                            "Q bound factor %g is not a finite number >= 0", c->q_bound_factor);
    if (c->threads < 1 || c->threads > 1024)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "threads",
                            "%d threads is out of range; use 1 to 1024", c->threads);
    if (c->eval_every < 1 || c->log_every < 1)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "eval_every",
                            "validation and report periods must be >= 1 step");
    if (c->patience < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "patience", "patience %d is negative",
                            c->patience);
    if (!(c->std_floor > 0) || !isfinite(c->std_floor))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "std_floor",
                            "std floor %g is not a finite number > 0", c->std_floor);
    if (!isnan(c->b_ref) && !(isfinite(c->b_ref) && c->b_ref > 0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "b_ref",
                            "B_ref %g is not a finite number > 0", c->b_ref);
    if (!isnan(c->t_ref) && !(isfinite(c->t_ref) && c->t_ref > 0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "t_ref",
                            "T_ref %g is not a finite number > 0", c->t_ref);
    if (c->out_path == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "out", "no output path given");
    return sr_features_config_check(&c->features, err);
}

void sr_train_bc_labels(const sr_dataset *ds, const double *mean_quality, int32_t *labels)
{
    const int k_count = ds->catalogue.n_models;
    for (size_t j = 0; j < ds->n_turns; j++) {
        const int logged = ds->turns[j].logged;
        if (logged >= 0 && logged < k_count && sr_dataset_outcome(ds, j, logged)->present) {
            labels[j] = logged;
            continue;
        }
        int best = -1;
        for (int a = 0; a < k_count; a++) {
            const sr_outcome *o = sr_dataset_outcome(ds, j, a);
            if (!o->present)
                continue;
            if (best < 0)
                best = a;
            else {
                const double q_best = sr_dataset_outcome(ds, j, best)->quality;
                if (o->quality > q_best ||
                    (o->quality == q_best && mean_quality[a] > mean_quality[best]))
                    best = a;
            }
        }
        labels[j] = best;
    }
}

/* ---- the run's state ------------------------------------------------------------ */

/* One present (turn, model) outcome, a sample of the myopic router's regression. */
typedef struct train_outcome {
    uint64_t row; /* global turn index, the feature table row */
    int32_t model;
    int32_t t; /* turn index within its session */
} train_outcome;

typedef struct train_run {
    sr_train_config config; /* effective settings (the checkpoint's on resume) */
    double budget_values[SR_HBR_MAX_LEVELS];
    const sr_dataset *train;
    const sr_dataset *val;

    sr_feature_table table;
    float *shift; /* [F] */
    float *scale; /* [F] */
    sr_model_stats stats;
    int32_t *labels; /* BC labels per global turn, or NULL */
    train_outcome *outcomes; /* myopic: every present outcome, or NULL */
    size_t n_outcomes;
    double cost_unit;   /* ĉ_max: the unit of λ's cost term */
    sr_hbr *hbr;
    double c_ref;
    int t_max;
    double *val_budgets;
    int n_val_budgets;

    sr_state_config state;
    int input_dim;
    int n_models;
    int cheapest; /* lowest ĉ */

    sr_cql *learner;
    sr_mlp *best;     /* best parameters so far (max_rows 1) */
    sr_qpolicy *policy; /* borrows a network: the online one to validate, the best to save */

    /* One minibatch. */
    sr_hbr_transition *transitions;
    float *states; /* [2 batch x D]: s rows, then s' rows */
    int32_t *actions;
    float *rewards;
    uint8_t *terminal;
    uint8_t *next_mask;
    double *lambdas; /* the λ of each transition; 0 without λ-conditioning */

    /* Training state that a checkpoint stores. */
    sr_rng rng;
    bool has_best;
    double best_val_return;
    int64_t best_step;
    int evals_without_improvement;
    bool early_stopped;

    /* Window of losses since the last report. */
    double sum_loss, sum_td, sum_cql, sum_q;
    int64_t window;
    sr_train_progress last;
} train_run;

static void run_free(train_run *run)
{
    sr_feature_table_free(&run->table);
    free(run->shift);
    free(run->scale);
    free(run->labels);
    free(run->outcomes);
    sr_hbr_free(run->hbr);
    free(run->val_budgets);
    sr_cql_destroy(run->learner);
    sr_mlp_destroy(run->best);
    sr_qpolicy_free(run->policy);
    free(run->transitions);
    free(run->states);
    free(run->actions);
    free(run->rewards);
    free(run->terminal);
    free(run->next_mask);
    free(run->lambdas);
}

/* Validation budgets: the fixed levels, or log_n log-spaced points of the log-uniform range. */
static sr_status resolve_val_budgets(train_run *run, sr_error *err)
{
    const double *levels = NULL;
    const size_t n = sr_hbr_levels(run->hbr, &levels);
    const int count = n > 0 ? (int)n : sr_hbr_levels_per_session(run->hbr);
    run->val_budgets = malloc((size_t)count * sizeof(double));
    if (run->val_budgets == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    for (int i = 0; i < count; i++) {
        if (n > 0)
            run->val_budgets[i] = levels[i];
        else {
            const double lo = log(run->config.hbr.log_lo);
            const double hi = log(run->config.hbr.log_hi);
            run->val_budgets[i] = exp(lo + (hi - lo) * (i + 0.5) / count);
        }
    }
    run->n_val_budgets = count;
    return SR_OK;
}

/* Builds the in-memory policy: catalogue with ĉ, features, normalisation, state. */
static sr_status build_policy(train_run *run, sr_error *err)
{
    const sr_catalogue *cat = &run->train->catalogue;
    sr_status status = sr_qpolicy_new(run->n_models, &run->state, &run->policy, err);
    if (status != SR_OK)
        return status;
    sr_qpolicy *p = run->policy;
    p->algo = run->config.algo;
    snprintf(p->cost_unit, sizeof(p->cost_unit), "%s", cat->cost_unit ? cat->cost_unit : "");
    for (int k = 0; k < run->n_models; k++) {
        sr_qpolicy_model *m = &p->models[k];
        snprintf(m->name, sizeof(m->name), "%s", cat->models[k].name);
        m->input_price = cat->models[k].input_price;
        m->output_price = cat->models[k].output_price;
        m->cost_per_call = cat->models[k].cost_per_call;
        m->fallback = cat->models[k].fallback;
        m->mean_cost = run->stats.mean_cost[k];
        m->mean_quality = run->stats.mean_quality[k];
    }

    /* Features with the source resolved, so evaluation data must match it. */
    p->features = run->config.features;
    const bool embedding = run->config.features.source == SR_FEATURES_EMBEDDING ||
                           (run->config.features.source == SR_FEATURES_AUTO &&
                            cat->embedding_dim > 0);
    p->features.source = embedding ? SR_FEATURES_EMBEDDING : SR_FEATURES_TEXT;
    p->embedding_dim = embedding ? cat->embedding_dim : 0;
    return sr_qpolicy_set_norm(p, run->shift, run->scale, err);
}

/* Largest realised cost of any present outcome (bounds the λ cost term). */
static double largest_cost(const sr_dataset *ds)
{
    double largest = 0;
    for (size_t j = 0; j < ds->n_turns; j++)
        for (int a = 0; a < ds->catalogue.n_models; a++) {
            const sr_outcome *o = sr_dataset_outcome(ds, j, a);
            if (o->present && o->cost > largest)
                largest = o->cost;
        }
    return largest;
}

/* Myopic router: lists every present (turn, model) outcome, in file order. */
static sr_status collect_outcomes(train_run *run, sr_error *err)
{
    const sr_dataset *ds = run->train;
    const int k_count = run->n_models;
    size_t count = 0;
    for (size_t j = 0; j < ds->n_turns; j++)
        for (int a = 0; a < k_count; a++)
            count += sr_dataset_outcome(ds, j, a)->present;
    if (count == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "outcomes",
                            "the training data has no outcome to learn qualities from");
    run->outcomes = malloc(count * sizeof(train_outcome));
    if (run->outcomes == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for %zu outcomes",
                            count);
    for (size_t i = 0; i < ds->n_sessions; i++)
        for (int t = 0; t < ds->sessions[i].n_turns; t++) {
            const size_t row = ds->sessions[i].first_turn + (size_t)t;
            for (int a = 0; a < k_count; a++)
                if (sr_dataset_outcome(ds, row, a)->present)
                    run->outcomes[run->n_outcomes++] = (train_outcome){row, a, t};
        }
    return SR_OK;
}

/* Sets everything up from the effective settings in run->config. */
static sr_status prepare(train_run *run, sr_error *err)
{
    const sr_train_config *c = &run->config;
    const sr_dataset *train = run->train;
    sr_status status;

    if (train->n_sessions == 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "sessions",
                            "the training data has no sessions");
    run->n_models = train->catalogue.n_models;
    sr_nn_set_threads(c->threads);

    /* Text features need text: without any, every state would look alike and
     * the policy would learn nothing from the turn, silently. */
    const bool text_features =
        c->features.source == SR_FEATURES_TEXT ||
        (c->features.source == SR_FEATURES_AUTO && train->catalogue.embedding_dim == 0);
    if (text_features) {
        size_t with_text = 0;
        for (size_t j = 0; j < train->n_turns && with_text == 0; j++)
            with_text += train->turns[j].text != NULL;
        if (with_text == 0)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "features",
                                "the features are read from turn text, but no turn of the "
                                "training data has text and none has an embedding; import the "
                                "data with its text, or add embeddings");
    }

    /* Features and their normalisation. */
    status = sr_feature_table_build(&c->features, train, &run->table, err);
    if (status == SR_OK)
        status = sr_state_compute_normalisation(run->table.data, run->table.n_rows, run->table.dim,
                                                run->config.normalise, run->config.std_floor,
                                                &run->shift, &run->scale, err);
    if (status == SR_OK)
        status = sr_model_stats_compute(train, &train->catalogue, &run->stats, err);
    if (status != SR_OK)
        return status;

    /* Relabeller; the budget values are copied into the run so the config may not outlive them. */
    sr_hbr_options hbr = c->hbr;
    hbr.mdp.eta = c->eta;
    hbr.mdp.gamma = c->gamma;
    status = sr_hbr_create(train, &hbr, &run->hbr, err);
    if (status != SR_OK)
        return status;
    run->c_ref = sr_hbr_c_ref(run->hbr);
    status = resolve_val_budgets(run, err);
    if (status != SR_OK)
        return status;

    /* State encoder. */
    run->t_max = 1;
    for (size_t i = 0; i < train->n_sessions; i++)
        if (train->sessions[i].n_turns > run->t_max)
            run->t_max = train->sessions[i].n_turns;
    run->cheapest = 0;
    double max_cost = 0;
    for (int k = 0; k < run->n_models; k++) {
        if (run->stats.mean_cost[k] < run->stats.mean_cost[run->cheapest])
            run->cheapest = k;
        max_cost = fmax(max_cost, run->stats.mean_cost[k]);
    }
    memset(&run->state, 0, sizeof(run->state));
    run->state.feature_dim = run->table.dim;
    run->state.b_ref = isnan(c->b_ref) ? sr_hbr_max_budget(run->hbr) : c->b_ref;
    if (isnan(c->b_ref) && !(run->state.b_ref > 0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "b_ref",
                            "every budget level is 0 (as when every cost is 0, so C_ref is 0), "
                            "which leaves the budget input without a scale; give a positive "
                            "budget level or B_ref (--b-ref)");
    run->state.t_ref = isnan(c->t_ref) ? (double)run->t_max : c->t_ref;
    run->state.strong_cost = max_cost;
    run->state.options = c->state_options;
    run->state.n_bins = c->n_bins;
    run->cost_unit = max_cost;
    if (c->algo == SR_QPOLICY_ALGO_MYOPIC)
        run->state.options |= SR_STATE_NO_BUDGET;
    if (c->lambda_conditioned) {
        run->state.options |= SR_STATE_LAMBDA;
        run->state.lambda_max = c->lambda_max;
        if (!(max_cost > 0))
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda_conditioned",
                                "every model's mean cost is 0, so lambda has no cost to "
                                "trade off; train without --lambda-conditioned");
    }
    status = sr_state_config_check(&run->state, err);
    if (status != SR_OK)
        return status;
    run->input_dim = sr_state_dim(&run->state);

    /* BC labels. */
    if (c->algo == SR_CQL_ALGO_BC) {
        run->labels = malloc((train->n_turns ? train->n_turns : 1) * sizeof(int32_t));
        if (run->labels == NULL)
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
        sr_train_bc_labels(train, run->stats.mean_quality, run->labels);
    }
    if (c->algo == SR_QPOLICY_ALGO_MYOPIC) {
        status = collect_outcomes(run, err);
        if (status != SR_OK)
            return status;
    }

    /* Learner and the best-parameters network. */
    sr_mlp_config net;
    memset(&net, 0, sizeof(net));
    net.input_dim = run->input_dim;
    net.hidden_count = c->hidden_count;
    memcpy(net.hidden, c->hidden, sizeof(net.hidden));
    net.output_dim = run->n_models;
    net.max_rows = 1;
    sr_cql_config learner;
    sr_cql_config_default(&learner);
    const bool myopic = c->algo == SR_QPOLICY_ALGO_MYOPIC;
    learner.algo = myopic ? SR_CQL_ALGO_DQN : c->algo;
    learner.alpha = c->alpha;
    learner.gamma = myopic ? 0.0f : c->gamma;
    learner.adam.lr = c->lr;
    learner.grad_clip = c->grad_clip;
    learner.tau = c->tau;
    learner.target_period = c->target_period;
    learner.max_batch = c->batch;
    const double q_max = isfinite(train->catalogue.quality_max) ? train->catalogue.quality_max : 1;
    double bound = run->t_max * fabs(q_max) + c->eta;
    if (c->lambda_conditioned)
        bound += c->lambda_max * run->t_max * largest_cost(train) / max_cost;
    learner.q_bound = (float)(c->q_bound_factor * bound);
    status = sr_cql_create(&net, &learner, c->seed, &run->learner, err);
    if (status == SR_OK)
        status = sr_mlp_create(&net, c->seed, &run->best, err);
    if (status != SR_OK)
        return status;
    sr_mlp_copy_params(run->best, sr_cql_online(run->learner));

    /* Policy shell and the minibatch buffers. */
    status = build_policy(run, err);
    if (status != SR_OK)
        return status;

    /* A validation set the policy cannot run on fails now, not at the first validation. */
    if (run->val != NULL && sr_qpolicy_check_data(run->policy, run->val, NULL, err) != SR_OK) {
        /* The message starts with the policy's placeholder name: keep only what follows. */
        const char *text = err->message;
        const size_t path_length = strlen(err->path);
        if (path_length > 0 && strncmp(text, err->path, path_length) == 0 &&
            strncmp(text + path_length, ": ", 2) == 0)
            text += path_length + 2;
        char reason[SR_ERROR_MESSAGE_MAX];
        snprintf(reason, sizeof(reason), "%s", text);
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "val",
                            "the validation sessions do not fit the trained policy: %s", reason);
    }
    const size_t b = (size_t)c->batch;
    const size_t d = (size_t)run->input_dim;
    run->transitions = malloc(b * sizeof(sr_hbr_transition));
    run->states = calloc(2 * b * d, sizeof(float));
    run->actions = malloc(b * sizeof(int32_t));
    run->rewards = malloc(b * sizeof(float));
    run->terminal = malloc(b);
    run->next_mask = malloc(b * (size_t)run->n_models);
    run->lambdas = malloc(b * sizeof(double));
    if (run->transitions == NULL || run->states == NULL || run->actions == NULL ||
        run->rewards == NULL || run->terminal == NULL || run->next_mask == NULL ||
        run->lambdas == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory for a batch of %d", c->batch);

    sr_rng_seed_stream(&run->rng, c->seed, SAMPLER_STREAM);
    run->best_val_return = NAN;
    return SR_OK;
}

/* ---- training curves ------------------------------------------------------------- */

bool sr_train_curves_write_header(FILE *out)
{
    return fputs(SR_TRAIN_CURVES_HEADER "\n", out) != EOF;
}

/* Writes ",value", or "," alone when the value was not measured. */
static void curves_cell(FILE *out, double value, bool measured)
{
    if (measured && isfinite(value))
        fprintf(out, ",%.9g", value);
    else
        fputc(',', out);
}

bool sr_train_curves_write_row(FILE *out, const sr_train_progress *progress)
{
    fprintf(out, "%lld", (long long)progress->step);
    curves_cell(out, progress->loss, progress->measured);
    curves_cell(out, progress->td, progress->measured);
    curves_cell(out, progress->cql, progress->measured);
    curves_cell(out, progress->mean_q, progress->measured);
    curves_cell(out, progress->val_return, progress->validated);
    curves_cell(out, progress->val_cost, progress->validated);
    curves_cell(out, progress->val_bankruptcy, progress->validated);
    return fputc('\n', out) != EOF && !ferror(out);
}

/* ---- one update ------------------------------------------------------------------ */

double sr_train_sample_lambda(sr_rng *rng, double lambda_max)
{
    const double u = sr_rng_uniform(rng);
    return lambda_max * u * u;
}

double sr_train_lambda_reward(const sr_hbr_transition *transition, double lambda,
                              double cost_unit)
{
    return transition->reward - lambda * transition->cost / cost_unit;
}

/*
 * Myopic router: samples `batch` outcomes uniformly; each is a terminal
 * transition from the feature row (and turn) to the outcome's quality.
 */
static void fill_myopic_batch(train_run *run)
{
    const int n = run->config.batch;
    const size_t d = (size_t)run->input_dim;
    const int k_count = run->n_models;
    const sr_dataset *ds = run->train;
    float *next_states = run->states + (size_t)n * d;

    for (int i = 0; i < n; i++) {
        const train_outcome *pick = &run->outcomes[sr_rng_below(&run->rng, run->n_outcomes)];
        const size_t row = (size_t)pick->row;
        const int model = pick->model;
        const int t = pick->t;
        float *s = run->states + (size_t)i * d;

        sr_state_encode(&run->state, sr_feature_table_row(&run->table, row), run->shift,
                        run->scale, t, 0.0, s);
        memcpy(next_states + (size_t)i * d, s, d * sizeof(float));
        run->actions[i] = model;
        run->rewards[i] = (float)sr_dataset_outcome(ds, row, model)->quality;
        run->terminal[i] = 1;
        run->lambdas[i] = 0.0;
        memset(run->next_mask + (size_t)i * (size_t)k_count, 1, (size_t)k_count);
    }
}

/* Samples and encodes one minibatch into the run's buffers. */
static sr_status fill_batch(train_run *run, sr_error *err)
{
    const int n = run->config.batch;
    const size_t d = (size_t)run->input_dim;
    const int k_count = run->n_models;
    const bool conditioned = run->config.lambda_conditioned;
    float *next_states = run->states + (size_t)n * d;

    if (run->outcomes != NULL) {
        fill_myopic_batch(run);
        return SR_OK;
    }
    sr_status status = sr_hbr_sample(run->hbr, &run->rng, run->transitions, (size_t)n, err);
    if (status != SR_OK)
        return status;

    /* λ per transition, drawn after the batch so the sampler's stream is that of a plain run. */
    for (int i = 0; i < n; i++)
        run->lambdas[i] = conditioned ? sr_train_sample_lambda(&run->rng, run->config.lambda_max)
                                      : 0.0;

    for (int i = 0; i < n; i++) {
        const sr_hbr_transition *tr = &run->transitions[i];
        const bool terminal = (tr->flags & SR_HBR_TERMINAL) != 0;
        const double lambda = run->lambdas[i];
        float *s = run->states + (size_t)i * d;
        float *s_next = next_states + (size_t)i * d;
        uint8_t *mask = run->next_mask + (size_t)i * (size_t)k_count;

        sr_state_encode_lambda(&run->state, sr_feature_table_row(&run->table, tr->row),
                               run->shift, run->scale, tr->t, tr->budget, lambda, s);
        run->actions[i] = run->labels ? run->labels[tr->row] : (int32_t)tr->action;
        run->rewards[i] = conditioned
                              ? (float)sr_train_lambda_reward(tr, lambda, run->cost_unit)
                              : (float)tr->reward;
        run->terminal[i] = terminal ? 1 : 0;

        /* s' (not read when terminal) and the models affordable in it by estimate. */
        if (terminal) {
            memcpy(s_next, s, d * sizeof(float));
            memset(mask, 1, (size_t)k_count);
            continue;
        }
        sr_state_encode_lambda(&run->state, sr_feature_table_row(&run->table, tr->row + 1),
                               run->shift, run->scale, tr->t + 1, tr->next_budget, lambda,
                               s_next);
        int allowed = 0;
        for (int a = 0; a < k_count; a++) {
            mask[a] = run->stats.mean_cost[a] <= tr->next_budget;
            allowed += mask[a];
        }
        if (allowed == 0)
            mask[run->cheapest] = 1;
    }
    if (run->labels != NULL)
        for (int i = 0; i < n; i++)
            if (run->actions[i] < 0)
                return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "labels",
                                    "a sampled turn has no outcome to imitate");
    return SR_OK;
}

/* ---- validation ---------------------------------------------------------------------- */

/* Runs the greedy policy on the validation data at every level; fills the progress fields. */
static sr_status validate(train_run *run, sr_train_progress *progress, sr_error *err)
{
    sr_status status = sr_qpolicy_attach_net(run->policy, sr_cql_online(run->learner), false, err);
    if (status != SR_OK)
        return status;
    sr_policy *policy = NULL;
    status = sr_qpolicy_policy_create(run->policy, false, sr_qpolicy_algo_name(run->config.algo),
                                      0.0, run->val, &policy, err);
    if (status != SR_OK)
        return status;

    sr_eval_options options;
    sr_eval_options_default(&options);
    options.seed = run->config.eval_seed;
    options.mdp.eta = run->config.eta;
    double sum_return = 0, sum_cost = 0, sum_bankrupt = 0;
    for (int i = 0; i < run->n_val_budgets && status == SR_OK; i++) {
        sr_eval_metrics m;
        status = sr_eval_policy(policy, run->val, run->val_budgets[i], &options, &m, err);
        sum_return += m.mean_return;
        sum_cost += m.mean_cost;
        sum_bankrupt += m.bankruptcy_rate;
    }
    sr_policy_free(policy);
    if (status != SR_OK)
        return status;

    progress->validated = true;
    progress->val_return = sum_return / run->n_val_budgets;
    progress->val_cost = sum_cost / run->n_val_budgets;
    progress->val_bankruptcy = sum_bankrupt / run->n_val_budgets;
    return SR_OK;
}

/* Records a validation result: keep the parameters when strictly better. */
static void record_validation(train_run *run, double val_return, int64_t step)
{
    if (!run->has_best || val_return > run->best_val_return) {
        run->has_best = true;
        run->best_val_return = val_return;
        run->best_step = step;
        run->evals_without_improvement = 0;
        sr_mlp_copy_params(run->best, sr_cql_online(run->learner));
    } else {
        run->evals_without_improvement++;
        if (run->config.patience > 0 && run->evals_without_improvement >= run->config.patience)
            run->early_stopped = true;
    }
}

/* ---- settings record and checkpoints --------------------------------------------- */

static json_t *settings_json(const train_run *run, int64_t steps_done)
{
    const sr_train_config *c = &run->config;
    json_t *doc = json_object();
    json_t *hidden = json_array();
    json_t *levels = json_array();
    char options[128];

    for (int i = 0; i < c->hidden_count; i++)
        json_array_append_new(hidden, json_integer(c->hidden[i]));
    for (int i = 0; i < run->n_val_budgets; i++)
        json_array_append_new(levels, json_real(run->val_budgets[i]));
    sr_state_options_format(c->state_options, options, sizeof(options));

    json_object_set_new(doc, "algo", json_string(sr_qpolicy_algo_name(c->algo)));
    json_object_set_new(doc, "train", c->train_name ? json_string(c->train_name) : json_null());
    json_object_set_new(doc, "val", c->val_name ? json_string(c->val_name) : json_null());
    json_object_set_new(doc, "alpha", json_real(c->alpha));
    json_object_set_new(doc, "lr", json_real(c->lr));
    json_object_set_new(doc, "gamma", json_real(c->gamma));
    json_object_set_new(doc, "tau", json_real(c->tau));
    json_object_set_new(doc, "target_period", json_integer(c->target_period));
    json_object_set_new(doc, "grad_clip", json_real(c->grad_clip));
    json_object_set_new(doc, "batch", json_integer(c->batch));
    json_object_set_new(doc, "steps", json_integer((json_int_t)c->steps));
    json_object_set_new(doc, "steps_done", json_integer((json_int_t)steps_done));
    json_object_set_new(doc, "hidden", hidden);
    json_object_set_new(doc, "eta", json_real(c->eta));
    json_object_set_new(doc, "lambda_conditioned", json_boolean(c->lambda_conditioned));
    json_object_set_new(doc, "lambda_max",
                        c->lambda_conditioned ? json_real(c->lambda_max) : json_null());
    json_object_set_new(doc, "lambda_sampling",
                        c->lambda_conditioned ? json_string("lambda_max * u^2") : json_null());
    json_object_set_new(doc, "q_bound_factor", json_real(c->q_bound_factor));
    json_object_set_new(doc, "threads", json_integer(c->threads));
    json_object_set_new(doc, "seed", json_integer((json_int_t)(c->seed & INT64_MAX)));
    json_object_set_new(doc, "eval_every", json_integer((json_int_t)c->eval_every));
    json_object_set_new(doc, "patience", json_integer(c->patience));
    json_object_set_new(doc, "normalise", json_boolean(c->normalise));
    json_object_set_new(doc, "std_floor", json_real(c->std_floor));
    json_object_set_new(doc, "state_options", json_string(options));
    json_object_set_new(doc, "b_ref", json_real(run->state.b_ref));
    json_object_set_new(doc, "t_ref", json_real(run->state.t_ref));
    json_object_set_new(doc, "c_ref", isfinite(run->c_ref) ? json_real(run->c_ref) : json_null());
    json_object_set_new(doc, "budget_levels", levels);
    json_object_set_new(doc, "hbr_dedupe", json_boolean(c->hbr.dedupe));
    json_object_set_new(doc, "hbr_max_enum", json_integer((json_int_t)c->hbr.max_enum));
    json_object_set_new(doc, "hbr_paths", json_integer(c->hbr.n_paths));
    json_object_set_new(doc, "best_step", json_integer((json_int_t)run->best_step));
    json_object_set_new(doc, "best_val_return",
                        isfinite(run->best_val_return) ? json_real(run->best_val_return)
                                                       : json_null());
    json_object_set_new(doc, "early_stopped", json_boolean(run->early_stopped));
    return doc;
}

static sr_status set_settings(train_run *run, int64_t steps_done, sr_error *err)
{
    json_t *doc = settings_json(run, steps_done);
    char *text = doc ? json_dumps(doc, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(doc);
    if (text == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for settings");
    sr_status status = sr_qpolicy_set_settings(run->policy, text, err);
    free(text);
    return status;
}

/* Writes the settings that a resume restores, field by field. */
static void put_config(sr_bytes_writer *w, const sr_train_config *c)
{
    sr_bytes_put_u32(w, (uint32_t)c->algo);
    sr_bytes_put_f32(w, c->alpha);
    sr_bytes_put_f32(w, c->lr);
    sr_bytes_put_f32(w, c->gamma);
    sr_bytes_put_f32(w, c->tau);
    sr_bytes_put_u32(w, (uint32_t)c->target_period);
    sr_bytes_put_f32(w, c->grad_clip);
    sr_bytes_put_u32(w, (uint32_t)c->batch);
    sr_bytes_put_u32(w, (uint32_t)c->hidden_count);
    for (int i = 0; i < SR_NN_MAX_HIDDEN; i++)
        sr_bytes_put_u32(w, (uint32_t)c->hidden[i]);
    sr_bytes_put_f64(w, c->eta);
    sr_bytes_put_f64(w, c->q_bound_factor);
    sr_bytes_put_u64(w, c->seed);
    sr_bytes_put_u64(w, (uint64_t)c->eval_every);
    sr_bytes_put_u32(w, (uint32_t)c->patience);
    sr_bytes_put_u64(w, c->eval_seed);

    const sr_features_config *f = &c->features;
    sr_bytes_put_u32(w, (uint32_t)f->dim);
    sr_bytes_put_u32(w, (uint32_t)f->char_ngram_min);
    sr_bytes_put_u32(w, (uint32_t)f->char_ngram_max);
    sr_bytes_put_u8(w, f->word_bigrams);
    sr_bytes_put_u64(w, (uint64_t)f->max_bytes);
    sr_bytes_put_u32(w, (uint32_t)f->history);
    sr_bytes_put_u32(w, (uint32_t)f->source);
    sr_bytes_put_u64(w, f->seed);
    sr_bytes_put_u8(w, c->normalise);
    sr_bytes_put_f64(w, c->std_floor);
    sr_bytes_put_u32(w, c->state_options);
    sr_bytes_put_u32(w, (uint32_t)c->n_bins);
    sr_bytes_put_f64(w, c->b_ref);
    sr_bytes_put_f64(w, c->t_ref);

    const sr_hbr_options *h = &c->hbr;
    sr_bytes_put_u32(w, (uint32_t)h->budget_mode);
    sr_bytes_put_u32(w, (uint32_t)h->n_budget_values);
    for (size_t i = 0; i < h->n_budget_values; i++)
        sr_bytes_put_f64(w, h->budget_values[i]);
    sr_bytes_put_f64(w, h->log_lo);
    sr_bytes_put_f64(w, h->log_hi);
    sr_bytes_put_u32(w, (uint32_t)h->log_n);
    sr_bytes_put_f64(w, h->c_ref);
    sr_bytes_put_u64(w, h->max_enum);
    sr_bytes_put_u32(w, (uint32_t)h->n_paths);
    for (int i = 0; i < SR_HBR_N_BEHAVIOURS; i++)
        sr_bytes_put_f64(w, h->mixture[i]);
    sr_bytes_put_u8(w, h->dedupe);
    sr_bytes_put_u64(w, h->seed);

    /* Layout 2. */
    sr_bytes_put_u8(w, c->lambda_conditioned);
    sr_bytes_put_f64(w, c->lambda_max);
}

/*
 * Reads what put_config wrote into `c`; budget values go to `values`.
 * Layout 1 lacks the λ settings: it reads as λ-conditioning off.
 */
static void get_config(sr_bytes_reader *r, uint32_t layout, sr_train_config *c, double *values)
{
    c->algo = (sr_cql_algo)sr_bytes_get_u32(r);
    c->alpha = sr_bytes_get_f32(r);
    c->lr = sr_bytes_get_f32(r);
    c->gamma = sr_bytes_get_f32(r);
    c->tau = sr_bytes_get_f32(r);
    c->target_period = (int)sr_bytes_get_u32(r);
    c->grad_clip = sr_bytes_get_f32(r);
    c->batch = (int)sr_bytes_get_u32(r);
    c->hidden_count = (int)sr_bytes_get_u32(r);
    for (int i = 0; i < SR_NN_MAX_HIDDEN; i++)
        c->hidden[i] = (int)sr_bytes_get_u32(r);
    c->eta = sr_bytes_get_f64(r);
    c->q_bound_factor = sr_bytes_get_f64(r);
    c->seed = sr_bytes_get_u64(r);
    c->eval_every = (int64_t)sr_bytes_get_u64(r);
    c->patience = (int)sr_bytes_get_u32(r);
    c->eval_seed = sr_bytes_get_u64(r);

    sr_features_config *f = &c->features;
    f->dim = (int)sr_bytes_get_u32(r);
    f->char_ngram_min = (int)sr_bytes_get_u32(r);
    f->char_ngram_max = (int)sr_bytes_get_u32(r);
    f->word_bigrams = sr_bytes_get_u8(r) != 0;
    f->max_bytes = (size_t)sr_bytes_get_u64(r);
    f->history = (sr_history_mode)sr_bytes_get_u32(r);
    f->source = (sr_features_source)sr_bytes_get_u32(r);
    f->seed = sr_bytes_get_u64(r);
    c->normalise = sr_bytes_get_u8(r) != 0;
    c->std_floor = sr_bytes_get_f64(r);
    c->state_options = sr_bytes_get_u32(r);
    c->n_bins = (int)sr_bytes_get_u32(r);
    c->b_ref = sr_bytes_get_f64(r);
    c->t_ref = sr_bytes_get_f64(r);

    sr_hbr_options *h = &c->hbr;
    h->budget_mode = (sr_hbr_budget_mode)sr_bytes_get_u32(r);
    uint32_t n = sr_bytes_get_u32(r);
    if (n > SR_HBR_MAX_LEVELS) {
        r->failed = true;
        n = 0;
    }
    for (uint32_t i = 0; i < n; i++)
        values[i] = sr_bytes_get_f64(r);
    h->budget_values = n ? values : NULL;
    h->n_budget_values = n;
    h->log_lo = sr_bytes_get_f64(r);
    h->log_hi = sr_bytes_get_f64(r);
    h->log_n = (int)sr_bytes_get_u32(r);
    h->c_ref = sr_bytes_get_f64(r);
    h->max_enum = sr_bytes_get_u64(r);
    h->n_paths = (int)sr_bytes_get_u32(r);
    for (int i = 0; i < SR_HBR_N_BEHAVIOURS; i++)
        h->mixture[i] = sr_bytes_get_f64(r);
    h->dedupe = sr_bytes_get_u8(r) != 0;
    h->seed = sr_bytes_get_u64(r);

    c->lambda_conditioned = false;
    c->lambda_max = SR_TRAIN_DEFAULT_LAMBDA_MAX;
    if (layout >= 2) {
        c->lambda_conditioned = sr_bytes_get_u8(r) != 0;
        c->lambda_max = sr_bytes_get_f64(r);
    }
}

/* Writes the checkpoint: the online network as the policy plus the TRAN section. */
static sr_status save_checkpoint(train_run *run, int64_t step, sr_error *err)
{
    sr_cql *learner = run->learner;
    sr_mlp *online = sr_cql_online(learner);
    sr_mlp *target = sr_cql_target(learner);
    const size_t p = online->param_count;
    sr_bytes_writer w = {0};

    sr_bytes_put_u32(&w, CHECKPOINT_LAYOUT);
    put_config(&w, &run->config);
    sr_bytes_put_u64(&w, (uint64_t)run->train->n_sessions);
    sr_bytes_put_u64(&w, (uint64_t)run->train->n_turns);
    sr_bytes_put_u64(&w, (uint64_t)step);
    for (int i = 0; i < 4; i++)
        sr_bytes_put_u64(&w, run->rng.s[i]);
    sr_bytes_put_u8(&w, run->has_best);
    sr_bytes_put_f64(&w, run->best_val_return);
    sr_bytes_put_u64(&w, (uint64_t)run->best_step);
    sr_bytes_put_u32(&w, (uint32_t)run->evals_without_improvement);
    sr_bytes_put_u8(&w, run->early_stopped);
    sr_bytes_put_u64(&w, (uint64_t)p);
    sr_bytes_put_f32_array(&w, online->adam_m, p);
    sr_bytes_put_f32_array(&w, online->adam_v, p);
    sr_bytes_put_u8(&w, target != NULL);
    if (target != NULL)
        sr_bytes_put_f32_array(&w, target->params, p);
    sr_bytes_put_f32_array(&w, run->best->params, p);
    if (w.failed) {
        sr_bytes_writer_free(&w);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for a checkpoint");
    }

    sr_status status = sr_qpolicy_attach_net(run->policy, online, false, err);
    if (status == SR_OK)
        status = set_settings(run, step, err);
    sr_qpolicy_blob blob = {SR_TRAIN_TAG_CHECKPOINT, 0, w.data, w.size};
    if (status == SR_OK)
        status = sr_qpolicy_save(run->policy, &blob, 1, run->config.checkpoint_path, err);
    sr_bytes_writer_free(&w);
    return status;
}

/*
 * Restores the training state from a checkpoint into a prepared run.  The
 * settings were already taken from it by read_checkpoint_config.
 */
static sr_status restore_checkpoint(train_run *run, const sr_qpolicy *file, int64_t *step,
                                    sr_error *err)
{
    const sr_qpolicy_section *section = sr_qpolicy_find_section(file, SR_TRAIN_TAG_CHECKPOINT);
    sr_bytes_reader r = {section->data, (size_t)section->size, 0, false};
    sr_train_config ignored;
    double values[SR_HBR_MAX_LEVELS];
    sr_mlp *online = sr_cql_online(run->learner);
    sr_mlp *target = sr_cql_target(run->learner);
    const size_t p = online->param_count;

    const uint32_t layout = sr_bytes_get_u32(&r);
    get_config(&r, layout, &ignored, values);
    const uint64_t sessions = sr_bytes_get_u64(&r);
    const uint64_t turns = sr_bytes_get_u64(&r);
    if (sessions != run->train->n_sessions || turns != run->train->n_turns)
        return sr_error_set(err, SR_ERR_INVALID, file->path, 0, NULL,
                            "checkpoint was trained on %llu sessions and %llu turns, but the "
                            "training data has %zu and %zu; resume with the same data",
                            (unsigned long long)sessions, (unsigned long long)turns,
                            run->train->n_sessions, run->train->n_turns);
    *step = (int64_t)sr_bytes_get_u64(&r);
    for (int i = 0; i < 4; i++)
        run->rng.s[i] = sr_bytes_get_u64(&r);
    run->has_best = sr_bytes_get_u8(&r) != 0;
    run->best_val_return = sr_bytes_get_f64(&r);
    run->best_step = (int64_t)sr_bytes_get_u64(&r);
    run->evals_without_improvement = (int)sr_bytes_get_u32(&r);
    run->early_stopped = sr_bytes_get_u8(&r) != 0;
    const uint64_t count = sr_bytes_get_u64(&r);
    if (r.failed || count != p || file->net->param_count != p)
        return sr_error_set(err, SR_ERR_INVALID, file->path, 0, NULL,
                            "checkpoint network has %llu parameters but the settings give %zu; "
                            "the checkpoint is damaged",
                            (unsigned long long)count, p);
    memcpy(online->params, file->net->params, p * sizeof(float));
    sr_bytes_get_f32_array(&r, online->adam_m, p);
    sr_bytes_get_f32_array(&r, online->adam_v, p);
    const bool has_target = sr_bytes_get_u8(&r) != 0;
    if (has_target != (target != NULL))
        r.failed = true;
    if (target != NULL)
        sr_bytes_get_f32_array(&r, target->params, p);
    sr_bytes_get_f32_array(&r, run->best->params, p);
    if (r.failed || r.pos != r.size)
        return sr_error_set(err, SR_ERR_INVALID, file->path, 0, NULL,
                            "checkpoint training state does not have the expected layout");
    sr_cql_set_step_count(run->learner, *step);
    return SR_OK;
}

/* Loads a checkpoint and replaces the run's settings with the stored ones. */
static sr_status read_checkpoint_config(train_run *run, const char *path, sr_qpolicy **file,
                                        sr_error *err)
{
    sr_status status = sr_qpolicy_load(path, file, err);
    if (status != SR_OK)
        return status;
    const sr_qpolicy_section *section = sr_qpolicy_find_section(*file, SR_TRAIN_TAG_CHECKPOINT);
    if (section == NULL)
        return sr_error_set(err, SR_ERR_INVALID, path, 0, NULL,
                            "file is a policy without training state, not a checkpoint; resume "
                            "from the file written by --checkpoint");
    sr_bytes_reader r = {section->data, (size_t)section->size, 0, false};
    const uint32_t layout = sr_bytes_get_u32(&r);
    if (layout < 1 || layout > CHECKPOINT_LAYOUT)
        return sr_error_set(err, SR_ERR_INVALID, path, 0, NULL,
                            "checkpoint training state has layout %u; this build reads 1 to %d",
                            layout, CHECKPOINT_LAYOUT);

    /* Settings from the file; the caller's steps, threads, outputs and callbacks stay. */
    sr_train_config stored = run->config;
    get_config(&r, layout, &stored, run->budget_values);
    if (r.failed)
        return sr_error_set(err, SR_ERR_INVALID, path, 0, NULL,
                            "checkpoint settings are truncated");
    run->config = stored;
    return sr_train_config_check(&run->config, err);
}

/* ---- the loop ---------------------------------------------------------------------- */

static void report(train_run *run, int64_t step, sr_train_progress *progress)
{
    progress->step = step;
    progress->steps = run->config.steps;
    progress->measured = run->window > 0;
    if (run->window > 0) {
        progress->loss = run->sum_loss / (double)run->window;
        progress->td = run->sum_td / (double)run->window;
        progress->cql = run->sum_cql / (double)run->window;
        progress->mean_q = run->sum_q / (double)run->window;
        /* The myopic router's update computes the CQL term but does not optimise it. */
        if (run->config.algo == SR_QPOLICY_ALGO_MYOPIC)
            progress->cql = NAN;
    }
    progress->best_val_return = run->has_best ? run->best_val_return : NAN;
    progress->best_step = run->best_step;
    run->last = *progress;
    run->sum_loss = run->sum_td = run->sum_cql = run->sum_q = 0;
    run->window = 0;
    if (run->config.progress != NULL)
        run->config.progress(progress, run->config.progress_data);
}

static sr_status train_loop(train_run *run, int64_t step, sr_error *err)
{
    const sr_train_config *c = &run->config;
    sr_status status = SR_OK;

    while (step < c->steps && !run->early_stopped) {
        status = fill_batch(run, err);
        if (status != SR_OK)
            return status;
        if (c->batch_hook != NULL)
            c->batch_hook(step + 1, run->rewards, run->terminal, c->batch, c->hook_data);

        const size_t half = (size_t)c->batch * (size_t)run->input_dim;
        const sr_cql_batch batch = {c->batch,      run->states,   run->actions,
                                    run->rewards,  run->states + half, run->terminal,
                                    NULL,          run->next_mask};
        sr_cql_stats stats;
        sr_error inner;
        sr_error_clear(&inner);
        status = sr_cql_update(run->learner, &batch, &stats, &inner);
        if (status != SR_OK) {
            sr_log(SR_LOG_ERROR, "train_guard step=%lld reason=\"%s\"", (long long)(step + 1),
                   inner.message);
            return sr_error_set(err, status, NULL, 0, inner.field,
                                "training stopped at step %lld: %s", (long long)(step + 1),
                                inner.message);
        }
        step++;
        run->sum_loss += stats.loss.total;
        run->sum_td += stats.loss.td;
        run->sum_cql += stats.loss.cql;
        run->sum_q += stats.mean_q;
        run->window++;

        /* Validation, then the checkpoint that records it. */
        sr_train_progress progress;
        memset(&progress, 0, sizeof(progress));
        progress.val_return = progress.val_cost = progress.val_bankruptcy = NAN;
        const bool validating = run->val != NULL && step % c->eval_every == 0;
        if (validating) {
            status = validate(run, &progress, err);
            if (status != SR_OK)
                return status;
            record_validation(run, progress.val_return, step);
            if (c->checkpoint_path != NULL) {
                status = save_checkpoint(run, step, err);
                if (status != SR_OK)
                    return status;
            }
        }
        if (validating || step % c->log_every == 0 || step == c->steps)
            report(run, step, &progress);
    }
    return SR_OK;
}

sr_status sr_train_run(const sr_dataset *train, const sr_dataset *val,
                       const sr_train_config *config, const char *resume_path,
                       sr_train_result *result, sr_error *err)
{
    train_run *run = calloc(1, sizeof(*run));
    sr_qpolicy *file = NULL;
    int64_t step = 0;
    if (run == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    memset(result, 0, sizeof(*result));

    /* Effective settings: the caller's, or the checkpoint's with the caller's run controls. */
    run->config = *config;
    run->train = train;
    run->val = val != NULL && val->n_sessions > 0 ? val : NULL;
    sr_status status = sr_train_config_check(&run->config, err);
    if (status == SR_OK && resume_path != NULL)
        status = read_checkpoint_config(run, resume_path, &file, err);
    if (status == SR_OK && resume_path == NULL) {
        const size_t n = config->hbr.n_budget_values;
        if (n > SR_HBR_MAX_LEVELS)
            status = sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budgets",
                                  "%zu budget levels is more than the limit of %d", n,
                                  SR_HBR_MAX_LEVELS);
        else if (n > 0) {
            memcpy(run->budget_values, config->hbr.budget_values, n * sizeof(double));
            run->config.hbr.budget_values = run->budget_values;
        }
    }

    /* Set up, restore, train. */
    if (status == SR_OK)
        status = prepare(run, err);
    if (status == SR_OK && file != NULL)
        status = restore_checkpoint(run, file, &step, err);
    if (status == SR_OK) {
        sr_log(SR_LOG_INFO,
               "train_start algo=%s sessions=%zu turns=%zu inputs=%d b_ref=%.6g t_ref=%g "
               "step=%lld steps=%lld",
               sr_qpolicy_algo_name(run->config.algo), train->n_sessions, train->n_turns,
               run->input_dim, run->state.b_ref, run->state.t_ref, (long long)step,
               (long long)run->config.steps);
        status = train_loop(run, step, err);
    }
    const int64_t steps_done = run->learner ? sr_cql_step_count(run->learner) : 0;

    /* The final checkpoint records the state before any end-of-run validation. */
    if (status == SR_OK && run->config.checkpoint_path != NULL)
        status = save_checkpoint(run, steps_done, err);

    /* Without any validation so far, validate once at the end; without data, keep the last. */
    if (status == SR_OK && run->val != NULL && !run->has_best) {
        sr_train_progress progress;
        memset(&progress, 0, sizeof(progress));
        status = validate(run, &progress, err);
        if (status == SR_OK) {
            record_validation(run, progress.val_return, steps_done);
            report(run, steps_done, &progress);
        }
    }
    if (status == SR_OK && run->val == NULL) {
        sr_mlp_copy_params(run->best, sr_cql_online(run->learner));
        run->best_step = steps_done;
        /* A resumed checkpoint's best return measured other parameters: drop it. */
        run->has_best = false;
        run->best_val_return = NAN;
    }

    /* The policy file gets the best parameters. */
    if (status == SR_OK)
        status = sr_qpolicy_attach_net(run->policy, run->best, false, err);
    if (status == SR_OK)
        status = set_settings(run, steps_done, err);
    if (status == SR_OK)
        status = sr_qpolicy_save(run->policy, NULL, 0, run->config.out_path, err);
    if (status == SR_OK) {
        result->steps = steps_done;
        result->best_step = run->best_step;
        result->best_val_return = run->has_best ? run->best_val_return : NAN;
        result->early_stopped = run->early_stopped;
        result->b_ref = run->state.b_ref;
        result->t_ref = run->state.t_ref;
        result->input_dim = run->input_dim;
        sr_log(SR_LOG_INFO, "train_done steps=%lld best_step=%lld best_val_return=%.6g out=%s",
               (long long)steps_done, (long long)run->best_step, result->best_val_return,
               run->config.out_path);
    }

    sr_qpolicy_free(file);
    run_free(run);
    free(run);
    return status;
}
