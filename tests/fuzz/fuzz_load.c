/*
 * fuzz_load.c - libFuzzer target for the session loader.
 *
 * Each input is loaded twice from memory, once failing on the first bad
 * line and once with skip_invalid.  Beyond the sanitizers' checks (no
 * crash, no leak, no undefined behaviour), the target aborts when an
 * invariant breaks:
 *   - a failed load leaves the dataset empty and fills the error;
 *   - a successful load holds only complete sessions whose present
 *     outcomes are finite, in range and non-negative in cost;
 *   - under skip_invalid the callback ran once per counted skipped line;
 *   - writing a loaded dataset and loading the text again succeeds with
 *     the same sessions, turns and models.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "seqroute/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_skip(const sr_error *reason, void *user_data)
{
    size_t *count = user_data;
    if (reason->status == SR_OK || reason->message[0] == '\0')
        abort();
    (*count)++;
}

static void check_loaded(const sr_dataset *ds)
{
    const sr_catalogue *cat = &ds->catalogue;
    size_t next_turn = 0;

    if (cat->n_models < 1 || cat->n_models > SR_MAX_MODELS)
        abort();
    for (size_t i = 0; i < ds->n_sessions; i++) {
        const sr_session *s = &ds->sessions[i];
        if (s->first_turn != next_turn || s->n_turns < 1 || s->n_turns > SR_MAX_TURNS)
            abort();
        next_turn += (size_t)s->n_turns;
    }
    if (next_turn != ds->n_turns)
        abort();
    for (size_t j = 0; j < ds->n_turns; j++) {
        bool any = false;
        for (int k = 0; k < cat->n_models; k++) {
            const sr_outcome *o = sr_dataset_outcome(ds, j, k);
            if (!o->present)
                continue;
            any = true;
            if (!(o->quality >= cat->quality_min && o->quality <= cat->quality_max))
                abort();
            if (!isfinite(o->cost) || o->cost < 0)
                abort();
        }
        int logged = ds->turns[j].logged;
        if (!any || logged < -1 || logged >= cat->n_models)
            abort();
        if (logged >= 0 && !sr_dataset_outcome(ds, j, logged)->present)
            abort();
    }
}

/* Writes `ds` to memory and loads it back; both must succeed and agree. */
static void check_round_trip(const sr_dataset *ds)
{
    char *text = NULL;
    size_t text_size = 0;
    sr_error err;
    FILE *out = open_memstream(&text, &text_size);
    if (out == NULL)
        return;
    sr_status status = sr_dataset_write(ds, out, &err);
    fclose(out);
    if (status != SR_OK)
        abort();

    sr_dataset copy;
    status = sr_dataset_load_buffer(text, text_size, "round-trip", NULL, &copy, NULL, &err);
    if (status != SR_OK) {
        fprintf(stderr, "round trip failed: %s\n", err.message);
        abort();
    }
    if (copy.n_sessions != ds->n_sessions || copy.n_turns != ds->n_turns ||
        copy.catalogue.n_models != ds->catalogue.n_models)
        abort();
    sr_dataset_free(&copy);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int skip = 0; skip <= 1; skip++) {
        size_t callbacks = 0;
        size_t skipped = 0;
        sr_load_options options = {.skip_invalid = skip != 0, .on_skip = count_skip,
                                   .user_data = &callbacks};
        sr_dataset ds;
        sr_error err;

        sr_status status = sr_dataset_load_buffer((const char *)data, size, "fuzz.jsonl",
                                                  &options, &ds, &skipped, &err);
        if (callbacks != skipped || (!skip && skipped != 0))
            abort();
        if (status != SR_OK) {
            if (err.status != status || err.message[0] == '\0' || ds.n_sessions != 0 ||
                ds.n_turns != 0 || ds.catalogue.n_models != 0)
                abort();
            continue;
        }
        check_loaded(&ds);
        check_round_trip(&ds);
        sr_dataset_free(&ds);
    }
    return 0;
}
