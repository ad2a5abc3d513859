// Spiking-neuron CUDA kernels: one thread per neuron, its potential (forward) or carried
// gradient (backward) in a register through the time loop, neighbouring threads on
// neighbouring neurons, so every step's loads and stores coalesce. The arithmetic is the
// CPU kernels' (SpikingJelly's), each operation rounded on its own (__fadd_rn and the
// like, which nvcc never fuses), so the forward gives the CPU's bits; the sigmoid
// surrogate's expf rounds as the device's does. No atomics: the same bits run to run.
#include <type_traits>

#include "common.cuh"
#include "spiking_cuda.h"

namespace opzoo::cuda {
namespace {

struct Neuron {
  int charge;  // opzoo::Charge
  int hard;
  float tau, v_threshold, v_reset;  // v_reset 0 under a soft reset
};

Neuron neuron_of(const NeuronParams& p) {
  return {int(p.charge), p.hard_reset ? 1 : 0, float(p.tau), float(p.v_threshold),
          p.hard_reset ? float(p.v_reset) : 0.0f};
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(int64_t steps, int64_t M, Neuron n, const T* __restrict__ x, const float* __restrict__ v_init,
                   T* __restrict__ spikes, float* __restrict__ h_seq, float* __restrict__ v_final) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < M; j += int64_t(gridDim.x) * blockDim.x) {
    float v = v_init ? v_init[j] : n.v_reset;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t i = t * M + j;
      const float xv = to_float(x[i]);
      float h;
      if (n.charge == int(Charge::decay_input)) h = __fadd_rn(v, __fdiv_rn(__fsub_rn(xv, __fsub_rn(v, n.v_reset)), n.tau));
      else if (n.charge == int(Charge::no_decay_input)) h = __fadd_rn(__fsub_rn(v, __fdiv_rn(__fsub_rn(v, n.v_reset), n.tau)), xv);
      else h = __fadd_rn(v, xv);
      const float s = n.v_threshold <= h ? 1.0f : 0.0f;
      v = n.hard ? __fadd_rn(__fmul_rn(s, n.v_reset), __fmul_rn(__fsub_rn(1.0f, s), h)) : __fsub_rn(h, __fmul_rn(s, n.v_threshold));
      spikes[i] = from_float<T>(s);
      if (h_seq) h_seq[i] = h;
    }
    v_final[j] = v;
  }
}

struct Slope {
  int atan, detach;
  float alpha, a_atan, half_alpha;
};

template <class T>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(int64_t steps, int64_t M, Neuron n, Slope g, const T* __restrict__ gs,
                    const float* __restrict__ gv_final, const float* __restrict__ h_seq, T* __restrict__ gx,
                    float* __restrict__ gv_init) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < M; j += int64_t(gridDim.x) * blockDim.x) {
    float carry = gv_final ? gv_final[j] : 0.0f;
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t i = t * M + j;
      const float h = h_seq[i], z = __fsub_rn(h, n.v_threshold);
      float sg;
      if (g.atan) {
        const float w = __fmul_rn(z, g.a_atan);
        sg = __fdiv_rn(g.half_alpha, __fadd_rn(1.0f, __fmul_rn(w, w)));
      } else {
        const float s = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-__fmul_rn(g.alpha, z))));
        sg = __fmul_rn(__fmul_rn(__fsub_rn(1.0f, s), s), g.alpha);
      }
      float reset_grad;
      if (n.hard) {
        reset_grad = n.v_threshold <= h ? 0.0f : 1.0f;
        if (!g.detach) reset_grad = __fadd_rn(reset_grad, __fmul_rn(__fsub_rn(n.v_reset, h), sg));
      } else {
        reset_grad = g.detach ? 1.0f : __fsub_rn(1.0f, __fmul_rn(n.v_threshold, sg));
      }
      const float gh = __fadd_rn(__fmul_rn(to_float(gs[i]), sg), __fmul_rn(carry, reset_grad));
      if (n.charge == int(Charge::integrate)) {
        gx[i] = from_float<T>(gh);
        carry = gh;
      } else {
        const float gh_tau = __fdiv_rn(gh, n.tau);
        gx[i] = from_float<T>(n.charge == int(Charge::decay_input) ? gh_tau : gh);
        carry = __fsub_rn(gh, gh_tau);
      }
    }
    if (gv_init) gv_init[j] = carry;
  }
}

}  // namespace

void spiking_forward(const SpikingShape& s, const NeuronParams& p, DType dtype, const void* x, const float* v_init,
                     void* spikes, float* h_seq, float* v_final, cudaStream_t stream) {
  if (s.neurons == 0) return;
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    OPZOO_LAUNCH(blocks_for(s.neurons), kThreads, 0, stream, forward_kernel<T>)(
        s.steps, s.neurons, neuron_of(p), static_cast<const T*>(x), v_init, static_cast<T*>(spikes), h_seq, v_final);
  });
  check_launch("spiking_forward");
}

void spiking_backward(const SpikingShape& s, const NeuronParams& p, const SurrogateParams& g, DType dtype,
                      const void* grad_spikes, const float* grad_v_final, const float* h_seq, void* grad_x,
                      float* grad_v_init, cudaStream_t stream) {
  if (s.neurons == 0) return;
  const Slope slope{g.kind == Surrogate::atan ? 1 : 0, g.detach_reset ? 1 : 0, float(g.alpha),
                    float(3.141592653589793 / 2 * g.alpha), float(g.alpha / 2)};
  with_type(dtype, [&](auto* typed) {
    using T = std::remove_pointer_t<decltype(typed)>;
    OPZOO_LAUNCH(blocks_for(s.neurons), kThreads, 0, stream, backward_kernel<T>)(
        s.steps, s.neurons, neuron_of(p), slope, static_cast<const T*>(grad_spikes), grad_v_final, h_seq,
        static_cast<T*>(grad_x), grad_v_init);
  });
  check_launch("spiking_backward");
}

}  // namespace opzoo::cuda
