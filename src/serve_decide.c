/*
 * serve_decide.c - one explained route decision: features of the turn, the
 * policy's decision, the reservation mask, and its JSON form.
 *
 * The policy's own decision masks a model whose mean cost ĉ(a) exceeds the
 * remaining budget.  The service must also be able to reserve the chosen
 * model's worst-case cost, so a second mask drops every model whose
 * reservation exceeds the remaining budget.  The choice is then the best λ
 * score among models that pass both masks; when the λ rule's favourite is
 * masked the result is degraded, and when nothing passes it is refused.
 * Refusing instead of naming the cheapest model (as the simulator does) is
 * what keeps a ledger from overspending.
 */
#include "seqroute/serve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqroute/features.h"

void sr_reserve_config_default(sr_reserve_config *config)
{
    config->rule = SR_RESERVE_MEAN;
    config->factor = SR_RESERVE_DEFAULT_FACTOR;
    config->max_output_tokens = 0;
}

sr_status sr_reserve_parse(const char *text, sr_reserve_config *config, sr_error *err)
{
    sr_reserve_config parsed;
    sr_reserve_config_default(&parsed);
    const char *value = NULL;
    if (strncmp(text, "mean:", 5) == 0) {
        parsed.rule = SR_RESERVE_MEAN;
        value = text + 5;
    } else if (strncmp(text, "tokens:", 7) == 0) {
        parsed.rule = SR_RESERVE_TOKENS;
        value = text + 7;
    } else {
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "reserve",
                            "reservation rule '%s' is unknown; use mean:F (F times the mean cost "
                            "per turn, F >= 1) or tokens:N (N priced output tokens)",
                            text);
    }

    char *end = NULL;
    const double number = strtod(value, &end);
    const bool ok = end != value && *end == '\0' && isfinite(number) &&
                    (parsed.rule == SR_RESERVE_MEAN ? number >= 1.0 : number > 0.0);
    if (!ok)
        return sr_error_set(
            err, SR_ERR_INVALID, NULL, 0, "reserve", "reservation rule '%s' needs %s", text,
            parsed.rule == SR_RESERVE_MEAN ? "a finite factor >= 1" : "a finite token count > 0");
    if (parsed.rule == SR_RESERVE_MEAN)
        parsed.factor = number;
    else
        parsed.max_output_tokens = number;
    *config = parsed;
    return SR_OK;
}

double sr_reserve_amount(const sr_qpolicy *policy, const sr_reserve_config *config, int model,
                         size_t text_bytes)
{
    const sr_qpolicy_model *m = &policy->models[model];
    if (config->rule == SR_RESERVE_MEAN)
        return config->factor * m->mean_cost;

    if (isfinite(m->cost_per_call))
        return m->cost_per_call;
    if (!isfinite(m->input_price) || !isfinite(m->output_price))
        return NAN;
    return (double)text_bytes * m->input_price / 1e6 +
           config->max_output_tokens * m->output_price / 1e6;
}

const char *sr_mask_reason_name(sr_mask_reason reason)
{
    switch (reason) {
    case SR_MASK_NONE:
        return "none";
    case SR_MASK_ESTIMATE:
        return "estimate_exceeds_remaining";
    case SR_MASK_RESERVE:
        return "reservation_exceeds_remaining";
    case SR_MASK_UNPRICED:
        return "reservation_unpriced";
    }
    return "unknown";
}

int sr_route_scratch_floats(const sr_qpolicy *policy)
{
    if (policy->features.source == SR_FEATURES_EMBEDDING)
        return policy->embedding_dim > 0 ? policy->embedding_dim : 1;
    return sr_features_text_dim(&policy->features);
}

/* Fills `scratch` with the turn's feature row, or explains what is missing. */
static sr_status route_features(const sr_qpolicy *policy, const sr_route_input *input,
                                float *scratch, sr_error *err)
{
    if (policy->features.history != SR_HISTORY_CURRENT)
        return sr_error_set(err, SR_ERR_UNSUPPORTED, policy->path, 0, "history",
                            "the policy's features average earlier turns (history mode %d); "
                            "routing one turn at a time needs a policy trained with "
                            "--history current",
                            (int)policy->features.history);

    if (policy->features.source == SR_FEATURES_EMBEDDING) {
        if (!input->embedding)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "embedding",
                                "the policy routes on embeddings of width %d; give the turn's "
                                "embedding",
                                policy->embedding_dim);
        if (input->embedding_dim != policy->embedding_dim)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "embedding",
                                "the embedding has %d values; the policy needs %d",
                                input->embedding_dim, policy->embedding_dim);
        for (int i = 0; i < input->embedding_dim; i++)
            if (!isfinite(input->embedding[i]))
                return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "embedding",
                                    "embedding value %d is not finite", i);
        memcpy(scratch, input->embedding, (size_t)input->embedding_dim * sizeof(float));
        return SR_OK;
    }

    if (!input->text)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "text",
                            "the policy routes on the turn's text; give the text");
    return sr_features_text_n(&policy->features, input->text, input->text_len, scratch, err);
}

