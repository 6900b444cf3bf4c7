/*
 * nn.c - the multilayer perceptron, its losses and Adam.
 *
 * Memory.  sr_mlp_create makes two allocations besides the struct: the
 * parameter block (parameters, gradients, Adam m, Adam v: 4 P floats, each
 * region aligned to a cache line) and the workspace (every layer's output
 * for max_rows rows, then two backward scratch buffers of max_rows times
 * the widest layer).  Nothing else is allocated after creation.
 *
 * Forward, per layer: one sgemm Y = X W (NoTrans, NoTrans), then one pass
 * that adds the bias and applies ReLU.  Backward, per layer from the last:
 *   dZ = dY * 1[Y > 0]       (ReLU layers; masked in place, fused with db)
 *   db = sum over rows of dZ
 *   dW = X^T dZ              (sgemm Trans, NoTrans)
 *   dX = dZ W^T              (sgemm NoTrans, Trans; skipped for the first
 *                             layer unless the caller wants input gradients)
 * The ReLU mask uses the stored output Y: Y > 0 exactly where the
 * pre-activation is > 0, so no pre-activation copy is kept.  At exactly 0
 * the derivative is taken as 0.
 */
#include "seqroute/nn.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NN_HAVE_AVX2 1
#endif

/* Regions start on 64-byte boundaries (a cache line, an AVX-512 vector). */
#define NN_ALIGN_BYTES 64
#define NN_ALIGN_FLOATS (NN_ALIGN_BYTES / sizeof(float))

static size_t round_up_floats(size_t count)
{
    return (count + NN_ALIGN_FLOATS - 1) / NN_ALIGN_FLOATS * NN_ALIGN_FLOATS;
}

static float *alloc_floats(size_t count)
{
    size_t bytes = round_up_floats(count) * sizeof(float);
    return aligned_alloc(NN_ALIGN_BYTES, bytes);
}

/* ---- configuration and creation ------------------------------------------ */

sr_status sr_mlp_config_check(const sr_mlp_config *config, sr_error *err)
{
    if (config == NULL)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, NULL, "network config is NULL");
    if (config->input_dim < 1 || config->input_dim > SR_NN_MAX_WIDTH)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "input_dim",
                            "input dimension %d is out of range; use 1 to %d",
                            config->input_dim, SR_NN_MAX_WIDTH);
    if (config->output_dim < 1 || config->output_dim > SR_NN_MAX_WIDTH)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "output_dim",
                            "output dimension %d is out of range; use 1 to %d",
                            config->output_dim, SR_NN_MAX_WIDTH);
    if (config->hidden_count < 0 || config->hidden_count > SR_NN_MAX_HIDDEN)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "hidden",
                            "%d hidden layers requested; use 0 to %d", config->hidden_count,
                            SR_NN_MAX_HIDDEN);
    for (int l = 0; l < config->hidden_count; l++) {
        if (config->hidden[l] < 1 || config->hidden[l] > SR_NN_MAX_WIDTH)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "hidden",
                                "hidden layer %d has width %d; use 1 to %d", l + 1,
                                config->hidden[l], SR_NN_MAX_WIDTH);
    }
    if (config->max_rows < 1 || config->max_rows > SR_NN_MAX_ROWS)
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "max_rows",
                            "maximum batch %d is out of range; use 1 to %d", config->max_rows,
                            SR_NN_MAX_ROWS);
    return SR_OK;
}

/* Width of layer boundary l: 0 is the input, hidden_count + 1 the output. */
static int boundary_width(const sr_mlp_config *config, int l)
{
    if (l == 0)
        return config->input_dim;
    if (l <= config->hidden_count)
        return config->hidden[l - 1];
    return config->output_dim;
}

/* He-uniform for ReLU layers (gain sqrt(2)), gain 1 for the linear output. */
static void init_params(sr_mlp *net, uint64_t seed)
{
    sr_rng rng;
    sr_rng_seed(&rng, seed);

    for (int l = 0; l < net->layer_count; l++) {
        sr_dense_layer *layer = &net->layers[l];
        double fan_in = (double)layer->in;
        double bound = layer->relu ? sqrt(6.0 / fan_in) : sqrt(3.0 / fan_in);
        size_t count = (size_t)layer->in * (size_t)layer->out;
        for (size_t i = 0; i < count; i++)
            layer->weight[i] = (float)((2.0 * sr_rng_uniform(&rng) - 1.0) * bound);
        memset(layer->bias, 0, (size_t)layer->out * sizeof(float));
    }
}

