/*
 * qpolicy.c - the policy file (writer and validating reader), decisions
 * with the budget mask and the λ rule, and the simulator adapter.
 *
 * File layout (docs/POLICY_FILE.md has the field tables):
 *
 *   0   8 bytes  magic "SRPOLICY"
 *   8   u32      format version
 *   12  u32      section count
 *   16  u64      payload length: the bytes after the header
 *   24  u32      CRC-32 of bytes [0, 24) followed by the payload
 *   28  u32      reserved, 0
 *   32  payload  sections, each: u32 tag, u32 flags, u64 length, bytes
 *
 * The reader checks in the order that gives the most useful message: the
 * magic (not a policy file), the version (newer than this build), the
 * length (truncated or trailing bytes), then the CRC (corrupt).  Only then
 * does it parse sections, with every read bounds-checked and every value
 * range-checked.
 * Because the CRC covers the header fields after the magic and version as
 * well as the payload, any single-bit flip is detected: CRC-32 detects
 * every error burst of up to 32 bits.
 *
 * Numbers are written byte by byte in little-endian order, floats through
 * their IEEE-754 bit patterns, so files move between machines unchanged.
 */
#include "seqroute/qpolicy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- CRC-32 --------------------------------------------------------------------- */

/* Table of the reflected IEEE polynomial 0xEDB88320, one entry per byte value. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t sr_crc32(uint32_t crc, const void *data, size_t size)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < size; i++)
        crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---- byte buffers ------------------------------------------------------------------ */

void sr_bytes_put(sr_bytes_writer *writer, const void *data, size_t size)
{
    if (writer->failed || size == 0)
        return;
    if (writer->size + size > writer->capacity) {
        size_t capacity = writer->capacity ? writer->capacity : 4096;
        while (capacity < writer->size + size)
            capacity *= 2;
        uint8_t *p = realloc(writer->data, capacity);
        if (p == NULL) {
            writer->failed = true;
            return;
        }
        writer->data = p;
        writer->capacity = capacity;
    }
    memcpy(writer->data + writer->size, data, size);
    writer->size += size;
}

void sr_bytes_put_u8(sr_bytes_writer *writer, uint8_t value)
{
    sr_bytes_put(writer, &value, 1);
}

void sr_bytes_put_u32(sr_bytes_writer *writer, uint32_t value)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(value >> (8 * i));
    sr_bytes_put(writer, b, 4);
}

void sr_bytes_put_u64(sr_bytes_writer *writer, uint64_t value)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(value >> (8 * i));
    sr_bytes_put(writer, b, 8);
}

void sr_bytes_put_f32(sr_bytes_writer *writer, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, 4);
    sr_bytes_put_u32(writer, bits);
}

void sr_bytes_put_f64(sr_bytes_writer *writer, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, 8);
    sr_bytes_put_u64(writer, bits);
}

void sr_bytes_put_f32_array(sr_bytes_writer *writer, const float *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        sr_bytes_put_f32(writer, values[i]);
}

void sr_bytes_writer_free(sr_bytes_writer *writer)
{
    free(writer->data);
    memset(writer, 0, sizeof(*writer));
}

bool sr_bytes_get(sr_bytes_reader *reader, void *out, size_t size)
{
    if (reader->failed || size > reader->size - reader->pos) {
        reader->failed = true;
        memset(out, 0, size);
        return false;
    }
    memcpy(out, reader->data + reader->pos, size);
    reader->pos += size;
    return true;
}

uint8_t sr_bytes_get_u8(sr_bytes_reader *reader)
{
    uint8_t value;
    sr_bytes_get(reader, &value, 1);
    return value;
}

