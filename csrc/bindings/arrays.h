// Array arguments as the kernels of both modules see them, and the checks every binding
// runs on them before it releases the GIL: shapes, dtypes, devices and overlap, written
// once for the CPU module (host_array.h) and the CUDA module (cuda/device_array.h).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "opzoo/dtype.h"

namespace opzoo::bindings {

namespace py = pybind11;

// One dense (C-contiguous) array: where its elements are, its extents, element type
// and device. Made only by host_array() or device_array(), which check what they are
// given; `name` is the argument's name in error messages.
struct ArrayArg {
  const char* name = "";
  void* data = nullptr;
  std::vector<int64_t> shape;
  DType dtype = DType::float32;
  int device = -1;  // CUDA device ordinal; -1 for host memory

  int64_t size() const;
  int64_t bytes() const { return size() * dtype_size(dtype); }
  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

std::string shape_str(const std::vector<int64_t>& shape);

// ValueError unless a.shape == expected.
void check_shape(const ArrayArg& a, const std::vector<int64_t>& expected);
// ValueError unless `a` has `ndim` dimensions; `axes` names them, as "(N, C, H, W)".
void check_ndim(const std::vector<int64_t>& shape, const char* name, int ndim, const char* axes);
// TypeError unless `a` has the dtype of `first`, ValueError unless it is on its device.
void check_same_kind(const ArrayArg& a, const ArrayArg& first);
// ValueError if `out` shares memory with any input: kernels read inputs after writing outputs.
void check_no_overlap(const ArrayArg& out, std::initializer_list<const ArrayArg*> inputs);
// For elementwise kernels, which read each element before writing it: `out` may be one
// of `inputs` itself (the same memory and shape), and must not overlap any other way.
void check_in_place_or_disjoint(const ArrayArg& out, std::initializer_list<const ArrayArg*> inputs);

}  // namespace opzoo::bindings
