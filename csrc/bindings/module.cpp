// opzoo._cpu: one registration function per binding file.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace opzoo::bindings {
void register_runtime(py::module_& m);
void register_depthwise(py::module_& m);
}  // namespace opzoo::bindings

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "opzoo CPU kernels (C++, OpenMP, SIMD chosen at run time)";
  opzoo::bindings::register_runtime(m);
  opzoo::bindings::register_depthwise(m);
}
