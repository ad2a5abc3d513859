// The CUDA emulation layer: what opzoo's .cu files use of CUDA, for the host C++
// compiler, so `OPZOO_CUDA=emulate` builds and runs the same kernels on the CPU. It
// stands in for the toolkit's cuda_runtime.h (this folder comes first on the include
// path, and the build force-includes it into every .cu file, as nvcc does); the
// toolkit's own cuda_fp16.h and cuda_bf16.h, which work on the host, provide __half
// and __nv_bfloat16, and its cuda_runtime_api.h the runtime API's declarations.
//
// A launch runs the grid's blocks on OpenMP threads, one block at a time per thread,
// and a block's threads as fibers (ucontext) on that thread, switching only where a
// thread must wait for others: __syncthreads, warp shuffles, votes and __syncwarp.
// So a block's __shared__ variables are `static thread_local`, and every barrier and
// warp collective is checked as hardware would need it: a barrier completes when every
// thread that has not returned reaches one; a warp collective when every lane of its
// mask calls it with that mask. Anything else (a barrier some threads never reach, a
// mask naming a lane that has returned or waits elsewhere, a shuffle reading a lane
// outside its mask) fails the launch with a message saying which threads did what,
// reported through cudaGetLastError. Launches are synchronous; streams are therefore
// in order.
#pragma once

#define OPZOO_CUDA_EMULATION 1

// Qualifiers, defined before the toolkit's headers: their host_defines.h keeps the
// definitions it finds when not compiled by nvcc.
#define __global__
#define __device__
#define __host__
#define __shared__ static thread_local
#define __constant__ static
#define __launch_bounds__(...)

// The toolkit's declarations of the runtime API (implemented by runtime.cpp: device
// memory is host memory, device 0 the only device) and its types: cudaError_t,
// cudaStream_t, dim3, uint3. Math functions, as nvcc provides them to device code.
#include <cuda_runtime_api.h>
#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

// The templated overload the toolkit's cuda_runtime.h adds.
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}

// ---------------------------------------------------------------------------------
// Thread and block indices: set by the scheduler for the fiber it runs.

namespace opzoo::emu {
// Functions, not thread_local variables: a compiler may keep a thread_local's address
// across the fiber switch inside __syncthreads (UBSan then reports it as null).
const uint3& thread_idx();
const uint3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
}  // namespace opzoo::emu

#define threadIdx (::opzoo::emu::thread_idx())
#define blockIdx (::opzoo::emu::block_idx())
#define blockDim (::opzoo::emu::block_dim())
#define gridDim (::opzoo::emu::grid_dim())
constexpr int warpSize = 32;

// The block barrier. Threads that have returned no longer take part.
void __syncthreads();

namespace opzoo::emu {

// What a lane asks of its warp.
enum class WarpOp : int { sync, shfl, shfl_up, shfl_down, shfl_xor, ballot, any, all };

// Waits until every lane of `mask` has called with the same op and mask, then returns
// this lane's result: for shuffles the source lane's 8-byte `value` (or its own, where
// the source lies outside its `width`-lane segment), for votes the ballot of `value`.
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width);

// The dynamic shared memory of the running block (the launch's shmem bytes).
void* dynamic_shared();

// Runs body on every thread of a grid (blocks on OpenMP threads, threads as fibers).
// Launch errors (configuration, a failed barrier or warp collective) become the
// error cudaGetLastError reports.
void launch(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body);

template <class T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp shuffles move up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

// kernel<<<grid, block, shared, stream>>>(args...) as Launcher(grid, block, shared,
// stream, kernel)(args...): the arguments are copied as a kernel's parameters are.
template <class... P>
class Launcher {
 public:
  Launcher(dim3 grid, dim3 block, size_t shared, cudaStream_t, void (*kernel)(P...))
      : grid_(grid), block_(block), shared_(shared), kernel_(kernel) {}
  template <class... A>
  void operator()(A&&... args) const {
    const std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    launch(grid_, block_, shared_, [&] { std::apply(kernel_, params); });
  }

 private:
  dim3 grid_, block_;
  size_t shared_;
  void (*kernel_)(P...);
};

}  // namespace opzoo::emu