sr_status sr_mlp_create(const sr_mlp_config *config, uint64_t seed, sr_mlp **out,
                        sr_error *err)
{
    *out = NULL;
    sr_status status = sr_mlp_config_check(config, err);
    if (status != SR_OK)
        return status;

    sr_mlp *net = calloc(1, sizeof(*net));
    if (net == NULL)
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL, "out of memory for a network");
    net->config = *config;
    net->layer_count = config->hidden_count + 1;

    /* Sizes: P parameters; outputs of every layer; the widest layer. */
    size_t param_count = 0;
    size_t output_floats = 0;
    int widest = config->input_dim;
    size_t rows = (size_t)config->max_rows;
    for (int l = 0; l < net->layer_count; l++) {
        size_t in = (size_t)boundary_width(config, l);
        size_t width = (size_t)boundary_width(config, l + 1);
        param_count += in * width + width;
        output_floats += round_up_floats(rows * width);
        if ((int)width > widest)
            widest = (int)width;
    }
    net->param_count = param_count;

    /* One block of four aligned regions: params, grads, Adam m, Adam v. */
    size_t region = round_up_floats(param_count);
    size_t delta_floats = round_up_floats(rows * (size_t)widest);
    net->params = alloc_floats(4 * region);
    net->workspace = alloc_floats(output_floats + 2 * delta_floats);
    if (net->params == NULL || net->workspace == NULL) {
        sr_mlp_destroy(net);
        return sr_error_set(err, SR_ERR_NOMEM, NULL, 0, NULL,
                            "out of memory for a network of %zu parameters and %d rows",
                            param_count, config->max_rows);
    }
    memset(net->params, 0, 4 * region * sizeof(float));
    memset(net->workspace, 0, (output_floats + 2 * delta_floats) * sizeof(float));
    net->grads = net->params + region;
    net->adam_m = net->grads + region;
    net->adam_v = net->adam_m + region;

    /* Carve the per-layer pointers out of the blocks. */
    size_t offset = 0;
    float *output = net->workspace;
    for (int l = 0; l < net->layer_count; l++) {
        sr_dense_layer *layer = &net->layers[l];
        layer->in = boundary_width(config, l);
        layer->out = boundary_width(config, l + 1);
        layer->relu = l + 1 < net->layer_count;
        layer->weight = net->params + offset;
        layer->weight_grad = net->grads + offset;
        offset += (size_t)layer->in * (size_t)layer->out;
        layer->bias = net->params + offset;
        layer->bias_grad = net->grads + offset;
        offset += (size_t)layer->out;
        layer->output = output;
        output += round_up_floats(rows * (size_t)layer->out);
    }
    net->delta[0] = output;
    net->delta[1] = output + delta_floats;

    init_params(net, seed);
    *out = net;
    return SR_OK;
}

void sr_mlp_destroy(sr_mlp *net)
{
    if (net == NULL)
        return;
    free(net->params);
    free(net->workspace);
    free(net);
}

/* ---- forward and backward ---------------------------------------------- */

/*
 * y[i][j] += bias[j], then ReLU when asked: one pass over [rows x width].
 * ReLU is written 0 > z ? 0 : z, which is what the AVX max instruction
 * computes with 0 as its first operand, so a NaN passes through to the
 * outputs (where the learner's guard detects it) instead of becoming 0.
 */
static void add_bias_activate(float *restrict y, int rows, int width,
                              const float *restrict bias, bool relu)
{
    for (int i = 0; i < rows; i++) {
        float *restrict row = y + (size_t)i * width;
        int j = 0;
#ifdef NN_HAVE_AVX2
        __m256 zero = _mm256_setzero_ps();
        for (; j + 8 <= width; j += 8) {
            __m256 z = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(bias + j));
            _mm256_storeu_ps(row + j, relu ? _mm256_max_ps(zero, z) : z);
        }
#endif
        for (; j < width; j++) {
            float z = row[j] + bias[j];
            row[j] = relu && 0.0f > z ? 0.0f : z;
        }
    }
}

const float *sr_mlp_forward(sr_mlp *net, const float *input, int rows)
{
    assert(rows >= 1);
    assert(rows <= net->config.max_rows);

    const float *x = input;
    for (int l = 0; l < net->layer_count; l++) {
        sr_dense_layer *layer = &net->layers[l];
        sr_sgemm(false, false, rows, layer->out, layer->in, 1.0f, x, layer->in, layer->weight,
                 layer->out, 0.0f, layer->output, layer->out);
        add_bias_activate(layer->output, rows, layer->out, layer->bias, layer->relu);
        x = layer->output;
    }
    net->last_input = input;
    net->last_rows = rows;
    return x;
}