uint32_t sr_bytes_get_u32(sr_bytes_reader *reader)
{
    uint8_t b[4];
    sr_bytes_get(reader, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t sr_bytes_get_u64(sr_bytes_reader *reader)
{
    uint8_t b[8];
    uint64_t value = 0;
    sr_bytes_get(reader, b, 8);
    for (int i = 7; i >= 0; i--)
        value = value << 8 | b[i];
    return value;
}

float sr_bytes_get_f32(sr_bytes_reader *reader)
{
    uint32_t bits = sr_bytes_get_u32(reader);
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

double sr_bytes_get_f64(sr_bytes_reader *reader)
{
    uint64_t bits = sr_bytes_get_u64(reader);
    double value;
    memcpy(&value, &bits, 8);
    return value;
}

bool sr_bytes_get_f32_array(sr_bytes_reader *reader, float *values, size_t count)
{
    if (reader->failed || count > (reader->size - reader->pos) / 4) {
        reader->failed = true;
        return false;
    }
    for (size_t i = 0; i < count; i++)
        values[i] = sr_bytes_get_f32(reader);
    return true;
}

/* Writes a string as u32 byte length then the bytes (no NUL). */
static void put_string(sr_bytes_writer *writer, const char *text)
{
    const size_t length = text ? strlen(text) : 0;
    sr_bytes_put_u32(writer, (uint32_t)length);
    sr_bytes_put(writer, text, length);
}

/*
 * Reads a string written by put_string into `out` of `size` bytes.  Fails
 * (false) when it does not fit, runs past the end or contains a NUL byte.
 */
static bool get_string(sr_bytes_reader *reader, char *out, size_t size)
{
    const uint32_t length = sr_bytes_get_u32(reader);
    if (reader->failed || length >= size || length > reader->size - reader->pos) {
        reader->failed = true;
        return false;
    }
    sr_bytes_get(reader, out, length);
    out[length] = '\0';
    return memchr(out, '\0', length) == NULL;
}

/* ---- building -------------------------------------------------------------------- */

const char *sr_qpolicy_algo_name(sr_cql_algo algo)
{
    /* An int switch: the myopic value lies outside sr_cql_algo's enumerators. */
    switch ((int)algo) {
    case SR_CQL_ALGO_CQL:
        return "cql";
    case SR_CQL_ALGO_DQN:
        return "dqn";
    case SR_CQL_ALGO_BC:
        return "bc";
    case SR_QPOLICY_ALGO_MYOPIC_VALUE:
        return "myopic";
    default:
        return "unknown";
    }
}

sr_status sr_qpolicy_new(int n_models, const sr_state_config *state, sr_qpolicy **out,
                         sr_error *err)
{
    *out = NULL;
    if (n_models < 1 || n_models > SR_MAX_MODELS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "models",
                            "%d models is out of range; use 1 to %d", n_models, SR_MAX_MODELS);
    sr_status status = sr_state_config_check(state, err);
    if (status != SR_OK)
        return status;

    sr_qpolicy *policy = calloc(1, sizeof(*policy));
    if (policy == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for a policy");
    policy->n_models = n_models;
    policy->state = *state;
    policy->models = calloc((size_t)n_models, sizeof(sr_qpolicy_model));
    policy->state_buffer = calloc((size_t)sr_state_dim(state), sizeof(float));
    sr_features_config_default(&policy->features);
    if (policy->models == NULL || policy->state_buffer == NULL) {
        sr_qpolicy_free(policy);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for a policy");
    }
    *out = policy;
    return SR_OK;
}

sr_status sr_qpolicy_set_norm(sr_qpolicy *policy, const float *shift, const float *scale,
                              sr_error *err)
{
    const size_t f = (size_t)policy->state.feature_dim;
    if (policy->norm_shift == NULL) {
        policy->norm_shift = malloc(f * sizeof(float));
        policy->norm_scale = malloc(f * sizeof(float));
    }
    if (policy->norm_shift == NULL || policy->norm_scale == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory for normalisation constants");
    memcpy(policy->norm_shift, shift, f * sizeof(float));
    memcpy(policy->norm_scale, scale, f * sizeof(float));
    return SR_OK;
}

sr_status sr_qpolicy_attach_net(sr_qpolicy *policy, sr_mlp *net, bool owns, sr_error *err)
{
    const int input = sr_state_dim(&policy->state);
    if (net->config.input_dim != input || net->config.output_dim != policy->n_models)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "network",
                            "network maps %d inputs to %d outputs, but the state has %d "
                            "values and the catalogue %d models",
                            net->config.input_dim, net->config.output_dim, input,
                            policy->n_models);
    if (policy->owns_net && policy->net != net)
        sr_mlp_destroy(policy->net);
    policy->net = net;
    policy->owns_net = owns;

    policy->max_mean_cost = 0;
    for (int k = 0; k < policy->n_models; k++)
        if (policy->models[k].mean_cost > policy->max_mean_cost)
            policy->max_mean_cost = policy->models[k].mean_cost;
    return SR_OK;
}

sr_status sr_qpolicy_set_settings(sr_qpolicy *policy, const char *json, sr_error *err)
{
    char *copy = NULL;
    if (json != NULL && (copy = strdup(json)) == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for settings");
    free(policy->settings_json);
    policy->settings_json = copy;
    return SR_OK;
}

void sr_qpolicy_free(sr_qpolicy *policy)
{
    if (policy == NULL)
        return;
    if (policy->owns_net)
        sr_mlp_destroy(policy->net);
    free(policy->models);
    free(policy->norm_shift);
    free(policy->norm_scale);
    free(policy->settings_json);
    free(policy->state_buffer);
    for (int i = 0; i < policy->n_extra; i++)
        free(policy->extra[i].data);
    free(policy);
}

const sr_qpolicy_section *sr_qpolicy_find_section(const sr_qpolicy *policy, uint32_t tag)
{
    for (int i = 0; i < policy->n_extra; i++)
        if (policy->extra[i].tag == tag)
            return &policy->extra[i];
    return NULL;
}

/* ---- writing --------------------------------------------------------------------- */

/* Starts a section; returns the offset of its length field for end_section. */
static size_t begin_section(sr_bytes_writer *w, uint32_t tag, uint32_t flags)
{
    sr_bytes_put_u32(w, tag);
    sr_bytes_put_u32(w, flags);
    const size_t at = w->size;
    sr_bytes_put_u64(w, 0);
    return at;
}

/* Patches the length of the section whose length field is at `at`. */
static void end_section(sr_bytes_writer *w, size_t at)
{
    if (w->failed)
        return;
    const uint64_t length = (uint64_t)(w->size - at - 8);
    for (int i = 0; i < 8; i++)
        w->data[at + (size_t)i] = (uint8_t)(length >> (8 * i));
}

static void write_catalogue(sr_bytes_writer *w, const sr_qpolicy *p)
{
    const size_t at = begin_section(w, SR_QPOLICY_TAG_CATALOGUE, SR_QPOLICY_SECTION_REQUIRED);
    sr_bytes_put_u32(w, (uint32_t)p->n_models);
    put_string(w, p->cost_unit);
    for (int k = 0; k < p->n_models; k++) {
        const sr_qpolicy_model *m = &p->models[k];
        put_string(w, m->name);
        sr_bytes_put_f64(w, m->input_price);
        sr_bytes_put_f64(w, m->output_price);
        sr_bytes_put_f64(w, m->cost_per_call);
        sr_bytes_put_u8(w, m->fallback ? 1 : 0);
        sr_bytes_put_f64(w, m->mean_cost);
        sr_bytes_put_f64(w, m->mean_quality);
    }
    end_section(w, at);
}

static void write_features(sr_bytes_writer *w, const sr_qpolicy *p)
{
    const sr_features_config *f = &p->features;
    const size_t at = begin_section(w, SR_QPOLICY_TAG_FEATURES, SR_QPOLICY_SECTION_REQUIRED);
    sr_bytes_put_u32(w, (uint32_t)f->source);
    sr_bytes_put_u32(w, (uint32_t)f->history);
    sr_bytes_put_u32(w, (uint32_t)f->dim);
    sr_bytes_put_u32(w, (uint32_t)f->char_ngram_min);
    sr_bytes_put_u32(w, (uint32_t)f->char_ngram_max);
    sr_bytes_put_u8(w, f->word_bigrams ? 1 : 0);
    sr_bytes_put_u64(w, (uint64_t)f->max_bytes);
    sr_bytes_put_u64(w, f->seed);
    sr_bytes_put_u32(w, (uint32_t)p->embedding_dim);
    sr_bytes_put_u32(w, (uint32_t)p->state.feature_dim);
    end_section(w, at);
}

static void write_state(sr_bytes_writer *w, const sr_qpolicy *p)
{
    const size_t at = begin_section(w, SR_QPOLICY_TAG_STATE, SR_QPOLICY_SECTION_REQUIRED);
    sr_bytes_put_u32(w, (uint32_t)p->algo);
    sr_bytes_put_u32(w, p->state.options);
    sr_bytes_put_f64(w, p->state.b_ref);
    sr_bytes_put_f64(w, p->state.t_ref);
    sr_bytes_put_f64(w, p->state.strong_cost);
    sr_bytes_put_u32(w, (uint32_t)p->state.n_bins);
    sr_bytes_put_f64(w, p->state.lambda_max); /* since version 2 */
    end_section(w, at);
}

static void write_network(sr_bytes_writer *w, const sr_qpolicy *p)
{
    const sr_mlp_config *c = &p->net->config;
    const size_t at = begin_section(w, SR_QPOLICY_TAG_NETWORK, SR_QPOLICY_SECTION_REQUIRED);
    sr_bytes_put_u32(w, (uint32_t)c->input_dim);
    sr_bytes_put_u32(w, (uint32_t)c->hidden_count);
    for (int i = 0; i < c->hidden_count; i++)
        sr_bytes_put_u32(w, (uint32_t)c->hidden[i]);
    sr_bytes_put_u32(w, (uint32_t)c->output_dim);
    sr_bytes_put_u64(w, (uint64_t)p->net->param_count);
    sr_bytes_put_f32_array(w, p->net->params, p->net->param_count);
    end_section(w, at);
}

sr_status sr_qpolicy_serialise(const sr_qpolicy *policy, const sr_qpolicy_blob *blobs,
                               int n_blobs, uint8_t **data, size_t *size, sr_error *err)
{
    *data = NULL;
    *size = 0;
    if (policy->net == NULL || policy->models == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "network",
                            "the policy has no network or catalogue to save");

    sr_bytes_writer w = {0};
    uint32_t sections = 4;

    /* Header with the length and CRC patched at the end. */
    sr_bytes_put(&w, SR_QPOLICY_MAGIC, 8);
    sr_bytes_put_u32(&w, SR_QPOLICY_FORMAT_VERSION);
    sr_bytes_put_u32(&w, 0);
    sr_bytes_put_u64(&w, 0);
    sr_bytes_put_u32(&w, 0);
    sr_bytes_put_u32(&w, 0);

    /* Sections. */
    write_catalogue(&w, policy);
    write_features(&w, policy);
    write_state(&w, policy);
    if (policy->norm_shift != NULL && policy->norm_scale != NULL) {
        const size_t at = begin_section(&w, SR_QPOLICY_TAG_NORMALISE, SR_QPOLICY_SECTION_REQUIRED);
        const size_t f = (size_t)policy->state.feature_dim;
        sr_bytes_put_u32(&w, (uint32_t)f);
        sr_bytes_put_f32_array(&w, policy->norm_shift, f);
        sr_bytes_put_f32_array(&w, policy->norm_scale, f);
        end_section(&w, at);
        sections++;
    }
    write_network(&w, policy);
    if (policy->settings_json != NULL) {
        const size_t at = begin_section(&w, SR_QPOLICY_TAG_SETTINGS, 0);
        sr_bytes_put(&w, policy->settings_json, strlen(policy->settings_json));
        end_section(&w, at);
        sections++;
    }
    for (int i = 0; i < n_blobs; i++) {
        const size_t at = begin_section(&w, blobs[i].tag, blobs[i].flags);
        sr_bytes_put(&w, blobs[i].data, (size_t)blobs[i].size);
        end_section(&w, at);
        sections++;
    }
    if (w.failed) {
        sr_bytes_writer_free(&w);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory while serialising the policy");
    }

    /* Patch the count, the payload length and the CRC. */
    const uint64_t payload = (uint64_t)(w.size - SR_QPOLICY_HEADER_BYTES);
    for (int i = 0; i < 4; i++)
        w.data[12 + i] = (uint8_t)(sections >> (8 * i));
    for (int i = 0; i < 8; i++)
        w.data[16 + i] = (uint8_t)(payload >> (8 * i));
    uint32_t crc = sr_crc32(0, w.data, 24);
    crc = sr_crc32(crc, w.data + SR_QPOLICY_HEADER_BYTES, (size_t)payload);
    for (int i = 0; i < 4; i++)
        w.data[24 + i] = (uint8_t)(crc >> (8 * i));

    *data = w.data;
    *size = w.size;
    return SR_OK;
}

sr_status sr_qpolicy_save(const sr_qpolicy *policy, const sr_qpolicy_blob *blobs, int n_blobs,
                          const char *path, sr_error *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    sr_status status = sr_qpolicy_serialise(policy, blobs, n_blobs, &data, &size, err);
    if (status != SR_OK)
        return status;

    /* Write a temporary file next to the target, then rename it over the target. */
    char temporary[1024];
    if ((size_t)snprintf(temporary, sizeof(temporary), "%s.tmp", path) >= sizeof(temporary)) {
        free(data);
        return sr_error_set(err, SR_ERR_INVALID, path, 0, NULL, "path is too long");
    }
    FILE *out = fopen(temporary, "wb");
    if (out == NULL) {
        free(data);
        return sr_error_set(err, SR_ERR_IO, temporary, 0, NULL, "cannot open for writing: %s",
                            strerror(errno));
    }
    const bool written = fwrite(data, 1, size, out) == size;
    const bool flushed = fflush(out) == 0 && fsync(fileno(out)) == 0;
    const bool closed = fclose(out) == 0;
    free(data);
    if (!written || !flushed || !closed) {
        remove(temporary);
        return sr_error_set(err, SR_ERR_IO, temporary, 0, NULL, "failed to write: %s",
                            strerror(errno));
    }
    if (rename(temporary, path) != 0) {
        const int saved = errno;
        remove(temporary);
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "failed to rename %s into place: %s",
                            temporary, strerror(saved));
    }
    return SR_OK;
}

/* ---- reading --------------------------------------------------------------------- */

/* Sections parsed so far, before the policy is assembled. */
typedef struct parsed_file {
    const char *name;
    uint32_t version; /* format version from the header */
    bool seen_catalogue, seen_features, seen_state, seen_norm, seen_network, seen_settings;

    int n_models;
    sr_qpolicy_model *models;
    char cost_unit[64];

    sr_features_config features;
    int embedding_dim;
    int feature_dim;

    uint32_t algo;
    sr_state_config state;

    float *norm_shift;
    float *norm_scale;

    sr_mlp_config net;
    uint64_t param_count;
    sr_bytes_reader params; /* positioned at the first weight */

    const uint8_t *settings;
    uint64_t settings_size;

    sr_qpolicy_section extra[SR_QPOLICY_MAX_EXTRA];
    int n_extra;
} parsed_file;

static void parsed_free(parsed_file *f)
{
    free(f->models);
    free(f->norm_shift);
    free(f->norm_scale);
    for (int i = 0; i < f->n_extra; i++)
        free(f->extra[i].data);
}

/* Formats a tag as four printable characters for messages. */
static void tag_text(uint32_t tag, char text[5])
{
    for (int i = 0; i < 4; i++) {
        const char c = (char)(tag >> (8 * i));
        text[i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    text[4] = '\0';
}

static sr_status corrupt(const parsed_file *f, const char *section, const char *what,
                         sr_error *err)
{
    return sr_error_set(err, SR_ERR_INVALID, f->name, 0, NULL,
                        "policy file section %s is invalid: %s; the file is damaged or was "
                        "not written by seqroute",
                        section, what);
}

static sr_status parse_catalogue(parsed_file *f, sr_bytes_reader *r, sr_error *err)
{
    const uint32_t n = sr_bytes_get_u32(r);
    if (r->failed || n < 1 || n > SR_MAX_MODELS)
        return corrupt(f, "CATL", "the model count is out of range", err);
    if (!get_string(r, f->cost_unit, sizeof(f->cost_unit)))
        return corrupt(f, "CATL", "the cost unit is not a valid string", err);
    f->models = calloc(n, sizeof(sr_qpolicy_model));
    if (f->models == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, f->name, 0, NULL, "out of memory");
    f->n_models = (int)n;
    for (uint32_t k = 0; k < n; k++) {
        sr_qpolicy_model *m = &f->models[k];
        if (!get_string(r, m->name, sizeof(m->name)) || m->name[0] == '\0')
            return corrupt(f, "CATL", "a model name is empty or not a valid string", err);
        for (uint32_t j = 0; j < k; j++)
            if (strcmp(f->models[j].name, m->name) == 0)
                return corrupt(f, "CATL", "a model name appears twice", err);
        m->input_price = sr_bytes_get_f64(r);
        m->output_price = sr_bytes_get_f64(r);
        m->cost_per_call = sr_bytes_get_f64(r);
        m->fallback = sr_bytes_get_u8(r) != 0;
        m->mean_cost = sr_bytes_get_f64(r);
        m->mean_quality = sr_bytes_get_f64(r);
        if (r->failed)
            return corrupt(f, "CATL", "it ends inside a model entry", err);
        if (!isfinite(m->mean_cost) || m->mean_cost < 0 || !isfinite(m->mean_quality))
            return corrupt(f, "CATL", "a mean cost or quality is not a finite number >= 0", err);
    }
    return SR_OK;
}

static sr_status parse_features(parsed_file *f, sr_bytes_reader *r, sr_error *err)
{
    sr_features_config *c = &f->features;
    sr_features_config_default(c);
    const uint32_t source = sr_bytes_get_u32(r);
    const uint32_t history = sr_bytes_get_u32(r);
    c->dim = (int)sr_bytes_get_u32(r);
    c->char_ngram_min = (int)sr_bytes_get_u32(r);
    c->char_ngram_max = (int)sr_bytes_get_u32(r);
    c->word_bigrams = sr_bytes_get_u8(r) != 0;
    c->max_bytes = (size_t)sr_bytes_get_u64(r);
    c->seed = sr_bytes_get_u64(r);
    f->embedding_dim = (int)sr_bytes_get_u32(r);
    f->feature_dim = (int)sr_bytes_get_u32(r);
    if (r->failed)
        return corrupt(f, "FEAT", "it is shorter than its fields", err);
    if (source != SR_FEATURES_TEXT && source != SR_FEATURES_EMBEDDING)
        return corrupt(f, "FEAT", "the feature source is neither text nor embedding", err);
    if (history > SR_HISTORY_CONCAT)
        return corrupt(f, "FEAT", "the history mode is unknown", err);
    c->source = (sr_features_source)source;
    c->history = (sr_history_mode)history;
    sr_error inner;
    if (sr_features_config_check(c, &inner) != SR_OK)
        return corrupt(f, "FEAT", inner.message, err);

    /* The stored width must follow from the configuration. */
    const int factor = c->history == SR_HISTORY_CONCAT ? 2 : 1;
    int base = 0;
    if (c->source == SR_FEATURES_TEXT)
        base = sr_features_text_dim(c);
    else if (f->embedding_dim >= 1 && f->embedding_dim <= SR_MAX_EMBEDDING_DIM)
        base = f->embedding_dim;
    if (base == 0 || f->feature_dim != factor * base)
        return corrupt(f, "FEAT", "the feature width does not follow from the configuration",
                       err);
    return SR_OK;
}

static sr_status parse_state(parsed_file *f, sr_bytes_reader *r, sr_error *err)
{
    f->algo = sr_bytes_get_u32(r);
    f->state.options = sr_bytes_get_u32(r);
    f->state.b_ref = sr_bytes_get_f64(r);
    f->state.t_ref = sr_bytes_get_f64(r);
    f->state.strong_cost = sr_bytes_get_f64(r);
    f->state.n_bins = (int)sr_bytes_get_u32(r);
    f->state.lambda_max = f->version >= 2 ? sr_bytes_get_f64(r) : 0.0;
    if (r->failed)
        return corrupt(f, "STAT", "it is shorter than its fields", err);

    /* A version 1 file can name only the first three algorithms and the four user options. */
    const uint32_t last_algo = f->version >= 2 ? SR_QPOLICY_ALGO_MYOPIC_VALUE : SR_CQL_ALGO_BC;
    if (f->algo > last_algo)
        return corrupt(f, "STAT", "the algorithm is unknown", err);
    if (f->version < 2 && (f->state.options & ~(uint32_t)SR_STATE_ALL_OPTIONS) != 0)
        return corrupt(f, "STAT", "a version 1 file has a state option of a later version", err);
    if (!isfinite(f->state.lambda_max) || f->state.lambda_max < 0 ||
        ((f->state.options & SR_STATE_LAMBDA) == 0) != (f->state.lambda_max == 0))
        return corrupt(f, "STAT", "lambda_max is not positive exactly when the state has the "
                                  "lambda input",
                       err);
    return SR_OK;
}

static sr_status parse_norm(parsed_file *f, sr_bytes_reader *r, sr_error *err)
{
    const uint32_t n = sr_bytes_get_u32(r);
    if (r->failed || n == 0 || n > (r->size - r->pos) / 8)
        return corrupt(f, "NORM", "the feature count does not match its length", err);
    f->norm_shift = malloc(n * sizeof(float));
    f->norm_scale = malloc(n * sizeof(float));
    if (f->norm_shift == NULL || f->norm_scale == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, f->name, 0, NULL, "out of memory");
    sr_bytes_get_f32_array(r, f->norm_shift, n);
    sr_bytes_get_f32_array(r, f->norm_scale, n);
    for (uint32_t i = 0; i < n; i++)
        if (!isfinite(f->norm_shift[i]) || !isfinite(f->norm_scale[i]))
            return corrupt(f, "NORM", "a normalisation constant is not finite", err);
    /* The count is checked against the feature width once every section is read. */
    f->state.feature_dim = (int)n;
    return SR_OK;
}

static sr_status parse_network(parsed_file *f, sr_bytes_reader *r, sr_error *err)
{
    sr_mlp_config *c = &f->net;
    memset(c, 0, sizeof(*c));
    c->input_dim = (int)sr_bytes_get_u32(r);
    const uint32_t hidden = sr_bytes_get_u32(r);
    if (r->failed || hidden > SR_NN_MAX_HIDDEN)
        return corrupt(f, "NETW", "the hidden layer count is out of range", err);
    c->hidden_count = (int)hidden;
    for (uint32_t i = 0; i < hidden; i++)
        c->hidden[i] = (int)sr_bytes_get_u32(r);
    c->output_dim = (int)sr_bytes_get_u32(r);
    c->max_rows = 1;
    f->param_count = sr_bytes_get_u64(r);
    if (r->failed)
        return corrupt(f, "NETW", "it is shorter than its fields", err);
    sr_error inner;
    if (sr_mlp_config_check(c, &inner) != SR_OK)
        return corrupt(f, "NETW", inner.message, err);
    if (f->param_count != (uint64_t)(r->size - r->pos) / 4 || (r->size - r->pos) % 4 != 0)
        return corrupt(f, "NETW", "the weight count does not match its length", err);
    f->params = *r;
    return SR_OK;
}

/* Reads one section at the reader's position and dispatches on its tag. */
static sr_status parse_section(parsed_file *f, sr_bytes_reader *payload, sr_error *err)
{
    const uint32_t tag = sr_bytes_get_u32(payload);
    const uint32_t flags = sr_bytes_get_u32(payload);
    const uint64_t length = sr_bytes_get_u64(payload);
    char name[5];
    tag_text(tag, name);
    if (payload->failed || length > payload->size - payload->pos)
        return corrupt(f, name, "its length runs past the end of the file", err);

    sr_bytes_reader r = {payload->data + payload->pos, (size_t)length, 0, false};
    payload->pos += (size_t)length;

    bool *seen = NULL;
    sr_status (*parse)(parsed_file *, sr_bytes_reader *, sr_error *) = NULL;
    switch (tag) {
    case SR_QPOLICY_TAG_CATALOGUE:
        seen = &f->seen_catalogue;
        parse = parse_catalogue;
        break;
    case SR_QPOLICY_TAG_FEATURES:
        seen = &f->seen_features;
        parse = parse_features;
        break;
    case SR_QPOLICY_TAG_STATE:
        seen = &f->seen_state;
        parse = parse_state;
        break;
    case SR_QPOLICY_TAG_NORMALISE:
        seen = &f->seen_norm;
        parse = parse_norm;
        break;
    case SR_QPOLICY_TAG_NETWORK:
        seen = &f->seen_network;
        parse = parse_network;
        break;
    case SR_QPOLICY_TAG_SETTINGS:
        seen = &f->seen_settings;
        break;
    default:
        break;
    }

    if (seen == NULL) {
        /* Unknown: reject when required, keep otherwise. */
        if (flags & SR_QPOLICY_SECTION_REQUIRED)
            return sr_error_set(err, SR_ERR_INVALID, f->name, 0, NULL,
                                "policy file has a required section %s that this build "
                                "does not know; use a newer seqroute",
                                name);
        if (f->n_extra == SR_QPOLICY_MAX_EXTRA)
            return corrupt(f, name, "the file has too many extra sections", err);
        sr_qpolicy_section *extra = &f->extra[f->n_extra];
        extra->data = malloc(length ? (size_t)length : 1);
        if (extra->data == NULL)
            return sr_error_set(err, SR_ERR_NOMEM, f->name, 0, NULL, "out of memory");
        memcpy(extra->data, r.data, (size_t)length);
        extra->tag = tag;
        extra->flags = flags;
        extra->size = length;
        f->n_extra++;
        return SR_OK;
    }
    if (*seen)
        return corrupt(f, name, "the section appears twice", err);
    *seen = true;
    if (parse == NULL) {
        f->settings = r.data;
        f->settings_size = length;
        return SR_OK;
    }
    sr_status status = parse(f, &r, err);
    if (status == SR_OK && tag != SR_QPOLICY_TAG_NETWORK && r.pos != r.size)
        return corrupt(f, name, "it has bytes after its last field", err);
    return status;
}

/* Builds the policy from the parsed sections, checking that they agree. */
static sr_status assemble(parsed_file *f, sr_qpolicy **out, sr_error *err)
{
    if (!f->seen_catalogue || !f->seen_features || !f->seen_state || !f->seen_network)
        return sr_error_set(err, SR_ERR_INVALID, f->name, 0, NULL,
                            "policy file lacks a required section (%s%s%s%s)",
                            f->seen_catalogue ? "" : " CATL", f->seen_features ? "" : " FEAT",
                            f->seen_state ? "" : " STAT", f->seen_network ? "" : " NETW");
    if (f->seen_norm && f->state.feature_dim != f->feature_dim)
        return corrupt(f, "NORM", "its feature count differs from the feature width", err);
    f->state.feature_dim = f->feature_dim;
    sr_error inner;
    if (sr_state_config_check(&f->state, &inner) != SR_OK)
        return corrupt(f, "STAT", inner.message, err);
    if (f->net.input_dim != sr_state_dim(&f->state) || f->net.output_dim != f->n_models)
        return corrupt(f, "NETW", "its input or output width does not match the state or "
                                  "the catalogue",
                       err);

    sr_qpolicy *p = NULL;
    sr_status status = sr_qpolicy_new(f->n_models, &f->state, &p, err);
    if (status != SR_OK)
        return status;
    snprintf(p->path, sizeof(p->path), "%s", f->name);
    p->algo = (sr_cql_algo)f->algo;
    memcpy(p->models, f->models, (size_t)f->n_models * sizeof(sr_qpolicy_model));
    snprintf(p->cost_unit, sizeof(p->cost_unit), "%s", f->cost_unit);
    p->features = f->features;
    p->embedding_dim = f->embedding_dim;
    p->norm_shift = f->norm_shift;
    p->norm_scale = f->norm_scale;
    f->norm_shift = f->norm_scale = NULL;
    memcpy(p->extra, f->extra, sizeof(f->extra));
    p->n_extra = f->n_extra;
    f->n_extra = 0;

    /* Network: create, then check the weight count and read the weights. */
    sr_mlp *net = NULL;
    status = sr_mlp_create(&f->net, 0, &net, err);
    if (status == SR_OK && (uint64_t)net->param_count != f->param_count)
        status = corrupt(f, "NETW", "the weight count does not match the layer sizes", err);
    if (status == SR_OK && !sr_bytes_get_f32_array(&f->params, net->params, net->param_count))
        status = corrupt(f, "NETW", "it ends inside the weights", err);
    for (size_t i = 0; status == SR_OK && i < net->param_count; i++)
        if (!isfinite(net->params[i]))
            status = corrupt(f, "NETW", "a weight is not finite", err);
    if (status == SR_OK)
        status = sr_qpolicy_attach_net(p, net, true, err);
    else
        sr_mlp_destroy(net);

    /* Settings text. */
    if (status == SR_OK && f->seen_settings) {
        p->settings_json = malloc((size_t)f->settings_size + 1);
        if (p->settings_json == NULL)
            status = sr_error_set(err, SR_ERR_NOMEM, f->name, 0, NULL, "out of memory");
        else {
            memcpy(p->settings_json, f->settings, (size_t)f->settings_size);
            p->settings_json[f->settings_size] = '\0';
        }
    }
    if (status != SR_OK) {
        sr_qpolicy_free(p);
        return status;
    }
    *out = p;
    return SR_OK;
}

sr_status sr_qpolicy_load_buffer(const uint8_t *data, size_t size, const char *name,
                                 sr_qpolicy **out, sr_error *err)
{
    *out = NULL;

    /* Magic, version, length, CRC: in the order that gives the clearest message. */
    if (size < 8 || memcmp(data, SR_QPOLICY_MAGIC, 8) != 0)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "not a seqroute policy file: it does not start with \"%s\"",
                            SR_QPOLICY_MAGIC);
    if (size < SR_QPOLICY_HEADER_BYTES)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "policy file is truncated: %zu bytes, shorter than its %d-byte "
                            "header",
                            size, SR_QPOLICY_HEADER_BYTES);
    sr_bytes_reader header = {data, SR_QPOLICY_HEADER_BYTES, 8, false};
    const uint32_t version = sr_bytes_get_u32(&header);
    const uint32_t sections = sr_bytes_get_u32(&header);
    const uint64_t payload = sr_bytes_get_u64(&header);
    const uint32_t crc = sr_bytes_get_u32(&header);
    const uint32_t reserved = sr_bytes_get_u32(&header);
    if (version > SR_QPOLICY_FORMAT_VERSION)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "policy file has format version %u, newer than this build reads "
                            "(up to %d); use a newer seqroute",
                            version, SR_QPOLICY_FORMAT_VERSION);
    if (version == 0)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "policy file has format version 0, which does not exist; the file "
                            "is damaged");
    if (payload > size - SR_QPOLICY_HEADER_BYTES)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "policy file is truncated: the header announces %llu bytes of "
                            "sections but only %zu follow",
                            (unsigned long long)payload, size - SR_QPOLICY_HEADER_BYTES);
    if (payload < size - SR_QPOLICY_HEADER_BYTES)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "policy file has %llu bytes after its last section; the file is "
                            "damaged or two files were joined",
                            (unsigned long long)(size - SR_QPOLICY_HEADER_BYTES - payload));
    if (reserved != 0)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "policy file is corrupt: the reserved header field is 0x%08x, not 0",
                            reserved);
    uint32_t actual = sr_crc32(0, data, 24);
    actual = sr_crc32(actual, data + SR_QPOLICY_HEADER_BYTES, (size_t)payload);
    if (actual != crc)
        return sr_error_set(err, SR_ERR_INVALID, name, 0, NULL,
                            "policy file is corrupt: CRC-32 is 0x%08x but the header records "
                            "0x%08x",
                            actual, crc);

    /* Sections. */
    parsed_file f;
    memset(&f, 0, sizeof(f));
    f.name = name;
    f.version = version;
    sr_bytes_reader r = {data + SR_QPOLICY_HEADER_BYTES, (size_t)payload, 0, false};
    sr_status status = SR_OK;
    uint32_t count = 0;
    while (status == SR_OK && r.pos < r.size) {
        status = parse_section(&f, &r, err);
        count++;
    }
    if (status == SR_OK && count != sections)
        status = corrupt(&f, "header", "the section count differs from the sections present",
                         err);
    if (status == SR_OK)
        status = assemble(&f, out, err);
    parsed_free(&f);
    return status;
}