sr_status sr_route_decide(sr_qpolicy *policy, const sr_reserve_config *reserve,
                          const sr_route_input *input, float *scratch, sr_route_result *out,
                          sr_error *err)
{
    if (input->turn < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "turn",
                            "turn %d is negative; turns count from 0", input->turn);
    sr_status status = route_features(policy, input, scratch, err);
    if (status != SR_OK)
        return status;

    /* The policy's decision: Q values, λ scores and the ĉ mask. */
    sr_route_result result;
    memset(&result, 0, sizeof(result));
    status = sr_qpolicy_decide(policy, scratch, input->turn, input->remaining, input->lambda,
                               &result.decision, err);
    if (status != SR_OK)
        return status;

    /* The reservation mask, then the best λ score among models left. */
    const size_t text_bytes = input->text ? input->text_len : 0;
    const sr_decision *d = &result.decision;
    int best = -1;
    for (int a = 0; a < policy->n_models; a++) {
        result.reserve[a] = sr_reserve_amount(policy, reserve, a, text_bytes);
        if (d->masked[a])
            result.mask[a] = SR_MASK_ESTIMATE;
        else if (!isfinite(result.reserve[a]))
            result.mask[a] = SR_MASK_UNPRICED;
        else if (result.reserve[a] > input->remaining)
            result.mask[a] = SR_MASK_RESERVE;
        else
            result.mask[a] = SR_MASK_NONE;
        /* Strict comparison keeps the lowest index on ties, as the policy does. */
        if (result.mask[a] == SR_MASK_NONE && (best < 0 || d->score[a] > d->score[best]))
            best = a;
    }

    result.preferred = d->preferred;
    result.model = best;
    result.refused = best < 0;
    result.degraded = best >= 0 && best != d->preferred;
    *out = result;
    return SR_OK;
}

/* Adds `value` under `key`, remembering a failed allocation in `*ok`. */
static void put(json_t *object, const char *key, json_t *value, bool *ok)
{
    if (!value || json_object_set_new(object, key, value) != 0)
        *ok = false;
}

json_t *sr_route_result_json(const sr_qpolicy *policy, const sr_route_input *input,
                             const sr_route_result *result)
{
    json_t *root = json_object();
    json_t *q_values = json_object();
    json_t *scores = json_object();
    json_t *reserve = json_object();
    json_t *masked = json_array();
    bool ok = root && q_values && scores && reserve && masked;
    const sr_decision *d = &result->decision;

    for (int a = 0; ok && a < policy->n_models; a++) {
        const char *name = policy->models[a].name;
        put(q_values, name, json_real(d->q[a]), &ok);
        put(scores, name, json_real(d->score[a]), &ok);
        put(reserve, name,
            isfinite(result->reserve[a]) ? json_real(result->reserve[a]) : json_null(), &ok);
        if (result->mask[a] == SR_MASK_NONE)
            continue;
        json_t *entry = json_pack("{s:s, s:s, s:f}", "model", name, "reason",
                                  sr_mask_reason_name(result->mask[a]), "estimate",
                                  policy->models[a].mean_cost);
        if (entry)
            put(entry, "reserve",
                isfinite(result->reserve[a]) ? json_real(result->reserve[a]) : json_null(), &ok);
        if (!entry || json_array_append_new(masked, entry) != 0)
            ok = false;
    }

    char reason[3 * SR_MAX_NAME_BYTES + 128] = "";
    if (result->degraded)
        snprintf(reason, sizeof(reason),
                 "preferred model %s is masked (%s); %s is the best "
                 "affordable model",
                 policy->models[result->preferred].name,
                 sr_mask_reason_name(result->mask[result->preferred]),
                 policy->models[result->model].name);
    else if (result->refused)
        snprintf(reason, sizeof(reason), "no model is affordable with %.17g %s remaining",
                 input->remaining, policy->cost_unit);

    if (ok) {
        put(root, "model",
            result->model >= 0 ? json_string(policy->models[result->model].name) : json_null(),
            &ok);
        put(root, "preferred", json_string(policy->models[result->preferred].name), &ok);
        put(root, "lambda", json_real(input->lambda), &ok);
        put(root, "turn", json_integer(input->turn), &ok);
        put(root, "remaining", json_real(input->remaining), &ok);
        put(root, "cost_unit", json_string(policy->cost_unit), &ok);
        json_incref(q_values);
        put(root, "q_values", q_values, &ok);
        json_incref(scores);
        put(root, "scores", scores, &ok);
        json_incref(reserve);
        put(root, "reserve", reserve, &ok);
        json_incref(masked);
        put(root, "masked", masked, &ok);
        put(root, "degraded", json_boolean(result->degraded), &ok);
        put(root, "reason", reason[0] ? json_string(reason) : json_null(), &ok);
    }

    json_decref(q_values);
    json_decref(scores);
    json_decref(reserve);
    json_decref(masked);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}
