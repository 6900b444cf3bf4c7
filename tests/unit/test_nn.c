/*
 * test_nn.c - the sgemm wrapper, the MLP forward and backward passes, the
 * losses and Adam.
 *
 * The sgemm wrapper is compared with the reference loops on odd shapes and
 * every transpose.  Network gradients are compared with central finite
 * differences of a double-precision reference forward (nn_reference.h).
 * Losses, Huber, logsumexp and two Adam steps are checked against values
 * worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_reference.h"
#include "seqroute/nn.h"

static float *random_floats(sr_rng *rng, size_t count)
{
    float *x = malloc(count * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < count; i++)
        x[i] = (float)(2.0 * sr_rng_uniform(rng) - 1.0);
    return x;
}

/* A small network 5 -> 7 -> 6 -> 3, as in the gradient tests. */
static sr_mlp *small_net(uint64_t seed, int max_rows)
{
    sr_mlp_config config = {.input_dim = 5, .hidden_count = 2, .hidden = {7, 6},
                            .output_dim = 3, .max_rows = max_rows};
    sr_mlp *net = NULL;
    sr_error err;
    assert_int_equal(sr_mlp_create(&config, seed, &net, &err), SR_OK);

    /* Non-zero biases, so the bias paths are exercised too. */
    sr_rng rng;
    sr_rng_seed(&rng, seed + 1000);
    for (int l = 0; l < net->layer_count; l++) {
        for (int o = 0; o < net->layers[l].out; o++)
            net->layers[l].bias[o] = (float)(0.2 * (2.0 * sr_rng_uniform(&rng) - 1.0));
    }
    return net;
}

/* ---- sgemm ---------------------------------------------------------------- */

/*
 * Both paths compute the same sum; OpenBLAS accumulates in float, whose
 * error is at most about k * 2^-24 * sum |a b| (k <= 65 here, so under
 * 4e-6 of that sum).  The tolerance is 1e-5 of the sum of absolute terms.
 */
static void check_sgemm_shape(bool ta, bool tb, int m, int n, int k, float alpha, float beta)
{
    sr_rng rng;
    sr_rng_seed(&rng, (uint64_t)(m * 10007 + n * 101 + k + (ta ? 1 : 0) * 7 + (tb ? 1 : 0) * 3));

    /* Row strides larger than needed, to catch ld mistakes. */
    int a_rows = ta ? k : m, a_cols = ta ? m : k;
    int b_rows = tb ? n : k, b_cols = tb ? k : n;
    int lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 1;
    float *a = random_floats(&rng, (size_t)a_rows * lda);
    float *b = random_floats(&rng, (size_t)b_rows * ldb);
    float *c_blas = random_floats(&rng, (size_t)m * ldc);
    float *c_ref = malloc((size_t)m * ldc * sizeof(float));
    assert_non_null(c_ref);
    memcpy(c_ref, c_blas, (size_t)m * ldc * sizeof(float));
    float *c_before = malloc((size_t)m * ldc * sizeof(float));
    assert_non_null(c_before);
    memcpy(c_before, c_blas, (size_t)m * ldc * sizeof(float));

    sr_nn_set_reference(false);
    sr_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c_blas, ldc);
    sr_sgemm_reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c_ref, ldc);

    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double magnitude = fabs((double)beta * c_before[(size_t)i * ldc + j]);
            for (int p = 0; p < k; p++) {
                double aa = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bb = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                magnitude += fabs(alpha * aa * bb);
            }
            double diff = fabs((double)c_blas[(size_t)i * ldc + j] - c_ref[(size_t)i * ldc + j]);
            if (diff > 1e-5 * magnitude + 1e-30)
                fail_msg("sgemm ta=%d tb=%d m=%d n=%d k=%d: C[%d][%d] blas %.9g ref %.9g", ta,
                         tb, m, n, k, i, j, (double)c_blas[(size_t)i * ldc + j],
                         (double)c_ref[(size_t)i * ldc + j]);
        }
        /* The padding column of C is never written. */
        assert_true(c_blas[(size_t)i * ldc + n] == c_before[(size_t)i * ldc + n]);
    }
    free(a);
    free(b);
    free(c_blas);
    free(c_ref);
    free(c_before);
}

