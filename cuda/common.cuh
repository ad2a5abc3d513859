// What the CUDA kernels of every family share: element conversion (float16 and
// bfloat16 storage, float32 arithmetic), indexing by layout, launch sizes and checks,
// and the dispatch from a DType to its C++ type.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "opzoo/dtype.h"
#include "opzoo/layout.h"

// kernel<<<grid, block, shared_bytes, stream>>>(args...) is written
// OPZOO_LAUNCH(grid, block, shared_bytes, stream, kernel)(args...), so the emulated
// build (cuda/emulation/cuda_runtime.h) can run the same launch on the host; likewise
// dynamic shared memory, OPZOO_DYNAMIC_SHARED(T, name) for `extern __shared__ T name[]`.
#ifndef OPZOO_CUDA_EMULATION
#define OPZOO_LAUNCH(grid, block, shared_bytes, stream, ...) __VA_ARGS__<<<grid, block, shared_bytes, stream>>>
#define OPZOO_DYNAMIC_SHARED(T, name)               \
  extern __shared__ __align__(16) unsigned char opzoo_dynamic_shared_bytes[]; \
  T* name = reinterpret_cast<T*>(opzoo_dynamic_shared_bytes)
#endif

namespace opzoo::cuda {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// max(m, x), NaN where either is: the order of torch.cummax and max_pool2d, where NaN
// is the largest.
__device__ __forceinline__ float max_nan(float m, float x) { return (m != m || x != x) ? (m != m ? m : x) : fmaxf(m, x); }

constexpr int kThreads = 256;
// Grid-stride kernels launch at most this many blocks and loop over the rest.
constexpr int64_t kMaxBlocks = int64_t(1) << 20;

// Sum of v over a block of kThreads threads, in a fixed order (so the same inputs give
// the same bits); `shared` holds kThreads floats.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const float total = shared[0];
  __syncthreads();
  return total;
}

inline int64_t blocks_for(int64_t work) {
  return std::max<int64_t>(1, std::min(kMaxBlocks, (work + kThreads - 1) / kThreads));
}

inline void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("opzoo CUDA ") + kernel + ": " + cudaGetErrorString(e));
}

// Device scratch on a stream: buffers of T of the given lengths, one allocation, freed
// with the object (stream-ordered, so after the kernels launched before it).
template <class T>
class Scratch {
 public:
  Scratch(std::initializer_list<int64_t> sizes, cudaStream_t stream) : stream_(stream) {
    int64_t total = 0;
    for (int64_t n : sizes) total += n;
    if (total > 0 && cudaMallocAsync(reinterpret_cast<void**>(&base_), size_t(total) * sizeof(T), stream) != cudaSuccess)
      throw std::runtime_error("opzoo CUDA: out of device memory for a kernel's scratch (" +
                               std::to_string(total * int64_t(sizeof(T))) + " bytes)");
    T* p = base_;
    for (int64_t n : sizes) {
      parts_[count_++] = p;
      p += n;
    }
  }
  ~Scratch() {
    if (base_) cudaFreeAsync(base_, stream_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* operator[](int i) const { return parts_[i]; }

 private:
  cudaStream_t stream_;
  T* base_ = nullptr;
  T* parts_[16] = {};
  int count_ = 0;
};

// Calls f with a typed null pointer of dtype's element type.
template <class F>
void with_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::float32:
      return f(static_cast<float*>(nullptr));
    case DType::float16:
      return f(static_cast<__half*>(nullptr));
    case DType::bfloat16:
      return f(static_cast<__nv_bfloat16*>(nullptr));
    case DType::float64:
    case DType::int32:
    case DType::int64:
      break;
  }
  throw std::invalid_argument(std::string("opzoo CUDA: no kernels for dtype ") + dtype_name(dtype));
}

}  // namespace opzoo::cuda
