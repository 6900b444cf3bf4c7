/*
 * nn_reference.h - a double-precision reference forward pass of an sr_mlp,
 * for the finite-difference tests of test_nn.c and test_cql.c.
 *
 * The reference reads the network's geometry (layer sizes, ReLU flags and
 * where each layer's weights and bias sit in the parameter block) but
 * takes the parameter values from a separate double array, so a test can
 * perturb one parameter and re-evaluate a loss in double.  Central
 * differences in double with h = 1e-6 have truncation error O(h^2) and
 * rounding error about 1e-16 / h = 1e-10, far below the float errors of
 * the code under test.
 */
#ifndef SEQROUTE_TEST_NN_REFERENCE_H
#define SEQROUTE_TEST_NN_REFERENCE_H

#include <stdlib.h>

#include "seqroute/nn.h"

/* Step of the central differences; see the note above. */
#define REF_FD_STEP 1e-6
/* Widest layer and largest batch the reference handles. */
#define REF_MAX_WIDTH 64
#define REF_MAX_ROWS 16

/* Converts `count` floats to doubles. */
static inline void ref_to_double(const float *x, size_t count, double *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = x[i];
}

/* Copies the float parameters of `net` into `out` (param_count doubles). */
static inline void ref_params_from(const sr_mlp *net, double *out)
{
    for (size_t i = 0; i < net->param_count; i++)
        out[i] = net->params[i];
}

/*
 * Runs the network with parameters `params` on `rows` rows of `input`
 * ([rows x D]) and writes the outputs [rows x K] to `out`.
 */
static inline void ref_forward(const sr_mlp *net, const double *params, const double *input,
                               int rows, double *out)
{
    double a[REF_MAX_ROWS][REF_MAX_WIDTH];
    double z[REF_MAX_ROWS][REF_MAX_WIDTH];
    int width = net->config.input_dim;
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < width; j++)
            a[i][j] = input[(size_t)i * width + j];
    }

    for (int l = 0; l < net->layer_count; l++) {
        const sr_dense_layer *layer = &net->layers[l];
        const double *w = params + (layer->weight - net->params);
        const double *b = params + (layer->bias - net->params);
        for (int i = 0; i < rows; i++) {
            for (int o = 0; o < layer->out; o++) {
                double sum = b[o];
                for (int p = 0; p < layer->in; p++)
                    sum += a[i][p] * w[(size_t)p * layer->out + o];
                z[i][o] = layer->relu && sum < 0.0 ? 0.0 : sum;
            }
        }
        for (int i = 0; i < rows; i++) {
            for (int o = 0; o < layer->out; o++)
                a[i][o] = z[i][o];
        }
        width = layer->out;
    }

    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < width; j++)
            out[(size_t)i * width + j] = a[i][j];
    }
}

/*
 * True when the analytic float gradient `analytic` matches the double
 * central difference `numeric`: |analytic - numeric| <= 2e-5 + 1e-3 |numeric|.
 * Float forward and backward through three layers this small are accurate
 * to about 1e-6 relative, so these bounds leave margin, while a wrong
 * formula (a missing factor, a wrong weight) is off by the gradient itself.
 */
static inline bool ref_gradient_close(double analytic, double numeric)
{
    double diff = analytic - numeric;
    if (diff < 0)
        diff = -diff;
    double scale = numeric < 0 ? -numeric : numeric;
    return diff <= 2e-5 + 1e-3 * scale;
}

#endif /* SEQROUTE_TEST_NN_REFERENCE_H */
