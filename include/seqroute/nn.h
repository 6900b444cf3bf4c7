/*
 * nn.h - the neural-network core: a multilayer perceptron (MLP) with dense
 * layers and ReLU, its forward and backward passes, the losses used by
 * Q-learning and behaviour cloning, and the Adam optimiser.
 *
 * Dimensions are named once and used everywhere:
 *   N  rows in a batch          D  input features
 *   H  width of a hidden layer  K  outputs (one Q value per model)
 * Every matrix is row-major and every row is one sample, so an input batch
 * is [N x D] and the outputs are [N x K].
 *
 * Layout.  Layer l maps [N x in] to [N x out] as Y = X W + b with W stored
 * [in x out] row-major, followed by ReLU on every layer except the last,
 * which is linear.  The parameters of all layers (each W then its b, layer
 * after layer) are one float region of P values.  The gradients, the Adam
 * first moments and the Adam second moments are three more regions of P
 * values with the same layout, and the four regions are one allocation.
 * The per-layer pointers in sr_dense_layer point into it.  Forward keeps
 * each layer's output for up to `max_rows` rows in a workspace allocated at
 * creation, so forward, backward and Adam never allocate.
 *
 * Every matrix product goes through sr_sgemm, which calls OpenBLAS
 * cblas_sgemm, or plain C loops when the reference switch is on (for tests).
 *
 * Determinism.  Initialisation draws from sr_rng in a fixed order.  The C
 * loops here run in a fixed order on one thread.  OpenBLAS sgemm splits
 * work between threads by position, not by timing, so the same thread
 * count gives bit-identical results.  A different thread count, OpenBLAS
 * build or CPU kernel may change the last bits.
 *
 * Thread-safety: an sr_mlp is used by one thread at a time.  The OpenBLAS
 * thread count and the reference switch are process-wide settings.
 */
#ifndef SEQROUTE_NN_H
#define SEQROUTE_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seqroute/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hidden layers an MLP may have; the default network uses three. */
#define SR_NN_MAX_HIDDEN 8
/* Largest width of any layer and largest batch: keeps every index in int. */
#define SR_NN_MAX_WIDTH 65536
#define SR_NN_MAX_ROWS 65536

/* ---- matrix product ----------------------------------------------------- */

/*
 * Computes C = alpha * op(A) op(B) + beta * C on row-major matrices, where
 * op(X) is X or its transpose.  op(A) is [m x k], op(B) is [k x n] and C is
 * [m x n]; lda, ldb and ldc are row strides.  When beta is 0, C is only
 * written, so it may hold garbage (even NaN) on entry, as in BLAS.
 * Calls cblas_sgemm unless the reference switch is on.
 * Thread-safety: as cblas_sgemm; concurrent calls on disjoint C are safe.
 */
void sr_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc);

/*
 * Same contract as sr_sgemm, computed by plain C loops that accumulate each
 * element in double and round once.  Slow; kept to check the BLAS path.
 */
void sr_sgemm_reference(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c,
                        int ldc);

/*
 * Routes every later sr_sgemm call to the reference loops (true) or to
 * OpenBLAS (false, the default).  Process-wide; set it before training.
 */
void sr_nn_set_reference(bool use_reference);

/*
 * Sets the number of OpenBLAS threads (>= 1) for the whole process.
 * Small matrices often run faster on one thread.
 */
void sr_nn_set_threads(int threads);

/* ---- the network ------------------------------------------------------- */

typedef struct sr_mlp_config {
    int input_dim;                  /* D */
    int hidden_count;               /* hidden layers, 0 .. SR_NN_MAX_HIDDEN */
    int hidden[SR_NN_MAX_HIDDEN];   /* H of each hidden layer */
    int output_dim;                 /* K */
    int max_rows;                   /* largest N passed to sr_mlp_forward */
} sr_mlp_config;

/* One dense layer; every pointer points into its network's blocks. */
typedef struct sr_dense_layer {
    int in;
    int out;
    bool relu;          /* ReLU after the affine map; false on the last layer */
    float *weight;      /* [in x out] */
    float *bias;        /* [out] */
    float *weight_grad; /* [in x out] */
    float *bias_grad;   /* [out] */
    float *output;      /* [max_rows x out], this layer's output in the last forward */
} sr_dense_layer;

