// Matrix products through the CBLAS sgemm of a BLAS library the process has already
// loaded (NumPy's OpenBLAS), in opzoo's thread pool: the rows split into blocks, each
// one single-threaded sgemm followed by the bias-activation epilogue while its rows are
// still in cache. One pool for the model layer's products and opzoo's kernels, so that
// neither's idle threads spin on the cores the other computes on.
#pragma once

#include <cstdint>

#include "opzoo/activation.h"

namespace opzoo {

// Attaches the sgemm of the library at `path` if the process has loaded it already
// (never loads one): cblas_sgemm, or the ILP64 names of NumPy's scipy-openblas build.
// Whether an sgemm is attached afterwards.
bool blas_attach(const char* path);
bool blas_attached();

// out (M, N) = activation(a (M, K) @ b (K, N) + bias) + residual, row-major and dense;
// bias (N,) and residual (M, N) may be null; out overlaps none of them. Needs an
// attached sgemm; the BLAS library should run one thread per call (opzoo's threads call
// it at once).
void gemm_bias_activation(int64_t M, int64_t K, int64_t N, const float* a, const float* b, const float* bias,
                          Activation act, const float* residual, float* out);

}  // namespace opzoo
