// NumPy arrays as ArrayArgs for the CPU module's bindings.
#pragma once

#include <pybind11/numpy.h>

#include <optional>

#include "arrays.h"

namespace opzoo::bindings {

// `a`, which must be C-contiguous float32 or float64 (and writable if asked).
ArrayArg host_array(const py::array& a, const char* name, bool writable = false);
std::optional<ArrayArg> host_array(const std::optional<py::array>& a, const char* name, bool writable = false);

// `a`, which must be C-contiguous int64 (or int32 where `int32_too`), for indices.
ArrayArg host_index_array(const py::array& a, const char* name, bool writable = false, bool int32_too = false);
std::optional<ArrayArg> host_index_array(const std::optional<py::array>& a, const char* name, bool writable = false);

// Calls f(T{}) with T the C++ type of a float32 or float64 array.
template <class F>
void with_host_type(DType dtype, F&& f) {
  if (dtype == DType::float64) f(double{});
  else f(float{});
}

}  // namespace opzoo::bindings