sr_status sr_qpolicy_load(const char *path, sr_qpolicy **out, sr_error *err)
{
    *out = NULL;
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        return sr_error_set(err, SR_ERR_IO, path, 0, NULL, "cannot open the policy file: %s",
                            strerror(errno));

    /* Read the whole file, up to the size cap. */
    uint8_t *data = NULL;
    size_t size = 0;
    size_t capacity = 0;
    sr_status status = SR_OK;
    for (;;) {
        if (size == capacity) {
            if (capacity >= SR_QPOLICY_MAX_BYTES) {
                status = sr_error_set(err, SR_ERR_INVALID, path, 0, NULL,
                                      "policy file is larger than the %llu-byte limit",
                                      (unsigned long long)SR_QPOLICY_MAX_BYTES);
                break;
            }
            capacity = capacity ? capacity * 2 : 65536;
            uint8_t *p = realloc(data, capacity);
            if (p == NULL) {
                status = sr_error_set(err, SR_ERR_NOMEM, path, 0, NULL, "out of memory");
                break;
            }
            data = p;
        }
        const size_t got = fread(data + size, 1, capacity - size, in);
        size += got;
        if (got == 0) {
            if (ferror(in))
                status = sr_error_set(err, SR_ERR_IO, path, 0, NULL, "read failed: %s",
                                      strerror(errno));
            break;
        }
    }
    fclose(in);
    if (status == SR_OK)
        status = sr_qpolicy_load_buffer(data ? data : (const uint8_t *)"", size, path, out, err);
    free(data);
    return status;
}

