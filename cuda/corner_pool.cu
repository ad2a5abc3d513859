// Corner and center pooling CUDA kernels: one thread per line (a column or a row of one
// plane), its running maximum in a register, neighbouring threads on neighbouring
// elements wherever the layout allows (NCHW columns, and every NHWC line, whose threads
// walk the channels). A pair runs its vertical pool into out, then its horizontal pool
// added to it; a pool's values are inputs, so out holds them exactly in any dtype and
// the sum is rounded once. Backward, as on the CPU: per line the running maximum
// forward, stored where the gradient goes, then grad_out summed backward in float32
// and written at each arg-max. No atomics: the same bits run to run.
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "common.cuh"
#include "corner_pool_cuda.h"

namespace opzoo::cuda {
namespace {

// The lines of one scan: line l starts at element start(l) and steps `step` (negative
// for a scan from the bottom or the right) over `length` elements.
struct Lines {
  int64_t count, length, step;
  int64_t N, C, H, W;
  int nhwc, vertical, reversed;
};

__device__ __forceinline__ int64_t line_start(const Lines& d, int64_t l) {
  int64_t first;
  if (!d.nhwc) {
    first = d.vertical ? l / d.W * d.H * d.W + l % d.W : l * d.W;
  } else if (d.vertical) {  // (n, column, channel)
    const int64_t n = l / (d.W * d.C), r = l % (d.W * d.C);
    first = n * d.H * d.W * d.C + r;
  } else {  // (n, row, channel)
    const int64_t row = l / d.C, c = l % d.C;
    first = row * d.W * d.C + c;
  }
  return d.reversed ? first - (d.length - 1) * d.step : first;  // step < 0: from the far end
}

Lines lines_of(const CornerPoolShape& s, bool vertical, bool reversed) {
  Lines d{};
  d.N = s.N, d.C = s.C, d.H = s.H, d.W = s.W;
  d.nhwc = s.layout == Layout::NHWC;
  d.vertical = vertical;
  d.length = vertical ? s.H : s.W;
  d.count = s.N * s.C * (vertical ? s.W : s.H);
  const int64_t step = d.nhwc ? (vertical ? s.W * s.C : s.C) : (vertical ? s.W : 1);
  d.reversed = reversed;
  d.step = reversed ? -step : step;
  return d;
}

// Whether x is where the running maximum m came from (x == m, or x is NaN).
__device__ __forceinline__ bool at_max(float x, float m) { return x == m || x != x; }

// out along each line = its running maximum of x (whole: the maximum of the whole line),
// plus out's own value where `accumulate`.
template <class T>
__global__ void __launch_bounds__(kThreads)
    pool_kernel(Lines d, const T* __restrict__ x, T* __restrict__ out, int whole, int accumulate) {
  for (int64_t l = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; l < d.count; l += int64_t(gridDim.x) * blockDim.x) {
    const int64_t first = line_start(d, l);
    float m = -INFINITY;
    if (whole)
      for (int64_t p = 0; p < d.length; ++p) m = max_nan(m, to_float(x[first + p * d.step]));
    for (int64_t p = 0; p < d.length; ++p) {
      const int64_t i = first + p * d.step;
      if (!whole) m = max_nan(m, to_float(x[i]));
      out[i] = from_float<T>(accumulate ? to_float(out[i]) + m : m);
    }
  }
}

// grad_x along each line. Running (whole = 0): position p collects the gradients of the
// positions from p to the next arg-max after it. Whole: each arg-max collects those since
// the one before it, the last also the rest (BottomPool(TopPool(x))'s routing).
template <class T>
__global__ void __launch_bounds__(kThreads)
    pool_backward_kernel(Lines d, const T* __restrict__ g, const T* __restrict__ x, T* __restrict__ gx, int whole) {
  for (int64_t l = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; l < d.count; l += int64_t(gridDim.x) * blockDim.x) {
    const int64_t first = line_start(d, l), L = d.length, step = d.step;
    float m = -INFINITY, sum = 0.0f;
    if (!whole) {
      for (int64_t p = 0; p < L; ++p) {  // the running maximum, kept in gx (an input value: exact in T)
        m = max_nan(m, to_float(x[first + p * step]));
        gx[first + p * step] = from_float<T>(m);
      }
      for (int64_t p = L - 1; p >= 0; --p) {
        const int64_t i = first + p * step;
        const bool here = at_max(to_float(x[i]), to_float(gx[i]));
        sum += to_float(g[i]);
        gx[i] = from_float<T>(here ? sum : 0.0f);
        if (here) sum = 0.0f;
      }
      continue;
    }
    for (int64_t p = 0; p < L; ++p) m = max_nan(m, to_float(x[first + p * step]));
    float collected = 0.0f;  // the last arg-max's own sum, to which the rest is added
    int64_t last = -1;
    for (int64_t p = 0; p < L; ++p) {
      const int64_t i = first + p * step;
      const bool here = at_max(to_float(x[i]), m);
      sum += to_float(g[i]);
      gx[i] = from_float<T>(here ? sum : 0.0f);
      if (here) {
        collected = sum;
        last = i;
        sum = 0.0f;
      }
    }
    if (last >= 0) gx[last] = from_float<T>(collected + sum);
  }
}

template <class F>
void launch(const Lines& d, DType dtype, cudaStream_t stream, const char* what, F&& f) {
  if (d.count == 0 || d.length == 0) return;
  with_type(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    f(T{}, unsigned(blocks_for(d.count)));
  });
  check_launch(what);
}

bool from_far_end(PoolDirection d) { return d == PoolDirection::top || d == PoolDirection::left; }

}  // namespace