/*
 * A multilayer perceptron.  Fields are read-only for callers; change the
 * parameters only through the functions below or by writing `params`.
 */
typedef struct sr_mlp {
    sr_mlp_config config;
    int layer_count;                            /* hidden_count + 1 */
    sr_dense_layer layers[SR_NN_MAX_HIDDEN + 1];
    size_t param_count;                         /* P */
    float *params;                              /* [P], start of the one block */
    float *grads;                               /* [P] */
    float *adam_m;                              /* [P] */
    float *adam_v;                              /* [P] */
    float *delta[2];          /* [max_rows x widest layer], backward scratch */
    float *workspace;         /* outputs and delta, one allocation */
    const float *last_input;  /* input of the last forward, borrowed */
    int last_rows;            /* N of the last forward */
} sr_mlp;

/*
 * Validates `config`: positive dimensions within SR_NN_MAX_WIDTH, a hidden
 * count in range and 1 <= max_rows <= SR_NN_MAX_ROWS.  Returns SR_OK or
 * SR_ERR_INVALID with a message naming the field.
 */
sr_status sr_mlp_config_check(const sr_mlp_config *config, sr_error *err);

/*
 * Creates a network with He (Kaiming) uniform initialisation drawn from an
 * sr_rng seeded with `seed`.  Every weight of a layer followed by ReLU is
 * uniform in +-sqrt(6 / in), and the linear output layer uses
 * +-sqrt(3 / in) (gain 1).  Biases start at 0.  Gradients and Adam moments start at 0.
 * Errors: SR_ERR_INVALID for a bad config, SR_ERR_NOMEM.  The caller frees
 * the result with sr_mlp_destroy.
 */
sr_status sr_mlp_create(const sr_mlp_config *config, uint64_t seed, sr_mlp **out,
                        sr_error *err);

/* Frees a network and its blocks; NULL is a no-op. */
void sr_mlp_destroy(sr_mlp *net);

/*
 * Runs the network on `rows` samples of `input` ([rows x D]) and returns a
 * pointer to the outputs [rows x K], which stay valid until the next
 * forward.  The network keeps every layer's output and borrows `input`
 * for sr_mlp_backward, so `input` must stay unchanged until then.
 * Requires 1 <= rows <= max_rows (checked by assert only: this is the hot
 * path, and callers validate batch sizes once).
 */
const float *sr_mlp_forward(sr_mlp *net, const float *input, int rows);

/*
 * Backpropagates `grad_output` (dL/dY for the first `rows` rows of the last
 * forward, [rows x K]) and overwrites the parameter gradients with dL/dW
 * and dL/db.  When `grad_input` is non-NULL it receives dL/dX [rows x D].
 * `rows` may be smaller than the forward's rows: the learner runs the
 * online network on s and s' together and backpropagates only s.
 */
void sr_mlp_backward(sr_mlp *net, const float *grad_output, int rows, float *grad_input);

/* Copies every parameter of `src` into `dst`; the configs must match. */
void sr_mlp_copy_params(sr_mlp *dst, const sr_mlp *src);

/* Polyak averaging: dst = (1 - tau) dst + tau src, tau in [0, 1]. */
void sr_mlp_polyak_update(sr_mlp *dst, const sr_mlp *src, float tau);

/* Returns the L2 norm of the whole gradient region, summed in double. */
double sr_mlp_grad_norm(const sr_mlp *net);

/* Zeroes the Adam moments, e.g. before fine-tuning loaded weights. */
void sr_mlp_reset_adam(sr_mlp *net);

/* ---- Adam ------------------------------------------------------------- */

typedef struct sr_adam_config {
    float lr;    /* learning rate */
    float beta1; /* first-moment decay, 0.9 by default */
    float beta2; /* second-moment decay, 0.999 by default */
    float eps;   /* added to sqrt(v_hat), 1e-8 by default */
} sr_adam_config;

/* Fills the defaults above with lr = 1e-4. */
void sr_adam_config_default(sr_adam_config *config);