/* ---- decisions -------------------------------------------------------------------- */

bool sr_qpolicy_lambda_conditioned(const sr_qpolicy *policy)
{
    return (policy->state.options & SR_STATE_LAMBDA) != 0;
}

void sr_qpolicy_choose(const sr_qpolicy *policy, const float *q, double budget, double lambda,
                       sr_decision *decision)
{
    const int k_count = policy->n_models;
    /* A λ-conditioned Q already prices the cost in: no post-hoc term. */
    const double unit = sr_qpolicy_lambda_conditioned(policy) ? 0.0 : policy->max_mean_cost;
    int preferred = -1;
    int best = -1;
    int cheapest = 0;

    decision->n_models = k_count;
    decision->lambda = lambda;
    decision->budget = budget;
    for (int a = 0; a < k_count; a++) {
        const double cost = policy->models[a].mean_cost;
        const double score = (double)q[a] - (unit > 0 ? lambda * cost / unit : 0.0);
        decision->q[a] = q[a];
        decision->score[a] = score;
        decision->masked[a] = cost > budget;

        /* Strict comparisons keep the lowest index on ties. */
        if (preferred < 0 || score > decision->score[preferred])
            preferred = a;
        if (!decision->masked[a] && (best < 0 || score > decision->score[best]))
            best = a;
        if (cost < policy->models[cheapest].mean_cost)
            cheapest = a;
    }

    decision->preferred = preferred;
    if (best < 0) {
        decision->model = cheapest;
        decision->kind = SR_DECISION_NONE_AFFORDABLE;
    } else {
        decision->model = best;
        decision->kind = best == preferred ? SR_DECISION_CHOSEN : SR_DECISION_DEGRADED;
    }
}

