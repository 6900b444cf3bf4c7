/*
 * mdp.c - one step of the Session-Budget MDP (rules in seqroute/mdp.h).
 *
 * The step is written as three paragraphs: pick the model that is really
 * called (the fallback replaces an unaffordable request in fallback mode),
 * do the budget bookkeeping, then decide whether and why the episode ends.
 * The bankruptcy test is `budget - cost < 0` on the same doubles the
 * simulator carries forward.  A remaining budget exactly equal to the cost
 * therefore leaves 0 and is not bankrupt.  The oracle repeats the same
 * subtraction, so it reproduces the simulator bit for bit.
 */
#include "seqroute/mdp.h"

#include <math.h>

void sr_mdp_config_default(sr_mdp_config *config)
{
    config->eta = SR_MDP_DEFAULT_ETA;
    config->gamma = SR_MDP_DEFAULT_GAMMA;
    config->horizon = 0;
    config->bankrupt_mode = SR_BANKRUPT_UNSERVED;
    config->fallback_model = -1;
}

sr_status sr_mdp_config_check(const sr_mdp_config *config, const sr_catalogue *catalogue,
                              sr_error *err)
{
    if (!isfinite(config->eta) || config->eta < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "eta",
                            "bankruptcy penalty %g is not a finite number >= 0", config->eta);
    if (!(config->gamma >= 0 && config->gamma <= 1))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "gamma", "discount %g is outside [0, 1]",
                            config->gamma);
    if (config->horizon < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "horizon",
                            "horizon %d is negative; use 0 for no cut", config->horizon);
    if (config->bankrupt_mode != SR_BANKRUPT_UNSERVED &&
        config->bankrupt_mode != SR_BANKRUPT_FALLBACK)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "bankrupt",
                            "unknown bankruptcy treatment %d", (int)config->bankrupt_mode);
    if (config->bankrupt_mode == SR_BANKRUPT_FALLBACK &&
        (config->fallback_model < 0 || config->fallback_model >= catalogue->n_models))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "fallback",
                            "fallback treatment needs a fallback model, but index %d is not "
                            "in the catalogue of %d models; flag one model with "
                            "\"fallback\": true or use the unserved treatment",
                            config->fallback_model, catalogue->n_models);
    return SR_OK;
}

int sr_mdp_find_fallback(const sr_catalogue *catalogue)
{
    for (int k = 0; k < catalogue->n_models; k++)
        if (catalogue->models[k].fallback)
            return k;
    return -1;
}

const char *sr_end_reason_name(sr_end_reason reason)
{
    switch (reason) {
    case SR_END_NONE:
        return "none";
    case SR_END_LAST_TURN:
        return "last_turn";
    case SR_END_BANKRUPT:
        return "bankrupt";
    case SR_END_HORIZON:
        return "horizon";
    }
    return "unknown";
}

const char *sr_bankrupt_mode_name(sr_bankrupt_mode mode)
{
    return mode == SR_BANKRUPT_FALLBACK ? "fallback" : "unserved";
}

/* Returns the present outcome of `model` at global turn `turn`, or fails. */
static sr_status outcome_at(const sr_dataset *ds, const sr_session *s, int t, int model,
                            const sr_outcome **outcome, sr_error *err)
{
    const sr_outcome *o = sr_dataset_outcome(ds, s->first_turn + (size_t)t, model);
    if (!o->present)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "outcomes",
                            "session '%s' turn %d has no outcome for model '%s'; simulation "
                            "needs full-information data for every model a policy can call",
                            s->id, t + 1, ds->catalogue.models[model].name);
    *outcome = o;
    return SR_OK;
}

sr_status sr_mdp_step(const sr_mdp_config *config, const sr_dataset *ds, size_t session, int t,
                      double budget, int action, sr_mdp_step_result *result, sr_error *err)
{
    if (session >= ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "session",
                            "session index %zu is out of range (%zu sessions)", session,
                            ds->n_sessions);
    const sr_session *s = &ds->sessions[session];
    if (t < 0 || t >= s->n_turns)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "turn",
                            "turn index %d is out of range for session '%s' of %d turns", t, s->id,
                            s->n_turns);
    if (action < 0 || action >= ds->catalogue.n_models)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "action",
                            "action %d is not a model index (catalogue has %d models)", action,
                            ds->catalogue.n_models);
    if (!isfinite(budget) || budget < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget",
                            "remaining budget %g is negative or not finite; a bankrupt "
                            "episode takes no further steps",
                            budget);

    /* Which model is called: the request, or the fallback in its place. */
    const sr_outcome *o = NULL;
    sr_status status = outcome_at(ds, s, t, action, &o, err);
    if (status != SR_OK)
        return status;
    int called = action;
    if (config->bankrupt_mode == SR_BANKRUPT_FALLBACK && budget - o->cost < 0 &&
        config->fallback_model != action) {
        called = config->fallback_model;
        status = outcome_at(ds, s, t, called, &o, err);
        if (status != SR_OK)
            return status;
    }

    /* Budget bookkeeping and reward. */
    const double next_budget = budget - o->cost;
    const bool bankrupt = next_budget < 0;
    result->requested = action;
    result->called = called;
    result->replaced = called != action;
    result->quality = o->quality;
    result->cost = o->cost;
    result->budget = next_budget;
    result->bankrupt = bankrupt;
    result->reward = bankrupt ? o->quality - config->eta : o->quality;

    /* End of episode: termination beats the horizon cut. */
    if (bankrupt)
        result->end = SR_END_BANKRUPT;
    else if (t + 1 >= s->n_turns)
        result->end = SR_END_LAST_TURN;
    else if (config->horizon > 0 && t + 1 >= config->horizon)
        result->end = SR_END_HORIZON;
    else
        result->end = SR_END_NONE;
    result->done = result->end != SR_END_NONE;
    result->terminal = result->end == SR_END_BANKRUPT || result->end == SR_END_LAST_TURN;
    return SR_OK;
}
