// opzoo._cpu: every binding file compiled into it registers itself (registry.h).
#include "registry.h"

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "opzoo CPU kernels (C++, OpenMP, SIMD chosen at run time)";
  opzoo::bindings::register_all(m);
}