/*
 * ReLU backward in place (dz = dy where y > 0, else 0) fused with the bias
 * gradient db = column sums of dz, summed row after row in both paths.
 */
static void relu_mask_bias_grad(float *restrict dz, const float *restrict y, int rows, int width,
                                float *restrict bias_grad)
{
    memset(bias_grad, 0, (size_t)width * sizeof(float));
    for (int i = 0; i < rows; i++) {
        float *restrict drow = dz + (size_t)i * width;
        const float *restrict yrow = y + (size_t)i * width;
        int j = 0;
#ifdef NN_HAVE_AVX2
        __m256 zero = _mm256_setzero_ps();
        for (; j + 8 <= width; j += 8) {
            __m256 positive = _mm256_cmp_ps(_mm256_loadu_ps(yrow + j), zero, _CMP_GT_OQ);
            __m256 d = _mm256_and_ps(positive, _mm256_loadu_ps(drow + j));
            _mm256_storeu_ps(drow + j, d);
            _mm256_storeu_ps(bias_grad + j, _mm256_add_ps(_mm256_loadu_ps(bias_grad + j), d));
        }
#endif
        for (; j < width; j++) {
            float d = yrow[j] > 0.0f ? drow[j] : 0.0f;
            drow[j] = d;
            bias_grad[j] += d;
        }
    }
}

/* Bias gradient of a linear layer: db = column sums of dz. */
static void bias_grad_sum(const float *restrict dz, int rows, int width, float *restrict bias_grad)
{
    memset(bias_grad, 0, (size_t)width * sizeof(float));
    for (int i = 0; i < rows; i++) {
        const float *restrict drow = dz + (size_t)i * width;
        for (int j = 0; j < width; j++)
            bias_grad[j] += drow[j];
    }
}

void sr_mlp_backward(sr_mlp *net, const float *grad_output, int rows, float *grad_input)
{
    assert(rows >= 1);
    assert(rows <= net->last_rows);

    /*
     * The last layer is linear, so its dZ is the caller's dL/dY, read-only.
     * Every earlier dZ is dX of the layer above, in our scratch buffers.
     */
    const float *dz = grad_output;
    float *scratch_dz = NULL;
    int scratch = 0;
    for (int l = net->layer_count - 1; l >= 0; l--) {
        sr_dense_layer *layer = &net->layers[l];
        const float *x = l == 0 ? net->last_input : net->layers[l - 1].output;

        /* db, and for ReLU layers mask dZ in place first. */
        if (layer->relu)
            relu_mask_bias_grad(scratch_dz, layer->output, rows, layer->out, layer->bias_grad);
        else
            bias_grad_sum(dz, rows, layer->out, layer->bias_grad);

        /* dW [in x out] = X^T [in x rows] dZ [rows x out]. */
        sr_sgemm(true, false, layer->in, layer->out, rows, 1.0f, x, layer->in, dz, layer->out,
                 0.0f, layer->weight_grad, layer->out);

        /* dX [rows x in] = dZ [rows x out] W^T [out x in]. */
        float *dx = l == 0 ? grad_input : net->delta[scratch];
        if (dx != NULL)
            sr_sgemm(false, true, rows, layer->in, layer->out, 1.0f, dz, layer->out,
                     layer->weight, layer->out, 0.0f, dx, layer->in);
        dz = dx;
        scratch_dz = dx;
        scratch ^= 1;
    }
}

/* ---- parameter helpers -------------------------------------------------- */

void sr_mlp_copy_params(sr_mlp *dst, const sr_mlp *src)
{
    assert(dst->param_count == src->param_count);
    memcpy(dst->params, src->params, src->param_count * sizeof(float));
}

void sr_mlp_polyak_update(sr_mlp *dst, const sr_mlp *src, float tau)
{
    assert(dst->param_count == src->param_count);
    float *restrict d = dst->params;
    const float *restrict s = src->params;
    for (size_t i = 0; i < src->param_count; i++)
        d[i] += tau * (s[i] - d[i]);
}

double sr_mlp_grad_norm(const sr_mlp *net)
{
    /* Eight partial sums in double, lane i taking indices i mod 8: a fixed order. */
    const float *g = net->grads;
    size_t count = net->param_count;
    size_t i = 0;
    double sum = 0.0;
#ifdef NN_HAVE_AVX2
    __m256d low = _mm256_setzero_pd();
    __m256d high = _mm256_setzero_pd();
    for (; i + 8 <= count; i += 8) {
        __m256 x = _mm256_load_ps(g + i);
        __m256d x_low = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
        __m256d x_high = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        low = _mm256_add_pd(low, _mm256_mul_pd(x_low, x_low));
        high = _mm256_add_pd(high, _mm256_mul_pd(x_high, x_high));
    }
    double lanes[8];
    _mm256_storeu_pd(lanes, low);
    _mm256_storeu_pd(lanes + 4, high);
    for (int lane = 0; lane < 8; lane++)
        sum += lanes[lane];
#endif
    for (; i < count; i++)
        sum += (double)g[i] * (double)g[i];
    return sqrt(sum);
}