// kernel<<<grid, block, shared_bytes, stream>>>, written the same way under nvcc
// (cuda/common.cuh): OPZOO_LAUNCH(grid, block, shared_bytes, stream, kernel)(args...).
#define OPZOO_LAUNCH(grid, block, shared_bytes, stream, ...) \
  ::opzoo::emu::Launcher(grid, block, shared_bytes, stream, __VA_ARGS__)
// `extern __shared__ T name[]`: the launch's dynamic shared memory as a T*.
#define OPZOO_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::opzoo::emu::dynamic_shared())

// ---------------------------------------------------------------------------------
// Warp shuffles, votes and __syncwarp (mask checked: see warp_collective).

template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = warpSize) {
  using opzoo::emu::WarpOp;
  return opzoo::emu::from_bits<T>(opzoo::emu::warp_collective(WarpOp::shfl, mask, opzoo::emu::to_bits(v), src_lane, width));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  using opzoo::emu::WarpOp;
  return opzoo::emu::from_bits<T>(
      opzoo::emu::warp_collective(WarpOp::shfl_up, mask, opzoo::emu::to_bits(v), int(delta), width));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  using opzoo::emu::WarpOp;
  return opzoo::emu::from_bits<T>(
      opzoo::emu::warp_collective(WarpOp::shfl_down, mask, opzoo::emu::to_bits(v), int(delta), width));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize) {
  using opzoo::emu::WarpOp;
  return opzoo::emu::from_bits<T>(
      opzoo::emu::warp_collective(WarpOp::shfl_xor, mask, opzoo::emu::to_bits(v), lane_mask, width));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return unsigned(opzoo::emu::warp_collective(opzoo::emu::WarpOp::ballot, mask, predicate != 0, 0, warpSize));
}
inline int __any_sync(unsigned mask, int predicate) {
  return int(opzoo::emu::warp_collective(opzoo::emu::WarpOp::any, mask, predicate != 0, 0, warpSize));
}
inline int __all_sync(unsigned mask, int predicate) {
  return int(opzoo::emu::warp_collective(opzoo::emu::WarpOp::all, mask, predicate != 0, 0, warpSize));
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  opzoo::emu::warp_collective(opzoo::emu::WarpOp::sync, mask, 0, 0, warpSize);
}

// ---------------------------------------------------------------------------------
// Device-only intrinsics, in float: the values a GPU gives where they are exact, else
// the correctly rounded ones (the fast approximations' last bits are a GPU's own).

inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
// Each rounded on its own, never fused into a multiply-add (what nvcc guarantees for them).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
// Clamped to [0, 1]; NaN gives 0, as on hardware.
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }
inline unsigned __float_as_uint(float x) {
  unsigned bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---------------------------------------------------------------------------------
// Atomics: blocks run on several OS threads, so these are real atomic operations.

template <class T>
T opzoo_emu_atomic_update(T* address, T (*update)(T, T), T operand) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomics on 4- and 8-byte values");
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Bits* bits = reinterpret_cast<Bits*>(address);
  Bits old = __atomic_load_n(bits, __ATOMIC_SEQ_CST);
  for (;;) {
    T value;
    std::memcpy(&value, &old, sizeof(T));
    const T next = update(value, operand);
    Bits next_bits;
    std::memcpy(&next_bits, &next, sizeof(T));
    if (__atomic_compare_exchange_n(bits, &old, next_bits, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return value;
  }
}

template <class T>
T atomicAdd(T* address, T value) {
  return opzoo_emu_atomic_update<T>(address, [](T a, T b) { return T(a + b); }, value);
}
template <class T>
T atomicSub(T* address, T value) {
  return opzoo_emu_atomic_update<T>(address, [](T a, T b) { return T(a - b); }, value);
}
template <class T>
T atomicMax(T* address, T value) {
  return opzoo_emu_atomic_update<T>(address, [](T a, T b) { return a < b ? b : a; }, value);
}
template <class T>
T atomicMin(T* address, T value) {
  return opzoo_emu_atomic_update<T>(address, [](T a, T b) { return b < a ? b : a; }, value);
}
template <class T>
T atomicExch(T* address, T value) {
  return opzoo_emu_atomic_update<T>(address, [](T, T b) { return b; }, value);
}
template <class T>
T atomicCAS(T* address, T compare, T value) {
  static_assert(std::is_integral_v<T>, "atomicCAS on integers");
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // the old value, either way
}