void corner_pool_forward(const CornerPoolShape& s, DType dtype, const void* a, PoolDirection vertical, const void* b,
                         PoolDirection horizontal, void* out, cudaStream_t stream) {
  bool accumulate = false;
  for (auto [x, d] : {std::pair{a, vertical}, std::pair{b, horizontal}}) {
    if (!x) continue;
    const Lines lines = lines_of(s, is_vertical(d), from_far_end(d));
    launch(lines, dtype, stream, "corner pooling", [&](auto zero, unsigned blocks) {
      using T = decltype(zero);
      OPZOO_LAUNCH(blocks, kThreads, 0, stream, pool_kernel<T>)(lines, static_cast<const T*>(x), static_cast<T*>(out),
                                                                 0, int(accumulate));
    });
    accumulate = true;
  }
}

void center_pool_forward(const CornerPoolShape& s, DType dtype, const void* a, const void* b, void* out,
                         cudaStream_t stream) {
  bool accumulate = false;
  for (auto [x, vertical] : {std::pair{a, true}, std::pair{b, false}}) {
    const Lines lines = lines_of(s, vertical, false);
    launch(lines, dtype, stream, "center pooling", [&](auto zero, unsigned blocks) {
      using T = decltype(zero);
      OPZOO_LAUNCH(blocks, kThreads, 0, stream, pool_kernel<T>)(lines, static_cast<const T*>(x), static_cast<T*>(out),
                                                                 1, int(accumulate));
    });
    accumulate = true;
  }
}

void corner_pool_backward(const CornerPoolShape& s, DType dtype, const void* grad_out, const void* x,
                          PoolDirection direction, void* grad_x, cudaStream_t stream) {
  const Lines lines = lines_of(s, is_vertical(direction), from_far_end(direction));
  launch(lines, dtype, stream, "corner pooling backward", [&](auto zero, unsigned blocks) {
    using T = decltype(zero);
    OPZOO_LAUNCH(blocks, kThreads, 0, stream, pool_backward_kernel<T>)(
        lines, static_cast<const T*>(grad_out), static_cast<const T*>(x), static_cast<T*>(grad_x), 0);
  });
}

void extent_pool_backward(const CornerPoolShape& s, DType dtype, const void* grad_out, const void* x, bool vertical,
                          void* grad_x, cudaStream_t stream) {
  const Lines lines = lines_of(s, vertical, false);
  launch(lines, dtype, stream, "center pooling backward", [&](auto zero, unsigned blocks) {
    using T = decltype(zero);
    OPZOO_LAUNCH(blocks, kThreads, 0, stream, pool_backward_kernel<T>)(
        lines, static_cast<const T*>(grad_out), static_cast<const T*>(x), static_cast<T*>(grad_x), 1);
  });
}

}  // namespace opzoo::cuda
