// Spiking-neuron kernels over a vector type V, compiled once per ISA by
// spiking_{scalar,avx2,avx512}.cpp (arm/spiking_neon.cpp). Neurons are independent, so
// they split into chunks of contiguous neurons, a task each; a task sweeps its chunk
// row by row through time (forward from t = 0, backward from t = T - 1), the chunk's
// membrane potentials (or carried gradients) in a buffer that stays in L1. Each step
// then reads and writes whole contiguous runs of memory, which the prefetchers follow,
// where keeping a few vectors of neurons in registers through all T steps would jump
// a row's length at every step. The arithmetic is SpikingJelly's, operation by operation
// (opzoo/spiking.h), with no fused multiply-adds: the forward gives the same bits on
// every ISA, the backward differs only by the rounding of exp in the sigmoid surrogate.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernel_common.h"
#include "opzoo/spiking.h"
#include "spans.h"

namespace opzoo::cpu {
namespace {

// Neurons per task: the chunk's potentials fill 8 KiB of L1 in float32.
constexpr int64_t kSpikingChunk = 2048;

// Neurons per task for `neurons` on `threads` threads: kSpikingChunk, or fewer so that
// every thread has a task; whole cache lines. Results do not depend on it.
inline int64_t spiking_chunk(int64_t neurons, int threads) {
  return max64(16, min64(kSpikingChunk, round_up(ceil_div(neurons, threads), 16)));
}

// Whether outputs of `bytes` in total go past the caches, and whether `b` (nullable)
// shares a's alignment within a line, so that whole lines of both can.
template <class V>
bool stream_outputs(int64_t bytes, const void* a, const void* b) {
  if (!V::streaming_stores || bytes < kStreamOutputBytes) return false;
  if (reinterpret_cast<uintptr_t>(a) % sizeof(typename V::value_type) != 0) return false;
  return !b || (reinterpret_cast<uintptr_t>(a) - reinterpret_cast<uintptr_t>(b)) % 64 == 0;
}

// Calls span(begin, end, streamed) over [0, n): with `stream`, the whole 64-byte lines of
// dst[0, n) as one span with streamed a std::true_type, the partial lines at either end
// as spans of their own (std::false_type); without, all of [0, n) as one plain span.
template <class V, class Span>
void for_spans(const typename V::value_type* dst, int64_t n, bool stream, const Span& span) {
  using T = typename V::value_type;
  constexpr int64_t line = 64 / int64_t(sizeof(T));
  if (!stream) return span(int64_t(0), n, std::false_type{});
  const int64_t head = min64(n, int64_t(-reinterpret_cast<uintptr_t>(dst) % 64) / int64_t(sizeof(T)));
  const int64_t body = head + (n - head) / line * line;
  if (head > 0) span(int64_t(0), head, std::false_type{});
  if (body > head) span(head, body, std::true_type{});
  if (n > body) span(body, n, std::false_type{});
}

template <class V, bool Stream>
void put(typename V::value_type* p, typename V::reg v) {
  if constexpr (Stream) V::store_streaming(p, v);
  else V::store(p, v);
}

// x / tau, or x * (1 / tau) where that reciprocal is exact (tau a power of two): the same
// bits either way, and a division costs as much as the rest of a step.
template <class V, bool Exact>
typename V::reg over_tau(typename V::reg x, typename V::reg tau, typename V::reg inv_tau) {
  if constexpr (Exact) return V::mul(x, inv_tau);
  else return V::div(x, tau);
}

template <class T>
bool exact_reciprocal(double tau) {
  int exponent;
  return std::frexp(T(tau), &exponent) == T(0.5);
}

// A step's constants, broadcast; passed by value so that they stay in registers.
template <class V>
struct StepConstants {
  typename V::reg tau, inv_tau, vth, vr, one, a, a_atan;
};

template <class V>
StepConstants<V> step_constants(const NeuronParams& p, const SurrogateParams* g) {
  using T = typename V::value_type;
  StepConstants<V> k;
  k.tau = V::set1(T(p.tau));
  k.inv_tau = V::set1(T(1) / T(p.tau));
  k.vth = V::set1(T(p.v_threshold));
  k.vr = V::set1(p.hard_reset ? T(p.v_reset) : T(0));
  k.one = V::set1(T(1));
  // The surrogate's alpha (alpha / 2 for atan, its numerator) and atan's pi / 2 * alpha.
  k.a = V::set1(!g ? T(0) : g->kind == Surrogate::sigmoid ? T(g->alpha) : T(g->alpha / 2));
  k.a_atan = V::set1(g ? T(3.141592653589793 / 2 * g->alpha) : T(0));
  return k;
}

// One step of neurons [0, n) of a chunk: x and the potentials v in, spikes s and (when
// h is not nullptr) H out, v updated in place.
template <class V, Charge C, bool Hard, bool Exact, bool Stream>
void forward_span(const typename V::value_type* __restrict x, typename V::value_type* __restrict v,
                  typename V::value_type* __restrict s, typename V::value_type* __restrict h, int64_t n,
                  const StepConstants<V> k) {
  using R = typename V::reg;
  auto step = [&](R xv, R vv, R& hv, R& spike) {
    if constexpr (C == Charge::decay_input) hv = V::add(vv, over_tau<V, Exact>(V::sub(xv, V::sub(vv, k.vr)), k.tau, k.inv_tau));
    else if constexpr (C == Charge::no_decay_input) hv = V::add(V::sub(vv, over_tau<V, Exact>(V::sub(vv, k.vr), k.tau, k.inv_tau)), xv);
    else hv = V::add(vv, xv);
    spike = V::select_le(k.vth, hv, k.one, V::zero());
    if constexpr (Hard) return V::add(V::mul(spike, k.vr), V::mul(V::sub(k.one, spike), hv));
    else return V::sub(hv, V::mul(spike, k.vth));
  };
  int64_t i = 0;
  for (; i + V::width <= n; i += V::width) {
    R hv, spike;
    V::store(v + i, step(V::load(x + i), V::load(v + i), hv, spike));
    put<V, Stream>(s + i, spike);
    if (h) put<V, Stream>(h + i, hv);
  }
  if (i < n) {
    const int lanes = int(n - i);
    R hv, spike;
    V::store_n(v + i, step(V::load_n(x + i, lanes), V::load_n(v + i, lanes), hv, spike), lanes);
    V::store_n(s + i, spike, lanes);
    if (h) V::store_n(h + i, hv, lanes);
  }
}

template <class V, Charge C, bool Hard, bool Exact>
void spiking_forward_as(const SpikingShape& s, const NeuronParams& p, const typename V::value_type* x,
                        const typename V::value_type* v_init, typename V::value_type* spikes,
                        typename V::value_type* h_seq, typename V::value_type* v_final) {
  using T = typename V::value_type;
  const int64_t M = s.neurons;
  const StepConstants<V> k = step_constants<V>(p, nullptr);
  const T reset = p.hard_reset ? T(p.v_reset) : T(0);
  const bool stream = stream_outputs<V>((h_seq ? 2 : 1) * s.steps * M * int64_t(sizeof(T)), spikes, h_seq);
  const int threads = threads_for(ceil_div(M, 16));
  const int64_t chunk = spiking_chunk(M, threads), tasks = ceil_div(M, chunk);
  parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
    alignas(64) T v[kSpikingChunk];
    const int64_t j0 = task * chunk, n = min64(M, j0 + chunk) - j0;
    for (int64_t j = 0; j < n; ++j) v[j] = v_init ? v_init[j0 + j] : reset;
    for (int64_t t = 0; t < s.steps; ++t) {
      const int64_t row = t * M + j0;
      T* h = h_seq ? h_seq + row : nullptr;
      for_spans<V>(spikes + row, n, stream, [&](int64_t b, int64_t e, auto streamed) {
        forward_span<V, C, Hard, Exact, decltype(streamed)::value>(x + row + b, v + b, spikes + row + b,
                                                                   h ? h + b : nullptr, e - b, k);
      });
    }
    if (v_final)
      for (int64_t j = 0; j < n; ++j) v_final[j0 + j] = v[j];
  });
  if (stream) V::streaming_fence();
}

