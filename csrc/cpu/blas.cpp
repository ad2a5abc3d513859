// The attached BLAS library's sgemm, row blocks on opzoo's threads (opzoo/blas.h).
#include "opzoo/blas.h"

#include <atomic>
#include <climits>
#include <stdexcept>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define OPZOO_HAS_DLOPEN 1
#endif

#include "kernel_common.h"
#include "opzoo/runtime.h"

namespace opzoo {
namespace {

// CBLAS's row-major and no-transpose codes.
constexpr int kRowMajor = 101, kNoTrans = 111;

using Sgemm32 = void (*)(int, int, int, int32_t, int32_t, int32_t, float, const float*, int32_t, const float*,
                         int32_t, float, float*, int32_t);
using Sgemm64 = void (*)(int, int, int, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                         int64_t, float, float*, int64_t);

std::atomic<void*> attached_sgemm{nullptr};
std::atomic<bool> attached_ilp64{false};

// Elements of output per block: its rows stay in L2 between the product and the epilogue.
constexpr int64_t kGemmBlockElements = 65536;
// Blocks narrower than this lose more to the BLAS call than the threads gain.
constexpr int64_t kMinBlockRows = 32, kMinBlockCols = 64;

}  // namespace

bool blas_attach(const char* path) {
#ifdef OPZOO_HAS_DLOPEN
  void* lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
  if (!lib) return blas_attached();
  // (name, whether its integers are 64-bit): NumPy's wheels, OpenBLAS's ILP64 build, LP64.
  const struct {
    const char* name;
    bool ilp64;
  } names[] = {{"scipy_cblas_sgemm64_", true}, {"cblas_sgemm64_", true}, {"cblas_sgemm", false}};
  for (const auto& n : names)
    if (void* f = dlsym(lib, n.name)) {
      attached_ilp64.store(n.ilp64);
      attached_sgemm.store(f);
      break;
    }
  dlclose(lib);  // NOLOAD took a reference to a library that stays loaded
#else
  (void)path;
#endif
  return blas_attached();
}

bool blas_attached() { return attached_sgemm.load() != nullptr; }

void gemm_bias_activation(int64_t M, int64_t K, int64_t N, const float* a, const float* b, const float* bias,
                          Activation act, const float* residual, float* out) {
  if (M == 0 || N == 0) return;
  void* f = attached_sgemm.load();
  const bool ilp64 = attached_ilp64.load();
  if (!ilp64 && (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX))
    throw std::invalid_argument("gemm_bias_activation: the attached sgemm takes 32-bit sizes, got (" +
                                std::to_string(M) + ", " + std::to_string(K) + ") x (" + std::to_string(K) + ", " +
                                std::to_string(N) + ")");
  const int threads = num_threads();
  // Row blocks of about kGemmBlockElements outputs, as many as a multiple of the threads
  // (each thread the same share); blocks of fewer than kMinBlockRows rows split the
  // columns instead, one block per thread.
  int64_t row_blocks = cpu::round_up(cpu::max64(1, cpu::ceil_div(M * N, kGemmBlockElements)), threads);
  int64_t col_blocks = 1;
  if (cpu::ceil_div(M, row_blocks) < kMinBlockRows) {
    row_blocks = cpu::max64(1, cpu::min64(threads, M / kMinBlockRows));
    col_blocks = cpu::max64(1, cpu::min64(cpu::ceil_div(threads, row_blocks), N / kMinBlockCols));
  }
  const int64_t rows = cpu::ceil_div(M, row_blocks), cols = cpu::ceil_div(N, col_blocks);
  const int64_t blocks = cpu::ceil_div(M, rows) * col_blocks;
  const auto& epilogue = activation_kernels_f32();
  cpu::parallel_for(blocks, cpu::threads_for(blocks), [&](int64_t block, int) {
    const int64_t r0 = block / col_blocks * rows, m = cpu::min64(M, r0 + rows) - r0;
    const int64_t c0 = block % col_blocks * cols, n = cpu::min64(N, c0 + cols) - c0;
    if (m <= 0 || n <= 0) return;
    float* y = out + r0 * N + c0;
    if (K == 0) {
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) y[i * N + j] = 0.0f;
    } else if (ilp64) {
      reinterpret_cast<Sgemm64>(f)(kRowMajor, kNoTrans, kNoTrans, m, n, K, 1.0f, a + r0 * K, K, b + c0, N, 0.0f, y, N);
    } else {
      reinterpret_cast<Sgemm32>(f)(kRowMajor, kNoTrans, kNoTrans, int32_t(m), int32_t(n), int32_t(K), 1.0f,
                                   a + r0 * K, int32_t(K), b + c0, int32_t(N), 0.0f, y, int32_t(N));
    }
    // The block's epilogue, row by row of its columns (whole rows: one call); the
    // kernel's own threads stay idle inside this region.
    const bool whole_rows = n == N;
    for (int64_t i = 0; i < (whole_rows ? 1 : m); ++i) {
      const BiasActivationShape s{whole_rows ? m : 1, n, 1};
      const int64_t off = i * N;
      epilogue.bias_forward(s, y + off, bias ? bias + c0 : nullptr, act,
                            residual ? residual + (r0 + i) * N + c0 : nullptr, y + off);
    }
  });
}

}  // namespace opzoo