sr_status sr_qpolicy_decide(sr_qpolicy *policy, const float *features, int t, double budget,
                            double lambda, sr_decision *decision, sr_error *err)
{
    if (!isfinite(budget) || !isfinite(lambda))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "budget",
                            "budget %g and lambda %g must be finite", budget, lambda);
    if (lambda < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda",
                            "lambda %g is negative; lambda is the quality a model's cost must "
                            "buy, so use a value >= 0",
                            lambda);
    sr_state_encode_lambda(&policy->state, features, policy->norm_shift, policy->norm_scale, t,
                           budget, lambda, policy->state_buffer);
    const float *q = sr_mlp_forward(policy->net, policy->state_buffer, 1);
    sr_qpolicy_choose(policy, q, budget, lambda, decision);
    return SR_OK;
}

/* ---- the simulator adapter --------------------------------------------------------- */

sr_status sr_qpolicy_check_data(const sr_qpolicy *policy, const sr_dataset *ds, int *model_map,
                                sr_error *err)
{
    const char *file = policy->path[0] ? policy->path : "(policy in memory)";

    /* Every policy model must exist in the data's catalogue. */
    for (int k = 0; k < policy->n_models; k++) {
        const int index = sr_dataset_find_model(ds, policy->models[k].name);
        if (index < 0)
            return sr_error_set(err, SR_ERR_INVALID, file, 0, "models",
                                "the policy routes to model '%s', which the evaluation data's "
                                "catalogue lacks; evaluate on data with the training models",
                                policy->models[k].name);
        if (model_map != NULL)
            model_map[k] = index;
    }

    /*
     * Budgets, costs and the budget inputs are in the policy's cost unit; data in another
     * unit would feed the network budgets on another scale.  A policy built in memory
     * records no unit and is not checked; the policy keeps at most 63 bytes of it.
     */
    const char *unit = ds->catalogue.cost_unit ? ds->catalogue.cost_unit : "units";
    if (policy->cost_unit[0] != '\0' &&
        strncmp(policy->cost_unit, unit, sizeof(policy->cost_unit) - 1) != 0)
        return sr_error_set(err, SR_ERR_INVALID, file, 0, "cost_unit",
                            "the policy was trained on costs in '%s', but the evaluation data's "
                            "cost unit is '%s'; evaluate on data in the training unit",
                            policy->cost_unit, unit);

    /* The data must yield feature rows of the trained width. */
    const int dim = sr_features_dim(&policy->features, ds);
    if (dim != policy->state.feature_dim) {
        if (policy->features.source == SR_FEATURES_EMBEDDING)
            return sr_error_set(err, SR_ERR_INVALID, file, 0, "features",
                                "the policy reads %d-value embeddings, but the evaluation "
                                "data's embeddings have %d values (0: none)",
                                policy->embedding_dim, ds->catalogue.embedding_dim);
        return sr_error_set(err, SR_ERR_INVALID, file, 0, "features",
                            "the policy reads %d features per turn, but the evaluation data "
                            "gives %d",
                            policy->state.feature_dim, dim);
    }
    if (policy->features.source == SR_FEATURES_TEXT && ds->n_turns > 0) {
        size_t with_text = 0;
        for (size_t j = 0; j < ds->n_turns; j++)
            with_text += ds->turns[j].text != NULL;
        if (with_text == 0)
            return sr_error_set(err, SR_ERR_INVALID, file, 0, "features",
                                "the policy reads turn text, but no turn of the evaluation "
                                "data has text (was it loaded without text?)");
    }
    return SR_OK;
}