template <class V>
void spiking_forward(const SpikingShape& s, const NeuronParams& p, const typename V::value_type* x,
                     const typename V::value_type* v_init, typename V::value_type* spikes,
                     typename V::value_type* h_seq, typename V::value_type* v_final) {
  using T = typename V::value_type;
  const bool exact = p.charge == Charge::integrate || exact_reciprocal<T>(p.tau);
  auto run = [&](auto charge, auto hard, auto exact_tau) {
    spiking_forward_as<V, decltype(charge)::value, decltype(hard)::value, decltype(exact_tau)::value>(
        s, p, x, v_init, spikes, h_seq, v_final);
  };
  auto with_exact = [&](auto charge, auto hard) {
    if (exact) run(charge, hard, std::true_type{});
    else run(charge, hard, std::false_type{});
  };
  auto with_reset = [&](auto charge) {
    if (p.hard_reset) with_exact(charge, std::true_type{});
    else with_exact(charge, std::false_type{});
  };
  switch (p.charge) {
    case Charge::decay_input: return with_reset(std::integral_constant<Charge, Charge::decay_input>{});
    case Charge::no_decay_input: return with_reset(std::integral_constant<Charge, Charge::no_decay_input>{});
    case Charge::integrate: return with_reset(std::integral_constant<Charge, Charge::integrate>{});
  }
}

