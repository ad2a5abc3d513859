// The CUDA emulation layer (cuda/emulation) on small kernels of its own: thread and
// block indices, __shared__ memory per block, __syncthreads as a barrier (and that
// returned threads leave it), warp shuffles and votes, atomics across blocks, float
// intrinsics, dynamic shared memory; and the failures it must report rather than hang
// on: a deadlock between a barrier and a warp collective, a warp collective naming a
// lane that has returned, a shuffle reading outside its mask, an invalid launch.
// Exits non-zero on a wrong result.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("FAIL %s\n", what.c_str());
    ++failures;
  }
}

// The launch's error, cleared, and its message.
std::string launch_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? "" : cudaGetErrorString(e);
}

__global__ void write_indices(int* out) {
  const int t = int(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
  const int b = int(blockIdx.x + gridDim.x * blockIdx.y);
  out[b * int(blockDim.x * blockDim.y * blockDim.z) + t] = b * 1000 + t;
}

// A shared-memory tree reduction: wrong without every barrier.
__global__ void block_sum(const float* in, float* out) {
  __shared__ float partial[256];
  partial[threadIdx.x] = in[blockIdx.x * 256 + threadIdx.x];
  __syncthreads();
  for (int half = 128; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

// Half the threads return early; the rest still pass the barrier.
__global__ void early_return(int* out) {
  __shared__ int seen[64];
  if (threadIdx.x >= 32) return;
  seen[threadIdx.x] = int(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = seen[31 - threadIdx.x];
}

// Thread 0 waits at the barrier, the rest of its warp in a __syncwarp that names it.
__global__ void barrier_deadlock(int* out) {
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    __syncwarp();
  }
  out[threadIdx.x] = 1;
}

__global__ void warp_ops(int* sums, unsigned* ballots, int* up) {
  int v = int(threadIdx.x);
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  sums[threadIdx.x] = v;  // every lane: the sum of its warp's lane indices
  ballots[threadIdx.x] = __ballot_sync(0xffffffffu, threadIdx.x % 3 == 0);
  up[threadIdx.x] = __shfl_up_sync(0xffffffffu, int(threadIdx.x), 1) + __any_sync(0xffffffffu, threadIdx.x == 5) * 100 +
                    __all_sync(0xffffffffu, threadIdx.x < 64) * 1000;
}

__global__ void shuffle_from_returned_lane(int* out) {
  if (threadIdx.x == 3) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, int(threadIdx.x), 0);
}

__global__ void shuffle_outside_mask(int* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0x0000ffffu, int(threadIdx.x), 20);
}

__global__ void count_atomically(unsigned* counter, float* total) {
  atomicAdd(counter, 1u);
  atomicAdd(total, 0.5f);
}

__global__ void intrinsics(const float* in, float* out) {
  out[threadIdx.x] = __saturatef(__ldg(in + threadIdx.x)) + __fmaf_rn(2.0f, 3.0f, 1.0f) * __frcp_rn(7.0f);
}

__global__ void dynamic_reverse(const int* in, int* out) {
  OPZOO_DYNAMIC_SHARED(int, buffer);
  buffer[threadIdx.x] = in[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = buffer[blockDim.x - 1 - threadIdx.x];
}

}  // namespace

int main() {
  {
    std::vector<int> out(2 * 3 * 4 * 2 * 2, -1);
    OPZOO_LAUNCH(dim3(2, 3), dim3(4, 2, 2), 0, nullptr, write_indices)(out.data());
    expect(launch_error().empty(), "write_indices launch");
    bool ok = true;
    for (int b = 0; b < 6; ++b)
      for (int t = 0; t < 16; ++t) ok = ok && out[size_t(b * 16 + t)] == b * 1000 + t;
    expect(ok, "thread and block indices");
  }
  {
    const int blocks = 37;
    std::vector<float> in(size_t(blocks) * 256), out(blocks);
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(i % 97);
    OPZOO_LAUNCH(blocks, 256, 0, nullptr, block_sum)(in.data(), out.data());
    const std::string error = launch_error();
    expect(error.empty(), "block_sum launch: " + error);
    bool ok = true;
    for (int b = 0; b < blocks; ++b) {
      double want = 0;
      for (int t = 0; t < 256; ++t) want += in[size_t(b * 256 + t)];
      ok = ok && out[size_t(b)] == float(want);
    }
    expect(ok, "shared-memory tree reduction across barriers");
  }
  {
    std::vector<int> out(32, -1);
    OPZOO_LAUNCH(1, 64, 0, nullptr, early_return)(out.data());
    expect(launch_error().empty(), "returned threads leave the barrier");
    bool ok = true;
    for (int t = 0; t < 32; ++t) ok = ok && out[size_t(t)] == 31 - t;
    expect(ok, "early_return result");
  }
  {
    std::vector<int> out(64, 0);
    OPZOO_LAUNCH(1, 64, 0, nullptr, barrier_deadlock)(out.data());
    const std::string error = launch_error();
    expect(error.find("deadlock") != std::string::npos && error.find("waits at __syncthreads") != std::string::npos,
           "deadlock reported: '" + error + "'");
  }
  {
    std::vector<int> sums(64), up(64);
    std::vector<unsigned> ballots(64);
    OPZOO_LAUNCH(1, 64, 0, nullptr, warp_ops)(sums.data(), ballots.data(), up.data());
    expect(launch_error().empty(), "warp_ops launch");
    unsigned want_ballot = 0;
    for (int l = 0; l < 32; ++l) want_ballot |= (l % 3 == 0 ? 1u : 0u) << l;
    bool ok = true;
    for (int t = 0; t < 64; ++t) {
      const int warp = t / 32, lane = t % 32;
      ok = ok && sums[size_t(t)] == 32 * 31 / 2 + 32 * 32 * warp;
      const int up_value = lane == 0 ? t : t - 1;
      ok = ok && up[size_t(t)] == up_value + (warp == 0 ? 100 : 0) + 1000;
    }
    // Warp 1's lanes 32..63: threadIdx % 3 == 0 where (lane + 32) % 3 == 0.
    unsigned want_ballot_1 = 0;
    for (int l = 0; l < 32; ++l) want_ballot_1 |= ((l + 32) % 3 == 0 ? 1u : 0u) << l;
    ok = ok && ballots[32] == want_ballot_1;
    expect(ok, "shuffles, ballot, any, all");
  }
  {
    std::vector<int> out(32, 0);
    OPZOO_LAUNCH(1, 32, 0, nullptr, shuffle_from_returned_lane)(out.data());
    const std::string error = launch_error();
    expect(error.find("which has returned") != std::string::npos, "mask naming a returned lane: '" + error + "'");
  }
  {
    std::vector<int> out(32, 0);
    OPZOO_LAUNCH(1, 32, 0, nullptr, shuffle_outside_mask)(out.data());
    const std::string error = launch_error();
    expect(error.find("outside mask") != std::string::npos, "shuffle outside its mask: '" + error + "'");
  }
  {
    unsigned counter = 0;
    float total = 0;
    OPZOO_LAUNCH(50, 128, 0, nullptr, count_atomically)(&counter, &total);
    expect(launch_error().empty() && counter == 50 * 128 && total == 50 * 128 * 0.5f, "atomics across blocks");
  }
  {
    const float in[4] = {NAN, -2.0f, 0.25f, 9.0f};
    float out[4];
    OPZOO_LAUNCH(1, 4, 0, nullptr, intrinsics)(in, out);
    const float sevenths = 7.0f * (1.0f / 7.0f);
    expect(launch_error().empty() && out[0] == sevenths && out[1] == sevenths && out[2] == 0.25f + sevenths &&
               out[3] == 1.0f + sevenths,
           "float intrinsics (__saturatef of NaN is 0)");
  }
  {
    std::vector<int> in(100), out(100, -1);
    for (int i = 0; i < 100; ++i) in[size_t(i)] = i * 7;
    OPZOO_LAUNCH(1, 100, 100 * sizeof(int), nullptr, dynamic_reverse)(in.data(), out.data());
    bool ok = launch_error().empty();
    for (int i = 0; i < 100; ++i) ok = ok && out[size_t(i)] == (99 - i) * 7;
    expect(ok, "dynamic shared memory");
  }
  {
    std::vector<int> out(4096);
    OPZOO_LAUNCH(1, 2048, 0, nullptr, write_indices)(out.data());
    expect(cudaGetLastError() == cudaErrorInvalidConfiguration, "2048 threads per block refused");
    float* p = nullptr;
    expect(cudaMalloc(&p, 1000) == cudaSuccess && p != nullptr && cudaFree(p) == cudaSuccess, "cudaMalloc/cudaFree");
    expect(cudaSetDevice(1) == cudaErrorInvalidDevice && cudaGetLastError() == cudaErrorInvalidDevice, "device 1 refused");
  }
  std::printf("CUDA emulation: %s\n", failures ? "FAILED" : "all checks pass");
  return failures ? 1 : 0;
}