typedef struct adapter_impl {
    sr_qpolicy *qp;
    bool owns;
    double lambda;
    int model_map[SR_MAX_MODELS];
    float *rows; /* feature rows of the current session, [capacity x F] */
    int capacity;
    int n_turns;
    sr_decision decision;
} adapter_impl;

static sr_status adapter_begin_session(sr_policy *policy, const sr_dataset *ds, size_t session,
                                       double start_budget, sr_error *err)
{
    adapter_impl *impl = policy->impl;
    const size_t f = (size_t)impl->qp->state.feature_dim;
    (void)start_budget;
    if (session >= ds->n_sessions)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "session",
                            "%s: session index %zu is out of range", policy->name, session);

    const int n_turns = ds->sessions[session].n_turns;
    if (n_turns > impl->capacity) {
        float *p = realloc(impl->rows, (size_t)n_turns * f * sizeof(float));
        if (p == NULL)
            return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "%s: out of memory",
                                policy->name);
        impl->rows = p;
        impl->capacity = n_turns;
    }
    for (int t = 0; t < n_turns; t++) {
        sr_status status = sr_features_turn(&impl->qp->features, ds, session, t,
                                            impl->rows + (size_t)t * f, err);
        if (status != SR_OK)
            return status;
    }
    impl->n_turns = n_turns;
    return SR_OK;
}

