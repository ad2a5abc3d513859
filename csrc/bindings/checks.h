// Argument checks shared by the binding files. Every kernel argument passes through
// these before the GIL is released, so a kernel never sees a buffer smaller than the
// shape it is told, whatever Python passes.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace opzoo::bindings {

namespace py = pybind11;

std::string shape_str(const std::vector<int64_t>& shape);
std::vector<int64_t> shape_of(const py::array& a);

// A C-contiguous array of `dtype` (float32 or float64), `ndim` dimensions; writable if asked.
void check_array(const py::array& a, const char* name, const py::dtype& dtype, int ndim,
                 bool writable = false);
void check_shape(const py::array& a, const char* name, const std::vector<int64_t>& expected);
// Outputs must not share memory with any input: kernels read inputs after writing outputs.
void check_no_overlap(const py::array& out, const char* name,
                      std::initializer_list<const py::array*> inputs);
// The dtype the kernels run in for `a`: float32 or float64, else TypeError.
py::dtype float_dtype_of(const py::array& a, const char* name);

}  // namespace opzoo::bindings