void sr_mlp_reset_adam(sr_mlp *net)
{
    memset(net->adam_m, 0, net->param_count * sizeof(float));
    memset(net->adam_v, 0, net->param_count * sizeof(float));
}

/* ---- Adam -------------------------------------------------------------- */

void sr_adam_config_default(sr_adam_config *config)
{
    config->lr = 1e-4f;    /* the learning rate of the Q-network in the method's defaults */
    config->beta1 = 0.9f;  /* Kingma and Ba's defaults, also PyTorch's */
    config->beta2 = 0.999f;
    config->eps = 1e-8f;
}

/*
 * Updates p, m and v at indices [begin, end) in scalar code.  The vector
 * loop in sr_mlp_adam_step does the same operations in the same order.
 */
static void adam_scalar(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, size_t begin, size_t end, float scale, float beta1,
                        float beta2, float step_size, float inv_sqrt_bc2, float eps)
{
    float one_minus_beta1 = 1.0f - beta1;
    float one_minus_beta2 = 1.0f - beta2;
    for (size_t i = begin; i < end; i++) {
        float grad = g[i] * scale;
        float mi = beta1 * m[i] + one_minus_beta1 * grad;
        float vi = beta2 * v[i] + one_minus_beta2 * (grad * grad);
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

void sr_mlp_adam_step(sr_mlp *net, const sr_adam_config *config, int64_t step, float grad_scale)
{
    assert(step >= 1);

    /* Bias corrections in double: beta2^step stays accurate for long runs. */
    double bc1 = 1.0 - pow((double)config->beta1, (double)step);
    double bc2 = 1.0 - pow((double)config->beta2, (double)step);
    float step_size = (float)((double)config->lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));

    float *p = net->params;
    const float *g = net->grads;
    float *m = net->adam_m;
    float *v = net->adam_v;
    size_t count = net->param_count;
    size_t i = 0;

#ifdef NN_HAVE_AVX2
    /* Eight lanes; no FMA, so each lane rounds exactly as adam_scalar does. */
    __m256 b1 = _mm256_set1_ps(config->beta1);
    __m256 b2 = _mm256_set1_ps(config->beta2);
    __m256 omb1 = _mm256_set1_ps(1.0f - config->beta1);
    __m256 omb2 = _mm256_set1_ps(1.0f - config->beta2);
    __m256 scale = _mm256_set1_ps(grad_scale);
    __m256 lr = _mm256_set1_ps(step_size);
    __m256 inv_bc2 = _mm256_set1_ps(inv_sqrt_bc2);
    __m256 eps = _mm256_set1_ps(config->eps);
    for (; i + 8 <= count; i += 8) {
        __m256 grad = _mm256_mul_ps(_mm256_load_ps(g + i), scale);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_load_ps(m + i)),
                                  _mm256_mul_ps(omb1, grad));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_load_ps(v + i)),
                                  _mm256_mul_ps(omb2, _mm256_mul_ps(grad, grad)));
        _mm256_store_ps(m + i, mi);
        _mm256_store_ps(v + i, vi);
        __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), inv_bc2), eps);
        __m256 update = _mm256_div_ps(_mm256_mul_ps(lr, mi), denom);
        _mm256_store_ps(p + i, _mm256_sub_ps(_mm256_load_ps(p + i), update));
    }
#endif
    adam_scalar(p, g, m, v, i, count, grad_scale, config->beta1, config->beta2, step_size,
                inv_sqrt_bc2, config->eps);
}

/* ---- losses ------------------------------------------------------------ */

float sr_nn_huber(float x)
{
    float a = fabsf(x);
    return a <= 1.0f ? 0.5f * x * x : a - 0.5f;
}

float sr_nn_huber_grad(float x)
{
    if (x > 1.0f)
        return 1.0f;
    if (x < -1.0f)
        return -1.0f;
    return x;
}

static float max_of(const float *x, int n)
{
    float m = x[0];
    for (int j = 1; j < n; j++) {
        if (x[j] > m || isnan(x[j]))
            m = x[j];
    }
    return m;
}