// The surrogate's derivative at z = H - V_threshold, as SpikingJelly computes it:
// sigmoid (1 - s) * s * alpha with s = 1 / (1 + exp(-alpha z)); atan
// (alpha / 2) / (1 + (z * (pi / 2 * alpha))^2).
template <class V, Surrogate S>
typename V::reg surrogate_slope(typename V::reg z, const StepConstants<V>& k) {
  if constexpr (S == Surrogate::sigmoid) {
    const typename V::reg sg = V::div(k.one, V::add(k.one, V::exp(V::sub(V::zero(), V::mul(k.a, z)))));
    return V::mul(V::mul(V::sub(k.one, sg), sg), k.a);
  } else {
    const typename V::reg w = V::mul(z, k.a_atan);
    return V::div(k.a, V::add(k.one, V::mul(w, w)));
  }
}

// One step back of neurons [0, n) of a chunk: H, the spikes' gradient and the gradient
// carried in V in; grad_x out, the carried gradient updated in place.
template <class V, Charge C, Surrogate S, bool Hard, bool Detach, bool Exact, bool Stream>
void backward_span(const typename V::value_type* __restrict h, const typename V::value_type* __restrict gs,
                   typename V::value_type* __restrict carry, typename V::value_type* __restrict gx, int64_t n,
                   const StepConstants<V> k) {
  using R = typename V::reg;
  auto step = [&](R hv, R gsv, R cv, R& gxv) {
    const R sg = surrogate_slope<V, S>(V::sub(hv, k.vth), k);
    R reset_grad;
    if constexpr (Hard) {
      reset_grad = V::sub(k.one, V::select_le(k.vth, hv, k.one, V::zero()));
      if constexpr (!Detach) reset_grad = V::add(reset_grad, V::mul(V::sub(k.vr, hv), sg));
    } else if constexpr (Detach) {
      reset_grad = k.one;
    } else {
      reset_grad = V::sub(k.one, V::mul(k.vth, sg));
    }
    const R gh = V::add(V::mul(gsv, sg), V::mul(cv, reset_grad));
    if constexpr (C == Charge::integrate) {
      gxv = gh;
      return gh;
    } else {
      const R gh_tau = over_tau<V, Exact>(gh, k.tau, k.inv_tau);
      gxv = C == Charge::decay_input ? gh_tau : gh;
      return V::sub(gh, gh_tau);
    }
  };
  int64_t i = 0;
  for (; i + V::width <= n; i += V::width) {
    R gxv;
    V::store(carry + i, step(V::load(h + i), V::load(gs + i), V::load(carry + i), gxv));
    put<V, Stream>(gx + i, gxv);
  }
  if (i < n) {
    const int lanes = int(n - i);
    R gxv;
    V::store_n(carry + i, step(V::load_n(h + i, lanes), V::load_n(gs + i, lanes), V::load_n(carry + i, lanes), gxv),
               lanes);
    V::store_n(gx + i, gxv, lanes);
  }
}