static int adapter_act(sr_policy *policy, const sr_policy_state *state)
{
    adapter_impl *impl = policy->impl;
    const size_t f = (size_t)impl->qp->state.feature_dim;
    if (state->t < 0 || state->t >= impl->n_turns || !isfinite(state->budget))
        return -1;
    sr_qpolicy_decide(impl->qp, impl->rows + (size_t)state->t * f, state->t, state->budget,
                      impl->lambda, &impl->decision, NULL);
    return impl->model_map[impl->decision.model];
}

static void adapter_destroy(sr_policy *policy)
{
    adapter_impl *impl = policy->impl;
    if (impl != NULL) {
        if (impl->owns)
            sr_qpolicy_free(impl->qp);
        free(impl->rows);
    }
    free(impl);
    free(policy);
}

sr_status sr_qpolicy_policy_create(sr_qpolicy *qp, bool owns, const char *name, double lambda,
                                   const sr_dataset *ds, sr_policy **out, sr_error *err)
{
    *out = NULL;
    if (!isfinite(lambda) || lambda < 0)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "lambda",
                            "lambda %g is not a finite number >= 0; lambda is the quality a "
                            "model's cost must buy",
                            lambda);
    sr_policy *policy = calloc(1, sizeof(*policy));
    adapter_impl *impl = calloc(1, sizeof(*impl));
    if (policy == NULL || impl == NULL) {
        free(policy);
        free(impl);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory");
    }
    sr_status status = sr_qpolicy_check_data(qp, ds, impl->model_map, err);
    if (status != SR_OK) {
        free(policy);
        free(impl);
        return status;
    }
    if (sr_qpolicy_lambda_conditioned(qp) && (lambda < 0 || lambda > qp->state.lambda_max))
        sr_log(SR_LOG_WARN,
               "qpolicy_lambda_extrapolated policy=%s lambda=%g lambda_max=%g reason=\"the "
               "network was trained on lambda in [0, lambda_max]\"",
               qp->path[0] ? qp->path : name, lambda, qp->state.lambda_max);
    impl->qp = qp;
    impl->owns = owns;
    impl->lambda = lambda;
    snprintf(policy->name, sizeof(policy->name), "%s", name);
    policy->impl = impl;
    policy->begin_session = adapter_begin_session;
    policy->act = adapter_act;
    policy->destroy = adapter_destroy;
    *out = policy;
    return SR_OK;
}

const char *sr_qpolicy_parse_name(const char *name, char *label, size_t label_size)
{
    static const char *const prefixes[] = {"cql:", "dqn:", "bc:", "myopic:", "policy:"};
    const size_t generic = sizeof(prefixes) / sizeof(prefixes[0]) - 1;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        const size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n) != 0)
            continue;
        if (label_size > 0)
            snprintf(label, label_size, "%.*s", i == generic ? 0 : (int)(n - 1), prefixes[i]);
        return name + n;
    }
    return NULL;
}
