// Graph message passing on CUDA devices: the host-side launchers of cuda/graph.cu, with
// the CPU kernels' contract (opzoo/graph.h: GraphKernels) on device pointers; features,
// weights, scores and their gradients of `dtype` (float32 arithmetic), the CSR and the
// arg-extremes int64. Each launches on `stream` and waits for it: it returns false when
// the kernels found the CSR inconsistent (they read nothing out of its bounds); a failed
// launch throws.
#pragma once

#include <cuda_runtime.h>

#include "opzoo/dtype.h"
#include "opzoo/graph.h"

namespace opzoo::cuda {

bool graph_aggregate(const Csr& g, const FeatureShape& f, Reduce reduce, DType dtype, const void* x,
                     const void* weight, const int64_t* col_rowptr, void* out, int64_t* arg, cudaStream_t stream);
bool graph_extreme_backward(const Csr& by_source, const FeatureShape& f, DType dtype, const void* grad_out,
                            const void* weight, const int64_t* arg, void* grad_x, cudaStream_t stream);
bool graph_weight_backward(const Csr& g, const FeatureShape& f, Reduce reduce, DType dtype, const void* grad_out,
                           const void* x, const int64_t* arg, void* grad_weight, cudaStream_t stream);
bool graph_sddmm(const Csr& g, const FeatureShape& f, DType dtype, const void* a, const void* b, void* out,
                 cudaStream_t stream);
bool graph_edge_softmax(const Csr& g, int64_t heads, DType dtype, const void* scores, void* out, cudaStream_t stream);
bool graph_edge_softmax_backward(const Csr& g, int64_t heads, DType dtype, const void* grad_out, const void* out,
                                 void* grad_scores, cudaStream_t stream);

}  // namespace opzoo::cuda
