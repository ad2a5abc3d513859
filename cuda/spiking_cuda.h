// Spiking neurons on CUDA devices: the host-side launchers of cuda/spiking.cu, with the
// CPU kernels' contract (opzoo/spiking.h: SpikingKernels) on device pointers; x, spikes
// and the gradients of `dtype`, the potentials, H and their gradients float32. Each
// launches on `stream` and returns at once; a failed launch throws.
#pragma once

#include <cuda_runtime.h>

#include "opzoo/dtype.h"
#include "opzoo/spiking.h"

namespace opzoo::cuda {

void spiking_forward(const SpikingShape& s, const NeuronParams& p, DType dtype, const void* x, const float* v_init,
                     void* spikes, float* h_seq, float* v_final, cudaStream_t stream);

void spiking_backward(const SpikingShape& s, const NeuronParams& p, const SurrogateParams& g, DType dtype,
                      const void* grad_spikes, const float* grad_v_final, const float* h_seq, void* grad_x,
                      float* grad_v_init, cudaStream_t stream);

}  // namespace opzoo::cuda