template <class V, Charge C, Surrogate S, bool Hard, bool Detach, bool Exact>
void spiking_backward_as(const SpikingShape& s, const NeuronParams& p, const SurrogateParams& g,
                         const typename V::value_type* grad_spikes, const typename V::value_type* grad_v_final,
                         const typename V::value_type* h_seq, typename V::value_type* grad_x,
                         typename V::value_type* grad_v_init) {
  using T = typename V::value_type;
  const int64_t M = s.neurons;
  const StepConstants<V> k = step_constants<V>(p, &g);
  const bool stream = stream_outputs<V>(s.steps * M * int64_t(sizeof(T)), grad_x, nullptr);
  const int threads = threads_for(ceil_div(M, 16));
  const int64_t chunk = spiking_chunk(M, threads), tasks = ceil_div(M, chunk);
  parallel_for(tasks, threads_for(tasks), [&](int64_t task, int) {
    alignas(64) T carry[kSpikingChunk];
    const int64_t j0 = task * chunk, n = min64(M, j0 + chunk) - j0;
    for (int64_t j = 0; j < n; ++j) carry[j] = grad_v_final ? grad_v_final[j0 + j] : T(0);
    for (int64_t t = s.steps - 1; t >= 0; --t) {
      const int64_t row = t * M + j0;
      for_spans<V>(grad_x + row, n, stream, [&](int64_t b, int64_t e, auto streamed) {
        backward_span<V, C, S, Hard, Detach, Exact, decltype(streamed)::value>(
            h_seq + row + b, grad_spikes + row + b, carry + b, grad_x + row + b, e - b, k);
      });
    }
    if (grad_v_init)
      for (int64_t j = 0; j < n; ++j) grad_v_init[j0 + j] = carry[j];
  });
  if (stream) V::streaming_fence();
}

template <class V>
void spiking_backward(const SpikingShape& s, const NeuronParams& p, const SurrogateParams& g,
                      const typename V::value_type* grad_spikes, const typename V::value_type* grad_v_final,
                      const typename V::value_type* h_seq, typename V::value_type* grad_x,
                      typename V::value_type* grad_v_init) {
  using T = typename V::value_type;
  const bool exact = p.charge == Charge::integrate || exact_reciprocal<T>(p.tau);
  auto run = [&](auto charge, auto surrogate, auto hard, auto detach, auto exact_tau) {
    spiking_backward_as<V, decltype(charge)::value, decltype(surrogate)::value, decltype(hard)::value,
                        decltype(detach)::value, decltype(exact_tau)::value>(s, p, g, grad_spikes, grad_v_final,
                                                                             h_seq, grad_x, grad_v_init);
  };
  auto with_exact = [&](auto charge, auto surrogate, auto hard, auto detach) {
    if (exact) run(charge, surrogate, hard, detach, std::true_type{});
    else run(charge, surrogate, hard, detach, std::false_type{});
  };
  auto with_detach = [&](auto charge, auto surrogate, auto hard) {
    if (g.detach_reset) with_exact(charge, surrogate, hard, std::true_type{});
    else with_exact(charge, surrogate, hard, std::false_type{});
  };
  auto with_reset = [&](auto charge, auto surrogate) {
    if (p.hard_reset) with_detach(charge, surrogate, std::true_type{});
    else with_detach(charge, surrogate, std::false_type{});
  };
  auto with_surrogate = [&](auto charge) {
    if (g.kind == Surrogate::sigmoid) with_reset(charge, std::integral_constant<Surrogate, Surrogate::sigmoid>{});
    else with_reset(charge, std::integral_constant<Surrogate, Surrogate::atan>{});
  };
  switch (p.charge) {
    case Charge::decay_input: return with_surrogate(std::integral_constant<Charge, Charge::decay_input>{});
    case Charge::no_decay_input: return with_surrogate(std::integral_constant<Charge, Charge::no_decay_input>{});
    case Charge::integrate: return with_surrogate(std::integral_constant<Charge, Charge::integrate>{});
  }
}

template <class V>
constexpr SpikingKernels<typename V::value_type> spiking_kernels() {
  return {spiking_forward<V>, spiking_backward<V>};
}

}  // namespace
}  // namespace opzoo::cpu