static void test_sgemm_matches_reference(void **state)
{
    (void)state;
    /* Odd shapes: single rows and columns, sizes that are not multiples of 8. */
    static const int shapes[][3] = {
        {1, 1, 1}, {1, 7, 5}, {9, 1, 13}, {13, 17, 11}, {33, 9, 65}, {2, 31, 1}, {17, 24, 40},
    };
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        for (int t = 0; t < 4; t++) {
            bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            check_sgemm_shape(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f);
            check_sgemm_shape(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], -1.5f, 0.5f);
        }
    }
}

static void test_sgemm_beta_zero_ignores_nan(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6}; /* [2 x 3] */
    float b[3] = {1, 0, -1};         /* [3 x 1] */
    float c_blas[2] = {NAN, NAN};
    float c_ref[2] = {NAN, NAN};
    sr_sgemm(false, false, 2, 1, 3, 1.0f, a, 3, b, 1, 0.0f, c_blas, 1);
    sr_sgemm_reference(false, false, 2, 1, 3, 1.0f, a, 3, b, 1, 0.0f, c_ref, 1);
    assert_float_equal(c_blas[0], -2.0f, 0.0f);
    assert_float_equal(c_blas[1], -2.0f, 0.0f);
    assert_float_equal(c_ref[0], -2.0f, 0.0f);
    assert_float_equal(c_ref[1], -2.0f, 0.0f);
}

/* ---- network creation ------------------------------------------------------ */

