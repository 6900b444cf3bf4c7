/*
 * nn_blas.c - the one matrix-product wrapper of the neural-network core and
 * the plain C loops that check it.
 *
 * Every product in nn.c and cql.c goes through sr_sgemm, so switching the
 * whole network to the reference loops is one flag, and a test can compare
 * a full forward and backward pass on both paths.  The reference
 * accumulates each element in double, so its own rounding error is far
 * below float's and any difference is OpenBLAS's float accumulation.
 */
#include "seqroute/nn.h"

#include <cblas.h>

/* Process-wide: false runs OpenBLAS, true the reference loops. */
static bool use_reference_loops = false;

void sr_nn_set_reference(bool use_reference)
{
    use_reference_loops = use_reference;
}

void sr_nn_set_threads(int threads)
{
    openblas_set_num_threads(threads < 1 ? 1 : threads);
}

void sr_sgemm_reference(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c,
                        int ldc)
{
    /* C[i][j] = alpha * sum_p op(A)[i][p] op(B)[p][j] + beta * C[i][j]. */
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0.0;
            for (int p = 0; p < k; p++) {
                double a_ip = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double b_pj = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += a_ip * b_pj;
            }

            /* beta == 0 must not read C, which may hold NaN. */
            float *cell = &c[(size_t)i * ldc + j];
            double scaled = (double)alpha * sum;
            if (beta != 0.0f)
                scaled += (double)beta * (double)*cell;
            *cell = (float)scaled;
        }
    }
}

void sr_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (use_reference_loops) {
        sr_sgemm_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}