float sr_nn_logsumexp(const float *x, int n)
{
    float m = max_of(x, n);
    /* All -inf gives -inf; +inf or NaN propagate as themselves. */
    if (!isfinite(m))
        return m;
    double sum = 0.0;
    for (int j = 0; j < n; j++)
        sum += exp((double)(x[j] - m));
    return m + (float)log(sum);
}

void sr_nn_softmax(const float *x, int n, float *out)
{
    float m = max_of(x, n);
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        double e = exp((double)(x[j] - m));
        out[j] = (float)e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < n; j++)
        out[j] *= inv;
}

sr_status sr_nn_check_weights(const float *weights, int n, double *sum, sr_error *err)
{
    if (weights == NULL) {
        *sum = (double)n;
        return SR_OK;
    }
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(weights[i]) || weights[i] < 0.0f)
            return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "weights",
                                "sample weight %d is %g; weights must be finite and >= 0", i,
                                (double)weights[i]);
        total += weights[i];
    }
    if (!(total > 0.0))
        return sr_error_set(err, SR_ERR_INVALID, NULL, 0, "weights",
                            "sample weights sum to 0; give at least one sample a weight > 0");
    *sum = total;
    return SR_OK;
}

static double weights_total(const float *weights, int n)
{
    if (weights == NULL)
        return (double)n;
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += weights[i];
    return total;
}

/*
 * Shared row kernel: writes w (td_grad 1[j = a] + alpha (softmax_j - 1[j = a]))
 * into grad and returns logsumexp - q[a].
 */
static double row_softmax_grad(const float *q, int k, int action, float w, float alpha,
                               float td_grad, float *grad)
{
    float m = max_of(q, k);
    double sum = 0.0;
    for (int j = 0; j < k; j++)
        sum += exp((double)(q[j] - m));
    double lse = (double)m + log(sum);
    for (int j = 0; j < k; j++) {
        double softmax = exp((double)(q[j] - m)) / sum;
        grad[j] = w * alpha * (float)softmax;
    }
    grad[action] += w * (td_grad - alpha);
    return lse - (double)q[action];
}

void sr_nn_td_cql_loss(const float *q, int n, int k, const int32_t *actions,
                       const float *targets, const float *weights, float alpha, float *grad_q,
                       sr_q_loss *loss)
{
    double total_weight = weights_total(weights, n);
    double td = 0.0;
    double cql = 0.0;
    for (int i = 0; i < n; i++) {
        const float *row = q + (size_t)i * k;
        int a = actions[i];
        float w = (float)((weights == NULL ? 1.0 : (double)weights[i]) / total_weight);
        float delta = row[a] - targets[i];
        double gap = row_softmax_grad(row, k, a, w, alpha, sr_nn_huber_grad(delta),
                                      grad_q + (size_t)i * k);
        td += (double)w * (double)sr_nn_huber(delta);
        cql += (double)w * gap;
    }
    loss->td = td;
    loss->cql = cql;
    loss->total = td + (double)alpha * cql;
}

void sr_nn_cross_entropy_loss(const float *q, int n, int k, const int32_t *actions,
                              const float *weights, float *grad_q, sr_q_loss *loss)
{
    double total_weight = weights_total(weights, n);
    double ce = 0.0;
    for (int i = 0; i < n; i++) {
        const float *row = q + (size_t)i * k;
        float w = (float)((weights == NULL ? 1.0 : (double)weights[i]) / total_weight);
        ce += (double)w * row_softmax_grad(row, k, actions[i], w, 1.0f, 0.0f,
                                           grad_q + (size_t)i * k);
    }
    loss->td = 0.0;
    loss->cql = ce;
    loss->total = ce;
}

void sr_nn_double_dqn_targets(const float *q_online_next, const float *q_target_next, int n,
                              int k, const float *rewards, const uint8_t *terminal,
                              const uint8_t *next_mask, float gamma, float *targets,
                              int32_t *chosen)
{
    for (int i = 0; i < n; i++) {
        const float *online = q_online_next + (size_t)i * k;
        const uint8_t *mask = next_mask == NULL ? NULL : next_mask + (size_t)i * k;

        /* argmax over the allowed models; the first wins a tie. */
        int best = -1;
        for (int j = 0; j < k; j++) {
            if (mask != NULL && mask[j] == 0)
                continue;
            if (best < 0 || online[j] > online[best])
                best = j;
        }

        bool stop = (terminal != NULL && terminal[i] != 0) || best < 0;
        float bootstrap = stop ? 0.0f : gamma * q_target_next[(size_t)i * k + best];
        targets[i] = rewards[i] + bootstrap;
        if (chosen != NULL)
            chosen[i] = best;
    }
}