static void test_config_rejects_bad_sizes(void **state)
{
    (void)state;
    sr_error err;
    sr_mlp *net = NULL;
    sr_mlp_config good = {.input_dim = 4, .hidden_count = 1, .hidden = {8}, .output_dim = 2,
                          .max_rows = 4};
    assert_int_equal(sr_mlp_config_check(&good, &err), SR_OK);

    sr_mlp_config bad = good;
    bad.input_dim = 0;
    assert_int_equal(sr_mlp_create(&bad, 1, &net, &err), SR_ERR_INVALID);
    assert_null(net);
    assert_string_equal(err.field, "input_dim");

    bad = good;
    bad.hidden[0] = -3;
    assert_int_equal(sr_mlp_config_check(&bad, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "hidden");

    bad = good;
    bad.hidden_count = SR_NN_MAX_HIDDEN + 1;
    assert_int_equal(sr_mlp_config_check(&bad, &err), SR_ERR_INVALID);

    bad = good;
    bad.max_rows = 0;
    assert_int_equal(sr_mlp_config_check(&bad, &err), SR_ERR_INVALID);
    assert_string_equal(err.field, "max_rows");

    bad = good;
    bad.output_dim = SR_NN_MAX_WIDTH + 1;
    assert_int_equal(sr_mlp_config_check(&bad, &err), SR_ERR_INVALID);
}

static void test_layout_is_one_block(void **state)
{
    (void)state;
    sr_mlp *net = small_net(3, 4);

    /* P = 5*7 + 7 + 7*6 + 6 + 6*3 + 3 = 111. */
    assert_int_equal(net->param_count, 111);
    assert_int_equal(net->layer_count, 3);
    assert_ptr_equal(net->layers[0].weight, net->params);
    assert_ptr_equal(net->layers[0].bias, net->params + 35);
    assert_ptr_equal(net->layers[1].weight, net->params + 42);
    assert_ptr_equal(net->layers[2].bias, net->params + 108);
    assert_ptr_equal(net->layers[2].bias_grad, net->grads + 108);
    assert_true(net->grads >= net->params + net->param_count);
    assert_true(net->adam_m >= net->grads + net->param_count);
    assert_true(net->adam_v >= net->adam_m + net->param_count);
    assert_true(net->layers[0].relu);
    assert_true(net->layers[1].relu);
    assert_false(net->layers[2].relu);
    sr_mlp_destroy(net);
}

static void test_init_he_uniform_deterministic(void **state)
{
    (void)state;
    sr_mlp_config config = {.input_dim = 24, .hidden_count = 1, .hidden = {40},
                            .output_dim = 3, .max_rows = 2};
    sr_mlp *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(sr_mlp_create(&config, 11, &a, NULL), SR_OK);
    assert_int_equal(sr_mlp_create(&config, 11, &b, NULL), SR_OK);
    assert_int_equal(sr_mlp_create(&config, 12, &c, NULL), SR_OK);

    assert_memory_equal(a->params, b->params, a->param_count * sizeof(float));
    assert_memory_not_equal(a->params, c->params, a->param_count * sizeof(float));

    /* ReLU layer: |w| <= sqrt(6 / 24) = 0.5; linear output: sqrt(3 / 40). */
    float relu_max = 0.0f, linear_max = 0.0f;
    for (int i = 0; i < 24 * 40; i++)
        relu_max = fmaxf(relu_max, fabsf(a->layers[0].weight[i]));
    for (int i = 0; i < 40 * 3; i++)
        linear_max = fmaxf(linear_max, fabsf(a->layers[1].weight[i]));
    assert_true(relu_max <= 0.5f);
    assert_true(relu_max > 0.45f); /* 960 draws reach close to the bound */
    assert_true(linear_max <= sqrtf(3.0f / 40.0f));
    for (int o = 0; o < 40; o++)
        assert_true(a->layers[0].bias[o] == 0.0f);
    sr_mlp_destroy(a);
    sr_mlp_destroy(b);
    sr_mlp_destroy(c);
}

/* ---- forward and backward ------------------------------------------------ */

static void test_forward_matches_double_reference(void **state)
{
    (void)state;
    sr_mlp *net = small_net(5, 6);
    sr_rng rng;
    sr_rng_seed(&rng, 99);
    float *x = random_floats(&rng, 6 * 5);
    double params[111];
    ref_params_from(net, params);
    double expected[6 * 3];
    double x_double[6 * 5];
    ref_to_double(x, 6 * 5, x_double);
    ref_forward(net, params, x_double, 6, expected);

    for (int use_reference = 0; use_reference < 2; use_reference++) {
        sr_nn_set_reference(use_reference != 0);
        const float *y = sr_mlp_forward(net, x, 6);
        for (int i = 0; i < 6 * 3; i++)
            assert_float_equal(y[i], expected[i], 1e-5);
    }
    sr_nn_set_reference(false);
    free(x);
    sr_mlp_destroy(net);
}

/* L = sum_ij c_ij Y_ij, so dL/dY = c; FD on every parameter and every input. */
static void check_backward_fd(bool use_reference)
{
    enum { N = 4, D = 5, K = 3 };
    sr_nn_set_reference(use_reference);
    sr_mlp *net = small_net(21, N);
    sr_rng rng;
    sr_rng_seed(&rng, 5);
    float *x = random_floats(&rng, N * D);
    float *c = random_floats(&rng, N * K);
    float grad_x[N * D];

    sr_mlp_forward(net, x, N);
    sr_mlp_backward(net, c, N, grad_x);

    double params[111];
    double y[N * K];
    double xd[N * D];
    ref_params_from(net, params);
    ref_to_double(x, N * D, xd);
    for (size_t p = 0; p < net->param_count; p++) {
        double saved = params[p];
        double loss[2];
        for (int side = 0; side < 2; side++) {
            params[p] = saved + (side == 0 ? REF_FD_STEP : -REF_FD_STEP);
            ref_forward(net, params, xd, N, y);
            loss[side] = 0.0;
            for (int i = 0; i < N * K; i++)
                loss[side] += (double)c[i] * y[i];
        }
        params[p] = saved;
        double numeric = (loss[0] - loss[1]) / (2.0 * REF_FD_STEP);
        if (!ref_gradient_close(net->grads[p], numeric))
            fail_msg("parameter %zu: analytic %.8g, finite difference %.8g", p,
                     (double)net->grads[p], numeric);
    }

    /* Input gradients, with the same central differences on x. */
    for (int i = 0; i < N * D; i++) {
        double saved = xd[i];
        double loss[2];
        for (int side = 0; side < 2; side++) {
            xd[i] = saved + (side == 0 ? REF_FD_STEP : -REF_FD_STEP);
            ref_forward(net, params, xd, N, y);
            loss[side] = 0.0;
            for (int j = 0; j < N * K; j++)
                loss[side] += (double)c[j] * y[j];
        }
        xd[i] = saved;
        double numeric = (loss[0] - loss[1]) / (2.0 * REF_FD_STEP);
        if (!ref_gradient_close(grad_x[i], numeric))
            fail_msg("input %d: analytic %.8g, finite difference %.8g", i, (double)grad_x[i],
                     numeric);
    }
    sr_nn_set_reference(false);
    free(x);
    free(c);
    sr_mlp_destroy(net);
}

static void test_backward_matches_fd_blas(void **state)
{
    (void)state;
    check_backward_fd(false);
}

static void test_backward_matches_fd_reference(void **state)
{
    (void)state;
    check_backward_fd(true);
}

static void test_backward_fewer_rows_than_forward(void **state)
{
    (void)state;
    /* Backward on the first 2 of 4 forward rows equals a 2-row forward. */
    sr_mlp *a = small_net(8, 4);
    sr_mlp *b = small_net(8, 4);
    sr_rng rng;
    sr_rng_seed(&rng, 17);
    float *x = random_floats(&rng, 4 * 5);
    float g[2 * 3] = {0.5f, -1.0f, 0.25f, 2.0f, 0.0f, -0.75f};
    sr_mlp_forward(a, x, 4);
    sr_mlp_backward(a, g, 2, NULL);
    sr_mlp_forward(b, x, 2);
    sr_mlp_backward(b, g, 2, NULL);
    for (size_t p = 0; p < a->param_count; p++)
        assert_float_equal(a->grads[p], b->grads[p], 1e-6);
    free(x);
    sr_mlp_destroy(a);
    sr_mlp_destroy(b);
}

/* ---- parameter helpers and Adam ------------------------------------------- */

/* 1 -> 1 linear network: exactly two parameters, w then b. */
static sr_mlp *two_param_net(void)
{
    sr_mlp_config config = {.input_dim = 1, .hidden_count = 0, .output_dim = 1, .max_rows = 1};
    sr_mlp *net = NULL;
    assert_int_equal(sr_mlp_create(&config, 1, &net, NULL), SR_OK);
    assert_int_equal(net->param_count, 2);
    return net;
}

/*
 * Float Adam against values computed in exact decimal.  Every float step
 * rounds (1e-6 relative covers it), and the float 0.999f is 0.99900001287,
 * so 1 - beta2 and hence v are 1.3e-5 relatively below the decimal values:
 * the v checks allow 2e-5.  The parameters do not see that error, because
 * the bias correction divides it out.
 */
static bool close_relative(float actual, double expected)
{
    return fabs((double)actual - expected) <= 1e-6 * fabs(expected);
}

static bool close_v(float actual, double expected)
{
    return fabs((double)actual - expected) <= 2e-5 * fabs(expected);
}

static void test_adam_two_steps_by_hand(void **state)
{
    (void)state;
    sr_mlp *net = two_param_net();
    sr_adam_config adam = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    net->params[0] = 1.0f;
    net->params[1] = -0.5f;

    /*
     * Step 1, g = (0.5, -2):
     *   m = 0.1 g = (0.05, -0.2), v = 0.001 g^2 = (0.00025, 0.004)
     *   m_hat = m / 0.1 = g, v_hat = v / 0.001 = g^2, so the update is
     *   lr * g / (|g| + 1e-8) = (0.099999998, -0.0999999995)
     *   p = (0.900000002, -0.4000000005)
     */
    net->grads[0] = 0.5f;
    net->grads[1] = -2.0f;
    sr_mlp_adam_step(net, &adam, 1, 1.0f);
    assert_true(close_relative(net->adam_m[0], 0.05));
    assert_true(close_relative(net->adam_m[1], -0.2));
    assert_true(close_v(net->adam_v[0], 0.00025));
    assert_true(close_v(net->adam_v[1], 0.004));
    assert_true(close_relative(net->params[0], 0.900000002));
    assert_true(close_relative(net->params[1], -0.4000000005));

    /*
     * Step 2, g = (-1, 0.25); bias corrections 1 - 0.9^2 = 0.19 and
     * 1 - 0.999^2 = 0.001999.
     *   w: m = 0.9 * 0.05 - 0.1 = -0.055, v = 0.999 * 0.00025 + 0.001 = 0.00124975
     *      m_hat = -0.289473684, v_hat = 0.625187594, sqrt = 0.790688...
     *      p = 0.900000002 + 0.1 * 0.289473684 / 0.790688 = 0.936610354
     *   b: m = -0.18 + 0.025 = -0.155, v = 0.003996 + 0.0000625 = 0.0040585
     *      m_hat = -0.815789474, v_hat = 2.030265133, sqrt = 1.424874...
     *      p = -0.4000000005 + 0.1 * 0.815789474 / 1.424874 = -0.342746543
     */
    net->grads[0] = -1.0f;
    net->grads[1] = 0.25f;
    sr_mlp_adam_step(net, &adam, 2, 1.0f);
    assert_true(close_relative(net->adam_m[0], -0.055));
    assert_true(close_relative(net->adam_m[1], -0.155));
    assert_true(close_v(net->adam_v[0], 0.00124975));
    assert_true(close_v(net->adam_v[1], 0.0040585));
    assert_true(close_relative(net->params[0], 0.936610354));
    assert_true(close_relative(net->params[1], -0.342746543));
    sr_mlp_destroy(net);
}

static void test_adam_grad_scale_halves_gradient(void **state)
{
    (void)state;
    sr_mlp *a = two_param_net();
    sr_mlp *b = two_param_net();
    sr_adam_config adam;
    sr_adam_config_default(&adam);
    a->grads[0] = 4.0f;
    a->grads[1] = -6.0f;
    b->grads[0] = 2.0f;
    b->grads[1] = -3.0f;
    sr_mlp_adam_step(a, &adam, 1, 0.5f);
    sr_mlp_adam_step(b, &adam, 1, 1.0f);
    assert_memory_equal(a->params, b->params, 2 * sizeof(float));
    assert_memory_equal(a->adam_m, b->adam_m, 2 * sizeof(float));
    assert_memory_equal(a->adam_v, b->adam_v, 2 * sizeof(float));
    sr_mlp_destroy(a);
    sr_mlp_destroy(b);
}

static void test_adam_vector_path_matches_scalar(void **state)
{
    (void)state;
    /* 111 parameters: 13 vector groups of 8 and a scalar tail of 7. */
    sr_mlp *net = small_net(4, 1);
    double expected[111];
    sr_adam_config adam = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    for (size_t i = 0; i < net->param_count; i++) {
        net->grads[i] = (float)i * 0.01f - 0.5f;
        double g = net->grads[i];
        double m = 0.1 * g, v = 0.001 * g * g;
        expected[i] = net->params[i] - 0.01 * (m / 0.1) / (sqrt(v / 0.001) + 1e-8);
    }
    sr_mlp_adam_step(net, &adam, 1, 1.0f);
    for (size_t i = 0; i < net->param_count; i++)
        assert_float_equal(net->params[i], expected[i], 1e-6);
    sr_mlp_destroy(net);
}

static void test_grad_norm_by_hand(void **state)
{
    (void)state;
    sr_mlp *net = small_net(2, 1);
    memset(net->grads, 0, net->param_count * sizeof(float));
    net->grads[0] = 3.0f;
    net->grads[50] = -4.0f;
    net->grads[110] = 12.0f; /* in the scalar tail */
    assert_float_equal(sr_mlp_grad_norm(net), 13.0, 1e-12);
    sr_mlp_destroy(net);
}

static void test_copy_and_polyak(void **state)
{
    (void)state;
    sr_mlp *a = two_param_net();
    sr_mlp *b = two_param_net();
    a->params[0] = 2.0f;
    a->params[1] = -4.0f;
    b->params[0] = 0.0f;
    b->params[1] = 0.0f;
    /* dst = 0.75 dst + 0.25 src = (0.5, -1). */
    sr_mlp_polyak_update(b, a, 0.25f);
    assert_float_equal(b->params[0], 0.5f, 1e-7);
    assert_float_equal(b->params[1], -1.0f, 1e-7);
    sr_mlp_copy_params(b, a);
    assert_memory_equal(a->params, b->params, 2 * sizeof(float));
    sr_mlp_destroy(a);
    sr_mlp_destroy(b);
}

/* ---- losses -------------------------------------------------------------- */

static void test_huber_branches(void **state)
{
    (void)state;
    assert_float_equal(sr_nn_huber(0.5f), 0.125f, 0.0f);
    assert_float_equal(sr_nn_huber(-0.5f), 0.125f, 0.0f);
    assert_float_equal(sr_nn_huber(1.0f), 0.5f, 0.0f);
    assert_float_equal(sr_nn_huber(-1.0f), 0.5f, 0.0f);
    assert_float_equal(sr_nn_huber(3.0f), 2.5f, 0.0f);
    assert_float_equal(sr_nn_huber(-2.0f), 1.5f, 0.0f);
    assert_float_equal(sr_nn_huber_grad(0.5f), 0.5f, 0.0f);
    assert_float_equal(sr_nn_huber_grad(1.0f), 1.0f, 0.0f);
    assert_float_equal(sr_nn_huber_grad(-1.0f), -1.0f, 0.0f);
    assert_float_equal(sr_nn_huber_grad(3.0f), 1.0f, 0.0f);
    assert_float_equal(sr_nn_huber_grad(-2.0f), -1.0f, 0.0f);
}

static void test_logsumexp_stable(void **state)
{
    (void)state;
    float mixed[2] = {1000.0f, -1000.0f};
    float high[2] = {1000.0f, 1000.0f};
    float low[2] = {-1000.0f, -1000.0f};
    float single[1] = {-3.5f};
    assert_float_equal(sr_nn_logsumexp(mixed, 2), 1000.0f, 0.0f);
    assert_float_equal(sr_nn_logsumexp(high, 2), 1000.0 + log(2.0), 1e-3);
    assert_float_equal(sr_nn_logsumexp(low, 2), -1000.0 + log(2.0), 1e-3);
    assert_float_equal(sr_nn_logsumexp(single, 1), -3.5f, 0.0f);

    float p[2];
    sr_nn_softmax(mixed, 2, p);
    assert_float_equal(p[0], 1.0f, 0.0f);
    assert_float_equal(p[1], 0.0f, 0.0f);
    sr_nn_softmax(low, 2, p);
    assert_float_equal(p[0], 0.5f, 1e-7);
    assert_float_equal(p[1], 0.5f, 1e-7);
}

/* ln(1 + e^-1) and the two-way softmax of a gap of 1. */
#define LOG1P_EXP_M1 0.31326168751822286
#define SIGMOID_M1 0.2689414213699951
#define SIGMOID_P1 0.7310585786300049

static void test_td_cql_loss_by_hand(void **state)
{
    (void)state;
    /*
     * q = [[1, 2], [0, -1]], a = (1, 0), y = (0.5, 2.5), weights (1, 3)
     * so w = (0.25, 0.75), alpha = 1.
     * Row 0: delta = 1.5 -> Huber 1.0, huber' 1; logsumexp - q_a = ln(1 + e^-1).
     * Row 1: delta = -2.5 -> Huber 2.0, huber' -1; logsumexp - q_a = ln(1 + e^-1).
     * TD = 0.25 + 1.5 = 1.75; CQL = ln(1 + e^-1); total = TD + CQL.
     * Gradients: row 0 = 0.25 (sigmoid(-1), 1 + sigmoid(1) - 1)
     *            row 1 = 0.75 (-1 + sigmoid(1) - 1, sigmoid(-1))
     */
    float q[4] = {1.0f, 2.0f, 0.0f, -1.0f};
    int32_t actions[2] = {1, 0};
    float targets[2] = {0.5f, 2.5f};
    float weights[2] = {1.0f, 3.0f};
    float grad[4];
    sr_q_loss loss;
    sr_nn_td_cql_loss(q, 2, 2, actions, targets, weights, 1.0f, grad, &loss);
    assert_float_equal(loss.td, 1.75, 1e-6);
    assert_float_equal(loss.cql, LOG1P_EXP_M1, 1e-6);
    assert_float_equal(loss.total, 1.75 + LOG1P_EXP_M1, 1e-6);
    assert_float_equal(grad[0], 0.25 * SIGMOID_M1, 1e-6);
    assert_float_equal(grad[1], 0.25 * SIGMOID_P1, 1e-6);
    assert_float_equal(grad[2], 0.75 * (SIGMOID_P1 - 2.0), 1e-6);
    assert_float_equal(grad[3], 0.75 * SIGMOID_M1, 1e-6);

    /* alpha = 0 and no weights: Double DQN, mean Huber, grad = huber' / N. */
    sr_nn_td_cql_loss(q, 2, 2, actions, targets, NULL, 0.0f, grad, &loss);
    assert_float_equal(loss.td, 1.5, 1e-6);
    assert_float_equal(loss.total, 1.5, 1e-6);
    assert_float_equal(grad[0], 0.0, 1e-7);
    assert_float_equal(grad[1], 0.5, 1e-7);
    assert_float_equal(grad[2], -0.5, 1e-7);
    assert_float_equal(grad[3], 0.0, 1e-7);
}

static void test_cross_entropy_by_hand(void **state)
{
    (void)state;
    /* q = [[1, 2], [0, -1]], a = (0, 0), uniform: CE = (ln(1 + e) + ln(1 + e^-1)) / 2. */
    float q[4] = {1.0f, 2.0f, 0.0f, -1.0f};
    int32_t actions[2] = {0, 0};
    float grad[4];
    sr_q_loss loss;
    sr_nn_cross_entropy_loss(q, 2, 2, actions, NULL, grad, &loss);
    double expected = 0.5 * (1.0 + LOG1P_EXP_M1 + LOG1P_EXP_M1);
    assert_float_equal(loss.total, expected, 1e-6);
    assert_float_equal(loss.cql, expected, 1e-6);
    assert_float_equal(loss.td, 0.0, 0.0);
    assert_float_equal(grad[0], 0.5 * (SIGMOID_M1 - 1.0), 1e-6);
    assert_float_equal(grad[1], 0.5 * SIGMOID_P1, 1e-6);
    assert_float_equal(grad[2], 0.5 * (SIGMOID_P1 - 1.0), 1e-6);
    assert_float_equal(grad[3], 0.5 * SIGMOID_M1, 1e-6);
}

static void test_weights_rejected(void **state)
{
    (void)state;
    double sum;
    sr_error err;
    float negative[3] = {1.0f, -0.5f, 1.0f};
    float nan_weight[2] = {1.0f, NAN};
    float zero[2] = {0.0f, 0.0f};
    float good[2] = {0.5f, 1.5f};
    assert_int_equal(sr_nn_check_weights(negative, 3, &sum, &err), SR_ERR_INVALID);
    assert_non_null(strstr(err.message, "sample weight 1"));
    assert_int_equal(sr_nn_check_weights(nan_weight, 2, &sum, &err), SR_ERR_INVALID);
    assert_int_equal(sr_nn_check_weights(zero, 2, &sum, &err), SR_ERR_INVALID);
    assert_int_equal(sr_nn_check_weights(good, 2, &sum, &err), SR_OK);
    assert_float_equal(sum, 2.0, 0.0);
    assert_int_equal(sr_nn_check_weights(NULL, 7, &sum, &err), SR_OK);
    assert_float_equal(sum, 7.0, 0.0);
}

int main(void)
{
    sr_nn_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_matches_reference),
        cmocka_unit_test(test_sgemm_beta_zero_ignores_nan),
        cmocka_unit_test(test_config_rejects_bad_sizes),
        cmocka_unit_test(test_layout_is_one_block),
        cmocka_unit_test(test_init_he_uniform_deterministic),
        cmocka_unit_test(test_forward_matches_double_reference),
        cmocka_unit_test(test_backward_matches_fd_blas),
        cmocka_unit_test(test_backward_matches_fd_reference),
        cmocka_unit_test(test_backward_fewer_rows_than_forward),
        cmocka_unit_test(test_adam_two_steps_by_hand),
        cmocka_unit_test(test_adam_grad_scale_halves_gradient),
        cmocka_unit_test(test_adam_vector_path_matches_scalar),
        cmocka_unit_test(test_grad_norm_by_hand),
        cmocka_unit_test(test_copy_and_polyak),
        cmocka_unit_test(test_huber_branches),
        cmocka_unit_test(test_logsumexp_stable),
        cmocka_unit_test(test_td_cql_loss_by_hand),
        cmocka_unit_test(test_cross_entropy_by_hand),
        cmocka_unit_test(test_weights_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