/*
 * Applies Adam step number `step` (1 for the first step) to every
 * parameter, with bias correction:
 *   g = grad_scale * grad
 *   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
 *   p -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
 * `grad_scale` applies gradient clipping without a separate pass; pass 1
 * for none.
 */
void sr_mlp_adam_step(sr_mlp *net, const sr_adam_config *config, int64_t step, float grad_scale);

/* ---- losses and their gradients ---------------------------------------- */

/* Huber loss with delta 1: 0.5 x^2 when |x| <= 1, else |x| - 0.5. */
float sr_nn_huber(float x);

/* Derivative of sr_nn_huber: x clamped to [-1, 1]. */
float sr_nn_huber_grad(float x);

/*
 * Returns log(sum_k exp(x_k)) over n >= 1 values, computed as
 * max + log(sum exp(x_k - max)) so that large and very negative values
 * neither overflow nor underflow.
 */
float sr_nn_logsumexp(const float *x, int n);

/* Writes softmax(x) to `out` (may equal x), stable as sr_nn_logsumexp. */
void sr_nn_softmax(const float *x, int n, float *out);

/* Loss parts of one batch; every mean uses the normalised sample weights. */
typedef struct sr_q_loss {
    double td;    /* mean Huber(Q(s,a) - y); 0 for behaviour cloning */
    double cql;   /* mean logsumexp_k Q(s,k) - Q(s,a); for BC this is the cross-entropy */
    double total; /* td + alpha * cql, or the cross-entropy for BC */
} sr_q_loss;

/*
 * Checks that `weights` (n values, NULL meaning uniform) are finite,
 * non-negative and sum to more than 0, and writes their sum.  Returns
 * SR_OK, or SR_ERR_INVALID with the index at fault.
 */
sr_status sr_nn_check_weights(const float *weights, int n, double *sum, sr_error *err);

/*
 * TD + CQL loss on the outputs q ([n x k], row stride k) of the states s:
 *   w_i = weights[i] / sum(weights)   (1/n when weights is NULL)
 *   L   = sum_i w_i [ Huber(q[i,a_i] - y_i) + alpha (logsumexp_j q[i,j] - q[i,a_i]) ]
 * and its gradient, written to grad_q [n x k]:
 *   dL/dq[i,j] = w_i [ huber'(q[i,a_i] - y_i) 1[j = a_i] + alpha (softmax_j(q[i,.]) - 1[j = a_i]) ]
 * alpha = 0 gives the Double DQN loss.  The targets y are constants (no
 * gradient flows into them).  Inputs are trusted: actions in [0, k) and
 * weights checked by sr_nn_check_weights.
 */
void sr_nn_td_cql_loss(const float *q, int n, int k, const int32_t *actions,
                       const float *targets, const float *weights, float alpha, float *grad_q,
                       sr_q_loss *loss);

/*
 * Cross-entropy of the softmax of q ([n x k]) against the actions, for
 * behaviour cloning: L = sum_i w_i (logsumexp_j q[i,j] - q[i,a_i]), with
 * dL/dq[i,j] = w_i (softmax_j(q[i,.]) - 1[j = a_i]).  Weights as above.
 */
void sr_nn_cross_entropy_loss(const float *q, int n, int k, const int32_t *actions,
                              const float *weights, float *grad_q, sr_q_loss *loss);

/*
 * Double DQN targets for n transitions:
 *   a*_i = argmax over allowed j of q_online_next[i, j]   (lowest index on ties)
 *   y_i  = r_i + gamma (1 - terminal_i) q_target_next[i, a*_i]
 * `terminal` (NULL: none) marks transitions with no bootstrap.  `next_mask`
 * ([n x k], nonzero = allowed; NULL: all allowed) removes the models that
 * are unaffordable in s'.  When a row allows no model, nothing can be
 * called from s', so the transition is treated as terminal: y_i = r_i and
 * chosen[i] = -1.  `chosen` (may be NULL) receives a*_i.
 */
void sr_nn_double_dqn_targets(const float *q_online_next, const float *q_target_next, int n,
                              int k, const float *rewards, const uint8_t *terminal,
                              const uint8_t *next_mask, float gamma, float *targets,
                              int32_t *chosen);

#ifdef __cplusplus
}
#endif

#endif /* SEQROUTE_NN_H */
