// CUDA arrays as ArrayArgs for the CUDA module's bindings. Arrays arrive as descriptors
// built by python/opzoo/_device.py from __cuda_array_interface__ or DLPack: (data
// pointer, shape, strides in elements or None, dtype name, device ordinal). Also: the
// device and stream a launch runs on, and CUDA errors as RuntimeError.
#pragma once

#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>

#include "arrays.h"

namespace opzoo::bindings {

// The descriptor `desc`, which must name a C-contiguous float32, float16 or bfloat16 array.
ArrayArg device_array(const py::handle& desc, const char* name);
// None, or as device_array.
std::optional<ArrayArg> optional_device_array(const py::handle& desc, const char* name);
// The descriptor `desc`, which must name a C-contiguous int64 array (indices); None allowed
// by the optional_ form.
ArrayArg device_index_array(const py::handle& desc, const char* name);
std::optional<ArrayArg> optional_device_index_array(const py::handle& desc, const char* name);

void check_cuda(cudaError_t e, const char* what);

inline cudaStream_t as_stream(uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

// Runs f with `device` current, restoring the caller's device afterwards.
template <class F>
void on_device(int device, F&& f) {
  int previous = 0;
  check_cuda(cudaGetDevice(&previous), "cudaGetDevice");
  if (previous != device) check_cuda(cudaSetDevice(device), "cudaSetDevice");
  try {
    f();
  } catch (...) {
    if (previous != device) cudaSetDevice(previous);
    throw;
  }
  if (previous != device) check_cuda(cudaSetDevice(previous), "cudaSetDevice");
}

}  // namespace opzoo::bindings
